package httpadmin_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
)

// withCustomer gives the MSP (and the other MSP) a customer holding 30
// units of the MSP's licence; the ids are in the world's tags
// {cust}, {alloc}, {othercust}.
func withCustomer(t *testing.T, w *world) {
	t.Helper()
	ctx := context.Background()
	c, err := w.m.AddCustomer(ctx, w.msp.ID, partner.CustomerParams{Name: "Corner Bakery", Email: "bakery@example.com"})
	require.NoError(t, err)
	al, err := w.m.Allocate(ctx, w.msp.ID, partner.AllocateParams{LicenseID: w.mspLic.ID, CustomerID: c.ID, Units: 30})
	require.NoError(t, err)
	o, err := w.m.AddCustomer(ctx, w.other.ID, partner.CustomerParams{Name: "Elsewhere Ltd"})
	require.NoError(t, err)
	w.tags = map[string]string{"{cust}": fmt.Sprint(c.ID), "{alloc}": fmt.Sprint(al.ID), "{othercust}": fmt.Sprint(o.ID)}
	w.mspLic, err = w.license(w.mspLic.ID)
	require.NoError(t, err)
}

// withTrial gives the MSP a Trial licence of Endpoint Security, {trial}.
func withTrial(t *testing.T, w *world) {
	t.Helper()
	res, err := w.m.AssignLicenses(context.Background(), w.msp.ID, partner.AssignLicensesParams{Grants: []license.Grant{{
		Product: "Endpoint Security", Units: 10, Kind: license.Trial, Start: now.AddDate(0, 0, -1)}}})
	require.NoError(t, err)
	w.tags = map[string]string{"{trial}": fmt.Sprint(res.Licenses[0].ID)}
}

// withDisabled disables the MSP's licence.
func withDisabled(t *testing.T, w *world) {
	t.Helper()
	ls, err := w.m.DisableLicenses(context.Background(), w.msp.ID, []int64{w.mspLic.ID})
	require.NoError(t, err)
	w.mspLic = ls[0]
}

