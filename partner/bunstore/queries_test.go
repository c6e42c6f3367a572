package bunstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/internal/dbtest"
	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/partner/bunstore"
	"github.com/partnerkit/partnerkit/serviceplan"
)

// queryCounter is a bun query hook counting the statements run.
type queryCounter struct{ n atomic.Int64 }

func (q *queryCounter) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	return ctx
}
func (q *queryCounter) AfterQuery(_ context.Context, _ *bun.QueryEvent) { q.n.Add(1) }

// populate makes n partners, the first a Reseller with n of everything:
// licences, customers, allocations, accounts, assigned plans and audit
// entries.
func populate(t *testing.T, s *bunstore.Store, n int) int64 {
	ctx := context.Background()
	now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	m := partner.NewManager(partner.Options{Store: s, Now: func() time.Time { return now }})
	for i := range 7 {
		_, err := m.CreateProduct(ctx, license.Product{Name: fmt.Sprint("Product ", i), UnitType: license.Seats})
		require.NoError(t, err)
	}
	p, err := m.Create(ctx, partner.CreateParams{Type: partner.Reseller,
		Profile: partner.Profile{CompanyName: "Big reseller", City: "Lyon", Country: "France"},
		Admin:   account.Params{Name: fmt.Sprintf("big%d.admin", n), FirstName: "B", LastName: "R", Email: "b@example.com"}})
	require.NoError(t, err)
	grants := make([]license.Grant, n)
	for i := range grants {
		grants[i] = license.Grant{Product: fmt.Sprint("Product ", i%7), UnitType: "seats", Units: 10, Kind: license.Full,
			Start: now.AddDate(0, -1, 0), Expiry: now.AddDate(1, 0, 0)}
	}
	lics, err := m.AssignLicenses(ctx, p.ID, partner.AssignLicensesParams{Grants: grants})
	require.NoError(t, err)
	err = m.RunInTx(ctx, func(ctx context.Context, m *partner.Manager) error {
		for i := range n {
			c, err := m.AddCustomer(ctx, p.ID, partner.CustomerParams{Name: fmt.Sprint("Customer ", i)})
			if err != nil {
				return err
			}
			if _, err := m.Allocate(ctx, p.ID, partner.AllocateParams{LicenseID: lics.Licenses[i].ID, CustomerID: c.ID, Units: 1}); err != nil {
				return err
			}
			if _, err := m.AddAccount(ctx, p.ID, account.Params{Name: fmt.Sprintf("user%d.%d", n, i), FirstName: "U",
				LastName: "U", Email: "u@example.com", Role: account.SupportEngineer}); err != nil {
				return err
			}
			plan, err := m.CreatePlan(ctx, serviceplan.Plan{Name: fmt.Sprintf("Plan %d", i), Enabled: true, Product: "P",
				Kind: serviceplan.Full, UnitType: "seats", DataCenter: serviceplan.EU, InitialPeriodMonths: 12})
			if err != nil {
				return err
			}
			if _, err := m.AssignPlan(ctx, p.ID, plan.ID); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, err)
	require.NoError(t, bunstore.SeedBulk(ctx, s, n-1, 1, now))
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = p.ID + int64(i)
	}
	require.NoError(t, s.Update(ctx, func(ctx context.Context, tx partner.Tx) error {
		return tx.CreateBulkRun(ctx, &partner.BulkRun{Key: "screen", StartedAt: now, Params: partner.BulkParams{Key: "screen",
			PartnerIDs: ids, Action: partner.BulkAction{Kind: partner.BulkSuspend}}}, ids)
	}))
	return p.ID
}

// TestConstantQueriesPerScreen counts the statements each screen's data
// takes for 10 and for 1,000 rows: the counts must be the same.
func TestConstantQueriesPerScreen(t *testing.T) {
	for name, open := range map[string]func(t testing.TB) *bunstore.Store{"sqlite": dbtest.SQLite, "postgres": dbtest.Postgres} {
		t.Run(name, func(t *testing.T) {
			counts := map[int]map[string]int64{}
			for _, n := range []int{10, 1000} {
				s := open(t)
				id := populate(t, s, n)
				qc := &queryCounter{}
				s.AddQueryHook(qc)
				// The seeded licences run a year from populate's clock: a window
				// of two years makes every one of them Expiring soon.
				m := partner.NewManager(partner.Options{Store: s, Now: func() time.Time { return time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC) },
					ExpiringWindow: 2 * 365 * 24 * time.Hour})
				ctx := context.Background()
				page := partner.Page{Limit: partner.MaxLimit}
				screens := map[string]func() (int, error){
					"partners list": func() (int, error) { ps, _, err := m.List(ctx, partner.Filter{Page: page}); return len(ps), err },
					"partners list by name": func() (int, error) {
						ps, _, err := m.List(ctx, partner.Filter{Sort: partner.SortName, Page: page})
						return len(ps), err
					},
					"partners list by usage, descending": func() (int, error) {
						ps, _, err := m.List(ctx, partner.Filter{Sort: partner.SortUsage, Desc: true, Page: page})
						return len(ps), err
					},
					"partners needing attention": func() (int, error) {
						ps, _, err := m.List(ctx, partner.Filter{Attention: partner.AttentionAny, Sort: partner.SortCustomers, Page: page})
						return len(ps), err
					},
					"partners export batch": func() (int, error) {
						n := 0
						for _, err := range m.ListAll(ctx, partner.Filter{Sort: partner.SortName}) {
							if err != nil {
								return n, err
							}
							if n++; n == min(partner.ExportBatch, 7) {
								break
							}
						}
						return n, nil
					},
					"banner":       func() (int, error) { p, err := m.Get(ctx, id); return p.Customers, err },
					"licenses tab": func() (int, error) { ls, _, err := m.Licenses(ctx, id, page); return len(ls), err },
					"pools":        func() (int, error) { ps, err := m.Pools(ctx, id); return len(ps), err },
					"plans tab":    func() (int, error) { ps, err := m.AssignedPlans(ctx, id); return len(ps), err },
					"catalogue":    func() (int, error) { ps, err := m.Plans(ctx); return len(ps), err },
					"accounts tab": func() (int, error) { as, _, err := m.Accounts(ctx, id, partner.Page{}); return len(as), err },
					"customers": func() (int, error) {
						cs, _, err := m.Customers(ctx, id, partner.CustomerFilter{Page: page})
						return len(cs), err
					},
					"allocations": func() (int, error) { as, err := m.Allocations(ctx, id); return len(as), err },
					"customer search": func() (int, error) {
						cs, _, err := m.Customers(ctx, id, partner.CustomerFilter{Name: "CUSTOMER", Page: page})
						return len(cs), err
					},
					"audit":             func() (int, error) { es, _, err := m.Audit(ctx, id, page); return len(es), err },
					"bulk run progress": func() (int, error) { r, err := m.BulkRun(ctx, "screen"); return r.Total, err },
					"bulk run partners": func() (int, error) {
						its, _, err := m.BulkItems(ctx, "screen", partner.BulkItemFilter{Page: page})
						return len(its), err
					},
					"audit log": func() (int, error) {
						es, _, err := m.AuditLog(ctx, partner.AuditFilter{Page: page})
						return len(es), err
					},
					"audit log of one action": func() (int, error) {
						es, _, err := m.AuditLog(ctx, partner.AuditFilter{Action: partner.OpAddCustomer, Page: page})
						return len(es), err
					},
					"cancel preview": func() (int, error) {
						im, err := m.CancelPreview(ctx, id)
						return len(im.Allocations), err
					},
				}
				counts[n] = map[string]int64{}
				for screen, load := range screens {
					before := qc.n.Load()
					rows, err := load()
					require.NoError(t, err, screen)
					require.GreaterOrEqual(t, rows, min(n, 7), "%s loaded rows", screen)
					counts[n][screen] = qc.n.Load() - before
				}
			}
			t.Logf("queries per screen: %v", counts[1000])
			require.Empty(t, cmp.Diff(counts[10], counts[1000]), "queries must not grow with rows")
		})
	}
}

// A query hook added to the store sees the store's queries and leaves the
// host's own *bun.DB without it.
func TestQueryHookStaysWithTheStore(t *testing.T) {
	ctx := context.Background()
	db := bun.NewDB(sql.OpenDB(bunstore.SQLiteConnector(dbtest.SQLitePath(t), true)), sqlitedialect.New())
	t.Cleanup(func() { db.Close() })
	s := bunstore.New(db)
	require.NoError(t, s.Migrate(ctx))
	qc := &queryCounter{}
	s.AddQueryHook(qc)
	_, _, err := partner.NewManager(partner.Options{Store: s}).List(ctx, partner.Filter{})
	require.NoError(t, err)
	require.Positive(t, qc.n.Load(), "the store's queries pass the hook")
	seen := qc.n.Load()
	var one int
	require.NoError(t, db.NewRaw("SELECT 1").Scan(ctx, &one))
	require.Equal(t, seen, qc.n.Load(), "the host's own queries do not")
}
