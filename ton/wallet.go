package ton

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	tonapi "github.com/xssnick/tonutils-go/ton"
	"github.com/xssnick/tonutils-go/ton/wallet"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"starsbot/shop"
)

// Wallet contract versions accepted in WalletConfig.Version.
const (
	WalletV4R2 = "v4r2"
	WalletV5R1 = "v5r1"
	// WalletHighloadV3 is the highload wallet v3: messages are identified
	// by a query id and their creation time instead of a seqno, so that
	// several may be in flight at once.
	WalletHighloadV3 = "highload_v3"
)

// Payouts per external message, as tonutils-go v1.18.0 (ton/wallet) allows:
// SpecV4R2.BuildMessage (v4r2.go) refuses more than 4 messages and
// SpecV5R1Final.BuildMessage (v5r1.go) more than 255. SpecHighloadV3
// (highloadv3.go) takes up to 254*254, but its packActions puts 253 in one
// internal message to the wallet and nests the rest in another one (a third
// transaction), which this wallet does not follow: 253.
const (
	batchLimitV4R2       = 4
	batchLimitV5R1       = 255
	batchLimitHighloadV3 = 253
)

// Batch errors, wrapped with details.
var (
	// ErrBatchTooLarge: more payouts than BatchLimit. Nothing is signed.
	ErrBatchTooLarge = errors.New("ton: batch too large for the wallet")
	// ErrBatchUnaffordable: the wallet's balance, less what its messages
	// in flight may still spend, is below BatchCost. Nothing is signed.
	// It is shop.ErrUnaffordable, which callers test with errors.Is.
	ErrBatchUnaffordable = fmt.Errorf("ton: the wallet cannot pay the batch in full: %w", shop.ErrUnaffordable)
)

// HighloadV3Timeout is the highload_v3 wallet's message timeout: a message
// is executed only while its created_at is less than this old. It is in the
// wallet's StateInit, so it is part of its address: changing it changes the
// wallet.
const HighloadV3Timeout = 120 * time.Second

// Wallet defaults and margins.
const (
	defaultWalletPoll = 2 * time.Second
	defaultWalletTTL  = 120 * time.Second
	// defaultBounceWindow is how long, in chain time after the paying
	// transaction, a payout waits for a bounce before it is confirmed.
	defaultBounceWindow = 20 * time.Second
	// DefaultFeeReserve is held back per payment on top of its amount
	// when deciding whether a batch is affordable (see BatchCost).
	// A transfer from a v4r2/v5r1/highload_v3 wallet costs well under
	// 0.003 TON at basechain prices (forward fee of a message with a
	// one- or two-cell body ≈ 0.0005–0.0015 TON, its share of the
	// wallet's compute and storage less), and tonutils attaches 0.007 TON
	// per payment to a highload_v3 pack (highloadv3.go packActions).
	DefaultFeeReserve shop.NanoTON = 10_000_000 // 0.01 TON
	// batchFeeReserve is held back once per message: the external
	// message's own gas and storage, and the 0.01 TON tonutils adds to a
	// highload_v3 pack.
	batchFeeReserve shop.NanoTON = 30_000_000 // 0.03 TON
	// minValidity is the least validity a message is signed with: a payee
	// deadline closer than this refuses the payout before signing.
	minValidity = 10 * time.Second
	// clockSkew is how far our clock may be from block time: a message is
	// expired only this long after its valid_until, and the search for its
	// transaction goes back this far before it was signed.
	clockSkew = time.Minute
	// rebroadcastEvery spaces re-broadcasts of a pending message.
	rebroadcastEvery = 10 * time.Second
	// payoutMode is PayGasSeparately+IgnoreErrors: fees on top of the
	// amount, and the +2 bit a V5 wallet requires (else exit code 137);
	// a payment the wallet cannot afford is skipped, the others are sent.
	payoutMode = wallet.PayGasSeparately + wallet.IgnoreErrors
	v5SignOp   = 0x7369676e // V5 external "sign" op
	// highloadBackdate is how far before our clock a highload_v3 message's
	// created_at is put: the contract refuses created_at > now.
	highloadBackdate = 10 * time.Second
	// maxExtMsgBytes is the largest external message validators accept
	// (max_ext_msg_size); a larger signed batch is refused before record.
	maxExtMsgBytes = 65535
)

// WalletConfig selects the hot wallet. Its String, GoString and LogValue
// hide the mnemonic.
type WalletConfig struct {
	Mnemonic string // 24 words; secret: never in errors or logs
	Version  string // WalletV4R2, WalletV5R1 or WalletHighloadV3
	// Testnet selects the network: the V5 NetworkGlobalID (-3 testnet,
	// -239 mainnet, which changes the V5 address) and the display form
	// of the address (0Q… instead of UQ…).
	Testnet bool
}

// String describes c without its mnemonic.
func (c WalletConfig) String() string {
	return fmt.Sprintf("WalletConfig{Version:%s Testnet:%t Mnemonic:[redacted]}", c.Version, c.Testnet)
}

// GoString is String, so that %#v hides the mnemonic too.
func (c WalletConfig) GoString() string { return c.String() }

// LogValue logs c without its mnemonic.
func (c WalletConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("version", c.Version), slog.Bool("testnet", c.Testnet))
}

// Wallet is the service's hot wallet (v4r2, v5r1 or highload_v3). It sends
// payouts crash-safely: each message is signed, handed to the caller to
// record durably, and only then broadcast; after a restart ResumeBatch
// finds the outcome of a recorded message, re-broadcasting it while it can
// still be accepted, and never signs. A message may pay up to BatchLimit
// payouts, each decided by its own out-message.
//
// Seqno wallets (v4r2, v5r1) have one message in flight: a message is
// signed only once the previous one's seqno is spent or the message is
// expired by chain time (the "gate", under a mutex held from the seqno
// read to the signature only; waiting for outcomes, bounces and
// destinations is done without it). highload_v3 messages are signed in
// parallel, each with its own query id.
type Wallet struct {
	Now          func() time.Time // default time.Now
	Logger       *slog.Logger     // default slog.Default()
	PollInterval time.Duration    // between outcome checks while waiting; default 2s
	// TTL is how long a signed v4r2/v5r1 message stays valid; default
	// 120s. A highload_v3 message is valid for HighloadV3Timeout.
	TTL time.Duration
	// BounceWindow is how long after the paying transaction (in chain
	// time) a bounce of the payment is waited for before the payout is
	// confirmed; default 20s. A bounceable payment to a contract that
	// refuses it comes back to the wallet within a few blocks.
	BounceWindow time.Duration
	// FeeReserve is held back per payment by BatchCost; default
	// DefaultFeeReserve (0.01 TON).
	FeeReserve shop.NanoTON

	api     tonapi.APIClientWrapped
	w       *wallet.Wallet
	key     ed25519.PrivateKey
	spec    walletSpec // seqno wallets
	addr    *address.Address
	version string
	info    shop.WalletInfo

	mu sync.Mutex // seqno wallets: held from the gate through the signature

	fmu     sync.Mutex
	flights map[*flight]struct{} // messages signed or resumed here and not yet landed or expired
	gen     uint64               // incremented whenever a flight goes
	qid     uint32               // highload_v3: the next query id
}

// flight is a message that may still be executed: it reserves its cost
// from the balance and, on a seqno wallet, holds its seqno.
type flight struct {
	hash        string
	seqnoWallet bool
	seqno       uint32
	validUntil  time.Time // zero while being signed
	cost        shop.NanoTON
}

// walletSpec is what both *wallet.SpecV4R2 and *wallet.SpecV5R1Final offer
// to sign without asking the chain.
type walletSpec interface {
	SetMessagesTTL(ttl uint32)
	SetSeqnoFetcher(func(ctx context.Context, subwallet uint32) (uint32, error))
}

