package partner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/partner/storetest"
	"github.com/partnerkit/partnerkit/serviceplan"
)

func requireErr(t *testing.T, err, kind error, field string) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, kind, "got %v", err)
	require.Equal(t, field, partner.ErrorField(err), "field named by %q", err)
}

func countPartners(t *testing.T, e *env) int {
	t.Helper()
	_, n, err := e.m.List(e.ctx, partner.Filter{})
	require.NoError(t, err)
	return n
}

func TestCreatePartner(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		in := newPartnerInput("Acme MSP", partner.MSP, "Acme.Admin")
		in.RemoteManager = []serviceplan.DataCenter{"jp", serviceplan.US, serviceplan.JP}
		in.Licenses = []license.Grant{grant(50)}
		p, err := e.m.Create(e.ctx, in)
		require.NoError(t, err)
		want := partner.Partner{ID: p.ID, Type: partner.MSP, Status: partner.Active, Version: 1, CreatedAt: t0, UpdatedAt: t0,
			Profile: partner.Profile{CompanyName: "Acme MSP", City: "Lyon", State: "Rhône", Country: "France",
				Contacts: []partner.Contact{{FirstName: "Ada", LastName: "Admin", Email: "Acme.Admin@example.com"}}},
			RemoteManager: []serviceplan.DataCenter{serviceplan.US, serviceplan.JP}, UnitsProvisioned: 50}
		require.Empty(t, cmp.Diff(want, p))

		accts, _, err := e.m.Accounts(e.ctx, p.ID, partner.Page{Limit: partner.MaxLimit})
		require.NoError(t, err)
		require.Len(t, accts, 1)
		require.Equal(t, "acme.admin", accts[0].Name, "account names are lower-cased")
		require.Equal(t, account.Administrator, accts[0].Role)
		require.True(t, accts[0].Enabled)

		audit, total, err := e.m.Audit(e.ctx, p.ID, partner.Page{})
		require.NoError(t, err)
		require.Equal(t, 1, total)
		require.Equal(t, "tier1.operator", audit[0].Actor)
		require.Equal(t, partner.OpCreatePartner, audit[0].Action)
		require.Contains(t, audit[0].After(), "Administrator: acme.admin")
		require.Equal(t, "", audit[0].Before(), "a creation has nothing before")
		require.Equal(t, []partner.EventKind{partner.EventPartnerCreated}, e.eventKinds())

		plan := e.plan(t, "Reseller plan")
		rin := newPartnerInput("Blue Reseller", partner.Reseller, "blue.admin")
		rin.Plans = []int64{plan.ID, plan.ID}
		r, err := e.m.Create(e.ctx, rin)
		require.NoError(t, err)
		assigned, err := e.m.AssignedPlans(e.ctx, r.ID)
		require.NoError(t, err)
		require.Len(t, assigned, 1)
		require.Equal(t, plan.ID, assigned[0].ID)
		require.Equal(t, t0, assigned[0].AssignedAt)
	})
}