func TestCustomersTab(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "msp customers", method: "GET", path: "/{msp}/customers", setup: withCustomer, status: 200,
			want: []string{`aria-selected="true" aria-controls="panel" aria-current="page"`, ">Customers</a>", "Corner Bakery", "30 seats of Endpoint Security",
				"(license #{lic})", "Showing the only customer.", "Add Customer", `role="search"`}},
		{name: "reseller customers", method: "GET", path: "/{reseller}/customers", status: 200, want: []string{"No customers yet.", "Add Customer"}},
		{name: "customers fragment", method: "GET", path: "/{msp}/customers", hx: true, setup: withCustomer, status: 200,
			want: []string{`id="partner-main"`, "Corner Bakery", `hx-swap-oob="true"`}, notWant: []string{"<html"}},
		{name: "search", method: "GET", path: "/{msp}/customers?q=BAKERY", setup: withCustomer, status: 200,
			want: []string{"Corner Bakery", `value="BAKERY"`}},
		{name: "search finds none", method: "GET", path: "/{msp}/customers?q=zzz", setup: withCustomer, status: 200,
			want: []string{"zzz", "Show all customers"}},
		{name: "suspended customers: visible, controls disabled", method: "GET", path: "/{suspended}/customers", status: 200,
			want: []string{`disabled aria-describedby="why-customer"`, "The partnership is suspended"}},
		{name: "canceled customers: text, no inputs", method: "GET", path: "/{canceled}/customers", status: 200,
			want: []string{"nothing can be changed"}, notWant: []string{"<input", "<button", "<select", "Add Customer"}},
		{name: "add customer with htmx opens it", method: "POST", path: "/{msp}/customers/add", hx: true, form: form("name", "City Dental"), status: 200,
			want: []string{"Customer added.", "<h2>City Dental</h2>", "City Dental holds no units.", `<option value="{lic}">`}},
		{name: "add customer without JavaScript", method: "POST", path: "/{msp}/customers/add", form: form("name", "City Dental"), status: 303},
		{name: "add customer invalid", method: "POST", path: "/{msp}/customers/add", hx: true, form: form("name", " ", "email", "nope"), status: 422, unchanged: true,
			want: []string{`id="cu-name-err"`, `id="cu-email-err"`, "Please correct these 2 fields"}},
		{name: "add customer on suspended", method: "POST", path: "/{suspended}/customers/add", hx: true, form: form("name", "X"), status: 409, unchanged: true},
		{name: "customer page", method: "GET", path: "/{msp}/customers/{cust}", setup: withCustomer, status: 200,
			want: []string{"Customer Corner Bakery</li>", "<h2>Corner Bakery</h2>", "30 seats", "Release", "Allocate", "20 of 50 seats left"}},
		{name: "another partner's customer", method: "GET", path: "/{msp}/customers/{othercust}", setup: withCustomer, status: 404},
		{name: "allocate", method: "POST", path: "/{msp}/customers/{cust}/allocate", hx: true, setup: withCustomer, form: form("license", "{lic}", "units", "5"), status: 200,
			want: []string{"Units allocated.", "30 seats", "5 seats"}},
		{name: "allocate plain", method: "POST", path: "/{msp}/customers/{cust}/allocate", setup: withCustomer, form: form("license", "{lic}", "units", "5"), status: 303,
			location: "/admin/partners/{msp}/customers/{cust}?done=allocated"},
		{name: "allocate more than remains", method: "POST", path: "/{msp}/customers/{cust}/allocate", hx: true, setup: withCustomer, form: form("license", "{lic}", "units", "21"), status: 409, unchanged: true},
		{name: "allocate nothing", method: "POST", path: "/{msp}/customers/{cust}/allocate", hx: true, setup: withCustomer, form: form("license", "{lic}", "units", "0"), status: 422, unchanged: true,
			want: []string{`id="al-units-err"`}},
		{name: "allocate another partner's licence", method: "POST", path: "/{msp}/customers/{cust}/allocate", hx: true, setup: withCustomer, form: form("license", "{otherlic}", "units", "1"), status: 404, unchanged: true},
		{name: "allocate to another partner's customer", method: "POST", path: "/{msp}/customers/{othercust}/allocate", hx: true, setup: withCustomer, form: form("license", "{lic}", "units", "1"), status: 404, unchanged: true},
		{name: "release asks first", method: "POST", path: "/{msp}/customers/{cust}/allocations/{alloc}/release", setup: withCustomer, status: 200, unchanged: true,
			want: []string{"Release the 30 seats of license #{lic} (Endpoint Security) from Corner Bakery?", `name="confirm" value="yes"`}},
		{name: "release", method: "POST", path: "/{msp}/customers/{cust}/allocations/{alloc}/release", hx: true, setup: withCustomer, form: form("confirm", "yes"), status: 200,
			want: []string{"Units released.", "Corner Bakery holds no units."}},
		{name: "release through another customer's URL", method: "POST", path: "/{other}/customers/{othercust}/allocations/{alloc}/release", hx: true, setup: withCustomer,
			form: form("confirm", "yes"), status: 404, unchanged: true},
	})
}

// The banner's Customers count is the number the tab lists.
func TestBannerCountIsTheTabsTotal(t *testing.T) {
	w := newWorld(t)
	manyAllocations(30)(t, w)
	body := w.do("GET", "/{msp}/customers", false, nil, nil).Body.String()
	require.Contains(t, body, `aria-label="Customers: 30">30</a>`)
	require.Contains(t, body, "Showing 1–25 of 30 customers.")
	second := w.do("GET", "/{msp}/customers?offset=25", true, nil, nil).Body.String()
	require.Contains(t, second, "Showing 26–30 of 30 customers.")
	require.Contains(t, second, "Customer 029")
}

