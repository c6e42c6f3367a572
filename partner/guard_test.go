package partner_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
)

// cells lists the six cells of a row of the matrix, in this order.
var cells = []struct {
	s partner.Status
	t partner.Type
}{
	{partner.Active, partner.MSP}, {partner.Active, partner.Reseller},
	{partner.Suspended, partner.MSP}, {partner.Suspended, partner.Reseller},
	{partner.Canceled, partner.MSP}, {partner.Canceled, partner.Reseller},
}

// expected is the whole guard matrix, written out by hand from the seed
// and DOMAIN.md rather than derived from the table under test. Columns:
// Active MSP, Active Reseller, Suspended MSP, Suspended Reseller,
// Canceled MSP, Canceled Reseller.
var expected = map[partner.Operation]string{
	partner.OpUpdateProfile: "ok     ok     ok     ok     cancel cancel",
	partner.OpSuspend:       "ok     ok     trans  trans  cancel cancel",
	partner.OpReactivate:    "trans  trans  ok     ok     cancel cancel",
	partner.OpCancel:        "ok     ok     ok     ok     cancel cancel",

	partner.OpSetPoolRefill:      "ok     ok     susp   susp   cancel cancel",
	partner.OpSetMinimumLicenses: "ok     ok     susp   susp   cancel cancel",
	partner.OpSetPoolSettings:    "ok     ok     susp   susp   cancel cancel",
	partner.OpAssignLicenses:     "ok     ok     susp   susp   cancel cancel",
	partner.OpDisableLicenses:    "ok     type   susp   type   cancel cancel",
	partner.OpEnableLicenses:     "ok     type   susp   type   cancel cancel",
	partner.OpExtendLicense:      "ok     ok     susp   susp   cancel cancel",
	partner.OpAddUnits:           "ok     ok     susp   susp   cancel cancel",
	partner.OpReduceUnits:        "ok     ok     susp   susp   cancel cancel",
	partner.OpConvertToFull:      "ok     ok     susp   susp   cancel cancel",
	partner.OpRefillPool:         "ok     ok     susp   susp   cancel cancel",

	partner.OpEnableRemoteManager:  "ok     type   susp   type   cancel cancel",
	partner.OpDisableRemoteManager: "ok     type   susp   type   cancel cancel",

	partner.OpAssignPlan: "type   ok     type   susp   cancel cancel",
	partner.OpRemovePlan: "type   ok     type   susp   cancel cancel",

	partner.OpAddAccount:     "ok     ok     susp   susp   cancel cancel",
	partner.OpChangeRole:     "ok     ok     susp   susp   cancel cancel",
	partner.OpEnableAccount:  "ok     ok     susp   susp   cancel cancel",
	partner.OpDisableAccount: "ok     ok     susp   susp   cancel cancel",
	partner.OpResetPassword:  "ok     ok     susp   susp   cancel cancel",
	partner.OpDeleteAccount:  "ok     ok     susp   susp   cancel cancel",

	partner.OpAddCustomer:   "ok     ok     susp   susp   cancel cancel",
	partner.OpAllocateUnits: "ok     ok     susp   susp   cancel cancel",
	partner.OpReleaseUnits:  "ok     ok     susp   susp   cancel cancel",
}

var outcomeOf = map[string]error{"ok": nil, "cancel": partner.ErrCanceled, "susp": partner.ErrSuspended,
	"type": partner.ErrWrongType, "trans": partner.ErrTransition}

func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	for name, kind := range outcomeOf {
		if kind != nil && partner.ErrorField(err) == "" && errors.Is(err, kind) {
			return name
		}
	}
	return "unexpected: " + err.Error()
}

func row(ops string) []string { return strings.Fields(ops) }

func TestGuardTableMatrix(t *testing.T) {
	require.ElementsMatch(t, partner.Operations(), slices.Collect(maps.Keys(expected)), "every operation has a row, and only those")
	got := map[string]string{}
	want := map[string]string{}
	for _, op := range partner.Operations() {
		for i, c := range cells {
			key := fmt.Sprintf("%s/%s/%s", op, c.s, c.t)
			want[key] = row(expected[op])[i]
			err := partner.Check(c.s, c.t, op)
			got[key] = outcome(err)
			if err != nil {
				require.NotEmpty(t, partner.ErrorReason(err), "a refusal explains itself: %s", key)
			}
		}
	}
	require.Len(t, want, 3*2*len(expected))
	require.Empty(t, cmp.Diff(want, got))

	require.ErrorIs(t, partner.Check(partner.Active, partner.MSP, "fly"), partner.ErrInvalid)
}

