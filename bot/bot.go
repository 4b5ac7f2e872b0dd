package bot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	tele "gopkg.in/telebot.v3"

	"starsbot/shop"
)

// Defaults of the Bot's tunables.
const (
	DefaultAPIURL        = "https://api.telegram.org"
	DefaultPollTimeout   = 25 * time.Second
	DefaultUpdateTimeout = 15 * time.Second
	DefaultStateTTL      = 15 * time.Minute
	DefaultGlobalRate    = 30  // messages per second, all chats together
	DefaultChatRate      = 1.0 // messages per second in one chat
	DefaultChatBurst     = 3   // messages one chat may get at once before ChatRate applies
	DefaultMaxRetryAfter = time.Minute
	DefaultShutdownGrace = 8 * time.Second // within Docker's default 10 s stop timeout, with the store's close
	DefaultChatQueue     = 64              // pending updates and notifications per chat
	DefaultEventQueue    = 1024            // pending events not yet sorted into chats
)

// Shop is the part of *shop.Service the bot uses. Every rule about money,
// users and keys lives behind it; the bot only renders and routes.
type Shop interface {
	EnsureUser(ctx context.Context, u shop.UserUpdate) (*shop.User, error)
	SetLanguage(ctx context.Context, userID int64, lang string) (*shop.User, error)
	FindUser(ctx context.Context, id int64) (*shop.User, error)
	DepositAddress() string
	Pricing() shop.Pricing
	LockQuote(ctx context.Context, userID int64, req shop.QuoteRequest) (*shop.LockedQuote, error)
	FindQuote(ctx context.Context, userID int64, id string) (*shop.LockedQuote, error)
	CheckRecipient(ctx context.Context, kind shop.OrderType, username string) (*shop.RecipientCheck, error)
	CreateOrder(ctx context.Context, req shop.CreateOrderRequest) (*shop.Order, error)
	CancelOrder(ctx context.Context, userID, orderID int64) (*shop.Order, error)
	FindOrder(ctx context.Context, userID, orderID int64) (*shop.Order, error)
	FindOrders(ctx context.Context, f shop.OrderFilter) ([]*shop.Order, int64, error)
	Ledger(ctx context.Context, f shop.LedgerFilter) ([]*shop.LedgerEntry, uint64, error)
	IssueKey(ctx context.Context, userID int64, prefix string) (string, *shop.APIKey, error)
	RevokeKey(ctx context.Context, userID int64, prefix string) (int, error)
	Keys(ctx context.Context, userID int64) ([]*shop.APIKey, error)
	Referrals(ctx context.Context, userID int64) (*shop.ReferralStats, error)
	ReferralShare() int64
	SetAlertPrefs(ctx context.Context, userID int64, p shop.AlertPrefs) (*shop.User, error)
	LowBalanceCrossed(ctx context.Context, userID int64) (bool, *shop.User, error)
	Quote(ctx context.Context, req shop.QuoteRequest) (*shop.Quote, error)

	// Webhook endpoints (🔑 API → 🪝 Webhooks); FindWebhook is below.
	CreateWebhook(ctx context.Context, userID int64, rawURL string, types []shop.PartnerEventType) (*shop.Webhook, error)
	Webhooks(ctx context.Context, userID int64) ([]*shop.Webhook, error)
	DeleteWebhook(ctx context.Context, userID int64, id string) error
	RotateWebhookSecret(ctx context.Context, userID int64, id string) (*shop.Webhook, error)
	EnableWebhook(ctx context.Context, userID int64, id string) (*shop.Webhook, error)
	TestWebhook(ctx context.Context, userID int64, id string) (*shop.WebhookDelivery, error)
	WebhookDeliveries(ctx context.Context, userID int64, id string, before uint64, limit int) ([]*shop.WebhookDelivery, uint64, error)

	// Admin operations.
	Stats(ctx context.Context) (*shop.Stats, error)
	FindUserByUsername(ctx context.Context, name string) (*shop.User, error)
	AdminCredit(ctx context.Context, adminID, userID int64, amount shop.NanoTON, reason string) (*shop.LedgerEntry, error)
	AdminDebit(ctx context.Context, adminID, userID int64, amount shop.NanoTON, reason string) (*shop.LedgerEntry, error)
	CompleteOrder(ctx context.Context, adminID, orderID int64, ref string) (*shop.Order, error)
	Refund(ctx context.Context, adminID, orderID int64, reason string) (*shop.Order, error)
	FindDeposit(ctx context.Context, id uint64) (*shop.Deposit, error)
	FindWebhook(ctx context.Context, userID int64, id string) (*shop.Webhook, error)
	FindDeposits(ctx context.Context, status shop.DepositStatus, before uint64, limit int) ([]*shop.Deposit, error)
	AssignDeposit(ctx context.Context, adminID int64, depositID uint64, userID int64) (*shop.Deposit, error)
	SetBanned(ctx context.Context, userID int64, banned bool) (*shop.User, error)
	SavePricing(ctx context.Context, p shop.Pricing) error
	ResetPricing(ctx context.Context, defaults shop.Pricing) error
	PricingSaved(ctx context.Context) (bool, error)
	Audit(ctx context.Context, e shop.AuditEntry) (*shop.AuditEntry, error)
	AuditLog(ctx context.Context, limit int) ([]*shop.AuditEntry, error)
}

