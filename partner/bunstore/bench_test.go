package bunstore_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/internal/dbtest"
	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/partner/bunstore"
)

// benchBackends lists the databases a benchmark runs on: SQLite always,
// PostgreSQL when PARTNERS_TEST_POSTGRES_DSN is set.
func benchBackends(b *testing.B) map[string]func(b *testing.B) *bunstore.Store {
	out := map[string]func(b *testing.B) *bunstore.Store{"sqlite": func(b *testing.B) *bunstore.Store {
		path := dbtest.SQLitePath(b)
		s, err := bunstore.OpenSQLite(context.Background(), path)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		rawPaths.Store(s, path)
		return s
	}}
	if os.Getenv(dbtest.PostgresEnv) != "" {
		out["postgres"] = func(b *testing.B) *bunstore.Store { return dbtest.Postgres(b) }
	}
	return out
}

// rawPaths maps a benchmark's SQLite store to its file.
var rawPaths sync.Map

var benchNow = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

// assignFixture is a partner with a large licence and one customer.
type assignFixture struct {
	m        *partner.Manager
	quiet    *partner.Manager // the same store, with Options.DisableOutbox
	db       *bun.DB
	partner  int64
	customer int64
	license  int64 // for the Manager
	rawLic   int64 // for the raw baseline
	audLic   int64 // for the raw-audited baseline
	pg       bool
}

func newAssignFixture(b *testing.B, s *bunstore.Store) assignFixture {
	ctx := context.Background()
	m := partner.NewManager(partner.Options{Store: s, Now: func() time.Time { return benchNow }})
	if _, err := m.CreateProduct(ctx, license.Product{Name: "Endpoint Security", UnitType: license.Seats}); err != nil &&
		!errors.Is(err, partner.ErrDuplicate) { // a store shared by several fixtures has it already
		b.Fatal(err)
	}
	p, err := m.Create(ctx, partner.CreateParams{Type: partner.MSP,
		Profile: partner.Profile{CompanyName: "Bench", City: "Lyon", Country: "France"},
		Admin:   account.Params{Name: fmt.Sprintf("bench%d", time.Now().UnixNano()), FirstName: "B", LastName: "B", Email: "b@example.com"}})
	if err != nil {
		b.Fatal(err)
	}
	g := license.Grant{Product: "Endpoint Security", UnitType: "seats", Units: license.MaxUnits, Kind: license.Full,
		Start: benchNow.AddDate(0, -1, 0), Expiry: benchNow.AddDate(1, 0, 0)}
	ls, err := m.AssignLicenses(ctx, p.ID, partner.AssignLicensesParams{Grants: []license.Grant{g, g, g}})
	if err != nil {
		b.Fatal(err)
	}
	c, err := m.AddCustomer(ctx, p.ID, partner.CustomerParams{Name: "Customer"})
	if err != nil {
		b.Fatal(err)
	}
	// The raw baseline writes through a pool of its own, as a host writing
	// with bun would: on SQLite one from SQLiteConnector (the store's own
	// connections wait only 100 ms inside SQLite; see bunstore.DB).
	db := s.DB()
	if path, ok := rawPaths.Load(s); ok {
		db = bun.NewDB(sql.OpenDB(bunstore.SQLiteConnector(path.(string), true)), sqlitedialect.New())
		b.Cleanup(func() { db.Close() })
	}
	quiet := partner.NewManager(partner.Options{Store: s, Now: func() time.Time { return benchNow }, DisableOutbox: true})
	return assignFixture{m: m, quiet: quiet, db: db, partner: p.ID, customer: c.ID, license: ls.Licenses[0].ID, rawLic: ls.Licenses[1].ID,
		audLic: ls.Licenses[2].ID, pg: s.DB().Dialect().Name() == dialect.PG}
}

// raw is the hand-written floor: the same conditional UPDATE plus INSERT
// in one RunInTx with bun, nothing else.
func (f assignFixture) raw(ctx context.Context) error {
	return f.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewRaw("UPDATE partnerkit_licenses SET used = used + 1 WHERE id = ? AND used + 1 <= units", f.rawLic).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return partner.ErrInsufficientUnits
		}
		_, err = tx.NewRaw("INSERT INTO partnerkit_allocations (license_id, partner_id, customer_id, units, created_at) VALUES (?, ?, ?, 1, ?)",
			f.rawLic, f.partner, f.customer, benchNow).Exec(ctx)
		return err
	})
}

