package partner_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
)

func TestProductCatalogue(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		_, auditBefore, err := e.m.Audit(e.ctx, 0, partner.Page{})
		require.NoError(t, err)

		_, err = e.m.CreateProduct(e.ctx, license.Product{Name: " ", UnitType: "licenses", TrialOffered: true})
		requireErr(t, err, partner.ErrInvalid, "name")
		require.Empty(t, cmp.Diff([]partner.FieldError{
			{Field: "name", Reason: "is required"},
			{Field: "unit type", Reason: `must be one of seats, users, devices (got "licenses")`},
			{Field: "trial days", Reason: "must be 1 to 365 when a trial is offered (got 0)"},
		}, partner.FieldErrors(err)), "every problem at once")
		_, err = e.m.CreateProduct(e.ctx, license.Product{Name: "ENDPOINT SECURITY", UnitType: "devices"})
		requireErr(t, err, partner.ErrDuplicate, "name")

		e.clock.Advance(time.Hour)
		p, err := e.m.CreateProduct(e.ctx, license.Product{ID: 77, Version: 9, Name: "  Mobile Security ", UnitType: " Devices ", TrialDays: 20})
		require.NoError(t, err)
		want := license.Product{ID: p.ID, Name: "Mobile Security", UnitType: "devices", Version: 1, CreatedAt: t0.Add(time.Hour),
			UpdatedAt: t0.Add(time.Hour)}
		require.Empty(t, cmp.Diff(want, p), "trimmed, unit type lower-cased, no trial days without a trial; ids and versions are the store's")
		got, err := e.m.Product(e.ctx, p.ID)
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(p, got))
		_, err = e.m.Product(e.ctx, p.ID+100)
		requireErr(t, err, partner.ErrNotFound, "")

		list, total, err := e.m.Products(e.ctx, partner.Page{Offset: 1, Limit: 2})
		require.NoError(t, err)
		require.Equal(t, 4, total)
		require.Equal(t, []string{"Endpoint Security", "Mobile Security"}, []string{list[0].Name, list[1].Name}, "by name")
		_, _, err = e.m.Products(e.ctx, partner.Page{Limit: -1})
		requireErr(t, err, partner.ErrInvalid, "limit")

		offered, days := true, 45
		upd, err := e.m.UpdateProduct(e.ctx, p.ID, license.ProductPatch{Version: p.Version, TrialOffered: &offered, TrialDays: &days})
		require.NoError(t, err)
		require.Equal(t, []any{true, 45, int64(2), "devices"}, []any{upd.TrialOffered, upd.TrialDays, upd.Version, upd.UnitType})
		_, err = e.m.UpdateProduct(e.ctx, p.ID, license.ProductPatch{Version: p.Version, TrialDays: &days})
		requireErr(t, err, partner.ErrConflict, "")
		bad := 400
		_, err = e.m.UpdateProduct(e.ctx, p.ID, license.ProductPatch{TrialDays: &bad})
		requireErr(t, err, partner.ErrInvalid, "trial days")
		taken := "email security"
		_, err = e.m.UpdateProduct(e.ctx, p.ID, license.ProductPatch{Name: &taken})
		requireErr(t, err, partner.ErrDuplicate, "name")
		same := " Mobile Security"
		_, auditMid, err := e.m.Audit(e.ctx, 0, partner.Page{})
		require.NoError(t, err)
		nochange, err := e.m.UpdateProduct(e.ctx, p.ID, license.ProductPatch{Name: &same, TrialDays: &days})
		require.NoError(t, err)
		require.Equal(t, upd, nochange, "a patch that changes nothing is a no-op")
		entries, auditAfter, err := e.m.Audit(e.ctx, 0, partner.Page{Limit: 1})
		require.NoError(t, err)
		require.Equal(t, auditMid, auditAfter, "and writes no audit entry")
		require.Equal(t, auditBefore+2, auditAfter, "create and update, under partner 0")
		require.Equal(t, partner.OpUpdateProduct, entries[0].Action)
	})
}

