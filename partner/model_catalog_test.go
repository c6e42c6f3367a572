package partner_test

// The catalogue, the licence lifecycle, pool settings and refills in
// TestModel: the reference rules (written from the product's rules, not
// from the library's code) and the operations.

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	gocmp "github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
)

// ---- reference rules ----

// refTextOK is the rule for a product or a unit type given as text: once
// trimmed, not empty, valid UTF-8, at most license.MaxTextLen characters,
// no control characters.
func refTextOK(s string) bool {
	s = strings.TrimSpace(s)
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > license.MaxTextLen {
		return false
	}
	return !strings.ContainsFunc(s, unicode.IsControl)
}

// productNamed finds the catalogue product whose name equals name with
// letter case folded.
func (md *model) productNamed(name string) (mProduct, bool) {
	for _, p := range md.products {
		if refFold(p.Name) == refFold(strings.TrimSpace(name)) {
			return p, true
		}
	}
	return mProduct{}, false
}

// resolveGrant is the catalogue rule for a grant: a product id names a
// catalogue product (and a name given with it must be its name, letter
// case folded); a name names the catalogue product of that folded name,
// and nothing else names a product. A catalogue product gives the
// grant its name and unit type (a unit type given must be the product's,
// letter case aside); a Trial needs a product that offers one, and
// without an expiry lasts the product's trial days. It returns the grant
// as far as the rule fills it (trimmed, dates in UTC at microsecond
// precision) and whether it is valid.
func (md *model) resolveGrant(g license.Grant) (license.Grant, bool) {
	g = refGrant(g)
	ok := true
	var p mProduct
	found := false
	switch {
	case g.ProductID < 0:
		ok = false
	case g.ProductID > 0:
		p, found = md.products[g.ProductID]
		if !found || g.Product != "" && refFold(g.Product) != refFold(p.Name) {
			ok, found = false, false
		}
	case !refTextOK(g.Product):
		ok = false
	default:
		p, found = md.productNamed(g.Product)
		if !found {
			ok = false
		}
	}
	if found {
		if g.UnitType != "" && !strings.EqualFold(g.UnitType, p.UnitType) {
			ok = false
		}
		g.ProductID, g.Product, g.UnitType = p.ID, p.Name, p.UnitType
		if g.Kind == license.Trial {
			switch {
			case !p.TrialOffered:
				ok = false
			case g.Expiry.IsZero() && !g.Start.IsZero():
				g.Expiry = g.Start.AddDate(0, 0, p.TrialDays)
			}
		}
	} else if !refTextOK(g.UnitType) {
		ok = false
	}
	ok = ok && g.Units >= 1 && g.Units <= license.MaxUnits && g.Kind.Valid() && refDatesValid(g.Start, g.Expiry)
	return g, ok
}

// sameResolved is the replay rule: a retry carries the same grants as
// the assignment recorded when each, resolved, names the same product
// (by id when the assignment named a catalogue product, else by name),
// unit type, units, kind, start and expiry.
func sameResolved(recorded, retry []license.Grant) bool {
	if len(recorded) != len(retry) {
		return false
	}
	for i, a := range recorded {
		b := retry[i]
		same := a.Product == b.Product
		if a.ProductID != 0 {
			same = a.ProductID == b.ProductID
		}
		if !same || a.UnitType != b.UnitType || a.Units != b.Units || a.Kind != b.Kind || !a.Start.Equal(b.Start) || !a.Expiry.Equal(b.Expiry) {
			return false
		}
	}
	return true
}

// refUsable is the rule for a licence that may be given to more
// customers: not disabled, started, not expired.
func refUsable(l mLicense, now time.Time) bool {
	return !l.Disabled && !now.Before(l.Start) && now.Before(l.Expiry)
}

func refPoolOf(l mLicense) [2]string { return [2]string{l.Product, l.UnitType} }

