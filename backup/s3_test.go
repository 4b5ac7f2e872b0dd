package backup_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"starsbot/backup"
	"starsbot/shop"
	"starsbot/shop/shoptest"
	"starsbot/store"
)

const (
	accessKey = "AKIAIOSFODNN7EXAMPLE"
	secretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

// fill gives the shop users with balances and paid orders.
func fill(t testing.TB, svc *shop.Service, users, ordersPerUser int) {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, users)
	sem := make(chan struct{}, 8) // concurrent writers share commits (group commit)
	for u := range users {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			id := int64(1000 + u)
			if _, err := svc.EnsureUser(ctx, shop.UserUpdate{ID: id, Username: fmt.Sprintf("buyer_%05d", u), LanguageCode: "en"}); err != nil {
				errs <- err
				return
			}
			if _, err := svc.AdminCredit(ctx, 1, id, 1000*shop.TON, "test funds"); err != nil {
				errs <- err
				return
			}
			for o := range ordersPerUser {
				if _, err := svc.CreateOrder(ctx, shop.CreateOrderRequest{
					UserID: id, Type: shop.OrderStars, Stars: int64(50 + o), Recipient: fmt.Sprintf("friend_%05d", o),
					PaymentMethod: shop.PayBalance, ClientReference: fmt.Sprintf("ref-%d-%d", u, o),
				}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// fakeS3 is gofakes3, an in-process S3 server, behind httptest.
func fakeS3(t *testing.T, buckets ...string) (*s3mem.Backend, *httptest.Server) {
	t.Helper()
	be := s3mem.New()
	for _, b := range buckets {
		if err := be.CreateBucket(b); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(gofakes3.New(be).Server())
	t.Cleanup(srv.Close)
	return be, srv
}

func newS3(t *testing.T, srv *httptest.Server, bucket string) *backup.S3 {
	t.Helper()
	up, err := backup.NewS3(context.Background(), backup.S3Config{
		Bucket: bucket, Prefix: "starsbot/prod", Region: "eu-central-1", Endpoint: srv.URL, PathStyle: true,
		AccessKeyID: accessKey, SecretAccessKey: secretKey, HTTPClient: srv.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return up
}

// TestS3_Upload: a scheduled backup of a real database is uploaded under
// the prefix; the object decompresses, checksum verified, to a database
// that store.Check accepts, with the same users.
func TestS3_Upload(t *testing.T) {
	s := shoptest.New(t, nil)
	fill(t, s.Service, 20, 3)
	be, srv := fakeS3(t, "shop-backups")
	var logs logBuf
	sched, err := backup.New(backup.Config{
		Snapshot: s.DB.WriteTo, Dir: t.TempDir(), Interval: time.Hour, Keep: 2,
		Upload: newS3(t, srv, "shop-backups"), Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := sched.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	key := "starsbot/prod/" + filepath.Base(b.Path)
	if b.Remote != "s3://shop-backups/"+key || b.UploadError != "" {
		t.Fatalf("backup %+v", b)
	}
	obj, err := be.GetObject("shop-backups", key, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Contents.Close()
	if obj.Metadata["X-Amz-Meta-Db-Sha256"] != b.SHA256 {
		t.Errorf("metadata %v, want db-sha256 %s", obj.Metadata, b.SHA256)
	}
	dir := t.TempDir()
	zst := filepath.Join(dir, "from-s3"+backup.Ext)
	f, _ := os.Create(zst)
	if _, err := io.Copy(f, obj.Contents); err != nil {
		t.Fatal(err)
	}
	f.Close()
	in, _ := os.Open(zst)
	defer in.Close()
	dbPath := filepath.Join(dir, "restored.db")
	out, _ := os.Create(dbPath)
	res, err := backup.Decompress(in, out)
	out.Close()
	if err != nil || res.SHA256 != b.SHA256 {
		t.Fatalf("the uploaded object: %+v, %v", res, err)
	}
	db, err := store.OpenReadOnly(dbPath, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Check(context.Background()); err != nil {
		t.Errorf("store.Check of the uploaded backup: %v", err)
	}
	if strings.Contains(logs.String(), secretKey) || strings.Contains(logs.String(), accessKey) {
		t.Errorf("credentials logged:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), `msg="backup uploaded" to=s3://shop-backups/`+key) {
		t.Errorf("log:\n%s", logs.String())
	}
}

// TestS3_UploadFails: an upload that fails (no such bucket) keeps the
// local backup, is logged without credentials, alerted, and shown in the
// status.
func TestS3_UploadFails(t *testing.T) {
	_, srv := fakeS3(t) // no bucket
	var logs logBuf
	var al alerts
	dir := t.TempDir()
	sched, err := backup.New(backup.Config{
		Snapshot: snapshotOf(data(t, 10_000)), Dir: dir, Interval: time.Hour, Keep: 2,
		Upload: newS3(t, srv, "missing-bucket"), Logger: slog.New(slog.NewTextHandler(&logs, nil)), Alert: al.alert,
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := sched.RunOnce(context.Background())
	if err != nil {
		t.Fatalf("a failed upload failed the backup: %v", err)
	}
	if _, err := backup.Verify(b.Path); err != nil {
		t.Errorf("the local backup: %v", err)
	}
	if b.Remote != "" || !strings.Contains(b.UploadError, "NoSuchBucket") {
		t.Errorf("backup %+v", b)
	}
	if st := sched.Status(); !strings.HasPrefix(st.Error, "upload failed: ") || st.Last == nil || st.Last.Path != b.Path {
		t.Errorf("status %+v", st)
	}
	if msgs := al.list(); len(msgs) != 1 || !strings.Contains(msgs[0], "upload to s3://missing-bucket/starsbot/prod at "+srv.URL+" failed") {
		t.Errorf("alerts %q", msgs)
	}
	if l := logs.String(); !strings.Contains(l, "backup upload failed; the local backup is kept") || strings.Contains(l, secretKey) || strings.Contains(l, accessKey) {
		t.Errorf("log:\n%s", l)
	}
}
