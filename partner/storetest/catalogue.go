package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
)

// NewProduct returns a catalogue product ready for Tx.CreateProduct.
func NewProduct(name, unitType string, trialDays int) license.Product {
	return license.Product{Name: name, UnitType: unitType, TrialOffered: trialDays > 0, TrialDays: trialDays,
		CreatedAt: T0, UpdatedAt: T0}
}

func createProduct(t *testing.T, s partner.Store, name string) license.Product {
	t.Helper()
	p := NewProduct(name, license.Seats, 30)
	update(t, s, func(tx partner.Tx) error { return tx.CreateProduct(ctx, &p) })
	return p
}

// testLicenseKindOrigin: a licence keeps its product id, origin and
// granted kind; empty ones are stored as the defaults; UpdateLicense
// stores the kind and leaves the granted kind alone.
func testLicenseKindOrigin(t *testing.T, s partner.Store) {
	p := createPartner(t, s, "Acme", partner.MSP, partner.Active)
	prod := createProduct(t, s, "Endpoint Security")
	plain := createLicense(t, s, p.ID, 10)
	require.Equal(t, license.OriginAssigned, plain.Origin, "an empty origin is stored as assigned")
	require.Equal(t, license.Full, plain.GrantedKind, "an empty granted kind is the kind")

	trial := NewLicense(p.ID, 5)
	trial.ProductID, trial.Kind, trial.GrantedKind, trial.Origin, trial.GrantKey = prod.ID, license.Trial, license.Trial, license.OriginTopUp, "k-1"
	update(t, s, func(tx partner.Tx) error { return tx.CreateLicense(ctx, &trial) })

	next := trial
	next.Kind, next.Expiry, next.UpdatedAt = license.Full, trial.Expiry.AddDate(0, 6, 0), T0.Add(time.Hour)
	update(t, s, func(tx partner.Tx) error { return tx.UpdateLicense(ctx, &next) })
	require.Equal(t, license.Full, next.Kind)
	require.Equal(t, license.Trial, next.GrantedKind, "the granted kind never changes")
	require.Equal(t, int64(2), next.Version)

	view(t, s, func(r partner.Reader) error {
		got, err := r.License(ctx, trial.ID)
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(next, got))
		keyed, err := r.LicensesByGrantKey(ctx, p.ID, "k-1")
		require.NoError(t, err)
		require.Empty(t, cmp.Diff([]license.License{next}, keyed))
		all, _, err := r.Licenses(ctx, p.ID, partner.Page{})
		require.NoError(t, err)
		require.Empty(t, cmp.Diff([]license.License{plain, next}, all))
		return nil
	})
}

func testProductsUnique(t *testing.T, s partner.Store) {
	star := createProduct(t, s, "ſtar Endpoint")
	greek := createProduct(t, s, "Οδός Σας")
	update(t, s, func(tx partner.Tx) error {
		for _, name := range []string{"STAR ENDPOINT", "οδός σασ"} {
			dup := NewProduct(name, license.Users, 0)
			requireKind(t, tx.CreateProduct(ctx, &dup), partner.ErrDuplicate, "name")
		}
		renamed := star
		renamed.Name = "ΟΔΌΣ ΣΑΣ"
		requireKind(t, tx.UpdateProduct(ctx, &renamed), partner.ErrDuplicate, "name")
		return nil // the refused writes left the transaction usable
	})
	view(t, s, func(r partner.Reader) error {
		for name, want := range map[string]license.Product{"STAR endpoint": star, "ΟΔΌΣ ΣΑΣ": greek} {
			got, err := r.ProductByName(ctx, name)
			require.NoError(t, err, name)
			require.Empty(t, cmp.Diff(want, got), name)
		}
		_, err := r.ProductByName(ctx, "Email Security")
		require.ErrorIs(t, err, partner.ErrNotFound)
		_, err = r.Product(ctx, 999)
		require.ErrorIs(t, err, partner.ErrNotFound)
		_, total, err := r.Products(ctx, partner.Page{})
		require.NoError(t, err)
		require.Equal(t, 2, total, "the refused products were not added")
		return nil
	})

	stale := greek
	stale.Version = 7
	err := s.Update(ctx, func(ctx context.Context, tx partner.Tx) error { return tx.UpdateProduct(ctx, &stale) })
	requireKind(t, err, partner.ErrConflict, "")
	ghost := NewProduct("Ghost", license.Seats, 0)
	ghost.ID, ghost.Version = 999, 1
	err = s.Update(ctx, func(ctx context.Context, tx partner.Tx) error { return tx.UpdateProduct(ctx, &ghost) })
	requireKind(t, err, partner.ErrNotFound, "")
}

