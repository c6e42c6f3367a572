package partner_test

// Regression tests for the defects TestModel found, one per defect, each
// on every store. They state the behaviour the library promises and fail
// until it is fixed.

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
)

// paddedGrant is a valid grant written the way a caller may: text with
// surrounding spaces, dates in another time zone with nanoseconds.
func paddedGrant() license.Grant {
	z := time.FixedZone("UTC+2", 2*60*60)
	return license.Grant{Product: "  Email Security ", UnitType: " seats ", Units: 5, Kind: license.Full,
		Start: t0.AddDate(0, -1, 0).In(z).Add(1234 * time.Nanosecond), Expiry: t0.AddDate(1, 0, 0).In(z).Add(789 * time.Nanosecond)}
}

// requireSameInput fails unless after is exactly before: same instants,
// same locations, same text.
func requireSameInput(t *testing.T, before, after any) {
	t.Helper()
	if d := inputDiff(before, after); d != "" {
		t.Fatalf("the call changed the caller's input (-before +after):\n%s", d)
	}
}

// Found by TestModel: AssignLicenses normalizes the caller's Grants slice in
// place (trims product and unit type, moves dates to UTC and truncates
// them), so the caller's own data changes under it.
func TestRegressAssignLicensesKeepsCallerGrants(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		p, err := e.m.Create(e.ctx, newPartnerInput("Grants Kept", partner.MSP, "grants.kept"))
		require.NoError(t, err)
		a := partner.Assignment{Key: "po-1", Grants: []license.Grant{paddedGrant()}}
		before := deepCopy(a)
		_, err = e.m.AssignLicenses(e.ctx, p.ID, a)
		require.NoError(t, err)
		requireSameInput(t, before, a)
	})
}

// Found by TestModel: Create normalizes the caller's Profile.Contacts and
// Licenses slices in place.
func TestRegressCreateKeepsCallerInput(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		in := newPartnerInput("Input Kept", partner.MSP, "input.kept")
		in.Profile.Contacts = []partner.Contact{{FirstName: " Bob ", LastName: " Stone ", Email: " bob@stone.example ", Phone: " +33 1 "}}
		in.Licenses = []license.Grant{paddedGrant()}
		before := deepCopy(in)
		_, err := e.m.Create(e.ctx, in)
		require.NoError(t, err)
		requireSameInput(t, before, in)
	})
}
