package shop

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Pricing is the shop's price list and limits. Defaults come from the
// configuration.
type Pricing struct {
	USDPerStar MicroUSD         // list price of one star
	PremiumUSD map[int]MicroUSD // list price per Premium duration in months (3, 6, 12)
	FeePPM     int64            // service fee on top of list price, parts per million (1% = 10_000)
	StarsMin   int64            // smallest stars order
	StarsMax   int64            // largest stars order
	OrderTTL   time.Duration    // how long a ton_memo order waits for payment
}

// Default price list, per SPEC "Configuration".
const (
	DefaultUSDPerStar MicroUSD = 15_000 // 0.015 USD
	DefaultStarsMin            = 50
	DefaultStarsMax            = 1_000_000
	DefaultOrderTTL            = 15 * time.Minute
	MaxFeePPM                  = 1_000_000 // 100%

	// Sanity bounds: a price or rate outside them is a typo, and would
	// otherwise overflow the nanoTON arithmetic or sell at an absurd price.
	MaxUSDPerStar MicroUSD = 10 * USD
	MaxPremiumUSD MicroUSD = 10_000 * USD
	MinTONUSD     MicroUSD = USD / 100     // 0.01 USD per TON
	MaxTONUSD     MicroUSD = 100_000 * USD // 100000 USD per TON
)

// DefaultPricing returns the SPEC's default price list with no fee.
func DefaultPricing() Pricing {
	return Pricing{
		USDPerStar: DefaultUSDPerStar,
		PremiumUSD: map[int]MicroUSD{3: 11_990_000, 6: 15_990_000, 12: 28_990_000},
		StarsMin:   DefaultStarsMin,
		StarsMax:   DefaultStarsMax,
		OrderTTL:   DefaultOrderTTL,
	}
}

// Validate reports the first problem with p, naming the field.
func (p Pricing) Validate() error {
	switch {
	case p.USDPerStar <= 0 || p.USDPerStar > MaxUSDPerStar:
		return fmt.Errorf("usd_per_star must be positive and at most %s", MaxUSDPerStar)
	case p.FeePPM < 0 || p.FeePPM > MaxFeePPM:
		return errors.New("fee_percent must be between 0 and 100")
	case p.StarsMin < 1:
		return errors.New("stars_min must be at least 1")
	case p.StarsMax < p.StarsMin:
		return errors.New("stars_max must not be below stars_min")
	case p.StarsMax > 100_000_000:
		return errors.New("stars_max must be at most 100000000")
	case p.OrderTTL < time.Minute || p.OrderTTL > 7*24*time.Hour:
		return errors.New("order_ttl must be between 1m and 168h")
	}
	for _, m := range PremiumMonths {
		if p.PremiumUSD[m] <= 0 || p.PremiumUSD[m] > MaxPremiumUSD {
			return fmt.Errorf("premium_usd_%d must be positive and at most %s", m, MaxPremiumUSD)
		}
	}
	return nil
}

// PricingFields names the settable fields of a price list, in display order, as
// `/fees set` takes them; the configuration variables are the same names upper-cased.
var PricingFields = []string{"usd_per_star", "premium_usd_3", "premium_usd_6", "premium_usd_12", "fee_percent", "stars_min", "stars_max", "order_ttl"}

