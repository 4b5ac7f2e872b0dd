package ton

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	tonapi "github.com/xssnick/tonutils-go/ton"
	"github.com/xssnick/tonutils-go/ton/wallet"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"starsbot/shop"
)

// Wallet satisfies fulfillment.Wallet (not imported: adapters do not
// import each other).
var _ interface {
	Info() shop.WalletInfo
	Send(ctx context.Context, p shop.Payout, record func(context.Context, *shop.SignedPayout) error) (*shop.PayoutResult, error)
	Resume(ctx context.Context, sp *shop.SignedPayout) (*shop.PayoutResult, error)
	Balance(ctx context.Context) (shop.NanoTON, error)
} = (*Wallet)(nil)

// walletTestMnemonic was made once with wallet.NewSeed(); it holds no funds.
const walletTestMnemonic = "orphan close bulk misery later setup skate develop inspire pole item ring climb puzzle quote roof orphan olympic guitar field word slender exit mirror"

const walletTestDest = "UQCD39VS5jcptHL8vMjEXrzGaRcCVYto7HUn4bpAOg8xqEBI"

// walletT0 is the tests' fixed clock. It lies in the future because
// tonutils signs valid_until from the wall clock plus a TTL that must be
// positive (see Wallet.sign); any time up to 2106 (uint32 seconds) works.
var walletT0 = time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)

// walletClock is a test clock: Now returns the time, then advances it by
// step.
type walletClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *walletClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.t
	c.t = c.t.Add(c.step)
	return t
}

func (c *walletClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *walletClock) peek() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Execution modes of fakeWalletAPI.
const (
	execOK      = ""        // the wallet sends the payment
	execNoFunds = "nofunds" // action phase fails with result code 37
	execSkipped = "skipped" // mode +2: the action is skipped, nothing sent
	execNever   = "never"   // broadcasts are lost
	execAltered = "altered" // the sent message is not the signed one (1 nanoTON less)
)

// fakeWalletAPI is a chain holding one wallet account. A broadcast message
// is executed at once, like the wallet contract would (seqno and
// valid_until checked, seqno incremented) and recorded as a transaction
// that went through tlb.ToCell and tlb.Parse. Methods it does not override
// panic (the embedded interface is nil).
type fakeWalletAPI struct {
	tonapi.APIClientWrapped

	clock   *walletClock
	version string
	addr    *address.Address

	mu         sync.Mutex
	exists     bool // the account is in the state
	active     bool // deployed
	balance    uint64
	seqno      uint32
	txs        []*tlb.Transaction // oldest first
	sent       [][]byte           // every broadcast, serialized
	sentAt     []time.Time
	seqnoCalls int
	accounts   int           // GetAccount calls
	drop       int           // broadcasts to lose
	lag        time.Duration // block time behind the clock
	mode       string        // how accepted messages execute
	// bounce, if set, makes the destination bounce each payment: the
	// wallet then receives a bounced message built by bounce from it.
	bounce func(sent *tlb.InternalMessage) *tlb.InternalMessage
	// dest, if set, is the payee's account: its transactions of our
	// payments are readable, as on a real chain.
	dest      *fakeDest
	onAccount func(n int)
	queries   map[uint32]bool // highload_v3: executed query ids
	executed  []*fakeBody     // every accepted external body
}

func newFakeWalletAPI(clock *walletClock, version string) *fakeWalletAPI {
	return &fakeWalletAPI{clock: clock, version: version}
}

// deployed makes the account active with seqno and balance.
func (f *fakeWalletAPI) deployed(seqno uint32, balance uint64) *fakeWalletAPI {
	f.exists, f.active, f.seqno, f.balance = true, true, seqno, balance
	return f
}

func (f *fakeWalletAPI) CurrentMasterchainInfo(ctx context.Context) (*tonapi.BlockIDExt, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &tonapi.BlockIDExt{Workchain: -1, Shard: math.MinInt64, SeqNo: 1000, RootHash: make([]byte, 32), FileHash: make([]byte, 32)}, nil
}

func (f *fakeWalletAPI) WaitForBlock(uint32) tonapi.APIClientWrapped { return f }

func (f *fakeWalletAPI) GetBlockHeader(ctx context.Context, b *tonapi.BlockIDExt) (*tlb.BlockHeader, error) {
	h := &tlb.BlockHeader{}
	h.SeqNo = b.SeqNo
	f.mu.Lock()
	defer f.mu.Unlock()
	h.GenUtime = uint32(f.clock.peek().Add(-f.lag).Unix())
	return h, nil
}

func (f *fakeWalletAPI) GetAccount(ctx context.Context, b *tonapi.BlockIDExt, addr *address.Address) (*tlb.Account, error) {
	f.mu.Lock()
	f.accounts++
	n, hook := f.accounts, f.onAccount
	acc := &tlb.Account{}
	if f.exists && f.addr != nil && addr.Equals(f.addr) {
		status := tlb.AccountStatus(tlb.AccountStatusUninit)
		if f.active {
			status = tlb.AccountStatusActive
		}
		acc.IsActive = true
		acc.State = &tlb.AccountState{IsValid: true, Address: addr, AccountStorage: tlb.AccountStorage{
			Status: status, Balance: tlb.FromNanoTONU(f.balance),
		}}
		if f.active {
			d := cell.BeginCell()
			if f.version == WalletV5R1 {
				d.MustStoreBoolBit(true)
			}
			acc.Data = d.MustStoreUInt(uint64(f.seqno), 32).MustStoreUInt(0, 32).
				MustStoreSlice(make([]byte, 32), 256).MustStoreDict(nil).EndCell()
		}
		if len(f.txs) > 0 {
			last := f.txs[len(f.txs)-1]
			acc.LastTxLT, acc.LastTxHash = last.LT, last.Hash
			acc.State.LastTransactionLT = last.LT
		}
	}
	if d := f.dest; d != nil && addr.Equals(d.addr) && len(d.txs) > 0 {
		last := d.txs[len(d.txs)-1]
		acc.IsActive = true
		acc.State = &tlb.AccountState{IsValid: true, Address: addr, AccountStorage: tlb.AccountStorage{Status: tlb.AccountStatusActive}}
		acc.LastTxLT, acc.LastTxHash = last.LT, last.Hash
	}
	f.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return acc, nil
}

func (f *fakeWalletAPI) RunGetMethod(ctx context.Context, b *tonapi.BlockIDExt, addr *address.Address, method string, params ...any) (*tonapi.ExecutionResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if method != "seqno" {
		return nil, fmt.Errorf("unexpected get-method %q", method)
	}
	f.seqnoCalls++
	if !f.active {
		return nil, tonapi.ContractExecError{Code: tonapi.ErrCodeContractNotInitialized}
	}
	return tonapi.NewExecutionResult([]any{big.NewInt(int64(f.seqno))}), nil
}

// ListTransactions is like the liteserver's: up to num transactions ending
// at (lt, hash) inclusive, oldest first.
func (f *fakeWalletAPI) ListTransactions(ctx context.Context, addr *address.Address, num uint32, lt uint64, hash []byte) ([]*tlb.Transaction, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	txs := f.txs
	switch {
	case f.dest != nil && addr.Equals(f.dest.addr):
		txs = f.dest.txs
	case !addr.Equals(f.addr):
		return nil, tonapi.ErrNoTransactionsWereFound
	}
	i := slices.IndexFunc(txs, func(tx *tlb.Transaction) bool { return tx.LT == lt && bytes.Equal(tx.Hash, hash) })
	if i < 0 {
		return nil, tonapi.LSError{Code: -400, Text: "lt not in db"}
	}
	from := max(0, i-int(min(num, 16))+1)
	return slices.Clone(txs[from : i+1]), nil
}

// fakeDest is the payee's account: busy with others' transactions, and
// processing our payments as they arrive (or holding them in transit).
type fakeDest struct {
	addr    *address.Address
	txs     []*tlb.Transaction
	hold    bool                              // our payments stay in transit
	abort   bool                              // our payments' transactions abort (and bounce)
	abortIf func(m *tlb.InternalMessage) bool // only these abort
	traffic int                               // other transactions after each of ours
}

