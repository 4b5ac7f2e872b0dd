package ton

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"time"

	"github.com/xssnick/tonutils-go/tlb"
	"github.com/xssnick/tonutils-go/tvm/cell"

	"starsbot/shop"
)

// SimStore persists the simulated chain; *store.DB implements it.
type SimStore interface {
	AppendSimTransfer(ctx context.Context, account string, t shop.Transfer) (shop.Transfer, bool, error)
	SimTransfers(ctx context.Context, account string, maxLT uint64, limit int) ([]shop.Transfer, error)
}

// simSender is the sender address of simulated transfers: a valid testnet,
// non-bounceable address of no real account, from
// sha256("starsbot sandbox sender") (TestSimSender checks it).
const simSender = "0QCsCiebVziGz2PamNvKLLNuTjQk3_b1Od8i_J0UmMHN5YnJ"

// SimChain is the sandbox's chain: transfers appended by Deposit and
// DepositUSDT are kept in the store, get random hashes and increasing
// logical times, and reach the shop through the same Watcher and
// CreditDeposits as real ones. Transactions builds each as a real
// tonutils-go transaction cell (an inbound internal message with a text
// comment, or a TEP-74 transfer_notification from a jetton wallet),
// serializes it and reads it back with tlb.Parse and ParseTransfer, as a
// liteserver's answer is read: the same parsing as testnet and mainnet.
type SimChain struct {
	Store   SimStore // required
	Account string   // the sandbox deposit address; required
	Now     func() time.Time
	// OnAppend, if set, is called after a new transfer is stored (the
	// watcher's Poke, so that it is credited at once).
	OnAppend func()
}

var _ Chain = (*SimChain)(nil)

// NewSimChain is the simulated chain of account kept in store, on the wall
// clock; set Now or OnAppend before use to change them.
func NewSimChain(store SimStore, account string) *SimChain {
	return &SimChain{Store: store, Account: account, Now: time.Now}
}

// Deposit appends an incoming transfer with memo and amount to the
// simulated chain and returns its hash. txHash is optional (64 hex
// characters); a hash already on the chain appends nothing.
func (c *SimChain) Deposit(ctx context.Context, memo string, amount shop.NanoTON, txHash string) (string, error) {
	if amount <= 0 {
		return "", shop.Errorf(shop.EVALIDATION, "amount must be positive")
	}
	return c.append(ctx, shop.Transfer{Hash: txHash, Time: c.Now(), From: simSender, Amount: amount, Memo: memo})
}

// DepositUSDT appends a USDT transfer notification of units (6 decimals)
// carrying ton nanoTON (the forward amount: at least 1, as TEP-74 sends a
// notification only when forward_ton_amount > 0) with memo as its forward
// payload's comment. It comes from our jetton wallet for master
// (SimJettonWallet) unless jettonWallet names another one: a fake jetton,
// which the watcher must refuse. txHash is as for Deposit.
func (c *SimChain) DepositUSDT(ctx context.Context, master, memo string, units int64, ton shop.NanoTON, jettonWallet, txHash string) (string, error) {
	if units <= 0 {
		return "", shop.Errorf(shop.EVALIDATION, "amount_usdt must be positive")
	}
	if ton <= 0 {
		ton = 1
	}
	if jettonWallet == "" {
		var err error
		if jettonWallet, err = SimJettonWallet(master, c.Account); err != nil {
			return "", err
		}
	} else if _, err := ParseAddress(jettonWallet); err != nil {
		return "", shop.Errorf(shop.EVALIDATION, "jetton_wallet must be a TON address")
	}
	return c.append(ctx, shop.Transfer{Hash: txHash, Time: c.Now(), From: simSender, Amount: ton, Memo: memo,
		Asset: shop.AssetUSDT, JettonAmount: units, JettonWallet: jettonWallet})
}

// JettonWallet is the simulated master's get_wallet_address
// (SimJettonWallet): the address the simulated chain's USDT comes from.
func (c *SimChain) JettonWallet(ctx context.Context, master, owner string) (string, error) {
	return SimJettonWallet(master, owner)
}

