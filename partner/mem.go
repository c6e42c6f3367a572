package partner

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/serviceplan"
)

// errTxDone is returned when a transaction is used after its function
// returned.
var errTxDone = errors.New("partner: transaction already finished")

// newMemoryStore returns the in-memory Store: complete, safe for
// concurrent use, and lost when the process ends. Writers are serialized;
// readers run in parallel with each other. It is what NewManager uses when
// no store is configured; memstore.New is its public constructor.
func newMemoryStore() Store {
	return &memStore{
		partners:     map[int64]Partner{},
		sortKeys:     map[int64]string{},
		licenses:     map[int64]license.License{},
		accounts:     map[int64]account.Account{},
		accountNames: map[string]int64{},
		plans:        map[int64]serviceplan.Plan{},
		planNames:    map[string]int64{},
		nfr:          map[nfrKey]int64{},
		assigned:     map[[2]int64]time.Time{},
		customers:    map[int64]Customer{},
		allocations:  map[int64]license.Allocation{},
		audit:        map[int64][]AuditEntry{},
		licByP:       map[int64]map[int64]struct{}{},
		accByP:       map[int64]map[int64]struct{}{},
		custByP:      map[int64]map[int64]struct{}{},
		allocByP:     map[int64]map[int64]struct{}{},
		planByP:      map[int64]map[int64]struct{}{},
		seq:          map[string]int64{},
		products:     map[int64]license.Product{},
		productNames: map[string]int64{},
		poolSets:     map[int64]map[[2]string]PoolSettings{},
		notices:      map[noticeKey]Notice{},
		noticesByL:   map[int64]map[noticeKey]struct{}{},
		outbox:       map[int64]OutboxMessage{},
		outboxDue:    map[int64]struct{}{},
		runs:         map[string]time.Time{},
		bulkRuns:     map[string]memBulkRun{},
		bulkItems:    map[string]map[int64]BulkItem{},
	}
}

type noticeKey struct {
	license int64
	expiry  time.Time
	days    int
}

func keyOf(licenseID int64, expiry time.Time, days int) noticeKey {
	return noticeKey{licenseID, expiry.UTC(), days}
}

type nfrKey struct {
	product string
	dc      serviceplan.DataCenter
}

type memStore struct {
	mu sync.RWMutex

	partners     map[int64]Partner
	sortKeys     map[int64]string // NameSortKey of each partner's company name
	partnerIDs   []int64          // ascending
	licenses     map[int64]license.License
	accounts     map[int64]account.Account
	accountNames map[string]int64
	plans        map[int64]serviceplan.Plan
	planNames    map[string]int64
	nfr          map[nfrKey]int64
	assigned     map[[2]int64]time.Time
	customers    map[int64]Customer
	allocations  map[int64]license.Allocation
	audit        map[int64][]AuditEntry // by partner, oldest first
	auditLog     []AuditEntry           // every entry, by ascending id

	// per-partner indexes
	licByP, accByP, custByP, allocByP, planByP map[int64]map[int64]struct{}

	seq map[string]int64

	products     map[int64]license.Product
	productNames map[string]int64                     // FoldName(name) → id
	poolSets     map[int64]map[[2]string]PoolSettings // partner → {product, unit type}
	notices      map[noticeKey]Notice                 // keyed by licence, expiry, days
	noticesByL   map[int64]map[noticeKey]struct{}     // licence → its notices
	outbox       map[int64]OutboxMessage              // by id
	outboxDue    map[int64]struct{}                   // the pending messages' ids
	runs         map[string]time.Time                 // periodic task → its next run
	bulkRuns     map[string]memBulkRun                // by key
	bulkItems    map[string]map[int64]BulkItem        // run key → partner → item
}

func (s *memStore) Update(ctx context.Context, fn func(context.Context, Tx) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	tx := &memTx{memView: memView{s: s}}
	defer func() {
		tx.done = true
		if p := recover(); p != nil {
			tx.rollback()
			panic(p)
		}
		if err != nil {
			tx.rollback()
		}
	}()
	err = fn(ctx, tx)
	if err == nil {
		err = ctx.Err() // a canceled context commits nothing
	}
	return err
}

func (s *memStore) View(ctx context.Context, fn func(context.Context, Reader) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	v := &memView{s: s}
	defer func() { v.done = true }()
	return fn(ctx, v)
}

type memView struct {
	s    *memStore
	done bool
}

func (v *memView) check(ctx context.Context) error {
	if v.done {
		return errTxDone
	}
	return ctx.Err()
}

func notFound(what string, id int64) error {
	return NewError(ErrNotFound, "", "%s %d does not exist", what, id)
}

func clonePartner(p Partner) Partner {
	p.Profile.Contacts = slices.Clone(p.Profile.Contacts)
	p.RemoteManager = slices.Clone(p.RemoteManager)
	return p
}

func (v *memView) derive(p Partner) Partner {
	p = clonePartner(p)
	p.Customers = len(v.s.custByP[p.ID])
	p.UnitsProvisioned, p.UnitsUsed = 0, 0
	for id := range v.s.licByP[p.ID] {
		l := v.s.licenses[id]
		p.UnitsProvisioned += l.Units
		p.UnitsUsed += l.Used
	}
	return p
}

func (v *memView) Partner(ctx context.Context, id int64) (Partner, error) {
	if err := v.check(ctx); err != nil {
		return Partner{}, err
	}
	p, ok := v.s.partners[id]
	if !ok {
		return Partner{}, notFound("partner", id)
	}
	return v.derive(p), nil
}

func (v *memView) PartnerRecord(ctx context.Context, id int64) (Partner, error) {
	if err := v.check(ctx); err != nil {
		return Partner{}, err
	}
	p, ok := v.s.partners[id]
	if !ok {
		return Partner{}, notFound("partner", id)
	}
	return clonePartner(p), nil
}

func (v *memView) Pools(ctx context.Context, partnerID int64, now time.Time) ([]Pool, error) {
	if err := v.check(ctx); err != nil {
		return nil, err
	}
	ids, _ := page(v.s.licByP[partnerID], Page{})
	lics := make([]license.License, len(ids))
	for i, id := range ids {
		lics[i] = v.s.licenses[id]
	}
	return poolTotals(lics, now), nil
}

