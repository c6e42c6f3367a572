package httpadmin_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	htmlpkg "html"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/httpadmin"
	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/partner/memstore"
	"github.com/partnerkit/partnerkit/serviceplan"
)

var now = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

// world is a Manager with a partner of each kind the screens show.
type world struct {
	m                                         *partner.Manager
	h                                         http.Handler
	logs                                      *bytes.Buffer
	msp, reseller, suspended, canceled, other partner.Partner
	mspLic, otherLic                          license.License
	mspAdmin, mspUser, otherUser, offUser     account.Account
	planA, planB, planOff                     serviceplan.Plan
	// products is the catalogue: Endpoint Security (seats, 30-day trial),
	// Email Security (users, 14-day trial), Server Protection (devices,
	// no trial).
	products []license.Product
	// tags are more {name}s that expand replaces, set by a setup.
	tags map[string]string
}

// license reads a licence of the world.
func (w *world) license(id int64) (license.License, error) {
	var l license.License
	err := w.m.Store().View(context.Background(), func(ctx context.Context, r partner.Reader) (err error) {
		l, err = r.License(ctx, id)
		return err
	})
	return l, err
}

// product adds a product of seats to the catalogue unless it is there.
func (w *world) product(t *testing.T, name string) license.Product {
	t.Helper()
	for _, p := range w.products {
		if p.Name == name {
			return p
		}
	}
	p, err := w.m.CreateProduct(context.Background(), license.Product{Name: name, UnitType: license.Seats})
	require.NoError(t, err)
	w.products = append(w.products, p)
	return p
}

func newWorld(t *testing.T) *world { return newWorldOn(t, memstore.New()) }

// newWorldOn builds the world on a store of the test's choosing.
func newWorldOn(t *testing.T, store partner.Store) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{logs: &bytes.Buffer{}}
	w.m = partner.NewManager(partner.Options{Store: store, Now: func() time.Time { return now },
		ResetPassword: func(context.Context, account.Account) error { return nil }})
	plan := func(name string, enabled bool) serviceplan.Plan {
		p, err := w.m.CreatePlan(ctx, serviceplan.Plan{Name: name, Enabled: true, Product: "Endpoint Security",
			Kind: serviceplan.Full, UnitType: "seats", DataCenter: serviceplan.EU, InitialPeriodMonths: 12})
		require.NoError(t, err)
		if !enabled {
			off := false
			p, err = w.m.UpdatePlan(ctx, p.ID, serviceplan.Patch{Enabled: &off})
			require.NoError(t, err)
		}
		return p
	}
	w.planA, w.planB, w.planOff = plan("Plan A", true), plan("Plan B", true), plan("Plan Off", false)
	for _, pr := range []license.Product{{Name: "Endpoint Security", UnitType: license.Seats, TrialOffered: true, TrialDays: 30},
		{Name: "Email Security", UnitType: license.Users, TrialOffered: true, TrialDays: 14}, {Name: "Server Protection", UnitType: license.Devices}} {
		created, err := w.m.CreateProduct(ctx, pr)
		require.NoError(t, err)
		w.products = append(w.products, created)
	}
	mk := func(name string, typ partner.Type, admin string) partner.Partner {
		in := partner.CreateParams{Type: typ, Profile: partner.Profile{CompanyName: name, City: "Lyon", Country: "France"},
			Admin: account.Params{Name: admin, FirstName: "Ada", LastName: "Admin", Email: admin + "@example.com"},
			Licenses: []license.Grant{{Product: "Endpoint Security", UnitType: "seats", Units: 50, Kind: license.Full,
				Start: now.AddDate(0, -1, 0), Expiry: now.AddDate(1, 0, 0)}}}
		if typ == partner.Reseller {
			in.Plans = []int64{w.planA.ID}
		} else {
			in.RemoteManager = []partner.DataCenter{serviceplan.EU}
		}
		p, err := w.m.Create(ctx, in)
		require.NoError(t, err)
		return p
	}
	w.msp = mk("Acme MSP", partner.MSP, "acme.admin")
	w.reseller = mk("Blue Reseller", partner.Reseller, "blue.admin")
	w.suspended = mk("Sleepy MSP", partner.MSP, "sleepy.admin")
	w.canceled = mk("Gone Reseller", partner.Reseller, "gone.admin")
	w.other = mk("Other MSP", partner.MSP, "other.admin")
	var err error
	w.mspUser, err = w.m.AddAccount(ctx, w.msp.ID, account.Params{Name: "acme.user", FirstName: "U", LastName: "Ser", Email: "u@example.com", Role: account.SupportEngineer})
	require.NoError(t, err)
	w.otherUser, err = w.m.AddAccount(ctx, w.other.ID, account.Params{Name: "other.user", FirstName: "O", LastName: "Ther", Email: "o@example.com", Role: account.SupportEngineer})
	require.NoError(t, err)
	w.offUser, err = w.m.AddAccount(ctx, w.msp.ID, account.Params{Name: "acme.off", FirstName: "O", LastName: "Ff", Email: "off@example.com", Role: account.BillingManager})
	require.NoError(t, err)
	w.offUser, err = w.m.DisableAccount(ctx, w.msp.ID, w.offUser.ID, 0)
	require.NoError(t, err)
	accts, _, err := w.m.Accounts(ctx, w.msp.ID, partner.Page{Limit: partner.MaxLimit})
	require.NoError(t, err)
	w.mspAdmin = accts[0]
	lics, _, err := w.m.Licenses(ctx, w.msp.ID, partner.Page{})
	require.NoError(t, err)
	w.mspLic = lics[0]
	lics, _, err = w.m.Licenses(ctx, w.other.ID, partner.Page{})
	require.NoError(t, err)
	w.otherLic = lics[0]
	_, err = w.m.Suspend(ctx, w.suspended.ID, 0)
	require.NoError(t, err)
	_, err = w.m.Cancel(ctx, w.canceled.ID, 0)
	require.NoError(t, err)
	for _, p := range []*partner.Partner{&w.msp, &w.reseller, &w.suspended, &w.canceled, &w.other} {
		*p, err = w.m.Get(ctx, p.ID)
		require.NoError(t, err)
	}
	w.h = httpadmin.New(w.m, httpadmin.Options{Prefix: "/admin/partners", Authorize: httpadmin.AllowAll,
		Actor: func(*http.Request) string { return "tester" }, Logger: slog.New(slog.NewTextHandler(w.logs, nil))})
	return w
}

