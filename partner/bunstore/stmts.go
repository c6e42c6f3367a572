package bunstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
)

// The allocation path's statements (LockPartner, AllocateUnits and a
// short AppendOutbox) run as database/sql prepared statements, with the
// driver's placeholders, instead of through bun, which writes every
// argument into the SQL text so that the database parses and plans each
// statement anew. They are prepared once on the store's *sql.DB, before
// the first write transaction begins (database/sql then prepares each one
// again on every connection that runs it, also a new one after a lost
// connection), bound to a transaction with (*sql.Tx).StmtContext, and
// closed by Store.Close. Bun's path serves instead on a host's SQLite
// handle (its write transactions run on a *sql.Conn, which cannot bind a
// prepared statement), on a store with query hooks (AddQueryHook: the
// hooks see every statement), after Close, and while the statements
// cannot be prepared (before the schema is migrated), with the same
// outcomes in more statements.

// stmt names one prepared statement.
type stmt int

const (
	stLockPartner  stmt = iota // the partner's stored fields, locked on PostgreSQL
	stTakeUnits                // SQLite: the conditional UPDATE
	stLicensePool              // SQLite: the licence and its pool's settings
	stInsertAlloc              // SQLite: the allocation, when the licence and customer are the partner's
	stAllocate                 // PostgreSQL: all three and the audit entry, in one statement
	stInsertAudit              // SQLite: an audit entry
	stInsertOutbox             // one outbox message
	stCount
)

// partnerColumns are the stored fields LockPartner reads, in scanPartner's
// order.
const partnerColumns = `id, type, status, company_name, company_key, name_sort, city, state, country, contacts,
	sign_in_url, pool_refill, minimum_licenses, remote_manager, version, created_at, updated_at, canceled_at`

// licenseColumns are a licence's columns, in licenseDest's order.
const licenseColumns = `id, partner_id, product_id, product, unit_type, kind, units, used, start_at, expiry_at,
	disabled, disabled_at, grant_key, granted_units, granted_expiry_at, granted_kind, origin, version, created_at, updated_at`

// poolColumns are a pool setting's columns after a LEFT JOIN as ps, in
// poolDest's order.
const poolColumns = `ps.partner_id, ps.product_id, ps.minimum, ps.cap, ps.auto_refill, ps.updated_at`

const insertAllocSQL = `INSERT INTO partnerkit_allocations (license_id, partner_id, customer_id, units, created_at)
	SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM partnerkit_licenses WHERE id = ? AND partner_id = ?)
	AND EXISTS (SELECT 1 FROM partnerkit_customers WHERE id = ? AND partner_id = ?)`

// allocateSQL is AllocateUnits on PostgreSQL in one statement: u takes the
// units (the same conditional UPDATE as AdjustUsed), a records the
// allocation when the licence and the customer are the partner's, au the
// audit entry of a, its target and changes written from the templates
// $8 and $10 with the allocation's id and the licence's used units before
// and after in place of the markers $9, $11 and $12. It returns the
// licence after the change, the two ids (NULL when nothing was recorded)
// and the pool's settings. Parameters: $1 units, $2 licence, $3 partner,
// $4 customer, $5 instant, $6 actor, $7 action.
var allocateSQL = `WITH u AS (
	UPDATE partnerkit_licenses SET used = used + $1 WHERE id = $2 AND used + $1 <= units AND used + $1 >= 0
	RETURNING ` + licenseColumns + `
), a AS (
	INSERT INTO partnerkit_allocations (license_id, partner_id, customer_id, units, created_at)
	SELECT u.id, $3, $4, $1, $5 FROM u
	WHERE u.partner_id = $3 AND EXISTS (SELECT 1 FROM partnerkit_customers WHERE id = $4 AND partner_id = $3)
	RETURNING id
), au AS (
	INSERT INTO partnerkit_audit (partner_id, actor, action, target, changes, at)
	SELECT $3, $6, $7, replace($8::text, $9::text, a.id::text),
		replace(replace($10::text, $11::text, (u.used - $1)::text), $12::text, u.used::text)::json, $5 FROM a, u
	RETURNING id
)
SELECT ` + prefixed("u.", licenseColumns) + `, a.id, au.id, ` + poolColumns + `
FROM u LEFT JOIN a ON true LEFT JOIN au ON true
LEFT JOIN partnerkit_pool_settings AS ps ON ps.partner_id = $3 AND ps.product = u.product AND ps.unit_type = u.unit_type`

