package fulfillment

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

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
// at once. If it drops one, that session's calls answer as a lost login,
// which is Unhealthy as with one session: the worker pauses and the alert
// names the session (its line in FRAGMENT_COOKIES). Nothing is paid twice
// either way: a payment is recorded on the order before it is broadcast and
// proven by its own out-message on chain (PayBatch), whichever session
// asked for it.
//
// Each order's delivery records which session made its request
// (shop.Delivery.Session, saved with the request id). An order resumed
// with a recorded payment goes on in that session (its confirm call); any
// other starts over, in the least busy session.
type FragmentPool struct {
	members []*Fragment

	mu   sync.Mutex
	busy []int // deliveries in progress per member
	next int   // round-robin start among the least busy
}

var (
	_ BatchProvider = (*FragmentPool)(nil)
	_ Provider      = (*FragmentPool)(nil)
)

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
	return &FragmentPool{members: members, busy: make([]int, len(members))}, nil
}

// Sessions is the number of sessions in the pool.
func (p *FragmentPool) Sessions() int { return len(p.members) }

// acquire picks job's member and counts it busy until release. A delivery
// with a recorded payment stays in the session that asked for it; any
// other goes to the least busy session, recorded in job.Delivery.Session
// (saved by the member with the request id, before anything is paid).
func (p *FragmentPool) acquire(job *Job) (m *Fragment, index int, release func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	index = -1
	if job != nil && job.Delivery != nil {
		d := job.Delivery
		if d.Payout != nil || d.Paid != nil || d.Confirmed {
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
	}
	if index < 0 {
		index = p.leastBusyLocked()
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
// progress, taking turns among equals. Callers hold mu.
func (p *FragmentPool) leastBusyLocked() int {
	n := len(p.members)
	best := -1
	for k := range n {
		i := (p.next + k) % n
		if best < 0 || p.busy[i] < p.busy[best] {
			best = i
		}
	}
	p.next = (best + 1) % n
	return best
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

// CheckRecipient asks the least busy session.
func (p *FragmentPool) CheckRecipient(ctx context.Context, kind shop.OrderType, username string) (*shop.RecipientCheck, error) {
	m, i, release := p.acquire(nil)
	defer release()
	rc, err := m.CheckRecipient(ctx, kind, username)
	return rc, p.label(i, err)
}

// Deliver delivers job through its session (see acquire).
func (p *FragmentPool) Deliver(ctx context.Context, job *Job) (string, error) {
	m, i, release := p.acquire(job)
	defer release()
	ref, err := m.Deliver(ctx, job)
	return ref, p.label(i, err)
}

// Prepare readies job in its session (see acquire).
func (p *FragmentPool) Prepare(ctx context.Context, job *Job) (*Prepared, error) {
	m, i, release := p.acquire(job)
	defer release()
	pr, err := m.Prepare(ctx, job)
	return pr, p.label(i, err)
}

// PayBatch pays prepared orders of any sessions in one wallet message: the
// wallet is shared, and each order is settled (its confirm call) by the
// session that prepared it (fragmentPrepared.f).
func (p *FragmentPool) PayBatch(ctx context.Context, batch []*Prepared, save func(context.Context, []*shop.Delivery) error) []Outcome {
	return p.members[0].PayBatch(ctx, batch, save)
}

// BatchLimit is the shared wallet's.
func (p *FragmentPool) BatchLimit() int { return p.members[0].BatchLimit() }

// Notice joins what the sessions have to say, each once.
func (p *FragmentPool) Notice() string {
	var out []string
	for _, m := range p.members {
		if n := m.Notice(); n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return strings.Join(out, "; ")
}

func (p *FragmentPool) String() string {
	return fmt.Sprintf("fragment(%s, %d sessions)", p.members[0].BaseURL, len(p.members))
}
