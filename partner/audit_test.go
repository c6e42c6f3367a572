package partner_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/partner/memstore"
	"github.com/partnerkit/partnerkit/serviceplan"
)

func TestAuditEntryRendering(t *testing.T) {
	str := func(s string) json.RawMessage { return json.RawMessage(`"` + s + `"`) }
	minimum := partner.Change{Field: "minimum_licenses", Label: "Minimum licences", Before: "20", After: "30",
		BeforeValue: json.RawMessage("20"), AfterValue: json.RawMessage("30")}
	status := partner.Change{Field: "status", Label: "Status", Before: "Active", After: "Suspended",
		BeforeValue: str("active"), AfterValue: str("suspended")}
	name := partner.Change{Field: "company_name", Label: "Company name", After: "Acme", AfterValue: str("Acme")}
	typ := partner.Change{Field: "type", Label: "Type", After: "MSP", AfterValue: str("msp")}
	role := partner.Change{Field: "role", Label: "Role", Before: "Administrator", BeforeValue: str("administrator")}
	email := partner.Change{Field: "email", Label: "Email", Before: "a@example.com", BeforeValue: str("a@example.com")}
	for _, tc := range []struct {
		name                   string
		changes                []partner.Change
		summary, before, after string
	}{
		{"changed", []partner.Change{minimum, status}, "Minimum licences: 20 → 30; Status: Active → Suspended",
			"Minimum licences: 20; Status: Active", "Minimum licences: 30; Status: Suspended"},
		{"created", []partner.Change{name, typ}, "created: Company name: Acme; Type: MSP", "", "Company name: Acme; Type: MSP"},
		{"deleted", []partner.Change{role, email}, "deleted: Role: Administrator; Email: a@example.com",
			"Role: Administrator; Email: a@example.com", ""},
		{"mixed", []partner.Change{status, name, role}, "Status: Active → Suspended; Company name: Acme; Role: Administrator → —",
			"Status: Active; Role: Administrator", "Status: Suspended; Company name: Acme"},
		{"nothing", nil, "—", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := partner.AuditEntry{Changes: tc.changes}
			require.Equal(t, []string{tc.summary, tc.before, tc.after}, []string{e.Summary(), e.Before(), e.After()})
		})
	}
	require.Equal(t, "Minimum licences: 20 → 30", minimum.String())
}

