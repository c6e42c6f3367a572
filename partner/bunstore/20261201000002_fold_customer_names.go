package bunstore

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"github.com/partnerkit/partnerkit/partner"
)

// This file registers the Go migration 20261201000002_fold_customer_names
// (bun's migrate names a Go migration after the file that registers it):
// the SQL migration before it adds partnerkit_customers.name_key, and this
// one fills it for the customers that existed then.

// registerFoldCustomerNames adds the migration to ms. Its down step does
// nothing: the SQL migration's down step drops the column.
func (s *Store) registerFoldCustomerNames(ms *migrate.Migrations) {
	ms.MustRegister(
		func(ctx context.Context, _ *bun.DB) error { return s.foldCustomerNames(ctx) },
		func(context.Context, *bun.DB) error { return nil },
	)
}

// foldCustomerNames computes partnerkit_customers.name_key with
// partner.FoldName for every customer whose key differs, in transactions
// of refoldBatch rows. It is idempotent.
func (s *Store) foldCustomerNames(ctx context.Context) error {
	for last := int64(0); ; {
		var rows []nameKey
		err := s.write(ctx, func(ctx context.Context, db bun.IDB) error {
			rows = rows[:0]
			err := db.NewRaw("SELECT id, name, name_key FROM partnerkit_customers WHERE id > ? ORDER BY id LIMIT ?",
				last, refoldBatch).Scan(ctx, &rows)
			if err != nil {
				return err
			}
			for _, r := range rows {
				if key := partner.FoldName(r.Name); key != r.Key {
					if _, err := db.NewRaw("UPDATE partnerkit_customers SET name_key = ? WHERE id = ?", key, r.ID).Exec(ctx); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("bunstore: fold customer names: %w", err)
		}
		if len(rows) < refoldBatch {
			return nil
		}
		last = rows[len(rows)-1].ID
	}
}
