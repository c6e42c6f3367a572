package httpadmin_test

import (
	"context"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/httpadmin"
	"github.com/partnerkit/partnerkit/serviceplan"
)

// label names one of the console's labels, for the test's tables.
type label int

const (
	title label = iota
	section
	rm
	rmShort
)

// defaultLabels are the seed's words, which a host's labels replace.
var defaultLabels = map[label]string{title: "Partners", section: "Users & Accounts", rm: "Trend Micro Remote Manager", rmShort: "Remote Manager"}

// The product name "Trend Micro Remote Manager" and the console's title
// were written into the templates and the messages, and the library's
// guard reasons named the product: a host could not rename them. Every
// screen that shows a default label shows the host's instead, and the
// default text appears nowhere.
func TestLabelsReplaceEveryDefault(t *testing.T) {
	enableJP := func(t *testing.T, w *world) {
		_, err := w.m.EnableRemoteManager(context.Background(), w.msp.ID, 0, serviceplan.JP)
		require.NoError(t, err)
	}
	reseller := form("type", "reseller", "company", "Newco", "city", "Paris", "country", "France", "account", "newco.admin",
		"first_name", "N", "last_name", "N", "email", "n@example.com", "data_center", "EU")
	type page struct {
		name   string
		method string
		path   string
		hx     bool
		form   url.Values
		setup  func(t *testing.T, w *world)
		status int
		shows  []label // the labels the page shows
	}
	pages := []page{
		{name: "partners list", method: "GET", path: "/", status: 200, shows: []label{title, section}},
		{name: "create form", method: "GET", path: "/new", status: 200, shows: []label{title, section, rm, rmShort}},
		{name: "create refuses remote manager for a reseller", method: "POST", path: "/", form: reseller, status: 422, shows: []label{title, section, rm, rmShort}},
		{name: "the same with htmx", method: "POST", path: "/", hx: true, form: reseller, status: 422, shows: []label{rm, rmShort}},
		{name: "management licenses tab", method: "GET", path: "/{msp}/management-licenses", status: 200, shows: []label{title, section, rm, rmShort}},
		{name: "management licenses fragment", method: "GET", path: "/{msp}/management-licenses", hx: true, status: 200, shows: []label{rm, rmShort}},
		{name: "confirmation without JavaScript", method: "POST", path: "/{msp}/management-licenses/disable", form: form("data_center", "EU"), status: 200,
			shows: []label{title, section, rm}},
		{name: "confirmation for a data center that is not one", method: "POST", path: "/{msp}/management-licenses/disable", form: form("data_center", "MARS"), status: 200,
			shows: []label{rm}},
		{name: "enabled", method: "POST", path: "/{msp}/management-licenses/enable", hx: true, form: form("data_center", "JP"), status: 200, shows: []label{rm}},
		{name: "already enabled", method: "POST", path: "/{msp}/management-licenses/enable", hx: true, form: form("data_center", "EU"), status: 200, shows: []label{rm}},
		{name: "disabled", method: "POST", path: "/{msp}/management-licenses/disable", hx: true, form: form("confirm", "yes", "data_center", "EU"), status: 200, shows: []label{rm}},
		{name: "not enabled", method: "POST", path: "/{msp}/management-licenses/disable", hx: true, form: form("confirm", "yes", "data_center", "JP"), status: 200, shows: []label{rm}},
		{name: "message after a redirect", method: "GET", path: "/{msp}/management-licenses?done=rm-off&dc=EU", status: 200, shows: []label{rm}},
		{name: "message after a redirect with no data center", method: "GET", path: "/{msp}/management-licenses?done=rm-on", status: 200, shows: []label{rm}},
		{name: "message of a no-op with no data center", method: "GET", path: "/{msp}/management-licenses?done=rm-was-on", status: 200, shows: []label{rm}},
		{name: "a forged post for a reseller", method: "POST", path: "/{reseller}/management-licenses/disable", form: form("confirm", "yes", "data_center", "EU"), status: 404,
			shows: []label{title, section}},
		{name: "audit trail", method: "GET", path: "/{msp}/audit", setup: enableJP, status: 200, shows: []label{title, section, rm, rmShort}},
		{name: "error page", method: "GET", path: "/9999/licenses", status: 404, shows: []label{title, section}},
		{name: "a partner's tab", method: "GET", path: "/{msp}/profile", status: 200, shows: []label{title, section}},
	}
	custom := httpadmin.Labels{ConsoleTitle: "Channel Desk", Section: "Sales & Channels", RemoteManager: "Acme Fleet Console", RemoteManagerShort: "Fleet"}
	customText := map[label]string{title: custom.ConsoleTitle, section: custom.Section, rm: custom.RemoteManager, rmShort: custom.RemoteManagerShort}
	run := func(t *testing.T, pg page, labels httpadmin.Labels) string {
		w := newWorld(t)
		if pg.setup != nil {
			pg.setup(t, w)
		}
		w.h = httpadmin.New(w.m, httpadmin.Options{Prefix: "/admin/partners", Authorize: httpadmin.AllowAll, Labels: labels,
			Logger: slog.New(slog.DiscardHandler)})
		rec := w.do(pg.method, pg.path, pg.hx, pg.form, nil)
		require.Equal(t, pg.status, rec.Code, rec.Body.String())
		return rec.Body.String()
	}
	// words finds a label as words of the page ("Partners", not
	// "Partnership").
	words := func(body, text string) []string {
		return regexp.MustCompile(`\b`+regexp.QuoteMeta(html.EscapeString(text))+`\b`).FindAllString(body, -1)
	}
	for _, pg := range pages {
		t.Run(pg.name, func(t *testing.T) {
			body := run(t, pg, httpadmin.Labels{})
			for _, l := range pg.shows {
				require.NotEmpty(t, words(body, defaultLabels[l]), "with the default labels, the page shows %q:\n%s", defaultLabels[l], body)
			}
			body = run(t, pg, custom)
			for _, l := range pg.shows {
				require.NotEmpty(t, words(body, customText[l]), "with the host's labels, the page shows %q:\n%s", customText[l], body)
			}
			for _, l := range []label{title, section, rm, rmShort} {
				require.Empty(t, words(body, defaultLabels[l]), "a default label is left:\n%s", body)
			}
			require.NotContains(t, body, "Trend Micro")
		})
	}
}

