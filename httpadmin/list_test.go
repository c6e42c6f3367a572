package httpadmin_test

import (
	"context"
	"fmt"
	htmlpkg "html"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
)

// The list's rows sit in one form that posts the selection to the bulk
// pages: a checkbox per partner, "select all", the filter and the action.
func TestListSelectionFormForBulk(t *testing.T) {
	w := newWorld(t)
	body := w.do("GET", "/?type=msp&q=m&status=active", false, nil, nil).Body.String()
	require.Contains(t, body, `<form id="bulk-form" method="post" action="/admin/partners/bulk">`)
	require.Contains(t, body, w.expand(`<input type="checkbox" name="id" value="{msp}" aria-label="Select Acme MSP">`))
	require.Contains(t, body, w.expand(`<input type="checkbox" name="id" value="{other}" aria-label="Select Other MSP">`))
	require.NotContains(t, body, w.expand(`value="{reseller}" aria-label`))
	require.Contains(t, body, `<input type="checkbox" id="bulk-all" name="all" value="1"> <label for="bulk-all" class="inline">Select all 2 partners matching the filter</label>`)
	require.Contains(t, body, `<label for="bulk-action">Bulk action</label>`)
	require.Contains(t, body, `<button type="submit">Preview…</button>`)
	for _, k := range partner.BulkKinds() {
		require.Contains(t, body, fmt.Sprintf(`<option value="%s">%s</option>`, k, k.Label()))
	}
	// What a browser posts with nothing ticked: the filter and the first action.
	got := formFields(t, body, "/admin/partners/bulk")
	want := url.Values{"q": {"m"}, "status": {"active"}, "type": {"msp"}, "product": {""}, "attention": {""},
		"action": {string(partner.BulkKinds()[0])}}
	require.Empty(t, cmp.Diff(want, got))
	// Every row's checkbox is inside the one form.
	form := regexp.MustCompile(`(?s)<form id="bulk-form".*?</form>`).FindString(body)
	require.Len(t, regexp.MustCompile(`name="id"`).FindAllString(form, -1), 2)
}

// admins numbers the admin accounts of the partners addPartner creates.
var admins int

// addPartner creates an Active MSP named name, with no licence.
func addPartner(t *testing.T, w *world, name string) partner.Partner {
	t.Helper()
	in := partner.CreateParams{Type: partner.MSP, Profile: partner.Profile{CompanyName: name, City: "Lyon", Country: "France"}}
	admins++
	in.Admin.Name, in.Admin.FirstName, in.Admin.LastName, in.Admin.Email = fmt.Sprintf("added%d.admin", admins), "A", "B", "a@example.com"
	p, err := w.m.Create(context.Background(), in)
	require.NoError(t, err)
	return p
}

// needsLook gives the MSP a licence Expiring soon (a Trial, {trial}) and
// Other MSP a low pool (minimum 100, 50 left).
func needsLook(t *testing.T, w *world) {
	t.Helper()
	withTrial(t, w)
	_, err := w.m.SetMinimumLicenses(context.Background(), w.other.ID, 0, 100)
	require.NoError(t, err)
}

// rowNames lists the company names of the list's rows, in order.
func rowNames(body string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`aria-label="Select ([^"]*)"`).FindAllStringSubmatch(body, -1) {
		out = append(out, htmlpkg.UnescapeString(m[1]))
	}
	return out
}

