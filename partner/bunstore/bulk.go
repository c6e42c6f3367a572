package bunstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/uptrace/bun"

	"github.com/partnerkit/partnerkit/partner"
)

type bulkRunRow struct {
	bun.BaseModel `bun:"table:partnerkit_bulk_runs,alias:br"`

	Key        string    `bun:"run_key,pk"`
	Params     string    `bun:"params"`
	Actor      string    `bun:"actor"`
	StartedAt  time.Time `bun:"started_at"`
	FinishedAt time.Time `bun:"finished_at,nullzero"`
}

type bulkItemRow struct {
	bun.BaseModel `bun:"table:partnerkit_bulk_items,alias:bi"`

	Key       string    `bun:"run_key,pk"`
	PartnerID int64     `bun:"partner_id,pk"`
	Outcome   string    `bun:"outcome"`
	Reason    string    `bun:"reason"`
	At        time.Time `bun:"at,nullzero"`

	CompanyName string `bun:"company_name,scanonly"`
}

func (r *bulkItemRow) toItem() partner.BulkItem {
	return partner.BulkItem{PartnerID: r.PartnerID, CompanyName: r.CompanyName, Outcome: partner.BulkOutcome(r.Outcome),
		Reason: r.Reason, At: utc(r.At)}
}

func noBulkRun(key string) error {
	return partner.NewError(partner.ErrNotFound, "", "no bulk run has the key %q", key)
}

func (r *reader) BulkRun(ctx context.Context, key string) (partner.BulkRun, error) {
	if err := r.check(ctx); err != nil {
		return partner.BulkRun{}, err
	}
	var row bulkRunRow
	if err := r.db.NewSelect().Model(&row).Where("br.run_key = ?", key).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return partner.BulkRun{}, noBulkRun(key)
		}
		return partner.BulkRun{}, r.dbErr(err)
	}
	run := partner.BulkRun{Key: row.Key, Actor: row.Actor, StartedAt: row.StartedAt.UTC(), FinishedAt: utc(row.FinishedAt)}
	if err := json.Unmarshal([]byte(row.Params), &run.Params); err != nil {
		return run, err
	}
	var counts []struct {
		Outcome string `bun:"outcome"`
		N       int    `bun:"n"`
	}
	err := r.db.NewSelect().Model((*bulkItemRow)(nil)).Column("bi.outcome").ColumnExpr("count(*) AS n").
		Where("bi.run_key = ?", key).Group("bi.outcome").Scan(ctx, &counts)
	if err != nil {
		return run, r.dbErr(err)
	}
	for _, c := range counts {
		run.Total += c.N
		switch partner.BulkOutcome(c.Outcome) {
		case partner.BulkPending:
			run.Pending = c.N
		case partner.BulkDone:
			run.Done = c.N
		case partner.BulkUnchanged:
			run.Unchanged = c.N
		case partner.BulkRefused:
			run.Refused = c.N
		case partner.BulkFailed:
			run.Failed = c.N
		}
	}
	return run, nil
}

// itemSelect selects a run's items with their partners' company names.
func (r *reader) itemSelect(rows any, key string) *bun.SelectQuery {
	return r.db.NewSelect().Model(rows).ColumnExpr("bi.*").ColumnExpr("coalesce(p.company_name, '') AS company_name").
		Join("LEFT JOIN partnerkit_partners AS p ON p.id = bi.partner_id").Where("bi.run_key = ?", key)
}

func (r *reader) BulkItem(ctx context.Context, key string, partnerID int64) (partner.BulkItem, error) {
	if err := r.check(ctx); err != nil {
		return partner.BulkItem{}, err
	}
	var row bulkItemRow
	if err := r.itemSelect(&row, key).Where("bi.partner_id = ?", partnerID).Scan(ctx); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return partner.BulkItem{}, partner.NewError(partner.ErrNotFound, "", "partner %d is not in the bulk run %q", partnerID, key)
		}
		return partner.BulkItem{}, r.dbErr(err)
	}
	return row.toItem(), nil
}

