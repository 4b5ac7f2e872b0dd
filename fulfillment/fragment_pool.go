package fulfillment

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"starsbot/shop"
)

// FragmentPool buys on fragment.com through several sessions of the same
// account, one Fragment per session (FRAGMENT_COOKIES with one line per
// browser login), all paying from the same hot wallet.
//
// Why: each session runs its state update + init pair one at a time per
// page (fragment.go initiate), because that state belongs to the session
// and nobody has recorded whether two pairs of one session may overlap
// (notes/fragment.md §1.4: a cold init is refused, DRM CHANGELOG 0.2.1).
// At 150 ms per call that caps a session at about 200 orders a minute.
// Sessions are independent browser logins, each with its own stel_ssid
// (S1qwy auth.py reads it from the cookie jar Fragment sets), so their
// pairs cannot meet: N sessions prepare N pairs at once and nothing about
// a shared buy state is assumed.
//
// Not recorded: whether Fragment keeps several logins of one account alive
// at once. If it drops one, that session's calls answer as a lost login
// (Unhealthy). While another session works, the pool leaves that one out
// for fragmentSessionDownFor, tells OnSessionDown (the admins, naming its
// line of FRAGMENT_COOKIES) and goes on with the others: an order that had
// paid nothing is prepared again in another session at once. Only when no
// session works does the Unhealthy error reach the worker, which pauses as
// with one session. Nothing is paid twice either way: a payment is
// recorded on the order before it is broadcast and proven by its own
// out-message on chain (PayBatch), whichever session asked for it, and an
// order with a recorded payment never changes session.
//
// Each order's delivery records which session made its request
// (shop.Delivery.Session, saved with the request id). An order resumed
// with a recorded payment goes on in that session (its confirm call); any
// other starts over, in the least busy session.
type FragmentPool struct {
	members []*Fragment

	// OnSessionDown, if set, is told (with a reason naming the session,
	// safe to show) when a session fails as Unhealthy while another still
	// works, and is left out. Set before use.
	OnSessionDown func(ctx context.Context, reason string)
	// Now is the clock of the sessions left out; default time.Now.
	Now func() time.Time

	locks SessionLocks // nil: every session is this process's

	mu   sync.Mutex
	busy []int          // deliveries in progress per member
	next int            // round-robin start among the least busy
	down []fragmentDown // per member: left out until
}

// fragmentSessionDownFor is how long a session that failed as Unhealthy is
// left out while another works (as long as the worker pauses a provider).
const fragmentSessionDownFor = 15 * time.Minute

// fragmentDown is a session left out: until when, and why.
type fragmentDown struct {
	until  time.Time
	reason string
}

var (
	_ BatchProvider = (*FragmentPool)(nil)
	_ Provider      = (*FragmentPool)(nil)
	_ Handoff       = (*FragmentPool)(nil)
)

// SessionLocks says which of a pool's sessions this process holds. With
// several replicas on one database the replicas usually share
// FRAGMENT_COOKIES, and a session's state update + init pair must never
// overlap another pair of the same session, which the page lock
// (Fragment.lockPage) guards in one process only: each session is held by
// one replica at a time (pgstore.SessionLocks, an advisory lock per
// session).
type SessionLocks interface {
	// Held reports whether this process holds session i (the line
	// i of FRAGMENT_COOKIES, from 0) now.
	Held(i int) bool
}

// SetLocks makes the pool use only the sessions locks says this process
// holds: new preparations go to held sessions, a session whose hold is
// lost stops before its next state update + init pair, and the
// best-effort confirm call of a payment is skipped when its session is
// not held (settlement is by the payment's out-message on chain). Set
// before use.
func (p *FragmentPool) SetLocks(locks SessionLocks) {
	p.locks = locks
	for i, m := range p.members {
		m.held = func() bool { return locks.Held(i) }
	}
}

// NewFragmentPool returns a pool over members, which must share one
// Wallet. A pool of one behaves as its member.
func NewFragmentPool(members ...*Fragment) (*FragmentPool, error) {
	if len(members) == 0 {
		return nil, errors.New("fragment pool: no sessions")
	}
	for _, m := range members[1:] {
		if m.Wallet != members[0].Wallet {
			return nil, errors.New("fragment pool: every session must pay from the same wallet")
		}
	}
	return &FragmentPool{members: members, busy: make([]int, len(members)), down: make([]fragmentDown, len(members))}, nil
}