// refPools is the rule for a partner's pools: its usable licences summed
// by product and unit type, in the order of their first licences, then
// the pools that have settings but no usable licence (by product, then
// unit type); each pool's minimum is its own when set, else the
// partner's; Low is remaining below a minimum above 0.
func (md *model) refPools(pid int64) []partner.Pool {
	var out []partner.Pool
	at := map[[2]string]int{}
	index := func(k [2]string) int {
		i, ok := at[k]
		if !ok {
			i = len(out)
			at[k] = i
			out = append(out, partner.Pool{Product: k[0], UnitType: k[1], Minimum: md.partners[pid].MinimumLicenses})
		}
		return i
	}
	for _, id := range md.licsOf(pid) {
		l := md.lics[id]
		if !refUsable(l, md.now) {
			continue
		}
		i := index(refPoolOf(l))
		out[i].Units += l.Units
		out[i].Used += l.Used
		if out[i].ProductID == 0 {
			out[i].ProductID = l.ProductID
		}
	}
	keys := slices.SortedFunc(maps.Keys(md.poolSets[pid]), func(a, b [2]string) int {
		return cmp.Or(strings.Compare(a[0], b[0]), strings.Compare(a[1], b[1]))
	})
	for _, k := range keys {
		s := md.poolSets[pid][k]
		i := index(k)
		if s.ProductID != 0 {
			out[i].ProductID = s.ProductID
		}
		out[i].Cap, out[i].AutoRefill = s.Cap, s.AutoRefill
		if s.MinimumSet {
			out[i].Minimum, out[i].OwnMinimum = s.Minimum, true
		}
	}
	for i := range out {
		out[i].Remaining = out[i].Units - out[i].Used
		out[i].Low = out[i].Minimum > 0 && out[i].Remaining < out[i].Minimum
	}
	return out
}

func (md *model) refPool(pid int64, k [2]string) partner.Pool {
	for _, p := range md.refPools(pid) {
		if p.Product == k[0] && p.UnitType == k[1] {
			return p
		}
	}
	return partner.Pool{Product: k[0], UnitType: k[1]}
}

// resolvePool is the rule for naming a pool: a catalogue product's name,
// letter case folded (a unit type given must be its own), or the exact
// name of the partner's uncatalogued licences or settings (granted
// before the catalogue existed), with a unit type.
func (md *model) resolvePool(pid int64, product, unitType string) (k [2]string, productID int64, ok bool) {
	product, unitType = strings.TrimSpace(product), strings.TrimSpace(unitType)
	if !refTextOK(product) {
		return k, 0, false
	}
	if p, found := md.productNamed(product); found {
		if unitType != "" && !strings.EqualFold(unitType, p.UnitType) {
			return k, 0, false
		}
		return [2]string{p.Name, p.UnitType}, p.ID, true
	}
	known := false
	for _, id := range md.licsOf(pid) {
		l := md.lics[id]
		known = known || l.ProductID == 0 && l.Product == product
	}
	for k, s := range md.poolSets[pid] {
		known = known || s.ProductID == 0 && k[0] == product
	}
	if !known || !refTextOK(unitType) {
		return k, 0, false
	}
	return [2]string{product, unitType}, 0, true
}

// refillLicence is the rule for the licence a refill issues: it starts
// now, ends with the latest usable licence of the pool, and is Full
// unless all of those are Trials.
func (md *model) refillLicence(pid int64, pool partner.Pool, productID int64, units int64, key string, origin license.Origin) mLicense {
	l := mLicense{PartnerID: pid, ProductID: pool.ProductID, Product: pool.Product, UnitType: pool.UnitType, Kind: license.Trial,
		Units: units, Start: md.now, GrantKey: key, Origin: origin, Version: 1}
	if l.ProductID == 0 {
		l.ProductID = productID
	}
	for _, id := range md.licsOf(pid) {
		x := md.lics[id]
		if refPoolOf(x) != refPoolOf(l) || !refUsable(x, md.now) {
			continue
		}
		if x.Kind == license.Full {
			l.Kind = license.Full
		}
		if x.Expiry.After(l.Expiry) {
			l.Expiry = x.Expiry
		}
	}
	l.GrantedKind = l.Kind
	return l
}

// ---- CreateProduct, UpdateProduct ----

type opCreateProduct struct{ in license.Product }

func (o *opCreateProduct) String() string {
	p := o.in
	return fmt.Sprintf("CreateProduct({name %s unit %s trial %v days %d})", q(p.Name), q(p.UnitType), p.TrialOffered, p.TrialDays)
}

func (o *opCreateProduct) call(w *world, m *partner.Manager) (any, string, error) {
	in := o.in
	before := in
	p, err := m.CreateProduct(w.ctx, in)
	return p, inputDiff(before, in), err
}

func (o *opCreateProduct) created(res any) []ref {
	if p, ok := res.(license.Product); ok {
		return []ref{{kProduct, p.ID}}
	}
	return nil
}

func (o *opCreateProduct) touches(*model) ([]int64, bool) { return nil, true }

