package fulfillment

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"starsbot/fulfillment/fragmenttest"
	"starsbot/shop"
)

// TestWorker_FragmentPool: with several sessions, orders are prepared in
// every session at once, each session's state update + init pairs never
// meet (the fake refuses an init whose session's state another init used:
// "Price was changed"), and the payments of all sessions share batches.
func TestWorker_FragmentPool(t *testing.T) {
	for _, sessions := range []int{2, 4} {
		t.Run(fmt.Sprint(sessions, " sessions"), func(t *testing.T) {
			e := newBatchEnv(t, 255)
			e.useSessions(sessions)
			orders := e.orders(24)
			var sizes []int
			e.runOnce(e.worker(8, &sizes))
			e.requireEachPaidOnce(orders)
			if got := e.srv.Calls("initBuyStarsRequest"); got != len(orders) {
				t.Errorf("%d init calls for %d orders: some pair met another in one session", got, len(orders))
			}
			perLogin := map[int]int{}
			for _, r := range e.srv.Requests() {
				perLogin[r.Login]++
			}
			if len(perLogin) != sessions {
				t.Errorf("requests per login %v, want every one of %d sessions used", perLogin, sessions)
			}
			if len(sizes) >= len(orders) {
				t.Errorf("batches %v: the sessions' payments were not batched together", sizes)
			}
		})
	}
}

// TestWorker_FragmentPoolLostLogin: when Fragment drops one session's
// login while another works, the order is prepared again in the other
// session and delivered, the worker does not pause, and the admins are told
// which line of FRAGMENT_COOKIES to renew; /stats' notice names it.
func TestWorker_FragmentPoolLostLogin(t *testing.T) {
	e := newBatchEnv(t, 255)
	e.useSessions(2)
	orders := e.orders(3)
	e.srv.ExpireLogin() // the first login, which the first order goes to
	w := e.worker(1, nil)
	e.runOnce(w)
	e.requireEachPaidOnce(orders)
	for _, r := range e.srv.Requests() {
		if r.Login != 2 {
			t.Errorf("request %s made by login %d, which is gone", r.ID, r.Login)
		}
	}
	if ok, reason := w.Health(); !ok {
		t.Errorf("worker paused: %s", reason)
	}
	var down []string
	for _, a := range e.alerts.alerts {
		switch a.Kind {
		case shop.AlertSessionDown:
			down = append(down, a.Message)
		case shop.AlertProviderUnhealthy:
			t.Errorf("provider alert while a session works: %s", a.Message)
		}
		if strings.Contains(a.Message, fragmenttest.Token) || strings.Contains(a.Message, "SECRET") {
			t.Errorf("alert shows a cookie: %q", a.Message)
		}
	}
	if len(down) != 1 || !strings.Contains(down[0], "Fragment session 1 of 2 (line 1 of FRAGMENT_COOKIES)") || !strings.Contains(down[0], "Left out for 15m0s") {
		t.Errorf("session-down alerts %q, want one naming session 1", down)
	}
	if n := e.pool.Notice(); !strings.Contains(n, "Fragment session 1 of 2 is left out until") {
		t.Errorf("notice %q does not name the session left out", n)
	}
	// After the time out, the session is tried again.
	e.now = e.now.Add(fragmentSessionDownFor)
	if _, i, release := e.pool.acquire(&Job{Delivery: &shop.Delivery{}}); i != 0 {
		t.Errorf("after the time out: session %d, want the first again", i+1)
	} else {
		release()
	}
}

// TestWorker_FragmentPoolAllLoginsLost: with no session working, the
// order goes to an admin and the provider pauses, as with one session,
// the alert naming a session; nothing is paid.
func TestWorker_FragmentPoolAllLoginsLost(t *testing.T) {
	e := newBatchEnv(t, 255)
	e.useSessions(2)
	// The second login's token is refused too ("Access denied", as for
	// the first after ExpireLogin).
	e.sessions[1] = strings.Replace(e.sessions[1], "stel_token=fake-token-SECRET-", "stel_token=stale-", 1)
	o := e.orders(1)[0]
	e.srv.ExpireLogin()
	w := e.worker(1, nil)
	e.runOnce(w)
	if got := e.get(o.ID); got.Status != shop.StatusManual {
		t.Fatalf("order is %s (%s), want manual", got.Status, got.FailureReason)
	}
	if ok, _ := w.Health(); ok {
		t.Error("worker not paused with every session gone")
	}
	found := false
	for _, a := range e.alerts.alerts {
		if a.Kind == shop.AlertProviderUnhealthy && strings.Contains(a.Message, "of 2 (line") {
			found = true
		}
	}
	if !found {
		t.Errorf("no provider alert naming a session: %+v", e.alerts.alerts)
	}
	for _, r := range e.srv.Requests() {
		if r.Payments > 0 {
			t.Errorf("request %s paid", r.ID)
		}
	}
}