func TestCreatePartnerRefusesBadInputAndChangesNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		_, err := e.m.Create(e.ctx, newPartnerInput("Taken", partner.MSP, "taken.name"))
		require.NoError(t, err)
		disabled := e.plan(t, "Disabled plan")
		off := false
		_, err = e.m.UpdatePlan(e.ctx, disabled.ID, serviceplan.Patch{Enabled: &off})
		require.NoError(t, err)
		e.resetEvents()

		cases := []struct {
			name  string
			edit  func(*partner.CreateParams)
			kind  error
			field string
		}{
			{"no type", func(n *partner.CreateParams) { n.Type = "" }, partner.ErrInvalid, "type"},
			{"empty company", func(n *partner.CreateParams) { n.Profile.CompanyName = "  " }, partner.ErrInvalid, "company name"},
			{"overlong company", func(n *partner.CreateParams) { n.Profile.CompanyName = strings.Repeat("x", 201) }, partner.ErrInvalid, "company name"},
			{"no city", func(n *partner.CreateParams) { n.Profile.City = "" }, partner.ErrInvalid, "city"},
			{"no country", func(n *partner.CreateParams) { n.Profile.Country = "" }, partner.ErrInvalid, "country"},
			{"bad sign-in URL", func(n *partner.CreateParams) { n.Profile.SignInURL = "javascript:alert(1)" }, partner.ErrInvalid, "sign-in URL"},
			{"bad admin email", func(n *partner.CreateParams) { n.Admin.Email = "nope" }, partner.ErrInvalid, "email"},
			{"bad contact email", func(n *partner.CreateParams) {
				n.Profile.Contacts = []partner.Contact{{FirstName: "A", LastName: "B", Email: "x"}}
			}, partner.ErrInvalid, "contact 1 email"},
			{"empty account name", func(n *partner.CreateParams) { n.Admin.Name = "" }, partner.ErrInvalid, "account name"},
			{"admin not administrator", func(n *partner.CreateParams) { n.Admin.Role = account.SupportEngineer }, partner.ErrInvalid, "role"},
			{"unknown data center", func(n *partner.CreateParams) { n.RemoteManager = []serviceplan.DataCenter{"MARS"} }, partner.ErrInvalid, "data center"},
			{"zero units", func(n *partner.CreateParams) { g := grant(0); n.Licenses = []license.Grant{g} }, partner.ErrInvalid, "units"},
			{"absurd units", func(n *partner.CreateParams) { n.Licenses = []license.Grant{grant(2_000_000)} }, partner.ErrInvalid, "units"},
			{"expiry before start", func(n *partner.CreateParams) {
				g := grant(5)
				g.Expiry = g.Start.AddDate(0, 0, -1)
				n.Licenses = []license.Grant{grant(5), g}
			}, partner.ErrInvalid, "expiry"},
			{"plans for an MSP", func(n *partner.CreateParams) { n.Plans = []int64{disabled.ID} }, partner.ErrWrongType, "service plans"},
			{"duplicate account name", func(n *partner.CreateParams) { n.Admin.Name = "TAKEN.name" }, partner.ErrDuplicate, "account name"},
			{"remote manager for a reseller", func(n *partner.CreateParams) {
				n.Type = partner.Reseller
				n.RemoteManager = []serviceplan.DataCenter{serviceplan.EU}
			}, partner.ErrWrongType, "data center"},
			{"disabled plan", func(n *partner.CreateParams) { n.Type = partner.Reseller; n.Plans = []int64{disabled.ID} }, partner.ErrPlanDisabled, "service plan"},
			{"unknown plan", func(n *partner.CreateParams) { n.Type = partner.Reseller; n.Plans = []int64{9999} }, partner.ErrNotFound, ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				in := newPartnerInput("Newco", partner.MSP, "newco.admin")
				tc.edit(&in)
				_, err := e.m.Create(e.ctx, in)
				requireErr(t, err, tc.kind, tc.field)
				var pe *partner.Error
				require.ErrorAs(t, err, &pe)
				require.Equal(t, partner.OpCreatePartner, pe.Op)
				require.Equal(t, 1, countPartners(t, e), "nothing was created")
			})
		}
		require.Empty(t, e.eventKinds(), "refusals publish nothing")
		// The refused admin names are still free.
		_, err = e.m.Create(e.ctx, newPartnerInput("Newco", partner.MSP, "newco.admin"))
		require.NoError(t, err)
	})
}

func TestCreateReportsEveryInvalidFieldAtOnce(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		in := newPartnerInput("", partner.Reseller, "ok.admin")
		in.Admin.Email = "not-mail"
		in.Profile.SignInURL = "ftp://x"
		in.RemoteManager = []serviceplan.DataCenter{serviceplan.EU}
		bad := grant(0)
		in.Licenses = []license.Grant{grant(5), bad}
		_, err := e.m.Create(e.ctx, in)
		requireErr(t, err, partner.ErrInvalid, "email")
		require.ErrorIs(t, err, partner.ErrWrongType, "every kind stays reachable")
		want := []partner.FieldError{
			{Field: "email", Reason: "is not a valid e-mail address"},
			{Field: "company name", Reason: "is required"},
			{Field: "sign-in URL", Reason: "must be an absolute http or https address"},
			{Field: "data center", Reason: "Remote Manager is for MSP partners only"},
			{Field: "units", Reason: "(grant 2) must be at least 1 (got 0)"},
		}
		require.Empty(t, cmp.Diff(want, partner.FieldErrors(err)))
		require.Zero(t, countPartners(t, e))
	})
}

func TestProfileUpdateVersionAndAudit(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		p, err := e.m.Create(e.ctx, newPartnerInput("Acme", partner.MSP, "acme.admin"))
		require.NoError(t, err)
		e.clock.Advance(time.Hour)
		city, url := "Paris", "https://acme.example.com/login"
		got, err := e.m.UpdateProfile(e.ctx, p.ID, partner.ProfilePatch{Version: p.Version, City: &city, SignInURL: &url})
		require.NoError(t, err)
		require.Equal(t, "Paris", got.Profile.City)
		require.Equal(t, "France", got.Profile.Country, "fields outside the patch stay")
		require.Equal(t, p.Version+1, got.Version)
		require.Equal(t, t0.Add(time.Hour), got.UpdatedAt)

		stale := "Berlin"
		_, err = e.m.UpdateProfile(e.ctx, p.ID, partner.ProfilePatch{Version: p.Version, City: &stale})
		requireErr(t, err, partner.ErrConflict, "")
		bad := ""
		_, err = e.m.UpdateProfile(e.ctx, p.ID, partner.ProfilePatch{Country: &bad})
		requireErr(t, err, partner.ErrInvalid, "country")
		_, err = e.m.UpdateProfile(e.ctx, 999, partner.ProfilePatch{City: &city})
		requireErr(t, err, partner.ErrNotFound, "")

		now, err := e.m.Get(e.ctx, p.ID)
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(got, now))

		audit, _, err := e.m.Audit(e.ctx, p.ID, partner.Page{Limit: 1})
		require.NoError(t, err)
		require.Equal(t, "City: Lyon → Paris; Sign-in URL: (none) → https://acme.example.com/login", audit[0].Summary())
		require.Equal(t, "City: Lyon; Sign-in URL: (none)", audit[0].Before())
		require.Equal(t, []string{"city", "sign_in_url"}, []string{audit[0].Changes[0].Field, audit[0].Changes[1].Field})
		require.Equal(t, t0.Add(time.Hour), audit[0].At)
	})
}

