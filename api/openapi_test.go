package api

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"starsbot/shop"
)

// stubChain is a SandboxChain that accepts every deposit, so that routes()
// includes POST /sandbox/v1/deposits.
type stubChain struct{}

func (stubChain) Deposit(ctx context.Context, memo string, amount shop.NanoTON, txHash string) (string, error) {
	return txHash, nil
}

// openAPIMethods are the operation keys of an OpenAPI path item that the
// server could serve.
var openAPIMethods = []string{"get", "post", "put", "patch", "delete"}

// parseOpenAPI decodes the embedded document.
func parseOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatalf("openapi.json does not parse: %v", err)
	}
	return doc
}

// openAPIOperation is one operation of the document.
type openAPIOperation struct {
	key  string         // "GET /api/v1/orders"
	path string         // "/api/v1/orders"
	item map[string]any // the path item
	op   map[string]any // the operation
}

// openAPIOperations lists the document's operations in a stable order.
func openAPIOperations(t *testing.T, doc map[string]any) []openAPIOperation {
	t.Helper()
	paths, ok := doc["paths"].(map[string]any)
	if !ok {
		t.Fatal("openapi.json has no paths object")
	}
	var ops []openAPIOperation
	for path, v := range paths {
		item, ok := v.(map[string]any)
		if !ok {
			t.Errorf("path %s is not an object", path)
			continue
		}
		for _, m := range openAPIMethods {
			if v, found := item[m]; found {
				op, ok := v.(map[string]any)
				if !ok {
					t.Errorf("%s %s is not an object", strings.ToUpper(m), path)
					continue
				}
				ops = append(ops, openAPIOperation{key: strings.ToUpper(m) + " " + path, path: path, item: item, op: op})
			}
		}
	}
	slices.SortFunc(ops, func(a, b openAPIOperation) int { return strings.Compare(a.key, b.key) })
	return ops
}

func TestOpenAPI_MatchesRoutes(t *testing.T) {
	s := &Server{ServerConfig: ServerConfig{Sandbox: stubChain{}, Metrics: NewMetrics()}}
	doc := parseOpenAPI(t)
	global, _ := doc["security"].([]any)

	served := map[string]route{}
	for _, rt := range s.routes() {
		served[rt.Method+" "+rt.Path] = rt
	}
	documented := map[string]openAPIOperation{}
	for _, o := range openAPIOperations(t, doc) {
		documented[o.key] = o
	}

	var missingFromDoc, missingFromServer []string
	for key := range served {
		if _, ok := documented[key]; !ok {
			missingFromDoc = append(missingFromDoc, key)
		}
	}
	for key := range documented {
		if _, ok := served[key]; !ok {
			missingFromServer = append(missingFromServer, key)
		}
	}
	slices.Sort(missingFromDoc)
	slices.Sort(missingFromServer)
	for _, key := range missingFromDoc {
		t.Errorf("route %s is served but not in openapi.json", key)
	}
	for _, key := range missingFromServer {
		t.Errorf("openapi.json documents %s, which the server does not serve", key)
	}

	// Public routes, and only they, need no key.
	for key, rt := range served {
		o, ok := documented[key]
		if !ok {
			continue
		}
		security := global
		if v, found := o.op["security"]; found {
			security, _ = v.([]any)
		}
		if open := len(security) == 0; open != (rt.Access == public) {
			t.Errorf("%s: security %v in openapi.json, but the route is public=%v", key, security, rt.Access == public)
		}
	}
}

