// Package storetest is the conformance suite of partner.Store. Every store
// runs it, the in-memory one included:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) partner.Store { return memstore.New() })
//	}
//
// newStore must return an empty store each time it is called. The
// subtests are named by area (Partners/..., Licenses/..., Products/...,
// Pools/..., Notices/..., Customers/..., Audit/..., Bulk/..., Outbox/..., Tx/...,
// Concurrency/...) so a failing backend reads clearly.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/serviceplan"
)

// NewStore makes an empty store for one subtest.
type NewStore func(t *testing.T) partner.Store

// Run runs every conformance test against stores made by newStore.
func Run(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s partner.Store)
	}{
		{"Partners/CreateAndGet", testPartnerCreateGet},
		{"Partners/NotFound", testNotFound},
		{"Partners/StaleVersion", testPartnerStaleVersion},
		{"Partners/ListFilterAndPaging", testPartnerList},
		{"Partners/SearchFoldsCase", testSearchFoldsCase},
		{"Partners/DerivedCounts", testDerivedCounts},
		{"Partners/SortOrdersAndKeysetWalk", testPartnerSort},
		{"Partners/LicenceFiguresAndAttention", testPartnerFigures},
		{"Licenses/CreateListAndGrantKey", testLicenses},
		{"Licenses/AdjustUsedBounds", testAdjustUsed},
		{"Licenses/UpdateVersionAndFloor", testUpdateLicense},
		{"Licenses/EndLicenses", testEndLicenses},
		{"Licenses/KindOriginAndProduct", testLicenseKindOrigin},
		{"Products/UniqueFoldedNames", testProductsUnique},
		{"Products/OrderAndPaging", testProductsOrder},
		{"Products/RenameCarriesToLicencesAndPools", testProductRename},
		{"Pools/PutReplaceAndList", testPoolSettings},
		{"Notices/RecordOnce", testRecordNotice},
		{"Notices/DueLicenses", testDueLicenses},
		{"Customers/SearchFoldsCaseAndPages", testCustomerSearch},
		{"Accounts/UniqueNameAcrossPartners", testAccountsUnique},
		{"Accounts/UpdateDeleteDisable", testAccountsUpdate},
		{"Plans/UniqueNameAndNFR", testPlansUnique},
		{"Plans/AssignAndUnassign", testPlanAssign},
		{"Customers/AllocationsAndFilters", testCustomersAllocations},
		{"Audit/NewestFirstWithPaging", testAudit},
		{"Audit/ChangesRoundTrip", testAuditChanges},
		{"Audit/LogAcrossPartnersFiltered", testAuditLog},
		{"Audit/KeysetPagesForExports", testAuditBefore},
		{"Tx/RollbackOnError", testRollbackOnError},
		{"Tx/RollbackOnPanic", testRollbackOnPanic},
		{"Tx/ReadYourWrites", testReadYourWrites},
		{"Tx/CanceledContext", testCanceledContext},
		{"Tx/FailedWriteThenCommit", testFailedWriteThenCommit},
		{"Tx/NeverSilentlyRolledBack", testNeverSilentlyRolledBack},
		{"Concurrency/AdjustUsedNeverOverbooks", testConcurrentAdjust},
		{"Concurrency/OneWriterWinsAVersion", testConcurrentVersion},
		{"Concurrency/OneRecorderPerNotice", testConcurrentNotice},
		{"Bulk/RunsItemsAndOutcomes", testBulkRuns},
		{"Bulk/ThousandsOfPartners", testBulkRunMany},
		{"Concurrency/OneRecorderPerBulkItem", testConcurrentBulkItem},
	}
	tests = append(tests, outboxTests...)   // Outbox/..., in outbox.go
	tests = append(tests, readTests...)     // reads of a screen that cost no more than its page, in reads.go
	tests = append(tests, allocateTests...) // in allocate.go
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// T0 is the fixed instant the suite's records are stamped with.
var T0 = time.Date(2026, 3, 1, 9, 30, 0, 123456000, time.UTC)

// AsOfT0 is the instant and window the suite derives partners' licence
// figures at: T0, with a 30-day expiring window.
var AsOfT0 = partner.AsOf{Now: T0, Window: 30 * 24 * time.Hour}

var ctx = context.Background()

func update(t *testing.T, s partner.Store, fn func(tx partner.Tx) error) {
	t.Helper()
	require.NoError(t, s.Update(ctx, func(_ context.Context, tx partner.Tx) error { return fn(tx) }))
}

func view(t *testing.T, s partner.Store, fn func(r partner.Reader) error) {
	t.Helper()
	require.NoError(t, s.View(ctx, func(_ context.Context, r partner.Reader) error { return fn(r) }))
}

// NewPartner returns a partner record ready for Tx.CreatePartner.
func NewPartner(name string, typ partner.Type, status partner.Status) partner.Partner {
	return partner.Partner{Type: typ, Status: status, CreatedAt: T0, UpdatedAt: T0,
		Profile: partner.Profile{CompanyName: name, City: "Lyon", State: "Rhône", Country: "FR",
			Contacts:  []partner.Contact{{FirstName: "Ada", LastName: "Admin", Email: "ada@example.com", Phone: "+33 1"}},
			SignInURL: "https://partners.example.com/" + fmt.Sprint(len(name))}}
}

func createPartner(t *testing.T, s partner.Store, name string, typ partner.Type, status partner.Status) partner.Partner {
	t.Helper()
	p := NewPartner(name, typ, status)
	update(t, s, func(tx partner.Tx) error { return tx.CreatePartner(ctx, &p) })
	return p
}

// NewLicense returns a licence record of partnerID ready for
// Tx.CreateLicense.
func NewLicense(partnerID, units int64) license.License {
	return license.License{PartnerID: partnerID, Product: "Endpoint Security", UnitType: "seats", Kind: license.Full,
		Units: units, Start: T0.Add(-24 * time.Hour), Expiry: T0.AddDate(1, 0, 0), GrantedUnits: units,
		GrantedExpiry: T0.AddDate(1, 0, 0), CreatedAt: T0, UpdatedAt: T0}
}

func createLicense(t *testing.T, s partner.Store, partnerID, units int64) license.License {
	t.Helper()
	l := NewLicense(partnerID, units)
	update(t, s, func(tx partner.Tx) error { return tx.CreateLicense(ctx, &l) })
	return l
}

