package bunstore_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/internal/dbtest"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/partner/bunstore"
	"github.com/partnerkit/partnerkit/partner/storetest"
)

var allStores = map[string]func(t testing.TB) *bunstore.Store{
	"sqlite": dbtest.SQLite, "sqlite-host": dbtest.SQLiteHost, "postgres": dbtest.Postgres, "postgres-pgx": dbtest.PostgresPgx,
}

func partnerNames(t *testing.T, s *bunstore.Store) []string {
	t.Helper()
	var names []string
	require.NoError(t, s.View(context.Background(), func(ctx context.Context, r partner.Reader) error {
		ps, _, err := r.Partners(ctx, partner.Filter{}, storetest.AsOfT0)
		for _, p := range ps {
			names = append(names, p.Profile.CompanyName)
		}
		return err
	}))
	return names
}

// TestCheckViolationKeepsTransaction: a write refused by one of the
// schema's CHECK constraints fails with ErrInvalid, has no effect, and
// the transaction's other writes commit.
func TestCheckViolationKeepsTransaction(t *testing.T) {
	for name, open := range allStores {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			err := s.Update(context.Background(), func(ctx context.Context, tx partner.Tx) error {
				a := storetest.NewPartner("Before", partner.MSP, partner.Active)
				require.NoError(t, tx.CreatePartner(ctx, &a))
				l := storetest.NewLicense(a.ID, 0) // CHECK (units > 0)
				err := tx.CreateLicense(ctx, &l)
				require.ErrorIs(t, err, partner.ErrInvalid)
				b := storetest.NewPartner("After", partner.MSP, partner.Active)
				return tx.CreatePartner(ctx, &b)
			})
			require.NoError(t, err)
			require.Equal(t, []string{"Before", "After"}, partnerNames(t, s))
		})
	}
}

// TestPostgresAbortedTransactionIsReported: on PostgreSQL a failed
// statement the store does not guard with a savepoint (here an audit
// entry for a partner that does not exist) aborts the transaction; when
// fn goes on and returns nil, Update reports the failure instead of
// success, and nothing is stored.
func TestPostgresAbortedTransactionIsReported(t *testing.T) {
	for _, name := range []string{"postgres", "postgres-pgx"} {
		t.Run(name, func(t *testing.T) {
			s := allStores[name](t)
			err := s.Update(context.Background(), func(ctx context.Context, tx partner.Tx) error {
				a := storetest.NewPartner("Lost", partner.MSP, partner.Active)
				require.NoError(t, tx.CreatePartner(ctx, &a))
				e := partner.AuditEntry{PartnerID: 999, Actor: "x", Action: partner.OpUpdateProfile, At: storetest.T0}
				require.ErrorIs(t, tx.AppendAudit(ctx, &e), partner.ErrNotFound)
				return nil
			})
			require.ErrorIs(t, err, partner.ErrNotFound)
			require.ErrorContains(t, err, "rolled back")
			require.Empty(t, partnerNames(t, s))
		})
	}
}
