package bunstore

import (
	"context"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/partnerkit/partnerkit/partner"
)

// The derived figures of a partner, as SQL over partnerkit_partners AS p:
// correlated subqueries on indexed columns, computed for the rows a
// statement returns (or, for an order or a filter that needs them, for
// the rows it considers).
const (
	customersSQL = "(SELECT count(*) FROM partnerkit_customers AS c WHERE c.partner_id = p.id)"
	// provisionedSQL and usedSQL sum all the partner's licences (disabled
	// and out of their dates included) from the totals the database keeps
	// (partnerkit_pool_totals, see the migration 20261216000001_pool_totals):
	// a few rows a partner, however many licences it holds.
	provisionedSQL = "(SELECT coalesce(sum(t.units), 0) FROM partnerkit_pool_totals AS t WHERE t.partner_id = p.id)"
	usedSQL        = "(SELECT coalesce(sum(t.used), 0) FROM partnerkit_pool_totals AS t WHERE t.partner_id = p.id)"
	// usageSQL is the share of units used in millionths, in integers.
	usageSQL = "(SELECT CASE WHEN coalesce(sum(t.units), 0) = 0 THEN 0 ELSE " +
		"CAST(sum(t.used) AS BIGINT) * 1000000 / CAST(sum(t.units) AS BIGINT) END " +
		"FROM partnerkit_pool_totals AS t WHERE t.partner_id = p.id)"
	statusRankSQL = "CASE p.status WHEN 'active' THEN 0 WHEN 'suspended' THEN 1 ELSE 2 END"
	// usableSQL: a licence l that may be given to customers at ? (twice).
	usableSQL = "l.disabled = ? AND l.start_at <= ? AND l.expiry_at > ?"
	// usableSumsSQL are the partner's usable licences (usableSQL) summed
	// without reading them, as rows (product, unit_type, product_id, n,
	// units, used) to be summed by pool: the totals of its licences not
	// disabled, less each licence not disabled that is expired (by range
	// in partnerkit_licenses_partner_expiry) or not started (by range in
	// partnerkit_licenses_partner_start). Its cost grows with the
	// partner's pools and its licences out of their dates, not with its
	// usable ones. The partner is ?, or p.id in a correlated subquery;
	// arguments: usableSumsArgs.
	usableSumsSQL = "SELECT t.product, t.unit_type, t.product_id, t.licenses AS n, t.units, t.used " +
		"FROM partnerkit_pool_totals AS t WHERE t.partner_id = %[1]s AND t.disabled = ? " +
		"UNION ALL SELECT l.product, l.unit_type, l.product_id, -1, -l.units, -l.used " +
		"FROM partnerkit_licenses AS l WHERE l.partner_id = %[1]s AND l.disabled = ? AND l.expiry_at <= ? " +
		"UNION ALL SELECT l.product, l.unit_type, l.product_id, -1, -l.units, -l.used " +
		"FROM partnerkit_licenses AS l WHERE l.partner_id = %[1]s AND l.disabled = ? AND l.start_at > ? AND l.expiry_at > ?"
	// expiringWhere: a licence l Expiring soon between ? and ?.
	expiringWhere = "l.partner_id = p.id AND l.disabled = ? AND l.expiry_at > ? AND l.expiry_at < ?"
	expiringSQL   = "(SELECT count(*) FROM partnerkit_licenses AS l WHERE " + expiringWhere + ")"
	expiredSQL    = "(SELECT count(*) FROM partnerkit_licenses AS l WHERE l.partner_id = p.id AND l.disabled = ? AND l.expiry_at <= ?)"
)

// usableSumsOfP is usableSumsSQL for the partner p.id.
var usableSumsOfP = fmt.Sprintf(usableSumsSQL, "p.id")

// lowStockSQL counts the partner's pools (a product and unit type with
// a usable licence or with settings) whose minimum is above their
// remaining units; the remaining units are never negative, so a
// minimum of 0 is never above them. It sums the usable licences by
// pool from the kept totals (usableSumsSQL), and reads the partner's
// settings twice (a few rows).
var lowStockSQL = "(SELECT count(*) FROM (" +
	"SELECT k.product, k.unit_type, sum(k.n) AS n, sum(k.remaining) AS remaining, sum(k.setting) AS setting FROM (" +
	"SELECT u.product, u.unit_type, u.n, u.units - u.used AS remaining, 0 AS setting FROM (" + usableSumsOfP + ") AS u" +
	" UNION ALL SELECT ps.product, ps.unit_type, 0, 0, 1 FROM partnerkit_pool_settings AS ps WHERE ps.partner_id = p.id) AS k " +
	"GROUP BY k.product, k.unit_type) AS g " +
	"WHERE (g.n > 0 OR g.setting > 0) AND coalesce((SELECT ps.minimum FROM partnerkit_pool_settings AS ps WHERE ps.partner_id = p.id " +
	"AND ps.product = g.product AND ps.unit_type = g.unit_type), p.minimum_licenses) > g.remaining)"