// Sessions is the number of sessions in the pool.
func (p *FragmentPool) Sessions() int { return len(p.members) }

// SessionIDs returns the stel_ssid of each session's configured cookies,
// in order (the whole line when it has none, whose calls fail anyway):
// the login's id, which replicas that share FRAGMENT_COOKIES share, for
// their session locks (SetLocks). It is secret: never log it.
func (p *FragmentPool) SessionIDs() []string {
	ids := make([]string, len(p.members))
	for i, m := range p.members {
		ids[i] = strings.TrimSpace(m.Cookies)
		cs, _ := http.ParseCookie(ids[i])
		for _, c := range cs {
			if c.Name == "stel_ssid" {
				ids[i] = c.Value
			}
		}
	}
	return ids
}

// acquire picks job's member and counts it busy until release. A delivery
// with a recorded payment stays in the session that asked for it; any
// other goes to the least busy session, recorded in job.Delivery.Session
// (saved by the member with the request id, before anything is paid).
func (p *FragmentPool) acquire(job *Job) (m *Fragment, index int, release func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	index = -1
	if paymentRecorded(job) {
		d := job.Delivery
		if d.Session >= 0 && d.Session < len(p.members) {
			index = d.Session
		} else {
			// FRAGMENT_COOKIES lost that line: the payment is resumed
			// from the record (the wallet's part needs no session) and
			// only the best-effort confirm call goes elsewhere.
			p.members[0].Logger.Warn("fragment: the session that made this request is gone from FRAGMENT_COOKIES; going on in another",
				"order_id", d.OrderID, "session", d.Session+1, "sessions", len(p.members))
		}
	}
	if index < 0 {
		// A new request goes to a session this process holds; a recipient
		// check (no job: a search, never a pair) may use any.
		index = p.leastBusyLocked(job != nil)
		if index < 0 {
			return nil, -1, func() {}
		}
		if job != nil && job.Delivery != nil {
			job.Delivery.Session = index
		}
	}
	p.busy[index]++
	var once sync.Once
	return p.members[index], index, func() {
		once.Do(func() {
			p.mu.Lock()
			p.busy[index]--
			p.mu.Unlock()
		})
	}
}

// leastBusyLocked returns the member with the fewest deliveries in
// progress among those not left out (among all if every one is), taking
// turns among equals; with heldOnly, among the sessions this process
// holds only (-1 if none). Callers hold mu.
func (p *FragmentPool) leastBusyLocked(heldOnly bool) int {
	n, now := len(p.members), p.now()
	best, bestUp := -1, false
	for k := range n {
		i := (p.next + k) % n
		if heldOnly && p.locks != nil && !p.locks.Held(i) {
			continue
		}
		up := !now.Before(p.down[i].until)
		if best < 0 || (up && !bestUp) || (up == bestUp && p.busy[i] < p.busy[best]) {
			best, bestUp = i, up
		}
	}
	if best >= 0 {
		p.next = (best + 1) % n
	}
	return best
}

func (p *FragmentPool) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// do runs call in job's session (see acquire). When that session fails as
// Unhealthy before anything was paid and another session works, it is
// left out (leaveOut) and call runs again in another.
func (p *FragmentPool) do(ctx context.Context, job *Job, call func(m *Fragment) error) error {
	for {
		m, i, release := p.acquire(job)
		if m == nil {
			return errSessionNotHeld
		}
		err := call(m)
		release()
		if err == nil || KindOf(err) != Unhealthy || paymentRecorded(job) || !p.leaveOut(ctx, i, err) {
			return p.label(i, err)
		}
	}
}

// paymentRecorded reports whether job's delivery holds a payment, which
// ties it to its session.
func paymentRecorded(job *Job) bool {
	return job != nil && job.Delivery.HasPayment()
}

// leaveOut leaves session i out for fragmentSessionDownFor after err and
// reports whether another session this process holds works; if so,
// OnSessionDown is told.
func (p *FragmentPool) leaveOut(ctx context.Context, i int, err error) bool {
	if len(p.members) == 1 {
		return false
	}
	reason := ReasonOf(p.label(i, err))
	p.mu.Lock()
	now := p.now()
	p.down[i] = fragmentDown{until: now.Add(fragmentSessionDownFor), reason: ReasonOf(err)}
	others := false
	for j := range p.members {
		// Another session counts only if this process may use it: else do
		// would come back to this one, down, and fail again.
		if j != i && !now.Before(p.down[j].until) && (p.locks == nil || p.locks.Held(j)) {
			others = true
		}
	}
	p.mu.Unlock()
	if !others {
		return false
	}
	p.members[i].Logger.Warn("fragment session left out; going on with the others", "session", i+1, "for", fragmentSessionDownFor, "reason", reason)
	if p.OnSessionDown != nil {
		p.OnSessionDown(ctx, fmt.Sprintf("%s. Left out for %s; the other sessions go on.", strings.TrimSuffix(reason, "."), fragmentSessionDownFor))
	}
	return true
}

