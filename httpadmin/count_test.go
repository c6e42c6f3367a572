package httpadmin_test

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/serviceplan"
)

// countingStore counts what the console asks of a store, and times it:
// each View and Update, and each read a Reader or Tx serves (LockPartner
// too), by method name. The benchmarks report these per request, and
// TestStoreCalls keeps them from growing unnoticed.
type countingStore struct {
	partner.Store
	mu    sync.Mutex
	calls callCounts
	time  map[string]time.Duration
}

func newCountingStore(s partner.Store) *countingStore {
	return &countingStore{Store: s, calls: callCounts{}, time: map[string]time.Duration{}}
}

// add counts a call of the method name and returns the function that
// adds its time, to be deferred.
func (s *countingStore) add(name string) (done func()) {
	s.mu.Lock()
	s.calls[name]++
	s.mu.Unlock()
	start := time.Now()
	return func() {
		d := time.Since(start)
		s.mu.Lock()
		s.time[name] += d
		s.mu.Unlock()
	}
}

// take returns the counts and times since the last take and starts again
// from zero.
func (s *countingStore) take() (callCounts, map[string]time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	calls, times := s.calls, s.time
	s.calls, s.time = callCounts{}, map[string]time.Duration{}
	return calls, times
}

// readTime is the time spent in reads: every timed call but View and
// Update, which hold the reads they run.
func readTime(times map[string]time.Duration) time.Duration {
	var d time.Duration
	for k, v := range times {
		if k != "View" && k != "Update" {
			d += v
		}
	}
	return d
}

func (s *countingStore) View(ctx context.Context, fn func(context.Context, partner.Reader) error) error {
	defer s.add("View")()
	return s.Store.View(ctx, func(ctx context.Context, r partner.Reader) error { return fn(ctx, countReader{r, s, r}) })
}

func (s *countingStore) Update(ctx context.Context, fn func(context.Context, partner.Tx) error) error {
	defer s.add("Update")()
	return s.Store.Update(ctx, func(ctx context.Context, tx partner.Tx) error {
		return fn(ctx, countTx{countReader{tx, s, tx}, txWrites{txInner{tx}}})
	})
}

// callCounts is the number of calls of each store method.
type callCounts map[string]int

// reads is the number of statements-worth of reads: every counted call
// but View and Update, which open the transaction they run in.
func (c callCounts) reads() int {
	n := 0
	for k, v := range c {
		if k != "View" && k != "Update" {
			n += v
		}
	}
	return n
}

// String lists the counts by name: "Licenses=2 Partner=3 View=3".
func (c callCounts) String() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(c)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, c[k]))
	}
	return strings.Join(parts, " ")
}

// per lists the counts and times of n requests per request, by name:
// "Licenses=1 (0.21 ms) Partner=3 (0.40 ms) View=3 (0.70 ms)".
func (c callCounts) per(times map[string]time.Duration, n int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(c)) {
		parts = append(parts, fmt.Sprintf("%s=%.3g (%.3g ms)", k, float64(c[k])/float64(n),
			float64(times[k].Microseconds())/1000/float64(n)))
	}
	return strings.Join(parts, " ")
}

// countReader counts every read of the Reader it wraps. It embeds the
// Reader so that the wrapper keeps compiling when the contract grows;
// TestCountReaderCountsEveryRead fails until each new read is counted here.
type countReader struct {
	r partner.Reader
	s *countingStore
	partner.Reader
}

func (c countReader) Partner(ctx context.Context, id int64) (partner.Partner, error) {
	defer c.s.add("Partner")()
	return c.r.Partner(ctx, id)
}

func (c countReader) PartnerRecord(ctx context.Context, id int64) (partner.Partner, error) {
	defer c.s.add("PartnerRecord")()
	return c.r.PartnerRecord(ctx, id)
}

func (c countReader) Pools(ctx context.Context, partnerID int64, now time.Time) ([]partner.Pool, error) {
	defer c.s.add("Pools")()
	return c.r.Pools(ctx, partnerID, now)
}

