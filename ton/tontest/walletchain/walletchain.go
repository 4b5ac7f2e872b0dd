// Package walletchain is a liteserver holding one wallet account, for
// tests of ton.Wallet and of what pays through it: a
// tonapi.APIClientWrapped whose external messages are executed as the
// wallet contracts would, with real tonutils-go cells (every transaction
// goes through tlb.ToCell and tlb.Parse). It was ton/wallet_test.go's
// fakeWalletAPI; it lives here so that package fulfillment's load test can
// pay through the real ton.Wallet over it. It does not import package ton
// (ton's own tests use it), so the wallet versions and the payout mode are
// repeated here; ton's tests check that they agree.
package walletchain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"sync"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	tonapi "github.com/xssnick/tonutils-go/ton"
	"github.com/xssnick/tonutils-go/ton/wallet"
	"github.com/xssnick/tonutils-go/tvm/cell"
)

// Wallet versions (ton.WalletV4R2, ton.WalletV5R1, ton.WalletHighloadV3),
// the highload_v3 timeout ton.Wallet signs with (ton.HighloadV3Timeout)
// and the mode of its payments (ton's payoutMode: PayGasSeparately +
// IgnoreErrors).
const (
	V4R2              = "v4r2"
	V5R1              = "v5r1"
	HighloadV3        = "highload_v3"
	HighloadV3Timeout = 120 * time.Second
	PayoutMode        = wallet.PayGasSeparately + wallet.IgnoreErrors
)

// Clock is a test clock: Now returns the time, then advances it by
// step.
type Clock struct {
	mu   sync.Mutex
	T    time.Time
	Step time.Duration
	real bool
}

// RealClock is the wall clock, for a Chain that executes messages
// ConfirmAfter after they are sent (Advance does nothing).
func RealClock() *Clock { return &Clock{real: true} }

