package bot_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"starsbot/bot/bottest"
	"starsbot/fulfillment"
	"starsbot/shop"
)

// admin sends an admin command from the owner and waits for a reply
// containing want.
func (e *env) admin(cmd, want string) bottest.Call {
	e.t.Helper()
	e.fake.Send(owner, cmd)
	return e.fake.Wait(owner.ID, want)
}

// auditLog returns the audit log, newest first. The bot writes an entry
// right after its reply; a user command from the owner, handled after
// everything before it in the same chat and never audited, makes sure
// those entries are in.
func (e *env) auditLog() []*shop.AuditEntry {
	e.t.Helper()
	e.fake.Send(owner, "/help")
	e.fake.Wait(owner.ID, "How it works")
	log, err := e.svc.AuditLog(context.Background(), 100)
	if err != nil {
		e.t.Fatal(err)
	}
	return log
}

// manualOrder creates a bot order of 100 stars paid from u's balance for
// the sandbox's manual recipient and runs the worker, which hands it to
// the admins.
func (e *env) manualOrder(u bottest.User) *shop.Order {
	e.t.Helper()
	o := alertBuy(e.t, e, u, fulfillment.SandboxManual)
	e.deliver()
	return e.order(o.ID)
}

func (e *env) order(id int64) *shop.Order {
	e.t.Helper()
	o, err := e.svc.FindOrder(context.Background(), 0, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return o
}

// TestAdmin_NonAdminGetsNoReply sends every admin command, with valid
// arguments, and presses every admin button as a non-admin, and as the
// admin in a group: nothing is answered, nothing changes, each attempt is
// logged.
func TestAdmin_NonAdminGetsNoReply(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.startChat(alice)
	e.startChat(ivan)
	e.deposit(alice, "", 2*shop.TON)
	e.fake.Wait(alice.ID, "Deposit received")
	o := e.manualOrder(alice)
	e.fake.Wait(owner.ID, "Manual delivery needed")
	e.deposit(alice, "nobody's memo", shop.TON)
	e.fake.Wait(owner.ID, "Unmatched deposit")
	if _, _, err := e.svc.IssueKey(ctx, alice.ID, shop.KeyPrefixOrders); err != nil {
		t.Fatal(err)
	}
	deps, _ := e.svc.FindDeposits(ctx, shop.DepositUnmatched, 0, 0)
	before := e.user(alice)
	pricing := e.svc.Pricing()

	id := strconv.FormatInt(o.ID, 10)
	cmds := []string{
		"/admin", "/stats", "/user 1001", "/user @alice_buyer",
		"/credit 1001 5 gift", "/debit 1001 1 take",
		"/manual", "/pending", "/deliver " + id, "/refund " + id + " because", "/deliver " + id + " ref",
		"/unmatched", fmt.Sprintf("/assign %d 1001", deps[0].ID),
		"/ban 1002", "/unban 1002", "/revokekey 1001",
		"/fees", "/fees set fee_percent 50", "/fees reset",
		"/backup", "/audit", "/audit 5", "/stats@" + bottest.BotUser.Username,
	}
	for _, c := range cmds {
		e.fake.Send(alice, c)
	}
	var forged []string
	for _, data := range []string{"adm|stats", "adm|manual", "aok|AAAAAAAA", "ano", "ada|" + id, "adl|" + id, "ara|" + id, "arf|" + id} {
		forged = append(forged, e.fake.Callback(alice, alice.ID, 1, "\f"+data))
	}
	// The admin in a group gets no answer either.
	group := bottest.Chat{ID: -100123, Type: "group"}
	e.fake.SendText(owner, group, "/stats")
	e.fake.SendText(owner, group, "/credit 1001 5 gift")

	// Each chat's updates are handled in order: once these replies are
	// there, everything before them was handled.
	e.fake.Send(alice, "/balance")
	last := e.fake.Wait(alice.ID, "Balance")
	e.fake.Wait(alice.ID, "Scan with a TON wallet") // the balance screen's QR code
	e.fake.SendText(owner, group, "/start")
	lastGroup := e.fake.Wait(group.ID, "")
	for _, c := range e.fake.Calls() {
		if (c.ChatID == alice.ID && c.Seq < last.Seq && c.Method != "answerCallbackQuery" && strings.Contains(c.Text, "Balance")) ||
			(c.ChatID == group.ID && c.Seq < lastGroup.Seq) {
			t.Errorf("reply to a refused admin command: %s %q", c.Method, c.Text)
		}
		if c.Method == "sendDocument" {
			t.Errorf("a backup was sent")
		}
		for _, f := range forged {
			if c.Method == "answerCallbackQuery" && c.Params["callback_query_id"] == f {
				t.Errorf("forged admin button answered: %q", c.Params["text"])
			}
		}
	}
	if got := e.quiet(alice.ID); len(got) != 0 {
		t.Errorf("alice got %d more calls: %+v", len(got), got)
	}

	after := e.user(alice)
	if after.Balance != before.Balance || after.Banned {
		t.Errorf("alice changed: %+v", after)
	}
	if e.user(ivan).Banned {
		t.Error("ivan was banned")
	}
	if got := e.order(o.ID); got.Status != shop.StatusManual {
		t.Errorf("order is %s", got.Status)
	}
	if d, _ := e.svc.FindDeposit(ctx, deps[0].ID); d.Status != shop.DepositUnmatched {
		t.Errorf("deposit is %s", d.Status)
	}
	if keys, _ := e.svc.Keys(ctx, alice.ID); !keys[0].Active() {
		t.Error("alice's key was revoked")
	}
	if got := e.svc.Pricing(); got.FeePPM != pricing.FeePPM {
		t.Errorf("fee changed to %d", got.FeePPM)
	}
	if log := e.auditLog(); len(log) != 0 {
		t.Errorf("audit log has %d entries: %+v", len(log), log[0])
	}
	if n := strings.Count(e.logText(), "admin command refused"); n < len(cmds)+len(forged)+2 {
		t.Errorf("%d refused attempts logged, want %d", n, len(cmds)+len(forged)+2)
	}
}

func TestAdmin_MenuAndStats(t *testing.T) {
	e := newEnv(t)
	e.wallet = func(context.Context) (shop.NanoTON, error) { return 12*shop.TON + shop.TON/2, nil }
	e.restart()
	e.startChat(alice)
	e.deposit(alice, "", 3*shop.TON)
	e.manualOrder(alice)
	if _, err := e.watcher.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}

	menu := e.admin("/admin", "Shop admin")
	for _, c := range []string{"/credit", "/manual", "/backup", "/fees", "/audit"} {
		if !strings.Contains(menu.Text, c) {
			t.Errorf("menu lacks %s", c)
		}
	}
	// Orders waiting for an admin are "manual", never "pending", which
	// would read as the status pending_payment.
	if strings.Contains(strings.ToLower(menu.Text), "pending") {
		t.Errorf("menu says pending:\n%s", menu.Text)
	}
	e.fake.Press(owner, "Stats")
	stats := e.fake.Wait(owner.ID, "Shop statistics")
	for _, want := range []string{
		"Users: 1 ", "Deposits today: 1, 3 TON", "Deposits all time: 1, 3 TON", "Unmatched deposits: 0, 0 TON",
		"manual 1", "completed 0", "User balances (liability): " + (3*shop.TON - price100).String() + " TON",
		"Hot wallet: 12.5 TON", "Deposit watcher lag: 0s", "Provider: healthy", "Delivery queue: ",
	} {
		if !strings.Contains(stats.Text, want) {
			t.Errorf("stats lack %q:\n%s", want, stats.Text)
		}
	}
	// The command works as well as the button; a broken wallet reading
	// is shown as unknown.
	e.wallet = func(context.Context) (shop.NanoTON, error) { return 0, fmt.Errorf("liteserver timeout") }
	e.restart()
	stats = e.admin("/stats", "Shop statistics")
	if !strings.Contains(stats.Text, "Hot wallet: balance unknown") || strings.Contains(stats.Text, "Provider note") {
		t.Errorf("stats with a broken wallet:\n%s", stats.Text)
	}
	var actions []string
	for _, a := range e.auditLog() {
		actions = append(actions, a.Action)
	}
	if strings.Join(actions, ",") != "stats,view stats,admin" {
		t.Errorf("audit log: %v", actions)
	}
	// What the provider says admins should know is shown, escaped.
	e.notice = func() string { return "the wallet linked to the Fragment account is 0:ab<cd>, not the hot wallet" }
	e.restart()
	stats = e.admin("/stats", "Shop statistics")
	if !strings.Contains(stats.Text, "Provider note: the wallet linked to the Fragment account is 0:ab&lt;cd&gt;, not the hot wallet") {
		t.Errorf("stats lack the provider's note:\n%s", stats.Text)
	}
}

