package partner_test

// The operations of TestModel: how each one is drawn, called on a store,
// and predicted by the reference model.

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/serviceplan"
)

// op is one Manager call of a sequence. Ids in an op are canonical; call
// translates them for the store.
type op interface {
	fmt.Stringer
	// call runs the operation on m (a store's Manager, or one bound by
	// RunInTx) and reports whether it changed the caller's input.
	call(w *world, m *partner.Manager) (res any, mutated string, err error)
	// expect predicts the outcome from the model.
	expect(md *model) exp
	// created lists, in a fixed order, the ids a successful call created,
	// in the store's own ids.
	created(res any) []ref
	// touches names the partners (and whether the plan catalogue) to read
	// back after the step.
	touches(md *model) ([]int64, bool)
}

type ref struct {
	k  kind
	id int64
}

// exp is the model's prediction: a refusal with one of errs, or success,
// whose effect apply makes on the model and whose returned value check
// compares with the model (returning a diff, or "").
type exp struct {
	errs  []error
	field string // for a refusal: the field ErrorField must name, if set
	why   string
	apply func(v any)
	check func(v any) string
}

func refuse(why string, errs ...error) exp { return exp{errs: errs, why: why} }

// noValue is the result of calls that return only an error.
type noValue struct{}

// createRes is Create's partner with the admin account and licences it
// created, read back right after the call.
type createRes struct {
	P     partner.Partner
	Accts []account.Account
	Lics  []license.License
}

// inputDiff reports how a call changed its input, comparing instants,
// locations and every field exactly.
func inputDiff(before, after any) string {
	return cmp.Diff(before, after, cmp.Comparer(func(a, b time.Time) bool {
		return a.Equal(b) && a.Location().String() == b.Location().String()
	}))
}

// deepCopy copies v and everything its exported slices and pointers reach.
func deepCopy[T any](v T) T {
	return deepCopyValue(reflect.ValueOf(&v).Elem()).Interface().(T)
}

func deepCopyValue(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		n := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			n.Index(i).Set(deepCopyValue(v.Index(i)))
		}
		return n
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		n := reflect.New(v.Type().Elem())
		n.Elem().Set(deepCopyValue(v.Elem()))
		return n
	case reflect.Struct:
		n := reflect.New(v.Type()).Elem()
		n.Set(v)
		for i := range v.NumField() {
			if n.Field(i).CanSet() {
				n.Field(i).Set(deepCopyValue(v.Field(i)))
			}
		}
		return n
	}
	return v
}

// ---- shared prediction helpers ----

// scope applies the refusal order every partner-scoped operation starts
// with: unknown partner, the guard, a stale version.
func (md *model) scope(pid int64, g guardOp, version int64) (mPartner, *exp) {
	p, ok := md.partners[pid]
	if !ok {
		e := refuse("unknown partner", partner.ErrNotFound)
		return p, &e
	}
	if err := refGuard(p.Status, p.Type, g); err != nil {
		e := refuse(fmt.Sprintf("guard: %s %s", p.Status, p.Type), err)
		return p, &e
	}
	if version != 0 && version != p.Version {
		e := refuse(fmt.Sprintf("stale partner version %d (current %d)", version, p.Version), partner.ErrConflict)
		return p, &e
	}
	return p, nil
}

// early is a scope refusal (unknown partner, the guard, a stale
// version): it comes first, whether the input is invalid too or not.
func early(e *exp, _ bool) exp { return *e }

// partnerResult checks a returned partner against the model.
func (md *model) partnerResult(pid int64) func(v any) string {
	return func(v any) string {
		p, ok := v.(partner.Partner)
		if !ok {
			return fmt.Sprintf("got %T", v)
		}
		want := md.view(pid)
		got := struct {
			P                    mPartner
			Customers            int
			Provisioned, UsedSum int64
		}{partnerOf(p), p.Customers, p.UnitsProvisioned, p.UnitsUsed}
		return cmp.Diff(struct {
			P                    mPartner
			Customers            int
			Provisioned, UsedSum int64
		}{want.P, want.Customers, want.UnitsProvisioned, want.UnitsUsed}, got, cmpOpts...)
	}
}

func (md *model) licensesResult(ids []int64) func(v any) string {
	return func(v any) string {
		ls, ok := v.([]license.License)
		if !ok {
			return fmt.Sprintf("got %T", v)
		}
		var want, got []mLicense
		for _, id := range ids {
			want = append(want, md.lics[id])
		}
		for _, l := range ls {
			got = append(got, licenseOf(l))
		}
		return cmp.Diff(want, got, cmpOpts...)
	}
}

func (md *model) accountResult(id int64) func(v any) string {
	return func(v any) string {
		a, ok := v.(account.Account)
		if !ok {
			return fmt.Sprintf("got %T", v)
		}
		return cmp.Diff(md.accts[id], accountOf(a), cmpOpts...)
	}
}

func (md *model) planResult(id int64) func(v any) string {
	return func(v any) string {
		switch p := v.(type) {
		case serviceplan.Plan:
			return cmp.Diff(md.plans[id], planOf(p), cmpOpts...)
		case partner.AssignedPlan:
			return cmp.Diff(md.plans[id], planOf(p.Plan), cmpOpts...)
		}
		return fmt.Sprintf("got %T", v)
	}
}

func (md *model) bumpPartner(p mPartner) {
	p.Version++
	md.partners[p.ID] = p
	md.audit[p.ID]++
}

func q(s string) string {
	if len(s) > 24 {
		return fmt.Sprintf("%q…(%d bytes)", s[:16], len(s))
	}
	return fmt.Sprintf("%q", s)
}

func showGrants(gs []license.Grant) string {
	var s []string
	for _, g := range gs {
		s = append(s, fmt.Sprintf("{%s %s %d %s %s→%s}", q(g.Product), q(g.UnitType), g.Units, g.Kind,
			g.Start.Format(time.RFC3339Nano), g.Expiry.Format(time.RFC3339Nano)))
	}
	return "[" + strings.Join(s, " ") + "]"
}

func showProfile(p partner.Profile) string {
	return fmt.Sprintf("{company %s city %s state %s country %s contacts %s url %s}", q(p.CompanyName), q(p.City), q(p.State),
		q(p.Country), showContacts(p.Contacts), q(p.SignInURL))
}

func showContacts(cs []partner.Contact) string {
	if cs == nil {
		return "nil"
	}
	var s []string
	for _, c := range cs {
		s = append(s, fmt.Sprintf("%s/%s/%s/%s", q(c.FirstName), q(c.LastName), q(c.Email), q(c.Phone)))
	}
	return "[" + strings.Join(s, " ") + "]"
}

// ---- Create ----

type opCreate struct {
	in        partner.CreateParams // canonical plan and product ids
	valid     bool                 // every field but the licences valid, by the palettes' labels
	wrongType bool                 // Remote Manager for a Reseller or plans for an MSP
	newID     int64
}

func (o *opCreate) String() string {
	return fmt.Sprintf("Create(type %s profile %s admin {%s %s %s %s role %q} RM %v plans %v licenses %s)", o.in.Type,
		showProfile(o.in.Profile), q(o.in.Admin.Name), q(o.in.Admin.FirstName), q(o.in.Admin.LastName), q(o.in.Admin.Email),
		o.in.Admin.Role, o.in.RemoteManager, o.in.Plans, showGrants(o.in.Licenses))
}

func (o *opCreate) call(w *world, m *partner.Manager) (any, string, error) {
	in := deepCopy(o.in)
	in.Plans = w.actIDs(kPlan, in.Plans)
	in.Licenses = actGrants(w, in.Licenses)
	before := deepCopy(in)
	p, err := m.Create(w.ctx, in)
	mut := inputDiff(before, in)
	if err != nil {
		return nil, mut, err
	}
	res := createRes{P: p}
	if res.Accts, _, err = m.Accounts(w.ctx, p.ID, partner.Page{Limit: partner.MaxLimit}); err == nil {
		res.Lics, _, err = m.Licenses(w.ctx, p.ID, partner.Page{Limit: partner.MaxLimit})
	}
	return res, mut, err
}

func (o *opCreate) created(res any) []ref {
	r, ok := res.(createRes)
	if !ok {
		return nil
	}
	out := []ref{{kPartner, r.P.ID}}
	for _, a := range r.Accts {
		out = append(out, ref{kAccount, a.ID})
	}
	for _, l := range r.Lics {
		out = append(out, ref{kLicense, l.ID})
	}
	return out
}

func (o *opCreate) touches(*model) ([]int64, bool) {
	if o.newID == 0 {
		return nil, false
	}
	return []int64{o.newID}, false
}

func (o *opCreate) expect(md *model) exp {
	o.newID = 0
	var errs []error
	grants, gok := md.resolveGrants(o.in.Licenses)
	if !o.valid || !gok {
		errs = append(errs, partner.ErrInvalid)
	}
	if o.wrongType {
		errs = append(errs, partner.ErrWrongType)
	}
	if len(errs) > 0 {
		return refuse("invalid input", errs...)
	}
	admin := strings.ToLower(strings.TrimSpace(o.in.Admin.Name))
	if md.accountNameTaken(admin) {
		errs = append(errs, partner.ErrDuplicate)
	}
	plans := slices.Compact(slices.Sorted(slices.Values(o.in.Plans)))
	for _, id := range plans {
		pl, ok := md.plans[id]
		switch {
		case !ok:
			errs = append(errs, partner.ErrNotFound)
		case !pl.Enabled:
			errs = append(errs, partner.ErrPlanDisabled)
		}
	}
	if len(errs) > 0 {
		return refuse("duplicate admin name or unassignable plan", errs...)
	}
	return exp{why: "valid partner", apply: func(v any) {
		r := v.(createRes)
		id := r.P.ID
		o.newID = id
		prof := refProfile(o.in.Profile)
		first, last, mail := strings.TrimSpace(o.in.Admin.FirstName), strings.TrimSpace(o.in.Admin.LastName), strings.TrimSpace(o.in.Admin.Email)
		if len(prof.Contacts) == 0 {
			prof.Contacts = []partner.Contact{{FirstName: first, LastName: last, Email: mail}}
		}
		dcs, _ := refDataCenters(o.in.RemoteManager)
		md.partners[id] = mPartner{ID: id, Type: o.in.Type, Status: partner.Active, Version: 1, Profile: prof, RemoteManager: dcs}
		md.audit[id] = 1 + len(plans)
		if len(r.Accts) > 0 {
			a := r.Accts[0]
			md.accts[a.ID] = mAccount{ID: a.ID, PartnerID: id, Name: admin, FirstName: first, LastName: last, Mail: mail,
				Role: account.Administrator, Enabled: true, Version: 1}
		}
		for i, g := range grants {
			if i >= len(r.Lics) {
				break
			}
			lid := r.Lics[i].ID
			md.lics[lid] = newMLicense(lid, id, g, "")
		}
		for _, pl := range plans {
			md.assigned[[2]int64{id, pl}] = true
		}
	}, check: func(v any) string {
		r := v.(createRes)
		want := md.view(r.P.ID)
		var accts []mAccount
		for _, a := range r.Accts {
			accts = append(accts, accountOf(a))
		}
		var lics []mLicense
		for _, l := range r.Lics {
			lics = append(lics, licenseOf(l))
		}
		if d := md.partnerResult(r.P.ID)(r.P); d != "" {
			return d
		}
		return cmp.Diff(struct {
			A []mAccount
			L []mLicense
		}{want.Accounts, want.Licenses}, struct {
			A []mAccount
			L []mLicense
		}{accts, lics}, cmpOpts...)
	}}
}

