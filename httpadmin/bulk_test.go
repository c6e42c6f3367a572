package httpadmin_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/httpadmin"
	"github.com/partnerkit/partnerkit/partner"
)

// bulkKey reads the run key a preview gives its Run form.
func bulkKey(t *testing.T, body string) string {
	t.Helper()
	m := regexp.MustCompile(`name="key" value="(bulk-[0-9a-f]+)"`).FindStringSubmatch(body)
	require.NotNil(t, m, "the preview carries a run key: %s", body)
	return m[1]
}

// waitFinished waits for the run of the key to finish.
func waitFinished(t *testing.T, m *partner.Manager, key string) partner.BulkRun {
	t.Helper()
	var run partner.BulkRun
	require.Eventually(t, func() bool {
		var err error
		run, err = m.BulkRun(context.Background(), key)
		return err == nil && run.Finished()
	}, 10*time.Second, 5*time.Millisecond)
	return run
}

// licenceCount is how many licences a partner has.
func licenceCount(t *testing.T, w *world, id int64) int {
	t.Helper()
	_, n, err := w.m.Licenses(context.Background(), id, partner.Page{Limit: 1})
	require.NoError(t, err)
	return n
}

// assignFull is the grant line of 5 Full seats of Endpoint Security.
func assignFull(kv ...string) url.Values {
	return form(append([]string{"action", "assign_licenses", "full-1", "5", "start-1", "2026-05-01", "expiry-1", "2027-05-01"}, kv...)...)
}

// A bulk assignment from the partners list's selection, through the
// form, the preview (the Suspended and Canceled partners refused, with
// the guard's reason), the run and its summary; posting the run again
// assigns nothing twice.
func TestBulkAssignFlow(t *testing.T) {
	w := newWorld(t)
	sel := []string{"id", "{msp}", "id", "{reseller}", "id", "{suspended}", "id", "{canceled}"}

	page := w.do("POST", "/bulk", false, form(append([]string{"action", "assign_licenses"}, sel...)...), nil)
	require.Equal(t, http.StatusOK, page.Code, page.Body.String())
	body := page.Body.String()
	for _, s := range []string{"Bulk action: Assign licences", "4 partners selected on the partners list", `name="full-1"`,
		`action="/admin/partners/bulk/preview"`, `<input type="hidden" name="id" value="` + w.expand("{suspended}") + `">`} {
		require.Contains(t, body, s)
	}

	before := w.snapshot(t)
	pv := w.do("POST", "/bulk/preview", false, assignFull(sel...), nil)
	require.Equal(t, http.StatusOK, pv.Code, pv.Body.String())
	require.Equal(t, before, w.snapshot(t), "a preview changes nothing")
	body = pv.Body.String()
	for _, s := range []string{
		"<strong>4</strong> partners: <strong>2</strong> will change, <strong>0</strong> have nothing to change, <strong>2</strong> are refused",
		">Sleepy MSP</a></td>\n    <td><span class=\"badge b-refused\">Refused</span></td>\n    <td>The partnership is suspended",
		">Gone Reseller</a></td>\n    <td><span class=\"badge b-refused\">Refused</span></td>\n    <td>The partnership is canceled",
		">Acme MSP</a></td>\n    <td><span class=\"badge b-pending\">Will change</span></td>\n    <td><ul class=\"changes\"><li>Licences: 5 seats of Endpoint Security (Full) 2026-05-01 to 2027-05-01</li>",
		"Showing all 4 partners.", "Assign licences: run for 2 partners",
	} {
		require.Contains(t, body, s)
	}
	key := bulkKey(t, body)

	counts := func() []int {
		return []int{licenceCount(t, w, w.msp.ID), licenceCount(t, w, w.reseller.ID), licenceCount(t, w, w.suspended.ID), licenceCount(t, w, w.canceled.ID)}
	}
	was := counts()
	run := w.do("POST", "/bulk/run", false, assignFull(append(sel, "key", key)...), nil)
	require.Equal(t, http.StatusSeeOther, run.Code, run.Body.String())
	require.Equal(t, "/admin/partners/bulk/"+key, run.Header().Get("Location"))
	rec := waitFinished(t, w.m, key)
	require.Equal(t, []int{4, 2, 2, 0, 0}, []int{rec.Total, rec.Done, rec.Refused, rec.Failed, rec.Pending})
	require.Equal(t, "tester", rec.Actor)
	require.Empty(t, cmp.Diff([]int{was[0] + 1, was[1] + 1, was[2], was[3]}, counts()))

	again := w.do("POST", "/bulk/run", false, assignFull(append(sel, "key", key)...), nil)
	require.Equal(t, http.StatusSeeOther, again.Code, "a second post of the run leads to it")
	require.Equal(t, "/admin/partners/bulk/"+key, again.Header().Get("Location"))
	waitFinished(t, w.m, key)
	require.Empty(t, cmp.Diff([]int{was[0] + 1, was[1] + 1, was[2], was[3]}, counts()), "nothing assigned twice")

	summary := w.do("GET", "/bulk/"+key, false, nil, nil)
	require.Equal(t, http.StatusOK, summary.Code)
	body = summary.Body.String()
	for _, s := range []string{"Bulk run: Assign licences", "<h2 id=\"bulk-progress-h\">Summary</h2>", `<progress id="bulk-bar" max="4" value="4"`,
		`aria-label="Partners processed: 4 of 4"`, "<strong>2</strong> done, <strong>0</strong> unchanged, <strong>2</strong> refused, <strong>0</strong> failed.",
		`<a href="/admin/partners/` + w.expand("{msp}") + `/licenses">Acme MSP</a>`, "The partnership is suspended", "Started", "by tester",
		`href="/admin/partners/bulk/` + key + `?outcome=refused">Refused (2)</a>`} {
		require.Contains(t, body, s)
	}
	require.NotContains(t, body, `hx-trigger="every 1s"`, "a finished run is not polled")

	refused := w.do("GET", "/bulk/"+key+"?outcome=refused", false, nil, nil)
	require.Equal(t, http.StatusOK, refused.Code)
	require.Contains(t, refused.Body.String(), "Showing all 2 refused partners.")
	require.NotContains(t, refused.Body.String(), ">Acme MSP</a>")

	log := w.do("GET", "/audit?op=bulk_run_finished", false, nil, nil)
	require.Contains(t, log.Body.String(), `<a href="/admin/partners/bulk/`+key+`">bulk run `+key+`</a>`, "the audit log links to the run")
	require.Contains(t, log.Body.String(), "<li>Done: 2</li><li>Unchanged: 0</li><li>Refused: 2</li><li>Failed: 0</li>")

	poll := w.do("GET", "/bulk/"+key, true, nil, map[string]string{"HX-Target": "bulk-progress"})
	require.Equal(t, http.StatusOK, poll.Code)
	require.Equal(t, "true", poll.Header().Get("HX-Refresh"), "the last poll reloads the page for the summary")
	require.NotContains(t, poll.Body.String(), "<html")
}

