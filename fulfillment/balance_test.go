package fulfillment_test

import (
	"context"
	"errors"
	"testing"

	"starsbot/fulfillment"
	"starsbot/shop"
)

type balances []shop.NanoTON

func (b *balances) Balance(context.Context) (shop.NanoTON, error) {
	if len(*b) == 0 {
		return 0, errors.New("liteserver down")
	}
	v := (*b)[0]
	*b = (*b)[1:]
	return v, nil
}

func TestBalanceAlarm(t *testing.T) {
	seq := balances{10 * shop.TON, 4 * shop.TON, 3 * shop.TON, 6 * shop.TON, 2 * shop.TON}
	rec := &recorder{}
	a, err := fulfillment.NewBalanceAlarm(fulfillment.BalanceAlarmConfig{Wallet: &seq, Threshold: 5 * shop.TON, Notifier: rec})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := a.Check(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Check(context.Background()); err == nil {
		t.Fatal("a chain error was swallowed")
	}
	// Alerts at 4 (crossing) and 2 (crossing again after 6), not at 3.
	if len(rec.alerts) != 2 || rec.alerts[0].Amount != 4*shop.TON || rec.alerts[1].Amount != 2*shop.TON || rec.alerts[0].Kind != shop.AlertWalletLow {
		t.Fatalf("alerts = %+v", rec.alerts)
	}
}
