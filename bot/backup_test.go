package bot_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"starsbot/backup"
	"starsbot/bot"
	"starsbot/bot/bottest"
	"starsbot/shop"
	"starsbot/shop/shoptest"
	"starsbot/store"
)

// identity is the admin's age key pair; the bot has only its public key.
var identity = func() *age.X25519Identity {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		panic(err)
	}
	return id
}()

// encrypted is what main hands the bot (chatBackup): a compressed backup
// of the store, encrypted to the admin's age public key.
func (e *env) encrypted(c *bot.Config) {
	c.BackupRecipients = []string{identity.Recipient().String()}
	c.Backup = func(w io.Writer) (int64, error) {
		cw := &countWriter{w: w}
		ew, err := age.Encrypt(cw, identity.Recipient())
		if err != nil {
			return 0, err
		}
		if _, err := backup.Compress(ew, e.db.WriteTo); err != nil {
			return cw.n, err
		}
		return cw.n, ew.Close()
	}
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// TestBackup_NotInClear: without BACKUP_AGE_RECIPIENT no database goes to
// chat; the admin is told why, how to receive it encrypted, and where the
// scheduled backups are.
func TestBackup_NotInClear(t *testing.T) {
	e := newEnv(t)
	got := e.admin("/backup", "not sent to chat in clear")
	for _, want := range []string{"<code>BACKUP_AGE_RECIPIENT</code>", "Scheduled backups are off"} {
		if !strings.Contains(got.Text, want) {
			t.Errorf("answer lacks %q:\n%s", want, got.Text)
		}
	}
	if n := len(e.fake.CallsTo("sendDocument")); n != 0 {
		t.Errorf("%d uploads", n)
	}
	if log := e.auditLog(); len(log) != 1 || log[0].Result != "refused: no BACKUP_AGE_RECIPIENT" {
		t.Errorf("audit: %+v", log)
	}
}

// TestBackup_SendsCompressed: /backup sends the zstd-compressed snapshot
// with its size and SHA-256; it decompresses, with its own checksum
// verified, to a database that passes the full check and holds the same
// users and orders.
func TestBackup_SendsCompressed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.startChat(alice)
	e.startChat(ivan)
	e.deposit(alice, "", 3*shop.TON)
	o := e.manualOrder(alice)
	e.restart(e.encrypted)

	e.fake.Send(owner, "/backup")
	call := e.fake.Wait(owner.ID, "Database backup, zstd-compressed, encrypted to <code>age1")
	if call.Method != "sendDocument" || !strings.HasSuffix(call.FileName, ".db.zst.age") || !strings.HasPrefix(call.FileName, "starsbot-20260416-") {
		t.Fatalf("backup call %s %q", call.Method, call.FileName)
	}
	sum := sha256.Sum256(call.Document)
	base := strings.TrimSuffix(call.FileName, ".age")
	if !strings.Contains(call.Text, hex.EncodeToString(sum[:])) || !strings.Contains(call.Text, fmt.Sprintf("%d bytes", len(call.Document))) ||
		!strings.Contains(call.Text, "age -d -i key.txt -o "+base+" "+call.FileName) || !strings.Contains(call.Text, "starsbot restore -force "+base) {
		t.Errorf("caption does not match the file:\n%s", call.Text)
	}
	// Nothing of the database shows without the key: not the zstd magic,
	// not a username.
	if bytes.Contains(call.Document, []byte{0x28, 0xB5, 0x2F, 0xFD}) || bytes.Contains(call.Document, []byte("alice_buyer")) {
		t.Error("the chat copy is readable without the key")
	}

	dir := t.TempDir()
	zst := filepath.Join(dir, base)
	plain, err := age.Decrypt(bytes.NewReader(call.Document), identity)
	if err != nil {
		t.Fatalf("decrypt: %v", err)
	}
	zdata, err := io.ReadAll(plain)
	if err != nil {
		t.Fatalf("decrypt: %v", err)
	}
	if err := os.WriteFile(zst, zdata, 0o600); err != nil {
		t.Fatal(err)
	}
	in, _ := os.Open(zst)
	defer in.Close()
	path := filepath.Join(dir, "restored.db")
	out, _ := os.Create(path)
	res, err := backup.Decompress(in, out)
	out.Close()
	if err != nil {
		t.Fatalf("the backup does not decompress: %v", err)
	}
	t.Logf("database %d bytes, sent %d bytes (%.1fx)", res.Size, res.Compressed, res.Ratio())
	db, err := store.Open(path)
	if err != nil {
		t.Fatalf("the backup does not open as a database: %v", err)
	}
	defer db.Close()
	if err := db.Check(ctx); err != nil {
		t.Fatalf("backup check: %v", err)
	}
	copySvc := shoptest.New(t, &shoptest.Options{DB: db, Start: e.clock.Now()}).Service
	for _, u := range []bottest.User{alice, ivan} {
		got, err := copySvc.FindUser(ctx, u.ID)
		if err != nil || got.Balance != e.user(u).Balance || got.Memo != e.user(u).Memo {
			t.Errorf("user %d in the backup: %+v, %v", u.ID, got, err)
		}
	}
	got, err := copySvc.FindOrder(ctx, 0, o.ID)
	if err != nil || got.Status != shop.StatusManual || got.PriceTON != o.PriceTON {
		t.Errorf("order in the backup: %+v, %v", got, err)
	}
	if log := e.auditLog(); len(log) != 1 || log[0].Action != "backup" || !strings.Contains(log[0].Result, hex.EncodeToString(sum[:])) {
		t.Errorf("audit: %+v", log)
	}
	if left, _ := os.ReadDir(e.backupDir); len(left) != 0 {
		t.Errorf("%d files left in the backup directory: %s", len(left), left[0].Name())
	}
}

