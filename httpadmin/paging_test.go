package httpadmin_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
)

// manyLicenses gives the MSP n more licences of one product, the i-th
// with 1000+i units (shown as "0 / 1000+i"), the newest named "Newest".
func manyLicenses(n int) func(t *testing.T, w *world) {
	return func(t *testing.T, w *world) {
		w.product(t, "Newest")
		for i := range n {
			product := "Endpoint Security"
			if i == n-1 {
				product = "Newest"
			}
			_, err := w.m.AssignLicenses(context.Background(), w.msp.ID, partner.AssignLicensesParams{Grants: []license.Grant{{
				Product: product, UnitType: "seats", Units: int64(1000 + i), Kind: license.Full, Start: now.AddDate(0, -1, 0), Expiry: now.AddDate(1, 0, 0)}}})
			require.NoError(t, err)
		}
	}
}

// manyAccounts gives the MSP n more accounts, "acct000.user" on, after
// its three.
func manyAccounts(n int) func(t *testing.T, w *world) {
	return func(t *testing.T, w *world) {
		for i := range n {
			_, err := w.m.AddAccount(context.Background(), w.msp.ID, account.Params{Name: fmt.Sprintf("acct%03d.user", i),
				FirstName: "A", LastName: "Ccount", Email: fmt.Sprintf("acct%03d@example.com", i), Role: account.SupportEngineer})
			require.NoError(t, err)
		}
	}
}

// manyProducts gives the MSP one licence of each of n more products.
func manyProducts(n int) func(t *testing.T, w *world) {
	return func(t *testing.T, w *world) {
		for i := range n {
			w.product(t, fmt.Sprintf("Product %d", i+1))
			_, err := w.m.AssignLicenses(context.Background(), w.msp.ID, partner.AssignLicensesParams{Grants: []license.Grant{{
				Product: fmt.Sprintf("Product %d", i+1), UnitType: "seats", Units: 5, Kind: license.Full, Start: now.AddDate(0, -1, 0), Expiry: now.AddDate(1, 0, 0)}}})
			require.NoError(t, err)
		}
	}
}

// manyAllocations gives the MSP n customers, each holding one unit.
func manyAllocations(n int) func(t *testing.T, w *world) {
	return func(t *testing.T, w *world) {
		ctx := context.Background()
		w.product(t, "Bulk")
		lics, err := w.m.AssignLicenses(ctx, w.msp.ID, partner.AssignLicensesParams{Grants: []license.Grant{{
			Product: "Bulk", UnitType: "seats", Units: int64(n), Kind: license.Full, Start: now.AddDate(0, -1, 0), Expiry: now.AddDate(1, 0, 0)}}})
		require.NoError(t, err)
		for i := range n {
			c, err := w.m.AddCustomer(ctx, w.msp.ID, partner.CustomerParams{Name: fmt.Sprintf("Customer %03d", i)})
			require.NoError(t, err)
			_, err = w.m.Allocate(ctx, w.msp.ID, partner.AllocateParams{LicenseID: lics.Licenses[0].ID, CustomerID: c.ID, Units: 1})
			require.NoError(t, err)
		}
	}
}

// manyPartners adds n MSPs named "Bulk NNN".
func manyPartners(n int) func(t *testing.T, w *world) {
	return func(t *testing.T, w *world) {
		for i := range n {
			_, err := w.m.Create(context.Background(), partner.CreateParams{Type: partner.MSP,
				Profile: partner.Profile{CompanyName: fmt.Sprintf("Bulk %03d", i), City: "Lyon", Country: "France"},
				Admin:   partner.CreateParams{}.Admin})
			if err != nil { // the admin account is required: name it after the partner
				p := partner.CreateParams{Type: partner.MSP, Profile: partner.Profile{CompanyName: fmt.Sprintf("Bulk %03d", i), City: "Lyon", Country: "France"}}
				p.Admin.Name, p.Admin.FirstName, p.Admin.LastName, p.Admin.Email = fmt.Sprintf("bulk%03d.admin", i), "B", "Ulk", "bulk@example.com"
				_, err = w.m.Create(context.Background(), p)
			}
			require.NoError(t, err)
		}
	}
}