// append stores t with a random hash unless t.Hash is set.
func (c *SimChain) append(ctx context.Context, t shop.Transfer) (string, error) {
	if t.Hash == "" {
		b := make([]byte, 32)
		rand.Read(b)
		t.Hash = hex.EncodeToString(b)
	} else if b, err := hex.DecodeString(t.Hash); err != nil || len(b) != 32 {
		return "", shop.Errorf(shop.EVALIDATION, "tx_hash must be 64 hex characters")
	}
	t, appended, err := c.Store.AppendSimTransfer(ctx, c.Account, t)
	if err != nil {
		return "", err
	}
	if appended && c.OnAppend != nil {
		c.OnAppend()
	}
	return t.Hash, nil
}

// LastTx returns the newest simulated transfer.
func (c *SimChain) LastTx(ctx context.Context, account string) (TxID, time.Time, error) {
	ts, err := c.Store.SimTransfers(ctx, account, 0, 1)
	if err != nil || len(ts) == 0 {
		return TxID{}, c.Now(), err
	}
	return TxID{LT: ts[0].LT, Hash: ts[0].Hash}, c.Now(), nil
}

// Transactions returns up to limit simulated transfers from from back.
func (c *SimChain) Transactions(ctx context.Context, account string, from TxID, limit int) ([]Tx, error) {
	ts, err := c.Store.SimTransfers(ctx, account, from.LT, limit+1) // one more, for the last one's Prev
	if err != nil {
		return nil, err
	}
	if len(ts) == 0 || ts[0].LT != from.LT || ts[0].Hash != from.Hash {
		return nil, fmt.Errorf("simulated chain: no transaction lt %d hash %s", from.LT, from.Hash)
	}
	out := make([]Tx, 0, min(len(ts), limit))
	for i := 0; i < len(ts) && i < limit; i++ {
		t := ts[i]
		raw, err := simTransaction(c.Account, t)
		if err != nil {
			return nil, fmt.Errorf("simulated chain: transaction lt %d: %w", t.LT, err)
		}
		tx := convert(raw)
		tx.Time = t.Time
		tx.Prev = TxID{} // the simulated chain links its transfers itself
		if i+1 < len(ts) {
			tx.Prev = TxID{LT: ts[i+1].LT, Hash: ts[i+1].Hash}
		}
		out = append(out, tx)
	}
	return out, nil
}

// simTransaction builds t as a real transaction of account: an ordinary
// transaction without outgoing messages whose inbound internal message
// carries t.Amount from t.From (a text comment body when t.Memo is set,
// built as wallet.CreateCommentCell does: op 0 then a snake string), or,
// for a jetton transfer, a TEP-74 transfer_notification from
// t.JettonWallet with the comment as its forward payload in a ref. The
// cell is serialized and parsed back, as ListTransactions parses a
// liteserver's answer; its hash is the stored random one (ListTransactions
// sets tx.Hash the same way, from the cell).
func simTransaction(account string, t shop.Transfer) (*tlb.Transaction, error) {
	dst, from := simAddress(account), simAddress(t.From)
	src := from
	var err error
	var body *cell.Cell
	if t.Memo != "" {
		b := cell.BeginCell().MustStoreUInt(opComment, 32)
		if err := b.StoreStringSnake(t.Memo); err != nil {
			return nil, err
		}
		body = b.EndCell()
	}
	if t.Asset != "" {
		if src, err = ParseAddress(t.JettonWallet); err != nil {
			return nil, err
		}
		if body, err = JettonNotification(t.LT, uint64(max(t.JettonAmount, 0)), from, body, body != nil); err != nil {
			return nil, err
		}
	}
	coins, err := tlb.FromNano(big.NewInt(int64(t.Amount)), 9)
	if err != nil {
		return nil, err
	}
	hash, err := hex.DecodeString(t.Hash)
	if err != nil || len(hash) != 32 {
		return nil, fmt.Errorf("bad hash %q", t.Hash)
	}
	in := &tlb.InternalMessage{IHRDisabled: true, SrcAddr: src, DstAddr: dst, Amount: coins, Body: body,
		CreatedLT: t.LT - 1, CreatedAt: uint32(t.Time.Unix())}
	tx := &tlb.Transaction{
		AccountAddr: dst.Data(),
		LT:          t.LT,
		PrevTxHash:  make([]byte, 32),
		Now:         uint32(t.Time.Unix()),
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
		return nil, err
	}
	if c, err = cell.FromBOC(c.ToBOC()); err != nil {
		return nil, err
	}
	var parsed tlb.Transaction
	if err := tlb.Parse(&parsed, c); err != nil {
		return nil, err
	}
	parsed.Hash = hash
	return &parsed, nil
}
