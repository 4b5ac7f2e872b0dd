package ton

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math"
	"math/big"

	"github.com/xssnick/tonutils-go/address"
	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/ton/jetton"
	"github.com/xssnick/tonutils-go/tvm/cell"
)

// USDT on TON.
//
// A jetton transfer reaches us as a transfer_notification from OUR jetton
// wallet for the master (TEP-74, github.com/ton-blockchain/TEPs
// text/0074-jettons-standard.md, "transfer_notification"):
//
//	transfer_notification#7362d09c query_id:uint64 amount:(VarUInteger 16)
//	    sender:MsgAddress forward_payload:(Either Cell ^Cell) = InternalMsgBody;
//
// sent by the recipient's jetton wallet to its owner (us) "if
// forward_ton_amount > 0"; sender is the previous owner. Anyone can deploy a
// jetton wallet that sends the same message ("Always validate that jetton
// wallets belong to the expected master contract": ton-org/docs
// payments/jettons.mdx, "Security considerations"), so a notification
// counts only when its message's source is the address the master's
// get_wallet_address returns for our deposit address.

// MainnetUSDTMaster is Tether's USDT jetton master on TON mainnet, as
// tonutils-go v1.18.0's example/accept-payments/main.go and the TON docs'
// Tonkeeper link name it (see ../shared/notes/ton.md §5 "USDT specifics").
const MainnetUSDTMaster = "EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sDs"

// JettonWallets answers a jetton master's get_wallet_address get-method:
// the address of owner's jetton wallet for master.
type JettonWallets interface {
	JettonWallet(ctx context.Context, master, owner string) (string, error)
}

var (
	_ JettonWallets = (*Lite)(nil)
	_ JettonWallets = (*SimChain)(nil)
)

// JettonWallet runs the master's get_wallet_address for owner on the newest
// masterchain block (tonutils-go's jetton.Client.GetJettonWallet, which
// checks the account-state proof under the client's policy).
func (l *Lite) JettonWallet(ctx context.Context, master, owner string) (string, error) {
	m, err := ParseAddress(master)
	if err != nil {
		return "", err
	}
	o, err := ParseAddress(owner)
	if err != nil {
		return "", err
	}
	w, err := jetton.NewJettonMasterClient(l.API, m).GetJettonWallet(ctx, o)
	if err != nil {
		return "", fmt.Errorf("get_wallet_address of %s on %s: %w", owner, master, err)
	}
	return w.Address().Bounce(true).Testnet(false).String(), nil
}

// SimJettonWallet is the simulated chain's get_wallet_address: a standard
// address whose hash part is sha256("starsbot sandbox jetton wallet" ‖ 0 ‖
// master ‖ 0 ‖ owner), each in raw form ("0:<hex>"; as given when it does
// not parse: the sandbox takes TON_DEPOSIT_ADDRESS without its checksum
// checked). A real master
// computes it from the wallet's code and data (TEP-74's
// get_wallet_address); the sim needs only a deterministic address per
// (master, owner) that no one else has, and SimChain sends its USDT
// notifications from exactly this address.
func SimJettonWallet(master, owner string) (string, error) {
	h := sha256.New()
	h.Write([]byte("starsbot sandbox jetton wallet\x00"))
	h.Write([]byte(simRaw(master)))
	h.Write([]byte{0})
	h.Write([]byte(simRaw(owner)))
	return address.NewAddress(0, 0, h.Sum(nil)).Bounce(true).String(), nil
}

// simRaw is a's raw form, or a itself when it does not parse.
func simRaw(a string) string {
	if p, err := ParseAddress(a); err == nil {
		return p.StringRaw()
	}
	return a
}

// simAddress parses a, or, when it does not parse (a sandbox
// TON_DEPOSIT_ADDRESS with a bad checksum), stands for it with the
// address whose hash part is sha256(a): the simulated chain needs some
// address in the message, and the parser reads no destination.
func simAddress(a string) *address.Address {
	if p, err := ParseAddress(a); err == nil {
		return p
	}
	h := sha256.Sum256([]byte(a))
	return address.NewAddress(0, 0, h[:])
}

// JettonNotification builds a TEP-74 transfer_notification body: amount
// jetton units from sender, with forward payload payload (nil: an empty
// one) inline or, with inRef, in a reference (the Either's right branch).
func JettonNotification(queryID uint64, amount uint64, sender *address.Address, payload *cell.Cell, inRef bool) (*cell.Cell, error) {
	b := cell.BeginCell().MustStoreUInt(opJettonNotification, 32).MustStoreUInt(queryID, 64)
	if err := b.StoreBigCoins(new(big.Int).SetUint64(amount)); err != nil {
		return nil, err
	}
	if err := b.StoreAddr(sender); err != nil {
		return nil, err
	}
	if payload == nil {
		payload = cell.BeginCell().EndCell()
	}
	if inRef {
		if err := b.StoreBoolBit(true); err != nil {
			return nil, err
		}
		if err := b.StoreRef(payload); err != nil {
			return nil, err
		}
		return b.EndCell(), nil
	}
	if err := b.StoreBoolBit(false); err != nil {
		return nil, err
	}
	if err := b.StoreBuilder(payload.ToBuilder()); err != nil {
		return nil, err
	}
	return b.EndCell(), nil
}

// parseNotification reads a transfer_notification body with tonutils-go's
// jetton.TransferNotification (its tlb tags are TEP-74's layout). ok is
// false when the body is not a well-formed one.
func parseNotification(body *cell.Cell) (n jetton.TransferNotification, units int64, ok bool) {
	if err := tlb.Parse(&n, body); err != nil || n.Sender == nil {
		return n, 0, false
	}
	// Coins parsed from a cell carry 9 decimals whatever the jetton
	// (notes/ton.md §3): Nano() is the raw integer. A fake jetton may
	// claim up to 2^120-1; no real USDT amount comes near int64.
	v := n.Amount.Nano()
	switch {
	case v.Sign() < 0:
		return n, 0, false
	case !v.IsInt64():
		units = math.MaxInt64
	default:
		units = v.Int64()
	}
	return n, units, true
}

// sameAddress reports whether two addresses in any form name the same
// account (Address.Equals ignores the bounce and testnet flags).
func sameAddress(a, b string) bool {
	x, err := ParseAddress(a)
	if err != nil {
		return false
	}
	y, err := ParseAddress(b)
	if err != nil {
		return false
	}
	return x.Equals(y)
}

// JettonBalance is owner's balance of master's jetton in jetton units: the
// get_wallet_data of owner's jetton wallet (tonutils-go's
// jetton.WalletClient.GetBalance, which reads an undeployed wallet as 0).
func (l *Lite) JettonBalance(ctx context.Context, master, owner string) (int64, error) {
	m, err := ParseAddress(master)
	if err != nil {
		return 0, err
	}
	o, err := ParseAddress(owner)
	if err != nil {
		return 0, err
	}
	w, err := jetton.NewJettonMasterClient(l.API, m).GetJettonWallet(ctx, o)
	if err != nil {
		return 0, fmt.Errorf("get_wallet_address of %s on %s: %w", owner, master, err)
	}
	b, err := w.GetBalance(ctx)
	if err != nil {
		return 0, fmt.Errorf("jetton balance of %s: %w", owner, err)
	}
	if !b.IsInt64() || b.Sign() < 0 {
		return 0, fmt.Errorf("jetton balance of %s out of range: %s", owner, b)
	}
	return b.Int64(), nil
}
