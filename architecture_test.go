package main

import (
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// importRules is the table of ARCHITECTURE.md: for each package of this
// module, the non-standard imports it may have (a prefix matches a module
// and its packages). The root package (main) may import anything.
var importRules = map[string][]string{
	"shop":                     {},
	"shop/shoptest":            {"starsbot/shop", "starsbot/store", "starsbot/pgstore"},
	"store":                    {"starsbot/shop", "go.etcd.io/bbolt"},
	"store/storetest":          {"starsbot/store", "starsbot/shop", "go.etcd.io/bbolt"},
	"store/storecontract":      {"starsbot/shop"},
	"pgstore":                  {"starsbot/shop", "github.com/jackc/pgx/v5", "github.com/pressly/goose/v3"},
	"pgstore/pgtest":           {"starsbot/pgstore", "starsbot/shop", "github.com/jackc/pgx/v5"},
	"api":                      {"starsbot/shop", "github.com/prometheus/", "golang.org/x/time/rate"},
	"bot":                      {"starsbot/shop", "gopkg.in/telebot.v3", "github.com/skip2/go-qrcode", "golang.org/x/time/rate"},
	"bot/bottest":              {"starsbot/bot", "starsbot/shop"},
	"ton":                      {"starsbot/shop", "github.com/xssnick/tonutils-go/"},
	"ton/tontest":              {"starsbot/ton", "starsbot/shop", "github.com/xssnick/tonutils-go/"},
	"ton/tontest/walletchain":  {"github.com/xssnick/tonutils-go/"}, // a liteserver fake ton's own tests use: it cannot import ton
	"fulfillment":              {"starsbot/shop", "github.com/xssnick/tonutils-go/address", "github.com/xssnick/tonutils-go/tvm/cell"},
	"fulfillment/fragmenttest": {"starsbot/fulfillment", "starsbot/shop", "github.com/xssnick/tonutils-go/"},
	"rate":                     {"starsbot/shop"},
	"webhook":                  {"starsbot/shop"},
	"config":                   {"starsbot/shop"},
	"backup":                   {"github.com/klauspost/compress/zstd", "github.com/aws/aws-sdk-go-v2/"},
	"sdk":                      {}, // its own module (sdk/go.mod): partners import it, so the standard library only
	"sdkcheck":                 {}, // test files only (they import sdk, api, shop, shoptest)
}

// TestArchitecture_Imports keeps ARCHITECTURE.md true: every package's
// non-test imports are within its row, and every package has a row.
func TestArchitecture_Imports(t *testing.T) {
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if name := d.Name(); path != "." && (strings.HasPrefix(name, ".") || name == "testdata") {
			return filepath.SkipDir
		}
		pkg, err := build.ImportDir(path, 0)
		if _, none := err.(*build.NoGoError); none {
			return nil
		}
		if err != nil {
			return err
		}
		if path == "." {
			return nil // main wires everything
		}
		allowed, ok := importRules[filepath.ToSlash(path)]
		if !ok {
			t.Errorf("package %s has no row in ARCHITECTURE.md's import table (importRules)", path)
			return nil
		}
		for _, imp := range pkg.Imports {
			if !strings.Contains(strings.Split(imp, "/")[0], ".") && !strings.HasPrefix(imp, "starsbot") {
				continue // standard library
			}
			if !slices.ContainsFunc(allowed, func(a string) bool {
				return imp == a || strings.HasSuffix(a, "/") && strings.HasPrefix(imp, a) || strings.HasPrefix(imp, a+"/")
			}) {
				t.Errorf("package %s imports %s, which ARCHITECTURE.md does not allow", path, imp)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("ARCHITECTURE.md"); err != nil {
		t.Error(err)
	}
}