// ---- UpdateProfile ----

type opUpdateProfile struct {
	pid   int64
	patch partner.ProfilePatch
	valid bool
}

func (o *opUpdateProfile) String() string {
	p := o.patch
	var s []string
	f := func(name string, v *string) {
		if v != nil {
			s = append(s, name+" "+q(*v))
		}
	}
	f("company", p.CompanyName)
	f("city", p.City)
	f("state", p.State)
	f("country", p.Country)
	f("url", p.SignInURL)
	if p.Contacts != nil {
		s = append(s, "contacts "+showContacts(*p.Contacts))
	}
	return fmt.Sprintf("UpdateProfile(partner %d, version %d, {%s})", o.pid, p.Version, strings.Join(s, ", "))
}

func (o *opUpdateProfile) call(w *world, m *partner.Manager) (any, string, error) {
	patch := deepCopy(o.patch)
	before := deepCopy(patch)
	p, err := m.UpdateProfile(w.ctx, w.act(kPartner, o.pid), patch)
	return p, inputDiff(before, patch), err
}

func (o *opUpdateProfile) created(any) []ref              { return nil }
func (o *opUpdateProfile) touches(*model) ([]int64, bool) { return []int64{o.pid}, false }

func (o *opUpdateProfile) expect(md *model) exp {
	p, e := md.scope(o.pid, gProfile, o.patch.Version)
	if e != nil {
		return *e
	}
	if !o.valid {
		return refuse("invalid profile field", partner.ErrInvalid)
	}
	next := p.Profile
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&next.CompanyName, o.patch.CompanyName)
	set(&next.City, o.patch.City)
	set(&next.State, o.patch.State)
	set(&next.Country, o.patch.Country)
	set(&next.SignInURL, o.patch.SignInURL)
	if o.patch.Contacts != nil {
		next.Contacts = slices.Clone(*o.patch.Contacts)
		if next.Contacts == nil {
			next.Contacts = []partner.Contact{}
		}
	}
	next = refProfile(next)
	if cmp.Equal(next, p.Profile, cmpOpts...) {
		return exp{why: "no-op: nothing changes", check: md.partnerResult(o.pid)}
	}
	return exp{why: "profile change", apply: func(any) {
		p.Profile = next
		md.bumpPartner(p)
	}, check: md.partnerResult(o.pid)}
}

// ---- Suspend, Reactivate, Cancel ----

type opStatus struct {
	pid, version int64
	to           partner.Status // Suspended (Suspend), Active (Reactivate), Canceled (Cancel)
}

func (o *opStatus) name() string {
	switch o.to {
	case partner.Suspended:
		return "Suspend"
	case partner.Active:
		return "Reactivate"
	}
	return "Cancel"
}

func (o *opStatus) String() string {
	return fmt.Sprintf("%s(partner %d, version %d)", o.name(), o.pid, o.version)
}

func (o *opStatus) call(w *world, m *partner.Manager) (any, string, error) {
	id := w.act(kPartner, o.pid)
	var (
		p   partner.Partner
		err error
	)
	switch o.to {
	case partner.Suspended:
		p, err = m.Suspend(w.ctx, id, o.version)
	case partner.Active:
		p, err = m.Reactivate(w.ctx, id, o.version)
	default:
		p, err = m.Cancel(w.ctx, id, o.version)
	}
	return p, "", err
}

func (o *opStatus) created(any) []ref              { return nil }
func (o *opStatus) touches(*model) ([]int64, bool) { return []int64{o.pid}, false }

func (o *opStatus) expect(md *model) exp {
	g := map[partner.Status]guardOp{partner.Suspended: gSuspend, partner.Active: gReactivate, partner.Canceled: gCancel}[o.to]
	p, e := md.scope(o.pid, g, o.version)
	if e != nil {
		return *e
	}
	return exp{why: "status change", apply: func(any) {
		p.Status = o.to
		if o.to == partner.Canceled {
			at := md.now
			p.CanceledAt = at
			for _, id := range md.licsOf(p.ID) {
				l := md.lics[id]
				switch {
				case l.Start.Before(at) && l.Expiry.After(at): // running: expires now
					l.Expiry = at
					l.Version++
				case !l.Start.Before(at) && !l.Disabled: // not started: disabled now, dates kept
					l.Disabled, l.DisabledAt = true, at
					l.Version++
				}
				md.lics[id] = l
			}
			for _, id := range md.acctsOf(p.ID) {
				if a := md.accts[id]; a.Enabled {
					a.Enabled = false
					a.Version++
					md.accts[id] = a
				}
			}
		}
		md.bumpPartner(p)
	}, check: md.partnerResult(o.pid)}
}

// ---- SetPoolRefill, SetMinimumLicenses ----

type opPoolRefill struct {
	pid, version int64
	on           bool
}

func (o *opPoolRefill) String() string {
	return fmt.Sprintf("SetPoolRefill(partner %d, version %d, %v)", o.pid, o.version, o.on)
}

func (o *opPoolRefill) call(w *world, m *partner.Manager) (any, string, error) {
	p, err := m.SetPoolRefill(w.ctx, w.act(kPartner, o.pid), o.version, o.on)
	return p, "", err
}

func (o *opPoolRefill) created(any) []ref              { return nil }
func (o *opPoolRefill) touches(*model) ([]int64, bool) { return []int64{o.pid}, false }

func (o *opPoolRefill) expect(md *model) exp {
	p, e := md.scope(o.pid, gActive, o.version)
	if e != nil {
		return *e
	}
	if p.PoolRefill == o.on {
		return exp{why: "no-op: same setting", check: md.partnerResult(o.pid)}
	}
	return exp{why: "pool refill change", apply: func(any) {
		p.PoolRefill = o.on
		md.bumpPartner(p)
	}, check: md.partnerResult(o.pid)}
}

type opMinimum struct {
	pid, version, n int64
}

func (o *opMinimum) String() string {
	return fmt.Sprintf("SetMinimumLicenses(partner %d, version %d, %d)", o.pid, o.version, o.n)
}

func (o *opMinimum) call(w *world, m *partner.Manager) (any, string, error) {
	p, err := m.SetMinimumLicenses(w.ctx, w.act(kPartner, o.pid), o.version, o.n)
	return p, "", err
}

func (o *opMinimum) created(any) []ref              { return nil }
func (o *opMinimum) touches(*model) ([]int64, bool) { return []int64{o.pid}, false }

func (o *opMinimum) expect(md *model) exp {
	p, e := md.scope(o.pid, gActive, o.version)
	if e != nil {
		return early(e, o.n < 0 || o.n > partner.MaxMinimumPool)
	}
	if o.n < 0 || o.n > partner.MaxMinimumPool {
		return refuse("minimum out of range", partner.ErrInvalid)
	}
	if p.MinimumLicenses == o.n {
		return exp{why: "no-op: same minimum", check: md.partnerResult(o.pid)}
	}
	return exp{why: "minimum change", apply: func(any) {
		p.MinimumLicenses = o.n
		md.bumpPartner(p)
	}, check: md.partnerResult(o.pid)}
}

// ---- AssignLicenses ----

type opAssign struct {
	pid    int64
	a      partner.AssignLicensesParams // canonical product ids
	note   string
	status partner.Status // the partner's status when the model judged the call (for the stats)
}

func (o *opAssign) String() string {
	return fmt.Sprintf("AssignLicenses(partner %d, key %s, grants %s)%s", o.pid, q(o.a.Key), showGrants(o.a.Grants), o.note)
}

func (o *opAssign) call(w *world, m *partner.Manager) (any, string, error) {
	a := deepCopy(o.a)
	a.Grants = actGrants(w, a.Grants)
	before := deepCopy(a)
	res, err := m.AssignLicenses(w.ctx, w.act(kPartner, o.pid), a)
	return res.Licenses, inputDiff(before, a), err
}

func (o *opAssign) created(res any) []ref {
	ls, _ := res.([]license.License)
	var out []ref
	for _, l := range ls {
		out = append(out, ref{kLicense, l.ID})
	}
	return out
}

func (o *opAssign) touches(*model) ([]int64, bool) { return []int64{o.pid}, false }

func (o *opAssign) expect(md *model) exp {
	grants, gok := md.resolveGrants(o.a.Grants)
	invalid := len(o.a.Grants) == 0 || !gok || !refKeyValid(o.a.Key)
	p, ok := md.partners[o.pid]
	if !ok {
		e := refuse("unknown partner", partner.ErrNotFound)
		return early(&e, invalid)
	}
	o.status = p.Status
	prior, used := md.keys[o.pid][o.a.Key]
	if o.a.Key != "" && used && !prior.refill && sameResolved(prior.grants, grants) {
		// A replay, whatever the partner's status now: the licences of
		// the first call as they are now, nothing written.
		return exp{why: "idempotent replay", check: md.licensesResult(prior.lics)}
	}
	if err := refGuard(p.Status, p.Type, gActive); err != nil {
		e := refuse(fmt.Sprintf("guard: %s %s", p.Status, p.Type), err)
		return early(&e, invalid)
	}
	if invalid {
		e := refuse("invalid grants or key", partner.ErrInvalid)
		if len(o.a.Grants) > 0 && gok {
			e.field = "idempotency key"
		}
		return e
	}
	if o.a.Key != "" && used {
		e := refuse("key used for another request", partner.ErrDuplicate)
		e.field = "idempotency key"
		return e
	}
	var ids []int64
	return exp{why: "new licences", apply: func(v any) {
		ls := v.([]license.License)
		for i, l := range ls {
			if i >= len(grants) {
				break
			}
			md.lics[l.ID] = newMLicense(l.ID, o.pid, grants[i], o.a.Key)
			ids = append(ids, l.ID)
		}
		md.audit[o.pid]++
		if o.a.Key != "" {
			if md.keys[o.pid] == nil {
				md.keys[o.pid] = map[string]mKey{}
			}
			md.keys[o.pid][o.a.Key] = mKey{grants: grants, lics: ids}
		}
	}, check: func(v any) string { return md.licensesResult(ids)(v) }}
}

