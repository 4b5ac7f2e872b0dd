// Package tontest gives tests of the deposit path real TON transactions:
// it decodes the fixtures in ton/testdata (real mainnet and testnet
// transactions and message bodies, see ton/testdata/README.md) and serves
// them to a ton.Watcher as a chain.
package tontest

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"starsbot/shop"
	"starsbot/ton"
)

// Paths of the fixtures, relative to a package directory one level below
// the module root (the working directory of `go test` for ./ton and ./bot).
const (
	TransactionsPath = "../ton/testdata/transactions.json"
	BodiesPath       = "../ton/testdata/bodies.json"
)

// Facts are what an independent hand parser read from a transaction (see
// ton/testdata/README.md); tests derive the expected outcome from them.
type Facts struct {
	Direction string `json:"direction"` // "in", "out" (inbound that produced out messages) or "external"
	Bounced   bool   `json:"bounced"`
	Value     string `json:"value_nanoton"`
	Sender    string `json:"sender"` // raw address, "" for externals
	// Body is text_comment, encrypted_comment, binary_comment,
	// jetton_notification, empty or other_op.
	Body    string `json:"body"`
	Op      string `json:"op"`
	Comment string `json:"comment"`
	// Jetton is the transfer_notification's fields (Body
	// jetton_notification): ForwardPayload is text_comment, empty or
	// other_op.
	Jetton *struct {
		QueryID        string `json:"query_id"`
		Amount         string `json:"amount"`
		Sender         string `json:"sender"` // raw address of the previous owner
		ForwardPayload string `json:"forward_payload"`
		ForwardComment string `json:"forward_comment"`
	} `json:"jetton"`
}

// ValueNano is Value as nanoTON; it fails tb on a value beyond int64.
func (f Facts) ValueNano(tb testing.TB) shop.NanoTON {
	tb.Helper()
	n, err := strconv.ParseInt(f.Value, 10, 64)
	if err != nil {
		tb.Fatalf("value_nanoton %q: %v", f.Value, err)
	}
	return shop.NanoTON(n)
}

// Fixture is one real transaction, decoded.
type Fixture struct {
	Name    string `json:"name"`
	Source  string `json:"source"`
	BOC     string `json:"boc_base64"`
	Account string `json:"account"`
	HashHex string `json:"hash_hex"`
	LT      string `json:"lt"`
	Now     int64  `json:"now"`
	Facts   Facts  `json:"facts"`

	// Tx is the BOC decoded with tlb.LoadFromCell, with Hash set to the
	// cell hash, as ListTransactions hands it to the watcher.
	Tx *tlb.Transaction `json:"-"`
}

// Transactions decodes every transaction of the file at path (normally
// TransactionsPath) and checks each against its recorded hash and lt.
func Transactions(tb testing.TB, path string) []Fixture {
	tb.Helper()
	var fs []Fixture
	readJSON(tb, path, &fs)
	for i := range fs {
		f := &fs[i]
		c := decodeBOC(tb, f.Name, f.BOC)
		var tx tlb.Transaction
		if err := tlb.LoadFromCell(&tx, c.MustBeginParse()); err != nil {
			tb.Fatalf("%s: LoadFromCell: %v", f.Name, err)
		}
		tx.Hash = c.Hash()
		if got := hex.EncodeToString(tx.Hash); got != f.HashHex {
			tb.Fatalf("%s: cell hash %s, recorded %s", f.Name, got, f.HashHex)
		}
		if got := strconv.FormatUint(tx.LT, 10); got != f.LT {
			tb.Fatalf("%s: lt %s, recorded %s", f.Name, got, f.LT)
		}
		f.Tx = &tx
	}
	return fs
}

// Find returns the fixture named name.
func Find(tb testing.TB, fs []Fixture, name string) Fixture {
	tb.Helper()
	for _, f := range fs {
		if f.Name == name {
			return f
		}
	}
	tb.Fatalf("no fixture %q", name)
	return Fixture{}
}

// Body is one real message body (not a transaction).
type Body struct {
	Name  string `json:"name"`
	BOC   string `json:"boc_base64"`
	Facts struct {
		Body string `json:"body"`
		Op   string `json:"op"`
	} `json:"facts"`

	Cell *cell.Cell `json:"-"`
}

// Bodies decodes every body of the file at path (normally BodiesPath).
func Bodies(tb testing.TB, path string) []Body {
	tb.Helper()
	var bs []Body
	readJSON(tb, path, &bs)
	for i := range bs {
		bs[i].Cell = decodeBOC(tb, bs[i].Name, bs[i].BOC)
	}
	return bs
}

// In returns the inbound internal message of f, failing tb if it has none.
func (f Fixture) In(tb testing.TB) *tlb.InternalMessage {
	tb.Helper()
	if f.Tx.IO.In != nil {
		if m, ok := f.Tx.IO.In.Msg.(*tlb.InternalMessage); ok && m != nil {
			return m
		}
	}
	tb.Fatalf("%s has no inbound internal message", f.Name)
	return nil
}