// A rename in the catalogue carries to every licence and pool of the
// product.
func TestProductRenameCarriesToLicencesAndPools(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		_, err := e.m.SetPoolSettings(e.ctx, f.p.ID, 0, partner.PoolSettingsParams{Product: "Endpoint Security", Cap: 300})
		require.NoError(t, err)
		eps := e.products["Endpoint Security"]
		name := "Endpoint Protection"
		_, err = e.m.UpdateProduct(e.ctx, eps.ID, license.ProductPatch{Name: &name})
		require.NoError(t, err)
		lics, _, err := e.m.Licenses(e.ctx, f.p.ID, partner.Page{})
		require.NoError(t, err)
		require.Equal(t, []any{"Endpoint Protection", f.lic.Version}, []any{lics[0].Product, lics[0].Version},
			"renamed, without a change of the licence")
		pools, err := e.m.Pools(e.ctx, f.p.ID)
		require.NoError(t, err)
		require.Len(t, pools, 1)
		require.Equal(t, []any{"Endpoint Protection", int64(300)}, []any{pools[0].Product, pools[0].Cap}, "one pool, its settings kept")
		_, err = e.m.AssignLicenses(e.ctx, f.p.ID, partner.AssignLicensesParams{Grants: []license.Grant{grant(1)}})
		requireErr(t, err, partner.ErrInvalid, "product") // the old name is gone
	})
}

func TestGrantsResolveAgainstTheCatalogue(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.Reseller, partner.Active)
		id := f.p.ID
		eps, srv := e.products["Endpoint Security"], e.products["Server Protection"]
		assign := func(gs ...license.Grant) ([]license.License, error) {
			res, err := e.m.AssignLicenses(e.ctx, id, partner.AssignLicensesParams{Grants: gs})
			return res.Licenses, err
		}
		edit := func(fn func(g *license.Grant)) license.Grant { g := grant(5); fn(&g); return g }

		before := e.snapshot(t, id)
		for _, tc := range []struct {
			name   string
			g      license.Grant
			field  string
			reason string
		}{
			{"a name not in the catalogue", edit(func(g *license.Grant) { g.Product = "Endpoint Securty" }), "product",
				`"Endpoint Securty" is not in the product catalogue`},
			{"an id not in the catalogue", edit(func(g *license.Grant) { g.Product, g.ProductID = "", 9999 }), "product",
				"no catalogue product has the id 9999"},
			{"an id and another name", edit(func(g *license.Grant) { g.ProductID = srv.ID }), "product",
				`"Endpoint Security" is not the name of catalogue product ` + itoa(srv.ID) + " (Server Protection)"},
			{"another unit type", edit(func(g *license.Grant) { g.UnitType = "users" }), "unit type",
				`Endpoint Security is sold in seats (got "users")`},
			{"a trial of a product without one", edit(func(g *license.Grant) { g.Product, g.UnitType, g.Kind = "Server Protection", "", license.Trial }),
				"kind", "Server Protection offers no trial"},
		} {
			_, err := assign(tc.g)
			e.requireRefused(t, id, before, err, partner.ErrInvalid, tc.field)
			require.Equal(t, tc.reason, partner.ErrorReason(err), tc.name)
		}
		_, err := assign(grant(5), edit(func(g *license.Grant) { g.Product = "Nope"; g.Units = 0 }))
		require.Empty(t, cmp.Diff([]partner.FieldError{
			{Field: "product", Reason: `(grant 2) "Nope" is not in the product catalogue`},
			{Field: "units", Reason: "(grant 2) must be at least 1 (got 0)"},
		}, partner.FieldErrors(err)), "every problem of every grant, at once")

		ls, err := assign(
			edit(func(g *license.Grant) { g.Product, g.UnitType = "  endpoint SECURITY ", "" }),
			edit(func(g *license.Grant) { g.Product, g.ProductID, g.UnitType = "", srv.ID, "" }),
			edit(func(g *license.Grant) {
				g.Product, g.UnitType, g.Kind, g.Start, g.Expiry = "email security", "Users", license.Trial, t0, time.Time{}
			}),
		)
		require.NoError(t, err)
		got := func(l license.License) []any { return []any{l.ProductID, l.Product, l.UnitType, l.Expiry} }
		require.Empty(t, cmp.Diff([][]any{
			{eps.ID, "Endpoint Security", "seats", t0.AddDate(1, 0, 0)},
			{srv.ID, "Server Protection", "devices", t0.AddDate(1, 0, 0)},
			{e.products["Email Security"].ID, "Email Security", "users", t0.AddDate(0, 0, 14)},
		}, [][]any{got(ls[0]), got(ls[1]), got(ls[2])}), "the catalogue's names and unit types; a trial's default length")
		pools, err := e.m.Pools(e.ctx, id)
		require.NoError(t, err)
		require.Len(t, pools, 3, `"endpoint SECURITY" adds to the Endpoint Security pool instead of opening a second one`)
		require.Equal(t, int64(105), pools[0].Units)
	})
}

