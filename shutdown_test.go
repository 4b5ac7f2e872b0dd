package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"starsbot/api"
	"starsbot/bot"
	"starsbot/fulfillment"
)

// dockerStopTimeout is how long `docker stop` waits after SIGTERM before
// SIGKILL, by default.
const dockerStopTimeout = 10 * time.Second

// TestShutdown_WithinDockerStopTimeout: every component's shutdown grace
// (they run at once) ends, with room to close the store, before Docker's
// default stop timeout kills the process; the Dockerfile and README say so.
func TestShutdown_WithinDockerStopTimeout(t *testing.T) {
	graces := map[string]time.Duration{
		"fulfillment.DefaultGrace": fulfillment.DefaultGrace,
		"bot.DefaultShutdownGrace": bot.DefaultShutdownGrace,
		"api.ShutdownTimeout":      api.ShutdownTimeout,
	}
	for name, d := range graces {
		if d > dockerStopTimeout-2*time.Second {
			t.Errorf("%s = %s: longer than Docker's default stop timeout (%s) less 2s to close the store", name, d, dockerStopTimeout)
		}
	}
	for _, file := range []string{"Dockerfile", "README.md"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "--stop-timeout") {
			t.Errorf("%s does not say how the shutdown grace relates to docker's --stop-timeout", file)
		}
	}
}
