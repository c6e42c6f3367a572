package httpadmin_test

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/partner/memstore"
)

// readCSV parses an export's body.
func readCSV(t *testing.T, body string) [][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	require.NoError(t, err)
	return rows
}

func TestExportPartnersCSV(t *testing.T) {
	w := newWorld(t)
	name := `=HYPERLINK("http://evil.example")`
	_, err := w.m.UpdateProfile(context.Background(), w.other.ID, partner.ProfilePatch{CompanyName: &name})
	require.NoError(t, err)
	withTrial(t, w)

	// The filter and the order of the list; the page and its size are not
	// the export's: every match is exported.
	rec := w.do("GET", "/export.csv?type=msp&sort=name&desc=1&size=50&offset=1", false, nil, nil)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	require.Equal(t, "text/csv; charset=utf-8", rec.Header().Get("Content-Type"))
	require.Equal(t, `attachment; filename="partners-2026-05-04.csv"`, rec.Header().Get("Content-Disposition"))
	rows := readCSV(t, rec.Body.String())
	want := [][]string{
		{"ID", "Company name", "Type", "Status", "Customers", "Licenses used", "Licenses provisioned",
			"Pools below minimum", "Licenses expiring soon", "Licenses expired", "City", "State", "Country", "Created"},
		{w.expand("{suspended}"), "Sleepy MSP", "MSP", "Suspended", "0", "0", "50", "0", "0", "0", "Lyon", "", "France", "2026-05-04T10:00:00Z"},
		{w.expand("{msp}"), "Acme MSP", "MSP", "Active", "0", "0", "60", "0", "1", "0", "Lyon", "", "France", "2026-05-04T10:00:00Z"},
		{w.expand("{other}"), `'=HYPERLINK("http://evil.example")`, "MSP", "Active", "0", "0", "50", "0", "0", "0", "Lyon", "", "France", "2026-05-04T10:00:00Z"},
	}
	require.Empty(t, cmp.Diff(want, rows))

	// Nothing matches: the header row alone.
	rec = w.do("GET", "/export.csv?q=nobody", false, nil, nil)
	require.Equal(t, 200, rec.Code)
	require.Len(t, readCSV(t, rec.Body.String()), 1)

	// More partners than one batch of ListAll, all of them, in order.
	manyPartners(partner.ExportBatch+20)(t, w)
	rec = w.do("GET", "/export.csv?q=bulk&sort=name", false, nil, nil)
	require.Equal(t, 200, rec.Code)
	rows = readCSV(t, rec.Body.String())
	require.Len(t, rows, partner.ExportBatch+21)
	for i, r := range rows[1:] {
		require.Equal(t, fmt.Sprintf("Bulk %03d", i), r[1])
	}
}

func TestExportRefusals(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "a query the list refuses", method: "GET", path: "/export.csv?sort=nope&size=3", status: 400,
			want: []string{"The list cannot be sorted by that", "The page size must be 25, 50 or 100", "Back to the partners list"}, notWant: []string{"Company name,"}},
		{name: "a product not in the catalogue", method: "GET", path: "/export.csv?product=9999", status: 400,
			want: []string{"No product of the catalogue has the number 9999"}},
		{name: "a status the library refuses", method: "GET", path: "/export.csv?status=zombie", status: 422,
			want: []string{"Status is not a partner status"}},
		{name: "licences of no partner", method: "GET", path: "/9999/licenses.csv", status: 404,
			want: []string{"This no longer exists"}},
		{name: "licences of a bad id", method: "GET", path: "/01/licenses.csv", status: 404},
		{name: "the list links to the export with its filter", method: "GET", path: "/?status=active&attention=any", status: 200,
			want: []string{`<a class="button secondary" href="/admin/partners/export.csv?attention=any&amp;status=active" download>Export CSV</a>`}},
		{name: "the licenses tab links to the licences export", method: "GET", path: "/{msp}/licenses", status: 200,
			want: []string{`href="/admin/partners/{msp}/licenses.csv" download>Export CSV</a>`}},
	})
}

