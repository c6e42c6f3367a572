package account_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/account"
)

func validNew() account.Params {
	return account.Params{Name: "Ops.Admin", FirstName: "Ada", LastName: "Admin", Email: "ada@example.com", Role: account.Administrator}
}

func TestNewValidateNamesField(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*account.Params)
		field string
	}{
		{"valid", func(*account.Params) {}, ""},
		{"empty name", func(n *account.Params) { n.Name = " " }, "account name"},
		{"short name", func(n *account.Params) { n.Name = "ab" }, "account name"},
		{"long name", func(n *account.Params) { n.Name = strings.Repeat("a", 65) }, "account name"},
		{"space in name", func(n *account.Params) { n.Name = "ada admin" }, "account name"},
		{"leading dot", func(n *account.Params) { n.Name = ".ada" }, "account name"},
		{"empty first", func(n *account.Params) { n.FirstName = "" }, "first name"},
		{"long last", func(n *account.Params) { n.LastName = strings.Repeat("x", 101) }, "last name"},
		{"bad email", func(n *account.Params) { n.Email = "not-an-email" }, "email"},
		{"display name email", func(n *account.Params) { n.Email = "Ada <ada@example.com>" }, "email"},
		{"no dot domain", func(n *account.Params) { n.Email = "ada@localhost" }, "email"},
		{"empty email", func(n *account.Params) { n.Email = "" }, "email"},
		{"unknown role", func(n *account.Params) { n.Role = "root" }, "role"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := validNew()
			tc.edit(&n)
			n.Normalize()
			err := n.Validate()
			if tc.field == "" {
				require.NoError(t, err)
				require.Equal(t, "ops.admin", n.Name, "names are lower-cased")
				return
			}
			var fe fieldError
			require.True(t, errors.As(err, &fe), "want a field error, got %v", err)
			require.Equal(t, tc.field, fe.InvalidField())
		})
	}
}

func TestRoles(t *testing.T) {
	var labels []string
	for _, r := range account.Roles() {
		require.True(t, r.Valid())
		labels = append(labels, r.Label())
	}
	want := []string{"Administrator", "Partner Account Manager", "License Manager", "Support Manager",
		"Support Engineer", "Billing Manager", "Customer Account Manager"}
	require.Empty(t, cmp.Diff(want, labels))
	require.False(t, account.Role("owner").Valid())
}

// FuzzParamsValidate checks that Validate never panics, that every refusal
// names a field, and that accepted accounts satisfy the documented rules.
func FuzzParamsValidate(f *testing.F) {
	f.Add("ops.admin", "Ada", "Admin", "ada@example.com", "administrator")
	f.Add("", "", "", "", "")
	f.Add("A B", "\x01", "x", "a@b", "root")
	f.Fuzz(func(t *testing.T, name, first, last, email, role string) {
		n := account.Params{Name: name, FirstName: first, LastName: last, Email: email, Role: account.Role(role)}
		n.Normalize()
		err := n.Validate()
		if err != nil {
			var fe fieldError
			require.True(t, errors.As(err, &fe))
			require.NotEmpty(t, fe.InvalidField())
			return
		}
		require.True(t, len(n.Name) >= account.MinNameLen && len(n.Name) <= account.MaxNameLen)
		require.Equal(t, strings.ToLower(n.Name), n.Name)
		require.True(t, n.Role.Valid())
		require.Contains(t, n.Email, "@")
	})
}

func TestNewValidateReportsEveryField(t *testing.T) {
	err := account.Params{Name: "x", FirstName: "", LastName: "Ok", Email: "bad", Role: "root"}.Validate()
	var fields []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe fieldError
		require.True(t, errors.As(e, &fe))
		fields = append(fields, fe.InvalidField())
	}
	require.Equal(t, []string{"account name", "first name", "email", "role"}, fields)
}

// fieldError is what the package's validation errors offer: the field and
// what is wrong with it.
type fieldError interface {
	error
	InvalidField() string
	InvalidReason() string
}