// newMLicense is the licence a valid grant, as the catalogue resolved it,
// creates.
func newMLicense(id, pid int64, g license.Grant, key string) mLicense {
	return mLicense{ID: id, PartnerID: pid, ProductID: g.ProductID, Product: g.Product, UnitType: g.UnitType, Kind: g.Kind,
		GrantedKind: g.Kind, Units: g.Units, Start: g.Start, Expiry: g.Expiry, GrantKey: key, Origin: license.OriginAssigned, Version: 1}
}

// resolveGrants resolves every grant (see resolveGrant) and reports
// whether all are valid.
func (md *model) resolveGrants(gs []license.Grant) ([]license.Grant, bool) {
	out := make([]license.Grant, len(gs))
	ok := true
	for i, g := range gs {
		var v bool
		out[i], v = md.resolveGrant(g)
		ok = ok && v
	}
	return out, ok
}

// actGrants maps the canonical product ids of grants to the store's.
func actGrants(w *world, gs []license.Grant) []license.Grant {
	for i := range gs {
		gs[i].ProductID = w.act(kProduct, gs[i].ProductID)
	}
	return gs
}

// ---- DisableLicenses ----

type opDisableLicenses struct {
	pid    int64
	ids    []int64
	enable bool // EnableLicenses
}

func (o *opDisableLicenses) String() string {
	if o.enable {
		return fmt.Sprintf("EnableLicenses(partner %d, %v)", o.pid, o.ids)
	}
	return fmt.Sprintf("DisableLicenses(partner %d, %v)", o.pid, o.ids)
}

func (o *opDisableLicenses) call(w *world, m *partner.Manager) (any, string, error) {
	ids := w.actIDs(kLicense, o.ids)
	before := slices.Clone(ids)
	f := m.DisableLicenses
	if o.enable {
		f = m.EnableLicenses
	}
	ls, err := f(w.ctx, w.act(kPartner, o.pid), ids)
	return ls, inputDiff(before, ids), err
}

func (o *opDisableLicenses) created(any) []ref              { return nil }
func (o *opDisableLicenses) touches(*model) ([]int64, bool) { return []int64{o.pid}, false }

func (o *opDisableLicenses) expect(md *model) exp {
	ids := slices.Compact(slices.Sorted(slices.Values(o.ids)))
	if _, e := md.scope(o.pid, gMSP, 0); e != nil {
		return early(e, len(ids) == 0)
	}
	if len(ids) == 0 {
		return refuse("no licence selected", partner.ErrInvalid)
	}
	var changed []int64
	for _, id := range ids {
		l, ok := md.lics[id]
		if !ok || l.PartnerID != o.pid {
			return refuse(fmt.Sprintf("licence %d is not the partner's", id), partner.ErrNotFound)
		}
		if l.Disabled == o.enable {
			changed = append(changed, id)
		}
	}
	if len(changed) == 0 {
		return exp{why: "no-op: all already so", check: md.licensesResult(ids)}
	}
	return exp{why: "disable or enable licences", apply: func(any) {
		for _, id := range changed {
			l := md.lics[id]
			l.Disabled, l.DisabledAt = !o.enable, md.now
			if o.enable {
				l.DisabledAt = time.Time{}
			}
			l.Version++
			md.lics[id] = l
		}
		md.audit[o.pid]++
	}, check: md.licensesResult(ids)}
}

// ---- Enable/DisableRemoteManager ----

type opRemoteManager struct {
	pid, version int64
	dc           string
	on           bool
}

func (o *opRemoteManager) String() string {
	n := "DisableRemoteManager"
	if o.on {
		n = "EnableRemoteManager"
	}
	return fmt.Sprintf("%s(partner %d, version %d, %q)", n, o.pid, o.version, o.dc)
}

func (o *opRemoteManager) call(w *world, m *partner.Manager) (any, string, error) {
	id, dc := w.act(kPartner, o.pid), serviceplan.DataCenter(o.dc)
	if o.on {
		p, err := m.EnableRemoteManager(w.ctx, id, o.version, dc)
		return p, "", err
	}
	p, err := m.DisableRemoteManager(w.ctx, id, o.version, dc)
	return p, "", err
}

func (o *opRemoteManager) created(any) []ref              { return nil }
func (o *opRemoteManager) touches(*model) ([]int64, bool) { return []int64{o.pid}, false }

func (o *opRemoteManager) expect(md *model) exp {
	dc, ok := refDataCenter(o.dc)
	p, e := md.scope(o.pid, gMSP, o.version)
	if e != nil {
		return early(e, !ok)
	}
	if !ok {
		return refuse("not a data center", partner.ErrInvalid)
	}
	if slices.Contains(p.RemoteManager, dc) == o.on {
		return exp{why: "no-op: already so", check: md.partnerResult(o.pid)}
	}
	return exp{why: "remote manager change", apply: func(any) {
		next := slices.DeleteFunc(slices.Clone(p.RemoteManager), func(d serviceplan.DataCenter) bool { return d == dc })
		if o.on {
			next = append(next, dc)
		}
		p.RemoteManager, _ = refDataCenters(next)
		md.bumpPartner(p)
	}, check: md.partnerResult(o.pid)}
}

// ---- CreatePlan, UpdatePlan ----

type opCreatePlan struct {
	in    serviceplan.Plan
	valid bool
}

func (o *opCreatePlan) String() string {
	p := o.in
	return fmt.Sprintf("CreatePlan({name %s enabled %v product %s kind %q unit %s nfr %v dc %q period %d renew %v notice %d})",
		q(p.Name), p.Enabled, q(p.Product), p.Kind, q(p.UnitType), p.NFR, p.DataCenter, p.InitialPeriodMonths, p.AutoRenew, p.ExpiryNoticeDays)
}

func (o *opCreatePlan) call(w *world, m *partner.Manager) (any, string, error) {
	in := o.in
	before := in
	p, err := m.CreatePlan(w.ctx, in)
	return p, inputDiff(before, in), err
}

func (o *opCreatePlan) created(res any) []ref {
	if p, ok := res.(serviceplan.Plan); ok {
		return []ref{{kPlan, p.ID}}
	}
	return nil
}

func (o *opCreatePlan) touches(*model) ([]int64, bool) { return nil, true }

func (md *model) planNameTaken(name string, except int64) bool {
	for _, p := range md.plans {
		if p.ID != except && refFold(p.Name) == refFold(strings.TrimSpace(name)) {
			return true
		}
	}
	return false
}

func (o *opCreatePlan) expect(md *model) exp {
	if !o.valid {
		return refuse("invalid plan", partner.ErrInvalid)
	}
	in := o.in
	in.Name, in.Product, in.UnitType = strings.TrimSpace(in.Name), strings.TrimSpace(in.Product), strings.TrimSpace(in.UnitType)
	dc, _ := refDataCenter(string(in.DataCenter))
	if md.planNameTaken(in.Name, 0) {
		return refuse("plan name taken", partner.ErrDuplicate)
	}
	if in.NFR {
		for _, p := range md.plans {
			if p.NFR && p.Product == in.Product && p.DataCenter == dc {
				return refuse("NFR plan exists for product and data center", partner.ErrDuplicate)
			}
		}
	}
	var id int64
	return exp{why: "new plan", apply: func(v any) {
		id = v.(serviceplan.Plan).ID
		md.plans[id] = mPlan{ID: id, Name: in.Name, Enabled: in.Enabled, Product: in.Product, Kind: in.Kind, UnitType: in.UnitType,
			NFR: in.NFR, DataCenter: dc, InitialPeriodMonths: in.InitialPeriodMonths, AutoRenew: in.AutoRenew,
			ExpiryNoticeDays: in.ExpiryNoticeDays, Version: 1}
		md.catAudit++
	}, check: func(v any) string { return md.planResult(id)(v) }}
}

type opUpdatePlan struct {
	id    int64
	patch serviceplan.Patch
	valid bool
}

func (o *opUpdatePlan) String() string {
	p := o.patch
	var s []string
	if p.Name != nil {
		s = append(s, "name "+q(*p.Name))
	}
	if p.Enabled != nil {
		s = append(s, fmt.Sprintf("enabled %v", *p.Enabled))
	}
	if p.InitialPeriodMonths != nil {
		s = append(s, fmt.Sprintf("period %d", *p.InitialPeriodMonths))
	}
	if p.AutoRenew != nil {
		s = append(s, fmt.Sprintf("renew %v", *p.AutoRenew))
	}
	if p.ExpiryNoticeDays != nil {
		s = append(s, fmt.Sprintf("notice %d", *p.ExpiryNoticeDays))
	}
	return fmt.Sprintf("UpdatePlan(plan %d, version %d, {%s})", o.id, p.Version, strings.Join(s, ", "))
}

func (o *opUpdatePlan) call(w *world, m *partner.Manager) (any, string, error) {
	patch := deepCopy(o.patch)
	before := deepCopy(patch)
	p, err := m.UpdatePlan(w.ctx, w.act(kPlan, o.id), patch)
	return p, inputDiff(before, patch), err
}

func (o *opUpdatePlan) created(any) []ref              { return nil }
func (o *opUpdatePlan) touches(*model) ([]int64, bool) { return nil, true }

func (o *opUpdatePlan) expect(md *model) exp {
	cur, ok := md.plans[o.id]
	if !ok {
		return refuse("unknown plan", partner.ErrNotFound)
	}
	if o.patch.Version != 0 && o.patch.Version != cur.Version {
		return refuse("stale plan version", partner.ErrConflict)
	}
	if !o.valid {
		return refuse("invalid plan field", partner.ErrInvalid)
	}
	next := cur
	if o.patch.Name != nil {
		next.Name = strings.TrimSpace(*o.patch.Name)
		if md.planNameTaken(next.Name, cur.ID) {
			return refuse("plan name taken", partner.ErrDuplicate)
		}
	}
	if o.patch.Enabled != nil {
		next.Enabled = *o.patch.Enabled
	}
	if o.patch.InitialPeriodMonths != nil {
		next.InitialPeriodMonths = *o.patch.InitialPeriodMonths
	}
	if o.patch.AutoRenew != nil {
		next.AutoRenew = *o.patch.AutoRenew
	}
	if o.patch.ExpiryNoticeDays != nil {
		next.ExpiryNoticeDays = *o.patch.ExpiryNoticeDays
	}
	if next == cur {
		return exp{why: "no-op: nothing changes", check: md.planResult(o.id)}
	}
	return exp{why: "plan change", apply: func(any) {
		next.Version++
		md.plans[o.id] = next
		md.catAudit++
	}, check: md.planResult(o.id)}
}

