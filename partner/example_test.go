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
	// tabs: [licenses management-licenses accounts profile]
}

// Licences are granted to a partner, then given to its customers; a
// licence never hands out more units than it provisions.
func ExampleManager_Allocate() {
	m := partner.NewManager(partner.Options{Now: fixedClock})
	ctx := context.Background()
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
		fmt.Printf("event %s by %s: %s -> %s\n", e.Kind, e.Actor, e.Before, e.After)
		return nil
	})
	ctx := partner.WithActor(context.Background(), "ops@vendor.example")
	p, _ := m.Create(context.Background(), partner.CreateParams{Type: partner.MSP,
		Profile: partner.Profile{CompanyName: "Acme", City: "Lyon", Country: "France"},
		Admin:   account.Params{Name: "acme.admin", FirstName: "Ada", LastName: "Admin", Email: "ada@acme.example"}})
	p, _ = m.Suspend(ctx, p.ID, p.Version)

	entries, total, _ := m.Audit(ctx, p.ID, partner.Page{Limit: 1})
	fmt.Println(total, entries[0].Actor, entries[0].Action, entries[0].At.Format(time.RFC3339))
	// Output:
	// event partner.created by system:  -> company=Acme; type=msp; admin=acme.admin; remote manager=[]; plans=0; licenses=0
	// event partner.status_changed by ops@vendor.example: status=active -> status=suspended
	// 2 ops@vendor.example suspend 2026-05-04T10:00:00Z
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
