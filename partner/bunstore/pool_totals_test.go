package bunstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/partner/bunstore"
	"github.com/partnerkit/partnerkit/partner/storetest"
)

// TestMigrateFillsPoolTotals: the licences a database holds before the
// migration 20261216000001_pool_totals are summed into the kept totals
// when it runs, so that the partners' units, the licences' total and the
// pools read from them agree with the licences; and the triggers it
// creates keep them on the next write.
func TestMigrateFillsPoolTotals(t *testing.T) {
	for name, open := range oldDatabases {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			db := open(t)
			migrateBefore(t, db, "20261216")
			p, q := insertOldPartner(t, db, "Old Partner"), insertOldPartner(t, db, "Other Partner")
			t0 := storetest.T0
			past, future := t0.AddDate(0, -1, 0), t0.AddDate(1, 0, 0)
			for _, l := range []struct {
				partner       int64
				product, unit string
				productID     int64
				units, used   int64
				start, expiry time.Time
				disabled      bool
			}{
				{p, "Endpoint Security", "seats", 0, 10, 4, past, future, false},
				{p, "Backup", "GB", 3, 100, 60, past, future, false},
				{p, "Endpoint Security", "seats", 0, 50, 0, past, future, true},
				{p, "Endpoint Security", "seats", 0, 20, 0, t0.Add(time.Hour), future, false},
				{p, "Endpoint Security", "seats", 0, 30, 30, past, t0, false},
				{p, "Backup", "GB", 0, 8, 1, past, future, false},
				{q, "Endpoint Security", "seats", 0, 1000, 5, past, future, false},
			} {
				_, err := db.NewRaw(`INSERT INTO partnerkit_licenses (partner_id, product, unit_type, kind, units, used, start_at,
					expiry_at, disabled, grant_key, version, created_at, updated_at, granted_units, granted_expiry_at, product_id)
					VALUES (?, ?, ?, 'full', ?, ?, ?, ?, ?, '', 1, ?, ?, ?, ?, ?)`,
					l.partner, l.product, l.unit, l.units, l.used, l.start.UTC(), l.expiry.UTC(), l.disabled, t0.UTC(), t0.UTC(),
					l.units, l.expiry.UTC(), l.productID).Exec(ctx)
				require.NoError(t, err)
			}
			s := bunstore.New(db)
			require.NoError(t, s.Migrate(ctx))

			check := func(step string) {
				t.Helper()
				require.NoError(t, s.View(ctx, func(_ context.Context, r partner.Reader) error {
					for _, id := range []int64{p, q} {
						lics, _, err := r.Licenses(ctx, id, partner.Page{})
						require.NoError(t, err)
						_, total, err := r.Licenses(ctx, id, partner.Page{Limit: 1})
						require.NoError(t, err)
						require.Equal(t, len(lics), total, "%s: partner %d's number of licences", step, id)
						var units, used int64
						for _, l := range lics {
							units, used = units+l.Units, used+l.Used
						}
						got, err := r.Partner(ctx, id)
						require.NoError(t, err)
						require.Equal(t, [2]int64{units, used}, [2]int64{got.UnitsProvisioned, got.UnitsUsed}, "%s: partner %d", step, id)
						pools, err := r.Pools(ctx, id, t0)
						require.NoError(t, err)
						require.Empty(t, cmp.Diff(usableSums(lics, t0), pools), "%s: partner %d's pools", step, id)
					}
					return nil
				}))
			}
			check("migrated")
			require.NoError(t, s.Update(ctx, func(_ context.Context, tx partner.Tx) error {
				l := storetest.NewLicense(p, 7)
				if err := tx.CreateLicense(ctx, &l); err != nil {
					return err
				}
				_, err := tx.AdjustUsed(ctx, l.ID, 2)
				return err
			}))
			check("written after")
		})
	}
}

// usableSums sums the licences usable at now by product and unit type,
// in the order of each pool's first usable licence, the product id the
// largest of the pool's: what Reader.Pools returns.
func usableSums(lics []license.License, now time.Time) []partner.Pool {
	var out []partner.Pool
	at := map[[2]string]int{}
	for _, l := range lics {
		if l.Disabled || now.Before(l.Start) || !now.Before(l.Expiry) {
			continue
		}
		k := [2]string{l.Product, l.UnitType}
		i, ok := at[k]
		if !ok {
			i = len(out)
			at[k] = i
			out = append(out, partner.Pool{Product: l.Product, UnitType: l.UnitType})
		}
		out[i].Units += l.Units
		out[i].Used += l.Used
		out[i].ProductID = max(out[i].ProductID, l.ProductID)
	}
	return out
}
