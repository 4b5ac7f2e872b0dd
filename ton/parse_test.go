package ton

import (
	"encoding/hex"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/ton/wallet"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"starsbot/shop"
)

// Test fixtures. The sender is given in the non-bounceable form wallets
// show today; flags are not on the chain, so after parsing the address reads
// back in the default (bounceable, mainnet) form.
const (
	testSenderUQ = "UQCD39VS5jcptHL8vMjEXrzGaRcCVYto7HUn4bpAOg8xqEBI"
	testSenderEQ = "EQCD39VS5jcptHL8vMjEXrzGaRcCVYto7HUn4bpAOg8xqB2N"
	testService  = "EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sDs"
	testLT       = 47_123_456_000_001
	testNow      = 1_767_225_600 // 2026-01-01T00:00:00Z
)

// chainTx builds a transaction of the service wallet as tonutils-go would
// hand it to us: tx is serialized with tlb.ToCell and read back with
// tlb.Parse (at v1.18.0 that runs the hand-written
// (*Transaction).LoadFromCell in tlb/transaction_fast.go), and Hash is
// the cell hash, as ListTransactions sets it.
func chainTx(t testing.TB, tx *tlb.Transaction) *tlb.Transaction {
	t.Helper()
	c, err := tlb.ToCell(tx)
	if err != nil {
		t.Fatalf("ToCell: %v", err)
	}
	// Through a BOC as well, as a liteserver answer would be.
	c, err = cell.FromBOC(c.ToBOC())
	if err != nil {
		t.Fatalf("FromBOC: %v", err)
	}
	var parsed tlb.Transaction
	if err := tlb.Parse(&parsed, c); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	parsed.Hash = c.Hash()
	return &parsed
}