// NewWallet derives the wallet of cfg and reads nothing from the chain. api
// is used by Balance, Send, Resume and Check. Errors never contain the
// mnemonic.
func NewWallet(api tonapi.APIClientWrapped, cfg WalletConfig) (*Wallet, error) {
	if api == nil {
		return nil, errors.New("ton: NewWallet: nil API client")
	}
	words := strings.Fields(cfg.Mnemonic)
	if len(words) != 24 {
		return nil, fmt.Errorf("ton: wallet mnemonic has %d words, want 24", len(words))
	}
	if _, _, err := versionConfig(cfg); err != nil {
		return nil, err
	}
	// wallet.FromSeedWithOptions in two steps, so that only the key
	// derivation's error is hidden: tonutils quotes an unknown word in it.
	key, err := wallet.SeedToPrivateKeyWithOptions(words)
	if err != nil {
		return nil, errors.New("ton: the wallet mnemonic is not a valid TON mnemonic (unknown words or bad checksum)")
	}
	return walletFromKey(api, key, cfg)
}

// highloadTimeoutSecs is HighloadV3Timeout as the contract stores it.
const highloadTimeoutSecs = uint32(HighloadV3Timeout / time.Second)

// versionConfig returns tonutils' version config of cfg and the network's
// global id as WalletInfo.Chain shows it.
func versionConfig(cfg WalletConfig) (wallet.VersionConfig, string, error) {
	globalID, chain := int32(wallet.MainnetGlobalID), "-239"
	if cfg.Testnet {
		globalID, chain = wallet.TestnetGlobalID, "-3"
	}
	switch cfg.Version {
	case WalletV4R2:
		return wallet.V4R2, chain, nil
	case WalletV5R1:
		return wallet.ConfigV5R1Final{NetworkGlobalID: globalID, Workchain: 0}, chain, nil
	case WalletHighloadV3:
		return wallet.ConfigHighloadV3{MessageTTL: highloadTimeoutSecs}, chain, nil
	}
	return nil, "", fmt.Errorf("ton: unknown wallet version %q (want %s, %s or %s)", cfg.Version, WalletV4R2, WalletV5R1, WalletHighloadV3)
}

// walletFromKey is NewWallet after the key derivation; cfg.Mnemonic is
// not used.
func walletFromKey(api tonapi.APIClientWrapped, key ed25519.PrivateKey, cfg WalletConfig) (*Wallet, error) {
	vc, chain, err := versionConfig(cfg)
	if err != nil {
		return nil, err
	}
	w, err := wallet.FromPrivateKey(api, key, vc)
	if err != nil {
		return nil, fmt.Errorf("ton: wallet %s: %w", cfg.Version, err)
	}
	var spec walletSpec
	if cfg.Version != WalletHighloadV3 {
		var ok bool
		if spec, ok = w.GetSpec().(walletSpec); !ok {
			return nil, fmt.Errorf("ton: wallet %s: unexpected tonutils spec %T", cfg.Version, w.GetSpec())
		}
	}
	pub := key.Public().(ed25519.PublicKey)
	si, err := wallet.GetStateInit(pub, vc, w.GetSubwalletID())
	if err != nil {
		return nil, fmt.Errorf("ton: wallet state init: %w", err)
	}
	siCell, err := tlb.ToCell(si)
	if err != nil {
		return nil, fmt.Errorf("ton: wallet state init: %w", err)
	}
	addr := w.WalletAddress() // non-bounceable
	return &Wallet{
		// Defaults, set once here; callers may change them before use.
		Now:          time.Now,
		Logger:       slog.Default(),
		PollInterval: defaultWalletPoll,
		TTL:          defaultWalletTTL,
		BounceWindow: defaultBounceWindow,
		FeeReserve:   DefaultFeeReserve,
		api:          api,
		w:            w,
		key:          key,
		spec:         spec,
		addr:         addr,
		version:      cfg.Version,
		flights:      map[*flight]struct{}{},
		// Query ids start where the clock points (one shift of 1023 ids
		// per second, wrapping every 2.3 hours), so that a restarted
		// process is unlikely to reuse the ids of its predecessor's
		// recent messages. A reused id only makes the contract refuse
		// the message (it then expires): it can never pay twice.
		qid: (uint32(time.Now().Unix()) % (1 << 13)) << 10,
		info: shop.WalletInfo{
			Address:      addr.Testnet(cfg.Testnet).String(),
			RawAddress:   addr.StringRaw(),
			Chain:        chain,
			PublicKey:    hex.EncodeToString(pub),
			StateInitBOC: siCell.ToBOC(),
			Version:      cfg.Version,
		},
	}, nil
}

// Info describes the wallet.
func (w *Wallet) Info() shop.WalletInfo {
	info := w.info
	info.StateInitBOC = bytes.Clone(info.StateInitBOC)
	return info
}

// Address returns the wallet's user-friendly, non-bounceable address.
func (w *Wallet) Address() string { return w.info.Address }

// BatchLimit is the most payouts one SendBatch takes: 4 for v4r2, 255 for
// v5r1, 253 for highload_v3.
func (w *Wallet) BatchLimit() int {
	switch w.version {
	case WalletV4R2:
		return batchLimitV4R2
	case WalletHighloadV3:
		return batchLimitHighloadV3
	}
	return batchLimitV5R1
}

// BatchCost is what the wallet must hold to sign ps as one message: the
// amounts, FeeReserve per payout and 0.03 TON for the message itself.
// SendBatch refuses a batch that costs more than Balance.
func (w *Wallet) BatchCost(ps []shop.Payout) shop.NanoTON {
	reserve := w.FeeReserve
	sum := batchFeeReserve
	for _, p := range ps {
		add := max(p.Amount, 0) + reserve
		if sum > math.MaxInt64-add {
			return math.MaxInt64
		}
		sum += add
	}
	return sum
}

// Balance returns what the wallet may spend on new batches: its balance at
// the newest masterchain block (0 when the account does not exist; an
// uninit account, funded and not yet deployed, has its balance: the first
// message deploys it), less the cost of the messages signed or resumed by
// this Wallet that have not yet landed or expired. A batch ps is
// affordable when BatchCost(ps) <= Balance.
func (w *Wallet) Balance(ctx context.Context) (shop.NanoTON, error) {
	_, acc, err := w.account(ctx)
	if err != nil {
		return 0, err
	}
	b, err := accountBalance(acc)
	if err != nil {
		return 0, err
	}
	return max(b-w.reserved(), 0), nil
}

func accountBalance(acc *tlb.Account) (shop.NanoTON, error) {
	if !acc.IsActive || acc.State == nil {
		return 0, nil
	}
	n := acc.State.Balance.Nano()
	if !n.IsInt64() {
		return 0, fmt.Errorf("ton: wallet balance %s nanoTON out of range", n)
	}
	return shop.NanoTON(n.Int64()), nil
}

// Send pays p: SendBatch of one payout.
func (w *Wallet) Send(ctx context.Context, p shop.Payout, record func(context.Context, *shop.SignedPayout) error) (*shop.PayoutResult, error) {
	if record == nil {
		return nil, errors.New("ton: Send: nil record func")
	}
	res, err := w.SendBatch(ctx, []shop.Payout{p}, func(ctx context.Context, sps []*shop.SignedPayout) error { return record(ctx, sps[0]) })
	if len(res) == 0 {
		return nil, err
	}
	return res[0], err
}

