package httpadmin_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/httpadmin"
)

// Authorize could only say no, so a visitor whose session had ended was
// told "Your account may not do this" (403). An error wrapping
// ErrUnauthenticated now asks them to sign in: 401, or the host's sign-in
// page (a redirect, or HX-Redirect for htmx); any other error stays 403.
// Each is logged once.
func TestSignedOutIsNotForbidden(t *testing.T) {
	signedOut := func(*http.Request, httpadmin.Access) error {
		return fmt.Errorf("session expired: %w", httpadmin.ErrUnauthenticated)
	}
	notAllowed := func(*http.Request, httpadmin.Access) error { return errors.New("read-only operator") }
	signInPage := func(r *http.Request) string { return "/signin?next=" + url.QueryEscape(r.RequestURI) }
	noPage := func(*http.Request) string { return "" }
	type want struct {
		Status     int
		Location   string
		HXRedirect string
		LogLevel   string
		LogStatus  int
	}
	for _, tc := range []struct {
		name      string
		authorize func(*http.Request, httpadmin.Access) error
		signIn    func(*http.Request) string
		method    string
		hx        bool
		restore   bool // an htmx history restore, which asks for a whole page
		want      want
		says      string // in the answer
		reason    string // the log record's
	}{
		{name: "signed out, no sign-in page", authorize: signedOut, method: "GET",
			want: want{Status: 401, LogLevel: "WARN", LogStatus: 401},
			says: "You are not signed in, or your session has ended; sign in and try again.", reason: "not signed in: session expired: not signed in"},
		{name: "the bare sentinel is logged without repeating itself", authorize: func(*http.Request, httpadmin.Access) error { return httpadmin.ErrUnauthenticated },
			method: "GET", want: want{Status: 401, LogLevel: "WARN", LogStatus: 401}, says: "You are not signed in", reason: "not signed in"},
		{name: "signed out, no sign-in page, htmx", authorize: signedOut, method: "GET", hx: true,
			want: want{Status: 401, LogLevel: "WARN", LogStatus: 401},
			says: "You are not signed in, or your session has ended; sign in and try again.", reason: "not signed in: session expired: not signed in"},
		{name: "signed out, a sign-in page that returns nothing", authorize: signedOut, signIn: noPage, method: "POST",
			want: want{Status: 401, LogLevel: "WARN", LogStatus: 401}, says: "You are not signed in", reason: "not signed in: session expired: not signed in"},
		{name: "signed out, sent to sign in", authorize: signedOut, signIn: signInPage, method: "GET",
			want:   want{Status: 303, Location: "/signin?next=%2Fadmin%2Fpartners%2F{msp}%2Flicenses", LogLevel: "WARN", LogStatus: 303},
			reason: "not signed in: session expired: not signed in"},
		{name: "signed out, a post sent to sign in", authorize: signedOut, signIn: signInPage, method: "POST",
			want:   want{Status: 303, Location: "/signin?next=%2Fadmin%2Fpartners%2F{msp}%2Fsuspend", LogLevel: "WARN", LogStatus: 303},
			reason: "not signed in: session expired: not signed in"},
		{name: "signed out with htmx: HX-Redirect to sign in", authorize: signedOut, signIn: signInPage, method: "POST", hx: true,
			want: want{Status: 401, HXRedirect: "/signin?next=%2Fadmin%2Fpartners%2F{msp}%2Fsuspend", LogLevel: "WARN", LogStatus: 401},
			says: "You are not signed in", reason: "not signed in: session expired: not signed in"},
		{name: "an htmx history restore is sent to sign in like a page", authorize: signedOut, signIn: signInPage, method: "GET", hx: true, restore: true,
			want:   want{Status: 303, Location: "/signin?next=%2Fadmin%2Fpartners%2F{msp}%2Flicenses", LogLevel: "WARN", LogStatus: 303},
			reason: "not signed in: session expired: not signed in"},
		{name: "not allowed stays 403", authorize: notAllowed, signIn: signInPage, method: "POST",
			want: want{Status: 403, LogLevel: "WARN", LogStatus: 403},
			says: "Your account may not do this; ask an administrator if you need it.", reason: "not authorized: read-only operator"},
		{name: "not allowed with htmx stays 403", authorize: notAllowed, signIn: signInPage, method: "GET", hx: true,
			want: want{Status: 403, LogLevel: "WARN", LogStatus: 403},
			says: "Your account may not do this", reason: "not authorized: read-only operator"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			var logs bytes.Buffer
			h := mounted("/admin/partners", httpadmin.New(w.m, httpadmin.Options{Prefix: "/admin/partners", Authorize: tc.authorize,
				SignInURL: tc.signIn, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}))
			before := w.snapshot(t)
			path := "/admin/partners/{msp}/suspend"
			if tc.method == "GET" {
				path = "/admin/partners/{msp}/licenses"
			}
			r := httptest.NewRequest(tc.method, w.expand(path), strings.NewReader("confirm=yes"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.hx {
				r.Header.Set("HX-Request", "true")
			}
			if tc.restore {
				r.Header.Set("HX-History-Restore-Request", "true")
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)

			var rec1 struct {
				Level  string `json:"level"`
				Status int    `json:"status"`
				Reason string `json:"reason"`
			}
			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
			require.Len(t, lines, 1, "one record per refusal:\n%s", logs.String())
			require.NoError(t, json.Unmarshal([]byte(lines[0]), &rec1))
			got := want{Status: rec.Code, Location: rec.Header().Get("Location"), HXRedirect: rec.Header().Get("HX-Redirect"),
				LogLevel: rec1.Level, LogStatus: rec1.Status}
			wantNow := tc.want
			wantNow.Location, wantNow.HXRedirect = w.expand(wantNow.Location), w.expand(wantNow.HXRedirect)
			if diff := cmp.Diff(wantNow, got); diff != "" {
				t.Fatalf("answer (-want +got):\n%s\nbody:\n%s", diff, rec.Body.String())
			}
			require.Equal(t, tc.reason, rec1.Reason)
			if tc.says != "" {
				require.Contains(t, rec.Body.String(), tc.says)
			}
			if tc.hx && !tc.restore && rec.Code >= 400 {
				require.Equal(t, "#messages", rec.Header().Get("HX-Retarget"), "htmx shows the words in the message area")
				require.NotContains(t, rec.Body.String(), "<html")
			}
			require.Equal(t, before, w.snapshot(t), "a refused request changed something")
		})
	}
}

// htmx 2 swaps no 4xx or 5xx answer unless told to: the console's
// configuration must swap every status it answers with words, or the
// operator sees nothing. 401 was missing.
func TestHTMXSwapsEveryWordedRefusal(t *testing.T) {
	w := newWorld(t)
	page := w.do("GET", "/", false, nil, nil).Body.String()
	m := regexp.MustCompile(`<meta name="htmx-config" content="([^"]*)">`).FindStringSubmatch(page)
	require.NotNil(t, m, "the page carries the htmx configuration")
	var config struct {
		ResponseHandling []struct {
			Code  string `json:"code"`
			Swap  bool   `json:"swap"`
			Error bool   `json:"error"`
		} `json:"responseHandling"`
	}
	require.NoError(t, json.Unmarshal([]byte(html.UnescapeString(m[1])), &config))
	for _, code := range []int{400, 401, 403, 404, 409, 422, 500, 501, 502, 503} {
		swapped := false
		for _, rule := range config.ResponseHandling { // htmx takes the first rule whose code matches
			if regexp.MustCompile(rule.Code).MatchString(strconv.Itoa(code)) {
				swapped = rule.Swap && !rule.Error
				break
			}
		}
		require.True(t, swapped, "htmx does not swap a %d answer", code)
	}
}