func TestStatusLifecycleAndCancel(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		id := f.p.ID

		s, err := e.m.Suspend(e.ctx, id, f.p.Version)
		require.NoError(t, err)
		require.Equal(t, partner.Suspended, s.Status)
		city := "Nice"
		_, err = e.m.UpdateProfile(e.ctx, id, partner.ProfilePatch{City: &city})
		require.NoError(t, err, "a suspended partner's profile may change")
		_, err = e.m.AssignLicenses(e.ctx, id, partner.AssignLicensesParams{Grants: []license.Grant{grant(1)}})
		requireErr(t, err, partner.ErrSuspended, "")
		a, err := e.m.Reactivate(e.ctx, id, 0)
		require.NoError(t, err)
		require.Equal(t, partner.Active, a.Status)

		im, err := e.m.CancelPreview(e.ctx, id)
		require.NoError(t, err)
		require.Len(t, im.Customers, 1)
		require.Equal(t, 1, im.Licenses)
		require.Len(t, im.Accounts, 2)
		require.Equal(t, []partner.AllocationView{{ID: f.alloc.ID, LicenseID: f.lic.ID, CustomerID: f.customer.ID,
			CustomerName: f.customer.Name, Product: "Endpoint Security", UnitType: "seats", Units: 5}}, im.Allocations)

		e.clock.Advance(24 * time.Hour)
		c, err := e.m.Cancel(e.ctx, id, 0)
		require.NoError(t, err)
		require.Equal(t, partner.Canceled, c.Status)
		require.Equal(t, t0.Add(24*time.Hour), c.CanceledAt)

		lics, _, err := e.m.Licenses(e.ctx, id, partner.Page{})
		require.NoError(t, err)
		require.Equal(t, t0.Add(24*time.Hour), lics[0].Expiry, "licences expire on the cancellation date")
		require.Equal(t, license.Expired, e.m.LicenseState(lics[0]))
		accts, _, err := e.m.Accounts(e.ctx, id, partner.Page{Limit: partner.MaxLimit})
		require.NoError(t, err)
		for _, a := range accts {
			require.False(t, a.Enabled, "every account loses access")
		}
		for _, op := range []func() error{
			func() error { _, err := e.m.Reactivate(e.ctx, id, 0); return err },
			func() error { _, err := e.m.UpdateProfile(e.ctx, id, partner.ProfilePatch{City: &city}); return err },
			func() error { _, err := e.m.Cancel(e.ctx, id, 0); return err },
			func() error { _, err := e.m.CancelPreview(e.ctx, id); return err },
		} {
			requireErr(t, op(), partner.ErrCanceled, "")
		}
		audit, _, err := e.m.Audit(e.ctx, id, partner.Page{Limit: 1})
		require.NoError(t, err)
		require.Equal(t, "Status: Active → Canceled; Licences expired: 1; Accounts disabled: 2", audit[0].Summary())
	})
}

func TestAssignLicensesIsAllOrNothingAndSafeToRetry(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		p, err := e.m.Create(e.ctx, newPartnerInput("Acme", partner.Reseller, "acme.admin"))
		require.NoError(t, err)
		bad := grant(5)
		bad.Kind = "gift"
		_, err = e.m.AssignLicenses(e.ctx, p.ID, partner.AssignLicensesParams{Grants: []license.Grant{grant(5), bad}})
		requireErr(t, err, partner.ErrInvalid, "kind")
		require.Contains(t, err.Error(), "(grant 2)")
		_, err = e.m.AssignLicenses(e.ctx, p.ID, partner.AssignLicensesParams{})
		requireErr(t, err, partner.ErrInvalid, "licenses")

		req := partner.AssignLicensesParams{Key: "order-7", Grants: []license.Grant{grant(10), grant(20)}}
		first, err := e.m.AssignLicenses(e.ctx, p.ID, req)
		require.NoError(t, err)
		require.Len(t, first.Licenses, 2)
		again, err := e.m.AssignLicenses(e.ctx, p.ID, req)
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(first.Licenses, again.Licenses), "a retry returns the first result")
		require.True(t, again.Replayed)
		_, err = e.m.AssignLicenses(e.ctx, p.ID, partner.AssignLicensesParams{Key: "order-7", Grants: []license.Grant{grant(11)}})
		requireErr(t, err, partner.ErrDuplicate, "idempotency key")

		got, err := e.m.Get(e.ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, int64(30), got.UnitsProvisioned, "granted once")
		_, total, err := e.m.Audit(e.ctx, p.ID, partner.Page{})
		require.NoError(t, err)
		require.Equal(t, 2, total, "create + one assignment")
	})
}

