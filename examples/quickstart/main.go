// Command quickstart walks through the scenarios of the partner screen on
// the in-memory store and prints what happens: the product and plan
// catalogues, creating an MSP and a Reseller, each tab's actions (the
// licence lifecycle and the partner's own pool refill included), the
// guards that refuse what the seed forbids, the expiry sweep, suspension,
// cancellation and the audit trail.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/serviceplan"
)

func main() {
	if err := run(os.Stdout, time.Now); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// step prints the outcome of one action: "ok" or the refusal (with the
// field, for invalid input).
func step(w io.Writer, what string, err error) {
	if err != nil {
		reason := partner.ErrorReason(err)
		if f := partner.ErrorField(err); f != "" && errors.Is(err, partner.ErrInvalid) {
			reason = f + " " + reason
		}
		fmt.Fprintf(w, "  %-52s refused: %s\n", what, reason)
		return
	}
	fmt.Fprintf(w, "  %-52s ok\n", what)
}

func run(w io.Writer, now func() time.Time) error {
	m := partner.NewManager(partner.Options{
		Now: now,
		ResetPassword: func(_ context.Context, a account.Account) error {
			fmt.Fprintf(w, "  (host hook) password reset link sent to %s\n", a.Email)
			return nil
		},
	})
	m.Subscribe(func(_ context.Context, e partner.Event) error {
		switch e.Kind {
		case partner.EventPoolBelowMinimum:
			fmt.Fprintf(w, "  (host hook) low stock: %s %s\n", e.Target, e.After)
		case partner.EventLicenseExpiring:
			fmt.Fprintf(w, "  (host hook) licence %d expires in %d days\n", e.LicenseID, e.DaysLeft)
		}
		return nil
	})
	ctx := partner.WithActor(context.Background(), "ops@vendor.example")
	today := now().UTC().Truncate(24 * time.Hour)

	fmt.Fprintln(w, "== Product catalogue")
	for _, p := range []license.Product{
		{Name: "Endpoint Security", UnitType: license.Seats, TrialOffered: true, TrialDays: 30},
		{Name: "Email Security", UnitType: license.Users, TrialOffered: true, TrialDays: 30},
	} {
		p, err := m.CreateProduct(ctx, p)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  %s, sold in %s, %d-day trial\n", p.Name, p.UnitType, p.TrialDays)
	}
	_, err := m.CreateProduct(ctx, license.Product{Name: "ENDPOINT SECURITY", UnitType: license.Devices})
	step(w, "a second product named ENDPOINT SECURITY", err)

	fmt.Fprintln(w, "== Service plan catalogue")
	plan12, err := m.CreatePlan(ctx, serviceplan.Plan{Name: "Endpoint Full 12 months", Enabled: true, Product: "Endpoint Security",
		Kind: serviceplan.Full, UnitType: "seats", DataCenter: serviceplan.EU, InitialPeriodMonths: 12, AutoRenew: true, ExpiryNoticeDays: 30})
	if err != nil {
		return err
	}
	trial, err := m.CreatePlan(ctx, serviceplan.Plan{Name: "Endpoint Trial 1 month", Enabled: true, Product: "Endpoint Security",
		Kind: serviceplan.Trial, UnitType: "seats", DataCenter: serviceplan.EU, InitialPeriodMonths: 1, ExpiryNoticeDays: 7})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  created %q and %q\n", plan12.Name, trial.Name)

	fmt.Fprintln(w, "== Create Partner")
	msp, err := m.Create(ctx, partner.CreateParams{Type: partner.MSP,
		Profile:       partner.Profile{CompanyName: "Acme Managed IT", City: "Lyon", State: "Auvergne-Rhône-Alpes", Country: "France"},
		Admin:         account.Params{Name: "acme.admin", FirstName: "Ada", LastName: "Martin", Email: "ada@acme.example"},
		RemoteManager: []partner.DataCenter{serviceplan.EU}})
	if err != nil {
		return err
	}
	rs, err := m.Create(ctx, partner.CreateParams{Type: partner.Reseller,
		Profile: partner.Profile{CompanyName: "Blue Sky Reseller", City: "Osaka", Country: "Japan"},
		Admin:   account.Params{Name: "bluesky.admin", FirstName: "Bo", LastName: "Sato", Email: "bo@bluesky.example"},
		Plans:   []int64{plan12.ID}})
	if err != nil {
		return err
	}
	_, err = m.Create(ctx, partner.CreateParams{Type: partner.MSP,
		Profile: partner.Profile{CompanyName: "Copycat", City: "Paris", Country: "France"},
		Admin:   account.Params{Name: "ACME.admin", FirstName: "C", LastName: "C", Email: "c@copycat.example"}})
	step(w, `create a partner whose admin name is taken`, err)
	for _, p := range []partner.Partner{msp, rs} {
		fmt.Fprintf(w, "  %-20s type=%-8s status=%s tabs=%v\n", p.Profile.CompanyName, p.Type.Label(), p.Status.Label(), partner.Tabs(p.Type))
	}

	fmt.Fprintln(w, "== Licenses tab")
	lics, err := m.AssignLicenses(ctx, msp.ID, partner.AssignLicensesParams{Key: "po-2026-001", Grants: []license.Grant{
		{Product: "Endpoint Security", Units: 50, Kind: license.Full, Start: today, Expiry: today.AddDate(1, 0, 0)},
		{Product: "email security", Units: 20, Kind: license.Trial, Start: today}, // the product's 30-day trial
	}})
	step(w, "Assign Licenses: 50 seats Full + 20 users Trial", err)
	if err != nil {
		return err
	}
	_, err = m.AssignLicenses(ctx, msp.ID, partner.AssignLicensesParams{Key: "po-2026-001", Grants: []license.Grant{
		{Product: "Endpoint Security", Units: 50, Kind: license.Full, Start: today, Expiry: today.AddDate(1, 0, 0)},
		{Product: "email security", Units: 20, Kind: license.Trial, Start: today},
	}})
	step(w, "the same assignment retried (same key): no double grant", err)
	_, err = m.AssignLicenses(ctx, msp.ID, partner.AssignLicensesParams{Grants: []license.Grant{
		{Product: "Endpoint Securty", Units: 5, Kind: license.Full, Start: today, Expiry: today.AddDate(1, 0, 0)}}})
	step(w, "Assign Licenses of a misspelt product", err)
	_, err = m.SetMinimumLicenses(ctx, msp.ID, 0, 10)
	step(w, "minimum licences threshold = 10", err)
	bakery, _ := m.AddCustomer(ctx, msp.ID, partner.CustomerParams{Name: "Corner Bakery"})
	dental, _ := m.AddCustomer(ctx, msp.ID, partner.CustomerParams{Name: "City Dental"})
	_, err = m.Allocate(ctx, msp.ID, partner.AllocateParams{LicenseID: lics.Licenses[0].ID, CustomerID: bakery.ID, Units: 30})
	step(w, "give 30 seats to Corner Bakery", err)
	_, err = m.Allocate(ctx, msp.ID, partner.AllocateParams{LicenseID: lics.Licenses[0].ID, CustomerID: dental.ID, Units: 25})
	step(w, "give 25 seats to City Dental (only 20 left)", err)
	_, err = m.SetPoolRefill(ctx, msp.ID, 0, true)
	step(w, "License pool refill on", err)
	_, err = m.Allocate(ctx, msp.ID, partner.AllocateParams{LicenseID: lics.Licenses[0].ID, CustomerID: dental.ID, Units: 25})
	step(w, "give 25 seats again: an allocation never grows a licence", err)
	_, err = m.Allocate(ctx, msp.ID, partner.AllocateParams{LicenseID: lics.Licenses[0].ID, CustomerID: dental.ID, Units: 20})
	step(w, "give the last 20 seats to City Dental", err)

	// The partner refills its depleted pool itself: the host calls
	// RefillPool for the partner's console account.
	asPartner := partner.WithActor(context.Background(), "acme.admin")
	refill := partner.RefillPoolParams{Product: "Endpoint Security", Key: "acme-refill-1"}
	_, err = m.RefillPool(asPartner, msp.ID, refill)
	step(w, "the partner refills Endpoint Security (no cap yet)", err)
	_, err = m.SetPoolSettings(ctx, msp.ID, 0, partner.PoolSettingsParams{Product: "Endpoint Security", Cap: 80})
	step(w, "pool settings: Endpoint Security capped at 80 seats", err)
	topUp, err := m.RefillPool(asPartner, msp.ID, refill)
	step(w, "the partner refills Endpoint Security up to the cap", err)
	if err != nil {
		return err
	}
	_, err = m.RefillPool(asPartner, msp.ID, refill)
	step(w, "the same refill retried (same key): no second licence", err)
	_, err = m.RefillPool(asPartner, msp.ID, partner.RefillPoolParams{Product: "Endpoint Security", Units: 5})
	step(w, "refill again while 30 seats remain", err)
	_, err = m.Allocate(ctx, msp.ID, partner.AllocateParams{LicenseID: topUp.ID, CustomerID: dental.ID, Units: 5})
	step(w, "give 5 seats of the new licence to City Dental", err)

	trialLic := lics.Licenses[1]
	_, err = m.AddUnits(ctx, msp.ID, trialLic.ID, 0, 10)
	step(w, "Add Units without the licence's version", err)
	trialLic, err = m.AddUnits(ctx, msp.ID, trialLic.ID, trialLic.Version, 10)
	step(w, "Add Units: 10 more users on the Email Security trial", err)
	_, err = m.Sweep(ctx)
	step(w, "expiry sweep (the host runs it on a ticker)", err)
	trialLic, err = m.ConvertToFull(ctx, msp.ID, trialLic.ID, trialLic.Version, today.AddDate(1, 0, 0))
	step(w, "Convert to Full, for a year", err)
	_, err = m.ReduceUnits(ctx, msp.ID, lics.Licenses[0].ID, lics.Licenses[0].Version, 10)
	step(w, "Reduce Units below what customers hold", err)
	_, err = m.DisableLicenses(ctx, msp.ID, []int64{trialLic.ID})
	step(w, "Disable Licenses: the Email Security licence", err)
	_, err = m.Allocate(ctx, msp.ID, partner.AllocateParams{LicenseID: trialLic.ID, CustomerID: bakery.ID, Units: 1})
	step(w, "give a user of the disabled licence", err)
	_, err = m.EnableLicenses(ctx, msp.ID, []int64{trialLic.ID})
	step(w, "Enable Licenses: the Email Security licence again", err)
	_, err = m.DisableLicenses(ctx, rs.ID, []int64{lics.Licenses[0].ID})
	step(w, "Disable Licenses on a Reseller", err)
	all, _, _ := m.Licenses(ctx, msp.ID, partner.Page{})
	for _, l := range all {
		fmt.Fprintf(w, "  licence %d %-18s %3d/%-3d %-6s %-5s %-13s %s\n", l.ID, l.Product, l.Used, l.Units, l.UnitType, l.Kind.Label(),
			m.LicenseState(l).Label(), l.Origin.Label())
	}

	fmt.Fprintln(w, "== Management Licenses tab (MSP only)")
	_, err = m.EnableRemoteManager(ctx, msp.ID, 0, serviceplan.JP)
	step(w, "Enable Trend Micro Remote Manager for JP", err)
	_, err = m.EnableRemoteManager(ctx, rs.ID, 0, serviceplan.JP)
	step(w, "Enable Remote Manager on a Reseller", err)

	fmt.Fprintln(w, "== Service Plans tab (Reseller only)")
	_, err = m.AssignPlan(ctx, rs.ID, trial.ID)
	step(w, "Assign Service Plan: trial", err)
	err = m.RemovePlan(ctx, rs.ID, plan12.ID)
	step(w, "Remove Service Plan: 12 months", err)
	_, err = m.AssignPlan(ctx, msp.ID, trial.ID)
	step(w, "Assign Service Plan on an MSP", err)

	fmt.Fprintln(w, "== Accounts tab")
	accts, _, _ := m.Accounts(ctx, msp.ID, partner.Page{})
	admin := accts[0]
	lm, err := m.AddAccount(ctx, msp.ID, account.Params{Name: "acme.licensing", FirstName: "Lee", LastName: "Roux",
		Email: "lee@acme.example", Role: account.LicenseManager})
	step(w, "add a License Manager", err)
	err = m.DeleteAccount(ctx, msp.ID, admin.ID)
	step(w, "delete the only Administrator", err)
	_, err = m.ChangeRole(ctx, msp.ID, lm.ID, 0, account.Administrator)
	step(w, "make the License Manager an Administrator", err)
	_, err = m.DisableAccount(ctx, msp.ID, admin.ID, 0)
	step(w, "disable the first Administrator (another exists)", err)
	_, err = m.ResetPassword(ctx, msp.ID, lm.ID)
	step(w, "reset a password", err)

	fmt.Fprintln(w, "== Profile tab: Suspend")
	msp, err = m.Suspend(ctx, msp.ID, 0)
	step(w, "Suspend Acme Managed IT", err)
	_, err = m.AssignLicenses(ctx, msp.ID, partner.AssignLicensesParams{Grants: []license.Grant{
		{Product: "Endpoint Security", UnitType: "seats", Units: 5, Kind: license.Full, Start: today, Expiry: today.AddDate(1, 0, 0)}}})
	step(w, "Assign Licenses while suspended", err)
	city := "Villeurbanne"
	_, err = m.UpdateProfile(ctx, msp.ID, partner.ProfilePatch{City: &city})
	step(w, "change the Profile while suspended", err)
	_, err = m.UpdateProfile(ctx, msp.ID, partner.ProfilePatch{Version: msp.Version, City: &city})
	step(w, "change the Profile from a stale form", err)
	_, err = m.Reactivate(ctx, msp.ID, 0)
	step(w, "Reactivate", err)

	fmt.Fprintln(w, "== Profile tab: Cancel")
	impact, err := m.CancelPreview(ctx, msp.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  canceling %s will hit %d customers, %d allocations, %d licences, %d accounts\n",
		impact.Partner.Profile.CompanyName, len(impact.Customers), len(impact.Allocations), impact.Licenses, len(impact.Accounts))
	for _, c := range impact.ByCustomer {
		fmt.Fprintf(w, "    %-14s %d allocations, %d units\n", c.Customer.Name, len(c.Allocations), c.Units)
	}
	_, err = m.Cancel(ctx, msp.ID, 0)
	step(w, "Cancel Acme Managed IT", err)
	_, err = m.Reactivate(ctx, msp.ID, 0)
	step(w, "Reactivate a canceled partner", err)
	_, err = m.UpdateProfile(ctx, msp.ID, partner.ProfilePatch{City: &city})
	step(w, "change the Profile of a canceled partner", err)

	fmt.Fprintln(w, "== Partner information banner")
	list, _, err := m.List(ctx, partner.Filter{})
	if err != nil {
		return err
	}
	for _, p := range list {
		fmt.Fprintf(w, "  %-20s Status: %-9s Type: %-8s Customers: %d\n", p.Profile.CompanyName, p.Status.Label(), p.Type.Label(), p.Customers)
	}

	fmt.Fprintln(w, "== Audit trail of Acme Managed IT (newest first)")
	entries, total, err := m.Audit(ctx, msp.ID, partner.Page{Limit: 5})
	if err != nil {
		return err
	}
	for _, e := range entries {
		fmt.Fprintf(w, "  %-22s %-20s %s\n", e.Action, e.Target, e.Summary())
	}
	fmt.Fprintf(w, "  (%d entries in all)\n", total)

	fmt.Fprintln(w, "== The operator at scale: a bulk change across partners")
	bulk := partner.BulkParams{Key: "minimum-10", Filter: &partner.Filter{}, // every partner
		Action: partner.BulkAction{Kind: partner.BulkSetMinimumLicenses, Minimum: 10}}
	preview, err := m.BulkPreview(ctx, bulk, partner.Page{})
	if err != nil {
		return err
	}
	for _, it := range preview.Items {
		what := partner.AuditEntry{Changes: it.Changes}.Summary()
		if it.Reason != "" {
			what = it.Reason
		}
		fmt.Fprintf(w, "  preview %-20s %-9s %s\n", it.CompanyName, it.Outcome, what)
	}
	run, err := m.Bulk(ctx, bulk)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "  bulk run %s: %d done, %d refused\n", run.Key, run.Done, run.Refused)
	if run, err = m.Bulk(ctx, bulk); err != nil {
		return err
	}
	fmt.Fprintf(w, "  the same run retried: still %d done, nothing applied twice\n", run.Done)

	fmt.Fprintln(w, "== Partners that need a look, by name")
	list, _, err = m.List(ctx, partner.Filter{Attention: partner.AttentionAny, Sort: partner.SortName})
	if err != nil {
		return err
	}
	for _, p := range list {
		fmt.Fprintf(w, "  %-20s %d low pool(s), %d licence(s) expiring soon\n", p.Profile.CompanyName, p.LowStockPools, p.ExpiringLicenses)
	}

	fmt.Fprintln(w, "== The audit log across partners: what ops@vendor.example did")
	_, byOps, err := m.AuditLog(ctx, partner.AuditFilter{Actor: "ops@vendor.example"})
	if err != nil {
		return err
	}
	exported := 0
	for _, err := range m.AuditLogAll(ctx, partner.AuditFilter{Actor: "ops@vendor.example"}) {
		if err != nil {
			return err
		}
		exported++ // a CSV row each
	}
	fmt.Fprintf(w, "  %d changes, %d exported\n", byOps, exported)
	return nil
}
