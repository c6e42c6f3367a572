package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/partner"
)

// sortFixture makes six partners that every order of the list puts in a
// different sequence, and returns their ids by letter.
func sortFixture(t *testing.T, s partner.Store) map[string]int64 {
	specs := []struct {
		letter, name string
		typ          partner.Type
		status       partner.Status
		customers    int
		units, used  int64
		created      time.Duration
	}{
		{"A", "Zeta Systems", partner.MSP, partner.Active, 2, 10, 5, 0},
		{"B", "école Nord", partner.Reseller, partner.Suspended, 0, 0, 0, time.Second},
		{"C", "Ecole Sud", partner.MSP, partner.Canceled, 1, 4, 1, 2 * time.Second},
		{"D", "ábaco", partner.Reseller, partner.Active, 2, 3, 3, 3 * time.Second},
		{"E", "Straße Eins", partner.MSP, partner.Active, 0, 10, 1, -123456 * time.Microsecond}, // on the second: T0 has a fraction
		{"F", "strasse Zwei", partner.Reseller, partner.Suspended, 1, 0, 0, 5 * time.Second},
	}
	ids := map[string]int64{}
	update(t, s, func(tx partner.Tx) error {
		for _, sp := range specs {
			p := NewPartner(sp.name, sp.typ, sp.status)
			p.CreatedAt = T0.Add(sp.created)
			if err := tx.CreatePartner(ctx, &p); err != nil {
				return err
			}
			ids[sp.letter] = p.ID
			for i := range sp.customers {
				c := partner.Customer{PartnerID: p.ID, Name: fmt.Sprint("customer ", i), CreatedAt: T0}
				if err := tx.CreateCustomer(ctx, &c); err != nil {
					return err
				}
			}
			if sp.units > 0 {
				l := NewLicense(p.ID, sp.units)
				if err := tx.CreateLicense(ctx, &l); err != nil {
					return err
				}
				if _, err := tx.AdjustUsed(ctx, l.ID, sp.used); err != nil {
					return err
				}
			}
		}
		return nil
	})
	return ids
}

// testPartnerSort: every order of the list, ascending and descending,
// with its ties; a page of it; and the keyset walk of PartnersAfter,
// which gives the same sequence page by page.
func testPartnerSort(t *testing.T, s partner.Store) {
	ids := sortFixture(t, s)
	letters := map[int64]string{}
	for l, id := range ids {
		letters[id] = l
	}
	cases := []struct {
		sort      partner.SortBy
		asc, desc string
	}{
		{partner.SortID, "ABCDEF", "FEDCBA"},
		{partner.SortName, "DBCEFA", "AFECBD"},
		{partner.SortType, "CEADBF", "DBFCEA"},
		{partner.SortStatus, "DEABFC", "CBFDEA"},
		{partner.SortCustomers, "BECFDA", "DACFBE"},
		{partner.SortUsage, "BFECAD", "DACEBF"},
		{partner.SortCreated, "EABCDF", "FDCBAE"},
	}
	seq := func(ps []partner.Partner) string {
		var b []byte
		for _, p := range ps {
			b = append(b, letters[p.ID]...)
		}
		return string(b)
	}
	for _, tc := range cases {
		for _, desc := range []bool{false, true} {
			want := tc.asc
			if desc {
				want = tc.desc
			}
			t.Run(fmt.Sprintf("%s desc=%v", tc.sort, desc), func(t *testing.T) {
				f := partner.Filter{Sort: tc.sort, Desc: desc}
				view(t, s, func(r partner.Reader) error {
					all, total, err := r.Partners(ctx, f, AsOfT0)
					require.NoError(t, err)
					require.Equal(t, 6, total)
					require.Equal(t, want, seq(all))
					f.Page = partner.Page{Offset: 2, Limit: 3}
					page, total, err := r.Partners(ctx, f, AsOfT0)
					require.NoError(t, err)
					require.Equal(t, 6, total)
					require.Equal(t, want[2:5], seq(page))

					var walked []partner.Partner
					var after *partner.Partner
					for {
						batch, err := r.PartnersAfter(ctx, f, AsOfT0, after, 4)
						require.NoError(t, err)
						require.LessOrEqual(t, len(batch), 4)
						walked = append(walked, batch...)
						if len(batch) < 4 {
							break
						}
						after = &batch[len(batch)-1]
					}
					require.Equal(t, want, seq(walked), "the keyset walk")
					require.Empty(t, cmp.Diff(all, walked), "with the same figures")
					return nil
				})
			})
		}
	}
	t.Run("filtered walk", func(t *testing.T) {
		f := partner.Filter{Sort: partner.SortName, Type: partner.MSP}
		view(t, s, func(r partner.Reader) error {
			first, err := r.PartnersAfter(ctx, f, AsOfT0, nil, 1)
			require.NoError(t, err)
			require.Equal(t, "C", seq(first))
			rest, err := r.PartnersAfter(ctx, f, AsOfT0, &first[0], 10)
			require.NoError(t, err)
			require.Equal(t, "EA", seq(rest))
			// The position comes from the fields given: a cursor named like E
			// walks on from E's place, whatever its id.
			cursor := first[0]
			cursor.Profile.CompanyName = "STRASSE EINS"
			cursor.ID = ids["E"]
			rest, err = r.PartnersAfter(ctx, f, AsOfT0, &cursor, 10)
			require.NoError(t, err)
			require.Equal(t, "A", seq(rest))
			return nil
		})
	})
}