func TestOpenAPI_Document(t *testing.T) {
	doc := parseOpenAPI(t)
	if v := doc["openapi"]; v != "3.1.0" {
		t.Errorf(`"openapi" is %v, want "3.1.0"`, v)
	}

	// Every $ref anywhere resolves.
	var walk func(node any, at string)
	walk = func(node any, at string) {
		switch n := node.(type) {
		case map[string]any:
			if ref, found := n["$ref"]; found {
				s, ok := ref.(string)
				if !ok {
					t.Errorf("%s: $ref is not a string", at)
				} else if _, err := resolveRef(doc, s); err != "" {
					t.Errorf("%s: $ref %q: %s", at, s, err)
				}
			}
			for k, v := range n {
				walk(v, at+"/"+k)
			}
		case []any:
			for i, v := range n {
				walk(v, at+"/"+strconv.Itoa(i))
			}
		}
	}
	walk(doc, "#")

	ids := map[string]string{}
	paramRE := regexp.MustCompile(`\{([^}/]+)\}`)
	for _, o := range openAPIOperations(t, doc) {
		// A unique operationId.
		id, _ := o.op["operationId"].(string)
		switch {
		case id == "":
			t.Errorf("%s has no operationId", o.key)
		case ids[id] != "":
			t.Errorf("%s and %s share operationId %q", ids[id], o.key, id)
		default:
			ids[id] = o.key
		}

		// A 2xx response with an example.
		responses, _ := o.op["responses"].(map[string]any)
		var has2xx, hasExample bool
		for code, r := range responses {
			if !strings.HasPrefix(code, "2") {
				continue
			}
			has2xx = true
			if responseHasExample(doc, r) {
				hasExample = true
			}
		}
		switch {
		case !has2xx:
			t.Errorf("%s has no 2xx response", o.key)
		case !hasExample:
			t.Errorf("%s has no 2xx response with an example", o.key)
		}

		// Path template parameters and declared path parameters agree.
		want := map[string]bool{}
		for _, m := range paramRE.FindAllStringSubmatch(o.path, -1) {
			want[m[1]] = true
		}
		got := map[string]bool{}
		for _, list := range []any{o.item["parameters"], o.op["parameters"]} {
			params, _ := list.([]any)
			for _, p := range params {
				p = deref(doc, p)
				pm, _ := p.(map[string]any)
				if pm["in"] == "path" {
					name, _ := pm["name"].(string)
					got[name] = true
					if pm["required"] != true {
						t.Errorf("%s: path parameter %s is not required", o.key, name)
					}
				}
			}
		}
		for name := range want {
			if !got[name] {
				t.Errorf("%s: path parameter {%s} is not declared", o.key, name)
			}
		}
		for name := range got {
			if !want[name] {
				t.Errorf("%s: declares path parameter %s, which is not in the path", o.key, name)
			}
		}
	}
}

// responseHasExample reports whether a response (or the one its $ref names)
// has a media type with an example or a non-empty examples map.
func responseHasExample(doc map[string]any, r any) bool {
	rm, _ := deref(doc, r).(map[string]any)
	content, _ := rm["content"].(map[string]any)
	for _, m := range content {
		mt, _ := m.(map[string]any)
		if _, found := mt["example"]; found {
			return true
		}
		if ex, _ := mt["examples"].(map[string]any); len(ex) > 0 {
			return true
		}
	}
	return false
}

// deref follows $ref until node is not a reference; an unresolvable one
// gives nil (the $ref walk reports it).
func deref(doc map[string]any, node any) any {
	for range 32 {
		m, ok := node.(map[string]any)
		if !ok {
			return node
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return node
		}
		next, err := resolveRef(doc, ref)
		if err != "" {
			return nil
		}
		node = next
	}
	return nil
}

// resolveRef resolves a local JSON pointer reference ("#/components/...")
// in doc. It returns a non-empty reason when it cannot.
func resolveRef(doc map[string]any, ref string) (any, string) {
	frag, ok := strings.CutPrefix(ref, "#")
	if !ok {
		return nil, "not a local reference"
	}
	frag, err := url.PathUnescape(frag)
	if err != nil {
		return nil, "bad escape"
	}
	if frag == "" {
		return doc, ""
	}
	if !strings.HasPrefix(frag, "/") {
		return nil, "not a JSON pointer"
	}
	var node any = doc
	for _, tok := range strings.Split(frag[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch n := node.(type) {
		case map[string]any:
			v, found := n[tok]
			if !found {
				return nil, "no " + strconv.Quote(tok)
			}
			node = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(n) {
				return nil, "no index " + strconv.Quote(tok)
			}
			node = n[i]
		default:
			return nil, "cannot descend into " + strconv.Quote(tok)
		}
	}
	return node, ""
}

func TestOpenAPI_Served(t *testing.T) {
	// Public routes call no Shop method: one that only accepts subscribers
	// is enough.
	s, err := NewServer(ServerConfig{Shop: subscribeOnly{}})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/api/v1/openapi.json", nil)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)

	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, want 200; body %s", rec.Code, rec.Body.Bytes())
	}
	ct := rec.Header().Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if !bytes.Equal(rec.Body.Bytes(), openAPIDoc) {
		t.Errorf("body (%d bytes) differs from the embedded openapi.json (%d bytes)", rec.Body.Len(), len(openAPIDoc))
	}
}

// subscribeOnly is a Shop whose only working method is Subscribe.
type subscribeOnly struct{ Shop }

func (subscribeOnly) Subscribe(func(shop.Event)) {}