// baseTx is an ordinary transaction with the given inbound message.
func baseTx(in *tlb.Message) *tlb.Transaction {
	svc := address.MustParseAddr(testService)
	tx := &tlb.Transaction{
		AccountAddr: svc.Data(),
		LT:          testLT,
		PrevTxHash:  make([]byte, 32),
		PrevTxLT:    testLT - 1000,
		Now:         testNow,
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
	tx.IO.In = in
	return tx
}

// internal is a plain inbound transfer of amount with body.
func internal(amount tlb.Coins, body *cell.Cell) *tlb.InternalMessage {
	return &tlb.InternalMessage{
		IHRDisabled: true,
		SrcAddr:     address.MustParseAddr(testSenderUQ),
		DstAddr:     address.MustParseAddr(testService),
		Amount:      amount,
		CreatedLT:   testLT - 1,
		CreatedAt:   testNow - 1,
		Body:        body,
	}
}

func depositTx(t testing.TB, msg *tlb.InternalMessage) *tlb.Transaction {
	return chainTx(t, baseTx(&tlb.Message{MsgType: tlb.MsgTypeInternal, Msg: msg}))
}

func commentCell(t testing.TB, text string) *cell.Cell {
	t.Helper()
	c, err := wallet.CreateCommentCell(text)
	if err != nil {
		t.Fatalf("CreateCommentCell: %v", err)
	}
	return c
}

// rawBody is op (32 bits) followed by data as a snake.
func rawBody(op uint64, data []byte) *cell.Cell {
	return cell.BeginCell().MustStoreUInt(op, 32).MustStoreBinarySnake(data).EndCell()
}

func nanoCoins(n *big.Int) tlb.Coins {
	c, err := tlb.FromNano(n, 9)
	if err != nil {
		panic(err)
	}
	return c
}

func TestParseTransfer(t *testing.T) {
	long300 := strings.Repeat("0123456789", 30)
	over := "a" + strings.Repeat("é", 300) // 601 bytes; byte 512 is inside an "é"

	tests := []struct {
		name   string
		tx     func(t *testing.T) *tlb.Transaction
		skip   string
		amount shop.NanoTON
		memo   string
		reason string // NoMemoReason
	}{
		{
			name: "plain deposit",
			tx: func(t *testing.T) *tlb.Transaction {
				return depositTx(t, internal(tlb.MustFromTON("2.5"), commentCell(t, "ORDER-7F3K2Q")))
			},
			amount: 2_500_000_000,
			memo:   "ORDER-7F3K2Q",
		},
		{
			name: "comment spanning several cells",
			tx: func(t *testing.T) *tlb.Transaction {
				body := commentCell(t, long300)
				if body.RefsNum() != 1 {
					t.Fatalf("300-byte comment should be a snake of several cells, root has %d refs", body.RefsNum())
				}
				return depositTx(t, internal(tlb.MustFromTON("1"), body))
			},
			amount: 1_000_000_000,
			memo:   long300,
		},
		{
			name: "memo trimmed, case kept",
			tx: func(t *testing.T) *tlb.Transaction {
				return depositTx(t, internal(tlb.MustFromTON("0.1"), commentCell(t, " \t order-7f3k2q \n")))
			},
			amount: 100_000_000,
			memo:   "order-7f3k2q",
		},
		{
			name: "over-long comment cut on a rune boundary",
			tx: func(t *testing.T) *tlb.Transaction {
				return depositTx(t, internal(tlb.MustFromTON("3"), commentCell(t, over)))
			},
			amount: 3_000_000_000,
			memo:   "a" + strings.Repeat("é", 255), // 511 bytes
		},
		{
			name: "over-long comment cut leaves no trailing space",
			tx: func(t *testing.T) *tlb.Transaction {
				return depositTx(t, internal(tlb.MustFromTON("3"), commentCell(t, strings.Repeat("x", 511)+" tail")))
			},
			amount: 3_000_000_000,
			memo:   strings.Repeat("x", 511),
		},
		{
			name:   "empty body: transfer without comment",
			tx:     func(t *testing.T) *tlb.Transaction { return depositTx(t, internal(tlb.MustFromTON("5"), nil)) },
			amount: 5_000_000_000,
			reason: shop.NoMemoNone,
		},
		{
			name: "empty comment",
			tx: func(t *testing.T) *tlb.Transaction {
				return depositTx(t, internal(tlb.MustFromTON("5"), commentCell(t, "")))
			},
			amount: 5_000_000_000,
			reason: shop.NoMemoEmpty,
		},
		{
			name: "blank comment",
			tx: func(t *testing.T) *tlb.Transaction {
				return depositTx(t, internal(tlb.MustFromTON("5"), commentCell(t, "   ")))
			},
			amount: 5_000_000_000,
			reason: shop.NoMemoEmpty,
		},
		{
			name: "one nanoton",
			tx: func(t *testing.T) *tlb.Transaction {
				return depositTx(t, internal(tlb.FromNanoTONU(1), commentCell(t, "m")))
			},
			amount: 1,
			memo:   "m",
		},
		{
			name: "max int64 nanoton",
			tx: func(t *testing.T) *tlb.Transaction {
				return depositTx(t, internal(nanoCoins(big.NewInt(math.MaxInt64)), commentCell(t, "m")))
			},
			amount: math.MaxInt64,
			memo:   "m",
		},
		{
			name: "non-bounceable transfer to an uninit wallet (aborted, no bounce)",
			tx: func(t *testing.T) *tlb.Transaction {
				tx := baseTx(&tlb.Message{MsgType: tlb.MsgTypeInternal, Msg: internal(tlb.MustFromTON("1"), commentCell(t, "m"))})
				tx.OrigStatus, tx.EndStatus = tlb.AccountStatusUninit, tlb.AccountStatusUninit
				d := tx.Description.(tlb.TransactionDescriptionOrdinary)
				d.Aborted = true
				tx.Description = d
				return chainTx(t, tx)
			},
			amount: 1_000_000_000,
			memo:   "m",
		},

		// Skipped: not deposits at all.
		{
			name: "bounced",
			tx: func(t *testing.T) *tlb.Transaction {
				m := internal(tlb.MustFromTON("1"), rawBody(0xffffffff, []byte("bounced payload")))
				m.Bounced = true
				return depositTx(t, m)
			},
			skip: SkipBounced,
		},
		{
			name: "bounced even with a comment-like body",
			tx: func(t *testing.T) *tlb.Transaction {
				m := internal(tlb.MustFromTON("1"), commentCell(t, "ORDER-7F3K2Q"))
				m.Bounced = true
				return depositTx(t, m)
			},
			skip: SkipBounced,
		},
		{
			name: "with an outgoing message",
			tx: func(t *testing.T) *tlb.Transaction {
				in := internal(tlb.MustFromTON("1"), commentCell(t, "ORDER-7F3K2Q"))
				in.Bounce = true
				tx := baseTx(&tlb.Message{MsgType: tlb.MsgTypeInternal, Msg: in})
				back := &tlb.InternalMessage{
					IHRDisabled: true,
					Bounced:     true,
					SrcAddr:     address.MustParseAddr(testService),
					DstAddr:     address.MustParseAddr(testSenderEQ),
					Amount:      tlb.MustFromTON("0.99"),
					CreatedLT:   testLT + 1,
					CreatedAt:   testNow,
					Body:        cell.BeginCell().MustStoreUInt(0xffffffff, 32).EndCell(),
				}
				mc, err := tlb.ToCell(back)
				if err != nil {
					t.Fatal(err)
				}
				out := cell.NewDict(15)
				if err := out.SetIntKey(big.NewInt(0), cell.BeginCell().MustStoreRef(mc).EndCell()); err != nil {
					t.Fatal(err)
				}
				tx.IO.Out = &tlb.MessagesList{List: out}
				tx.OutMsgCount = 1
				d := tx.Description.(tlb.TransactionDescriptionOrdinary)
				d.Aborted = true
				d.BouncePhase = &tlb.BouncePhase{Phase: tlb.BouncePhaseOk{
					MsgSize: tlb.StorageUsedShort{Cells: big.NewInt(1), Bits: big.NewInt(32)},
					MsgFees: tlb.MustFromTON("0.01"),
					FwdFees: tlb.MustFromTON("0"),
				}}
				tx.Description = d
				return chainTx(t, tx)
			},
			skip: SkipOutgoing,
		},
		{
			name: "zero value",
			tx: func(t *testing.T) *tlb.Transaction {
				return depositTx(t, internal(tlb.ZeroCoins, commentCell(t, "ORDER-7F3K2Q")))
			},
			skip: SkipZeroValue,
		},
		{
			name: "more than max int64 nanoton",
			tx: func(t *testing.T) *tlb.Transaction {
				n := new(big.Int).Add(big.NewInt(math.MaxInt64), big.NewInt(1))
				return depositTx(t, internal(nanoCoins(n), commentCell(t, "m")))
			},
			skip: SkipTooLarge,
		},
		// Value without a text comment: a transfer, with the reason (issue 13, item 9).
		{
			name: "binary body (jetton transfer notification op)",
			tx: func(t *testing.T) *tlb.Transaction {
				body := cell.BeginCell().MustStoreUInt(0x7362d09c, 32).MustStoreUInt(42, 64).EndCell()
				return depositTx(t, internal(tlb.FromNanoTONU(1), body))
			},
			amount: 1,
			reason: shop.NoMemoJetton,
		},
		{
			name: "encrypted comment",
			tx: func(t *testing.T) *tlb.Transaction {
				return depositTx(t, internal(tlb.MustFromTON("1"), rawBody(wallet.EncryptedCommentOpcode, make([]byte, 64))))
			},
			amount: 1_000_000_000,
			reason: shop.NoMemoEncrypted,
		},
		{
			name: "body shorter than an op",
			tx: func(t *testing.T) *tlb.Transaction {
				return depositTx(t, internal(tlb.MustFromTON("1"), cell.BeginCell().MustStoreUInt(0, 16).EndCell()))
			},
			amount: 1_000_000_000,
			reason: shop.NoMemoOther,
		},
		{
			name: "comment not byte-aligned",
			tx: func(t *testing.T) *tlb.Transaction {
				body := cell.BeginCell().MustStoreUInt(0, 32).MustStoreSlice([]byte("abc"), 20).EndCell()
				return depositTx(t, internal(tlb.MustFromTON("1"), body))
			},
			amount: 1_000_000_000,
			reason: shop.NoMemoMalformed,
		},
		{
			name: "comment with two refs is not a snake",
			tx: func(t *testing.T) *tlb.Transaction {
				tail := cell.BeginCell().MustStoreSlice([]byte("x"), 8).EndCell()
				body := cell.BeginCell().MustStoreUInt(0, 32).MustStoreSlice([]byte("ab"), 16).
					MustStoreRef(tail).MustStoreRef(tail).EndCell()
				return depositTx(t, internal(tlb.MustFromTON("1"), body))
			},
			amount: 1_000_000_000,
			reason: shop.NoMemoMalformed,
		},
		{
			name: "body with refs but no bits",
			tx: func(t *testing.T) *tlb.Transaction {
				body := cell.BeginCell().MustStoreRef(commentCell(t, "ORDER-7F3K2Q")).EndCell()
				return depositTx(t, internal(tlb.MustFromTON("1"), body))
			},
			amount: 1_000_000_000,
			reason: shop.NoMemoOther,
		},
		{
			name: "invalid UTF-8 comment",
			tx: func(t *testing.T) *tlb.Transaction {
				return depositTx(t, internal(tlb.MustFromTON("1"), rawBody(0, []byte("ORDER-\xc3\x28"))))
			},
			amount: 1_000_000_000,
			reason: shop.NoMemoBinary,
		},
		{
			name: "invalid UTF-8 in a later cell",
			tx: func(t *testing.T) *tlb.Transaction {
				return depositTx(t, internal(tlb.MustFromTON("1"), rawBody(0, []byte(strings.Repeat("a", 200)+"\xff"))))
			},
			amount: 1_000_000_000,
			reason: shop.NoMemoBinary,
		},
		{
			name: "binary comment (0xff prefix)",
			tx: func(t *testing.T) *tlb.Transaction {
				return depositTx(t, internal(tlb.MustFromTON("1"), rawBody(0, []byte("\xff\x01\x02"))))
			},
			amount: 1_000_000_000,
			reason: shop.NoMemoBinary,
		},
		// Skipped again.
		{
			name: "external inbound message",
			tx: func(t *testing.T) *tlb.Transaction {
				ext := &tlb.ExternalMessage{
					DstAddr: address.MustParseAddr(testService),
					Body:    cell.BeginCell().MustStoreSlice(make([]byte, 64), 512).MustStoreUInt(7, 32).EndCell(),
				}
				return chainTx(t, baseTx(&tlb.Message{MsgType: tlb.MsgTypeExternalIn, Msg: ext}))
			},
			skip: SkipExternal,
		},
		{
			name: "no in-message (tick-tock)",
			tx: func(t *testing.T) *tlb.Transaction {
				tx := baseTx(nil)
				tx.Description = tlb.TransactionDescriptionTickTock{
					IsTock:       true,
					StoragePhase: tlb.StoragePhase{StatusChange: tlb.AccStatusChange{Type: tlb.AccStatusChangeUnchanged}},
					ComputePhase: tlb.ComputePhase{Phase: tlb.ComputePhaseSkipped{
						Reason: tlb.ComputeSkipReason{Type: tlb.ComputeSkipReasonNoState},
					}},
				}
				return chainTx(t, tx)
			},
			skip: SkipNoInMessage,
		},
		{
			name: "no in-message (ordinary)",
			tx:   func(t *testing.T) *tlb.Transaction { return chainTx(t, baseTx(nil)) },
			skip: SkipNoInMessage,
		},

		// Values that do not come from the parser: still no panic.
		{
			name: "nil transaction",
			tx:   func(t *testing.T) *tlb.Transaction { return nil },
			skip: SkipNoInMessage,
		},
		{
			name: "in-message without a message",
			tx:   func(t *testing.T) *tlb.Transaction { return baseTx(&tlb.Message{MsgType: tlb.MsgTypeInternal}) },
			skip: SkipNoInMessage,
		},
		{
			name: "typed nil internal message",
			tx: func(t *testing.T) *tlb.Transaction {
				return baseTx(&tlb.Message{MsgType: tlb.MsgTypeInternal, Msg: (*tlb.InternalMessage)(nil)})
			},
			skip: SkipNoInMessage,
		},
		{
			name: "MsgType says internal, message is external",
			tx: func(t *testing.T) *tlb.Transaction {
				return baseTx(&tlb.Message{MsgType: tlb.MsgTypeInternal, Msg: &tlb.ExternalMessage{}})
			},
			skip: SkipExternal,
		},
		{
			name: "zero-value Coins",
			tx: func(t *testing.T) *tlb.Transaction {
				return baseTx(&tlb.Message{MsgType: tlb.MsgTypeInternal, Msg: &tlb.InternalMessage{}})
			},
			skip: SkipZeroValue,
		},
		{
			name: "nil sender and nil body",
			tx: func(t *testing.T) *tlb.Transaction {
				tx := baseTx(&tlb.Message{MsgType: tlb.MsgTypeInternal, Msg: &tlb.InternalMessage{Amount: tlb.MustFromTON("1")}})
				tx.Hash = make([]byte, 32)
				return tx
			},
			amount: 1_000_000_000,
			reason: shop.NoMemoNone,
		},
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tx := tc.tx(t)
			got, skip := ParseTransfer(tx)
			if skip != tc.skip {
				t.Fatalf("skip = %q, want %q (transfer %+v)", skip, tc.skip, got)
			}
			if skip != "" {
				if got != (shop.Transfer{}) {
					t.Errorf("skipped with a non-zero transfer %+v", got)
				}
				return
			}
			if got.Hash != hex.EncodeToString(tx.Hash) || len(got.Hash) != 64 || got.Hash != strings.ToLower(got.Hash) {
				t.Errorf("Hash = %q, want 64 lowercase hex chars of %x", got.Hash, tx.Hash)
			}
			if got.LT != tx.LT {
				t.Errorf("LT = %d, want %d", got.LT, tx.LT)
			}
			if want := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC); !got.Time.Equal(want) || got.Time.Location() != time.UTC {
				t.Errorf("Time = %v, want %v", got.Time, want)
			}
			wantFrom := testSenderEQ
			if in := tx.IO.In.Msg.(*tlb.InternalMessage); in.SrcAddr == nil {
				wantFrom = ""
			}
			if got.From != wantFrom {
				t.Errorf("From = %q, want %q", got.From, wantFrom)
			}
			if got.Amount != tc.amount {
				t.Errorf("Amount = %d, want %d", got.Amount, tc.amount)
			}
			if got.Memo != tc.memo {
				t.Errorf("Memo = %q (%d bytes), want %q (%d bytes)", got.Memo, len(got.Memo), tc.memo, len(tc.memo))
			}
			if got.NoMemoReason != tc.reason {
				t.Errorf("NoMemoReason = %q, want %q", got.NoMemoReason, tc.reason)
			}
			if !utf8.ValidString(got.Memo) || len(got.Memo) > shop.MaxMemoBytes {
				t.Errorf("Memo invalid or too long: %d bytes", len(got.Memo))
			}
		})
	}
}

