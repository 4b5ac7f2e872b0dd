package backup_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"starsbot/backup"
	"starsbot/shop/shoptest"
)

// BenchmarkScheduledBackup measures one scheduled backup (snapshot, zstd,
// SHA-256, atomic write) of a database of 1,000 users and 10,000 paid
// orders written by the real shop.Service, and reports the database's
// size, the backup's and the ratio.
//
//	go test -run '^$' -bench ScheduledBackup -benchtime 5x ./backup/
func BenchmarkScheduledBackup(b *testing.B) {
	s := shoptest.New(b, nil)
	start := time.Now()
	fill(b, s.Service, 1000, 10)
	b.Logf("10,000 orders written in %s", time.Since(start).Round(time.Millisecond))
	dir := b.TempDir()
	sched, err := backup.New(backup.Config{Snapshot: s.DB.WriteTo, Dir: dir, Interval: time.Hour, Keep: 1})
	if err != nil {
		b.Fatal(err)
	}
	var last backup.Backup
	for b.Loop() {
		if last, err = sched.RunOnce(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.Remove(filepath.Join(dir, filepath.Base(last.Path))) // the next one may take the same second
		b.StartTimer()
	}
	b.ReportMetric(float64(last.Size)/1e6, "db-MB")
	b.ReportMetric(float64(last.Compressed)/1e6, "backup-MB")
	b.ReportMetric(last.Ratio(), "ratio")
}
