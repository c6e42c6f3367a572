package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
)

// readTests check the reads a console screen makes for one page: a
// partner's row without its derived figures, a page of its accounts, and
// its pools summed by the store.
var readTests = []struct {
	name string
	fn   func(*testing.T, partner.Store)
}{
	{"Partners/RecordWithoutDerivedFigures", testPartnerRecord},
	{"Accounts/PagedByID", testAccountsPaged},
	{"Pools/SummedByTheStore", testPoolsSummed},
	{"Pools/TotalsAfterEveryLicenceWrite", testTotalsAfterWrites},
	{"Partners/SearchShortLiteralAndRenamed", testSearchShortLiteral},
}

// testSearchShortLiteral: the name search finds the folded names that
// contain the folded query, for queries shorter than an index's trigrams
// (1 and 2 characters), for LIKE's and FTS5's special characters taken
// literally (%, _, \, the double quote, a star), and for a partner renamed
// after it was created (the old name no longer matches).
func testSearchShortLiteral(t *testing.T, s partner.Store) {
	names := []string{"Zeta 100% Services_", "Ab", "a_b Co", `Quote "Q" Ltd`, `Back\slash`, "Star* Net", "ΣΊΣΥΦΟΣ", "Old Name"}
	ps := make([]partner.Partner, len(names))
	for i, n := range names {
		ps[i] = createPartner(t, s, n, partner.MSP, partner.Active)
	}
	renamed := ps[len(ps)-1]
	renamed.Profile.CompanyName = "New Title"
	update(t, s, func(tx partner.Tx) error { return tx.UpdatePartner(ctx, &renamed) })
	names[len(names)-1] = "New Title"
	for _, q := range []string{"a", "A", "%", "_", "_b", "0%", "% S", `\s`, `\`, `"`, `"Q"`, `q" l`, "*", "r* n", "σ", "σύ", "σίσυφος", "old", "title", "nope", "ab"} {
		var want []string
		for _, n := range names {
			if strings.Contains(partner.FoldName(n), partner.FoldName(q)) {
				want = append(want, n)
			}
		}
		view(t, s, func(r partner.Reader) error {
			got, total, err := r.Partners(ctx, partner.Filter{Name: q, Page: partner.Page{Limit: 50}}, AsOfT0)
			require.NoError(t, err)
			var have []string
			for _, p := range got {
				have = append(have, p.Profile.CompanyName)
			}
			require.Empty(t, cmp.Diff(want, have), "query %q", q)
			require.Equal(t, len(want), total, "query %q", q)
			return nil
		})
	}
	view(t, s, func(r partner.Reader) error {
		for q, n := range map[string]int{"%": 1, `"q"`: 1, "title": 1, "old": 0, "σίσυφος": 1, "_b": 1, `\`: 1} {
			_, total, err := r.Partners(ctx, partner.Filter{Name: q, Page: partner.Page{Limit: 50}}, AsOfT0)
			require.NoError(t, err)
			require.Equal(t, n, total, "query %q", q)
		}
		return nil
	})
}

// testPartnerRecord: PartnerRecord returns the stored fields as
// LockPartner does, with every derived figure zero, and ErrNotFound for
// an id no partner has.
func testPartnerRecord(t *testing.T, s partner.Store) {
	p := createPartner(t, s, "Acme", partner.MSP, partner.Active)
	createLicense(t, s, p.ID, 10)
	c := partner.Customer{PartnerID: p.ID, Name: "Customer", CreatedAt: T0}
	update(t, s, func(tx partner.Tx) error { return tx.CreateCustomer(ctx, &c) })
	var locked partner.Partner
	update(t, s, func(tx partner.Tx) (err error) { locked, err = tx.LockPartner(ctx, p.ID); return err })
	view(t, s, func(r partner.Reader) error {
		got, err := r.PartnerRecord(ctx, p.ID)
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(locked, got))
		require.Zero(t, got.Customers)
		require.Zero(t, got.UnitsProvisioned)
		full, err := r.Partner(ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, 1, full.Customers, "the full read derives what the record leaves out")
		_, err = r.PartnerRecord(ctx, p.ID+1000)
		requireKind(t, err, partner.ErrNotFound, "")
		return nil
	})
}

// testAccountsPaged: Accounts returns a page of the partner's accounts
// by id, with the number of the partner's accounts, another partner's
// never among them.
func testAccountsPaged(t *testing.T, s partner.Store) {
	p := createPartner(t, s, "Acme", partner.MSP, partner.Active)
	q := createPartner(t, s, "Other", partner.MSP, partner.Active)
	var names []string
	update(t, s, func(tx partner.Tx) error {
		for i := range 7 {
			for _, owner := range []int64{p.ID, q.ID} {
				a := newAccount(owner, fmt.Sprintf("user%d.%d", i, owner), account.SupportEngineer)
				if err := tx.CreateAccount(ctx, &a); err != nil {
					return err
				}
				if owner == p.ID {
					names = append(names, a.Name)
				}
			}
		}
		return nil
	})
	for _, tc := range []struct {
		page partner.Page
		want []string
	}{
		{partner.Page{Limit: 3}, names[:3]},
		{partner.Page{Offset: 3, Limit: 3}, names[3:6]},
		{partner.Page{Offset: 6, Limit: 3}, names[6:]},
		{partner.Page{Offset: 9, Limit: 3}, nil},
		{partner.Page{}, names},
	} {
		view(t, s, func(r partner.Reader) error {
			got, total, err := r.Accounts(ctx, p.ID, tc.page)
			require.NoError(t, err)
			var have []string
			for _, a := range got {
				require.Equal(t, p.ID, a.PartnerID)
				have = append(have, a.Name)
			}
			require.Empty(t, cmp.Diff(tc.want, have), "page %+v", tc.page)
			require.Equal(t, 7, total, "page %+v", tc.page)
			return nil
		})
	}
	view(t, s, func(r partner.Reader) error {
		got, total, err := r.Accounts(ctx, p.ID+q.ID+1000, partner.Page{Limit: 3})
		require.NoError(t, err)
		require.Empty(t, got)
		require.Zero(t, total)
		return nil
	})
}

// poolSums is the Go computation Reader.Pools must agree with: the
// licences usable at now (not disabled, start <= now < expiry), summed by
// product and unit type in the order of each pool's lowest id, the
// product id the largest of the pool's.
func poolSums(lics []license.License, now time.Time) []partner.Pool {
	var out []partner.Pool
	at := map[[2]string]int{}
	for _, l := range lics {
		if l.Disabled || now.Before(l.Start) || !now.Before(l.Expiry) {
			continue
		}
		k := [2]string{l.Product, l.UnitType}
		i, ok := at[k]
		if !ok {
			i = len(out)
			at[k] = i
			out = append(out, partner.Pool{Product: l.Product, UnitType: l.UnitType})
		}
		out[i].Units += l.Units
		out[i].Used += l.Used
		out[i].ProductID = max(out[i].ProductID, l.ProductID)
	}
	return out
}

// testPoolsSummed: Pools sums the usable licences by pool as the Go
// computation does, on data that tests each rule: disabled, not started
// yet, started at the instant, expired at the instant, expiring a
// microsecond later, several unit types of one product, an uncatalogued
// pool beside a catalogued one of the same name, used units, and another
// partner's licences.
func testPoolsSummed(t *testing.T, s partner.Store) {
	p := createPartner(t, s, "Acme", partner.MSP, partner.Active)
	q := createPartner(t, s, "Other", partner.MSP, partner.Active)
	prod := createProduct(t, s, "Backup")
	lic := func(owner int64, product string, productID int64, unitType string, units, used int64, start, expiry time.Time, disabled bool) {
		l := NewLicense(owner, units)
		l.Product, l.ProductID, l.UnitType, l.Start, l.Expiry = product, productID, unitType, start, expiry
		l.GrantedExpiry = expiry
		update(t, s, func(tx partner.Tx) error {
			if err := tx.CreateLicense(ctx, &l); err != nil {
				return err
			}
			if used > 0 {
				if _, err := tx.AdjustUsed(ctx, l.ID, used); err != nil {
					return err
				}
			}
			if disabled {
				l.Disabled, l.DisabledAt = true, T0
				return tx.UpdateLicense(ctx, &l)
			}
			return nil
		})
	}
	past, future := T0.AddDate(0, -1, 0), T0.AddDate(1, 0, 0)
	lic(p.ID, "Endpoint Security", 0, "seats", 10, 3, past, future, false)                    // usable
	lic(p.ID, "Backup", prod.ID, "GB", 100, 40, past, future, false)                          // usable, another pool first seen second
	lic(p.ID, "Endpoint Security", 0, "seats", 50, 0, past, future, true)                     // disabled
	lic(p.ID, "Endpoint Security", 0, "seats", 20, 0, T0.Add(time.Hour), future, false)       // not started
	lic(p.ID, "Endpoint Security", 0, "seats", 7, 2, T0, future, false)                       // starts at the instant: usable
	lic(p.ID, "Endpoint Security", 0, "seats", 30, 30, past, T0, false)                       // expired at the instant
	lic(p.ID, "Endpoint Security", 0, "devices", 5, 1, past, T0.Add(time.Microsecond), false) // another unit type, expiring a microsecond later
	lic(p.ID, "Backup", 0, "GB", 8, 0, past, future, false)                                   // uncatalogued, same pool by name
	lic(p.ID, "Archive", 0, "GB", 9, 0, past, T0.Add(-time.Hour), false)                      // only expired: no pool
	lic(q.ID, "Endpoint Security", 0, "seats", 1000, 5, past, future, false)                  // another partner's

	view(t, s, func(r partner.Reader) error {
		lics, _, err := r.Licenses(ctx, p.ID, partner.Page{})
		require.NoError(t, err)
		want := poolSums(lics, T0)
		require.Len(t, want, 3, "the fixture's pools: seats, GB and devices")
		got, err := r.Pools(ctx, p.ID, T0)
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(want, got))
		require.Equal(t, partner.Pool{Product: "Endpoint Security", UnitType: "seats", Units: 17, Used: 5}, got[0])
		require.Equal(t, partner.Pool{Product: "Backup", UnitType: "GB", ProductID: prod.ID, Units: 108, Used: 40}, got[1])

		// An hour later the not-started licence counts and the devices have expired.
		later := T0.Add(time.Hour)
		got, err = r.Pools(ctx, p.ID, later)
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(poolSums(lics, later), got))
		require.Len(t, got, 2)
		require.Equal(t, int64(37), got[0].Units)

		got, err = r.Pools(ctx, p.ID+q.ID+1000, T0)
		require.NoError(t, err)
		require.Empty(t, got, "no such partner: no pools")
		return nil
	})
}

// testTotalsAfterWrites: after each kind of licence write — creating,
// AdjustUsed up and down, a refused AdjustUsed, UpdateLicense of units,
// of the expiry, disabling and enabling again, EndLicenses, and a
// transaction rolled back — the partner's UnitsProvisioned, UnitsUsed
// and LowStockPools (Partners) and its pools (Pools) agree with their Go
// recomputation from the licences, at instants before, at and after the
// licences' dates; another partner's figures never move.
func testTotalsAfterWrites(t *testing.T, s partner.Store) {
	pr := NewPartner("Acme", partner.MSP, partner.Active)
	pr.MinimumLicenses = 6
	update(t, s, func(tx partner.Tx) error { return tx.CreatePartner(ctx, &pr) })
	q := createPartner(t, s, "Other", partner.MSP, partner.Active)
	prod := createProduct(t, s, "Backup")
	update(t, s, func(tx partner.Tx) error {
		ps := partner.PoolSettings{PartnerID: pr.ID, Product: "Backup", UnitType: "GB", ProductID: prod.ID,
			Minimum: 50, MinimumSet: true, UpdatedAt: T0}
		return tx.PutPoolSettings(ctx, &ps)
	})
	other := createLicense(t, s, q.ID, 1000)
	instants := []time.Time{T0.Add(-48 * time.Hour), T0, T0.Add(time.Hour), T0.AddDate(2, 0, 0)}
	check := func(step string) {
		t.Helper()
		view(t, s, func(r partner.Reader) error {
			lics, _, err := r.Licenses(ctx, pr.ID, partner.Page{})
			require.NoError(t, err)
			sets, err := r.PoolSettings(ctx, pr.ID)
			require.NoError(t, err)
			page, total, err := r.Licenses(ctx, pr.ID, partner.Page{Offset: 1, Limit: 2})
			require.NoError(t, err)
			require.Equal(t, len(lics), total, "%s: the number of licences", step)
			require.Len(t, page, min(2, max(0, len(lics)-1)), "%s: the page", step)
			var units, used int64
			for _, l := range lics {
				units, used = units+l.Units, used+l.Used
			}
			for _, now := range instants {
				want := poolSums(lics, now)
				got, err := r.Pools(ctx, pr.ID, now)
				require.NoError(t, err)
				require.Empty(t, cmp.Diff(want, got, cmpopts.EquateEmpty()), "%s: pools at %v", step, now)
				low := lowPools(want, sets, pr.MinimumLicenses)
				ps, _, err := r.Partners(ctx, partner.Filter{IDs: []int64{pr.ID, q.ID}, Page: partner.Page{Limit: 10}},
					partner.AsOf{Now: now, Window: AsOfT0.Window})
				require.NoError(t, err)
				require.Len(t, ps, 2)
				type figures struct {
					Units, Used int64
					Low         int
				}
				require.Empty(t, cmp.Diff(figures{units, used, low}, figures{ps[0].UnitsProvisioned, ps[0].UnitsUsed, ps[0].LowStockPools}),
					"%s: the partner's figures at %v", step, now)
				require.Equal(t, figures{1000, 7, 0}, figures{ps[1].UnitsProvisioned, ps[1].UnitsUsed, ps[1].LowStockPools},
					"%s: another partner's figures at %v", step, now)
			}
			got, err := r.Partner(ctx, pr.ID)
			require.NoError(t, err)
			require.Equal(t, [2]int64{units, used}, [2]int64{got.UnitsProvisioned, got.UnitsUsed}, "%s: Partner", step)
			return nil
		})
	}
	update(t, s, func(tx partner.Tx) error { _, err := tx.AdjustUsed(ctx, other.ID, 7); return err })

	mk := func(product string, productID int64, unitType string, units int64, start, expiry time.Time) license.License {
		l := NewLicense(pr.ID, units)
		l.Product, l.ProductID, l.UnitType, l.Start, l.Expiry, l.GrantedExpiry = product, productID, unitType, start, expiry, expiry
		update(t, s, func(tx partner.Tx) error { return tx.CreateLicense(ctx, &l) })
		return l
	}
	past, future := T0.AddDate(0, -1, 0), T0.AddDate(1, 0, 0)
	check("no licence")
	seats := mk("Endpoint Security", 0, "seats", 10, past, future)
	gb := mk("Backup", prod.ID, "GB", 100, past, future)
	later := mk("Endpoint Security", 0, "seats", 20, T0.Add(time.Hour), future)
	gone := mk("Endpoint Security", 0, "seats", 30, past, T0)
	old := mk("Backup", 0, "GB", 8, past, future)
	check("created")

	adjust := func(l *license.License, delta int64) {
		update(t, s, func(tx partner.Tx) (err error) { *l, err = tx.AdjustUsed(ctx, l.ID, delta); return err })
	}
	adjust(&seats, 4)
	adjust(&gb, 60)
	adjust(&later, 5)
	adjust(&gone, 30)
	check("used added")
	adjust(&seats, -1)
	adjust(&gone, -10)
	check("used given back")
	err := s.Update(ctx, func(_ context.Context, tx partner.Tx) error { _, err := tx.AdjustUsed(ctx, seats.ID, 100); return err })
	requireKind(t, err, partner.ErrInsufficientUnits, "")
	check("refused AdjustUsed")

	upd := func(l *license.License, change func(*license.License)) {
		change(l)
		update(t, s, func(tx partner.Tx) error { return tx.UpdateLicense(ctx, l) })
	}
	upd(&seats, func(l *license.License) { l.Units = 25 })
	upd(&gb, func(l *license.License) { l.Units = 61 })
	check("units changed")
	upd(&old, func(l *license.License) { l.Expiry = T0.Add(-time.Minute) })
	upd(&gone, func(l *license.License) { l.Expiry = future })
	check("expiry changed")
	upd(&gb, func(l *license.License) { l.Disabled, l.DisabledAt = true, T0 })
	upd(&later, func(l *license.License) { l.Disabled, l.DisabledAt = true, T0 })
	check("disabled")
	upd(&later, func(l *license.License) { l.Disabled, l.DisabledAt = false, time.Time{} })
	check("enabled again")

	err = s.Update(ctx, func(_ context.Context, tx partner.Tx) error {
		l := NewLicense(pr.ID, 500)
		if err := tx.CreateLicense(ctx, &l); err != nil {
			return err
		}
		if _, err := tx.AdjustUsed(ctx, l.ID, 10); err != nil {
			return err
		}
		if _, err := tx.AdjustUsed(ctx, seats.ID, 3); err != nil {
			return err
		}
		return errRolledBack
	})
	require.ErrorIs(t, err, errRolledBack)
	check("rolled back")

	update(t, s, func(tx partner.Tx) error { _, _, err := tx.EndLicenses(ctx, pr.ID, T0.Add(30*time.Minute)); return err })
	check("ended")
}

var errRolledBack = fmt.Errorf("storetest: rolled back on purpose")

// lowPools counts the pools Partners' LowStockPools counts: the pools
// with a usable licence (sums) or with settings whose minimum (their own
// when set, else the partner's) is above their remaining units.
func lowPools(sums []partner.Pool, sets []partner.PoolSettings, minimum int64) int {
	remaining := map[[2]string]int64{}
	for _, p := range sums {
		remaining[[2]string{p.Product, p.UnitType}] = p.Units - p.Used
	}
	for _, ps := range sets {
		k := [2]string{ps.Product, ps.UnitType}
		remaining[k] += 0
	}
	n := 0
	for k, rem := range remaining {
		m := minimum
		for _, ps := range sets {
			if ps.MinimumSet && ps.Product == k[0] && ps.UnitType == k[1] {
				m = ps.Minimum
			}
		}
		if m > rem {
			n++
		}
	}
	return n
}