// TestFragmentPool_Acquire: a delivery with a recorded payment goes on in
// the session that asked for it; any other goes to the least busy session,
// taking turns, and is recorded on the delivery.
func TestFragmentPool_Acquire(t *testing.T) {
	w := &fakeWallet{}
	members := []*Fragment{
		NewFragment(FragmentConfig{Wallet: w}),
		NewFragment(FragmentConfig{Wallet: w}),
		NewFragment(FragmentConfig{Wallet: w}),
	}
	p, err := NewFragmentPool(members...)
	if err != nil {
		t.Fatal(err)
	}
	job := func(d shop.Delivery) *Job { return &Job{Delivery: &d} }

	// Fresh deliveries spread over the sessions, and each is recorded.
	var releases []func()
	for want := range 3 {
		j := job(shop.Delivery{OrderID: int64(want + 1)})
		m, i, release := p.acquire(j)
		releases = append(releases, release)
		if i != want || m != members[want] || j.Delivery.Session != want {
			t.Fatalf("fresh delivery %d: session %d (recorded %d), want %d", want, i, j.Delivery.Session, want)
		}
	}
	releases[1]() // session 2 is now the least busy
	releases[1]() // a second release changes nothing
	if _, i, _ := p.acquire(job(shop.Delivery{})); i != 1 {
		t.Errorf("least busy: session %d, want 1", i)
	}

	// A recorded payment stays in its session, however busy.
	for _, d := range []shop.Delivery{
		{Session: 2, Payout: &shop.SignedPayout{Hash: "ab"}},
		{Session: 2, Paid: &shop.PayoutResult{State: shop.PayoutConfirmed}},
		{Session: 2, Confirmed: true},
	} {
		if _, i, _ := p.acquire(job(d)); i != 2 {
			t.Errorf("recorded payment in session 3 resumed in %d", i+1)
		}
	}
	// A request without a payment starts over anywhere (Fragment's ready
	// makes a new request), and a session gone from FRAGMENT_COOKIES
	// falls back to another.
	j := job(shop.Delivery{Session: 9, Payout: &shop.SignedPayout{Hash: "ab"}})
	if _, i, _ := p.acquire(j); i < 0 || i > 2 || j.Delivery.Session != i {
		t.Errorf("gone session: %d (recorded %d)", i, j.Delivery.Session)
	}
}

func TestNewFragmentPool_Refuses(t *testing.T) {
	if _, err := NewFragmentPool(); err == nil {
		t.Error("a pool of no sessions")
	}
	a, b := NewFragment(FragmentConfig{Wallet: &fakeWallet{}}), NewFragment(FragmentConfig{Wallet: &fakeWallet{}})
	if _, err := NewFragmentPool(a, b); err == nil {
		t.Error("a pool paying from two wallets")
	}
}

// TestFragmentPool_LabelsOnlyUnhealthy: only session failures name the
// session; a pool of one says nothing more than its member.
func TestFragmentPool_LabelsOnlyUnhealthy(t *testing.T) {
	w := &fakeWallet{}
	one, _ := NewFragmentPool(NewFragment(FragmentConfig{Wallet: w}))
	two, _ := NewFragmentPool(NewFragment(FragmentConfig{Wallet: w}), NewFragment(FragmentConfig{Wallet: w, Logger: slog.New(slog.DiscardHandler)}))
	sick := Errorf(Unhealthy, "session expired")
	if got := ReasonOf(two.label(1, sick)); got != "Fragment session 2 of 2 (line 2 of FRAGMENT_COOKIES): session expired" {
		t.Errorf("two sessions: %q", got)
	}
	if KindOf(two.label(1, sick)) != Unhealthy || sick.Reason != "session expired" {
		t.Error("labelling changed the kind or the original error")
	}
	if got := ReasonOf(one.label(0, sick)); got != "session expired" {
		t.Errorf("one session: %q", got)
	}
	if got := two.label(0, Errorf(Retryable, "later")); ReasonOf(got) != "later" {
		t.Errorf("retryable relabelled: %q", ReasonOf(got))
	}
	if two.label(0, nil) != nil {
		t.Error("nil error labelled")
	}
}