// receive records the destination's transaction of m (or others'
// traffic when from is nil); f.mu is held.
func (d *fakeDest) receive(m *tlb.InternalMessage, aborted bool) error {
	lt := m.CreatedLT + 1
	var prevLT uint64
	prevHash := make([]byte, 32)
	if n := len(d.txs); n > 0 {
		prevLT, prevHash = d.txs[n-1].LT, d.txs[n-1].Hash
		lt = max(lt, prevLT+1)
	}
	in := *m
	tx := &tlb.Transaction{
		AccountAddr: d.addr.Data(), LT: lt, PrevTxHash: prevHash, PrevTxLT: prevLT, Now: m.CreatedAt,
		OrigStatus: tlb.AccountStatusActive, EndStatus: tlb.AccountStatusActive,
		StateUpdate: tlb.HashUpdate{OldHash: make([]byte, 32), NewHash: make([]byte, 32)},
		Description: tlb.TransactionDescriptionOrdinary{
			ComputePhase: tlb.ComputePhase{Phase: tlb.ComputePhaseSkipped{Reason: tlb.ComputeSkipReason{Type: tlb.ComputeSkipReasonNoGas}}},
			Aborted:      aborted,
		},
	}
	tx.IO.In = &tlb.Message{MsgType: tlb.MsgTypeInternal, Msg: &in}
	parsed, err := asListed(tx)
	if err != nil {
		return err
	}
	d.txs = append(d.txs, parsed)
	return nil
}

func (f *fakeWalletAPI) SendExternalMessage(ctx context.Context, ext *tlb.ExternalMessage) error {
	c, err := tlb.ToCell(ext)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, c.ToBOC())
	f.sentAt = append(f.sentAt, f.clock.peek())
	if f.mode == execNever {
		return nil
	}
	if f.drop > 0 {
		f.drop--
		return nil
	}
	return f.execute(ext)
}

// execute runs ext as the wallet contract would (v4r2/v5r1: seqno and
// valid_until; highload_v3: subwallet, timeout, created_at window and query
// id once), then its actions in order: a payment the balance cannot cover
// is skipped (mode +2). A highload pack (an internal_transfer to the wallet
// itself) is executed in a second transaction. f.mu is held.
func (f *fakeWalletAPI) execute(ext *tlb.ExternalMessage) error {
	fb, err := decodeWalletActions(f.version, ext.Body)
	if err != nil {
		return err
	}
	now := f.clock.peek().Unix()
	switch {
	case !ext.DstAddr.Equals(f.addr):
		return errors.New("cannot apply external message to current state: wrong account")
	case !f.active && ext.StateInit == nil:
		return errors.New("cannot apply external message to current state: account not initialized")
	}
	if f.version == WalletHighloadV3 {
		switch {
		case fb.subwallet != wallet.DefaultSubwallet:
			return errors.New("cannot apply external message to current state : exitcode=34 (subwallet)")
		case fb.timeout != uint32(HighloadV3Timeout/time.Second):
			return errors.New("cannot apply external message to current state : exitcode=38 (timeout)")
		case int64(fb.createdAt) <= now-int64(fb.timeout) || int64(fb.createdAt) > now:
			return fmt.Errorf("cannot apply external message to current state : exitcode=35 (created_at %d, now %d)", fb.createdAt, now)
		case fb.queryID%1024 == 1023:
			return errors.New("cannot apply external message to current state : exitcode=33 (bit number)")
		case f.queries[fb.queryID]:
			return errors.New("cannot apply external message to current state : exitcode=36 (query already executed)")
		}
		if f.queries == nil {
			f.queries = map[uint32]bool{}
		}
		f.queries[fb.queryID] = true
	} else {
		switch {
		case fb.seqno != f.seqno:
			return fmt.Errorf("cannot apply external message to current state : exitcode=33 (seqno %d, wallet at %d)", fb.seqno, f.seqno)
		case int64(fb.validUntil) < now:
			return errors.New("cannot apply external message to current state : exitcode=36")
		}
		f.seqno++
	}
	for _, a := range fb.actions {
		if a.mode != payoutMode {
			return errors.New("unexpected mode")
		}
	}
	f.executed = append(f.executed, fb)
	sent, action := f.run(fb.actions)
	out, err := f.appendTx(&tlb.Message{MsgType: tlb.MsgTypeExternalIn, Msg: ext}, action, sent)
	if err != nil {
		return err
	}
	if f.version == WalletHighloadV3 && len(out) == 1 && out[0].DstAddr.Equals(f.addr) {
		pack := out[0]
		actions, err := decodePack(pack, fb.queryID)
		if err != nil {
			return err
		}
		fb.packed = actions
		f.balance += pack.Amount.Nano().Uint64()
		sent, action := f.run(actions)
		if out, err = f.appendTx(&tlb.Message{MsgType: tlb.MsgTypeInternal, Msg: pack}, action, sent); err != nil {
			return err
		}
	}
	return f.deliver(out)
}

// run executes actions against the balance; f.mode overrides. f.mu is held.
func (f *fakeWalletAPI) run(actions []fakeAction) ([]*tlb.InternalMessage, *tlb.ActionPhase) {
	n := uint16(len(actions))
	switch f.mode {
	case execNoFunds:
		return nil, &tlb.ActionPhase{Valid: true, NoFunds: true, ResultCode: 37, TotalActions: n}
	case execSkipped:
		return nil, &tlb.ActionPhase{Success: true, Valid: true, TotalActions: n, SkippedActions: n}
	}
	ap := &tlb.ActionPhase{Success: true, Valid: true, TotalActions: n}
	balance := f.balance
	var sent []*tlb.InternalMessage
	for i, a := range actions {
		m := *a.msg
		if f.mode == execAltered && i == 0 {
			m.Amount = tlb.FromNanoTONU(m.Amount.Nano().Uint64() - 1)
		}
		amount := m.Amount.Nano().Uint64()
		if amount > balance {
			if a.mode&wallet.IgnoreErrors != 0 {
				ap.SkippedActions++
				continue
			}
			return nil, &tlb.ActionPhase{Valid: true, NoFunds: true, ResultCode: 37, TotalActions: n}
		}
		balance -= amount
		sent = append(sent, &m)
	}
	f.balance = balance
	ap.MessagesCreated = uint16(len(sent))
	return sent, ap
}

// deliver hands sent payments to the payee's account and bounces them as
// f.bounce says. f.mu is held.
func (f *fakeWalletAPI) deliver(sent []*tlb.InternalMessage) error {
	for _, m := range sent {
		d := f.dest
		if d == nil || d.hold || !m.DstAddr.Equals(d.addr) {
			continue
		}
		if err := d.receive(m, d.abort || (d.abortIf != nil && d.abortIf(m))); err != nil {
			return err
		}
		for i := range d.traffic {
			other := *m
			other.SrcAddr = address.NewAddress(0, 0, bytes.Repeat([]byte{byte(i + 1)}, 32))
			if err := d.receive(&other, false); err != nil {
				return err
			}
		}
	}
	if f.bounce == nil {
		return nil
	}
	for _, m := range sent {
		if b := f.bounce(m); b != nil {
			b.CreatedLT = f.txs[len(f.txs)-1].LT + 300
			if err := f.appendIn(b); err != nil {
				return err
			}
		}
	}
	return nil
}

// classicBounce is how the destination bounces a message: the value less
// fees, and a body of 0xffffffff followed by the first 256 bits of the
// original body (the TON whitepaper's bounce format).
func classicBounce(sent *tlb.InternalMessage) *tlb.InternalMessage {
	body := cell.BeginCell().MustStoreUInt(0xffffffff, 32)
	if sent.Body != nil {
		s := sent.Body.MustBeginParse()
		n := min(s.BitsLeft(), 256)
		body.MustStoreSlice(s.MustLoadSlice(n), n)
	}
	return &tlb.InternalMessage{
		IHRDisabled: true, Bounced: true,
		SrcAddr: sent.DstAddr, Amount: tlb.FromNanoTONU(sent.Amount.Nano().Uint64() - 5_000_000),
		Body: body.EndCell(),
	}
}

