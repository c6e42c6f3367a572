package bunstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"

	"github.com/partnerkit/partnerkit/partner"
)

// This file registers the Go migration 20261130000001_refold_name_keys:
// bun's migrate names a Go migration after the file that registers it.

// registerRefoldNameKeys adds the migration to ms. Up recomputes the name
// keys with partner.FoldName; down recomputes them the way the previous
// version did, with strings.ToLower.
func (s *Store) registerRefoldNameKeys(ms *migrate.Migrations) {
	ms.MustRegister(
		func(ctx context.Context, _ *bun.DB) error { return s.refoldNameKeys(ctx, partner.FoldName) },
		func(ctx context.Context, _ *bun.DB) error { return s.refoldNameKeys(ctx, strings.ToLower) },
	)
}

// RefoldNameKeys recomputes the keys the store compares, searches and
// sorts names by (partnerkit_partners.company_key and name_sort,
// partnerkit_plans.name_key, partnerkit_customers.name_key) with
// partner.FoldName, which does full Unicode case folding where the
// store's first version lower-cased with strings.ToLower, and
// partner.NameSortKey. Migrate runs it as the Go migrations
// 20261130000001_refold_name_keys, 20261201000002_fold_customer_names and
// 20261210000003_sort_name_keys; a host that runs the SQL migrations
// (Migrations) with its own tooling calls it after them. It is
// idempotent. When two service plans' names fold to the same key it
// fails, naming both plans and changing no plan key; rename one and run
// it again.
func RefoldNameKeys(ctx context.Context, db *bun.DB) error {
	s := New(db)
	if err := s.refoldNameKeys(ctx, partner.FoldName); err != nil {
		return err
	}
	if err := s.foldCustomerNames(ctx); err != nil {
		return err
	}
	return s.sortNameKeys(ctx)
}

// refoldBatch is how many partners one transaction of refoldNameKeys reads.
const refoldBatch = 1000

// nameKey is a row's id, name and stored key.
type nameKey struct {
	ID   int64  `bun:"id"`
	Name string `bun:"name"`
	Key  string `bun:"name_key"`
}

// refoldNameKeys recomputes the stored name keys with fold: the plans in
// one transaction (the catalogue is small, and its keys must stay
// unique), the partners in transactions of refoldBatch rows.
func (s *Store) refoldNameKeys(ctx context.Context, fold func(string) string) error {
	err := s.write(ctx, func(ctx context.Context, db bun.IDB) error {
		var plans []nameKey
		if err := db.NewRaw("SELECT id, name, name_key FROM partnerkit_plans ORDER BY id").Scan(ctx, &plans); err != nil {
			return err
		}
		owner := make(map[string]nameKey, len(plans))
		var changed []nameKey
		for _, p := range plans {
			key := fold(p.Name)
			if q, taken := owner[key]; taken {
				return fmt.Errorf("bunstore: refold name keys: service plans %d %q and %d %q have the same name once case is folded (%q): "+
					"rename one of them, then migrate again", q.ID, q.Name, p.ID, p.Name, key)
			}
			owner[key] = p
			if key != p.Key {
				changed = append(changed, nameKey{ID: p.ID, Name: p.Name, Key: key})
			}
		}
		// Two steps, so that no intermediate state breaks the unique key:
		// first a placeholder no key can equal (keys have no upper-case
		// ASCII letter), then the new key.
		for _, p := range changed {
			if _, err := db.NewRaw("UPDATE partnerkit_plans SET name_key = ? WHERE id = ?", fmt.Sprintf("REFOLD %d", p.ID), p.ID).Exec(ctx); err != nil {
				return err
			}
		}
		for _, p := range changed {
			if _, err := db.NewRaw("UPDATE partnerkit_plans SET name_key = ? WHERE id = ?", p.Key, p.ID).Exec(ctx); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for last := int64(0); ; {
		var rows []nameKey
		err := s.write(ctx, func(ctx context.Context, db bun.IDB) error {
			rows = rows[:0]
			err := db.NewRaw("SELECT id, company_name AS name, company_key AS name_key FROM partnerkit_partners WHERE id > ? ORDER BY id LIMIT ?",
				last, refoldBatch).Scan(ctx, &rows)
			if err != nil {
				return err
			}
			for _, r := range rows {
				if key := fold(r.Name); key != r.Key {
					if _, err := db.NewRaw("UPDATE partnerkit_partners SET company_key = ? WHERE id = ?", key, r.ID).Exec(ctx); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("bunstore: refold name keys: %w", err)
		}
		if len(rows) < refoldBatch {
			return nil
		}
		last = rows[len(rows)-1].ID
	}
}
