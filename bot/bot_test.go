package bot_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"starsbot/bot/bottest"
	"starsbot/fulfillment"
	"starsbot/shop"
)

func TestStart_Menu(t *testing.T) {
	e := newEnv(t)
	e.fake.Send(alice, "/start ref_42")
	c := e.fake.Wait(alice.ID, "Stars &amp; Premium")
	for _, want := range []string{"Buy Stars", "Premium", "Balance & top-up", "My orders", "API", "Language", "Help"} {
		found := false
		for _, row := range c.Keyboard {
			for _, b := range row {
				found = found || strings.Contains(b.Text, want)
			}
		}
		if !found {
			t.Errorf("menu has no %q button: %v", want, c.Keyboard)
		}
	}
	u := e.user(alice)
	if u.Username != "alice_buyer" || u.Language != "en" || u.StartPayload != "ref_42" {
		t.Errorf("user = %+v, want username alice_buyer, language en, payload ref_42", u)
	}
	// The payload is kept from the first contact only.
	e.fake.Send(alice, "/start other")
	e.fake.Wait(alice.ID, "Stars &amp; Premium")
	if got := e.user(alice).StartPayload; got != "ref_42" {
		t.Errorf("StartPayload after a second /start = %q", got)
	}
	e.assertKeyboardData()

	cmds := e.fake.CallsTo("setMyCommands")
	if len(cmds) != 3 || cmds[1].Params["language_code"] != "ru" || !strings.Contains(cmds[1].Params["commands"], "Главное меню") {
		t.Fatalf("setMyCommands calls: %+v", cmds)
	}
	// Admins see the admin commands in their chat's menu; nobody else does.
	if !strings.Contains(cmds[2].Params["scope"], `"chat_id":9`) || !strings.Contains(cmds[2].Params["commands"], `"command":"credit"`) ||
		strings.Contains(cmds[0].Params["commands"], "credit") {
		t.Errorf("admin commands: %+v", cmds[2])
	}
}

// buyStarsQuote walks the menu to the quote for a preset number of stars
// for recipient.
func buyStarsQuote(e *env, u bottest.User, recipient, preset string) bottest.Call {
	e.t.Helper()
	e.startChat(u)
	e.fake.Press(u, "Buy Stars")
	e.fake.Press(u, "Someone else")
	e.fake.Send(u, recipient)
	e.fake.Wait(u.ID, "How many Stars")
	e.fake.Press(u, preset)
	return e.fake.Wait(u.ID, "Your order")
}

func TestBuyStars_FromBalance(t *testing.T) {
	e := newEnv(t)
	e.startChat(alice)
	e.deposit(alice, "", shop.TON)
	e.fake.Wait(alice.ID, "Deposit received")

	q := buyStarsQuote(e, alice, "@someone_x", "100")
	for _, want := range []string{"100 Stars for @someone_x", "0.418 TON", "Your balance: 1 TON"} {
		if !strings.Contains(q.Text, want) {
			t.Errorf("quote lacks %q:\n%s", want, q.Text)
		}
	}
	e.fake.Press(alice, "Confirm")
	paid := e.fake.Wait(alice.ID, "Order #1 is paid")
	if !strings.Contains(paid.Text, "100 Stars for @someone_x") {
		t.Errorf("paid message: %s", paid.Text)
	}
	os := e.orders(alice)
	if len(os) != 1 || os[0].Status != shop.StatusPaid || os[0].Stars != 100 || os[0].Recipient != "someone_x" ||
		os[0].PaymentMethod != shop.PayBalance || os[0].Source != "bot" {
		t.Fatalf("orders = %+v", os)
	}
	if got := e.user(alice).Balance; got != shop.TON-price100 {
		t.Errorf("balance = %s, want %s", got, shop.TON-price100)
	}
	// The fulfillment worker delivers it through the sandbox provider.
	e.deliver()
	e.fake.Wait(alice.ID, "Order #1 completed")
	e.assertKeyboardData()
}

func TestBuyStars_ForMe(t *testing.T) {
	e := newEnv(t)
	e.startChat(alice)
	e.fake.Press(alice, "Buy Stars")
	e.fake.Press(alice, "Me (@alice_buyer)")
	e.fake.Wait(alice.ID, "How many Stars for @alice_buyer")
	e.fake.Press(alice, "250")
	e.fake.Wait(alice.ID, "250 Stars for @alice_buyer")

	// A user without a username is told why "Me" cannot work.
	e.startChat(nobody)
	e.fake.Press(nobody, "Buy Stars")
	if got := e.fake.Press(nobody, "Me"); !strings.Contains(got, "no Telegram username") {
		t.Errorf("answer = %q", got)
	}
}

