package bot

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
	tele "gopkg.in/telebot.v3"
)

// limiter paces outbound messages: about GlobalRate per second overall and
// ChatRate per second per chat (with a small burst), as the Bot FAQ asks.
type limiter struct {
	global    *rate.Limiter
	chatLimit rate.Limit
	chatBurst int

	mu    sync.Mutex
	chats map[int64]*rate.Limiter
}

func toLimit(perSecond, def float64) rate.Limit {
	switch {
	case perSecond < 0 || math.IsInf(perSecond, 1):
		return rate.Inf
	case perSecond == 0:
		return rate.Limit(def)
	}
	return rate.Limit(perSecond)
}

func newLimiter(globalRate, chatRate float64, chatBurst int) *limiter {
	if chatBurst <= 0 {
		chatBurst = DefaultChatBurst
	}
	g := toLimit(globalRate, DefaultGlobalRate)
	return &limiter{
		global:    rate.NewLimiter(g, max(1, int(math.Min(float64(g), 30)))),
		chatLimit: toLimit(chatRate, DefaultChatRate),
		chatBurst: chatBurst,
		chats:     map[int64]*rate.Limiter{},
	}
}

// delay reserves one message to chat at now and returns how long the
// sender must wait before sending it.
func (l *limiter) delay(chat int64, now time.Time) time.Duration {
	l.mu.Lock()
	cl, ok := l.chats[chat]
	if !ok {
		if len(l.chats) >= 4096 {
			// Forget chats whose bucket is full again: they behave as new.
			for id, c := range l.chats {
				if c.TokensAt(now) >= float64(l.chatBurst) {
					delete(l.chats, id)
				}
			}
		}
		cl = rate.NewLimiter(l.chatLimit, l.chatBurst)
		l.chats[chat] = cl
	}
	l.mu.Unlock()
	d := cl.ReserveN(now, 1).DelayFrom(now)
	// The global slot is taken for the moment the chat allows sending.
	at := now.Add(d)
	return d + l.global.ReserveN(at, 1).DelayFrom(at)
}

// deliver sends one outbound message to chat through the limiter, and on
// a 429 answer waits retry_after and tries again (at most three times, and
// never for longer than MaxRetryAfter).
//
// A chat whose user blocked the bot gets nothing more (errBlocked, no
// call) until the user writes again: the first 403 is logged, once.
func (b *Bot) deliver(ctx context.Context, chat int64, send func() error) error {
	if b.isBlocked(chat) {
		return errBlocked
	}
	for attempt := 1; ; attempt++ {
		if d := b.lim.delay(chat, b.Now()); d > 0 {
			if err := b.Sleep(ctx, d); err != nil {
				return err
			}
		}
		err := send()
		if errors.Is(err, tele.ErrBlockedByUser) {
			b.setBlocked(chat, true)
			return errBlocked
		}
		var fe tele.FloodError
		var wait time.Duration
		switch {
		case attempt >= 3:
			return err
		case errors.As(err, &fe):
			wait = time.Duration(fe.RetryAfter) * time.Second
		default:
			return err
		}
		if wait <= 0 {
			wait = time.Second
		}
		if wait > b.MaxRetryAfter {
			b.Logger.Warn("telegram flood wait too long; message dropped", "chat_id", chat, "retry_after", wait)
			return err
		}
		b.Logger.Warn("telegram flood control; waiting", "chat_id", chat, "retry_after", wait)
		if err := b.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// errBlocked is returned for a message to a user who blocked the bot.
var errBlocked = errors.New("telegram: the user blocked the bot")

// blockedChats are the chats whose user blocked the bot (a 403 "bot was
// blocked by the user"), until they write to it again.
type blockedChats struct {
	mu    sync.Mutex
	chats map[int64]bool
}

func (b *Bot) isBlocked(chat int64) bool {
	b.blocked.mu.Lock()
	defer b.blocked.mu.Unlock()
	return b.blocked.chats[chat]
}

// setBlocked records whether chat's user blocked the bot, and logs the
// change.
func (b *Bot) setBlocked(chat int64, blocked bool) {
	b.blocked.mu.Lock()
	was := b.blocked.chats[chat]
	if blocked {
		if b.blocked.chats == nil {
			b.blocked.chats = map[int64]bool{}
		}
		b.blocked.chats[chat] = true
	} else {
		delete(b.blocked.chats, chat)
	}
	b.blocked.mu.Unlock()
	switch {
	case blocked && !was:
		b.Logger.Warn("telegram user blocked the bot; their messages are dropped until they write again", "chat_id", chat)
	case !blocked && was:
		b.Logger.Info("telegram user who had blocked the bot writes again", "chat_id", chat)
	}
}
