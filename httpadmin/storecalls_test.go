package httpadmin_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestStoreCalls counts the store calls of the console's screens and
// actions on the SQLite file store, and fails when one grows past what it
// is today: reading a screen, or acting on it, must not start reading
// more than it needs. The reads the library repeats (each Manager read
// checks the partner again) are in the counts; BENCHMARKS.md ("HTTP
// layer") says which.
func TestStoreCalls(t *testing.T) {
	w := newFragmentWorld(t)
	h := benchConsole(w.m, slog.New(slog.DiscardHandler))
	p := w.subject
	get := func(path string, header http.Header) *http.Request {
		r := httptest.NewRequest(http.MethodGet, benchPrefix+path, nil)
		r.Header = header
		return r
	}
	post := func(path string, form url.Values) *http.Request {
		r := httptest.NewRequest(http.MethodPost, benchPrefix+path, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("HX-Request", "true")
		return r
	}
	hx := http.Header{"Hx-Request": {"true"}}
	for _, c := range []struct {
		name string
		req  *http.Request
		max  callCounts // at most this many of each; a name not listed: none
	}{
		{"list", get("/", http.Header{"Hx-Request": {"true"}, "Hx-Target": {"results"}}), callCounts{"View": 1, "Partners": 1}},
		// the page, the product menu, and the alerts: low stock, expiring, the
		// latest suspensions (AuditLog) and the suspended count; with a
		// recent suspension, one more read names those partners
		{"list page with alerts", get("/", nil), callCounts{"View": 6, "Partners": 4, "Products": 1, "AuditLog": 1}},
		{"licenses tab", get(fmt.Sprintf("/%d/licenses", p.ID), hx),
			// the partner with its pools in one read (Manager.PartnerPools: the pools summed by the store once), then the page
			// (Manager.Licenses checks the partner exists: a read of its row)
			callCounts{"View": 2, "PartnerRecord": 1, "Partners": 1, "Licenses": 1, "Pools": 1, "PoolSettings(all)": 1}},
		{"accounts tab", get(fmt.Sprintf("/%d/accounts", p.ID), hx), callCounts{"View": 2, "PartnerRecord": 1, "Partners": 1, "Accounts": 1}}, // one page of accounts
		{"profile tab", get(fmt.Sprintf("/%d/profile", p.ID), hx), callCounts{"View": 1, "Partners": 1}},
		{"audit trail", get(fmt.Sprintf("/%d/audit", p.ID), nil), callCounts{"View": 2, "PartnerRecord": 1, "Partners": 1, "Audit": 1}},
		{"assign licences", post(fmt.Sprintf("/%d/licenses/assign", p.ID), url.Values{"key": {"calls-1"}, "full-1": {"5"},
			"start-1": {"2026-05-04"}, "expiry-1": {"2027-05-04"}, "trial-2": {"3"}, "start-2": {"2026-05-04"}}),
			// the form's lines are the catalogue (Products); each grant is resolved by its product's id (Product)
			callCounts{"Update": 1, "LockPartner": 1, "LicensesByGrantKey": 1, "View": 5, "PartnerRecord": 3, "Partners": 1, "Licenses": 2, "Pools": 1,
				"PoolSettings(all)": 1, "Products": 1, "Product": 2}},
		{"assign licences form", get(fmt.Sprintf("/%d/licenses/assign", p.ID), hx), callCounts{"View": 2, "Partners": 1, "Products": 1}},
		{"licence page", get(fmt.Sprintf("/%d/licenses/%d", p.ID, w.license), hx), callCounts{"View": 2, "Partners": 1, "License": 1}},
		{"customers tab", get(fmt.Sprintf("/%d/customers", p.ID), hx), // the allocations of the page's customers: all the partner's, once
			callCounts{"View": 3, "PartnerRecord": 2, "Partners": 1, "Customers": 2, "Allocations(all)": 1, "Licenses(all)": 1}},
		{"customer page", get(fmt.Sprintf("/%d/customers/%d", p.ID, w.customer), hx),
			callCounts{"View": 4, "PartnerRecord": 2, "Partners": 1, "Customer": 2, "Allocations(all)": 1, "Licenses": 1, "Licenses(all)": 1}},
		{"products", get("/products", hx), callCounts{"View": 1, "Products": 1}},
		{"service plans", get("/plans", hx), callCounts{"View": 2, "Plans(all)": 1, "Products": 1}},
		{"edit the profile", post(fmt.Sprintf("/%d/profile", p.ID), url.Values{"version": {fmt.Sprint(p.Version)}, "city": {"Paris"}}),
			callCounts{"Update": 1, "LockPartner": 1, "Partners": 1}}, // the tab shows the partner the change returned (a write returns it through Partners)
		{"turn refill on", post(fmt.Sprintf("/%d/licenses/refill", p.ID), url.Values{"on": {"true"}}),
			callCounts{"Update": 1, "LockPartner": 1, "PartnerRecord": 2, "Partners": 1, "View": 2, "Licenses": 1, "Pools": 1, "PoolSettings(all)": 1}},
	} {
		w.store.take()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, c.req)
		calls, _ := w.store.take()
		if rec.Code != http.StatusOK {
			t.Errorf("%s: status %d", c.name, rec.Code)
		}
		t.Logf("%s: %s", c.name, calls)
		for k, n := range calls {
			if n > c.max[k] {
				t.Errorf("%s: %s called %d times, at most %d expected (all: %s)", c.name, k, n, c.max[k], calls)
			}
		}
	}
}