// prefixed qualifies each of a list of columns.
func prefixed(p, cols string) string {
	fs := strings.Split(cols, ",")
	for i, f := range fs {
		fs[i] = p + strings.TrimSpace(f)
	}
	return strings.Join(fs, ", ")
}

// stmtSQL returns the statements of a dialect; "" where it has none.
func stmtSQL(name dialect.Name) [stCount]string {
	var q [stCount]string
	q[stLockPartner] = `SELECT ` + partnerColumns + ` FROM partnerkit_partners WHERE id = ?`
	q[stInsertAudit] = `INSERT INTO partnerkit_audit (partner_id, actor, action, target, changes, at) VALUES (?, ?, ?, ?, ?, ?)`
	q[stInsertOutbox] = `INSERT INTO partnerkit_outbox (kind, payload, created_at, attempts, next_at, claim, locked_until, delivered_at, last_error)
	VALUES (?, ?, ?, 0, NULL, '', NULL, NULL, '')`
	if name == dialect.PG {
		q[stLockPartner] += ` FOR UPDATE`
		q[stInsertOutbox] += ` RETURNING id`
		for i := range q {
			q[i] = numbered(q[i])
		}
		q[stAllocate] = allocateSQL
		q[stInsertAudit] = "" // the audit entry is part of stAllocate
		return q
	}
	q[stTakeUnits] = `UPDATE partnerkit_licenses SET used = used + ? WHERE id = ? AND used + ? <= units AND used + ? >= 0`
	q[stLicensePool] = `SELECT ` + prefixed("l.", licenseColumns) + `, ` + poolColumns + ` FROM partnerkit_licenses AS l
	LEFT JOIN partnerkit_pool_settings AS ps ON ps.partner_id = ? AND ps.product = l.product AND ps.unit_type = l.unit_type
	WHERE l.id = ?`
	q[stInsertAlloc] = insertAllocSQL
	return q
}