// TestAuditChangesAreStructured runs every kind of change and checks every
// audit entry it wrote: changes with a snake-case field, a label, and for
// each side either both a text and a JSON value or neither.
func TestAuditChangesAreStructured(t *testing.T) {
	field := regexp.MustCompile(`^[a-z]+(_[a-z]+)*$`)
	forEachStore(t, func(t *testing.T, e *env) {
		msp := e.fixture(t, partner.MSP, partner.Active)
		res := e.fixture(t, partner.Reseller, partner.Active)
		id := msp.p.ID
		must := func(_ any, err error) { t.Helper(); require.NoError(t, err) }
		city, url := "Paris", "https://acme.example/login"
		contacts := []partner.Contact{{FirstName: "Zoë", LastName: "Ωmega", Email: "zoe@example.com", Phone: "+33 1"}}
		must(e.m.UpdateProfile(e.ctx, id, partner.ProfilePatch{City: &city, SignInURL: &url, Contacts: &contacts}))
		must(e.m.SetPoolRefill(e.ctx, id, 0, true))
		must(e.m.SetMinimumLicenses(e.ctx, id, 0, 20))
		must(e.m.SetPoolSettings(e.ctx, id, 0, partner.PoolSettingsParams{Product: "Endpoint Security", Minimum: ptr[int64](3), Cap: 500}))
		must(e.m.ExtendLicense(e.ctx, id, msp.lic.ID, 0, msp.lic.Expiry.AddDate(0, 1, 0)))
		l, err := e.m.AddUnits(e.ctx, id, msp.lic.ID, msp.lic.Version+1, 5)
		require.NoError(t, err)
		must(e.m.ReduceUnits(e.ctx, id, l.ID, l.Version, 2))
		trial := grant(10)
		trial.Kind, trial.Expiry = license.Trial, t0.AddDate(0, 0, 10)
		assigned, err := e.m.AssignLicenses(e.ctx, id, partner.AssignLicensesParams{Key: "k1", Grants: []license.Grant{trial}})
		require.NoError(t, err)
		must(e.m.ConvertToFull(e.ctx, id, assigned.Licenses[0].ID, 0, t0.AddDate(1, 0, 0)))
		must(e.m.DisableLicenses(e.ctx, id, []int64{assigned.Licenses[0].ID}))
		must(e.m.EnableLicenses(e.ctx, id, []int64{assigned.Licenses[0].ID}))
		must(e.m.EnableRemoteManager(e.ctx, id, 0, serviceplan.JP))
		must(e.m.DisableRemoteManager(e.ctx, id, 0, serviceplan.JP))
		must(e.m.ChangeRole(e.ctx, id, msp.second.ID, 0, account.BillingManager))
		must(e.m.DisableAccount(e.ctx, id, msp.second.ID, 0))
		must(e.m.EnableAccount(e.ctx, id, msp.second.ID, 0))
		must(e.m.ResetPassword(e.ctx, id, msp.second.ID))
		require.NoError(t, e.m.DeleteAccount(e.ctx, id, msp.second.ID))
		require.NoError(t, e.m.Release(e.ctx, id, msp.alloc.ID))
		must(e.m.UpdatePlan(e.ctx, res.freePlan.ID, serviceplan.Patch{Enabled: ptr(false)}))
		require.NoError(t, e.m.RemovePlan(e.ctx, res.p.ID, res.assigned.ID))
		prod := e.products["Server Protection"]
		must(e.m.UpdateProduct(e.ctx, prod.ID, license.ProductPatch{Name: ptr("Server Shield")}))
		must(e.m.Suspend(e.ctx, id, 0))
		must(e.m.Reactivate(e.ctx, id, 0))
		must(e.m.Cancel(e.ctx, res.p.ID, 0))

		seen := map[partner.Operation]bool{}
		for _, pid := range []int64{0, msp.p.ID, res.p.ID} {
			entries, _, err := e.m.Audit(e.ctx, pid, partner.Page{Limit: partner.MaxLimit})
			require.NoError(t, err)
			for _, a := range entries {
				seen[a.Action] = true
				require.NotEmpty(t, a.Changes, "%s %s", a.Action, a.Target)
				for _, c := range a.Changes {
					require.Regexp(t, field, c.Field, "%s", a.Action)
					require.NotEmpty(t, c.Label, "%s %s", a.Action, c.Field)
					require.True(t, c.HasBefore() || c.HasAfter(), "%s %s has a side", a.Action, c.Field)
					require.Equal(t, c.HasBefore(), c.Before != "", "%s %s: a before text with its value", a.Action, c.Field)
					require.Equal(t, c.HasAfter(), c.After != "", "%s %s: an after text with its value", a.Action, c.Field)
					for _, v := range []json.RawMessage{c.BeforeValue, c.AfterValue} {
						require.True(t, len(v) == 0 || json.Valid(v), "%s %s: %s", a.Action, c.Field, v)
					}
				}
			}
		}
		for _, op := range []partner.Operation{partner.OpCreatePartner, partner.OpUpdateProfile, partner.OpSetPoolRefill,
			partner.OpSetMinimumLicenses, partner.OpSetPoolSettings, partner.OpExtendLicense, partner.OpAddUnits, partner.OpReduceUnits,
			partner.OpAssignLicenses, partner.OpConvertToFull, partner.OpDisableLicenses, partner.OpEnableLicenses,
			partner.OpEnableRemoteManager, partner.OpDisableRemoteManager, partner.OpAddAccount, partner.OpChangeRole,
			partner.OpDisableAccount, partner.OpEnableAccount, partner.OpResetPassword, partner.OpDeleteAccount,
			partner.OpAddCustomer, partner.OpAllocateUnits, partner.OpReleaseUnits, partner.OpCreatePlan, partner.OpUpdatePlan,
			partner.OpAssignPlan, partner.OpRemovePlan, partner.OpCreateProduct, partner.OpUpdateProduct, partner.OpSuspend,
			partner.OpReactivate, partner.OpCancel} {
			require.True(t, seen[op], "an entry of %s was checked", op)
		}

		entries, _, err := e.m.Audit(e.ctx, id, partner.Page{Limit: 30})
		require.NoError(t, err)
		summaries := map[partner.Operation]string{}
		for _, a := range entries {
			if _, ok := summaries[a.Action]; !ok {
				summaries[a.Action] = a.Summary()
			}
		}
		require.Equal(t, map[string]string{
			"reactivate":           "Status: Suspended → Active",
			"set_minimum_licenses": "Minimum licences: 0 → 20",
			"set_pool_refill":      "Licence pool refill: Off → On",
			"update_profile": "City: Lyon → Paris; Sign-in URL: (none) → https://acme.example/login; " +
				"Contacts: Ada Admin <admin1@example.com> → Zoë Ωmega <zoe@example.com> +33 1",
			"reset_password":  "Password reset: never → 2026-05-04 10:00 UTC",
			"convert_to_full": "Kind: Trial → Full; Expiry: 2026-05-14 → 2027-05-04",
			"delete_account":  "deleted: Contact: Sam Second; Email: sam@example.com; Role: Billing Manager; Enabled: Yes",
		}, map[string]string{
			"reactivate": summaries[partner.OpReactivate], "set_minimum_licenses": summaries[partner.OpSetMinimumLicenses],
			"set_pool_refill": summaries[partner.OpSetPoolRefill], "update_profile": summaries[partner.OpUpdateProfile],
			"reset_password": summaries[partner.OpResetPassword], "convert_to_full": summaries[partner.OpConvertToFull],
			"delete_account": summaries[partner.OpDeleteAccount],
		})
	})
}