// TestParseTransferChainFields pins the values that come from the chain
// encoding rather than from our fixtures: a known hash and sender form.
func TestParseTransferChainFields(t *testing.T) {
	tx := depositTx(t, internal(tlb.MustFromTON("2.5"), commentCell(t, "ORDER-7F3K2Q")))
	got, skip := ParseTransfer(tx)
	if skip != "" {
		t.Fatalf("skip = %q", skip)
	}
	// The v1.18.0 trap ParseTransfer avoids: with no outgoing message IO.Out
	// is a non-nil, empty list, so only OutMsgCount tells.
	if tx.IO.Out == nil || !tx.IO.Out.List.IsEmpty() || tx.OutMsgCount != 0 {
		t.Errorf("tonutils changed: IO.Out = %v, OutMsgCount = %d; re-check ParseTransfer's outgoing test", tx.IO.Out, tx.OutMsgCount)
	}
	if got.From != testSenderEQ {
		t.Errorf("From = %q, want %q", got.From, testSenderEQ)
	}
	if got.Time.Unix() != testNow {
		t.Errorf("Time = %v", got.Time)
	}
}

// fuzzBody builds a body cell from arbitrary bytes: the first byte drops up
// to 7 bits from the root (so unaligned data is reached too), the rest is
// split into a chain of cells of at most 127 bytes each.
func fuzzBody(data []byte) *cell.Cell {
	drop := uint(0)
	if len(data) > 0 {
		drop = uint(data[0] % 8)
		data = data[1:]
	}
	var chunks [][]byte
	for len(data) > 127 && len(chunks) < 16 {
		chunks = append(chunks, data[:127])
		data = data[127:]
	}
	if len(data) > 127 {
		data = data[:127]
	}
	chunks = append(chunks, data)

	var next *cell.Cell
	for i := len(chunks) - 1; i >= 0; i-- {
		bits := uint(len(chunks[i])) * 8
		if i == 0 && bits >= drop {
			bits -= drop
		}
		b := cell.BeginCell().MustStoreSlice(chunks[i], bits)
		if next != nil {
			b.MustStoreRef(next)
		}
		next = b.EndCell()
	}
	return next
}

