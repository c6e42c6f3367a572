package bunstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
	"github.com/uptrace/bun/driver/sqliteshim"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/internal/dbtest"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/partner/bunstore"
)

// searchStores are the stores the search index is checked on.
func searchStores(t *testing.T) map[string]func(t *testing.T) *bunstore.Store {
	out := map[string]func(t *testing.T) *bunstore.Store{
		"sqlite":      func(t *testing.T) *bunstore.Store { return dbtest.SQLite(t) },
		"sqlite-host": func(t *testing.T) *bunstore.Store { return dbtest.SQLiteHost(t) },
	}
	out["postgres"] = func(t *testing.T) *bunstore.Store { return dbtest.Postgres(t) }
	return out
}

// fts5Built reports whether the SQLite driver compiled in has FTS5:
// modernc.org/sqlite has it; mattn/go-sqlite3 (-tags cgosqlite) only with
// the sqlite_fts5 build tag.
func fts5Built(t *testing.T, s *bunstore.Store) bool {
	var n int
	err := s.DB().QueryRowContext(context.Background(), "SELECT count(*) FROM pragma_compile_options WHERE compile_options = 'ENABLE_FTS5'").Scan(&n)
	require.NoError(t, err)
	return n > 0
}

// TestSearchUsesTheIndex: Migrate creates the name search's index (the
// FTS5 trigram table on SQLite when the driver has FTS5, the pg_trgm GIN
// index on PostgreSQL), the search's statement uses it for a query of 3
// characters or more, keeps it in step with renames, and scans for a
// shorter query, with the same answers.
func TestSearchUsesTheIndex(t *testing.T) {
	ctx := context.Background()
	for name, open := range searchStores(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			db := s.DB()
			indexed := true
			if db.Dialect().Name() == dialect.SQLite {
				indexed = fts5Built(t, s)
				t.Logf("driver %s, FTS5 built in: %v", sqliteshim.DriverName(), indexed)
			}
			has, err := bunstore.CreateSearchIndex(ctx, db) // idempotent: Migrate made it already
			require.NoError(t, err)
			require.Equal(t, indexed, has)

			m := partner.NewManager(partner.Options{Store: s})
			for i := range 40 {
				_, err := m.Create(ctx, partner.CreateParams{Type: partner.MSP, Profile: partner.Profile{CompanyName: fmt.Sprintf("Star Systems %02d", i), City: "Lyon", Country: "France"},
					Admin: adminParams(fmt.Sprintf("star%02d.admin", i))})
				require.NoError(t, err)
			}
			ps, total, err := m.List(ctx, partner.Filter{Name: "STAR SYSTEMS 1"})
			require.NoError(t, err)
			require.Equal(t, 10, total)
			require.Len(t, ps, 10)
			p, err := m.UpdateProfile(ctx, ps[0].ID, partner.ProfilePatch{CompanyName: ptr("Moon Works")})
			require.NoError(t, err)
			_, total, err = m.List(ctx, partner.Filter{Name: "star systems 1"})
			require.NoError(t, err)
			require.Equal(t, 9, total, "the renamed partner left the index")
			got, total, err := m.List(ctx, partner.Filter{Name: "moon"})
			require.NoError(t, err)
			require.Equal(t, 1, total)
			require.Equal(t, p.ID, got[0].ID)
			_, total, err = m.List(ctx, partner.Filter{Name: "1"}) // one character: the scan
			require.NoError(t, err)
			require.Equal(t, 12, total) // 01, 11–19, 21, 31: 10 is the Moon now

			plan := explainSearch(t, s, "star")
			t.Logf("plan: %s", plan)
			switch {
			case !indexed:
				require.NotContains(t, plan, "fts")
			case db.Dialect().Name() == dialect.SQLite:
				require.Contains(t, plan, "partnerkit_partners_fts VIRTUAL TABLE INDEX")
			default:
				require.Contains(t, plan, "partnerkit_partners_company_trgm")
			}
		})
	}
}

// explainSearch returns the plan of the search's count for query q, as
// the store runs it (read back through a query hook), with sequential
// scans discouraged on PostgreSQL, whose planner scans a small table.
func explainSearch(t *testing.T, s *bunstore.Store, q string) string {
	ctx := context.Background()
	var stmt string
	hook := &lastQuery{match: "count(*)"}
	s.AddQueryHook(hook)
	_, _, err := partner.NewManager(partner.Options{Store: s}).List(ctx, partner.Filter{Name: q, Page: partner.Page{Limit: 1}})
	require.NoError(t, err)
	stmt = hook.last
	require.NotEmpty(t, stmt)
	db := s.DB()
	if db.Dialect().Name() == dialect.SQLite {
		rows, err := db.QueryContext(ctx, "EXPLAIN QUERY PLAN "+stmt)
		require.NoError(t, err)
		defer rows.Close()
		var out []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			require.NoError(t, rows.Scan(&id, &parent, &notused, &detail))
			out = append(out, detail)
		}
		require.NoError(t, rows.Err())
		return strings.Join(out, "; ")
	}
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, "SET enable_seqscan = off")
	require.NoError(t, err)
	rows, err := conn.QueryContext(ctx, "EXPLAIN "+stmt)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var line string
		require.NoError(t, rows.Scan(&line))
		out = append(out, strings.TrimSpace(line))
	}
	require.NoError(t, rows.Err())
	_, err = conn.ExecContext(ctx, "RESET enable_seqscan")
	require.NoError(t, err)
	return strings.Join(out, "; ")
}

// lastQuery keeps the last statement containing match.
type lastQuery struct {
	match string
	last  string
}