// SendBatch pays ps with one external message. It validates every payout
// (any invalid, two paying the same amount to the same address with the
// same payload, or more than BatchLimit: an error, nothing signed); on a
// seqno wallet it waits until no earlier message of this Wallet can still
// take the seqno; it reads the balance and refuses with
// ErrBatchUnaffordable a batch costing more (BatchCost) than the wallet
// can spend; it signs one message valid until the earliest of the wallet's
// TTL and every payout's ValidUntil, and calls record once with one
// SignedPayout per payout (in the order of ps; same message, own Index,
// To, Amount and BodyHash). If record fails, SendBatch returns its error
// and broadcasts nothing. Otherwise it broadcasts the message and waits,
// re-broadcasting it while pending and valid, until every payout is
// Confirmed, Failed or Expired, or ctx ends: then the unfinished ones are
// Pending and the error is ctx.Err(), and the recorded payouts should be
// passed to ResumeBatch later. Each payout is decided by its own
// out-message: one skipped for lack of funds or bounced fails alone.
// Results are in the order of ps. Chain errors while waiting are logged
// and retried.
func (w *Wallet) SendBatch(ctx context.Context, ps []shop.Payout, record func(context.Context, []*shop.SignedPayout) error) ([]*shop.PayoutResult, error) {
	if record == nil {
		return nil, errors.New("ton: SendBatch: nil record func")
	}
	msgs, until, err := w.batchMessages(ps)
	if err != nil {
		return nil, err
	}
	cost := w.BatchCost(ps)
	var (
		b *batch
		f *flight
	)
	if w.version == WalletHighloadV3 {
		b, f, err = w.prepareHighload(ctx, ps, msgs, until, cost)
	} else {
		b, f, err = w.prepareSeqno(ctx, ps, msgs, until, cost)
	}
	if err != nil {
		return nil, err
	}
	if err := record(ctx, b.sps); err != nil {
		w.dropFlight(f) // never broadcast
		return nil, err
	}
	w.Logger.Info("payouts signed", "hash", b.sps[0].Hash, "seqno", b.body.seqno, "query_id", b.body.queryID, "payouts", len(b.sps), "cost", int64(cost), "deploy", b.ext.StateInit != nil)
	w.broadcast(ctx, b)
	return w.wait(ctx, b, w.Now())
}

// batchMessages validates ps and builds their internal messages; until is
// the earliest payee deadline (zero if none).
func (w *Wallet) batchMessages(ps []shop.Payout) ([]*wallet.Message, time.Time, error) {
	if len(ps) == 0 {
		return nil, time.Time{}, errors.New("ton: empty batch")
	}
	if len(ps) > w.BatchLimit() {
		return nil, time.Time{}, fmt.Errorf("%w: %d payouts, a %s message carries at most %d", ErrBatchTooLarge, len(ps), w.version, w.BatchLimit())
	}
	var (
		until time.Time
		now   time.Time
		msgs  = make([]*wallet.Message, len(ps))
		seen  = make(map[paymentKey]int, len(ps))
		total shop.NanoTON
	)
	for i, p := range ps {
		fail := func(err error) ([]*wallet.Message, time.Time, error) {
			if len(ps) > 1 {
				err = fmt.Errorf("payout %d: %w", i, err)
			}
			return nil, time.Time{}, err
		}
		msg, err := payoutMessage(p)
		if err != nil {
			return fail(err)
		}
		if !p.ValidUntil.IsZero() {
			if now.IsZero() {
				now = w.Now()
			}
			if p.ValidUntil.Before(now.Add(minValidity)) {
				return fail(fmt.Errorf("ton: payout must be paid by %s, too soon to sign", p.ValidUntil.UTC().Format(time.RFC3339)))
			}
			if until.IsZero() || p.ValidUntil.Before(until) {
				until = p.ValidUntil
			}
		}
		if total > math.MaxInt64-p.Amount {
			return fail(errors.New("ton: batch total overflows"))
		}
		total += p.Amount
		k := keyOf(msg.InternalMessage)
		if j, ok := seen[k]; ok {
			return fail(fmt.Errorf("ton: payouts %d and %d pay the same amount to the same address with the same payload: they could not be told apart on chain", j, i))
		}
		seen[k] = i
		msgs[i] = msg
	}
	return msgs, until, nil
}

// prepareSeqno signs msgs on a seqno wallet: under w.mu, it passes the
// gate, reserves cost, reads the seqno and signs. The flight it returns
// holds the seqno until the message lands or expires.
func (w *Wallet) prepareSeqno(ctx context.Context, ps []shop.Payout, msgs []*wallet.Message, until time.Time, cost shop.NanoTON) (*batch, *flight, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	master, acc, f, err := w.gate(ctx, cost)
	if err != nil {
		return nil, nil, err
	}
	b, err := func() (*batch, error) {
		deployed := acc.IsActive && acc.State != nil && acc.State.Status == tlb.AccountStatusActive
		var seqno uint32
		if deployed {
			res, err := w.api.WaitForBlock(master.SeqNo).RunGetMethod(ctx, master, w.addr, "seqno")
			if err != nil {
				return nil, fmt.Errorf("ton: wallet seqno: %w", err)
			}
			n, err := res.Int(0)
			if err != nil || !n.IsUint64() || n.Uint64() > math.MaxUint32 {
				return nil, fmt.Errorf("ton: wallet seqno: unexpected result (%v)", err)
			}
			seqno = uint32(n.Uint64())
		}
		if seqno != f.seqno {
			return nil, fmt.Errorf("ton: wallet seqno: get-method says %d, account data %d", seqno, f.seqno)
		}
		ext, body, signedAt, err := w.signSeqno(ctx, msgs, seqno, !deployed, until)
		if err != nil {
			return nil, err
		}
		return w.newBatch(ext, body, signedAt, ps)
	}()
	if err != nil {
		w.dropFlight(f)
		return nil, nil, err
	}
	w.fmu.Lock()
	f.hash, f.validUntil = b.sps[0].Hash, b.sps[0].ValidUntil
	w.fmu.Unlock()
	return b, f, nil
}

// gate waits until no flight of this Wallet holds the wallet's current
// seqno (each lands, its seqno spent, or expires by chain time), then
// reserves cost on a new flight for that seqno. w.mu is held.
func (w *Wallet) gate(ctx context.Context, cost shop.NanoTON) (*tonapi.BlockIDExt, *tlb.Account, *flight, error) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, nil, nil, ctx.Err()
		case <-t.C:
		}
		gen := w.flightGen()
		master, acc, err := w.account(ctx)
		if err != nil {
			return nil, nil, nil, err
		}
		seqno, err := w.accountSeqno(acc)
		if err != nil {
			return nil, nil, nil, err
		}
		busy, err := w.seqnoBusy(ctx, master, seqno)
		if err != nil {
			return nil, nil, nil, err
		}
		if !busy {
			f := &flight{seqnoWallet: true, seqno: seqno, cost: cost}
			ok, stale, err := w.tryReserve(gen, acc, f)
			switch {
			case err != nil:
				return nil, nil, nil, err
			case ok:
				return master, acc, f, nil
			case !stale:
				return nil, nil, nil, w.unaffordable(acc, cost)
			}
			t.Reset(0)
			continue
		}
		t.Reset(w.PollInterval)
	}
}

// seqnoBusy drops the seqno flights that are done at seqno (spent, or
// expired by chain time) and reports whether one still holds it.
func (w *Wallet) seqnoBusy(ctx context.Context, master *tonapi.BlockIDExt, seqno uint32) (bool, error) {
	w.fmu.Lock()
	var held []*flight
	for f := range w.flights {
		if !f.seqnoWallet {
			continue
		}
		if f.seqno < seqno {
			delete(w.flights, f)
			w.gen++
			continue
		}
		held = append(held, f)
	}
	w.fmu.Unlock()
	busy := false
	for _, f := range held {
		expired, err := w.expiredByChain(ctx, master, f.validUntil)
		if err != nil {
			return false, err
		}
		if expired {
			w.dropFlight(f)
			continue
		}
		busy = true
	}
	return busy, nil
}

