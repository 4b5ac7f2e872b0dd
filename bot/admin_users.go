package bot

import (
	"context"
	"fmt"
	"html"
	"strconv"
	"strings"

	"starsbot/shop"
)

// Admin screens about users: a user's profile, bans and API keys.

// Limits of the /user screen, chosen so it fits one message.
const (
	userOrders  = 5
	userEntries = 5
)

// findUser resolves a user argument: a Telegram id or a @username.
func (b *Bot) findUser(ctx context.Context, arg string) (*shop.User, error) {
	if id, err := strconv.ParseInt(arg, 10, 64); err == nil {
		if id <= 0 {
			return nil, shop.Errorf(shop.EVALIDATION, "a user id is a positive number")
		}
		return b.Shop.FindUser(ctx, id)
	}
	return b.Shop.FindUserByUsername(ctx, arg)
}

// userArg resolves the one argument of a command that names a user. When
// it returns nil the turn is answered (usage) or err says why.
func (b *Bot) userArg(t *adminTurn, use string) (*shop.User, error) {
	args := strings.Fields(t.args)
	if len(args) != 1 {
		return nil, t.usage("give one user id or @username", use)
	}
	return b.findUser(t.ctx, args[0])
}

// userLabel names a user for admins: "@name (id)" or "id".
func userLabel(u *shop.User) string {
	if u.Username != "" {
		return fmt.Sprintf("@%s (%d)", html.EscapeString(u.Username), u.ID)
	}
	return strconv.FormatInt(u.ID, 10)
}

// ---- users -------------------------------------------------------------

// adminUserKeys is how many API keys the /user screen lists; the rest are
// counted. With fitHTML as the last resort, the screen fits one message.
const adminUserKeys = 20

func (b *Bot) onAdminUser(t *adminTurn) error {
	const use = "/user &lt;id|@username&gt;"
	u, err := b.userArg(t, use)
	if u == nil {
		return err
	}
	orders, _, err := b.Shop.FindOrders(t.ctx, shop.OrderFilter{UserID: u.ID, Limit: userOrders})
	if err != nil {
		return err
	}
	entries, _, err := b.Shop.Ledger(t.ctx, shop.LedgerFilter{UserID: u.ID, Limit: userEntries})
	if err != nil {
		return err
	}
	keys, err := b.Shop.Keys(t.ctx, u.ID)
	if err != nil {
		return err
	}
	var s strings.Builder
	fmt.Fprintf(&s, "👤 <b>User %s</b>\n", userLabel(u))
	fmt.Fprintf(&s, "Language: %s · memo <code>%s</code> · since %s\n", html.EscapeString(u.Language), html.EscapeString(u.Memo), formatDate(u.CreatedAt))
	if u.Banned {
		s.WriteString("⛔ <b>Banned</b>\n")
	}
	fmt.Fprintf(&s, "Balance: <b>%s TON</b>\n", u.Balance)
	if u.ReferredBy != 0 || u.Referrals != 0 {
		fmt.Fprintf(&s, "Referred by: %d · invited %d · referral earnings %s TON\n", u.ReferredBy, u.Referrals, u.ReferralEarned)
	}
	s.WriteString("\n<b>Last orders</b>")
	if len(orders) == 0 {
		s.WriteString("\nnone")
	}
	for _, o := range orders {
		fmt.Fprintf(&s, "\n#%d · %s · %s TON · %s · %s", o.ID, orderItem(t.lang, o), o.PriceTON, o.Status, formatTime(o.CreatedAt))
	}
	s.WriteString("\n\n<b>Last ledger entries</b>")
	if len(entries) == 0 {
		s.WriteString("\nnone")
	}
	for _, e := range entries {
		fmt.Fprintf(&s, "\n#%d · %s · %s TON → %s TON · %s", e.ID, e.Type, signed(e.Amount), e.BalanceAfter, formatTime(e.CreatedAt))
		if e.AdminID != 0 {
			fmt.Fprintf(&s, " · admin %d", e.AdminID)
		}
		if e.Reason != "" {
			fmt.Fprintf(&s, " · %s", html.EscapeString(truncateRunes(e.Reason, 64)))
		}
	}
	s.WriteString("\n\n<b>API keys</b>")
	if len(keys) == 0 {
		s.WriteString("\nnone")
	}
	for i, k := range keys {
		if i == adminUserKeys {
			fmt.Fprintf(&s, "\n… and %d more", len(keys)-adminUserKeys)
			break
		}
		state := "active"
		if !k.Active() {
			state = "revoked " + formatDate(k.RevokedAt)
		}
		fmt.Fprintf(&s, "\n%s… · issued %s · %s", html.EscapeString(k.Prefix), formatDate(k.CreatedAt), state)
	}
	return t.show(s.String(), nil)
}

// ---- bans and keys -------------------------------------------------------

func (b *Bot) onAdminBan(t *adminTurn, ban bool) error {
	use := "/ban &lt;user id|@username&gt;"
	if !ban {
		use = "/unban &lt;user id|@username&gt;"
	}
	u, err := b.userArg(t, use)
	if u == nil {
		return err
	}
	if ban && b.isAdmin(u.ID) {
		t.result = "refused: an admin"
		return t.say("⚠️ "+userLabel(u)+" is an admin; remove them from ADMIN_IDS first. Nothing changed.", nil)
	}
	if u.Banned == ban {
		t.result = "ok: unchanged"
		return t.say(fmt.Sprintf("%s is already %s. Nothing changed.", userLabel(u), map[bool]string{true: "banned", false: "not banned"}[ban]), nil)
	}
	if u, err = b.Shop.SetBanned(t.ctx, u.ID, ban); err != nil {
		return err
	}
	if ban {
		return t.say("⛔ "+userLabel(u)+" is banned: they can neither buy nor use API keys. Their balance is kept.", nil)
	}
	return t.say("✅ "+userLabel(u)+" is no longer banned.", nil)
}

func (b *Bot) onAdminRevokeKey(t *adminTurn) error {
	const use = "/revokekey &lt;user id|@username&gt;"
	u, err := b.userArg(t, use)
	if u == nil {
		return err
	}
	n, err := b.Shop.RevokeKey(t.ctx, u.ID, "")
	if err != nil {
		return err
	}
	t.result = fmt.Sprintf("ok: %d revoked", n)
	return t.say(fmt.Sprintf("🔑 Revoked %d API key(s) of %s. Requests with them now get 401.", n, userLabel(u)), nil)
}
