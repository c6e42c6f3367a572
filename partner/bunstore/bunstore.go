// Package bunstore is the SQL store of the library, on
// github.com/uptrace/bun: embedded SQLite by default, PostgreSQL to share
// one database between several host processes.
//
// Open the embedded default in one call:
//
//	s, err := bunstore.OpenSQLite(ctx, "partners.db") // WAL, busy timeout, foreign keys, immediate locking; migrated
//	m := partner.NewManager(partner.Options{Store: s})
//
// Or embed into a bun database the host already has (PostgreSQL here):
//
//	db := bun.NewDB(sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(dsn))), pgdialect.New())
//	s := bunstore.New(db)
//	err := s.Migrate(ctx) // idempotent; safe at every start, from several processes at once
//
// The store passes the partner/storetest conformance suite on both. Units
// are allocated by one conditional UPDATE whose affected-row count decides
// success, and the schema's CHECK constraints forbid used units above the
// provisioned ones or below zero, so no interleaving of processes can
// over-allocate. Busy and serialization failures are retried a bounded
// number of times inside the store; what reaches callers is one of the
// partner package's sentinel errors.
package bunstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/sqliteshim"
	"github.com/uptrace/bun/migrate"

	"github.com/partnerkit/partnerkit/partner"
)

// Migrations holds the schema as SQL files, one folder per dialect
// ("migrations/sqlite", "migrations/postgres"), for hosts that run
// migrations with their own tooling. MigrationsFS picks the folder.
//
//go:embed migrations
var Migrations embed.FS

// Migration table names of our own, so they never collide with a host's
// own bun migrations in the same database.
const (
	MigrationTable      = "partnerkit_bun_migrations"
	MigrationLocksTable = "partnerkit_bun_migration_locks"
)

// MigrationsFS returns the migrations of a dialect (sqlite or pg).
func MigrationsFS(name dialect.Name) (fs.FS, error) {
	switch name {
	case dialect.SQLite:
		return fs.Sub(Migrations, "migrations/sqlite")
	case dialect.PG:
		return fs.Sub(Migrations, "migrations/postgres")
	}
	return nil, fmt.Errorf("bunstore: no migrations for dialect %s (sqlite and pg are supported)", name)
}

// Store is a partner.Store on a bun database.
type Store struct {
	db      *bun.DB // read-write transactions
	reads   *bun.DB // read-only views; the same as db unless OpenSQLite made a pool of its own
	name    dialect.Name
	retries int
	owned   []*bun.DB // closed by Close
}

var _ partner.Store = (*Store)(nil)

// MaxRetries is how many times Update runs a transaction again after a
// busy database or a serialization failure before giving up.
const MaxRetries = 20

// New returns a Store over a bun database the host opened (SQLite or
// PostgreSQL). Call Migrate before use unless the host runs the
// migrations itself. The host keeps ownership of db.
func New(db *bun.DB) *Store {
	return &Store{db: db, reads: db, name: db.Dialect().Name(), retries: MaxRetries}
}

// SQLiteDSN returns the data source name OpenSQLite uses for path: WAL
// journal, a busy timeout, foreign keys on, and, for the writer, BEGIN
// IMMEDIATE transactions, with the keys of whichever driver sqliteshim
// compiled in (modernc by default; mattn with -tags cgosqlite). The
// reader's DSN makes its connections query-only and keeps deferred
// transactions, so readers never queue behind writers.
func SQLiteDSN(path string, writer bool) string {
	file := "file:" + strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(path)
	var params []string
	if sqliteshim.DriverName() == "sqlite3" { // mattn/go-sqlite3
		params = []string{"_busy_timeout=10000", "_journal_mode=WAL", "_foreign_keys=on", "_synchronous=NORMAL"}
		if writer {
			params = append(params, "_txlock=immediate")
		} else {
			params = append(params, "_query_only=on")
		}
	} else { // modernc.org/sqlite
		params = []string{"_pragma=busy_timeout(10000)", "_pragma=journal_mode(WAL)", "_pragma=foreign_keys(1)", "_pragma=synchronous(NORMAL)"}
		if writer {
			params = append(params, "_txlock=immediate")
		} else {
			params = append(params, "_pragma=query_only(1)")
		}
	}
	return file + "?" + strings.Join(params, "&")
}

// connPragmas run on every new SQLite connection, for settings that not
// every driver takes in its DSN. temp_store=MEMORY keeps statement
// journals off the disk: a transaction of several statements otherwise
// writes one to a temporary file for each statement after the first.
var connPragmas = []string{"PRAGMA temp_store = MEMORY"}

// SQLiteConnector returns a database/sql connector for the SQLite file at
// path: SQLiteDSN's settings, plus the ones every new connection gets by
// statement (temp_store). OpenSQLite uses it; a host that keeps its own
// *sql.DB can use it too.
func SQLiteConnector(path string, writer bool) driver.Connector {
	return &sqliteConnector{dsn: SQLiteDSN(path, writer)}
}