// The page's <title> in DefaultLayout ends with the console's title.
func TestDefaultLayoutTitleUsesTheConsoleTitle(t *testing.T) {
	for _, tc := range []struct {
		labels httpadmin.Labels
		want   string
	}{
		{want: "<title>Acme MSP · Accounts · Partners</title>"},
		{labels: httpadmin.Labels{ConsoleTitle: "Channel <Desk>"}, want: "<title>Acme MSP · Accounts · Channel &lt;Desk&gt;</title>"},
	} {
		w := newWorld(t)
		w.h = httpadmin.New(w.m, httpadmin.Options{Prefix: "/admin/partners", Authorize: httpadmin.AllowAll, Labels: tc.labels})
		rec := w.do("GET", "/{msp}/accounts", false, nil, nil)
		require.Equal(t, http.StatusOK, rec.Code)
		require.Contains(t, rec.Body.String(), tc.want)
	}
	var b strings.Builder
	rec := &recorder{Builder: &b, header: http.Header{}}
	httpadmin.DefaultLayout(rec, nil, httpadmin.LayoutData{Title: "Alone"})
	require.Contains(t, b.String(), "<title>Alone</title>", "no console title: the page's title alone")
}

// recorder is a ResponseWriter into a strings.Builder.
type recorder struct {
	*strings.Builder
	header http.Header
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(int)     {}

// A host that names the product once gets that name in the short places
// too.
func TestRemoteManagerShortDefaultsToTheHostsName(t *testing.T) {
	w := newWorld(t)
	w.h = httpadmin.New(w.m, httpadmin.Options{Prefix: "/admin/partners", Authorize: httpadmin.AllowAll,
		Labels: httpadmin.Labels{RemoteManager: "Acme RMM"}})
	tab := w.do("GET", "/{msp}/management-licenses", false, nil, nil).Body.String()
	require.Contains(t, tab, `<th scope="col">Acme RMM</th>`)
	require.Contains(t, tab, `>Enable Acme RMM</button>`)
	require.Contains(t, w.do("GET", "/new", false, nil, nil).Body.String(), `<option value="">No Acme RMM access</option>`)
	require.NotContains(t, tab, "Remote Manager")
}
