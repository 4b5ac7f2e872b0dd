package api_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"starsbot/api"
)

// A mounted handler (the Telegram webhook) is served at its exact path on
// the API's server, outside the API's routes and keys; the API's own
// paths stay the API's, and a mount there is refused.
func TestMounts(t *testing.T) {
	h := newHarness(t, func(c *api.ServerConfig) {
		c.Mounts = map[string]http.Handler{"/tg/hook": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "hook "+r.Method)
		})}
	})
	resp, err := http.Post(h.ts.URL+"/tg/hook", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(b) != "hook POST" {
		t.Errorf("mounted handler: %d %q", resp.StatusCode, b)
	}
	if resp, err := http.Get(h.ts.URL + "/tg/hook/x"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("a path below the mount: %v %v, want the API's 404", resp, err)
	}
	if resp, err := http.Get(h.ts.URL + "/api/v1/health"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("health with a mount: %v %v", resp, err)
	}
	for _, path := range []string{"/api/v1/health", "/api/x", "/sandbox/v1/deposits", "/metrics", "/", "relative"} {
		_, err := api.NewServer(api.ServerConfig{Shop: h.svc, Mounts: map[string]http.Handler{path: http.NotFoundHandler()}})
		if err == nil {
			t.Errorf("mount at %q accepted", path)
		}
	}
}