// testProductsOrder: the catalogue lists by folded name, byte by byte,
// then by id, with paging and the total.
func testProductsOrder(t *testing.T, s partner.Store) {
	for _, name := range []string{"zeta", "Alpha", "école", "Beta", "ZETA 2", "alpha 2"} {
		createProduct(t, s, name)
	}
	names := func(pg partner.Page) ([]string, int) {
		var out []string
		var total int
		view(t, s, func(r partner.Reader) error {
			ps, n, err := r.Products(ctx, pg)
			for _, p := range ps {
				out = append(out, p.Name)
			}
			total = n
			return err
		})
		return out, total
	}
	all, total := names(partner.Page{})
	require.Equal(t, 6, total)
	require.Empty(t, cmp.Diff([]string{"Alpha", "alpha 2", "Beta", "zeta", "ZETA 2", "école"}, all),
		"folded names in byte order: é sorts after z")
	page, total := names(partner.Page{Offset: 2, Limit: 3})
	require.Equal(t, 6, total)
	require.Empty(t, cmp.Diff([]string{"Beta", "zeta", "ZETA 2"}, page))
}

// testProductRename: a new name is written to the product's licences and
// pool settings, without a change of their version; others keep theirs.
func testProductRename(t *testing.T, s partner.Store) {
	p := createPartner(t, s, "Acme", partner.MSP, partner.Active)
	prod := createProduct(t, s, "Endpoint Security")
	other := createProduct(t, s, "Email Security")
	mine := NewLicense(p.ID, 10)
	mine.ProductID = prod.ID
	theirs := NewLicense(p.ID, 10)
	theirs.ProductID, theirs.Product = other.ID, other.Name
	legacy := NewLicense(p.ID, 10) // same name, but uncatalogued
	set := partner.PoolSettings{PartnerID: p.ID, Product: prod.Name, UnitType: "seats", ProductID: prod.ID, Cap: 50, UpdatedAt: T0}
	legacySet := partner.PoolSettings{PartnerID: p.ID, Product: "Old Thing", UnitType: "seats", Cap: 5, UpdatedAt: T0}
	update(t, s, func(tx partner.Tx) error {
		for _, l := range []*license.License{&mine, &theirs, &legacy} {
			if err := tx.CreateLicense(ctx, l); err != nil {
				return err
			}
		}
		if err := tx.PutPoolSettings(ctx, &set); err != nil {
			return err
		}
		return tx.PutPoolSettings(ctx, &legacySet)
	})
	renamed := prod
	renamed.Name, renamed.UpdatedAt = "Endpoint Protection", T0.Add(time.Hour)
	renamed.UnitType = license.Devices // the unit type is fixed at creation
	update(t, s, func(tx partner.Tx) error { return tx.UpdateProduct(ctx, &renamed) })
	require.Equal(t, int64(2), renamed.Version)
	require.Equal(t, license.Seats, renamed.UnitType, "UpdateProduct keeps the unit type")

	wantMine := mine
	wantMine.Product = "Endpoint Protection"
	wantSet := set
	wantSet.Product = "Endpoint Protection"
	view(t, s, func(r partner.Reader) error {
		got, err := r.Product(ctx, prod.ID)
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(renamed, got))
		lics, _, err := r.Licenses(ctx, p.ID, partner.Page{})
		require.NoError(t, err)
		require.Empty(t, cmp.Diff([]license.License{wantMine, theirs, legacy}, lics))
		sets, err := r.PoolSettings(ctx, p.ID)
		require.NoError(t, err)
		require.Empty(t, cmp.Diff([]partner.PoolSettings{wantSet, legacySet}, sets))
		_, err = r.ProductByName(ctx, "endpoint security")
		require.ErrorIs(t, err, partner.ErrNotFound, "the old name is free")
		return nil
	})
}