func TestLicenceLifecycle(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "msp licence page", method: "GET", path: "/{msp}/licenses/{lic}", status: 200,
			want:    []string{"License #{lic}: Endpoint Security", "Extend", "Add Units", "Reduce Units", `name="version" value="1"`, `value="2028-05-04"`},
			notWant: []string{"Convert to Full", "Enable License"}},
		{name: "another partner's licence", method: "GET", path: "/{msp}/licenses/{otherlic}", status: 404},
		{name: "extend", method: "POST", path: "/{msp}/licenses/{lic}/extend", hx: true, form: form("version", "1", "expiry", "2028-01-31"), status: 200,
			want: []string{"Expiry changed.", `<dd id="lic-expiry">2028-01-31</dd>`}},
		{name: "extend plain", method: "POST", path: "/{msp}/licenses/{lic}/extend", form: form("version", "1", "expiry", "2028-01-31"), status: 303,
			location: "/admin/partners/{msp}/licenses/{lic}?done=extended"},
		{name: "extend earlier", method: "POST", path: "/{msp}/licenses/{lic}/extend", hx: true, form: form("version", "1", "expiry", "2026-06-01"), status: 422, unchanged: true,
			want: []string{"Expiry must be after the current expiry", `id="x-expiry-err"`}},
		{name: "extend from a stale page", method: "POST", path: "/{msp}/licenses/{lic}/extend", hx: true, form: form("version", "7", "expiry", "2028-01-31"), status: 409, unchanged: true,
			want: []string{"changed by someone else", `<a href="/admin/partners/{msp}/licenses/{lic}">Reload</a>`}},
		{name: "add units", method: "POST", path: "/{msp}/licenses/{lic}/add-units", hx: true, form: form("version", "1", "units", "10"), status: 200,
			want: []string{"Units added.", "0 / 60 seats"}},
		{name: "add units without a version", method: "POST", path: "/{msp}/licenses/{lic}/add-units", hx: true, form: form("units", "10"), status: 422, unchanged: true},
		{name: "reduce below the allocated", method: "POST", path: "/{msp}/licenses/{lic}/reduce-units", hx: true, setup: withCustomer, form: form("version", "1", "units", "25"), status: 409, unchanged: true,
			want: []string{"Cannot reduce to 25 units: 30 are allocated to customers."}},
		{name: "reduce", method: "POST", path: "/{msp}/licenses/{lic}/reduce-units", hx: true, form: form("version", "1", "units", "5"), status: 200,
			want: []string{"Units reduced.", "0 / 45 seats"}},
		{name: "convert a trial", method: "POST", path: "/{msp}/licenses/{trial}/convert", hx: true, setup: withTrial, form: form("version", "1", "expiry", ""), status: 200,
			want: []string{"License converted to Full.", "<dd>Full</dd>"}, notWant: []string{"Convert to Full</button>"}},
		{name: "trial page offers Convert to Full", method: "GET", path: "/{msp}/licenses/{trial}", setup: withTrial, status: 200, want: []string{"Convert to Full</button>"}},
		{name: "enable a disabled licence", method: "POST", path: "/{msp}/licenses/{lic}/enable", hx: true, setup: withDisabled, form: form("version", "2"), status: 200,
			want: []string{"License enabled.", "b-normal"}, notWant: []string{"Enable License</button>"}},
		{name: "enable licences in bulk", method: "POST", path: "/{msp}/licenses/enable", hx: true, setup: withDisabled, form: form("license", "{lic}"), status: 200,
			want: []string{"Selected licenses enabled."}, notWant: []string{"b-disabled"}},
		{name: "enable on a reseller", method: "POST", path: "/{reseller}/licenses/enable", hx: true, form: form("license", "1"), status: 404, unchanged: true},
		{name: "extend on suspended", method: "POST", path: "/{suspended}/licenses/3/extend", hx: true, form: form("version", "1", "expiry", "2029-01-01"), status: 409, unchanged: true},
		{name: "suspended licence page: controls disabled with the reason", method: "GET", path: "/{suspended}/licenses/3", status: 200,
			want: []string{`disabled aria-describedby="why-extend"`, `id="why-reduce"`}},
		{name: "canceled licence page: text only", method: "GET", path: "/{canceled}/licenses/4", status: 200,
			notWant: []string{"<input", "<button"}},
		{name: "counts", method: "GET", path: "/{msp}/licenses", setup: withTrial, status: 200,
			want: []string{`Expiring soon: <span class="badge b-expiring_soon">1</span>`, "(of all 2 licenses)"}},
		{name: "pool settings", method: "POST", path: "/{msp}/licenses/pool", hx: true, form: form("pool", "0", "product", "Endpoint Security", "unit_type", "seats", "minimum", "10", "cap", "200", "auto_refill", "on"), status: 200,
			want: []string{"Pool settings saved.", "<td>10</td><td>200 seats</td><td>On</td>"}},
		{name: "pool settings invalid", method: "POST", path: "/{msp}/licenses/pool", hx: true, form: form("pool", "0", "product", "Endpoint Security", "unit_type", "seats", "minimum", "x", "cap", "-1"), status: 422, unchanged: true,
			want: []string{`<details class="pool-settings" open>`, `id="pool-0-min-err"`}},
		{name: "pool settings of an unknown product", method: "POST", path: "/{msp}/licenses/pool", hx: true, form: form("pool", "0", "product", "Nope", "unit_type", "seats"), status: 422, unchanged: true},
		{name: "pool settings on suspended", method: "POST", path: "/{suspended}/licenses/pool", hx: true, form: form("product", "Endpoint Security"), status: 409, unchanged: true},
	})
}

