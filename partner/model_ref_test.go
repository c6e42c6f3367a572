package partner_test

// The reference model of TestModel: the state the Manager should hold,
// written from the product's rules (not from the library's code), and the
// reference guard table.

import (
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/serviceplan"
)

// guardOp classifies partner-scoped operations for the reference guard.
type guardOp int

const (
	gProfile    guardOp = iota // UpdateProfile
	gSuspend                   // Suspend
	gReactivate                // Reactivate
	gCancel                    // Cancel
	gActive                    // every other operation, both types
	gMSP                       // Disable Licenses, Remote Manager
	gReseller                  // Assign / Remove plan
)

// refGuard is the guard table as the product states it:
//   - a Canceled partner cannot be changed at all, ever;
//   - Disable Licenses and Management Licenses are MSP-only, Service Plans
//     Reseller-only;
//   - a Suspended partner can only have its Profile changed (UpdateProfile,
//     Cancel, Reactivate);
//   - Suspend only from Active, Reactivate only from Suspended, Cancel
//     from Active or Suspended;
//   - everything else only when Active.
func refGuard(s partner.Status, t partner.Type, g guardOp) error {
	if s == partner.Canceled {
		return partner.ErrCanceled
	}
	if (g == gMSP && t != partner.MSP) || (g == gReseller && t != partner.Reseller) {
		return partner.ErrWrongType
	}
	switch g {
	case gProfile, gCancel:
		return nil
	case gSuspend:
		if s == partner.Suspended {
			return partner.ErrTransition
		}
		return nil
	case gReactivate:
		if s == partner.Active {
			return partner.ErrTransition
		}
		return nil
	}
	if s == partner.Suspended {
		return partner.ErrSuspended
	}
	return nil
}

// The model's records. Slices in them are never changed in place, so a
// shallow copy of the maps is a deep copy of the model.
type mPartner struct {
	ID              int64
	Type            partner.Type
	Status          partner.Status
	Version         int64
	Profile         partner.Profile
	PoolRefill      bool
	MinimumLicenses int64
	RemoteManager   []serviceplan.DataCenter
	CanceledAt      time.Time
}

type mLicense struct {
	ID, PartnerID int64
	ProductID     int64
	Product       string
	UnitType      string
	Kind          license.Kind
	GrantedKind   license.Kind
	Units, Used   int64
	Start, Expiry time.Time
	Disabled      bool
	DisabledAt    time.Time
	GrantKey      string
	Origin        license.Origin
	Version       int64
}

type mProduct struct {
	ID           int64
	Name         string
	UnitType     string
	TrialOffered bool
	TrialDays    int
	Version      int64
}

// mPoolSet is a pool's settings; the key of the map that holds them is
// the pool's product and unit type.
type mPoolSet struct {
	ProductID  int64
	Minimum    int64
	MinimumSet bool
	Cap        int64
	AutoRefill bool
}

type mAccount struct {
	ID, PartnerID             int64
	Name                      string
	FirstName, LastName, Mail string
	Role                      account.Role
	Enabled                   bool
	Version                   int64
	PasswordResetAt           time.Time
}

type mCustomer struct {
	ID, PartnerID int64
	Name, Email   string
}

type mAlloc struct {
	ID, PartnerID, LicenseID, CustomerID, Units int64
}

type mPlan struct {
	ID                  int64
	Name                string
	Enabled             bool
	Product             string
	Kind                serviceplan.Kind
	UnitType            string
	NFR                 bool
	DataCenter          serviceplan.DataCenter
	InitialPeriodMonths int
	AutoRenew           bool
	ExpiryNoticeDays    int
	Version             int64
}

// mKey is an idempotency key used for a partner: the grants of the
// assignment as the catalogue resolved them, or the refill (its origin
// and the units asked), and the licences it created.
type mKey struct {
	grants []license.Grant
	refill bool
	origin license.Origin // of the refill's licence
	units  int64          // the refill's units as asked
	lics   []int64
}

