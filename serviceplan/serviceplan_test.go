package serviceplan_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/serviceplan"
)

func validPlan() serviceplan.Plan {
	return serviceplan.Plan{Name: "Endpoint Full 12m", Enabled: true, Product: "Endpoint Security",
		Kind: serviceplan.Full, UnitType: "seats", DataCenter: serviceplan.EU, InitialPeriodMonths: 12,
		AutoRenew: true, ExpiryNoticeDays: 30}
}

func TestPlanValidateNamesField(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*serviceplan.Plan)
		field string
	}{
		{"valid", func(*serviceplan.Plan) {}, ""},
		{"lower-case data center is normalized", func(p *serviceplan.Plan) { p.DataCenter = "eu" }, ""},
		{"empty name", func(p *serviceplan.Plan) { p.Name = "" }, "name"},
		{"long name", func(p *serviceplan.Plan) { p.Name = strings.Repeat("n", 101) }, "name"},
		{"empty product", func(p *serviceplan.Plan) { p.Product = "\t" }, "product"},
		{"bad kind", func(p *serviceplan.Plan) { p.Kind = "free" }, "kind"},
		{"empty unit", func(p *serviceplan.Plan) { p.UnitType = "" }, "unit type"},
		{"unknown data center", func(p *serviceplan.Plan) { p.DataCenter = "MARS" }, "data center"},
		{"zero period", func(p *serviceplan.Plan) { p.InitialPeriodMonths = 0 }, "initial period"},
		{"long period", func(p *serviceplan.Plan) { p.InitialPeriodMonths = 121 }, "initial period"},
		{"negative notice", func(p *serviceplan.Plan) { p.ExpiryNoticeDays = -1 }, "expiry notice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := validPlan()
			tc.edit(&p)
			p.Normalize()
			err := p.Validate()
			if tc.field == "" {
				require.NoError(t, err)
				return
			}
			var fe fieldError
			require.True(t, errors.As(err, &fe), "want a field error, got %v", err)
			require.Equal(t, tc.field, fe.InvalidField())
		})
	}
}

func TestDataCenters(t *testing.T) {
	var codes []string
	for _, d := range serviceplan.DataCenters() {
		require.True(t, d.Valid())
		require.NotEqual(t, string(d), d.Label())
		codes = append(codes, string(d))
	}
	require.Empty(t, cmp.Diff([]string{"US", "CA", "UK", "EU", "SG", "JP", "IN", "AU"}, codes))
	d, err := serviceplan.ParseDataCenter(" jp ")
	require.NoError(t, err)
	require.Equal(t, serviceplan.JP, d)
	_, err = serviceplan.ParseDataCenter("XX")
	var fe fieldError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, "data center", fe.InvalidField())
}

func TestPatchApply(t *testing.T) {
	name, enabled, notice := "Renamed", false, 7
	got := serviceplan.Patch{Name: &name, Enabled: &enabled, ExpiryNoticeDays: &notice}.Apply(validPlan())
	want := validPlan()
	want.Name, want.Enabled, want.ExpiryNoticeDays = "Renamed", false, 7
	require.Empty(t, cmp.Diff(want, got))
}

// FuzzPlanValidate checks that Validate never panics, that every refusal
// names a field, and that accepted plans are within the documented limits.
func FuzzPlanValidate(f *testing.F) {
	f.Add("Plan", "Product", "full", "seats", "EU", 12, 30)
	f.Add("", "", "", "", "", 0, -1)
	f.Add("x\x7f", "p", "trial", "u", "mars", 121, 366)
	f.Fuzz(func(t *testing.T, name, product, kind, unit, dc string, period, notice int) {
		p := serviceplan.Plan{Name: name, Product: product, Kind: serviceplan.Kind(kind), UnitType: unit,
			DataCenter: serviceplan.DataCenter(dc), InitialPeriodMonths: period, ExpiryNoticeDays: notice}
		p.Normalize()
		err := p.Validate()
		if err != nil {
			var fe fieldError
			require.True(t, errors.As(err, &fe))
			require.NotEmpty(t, fe.InvalidField())
			return
		}
		require.True(t, p.DataCenter.Valid())
		require.True(t, p.InitialPeriodMonths >= 1 && p.InitialPeriodMonths <= serviceplan.MaxInitialPeriod)
		require.True(t, p.ExpiryNoticeDays >= 0 && p.ExpiryNoticeDays <= serviceplan.MaxExpiryNoticeDays)
	})
}

// fieldError is what the package's validation errors offer: the field and
// what is wrong with it.
type fieldError interface {
	error
	InvalidField() string
	InvalidReason() string
}
