package shop_test

import "testing"

// The shop's key tests again on PostgreSQL (package pgstore), the same
// code as on bbolt: the race of 200 buyers on one balance, idempotency
// (concurrent requests with one key included) and the deposits tables.
// Like every PostgreSQL test they need the server TEST_DATABASE_URL names
// (default: CI's local one) and fail without it.

func TestPostgres_CreateOrder_Race(t *testing.T)        { testCreateOrderRace(t, newPGEnv) }
func TestPostgres_CreateOrder_Idempotency(t *testing.T) { testCreateOrderIdempotency(t, newPGEnv) }
func TestPostgres_CreditDeposit(t *testing.T)           { testCreditDeposit(t, newPGEnv) }
func TestPostgres_CreditDeposit_Dust(t *testing.T)      { testCreditDepositDust(t, newPGEnv) }