func newAccount(partnerID int64, name string, role account.Role) account.Account {
	return account.Account{PartnerID: partnerID, Name: name, FirstName: "Ann", LastName: "Ops", Email: name + "@example.com",
		Role: role, Enabled: true, CreatedAt: T0, UpdatedAt: T0}
}

func newPlan(name, product string, dc serviceplan.DataCenter, nfr bool) serviceplan.Plan {
	return serviceplan.Plan{Name: name, Enabled: true, Product: product, Kind: serviceplan.Full, UnitType: "seats",
		NFR: nfr, DataCenter: dc, InitialPeriodMonths: 12, AutoRenew: true, ExpiryNoticeDays: 30, CreatedAt: T0, UpdatedAt: T0}
}

func requireKind(t *testing.T, err, kind error, field string) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, kind)
	if field != "" {
		require.Equal(t, field, partner.ErrorField(err), "error %q should name field %q", err, field)
	}
}

func testPartnerCreateGet(t *testing.T, s partner.Store) {
	p := NewPartner("Acme MSP", partner.MSP, partner.Active)
	p.RemoteManager = []partner.DataCenter{serviceplan.US, serviceplan.EU}
	p.PoolRefill, p.MinimumLicenses = true, 5
	update(t, s, func(tx partner.Tx) error { return tx.CreatePartner(ctx, &p) })
	require.NotZero(t, p.ID)
	require.Equal(t, int64(1), p.Version)

	var got, locked partner.Partner
	view(t, s, func(r partner.Reader) (err error) { got, err = r.Partner(ctx, p.ID); return err })
	require.Empty(t, cmp.Diff(p, got))
	update(t, s, func(tx partner.Tx) (err error) { locked, err = tx.LockPartner(ctx, p.ID); return err })
	require.Empty(t, cmp.Diff(p, locked))

	q := createPartner(t, s, "Second", partner.Reseller, partner.Suspended)
	require.NotEqual(t, p.ID, q.ID)
}

func testNotFound(t *testing.T, s partner.Store) {
	p := createPartner(t, s, "Acme", partner.MSP, partner.Active)
	view(t, s, func(r partner.Reader) error {
		checks := map[string]error{}
		_, checks["partner"] = r.Partner(ctx, 999)
		_, checks["license"] = r.License(ctx, 999)
		_, checks["account"] = r.Account(ctx, 999)
		_, checks["account by name"] = r.AccountByName(ctx, "nobody")
		_, checks["plan"] = r.Plan(ctx, 999)
		_, checks["customer"] = r.Customer(ctx, 999)
		_, checks["allocation"] = r.Allocation(ctx, 999)
		for what, err := range checks {
			require.ErrorIs(t, err, partner.ErrNotFound, what)
		}
		return nil
	})
	err := s.Update(ctx, func(ctx context.Context, tx partner.Tx) error {
		checks := map[string]error{}
		_, checks["lock"] = tx.LockPartner(ctx, 999)
		ghost := NewPartner("Ghost", partner.MSP, partner.Active)
		ghost.ID, ghost.Version = 999, 1
		checks["update partner"] = tx.UpdatePartner(ctx, &ghost)
		_, checks["adjust"] = tx.AdjustUsed(ctx, 999, 1)
		checks["delete account"] = tx.DeleteAccount(ctx, 999)
		checks["delete allocation"] = tx.DeleteAllocation(ctx, 999)
		checks["unassign"] = tx.UnassignPlan(ctx, p.ID, 999)
		l := NewLicense(999, 1)
		checks["license of missing partner"] = tx.CreateLicense(ctx, &l)
		for what, err := range checks {
			require.ErrorIs(t, err, partner.ErrNotFound, what)
		}
		return nil
	})
	require.NoError(t, err)
}

func testPartnerStaleVersion(t *testing.T, s partner.Store) {
	p := createPartner(t, s, "Acme", partner.MSP, partner.Active)
	next := p
	next.Profile.City = "Paris"
	update(t, s, func(tx partner.Tx) error { return tx.UpdatePartner(ctx, &next) })
	require.Equal(t, int64(2), next.Version)

	stale := p // still at version 1
	stale.Profile.City = "Berlin"
	err := s.Update(ctx, func(ctx context.Context, tx partner.Tx) error { return tx.UpdatePartner(ctx, &stale) })
	requireKind(t, err, partner.ErrConflict, "")

	var got partner.Partner
	view(t, s, func(r partner.Reader) (err error) { got, err = r.Partner(ctx, p.ID); return err })
	require.Equal(t, "Paris", got.Profile.City)
	require.Equal(t, int64(2), got.Version)
}

func testPartnerList(t *testing.T, s partner.Store) {
	specs := []struct {
		name   string
		typ    partner.Type
		status partner.Status
	}{
		{"Acme MSP", partner.MSP, partner.Active},
		{"Blue Reseller", partner.Reseller, partner.Active},
		{"acme resale", partner.Reseller, partner.Suspended},
		{"École Numérique", partner.MSP, partner.Canceled},
		{"Zeta 100% Services_", partner.MSP, partner.Active},
		{"Omega", partner.Reseller, partner.Active},
		{"ACME North", partner.MSP, partner.Suspended},
	}
	ids := map[string]int64{}
	for _, sp := range specs {
		ids[sp.name] = createPartner(t, s, sp.name, sp.typ, sp.status).ID
	}
	list := func(f partner.Filter) ([]string, int) {
		t.Helper()
		var names []string
		var total int
		view(t, s, func(r partner.Reader) error {
			ps, n, err := r.Partners(ctx, f, AsOfT0)
			for _, p := range ps {
				names = append(names, p.Profile.CompanyName)
			}
			total = n
			return err
		})
		return names, total
	}
	cases := []struct {
		name  string
		f     partner.Filter
		want  []string
		total int
	}{
		{"all in id order", partner.Filter{}, []string{"Acme MSP", "Blue Reseller", "acme resale", "École Numérique", "Zeta 100% Services_", "Omega", "ACME North"}, 7},
		{"name ignores case", partner.Filter{Name: "acme"}, []string{"Acme MSP", "acme resale", "ACME North"}, 3},
		{"name folds non-ASCII", partner.Filter{Name: "écOLE"}, []string{"École Numérique"}, 1},
		{"LIKE wildcards are literal", partner.Filter{Name: "100%"}, []string{"Zeta 100% Services_"}, 1},
		{"underscore is literal", partner.Filter{Name: "s_"}, []string{"Zeta 100% Services_"}, 1},
		{"percent alone matches only percent", partner.Filter{Name: "%"}, []string{"Zeta 100% Services_"}, 1},
		{"status", partner.Filter{Status: partner.Suspended}, []string{"acme resale", "ACME North"}, 2},
		{"type", partner.Filter{Type: partner.Reseller}, []string{"Blue Reseller", "acme resale", "Omega"}, 3},
		{"all filters", partner.Filter{Name: "acme", Status: partner.Active, Type: partner.MSP}, []string{"Acme MSP"}, 1},
		{"page 2 of size 3", partner.Filter{Page: partner.Page{Offset: 3, Limit: 3}}, []string{"École Numérique", "Zeta 100% Services_", "Omega"}, 7},
		{"page past the end", partner.Filter{Page: partner.Page{Offset: 10, Limit: 3}}, nil, 7},
		{"zero limit means every row", partner.Filter{Page: partner.Page{Offset: 5}}, []string{"Omega", "ACME North"}, 7},
		{"no match", partner.Filter{Name: "nothing"}, nil, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, total := list(tc.f)
			require.Empty(t, cmp.Diff(tc.want, got))
			require.Equal(t, tc.total, total)
		})
	}
}

