package bot_test

import (
	"context"
	"strings"
	"testing"
	"time"
)

// Russian (issue 17 item 12): Telegram's own word for Stars with its
// plural forms, Russian number formatting (digit groups with a no-break
// space, decimal comma), ungendered buttons, "сумма поступит на баланс"
// where TON sent late is meant, and no English "Stars" in Russian text.
func TestRussian_Wording(t *testing.T) {
	e := newEnv(t)
	e.startChat(ivan)
	e.fake.Press(ivan, "Купить звёзды")
	e.fake.Press(ivan, "Другому")
	e.fake.Send(ivan, "@someone_x")
	e.fake.Wait(ivan.ID, "Сколько звёзд для @someone_x")
	e.fake.Press(ivan, "Другое количество")
	e.fake.Wait(ivan.ID, "от 50 до 1\u00a0000\u00a0000")
	e.fake.Send(ivan, "1 001")
	e.fake.Wait(ivan.ID, "⭐ 1001 звезда для @someone_x")
	e.fake.Send(ivan, "/start stars_1000000_someone_x")
	e.fake.Wait(ivan.ID, "⭐ 1\u00a0000\u00a0000 звёзд для @someone_x")
	e.fake.Send(ivan, "/start stars_52_someone_x")
	e.fake.Wait(ivan.ID, "⭐ 52 звезды для @someone_x")

	// A TON-transfer order left to expire: TON sent for it later "поступит на баланс".
	e.fake.Send(ivan, "/start stars_100_someone_x")
	e.fake.Wait(ivan.ID, "Ваш заказ")
	e.fake.Press(ivan, "Оплатить переводом TON")
	e.fake.Wait(ivan.ID, "Заказ #1: оплата")
	e.clock.Advance(16 * time.Minute)
	if _, err := e.svc.ExpireOrders(context.Background()); err != nil {
		t.Fatal(err)
	}
	n := e.fake.Wait(ivan.ID, "истёк неоплаченным. Если всё же отправите за него TON, сумма поступит на ваш баланс")
	if strings.Contains(n.Text, "будут зачислены") {
		t.Errorf("expired notice reads as if the order were credited:\n%s", n.Text)
	}

	// The one-time key message: an ungendered button.
	e.fake.Send(ivan, "/api")
	e.fake.Wait(ivan.ID, "API для партнёров")
	e.fake.Press(ivan, "Создать ключ API заказов")
	e.fake.Wait(ivan.ID, "Ваш новый API-ключ")
	if _, _, ok := e.fake.FindButton(ivan.ID, "Ключ сохранён — скрыть"); !ok {
		t.Error("no ungendered hide button")
	}

	for _, c := range e.fake.Calls() {
		if c.ChatID != ivan.ID || c.Text == "" {
			continue
		}
		if strings.Contains(c.Text, " Stars") || strings.Contains(c.Text, "Я сохранил") || strings.Contains(c.Text, "Я не понял") {
			t.Errorf("%s in Russian text:\n%s", "English or gendered wording", c.Text)
		}
		for _, row := range c.Keyboard {
			for _, b := range row {
				if strings.Contains(b.Text, "Stars") || strings.Contains(b.Text, "сохранил") {
					t.Errorf("button %q", b.Text)
				}
			}
		}
	}
}