// Now returns the time, then advances it by Step.
func (c *Clock) Now() time.Time {
	if c.real {
		return time.Now()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.T
	c.T = c.T.Add(c.Step)
	return t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.T = c.T.Add(d)
}

// Peek returns the time without advancing it.
func (c *Clock) Peek() time.Time {
	if c.real {
		return time.Now()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.T
}

// Execution modes of Chain.
const (
	ExecOK      = ""        // the wallet sends the payment
	ExecNoFunds = "nofunds" // action phase fails with result code 37
	ExecSkipped = "skipped" // mode +2: the action is skipped, nothing sent
	ExecNever   = "never"   // broadcasts are lost
	ExecAltered = "altered" // the sent message is not the signed one (1 nanoTON less)
)

// Chain is a chain holding one wallet account. A broadcast message
// is executed at once (or ConfirmAfter later), like the wallet contract would (seqno and
// valid_until checked, seqno incremented) and recorded as a transaction
// that went through tlb.ToCell and tlb.Parse. Methods it does not override
// panic (the embedded interface is nil).
type Chain struct {
	tonapi.APIClientWrapped

	Clock   *Clock
	Version string
	Addr    *address.Address

	mu         sync.Mutex
	Exists     bool // the account is in the state
	Active     bool // deployed
	Balance    uint64
	Seqno      uint32
	Txs        []*tlb.Transaction // oldest first
	Sent       [][]byte           // every broadcast, serialized
	SentAt     []time.Time
	SeqnoCalls int
	Accounts   int           // GetAccount calls
	Drop       int           // broadcasts to lose
	Lag        time.Duration // block time behind the clock
	Mode       string        // how accepted messages execute
	// Bounce, if set, makes the destination bounce each payment: the
	// wallet then receives a bounced message built by bounce from it.
	Bounce func(sent *tlb.InternalMessage) *tlb.InternalMessage
	// Dest, if set, is the payee's account: its transactions of our
	// payments are readable, as on a real chain.
	Dest      *Dest
	OnAccount func(n int)
	Queries   map[uint32]bool // highload_v3: executed query ids
	Executed  []*Body         // every accepted external body
	// ConfirmAfter, if positive, is the real-time mode: a broadcast is
	// checked against the current state as a liteserver does (a seqno
	// already used is refused) and executed ConfirmAfter later, as a
	// block would include it. Of two messages with the same seqno only
	// the first executes: the contract refuses the second, which is then
	// counted in Refused.
	ConfirmAfter time.Duration
	Refused      int
}

// New is a chain with the wallet of version (ton.WalletV4R2 …), absent
// until Deployed or a message with its StateInit; set Addr to the wallet's
// address.
func New(clock *Clock, version string) *Chain {
	return &Chain{Clock: clock, Version: version}
}

// Deployed makes the account active with seqno and balance.
func (f *Chain) Deployed(seqno uint32, balance uint64) *Chain {
	f.Exists, f.Active, f.Seqno, f.Balance = true, true, seqno, balance
	return f
}

func (f *Chain) CurrentMasterchainInfo(ctx context.Context) (*tonapi.BlockIDExt, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &tonapi.BlockIDExt{Workchain: -1, Shard: math.MinInt64, SeqNo: 1000, RootHash: make([]byte, 32), FileHash: make([]byte, 32)}, nil
}

func (f *Chain) WaitForBlock(uint32) tonapi.APIClientWrapped { return f }

func (f *Chain) GetBlockHeader(ctx context.Context, b *tonapi.BlockIDExt) (*tlb.BlockHeader, error) {
	h := &tlb.BlockHeader{}
	h.SeqNo = b.SeqNo
	f.mu.Lock()
	defer f.mu.Unlock()
	h.GenUtime = uint32(f.Clock.Peek().Add(-f.Lag).Unix())
	return h, nil
}

func (f *Chain) GetAccount(ctx context.Context, b *tonapi.BlockIDExt, addr *address.Address) (*tlb.Account, error) {
	f.mu.Lock()
	f.Accounts++
	n, hook := f.Accounts, f.OnAccount
	acc := &tlb.Account{}
	if f.Exists && f.Addr != nil && addr.Equals(f.Addr) {
		status := tlb.AccountStatus(tlb.AccountStatusUninit)
		if f.Active {
			status = tlb.AccountStatusActive
		}
		acc.IsActive = true
		acc.State = &tlb.AccountState{IsValid: true, Address: addr, AccountStorage: tlb.AccountStorage{
			Status: status, Balance: tlb.FromNanoTONU(f.Balance),
		}}
		if f.Active {
			d := cell.BeginCell()
			if f.Version == V5R1 {
				d.MustStoreBoolBit(true)
			}
			acc.Data = d.MustStoreUInt(uint64(f.Seqno), 32).MustStoreUInt(0, 32).
				MustStoreSlice(make([]byte, 32), 256).MustStoreDict(nil).EndCell()
		}
		if len(f.Txs) > 0 {
			last := f.Txs[len(f.Txs)-1]
			acc.LastTxLT, acc.LastTxHash = last.LT, last.Hash
			acc.State.LastTransactionLT = last.LT
		}
	}
	if d := f.Dest; d != nil && addr.Equals(d.Addr) && len(d.Txs) > 0 {
		last := d.Txs[len(d.Txs)-1]
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

func (f *Chain) RunGetMethod(ctx context.Context, b *tonapi.BlockIDExt, addr *address.Address, method string, params ...any) (*tonapi.ExecutionResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if method != "seqno" {
		return nil, fmt.Errorf("unexpected get-method %q", method)
	}
	f.SeqnoCalls++
	if !f.Active {
		return nil, tonapi.ContractExecError{Code: tonapi.ErrCodeContractNotInitialized}
	}
	return tonapi.NewExecutionResult([]any{big.NewInt(int64(f.Seqno))}), nil
}

// ListTransactions is like the liteserver's: up to num transactions ending
// at (lt, hash) inclusive, oldest first.
func (f *Chain) ListTransactions(ctx context.Context, addr *address.Address, num uint32, lt uint64, hash []byte) ([]*tlb.Transaction, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	txs := f.Txs
	switch {
	case f.Dest != nil && addr.Equals(f.Dest.Addr):
		txs = f.Dest.Txs
	case !addr.Equals(f.Addr):
		return nil, tonapi.ErrNoTransactionsWereFound
	}
	i := slices.IndexFunc(txs, func(tx *tlb.Transaction) bool { return tx.LT == lt && bytes.Equal(tx.Hash, hash) })
	if i < 0 {
		return nil, tonapi.LSError{Code: -400, Text: "lt not in db"}
	}
	from := max(0, i-int(min(num, 16))+1)
	return slices.Clone(txs[from : i+1]), nil
}

// Dest is the payee's account: busy with others' transactions, and
// processing our payments as they arrive (or holding them in transit).
type Dest struct {
	Addr    *address.Address
	Txs     []*tlb.Transaction
	Hold    bool                              // our payments stay in transit
	Abort   bool                              // our payments' transactions abort (and bounce)
	AbortIf func(m *tlb.InternalMessage) bool // only these abort
	Traffic int                               // other transactions after each of ours
	// OnReceive, if set, is told of each of our payments the account
	// processed without aborting, with the external message (BOC) whose
	// transaction sent it; it runs with the chain locked.
	OnReceive func(ext []byte, m *tlb.InternalMessage)
}

// Receive records the destination's transaction of m (or others'
// traffic when from is nil); f.mu is held.
func (d *Dest) Receive(m *tlb.InternalMessage, aborted bool) error {
	lt := m.CreatedLT + 1
	var prevLT uint64
	prevHash := make([]byte, 32)
	if n := len(d.Txs); n > 0 {
		prevLT, prevHash = d.Txs[n-1].LT, d.Txs[n-1].Hash
		lt = max(lt, prevLT+1)
	}
	in := *m
	tx := &tlb.Transaction{
		AccountAddr: d.Addr.Data(), LT: lt, PrevTxHash: prevHash, PrevTxLT: prevLT, Now: m.CreatedAt,
		OrigStatus: tlb.AccountStatusActive, EndStatus: tlb.AccountStatusActive,
		StateUpdate: tlb.HashUpdate{OldHash: make([]byte, 32), NewHash: make([]byte, 32)},
		Description: tlb.TransactionDescriptionOrdinary{
			ComputePhase: tlb.ComputePhase{Phase: tlb.ComputePhaseSkipped{Reason: tlb.ComputeSkipReason{Type: tlb.ComputeSkipReasonNoGas}}},
			Aborted:      aborted,
		},
	}
	tx.IO.In = &tlb.Message{MsgType: tlb.MsgTypeInternal, Msg: &in}
	parsed, err := AsListed(tx)
	if err != nil {
		return err
	}
	d.Txs = append(d.Txs, parsed)
	return nil
}

func (f *Chain) SendExternalMessage(ctx context.Context, ext *tlb.ExternalMessage) error {
	c, err := tlb.ToCell(ext)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Sent = append(f.Sent, c.ToBOC())
	f.SentAt = append(f.SentAt, f.Clock.Peek())
	if f.Mode == ExecNever {
		return nil
	}
	if f.Drop > 0 {
		f.Drop--
		return nil
	}
	if f.ConfirmAfter <= 0 {
		return f.Execute(ext)
	}
	if f.Version != HighloadV3 && f.Active {
		fb, err := DecodeWalletActions(f.Version, ext.Body)
		if err != nil {
			return err
		}
		if fb.Seqno < f.Seqno {
			return fmt.Errorf("cannot apply external message to current state : exitcode=33 (seqno %d, wallet at %d)", fb.Seqno, f.Seqno)
		}
	}
	time.AfterFunc(f.ConfirmAfter, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if err := f.Execute(ext); err != nil {
			f.Refused++
		}
	})
	return nil
}

// Execute runs ext as the wallet contract would (v4r2/v5r1: seqno and
// valid_until; highload_v3: subwallet, timeout, created_at window and query
// id once), then its actions in order: a payment the balance cannot cover
// is skipped (mode +2). A highload pack (an internal_transfer to the wallet
// itself) is executed in a second transaction. f.mu is held.
func (f *Chain) Execute(ext *tlb.ExternalMessage) error {
	fb, err := DecodeWalletActions(f.Version, ext.Body)
	if err != nil {
		return err
	}
	now := f.Clock.Peek().Unix()
	switch {
	case !ext.DstAddr.Equals(f.Addr):
		return errors.New("cannot apply external message to current state: wrong account")
	case !f.Active && ext.StateInit == nil:
		return errors.New("cannot apply external message to current state: account not initialized")
	}
	if f.Version == HighloadV3 {
		switch {
		case fb.Subwallet != wallet.DefaultSubwallet:
			return errors.New("cannot apply external message to current state : exitcode=34 (subwallet)")
		case fb.Timeout != uint32(HighloadV3Timeout/time.Second):
			return errors.New("cannot apply external message to current state : exitcode=38 (timeout)")
		case int64(fb.CreatedAt) <= now-int64(fb.Timeout) || int64(fb.CreatedAt) > now:
			return fmt.Errorf("cannot apply external message to current state : exitcode=35 (created_at %d, now %d)", fb.CreatedAt, now)
		case fb.QueryID%1024 == 1023:
			return errors.New("cannot apply external message to current state : exitcode=33 (bit number)")
		case f.Queries[fb.QueryID]:
			return errors.New("cannot apply external message to current state : exitcode=36 (query already executed)")
		}
		if f.Queries == nil {
			f.Queries = map[uint32]bool{}
		}
		f.Queries[fb.QueryID] = true
	} else {
		switch {
		case fb.Seqno != f.Seqno:
			return fmt.Errorf("cannot apply external message to current state : exitcode=33 (seqno %d, wallet at %d)", fb.Seqno, f.Seqno)
		case int64(fb.ValidUntil) < now:
			return errors.New("cannot apply external message to current state : exitcode=36")
		}
		f.Seqno++
	}
	for _, a := range fb.Actions {
		if a.Mode != PayoutMode {
			return errors.New("unexpected mode")
		}
	}
	f.Executed = append(f.Executed, fb)
	sent, action := f.run(fb.Actions)
	out, err := f.appendTx(&tlb.Message{MsgType: tlb.MsgTypeExternalIn, Msg: ext}, action, sent)
	if err != nil {
		return err
	}
	if f.Version == HighloadV3 && len(out) == 1 && out[0].DstAddr.Equals(f.Addr) {
		pack := out[0]
		actions, err := DecodePack(pack, fb.QueryID)
		if err != nil {
			return err
		}
		fb.Packed = actions
		f.Balance += pack.Amount.Nano().Uint64()
		sent, action := f.run(actions)
		if out, err = f.appendTx(&tlb.Message{MsgType: tlb.MsgTypeInternal, Msg: pack}, action, sent); err != nil {
			return err
		}
	}
	return f.deliver(ext, out)
}

// run executes actions against the balance; f.Mode overrides. f.mu is held.
func (f *Chain) run(actions []Action) ([]*tlb.InternalMessage, *tlb.ActionPhase) {
	n := uint16(len(actions))
	switch f.Mode {
	case ExecNoFunds:
		return nil, &tlb.ActionPhase{Valid: true, NoFunds: true, ResultCode: 37, TotalActions: n}
	case ExecSkipped:
		return nil, &tlb.ActionPhase{Success: true, Valid: true, TotalActions: n, SkippedActions: n}
	}
	ap := &tlb.ActionPhase{Success: true, Valid: true, TotalActions: n}
	balance := f.Balance
	var sent []*tlb.InternalMessage
	for i, a := range actions {
		m := *a.Msg
		if f.Mode == ExecAltered && i == 0 {
			m.Amount = tlb.FromNanoTONU(m.Amount.Nano().Uint64() - 1)
		}
		amount := m.Amount.Nano().Uint64()
		if amount > balance {
			if a.Mode&wallet.IgnoreErrors != 0 {
				ap.SkippedActions++
				continue
			}
			return nil, &tlb.ActionPhase{Valid: true, NoFunds: true, ResultCode: 37, TotalActions: n}
		}
		balance -= amount
		sent = append(sent, &m)
	}
	f.Balance = balance
	ap.MessagesCreated = uint16(len(sent))
	return sent, ap
}

// deliver hands sent payments (of ext) to the payee's account and bounces
// them as f.Bounce says. f.mu is held.
func (f *Chain) deliver(ext *tlb.ExternalMessage, sent []*tlb.InternalMessage) error {
	for _, m := range sent {
		d := f.Dest
		if d == nil || d.Hold || !m.DstAddr.Equals(d.Addr) {
			continue
		}
		aborted := d.Abort || (d.AbortIf != nil && d.AbortIf(m))
		if err := d.Receive(m, aborted); err != nil {
			return err
		}
		if d.OnReceive != nil && !aborted {
			c, err := tlb.ToCell(ext)
			if err != nil {
				return err
			}
			d.OnReceive(c.ToBOC(), m)
		}
		for i := range d.Traffic {
			other := *m
			other.SrcAddr = address.NewAddress(0, 0, bytes.Repeat([]byte{byte(i + 1)}, 32))
			if err := d.Receive(&other, false); err != nil {
				return err
			}
		}
	}
	if f.Bounce == nil {
		return nil
	}
	for _, m := range sent {
		if b := f.Bounce(m); b != nil {
			b.CreatedLT = f.Txs[len(f.Txs)-1].LT + 300
			if err := f.appendIn(b); err != nil {
				return err
			}
		}
	}
	return nil
}

// ClassicBounce is how the destination bounces a message: the value less
// fees, and a body of 0xffffffff followed by the first 256 bits of the
// original body (the TON whitepaper's bounce format).
func ClassicBounce(sent *tlb.InternalMessage) *tlb.InternalMessage {
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
func (f *Chain) appendIn(in *tlb.InternalMessage) error {
	m := *in
	m.DstAddr = f.Addr
	prev := f.Txs[len(f.Txs)-1]
	tx := &tlb.Transaction{
		AccountAddr: f.Addr.Data(),
		LT:          m.CreatedLT + 1,
		PrevTxHash:  prev.Hash,
		PrevTxLT:    prev.LT,
		Now:         uint32(f.Clock.Peek().Unix()),
		OrigStatus:  tlb.AccountStatusActive,
		EndStatus:   tlb.AccountStatusActive,
		StateUpdate: tlb.HashUpdate{OldHash: make([]byte, 32), NewHash: make([]byte, 32)},
		Description: prev.Description,
	}
	tx.IO.In = &tlb.Message{MsgType: tlb.MsgTypeInternal, Msg: &m}
	parsed, err := AsListed(tx)
	if err != nil {
		return err
	}
	f.Txs = append(f.Txs, parsed)
	f.Balance += m.Amount.Nano().Uint64()
	return nil
}

// foreign executes another message of the wallet, spending its seqno.
func (f *Chain) Foreign() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	ext := &tlb.ExternalMessage{DstAddr: f.Addr, Body: cell.BeginCell().MustStoreUInt(uint64(f.Seqno), 32).EndCell()}
	_, err := f.appendTx(&tlb.Message{MsgType: tlb.MsgTypeExternalIn, Msg: ext}, &tlb.ActionPhase{Success: true, Valid: true}, nil)
	f.Seqno++
	return err
}

// appendTx records the wallet's transaction of the inbound message in,
// which sent the messages sent, and returns them as sent (source, lts);
// f.mu is held.
func (f *Chain) appendTx(in *tlb.Message, action *tlb.ActionPhase, sent []*tlb.InternalMessage) ([]*tlb.InternalMessage, error) {
	prevLT, prevHash := uint64(0), make([]byte, 32)
	lt := uint64(47_000_000_000_000)
	if n := len(f.Txs); n > 0 {
		prevLT, prevHash = f.Txs[n-1].LT, f.Txs[n-1].Hash
		lt = prevLT + 1000
	}
	now := uint32(f.Clock.Peek().Unix())
	action.StatusChange = tlb.AccStatusChange{Type: tlb.AccStatusChangeUnchanged}
	action.ActionListHash = make([]byte, 32)
	action.TotalMsgSize = tlb.StorageUsedShort{Cells: big.NewInt(1), Bits: big.NewInt(700)}
	orig := tlb.AccountStatus(tlb.AccountStatusActive)
	if !f.Active {
		orig = tlb.AccountStatusUninit
	}
	tx := &tlb.Transaction{
		AccountAddr: f.Addr.Data(),
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
			m.SrcAddr, m.CreatedLT, m.CreatedAt = f.Addr.Bounce(true), lt+1+uint64(i), now
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
	parsed, err := AsListed(tx)
	if err != nil {
		return nil, err
	}
	f.Txs = append(f.Txs, parsed)
	f.Exists, f.Active = true, true
	return out, nil
}

func (f *Chain) Set(fn func(f *Chain)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *Chain) Snapshot() (sent [][]byte, sentAt []time.Time, txs []*tlb.Transaction, seqno uint32, seqnoCalls int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.Sent), slices.Clone(f.SentAt), slices.Clone(f.Txs), f.Seqno, f.SeqnoCalls
}

// Action is one action_send_msg of a signed body.
type Action struct {
	Mode uint8
	Msg  *tlb.InternalMessage
}

// Body is a signed external body as the contract reads it.
type Body struct {
	Seqno, ValidUntil uint32 // v4r2, v5r1
	Subwallet         uint32
	QueryID           uint32 // highload_v3
	CreatedAt         uint64
	Timeout           uint32
	Actions           []Action // what the external message sends, in order
	Packed            []Action // highload_v3: what its pack sent, once executed
}

// DecodeWalletActions reads a signed external body independently of
// wallet.go and walletbody.go, as the contracts do.
func DecodeWalletActions(version string, body *cell.Cell) (fb *Body, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed body: %v", r)
		}
	}()
	s := body.MustBeginParse()
	fb = &Body{}
	switch version {
	case V4R2:
		s.MustLoadSlice(512)
		if fb.Subwallet = uint32(s.MustLoadUInt(32)); fb.Subwallet != wallet.DefaultSubwallet {
			return nil, fmt.Errorf("subwallet %d", fb.Subwallet)
		}
		fb.ValidUntil, fb.Seqno = uint32(s.MustLoadUInt(32)), uint32(s.MustLoadUInt(32))
		if op := s.MustLoadUInt(8); op != 0 {
			return nil, fmt.Errorf("op %d", op)
		}
		for s.RefsNum() > 0 {
			mode := uint8(s.MustLoadUInt(8))
			var m tlb.InternalMessage
			if err := tlb.Parse(&m, s.MustLoadRef().MustToCell()); err != nil {
				return nil, err
			}
			fb.Actions = append(fb.Actions, Action{mode, &m})
		}
		if s.BitsLeft() != 0 || len(fb.Actions) > 4 {
			return nil, errors.New("malformed v4 message list")
		}
	case V5R1:
		if op := s.MustLoadUInt(32); op != 0x7369676e {
			return nil, fmt.Errorf("op %#x", op)
		}
		s.MustLoadUInt(32) // wallet id
		fb.ValidUntil, fb.Seqno = uint32(s.MustLoadUInt(32)), uint32(s.MustLoadUInt(32))
		if !s.MustLoadBoolBit() {
			return nil, errors.New("no actions")
		}
		list := s.MustLoadRef()
		if s.MustLoadBoolBit() || s.BitsLeft() != 512 {
			return nil, errors.New("extended actions or no signature")
		}
		if fb.Actions, err = decodeOutList(list); err != nil {
			return nil, err
		}
	case HighloadV3:
		s.MustLoadSlice(512)
		in := s.MustLoadRef()
		if s.BitsLeft() != 0 || s.RefsNum() != 0 {
			return nil, errors.New("trailing data")
		}
		fb.Subwallet = uint32(in.MustLoadUInt(32))
		ref := in.MustLoadRef()
		mode := uint8(in.MustLoadUInt(8))
		fb.QueryID = uint32(in.MustLoadUInt(23))
		fb.CreatedAt = in.MustLoadUInt(64)
		fb.Timeout = uint32(in.MustLoadUInt(22))
		fb.ValidUntil = uint32(fb.CreatedAt) + fb.Timeout
		if in.BitsLeft() != 0 || in.RefsNum() != 0 {
			return nil, errors.New("trailing inner data")
		}
		var m tlb.InternalMessage
		if err := tlb.Parse(&m, ref.MustToCell()); err != nil {
			return nil, err
		}
		fb.Actions = []Action{{mode, &m}}
	default:
		return nil, fmt.Errorf("version %q", version)
	}
	return fb, nil
}

// decodeOutList reads an OutList of action_send_msg, first action first.
func decodeOutList(list *cell.Slice) ([]Action, error) {
	var rev []Action
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
		rev = append(rev, Action{mode, &m})
		list = prev
	}
	if len(rev) > 255 {
		return nil, errors.New("more than 255 actions")
	}
	slices.Reverse(rev)
	return rev, nil
}

// DecodePack reads a highload_v3 internal_transfer: op, query id, actions.
func DecodePack(m *tlb.InternalMessage, queryID uint32) (actions []Action, err error) {
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

// DecodeWalletBody reads a signed body that sends exactly one message:
// seqno, valid_until, the message and its mode.
func DecodeWalletBody(version string, body *cell.Cell) (seqno, validUntil uint32, mode uint8, msg *tlb.InternalMessage, err error) {
	fb, err := DecodeWalletActions(version, body)
	if err != nil {
		return 0, 0, 0, nil, err
	}
	if len(fb.Actions) != 1 {
		return 0, 0, 0, nil, fmt.Errorf("%d messages, want one", len(fb.Actions))
	}
	return fb.Seqno, fb.ValidUntil, fb.Actions[0].Mode, fb.Actions[0].Msg, nil
}

// AsListed is tx as ListTransactions hands it over: parsed from its
// serialization, with its hash set.
func AsListed(tx *tlb.Transaction) (*tlb.Transaction, error) {
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
