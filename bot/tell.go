package bot

import (
	"context"
	"errors"
	"sync"

	"starsbot/shop"
)

// Errors of Tell for events it did not tell; the caller tells them again
// later.
var (
	errNotTold  = errors.New("bot: a notification was not sent (the bot is stopping, or the store failed)")
	errStopping = errors.New("bot: stopping: the chats' queues are closed")
	errStopped  = errors.New("bot: not sent: Tell had stopped waiting")
)

// Tell tells the buyers about events, as HandleEvent does, and returns
// once it has: the durable notifier (shop.Notifier) moves its cursor in the
// store past an event only after Tell reports it told, so that an event is
// told at least once whatever process dies when. Each chat's events go to
// that chat's queue as one job, in their order, behind the chat's earlier
// updates; chats run in parallel.
//
// It returns n: events[:n] are told (sent, or given up for good: see
// notify; a chat whose queue is full, as HandleEvent, drops its events).
// When n < len(events) it also returns why: events[n] was not sent (the
// bot is stopping, the store failed), or ctx ended first. Events of a chat after one not told are
// not sent either, so that a chat's notices keep their order when they
// are told again. When ctx ends, Tell starts no more sends, cuts those in
// flight short, and returns once each has ended, so that n counts every
// message sent: none is sent after Tell returned, and its caller repeats
// only what it has to (a send cut short after Telegram took it).
func (b *Bot) Tell(ctx context.Context, events []shop.Event) (int, error) {
	// parent ends each notification's context when ctx ends.
	parent, cancel := context.WithCancel(b.baseContext())
	defer cancel()
	defer context.AfterFunc(ctx, cancel)()

	var mu sync.Mutex
	stopped := false                           // ctx ended: no more starts
	started := make([]bool, len(events))       // under mu
	results := make([]chan error, len(events)) // buffered: a job never waits
	chats := map[int64][]int{}                 // each chat's events, by index
	var order []int64                          // the chats in order of their first event
	for i, e := range events {
		results[i] = make(chan error, 1)
		if e.UserID <= 0 { // nobody to tell (HandleEvent drops these too)
			started[i] = true
			results[i] <- nil
			continue
		}
		if _, ok := chats[e.UserID]; !ok {
			order = append(order, e.UserID)
		}
		chats[e.UserID] = append(chats[e.UserID], i)
	}
	fail := func(idx []int, err error) {
		for _, i := range idx {
			results[i] <- err
		}
	}
	for _, chat := range order {
		idx := chats[chat]
		if !b.disp.enqueue(chat, func() {
			for k, i := range idx {
				mu.Lock()
				start := !stopped
				started[i] = start
				mu.Unlock()
				if !start {
					fail(idx[k:], errStopped)
					return
				}
				if !b.notify(parent, events[i]) {
					fail(idx[k:], errNotTold)
					return
				}
				results[i] <- nil
			}
		}) {
			mu.Lock()
			for _, i := range idx {
				started[i] = true // its result is there
			}
			mu.Unlock()
			if b.disp.isClosed() {
				fail(idx, errStopping)
				continue
			}
			// A full queue (the user floods the bot) drops the chat's
			// notices, as HandleEvent does: told again, they would hold
			// back every other chat's and repeat them.
			b.Logger.Warn("telegram chat queue full; notifications dropped", "user_id", chat, "events", len(idx))
			fail(idx, nil)
		}
	}

	// The told prefix, until an event fails or ctx ends.
	n, err, read := 0, error(nil), false // read: err is events[n]'s result
	for ; n < len(events); n++ {
		select {
		case err = <-results[n]:
			read = true
		case <-ctx.Done():
			err, read = ctx.Err(), false
		}
		if err != nil {
			break
		}
	}
	if err == nil {
		return n, nil
	}
	// Start no more sends, and wait for those in flight (cut short by
	// parent if ctx ended): none is sent after Tell returns, and those
	// that were sent extend the prefix.
	mu.Lock()
	stopped = true
	inFlight := append([]bool(nil), started...)
	mu.Unlock()
	told := make([]bool, len(events))
	for j := n; j < len(events); j++ {
		if !inFlight[j] {
			continue
		}
		if j == n && read {
			continue // not told: err
		}
		told[j] = <-results[j] == nil
	}
	for n < len(events) && told[n] {
		n++
	}
	if n == len(events) {
		return n, nil
	}
	return n, err
}
