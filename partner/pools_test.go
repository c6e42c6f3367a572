package partner_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/partner/storetest"
)

func ptr[T any](v T) *T { return &v }

func TestSetPoolSettings(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active) // Endpoint Security: 100 seats, 95 remaining
		id := f.p.ID
		eps := e.products["Endpoint Security"]
		e.requireNoWrite(t, id, "the default settings of a pool without any", func() error {
			_, err := e.m.SetPoolSettings(e.ctx, id, 0, partner.PoolSettingsParams{Product: "Endpoint Security"})
			return err
		})

		before := e.snapshot(t, id)
		cases := []struct {
			name  string
			in    partner.PoolSettingsParams
			kind  error
			field string
		}{
			{"not in the catalogue", partner.PoolSettingsParams{Product: "Endpoint Securty"}, partner.ErrInvalid, "product"},
			{"no product", partner.PoolSettingsParams{Product: " "}, partner.ErrInvalid, "product"},
			{"another unit type", partner.PoolSettingsParams{Product: "Endpoint Security", UnitType: "users"}, partner.ErrInvalid, "unit type"},
			{"negative minimum", partner.PoolSettingsParams{Product: "Endpoint Security", Minimum: ptr[int64](-1)}, partner.ErrInvalid, "minimum licenses"},
			{"negative cap", partner.PoolSettingsParams{Product: "Endpoint Security", Cap: -5}, partner.ErrInvalid, "cap"},
			{"absurd cap", partner.PoolSettingsParams{Product: "Endpoint Security", Cap: partner.MaxPoolCap + 1}, partner.ErrInvalid, "cap"},
		}
		for _, tc := range cases {
			_, err := e.m.SetPoolSettings(e.ctx, id, 0, tc.in)
			e.requireRefused(t, id, before, err, tc.kind, tc.field)
		}
		_, err := e.m.SetPoolSettings(e.ctx, id, f.p.Version+1, partner.PoolSettingsParams{Product: "x", Cap: -1})
		e.requireRefused(t, id, before, err, partner.ErrConflict, "")
		_, err = e.m.SetPoolSettings(e.ctx, id, 0, partner.PoolSettingsParams{Product: "", Cap: -1, Minimum: ptr[int64](-1)})
		require.Empty(t, cmp.Diff([]string{"product", "minimum licenses", "cap"}, fieldNames(partner.FieldErrors(err))), "every problem at once")

		e.resetEvents()
		p, err := e.m.SetPoolSettings(e.ctx, id, f.p.Version, partner.PoolSettingsParams{Product: "ENDPOINT security", UnitType: "Seats",
			Minimum: ptr[int64](96), Cap: 150, AutoRefill: true})
		require.NoError(t, err)
		require.Equal(t, f.p.Version+1, p.Version, "a change of the partner: its version grows by one")
		pools, err := e.m.Pools(e.ctx, id)
		require.NoError(t, err)
		require.Equal(t, []partner.Pool{{Product: "Endpoint Security", ProductID: eps.ID, UnitType: "seats", Units: 100, Used: 5,
			Remaining: 95, Minimum: 96, OwnMinimum: true, Low: true, Cap: 150, AutoRefill: true}}, pools)
		require.Equal(t, []partner.EventKind{partner.EventPoolSettingsChanged, partner.EventPoolBelowMinimum}, e.eventKinds(),
			"a minimum that leaves the pool low says so")
		audit, _, err := e.m.Audit(e.ctx, id, partner.Page{Limit: 1})
		require.NoError(t, err)
		require.Equal(t, []string{"pool Endpoint Security (seats)",
			"Minimum licences: Partner default → 96; Refill cap: 0 → 150; Automatic refill: Off → On"},
			[]string{audit[0].Target, audit[0].Summary()})

		e.requireNoWrite(t, id, "the same settings again", func() error {
			_, err := e.m.SetPoolSettings(e.ctx, id, 0, partner.PoolSettingsParams{Product: "Endpoint Security", Minimum: ptr[int64](96),
				Cap: 150, AutoRefill: true})
			return err
		})

		// Back to the partner's minimum: the pool follows it.
		_, err = e.m.SetPoolSettings(e.ctx, id, 0, partner.PoolSettingsParams{Product: "Endpoint Security", Cap: 150})
		require.NoError(t, err)
		_, err = e.m.SetMinimumLicenses(e.ctx, id, 0, 20)
		require.NoError(t, err)
		pools, err = e.m.Pools(e.ctx, id)
		require.NoError(t, err)
		require.Equal(t, []any{int64(20), false, false}, []any{pools[0].Minimum, pools[0].OwnMinimum, pools[0].Low})

		// A pool may be set before the partner has a licence of it.
		_, err = e.m.SetPoolSettings(e.ctx, id, 0, partner.PoolSettingsParams{Product: "server protection", Cap: 40})
		require.NoError(t, err)
		pools, err = e.m.Pools(e.ctx, id)
		require.NoError(t, err)
		require.Len(t, pools, 2)
		require.Equal(t, partner.Pool{Product: "Server Protection", ProductID: e.products["Server Protection"].ID, UnitType: "devices",
			Minimum: 20, Low: true, Cap: 40}, pools[1])
	})
}