func TestAdmin_User(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.startChat(alice)
	e.deposit(alice, "", 2*shop.TON)
	o := e.manualOrder(alice)
	key, _, err := e.svc.IssueKey(ctx, alice.ID, shop.KeyPrefixSimple)
	if err != nil {
		t.Fatal(err)
	}
	for _, arg := range []string{"1001", "@alice_buyer", "alice_buyer"} {
		got := e.admin("/user "+arg, "User @alice_buyer (1001)")
		for _, want := range []string{
			"Balance: <b>" + (2*shop.TON - price100).String() + " TON", fmt.Sprintf("#%d · ⭐ 100 Stars for @sandbox_manual", o.ID),
			"deposit · +2 TON", "order · -" + price100.String(), "sk_… · issued 2026-04-16 · active", e.user(alice).Memo,
		} {
			if !strings.Contains(got.Text, want) {
				t.Errorf("/user %s lacks %q:\n%s", arg, want, got.Text)
			}
		}
		if strings.Contains(got.Text, key) || strings.Contains(got.Text, key[:12]) {
			t.Error("/user shows the key")
		}
	}
	e.admin("/user", "Usage: /user")
	e.admin("/user 1 2", "Usage: /user")
	e.admin("/user @ghost_user", "user @ghost_user not found")
	e.admin("/user -5", "positive number")
}

