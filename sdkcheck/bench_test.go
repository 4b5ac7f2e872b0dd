package sdkcheck_test

import (
	"io"
	"net/http"
	"strconv"
	"testing"

	"starsbot/api"
	"starsbot/sdk"
)

// BenchmarkGetOrder measures the SDK's cost over the same request made by
// hand (net/http, the body read and left undecoded), on the real server.
func BenchmarkGetOrder(b *testing.B) {
	e := newEnv(b, func(c *api.ServerConfig) { c.RateLimit, c.RateBurst = 1e9, 1e9 }) // the server's clock stands still
	c := e.client(e.osk(alice), &faults{}, &sleeper{}, nil)
	o, err := c.CreateStarsOrder(ctx, sdk.StarsOrderRequest{Recipient: "pandus", Quantity: 100})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Raw", func(b *testing.B) {
		hc := e.ts.Client()
		url := e.ts.URL + "/api/v1/orders/" + strconv.FormatInt(o.ID, 10)
		for b.Loop() {
			req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
			req.Header.Set("Authorization", "Bearer "+e.osk(alice))
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatal(resp.Status)
			}
		}
	})
	b.Run("SDK", func(b *testing.B) {
		for b.Loop() {
			if _, err := c.GetOrder(ctx, o.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
}