// With returns a copy of p with the field name set from value, parsed the way the
// configuration parses it. It checks the syntax only: call Validate for the whole.
//
// Errors are plain sentences without the field's name, such as `must be a
// whole number (got "x")`, for the caller to prefix; the value is quoted and
// cut to a readable length. The copy never shares p's PremiumUSD map.
func (p Pricing) With(name, value string) (Pricing, error) {
	q := p
	q.PremiumUSD = maps.Clone(p.PremiumUSD)
	switch name {
	case "usd_per_star":
		v, err := ParseUSD(value)
		if err != nil {
			return p, usdSyntaxError(value)
		}
		q.USDPerStar = v
	case "fee_percent":
		v, err := ParseFeePercent(value)
		if err != nil {
			return p, fmt.Errorf("must be a percentage from 0 to 100 with at most 4 decimal places, such as 2.5 (got %s)", quoteValue(value))
		}
		q.FeePPM = v
	case "stars_min", "stars_max":
		v, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return p, fmt.Errorf("must be a whole number (got %s)", quoteValue(value))
		}
		if name == "stars_min" {
			q.StarsMin = v
		} else {
			q.StarsMax = v
		}
	case "order_ttl":
		v, err := time.ParseDuration(value)
		if err != nil {
			return p, fmt.Errorf("must be a duration such as 90s, 15m or 1h (got %s)", quoteValue(value))
		}
		q.OrderTTL = v
	default:
		m, ok := premiumField(name)
		if !ok {
			return p, fmt.Errorf("unknown price field %s (the fields are %s)", quoteValue(name), strings.Join(PricingFields, ", "))
		}
		v, err := ParseUSD(value)
		if err != nil {
			return p, usdSyntaxError(value)
		}
		if q.PremiumUSD == nil {
			q.PremiumUSD = map[int]MicroUSD{}
		}
		q.PremiumUSD[m] = v
	}
	return q, nil
}

// Field returns the field's current value as text that With accepts (e.g. "0.015", "2.5", "50", "15m0s" or "15m").
func (p Pricing) Field(name string) (string, bool) {
	switch name {
	case "usd_per_star":
		return p.USDPerStar.String(), true
	case "fee_percent":
		return FormatFeePercent(p.FeePPM), true
	case "stars_min":
		return strconv.FormatInt(p.StarsMin, 10), true
	case "stars_max":
		return strconv.FormatInt(p.StarsMax, 10), true
	case "order_ttl":
		return p.OrderTTL.String(), true
	}
	if m, ok := premiumField(name); ok {
		return p.PremiumUSD[m].String(), true
	}
	return "", false
}

// premiumField returns the months of a premium_usd_<months> field name.
func premiumField(name string) (int, bool) {
	for _, m := range PremiumMonths {
		if name == "premium_usd_"+strconv.Itoa(m) {
			return m, true
		}
	}
	return 0, false
}

func usdSyntaxError(value string) error {
	return fmt.Errorf("must be an amount in USD such as 0.015, at most 6 decimal places (got %s)", quoteValue(value))
}

// quoteValue renders user input for an error message: quoted, so it stays on
// one line, and cut to a readable length. It matches the configuration's
// quoting.
func quoteValue(s string) string {
	const maxRunes = 80
	if r := []rune(s); len(r) > maxRunes {
		s = string(r[:maxRunes]) + "..."
	}
	return strconv.Quote(s)
}

// ParseFeePercent parses a fee in percent with up to 4 decimals ("2.5")
// into parts per million, between 0 and 100%.
func ParseFeePercent(s string) (int64, error) {
	v, err := parseDecimal(s, 4, false)
	if err != nil {
		return 0, err
	}
	if v > MaxFeePPM {
		return 0, errors.New("must be between 0 and 100")
	}
	return v, nil
}

// FormatFeePercent renders a fee in parts per million as a percent: "2.5".
func FormatFeePercent(ppm int64) string { return formatDecimal(ppm, 4) }

// DefaultPriceStep is PRICE_STEP_TON's default: prices are whole
// thousandths of a TON (0.418), a number a person can read and type.
const DefaultPriceStep NanoTON = TON / 1000

// MaxPriceStep is the coarsest price step: one TON.
const MaxPriceStep = TON

// PriceTON converts a USD amount to nanoTON at rate tonUSD with a fee in
// parts per million, rounding up once, in the shop's favour, to a whole
// multiple of step (1 = the nanoTON):
//
//	⌈usd × 1e9 × (1e6 + feePPM) / (tonUSD × 1e6 × step)⌉ × step
//
// It also returns the part of the price that is the fee: the price minus the
// fee-less price, itself rounded up to the step the same way, so that without a
// fee the fee part is zero and it is always a multiple of step.
//
// This is the shop's one price rounding: Service.Quote calls it, and
// estimates, locked quotes and orders all take their price from a Quote.
func PriceTON(usd MicroUSD, tonUSD MicroUSD, feePPM int64, step NanoTON) (price, fee NanoTON, err error) {
	if usd < 0 || tonUSD <= 0 || feePPM < 0 || step <= 0 || step > MaxPriceStep {
		return 0, 0, errors.New("invalid pricing input")
	}
	base, err := ceilDiv(usd, tonUSD, 0, step)
	if err != nil {
		return 0, 0, err
	}
	price, err = ceilDiv(usd, tonUSD, feePPM, step)
	if err != nil {
		return 0, 0, err
	}
	return price, price - base, nil
}