// refProduct is the rule for a product's fields: the name trimmed, the
// unit type trimmed and in lower case, no trial days without a trial;
// valid when the name is a text, the unit type seats, users or devices,
// and a trial lasts 1 to license.MaxTrialDays days.
func refProduct(p mProduct) (mProduct, bool) {
	p.Name, p.UnitType = strings.TrimSpace(p.Name), strings.ToLower(strings.TrimSpace(p.UnitType))
	if !p.TrialOffered {
		p.TrialDays = 0
	}
	ok := refTextOK(p.Name) && slices.Contains([]string{"seats", "users", "devices"}, p.UnitType) &&
		(!p.TrialOffered || p.TrialDays >= 1 && p.TrialDays <= license.MaxTrialDays)
	return p, ok
}

func (md *model) productNameTaken(name string, except int64) bool {
	p, found := md.productNamed(name)
	return found && p.ID != except
}

func (md *model) productResult(id int64) func(v any) string {
	return func(v any) string {
		p, ok := v.(license.Product)
		if !ok {
			return fmt.Sprintf("got %T", v)
		}
		return gocmp.Diff(md.products[id], productOf(p))
	}
}

func (o *opCreateProduct) expect(md *model) exp {
	p, ok := refProduct(productOf(o.in))
	if !ok {
		return refuse("invalid product", partner.ErrInvalid)
	}
	if md.productNameTaken(p.Name, 0) {
		e := refuse("product name taken", partner.ErrDuplicate)
		e.field = "name"
		return e
	}
	var id int64
	return exp{why: "new product", apply: func(v any) {
		id = v.(license.Product).ID
		p.ID, p.Version = id, 1
		md.products[id] = p
		md.catAudit++
	}, check: func(v any) string { return md.productResult(id)(v) }}
}

type opUpdateProduct struct {
	id    int64
	patch license.ProductPatch
}

func (o *opUpdateProduct) String() string {
	p := o.patch
	var s []string
	if p.Name != nil {
		s = append(s, "name "+q(*p.Name))
	}
	if p.TrialOffered != nil {
		s = append(s, fmt.Sprintf("trial %v", *p.TrialOffered))
	}
	if p.TrialDays != nil {
		s = append(s, fmt.Sprintf("days %d", *p.TrialDays))
	}
	return fmt.Sprintf("UpdateProduct(product %d, version %d, {%s})", o.id, p.Version, strings.Join(s, ", "))
}

func (o *opUpdateProduct) call(w *world, m *partner.Manager) (any, string, error) {
	patch := deepCopy(o.patch)
	before := deepCopy(patch)
	p, err := m.UpdateProduct(w.ctx, w.act(kProduct, o.id), patch)
	return p, inputDiff(before, patch), err
}

func (o *opUpdateProduct) created(any) []ref { return nil }

// touches: the catalogue, and every partner with a licence or pool
// settings of the product (a rename carries to them).
func (o *opUpdateProduct) touches(md *model) ([]int64, bool) {
	var ids []int64
	for _, pid := range md.partnerIDs() {
		hit := false
		for _, id := range md.licsOf(pid) {
			hit = hit || md.lics[id].ProductID == o.id
		}
		for _, s := range md.poolSets[pid] {
			hit = hit || s.ProductID == o.id
		}
		if hit {
			ids = append(ids, pid)
		}
	}
	return ids, true
}

func (o *opUpdateProduct) expect(md *model) exp {
	cur, ok := md.products[o.id]
	if !ok {
		return refuse("unknown product", partner.ErrNotFound)
	}
	if o.patch.Version != 0 && o.patch.Version != cur.Version {
		return refuse("stale product version", partner.ErrConflict)
	}
	next := cur
	if o.patch.Name != nil {
		next.Name = *o.patch.Name
	}
	if o.patch.TrialOffered != nil {
		next.TrialOffered = *o.patch.TrialOffered
	}
	if o.patch.TrialDays != nil {
		next.TrialDays = *o.patch.TrialDays
	}
	next, valid := refProduct(next)
	next.UnitType = cur.UnitType
	if !valid {
		return refuse("invalid product field", partner.ErrInvalid)
	}
	if md.productNameTaken(next.Name, cur.ID) {
		return refuse("product name taken", partner.ErrDuplicate)
	}
	if next == cur {
		return exp{why: "no-op: nothing changes", check: md.productResult(o.id)}
	}
	return exp{why: "product change", apply: func(any) {
		next.Version++
		md.products[o.id] = next
		md.catAudit++
		if next.Name == cur.Name {
			return
		}
		// The name is the catalogue's: licences and pool settings carry it.
		for id, l := range md.lics {
			if l.ProductID == o.id {
				l.Product = next.Name
				md.lics[id] = l
			}
		}
		for pid, sets := range md.poolSets {
			for k, s := range sets {
				if s.ProductID == o.id {
					delete(sets, k)
					sets[[2]string{next.Name, k[1]}] = s
				}
			}
			md.poolSets[pid] = sets
		}
	}, check: md.productResult(o.id)}
}