// usableSumsArgs are the arguments of usableSumsSQL at now, for the
// partner id when it is not 0 (usableSumsSQL with ?), else for p.id.
func usableSumsArgs(id int64, now time.Time) []any {
	now = now.UTC()
	if id == 0 {
		return []any{false, false, now, false, now, now}
	}
	return []any{id, false, id, false, now, id, false, now, now}
}

func lowStockArgs(at partner.AsOf) []any {
	return usableSumsArgs(0, at.Now)
}

func expiringArgs(at partner.AsOf) []any {
	return []any{false, at.Now.UTC(), at.Now.Add(at.Window).UTC()}
}

// partnerSelect selects partners with their derived figures; with at, the
// licence figures too (the low pools unless at.NoLowStock).
func (r *reader) partnerSelect(rows any, at *partner.AsOf) *bun.SelectQuery {
	q := r.db.NewSelect().Model(rows).ColumnExpr("p.*").
		ColumnExpr(customersSQL + " AS customers").
		ColumnExpr(provisionedSQL + " AS units_provisioned").
		ColumnExpr(usedSQL + " AS units_used")
	if at != nil {
		if !at.NoLowStock {
			q = q.ColumnExpr(lowStockSQL+" AS low_stock_pools", lowStockArgs(*at)...)
		}
		q = q.ColumnExpr(expiringSQL+" AS expiring_licenses", expiringArgs(*at)...).
			ColumnExpr(expiredSQL+" AS expired_licenses", false, at.Now.UTC())
	}
	return q
}

// filterPartners applies f's conditions, at at. fts says whether the name
// search may use SQLite's FTS5 table (reader.hasFTS).
func filterPartners(q *bun.SelectQuery, f partner.Filter, at partner.AsOf, fts bool) *bun.SelectQuery {
	if f.Status != "" {
		q = q.Where("p.status = ?", string(f.Status))
	}
	if f.Type != "" {
		q = q.Where("p.type = ?", string(f.Type))
	}
	if f.Name != "" {
		// The folded name contains the folded query: through the trigram
		// index when there is one and the query is long enough for it
		// (see 20261215000001_search_index.go), else by scanning the keys.
		key := partner.FoldName(f.Name)
		if fts && indexable(key) {
			q = q.Where("p.id IN (SELECT rowid FROM "+searchFTS+" WHERE "+searchFTS+" MATCH ?)", ftsPhrase(key))
		} else {
			q = q.Where(`p.company_key LIKE ? ESCAPE '\'`, "%"+likeEscaper.Replace(key)+"%")
		}
	}
	if len(f.IDs) > 0 {
		q = q.Where("p.id IN (?)", bun.List(f.IDs))
	}
	if f.ProductID != 0 {
		q = q.Where("EXISTS (SELECT 1 FROM partnerkit_licenses AS l WHERE l.partner_id = p.id AND l.product_id = ?)", f.ProductID)
	}
	low := lowStockSQL + " > 0"
	expiring := "EXISTS (SELECT 1 FROM partnerkit_licenses AS l WHERE " + expiringWhere + ")"
	switch f.Attention {
	case partner.AttentionLowStock:
		q = q.Where(low, lowStockArgs(at)...)
	case partner.AttentionExpiring:
		q = q.Where(expiring, expiringArgs(at)...)
	case partner.AttentionAny:
		q = q.Where("("+low+" OR "+expiring+")", append(lowStockArgs(at), expiringArgs(at)...)...)
	}
	return q
}

// sortKey is one key of the partners' order: an SQL expression over p,
// its arguments, its direction, and, for a keyset page, the value of the
// partner the page comes after.
type sortKey struct {
	expr string
	args []any
	desc bool
	val  any
}

