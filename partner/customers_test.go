package partner_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
)

func TestCustomersSearchAndPaging(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active) // one customer
		other := e.fixture(t, partner.MSP, partner.Active)
		for _, name := range []string{"Straße Café", "ſtar Dental", "Οδός Σας Bakery", "Plain Co"} {
			_, err := e.m.AddCustomer(e.ctx, f.p.ID, partner.CustomerParams{Name: name})
			require.NoError(t, err)
		}
		_, err := e.m.AddCustomer(e.ctx, other.p.ID, partner.CustomerParams{Name: "Straße elsewhere"})
		require.NoError(t, err)
		names := func(f partner.CustomerFilter, id int64) ([]string, int) {
			t.Helper()
			cs, total, err := e.m.Customers(e.ctx, id, f)
			require.NoError(t, err)
			var out []string
			for _, c := range cs {
				out = append(out, c.Name)
			}
			return out, total
		}
		for q, want := range map[string][]string{"STRASSE": {"Straße Café"}, "star": {"ſtar Dental"}, "ΣΑΣ": {"Οδός Σας Bakery"},
			"cafe\u0301": {"Straße Café"}, "zzz": nil} {
			got, total := names(partner.CustomerFilter{Name: q}, f.p.ID)
			require.Empty(t, cmp.Diff(want, got), "search %q", q)
			require.Equal(t, len(want), total, "search %q", q)
		}
		page, total := names(partner.CustomerFilter{Page: partner.Page{Offset: 2, Limit: 2}}, f.p.ID)
		require.Equal(t, []string{"ſtar Dental", "Οδός Σας Bakery"}, page, "by id")
		require.Equal(t, 5, total)
		p, err := e.m.Get(e.ctx, f.p.ID)
		require.NoError(t, err)
		require.Equal(t, total, p.Customers, "the banner counts what the list totals")

		_, _, err = e.m.Customers(e.ctx, f.p.ID, partner.CustomerFilter{Page: partner.Page{Offset: -1}})
		requireErr(t, err, partner.ErrInvalid, "offset")
		_, _, err = e.m.Customers(e.ctx, 9999, partner.CustomerFilter{})
		requireErr(t, err, partner.ErrNotFound, "")
	})
}

func TestCustomerAllocations(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		other := e.fixture(t, partner.MSP, partner.Active)
		g := grant(10)
		g.Product, g.UnitType = "Email Security", ""
		res, err := e.m.AssignLicenses(e.ctx, f.p.ID, partner.AssignLicensesParams{Grants: []license.Grant{g}})
		require.NoError(t, err)
		mail, err := e.m.Allocate(e.ctx, f.p.ID, partner.AllocateParams{LicenseID: res.Licenses[0].ID, CustomerID: f.customer.ID, Units: 3})
		require.NoError(t, err)
		second, err := e.m.AddCustomer(e.ctx, f.p.ID, partner.CustomerParams{Name: "Second"})
		require.NoError(t, err)
		_, err = e.m.Allocate(e.ctx, f.p.ID, partner.AllocateParams{LicenseID: f.lic.ID, CustomerID: second.ID, Units: 2})
		require.NoError(t, err)

		got, err := e.m.CustomerAllocations(e.ctx, f.p.ID, f.customer.ID)
		require.NoError(t, err)
		require.Empty(t, cmp.Diff([]partner.AllocationView{
			{ID: f.alloc.ID, LicenseID: f.lic.ID, CustomerID: f.customer.ID, CustomerName: f.customer.Name, Product: "Endpoint Security",
				UnitType: "seats", Units: 5},
			{ID: mail.ID, LicenseID: res.Licenses[0].ID, CustomerID: f.customer.ID, CustomerName: f.customer.Name, Product: "Email Security",
				UnitType: "users", Units: 3},
		}, got))
		_, err = e.m.CustomerAllocations(e.ctx, f.p.ID, other.customer.ID)
		requireErr(t, err, partner.ErrNotFound, "")

		im, err := e.m.CancelPreview(e.ctx, f.p.ID)
		require.NoError(t, err)
		require.Len(t, im.Allocations, 3)
		var grouped []string
		for _, c := range im.ByCustomer {
			grouped = append(grouped, c.Customer.Name+": "+itoa(int64(len(c.Allocations)))+" allocations, "+itoa(c.Units)+" units")
		}
		require.Equal(t, []string{f.customer.Name + ": 2 allocations, 8 units", "Second: 1 allocations, 2 units"}, grouped,
			"the preview groups every allocation it ends by customer")
	})
}