type sqliteConnector struct{ dsn string }

func (c *sqliteConnector) Driver() driver.Driver { return sqliteshim.Driver() }

func (c *sqliteConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := sqliteshim.Driver().Open(c.dsn)
	if err != nil {
		return nil, err
	}
	ex, ok := conn.(driver.ExecerContext)
	if !ok {
		conn.Close()
		return nil, errors.New("bunstore: the SQLite driver cannot execute statements on a connection")
	}
	for _, p := range connPragmas {
		if _, err := ex.ExecContext(ctx, p, nil); err != nil {
			conn.Close()
			return nil, fmt.Errorf("bunstore: %s: %w", p, err)
		}
	}
	return conn, nil
}

// OpenSQLite opens (creating if needed) the SQLite database file at path,
// configured for safe concurrent use by several goroutines and several
// processes, and migrates it. Close the Store when done.
//
// path is a file path, not a URI: characters such as '?' and '#' are
// part of the file's name. OpenSQLite refuses an in-memory database —
// the empty path, ":memory:", "file::memory:..." and any path with a
// "mode=memory" query parameter — because the store shares one WAL file
// between its connections and between processes. Use partner/memstore
// for an in-memory store, or a file in a temporary directory for SQL
// semantics without keeping the data.
func OpenSQLite(ctx context.Context, path string) (*Store, error) {
	if inMemory(path) {
		return nil, fmt.Errorf("bunstore: OpenSQLite needs a file path, not an in-memory database (%q): "+
			"the store shares one WAL file between its connections and processes; for an in-memory store use "+
			"partner/memstore, and for SQL semantics without keeping the data open a temporary file "+
			"(such as filepath.Join(t.TempDir(), \"partners.db\"))", path)
	}
	open := func(writer bool) (*bun.DB, error) {
		return bun.NewDB(sql.OpenDB(SQLiteConnector(path, writer)), sqlitedialect.New()), nil
	}
	w, err := open(true)
	if err != nil {
		return nil, err
	}
	// Check the settings took on a pooled connection, not just the first.
	var mode string
	err = w.NewRaw("PRAGMA journal_mode").Scan(ctx, &mode)
	if err := walCheck(path, mode, err); err != nil {
		w.Close()
		return nil, err
	}
	s := New(w)
	s.owned = append(s.owned, w)
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	r, err := open(false)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.reads = r
	s.owned = append(s.owned, r)
	return s, nil
}

// inMemory reports whether path names an in-memory SQLite database, or,
// for the empty path, SQLite's private temporary one.
func inMemory(path string) bool {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file::memory:") {
		return true
	}
	_, query, ok := strings.Cut(path, "?")
	if !ok {
		return false
	}
	for _, param := range strings.Split(query, "&") {
		if strings.EqualFold(param, "mode=memory") {
			return true
		}
	}
	return false
}

// walCheck reports the outcome of reading a new database's journal mode:
// the query's own error, or a mode other than WAL.
func walCheck(path, mode string, err error) error {
	switch {
	case err != nil:
		return fmt.Errorf("bunstore: open %s: read its journal mode: %w", path, err)
	case mode != "wal":
		return fmt.Errorf("bunstore: %s is not in WAL mode (SQLite reports journal_mode %q): "+
			"the store needs WAL, which needs a local file system with shared memory", path, mode)
	}
	return nil
}

// AddQueryHook adds a bun query hook (tracing, metrics, query counting)
// to every database the store uses.
func (s *Store) AddQueryHook(h bun.QueryHook) {
	s.db.AddQueryHook(h)
	if s.reads != s.db {
		s.reads.AddQueryHook(h)
	}
}

// DB returns the bun database the store writes through.
func (s *Store) DB() *bun.DB { return s.db }

// Close closes the databases OpenSQLite opened; it leaves a database
// passed to New open.
func (s *Store) Close() error {
	var errs []error
	for _, db := range s.owned {
		errs = append(errs, db.Close())
	}
	return errors.Join(errs...)
}

