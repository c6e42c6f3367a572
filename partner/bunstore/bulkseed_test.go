package bunstore

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
)

// SeedBulk fills the store with generated partners and licences, written
// straight into the tables in large batches, for the benchmarks and the
// query-count test, which need volume. Partner i is named "Partner
// NNNNNN", alternates MSP and Reseller, and one in ten is Suspended; each
// has licensesPerPartner licences of 100 units.
//
// It bypasses the Manager and writes no audit entries, which is why it
// lives in a _test.go file: it is compiled into this package's tests
// only, and no host can call it.
func SeedBulk(ctx context.Context, s *Store, partners, licensesPerPartner int, now time.Time) error {
	const batch = 2000
	now = now.UTC().Truncate(time.Microsecond)
	return s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var first int64
		for lo := 0; lo < partners; lo += batch {
			hi := min(lo+batch, partners)
			rows := make([]*partnerRow, 0, hi-lo)
			for i := lo; i < hi; i++ {
				typ, status := partner.MSP, partner.Active
				if i%2 == 1 {
					typ = partner.Reseller
				}
				if i%10 == 9 {
					status = partner.Suspended
				}
				p := partner.Partner{Type: typ, Status: status, Version: 1, CreatedAt: now, UpdatedAt: now,
					Profile: partner.Profile{CompanyName: fmt.Sprintf("Partner %06d", i), City: "Lyon", Country: "France",
						Contacts: []partner.Contact{{FirstName: "Ada", LastName: "Admin", Email: "ada@example.com"}}}}
				row, err := toPartnerRow(&p)
				if err != nil {
					return err
				}
				rows = append(rows, row)
			}
			if _, err := tx.NewInsert().Model(&rows).Exec(ctx); err != nil {
				return mapErr(err)
			}
			if lo == 0 && len(rows) > 0 {
				first = rows[0].ID
			}
		}
		var lrows []*licenseRow
		flush := func() error {
			if len(lrows) == 0 {
				return nil
			}
			_, err := tx.NewInsert().Model(&lrows).Exec(ctx)
			lrows = lrows[:0]
			return mapErr(err)
		}
		for i := 0; i < partners; i++ {
			for j := 0; j < licensesPerPartner; j++ {
				l := license.License{PartnerID: first + int64(i), Product: "Endpoint Security", UnitType: "seats",
					Kind: license.Full, Units: 100, Used: int64(j % 50), Start: now.AddDate(0, -1, 0), Expiry: now.AddDate(1, 0, 0),
					GrantedUnits: 100, GrantedExpiry: now.AddDate(1, 0, 0),
					Version: 1, CreatedAt: now, UpdatedAt: now}
				lrows = append(lrows, toLicenseRow(&l))
				if len(lrows) == batch {
					if err := flush(); err != nil {
						return err
					}
				}
			}
		}
		return flush()
	})
}