// expiredByChain reports whether validUntil (not zero) is past by more
// than clockSkew on our clock and on the chain's.
func (w *Wallet) expiredByChain(ctx context.Context, master *tonapi.BlockIDExt, validUntil time.Time) (bool, error) {
	late := validUntil.Add(clockSkew)
	if validUntil.IsZero() || !w.Now().After(late) {
		return false, nil
	}
	// Our clock says expired; make sure the chain's time agrees, so that
	// a lagging liteserver cannot make a landed message look lost.
	h, err := w.api.WaitForBlock(master.SeqNo).GetBlockHeader(ctx, master)
	if err != nil {
		return false, fmt.Errorf("ton: masterchain block %d header: %w", master.SeqNo, err)
	}
	return time.Unix(int64(h.GenUtime), 0).After(late), nil
}

// prepareHighload signs msgs on a highload_v3 wallet with a fresh query id,
// after reserving cost. No lock is held across messages.
func (w *Wallet) prepareHighload(ctx context.Context, ps []shop.Payout, msgs []*wallet.Message, until time.Time, cost shop.NanoTON) (*batch, *flight, error) {
	var (
		acc *tlb.Account
		f   *flight
	)
	for f == nil {
		gen := w.flightGen()
		var err error
		if _, acc, err = w.account(ctx); err != nil {
			return nil, nil, err
		}
		nf := &flight{cost: cost}
		ok, stale, err := w.tryReserve(gen, acc, nf)
		switch {
		case err != nil:
			return nil, nil, err
		case ok:
			f = nf
		case !stale:
			return nil, nil, w.unaffordable(acc, cost)
		}
	}
	now := w.Now()
	createdAt := now.Add(-highloadBackdate).Unix()
	if !until.IsZero() {
		// valid until created_at + timeout: backdate to meet the payee.
		createdAt = min(createdAt, until.Unix()-int64(highloadTimeoutSecs))
	}
	w.fmu.Lock()
	qid := w.qid
	w.qid = (w.qid + 1) % (1 << highloadQueryIDBits)
	if w.qid%1024 == 1023 { // bit_number 1023 is not a valid query id
		w.qid = (w.qid + 1) % (1 << highloadQueryIDBits)
	}
	w.fmu.Unlock()
	b, err := func() (*batch, error) {
		hw, err := wallet.FromPrivateKey(w.api, w.key, wallet.ConfigHighloadV3{
			MessageTTL: highloadTimeoutSecs,
			MessageBuilder: func(context.Context, uint32) (uint32, int64, error) {
				return qid, createdAt, nil
			},
		})
		if err != nil {
			return nil, fmt.Errorf("ton: sign payouts: %w", err)
		}
		if !hw.WalletAddress().Equals(w.addr) {
			return nil, errors.New("ton: sign payouts: highload wallet address changed")
		}
		deployed := acc.IsActive && acc.State != nil && acc.State.Status == tlb.AccountStatusActive
		ext, err := hw.PrepareExternalMessageForMany(ctx, !deployed, msgs)
		if err != nil {
			return nil, fmt.Errorf("ton: sign payouts: %w", err)
		}
		body, err := parseSignedBody(w.version, w.addr, ext.Body)
		if err != nil {
			return nil, err
		}
		if body.queryID != qid || int64(body.createdAt) != createdAt || body.timeout != highloadTimeoutSecs {
			return nil, fmt.Errorf("ton: sign payouts: signed query id %d created at %d timeout %d, want %d, %d and %d", body.queryID, body.createdAt, body.timeout, qid, createdAt, highloadTimeoutSecs)
		}
		return w.newBatch(ext, body, now, ps)
	}()
	if err != nil {
		w.dropFlight(f)
		return nil, nil, err
	}
	w.fmu.Lock()
	f.hash, f.validUntil = b.sps[0].Hash, b.sps[0].ValidUntil
	w.fmu.Unlock()
	return b, f, nil
}

// tryReserve adds f if the balance in acc, read at generation gen, covers
// f.cost on top of the other flights. stale: a flight went since gen (its
// cost may be in acc's balance already, or not): read again.
func (w *Wallet) tryReserve(gen uint64, acc *tlb.Account, f *flight) (ok, stale bool, err error) {
	balance, err := accountBalance(acc)
	if err != nil {
		return false, false, err
	}
	w.fmu.Lock()
	defer w.fmu.Unlock()
	if w.gen != gen {
		return false, true, nil
	}
	if balance-w.reservedLocked() < f.cost {
		return false, false, nil
	}
	w.flights[f] = struct{}{}
	return true, false, nil
}

func (w *Wallet) unaffordable(acc *tlb.Account, cost shop.NanoTON) error {
	balance, _ := accountBalance(acc)
	return fmt.Errorf("%w: it costs %s TON with fees reserved, the wallet holds %s TON of which %s TON are reserved by messages in flight",
		ErrBatchUnaffordable, cost, balance, w.reserved())
}

func (w *Wallet) flightGen() uint64 {
	w.fmu.Lock()
	defer w.fmu.Unlock()
	return w.gen
}

// reserved is the cost of the flights.
func (w *Wallet) reserved() shop.NanoTON {
	w.fmu.Lock()
	defer w.fmu.Unlock()
	return w.reservedLocked()
}

// reservedLocked sums the flights' costs, first dropping highload flights
// past their validity by our clock (they hold no seqno; only the balance
// estimate depends on them). w.fmu is held.
func (w *Wallet) reservedLocked() shop.NanoTON {
	var sum shop.NanoTON
	var now time.Time
	for f := range w.flights {
		if !f.seqnoWallet && !f.validUntil.IsZero() {
			if now.IsZero() {
				now = w.Now()
			}
			if now.After(f.validUntil.Add(clockSkew)) {
				delete(w.flights, f)
				w.gen++
				continue
			}
		}
		sum += f.cost
	}
	return sum
}

func (w *Wallet) dropFlight(f *flight) {
	w.fmu.Lock()
	defer w.fmu.Unlock()
	if _, ok := w.flights[f]; ok {
		delete(w.flights, f)
		w.gen++
	}
}

// land drops the flights of the message hash: it landed or expired.
func (w *Wallet) land(hash string) {
	w.fmu.Lock()
	defer w.fmu.Unlock()
	for f := range w.flights {
		if f.hash == hash {
			delete(w.flights, f)
			w.gen++
		}
	}
}

// Resume finds the outcome of a recorded payout: ResumeBatch of one.
func (w *Wallet) Resume(ctx context.Context, sp *shop.SignedPayout) (*shop.PayoutResult, error) {
	res, err := w.ResumeBatch(ctx, []*shop.SignedPayout{sp})
	if len(res) == 0 {
		return nil, err
	}
	return res[0], err
}

// ResumeBatch finds the outcome of recorded payouts of one message (all of
// its payouts or some), as SendBatch waits for them, re-broadcasting the
// same message while it is pending and valid. It never signs. It fails at
// once if the payouts do not share one Hash and BOC, if that is not an
// external message to this wallet with the recorded hash, seqno, query id
// and validity, or if a payout is not one of the message's payments (a
// record without To is accepted only for a message with one payment).
// Until the message lands or expires, it holds its seqno (v4r2, v5r1: no
// new message is signed meanwhile) and its cost is reserved; after a
// restart, resume the recorded messages before sending new ones. Results
// are in the order of sps.
func (w *Wallet) ResumeBatch(ctx context.Context, sps []*shop.SignedPayout) ([]*shop.PayoutResult, error) {
	b, err := w.verify(sps)
	if err != nil {
		return nil, err
	}
	f := &flight{hash: b.sps[0].Hash, seqnoWallet: w.version != WalletHighloadV3, seqno: b.body.seqno, validUntil: b.sps[0].ValidUntil, cost: b.cost(w)}
	w.fmu.Lock()
	known := false
	for g := range w.flights {
		known = known || g.hash == f.hash
	}
	if !known {
		w.flights[f] = struct{}{}
	}
	w.fmu.Unlock()
	return w.wait(ctx, b, time.Time{})
}