var _ Shop = (*shop.Service)(nil)

// Config is what New needs; zero optional fields take their defaults.
type Config struct {
	Shop      Shop         // required; normally the *shop.Service
	State     StateStore   // required: per-chat flow state (bbolt in production)
	Token     string       // required; secret: never logged
	APIURL    string       // Bot API server; default DefaultAPIURL
	PublicURL string       // base URL of the REST API shown to partners; optional: empty or a loopback host (localhost, 127.0.0.1) is shown as "the API is not public"
	Logger    *slog.Logger // default slog.Default()
	// Explorer is the base URL of the TON explorer that receipts link
	// transactions to (ExplorerMainnet, ExplorerTestnet); empty (the
	// sandbox, whose transactions are simulated) shows hashes unlinked.
	Explorer string
	// SupportContact is whom buyers ask for help (SUPPORT_CONTACT): a
	// Telegram @username or an https URL; empty shows none.
	SupportContact string
	Now            func() time.Time

	// Admins are the Telegram user ids allowed the admin commands, and
	// the chats alerts go to (ADMIN_IDS). The rest serve the admin
	// screens; each may be nil (zero), and the screen says so.
	Admins         []int64
	WalletBalance  func(context.Context) (shop.NanoTON, error) // hot wallet balance for /stats
	WalletUSDT     func(context.Context) (int64, error)        // hot wallet's USDT (jetton units) for /stats; nil: not shown
	USDTMaster     string                                      // USDT jetton master of the USDT top-up and payment links; "": USDT not offered
	WatcherLag     func() (time.Duration, bool)                // deposit watcher lag for /stats
	ProviderHealth func() (ok bool, reason string)             // fulfillment provider health for /stats
	ProviderNotice func() string                               // what admins should know about a working provider, for /stats
	ProviderQueue  func() (depth int, oldest time.Duration)    // the fulfillment queue's depth and oldest wait, for /stats
	Backup         func(io.Writer) (int64, error)              // writes the chat copy (/backup): compressed as starsbot restore reads it, encrypted to BackupRecipients
	BackupDir      string                                      // where /backup stages its snapshot; default os.TempDir()
	DefaultPricing shop.Pricing                                // the configured price list, for /fees reset
	AlertRepeat    time.Duration                               // reminder interval of an unhealthy provider; default 1h
	// AlertBatchWindow is how often, at most, admins get a message about
	// unmatched deposits (ALERT_BATCH_WINDOW); default 1m.
	AlertBatchWindow time.Duration
	// BackupUploadLimit is the largest backup /backup sends; default
	// DefaultBackupUploadLimit (the Bot API's). A larger one is answered
	// with where the latest scheduled backup is (ScheduledBackup).
	BackupUploadLimit int64
	// ScheduledBackup reports the scheduled backups, for /backup; nil: as
	// if they were off.
	ScheduledBackup func() ScheduledBackup
	// BackupRecipients names who Backup encrypts the chat copy to (age
	// public keys), for the caption. Empty: /backup sends no database to
	// chat, since it may hold secrets and does hold customer data; it
	// says where the scheduled backups are instead.
	BackupRecipients []string

	PollTimeout   time.Duration // long-poll timeout; default 25s (whole seconds; below 1s polls short)
	UpdateTimeout time.Duration // deadline of the context of each update; default 15s
	StateTTL      time.Duration // how long a multi-step flow waits for input; default 15m
	GlobalRate    float64       // outbound messages per second, all chats; default 30; <0 unlimited
	ChatRate      float64       // outbound messages per second per chat; default 1; <0 unlimited
	ChatBurst     int           // default 3
	MaxRetryAfter time.Duration // longest 429 retry_after honoured before giving up on a message; default 1m
	ShutdownGrace time.Duration // how long Run lets accepted updates finish after ctx is done; default 8s
	// Sleep waits d or until ctx is done; default a timer. Tests replace it
	// to observe flood waits and polling back-off without waiting.
	Sleep func(ctx context.Context, d time.Duration) error
	// AfterFunc calls f once, after d, in its own goroutine, unless stop
	// is called first; stop reports whether it kept f from running, as
	// time.Timer.Stop does. Default time.AfterFunc. Tests replace it to
	// end an alert batch window without waiting.
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
	// WebhookURL switches the bot to webhook mode (webhookmode.go): at
	// Run it calls setWebhook with this https URL and never getUpdates;
	// WebhookHandler serves the updates Telegram POSTs to it. Empty: long
	// polling, after deleting a webhook an earlier run left set.
	WebhookURL string
	// PollGate, in long-polling mode, lets the bot poll only while it
	// returns a live context: Run waits on it, polls until that context
	// ends, then waits again (a replica polls only while it leads; one
	// getUpdates consumer at a time). It returns an error only when ctx is
	// done. nil: poll throughout Run.
	PollGate func(ctx context.Context) (context.Context, error)
	// WebhookSecret is setWebhook's secret_token, checked on every
	// request; secret: never logged. Default DeriveWebhookSecret(Token).
	WebhookSecret string
	// WebhookInfoInterval is how often webhook mode asks getWebhookInfo
	// for /health; default 1m.
	WebhookInfoInterval time.Duration
	// WebhookWait is the longest a webhook request waits for its update
	// to be handled before answering 200; default 5s.
	WebhookWait time.Duration
	// Client is the HTTP client of the Bot API; default one with a 30s
	// Timeout. Its Timeout bounds sends and edits; long polls, getMe,
	// setMyCommands and uploads use only its Transport, with their own
	// deadlines (see telegram.go).
	Client *http.Client
}