// appendIn records a transaction of an inbound internal message; f.mu is held.
func (f *fakeWalletAPI) appendIn(in *tlb.InternalMessage) error {
	m := *in
	m.DstAddr = f.addr
	prev := f.txs[len(f.txs)-1]
	tx := &tlb.Transaction{
		AccountAddr: f.addr.Data(),
		LT:          m.CreatedLT + 1,
		PrevTxHash:  prev.Hash,
		PrevTxLT:    prev.LT,
		Now:         uint32(f.clock.peek().Unix()),
		OrigStatus:  tlb.AccountStatusActive,
		EndStatus:   tlb.AccountStatusActive,
		StateUpdate: tlb.HashUpdate{OldHash: make([]byte, 32), NewHash: make([]byte, 32)},
		Description: prev.Description,
	}
	tx.IO.In = &tlb.Message{MsgType: tlb.MsgTypeInternal, Msg: &m}
	parsed, err := asListed(tx)
	if err != nil {
		return err
	}
	f.txs = append(f.txs, parsed)
	f.balance += m.Amount.Nano().Uint64()
	return nil
}

// foreign executes another message of the wallet, spending its seqno.
func (f *fakeWalletAPI) foreign() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	ext := &tlb.ExternalMessage{DstAddr: f.addr, Body: cell.BeginCell().MustStoreUInt(uint64(f.seqno), 32).EndCell()}
	_, err := f.appendTx(&tlb.Message{MsgType: tlb.MsgTypeExternalIn, Msg: ext}, &tlb.ActionPhase{Success: true, Valid: true}, nil)
	f.seqno++
	return err
}

// appendTx records the wallet's transaction of the inbound message in,
// which sent the messages sent, and returns them as sent (source, lts);
// f.mu is held.
func (f *fakeWalletAPI) appendTx(in *tlb.Message, action *tlb.ActionPhase, sent []*tlb.InternalMessage) ([]*tlb.InternalMessage, error) {
	prevLT, prevHash := uint64(0), make([]byte, 32)
	lt := uint64(47_000_000_000_000)
	if n := len(f.txs); n > 0 {
		prevLT, prevHash = f.txs[n-1].LT, f.txs[n-1].Hash
		lt = prevLT + 1000
	}
	now := uint32(f.clock.peek().Unix())
	action.StatusChange = tlb.AccStatusChange{Type: tlb.AccStatusChangeUnchanged}
	action.ActionListHash = make([]byte, 32)
	action.TotalMsgSize = tlb.StorageUsedShort{Cells: big.NewInt(1), Bits: big.NewInt(700)}
	orig := tlb.AccountStatus(tlb.AccountStatusActive)
	if !f.active {
		orig = tlb.AccountStatusUninit
	}
	tx := &tlb.Transaction{
		AccountAddr: f.addr.Data(),
		LT:          lt,
		PrevTxHash:  prevHash,
		PrevTxLT:    prevLT,
		Now:         now,
		OrigStatus:  orig,
		EndStatus:   tlb.AccountStatusActive,
		StateUpdate: tlb.HashUpdate{OldHash: make([]byte, 32), NewHash: make([]byte, 32)},
		Description: tlb.TransactionDescriptionOrdinary{
			StoragePhase: &tlb.StoragePhase{StatusChange: tlb.AccStatusChange{Type: tlb.AccStatusChangeUnchanged}},
			ComputePhase: tlb.ComputePhase{Phase: tlb.ComputePhaseVM{
				Success: true,
				GasFees: tlb.FromNanoTONU(1_300_000),
				Details: tlb.ComputePhaseVMDetails{
					GasUsed: big.NewInt(3308), GasLimit: big.NewInt(0), GasCredit: big.NewInt(10000),
					VMSteps: 68, VMInitStateHash: make([]byte, 32), VMFinalStateHash: make([]byte, 32),
				},
			}},
			ActionPhase: action,
		},
	}
	tx.IO.In = in
	var out []*tlb.InternalMessage
	if len(sent) > 0 {
		dict := cell.NewDict(15)
		for i, s := range sent {
			m := *s
			m.SrcAddr, m.CreatedLT, m.CreatedAt = f.addr.Bounce(true), lt+1+uint64(i), now
			mc, err := tlb.ToCell(&m)
			if err != nil {
				return nil, err
			}
			if err := dict.SetIntKey(big.NewInt(int64(i)), cell.BeginCell().MustStoreRef(mc).EndCell()); err != nil {
				return nil, err
			}
			out = append(out, &m)
		}
		tx.IO.Out = &tlb.MessagesList{List: dict}
		tx.OutMsgCount = uint16(len(sent))
	}
	// As ListTransactions hands it over: parsed from its serialization.
	parsed, err := asListed(tx)
	if err != nil {
		return nil, err
	}
	f.txs = append(f.txs, parsed)
	f.exists, f.active = true, true
	return out, nil
}

func (f *fakeWalletAPI) set(fn func(f *fakeWalletAPI)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeWalletAPI) snapshot() (sent [][]byte, sentAt []time.Time, txs []*tlb.Transaction, seqno uint32, seqnoCalls int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sent), slices.Clone(f.sentAt), slices.Clone(f.txs), f.seqno, f.seqnoCalls
}

// fakeAction is one action_send_msg of a signed body.
type fakeAction struct {
	mode uint8
	msg  *tlb.InternalMessage
}

// fakeBody is a signed external body as the contract reads it.
type fakeBody struct {
	seqno, validUntil uint32 // v4r2, v5r1
	subwallet         uint32
	queryID           uint32 // highload_v3
	createdAt         uint64
	timeout           uint32
	actions           []fakeAction // what the external message sends, in order
	packed            []fakeAction // highload_v3: what its pack sent, once executed
}

// decodeWalletActions reads a signed external body independently of
// wallet.go and walletbody.go, as the contracts do.
func decodeWalletActions(version string, body *cell.Cell) (fb *fakeBody, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed body: %v", r)
		}
	}()
	s := body.MustBeginParse()
	fb = &fakeBody{}
	switch version {
	case WalletV4R2:
		s.MustLoadSlice(512)
		if fb.subwallet = uint32(s.MustLoadUInt(32)); fb.subwallet != wallet.DefaultSubwallet {
			return nil, fmt.Errorf("subwallet %d", fb.subwallet)
		}
		fb.validUntil, fb.seqno = uint32(s.MustLoadUInt(32)), uint32(s.MustLoadUInt(32))
		if op := s.MustLoadUInt(8); op != 0 {
			return nil, fmt.Errorf("op %d", op)
		}
		for s.RefsNum() > 0 {
			mode := uint8(s.MustLoadUInt(8))
			var m tlb.InternalMessage
			if err := tlb.Parse(&m, s.MustLoadRef().MustToCell()); err != nil {
				return nil, err
			}
			fb.actions = append(fb.actions, fakeAction{mode, &m})
		}
		if s.BitsLeft() != 0 || len(fb.actions) > 4 {
			return nil, errors.New("malformed v4 message list")
		}
	case WalletV5R1:
		if op := s.MustLoadUInt(32); op != 0x7369676e {
			return nil, fmt.Errorf("op %#x", op)
		}
		s.MustLoadUInt(32) // wallet id
		fb.validUntil, fb.seqno = uint32(s.MustLoadUInt(32)), uint32(s.MustLoadUInt(32))
		if !s.MustLoadBoolBit() {
			return nil, errors.New("no actions")
		}
		list := s.MustLoadRef()
		if s.MustLoadBoolBit() || s.BitsLeft() != 512 {
			return nil, errors.New("extended actions or no signature")
		}
		if fb.actions, err = decodeOutList(list); err != nil {
			return nil, err
		}
	case WalletHighloadV3:
		s.MustLoadSlice(512)
		in := s.MustLoadRef()
		if s.BitsLeft() != 0 || s.RefsNum() != 0 {
			return nil, errors.New("trailing data")
		}
		fb.subwallet = uint32(in.MustLoadUInt(32))
		ref := in.MustLoadRef()
		mode := uint8(in.MustLoadUInt(8))
		fb.queryID = uint32(in.MustLoadUInt(23))
		fb.createdAt = in.MustLoadUInt(64)
		fb.timeout = uint32(in.MustLoadUInt(22))
		fb.validUntil = uint32(fb.createdAt) + fb.timeout
		if in.BitsLeft() != 0 || in.RefsNum() != 0 {
			return nil, errors.New("trailing inner data")
		}
		var m tlb.InternalMessage
		if err := tlb.Parse(&m, ref.MustToCell()); err != nil {
			return nil, err
		}
		fb.actions = []fakeAction{{mode, &m}}
	default:
		return nil, fmt.Errorf("version %q", version)
	}
	return fb, nil
}