func TestApplies(t *testing.T) {
	got := map[string]bool{}
	for _, op := range partner.Operations() {
		for _, typ := range partner.Types() {
			got[fmt.Sprintf("%s/%s", op, typ)] = partner.Applies(typ, op)
		}
	}
	// An operation applies to a type unless the matrix says "type" for
	// it in the Active column of that type.
	want := map[string]bool{}
	for op, row := range expected {
		cellsOf := strings.Fields(row)
		want[fmt.Sprintf("%s/%s", op, partner.MSP)] = cellsOf[0] != "type"
		want[fmt.Sprintf("%s/%s", op, partner.Reseller)] = cellsOf[1] != "type"
	}
	require.Empty(t, cmp.Diff(want, got))
	require.False(t, partner.Applies(partner.MSP, "fly"))
}

func TestGuardReasons(t *testing.T) {
	cases := map[string]struct {
		s    partner.Status
		t    partner.Type
		op   partner.Operation
		want string
	}{
		"canceled":  {partner.Canceled, partner.MSP, partner.OpUpdateProfile, "the partnership is canceled: nothing can be changed"},
		"suspended": {partner.Suspended, partner.MSP, partner.OpAssignLicenses, "the partnership is suspended: only the Profile can be changed"},
		"msp only":  {partner.Active, partner.Reseller, partner.OpDisableLicenses, "Disable Licenses is for MSP partners only"},
		"enable":    {partner.Active, partner.Reseller, partner.OpEnableLicenses, "Enable Licenses is for MSP partners only"},
		"refill":    {partner.Suspended, partner.Reseller, partner.OpRefillPool, "the partnership is suspended: only the Profile can be changed"},
		"rs only":   {partner.Active, partner.MSP, partner.OpAssignPlan, "Assign Service Plan is for Reseller partners only"},
		"already":   {partner.Active, partner.MSP, partner.OpReactivate, "the partnership is already active"},
	}
	for name, tc := range cases {
		require.Equal(t, tc.want, partner.ErrorReason(partner.Check(tc.s, tc.t, tc.op)), name)
	}
}

func TestTabs(t *testing.T) {
	want := map[partner.Type][]partner.Tab{
		partner.MSP:      {partner.TabLicenses, partner.TabCustomers, partner.TabManagementLicenses, partner.TabAccounts, partner.TabProfile},
		partner.Reseller: {partner.TabLicenses, partner.TabCustomers, partner.TabServicePlans, partner.TabAccounts, partner.TabProfile},
	}
	got := map[partner.Type][]partner.Tab{}
	for _, typ := range partner.Types() {
		got[typ] = partner.Tabs(typ)
	}
	require.Empty(t, cmp.Diff(want, got))
	require.Equal(t, partner.TabManagementLicenses, partner.OperationTab(partner.OpEnableRemoteManager))
	require.Equal(t, "Management Licenses", partner.TabManagementLicenses.Label())
}

