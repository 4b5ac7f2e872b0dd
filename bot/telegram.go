package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	tele "gopkg.in/telebot.v3"
)

// Every Bot API call of this package goes through telebot
// (gopkg.in/telebot.v3): routing, sends, edits, uploads, getMe,
// setMyCommands and getUpdates. This file holds what telebot cannot do,
// and nothing else:
//
//  1. Contexts. telebot's calls take no context.Context: a request runs
//     until the http.Client's Timeout, and only Bot.Stop cancels, every
//     call in flight at once (replies being sent included). api returns a
//     telebot.Bot whose calls are bound to a context, so that a long poll
//     ends the moment Run's context is done and getMe, setMyCommands and
//     uploads have their own deadlines.
//  2. Polling that survives errors. telebot's LongPoller retries a failed
//     getUpdates at once, forever, and says nothing (unless Verbose, which
//     logs every payload): a 409 (another instance polling with the same
//     token) or a 429 becomes a hot loop against the API. poll backs off,
//     honours retry_after, logs, hands updates to the per-chat queues, and
//     confirms the last offset on its way out so that a restart does not
//     handle them twice. It first deletes a webhook an earlier run in
//     webhook mode left set (webhookmode.go): getUpdates fails while one is.
//  3. Errors without the token. Go's HTTP errors quote the request URL,
//     which carries the token; redact removes it before an error is logged
//     or shown.

// api returns a telebot client whose every request is bound to ctx: it
// ends when ctx is done or its deadline passes. It shares the transport
// (connections) of Client, but not its overall Timeout: ctx bounds it.
func (b *Bot) api(ctx context.Context) *tele.Bot {
	tb, err := tele.NewBot(tele.Settings{
		URL:     b.APIURL,
		Token:   b.Token,
		Offline: true, // no getMe
		Updates: 1,    // the channel is unused: poll calls getUpdates itself
		Client:  &http.Client{Transport: ctxTransport{ctx: ctx, base: b.Client.Transport}},
	})
	if err != nil { // not possible offline; kept in case telebot changes
		panic(fmt.Sprintf("bot: telebot client: %v", b.redact(err)))
	}
	return tb
}

// ctxTransport cancels each request when ctx is done, as well as when
// the request's own context is.
type ctxTransport struct {
	ctx  context.Context
	base http.RoundTripper // nil: http.DefaultTransport
}

func (t ctxTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	ctx, cancel := context.WithCancel(req.Context())
	stop := context.AfterFunc(t.ctx, cancel)
	done := func() { stop(); cancel() }
	resp, err := base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		done()
		return nil, err
	}
	resp.Body = &doneBody{ReadCloser: resp.Body, done: done}
	return resp, nil
}

// doneBody releases its request's context when closed.
type doneBody struct {
	io.ReadCloser
	done func()
}

func (d *doneBody) Close() error {
	err := d.ReadCloser.Close()
	d.done()
	return err
}

// raw calls a Bot API method through telebot, bound to ctx, and decodes
// its result into out (nil: ignore it).
func (b *Bot) raw(ctx context.Context, method string, params, out any) error {
	data, err := b.api(ctx).Raw(method, params)
	if err != nil {
		return err
	}
	var resp struct {
		OK     bool            `json:"ok"`
		Result json.RawMessage `json:"result"`
	}
	// telebot passes an answer that is not JSON (a proxy's error page)
	// as a success; it is not one.
	if err := json.Unmarshal(data, &resp); err != nil || !resp.OK {
		return fmt.Errorf("telegram %s: not a Bot API answer: %.64q", method, data)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(resp.Result, out)
}

// poll reads updates until ctx is done, handing each to its chat's queue.
// Errors back off exponentially, or as long as a 429 says. On the way out
// it confirms the updates it accepted, so that the next start does not
// receive them again.
// pollGated polls while PollGate allows it, until ctx is done. Updates
// taken before the gate closed are still handled here; the offset of the
// last one is confirmed as poll returns, so the next poller (this process
// or another) starts after it.
func (b *Bot) pollGated(ctx context.Context) {
	if b.PollGate == nil {
		b.poll(ctx)
		return
	}
	for ctx.Err() == nil {
		gate, err := b.PollGate(ctx)
		if err != nil {
			return
		}
		b.Logger.Info("telegram polling: started (this replica leads)")
		pctx, cancel := context.WithCancel(ctx)
		stop := context.AfterFunc(gate, cancel)
		b.poll(pctx)
		stop()
		cancel()
		if ctx.Err() == nil {
			b.Logger.Info("telegram polling: stopped until this replica leads again")
		}
	}
}

func (b *Bot) poll(ctx context.Context) {
	offset := 0
	backoff := time.Duration(0)
	defer func() {
		if offset == 0 {
			return
		}
		confirm, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := b.raw(confirm, "getUpdates", map[string]any{"offset": offset, "timeout": 0, "limit": 1}, nil); err != nil {
			b.Logger.Info("telegram could not confirm the last updates", "error", b.redact(err))
		}
	}()
	cleared := false // no webhook is set: getUpdates works
	for ctx.Err() == nil {
		if !cleared {
			cleared = b.leaveWebhook(ctx)
		}
		var ups []tele.Update
		call, cancel := context.WithTimeout(ctx, b.PollTimeout+10*time.Second)
		err := b.raw(call, "getUpdates", map[string]any{
			"offset":          offset,
			"timeout":         int(b.PollTimeout / time.Second),
			"allowed_updates": allowedUpdates,
		}, &ups)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			b.polled(false)
			backoff = nextBackoff(err, backoff)
			b.Logger.Warn("telegram getUpdates failed", "error", b.redact(err), "retry_in", backoff)
			if b.Sleep(ctx, backoff) != nil {
				return
			}
			continue
		}
		backoff = 0
		b.polled(true)
		for _, u := range ups {
			offset = u.ID + 1
			chatID := updateChat(u)
			if !b.disp.enqueue(chatID, func() { b.process(u) }) {
				b.Logger.Warn("telegram chat queue full; update dropped", "chat_id", chatID, "update_id", u.ID)
			}
		}
	}
}

// redact removes the bot token from an error's text: Go's HTTP errors
// quote the request URL, which carries the token.
func (b *Bot) redact(err error) error {
	if err == nil {
		return nil
	}
	return errors.New(b.redactString(err.Error()))
}

func (b *Bot) redactString(s string) string {
	if b.Token == "" {
		return s
	}
	return strings.ReplaceAll(s, b.Token, "<token>")
}