// ---- ExtendLicense, AddUnits, ReduceUnits, ConvertToFull ----

// opLicence is one of the lifecycle operations on one licence.
type opLicence struct {
	what       string // "extend", "add", "reduce", "convert"
	pid, lic   int64
	version, n int64
	expiry     time.Time
}

func (o *opLicence) String() string {
	switch o.what {
	case "extend":
		return fmt.Sprintf("ExtendLicense(partner %d, licence %d, version %d, %s)", o.pid, o.lic, o.version, o.expiry.Format(time.RFC3339Nano))
	case "convert":
		return fmt.Sprintf("ConvertToFull(partner %d, licence %d, version %d, %s)", o.pid, o.lic, o.version, o.expiry.Format(time.RFC3339Nano))
	case "add":
		return fmt.Sprintf("AddUnits(partner %d, licence %d, version %d, %d)", o.pid, o.lic, o.version, o.n)
	}
	return fmt.Sprintf("ReduceUnits(partner %d, licence %d, version %d, %d)", o.pid, o.lic, o.version, o.n)
}

func (o *opLicence) call(w *world, m *partner.Manager) (any, string, error) {
	pid, lic := w.act(kPartner, o.pid), w.act(kLicense, o.lic)
	var (
		l   license.License
		err error
	)
	switch o.what {
	case "extend":
		l, err = m.ExtendLicense(w.ctx, pid, lic, o.version, o.expiry)
	case "convert":
		l, err = m.ConvertToFull(w.ctx, pid, lic, o.version, o.expiry)
	case "add":
		l, err = m.AddUnits(w.ctx, pid, lic, o.version, o.n)
	default:
		l, err = m.ReduceUnits(w.ctx, pid, lic, o.version, o.n)
	}
	return l, "", err
}

func (o *opLicence) created(any) []ref              { return nil }
func (o *opLicence) touches(*model) ([]int64, bool) { return []int64{o.pid}, false }

func (md *model) licenceResult(id int64) func(v any) string {
	return func(v any) string {
		l, ok := v.(license.License)
		if !ok {
			return fmt.Sprintf("got %T", v)
		}
		return gocmp.Diff(md.lics[id], licenseOf(l), cmpOpts...)
	}
}

// refExpiry is the rule for a new expiry of l: set, between the years
// 2000 and 2200, not before the current expiry (the current one changes
// nothing), at most license.MaxTerm after the start.
func refExpiry(l mLicense, expiry time.Time) (e time.Time, same, ok bool) {
	e = refTime(expiry)
	switch {
	case expiry.IsZero() || e.Year() < 2000 || e.Year() > 2200:
		return e, false, false
	case e.Equal(l.Expiry):
		return e, true, true
	case e.Before(l.Expiry) || e.Sub(l.Start) > license.MaxTerm:
		return e, false, false
	}
	return e, false, true
}

func (o *opLicence) expect(md *model) exp {
	if _, e := md.scope(o.pid, gActive, 0); e != nil {
		return *e
	}
	l, ok := md.lics[o.lic]
	if !ok || l.PartnerID != o.pid {
		return refuse("licence is not the partner's", partner.ErrNotFound)
	}
	if o.version != 0 && o.version != l.Version {
		return refuse("stale licence version", partner.ErrConflict)
	}
	change := func(why string, f func(l *mLicense)) exp {
		return exp{why: why, apply: func(any) {
			f(&l)
			l.Version++
			md.lics[l.ID] = l
			md.audit[o.pid]++
		}, check: md.licenceResult(l.ID)}
	}
	switch o.what {
	case "extend":
		e, same, ok := refExpiry(l, o.expiry)
		switch {
		case !ok:
			return refuse("invalid expiry", partner.ErrInvalid)
		case same:
			return exp{why: "no-op: the same expiry", check: md.licenceResult(l.ID)}
		}
		return change("extend", func(l *mLicense) { l.Expiry = e })
	case "convert":
		e := l.Expiry
		if !o.expiry.IsZero() {
			var ok bool
			if e, _, ok = refExpiry(l, o.expiry); !ok {
				return refuse("invalid expiry", partner.ErrInvalid)
			}
		}
		if l.Kind == license.Full && e.Equal(l.Expiry) {
			return exp{why: "no-op: already Full", check: md.licenceResult(l.ID)}
		}
		return change("convert to Full", func(l *mLicense) { l.Kind, l.Expiry = license.Full, e })
	}
	next := l.Units + o.n
	if o.what == "reduce" {
		next = l.Units - o.n
	}
	if o.version == 0 || o.n < 1 || o.n > license.MaxUnits || next > license.MaxUnits || next < 1 {
		return refuse("version required, or units out of range", partner.ErrInvalid)
	}
	if next < l.Used {
		return refuse("fewer units than allocated", partner.ErrInsufficientUnits)
	}
	return change(o.what+" units", func(l *mLicense) { l.Units = next })
}

