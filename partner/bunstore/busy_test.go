package bunstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/internal/dbtest"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/partner/bunstore"
	"github.com/partnerkit/partnerkit/partner/storetest"
)

// sqliteStores opens a migrated store on the SQLite file at path both
// ways: through OpenSQLite, and over a host's own handle.
var sqliteStores = map[string]func(t *testing.T, path string) *bunstore.Store{
	"opensqlite": func(t *testing.T, path string) *bunstore.Store {
		s, err := bunstore.OpenSQLite(context.Background(), path)
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	},
	"host": func(t *testing.T, path string) *bunstore.Store {
		s := bunstore.New(dbtest.OpenSQLiteHost(t, path, true))
		require.NoError(t, s.Migrate(context.Background()))
		return s
	},
}

func newPartnerInput(name string) partner.CreateParams {
	return partner.CreateParams{Type: partner.MSP,
		Profile: partner.Profile{CompanyName: name, City: "Lyon", Country: "France"},
		Admin:   account.Params{Name: "admin." + name, FirstName: "A", LastName: "B", Email: "a@example.com"}}
}

// TestBusyUpdateStopsAtDeadline: while another connection holds the
// database's write lock, a Manager call with a short deadline returns
// soon after the deadline with an error wrapping ErrBusy and
// context.DeadlineExceeded, and the store works again once the lock is
// gone.
func TestBusyUpdateStopsAtDeadline(t *testing.T) {
	for name, open := range sqliteStores {
		t.Run(name, func(t *testing.T) {
			path := dbtest.SQLitePath(t)
			m := partner.NewManager(partner.Options{Store: open(t, path)})
			release := holdSQLite(t, path, "BEGIN IMMEDIATE")

			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := m.Create(ctx, newPartnerInput("blocked"))
			elapsed := time.Since(start)
			require.ErrorIs(t, err, partner.ErrBusy)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.ErrorContains(t, err, "locked")
			require.Less(t, elapsed, 2*time.Second, "the deadline ends the wait")

			release()
			_, err = m.Create(context.Background(), newPartnerInput("free"))
			require.NoError(t, err)
		})
	}
}

// TestBusyUpdateDeadlineInFirstWait: a deadline shorter than one try of
// SQLite's own busy wait (100 ms) ends the wait for the write lock during
// the first BEGIN IMMEDIATE, before any busy failure came back; the
// error still wraps ErrBusy and the context's error, as Update's doc says.
// (modernc.org/sqlite stops that wait at the context's end and reports
// the context's error, mattn/go-sqlite3 reports SQLITE_BUSY when it is
// over.)
func TestBusyUpdateDeadlineInFirstWait(t *testing.T) {
	for name, open := range sqliteStores {
		t.Run(name, func(t *testing.T) {
			path := dbtest.SQLitePath(t)
			m := partner.NewManager(partner.Options{Store: open(t, path)})
			holdSQLite(t, path, "BEGIN IMMEDIATE")

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := m.Create(ctx, newPartnerInput("blocked"))
			require.ErrorIs(t, err, partner.ErrBusy)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.Less(t, time.Since(start), time.Second)
		})
	}
}

// TestBusyViewStopsAtDeadline: a reader of a host's rollback-journal
// database is locked out while another connection holds an exclusive
// lock; View gives up at the deadline with ErrBusy.
func TestBusyViewStopsAtDeadline(t *testing.T) {
	path := dbtest.SQLitePath(t)
	s := sqliteStores["host"](t, path)
	holdSQLite(t, path, "BEGIN EXCLUSIVE")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.View(ctx, func(ctx context.Context, r partner.Reader) error {
		_, _, err := r.Partners(ctx, partner.Filter{}, storetest.AsOfT0)
		return err
	})
	require.ErrorIs(t, err, partner.ErrBusy)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 2*time.Second)
}

// serializationFailure looks like a PostgreSQL serialization failure to
// the store (SQLSTATE 40001), whichever driver.
type serializationFailure struct{}

func (serializationFailure) Error() string    { return "could not serialize access (test)" }
func (serializationFailure) SQLState() string { return "40001" }

// TestRetriesEndInErrBusy: a transaction that keeps failing on
// serialization runs 1+MaxRetries times, then Update returns an error
// wrapping ErrBusy and the last failure.
func TestRetriesEndInErrBusy(t *testing.T) {
	stores := map[string]func(t testing.TB) *bunstore.Store{"sqlite": dbtest.SQLite, "postgres": dbtest.Postgres}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			runs := 0
			err := s.Update(context.Background(), func(context.Context, partner.Tx) error {
				runs++
				return serializationFailure{}
			})
			require.Equal(t, 1+bunstore.MaxRetries, runs)
			require.ErrorIs(t, err, partner.ErrBusy)
			require.True(t, errors.As(err, new(serializationFailure)), "the last failure is wrapped: %v", err)
		})
	}
}

// TestBusyUpdateGivesUpWithoutDeadline: with no deadline, an Update that
// cannot get the write lock gives up once the store's busy timeout has
// passed (shortened here from BusyTimeout), with ErrBusy and the driver's
// "locked" failure, not the context's.
func TestBusyUpdateGivesUpWithoutDeadline(t *testing.T) {
	for name, open := range sqliteStores {
		t.Run(name, func(t *testing.T) {
			path := dbtest.SQLitePath(t)
			s := open(t, path)
			bunstore.SetBusyTimeout(s, 300*time.Millisecond)
			holdSQLite(t, path, "BEGIN IMMEDIATE")
			start := time.Now()
			err := s.Update(context.Background(), func(ctx context.Context, tx partner.Tx) error {
				p := storetest.NewPartner("Never", partner.MSP, partner.Active)
				return tx.CreatePartner(ctx, &p)
			})
			require.ErrorIs(t, err, partner.ErrBusy)
			require.NotErrorIs(t, err, context.DeadlineExceeded)
			require.ErrorContains(t, err, "database is locked")
			require.Less(t, time.Since(start), 2*time.Second)
		})
	}
}