// testSearchFoldsCase: the name filter folds case fully (partner.FoldName),
// beyond lower-casing: final sigma, long s, sharp s.
func testSearchFoldsCase(t *testing.T, s partner.Store) {
	for _, name := range []string{"Οδός Σας", "ſtar", "Straße", "Plain"} {
		createPartner(t, s, name, partner.MSP, partner.Active)
	}
	for _, tc := range []struct{ q, want string }{{"ΣΑΣ", "Οδός Σας"}, {"STAR", "ſtar"}, {"STRASSE", "Straße"}} {
		var got []string
		view(t, s, func(r partner.Reader) error {
			ps, _, err := r.Partners(ctx, partner.Filter{Name: tc.q}, AsOfT0)
			for _, p := range ps {
				got = append(got, p.Profile.CompanyName)
			}
			return err
		})
		require.Empty(t, cmp.Diff([]string{tc.want}, got), "search %q", tc.q)
	}
}

func testDerivedCounts(t *testing.T, s partner.Store) {
	p := createPartner(t, s, "Acme", partner.MSP, partner.Active)
	other := createPartner(t, s, "Other", partner.MSP, partner.Active)
	l1 := createLicense(t, s, p.ID, 10)
	createLicense(t, s, p.ID, 5)
	createLicense(t, s, other.ID, 100)
	update(t, s, func(tx partner.Tx) error {
		for i := range 3 {
			c := partner.Customer{PartnerID: p.ID, Name: fmt.Sprint("customer ", i), CreatedAt: T0}
			if err := tx.CreateCustomer(ctx, &c); err != nil {
				return err
			}
		}
		c := partner.Customer{PartnerID: other.ID, Name: "elsewhere", CreatedAt: T0}
		if err := tx.CreateCustomer(ctx, &c); err != nil {
			return err
		}
		_, err := tx.AdjustUsed(ctx, l1.ID, 4)
		return err
	})
	update(t, s, func(tx partner.Tx) error {
		locked, err := tx.LockPartner(ctx, p.ID)
		require.Zero(t, locked.Customers+int(locked.UnitsProvisioned+locked.UnitsUsed), "LockPartner leaves the derived figures zero")
		return err
	})
	var got partner.Partner
	var listed []partner.Partner
	view(t, s, func(r partner.Reader) (err error) {
		if got, err = r.Partner(ctx, p.ID); err != nil {
			return err
		}
		listed, _, err = r.Partners(ctx, partner.Filter{Page: partner.Page{Limit: 10}}, AsOfT0)
		return err
	})
	want := map[string]int64{"customers": 3, "provisioned": 15, "used": 4}
	have := map[string]int64{"customers": int64(got.Customers), "provisioned": got.UnitsProvisioned, "used": got.UnitsUsed}
	require.Empty(t, cmp.Diff(want, have))
	require.Len(t, listed, 2)
	require.Empty(t, cmp.Diff(got, listed[0]), "List and Get derive the same figures")
	require.Equal(t, 1, listed[1].Customers)
	require.Equal(t, int64(100), listed[1].UnitsProvisioned)
}

func testLicenses(t *testing.T, s partner.Store) {
	p := createPartner(t, s, "Acme", partner.MSP, partner.Active)
	var made []license.License
	update(t, s, func(tx partner.Tx) error {
		for i := range 5 {
			l := NewLicense(p.ID, int64(10+i))
			if i >= 3 {
				l.GrantKey = "order-42"
			}
			if err := tx.CreateLicense(ctx, &l); err != nil {
				return err
			}
			made = append(made, l)
		}
		return nil
	})
	for _, l := range made {
		require.Equal(t, int64(1), l.Version)
	}
	view(t, s, func(r partner.Reader) error {
		one, err := r.License(ctx, made[2].ID)
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(made[2], one))
		page, total, err := r.Licenses(ctx, p.ID, partner.Page{Offset: 1, Limit: 2})
		require.NoError(t, err)
		require.Equal(t, 5, total)
		require.Empty(t, cmp.Diff(made[1:3], page))
		all, total, err := r.Licenses(ctx, p.ID, partner.Page{})
		require.NoError(t, err)
		require.Equal(t, 5, total)
		require.Empty(t, cmp.Diff(made, all))
		keyed, err := r.LicensesByGrantKey(ctx, p.ID, "order-42")
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(made[3:], keyed))
		none, err := r.LicensesByGrantKey(ctx, p.ID, "other")
		require.NoError(t, err)
		require.Empty(t, none)
		return nil
	})
}

func testAdjustUsed(t *testing.T, s partner.Store) {
	p := createPartner(t, s, "Acme", partner.MSP, partner.Active)
	l := createLicense(t, s, p.ID, 10)
	adjust := func(delta int64) (license.License, error) {
		var out license.License
		err := s.Update(ctx, func(ctx context.Context, tx partner.Tx) (err error) {
			out, err = tx.AdjustUsed(ctx, l.ID, delta)
			return err
		})
		return out, err
	}
	got, err := adjust(7)
	require.NoError(t, err)
	require.Equal(t, int64(7), got.Used)
	require.Equal(t, l.Version, got.Version, "AdjustUsed leaves the version alone")

	_, err = adjust(4)
	requireKind(t, err, partner.ErrInsufficientUnits, "")
	got, err = adjust(3)
	require.NoError(t, err)
	require.Equal(t, int64(10), got.Used, "a licence can be used up exactly")
	_, err = adjust(1)
	requireKind(t, err, partner.ErrInsufficientUnits, "")

	_, err = adjust(-11)
	requireKind(t, err, partner.ErrConflict, "")
	got, err = adjust(-10)
	require.NoError(t, err)
	require.Equal(t, int64(0), got.Used)
}

