package httpadmin_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/partner"
)

// TestBulkAndAuditLogStoreCalls counts the store calls of the bulk
// pages and of the audit log on the SQLite file store, as TestStoreCalls
// does for the other screens, and fails when one grows past what it is
// today.
func TestBulkAndAuditLogStoreCalls(t *testing.T) {
	w := newFragmentWorld(t)
	h := benchConsole(w.m, slog.New(slog.DiscardHandler))
	ctx := partner.WithActor(context.Background(), "bench.operator")
	_, err := w.m.Bulk(ctx, partner.BulkParams{Key: "bulk-calls", PartnerIDs: []int64{w.subject.ID},
		Action: partner.BulkAction{Kind: partner.BulkSetMinimumLicenses, Minimum: 3}})
	require.NoError(t, err)
	get := func(path string, header http.Header) *http.Request {
		r := httptest.NewRequest(http.MethodGet, benchPrefix+path, nil)
		r.Header = header
		return r
	}
	post := func(path string, form url.Values) *http.Request {
		r := httptest.NewRequest(http.MethodPost, benchPrefix+path, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}
	id := fmt.Sprint(w.subject.ID)
	for _, c := range []struct {
		name string
		req  *http.Request
		max  callCounts
	}{
		// the action's form lists the catalogue (Products)
		{"bulk form", post("/bulk", url.Values{"action": {"set_minimum_licenses"}, "id": {id}}), callCounts{"View": 1, "Products": 1}},
		// the preview: the catalogue; the library checks the action, then
		// reads the partners a batch at a time
		{"bulk preview", post("/bulk/preview", url.Values{"action": {"set_minimum_licenses"}, "id": {id}, "minimum": {"4"}}),
			callCounts{"View": 3, "Products": 1, "Partners": 1}},
		// the run, then its items (BulkItems checks the run again)
		{"bulk run page", get("/bulk/bulk-calls", nil), callCounts{"View": 2, "BulkRun": 2, "BulkItems": 1}},
		{"bulk run poll", get("/bulk/bulk-calls", http.Header{"Hx-Request": {"true"}, "Hx-Target": {"bulk-progress"}}), callCounts{"View": 1, "BulkRun": 1}},
		// the page's entries, the names of their partners
		{"audit log", get("/audit", nil), callCounts{"View": 2, "AuditLog": 1, "Partners": 1}},
		{"audit log of a partner by name", get("/audit?partner="+url.QueryEscape(w.subject.Profile.CompanyName), nil),
			callCounts{"View": 3, "AuditLog": 1, "Partners": 2, "PartnerRecord": 1}},
	} {
		w.store.take()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, c.req)
		calls, _ := w.store.take()
		require.Equal(t, http.StatusOK, rec.Code, "%s: %s", c.name, rec.Body.String())
		t.Logf("%s: %s", c.name, calls)
		for k, n := range calls {
			if n > c.max[k] {
				t.Errorf("%s: %s called %d times, at most %d expected (all: %s)", c.name, k, n, c.max[k], calls)
			}
		}
	}
}
