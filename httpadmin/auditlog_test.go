package httpadmin_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/partner"
)

// asActor makes changes as an actor of the test's choosing: the
// minimum of the MSP to 30 and the Reseller suspended.
func asActor(t *testing.T, w *world) {
	t.Helper()
	ctx := partner.WithActor(context.Background(), "ops@vendor.example")
	_, err := w.m.SetMinimumLicenses(ctx, w.msp.ID, 0, 30)
	require.NoError(t, err)
	_, err = w.m.Suspend(ctx, w.reseller.ID, 0)
	require.NoError(t, err)
	_, err = w.m.SetMinimumLicenses(ctx, w.other.ID, 0, 5)
	require.NoError(t, err)
}

func TestAuditLog(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "every partner's entries, newest first, readable", method: "GET", path: "/audit", setup: asActor, status: 200,
			want: []string{"<h1 class=\"grow\">Audit log</h1>", "Status: Active → Suspended", "Minimum licences: 0 → 30",
				`<a href="/admin/partners/{reseller}/licenses">Blue Reseller</a>`, "ops@vendor.example", "Create service plan", "<span class=\"hint\">No partner</span>",
				`<option value="suspend">Suspend</option>`, `href="/admin/partners/audit.csv"`}},
		{name: "by actor", method: "GET", path: "/audit?actor=ops@vendor.example", setup: asActor, status: 200,
			want:    []string{"Showing all 3 changes.", "Minimum licences: 0 → 30", "Minimum licences: 0 → 5", "Status: Active → Suspended", `value="ops@vendor.example"`, `href="/admin/partners/audit.csv?actor=ops%40vendor.example"`},
			notWant: []string{"<td>Create service plan</td>"}},
		{name: "by actor and operation", method: "GET", path: "/audit?actor=ops@vendor.example&op=suspend", setup: asActor, status: 200,
			want: []string{"Showing the only change.", "Status: Active → Suspended", `<option value="suspend" selected>Suspend</option>`}, notWant: []string{"Minimum licences: 0 → 30"}},
		{name: "by partner id", method: "GET", path: "/audit?partner={msp}&actor=ops@vendor.example", setup: asActor, status: 200,
			want: []string{"Showing the only change.", "Minimum licences: 0 → 30"}, notWant: []string{"Blue Reseller</a>"}},
		{name: "by partner name, exactly", method: "GET", path: "/audit?partner=acme+msp&actor=ops@vendor.example", setup: asActor, status: 200,
			want: []string{"Showing the only change.", "Minimum licences: 0 → 30"}},
		{name: "by a part of one partner's name", method: "GET", path: "/audit?partner=reseller&actor=ops@vendor.example", setup: func(t *testing.T, w *world) {
			asActor(t, w)
			_, err := w.m.Cancel(context.Background(), w.canceled.ID, 0) // already canceled: refused, nothing audited
			require.Error(t, err)
		}, status: 422, want: []string{"Partner must name one partner: “reseller” is in 2 names; type the whole name or the partner&#39;s id.", `id="a-partner-err"`}, notWant: []string{"Nothing was changed"}},
		{name: "a name that matches no partner", method: "GET", path: "/audit?partner=nobody", status: 422,
			want: []string{"Partner must name one partner: no company name contains “nobody”.", `aria-invalid="true" aria-describedby="a-partner-err"`}},
		{name: "an unknown partner id", method: "GET", path: "/audit?partner=9999", status: 404,
			want: []string{"No partner has the id 9999.", `id="a-partner-err"`}},
		{name: "by date range", method: "GET", path: "/audit?from=2026-05-04&to=2026-05-04&actor=ops@vendor.example", setup: asActor, status: 200,
			want: []string{"Showing all 3 changes."}},
		{name: "a range before anything happened", method: "GET", path: "/audit?from=2020-01-01&to=2020-12-31", setup: asActor, status: 200,
			want: []string{"No entry matches this filter."}, notWant: []string{"<table"}},
		{name: "bad dates name their fields", method: "GET", path: "/audit?from=yesterday&to=2026-13-01", status: 422,
			want: []string{"Please correct these 2 fields:", "From must be a date (YYYY-MM-DD) (got &#34;yesterday&#34;).", `id="a-from-err"`, `id="a-to-err"`}},
		{name: "to before from", method: "GET", path: "/audit?from=2026-05-04&to=2026-05-01", status: 422,
			want: []string{"To must be on or after the from date (2026-05-04).", `id="a-to-err"`}},
		{name: "an unknown operation", method: "GET", path: "/audit?op=hack", status: 422,
			want: []string{"Operation must be one of the menu&#39;s operations (got &#34;hack&#34;).", `id="a-op-err"`}},
		{name: "a bad offset", method: "GET", path: "/audit?offset=-1", status: 400},
		{name: "the list links to it", method: "GET", path: "/", status: 200, want: []string{`<a class="button secondary" href="/admin/partners/audit">Audit log</a>`}},
	})
}