func (h *lastQuery) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }
func (h *lastQuery) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	if strings.Contains(e.Query, h.match) {
		h.last = e.Query
	}
}

func adminParams(name string) account.Params {
	return account.Params{Name: name, FirstName: "Ada", LastName: "Admin", Email: name + "@example.com"}
}

func ptr[T any](v T) *T { return &v }

// searchQuery is the benchmark's query: ten of SeedBulk's names
// ("Partner 042170" to "Partner 042179"; "Partner 001700" to "Partner
// 001709" in the short pass) contain it, letter case aside.
func searchQuery() string {
	if testing.Short() {
		return "R 00170"
	}
	return "R 04217"
}

// scanSQL is the raw unindexed search a partners page made before the
// index: the page's rows with their derived figures, then the total, both
// matching the folded name by a substring scan (the concatenation keeps
// PostgreSQL's planner off the trigram index).
const scanSQL = `SELECT p.id, p.type, p.status, p.company_name, p.company_key, p.city, p.state, p.country, p.contacts,
	p.sign_in_url, p.pool_refill, p.minimum_licenses, p.remote_manager, p.version, p.created_at, p.updated_at, p.canceled_at,
	(SELECT count(*) FROM partnerkit_customers AS c WHERE c.partner_id = p.id) AS customers,
	(SELECT coalesce(sum(l.units), 0) FROM partnerkit_licenses AS l WHERE l.partner_id = p.id) AS units_provisioned,
	(SELECT coalesce(sum(l.used), 0) FROM partnerkit_licenses AS l WHERE l.partner_id = p.id) AS units_used
	FROM partnerkit_partners AS p
	WHERE p.id IN (SELECT id FROM partnerkit_partners WHERE company_key || '' LIKE ? ORDER BY id LIMIT 50) ORDER BY p.id`

const scanCountSQL = `SELECT count(*) FROM partnerkit_partners AS p WHERE p.company_key || '' LIKE ?`

// BenchmarkSearchPartners searches the names of 100,000 partners (with
// 1,000,000 licences, as BenchmarkListPartners; 2,000 partners with
// -short): scan is the raw substring scan, manager is Manager.List with Filter{Name}, through the
// index; manager reports x-scan, its throughput as a multiple of scan's
// (target ≥ 10).
func BenchmarkSearchPartners(b *testing.B) {
	ctx := context.Background()
	for name, open := range benchBackends(b) {
		s := seededStore(b, name, open)
		// The planner's statistics, as a database that has run a while
		// has them (autovacuum on PostgreSQL).
		if _, err := s.DB().ExecContext(ctx, "ANALYZE"); err != nil {
			b.Fatal(err)
		}
		m := partner.NewManager(partner.Options{Store: s})
		var scanNs float64
		b.Run(name+"/scan", func(b *testing.B) {
			for b.Loop() {
				var rows []rawPartner
				if err := s.DB().NewRaw(scanSQL, "%"+partner.FoldName(searchQuery())+"%").Scan(ctx, &rows); err != nil || len(rows) != 10 {
					b.Fatal(err, len(rows))
				}
				var n int
				if err := s.DB().NewRaw(scanCountSQL, "%"+partner.FoldName(searchQuery())+"%").Scan(ctx, &n); err != nil || n != 10 {
					b.Fatal(err, n)
				}
			}
			scanNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		})
		b.Run(name+"/manager", func(b *testing.B) {
			for b.Loop() {
				ps, total, err := m.List(ctx, partner.Filter{Name: searchQuery(), Page: partner.Page{Limit: 50}})
				if err != nil || len(ps) != 10 || total != 10 {
					b.Fatal(err, len(ps), total)
				}
			}
			if ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N); scanNs > 0 {
				b.ReportMetric(scanNs/ns, "x-scan")
			}
		})
	}
}

// TestSearchIndexCoversPartnersMadeBefore: CreateSearchIndex, run on a
// database whose partners were written before the index existed (a host
// upgrading, or one running the SQL migrations itself), indexes them.
func TestSearchIndexCoversPartnersMadeBefore(t *testing.T) {
	ctx := context.Background()
	s := dbtest.SQLite(t)
	if !fts5Built(t, s) {
		t.Skip("the SQLite driver compiled in has no FTS5: the search scans (TestSearchUsesTheIndex)")
	}
	db := s.DB()
	for _, stmt := range []string{"DROP TRIGGER partnerkit_partners_fts_ai", "DROP TRIGGER partnerkit_partners_fts_ad",
		"DROP TRIGGER partnerkit_partners_fts_au", "DROP TABLE partnerkit_partners_fts"} {
		_, err := db.ExecContext(ctx, stmt)
		require.NoError(t, err)
	}
	m := partner.NewManager(partner.Options{Store: s})
	for i := range 5 {
		_, err := m.Create(ctx, partner.CreateParams{Type: partner.MSP, Profile: partner.Profile{CompanyName: fmt.Sprintf("Früh Partner %d", i),
			City: "Lyon", Country: "France"}, Admin: adminParams(fmt.Sprintf("early%d.admin", i))})
		require.NoError(t, err)
	}
	has, err := bunstore.CreateSearchIndex(ctx, db)
	require.NoError(t, err)
	require.True(t, has)
	// A new Store on the database looks the index up afresh.
	m = partner.NewManager(partner.Options{Store: bunstore.New(db)})
	_, total, err := m.List(ctx, partner.Filter{Name: "FRÜH PARTNER"})
	require.NoError(t, err)
	require.Equal(t, 5, total)
	var n int
	require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM partnerkit_partners_fts WHERE partnerkit_partners_fts MATCH '\"früh\"'").Scan(&n))
	require.Equal(t, 5, n, "the index holds the partners made before it")
}