func TestListSorts(t *testing.T) {
	w := newWorld(t)
	for _, n := range []string{"émile SARL", "Zed Systems", "alpha IT", "Émeraude", "Beta"} {
		addPartner(t, w, n)
	}
	get := func(path string) string {
		rec := w.do("GET", path, false, nil, nil)
		require.Equal(t, 200, rec.Code, rec.Body.String())
		return rec.Body.String()
	}
	// Names sort ignoring case and accents.
	byName := []string{"Acme MSP", "alpha IT", "Beta", "Blue Reseller", "Émeraude", "émile SARL", "Gone Reseller", "Other MSP", "Sleepy MSP", "Zed Systems"}
	body := get("/?sort=name")
	require.Empty(t, cmp.Diff(byName, rowNames(body)))
	require.Contains(t, body, `<th scope="col" aria-sort="ascending"><a class="sort" href="/admin/partners/?desc=1&amp;sort=name"`)
	// The other headings sort by their own column, ascending.
	require.Contains(t, body, `<th scope="col"><a class="sort" href="/admin/partners/?sort=created"`)
	require.Contains(t, body, `<th scope="col" class="num"><a class="sort" href="/admin/partners/?sort=customers"`)

	body = get("/?sort=name&desc=1")
	desc := slices.Clone(byName)
	slices.Reverse(desc)
	require.Empty(t, cmp.Diff(desc, rowNames(body)))
	require.Contains(t, body, `aria-sort="descending"><a class="sort" href="/admin/partners/?sort=name"`)
	require.Equal(t, 1, strings.Count(body, "aria-sort="), "only the sorted column says its order")

	// Status: Active, Suspended, Canceled; ties by name.
	body = get("/?sort=status&q=reseller")
	require.Empty(t, cmp.Diff([]string{"Blue Reseller", "Gone Reseller"}, rowNames(body)))
	body = get("/?sort=status&desc=1&q=msp")
	require.Empty(t, cmp.Diff([]string{"Sleepy MSP", "Acme MSP", "Other MSP"}, rowNames(body)))

	// The order is kept by the pager, the filter form (its hidden inputs
	// join it by id) and the export; the filter is kept by the headings.
	body = get("/?sort=name&desc=1&size=50&q=e")
	require.Contains(t, body, `<input type="hidden" form="filters" name="sort" value="name"><input type="hidden" form="filters" name="desc" value="1">`)
	require.Contains(t, body, `href="/admin/partners/export.csv?desc=1&amp;q=e&amp;size=50&amp;sort=name"`)
	require.Contains(t, body, `href="/admin/partners/?q=e&amp;size=50&amp;sort=name"`)
	require.Contains(t, body, `<option value="50" selected>50</option>`)
}

func TestListSortKeptByPager(t *testing.T) {
	w := newWorld(t)
	manyPartners(30)(t, w)
	body := w.do("GET", "/?sort=name&desc=1", false, nil, nil).Body.String()
	require.Contains(t, body, `href="/admin/partners/?desc=1&amp;offset=25&amp;sort=name"`)
	require.Contains(t, body, `>Next</a>`)
	// Page numbers, the current one marked.
	require.Contains(t, body, `aria-current="page" class="current" aria-label="Page 1">1</a>`)
	require.Contains(t, body, `<a href="/admin/partners/?desc=1&amp;offset=25&amp;sort=name" hx-get="/admin/partners/?desc=1&amp;offset=25&amp;sort=name" hx-target="#results" hx-swap="outerHTML" hx-push-url="true" aria-label="Page 2">2</a>`)
	require.Equal(t, "Sleepy MSP", rowNames(body)[0])
}

func TestListPageNumbers(t *testing.T) {
	w := newWorld(t)
	manyPartners(250)(t, w) // 255 partners: 11 pages of 25
	body := w.do("GET", "/?offset=125", false, nil, nil).Body.String()
	var got []string
	for _, m := range regexp.MustCompile(`aria-label="Page (\d+)"|<span aria-hidden="true">(…)</span>`).FindAllStringSubmatch(body, -1) {
		got = append(got, m[1]+m[2])
	}
	require.Empty(t, cmp.Diff([]string{"1", "…", "4", "5", "6", "7", "8", "…", "11"}, got))
	require.Contains(t, body, `aria-label="Page 6">6</a>`)
	require.Contains(t, body, "Showing 126–150 of 255 partners.")
	body = w.do("GET", "/?size=100&offset=200", false, nil, nil).Body.String()
	require.Contains(t, body, "Showing 201–255 of 255 partners.")
	require.Contains(t, body, `aria-current="page" class="current" aria-label="Page 3">3</a>`)
}

