package api_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"starsbot/api"
	"starsbot/shop"
)

// Client generators, pinned. A partner generates a client from the served
// document; these tests do the same and use it, so that a document a
// generator stops on, or that makes it read money as a float32, fails here.
const (
	oapiCodegenModule = "github.com/oapi-codegen/oapi-codegen/v2"
	oapiCodegenCmd    = oapiCodegenModule + "/cmd/oapi-codegen"
	oapiCodegenVer    = "v2.8.2"
	oapiRuntimeModule = "github.com/oapi-codegen/runtime"
	oapiRuntimeVer    = "v1.9.0" // what oapi-codegen v2.8.2's code is built with

	openapiTypeScript = "openapi-typescript@7.13.0"
	typeScript        = "typescript@5.9.3"
)

// offlineRE matches what the go command and npm print when a module or a
// package cannot be fetched: no network, no proxy, or fetching turned off.
var offlineRE = regexp.MustCompile(`dial tcp|lookup .* on |no such host|connection refused|network is unreachable|i/o timeout|TLS handshake timeout|` +
	`GOPROXY=off|GOFLAGS=-mod=vendor|module lookup disabled|cannot find module providing|` +
	`ENOTFOUND|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EAI_AGAIN|ENETUNREACH|request to https?://\S+ failed`)