// TestBackup_UploadLimit: a backup of exactly the limit is sent; one byte
// more is not even attempted (the bot decides by size, not by Telegram's
// answer) and the admin is told where the scheduled backups are, or how
// to turn them on.
func TestBackup_UploadLimit(t *testing.T) {
	e := newEnv(t)
	file := bytes.Repeat([]byte("z"), 5000)
	fixed := func(c *bot.Config) {
		c.BackupRecipients = []string{identity.Recipient().String()}
		c.Backup = func(w io.Writer) (int64, error) {
			n, err := w.Write(file)
			return int64(n), err
		}
	}
	e.restart(fixed, func(c *bot.Config) { c.BackupUploadLimit = 5000 })
	e.fake.Send(owner, "/backup")
	if call := e.fake.Wait(owner.ID, "Database backup"); call.Method != "sendDocument" || len(call.Document) != 5000 {
		t.Errorf("at the limit: %s of %d bytes", call.Method, len(call.Document))
	}

	e.restart(fixed, func(c *bot.Config) { c.BackupUploadLimit = 4999 })
	got := e.admin("/backup", "over 4 kB, more than a bot may upload")
	for _, want := range []string{"Scheduled backups are off", "<code>BACKUP_INTERVAL</code>", "starsbot backup FILE"} {
		if !strings.Contains(got.Text, want) {
			t.Errorf("answer lacks %q:\n%s", want, got.Text)
		}
	}
	if n := len(e.fake.CallsTo("sendDocument")); n != 1 {
		t.Errorf("%d uploads, want only the one at the limit", n)
	}

	// With scheduled backups: where the latest is.
	taken := e.clock.Now().Add(-3*time.Hour - 5*time.Minute)
	e.restart(fixed, func(c *bot.Config) {
		c.BackupUploadLimit = 4999
		c.ScheduledBackup = func() bot.ScheduledBackup {
			return bot.ScheduledBackup{
				Enabled: true, Interval: 6 * time.Hour, Dir: "/var/lib/starsbot/backups", Next: taken.Add(6 * time.Hour),
				Time: taken, Path: "/var/lib/starsbot/backups/starsbot-20260416-075500.db.zst", Size: 812_345_678,
				SHA256: strings.Repeat("ab", 32), Remote: "s3://shop-backups/starsbot/starsbot-20260416-075500.db.zst",
			}
		}
	})
	got = e.admin("/backup", "Latest scheduled backup")
	for _, want := range []string{"2026-04-16 07:55 UTC (3h5m ago), 812.3 MB", "<code>/var/lib/starsbot/backups/starsbot-20260416-075500.db.zst</code>",
		"Uploaded to <code>s3://shop-backups/starsbot/starsbot-20260416-075500.db.zst</code>", "Every 6h0m0s; next due in 2h55m."} {
		if !strings.Contains(got.Text, want) {
			t.Errorf("answer lacks %q:\n%s", want, got.Text)
		}
	}

	// None yet, and the latest attempt failed.
	e.restart(fixed, func(c *bot.Config) {
		c.BackupUploadLimit = 4999
		c.ScheduledBackup = func() bot.ScheduledBackup {
			return bot.ScheduledBackup{Enabled: true, Interval: time.Hour, Dir: "/b", Next: e.clock.Now().Add(time.Hour),
				Failed: e.clock.Now().Add(-time.Minute), Error: "backup to /b/x failed: no space left on device"}
		}
	})
	got = e.admin("/backup", "No scheduled backup yet")
	if !strings.Contains(got.Text, "The latest attempt, 1m ago, failed: backup to /b/x failed: no space left on device") {
		t.Errorf("answer:\n%s", got.Text)
	}
	if left, _ := os.ReadDir(e.backupDir); len(left) != 0 {
		t.Errorf("%d files left in the backup directory", len(left))
	}
	var results []string
	for _, a := range e.auditLog() {
		results = append(results, a.Result)
	}
	if len(results) != 4 || results[0] != "too large: over 4999 bytes compressed" || !strings.HasPrefix(results[3], "ok: 5000 bytes") {
		t.Errorf("audit results: %q", results)
	}
}