func TestExportLicensesCSV(t *testing.T) {
	w := newWorld(t)
	evil := w.product(t, "@SUM(1+1)")
	_, err := w.m.AssignLicenses(context.Background(), w.msp.ID, partner.AssignLicensesParams{Grants: []license.Grant{{
		Product: evil.Name, Units: 7, Kind: license.Full, Start: now, Expiry: now.AddDate(0, 0, 10)}}})
	require.NoError(t, err)
	manyLicenses(partner.MaxLimit+5)(t, w) // more than one page of reads
	rec := w.do("GET", "/{msp}/licenses.csv", false, nil, nil)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	require.Equal(t, w.expand(`attachment; filename="licenses-partner-{msp}.csv"`), rec.Header().Get("Content-Disposition"))
	rows := readCSV(t, rec.Body.String())
	_, total, err := w.m.Licenses(context.Background(), w.msp.ID, partner.Page{Limit: 1})
	require.NoError(t, err)
	require.Len(t, rows, total+1, "every licence, plus the header")
	require.Equal(t, []string{"ID", "Product", "Unit type", "Kind", "Units", "Used", "Remaining", "State", "Start", "Expiry"}, rows[0])
	require.Equal(t, []string{w.expand("{lic}"), "Endpoint Security", "seats", "Full", "50", "0", "50", "Normal", "2026-04-04", "2027-05-04"}, rows[1])
	require.Equal(t, []string{"'@SUM(1+1)", "seats", "Full", "7", "0", "7", "Expiring soon", "2026-05-04", "2026-05-14"}, rows[2][1:])
	seen := map[string]bool{}
	for _, r := range rows[1:] {
		require.False(t, seen[r[0]], "licence %s twice", r[0])
		seen[r[0]] = true
	}
}

// failingStore fails every read, once on, after the left reads.
type failingStore struct {
	partner.Store
	on   atomic.Bool
	left atomic.Int64
}

var errDiskGone = errors.New("disk gone")

func (s *failingStore) View(ctx context.Context, fn func(context.Context, partner.Reader) error) error {
	if s.on.Load() && s.left.Add(-1) < 0 {
		return errDiskGone
	}
	return s.Store.View(ctx, fn)
}

// An export that fails after its first rows were sent cuts the
// connection, so the download fails rather than end short looking whole;
// one that fails before anything was sent answers with the error. The
// same for the partners export and the audit log's.
func TestExportFailureMidStream(t *testing.T) {
	for _, c := range []struct{ path, logged string }{
		{"/export.csv", "partners export ended short; the connection was cut"},
		{"/audit.csv", "audit log export ended short; the connection was cut"},
	} {
		t.Run(c.path, func(t *testing.T) {
			store := &failingStore{Store: memstore.New()}
			w := newWorldOn(t, store)
			manyPartners(partner.ExportBatch+20)(t, w)
			srv := httptest.NewServer(mounted("/admin/partners", w.h))
			defer srv.Close()

			store.left.Store(1) // the first batch reads, the second fails
			store.on.Store(true)
			resp, err := http.Get(srv.URL + "/admin/partners" + c.path)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, 200, resp.StatusCode, "the first rows were sent")
			body, err := io.ReadAll(resp.Body)
			require.Error(t, err, "the client sees the download fail")
			require.Greater(t, strings.Count(string(body), "\n"), partner.ExportBatch/2, "the rows before the failure arrived")
			srv.Close() // waits for the handler, which logged before it cut the connection
			require.Contains(t, w.logs.String(), c.logged)
			require.Contains(t, w.logs.String(), "disk gone")

			store.left.Store(0) // the first read fails: nothing was sent
			rec := w.do("GET", c.path, false, nil, nil)
			require.Equal(t, 500, rec.Code)
			require.Contains(t, rec.Body.String(), "Something went wrong on our side")
			require.NotContains(t, rec.Header().Get("Content-Type"), "csv")
			if c.path == "/export.csv" {
				rec = w.do("GET", "/{msp}/licenses.csv", false, nil, nil)
				require.Equal(t, 500, rec.Code)
			}
		})
	}
}