func testPoolSettings(t *testing.T, s partner.Store) {
	p := createPartner(t, s, "Acme", partner.MSP, partner.Active)
	q := createPartner(t, s, "Other", partner.MSP, partner.Active)
	seats := partner.PoolSettings{PartnerID: p.ID, Product: "Endpoint", UnitType: "seats", ProductID: 4, Minimum: 0, MinimumSet: true,
		Cap: 100, AutoRefill: true, UpdatedAt: T0}
	users := partner.PoolSettings{PartnerID: p.ID, Product: "Endpoint", UnitType: "users", Cap: 0, UpdatedAt: T0}
	email := partner.PoolSettings{PartnerID: p.ID, Product: "Email", UnitType: "seats", Minimum: 7, MinimumSet: true, UpdatedAt: T0}
	theirs := partner.PoolSettings{PartnerID: q.ID, Product: "Endpoint", UnitType: "seats", Cap: 9, UpdatedAt: T0}
	update(t, s, func(tx partner.Tx) error {
		for _, x := range []*partner.PoolSettings{&email, &users, &seats, &theirs} {
			if err := tx.PutPoolSettings(ctx, x); err != nil {
				return err
			}
		}
		ghost := partner.PoolSettings{PartnerID: 999, Product: "Endpoint", UnitType: "seats", UpdatedAt: T0}
		requireKind(t, tx.PutPoolSettings(ctx, &ghost), partner.ErrNotFound, "")
		return nil
	})
	replaced := users
	replaced.Minimum, replaced.MinimumSet, replaced.Cap, replaced.UpdatedAt = 3, true, 40, T0.Add(time.Hour)
	update(t, s, func(tx partner.Tx) error { return tx.PutPoolSettings(ctx, &replaced) })
	unset := seats
	unset.Minimum, unset.MinimumSet, unset.AutoRefill = 0, false, false
	update(t, s, func(tx partner.Tx) error { return tx.PutPoolSettings(ctx, &unset) })
	view(t, s, func(r partner.Reader) error {
		got, err := r.PoolSettings(ctx, p.ID)
		require.NoError(t, err)
		require.Empty(t, cmp.Diff([]partner.PoolSettings{email, unset, replaced}, got),
			"one row per pool, replaced in place, ordered by product then unit type; a minimum of 0 stays apart from none")
		got, err = r.PoolSettings(ctx, q.ID)
		require.NoError(t, err)
		require.Empty(t, cmp.Diff([]partner.PoolSettings{theirs}, got))
		none, err := r.PoolSettings(ctx, 999)
		require.NoError(t, err)
		require.Empty(t, none)
		return nil
	})
}

