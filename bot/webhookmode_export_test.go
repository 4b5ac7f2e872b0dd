package bot

import "context"

// WebhookInfoNow asks getWebhookInfo at once, as the periodic check does,
// so that tests need not wait for WebhookInfoInterval.
func (b *Bot) WebhookInfoNow(ctx context.Context) { b.webhookInfo(ctx) }