func FuzzParseTransfer(f *testing.F) {
	op0 := []byte{0, 0, 0, 0, 0}
	f.Add([]byte{}, uint64(1))
	f.Add([]byte{0}, uint64(1_000_000_000))
	f.Add(append(op0, "ORDER-7F3K2Q"...), uint64(2_500_000_000))
	f.Add(append(op0, "  order  "...), uint64(1))
	f.Add(append(op0, strings.Repeat("é", 400)...), uint64(3))
	f.Add(append(op0, "\xff\xfe"...), uint64(3))
	f.Add([]byte{3, 0, 0, 0, 0, 'a', 'b'}, uint64(3))
	f.Add([]byte{0, 0x73, 0x62, 0xd0, 0x9c, 1, 2, 3}, uint64(1))
	f.Add(append(op0, "x"...), uint64(0))
	f.Add(append(op0, "x"...), uint64(math.MaxUint64))

	f.Fuzz(func(t *testing.T, data []byte, amount uint64) {
		msg := internal(nanoCoins(new(big.Int).SetUint64(amount)), fuzzBody(data))
		tx := depositTx(t, msg)
		got, skip := ParseTransfer(tx) // must not panic
		if skip != "" {
			if got != (shop.Transfer{}) {
				t.Fatalf("skipped (%s) with a non-zero transfer %+v", skip, got)
			}
			return
		}
		if got.Amount <= 0 || uint64(got.Amount) != amount {
			t.Fatalf("Amount = %d, sent %d", got.Amount, amount)
		}
		if !utf8.ValidString(got.Memo) || len(got.Memo) > shop.MaxMemoBytes {
			t.Fatalf("Memo invalid or too long: %q", got.Memo)
		}
		if got.Memo != strings.TrimSpace(got.Memo) {
			t.Fatalf("Memo not trimmed: %q", got.Memo)
		}
		if len(got.Hash) != 64 || got.From != testSenderEQ {
			t.Fatalf("Hash %q From %q", got.Hash, got.From)
		}
		if (got.Memo == "") == (got.NoMemoReason == "") {
			t.Fatalf("Memo %q with NoMemoReason %q: exactly one must be set", got.Memo, got.NoMemoReason)
		}
		if got.NoMemoReason != "" {
			return
		}
		// Whatever we accepted as text, tonutils' lenient reader reads the
		// same (InternalMessage.Comment in tlb/message.go).
		in := tx.IO.In.Msg.(*tlb.InternalMessage)
		if want := cutMemo(strings.TrimSpace(in.Comment())); got.Memo != want {
			t.Fatalf("Memo = %q, tonutils Comment() gives %q", got.Memo, want)
		}
	})
}
