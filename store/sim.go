package store

import (
	"bytes"
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"starsbot/shop"
)

// simRecord is one transfer of the simulated chain.
type simRecord struct {
	Hash   string    `json:"hash"`
	LT     uint64    `json:"lt"`
	Time   time.Time `json:"time"`
	From   string    `json:"from"`
	Amount int64     `json:"amount"`
	Memo   string    `json:"memo"`
	// A simulated jetton transfer notification (USDT, or a fake jetton).
	Asset        string `json:"asset,omitempty"`
	JettonAmount int64  `json:"jetton_amount,omitempty"`
	JettonWallet string `json:"jetton_wallet,omitempty"`
}

func (r *simRecord) transfer() shop.Transfer {
	return shop.Transfer{Hash: r.Hash, LT: r.LT, Time: r.Time, From: r.From, Amount: shop.NanoTON(r.Amount), Memo: r.Memo,
		Asset: shop.Asset(r.Asset), JettonAmount: r.JettonAmount, JettonWallet: r.JettonWallet}
}

func simPrefix(account string) []byte { return cat([]byte(account), []byte{0}) }

// isSimKey reports whether k is a sim_chain key of the account with prefix.
func isSimKey(prefix, k []byte) bool {
	return len(k) == len(prefix)+8 && bytes.HasPrefix(k, prefix)
}

// AppendSimTransfer appends t to account's simulated chain with the next
// logical time, unless a transfer with t.Hash is already on it. It returns
// the stored transfer (the earlier one for a repeated hash) and whether it
// was appended. The sandbox's simulated chain keeps its history here, so it
// survives a restart.
func (db *DB) AppendSimTransfer(ctx context.Context, account string, t shop.Transfer) (shop.Transfer, bool, error) {
	if err := ctx.Err(); err != nil {
		return shop.Transfer{}, false, err
	}
	var out shop.Transfer
	var appended bool
	err := db.update(func(btx *bolt.Tx) error {
		appended = false
		chain, hashes := btx.Bucket(bucketSimChain), btx.Bucket(bucketSimHashes)
		hash := hashKey(t.Hash)
		if k := hashes.Get([]byte(hash)); k != nil {
			rec, err := get[simRecord](chain, k)
			if err != nil {
				return err
			} else if rec == nil {
				return fmt.Errorf("store: sim_hashes names a missing transfer %s", hash)
			}
			out = rec.transfer()
			return nil
		}
		prefix := simPrefix(account)
		lt := uint64(1000)
		if k, _ := seekBefore(chain.Cursor(), prefixEnd(prefix)); isSimKey(prefix, k) {
			lt = tailID(k) + 1000
		}
		rec := &simRecord{Hash: hash, LT: lt, Time: t.Time.UTC(), From: t.From, Amount: int64(t.Amount), Memo: t.Memo,
			Asset: string(t.Asset), JettonAmount: t.JettonAmount, JettonWallet: t.JettonWallet}
		key := cat(prefix, u64(lt))
		if err := put(chain, key, rec); err != nil {
			return err
		}
		if err := hashes.Put([]byte(hash), key); err != nil {
			return err
		}
		out, appended = rec.transfer(), true
		return nil
	})
	return out, appended, err
}

// SimTransfers returns up to limit transfers of account's simulated chain
// with a logical time of at most maxLT (0: from the newest), newest first.
func (db *DB) SimTransfers(ctx context.Context, account string, maxLT uint64, limit int) ([]shop.Transfer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []shop.Transfer
	err := db.bdb.View(func(btx *bolt.Tx) error {
		prefix := simPrefix(account)
		end := prefixEnd(prefix)
		if maxLT > 0 && maxLT < ^uint64(0) {
			end = cat(prefix, u64(maxLT+1))
		}
		c := btx.Bucket(bucketSimChain).Cursor()
		for k, v := seekBefore(c, end); k != nil && len(out) < limit; k, v = c.Prev() {
			if !isSimKey(prefix, k) {
				break
			}
			rec, err := decode[simRecord](k, v)
			if err != nil {
				return err
			}
			out = append(out, rec.transfer())
		}
		return nil
	})
	return out, err
}
