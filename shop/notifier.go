package shop

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"
)

// Notifier tells buyers about the events in the outbox, through the bot
// (a Teller), from a cursor kept in the store: a crash, or a change of
// leader, between a commit and its message no longer loses the message,
// as an Event emitted in memory would be lost with its process.
//
// It is a singleton: run it only on the leader (on one store of one
// process, in that process). It reads the outbox after its cursor, page
// by page, makes of each event the Event its replica emitted (relayed: the
// one mapping, as the Relay's), hands a page's Events to the Teller, and
// saves the cursor past the events the Teller reports told. So it tells
// every event at least once, in commit order per buyer:
//
//   - A process that dies after the Teller sent a message but before the
//     cursor was saved has it sent again by the next leader: at most a
//     page (notifyPage events) is repeated. That is the price of never
//     losing one.
//   - A leader that was deposed cannot move the cursor: under a leader
//     context (PostgreSQL's fenced Updates) its save fails with
//     ErrDeposed once a newer leader has its term, and the new leader
//     reads the cursor after that.
//   - A clean stop lets the Teller finish the page in hand (for at most
//     Grace; then it cuts the sends short) and saves what was told, so
//     the next leader repeats nothing.
//   - An event older than MaxAge when it is read is skipped, not told: a
//     buyer told a day late of a deposit is confused, not helped. (The
//     bot's own screens and /orders show the state anyway.)
//   - The first run on a store without a cursor starts at the outbox's end
//     (as a Relay's Seek): history is not told again.
//
// It reads when poked (Poke: a local commit, or an event the Relay
// brought), when woken (Wake), and every Poll in any case, so that a lost
// wake-up delays a message but never loses it. The next page is read once
// the Teller is done with this one: a page takes as long as its busiest
// chat (the bot sends a chat about one message a second, and looks each
// event up in the store, even the events of API orders, which it tells
// nobody), so a burst for one chat delays the other chats' next notices.
type Notifier struct {
	svc    *Service
	teller Teller
	wake   <-chan struct{}
	poke   chan struct{}
	poll   time.Duration
	maxAge time.Duration
	grace  time.Duration
	logger *slog.Logger

	// cursor is the Seq of the last event done with, as saved; valid
	// while loaded, within one Run.
	cursor uint64
	loaded bool
}

// Teller tells buyers about events: the bot (bot.Bot.Tell).
type Teller interface {
	// Tell tells events, in order per buyer, and returns n once
	// events[:n] are told (sent, or given up for good); with n <
	// len(events), also why not events[n], which is then told again
	// later. It returns when ctx ends, with what is told by then.
	Tell(ctx context.Context, events []Event) (n int, err error)
}

// NotifierConfig configures NewNotifier.
type NotifierConfig struct {
	// Shop is the service whose store holds the outbox and the cursor;
	// required.
	Shop *Service
	// Teller tells the buyers; required.
	Teller Teller
	// Wake makes the notifier read the outbox now; optional (Poke is
	// another way).
	Wake <-chan struct{}
	// Poll is how often the outbox is read without a wake-up; default
	// DefaultRelayPoll.
	Poll time.Duration
	// MaxAge is the age beyond which an event is skipped instead of told;
	// default DefaultNotifyMaxAge.
	MaxAge time.Duration
	// Grace is how long the page in hand may still be told, and its
	// cursor saved, after Run's context ends; default
	// DefaultNotifyGrace.
	Grace time.Duration
	// Logger; default the Service's.
	Logger *slog.Logger
}

// Notifier defaults.
const (
	DefaultNotifyMaxAge = 24 * time.Hour
	// DefaultNotifyGrace is within the bot's shutdown grace, which lets
	// the messages in its queues go out when it stops.
	DefaultNotifyGrace = 5 * time.Second
)

// notifyPage is how many outbox events the notifier reads and hands on at
// once: the most a crash can repeat.
const notifyPage = 100

// notifySaveTimeout bounds the save of the cursor, which is made after
// Run's context may have ended (a clean stop).
const notifySaveTimeout = 5 * time.Second

// settingNotified is the setting that holds the notifier's cursor: the
// Seq of the last outbox event it is done with, in decimal.
const settingNotified = "notified_seq"