// TestAdmin_CreditDebitPreviewMatchesShop holds the /credit and /debit
// preview to the shop's own rules at their boundaries: the preview offers a
// confirmation exactly when the shop accepts the operation.
func TestAdmin_CreditDebitPreviewMatchesShop(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.startChat(alice)

	// The reason: at most 256 characters, counted as runes.
	long := strings.Repeat("я", 256)
	e.admin("/credit 1001 1 "+long+"я", "reason must be at most 256 characters")
	if _, err := e.svc.AdminCredit(ctx, adminID, alice.ID, shop.TON, long+"я"); shop.ErrorCode(err) != shop.EVALIDATION {
		t.Errorf("the shop takes a reason of 257 characters: %v", err)
	}
	e.admin("/credit 1001 1 "+long, "Credit <b>1 TON</b>")
	e.fake.Press(owner, "Credit 1 TON")
	e.fake.Wait(owner.ID, "Credited 1 TON to 1001")
	if es := e.ledger(alice); len(es) != 1 || es[0].Reason != long {
		t.Fatalf("ledger: %+v", es)
	}

	// The debit floor: down to zero, never below.
	e.admin("/debit 1001 1.000000001 too much", "would make the balance negative")
	if _, err := e.svc.AdminDebit(ctx, adminID, alice.ID, shop.TON+1, "too much"); shop.ErrorCode(err) != shop.EINSUFFICIENT {
		t.Errorf("the shop debits below zero: %v", err)
	}
	e.admin("/debit 1001 1 all of it", "Balance: 1 TON → <b>0 TON</b>")
	e.fake.Press(owner, "Debit 1 TON")
	e.fake.Wait(owner.ID, "Debited 1 TON from 1001. Balance now <b>0 TON</b>")
}

