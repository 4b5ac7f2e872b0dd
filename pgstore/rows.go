package pgstore

import (
	"fmt"
	"reflect"
	"time"

	"starsbot/shop"
)

// ledgerRow is a ledger entry as stored: money as plain integers, since an
// entry's Amount is signed and shop.NanoTON's JSON form (an API's) refuses
// negative values.
type ledgerRow struct {
	ID           uint64
	UserID       int64
	Type         shop.LedgerType
	Amount       int64
	BalanceAfter int64
	OrderID      int64
	TxHash       string
	AdminID      int64
	Reason       string
	CreatedAt    time.Time
	Asset        shop.Asset
	JettonAmount int64
	RateTONUSD   int64
	RateUSDTUSD  int64
	FeeTON       int64
}

func newLedgerRow(e *shop.LedgerEntry) *ledgerRow {
	return &ledgerRow{ID: e.ID, UserID: e.UserID, Type: e.Type, Amount: int64(e.Amount), BalanceAfter: int64(e.BalanceAfter),
		OrderID: e.OrderID, TxHash: e.TxHash, AdminID: e.AdminID, Reason: e.Reason, CreatedAt: e.CreatedAt, Asset: e.Asset,
		JettonAmount: e.JettonAmount, RateTONUSD: int64(e.RateTONUSD), RateUSDTUSD: int64(e.RateUSDTUSD), FeeTON: int64(e.FeeTON)}
}

func (r *ledgerRow) entry() *shop.LedgerEntry {
	return &shop.LedgerEntry{ID: r.ID, UserID: r.UserID, Type: r.Type, Amount: shop.NanoTON(r.Amount), BalanceAfter: shop.NanoTON(r.BalanceAfter),
		OrderID: r.OrderID, TxHash: r.TxHash, AdminID: r.AdminID, Reason: r.Reason, CreatedAt: r.CreatedAt, Asset: r.Asset,
		JettonAmount: r.JettonAmount, RateTONUSD: shop.MicroUSD(r.RateTONUSD), RateUSDTUSD: shop.MicroUSD(r.RateUSDTUSD), FeeTON: shop.NanoTON(r.FeeTON)}
}

// negativeMoney returns the path of a negative shop.NanoTON or
// shop.MicroUSD inside v, or "". Records are stored as JSON, and the JSON
// form of those types (the API's) refuses negative amounts when read back:
// such a record would be written but unreadable, so encode refuses it.
// Only ledger entries carry signed amounts, and they are stored as
// ledgerRow.
func negativeMoney(v reflect.Value, path string) string {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return ""
		}
		return negativeMoney(v.Elem(), path)
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			return ""
		}
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() {
				if p := negativeMoney(v.Field(i), path+"."+f.Name); p != "" {
					return p
				}
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if p := negativeMoney(it.Value(), fmt.Sprintf("%s[%v]", path, it.Key())); p != "" {
				return p
			}
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return ""
		}
		for i := range v.Len() {
			if p := negativeMoney(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
	case reflect.Int64:
		if (v.Type() == reflect.TypeFor[shop.NanoTON]() || v.Type() == reflect.TypeFor[shop.MicroUSD]()) && v.Int() < 0 {
			return path
		}
	}
	return ""
}
