package bunstore_test

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"github.com/partnerkit/partnerkit/internal/dbtest"
	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/partner/bunstore"
	"github.com/partnerkit/partnerkit/partner/storetest"
	"github.com/partnerkit/partnerkit/serviceplan"
)

// oldDatabases open an empty database of each dialect, as a host's handle.
var oldDatabases = map[string]func(t *testing.T) *bun.DB{
	"sqlite": func(t *testing.T) *bun.DB { return dbtest.OpenSQLiteHost(t, dbtest.SQLitePath(t), true) },
	"postgres": func(t *testing.T) *bun.DB {
		db := dbtest.OpenPostgres(dbtest.PostgresDSN(t), dbtest.PostgresSchema(t))
		t.Cleanup(func() { db.Close() })
		return db
	},
}

// migrateSQLOnly applies the SQL migrations alone, as the previous
// version of the store did, recording them where Migrate looks.
func migrateSQLOnly(t *testing.T, db *bun.DB) {
	t.Helper()
	ctx := context.Background()
	fsys, err := bunstore.MigrationsFS(db.Dialect().Name())
	require.NoError(t, err)
	ms := migrate.NewMigrations()
	require.NoError(t, ms.Discover(fsys))
	mg := migrate.NewMigrator(db, ms, migrate.WithTableName(bunstore.MigrationTable),
		migrate.WithLocksTableName(bunstore.MigrationLocksTable))
	require.NoError(t, mg.Init(ctx))
	_, err = mg.Migrate(ctx)
	require.NoError(t, err)
}

// oldKeys rewrites the stored keys of the named partners and plans as
// the previous version computed them (strings.ToLower).
func oldKeys(t *testing.T, db *bun.DB, partners, plans map[int64]string) {
	t.Helper()
	ctx := context.Background()
	for id, name := range partners {
		_, err := db.NewRaw("UPDATE partnerkit_partners SET company_name = ?, company_key = ? WHERE id = ?", name, strings.ToLower(name), id).Exec(ctx)
		require.NoError(t, err)
	}
	for id, name := range plans {
		_, err := db.NewRaw("UPDATE partnerkit_plans SET name = ?, name_key = ? WHERE id = ?", name, strings.ToLower(name), id).Exec(ctx)
		require.NoError(t, err)
	}
}

func search(t *testing.T, s *bunstore.Store, name string) []string {
	t.Helper()
	var names []string
	require.NoError(t, s.View(context.Background(), func(ctx context.Context, r partner.Reader) error {
		ps, _, err := r.Partners(ctx, partner.Filter{Name: name}, storetest.AsOfT0)
		for _, p := range ps {
			names = append(names, p.Profile.CompanyName)
		}
		return err
	}))
	return names
}

// createOld makes partners and plans through the store, then gives them
// the names and the keys of the previous version.
func createOld(t *testing.T, s *bunstore.Store, partners, plans []string) (partnerIDs, planIDs []int64) {
	t.Helper()
	require.NoError(t, s.Update(context.Background(), func(ctx context.Context, tx partner.Tx) error {
		for i := range partners {
			p := storetest.NewPartner("placeholder "+string(rune('a'+i)), partner.MSP, partner.Active)
			if err := tx.CreatePartner(ctx, &p); err != nil {
				return err
			}
			partnerIDs = append(partnerIDs, p.ID)
		}
		for i := range plans {
			p := serviceplan.Plan{Name: "placeholder " + string(rune('a'+i)), Enabled: true, Product: "P", Kind: serviceplan.Full,
				UnitType: "seats", DataCenter: serviceplan.EU, InitialPeriodMonths: 12, CreatedAt: storetest.T0, UpdatedAt: storetest.T0}
			if err := tx.CreatePlan(ctx, &p); err != nil {
				return err
			}
			planIDs = append(planIDs, p.ID)
		}
		return nil
	}))
	pm, lm := map[int64]string{}, map[int64]string{}
	for i, id := range partnerIDs {
		pm[id] = partners[i]
	}
	for i, id := range planIDs {
		lm[id] = plans[i]
	}
	oldKeys(t, s.DB(), pm, lm)
	return partnerIDs, planIDs
}

// TestMigrateRefoldsNameKeys: a database whose keys the previous version
// wrote with strings.ToLower is migrated to partner.FoldName's keys, after
// which searches and the plan-name rule fold case fully.
func TestMigrateRefoldsNameKeys(t *testing.T) {
	for name, open := range oldDatabases {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db := open(t)
			migrateSQLOnly(t, db)
			s := bunstore.New(db)
			createOld(t, s, []string{"Οδός Σας", "ſtar Systems", "Straße GmbH", "Plain"}, []string{"Straße", "Ωmega"})
			require.Empty(t, search(t, s, "σας"), "the old keys do not fold final sigma")

			require.NoError(t, s.Migrate(ctx))
			for _, tc := range []struct{ q, want string }{
				{"σας", "Οδός Σας"}, {"ΣΑΣ", "Οδός Σας"}, {"STAR", "ſtar Systems"}, {"strasse", "Straße GmbH"}, {"plain", "Plain"},
			} {
				require.Empty(t, cmp.Diff([]string{tc.want}, search(t, s, tc.q)), "search %q", tc.q)
			}
			err := s.Update(ctx, func(ctx context.Context, tx partner.Tx) error {
				p := serviceplan.Plan{Name: "STRASSE", Enabled: true, Product: "Q", Kind: serviceplan.Full, UnitType: "seats",
					DataCenter: serviceplan.US, InitialPeriodMonths: 12, CreatedAt: storetest.T0, UpdatedAt: storetest.T0}
				return tx.CreatePlan(ctx, &p)
			})
			require.ErrorIs(t, err, partner.ErrDuplicate, "the plan key of \"Straße\" is folded now")

			var keys []string
			require.NoError(t, db.NewRaw("SELECT name_key FROM partnerkit_plans ORDER BY id").Scan(ctx, &keys))
			require.Equal(t, []string{partner.FoldName("Straße"), partner.FoldName("Ωmega")}, keys)
			require.NoError(t, s.Migrate(ctx), "again at the next start")
		})
	}
}