func TestBuyStars_InsufficientBalance(t *testing.T) {
	e := newEnv(t)
	e.startChat(alice)
	e.deposit(alice, "", shop.TON/2)
	buyStarsQuote(e, alice, "someone_x", "100")
	// The balance runs short between the quote and Confirm.
	if _, err := e.svc.AdminDebit(context.Background(), adminID, alice.ID, shop.TON/4, "test"); err != nil {
		t.Fatal(err)
	}
	e.fake.Press(alice, "Confirm")
	c := e.fake.Wait(alice.ID, "Not enough balance")
	m, _, _ := e.fake.FindButton(alice.ID, "Top up")
	if m == nil {
		t.Fatalf("no top-up button: %v", c.Keyboard)
	}
	if _, ok := m.Button("Pay by TON transfer"); !ok {
		t.Errorf("no direct payment button: %v", c.Keyboard)
	}
	if n := len(e.orders(alice)); n != 0 {
		t.Errorf("%d orders created", n)
	}
	e.fake.Press(alice, "Top up")
	e.fake.Wait(alice.ID, "To top up")
}

func TestBuyStars_TONTransfer(t *testing.T) {
	e := newEnv(t)
	buyStarsQuote(e, alice, "t.me/someone_x", "100")
	e.fake.Press(alice, "Pay by TON transfer")
	pay := e.fake.Wait(alice.ID, "pay by TON transfer")
	os := e.orders(alice)
	if len(os) != 1 || os[0].PaymentMethod != shop.PayTONMemo || os[0].Status != shop.StatusPendingPayment {
		t.Fatalf("orders = %+v", os)
	}
	o := os[0]
	for _, want := range []string{depositAddr, "0.418 TON", o.PaymentMemo, "2026-04-16", "ton://transfer/" + depositAddr + "?amount=418000000&amp;text=" + o.PaymentMemo} {
		if !strings.Contains(pay.Text, want) {
			t.Errorf("payment message lacks %q:\n%s", want, pay.Text)
		}
	}
	m, b, ok := e.fake.FindButton(alice.ID, "Tonkeeper")
	if !ok {
		t.Fatal("no Tonkeeper button")
	}
	if want := "https://app.tonkeeper.com/transfer/" + depositAddr + "?amount=418000000&text=" + o.PaymentMemo; b.URL != want {
		t.Errorf("Tonkeeper URL = %q, want %q", b.URL, want)
	}
	_ = m
	photo := e.fake.Wait(alice.ID, "Scan with a TON wallet")
	if !bytes.HasPrefix(photo.Photo, []byte("\x89PNG")) {
		t.Errorf("QR is not a PNG (%d bytes)", len(photo.Photo))
	}

	// The watcher sees the transfer with the order's memo.
	e.deposit(alice, o.PaymentMemo, o.PriceTON)
	e.fake.Wait(alice.ID, "Payment received")
	if got := e.orders(alice)[0].Status; got != shop.StatusPaid {
		t.Errorf("status = %s", got)
	}
	e.deliver()
	e.fake.Wait(alice.ID, "Order #1 completed")
}