func TestRefillPool(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		id := f.p.ID
		asPartner := partner.WithActor(context.Background(), "partner.admin")
		refill := func(in partner.RefillPoolParams) (license.License, error) { return e.m.RefillPool(asPartner, id, in) }
		email := partner.RefillPoolParams{Product: "Email Security", Key: "refill-1"}

		// The refusals, in the documented order.
		before := e.snapshot(t, id)
		_, err := refill(partner.RefillPoolParams{Product: "Email Security", Units: -1, Key: " bad"})
		e.requireRefused(t, id, before, err, partner.ErrInvalid, "units")
		require.Empty(t, cmp.Diff([]string{"units", license.KeyField}, fieldNames(partner.FieldErrors(err))))
		_, err = refill(email)
		e.requireRefused(t, id, before, err, partner.ErrRefillOff, "")
		_, err = e.m.SetPoolRefill(e.ctx, id, 0, true)
		require.NoError(t, err)
		before = e.snapshot(t, id)
		_, err = refill(email)
		e.requireRefused(t, id, before, err, partner.ErrNotFound, "product")
		g := grant(30)
		g.Product, g.UnitType, g.Kind, g.Expiry = "Email Security", "", license.Trial, t0.AddDate(0, 1, 0)
		g2 := g
		g2.Units, g2.Expiry = 10, t0.AddDate(0, 2, 0)
		res, err := e.m.AssignLicenses(e.ctx, id, partner.AssignLicensesParams{Grants: []license.Grant{g, g2}})
		require.NoError(t, err)
		_, err = e.m.Allocate(e.ctx, id, partner.AllocateParams{LicenseID: res.Licenses[0].ID, CustomerID: f.customer.ID, Units: 30})
		require.NoError(t, err)
		before = e.snapshot(t, id)
		_, err = refill(email)
		e.requireRefused(t, id, before, err, partner.ErrPoolNotDepleted, "")
		require.Contains(t, partner.ErrorReason(err), "still has 10 units remaining")
		_, err = e.m.Allocate(e.ctx, id, partner.AllocateParams{LicenseID: res.Licenses[1].ID, CustomerID: f.customer.ID, Units: 10})
		require.NoError(t, err)
		before = e.snapshot(t, id)
		_, err = refill(email)
		e.requireRefused(t, id, before, err, partner.ErrRefillOff, "")
		require.Contains(t, partner.ErrorReason(err), "its cap is 0")
		_, err = e.m.SetPoolSettings(e.ctx, id, 0, partner.PoolSettingsParams{Product: "Email Security", Cap: 60})
		require.NoError(t, err)
		before = e.snapshot(t, id)
		_, err = refill(partner.RefillPoolParams{Product: "Email Security", Units: 21})
		e.requireRefused(t, id, before, err, partner.ErrInsufficientUnits, "units")
		require.Equal(t, "a refill of 21 units would take Email Security (users) to 61 units, beyond its cap of 60", partner.ErrorReason(err))

		// Up to the cap: the new licence starts now and ends with the
		// latest licence of the pool, a Trial as all of them are.
		e.clock.Advance(time.Minute)
		e.resetEvents()
		l, err := refill(email)
		require.NoError(t, err)
		want := license.License{ID: l.ID, PartnerID: id, ProductID: e.products["Email Security"].ID, Product: "Email Security",
			UnitType: "users", Kind: license.Trial, Units: 20, Start: t0.Add(time.Minute), Expiry: t0.AddDate(0, 2, 0),
			GrantedUnits: 20, GrantedExpiry: t0.AddDate(0, 2, 0), GrantedKind: license.Trial, GrantKey: "refill-1",
			Origin: license.OriginTopUp, Version: 1, CreatedAt: t0.Add(time.Minute), UpdatedAt: t0.Add(time.Minute)}
		require.Empty(t, cmp.Diff(want, l))
		ev := e.lastEvent(t)
		require.Equal(t, []any{partner.EventPoolRefilled, partner.OpRefillPool, "partner.admin", l.ID},
			[]any{ev.Kind, ev.Op, ev.Actor, ev.LicenseID}, "the partner's action, the partner's actor")
		audit, _, err := e.m.Audit(e.ctx, id, partner.Page{Limit: 1})
		require.NoError(t, err)
		require.Equal(t, []any{partner.OpRefillPool, "partner.admin"}, []any{audit[0].Action, audit[0].Actor})

		// A retry with the key replays, whatever the partner's status now.
		_, err = e.m.Suspend(e.ctx, id, 0)
		require.NoError(t, err)
		e.requireNoWrite(t, id, "a replayed refill", func() error {
			got, err := refill(email)
			require.Empty(t, cmp.Diff(l, got))
			return err
		})
		_, err = refill(partner.RefillPoolParams{Product: "Email Security", Units: 20, Key: "refill-1"})
		requireErr(t, err, partner.ErrSuspended, "")
		_, err = e.m.Reactivate(e.ctx, id, 0)
		require.NoError(t, err)
		_, err = refill(partner.RefillPoolParams{Product: "Email Security", Units: 20, Key: "refill-1"})
		requireErr(t, err, partner.ErrDuplicate, license.KeyField) // the same key, another request
		_, err = e.m.AssignLicenses(e.ctx, id, partner.AssignLicensesParams{Key: "po-9", Grants: []license.Grant{grant(1)}})
		require.NoError(t, err)
		_, err = refill(partner.RefillPoolParams{Product: "Email Security", Key: "po-9"})
		requireErr(t, err, partner.ErrDuplicate, license.KeyField) // keys are shared with Assign Licenses

		// A pool that is at its cap refuses a top-up.
		_, err = e.m.Allocate(e.ctx, id, partner.AllocateParams{LicenseID: l.ID, CustomerID: f.customer.ID, Units: 20})
		require.NoError(t, err)
		_, err = refill(partner.RefillPoolParams{Product: "email security"})
		requireErr(t, err, partner.ErrInsufficientUnits, "units")
		require.Equal(t, "Email Security (users) is at its cap: 60 units provisioned, cap 60", partner.ErrorReason(err))
	})
}

