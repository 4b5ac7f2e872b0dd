package bot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"time"

	tele "gopkg.in/telebot.v3"
)

// Backups go to the admin as a document. The Bot API accepts uploads of
// at most 50 MB.
const (
	maxBackupSize  = 50 << 20
	backupDeadline = 10 * time.Minute
)

// onAdminBackup writes a consistent snapshot of the database (one read
// transaction) to a private temporary file, hashing it on the way, and
// sends it to the admin with its size and SHA-256. The file is removed
// afterwards.
func (b *Bot) onAdminBackup(t *adminTurn) error {
	if b.Backup == nil {
		t.result = "refused: backups not configured"
		return t.say("⚠️ Backups are not available in this process.", nil)
	}
	// A large snapshot takes longer than a chat update may.
	ctx, cancel := context.WithTimeout(b.baseContext(), backupDeadline)
	defer cancel()
	f, err := os.CreateTemp(b.BackupDir, "starsbot-backup-*.db") // mode 0600
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer func() {
		f.Close()
		if err := os.Remove(f.Name()); err != nil {
			b.Logger.Error("backup: temporary file not removed", "path", f.Name(), "error", err)
		}
	}()
	h := sha256.New()
	size, err := b.Backup(io.MultiWriter(f, h))
	if err != nil {
		return fmt.Errorf("backup: snapshot: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	t.result = fmt.Sprintf("ok: %d bytes, sha256 %s", size, sum)
	if size > maxBackupSize {
		t.result = fmt.Sprintf("refused: %d bytes is over the upload limit", size)
		return t.say(fmt.Sprintf("⚠️ The snapshot is %d bytes, over the 50 MB a bot may upload. Stop the service and copy DATA_DIR/starsbot.db on the server instead.", size), nil)
	}
	name := "starsbot-" + b.Now().UTC().Format("20060102-150405") + ".db"
	caption := fmt.Sprintf("💾 Database snapshot, %d bytes\nSHA-256 <code>%s</code>\nRestore: stop starsbot and put this file in place of DATA_DIR/starsbot.db.", size, sum)
	if err := b.sendDocument(ctx, t.chat, f, name, caption); err != nil {
		return fmt.Errorf("backup: upload: %w", b.redact(err))
	}
	return nil
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
