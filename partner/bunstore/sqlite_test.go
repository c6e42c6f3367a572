package bunstore_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/sqliteshim"

	"github.com/partnerkit/partnerkit/internal/dbtest"
	"github.com/partnerkit/partnerkit/partner/bunstore"
)

// TestSQLiteSettingsOnEveryConnection holds several pooled connections at
// once and checks that each has the settings, not just the first.
func TestSQLiteSettingsOnEveryConnection(t *testing.T) {
	t.Logf("SQLite driver: %s", sqliteshim.DriverName())
	path := dbtest.SQLitePath(t)
	ctx := context.Background()
	s, err := bunstore.OpenSQLite(ctx, path)
	require.NoError(t, err)
	defer s.Close()

	for _, writer := range []bool{true, false} {
		db := bun.NewDB(sql.OpenDB(bunstore.SQLiteConnector(path, writer)), sqlitedialect.New())
		var conns []bun.Conn
		for range 4 {
			c, err := db.Conn(ctx)
			require.NoError(t, err)
			conns = append(conns, c)
		}
		for i, c := range conns {
			got := map[string]string{}
			for _, pragma := range []string{"journal_mode", "foreign_keys", "busy_timeout", "query_only", "temp_store"} {
				var v string
				require.NoError(t, c.NewRaw("PRAGMA "+pragma).Scan(ctx, &v))
				got[pragma] = v
			}
			want := map[string]string{"journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "10000", "query_only": "0", "temp_store": "2"}
			if !writer {
				want["query_only"] = "1"
			}
			require.Empty(t, cmp.Diff(want, got), "connection %d (writer=%v)", i, writer)
		}
		for _, c := range conns {
			c.Close()
		}
		db.Close()
	}
	// The store's own connections wait 100 ms inside SQLite, then in Go.
	var busy int
	require.NoError(t, s.DB().NewRaw("PRAGMA busy_timeout").Scan(ctx, &busy))
	require.Equal(t, 100, busy)
}

// TestOpenSQLiteRefusesInMemory checks that every spelling of an
// in-memory (or nameless, temporary) SQLite database is refused with an
// error that says what to use instead, and that no file is created.
func TestOpenSQLiteRefusesInMemory(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, path := range []string{
		"",
		":memory:",
		"file::memory:",
		"file::memory:?cache=shared",
		"file:partners?mode=memory",
		"file:partners.db?cache=shared&mode=memory",
		"partners.db?mode=memory",
	} {
		t.Run(path, func(t *testing.T) {
			s, err := bunstore.OpenSQLite(context.Background(), path)
			if s != nil {
				s.Close()
			}
			require.Error(t, err)
			for _, want := range []string{"in-memory", "memstore", "temporary file", "file path"} {
				require.ErrorContains(t, err, want)
			}
			require.NotContains(t, err.Error(), "<nil>")
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Empty(t, entries, "nothing was created")
		})
	}
}

func TestSQLitePathWithURICharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "odd ?name#1%.db")
	s, err := bunstore.OpenSQLite(context.Background(), path)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.FileExists(t, path)
}

// TestMigrateIsIdempotentAndConcurrent migrates one database from several
// goroutines at once and again later, and checks the migration tables
// carry our own names, leaving a host's bun migration tables free.
func TestMigrateIsIdempotentAndConcurrent(t *testing.T) {
	ctx := context.Background()
	for name, open := range map[string]func(t *testing.T) *bun.DB{
		"sqlite": func(t *testing.T) *bun.DB {
			return bun.NewDB(sql.OpenDB(bunstore.SQLiteConnector(dbtest.SQLitePath(t), true)), sqlitedialect.New())
		},
		"postgres": func(t *testing.T) *bun.DB {
			return dbtest.OpenPostgres(dbtest.PostgresDSN(t), dbtest.PostgresSchema(t))
		},
	} {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			defer db.Close()
			var wg sync.WaitGroup
			errs := make([]error, 4)
			for i := range errs {
				wg.Go(func() { errs[i] = bunstore.New(db).Migrate(ctx) })
			}
			wg.Wait()
			for _, err := range errs {
				require.NoError(t, err)
			}
			require.NoError(t, bunstore.New(db).Migrate(ctx), "again at the next start")

			var applied int
			require.NoError(t, db.NewSelect().Table(bunstore.MigrationTable).ColumnExpr("count(*)").Scan(ctx, &applied))
			fsys, err := bunstore.MigrationsFS(db.Dialect().Name())
			require.NoError(t, err)
			ups, err := fsGlob(fsys, "*.up.sql")
			require.NoError(t, err)
			require.Equal(t, len(ups)+4, applied,
				"every SQL migration and the four Go migrations (name keys, customer name keys, name sort keys, search index) applied once")
			var hostTables int
			q := "SELECT count(*) FROM sqlite_master WHERE name IN ('bun_migrations', 'bun_migration_locks')"
			if name == "postgres" {
				q = "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name IN ('bun_migrations', 'bun_migration_locks')"
			}
			require.NoError(t, db.NewRaw(q).Scan(ctx, &hostTables))
			require.Zero(t, hostTables)
		})
	}
}

func TestMigrationsFS(t *testing.T) {
	for _, name := range []string{"sqlite", "pg"} {
		fsys, err := bunstore.MigrationsFS(dialectName(name))
		require.NoError(t, err)
		matches, err := fsGlob(fsys, "*.up.sql")
		require.NoError(t, err)
		require.NotEmpty(t, matches, name)
	}
	_, err := bunstore.MigrationsFS(dialect.MSSQL)
	require.Error(t, err)
}