// A refill of a pool with a Full licence is Full, for the units asked.
func TestRefillPoolFullAndGivenUnits(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.Reseller, partner.Active)
		l := e.depletedPool(f, "Server Protection", 8, 100)
		l2, err := e.m.RefillPool(e.ctx, f.p.ID, partner.RefillPoolParams{Product: "Server Protection", Units: 12})
		require.NoError(t, err)
		require.Equal(t, []any{license.Full, int64(12), l.Expiry, license.OriginRefill, "devices"},
			[]any{l2.Kind, l2.Units, l2.Expiry, l2.Origin, l2.UnitType})
		_, err = e.m.Allocate(e.ctx, f.p.ID, partner.AllocateParams{LicenseID: l2.ID, CustomerID: f.customer.ID, Units: 12})
		require.NoError(t, err, "the refill is usable at once")
	})
}

func TestAutoRefill(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active) // 95 remaining
		id := f.p.ID
		alloc := func(units int64) error {
			_, err := e.m.Allocate(partner.WithActor(context.Background(), "partner.tool"), id,
				partner.AllocateParams{LicenseID: f.lic.ID, CustomerID: f.customer.ID, Units: units})
			return err
		}
		_, err := e.m.SetMinimumLicenses(e.ctx, id, 0, 10)
		require.NoError(t, err)
		require.NoError(t, alloc(80)) // 15 remaining
		e.resetEvents()
		require.NoError(t, alloc(6), "off by default") // 9 remaining: low, no refill
		require.Equal(t, []partner.EventKind{partner.EventUnitsAllocated, partner.EventPoolBelowMinimum}, e.eventKinds())
		require.NoError(t, e.m.Release(e.ctx, id, f.alloc.ID)) // 14 remaining

		_, err = e.m.SetPoolSettings(e.ctx, id, 0, partner.PoolSettingsParams{Product: "Endpoint Security", AutoRefill: true})
		require.NoError(t, err)
		e.clock.Advance(time.Hour)
		e.resetEvents()
		require.NoError(t, alloc(5)) // 9 remaining: below the partner's 10
		require.Equal(t, []partner.EventKind{partner.EventUnitsAllocated, partner.EventPoolBelowMinimum, partner.EventPoolAutoRefilled},
			e.eventKinds(), "in the allocation's transaction")
		lics, _, err := e.m.Licenses(e.ctx, id, partner.Page{})
		require.NoError(t, err)
		require.Len(t, lics, 2)
		auto := lics[1]
		require.Equal(t, []any{int64(15), license.OriginAutoRefill, license.Full, t0.Add(time.Hour), f.lic.Expiry},
			[]any{auto.Units, auto.Origin, auto.Kind, auto.Start, auto.Expiry}, "1.5 × the minimum of 10")
		audit, _, err := e.m.Audit(e.ctx, id, partner.Page{Limit: 2})
		require.NoError(t, err)
		require.Equal(t, []any{partner.OpAutoRefill, "partner.tool", partner.OpAllocateUnits},
			[]any{audit[0].Action, audit[0].Actor, audit[1].Action})
		pools, err := e.m.Pools(e.ctx, id)
		require.NoError(t, err)
		require.Equal(t, []int64{24, 10}, []int64{pools[0].Remaining, pools[0].Minimum})

		// A pool's own minimum of 7: 1.5 × 7 rounded up is 11, within a cap
		// of 125 that leaves room for 10 only.
		_, err = e.m.SetPoolSettings(e.ctx, id, 0, partner.PoolSettingsParams{Product: "Endpoint Security", Minimum: ptr[int64](7),
			Cap: 125, AutoRefill: true})
		require.NoError(t, err)
		allocFrom := func(l license.License, units int64) (license.Allocation, error) {
			return e.m.Allocate(e.ctx, id, partner.AllocateParams{LicenseID: l.ID, CustomerID: f.customer.ID, Units: units})
		}
		_, err = allocFrom(f.lic, 9) // the first licence used up: 15 remaining
		require.NoError(t, err)
		_, err = allocFrom(auto, 9) // 6 remaining
		require.NoError(t, err)
		lics, total, err := e.m.Licenses(e.ctx, id, partner.Page{})
		require.NoError(t, err)
		require.Equal(t, 3, total)
		capped := lics[2]
		require.Equal(t, int64(10), capped.Units, "within the cap")
		last, err := allocFrom(capped, 10) // 6 remaining again, and the pool is at its cap
		require.NoError(t, err)
		_, total, err = e.m.Licenses(e.ctx, id, partner.Page{})
		require.NoError(t, err)
		require.Equal(t, 3, total, "no room under the cap: no refill")

		// A batch that fails after the allocation leaves no refill behind.
		require.NoError(t, e.m.Release(e.ctx, id, last.ID)) // 16 remaining
		_, err = e.m.SetPoolSettings(e.ctx, id, 0, partner.PoolSettingsParams{Product: "Endpoint Security", Minimum: ptr[int64](7), AutoRefill: true})
		require.NoError(t, err)
		before := e.snapshot(t, id)
		events := e.eventCount()
		err = e.m.RunInTx(e.ctx, func(ctx context.Context, tm *partner.Manager) error {
			if _, err := tm.Allocate(ctx, id, partner.AllocateParams{LicenseID: capped.ID, CustomerID: f.customer.ID, Units: 10}); err != nil {
				return err
			}
			in, _, err := tm.Licenses(ctx, id, partner.Page{})
			require.NoError(t, err)
			require.Len(t, in, 4, "the refill is in the batch")
			_, err = tm.AddCustomer(ctx, id, partner.CustomerParams{}) // refused
			return err
		})
		requireErr(t, err, partner.ErrInvalid, "customer name")
		require.Empty(t, cmp.Diff(before, e.snapshot(t, id)), "the refill went with the batch")
		require.Equal(t, events, e.eventCount(), "and no hook heard of it")
	})
}