// expand replaces {msp}, {reseller}, {suspended}, {canceled}, {other},
// {lic}, {otherlic}, {admin}, {user}, {otheruser}, {planA}, {planB},
// {planOff} with ids.
func (w *world) expand(s string) string {
	for k, v := range w.tags {
		s = strings.ReplaceAll(s, k, v)
	}
	return strings.NewReplacer(
		"{msp}", fmt.Sprint(w.msp.ID), "{reseller}", fmt.Sprint(w.reseller.ID), "{suspended}", fmt.Sprint(w.suspended.ID),
		"{canceled}", fmt.Sprint(w.canceled.ID), "{other}", fmt.Sprint(w.other.ID),
		"{lic}", fmt.Sprint(w.mspLic.ID), "{otherlic}", fmt.Sprint(w.otherLic.ID),
		"{admin}", fmt.Sprint(w.mspAdmin.ID), "{user}", fmt.Sprint(w.mspUser.ID), "{otheruser}", fmt.Sprint(w.otherUser.ID),
		"{offuser}", fmt.Sprint(w.offUser.ID), "{mspv}", fmt.Sprint(w.msp.Version), "{newest}", fmt.Sprint(w.newest()),
		"{planA}", fmt.Sprint(w.planA.ID), "{planB}", fmt.Sprint(w.planB.ID), "{planOff}", fmt.Sprint(w.planOff.ID),
	).Replace(s)
}