func TestAdmin_CreditDebit(t *testing.T) {
	e := newEnv(t)
	e.startChat(alice)

	// Bad arguments: a usage message, nothing asked, nothing changed.
	for _, c := range []struct{ cmd, want string }{
		{"/credit", "Usage: /credit"},
		{"/credit @alice_buyer", "Usage: /credit"},
		{"/credit @alice_buyer 1.5", "Usage: /credit"},
		{"/credit @alice_buyer abc goodwill", "positive number of TON"},
		{"/credit @alice_buyer -1 goodwill", "positive number of TON"},
		{"/credit @alice_buyer 0 goodwill", "positive number of TON"},
		{"/credit @alice_buyer 0.0000000001 goodwill", "positive number of TON"},
		{"/credit @alice_buyer 1 " + strings.Repeat("x", 257), "at most 256"},
		{"/credit @ghost_user 1 goodwill", "not found"},
		{"/debit 0 1 goodwill", "positive number"},
		{"/debit @alice_buyer 1 goodwill", "would make the balance negative"},
	} {
		got := e.admin(c.cmd, c.want)
		for _, row := range got.Keyboard {
			for _, b := range row {
				if strings.HasPrefix(b.Data, "\faok") {
					t.Errorf("%s offered a confirmation", c.cmd)
				}
			}
		}
	}
	if n := len(e.ledger(alice)); n != 0 {
		t.Fatalf("%d ledger entries after bad commands", n)
	}

	// Credit: confirmation with before/after, then the ledger entry and
	// the user's notice.
	ask := e.admin("/credit @alice_buyer 1.5 goodwill for order  12", "Credit <b>1.5 TON</b> to @alice_buyer (1001)?")
	if !strings.Contains(ask.Text, "Balance: 0 TON → <b>1.5 TON</b>") || !strings.Contains(ask.Text, "goodwill for order  12") {
		t.Errorf("confirmation:\n%s", ask.Text)
	}
	if n := len(e.ledger(alice)); n != 0 {
		t.Fatal("credited before the confirmation")
	}
	confirm := ask.Keyboard[0][0]
	e.fake.Press(owner, "Credit 1.5 TON")
	e.fake.Wait(owner.ID, "Credited 1.5 TON to 1001. Balance now <b>1.5 TON</b>")
	e.fake.Wait(alice.ID, "credited: +1.5 TON")
	entries := e.ledger(alice)
	if len(entries) != 1 || entries[0].Type != shop.LedgerAdminCredit || entries[0].Amount != 3*shop.TON/2 ||
		entries[0].AdminID != adminID || entries[0].Reason != "goodwill for order  12" {
		t.Fatalf("ledger: %+v", entries)
	}
	// Pressing the same confirmation again moves nothing.
	cb := e.fake.Callback(owner, owner.ID, ask.MessageID, confirm.Data)
	if got := e.fake.WaitAnswer(cb).Params["text"]; !strings.Contains(got, "already used") {
		t.Errorf("second press answered %q", got)
	}
	if n := len(e.ledger(alice)); n != 1 {
		t.Fatalf("%d ledger entries after a second press", n)
	}

	// Debit: never below zero, confirmed, and its own ledger entry.
	e.admin("/debit 1001 2 too much", "would make the balance negative")
	ask = e.admin("/debit alice_buyer 0.5 correction", "Debit <b>0.5 TON</b> from @alice_buyer (1001)?")
	if !strings.Contains(ask.Text, "Balance: 1.5 TON → <b>1 TON</b>") {
		t.Errorf("confirmation:\n%s", ask.Text)
	}
	e.fake.Press(owner, "Debit 0.5 TON")
	e.fake.Wait(owner.ID, "Debited 0.5 TON from 1001. Balance now <b>1 TON</b>")
	entries = e.ledger(alice)
	if len(entries) != 2 || entries[0].Type != shop.LedgerAdminDebit || entries[0].Amount != -shop.TON/2 || entries[0].AdminID != adminID {
		t.Fatalf("ledger: %+v", entries)
	}

	// Cancel, and a confirmation overtaken by another command: nothing.
	ask = e.admin("/credit 1001 3 cancel me", "Credit <b>3 TON</b>")
	e.fake.Press(owner, "Cancel")
	e.fake.Wait(owner.ID, "Cancelled. Nothing changed.")
	ask = e.admin("/credit 1001 3 overtaken", "Credit <b>3 TON</b>")
	e.admin("/stats", "Shop statistics")
	cb = e.fake.Callback(owner, owner.ID, ask.MessageID, ask.Keyboard[0][0].Data)
	e.fake.WaitAnswer(cb)
	// A confirmation outlives a restart, but not its time limit.
	ask = e.admin("/credit 1001 3 too late", "Credit <b>3 TON</b>")
	e.restart()
	e.clock.Advance(16 * time.Minute)
	cb = e.fake.Callback(owner, owner.ID, ask.MessageID, ask.Keyboard[0][0].Data)
	e.fake.WaitAnswer(cb)
	if u := e.user(alice); u.Balance != shop.TON || len(e.ledger(alice)) != 2 {
		t.Fatalf("balance %s after cancelled and stale confirmations", u.Balance)
	}

	var credits, stale int
	for _, a := range e.auditLog() {
		if a.AdminID != adminID || a.Time.IsZero() {
			t.Errorf("audit entry %+v", a)
		}
		if a.Action == "credit" && strings.HasPrefix(a.Result, "ok: ledger entry") {
			credits++
			if a.Args != "1001 1.5 goodwill for order  12" {
				t.Errorf("audit args %q", a.Args)
			}
		}
		if a.Action == "confirm" && a.Result == "stale confirmation" {
			stale++
		}
	}
	if credits != 1 || stale != 3 {
		t.Errorf("audit: %d credits, %d stale confirmations", credits, stale)
	}
}

