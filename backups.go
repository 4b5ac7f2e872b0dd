package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"filippo.io/age"
	"github.com/prometheus/client_golang/prometheus"

	"starsbot/api"
	"starsbot/backup"
	"starsbot/bot"
	"starsbot/config"
	"starsbot/fulfillment"
	"starsbot/shop"
	"starsbot/store"
)

// newBackups makes the scheduled backups (BACKUP_INTERVAL), or returns
// nil when they are off. A failure is alerted to the admins.
func newBackups(ctx context.Context, cfg *config.Config, db *store.DB, notifier fulfillment.Notifier, client *http.Client, logger *slog.Logger) (*backup.Scheduler, error) {
	if cfg.BackupInterval == 0 {
		return nil, nil
	}
	bcfg := backup.Config{
		Snapshot: db.WriteTo,
		Dir:      cfg.BackupDir,
		Interval: cfg.BackupInterval,
		Keep:     int(cfg.BackupKeep),
		Alert: func(ctx context.Context, msg string) {
			notifier.Alert(ctx, shop.Alert{Kind: shop.AlertBackupFailed, Message: config.RedactURLs(msg)})
		},
		Logger: logger,
	}
	if cfg.BackupS3URL != "" {
		loc, err := config.ParseS3URL(cfg.BackupS3URL)
		if err != nil {
			return nil, fmt.Errorf("BACKUP_S3_URL: %w", err)
		}
		up, err := backup.NewS3(ctx, backup.S3Config{
			Bucket: loc.Bucket, Prefix: loc.Prefix, Region: loc.Region, Endpoint: loc.Endpoint, PathStyle: loc.PathStyle,
			AccessKeyID: cfg.BackupS3AccessKeyID, SecretAccessKey: cfg.BackupS3SecretAccessKey,
			HTTPClient: client,
		})
		if err != nil {
			return nil, err
		}
		bcfg.Upload = up
	}
	s, err := backup.New(bcfg)
	if err != nil {
		return nil, err
	}
	st := s.Status()
	logger.Info("scheduled backups", "interval", st.Interval, "dir", st.Dir, "keep", cfg.BackupKeep, "upload", st.Remote, "next", st.Next)
	return s, nil
}

// chatBackup is what /backup sends: a compressed backup, the same format
// as the scheduled ones, encrypted with age to BACKUP_AGE_RECIPIENT (the
// database may hold secrets, and a chat is on Telegram's servers). Without
// recipients it returns nil recipients and the bot sends nothing.
func chatBackup(cfg *config.Config, db *store.DB) (func(io.Writer) (int64, error), []string, error) {
	if db == nil {
		return nil, nil, nil // PostgreSQL: /backup says backups are not available here
	}
	var recipients []age.Recipient
	for _, r := range cfg.BackupAgeRecipients {
		rcpt, err := age.ParseX25519Recipient(r)
		if err != nil {
			return nil, nil, fmt.Errorf("config: BACKUP_AGE_RECIPIENT: %v", err)
		}
		recipients = append(recipients, rcpt)
	}
	snapshot := func(w io.Writer) (int64, error) {
		if len(recipients) == 0 {
			return 0, errors.New("no BACKUP_AGE_RECIPIENT: the chat copy is not written in clear")
		}
		cw := &countingWriter{w: w}
		ew, err := age.Encrypt(cw, recipients...)
		if err != nil {
			return 0, err
		}
		if _, err := backup.Compress(ew, db.WriteTo); err != nil {
			return cw.n, err
		}
		if err := ew.Close(); err != nil {
			return cw.n, err
		}
		return cw.n, nil
	}
	return snapshot, cfg.BackupAgeRecipients, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// scheduledBackup tells /backup where the latest scheduled backup is; s is
// nil when they are off.
func scheduledBackup(s *backup.Scheduler) func() bot.ScheduledBackup {
	return func() bot.ScheduledBackup {
		if s == nil {
			return bot.ScheduledBackup{}
		}
		st := s.Status()
		sb := bot.ScheduledBackup{Enabled: true, Interval: st.Interval, Dir: st.Dir, Next: st.Next, Error: st.Error, Failed: st.Failed}
		if b := st.Last; b != nil {
			sb.Time, sb.Path, sb.Size, sb.SHA256 = b.Time, b.Path, b.Compressed, b.SHA256
			sb.Remote, sb.UploadError = b.Remote, b.UploadError
		}
		return sb
	}
}

// backupProbe reports the scheduled backups on /health: their age and
// whether the latest attempt failed, never a path or a credential. They
// are degraded when the latest attempt failed or no backup is younger
// than two intervals.
func backupProbe(s *backup.Scheduler, now func() time.Time) api.Probe {
	if s == nil {
		return api.StaticProbe(api.Component{Status: api.ComponentDisabled, Detail: "disabled: BACKUP_INTERVAL is 0"})
	}
	return func(context.Context) api.Component {
		st := s.Status()
		c := api.Component{Status: api.ComponentOK}
		switch {
		case st.Last == nil:
			c.Detail = "no backup yet"
			if now().Sub(st.Next) > st.Interval {
				c.Status = api.ComponentDegraded
			}
		default:
			age := now().Sub(st.Last.Time).Round(time.Second)
			c.Detail = fmt.Sprintf("last backup %s ago, %d bytes", age, st.Last.Compressed)
			if age > 2*st.Interval {
				c.Status = api.ComponentDegraded
			}
		}
		if !st.Failed.IsZero() {
			c.Status = api.ComponentDegraded
			c.Detail += fmt.Sprintf("; the latest attempt failed %s ago (see the log)", now().Sub(st.Failed).Round(time.Second))
		}
		return c
	}
}

// backupMetrics are the scheduled backups' gauges for /metrics: when the
// newest backup was taken and its size (0 before the first), and whether
// the latest attempt failed.
func backupMetrics(s *backup.Scheduler) []prometheus.Collector {
	last := func(f func(*backup.Backup) float64) func() float64 {
		return func() float64 {
			if b := s.Status().Last; b != nil {
				return f(b)
			}
			return 0
		}
	}
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "starsbot_backup_last_timestamp_seconds",
			Help: "Unix time of the newest scheduled backup's snapshot; 0 before the first.",
		}, last(func(b *backup.Backup) float64 { return float64(b.Time.Unix()) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "starsbot_backup_last_size_bytes",
			Help: "Size of the newest scheduled backup file (compressed).",
		}, last(func(b *backup.Backup) float64 { return float64(b.Compressed) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "starsbot_backup_failing",
			Help: "1 when the latest scheduled backup attempt (or its upload) failed, else 0.",
		}, func() float64 {
			if s.Status().Failed.IsZero() {
				return 0
			}
			return 1
		}),
	}
}