// ---- AssignPlan, RemovePlan ----

type opPlanAssign struct {
	pid, plan int64
	assign    bool
}

func (o *opPlanAssign) String() string {
	if o.assign {
		return fmt.Sprintf("AssignPlan(partner %d, plan %d)", o.pid, o.plan)
	}
	return fmt.Sprintf("RemovePlan(partner %d, plan %d)", o.pid, o.plan)
}

func (o *opPlanAssign) call(w *world, m *partner.Manager) (any, string, error) {
	pid, plan := w.act(kPartner, o.pid), w.act(kPlan, o.plan)
	if o.assign {
		ap, err := m.AssignPlan(w.ctx, pid, plan)
		return ap, "", err
	}
	return noValue{}, "", m.RemovePlan(w.ctx, pid, plan)
}

func (o *opPlanAssign) created(any) []ref              { return nil }
func (o *opPlanAssign) touches(*model) ([]int64, bool) { return []int64{o.pid}, false }

func (o *opPlanAssign) expect(md *model) exp {
	if _, e := md.scope(o.pid, gReseller, 0); e != nil {
		return *e
	}
	pl, ok := md.plans[o.plan]
	if !ok {
		return refuse("unknown plan", partner.ErrNotFound)
	}
	key := [2]int64{o.pid, o.plan}
	if !o.assign {
		if !md.assigned[key] {
			return refuse("plan not assigned", partner.ErrNotFound)
		}
		return exp{why: "remove plan", apply: func(any) {
			delete(md.assigned, key)
			md.audit[o.pid]++
		}}
	}
	var errs []error
	if !pl.Enabled {
		errs = append(errs, partner.ErrPlanDisabled)
	}
	if md.assigned[key] {
		errs = append(errs, partner.ErrDuplicate)
	}
	if len(errs) > 0 {
		return refuse("plan disabled or already assigned", errs...)
	}
	return exp{why: "assign plan", apply: func(any) {
		md.assigned[key] = true
		md.audit[o.pid]++
	}, check: md.planResult(o.plan)}
}

// ---- Accounts ----

type opAddAccount struct {
	pid   int64
	in    account.Params
	valid bool
}

func (o *opAddAccount) String() string {
	return fmt.Sprintf("AddAccount(partner %d, {%s %s %s %s role %q})", o.pid, q(o.in.Name), q(o.in.FirstName), q(o.in.LastName),
		q(o.in.Email), o.in.Role)
}

func (o *opAddAccount) call(w *world, m *partner.Manager) (any, string, error) {
	in := o.in
	before := in
	a, err := m.AddAccount(w.ctx, w.act(kPartner, o.pid), in)
	return a, inputDiff(before, in), err
}

func (o *opAddAccount) created(res any) []ref {
	if a, ok := res.(account.Account); ok {
		return []ref{{kAccount, a.ID}}
	}
	return nil
}

func (o *opAddAccount) touches(*model) ([]int64, bool) { return []int64{o.pid}, false }

func (o *opAddAccount) expect(md *model) exp {
	if _, e := md.scope(o.pid, gActive, 0); e != nil {
		return early(e, !o.valid)
	}
	if !o.valid {
		return refuse("invalid account", partner.ErrInvalid)
	}
	name := strings.ToLower(strings.TrimSpace(o.in.Name))
	if md.accountNameTaken(name) {
		return refuse("account name taken", partner.ErrDuplicate)
	}
	var id int64
	return exp{why: "new account", apply: func(v any) {
		id = v.(account.Account).ID
		md.accts[id] = mAccount{ID: id, PartnerID: o.pid, Name: name, FirstName: strings.TrimSpace(o.in.FirstName),
			LastName: strings.TrimSpace(o.in.LastName), Mail: strings.TrimSpace(o.in.Email), Role: o.in.Role, Enabled: true, Version: 1}
		md.audit[o.pid]++
	}, check: func(v any) string { return md.accountResult(id)(v) }}
}

// opAccount is ChangeRole, Enable/DisableAccount, ResetPassword and
// DeleteAccount.
type opAccount struct {
	what      string // "role", "enable", "disable", "reset", "delete"
	pid, acct int64
	version   int64
	role      account.Role
}

func (o *opAccount) String() string {
	switch o.what {
	case "role":
		return fmt.Sprintf("ChangeRole(partner %d, account %d, version %d, %q)", o.pid, o.acct, o.version, o.role)
	case "enable":
		return fmt.Sprintf("EnableAccount(partner %d, account %d, version %d)", o.pid, o.acct, o.version)
	case "disable":
		return fmt.Sprintf("DisableAccount(partner %d, account %d, version %d)", o.pid, o.acct, o.version)
	case "reset":
		return fmt.Sprintf("ResetPassword(partner %d, account %d)", o.pid, o.acct)
	}
	return fmt.Sprintf("DeleteAccount(partner %d, account %d)", o.pid, o.acct)
}

func (o *opAccount) call(w *world, m *partner.Manager) (any, string, error) {
	pid, id := w.act(kPartner, o.pid), w.act(kAccount, o.acct)
	var (
		a   account.Account
		err error
	)
	switch o.what {
	case "role":
		a, err = m.ChangeRole(w.ctx, pid, id, o.version, o.role)
	case "enable":
		a, err = m.EnableAccount(w.ctx, pid, id, o.version)
	case "disable":
		a, err = m.DisableAccount(w.ctx, pid, id, o.version)
	case "reset":
		a, err = m.ResetPassword(w.ctx, pid, id)
	default:
		return noValue{}, "", m.DeleteAccount(w.ctx, pid, id)
	}
	return a, "", err
}

func (o *opAccount) created(any) []ref              { return nil }
func (o *opAccount) touches(*model) ([]int64, bool) { return []int64{o.pid}, false }

func (o *opAccount) expect(md *model) exp {
	badRole := o.what == "role" && !o.role.Valid()
	if _, e := md.scope(o.pid, gActive, 0); e != nil {
		return early(e, badRole)
	}
	a, ok := md.accts[o.acct]
	ok = ok && a.PartnerID == o.pid
	if ok && o.version != 0 && o.version != a.Version {
		e := refuse("stale account version", partner.ErrConflict)
		return early(&e, badRole)
	}
	if o.what == "role" && !o.role.Valid() {
		if !ok {
			return refuse("invalid role, unknown account", partner.ErrInvalid, partner.ErrNotFound)
		}
		return refuse("invalid role", partner.ErrInvalid)
	}
	if !ok {
		return refuse("account is not the partner's", partner.ErrNotFound)
	}
	change := func(f func(a *mAccount)) exp {
		return exp{why: o.what, apply: func(any) {
			f(&a)
			a.Version++
			md.accts[a.ID] = a
			md.audit[o.pid]++
		}, check: md.accountResult(a.ID)}
	}
	switch o.what {
	case "role":
		if a.Role == o.role {
			return exp{why: "no-op: same role", check: md.accountResult(a.ID)}
		}
		if o.role != account.Administrator && md.lastAdmin(a) {
			return refuse("last administrator", partner.ErrLastAdministrator)
		}
		return change(func(a *mAccount) { a.Role = o.role })
	case "enable", "disable":
		on := o.what == "enable"
		if a.Enabled == on {
			return exp{why: "no-op: already so", check: md.accountResult(a.ID)}
		}
		if !on && md.lastAdmin(a) {
			return refuse("last administrator", partner.ErrLastAdministrator)
		}
		return change(func(a *mAccount) { a.Enabled = on })
	case "reset":
		if !a.Enabled {
			return refuse("account disabled", partner.ErrInvalid)
		}
		e := change(func(a *mAccount) { a.PasswordResetAt = md.now })
		apply := e.apply
		e.apply = func(v any) { apply(v); md.resets++ }
		return e
	}
	if md.lastAdmin(a) {
		return refuse("last administrator", partner.ErrLastAdministrator)
	}
	return exp{why: "delete account", apply: func(any) {
		delete(md.accts, a.ID)
		md.audit[o.pid]++
	}}
}

// ---- Customers and allocations ----

type opAddCustomer struct {
	pid   int64
	in    partner.CustomerParams
	valid bool
}

func (o *opAddCustomer) String() string {
	return fmt.Sprintf("AddCustomer(partner %d, {%s %s})", o.pid, q(o.in.Name), q(o.in.Email))
}

func (o *opAddCustomer) call(w *world, m *partner.Manager) (any, string, error) {
	in := o.in
	before := in
	c, err := m.AddCustomer(w.ctx, w.act(kPartner, o.pid), in)
	return c, inputDiff(before, in), err
}

func (o *opAddCustomer) created(res any) []ref {
	if c, ok := res.(partner.Customer); ok {
		return []ref{{kCustomer, c.ID}}
	}
	return nil
}

func (o *opAddCustomer) touches(*model) ([]int64, bool) { return []int64{o.pid}, false }

func (o *opAddCustomer) expect(md *model) exp {
	if _, e := md.scope(o.pid, gActive, 0); e != nil {
		return early(e, !o.valid)
	}
	if !o.valid {
		return refuse("invalid customer", partner.ErrInvalid)
	}
	var id int64
	return exp{why: "new customer", apply: func(v any) {
		id = v.(partner.Customer).ID
		md.custs[id] = mCustomer{ID: id, PartnerID: o.pid, Name: strings.TrimSpace(o.in.Name), Email: strings.TrimSpace(o.in.Email)}
		md.audit[o.pid]++
	}, check: func(v any) string {
		c := v.(partner.Customer)
		return cmp.Diff(md.custs[id], mCustomer{ID: c.ID, PartnerID: c.PartnerID, Name: c.Name, Email: c.Email})
	}}
}

type opAllocate struct {
	pid int64
	in  partner.AllocateParams
}

func (o *opAllocate) String() string {
	return fmt.Sprintf("Allocate(partner %d, licence %d, customer %d, units %d)", o.pid, o.in.LicenseID, o.in.CustomerID, o.in.Units)
}

// allocRes is an allocation and the licence its pool's automatic refill
// issued, if any (read back around the call).
type allocRes struct {
	A      license.Allocation
	Refill []license.License
}