// decodeOutList reads an OutList of action_send_msg, first action first.
func decodeOutList(list *cell.Slice) ([]fakeAction, error) {
	var rev []fakeAction
	for list.RefsNum() > 0 {
		prev := list.MustLoadRef()
		if tag := list.MustLoadUInt(32); tag != 0x0ec3c86d {
			return nil, fmt.Errorf("action %#x", tag)
		}
		mode := uint8(list.MustLoadUInt(8))
		var m tlb.InternalMessage
		if err := tlb.Parse(&m, list.MustLoadRef().MustToCell()); err != nil {
			return nil, err
		}
		if list.BitsLeft() != 0 {
			return nil, errors.New("trailing action data")
		}
		rev = append(rev, fakeAction{mode, &m})
		list = prev
	}
	if len(rev) > 255 {
		return nil, errors.New("more than 255 actions")
	}
	slices.Reverse(rev)
	return rev, nil
}

// decodePack reads a highload_v3 internal_transfer: op, query id, actions.
func decodePack(m *tlb.InternalMessage, queryID uint32) (actions []fakeAction, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed pack: %v", r)
		}
	}()
	s := m.Body.MustBeginParse()
	if op := s.MustLoadUInt(32); op != 0xae42e5a4 {
		return nil, fmt.Errorf("pack op %#x", op)
	}
	if qid := s.MustLoadUInt(64); qid != uint64(queryID) {
		return nil, fmt.Errorf("pack query id %d", qid)
	}
	return decodeOutList(s.MustLoadRef())
}

// decodeWalletBody reads a signed body that sends exactly one message:
// seqno, valid_until, the message and its mode.
func decodeWalletBody(version string, body *cell.Cell) (seqno, validUntil uint32, mode uint8, msg *tlb.InternalMessage, err error) {
	fb, err := decodeWalletActions(version, body)
	if err != nil {
		return 0, 0, 0, nil, err
	}
	if len(fb.actions) != 1 {
		return 0, 0, 0, nil, fmt.Errorf("%d messages, want one", len(fb.actions))
	}
	return fb.seqno, fb.validUntil, fb.actions[0].mode, fb.actions[0].msg, nil
}

// parseBOCExternal parses a broadcast BOC as a message and checks it is an
// inbound external one.
func parseBOCExternal(t *testing.T, boc []byte) *tlb.ExternalMessage {
	t.Helper()
	c, err := cell.FromBOC(boc)
	if err != nil {
		t.Fatalf("FromBOC: %v", err)
	}
	var m tlb.Message
	if err := tlb.Parse(&m, c); err != nil {
		t.Fatalf("Parse message: %v", err)
	}
	if m.MsgType != tlb.MsgTypeExternalIn {
		t.Fatalf("MsgType = %s, want %s", m.MsgType, tlb.MsgTypeExternalIn)
	}
	return m.AsExternalIn()
}

var walletVersions = []string{WalletV4R2, WalletV5R1}

// walletTestKey is the key of walletTestMnemonic, derived once: the
// derivation (100,000 rounds of PBKDF2) is most of a NewWallet.
var walletTestKey = sync.OnceValue(func() ed25519.PrivateKey {
	key, err := wallet.SeedToPrivateKeyWithOptions(strings.Fields(walletTestMnemonic))
	if err != nil {
		panic(err)
	}
	return key
})

// newTestWallet makes the test wallet of version on f (whose address it
// sets) with f's clock and a short poll interval.
func newTestWallet(t *testing.T, f *fakeWalletAPI, version string) *Wallet {
	t.Helper()
	w, err := walletFromKey(f, walletTestKey(), WalletConfig{Version: version})
	if err != nil {
		t.Fatal(err)
	}
	w.Now = f.clock.Now
	w.PollInterval = time.Millisecond
	w.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	f.set(func(f *fakeWalletAPI) { f.addr = w.addr })
	return w
}

func testPayout(t *testing.T) shop.Payout {
	t.Helper()
	body, err := wallet.CreateCommentCell("Telegram Premium for 3 months Ref#7F3K2Q")
	if err != nil {
		t.Fatal(err)
	}
	return shop.Payout{To: walletTestDest, Amount: 1_234_567_891, Payload: body.ToBOC(), Bounce: true}
}

// capture is a record func that keeps the signed payout and returns err.
func capture(sp **shop.SignedPayout, err error) func(context.Context, *shop.SignedPayout) error {
	return func(_ context.Context, p *shop.SignedPayout) error {
		*sp = p
		return err
	}
}

func TestNewWallet_Addresses(t *testing.T) {
	golden := map[string]string{
		"v4r2/mainnet": "UQAehhe3j4eZKvCrqlyBD1QmHiEKytfqR2CVPbK2V-0ruQ1n",
		"v4r2/testnet": "0QAehhe3j4eZKvCrqlyBD1QmHiEKytfqR2CVPbK2V-0rubbt",
		"v5r1/mainnet": "UQCCdTIt9bGcAH0MIcCRYCEE9K7wgYmBB6OusKYNoq0gbOXe",
		"v5r1/testnet": "0QBt__loRd5HfQ4OPYWgdVAgJDy8k-QjrjanCbUQIXKOg-Vh",
	}
	raw := map[string]string{}
	var pub string
	for _, version := range walletVersions {
		for _, testnet := range []bool{false, true} {
			name := version + "/mainnet"
			if testnet {
				name = version + "/testnet"
			}
			t.Run(name, func(t *testing.T) {
				w, err := NewWallet(newFakeWalletAPI(&walletClock{}, version), WalletConfig{Mnemonic: walletTestMnemonic, Version: version, Testnet: testnet})
				if err != nil {
					t.Fatal(err)
				}
				info := w.Info()
				if info.Address != golden[name] || w.Address() != info.Address {
					t.Errorf("Address = %q (Address() %q), want %q", info.Address, w.Address(), golden[name])
				}
				wantPrefix, wantChain := "UQ", "-239"
				if testnet {
					wantPrefix, wantChain = "0Q", "-3"
				}
				if !strings.HasPrefix(info.Address, wantPrefix) || info.Chain != wantChain {
					t.Errorf("Address %q, Chain %q: want prefix %s and chain %s", info.Address, info.Chain, wantPrefix, wantChain)
				}
				a, err := address.ParseAddr(info.Address)
				if err != nil || a.IsBounceable() || a.IsTestnetOnly() != testnet || a.StringRaw() != info.RawAddress {
					t.Errorf("Address %q parses to %v (err %v), raw %q", info.Address, a, err, info.RawAddress)
				}
				if !strings.HasPrefix(info.RawAddress, "0:") || len(info.RawAddress) != 66 {
					t.Errorf("RawAddress = %q", info.RawAddress)
				}
				if len(info.PublicKey) != 64 || (pub != "" && info.PublicKey != pub) {
					t.Errorf("PublicKey = %q, want 64 hex chars, the same for all", info.PublicKey)
				}
				pub = info.PublicKey
				if info.Version != version {
					t.Errorf("Version = %q", info.Version)
				}
				// The address is the hash of the StateInit.
				c, err := cell.FromBOC(info.StateInitBOC)
				if err != nil {
					t.Fatal(err)
				}
				var si tlb.StateInit
				if err := tlb.Parse(&si, c); err != nil || si.Code == nil || si.Data == nil {
					t.Fatalf("StateInit: %v", err)
				}
				if got := "0:" + hex.EncodeToString(c.Hash()); got != info.RawAddress {
					t.Errorf("StateInit hashes to %s, address is %s", got, info.RawAddress)
				}
				raw[name] = info.RawAddress
			})
		}
	}
	if raw["v4r2/mainnet"] != raw["v4r2/testnet"] {
		t.Errorf("v4r2 account differs between networks: %s, %s", raw["v4r2/mainnet"], raw["v4r2/testnet"])
	}
	if raw["v5r1/mainnet"] == raw["v5r1/testnet"] {
		t.Errorf("v5r1 account is the same on both networks: %s", raw["v5r1/mainnet"])
	}
	if raw["v4r2/mainnet"] == raw["v5r1/mainnet"] {
		t.Errorf("v4r2 and v5r1 share an address")
	}
}

