package partner

import (
	"context"
	"fmt"
	"strings"

	"github.com/partnerkit/partnerkit/account"
)

// AddAccount adds a console account to the partner. The account name is
// unique across the whole channel (ErrDuplicate) and never changes.
func (m *Manager) AddAccount(ctx context.Context, partnerID int64, in account.Params) (account.Account, error) {
	var out account.Account
	err := m.partnerChange(ctx, partnerID, OpAddAccount, 0, func(ctx context.Context, tx Tx, p *Partner, c *changes) error {
		in := in
		in.Normalize()
		if err := in.Validate(); err != nil {
			return err
		}
		a := account.Account{PartnerID: p.ID, Name: in.Name, FirstName: in.FirstName, LastName: in.LastName,
			Email: in.Email, Role: in.Role, Enabled: true, CreatedAt: c.at, UpdatedAt: c.at}
		if err := tx.CreateAccount(ctx, &a); err != nil {
			return err
		}
		out = a
		return c.record(ctx, tx, p.ID, OpAddAccount, "account "+a.Name, accountChanges(a, false))
	})
	return out, err
}

// accountChanges are the audit changes of an account added, or deleted
// when gone.
func accountChanges(a account.Account, gone bool) []Change {
	var cl changeList
	add := cl.set
	if gone {
		add = cl.removed
	}
	add("contact", "Contact", textValue(strings.TrimSpace(a.FirstName+" "+a.LastName)))
	add("email", "Email", textValue(a.Email))
	add("role", "Role", codeValue(a.Role, a.Role.Label()))
	add("enabled", "Enabled", yesNo(a.Enabled))
	return cl
}

// Accounts returns one page of the partner's console accounts, by
// ascending id, and the number of the partner's accounts. A Page with
// Limit 0 returns DefaultLimit accounts; a negative offset or a limit
// above MaxLimit is ErrInvalid naming the field.
func (m *Manager) Accounts(ctx context.Context, partnerID int64, pg Page) ([]account.Account, int, error) {
	var (
		out   []account.Account
		total int
	)
	err := m.read(ctx, func(ctx context.Context, r Reader) (err error) {
		if pg, err = pg.normalize(); err != nil {
			return err
		}
		if _, err := r.PartnerRecord(ctx, partnerID); err != nil {
			return err
		}
		out, total, err = r.Accounts(ctx, partnerID, pg)
		return err
	})
	return out, total, err
}

// Account returns one console account of the partner; ErrNotFound when
// the partner has no account with that id.
func (m *Manager) Account(ctx context.Context, partnerID, accountID int64) (account.Account, error) {
	var out account.Account
	err := m.read(ctx, func(ctx context.Context, r Reader) (err error) {
		if _, err := r.PartnerRecord(ctx, partnerID); err != nil {
			return err
		}
		out, err = r.Account(ctx, accountID)
		if err == nil && out.PartnerID != partnerID {
			err = NewError(ErrNotFound, "", "account %d does not exist for partner %d", accountID, partnerID)
		}
		return err
	})
	return out, err
}

// accountChange locks the partner, checks the guard, finds the account of
// that partner (ErrNotFound otherwise), checks its version (0 skips),
// validates the input (check, may be nil), then runs fn.
func (m *Manager) accountChange(ctx context.Context, partnerID, accountID, version int64, op Operation, check func() error,
	fn func(ctx context.Context, tx Tx, a *account.Account, c *changes) error) (account.Account, error) {
	var out account.Account
	err := m.partnerChange(ctx, partnerID, op, 0, func(ctx context.Context, tx Tx, p *Partner, c *changes) error {
		a, err := tx.Account(ctx, accountID)
		if err == nil && a.PartnerID != p.ID {
			err = NewError(ErrNotFound, "", "account %d does not exist for partner %d", accountID, p.ID)
		}
		if err != nil {
			return err
		}
		if err := expectVersion("account", version, a.Version); err != nil {
			return err
		}
		if check != nil {
			if err := check(); err != nil {
				return err
			}
		}
		if err := fn(ctx, tx, &a, c); err != nil {
			return err
		}
		out = a
		return nil
	})
	return out, err
}

// keepsAdmin fails with ErrLastAdministrator when a is the partner's only
// enabled Administrator, so changing it away would leave none.
func keepsAdmin(ctx context.Context, tx Tx, a account.Account, what string) error {
	if a.Role != account.Administrator || !a.Enabled {
		return nil
	}
	// Page by page, stopping at the first other enabled Administrator:
	// usually on the first page, the partner's first account.
	for pg := (Page{Limit: MaxLimit}); ; pg.Offset += pg.Limit {
		some, total, err := tx.Accounts(ctx, a.PartnerID, pg)
		if err != nil {
			return err
		}
		for _, o := range some {
			if o.ID != a.ID && o.Role == account.Administrator && o.Enabled {
				return nil
			}
		}
		if len(some) == 0 || pg.Offset+len(some) >= total {
			break
		}
	}
	return NewError(ErrLastAdministrator, "account", "%s is the last enabled Administrator and cannot be %s", a.Name, what)
}