// ---- SetPoolSettings ----

type opPoolSettings struct {
	pid, version int64
	in           partner.PoolSettingsParams
}

func (o *opPoolSettings) String() string {
	minimum := "nil"
	if o.in.Minimum != nil {
		minimum = fmt.Sprint(*o.in.Minimum)
	}
	return fmt.Sprintf("SetPoolSettings(partner %d, version %d, {%s %s minimum %s cap %d auto %v})", o.pid, o.version,
		q(o.in.Product), q(o.in.UnitType), minimum, o.in.Cap, o.in.AutoRefill)
}

func (o *opPoolSettings) call(w *world, m *partner.Manager) (any, string, error) {
	in := deepCopy(o.in)
	before := deepCopy(in)
	p, err := m.SetPoolSettings(w.ctx, w.act(kPartner, o.pid), o.version, in)
	return p, inputDiff(before, in), err
}

func (o *opPoolSettings) created(any) []ref              { return nil }
func (o *opPoolSettings) touches(*model) ([]int64, bool) { return []int64{o.pid}, false }

func (o *opPoolSettings) expect(md *model) exp {
	p, e := md.scope(o.pid, gActive, o.version)
	if e != nil {
		return *e
	}
	k, productID, ok := md.resolvePool(o.pid, o.in.Product, o.in.UnitType)
	if !ok || o.in.Minimum != nil && (*o.in.Minimum < 0 || *o.in.Minimum > partner.MaxMinimumPool) ||
		o.in.Cap < 0 || o.in.Cap > partner.MaxPoolCap {
		return refuse("invalid pool settings", partner.ErrInvalid)
	}
	cur, had := md.poolSets[o.pid][k]
	if !had {
		cur = mPoolSet{ProductID: productID}
	}
	next := mPoolSet{ProductID: productID, Cap: o.in.Cap, AutoRefill: o.in.AutoRefill}
	if o.in.Minimum != nil {
		next.Minimum, next.MinimumSet = *o.in.Minimum, true
	}
	if next == cur {
		return exp{why: "no-op: the same settings", check: md.partnerResult(o.pid)}
	}
	return exp{why: "pool settings", apply: func(any) {
		if md.poolSets[o.pid] == nil {
			md.poolSets[o.pid] = map[[2]string]mPoolSet{}
		}
		md.poolSets[o.pid][k] = next
		md.bumpPartner(p)
	}, check: md.partnerResult(o.pid)}
}

// ---- RefillPool ----

type opRefill struct {
	pid int64
	in  partner.RefillPoolParams
}

func (o *opRefill) String() string {
	return fmt.Sprintf("RefillPool(partner %d, {%s %s units %d key %s})", o.pid, q(o.in.Product), q(o.in.UnitType), o.in.Units, q(o.in.Key))
}

func (o *opRefill) call(w *world, m *partner.Manager) (any, string, error) {
	in := o.in
	before := in
	l, err := m.RefillPool(w.ctx, w.act(kPartner, o.pid), in)
	if err != nil {
		return nil, inputDiff(before, in), err
	}
	return l, inputDiff(before, in), nil
}

func (o *opRefill) created(res any) []ref {
	if l, ok := res.(license.License); ok {
		return []ref{{kLicense, l.ID}}
	}
	return nil
}

func (o *opRefill) touches(*model) ([]int64, bool) { return []int64{o.pid}, false }

