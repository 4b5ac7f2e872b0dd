package store

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"starsbot/shop"
)

// scaleSizes is the -store.scale flag: a comma-separated list of order
// counts. TestScale builds a database of each size and times issue 18's
// operations on it; without the flag it is skipped (it is heavy: 1,000,000
// orders take minutes and about 1.5–3 GB of disk).
var scaleSizes = flag.String("store.scale", "", "TestScale: comma-separated order counts, e.g. 10000,1000000")

// scaleUsers is how many users the orders of a scale database belong to;
// user 1, "the partner", owns a fifth of them.
const scaleUsers = 1000

// scaleNow is the clock of every scale database and of its service.
var scaleNow = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// scaleResult is what TestScale measures on one database.
type scaleResult struct {
	orders    int
	fileBytes int64
	inUse     int64 // bytes of the pages the buckets use
	ops       map[string]time.Duration
	maxHold   time.Duration // longest write transaction of the maintenance sweeps
	holds     string        // the distribution of the maintenance write transactions
	open      time.Duration // Open of the file, built and closed
	floor     time.Duration // the shortest write transaction that writes one key: the commit's own cost (fsync)
	build     time.Duration
}

var scaleOps = []string{"Service.Stats", "OrderStats (partner)", "FindOrders status=paid (partner)", "ExpireOrders sweep", "idempotency expiry sweep"}

// TestScale builds databases of -store.scale orders (1,000 users; a
// realistic mix of statuses, ledger entries, deposits, deliveries and
// idempotency records, written in large transactions) and prints, for each
// of issue 18's operations, its time at every size and the ratio of the
// largest to the smallest, the bytes on disk per order, the bytes of each
// bucket, and the longest write transaction of the maintenance sweeps.
//
//	go test ./store/ -run TestScale -store.scale=10000,1000000 -v -timeout 2h
func TestScale(t *testing.T) {
	if *scaleSizes == "" {
		t.Skip("set -store.scale=10000,1000000 to run")
	}
	var results []scaleResult
	for _, s := range strings.Split(*scaleSizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1000 {
			t.Fatalf("-store.scale: %q is not an order count ≥ 1000", s)
		}
		results = append(results, runScale(t, n))
	}
	first, last := results[0], results[len(results)-1]
	var b strings.Builder
	fmt.Fprintf(&b, "\n| what |")
	for _, r := range results {
		fmt.Fprintf(&b, " %d orders |", r.orders)
	}
	fmt.Fprintf(&b, " ratio |\n|---|")
	for range results {
		fmt.Fprintf(&b, "---|")
	}
	fmt.Fprintf(&b, "---|\n| file size |")
	for _, r := range results {
		fmt.Fprintf(&b, " %.1f MB (%d B/order; pages in use %d B/order) |", float64(r.fileBytes)/1e6, r.fileBytes/int64(r.orders), r.inUse/int64(r.orders))
	}
	fmt.Fprintf(&b, " |\n")
	for _, op := range scaleOps {
		fmt.Fprintf(&b, "| %s |", op)
		for _, r := range results {
			fmt.Fprintf(&b, " %s |", fmtDur(r.ops[op]))
		}
		fmt.Fprintf(&b, " %.1f× |\n", float64(last.ops[op])/float64(max(first.ops[op], 1)))
	}
	fmt.Fprintf(&b, "| longest maintenance write transaction |")
	for _, r := range results {
		fmt.Fprintf(&b, " %s |", fmtDur(r.maxHold))
	}
	fmt.Fprintf(&b, " |\n| maintenance write transactions |")
	for _, r := range results {
		fmt.Fprintf(&b, " %s |", r.holds)
	}
	fmt.Fprintf(&b, " |\n| a one-key write transaction (the disk's commit floor) |")
	for _, r := range results {
		fmt.Fprintf(&b, " %s |", fmtDur(r.floor))
	}
	fmt.Fprintf(&b, " |\n| Open (rebuilds the free-page list) |")
	for _, r := range results {
		fmt.Fprintf(&b, " %s |", fmtDur(r.open))
	}
	fmt.Fprintf(&b, " |\n| build |")
	for _, r := range results {
		fmt.Fprintf(&b, " %s |", r.build.Round(time.Second))
	}
	fmt.Fprintf(&b, " |\n")
	t.Log(b.String())
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.1f µs", float64(d)/1e3)
}

