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
)

// Wallet defaults and margins.
const (
	defaultWalletPoll = 2 * time.Second
	defaultWalletTTL  = 120 * time.Second
	// defaultBounceWindow is how long, in chain time after the paying
	// transaction, a payout waits for a bounce before it is confirmed.
	defaultBounceWindow = 20 * time.Second
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
	// amount, and the +2 bit a V5 wallet requires (else exit code 137).
	payoutMode = wallet.PayGasSeparately + wallet.IgnoreErrors
	v5SignOp   = 0x7369676e // V5 external "sign" op
)

// WalletConfig selects the hot wallet. Its String, GoString and LogValue
// hide the mnemonic.
type WalletConfig struct {
	Mnemonic string // 24 words; secret: never in errors or logs
	Version  string // WalletV4R2 or WalletV5R1
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

// Wallet is the service's hot wallet (a seqno wallet, v4r2 or v5r1). It
// sends payouts crash-safely: each message is signed, handed to the caller
// to record durably, and only then broadcast; after a restart Resume finds
// the outcome of a recorded message, re-broadcasting it while it can still
// be accepted, and never signs. Sends are serialized, so the wallet never
// has two messages in flight.
type Wallet struct {
	Now          func() time.Time // default time.Now
	Logger       *slog.Logger     // default slog.Default()
	PollInterval time.Duration    // between outcome checks while waiting; default 2s
	TTL          time.Duration    // how long a signed message stays valid; default 120s
	// BounceWindow is how long after the paying transaction (in chain
	// time) a bounce of the payment is waited for before the payout is
	// confirmed; default 20s. A bounceable payment to a contract that
	// refuses it comes back to the wallet within a few blocks.
	BounceWindow time.Duration

	api     tonapi.APIClientWrapped
	w       *wallet.Wallet
	spec    walletSpec
	addr    *address.Address
	version string
	info    shop.WalletInfo

	mu sync.Mutex // held by Send and Resume: one message in flight
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
	}
	return nil, "", fmt.Errorf("ton: unknown wallet version %q (want %s or %s)", cfg.Version, WalletV4R2, WalletV5R1)
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
	spec, ok := w.GetSpec().(walletSpec)
	if !ok {
		return nil, fmt.Errorf("ton: wallet %s: unexpected tonutils spec %T", cfg.Version, w.GetSpec())
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
		api:     api,
		w:       w,
		spec:    spec,
		addr:    addr,
		version: cfg.Version,
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

// Balance returns the wallet's balance at the newest masterchain block: 0
// when the account does not exist. An uninit account (funded, not yet
// deployed) has its balance: the first Send deploys it.
func (w *Wallet) Balance(ctx context.Context) (shop.NanoTON, error) {
	_, acc, err := w.account(ctx)
	if err != nil {
		return 0, err
	}
	if !acc.IsActive || acc.State == nil {
		return 0, nil
	}
	n := acc.State.Balance.Nano()
	if !n.IsInt64() {
		return 0, fmt.Errorf("ton: wallet balance %s nanoTON out of range", n)
	}
	return shop.NanoTON(n.Int64()), nil
}

// Send pays p. It validates p (nothing is signed if it is invalid), reads
// the wallet's seqno, signs the message, and calls record with it; if
// record fails, Send returns its error and broadcasts nothing. Otherwise it
// broadcasts the message and waits for its outcome, re-broadcasting while
// it is pending and valid, until it is Confirmed, Failed or Expired, or
// until ctx ends: then the result is Pending and the error ctx.Err(), and
// the recorded message should be passed to Resume later. Chain errors while
// waiting are logged and retried. Sends and Resumes are serialized.
func (w *Wallet) Send(ctx context.Context, p shop.Payout, record func(context.Context, *shop.SignedPayout) error) (*shop.PayoutResult, error) {
	if record == nil {
		return nil, errors.New("ton: Send: nil record func")
	}
	msg, err := payoutMessage(p)
	if err != nil {
		return nil, err
	}
	if !p.ValidUntil.IsZero() && p.ValidUntil.Before(w.now().Add(minValidity)) {
		return nil, fmt.Errorf("ton: payout must be paid by %s, too soon to sign", p.ValidUntil.UTC().Format(time.RFC3339))
	}
	w.mu.Lock()
	defer w.mu.Unlock()

	master, acc, err := w.account(ctx)
	if err != nil {
		return nil, err
	}
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
	sp, ext, err := w.sign(ctx, msg, seqno, !deployed, p.ValidUntil)
	if err != nil {
		return nil, err
	}
	sp.To, sp.Amount = p.To, p.Amount
	if msg.InternalMessage.Body != nil {
		sp.BodyHash = hex.EncodeToString(msg.InternalMessage.Body.Hash())
	}
	if err := record(ctx, sp); err != nil {
		return nil, err
	}
	w.logger().Info("payout signed", "hash", sp.Hash, "seqno", sp.Seqno, "to", p.To, "amount", int64(p.Amount), "deploy", !deployed)
	w.broadcast(ctx, ext, sp)
	return w.wait(ctx, sp, ext, w.now())
}

// Resume finds the outcome of a recorded message, as Send waits for it,
// re-broadcasting the same message while it is pending and valid. It never
// signs. It fails at once if sp is not an external message to this wallet
// with sp's hash, seqno and validity.
func (w *Wallet) Resume(ctx context.Context, sp *shop.SignedPayout) (*shop.PayoutResult, error) {
	ext, err := w.verify(sp)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.wait(ctx, sp, ext, time.Time{})
}

// Check looks once at the chain for the outcome of a recorded message,
// without broadcasting or waiting. A chain error is returned as is.
func (w *Wallet) Check(ctx context.Context, sp *shop.SignedPayout) (*shop.PayoutResult, error) {
	if _, err := w.verify(sp); err != nil {
		return nil, err
	}
	return w.check(ctx, sp)
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

// sign signs msg for seqno without sending it, valid until w.Now()+w.TTL or
// until, if that is earlier and set.
//
// tonutils' specs compute valid_until as the wall clock plus their TTL
// (v4r2.go, v5r1.go) and take no clock, so the TTL is set to our deadline
// minus the wall clock just before signing, and
// valid_until is read back from the signed body; if a second ticked in
// between, the message (never recorded nor sent) is signed again.
func (w *Wallet) sign(ctx context.Context, msg *wallet.Message, seqno uint32, withStateInit bool, until time.Time) (*shop.SignedPayout, *tlb.ExternalMessage, error) {
	now := w.now()
	deadline := now.Add(w.ttl()).Unix()
	if !until.IsZero() && until.Unix() < deadline {
		deadline = until.Unix()
	}
	w.spec.SetSeqnoFetcher(func(context.Context, uint32) (uint32, error) { return seqno, nil })
	for range 3 {
		ttl := deadline - time.Now().Unix()
		if ttl <= 0 || ttl > math.MaxUint32 {
			return nil, nil, fmt.Errorf("ton: sign payout: deadline %d is out of range of the system clock", deadline)
		}
		w.spec.SetMessagesTTL(uint32(ttl))
		ext, err := w.w.PrepareExternalMessageForMany(ctx, withStateInit, []*wallet.Message{msg})
		if err != nil {
			return nil, nil, fmt.Errorf("ton: sign payout: %w", err)
		}
		gotSeqno, validUntil, err := bodyFields(w.version, ext.Body)
		if err != nil {
			return nil, nil, err
		}
		if gotSeqno != seqno {
			return nil, nil, fmt.Errorf("ton: sign payout: signed seqno %d, want %d", gotSeqno, seqno)
		}
		if int64(validUntil) != deadline {
			continue
		}
		c, err := tlb.ToCell(ext)
		if err != nil {
			return nil, nil, fmt.Errorf("ton: serialize payout: %w", err)
		}
		return &shop.SignedPayout{
			Hash:       hex.EncodeToString(ext.NormalizedHash()),
			BOC:        c.ToBOC(),
			Wallet:     w.info.Address,
			Seqno:      seqno,
			ValidUntil: time.Unix(int64(validUntil), 0).UTC(),
			SignedAt:   now,
		}, ext, nil
	}
	return nil, nil, errors.New("ton: sign payout: valid_until kept moving")
}

// bodyFields reads seqno and valid_until from a signed external body
// (layouts: v4r2.go and v5r1.go in tonutils-go's ton/wallet).
func bodyFields(version string, body *cell.Cell) (seqno, validUntil uint32, err error) {
	fail := func(err error) (uint32, uint32, error) {
		return 0, 0, fmt.Errorf("ton: not a %s wallet message body: %w", version, err)
	}
	if body == nil {
		return fail(errors.New("no body"))
	}
	s, err := body.BeginParse()
	if err != nil {
		return fail(err)
	}
	switch version {
	case WalletV4R2: // signature(512) subwallet(32) valid_until(32) seqno(32) op(8) …
		if _, err := s.LoadSlice(512 + 32); err != nil {
			return fail(err)
		}
	case WalletV5R1: // op(32) wallet_id(32) valid_until(32) seqno(32) actions … signature(512)
		op, err := s.LoadUInt(32)
		if err != nil {
			return fail(err)
		}
		if op != v5SignOp {
			return fail(fmt.Errorf("op %#x", op))
		}
		if _, err := s.LoadUInt(32); err != nil {
			return fail(err)
		}
	}
	vu, err := s.LoadUInt(32)
	if err != nil {
		return fail(err)
	}
	sq, err := s.LoadUInt(32)
	if err != nil {
		return fail(err)
	}
	return uint32(sq), uint32(vu), nil
}

// verify checks that sp is an external message to this wallet whose hash,
// seqno and validity are sp's, and returns it.
func (w *Wallet) verify(sp *shop.SignedPayout) (*tlb.ExternalMessage, error) {
	if sp == nil {
		return nil, errors.New("ton: nil signed payout")
	}
	c, err := cell.FromBOC(sp.BOC)
	if err != nil {
		return nil, fmt.Errorf("ton: signed payout %s: BOC: %w", sp.Hash, err)
	}
	var ext tlb.ExternalMessage
	if err := tlb.Parse(&ext, c); err != nil {
		return nil, fmt.Errorf("ton: signed payout %s is not an external message: %w", sp.Hash, err)
	}
	if ext.DstAddr == nil || ext.DstAddr.IsAddrNone() || !ext.DstAddr.Equals(w.addr) {
		return nil, fmt.Errorf("ton: signed payout %s is addressed to %v, not this wallet %s", sp.Hash, ext.DstAddr, w.info.Address)
	}
	if got := hex.EncodeToString(ext.NormalizedHash()); got != strings.ToLower(sp.Hash) {
		return nil, fmt.Errorf("ton: signed payout %s: its message hashes to %s", sp.Hash, got)
	}
	seqno, validUntil, err := bodyFields(w.version, ext.Body)
	if err != nil {
		return nil, err
	}
	if seqno != sp.Seqno || int64(validUntil) != sp.ValidUntil.Unix() {
		return nil, fmt.Errorf("ton: signed payout %s: message has seqno %d valid until %d, record says %d and %d",
			sp.Hash, seqno, validUntil, sp.Seqno, sp.ValidUntil.Unix())
	}
	return &ext, nil
}

// broadcast sends ext. An error is only logged: a liteserver answers a
// duplicate with an error, and a message may land even so.
func (w *Wallet) broadcast(ctx context.Context, ext *tlb.ExternalMessage, sp *shop.SignedPayout) {
	if err := w.api.SendExternalMessage(ctx, ext); err != nil {
		w.logger().Warn("payout broadcast failed", "hash", sp.Hash, "seqno", sp.Seqno, "error", err)
	}
}

// wait checks sp's outcome every PollInterval until it is final or ctx
// ends, re-broadcasting ext at most every rebroadcastEvery while pending
// and valid. sentAt is the last broadcast; zero broadcasts at the first
// pending check.
func (w *Wallet) wait(ctx context.Context, sp *shop.SignedPayout, ext *tlb.ExternalMessage, sentAt time.Time) (*shop.PayoutResult, error) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return &shop.PayoutResult{State: shop.PayoutPending}, ctx.Err()
		case <-t.C:
		}
		res, err := w.check(ctx, sp)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				w.logger().Warn("payout check failed", "hash", sp.Hash, "error", err)
			}
		case res.State != shop.PayoutPending:
			w.logger().Info("payout done", "hash", sp.Hash, "state", res.State, "tx", res.TxHash, "reason", res.Reason)
			return res, nil
		case res.TxHash != "":
			// Executed; waiting out the bounce window. Nothing to send.
			w.now()
		default:
			if now := w.now(); !now.After(sp.ValidUntil) && (sentAt.IsZero() || now.Sub(sentAt) >= rebroadcastEvery) {
				w.broadcast(ctx, ext, sp)
				sentAt = now
			}
		}
		t.Reset(w.pollInterval())
	}
}