// Every action of both partner types and every status: what the preview
// says, and that the run does it.
func TestBulkActions(t *testing.T) {
	all := []string{"id", "{msp}", "id", "{reseller}", "id", "{suspended}", "id", "{canceled}"}
	for _, c := range []struct {
		name   string
		form   url.Values
		want   []string
		status map[string]partner.Status // after the run, by tag
	}{
		{name: "suspend", form: form(append([]string{"action", "suspend"}, all...)...),
			want: []string{"<strong>4</strong> partners: <strong>2</strong> will change", "Status: Active → Suspended",
				"The partnership is already suspended.", "The partnership is canceled"},
			status: map[string]partner.Status{"{msp}": partner.Suspended, "{reseller}": partner.Suspended, "{suspended}": partner.Suspended, "{canceled}": partner.Canceled}},
		{name: "reactivate every Suspended partner", form: form("action", "reactivate", "all", "1", "status", "suspended"),
			want:   []string{"Every partner matching the filter: status Suspended", "<strong>1</strong> partners: <strong>1</strong> will change", "Status: Suspended → Active"},
			status: map[string]partner.Status{"{suspended}": partner.Active, "{msp}": partner.Active}},
		{name: "set minimum of the Resellers", form: form("action", "set_minimum_licenses", "all", "1", "type", "reseller", "minimum", "30"),
			want:   []string{"type Reseller", "Minimum licences: 0 → 30", "The partnership is canceled"},
			status: map[string]partner.Status{"{reseller}": partner.Active}},
		{name: "extend by date", form: form(append([]string{"action", "extend_licenses", "expiry", "2028-01-31"}, all...)...),
			want: []string{"<strong>2</strong> will change", "→ 2028-01-31", "The partnership is suspended"}},
		{name: "extend by days from today", form: form(append([]string{"action", "extend_licenses", "days", "400"}, all...)...),
			want: []string{"→ 2027-06-08"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			pv := w.do("POST", "/bulk/preview", false, c.form, nil)
			require.Equal(t, http.StatusOK, pv.Code, pv.Body.String())
			for _, s := range c.want {
				require.Contains(t, pv.Body.String(), w.expand(s))
			}
			f := url.Values{}
			for k, vs := range c.form {
				f[k] = vs
			}
			key := bulkKey(t, pv.Body.String())
			f.Set("key", key)
			run := w.do("POST", "/bulk/run", false, f, nil)
			require.Equal(t, http.StatusSeeOther, run.Code, run.Body.String())
			waitFinished(t, w.m, key)
			for tag, st := range c.status {
				p, err := w.m.Get(context.Background(), map[string]int64{"{msp}": w.msp.ID, "{reseller}": w.reseller.ID,
					"{suspended}": w.suspended.ID, "{canceled}": w.canceled.ID}[tag])
				require.NoError(t, err)
				require.Equal(t, st, p.Status, tag)
			}
		})
	}
}