func TestWallet_SignStable(t *testing.T) {
	golden := map[string]string{
		WalletV4R2: "0d3a2bc138fe79da2314184561bbf72c1141a11f636c7cc07d4bf684b6daab16",
		WalletV5R1: "4510d1466de1527368e1f48a676743a5b8b2ba05553950356c3c6ce8a31a438c",
	}
	for _, version := range walletVersions {
		t.Run(version, func(t *testing.T) {
			f := newFakeWalletAPI(&walletClock{t: walletT0}, version).deployed(7, 10e9)
			w := newTestWallet(t, f, version)
			stop := errors.New("stop here")
			var sp1, sp2 *shop.SignedPayout
			if _, err := w.Send(t.Context(), testPayout(t), capture(&sp1, stop)); !errors.Is(err, stop) {
				t.Fatalf("Send: %v", err)
			}
			if _, err := w.Send(t.Context(), testPayout(t), capture(&sp2, stop)); !errors.Is(err, stop) {
				t.Fatalf("Send: %v", err)
			}
			if sp1.Hash != sp2.Hash || !bytes.Equal(sp1.BOC, sp2.BOC) {
				t.Errorf("signing twice differs: %s vs %s", sp1.Hash, sp2.Hash)
			}
			if sp1.Hash != golden[version] {
				t.Errorf("Hash = %s, want %s", sp1.Hash, golden[version])
			}
			if want := walletT0.Add(120 * time.Second); !sp1.ValidUntil.Equal(want) || !sp1.SignedAt.Equal(walletT0) {
				t.Errorf("ValidUntil %v SignedAt %v, want %v and %v", sp1.ValidUntil, sp1.SignedAt, want, walletT0)
			}
			if sp1.Seqno != 7 || sp1.Wallet != w.Address() {
				t.Errorf("Seqno %d Wallet %s", sp1.Seqno, sp1.Wallet)
			}
			ext := parseBOCExternal(t, sp1.BOC)
			if !ext.DstAddr.Equals(w.addr) || hex.EncodeToString(ext.NormalizedHash()) != sp1.Hash || ext.StateInit != nil {
				t.Errorf("BOC: to %v, hash %x, state init %v", ext.DstAddr, ext.NormalizedHash(), ext.StateInit != nil)
			}
			seqno, validUntil, _, _, err := decodeWalletBody(version, ext.Body)
			if err != nil || seqno != 7 || int64(validUntil) != sp1.ValidUntil.Unix() {
				t.Errorf("signed body: seqno %d valid_until %d, err %v", seqno, validUntil, err)
			}
		})
	}
}

func TestWallet_SendRecordFails(t *testing.T) {
	f := newFakeWalletAPI(&walletClock{t: walletT0}, WalletV4R2).deployed(7, 10e9)
	w := newTestWallet(t, f, WalletV4R2)
	diskFull := errors.New("disk full")
	var sp *shop.SignedPayout
	res, err := w.Send(t.Context(), testPayout(t), capture(&sp, diskFull))
	if !errors.Is(err, diskFull) || res != nil {
		t.Fatalf("Send = %v, %v; want the record error", res, err)
	}
	if sp == nil {
		t.Fatal("record not called")
	}
	if sent, _, txs, _, _ := f.snapshot(); len(sent) != 0 || len(txs) != 0 {
		t.Errorf("broadcast %d messages after record failed", len(sent))
	}
}

func TestWallet_SendConfirmed(t *testing.T) {
	tests := []struct {
		name     string
		version  string
		deployed bool
		bounce   bool
		payload  bool
	}{
		{"v4r2 deployed", WalletV4R2, true, true, true},
		{"v4r2 first send deploys", WalletV4R2, false, false, true},
		{"v5r1 deployed", WalletV5R1, true, false, true},
		{"v5r1 first send deploys", WalletV5R1, false, true, true},
		{"no payload", WalletV5R1, true, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeWalletAPI(&walletClock{t: walletT0, step: time.Second}, tc.version)
			wantSeqno := uint32(0)
			if tc.deployed {
				f.deployed(7, 10e9)
				wantSeqno = 7
			} else {
				f.exists, f.balance = true, 10e9 // funded, uninit
			}
			w := newTestWallet(t, f, tc.version)
			p := testPayout(t)
			p.Bounce = tc.bounce
			if !tc.payload {
				p.Payload = nil
			}
			var sp *shop.SignedPayout
			res, err := w.Send(t.Context(), p, capture(&sp, nil))
			if err != nil {
				t.Fatal(err)
			}
			sent, _, txs, seqno, seqnoCalls := f.snapshot()
			if len(txs) != 1 || seqno != wantSeqno+1 {
				t.Fatalf("%d transactions, seqno %d", len(txs), seqno)
			}
			want := shop.PayoutResult{State: shop.PayoutConfirmed, TxHash: hex.EncodeToString(txs[0].Hash), TxLT: txs[0].LT}
			if *res != want {
				t.Errorf("result %+v, want %+v", *res, want)
			}
			if tc.deployed != (seqnoCalls == 1) {
				t.Errorf("seqno get-method called %d times (deployed %t)", seqnoCalls, tc.deployed)
			}
			if len(sent) != 1 || !bytes.Equal(sent[0], sp.BOC) {
				t.Fatalf("broadcast %d messages; first is the recorded BOC: %t", len(sent), len(sent) > 0 && bytes.Equal(sent[0], sp.BOC))
			}
			ext := parseBOCExternal(t, sent[0])
			if (ext.StateInit != nil) == tc.deployed {
				t.Errorf("StateInit present %t, wallet deployed %t", ext.StateInit != nil, tc.deployed)
			}
			gotSeqno, _, mode, msg, err := decodeWalletBody(tc.version, ext.Body)
			if err != nil {
				t.Fatal(err)
			}
			if gotSeqno != wantSeqno || sp.Seqno != wantSeqno || mode != 3 {
				t.Errorf("seqno %d (recorded %d), mode %d; want %d and mode 3", gotSeqno, sp.Seqno, mode, wantSeqno)
			}
			if msg.Amount.Nano().Int64() != int64(p.Amount) || msg.Bounce != tc.bounce || !msg.DstAddr.Equals(address.MustParseAddr(walletTestDest)) {
				t.Errorf("message: %s nanoTON to %s bounce %t", msg.Amount.Nano(), msg.DstAddr, msg.Bounce)
			}
			switch {
			case tc.payload && (msg.Body == nil || !bytes.Equal(msg.Body.ToBOC(), p.Payload)):
				t.Errorf("body changed: %v", msg.Body)
			case !tc.payload && msg.Body != nil && (msg.Body.BitsSize() != 0 || msg.Body.RefsNum() != 0):
				t.Errorf("body %v, want none", msg.Body)
			}
			// The transaction's in-message is ours.
			in := txs[0].IO.In
			if in.MsgType != tlb.MsgTypeExternalIn || hex.EncodeToString(in.AsExternalIn().NormalizedHash()) != sp.Hash {
				t.Errorf("transaction in-message is not the payout")
			}
		})
	}
}