// check looks once for sp's outcome. The seqno and the newest transaction
// come from one account state, so a seqno past sp's with no transaction of
// sp's message in that history means the seqno went to another message.
func (w *Wallet) check(ctx context.Context, sp *shop.SignedPayout) (*shop.PayoutResult, error) {
	hash, err := hex.DecodeString(sp.Hash)
	if err != nil || len(hash) != 32 {
		return nil, fmt.Errorf("ton: signed payout hash %q is not 32 bytes of hex", sp.Hash)
	}
	master, acc, err := w.account(ctx)
	if err != nil {
		return nil, err
	}
	seqno, err := w.accountSeqno(acc)
	if err != nil {
		return nil, err
	}
	tx, later, err := w.findTx(ctx, acc, hash, sp.SignedAt.Add(-clockSkew))
	if err != nil {
		return nil, err
	}
	if tx != nil {
		return w.settle(ctx, master, sp, tx, later)
	}
	if seqno > sp.Seqno {
		return &shop.PayoutResult{State: shop.PayoutExpired, Reason: fmt.Sprintf("seqno %d used by another message (wallet seqno is %d)", sp.Seqno, seqno)}, nil
	}
	late := sp.ValidUntil.Add(clockSkew)
	if w.now().After(late) {
		// Our clock says expired; make sure the chain's time agrees, so
		// that a lagging liteserver cannot make a landed message look lost.
		h, err := w.api.WaitForBlock(master.SeqNo).GetBlockHeader(ctx, master)
		if err != nil {
			return nil, fmt.Errorf("ton: masterchain block %d header: %w", master.SeqNo, err)
		}
		if blockTime := time.Unix(int64(h.GenUtime), 0); blockTime.After(late) {
			return &shop.PayoutResult{State: shop.PayoutExpired, Reason: fmt.Sprintf("message expired at %s unexecuted", sp.ValidUntil.UTC().Format(time.RFC3339))}, nil
		}
	}
	return &shop.PayoutResult{State: shop.PayoutPending}, nil
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
// after v5's signature-allowed bit); 0 when the wallet is not deployed.
func (w *Wallet) accountSeqno(acc *tlb.Account) (uint32, error) {
	if !acc.IsActive || acc.State == nil || acc.State.Status != tlb.AccountStatusActive {
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
// newer than that one whose inbound message is a bounce (where a bounce of
// its payment would be).
func (w *Wallet) findTx(ctx context.Context, acc *tlb.Account, want []byte, since time.Time) (*tlb.Transaction, []*tlb.InternalMessage, error) {
	if !acc.IsActive {
		return nil, nil, nil
	}
	var bounces []*tlb.InternalMessage
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
				switch m := in.Msg.(type) {
				case *tlb.ExternalMessage:
					if m != nil && bytes.Equal(m.NormalizedHash(), want) {
						return tx, bounces, nil
					}
				case *tlb.InternalMessage:
					if m != nil && m.Bounced {
						bounces = append(bounces, m)
					}
				}
			}
			if time.Unix(int64(tx.Now), 0).Before(since) {
				return nil, nil, nil
			}
		}
		lt, hash = list[0].PrevTxLT, list[0].PrevTxHash
	}
	return nil, nil, nil
}