func (o *opRefill) expect(md *model) exp {
	p, ok := md.partners[o.pid]
	if !ok {
		return refuse("unknown partner", partner.ErrNotFound)
	}
	k, productID, poolOK := md.resolvePool(o.pid, o.in.Product, o.in.UnitType)
	keyOK := refKeyValid(o.in.Key)
	prior, used := md.keys[o.pid][o.in.Key]
	used = used && o.in.Key != "" && keyOK
	if used && poolOK && prior.refill && len(prior.lics) == 1 && refPoolOf(md.lics[prior.lics[0]]) == k &&
		(o.in.Units == 0 && prior.origin == license.OriginTopUp || o.in.Units > 0 && prior.origin == license.OriginRefill && prior.units == o.in.Units) {
		return exp{why: "idempotent replay", check: md.licenceResult(prior.lics[0])}
	}
	if err := refGuard(p.Status, p.Type, gActive); err != nil {
		return refuse(fmt.Sprintf("guard: %s %s", p.Status, p.Type), err)
	}
	if !poolOK || !keyOK || o.in.Units < 0 || o.in.Units > license.MaxUnits {
		return refuse("invalid refill", partner.ErrInvalid)
	}
	if used {
		return refuse("key used for another request", partner.ErrDuplicate)
	}
	if !p.PoolRefill {
		return refuse("pool refill off", partner.ErrRefillOff)
	}
	pool := md.refPool(o.pid, k)
	usable := false
	for _, id := range md.licsOf(o.pid) {
		usable = usable || refPoolOf(md.lics[id]) == k && refUsable(md.lics[id], md.now)
	}
	switch {
	case !usable:
		return refuse("no usable licence in the pool", partner.ErrNotFound)
	case pool.Remaining > 0:
		return refuse("pool not depleted", partner.ErrPoolNotDepleted)
	case pool.Cap == 0:
		return refuse("no refill capacity", partner.ErrRefillOff)
	}
	units, origin := o.in.Units, license.OriginRefill
	if units == 0 {
		units, origin = min(pool.Cap-pool.Units, license.MaxUnits), license.OriginTopUp
	}
	if units < 1 || pool.Units+units > pool.Cap {
		return refuse("beyond the cap", partner.ErrInsufficientUnits)
	}
	nl := md.refillLicence(o.pid, pool, productID, units, o.in.Key, origin)
	var id int64
	return exp{why: "refill " + string(origin), apply: func(v any) {
		id = v.(license.License).ID
		nl.ID = id
		md.lics[id] = nl
		md.audit[o.pid]++
		if o.in.Key != "" {
			if md.keys[o.pid] == nil {
				md.keys[o.pid] = map[string]mKey{}
			}
			md.keys[o.pid][o.in.Key] = mKey{refill: true, origin: origin, units: o.in.Units, lics: []int64{id}}
		}
	}, check: func(v any) string { return md.licenceResult(id)(v) }}
}

// autoRefill is the rule of a pool's automatic refill after an
// allocation of units from licence l: when the pool's remaining units
// fell below its minimum (above 0) with this allocation and the pool
// refills itself, a licence of 1.5 × the minimum, rounded up, within the
// cap when one is set, and at most license.MaxUnits. It returns the
// licence to issue, if any.
func (md *model) autoRefill(pid int64, l mLicense, units int64) (mLicense, bool) {
	k := refPoolOf(l)
	pool := md.refPool(pid, k)
	s := md.poolSets[pid][k]
	if pool.Minimum <= 0 || !pool.Low || pool.Remaining+units < pool.Minimum || !s.AutoRefill {
		return mLicense{}, false
	}
	n := (3*pool.Minimum + 1) / 2
	if pool.Cap > 0 {
		n = min(n, pool.Cap-pool.Units)
	}
	n = min(n, license.MaxUnits)
	if n < 1 {
		return mLicense{}, false
	}
	return md.refillLicence(pid, pool, 0, n, "", license.OriginAutoRefill), true
}

// ---- generators ----

func (r *runner) genCreateProduct(t *rapid.T) op {
	name := rapid.SampledFrom([]string{"Endpoint Security", "Email Security", "Server Protection", "ENDPOINT SECURITY", "Straße Suite",
		"STRASSE SUITE", "  Padded Product ", fmt.Sprintf("Product %d", r.next()), "", strings.Repeat("p", license.MaxTextLen+1),
		"Bad\x07Name"}).Draw(t, "productName")
	unit := rapid.SampledFrom([]string{"seats", " Users ", "devices", "licenses", ""}).Draw(t, "productUnit")
	offered := rapid.Bool().Draw(t, "trialOffered")
	days := rapid.SampledFrom([]int{30, 1, license.MaxTrialDays, 0, license.MaxTrialDays + 1}).Draw(t, "trialDays")
	return &opCreateProduct{in: license.Product{Name: name, UnitType: unit, TrialOffered: offered, TrialDays: days}}
}