// do sends a request for path (without the mount prefix) to the world's
// console, mounted under /admin/partners.
func (w *world) do(method, path string, hx bool, form url.Values, headers map[string]string) *httptest.ResponseRecorder {
	var body *strings.Reader
	if form != nil {
		enc := url.Values{}
		for k, vs := range form {
			for _, v := range vs {
				enc.Add(k, w.expand(v))
			}
		}
		body = strings.NewReader(enc.Encode())
	} else {
		body = strings.NewReader("")
	}
	r := httptest.NewRequest(method, "/admin/partners"+w.expand(path), body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if hx {
		r.Header.Set("HX-Request", "true")
	}
	for k, v := range headers {
		r.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	mounted("/admin/partners", w.h).ServeHTTP(rec, r)
	return rec
}

// mounted is a host that mounts the console h under prefix with
// httpadmin.Mount; requests to it carry the prefix.
func mounted(prefix string, h http.Handler) http.Handler {
	mux := http.NewServeMux()
	httpadmin.Mount(mux, prefix, h)
	return mux
}

// newest is the id of the MSP's newest licence.
func (w *world) newest() int64 {
	_, total, err := w.m.Licenses(context.Background(), w.msp.ID, partner.Page{Limit: 1})
	if err != nil || total == 0 {
		return 0
	}
	lics, _, err := w.m.Licenses(context.Background(), w.msp.ID, partner.Page{Offset: total - 1, Limit: 1})
	if err != nil {
		return 0
	}
	return lics[0].ID
}

// snapshot is what a refused request must leave unchanged.
func (w *world) snapshot(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	_, n, err := w.m.Audit(ctx, 0, partner.Page{}) // the catalogues
	require.NoError(t, err)
	fmt.Fprintf(&b, "catalogue audit=%d; ", n)
	ps, _, err := w.m.List(ctx, partner.Filter{})
	require.NoError(t, err)
	for _, p := range ps {
		_, n, err := w.m.Audit(ctx, p.ID, partner.Page{})
		require.NoError(t, err)
		fmt.Fprintf(&b, "%d v%d audit=%d used=%d/%d; ", p.ID, p.Version, n, p.UnitsUsed, p.UnitsProvisioned)
	}
	return b.String()
}

type scenario struct {
	name    string
	method  string
	path    string
	hx      bool
	form    url.Values
	headers map[string]string
	status  int
	want    []string
	notWant []string
	// unchanged: the request must change nothing at all.
	unchanged bool
	// location: the expected redirect target.
	location string
	// setup prepares the world before the request.
	setup func(t *testing.T, w *world)
}

func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

func TestScenarios(t *testing.T) {
	grant := func(units string) url.Values {
		return form("full-1", units, "start-1", "2026-05-01", "expiry-1", "2027-05-01", "key", "k-"+units)
	}
	scenarios := []scenario{
		// Partners list
		{name: "list full page", method: "GET", path: "/", status: 200,
			want:    []string{`<html lang="en">`, "Users &amp; Accounts", "Acme MSP", "Blue Reseller", "Create Partner", `role="search"`, "Licenses used / provisioned"},
			notWant: []string{"hx-swap-oob"}},
		{name: "list search fragment", method: "GET", path: "/?q=acme", hx: true, headers: map[string]string{"HX-Target": "results"}, status: 200,
			want: []string{`id="results"`, "Acme MSP"}, notWant: []string{"<html", "Blue Reseller"}},
		{name: "list filters status and type", method: "GET", path: "/?status=suspended&type=msp", status: 200,
			want: []string{"Sleepy MSP"}, notWant: []string{"Acme MSP</a>", "Blue Reseller</a>"}},
		{name: "list bad filter", method: "GET", path: "/?status=zombie", status: 422, want: []string{"Status is not a partner status"}},
		{name: "create form", method: "GET", path: "/new", status: 200,
			want: []string{"Create Partner", `name="company"`, `name="account"`, "Plan A", "Remote Manager"}, notWant: []string{"Plan Off"}},
		{name: "create invalid", method: "POST", path: "/", hx: true, status: 422, unchanged: true,
			form: form("type", "msp", "company", "", "city", "Paris", "country", "France", "account", "new.admin", "first_name", "N", "last_name", "N", "email", "n@example.com"),
			want: []string{`id="create-form"`, "Company name is required", `aria-invalid="true"`}, notWant: []string{"<html"}},
		{name: "create reports every invalid field", method: "POST", path: "/", hx: true, status: 422, unchanged: true,
			form: form("type", "msp", "company", "", "city", "", "country", "France", "account", "x", "first_name", "N", "last_name", "N", "email", "bad"),
			want: []string{"Company name is required", "City is required", "Account name must be 3 to 64 characters", "Email is not a valid e-mail address",
				`id="c-company-err"`, `id="c-city-err"`, `id="c-account-err"`, `id="c-email-err"`}},
		{name: "assign reports every invalid field", method: "POST", path: "/{msp}/licenses/assign", hx: true, status: 422, unchanged: true,
			form: form("full-1", "-1", "start-1", "2026-05-01", "expiry-1", "2027-05-01", "trial-3", "5", "start-3", "2026-05-01",
				"full-2", "4", "start-2", "2026-05-01", "expiry-2", "2026-01-01"),
			want: []string{"Please correct these 3 fields:", "Endpoint Security full units must be at least 1", "Server Protection trial units: Server Protection offers no trial",
				"Email Security expiry must be after the start date", `aria-invalid="true" aria-describedby="assign-full-1-err"`}},
		{name: "create duplicate account", method: "POST", path: "/", status: 422, unchanged: true,
			form: form("type", "msp", "company", "Newco", "city", "Paris", "country", "France", "account", "ACME.admin", "first_name", "N", "last_name", "N", "email", "n@example.com"),
			want: []string{"<html", "is already taken", `id="c-account-err"`}},
		{name: "create plans for an MSP", method: "POST", path: "/", status: 422, unchanged: true,
			form: form("type", "msp", "company", "Newco", "city", "Paris", "country", "France", "account", "newco.admin", "first_name", "N", "last_name", "N", "email", "n@example.com", "plan", "{planA}"),
			want: []string{"service plans are for Reseller partners only"}},
		{name: "create ok", method: "POST", path: "/", status: 303,
			form:     form("type", "reseller", "company", "Newco", "city", "Paris", "country", "France", "account", "newco.admin", "first_name", "N", "last_name", "N", "email", "n@example.com", "plan", "{planA}"),
			location: "/admin/partners/6/licenses?done=created"},
		{name: "create ok with htmx", method: "POST", path: "/", hx: true, status: 200,
			form: form("type", "msp", "company", "Newer", "city", "Paris", "country", "France", "account", "newer.admin", "first_name", "N", "last_name", "N", "email", "n@example.com", "data_center", "JP")},

		// Partner screen: full pages and fragments, tabs by type
		{name: "partner redirects to licenses", method: "GET", path: "/{msp}", status: 303, location: "/admin/partners/{msp}/licenses"},
		{name: "msp licenses full", method: "GET", path: "/{msp}/licenses", status: 200,
			want:    []string{"<html", `aria-current="page">Acme MSP`, `id="banner"`, `role="tablist"`, `aria-selected="true" aria-controls="panel"`, "Management Licenses", "Disable Licenses", "Enable Licenses", "License pool refill", "Assign Licenses", "<meter", ">Customers</a>"},
			notWant: []string{"Service Plans</a>", "hx-swap-oob"}},
		{name: "msp licenses fragment", method: "GET", path: "/{msp}/licenses", hx: true, status: 200,
			want: []string{`id="partner-main"`, `role="tabpanel"`, `hx-swap-oob="true"`}, notWant: []string{"<html", "<h1>"}},
		{name: "reseller licenses has no disable", method: "GET", path: "/{reseller}/licenses", status: 200,
			want: []string{"Service Plans</a>", "Assign Licenses"}, notWant: []string{"Disable Licenses", "Management Licenses</a>"}},
		{name: "msp management", method: "GET", path: "/{msp}/management-licenses", status: 200,
			want: []string{"Enable Trend Micro Remote Manager", "Europe (EU)", "Enabled"}},
		{name: "reseller has no management tab", method: "GET", path: "/{reseller}/management-licenses", status: 404},
		{name: "reseller plans", method: "GET", path: "/{reseller}/service-plans", status: 200,
			want: []string{"Plan A", "Remove Service Plan", "Assign Service Plan", `<option value="{planB}">Plan B`}, notWant: []string{"Plan Off"}},
		{name: "msp has no plans tab", method: "GET", path: "/{msp}/service-plans", status: 404},
		{name: "accounts", method: "GET", path: "/{msp}/accounts", status: 200,
			want: []string{"acme.admin", "acme.user", "Support Engineer", "Reset password", "Add account"}},
		{name: "profile", method: "GET", path: "/{msp}/profile", status: 200,
			want: []string{`value="Acme MSP"`, "Suspend", "Reactivate", "Cancel", "Save profile"}},
		{name: "audit", method: "GET", path: "/{msp}/audit", status: 200, want: []string{"Audit trail of Acme MSP", "Create Partner", "Export CSV"}},
		{name: "cancel preview", method: "GET", path: "/{msp}/cancel", status: 200,
			want: []string{"What canceling will hit", "enabled accounts lose access", "acme.admin", "Type the company name"}},
		{name: "audit export", method: "GET", path: "/{msp}/audit.csv", status: 200,
			want: []string{"at,actor,action,target,before,after\n", ",system,create_partner,partner {msp},,Company name: Acme MSP;", ",system,add_account,account acme.user,"}},
		{name: "audit export of unknown partner", method: "GET", path: "/9999/audit.csv", status: 404},
		{name: "unknown partner", method: "GET", path: "/9999/licenses", status: 404, want: []string{"This no longer exists"}},
		{name: "bad id", method: "GET", path: "/abc/licenses", status: 404},
		{name: "unknown tab", method: "GET", path: "/{msp}/billing", status: 404},

		// Guards in the UI: suspended and canceled
		{name: "suspended licenses disabled", method: "GET", path: "/{suspended}/licenses", status: 200,
			want: []string{"The partnership is suspended: only the Profile can be changed", `disabled aria-describedby="why-assign"`, `disabled aria-describedby="why-disable"`}},
		{name: "suspended profile editable", method: "GET", path: "/{suspended}/profile", status: 200,
			want: []string{`<fieldset>`, "Save profile"}, notWant: []string{`id="why-profile"`}},
		{name: "canceled profile is read-only", method: "GET", path: "/{canceled}/profile", status: 200,
			want: []string{"The partnership is canceled: nothing can be changed"}, notWant: []string{`id="why-profile"`, "<input"}},
		{name: "canceled cancel page refuses", method: "GET", path: "/{canceled}/cancel", status: 200,
			want: []string{"nothing can be changed"}, notWant: []string{"Type the company name"}},

		// Actions that work
		{name: "assign licences htmx", method: "POST", path: "/{msp}/licenses/assign", hx: true, form: grant("20"), status: 200,
			want: []string{"Licenses assigned.", `hx-swap-oob="true"`, "0 / 20"}},
		{name: "assign licences plain", method: "POST", path: "/{msp}/licenses/assign", form: grant("21"), status: 303,
			location: "/admin/partners/{msp}/licenses?done=assigned"},
		{name: "refill on", method: "POST", path: "/{msp}/licenses/refill", hx: true, form: form("on", "true"), status: 200, want: []string{"Turn refill off"}},
		{name: "minimum", method: "POST", path: "/{msp}/licenses/minimum", hx: true, form: form("minimum", "100"), status: 200, want: []string{"100 (the partner&#39;s)", `<span class="sr-only"> Low stock</span>`}},
		{name: "rm enable", method: "POST", path: "/{msp}/management-licenses/enable", hx: true, form: form("data_center", "JP"), status: 200, want: []string{"Trend Micro Remote Manager enabled for Japan (JP)."}},
		{name: "assign plan", method: "POST", path: "/{reseller}/service-plans/assign", hx: true, form: form("plan", "{planB}"), status: 200, want: []string{"Service plan assigned."}},
		{name: "add account", method: "POST", path: "/{msp}/accounts/add", hx: true, status: 200,
			form: form("account", "acme.new", "first_name", "N", "last_name", "Ew", "email", "new@example.com", "role", "billing_manager"), want: []string{"Account added.", "acme.new"}},
		{name: "change role", method: "POST", path: "/{msp}/accounts/{user}/role", hx: true, form: form("role", "billing_manager"), status: 200, want: []string{"Role changed."}},
		{name: "reset password", method: "POST", path: "/{msp}/accounts/{user}/reset-password", hx: true, status: 200, want: []string{"Password reset requested."}},
		{name: "update profile", method: "POST", path: "/{msp}/profile", hx: true, status: 200,
			form: form("company", "Acme MSP", "city", "Grenoble", "country", "France", "contact-1-first-name", "Ada", "contact-1-last-name", "Admin", "contact-1-email", "ada@example.com"),
			want: []string{"Profile saved.", `value="Grenoble"`}},

		{name: "disable licences", method: "POST", path: "/{msp}/licenses/disable", hx: true, form: form("confirm", "yes", "license", "{lic}"), status: 200,
			want: []string{"Selected licenses disabled.", "b-disabled"}},
		{name: "rm disable", method: "POST", path: "/{msp}/management-licenses/disable", hx: true, form: form("confirm", "yes", "data_center", "EU"), status: 200,
			want: []string{"Trend Micro Remote Manager disabled for Europe (EU)."}, notWant: []string{"<span class=\"badge b-on\">Enabled</span>"}},
		{name: "remove plan", method: "POST", path: "/{reseller}/service-plans/{planA}/remove", hx: true, form: form("confirm", "yes"), status: 200,
			want: []string{"Service plan removed.", "No service plan is assigned."}},
		{name: "disable account", method: "POST", path: "/{msp}/accounts/{user}/disable", hx: true, form: form("confirm", "yes"), status: 200,
			want: []string{"Account disabled.", "b-off"}},
		{name: "delete account", method: "POST", path: "/{msp}/accounts/{user}/delete", form: form("confirm", "yes"), status: 303,
			location: "/admin/partners/{msp}/accounts?done=acct-gone"},
		{name: "suspend", method: "POST", path: "/{msp}/suspend", hx: true, form: form("confirm", "yes"), status: 200,
			want: []string{"Partnership suspended.", `<span class="badge b-suspended">Suspended</span>`}},
		{name: "reactivate", method: "POST", path: "/{suspended}/reactivate", hx: true, status: 200,
			want: []string{"Partnership reactivated.", `<span class="badge b-active">Active</span>`}},
		{name: "cancel", method: "POST", path: "/{msp}/cancel", form: form("confirm_name", "Acme MSP"), status: 303,
			location: "/admin/partners/{msp}/profile?done=canceled"},
		{name: "done message after redirect", method: "GET", path: "/{msp}/licenses?done=assigned", status: 200, want: []string{"Licenses assigned."}},
		{name: "unknown done code shows nothing", method: "GET", path: "/{msp}/licenses?done=<script>", status: 200, notWant: []string{"&lt;script&gt;", "<script>"}},

		// Destructive actions ask first
		{name: "enable account", method: "POST", path: "/{msp}/accounts/{offuser}/enable", hx: true, status: 200, want: []string{"Account enabled."}},
		{name: "enable account on canceled", method: "POST", path: "/{canceled}/accounts/{offuser}/enable", hx: true, status: 409, unchanged: true},
		{name: "delete without confirm asks", method: "POST", path: "/{msp}/accounts/{user}/delete", status: 200, unchanged: true,
			want: []string{"Delete the account acme.user for good?", `name="confirm" value="yes"`}},
		{name: "suspend without confirm asks", method: "POST", path: "/{msp}/suspend", status: 200, unchanged: true, want: []string{"Suspend Acme MSP? Only its Profile will be editable until it is reactivated."}},

		// 422, 404, 409: invalid input, unknown or foreign objects, refusals
		{name: "assign invalid units", method: "POST", path: "/{msp}/licenses/assign", hx: true, form: grant("-4"), status: 422, unchanged: true,
			want: []string{"Endpoint Security full units must be at least 1", `aria-invalid="true"`, `id="partner-main"`}},
		{name: "assign not a number", method: "POST", path: "/{msp}/licenses/assign", form: grant("ten"), status: 422, unchanged: true,
			want: []string{"<html", "Endpoint Security full units must be a whole number"}},
		{name: "assign expiry before start", method: "POST", path: "/{msp}/licenses/assign", hx: true, status: 422, unchanged: true,
			form: form("full-1", "5", "start-1", "2026-05-01", "expiry-1", "2026-01-01"),
			want: []string{"Endpoint Security expiry must be after the start date", `id="assign-expiry-1-err"`}},
		{name: "rm unknown data center", method: "POST", path: "/{msp}/management-licenses/enable", hx: true, form: form("data_center", "MARS"), status: 422, unchanged: true,
			want: []string{"must be one of US"}},
		{name: "duplicate account", method: "POST", path: "/{msp}/accounts/add", hx: true, status: 422, unchanged: true,
			form: form("account", "other.admin", "first_name", "N", "last_name", "N", "email", "n@example.com", "role", "billing_manager"),
			want: []string{"is already taken", `id="n-account-err"`}},
		{name: "stale version", method: "POST", path: "/{msp}/licenses/refill", hx: true, form: form("on", "true", "version", "99"), status: 409, unchanged: true,
			want: []string{"changed by someone else", "Reload"}},
		{name: "last administrator", method: "POST", path: "/{msp}/accounts/{admin}/delete", hx: true, form: form("confirm", "yes"), status: 409, unchanged: true,
			want: []string{"last enabled Administrator"}},
		{name: "disabled plan", method: "POST", path: "/{reseller}/service-plans/assign", hx: true, form: form("plan", "{planOff}"), status: 422, unchanged: true,
			want: []string{"is disabled and cannot be assigned"}},
		{name: "cancel wrong name", method: "POST", path: "/{msp}/cancel", form: form("confirm_name", "acme msp"), status: 422, unchanged: true,
			want: []string{"must be the company name, exactly as shown"}},
		{name: "remove plan not assigned", method: "POST", path: "/{reseller}/service-plans/{planOff}/remove", hx: true, form: form("confirm", "yes"), status: 404, unchanged: true},

		// IDOR: partner B's objects through partner A's URL
		{name: "idor delete account", method: "POST", path: "/{msp}/accounts/{otheruser}/delete", hx: true, form: form("confirm", "yes"), status: 404, unchanged: true},
		{name: "idor change role", method: "POST", path: "/{msp}/accounts/{otheruser}/role", hx: true, form: form("role", "billing_manager"), status: 404, unchanged: true},
		{name: "idor disable licence", method: "POST", path: "/{msp}/licenses/disable", hx: true, form: form("confirm", "yes", "license", "{otherlic}"), status: 404, unchanged: true},

		// Forged posts to guarded actions change nothing
		{name: "forged assign on suspended", method: "POST", path: "/{suspended}/licenses/assign", hx: true, form: grant("5"), status: 409, unchanged: true,
			want: []string{"The partnership is suspended"}},
		{name: "forged profile on canceled", method: "POST", path: "/{canceled}/profile", hx: true, status: 409, unchanged: true,
			form: form("company", "Hacked", "city", "X", "country", "Y", "contact-1-first-name", "A", "contact-1-last-name", "B", "contact-1-email", "a@example.com"),
			want: []string{"The partnership is canceled"}},
		{name: "forged reactivate on canceled", method: "POST", path: "/{canceled}/reactivate", status: 409, unchanged: true},
		{name: "forged disable on reseller", method: "POST", path: "/{reseller}/licenses/disable", hx: true, form: form("confirm", "yes", "license", "1"), status: 404, unchanged: true,
			want: []string{"Disable Licenses is for MSP partners only"}},
		{name: "forged remote manager on reseller", method: "POST", path: "/{reseller}/management-licenses/enable", hx: true, form: form("data_center", "EU"), status: 404, unchanged: true},
		{name: "forged plan on msp", method: "POST", path: "/{msp}/service-plans/assign", hx: true, form: form("plan", "{planB}"), status: 404, unchanged: true},
		{name: "forged cancel on canceled", method: "POST", path: "/{canceled}/cancel", form: form("confirm_name", "Gone Reseller"), status: 409, unchanged: true},

		// Security
		{name: "cross-origin post refused", method: "POST", path: "/{msp}/licenses/assign", form: grant("7"), status: 403, unchanged: true,
			headers: map[string]string{"Sec-Fetch-Site": "cross-site"}, want: []string{"This request came from another site, so it was refused"}},
		{name: "cross-origin header refused", method: "POST", path: "/{msp}/suspend", form: form("confirm", "yes"), status: 403, unchanged: true,
			headers: map[string]string{"Origin": "https://evil.example"}, want: []string{"This request came from another site, so it was refused"}},
		{name: "get never changes state", method: "GET", path: "/{msp}/suspend", status: 404, unchanged: true},
		{name: "assets htmx", method: "GET", path: "/assets/htmx.min.js", status: 200, want: []string{"htmx"}},
		{name: "assets css", method: "GET", path: "/assets/admin.css", status: 200, want: []string{"--brand"}},
		{name: "assets missing", method: "GET", path: "/assets/nope.js", status: 404},
	}
	runScenarios(t, scenarios)
}

// runScenarios runs each scenario on a world of its own: the status, the
// content wanted and not wanted, the redirect, and whether the request
// changed something.
func runScenarios(t *testing.T, scenarios []scenario) {
	t.Helper()
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			w := newWorld(t)
			if sc.setup != nil {
				sc.setup(t, w)
			}
			before := w.snapshot(t)
			w.logs.Reset()
			rec := w.do(sc.method, sc.path, sc.hx, sc.form, sc.headers)
			body := rec.Body.String()
			require.Equal(t, sc.status, rec.Code, "body:\n%s", body)
			for _, s := range sc.want {
				require.Contains(t, body, w.expand(s))
			}
			for _, s := range sc.notWant {
				require.NotContains(t, body, w.expand(s))
			}
			if sc.location != "" {
				require.Equal(t, w.expand(sc.location), rec.Header().Get("Location"))
			}
			if sc.unchanged {
				require.Equal(t, before, w.snapshot(t), "a refused request changed something")
			} else if sc.method == "POST" && rec.Code < 300 && !strings.Contains(body, `name="confirm" value="yes"`) {
				require.NotEqual(t, before, w.snapshot(t), "a successful action changed nothing")
			}
			require.Contains(t, rec.Header().Get("Content-Security-Policy"), "script-src 'self'")
			require.Contains(t, rec.Header().Values("Vary"), "HX-Request")
		})
	}
}