// settle decides the outcome of sp from its transaction tx and the bounces
// that reached the wallet after it. A payment that was sent is confirmed
// when the destination's transaction of it is found and not aborted, or,
// where that cannot be read, once BounceWindow of chain time has passed
// with no bounce of it; until then it is Pending with the transaction
// known.
func (w *Wallet) settle(ctx context.Context, master *tonapi.BlockIDExt, sp *shop.SignedPayout, tx *tlb.Transaction, later []*tlb.InternalMessage) (*shop.PayoutResult, error) {
	res := outcome(tx, sp)
	if res.State != shop.PayoutConfirmed {
		return res, nil
	}
	for _, b := range later {
		if bounceOf(b, tx, sp) {
			return &shop.PayoutResult{
				State: shop.PayoutFailed, TxHash: res.TxHash, TxLT: res.TxLT, Bounced: true,
				Reason: fmt.Sprintf("the payment bounced back from %s (%s TON returned)", b.SrcAddr, shop.NanoTON(b.Amount.Nano().Int64())),
			}, nil
		}
	}
	h, err := w.api.WaitForBlock(master.SeqNo).GetBlockHeader(ctx, master)
	if err != nil {
		return nil, fmt.Errorf("ton: masterchain block %d header: %w", master.SeqNo, err)
	}
	age := time.Duration(int64(h.GenUtime)-int64(tx.Now)) * time.Second
	// Where the destination's own transaction of the payment can be found,
	// it tells at once: processed without abort, the payment arrived and
	// will not bounce; aborted, it bounces. Still in transit: pending, for
	// at most maxTransit, then the bounce window decides.
	if m := paidMessage(tx, sp); m != nil && sp.To != "" {
		dtx, inTransit, err := w.destinationTx(ctx, master, m)
		switch {
		case err != nil:
			w.logger().Debug("payout destination lookup failed; waiting out the bounce window", "hash", sp.Hash, "error", err)
		case dtx != nil && aborted(dtx):
			return &shop.PayoutResult{
				State: shop.PayoutFailed, TxHash: res.TxHash, TxLT: res.TxLT, Bounced: true,
				Reason: fmt.Sprintf("the destination's transaction %x aborted: the payment bounces back", dtx.Hash),
			}, nil
		case dtx != nil:
			return res, nil
		case inTransit && age < maxTransit:
			return &shop.PayoutResult{State: shop.PayoutPending, TxHash: res.TxHash, TxLT: res.TxLT}, nil
		}
	}
	if age < w.bounceWindow() {
		return &shop.PayoutResult{State: shop.PayoutPending, TxHash: res.TxHash, TxLT: res.TxLT}, nil
	}
	return res, nil
}

