package bot

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	tele "gopkg.in/telebot.v3"

	"starsbot/shop"
)

// The payment screen of a ton_memo order is two messages: the text with
// the wallet buttons, and the QR code photo. When the order is paid,
// expires or is cancelled, the bot edits the text in place to say so and
// drops the QR code. To find them again (after a restart too) it keeps,
// per chat, a small record of the payment screens it showed, in the
// StateStore under the chat's negated id: flow states live under positive
// private-chat ids and groups never get one, so the keys cannot meet.
//
// Bounded: at most maxPaymentScreens per chat, none older than
// paymentScreenTTL; a screen leaves the record once its order is paid or
// cancelled (an expired one stays, since a transfer sent before expiry may
// still pay it). Crash-safe: the record is saved after the screen is sent;
// a crash in between only means that screen is not edited later.
//
// The QR photo is deleted (deleteMessage) rather than edited: its image is
// the payment link, so editMessageCaption would leave it scannable, and
// editMessageMedia would mean uploading a placeholder image. A photo the
// Bot API no longer lets the bot delete (older than 48 hours) gets its
// caption replaced (editMessageCaption) by a "no longer valid" warning.
const (
	maxPaymentScreens = 8
	paymentScreenTTL  = 7 * 24 * time.Hour
)

type paymentScreen struct {
	Order int64     `json:"order"`
	Text  int       `json:"text"`         // message id of the payment text
	QR    int       `json:"qr,omitempty"` // message id of the QR photo; 0 once dropped
	At    time.Time `json:"at"`
}

type paymentScreens struct {
	Screens []paymentScreen `json:"screens"`
}

func paymentsKey(chat int64) int64 { return -chat }

func (b *Bot) loadScreens(ctx context.Context, chat int64) (*paymentScreens, error) {
	var ps paymentScreens
	if chat <= 0 {
		return &ps, nil
	}
	raw, err := b.State.LoadChatState(ctx, paymentsKey(chat))
	if err != nil || raw == nil {
		return &ps, err
	}
	if json.Unmarshal(raw, &ps) != nil {
		return &paymentScreens{}, nil // unreadable: start afresh
	}
	return &ps, nil
}

// saveScreens drops screens past paymentScreenTTL and beyond
// maxPaymentScreens (the oldest), and stores the rest.
func (b *Bot) saveScreens(ctx context.Context, chat int64, ps *paymentScreens) error {
	if chat <= 0 {
		return nil
	}
	now := b.Now()
	kept := ps.Screens[:0]
	for _, s := range ps.Screens {
		if now.Sub(s.At) <= paymentScreenTTL {
			kept = append(kept, s)
		}
	}
	if len(kept) > maxPaymentScreens {
		kept = kept[len(kept)-maxPaymentScreens:]
	}
	if len(kept) == 0 {
		return b.State.SaveChatState(ctx, paymentsKey(chat), nil)
	}
	raw, err := json.Marshal(paymentScreens{Screens: kept})
	if err != nil {
		return err
	}
	return b.State.SaveChatState(ctx, paymentsKey(chat), raw)
}

// rememberScreen records the payment screen of order in chat.
func (b *Bot) rememberScreen(ctx context.Context, chat, order int64, text, qr int) {
	ps, err := b.loadScreens(ctx, chat)
	if err == nil {
		ps.Screens = append(ps.Screens, paymentScreen{Order: order, Text: text, QR: qr, At: b.Now().UTC()})
		err = b.saveScreens(ctx, chat, ps)
	}
	if err != nil {
		b.Logger.Warn("telegram payment screen not recorded; it will not be updated", "chat_id", chat, "order_id", order, "error", err)
	}
}

// settledScreen is what a payment screen becomes once its order is no
// longer waiting for payment; ok is false while it is.
func (b *Bot) settledScreen(lang string, o *shop.Order) (text string, kb keyboard, ok bool) {
	item := orderItem(lang, o)
	switch o.Status {
	case shop.StatusPendingPayment:
		return "", nil, false
	case shop.StatusExpired:
		text = tr(lang, "pay.done.expired", o.ID, item, formatTime(o.ExpiresAt))
	case shop.StatusCancelled:
		text = tr(lang, "pay.done.cancelled", o.ID, item)
	default: // paid, and whatever came after: it was paid
		text = tr(lang, "pay.done.paid", o.ID, item, tonAmount(lang, o.PriceTON)+" TON"+approxUSD(lang, o.PriceTON, o.TONUSD), tr(lang, "status."+string(o.Status)))
		if l := b.txLink(lang, o.PaidTxHash); l != "" {
			text += "\n" + strings.TrimSuffix(tr(lang, "receipt.paid_tx", l), "\n")
		}
	}
	return text, keyboard{{button(tr(lang, "btn.orders"), cbOrders, "0"), button(tr(lang, "btn.menu"), cbMenu)}}, true
}