// Suspend and Reactivate take no parameters: the list's post goes
// straight to the preview.
func TestBulkWithoutParametersPreviews(t *testing.T) {
	w := newWorld(t)
	res := w.do("POST", "/bulk", false, form("action", "suspend", "id", "{msp}"), nil)
	require.Equal(t, http.StatusOK, res.Code)
	require.Contains(t, res.Body.String(), "Preview: Suspend")
	require.Contains(t, res.Body.String(), "Status: Active → Suspended")
}

func TestBulkRefusals(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "unknown action", method: "POST", path: "/bulk", form: form("action", "explode", "id", "{msp}"), status: 422, unchanged: true,
			want: []string{"Action must be one of assign_licenses (Assign licences)", "Back to the partners list"}},
		{name: "no partner selected", method: "POST", path: "/bulk", form: form("action", "suspend"), status: 422, unchanged: true,
			want: []string{"Partners: select at least one partner on the partners list"}},
		{name: "a partner id that is none", method: "POST", path: "/bulk/preview", form: form("action", "suspend", "id", "abc"), status: 422, unchanged: true,
			want: []string{"Partners must be partner ids (got &#34;abc&#34;)."}},
		{name: "a filter with a bad status", method: "POST", path: "/bulk/preview", form: form("action", "suspend", "all", "1", "status", "zombie"), status: 422, unchanged: true,
			want: []string{"Status is not a partner status"}},
		{name: "a filter with a bad attention", method: "POST", path: "/bulk", form: form("action", "suspend", "all", "1", "attention", "panic"), status: 422, unchanged: true,
			want: []string{"Attention must be low-stock, expiring or any"}},
		{name: "no licence entered", method: "POST", path: "/bulk/preview", form: form("action", "assign_licenses", "id", "{msp}"), status: 422, unchanged: true,
			want: []string{"Nothing was changed. Licenses: enter Trial or Full units of at least one product.", `name="full-1"`}},
		{name: "a bad grant line is marked", method: "POST", path: "/bulk/preview", form: form("action", "assign_licenses", "id", "{msp}", "full-1", "-2", "start-1", "2026-05-01", "expiry-1", "2027-05-01"),
			status: 422, unchanged: true, want: []string{"Endpoint Security full units must be at least 1", `aria-describedby="bulk-full-1-err"`}},
		{name: "a minimum that is no number", method: "POST", path: "/bulk/preview", form: form("action", "set_minimum_licenses", "id", "{msp}", "minimum", "lots"),
			status: 422, unchanged: true, want: []string{"Minimum licenses must be a whole number (got &#34;lots&#34;).", `id="b-minimum-err"`, `value="lots"`}},
		{name: "a negative minimum", method: "POST", path: "/bulk/preview", form: form("action", "set_minimum_licenses", "id", "{msp}", "minimum", "-1"),
			status: 422, unchanged: true, want: []string{"Minimum licenses must be 0 to"}},
		{name: "extend with days and a date", method: "POST", path: "/bulk/preview", form: form("action", "extend_licenses", "id", "{msp}", "days", "3", "expiry", "2028-01-01"),
			status: 422, unchanged: true, want: []string{"Expiry: give a number of days or a date, not both.", `id="b-expiry-err"`}},
		{name: "extend with neither", method: "POST", path: "/bulk/preview", form: form("action", "extend_licenses", "id", "{msp}"),
			status: 422, unchanged: true, want: []string{"Expiry is required: give a number of days from today or a date."}},
		{name: "extend by too many days", method: "POST", path: "/bulk/preview", form: form("action", "extend_licenses", "id", "{msp}", "days", "99999"),
			status: 422, unchanged: true, want: []string{"Days must be a whole number from 1 to 3650", `id="b-days-err"`}},
		{name: "extend an unknown product", method: "POST", path: "/bulk/preview", form: form("action", "extend_licenses", "id", "{msp}", "days", "3", "extend_product", "999"),
			status: 422, unchanged: true, want: []string{"Product: no catalogue product has the id 999.", `id="b-product-err"`}},
		{name: "a run without its key", method: "POST", path: "/bulk/run", form: form("action", "suspend", "id", "{msp}"), status: 422, unchanged: true,
			want: []string{"Key is missing: run the action from its preview."}},
		{name: "a run key that is used with other parameters", method: "POST", path: "/bulk/run", status: 422, unchanged: true,
			setup: func(t *testing.T, w *world) {
				_, err := w.m.Bulk(context.Background(), partner.BulkParams{Key: "bulk-used", PartnerIDs: []int64{w.other.ID}, Action: partner.BulkAction{Kind: partner.BulkSuspend}})
				require.NoError(t, err)
			},
			form: form("action", "suspend", "id", "{msp}", "key", "bulk-used"), want: []string{"names a bulk run with other parameters"}},
		{name: "an unknown run", method: "GET", path: "/bulk/bulk-nothing", status: 404, want: []string{"This no longer exists"}},
		{name: "resume an unknown run", method: "POST", path: "/bulk/bulk-nothing/resume", status: 404, unchanged: true},
		{name: "an unknown outcome", method: "GET", path: "/bulk/bulk-used?outcome=lost", status: 400,
			setup: func(t *testing.T, w *world) {
				_, err := w.m.Bulk(context.Background(), partner.BulkParams{Key: "bulk-used", PartnerIDs: []int64{w.other.ID}, Action: partner.BulkAction{Kind: partner.BulkSuspend}})
				require.NoError(t, err)
			},
			want: []string{"The outcome &#34;lost&#34; is not one of pending, done, unchanged, refused or failed."}},
	})
}