func TestDisableLicenses(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		other := e.fixture(t, partner.MSP, partner.Active)
		_, err := e.m.DisableLicenses(e.ctx, f.p.ID, []int64{f.lic.ID, other.lic.ID})
		requireErr(t, err, partner.ErrNotFound, "")
		l, _, err := e.m.Licenses(e.ctx, f.p.ID, partner.Page{})
		require.NoError(t, err)
		require.False(t, l[0].Disabled, "nothing changed when one id was foreign")

		e.clock.Advance(time.Minute)
		out, err := e.m.DisableLicenses(e.ctx, f.p.ID, []int64{f.lic.ID, f.lic.ID})
		require.NoError(t, err)
		require.Len(t, out, 1)
		require.True(t, out[0].Disabled)
		require.Equal(t, t0.Add(time.Minute), out[0].DisabledAt)
		require.Equal(t, license.Disabled, e.m.LicenseState(out[0]))
		require.Equal(t, int64(5), out[0].Used, "customers keep their units")

		_, err = e.m.Allocate(e.ctx, f.p.ID, partner.AllocateParams{LicenseID: f.lic.ID, CustomerID: f.customer.ID, Units: 1})
		requireErr(t, err, partner.ErrLicenseDisabled, "license")
		require.NoError(t, e.m.Release(e.ctx, f.p.ID, f.alloc.ID), "units can still be given back")
	})
}

func TestAllocationRules(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active) // licence of 100, 5 used
		other := e.fixture(t, partner.MSP, partner.Active)
		id := f.p.ID
		alloc := func(lic, cust, units int64) error {
			_, err := e.m.Allocate(e.ctx, id, partner.AllocateParams{LicenseID: lic, CustomerID: cust, Units: units})
			return err
		}
		requireErr(t, alloc(f.lic.ID, f.customer.ID, 0), partner.ErrInvalid, "units")
		requireErr(t, alloc(f.lic.ID, f.customer.ID, 96), partner.ErrInsufficientUnits, "units")
		requireErr(t, alloc(other.lic.ID, f.customer.ID, 1), partner.ErrNotFound, "")
		requireErr(t, alloc(f.lic.ID, other.customer.ID, 1), partner.ErrNotFound, "")
		requireErr(t, e.m.Release(e.ctx, id, other.alloc.ID), partner.ErrNotFound, "")
		require.NoError(t, alloc(f.lic.ID, f.customer.ID, 95), "exactly the remainder")

		future := grant(10)
		future.Start, future.Expiry = t0.AddDate(0, 1, 0), t0.AddDate(1, 0, 0)
		expiring := grant(10)
		expiring.Expiry = t0.Add(time.Hour)
		ls, err := e.m.AssignLicenses(e.ctx, id, partner.AssignLicensesParams{Grants: []license.Grant{future, expiring}})
		require.NoError(t, err)
		requireErr(t, alloc(ls.Licenses[0].ID, f.customer.ID, 1), partner.ErrLicenseNotStarted, "license")
		require.Equal(t, license.ExpiringSoon, e.m.LicenseState(ls.Licenses[1]))
		e.clock.Advance(time.Hour)
		require.Equal(t, license.Expired, e.m.LicenseState(ls.Licenses[1]))
		requireErr(t, alloc(ls.Licenses[1].ID, f.customer.ID, 1), partner.ErrLicenseExpired, "license")

		// Pool refill on or off, an allocation never grows a licence.
		_, err = e.m.SetPoolRefill(e.ctx, id, 0, true)
		require.NoError(t, err)
		before := e.snapshot(t, id)
		e.resetEvents()
		requireErr(t, alloc(f.lic.ID, f.customer.ID, 7), partner.ErrInsufficientUnits, "units")
		require.Empty(t, cmp.Diff(before, e.snapshot(t, id)), "a refused allocation changes nothing")
		require.Empty(t, e.eventKinds())

		allocs, err := e.m.Allocations(e.ctx, id)
		require.NoError(t, err)
		require.Len(t, allocs, 2)
		for _, a := range allocs {
			require.NoError(t, e.m.Release(e.ctx, id, a.ID))
		}
		got, err := e.m.Get(e.ctx, id)
		require.NoError(t, err)
		require.Equal(t, int64(0), got.UnitsUsed)
		require.Equal(t, 1, got.Customers)
		requireErr(t, e.m.Release(e.ctx, id, allocs[0].ID), partner.ErrNotFound, "")
	})
}