// Every list is paged or complete: the Licenses tab showed the first 500
// licences with no pager and ignored offset.
func TestEveryListIsPaged(t *testing.T) {
	// The MSP has its first licence plus 120: 121 licences, three pages.
	lots := manyLicenses(120)
	runScenarios(t, []scenario{
		{name: "licenses first page", method: "GET", path: "/{msp}/licenses", setup: lots, status: 200,
			want:    []string{"Showing 1–50 of 121 licenses.", `href="/admin/partners/{msp}/licenses?offset=50"`, ">Next</a>", "0 / 1048"},
			notWant: []string{">Previous</a>", "0 / 1049", "<strong>Newest</strong>"}},
		{name: "licenses second page", method: "GET", path: "/{msp}/licenses?offset=50", setup: lots, status: 200,
			want:    []string{"Showing 51–100 of 121 licenses.", "0 / 1049", "0 / 1098", ">Previous</a>", `href="/admin/partners/{msp}/licenses?offset=100"`},
			notWant: []string{"0 / 1048", "0 / 1099"}},
		{name: "licenses last page shows the newest, which can be disabled", method: "GET", path: "/{msp}/licenses?offset=100", setup: lots, status: 200,
			want:    []string{"Showing 101–121 of 121 licenses.", "<strong>Newest</strong>", `name="license" value="{newest}"`, `<input type="hidden" name="offset" value="100">`},
			notWant: []string{">Next</a>"}},
		{name: "licenses pager with htmx swaps the tab", method: "GET", path: "/{msp}/licenses?offset=50", hx: true, setup: lots, status: 200,
			want:    []string{`hx-get="/admin/partners/{msp}/licenses?offset=100" hx-target="#partner-main"`, "Showing 51–100 of 121 licenses."},
			notWant: []string{"<html"}},
		{name: "a short list says it is complete", method: "GET", path: "/{msp}/licenses", status: 200,
			want: []string{"Showing the only license."}, notWant: []string{">Next</a>", ">Previous</a>"}},
		{name: "disabling on a later page comes back to it", method: "POST", path: "/{msp}/licenses/disable", setup: lots, status: 303,
			form: form("confirm", "yes", "license", "{newest}", "offset", "100"), location: "/admin/partners/{msp}/licenses?done=disabled&offset=100"},
		{name: "assigning shows the page with the new licence", method: "POST", path: "/{msp}/licenses/assign", hx: true, setup: lots, status: 200,
			form: form("full-4", "3", "start-4", "2026-05-01", "expiry-4", "2027-05-01", "key", "k-new"),
			want: []string{"Licenses assigned.", "Showing 101–122 of 122 licenses."}, headers: map[string]string{}},

		{name: "partners list pages", method: "GET", path: "/?offset=25", setup: manyPartners(30), status: 200,
			want: []string{"Showing 26–35 of 35 partners.", ">Previous</a>", "Bulk 029"}, notWant: []string{">Next</a>"}},
		{name: "audit pages", method: "GET", path: "/{msp}/audit", setup: lots, status: 200,
			want: []string{"Showing 1–50 of", `href="/admin/partners/{msp}/audit?offset=50"`}},
		{name: "cancel preview pages the customer licenses", method: "GET", path: "/{msp}/cancel", setup: manyAllocations(60), status: 200,
			want:    []string{"<strong>60</strong> customer licenses expire today", "Showing 1–25 of 60 customers.", `href="/admin/partners/{msp}/cancel?offset=25"`, "Customer 024"},
			notWant: []string{"Customer 025"}},
		{name: "cancel preview second page", method: "GET", path: "/{msp}/cancel?offset=50", setup: manyAllocations(60), status: 200,
			want: []string{"Showing 51–60 of 60 customers.", "Customer 059"}, notWant: []string{"Customer 049"}},
		{name: "accounts are all shown and say so", method: "GET", path: "/{msp}/accounts", status: 200,
			want: []string{"Console accounts of Acme MSP: Showing all 3 accounts.", "acme.off"}, notWant: []string{">Next</a>"}},
		// 3 accounts and 60 more: two pages of 50.
		{name: "accounts first page", method: "GET", path: "/{msp}/accounts", setup: manyAccounts(60), status: 200,
			want:    []string{"Showing 1–50 of 63 accounts.", `href="/admin/partners/{msp}/accounts?offset=50"`, ">Next</a>", "acme.admin", "acct046.user"},
			notWant: []string{">Previous</a>", "acct047.user", `name="offset"`}},
		{name: "accounts second page keeps its place in its forms", method: "GET", path: "/{msp}/accounts?offset=50", setup: manyAccounts(60), status: 200,
			want:    []string{"Showing 51–63 of 63 accounts.", "acct047.user", "acct059.user", ">Previous</a>", `<input type="hidden" name="offset" value="50">`},
			notWant: []string{"acct046.user", "acme.admin", ">Next</a>"}},
		{name: "accounts past the end show the last page", method: "GET", path: "/{msp}/accounts?offset=900", setup: manyAccounts(60), status: 200,
			want: []string{"Showing 51–63 of 63 accounts.", "acct059.user"}},
		{name: "accounts pager with htmx swaps the tab", method: "GET", path: "/{msp}/accounts", hx: true, setup: manyAccounts(60), status: 200,
			want: []string{`hx-get="/admin/partners/{msp}/accounts?offset=50" hx-target="#partner-main"`}, notWant: []string{"<html"}},
		{name: "changing a role on a later page comes back to it", method: "POST", path: "/{msp}/accounts/{user}/role", setup: manyAccounts(60), status: 303,
			form: form("role", "billing_manager", "offset", "50"), location: "/admin/partners/{msp}/accounts?done=role&offset=50"},
		{name: "disabling an account on a later page comes back to it", method: "POST", path: "/{msp}/accounts/{user}/disable", setup: manyAccounts(60), status: 303,
			form: form("confirm", "yes", "offset", "50"), location: "/admin/partners/{msp}/accounts?done=acct-off&offset=50"},
		{name: "adding an account on a later page shows that page with it", method: "POST", path: "/{msp}/accounts/add", hx: true, setup: manyAccounts(60), status: 200,
			form: form("account", "zz.new", "first_name", "Z", "last_name", "New", "email", "z@example.com", "role", "license_manager", "offset", "50"),
			want: []string{"Showing 51–64 of 64 accounts.", "zz.new"}, headers: map[string]string{}},
		{name: "many pools fold into a list that says how many", method: "GET", path: "/{msp}/licenses", setup: manyProducts(9), status: 200,
			want: []string{"<summary>All 10 license pools</summary>", "<td>Product 9 (seats)</td>"}},
	})
}

// The pager links sit outside the Disable Licenses form, whose htmx
// attributes (hx-confirm, hx-vals confirm=yes) they would inherit.
func TestLicensePagerIsOutsideTheDisableForm(t *testing.T) {
	w := newWorld(t)
	manyLicenses(60)(t, w)
	body := w.do("GET", "/{msp}/licenses", false, nil, nil).Body.String()
	form := strings.Index(body, `id="disable-form"`)
	end := form + strings.Index(body[form:], "</form>")
	pager := strings.Index(body, `<nav class="pager"`)
	require.Positive(t, form)
	require.Greater(t, pager, end, "the pager is inside the disable form")
}
