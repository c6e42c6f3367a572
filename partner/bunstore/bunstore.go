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
// A host's own SQLite *bun.DB may be passed to New too, opened with
// foreign keys on (the store checks, and refuses one without).
//
// The store passes the partner/storetest conformance suite on all three.
// Units are allocated by one conditional UPDATE whose affected-row count
// decides success, and the schema's CHECK constraints forbid used units
// above the provisioned ones or below zero, so no interleaving of
// processes can over-allocate. Busy and serialization failures are waited
// out and retried inside the store, within bounds (see Store.Update);
// what reaches callers is one of the partner package's sentinel errors,
// partner.ErrBusy when the database stayed busy.
package bunstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/sqliteshim"
	"github.com/uptrace/bun/migrate"

	"github.com/partnerkit/partnerkit/partner"
)

// Migrations holds the schema's SQL migrations, one folder per dialect
// ("migrations/sqlite", "migrations/postgres"), for hosts that run
// migrations with their own tooling. MigrationsFS picks the folder. Four
// migrations are in Go and not among these files: a host running the SQL
// files itself calls RefoldNameKeys and CreateSearchIndex after them.
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
	db          *bun.DB // read-write transactions
	reads       *bun.DB // read-only views; the same as db unless OpenSQLite made a pool of its own
	name        dialect.Name
	retries     int
	busyTimeout time.Duration
	owned       []*bun.DB // closed by Close
	stmts       *stmts    // the allocation path's prepared statements (stmts.go)

	// SQLite only.
	fts      atomic.Int32  // whether the name search's FTS5 table exists: ftsUnknown, ftsPresent, ftsAbsent
	writer   chan struct{} // one write transaction of the store at a time (see enqueue)
	hostConn bool          // a host's handle: write transactions on a connection of their own (see writeOnConn)
}

var _ partner.Store = (*Store)(nil)

// New returns a Store over a bun database the host opened (SQLite or
// PostgreSQL). Call Migrate before use unless the host runs the
// migrations itself. The host keeps ownership of db.
//
// A host's SQLite handle keeps its settings: each write transaction takes
// a connection of its own, checks that foreign keys are on there (PRAGMA
// foreign_keys; Update refuses the connection otherwise), and runs between
// an explicit BEGIN IMMEDIATE and COMMIT or ROLLBACK. WAL and a busy
// timeout are not required. While a write transaction or a view holds a
// connection, the store lowers the connection's busy timeout to 100 ms if
// it is longer (mattn/go-sqlite3 cannot end SQLite's own wait when the
// context ends; the store waits in Go instead) and puts the host's value
// back before the connection returns to the pool. OpenSQLite configures its connections
// itself and skips these steps.
func New(db *bun.DB) *Store {
	s := &Store{db: db, reads: db, name: db.Dialect().Name(), retries: MaxRetries, busyTimeout: BusyTimeout, stmts: &stmts{}}
	if s.name == dialect.SQLite {
		s.writer = make(chan struct{}, 1)
		s.hostConn = true
	}
	return s
}

// SQLiteDSN returns the data source name of OpenSQLite's settings for
// path, for a host's own pool: WAL journal, a busy timeout of 10 s
// (BusyTimeout), foreign keys on, and, for the writer, BEGIN IMMEDIATE
// transactions, with the keys of whichever driver sqliteshim compiled in
// (modernc by default; mattn with -tags cgosqlite). The reader's DSN
// makes its connections query-only and keeps deferred transactions, so
// readers never queue behind writers.
//
// OpenSQLite's own connections differ in one setting: their busy timeout
// is 100 ms, because mattn/go-sqlite3 cannot end SQLite's own wait for a
// lock when the context ends (modernc.org/sqlite can), so the store waits
// for locks in Go instead (see Store.Update).
func SQLiteDSN(path string, writer bool) string {
	return sqliteDSN(path, writer, BusyTimeout)
}