// TestOpenAPI_Money checks how the document types money, the rules that
// keep generated clients exact (TestOpenAPI_GoClient and
// TestOpenAPI_TypeScript generate them; this runs offline too):
//   - every number has format double, so that no generator reads a float32;
//   - every `X_ton` amount of the orders dialect has its `X_nanoton` twin,
//     an exact integer string, required alike; the simple dialect has none;
//   - no type list (`type: [number, string]`) but the nullable `[T, "null"]`,
//     and no schema named as oapi-codegen names an operation's own types;
//   - the orders dialect's examples show each twin equal to its amount.
func TestOpenAPI_Money(t *testing.T) {
	doc := parseOpenAPI(t)
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)

	var walk func(node any, at string)
	walk = func(node any, at string) {
		switch n := node.(type) {
		case map[string]any:
			switch typ := n["type"].(type) {
			case string:
				if typ == "number" && n["format"] != "double" {
					t.Errorf("%s: a number without format double (generators read float32)", at)
				}
			case []any:
				if len(typ) != 2 || !slices.Contains(typ, any("null")) || slices.Contains(typ, any("number")) {
					t.Errorf("%s: type %v: only [T, \"null\"] (and never for a number) generates cleanly", at, typ)
				}
			}
			for k, v := range n {
				if k != "example" && k != "examples" {
					walk(v, at+"/"+k)
				}
			}
		case []any:
			for i, v := range n {
				walk(v, at+"/"+strconv.Itoa(i))
			}
		}
	}
	walk(doc, "#")

	twin := map[string]string{"#/components/schemas/TON": "#/components/schemas/NanoTON", "#/components/schemas/SignedTON": "#/components/schemas/SignedNanoTON"}
	for name, v := range schemas {
		props, _ := v.(map[string]any)["properties"].(map[string]any)
		required, _ := v.(map[string]any)["required"].([]any)
		simple := strings.HasPrefix(name, "Simple") || strings.HasSuffix(name, "Request")
		for prop, p := range props {
			ref, _ := p.(map[string]any)["$ref"].(string)
			if base, ok := strings.CutSuffix(prop, "_nanoton"); ok {
				if simple {
					t.Errorf("%s.%s: the simple dialect and requests have no twins", name, prop)
				} else if _, has := props[base+"_ton"]; !has {
					t.Errorf("%s.%s without %s_ton", name, prop, base)
				}
				continue
			}
			base, ok := strings.CutSuffix(prop, "_ton")
			if !ok || simple || twin[ref] == "" {
				continue
			}
			tp, has := props[base+"_nanoton"].(map[string]any)
			if !has || tp["$ref"] != twin[ref] {
				t.Errorf("%s.%s (%s) has no %s_nanoton twin of %s", name, prop, ref, base, twin[ref])
			}
			if slices.Contains(required, any(prop)) != slices.Contains(required, any(base+"_nanoton")) {
				t.Errorf("%s.%s and %s_nanoton are not required alike", name, prop, base)
			}
		}
	}

	for _, o := range openAPIOperations(t, doc) {
		id, _ := o.op["operationId"].(string)
		if id == "" {
			continue
		}
		id = strings.ToUpper(id[:1]) + id[1:]
		for _, generated := range []string{"Response", "Params", "JSONBody", "JSONRequestBody", "RequestBody"} {
			if _, clash := schemas[id+generated]; clash {
				t.Errorf("schema %s%s has the name oapi-codegen gives %s's own type", id, generated, o.key)
			}
		}
		responses, _ := o.op["responses"].(map[string]any)
		for code, r := range responses {
			rm, _ := deref(doc, r).(map[string]any)
			content, _ := rm["content"].(map[string]any)
			for _, m := range content {
				mt, _ := m.(map[string]any)
				var examples []any
				if ex, found := mt["example"]; found {
					examples = append(examples, ex)
				}
				for name, ex := range mapOrNil(mt["examples"]) {
					if name != "simple" {
						examples = append(examples, mapOrNil(ex)["value"])
					}
				}
				for _, ex := range examples {
					if env := mapOrNil(ex); env["ok"] == true {
						checkExampleTwins(t, o.key+" "+code, env["data"])
					}
				}
			}
		}
	}
}

func mapOrNil(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// checkExampleTwins checks that each `X_ton` number of an example has an
// `X_nanoton` string of the same amount.
func checkExampleTwins(t *testing.T, at string, v any) {
	t.Helper()
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			checkExampleTwins(t, at, e)
		}
	case map[string]any:
		for k, e := range v {
			base, isTON := strings.CutSuffix(k, "_ton")
			f, isNum := e.(float64)
			if !isTON || !isNum {
				checkExampleTwins(t, at, e)
				continue
			}
			s, _ := v[base+"_nanoton"].(string)
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || float64(n) != math.Round(f*1e9) {
				t.Errorf("%s example: %s %v, %s_nanoton %q", at, k, f, base, s)
			}
		}
	}
}