// A partner that does not exist is listed as refused, in words.
func TestBulkUnknownPartnerIsListed(t *testing.T) {
	w := newWorld(t)
	res := w.do("POST", "/bulk/preview", false, form("action", "suspend", "id", "{msp}", "id", "9999"), nil)
	require.Equal(t, http.StatusOK, res.Code)
	require.Contains(t, res.Body.String(), "Partner 9999 (does not exist)</td>\n    <td><span class=\"badge b-refused\">Refused</span></td>\n    <td>Partner 9999 does not exist.")
}

// The preview is paged, by forms that carry the selection and the
// action.
func TestBulkPreviewPages(t *testing.T) {
	w := newWorld(t)
	manyPartners(60)(t, w)
	f := form("action", "suspend", "all", "1", "q", "Bulk")
	res := w.do("POST", "/bulk/preview", false, f, nil)
	require.Equal(t, http.StatusOK, res.Code)
	body := res.Body.String()
	require.Contains(t, body, "Showing 1–50 of 60 partners.")
	require.Contains(t, body, `<input type="hidden" name="offset" value="50"><button type="submit" class="link">Next</button>`)
	require.NotContains(t, body, ">Previous</button>")
	f.Set("offset", "50")
	res = w.do("POST", "/bulk/preview", false, f, nil)
	require.Contains(t, res.Body.String(), "Showing 51–60 of 60 partners.")
	require.Contains(t, res.Body.String(), ">Bulk 059</a>")
	require.Contains(t, res.Body.String(), `<input type="hidden" name="offset" value="0"><button type="submit" class="link">Previous</button>`)
}