func (o *opAllocate) call(w *world, m *partner.Manager) (any, string, error) {
	pid := w.act(kPartner, o.pid)
	in := partner.AllocateParams{LicenseID: w.act(kLicense, o.in.LicenseID), CustomerID: w.act(kCustomer, o.in.CustomerID), Units: o.in.Units}
	before, _, _ := m.Licenses(w.ctx, pid, partner.Page{Limit: partner.MaxLimit}) // fails in an aborted batch: the call fails too
	a, err := m.Allocate(w.ctx, pid, in)
	if err != nil {
		return nil, "", err
	}
	res := allocRes{A: a}
	after, _, err := m.Licenses(w.ctx, pid, partner.Page{Limit: partner.MaxLimit})
	for _, l := range after {
		if !slices.ContainsFunc(before, func(b license.License) bool { return b.ID == l.ID }) {
			res.Refill = append(res.Refill, l)
		}
	}
	return res, "", err
}

func (o *opAllocate) created(res any) []ref {
	r, ok := res.(allocRes)
	if !ok {
		return nil
	}
	out := []ref{{kAlloc, r.A.ID}}
	for _, l := range r.Refill {
		out = append(out, ref{kLicense, l.ID})
	}
	return out
}

func (o *opAllocate) touches(*model) ([]int64, bool) { return []int64{o.pid}, false }

func (o *opAllocate) expect(md *model) exp {
	badUnits := o.in.Units < 1 || o.in.Units > license.MaxUnits
	_, e := md.scope(o.pid, gActive, 0)
	if e != nil {
		return early(e, badUnits)
	}
	if badUnits {
		return refuse("units out of range", partner.ErrInvalid)
	}
	// The operation's own rules; when several apply, any of them is
	// accepted (the product states no order among them).
	var errs []error
	l, ok := md.lics[o.in.LicenseID]
	switch {
	case !ok || l.PartnerID != o.pid:
		errs = append(errs, partner.ErrNotFound)
	case l.Disabled:
		errs = append(errs, partner.ErrLicenseDisabled)
	case !md.now.Before(l.Expiry):
		errs = append(errs, partner.ErrLicenseExpired)
	case md.now.Before(l.Start):
		errs = append(errs, partner.ErrLicenseNotStarted)
	}
	if c, ok := md.custs[o.in.CustomerID]; !ok || c.PartnerID != o.pid {
		errs = append(errs, partner.ErrNotFound)
	}
	// An allocation never grows a licence, whatever the pool refill
	// setting: a licence short of units refuses.
	if ok && o.in.Units > l.Units-l.Used {
		errs = append(errs, partner.ErrInsufficientUnits)
	}
	if len(errs) > 0 {
		return refuse("allocation rules", errs...)
	}
	var id int64
	var refill []int64
	after := md.clone()
	l.Used += o.in.Units
	after.lics[l.ID] = l
	nl, auto := after.autoRefill(o.pid, l, o.in.Units)
	why := "allocate"
	if auto {
		why = "allocate with automatic refill"
	}
	return exp{why: why, apply: func(v any) {
		r := v.(allocRes)
		id = r.A.ID
		md.lics[l.ID] = l
		md.allocs[id] = mAlloc{ID: id, PartnerID: o.pid, LicenseID: l.ID, CustomerID: o.in.CustomerID, Units: o.in.Units}
		md.audit[o.pid]++
		if auto && len(r.Refill) > 0 { // the refill, audited apart
			nl.ID = r.Refill[0].ID
			md.lics[nl.ID] = nl
			refill = append(refill, nl.ID)
			md.audit[o.pid]++
		}
	}, check: func(v any) string {
		r := v.(allocRes)
		a := r.A
		if d := cmp.Diff(md.allocs[id], mAlloc{ID: a.ID, PartnerID: a.PartnerID, LicenseID: a.LicenseID, CustomerID: a.CustomerID, Units: a.Units}); d != "" {
			return d
		}
		if auto != (len(r.Refill) > 0) {
			return fmt.Sprintf("the model expected an automatic refill: %v; the store issued %d licences", auto, len(r.Refill))
		}
		return md.licensesResult(refill)(r.Refill)
	}}
}

type opRelease struct {
	pid, alloc int64
}

func (o *opRelease) String() string {
	return fmt.Sprintf("Release(partner %d, allocation %d)", o.pid, o.alloc)
}

func (o *opRelease) call(w *world, m *partner.Manager) (any, string, error) {
	return noValue{}, "", m.Release(w.ctx, w.act(kPartner, o.pid), w.act(kAlloc, o.alloc))
}

func (o *opRelease) created(any) []ref              { return nil }
func (o *opRelease) touches(*model) ([]int64, bool) { return []int64{o.pid}, false }

func (o *opRelease) expect(md *model) exp {
	if _, e := md.scope(o.pid, gActive, 0); e != nil {
		return *e
	}
	a, ok := md.allocs[o.alloc]
	if !ok || a.PartnerID != o.pid {
		return refuse("allocation is not the partner's", partner.ErrNotFound)
	}
	return exp{why: "release", apply: func(any) {
		l := md.lics[a.LicenseID]
		l.Used -= a.Units
		md.lics[l.ID] = l
		delete(md.allocs, a.ID)
		md.audit[o.pid]++
	}}
}

// ---- reads (inside RunInTx batches) ----

type opRead struct {
	what string // "get", "licenses", "accounts"
	pid  int64
	page partner.Page
}

func (o *opRead) String() string {
	switch o.what {
	case "get":
		return fmt.Sprintf("Get(partner %d)", o.pid)
	case "licenses":
		return fmt.Sprintf("Licenses(partner %d, page %+v)", o.pid, o.page)
	}
	return fmt.Sprintf("Accounts(partner %d)", o.pid)
}

func (o *opRead) call(w *world, m *partner.Manager) (any, string, error) {
	id := w.act(kPartner, o.pid)
	switch o.what {
	case "get":
		p, err := m.Get(w.ctx, id)
		return p, "", err
	case "licenses":
		ls, _, err := m.Licenses(w.ctx, id, o.page)
		return ls, "", err
	}
	as, _, err := m.Accounts(w.ctx, id, partner.Page{Limit: partner.MaxLimit})
	return as, "", err
}

func (o *opRead) created(any) []ref              { return nil }
func (o *opRead) touches(*model) ([]int64, bool) { return nil, false }

func (o *opRead) expect(md *model) exp {
	if o.what == "licenses" && (o.page.Limit < 0 || o.page.Limit > partner.MaxLimit || o.page.Offset < 0) {
		return refuse("invalid page", partner.ErrInvalid)
	}
	if _, ok := md.partners[o.pid]; !ok {
		return refuse("unknown partner", partner.ErrNotFound)
	}
	return exp{why: "read"}
}

// ---- RunInTx batches and the clock ----

type opBatch struct {
	ops       []op
	propagate bool // fn returns the first error (else it ignores every error and returns nil)
}

func (o *opBatch) String() string {
	var s []string
	for _, x := range o.ops {
		s = append(s, x.String())
	}
	mode := "fn ignores errors"
	if o.propagate {
		mode = "fn returns the first error"
	}
	return fmt.Sprintf("RunInTx(%s: %s)", mode, strings.Join(s, "; "))
}

func (o *opBatch) call(*world, *partner.Manager) (any, string, error) {
	panic("runner.batch runs batches")
}
func (o *opBatch) expect(*model) exp              { panic("runner.batch runs batches") }
func (o *opBatch) created(any) []ref              { return nil }
func (o *opBatch) touches(*model) ([]int64, bool) { return nil, false }

type opClock struct{ d time.Duration }

func (o *opClock) String() string { return fmt.Sprintf("AdvanceClock(%v)", o.d) }
func (o *opClock) call(*world, *partner.Manager) (any, string, error) {
	panic("runner.step advances the clock")
}
func (o *opClock) expect(*model) exp              { panic("runner.step advances the clock") }
func (o *opClock) created(any) []ref              { return nil }
func (o *opClock) touches(*model) ([]int64, bool) { return nil, false }

// ---- generators ----

// pv is a palette value labelled valid or not by the product's rules.
type pv[T any] struct {
	v  T
	ok bool
}

var (
	companyNames = []pv[string]{{"Acme Managed IT", true}, {"  Padded Partners  ", true}, {"Οδός Σας", true}, {"ſtar Systems", true},
		{"Straße Computing", true}, {"ÉCOLE Numérique", true}, {"e\u0301cole Décomposée", true}, {"日本 Partner", true},
		{"100% Under_score", true}, {strings.Repeat("é", partner.MaxCompanyLen), true},
		{"", false}, {"   ", false}, {strings.Repeat("x", partner.MaxCompanyLen+1), false}, {"Bad\x01Name", false}, {"\xffbad", false}}
	cities     = []pv[string]{{"Lyon", true}, {"  Paris  ", true}, {"Zürich", true}, {"", false}, {strings.Repeat("c", partner.MaxPlaceLen+1), false}}
	states     = []pv[string]{{"", true}, {"Rhône", true}, {" Bavaria ", true}, {strings.Repeat("s", partner.MaxPlaceLen+1), false}, {"Bad\nState", false}}
	countries  = []pv[string]{{"France", true}, {" Greece ", true}, {"", false}, {"Bad\tCountry", false}}
	signInURLs = []pv[string]{{"", true}, {"https://acme.example/login", true}, {" http://x.example ", true}, {"ftp://x.example", false},
		{"not a url", false}, {"https://", false}}
	contactsPal = []pv[partner.Contact]{{partner.Contact{FirstName: "Ada", LastName: "Martin", Email: "ada@acme.example"}, true},
		{partner.Contact{FirstName: " Bob ", LastName: " Stone ", Email: " bob@stone.example ", Phone: " +33 1 23 "}, true},
		{partner.Contact{FirstName: "Cy", LastName: "Nope", Email: "not-an-email"}, false},
		{partner.Contact{FirstName: "", LastName: "Blank", Email: "blank@x.example"}, false}}
	personNames = []pv[string]{{"Ada", true}, {" Bea ", true}, {"", false}, {"Tab\tName", false}}
	emails      = []pv[string]{{"ada@example.com", true}, {" pad@example.com ", true}, {"not-an-email", false}, {"x@localhost", false}}
	products    = []pv[string]{{"Endpoint Security", true}, {"  Email Security ", true}, {"", false}, {"Bad\x07", false},
		{strings.Repeat("p", license.MaxTextLen+1), false}}
	unitTypes = []pv[string]{{"seats", true}, {" users ", true}, {"", false}}
	unitsPal  = []pv[int64]{{5, true}, {1, true}, {50, true}, {license.MaxUnits, true}, {0, false}, {-3, false}, {license.MaxUnits + 1, false}}
	kindsPal  = []pv[license.Kind]{{license.Full, true}, {license.Trial, true}, {"bogus", false}}
	custNames = []pv[string]{{"Corner Bakery", true}, {"  Café Trim  ", true}, {"", false}, {"   ", false},
		{strings.Repeat("c", partner.MaxCompanyLen+1), false}, {"Bad\x00Name", false}}
	custEmails = []pv[string]{{"", true}, {"owner@bakery.example", true}, {" owner@pad.example ", true}, {"nope", false}}
	zone       = time.FixedZone("UTC+2", 2*60*60)
)