func testUpdateLicense(t *testing.T, s partner.Store) {
	p := createPartner(t, s, "Acme", partner.MSP, partner.Active)
	l := createLicense(t, s, p.ID, 10)
	update(t, s, func(tx partner.Tx) error { _, err := tx.AdjustUsed(ctx, l.ID, 6); return err })

	next := l
	next.Disabled, next.DisabledAt, next.UpdatedAt, next.Units = true, T0.Add(time.Hour), T0.Add(time.Hour), 12
	next.Used = 0 // UpdateLicense must ignore Used
	update(t, s, func(tx partner.Tx) error { return tx.UpdateLicense(ctx, &next) })
	require.Equal(t, int64(2), next.Version)
	require.Equal(t, int64(6), next.Used, "the returned licence carries the stored used units")

	stale := l
	stale.Units = 20
	err := s.Update(ctx, func(ctx context.Context, tx partner.Tx) error { return tx.UpdateLicense(ctx, &stale) })
	requireKind(t, err, partner.ErrConflict, "")

	shrink := next
	shrink.Units = 5
	err = s.Update(ctx, func(ctx context.Context, tx partner.Tx) error { return tx.UpdateLicense(ctx, &shrink) })
	requireKind(t, err, partner.ErrInsufficientUnits, "units")

	var got license.License
	view(t, s, func(r partner.Reader) (err error) { got, err = r.License(ctx, l.ID); return err })
	require.Empty(t, cmp.Diff(next, got))
}

func testEndLicenses(t *testing.T, s partner.Store) {
	p := createPartner(t, s, "Acme", partner.MSP, partner.Active)
	other := createPartner(t, s, "Other", partner.MSP, partner.Active)
	at := T0.Add(2 * time.Hour)
	later := createLicense(t, s, p.ID, 10)
	early := NewLicense(p.ID, 5)
	early.Expiry = T0.Add(time.Hour)
	future := NewLicense(p.ID, 7) // starts after the cancellation
	future.Start, future.Expiry = at.AddDate(0, 0, 5), at.AddDate(1, 0, 5)
	startsAt := NewLicense(p.ID, 3) // starts at the very instant
	startsAt.Start = at
	offFuture := NewLicense(p.ID, 4) // not started, already disabled
	offFuture.Start, offFuture.Expiry, offFuture.Disabled, offFuture.DisabledAt = at.AddDate(0, 1, 0), at.AddDate(1, 0, 0), true, T0
	update(t, s, func(tx partner.Tx) error {
		for _, l := range []*license.License{&early, &future, &startsAt, &offFuture} {
			if err := tx.CreateLicense(ctx, l); err != nil {
				return err
			}
		}
		return nil
	})
	foreign := createLicense(t, s, other.ID, 10)

	var expired, disabled int
	update(t, s, func(tx partner.Tx) (err error) { expired, disabled, err = tx.EndLicenses(ctx, p.ID, at); return err })
	require.Equal(t, 1, expired)
	require.Equal(t, 2, disabled)

	wantLater := later
	wantLater.Expiry, wantLater.UpdatedAt, wantLater.Version = at, at, 2
	wantFuture := future
	wantFuture.Disabled, wantFuture.DisabledAt, wantFuture.UpdatedAt, wantFuture.Version = true, at, at, 2
	wantStartsAt := startsAt
	wantStartsAt.Disabled, wantStartsAt.DisabledAt, wantStartsAt.UpdatedAt, wantStartsAt.Version = true, at, at, 2
	want := []license.License{wantLater, early, wantFuture, wantStartsAt, offFuture}
	view(t, s, func(r partner.Reader) error {
		got, _, err := r.Licenses(ctx, p.ID, partner.Page{})
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(want, got))
		for _, l := range got {
			require.True(t, l.Start.Before(l.Expiry), "licence %d must keep its start before its expiry", l.ID)
		}
		f, err := r.License(ctx, foreign.ID)
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(foreign, f), "another partner's licence is untouched")
		return nil
	})
}

func testAccountsUnique(t *testing.T, s partner.Store) {
	p := createPartner(t, s, "Acme", partner.MSP, partner.Active)
	q := createPartner(t, s, "Other", partner.Reseller, partner.Active)
	a := newAccount(p.ID, "ops.admin", account.Administrator)
	update(t, s, func(tx partner.Tx) error { return tx.CreateAccount(ctx, &a) })
	require.Equal(t, int64(1), a.Version)

	dup := newAccount(q.ID, "ops.admin", account.LicenseManager)
	err := s.Update(ctx, func(ctx context.Context, tx partner.Tx) error { return tx.CreateAccount(ctx, &dup) })
	requireKind(t, err, partner.ErrDuplicate, "account name")

	view(t, s, func(r partner.Reader) error {
		byName, err := r.AccountByName(ctx, "ops.admin")
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(a, byName))
		list, total, err := r.Accounts(ctx, q.ID, partner.Page{})
		require.NoError(t, err)
		require.Empty(t, list, "the refused account left nothing behind")
		require.Zero(t, total)
		return nil
	})
}

