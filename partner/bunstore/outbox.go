package bunstore

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/partnerkit/partnerkit/partner"
)

// The outbox (partner.OutboxReader, partner.OutboxTx): table
// partnerkit_outbox, and partnerkit_runs for the dispatchers' periodic
// tasks. On SQLite the ids come from AUTOINCREMENT, which never hands out
// an id again after its row is deleted (a plain rowid would, after the
// highest rows are pruned); on PostgreSQL from an identity column.

type outboxRow struct {
	bun.BaseModel `bun:"table:partnerkit_outbox,alias:ob"`

	ID          int64     `bun:"id,pk,autoincrement"`
	Kind        string    `bun:"kind"`
	Payload     string    `bun:"payload"`
	CreatedAt   time.Time `bun:"created_at"`
	Attempts    int       `bun:"attempts"`
	NextAt      time.Time `bun:"next_at,nullzero"`
	Claim       string    `bun:"claim"`
	LockedUntil time.Time `bun:"locked_until,nullzero"`
	DeliveredAt time.Time `bun:"delivered_at,nullzero"`
	LastError   string    `bun:"last_error"`
}

func (r *outboxRow) toMessage() partner.OutboxMessage {
	return partner.OutboxMessage{ID: r.ID, Kind: partner.EventKind(r.Kind), Payload: []byte(r.Payload),
		CreatedAt: r.CreatedAt.UTC(), Attempts: r.Attempts, NextAt: utc(r.NextAt), Claim: r.Claim,
		LockedUntil: utc(r.LockedUntil), DeliveredAt: utc(r.DeliveredAt), LastError: r.LastError}
}

func messages(rows []outboxRow) []partner.OutboxMessage {
	out := make([]partner.OutboxMessage, len(rows))
	for i := range rows {
		out[i] = rows[i].toMessage()
	}
	return out
}

// outboxTime is how the outbox keeps an instant: UTC, microseconds.
func outboxTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func outboxWhere(q *bun.SelectQuery, state partner.OutboxState) *bun.SelectQuery {
	switch state {
	case partner.OutboxPending:
		q = q.Where("ob.delivered_at IS NULL")
	case partner.OutboxDelivered:
		q = q.Where("ob.delivered_at IS NOT NULL")
	}
	return q
}

func (r *reader) Outbox(ctx context.Context, f partner.OutboxFilter) ([]partner.OutboxMessage, int, error) {
	if err := r.check(ctx); err != nil {
		return nil, 0, err
	}
	var rows []outboxRow
	if err := window(outboxWhere(r.db.NewSelect().Model(&rows), f.State), f.Page).OrderExpr("ob.id ASC").Scan(ctx); err != nil {
		return nil, 0, r.dbErr(err)
	}
	total, err := r.pagedCount(ctx, len(rows), f.Page, outboxWhere(r.db.NewSelect().Model((*outboxRow)(nil)), f.State).Count)
	return messages(rows), total, err
}

// appendChunk is the most messages one INSERT writes.
const appendChunk = 500

// preparedOutbox is the most messages AppendOutbox writes one by one with
// its prepared INSERT (stmts.go) rather than in one INSERT through bun.
const preparedOutbox = 2

func (t *txn) AppendOutbox(ctx context.Context, msgs []partner.OutboxMessage) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	if len(msgs) <= preparedOutbox {
		if ok, err := t.appendOutboxPrepared(ctx, msgs); ok {
			return err
		}
	}
	for lo := 0; lo < len(msgs); lo += appendChunk {
		chunk := msgs[lo:min(lo+appendChunk, len(msgs))]
		rows := make([]outboxRow, len(chunk))
		for i, m := range chunk {
			rows[i] = outboxRow{Kind: string(m.Kind), Payload: string(m.Payload), CreatedAt: outboxTime(m.CreatedAt)}
		}
		if _, err := t.db.NewInsert().Model(&rows).Returning("id").Exec(ctx); err != nil {
			return t.dbErr(err)
		}
		// One statement numbers its rows in the order it inserts them,
		// which is the order given; the order RETURNING lists them in is
		// not promised, so the ids are matched by rank.
		ids := make([]int64, len(rows))
		for i := range rows {
			ids[i] = rows[i].ID
		}
		slices.Sort(ids)
		for i := range chunk {
			m := &chunk[i]
			m.ID, m.CreatedAt = ids[i], outboxTime(m.CreatedAt)
			m.Attempts, m.NextAt, m.Claim, m.LockedUntil, m.DeliveredAt, m.LastError = 0, time.Time{}, "", time.Time{}, time.Time{}, ""
		}
	}
	return nil
}