// drawPartner picks a partner the model knows, or now and then one that
// exists nowhere.
func (r *runner) drawPartner(t *rapid.T) int64 {
	ids := r.md.partnerIDs()
	if len(ids) == 0 || rapid.IntRange(0, 19).Draw(t, "unknownPartner") == 0 {
		return unknownID + 1
	}
	return rapid.SampledFrom(ids).Draw(t, "partner")
}

// drawPartnerWith mostly picks a partner for which keep holds (when there
// is one), else any partner as drawPartner does.
func (r *runner) drawPartnerWith(t *rapid.T, keep func(id int64) bool) int64 {
	var ids []int64
	for _, id := range r.md.partnerIDs() {
		if keep(id) {
			ids = append(ids, id)
		}
	}
	if len(ids) > 0 && rapid.IntRange(0, 3).Draw(t, "preferPartner") > 0 {
		return rapid.SampledFrom(ids).Draw(t, "preferredPartner")
	}
	return r.drawPartner(t)
}

// drawVersion picks 0 (no check), the current version or a stale one.
func drawVersion(t *rapid.T, cur int64) int64 {
	switch rapid.IntRange(0, 9).Draw(t, "version") {
	case 4, 5, 6, 7:
		return cur
	case 8:
		if cur > 1 {
			return cur - 1
		}
		return cur + 1
	case 9:
		return cur + 1
	}
	return 0
}

// drawOwned picks one of the partner's own records, another partner's, or
// one that exists nowhere.
func drawOwned(t *rapid.T, label string, own, others []int64) int64 {
	switch rapid.IntRange(0, 9).Draw(t, label+"Whose") {
	case 8:
		if len(others) > 0 {
			return rapid.SampledFrom(others).Draw(t, label+"Other")
		}
	case 9:
		return unknownID + 2
	}
	if len(own) == 0 {
		if len(others) > 0 {
			return rapid.SampledFrom(others).Draw(t, label+"Other")
		}
		return unknownID + 3
	}
	return rapid.SampledFrom(own).Draw(t, label)
}