// Check looks once at the chain for the outcome of a recorded payout,
// without broadcasting or waiting. A chain error is returned as is.
func (w *Wallet) Check(ctx context.Context, sp *shop.SignedPayout) (*shop.PayoutResult, error) {
	b, err := w.verify([]*shop.SignedPayout{sp})
	if err != nil {
		return nil, err
	}
	res, _, err := w.check(ctx, b, make([]*shop.PayoutResult, 1))
	if err != nil {
		return nil, err
	}
	return res[0], nil
}

// payoutMessage validates p and builds its internal message.
func payoutMessage(p shop.Payout) (*wallet.Message, error) {
	if p.Amount <= 0 {
		return nil, fmt.Errorf("ton: payout amount %d nanoTON is not positive", p.Amount)
	}
	to, err := ParseAddress(p.To)
	if err != nil {
		return nil, fmt.Errorf("ton: payout: %w", err)
	}
	var body *cell.Cell
	if len(p.Payload) > 0 {
		if body, err = cell.FromBOC(p.Payload); err != nil {
			return nil, fmt.Errorf("ton: payout payload is not a valid BOC: %w", err)
		}
	}
	return &wallet.Message{
		Mode: payoutMode,
		InternalMessage: &tlb.InternalMessage{
			IHRDisabled: true,
			Bounce:      p.Bounce,
			DstAddr:     to,
			Amount:      tlb.FromNanoTONU(uint64(p.Amount)),
			Body:        body,
		},
	}, nil
}

// batch is a signed message and the payouts of it that are followed.
type batch struct {
	sps   []*shop.SignedPayout // each with To, Amount, BodyHash and Index known
	keys  []paymentKey
	ext   *tlb.ExternalMessage
	hash  []byte
	body  *signedBody
	since time.Time // the search for its transaction goes back to here
}

// cost is the message's BatchCost, from all of its payments.
func (b *batch) cost(w *Wallet) shop.NanoTON {
	ps := make([]shop.Payout, len(b.body.payments))
	for i, p := range b.body.payments {
		if n := p.msg.Amount.Nano(); n.IsInt64() {
			ps[i].Amount = shop.NanoTON(n.Int64())
		}
	}
	return w.BatchCost(ps)
}

// newBatch makes the SignedPayouts of a freshly signed message, checking
// that it pays exactly ps in order.
func (w *Wallet) newBatch(ext *tlb.ExternalMessage, body *signedBody, signedAt time.Time, ps []shop.Payout) (*batch, error) {
	if len(body.payments) != len(ps) {
		return nil, fmt.Errorf("ton: sign payouts: the message has %d payments, want %d", len(body.payments), len(ps))
	}
	c, err := tlb.ToCell(ext)
	if err != nil {
		return nil, fmt.Errorf("ton: serialize payouts: %w", err)
	}
	boc := c.ToBOC()
	if len(boc) > maxExtMsgBytes {
		return nil, fmt.Errorf("ton: the signed message is %d bytes, validators take at most %d: pay fewer payouts at once", len(boc), maxExtMsgBytes)
	}
	b := &batch{ext: ext, hash: ext.NormalizedHash(), body: body, since: signedAt.Add(-clockSkew)}
	hash := hex.EncodeToString(b.hash)
	var createdAt time.Time
	if w.version == WalletHighloadV3 {
		createdAt = time.Unix(int64(body.createdAt), 0).UTC()
		b.since = earliest(signedAt, createdAt).Add(-clockSkew)
	}
	for i, p := range ps {
		m := body.payments[i].msg
		if body.payments[i].mode != payoutMode || m.Amount.Nano().Int64() != int64(p.Amount) {
			return nil, fmt.Errorf("ton: sign payouts: payment %d is not payout %d", i, i)
		}
		k := keyOf(m)
		b.keys = append(b.keys, k)
		b.sps = append(b.sps, &shop.SignedPayout{
			Hash:       hash,
			BOC:        boc,
			Wallet:     w.info.Address,
			Seqno:      body.seqno,
			ValidUntil: time.Unix(int64(body.validUntil), 0).UTC(),
			SignedAt:   signedAt,
			Index:      i,
			QueryID:    body.queryID,
			CreatedAt:  createdAt,
			To:         p.To,
			Amount:     p.Amount,
			BodyHash:   k.body,
		})
	}
	return b, nil
}

// signSeqno signs msgs for seqno without sending them, valid until
// w.Now()+w.TTL or until, if that is earlier and set.
//
// tonutils' specs compute valid_until as the wall clock plus their TTL
// (v4r2.go, v5r1.go) and take no clock, so the TTL is set to our deadline
// minus the wall clock just before signing, and valid_until is read back
// from the signed body; if a second ticked in between, the message (never
// recorded nor sent) is signed again. w.mu is held.
func (w *Wallet) signSeqno(ctx context.Context, msgs []*wallet.Message, seqno uint32, withStateInit bool, until time.Time) (*tlb.ExternalMessage, *signedBody, time.Time, error) {
	now := w.Now()
	deadline := now.Add(w.TTL).Unix()
	if !until.IsZero() && until.Unix() < deadline {
		deadline = until.Unix()
	}
	w.spec.SetSeqnoFetcher(func(context.Context, uint32) (uint32, error) { return seqno, nil })
	for range 3 {
		ttl := deadline - time.Now().Unix()
		if ttl <= 0 || ttl > math.MaxUint32 {
			return nil, nil, now, fmt.Errorf("ton: sign payout: deadline %d is out of range of the system clock", deadline)
		}
		w.spec.SetMessagesTTL(uint32(ttl))
		ext, err := w.w.PrepareExternalMessageForMany(ctx, withStateInit, msgs)
		if err != nil {
			return nil, nil, now, fmt.Errorf("ton: sign payout: %w", err)
		}
		body, err := parseSignedBody(w.version, w.addr, ext.Body)
		if err != nil {
			return nil, nil, now, err
		}
		if body.seqno != seqno {
			return nil, nil, now, fmt.Errorf("ton: sign payout: signed seqno %d, want %d", body.seqno, seqno)
		}
		if int64(body.validUntil) != deadline {
			continue
		}
		return ext, body, now, nil
	}
	return nil, nil, now, errors.New("ton: sign payout: valid_until kept moving")
}