// formFields returns what a browser would post from the form of body
// whose action is action: its text, hidden and checked inputs, and the
// selected option of each select.
func formFields(t *testing.T, body, action string) url.Values {
	t.Helper()
	start := strings.Index(body, `action="`+action+`"`)
	require.GreaterOrEqual(t, start, 0, "no form posts to %s", action)
	start = strings.LastIndex(body[:start], "<form")
	end := start + strings.Index(body[start:], "</form>")
	html := body[start:end]
	attr := func(tag, name string) (string, bool) {
		m := regexp.MustCompile(`\s` + name + `(?:="([^"]*)")?[\s>]`).FindStringSubmatch(tag)
		if m == nil {
			return "", false
		}
		return htmlpkg.UnescapeString(m[1]), true
	}
	out := url.Values{}
	for _, tag := range regexp.MustCompile(`<input[^>]*>`).FindAllString(html, -1) {
		name, _ := attr(tag, "name")
		typ, _ := attr(tag, "type")
		value, _ := attr(tag, "value")
		if _, off := attr(tag, "disabled"); name == "" || off {
			continue
		}
		if _, on := attr(tag, "checked"); (typ == "checkbox" || typ == "radio") && !on {
			continue
		}
		out.Add(name, value)
	}
	for _, sel := range regexp.MustCompile(`(?s)<select[^>]*>.*?</select>`).FindAllString(html, -1) {
		name, _ := attr(sel[:strings.Index(sel, ">")+1], "name")
		if m := regexp.MustCompile(`<option value="([^"]*)"[^>]*\sselected`).FindStringSubmatch(sel); m != nil {
			out.Add(name, htmlpkg.UnescapeString(m[1]))
		} else if m := regexp.MustCompile(`<option value="([^"]*)"`).FindStringSubmatch(sel); m != nil {
			out.Add(name, htmlpkg.UnescapeString(m[1]))
		}
	}
	return out
}

