package bunstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/internal/dbtest"
	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/partner/bunstore"
)

// allocEnv is a partner with a licence of 100 seats and a customer.
type allocEnv struct {
	m        *partner.Manager
	p        partner.Partner
	lic      license.License
	customer partner.Customer
}

func newAllocEnv(t *testing.T, s *bunstore.Store) allocEnv {
	ctx := context.Background()
	m := partner.NewManager(partner.Options{Store: s, Now: func() time.Time { return benchNow }})
	_, err := m.CreateProduct(ctx, license.Product{Name: "Endpoint Security", UnitType: license.Seats})
	require.NoError(t, err)
	p, err := m.Create(ctx, partner.CreateParams{Type: partner.MSP, Profile: partner.Profile{CompanyName: "Acme", City: "Lyon", Country: "France"},
		Admin: account.Params{Name: "acme", FirstName: "A", LastName: "A", Email: "a@example.com"}})
	require.NoError(t, err)
	ls, err := m.AssignLicenses(ctx, p.ID, partner.AssignLicensesParams{Grants: []license.Grant{{Product: "Endpoint Security",
		UnitType: "seats", Units: 100, Kind: license.Full, Start: benchNow.AddDate(0, -1, 0), Expiry: benchNow.AddDate(1, 0, 0)}}})
	require.NoError(t, err)
	c, err := m.AddCustomer(ctx, p.ID, partner.CustomerParams{Name: "Customer"})
	require.NoError(t, err)
	return allocEnv{m: m, p: p, lic: ls.Licenses[0], customer: c}
}

// TestAllocationPathIsPrepared: on the stores that run write transactions
// on a database/sql transaction, an allocation through the Manager runs on
// the prepared statements, and records what the statements through bun
// record: the allocation, its audit entry with the used units before and
// after, and its event in the outbox.
func TestAllocationPathIsPrepared(t *testing.T) {
	for name, open := range map[string]func(testing.TB) *bunstore.Store{
		"sqlite": dbtest.SQLite, "sqlite-host": dbtest.SQLiteHost, "postgres": dbtest.Postgres, "postgres-pgx": dbtest.PostgresPgx,
	} {
		t.Run(name, func(t *testing.T) {
			if name == "postgres" || name == "postgres-pgx" {
				dbtest.PostgresDSN(t)
			}
			ctx := partner.WithActor(context.Background(), "ops@example.com")
			s := open(t)
			e := newAllocEnv(t, s)
			for i := range 3 {
				a, err := e.m.Allocate(ctx, e.p.ID, partner.AllocateParams{LicenseID: e.lic.ID, CustomerID: e.customer.ID, Units: 2})
				require.NoError(t, err)
				entries, _, err := e.m.Audit(ctx, e.p.ID, partner.Page{Limit: 1})
				require.NoError(t, err)
				require.Len(t, entries, 1)
				want := partner.AuditEntry{ID: entries[0].ID, PartnerID: e.p.ID, Actor: "ops@example.com", Action: partner.OpAllocateUnits,
					Target: fmt.Sprintf("allocation %d", a.ID), At: benchNow, Changes: []partner.Change{
						{Field: "license_id", Label: "Licence", After: fmt.Sprint(e.lic.ID), AfterValue: []byte(fmt.Sprint(e.lic.ID))},
						{Field: "customer_id", Label: "Customer", After: fmt.Sprint(e.customer.ID), AfterValue: []byte(fmt.Sprint(e.customer.ID))},
						{Field: "units", Label: "Units", After: "2", AfterValue: []byte("2")},
						{Field: "license_used", Label: "Licence units used", Before: fmt.Sprint(2 * i), After: fmt.Sprint(2*i + 2),
							BeforeValue: []byte(fmt.Sprint(2 * i)), AfterValue: []byte(fmt.Sprint(2*i + 2))},
					}}
				require.Empty(t, cmp.Diff(want, entries[0]))
			}
			msgs, _, err := e.m.Outbox(ctx, partner.OutboxFilter{})
			require.NoError(t, err)
			var allocated int
			for _, msg := range msgs {
				if msg.Kind == partner.EventUnitsAllocated {
					allocated++
				}
			}
			require.Equal(t, 3, allocated, "each allocation's event is in the outbox")
			// A host's SQLite handle writes on a *sql.Conn: bun's path.
			require.Equal(t, name != "sqlite-host", bunstore.Prepared(s), "the statements are prepared")
		})
	}
}

