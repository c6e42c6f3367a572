package partner_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/serviceplan"
)

func fixedClock() time.Time { return time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC) }

// A zero-configuration Manager keeps everything in memory; a host passes
// a bunstore or its own Store in Options.
func ExampleManager_Create() {
	m := partner.NewManager(partner.Options{Now: fixedClock})
	ctx := partner.WithActor(context.Background(), "ops@vendor.example")

	p, err := m.Create(ctx, partner.CreateParams{
		Type:          partner.MSP,
		Profile:       partner.Profile{CompanyName: "Acme Managed IT", City: "Lyon", Country: "France"},
		Admin:         account.Params{Name: "acme.admin", FirstName: "Ada", LastName: "Admin", Email: "ada@acme.example"},
		RemoteManager: []partner.DataCenter{serviceplan.EU},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.Profile.CompanyName, p.Type.Label(), p.Status.Label(), p.RemoteManager)
	fmt.Println("tabs:", partner.Tabs(p.Type))
	// Output:
	// Acme Managed IT MSP Active [EU]
	// tabs: [licenses customers management-licenses accounts profile]
}

// Licences are granted to a partner, then given to its customers; a
// licence never hands out more units than it provisions.
func ExampleManager_Allocate() {
	m := partner.NewManager(partner.Options{Now: fixedClock})
	ctx := context.Background()
	_, _ = m.CreateProduct(ctx, license.Product{Name: "Endpoint Security", UnitType: license.Seats})
	p, _ := m.Create(ctx, partner.CreateParams{Type: partner.Reseller,
		Profile: partner.Profile{CompanyName: "Blue Reseller", City: "Osaka", Country: "Japan"},
		Admin:   account.Params{Name: "blue.admin", FirstName: "Bo", LastName: "Lee", Email: "bo@blue.example"}})

	lics, _ := m.AssignLicenses(ctx, p.ID, partner.AssignLicensesParams{Key: "order-1001", Grants: []license.Grant{{
		Product: "Endpoint Security", UnitType: "seats", Units: 10, Kind: license.Full,
		Start: fixedClock(), Expiry: fixedClock().AddDate(1, 0, 0)}}})
	c, _ := m.AddCustomer(ctx, p.ID, partner.CustomerParams{Name: "Corner Bakery"})

	_, err := m.Allocate(ctx, p.ID, partner.AllocateParams{LicenseID: lics.Licenses[0].ID, CustomerID: c.ID, Units: 8})
	fmt.Println("8 units:", err)
	_, err = m.Allocate(ctx, p.ID, partner.AllocateParams{LicenseID: lics.Licenses[0].ID, CustomerID: c.ID, Units: 3})
	fmt.Println("3 more:", errors.Is(err, partner.ErrInsufficientUnits))

	p, _ = m.Get(ctx, p.ID)
	fmt.Printf("customers=%d used=%d/%d\n", p.Customers, p.UnitsUsed, p.UnitsProvisioned)
	// Output:
	// 8 units: <nil>
	// 3 more: true
	// customers=1 used=8/10
}

// A Suspended partner can only have its Profile changed; a Canceled one
// nothing at all. The guard table answers before anything is tried.
func ExampleCheck() {
	for _, s := range partner.Statuses() {
		err := partner.Check(s, partner.MSP, partner.OpAssignLicenses)
		fmt.Printf("%-9s assign licences: %v\n", s.Label(), err)
	}
	fmt.Println(partner.Check(partner.Active, partner.Reseller, partner.OpDisableLicenses))
	// Output:
	// Active    assign licences: <nil>
	// Suspended assign licences: assign_licenses: the partnership is suspended: only the Profile can be changed: partner is suspended
	// Canceled  assign licences: assign_licenses: the partnership is canceled: nothing can be changed: partner is canceled
	// disable_licenses: Disable Licenses is for MSP partners only: not available for this partner type
}

// Invalid input names the field; errors.Is tells the kind.
func ExampleErrorField() {
	m := partner.NewManager(partner.Options{})
	_, err := m.Create(context.Background(), partner.CreateParams{Type: partner.MSP,
		Profile: partner.Profile{CompanyName: "", City: "Lyon", Country: "France"},
		Admin:   account.Params{Name: "x.admin", FirstName: "X", LastName: "Y", Email: "x@example.com"}})
	fmt.Println(errors.Is(err, partner.ErrInvalid), partner.ErrorField(err))
	fmt.Println(err)
	// Output:
	// true company name
	// create_partner: company name is required: invalid input
}

// Hooks hear of changes after they commit; the audit trail records who
// did what, before and after.
func ExampleManager_Subscribe() {
	m := partner.NewManager(partner.Options{Now: fixedClock})
	m.Subscribe(func(_ context.Context, e partner.Event) error {
		fmt.Printf("event %s by %s, %d changes; the first: %s\n", e.Kind, e.Actor, len(e.Changes), e.Changes[0])
		return nil
	})
	ctx := partner.WithActor(context.Background(), "ops@vendor.example")
	p, _ := m.Create(context.Background(), partner.CreateParams{Type: partner.MSP,
		Profile: partner.Profile{CompanyName: "Acme", City: "Lyon", Country: "France"},
		Admin:   account.Params{Name: "acme.admin", FirstName: "Ada", LastName: "Admin", Email: "ada@acme.example"}})
	p, _ = m.Suspend(ctx, p.ID, p.Version)

	entries, total, _ := m.Audit(ctx, p.ID, partner.Page{Limit: 1})
	e := entries[0]
	fmt.Println(total, e.Actor, e.Action, e.At.Format(time.RFC3339), e.Summary())
	c := e.Changes[0]
	fmt.Printf("%s: %s → %s, as JSON %s → %s\n", c.Field, c.Before, c.After, c.BeforeValue, c.AfterValue)
	// Output:
	// event partner.created by system, 7 changes; the first: Company name: Acme
	// event partner.status_changed by ops@vendor.example, 1 changes; the first: Status: Active → Suspended
	// 2 ops@vendor.example suspend 2026-05-04T10:00:00Z Status: Active → Suspended
	// status: Active → Suspended, as JSON "active" → "suspended"
}

// RunInTx binds the Manager to one transaction: several changes commit
// together or not at all.
func ExampleManager_RunInTx() {
	m := partner.NewManager(partner.Options{Now: fixedClock})
	ctx := context.Background()
	p, _ := m.Create(ctx, partner.CreateParams{Type: partner.MSP,
		Profile: partner.Profile{CompanyName: "Acme", City: "Lyon", Country: "France"},
		Admin:   account.Params{Name: "acme.admin", FirstName: "Ada", LastName: "Admin", Email: "ada@acme.example"}})

	err := m.RunInTx(ctx, func(ctx context.Context, tm *partner.Manager) error {
		if _, err := tm.SetPoolRefill(ctx, p.ID, 0, true); err != nil {
			return err
		}
		_, err := tm.EnableRemoteManager(ctx, p.ID, 0, "MARS")
		return err
	})
	fmt.Println(err)
	p, _ = m.Get(ctx, p.ID)
	fmt.Println("pool refill kept:", p.PoolRefill)
	// Output:
	// enable_remote_manager: data center must be one of US, CA, UK, EU, SG, JP, IN, AU (got "MARS"): invalid input
	// pool refill kept: false
}

// The product catalogue is what licences are granted for: a grant names a
// catalogue product, letter case ignored, and takes its name and unit
// type, so "endpoint security" adds to the Endpoint Security pool.
func ExampleManager_CreateProduct() {
	m := partner.NewManager(partner.Options{Now: fixedClock})
	ctx := context.Background()
	eps, _ := m.CreateProduct(ctx, license.Product{Name: "Endpoint Security", UnitType: license.Seats, TrialOffered: true, TrialDays: 30})
	_, err := m.CreateProduct(ctx, license.Product{Name: "ENDPOINT SECURITY", UnitType: license.Devices})
	fmt.Println("a second Endpoint Security:", errors.Is(err, partner.ErrDuplicate))

	p, _ := m.Create(ctx, partner.CreateParams{Type: partner.MSP,
		Profile: partner.Profile{CompanyName: "Acme", City: "Lyon", Country: "France"},
		Admin:   account.Params{Name: "acme.admin", FirstName: "Ada", LastName: "Admin", Email: "ada@acme.example"}})
	res, _ := m.AssignLicenses(ctx, p.ID, partner.AssignLicensesParams{Grants: []license.Grant{
		{Product: "endpoint security", Units: 10, Kind: license.Full, Start: fixedClock(), Expiry: fixedClock().AddDate(1, 0, 0)},
		{ProductID: eps.ID, Units: 5, Kind: license.Trial, Start: fixedClock()}, // the product's 30-day trial
	}})
	for _, l := range res.Licenses {
		fmt.Println(l.Product, l.UnitType, l.Units, l.Kind.Label(), l.Expiry.Format(time.DateOnly))
	}
	_, err = m.AssignLicenses(ctx, p.ID, partner.AssignLicensesParams{Grants: []license.Grant{
		{Product: "Endpoint Securty", Units: 1, Kind: license.Full, Start: fixedClock(), Expiry: fixedClock().AddDate(1, 0, 0)}}})
	fmt.Println(partner.ErrorField(err)+":", partner.ErrorReason(err))
	pools, _ := m.Pools(ctx, p.ID)
	fmt.Println(len(pools), "pool:", pools[0].Name(), pools[0].Units)
	// Output:
	// a second Endpoint Security: true
	// Endpoint Security seats 10 Full 2027-05-04
	// Endpoint Security seats 5 Trial 2026-06-03
	// product: "Endpoint Securty" is not in the product catalogue
	// 1 pool: Endpoint Security (seats) 15
}

// The vendor changes a licence in place: more units (the version makes a
// retry safe), a trial converted to Full, a later expiry.
func ExampleManager_ExtendLicense() {
	m := partner.NewManager(partner.Options{Now: fixedClock})
	ctx := context.Background()
	_, _ = m.CreateProduct(ctx, license.Product{Name: "Email Security", UnitType: license.Users, TrialOffered: true, TrialDays: 30})
	p, _ := m.Create(ctx, partner.CreateParams{Type: partner.MSP,
		Profile:  partner.Profile{CompanyName: "Acme", City: "Lyon", Country: "France"},
		Admin:    account.Params{Name: "acme.admin", FirstName: "Ada", LastName: "Admin", Email: "ada@acme.example"},
		Licenses: []license.Grant{{Product: "Email Security", Units: 20, Kind: license.Trial, Start: fixedClock()}}})
	lics, _, _ := m.Licenses(ctx, p.ID, partner.Page{})
	l := lics[0]
	show := func(l license.License) {
		fmt.Printf("v%d %s %d %s until %s\n", l.Version, l.Product, l.Units, l.Kind.Label(), l.Expiry.Format(time.DateOnly))
	}
	show(l)

	l, _ = m.AddUnits(ctx, p.ID, l.ID, l.Version, 10)
	show(l)
	_, err := m.AddUnits(ctx, p.ID, l.ID, l.Version-1, 10) // the same call retried
	fmt.Println("retried:", errors.Is(err, partner.ErrConflict))
	l, _ = m.ConvertToFull(ctx, p.ID, l.ID, l.Version, time.Time{})
	show(l)
	l, _ = m.ExtendLicense(ctx, p.ID, l.ID, l.Version, fixedClock().AddDate(1, 0, 0))
	show(l)
	_, err = m.ExtendLicense(ctx, p.ID, l.ID, 0, fixedClock())
	fmt.Println(partner.ErrorField(err), partner.ErrorReason(err))
	// Output:
	// v1 Email Security 20 Trial until 2026-06-03
	// v2 Email Security 30 Trial until 2026-06-03
	// retried: true
	// v3 Email Security 30 Full until 2026-06-03
	// v4 Email Security 30 Full until 2027-05-04
	// expiry must be after the current expiry (2027-05-04)
}

// With License pool refill on, the partner creates licences itself once a
// pool is depleted, within the pool's cap; an allocation never grows a
// licence.
func ExampleManager_RefillPool() {
	m := partner.NewManager(partner.Options{Now: fixedClock})
	ctx := partner.WithActor(context.Background(), "ops@vendor.example")
	_, _ = m.CreateProduct(ctx, license.Product{Name: "Endpoint Security", UnitType: license.Seats})
	p, _ := m.Create(ctx, partner.CreateParams{Type: partner.MSP,
		Profile: partner.Profile{CompanyName: "Acme", City: "Lyon", Country: "France"},
		Admin:   account.Params{Name: "acme.admin", FirstName: "Ada", LastName: "Admin", Email: "ada@acme.example"},
		Licenses: []license.Grant{{Product: "Endpoint Security", Units: 10, Kind: license.Full, Start: fixedClock(),
			Expiry: fixedClock().AddDate(1, 0, 0)}}})
	lics, _, _ := m.Licenses(ctx, p.ID, partner.Page{})
	c, _ := m.AddCustomer(ctx, p.ID, partner.CustomerParams{Name: "Corner Bakery"})

	// The vendor turns refill on and caps the pool at 50 seats.
	p, _ = m.SetPoolRefill(ctx, p.ID, p.Version, true)
	_, _ = m.SetPoolSettings(ctx, p.ID, p.Version, partner.PoolSettingsParams{Product: "Endpoint Security", Cap: 50})

	// The partner's own console, on its account's behalf.
	asPartner := partner.WithActor(context.Background(), "acme.admin")
	_, err := m.Allocate(asPartner, p.ID, partner.AllocateParams{LicenseID: lics[0].ID, CustomerID: c.ID, Units: 12})
	fmt.Println("12 of 10 seats:", errors.Is(err, partner.ErrInsufficientUnits))
	_, err = m.RefillPool(asPartner, p.ID, partner.RefillPoolParams{Product: "Endpoint Security", Key: "r-1"})
	fmt.Println("refill with 10 remaining:", partner.ErrorReason(err))
	_, _ = m.Allocate(asPartner, p.ID, partner.AllocateParams{LicenseID: lics[0].ID, CustomerID: c.ID, Units: 10})
	l, err := m.RefillPool(asPartner, p.ID, partner.RefillPoolParams{Product: "Endpoint Security", Key: "r-1"})
	fmt.Println("refill when depleted:", err, l.Units, l.Origin.Label())
	again, _ := m.RefillPool(asPartner, p.ID, partner.RefillPoolParams{Product: "Endpoint Security", Key: "r-1"})
	fmt.Println("retried:", again.ID == l.ID)
	entries, _, _ := m.Audit(ctx, p.ID, partner.Page{Limit: 1})
	fmt.Println(entries[0].Action, "by", entries[0].Actor)
	// Output:
	// 12 of 10 seats: true
	// refill with 10 remaining: Endpoint Security (seats) still has 10 units remaining: it can be refilled once they are all allocated
	// refill when depleted: <nil> 40 Pool refill to the cap
	// retried: true
	// refill_pool by acme.admin
}

// A host calls Sweep on a schedule; each expiry notice reaches the hooks
// once, whichever process sweeps. A real host runs it from a ticker:
//
//	go func() {
//		for range time.Tick(time.Hour) {
//			if _, err := m.Sweep(ctx); err != nil {
//				log.Print(err)
//			}
//		}
//	}()
func ExampleManager_Sweep() {
	now := fixedClock()
	m := partner.NewManager(partner.Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	m.Subscribe(func(_ context.Context, e partner.Event) error {
		if e.Kind == partner.EventLicenseExpiring || e.Kind == partner.EventLicenseExpired {
			fmt.Printf("  %s: licence %d, %d days left\n", e.Kind, e.LicenseID, e.DaysLeft)
		}
		return nil
	})
	_, _ = m.CreateProduct(ctx, license.Product{Name: "Endpoint Security", UnitType: license.Seats})
	_, _ = m.Create(ctx, partner.CreateParams{Type: partner.MSP,
		Profile: partner.Profile{CompanyName: "Acme", City: "Lyon", Country: "France"},
		Admin:   account.Params{Name: "acme.admin", FirstName: "Ada", LastName: "Admin", Email: "ada@acme.example"},
		Licenses: []license.Grant{{Product: "Endpoint Security", Units: 10, Kind: license.Full, Start: now.AddDate(0, -1, 0),
			Expiry: now.AddDate(0, 0, 5)}}})

	for _, step := range []time.Duration{0, 0, 4 * 24 * time.Hour, 2 * 24 * time.Hour} {
		now = now.Add(step)
		res, _ := m.Sweep(ctx)
		fmt.Printf("%s: %d expiring, %d expired, %d skipped\n", now.Format(time.DateOnly), res.Expiring, res.Expired, res.Skipped)
	}
	// Output:
	//   licenses.expiring: licence 1, 5 days left
	// 2026-05-04: 1 expiring, 0 expired, 1 skipped
	// 2026-05-04: 0 expiring, 0 expired, 0 skipped
	//   licenses.expiring: licence 1, 1 days left
	// 2026-05-08: 1 expiring, 0 expired, 0 skipped
	//   licenses.expired: licence 1, 0 days left
	// 2026-05-10: 0 expiring, 1 expired, 0 skipped
}
