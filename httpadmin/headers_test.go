package httpadmin_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/httpadmin"
)

// The console set its own Content-Security-Policy, Referrer-Policy and
// X-Content-Type-Options over the host's, and added HX-Request to a Vary
// that already had it. The host's headers now stay as Options.CSP and the
// rules for the others say.
func TestSecurityHeadersLeaveTheHostsAlone(t *testing.T) {
	const (
		ours   = httpadmin.ContentSecurityPolicy
		hostCS = "default-src 'self'; script-src 'self' 'nonce-r4nd0m'"
	)
	// watched are the headers the test compares.
	watched := []string{"Content-Security-Policy", "Content-Security-Policy-Report-Only", "X-Content-Type-Options", "Referrer-Policy", "Vary"}
	for _, tc := range []struct {
		name string
		mode httpadmin.CSPMode
		host http.Header // set by the host's middleware before the console runs
		want http.Header
	}{
		{name: "default with no host headers", mode: httpadmin.CSPReplace,
			want: http.Header{"Content-Security-Policy": {ours}, "X-Content-Type-Options": {"nosniff"}, "Referrer-Policy": {"same-origin"}, "Vary": {"HX-Request"}}},
		{name: "default replaces the host's policy", mode: httpadmin.CSPReplace,
			host: http.Header{"Content-Security-Policy": {hostCS}},
			want: http.Header{"Content-Security-Policy": {ours}, "X-Content-Type-Options": {"nosniff"}, "Referrer-Policy": {"same-origin"}, "Vary": {"HX-Request"}}},
		{name: "keep host leaves the host's policy alone", mode: httpadmin.CSPKeepHost,
			host: http.Header{"Content-Security-Policy": {hostCS}},
			want: http.Header{"Content-Security-Policy": {hostCS}, "X-Content-Type-Options": {"nosniff"}, "Referrer-Policy": {"same-origin"}, "Vary": {"HX-Request"}}},
		{name: "keep host adds none when the host set none", mode: httpadmin.CSPKeepHost,
			want: http.Header{"X-Content-Type-Options": {"nosniff"}, "Referrer-Policy": {"same-origin"}, "Vary": {"HX-Request"}}},
		{name: "merge enforces both policies", mode: httpadmin.CSPMerge,
			host: http.Header{"Content-Security-Policy": {hostCS}},
			want: http.Header{"Content-Security-Policy": {hostCS, ours}, "X-Content-Type-Options": {"nosniff"}, "Referrer-Policy": {"same-origin"}, "Vary": {"HX-Request"}}},
		{name: "merge with no host policy is ours alone", mode: httpadmin.CSPMerge,
			want: http.Header{"Content-Security-Policy": {ours}, "X-Content-Type-Options": {"nosniff"}, "Referrer-Policy": {"same-origin"}, "Vary": {"HX-Request"}}},
		{name: "merge does not send our policy twice", mode: httpadmin.CSPMerge,
			host: http.Header{"Content-Security-Policy": {ours}},
			want: http.Header{"Content-Security-Policy": {ours}, "X-Content-Type-Options": {"nosniff"}, "Referrer-Policy": {"same-origin"}, "Vary": {"HX-Request"}}},
		{name: "report-only policies are never touched", mode: httpadmin.CSPReplace,
			host: http.Header{"Content-Security-Policy-Report-Only": {"default-src 'none'"}},
			want: http.Header{"Content-Security-Policy": {ours}, "Content-Security-Policy-Report-Only": {"default-src 'none'"},
				"X-Content-Type-Options": {"nosniff"}, "Referrer-Policy": {"same-origin"}, "Vary": {"HX-Request"}}},
		{name: "the host's referrer policy and nosniff stay", mode: httpadmin.CSPReplace,
			host: http.Header{"Referrer-Policy": {"no-referrer"}, "X-Content-Type-Options": {"nosniff"}},
			want: http.Header{"Content-Security-Policy": {ours}, "X-Content-Type-Options": {"nosniff"}, "Referrer-Policy": {"no-referrer"}, "Vary": {"HX-Request"}}},
		{name: "vary is added to, not replaced", mode: httpadmin.CSPReplace,
			host: http.Header{"Vary": {"Accept-Encoding, Cookie"}},
			want: http.Header{"Content-Security-Policy": {ours}, "X-Content-Type-Options": {"nosniff"}, "Referrer-Policy": {"same-origin"}, "Vary": {"Accept-Encoding, Cookie", "HX-Request"}}},
		{name: "vary that already names HX-Request is left alone", mode: httpadmin.CSPReplace,
			host: http.Header{"Vary": {"Cookie, hx-request"}},
			want: http.Header{"Content-Security-Policy": {ours}, "X-Content-Type-Options": {"nosniff"}, "Referrer-Policy": {"same-origin"}, "Vary": {"Cookie, hx-request"}}},
		{name: "vary star is left alone", mode: httpadmin.CSPReplace,
			host: http.Header{"Vary": {"*"}},
			want: http.Header{"Content-Security-Policy": {ours}, "X-Content-Type-Options": {"nosniff"}, "Referrer-Policy": {"same-origin"}, "Vary": {"*"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			console := httpadmin.New(w.m, httpadmin.Options{Authorize: httpadmin.AllowAll, CSP: tc.mode})
			host := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				for k, vs := range tc.host {
					for _, v := range vs {
						rw.Header().Add(k, v)
					}
				}
				console.ServeHTTP(rw, r)
			})
			// A page, a tab, an asset and a refusal: each answer carries them.
			for path, status := range map[string]int{"/": 200, fmt.Sprintf("/%d/licenses", w.msp.ID): 200, "/assets/admin.css": 200, "/9999/licenses": 404} {
				rec := httptest.NewRecorder()
				host.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
				require.Equal(t, status, rec.Code, path)
				got := http.Header{}
				for _, k := range watched {
					if vs := rec.Header().Values(k); len(vs) > 0 {
						got[k] = vs
					}
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Fatalf("%s: headers (-want +got):\n%s", path, diff)
				}
			}
		})
	}
}

func TestUnknownCSPModeIsRefused(t *testing.T) {
	require.PanicsWithValue(t, "httpadmin: Options.CSP is CSPMode(7), which is not one of CSPReplace, CSPKeepHost or CSPMerge", func() {
		httpadmin.New(newWorld(t).m, httpadmin.Options{Authorize: httpadmin.AllowAll, CSP: 7})
	})
}