// figures derives a partner's licence figures at at.
func (v *memView) figures(p *Partner, at AsOf) {
	var lics []license.License
	for id := range v.s.licByP[p.ID] {
		lics = append(lics, v.s.licenses[id])
	}
	var sets []PoolSettings
	for _, s := range v.s.poolSets[p.ID] {
		sets = append(sets, s)
	}
	p.LowStockPools, p.ExpiringLicenses, p.ExpiredLicenses = 0, 0, 0
	for _, pool := range poolsOf(lics, sets, p.MinimumLicenses, at.Now) {
		if pool.Low {
			p.LowStockPools++
		}
	}
	for _, l := range lics {
		switch {
		case l.Disabled:
		case !at.Now.Before(l.Expiry):
			p.ExpiredLicenses++
		case l.Expiry.Sub(at.Now) < at.Window:
			p.ExpiringLicenses++
		}
	}
}

// sorted is a partner with the name key it sorts by.
type sorted struct {
	p   Partner
	key string
}

// usagePPM is the share of units used, in millionths, rounded down.
func usagePPM(p Partner) int64 {
	if p.UnitsProvisioned == 0 {
		return 0
	}
	return p.UnitsUsed * 1_000_000 / p.UnitsProvisioned
}

var statusRank = map[Status]int{Active: 0, Suspended: 1, Canceled: 2}

// comparePartners orders a and b as f.Sort and f.Desc say (see
// Reader.Partners).
func comparePartners(f Filter, a, b sorted) int {
	var first int
	switch f.Sort {
	case SortID:
		first = cmp.Compare(a.p.ID, b.p.ID)
	case SortName:
		first = strings.Compare(a.key, b.key)
	case SortType:
		first = strings.Compare(string(a.p.Type), string(b.p.Type))
	case SortStatus:
		first = cmp.Compare(statusRank[a.p.Status], statusRank[b.p.Status])
	case SortCustomers:
		first = cmp.Compare(a.p.Customers, b.p.Customers)
	case SortUsage:
		first = cmp.Compare(usagePPM(a.p), usagePPM(b.p))
	case SortCreated:
		first = a.p.CreatedAt.Compare(b.p.CreatedAt)
	}
	if f.Desc {
		first = -first
	}
	if f.Sort == SortID || f.Sort == SortName {
		return cmp.Or(first, cmp.Compare(a.p.ID, b.p.ID))
	}
	return cmp.Or(first, strings.Compare(a.key, b.key), cmp.Compare(a.p.ID, b.p.ID))
}

// matching returns the partners matching f, with their derived figures
// at at, in f's order.
func (v *memView) matching(f Filter, at AsOf) []sorted {
	name := FoldName(f.Name)
	ids := v.s.partnerIDs
	if len(f.IDs) > 0 {
		ids = f.IDs
	}
	var out []sorted
	for _, id := range ids {
		p, ok := v.s.partners[id]
		if !ok || (f.Status != "" && p.Status != f.Status) || (f.Type != "" && p.Type != f.Type) ||
			(name != "" && !strings.Contains(FoldName(p.Profile.CompanyName), name)) {
			continue
		}
		if f.ProductID != 0 && !v.holds(id, f.ProductID) {
			continue
		}
		p = v.derive(p)
		v.figures(&p, at)
		if f.Attention != 0 && !(f.Attention&AttentionLowStock != 0 && p.LowStockPools > 0 ||
			f.Attention&AttentionExpiring != 0 && p.ExpiringLicenses > 0) {
			continue
		}
		if at.NoLowStock { // the caller counts it (AsOf.NoLowStock)
			p.LowStockPools = 0
		}
		out = append(out, sorted{p, v.s.sortKeys[id]})
	}
	slices.SortFunc(out, func(a, b sorted) int { return comparePartners(f, a, b) })
	return out
}

// holds reports whether the partner has a licence of the product.
func (v *memView) holds(partnerID, productID int64) bool {
	for id := range v.s.licByP[partnerID] {
		if v.s.licenses[id].ProductID == productID {
			return true
		}
	}
	return false
}

func (v *memView) Partners(ctx context.Context, f Filter, at AsOf) ([]Partner, int, error) {
	if err := v.check(ctx); err != nil {
		return nil, 0, err
	}
	all := v.matching(f, at)
	lo := min(f.Offset, len(all))
	hi := len(all)
	if f.Limit > 0 {
		hi = min(lo+f.Limit, hi)
	}
	var out []Partner
	for _, x := range all[lo:hi] {
		out = append(out, x.p)
	}
	return out, len(all), nil
}

func (v *memView) PartnersAfter(ctx context.Context, f Filter, at AsOf, after *Partner, limit int) ([]Partner, error) {
	if err := v.check(ctx); err != nil {
		return nil, err
	}
	all := v.matching(f, at)
	lo := 0
	if after != nil {
		cursor := sorted{*after, NameSortKey(after.Profile.CompanyName)}
		lo, _ = slices.BinarySearchFunc(all, cursor, func(x, c sorted) int {
			if comparePartners(f, x, c) <= 0 {
				return -1
			}
			return 1
		})
	}
	var out []Partner
	for _, x := range all[lo:min(lo+limit, len(all))] {
		out = append(out, x.p)
	}
	return out, nil
}

