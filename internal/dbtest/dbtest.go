// Package dbtest opens real databases for the tests of the SQL store and
// of the Manager: SQLite in a temporary file, through OpenSQLite or as a
// host's own handle, and PostgreSQL from the environment, through bun's
// pgdriver or pgx's database/sql adapter, each test in a schema of its
// own.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/pgdriver"
	"github.com/uptrace/bun/driver/sqliteshim"

	"github.com/partnerkit/partnerkit/partner/bunstore"
)

// PostgresEnv names the environment variable holding the PostgreSQL DSN
// of the tests, e.g. postgres://postgres@127.0.0.1:5432/partnerkit_test?sslmode=disable.
const PostgresEnv = "PARTNERS_TEST_POSTGRES_DSN"

// SQLitePath returns a new database file path in the test's temp dir.
func SQLitePath(t testing.TB) string {
	return filepath.Join(t.TempDir(), "partners.db")
}

// SQLite opens a migrated SQLite store in a temporary file.
func SQLite(t testing.TB) *bunstore.Store {
	t.Helper()
	s, err := bunstore.OpenSQLite(context.Background(), SQLitePath(t))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// SQLiteHostDSN returns the DSN of a SQLite file the way a host opens its
// own handle following bun's documentation ("file:PATH"), with only
// foreign keys turned on when foreignKeys is set: no WAL, no busy timeout,
// deferred transactions. The foreign-keys parameter is the one of the
// driver sqliteshim compiled in.
func SQLiteHostDSN(path string, foreignKeys bool) string {
	dsn := "file:" + path
	if !foreignKeys {
		return dsn
	}
	if sqliteshim.DriverName() == "sqlite3" { // mattn/go-sqlite3
		return dsn + "?_foreign_keys=on"
	}
	return dsn + "?_pragma=foreign_keys(1)" // modernc.org/sqlite
}

// OpenSQLiteHost opens a host's own bun handle on the SQLite file at path
// (see SQLiteHostDSN), closed when the test ends.
func OpenSQLiteHost(t testing.TB, path string, foreignKeys bool) *bun.DB {
	t.Helper()
	sqldb, err := sql.Open(sqliteshim.ShimName, SQLiteHostDSN(path, foreignKeys))
	require.NoError(t, err)
	db := bun.NewDB(sqldb, sqlitedialect.New())
	t.Cleanup(func() { db.Close() })
	return db
}

// SQLiteHost returns a migrated store over a host's own SQLite handle
// with foreign keys on and no other setting, in a temporary file.
func SQLiteHost(t testing.TB) *bunstore.Store {
	t.Helper()
	s := bunstore.New(OpenSQLiteHost(t, SQLitePath(t), true))
	require.NoError(t, s.Migrate(context.Background()))
	return s
}

// PostgresDSN returns the DSN from PostgresEnv, or skips the test with
// a message saying how to enable it.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(PostgresEnv)
	if dsn == "" {
		t.Skipf("PostgreSQL tests are off: set %s (e.g. postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable) to run them", PostgresEnv)
	}
	return dsn
}

// OpenPostgres opens a bun DB on the DSN with search_path set to schema
// ("" keeps the server default).
func OpenPostgres(dsn, schema string) *bun.DB {
	opts := []pgdriver.Option{pgdriver.WithDSN(dsn), pgdriver.WithTimeout(30 * time.Second)}
	if schema != "" {
		opts = append(opts, pgdriver.WithConnParams(map[string]any{"search_path": schema}))
	}
	return bun.NewDB(sql.OpenDB(pgdriver.NewConnector(opts...)), pgdialect.New())
}

// OpenPostgresPgx opens a bun DB on the DSN through pgx's database/sql
// adapter (github.com/jackc/pgx/v5/stdlib) instead of bun's pgdriver,
// with search_path set to schema ("" keeps the server default).
func OpenPostgresPgx(dsn, schema string) (*bun.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	if schema != "" {
		cfg.RuntimeParams["search_path"] = schema
	}
	return bun.NewDB(stdlib.OpenDB(*cfg), pgdialect.New()), nil
}

// PostgresSchema creates a fresh schema for one test, dropped when the
// test ends, and returns its name. A set but unreachable server fails the
// test.
func PostgresSchema(t testing.TB) string {
	t.Helper()
	dsn := PostgresDSN(t)
	admin := OpenPostgres(dsn, "")
	ctx := context.Background()
	require.NoError(t, admin.PingContext(ctx), "%s is set but PostgreSQL is unreachable", PostgresEnv)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "partnerkit_test_" + hex.EncodeToString(b)
	_, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, _ = admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close()
	})
	return schema
}

// Postgres opens a migrated PostgreSQL store in a fresh schema.
func Postgres(t testing.TB) *bunstore.Store {
	t.Helper()
	schema := PostgresSchema(t)
	db := OpenPostgres(PostgresDSN(t), schema)
	t.Cleanup(func() { db.Close() })
	s := bunstore.New(db)
	require.NoError(t, s.Migrate(context.Background()))
	return s
}

// PostgresPgx opens a migrated PostgreSQL store in a fresh schema, through
// pgx's database/sql adapter.
func PostgresPgx(t testing.TB) *bunstore.Store {
	t.Helper()
	schema := PostgresSchema(t)
	db, err := OpenPostgresPgx(PostgresDSN(t), schema)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	s := bunstore.New(db)
	require.NoError(t, s.Migrate(context.Background()))
	return s
}