func sqliteDSN(path string, writer bool, busyTimeout time.Duration) string {
	file := "file:" + strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(path)
	ms := busyTimeout.Milliseconds()
	var params []string
	if sqliteshim.DriverName() == "sqlite3" { // mattn/go-sqlite3
		params = []string{fmt.Sprintf("_busy_timeout=%d", ms), "_journal_mode=WAL", "_foreign_keys=on", "_synchronous=NORMAL"}
		if writer {
			params = append(params, "_txlock=immediate")
		} else {
			params = append(params, "_query_only=on")
		}
	} else { // modernc.org/sqlite
		params = []string{fmt.Sprintf("_pragma=busy_timeout(%d)", ms), "_pragma=journal_mode(WAL)", "_pragma=foreign_keys(1)", "_pragma=synchronous(NORMAL)"}
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
// path, for a host that keeps its own *sql.DB: SQLiteDSN's settings, plus
// the ones every new connection gets by statement (temp_store).
// OpenSQLite's own connections are the same but for a 100 ms busy
// timeout (see SQLiteDSN).
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
// processes, and migrates it. Close the Store when done. Processes that
// open a new file at the same moment race to switch it to WAL: OpenSQLite
// waits that out, within the context and BusyTimeout, and fails with an
// error wrapping partner.ErrBusy if the file stays locked.
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
		c := &sqliteConnector{dsn: sqliteDSN(path, writer, sqliteBusyTimeout)}
		return bun.NewDB(sql.OpenDB(c), sqlitedialect.New()), nil
	}
	w, err := open(true)
	if err != nil {
		return nil, err
	}
	// Check the settings took on a pooled connection, not just the first.
	// Processes that open a new file together race to switch it to WAL;
	// the losers' switch fails at once as busy, so wait that out.
	var mode string
	start := time.Now()
	for wait := time.Millisecond; ; wait = min(2*wait, 100*time.Millisecond) {
		err = w.NewRaw("PRAGMA journal_mode").Scan(ctx, &mode)
		if err == nil || !transient(err) || time.Since(start) > BusyTimeout || ctx.Err() != nil {
			break
		}
		if serr := sleep(ctx, wait); serr != nil {
			break
		}
	}
	if err != nil && transient(err) {
		err = fmt.Errorf("%w: %w", partner.ErrBusy, err)
	}
	if err := walCheck(path, mode, err); err != nil {
		w.Close()
		return nil, err
	}
	s := New(w)
	s.hostConn = false // its connections have foreign keys on and BEGIN IMMEDIATE
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
// to the store's own queries, reads and writes. The *bun.DB a host passed
// to New is left as it is: the store queries through a clone of it that
// carries the hook (bun's WithQueryHook). Call it before the store is in
// use; it is not safe to call concurrently with the store's work. A store
// with a hook runs its allocation path through bun too, instead of on
// prepared statements (see stmts.go), so that the hook sees every
// statement.
func (s *Store) AddQueryHook(h bun.QueryHook) {
	s.stmts.off.Store(true) // the hooks see every statement: bun's path only
	same := s.reads == s.db
	s.db = s.db.WithQueryHook(h)
	if same {
		s.reads = s.db
	} else {
		s.reads = s.reads.WithQueryHook(h)
	}
}

// DB returns the bun database the store writes through. On a store from
// OpenSQLite its connections have a 100 ms busy timeout (see SQLiteDSN):
// a write of your own through it fails with SQLITE_BUSY after 100 ms of
// contention, so run such writes in Update, or in a pool of your own from
// SQLiteConnector.
func (s *Store) DB() *bun.DB { return s.db }

// Close closes the store's prepared statements and the databases
// OpenSQLite opened; it leaves a database passed to New open.
func (s *Store) Close() error {
	errs := []error{s.stmts.close()}
	for _, db := range s.owned {
		errs = append(errs, db.Close())
	}
	return errors.Join(errs...)
}

// Migrate brings the schema up to date. It is idempotent and safe to call
// at every start, from several processes at once: they take turns on the
// migration lock, and a migration that met a busy database is run again.
func (s *Store) Migrate(ctx context.Context) error {
	defer s.fts.Store(ftsUnknown) // the search index may have come
	ms, err := s.migrations()
	if err != nil {
		return err
	}
	mg := migrate.NewMigrator(s.db, ms, migrate.WithTableName(MigrationTable),
		migrate.WithLocksTableName(MigrationLocksTable), migrate.WithMarkAppliedOnSuccess(true))
	deadline := time.Now().Add(time.Minute)
	for {
		again, err := s.migrateOnce(ctx, mg)
		if err == nil || !again || time.Now().After(deadline) {
			return err
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// migrations returns the store's migrations: the SQL files of its dialect
// and the Go ones.
func (s *Store) migrations() (*migrate.Migrations, error) {
	fsys, err := MigrationsFS(s.name)
	if err != nil {
		return nil, err
	}
	ms := migrate.NewMigrations()
	if err := ms.Discover(fsys); err != nil {
		return nil, fmt.Errorf("bunstore: discover migrations: %w", err)
	}
	s.registerRefoldNameKeys(ms)
	s.registerFoldCustomerNames(ms)
	s.registerSortNameKeys(ms)
	s.registerSearchIndex(ms)
	return ms, nil
}

// migrateOnce takes the migration lock, migrates and unlocks; again tells
// whether a failure is worth another try (another process holds the lock,
// or the database was busy).
func (s *Store) migrateOnce(ctx context.Context, mg *migrate.Migrator) (again bool, err error) {
	if err := mg.Init(ctx); err != nil {
		return true, fmt.Errorf("bunstore: migration lock: %w", err)
	}
	if err := mg.Lock(ctx); err != nil {
		return true, fmt.Errorf("bunstore: migration lock: %w", err)
	}
	_, err = mg.Migrate(ctx)
	// Unlock even when ctx ended, and through busy moments: a lock left
	// behind would stall every later Migrate.
	uctx := context.WithoutCancel(ctx)
	for start := time.Now(); ; {
		uerr := mg.Unlock(uctx)
		if uerr == nil || !transient(uerr) || time.Since(start) > BusyTimeout {
			if uerr != nil && err == nil {
				return false, fmt.Errorf("bunstore: migration unlock: %w", uerr)
			}
			break
		}
		_ = sleep(uctx, 10*time.Millisecond)
	}
	if err != nil {
		return transient(err), fmt.Errorf("bunstore: migrate: %w", err)
	}
	return false, nil
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

// Update implements partner.Store: fn runs in one write transaction,
// BEGIN IMMEDIATE on SQLite, READ COMMITTED with row locks on PostgreSQL.
//
// Waiting. On SQLite a write transaction first gets the database's write
// lock: it waits in Go for this store's other write transactions, then
// tries BEGIN IMMEDIATE, where SQLite waits for other connections and
// processes for its busy timeout (100 ms at most), and tries again after a short
// pause, until the lock comes, the context ends, or BusyTimeout has passed
// since Update began. A transaction that fails on a busy database (a
// COMMIT waiting for readers is tried again first), a serialization
// failure or a deadlock (PostgreSQL) runs again after a short randomized
// back-off, at most MaxRetries times, and not once BusyTimeout has passed.
//
// Errors when busy. When Update gives up because the database stayed
// locked or busy (BusyTimeout or MaxRetries ran out), its error wraps
// partner.ErrBusy and the last failure. When the context ends while
// Update is waiting for the write lock, between two runs, or during a run
// that follows a busy failure, its error wraps partner.ErrBusy, the
// context's error (context.DeadlineExceeded or context.Canceled) and the
// last failure. modernc.org/sqlite ends SQLite's own busy wait when the
// context ends; mattn/go-sqlite3 cannot, so with it the context's end is
// noticed when the current try's busy timeout is over: up to 100 ms late.
// When the context ends before any busy failure — before
// Update starts, or while fn runs, including a PostgreSQL statement
// waiting for a row lock, which the driver cancels — the error is the
// context's error or the driver's, without partner.ErrBusy. Nothing is
// committed in any of these cases.
//
// Failed statements. A Tx write that fails on a constraint the caller may
// handle (a taken name, a missing record, a CHECK) has no effect and
// leaves the transaction usable, as the Tx contract says: on PostgreSQL,
// where a failed statement aborts the whole transaction, the statements
// that can fail so run under a savepoint and a failure rolls back to it.
// If any other statement fails in a way that aborts the transaction (on
// PostgreSQL any failure; on SQLite one that is not a constraint's) and
// fn still returns nil, Update rolls back and returns an error wrapping
// that failure: it never reports success for a transaction it did not
// commit.
func (s *Store) Update(ctx context.Context, fn func(context.Context, partner.Tx) error) error {
	return s.write(ctx, func(ctx context.Context, db bun.IDB) error {
		t := &txn{reader: reader{db: db, s: s, write: true}}
		defer func() { t.done = true }()
		if err := fn(ctx, t); err != nil {
			return err
		}
		if t.failed != nil {
			return &abortedError{t.failed}
		}
		return nil
	})
}

// View implements partner.Store: a read-only transaction, so the reads of
// fn see one snapshot. A busy database is retried and reported as for
// Update, with no write lock to wait for: a read waits for SQLite's busy
// timeout (100 ms at most), and when the context ends during a read that
// was waiting before any busy failure had come back, the error is the
// context's alone.
func (s *Store) View(ctx context.Context, fn func(context.Context, partner.Reader) error) error {
	return s.view(ctx, fn)
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
	{[]string{"partnerkit_products_name_uniq", "partnerkit_products.name_key"}, partner.ErrDuplicate, "name", "is already taken by another product"},
	{[]string{"partnerkit_licenses_used_within_units"}, partner.ErrInsufficientUnits, "units", "would exceed the provisioned units"},
	{[]string{"partnerkit_bulk_runs_pkey", "partnerkit_bulk_runs.run_key"}, partner.ErrDuplicate, "key", "names a bulk run already"},
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
	case state == "23514" || strings.Contains(msg, "CHECK constraint failed"):
		return &partner.Error{Kind: partner.ErrInvalid, Reason: "the database refused a value (" + msg + ")", Err: err}
	}
	return err
}