func runScale(t *testing.T, n int) scaleResult {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), fmt.Sprintf("scale-%d.db", n))
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res := scaleResult{orders: n, ops: map[string]time.Duration{}}
	start := time.Now()
	buildScale(t, db, n)
	if err := db.bdb.Sync(); err != nil { // the build wrote without fsync: flush it before timing commits
		t.Fatal(err)
	}
	res.build = time.Since(start)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	res.fileBytes = fi.Size()
	res.inUse = logBuckets(t, db, n)

	svc, err := shop.NewService(db, shop.StaticRate{TONUSD: 3_590_000}, shop.DefaultPricing(), "0Qaddr")
	if err != nil {
		t.Fatal(err)
	}
	svc.Now = func() time.Time { return scaleNow }
	svc.Logger = nil
	timeOp := func(name string, fn func() error) {
		// The median of at least 3 runs, and of up to 101 within 200 ms.
		var ds []time.Duration
		for begin := time.Now(); len(ds) < 3 || (len(ds) < 101 && time.Since(begin) < 200*time.Millisecond); {
			s := time.Now()
			if err := fn(); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			ds = append(ds, time.Since(s))
		}
		slices.Sort(ds)
		res.ops[name] = ds[len(ds)/2]
	}
	var stats *shop.Stats
	timeOp("Service.Stats", func() (err error) { stats, err = svc.Stats(ctx); return err })
	var ost *shop.OrderStats
	timeOp("OrderStats (partner)", func() (err error) { ost, err = svc.OrderStats(ctx, 1); return err })
	var paid []*shop.Order
	timeOp("FindOrders status=paid (partner)", func() (err error) {
		paid, _, err = svc.FindOrders(ctx, shop.OrderFilter{UserID: 1, Status: shop.StatusPaid})
		return err
	})
	t.Logf("%d orders: stats users=%d partners=%d orders=%v revenue=%d deposits all=%d/%d week=%d today=%d; partner: %d orders, %d paid listed",
		n, stats.Users, stats.Partners, stats.OrdersByStatus, stats.Revenue, stats.DepositsAll.Count, stats.DepositsAll.Amount,
		stats.Deposits7Days.Count, stats.DepositsToday.Count, ost.Total, len(paid))

	db.holdMax.Store(0)
	db.holdLog = make(chan time.Duration, 10_000)
	s := time.Now()
	deleted, err := scaleIdempotencySweep(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	res.ops["idempotency expiry sweep"] = time.Since(s)
	s = time.Now()
	expired, err := svc.ExpireOrders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res.ops["ExpireOrders sweep"] = time.Since(s)
	res.maxHold = time.Duration(db.holdMax.Load())
	var holds []time.Duration
	for len(db.holdLog) > 0 {
		holds = append(holds, <-db.holdLog)
	}
	db.holdLog = nil
	t.Logf("%d orders: maintenance write transactions in order: %v", n, holds)
	slices.Sort(holds)
	if len(holds) > 0 {
		res.holds = fmt.Sprintf("%d transactions: median %s, 90th percentile %s, longest %s", len(holds),
			fmtDur(holds[len(holds)/2]), fmtDur(holds[len(holds)*9/10]), fmtDur(holds[len(holds)-1]))
	}
	res.floor = time.Hour
	for i := range 5 {
		db.holdMax.Store(0)
		err := db.Update(ctx, func(tx shop.Tx) error { return tx.PutSetting("scale_floor", []byte{byte(i)}) })
		if err != nil {
			t.Fatal(err)
		}
		res.floor = min(res.floor, time.Duration(db.holdMax.Load()))
	}
	t.Logf("%d orders: ExpireOrders expired %d, idempotency sweep deleted %d; longest write transaction %s", n, expired, deleted, res.maxHold)
	if n <= 100_000 {
		if err := db.Check(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s = time.Now()
	reopened, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	res.open = time.Since(s)
	if err := reopened.Close(); err != nil {
		t.Fatal(err)
	}
	return res
}

// scaleIdempotencySweep deletes the expired idempotency records as the
// maintenance loop does (ExpireOrders calls it after the orders; on main,
// ExpireOrders deleted them in its one transaction, and its time includes
// them).
func scaleIdempotencySweep(ctx context.Context, svc *shop.Service) (int, error) {
	return svc.PurgeIdempotency(ctx, scaleNow)
}

// logBuckets logs the bytes each bucket takes (its pages) and per order.
func logBuckets(t *testing.T, db *DB, n int) int64 {
	type row struct {
		name  string
		bytes int
		keys  int
		fill  float64
	}
	var rows []row
	total := 0
	_ = db.bdb.View(func(btx *bolt.Tx) error {
		return btx.ForEach(func(name []byte, b *bolt.Bucket) error {
			st := b.Stats()
			bytes := (st.BranchPageN+st.BranchOverflowN+st.LeafPageN+st.LeafOverflowN)*db.bdb.Info().PageSize + st.InlineBucketInuse
			inuse := st.BranchInuse + st.LeafInuse
			fill := 0.0
			if bytes > 0 {
				fill = float64(inuse) / float64(bytes)
			}
			rows = append(rows, row{string(name), bytes, st.KeyN, fill})
			total += bytes
			return nil
		})
	})
	sort.Slice(rows, func(i, j int) bool { return rows[i].bytes > rows[j].bytes })
	var b strings.Builder
	fmt.Fprintf(&b, "%d orders: buckets %.1f MB, %d B/order\n", n, float64(total)/1e6, total/n)
	for _, r := range rows {
		if r.bytes < 4096*4 {
			continue
		}
		fmt.Fprintf(&b, "  %-16s %8.1f MB %6d B/order %9d keys %3.0f%% full\n", r.name, float64(r.bytes)/1e6, r.bytes/n, r.keys, 100*r.fill)
	}
	t.Log(b.String())
	return int64(total)
}

// buildScale writes n orders of scaleUsers users, with their ledger
// entries, deposits, deliveries and idempotency records, through the store's
// own methods (so every index is kept) in transactions of 20,000 orders,
// without fsync.
//
// The mix: the newest 200 orders await payment (the 50 oldest of them are
// past their TTL), 30 are paid and 10 processing (in flight); the rest are
// 88 % completed, 6 % expired, 2 % cancelled, 3 % refunded, 1 % manual.
// 30 % are paid by a TON transfer with the order's memo (a deposit), the
// rest from the balance (a ledger entry); 1 % of deposits are unmatched
// and 1 % dust. Delivered orders keep a Fragment-like delivery record;
// Every order carries an idempotency record (the issue's "1M orders and
// 1M idempotency records"), of which the 1,000 oldest are expired.
// Orders span a year, the newest at scaleNow.
func buildScale(t *testing.T, db *DB, n int) {
	rng := rand.New(rand.NewPCG(uint64(n), 18))
	db.bdb.NoSync = true
	defer func() { db.bdb.NoSync = false }()
	balances := make([]int64, scaleUsers+1)
	span := 365 * 24 * time.Hour
	step := span / time.Duration(n)
	idemDue := 1000
	boc := make([]byte, 420)
	payload := make([]byte, 96)
	for i := range boc {
		boc[i] = byte(rng.IntN(256))
	}
	for i := range payload {
		payload[i] = byte(rng.IntN(256))
	}
	err := db.bdb.Update(func(btx *bolt.Tx) error {
		tx := &tx{btx: btx}
		for id := int64(1); id <= scaleUsers; id++ {
			u := &shop.User{ID: id, Username: fmt.Sprintf("user%d", id), Language: "en", Memo: fmt.Sprintf("u%07d", id), CreatedAt: scaleNow.Add(-span - time.Hour)}
			credit := int64(1_000_000_000) * int64(shop.TON)
			e := &shop.LedgerEntry{UserID: id, Type: shop.LedgerAdminCredit, Amount: shop.NanoTON(credit), BalanceAfter: shop.NanoTON(credit), AdminID: 7, Reason: "scale", CreatedAt: u.CreatedAt}
			if err := tx.AppendLedger(e); err != nil {
				return err
			}
			balances[id] = credit
			u.Balance = shop.NanoTON(credit)
			if err := tx.PutUser(u); err != nil {
				return err
			}
			if id <= 300 {
				k := &shop.APIKey{Hash: fmt.Sprintf("%064x", id), Prefix: "osk_", Hint: "abcd", UserID: id, CreatedAt: u.CreatedAt}
				if err := tx.PutAPIKey(k); err != nil {
					return err
				}
			}
		}
		return tx.PutAPIKey(&shop.APIKey{Hash: fmt.Sprintf("%064x", 999_999), Prefix: "osk_", UserID: 1, CreatedAt: scaleNow.Add(-span), RevokedAt: scaleNow.Add(-span / 2)})
	})
	if err != nil {
		t.Fatal(err)
	}
	const chunk = 20_000
	for lo := 1; lo <= n; lo += chunk {
		hi := min(lo+chunk-1, n)
		err := db.bdb.Update(func(btx *bolt.Tx) error {
			tx := &tx{btx: btx}
			for i := lo; i <= hi; i++ {
				if err := scaleOrder(tx, rng, i, n, step, idemDue, balances, boc, payload); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if hi%200_000 == 0 {
			t.Logf("built %d of %d orders", hi, n)
		}
	}
	err = db.bdb.Update(func(btx *bolt.Tx) error {
		tx := &tx{btx: btx}
		for id := int64(1); id <= scaleUsers; id++ {
			u, err := tx.FindUserByID(id)
			if err != nil {
				return err
			}
			u.Balance = shop.NanoTON(balances[id])
			if err := tx.PutUser(u); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func scaleOrder(tx *tx, rng *rand.Rand, i, n int, step time.Duration, idemDue int, balances []int64, boc, payload []byte) error {
	id, err := tx.NextOrderID()
	if err != nil {
		return err
	}
	user := int64(1)
	if rng.IntN(5) != 0 {
		user = 2 + rng.Int64N(scaleUsers-1)
	}
	created := scaleNow.Add(-time.Duration(n-i) * step)
	fromEnd := n - i
	var status shop.OrderStatus
	switch r := rng.IntN(100); {
	case fromEnd < 200:
		status = shop.StatusPendingPayment
	case fromEnd < 230:
		status = shop.StatusPaid
	case fromEnd < 240:
		status = shop.StatusProcessing
	case r < 88:
		status = shop.StatusCompleted
	case r < 94:
		status = shop.StatusExpired
	case r < 96:
		status = shop.StatusCancelled
	case r < 99:
		status = shop.StatusRefunded
	default:
		status = shop.StatusManual
	}
	o := &shop.Order{
		ID: id, UserID: user, Status: status, Type: shop.OrderStars, Stars: 50 + rng.Int64N(5000),
		Recipient: fmt.Sprintf("@recipient%d", rng.IntN(100_000)),
		TONUSD:    3_590_000, Source: shop.SourceAPI, CreatedAt: created,
	}
	if rng.IntN(10) == 0 {
		o.Type, o.Stars, o.Months = shop.OrderPremium, 0, []int{3, 6, 12}[rng.IntN(3)]
	}
	o.PriceUSD = shop.MicroUSD(max(o.Stars, 1) * 15_000)
	o.PriceTON = shop.NanoTON(int64(o.PriceUSD) * 1000 / 3_590_000 * 1000)
	o.FeeTON = o.PriceTON / 20
	if rng.IntN(2) == 0 {
		o.ClientReference = fmt.Sprintf("ref-%d-%d", user, i)
	}
	ton := rng.IntN(10) < 3 || status == shop.StatusPendingPayment || status == shop.StatusExpired || status == shop.StatusCancelled
	if ton {
		o.PaymentMethod = shop.PayTONMemo
		o.PaymentAddress = "UQBvW8Z5huBkMJYdnfAEM5JqTNkuWX3diqYENkWsIL0XggGG"
		o.PaymentMemo = fmt.Sprintf("o%09d", id)
		o.ExpiresAt = created.Add(time.Hour)
		if status == shop.StatusPendingPayment {
			o.ExpiresAt = scaleNow.Add(time.Duration(149-fromEnd) * time.Minute) // the 50 oldest are due
		}
	} else {
		o.PaymentMethod = shop.PayBalance
	}
	paid := status != shop.StatusPendingPayment && status != shop.StatusExpired && status != shop.StatusCancelled
	if paid {
		o.PaidAt = created.Add(time.Minute)
		if ton {
			d := &shop.Deposit{TxHash: fmt.Sprintf("%064x", 1<<40+i), LT: uint64(i) * 1000, From: "UQCD39VS5jcptHL8vMjEXrzGaRcCVYto7HUn4bpAOg8xqEBI",
				Amount: o.PriceTON, Memo: o.PaymentMemo, Status: shop.DepositOrderPaid, UserID: user, OrderID: id, ChainTime: o.PaidAt, CreatedAt: o.PaidAt}
			if err := tx.PutDeposit(d); err != nil {
				return err
			}
		} else {
			balances[user] -= int64(o.PriceTON)
			e := &shop.LedgerEntry{UserID: user, Type: shop.LedgerOrder, Amount: -o.PriceTON, BalanceAfter: shop.NanoTON(balances[user]), OrderID: id, CreatedAt: created}
			if err := tx.AppendLedger(e); err != nil {
				return err
			}
		}
	}
	switch status {
	case shop.StatusCompleted, shop.StatusRefunded, shop.StatusManual, shop.StatusProcessing:
		d := &shop.Delivery{OrderID: id, Provider: "fragment", Step: "confirmed", RequestID: fmt.Sprintf("%032x", rng.Uint64()),
			PayTo: "UQBAjaOyi2wGWlk-EDkSabqqnF-MrrwMadnwqrurKpkla9nE", PayAmount: o.PriceTON * 98 / 100, Payload: payload,
			ConfirmMethod: "confirmReq", ConfirmParams: map[string]string{"id": fmt.Sprintf("%032x", rng.Uint64())},
			UpdatedAt: created.Add(2 * time.Minute)}
		if status != shop.StatusProcessing {
			d.Payout = &shop.SignedPayout{Hash: fmt.Sprintf("%064x", 2<<40+i), BOC: boc, Wallet: "UQDy7ZwBQbGa3wqCWU8ihyYxyaCjRyr3WHdsx6KVfx1WRgP0",
				Seqno: uint32(i), ValidUntil: created.Add(3 * time.Minute), SignedAt: created.Add(time.Minute), To: d.PayTo, Amount: d.PayAmount,
				BodyHash: fmt.Sprintf("%064x", 3<<40+i)}
			d.Paid = &shop.PayoutResult{State: shop.PayoutConfirmed, TxHash: fmt.Sprintf("%064x", 4<<40+i), TxLT: uint64(i) * 1000}
			d.Confirmed, d.Ref = true, d.Paid.TxHash
		}
		if err := tx.PutDelivery(d); err != nil {
			return err
		}
	}
	switch status {
	case shop.StatusCompleted:
		o.CompletedAt, o.FulfillmentRef = created.Add(3*time.Minute), fmt.Sprintf("%064x", 4<<40+i)
	case shop.StatusRefunded:
		o.FailureReason = "recipient not found"
		balances[user] += int64(o.PriceTON) // the price returns to the balance, however it was paid
		e := &shop.LedgerEntry{UserID: user, Type: shop.LedgerRefund, Amount: o.PriceTON, BalanceAfter: shop.NanoTON(balances[user]), OrderID: id, AdminID: shop.SystemActor, Reason: o.FailureReason, CreatedAt: created.Add(5 * time.Minute)}
		if err := tx.AppendLedger(e); err != nil {
			return err
		}
	case shop.StatusManual:
		o.FailureReason = "provider unavailable"
	}
	if err := tx.PutOrder(o); err != nil {
		return err
	}
	if status == shop.StatusPaid || status == shop.StatusProcessing {
		if err := tx.Enqueue(id); err != nil {
			return err
		}
	}
	if rng.IntN(100) == 0 { // an unmatched deposit or dust
		d := &shop.Deposit{TxHash: fmt.Sprintf("%064x", 5<<40+i), LT: uint64(i)*1000 + 1, From: "UQCD39VS5jcptHL8vMjEXrzGaRcCVYto7HUn4bpAOg8xqEBI",
			Amount: shop.TON, Memo: "hello", Status: shop.DepositUnmatched, Reason: "no such memo", ChainTime: created, CreatedAt: created}
		if rng.IntN(2) == 0 {
			d.Amount, d.Status, d.Reason = 1000, shop.DepositIgnored, "dust"
		}
		if err := tx.PutDeposit(d); err != nil {
			return err
		}
	}
	{
		exp := scaleNow.Add(24 * time.Hour / time.Duration(n) * time.Duration(i)) // within the next 24 h
		if i <= idemDue {
			exp = scaleNow.Add(-time.Minute)
		}
		r := &shop.Idempotency{UserID: user, Key: fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", rng.Uint32(), i&0xffff, i&0xfff, id&0xfff, rng.Uint64()&0xffffffffffff),
			Fingerprint: fmt.Sprintf("%064x", 6<<40+i), OrderID: id, ExpiresAt: exp}
		if err := tx.PutIdempotency(r); err != nil {
			return err
		}
	}
	return nil
}
