package httpadmin_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/httpadmin"
)

// logLine is what a refusal's log record must say.
type logLine struct {
	Level     string
	Msg       string
	Status    int
	Method    string
	Path      string
	Partner   int64
	Operation string
	Reason    string
}

// Refusals left nothing in the log, and logged paths lacked the mount
// prefix. Each refusal is logged once, with what an operator needs to
// see an attack or a confused user, and never what a form carried.
func TestRefusalsAreLoggedOnce(t *testing.T) {
	const secret = "Tr0ub4dor-secret-value"
	type request struct {
		name      string
		method    string
		path      string
		form      url.Values
		headers   map[string]string
		authorize func(*http.Request, httpadmin.Access) error
		status    int
		want      *logLine // nil: nothing logged
		reason    string   // text the logged reason must hold
	}
	readOnly := func(_ *http.Request, a httpadmin.Access) error {
		if a.Write() {
			return errors.New("read-only operator")
		}
		return nil
	}
	for _, tc := range []request{
		{name: "cross-site post", method: "POST", path: "/{msp}/suspend", form: form("confirm", "yes", "note", secret),
			headers: map[string]string{"Sec-Fetch-Site": "cross-site"}, status: 403,
			want:   &logLine{Level: "WARN", Msg: "httpadmin: request refused", Status: 403, Method: "POST", Path: "/admin/partners/{msp}/suspend"},
			reason: "cross-origin request"},
		{name: "the host's Authorize refuses", method: "POST", path: "/{msp}/suspend", form: form("confirm", "yes", "note", secret), authorize: readOnly, status: 403,
			want:   &logLine{Level: "WARN", Msg: "httpadmin: request refused", Status: 403, Method: "POST", Path: "/admin/partners/{msp}/suspend", Partner: -1, Operation: "suspend"},
			reason: "not authorized: read-only operator"},
		{name: "unknown partner", method: "GET", path: "/9999/licenses", status: 404,
			want:   &logLine{Level: "INFO", Msg: "httpadmin: request refused", Status: 404, Method: "GET", Path: "/admin/partners/9999/licenses", Partner: 9999, Operation: "read"},
			reason: "partner 9999 does not exist"},
		{name: "unknown page", method: "GET", path: "/{msp}/billing", status: 404,
			want:   &logLine{Level: "INFO", Msg: "httpadmin: request refused", Status: 404, Method: "GET", Path: "/admin/partners/{msp}/billing", Partner: -1, Operation: "read"},
			reason: "no such page"},
		{name: "no route at all", method: "PUT", path: "/{msp}/suspend", status: 404,
			want: &logLine{Level: "INFO", Msg: "httpadmin: request refused", Status: 404, Method: "PUT", Path: "/admin/partners/{msp}/suspend", Operation: "read"}},
		{name: "guard refuses", method: "POST", path: "/{suspended}/licenses/assign",
			form: form("full-1", "5", "start-1", "2026-05-01", "expiry-1", "2027-05-01", "note", secret), status: 409,
			want:   &logLine{Level: "INFO", Msg: "httpadmin: request refused", Status: 409, Method: "POST", Path: "/admin/partners/{suspended}/licenses/assign", Partner: -2, Operation: "assign_licenses"},
			reason: "the partnership is suspended"},
		{name: "stale version", method: "POST", path: "/{msp}/licenses/refill", form: form("on", "true", "version", "99"), status: 409,
			want:   &logLine{Level: "INFO", Msg: "httpadmin: request refused", Status: 409, Method: "POST", Path: "/admin/partners/{msp}/licenses/refill", Partner: -1, Operation: "set_pool_refill"},
			reason: "changed by someone else"},
		{name: "invalid input names fields, not values", method: "POST", path: "/{msp}/accounts/add",
			form: form("account", "x", "first_name", secret, "last_name", "L", "email", secret, "role", "billing_manager"), status: 422,
			want:   &logLine{Level: "INFO", Msg: "httpadmin: request refused", Status: 422, Method: "POST", Path: "/admin/partners/{msp}/accounts/add", Partner: -1, Operation: "add_account"},
			reason: "invalid input: account name, email"},
		{name: "malformed number", method: "GET", path: "/?offset=abc", status: 400,
			want:   &logLine{Level: "INFO", Msg: "httpadmin: request refused", Status: 400, Method: "GET", Path: "/admin/partners/", Operation: "read"},
			reason: "offset"},
		{name: "success is not logged", method: "GET", path: "/{msp}/licenses", status: 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			var logs bytes.Buffer
			authorize := tc.authorize
			if authorize == nil {
				authorize = httpadmin.AllowAll
			}
			h := mounted("/admin/partners", httpadmin.New(w.m, httpadmin.Options{Prefix: "/admin/partners", Authorize: authorize,
				Logger: slog.New(slog.NewJSONHandler(&logs, nil))}))
			var body *strings.Reader
			if tc.form != nil {
				body = strings.NewReader(tc.form.Encode())
			} else {
				body = strings.NewReader("")
			}
			r := httptest.NewRequest(tc.method, "/admin/partners"+w.expand(tc.path), body)
			if tc.form != nil {
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())

			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
			if tc.want == nil {
				require.Empty(t, strings.TrimSpace(logs.String()))
				return
			}
			require.Len(t, lines, 1, "one record per refusal:\n%s", logs.String())
			var got logLine
			var raw map[string]any
			require.NoError(t, json.Unmarshal([]byte(lines[0]), &raw))
			require.NoError(t, json.Unmarshal([]byte(lines[0]), &struct {
				Level     *string `json:"level"`
				Msg       *string `json:"msg"`
				Status    *int    `json:"status"`
				Method    *string `json:"method"`
				Path      *string `json:"path"`
				Partner   *int64  `json:"partner"`
				Operation *string `json:"operation"`
				Reason    *string `json:"reason"`
			}{&got.Level, &got.Msg, &got.Status, &got.Method, &got.Path, &got.Partner, &got.Operation, &got.Reason}))
			want := *tc.want
			want.Path = w.expand(want.Path)
			switch want.Partner { // placeholders for the world's ids
			case -1:
				want.Partner = w.msp.ID
			case -2:
				want.Partner = w.suspended.ID
			}
			require.Contains(t, got.Reason, tc.reason)
			want.Reason = got.Reason
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("log record (-want +got):\n%s\nrecord: %s", diff, lines[0])
			}
			require.NotContains(t, logs.String(), secret, "a form's content reached the log")
			for _, k := range []string{"status", "method", "path", "partner", "operation", "reason"} {
				require.Contains(t, raw, k, fmt.Sprintf("the record names the %s", k))
			}
		})
	}
}