type model struct {
	now      time.Time
	partners map[int64]mPartner
	audit    map[int64]int // audit entries per partner
	lics     map[int64]mLicense
	accts    map[int64]mAccount
	custs    map[int64]mCustomer
	allocs   map[int64]mAlloc
	plans    map[int64]mPlan
	assigned map[[2]int64]bool         // {partner, plan}
	keys     map[int64]map[string]mKey // partner → key
	catAudit int                       // audit entries of the catalogues (plans, products)
	resets   int                       // ResetPassword hook calls
	products map[int64]mProduct
	poolSets map[int64]map[[2]string]mPoolSet // partner → {product, unit type}
}

func newModel(now time.Time) *model {
	return &model{now: now, partners: map[int64]mPartner{}, audit: map[int64]int{}, lics: map[int64]mLicense{},
		accts: map[int64]mAccount{}, custs: map[int64]mCustomer{}, allocs: map[int64]mAlloc{}, plans: map[int64]mPlan{},
		assigned: map[[2]int64]bool{}, keys: map[int64]map[string]mKey{}, products: map[int64]mProduct{},
		poolSets: map[int64]map[[2]string]mPoolSet{}}
}

func (md *model) clone() *model {
	c := *md
	c.partners, c.audit, c.lics, c.accts = maps.Clone(md.partners), maps.Clone(md.audit), maps.Clone(md.lics), maps.Clone(md.accts)
	c.custs, c.allocs, c.plans, c.assigned = maps.Clone(md.custs), maps.Clone(md.allocs), maps.Clone(md.plans), maps.Clone(md.assigned)
	c.keys = map[int64]map[string]mKey{}
	for p, ks := range md.keys {
		c.keys[p] = maps.Clone(ks)
	}
	c.products = maps.Clone(md.products)
	c.poolSets = map[int64]map[[2]string]mPoolSet{}
	for p, ss := range md.poolSets {
		c.poolSets[p] = maps.Clone(ss)
	}
	return &c
}

func (md *model) auditTotal() int {
	n := md.catAudit
	for _, a := range md.audit {
		n += a
	}
	return n
}

func (md *model) partnerIDs() []int64 { return slices.Sorted(maps.Keys(md.partners)) }

