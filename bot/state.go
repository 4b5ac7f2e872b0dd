package bot

import (
	"context"
	"encoding/json"
	"time"
)

// StateStore persists the multi-step flow state of each chat (waiting for a
// username, waiting for a custom amount), so a flow survives a restart.
// The bot stores small opaque JSON blobs; expiry is the bot's business.
// Under a private chat's negated id it keeps that chat's payment screens
// (payscreen.go); groups never get a state, so the keys cannot meet.
type StateStore interface {
	// LoadChatState returns the saved state of a chat, or nil, nil if none.
	LoadChatState(ctx context.Context, chatID int64) ([]byte, error)
	// SaveChatState saves the state of a chat; nil data deletes it.
	SaveChatState(ctx context.Context, chatID int64, data []byte) error
	// TakeChatState deletes the state of a chat only if it still equals
	// want, in one transaction, and reports whether it did: of two
	// replicas handling one repeated update, exactly one takes it.
	TakeChatState(ctx context.Context, chatID int64, want []byte) (bool, error)
}

// Flow steps that wait for text input.
const (
	stepRecipient = "recipient" // waiting for a username
	stepAmount    = "amount"    // waiting for a custom number of stars
)

// chatState is what a chat's flow is waiting for.
type chatState struct {
	Step      string    `json:"step"`
	Kind      string    `json:"kind"`                // kindStars or kindPremium
	Recipient string    `json:"recipient,omitempty"` // chosen recipient, for stepAmount
	Amount    int64     `json:"amount,omitempty"`    // Stars or months a deep link chose, for stepRecipient
	Op        *adminOp  `json:"op,omitempty"`        // the credit or debit waiting for confirmation, for stepAdminOp
	Updated   time.Time `json:"updated"`
}

// loadState returns the chat's live state, or nil when there is none or it
// is older than StateTTL (an expired state is deleted).
func (b *Bot) loadState(ctx context.Context, chat int64) (*chatState, error) {
	st, _, err := b.loadStateRaw(ctx, chat)
	return st, err
}

// loadStateRaw is loadState that also returns the stored bytes, for
// TakeChatState.
func (b *Bot) loadStateRaw(ctx context.Context, chat int64) (*chatState, []byte, error) {
	raw, err := b.State.LoadChatState(ctx, chat)
	if err != nil || raw == nil {
		return nil, nil, err
	}
	var st chatState
	if err := json.Unmarshal(raw, &st); err != nil || st.Step == "" || b.Now().Sub(st.Updated) > b.StateTTL {
		return nil, nil, b.State.SaveChatState(ctx, chat, nil)
	}
	return &st, raw, nil
}

// saveState stores st for chat, stamped now.
func (b *Bot) saveState(ctx context.Context, chat int64, st chatState) error {
	st.Updated = b.Now().UTC()
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return b.State.SaveChatState(ctx, chat, raw)
}

// clearState forgets the chat's flow, if any.
func (b *Bot) clearState(ctx context.Context, chat int64) error {
	raw, err := b.State.LoadChatState(ctx, chat)
	if err != nil || raw == nil {
		return err
	}
	return b.State.SaveChatState(ctx, chat, nil)
}
