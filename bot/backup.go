package bot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html"
	"io"
	"os"
	"strings"
	"time"

	tele "gopkg.in/telebot.v3"
)

// DefaultBackupUploadLimit is the largest file /backup uploads. "Bots can
// currently send files of any type of up to 50 MB in size"
// (https://core.telegram.org/bots/api#senddocument); whether a MB is 10^6
// or 2^20 bytes is not said, so the smaller. A local Bot API server
// allows 2000 MB (https://core.telegram.org/bots/api#using-a-local-bot-api-server):
// set Config.BackupUploadLimit then. Telegram's answer to a larger upload
// is reported as "413 Request Entity Too Large", sometimes as nginx's HTML
// page rather than a Bot API answer
// (https://github.com/go-telegram-bot-api/telegram-bot-api/issues/31,
// https://github.com/telegraf/telegraf/issues/913): the bot never relies
// on it, it decides by size before sending.
const DefaultBackupUploadLimit = 50_000_000

// backupDeadline bounds /backup: a large snapshot takes longer than a chat
// update may.
const backupDeadline = 10 * time.Minute

// ScheduledBackup is what /backup says about the scheduled backups when it
// cannot send one itself.
type ScheduledBackup struct {
	Enabled  bool // false: BACKUP_INTERVAL is 0
	Interval time.Duration
	Dir      string
	Next     time.Time // when the next one is due

	// The latest one; Time is zero before the first.
	Time        time.Time
	Path        string
	Size        int64 // bytes of the compressed file
	SHA256      string
	Remote      string // where it was uploaded, e.g. s3://bucket/key; "" if not
	UploadError string // why its upload failed

	Failed time.Time // the latest failed attempt since it; zero if none
	Error  string    // why, without credentials
}

// errTooLarge stops a snapshot whose compressed form passed the upload
// limit: nothing more of it is worth writing.
var errTooLarge = errors.New("the compressed snapshot is over the upload limit")

// limitWriter refuses to write past limit bytes.
type limitWriter struct {
	w     io.Writer
	n     int64
	limit int64
	over  bool
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n+int64(len(p)) > l.limit {
		l.over = true
		return 0, errTooLarge
	}
	n, err := l.w.Write(p)
	l.n += int64(n)
	return n, err
}