func TestWallet_SendOutcomes(t *testing.T) {
	tests := []struct {
		name   string
		step   time.Duration
		setup  func(f *fakeWalletAPI)
		record func(f *fakeWalletAPI) error
		state  shop.PayoutState
		reason string
		tx     bool // the result names a transaction
	}{
		{
			name:   "action phase failed",
			setup:  func(f *fakeWalletAPI) { f.mode = execNoFunds },
			state:  shop.PayoutFailed,
			reason: "action phase failed, result code 37: not enough funds",
			tx:     true,
		},
		{
			name:   "action skipped",
			setup:  func(f *fakeWalletAPI) { f.mode = execSkipped },
			state:  shop.PayoutFailed,
			reason: "no message sent",
			tx:     true,
		},
		{
			name:   "seqno used by another message",
			record: func(f *fakeWalletAPI) error { return f.foreign() },
			state:  shop.PayoutExpired,
			reason: "seqno 7 used by another message",
		},
		{
			name:   "message expired",
			step:   7 * time.Second,
			setup:  func(f *fakeWalletAPI) { f.mode = execNever },
			state:  shop.PayoutExpired,
			reason: "message expired",
		},
		{
			name:   "sent message is not the signed payment",
			step:   time.Second,
			setup:  func(f *fakeWalletAPI) { f.mode = execAltered },
			state:  shop.PayoutFailed,
			reason: "sent no message paying",
			tx:     true,
		},
		{
			name:   "bounced by the destination",
			step:   time.Second,
			setup:  func(f *fakeWalletAPI) { f.bounce = classicBounce },
			state:  shop.PayoutFailed,
			reason: "bounced back",
			tx:     true,
		},
		{
			name: "a bounce of another payment to the same address",
			step: time.Second,
			setup: func(f *fakeWalletAPI) {
				f.bounce = func(sent *tlb.InternalMessage) *tlb.InternalMessage {
					other := *sent
					other.Body = cell.BeginCell().MustStoreUInt(0, 32).MustStoreStringSnake("50 Telegram Stars Ref#other").EndCell()
					return classicBounce(&other)
				}
			},
			state: shop.PayoutConfirmed,
			tx:    true,
		},
		{
			name:  "dropped, then lands after a re-broadcast",
			step:  3 * time.Second,
			setup: func(f *fakeWalletAPI) { f.drop = 2 },
			state: shop.PayoutConfirmed,
			tx:    true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeWalletAPI(&walletClock{t: walletT0, step: tc.step}, WalletV4R2).deployed(7, 10e9)
			w := newTestWallet(t, f, WalletV4R2)
			if tc.setup != nil {
				f.set(tc.setup)
			}
			var sp *shop.SignedPayout
			record := func(ctx context.Context, p *shop.SignedPayout) error {
				sp = p
				if tc.record != nil {
					return tc.record(f)
				}
				return nil
			}
			res, err := w.Send(t.Context(), testPayout(t), record)
			if err != nil {
				t.Fatal(err)
			}
			if res.State != tc.state || !strings.Contains(res.Reason, tc.reason) {
				t.Errorf("result %+v, want %s with reason %q", res, tc.state, tc.reason)
			}
			sent, sentAt, txs, _, _ := f.snapshot()
			var ours *tlb.Transaction
			for _, tx := range txs {
				if ext, ok := tx.IO.In.Msg.(*tlb.ExternalMessage); ok && hex.EncodeToString(ext.NormalizedHash()) == sp.Hash {
					ours = tx
				}
			}
			if tc.tx != (ours != nil) || (ours != nil && (res.TxHash != hex.EncodeToString(ours.Hash) || res.TxLT != ours.LT)) {
				t.Errorf("result names tx %q lt %d; payout transaction %v", res.TxHash, res.TxLT, ours)
			}
			for i, b := range sent {
				if !bytes.Equal(b, sp.BOC) {
					t.Errorf("broadcast %d is not the recorded message", i)
				}
				// The fake notes the clock after the wallet's own reading advanced it.
				if sentAt[i].After(sp.ValidUntil.Add(tc.step)) {
					t.Errorf("broadcast %d at %v, after valid_until %v", i, sentAt[i], sp.ValidUntil)
				}
			}
			if tc.name == "dropped, then lands after a re-broadcast" && len(sent) != 3 {
				t.Errorf("%d broadcasts, want 3", len(sent))
			}
		})
	}
}

func TestWallet_Resume(t *testing.T) {
	// A crash right after record: nothing broadcast.
	crash := func(t *testing.T, version string) (*fakeWalletAPI, *shop.SignedPayout) {
		f := newFakeWalletAPI(&walletClock{t: walletT0, step: time.Second}, version).deployed(7, 10e9)
		w := newTestWallet(t, f, version)
		var sp *shop.SignedPayout
		if _, err := w.Send(t.Context(), testPayout(t), capture(&sp, errors.New("crash"))); err == nil {
			t.Fatal("Send succeeded")
		}
		return f, sp
	}

	t.Run("after a crash", func(t *testing.T) {
		for _, version := range walletVersions {
			t.Run(version, func(t *testing.T) {
				f, sp := crash(t, version)
				w := newTestWallet(t, f, version) // after the restart
				res, err := w.Resume(t.Context(), sp)
				if err != nil {
					t.Fatal(err)
				}
				sent, _, txs, _, seqnoCalls := f.snapshot()
				if res.State != shop.PayoutConfirmed || len(txs) != 1 || res.TxHash != hex.EncodeToString(txs[0].Hash) {
					t.Errorf("result %+v", res)
				}
				if len(sent) != 1 || !bytes.Equal(sent[0], sp.BOC) {
					t.Errorf("re-broadcast %d messages, identical to the record: %t", len(sent), len(sent) == 1 && bytes.Equal(sent[0], sp.BOC))
				}
				if seqnoCalls != 1 { // the one of the first Send
					t.Errorf("seqno get-method called %d times", seqnoCalls)
				}
				// Resuming again finds it, without broadcasting.
				res2, err := w.Resume(t.Context(), sp)
				if err != nil || *res2 != *res {
					t.Errorf("second Resume = %+v, %v", res2, err)
				}
				if sent, _, _, _, _ := f.snapshot(); len(sent) != 1 {
					t.Errorf("second Resume broadcast again")
				}
			})
		}
	})

	t.Run("rejects", func(t *testing.T) {
		f, sp := crash(t, WalletV4R2)
		_, other := crash(t, WalletV5R1)
		w := newTestWallet(t, f, WalletV4R2)
		bad := func(change func(sp *shop.SignedPayout)) *shop.SignedPayout {
			c := *sp
			change(&c)
			return &c
		}
		tests := []struct {
			name string
			sp   *shop.SignedPayout
			want string
		}{
			{"nil", nil, "nil signed payout"},
			{"another wallet's message", other, "not this wallet"},
			{"hash mismatch", bad(func(sp *shop.SignedPayout) { sp.Hash = other.Hash }), "hashes to"},
			{"seqno mismatch", bad(func(sp *shop.SignedPayout) { sp.Seqno++ }), "seqno"},
			{"valid until mismatch", bad(func(sp *shop.SignedPayout) { sp.ValidUntil = sp.ValidUntil.Add(time.Hour) }), "valid until"},
			{"garbage BOC", bad(func(sp *shop.SignedPayout) { sp.BOC = []byte("garbage") }), "BOC"},
			{"not an external message", bad(func(sp *shop.SignedPayout) { sp.BOC = cell.BeginCell().MustStoreUInt(0, 32).EndCell().ToBOC() }), "not an external message"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				res, err := w.Resume(t.Context(), tc.sp)
				if err == nil || !strings.Contains(err.Error(), tc.want) || res != nil {
					t.Errorf("Resume = %v, %v; want an error about %q", res, err, tc.want)
				}
				if _, err := w.Check(t.Context(), tc.sp); err == nil {
					t.Errorf("Check accepted it")
				}
			})
		}
		if sent, _, _, _, _ := f.snapshot(); len(sent) != 0 {
			t.Errorf("broadcast %d messages", len(sent))
		}
	})
}