func TestPoolBelowMinimumEvent(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active) // 95 remaining
		_, err := e.m.SetMinimumLicenses(e.ctx, f.p.ID, 0, 90)
		require.NoError(t, err)
		_, err = e.m.SetMinimumLicenses(e.ctx, f.p.ID, 0, -1)
		requireErr(t, err, partner.ErrInvalid, "minimum licenses")
		e.resetEvents()
		_, err = e.m.Allocate(e.ctx, f.p.ID, partner.AllocateParams{LicenseID: f.lic.ID, CustomerID: f.customer.ID, Units: 5})
		require.NoError(t, err)
		require.Equal(t, []partner.EventKind{partner.EventUnitsAllocated}, e.eventKinds(), "90 remaining is not below 90")
		e.resetEvents()
		_, err = e.m.Allocate(e.ctx, f.p.ID, partner.AllocateParams{LicenseID: f.lic.ID, CustomerID: f.customer.ID, Units: 1})
		require.NoError(t, err)
		require.Equal(t, []partner.EventKind{partner.EventUnitsAllocated, partner.EventPoolBelowMinimum}, e.eventKinds())
		e.resetEvents()
		_, err = e.m.Allocate(e.ctx, f.p.ID, partner.AllocateParams{LicenseID: f.lic.ID, CustomerID: f.customer.ID, Units: 1})
		require.NoError(t, err)
		require.Equal(t, []partner.EventKind{partner.EventUnitsAllocated}, e.eventKinds(), "warned once, on the way down")

		pools, err := e.m.Pools(e.ctx, f.p.ID)
		require.NoError(t, err)
		require.Equal(t, []partner.Pool{{Product: "Endpoint Security", ProductID: e.products["Endpoint Security"].ID, UnitType: "seats",
			Units: 100, Used: 12, Remaining: 88, Minimum: 90, Low: true}}, pools)
	})
}

// An allocation that leaves a pool that was already low lower still is not
// a fall below the minimum: no event, and no automatic refill.
func TestPoolAlreadyLowIsNotReportedAgain(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active) // licence of 100, 5 used
		_, err := e.m.Allocate(e.ctx, f.p.ID, partner.AllocateParams{LicenseID: f.lic.ID, CustomerID: f.customer.ID, Units: 90})
		require.NoError(t, err) // 5 remaining
		minimum := int64(10)
		_, err = e.m.SetPoolSettings(e.ctx, f.p.ID, 0, partner.PoolSettingsParams{Product: "Endpoint Security", Minimum: &minimum, AutoRefill: true})
		require.NoError(t, err) // already low: 5 < 10
		e.resetEvents()
		_, err = e.m.Allocate(e.ctx, f.p.ID, partner.AllocateParams{LicenseID: f.lic.ID, CustomerID: f.customer.ID, Units: 2})
		require.NoError(t, err)
		require.Equal(t, []partner.EventKind{partner.EventUnitsAllocated}, e.eventKinds())
		lics, total, err := e.m.Licenses(e.ctx, f.p.ID, partner.Page{})
		require.NoError(t, err)
		require.Equal(t, 1, total, "no licence was issued")
		require.Equal(t, int64(100), lics[0].Units)
	})
}

func TestRemoteManager(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		p, err := e.m.EnableRemoteManager(e.ctx, f.p.ID, f.p.Version, "us")
		require.NoError(t, err)
		require.Equal(t, []serviceplan.DataCenter{serviceplan.US, serviceplan.EU}, p.RemoteManager)
		_, err = e.m.EnableRemoteManager(e.ctx, f.p.ID, 0, "XX")
		requireErr(t, err, partner.ErrInvalid, "data center")
		same, err := e.m.EnableRemoteManager(e.ctx, f.p.ID, 0, serviceplan.US)
		require.NoError(t, err)
		require.Equal(t, p.Version, same.Version, "enabling twice changes nothing")
		p, err = e.m.DisableRemoteManager(e.ctx, f.p.ID, 0, serviceplan.EU)
		require.NoError(t, err)
		require.Equal(t, []serviceplan.DataCenter{serviceplan.US}, p.RemoteManager)
		require.True(t, p.HasRemoteManager(serviceplan.US))
	})
}