func testAccountsUpdate(t *testing.T, s partner.Store) {
	p := createPartner(t, s, "Acme", partner.MSP, partner.Active)
	a := newAccount(p.ID, "first", account.Administrator)
	b := newAccount(p.ID, "second", account.SupportEngineer)
	update(t, s, func(tx partner.Tx) error {
		if err := tx.CreateAccount(ctx, &a); err != nil {
			return err
		}
		return tx.CreateAccount(ctx, &b)
	})
	next := b
	next.Name = "renamed" // names never change
	next.Role, next.PasswordResetAt, next.UpdatedAt = account.BillingManager, T0.Add(time.Minute), T0.Add(time.Minute)
	update(t, s, func(tx partner.Tx) error { return tx.UpdateAccount(ctx, &next) })
	require.Equal(t, "second", next.Name)
	require.Equal(t, int64(2), next.Version)

	stale := b
	err := s.Update(ctx, func(ctx context.Context, tx partner.Tx) error { return tx.UpdateAccount(ctx, &stale) })
	requireKind(t, err, partner.ErrConflict, "")

	var n int
	update(t, s, func(tx partner.Tx) (err error) { n, err = tx.DisableAccounts(ctx, p.ID, T0.Add(time.Hour)); return err })
	require.Equal(t, 2, n)
	update(t, s, func(tx partner.Tx) error { return tx.DeleteAccount(ctx, a.ID) })
	view(t, s, func(r partner.Reader) error {
		list, total, err := r.Accounts(ctx, p.ID, partner.Page{})
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, 1, total)
		require.Equal(t, "second", list[0].Name)
		require.Equal(t, account.BillingManager, list[0].Role)
		require.False(t, list[0].Enabled)
		require.Equal(t, T0.Add(time.Minute), list[0].PasswordResetAt)
		_, err = r.AccountByName(ctx, "first")
		require.ErrorIs(t, err, partner.ErrNotFound)
		return nil
	})
	// A deleted account's name is free again.
	again := newAccount(p.ID, "first", account.Administrator)
	update(t, s, func(tx partner.Tx) error { return tx.CreateAccount(ctx, &again) })
}

func testPlansUnique(t *testing.T, s partner.Store) {
	create := func(p serviceplan.Plan) (serviceplan.Plan, error) {
		err := s.Update(ctx, func(ctx context.Context, tx partner.Tx) error { return tx.CreatePlan(ctx, &p) })
		return p, err
	}
	a, err := create(newPlan("Endpoint 12m", "Endpoint", serviceplan.EU, false))
	require.NoError(t, err)
	require.Equal(t, int64(1), a.Version)
	_, err = create(newPlan("ENDPOINT 12M", "Other", serviceplan.US, false))
	requireKind(t, err, partner.ErrDuplicate, "name")

	nfr, err := create(newPlan("Endpoint NFR EU", "Endpoint", serviceplan.EU, true))
	require.NoError(t, err)
	_, err = create(newPlan("Endpoint NFR EU 2", "Endpoint", serviceplan.EU, true))
	requireKind(t, err, partner.ErrDuplicate, "nfr")
	_, err = create(newPlan("Endpoint NFR US", "Endpoint", serviceplan.US, true))
	require.NoError(t, err, "one NFR plan per product per data center")
	_, err = create(newPlan("Endpoint 24m", "Endpoint", serviceplan.EU, false))
	require.NoError(t, err, "non-NFR plans share product and data center freely")

	renamed := nfr
	renamed.Name = "endpoint 12m"
	err = s.Update(ctx, func(ctx context.Context, tx partner.Tx) error { return tx.UpdatePlan(ctx, &renamed) })
	requireKind(t, err, partner.ErrDuplicate, "name")

	renamed.Name, renamed.Enabled = "Endpoint NFR Europe", false
	update(t, s, func(tx partner.Tx) error { return tx.UpdatePlan(ctx, &renamed) })
	require.Equal(t, int64(2), renamed.Version)
	_, err = create(newPlan("Endpoint NFR EU", "Other product", serviceplan.EU, false))
	require.NoError(t, err, "the old name is free after a rename")

	stale := nfr
	err = s.Update(ctx, func(ctx context.Context, tx partner.Tx) error { return tx.UpdatePlan(ctx, &stale) })
	requireKind(t, err, partner.ErrConflict, "")

	view(t, s, func(r partner.Reader) error {
		all, err := r.Plans(ctx)
		require.NoError(t, err)
		var names []string
		for _, p := range all {
			names = append(names, p.Name)
		}
		require.Empty(t, cmp.Diff([]string{"Endpoint 12m", "Endpoint NFR Europe", "Endpoint NFR US", "Endpoint 24m", "Endpoint NFR EU"}, names))
		got, err := r.Plan(ctx, nfr.ID)
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(renamed, got))
		return nil
	})
}

func testPlanAssign(t *testing.T, s partner.Store) {
	p := createPartner(t, s, "Blue", partner.Reseller, partner.Active)
	plan := newPlan("Plan A", "Endpoint", serviceplan.EU, false)
	planB := newPlan("Plan B", "Endpoint", serviceplan.US, false)
	update(t, s, func(tx partner.Tx) error {
		if err := tx.CreatePlan(ctx, &plan); err != nil {
			return err
		}
		return tx.CreatePlan(ctx, &planB)
	})
	update(t, s, func(tx partner.Tx) error {
		if err := tx.AssignPlan(ctx, serviceplan.Assignment{PartnerID: p.ID, PlanID: planB.ID, AssignedAt: T0}); err != nil {
			return err
		}
		return tx.AssignPlan(ctx, serviceplan.Assignment{PartnerID: p.ID, PlanID: plan.ID, AssignedAt: T0.Add(time.Second)})
	})
	err := s.Update(ctx, func(ctx context.Context, tx partner.Tx) error {
		return tx.AssignPlan(ctx, serviceplan.Assignment{PartnerID: p.ID, PlanID: plan.ID, AssignedAt: T0})
	})
	requireKind(t, err, partner.ErrDuplicate, "")
	err = s.Update(ctx, func(ctx context.Context, tx partner.Tx) error {
		return tx.AssignPlan(ctx, serviceplan.Assignment{PartnerID: p.ID, PlanID: 999, AssignedAt: T0})
	})
	requireKind(t, err, partner.ErrNotFound, "")

	view(t, s, func(r partner.Reader) error {
		got, err := r.AssignedPlans(ctx, p.ID)
		require.NoError(t, err)
		want := []partner.AssignedPlan{{Plan: plan, AssignedAt: T0.Add(time.Second)}, {Plan: planB, AssignedAt: T0}}
		require.Empty(t, cmp.Diff(want, got))
		return nil
	})
	update(t, s, func(tx partner.Tx) error { return tx.UnassignPlan(ctx, p.ID, plan.ID) })
	err = s.Update(ctx, func(ctx context.Context, tx partner.Tx) error { return tx.UnassignPlan(ctx, p.ID, plan.ID) })
	requireKind(t, err, partner.ErrNotFound, "")
	view(t, s, func(r partner.Reader) error {
		got, err := r.AssignedPlans(ctx, p.ID)
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, planB.ID, got[0].ID)
		return nil
	})
}