// invoke calls the Manager operation op on the fixture, as a host would.
func invoke(e *env, f fixture, op partner.Operation) error {
	ctx, m, id := e.ctx, e.m, f.p.ID
	city := "Grenoble"
	var err error
	switch op {
	case partner.OpUpdateProfile:
		_, err = m.UpdateProfile(ctx, id, partner.ProfilePatch{City: &city})
	case partner.OpSuspend:
		_, err = m.Suspend(ctx, id, 0)
	case partner.OpReactivate:
		_, err = m.Reactivate(ctx, id, 0)
	case partner.OpCancel:
		_, err = m.Cancel(ctx, id, 0)
	case partner.OpSetPoolRefill:
		_, err = m.SetPoolRefill(ctx, id, 0, true)
	case partner.OpSetMinimumLicenses:
		_, err = m.SetMinimumLicenses(ctx, id, 0, 10)
	case partner.OpAssignLicenses:
		_, err = m.AssignLicenses(ctx, id, partner.AssignLicensesParams{Grants: []license.Grant{grant(5)}})
	case partner.OpDisableLicenses:
		_, err = m.DisableLicenses(ctx, id, []int64{f.lic.ID})
	case partner.OpEnableLicenses:
		_, err = m.EnableLicenses(ctx, id, []int64{f.lic.ID})
	case partner.OpSetPoolSettings:
		_, err = m.SetPoolSettings(ctx, id, 0, partner.PoolSettingsParams{Product: "endpoint security", Cap: 500})
	case partner.OpExtendLicense:
		_, err = m.ExtendLicense(ctx, id, f.lic.ID, 0, f.lic.Expiry.AddDate(0, 1, 0))
	case partner.OpAddUnits:
		_, err = m.AddUnits(ctx, id, f.lic.ID, f.lic.Version, 5)
	case partner.OpReduceUnits:
		_, err = m.ReduceUnits(ctx, id, f.lic.ID, f.lic.Version, 5)
	case partner.OpConvertToFull:
		_, err = m.ConvertToFull(ctx, id, f.lic.ID, 0, f.lic.Expiry.AddDate(0, 2, 0))
	case partner.OpRefillPool:
		if f.p.Status == partner.Active { // a pool the partner may refill: refill on, depleted, with a cap
			e.depletedPool(f, "Email Security", 5, 20)
		}
		_, err = m.RefillPool(ctx, id, partner.RefillPoolParams{Product: "Email Security"})
	case partner.OpEnableRemoteManager:
		_, err = m.EnableRemoteManager(ctx, id, 0, f.freshDCArg)
	case partner.OpDisableRemoteManager:
		_, err = m.DisableRemoteManager(ctx, id, 0, f.remoteDC)
	case partner.OpAssignPlan:
		_, err = m.AssignPlan(ctx, id, f.freePlan.ID)
	case partner.OpRemovePlan:
		err = m.RemovePlan(ctx, id, f.assigned.ID)
	case partner.OpAddAccount:
		_, err = m.AddAccount(ctx, id, account.Params{Name: fmt.Sprintf("new%d", e.uniq()), FirstName: "N", LastName: "N",
			Email: "n@example.com", Role: account.LicenseManager})
	case partner.OpChangeRole:
		_, err = m.ChangeRole(ctx, id, f.second.ID, 0, account.BillingManager)
	case partner.OpEnableAccount:
		_, err = m.EnableAccount(ctx, id, f.second.ID, 0)
	case partner.OpDisableAccount:
		_, err = m.DisableAccount(ctx, id, f.second.ID, 0)
	case partner.OpResetPassword:
		_, err = m.ResetPassword(ctx, id, f.second.ID)
	case partner.OpDeleteAccount:
		err = m.DeleteAccount(ctx, id, f.second.ID)
	case partner.OpAddCustomer:
		_, err = m.AddCustomer(ctx, id, partner.CustomerParams{Name: "New customer"})
	case partner.OpAllocateUnits:
		_, err = m.Allocate(ctx, id, partner.AllocateParams{LicenseID: f.lic.ID, CustomerID: f.customer.ID, Units: 1})
	case partner.OpReleaseUnits:
		err = m.Release(ctx, id, f.alloc.ID)
	default:
		return fmt.Errorf("no invocation for %s", op)
	}
	return err
}

// TestManagerEnforcesGuardMatrix calls every operation of the Manager on a
// partner of every status and type: each cell has the outcome the matrix
// says, and a refused call changes nothing (same version, same audit).
func TestManagerEnforcesGuardMatrix(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		got := map[string]string{}
		want := map[string]string{}
		for _, op := range partner.Operations() {
			for i, c := range cells {
				key := fmt.Sprintf("%s/%s/%s", op, c.s, c.t)
				want[key] = row(expected[op])[i]
				f := e.fixture(t, c.t, c.s)
				_, auditBefore, err := e.m.Audit(e.ctx, f.p.ID, partner.Page{})
				require.NoError(t, err)
				err = invoke(e, f, op)
				got[key] = outcome(err)
				if err != nil {
					after, err2 := e.m.Get(e.ctx, f.p.ID)
					require.NoError(t, err2)
					require.Empty(t, cmp.Diff(f.p, after), "refused %s changed the partner", key)
					_, auditAfter, err2 := e.m.Audit(e.ctx, f.p.ID, partner.Page{})
					require.NoError(t, err2)
					require.Equal(t, auditBefore, auditAfter, "refused %s left an audit entry", key)
					var pe *partner.Error
					require.ErrorAs(t, err, &pe)
					require.Equal(t, op, pe.Op)
				}
			}
		}
		require.Empty(t, cmp.Diff(want, got))
	})
}