func TestAdmin_ManualDeliverRefund(t *testing.T) {
	e := newEnv(t)
	e.startChat(alice)
	e.deposit(alice, "", 5*shop.TON)
	e.admin("/manual", "No order waits for manual delivery")

	o1 := e.manualOrder(alice)
	o2 := e.manualOrder(alice)
	o3 := e.manualOrder(alice)
	o4 := e.manualOrder(alice)
	for _, o := range []*shop.Order{o1, o2, o3, o4} {
		if o.Status != shop.StatusManual {
			t.Fatalf("order %d is %s", o.ID, o.Status)
		}
	}
	list := e.admin("/manual", "4 orders wait for manual delivery")
	i1, i2 := strings.Index(list.Text, fmt.Sprintf("#%d ·", o1.ID)), strings.Index(list.Text, fmt.Sprintf("#%d ·", o2.ID))
	if i1 < 0 || i2 < 0 || i1 > i2 {
		t.Errorf("not oldest first:\n%s", list.Text)
	}

	// Delivered by button, after a confirmation.
	e.fake.Press(owner, fmt.Sprintf("#%d delivered", o1.ID))
	e.fake.Wait(owner.ID, fmt.Sprintf("Mark order #%d delivered?", o1.ID))
	if e.order(o1.ID).Status != shop.StatusManual {
		t.Fatal("delivered before the confirmation")
	}
	e.fake.Press(owner, fmt.Sprintf("Yes, #%d was delivered", o1.ID))
	e.fake.Wait(owner.ID, fmt.Sprintf("Order #%d marked delivered. The buyer is notified.", o1.ID))
	e.fake.Wait(alice.ID, fmt.Sprintf("Order #%d completed", o1.ID))
	if got := e.order(o1.ID); got.Status != shop.StatusCompleted {
		t.Fatalf("order 1 is %s", got.Status)
	}

	// Refunded by button, after a confirmation.
	balance := e.user(alice).Balance
	e.admin("/manual", "3 orders wait")
	e.fake.Press(owner, fmt.Sprintf("Refund #%d", o2.ID))
	e.fake.Wait(owner.ID, fmt.Sprintf("Refund order #%d?", o2.ID))
	e.fake.Press(owner, fmt.Sprintf("Yes, refund #%d", o2.ID))
	e.fake.Wait(owner.ID, fmt.Sprintf("Order #%d refunded: %s TON back", o2.ID, price100))
	e.fake.Wait(alice.ID, fmt.Sprintf("Order #%d", o2.ID))
	if got := e.user(alice).Balance; got != balance+price100 {
		t.Fatalf("balance %s, want %s", got, balance+price100)
	}
	refund := e.ledger(alice)[0]
	if refund.Type != shop.LedgerRefund || refund.OrderID != o2.ID || refund.AdminID != adminID || refund.Amount != price100 {
		t.Fatalf("refund entry %+v", refund)
	}

	// By command.
	e.admin(fmt.Sprintf("/deliver %d sent by hand via Fragment", o3.ID), fmt.Sprintf("Order #%d marked delivered", o3.ID))
	if got := e.order(o3.ID); got.Status != shop.StatusCompleted || got.FulfillmentRef != "sent by hand via Fragment" {
		t.Fatalf("order 3: %s %q", got.Status, got.FulfillmentRef)
	}
	e.admin(fmt.Sprintf("/refund %d recipient changed their mind", o4.ID), fmt.Sprintf("Order #%d refunded", o4.ID))
	if got := e.order(o4.ID); got.Status != shop.StatusRefunded || got.FailureReason != "recipient changed their mind" {
		t.Fatalf("order 4: %s %q", got.Status, got.FailureReason)
	}
	e.admin("/pending", "No order waits") // the command's old name still works

	// Repeats and wrong states change nothing.
	ledgerLen := len(e.ledger(alice))
	e.admin(fmt.Sprintf("/deliver %d", o1.ID), "already completed; nothing changed")
	e.admin(fmt.Sprintf("/refund %d again", o2.ID), "only paid or manual orders can be refunded")
	e.admin(fmt.Sprintf("/deliver %d", o2.ID), "only manual orders can be marked delivered")
	cb := e.fake.Callback(owner, owner.ID, list.MessageID, list.Keyboard[0][1].Data) // Refund #o1, now completed
	e.fake.WaitAnswer(cb)
	e.fake.Wait(owner.ID, fmt.Sprintf("Order #%d is completed now; nothing to do.", o1.ID))
	// An order the worker owns is not an admin's to complete.
	paid, err := e.svc.CreateOrder(context.Background(), shop.CreateOrderRequest{
		UserID: alice.ID, Type: shop.OrderStars, Stars: 100, Recipient: "someone_x", PaymentMethod: shop.PayBalance, Source: "bot",
	})
	if err != nil {
		t.Fatal(err)
	}
	e.admin(fmt.Sprintf("/deliver %d", paid.ID), "belongs to the fulfillment worker")
	for _, c := range []struct{ cmd, want string }{
		{"/deliver", "Usage: /deliver"},
		{"/deliver abc", "positive whole number"},
		{"/deliver 0", "positive whole number"},
		{"/deliver 99999", "not found"},
		{"/refund", "Usage: /refund"},
		{fmt.Sprintf("/refund %d", paid.ID), "give the order number and a reason"},
		{"/refund -3 reason", "positive whole number"},
	} {
		e.admin(c.cmd, c.want)
	}
	if got := e.order(paid.ID); got.Status != shop.StatusPaid {
		t.Fatalf("paid order is %s", got.Status)
	}
	if n := len(e.ledger(alice)); n != ledgerLen+1 { // + the new order's debit
		t.Fatalf("ledger grew by %d", n-ledgerLen)
	}
}

