package httpadmin_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/partner"
)

// Without JavaScript a destructive action first answers a page that asks;
// its form must post to the action's full URL, mount prefix included, or
// the host answers 404 and the action never completes.
func TestConfirmationPagesPostToTheFullPath(t *testing.T) {
	asks := func(name, path string, f url.Values, action, back, question string) scenario {
		return scenario{name: name, method: "POST", path: path, form: f, status: 200, unchanged: true,
			want: []string{`<form method="post" action="` + action + `"`, `name="confirm" value="yes"`,
				`class="button secondary" href="` + back + `">No, go back`, "<h1>" + question}}
	}
	runScenarios(t, []scenario{
		asks("disable licenses", "/{msp}/licenses/disable", form("license", "{lic}"),
			"/admin/partners/{msp}/licenses/disable", "/admin/partners/{msp}/licenses", "Disable license #{lic}?"),
		asks("disable remote manager", "/{msp}/management-licenses/disable", form("data_center", "EU", "version", "{mspv}"),
			"/admin/partners/{msp}/management-licenses/disable", "/admin/partners/{msp}/management-licenses", "Disable Trend Micro Remote Manager for Europe (EU)?"),
		asks("remove service plan", "/{reseller}/service-plans/{planA}/remove", form(),
			"/admin/partners/{reseller}/service-plans/{planA}/remove", "/admin/partners/{reseller}/service-plans", "Remove the service plan Plan A from Blue Reseller?"),
		asks("disable account", "/{msp}/accounts/{user}/disable", form("version", "1"),
			"/admin/partners/{msp}/accounts/{user}/disable", "/admin/partners/{msp}/accounts", "Disable the account acme.user?"),
		asks("delete account", "/{msp}/accounts/{user}/delete", form(),
			"/admin/partners/{msp}/accounts/{user}/delete", "/admin/partners/{msp}/accounts", "Delete the account acme.user for good?"),
		asks("suspend", "/{msp}/suspend", form("version", "{mspv}"),
			"/admin/partners/{msp}/suspend", "/admin/partners/{msp}/profile", "Suspend Acme MSP?"),
		{name: "the page carries the posted fields", method: "POST", path: "/{msp}/licenses/disable", status: 200, unchanged: true,
			form: form("license", "{lic}", "offset", "50"),
			want: []string{`<input type="hidden" name="license" value="{lic}">`, `<input type="hidden" name="offset" value="50">`,
				`href="/admin/partners/{msp}/licenses?offset=50">No, go back`}},
		{name: "a refused action is not asked about", method: "POST", path: "/{suspended}/suspend", form: form(), status: 409, unchanged: true,
			want: []string{"The partnership is already suspended."}, notWant: []string{`name="confirm" value="yes"`}},
		{name: "a bad account id is not asked about", method: "POST", path: "/{msp}/accounts/0{user}/delete", form: form(), status: 404, unchanged: true,
			notWant: []string{`name="confirm" value="yes"`}},
	})
}

// The whole no-JavaScript flow through a host that mounts the console
// under its prefix: post, get the page that asks, post its form, land on
// the tab with the change made.
func TestConfirmationWithoutJavaScriptCompletes(t *testing.T) {
	w := newWorld(t)
	host := http.NewServeMux()
	host.Handle("/admin/partners/", http.StripPrefix("/admin/partners", w.h))
	post := func(path string, f url.Values) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", path, strings.NewReader(f.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		host.ServeHTTP(rec, r)
		return rec
	}
	ask := post(w.expand("/admin/partners/{msp}/suspend"), url.Values{"version": {w.expand("{mspv}")}})
	require.Equal(t, http.StatusOK, ask.Code, ask.Body.String())
	action := w.expand("/admin/partners/{msp}/suspend")
	done := post(action, formFields(t, ask.Body.String(), action))
	require.Equal(t, http.StatusSeeOther, done.Code, done.Body.String())
	require.Equal(t, w.expand("/admin/partners/{msp}/profile?done=suspended"), done.Header().Get("Location"))
	p, err := w.m.Get(context.Background(), w.msp.ID)
	require.NoError(t, err)
	require.Equal(t, partner.Suspended, p.Status)
}
