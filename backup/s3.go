package backup

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3Config is where backups are uploaded: BACKUP_S3_URL as config parsed
// it, and the credentials.
type S3Config struct {
	Bucket    string
	Prefix    string // key prefix without leading or trailing slash; may be empty
	Region    string // empty: the AWS chain's (AWS_REGION), else us-east-1
	Endpoint  string // empty: AWS; else an S3-compatible server's base URL
	PathStyle bool   // bucket in the path (most S3-compatible servers) rather than in the host name

	// AccessKeyID and SecretAccessKey, when both set, are the credentials;
	// when both empty, the AWS SDK's default chain finds them
	// (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, shared files, an instance
	// role). Never logged.
	AccessKeyID     string
	SecretAccessKey string

	HTTPClient *http.Client // optional
}

// S3 uploads backups with the AWS SDK's S3 client (PutObject; one request
// holds up to 5 GB). It never deletes: retention in the bucket is its
// lifecycle rules' business, so credentials that may only put objects
// suffice, and a stolen server cannot erase the off-site copies.
type S3 struct {
	client *s3.Client
	cfg    S3Config
}

var _ Uploader = (*S3)(nil)

// NewS3 makes the uploader. It does not contact the server.
func NewS3(ctx context.Context, c S3Config) (*S3, error) {
	if c.Bucket == "" {
		return nil, errors.New("backup: S3 bucket missing")
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		return nil, errors.New("backup: S3 access key id and secret access key must be set together")
	}
	var acfg aws.Config
	if c.AccessKeyID != "" {
		acfg = aws.Config{
			Region:      c.Region,
			Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")),
		}
	} else {
		var opts []func(*awsconfig.LoadOptions) error
		if c.Region != "" {
			opts = append(opts, awsconfig.WithRegion(c.Region))
		}
		var err error
		if acfg, err = awsconfig.LoadDefaultConfig(ctx, opts...); err != nil {
			return nil, fmt.Errorf("backup: AWS configuration: %w", err)
		}
	}
	if acfg.Region == "" {
		acfg.Region = "us-east-1"
	}
	if c.HTTPClient != nil {
		acfg.HTTPClient = c.HTTPClient
	}
	client := s3.NewFromConfig(acfg, func(o *s3.Options) {
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
			// Several S3-compatible servers refuse the SDK's newer
			// default integrity headers (x-amz-checksum-*, aws-chunked
			// trailers); the backup carries its own SHA-256 anyway.
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
		o.UsePathStyle = c.PathStyle
	})
	return &S3{client: client, cfg: c}, nil
}

// Key is the object key of a backup file name.
func (u *S3) Key(name string) string {
	if u.cfg.Prefix == "" {
		return name
	}
	return path.Join(u.cfg.Prefix, name)
}

// String is s3://bucket/prefix (and the endpoint), without credentials.
func (u *S3) String() string {
	s := "s3://" + path.Join(u.cfg.Bucket, u.cfg.Prefix)
	if u.cfg.Endpoint != "" {
		s += " at " + u.cfg.Endpoint
	}
	return s
}

// Upload puts the file as one object, with its database SHA-256 as
// metadata.
func (u *S3) Upload(ctx context.Context, name, file string, r Result) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	key := u.Key(name)
	_, err = u.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(u.cfg.Bucket),
		Key:           aws.String(key),
		Body:          f,
		ContentLength: aws.Int64(r.Compressed),
		ContentType:   aws.String("application/zstd"),
		Metadata:      map[string]string{"db-sha256": r.SHA256, "db-size": fmt.Sprint(r.Size)},
	})
	if err != nil {
		return "", fmt.Errorf("put s3://%s/%s: %w", u.cfg.Bucket, key, err)
	}
	return "s3://" + u.cfg.Bucket + "/" + key, nil
}