// TestMigrateRefoldRefusesPlanClash: two plans whose names differed under
// the old keys but fold alike now stop the migration with an error naming
// both, and their keys stay as they were.
func TestMigrateRefoldRefusesPlanClash(t *testing.T) {
	for name, open := range oldDatabases {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db := open(t)
			migrateSQLOnly(t, db)
			s := bunstore.New(db)
			_, planIDs := createOld(t, s, nil, []string{"Straße", "STRASSE"})

			err := s.Migrate(ctx)
			require.ErrorContains(t, err, `service plans `)
			require.ErrorContains(t, err, `"Straße"`)
			require.ErrorContains(t, err, `"STRASSE"`)
			var keys []string
			require.NoError(t, db.NewRaw("SELECT name_key FROM partnerkit_plans ORDER BY id").Scan(ctx, &keys))
			require.Equal(t, []string{"straße", "strasse"}, keys)
			require.Len(t, planIDs, 2)
		})
	}
}

// migrateBefore applies the SQL migrations older than version alone, as
// a store of that time did, recording them where Migrate looks.
func migrateBefore(t *testing.T, db *bun.DB, version string) {
	t.Helper()
	ctx := context.Background()
	fsys, err := bunstore.MigrationsFS(db.Dialect().Name())
	require.NoError(t, err)
	old := fstest.MapFS{}
	names, err := fs.Glob(fsys, "*.sql")
	require.NoError(t, err)
	for _, name := range names {
		if name < version {
			b, err := fs.ReadFile(fsys, name)
			require.NoError(t, err)
			old[name] = &fstest.MapFile{Data: b}
		}
	}
	ms := migrate.NewMigrations()
	require.NoError(t, ms.Discover(old))
	mg := migrate.NewMigrator(db, ms, migrate.WithTableName(bunstore.MigrationTable),
		migrate.WithLocksTableName(bunstore.MigrationLocksTable))
	require.NoError(t, mg.Init(ctx))
	_, err = mg.Migrate(ctx)
	require.NoError(t, err)
}

// TestMigrateCatalogueKeepsOldRecords: a database of the schema before the
// product catalogue, with a licence and customers, is migrated: the
// licence reads back uncatalogued (product id 0), assigned, with the kind
// it was granted with, and the old customers are found by the folded name
// search.
func TestMigrateCatalogueKeepsOldRecords(t *testing.T) {
	for name, open := range oldDatabases {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db := open(t)
			migrateBefore(t, db, "20261201")
			s := bunstore.New(db)
			p := partner.Partner{ID: insertOldPartner(t, db, "Old Partner")}
			at := storetest.T0
			_, err := db.NewRaw(`INSERT INTO partnerkit_licenses (partner_id, product, unit_type, kind, units, used, start_at, expiry_at,
				disabled, grant_key, version, created_at, updated_at, granted_units, granted_expiry_at)
				VALUES (?, 'Endpoint Security', 'seats', 'trial', 10, 0, ?, ?, ?, '', 1, ?, ?, 10, ?)`,
				p.ID, at, at.AddDate(1, 0, 0), false, at, at, at.AddDate(1, 0, 0)).Exec(ctx)
			require.NoError(t, err)
			for _, c := range []string{"Straße Café", "Plain"} {
				_, err := db.NewRaw("INSERT INTO partnerkit_customers (partner_id, name, email, created_at) VALUES (?, ?, '', ?)", p.ID, c, at).Exec(ctx)
				require.NoError(t, err)
			}

			require.NoError(t, s.Migrate(ctx))
			m := partner.NewManager(partner.Options{Store: s, Now: func() time.Time { return at }})
			lics, _, err := m.Licenses(ctx, p.ID, partner.Page{})
			require.NoError(t, err)
			require.Len(t, lics, 1)
			l := lics[0]
			require.Equal(t, []any{int64(0), license.OriginAssigned, license.Trial, "Endpoint Security"},
				[]any{l.ProductID, l.Origin, l.GrantedKind, l.Product}, "an old licence is uncatalogued, assigned, granted as it is")
			cs, total, err := m.Customers(ctx, p.ID, partner.CustomerFilter{Name: "STRASSE"})
			require.NoError(t, err)
			require.Equal(t, 1, total)
			require.Equal(t, "Straße Café", cs[0].Name)
			pools, err := m.Pools(ctx, p.ID)
			require.NoError(t, err)
			require.Equal(t, []partner.Pool{{Product: "Endpoint Security", UnitType: "seats", Units: 10, Remaining: 10}}, pools)
			require.NoError(t, s.Migrate(ctx), "again at the next start")
		})
	}
}
