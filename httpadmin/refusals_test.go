package httpadmin_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
)

// usedKey assigns licences to the MSP under the key "k-used".
func usedKey(t *testing.T, w *world) {
	t.Helper()
	_, err := w.m.AssignLicenses(context.Background(), w.msp.ID, partner.AssignLicensesParams{Key: "k-used", Grants: []license.Grant{{
		Product: "Endpoint Security", UnitType: "seats", Units: 5, Kind: license.Full,
		Start: time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), Expiry: time.Date(2027, 5, 1, 0, 0, 0, 0, time.UTC)}}})
	require.NoError(t, err)
}

// A 422 answered "Please correct the highlighted fields." with nothing
// highlighted. Every refusal says what is wrong in words: next to the
// field when there is one, in the message area always.
func TestRefusalsSayWhy(t *testing.T) {
	assign := func(key, units string) map[string][]string {
		return form("full-1", units, "start-1", "2026-05-01", "expiry-1", "2027-05-01", "key", key)
	}
	long := strings.Repeat("k", 200)
	runScenarios(t, []scenario{
		{name: "disable with no licence ticked", method: "POST", path: "/{msp}/licenses/disable", hx: true, form: form("confirm", "yes"), status: 422, unchanged: true,
			want:    []string{`role="alert"`, "Nothing was changed. Licenses: select at least one licence.", `<p class="field-error" id="disable-err">Select at least one licence.</p>`},
			notWant: []string{"highlighted"}},
		{name: "disable with no licence ticked, without JavaScript", method: "POST", path: "/{msp}/licenses/disable", form: form(), status: 422, unchanged: true,
			want: []string{"Licenses: select at least one licence."}, notWant: []string{`name="confirm" value="yes"`}},
		{name: "unknown role", method: "POST", path: "/{msp}/accounts/{user}/role", hx: true, form: form("role", "wizard", "version", "1"), status: 422, unchanged: true,
			want:    []string{`Role is not a built-in role (got &#34;wizard&#34;).`, `aria-invalid="true" aria-describedby="role-{user}-err"`, `<p class="field-error" id="role-{user}-err">Role is not a built-in role`},
			notWant: []string{"highlighted"}},
		{name: "unknown role of a new account", method: "POST", path: "/{msp}/accounts/add", hx: true, status: 422, unchanged: true,
			form: form("account", "acme.new", "first_name", "N", "last_name", "Ew", "email", "new@example.com", "role", "wizard"),
			want: []string{`aria-describedby="n-role-err"`, `id="n-role-err"`, "Nothing was changed. Role "}},
		{name: "one problem is said in the message area", method: "POST", path: "/{msp}/licenses/assign", hx: true, form: assign("k-1", "-2"), status: 422, unchanged: true,
			want: []string{"Nothing was changed. Endpoint Security full units must be at least 1", `id="assign-full-1-err"`}},
		{name: "nothing entered says so", method: "POST", path: "/{msp}/licenses/assign", hx: true, form: assign("k-1", ""), status: 422, unchanged: true,
			want: []string{"Nothing was changed. Licenses: enter Trial or Full units of at least one product."}},
		{name: "several problems are listed", method: "POST", path: "/{msp}/licenses/assign", hx: true, status: 422, unchanged: true,
			form: form("full-1", "-3", "start-1", "2026-05-01", "expiry-1", "2027-05-01", "key", "k-2", "trial-3", "5", "start-3", "2026-05-01"),
			want: []string{"Nothing was changed. Please correct these 3 fields:", "<li>Endpoint Security full units must be at least 1 (got -3).</li><li>Server Protection trial units: Server Protection offers no trial.</li>"}},
		{name: "a reused key gets a fresh one", method: "POST", path: "/{msp}/licenses/assign", hx: true, setup: usedKey, form: assign("k-used", "6"), status: 422, unchanged: true,
			want:    []string{"Nothing was changed. This form was already used for a different assignment; it now has a new key: check the licenses, then submit it again.", `name="full-1" id="assign-full-1" value="6"`},
			notWant: []string{`name="key" value="k-used"`, "highlighted"}},
		{name: "an over-long key gets a fresh one", method: "POST", path: "/{msp}/licenses/assign", hx: true, form: assign(long, "6"), status: 422, unchanged: true,
			want:    []string{"Nothing was changed. This form had a key that cannot be used (the key must be at most 128 characters (got 200)); it now has a new key: submit it again."},
			notWant: []string{`value="` + long + `"`}},
		{name: "a replayed assignment assigns nothing more", method: "POST", path: "/{msp}/licenses/assign", hx: true, setup: usedKey, form: assign("k-used", "5"), status: 200, unchanged: true,
			want: []string{"These licenses were already assigned by this form; nothing more was assigned."}, notWant: []string{"Licenses assigned."}},
		{name: "a confirmation typed wrong says so", method: "POST", path: "/{msp}/cancel", form: form("confirm_name", "acme"), status: 422, unchanged: true,
			want: []string{"Nothing was changed. Confirmation must be the company name, exactly as shown.", `id="confirm-err"`}},
	})
}

// The fresh key after a refused reuse lets the operator's next submit
// succeed.
func TestRefusedKeyCanBeSubmittedAgain(t *testing.T) {
	w := newWorld(t)
	usedKey(t, w)
	f := form("full-1", "6", "start-1", "2026-05-01", "expiry-1", "2027-05-01", "key", "k-used")
	refused := w.do("POST", "/{msp}/licenses/assign", true, f, nil)
	require.Equal(t, 422, refused.Code)
	key := regexp.MustCompile(`name="key" value="([^"]+)"`).FindStringSubmatch(refused.Body.String())
	require.NotNil(t, key)
	f.Set("key", key[1])
	again := w.do("POST", "/{msp}/licenses/assign", true, f, nil)
	require.Equal(t, 200, again.Code, again.Body.String())
	require.Contains(t, again.Body.String(), "Licenses assigned.")
}
