package httpadmin_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/httpadmin"
)

// A console mounted somewhere other than its Prefix answered pages whose
// every link led nowhere, and said nothing. Its first request now answers
// 500 naming the prefix it was given and the one it is mounted at, and the
// log says the same.
func TestAMountThatDoesNotMatchThePrefixIsCaught(t *testing.T) {
	type record struct {
		Level, Msg, Path string
		Status           int
	}
	for _, tc := range []struct {
		name   string
		prefix string                                   // Options.Prefix
		mount  func(mux *http.ServeMux, h http.Handler) // how the host mounted the console
		hx     bool
		path   string
		status int
		want   []string // in the answer, and in the log's reason
		log    *record  // nil: nothing logged
	}{
		{name: "Mount under the prefix", prefix: "/admin/partners", path: "/admin/partners/",
			mount: func(mux *http.ServeMux, h http.Handler) { httpadmin.Mount(mux, "/admin/partners", h) }, status: 200},
		{name: "Mount with a trailing slash", prefix: "/admin/partners/", path: "/admin/partners/assets/admin.css",
			mount: func(mux *http.ServeMux, h http.Handler) { httpadmin.Mount(mux, "/admin/partners/", h) }, status: 200},
		{name: "StripPrefix by hand", prefix: "/admin/partners", path: "/admin/partners/1/licenses",
			mount: func(mux *http.ServeMux, h http.Handler) {
				mux.Handle("/admin/partners/", http.StripPrefix("/admin/partners", h))
			}, status: 200},
		{name: "at the root", prefix: "", path: "/1/licenses",
			mount: func(mux *http.ServeMux, h http.Handler) { httpadmin.Mount(mux, "", h) }, status: 200},
		{name: "mounted under another prefix", prefix: "/admin/partners", path: "/partners/1/licenses",
			mount:  func(mux *http.ServeMux, h http.Handler) { httpadmin.Mount(mux, "/partners", h) },
			status: 500, want: []string{`configured with Prefix "/admin/partners", but it is mounted at "/partners"`, `set Options.Prefix to "/partners"`},
			log: &record{Level: "ERROR", Msg: "httpadmin: mounted under the wrong prefix", Path: "/partners/1/licenses", Status: 500}},
		{name: "another prefix, first request an asset, with htmx", prefix: "/admin/partners", path: "/console/assets/htmx.min.js", hx: true,
			mount:  func(mux *http.ServeMux, h http.Handler) { httpadmin.Mount(mux, "/console", h) },
			status: 500, want: []string{`configured with Prefix "/admin/partners", but it is mounted at "/console"`},
			log: &record{Level: "ERROR", Msg: "httpadmin: mounted under the wrong prefix", Path: "/console/assets/htmx.min.js", Status: 500}},
		{name: "not stripped", prefix: "/admin/partners", path: "/admin/partners/",
			mount:  func(mux *http.ServeMux, h http.Handler) { mux.Handle("/admin/partners/", h) },
			status: 500, want: []string{`configured with Prefix "/admin/partners", but the request for "/admin/partners/" reached it unstripped`, `httpadmin.Mount(mux, "/admin/partners", handler)`},
			log: &record{Level: "ERROR", Msg: "httpadmin: mounted under the wrong prefix", Path: "/admin/partners/", Status: 500}},
		{name: "a prefix given but mounted at the root", prefix: "/admin/partners", path: "/",
			mount:  func(mux *http.ServeMux, h http.Handler) { mux.Handle("/", h) },
			status: 500, want: []string{`the request for "/" reached it unstripped`, `set Options.Prefix to "" to mount it at the root`},
			log: &record{Level: "ERROR", Msg: "httpadmin: mounted under the wrong prefix", Path: "/", Status: 500}},
		{name: "a path rewritten on the way", prefix: "/admin/partners", path: "/admin/partners/1/LICENSES",
			mount: func(mux *http.ServeMux, h http.Handler) {
				mux.Handle("/admin/partners/", http.StripPrefix("/admin/partners", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					r.URL.Path = strings.ToLower(r.URL.Path)
					h.ServeHTTP(w, r)
				})))
			},
			status: 500, want: []string{`the request for "/admin/partners/1/LICENSES" reached it as "/1/licenses", which is not that prefix followed by the path`},
			log: &record{Level: "ERROR", Msg: "httpadmin: mounted under the wrong prefix", Path: "/admin/partners/1/LICENSES", Status: 500}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			var logs bytes.Buffer
			mux := http.NewServeMux()
			tc.mount(mux, httpadmin.New(w.m, httpadmin.Options{Prefix: tc.prefix, Authorize: httpadmin.AllowAll,
				Logger: slog.New(slog.NewJSONHandler(&logs, nil))}))
			r := httptest.NewRequest("GET", tc.path, nil)
			if tc.hx {
				r.Header.Set("HX-Request", "true")
			}
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, r)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			for _, s := range tc.want {
				require.Contains(t, rec.Body.String(), s)
			}
			if tc.log == nil {
				require.Empty(t, logs.String())
				return
			}
			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
			require.Len(t, lines, 1, "one record:\n%s", logs.String())
			var got struct {
				record
				Reason string
			}
			require.NoError(t, json.Unmarshal([]byte(lines[0]), &struct {
				Level  *string `json:"level"`
				Msg    *string `json:"msg"`
				Path   *string `json:"path"`
				Status *int    `json:"status"`
				Reason *string `json:"reason"`
			}{&got.Level, &got.Msg, &got.Path, &got.Status, &got.Reason}))
			if diff := cmp.Diff(*tc.log, got.record); diff != "" {
				t.Fatalf("log record (-want +got):\n%s", diff)
			}
			for _, s := range tc.want {
				require.Contains(t, got.Reason, s)
			}
		})
	}
}

// A handler called in code, with no RequestURI, cannot tell where it is
// mounted: it is served as it is.
func TestARequestWithoutRequestURIIsNotChecked(t *testing.T) {
	w := newWorld(t)
	h := httpadmin.New(w.m, httpadmin.Options{Prefix: "/admin/partners", Authorize: httpadmin.AllowAll})
	r, err := http.NewRequest("GET", "/", nil)
	require.NoError(t, err)
	require.Empty(t, r.RequestURI)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), `href="/admin/partners/new"`)
}

func TestAPrefixMustStartWithASlash(t *testing.T) {
	m := newWorld(t).m
	require.PanicsWithValue(t, `httpadmin: Options.Prefix must start with "/" (got "admin/partners")`, func() {
		httpadmin.New(m, httpadmin.Options{Prefix: "admin/partners", Authorize: httpadmin.AllowAll})
	})
	require.PanicsWithValue(t, `httpadmin: Mount: the prefix must start with "/" (got "admin")`, func() {
		httpadmin.Mount(http.NewServeMux(), "admin", http.NotFoundHandler())
	})
}