func TestAssignFromTheCatalogue(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "the form has a line per product", method: "GET", path: "/{msp}/licenses/assign", status: 200,
			want: []string{"Assign Licenses</li>", `name="trial-1"`, `name="full-1"`, `name="full-2"`, `name="full-3"`, "no trial", `name="key" value="`}, notWant: []string{`name="trial-3"`}},
		{name: "two products in one submit", method: "POST", path: "/{msp}/licenses/assign", hx: true, status: 200,
			form: form("key", "k-two", "full-1", "20", "start-1", "2026-05-01", "expiry-1", "2027-05-01", "trial-2", "5", "start-2", "2026-05-01"),
			want: []string{"Licenses assigned.", "0 / 20", "0 / 5", "Email Security", "2026-05-15"}},
		{name: "two products, plain: back to the licences", method: "POST", path: "/{msp}/licenses/assign", status: 303,
			form:     form("key", "k-two", "full-1", "20", "start-1", "2026-05-01", "expiry-1", "2027-05-01", "trial-2", "5", "start-2", "2026-05-01"),
			location: "/admin/partners/{msp}/licenses?done=assigned"},
		{name: "all or none", method: "POST", path: "/{msp}/licenses/assign", hx: true, status: 422, unchanged: true,
			form: form("key", "k-bad", "full-1", "20", "start-1", "2026-05-01", "expiry-1", "2027-05-01", "full-2", "5", "start-2", "2026-05-01"),
			want: []string{"Email Security expiry", `value="20"`}},
		{name: "create partner with first licences", method: "POST", path: "/", status: 303,
			form: form("type", "msp", "company", "Newco", "city", "Paris", "country", "France", "account", "newco.admin", "first_name", "N", "last_name", "N", "email", "n@example.com",
				"full-1", "15", "start-1", "2026-05-01", "expiry-1", "2027-05-01"),
			location: "/admin/partners/6/licenses?done=created"},
		{name: "create partner: a line's error is marked", method: "POST", path: "/", hx: true, status: 422, unchanged: true,
			form: form("type", "msp", "company", "Newco", "city", "Paris", "country", "France", "account", "newco.admin", "first_name", "N", "last_name", "N", "email", "n@example.com",
				"trial-3", "15", "start-3", "2026-05-01"),
			want: []string{"Server Protection trial units: Server Protection offers no trial"}},
		{name: "create form lists the catalogue", method: "GET", path: "/new", status: 200, want: []string{"First licenses", `name="full-2"`, `value="2026-05-04"`}},
	})
}

