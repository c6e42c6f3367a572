package httpadmin_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"html"
	"io"
	"net/http"
	"strings"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/partner"
)

// rawConsole is the floor BenchmarkFragment measures the console against:
// for each screen it makes the same Manager reads the console makes and
// writes the same rows, links, forms and banner as HTML, escaped with
// html.EscapeString, with no template, no guard lookups (it writes the
// controls of an Active partner), no security headers and no logging.
type rawConsole struct{ m *partner.Manager }

func newRawConsole(m *partner.Manager) *rawConsole { return &rawConsole{m: m} }

var esc = html.EscapeString

func (c *rawConsole) fail(w http.ResponseWriter, err error) {
	http.Error(w, err.Error(), http.StatusInternalServerError)
}

func (c *rawConsole) send(w http.ResponseWriter, b *strings.Builder) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, b.String())
}

// usage writes the seat-usage cell: a <meter> and the figures.
func usage(b *strings.Builder, what string, used, units int64) {
	high := max(units, 1) * 8 / 10
	fmt.Fprintf(b, `<td><div class="usage"><meter min="0" max="%d" low="%d" high="%d" optimum="0" value="%d" aria-label="%s used: %d of %d"></meter><span>%d / %d</span></div></td>`+"\n",
		max(units, 1), high, high, used, what, used, units, used, units)
}

// pagerHTML writes the pager of rows [from, to] of total with the next
// page's link.
func pagerHTML(b *strings.Builder, noun string, from, to, total int, next string) {
	fmt.Fprintf(b, "<nav class=\"pager\" aria-label=\"Pages of %s\">\n  <span>Showing %d–%d of %d %s.</span>\n", noun, from, to, total, noun)
	if next != "" {
		fmt.Fprintf(b, `  <a href="%s" hx-get="%s" hx-target="#partner-main" hx-swap="outerHTML" hx-push-url="true">Next</a>`+"\n", next, next)
	}
	b.WriteString("</nav>\n")
}

