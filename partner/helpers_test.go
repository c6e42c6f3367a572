package partner_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/partner/memstore"
	"github.com/partnerkit/partnerkit/serviceplan"
)

// backend makes an empty store for one test.
type backend struct {
	name     string
	newStore func(t *testing.T) partner.Store
}

// backends lists the stores the Manager's tests run on. Other stores add
// themselves from their own _test files (see extraBackends).
func backends() []backend {
	return append([]backend{{"memory", func(*testing.T) partner.Store { return memstore.New() }}}, extraBackends...)
}

var extraBackends []backend

// forEachStore runs fn once per backend, as a subtest named after it.
func forEachStore(t *testing.T, fn func(t *testing.T, env *env)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) { fn(t, newEnv(t, b.newStore(t))) })
	}
}

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var t0 = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

// env is a Manager on a fresh store with a fixed clock, a recording
// password-reset hook, a recorded event stream and the standard product
// catalogue (see catalog).
type env struct {
	m      *partner.Manager
	clock  *clock
	ctx    context.Context
	resets []string
	events []partner.Event
	mu     sync.Mutex
	seq    int
	// products is the catalogue newEnv created, by name.
	products map[string]license.Product
}

// The standard catalogue of the tests: what grant() and the fixtures
// assign.
var standardProducts = []license.Product{
	{Name: "Endpoint Security", UnitType: license.Seats, TrialOffered: true, TrialDays: 30},
	{Name: "Email Security", UnitType: license.Users, TrialOffered: true, TrialDays: 14},
	{Name: "Server Protection", UnitType: license.Devices}, // offers no trial
}

// newEnv returns an env whose catalogue holds standardProducts, the events
// of their creation forgotten.
func newEnv(t *testing.T, s partner.Store) *env {
	e := newBareEnv(t, s)
	e.catalog(t, standardProducts...)
	e.resetEvents()
	return e
}

// catalog adds products to the catalogue.
func (e *env) catalog(t *testing.T, ps ...license.Product) {
	t.Helper()
	for _, p := range ps {
		got, err := e.m.CreateProduct(e.ctx, p)
		require.NoError(t, err)
		e.products[got.Name] = got
	}
}

// newBareEnv returns an env with an empty catalogue: every grant is
// refused until products are added (see env.catalog).
func newBareEnv(t *testing.T, s partner.Store) *env {
	e := &env{clock: &clock{t: t0}, ctx: partner.WithActor(context.Background(), "tier1.operator"), products: map[string]license.Product{}}
	e.m = partner.NewManager(partner.Options{Store: s, Now: e.clock.Now,
		ResetPassword: func(_ context.Context, a account.Account) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.resets = append(e.resets, a.Name)
			return nil
		}})
	e.m.Subscribe(func(_ context.Context, ev partner.Event) error {
		e.mu.Lock()
		defer e.mu.Unlock()
		e.events = append(e.events, ev)
		return nil
	})
	return e
}

func (e *env) uniq() int { e.mu.Lock(); defer e.mu.Unlock(); e.seq++; return e.seq }

func (e *env) eventKinds() []partner.EventKind {
	e.mu.Lock()
	defer e.mu.Unlock()
	var ks []partner.EventKind
	for _, ev := range e.events {
		ks = append(ks, ev.Kind)
	}
	return ks
}

func (e *env) resetEvents() { e.mu.Lock(); e.events = nil; e.mu.Unlock() }

func grant(units int64) license.Grant {
	return license.Grant{Product: "Endpoint Security", UnitType: "seats", Units: units, Kind: license.Full,
		Start: t0.AddDate(0, -1, 0), Expiry: t0.AddDate(1, 0, 0)}
}

func newPartnerInput(name string, typ partner.Type, admin string) partner.CreateParams {
	return partner.CreateParams{Type: typ,
		Profile: partner.Profile{CompanyName: name, City: "Lyon", State: "Rhône", Country: "France"},
		Admin:   account.Params{Name: admin, FirstName: "Ada", LastName: "Admin", Email: admin + "@example.com"}}
}

// fixture is a partner with something of everything, so that every
// operation of the guard table has a target.
type fixture struct {
	p          partner.Partner
	admin      account.Account
	second     account.Account
	lic        license.License
	customer   partner.Customer
	alloc      license.Allocation
	freePlan   serviceplan.Plan // not yet assigned (Reseller)
	assigned   serviceplan.Plan // assigned (Reseller)
	remoteDC   serviceplan.DataCenter
	freshDCArg serviceplan.DataCenter
}

