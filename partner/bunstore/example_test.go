package bunstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/internal/dbtest"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/partner/bunstore"
)

func exampleClock() time.Time { return time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC) }

// newAcme is the partner the examples create.
var newAcme = partner.CreateParams{
	Type:    partner.MSP,
	Profile: partner.Profile{CompanyName: "Acme Managed IT", City: "Lyon", Country: "France"},
	Admin:   account.Params{Name: "acme.admin", FirstName: "Ada", LastName: "Martin", Email: "ada@acme.example"},
}

// The embedded default: OpenSQLite creates and migrates the file, and a
// Manager works through it. What it writes is in the file, for the next
// store that opens it — in this process or another.
func ExampleOpenSQLite() {
	dir, err := os.MkdirTemp("", "partners-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "partners.db")
	ctx := partner.WithActor(context.Background(), "ops@vendor.example")

	s, err := bunstore.OpenSQLite(ctx, path) // WAL, foreign keys, BEGIN IMMEDIATE; migrated
	if err != nil {
		fmt.Println(err)
		return
	}
	m := partner.NewManager(partner.Options{Store: s, Now: exampleClock})
	p, err := m.Create(ctx, newAcme)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("created:", p.ID, p.Profile.CompanyName, p.Type.Label(), p.Status.Label())
	if err := s.Close(); err != nil {
		fmt.Println(err)
		return
	}

	s, err = bunstore.OpenSQLite(ctx, path) // the file is migrated already: nothing to do
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	m = partner.NewManager(partner.Options{Store: s, Now: exampleClock})
	ps, total, err := m.List(ctx, partner.Filter{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("reopened:", total, "partner:", ps[0].Profile.CompanyName)
	entries, _, err := m.Audit(ctx, p.ID, partner.Page{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range entries {
		fmt.Println("audit:", e.Action, "by", e.Actor, "at", e.At.Format(time.DateTime))
	}
	// Output:
	// created: 1 Acme Managed IT MSP Active
	// reopened: 1 partner: Acme Managed IT
	// audit: create_partner by ops@vendor.example at 2026-05-04 10:00:00
}

// A host that keeps its own *bun.DB passes it to New and migrates it; the
// store keeps the host's settings and leaves the handle open. Here the
// handle is on SQLite, through SQLiteConnector, which turns foreign keys
// on (the store refuses a SQLite connection without them) with the keys
// of whichever driver is compiled in. ExampleNew_postgreSQL does the same
// on PostgreSQL.
func ExampleNew() {
	dir, err := os.MkdirTemp("", "partners-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	ctx := partner.WithActor(context.Background(), "ops@vendor.example")

	db := bun.NewDB(sql.OpenDB(bunstore.SQLiteConnector(filepath.Join(dir, "host.db"), true)), sqlitedialect.New())
	defer db.Close() // the host's: the store never closes it
	s := bunstore.New(db)
	if err := s.Migrate(ctx); err != nil { // idempotent: safe at every start
		fmt.Println(err)
		return
	}
	m := partner.NewManager(partner.Options{Store: s, Now: exampleClock})
	p, err := m.Create(ctx, newAcme)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("created:", p.ID, p.Profile.CompanyName)

	// The schema sits beside the host's own tables, every name prefixed.
	// (The name search's FTS5 tables, partnerkit_partners_fts and its
	// own, exist when the driver has FTS5: see CreateSearchIndex.)
	var tables []string
	err = db.NewSelect().Column("name").Table("sqlite_master").
		Where("type = 'table' AND name LIKE 'partnerkit%' AND name NOT LIKE 'partnerkit_partners_fts%'").OrderExpr("name").Scan(ctx, &tables)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tables)
	// Output:
	// created: 1 Acme Managed IT
	// [partnerkit_accounts partnerkit_allocations partnerkit_audit partnerkit_bulk_items partnerkit_bulk_runs partnerkit_bun_migration_locks partnerkit_bun_migrations partnerkit_customers partnerkit_license_notices partnerkit_licenses partnerkit_outbox partnerkit_partners partnerkit_plan_assignments partnerkit_plans partnerkit_pool_settings partnerkit_pool_totals partnerkit_products partnerkit_runs]
}

// On PostgreSQL the store goes into the host's own bun database, shared by
// every process of the host; Migrate is safe when they all start at once.
//
// This example has no Output comment, so go test compiles it but does not
// run it: it needs a PostgreSQL server, whose DSN it reads from
// DATABASE_URL as a host might. TestExampleNewPostgreSQL runs it on the
// server of PARTNERS_TEST_POSTGRES_DSN, in a schema of its own, and checks
// what it prints: "created: 1 Acme Managed IT".
func ExampleNew_postgreSQL() {
	ctx := partner.WithActor(context.Background(), "ops@vendor.example")
	dsn := os.Getenv("DATABASE_URL") // postgres://user:password@host:5432/db?sslmode=verify-full

	db := bun.NewDB(sql.OpenDB(pgdriver.NewConnector(pgdriver.WithDSN(dsn))), pgdialect.New())
	defer db.Close() // the host's: the store never closes it
	s := bunstore.New(db)
	if err := s.Migrate(ctx); err != nil { // idempotent: safe at every start, from every process
		fmt.Println(err)
		return
	}
	m := partner.NewManager(partner.Options{Store: s, Now: exampleClock})
	p, err := m.Create(ctx, newAcme)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("created:", p.ID, p.Profile.CompanyName)
}

// TestExampleNewPostgreSQL runs ExampleNew_postgreSQL, which go test only
// compiles, on the PostgreSQL server of PARTNERS_TEST_POSTGRES_DSN, in a
// fresh schema (the DSN's search_path, which pgdriver passes to the
// server), and checks what it prints.
func TestExampleNewPostgreSQL(t *testing.T) {
	schema := dbtest.PostgresSchema(t) // skips without the DSN, fails if the server is unreachable
	u, err := url.Parse(dbtest.PostgresDSN(t))
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	t.Setenv("DATABASE_URL", u.String())
	require.Equal(t, "created: 1 Acme Managed IT\n", stdoutOf(t, ExampleNew_postgreSQL))
}

// stdoutOf returns what f prints on standard output.
func stdoutOf(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	out := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(r)
		out <- string(b)
	}()
	stdout := os.Stdout
	os.Stdout = w
	defer func() { os.Stdout = stdout }()
	f()
	os.Stdout = stdout
	require.NoError(t, w.Close())
	return <-out
}
