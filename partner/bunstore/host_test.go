package bunstore_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun/driver/sqliteshim"

	"github.com/partnerkit/partnerkit/internal/dbtest"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/partner/bunstore"
	"github.com/partnerkit/partnerkit/partner/storetest"
)

// TestHostSQLiteForeignKeysOff: a host's SQLite handle opened without
// foreign keys is refused with an error naming the setting, and nothing
// is written through it.
func TestHostSQLiteForeignKeysOff(t *testing.T) {
	ctx := context.Background()
	path := dbtest.SQLitePath(t)
	require.NoError(t, bunstore.New(dbtest.OpenSQLiteHost(t, path, true)).Migrate(ctx))

	s := bunstore.New(dbtest.OpenSQLiteHost(t, path, false))
	err := s.Update(ctx, func(ctx context.Context, tx partner.Tx) error {
		l := storetest.NewLicense(999, 10) // a licence of no partner: foreign keys would refuse it
		return tx.CreateLicense(ctx, &l)
	})
	require.EqualError(t, err, "bunstore: foreign keys are off on this SQLite connection: open it with "+
		"_pragma=foreign_keys(1) (modernc) or _foreign_keys=on (mattn), or use bunstore.SQLiteConnector")
	var n int
	require.NoError(t, s.DB().NewRaw("SELECT count(*) FROM partnerkit_licenses").Scan(ctx, &n))
	require.Zero(t, n)
}

// holdSQLite opens a connection of its own on the SQLite file at path and
// runs stmts on it, holding whatever lock they take until release (or the
// end of the test) rolls back.
func holdSQLite(t *testing.T, path string, stmts ...string) (release func()) {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open(sqliteshim.ShimName, "file:"+path)
	require.NoError(t, err)
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	for _, q := range stmts {
		rows, err := conn.QueryContext(ctx, q)
		require.NoError(t, err, q)
		for rows.Next() {
		}
		require.NoError(t, rows.Close())
	}
	done := false
	release = func() {
		if done {
			return
		}
		done = true
		_, err := conn.ExecContext(ctx, "ROLLBACK")
		require.NoError(t, err)
		conn.Close()
		db.Close()
	}
	t.Cleanup(release)
	return release
}

// TestHostSQLiteCommitBusyLeavesNoOpenTransaction: on a host's handle in
// rollback-journal mode a COMMIT waits for readers to finish; when a
// reader outstays the deadline the store rolls back, so the pooled
// connection carries no transaction into the next call.
func TestHostSQLiteCommitBusyLeavesNoOpenTransaction(t *testing.T) {
	path := dbtest.SQLitePath(t)
	db := dbtest.OpenSQLiteHost(t, path, true)
	db.SetMaxOpenConns(1) // every call gets the same connection back
	s := bunstore.New(db)
	require.NoError(t, s.Migrate(context.Background()))

	release := holdSQLite(t, path, "BEGIN", "SELECT count(*) FROM partnerkit_partners") // a reader's SHARED lock
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := s.Update(ctx, func(ctx context.Context, tx partner.Tx) error {
		p := storetest.NewPartner("Blocked at commit", partner.MSP, partner.Active)
		return tx.CreatePartner(ctx, &p)
	})
	require.ErrorIs(t, err, partner.ErrBusy)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 2*time.Second)
	release()

	var names []string
	for _, name := range []string{"After one", "After two"} {
		err := s.Update(context.Background(), func(ctx context.Context, tx partner.Tx) error {
			p := storetest.NewPartner(name, partner.MSP, partner.Active)
			return tx.CreatePartner(ctx, &p)
		})
		require.NoError(t, err, "the connection came back to the pool without a transaction")
	}
	require.NoError(t, s.View(context.Background(), func(ctx context.Context, r partner.Reader) error {
		ps, _, err := r.Partners(ctx, partner.Filter{}, storetest.AsOfT0)
		for _, p := range ps {
			names = append(names, p.Profile.CompanyName)
		}
		return err
	}))
	require.Equal(t, []string{"After one", "After two"}, names)
}