func TestWallet_PendingUntilCancelled(t *testing.T) {
	f := newFakeWalletAPI(&walletClock{t: walletT0}, WalletV4R2).deployed(7, 10e9)
	w := newTestWallet(t, f, WalletV4R2)
	f.set(func(f *fakeWalletAPI) { f.mode = execNever })
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	f.set(func(f *fakeWalletAPI) {
		f.onAccount = func(n int) {
			if n == 5 { // Send's read, then a few checks
				cancel()
			}
		}
	})
	var sp *shop.SignedPayout
	res, err := w.Send(ctx, testPayout(t), capture(&sp, nil))
	if !errors.Is(err, context.Canceled) || res == nil || res.State != shop.PayoutPending {
		t.Fatalf("Send = %+v, %v; want pending and context.Canceled", res, err)
	}

	// Check looks without broadcasting.
	f.set(func(f *fakeWalletAPI) { f.onAccount = nil })
	sent, _, _, _, _ := f.snapshot()
	res, err = w.Check(t.Context(), sp)
	if err != nil || res.State != shop.PayoutPending {
		t.Fatalf("Check = %+v, %v", res, err)
	}
	if again, _, _, _, _ := f.snapshot(); len(again) != len(sent) {
		t.Errorf("Check broadcast")
	}
	// The message lands (another node had it): Check sees it.
	f.set(func(f *fakeWalletAPI) {
		f.mode = execOK
		if err := f.execute(parseBOCExternal(t, sp.BOC)); err != nil {
			t.Fatal(err)
		}
	})
	// Within the bounce window it is pending with its transaction known;
	// after it, confirmed.
	res, err = w.Check(t.Context(), sp)
	if err != nil || res.State != shop.PayoutPending || res.TxHash == "" {
		t.Fatalf("Check in the bounce window = %+v, %v", res, err)
	}
	f.clock.advance(defaultBounceWindow)
	res, err = w.Check(t.Context(), sp)
	if err != nil || res.State != shop.PayoutConfirmed {
		t.Fatalf("Check = %+v, %v", res, err)
	}
}

// TestWallet_ExpiryNeedsChainTime: past valid_until by our clock is not
// enough while the liteserver's newest block is older: the message may
// have landed in a block it has not seen yet.
func TestWallet_ExpiryNeedsChainTime(t *testing.T) {
	clock := &walletClock{t: walletT0}
	f := newFakeWalletAPI(clock, WalletV4R2).deployed(7, 10e9)
	w := newTestWallet(t, f, WalletV4R2)
	var sp *shop.SignedPayout
	if _, err := w.Send(t.Context(), testPayout(t), capture(&sp, errors.New("crash"))); sp == nil {
		t.Fatalf("Send: %v", err)
	}
	clock.mu.Lock()
	clock.t = sp.ValidUntil.Add(2 * time.Minute)
	clock.mu.Unlock()
	f.set(func(f *fakeWalletAPI) { f.lag = 10 * time.Minute })
	if res, err := w.Check(t.Context(), sp); err != nil || res.State != shop.PayoutPending {
		t.Fatalf("Check with a lagging liteserver = %+v, %v; want pending", res, err)
	}
	f.set(func(f *fakeWalletAPI) { f.lag = 0 })
	if res, err := w.Check(t.Context(), sp); err != nil || res.State != shop.PayoutExpired {
		t.Fatalf("Check = %+v, %v; want expired", res, err)
	}
}

func TestWallet_ConcurrentSendsSerialized(t *testing.T) {
	f := newFakeWalletAPI(&walletClock{t: walletT0, step: time.Second}, WalletV5R1).deployed(7, 10e9)
	w := newTestWallet(t, f, WalletV5R1)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		seqnos  []uint32
		results []*shop.PayoutResult
	)
	for range 2 {
		wg.Go(func() {
			record := func(_ context.Context, sp *shop.SignedPayout) error {
				// The previous payout has landed before this one was signed.
				if _, _, _, seqno, _ := f.snapshot(); seqno != sp.Seqno {
					t.Errorf("signed for seqno %d while the wallet is at %d", sp.Seqno, seqno)
				}
				mu.Lock()
				seqnos = append(seqnos, sp.Seqno)
				mu.Unlock()
				return nil
			}
			res, err := w.Send(t.Context(), testPayout(t), record)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			results = append(results, res)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(seqnos)
	if !slices.Equal(seqnos, []uint32{7, 8}) {
		t.Errorf("seqnos %v, want [7 8]", seqnos)
	}
	for _, res := range results {
		if res.State != shop.PayoutConfirmed {
			t.Errorf("result %+v", res)
		}
	}
	if _, _, txs, seqno, _ := f.snapshot(); len(txs) != 2 || seqno != 9 {
		t.Errorf("%d transactions, seqno %d", len(txs), seqno)
	}
}

func TestNewWallet_BadInputs(t *testing.T) {
	words := strings.Fields(walletTestMnemonic)
	unknown := slices.Clone(words)
	unknown[5] = "zqxjv"
	tests := []struct {
		name string
		cfg  WalletConfig
		want string
	}{
		{"23 words", WalletConfig{Mnemonic: strings.Join(words[:23], " "), Version: WalletV4R2}, "has 23 words"},
		{"25 words", WalletConfig{Mnemonic: walletTestMnemonic + " abandon", Version: WalletV4R2}, "has 25 words"},
		{"unknown word", WalletConfig{Mnemonic: strings.Join(unknown, " "), Version: WalletV4R2}, "not a valid TON mnemonic"},
		{"bad checksum", WalletConfig{Mnemonic: strings.Repeat("abandon ", 24), Version: WalletV5R1}, "not a valid TON mnemonic"},
		{"unknown version", WalletConfig{Mnemonic: walletTestMnemonic, Version: "v3r2"}, `unknown wallet version "v3r2"`},
		{"no version", WalletConfig{Mnemonic: walletTestMnemonic}, "unknown wallet version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w, err := NewWallet(newFakeWalletAPI(&walletClock{}, tc.cfg.Version), tc.cfg)
			if err == nil || w != nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewWallet = %v, %v; want an error about %q", w, err, tc.want)
			}
			leaked(t, err.Error(), tc.cfg.Mnemonic+" zqxjv")
		})
	}
	if _, err := NewWallet(nil, WalletConfig{Mnemonic: walletTestMnemonic, Version: WalletV4R2}); err == nil {
		t.Error("nil API accepted")
	}
	cfg := WalletConfig{Mnemonic: walletTestMnemonic, Version: WalletV4R2}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "wallet", cfg)
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), logged.String()} {
		leaked(t, s, walletTestMnemonic)
		if !strings.Contains(s, "v4r2") {
			t.Errorf("config renders as %q", s)
		}
	}
}

// leaked fails t if s contains a word of mnemonic as a word of its own.
func leaked(t *testing.T, s, mnemonic string) {
	t.Helper()
	tokens := strings.FieldsFunc(s, func(r rune) bool { return r < 'a' || r > 'z' })
	for _, word := range strings.Fields(mnemonic) {
		if slices.Contains(tokens, word) {
			t.Errorf("%q contains the mnemonic word %q", s, word)
		}
	}
}