func TestAdmin_UnmatchedAssign(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.startChat(alice)
	e.admin("/unmatched", "No unmatched deposit")
	e.deposit(alice, "oops <memo>", 2*shop.TON)
	deps, _ := e.svc.FindDeposits(ctx, shop.DepositUnmatched, 0, 0)
	if len(deps) != 1 {
		t.Fatalf("unmatched: %+v", deps)
	}
	dep := deps[0]
	list := e.admin("/unmatched", "Unmatched deposits")
	if !strings.Contains(list.Text, fmt.Sprintf("#%d · <b>2 TON</b> · memo <code>oops &lt;memo&gt;</code>", dep.ID)) {
		t.Errorf("list:\n%s", list.Text)
	}
	for _, c := range []struct{ cmd, want string }{
		{"/assign", "Usage: /assign"},
		{"/assign 1", "Usage: /assign"},
		{"/assign x @alice_buyer", "positive whole number"},
		{"/assign 999 @alice_buyer", "deposit 999 not found"},
		{fmt.Sprintf("/assign %d @ghost_user", dep.ID), "not found"},
	} {
		e.admin(c.cmd, c.want)
	}
	if e.user(alice).Balance != 0 {
		t.Fatal("credited by a bad command")
	}
	e.admin(fmt.Sprintf("/assign %d @alice_buyer", dep.ID), fmt.Sprintf("Deposit #%d (2 TON) credited to @alice_buyer (1001)", dep.ID))
	e.fake.Wait(alice.ID, "+2 TON")
	entries := e.ledger(alice)
	if len(entries) != 1 || entries[0].Type != shop.LedgerDeposit || entries[0].Amount != 2*shop.TON || entries[0].AdminID != adminID {
		t.Fatalf("ledger %+v", entries)
	}
	// Once only.
	e.admin(fmt.Sprintf("/assign %d 1001", dep.ID), "is assigned, not unmatched")
	if e.user(alice).Balance != 2*shop.TON {
		t.Fatal("assigned twice")
	}
	e.admin("/unmatched", "No unmatched deposit")
}

