package partner_test

import (
	"context"
	"fmt"
	"time"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
)

// examplePartners makes three partners: two Active MSPs, one of them with
// a licence, and a Suspended Reseller.
func examplePartners(m *partner.Manager, ctx context.Context) []int64 {
	var ids []int64
	if _, err := m.CreateProduct(ctx, license.Product{Name: "Endpoint Security", UnitType: license.Seats}); err != nil {
		panic(err)
	}
	for i, name := range []string{"Acme Managed IT", "Blue Sky Reseller", "Corner IT"} {
		in := partner.CreateParams{Type: partner.MSP,
			Profile: partner.Profile{CompanyName: name, City: "Lyon", Country: "France"},
			Admin:   account.Params{Name: fmt.Sprintf("admin%d", i), FirstName: "Ada", LastName: "Admin", Email: "ada@example.com"}}
		if i == 1 {
			in.Type = partner.Reseller
		}
		if i == 0 {
			in.Licenses = []license.Grant{{Product: "Endpoint Security", UnitType: "seats", Units: 50, Kind: license.Full,
				Start: fixedClock(), Expiry: fixedClock().AddDate(0, 0, 20)}}
		}
		p, err := m.Create(ctx, in)
		if err != nil {
			panic(err)
		}
		ids = append(ids, p.ID)
	}
	_, _ = m.Suspend(ctx, ids[1], 0)
	return ids
}

// The audit log across partners answers "what did this operator do?",
// newest first; AuditLogAll exports all of it, a batch at a time.
func ExampleManager_AuditLog() {
	m := partner.NewManager(partner.Options{Now: fixedClock})
	ctx := partner.WithActor(context.Background(), "ops@vendor.example")
	ids := examplePartners(m, context.Background())
	_, _ = m.SetMinimumLicenses(ctx, ids[0], 0, 30)
	_, _ = m.Reactivate(ctx, ids[1], 0)

	entries, total, _ := m.AuditLog(ctx, partner.AuditFilter{Actor: "ops@vendor.example"})
	fmt.Println(total, "changes by ops@vendor.example:")
	for _, e := range entries {
		fmt.Printf("  partner %d %s: %s\n", e.PartnerID, e.Action, e.Summary())
	}
	c := entries[1].Changes[0]
	fmt.Printf("for machines: %s %s → %s\n", c.Field, c.BeforeValue, c.AfterValue)

	n := 0
	for _, err := range m.AuditLogAll(ctx, partner.AuditFilter{From: fixedClock(), To: fixedClock().Add(time.Hour)}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		n++ // write a CSV row here
	}
	fmt.Println(n, "entries exported")
	// Output:
	// 2 changes by ops@vendor.example:
	//   partner 2 reactivate: Status: Suspended → Active
	//   partner 1 set_minimum_licenses: Minimum licences: 0 → 30
	// for machines: minimum_licenses 0 → 30
	// 7 entries exported
}

// The partners list answers questions: who needs a look, by name without
// case or accents, and ListAll walks it for a CSV of any size.
func ExampleManager_List() {
	m := partner.NewManager(partner.Options{Now: fixedClock})
	examplePartners(m, context.Background())

	ps, total, _ := m.List(context.Background(), partner.Filter{Attention: partner.AttentionAny, Sort: partner.SortName})
	for _, p := range ps {
		fmt.Printf("%d needs a look: %s, %d licence(s) expiring, %d low pool(s)\n", total, p.Profile.CompanyName,
			p.ExpiringLicenses, p.LowStockPools)
	}
	for p, err := range m.ListAll(context.Background(), partner.Filter{Sort: partner.SortStatus, Desc: true}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(p.Status.Label(), p.Profile.CompanyName)
	}
	// Output:
	// 1 needs a look: Acme Managed IT, 1 licence(s) expiring, 0 low pool(s)
	// Suspended Blue Sky Reseller
	// Active Acme Managed IT
	// Active Corner IT
}

// A bulk change: preview it — refused partners listed with the guard's
// reason — then run it under a key, which makes it safe to retry.
func ExampleManager_Bulk() {
	m := partner.NewManager(partner.Options{Now: fixedClock})
	ctx := partner.WithActor(context.Background(), "ops@vendor.example")
	examplePartners(m, ctx)
	in := partner.BulkParams{
		Key:    "minimum-2026-05",
		Filter: &partner.Filter{}, // every partner
		Action: partner.BulkAction{Kind: partner.BulkSetMinimumLicenses, Minimum: 10},
	}

	pv, _ := m.BulkPreview(ctx, in, partner.Page{})
	fmt.Printf("preview: %d partners, %d to change, %d refused\n", pv.Total, pv.Pending, pv.Refused)
	for _, it := range pv.Items {
		what := it.Reason
		if it.Outcome == partner.BulkPending {
			what = partner.AuditEntry{Changes: it.Changes}.Summary()
		}
		fmt.Printf("  %s: %s, %s\n", it.CompanyName, it.Outcome, what)
	}

	run, err := m.Bulk(ctx, in)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("run %s: %d done, %d refused, finished %v\n", run.Key, run.Done, run.Refused, run.Finished())
	again, _ := m.Bulk(ctx, in) // a retry applies nothing twice
	fmt.Println("retry:", again.Done, "done, finished at", again.FinishedAt.Format(time.RFC3339))
	refused, _, _ := m.BulkItems(ctx, run.Key, partner.BulkItemFilter{Outcome: partner.BulkRefused})
	fmt.Printf("refused: %s (%s)\n", refused[0].CompanyName, refused[0].Reason)
	// Output:
	// preview: 3 partners, 2 to change, 1 refused
	//   Acme Managed IT: pending, Minimum licences: 0 → 10
	//   Blue Sky Reseller: refused, the partnership is suspended: only the Profile can be changed
	//   Corner IT: pending, Minimum licences: 0 → 10
	// run minimum-2026-05: 2 done, 1 refused, finished true
	// retry: 2 done, finished at 2026-05-04T10:00:00Z
	// refused: Blue Sky Reseller (the partnership is suspended: only the Profile can be changed)
}
