package bot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"strconv"
	"time"
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
// limiter, streaming it from disk.
func (b *Bot) sendDocument(ctx context.Context, chat int64, f *os.File, name, caption string) error {
	return b.deliver(ctx, chat, func() error {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		pr, pw := io.Pipe()
		mw := multipart.NewWriter(pw)
		go func() {
			pw.CloseWithError(func() error {
				for _, kv := range [][2]string{{"chat_id", strconv.FormatInt(chat, 10)}, {"caption", caption}, {"parse_mode", "HTML"}} {
					if err := mw.WriteField(kv[0], kv[1]); err != nil {
						return err
					}
				}
				part, err := mw.CreateFormFile("document", name)
				if err != nil {
					return err
				}
				if _, err := io.Copy(part, f); err != nil {
					return err
				}
				return mw.Close()
			}())
		}()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.APIURL+"/bot"+b.Token+"/sendDocument", pr)
		if err != nil {
			pr.Close()
			return err
		}
		req.Header.Set("Content-Type", mw.FormDataContentType())
		client := &http.Client{Transport: b.Client.Transport} // ctx bounds the upload
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var env apiEnvelope
		if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&env); err != nil {
			return fmt.Errorf("telegram sendDocument: HTTP %d: %w", resp.StatusCode, err)
		}
		return env.err("sendDocument")
	})
}

// apiEnvelope is the Bot API's answer around every result.
type apiEnvelope struct {
	OK          bool            `json:"ok"`
	Result      json.RawMessage `json:"result"`
	ErrorCode   int             `json:"error_code"`
	Description string          `json:"description"`
	Parameters  struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters"`
}

// err is the envelope's error, a *floodError for 429 with retry_after.
func (env *apiEnvelope) err(method string) error {
	if env.OK {
		return nil
	}
	if env.ErrorCode == http.StatusTooManyRequests && env.Parameters.RetryAfter > 0 {
		return &floodError{retryAfter: time.Duration(env.Parameters.RetryAfter) * time.Second}
	}
	if env.Description == "" {
		return errors.New("telegram " + method + ": request failed")
	}
	return fmt.Errorf("telegram %s: %s (%d)", method, env.Description, env.ErrorCode)
}
