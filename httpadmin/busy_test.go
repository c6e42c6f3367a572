package httpadmin_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/partner/memstore"
)

// lockedStore fails every transaction with err while it is set, as a
// store whose database another process keeps locked does.
type lockedStore struct {
	partner.Store
	err atomic.Pointer[error]
}

func (s *lockedStore) Update(ctx context.Context, fn func(context.Context, partner.Tx) error) error {
	if err := s.err.Load(); err != nil {
		return *err
	}
	return s.Store.Update(ctx, fn)
}

func (s *lockedStore) View(ctx context.Context, fn func(context.Context, partner.Reader) error) error {
	if err := s.err.Load(); err != nil {
		return *err
	}
	return s.Store.View(ctx, fn)
}

// A write waiting on a database locked by another process answered 500
// after minutes. A busy store, or a request whose deadline ran out on
// the store, answers 503 with words to try again.
func TestBusyDatabaseAnswers503(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		method string
		path   string
		hx     bool
		form   map[string][]string
	}{
		{name: "busy write with htmx", err: fmt.Errorf("update: %w", partner.ErrBusy), method: "POST", path: "/{msp}/licenses/refill", hx: true, form: form("on", "true")},
		{name: "busy write without JavaScript", err: fmt.Errorf("update: %w", partner.ErrBusy), method: "POST", path: "/{msp}/profile", form: form("city", "Paris")},
		{name: "busy read", err: fmt.Errorf("view: %w", partner.ErrBusy), method: "GET", path: "/{msp}/licenses"},
		{name: "deadline ran out on the store", err: fmt.Errorf("set_pool_refill: %w", context.DeadlineExceeded), method: "POST", path: "/{msp}/licenses/refill", hx: true, form: form("on", "true")},
		{name: "busy while creating", err: fmt.Errorf("update: %w", partner.ErrBusy), method: "POST", path: "/",
			form: form("type", "msp", "company", "Newco", "city", "Paris", "country", "France", "account", "newco.admin", "first_name", "N", "last_name", "N", "email", "n@example.com")},
		{name: "busy list", err: fmt.Errorf("view: %w", partner.ErrBusy), method: "GET", path: "/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := &lockedStore{Store: memstore.New()}
			w := newWorldOn(t, store)
			store.err.Store(&tc.err)
			rec := w.do(tc.method, tc.path, tc.hx, tc.form, nil)
			require.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
			require.Contains(t, rec.Body.String(), "The database is busy; try again in a moment.")
			require.Equal(t, "5", rec.Header().Get("Retry-After"))
			if tc.hx {
				require.Equal(t, "#messages", rec.Header().Get("HX-Retarget"), "htmx shows it in the message area")
			}
			require.Contains(t, w.logs.String(), "httpadmin: database busy")
		})
	}
}