func (r *runner) genUpdateProduct(t *rapid.T) op {
	ids := slices.Sorted(maps.Keys(r.md.products))
	id := int64(unknownID + 8)
	if len(ids) > 0 && rapid.IntRange(0, 9).Draw(t, "unknownProduct") > 0 {
		id = rapid.SampledFrom(ids).Draw(t, "product")
	}
	cur := r.md.products[id]
	var p license.ProductPatch
	switch rapid.IntRange(0, 5).Draw(t, "productNamePatch") {
	case 1:
		v := " " + cur.Name
		p.Name = &v
	case 2:
		v := strings.ToUpper(cur.Name)
		p.Name = &v
	case 3:
		v := fmt.Sprintf("Renamed %d", r.next())
		p.Name = &v
	case 4:
		if len(ids) > 0 {
			v := r.md.products[rapid.SampledFrom(ids).Draw(t, "otherProduct")].Name
			p.Name = &v
		}
	case 5:
		v := ""
		p.Name = &v
	}
	if b := rapid.IntRange(0, 2).Draw(t, "trialPatch"); b > 0 {
		v := b == 1
		p.TrialOffered = &v
	}
	if rapid.Bool().Draw(t, "daysPatch") {
		v := rapid.SampledFrom([]int{cur.TrialDays, 14, 0, license.MaxTrialDays + 1}).Draw(t, "days")
		p.TrialDays = &v
	}
	p.Version = drawVersion(t, cur.Version)
	return &opUpdateProduct{id: id, patch: p}
}

// drawLicensee picks a partner (one with licences, mostly) and one of its
// licences, another partner's or none.
func (r *runner) drawLicensee(t *rapid.T) (pid, lic int64) {
	pid = r.drawPartnerWith(t, func(id int64) bool { return len(r.md.licsOf(id)) > 0 })
	own := r.md.licsOf(pid)
	return pid, drawOwned(t, "licence", own, others(r.md.lics, own))
}

func (r *runner) genLicence(what string) func(t *rapid.T, r *runner) op {
	return func(t *rapid.T, r *runner) op {
		pid, lic := r.drawLicensee(t)
		l := r.md.lics[lic]
		o := &opLicence{what: what, pid: pid, lic: lic, version: drawVersion(t, l.Version)}
		switch what {
		case "extend", "convert":
			day := 24 * time.Hour
			choices := []time.Time{l.Expiry.Add(30 * day), l.Expiry, l.Expiry.Add(-day), r.md.now.AddDate(1, 0, 0),
				l.Start.Add(license.MaxTerm + day), l.Expiry.In(zone).Add(10 * day).Add(345 * time.Nanosecond)}
			if what == "convert" || rapid.IntRange(0, 5).Draw(t, "zeroExpiry") == 0 {
				choices = append(choices, time.Time{}, time.Time{})
			}
			o.expiry = rapid.SampledFrom(choices).Draw(t, "expiry")
		default:
			o.n = rapid.SampledFrom([]int64{1, 5, l.Units - l.Used, l.Units - l.Used + 1, l.Units, 0, -2, license.MaxUnits}).Draw(t, "units")
			if o.version == 0 && rapid.Bool().Draw(t, "giveVersion") {
				o.version = l.Version
			}
		}
		return o
	}
}

var poolProducts = []string{"Endpoint Security", "endpoint security", "Email Security", "  Email Security ", "Server Protection", "Nope", ""}

func (r *runner) genPoolSettings(t *rapid.T) op {
	pid := r.drawPartner(t)
	in := partner.PoolSettingsParams{Product: rapid.SampledFrom(poolProducts).Draw(t, "poolProduct"),
		UnitType: rapid.SampledFrom([]string{"", "seats", "Users", " users ", "devices"}).Draw(t, "poolUnit"),
		Cap:      rapid.SampledFrom([]int64{0, 10, 40, 200, -1}).Draw(t, "poolCap"), AutoRefill: rapid.Bool().Draw(t, "autoRefill")}
	if m := rapid.IntRange(0, 5).Draw(t, "poolMinimum"); m > 0 {
		v := []int64{0, 0, 5, 30, -1}[m-1]
		in.Minimum = &v
	}
	return &opPoolSettings{pid: pid, version: drawVersion(t, r.md.partners[pid].Version), in: in}
}

