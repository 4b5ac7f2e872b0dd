package shop

import (
	"context"
	"math/big"
	"strconv"
	"strings"
)

// Referrals: a user brings others with a personal /start link; when a
// user they brought completes a purchase, a share of its price
// (ReferralPPM, REFERRAL_PERCENT) is credited to the referrer's balance
// with a ledger entry of its own type, in the transaction that completes
// the order.

// LedgerReferral is the ledger type of a referral reward.
const LedgerReferral LedgerType = "referral"

// EventReferralCredited is emitted after a referral reward reached the
// referrer's balance: UserID is the referrer, OrderID the referred user's
// order, Amount the reward, Balance the referrer's balance after it.
const EventReferralCredited EventType = "referral_credited"

// MaxReferralPPM is the highest referral share: 50 %.
const MaxReferralPPM = 500_000

// referralPrefix starts the /start payload of a referral link.
const referralPrefix = "ref_"

// ReferralPayload is the /start payload of userID's personal referral link:
// "ref_" and the id in base 36 (a Telegram user id is no secret: any bot
// the referrer writes to sees it).
func ReferralPayload(userID int64) string {
	return referralPrefix + strconv.FormatInt(userID, 36)
}

// ParseReferralPayload returns the referrer's id of a /start payload made
// by ReferralPayload; ok is false for any other payload.
func ParseReferralPayload(payload string) (userID int64, ok bool) {
	code, found := strings.CutPrefix(payload, referralPrefix)
	if !found || code == "" || len(code) > 13 || strings.ToLower(code) != code {
		return 0, false
	}
	id, err := strconv.ParseInt(code, 36, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 36) != code {
		return 0, false
	}
	return id, true
}

// ReferralReward is ppm parts per million of price, rounded down to the
// nanoTON (in the shop's favour).
func ReferralReward(price NanoTON, ppm int64) NanoTON {
	if price <= 0 || ppm <= 0 {
		return 0
	}
	v := new(big.Int).Mul(big.NewInt(int64(price)), big.NewInt(ppm))
	v.Quo(v, bigPPM)
	return NanoTON(v.Int64()) // ≤ price: fits
}

// attachReferrer records, on a user being created, the referrer its first
// /start payload names, and counts the user on the referrer's record, in
// the same transaction. Only an existing user other than the new one can
// refer; a payload naming nobody is ignored. Set once: a user is created
// once, and ReferredBy never changes afterwards (first referrer wins).
func attachReferrer(tx Tx, user *User) error {
	id, ok := ParseReferralPayload(user.StartPayload)
	if !ok || id == user.ID || user.ReferredBy != 0 {
		return nil
	}
	ref, err := tx.FindUserByID(id)
	if ErrorCode(err) == ENOTFOUND {
		return nil
	} else if err != nil {
		return err
	}
	user.ReferredBy = ref.ID
	ref.Referrals++
	return tx.PutUser(ref)
}

// creditReferrer pays the referral reward of a completed order to the
// buyer's referrer, if the buyer has one and the share is on, with a
// referral ledger entry (post) in the completing transaction. It returns
// the event to emit after commit, or nil.
func (s *Service) creditReferrer(tx Tx, order *Order) (*Event, error) {
	if s.ReferralShare() <= 0 {
		return nil, nil
	}
	buyer, err := findUser(tx, order.UserID)
	if err != nil {
		return nil, err
	}
	if buyer.ReferredBy == 0 || buyer.ReferredBy == buyer.ID {
		return nil, nil
	}
	reward := ReferralReward(order.PriceTON, s.ReferralShare())
	if reward == 0 {
		return nil, nil
	}
	ref, err := tx.FindUserByID(buyer.ReferredBy)
	if ErrorCode(err) == ENOTFOUND {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	ref.ReferralEarned += reward
	balance, err := s.post(tx, ref, &LedgerEntry{Type: LedgerReferral, Amount: reward, OrderID: order.ID, AdminID: SystemActor})
	if err != nil {
		return nil, err
	}
	if err := s.recordBalance(tx, PartnerBalanceCredited, ref.ID, BalanceChange{Amount: reward, Balance: balance, OrderID: order.ID, Reason: CreditReferral}); err != nil {
		return nil, err
	}
	return &Event{Type: EventReferralCredited, UserID: ref.ID, OrderID: order.ID, Amount: reward, Balance: balance}, nil
}

// ReferralStats is what the Referrals screen shows.
type ReferralStats struct {
	Payload  string  // the /start payload of the user's personal link
	Percent  string  // the share in percent ("5", "2.5"); "0" when off
	People   int64   // users who came by the link
	Earned   NanoTON // rewards credited so far
	Enabled  bool    // ReferralPPM > 0
	Referrer int64   // who brought this user; 0 if nobody
}

// Referrals returns a user's referral link payload, the number of people
// they brought and what they earned: counters kept on the user's record,
// so a view reads one record.
//
// Errors: NOT_FOUND.
func (s *Service) Referrals(ctx context.Context, userID int64) (*ReferralStats, error) {
	u, err := s.FindUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	return &ReferralStats{
		Payload:  ReferralPayload(u.ID),
		Percent:  FormatFeePercent(s.ReferralShare()),
		People:   u.Referrals,
		Earned:   u.ReferralEarned,
		Enabled:  s.ReferralShare() > 0,
		Referrer: u.ReferredBy,
	}, nil
}

// ReferralShare is the referral share in parts per million (ReferralPPM,
// capped at MaxReferralPPM); 0 when referral rewards are off.
func (s *Service) ReferralShare() int64 { return min(max(s.ReferralPPM, 0), MaxReferralPPM) }
