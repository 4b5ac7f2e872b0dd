package shop

import "context"

// QuoteRequest asks for the price of Stars (Stars set) or Premium (Months set).
type QuoteRequest struct {
	Type   OrderType
	Stars  int64
	Months int
}

// Quote is a price computed from the price list and the current rate.
// Estimates and orders use the same computation.
type Quote struct {
	Type     OrderType
	Stars    int64
	Months   int
	PriceUSD MicroUSD // list price before fee
	FeePPM   int64
	FeeTON   NanoTON // the fee part of PriceTON
	PriceTON NanoTON // what the buyer pays
	Rate     Rate
}

// Quote prices Stars or Premium at the current rate.
//
// Errors: VALIDATION_ERROR (unknown type, quantity outside the limits,
// months not 3/6/12), INTERNAL_ERROR (no rate available).
func (s *Service) Quote(ctx context.Context, req QuoteRequest) (*Quote, error) {
	p := s.Pricing()
	q := &Quote{Type: req.Type, FeePPM: p.FeePPM}
	switch req.Type {
	case OrderStars:
		if req.Stars < p.StarsMin || req.Stars > p.StarsMax {
			return nil, Errorf(EVALIDATION, "quantity must be between %d and %d", p.StarsMin, p.StarsMax)
		}
		q.Stars = req.Stars
		q.PriceUSD = MicroUSD(req.Stars) * p.USDPerStar // ≤ 1e8 × a sane price: validated limits keep this far from overflow
	case OrderPremium:
		if !premiumMonthsValid(req.Months) {
			return nil, Errorf(EVALIDATION, "months must be 3, 6 or 12")
		}
		q.Months = req.Months
		q.PriceUSD = p.PremiumUSD[req.Months]
	default:
		return nil, Errorf(EVALIDATION, "order_type must be stars or premium")
	}
	rate, err := s.Rate(ctx)
	if err != nil {
		return nil, err
	}
	q.Rate = rate
	if q.PriceTON, q.FeeTON, err = PriceTON(q.PriceUSD, rate.TONUSD, p.FeePPM); err != nil {
		return nil, err
	}
	return q, nil
}