// Options.Authorize is asked about the operation each bulk action
// applies, and a refusal stops it.
func TestBulkAuthorizesTheActionsOperation(t *testing.T) {
	w := newWorld(t)
	var mu sync.Mutex
	var asked []partner.Operation
	h := httpadmin.New(w.m, httpadmin.Options{Prefix: "/admin/partners", Logger: slog.New(slog.DiscardHandler),
		Authorize: func(_ *http.Request, a httpadmin.Access) error {
			mu.Lock()
			defer mu.Unlock()
			asked = append(asked, a.Operation)
			if a.Operation == partner.OpSuspend {
				return errors.New("suspending is for managers")
			}
			return nil
		}})
	post := func(f url.Values) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/admin/partners/bulk", strings.NewReader(f.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		mounted("/admin/partners", h).ServeHTTP(rec, r)
		return rec
	}
	res := post(url.Values{"action": {"suspend"}, "id": {w.expand("{msp}")}})
	require.Equal(t, http.StatusForbidden, res.Code)
	require.Contains(t, res.Body.String(), "Your account may not do this")
	res = post(url.Values{"action": {"set_minimum_licenses"}, "id": {w.expand("{msp}")}})
	require.Equal(t, http.StatusOK, res.Code)
	require.Empty(t, cmp.Diff([]partner.Operation{partner.OpBulk, partner.OpSuspend, partner.OpBulk, partner.OpSetMinimumLicenses}, asked))
}

// A run in progress is polled every second; one stopped with the
// console (Options.Context) says so and resumes from its page.
func TestBulkRunProgressStopAndResume(t *testing.T) {
	w := newWorld(t)
	life, stop := context.WithCancel(context.Background())
	defer stop()
	h := httpadmin.New(w.m, httpadmin.Options{Prefix: "/admin/partners", Authorize: httpadmin.AllowAll, Context: life,
		Actor: func(*http.Request) string { return "tester" }, Logger: slog.New(slog.DiscardHandler)})
	w.h = h
	var once sync.Once
	unsubscribe := w.m.Subscribe(func(ctx context.Context, e partner.Event) error {
		if e.Kind == partner.EventStatusChanged {
			once.Do(func() { // hold the run after its first partner, until the console stops it
				select {
				case <-ctx.Done():
				case <-time.After(30 * time.Second):
				}
			})
		}
		return nil
	})
	defer unsubscribe()
	sel := form("action", "suspend", "id", "{msp}", "id", "{reseller}", "id", "{other}", "key", "bulk-held")
	res := w.do("POST", "/bulk/run", false, sel, nil)
	require.Equal(t, http.StatusSeeOther, res.Code, res.Body.String())

	page := w.do("GET", "/bulk/bulk-held", false, nil, nil)
	require.Equal(t, http.StatusOK, page.Code)
	for _, s := range []string{`hx-get="/admin/partners/bulk/bulk-held" hx-trigger="every 1s"`, "<h2 id=\"bulk-progress-h\">Progress</h2>",
		`<a href="/admin/partners/bulk/bulk-held">Refresh</a>`, `max="3"`} {
		require.Contains(t, page.Body.String(), s)
	}
	frag := w.do("GET", "/bulk/bulk-held", true, nil, map[string]string{"HX-Target": "bulk-progress"})
	require.Empty(t, frag.Header().Get("HX-Refresh"))
	require.Contains(t, frag.Body.String(), `<section id="bulk-progress"`)
	require.NotContains(t, frag.Body.String(), "<table")

	stop() // the console stops: the run ends after the partner it holds
	require.Eventually(t, func() bool {
		body := w.do("GET", "/bulk/bulk-held", false, nil, nil).Body.String()
		return strings.Contains(body, "This run stopped before it finished")
	}, 10*time.Second, 5*time.Millisecond)
	run, err := w.m.BulkRun(context.Background(), "bulk-held")
	require.NoError(t, err)
	require.Positive(t, run.Pending)

	w.h = httpadmin.New(w.m, httpadmin.Options{Prefix: "/admin/partners", Authorize: httpadmin.AllowAll,
		Actor: func(*http.Request) string { return "tester" }, Logger: slog.New(slog.DiscardHandler)})
	res = w.do("POST", "/bulk/bulk-held/resume", false, form(), nil)
	require.Equal(t, http.StatusSeeOther, res.Code, res.Body.String())
	run = waitFinished(t, w.m, "bulk-held")
	require.Equal(t, []int{3, 3, 0}, []int{run.Total, run.Done, run.Pending})
}

