package partner_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/partner"
)

func TestErrorFormatsAndUnwraps(t *testing.T) {
	e := &partner.Error{Op: partner.OpAddAccount, Kind: partner.ErrDuplicate, Field: "account name", Reason: `"x" is already taken`}
	require.Equal(t, `add_account: account name "x" is already taken: already exists`, e.Error())
	require.ErrorIs(t, e, partner.ErrDuplicate)
	require.NotErrorIs(t, e, partner.ErrInvalid)
	cause := errors.New("disk full")
	wrapped := &partner.Error{Op: partner.OpCancel, Err: cause}
	require.Equal(t, "cancel: disk full", wrapped.Error())
	require.ErrorIs(t, wrapped, cause)
	require.Equal(t, "", partner.ErrorField(cause))
	require.Equal(t, "disk full", partner.ErrorReason(cause))
}

// FuzzProfileValidate checks that Validate never panics, that a refusal
// always names a field, and that an accepted profile satisfies the rules.
func FuzzProfileValidate(f *testing.F) {
	f.Add("Acme", "Lyon", "", "France", "Ada", "Admin", "ada@example.com", "https://acme.example.com")
	f.Add("", "", "", "", "", "", "", "")
	f.Add("<script>", "x\x00", "s", "c", "a", "b", "not-mail", "javascript:alert(1)")
	f.Fuzz(func(t *testing.T, company, city, state, country, first, last, email, url string) {
		p := partner.Profile{CompanyName: company, City: city, State: state, Country: country, SignInURL: url,
			Contacts: []partner.Contact{{FirstName: first, LastName: last, Email: email}}}
		p.Normalize()
		err := p.Validate()
		if err != nil {
			require.ErrorIs(t, err, partner.ErrInvalid)
			require.NotEmpty(t, partner.ErrorField(err))
			return
		}
		require.NotEmpty(t, strings.TrimSpace(p.CompanyName))
		require.NotEmpty(t, strings.TrimSpace(p.City))
		require.NotEmpty(t, strings.TrimSpace(p.Country))
		if p.SignInURL != "" {
			require.True(t, strings.HasPrefix(p.SignInURL, "http://") || strings.HasPrefix(p.SignInURL, "https://"))
		}
	})
}