func (c countReader) Partners(ctx context.Context, f partner.Filter, at partner.AsOf) ([]partner.Partner, int, error) {
	defer c.s.add("Partners")()
	return c.r.Partners(ctx, f, at)
}

func (c countReader) PartnersAfter(ctx context.Context, f partner.Filter, at partner.AsOf, after *partner.Partner, limit int) ([]partner.Partner, error) {
	defer c.s.add("PartnersAfter")()
	return c.r.PartnersAfter(ctx, f, at, after, limit)
}

func (c countReader) AuditLog(ctx context.Context, f partner.AuditFilter) ([]partner.AuditEntry, int, error) {
	defer c.s.add("AuditLog")()
	return c.r.AuditLog(ctx, f)
}

func (c countReader) AuditBefore(ctx context.Context, f partner.AuditFilter, beforeID int64, limit int) ([]partner.AuditEntry, error) {
	defer c.s.add("AuditBefore")()
	return c.r.AuditBefore(ctx, f, beforeID, limit)
}

func (c countReader) BulkRun(ctx context.Context, key string) (partner.BulkRun, error) {
	defer c.s.add("BulkRun")()
	return c.r.BulkRun(ctx, key)
}

func (c countReader) BulkItem(ctx context.Context, key string, partnerID int64) (partner.BulkItem, error) {
	defer c.s.add("BulkItem")()
	return c.r.BulkItem(ctx, key, partnerID)
}

func (c countReader) BulkItems(ctx context.Context, key string, f partner.BulkItemFilter) ([]partner.BulkItem, int, error) {
	defer c.s.add("BulkItems")()
	return c.r.BulkItems(ctx, key, f)
}

func (c countReader) PendingBulkItems(ctx context.Context, key string, afterPartnerID int64, limit int) ([]int64, error) {
	defer c.s.add("PendingBulkItems")()
	return c.r.PendingBulkItems(ctx, key, afterPartnerID, limit)
}

func (c countReader) License(ctx context.Context, id int64) (license.License, error) {
	defer c.s.add("License")()
	return c.r.License(ctx, id)
}

func (c countReader) Licenses(ctx context.Context, partnerID int64, p partner.Page) ([]license.License, int, error) {
	name := "Licenses"
	if p.Limit == 0 && p.Offset == 0 {
		name = "Licenses(all)"
	}
	defer c.s.add(name)()
	return c.r.Licenses(ctx, partnerID, p)
}

func (c countReader) LicensesByGrantKey(ctx context.Context, partnerID int64, key string) ([]license.License, error) {
	defer c.s.add("LicensesByGrantKey")()
	return c.r.LicensesByGrantKey(ctx, partnerID, key)
}

func (c countReader) Account(ctx context.Context, id int64) (account.Account, error) {
	defer c.s.add("Account")()
	return c.r.Account(ctx, id)
}

func (c countReader) AccountByName(ctx context.Context, name string) (account.Account, error) {
	defer c.s.add("AccountByName")()
	return c.r.AccountByName(ctx, name)
}

func (c countReader) Accounts(ctx context.Context, partnerID int64, p partner.Page) ([]account.Account, int, error) {
	name := "Accounts"
	if p.Limit == 0 && p.Offset == 0 {
		name = "Accounts(all)"
	}
	defer c.s.add(name)()
	return c.r.Accounts(ctx, partnerID, p)
}

func (c countReader) Plan(ctx context.Context, id int64) (serviceplan.Plan, error) {
	defer c.s.add("Plan")()
	return c.r.Plan(ctx, id)
}

func (c countReader) Plans(ctx context.Context) ([]serviceplan.Plan, error) {
	defer c.s.add("Plans(all)")()
	return c.r.Plans(ctx)
}

func (c countReader) AssignedPlans(ctx context.Context, partnerID int64) ([]partner.AssignedPlan, error) {
	defer c.s.add("AssignedPlans(all)")()
	return c.r.AssignedPlans(ctx, partnerID)
}

