package shop

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// rateSourceStatic is StaticRate's Rate.Source.
const rateSourceStatic = "static"

// StaticRate is a fixed TON/USD rate, from TON_USD_RATE. It reports Source
// "static" and UpdatedAt Since.
type StaticRate struct {
	TONUSD MicroUSD  // USD per TON; required, > 0
	Since  time.Time // when the rate was set (e.g. process start); reported as UpdatedAt
}

// Rate returns the fixed rate. It fails only if TONUSD is not positive.
func (s StaticRate) Rate(ctx context.Context) (Rate, error) {
	if s.TONUSD <= 0 {
		return Rate{}, errors.New("static TON/USD rate must be positive")
	}
	return Rate{TONUSD: s.TONUSD, Source: rateSourceStatic, UpdatedAt: s.Since}, nil
}

// Rate is a TON/USD exchange rate and where it came from.
type Rate struct {
	TONUSD    MicroUSD  // USD per TON, in micro-USD; > 0
	Source    string    // "static", or the rate source's name
	UpdatedAt time.Time // when the source last produced this value
}

// RateSource supplies the current TON/USD rate.
type RateSource interface {
	// Rate returns the current rate. Implementations with a fallback never
	// fail; an error means no rate at all is known.
	Rate(ctx context.Context) (Rate, error)
}

// ValidateRate reports whether a TON/USD rate is within [MinTONUSD,
// MaxTONUSD].
func ValidateRate(v MicroUSD) error {
	if v < MinTONUSD || v > MaxTONUSD {
		return fmt.Errorf("TON/USD rate %s is outside [%s, %s]", v, MinTONUSD, MaxTONUSD)
	}
	return nil
}

// Rate returns the current TON/USD rate, the one quotes use.
//
// Errors: INTERNAL_ERROR (no rate available).
func (s *Service) Rate(ctx context.Context) (Rate, error) {
	rate, err := s.Rates.Rate(ctx)
	if err != nil {
		return Rate{}, fmt.Errorf("rate: %w", err)
	}
	if rate.TONUSD <= 0 {
		return Rate{}, fmt.Errorf("rate source %q returned a non-positive rate", rate.Source)
	}
	return rate, nil
}