func testRecordNotice(t *testing.T, s partner.Store) {
	p := createPartner(t, s, "Acme", partner.MSP, partner.Active)
	l := createLicense(t, s, p.ID, 10)
	seven := partner.Notice{LicenseID: l.ID, PartnerID: p.ID, Days: 7, Expiry: l.Expiry, At: T0}
	thirty := partner.Notice{LicenseID: l.ID, PartnerID: p.ID, Days: 30, Expiry: l.Expiry, Skipped: true, At: T0}
	renewed := partner.Notice{LicenseID: l.ID, PartnerID: p.ID, Days: 7, Expiry: l.Expiry.AddDate(1, 0, 0), At: T0.Add(time.Hour)}
	update(t, s, func(tx partner.Tx) error {
		for _, n := range []partner.Notice{seven, thirty, renewed} {
			ok, err := tx.RecordNotice(ctx, n)
			require.NoError(t, err)
			require.True(t, ok, "a first notice is recorded")
		}
		again := seven
		again.At, again.Skipped = T0.Add(time.Minute), true
		ok, err := tx.RecordNotice(ctx, again)
		require.NoError(t, err)
		require.False(t, ok, "the same licence, expiry and days again is not")
		_, err = tx.RecordNotice(ctx, partner.Notice{LicenseID: 999, PartnerID: p.ID, Days: 1, Expiry: T0, At: T0})
		requireKind(t, err, partner.ErrNotFound, "")
		return nil
	})
	view(t, s, func(r partner.Reader) error {
		got, err := r.Notices(ctx, l.ID)
		require.NoError(t, err)
		require.Empty(t, cmp.Diff([]partner.Notice{thirty, seven, renewed}, got), "the first record stands")
		return nil
	})
}

// testDueLicenses: the licences a sweep looks at, in id order, in pages.
func testDueLicenses(t *testing.T, s partner.Store) {
	p := createPartner(t, s, "Acme", partner.MSP, partner.Suspended)
	gone := createPartner(t, s, "Gone", partner.MSP, partner.Canceled)
	until := T0.AddDate(0, 0, 30)
	mk := func(partnerID int64, expiry time.Time, disabled bool) license.License {
		l := NewLicense(partnerID, 10)
		l.Start, l.Expiry, l.Disabled = T0.AddDate(-1, 0, 0), expiry, disabled
		if disabled {
			l.DisabledAt = T0
		}
		update(t, s, func(tx partner.Tx) error { return tx.CreateLicense(ctx, &l) })
		return l
	}
	soon := mk(p.ID, T0.AddDate(0, 0, 5), false)
	edge := mk(p.ID, until, false)
	mk(p.ID, until.Add(time.Microsecond), false) // beyond the horizon
	expired := mk(p.ID, T0.AddDate(0, 0, -3), false)
	told := mk(p.ID, T0.AddDate(0, 0, -4), false) // already told it expired
	mk(p.ID, T0.AddDate(0, 0, 2), true)           // disabled
	mk(gone.ID, T0.AddDate(0, 0, 2), false)       // of a Canceled partner
	renewed := mk(p.ID, T0.AddDate(0, 0, 20), false)
	update(t, s, func(tx partner.Tx) error {
		for _, n := range []partner.Notice{
			{LicenseID: told.ID, PartnerID: p.ID, Days: 0, Expiry: told.Expiry, At: T0},
			{LicenseID: soon.ID, PartnerID: p.ID, Days: 7, Expiry: soon.Expiry, At: T0},             // not the expired notice
			{LicenseID: renewed.ID, PartnerID: p.ID, Days: 0, Expiry: T0.AddDate(0, 0, -1), At: T0}, // for an earlier expiry
		} {
			if _, err := tx.RecordNotice(ctx, n); err != nil {
				return err
			}
		}
		return nil
	})
	due := func(after int64, limit int) []int64 {
		var ids []int64
		view(t, s, func(r partner.Reader) error {
			ls, err := r.DueLicenses(ctx, until, after, limit)
			for _, l := range ls {
				ids = append(ids, l.ID)
			}
			return err
		})
		return ids
	}
	require.Empty(t, cmp.Diff([]int64{soon.ID, edge.ID, expired.ID, renewed.ID}, due(0, 10)))
	require.Empty(t, cmp.Diff([]int64{soon.ID, edge.ID}, due(0, 2)), "at most limit")
	require.Empty(t, cmp.Diff([]int64{expired.ID, renewed.ID}, due(edge.ID, 2)), "after the id given")
	var got []license.License
	view(t, s, func(r partner.Reader) (err error) { got, err = r.DueLicenses(ctx, until, 0, 1); return err })
	require.Empty(t, cmp.Diff([]license.License{soon}, got), "whole licences")
}