// TestAllocationTemplateMismatchFails: on PostgreSQL the audit entry is
// written from a template; an Audit func that depends on more than the
// allocation and the licence's ID and Used fails the step, and the
// transaction, even when the caller goes on: nothing is committed.
func TestAllocationTemplateMismatchFails(t *testing.T) {
	dbtest.PostgresDSN(t)
	ctx := context.Background()
	s := dbtest.Postgres(t)
	e := newAllocEnv(t, s)
	err := s.Update(ctx, func(ctx context.Context, tx partner.Tx) error {
		_, err := tx.(partner.UnitsAllocator).AllocateUnits(ctx, partner.AllocateUnitsParams{
			Allocation: license.Allocation{LicenseID: e.lic.ID, PartnerID: e.p.ID, CustomerID: e.customer.ID, Units: 1, CreatedAt: benchNow},
			Audit: func(a license.Allocation, l license.License) partner.AuditEntry {
				return partner.AuditEntry{PartnerID: a.PartnerID, Actor: "x", Action: partner.OpAllocateUnits,
					Target: fmt.Sprintf("allocation %d of %d units", a.ID, l.Units), At: a.CreatedAt}
			}})
		require.ErrorContains(t, err, "differs from its template")
		return nil // the step's failure still aborts the transaction
	})
	require.ErrorContains(t, err, "differs from its template")
	require.ErrorContains(t, err, "nothing was committed")
	l, err := e.m.License(ctx, e.p.ID, e.lic.ID)
	require.NoError(t, err)
	require.Zero(t, l.Used, "nothing was committed")
}

// TestPreparedStatementsSurviveALostConnection: a connection that the
// server ends is replaced, and the statements are prepared again on the
// new one (database/sql does it), on PostgreSQL with both drivers.
func TestPreparedStatementsSurviveALostConnection(t *testing.T) {
	dbtest.PostgresDSN(t)
	for name, open := range map[string]func(testing.TB) *bunstore.Store{"postgres": dbtest.Postgres, "postgres-pgx": dbtest.PostgresPgx} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			e := newAllocEnv(t, s)
			allocate := func() error {
				_, err := e.m.Allocate(ctx, e.p.ID, partner.AllocateParams{LicenseID: e.lic.ID, CustomerID: e.customer.ID, Units: 1})
				return err
			}
			require.NoError(t, allocate())
			require.True(t, bunstore.Prepared(s))
			// End the pool's one connection, on which the statements were
			// prepared, from a connection of its own.
			s.DB().DB.SetMaxIdleConns(1)
			var pid int
			require.NoError(t, s.DB().NewRaw("SELECT pg_backend_pid()").Scan(ctx, &pid))
			admin := dbtest.OpenPostgres(dbtest.PostgresDSN(t), "")
			defer admin.Close()
			var ended bool
			require.NoError(t, admin.NewRaw("SELECT pg_terminate_backend(?)", pid).Scan(ctx, &ended))
			require.True(t, ended)
			// The first use of a dead connection may fail; the next
			// allocations run on a new connection.
			var errs []error
			for range 3 {
				if err := allocate(); err != nil {
					errs = append(errs, err)
				}
			}
			require.Less(t, len(errs), 3, "allocations after the connection was lost: %v", errors.Join(errs...))
			require.NoError(t, allocate())
			l, err := e.m.License(ctx, e.p.ID, e.lic.ID)
			require.NoError(t, err)
			require.Equal(t, int64(5-len(errs)), l.Used, "every allocation reported done was made, and no other")
		})
	}
}

// statementLog is a query hook that keeps the statements it sees.
type statementLog struct {
	mu    sync.Mutex
	stmts []string
}

func (l *statementLog) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	return ctx
}
func (l *statementLog) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stmts = append(l.stmts, e.Query)
}

// TestAllocationPathWithoutPreparedStatements: a store with a query hook
// runs the allocation through bun, so that the hook sees its UPDATE; a
// store after Close (a host's database stays open) does too; both
// allocate as before.
func TestAllocationPathWithoutPreparedStatements(t *testing.T) {
	for name, open := range map[string]func(testing.TB) *bunstore.Store{"sqlite-host": dbtest.SQLiteHost, "postgres": dbtest.Postgres} {
		t.Run(name, func(t *testing.T) {
			if name == "postgres" {
				dbtest.PostgresDSN(t)
			}
			ctx := context.Background()
			s := open(t)
			e := newAllocEnv(t, s)
			log := &statementLog{}
			s.AddQueryHook(log)
			_, err := e.m.Allocate(ctx, e.p.ID, partner.AllocateParams{LicenseID: e.lic.ID, CustomerID: e.customer.ID, Units: 1})
			require.NoError(t, err)
			require.False(t, bunstore.Prepared(s))
			var updates int
			for _, q := range log.stmts {
				if strings.HasPrefix(q, "UPDATE \"partnerkit_licenses\"") {
					updates++
				}
			}
			require.Equal(t, 1, updates, "the hook saw the allocation's UPDATE: %q", log.stmts)

			require.NoError(t, s.Close())
			require.False(t, bunstore.Prepared(s))
			_, err = e.m.Allocate(ctx, e.p.ID, partner.AllocateParams{LicenseID: e.lic.ID, CustomerID: e.customer.ID, Units: 1})
			require.NoError(t, err, "a host's database stays open after Close")
			l, err := e.m.License(ctx, e.p.ID, e.lic.ID)
			require.NoError(t, err)
			require.Equal(t, int64(2), l.Used)
		})
	}
}
