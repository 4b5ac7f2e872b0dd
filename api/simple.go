package api

import (
	"context"
	"net/http"
	"sync"
	"time"

	"starsbot/shop"
)

// The simple contract's fixed sentences.
const (
	msgDeposit  = "Send TON to the wallet with this memo (comment) to top up your API balance."
	msgSentSelf = "Stars sent to your Telegram account."
	msgManual   = "Order created. Stars will be delivered manually."
)

// simpleBalanceJSON is GET /balance for sk_ keys.
type simpleBalanceJSON struct {
	BalanceTON shop.NanoTON `json:"balance_ton"`
	Currency   string       `json:"currency"`
}

func (s *Server) simpleBalance(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, simpleBalanceJSON{BalanceTON: partner(r).Balance, Currency: "TON"})
	return nil
}

// simpleDepositJSON is GET /deposit.
type simpleDepositJSON struct {
	Wallet  string `json:"wallet"`
	Memo    string `json:"memo"`
	Message string `json:"message"`
}

func (s *Server) simpleDeposit(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, simpleDepositJSON{Wallet: s.Shop.DepositAddress(), Memo: partner(r).Memo, Message: msgDeposit})
	return nil
}

// simpleBuyBody is POST /buy.
type simpleBuyBody struct {
	AmountStars *int64  `json:"amount_stars"`
	ToUsername  *string `json:"to_username"`
}

// simpleBuyJSON is POST /buy's answer.
type simpleBuyJSON struct {
	Status      string  `json:"status"`
	OrderID     string  `json:"order_id"`
	AmountStars int64   `json:"amount_stars"`
	ToUsername  *string `json:"to_username"`
	Message     string  `json:"message"`
}

// simpleBuy buys Stars from the balance and waits up to BuyWait for the
// delivery, because the contract answers "sent" or "will be delivered
// manually". An order still on its way when the wait ends is reported as
// the latter; one that failed is an ORDER_FAILED error saying the price went
// back to the balance.
func (s *Server) simpleBuy(w http.ResponseWriter, r *http.Request) error {
	body, err := decode[simpleBuyBody](w, r)
	if err != nil {
		return err
	}
	if body.AmountStars == nil {
		return shop.Errorf(shop.EVALIDATION, "amount_stars is required")
	}
	u := partner(r)
	var to *string
	recipient := u.Username
	if body.ToUsername != nil && *body.ToUsername != "" {
		name, err := shop.NormalizeUsername(*body.ToUsername)
		if err != nil {
			return shop.Errorf(shop.EVALIDATION, "to_username must be 5-32 letters, digits or underscores")
		}
		to, recipient = &name, name
	} else if recipient == "" {
		return shop.Errorf(shop.EVALIDATION, "to_username is required: your Telegram account has no username to send the stars to")
	}
	order, err := s.Shop.CreateOrder(r.Context(), shop.CreateOrderRequest{
		UserID:         u.ID,
		Type:           shop.OrderStars,
		Stars:          *body.AmountStars,
		Recipient:      recipient,
		PaymentMethod:  shop.PayBalance,
		IdempotencyKey: r.Header.Get("Idempotency-Key"),
		Fingerprint:    fingerprint(r, body),
		Source:         shop.SourceSimpleAPI,
	})
	if err != nil {
		return err
	}
	s.countOrder(order, "simple")
	order, err = s.awaitDelivery(r.Context(), order)
	if err != nil {
		return err
	}
	out := simpleBuyJSON{Status: "ok", OrderID: order.SimpleRef(), AmountStars: order.Stars, ToUsername: to, Message: msgManual}
	switch order.Status {
	case shop.StatusCompleted:
		out.Message = msgSentSelf
		if to != nil {
			out.Message = "Stars sent to @" + *to + "."
		}
	case shop.StatusRefunded:
		reason := order.FailureReason
		if reason == "" {
			reason = "delivery failed"
		}
		return shop.Errorf(codeOrderFailed, "order %s failed (%s); its price of %s TON is returned to your balance", order.SimpleRef(), reason, order.PriceTON)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// awaitDelivery waits until order's delivery has an outcome (the shop's
// lifecycle: it is no longer Delivering), or until BuyWait passes, the
// client leaves or the server stops, and returns the order as it last read
// it. It wakes on the shop's events about the order, not on a timer.
func (s *Server) awaitDelivery(ctx context.Context, order *shop.Order) (*shop.Order, error) {
	if !order.Status.Delivering() {
		return order, nil
	}
	changed := s.waiters.add(order.ID)
	defer s.waiters.remove(order.ID, changed)
	deadline := time.NewTimer(s.BuyWait)
	defer deadline.Stop()
	for {
		// Read after subscribing, so that no change is missed.
		next, err := s.Shop.FindOrder(context.WithoutCancel(ctx), order.UserID, order.ID)
		if err != nil {
			return nil, err
		}
		order = next
		if !order.Status.Delivering() {
			return order, nil
		}
		select {
		case <-ctx.Done():
			return order, nil
		case <-deadline.C:
			return order, nil
		case <-s.stopping:
			return order, nil
		case <-changed:
		}
	}
}

// orderWaiters wakes requests waiting on orders when the shop emits an
// event about them.
type orderWaiters struct {
	mu sync.Mutex
	m  map[int64]map[chan struct{}]bool
}

// add returns a channel that receives after any event about order id.
func (w *orderWaiters) add(id int64) chan struct{} {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = make(map[int64]map[chan struct{}]bool)
	}
	if w.m[id] == nil {
		w.m[id] = make(map[chan struct{}]bool)
	}
	w.m[id][ch] = true
	return ch
}

// remove forgets a channel returned by add.
func (w *orderWaiters) remove(id int64, ch chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.m[id], ch)
	if len(w.m[id]) == 0 {
		delete(w.m, id)
	}
}

// observe is the shop's event handler: it never blocks.
func (w *orderWaiters) observe(e shop.Event) {
	if e.OrderID == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for ch := range w.m[e.OrderID] {
		select {
		case ch <- struct{}{}:
		default: // already signalled
		}
	}
}
