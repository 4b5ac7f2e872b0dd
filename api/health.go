package api

import (
	"context"
	"net/http"
	"slices"
	"time"

	"starsbot/shop"
)

// probeTimeout bounds each component's health probe.
const probeTimeout = 2 * time.Second

// healthJSON is GET /health.
type healthJSON struct {
	Status     string               `json:"status"` // worst component state: ok, degraded or down
	Time       string               `json:"time"`
	Components map[string]Component `json:"components"`
}

// health runs every probe and answers 200 unless a component is down (503).
// It needs no key and reveals only component states.
func (s *Server) health(w http.ResponseWriter, r *http.Request) error {
	names := make([]string, 0, len(s.Probes))
	for name := range s.Probes {
		names = append(names, name)
	}
	slices.Sort(names)
	h := healthJSON{Status: ComponentOK, Time: *timeJSON(s.Now()), Components: make(map[string]Component, len(names))}
	for _, name := range names {
		ctx, cancel := context.WithTimeout(r.Context(), probeTimeout)
		c := s.Probes[name](ctx)
		cancel()
		h.Components[name] = c
		switch {
		case c.Status == ComponentDown:
			h.Status = ComponentDown
		case c.Status == ComponentDegraded && h.Status == ComponentOK:
			h.Status = ComponentDegraded
		}
	}
	if h.Status == ComponentDown {
		writeJSON(w, http.StatusServiceUnavailable, errorEnvelope{ErrorCode: codeUnavailable, ErrorMessage: "a component is down", Data: h})
		return nil
	}
	return ok(w, h)
}

// codeUnavailable is /health's error code when a component is down.
const codeUnavailable = "SERVICE_UNAVAILABLE"

// StoreProbe reports the store as ok when a read transaction succeeds.
func StoreProbe(st shop.Store) Probe {
	return func(ctx context.Context) Component {
		if err := st.View(ctx, func(shop.Tx) error { return nil }); err != nil {
			return Component{Status: ComponentDown, Detail: "store read failed"}
		}
		return Component{Status: ComponentOK}
	}
}

// StaticProbe always reports c, for components whose state is fixed at
// start (a disabled bot, the sandbox chain).
func StaticProbe(c Component) Probe {
	return func(context.Context) Component { return c }
}