func TestAdmin_BanUnbanRevokeKey(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.startChat(alice)
	e.startChat(owner)
	key, _, err := e.svc.IssueKey(ctx, alice.ID, shop.KeyPrefixOrders)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ cmd, want string }{
		{"/ban", "Usage: /ban"},
		{"/ban a b", "Usage: /ban"},
		{"/unban", "Usage: /unban"},
		{"/revokekey", "Usage: /revokekey"},
		{"/ban @ghost_user", "not found"},
		{"/ban 9", "is an admin"},
	} {
		e.admin(c.cmd, c.want)
	}
	if e.user(alice).Banned || e.user(owner).Banned {
		t.Fatal("banned by a bad command")
	}

	e.admin("/ban @alice_buyer", "@alice_buyer (1001) is banned")
	if !e.user(alice).Banned || e.authenticates(key) {
		t.Fatal("ban not in force")
	}
	e.fake.Send(alice, "/start")
	e.fake.Wait(alice.ID, "Your account is blocked.")
	e.admin("/ban 1001", "already banned. Nothing changed.")
	e.admin("/unban alice_buyer", "is no longer banned")
	if e.user(alice).Banned || !e.authenticates(key) {
		t.Fatal("unban not in force")
	}
	e.startChat(alice)

	e.admin("/revokekey @alice_buyer", "Revoked 1 API key(s) of @alice_buyer (1001)")
	if e.authenticates(key) {
		t.Fatal("a revoked key authenticates")
	}
	e.admin("/revokekey 1001", "no active API key")
}