// testPartnerFigures: the licence figures of a page (low pools, expiring
// and expired licences) at an instant, the filters on them, on a product
// and on ids; Reader.Partner leaves them zero.
func testPartnerFigures(t *testing.T, s partner.Store) {
	p := NewPartner("Figures", partner.MSP, partner.Active)
	p.MinimumLicenses = 5
	update(t, s, func(tx partner.Tx) error { return tx.CreatePartner(ctx, &p) })
	q := createPartner(t, s, "Quiet", partner.MSP, partner.Active)
	r := createPartner(t, s, "Renewal due", partner.Reseller, partner.Active)
	day := 24 * time.Hour
	lic := func(partnerID int64, product, unitType string, units, used int64, start, expiry time.Time, disabled bool, productID int64) {
		t.Helper()
		l := NewLicense(partnerID, units)
		l.Product, l.UnitType, l.Start, l.Expiry, l.GrantedExpiry, l.ProductID = product, unitType, start, expiry, expiry, productID
		l.Disabled = disabled
		if disabled {
			l.DisabledAt = T0
		}
		update(t, s, func(tx partner.Tx) error {
			if err := tx.CreateLicense(ctx, &l); err != nil {
				return err
			}
			_, err := tx.AdjustUsed(ctx, l.ID, used)
			return err
		})
	}
	year := T0.AddDate(1, 0, 0)
	// Endpoint Security: 3 remaining; its own minimum of 1 overrides the partner's 5: not low.
	lic(p.ID, "Endpoint Security", "seats", 10, 8, T0.Add(-day), year, false, 7)
	lic(p.ID, "Endpoint Security", "seats", 1, 0, T0.Add(-day), T0.Add(30*day), false, 7) // ends with the window: not expiring
	// Email Security: 20 remaining, settings without a minimum: the partner's 5, not low.
	lic(p.ID, "Email Security", "users", 20, 0, T0.Add(-day), T0.Add(10*day), false, 0) // expiring
	lic(p.ID, "Email Security", "users", 5, 0, T0.Add(-2*day), T0.Add(-day), true, 0)   // disabled and expired: neither
	// Archive: 4 remaining, below the partner's 5: low.
	lic(p.ID, "Archive", "seats", 4, 0, T0.Add(-day), year, false, 0)
	// Backup: no usable licence (not started yet), settings with a minimum of 3: low.
	lic(p.ID, "Backup", "seats", 10, 0, T0.Add(day), year, false, 0)
	// Zero: depleted, but its own minimum is 0: not low.
	lic(p.ID, "Zero", "seats", 3, 3, T0.Add(-day), year, false, 0)
	// Server: expired licences, no settings: no pool.
	lic(p.ID, "Server", "devices", 5, 0, T0.Add(-10*day), T0.Add(-2*day), false, 0) // expired
	lic(p.ID, "Server", "devices", 5, 0, T0.Add(-10*day), T0, false, 0)             // expires now: expired
	lic(r.ID, "Endpoint Security", "seats", 5, 0, T0.Add(-day), T0.Add(29*day), false, 8)
	update(t, s, func(tx partner.Tx) error {
		for _, ps := range []partner.PoolSettings{
			{Product: "Endpoint Security", UnitType: "seats", ProductID: 7, Minimum: 1, MinimumSet: true},
			{Product: "Email Security", UnitType: "users", Cap: 100},
			{Product: "Backup", UnitType: "seats", Minimum: 3, MinimumSet: true},
			{Product: "Zero", UnitType: "seats", Minimum: 0, MinimumSet: true},
		} {
			ps.PartnerID, ps.UpdatedAt = p.ID, T0
			if err := tx.PutPoolSettings(ctx, &ps); err != nil {
				return err
			}
		}
		return nil
	})

	type figures struct{ Low, Expiring, Expired int }
	of := func(ps []partner.Partner) map[string]figures {
		out := map[string]figures{}
		for _, p := range ps {
			out[p.Profile.CompanyName] = figures{p.LowStockPools, p.ExpiringLicenses, p.ExpiredLicenses}
		}
		return out
	}
	list := func(f partner.Filter, at partner.AsOf) map[string]figures {
		t.Helper()
		var got map[string]figures
		view(t, s, func(rd partner.Reader) error {
			ps, total, err := rd.Partners(ctx, f, at)
			require.Len(t, ps, total)
			got = of(ps)
			return err
		})
		return got
	}
	want := map[string]figures{"Figures": {2, 1, 2}, "Quiet": {}, "Renewal due": {0, 1, 0}}
	require.Empty(t, cmp.Diff(want, list(partner.Filter{}, AsOfT0)))
	require.Empty(t, cmp.Diff(map[string]figures{"Figures": {2, 1, 2}}, list(partner.Filter{Attention: partner.AttentionLowStock}, AsOfT0)))
	expiring := map[string]figures{"Figures": {2, 1, 2}, "Renewal due": {0, 1, 0}}
	require.Empty(t, cmp.Diff(expiring, list(partner.Filter{Attention: partner.AttentionExpiring}, AsOfT0)))
	require.Empty(t, cmp.Diff(expiring, list(partner.Filter{Attention: partner.AttentionAny}, AsOfT0)))
	require.Empty(t, cmp.Diff(map[string]figures{"Figures": {2, 1, 2}}, list(partner.Filter{ProductID: 7}, AsOfT0)))
	require.Empty(t, cmp.Diff(map[string]figures{}, list(partner.Filter{ProductID: 9}, AsOfT0)))
	require.Empty(t, cmp.Diff(map[string]figures{"Quiet": {}, "Renewal due": {0, 1, 0}}, list(partner.Filter{IDs: []int64{q.ID, r.ID}}, AsOfT0)))
	require.Empty(t, cmp.Diff(map[string]figures{"Renewal due": {0, 1, 0}},
		list(partner.Filter{IDs: []int64{q.ID, r.ID}, Attention: partner.AttentionAny}, AsOfT0)))

	// Two days later with a 60-day window: Backup has started (10
	// remaining, its minimum 3: not low), the partner's second Endpoint
	// Security licence and Renewal due's licence are within the window,
	// and nothing more has expired.
	later := partner.AsOf{Now: T0.Add(2 * day), Window: 60 * day}
	require.Empty(t, cmp.Diff(map[string]figures{"Figures": {1, 2, 2}, "Quiet": {}, "Renewal due": {0, 1, 0}}, list(partner.Filter{}, later)))
	// Half a year on, the Email Security licence has expired too: that
	// pool has no usable licence, but its settings keep it, empty, below
	// the partner's minimum; Archive is still low.
	require.Empty(t, cmp.Diff(map[string]figures{"Figures": {2, 0, 4}, "Quiet": {}, "Renewal due": {0, 0, 1}},
		list(partner.Filter{}, partner.AsOf{Now: T0.AddDate(0, 6, 0), Window: day})))

	view(t, s, func(rd partner.Reader) error {
		got, err := rd.Partner(ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, figures{}, figures{got.LowStockPools, got.ExpiringLicenses, got.ExpiredLicenses},
			"Reader.Partner leaves the licence figures zero")
		ps, _, err := rd.Partners(ctx, partner.Filter{IDs: []int64{p.ID}}, AsOfT0)
		require.NoError(t, err)
		got.LowStockPools, got.ExpiringLicenses, got.ExpiredLicenses = 2, 1, 2
		require.Empty(t, cmp.Diff(got, ps[0]), "the other fields are the same")
		return nil
	})
}