func (e *env) plan(t *testing.T, name string) serviceplan.Plan {
	t.Helper()
	p, err := e.m.CreatePlan(e.ctx, serviceplan.Plan{Name: name, Enabled: true, Product: "Endpoint Security",
		Kind: serviceplan.Full, UnitType: "seats", DataCenter: serviceplan.EU, InitialPeriodMonths: 12, ExpiryNoticeDays: 30})
	require.NoError(t, err)
	return p
}

// fixture builds an Active partner of typ with accounts, a licence with a
// customer allocation, plans (Reseller) or Remote Manager (MSP), then
// moves it to status.
func (e *env) fixture(t *testing.T, typ partner.Type, status partner.Status) fixture {
	t.Helper()
	n := e.uniq()
	var f fixture
	in := newPartnerInput(fmt.Sprintf("Fixture %d", n), typ, fmt.Sprintf("admin%d", n))
	in.Licenses = []license.Grant{grant(100)}
	f.remoteDC, f.freshDCArg = serviceplan.EU, serviceplan.JP
	if typ == partner.MSP {
		in.RemoteManager = []serviceplan.DataCenter{f.remoteDC}
	} else {
		f.assigned = e.plan(t, fmt.Sprintf("Assigned %d", n))
		f.freePlan = e.plan(t, fmt.Sprintf("Free %d", n))
		in.Plans = []int64{f.assigned.ID}
	}
	p, err := e.m.Create(e.ctx, in)
	require.NoError(t, err)
	accts, _, err := e.m.Accounts(e.ctx, p.ID, partner.Page{Limit: partner.MaxLimit})
	require.NoError(t, err)
	f.admin = accts[0]
	f.second, err = e.m.AddAccount(e.ctx, p.ID, account.Params{Name: fmt.Sprintf("second%d", n), FirstName: "Sam",
		LastName: "Second", Email: "sam@example.com", Role: account.SupportEngineer})
	require.NoError(t, err)
	lics, _, err := e.m.Licenses(e.ctx, p.ID, partner.Page{})
	require.NoError(t, err)
	f.lic = lics[0]
	f.customer, err = e.m.AddCustomer(e.ctx, p.ID, partner.CustomerParams{Name: "Customer " + fmt.Sprint(n)})
	require.NoError(t, err)
	f.alloc, err = e.m.Allocate(e.ctx, p.ID, partner.AllocateParams{LicenseID: f.lic.ID, CustomerID: f.customer.ID, Units: 5})
	require.NoError(t, err)
	lics, _, err = e.m.Licenses(e.ctx, p.ID, partner.Page{})
	require.NoError(t, err)
	f.lic = lics[0] // with its 5 units used
	switch status {
	case partner.Suspended:
		_, err = e.m.Suspend(e.ctx, p.ID, 0)
	case partner.Canceled:
		_, err = e.m.Cancel(e.ctx, p.ID, 0)
	}
	require.NoError(t, err)
	f.p, err = e.m.Get(e.ctx, p.ID)
	require.NoError(t, err)
	return f
}

// depletedPool makes a pool of product that the fixture's partner may
// refill: License pool refill on, a cap, and a licence of units, all of
// them allocated to the fixture's customer. It panics on a failure: the
// callers' tests then fail on their own checks.
func (e *env) depletedPool(f fixture, product string, units, cap int64) license.License {
	must := func(err error) {
		if err != nil {
			panic(fmt.Sprintf("depletedPool: %v", err))
		}
	}
	_, err := e.m.SetPoolRefill(e.ctx, f.p.ID, 0, true)
	must(err)
	_, err = e.m.SetPoolSettings(e.ctx, f.p.ID, 0, partner.PoolSettingsParams{Product: product, Cap: cap})
	must(err)
	g := grant(units)
	g.Product, g.UnitType = product, ""
	res, err := e.m.AssignLicenses(e.ctx, f.p.ID, partner.AssignLicensesParams{Grants: []license.Grant{g}})
	must(err)
	_, err = e.m.Allocate(e.ctx, f.p.ID, partner.AllocateParams{LicenseID: res.Licenses[0].ID, CustomerID: f.customer.ID, Units: units})
	must(err)
	return res.Licenses[0]
}