// TestBackup_Failures: a failing snapshot is an internal error (logged);
// a failing upload tells the admin why and where the scheduled backups
// are; nothing is left on disk either way.
func TestBackup_Failures(t *testing.T) {
	e := newEnv(t)
	e.restart(e.encrypted, func(c *bot.Config) {
		c.Backup = func(io.Writer) (int64, error) { return 0, fmt.Errorf("disk on fire") }
	})
	e.admin("/backup", "Internal error; see the log.")
	if !strings.Contains(e.logText(), "disk on fire") {
		t.Error("the snapshot error is not logged")
	}
	e.restart(e.encrypted)
	e.fake.FailNext("sendDocument", 3600)
	got := e.admin("/backup", "could not be sent")
	if !strings.Contains(got.Text, "Scheduled backups are off") {
		t.Errorf("answer:\n%s", got.Text)
	}
	if left, _ := os.ReadDir(e.backupDir); len(left) != 0 {
		t.Errorf("%d files left in the backup directory", len(left))
	}
	if log := e.auditLog(); len(log) != 2 || !strings.HasPrefix(log[0].Result, "upload failed: ") || log[1].Result != "error: Internal error; see the log." {
		t.Errorf("audit: %+v %+v", log[0], log[1])
	}
}

// TestBackup_Over50MB runs /backup on a real database of more than 50 MB
// that does not compress (random blobs): the compression stops once past
// the Bot API's limit, nothing is uploaded, and the admin is told where
// the latest scheduled backup is.
func TestBackup_Over50MB(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 60 MB database")
	}
	e := newEnv(t)
	ctx := context.Background()
	for i := range 10 {
		err := e.db.Update(ctx, func(tx shop.Tx) error {
			for j := range 100 {
				blob := make([]byte, 60<<10) // bbolt keeps the slice until the commit
				rand.Read(blob)
				if err := tx.PutSetting(fmt.Sprintf("test-noise-%d-%d", i, j), blob); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if n, err := e.db.WriteTo(io.Discard); err != nil || n < 60_000_000 {
		t.Fatalf("the database is %d bytes (%v), want over 60 MB", n, err)
	}
	e.restart(e.encrypted, func(c *bot.Config) {
		c.ScheduledBackup = func() bot.ScheduledBackup {
			return bot.ScheduledBackup{Enabled: true, Interval: 6 * time.Hour, Dir: "/data/backups", Next: e.clock.Now().Add(time.Hour),
				Time: e.clock.Now().Add(-5 * time.Hour), Path: "/data/backups/starsbot-20260416-060000.db.zst", Size: 61_000_000}
		}
	})
	// Compressing 50 MB takes a few seconds, more under -race.
	e.fake.Send(owner, "/backup")
	got, ok := e.fake.WaitTimeout(owner.ID, "over 50.0 MB, more than a bot may upload", time.Minute)
	if !ok {
		t.Fatal("no answer to /backup")
	}
	if !strings.Contains(got.Text, "<code>/data/backups/starsbot-20260416-060000.db.zst</code>") {
		t.Errorf("answer:\n%s", got.Text)
	}
	if n := len(e.fake.CallsTo("sendDocument")); n != 0 {
		t.Errorf("%d uploads", n)
	}
	if left, _ := os.ReadDir(e.backupDir); len(left) != 0 {
		t.Errorf("%d files left in the backup directory", len(left))
	}
}