func (c *rawConsole) list(w http.ResponseWriter, r *http.Request) {
	rows, total, err := c.m.List(r.Context(), partner.Filter{Page: partner.Page{Limit: 25}})
	if err != nil {
		c.fail(w, err)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<div id="results">
<p class="actions export"><a class="button secondary" href="%s/export.csv" download>Export CSV</a> <span class="hint">The partners matching the filter, in this order.</span></p>
<form id="bulk-form" method="post" action="%s/bulk">
<input type="hidden" name="q" value=""><input type="hidden" name="status" value=""><input type="hidden" name="type" value=""><input type="hidden" name="product" value=""><input type="hidden" name="attention" value="">
<div class="table-wrap"><table class="partners">
<caption class="sr-only">Partners: Showing 1–%d of %d partners.</caption>
<thead><tr><th scope="col"><span class="sr-only">Select</span></th>`, benchPrefix, benchPrefix, len(rows), total)
	for _, h := range []struct{ sort, label, class string }{{"name", "Company name", ""}, {"type", "Type", ""}, {"status", "Status", ""},
		{"customers", "Customers", ` class="num"`}, {"usage", "Licenses used / provisioned", ""}, {"created", "Created", ""}} {
		u := benchPrefix + "/?sort=" + h.sort
		fmt.Fprintf(&b, `<th scope="col"%s><a class="sort" href="%s" hx-get="%s" hx-target="#results" hx-swap="outerHTML" hx-push-url="true">%s<span class="sr-only">, sort ascending</span></a></th>`,
			h.class, u, u, h.label)
	}
	b.WriteString("<th scope=\"col\">Needs attention</th></tr></thead>\n<tbody>\n")
	for _, p := range rows {
		name := esc(p.Profile.CompanyName)
		fmt.Fprintf(&b, "<tr>\n<td><input type=\"checkbox\" name=\"id\" value=\"%d\" aria-label=\"Select %s\"></td>\n<td><a href=\"%s/%d/licenses\">%s</a></td>\n<td><span class=\"badge b-type\">%s</span></td>\n<td><span class=\"badge b-%s\">%s</span></td>\n<td class=\"num\">%d</td>\n",
			p.ID, name, benchPrefix, p.ID, name, esc(p.Type.Label()), esc(string(p.Status)), esc(p.Status.Label()), p.Customers)
		usage(&b, "Licenses", p.UnitsUsed, p.UnitsProvisioned)
		fmt.Fprintf(&b, "<td>%s</td>\n<td class=\"marks\">", p.CreatedAt.UTC().Format("2006-01-02"))
		if p.LowStockPools > 0 {
			fmt.Fprintf(&b, `<span class="mark low"><span aria-hidden="true">▼ %d low</span><span class="sr-only">%d pools below their minimum</span></span>`, p.LowStockPools, p.LowStockPools)
		}
		if p.ExpiringLicenses > 0 {
			fmt.Fprintf(&b, `<span class="mark expiring"><span aria-hidden="true">⚠ %d expiring soon</span><span class="sr-only">%d licenses expiring soon</span></span>`, p.ExpiringLicenses, p.ExpiringLicenses)
		}
		if p.ExpiredLicenses > 0 {
			fmt.Fprintf(&b, `<span class="mark expired"><span aria-hidden="true">✕ %d expired</span><span class="sr-only">%d licenses expired</span></span>`, p.ExpiredLicenses, p.ExpiredLicenses)
		}
		b.WriteString("</td>\n</tr>\n")
	}
	b.WriteString("</tbody></table></div>\n")
	fmt.Fprintf(&b, `<fieldset class="card bulk"><legend>Bulk actions</legend><div class="toolbar">
<div><input type="checkbox" id="bulk-all" name="all" value="1"> <label for="bulk-all" class="inline">Select all %d partners matching the filter</label></div>
<div><label for="bulk-action">Bulk action</label><select id="bulk-action" name="action">`, total)
	for _, k := range partner.BulkKinds() {
		fmt.Fprintf(&b, `<option value="%s">%s</option>`, k, esc(k.Label()))
	}
	b.WriteString("</select></div>\n<div><button type=\"submit\">Preview…</button></div></div></fieldset>\n</form>\n")
	fmt.Fprintf(&b, "<nav class=\"pager\" aria-label=\"Pages of partners\">\n  <span>Showing 1–%d of %d partners.</span>\n", len(rows), total)
	for n := 1; n <= min((total+24)/25, 3); n++ {
		u := fmt.Sprintf("%s/?offset=%d", benchPrefix, (n-1)*25)
		fmt.Fprintf(&b, `<a href="%s" hx-get="%s" hx-target="#results" hx-swap="outerHTML" hx-push-url="true" aria-label="Page %d">%d</a>`, u, u, n, n)
	}
	fmt.Fprintf(&b, `  <a href="%s/?offset=25" hx-get="%s/?offset=25" hx-target="#results" hx-swap="outerHTML" hx-push-url="true">Next</a>`+"\n</nav>\n</div>\n", benchPrefix, benchPrefix)
	c.send(w, &b)
}

// screenStart writes the tab strip, the panel's opening and the message
// area of partner p's screen with tab selected.
func screenStart(b *strings.Builder, p partner.Partner, selected partner.Tab) {
	b.WriteString("<div id=\"partner-main\">\n<div role=\"tablist\" aria-label=\"Partner sections\">\n")
	for _, t := range partner.Tabs(p.Type) {
		u := fmt.Sprintf("%s/%d/%s", benchPrefix, p.ID, t)
		sel, extra := "false", ""
		if t == selected {
			sel, extra = "true", ` aria-controls="panel" aria-current="page"`
		}
		fmt.Fprintf(b, `<a role="tab" id="tab-%s" href="%s" aria-selected="%s"%s hx-get="%s" hx-target="#partner-main" hx-swap="outerHTML" hx-push-url="true">%s</a>`+"\n",
			t, u, sel, extra, u, esc(t.Label()))
	}
	fmt.Fprintf(b, "</div>\n<section role=\"tabpanel\" id=\"panel\" aria-labelledby=\"tab-%s\">\n<div id=\"messages\" role=\"status\" aria-live=\"polite\"></div>\n", selected)
}

// screenEnd closes the panel and writes the banner out of band.
func screenEnd(b *strings.Builder, p partner.Partner) {
	fmt.Fprintf(b, `</section>
</div>
<section id="banner" class="card banner" aria-label="Partner information" hx-swap-oob="true">
<dl>
  <div><dt>Status</dt><dd><span class="badge b-%s">%s</span></dd></div>
  <div><dt>Type</dt><dd>%s</dd></div>
  <div><dt>Customers</dt><dd>%d</dd></div>
  <div><dt>Licenses used</dt><dd>%d / %d</dd></div>
</dl>
<div class="side"><a href="%s/%d/audit">Audit trail</a></div>
</section>
`, esc(string(p.Status)), esc(p.Status.Label()), esc(p.Type.Label()), p.Customers, p.UnitsUsed, p.UnitsProvisioned, benchPrefix, p.ID)
}

// hxForm is what every form of the partner screen carries.
const hxForm = ` method="post" hx-target="#partner-main" hx-swap="outerHTML"`

func (c *rawConsole) licenses(w http.ResponseWriter, r *http.Request, id int64) {
	ctx := r.Context()
	p, err := c.m.Get(ctx, id)
	if err != nil {
		c.fail(w, err)
		return
	}
	lics, total, err := c.m.Licenses(ctx, id, partner.Page{Limit: 50})
	if err != nil {
		c.fail(w, err)
		return
	}
	pools, err := c.m.Pools(ctx, id)
	if err != nil {
		c.fail(w, err)
		return
	}
	low := map[[2]string]bool{}
	for _, pool := range pools {
		low[[2]string{pool.Product, pool.UnitType}] = pool.Low
	}
	var b strings.Builder
	screenStart(&b, p, partner.TabLicenses)
	u := fmt.Sprintf("%s/%d/licenses", benchPrefix, id)
	fmt.Fprintf(&b, `<div class="split">
<div>
<h2>Licenses</h2>
<form id="disable-form" method="post" action="%s/disable" hx-post="%s/disable" hx-target="#partner-main" hx-swap="outerHTML"
      hx-confirm="Disable the selected licenses? Customers keep the units they have; no further customer can be given them." hx-vals='{"confirm":"yes"}'>
<div class="table-wrap">
<table>
  <caption class="sr-only">Licenses of %s: Showing 1–%d of %d licenses.</caption>
  <thead><tr><th scope="col"><span class="sr-only">Select</span></th><th scope="col">Product</th><th scope="col">Kind</th><th scope="col">Seat usage</th><th scope="col">State</th><th scope="col">Start</th><th scope="col">Expiry</th></tr></thead>
  <tbody>
`, u, u, esc(p.Profile.CompanyName), len(lics), total)
	for _, l := range lics {
		product, disabled := esc(l.Product), ""
		if l.Disabled {
			disabled = " disabled"
		}
		fmt.Fprintf(&b, "<tr>\n<td><input type=\"checkbox\" name=\"license\" value=\"%d\" id=\"lic-%d\" aria-label=\"Select license %d, %s\"%s></td>\n<td><strong>%s</strong><br><span class=\"hint\">#%d · %s</span></td>\n<td>%s</td>\n",
			l.ID, l.ID, l.ID, product, disabled, product, l.ID, esc(l.UnitType), esc(l.Kind.Label()))
		usage(&b, "Seats", l.Used, l.Units)
		state := c.m.LicenseState(l)
		fmt.Fprintf(&b, `<td><span class="badge b-%s">%s</span>`, esc(string(state)), esc(state.Label()))
		if low[[2]string{l.Product, l.UnitType}] {
			b.WriteString(` <span class="low" title="Pool below the minimum licenses">&#9888;<span class="sr-only">Low stock</span></span>`)
		}
		fmt.Fprintf(&b, "</td>\n<td class=\"nowrap\">%s</td>\n<td class=\"nowrap\">%s</td>\n</tr>\n",
			l.Start.UTC().Format("2006-01-02"), l.Expiry.UTC().Format("2006-01-02"))
	}
	b.WriteString("</tbody>\n</table>\n</div>\n<div class=\"actions\"><button type=\"submit\" class=\"danger\">Disable Licenses</button></div>\n</form>\n")
	next := ""
	if len(lics) < total {
		next = fmt.Sprintf("%s?offset=%d", u, len(lics))
	}
	pagerHTML(&b, "licenses", 1, len(lics), total, next)
	b.WriteString("<h3>License pools</h3>\n<ul class=\"pools\">")
	for _, pool := range pools {
		fmt.Fprintf(&b, "<li>%s: %d of %d remaining", esc(pool.Name()), pool.Remaining, pool.Units)
		if pool.Low {
			fmt.Fprintf(&b, ` <span class="low">&#9888; below the minimum of %d</span>`, pool.Minimum)
		}
		b.WriteString("</li>")
	}
	refill, turn, on := "Off", "Turn refill on", "true"
	if p.PoolRefill {
		refill, turn, on = "On", "Turn refill off", "false"
	}
	today, nextYear := benchNow.Format("2006-01-02"), benchNow.AddDate(1, 0, 0).Format("2006-01-02")
	fmt.Fprintf(&b, `</ul>
</div>
<div>
<h2>License pool refill</h2>
<form class="card" action="%[1]s/refill" hx-post="%[1]s/refill"%[2]s>
  <input type="hidden" name="version" value="%[3]d">
  <p>Refill is <span class="badge b-%[4]s">%[5]s</span></p>
  <p class="hint">When on, the partner may create new licenses after depleting the remaining pool.</p>
  <input type="hidden" name="on" value="%[6]s">
  <button type="submit" class="secondary">%[7]s</button>
</form>
<form class="card" action="%[1]s/minimum" hx-post="%[1]s/minimum"%[2]s>
  <input type="hidden" name="version" value="%[3]d">
  <fieldset class="plain"><legend>Minimum licenses</legend>
  <div class="field"><label for="minimum">Low-stock threshold per pool <span class="hint">(0 turns it off)</span></label>
  <input type="number" id="minimum" name="minimum" min="0" value="%[8]d">
  </div>
  <button type="submit" class="secondary">Save</button>
  </fieldset>
</form>
<h2>Assign Licenses</h2>
<form class="card" action="%[1]s/assign" hx-post="%[1]s/assign"%[2]s novalidate>
  <input type="hidden" name="key" value="%[9]s">
  <fieldset class="plain"><legend class="sr-only">New licenses</legend>
  <div class="field"><label for="a-product">Product</label>
    <input type="text" id="a-product" name="product" value="" required>
    </div>
  <div class="field"><label for="a-unit">Unit type</label>
    <input type="text" id="a-unit" name="unit_type" value="seats" required>
    </div>
  <div class="field"><label for="a-units">Units</label>
    <input type="number" id="a-units" name="units" min="1" value="" required>
    </div>
  <div class="field"><label for="a-kind">Kind</label>
    <select id="a-kind" name="kind">
      <option value="full" selected>Full</option>
      <option value="trial">Trial</option></select>
    </div>
  <div class="field"><label for="a-start">Start</label>
    <input type="date" id="a-start" name="start" value="%[10]s" required>
    </div>
  <div class="field"><label for="a-expiry">Expiry</label>
    <input type="date" id="a-expiry" name="expiry" value="%[11]s" required>
    </div>
  <button type="submit">Assign Licenses</button>
  </fieldset>
</form>
</div>
</div>
`, u, hxForm, p.Version, strings.ToLower(refill), refill, on, turn, p.MinimumLicenses, newKey(), today, nextYear)
	screenEnd(&b, p)
	c.send(w, &b)
}