// page returns the sorted ids of an index, windowed by p.
func page(idx map[int64]struct{}, p Page) ([]int64, int) {
	ids := make([]int64, 0, len(idx))
	for id := range idx {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	total := len(ids)
	if p.Limit == 0 {
		return ids, total
	}
	lo := min(p.Offset, total)
	hi := min(lo+p.Limit, total)
	return ids[lo:hi], total
}

func (v *memView) License(ctx context.Context, id int64) (license.License, error) {
	if err := v.check(ctx); err != nil {
		return license.License{}, err
	}
	l, ok := v.s.licenses[id]
	if !ok {
		return l, notFound("licence", id)
	}
	return l, nil
}

func (v *memView) Licenses(ctx context.Context, partnerID int64, p Page) ([]license.License, int, error) {
	if err := v.check(ctx); err != nil {
		return nil, 0, err
	}
	ids, total := page(v.s.licByP[partnerID], p)
	out := make([]license.License, len(ids))
	for i, id := range ids {
		out[i] = v.s.licenses[id]
	}
	return out, total, nil
}

func (v *memView) LicensesByGrantKey(ctx context.Context, partnerID int64, key string) ([]license.License, error) {
	if err := v.check(ctx); err != nil {
		return nil, err
	}
	ids, _ := page(v.s.licByP[partnerID], Page{})
	var out []license.License
	for _, id := range ids {
		if l := v.s.licenses[id]; key != "" && l.GrantKey == key {
			out = append(out, l)
		}
	}
	return out, nil
}

func (v *memView) Account(ctx context.Context, id int64) (account.Account, error) {
	if err := v.check(ctx); err != nil {
		return account.Account{}, err
	}
	a, ok := v.s.accounts[id]
	if !ok {
		return a, notFound("account", id)
	}
	return a, nil
}

func (v *memView) AccountByName(ctx context.Context, name string) (account.Account, error) {
	if err := v.check(ctx); err != nil {
		return account.Account{}, err
	}
	id, ok := v.s.accountNames[name]
	if !ok {
		return account.Account{}, NewError(ErrNotFound, "", "account %q does not exist", name)
	}
	return v.s.accounts[id], nil
}

func (v *memView) Accounts(ctx context.Context, partnerID int64, p Page) ([]account.Account, int, error) {
	if err := v.check(ctx); err != nil {
		return nil, 0, err
	}
	ids, total := page(v.s.accByP[partnerID], p)
	out := make([]account.Account, len(ids))
	for i, id := range ids {
		out[i] = v.s.accounts[id]
	}
	return out, total, nil
}

func (v *memView) Plan(ctx context.Context, id int64) (serviceplan.Plan, error) {
	if err := v.check(ctx); err != nil {
		return serviceplan.Plan{}, err
	}
	p, ok := v.s.plans[id]
	if !ok {
		return p, notFound("service plan", id)
	}
	return p, nil
}

func (v *memView) Plans(ctx context.Context) ([]serviceplan.Plan, error) {
	if err := v.check(ctx); err != nil {
		return nil, err
	}
	out := make([]serviceplan.Plan, 0, len(v.s.plans))
	for _, p := range v.s.plans {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b serviceplan.Plan) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

func (v *memView) AssignedPlans(ctx context.Context, partnerID int64) ([]AssignedPlan, error) {
	if err := v.check(ctx); err != nil {
		return nil, err
	}
	ids, _ := page(v.s.planByP[partnerID], Page{})
	out := make([]AssignedPlan, len(ids))
	for i, id := range ids {
		out[i] = AssignedPlan{Plan: v.s.plans[id], AssignedAt: v.s.assigned[[2]int64{partnerID, id}]}
	}
	return out, nil
}

func (v *memView) Customer(ctx context.Context, id int64) (Customer, error) {
	if err := v.check(ctx); err != nil {
		return Customer{}, err
	}
	c, ok := v.s.customers[id]
	if !ok {
		return c, notFound("customer", id)
	}
	return c, nil
}

func (v *memView) Customers(ctx context.Context, partnerID int64, f CustomerFilter) ([]Customer, int, error) {
	if err := v.check(ctx); err != nil {
		return nil, 0, err
	}
	ids, _ := page(v.s.custByP[partnerID], Page{})
	name := FoldName(f.Name)
	var out []Customer
	total := 0
	for _, id := range ids {
		c := v.s.customers[id]
		if name != "" && !strings.Contains(FoldName(c.Name), name) {
			continue
		}
		if total >= f.Offset && (f.Limit == 0 || len(out) < f.Limit) {
			out = append(out, c)
		}
		total++
	}
	return out, total, nil
}

func (v *memView) Product(ctx context.Context, id int64) (license.Product, error) {
	if err := v.check(ctx); err != nil {
		return license.Product{}, err
	}
	p, ok := v.s.products[id]
	if !ok {
		return p, notFound("product", id)
	}
	return p, nil
}

func (v *memView) ProductByName(ctx context.Context, name string) (license.Product, error) {
	if err := v.check(ctx); err != nil {
		return license.Product{}, err
	}
	id, ok := v.s.productNames[FoldName(name)]
	if !ok {
		return license.Product{}, NewError(ErrNotFound, "", "no catalogue product is named %q", name)
	}
	return v.s.products[id], nil
}

func (v *memView) Products(ctx context.Context, p Page) ([]license.Product, int, error) {
	if err := v.check(ctx); err != nil {
		return nil, 0, err
	}
	all := make([]license.Product, 0, len(v.s.products))
	for _, x := range v.s.products {
		all = append(all, x)
	}
	slices.SortFunc(all, func(a, b license.Product) int {
		return cmp.Or(strings.Compare(FoldName(a.Name), FoldName(b.Name)), cmp.Compare(a.ID, b.ID))
	})
	total := len(all)
	if p.Limit == 0 {
		return all[min(p.Offset, total):], total, nil
	}
	lo := min(p.Offset, total)
	return all[lo:min(lo+p.Limit, total)], total, nil
}

func (v *memView) PoolSettings(ctx context.Context, partnerID int64) ([]PoolSettings, error) {
	if err := v.check(ctx); err != nil {
		return nil, err
	}
	var out []PoolSettings
	for _, s := range v.s.poolSets[partnerID] {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b PoolSettings) int {
		return cmp.Or(strings.Compare(a.Product, b.Product), strings.Compare(a.UnitType, b.UnitType))
	})
	return out, nil
}

func (v *memView) DueLicenses(ctx context.Context, until time.Time, afterID int64, limit int) ([]license.License, error) {
	if err := v.check(ctx); err != nil {
		return nil, err
	}
	var ids []int64
	for id, l := range v.s.licenses {
		if id <= afterID || l.Disabled || l.Expiry.After(until) || v.s.partners[l.PartnerID].Status == Canceled {
			continue
		}
		if _, done := v.s.notices[keyOf(id, l.Expiry, 0)]; done {
			continue
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if len(ids) > limit {
		ids = ids[:limit]
	}
	out := make([]license.License, len(ids))
	for i, id := range ids {
		out[i] = v.s.licenses[id]
	}
	return out, nil
}

func (v *memView) Notices(ctx context.Context, licenseID int64) ([]Notice, error) {
	if err := v.check(ctx); err != nil {
		return nil, err
	}
	var out []Notice
	for k := range v.s.noticesByL[licenseID] {
		out = append(out, v.s.notices[k])
	}
	slices.SortFunc(out, func(a, b Notice) int { return cmp.Or(a.Expiry.Compare(b.Expiry), cmp.Compare(b.Days, a.Days)) })
	return out, nil
}

func (v *memView) Allocation(ctx context.Context, id int64) (license.Allocation, error) {
	if err := v.check(ctx); err != nil {
		return license.Allocation{}, err
	}
	a, ok := v.s.allocations[id]
	if !ok {
		return a, notFound("allocation", id)
	}
	return a, nil
}

func (v *memView) Allocations(ctx context.Context, f AllocationFilter) ([]license.Allocation, error) {
	if err := v.check(ctx); err != nil {
		return nil, err
	}
	var idx map[int64]struct{}
	switch {
	case f.PartnerID != 0:
		idx = v.s.allocByP[f.PartnerID]
	case f.LicenseID != 0:
		idx = v.s.allocByP[v.s.licenses[f.LicenseID].PartnerID]
	case f.CustomerID != 0:
		idx = v.s.allocByP[v.s.customers[f.CustomerID].PartnerID]
	default:
		return nil, invalidf("allocation filter", "needs a partner, licence or customer")
	}
	ids, _ := page(idx, Page{})
	var out []license.Allocation
	for _, id := range ids {
		a := v.s.allocations[id]
		if (f.PartnerID == 0 || a.PartnerID == f.PartnerID) && (f.LicenseID == 0 || a.LicenseID == f.LicenseID) &&
			(f.CustomerID == 0 || a.CustomerID == f.CustomerID) {
			out = append(out, a)
		}
	}
	return out, nil
}

func (v *memView) Audit(ctx context.Context, partnerID int64, p Page) ([]AuditEntry, int, error) {
	if err := v.check(ctx); err != nil {
		return nil, 0, err
	}
	all := v.s.audit[partnerID]
	total := len(all)
	var out []AuditEntry
	for i := total - 1 - p.Offset; i >= 0 && (p.Limit == 0 || len(out) < p.Limit); i-- {
		out = append(out, cloneEntry(all[i]))
	}
	return out, total, nil
}

// auditMatch reports whether e matches f (its page aside).
func auditMatch(e AuditEntry, f AuditFilter) bool {
	return (f.PartnerID == 0 || e.PartnerID == f.PartnerID) && (!f.Global || e.PartnerID == 0) &&
		(f.Actor == "" || e.Actor == f.Actor) && (f.Action == "" || e.Action == f.Action) &&
		(f.From.IsZero() || !e.At.Before(f.From)) && (f.To.IsZero() || e.At.Before(f.To))
}

// auditSource is the smallest list, by ascending id, that holds every
// entry f may match.
func (v *memView) auditSource(f AuditFilter) []AuditEntry {
	switch {
	case f.PartnerID != 0:
		return v.s.audit[f.PartnerID]
	case f.Global:
		return v.s.audit[0]
	}
	return v.s.auditLog
}

func (v *memView) AuditLog(ctx context.Context, f AuditFilter) ([]AuditEntry, int, error) {
	if err := v.check(ctx); err != nil {
		return nil, 0, err
	}
	var out []AuditEntry
	total := 0
	log := v.auditSource(f)
	for i := len(log) - 1; i >= 0; i-- {
		e := log[i]
		if !auditMatch(e, f) {
			continue
		}
		if total >= f.Offset && (f.Limit == 0 || len(out) < f.Limit) {
			out = append(out, cloneEntry(e))
		}
		total++
	}
	return out, total, nil
}

func (v *memView) AuditBefore(ctx context.Context, f AuditFilter, beforeID int64, limit int) ([]AuditEntry, error) {
	if err := v.check(ctx); err != nil {
		return nil, err
	}
	log := v.auditSource(f)
	if beforeID > 0 { // ids ascend with the slice
		log = log[:sort.Search(len(log), func(i int) bool { return log[i].ID >= beforeID })]
	}
	var out []AuditEntry
	for i := len(log) - 1; i >= 0 && len(out) < limit; i-- {
		if auditMatch(log[i], f) {
			out = append(out, cloneEntry(log[i]))
		}
	}
	return out, nil
}

// memTx is a write transaction: changes go straight into the maps, each
// with an undo step, and rollback replays the undo steps backwards.
type memTx struct {
	memView
	undo []func()
}

func (tx *memTx) rollback() {
	for i := len(tx.undo) - 1; i >= 0; i-- {
		tx.undo[i]()
	}
	tx.undo = nil
}

func put[K comparable, V any](tx *memTx, m map[K]V, k K, v V) {
	old, had := m[k]
	m[k] = v
	tx.undo = append(tx.undo, func() {
		if had {
			m[k] = old
		} else {
			delete(m, k)
		}
	})
}

func del[K comparable, V any](tx *memTx, m map[K]V, k K) {
	old, had := m[k]
	if !had {
		return
	}
	delete(m, k)
	tx.undo = append(tx.undo, func() { m[k] = old })
}

func index(tx *memTx, idx map[int64]map[int64]struct{}, partnerID, id int64) {
	inner := idx[partnerID]
	if inner == nil {
		inner = map[int64]struct{}{}
		idx[partnerID] = inner
	}
	put(tx, inner, id, struct{}{})
}

func (tx *memTx) nextID(table string) int64 {
	tx.s.seq[table]++ // like SQL sequences, ids are not given back on rollback
	return tx.s.seq[table]
}

func (tx *memTx) LockPartner(ctx context.Context, id int64) (Partner, error) {
	if err := tx.check(ctx); err != nil {
		return Partner{}, err
	}
	p, ok := tx.s.partners[id] // writers are already serialized
	if !ok {
		return Partner{}, notFound("partner", id)
	}
	return clonePartner(p), nil
}

func (tx *memTx) CreatePartner(ctx context.Context, p *Partner) error {
	if err := tx.check(ctx); err != nil {
		return err
	}
	p.ID, p.Version = tx.nextID("partner"), 1
	stored := clonePartner(*p)
	stored.Customers, stored.UnitsProvisioned, stored.UnitsUsed = 0, 0, 0
	stored.LowStockPools, stored.ExpiringLicenses, stored.ExpiredLicenses = 0, 0, 0
	put(tx, tx.s.partners, p.ID, stored)
	put(tx, tx.s.sortKeys, p.ID, NameSortKey(p.Profile.CompanyName))
	ids := tx.s.partnerIDs
	tx.s.partnerIDs = append(ids, p.ID)
	tx.undo = append(tx.undo, func() { tx.s.partnerIDs = ids })
	return nil
}

func (tx *memTx) UpdatePartner(ctx context.Context, p *Partner) error {
	if err := tx.check(ctx); err != nil {
		return err
	}
	cur, ok := tx.s.partners[p.ID]
	if !ok {
		return notFound("partner", p.ID)
	}
	if cur.Version != p.Version {
		return NewError(ErrConflict, "", "partner %d is at version %d, not %d", p.ID, cur.Version, p.Version)
	}
	p.Version++
	stored := clonePartner(*p)
	stored.Customers, stored.UnitsProvisioned, stored.UnitsUsed = 0, 0, 0
	stored.LowStockPools, stored.ExpiringLicenses, stored.ExpiredLicenses = 0, 0, 0
	put(tx, tx.s.partners, p.ID, stored)
	if cur.Profile.CompanyName != p.Profile.CompanyName {
		put(tx, tx.s.sortKeys, p.ID, NameSortKey(p.Profile.CompanyName))
	}
	return nil
}

func (tx *memTx) CreateLicense(ctx context.Context, l *license.License) error {
	if err := tx.check(ctx); err != nil {
		return err
	}
	if _, ok := tx.s.partners[l.PartnerID]; !ok {
		return notFound("partner", l.PartnerID)
	}
	if l.Used < 0 || l.Used > l.Units {
		return invalidf("used units", "must be between 0 and the provisioned units")
	}
	if l.Origin == "" {
		l.Origin = license.OriginAssigned
	}
	if l.GrantedKind == "" {
		l.GrantedKind = l.Kind
	}
	l.ID, l.Version = tx.nextID("license"), 1
	put(tx, tx.s.licenses, l.ID, *l)
	index(tx, tx.s.licByP, l.PartnerID, l.ID)
	return nil
}

func (tx *memTx) UpdateLicense(ctx context.Context, l *license.License) error {
	if err := tx.check(ctx); err != nil {
		return err
	}
	cur, ok := tx.s.licenses[l.ID]
	if !ok {
		return notFound("licence", l.ID)
	}
	if cur.Version != l.Version {
		return NewError(ErrConflict, "", "licence %d is at version %d, not %d", l.ID, cur.Version, l.Version)
	}
	if l.Units < cur.Used {
		return NewError(ErrInsufficientUnits, "units", "cannot drop below the %d units in use", cur.Used)
	}
	cur.Units, cur.Kind, cur.Expiry, cur.Disabled, cur.DisabledAt, cur.UpdatedAt = l.Units, l.Kind, l.Expiry, l.Disabled, l.DisabledAt, l.UpdatedAt
	cur.Version++
	put(tx, tx.s.licenses, l.ID, cur)
	*l = cur
	return nil
}

func (tx *memTx) AdjustUsed(ctx context.Context, licenseID, delta int64) (license.License, error) {
	if err := tx.check(ctx); err != nil {
		return license.License{}, err
	}
	cur, ok := tx.s.licenses[licenseID]
	if !ok {
		return cur, notFound("licence", licenseID)
	}
	switch used := cur.Used + delta; {
	case used > cur.Units:
		return cur, NewError(ErrInsufficientUnits, "units", "%d requested, %d remaining", delta, cur.Remaining())
	case used < 0:
		return cur, NewError(ErrConflict, "units", "cannot release %d units, only %d in use", -delta, cur.Used)
	}
	cur.Used += delta
	put(tx, tx.s.licenses, licenseID, cur)
	return cur, nil
}

func (tx *memTx) EndLicenses(ctx context.Context, partnerID int64, at time.Time) (expired, disabled int, err error) {
	if err := tx.check(ctx); err != nil {
		return 0, 0, err
	}
	for id := range tx.s.licByP[partnerID] {
		l := tx.s.licenses[id]
		switch {
		case l.Start.Before(at) && l.Expiry.After(at):
			l.Expiry = at
			expired++
		case !l.Start.Before(at) && !l.Disabled:
			l.Disabled, l.DisabledAt = true, at
			disabled++
		default:
			continue
		}
		l.UpdatedAt = at
		l.Version++
		put(tx, tx.s.licenses, id, l)
	}
	return expired, disabled, nil
}

func (tx *memTx) CreateAccount(ctx context.Context, a *account.Account) error {
	if err := tx.check(ctx); err != nil {
		return err
	}
	if _, ok := tx.s.partners[a.PartnerID]; !ok {
		return notFound("partner", a.PartnerID)
	}
	if _, taken := tx.s.accountNames[a.Name]; taken {
		return NewError(ErrDuplicate, "account name", "%q is already taken", a.Name)
	}
	a.ID, a.Version = tx.nextID("account"), 1
	put(tx, tx.s.accounts, a.ID, *a)
	put(tx, tx.s.accountNames, a.Name, a.ID)
	index(tx, tx.s.accByP, a.PartnerID, a.ID)
	return nil
}

func (tx *memTx) UpdateAccount(ctx context.Context, a *account.Account) error {
	if err := tx.check(ctx); err != nil {
		return err
	}
	cur, ok := tx.s.accounts[a.ID]
	if !ok {
		return notFound("account", a.ID)
	}
	if cur.Version != a.Version {
		return NewError(ErrConflict, "", "account %d is at version %d, not %d", a.ID, cur.Version, a.Version)
	}
	next := *a
	next.Name, next.PartnerID, next.CreatedAt = cur.Name, cur.PartnerID, cur.CreatedAt
	next.Version++
	put(tx, tx.s.accounts, a.ID, next)
	*a = next
	return nil
}

func (tx *memTx) DeleteAccount(ctx context.Context, id int64) error {
	if err := tx.check(ctx); err != nil {
		return err
	}
	a, ok := tx.s.accounts[id]
	if !ok {
		return notFound("account", id)
	}
	del(tx, tx.s.accounts, id)
	del(tx, tx.s.accountNames, a.Name)
	del(tx, tx.s.accByP[a.PartnerID], id)
	return nil
}

func (tx *memTx) DisableAccounts(ctx context.Context, partnerID int64, at time.Time) (int, error) {
	if err := tx.check(ctx); err != nil {
		return 0, err
	}
	n := 0
	for id := range tx.s.accByP[partnerID] {
		a := tx.s.accounts[id]
		if a.Enabled {
			a.Enabled, a.UpdatedAt = false, at
			a.Version++
			put(tx, tx.s.accounts, id, a)
			n++
		}
	}
	return n, nil
}

func (tx *memTx) checkPlanUnique(p *serviceplan.Plan) error {
	if id, taken := tx.s.planNames[FoldName(p.Name)]; taken && id != p.ID {
		return NewError(ErrDuplicate, "name", "a service plan named %q already exists", p.Name)
	}
	if id, taken := tx.s.nfr[nfrKey{p.Product, p.DataCenter}]; p.NFR && taken && id != p.ID {
		return NewError(ErrDuplicate, "nfr", "an NFR plan for %s in %s already exists", p.Product, p.DataCenter)
	}
	return nil
}

func (tx *memTx) CreatePlan(ctx context.Context, p *serviceplan.Plan) error {
	if err := tx.check(ctx); err != nil {
		return err
	}
	if err := tx.checkPlanUnique(p); err != nil {
		return err
	}
	p.ID, p.Version = tx.nextID("plan"), 1
	put(tx, tx.s.plans, p.ID, *p)
	put(tx, tx.s.planNames, FoldName(p.Name), p.ID)
	if p.NFR {
		put(tx, tx.s.nfr, nfrKey{p.Product, p.DataCenter}, p.ID)
	}
	return nil
}

func (tx *memTx) UpdatePlan(ctx context.Context, p *serviceplan.Plan) error {
	if err := tx.check(ctx); err != nil {
		return err
	}
	cur, ok := tx.s.plans[p.ID]
	if !ok {
		return notFound("service plan", p.ID)
	}
	if cur.Version != p.Version {
		return NewError(ErrConflict, "", "service plan %d is at version %d, not %d", p.ID, cur.Version, p.Version)
	}
	if err := tx.checkPlanUnique(p); err != nil {
		return err
	}
	del(tx, tx.s.planNames, FoldName(cur.Name))
	if cur.NFR {
		del(tx, tx.s.nfr, nfrKey{cur.Product, cur.DataCenter})
	}
	p.Version++
	put(tx, tx.s.plans, p.ID, *p)
	put(tx, tx.s.planNames, FoldName(p.Name), p.ID)
	if p.NFR {
		put(tx, tx.s.nfr, nfrKey{p.Product, p.DataCenter}, p.ID)
	}
	return nil
}

func (tx *memTx) CreateProduct(ctx context.Context, p *license.Product) error {
	if err := tx.check(ctx); err != nil {
		return err
	}
	if _, taken := tx.s.productNames[FoldName(p.Name)]; taken {
		return NewError(ErrDuplicate, "name", "is already taken by another product")
	}
	p.ID, p.Version = tx.nextID("product"), 1
	put(tx, tx.s.products, p.ID, *p)
	put(tx, tx.s.productNames, FoldName(p.Name), p.ID)
	return nil
}

func (tx *memTx) UpdateProduct(ctx context.Context, p *license.Product) error {
	if err := tx.check(ctx); err != nil {
		return err
	}
	cur, ok := tx.s.products[p.ID]
	if !ok {
		return notFound("product", p.ID)
	}
	if cur.Version != p.Version {
		return NewError(ErrConflict, "", "product %d is at version %d, not %d", p.ID, cur.Version, p.Version)
	}
	if id, taken := tx.s.productNames[FoldName(p.Name)]; taken && id != p.ID {
		return NewError(ErrDuplicate, "name", "is already taken by another product")
	}
	next := *p
	next.UnitType, next.CreatedAt = cur.UnitType, cur.CreatedAt
	next.Version++
	del(tx, tx.s.productNames, FoldName(cur.Name))
	put(tx, tx.s.products, p.ID, next)
	put(tx, tx.s.productNames, FoldName(next.Name), p.ID)
	if next.Name != cur.Name {
		for id, l := range tx.s.licenses {
			if l.ProductID == p.ID {
				l.Product = next.Name
				put(tx, tx.s.licenses, id, l)
			}
		}
		for pid, sets := range tx.s.poolSets {
			for k, s := range sets {
				if s.ProductID == p.ID {
					del(tx, tx.s.poolSets[pid], k)
					s.Product = next.Name
					put(tx, tx.s.poolSets[pid], [2]string{s.Product, s.UnitType}, s)
				}
			}
		}
	}
	*p = next
	return nil
}

func (tx *memTx) PutPoolSettings(ctx context.Context, s *PoolSettings) error {
	if err := tx.check(ctx); err != nil {
		return err
	}
	if _, ok := tx.s.partners[s.PartnerID]; !ok {
		return notFound("partner", s.PartnerID)
	}
	sets := tx.s.poolSets[s.PartnerID]
	if sets == nil {
		sets = map[[2]string]PoolSettings{}
		put(tx, tx.s.poolSets, s.PartnerID, sets)
	}
	put(tx, sets, [2]string{s.Product, s.UnitType}, *s)
	return nil
}

func (tx *memTx) RecordNotice(ctx context.Context, n Notice) (bool, error) {
	if err := tx.check(ctx); err != nil {
		return false, err
	}
	if _, ok := tx.s.licenses[n.LicenseID]; !ok {
		return false, notFound("licence", n.LicenseID)
	}
	k := keyOf(n.LicenseID, n.Expiry, n.Days)
	if _, dup := tx.s.notices[k]; dup {
		return false, nil
	}
	put(tx, tx.s.notices, k, n)
	idx := tx.s.noticesByL[n.LicenseID]
	if idx == nil {
		idx = map[noticeKey]struct{}{}
		put(tx, tx.s.noticesByL, n.LicenseID, idx)
	}
	put(tx, idx, k, struct{}{})
	return true, nil
}

func (tx *memTx) AssignPlan(ctx context.Context, a serviceplan.Assignment) error {
	if err := tx.check(ctx); err != nil {
		return err
	}
	if _, ok := tx.s.partners[a.PartnerID]; !ok {
		return notFound("partner", a.PartnerID)
	}
	if _, ok := tx.s.plans[a.PlanID]; !ok {
		return notFound("service plan", a.PlanID)
	}
	key := [2]int64{a.PartnerID, a.PlanID}
	if _, dup := tx.s.assigned[key]; dup {
		return NewError(ErrDuplicate, "service plan", "plan %d is already assigned", a.PlanID)
	}
	put(tx, tx.s.assigned, key, a.AssignedAt)
	index(tx, tx.s.planByP, a.PartnerID, a.PlanID)
	return nil
}

func (tx *memTx) UnassignPlan(ctx context.Context, partnerID, planID int64) error {
	if err := tx.check(ctx); err != nil {
		return err
	}
	key := [2]int64{partnerID, planID}
	if _, ok := tx.s.assigned[key]; !ok {
		return NewError(ErrNotFound, "", "service plan %d is not assigned to partner %d", planID, partnerID)
	}
	del(tx, tx.s.assigned, key)
	del(tx, tx.s.planByP[partnerID], planID)
	return nil
}

func (tx *memTx) CreateCustomer(ctx context.Context, c *Customer) error {
	if err := tx.check(ctx); err != nil {
		return err
	}
	if _, ok := tx.s.partners[c.PartnerID]; !ok {
		return notFound("partner", c.PartnerID)
	}
	c.ID = tx.nextID("customer")
	put(tx, tx.s.customers, c.ID, *c)
	index(tx, tx.s.custByP, c.PartnerID, c.ID)
	return nil
}

func (tx *memTx) CreateAllocation(ctx context.Context, a *license.Allocation) error {
	if err := tx.check(ctx); err != nil {
		return err
	}
	if l, ok := tx.s.licenses[a.LicenseID]; !ok || l.PartnerID != a.PartnerID {
		return NewError(ErrNotFound, "", "licence %d does not exist for partner %d", a.LicenseID, a.PartnerID)
	}
	if c, ok := tx.s.customers[a.CustomerID]; !ok || c.PartnerID != a.PartnerID {
		return NewError(ErrNotFound, "", "customer %d does not exist for partner %d", a.CustomerID, a.PartnerID)
	}
	a.ID = tx.nextID("allocation")
	put(tx, tx.s.allocations, a.ID, *a)
	index(tx, tx.s.allocByP, a.PartnerID, a.ID)
	return nil
}

func (tx *memTx) DeleteAllocation(ctx context.Context, id int64) error {
	if err := tx.check(ctx); err != nil {
		return err
	}
	a, ok := tx.s.allocations[id]
	if !ok {
		return notFound("allocation", id)
	}
	del(tx, tx.s.allocations, id)
	del(tx, tx.s.allocByP[a.PartnerID], id)
	return nil
}

func (tx *memTx) AppendAudit(ctx context.Context, e *AuditEntry) error {
	if err := tx.check(ctx); err != nil {
		return err
	}
	if _, ok := tx.s.partners[e.PartnerID]; !ok && e.PartnerID != 0 {
		return notFound("partner", e.PartnerID)
	}
	stored := *e
	var err error
	if stored.Changes, err = roundTripChanges(e.Changes); err != nil {
		return err
	}
	e.ID = tx.nextID("audit")
	stored.ID = e.ID
	// Rollback restores the shorter slice; the slot past it is never read.
	put(tx, tx.s.audit, e.PartnerID, append(tx.s.audit[e.PartnerID], stored))
	log := tx.s.auditLog
	tx.s.auditLog = append(log, stored)
	tx.undo = append(tx.undo, func() { tx.s.auditLog = log })
	return nil
}

// cloneEntry copies e deeply enough that the caller may change it.
func cloneEntry(e AuditEntry) AuditEntry {
	if e.Changes != nil {
		cs := make([]Change, len(e.Changes))
		for i, c := range e.Changes {
			c.BeforeValue, c.AfterValue = slices.Clone(c.BeforeValue), slices.Clone(c.AfterValue)
			cs[i] = c
		}
		e.Changes = cs
	}
	return e
}

// roundTripChanges returns cs as a store keeps it: through its JSON
// encoding, so values come back compacted and an empty list as nil.
func roundTripChanges(cs []Change) ([]Change, error) {
	if len(cs) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(cs)
	if err != nil {
		return nil, NewError(ErrInvalid, "changes", "an audit change's value is not valid JSON: %v", err)
	}
	var out []Change
	err = json.Unmarshal(b, &out)
	return out, err
}

// memBulkRun is a bulk run as the memory store keeps it: its parameters
// as JSON, as a SQL store keeps them, and its partners' ids, ascending.
type memBulkRun struct {
	params     []byte
	actor      string
	startedAt  time.Time
	finishedAt time.Time
	ids        []int64
}

func (v *memView) bulkRun(key string) (BulkRun, memBulkRun, error) {
	mr, ok := v.s.bulkRuns[key]
	if !ok {
		return BulkRun{}, mr, NewError(ErrNotFound, "", "no bulk run has the key %q", key)
	}
	r := BulkRun{Key: key, Actor: mr.actor, StartedAt: mr.startedAt, FinishedAt: mr.finishedAt, Total: len(mr.ids)}
	if err := json.Unmarshal(mr.params, &r.Params); err != nil {
		return r, mr, err
	}
	for _, it := range v.s.bulkItems[key] {
		switch it.Outcome {
		case BulkPending:
			r.Pending++
		case BulkDone:
			r.Done++
		case BulkUnchanged:
			r.Unchanged++
		case BulkRefused:
			r.Refused++
		case BulkFailed:
			r.Failed++
		}
	}
	return r, mr, nil
}

func (v *memView) BulkRun(ctx context.Context, key string) (BulkRun, error) {
	if err := v.check(ctx); err != nil {
		return BulkRun{}, err
	}
	r, _, err := v.bulkRun(key)
	return r, err
}

func (v *memView) bulkItem(key string, id int64) BulkItem {
	it := v.s.bulkItems[key][id]
	if p, ok := v.s.partners[id]; ok {
		it.CompanyName = p.Profile.CompanyName
	}
	return it
}

func (v *memView) BulkItem(ctx context.Context, key string, partnerID int64) (BulkItem, error) {
	if err := v.check(ctx); err != nil {
		return BulkItem{}, err
	}
	if _, ok := v.s.bulkItems[key][partnerID]; !ok {
		return BulkItem{}, NewError(ErrNotFound, "", "partner %d is not in the bulk run %q", partnerID, key)
	}
	return v.bulkItem(key, partnerID), nil
}

func (v *memView) BulkItems(ctx context.Context, key string, f BulkItemFilter) ([]BulkItem, int, error) {
	if err := v.check(ctx); err != nil {
		return nil, 0, err
	}
	var out []BulkItem
	total := 0
	for _, id := range v.s.bulkRuns[key].ids {
		it := v.bulkItem(key, id)
		if f.Outcome != "" && it.Outcome != f.Outcome {
			continue
		}
		if total >= f.Offset && (f.Limit == 0 || len(out) < f.Limit) {
			out = append(out, it)
		}
		total++
	}
	return out, total, nil
}

func (v *memView) PendingBulkItems(ctx context.Context, key string, afterPartnerID int64, limit int) ([]int64, error) {
	if err := v.check(ctx); err != nil {
		return nil, err
	}
	ids := v.s.bulkRuns[key].ids
	i, _ := slices.BinarySearch(ids, afterPartnerID+1)
	var out []int64
	for ; i < len(ids) && len(out) < limit; i++ {
		if v.s.bulkItems[key][ids[i]].Outcome == BulkPending {
			out = append(out, ids[i])
		}
	}
	return out, nil
}

func (tx *memTx) CreateBulkRun(ctx context.Context, r *BulkRun, partnerIDs []int64) error {
	if err := tx.check(ctx); err != nil {
		return err
	}
	if _, taken := tx.s.bulkRuns[r.Key]; taken {
		return NewError(ErrDuplicate, "key", "%q names a bulk run already", r.Key)
	}
	params, err := json.Marshal(r.Params)
	if err != nil {
		return err
	}
	put(tx, tx.s.bulkRuns, r.Key, memBulkRun{params: params, actor: r.Actor, startedAt: r.StartedAt,
		finishedAt: r.FinishedAt, ids: slices.Clone(partnerIDs)})
	items := make(map[int64]BulkItem, len(partnerIDs))
	for _, id := range partnerIDs {
		items[id] = BulkItem{PartnerID: id, Outcome: BulkPending}
	}
	put(tx, tx.s.bulkItems, r.Key, items)
	return nil
}

func (tx *memTx) SetBulkItem(ctx context.Context, key string, it BulkItem) (bool, error) {
	if err := tx.check(ctx); err != nil {
		return false, err
	}
	cur, ok := tx.s.bulkItems[key][it.PartnerID]
	if !ok {
		return false, NewError(ErrNotFound, "", "partner %d is not in the bulk run %q", it.PartnerID, key)
	}
	if cur.Outcome != BulkPending {
		return false, nil
	}
	put(tx, tx.s.bulkItems[key], it.PartnerID, BulkItem{PartnerID: it.PartnerID, Outcome: it.Outcome, Reason: it.Reason, At: it.At})
	return true, nil
}

func (tx *memTx) FinishBulkRun(ctx context.Context, key string, at time.Time) (bool, error) {
	if err := tx.check(ctx); err != nil {
		return false, err
	}
	r, ok := tx.s.bulkRuns[key]
	if !ok {
		return false, NewError(ErrNotFound, "", "no bulk run has the key %q", key)
	}
	if !r.finishedAt.IsZero() {
		return false, nil
	}
	r.finishedAt = at
	put(tx, tx.s.bulkRuns, key, r)
	return true, nil
}

// ---- The outbox (see OutboxReader and OutboxTx in store.go) ----

func cloneMessage(m OutboxMessage) OutboxMessage {
	m.Payload = slices.Clone(m.Payload)
	return m
}

func (v *memView) Outbox(ctx context.Context, f OutboxFilter) ([]OutboxMessage, int, error) {
	if err := v.check(ctx); err != nil {
		return nil, 0, err
	}
	var ids []int64
	for id, m := range v.s.outbox {
		if f.State == "" || (f.State == OutboxPending) == m.DeliveredAt.IsZero() {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	total := len(ids)
	lo := min(f.Offset, total)
	hi := total
	if f.Limit > 0 {
		hi = min(lo+f.Limit, total)
	}
	out := make([]OutboxMessage, 0, hi-lo)
	for _, id := range ids[lo:hi] {
		out = append(out, cloneMessage(v.s.outbox[id]))
	}
	return out, total, nil
}

func (tx *memTx) AppendOutbox(ctx context.Context, msgs []OutboxMessage) error {
	if err := tx.check(ctx); err != nil {
		return err
	}
	for i := range msgs {
		m := &msgs[i]
		m.ID = tx.nextID("outbox")
		m.CreatedAt = m.CreatedAt.UTC().Truncate(time.Microsecond)
		m.Attempts, m.NextAt, m.Claim, m.LockedUntil, m.DeliveredAt, m.LastError = 0, time.Time{}, "", time.Time{}, time.Time{}, ""
		put(tx, tx.s.outbox, m.ID, cloneMessage(*m))
		put(tx, tx.s.outboxDue, m.ID, struct{}{})
	}
	return nil
}

func (tx *memTx) ClaimOutbox(ctx context.Context, c OutboxClaim) ([]OutboxMessage, error) {
	if err := tx.check(ctx); err != nil {
		return nil, err
	}
	now, until := c.Now.UTC().Truncate(time.Microsecond), c.Until.UTC().Truncate(time.Microsecond)
	ids, _ := page(tx.s.outboxDue, Page{})
	var out []OutboxMessage
	for _, id := range ids {
		if len(out) >= c.Limit {
			break
		}
		m := tx.s.outbox[id]
		if m.NextAt.After(now) || m.LockedUntil.After(now) {
			continue
		}
		m.Claim, m.LockedUntil = c.Claim, until
		m.Attempts++
		put(tx, tx.s.outbox, id, m)
		out = append(out, cloneMessage(m))
	}
	return out, nil
}

// heldBy returns the pending message id if claim holds it.
func (tx *memTx) heldBy(id int64, claim string) (OutboxMessage, bool) {
	m, ok := tx.s.outbox[id]
	return m, ok && m.DeliveredAt.IsZero() && claim != "" && m.Claim == claim
}

func (tx *memTx) CompleteOutbox(ctx context.Context, id int64, claim string, at time.Time) (bool, error) {
	if err := tx.check(ctx); err != nil {
		return false, err
	}
	m, ok := tx.heldBy(id, claim)
	if !ok {
		return false, nil
	}
	m.DeliveredAt, m.Claim, m.LockedUntil = at.UTC().Truncate(time.Microsecond), "", time.Time{}
	put(tx, tx.s.outbox, id, m)
	del(tx, tx.s.outboxDue, id)
	return true, nil
}

func (tx *memTx) RetryOutbox(ctx context.Context, id int64, claim string, next time.Time, lastErr string) (bool, error) {
	if err := tx.check(ctx); err != nil {
		return false, err
	}
	m, ok := tx.heldBy(id, claim)
	if !ok {
		return false, nil
	}
	m.NextAt, m.LastError, m.Claim, m.LockedUntil = next.UTC().Truncate(time.Microsecond), lastErr, "", time.Time{}
	put(tx, tx.s.outbox, id, m)
	return true, nil
}

func (tx *memTx) PruneOutbox(ctx context.Context, before time.Time, limit int) (int, error) {
	if err := tx.check(ctx); err != nil {
		return 0, err
	}
	var ids []int64
	for id, m := range tx.s.outbox {
		if !m.DeliveredAt.IsZero() && m.DeliveredAt.Before(before) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	ids = ids[:min(len(ids), limit)]
	for _, id := range ids {
		del(tx, tx.s.outbox, id)
	}
	return len(ids), nil
}

func (tx *memTx) ClaimRun(ctx context.Context, name string, now, next time.Time) (bool, error) {
	if err := tx.check(ctx); err != nil {
		return false, err
	}
	if at, ok := tx.s.runs[name]; ok && at.After(now) {
		return false, nil
	}
	put(tx, tx.s.runs, name, next.UTC().Truncate(time.Microsecond))
	return true, nil
}