func TestCatalogueScreens(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "products", method: "GET", path: "/products", status: 200,
			want: []string{"<h1 class=\"grow\">Products</h1>", "Email Security", "Server Protection", "No trial", "30 days", "Create product", "Showing all 3 products."}},
		{name: "products are reachable from the list", method: "GET", path: "/", status: 200, want: []string{`href="/admin/partners/products"`, `href="/admin/partners/plans"`}},
		{name: "create product", method: "POST", path: "/products", form: form("name", "Mobile Security", "unit_type", "devices"), status: 303},
		{name: "create product htmx", method: "POST", path: "/products", hx: true, form: form("name", "Mobile Security", "unit_type", "devices", "trial", "yes", "trial_days", "14"), status: 200,
			want: []string{"Product created.", `value="Mobile Security"`, "devices"}},
		{name: "duplicate product name", method: "POST", path: "/products", hx: true, form: form("name", "ENDPOINT security", "unit_type", "seats"), status: 422, unchanged: true,
			want: []string{`id="pr-name-err"`, `aria-invalid="true"`}},
		{name: "invalid product", method: "POST", path: "/products", hx: true, form: form("name", "", "unit_type", "litres", "trial", "yes", "trial_days", "900"), status: 422, unchanged: true,
			want: []string{"Please correct these 3 fields", `id="pr-unit-err"`, `id="pr-days-err"`}},
		{name: "product page", method: "GET", path: "/products/1", status: 200, want: []string{`value="Endpoint Security"`, "fixed at creation", `name="version" value="1"`}},
		{name: "unknown product", method: "GET", path: "/products/99", status: 404},
		{name: "edit product", method: "POST", path: "/products/3/edit", hx: true, form: form("version", "1", "name", "Server Shield", "trial", "yes", "trial_days", "7"), status: 200,
			want: []string{"Product saved.", `value="Server Shield"`}},
		{name: "edit product stale", method: "POST", path: "/products/3/edit", hx: true, form: form("version", "9", "name", "Server Shield"), status: 409, unchanged: true,
			want: []string{`<a href="/admin/partners/products/3">Reload</a>`}},
		{name: "plans", method: "GET", path: "/plans", status: 200,
			want: []string{"Plan A", "Plan Off", "Disabled", "Create service plan", `<option value="1">Endpoint Security (seats)</option>`}},
		{name: "create plan", method: "POST", path: "/plans", hx: true, status: 200,
			form: form("name", "Mail 12", "product", "2", "kind", "full", "data_center", "JP", "period", "12", "notice", "30", "enabled", "true"),
			want: []string{"Service plan created.", "Email Security (users)"}},
		{name: "create plan invalid", method: "POST", path: "/plans", hx: true, status: 422, unchanged: true,
			form: form("name", "Plan A", "product", "99", "kind", "full", "data_center", "JP", "period", "0"),
			want: []string{`id="pl-product-err"`}},
		{name: "edit plan", method: "POST", path: "/plans/{planA}/edit", hx: true, status: 200,
			form: form("form", "edit", "version", "1", "name", "Plan A two", "period", "24", "notice", "7", "enabled", "true"),
			want: []string{"Service plan saved.", `value="Plan A two"`, `value="24"`}},
		{name: "disable plan from the list", method: "POST", path: "/plans/{planA}/edit", hx: true, form: form("version", "1", "enabled", "false"), status: 200,
			want: []string{"Service plan saved.", `aria-label="Enable Plan A"`}},
		{name: "disable plan without JavaScript", method: "POST", path: "/plans/{planA}/edit", form: form("version", "1", "enabled", "false"), status: 303,
			location: "/admin/partners/plans?done=plan-saved"},
		{name: "unknown plan", method: "POST", path: "/plans/99/edit", hx: true, form: form("enabled", "false"), status: 404},
	})
}