// verify checks that sps are payouts of one external message to this
// wallet whose hash, seqno, query id and validity are the record's, and
// that each is one of its payments.
func (w *Wallet) verify(sps []*shop.SignedPayout) (*batch, error) {
	if len(sps) == 0 {
		return nil, errors.New("ton: no signed payouts")
	}
	first := sps[0]
	for _, sp := range sps {
		if sp == nil {
			return nil, errors.New("ton: nil signed payout")
		}
		if !strings.EqualFold(sp.Hash, first.Hash) || !bytes.Equal(sp.BOC, first.BOC) {
			return nil, fmt.Errorf("ton: signed payouts %s and %s are not of one message", first.Hash, sp.Hash)
		}
	}
	c, err := cell.FromBOC(first.BOC)
	if err != nil {
		return nil, fmt.Errorf("ton: signed payout %s: BOC: %w", first.Hash, err)
	}
	var ext tlb.ExternalMessage
	if err := tlb.Parse(&ext, c); err != nil {
		return nil, fmt.Errorf("ton: signed payout %s is not an external message: %w", first.Hash, err)
	}
	if ext.DstAddr == nil || ext.DstAddr.IsAddrNone() || !ext.DstAddr.Equals(w.addr) {
		return nil, fmt.Errorf("ton: signed payout %s is addressed to %v, not this wallet %s", first.Hash, ext.DstAddr, w.info.Address)
	}
	hash := ext.NormalizedHash()
	if got := hex.EncodeToString(hash); got != strings.ToLower(first.Hash) {
		return nil, fmt.Errorf("ton: signed payout %s: its message hashes to %s", first.Hash, got)
	}
	body, err := parseSignedBody(w.version, w.addr, ext.Body)
	if err != nil {
		return nil, err
	}
	if w.version == WalletHighloadV3 && body.timeout != highloadTimeoutSecs {
		return nil, fmt.Errorf("ton: signed payout %s: timeout %d, the wallet's is %d", first.Hash, body.timeout, highloadTimeoutSecs)
	}
	b := &batch{ext: &ext, hash: hash, body: body, since: first.SignedAt.Add(-clockSkew)}
	if w.version == WalletHighloadV3 {
		b.since = earliest(first.SignedAt, time.Unix(int64(body.createdAt), 0)).Add(-clockSkew)
	}
	keys := make(map[paymentKey]int, len(body.payments))
	for i, p := range body.payments {
		keys[keyOf(p.msg)] = i
	}
	if len(keys) != len(body.payments) {
		return nil, fmt.Errorf("ton: signed payout %s: two of its payments cannot be told apart", first.Hash)
	}
	for _, sp := range sps {
		if sp.Seqno != body.seqno || sp.ValidUntil.Unix() != int64(body.validUntil) {
			return nil, fmt.Errorf("ton: signed payout %s: message has seqno %d valid until %d, record says %d and %d",
				sp.Hash, body.seqno, body.validUntil, sp.Seqno, sp.ValidUntil.Unix())
		}
		if (sp.QueryID != 0 || !sp.CreatedAt.IsZero()) && (sp.QueryID != body.queryID || sp.CreatedAt.Unix() != int64(body.createdAt)) {
			return nil, fmt.Errorf("ton: signed payout %s: message has query id %d created at %d, record says %d and %d",
				sp.Hash, body.queryID, body.createdAt, sp.QueryID, sp.CreatedAt.Unix())
		}
		c := *sp
		c.QueryID = body.queryID
		if w.version == WalletHighloadV3 {
			c.CreatedAt = time.Unix(int64(body.createdAt), 0).UTC()
		}
		var k paymentKey
		if sp.To == "" {
			// A record made before To was kept (or a store that drops it):
			// the message must say which payment it is.
			if len(body.payments) != 1 {
				return nil, fmt.Errorf("ton: signed payout %s has no destination and its message makes %d payments: cannot tell which is its own", sp.Hash, len(body.payments))
			}
			m := body.payments[0].msg
			k = keyOf(m)
			c.To, c.Amount, c.BodyHash = m.DstAddr.StringRaw(), shop.NanoTON(m.Amount.Nano().Int64()), k.body
		} else {
			to, err := ParseAddress(sp.To)
			if err != nil {
				return nil, fmt.Errorf("ton: signed payout %s: %w", sp.Hash, err)
			}
			k = paymentKey{to: to.StringRaw(), amount: fmt.Sprint(int64(sp.Amount)), body: strings.ToLower(sp.BodyHash)}
		}
		i, ok := keys[k]
		if !ok {
			return nil, fmt.Errorf("ton: signed payout %s: its message makes no payment of %s TON to %s with that body", sp.Hash, sp.Amount, sp.To)
		}
		c.Index = i
		b.sps = append(b.sps, &c)
		b.keys = append(b.keys, k)
	}
	return b, nil
}

// broadcast sends b's message. An error is only logged: a liteserver
// answers a duplicate with an error, and a message may land even so.
func (w *Wallet) broadcast(ctx context.Context, b *batch) {
	if err := w.api.SendExternalMessage(ctx, b.ext); err != nil {
		w.Logger.Warn("payout broadcast failed", "hash", b.sps[0].Hash, "seqno", b.body.seqno, "query_id", b.body.queryID, "error", err)
	}
}

// wait checks b's outcome every PollInterval until every payout is final
// or ctx ends, re-broadcasting the message at most every
// rebroadcastEvery while it has no transaction and is valid. sentAt is
// the last broadcast; zero broadcasts at the first pending check. Once the
// message has landed or expired, its flight goes.
func (w *Wallet) wait(ctx context.Context, b *batch, sentAt time.Time) ([]*shop.PayoutResult, error) {
	done := make([]*shop.PayoutResult, len(b.sps))
	last := make([]*shop.PayoutResult, len(b.sps))
	t := time.NewTimer(0)
	defer t.Stop()
	hash := b.sps[0].Hash
	for {
		select {
		case <-ctx.Done():
			for i, r := range done {
				if r == nil {
					r = &shop.PayoutResult{State: shop.PayoutPending}
					if l := last[i]; l != nil {
						r.TxHash, r.TxLT = l.TxHash, l.TxLT
					}
					done[i] = r
				}
			}
			return done, ctx.Err()
		case <-t.C:
		}
		res, landed, err := w.check(ctx, b, done)
		now := w.Now()
		if err != nil {
			if ctx.Err() == nil {
				w.Logger.Warn("payout check failed", "hash", hash, "error", err)
			}
			t.Reset(w.PollInterval)
			continue
		}
		final, expired := 0, false
		for i, r := range res {
			last[i] = r
			if r.State != shop.PayoutPending {
				done[i] = r
				final++
				expired = expired || r.State == shop.PayoutExpired
			}
		}
		if landed || expired {
			w.land(hash)
		}
		if final == len(res) {
			w.Logger.Info("payouts done", "hash", hash, "payouts", len(res), "first_state", res[0].State, "tx", res[0].TxHash)
			return done, nil
		}
		if !landed && !now.After(b.sps[0].ValidUntil) && (sentAt.IsZero() || now.Sub(sentAt) >= rebroadcastEvery) {
			w.broadcast(ctx, b)
			sentAt = now
		}
		t.Reset(w.PollInterval)
	}
}

// check looks once for the outcome of b's payouts whose done entry is nil
// (the others are copied). landed: the message has a transaction (its
// seqno or query id is spent). The seqno and the newest transaction come
// from one account state, so a seqno past the message's with no
// transaction of it in that history means the seqno went to another
// message.
func (w *Wallet) check(ctx context.Context, b *batch, done []*shop.PayoutResult) ([]*shop.PayoutResult, bool, error) {
	master, acc, err := w.account(ctx)
	if err != nil {
		return nil, false, err
	}
	seqno, err := w.accountSeqno(acc)
	if err != nil {
		return nil, false, err
	}
	tx, later, err := w.findTx(ctx, acc, b.hash, b.since)
	if err != nil {
		return nil, false, err
	}
	res := slices.Clone(done)
	fill := func(r shop.PayoutResult) {
		for i := range res {
			if res[i] == nil {
				c := r
				res[i] = &c
			}
		}
	}
	if tx == nil {
		if w.version != WalletHighloadV3 && seqno > b.body.seqno {
			fill(shop.PayoutResult{State: shop.PayoutExpired, Reason: fmt.Sprintf("seqno %d used by another message (wallet seqno is %d)", b.body.seqno, seqno)})
			return res, false, nil
		}
		// highload_v3: the contract takes a message only while created_at
		// > now - timeout, i.e. before ValidUntil; a query id is never
		// executed twice, so expiry is the only way it goes unexecuted.
		validUntil := b.sps[0].ValidUntil
		expired, err := w.expiredByChain(ctx, master, validUntil)
		if err != nil {
			return nil, false, err
		}
		if expired {
			fill(shop.PayoutResult{State: shop.PayoutExpired, Reason: fmt.Sprintf("message expired at %s unexecuted", validUntil.UTC().Format(time.RFC3339))})
		} else {
			fill(shop.PayoutResult{State: shop.PayoutPending})
		}
		return res, false, nil
	}
	payTx := tx
	if b.body.packed {
		var why string
		payTx, why = w.packTx(tx, later)
		switch {
		case why != "":
			fill(shop.PayoutResult{State: shop.PayoutFailed, TxHash: hex.EncodeToString(tx.Hash), TxLT: tx.LT, Reason: why})
			return res, true, nil
		case payTx == nil:
			fill(shop.PayoutResult{State: shop.PayoutPending, TxHash: hex.EncodeToString(tx.Hash), TxLT: tx.LT})
			return res, true, nil
		}
	}
	if err := w.settle(ctx, master, b, payTx, later, res); err != nil {
		return nil, true, err
	}
	return res, true, nil
}