// rawAllocation and rawAudit are the rows raw-audited writes, as a bun
// program declares them.
type rawAllocation struct {
	bun.BaseModel `bun:"table:partnerkit_allocations"`
	ID            int64     `bun:"id,pk,autoincrement"`
	LicenseID     int64     `bun:"license_id"`
	PartnerID     int64     `bun:"partner_id"`
	CustomerID    int64     `bun:"customer_id"`
	Units         int64     `bun:"units"`
	CreatedAt     time.Time `bun:"created_at"`
}

type rawAudit struct {
	bun.BaseModel `bun:"table:partnerkit_audit"`
	ID            int64     `bun:"id,pk,autoincrement"`
	PartnerID     int64     `bun:"partner_id"`
	Actor         string    `bun:"actor"`
	Action        string    `bun:"action"`
	Target        string    `bun:"target"`
	Changes       string    `bun:"changes"`
	At            time.Time `bun:"at"`
}

// rawAudited is the second floor: what a careful program written with
// bun's query builder needs for an allocation it checks and records.
// In one RunInTx: the partner's status and type read, locked FOR UPDATE
// on PostgreSQL (SQLite's BEGIN IMMEDIATE already holds the write lock),
// and checked against the guard table; the conditional UPDATE; the
// allocation's INSERT; the audit INSERT, naming the allocation by the id
// the INSERT returned (RETURNING on PostgreSQL, the driver's last insert
// id on SQLite, where RETURNING takes the driver's slower query path),
// with its changes as JSON. It reads nothing else: no check of the
// licence's dates or owner, no used units before and after, no outbox.
func (f assignFixture) rawAudited(ctx context.Context) error {
	return f.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var status, typ string
		q := tx.NewSelect().Table("partnerkit_partners").Column("status", "type").Where("id = ?", f.partner)
		if f.pg {
			q = q.For("UPDATE")
		}
		if err := q.Scan(ctx, &status, &typ); err != nil {
			return err
		}
		if err := partner.Check(partner.Status(status), partner.Type(typ), partner.OpAllocateUnits); err != nil {
			return err
		}
		res, err := tx.NewRaw("UPDATE partnerkit_licenses SET used = used + 1 WHERE id = ? AND used + 1 <= units", f.audLic).Exec(ctx)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return partner.ErrInsufficientUnits
		}
		a := rawAllocation{LicenseID: f.audLic, PartnerID: f.partner, CustomerID: f.customer, Units: 1, CreatedAt: benchNow}
		if a.ID, err = insertID(ctx, tx, &a, f.pg); err != nil {
			return err
		}
		changes, err := json.Marshal([]partner.Change{
			{Field: "license_id", Label: "Licence", After: strconv.FormatInt(a.LicenseID, 10), AfterValue: json.RawMessage(strconv.FormatInt(a.LicenseID, 10))},
			{Field: "customer_id", Label: "Customer", After: strconv.FormatInt(a.CustomerID, 10), AfterValue: json.RawMessage(strconv.FormatInt(a.CustomerID, 10))},
			{Field: "units", Label: "Units", After: "1", AfterValue: json.RawMessage("1")},
		})
		if err != nil {
			return err
		}
		_, err = insertID(ctx, tx, &rawAudit{PartnerID: f.partner, Actor: partner.SystemActor, Action: string(partner.OpAllocateUnits),
			Target: fmt.Sprintf("allocation %d", a.ID), Changes: string(changes), At: benchNow}, f.pg)
		return err
	})
}

// insertID inserts model with bun and returns its new id.
func insertID(ctx context.Context, tx bun.Tx, model any, pg bool) (int64, error) {
	if pg {
		var id int64
		_, err := tx.NewInsert().Model(model).Returning("id").Exec(ctx, &id)
		return id, err
	}
	res, err := tx.NewInsert().Model(model).Returning("NULL").Exec(ctx)
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

func (f assignFixture) manager(ctx context.Context) error {
	_, err := f.m.Allocate(ctx, f.partner, partner.AllocateParams{LicenseID: f.license, CustomerID: f.customer, Units: 1})
	return err
}

// managerNoOutbox is manager without the event's outbox row
// (Options.DisableOutbox), to measure what the outbox costs.
func (f assignFixture) managerNoOutbox(ctx context.Context) error {
	_, err := f.quiet.Allocate(ctx, f.partner, partner.AllocateParams{LicenseID: f.license, CustomerID: f.customer, Units: 1})
	return err
}

// nsPerOp records the last measured ns/op of each sub-benchmark so the
// parent can log the ratio measured in the same run.
var nsPerOp sync.Map

// record keeps the ns/op of a raw run; a manager run reports its
// throughput as a multiple of the raw run's, measured in the same process
// moments before ("x-raw": 1.00 is as fast as raw, 0.50 half as fast).
// A raw-audited run is kept too, and reports its own x-raw; a manager run
// after it reports x-raw-audited the same way.
func record(b *testing.B) {
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	name := b.Name()
	if i := strings.LastIndex(name, "-"); i > strings.LastIndex(name, "/") {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			name = name[:i] // drop a -GOMAXPROCS suffix
		}
	}
	parent, kind := name[:strings.LastIndex(name, "/")], name[strings.LastIndex(name, "/")+1:]
	if kind == "raw" {
		nsPerOp.Store(parent, ns)
		return
	}
	if raw, ok := nsPerOp.Load(parent); ok {
		b.ReportMetric(raw.(float64)/ns, "x-raw")
	}
	if kind == "raw-audited" {
		nsPerOp.Store(parent+"/raw-audited", ns)
		return
	}
	if audited, ok := nsPerOp.Load(parent + "/raw-audited"); ok {
		b.ReportMetric(audited.(float64)/ns, "x-raw-audited")
	}
}