func TestListFiltersAndMarks(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "marks: expiring soon, low stock, expired, in words for screen readers", method: "GET", path: "/", setup: needsLook, status: 200,
			want: []string{`<span class="mark expiring"><span aria-hidden="true">⚠ 1 expiring soon</span><span class="sr-only">1 license expiring soon</span></span>`,
				`<span class="mark low"><span aria-hidden="true">▼ 1 low</span><span class="sr-only">1 pool below its minimum</span></span>`,
				`<span class="mark expired"><span aria-hidden="true">✕ 1 expired</span><span class="sr-only">1 license expired</span></span>`}},
		{name: "needs attention: expiring", method: "GET", path: "/?attention=expiring", setup: needsLook, status: 200,
			want: []string{"Acme MSP</a>", `<option value="expiring" selected>Expiring soon</option>`, "Showing the only partner."}, notWant: []string{"Other MSP</a></td>"}},
		{name: "needs attention: low stock", method: "GET", path: "/?attention=low-stock", setup: needsLook, status: 200,
			want: []string{"Other MSP</a></td>", "Showing the only partner."}, notWant: []string{"Acme MSP</a></td>"}},
		{name: "needs attention: either", method: "GET", path: "/?attention=any&sort=name", setup: needsLook, status: 200,
			want: []string{"Showing all 2 partners.", "Acme MSP</a></td>", "Other MSP</a></td>"}},
		{name: "combined with type and status", method: "GET", path: "/?attention=any&type=reseller", setup: needsLook, status: 200,
			want: []string{"No partner matches."}},
		{name: "product filter", method: "GET", path: "/?product={server}", setup: withServer, status: 200,
			want: []string{"Blue Reseller</a></td>", "Showing the only partner.", `selected>Server Protection</option>`}, notWant: []string{"Acme MSP</a></td>"}},
		{name: "product menu lists the catalogue", method: "GET", path: "/", status: 200,
			want: []string{`<label for="product">Product</label>`, `>Email Security</option>`, `>Endpoint Security</option>`, `>Server Protection</option>`}},
		{name: "a catalogue too large for a menu is a field, and says so", method: "GET", path: "/", setup: manyCatalogue(201), status: 200,
			want: []string{`<label for="product">Product number</label>`, "The catalogue has 204 products, too many for a menu"}, notWant: []string{`<select id="product"`}},
		{name: "bad sort", method: "GET", path: "/?sort=size", status: 400,
			want: []string{"The list cannot be sorted by that; it sorts by company name, type, status, customers, licenses used / provisioned, created. It is shown in creation order.", "Acme MSP</a>"}},
		{name: "desc alone: newest first", method: "GET", path: "/?desc=1", status: 200,
			want: []string{`<input type="hidden" form="filters" name="desc" value="1">`}},
		{name: "bad desc", method: "GET", path: "/?sort=name&desc=yes", status: 400, want: []string{"The order must be ascending or descending (desc=1)"}},
		{name: "bad page size", method: "GET", path: "/?size=1000", status: 400, want: []string{"The page size must be 25, 50 or 100; 25 partners are shown a page."}},
		{name: "bad attention", method: "GET", path: "/?attention=panic", status: 400, want: []string{"The needs-attention filter must be low stock, expiring soon or either"}},
		{name: "a product that is not in the catalogue", method: "GET", path: "/?product=9999", status: 400,
			want: []string{"No product of the catalogue has the number 9999; the list is shown for every product.", "Acme MSP</a></td>"}},
		{name: "bad product", method: "GET", path: "/?product=x1", status: 400, want: []string{"The product filter must be a product of the catalogue"}},
		{name: "every problem at once", method: "GET", path: "/?product=0&size=7&sort=x", status: 400,
			want: []string{"The product filter", "The page size", "cannot be sorted by that"}},
		{name: "bad status with a bad size", method: "GET", path: "/?status=zombie&size=7", status: 400,
			want: []string{"The page size must be", "Status is not a partner status"}},
		{name: "a refusal in the results fragment says why there", method: "GET", path: "/?product=abc&q=acme", hx: true, headers: map[string]string{"HX-Target": "results"}, status: 400,
			want: []string{`<div id="results">
<div class="notice bad" role="alert"><p>The product filter must be a product of the catalogue`, "Acme MSP</a>"}, notWant: []string{"<html"}},
		{name: "results fragment keeps the order", method: "GET", path: "/?sort=customers&desc=1", hx: true, headers: map[string]string{"HX-Target": "results"}, status: 200,
			want: []string{`id="results"`, `aria-sort="descending"`, `name="sort" value="customers"`}, notWant: []string{"<html", "Alerts"}},
	})
}

// withServer gives Blue Reseller a licence of Server Protection; {server}
// is the product's id.
func withServer(t *testing.T, w *world) {
	t.Helper()
	_, err := w.m.AssignLicenses(context.Background(), w.reseller.ID, partner.AssignLicensesParams{Grants: []license.Grant{{
		Product: "Server Protection", Units: 5, Kind: license.Full, Start: now, Expiry: now.AddDate(1, 0, 0)}}})
	require.NoError(t, err)
	w.tags = map[string]string{"{server}": fmt.Sprint(w.products[2].ID)}
}