// packTx finds the transaction in which a highload_v3 wallet executed the
// pack its transaction tx sent to itself, among the later ones. why says
// why the pack was not sent.
func (w *Wallet) packTx(tx *tlb.Transaction, later []*tlb.Transaction) (*tlb.Transaction, string) {
	if why := txFailure(tx); why != "" {
		return nil, why
	}
	var self *tlb.InternalMessage
	for _, m := range outMessages(tx) {
		if m.DstAddr != nil && m.DstAddr.Equals(w.addr) {
			self = m
		}
	}
	if self == nil {
		return nil, "the wallet did not send the batch's internal message to itself" + skipped(tx)
	}
	for _, t := range later {
		if t.IO.In == nil {
			continue
		}
		if in, ok := t.IO.In.Msg.(*tlb.InternalMessage); ok && in != nil && in.CreatedLT == self.CreatedLT && in.SrcAddr != nil && in.SrcAddr.Equals(w.addr) {
			return t, ""
		}
	}
	return nil, ""
}

// account reads the wallet's account at the newest masterchain block.
func (w *Wallet) account(ctx context.Context) (*tonapi.BlockIDExt, *tlb.Account, error) {
	master, err := w.api.CurrentMasterchainInfo(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("ton: masterchain info: %w", err)
	}
	acc, err := w.api.WaitForBlock(master.SeqNo).GetAccount(ctx, master, w.addr)
	if err != nil {
		return nil, nil, fmt.Errorf("ton: wallet account at masterchain block %d: %w", master.SeqNo, err)
	}
	return master, acc, nil
}

// accountSeqno reads the seqno from the wallet's data (the first field
// after v5's signature-allowed bit); 0 when the wallet is not deployed or
// is a highload_v3 wallet (no seqno).
func (w *Wallet) accountSeqno(acc *tlb.Account) (uint32, error) {
	if w.version == WalletHighloadV3 || !acc.IsActive || acc.State == nil || acc.State.Status != tlb.AccountStatusActive {
		return 0, nil
	}
	if acc.Data == nil {
		return 0, errors.New("ton: active wallet account without data")
	}
	s, err := acc.Data.BeginParse()
	if err == nil && w.version == WalletV5R1 {
		_, err = s.LoadBoolBit()
	}
	var n uint64
	if err == nil {
		n, err = s.LoadUInt(32)
	}
	if err != nil {
		return 0, fmt.Errorf("ton: wallet data: %w", err)
	}
	return uint32(n), nil
}

// findTx pages back through the wallet's transactions from acc's newest
// until one older than since, looking for the one whose inbound external
// message has the normalized hash want. It also returns the transactions
// newer than that one, newest first (where the pack of a highload message
// and bounces of its payments are).
func (w *Wallet) findTx(ctx context.Context, acc *tlb.Account, want []byte, since time.Time) (*tlb.Transaction, []*tlb.Transaction, error) {
	if !acc.IsActive {
		return nil, nil, nil
	}
	var later []*tlb.Transaction
	lt, hash := acc.LastTxLT, acc.LastTxHash
	for lt != 0 {
		list, err := w.api.ListTransactions(ctx, w.addr, maxLitePage, lt, hash)
		if err != nil {
			return nil, nil, fmt.Errorf("ton: wallet transactions from lt %d: %w", lt, err)
		}
		if len(list) == 0 || list[0].PrevTxLT >= lt {
			return nil, nil, fmt.Errorf("ton: wallet transactions from lt %d: no progress", lt)
		}
		for i := len(list) - 1; i >= 0; i-- { // newest first
			tx := list[i]
			if in := tx.IO.In; in != nil {
				if m, ok := in.Msg.(*tlb.ExternalMessage); ok && m != nil && bytes.Equal(m.NormalizedHash(), want) {
					return tx, later, nil
				}
			}
			if time.Unix(int64(tx.Now), 0).Before(since) {
				return nil, nil, nil
			}
			later = append(later, tx)
		}
		lt, hash = list[0].PrevTxLT, list[0].PrevTxHash
	}
	return nil, nil, nil
}

// settle decides the payouts of b whose res entry is nil from payTx, the
// transaction that sent b's payments, and the wallet's later transactions.
// A payment that was sent is confirmed when the destination's transaction
// of it is found and not aborted (aborted: it bounces), pending while the
// destination has not processed it yet (at most maxTransit), and where the
// destination's history cannot tell, failed if a bounce of it came back,
// else confirmed once BounceWindow of chain time has passed.
func (w *Wallet) settle(ctx context.Context, master *tonapi.BlockIDExt, b *batch, payTx *tlb.Transaction, later []*tlb.Transaction, res []*shop.PayoutResult) error {
	outs := map[paymentKey]*tlb.InternalMessage{}
	for _, m := range outMessages(payTx) {
		outs[keyOf(m)] = m
	}
	txHash, txFail := hex.EncodeToString(payTx.Hash), txFailure(payTx)
	byDest := map[string][]int{}
	sent := make([]*tlb.InternalMessage, len(res))
	for i := range res {
		if res[i] != nil {
			continue
		}
		sp := b.sps[i]
		m := outs[b.keys[i]]
		switch {
		case txFail != "":
			res[i] = &shop.PayoutResult{State: shop.PayoutFailed, TxHash: txHash, TxLT: payTx.LT, Reason: txFail}
		case payTx.OutMsgCount == 0:
			res[i] = &shop.PayoutResult{State: shop.PayoutFailed, TxHash: txHash, TxLT: payTx.LT, Reason: "no message sent" + skipped(payTx)}
		case m == nil:
			res[i] = &shop.PayoutResult{State: shop.PayoutFailed, TxHash: txHash, TxLT: payTx.LT,
				Reason: fmt.Sprintf("the transaction sent no message paying %s TON to %s with the signed body%s", sp.Amount, sp.To, skipped(payTx))}
		default:
			sent[i] = m
			byDest[b.keys[i].to] = append(byDest[b.keys[i].to], i)
		}
	}
	if len(byDest) == 0 {
		return nil
	}
	h, err := w.api.WaitForBlock(master.SeqNo).GetBlockHeader(ctx, master)
	if err != nil {
		return fmt.Errorf("ton: masterchain block %d header: %w", master.SeqNo, err)
	}
	age := time.Duration(int64(h.GenUtime)-int64(payTx.Now)) * time.Second
	var bounces []*tlb.InternalMessage
	for _, t := range later {
		if t.IO.In == nil {
			continue
		}
		if m, ok := t.IO.In.Msg.(*tlb.InternalMessage); ok && m != nil && m.Bounced {
			bounces = append(bounces, m)
		}
	}
	for _, idx := range byDest {
		msgs := make([]*tlb.InternalMessage, len(idx))
		for j, i := range idx {
			msgs[j] = sent[i]
		}
		dtxs, reached, known, err := w.destinationTxs(ctx, master, msgs[0].DstAddr, msgs)
		if err != nil {
			w.Logger.Debug("payout destination lookup failed; waiting out the bounce window", "hash", b.sps[0].Hash, "error", err)
			known = false
		}
		for _, i := range idx {
			m := sent[i]
			confirmed := &shop.PayoutResult{State: shop.PayoutConfirmed, TxHash: txHash, TxLT: payTx.LT}
			pending := &shop.PayoutResult{State: shop.PayoutPending, TxHash: txHash, TxLT: payTx.LT}
			dtx := dtxs[m.CreatedLT]
			switch {
			case dtx != nil && aborted(dtx):
				res[i] = &shop.PayoutResult{State: shop.PayoutFailed, TxHash: txHash, TxLT: payTx.LT, Bounced: true,
					Reason: fmt.Sprintf("the destination's transaction %x aborted: the payment bounces back", dtx.Hash)}
				continue
			case dtx != nil:
				res[i] = confirmed
				continue
			case known && reached <= m.CreatedLT && age < maxTransit:
				res[i] = pending // in transit
				continue
			}
			for _, bnc := range bounces {
				if bounceOf(bnc, payTx, m) {
					res[i] = &shop.PayoutResult{State: shop.PayoutFailed, TxHash: txHash, TxLT: payTx.LT, Bounced: true,
						Reason: fmt.Sprintf("the payment bounced back from %s (%s TON returned)", bnc.SrcAddr, shop.NanoTON(bnc.Amount.Nano().Int64()))}
					break
				}
			}
			if res[i] != nil {
				continue
			}
			if age < w.BounceWindow {
				res[i] = pending
			} else {
				res[i] = confirmed
			}
		}
	}
	return nil
}