func (r *reader) BulkItems(ctx context.Context, key string, f partner.BulkItemFilter) ([]partner.BulkItem, int, error) {
	if err := r.check(ctx); err != nil {
		return nil, 0, err
	}
	where := func(q *bun.SelectQuery) *bun.SelectQuery {
		if f.Outcome != "" {
			q = q.Where("bi.outcome = ?", string(f.Outcome))
		}
		return q
	}
	var rows []bulkItemRow
	if err := window(where(r.itemSelect(&rows, key)), f.Page).OrderExpr("bi.partner_id ASC").Scan(ctx); err != nil {
		return nil, 0, r.dbErr(err)
	}
	total, err := r.pagedCount(ctx, len(rows), f.Page, where(r.db.NewSelect().Model((*bulkItemRow)(nil)).Where("bi.run_key = ?", key)).Count)
	if err != nil {
		return nil, 0, err
	}
	out := make([]partner.BulkItem, len(rows))
	for i := range rows {
		out[i] = rows[i].toItem()
	}
	return out, total, nil
}

func (r *reader) PendingBulkItems(ctx context.Context, key string, afterPartnerID int64, limit int) ([]int64, error) {
	if err := r.check(ctx); err != nil {
		return nil, err
	}
	var ids []int64
	err := r.db.NewSelect().Model((*bulkItemRow)(nil)).Column("bi.partner_id").
		Where("bi.run_key = ? AND bi.outcome = ? AND bi.partner_id > ?", key, string(partner.BulkPending), afterPartnerID).
		OrderExpr("bi.partner_id ASC").Limit(int64(limit)).Scan(ctx, &ids)
	return ids, r.dbErr(err)
}

// bulkInsertBatch is how many items one INSERT of CreateBulkRun writes.
const bulkInsertBatch = 1000

func (t *txn) CreateBulkRun(ctx context.Context, run *partner.BulkRun, partnerIDs []int64) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	params, err := json.Marshal(run.Params)
	if err != nil {
		return err
	}
	row := &bulkRunRow{Key: run.Key, Params: string(params), Actor: run.Actor, StartedAt: run.StartedAt.UTC(), FinishedAt: run.FinishedAt.UTC()}
	err = t.guard(ctx, func() error {
		_, err := t.db.NewInsert().Model(row).Exec(ctx)
		return t.dbErr(err)
	})
	if err != nil {
		return err
	}
	for lo := 0; lo < len(partnerIDs); lo += bulkInsertBatch {
		ids := partnerIDs[lo:min(lo+bulkInsertBatch, len(partnerIDs))]
		rows := make([]bulkItemRow, len(ids))
		for i, id := range ids {
			rows[i] = bulkItemRow{Key: run.Key, PartnerID: id, Outcome: string(partner.BulkPending)}
		}
		if _, err := t.db.NewInsert().Model(&rows).Exec(ctx); err != nil {
			return t.dbErr(err)
		}
	}
	return nil
}

func (t *txn) SetBulkItem(ctx context.Context, key string, it partner.BulkItem) (bool, error) {
	if err := t.check(ctx); err != nil {
		return false, err
	}
	// The conditional step: its affected-row count decides.
	res, err := t.db.NewUpdate().Model((*bulkItemRow)(nil)).
		Set("outcome = ?", string(it.Outcome)).Set("reason = ?", it.Reason).Set("at = ?", it.At.UTC()).
		Where("run_key = ? AND partner_id = ? AND outcome = ?", key, it.PartnerID, string(partner.BulkPending)).Exec(ctx)
	if err != nil {
		return false, t.dbErr(err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return n == 1, t.dbErr(err)
	}
	if _, err := t.BulkItem(ctx, key, it.PartnerID); err != nil {
		return false, err
	}
	return false, nil
}

func (t *txn) FinishBulkRun(ctx context.Context, key string, at time.Time) (bool, error) {
	if err := t.check(ctx); err != nil {
		return false, err
	}
	res, err := t.db.NewUpdate().Model((*bulkRunRow)(nil)).Set("finished_at = ?", at.UTC()).
		Where("run_key = ? AND finished_at IS NULL", key).Exec(ctx)
	if err != nil {
		return false, t.dbErr(err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return n == 1, t.dbErr(err)
	}
	var keys []string
	if err := t.db.NewSelect().Model((*bulkRunRow)(nil)).Column("br.run_key").Where("br.run_key = ?", key).Scan(ctx, &keys); err != nil {
		return false, t.dbErr(err)
	}
	if len(keys) == 0 {
		return false, noBulkRun(key)
	}
	return false, nil
}