// newKey is a fresh idempotency key for the Assign Licenses form.
func newKey() string {
	k := make([]byte, 12)
	_, _ = rand.Read(k)
	return hex.EncodeToString(k)
}

// roleOptions writes the options of the roles, selected marked.
func roleOptions(b *strings.Builder, selected account.Role) {
	for _, role := range account.Roles() {
		sel := ""
		if role == selected {
			sel = " selected"
		}
		fmt.Fprintf(b, `<option value="%s"%s>%s</option>`, esc(string(role)), sel, esc(role.Label()))
	}
}

func (c *rawConsole) accounts(w http.ResponseWriter, r *http.Request, id int64) {
	ctx := r.Context()
	p, err := c.m.Get(ctx, id)
	if err != nil {
		c.fail(w, err)
		return
	}
	accts, _, err := c.m.Accounts(ctx, id, partner.Page{Limit: 50}) // the page the handler shows
	if err != nil {
		c.fail(w, err)
		return
	}
	var b strings.Builder
	screenStart(&b, p, partner.TabAccounts)
	fmt.Fprintf(&b, `<h2>Accounts</h2>
<div class="table-wrap">
<table>
  <caption class="sr-only">Console accounts of %s: all %d</caption>
  <thead><tr><th scope="col">Account name</th><th scope="col">Contact</th><th scope="col">Role</th><th scope="col">Sign-in</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
  <tbody>
`, esc(p.Profile.CompanyName), len(accts))
	for _, a := range accts {
		name := esc(a.Name)
		u := fmt.Sprintf("%s/%d/accounts/%d", benchPrefix, id, a.ID)
		fmt.Fprintf(&b, `<tr>
<td><strong>%[1]s</strong></td>
<td>%[2]s<br><span class="hint">%[3]s</span></td>
<td><form class="actions" action="%[4]s/role" hx-post="%[4]s/role"%[5]s>
  <input type="hidden" name="version" value="%[6]d">
  <label class="sr-only" for="role-%[7]d">Role of %[1]s</label>
  <select id="role-%[7]d" name="role">`, name, esc(a.FullName()), esc(a.Email), u, hxForm, a.Version, a.ID)
		roleOptions(&b, a.Role)
		fmt.Fprintf(&b, `</select>
  <button type="submit" class="secondary" aria-label="Change role of %s">Change</button></form>
</td>
`, name)
		if a.Enabled {
			fmt.Fprintf(&b, `<td><span class="badge b-on">Enabled</span></td>
<td><div class="actions">
  <form class="inline" action="%[1]s/disable" hx-post="%[1]s/disable"%[2]s hx-confirm="Disable %[3]s? It will no longer be able to sign in." hx-vals='{"confirm":"yes"}'>
    <input type="hidden" name="version" value="%[4]d"><button type="submit" class="secondary" aria-label="Disable %[3]s">Disable</button></form>
  <form class="inline" action="%[1]s/reset-password" hx-post="%[1]s/reset-password"%[2]s>
    <button type="submit" class="secondary" aria-label="Reset password of %[3]s">Reset password</button></form>
`, u, hxForm, name, a.Version)
		} else {
			fmt.Fprintf(&b, `<td><span class="badge b-off">Disabled</span></td>
<td><div class="actions">
  <form class="inline" action="%[1]s/enable" hx-post="%[1]s/enable"%[2]s>
    <input type="hidden" name="version" value="%[4]d"><button type="submit" class="secondary" aria-label="Enable %[3]s">Enable</button></form>
`, u, hxForm, name, a.Version)
		}
		fmt.Fprintf(&b, `  <form class="inline" action="%[1]s/delete" hx-post="%[1]s/delete"%[2]s hx-confirm="Delete %[3]s for good?" hx-vals='{"confirm":"yes"}'>
    <button type="submit" class="danger" aria-label="Delete %[3]s">Delete</button></form>
</div></td>
</tr>
`, u, hxForm, name)
	}
	u := fmt.Sprintf("%s/%d/accounts", benchPrefix, id)
	fmt.Fprintf(&b, `</tbody>
</table>
</div>
<h3>Add account</h3>
<form class="card" action="%[1]s/add" hx-post="%[1]s/add"%[2]s novalidate>
  <fieldset class="plain"><legend class="sr-only">New account</legend>
  <div class="grid">
  <div class="field"><label for="n-account">Account name <span class="hint">(cannot change later)</span></label>
    <input type="text" id="n-account" name="account" value="" autocomplete="off">
    </div>
  <div class="field"><label for="n-first">First name</label>
    <input type="text" id="n-first" name="first_name" value="">
    </div>
  <div class="field"><label for="n-last">Last name</label>
    <input type="text" id="n-last" name="last_name" value="">
    </div>
  <div class="field"><label for="n-email">Email</label>
    <input type="email" id="n-email" name="email" value="">
    </div>
  <div class="field"><label for="n-role">Role</label>
    <select id="n-role" name="role">`, u, hxForm)
	roleOptions(&b, account.LicenseManager)
	b.WriteString(`</select>
    </div>
  </div>
  <button type="submit">Add account</button>
  </fieldset>
</form>
`)
	screenEnd(&b, p)
	c.send(w, &b)
}