func TestHostileNamesAreText(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for _, name := range []string{`<script>alert(1)</script>`, `"><img src=x onerror=alert(1)>`} {
		_, err := w.m.UpdateProfile(ctx, w.msp.ID, partner.ProfilePatch{CompanyName: &name})
		require.NoError(t, err)
		for _, path := range []string{"/", "/{msp}/licenses", "/{msp}/profile", "/{msp}/cancel", "/{msp}/audit"} {
			body := w.do("GET", path, false, nil, nil).Body.String()
			require.NotContains(t, body, "<script>alert")
			require.NotContains(t, body, "<img src=x")
			require.True(t, strings.Contains(body, "&lt;script&gt;") || strings.Contains(body, "&lt;img src=x"), path)
		}
	}
}

func TestAuditExportNeutralisesFormulas(t *testing.T) {
	w := newWorld(t)
	city := "Paris"
	actor := `=HYPERLINK("http://evil.example")`
	_, err := w.m.UpdateProfile(partner.WithActor(context.Background(), actor), w.msp.ID, partner.ProfilePatch{City: &city})
	require.NoError(t, err)
	for i := range partner.MaxLimit + 10 { // more entries than one page holds
		_, err := w.m.SetPoolRefill(context.Background(), w.msp.ID, 0, i%2 == 0)
		require.NoError(t, err)
	}
	rec := w.do("GET", "/{msp}/audit.csv", false, nil, nil)
	require.Equal(t, 200, rec.Code)
	require.Equal(t, "text/csv; charset=utf-8", rec.Header().Get("Content-Type"))
	require.Contains(t, rec.Header().Get("Content-Disposition"), "attachment")
	require.Contains(t, rec.Body.String(), `,"'=HYPERLINK(""http://evil.example"")",update_profile,`)
	require.NotContains(t, rec.Body.String(), `,"=HYPERLINK`)
	lines := strings.Split(strings.TrimSpace(rec.Body.String()), "\n")
	_, total, err := w.m.Audit(context.Background(), w.msp.ID, partner.Page{})
	require.NoError(t, err)
	require.Len(t, lines, total+1, "every entry, plus the header")
}