func (c countReader) Customer(ctx context.Context, id int64) (partner.Customer, error) {
	defer c.s.add("Customer")()
	return c.r.Customer(ctx, id)
}

func (c countReader) Customers(ctx context.Context, partnerID int64, f partner.CustomerFilter) ([]partner.Customer, int, error) {
	defer c.s.add("Customers")()
	return c.r.Customers(ctx, partnerID, f)
}

func (c countReader) Product(ctx context.Context, id int64) (license.Product, error) {
	defer c.s.add("Product")()
	return c.r.Product(ctx, id)
}

func (c countReader) ProductByName(ctx context.Context, name string) (license.Product, error) {
	defer c.s.add("ProductByName")()
	return c.r.ProductByName(ctx, name)
}

func (c countReader) Products(ctx context.Context, p partner.Page) ([]license.Product, int, error) {
	defer c.s.add("Products")()
	return c.r.Products(ctx, p)
}

func (c countReader) PoolSettings(ctx context.Context, partnerID int64) ([]partner.PoolSettings, error) {
	defer c.s.add("PoolSettings(all)")()
	return c.r.PoolSettings(ctx, partnerID)
}

func (c countReader) DueLicenses(ctx context.Context, until time.Time, afterID int64, limit int) ([]license.License, error) {
	defer c.s.add("DueLicenses")()
	return c.r.DueLicenses(ctx, until, afterID, limit)
}

func (c countReader) Outbox(ctx context.Context, f partner.OutboxFilter) ([]partner.OutboxMessage, int, error) {
	defer c.s.add("Outbox")()
	return c.r.Outbox(ctx, f)
}

func (c countReader) Notices(ctx context.Context, licenseID int64) ([]partner.Notice, error) {
	defer c.s.add("Notices")()
	return c.r.Notices(ctx, licenseID)
}

func (c countReader) Allocation(ctx context.Context, id int64) (license.Allocation, error) {
	defer c.s.add("Allocation")()
	return c.r.Allocation(ctx, id)
}

func (c countReader) Allocations(ctx context.Context, f partner.AllocationFilter) ([]license.Allocation, error) {
	defer c.s.add("Allocations(all)")()
	return c.r.Allocations(ctx, f)
}

func (c countReader) Audit(ctx context.Context, partnerID int64, p partner.Page) ([]partner.AuditEntry, int, error) {
	defer c.s.add("Audit")()
	return c.r.Audit(ctx, partnerID, p)
}

// txWrites holds a Tx two levels deeper than countReader's methods in
// countTx (deeper than the Reader countReader embeds, too), so that
// countReader's reads win and the writes are promoted as they are.
type txWrites struct{ txInner }

type txInner struct{ partner.Tx }

// countTx is a Tx whose reads, and LockPartner, are counted.
type countTx struct {
	countReader
	txWrites
}

func (c countTx) LockPartner(ctx context.Context, id int64) (partner.Partner, error) {
	defer c.s.add("LockPartner")()
	return c.txWrites.Tx.LockPartner(ctx, id)
}

var (
	_ partner.Store = (*countingStore)(nil)
	_ partner.Tx    = countTx{}
)

// TestCountReaderCountsEveryRead keeps the counting wrapper complete: each
// read of the store contract must have a method of countReader's own,
// which counts it, rather than the embedded Reader's, which would not.
func TestCountReaderCountsEveryRead(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "count_test.go", nil, 0)
	require.NoError(t, err)
	own := map[string]bool{}
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv != nil {
			if id, ok := fd.Recv.List[0].Type.(*ast.Ident); ok && id.Name == "countReader" {
				own[fd.Name.Name] = true
			}
		}
	}
	rt := reflect.TypeFor[partner.Reader]()
	var missing []string
	for i := range rt.NumMethod() {
		if name := rt.Method(i).Name; !own[name] {
			missing = append(missing, name)
		}
	}
	require.Empty(t, missing, "reads the counting store does not count: add them to countReader")
}