// Bot is the Telegram front door of the shop for end users and partners.
// Make it with New, hand it events (HandleEvent from Service.Subscribe,
// or Tell from a shop.Notifier), then call Run.
type Bot struct {
	Config // as New completed it; read-only

	running atomic.Bool
	tb      *tele.Bot
	lim     *limiter
	disp    *dispatcher
	events  chan shop.Event
	base    atomic.Pointer[context.Context] // parent of every update's context, set by Run
	work    *inflight                       // what Idle waits for
	blocked blockedChats                    // users who blocked the bot
	stopped chan struct{}                   // closed when Run returns

	wh webhookState // webhook mode (webhookmode.go)

	pollOK   atomic.Int64 // b.Now() in Unix nanoseconds of the last successful getMe or getUpdates; 0 before
	pollFail atomic.Bool  // the latest getMe or getUpdates failed

	bannedMu   sync.Mutex
	bannedSeen map[int64]time.Time // banned users already refused, and when

	alertMu          sync.Mutex
	unhealthyAlerted time.Time // last provider-unhealthy alert sent; zero when healthy

	unmatchedMu sync.Mutex
	unmatched   unmatchedBatch // unmatched deposits waiting for their alert
}

// New validates cfg, applies defaults and builds the handler tree. It
// makes no network call.
func New(cfg Config) (*Bot, error) {
	switch {
	case cfg.Shop == nil:
		return nil, errors.New("bot: Shop is required")
	case cfg.State == nil:
		return nil, errors.New("bot: State is required")
	case cfg.Token == "":
		return nil, errors.New("bot: Token is required")
	}
	b := &Bot{Config: cfg}
	if err := b.init(); err != nil {
		return nil, err
	}
	return b, nil
}