func TestAuthorizeRunsOnEveryRequestAndRefusalsAreLogged(t *testing.T) {
	w := newWorld(t)
	var seen []httpadmin.Access
	var logs bytes.Buffer
	h := mounted("/admin/partners", httpadmin.New(w.m, httpadmin.Options{Prefix: "/admin/partners", Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Authorize: func(r *http.Request, a httpadmin.Access) error {
			seen = append(seen, a)
			if a.Write() {
				return fmt.Errorf("read-only operator")
			}
			return nil
		}}))
	get := httptest.NewRecorder()
	h.ServeHTTP(get, httptest.NewRequest("GET", fmt.Sprintf("/admin/partners/%d/licenses", w.msp.ID), nil))
	require.Equal(t, 200, get.Code)
	before := w.snapshot(t)
	post := httptest.NewRecorder()
	r := httptest.NewRequest("POST", fmt.Sprintf("/admin/partners/%d/suspend", w.msp.ID), strings.NewReader("confirm=yes"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	h.ServeHTTP(post, r)
	require.Equal(t, http.StatusForbidden, post.Code)
	require.Contains(t, post.Body.String(), "Your account may not do this; ask an administrator if you need it.")
	require.Equal(t, before, w.snapshot(t))
	asset := httptest.NewRecorder()
	h.ServeHTTP(asset, httptest.NewRequest("GET", "/admin/partners/assets/admin.css", nil))
	require.Equal(t, []httpadmin.Access{{Operation: partner.OpRead, PartnerID: w.msp.ID},
		{Operation: partner.OpSuspend, PartnerID: w.msp.ID}, {Operation: partner.OpRead}}, seen)
	require.Contains(t, logs.String(), "request refused")
	require.Contains(t, logs.String(), "read-only operator")
}

func TestNewRequiresAuthorize(t *testing.T) {
	require.PanicsWithValue(t, "httpadmin: Options.Authorize is required (use httpadmin.AllowAll to allow every request)", func() {
		httpadmin.New(partner.NewManager(partner.Options{}), httpadmin.Options{})
	})
}

func TestActorReachesTheAuditTrail(t *testing.T) {
	w := newWorld(t)
	rec := w.do("POST", "/{msp}/licenses/refill", true, form("on", "true"), nil)
	require.Equal(t, 200, rec.Code)
	entries, _, err := w.m.Audit(context.Background(), w.msp.ID, partner.Page{Limit: 1})
	require.NoError(t, err)
	require.Equal(t, "tester", entries[0].Actor)
	require.Equal(t, partner.OpSetPoolRefill, entries[0].Action)
}

func TestLayoutHookWrapsFullPagesOnly(t *testing.T) {
	w := newWorld(t)
	h := mounted("/p", httpadmin.New(w.m, httpadmin.Options{Prefix: "/p", Authorize: httpadmin.AllowAll,
		Layout: func(rw http.ResponseWriter, r *http.Request, p httpadmin.LayoutData) {
			fmt.Fprintf(rw, "<host-chrome title=%q>%s%s</host-chrome>", p.Title, p.Head, p.Body)
		}}))
	full := httptest.NewRecorder()
	h.ServeHTTP(full, httptest.NewRequest("GET", fmt.Sprintf("/p/%d/accounts", w.msp.ID), nil))
	require.Contains(t, full.Body.String(), `<host-chrome title="Acme MSP · Accounts">`)
	require.Contains(t, full.Body.String(), `href="/p/assets/admin.css"`)
	require.Contains(t, full.Body.String(), `name="htmx-config"`)
	frag := httptest.NewRecorder()
	r := httptest.NewRequest("GET", fmt.Sprintf("/p/%d/accounts", w.msp.ID), nil)
	r.Header.Set("HX-Request", "true")
	h.ServeHTTP(frag, r)
	require.NotContains(t, frag.Body.String(), "host-chrome")
	restore := httptest.NewRecorder()
	r.Header.Set("HX-History-Restore-Request", "true")
	h.ServeHTTP(restore, r)
	require.Contains(t, restore.Body.String(), "host-chrome", "history restores get the full page")
}

func TestEmbeddedHTMX(t *testing.T) {
	data, err := fs.ReadFile(httpadmin.Assets(), "htmx.min.js")
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	require.Equal(t, httpadmin.HTMXSHA256, hex.EncodeToString(sum[:]))
	require.Contains(t, string(data), `version:"`+httpadmin.HTMXVersion+`"`)
}