func TestAdmin_Fees(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	fees := e.admin("/fees", "Price list</b> (from the configuration)")
	for _, name := range shop.PricingFields {
		if !strings.Contains(fees.Text, "<code>"+name+"</code> = ") {
			t.Errorf("/fees lacks %s", name)
		}
	}
	if !strings.Contains(fees.Text, "<code>fee_percent</code> = 0") || !strings.Contains(fees.Text, "<code>stars_min</code> = 50") {
		t.Errorf("/fees:\n%s", fees.Text)
	}
	e.admin("/fees set fee_percent 2.5", "fee_percent: 0 → <b>2.5</b>. Saved")
	if p := e.svc.Pricing(); p.FeePPM != 25_000 {
		t.Fatalf("fee %d", p.FeePPM)
	}
	if saved, _ := e.svc.PricingSaved(ctx); !saved {
		t.Fatal("not saved")
	}
	e.admin("/fees set premium_usd_3 12.5", "premium_usd_3: 11.99 → <b>12.5</b>")

	// Refused the way the configuration refuses it; nothing changes.
	for _, c := range []struct{ cmd, want string }{
		{"/fees set fee_percent 101", "fee_percent must be a percentage from 0 to 100"},
		{"/fees set fee_percent abc", "fee_percent must be a percentage"},
		{"/fees set stars_min 2000000", "stars_max must not be below stars_min"},
		{"/fees set order_ttl 10s", "order_ttl must be between 1m and 168h"},
		{"/fees set usd_per_star 0.0000001", "at most 6 decimal places"},
		{"/fees set bogus 1", "unknown name"},
		{"/fees set fee_percent", "Usage: /fees"},
		{"/fees nonsense", "Usage: /fees"},
		{"/fees reset now", "Usage: /fees"},
	} {
		e.admin(c.cmd, c.want)
	}
	if p := e.svc.Pricing(); p.FeePPM != 25_000 || p.StarsMin != 50 || p.OrderTTL != 15*time.Minute || p.PremiumUSD[3] != 12_500_000 {
		t.Fatalf("pricing changed by a refused command: %+v", p)
	}
	e.admin("/fees", "saved by an admin")

	e.admin("/fees reset", "Back to the configured price list")
	if p := e.svc.Pricing(); p.FeePPM != 0 || p.PremiumUSD[3] != 11_990_000 {
		t.Fatalf("after reset: %+v", p)
	}
	if saved, _ := e.svc.PricingSaved(ctx); saved {
		t.Fatal("still saved after reset")
	}
	var set int
	for _, a := range e.auditLog() {
		if a.Action == "fees" && strings.HasPrefix(a.Result, "ok: fee_percent 0 -> 2.5") && a.Args == "set fee_percent 2.5" {
			set++
		}
	}
	if set != 1 {
		t.Errorf("audit of /fees set: %+v", e.auditLog())
	}
}

func TestAdmin_Audit(t *testing.T) {
	e := newEnv(t)
	e.startChat(alice)
	e.admin("/ban 1001", "is banned")
	e.admin("/unban 1001", "no longer banned")
	e.admin("/user", "Usage")
	got := e.admin("/audit", "Audit log</b> (newest first, 3)")
	lines := strings.Split(got.Text, "\n")
	if len(lines) != 4 || !strings.Contains(lines[1], "· 9 · user → bad arguments") ||
		!strings.Contains(lines[2], "· 9 · unban 1001 → ok") || !strings.Contains(lines[3], "· 9 · ban 1001 → ok") {
		t.Errorf("/audit:\n%s", got.Text)
	}
	e.admin("/audit 2", "(newest first, 2)")
	e.admin("/audit 0", "from 1 to 50")
	e.admin("/audit 51", "from 1 to 50")
	e.admin("/audit 1 2", "Usage: /audit")
	// Long entries are cut to fit one message.
	for range 60 {
		if _, err := e.svc.Audit(context.Background(), shop.AuditEntry{AdminID: adminID, Action: "credit", Args: strings.Repeat("y", 500), Result: strings.Repeat("z", 500)}); err != nil {
			t.Fatal(err)
		}
	}
	e.admin("/audit 50", "Audit log")
}

// TestAdmin_ReplyLost checks that a credit whose reply cannot be delivered
// is done once and audited as done.
func TestAdmin_ReplyLost(t *testing.T) {
	e := newEnv(t)
	e.startChat(alice)
	e.admin("/credit 1001 2 goodwill", "Credit <b>2 TON</b>")
	// The edit, its fallback message and alice's notice all fail (the
	// last two in either order).
	e.fake.FailNext("editMessageText", 3600)
	e.fake.FailNext("sendMessage", 3600)
	e.fake.FailNext("sendMessage", 3600)
	e.fake.Press(owner, "Credit 2 TON")
	e.fake.WaitCalls(2, func(c bottest.Call) bool { return c.Method == "sendMessage" && c.Status == 429 })
	if u := e.user(alice); u.Balance != 2*shop.TON {
		t.Fatalf("balance %s", u.Balance)
	}
	log := e.auditLog()
	if len(log) != 2 || log[0].Action != "credit" || !strings.HasPrefix(log[0].Result, "ok: ledger entry") || !strings.HasSuffix(log[0].Result, "; reply not delivered") {
		t.Errorf("audit: %+v", log[0])
	}
}
