package ton

import (
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"
)

// Out-action and message op codes of the wallet contracts.
const (
	actionSendMsg       = 0x0ec3c86d // action_send_msg#0ec3c86d mode:(## 8) out_msg:^MessageRelaxed
	highloadInternalOp  = 0xae42e5a4 // highload v3 internal_transfer#ae42e5a4 query_id:uint64 actions:^OutList
	maxOutActions       = 255        // TVM's limit of actions per transaction
	highloadQueryIDBits = 23         // shift(13) and bit_number(10)
)

// signedBody is what a signed external message of our wallet says.
type signedBody struct {
	// seqno wallets (v4r2, v5r1)
	seqno      uint32
	validUntil uint32 // v4r2, v5r1: valid_until; highload_v3: created_at + timeout
	// highload_v3
	queryID   uint32
	createdAt uint64
	timeout   uint32
	// packed (highload_v3 with several payments): the external sends one
	// internal message to the wallet itself, whose transaction sends
	// the payments.
	packed bool
	// The payments, in the order they are sent, each with its mode.
	payments []payment
}

type payment struct {
	mode uint8
	msg  *tlb.InternalMessage
}

// parseSignedBody decodes a signed external body of version (layouts: the
// BuildMessage of v4r2.go, v5r1.go and highloadv3.go in tonutils-go's
// ton/wallet). self is the wallet's address: a highload message to it
// carries the packed payments.
func parseSignedBody(version string, self *address.Address, body *cell.Cell) (sb *signedBody, err error) {
	fail := func(err error) (*signedBody, error) {
		return nil, fmt.Errorf("ton: not a %s wallet message body: %w", version, err)
	}
	defer func() {
		if r := recover(); r != nil {
			sb, err = fail(fmt.Errorf("malformed: %v", r))
		}
	}()
	if body == nil {
		return fail(errors.New("no body"))
	}
	s, err := body.BeginParse()
	if err != nil {
		return fail(err)
	}
	sb = &signedBody{}
	switch version {
	case WalletV4R2: // signature(512) subwallet(32) valid_until(32) seqno(32) op(8) {mode(8) ^msg}×≤4
		s.MustLoadSlice(512 + 32)
		sb.validUntil, sb.seqno = uint32(s.MustLoadUInt(32)), uint32(s.MustLoadUInt(32))
		if op := s.MustLoadUInt(8); op != 0 {
			return fail(fmt.Errorf("op %d", op))
		}
		for s.BitsLeft() > 0 || s.RefsNum() > 0 {
			mode := uint8(s.MustLoadUInt(8))
			m, err := parseRelaxed(s.MustLoadRef())
			if err != nil {
				return fail(err)
			}
			sb.payments = append(sb.payments, payment{mode, m})
		}
	case WalletV5R1: // op(32) wallet_id(32) valid_until(32) seqno(32) maybe ^OutList, extended bit, signature(512)
		if op := s.MustLoadUInt(32); op != v5SignOp {
			return fail(fmt.Errorf("op %#x", op))
		}
		s.MustLoadUInt(32)
		sb.validUntil, sb.seqno = uint32(s.MustLoadUInt(32)), uint32(s.MustLoadUInt(32))
		if s.MustLoadBoolBit() {
			if sb.payments, err = parseOutList(s.MustLoadRef()); err != nil {
				return fail(err)
			}
		}
		if s.MustLoadBoolBit() {
			return fail(errors.New("extended actions"))
		}
	case WalletHighloadV3: // signature(512) ^[subwallet(32) ^msg mode(8) query_id(23) created_at(64) timeout(22)]
		s.MustLoadSlice(512)
		in := s.MustLoadRef()
		in.MustLoadUInt(32)
		ref := in.MustLoadRef()
		mode := uint8(in.MustLoadUInt(8))
		sb.queryID = uint32(in.MustLoadUInt(highloadQueryIDBits))
		sb.createdAt = in.MustLoadUInt(64)
		sb.timeout = uint32(in.MustLoadUInt(22))
		sb.validUntil = uint32(sb.createdAt + uint64(sb.timeout))
		m, err := parseRelaxed(ref)
		if err != nil {
			return fail(err)
		}
		if m.DstAddr == nil || !m.DstAddr.Equals(self) {
			sb.payments = []payment{{mode, m}}
			break
		}
		// internal_transfer to itself carrying the payments.
		b := m.Body.MustBeginParse()
		if op := b.MustLoadUInt(32); op != highloadInternalOp {
			return fail(fmt.Errorf("internal op %#x", op))
		}
		if qid := b.MustLoadUInt(64); qid != uint64(sb.queryID) {
			return fail(fmt.Errorf("internal query id %d, external %d", qid, sb.queryID))
		}
		sb.packed = true
		if sb.payments, err = parseOutList(b.MustLoadRef()); err != nil {
			return fail(err)
		}
		for _, p := range sb.payments {
			if p.msg.DstAddr != nil && p.msg.DstAddr.Equals(self) {
				return fail(errors.New("nested packs are not supported"))
			}
		}
	default:
		return fail(fmt.Errorf("unknown version %q", version))
	}
	return sb, nil
}

// parseOutList decodes an OutList of action_send_msg into execution order
// (the innermost action runs first).
func parseOutList(s *cell.Slice) ([]payment, error) {
	var rev []payment
	for s.BitsLeft() > 0 || s.RefsNum() > 0 {
		if len(rev) == maxOutActions {
			return nil, errors.New("more than 255 actions")
		}
		prev, err := s.LoadRef()
		if err != nil {
			return nil, err
		}
		tag, err := s.LoadUInt(32)
		if err != nil {
			return nil, err
		}
		if tag != actionSendMsg {
			return nil, fmt.Errorf("action %#x", tag)
		}
		mode, err := s.LoadUInt(8)
		if err != nil {
			return nil, err
		}
		ref, err := s.LoadRef()
		if err != nil {
			return nil, err
		}
		m, err := parseRelaxed(ref)
		if err != nil {
			return nil, err
		}
		rev = append(rev, payment{uint8(mode), m})
		s = prev
	}
	out := make([]payment, len(rev))
	for i, p := range rev {
		out[len(rev)-1-i] = p
	}
	return out, nil
}

func parseRelaxed(s *cell.Slice) (*tlb.InternalMessage, error) {
	c, err := s.ToCell()
	if err != nil {
		return nil, err
	}
	var m tlb.InternalMessage
	if err := tlb.Parse(&m, c); err != nil {
		return nil, fmt.Errorf("internal message: %w", err)
	}
	return &m, nil
}

// bodyHash is the hex hash of a message body, "" when it is empty.
func bodyHash(body *cell.Cell) string {
	if body == nil || (body.BitsSize() == 0 && body.RefsNum() == 0) {
		return ""
	}
	return hex.EncodeToString(body.Hash())
}

// paymentKey identifies a payment by what it pays: destination, amount and
// body. Payouts of one message must have distinct keys, so that each is
// confirmed by its own out-message.
type paymentKey struct {
	to     string // raw address
	amount string // nanoTON
	body   string
}

func keyOf(m *tlb.InternalMessage) paymentKey {
	k := paymentKey{amount: m.Amount.Nano().String(), body: bodyHash(m.Body)}
	if m.DstAddr != nil {
		k.to = m.DstAddr.StringRaw()
	}
	return k
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