func TestServicePlans(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.Reseller, partner.Active)
		_, err := e.m.CreatePlan(e.ctx, serviceplan.Plan{Name: " "})
		requireErr(t, err, partner.ErrInvalid, "name")
		dup := f.freePlan
		dup.Name = strings.ToUpper(dup.Name)
		_, err = e.m.CreatePlan(e.ctx, dup)
		requireErr(t, err, partner.ErrDuplicate, "name")
		nfr := f.freePlan
		nfr.Name, nfr.NFR = "NFR one", true
		_, err = e.m.CreatePlan(e.ctx, nfr)
		require.NoError(t, err)
		nfr.Name = "NFR two"
		_, err = e.m.CreatePlan(e.ctx, nfr)
		requireErr(t, err, partner.ErrDuplicate, "nfr")

		ap, err := e.m.AssignPlan(e.ctx, f.p.ID, f.freePlan.ID)
		require.NoError(t, err)
		require.Equal(t, f.freePlan.Name, ap.Name)
		_, err = e.m.AssignPlan(e.ctx, f.p.ID, f.freePlan.ID)
		requireErr(t, err, partner.ErrDuplicate, "service plan")
		require.NoError(t, e.m.RemovePlan(e.ctx, f.p.ID, f.assigned.ID))
		requireErr(t, e.m.RemovePlan(e.ctx, f.p.ID, f.assigned.ID), partner.ErrNotFound, "")

		off := false
		upd, err := e.m.UpdatePlan(e.ctx, f.freePlan.ID, serviceplan.Patch{Version: f.freePlan.Version, Enabled: &off})
		require.NoError(t, err)
		require.False(t, upd.Enabled)
		_, err = e.m.UpdatePlan(e.ctx, f.freePlan.ID, serviceplan.Patch{Version: f.freePlan.Version, Enabled: &off})
		requireErr(t, err, partner.ErrConflict, "")
		plans, err := e.m.AssignedPlans(e.ctx, f.p.ID)
		require.NoError(t, err)
		require.Len(t, plans, 1, "disabling a plan leaves it assigned")
		require.False(t, plans[0].Enabled)
		_, err = e.m.AssignPlan(e.ctx, f.p.ID, f.assigned.ID)
		require.NoError(t, err)
		require.NoError(t, e.m.RemovePlan(e.ctx, f.p.ID, f.assigned.ID))
		g := f.assigned
		_, err = e.m.UpdatePlan(e.ctx, g.ID, serviceplan.Patch{Enabled: &off})
		require.NoError(t, err)
		_, err = e.m.AssignPlan(e.ctx, f.p.ID, g.ID)
		requireErr(t, err, partner.ErrPlanDisabled, "service plan")

		catalog, total, err := e.m.Audit(e.ctx, 0, partner.Page{Limit: 1})
		require.NoError(t, err)
		require.Positive(t, total)
		require.Equal(t, partner.OpUpdatePlan, catalog[0].Action)
	})
}

func TestAccountsLastAdministrator(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		other := e.fixture(t, partner.MSP, partner.Active)
		id, admin := f.p.ID, f.admin.ID
		_, err := e.m.AddAccount(e.ctx, id, account.Params{Name: other.admin.Name, FirstName: "X", LastName: "Y",
			Email: "x@example.com", Role: account.LicenseManager})
		requireErr(t, err, partner.ErrDuplicate, "account name")
		_, err = e.m.AddAccount(e.ctx, id, account.Params{Name: "ok.name", FirstName: "X", LastName: "Y",
			Email: "x@example.com", Role: "overlord"})
		requireErr(t, err, partner.ErrInvalid, "role")

		requireErr(t, e.m.DeleteAccount(e.ctx, id, admin), partner.ErrLastAdministrator, "account")
		_, err = e.m.ChangeRole(e.ctx, id, admin, 0, account.SupportEngineer)
		requireErr(t, err, partner.ErrLastAdministrator, "account")
		_, err = e.m.DisableAccount(e.ctx, id, admin, 0)
		requireErr(t, err, partner.ErrLastAdministrator, "account")
		_, err = e.m.ChangeRole(e.ctx, id, admin, 0, "god")
		requireErr(t, err, partner.ErrInvalid, "role")

		// A second administrator frees the first.
		second, err := e.m.ChangeRole(e.ctx, id, f.second.ID, f.second.Version, account.Administrator)
		require.NoError(t, err)
		_, err = e.m.ChangeRole(e.ctx, id, f.second.ID, f.second.Version, account.BillingManager)
		requireErr(t, err, partner.ErrConflict, "")
		_, err = e.m.DisableAccount(e.ctx, id, second.ID, second.Version)
		require.NoError(t, err)
		requireErr(t, e.m.DeleteAccount(e.ctx, id, admin), partner.ErrLastAdministrator, "account")
		_, err = e.m.EnableAccount(e.ctx, id, second.ID, 0)
		require.NoError(t, err)
		require.NoError(t, e.m.DeleteAccount(e.ctx, id, admin))

		// Someone else's account through this partner: not found, untouched.
		requireErr(t, e.m.DeleteAccount(e.ctx, id, other.second.ID), partner.ErrNotFound, "")
		_, err = e.m.ChangeRole(e.ctx, id, other.second.ID, 0, account.BillingManager)
		requireErr(t, err, partner.ErrNotFound, "")
		accts, _, err := e.m.Accounts(e.ctx, other.p.ID, partner.Page{Limit: partner.MaxLimit})
		require.NoError(t, err)
		require.Len(t, accts, 2)
	})
}