func testCustomerSearch(t *testing.T, s partner.Store) {
	p := createPartner(t, s, "Acme", partner.MSP, partner.Active)
	q := createPartner(t, s, "Other", partner.MSP, partner.Active)
	var made []partner.Customer
	update(t, s, func(tx partner.Tx) error {
		for _, name := range []string{"Οδός Σας Bakery", "ſtar Dental", "Straße Café", "100% Under_score", "Plain"} {
			c := partner.Customer{PartnerID: p.ID, Name: name, CreatedAt: T0}
			if err := tx.CreateCustomer(ctx, &c); err != nil {
				return err
			}
			made = append(made, c)
		}
		c := partner.Customer{PartnerID: q.ID, Name: "Straße elsewhere", CreatedAt: T0}
		return tx.CreateCustomer(ctx, &c)
	})
	search := func(f partner.CustomerFilter) ([]string, int) {
		var names []string
		var total int
		view(t, s, func(r partner.Reader) error {
			cs, n, err := r.Customers(ctx, p.ID, f)
			for _, c := range cs {
				names = append(names, c.Name)
			}
			total = n
			return err
		})
		return names, total
	}
	for _, tc := range []struct {
		q     string
		want  []string
		total int
	}{
		{"ΣΑΣ", []string{"Οδός Σας Bakery"}, 1},
		{"STAR", []string{"ſtar Dental"}, 1},
		{"STRASSE", []string{"Straße Café"}, 1},
		{"CAFE\u0301", []string{"Straße Café"}, 1},
		{"%", []string{"100% Under_score"}, 1},
		{"_", []string{"100% Under_score"}, 1},
		{"a", []string{"Οδός Σας Bakery", "ſtar Dental", "Straße Café", "Plain"}, 4},
		{"", []string{"Οδός Σας Bakery", "ſtar Dental", "Straße Café", "100% Under_score", "Plain"}, 5},
		{"nothing", nil, 0},
	} {
		got, total := search(partner.CustomerFilter{Name: tc.q})
		require.Empty(t, cmp.Diff(tc.want, got), "search %q", tc.q)
		require.Equal(t, tc.total, total, "search %q", tc.q)
	}
	got, total := search(partner.CustomerFilter{Name: "A", Page: partner.Page{Offset: 1, Limit: 2}})
	require.Empty(t, cmp.Diff([]string{"ſtar Dental", "Straße Café"}, got))
	require.Equal(t, 4, total, "the total counts every match, not the page")
	view(t, s, func(r partner.Reader) error {
		pp, err := r.Partner(ctx, p.ID)
		require.Equal(t, len(made), pp.Customers, "the banner counts what the unfiltered list totals")
		return err
	})
}

// testConcurrentNotice: many transactions recording the same notice at
// once: exactly one records it.
func testConcurrentNotice(t *testing.T, s partner.Store) {
	p := createPartner(t, s, "Acme", partner.MSP, partner.Active)
	l := createLicense(t, s, p.ID, 10)
	var recorded atomic.Int64
	ok, _ := Race(t, Goroutines, errNever, func() error {
		var won bool // of the run that committed, if the store ran fn again
		err := s.Update(ctx, func(ctx context.Context, tx partner.Tx) (err error) {
			won, err = tx.RecordNotice(ctx, partner.Notice{LicenseID: l.ID, PartnerID: p.ID, Days: 7, Expiry: l.Expiry, At: T0})
			return err
		})
		if err == nil && won {
			recorded.Add(1)
		}
		return err
	})
	require.Equal(t, Goroutines, ok, "no transaction fails")
	require.Equal(t, int64(1), recorded.Load(), "one transaction records the notice")
}

var errNever = fmt.Errorf("never returned")