var (
	bigNano = big.NewInt(int64(TON))
	bigPPM  = big.NewInt(1_000_000)
)

// ceilDiv is ⌈usd × 1e9 × (1e6 + feePPM) / (tonUSD × 1e6 × step)⌉ × step.
func ceilDiv(usd, tonUSD MicroUSD, feePPM int64, step NanoTON) (NanoTON, error) {
	num := new(big.Int).Mul(big.NewInt(int64(usd)), bigNano)
	num.Mul(num, new(big.Int).Add(bigPPM, big.NewInt(feePPM)))
	den := new(big.Int).Mul(big.NewInt(int64(tonUSD)), bigPPM)
	den.Mul(den, big.NewInt(int64(step)))
	q, r := new(big.Int).QuoRem(num, den, new(big.Int))
	if r.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	q.Mul(q, big.NewInt(int64(step)))
	if !q.IsInt64() {
		return 0, errors.New("price overflows")
	}
	return NanoTON(q.Int64()), nil
}

// premiumMonthsValid reports whether m is a Premium duration for sale.
func premiumMonthsValid(m int) bool { return slices.Contains(PremiumMonths, m) }

// Pricing returns the price list and limits in force.
func (s *Service) Pricing() Pricing { return *s.pricing.Load() }

// SetPricing replaces the price list after validating it (VALIDATION_ERROR).
func (s *Service) SetPricing(p Pricing) error {
	if err := p.Validate(); err != nil {
		return Errorf(EVALIDATION, "%s", err.Error())
	}
	months := make(map[int]MicroUSD, len(p.PremiumUSD))
	for k, v := range p.PremiumUSD {
		months[k] = v
	}
	p.PremiumUSD = months
	s.pricing.Store(&p)
	return nil
}

// SavePricing validates p, keeps it in the store (it outlives restarts and
// overrides the configured defaults until ResetPricing) and puts it in
// force.
//
// Errors: VALIDATION_ERROR.
func (s *Service) SavePricing(ctx context.Context, p Pricing) error {
	if err := p.Validate(); err != nil {
		return Errorf(EVALIDATION, "%s", err.Error())
	}
	if err := s.Store.Update(ctx, func(tx Tx) error { return tx.PutPricing(&p) }); err != nil {
		return err
	}
	return s.SetPricing(p)
}

// LoadPricing puts in force the price list an admin saved, if any, and
// reports whether there was one. main calls it at start, after NewService
// with the configured defaults.
func (s *Service) LoadPricing(ctx context.Context) (bool, error) {
	var p *Pricing
	err := s.Store.View(ctx, func(tx Tx) (err error) {
		p, err = tx.FindPricing()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("shop: saved pricing: %w", err)
	} else if p == nil {
		return false, nil
	}
	if err := s.SetPricing(*p); err != nil {
		return false, fmt.Errorf("shop: saved pricing: %w", err)
	}
	return true, nil
}

// PricingSaved reports whether a price list saved by an admin is in the
// store, overriding the configured one.
func (s *Service) PricingSaved(ctx context.Context) (bool, error) {
	var saved bool
	err := s.Store.View(ctx, func(tx Tx) error {
		p, err := tx.FindPricing()
		saved = p != nil
		return err
	})
	return saved, err
}

// ResetPricing forgets the saved price list and puts defaults in force.
//
// Errors: VALIDATION_ERROR (defaults invalid).
func (s *Service) ResetPricing(ctx context.Context, defaults Pricing) error {
	if err := defaults.Validate(); err != nil {
		return Errorf(EVALIDATION, "%s", err.Error())
	}
	if err := s.Store.Update(ctx, func(tx Tx) error { return tx.PutPricing(nil) }); err != nil {
		return err
	}
	return s.SetPricing(defaults)
}