// numbered turns ? placeholders into PostgreSQL's $1, $2...
func numbered(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// stmts holds a store's prepared statements.
type stmts struct {
	mu     sync.Mutex
	set    atomic.Pointer[[stCount]*sql.Stmt] // nil until prepared
	closed bool
	off    atomic.Bool // query hooks, or closed: bun's path only
}

// prepare prepares the statements on db once; until it succeeds, each
// call tries again.
func (s *Store) prepare(ctx context.Context) {
	st := s.stmts
	if st == nil || st.off.Load() || st.set.Load() != nil {
		return
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closed || st.set.Load() != nil {
		return
	}
	var set [stCount]*sql.Stmt
	for i, q := range stmtSQL(s.name) {
		if q == "" {
			continue
		}
		p, err := s.db.DB.PrepareContext(ctx, q)
		if err != nil {
			for _, p := range set {
				if p != nil {
					p.Close()
				}
			}
			return // bun's path, this time
		}
		set[i] = p
	}
	st.set.Store(&set)
}

// close closes the prepared statements; the store goes on on bun's path.
func (st *stmts) close() error {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.closed = true
	st.off.Store(true)
	set := st.set.Swap(nil)
	if set == nil {
		return nil
	}
	var errs []error
	for _, p := range set {
		if p != nil {
			errs = append(errs, p.Close())
		}
	}
	return errors.Join(errs...)
}

// prepared returns statement i bound to the transaction, or nil when bun's
// path serves (see above).
func (t *txn) prepared(ctx context.Context, i stmt) *sql.Stmt {
	if t.bound[i] != nil {
		return t.bound[i]
	}
	st := t.s.stmts
	if st == nil || st.off.Load() {
		return nil
	}
	set := st.set.Load()
	if set == nil || set[i] == nil {
		return nil
	}
	tx, ok := t.db.(bun.Tx)
	if !ok || tx.Tx == nil {
		return nil
	}
	t.bound[i] = tx.StmtContext(ctx, set[i])
	return t.bound[i]
}

// timeArg is an instant as the store writes it: on SQLite the text bun
// writes (UTC, microseconds, "+00:00"), so that stored instants compare
// as text; on PostgreSQL the time itself.
func (s *Store) timeArg(t time.Time) any {
	if s.name == dialect.SQLite {
		return t.UTC().Format("2006-01-02 15:04:05.999999-07:00")
	}
	return t.UTC()
}

// nullID is an id column's argument: NULL for 0.
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

func scanPartner(row *sql.Row) (partnerRow, error) {
	var r partnerRow
	var canceled sql.NullTime
	err := row.Scan(&r.ID, &r.Type, &r.Status, &r.CompanyName, &r.CompanyKey, &r.NameSort, &r.City, &r.State, &r.Country,
		&r.Contacts, &r.SignInURL, &r.PoolRefill, &r.MinimumLicenses, &r.RemoteManager, &r.Version, &r.CreatedAt, &r.UpdatedAt, &canceled)
	r.CanceledAt = canceled.Time
	return r, err
}

// licenseDest returns the scan destinations of licenseColumns into r, and
// a func to call after the scan.
func licenseDest(r *licenseRow) ([]any, func()) {
	var disabledAt sql.NullTime
	return []any{&r.ID, &r.PartnerID, &r.ProductID, &r.Product, &r.UnitType, &r.Kind, &r.Units, &r.Used, &r.StartAt, &r.ExpiryAt,
			&r.Disabled, &disabledAt, &r.GrantKey, &r.GrantedU, &r.GrantedExp, &r.GrantedK, &r.Origin, &r.Version, &r.CreatedAt, &r.UpdatedAt},
		func() { r.DisabledAt = disabledAt.Time }
}

// poolDest holds the scanned poolColumns; settings returns them, or
// none when the LEFT JOIN found no row.
type poolDest struct {
	partnerID, productID, minimum, cap sql.NullInt64
	autoRefill                         sql.NullBool
	updatedAt                          sql.NullTime
}

func (d *poolDest) dest() []any {
	return []any{&d.partnerID, &d.productID, &d.minimum, &d.cap, &d.autoRefill, &d.updatedAt}
}

func (d *poolDest) settings(l license.License) []partner.PoolSettings {
	if !d.partnerID.Valid {
		return []partner.PoolSettings{}
	}
	s := partner.PoolSettings{PartnerID: d.partnerID.Int64, Product: l.Product, UnitType: l.UnitType, ProductID: d.productID.Int64,
		Cap: d.cap.Int64, AutoRefill: d.autoRefill.Bool, UpdatedAt: d.updatedAt.Time.UTC()}
	if d.minimum.Valid {
		s.Minimum, s.MinimumSet = d.minimum.Int64, true
	}
	return []partner.PoolSettings{s}
}

// lockPartner is LockPartner's prepared read, or ok false for bun's path.
func (t *txn) lockPartner(ctx context.Context, id int64) (p partner.Partner, ok bool, err error) {
	ps := t.prepared(ctx, stLockPartner)
	if ps == nil {
		return p, false, nil
	}
	row, err := scanPartner(ps.QueryRowContext(ctx, id))
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return p, true, notFound("partner", id)
		}
		return p, true, t.dbErr(err)
	}
	p, err = row.toPartner()
	return p, true, err
}

// The markers of allocateSQL's templates: values no allocation id or
// used units can take (both are at least 0), each printed with the same
// number of digits so that none is part of another.
const (
	markAllocID = -8_646_911_284_551_352_321
	markUsed    = -7_493_989_779_944_505_343
)

// AllocateUnits implements partner.UnitsAllocator: on PostgreSQL in one
// statement (allocateSQL), on SQLite in four prepared ones (the
// conditional UPDATE, the licence with its pool's settings, the
// allocation's INSERT ... SELECT ... WHERE EXISTS, the audit INSERT), and
// through bun's path as AdjustUsed, CreateAllocation, AppendAudit and a
// read of the pool's settings when the statements are not prepared.
func (t *txn) AllocateUnits(ctx context.Context, in partner.AllocateUnitsParams) (partner.AllocatedUnits, error) {
	if err := t.check(ctx); err != nil {
		return partner.AllocatedUnits{}, err
	}
	a := in.Allocation
	if a.Units < 1 {
		return partner.AllocatedUnits{}, partner.NewError(partner.ErrInvalid, "units", "must be at least 1")
	}
	if t.s.name == dialect.PG {
		if ps := t.prepared(ctx, stAllocate); ps != nil {
			return t.allocatePG(ctx, ps, in)
		}
	} else if take := t.prepared(ctx, stTakeUnits); take != nil {
		return t.allocateSQLite(ctx, take, in)
	}
	return t.allocateBun(ctx, in)
}

