package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun/dialect"

	"github.com/partnerkit/partnerkit/partner"
)

// PartnerRecord reads the partner's row alone: no derived figure, no lock.
func (r *reader) PartnerRecord(ctx context.Context, id int64) (partner.Partner, error) {
	if err := r.check(ctx); err != nil {
		return partner.Partner{}, err
	}
	var row partnerRow
	if err := r.db.NewSelect().Model(&row).Where("p.id = ?", id).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return partner.Partner{}, notFound("partner", id)
		}
		return partner.Partner{}, r.dbErr(err)
	}
	return row.toPartner()
}

// poolRow is one pool's sums as Pools selects them.
type poolRow struct {
	Product   string `bun:"product"`
	UnitType  string `bun:"unit_type"`
	ProductID int64  `bun:"product_id"`
	Units     int64  `bun:"units"`
	Used      int64  `bun:"used"`
	First     int64  `bun:"first_id"`
}

// Pools sums the usable licences by pool in one GROUP BY over the
// partner's licences, which the index partnerkit_licenses_pools covers:
// no licence row is read.
func (r *reader) Pools(ctx context.Context, partnerID int64, now time.Time) ([]partner.Pool, error) {
	if err := r.check(ctx); err != nil {
		return nil, err
	}
	now = now.UTC()
	var rows []poolRow
	// The usable sums by pool from the kept totals (usableSumsSQL); the
	// pool's catalogue product is the highest of its usable licences', and
	// its first usable licence (for the order) is found in the pool's
	// licences in id order, past those out of their dates only.
	// On SQLite the dates are compared as +l.start_at, +l.expiry_at (the
	// unary plus changes no value): without statistics its planner would
	// otherwise range over an index of the dates, nearly all the
	// partner's licences, and sort them, instead of walking the pool's
	// index in id order.
	dates := "l.disabled = ? AND +l.start_at <= ? AND +l.expiry_at > ?"
	if r.s.name == dialect.PG {
		dates = usableSQL
	}
	err := r.db.NewRaw("SELECT g.product, g.unit_type, g.product_id, g.units, g.used, "+
		"(SELECT l.id FROM partnerkit_licenses AS l WHERE l.partner_id = ? AND l.product = g.product AND l.unit_type = g.unit_type AND "+
		dates+" ORDER BY l.id LIMIT 1) AS first_id FROM ("+
		"SELECT v.product, v.unit_type, max(v.product_id) AS product_id, sum(v.units) AS units, sum(v.used) AS used FROM ("+
		"SELECT u.product, u.unit_type, u.product_id, sum(u.units) AS units, sum(u.used) AS used FROM ("+
		fmt.Sprintf(usableSumsSQL, "?")+") AS u GROUP BY u.product, u.unit_type, u.product_id HAVING sum(u.n) > 0"+
		") AS v GROUP BY v.product, v.unit_type) AS g ORDER BY first_id ASC",
		append([]any{partnerID, false, now, now}, usableSumsArgs(partnerID, now)...)...).Scan(ctx, &rows)
	if err != nil {
		return nil, r.dbErr(err)
	}
	out := make([]partner.Pool, len(rows))
	for i, p := range rows {
		out[i] = partner.Pool{Product: p.Product, UnitType: p.UnitType, ProductID: p.ProductID, Units: p.Units, Used: p.Used}
	}
	return out, nil
}