// ChangeRole gives an account another built-in role. The last enabled
// Administrator cannot be demoted (ErrLastAdministrator).
func (m *Manager) ChangeRole(ctx context.Context, partnerID, accountID, version int64, role account.Role) (account.Account, error) {
	check := func() error {
		if !role.Valid() {
			return invalidf("role", "is not a built-in role (got %q)", role)
		}
		return nil
	}
	return m.accountChange(ctx, partnerID, accountID, version, OpChangeRole, check, func(ctx context.Context, tx Tx, a *account.Account, c *changes) error {
		if a.Role == role {
			return nil
		}
		if role != account.Administrator {
			if err := keepsAdmin(ctx, tx, *a, "demoted"); err != nil {
				return err
			}
		}
		before := a.Role
		a.Role, a.UpdatedAt = role, c.at
		if err := tx.UpdateAccount(ctx, a); err != nil {
			return err
		}
		return c.record(ctx, tx, a.PartnerID, OpChangeRole, "account "+a.Name,
			one("role", "Role", codeValue(before, before.Label()), codeValue(role, role.Label())))
	})
}

// EnableAccount lets an account sign in again.
func (m *Manager) EnableAccount(ctx context.Context, partnerID, accountID, version int64) (account.Account, error) {
	return m.setEnabled(ctx, partnerID, accountID, version, true)
}

// DisableAccount stops an account from signing in. The last enabled
// Administrator cannot be disabled (ErrLastAdministrator).
func (m *Manager) DisableAccount(ctx context.Context, partnerID, accountID, version int64) (account.Account, error) {
	return m.setEnabled(ctx, partnerID, accountID, version, false)
}

func (m *Manager) setEnabled(ctx context.Context, partnerID, accountID, version int64, on bool) (account.Account, error) {
	op := OpDisableAccount
	if on {
		op = OpEnableAccount
	}
	return m.accountChange(ctx, partnerID, accountID, version, op, nil, func(ctx context.Context, tx Tx, a *account.Account, c *changes) error {
		if a.Enabled == on {
			return nil
		}
		if !on {
			if err := keepsAdmin(ctx, tx, *a, "disabled"); err != nil {
				return err
			}
		}
		a.Enabled, a.UpdatedAt = on, c.at
		if err := tx.UpdateAccount(ctx, a); err != nil {
			return err
		}
		return c.record(ctx, tx, a.PartnerID, op, "account "+a.Name, one("enabled", "Enabled", yesNo(!on), yesNo(on)))
	})
}

// ResetPassword asks the host, through Options.ResetPassword, to reset an
// enabled account's password, and records that it did. The record is
// committed first; the hook then runs once, after the commit (after
// RunInTx's commit inside a batch), never for a refused reset and never
// twice when the store retried the transaction. If the hook fails, the
// record stands and the error wraps ErrHook: the reset may be asked for
// again. Without the hook it fails with ErrNotConfigured.
func (m *Manager) ResetPassword(ctx context.Context, partnerID, accountID int64) (account.Account, error) {
	check := func() error {
		if m.reset == nil {
			return NewError(ErrNotConfigured, "", "no password reset hook: set Options.ResetPassword")
		}
		return nil
	}
	return m.accountChange(ctx, partnerID, accountID, 0, OpResetPassword, check, func(ctx context.Context, tx Tx, a *account.Account, c *changes) error {
		if !a.Enabled {
			return invalidf("account", "%s is disabled: enable it before resetting its password", a.Name)
		}
		before := a.PasswordResetAt
		a.PasswordResetAt, a.UpdatedAt = c.at, c.at
		if err := tx.UpdateAccount(ctx, a); err != nil {
			return err
		}
		if err := c.record(ctx, tx, a.PartnerID, OpResetPassword, "account "+a.Name,
			one("password_reset", "Password reset", instantValue(before), instantValue(c.at))); err != nil {
			return err
		}
		reset := *a
		c.after(func(ctx context.Context) error {
			if err := m.reset(ctx, reset); err != nil {
				return fmt.Errorf("password reset hook for %s: %w", reset.Name, err)
			}
			return nil
		})
		return nil
	})
}

// DeleteAccount removes an account for good. The last enabled
// Administrator cannot be deleted (ErrLastAdministrator).
func (m *Manager) DeleteAccount(ctx context.Context, partnerID, accountID int64) error {
	_, err := m.accountChange(ctx, partnerID, accountID, 0, OpDeleteAccount, nil, func(ctx context.Context, tx Tx, a *account.Account, c *changes) error {
		if err := keepsAdmin(ctx, tx, *a, "deleted"); err != nil {
			return err
		}
		if err := tx.DeleteAccount(ctx, a.ID); err != nil {
			return err
		}
		return c.record(ctx, tx, a.PartnerID, OpDeleteAccount, "account "+a.Name, accountChanges(*a, true))
	})
	return err
}
