package httpadmin_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/httpadmin"
	"github.com/partnerkit/partnerkit/partner"
)

// A wrong-type tab said "This no longer exists; it may have been
// removed."; disabling Remote Manager where it was never enabled said
// "disabled" while nothing changed.
func TestWordsSayWhatHappened(t *testing.T) {
	runScenarios(t, []scenario{
		{name: "service plans of an MSP", method: "GET", path: "/{msp}/service-plans", status: 404,
			want:    []string{"Service Plans are for Reseller partners only; Acme MSP is an MSP.", `href="/admin/partners/{msp}/licenses">Back to Acme MSP</a>`},
			notWant: []string{"no longer exists"}},
		{name: "management licenses of a reseller", method: "GET", path: "/{reseller}/management-licenses", hx: true, status: 404,
			want:    []string{"Management Licenses are for MSP partners only; Blue Reseller is a Reseller."},
			notWant: []string{"no longer exists"}},
		{name: "a partner that does not exist still says so", method: "GET", path: "/9999/service-plans", status: 404,
			want: []string{"This no longer exists"}},
		{name: "disabling remote manager that was never enabled", method: "POST", path: "/{msp}/management-licenses/disable", hx: true, status: 200, unchanged: true,
			form:    form("confirm", "yes", "data_center", "JP", "version", "{mspv}"),
			want:    []string{"Trend Micro Remote Manager was not enabled for Japan (JP); nothing changed."},
			notWant: []string{"Remote Manager disabled"}},
		{name: "the same without JavaScript", method: "POST", path: "/{msp}/management-licenses/disable", status: 303, unchanged: true,
			form: form("confirm", "yes", "data_center", "JP"), location: "/admin/partners/{msp}/management-licenses?dc=JP&done=rm-was-off"},
		{name: "the redirect's message", method: "GET", path: "/{msp}/management-licenses?dc=JP&done=rm-was-off", status: 200,
			want: []string{"Trend Micro Remote Manager was not enabled for Japan (JP); nothing changed."}},
		{name: "a data center in the URL that is not one names none", method: "GET", path: "/{msp}/management-licenses?dc=%3Cb%3E&done=rm-was-off", status: 200,
			want: []string{"Trend Micro Remote Manager was not enabled there; nothing changed."}, notWant: []string{"&lt;b&gt;"}},
		{name: "enabling remote manager already enabled", method: "POST", path: "/{msp}/management-licenses/enable", hx: true, status: 200, unchanged: true,
			form: form("data_center", "EU"), want: []string{"Trend Micro Remote Manager was already enabled for Europe (EU); nothing changed."}},
		{name: "disabling remote manager that was enabled", method: "POST", path: "/{msp}/management-licenses/disable", hx: true, status: 200,
			form: form("confirm", "yes", "data_center", "EU"), want: []string{"Trend Micro Remote Manager disabled for Europe (EU)."}},
	})
}

// A password reset whose mail hook fails was still made: the answer says
// so (502), not "the change was not made".
func TestResetWhoseHookFailsSaysTheChangeWasMade(t *testing.T) {
	w := newWorld(t)
	failing := partner.NewManager(partner.Options{Store: w.m.Store(),
		ResetPassword: func(context.Context, account.Account) error { return errors.New("mail server down") }})
	h := mounted("/admin/partners", httpadmin.New(failing, httpadmin.Options{Prefix: "/admin/partners", Authorize: httpadmin.AllowAll,
		Logger: slog.New(slog.DiscardHandler)}))
	for _, hx := range []bool{true, false} {
		r := httptest.NewRequest("POST", w.expand("/admin/partners/{msp}/accounts/{user}/reset-password"), strings.NewReader(""))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if hx {
			r.Header.Set("HX-Request", "true")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		require.Equal(t, http.StatusBadGateway, rec.Code, "htmx %v", hx)
		body := rec.Body.String()
		require.Contains(t, body, "The change was made, but a host hook failed: password reset hook for acme.user: mail server down.")
		require.NotContains(t, body, "the change was not made")
	}
	accts, _, err := w.m.Accounts(context.Background(), w.msp.ID, partner.Page{Limit: partner.MaxLimit})
	require.NoError(t, err)
	for _, a := range accts {
		if a.ID == w.mspUser.ID {
			require.False(t, a.PasswordResetAt.IsZero(), "the reset is recorded")
		}
	}
}