// label names the session in an Unhealthy error, so that admins know which
// line of FRAGMENT_COOKIES to renew; other errors pass unchanged.
func (p *FragmentPool) label(index int, err error) error {
	var e *Error
	if len(p.members) == 1 || !errors.As(err, &e) || e.Kind != Unhealthy {
		return err
	}
	labelled := *e
	labelled.Reason = fmt.Sprintf("Fragment session %d of %d (line %d of FRAGMENT_COOKIES): %s", index+1, len(p.members), index+1, e.Reason)
	return &labelled
}

// CheckRecipient asks the least busy session (see do).
func (p *FragmentPool) CheckRecipient(ctx context.Context, kind shop.OrderType, username string) (rc *shop.RecipientCheck, err error) {
	err = p.do(ctx, nil, func(m *Fragment) (err error) {
		rc, err = m.CheckRecipient(ctx, kind, username)
		return err
	})
	return rc, err
}

// Deliver delivers job through its session (see acquire and do).
func (p *FragmentPool) Deliver(ctx context.Context, job *Job) (ref string, err error) {
	err = p.do(ctx, job, func(m *Fragment) (err error) {
		ref, err = m.Deliver(ctx, job)
		return err
	})
	return ref, err
}

// Prepare readies job in its session (see acquire and do).
func (p *FragmentPool) Prepare(ctx context.Context, job *Job) (pr *Prepared, err error) {
	err = p.do(ctx, job, func(m *Fragment) (err error) {
		pr, err = m.Prepare(ctx, job)
		return err
	})
	return pr, err
}

// PayBatch pays prepared orders of any sessions in one wallet message: the
// wallet is shared, and each order is settled (its confirm call) by the
// session that prepared it (fragmentPrepared.f).
func (p *FragmentPool) PayBatch(ctx context.Context, batch []*Prepared, save func(context.Context, []*shop.Delivery) error) []Outcome {
	return p.members[0].PayBatch(ctx, batch, save)
}

// Prepared is the members' (one rule for every session).
func (p *FragmentPool) Prepared(d *shop.Delivery) bool { return p.members[0].Prepared(d) }

// CanPrepare reports whether this process holds a session (left out or
// not: with every held session left out, do tries one anyway, as with one
// session, so that the worker pauses and admins hear of it).
func (p *FragmentPool) CanPrepare() bool {
	for i := range p.members {
		if p.locks == nil || p.locks.Held(i) {
			return true
		}
	}
	return false
}

// LoadPrepared rebuilds job's Prepared in the session that prepared it
// (Delivery.Session), whose confirm call is made only if this process
// holds it then; a session gone from FRAGMENT_COOKIES gives way to the
// first, as in acquire.
func (p *FragmentPool) LoadPrepared(ctx context.Context, job *Job) (*Prepared, error) {
	m := p.members[0]
	if i := job.Delivery.Session; i >= 0 && i < len(p.members) {
		m = p.members[i]
	}
	return m.LoadPrepared(ctx, job)
}

// BatchLimit is the shared wallet's.
func (p *FragmentPool) BatchLimit() int { return p.members[0].BatchLimit() }

// Notice joins what the sessions have to say, each once, and names the
// sessions left out.
func (p *FragmentPool) Notice() string {
	var out []string
	for _, m := range p.members {
		if n := m.Notice(); n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	p.mu.Lock()
	now := p.now()
	for i, d := range p.down {
		if now.Before(d.until) {
			out = append(out, fmt.Sprintf("Fragment session %d of %d is left out until %s UTC: %s", i+1, len(p.members), d.until.UTC().Format("15:04"), d.reason))
		}
	}
	p.mu.Unlock()
	return strings.Join(out, "; ")
}

func (p *FragmentPool) String() string {
	return fmt.Sprintf("fragment(%s, %d sessions)", p.members[0].BaseURL, len(p.members))
}