func testCustomersAllocations(t *testing.T, s partner.Store) {
	p := createPartner(t, s, "Acme", partner.MSP, partner.Active)
	q := createPartner(t, s, "Other", partner.MSP, partner.Active)
	l1, l2 := createLicense(t, s, p.ID, 10), createLicense(t, s, p.ID, 10)
	lq := createLicense(t, s, q.ID, 10)
	var c1, c2, cq partner.Customer
	var allocs []license.Allocation
	update(t, s, func(tx partner.Tx) error {
		c1 = partner.Customer{PartnerID: p.ID, Name: "One", Email: "one@example.com", CreatedAt: T0}
		c2 = partner.Customer{PartnerID: p.ID, Name: "Two", CreatedAt: T0}
		cq = partner.Customer{PartnerID: q.ID, Name: "Q", CreatedAt: T0}
		for _, c := range []*partner.Customer{&c1, &c2, &cq} {
			if err := tx.CreateCustomer(ctx, c); err != nil {
				return err
			}
		}
		for _, a := range []license.Allocation{
			{LicenseID: l1.ID, PartnerID: p.ID, CustomerID: c1.ID, Units: 2, CreatedAt: T0},
			{LicenseID: l2.ID, PartnerID: p.ID, CustomerID: c1.ID, Units: 3, CreatedAt: T0},
			{LicenseID: l1.ID, PartnerID: p.ID, CustomerID: c2.ID, Units: 4, CreatedAt: T0},
			{LicenseID: lq.ID, PartnerID: q.ID, CustomerID: cq.ID, Units: 1, CreatedAt: T0},
		} {
			if err := tx.CreateAllocation(ctx, &a); err != nil {
				return err
			}
			allocs = append(allocs, a)
		}
		return nil
	})
	view(t, s, func(r partner.Reader) error {
		got, err := r.Customer(ctx, c1.ID)
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(c1, got))
		page, total, err := r.Customers(ctx, p.ID, partner.CustomerFilter{Page: partner.Page{Offset: 1, Limit: 5}})
		require.NoError(t, err)
		require.Equal(t, 2, total)
		require.Empty(t, cmp.Diff([]partner.Customer{c2}, page))

		cases := map[string]struct {
			f    partner.AllocationFilter
			want []license.Allocation
		}{
			"by partner":  {partner.AllocationFilter{PartnerID: p.ID}, allocs[:3]},
			"by licence":  {partner.AllocationFilter{LicenseID: l1.ID}, []license.Allocation{allocs[0], allocs[2]}},
			"by customer": {partner.AllocationFilter{CustomerID: c1.ID}, allocs[:2]},
			"both":        {partner.AllocationFilter{LicenseID: l1.ID, CustomerID: c2.ID}, allocs[2:3]},
		}
		for name, tc := range cases {
			got, err := r.Allocations(ctx, tc.f)
			require.NoError(t, err, name)
			require.Empty(t, cmp.Diff(tc.want, got), name)
		}
		one, err := r.Allocation(ctx, allocs[1].ID)
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(allocs[1], one))
		return nil
	})
	err := s.Update(ctx, func(ctx context.Context, tx partner.Tx) error {
		a := license.Allocation{LicenseID: l1.ID, PartnerID: p.ID, CustomerID: cq.ID, Units: 1, CreatedAt: T0}
		return tx.CreateAllocation(ctx, &a)
	})
	requireKind(t, err, partner.ErrNotFound, "")
	err = s.Update(ctx, func(ctx context.Context, tx partner.Tx) error {
		a := license.Allocation{LicenseID: lq.ID, PartnerID: p.ID, CustomerID: c1.ID, Units: 1, CreatedAt: T0}
		return tx.CreateAllocation(ctx, &a)
	})
	requireKind(t, err, partner.ErrNotFound, "")
	update(t, s, func(tx partner.Tx) error { return tx.DeleteAllocation(ctx, allocs[0].ID) })
	view(t, s, func(r partner.Reader) error {
		got, err := r.Allocations(ctx, partner.AllocationFilter{PartnerID: p.ID})
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(allocs[1:3], got))
		return nil
	})
}

func testAudit(t *testing.T, s partner.Store) {
	p := createPartner(t, s, "Acme", partner.MSP, partner.Active)
	q := createPartner(t, s, "Other", partner.MSP, partner.Active)
	var entries []partner.AuditEntry
	update(t, s, func(tx partner.Tx) error {
		for i := range 5 {
			e := partner.AuditEntry{PartnerID: p.ID, Actor: "alice", Action: partner.OpUpdateProfile,
				Target: fmt.Sprint("partner ", p.ID), Changes: []partner.Change{{Field: "city", Label: "City",
					Before: fmt.Sprint("City ", i), After: fmt.Sprint("City ", i+1),
					BeforeValue: json.RawMessage(fmt.Sprintf(`"City %d"`, i)), AfterValue: json.RawMessage(fmt.Sprintf(`"City %d"`, i+1))}},
				At: T0.Add(time.Duration(i) * time.Second)}
			if err := tx.AppendAudit(ctx, &e); err != nil {
				return err
			}
			entries = append(entries, e)
		}
		other := partner.AuditEntry{PartnerID: q.ID, Actor: "bob", Action: partner.OpSuspend, At: T0}
		catalog := partner.AuditEntry{PartnerID: 0, Actor: "carol", Action: partner.OpCreatePlan, At: T0}
		if err := tx.AppendAudit(ctx, &other); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &catalog)
	})
	view(t, s, func(r partner.Reader) error {
		got, total, err := r.Audit(ctx, p.ID, partner.Page{Offset: 1, Limit: 2})
		require.NoError(t, err)
		require.Equal(t, 5, total)
		require.Empty(t, cmp.Diff([]partner.AuditEntry{entries[3], entries[2]}, got))
		catalog, total, err := r.Audit(ctx, 0, partner.Page{Limit: 10})
		require.NoError(t, err)
		require.Equal(t, 1, total)
		require.Equal(t, "carol", catalog[0].Actor)
		return nil
	})
}

var errBoom = errors.New("boom")