// onAdminBackup writes a compressed snapshot of the database (one read
// transaction), encrypted to BackupRecipients, to a private temporary
// file, hashing it on the way, and sends it to the admin with its size and
// SHA-256 when it fits the upload limit. Without recipients it sends none. One that does not fit, or whose upload fails, is answered with
// where the latest scheduled backup is, or how to turn scheduled backups
// on: never silence. The file is removed afterwards.
func (b *Bot) onAdminBackup(t *adminTurn) error {
	if b.Backup == nil {
		t.result = "refused: backups not configured"
		return t.say("⚠️ Backups are not available in this process.", nil)
	}
	if len(b.BackupRecipients) == 0 {
		t.result = "refused: no BACKUP_AGE_RECIPIENT"
		return t.say("🔒 The database is not sent to chat in clear: it may hold secrets (partners' webhook signing secrets) and holds customer data. "+
			"To receive it here encrypted, set <code>BACKUP_AGE_RECIPIENT</code> to an age public key (<code>age-keygen</code> prints one; keep the secret key off the server).\n\n"+
			b.scheduledBackupText(), nil)
	}
	ctx, cancel := context.WithTimeout(b.baseContext(), backupDeadline)
	defer cancel()
	f, err := os.CreateTemp(b.BackupDir, "starsbot-backup-*.db.zst") // mode 0600
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	removed := false
	remove := func() { // before any answer, so that none comes while the file is still there
		if removed {
			return
		}
		removed = true
		f.Close()
		if err := os.Remove(f.Name()); err != nil {
			b.Logger.Error("backup: temporary file not removed", "path", f.Name(), "error", err)
		}
	}
	defer remove()
	h := sha256.New()
	lw := &limitWriter{w: io.MultiWriter(f, h), limit: b.BackupUploadLimit}
	size, err := b.Backup(lw)
	if lw.over {
		b.Logger.Info("backup: the compressed snapshot is over the upload limit; pointing to the scheduled backups", "limit", b.BackupUploadLimit)
		t.result = fmt.Sprintf("too large: over %d bytes compressed", b.BackupUploadLimit)
		remove()
		return b.backupReply(t, fmt.Sprintf("⚠️ The compressed snapshot is over %s, more than a bot may upload to a chat.\n\n", formatBytes(b.BackupUploadLimit))+b.scheduledBackupText())
	}
	if err != nil {
		remove()
		return fmt.Errorf("backup: snapshot: %w", err)
	}
	if err := f.Sync(); err != nil {
		remove()
		return fmt.Errorf("backup: %w", err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	t.result = fmt.Sprintf("ok: %d bytes, sha256 %s", size, sum)
	base := "starsbot-" + b.Now().UTC().Format("20060102-150405") + ".db.zst"
	name := base + ".age"
	caption := fmt.Sprintf("💾 Database backup, zstd-compressed, encrypted to %s, %d bytes\nSHA-256 <code>%s</code>\n"+
		"Restore: <code>age -d -i key.txt -o %s %s</code>, stop starsbot, then <code>starsbot restore -force %s</code> (it checks the file's own checksum and every invariant first).",
		recipientsText(b.BackupRecipients), size, sum, base, name, base)
	if err := b.sendDocument(ctx, t.chat, f, name, caption); err != nil {
		err = b.redact(err)
		b.Logger.Error("backup: upload failed", "bytes", size, "error", err)
		t.result = fmt.Sprintf("upload failed: %d bytes: %v", size, err)
		remove()
		return b.backupReply(t, fmt.Sprintf("⚠️ The backup (%s) could not be sent: %s\n\n", formatBytes(size), html.EscapeString(truncateRunes(err.Error(), 300)))+b.scheduledBackupText())
	}
	return nil
}

// recipientsText shortens age public keys for a caption: age1abcd…wxyz.
func recipientsText(rs []string) string {
	short := make([]string, len(rs))
	for i, r := range rs {
		short[i] = r
		if len(r) > 16 {
			short[i] = r[:9] + "…" + r[len(r)-4:]
		}
	}
	return "<code>" + html.EscapeString(strings.Join(short, ", ")) + "</code>"
}

// backupReply answers /backup with a context of its own: the snapshot
// may have outlasted the update's.
func (b *Bot) backupReply(t *adminTurn, text string) error {
	ctx, cancel := context.WithTimeout(b.baseContext(), b.UpdateTimeout)
	defer cancel()
	_, err := b.sendText(ctx, t.chat, text, nil)
	return err
}

// scheduledBackupText says where the latest scheduled backup is, or how
// to turn scheduled backups on. HTML.
func (b *Bot) scheduledBackupText() string {
	var sb ScheduledBackup
	if b.ScheduledBackup != nil {
		sb = b.ScheduledBackup()
	}
	if !sb.Enabled {
		return "Scheduled backups are off. Turn them on with <code>BACKUP_INTERVAL</code> (e.g. <code>6h</code>): " +
			"a compressed, checksummed backup is then written to <code>BACKUP_DIR</code> (default DATA_DIR/backups), " +
			"the newest <code>BACKUP_KEEP</code> kept, and uploaded to <code>BACKUP_S3_URL</code> if set.\n" +
			"Meanwhile, on the server: <code>starsbot backup FILE</code> takes one from the running service."
	}
	now := b.Now()
	var s strings.Builder
	if sb.Time.IsZero() {
		fmt.Fprintf(&s, "No scheduled backup yet (every %s into <code>%s</code>; next due %s).", sb.Interval, html.EscapeString(sb.Dir), when(sb.Next, now))
	} else {
		fmt.Fprintf(&s, "💾 <b>Latest scheduled backup</b>, %s (%s ago), %s:\n<code>%s</code>",
			sb.Time.UTC().Format("2006-01-02 15:04 UTC"), ago(now.Sub(sb.Time)), formatBytes(sb.Size), html.EscapeString(sb.Path))
		if sb.SHA256 != "" {
			fmt.Fprintf(&s, "\nSHA-256 of the database <code>%s</code>", sb.SHA256)
		}
		switch {
		case sb.Remote != "":
			fmt.Fprintf(&s, "\nUploaded to <code>%s</code>", html.EscapeString(sb.Remote))
		case sb.UploadError != "":
			fmt.Fprintf(&s, "\n⚠️ Its upload failed: %s", html.EscapeString(truncateRunes(sb.UploadError, 300)))
		}
		fmt.Fprintf(&s, "\nEvery %s; next due %s.", sb.Interval, when(sb.Next, now))
	}
	if !sb.Failed.IsZero() && sb.UploadError == "" {
		fmt.Fprintf(&s, "\n⚠️ The latest attempt, %s ago, failed: %s", ago(now.Sub(sb.Failed)), html.EscapeString(truncateRunes(sb.Error, 300)))
	}
	return s.String()
}

// when is a due time relative to now.
func when(t, now time.Time) string {
	if !t.After(now) {
		return "now"
	}
	return "in " + ago(t.Sub(now))
}

// ago rounds a duration for people: 45s, 12m, 3h5m, 2d4h.
func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}

// formatBytes is a size for people, in decimal units as Telegram states
// its limit.
func formatBytes(n int64) string {
	switch {
	case n >= 1_000_000_000:
		return fmt.Sprintf("%d.%02d GB", n/1_000_000_000, n%1_000_000_000/10_000_000)
	case n >= 1_000_000:
		return fmt.Sprintf("%d.%01d MB", n/1_000_000, n%1_000_000/100_000)
	case n >= 1000:
		return fmt.Sprintf("%d kB", n/1000)
	}
	return fmt.Sprintf("%d bytes", n)
}

// sendDocument uploads the file as a document to chat, through the
// limiter, streaming it from disk. ctx bounds the upload, not Client's
// Timeout: a large snapshot may take longer.
func (b *Bot) sendDocument(ctx context.Context, chat int64, f *os.File, name, caption string) error {
	return b.deliver(ctx, chat, func() error {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		doc := &tele.Document{File: tele.FromReader(f), FileName: name, Caption: caption}
		_, err := b.api(ctx).Send(tele.ChatID(chat), doc, &tele.SendOptions{ParseMode: tele.ModeHTML})
		return err
	})
}