// allocateBun is AllocateUnits through the Tx's other methods.
func (t *txn) allocateBun(ctx context.Context, in partner.AllocateUnitsParams) (partner.AllocatedUnits, error) {
	a := in.Allocation
	l, err := t.AdjustUsed(ctx, a.LicenseID, a.Units)
	if err != nil {
		return partner.AllocatedUnits{License: l}, err
	}
	out := partner.AllocatedUnits{License: l}
	if err := t.CreateAllocation(ctx, &a); err != nil {
		if errors.Is(err, partner.ErrNotFound) {
			return out, nil
		}
		return out, err
	}
	out.Allocation = a
	e := in.Audit(a, l)
	if err := t.AppendAudit(ctx, &e); err != nil {
		return out, err
	}
	out.Audit = e
	var rows []poolSettingsRow
	if err := t.db.NewSelect().Model(&rows).Where("ps.partner_id = ? AND ps.product = ? AND ps.unit_type = ?",
		a.PartnerID, l.Product, l.UnitType).Scan(ctx); err != nil {
		return out, t.dbErr(err)
	}
	out.Pool = []partner.PoolSettings{}
	for i := range rows {
		out.Pool = append(out.Pool, rows[i].toSettings())
	}
	return out, nil
}

// allocateSQLite is AllocateUnits on SQLite's prepared statements, each
// run with Exec but the read: SQLite answers a statement with RETURNING
// through the driver's slower query path.
func (t *txn) allocateSQLite(ctx context.Context, take *sql.Stmt, in partner.AllocateUnitsParams) (partner.AllocatedUnits, error) {
	a := in.Allocation
	read, ins, audit := t.prepared(ctx, stLicensePool), t.prepared(ctx, stInsertAlloc), t.prepared(ctx, stInsertAudit)
	if read == nil || ins == nil || audit == nil {
		return t.allocateBun(ctx, in)
	}
	res, err := take.ExecContext(ctx, a.Units, a.LicenseID, a.Units, a.Units)
	if err != nil {
		return partner.AllocatedUnits{}, t.dbErr(err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		if err != nil {
			return partner.AllocatedUnits{}, t.dbErr(err)
		}
		l, err := t.adjustFailed(ctx, a.LicenseID, a.Units)
		return partner.AllocatedUnits{License: l}, err
	}
	var lr licenseRow
	var pool poolDest
	dest, done := licenseDest(&lr)
	if err := read.QueryRowContext(ctx, a.PartnerID, a.LicenseID).Scan(append(dest, pool.dest()...)...); err != nil {
		return partner.AllocatedUnits{}, t.dbErr(err)
	}
	done()
	out := partner.AllocatedUnits{License: lr.toLicense()}
	out.Pool = pool.settings(out.License)
	at := t.s.timeArg(a.CreatedAt)
	res, err = ins.ExecContext(ctx, a.LicenseID, a.PartnerID, a.CustomerID, a.Units, at, a.LicenseID, a.PartnerID, a.CustomerID, a.PartnerID)
	if err != nil {
		return out, t.dbErr(err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return out, t.dbErr(err) // not the partner's: no allocation
	}
	if a.ID, err = res.LastInsertId(); err != nil {
		return out, t.dbErr(err)
	}
	a.CreatedAt = a.CreatedAt.UTC()
	out.Allocation = a
	e := in.Audit(a, out.License)
	row, err := toAuditRow(&e)
	if err != nil {
		return out, err
	}
	res, err = audit.ExecContext(ctx, nullID(row.PartnerID), row.Actor, row.Action, row.Target, row.Changes, t.s.timeArg(row.At))
	if err != nil {
		return out, t.dbErr(err)
	}
	if e.ID, err = res.LastInsertId(); err != nil {
		return out, t.dbErr(err)
	}
	out.Audit = e
	return out, nil
}

// allocatePG is AllocateUnits on PostgreSQL: allocateSQL, with the audit
// entry in.Audit returns for the markers as its template. The entry
// in.Audit returns for the values written is then checked against the
// template filled with them, so that the stored entry is the one the
// caller meant: a mismatch fails with an error.
func (t *txn) allocatePG(ctx context.Context, ps *sql.Stmt, in partner.AllocateUnitsParams) (partner.AllocatedUnits, error) {
	a := in.Allocation
	markBefore := int64(markUsed) - a.Units
	tmpl := in.Audit(license.Allocation{ID: markAllocID, LicenseID: a.LicenseID, PartnerID: a.PartnerID, CustomerID: a.CustomerID,
		Units: a.Units, CreatedAt: a.CreatedAt}, license.License{ID: a.LicenseID, PartnerID: a.PartnerID, Used: markUsed})
	trow, err := toAuditRow(&tmpl)
	if err != nil {
		return partner.AllocatedUnits{}, err
	}
	idText, beforeText, usedText := strconv.FormatInt(markAllocID, 10), strconv.FormatInt(markBefore, 10), strconv.FormatInt(markUsed, 10)

	var lr licenseRow
	var pool poolDest
	var allocID, auditID sql.NullInt64
	dest, done := licenseDest(&lr)
	dest = append(append(dest, &allocID, &auditID), pool.dest()...)
	at := a.CreatedAt.UTC()
	err = ps.QueryRowContext(ctx, a.Units, a.LicenseID, a.PartnerID, a.CustomerID, at, trow.Actor, trow.Action,
		trow.Target, idText, trow.Changes, beforeText, usedText).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) { // no units taken: nothing was written
		l, err := t.adjustFailed(ctx, a.LicenseID, a.Units)
		return partner.AllocatedUnits{License: l}, err
	}
	if err != nil {
		return partner.AllocatedUnits{}, t.dbErr(err)
	}
	done()
	out := partner.AllocatedUnits{License: lr.toLicense()}
	out.Pool = pool.settings(out.License)
	if !allocID.Valid {
		return out, nil // not the partner's: no allocation
	}
	a.ID, a.CreatedAt = allocID.Int64, at
	out.Allocation = a
	e := in.Audit(a, out.License)
	row, err := toAuditRow(&e)
	if err != nil {
		return out, err
	}
	fill := strings.NewReplacer(beforeText, strconv.FormatInt(out.License.Used-a.Units, 10), usedText, strconv.FormatInt(out.License.Used, 10))
	if !auditID.Valid || row.Changes != fill.Replace(trow.Changes) ||
		row.Target != strings.ReplaceAll(trow.Target, idText, strconv.FormatInt(a.ID, 10)) ||
		row.PartnerID != a.PartnerID || row.Actor != trow.Actor || row.Action != trow.Action || !row.At.Equal(at) {
		err := fmt.Errorf("bunstore: the audit entry of allocation %d differs from its template: "+
			"AllocateUnitsParams.Audit must depend on the allocation and on the licence's ID and Used only", a.ID)
		if t.failed == nil {
			t.failed = err // the entry written is not the one meant: never commit it
		}
		return out, err
	}
	e.ID = auditID.Int64
	out.Audit = e
	return out, nil
}

// appendOutboxPrepared records msgs one by one with the prepared INSERT,
// in order, so their ids ascend; ok false for bun's path.
func (t *txn) appendOutboxPrepared(ctx context.Context, msgs []partner.OutboxMessage) (ok bool, err error) {
	ps := t.prepared(ctx, stInsertOutbox)
	if ps == nil {
		return false, nil
	}
	for i := range msgs {
		m := &msgs[i]
		at := outboxTime(m.CreatedAt)
		var id int64
		if t.s.name == dialect.PG {
			err = ps.QueryRowContext(ctx, string(m.Kind), string(m.Payload), at).Scan(&id)
		} else {
			var res sql.Result
			if res, err = ps.ExecContext(ctx, string(m.Kind), string(m.Payload), t.s.timeArg(at)); err == nil {
				id, err = res.LastInsertId()
			}
		}
		if err != nil {
			return true, t.dbErr(err)
		}
		m.ID, m.CreatedAt = id, at
		m.Attempts, m.NextAt, m.Claim, m.LockedUntil, m.DeliveredAt, m.LastError = 0, time.Time{}, "", time.Time{}, time.Time{}, ""
	}
	return true, nil
}