func others[T any](m map[int64]T, mine []int64) []int64 {
	var out []int64
	for id := range m {
		if !slices.Contains(mine, id) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// pick draws from the palette's valid entries, or from its invalid ones
// when bad.
func pick[T any](t *rapid.T, label string, pal []pv[T], bad bool) pv[T] {
	var xs []pv[T]
	for _, x := range pal {
		if x.ok != bad {
			xs = append(xs, x)
		}
	}
	if len(xs) == 0 {
		return pal[0]
	}
	return xs[rapid.IntRange(0, len(xs)-1).Draw(t, label)]
}

// drawBad decides whether an input is invalid: 1 time in n.
func drawBad(t *rapid.T, label string, n int) bool {
	return rapid.IntRange(0, n-1).Draw(t, label) == n-1
}

// drawField picks which of n fields to spoil when bad (-1: none).
func drawField(t *rapid.T, label string, n int, bad bool) int {
	if !bad {
		return -1
	}
	return rapid.IntRange(0, n-1).Draw(t, label)
}

// drawGrant draws a grant that is mostly valid, or, when bad, one with a
// field that is likely invalid; the model decides (resolveGrant), since
// validity depends on the catalogue. It names a product by name, or now
// and then by a catalogue id (or an unknown one), and a Trial may leave
// its expiry to the product's trial days.
func (r *runner) drawGrant(t *rapid.T, bad bool) license.Grant {
	f := drawField(t, "grantBadField", 5, bad)
	prod, ut := pick(t, "product", products, f == 0), pick(t, "unitType", unitTypes, f == 1)
	units, kd := pick(t, "units", unitsPal, f == 2), pick(t, "kind", kindsPal, f == 3)
	now := r.md.now
	day := 24 * time.Hour
	var s, e time.Time
	dates := rapid.IntRange(0, 6).Draw(t, "dates")
	if f == 4 {
		dates = rapid.IntRange(7, 10).Draw(t, "badDates")
	}
	switch dates {
	case 0, 1, 2: // running
		s, e = now.Add(-30*day), now.Add(365*day)
	case 3: // not started yet
		s, e = now.Add(10*day), now.Add(400*day)
	case 4: // expired
		s, e = now.Add(-400*day), now.Add(-day)
	case 5: // starts now
		s, e = now, now.Add(30*day)
	case 6: // no expiry: a Trial of a catalogue product that offers one
		s = now.Add(-day)
	case 7: // expiry before start
		s, e = now.Add(10*day), now
	case 8: // no start
		s, e = time.Time{}, now.Add(10*day)
	case 9: // before 2000
		s, e = time.Date(1999, 6, 1, 0, 0, 0, 0, time.UTC), now
	case 10: // longer than ten years
		s, e = now, now.Add(license.MaxTerm+day)
	}
	if rapid.IntRange(0, 3).Draw(t, "otherZone") == 0 {
		s, e = s.In(zone), e.In(zone)
	}
	if !s.IsZero() && rapid.IntRange(0, 3).Draw(t, "nanoseconds") == 0 {
		s = s.Add(1234 * time.Nanosecond)
		if !e.IsZero() {
			e = e.Add(789 * time.Nanosecond)
		}
	}
	g := license.Grant{Product: prod.v, UnitType: ut.v, Units: units.v, Kind: kd.v, Start: s, Expiry: e}
	switch rapid.IntRange(0, 7).Draw(t, "productRef") {
	case 1: // by catalogue id, with or without the name
		if ids := slices.Sorted(mapKeys(r.md.products)); len(ids) > 0 {
			g.ProductID = rapid.SampledFrom(ids).Draw(t, "productID")
			if rapid.Bool().Draw(t, "idOnly") {
				g.Product, g.UnitType = "", ""
			}
		}
	case 2: // an id that exists nowhere
		g.ProductID = unknownID + 9
	case 3: // the catalogue supplies the unit type
		g.UnitType = ""
	}
	return g
}

// drawGrants draws min to max grants; when bad, one of them likely
// invalid.
func (r *runner) drawGrants(t *rapid.T, min, max int, bad bool) []license.Grant {
	n := rapid.IntRange(min, max).Draw(t, "grants")
	badAt := -1
	if bad && n > 0 {
		badAt = rapid.IntRange(0, n-1).Draw(t, "badGrant")
	}
	var gs []license.Grant
	for i := range n {
		gs = append(gs, r.drawGrant(t, i == badAt))
	}
	return gs
}

// drawProfile draws a valid profile, or one with one invalid field.
func (r *runner) drawProfile(t *rapid.T, bad bool) (partner.Profile, bool) {
	f := drawField(t, "profileBadField", 6, bad)
	c, ci, st, co, u := pick(t, "company", companyNames, f == 0), pick(t, "city", cities, f == 1), pick(t, "state", states, f == 2),
		pick(t, "country", countries, f == 3), pick(t, "url", signInURLs, f == 4)
	cs, cok := drawContacts(t, f == 5)
	return partner.Profile{CompanyName: c.v, City: ci.v, State: st.v, Country: co.v, Contacts: cs, SignInURL: u.v},
		c.ok && ci.ok && st.ok && co.ok && u.ok && cok
}

// drawContacts draws a contact list (nil, empty, one or two contacts); when
// bad, one contact is invalid or there are too many.
func drawContacts(t *rapid.T, bad bool) ([]partner.Contact, bool) {
	if bad && rapid.Bool().Draw(t, "tooManyContacts") {
		cs := make([]partner.Contact, partner.MaxContacts+1)
		for i := range cs {
			cs[i] = contactsPal[0].v
		}
		return cs, false
	}
	n := rapid.IntRange(0, 3).Draw(t, "contacts") - 1 // -1: nil
	if bad && n < 1 {
		n = 1
	}
	if n < 0 {
		return nil, true
	}
	cs := []partner.Contact{}
	ok := true
	for i := range n {
		c := pick(t, "contact", contactsPal, bad && i == 0)
		cs, ok = append(cs, c.v), ok && c.ok
	}
	return cs, ok
}

// drawAccountName picks a new name, a taken one (valid in form), or, when
// bad, an invalid one.
func (r *runner) drawAccountName(t *rapid.T, bad bool) (string, bool) {
	n := r.next()
	if bad {
		return rapid.SampledFrom([]string{"ab", "bad name", "ädmin"}).Draw(t, "badAccountName"), false
	}
	switch rapid.IntRange(0, 5).Draw(t, "accountName") {
	case 1:
		return fmt.Sprintf("  Mixed.User%d  ", n), true
	case 2:
		var names []string
		for _, id := range slices.Sorted(mapKeys(r.md.accts)) {
			names = append(names, r.md.accts[id].Name)
		}
		if len(names) > 0 {
			return strings.ToUpper(rapid.SampledFrom(names).Draw(t, "takenName")), true
		}
	}
	return fmt.Sprintf("user%d", n), true
}

func (r *runner) genCreate(t *rapid.T) op {
	f := drawField(t, "createBadField", 9, drawBad(t, "createBad", 4))
	typ := pick(t, "type", []pv[partner.Type]{{partner.MSP, true}, {partner.Reseller, true}, {"bogus", false}}, f == 0)
	prof, pok := r.drawProfile(t, f == 1)
	name, nok := r.drawAccountName(t, f == 2)
	first, last, mail := pick(t, "first", personNames, f == 3), pick(t, "last", personNames, f == 4), pick(t, "email", emails, f == 5)
	role := pick(t, "role", []pv[account.Role]{{"", true}, {account.Administrator, true}, {account.SupportEngineer, false}, {"bogus", false}}, f == 6)
	in := partner.CreateParams{Type: typ.v, Profile: prof,
		Admin: account.Params{Name: name, FirstName: first.v, LastName: last.v, Email: mail.v, Role: role.v}}
	dok := true
	if f == 7 {
		in.RemoteManager, dok = []serviceplan.DataCenter{"XX"}, false
	} else {
		switch rapid.IntRange(0, 3).Draw(t, "remoteManager") {
		case 1:
			in.RemoteManager = []serviceplan.DataCenter{"EU"}
		case 2:
			in.RemoteManager = []serviceplan.DataCenter{"eu", " US ", "EU"}
		}
	}
	switch rapid.IntRange(0, 3).Draw(t, "plans") {
	case 1, 2:
		if ids := slices.Sorted(mapKeys(r.md.plans)); len(ids) > 0 {
			a := rapid.SampledFrom(ids).Draw(t, "plan")
			b := rapid.SampledFrom(ids).Draw(t, "plan2")
			in.Plans = []int64{a, b}
		}
	case 3:
		if rapid.Bool().Draw(t, "unknownPlan") {
			in.Plans = []int64{unknownID + 4}
		}
	}
	in.Licenses = r.drawGrants(t, 0, 2, f == 8)
	valid := typ.ok && pok && nok && first.ok && last.ok && mail.ok && role.ok && dok
	wrong := (len(in.RemoteManager) > 0 && in.Type == partner.Reseller) || (len(in.Plans) > 0 && in.Type == partner.MSP)
	return &opCreate{in: in, valid: valid, wrongType: wrong}
}

func mapKeys[T any](m map[int64]T) func(func(int64) bool) {
	return func(yield func(int64) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func (r *runner) genUpdateProfile(t *rapid.T) op {
	pid := r.drawPartner(t)
	cur := r.md.partners[pid]
	var patch partner.ProfilePatch
	ok := true
	bad := drawField(t, "profileBadField", 6, drawBad(t, "profileBad", 5))
	str := func(label string, pal []pv[string], current string, field int) *string {
		if field == bad {
			v := pick(t, label, pal, true)
			ok = ok && v.ok
			return &v.v
		}
		switch rapid.IntRange(0, 3).Draw(t, label+"Patch") {
		case 1:
			v := pick(t, label, pal, false)
			return &v.v
		case 2: // the current value, padded: a no-op after trimming
			v := " " + current + " "
			if current == "" {
				v = ""
			}
			return &v
		}
		return nil
	}
	patch.CompanyName = str("company", companyNames, cur.Profile.CompanyName, 0)
	patch.City = str("city", cities, cur.Profile.City, 1)
	patch.State = str("state", states, cur.Profile.State, 2)
	patch.Country = str("country", countries, cur.Profile.Country, 3)
	patch.SignInURL = str("url", signInURLs, cur.Profile.SignInURL, 4)
	switch c := rapid.IntRange(0, 3).Draw(t, "contactsPatch"); {
	case bad == 5, c == 1:
		cs, cok := drawContacts(t, bad == 5)
		ok = ok && cok
		patch.Contacts = &cs
	case c == 2:
		cs := slices.Clone(cur.Profile.Contacts)
		patch.Contacts = &cs
	}
	patch.Version = drawVersion(t, cur.Version)
	o := &opUpdateProfile{pid: pid, patch: patch, valid: ok}
	return o
}

func (r *runner) genStatus(to partner.Status) func(t *rapid.T, r *runner) op {
	return func(t *rapid.T, r *runner) op {
		pid := r.drawPartner(t)
		return &opStatus{pid: pid, version: drawVersion(t, r.md.partners[pid].Version), to: to}
	}
}

func (r *runner) genAssign(t *rapid.T) op {
	pid := r.drawPartner(t)
	o := &opAssign{pid: pid}
	switch rapid.IntRange(0, 6).Draw(t, "assignMode") {
	case 0: // no key
		o.a.Grants = r.drawGrants(t, 1, 2, drawBad(t, "grantsBad", 5))
	case 1, 2: // a new key, valid or not
		o.a.Key = r.drawKey(t)
		o.a.Grants = r.drawGrants(t, 1, 2, drawBad(t, "grantsBad", 5))
	case 3, 4: // a replay of a key used for this partner: same grants, written differently
		ks := slices.Sorted(func(yield func(string) bool) {
			for k, v := range r.md.keys[pid] {
				if !v.refill && !yield(k) {
					return
				}
			}
		})
		if len(ks) == 0 {
			o.a.Key = r.drawKey(t)
			o.a.Grants = r.drawGrants(t, 1, 2, false)
			break
		}
		o.a.Key = rapid.SampledFrom(ks).Draw(t, "usedKey")
		gs := slices.Clone(r.md.keys[pid][o.a.Key].grants)
		switch rapid.IntRange(0, 3).Draw(t, "replayShape") {
		case 1: // padded text, another time zone
			for i := range gs {
				gs[i].Product, gs[i].Start, gs[i].Expiry = " "+gs[i].Product+" ", gs[i].Start.In(zone), gs[i].Expiry.In(zone)
			}
			o.note = " [replay]"
		case 2: // other grants
			gs[0].Units = gs[0].Units%license.MaxUnits + 1
			o.note = " [same key, other grants]"
		case 3: // another grant more
			gs = append(gs, r.drawGrant(t, false))
			o.note = " [same key, other grants]"
		default:
			o.note = " [replay]"
		}
		o.a.Grants = gs
	case 5: // a key used for another partner
		var keys []string
		for _, p := range r.md.partnerIDs() {
			for k := range r.md.keys[p] {
				if _, mine := r.md.keys[pid][k]; p != pid && !mine {
					keys = append(keys, k) // a key this partner has not used (its own are replays, above)
				}
			}
		}
		slices.Sort(keys)
		if len(keys) > 0 {
			o.a.Key = rapid.SampledFrom(keys).Draw(t, "otherKey")
		}
		o.a.Grants = r.drawGrants(t, 1, 1, false)
	case 6: // no grants
		o.a.Key = r.drawKey(t)
	}
	return o
}

// drawKey picks an idempotency key: new and valid, or one of the edge
// cases of the key rules.
func (r *runner) drawKey(t *rapid.T) string {
	n := r.next()
	keys := []string{fmt.Sprintf("po-%d", n), strings.Repeat("é", license.MaxKeyLen), strings.Repeat("k", license.MaxKeyLen),
		fmt.Sprintf("ключ-%d", n), "Key-Case", "key-case",
		strings.Repeat("é", license.MaxKeyLen+1), strings.Repeat("k", license.MaxKeyLen+1), " po-lead", "po-trail ", "k\x00ey",
		"k\x7fey", "\xffkey", "\u00a0nbsp"}
	if rapid.IntRange(0, 2).Draw(t, "keyShape") > 0 {
		return keys[0]
	}
	return keys[rapid.IntRange(0, len(keys)-1).Draw(t, "key")]
}

func (r *runner) genDisableLicenses(t *rapid.T) op {
	pid := r.drawPartner(t)
	own := r.md.licsOf(pid)
	oth := others(r.md.lics, own)
	var ids []int64
	switch rapid.IntRange(0, 5).Draw(t, "disableShape") {
	case 0:
		ids = []int64{drawOwned(t, "licence", own, oth)}
	case 1:
		a := drawOwned(t, "licence", own, oth)
		ids = []int64{a, a}
	case 2:
		ids = slices.Clone(own)
	case 3:
		ids = []int64{drawOwned(t, "licence", own, oth), drawOwned(t, "licence2", own, oth)}
	case 4:
		ids = []int64{}
	case 5:
		ids = append(slices.Clone(own), unknownID+5)
	}
	return &opDisableLicenses{pid: pid, ids: ids}
}

func (r *runner) genRemoteManager(t *rapid.T) op {
	pid := r.drawPartner(t)
	dc := rapid.SampledFrom([]string{"EU", "eu", " us ", "JP", "XX", ""}).Draw(t, "dataCenter")
	return &opRemoteManager{pid: pid, version: drawVersion(t, r.md.partners[pid].Version), dc: dc, on: rapid.Bool().Draw(t, "on")}
}

func (r *runner) genCreatePlan(t *rapid.T) op {
	n := r.next()
	f := drawField(t, "planBadField", 6, drawBad(t, "planBad", 4))
	ok := true
	var name string
	switch {
	case f == 0:
		name, ok = rapid.SampledFrom([]string{"", strings.Repeat("p", serviceplan.MaxNameLen+1)}).Draw(t, "badPlanName"), false
	default:
		switch rapid.IntRange(0, 3).Draw(t, "planName") {
		case 0:
			name = fmt.Sprintf("Plan %d", n)
		case 3: // names equal only under Unicode case folding
			name = rapid.SampledFrom([]string{"Straße Plan", "STRASSE PLAN", "ſtar Plan", "STAR PLAN", "Οδός Σας", "ΟΔΌΣ ΣΑΣ",
				"e\u0301cole Plan", "ÉCOLE PLAN"}).Draw(t, "unicodePlanName")
		case 1:
			if ps := r.md.planList(); len(ps) > 0 {
				name = strings.ToUpper(rapid.SampledFrom(ps).Draw(t, "takenPlan").Name)
			} else {
				name = fmt.Sprintf("Plan %d", n)
			}
		case 2:
			name = fmt.Sprintf("  Padded Plan %d ", n)
		}
	}
	prod := rapid.SampledFrom([]string{"Endpoint Security", "Email Security"}).Draw(t, "planProduct")
	kd := pick(t, "planKind", []pv[serviceplan.Kind]{{serviceplan.Full, true}, {serviceplan.Trial, true}, {"bogus", false}}, f == 1)
	ut := pick(t, "planUnit", []pv[string]{{"seats", true}, {"", false}}, f == 2)
	dc := pick(t, "planDC", []pv[serviceplan.DataCenter]{{"EU", true}, {"us", true}, {"JP", true}, {"XX", false}}, f == 3)
	period := pick(t, "period", []pv[int]{{12, true}, {1, true}, {serviceplan.MaxInitialPeriod, true}, {0, false}, {serviceplan.MaxInitialPeriod + 1, false}}, f == 4)
	notice := pick(t, "notice", []pv[int]{{30, true}, {0, true}, {serviceplan.MaxExpiryNoticeDays, true}, {-1, false}, {serviceplan.MaxExpiryNoticeDays + 1, false}}, f == 5)
	in := serviceplan.Plan{Name: name, Enabled: rapid.IntRange(0, 4).Draw(t, "planEnabled") > 0, Product: prod, Kind: kd.v,
		UnitType: ut.v, NFR: rapid.IntRange(0, 2).Draw(t, "nfr") == 0, DataCenter: dc.v, InitialPeriodMonths: period.v,
		AutoRenew: rapid.Bool().Draw(t, "autoRenew"), ExpiryNoticeDays: notice.v}
	return &opCreatePlan{in: in, valid: ok && kd.ok && ut.ok && dc.ok && period.ok && notice.ok}
}

func (r *runner) genUpdatePlan(t *rapid.T) op {
	ids := slices.Sorted(mapKeys(r.md.plans))
	id := int64(unknownID + 6)
	if len(ids) > 0 && rapid.IntRange(0, 9).Draw(t, "unknownPlan") > 0 {
		id = rapid.SampledFrom(ids).Draw(t, "plan")
	}
	cur := r.md.plans[id]
	var p serviceplan.Patch
	ok := true
	switch rapid.IntRange(0, 5).Draw(t, "namePatch") {
	case 1:
		v := cur.Name
		p.Name = &v
	case 2:
		v := strings.ToUpper(cur.Name)
		p.Name = &v
	case 3:
		v := fmt.Sprintf("Renamed %d", r.next())
		p.Name = &v
	case 4:
		if len(ids) > 0 {
			v := r.md.plans[rapid.SampledFrom(ids).Draw(t, "otherPlan")].Name
			p.Name = &v
		}
	case 5:
		v := ""
		p.Name, ok = &v, false
	}
	if b := rapid.IntRange(0, 2).Draw(t, "enabledPatch"); b > 0 {
		v := b == 1
		p.Enabled = &v
	}
	switch rapid.IntRange(0, 3).Draw(t, "periodPatch") {
	case 1:
		v := cur.InitialPeriodMonths
		p.InitialPeriodMonths = &v
	case 2:
		v := 6
		p.InitialPeriodMonths = &v
	case 3:
		v := 0
		p.InitialPeriodMonths, ok = &v, false
	}
	if b := rapid.IntRange(0, 2).Draw(t, "renewPatch"); b > 0 {
		v := b == 1
		p.AutoRenew = &v
	}
	switch rapid.IntRange(0, 3).Draw(t, "noticePatch") {
	case 1:
		v := cur.ExpiryNoticeDays
		p.ExpiryNoticeDays = &v
	case 2:
		v := 10
		p.ExpiryNoticeDays = &v
	case 3:
		v := serviceplan.MaxExpiryNoticeDays + 1
		p.ExpiryNoticeDays, ok = &v, false
	}
	p.Version = drawVersion(t, cur.Version)
	o := &opUpdatePlan{id: id, patch: p, valid: ok}
	return o
}

func (r *runner) genPlanAssign(assign bool) func(t *rapid.T, r *runner) op {
	return func(t *rapid.T, r *runner) op {
		pid := r.drawPartner(t)
		ids := slices.Sorted(mapKeys(r.md.plans))
		plan := int64(unknownID + 7)
		if len(ids) > 0 && rapid.IntRange(0, 9).Draw(t, "unknownPlan") > 0 {
			plan = rapid.SampledFrom(ids).Draw(t, "plan")
		}
		return &opPlanAssign{pid: pid, plan: plan, assign: assign}
	}
}

func (r *runner) genAddAccount(t *rapid.T) op {
	pid := r.drawPartner(t)
	f := drawField(t, "accountBadField", 5, drawBad(t, "accountBad", 4))
	name, nok := r.drawAccountName(t, f == 0)
	first, last, mail := pick(t, "first", personNames, f == 1), pick(t, "last", personNames, f == 2), pick(t, "email", emails, f == 3)
	roles := []pv[account.Role]{{account.SupportEngineer, true}, {account.Administrator, true}, {account.LicenseManager, true},
		{account.BillingManager, true}, {"", false}, {"bogus", false}}
	role := pick(t, "role", roles, f == 4)
	return &opAddAccount{pid: pid, in: account.Params{Name: name, FirstName: first.v, LastName: last.v, Email: mail.v, Role: role.v},
		valid: nok && first.ok && last.ok && mail.ok && role.ok}
}

func (r *runner) genAccount(what string) func(t *rapid.T, r *runner) op {
	return func(t *rapid.T, r *runner) op {
		pid := r.drawPartner(t)
		own := r.md.acctsOf(pid)
		id := drawOwned(t, "account", own, others(r.md.accts, own))
		o := &opAccount{what: what, pid: pid, acct: id}
		if what == "role" || what == "enable" || what == "disable" {
			o.version = drawVersion(t, r.md.accts[id].Version)
		}
		if what == "role" {
			o.role = rapid.SampledFrom([]account.Role{account.Administrator, account.SupportEngineer, account.LicenseManager,
				r.md.accts[id].Role, "bogus"}).Draw(t, "role")
		}
		return o
	}
}

func (r *runner) genAddCustomer(t *rapid.T) op {
	pid := r.drawPartner(t)
	f := drawField(t, "customerBadField", 2, drawBad(t, "customerBad", 4))
	n, e := pick(t, "customerName", custNames, f == 0), pick(t, "customerEmail", custEmails, f == 1)
	return &opAddCustomer{pid: pid, in: partner.CustomerParams{Name: n.v, Email: e.v}, valid: n.ok && e.ok}
}

func (r *runner) genAllocate(t *rapid.T) op {
	pid := r.drawPartnerWith(t, func(id int64) bool { // an Active partner with a usable licence and a customer
		if r.md.partners[id].Status != partner.Active || len(r.md.custsOf(id)) == 0 {
			return false
		}
		for _, l := range r.md.licsOf(id) {
			if x := r.md.lics[l]; !x.Disabled && !r.md.now.Before(x.Start) && r.md.now.Before(x.Expiry) {
				return true
			}
		}
		return false
	})
	own := r.md.licsOf(pid)
	lic := drawOwned(t, "licence", own, others(r.md.lics, own))
	ownC := r.md.custsOf(pid)
	cust := drawOwned(t, "customer", ownC, others(r.md.custs, ownC))
	l := r.md.lics[lic]
	choices := []int64{1, 2, 5, 10, 25, l.Units - l.Used, l.Units - l.Used + 1, 0, license.MaxUnits + 1}
	units := rapid.SampledFrom(choices).Draw(t, "allocUnits")
	return &opAllocate{pid: pid, in: partner.AllocateParams{LicenseID: lic, CustomerID: cust, Units: units}}
}

func (r *runner) genRelease(t *rapid.T) op {
	pid := r.drawPartnerWith(t, func(id int64) bool { return len(r.md.allocsOf(id)) > 0 })
	own := r.md.allocsOf(pid)
	return &opRelease{pid: pid, alloc: drawOwned(t, "allocation", own, others(r.md.allocs, own))}
}

func (r *runner) genPoolRefill(t *rapid.T) op {
	pid := r.drawPartner(t)
	o := &opPoolRefill{pid: pid, version: drawVersion(t, r.md.partners[pid].Version), on: rapid.Bool().Draw(t, "refill")}
	return o
}

func (r *runner) genMinimum(t *rapid.T) op {
	pid := r.drawPartner(t)
	cur := r.md.partners[pid].MinimumLicenses
	n := rapid.SampledFrom([]int64{0, 5, 50, cur, -1, partner.MaxMinimumPool + 1}).Draw(t, "minimum")
	o := &opMinimum{pid: pid, version: drawVersion(t, r.md.partners[pid].Version), n: n}
	return o
}

func (r *runner) genRead(t *rapid.T) op {
	o := &opRead{what: rapid.SampledFrom([]string{"get", "licenses", "accounts"}).Draw(t, "read"), pid: r.drawPartner(t)}
	if o.what == "licenses" && rapid.Bool().Draw(t, "badPage") {
		o.page.Limit = -1
	}
	return o
}

// generators lists the operations a sequence (and a RunInTx batch) draws.
func generators() map[string]func(*rapid.T, *runner) op {
	var r *runner // method values below take the runner as an argument
	return map[string]func(*rapid.T, *runner) op{
		"Create":             func(t *rapid.T, r *runner) op { return r.genCreate(t) },
		"UpdateProfile":      func(t *rapid.T, r *runner) op { return r.genUpdateProfile(t) },
		"Suspend":            r.genStatus(partner.Suspended),
		"Reactivate":         r.genStatus(partner.Active),
		"Cancel":             r.genStatus(partner.Canceled),
		"SetPoolRefill":      func(t *rapid.T, r *runner) op { return r.genPoolRefill(t) },
		"SetMinimumLicenses": func(t *rapid.T, r *runner) op { return r.genMinimum(t) },
		"AssignLicenses":     func(t *rapid.T, r *runner) op { return r.genAssign(t) },
		"DisableLicenses":    func(t *rapid.T, r *runner) op { return r.genDisableLicenses(t) },
		"RemoteManager":      func(t *rapid.T, r *runner) op { return r.genRemoteManager(t) },
		"CreatePlan":         func(t *rapid.T, r *runner) op { return r.genCreatePlan(t) },
		"UpdatePlan":         func(t *rapid.T, r *runner) op { return r.genUpdatePlan(t) },
		"AssignPlan":         r.genPlanAssign(true),
		"RemovePlan":         r.genPlanAssign(false),
		"AddAccount":         func(t *rapid.T, r *runner) op { return r.genAddAccount(t) },
		"ChangeRole":         r.genAccount("role"),
		"EnableAccount":      r.genAccount("enable"),
		"DisableAccount":     r.genAccount("disable"),
		"ResetPassword":      r.genAccount("reset"),
		"DeleteAccount":      r.genAccount("delete"),
		"AddCustomer":        func(t *rapid.T, r *runner) op { return r.genAddCustomer(t) },
		"Allocate":           func(t *rapid.T, r *runner) op { return r.genAllocate(t) },
		"Release":            func(t *rapid.T, r *runner) op { return r.genRelease(t) },
		"EnableLicenses": func(t *rapid.T, r *runner) op {
			o := r.genDisableLicenses(t).(*opDisableLicenses)
			o.enable = true
			return o
		},
		"ExtendLicense":   r.genLicence("extend"),
		"ConvertToFull":   r.genLicence("convert"),
		"AddUnits":        r.genLicence("add"),
		"ReduceUnits":     r.genLicence("reduce"),
		"SetPoolSettings": func(t *rapid.T, r *runner) op { return r.genPoolSettings(t) },
		"RefillPool":      func(t *rapid.T, r *runner) op { return r.genRefill(t) },
		"CreateProduct":   func(t *rapid.T, r *runner) op { return r.genCreateProduct(t) },
		"UpdateProduct":   func(t *rapid.T, r *runner) op { return r.genUpdateProduct(t) },
	}
}

// drawBatch draws a RunInTx batch of 2 to 4 calls, reads included.
func (r *runner) drawBatch(t *rapid.T) op {
	gens := generators()
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range gens {
			if !yield(k) {
				return
			}
		}
	})
	names = append(names, "Read")
	n := rapid.IntRange(2, 4).Draw(t, "batchSize")
	b := &opBatch{propagate: rapid.IntRange(0, 3).Draw(t, "propagate") == 0}
	for range n {
		name := rapid.SampledFrom(names).Draw(t, "batchOp")
		if name == "Read" {
			b.ops = append(b.ops, r.genRead(t))
		} else {
			b.ops = append(b.ops, gens[name](t, r))
		}
	}
	return b
}

// drawQuery picks a company-name search.
func (r *runner) drawQuery(t *rapid.T) string {
	return rapid.SampledFrom([]string{"ΣΑΣ", "σας", "STAR", "star", "STRASSE", "straße", "école", "ÉCOLE", "acme", "ACME", "e\u0301",
		"", "%", "_", "x", "日本", "SETUP"}).Draw(t, "query")
}