// manyCatalogue adds n products to the catalogue.
func manyCatalogue(n int) func(t *testing.T, w *world) {
	return func(t *testing.T, w *world) {
		for i := range n {
			w.product(t, fmt.Sprintf("Extra %03d", i))
		}
	}
}

func TestListAlerts(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "alerts name the partners and link to all of them", method: "GET", path: "/", setup: needsLook, status: 200,
			want: []string{`<h2 id="alerts-title">Alerts</h2>`,
				`<h3 id="alert-0">Low stock</h3>`, "<p>1 partner has a pool below its minimum.</p>", `<a href="/admin/partners/{other}/licenses">Other MSP <span class="hint">(1 low pool)</span></a>`,
				`<a href="/admin/partners/?attention=low-stock">See all 1 in the list</a>`,
				`<h3 id="alert-1">Expiring soon</h3>`, `<a href="/admin/partners/{msp}/licenses">Acme MSP <span class="hint">(1 license expiring)</span></a>`,
				`<a href="/admin/partners/?attention=expiring">See all 1 in the list</a>`,
				`<h3 id="alert-2">Recently suspended</h3>`, "<p>1 partner is suspended.</p>",
				`<a href="/admin/partners/{suspended}/licenses">Sleepy MSP <span class="hint">(suspended 2026-05-04)</span></a>`,
				`<a href="/admin/partners/?status=suspended">See all 1 in the list</a>`}},
		{name: "a reactivated partner is no longer listed as suspended", method: "GET", path: "/", status: 200,
			setup: func(t *testing.T, w *world) {
				_, err := w.m.Reactivate(context.Background(), w.suspended.ID, 0)
				require.NoError(t, err)
			},
			want: []string{"<p>0 partners are suspended.</p>", "<p>0 partners have pools below their minimum.</p>"}, notWant: []string{`Sleepy MSP <span class="hint">`}},
		{name: "many alerts: five named, the count says how many", method: "GET", path: "/", status: 200,
			setup: func(t *testing.T, w *world) {
				for i := range 7 {
					p := addPartner(t, w, fmt.Sprintf("Low %d", i))
					_, err := w.m.AssignLicenses(context.Background(), p.ID, partner.AssignLicensesParams{Grants: []license.Grant{{
						Product: "Endpoint Security", Units: 1, Kind: license.Full, Start: now, Expiry: now.AddDate(1, 0, 0)}}})
					require.NoError(t, err)
					_, err = w.m.SetMinimumLicenses(context.Background(), p.ID, 0, 5)
					require.NoError(t, err)
				}
			},
			want: []string{"<p>7 partners have pools below their minimum.</p>", `Low 4 <span class="hint">(1 low pool)</span></a>`, `See all 7 in the list`}, notWant: []string{`Low 5 <span class="hint">`}},
	})
}

// The Licenses tab counts all the partner's licences Expiring soon and
// Expired, not only the page's: the expiring one is on the third page.
func TestLicensesTabCountsEveryPage(t *testing.T) {
	w := newWorld(t)
	manyLicenses(120)(t, w)
	withTrial(t, w)
	body := w.do("GET", "/{msp}/licenses", false, nil, nil).Body.String()
	require.Contains(t, body, "Showing 1–50 of 122 licenses.")
	require.NotContains(t, body, `<span class="badge b-expiring_soon">Expiring soon</span>`, "the trial is not on the first page")
	require.Contains(t, body, `Expiring soon: <span class="badge b-expiring_soon">1</span> · Expired: <span class="badge b-expired">0</span> <span class="hint">(of all 122 licenses)</span>`)
	// The list row says the same.
	body = w.do("GET", "/?q=acme", false, nil, nil).Body.String()
	require.Contains(t, body, `<span class="sr-only">1 license expiring soon</span>`)
}

// Without a sort, desc=1 reverses creation order: the newest first.
func TestListNewestFirst(t *testing.T) {
	w := newWorld(t)
	addPartner(t, w, "Newest")
	body := w.do("GET", "/?desc=1", false, nil, nil).Body.String()
	require.Empty(t, cmp.Diff([]string{"Newest", "Other MSP", "Gone Reseller", "Sleepy MSP", "Blue Reseller", "Acme MSP"}, rowNames(body)))
	require.NotContains(t, body, "aria-sort=")
}