// Migrate brings the schema up to date. It is idempotent and safe to call
// at every start, from several processes at once: they take turns on the
// migration lock.
func (s *Store) Migrate(ctx context.Context) error {
	fsys, err := MigrationsFS(s.name)
	if err != nil {
		return err
	}
	ms := migrate.NewMigrations()
	if err := ms.Discover(fsys); err != nil {
		return fmt.Errorf("bunstore: discover migrations: %w", err)
	}
	mg := migrate.NewMigrator(s.db, ms, migrate.WithTableName(MigrationTable),
		migrate.WithLocksTableName(MigrationLocksTable), migrate.WithMarkAppliedOnSuccess(true))
	deadline := time.Now().Add(time.Minute)
	for {
		err := mg.Init(ctx)
		if err == nil {
			err = mg.Lock(ctx)
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bunstore: migration lock: %w", err)
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	defer mg.Unlock(context.WithoutCancel(ctx)) //nolint:errcheck // a failed unlock is reported by the next Lock
	if _, err := mg.Migrate(ctx); err != nil {
		return fmt.Errorf("bunstore: migrate: %w", err)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Update implements partner.Store: fn runs in one transaction (BEGIN
// IMMEDIATE on SQLite, READ COMMITTED with row locks on PostgreSQL), run
// again after a busy or serialization failure, at most MaxRetries times.
func (s *Store) Update(ctx context.Context, fn func(context.Context, partner.Tx) error) error {
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			t := &txn{reader: reader{db: tx, s: s}}
			defer func() { t.done = true }()
			return fn(ctx, t)
		})
		if err == nil || !transient(err) || attempt >= s.retries {
			return mapErr(err)
		}
		backoff := time.Duration(1<<min(attempt, 6)) * time.Millisecond
		if err := sleep(ctx, backoff+time.Duration(rand.Int64N(int64(backoff)))); err != nil {
			return err
		}
	}
}

// View implements partner.Store: a read-only transaction, so the reads of
// fn see one snapshot.
func (s *Store) View(ctx context.Context, fn func(context.Context, partner.Reader) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if s.name == dialect.PG {
		opts.Isolation = sql.LevelRepeatableRead
	}
	for attempt := 0; ; attempt++ {
		err := s.reads.RunInTx(ctx, opts, func(ctx context.Context, tx bun.Tx) error {
			r := &reader{db: tx, s: s}
			defer func() { r.done = true }()
			return fn(ctx, r)
		})
		if err == nil || !transient(err) || attempt >= s.retries {
			return mapErr(err)
		}
		if err := sleep(ctx, time.Duration(attempt+1)*time.Millisecond); err != nil {
			return err
		}
	}
}

// sqlState returns the SQLSTATE of a PostgreSQL error from bun's pgdriver
// (Field('C')) or pgx (SQLState()), without importing either.
func sqlState(err error) string {
	var pgd interface{ Field(byte) string }
	if errors.As(err, &pgd) {
		return pgd.Field('C')
	}
	var pgx interface{ SQLState() string }
	if errors.As(err, &pgx) {
		return pgx.SQLState()
	}
	return ""
}

// transient reports errors worth running the transaction again for.
func transient(err error) bool {
	var pe *partner.Error
	if errors.As(err, &pe) && pe.Kind != nil {
		return false
	}
	switch sqlState(err) {
	case "40001", "40P01": // serialization failure, deadlock
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "database is locked") || strings.Contains(msg, "SQLITE_BUSY") ||
		strings.Contains(msg, "database table is locked")
}

// constraintFields maps the schema's constraint names (PostgreSQL reports
// them) and column lists (SQLite reports those) to the field the error
// names. Dialect differences in error reporting stay in this table.
var constraintFields = []struct {
	match  []string
	kind   error
	field  string
	reason string
}{
	{[]string{"partnerkit_accounts_name_uniq", "partnerkit_accounts.name"}, partner.ErrDuplicate, "account name", "is already taken"},
	{[]string{"partnerkit_plans_name_uniq", "partnerkit_plans.name_key"}, partner.ErrDuplicate, "name", "is already taken by another service plan"},
	{[]string{"partnerkit_plans_nfr_uniq", "partnerkit_plans.product, partnerkit_plans.data_center"}, partner.ErrDuplicate, "nfr",
		"an NFR plan already exists for this product in this data center"},
	{[]string{"partnerkit_plan_assignments_pkey", "partnerkit_plan_assignments.partner_id"}, partner.ErrDuplicate, "service plan", "is already assigned"},
	{[]string{"partnerkit_licenses_used_within_units"}, partner.ErrInsufficientUnits, "units", "would exceed the provisioned units"},
}

// mapErr turns driver errors into the partner package's errors; errors
// already of that package pass through.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var pe *partner.Error
	if errors.As(err, &pe) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return &partner.Error{Kind: partner.ErrNotFound, Err: err}
	}
	msg := err.Error()
	for _, c := range constraintFields {
		for _, m := range c.match {
			if strings.Contains(msg, m) {
				return &partner.Error{Kind: c.kind, Field: c.field, Reason: c.reason, Err: err}
			}
		}
	}
	switch state := sqlState(err); {
	case state == "23505" || strings.Contains(msg, "UNIQUE constraint failed"):
		return &partner.Error{Kind: partner.ErrDuplicate, Err: err}
	case state == "23503" || strings.Contains(msg, "FOREIGN KEY constraint failed"):
		return &partner.Error{Kind: partner.ErrNotFound, Reason: "refers to a record that does not exist", Err: err}
	}
	return err
}