func sortedIDs[T any](m map[int64]T, keep func(T) bool) []int64 {
	var ids []int64
	for id, v := range m {
		if keep(v) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

func (md *model) licsOf(pid int64) []int64 {
	return sortedIDs(md.lics, func(l mLicense) bool { return l.PartnerID == pid })
}
func (md *model) acctsOf(pid int64) []int64 {
	return sortedIDs(md.accts, func(a mAccount) bool { return a.PartnerID == pid })
}
func (md *model) custsOf(pid int64) []int64 {
	return sortedIDs(md.custs, func(c mCustomer) bool { return c.PartnerID == pid })
}
func (md *model) allocsOf(pid int64) []int64 {
	return sortedIDs(md.allocs, func(a mAlloc) bool { return a.PartnerID == pid })
}
func (md *model) plansOf(pid int64) []int64 {
	return sortedIDs(md.plans, func(p mPlan) bool { return md.assigned[[2]int64{pid, p.ID}] })
}

func (md *model) planList() []mPlan {
	var out []mPlan
	for _, id := range slices.Sorted(maps.Keys(md.plans)) {
		out = append(out, md.plans[id])
	}
	return out
}

func (md *model) names() string {
	var s []string
	for _, id := range md.partnerIDs() {
		s = append(s, md.partners[id].Profile.CompanyName)
	}
	return strings.Join(s, " | ")
}

// accountNameTaken reports whether an account of any partner has the name.
func (md *model) accountNameTaken(name string) bool {
	for _, a := range md.accts {
		if a.Name == name {
			return true
		}
	}
	return false
}

// lastAdmin reports whether a is its partner's only enabled Administrator.
func (md *model) lastAdmin(a mAccount) bool {
	if a.Role != account.Administrator || !a.Enabled {
		return false
	}
	for _, o := range md.accts {
		if o.ID != a.ID && o.PartnerID == a.PartnerID && o.Role == account.Administrator && o.Enabled {
			return false
		}
	}
	return true
}

// partnerView is what the model says the Manager shows of one partner.
type partnerView struct {
	P                mPartner
	Customers        int
	UnitsProvisioned int64
	UnitsUsed        int64
	Licenses         []mLicense
	Accounts         []mAccount
	CustomerList     []mCustomer
	Allocs           []mAlloc
	Plans            []mPlan
	Pools            []partner.Pool
	Audit            int
	// The licence figures of the partner at the model's clock: low pools,
	// licences Expiring soon (the default 30-day window) and expired.
	LowStockPools, ExpiringLicenses, ExpiredLicenses int
}

func (md *model) view(pid int64) partnerView {
	v := partnerView{P: md.partners[pid], Audit: md.audit[pid], Pools: md.refPools(pid)}
	for _, pool := range v.Pools {
		if pool.Low {
			v.LowStockPools++
		}
	}
	for _, id := range md.licsOf(pid) {
		l := md.lics[id]
		v.Licenses = append(v.Licenses, l)
		v.UnitsProvisioned += l.Units
		v.UnitsUsed += l.Used
		switch {
		case l.Disabled:
		case !md.now.Before(l.Expiry):
			v.ExpiredLicenses++
		case l.Expiry.Sub(md.now) < license.DefaultExpiringWindow:
			v.ExpiringLicenses++
		}
	}
	for _, id := range md.acctsOf(pid) {
		v.Accounts = append(v.Accounts, md.accts[id])
	}
	for _, id := range md.custsOf(pid) {
		v.CustomerList = append(v.CustomerList, md.custs[id])
	}
	v.Customers = len(v.CustomerList)
	for _, id := range md.allocsOf(pid) {
		v.Allocs = append(v.Allocs, md.allocs[id])
	}
	for _, id := range md.plansOf(pid) {
		v.Plans = append(v.Plans, md.plans[id])
	}
	return v
}

// viewOf projects a snapshot read from a store onto the model's view.
func viewOf(s pSnap) partnerView {
	v := partnerView{P: partnerOf(s.Partner), Customers: s.Partner.Customers, UnitsProvisioned: s.Partner.UnitsProvisioned,
		UnitsUsed: s.Partner.UnitsUsed, Audit: s.Audit, Pools: s.Pools, LowStockPools: s.Partner.LowStockPools,
		ExpiringLicenses: s.Partner.ExpiringLicenses, ExpiredLicenses: s.Partner.ExpiredLicenses}
	for _, l := range s.Licenses {
		v.Licenses = append(v.Licenses, licenseOf(l))
	}
	for _, a := range s.Accounts {
		v.Accounts = append(v.Accounts, accountOf(a))
	}
	for _, c := range s.Customers {
		v.CustomerList = append(v.CustomerList, mCustomer{ID: c.ID, PartnerID: c.PartnerID, Name: c.Name, Email: c.Email})
	}
	for _, a := range s.Allocs {
		v.Allocs = append(v.Allocs, mAlloc{ID: a.ID, PartnerID: s.Partner.ID, LicenseID: a.LicenseID, CustomerID: a.CustomerID, Units: a.Units})
	}
	for _, p := range s.Plans {
		v.Plans = append(v.Plans, planOf(p.Plan))
	}
	return v
}

func partnerOf(p partner.Partner) mPartner {
	return mPartner{ID: p.ID, Type: p.Type, Status: p.Status, Version: p.Version, Profile: p.Profile, PoolRefill: p.PoolRefill,
		MinimumLicenses: p.MinimumLicenses, RemoteManager: p.RemoteManager, CanceledAt: p.CanceledAt}
}

func licenseOf(l license.License) mLicense {
	return mLicense{ID: l.ID, PartnerID: l.PartnerID, ProductID: l.ProductID, Product: l.Product, UnitType: l.UnitType, Kind: l.Kind,
		GrantedKind: l.GrantedKind, Units: l.Units, Used: l.Used, Start: l.Start, Expiry: l.Expiry, Disabled: l.Disabled,
		DisabledAt: l.DisabledAt, GrantKey: l.GrantKey, Origin: l.Origin, Version: l.Version}
}

func productOf(p license.Product) mProduct {
	return mProduct{ID: p.ID, Name: p.Name, UnitType: p.UnitType, TrialOffered: p.TrialOffered, TrialDays: p.TrialDays, Version: p.Version}
}

func accountOf(a account.Account) mAccount {
	return mAccount{ID: a.ID, PartnerID: a.PartnerID, Name: a.Name, FirstName: a.FirstName, LastName: a.LastName, Mail: a.Email,
		Role: a.Role, Enabled: a.Enabled, Version: a.Version, PasswordResetAt: a.PasswordResetAt}
}

func planOf(p serviceplan.Plan) mPlan {
	return mPlan{ID: p.ID, Name: p.Name, Enabled: p.Enabled, Product: p.Product, Kind: p.Kind, UnitType: p.UnitType, NFR: p.NFR,
		DataCenter: p.DataCenter, InitialPeriodMonths: p.InitialPeriodMonths, AutoRenew: p.AutoRenew,
		ExpiryNoticeDays: p.ExpiryNoticeDays, Version: p.Version}
}

// refFold is the reference name folding: Unicode full case folding of the
// canonically decomposed text, recomposed — the documented rule for the
// company-name search and plan-name uniqueness.
func refFold(s string) string {
	return norm.NFC.String(cases.Fold().String(norm.NFD.String(s)))
}

// refKeyValid is the rule for idempotency keys: valid UTF-8, no control
// characters, at most license.MaxKeyLen characters counted as runes, no
// leading or trailing white space. The empty key means no idempotency.
func refKeyValid(k string) bool {
	if k == "" {
		return true
	}
	if !utf8.ValidString(k) || utf8.RuneCountInString(k) > license.MaxKeyLen {
		return false
	}
	for _, r := range k {
		if unicode.IsControl(r) {
			return false
		}
	}
	first, _ := utf8.DecodeRuneInString(k)
	last, _ := utf8.DecodeLastRuneInString(k)
	return !unicode.IsSpace(first) && !unicode.IsSpace(last)
}

// refTime is a date as every store keeps it: UTC at microsecond precision.
func refTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// refGrant is a grant as the library must compare and store it: product
// and unit type trimmed, dates in UTC at microsecond precision.
func refGrant(g license.Grant) license.Grant {
	g.Product, g.UnitType = strings.TrimSpace(g.Product), strings.TrimSpace(g.UnitType)
	g.Start, g.Expiry = refTime(g.Start), refTime(g.Expiry)
	return g
}

// refDatesValid is the rule for a grant's dates: both set, between the
// years 2000 and 2200, expiry after start, at most license.MaxTerm apart.
func refDatesValid(start, expiry time.Time) bool {
	s, e := refTime(start), refTime(expiry)
	if s.IsZero() || e.IsZero() {
		return false
	}
	for _, y := range []int{s.Year(), e.Year()} {
		if y < 2000 || y > 2200 {
			return false
		}
	}
	return e.After(s) && e.Sub(s) <= license.MaxTerm
}

// refProfile trims a profile's text fields.
func refProfile(p partner.Profile) partner.Profile {
	t := strings.TrimSpace
	p.CompanyName, p.City, p.State, p.Country, p.SignInURL = t(p.CompanyName), t(p.City), t(p.State), t(p.Country), t(p.SignInURL)
	if p.Contacts != nil {
		cs := make([]partner.Contact, len(p.Contacts))
		for i, c := range p.Contacts {
			cs[i] = partner.Contact{FirstName: t(c.FirstName), LastName: t(c.LastName), Email: t(c.Email), Phone: t(c.Phone)}
		}
		p.Contacts = cs
	}
	return p
}

// refDataCenters parses data center codes in any case, deduplicated, in
// console order; ok is false when one is not a data center.
func refDataCenters(in []serviceplan.DataCenter) (out []serviceplan.DataCenter, ok bool) {
	set := map[serviceplan.DataCenter]bool{}
	for _, d := range in {
		c, ok := refDataCenter(string(d))
		if !ok {
			return nil, false
		}
		set[c] = true
	}
	for _, d := range serviceplan.DataCenters() {
		if set[d] {
			out = append(out, d)
		}
	}
	return out, true
}

func refDataCenter(s string) (serviceplan.DataCenter, bool) {
	d := serviceplan.DataCenter(strings.ToUpper(strings.TrimSpace(s)))
	return d, slices.Contains(serviceplan.DataCenters(), d)
}
