package shop

import (
	"context"
	"errors"
	"math/big"
)

// Asset is what a transfer, a deposit or a ledger entry moved.
type Asset string

// Assets. The zero Asset is TON: records written before USDT existed have
// none.
const (
	AssetTON  Asset = "TON"
	AssetUSDT Asset = "USDT"
	// AssetJetton is a jetton transfer notification whose sender is not
	// our own jetton wallet for the USDT master: a fake "USDT" minted by
	// anyone, or another jetton. It credits nothing.
	AssetJetton Asset = "JETTON"
)

// OrTON is a, or AssetTON when a is empty.
func (a Asset) OrTON() Asset {
	if a == "" {
		return AssetTON
	}
	return a
}

// DepositRejected is the status of a jetton notification that did not come
// from our own USDT jetton wallet (Reason ReasonFakeJetton), or of a USDT
// amount too large to value (ReasonUSDTOverflow): recorded for the admins,
// never credited, never assigned.
const DepositRejected DepositStatus = "rejected"

// ReasonFakeJetton is the Reason of a rejected deposit: a jetton transfer
// notification sent by a jetton wallet that is not ours for USDT_MASTER.
const ReasonFakeJetton = "fake_jetton"

// ReasonUSDTOverflow is the Reason of a rejected USDT deposit whose value
// in TON does not fit a nanoTON amount.
const ReasonUSDTOverflow = "usdt_overflow"

// USDTDecimals is the USDT jetton's number of decimals: its amounts are in
// millionths of a USDT (the USDT master's metadata; tonutils-go's
// example/accept-payments converts with tlb.MustFromNano(amount, 6)).
const USDTDecimals = 6

// USDTUnit is one USDT in jetton units.
const USDTUnit int64 = 1_000_000

// USDT settings (config: USDT_USD, USDT_FEE_PERCENT).
const (
	DefaultUSDTUSD MicroUSD = USD     // 1 USDT = 1 USD
	MinUSDTUSD     MicroUSD = USD / 2 // sanity bounds: a peg outside them is a typo
	MaxUSDTUSD     MicroUSD = 2 * USD
	MaxUSDTFeePPM  int64    = 200_000 // 20%
	// usdtPriceStep is what price_usdt is rounded up to: one cent, an
	// amount a person can type in a wallet.
	usdtPriceStep int64 = USDTUnit / 100
)

// USDTConfig is how the shop values USDT.
type USDTConfig struct {
	// USDUSD is the value of one USDT in micro-USD (USDT_USD); 0 means
	// DefaultUSDTUSD.
	USDUSD MicroUSD
	// FeePPM is kept from every USDT credit, in parts per million
	// (USDT_FEE_PERCENT): the cost of turning USDT into TON.
	FeePPM int64
	// Off says USDT is not accepted (USDT_MASTER none): no order is
	// priced in USDT. (Jetton notifications are then all rejected by the
	// watcher, which knows no USDT jetton wallet.)
	Off bool
}

func (c USDTConfig) usd() MicroUSD {
	if c.USDUSD <= 0 {
		return DefaultUSDTUSD
	}
	return c.USDUSD
}

// Validate reports the first problem with c.
func (c USDTConfig) Validate() error {
	if c.USDUSD != 0 && (c.USDUSD < MinUSDTUSD || c.USDUSD > MaxUSDTUSD) {
		return errors.New("USDT_USD must be between 0.5 and 2")
	}
	if c.FeePPM < 0 || c.FeePPM > MaxUSDTFeePPM {
		return errors.New("USDT_FEE_PERCENT must be between 0 and 20")
	}
	return nil
}

var bigThousand = big.NewInt(1000)

// USDTToTON values units of USDT (6 decimals) in nanoTON at the rates, less
// the fee, in integers only:
//
//	gross = ⌊units × usdtUSD × 1000 / tonUSD⌋
//	net   = ⌊gross × (1e6 − feePPM) / 1e6⌋,  fee = gross − net
//
// (units/1e6 USDT × usdtUSD/1e6 USD per USDT ÷ tonUSD/1e6 USD per TON ×
// 1e9 nanoTON per TON). Both divisions round down: in the shop's favour.
func USDTToTON(units int64, usdtUSD, tonUSD MicroUSD, feePPM int64) (net, fee NanoTON, err error) {
	if units < 0 || usdtUSD <= 0 || tonUSD <= 0 || feePPM < 0 || feePPM > MaxFeePPM {
		return 0, 0, errors.New("invalid USDT conversion input")
	}
	g := new(big.Int).Mul(big.NewInt(units), big.NewInt(int64(usdtUSD)))
	g.Mul(g, bigThousand)
	g.Quo(g, big.NewInt(int64(tonUSD)))
	n := new(big.Int).Mul(g, big.NewInt(MaxFeePPM-feePPM))
	n.Quo(n, bigPPM)
	if !g.IsInt64() {
		return 0, 0, errors.New("USDT amount overflows")
	}
	return NanoTON(n.Int64()), NanoTON(g.Int64() - n.Int64()), nil
}