// maxTransit is how long a payment may look in transit (sent, not yet
// processed by its destination) before the bounce window decides alone.
const maxTransit = 2 * time.Minute

// maxDestPages bounds the search of a destination's history for the
// transactions of our payments (plus a page per maxLitePage payments);
// past it the bounce window decides.
const maxDestPages = 8

// destinationTxs finds the transactions in which dst processed msgs, our
// wallet's out-messages to it: inbound internal messages from us with
// their creation lts, returned by that lt. Every transaction of dst with
// an lt above reached has been read, so a message created at or after
// reached and not found is in transit. known is false when dst's history
// cannot be read (the account is not active).
func (w *Wallet) destinationTxs(ctx context.Context, master *tonapi.BlockIDExt, dst *address.Address, msgs []*tlb.InternalMessage) (found map[uint64]*tlb.Transaction, reached uint64, known bool, err error) {
	if dst == nil || len(msgs) == 0 {
		return nil, 0, false, nil
	}
	acc, err := w.api.WaitForBlock(master.SeqNo).GetAccount(ctx, master, dst)
	if err != nil {
		return nil, 0, false, fmt.Errorf("ton: destination account: %w", err)
	}
	if !acc.IsActive {
		return nil, 0, false, nil
	}
	want := make(map[uint64]bool, len(msgs))
	minLT := uint64(math.MaxUint64)
	for _, m := range msgs {
		want[m.CreatedLT] = true
		minLT = min(minLT, m.CreatedLT)
	}
	found = map[uint64]*tlb.Transaction{}
	lt, hash := acc.LastTxLT, acc.LastTxHash
	reached = lt
	for page := 0; reached > minLT && len(found) < len(want) && page < maxDestPages+len(msgs)/maxLitePage; page++ {
		list, err := w.api.ListTransactions(ctx, dst, maxLitePage, lt, hash)
		if err != nil {
			return found, reached, true, fmt.Errorf("ton: destination transactions from lt %d: %w", lt, err)
		}
		if len(list) == 0 || list[0].PrevTxLT >= lt {
			return found, reached, true, fmt.Errorf("ton: destination transactions from lt %d: no progress", lt)
		}
		for i := len(list) - 1; i >= 0; i-- { // newest first
			t := list[i]
			if t.IO.In != nil {
				if in, ok := t.IO.In.Msg.(*tlb.InternalMessage); ok && in != nil && want[in.CreatedLT] && in.SrcAddr != nil && in.SrcAddr.Equals(w.addr) {
					found[in.CreatedLT] = t
				}
			}
			reached = t.PrevTxLT
		}
		lt, hash = list[0].PrevTxLT, list[0].PrevTxHash
	}
	return found, reached, true, nil
}

// aborted reports whether a transaction was aborted (a bounceable inbound
// message then bounces).
func aborted(tx *tlb.Transaction) bool {
	switch d := tx.Description.(type) {
	case tlb.TransactionDescriptionOrdinary:
		return d.Aborted
	case *tlb.TransactionDescriptionOrdinary:
		return d.Aborted
	}
	return false
}

// bounceOf reports whether b, an inbound bounced message, may be the bounce
// of sent, a payment made by tx: from sent's destination, created after
// tx, not worth more than was paid, and, in the classic bounce body
// (0xffffffff then the first bits of the original body), starting with
// sent's body. A bounce that cannot be told apart from another payment's
// counts as this one's: the order then goes to an admin, which is safe;
// missing one is not. (Payments of one batch to one address whose bodies
// share their first 224 bits cannot be told apart this way; where the
// destination's history is readable, it decides first.)
func bounceOf(b *tlb.InternalMessage, tx *tlb.Transaction, sent *tlb.InternalMessage) bool {
	if b.SrcAddr == nil || b.CreatedLT <= tx.LT || sent.DstAddr == nil || !b.SrcAddr.Equals(sent.DstAddr) {
		return false
	}
	if v, paid := b.Amount.Nano(), sent.Amount.Nano(); v.Cmp(paid) > 0 {
		return false
	}
	if b.Body == nil || sent.Body == nil {
		return true
	}
	s, err := b.Body.BeginParse()
	if err != nil {
		return true
	}
	if op, err := s.LoadUInt(32); err != nil || op != 0xffffffff {
		return true // another bounce format: assume ours
	}
	got, err := s.LoadSlice(min(s.BitsLeft(), 256))
	if err != nil {
		return true
	}
	orig := sent.Body.MustBeginParse()
	want, err := orig.LoadSlice(min(orig.BitsLeft(), uint(len(got))*8, 256))
	if err != nil {
		return true
	}
	n := min(len(got), len(want))
	return bytes.Equal(got[:n], want[:n])
}

// outMessages returns the internal out-messages of tx.
func outMessages(tx *tlb.Transaction) []*tlb.InternalMessage {
	if tx.IO.Out == nil || tx.OutMsgCount == 0 {
		return nil
	}
	msgs, err := tx.IO.Out.ToSlice()
	if err != nil {
		return nil
	}
	var out []*tlb.InternalMessage
	for _, m := range msgs {
		if in, ok := m.Msg.(*tlb.InternalMessage); ok && in != nil {
			out = append(out, in)
		}
	}
	return out
}

// skipped describes the actions tx skipped, e.g. for lack of funds.
func skipped(tx *tlb.Transaction) string {
	var a *tlb.ActionPhase
	switch d := tx.Description.(type) {
	case tlb.TransactionDescriptionOrdinary:
		a = d.ActionPhase
	case *tlb.TransactionDescriptionOrdinary:
		a = d.ActionPhase
	}
	if a == nil || a.SkippedActions == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d of %d actions skipped, e.g. for lack of funds)", a.SkippedActions, a.TotalActions)
}

// txFailure says why tx, the wallet's transaction of our message (or of
// its highload pack), could not send payments; "" if it could.
func txFailure(tx *tlb.Transaction) string {
	var d tlb.TransactionDescriptionOrdinary
	switch v := tx.Description.(type) {
	case tlb.TransactionDescriptionOrdinary:
		d = v
	case *tlb.TransactionDescriptionOrdinary:
		d = *v
	default:
		return fmt.Sprintf("unexpected transaction type %T", tx.Description)
	}
	switch ph := d.ComputePhase.Phase.(type) {
	case tlb.ComputePhaseVM:
		if !ph.Success {
			return fmt.Sprintf("compute phase failed, exit code %d", ph.Details.ExitCode)
		}
	case tlb.ComputePhaseSkipped:
		return fmt.Sprintf("compute phase skipped: %s", ph.Reason.Type)
	default:
		return fmt.Sprintf("unexpected compute phase %T", ph)
	}
	switch a := d.ActionPhase; {
	case a == nil:
		return "no action phase"
	case !a.Success:
		reason := ""
		if a.ResultCode == 37 || a.NoFunds {
			reason = ": not enough funds"
		}
		return fmt.Sprintf("action phase failed, result code %d%s", a.ResultCode, reason)
	}
	return ""
}