// Deliver wraps in (a real message, or one carrying a real body) in a new,
// ordinary transaction of our wallet with logical time lt and no outgoing
// message, serialized and read back as a liteserver answer would be; lt
// makes its hash unique. Only the message is real, the transaction around it
// is not.
func Deliver(tb testing.TB, in *tlb.InternalMessage, lt uint64, now time.Time) *tlb.Transaction {
	tb.Helper()
	tx := &tlb.Transaction{
		AccountAddr: make([]byte, 32),
		LT:          lt,
		PrevTxHash:  make([]byte, 32),
		PrevTxLT:    lt - 1,
		Now:         uint32(now.Unix()),
		OrigStatus:  tlb.AccountStatusActive,
		EndStatus:   tlb.AccountStatusActive,
		StateUpdate: tlb.HashUpdate{OldHash: make([]byte, 32), NewHash: make([]byte, 32)},
		Description: tlb.TransactionDescriptionOrdinary{
			CreditPhase: &tlb.CreditPhase{},
			ComputePhase: tlb.ComputePhase{Phase: tlb.ComputePhaseSkipped{
				Reason: tlb.ComputeSkipReason{Type: tlb.ComputeSkipReasonNoState},
			}},
		},
	}
	tx.IO.In = &tlb.Message{MsgType: tlb.MsgTypeInternal, Msg: in}
	c, err := tlb.ToCell(tx)
	if err != nil {
		tb.Fatalf("ToCell: %v", err)
	}
	if c, err = cell.FromBOC(c.ToBOC()); err != nil {
		tb.Fatalf("FromBOC: %v", err)
	}
	var parsed tlb.Transaction
	if err := tlb.Parse(&parsed, c); err != nil {
		tb.Fatalf("Parse: %v", err)
	}
	parsed.Hash = c.Hash()
	return &parsed
}

// Message is an inbound internal message of amount nanoTON carrying body
// (a real body from Bodies), from a fixed sender.
func Message(tb testing.TB, amount shop.NanoTON, body *cell.Cell) *tlb.InternalMessage {
	tb.Helper()
	coins, err := tlb.FromNano(big.NewInt(int64(amount)), 9)
	if err != nil {
		tb.Fatal(err)
	}
	return &tlb.InternalMessage{
		IHRDisabled: true,
		SrcAddr:     address.MustParseAddr("EQCD39VS5jcptHL8vMjEXrzGaRcCVYto7HUn4bpAOg8xqB2N"),
		DstAddr:     address.MustParseAddr("EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sDs"),
		Amount:      coins,
		Body:        body,
	}
}

// Chain is a ton.Chain over transactions added in order, each parsed by
// ton.ParseTransfer as the liteserver chain does. The fixtures come from
// different accounts and blocks, so the chain links them in the order they
// were added and gives each its position as the ID's logical time (the
// watcher's cursor); the transfer keeps the transaction's own hash and lt.
type Chain struct {
	mu  sync.Mutex
	txs []ton.Tx
}

var _ ton.Chain = (*Chain)(nil)

// Add appends tx and returns it as the watcher will see it.
func (c *Chain) Add(tx *tlb.Transaction) ton.Tx {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := ton.Tx{
		ID:   ton.TxID{LT: uint64(len(c.txs)+1) * 1000, Hash: hex.EncodeToString(tx.Hash)},
		Time: time.Unix(int64(tx.Now), 0).UTC(),
	}
	if n := len(c.txs); n > 0 {
		t.Prev = c.txs[n-1].ID
	}
	if transfer, skip := ton.ParseTransfer(tx); skip != "" {
		t.Skip = skip
	} else {
		t.Transfer = &transfer
	}
	c.txs = append(c.txs, t)
	return t
}

// LastTx returns the newest transaction added.
func (c *Chain) LastTx(ctx context.Context, account string) (ton.TxID, time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.txs) == 0 {
		return ton.TxID{}, time.Unix(0, 0), nil
	}
	last := c.txs[len(c.txs)-1]
	return last.ID, last.Time, nil
}

// Transactions returns up to limit transactions from from back.
func (c *Chain) Transactions(ctx context.Context, account string, from ton.TxID, limit int) ([]ton.Tx, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.txs) - 1; i >= 0; i-- {
		if c.txs[i].ID == from {
			var out []ton.Tx
			for j := i; j >= 0 && len(out) < limit; j-- {
				out = append(out, c.txs[j])
			}
			return out, nil
		}
	}
	return nil, fmt.Errorf("tontest: no transaction %+v", from)
}

func readJSON(tb testing.TB, path string, v any) {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("fixtures: %v", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		tb.Fatalf("fixtures %s: %v", path, err)
	}
}

func decodeBOC(tb testing.TB, name, b64 string) *cell.Cell {
	tb.Helper()
	boc, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		tb.Fatalf("%s: base64: %v", name, err)
	}
	c, err := cell.FromBOC(boc)
	if err != nil {
		tb.Fatalf("%s: FromBOC: %v", name, err)
	}
	return c
}
