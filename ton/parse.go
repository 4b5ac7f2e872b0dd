package ton

import (
	"encoding/hex"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/ton/jetton"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"starsbot/shop"
)

// Skip reasons, also the values of the watcher's skipped-transactions metric label.
const (
	SkipNoInMessage = "no_in_message" // no inbound message (tick-tock, storage, ...)
	SkipExternal    = "external"      // inbound message is not internal (e.g. our own wallet's external)
	SkipBounced     = "bounced"       // a bounce of one of our own outgoing messages coming back
	SkipOutgoing    = "outgoing"      // the transaction sent something (a bounce back, a payout)
	SkipZeroValue   = "zero_value"    // the message carried no TON
	SkipTooLarge    = "too_large"     // more than math.MaxInt64 nanoTON (beyond the total supply)
)

// Message body ops ParseTransfer tells apart.
const (
	opComment            = 0x00000000 // text comment: snake-encoded UTF-8 follows
	opEncryptedComment   = 0x2167da4b // wallet.EncryptedCommentOpcode (Tonkeeper's encrypted comment)
	opJettonNotification = 0x7362d09c // jetton transfer_notification (jetton.TransferNotification)
)

// ParseTransfer turns a transaction of our deposit wallet into a shop.Transfer, or says why it is not a deposit.
//
// A deposit is an internal inbound message that is not a bounce, whose
// transaction produced no outgoing message (tx.OutMsgCount == 0: at
// tonutils-go v1.18.0 tx.IO.Out is non-nil even when empty), with a positive
// value. Every such message is a transfer, whatever its body: TON that
// arrived must not vanish. When the body is a text comment (32-bit op 0,
// then a byte-aligned snake string, valid UTF-8, not blank) it is the memo;
// otherwise Memo is "" and NoMemoReason says what came instead:
//   - shop.NoMemoNone: no body, or an empty one (what wallets send for a
//     transfer without a comment; tonutils' own Wallet.BuildTransfer leaves
//     Body nil for comment "");
//   - shop.NoMemoEmpty: op 0 with only white space;
//   - shop.NoMemoEncrypted: an encrypted comment (op 0x2167da4b);
//   - shop.NoMemoBinary: op 0 whose bytes are not UTF-8 (0xff binary comments);
//   - shop.NoMemoMalformed: op 0 that is not a well-formed snake string;
//   - shop.NoMemoJetton: a jetton transfer notification (op 0x7362d09c)
//     that is not a well-formed TEP-74 one: only its TON counts;
//   - shop.NoMemoOther: any other op, or a body too short for one.
//
// A well-formed jetton transfer_notification (TEP-74, see jetton.go) is a
// jetton transfer: Asset shop.AssetJetton, JettonAmount its amount,
// JettonWallet the message's source (the jetton wallet that sent it), From
// the notification's sender (the previous owner), Amount the TON it
// carried, and the memo read from its forward payload by the same rules as
// a TON comment (inline or in a ref; none, binary, encrypted, other op…).
// Whether the jetton is our USDT is for the Watcher to decide (it knows our
// jetton wallet); ParseTransfer never says AssetUSDT. Bounced messages and
// transactions with outgoing messages are skipped exactly as for TON.
//
// The shop decides what becomes of it (dust below its minimum, unmatched
// for an admin otherwise); ParseTransfer applies no amount threshold.
//
// The memo is the comment trimmed of surrounding white space, cut to at most
// shop.MaxMemoBytes on a UTF-8 boundary; case and inner characters are kept as
// sent. Hash is hex of tx.Hash, which the caller must have set (ListTransactions
// does). ParseTransfer never panics, whatever tx holds.
func ParseTransfer(tx *tlb.Transaction) (t shop.Transfer, skip string) {
	if tx == nil || tx.IO.In == nil || tx.IO.In.Msg == nil {
		return shop.Transfer{}, SkipNoInMessage
	}
	// The type switch on the concrete message, not MsgType + AsInternal
	// (an unchecked assertion that panics on a mismatch: (*tlb.Message).AsInternal
	// in tonutils-go's tlb/message.go).
	var in *tlb.InternalMessage
	switch m := tx.IO.In.Msg.(type) {
	case *tlb.InternalMessage:
		in = m
	default:
		return shop.Transfer{}, SkipExternal
	}
	if in == nil {
		return shop.Transfer{}, SkipNoInMessage
	}
	if in.Bounced {
		return shop.Transfer{}, SkipBounced
	}
	if tx.OutMsgCount != 0 {
		return shop.Transfer{}, SkipOutgoing
	}
	nano := in.Amount.Nano() // a copy; 0 for the zero Coins
	if nano.Sign() <= 0 {
		return shop.Transfer{}, SkipZeroValue
	}
	if !nano.IsInt64() {
		return shop.Transfer{}, SkipTooLarge
	}
	if n, units, ok := notification(in.Body); ok {
		memo, reason := comment(n.ForwardPayload)
		return shop.Transfer{
			Hash:         hex.EncodeToString(tx.Hash),
			LT:           tx.LT,
			Time:         time.Unix(int64(tx.Now), 0).UTC(),
			From:         sender(n.Sender),
			Amount:       shop.NanoTON(nano.Int64()),
			Memo:         memo,
			NoMemoReason: reason,
			Asset:        shop.AssetJetton,
			JettonAmount: units,
			JettonWallet: sender(in.SrcAddr),
		}, ""
	}
	memo, reason := comment(in.Body)
	return shop.Transfer{
		Hash:         hex.EncodeToString(tx.Hash),
		LT:           tx.LT,
		Time:         time.Unix(int64(tx.Now), 0).UTC(),
		From:         sender(in.SrcAddr),
		Amount:       shop.NanoTON(nano.Int64()),
		Memo:         memo,
		NoMemoReason: reason,
	}, ""
}