// PriceUSDT is what an order of priceTON costs in USDT units: the smallest
// whole cent of USDT whose credit at the rates, less the fee, is at least
// priceTON:
//
//	⌈priceTON × tonUSD × 1e6 / (usdtUSD × 1000 × (1e6 − feePPM))⌉, up to a cent
//
// rounded up: in the shop's favour.
func PriceUSDT(priceTON NanoTON, usdtUSD, tonUSD MicroUSD, feePPM int64) (int64, error) {
	if priceTON < 0 || usdtUSD <= 0 || tonUSD <= 0 || feePPM < 0 || feePPM >= MaxFeePPM {
		return 0, errors.New("invalid USDT pricing input")
	}
	num := new(big.Int).Mul(big.NewInt(int64(priceTON)), big.NewInt(int64(tonUSD)))
	num.Mul(num, bigPPM)
	den := new(big.Int).Mul(big.NewInt(int64(usdtUSD)), bigThousand)
	den.Mul(den, big.NewInt(MaxFeePPM-feePPM))
	den.Mul(den, big.NewInt(usdtPriceStep))
	q, r := new(big.Int).QuoRem(num, den, new(big.Int))
	if r.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	q.Mul(q, big.NewInt(usdtPriceStep))
	if !q.IsInt64() {
		return 0, errors.New("USDT price overflows")
	}
	return q.Int64(), nil
}

// FormatUSDT renders USDT units as an exact decimal: 1500000 → "1.5".
func FormatUSDT(units int64) string { return formatDecimal(units, USDTDecimals) }

// ParseUSDT parses a non-negative decimal amount of USDT ("12.5") into
// units, exactly; more than 6 decimal places is an error.
func ParseUSDT(s string) (int64, error) { return parseDecimal(s, USDTDecimals, false) }

// PriceUSDT is the price of q in USDT units for a buyer paying by USDT
// transfer, at q's rate and the service's USDT settings; ok is false when
// USDT is off.
func (s *Service) PriceUSDT(q *Quote) (units int64, ok bool, err error) {
	if s.USDT.Off {
		return 0, false, nil
	}
	units, err = PriceUSDT(q.PriceTON, s.USDT.usd(), q.Rate.TONUSD, s.USDT.FeePPM)
	return units, err == nil, err
}

// usdtValue is the TON a USDT transfer is worth at rate: its jetton amount
// converted less the fee, and the fee.
func (s *Service) usdtValue(units int64, rate MicroUSD) (net, fee NanoTON, err error) {
	return USDTToTON(units, s.USDT.usd(), rate, s.USDT.FeePPM)
}

// ParseUSDTJSON reads a JSON number (10.5) or string ("10.5") of USDT from
// its literal digits, with the rules of ParseUSDT.
func ParseUSDTJSON(b []byte) (int64, error) {
	s, err := jsonDecimalLiteral(b)
	if err != nil {
		return 0, err
	}
	return ParseUSDT(s)
}

// USDTRate is what one USDT is worth now, in TON, less the USDT fee: what
// a top-up screen shows. ok is false when USDT is off.
func (s *Service) USDTRate(ctx context.Context) (perUSDT NanoTON, feePPM int64, ok bool, err error) {
	if s.USDT.Off {
		return 0, 0, false, nil
	}
	rate, err := s.Rate(ctx)
	if err != nil {
		return 0, 0, false, err
	}
	perUSDT, _, err = s.usdtValue(USDTUnit, rate.TONUSD)
	return perUSDT, s.USDT.FeePPM, err == nil, err
}

// PayOrderInUSDT lets the buyer pay an unpaid ton_memo order by a USDT
// transfer instead of TON: the order gets PaymentCurrency USDT and the
// PriceUSDT of its PriceTON at the rate it was priced at (its TONUSD), as
// if it had been created so. Its memo, deadline and TON price stay: a TON
// transfer of PriceTON still pays it. Asking again changes nothing.
//
// Errors: VALIDATION_ERROR (USDT off), NOT_FOUND (no such order of the
// user), INVALID_STATE (not an unpaid ton_memo order).
func (s *Service) PayOrderInUSDT(ctx context.Context, userID, orderID int64) (*Order, error) {
	if s.USDT.Off {
		return nil, Errorf(EVALIDATION, "USDT is not accepted here")
	}
	var order *Order
	err := s.Store.Update(ctx, func(tx Tx) error {
		var err error
		if order, err = findOwnOrder(tx, userID, orderID); err != nil {
			return err
		}
		if order.PaymentMethod != PayTONMemo || order.Status != StatusPendingPayment {
			return Errorf(EINVALIDSTATE, "order %d is %s; only an unpaid order paid by transfer can be paid in USDT", order.ID, order.Status)
		}
		if order.PaymentCurrency == AssetUSDT {
			return nil
		}
		rate := order.TONUSD
		if rate <= 0 {
			return Errorf(EINVALIDSTATE, "order %d has no rate to price it in USDT", order.ID)
		}
		if order.PriceUSDT, err = PriceUSDT(order.PriceTON, s.USDT.usd(), rate, s.USDT.FeePPM); err != nil {
			return err
		}
		order.PaymentCurrency = AssetUSDT
		return tx.PutOrder(order)
	})
	if err != nil {
		return nil, err
	}
	return order, nil
}