// init applies the defaults and builds the handler tree.
func (b *Bot) init() error {
	if b.APIURL == "" {
		b.APIURL = DefaultAPIURL
	}
	b.APIURL = strings.TrimRight(b.APIURL, "/")
	if b.Logger == nil {
		b.Logger = slog.Default()
	}
	if b.Now == nil {
		b.Now = time.Now
	}
	if b.PollTimeout == 0 {
		b.PollTimeout = DefaultPollTimeout
	}
	if b.UpdateTimeout == 0 {
		b.UpdateTimeout = DefaultUpdateTimeout
	}
	if b.StateTTL == 0 {
		b.StateTTL = DefaultStateTTL
	}
	if b.MaxRetryAfter == 0 {
		b.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if b.ShutdownGrace == 0 {
		b.ShutdownGrace = DefaultShutdownGrace
	}
	if b.Sleep == nil {
		b.Sleep = sleepCtx
	}
	if b.AlertRepeat == 0 {
		b.AlertRepeat = DefaultAlertRepeat
	}
	if b.BackupUploadLimit <= 0 {
		b.BackupUploadLimit = DefaultBackupUploadLimit
	}
	if b.AlertBatchWindow <= 0 {
		b.AlertBatchWindow = DefaultAlertBatchWindow
	}
	if b.AfterFunc == nil {
		b.AfterFunc = func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
	}
	for _, id := range b.Admins {
		if id <= 0 {
			return fmt.Errorf("bot: admin id %d is not a Telegram user id", id)
		}
	}
	if b.Client == nil {
		b.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if err := b.initWebhook(); err != nil {
		return err
	}
	b.lim = newLimiter(b.GlobalRate, b.ChatRate, b.ChatBurst)
	b.work = newInflight()
	b.stopped = make(chan struct{})
	b.disp = newDispatcher(DefaultChatQueue, b.work)
	b.events = make(chan shop.Event, DefaultEventQueue)
	b.bannedSeen = map[int64]time.Time{}

	tb, err := tele.NewBot(tele.Settings{
		URL:         b.APIURL,
		Token:       b.Token,
		Offline:     true, // getMe is called by Run, with retries and a context
		Synchronous: true, // the dispatcher provides per-chat order and cross-chat parallelism
		ParseMode:   tele.ModeHTML,
		Client:      b.Client,
		OnError: func(err error, c tele.Context) {
			b.Logger.Error("telegram handler failed", "error", b.redact(err))
		},
	})
	if err != nil {
		return fmt.Errorf("bot: %w", b.redact(err))
	}
	b.tb = tb
	b.routes()
	return nil
}

// Run connects to the Bot API and handles updates by long polling (or,
// with WebhookURL, the updates WebhookHandler receives) until ctx is done. It then stops polling, lets the updates and notifications it
// already accepted finish (for at most ShutdownGrace; later ones are
// dropped, and Telegram redelivers unconfirmed updates), and returns nil.
// An unreachable Bot API or a rejected token is logged and retried. Run
// may be called once per Bot.
func (b *Bot) Run(ctx context.Context) error {
	if !b.running.CompareAndSwap(false, true) {
		return errors.New("bot: Run called twice")
	}
	defer close(b.stopped)
	// Handlers outlive ctx by up to ShutdownGrace, so that a reply is not
	// cut off halfway through a shop operation.
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()
	b.base.Store(&base)

	me, err := b.getMe(ctx)
	if err != nil {
		return nil // ctx is done
	}
	b.tb.Me = me
	b.Logger.Info("telegram bot started", "username", me.Username, "api_url", b.APIURL)
	b.setCommands(ctx)
	b.setAdminCommands(ctx)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		b.routeEvents(ctx)
	}()
	if b.WebhookURL != "" {
		b.runWebhook(ctx)
		b.wh.ready.Store(false) // the handler answers 503 from now on
	} else {
		b.pollGated(ctx)
	}
	b.Logger.Info("telegram bot stopping: no more updates taken, finishing accepted ones", "grace", b.ShutdownGrace)
	wg.Wait()
	b.stopUnmatched()
	grace := time.AfterFunc(b.ShutdownGrace, cancelBase)
	defer grace.Stop()
	b.disp.closeAndWait()
	b.Logger.Info("telegram bot stopped")
	return nil
}

// HandleEvent queues a shop event for the buyer's chat (deposits
// credited, and orders paid, completed, waiting for manual delivery,
// refunded or expired) or, for an unmatched deposit, for the admins. It
// never blocks: when the queue is full the event is dropped and logged,
// and an event queued when the process dies is lost. Subscribe it with
// Service.Subscribe; a shop.Notifier hands events durably (Tell).
func (b *Bot) HandleEvent(e shop.Event) {
	if e.UserID <= 0 && e.Type != shop.EventUnmatchedDeposit {
		return
	}
	b.work.add(1)
	select {
	case b.events <- e:
	default:
		b.work.add(-1)
		b.Logger.Warn("telegram notification queue full; event dropped", "event", e.Type, "user_id", e.UserID, "order_id", e.OrderID)
	}
}

// routeEvents moves events into their chat's queue, behind the updates of
// that chat that arrived first.
func (b *Bot) routeEvents(ctx context.Context) {
	for {
		select {
		case e := <-b.events:
			if e.Type == shop.EventUnmatchedDeposit {
				b.queueUnmatched(e)
			} else if !b.disp.enqueue(e.UserID, func() { b.notify(b.baseContext(), e) }) {
				b.Logger.Warn("telegram chat queue full; notification dropped", "event", e.Type, "user_id", e.UserID)
			}
			b.work.add(-1) // after what it caused was counted
		case <-ctx.Done():
			return
		}
	}
}

// baseContext is the parent of every update's and notification's context.
func (b *Bot) baseContext() context.Context {
	if p := b.base.Load(); p != nil {
		return *p
	}
	return context.Background()
}

// ---- updates -------------------------------------------------------------

// process hands one update to telebot's router; handlers run synchronously
// here, in the chat's queue.
func (b *Bot) process(u tele.Update) {
	if b.baseContext().Err() != nil {
		b.Logger.Warn("telegram update dropped at shutdown", "update_id", u.ID)
		return
	}
	b.Logger.Debug("telegram update", "update_id", u.ID, "chat_id", updateChat(u))
	defer func() {
		if r := recover(); r != nil {
			b.Logger.Error("telegram update panicked outside a handler", "update_id", u.ID, "panic", b.redactString(fmt.Sprint(r)))
		}
	}()
	b.tb.ProcessUpdate(u)
}

// updateChat returns the chat an update belongs to, for ordering.
func updateChat(u tele.Update) int64 {
	switch {
	case u.Message != nil && u.Message.Chat != nil:
		return u.Message.Chat.ID
	case u.Callback != nil && u.Callback.Message != nil && u.Callback.Message.Chat != nil:
		return u.Callback.Message.Chat.ID
	case u.Callback != nil && u.Callback.Sender != nil:
		return u.Callback.Sender.ID
	}
	return 0
}

// menuCommands are the commands shown in Telegram's command menu: the
// buyer's. Partners reach the API from the 🔑 API button (or by typing
// /api, which still works).
var menuCommands = []string{"start", "balance", "orders", "language", "help", "faq"}

// setCommands publishes the command menu in each language; a failure is
// only logged.
func (b *Bot) setCommands(ctx context.Context) {
	for _, lang := range shop.Languages {
		var cmds []tele.Command
		for _, c := range menuCommands {
			cmds = append(cmds, tele.Command{Text: c, Description: tr(lang, "cmd."+c)})
		}
		opts := []any{cmds}
		if lang != shop.Languages[0] {
			opts = append(opts, lang) // language_code
		}
		call, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := b.api(call).SetCommands(opts...)
		cancel()
		if err != nil {
			b.Logger.Warn("telegram setMyCommands failed", "language", lang, "error", b.redact(err))
		}
	}
}

// getMe asks the Bot API who the bot is, retrying with backoff until it
// answers or ctx is done.
func (b *Bot) getMe(ctx context.Context) (*tele.User, error) {
	backoff := 500 * time.Millisecond
	for {
		var me tele.User
		call, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := b.raw(call, "getMe", nil, &me)
		cancel()
		if err == nil {
			b.polled(true)
			return &me, nil
		}
		if ctx.Err() == nil {
			b.polled(false)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		b.Logger.Error("telegram getMe failed", "error", b.redact(err), "retry_in", backoff)
		if err := sleepCtx(ctx, backoff); err != nil {
			return nil, err
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// LastPoll reports when the bot last reached the Bot API (a successful
// getMe at start, then each successful long poll; zero before the first)
// and whether its latest attempt failed: the health probe's view of
// Telegram.
func (b *Bot) LastPoll() (last time.Time, failing bool) {
	if ns := b.pollOK.Load(); ns != 0 {
		last = time.Unix(0, ns).In(time.UTC)
	}
	return last, b.pollFail.Load()
}

// polled records the outcome of a getMe or getUpdates.
func (b *Bot) polled(ok bool) {
	if ok {
		b.pollOK.Store(b.Now().UnixNano())
	}
	b.pollFail.Store(!ok)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ---- per-chat queues -------------------------------------------------------

// dispatcher runs jobs one at a time per chat, in arrival order, and chats
// in parallel. A chat's worker goroutine exists only while it has work.
// Each accepted job counts in busy until it has run.
type dispatcher struct {
	max    int
	busy   *inflight
	mu     sync.Mutex
	queues map[int64][]func() // present while the chat's worker runs
	closed bool
	wg     sync.WaitGroup
}

func newDispatcher(max int, work *inflight) *dispatcher {
	return &dispatcher{max: max, busy: work, queues: map[int64][]func(){}}
}

// enqueue adds job to chat's queue; false if the queue is full or closed.
func (d *dispatcher) enqueue(chat int64, job func()) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return false
	}
	q, running := d.queues[chat]
	if len(q) >= d.max {
		return false
	}
	d.queues[chat] = append(q, job)
	d.busy.add(1)
	if !running {
		d.wg.Add(1)
		go d.work(chat)
	}
	return true
}

func (d *dispatcher) work(chat int64) {
	defer d.wg.Done()
	for {
		d.mu.Lock()
		q := d.queues[chat]
		if len(q) == 0 {
			delete(d.queues, chat)
			d.mu.Unlock()
			return
		}
		job := q[0]
		q[0] = nil
		d.queues[chat] = q[1:]
		d.mu.Unlock()
		job()
		d.busy.add(-1)
	}
}

// isClosed reports whether closeAndWait has been called: enqueue refuses
// everything from then on.
func (d *dispatcher) isClosed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.closed
}

// closeAndWait refuses new jobs and waits for the queued ones to finish.
func (d *dispatcher) closeAndWait() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.wg.Wait()
}