// notification parses body as a jetton transfer_notification when its op
// says it is one.
func notification(body *cell.Cell) (jetton.TransferNotification, int64, bool) {
	if body == nil {
		return jetton.TransferNotification{}, 0, false
	}
	s, err := body.BeginParse()
	if err != nil {
		return jetton.TransferNotification{}, 0, false
	}
	if op, err := s.LoadUInt(32); err != nil || op != opJettonNotification {
		return jetton.TransferNotification{}, 0, false
	}
	return parseNotification(body)
}

// sender renders a source address in user-friendly form (address.String,
// "EQ…" for an address read from a message), or "" when there is none.
func sender(a *address.Address) string {
	if a == nil || a.IsAddrNone() {
		return ""
	}
	s := a.String()
	if len(s) > shop.MaxAddressBytes { // only non-standard (var) addresses; never on a real transfer
		return ""
	}
	return s
}

// comment reads a message body as a text comment: the memo, or "" and why
// there is none (a shop.NoMemo… reason).
func comment(body *cell.Cell) (memo string, noMemo string) {
	if body == nil {
		return "", shop.NoMemoNone
	}
	s, err := body.BeginParse()
	if err != nil {
		return "", shop.NoMemoOther
	}
	if s.BitsLeft() == 0 && s.RefsNum() == 0 {
		return "", shop.NoMemoNone
	}
	op, err := s.LoadUInt(32)
	switch {
	case err != nil:
		return "", shop.NoMemoOther
	case op == opEncryptedComment:
		return "", shop.NoMemoEncrypted
	case op == opJettonNotification:
		return "", shop.NoMemoJetton
	case op != opComment:
		return "", shop.NoMemoOther
	}
	text, ok := snake(s)
	if !ok {
		return "", shop.NoMemoMalformed
	}
	if !utf8.Valid(text) {
		return "", shop.NoMemoBinary
	}
	if memo = cutMemo(strings.TrimSpace(string(text))); memo == "" {
		return "", shop.NoMemoEmpty
	}
	return memo, ""
}

// snake reads the rest of s as snake data: whole bytes in each cell, at
// most one ref, continued in that ref. It is Slice.LoadBinarySnake
// (tonutils-go's tvm/cell/slice.go) made strict: that one pads a cell whose bit count
// is not a multiple of 8 with zero bits instead of failing.
func snake(s *cell.Slice) ([]byte, bool) {
	var data []byte
	for {
		bits := s.BitsLeft()
		if bits%8 != 0 || s.RefsNum() > 1 {
			return nil, false
		}
		if bits > 0 {
			b, err := s.LoadSlice(bits)
			if err != nil {
				return nil, false
			}
			data = append(data, b...)
		}
		if s.RefsNum() == 0 {
			return data, true
		}
		next, err := s.LoadRef()
		if err != nil {
			return nil, false
		}
		s = next
	}
}

// cutMemo cuts s to at most shop.MaxMemoBytes without splitting a rune, and
// trims white space the cut may have left at the end.
func cutMemo(s string) string {
	return strings.TrimSpace(shop.TruncateUTF8(s, shop.MaxMemoBytes))
}