// NewNotifier returns a notifier. Run runs it.
func NewNotifier(cfg NotifierConfig) (*Notifier, error) {
	switch {
	case cfg.Shop == nil:
		return nil, errors.New("shop: notifier: no service")
	case cfg.Teller == nil:
		return nil, errors.New("shop: notifier: no teller")
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultRelayPoll
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultNotifyMaxAge
	}
	if cfg.Grace <= 0 {
		cfg.Grace = DefaultNotifyGrace
	}
	if cfg.Logger == nil {
		cfg.Logger = cfg.Shop.Logger
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Notifier{svc: cfg.Shop, teller: cfg.Teller, wake: cfg.Wake, poke: make(chan struct{}, 1),
		poll: cfg.Poll, maxAge: cfg.MaxAge, grace: cfg.Grace, logger: cfg.Logger}, nil
}

// Poke makes the notifier read the outbox soon. It never blocks:
// subscribe it to the Service (every Event follows an outbox write, or
// is harmless).
func (n *Notifier) Poke() {
	select {
	case n.poke <- struct{}{}:
	default:
	}
}

// Run tells buyers until ctx ends (this process stops leading) and
// returns nil. It starts from the cursor in the store; store and Teller
// errors are logged (once per failing streak) and the read is retried at
// the next wake-up or poll. One Run at a time.
func (n *Notifier) Run(ctx context.Context) error {
	n.loaded = false // another leader may have moved it since
	follow(ctx, "notifier", n.logger, n.poll, n.step, n.wake, n.poke)
	return nil
}

// step tells the events committed after the cursor, page by page, and
// returns after the last.
func (n *Notifier) step(ctx context.Context) error {
	if !n.loaded {
		if err := n.load(ctx); err != nil {
			return err
		}
	}
	for {
		var events []Event
		var before []uint64 // the cursor to save when events[i] is the first not told
		var last uint64
		var read, old int
		err := n.svc.Store.View(ctx, func(tx Tx) error {
			events, before, last, read, old = events[:0], before[:0], n.cursor, 0, 0
			es, err := tx.OutboxAfter(n.cursor, notifyPage)
			if err != nil {
				return err
			}
			read = len(es)
			cutoff := n.svc.now().Add(-n.maxAge)
			for _, oe := range es {
				prev := last
				last = oe.Seq
				if oe.CreatedAt.Before(cutoff) {
					old++
					continue
				}
				e, ok, err := relayed(tx, oe)
				if err != nil {
					return err
				}
				if ok {
					e.Remote = oe.Replica != n.svc.Replica
					events = append(events, e)
					before = append(before, prev)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if read == 0 {
			return nil
		}
		if old > 0 {
			n.logger.Warn("notifier: events too old to tell; skipped", "events", old, "max_age", n.maxAge)
		}
		told, terr := n.tell(ctx, events)
		next := last
		if told < len(events) {
			next = before[told]
		}
		if next != n.cursor {
			if err := n.save(ctx, next); err != nil {
				return err
			}
		}
		if terr != nil {
			return fmt.Errorf("%d of %d events told: %w", told, len(events), terr)
		}
		if read < notifyPage || ctx.Err() != nil {
			return nil
		}
	}
}

// tell hands events to the Teller and waits for it: after ctx ends, for at
// most the grace period.
func (n *Notifier) tell(ctx context.Context, events []Event) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	tctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		t := time.NewTimer(n.grace)
		defer t.Stop()
		select {
		case <-t.C:
			cancel()
		case <-tctx.Done():
		}
	})
	defer stop()
	return n.teller.Tell(tctx, events)
}

// load reads the cursor from the store; without one (the first run), it
// places the cursor at the outbox's end and saves it there, so that a
// crash before the first page does not make the next run start later.
func (n *Notifier) load(ctx context.Context) error {
	seq, ok, err := n.Saved(ctx)
	if err != nil {
		return err
	} else if ok {
		n.cursor, n.loaded = seq, true
		return nil
	}
	end, err := outboxEnd(ctx, n.svc)
	if err != nil {
		return err
	}
	if err := n.save(ctx, end); err != nil {
		return err
	}
	n.logger.Info("notifier: no saved cursor; starting at the outbox's end", "seq", end)
	n.loaded = true
	return nil
}

// Saved returns the cursor in the store: the Seq of the last outbox event
// the notifier is done with; ok is false before the first run saved one.
func (n *Notifier) Saved(ctx context.Context) (seq uint64, ok bool, err error) {
	var v []byte
	err = n.svc.Store.View(ctx, func(tx Tx) (err error) {
		v, err = tx.FindSetting(settingNotified)
		return err
	})
	if err != nil || v == nil {
		return 0, false, err
	}
	if seq, err = strconv.ParseUint(string(v), 10, 64); err != nil {
		return 0, false, fmt.Errorf("shop: notifier: the saved cursor %q: %w", v, err)
	}
	return seq, true, nil
}

// save stores the cursor as seq. It runs under ctx's values (a leader's
// fence) but not its end: a clean stop saves what it told.
func (n *Notifier) save(ctx context.Context, seq uint64) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), notifySaveTimeout)
	defer cancel()
	err := n.svc.Store.Update(sctx, func(tx Tx) error {
		return tx.PutSetting(settingNotified, []byte(strconv.FormatUint(seq, 10)))
	})
	if err != nil {
		return err
	}
	n.cursor = seq
	return nil
}
