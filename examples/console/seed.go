package main

import (
	"context"
	"errors"
	"time"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/serviceplan"
)

// demoProducts is the demo's product catalogue: every licence is granted
// for one of them.
var demoProducts = []license.Product{
	{Name: "Endpoint Security", UnitType: license.Seats, TrialOffered: true, TrialDays: 30},
	{Name: "Email Security", UnitType: license.Users, TrialOffered: true, TrialDays: 14},
	{Name: "Mobile Security", UnitType: license.Devices},
}

// Seed fills an empty store with demo data through the Manager, so the
// audit trail is real: a product catalogue, an Active MSP, an Active
// Reseller, a Suspended and a Canceled partner, each with licences from
// the catalogue, customers and accounts, and a plan catalogue. It does nothing when partners exist already, and
// reports whether it seeded.
//
// Several processes may start on a new database at once: the check and
// the seeding are one transaction (on SQLite one BEGIN IMMEDIATE, which
// the others wait for), and a process that loses the race anyway (a
// store whose check cannot see the winner's rows yet) finds the demo
// data taken and counts it as seeded by the other.
func Seed(ctx context.Context, m *partner.Manager, now time.Time) (bool, error) {
	exists := func(ctx context.Context, m *partner.Manager) (bool, error) {
		_, n, err := m.List(ctx, partner.Filter{Page: partner.Page{Limit: 1}})
		return n > 0, err
	}
	ctx = partner.WithActor(ctx, "seed")
	today := now.UTC().Truncate(24 * time.Hour)
	seeded := false
	err := m.RunInTx(ctx, func(ctx context.Context, m *partner.Manager) error {
		seeded = false // a store may run this again after a busy database
		if done, err := exists(ctx, m); err != nil || done {
			return err
		}
		seeded = true
		for _, p := range demoProducts {
			if _, err := m.CreateProduct(ctx, p); err != nil {
				return err
			}
		}
		var plans []int64
		for _, p := range []serviceplan.Plan{
			{Name: "Endpoint Security Full 12 months", Product: "Endpoint Security", Kind: serviceplan.Full, UnitType: "seats", DataCenter: serviceplan.EU, InitialPeriodMonths: 12, AutoRenew: true, ExpiryNoticeDays: 30},
			{Name: "Endpoint Security Trial 1 month", Product: "Endpoint Security", Kind: serviceplan.Trial, UnitType: "seats", DataCenter: serviceplan.EU, InitialPeriodMonths: 1, ExpiryNoticeDays: 7},
			{Name: "Email Security Full 12 months", Product: "Email Security", Kind: serviceplan.Full, UnitType: "users", DataCenter: serviceplan.US, InitialPeriodMonths: 12, AutoRenew: true, ExpiryNoticeDays: 30},
			{Name: "Endpoint Security NFR (EU)", Product: "Endpoint Security", Kind: serviceplan.Full, UnitType: "seats", NFR: true, DataCenter: serviceplan.EU, InitialPeriodMonths: 12, ExpiryNoticeDays: 30},
		} {
			p.Enabled = true
			created, err := m.CreatePlan(ctx, p)
			if err != nil {
				return err
			}
			plans = append(plans, created.ID)
		}
		grant := func(product, unit string, units int64, kind license.Kind, days int) license.Grant {
			return license.Grant{Product: product, UnitType: unit, Units: units, Kind: kind, Start: today.AddDate(0, -2, 0), Expiry: today.AddDate(0, 0, days)}
		}
		type demo struct {
			in        partner.CreateParams
			customers []string
			users     []account.Params
			minimum   int64
			then      partner.Operation
		}
		demos := []demo{
			{in: partner.CreateParams{Type: partner.MSP,
				Profile:       partner.Profile{CompanyName: "Acme Managed IT", City: "Lyon", State: "Auvergne-Rhône-Alpes", Country: "France", SignInURL: "https://acme-it.example/console"},
				Admin:         account.Params{Name: "acme.admin", FirstName: "Ada", LastName: "Martin", Email: "ada.martin@acme-it.example"},
				RemoteManager: []partner.DataCenter{serviceplan.EU},
				Licenses: []license.Grant{grant("Endpoint Security", "seats", 100, license.Full, 365), grant("Email Security", "users", 40, license.Trial, 20),
					grant("Mobile Security", "devices", 25, license.Full, 10)}},
				customers: []string{"Corner Bakery", "City Dental", "Riverside Law"},
				users:     []account.Params{{Name: "acme.licensing", FirstName: "Lee", LastName: "Roux", Email: "lee.roux@acme-it.example", Role: account.LicenseManager}},
				minimum:   30},
			{in: partner.CreateParams{Type: partner.Reseller,
				Profile:  partner.Profile{CompanyName: "Blue Sky Reseller", City: "Osaka", Country: "Japan"},
				Admin:    account.Params{Name: "bluesky.admin", FirstName: "Bo", LastName: "Sato", Email: "bo.sato@bluesky.example"},
				Plans:    plans[:2],
				Licenses: []license.Grant{grant("Endpoint Security", "seats", 250, license.Full, 300)}},
				customers: []string{"Kansai Logistics", "Namba Clinic"},
				users:     []account.Params{{Name: "bluesky.billing", FirstName: "Mei", LastName: "Ito", Email: "mei.ito@bluesky.example", Role: account.BillingManager}}},
			{in: partner.CreateParams{Type: partner.MSP,
				Profile:  partner.Profile{CompanyName: "Harbor Networks", City: "Rotterdam", Country: "Netherlands"},
				Admin:    account.Params{Name: "harbor.admin", FirstName: "Hugo", LastName: "de Vries", Email: "hugo@harbor.example"},
				Licenses: []license.Grant{grant("Endpoint Security", "seats", 60, license.Full, 200)}},
				customers: []string{"Dock Freight"}, then: partner.OpSuspend},
			{in: partner.CreateParams{Type: partner.Reseller,
				Profile:  partner.Profile{CompanyName: "Old Town Software", City: "Edinburgh", Country: "United Kingdom"},
				Admin:    account.Params{Name: "oldtown.admin", FirstName: "Isla", LastName: "Reid", Email: "isla@oldtown.example"},
				Plans:    plans[2:3],
				Licenses: []license.Grant{grant("Email Security", "users", 30, license.Full, 120)}},
				customers: []string{"Castle Books"}, then: partner.OpCancel},
		}
		for _, d := range demos {
			p, err := m.Create(ctx, d.in)
			if err != nil {
				return err
			}
			lics, _, err := m.Licenses(ctx, p.ID, partner.Page{})
			if err != nil {
				return err
			}
			for i, name := range d.customers {
				c, err := m.AddCustomer(ctx, p.ID, partner.CustomerParams{Name: name})
				if err != nil {
					return err
				}
				if _, err := m.Allocate(ctx, p.ID, partner.AllocateParams{LicenseID: lics[0].ID, CustomerID: c.ID, Units: int64(10 + 15*i)}); err != nil {
					return err
				}
			}
			for _, u := range d.users {
				if _, err := m.AddAccount(ctx, p.ID, u); err != nil {
					return err
				}
			}
			if d.minimum > 0 {
				if _, err := m.SetMinimumLicenses(ctx, p.ID, 0, d.minimum); err != nil {
					return err
				}
			}
			switch d.then {
			case partner.OpSuspend:
				_, err = m.Suspend(ctx, p.ID, 0)
			case partner.OpCancel:
				_, err = m.Cancel(ctx, p.ID, 0)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, partner.ErrDuplicate) {
		if done, lerr := exists(ctx, m); lerr == nil && done {
			return false, nil // another process seeded first
		}
	}
	if err != nil {
		return false, err
	}
	return seeded, nil
}
