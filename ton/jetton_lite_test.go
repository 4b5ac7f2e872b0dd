package ton

import (
	"context"
	"errors"
	"math/big"
	"testing"

	"github.com/xssnick/tonutils-go/address"
	tonapi "github.com/xssnick/tonutils-go/ton"
	"github.com/xssnick/tonutils-go/tvm/cell"
)

// getMethodLiteserver answers the two jetton get-methods Lite runs, with
// the stack shapes of TEP-74 as tonutils-go's jetton client reads them
// (ton/jetton/jetton.go GetJettonWalletAtBlock: a slice holding the
// address; wallet.go GetBalanceAtBlock: the balance first, and exit code
// ErrCodeContractNotInitialized for a wallet not deployed yet, read as 0).
type getMethodLiteserver struct {
	*fakeLiteserver
	master, owner, wallet *address.Address
	balance               *big.Int // nil: the jetton wallet is not deployed
	calls                 []string
}

func (f *getMethodLiteserver) WaitForBlock(seqno uint32) tonapi.APIClientWrapped { return f }

func (f *getMethodLiteserver) RunGetMethod(ctx context.Context, b *tonapi.BlockIDExt, addr *address.Address, method string, params ...any) (*tonapi.ExecutionResult, error) {
	f.calls = append(f.calls, method)
	switch {
	case method == "get_wallet_address" && addr.Equals(f.master):
		if len(params) != 1 {
			return nil, errors.New("get_wallet_address takes the owner")
		}
		s, ok := params[0].(*cell.Slice)
		if !ok {
			return nil, errors.New("owner is not a slice")
		}
		if owner, err := s.Copy().LoadAddr(); err != nil || !owner.Equals(f.owner) {
			return nil, errors.New("unexpected owner")
		}
		return tonapi.NewExecutionResult([]any{cell.BeginCell().MustStoreAddr(f.wallet).EndCell().MustBeginParse()}), nil
	case method == "get_wallet_data" && addr.Equals(f.wallet):
		if f.balance == nil {
			return nil, tonapi.ContractExecError{Code: tonapi.ErrCodeContractNotInitialized}
		}
		return tonapi.NewExecutionResult([]any{f.balance}), nil
	}
	return nil, errors.New("unexpected get-method " + method)
}

func TestLite_JettonWalletAndBalance(t *testing.T) {
	ctx := context.Background()
	f := &getMethodLiteserver{fakeLiteserver: newFakeLiteserver(),
		master: mustAddr(t, MainnetUSDTMaster), owner: mustAddr(t, account), wallet: address.NewAddress(0, 0, make([]byte, 32))}
	l := &Lite{API: f}
	got, err := l.JettonWallet(ctx, MainnetUSDTMaster, account)
	if err != nil || !sameAddress(got, f.wallet.String()) {
		t.Fatalf("JettonWallet = %q, %v", got, err)
	}
	if units, err := l.JettonBalance(ctx, MainnetUSDTMaster, account); err != nil || units != 0 {
		t.Errorf("undeployed wallet: %d, %v", units, err)
	}
	f.balance = big.NewInt(12_345_678)
	if units, err := l.JettonBalance(ctx, MainnetUSDTMaster, account); err != nil || units != 12_345_678 {
		t.Errorf("balance: %d, %v", units, err)
	}
	if _, err := l.JettonWallet(ctx, "not an address", account); err == nil {
		t.Error("a bad master accepted")
	}
	f.master = mustAddr(t, simSender) // the master answers nothing for us now
	if _, err := l.JettonWallet(ctx, MainnetUSDTMaster, account); err == nil {
		t.Error("a get-method failure hidden")
	}
}

func mustAddr(t *testing.T, s string) *address.Address {
	t.Helper()
	a, err := ParseAddress(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