func testRollbackOnError(t *testing.T, s partner.Store) {
	keep := createPartner(t, s, "Keep", partner.MSP, partner.Active)
	l := createLicense(t, s, keep.ID, 10)
	var ghost partner.Partner
	err := s.Update(ctx, func(ctx context.Context, tx partner.Tx) error {
		ghost = NewPartner("Ghost", partner.Reseller, partner.Active)
		if err := tx.CreatePartner(ctx, &ghost); err != nil {
			return err
		}
		a := newAccount(ghost.ID, "ghost.admin", account.Administrator)
		if err := tx.CreateAccount(ctx, &a); err != nil {
			return err
		}
		if _, err := tx.AdjustUsed(ctx, l.ID, 5); err != nil {
			return err
		}
		k := keep
		k.Status = partner.Suspended
		if err := tx.UpdatePartner(ctx, &k); err != nil {
			return err
		}
		e := partner.AuditEntry{PartnerID: keep.ID, Actor: "x", Action: partner.OpSuspend, At: T0}
		if err := tx.AppendAudit(ctx, &e); err != nil {
			return err
		}
		return errBoom
	})
	require.ErrorIs(t, err, errBoom)
	requireUntouched(t, s, keep, l, ghost.ID)
}

func requireUntouched(t *testing.T, s partner.Store, keep partner.Partner, l license.License, ghostID int64) {
	t.Helper()
	view(t, s, func(r partner.Reader) error {
		_, err := r.Partner(ctx, ghostID)
		require.ErrorIs(t, err, partner.ErrNotFound)
		_, err = r.AccountByName(ctx, "ghost.admin")
		require.ErrorIs(t, err, partner.ErrNotFound)
		got, err := r.Partner(ctx, keep.ID)
		require.NoError(t, err)
		require.Equal(t, partner.Active, got.Status)
		require.Equal(t, keep.Version, got.Version)
		gotL, err := r.License(ctx, l.ID)
		require.NoError(t, err)
		require.Equal(t, int64(0), gotL.Used)
		_, total, err := r.Audit(ctx, keep.ID, partner.Page{Limit: 10})
		require.NoError(t, err)
		require.Zero(t, total)
		_, total, err = r.Partners(ctx, partner.Filter{Page: partner.Page{Limit: 10}}, AsOfT0)
		require.NoError(t, err)
		require.Equal(t, 1, total)
		return nil
	})
}

func testRollbackOnPanic(t *testing.T, s partner.Store) {
	keep := createPartner(t, s, "Keep", partner.MSP, partner.Active)
	l := createLicense(t, s, keep.ID, 10)
	var ghostID int64
	require.PanicsWithValue(t, "bug", func() {
		_ = s.Update(ctx, func(ctx context.Context, tx partner.Tx) error {
			ghost := NewPartner("Ghost", partner.Reseller, partner.Active)
			if err := tx.CreatePartner(ctx, &ghost); err != nil {
				return err
			}
			ghostID = ghost.ID
			if _, err := tx.AdjustUsed(ctx, l.ID, 5); err != nil {
				return err
			}
			panic("bug")
		})
	})
	requireUntouched(t, s, keep, l, ghostID)
	// The store is still usable after the panic.
	createPartner(t, s, "After", partner.MSP, partner.Active)
}

func testReadYourWrites(t *testing.T, s partner.Store) {
	update(t, s, func(tx partner.Tx) error {
		p := NewPartner("Fresh", partner.MSP, partner.Active)
		require.NoError(t, tx.CreatePartner(ctx, &p))
		l := NewLicense(p.ID, 10)
		require.NoError(t, tx.CreateLicense(ctx, &l))
		_, err := tx.AdjustUsed(ctx, l.ID, 3)
		require.NoError(t, err)
		got, err := tx.Partner(ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, int64(3), got.UnitsUsed)
		list, total, err := tx.Partners(ctx, partner.Filter{Name: "fresh", Page: partner.Page{Limit: 5}}, AsOfT0)
		require.NoError(t, err)
		require.Equal(t, 1, total)
		require.Equal(t, p.ID, list[0].ID)
		return nil
	})
}

func testCanceledContext(t *testing.T, s partner.Store) {
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	err := s.Update(cctx, func(ctx context.Context, tx partner.Tx) error {
		p := NewPartner("Never", partner.MSP, partner.Active)
		return tx.CreatePartner(ctx, &p)
	})
	require.ErrorIs(t, err, context.Canceled)
	view(t, s, func(r partner.Reader) error {
		_, total, err := r.Partners(ctx, partner.Filter{Page: partner.Page{Limit: 5}}, AsOfT0)
		require.Zero(t, total)
		return err
	})
}

// testFailedWriteThenCommit: a Tx write that fails on a uniqueness rule
// or a missing record has no effect and leaves the transaction usable, so
// writes before and after it commit when fn handles the error and
// returns nil.
func testFailedWriteThenCommit(t *testing.T, s partner.Store) {
	p := createPartner(t, s, "Reseller", partner.Reseller, partner.Active)
	taken := newAccount(p.ID, "taken", account.Administrator)
	plan := newPlan("Plan A", "Endpoint", serviceplan.EU, false)
	nfr := newPlan("NFR EU", "Endpoint", serviceplan.EU, true)
	update(t, s, func(tx partner.Tx) error {
		for _, err := range []error{tx.CreateAccount(ctx, &taken), tx.CreatePlan(ctx, &plan), tx.CreatePlan(ctx, &nfr),
			tx.AssignPlan(ctx, serviceplan.Assignment{PartnerID: p.ID, PlanID: plan.ID, AssignedAt: T0})} {
			if err != nil {
				return err
			}
		}
		return nil
	})

	var before, after partner.Partner
	var lic license.License
	var late account.Account
	update(t, s, func(tx partner.Tx) error {
		before = NewPartner("Written before", partner.MSP, partner.Active)
		require.NoError(t, tx.CreatePartner(ctx, &before))

		dupAccount := newAccount(before.ID, "taken", account.SupportEngineer)
		requireKind(t, tx.CreateAccount(ctx, &dupAccount), partner.ErrDuplicate, "account name")
		dupPlan := newPlan("PLAN A", "Other", serviceplan.US, false)
		requireKind(t, tx.CreatePlan(ctx, &dupPlan), partner.ErrDuplicate, "name")
		dupNFR := newPlan("NFR EU again", "Endpoint", serviceplan.EU, true)
		requireKind(t, tx.CreatePlan(ctx, &dupNFR), partner.ErrDuplicate, "nfr")
		renamed := plan
		renamed.Name = "nfr eu"
		requireKind(t, tx.UpdatePlan(ctx, &renamed), partner.ErrDuplicate, "name")
		err := tx.AssignPlan(ctx, serviceplan.Assignment{PartnerID: p.ID, PlanID: plan.ID, AssignedAt: T0})
		requireKind(t, err, partner.ErrDuplicate, "")
		orphan := NewLicense(999, 10)
		requireKind(t, tx.CreateLicense(ctx, &orphan), partner.ErrNotFound, "")
		lost := newAccount(999, "orphan.admin", account.Administrator)
		requireKind(t, tx.CreateAccount(ctx, &lost), partner.ErrNotFound, "")

		after = NewPartner("Written after", partner.MSP, partner.Active)
		require.NoError(t, tx.CreatePartner(ctx, &after))
		lic = NewLicense(before.ID, 10)
		require.NoError(t, tx.CreateLicense(ctx, &lic))
		late = newAccount(after.ID, "late.admin", account.Administrator)
		require.NoError(t, tx.CreateAccount(ctx, &late))
		return nil
	})

	view(t, s, func(r partner.Reader) error {
		for _, want := range []partner.Partner{before, after} {
			got, err := r.Partner(ctx, want.ID)
			require.NoError(t, err, "%s was committed", want.Profile.CompanyName)
			require.Equal(t, want.Profile.CompanyName, got.Profile.CompanyName)
		}
		gotLic, err := r.License(ctx, lic.ID)
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(lic, gotLic))
		gotLate, err := r.AccountByName(ctx, "late.admin")
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(late, gotLate))
		byName, err := r.AccountByName(ctx, "taken")
		require.NoError(t, err)
		require.Equal(t, p.ID, byName.PartnerID, "the duplicate account changed nothing")
		_, err = r.AccountByName(ctx, "orphan.admin")
		require.ErrorIs(t, err, partner.ErrNotFound)
		plans, err := r.Plans(ctx)
		require.NoError(t, err)
		require.Empty(t, cmp.Diff([]serviceplan.Plan{plan, nfr}, plans), "the refused plans changed nothing")
		assigned, err := r.AssignedPlans(ctx, p.ID)
		require.NoError(t, err)
		require.Len(t, assigned, 1)
		licenses, _, err := r.Licenses(ctx, 999, partner.Page{})
		require.NoError(t, err)
		require.Empty(t, licenses)
		return nil
	})
}