// run runs name with args in dir and returns its combined output.
func run(t *testing.T, dir string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, env
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("%s %s: %s", filepath.Base(name), strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	return string(out), err
}

// fetch runs a step that downloads: when it fails for want of a network,
// the test is skipped, saying so; any other failure fails it.
func fetch(t *testing.T, what, dir string, env []string, name string, args ...string) {
	t.Helper()
	out, err := run(t, dir, env, name, args...)
	switch {
	case err == nil:
	case offlineRE.MatchString(out):
		t.Skipf("SKIP (offline): cannot fetch %s, so no client is generated and checked:\n%s", what, out)
	default:
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// mustRun runs a step that must succeed, and returns its output.
func mustRun(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	out, err := run(t, dir, env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// servedDocument is GET /api/v1/openapi.json from a running server.
func servedDocument(t *testing.T, h *harness) string {
	t.Helper()
	r := h.get("/api/v1/openapi.json", "")
	if r.status != 200 {
		t.Fatalf("GET /api/v1/openapi.json: %d", r.status)
	}
	return string(r.body)
}

// TestOpenAPI_GoClient generates a Go client from the served document with
// oapi-codegen (pinned, fetched through the module proxy), compiles it, and
// runs a test of its own against this server: the money fields are float64
// or exact strings (compile-time), and a real estimate, order, balance,
// ledger and simple buy decode to the exact amounts.
//
// Skipped, saying so, when the generator or its runtime cannot be fetched
// (offline), and with -short. About 3 s with warm caches; the first run
// downloads and builds the generator (about 30 s).
func TestOpenAPI_GoClient(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP (-short): generating a client with oapi-codegen")
	}
	t.Parallel()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("SKIP: no go command to run oapi-codegen with")
	}
	// No worker settles the simple buy: a short wait answers it as
	// delivered manually, which is all the client needs to read.
	h := newHarness(t, func(c *api.ServerConfig) { c.BuyWait = 100 * time.Millisecond })
	h.fund(alice, shop.TON)
	dir := t.TempDir()
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local", "CGO_ENABLED=0",
		"STARSBOT_URL="+h.ts.URL, "STARSBOT_OSK="+h.osk(alice), "STARSBOT_SK="+h.sk(alice))
	writeFiles(t, dir, map[string]string{
		"openapi.json":   servedDocument(t, h),
		"go.mod":         "module starsbot.example/client\n\ngo 1.24\n\nrequire " + oapiRuntimeModule + " " + oapiRuntimeVer + "\n",
		"client_test.go": goClientTest,
	})

	fetch(t, oapiCodegenModule+"@"+oapiCodegenVer, dir, env, goCmd, "mod", "download", oapiCodegenModule+"@"+oapiCodegenVer)
	// The generator is a module of its own: run it by version, outside
	// this module's requirements.
	mustRun(t, dir, env, goCmd, "run", oapiCodegenCmd+"@"+oapiCodegenVer,
		"-generate", "types,client", "-package", "client", "-o", "client.gen.go", "openapi.json")
	fetch(t, oapiRuntimeModule+"@"+oapiRuntimeVer+" and its requirements", dir, env, goCmd, "mod", "tidy")
	mustRun(t, dir, env, goCmd, "vet", "./...")
	if out := mustRun(t, dir, env, goCmd, "test", "-count=1", "-v", "-run", "^TestMoney$", "./..."); !strings.Contains(out, "--- PASS: TestMoney") {
		t.Fatalf("the generated client's TestMoney did not run:\n%s", out)
	}
}

// goClientTest is the generated client's own test, run against the
// harness's server.
const goClientTest = `package client

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
)

// Money is a float64 (format: double, never a float32) or an exact string.
var (
	_ float64          = Order{}.PriceTon
	_ string           = Order{}.PriceNanoton
	_ float64          = Estimate{}.PriceTon
	_ string           = Estimate{}.PriceNanoton
	_ float64          = Estimate{}.FeeTon
	_ string           = Estimate{}.FeeNanoton
	_ float64          = Estimate{}.PriceUsd
	_ float64          = Estimate{}.TonUsd
	_ float64          = Estimate{}.FeePercent
	_ float64          = Quote{}.PriceTon
	_ string           = Quote{}.PriceNanoton
	_ float64          = Balance{}.BalanceTon
	_ string           = Balance{}.BalanceNanoton
	_ float64          = LedgerEntry{}.AmountTon
	_ string           = LedgerEntry{}.AmountNanoton
	_ float64          = LedgerEntry{}.BalanceAfterTon
	_ string           = LedgerEntry{}.BalanceAfterNanoton
	_ float64          = Stats{}.TotalSpentTon
	_ string           = Stats{}.TotalSpentNanoton
	_ float64          = SimpleBalance{}.BalanceTon
	_ float64          = Fee{}.UsdPerStar
	_ float64          = Rate{}.TonUsd
	_ *SimpleBuyResult = SimpleBuyResponse{}.JSON200
)

func newClient(t *testing.T, key string) *ClientWithResponses {
	t.Helper()
	c, err := NewClientWithResponses(os.Getenv("STARSBOT_URL"), WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+key)
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMoney(t *testing.T) {
	ctx := context.Background()
	orders := newClient(t, os.Getenv("STARSBOT_OSK"))

	est, err := orders.EstimateStarsWithResponse(ctx, &EstimateStarsParams{Quantity: 100})
	if err != nil || est.JSON200 == nil {
		t.Fatalf("estimate: %v %s", err, est.Body)
	}
	if d := est.JSON200.Data; d.PriceTon != 0.418 || d.PriceNanoton != "418000000" || d.FeeNanoton != "0" {
		t.Errorf("estimate: price_ton %v, price_nanoton %q, fee_nanoton %q", d.PriceTon, d.PriceNanoton, d.FeeNanoton)
	}

	key, method := "codegen-1", CreateStarsRequestPaymentMethod("balance")
	o, err := orders.CreateStarsOrderWithResponse(ctx, &CreateStarsOrderParams{IdempotencyKey: &key},
		CreateStarsOrderJSONRequestBody{RecipientUsername: "pandus", Quantity: 100, PaymentMethod: &method})
	if err != nil || o.JSON200 == nil {
		t.Fatalf("order: %v %s", err, o.Body)
	}
	if d := o.JSON200.Data; d.PriceTon != 0.418 || d.PriceNanoton != "418000000" || d.Status != "paid" {
		t.Errorf("order: %+v", d)
	}

	b, err := orders.GetBalanceWithResponse(ctx)
	if err != nil || b.JSON200 == nil {
		t.Fatalf("balance: %v %s", err, b.Body)
	}
	if env, err := b.JSON200.AsBalanceEnvelope(); err != nil || env.Data.BalanceTon != 0.582 || env.Data.BalanceNanoton != "582000000" {
		t.Errorf("balance: %+v, %v", env, err)
	}

	l, err := orders.ListBalanceTransactionsWithResponse(ctx, &ListBalanceTransactionsParams{})
	if err != nil || l.JSON200 == nil || len(l.JSON200.Data.Transactions) != 2 {
		t.Fatalf("transactions: %v %s", err, l.Body)
	}
	if e := l.JSON200.Data.Transactions[0]; e.AmountTon != -0.418 || e.AmountNanoton != "-418000000" || e.BalanceAfterNanoton != "582000000" {
		t.Errorf("newest entry: %+v", e)
	}

	simple := newClient(t, os.Getenv("STARSBOT_SK"))
	sb, err := simple.SimpleBuyWithResponse(ctx, &SimpleBuyParams{}, SimpleBuyJSONRequestBody{AmountStars: 100})
	if err != nil || sb.JSON200 == nil || !strings.HasPrefix(sb.JSON200.OrderId, "api_buy_") {
		t.Fatalf("simple buy: %v %s", err, sb.Body)
	}
	sbal, err := simple.GetBalanceWithResponse(ctx)
	if err != nil || sbal.JSON200 == nil {
		t.Fatalf("simple balance: %v %s", err, sbal.Body)
	}
	if v, err := sbal.JSON200.AsSimpleBalance(); err != nil || v.BalanceTon != 0.164 {
		t.Errorf("simple balance: %+v, %v", v, err)
	}

	// The sandbox deposit's amount is a string or a number.
	var amount SandboxDepositRequest_AmountTon
	if err := amount.FromSandboxDepositRequestAmountTon0("1.5"); err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(SandboxDepositRequest{AmountTon: &amount})
	if err != nil || !strings.Contains(string(body), ` + "`" + `"amount_ton":"1.5"` + "`" + `) {
		t.Errorf("sandbox deposit body %s, %v", body, err)
	}
}
`

// TestOpenAPI_TypeScript generates TypeScript types from the served document
// with openapi-typescript (pinned, from the npm registry) and type-checks
// them with tsc --strict, with checks that money is a number or a string.
//
// Skipped, saying so, without node and npm or when the packages cannot be
// fetched (offline), and with -short. About 10 s (npm install of both
// packages: 44 MB, mostly typescript).
func TestOpenAPI_TypeScript(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP (-short): generating TypeScript with openapi-typescript")
	}
	t.Parallel()
	npm, errNPM := exec.LookPath("npm")
	_, errNode := exec.LookPath("node")
	if err := errors.Join(errNPM, errNode); err != nil {
		t.Skipf("SKIP: no node and npm to run openapi-typescript with: %v", err)
	}
	h := newHarness(t)
	dir := t.TempDir()
	// Few and short retries: offline, npm's defaults wait minutes.
	env := append(os.Environ(), "npm_config_update_notifier=false", "npm_config_fund=false", "npm_config_audit=false",
		"npm_config_fetch_retries=1", "npm_config_fetch_retry_mintimeout=1000", "npm_config_fetch_retry_maxtimeout=5000", "npm_config_fetch_timeout=60000")
	writeFiles(t, dir, map[string]string{
		"openapi.json": servedDocument(t, h),
		"package.json": `{"private": true}` + "\n",
		"check.ts":     tsCheck,
	})
	fetch(t, openapiTypeScript+" and "+typeScript, dir, env, npm, "install", "--ignore-scripts", "--no-package-lock", "--loglevel=error", openapiTypeScript, typeScript)
	bin := filepath.Join(dir, "node_modules", ".bin")
	mustRun(t, dir, env, filepath.Join(bin, "openapi-typescript"), "openapi.json", "-o", "schema.d.ts")
	mustRun(t, dir, env, filepath.Join(bin, "tsc"), "--noEmit", "--strict", "--target", "es2020", "--module", "es2020", "--moduleResolution", "bundler", "check.ts")
}

// tsCheck type-checks the generated schema: money fields are numbers
// (the *_ton and USD amounts) or strings (the *_nanoton twins).
const tsCheck = `import type { components } from "./schema";
type S = components["schemas"];
type Is<T, U> = [T] extends [U] ? ([U] extends [T] ? true : false) : false;
export const money: [
  Is<S["Order"]["price_ton"], number>,
  Is<S["Order"]["price_nanoton"], string>,
  Is<S["Estimate"]["fee_nanoton"], string>,
  Is<S["Quote"]["price_nanoton"], string>,
  Is<S["Balance"]["balance_ton"], number>,
  Is<S["Balance"]["balance_nanoton"], string>,
  Is<S["LedgerEntry"]["amount_nanoton"], string>,
  Is<S["Stats"]["total_spent_nanoton"], string>,
  Is<S["SimpleBalance"]["balance_ton"], number>,
  Is<NonNullable<S["SandboxDepositRequest"]["amount_ton"]>, string | number>,
] = [true, true, true, true, true, true, true, true, true, true];
export const exact = (o: S["Order"]): bigint => BigInt(o.price_nanoton);
`