// The partners list's selection form leads to the bulk pages, and each
// page's form carries on what the next needs: "select all matching the
// filter" on the Suspended partners, Reactivate, previewed, then run as
// a browser would post the preview's form.
func TestBulkFromTheList(t *testing.T) {
	w := newWorld(t)
	list := w.do("GET", "/?status=suspended", false, nil, nil)
	require.Equal(t, http.StatusOK, list.Code)
	f := formFields(t, list.Body.String(), "/admin/partners/bulk")
	require.Equal(t, "suspended", f.Get("status"), "the list's form carries its filter")
	f.Set("all", "1")
	f.Set("action", "reactivate")
	pv := w.do("POST", "/bulk", false, f, nil)
	require.Equal(t, http.StatusOK, pv.Code, pv.Body.String())
	require.Contains(t, pv.Body.String(), "Every partner matching the filter: status Suspended")
	require.Contains(t, pv.Body.String(), "<strong>1</strong> partners: <strong>1</strong> will change")

	run := formFields(t, pv.Body.String(), "/admin/partners/bulk/run")
	res := w.do("POST", "/bulk/run", false, run, nil)
	require.Equal(t, http.StatusSeeOther, res.Code, res.Body.String())
	waitFinished(t, w.m, run.Get("key"))
	p, err := w.m.Get(context.Background(), w.suspended.ID)
	require.NoError(t, err)
	require.Equal(t, partner.Active, p.Status)

	// Back from a preview to the action's form keeps what was typed.
	f = form("action", "set_minimum_licenses", "id", "{msp}", "minimum", "12")
	pv = w.do("POST", "/bulk/preview", false, f, nil)
	back := formFields(t, pv.Body.String(), "/admin/partners/bulk")
	page := w.do("POST", "/bulk", false, back, nil)
	require.Contains(t, page.Body.String(), `id="b-minimum" name="minimum" min="0" value="12"`)
}

// "Select all matching the filter" wins over the ticked ids: the filter
// selects, the ticks are among its partners or not.
func TestBulkAllWinsOverTickedIDs(t *testing.T) {
	w := newWorld(t)
	res := w.do("POST", "/bulk", false, form("action", "reactivate", "all", "1", "status", "suspended", "id", "{msp}"), nil)
	require.Equal(t, http.StatusOK, res.Code)
	require.Contains(t, res.Body.String(), "<strong>1</strong> partners:")
	require.Contains(t, res.Body.String(), ">Sleepy MSP</a>")
	require.NotContains(t, res.Body.String(), ">Acme MSP</a>")
	require.NotContains(t, res.Body.String(), `name="id"`)
}

// Two posts of one run at once (a double click) lead to the same run,
// and each partner's change is made once.
func TestBulkDoubleSubmit(t *testing.T) {
	w := newWorld(t)
	f := assignFull("id", "{msp}", "id", "{other}", "key", "bulk-twice")
	was := []int{licenceCount(t, w, w.msp.ID), licenceCount(t, w, w.other.ID)}
	var wg sync.WaitGroup
	codes, locations := make([]int, 2), make([]string, 2)
	for i := range 2 {
		wg.Go(func() {
			res := w.do("POST", "/bulk/run", false, f, nil)
			codes[i], locations[i] = res.Code, res.Header().Get("Location")
		})
	}
	wg.Wait()
	require.Equal(t, []int{http.StatusSeeOther, http.StatusSeeOther}, codes)
	require.Equal(t, []string{"/admin/partners/bulk/bulk-twice", "/admin/partners/bulk/bulk-twice"}, locations)
	run := waitFinished(t, w.m, "bulk-twice")
	require.Equal(t, []int{2, 2}, []int{run.Total, run.Done})
	require.Equal(t, []int{was[0] + 1, was[1] + 1}, []int{licenceCount(t, w, w.msp.ID), licenceCount(t, w, w.other.ID)})
}

// A run of every partner matching a filter says which filter, the
// product by its name.
func TestBulkRunNamesItsFilter(t *testing.T) {
	w := newWorld(t)
	f := form("action", "set_minimum_licenses", "minimum", "7", "all", "1", "product", fmt.Sprint(w.products[0].ID), "attention", "any", "key", "bulk-filtered")
	res := w.do("POST", "/bulk/run", false, f, nil)
	require.Equal(t, http.StatusSeeOther, res.Code, res.Body.String())
	waitFinished(t, w.m, "bulk-filtered")
	page := w.do("GET", "/bulk/bulk-filtered", false, nil, nil)
	require.Contains(t, page.Body.String(), "Every partner matching the filter: holding Endpoint Security, with a pool below its minimum or licenses expiring soon")
}