// testNeverSilentlyRolledBack: whatever a store does with a write that
// fails on a rule the Tx contract does not promise to leave usable (an
// audit entry for a partner that does not exist), Update never reports
// success for writes it did not commit: either it returns nil and every
// other write of fn is stored, or it returns an error and none is. The
// failing write comes last in one case and before another write in the
// other.
func testNeverSilentlyRolledBack(t *testing.T, s partner.Store) {
	failingAudit := func(tx partner.Tx) {
		e := partner.AuditEntry{PartnerID: 999, Actor: "x", Action: partner.OpUpdateProfile, At: T0}
		_ = tx.AppendAudit(ctx, &e) // fails; fn goes on regardless
	}
	for _, tc := range []struct {
		name  string
		names []string
		fn    func(tx partner.Tx) error
	}{
		{"failure last", []string{"First"}, func(tx partner.Tx) error {
			p := NewPartner("First", partner.MSP, partner.Active)
			if err := tx.CreatePartner(ctx, &p); err != nil {
				return err
			}
			failingAudit(tx)
			return nil
		}},
		{"failure between writes", []string{"Second", "Third"}, func(tx partner.Tx) error {
			p := NewPartner("Second", partner.MSP, partner.Active)
			if err := tx.CreatePartner(ctx, &p); err != nil {
				return err
			}
			failingAudit(tx)
			q := NewPartner("Third", partner.MSP, partner.Active)
			_ = tx.CreatePartner(ctx, &q)
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Update(ctx, func(_ context.Context, tx partner.Tx) error { return tc.fn(tx) })
			var stored []string
			view(t, s, func(r partner.Reader) error {
				for _, name := range tc.names {
					ps, _, err := r.Partners(ctx, partner.Filter{Name: name}, AsOfT0)
					if err != nil {
						return err
					}
					for _, p := range ps {
						stored = append(stored, p.Profile.CompanyName)
					}
				}
				return nil
			})
			if err == nil {
				require.Equal(t, tc.names, stored, "Update returned nil, so every write must be stored")
			} else {
				require.Empty(t, stored, "Update returned %q, so nothing may be stored", err)
			}
		})
	}
}

// Goroutines is how many goroutines the concurrency tests run at once.
const Goroutines = 64

func testConcurrentAdjust(t *testing.T, s partner.Store) {
	p := createPartner(t, s, "Acme", partner.MSP, partner.Active)
	const k = 20
	l := createLicense(t, s, p.ID, k)
	ok, short := Race(t, Goroutines, partner.ErrInsufficientUnits, func() error {
		return s.Update(ctx, func(ctx context.Context, tx partner.Tx) error {
			_, err := tx.AdjustUsed(ctx, l.ID, 1)
			return err
		})
	})
	require.Equal(t, k, ok)
	require.Equal(t, Goroutines-k, short)
	view(t, s, func(r partner.Reader) error {
		got, err := r.License(ctx, l.ID)
		require.Equal(t, int64(k), got.Used)
		return err
	})
}

func testConcurrentVersion(t *testing.T, s partner.Store) {
	p := createPartner(t, s, "Acme", partner.MSP, partner.Active)
	var attempt atomic.Int64
	ok, conflict := Race(t, Goroutines, partner.ErrConflict, func() error {
		next := p // every writer read version 1
		next.Profile.City = fmt.Sprint("City ", attempt.Add(1))
		return s.Update(ctx, func(ctx context.Context, tx partner.Tx) error { return tx.UpdatePartner(ctx, &next) })
	})
	require.Equal(t, 1, ok, "exactly one writer of version 1 wins")
	require.Equal(t, Goroutines-1, conflict)
	view(t, s, func(r partner.Reader) error {
		got, err := r.Partner(ctx, p.ID)
		require.Equal(t, int64(2), got.Version)
		return err
	})
}

// Race runs fn in n goroutines started together and counts the calls that
// succeeded and those refused with an error wrapping refusal. Any other
// error fails the test: under contention a store may make callers wait,
// never fail them with its own busy or locked errors.
func Race(t testing.TB, n int, refusal error, fn func() error) (ok, refused int) {
	t.Helper()
	var okN, refusedN atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			<-start
			switch err := fn(); {
			case err == nil:
				okN.Add(1)
			case errors.Is(err, refusal):
				refusedN.Add(1)
			default:
				errs <- err
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err, "only %v may surface", refusal)
	}
	return int(okN.Load()), int(refusedN.Load())
}