// cpuPerOp records the last measured CPU time per operation of each
// Assign sub-benchmark, as recordCPU's ratios need.
var cpuPerOp sync.Map

// recordCPU reports the process's CPU time per operation since cpu0
// ("cpu-us/op": user and system time of every goroutine, the database's
// work included on SQLite, not the PostgreSQL server's), which the load
// of other processes on a shared machine moves far less than the elapsed
// time. A manager run also reports raw-audited's CPU time per operation
// as a multiple of its own ("cpu-x-raw-audited": above 1.00, it used less
// CPU than that floor); so does manager-no-outbox.
func recordCPU(b *testing.B, cpu0 time.Duration) {
	cpu1, ok := processCPU()
	if !ok || b.N == 0 {
		return
	}
	per := float64(cpu1-cpu0) / float64(b.N)
	b.ReportMetric(per/1e3, "cpu-us/op")
	name := b.Name()
	parent, kind := name[:strings.LastIndex(name, "/")], name[strings.LastIndex(name, "/")+1:]
	if !strings.HasPrefix(kind, "manager") {
		cpuPerOp.Store(parent+"/"+kind, per)
		return
	}
	if audited, ok := cpuPerOp.Load(parent + "/raw-audited"); ok {
		b.ReportMetric(audited.(float64)/per, "cpu-x-raw-audited")
	}
}

// assignKinds are the runs of BenchmarkAssign and BenchmarkAssignParallel,
// in order: both floors before the Manager, then the Manager without the
// outbox (Options.DisableOutbox), which shows what the outbox row costs.
var assignKinds = []string{"raw", "raw-audited", "manager", "manager-no-outbox"}

func (f assignFixture) run(kind string) func(context.Context) error {
	switch kind {
	case "raw":
		return f.raw
	case "raw-audited":
		return f.rawAudited
	case "manager-no-outbox":
		return f.managerNoOutbox
	}
	return f.manager
}

func BenchmarkAssign(b *testing.B) {
	ctx := context.Background()
	for name, open := range benchBackends(b) {
		f := newAssignFixture(b, open(b))
		for _, kind := range assignKinds {
			run := f.run(kind)
			b.Run(name+"/"+kind, func(b *testing.B) {
				cpu0, _ := processCPU()
				for b.Loop() {
					if err := run(ctx); err != nil {
						b.Fatal(err)
					}
				}
				record(b)
				recordCPU(b, cpu0)
			})
		}
	}
}

// BenchmarkAssignParallel runs 16 goroutines at once (b.SetParallelism
// scales GOMAXPROCS up to 16).
func BenchmarkAssignParallel(b *testing.B) {
	ctx := context.Background()
	for name, open := range benchBackends(b) {
		f := newAssignFixture(b, open(b))
		for _, kind := range assignKinds {
			run := f.run(kind)
			b.Run(name+"/"+kind, func(b *testing.B) {
				b.SetParallelism((16 + gomaxprocs() - 1) / gomaxprocs())
				cpu0, _ := processCPU()
				var failed atomic.Value
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := run(ctx); err != nil {
							failed.Store(err)
						}
					}
				})
				if err, _ := failed.Load().(error); err != nil {
					b.Fatal(err)
				}
				record(b)
				recordCPU(b, cpu0)
			})
		}
	}
}

// listSeeded caches one seeded database per backend for the benchmark
// that seeded it (its sub-benchmarks share it).
var listSeeded sync.Map

const seedLicenses = 10 // per partner: 1,000,000 in all at full size

