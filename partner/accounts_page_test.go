package partner_test

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/partner"
)

// Accounts are paged by id with the partner's total; an invalid page is
// refused naming its field; an unknown partner is ErrNotFound; Account
// reads one account of the partner only; and the last-Administrator check
// finds another Administrator beyond the first page of accounts.
func TestAccountsPagedAndLastAdministratorBeyondAPage(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		p, err := e.m.Create(e.ctx, newPartnerInput("Acme", partner.MSP, "acme.admin"))
		require.NoError(t, err)
		other, err := e.m.Create(e.ctx, newPartnerInput("Other", partner.MSP, "other.admin"))
		require.NoError(t, err)
		first, _, err := e.m.Accounts(e.ctx, p.ID, partner.Page{Limit: 1})
		require.NoError(t, err)
		admin := first[0]
		names := []string{admin.Name}
		for i := range partner.MaxLimit {
			a, err := e.m.AddAccount(e.ctx, p.ID, account.Params{Name: fmt.Sprintf("eng%03d.acme", i), FirstName: "E", LastName: "Ng",
				Email: "eng@example.com", Role: account.SupportEngineer})
			require.NoError(t, err)
			names = append(names, a.Name)
		}
		second, err := e.m.AddAccount(e.ctx, p.ID, account.Params{Name: "second.admin", FirstName: "S", LastName: "Ec",
			Email: "second@example.com", Role: account.Administrator})
		require.NoError(t, err)
		names = append(names, second.Name)

		var all []string
		for off := 0; ; off += partner.DefaultLimit {
			page, total, err := e.m.Accounts(e.ctx, p.ID, partner.Page{Offset: off})
			require.NoError(t, err)
			require.Equal(t, len(names), total)
			if len(page) == 0 {
				break
			}
			require.LessOrEqual(t, len(page), partner.DefaultLimit, "Limit 0 is DefaultLimit")
			for _, a := range page {
				all = append(all, a.Name)
			}
		}
		require.Empty(t, cmp.Diff(names, all))

		_, _, err = e.m.Accounts(e.ctx, p.ID, partner.Page{Limit: partner.MaxLimit + 1})
		requireErr(t, err, partner.ErrInvalid, "limit")
		_, _, err = e.m.Accounts(e.ctx, p.ID, partner.Page{Offset: -1})
		requireErr(t, err, partner.ErrInvalid, "offset")
		_, _, err = e.m.Accounts(e.ctx, 99999, partner.Page{})
		requireErr(t, err, partner.ErrNotFound, "")

		got, err := e.m.Account(e.ctx, p.ID, second.ID)
		require.NoError(t, err)
		require.Equal(t, "second.admin", got.Name)
		_, err = e.m.Account(e.ctx, other.ID, second.ID)
		requireErr(t, err, partner.ErrNotFound, "")

		// The other Administrator is the 502nd account: past the first page of MaxLimit.
		_, err = e.m.DisableAccount(e.ctx, p.ID, admin.ID, 0)
		require.NoError(t, err, "second.admin is still an enabled Administrator")
		_, err = e.m.DisableAccount(e.ctx, p.ID, second.ID, 0)
		requireErr(t, err, partner.ErrLastAdministrator, "account")
	})
}