// The audit log is paged with its filter kept in the pager's links.
func TestAuditLogPages(t *testing.T) {
	w := newWorld(t)
	manyPartners(60)(t, w)
	res := w.do("GET", "/audit?op=create_partner", false, nil, nil)
	require.Equal(t, http.StatusOK, res.Code)
	require.Contains(t, res.Body.String(), "Showing 1–50 of 65 changes.")
	require.Contains(t, res.Body.String(), `href="/admin/partners/audit?offset=50&amp;op=create_partner"`)
	res = w.do("GET", "/audit?op=create_partner&offset=50", false, nil, nil)
	require.Contains(t, res.Body.String(), "Showing 51–65 of 65 changes.")
	require.Contains(t, res.Body.String(), w.expand(`<a href="/admin/partners/{msp}/licenses">Acme MSP</a>`))
}

// The export holds every entry the filter selects, with readable
// changes, and neutralises cells a spreadsheet would run.
func TestAuditLogCSV(t *testing.T) {
	w := newWorld(t)
	asActor(t, w)
	ctx := partner.WithActor(context.Background(), "=HYPERLINK(\"x\")")
	_, err := w.m.SetMinimumLicenses(ctx, w.msp.ID, 0, 40)
	require.NoError(t, err)

	res := w.do("GET", "/audit.csv?actor=ops@vendor.example", false, nil, nil)
	require.Equal(t, http.StatusOK, res.Code)
	require.Equal(t, "text/csv; charset=utf-8", res.Header().Get("Content-Type"))
	require.Equal(t, `attachment; filename="audit-log.csv"`, res.Header().Get("Content-Disposition"))
	rows, err := csv.NewReader(strings.NewReader(res.Body.String())).ReadAll()
	require.NoError(t, err)
	var got [][]string
	for _, r := range rows {
		got = append(got, []string{r[1], r[2], r[3], r[5]})
	}
	want := [][]string{{"partner_id", "actor", "action", "changes"},
		{fmt.Sprint(w.other.ID), "ops@vendor.example", "set_minimum_licenses", "Minimum licences: 0 → 5"},
		{fmt.Sprint(w.reseller.ID), "ops@vendor.example", "suspend", "Status: Active → Suspended"},
		{fmt.Sprint(w.msp.ID), "ops@vendor.example", "set_minimum_licenses", "Minimum licences: 0 → 30"}}
	require.Empty(t, cmp.Diff(want, got))

	res = w.do("GET", "/audit.csv?partner=Acme+MSP&op=set_minimum_licenses", false, nil, nil)
	require.Equal(t, http.StatusOK, res.Code)
	rows, err = csv.NewReader(strings.NewReader(res.Body.String())).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, 3)
	require.Equal(t, `'=HYPERLINK("x")`, rows[1][2], "a formula is neutralised")
	require.Equal(t, "Minimum licences: 30 → 40", rows[1][5])

	res = w.do("GET", "/audit.csv?from=never", false, nil, nil)
	require.Equal(t, http.StatusUnprocessableEntity, res.Code)
	require.Contains(t, res.Body.String(), "From must be a date (YYYY-MM-DD)")
	res = w.do("GET", "/audit.csv?partner=9999", false, nil, nil)
	require.Equal(t, http.StatusNotFound, res.Code)
}

// The export reads the log a batch at a time and writes every entry,
// also past the first batch.
func TestAuditLogCSVEveryBatch(t *testing.T) {
	w := newWorld(t)
	manyPartners(partner.ExportBatch+20)(t, w)
	_, total, err := w.m.AuditLog(context.Background(), partner.AuditFilter{Action: partner.OpCreatePartner, Page: partner.Page{Limit: 1}})
	require.NoError(t, err)
	require.Greater(t, total, partner.ExportBatch)
	res := w.do("GET", "/audit.csv?op=create_partner", false, nil, nil)
	require.Equal(t, http.StatusOK, res.Code)
	rows, err := csv.NewReader(strings.NewReader(res.Body.String())).ReadAll()
	require.NoError(t, err)
	require.Len(t, rows, total+1)
	seen := map[string]bool{}
	for _, r := range rows[1:] {
		require.False(t, seen[r[1]], "partner %s exported once", r[1])
		seen[r[1]] = true
	}
}