func TestPremium(t *testing.T) {
	e := newEnv(t)
	e.startChat(alice)
	e.deposit(alice, "", 10*shop.TON)
	e.fake.Press(alice, "Premium")
	e.fake.Press(alice, "Someone else")
	e.fake.Send(alice, "@premium_pal")
	e.fake.Wait(alice.ID, "Premium subscription for @premium_pal")
	e.fake.Press(alice, "3 months")
	q := e.fake.Wait(alice.ID, "Telegram Premium, 3 months, for @premium_pal")
	want, err := e.svc.Quote(context.Background(), shop.QuoteRequest{Type: shop.OrderPremium, Months: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(q.Text, "Price: <b>"+want.PriceTON.String()+" TON (≈\u00a0$") {
		t.Errorf("quote lacks price %s:\n%s", want.PriceTON, q.Text)
	}
	e.fake.Press(alice, "Confirm")
	e.fake.Wait(alice.ID, "Order #1 is paid")
	os := e.orders(alice)
	if len(os) != 1 || os[0].Type != shop.OrderPremium || os[0].Months != 3 || os[0].Recipient != "premium_pal" {
		t.Fatalf("orders = %+v", os)
	}
}

func TestCustomAmount(t *testing.T) {
	e := newEnv(t)
	e.startChat(alice)
	e.fake.Press(alice, "Buy Stars")
	e.fake.Press(alice, "Someone else")
	e.fake.Send(alice, "someone_x")
	e.fake.Wait(alice.ID, "How many Stars")
	e.fake.Press(alice, "Other amount")
	e.fake.Wait(alice.ID, "from 50 to 1,000,000")
	for _, bad := range []string{"10", "2000000", "abc", "-5", "1.5"} {
		e.fake.Send(alice, bad)
		e.fake.Wait(alice.ID, "whole number of Stars from 50 to 1,000,000. Nothing was ordered.")
	}
	e.fake.Send(alice, "1 000")
	e.fake.Wait(alice.ID, "1,000 Stars for @someone_x")
	if n := len(e.orders(alice)); n != 0 {
		t.Errorf("%d orders created", n)
	}
}

func TestRecipient_Invalid(t *testing.T) {
	e := newEnv(t)
	e.startChat(alice)
	e.fake.Press(alice, "Buy Stars")
	e.fake.Press(alice, "Someone else")
	for _, bad := range []string{"not a name!", "@abc", "https://example.com/x"} {
		e.fake.Send(alice, bad)
		e.fake.Wait(alice.ID, "is not a Telegram username")
	}
	e.fake.Send(alice, "@sandbox_notfound")
	e.fake.Wait(alice.ID, "@sandbox_notfound cannot receive Stars: user not found")
	// Still waiting for a username.
	e.fake.Send(alice, "@someone_x")
	e.fake.Wait(alice.ID, "How many Stars for @someone_x")
	if n := len(e.orders(alice)); n != 0 {
		t.Errorf("%d orders created", n)
	}
}

func TestState_SurvivesRestart(t *testing.T) {
	e := newEnv(t)
	e.startChat(alice)
	e.fake.Press(alice, "Buy Stars")
	e.fake.Press(alice, "Someone else")
	e.fake.Wait(alice.ID, "Send the recipient's Telegram username")
	e.restart()
	e.fake.Send(alice, "@someone_x")
	e.fake.Wait(alice.ID, "How many Stars for @someone_x")
	if e.state.Len() != 0 {
		t.Errorf("state not cleared after the flow step")
	}
}

func TestState_Expires(t *testing.T) {
	e := newEnv(t)
	e.startChat(alice)
	e.fake.Press(alice, "Buy Stars")
	e.fake.Press(alice, "Someone else")
	e.clock.Advance(14 * time.Minute)
	e.fake.Send(alice, "bad name!")
	e.fake.Wait(alice.ID, "is not a Telegram username") // still in the flow; the wait restarts
	e.clock.Advance(16 * time.Minute)
	e.fake.Send(alice, "hello") // in the flow: "not a Telegram username"; at the top level: not understood
	e.fake.Wait(alice.ID, "I didn't understand that")
	if e.state.Len() != 0 {
		t.Errorf("expired state was not deleted")
	}
}

func TestUnknownText_Help(t *testing.T) {
	e := newEnv(t)
	e.fake.Send(alice, "hello there")
	e.fake.Wait(alice.ID, "I didn't understand that")
	e.fake.Send(alice, "/nosuchcommand")
	e.fake.Wait(alice.ID, "I didn't understand that")
	e.fake.Send(alice, "/help")
	e.fake.Wait(alice.ID, "How it works")
}

// TestUpdatesInOrder sends a button press and the text it asks for without
// waiting in between: the text must be handled after the press.
func TestUpdatesInOrder(t *testing.T) {
	e := newEnv(t)
	e.startChat(alice)
	e.fake.Press(alice, "Buy Stars")
	m, b, _ := e.fake.FindButton(alice.ID, "Someone else")
	for range 5 {
		e.fake.Callback(alice, alice.ID, m.ID, b.Data)
		e.fake.Send(alice, "@someone_x")
		e.fake.Wait(alice.ID, "How many Stars for @someone_x")
	}
}

func TestDoubleTapConfirm_OneOrder(t *testing.T) {
	e := newEnv(t)
	e.startChat(alice)
	e.deposit(alice, "", shop.TON)
	buyStarsQuote(e, alice, "@someone_x", "100")
	m, b, ok := e.fake.FindButton(alice.ID, "Confirm")
	if !ok {
		t.Fatal("no Confirm button")
	}
	ids := []string{
		e.fake.Callback(alice, alice.ID, m.ID, b.Data),
		e.fake.Callback(alice, alice.ID, m.ID, b.Data),
	}
	for _, id := range ids {
		e.fake.WaitAnswer(id)
	}
	// A replay long after (say, a client resending an old callback).
	e.fake.WaitAnswer(e.fake.Callback(alice, alice.ID, m.ID, b.Data))

	if os := e.orders(alice); len(os) != 1 {
		t.Fatalf("%d orders, want 1", len(os))
	}
	debits := 0
	for _, le := range e.ledger(alice) {
		if le.Type == shop.LedgerOrder {
			debits++
		}
	}
	if debits != 1 || e.user(alice).Balance != shop.TON-price100 {
		t.Errorf("debits = %d, balance = %s", debits, e.user(alice).Balance)
	}
	// Tapping the other payment button of the same quote creates nothing.
	tb, _ := m.Button("Pay by TON transfer")
	e.fake.WaitAnswer(e.fake.Callback(alice, alice.ID, m.ID, tb.Data))
	e.fake.Wait(alice.ID, "already used")
	if os := e.orders(alice); len(os) != 1 {
		t.Fatalf("%d orders after the other button, want 1", len(os))
	}
}

func TestBalance_TopUp(t *testing.T) {
	e := newEnv(t)
	e.startChat(alice)
	memo := e.user(alice).Memo
	e.fake.Press(alice, "Balance")
	c := e.fake.Wait(alice.ID, "Balance: 0 TON")
	for _, want := range []string{memo, depositAddr, "No operations yet", "ton://transfer/" + depositAddr + "?text=" + memo} {
		if !strings.Contains(c.Text, want) {
			t.Errorf("balance screen lacks %q:\n%s", want, c.Text)
		}
	}
	_, b, ok := e.fake.FindButton(alice.ID, "Tonkeeper")
	if !ok || b.URL != "https://app.tonkeeper.com/transfer/"+depositAddr+"?text="+memo {
		t.Errorf("Tonkeeper button = %+v", b)
	}
	qr := e.fake.Wait(alice.ID, "to top up")
	if !bytes.HasPrefix(qr.Photo, []byte("\x89PNG")) || !strings.Contains(qr.Text, memo) {
		t.Errorf("QR photo: %d bytes, caption %q", len(qr.Photo), qr.Text)
	}

	e.deposit(alice, strings.ToLower(memo), 1_500_000_000)
	e.fake.Wait(alice.ID, "Deposit received</b>: +1.5 TON.\nYour balance: <b>1.5 TON</b>")
	e.fake.Send(alice, "/balance")
	c = e.fake.Wait(alice.ID, "Balance: 1.5 TON")
	if !strings.Contains(c.Text, "+1.5 TON · deposit") {
		t.Errorf("ledger missing:\n%s", c.Text)
	}
}

func TestOrders_PaginationAndDetail(t *testing.T) {
	e := newEnv(t)
	e.startChat(alice)
	e.deposit(alice, "", 10*shop.TON)
	ctx := context.Background()
	for i := range 7 {
		if _, err := e.svc.CreateOrder(ctx, shop.CreateOrderRequest{
			UserID: alice.ID, Type: shop.OrderStars, Stars: int64(50 + i), Recipient: "someone_x",
			PaymentMethod: shop.PayBalance, Source: "bot",
		}); err != nil {
			t.Fatal(err)
		}
	}
	e.fake.Press(alice, "My orders")
	page1 := e.fake.Wait(alice.ID, "Your orders")
	for _, want := range []string{"#7 ", "#3 "} {
		if !strings.Contains(page1.Text, want) {
			t.Errorf("page 1 lacks %q:\n%s", want, page1.Text)
		}
	}
	if strings.Contains(page1.Text, "#2 ") {
		t.Errorf("page 1 has order #2:\n%s", page1.Text)
	}
	e.fake.Press(alice, "Older")
	page2 := e.fake.Wait(alice.ID, "Your orders")
	if !strings.Contains(page2.Text, "#2 ") || !strings.Contains(page2.Text, "#1 ") || strings.Contains(page2.Text, "#3 ") {
		t.Errorf("page 2:\n%s", page2.Text)
	}
	if _, _, ok := e.fake.FindButton(alice.ID, "Older"); ok {
		if m, _, _ := e.fake.FindButton(alice.ID, "Newest"); m == nil {
			t.Errorf("page 2 has no way back")
		}
	}
	e.fake.Press(alice, "#1")
	d := e.fake.Wait(alice.ID, "Order #1")
	for _, want := range []string{"50 Stars for @someone_x", "Status: <b>paid</b>", "from balance"} {
		if !strings.Contains(d.Text, want) {
			t.Errorf("detail lacks %q:\n%s", want, d.Text)
		}
	}
	e.fake.Press(alice, "My orders")
	e.fake.Wait(alice.ID, "#7 ")
}

func TestOrders_CancelPending(t *testing.T) {
	e := newEnv(t)
	buyStarsQuote(e, alice, "someone_x", "50")
	e.fake.Press(alice, "Pay by TON transfer")
	e.fake.Wait(alice.ID, "pay by TON transfer")
	e.fake.Press(alice, "Cancel order")
	e.fake.Wait(alice.ID, "Order #1 is cancelled")
	if got := e.orders(alice)[0].Status; got != shop.StatusCancelled {
		t.Errorf("status = %s", got)
	}
}

func TestNotifications(t *testing.T) {
	e := newEnv(t)
	e.startChat(ivan)
	ctx := context.Background()
	o, err := e.svc.CreateOrder(ctx, shop.CreateOrderRequest{
		UserID: ivan.ID, Type: shop.OrderStars, Stars: 100, Recipient: "someone_x", PaymentMethod: shop.PayTONMemo, Source: "bot",
	})
	if err != nil {
		t.Fatal(err)
	}
	b := e.cur.Load()
	b.HandleEvent(shop.Event{Type: shop.EventOrderManual, UserID: ivan.ID, OrderID: o.ID})
	e.fake.Wait(ivan.ID, "доставит вручную")
	b.HandleEvent(shop.Event{Type: shop.EventOrderRefunded, UserID: ivan.ID, OrderID: o.ID, Amount: price100, Balance: price100})
	e.fake.Wait(ivan.ID, "Цена вернулась на ваш баланс: +0,418 TON")
	b.HandleEvent(shop.Event{Type: shop.EventOrderExpired, UserID: ivan.ID, OrderID: o.ID})
	e.fake.Wait(ivan.ID, "истёк неоплаченным")

	// Orders of the partner API are not pushed to the chat.
	api, err := e.svc.CreateOrder(ctx, shop.CreateOrderRequest{
		UserID: ivan.ID, Type: shop.OrderStars, Stars: 100, Recipient: "someone_x", PaymentMethod: shop.PayTONMemo, Source: "api",
	})
	if err != nil {
		t.Fatal(err)
	}
	b.HandleEvent(shop.Event{Type: shop.EventOrderCompleted, UserID: ivan.ID, OrderID: api.ID})
	if got := e.quiet(ivan.ID); len(got) != 0 {
		t.Errorf("API order pushed: %+v", got)
	}
}

func TestLanguage(t *testing.T) {
	e := newEnv(t)
	c := e.startChat(ivan)
	if !strings.Contains(c.Text, "Ваш баланс") {
		t.Errorf("Russian user sees: %s", c.Text)
	}
	if _, _, ok := e.fake.FindButton(ivan.ID, "Купить звёзды"); !ok {
		t.Errorf("Russian menu has no Russian buttons")
	}
	e.fake.Press(ivan, "Язык")
	e.fake.Press(ivan, "English")
	e.fake.Wait(ivan.ID, "Your balance")
	if got := e.user(ivan).Language; got != "en" {
		t.Errorf("language = %s", got)
	}
	e.fake.Send(ivan, "/start")
	e.fake.Wait(ivan.ID, "Your balance")
	e.fake.Press(ivan, "Language")
	e.fake.Press(ivan, "Русский")
	e.fake.Wait(ivan.ID, "Ваш баланс")

	// en-GB maps to English.
	e.startChat(nobody)
	if got := e.user(nobody).Language; got != "en" {
		t.Errorf("en-GB user language = %s", got)
	}
}

func TestGroupChat_Refused(t *testing.T) {
	e := newEnv(t)
	group := bottest.Chat{ID: -100777, Type: "supergroup", Title: "Group"}
	e.fake.SendText(alice, group, "/api")
	e.fake.Wait(group.ID, "private chat")
	e.fake.SendText(alice, group, "/start")
	e.fake.Wait(group.ID, "private chat")
	e.fake.SendText(alice, group, "just chatting")
	if got := e.quiet(group.ID); len(got) != 0 {
		t.Errorf("bot answered group chatter: %+v", got)
	}
	keys, err := e.svc.Keys(context.Background(), alice.ID)
	if err != nil && shop.ErrorCode(err) != shop.ENOTFOUND {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Errorf("a key was issued from a group")
	}
	for _, c := range e.fake.Calls() {
		if strings.Contains(c.Text, "osk_") || strings.Contains(c.Text, "sk_") {
			t.Errorf("a key prefix was sent: %s", c.Text)
		}
	}
}

func TestBanned(t *testing.T) {
	e := newEnv(t)
	e.startChat(alice)
	if _, err := e.svc.SetBanned(context.Background(), alice.ID, true); err != nil {
		t.Fatal(err)
	}
	e.fake.Send(alice, "/start")
	e.fake.Wait(alice.ID, "Your account is blocked")
	e.fake.Send(alice, "/api")
	e.fake.Send(alice, "hello")
	id := e.fake.Callback(alice, alice.ID, 1, "\fbal")
	e.fake.WaitAnswer(id)
	if got := e.quiet(alice.ID); len(got) != 0 {
		t.Errorf("banned user got more messages: %+v", got)
	}
	if keys, _ := e.svc.Keys(context.Background(), alice.ID); len(keys) != 0 {
		t.Errorf("banned user got a key")
	}
}

func TestRun_StopsCleanly(t *testing.T) {
	e := newEnv(t)
	e.startChat(alice)
	for range 3 {
		start := time.Now()
		e.restart()
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("restart took %s", d)
		}
		e.startChat(alice)
	}
	// Each /start was answered once: a restart does not replay handled
	// updates (the bot confirms its offset on the way out).
	menus := 0
	for _, c := range e.fake.CallsTo("sendMessage") {
		if strings.Contains(c.Text, "Stars &amp; Premium") {
			menus++
		}
	}
	if menus != 4 {
		t.Errorf("%d menus for 4 /start commands", menus)
	}
	// A running bot confirms an update with its next getUpdates; a
	// stopped one on its way out.
	e.stop()
	if n := e.fake.Pending(); n != 0 {
		t.Errorf("%d updates left unconfirmed", n)
	}
}

func TestCommand_EndsFlow(t *testing.T) {
	e := newEnv(t)
	e.startChat(alice)
	e.fake.Press(alice, "Buy Stars")
	e.fake.Press(alice, "Someone else")
	e.fake.Send(alice, "/balance")
	e.fake.Wait(alice.ID, "Balance: 0 TON")
	e.fake.Send(alice, "hello") // in the flow: "not a Telegram username"; at the top level: not understood
	e.fake.Wait(alice.ID, "I didn't understand that")
}

// TestDelivery_Outcomes runs bot orders through the sandbox provider's
// scripted recipients and the real worker: the buyer hears of each outcome.
func TestDelivery_Outcomes(t *testing.T) {
	e := newEnv(t)
	e.startChat(alice)
	e.deposit(alice, "", 2*shop.TON)
	e.fake.Wait(alice.ID, "Deposit received")

	buyStarsQuote(e, alice, "@"+fulfillment.SandboxFail, "100")
	e.fake.Press(alice, "Confirm")
	e.fake.Wait(alice.ID, "Order #1 is paid")
	e.deliver()
	e.fake.Wait(alice.ID, "could not be delivered and was refunded: +0.418 TON")
	if got := e.orders(alice)[0]; got.Status != shop.StatusRefunded {
		t.Fatalf("order = %s", got.Status)
	}
	if got := e.user(alice).Balance; got != 2*shop.TON {
		t.Errorf("balance = %s, want the price back", got)
	}

	buyStarsQuote(e, alice, "@"+fulfillment.SandboxManual, "100")
	e.fake.Press(alice, "Confirm")
	e.fake.Wait(alice.ID, "Order #2 is paid")
	e.deliver()
	e.fake.Wait(alice.ID, "needs a manual step")
	if got := e.orders(alice)[0]; got.Status != shop.StatusManual {
		t.Fatalf("order = %s", got.Status)
	}
}