func TestResetPasswordHook(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		a, err := e.m.ResetPassword(e.ctx, f.p.ID, f.second.ID)
		require.NoError(t, err)
		require.Equal(t, t0, a.PasswordResetAt)
		require.Equal(t, []string{f.second.Name}, e.resets)

		_, err = e.m.DisableAccount(e.ctx, f.p.ID, f.second.ID, 0)
		require.NoError(t, err)
		_, err = e.m.ResetPassword(e.ctx, f.p.ID, f.second.ID)
		requireErr(t, err, partner.ErrInvalid, "account")

		// The hook runs after the commit: when it fails the reset stands,
		// recorded, and the error says so (ErrHook).
		failing := partner.NewManager(partner.Options{Store: e.m.Store(), Now: e.clock.Now,
			ResetPassword: func(context.Context, account.Account) error { return errors.New("mail server down") }})
		_, before, err := e.m.Audit(e.ctx, f.p.ID, partner.Page{})
		require.NoError(t, err)
		e.clock.Advance(time.Hour)
		_, err = failing.ResetPassword(e.ctx, f.p.ID, f.admin.ID)
		require.ErrorIs(t, err, partner.ErrHook)
		require.ErrorContains(t, err, "mail server down")
		_, after, err := e.m.Audit(e.ctx, f.p.ID, partner.Page{})
		require.NoError(t, err)
		require.Equal(t, before+1, after, "the committed reset is recorded")
		accts, _, err := e.m.Accounts(e.ctx, f.p.ID, partner.Page{Limit: partner.MaxLimit})
		require.NoError(t, err)
		require.Equal(t, t0.Add(time.Hour), accts[0].PasswordResetAt)

		none := partner.NewManager(partner.Options{Store: e.m.Store()})
		_, err = none.ResetPassword(e.ctx, f.p.ID, f.admin.ID)
		requireErr(t, err, partner.ErrNotConfigured, "")
	})
}

func TestHooksRunAfterCommitAndNeverUndo(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		var logs bytes.Buffer
		m := partner.NewManager(partner.Options{Store: e.m.Store(), Now: e.clock.Now,
			Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		var seen []partner.Event
		var sawCommitted atomic.Bool
		m.Subscribe(func(ctx context.Context, ev partner.Event) error {
			// The change is visible to a fresh read: the hook runs after commit.
			p, err := m.Get(ctx, ev.PartnerID)
			sawCommitted.Store(err == nil && p.Status == partner.Suspended)
			return errors.New("webhook unreachable")
		})
		m.Subscribe(func(context.Context, partner.Event) error { panic("buggy hook") })
		unsubscribe := m.Subscribe(func(_ context.Context, ev partner.Event) error { seen = append(seen, ev); return nil })

		p, err := m.Create(e.ctx, newPartnerInput("Acme", partner.MSP, "acme.admin"))
		require.NoError(t, err)
		_, err = m.Suspend(partner.WithActor(context.Background(), "alice"), p.ID, 0)
		require.NoError(t, err, "a failing hook does not fail the operation")
		require.True(t, sawCommitted.Load())
		got, err := m.Get(e.ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, partner.Suspended, got.Status, "a failing hook never undoes a commit")

		require.Len(t, seen, 2)
		want := partner.Event{Kind: partner.EventStatusChanged, Op: partner.OpSuspend, PartnerID: p.ID, Actor: "alice",
			At: t0, Target: "partner " + itoa(p.ID), Before: "Status: Active", After: "Status: Suspended",
			Changes: []partner.Change{{Field: "status", Label: "Status", Before: "Active", After: "Suspended",
				BeforeValue: json.RawMessage(`"active"`), AfterValue: json.RawMessage(`"suspended"`)}}}
		require.Greater(t, seen[1].ID, seen[0].ID, "hooks see the events' outbox ids")
		want.ID = seen[1].ID
		require.Empty(t, cmp.Diff(want, seen[1]))
		require.Contains(t, logs.String(), "webhook unreachable")
		require.Contains(t, logs.String(), "buggy hook")

		_, err = m.Suspend(e.ctx, p.ID, 0)
		require.Error(t, err)
		require.Len(t, seen, 2, "a failed operation publishes nothing")
		unsubscribe()
		_, err = m.Reactivate(e.ctx, p.ID, 0)
		require.NoError(t, err)
		require.Len(t, seen, 2, "unsubscribed hooks hear nothing")
	})
}

func TestRunInTxAllOrNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		e.resetEvents()
		err := e.m.RunInTx(e.ctx, func(ctx context.Context, tm *partner.Manager) error {
			if _, err := tm.AssignLicenses(ctx, f.p.ID, partner.AssignLicensesParams{Grants: []license.Grant{grant(10)}}); err != nil {
				return err
			}
			if _, err := tm.Suspend(ctx, f.p.ID, 0); err != nil {
				return err
			}
			// Refused by the guard: the partner is suspended inside this tx.
			_, err := tm.AddCustomer(ctx, f.p.ID, partner.CustomerParams{Name: "Late"})
			requireErr(t, err, partner.ErrSuspended, "")
			return nil // swallowing the error does not commit a half
		})
		requireErr(t, err, partner.ErrSuspended, "")
		got, err := e.m.Get(e.ctx, f.p.ID)
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(f.p, got), "nothing of the transaction was kept")
		require.Empty(t, e.eventKinds())

		err = e.m.RunInTx(e.ctx, func(ctx context.Context, tm *partner.Manager) error {
			if _, err := tm.AssignLicenses(ctx, f.p.ID, partner.AssignLicensesParams{Grants: []license.Grant{grant(10)}}); err != nil {
				return err
			}
			inner, err := tm.Get(ctx, f.p.ID)
			require.NoError(t, err)
			require.Equal(t, int64(110), inner.UnitsProvisioned, "reads inside see the transaction's writes")
			require.Empty(t, e.eventKinds(), "hooks wait for the commit")
			_, err = tm.Suspend(ctx, f.p.ID, 0)
			return err
		})
		require.NoError(t, err)
		require.Equal(t, []partner.EventKind{partner.EventLicensesAssigned, partner.EventStatusChanged}, e.eventKinds())
		got, err = e.m.Get(e.ctx, f.p.ID)
		require.NoError(t, err)
		require.Equal(t, partner.Suspended, got.Status)
		require.Equal(t, int64(110), got.UnitsProvisioned)
	})
}

