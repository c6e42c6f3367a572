package bunstore

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"github.com/partnerkit/partnerkit/partner"
)

// This file registers the Go migration 20261210000003_sort_name_keys
// (bun's migrate names a Go migration after the file that registers it):
// the SQL migration before it adds partnerkit_partners.name_sort, and this
// one fills it with partner.NameSortKey for the partners that existed then.

// registerSortNameKeys adds the migration to ms. Its down step does
// nothing: the SQL migration's down step drops the column.
func (s *Store) registerSortNameKeys(ms *migrate.Migrations) {
	ms.MustRegister(
		func(ctx context.Context, _ *bun.DB) error { return s.sortNameKeys(ctx) },
		func(context.Context, *bun.DB) error { return nil },
	)
}

// sortNameKeys computes partnerkit_partners.name_sort with
// partner.NameSortKey for every partner whose key differs, in
// transactions of refoldBatch rows. It is idempotent.
func (s *Store) sortNameKeys(ctx context.Context) error {
	for last := int64(0); ; {
		var rows []nameKey
		err := s.write(ctx, func(ctx context.Context, db bun.IDB) error {
			rows = rows[:0]
			err := db.NewRaw("SELECT id, company_name AS name, name_sort AS name_key FROM partnerkit_partners WHERE id > ? ORDER BY id LIMIT ?",
				last, refoldBatch).Scan(ctx, &rows)
			if err != nil {
				return err
			}
			for _, r := range rows {
				if key := partner.NameSortKey(r.Name); key != r.Key {
					if _, err := db.NewRaw("UPDATE partnerkit_partners SET name_sort = ? WHERE id = ?", key, r.ID).Exec(ctx); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("bunstore: sort name keys: %w", err)
		}
		if len(rows) < refoldBatch {
			return nil
		}
		last = rows[len(rows)-1].ID
	}
}