// seedPartners is how many partners the list and search benchmarks seed:
// 100,000, or 2,000 with -short, the size of the short pass CI runs so
// that the benchmarks never rot (the figures in BENCHMARKS.md are of the
// full size).
func seedPartners() int {
	if testing.Short() {
		return 2_000
	}
	return 100_000
}

// listOffset is the offset of the page BenchmarkListPartners reads: page
// 101 at full size, page 11 in the short pass.
func listOffset() int {
	if testing.Short() {
		return 500
	}
	return 5000
}

func seededStore(b *testing.B, name string, open func(b *testing.B) *bunstore.Store) *bunstore.Store {
	if s, ok := listSeeded.Load(name); ok {
		return s.(*bunstore.Store)
	}
	s := open(b)
	start := time.Now()
	if err := bunstore.SeedBulk(context.Background(), s, seedPartners(), seedLicenses, benchNow); err != nil {
		b.Fatal(err)
	}
	b.Logf("%s: seeded %d partners and %d licences in %s", name, seedPartners(), seedPartners()*seedLicenses, time.Since(start).Round(time.Millisecond))
	listSeeded.Store(name, s)
	// The store closes with the benchmark that opened it: the next
	// benchmark seeds its own.
	b.Cleanup(func() { listSeeded.Delete(name) })
	return s
}

// listSQL is the raw SELECT a partners page needs: the rows with their
// derived figures, then the total.
const listSQL = `SELECT p.*,
	(SELECT count(*) FROM partnerkit_customers AS c WHERE c.partner_id = p.id) AS customers,
	(SELECT coalesce(sum(l.units), 0) FROM partnerkit_licenses AS l WHERE l.partner_id = p.id) AS units_provisioned,
	(SELECT coalesce(sum(l.used), 0) FROM partnerkit_licenses AS l WHERE l.partner_id = p.id) AS units_used
	FROM partnerkit_partners AS p
	WHERE p.id IN (SELECT id FROM partnerkit_partners WHERE status = ? ORDER BY id LIMIT 50 OFFSET ?) ORDER BY p.id`

const countSQL = `SELECT count(*) FROM partnerkit_partners AS p WHERE p.status = ?`

// rawPartner is every column the page shows, scanned by bun into a
// struct, as hand-written code would.
type rawPartner struct {
	ID               int64     `bun:"id"`
	Type             string    `bun:"type"`
	Status           string    `bun:"status"`
	CompanyName      string    `bun:"company_name"`
	CompanyKey       string    `bun:"company_key"`
	NameSort         string    `bun:"name_sort"`
	City             string    `bun:"city"`
	State            string    `bun:"state"`
	Country          string    `bun:"country"`
	Contacts         string    `bun:"contacts"`
	SignInURL        string    `bun:"sign_in_url"`
	PoolRefill       bool      `bun:"pool_refill"`
	MinimumLicenses  int64     `bun:"minimum_licenses"`
	RemoteManager    string    `bun:"remote_manager"`
	Version          int64     `bun:"version"`
	CreatedAt        time.Time `bun:"created_at"`
	UpdatedAt        time.Time `bun:"updated_at"`
	CanceledAt       time.Time `bun:"canceled_at,nullzero"`
	Customers        int       `bun:"customers"`
	UnitsProvisioned int64     `bun:"units_provisioned"`
	UnitsUsed        int64     `bun:"units_used"`
}

// BenchmarkListPartners lists page 101 (50 rows) of the Active partners of
// a database seeded with 100,000 partners and 1,000,000 licences (page 11
// of 2,000 partners with -short).
func BenchmarkListPartners(b *testing.B) {
	ctx := context.Background()
	for name, open := range benchBackends(b) {
		s := seededStore(b, name, open)
		m := partner.NewManager(partner.Options{Store: s})
		b.Run(name+"/raw", func(b *testing.B) {
			for b.Loop() {
				var rows []rawPartner
				if err := s.DB().NewRaw(listSQL, "active", listOffset()).Scan(ctx, &rows); err != nil || len(rows) != 50 {
					b.Fatal(err, len(rows))
				}
				var n int
				if err := s.DB().NewRaw(countSQL, "active").Scan(ctx, &n); err != nil || n == 0 {
					b.Fatal(err)
				}
			}
			record(b)
		})
		b.Run(name+"/manager", func(b *testing.B) {
			for b.Loop() {
				ps, total, err := m.List(ctx, partner.Filter{Status: partner.Active, Page: partner.Page{Offset: listOffset(), Limit: 50}})
				if err != nil || len(ps) != 50 || total == 0 {
					b.Fatal(err, len(ps))
				}
			}
			record(b)
		})
	}
}