func (r *runner) genRefill(t *rapid.T) op {
	pid := r.drawPartnerWith(t, func(id int64) bool { return r.md.partners[id].PoolRefill })
	in := partner.RefillPoolParams{Product: rapid.SampledFrom(poolProducts).Draw(t, "refillProduct"),
		UnitType: rapid.SampledFrom([]string{"", "", "seats", "users"}).Draw(t, "refillUnit"),
		Units:    rapid.SampledFrom([]int64{0, 0, 1, 5, 30, -1}).Draw(t, "refillUnits")}
	switch rapid.IntRange(0, 3).Draw(t, "refillKey") {
	case 1:
		in.Key = r.drawKey(t)
	case 2:
		ks := slices.Sorted(maps.Keys(r.md.keys[pid]))
		if len(ks) > 0 {
			in.Key = rapid.SampledFrom(ks).Draw(t, "usedKey")
			if k := r.md.keys[pid][in.Key]; k.refill {
				in.Product, in.UnitType, in.Units = r.md.lics[k.lics[0]].Product, "", k.units
			}
		}
	}
	return &opRefill{pid: pid, in: in}
}

// scenarioPartner picks an Active partner with a customer and a licence
// that has units remaining, and that licence; ok is false when there is
// none.
func (r *runner) scenarioPartner(t *rapid.T) (pid int64, l mLicense, cust int64, ok bool) {
	var cands [][3]int64
	for _, id := range r.md.partnerIDs() {
		cs := r.md.custsOf(id)
		if r.md.partners[id].Status != partner.Active || len(cs) == 0 {
			continue
		}
		for _, lid := range r.md.licsOf(id) {
			if x := r.md.lics[lid]; refUsable(x, r.md.now) && x.Units > x.Used {
				cands = append(cands, [3]int64{id, lid, cs[0]})
			}
		}
	}
	if len(cands) == 0 {
		return 0, mLicense{}, 0, false
	}
	c := rapid.SampledFrom(cands).Draw(t, "scenario")
	return c[0], r.md.lics[c[1]], c[2], true
}

// refillScenario is a RunInTx batch that makes a pool refillable and
// refills it: refill on, a cap, the pool's remaining units allocated, the
// partner's refill (to the cap or of some units). It fails, and the batch
// with it, when the pool has more licences with units left than the one
// allocated.
func (r *runner) refillScenario(t *rapid.T) op {
	pid, l, cust, ok := r.scenarioPartner(t)
	if !ok {
		return r.genRefill(t)
	}
	pool := r.md.refPool(pid, refPoolOf(l))
	capacity := pool.Units + rapid.SampledFrom([]int64{0, 1, 10, 25}).Draw(t, "headroom")
	units := rapid.SampledFrom([]int64{0, 0, 1, 10, 30}).Draw(t, "refillUnits")
	var key string
	if rapid.Bool().Draw(t, "refillKeyed") {
		key = fmt.Sprintf("refill-%d", r.next())
	}
	set := partner.PoolSettingsParams{Product: l.Product, UnitType: l.UnitType, Cap: capacity}
	if l.ProductID != 0 {
		set.UnitType = ""
	}
	return &opBatch{propagate: true, ops: []op{
		&opPoolRefill{pid: pid, on: true},
		&opPoolSettings{pid: pid, in: set},
		&opAllocate{pid: pid, in: partner.AllocateParams{LicenseID: l.ID, CustomerID: cust, Units: l.Units - l.Used}},
		&opRefill{pid: pid, in: partner.RefillPoolParams{Product: l.Product, UnitType: set.UnitType, Units: units, Key: key}},
	}}
}

// autoRefillScenario is a RunInTx batch that gives a pool a minimum equal
// to its remaining units with automatic refill on (and now and then a
// cap), then allocates a unit: the pool falls below its minimum and
// refills itself.
func (r *runner) autoRefillScenario(t *rapid.T) op {
	pid, l, cust, ok := r.scenarioPartner(t)
	if !ok {
		return r.genPoolSettings(t)
	}
	pool := r.md.refPool(pid, refPoolOf(l))
	minimum := min(pool.Remaining, partner.MaxMinimumPool)
	set := partner.PoolSettingsParams{Product: l.Product, UnitType: l.UnitType, Minimum: &minimum, AutoRefill: true}
	if rapid.Bool().Draw(t, "autoCap") {
		set.Cap = pool.Units + rapid.SampledFrom([]int64{0, 1, 5, 1000}).Draw(t, "autoHeadroom")
	}
	return &opBatch{propagate: rapid.Bool().Draw(t, "autoPropagate"), ops: []op{
		&opPoolSettings{pid: pid, in: set},
		&opAllocate{pid: pid, in: partner.AllocateParams{LicenseID: l.ID, CustomerID: cust, Units: 1}},
	}}
}
