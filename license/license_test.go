package license_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
)

var day = 24 * time.Hour

func validGrant() license.Grant {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return license.Grant{Product: "Endpoint Security", UnitType: "seats", Units: 10,
		Kind: license.Full, Start: start, Expiry: start.Add(365 * day)}
}

func TestGrantValidateNamesField(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*license.Grant)
		field string
	}{
		{"valid", func(*license.Grant) {}, ""},
		{"empty product", func(g *license.Grant) { g.Product = "  " }, "product"},
		{"overlong product", func(g *license.Grant) { g.Product = string(make([]byte, 101)) }, "product"},
		{"control char", func(g *license.Grant) { g.UnitType = "seats\x00" }, "unit type"},
		{"zero units", func(g *license.Grant) { g.Units = 0 }, "units"},
		{"negative units", func(g *license.Grant) { g.Units = -3 }, "units"},
		{"absurd units", func(g *license.Grant) { g.Units = license.MaxUnits + 1 }, "units"},
		{"bad kind", func(g *license.Grant) { g.Kind = "paid" }, "kind"},
		{"no start", func(g *license.Grant) { g.Start = time.Time{} }, "start"},
		{"expiry before start", func(g *license.Grant) { g.Expiry = g.Start.Add(-day) }, "expiry"},
		{"expiry equals start", func(g *license.Grant) { g.Expiry = g.Start }, "expiry"},
		{"term too long", func(g *license.Grant) { g.Expiry = g.Start.Add(11 * 366 * day) }, "expiry"},
		{"year out of range", func(g *license.Grant) { g.Start = time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC) }, "start"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := validGrant()
			tc.edit(&g)
			err := g.Validate()
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

func TestStateAt(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	base := license.License{Units: 10, Used: 3, Start: now.Add(-100 * day), Expiry: now.Add(100 * day)}
	cases := map[string]struct {
		edit func(*license.License)
		want license.State
	}{
		"normal":                  {func(*license.License) {}, license.Normal},
		"expiring soon":           {func(l *license.License) { l.Expiry = now.Add(29 * day) }, license.ExpiringSoon},
		"expires exactly now":     {func(l *license.License) { l.Expiry = now }, license.Expired},
		"expired":                 {func(l *license.License) { l.Expiry = now.Add(-day) }, license.Expired},
		"exceeded":                {func(l *license.License) { l.Used = 11 }, license.Exceeded},
		"disabled beats expired":  {func(l *license.License) { l.Disabled = true; l.Expiry = now.Add(-day) }, license.Disabled},
		"expired beats exceeded":  {func(l *license.License) { l.Used = 11; l.Expiry = now.Add(-day) }, license.Expired},
		"exceeded beats expiring": {func(l *license.License) { l.Used = 11; l.Expiry = now.Add(day) }, license.Exceeded},
	}
	got := map[string]license.State{}
	want := map[string]license.State{}
	for name, tc := range cases {
		l := base
		tc.edit(&l)
		got[name] = l.StateAt(now, license.DefaultExpiringWindow)
		want[name] = tc.want
	}
	require.Empty(t, cmp.Diff(want, got))
	require.Equal(t, int64(7), base.Remaining())
}

// FuzzGrantValidate checks that Validate never panics, that every refusal
// names a field, and that an accepted grant really is within the limits.
func FuzzGrantValidate(f *testing.F) {
	f.Add("Endpoint Security", "seats", int64(10), "full", int64(0), int64(365))
	f.Add("", "seats", int64(0), "trial", int64(0), int64(-1))
	f.Add("P\x00", "u", int64(license.MaxUnits+1), "x", int64(-9000000), int64(5000))
	f.Fuzz(func(t *testing.T, product, unit string, units int64, kind string, startDays, termDays int64) {
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(startDays%400000) * day)
		g := license.Grant{Product: product, UnitType: unit, Units: units, Kind: license.Kind(kind),
			Start: start, Expiry: start.Add(time.Duration(termDays%400000) * day)}
		err := g.Validate()
		if err != nil {
			var fe fieldError
			require.True(t, errors.As(err, &fe))
			require.NotEmpty(t, fe.InvalidField())
			return
		}
		require.True(t, g.Units >= 1 && g.Units <= license.MaxUnits)
		require.True(t, g.Expiry.After(g.Start))
		require.True(t, g.Kind.Valid())
	})
}

func TestGrantValidateReportsEveryField(t *testing.T) {
	g := validGrant()
	g.Product, g.Units, g.Kind = "", 0, "gift"
	err := g.Validate()
	var fields []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe fieldError
		require.True(t, errors.As(e, &fe))
		fields = append(fields, fe.InvalidField())
	}
	require.Equal(t, []string{"product", "units", "kind"}, fields)
	var first fieldError
	require.True(t, errors.As(err, &first))
	require.Equal(t, "product", first.InvalidField(), "errors.As still finds the first")
}

func TestValidateKey(t *testing.T) {
	cases := []struct {
		name, key string
		reason    string // "" when valid
	}{
		{"empty means no idempotency", "", ""},
		{"plain", "po-2026-0042", ""},
		{"128 two-byte characters", strings.Repeat("é", license.MaxKeyLen), ""},
		{"inner space", "order 42", ""},
		{"129 characters", strings.Repeat("k", license.MaxKeyLen+1), "must be at most 128 characters (got 129)"},
		{"NUL", "k\x00ey", "must not contain control characters"},
		{"newline", "key\n2", "must not contain control characters"},
		{"invalid UTF-8", "k\xffey", "is not valid UTF-8"},
		{"leading space", " key", "must not begin or end with white space"},
		{"trailing tab-like space", "key\u00a0", "must not begin or end with white space"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := license.ValidateKey(tc.key)
			if tc.reason == "" {
				require.NoError(t, err)
				return
			}
			var fe fieldError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, license.KeyField, fe.InvalidField())
			require.Equal(t, tc.reason, fe.InvalidReason())
			require.ErrorIs(t, err, partner.ErrInvalid, "leaf validation wraps the library's sentinel")
		})
	}
}

// fieldError is what the package's validation errors offer: the field and
// what is wrong with it.
type fieldError interface {
	error
	InvalidField() string
	InvalidReason() string
}