// settleScreens edits the recorded payment screens of o in chat to its
// status and drops their QR codes. pressed, if not 0, is a message the
// caller is about to replace itself (the button's message): it is left
// alone. It reports whether pressed is one of the order's payment screens.
func (b *Bot) settleScreens(ctx context.Context, chat int64, lang string, o *shop.Order, pressed int) bool {
	text, kb, ok := b.settledScreen(lang, o)
	if !ok {
		return false
	}
	ps, err := b.loadScreens(ctx, chat)
	if err != nil {
		b.Logger.Warn("telegram payment screens unreadable", "chat_id", chat, "error", err)
		return false
	}
	found, isPressed := false, false
	kept := ps.Screens[:0]
	for _, s := range ps.Screens {
		if s.Order != o.ID {
			kept = append(kept, s)
			continue
		}
		found = true
		if pressed != 0 && s.Text == pressed {
			isPressed = true
		} else {
			b.editScreen(ctx, chat, s.Text, text, kb)
		}
		if s.QR != 0 {
			b.dropQR(ctx, chat, s.QR, lang)
			s.QR = 0
		}
		if o.Status == shop.StatusExpired {
			kept = append(kept, s) // a transfer sent in time may still pay it
		}
	}
	if !found {
		return false
	}
	ps.Screens = kept
	if err := b.saveScreens(ctx, chat, ps); err != nil {
		b.Logger.Warn("telegram payment screens not saved", "chat_id", chat, "error", err)
	}
	return isPressed
}

func (b *Bot) editScreen(ctx context.Context, chat int64, id int, text string, kb keyboard) {
	err := b.editText(ctx, chat, id, text, kb)
	if err != nil && !errors.Is(err, tele.ErrMessageNotModified) && !errors.Is(err, tele.ErrSameMessageContent) && !errors.Is(err, errBlocked) {
		b.Logger.Info("telegram payment screen not edited", "chat_id", chat, "message_id", id, "error", b.redact(err))
	}
}

// dropQR deletes a QR photo, or, when it can no longer be deleted,
// replaces its caption with a warning not to pay with it.
func (b *Bot) dropQR(ctx context.Context, chat int64, id int, lang string) {
	msg := &tele.StoredMessage{MessageID: strconv.Itoa(id), ChatID: chat}
	err := b.deliver(ctx, chat, func() error { return b.tb.Delete(msg) })
	if err == nil || errors.Is(err, errBlocked) {
		return
	}
	b.Logger.Info("telegram QR code not deleted; captioning it void", "chat_id", chat, "message_id", id, "error", b.redact(err))
	if err := b.editCaption(ctx, chat, id, tr(lang, "pay.qr_void")); err != nil {
		b.Logger.Info("telegram QR code caption not edited", "chat_id", chat, "message_id", id, "error", b.redact(err))
	}
}

// onCheckPayment re-reads an order from its payment screen: still
// waiting, the user is told so in a notification; otherwise the screen
// becomes its settled form.
func (b *Bot) onCheckPayment(t *turn) error {
	id, ok := t.orderButton()
	if !ok {
		return t.answer(t.T("err.stale_button"), true)
	}
	o, err := b.Shop.FindOrder(t.ctx, t.user.ID, id)
	if err != nil {
		return t.fail(err)
	}
	text, kb, settled := b.settledScreen(t.lang, o)
	if !settled {
		return t.answer(t.T("pay.not_yet", formatTime(o.ExpiresAt)), false)
	}
	pressed := 0
	if cb := t.Callback(); cb != nil && cb.Message != nil {
		pressed = cb.Message.ID
	}
	b.settleScreens(t.ctx, t.chat, t.lang, o, pressed)
	return t.show(text, kb)
}
