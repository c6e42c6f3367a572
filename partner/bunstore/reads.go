package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

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
	err := r.db.NewSelect().TableExpr("partnerkit_licenses AS l").
		ColumnExpr("l.product, l.unit_type, max(l.product_id) AS product_id, sum(l.units) AS units, sum(l.used) AS used, min(l.id) AS first_id").
		Where("l.partner_id = ?", partnerID).Where(usableSQL, false, now, now).
		GroupExpr("l.product, l.unit_type").OrderExpr("first_id ASC").Scan(ctx, &rows)
	if err != nil {
		return nil, r.dbErr(err)
	}
	out := make([]partner.Pool, len(rows))
	for i, p := range rows {
		out[i] = partner.Pool{Product: p.Product, UnitType: p.UnitType, ProductID: p.ProductID, Units: p.Units, Used: p.Used}
	}
	return out, nil
}
