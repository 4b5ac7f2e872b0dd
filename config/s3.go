package config

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// S3Location is BACKUP_S3_URL parsed.
type S3Location struct {
	Bucket    string
	Prefix    string // object key prefix, without leading or trailing slashes; may be empty
	Region    string // from ?region=; empty: the AWS SDK's chain, else us-east-1
	Endpoint  string // from ?endpoint=: an S3-compatible server; empty: AWS
	PathStyle bool   // from ?path_style=; default true with an endpoint, false without
}

// bucketRE is S3's bucket naming rule: 3-63 lowercase letters, digits,
// dots and hyphens, starting and ending with a letter or digit.
var (
	bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	regionRE = regexp.MustCompile(`^[a-z0-9-]{1,64}$`)
)

// ParseS3URL parses s3://bucket/prefix?region=…&endpoint=https://…&path_style=true.
// Credentials do not belong in it: they have their own variables. Errors
// never repeat a value's credentials.
func ParseS3URL(s string) (S3Location, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "s3" || u.Opaque != "" {
		return S3Location{}, fmt.Errorf("must be s3://bucket/prefix, optionally with ?region=…&endpoint=https://… (got %s)", quote(RedactURL(s)))
	}
	if u.User != nil {
		return S3Location{}, errors.New("must not carry credentials: set BACKUP_S3_ACCESS_KEY_ID and BACKUP_S3_SECRET_ACCESS_KEY")
	}
	if u.Fragment != "" {
		return S3Location{}, errors.New("must not have a #fragment")
	}
	loc := S3Location{Bucket: u.Host, Prefix: strings.Trim(u.Path, "/")}
	if !bucketRE.MatchString(loc.Bucket) || strings.Contains(loc.Bucket, "..") {
		return S3Location{}, fmt.Errorf("bucket must be 3-63 lowercase letters, digits, dots and hyphens (got %s)", quote(loc.Bucket))
	}
	if strings.Contains(loc.Prefix, "//") || strings.ContainsAny(loc.Prefix, "\\\x00") {
		return S3Location{}, fmt.Errorf("prefix must be path segments separated by single slashes (got %s)", quote(loc.Prefix))
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return S3Location{}, errors.New("has a malformed ?query")
	}
	pathStyle := ""
	for k, v := range q {
		if len(v) != 1 {
			return S3Location{}, fmt.Errorf("must set %s once", k)
		}
		switch k {
		case "region":
			if loc.Region = v[0]; !regionRE.MatchString(loc.Region) {
				return S3Location{}, fmt.Errorf("region must be a region name such as eu-central-1 (got %s)", quote(loc.Region))
			}
		case "endpoint":
			if problem := checkURL(v[0], true); problem != "" {
				return S3Location{}, errors.New("endpoint " + problem)
			}
			if e, _ := url.Parse(v[0]); e.User != nil {
				return S3Location{}, errors.New("endpoint must not carry credentials: set BACKUP_S3_ACCESS_KEY_ID and BACKUP_S3_SECRET_ACCESS_KEY")
			}
			loc.Endpoint = strings.TrimRight(v[0], "/")
		case "path_style":
			pathStyle = v[0]
		default:
			return S3Location{}, fmt.Errorf("unknown parameter %s (known: region, endpoint, path_style)", quote(k))
		}
	}
	loc.PathStyle = loc.Endpoint != ""
	if pathStyle != "" {
		b, err := strconv.ParseBool(pathStyle)
		if err != nil {
			return S3Location{}, fmt.Errorf("path_style must be true or false (got %s)", quote(pathStyle))
		}
		loc.PathStyle = b
	}
	return loc, nil
}
