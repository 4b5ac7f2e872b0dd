package bot

import (
	"context"
	"testing"
)

// WebhookInfoNow asks getWebhookInfo at once, as the periodic check does,
// so that tests need not wait for WebhookInfoInterval.
func (b *Bot) WebhookInfoNow(ctx context.Context) { b.webhookInfo(ctx) }

// The recent update ids are a bounded set: a repeat is caught, the oldest
// id is forgotten once recentUpdateIDs newer ones came, and a removed id
// is new again.
func TestRecentIDs(t *testing.T) {
	var r recentIDs
	if !r.add(1) || r.add(1) {
		t.Fatal("a repeat of 1 was not caught")
	}
	r.remove(1)
	if !r.add(1) {
		t.Fatal("1 is not new after remove")
	}
	for id := 2; id <= recentUpdateIDs+1; id++ {
		if !r.add(id) {
			t.Fatalf("%d is not new", id)
		}
	}
	if len(r.slot) != recentUpdateIDs {
		t.Errorf("holds %d ids, want %d", len(r.slot), recentUpdateIDs)
	}
	if r.add(recentUpdateIDs + 1) {
		t.Error("the newest id was forgotten")
	}
	if !r.add(1) {
		t.Error("the oldest id was not forgotten")
	}
}
