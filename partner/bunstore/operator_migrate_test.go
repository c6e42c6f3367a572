package bunstore_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/partner/bunstore"
	"github.com/partnerkit/partnerkit/partner/storetest"
)

// insertOldPartner writes a partner row with the columns every schema
// version has, as an older store did, and returns its id.
func insertOldPartner(t *testing.T, db *bun.DB, name string) int64 {
	t.Helper()
	var id int64
	err := db.NewRaw(`INSERT INTO partnerkit_partners (type, status, company_name, company_key, city, state, country, contacts,
		sign_in_url, pool_refill, minimum_licenses, remote_manager, version, created_at, updated_at)
		VALUES ('msp', 'active', ?, ?, 'Lyon', '', 'France', '[]', '', ?, 0, '', 1, ?, ?) RETURNING id`,
		name, partner.FoldName(name), false, storetest.T0, storetest.T0).Scan(context.Background(), &id)
	require.NoError(t, err)
	return id
}

// sqlMigrator is a migrator of the SQL migrations alone, recording them
// where Migrate looks.
func sqlMigrator(t *testing.T, db *bun.DB) *migrate.Migrator {
	t.Helper()
	fsys, err := bunstore.MigrationsFS(db.Dialect().Name())
	require.NoError(t, err)
	ms := migrate.NewMigrations()
	require.NoError(t, ms.Discover(fsys))
	mg := migrate.NewMigrator(db, ms, migrate.WithTableName(bunstore.MigrationTable),
		migrate.WithLocksTableName(bunstore.MigrationLocksTable))
	require.NoError(t, mg.Init(context.Background()))
	return mg
}

// TestMigrateAuditKeepsOldTexts: the audit entries a store wrote before
// the structured changes keep their before and after texts as one change
// of field "summary"; the migration's down step gives the texts back as
// they were.
func TestMigrateAuditKeepsOldTexts(t *testing.T) {
	for name, open := range oldDatabases {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db := open(t)
			migrateBefore(t, db, "20261210")
			pid := insertOldPartner(t, db, "Old Partner")
			old := []struct{ action, before, after string }{
				{"create_partner", "", "company=Old Partner; type=msp; admin=old.admin"},
				{"update_profile", "city=Lyon; sign-in URL=", "city=Paris; sign-in URL=https://old.example/login?a=1&b=\"2\""},
				{"delete_account", "role=Administrator", ""},
				{"suspend", "", ""},
			}
			for i, o := range old {
				_, err := db.NewRaw(`INSERT INTO partnerkit_audit (partner_id, actor, action, target, before_summary, after_summary, at)
					VALUES (?, 'ops', ?, 'partner', ?, ?, ?)`, pid, o.action, o.before, o.after, storetest.T0.Add(time.Duration(i)*time.Second)).Exec(ctx)
				require.NoError(t, err)
			}

			mg := sqlMigrator(t, db)
			_, err := mg.Migrate(ctx)
			require.NoError(t, err)
			s := bunstore.New(db)
			require.NoError(t, s.Migrate(ctx), "the Go migrations after the SQL ones")
			entries, total, err := partner.NewManager(partner.Options{Store: s}).Audit(ctx, pid, partner.Page{})
			require.NoError(t, err)
			require.Equal(t, len(old), total)
			str := func(s string) json.RawMessage { b, _ := json.Marshal(s); return b }
			summary := func(before, after string) []partner.Change {
				c := partner.Change{Field: "summary", Label: "Summary", Before: before, After: after}
				if before != "" {
					c.BeforeValue = str(before)
				}
				if after != "" {
					c.AfterValue = str(after)
				}
				return []partner.Change{c}
			}
			var got [][]partner.Change
			for _, e := range entries {
				got = append(got, e.Changes)
			}
			require.Empty(t, cmp.Diff([][]partner.Change{nil, summary(old[2].before, ""), summary(old[1].before, old[1].after),
				summary("", old[0].after)}, got, cmp.Comparer(func(a, b json.RawMessage) bool {
				if len(a) == 0 || len(b) == 0 {
					return len(a) == len(b)
				}
				var x, y any
				return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && cmp.Equal(x, y)
			})))
			require.Equal(t, "created: Summary: company=Old Partner; type=msp; admin=old.admin", entries[3].Summary())

			_, err = mg.Rollback(ctx)
			require.NoError(t, err, "the down step")
			var texts []struct {
				Before string `bun:"before_summary"`
				After  string `bun:"after_summary"`
			}
			require.NoError(t, db.NewRaw("SELECT before_summary, after_summary FROM partnerkit_audit ORDER BY id").Scan(ctx, &texts))
			require.Len(t, texts, len(old))
			for i, o := range old {
				require.Equal(t, []string{o.before, o.after}, []string{texts[i].Before, texts[i].After}, "entry %d", i)
			}
		})
	}
}

// TestMigrateFillsNameSortKeys: the partners of a database from before the
// sort keys get theirs from the Go migration, or from RefoldNameKeys for a
// host that ran the SQL files itself, and sort without case or accents.
func TestMigrateFillsNameSortKeys(t *testing.T) {
	for name, open := range oldDatabases {
		for _, how := range []string{"Migrate", "RefoldNameKeys"} {
			t.Run(name+"/"+how, func(t *testing.T) {
				ctx := context.Background()
				db := open(t)
				migrateBefore(t, db, "20261210")
				for _, n := range []string{"Zeta", "Éclair", "apex", "ÉCOLE"} {
					insertOldPartner(t, db, n)
				}
				s := bunstore.New(db)
				if how == "Migrate" {
					require.NoError(t, s.Migrate(ctx))
				} else {
					_, err := sqlMigrator(t, db).Migrate(ctx)
					require.NoError(t, err)
					require.NoError(t, bunstore.RefoldNameKeys(ctx, db))
				}
				ps, _, err := partner.NewManager(partner.Options{Store: s}).List(ctx, partner.Filter{Sort: partner.SortName})
				require.NoError(t, err)
				var got []string
				for _, p := range ps {
					got = append(got, p.Profile.CompanyName)
				}
				require.Equal(t, []string{"apex", "Éclair", "ÉCOLE", "Zeta"}, got)
			})
		}
	}
}