func TestConcurrentAllocationNeverOverbooks(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		const k = 25
		ls, err := e.m.AssignLicenses(e.ctx, f.p.ID, partner.AssignLicensesParams{Grants: []license.Grant{grant(k)}})
		require.NoError(t, err)
		const workers = 64
		ok, short := storetest.Race(t, workers, partner.ErrInsufficientUnits, func() error {
			_, err := e.m.Allocate(e.ctx, f.p.ID, partner.AllocateParams{LicenseID: ls.Licenses[0].ID, CustomerID: f.customer.ID, Units: 1})
			return err
		})
		require.Equal(t, k, ok)
		require.Equal(t, workers-k, short)
		lics, _, err := e.m.Licenses(e.ctx, f.p.ID, partner.Page{})
		require.NoError(t, err)
		require.Equal(t, int64(k), lics[1].Used)
		allocs, err := e.m.Allocations(e.ctx, f.p.ID)
		require.NoError(t, err)
		require.Len(t, allocs, k+1, "one allocation per success, plus the fixture's")
	})
}

func TestListAndPaging(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		for i, name := range []string{"Alpha", "Beta", "alphabet", "Gamma"} {
			typ := partner.MSP
			if i%2 == 1 {
				typ = partner.Reseller
			}
			_, err := e.m.Create(e.ctx, newPartnerInput(name, typ, "admin"+itoa(int64(i))))
			require.NoError(t, err)
		}
		ps, total, err := e.m.List(e.ctx, partner.Filter{Name: "ALPHA"})
		require.NoError(t, err)
		require.Equal(t, 2, total)
		require.Equal(t, "alphabet", ps[1].Profile.CompanyName)
		_, _, err = e.m.List(e.ctx, partner.Filter{Page: partner.Page{Limit: partner.MaxLimit + 1}})
		requireErr(t, err, partner.ErrInvalid, "limit")
		_, _, err = e.m.List(e.ctx, partner.Filter{Page: partner.Page{Offset: -1}})
		requireErr(t, err, partner.ErrInvalid, "offset")
		_, _, err = e.m.List(e.ctx, partner.Filter{Status: "zombie"})
		requireErr(t, err, partner.ErrInvalid, "status")
		_, _, err = e.m.List(e.ctx, partner.Filter{Type: "vendor"})
		requireErr(t, err, partner.ErrInvalid, "type")
		ps, total, err = e.m.List(e.ctx, partner.Filter{Type: partner.Reseller, Page: partner.Page{Limit: 1, Offset: 1}})
		require.NoError(t, err)
		require.Equal(t, 2, total)
		require.Equal(t, "Gamma", ps[0].Profile.CompanyName)
		_, err = e.m.Get(e.ctx, 12345)
		requireErr(t, err, partner.ErrNotFound, "")
	})
}

func TestZeroConfigManager(t *testing.T) {
	m := partner.NewManager(partner.Options{})
	p, err := m.Create(context.Background(), newPartnerInput("Zero", partner.MSP, "zero.admin"))
	require.NoError(t, err)
	audit, _, err := m.Audit(context.Background(), p.ID, partner.Page{})
	require.NoError(t, err)
	require.Equal(t, partner.SystemActor, audit[0].Actor, "no actor in the context records the system")
	require.WithinDuration(t, time.Now(), p.CreatedAt, time.Minute)
}

// License and Customer read one record of the partner; another partner's,
// or one of a partner that does not exist, is not found.
func TestReadOneLicenceAndCustomer(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		other := e.fixture(t, partner.Reseller, partner.Active)
		l, err := e.m.License(e.ctx, f.p.ID, f.lic.ID)
		require.NoError(t, err)
		require.Equal(t, f.lic.ID, l.ID)
		c, err := e.m.Customer(e.ctx, f.p.ID, f.customer.ID)
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(f.customer, c))
		_, err = e.m.License(e.ctx, other.p.ID, f.lic.ID)
		requireErr(t, err, partner.ErrNotFound, "")
		_, err = e.m.Customer(e.ctx, other.p.ID, f.customer.ID)
		requireErr(t, err, partner.ErrNotFound, "")
		_, err = e.m.License(e.ctx, 999999, f.lic.ID)
		requireErr(t, err, partner.ErrNotFound, "")
		_, err = e.m.Customer(e.ctx, f.p.ID, 999999)
		requireErr(t, err, partner.ErrNotFound, "")
	})
}