func TestAuditLog(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		g := e.fixture(t, partner.Reseller, partner.Active)
		alice := partner.WithActor(e.ctx, "alice@vendor.example")
		e.clock.Advance(time.Hour)
		_, err := e.m.Suspend(alice, f.p.ID, 0)
		require.NoError(t, err)
		e.clock.Advance(time.Hour)
		_, err = e.m.SetMinimumLicenses(alice, g.p.ID, 0, 7)
		require.NoError(t, err)

		all, total, err := e.m.AuditLog(e.ctx, partner.AuditFilter{Page: partner.Page{Limit: partner.MaxLimit}})
		require.NoError(t, err)
		require.Equal(t, len(all), total)
		for i := 1; i < len(all); i++ {
			require.Greater(t, all[i-1].ID, all[i].ID, "newest first")
		}
		var partners []int64
		for _, a := range all {
			if !slices.Contains(partners, a.PartnerID) {
				partners = append(partners, a.PartnerID)
			}
		}
		require.ElementsMatch(t, []int64{f.p.ID, g.p.ID, 0}, partners, "every partner's entries and the catalogue's")

		byAlice, n, err := e.m.AuditLog(e.ctx, partner.AuditFilter{Actor: "alice@vendor.example"})
		require.NoError(t, err)
		require.Equal(t, 2, n)
		require.Equal(t, []partner.Operation{partner.OpSetMinimumLicenses, partner.OpSuspend}, []partner.Operation{byAlice[0].Action, byAlice[1].Action})
		_, n, err = e.m.AuditLog(e.ctx, partner.AuditFilter{Actor: "ALICE@vendor.example"})
		require.NoError(t, err)
		require.Zero(t, n, "the actor is compared exactly")
		paris := time.FixedZone("Paris", 2*3600)
		late, n, err := e.m.AuditLog(e.ctx, partner.AuditFilter{From: t0.Add(2 * time.Hour).In(paris)})
		require.NoError(t, err)
		require.Equal(t, 1, n, "from, in any zone, is inclusive")
		require.Equal(t, partner.OpSetMinimumLicenses, late[0].Action)
		_, n, err = e.m.AuditLog(e.ctx, partner.AuditFilter{To: t0.Add(time.Hour), Action: partner.OpSuspend})
		require.NoError(t, err)
		require.Zero(t, n, "to is exclusive")
		_, n, err = e.m.AuditLog(e.ctx, partner.AuditFilter{PartnerID: g.p.ID, Action: partner.OpSetMinimumLicenses})
		require.NoError(t, err)
		require.Equal(t, 1, n)
		global, n, err := e.m.AuditLog(e.ctx, partner.AuditFilter{Global: true})
		require.NoError(t, err)
		_, want, err := e.m.Audit(e.ctx, 0, partner.Page{})
		require.NoError(t, err)
		require.Equal(t, want, n)
		require.Zero(t, global[0].PartnerID)

		_, _, err = e.m.AuditLog(e.ctx, partner.AuditFilter{PartnerID: 9999})
		requireErr(t, err, partner.ErrNotFound, "")
		_, _, err = e.m.AuditLog(e.ctx, partner.AuditFilter{PartnerID: -1, From: t0, To: t0, Page: partner.Page{Limit: -1}})
		requireErr(t, err, partner.ErrInvalid, "partner")
		require.Equal(t, []string{"partner", "to", "limit"}, fieldNames(partner.FieldErrors(err)), "every problem at once")
		_, _, err = e.m.AuditLog(e.ctx, partner.AuditFilter{PartnerID: f.p.ID, Global: true})
		requireErr(t, err, partner.ErrInvalid, "partner")
	})
}