// Concurrent allocations that each take a pool below its minimum refill it
// once per fall, never more: every allocation happens exactly once.
func TestAutoRefillUnderConcurrency(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active) // 95 remaining
		_, err := e.m.SetPoolSettings(e.ctx, f.p.ID, 0, partner.PoolSettingsParams{Product: "Endpoint Security",
			Minimum: ptr[int64](90), AutoRefill: true})
		require.NoError(t, err)
		ok, short := storetest.Race(t, 32, partner.ErrInsufficientUnits, func() error {
			_, err := e.m.Allocate(e.ctx, f.p.ID, partner.AllocateParams{LicenseID: f.lic.ID, CustomerID: f.customer.ID, Units: 3})
			return err
		})
		require.Equal(t, []int{31, 1}, []int{ok, short}, "95 remaining on the licence: 31 allocations of 3")
		lics, _, err := e.m.Licenses(e.ctx, f.p.ID, partner.Page{})
		require.NoError(t, err)
		require.Len(t, lics, 2, "one fall below 90, one refill")
		require.Equal(t, int64(135), lics[1].Units)
	})
}

// Many goroutines refilling one depleted pool at once: with one key, one
// licence and every caller learns of it; without a key, one refill and the
// others find the pool no longer depleted.
func TestRefillPoolUnderConcurrency(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		e.depletedPool(f, "Email Security", 5, 45)
		var mu sync.Mutex
		ids := map[int64]int{}
		ok, _ := storetest.Race(t, 16, errNeverRefill, func() error {
			l, err := e.m.RefillPool(e.ctx, f.p.ID, partner.RefillPoolParams{Product: "Email Security", Key: "same"})
			if err == nil {
				mu.Lock()
				ids[l.ID]++
				mu.Unlock()
			}
			return err
		})
		require.Equal(t, 16, ok, "the first refills, the others replay it")
		require.Len(t, ids, 1, "one licence")

		g := e.fixture(t, partner.Reseller, partner.Active)
		e.depletedPool(g, "Email Security", 5, 45)
		ok, notDepleted := storetest.Race(t, 16, partner.ErrPoolNotDepleted, func() error {
			_, err := e.m.RefillPool(e.ctx, g.p.ID, partner.RefillPoolParams{Product: "Email Security"})
			return err
		})
		require.Equal(t, []int{1, 15}, []int{ok, notDepleted})
		pools, err := e.m.Pools(e.ctx, g.p.ID)
		require.NoError(t, err)
		require.Equal(t, []int64{45, 40}, []int64{pools[1].Units, pools[1].Remaining}, "topped up to the cap once")
	})
}

var errNeverRefill = errors.New("never returned")

// PartnerPools reads what Get and Pools read, in one transaction, the
// partner's low pools counted from its pools: the same partner and pools
// on every store, low or not, and a missing partner is ErrNotFound.
func TestPartnerPoolsIsGetAndPools(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active) // Endpoint Security: 100 seats, 95 remaining
		id := f.p.ID
		check := func(wantLow int) {
			t.Helper()
			p, pools, err := e.m.PartnerPools(e.ctx, id)
			require.NoError(t, err)
			got, err := e.m.Get(e.ctx, id)
			require.NoError(t, err)
			want, err := e.m.Pools(e.ctx, id)
			require.NoError(t, err)
			require.Empty(t, cmp.Diff(got, p), "the partner, as Get reads it")
			require.Empty(t, cmp.Diff(want, pools), "the pools, as Pools reads them")
			require.Equal(t, wantLow, p.LowStockPools)
		}
		check(0)
		_, err := e.m.SetMinimumLicenses(e.ctx, id, 0, 200) // above the 95 remaining
		require.NoError(t, err)
		check(1)
		_, _, err = e.m.PartnerPools(e.ctx, id+1000)
		require.ErrorIs(t, err, partner.ErrNotFound)
	})
}