// maxTransit is how long a payment may look in transit (sent, not yet
// processed by its destination) before the bounce window decides alone.
const maxTransit = 2 * time.Minute

// maxDestPages bounds the search of the destination's history for the
// transaction of a payment; past it the bounce window decides.
const maxDestPages = 8

// destinationTx finds the transaction in which the destination processed
// msg, the out-message of our wallet: an inbound internal message from us
// with msg's creation lt. inTransit reports that the destination's history
// was read back past msg's creation without finding it (not processed
// yet). Neither (nil, false, nil): the destination's history is not
// readable far enough (not active, too busy).
func (w *Wallet) destinationTx(ctx context.Context, master *tonapi.BlockIDExt, msg *tlb.InternalMessage) (tx *tlb.Transaction, inTransit bool, err error) {
	if msg.DstAddr == nil {
		return nil, false, nil
	}
	acc, err := w.api.WaitForBlock(master.SeqNo).GetAccount(ctx, master, msg.DstAddr)
	if err != nil {
		return nil, false, fmt.Errorf("ton: destination account: %w", err)
	}
	if !acc.IsActive {
		return nil, false, nil
	}
	lt, hash := acc.LastTxLT, acc.LastTxHash
	for range maxDestPages {
		if lt == 0 || lt <= msg.CreatedLT {
			return nil, true, nil
		}
		list, err := w.api.ListTransactions(ctx, msg.DstAddr, maxLitePage, lt, hash)
		if err != nil {
			return nil, false, fmt.Errorf("ton: destination transactions from lt %d: %w", lt, err)
		}
		if len(list) == 0 || list[0].PrevTxLT >= lt {
			return nil, false, fmt.Errorf("ton: destination transactions from lt %d: no progress", lt)
		}
		for i := len(list) - 1; i >= 0; i-- { // newest first
			t := list[i]
			if t.LT <= msg.CreatedLT {
				return nil, true, nil
			}
			if t.IO.In == nil {
				continue
			}
			if in, ok := t.IO.In.Msg.(*tlb.InternalMessage); ok && in != nil && in.CreatedLT == msg.CreatedLT && in.SrcAddr != nil && in.SrcAddr.Equals(w.addr) {
				return t, false, nil
			}
		}
		lt, hash = list[0].PrevTxLT, list[0].PrevTxHash
	}
	return nil, false, nil
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
// of sp's payment sent by tx: from sp's destination, created after tx, not
// worth more than was paid, and, in the classic bounce body (0xffffffff
// then the first bits of the original body), starting with sp's body. A
// bounce that cannot be told apart from another payment's counts as sp's:
// the order then goes to an admin, which is safe; missing one is not.
func bounceOf(b *tlb.InternalMessage, tx *tlb.Transaction, sp *shop.SignedPayout) bool {
	if sp.To == "" || b.SrcAddr == nil || b.CreatedLT <= tx.LT {
		return false
	}
	to, err := ParseAddress(sp.To)
	if err != nil || !b.SrcAddr.Equals(to) {
		return false
	}
	if v := b.Amount.Nano(); v.IsInt64() && v.Int64() > int64(sp.Amount) {
		return false
	}
	var sent *cell.Cell
	if m := paidMessage(tx, sp); m != nil {
		sent = m.Body
	}
	if b.Body == nil || sent == nil {
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
	orig := sent.MustBeginParse()
	want, err := orig.LoadSlice(min(orig.BitsLeft(), uint(len(got))*8, 256))
	if err != nil {
		return true
	}
	n := min(len(got), len(want))
	return bytes.Equal(got[:n], want[:n])
}

// paidMessage returns the out-message of tx that pays sp: to sp.To, of
// sp.Amount, with a body hashing to sp.BodyHash. A record without To
// (made before these were kept) accepts any internal out-message.
func paidMessage(tx *tlb.Transaction, sp *shop.SignedPayout) *tlb.InternalMessage {
	if tx.IO.Out == nil || tx.OutMsgCount == 0 {
		return nil
	}
	msgs, err := tx.IO.Out.ToSlice()
	if err != nil {
		return nil
	}
	var to *address.Address
	if sp.To != "" {
		if to, err = ParseAddress(sp.To); err != nil {
			return nil
		}
	}
	for _, m := range msgs {
		in, ok := m.Msg.(*tlb.InternalMessage)
		if !ok || in == nil {
			continue
		}
		if to == nil {
			return in
		}
		if in.DstAddr == nil || !in.DstAddr.Equals(to) {
			continue
		}
		if v := in.Amount.Nano(); !v.IsInt64() || v.Int64() != int64(sp.Amount) {
			continue
		}
		hash := ""
		if in.Body != nil && (in.Body.BitsSize() > 0 || in.Body.RefsNum() > 0) {
			hash = hex.EncodeToString(in.Body.Hash())
		}
		if hash == sp.BodyHash {
			return in
		}
	}
	return nil
}

// outcome says whether the wallet's transaction of our message sent the
// payment sp describes.
func outcome(tx *tlb.Transaction, sp *shop.SignedPayout) *shop.PayoutResult {
	failed := func(format string, args ...any) *shop.PayoutResult {
		return &shop.PayoutResult{State: shop.PayoutFailed, TxHash: hex.EncodeToString(tx.Hash), TxLT: tx.LT, Reason: fmt.Sprintf(format, args...)}
	}
	var d tlb.TransactionDescriptionOrdinary
	switch v := tx.Description.(type) {
	case tlb.TransactionDescriptionOrdinary:
		d = v
	case *tlb.TransactionDescriptionOrdinary:
		d = *v
	default:
		return failed("unexpected transaction type %T", tx.Description)
	}
	switch ph := d.ComputePhase.Phase.(type) {
	case tlb.ComputePhaseVM:
		if !ph.Success {
			return failed("compute phase failed, exit code %d", ph.Details.ExitCode)
		}
	case tlb.ComputePhaseSkipped:
		return failed("compute phase skipped: %s", ph.Reason.Type)
	default:
		return failed("unexpected compute phase %T", ph)
	}
	switch a := d.ActionPhase; {
	case a == nil:
		return failed("no action phase")
	case !a.Success:
		reason := ""
		if a.ResultCode == 37 || a.NoFunds {
			reason = ": not enough funds"
		}
		return failed("action phase failed, result code %d%s", a.ResultCode, reason)
	case tx.OutMsgCount < 1:
		return failed("no message sent (%d of %d actions skipped, e.g. for lack of funds)", a.SkippedActions, a.TotalActions)
	case paidMessage(tx, sp) == nil:
		return failed("the transaction sent no message paying %s TON to %s with the signed body", sp.Amount, sp.To)
	}
	return &shop.PayoutResult{State: shop.PayoutConfirmed, TxHash: hex.EncodeToString(tx.Hash), TxLT: tx.LT}
}

func (w *Wallet) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

func (w *Wallet) ttl() time.Duration {
	if w.TTL > 0 {
		return w.TTL
	}
	return defaultWalletTTL
}

func (w *Wallet) bounceWindow() time.Duration {
	if w.BounceWindow > 0 {
		return w.BounceWindow
	}
	return defaultBounceWindow
}

func (w *Wallet) pollInterval() time.Duration {
	if w.PollInterval > 0 {
		return w.PollInterval
	}
	return defaultWalletPoll
}

func (w *Wallet) logger() *slog.Logger {
	if w.Logger != nil {
		return w.Logger
	}
	return slog.Default()
}