// TestAuditLogAllStreams: the export reads the log in batches, newest
// first, every entry once, and stops at the caller's break and at an
// error, which it yields once.
func TestAuditLogAllStreams(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		require.NoError(t, e.m.RunInTx(e.ctx, func(ctx context.Context, tm *partner.Manager) error {
			for i := range partner.ExportBatch + 20 {
				if _, err := tm.AddCustomer(ctx, f.p.ID, partner.CustomerParams{Name: fmt.Sprint("Customer ", i)}); err != nil {
					return err
				}
			}
			return nil
		}))
		want, total, err := e.m.AuditLog(e.ctx, partner.AuditFilter{PartnerID: f.p.ID, Page: partner.Page{Limit: partner.MaxLimit}})
		require.NoError(t, err)
		rest, _, err := e.m.AuditLog(e.ctx, partner.AuditFilter{PartnerID: f.p.ID, Page: partner.Page{Offset: partner.MaxLimit, Limit: partner.MaxLimit}})
		require.NoError(t, err)
		want = append(want, rest...)
		require.Len(t, want, total)
		require.Greater(t, total, partner.ExportBatch)

		var got []partner.AuditEntry
		for a, err := range e.m.AuditLogAll(e.ctx, partner.AuditFilter{PartnerID: f.p.ID, Page: partner.Page{Offset: -1, Limit: 1}}) {
			require.NoError(t, err)
			got = append(got, a)
		}
		require.Empty(t, cmp.Diff(want, got), "every entry once, newest first; the page is ignored")

		n := 0
		for range e.m.AuditLogAll(e.ctx, partner.AuditFilter{}) {
			if n++; n == 3 {
				break
			}
		}
		require.Equal(t, 3, n, "a break ends it")

		var errs []error
		for a, err := range e.m.AuditLogAll(e.ctx, partner.AuditFilter{PartnerID: 9999}) {
			require.Zero(t, a.ID)
			errs = append(errs, err)
		}
		require.Len(t, errs, 1)
		requireErr(t, errs[0], partner.ErrNotFound, "")
	})
}

// spyStore counts what the Manager reads through AuditBefore.
type spyStore struct {
	partner.Store
	mu              sync.Mutex
	reads, maxBatch int
}

type spyReader struct {
	partner.Reader
	s *spyStore
}

func (s *spyStore) View(ctx context.Context, fn func(context.Context, partner.Reader) error) error {
	return s.Store.View(ctx, func(ctx context.Context, r partner.Reader) error { return fn(ctx, spyReader{r, s}) })
}

func (r spyReader) AuditBefore(ctx context.Context, f partner.AuditFilter, before int64, limit int) ([]partner.AuditEntry, error) {
	out, err := r.Reader.AuditBefore(ctx, f, before, limit)
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	r.s.reads++
	r.s.maxBatch = max(r.s.maxBatch, len(out), limit)
	return out, err
}

// TestAuditLogAllReadsInBatches: the export holds at most ExportBatch
// entries at a time, one read per batch.
func TestAuditLogAllReadsInBatches(t *testing.T) {
	spy := &spyStore{Store: memstore.New()}
	e := newEnv(t, spy)
	f := e.fixture(t, partner.MSP, partner.Active)
	require.NoError(t, e.m.RunInTx(e.ctx, func(ctx context.Context, tm *partner.Manager) error {
		for i := range 3 * partner.ExportBatch {
			if _, err := tm.AddCustomer(ctx, f.p.ID, partner.CustomerParams{Name: fmt.Sprint("Customer ", i)}); err != nil {
				return err
			}
		}
		return nil
	}))
	n := 0
	for _, err := range e.m.AuditLogAll(e.ctx, partner.AuditFilter{}) {
		require.NoError(t, err)
		n++
	}
	_, total, err := e.m.AuditLog(e.ctx, partner.AuditFilter{})
	require.NoError(t, err)
	require.Equal(t, total, n)
	require.Equal(t, partner.ExportBatch, spy.maxBatch)
	require.Equal(t, total/partner.ExportBatch+1, spy.reads)
}