func (t *txn) ClaimOutbox(ctx context.Context, c partner.OutboxClaim) ([]partner.OutboxMessage, error) {
	if err := t.check(ctx); err != nil {
		return nil, err
	}
	now := outboxTime(c.Now)
	q := t.db.NewSelect().Model((*outboxRow)(nil)).Column("ob.id").
		Where("ob.delivered_at IS NULL").
		Where("(ob.next_at IS NULL OR ob.next_at <= ?)", now).
		Where("(ob.locked_until IS NULL OR ob.locked_until <= ?)", now).
		OrderExpr("ob.id ASC").Limit(int64(c.Limit))
	if t.s.name == dialect.PG {
		// Rows another claim has locked are skipped, not waited for; the
		// WHERE is checked again on the rows this one locks.
		q = q.For("UPDATE SKIP LOCKED")
	} // SQLite: the transaction holds the database's write lock (BEGIN IMMEDIATE)
	var ids []int64
	if err := q.Scan(ctx, &ids); err != nil {
		return nil, t.dbErr(err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	upd := t.db.NewUpdate().Model((*outboxRow)(nil)).
		Set("claim = ?", c.Claim).Set("locked_until = ?", outboxTime(c.Until)).Set("attempts = attempts + 1").
		Where("id IN (?)", bun.List(ids))
	var rows []outboxRow
	if t.cheapReturning() {
		if err := upd.Returning("*").Scan(ctx, &rows); err != nil {
			return nil, t.dbErr(err)
		}
	} else {
		if _, err := upd.Exec(ctx); err != nil {
			return nil, t.dbErr(err)
		}
		if err := t.db.NewSelect().Model(&rows).Where("ob.id IN (?)", bun.List(ids)).Scan(ctx); err != nil {
			return nil, t.dbErr(err)
		}
	}
	slices.SortFunc(rows, func(a, b outboxRow) int { return cmp.Compare(a.ID, b.ID) })
	return messages(rows), nil
}

// settle runs an UPDATE of the pending message id held by claim and
// reports whether it touched it.
func (t *txn) settle(ctx context.Context, q *bun.UpdateQuery, id int64, claim string) (bool, error) {
	if err := t.check(ctx); err != nil {
		return false, err
	}
	if claim == "" {
		return false, nil
	}
	res, err := q.Set("claim = ''").Set("locked_until = NULL").
		Where("id = ?", id).Where("claim = ?", claim).Where("delivered_at IS NULL").Exec(ctx)
	if err != nil {
		return false, t.dbErr(err)
	}
	n, err := res.RowsAffected()
	return n == 1, t.dbErr(err)
}

func (t *txn) CompleteOutbox(ctx context.Context, id int64, claim string, at time.Time) (bool, error) {
	return t.settle(ctx, t.db.NewUpdate().Model((*outboxRow)(nil)).Set("delivered_at = ?", outboxTime(at)), id, claim)
}

func (t *txn) RetryOutbox(ctx context.Context, id int64, claim string, next time.Time, lastErr string) (bool, error) {
	return t.settle(ctx, t.db.NewUpdate().Model((*outboxRow)(nil)).Set("next_at = ?", outboxTime(next)).Set("last_error = ?", lastErr), id, claim)
}

func (t *txn) PruneOutbox(ctx context.Context, before time.Time, limit int) (int, error) {
	if err := t.check(ctx); err != nil {
		return 0, err
	}
	res, err := t.db.NewRaw(`DELETE FROM partnerkit_outbox WHERE id IN (SELECT id FROM partnerkit_outbox
		WHERE delivered_at IS NOT NULL AND delivered_at < ? ORDER BY id LIMIT ?)`, outboxTime(before), limit).Exec(ctx)
	if err != nil {
		return 0, t.dbErr(err)
	}
	n, err := res.RowsAffected()
	return int(n), t.dbErr(err)
}

func (t *txn) ClaimRun(ctx context.Context, name string, now, next time.Time) (bool, error) {
	if err := t.check(ctx); err != nil {
		return false, err
	}
	// Insert-if-absent, or move a due run on: the affected-row count
	// decides, across transactions and processes (on PostgreSQL a
	// concurrent upsert of the same name waits for this one and then
	// finds the run not due).
	res, err := t.db.NewRaw(`INSERT INTO partnerkit_runs (name, next_at) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET next_at = excluded.next_at WHERE partnerkit_runs.next_at <= ?`,
		name, outboxTime(next), outboxTime(now)).Exec(ctx)
	if err != nil {
		return false, t.dbErr(err)
	}
	n, err := res.RowsAffected()
	return n == 1, t.dbErr(err)
}