// sortKeys are f's order (see partner.Reader.Partners), with the values
// of after when it is not nil.
func sortKeys(f partner.Filter, after *partner.Partner) []sortKey {
	var a partner.Partner
	if after != nil {
		a = *after
	}
	id := sortKey{"p.id", nil, false, a.ID}
	name := sortKey{"p.name_sort", nil, false, partner.NameSortKey(a.Profile.CompanyName)}
	var first sortKey
	switch f.Sort {
	case partner.SortID:
		id.desc = f.Desc
		return []sortKey{id}
	case partner.SortName:
		name.desc = f.Desc
		return []sortKey{name, id}
	case partner.SortType:
		first = sortKey{"p.type", nil, f.Desc, string(a.Type)}
	case partner.SortStatus:
		first = sortKey{statusRankSQL, nil, f.Desc, map[partner.Status]int{partner.Active: 0, partner.Suspended: 1}[a.Status]}
		if a.Status == partner.Canceled {
			first.val = 2
		}
	case partner.SortCustomers:
		first = sortKey{customersSQL, nil, f.Desc, a.Customers}
	case partner.SortUsage:
		var ppm int64
		if a.UnitsProvisioned > 0 {
			ppm = a.UnitsUsed * 1_000_000 / a.UnitsProvisioned
		}
		first = sortKey{usageSQL, nil, f.Desc, ppm}
	case partner.SortCreated:
		first = sortKey{"p.created_at", nil, f.Desc, a.CreatedAt.UTC()}
	}
	return []sortKey{first, name, id}
}

// order applies keys as the query's ORDER BY.
func order(q *bun.SelectQuery, keys []sortKey) *bun.SelectQuery {
	for _, k := range keys {
		dir := " ASC"
		if k.desc {
			dir = " DESC"
		}
		q = q.OrderExpr(k.expr+dir, k.args...)
	}
	return q
}

// after restricts q to the rows that come after the keys' values in their
// order: (k1 > v1) OR (k1 = v1 AND ((k2 > v2) OR (k2 = v2 AND …))), with
// < for a descending key.
func after(q *bun.SelectQuery, keys []sortKey) *bun.SelectQuery {
	var cond string
	var args []any
	for i := len(keys) - 1; i >= 0; i-- {
		k := keys[i]
		op := " > ?"
		if k.desc {
			op = " < ?"
		}
		kargs := append(append([]any{}, k.args...), k.val)
		if cond == "" {
			cond, args = k.expr+op, kargs
			continue
		}
		cond = "(" + k.expr + op + " OR (" + k.expr + " = ? AND " + cond + "))"
		args = append(append(append([]any{}, kargs...), kargs...), args...)
	}
	return q.Where(cond, args...)
}

func partnersOf(rows []partnerRow) ([]partner.Partner, error) {
	out := make([]partner.Partner, len(rows))
	for i := range rows {
		var err error
		if out[i], err = rows[i].toPartner(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (r *reader) Partners(ctx context.Context, f partner.Filter, at partner.AsOf) ([]partner.Partner, int, error) {
	if err := r.check(ctx); err != nil {
		return nil, 0, err
	}
	// The page's ids come first, in f's order, so the derived figures are
	// computed for the page's rows only (and, for an order or a filter
	// that needs one, that figure for the rows it considers).
	fts, err := r.hasFTS(ctx)
	if err != nil {
		return nil, 0, err
	}
	keys := sortKeys(f, nil)
	ids := window(order(filterPartners(r.db.NewSelect().Model((*partnerRow)(nil)).Column("p.id"), f, at, fts), keys), f.Page)
	var rows []partnerRow
	if err := order(r.partnerSelect(&rows, &at).Where("p.id IN (?)", ids), keys).Scan(ctx); err != nil {
		return nil, 0, r.dbErr(err)
	}
	total, err := r.pagedCount(ctx, len(rows), f.Page, filterPartners(r.db.NewSelect().Model((*partnerRow)(nil)), f, at, fts).Count)
	if err != nil {
		return nil, 0, err
	}
	out, err := partnersOf(rows)
	return out, total, err
}

func (r *reader) PartnersAfter(ctx context.Context, f partner.Filter, at partner.AsOf, last *partner.Partner, limit int) ([]partner.Partner, error) {
	if err := r.check(ctx); err != nil {
		return nil, err
	}
	fts, err := r.hasFTS(ctx)
	if err != nil {
		return nil, err
	}
	keys := sortKeys(f, last)
	q := filterPartners(r.db.NewSelect().Model((*partnerRow)(nil)).Column("p.id"), f, at, fts)
	if last != nil {
		q = after(q, keys)
	}
	ids := order(q, keys).Limit(int64(limit))
	var rows []partnerRow
	if err := order(r.partnerSelect(&rows, &at).Where("p.id IN (?)", ids), keys).Scan(ctx); err != nil {
		return nil, r.dbErr(err)
	}
	return partnersOf(rows)
}