// A replay compares the grants as the catalogue resolves them: the same
// product written differently is the same grant.
func TestReplayComparesResolvedGrants(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		g := grant(7)
		first, err := e.m.AssignLicenses(e.ctx, f.p.ID, partner.AssignLicensesParams{Key: "po-1", Grants: []license.Grant{g}})
		require.NoError(t, err)
		g.Product, g.UnitType = "ENDPOINT security", ""
		again, err := e.m.AssignLicenses(e.ctx, f.p.ID, partner.AssignLicensesParams{Key: "po-1", Grants: []license.Grant{g}})
		require.NoError(t, err)
		require.True(t, again.Replayed)
		require.Empty(t, cmp.Diff(first.Licenses, again.Licenses))
		g.Product, g.ProductID = "", e.products["Endpoint Security"].ID
		again, err = e.m.AssignLicenses(e.ctx, f.p.ID, partner.AssignLicensesParams{Key: "po-1", Grants: []license.Grant{g}})
		require.NoError(t, err)
		require.True(t, again.Replayed, "by id too")
		g.ProductID, g.Product = 0, "Email Security"
		_, err = e.m.AssignLicenses(e.ctx, f.p.ID, partner.AssignLicensesParams{Key: "po-1", Grants: []license.Grant{g}})
		requireErr(t, err, partner.ErrDuplicate, license.KeyField)
	})
}

// Every grant names a catalogue product, also while the catalogue is
// empty. Licences granted before the catalogue existed (written here
// through the store, as an older version of the library did) keep
// working, uncatalogued, and so do their pools and their assignment's
// replay.
func TestUncataloguedLicencesKeepWorking(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			e := newBareEnv(t, b.newStore(t))
			p, err := e.m.Create(e.ctx, newPartnerInput("Early Adopter", partner.MSP, "early.admin"))
			require.NoError(t, err)
			old := grant(10)
			old.Product, old.UnitType = "Legacy Suite", "seats"
			_, err = e.m.AssignLicenses(e.ctx, p.ID, partner.AssignLicensesParams{Key: "new-1", Grants: []license.Grant{old}})
			requireErr(t, err, partner.ErrInvalid, "product") // an empty catalogue accepts no free-text product
			in := newPartnerInput("Late Adopter", partner.MSP, "late.admin")
			in.Licenses = []license.Grant{old}
			_, err = e.m.Create(e.ctx, in)
			requireErr(t, err, partner.ErrInvalid, "product")

			legacy := license.License{PartnerID: p.ID, Product: "Legacy Suite", UnitType: "seats", Kind: license.Full,
				Units: 10, Start: old.Start, Expiry: old.Expiry, GrantedUnits: 10, GrantedExpiry: old.Expiry, GrantKey: "old-1",
				CreatedAt: t0, UpdatedAt: t0}
			require.NoError(t, e.m.Store().Update(e.ctx, func(ctx context.Context, tx partner.Tx) error {
				return tx.CreateLicense(ctx, &legacy)
			}))
			require.Equal(t, int64(0), legacy.ProductID)

			e.catalog(t, standardProducts...)
			c, err := e.m.AddCustomer(e.ctx, p.ID, partner.CustomerParams{Name: "Old Customer"})
			require.NoError(t, err)
			_, err = e.m.Allocate(e.ctx, p.ID, partner.AllocateParams{LicenseID: legacy.ID, CustomerID: c.ID, Units: 4})
			require.NoError(t, err, "an uncatalogued licence is still given to customers")
			_, err = e.m.SetPoolSettings(e.ctx, p.ID, 0, partner.PoolSettingsParams{Product: "Legacy Suite", UnitType: "seats", Cap: 20})
			require.NoError(t, err, "its pool still takes settings")
			_, err = e.m.SetPoolSettings(e.ctx, p.ID, 0, partner.PoolSettingsParams{Product: "Never Sold", UnitType: "seats", Cap: 20})
			requireErr(t, err, partner.ErrInvalid, "product") // a pool that is neither catalogued nor the partner's legacy one
			pools, err := e.m.Pools(e.ctx, p.ID)
			require.NoError(t, err)
			require.Equal(t, []partner.Pool{{Product: "Legacy Suite", UnitType: "seats", Units: 10, Used: 4, Remaining: 6, Cap: 20}}, pools)
			again, err := e.m.AssignLicenses(e.ctx, p.ID, partner.AssignLicensesParams{Key: "old-1", Grants: []license.Grant{old}})
			require.NoError(t, err, "its assignment still replays")
			require.True(t, again.Replayed)
			_, err = e.m.AssignLicenses(e.ctx, p.ID, partner.AssignLicensesParams{Grants: []license.Grant{old}})
			requireErr(t, err, partner.ErrInvalid, "product") // new grants must name a catalogue product
			require.True(t, strings.Contains(partner.ErrorReason(err), "not in the product catalogue"))
		})
	}
}
