package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoad_Backup(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "s3secret")
	if err := os.WriteFile(secret, []byte("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := mustLoad(t, env{
		"DATA_DIR":                         "/var/lib/starsbot",
		"BACKUP_INTERVAL":                  "6h",
		"BACKUP_KEEP":                      "30",
		"BACKUP_S3_URL":                    "s3://shop-backups/starsbot/prod?region=eu-central-1&endpoint=https://s3.example.test/",
		"BACKUP_S3_ACCESS_KEY_ID":          "AKIAIOSFODNN7EXAMPLE",
		"BACKUP_S3_SECRET_ACCESS_KEY_FILE": secret,
	})
	if c.BackupInterval != 6*time.Hour || c.BackupKeep != 30 || c.BackupDir != "/var/lib/starsbot/backups" ||
		c.BackupS3AccessKeyID != "AKIAIOSFODNN7EXAMPLE" || c.BackupS3SecretAccessKey != "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" {
		t.Errorf("backup settings %+v", c)
	}
	loc, err := ParseS3URL(c.BackupS3URL)
	want := S3Location{Bucket: "shop-backups", Prefix: "starsbot/prod", Region: "eu-central-1", Endpoint: "https://s3.example.test", PathStyle: true}
	if err != nil || loc != want {
		t.Errorf("ParseS3URL = %+v, %v; want %+v", loc, err, want)
	}
	for _, s := range []string{c.String(), fmt.Sprintf("%#v", c)} {
		if strings.Contains(s, "EXAMPLEKEY") || strings.Contains(s, "AKIAIOSFODNN7EXAMPLE") {
			t.Errorf("credentials shown: %s", s)
		}
	}
	// The example recipient of age's README.
	const r1 = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
	if a := mustLoad(t, env{"BACKUP_AGE_RECIPIENT": r1 + ", " + r1}); len(a.BackupAgeRecipients) != 2 || a.BackupAgeRecipients[1] != r1 {
		t.Errorf("BACKUP_AGE_RECIPIENT: %q", a.BackupAgeRecipients)
	}
	if d := mustLoad(t, env{"BACKUP_DIR": "/backups"}); d.BackupDir != "/backups" || d.BackupInterval != 0 {
		t.Errorf("BACKUP_DIR: %+v", d)
	}
	// AWS itself: virtual-hosted style, region from the chain.
	if loc, err := ParseS3URL("s3://b-1.x"); err != nil || loc != (S3Location{Bucket: "b-1.x"}) {
		t.Errorf("bare bucket: %+v, %v", loc, err)
	}
	if loc, _ := ParseS3URL("s3://bkt/p?endpoint=http://127.0.0.1:9000&path_style=false"); loc.PathStyle {
		t.Error("path_style=false ignored")
	}
}

func TestLoad_BackupErrors(t *testing.T) {
	on := env{"BACKUP_INTERVAL": "1h"}
	for _, tc := range []struct {
		env     env
		wantVar string
	}{
		{env{"BACKUP_INTERVAL": "often"}, "BACKUP_INTERVAL"},
		{env{"BACKUP_INTERVAL": "30s"}, "BACKUP_INTERVAL"},
		{env{"BACKUP_INTERVAL": "-1h"}, "BACKUP_INTERVAL"},
		{env{"BACKUP_INTERVAL": "721h"}, "BACKUP_INTERVAL"},
		{env{"BACKUP_KEEP": "0"}, "BACKUP_KEEP"},
		{env{"BACKUP_KEEP": "1001"}, "BACKUP_KEEP"},
		{env{"BACKUP_KEEP": "seven"}, "BACKUP_KEEP"},
		{env{"BACKUP_S3_URL": "s3://bucket"}, "BACKUP_S3_URL"}, // without BACKUP_INTERVAL
		{on.with("BACKUP_S3_URL", "https://bucket.s3.amazonaws.com/x"), "BACKUP_S3_URL"},
		{on.with("BACKUP_S3_URL", "s3://AKIA:wJalrXUtnFEMI@bucket/x"), "BACKUP_S3_URL"},
		{on.with("BACKUP_S3_URL", "s3://Bad_Bucket/x"), "BACKUP_S3_URL"},
		{on.with("BACKUP_S3_URL", "s3://ab"), "BACKUP_S3_URL"},
		{on.with("BACKUP_S3_URL", "s3://bucket/a//b"), "BACKUP_S3_URL"},
		{on.with("BACKUP_S3_URL", "s3://bucket?endpoint=ftp://x"), "BACKUP_S3_URL"},
		{on.with("BACKUP_S3_URL", "s3://bucket?endpoint=https://u:wJalrXUtnFEMI@x"), "BACKUP_S3_URL"},
		{on.with("BACKUP_S3_URL", "s3://bucket?region=EU%20West"), "BACKUP_S3_URL"},
		{on.with("BACKUP_S3_URL", "s3://bucket?path_style=maybe"), "BACKUP_S3_URL"},
		{on.with("BACKUP_S3_URL", "s3://bucket?secret_key=wJalrXUtnFEMI"), "BACKUP_S3_URL"},
		{on.with("BACKUP_S3_URL", "s3://bucket", "BACKUP_S3_ACCESS_KEY_ID", "AKIA"), "BACKUP_S3_SECRET_ACCESS_KEY"},
		{on.with("BACKUP_S3_URL", "s3://bucket", "BACKUP_S3_SECRET_ACCESS_KEY", "wJalrXUtnFEMI"), "BACKUP_S3_ACCESS_KEY_ID"},
		{on.with("BACKUP_S3_ACCESS_KEY_ID", "AKIA", "BACKUP_S3_SECRET_ACCESS_KEY", "wJalrXUtnFEMI"), "BACKUP_S3_URL"},
		{env{"BACKUP_AGE_RECIPIENT": "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8"}, "BACKUP_AGE_RECIPIENT"},
		{env{"BACKUP_AGE_RECIPIENT": "AGE-SECRET-KEY-1QQQ"}, "BACKUP_AGE_RECIPIENT"},
		{env{"BACKUP_AGE_RECIPIENT": "ssh-ed25519 AAAA"}, "BACKUP_AGE_RECIPIENT"},
	} {
		_, err := Load(tc.env.get)
		checkValidationError(t, err, tc.wantVar, tc.env)
		if err != nil && (strings.Contains(err.Error(), "wJalrXUtnFEMI") || strings.Contains(err.Error(), "1QQQ")) {
			t.Errorf("%v echoes a secret", err)
		}
	}
}