func TestWallet_SendBadInputs(t *testing.T) {
	tests := []struct {
		name   string
		change func(p *shop.Payout)
		want   string
	}{
		{"bad address", func(p *shop.Payout) { p.To = "UQ-not-an-address" }, "invalid TON address"},
		{"bad raw address", func(p *shop.Payout) { p.To = "0:xyz" }, "invalid raw TON address"},
		{"empty address", func(p *shop.Payout) { p.To = "" }, "invalid TON address"},
		{"zero amount", func(p *shop.Payout) { p.Amount = 0 }, "not positive"},
		{"negative amount", func(p *shop.Payout) { p.Amount = -1 }, "not positive"},
		{"garbage payload", func(p *shop.Payout) { p.Payload = []byte("te6cc garbage") }, "payload is not a valid BOC"},
		{"payee deadline too close", func(p *shop.Payout) { p.ValidUntil = walletT0.Add(5 * time.Second) }, "too soon to sign"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeWalletAPI(&walletClock{t: walletT0}, WalletV4R2).deployed(7, 10e9)
			w := newTestWallet(t, f, WalletV4R2)
			p := testPayout(t)
			tc.change(&p)
			called := false
			res, err := w.Send(t.Context(), p, func(context.Context, *shop.SignedPayout) error { called = true; return nil })
			if err == nil || res != nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Send = %v, %v; want an error about %q", res, err, tc.want)
			}
			if sent, _, _, _, seqnoCalls := f.snapshot(); called || len(sent) != 0 || seqnoCalls != 0 {
				t.Errorf("signed or sent something")
			}
			leaked(t, err.Error(), walletTestMnemonic)
		})
	}
	t.Run("raw address accepted", func(t *testing.T) {
		f := newFakeWalletAPI(&walletClock{t: walletT0, step: time.Second}, WalletV4R2).deployed(7, 10e9)
		w := newTestWallet(t, f, WalletV4R2)
		p := testPayout(t)
		p.To = address.MustParseAddr(walletTestDest).StringRaw()
		res, err := w.Send(t.Context(), p, func(context.Context, *shop.SignedPayout) error { return nil })
		if err != nil || res.State != shop.PayoutConfirmed {
			t.Fatalf("Send = %+v, %v", res, err)
		}
	})
}

// TestWallet_SendPayeeDeadline: a payee's deadline earlier than the
// wallet's TTL is the message's valid_until (Fragment's validUntil).
func TestWallet_SendPayeeDeadline(t *testing.T) {
	for _, version := range []string{WalletV4R2, WalletV5R1} {
		t.Run(version, func(t *testing.T) {
			f := newFakeWalletAPI(&walletClock{t: walletT0, step: time.Second}, version).deployed(7, 10e9)
			w := newTestWallet(t, f, version)
			p := testPayout(t)
			p.ValidUntil = walletT0.Add(45 * time.Second)
			var sp *shop.SignedPayout
			res, err := w.Send(t.Context(), p, capture(&sp, nil))
			if err != nil || res.State != shop.PayoutConfirmed {
				t.Fatalf("Send = %+v, %v", res, err)
			}
			_, validUntil, _, _, err := decodeWalletBody(version, parseBOCExternal(t, sp.BOC).Body)
			if err != nil || int64(validUntil) != p.ValidUntil.Unix() || !sp.ValidUntil.Equal(p.ValidUntil) {
				t.Errorf("signed valid until %d (recorded %v), want %v", validUntil, sp.ValidUntil, p.ValidUntil)
			}
			// A later deadline than the TTL leaves the TTL.
			p.ValidUntil = f.clock.peek().Add(time.Hour)
			if _, err := w.Send(t.Context(), p, capture(&sp, nil)); err != nil {
				t.Fatal(err)
			}
			if !sp.ValidUntil.Before(p.ValidUntil.Add(-time.Minute)) {
				t.Errorf("signed valid until %v, want the wallet's TTL", sp.ValidUntil)
			}
		})
	}
}

func TestWallet_Balance(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *fakeWalletAPI)
		want  shop.NanoTON
	}{
		{"active", func(f *fakeWalletAPI) { f.deployed(3, 3_500_000_001) }, 3_500_000_001},
		{"absent", func(f *fakeWalletAPI) {}, 0},
		{"funded, not deployed", func(f *fakeWalletAPI) { f.exists, f.balance = true, 2e9 }, 2e9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeWalletAPI(&walletClock{t: walletT0}, WalletV5R1)
			tc.setup(f)
			w := newTestWallet(t, f, WalletV5R1)
			got, err := w.Balance(t.Context())
			if err != nil || got != tc.want {
				t.Errorf("Balance = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

// TestWallet_DestinationDecides: where the payee's transaction of the
// payment is readable it decides at once (no bounce window): processed →
// confirmed, aborted → bounced, not yet processed → pending. Past what the
// search reads, the bounce window decides.
func TestWallet_DestinationDecides(t *testing.T) {
	dest := address.MustParseAddr(walletTestDest)
	tests := []struct {
		name   string
		dest   fakeDest
		state  shop.PayoutState
		bounce bool
		window bool // decided only after the bounce window
	}{
		{"processed", fakeDest{traffic: 3}, shop.PayoutConfirmed, false, false},
		{"aborted", fakeDest{abort: true}, shop.PayoutFailed, true, false},
		{"too busy to read", fakeDest{traffic: 16*maxDestPages + 5}, shop.PayoutConfirmed, false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeWalletAPI(&walletClock{t: walletT0, step: time.Second}, WalletV4R2).deployed(7, 10e9)
			w := newTestWallet(t, f, WalletV4R2)
			d := tc.dest
			d.addr = dest
			f.set(func(f *fakeWalletAPI) {
				f.dest = &d
				// The destination is an active account with history.
				if err := d.receive(&tlb.InternalMessage{SrcAddr: address.NewAddress(0, 0, make([]byte, 32)), DstAddr: dest, Amount: tlb.FromNanoTONU(1), CreatedLT: 1000, CreatedAt: uint32(walletT0.Unix())}, false); err != nil {
					t.Fatal(err)
				}
			})
			res, err := w.Send(t.Context(), testPayout(t), func(context.Context, *shop.SignedPayout) error { return nil })
			if err != nil {
				t.Fatal(err)
			}
			if res.State != tc.state || res.Bounced != tc.bounce || res.TxHash == "" {
				t.Fatalf("result %+v, want %s bounced %t", res, tc.state, tc.bounce)
			}
			t.Logf("decided after %v of simulated chain time", f.clock.peek().Sub(walletT0))
			if waited := f.clock.peek().Sub(walletT0); (waited >= defaultBounceWindow) != tc.window {
				t.Errorf("decided after %v of chain time; bounce window used %t, want %t", waited, waited >= defaultBounceWindow, tc.window)
			}
		})
	}
	t.Run("in transit", func(t *testing.T) {
		f := newFakeWalletAPI(&walletClock{t: walletT0, step: time.Second}, WalletV4R2).deployed(7, 10e9)
		w := newTestWallet(t, f, WalletV4R2)
		d := &fakeDest{addr: dest, hold: true}
		f.set(func(f *fakeWalletAPI) {
			f.dest = d
			if err := d.receive(&tlb.InternalMessage{SrcAddr: address.NewAddress(0, 0, make([]byte, 32)), DstAddr: dest, Amount: tlb.FromNanoTONU(1), CreatedLT: 1000, CreatedAt: uint32(walletT0.Unix())}, false); err != nil {
				t.Fatal(err)
			}
		})
		var sp *shop.SignedPayout
		ctx, cancel := context.WithCancel(t.Context())
		f.set(func(f *fakeWalletAPI) {
			f.onAccount = func(n int) {
				if n == 80 { // well past the bounce window
					cancel()
				}
			}
		})
		res, err := w.Send(ctx, testPayout(t), capture(&sp, nil))
		if !errors.Is(err, context.Canceled) || res.State != shop.PayoutPending {
			t.Fatalf("Send = %+v, %v; want pending while in transit", res, err)
		}
		// Past maxTransit the bounce window decides: no bounce came.
		f.set(func(f *fakeWalletAPI) { f.onAccount = nil })
		f.clock.advance(maxTransit)
		res, err = w.Check(t.Context(), sp)
		if err != nil || res.State != shop.PayoutConfirmed {
			t.Fatalf("Check = %+v, %v", res, err)
		}
	})
}

// asListed is tx as ListTransactions hands it over: parsed from its
// serialization, with its hash set.
func asListed(tx *tlb.Transaction) (*tlb.Transaction, error) {
	c, err := tlb.ToCell(tx)
	if err != nil {
		return nil, err
	}
	if c, err = cell.FromBOC(c.ToBOC()); err != nil {
		return nil, err
	}
	var parsed tlb.Transaction
	if err := tlb.Parse(&parsed, c); err != nil {
		return nil, err
	}
	parsed.Hash = c.Hash()
	return &parsed, nil
}
