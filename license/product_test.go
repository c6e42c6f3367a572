package license_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
)

// fields lists the fields err reports, in order.
func fields(err error) []string {
	var out []string
	for _, f := range partner.FieldErrors(err) {
		out = append(out, f.Field)
	}
	return out
}

func TestProductNormalizeAndValidate(t *testing.T) {
	p := license.Product{Name: "  Endpoint Security ", UnitType: " Seats ", TrialDays: 30}
	p.Normalize()
	require.Equal(t, license.Product{Name: "Endpoint Security", UnitType: "seats"}, p, "trimmed, lower case, no trial days without a trial")
	require.NoError(t, p.Validate())

	cases := []struct {
		name   string
		p      license.Product
		fields []string
	}{
		{"valid with a trial", license.Product{Name: "Mail", UnitType: license.Users, TrialOffered: true, TrialDays: 365}, nil},
		{"valid devices", license.Product{Name: "Server", UnitType: license.Devices}, nil},
		{"every problem at once", license.Product{Name: " ", UnitType: "licences", TrialOffered: true}, []string{"name", "unit type", "trial days"}},
		{"overlong name", license.Product{Name: strings.Repeat("n", license.MaxTextLen+1), UnitType: license.Seats}, []string{"name"}},
		{"control character", license.Product{Name: "Bad\x07", UnitType: license.Seats}, []string{"name"}},
		{"trial too long", license.Product{Name: "P", UnitType: license.Seats, TrialOffered: true, TrialDays: 366}, []string{"trial days"}},
		{"days without a trial", license.Product{Name: "P", UnitType: license.Seats, TrialDays: 5}, []string{"trial days"}},
		{"unit type not lower-cased", license.Product{Name: "P", UnitType: "Seats"}, []string{"unit type"}},
	}
	for _, tc := range cases {
		err := tc.p.Validate()
		require.Equal(t, tc.fields, fields(err), tc.name)
		if err != nil {
			require.ErrorIs(t, err, partner.ErrInvalid, tc.name)
		}
	}
	require.Equal(t, []string{"seats", "users", "devices"}, license.UnitTypes())
}

func TestProductPatchApply(t *testing.T) {
	p := license.Product{ID: 3, Name: "Mail", UnitType: license.Users, TrialOffered: true, TrialDays: 14, Version: 2}
	name, off, days := "Mail Pro", false, 0
	got := license.ProductPatch{Name: &name, TrialOffered: &off, TrialDays: &days}.Apply(p)
	want := p
	want.Name, want.TrialOffered, want.TrialDays = "Mail Pro", false, 0
	require.Empty(t, cmp.Diff(want, got))
	require.Equal(t, p, license.ProductPatch{}.Apply(p), "an empty patch changes nothing")
}

// A grant with a catalogue product id may leave the product and unit type
// to the catalogue; a negative id is refused.
func TestGrantWithProductID(t *testing.T) {
	g := validGrant()
	g.ProductID, g.Product, g.UnitType = 4, "", ""
	require.NoError(t, g.Validate())
	g.ProductID = -1
	require.Equal(t, []string{"product"}, fields(g.Validate()))
	g.ProductID, g.UnitType = 4, "seats\x00"
	require.Equal(t, []string{"unit type"}, fields(g.Validate()), "a unit type given is checked")
}

func TestOriginLabels(t *testing.T) {
	for _, o := range []license.Origin{license.OriginAssigned, license.OriginRefill, license.OriginTopUp, license.OriginAutoRefill} {
		require.True(t, o.Valid(), o)
		require.NotEqual(t, string(o), o.Label(), "%s has a label", o)
	}
	require.False(t, license.Origin("gift").Valid())
}
