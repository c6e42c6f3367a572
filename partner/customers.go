package partner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/license"
)

func stamp(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Format(time.RFC3339)
}

// CustomerParams is a request to add a customer to a partner.
type CustomerParams struct {
	Name  string
	Email string // optional
}

// AddCustomer adds a customer that the partner manages. The partner's
// customer count (Partner.Customers) is derived from these records.
func (m *Manager) AddCustomer(ctx context.Context, partnerID int64, in CustomerParams) (Customer, error) {
	var out Customer
	err := m.partnerChange(ctx, partnerID, OpAddCustomer, 0, func(ctx context.Context, tx Tx, p *Partner, c *changes) error {
		name, email := strings.TrimSpace(in.Name), strings.TrimSpace(in.Email)
		errs := []error{checkText("customer name", name, MaxCompanyLen, true)}
		if email != "" {
			errs = append(errs, account.ValidateEmail("customer email", email))
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
		cu := Customer{PartnerID: p.ID, Name: name, Email: email, CreatedAt: c.at}
		if err := tx.CreateCustomer(ctx, &cu); err != nil {
			return err
		}
		out = cu
		return c.record(ctx, tx, p.ID, OpAddCustomer, fmt.Sprintf("customer %d", cu.ID), "", summary("name", cu.Name))
	})
	return out, err
}

// Customers returns one page of the partner's customers and the total.
func (m *Manager) Customers(ctx context.Context, partnerID int64, pg Page) ([]Customer, int, error) {
	var (
		out   []Customer
		total int
	)
	err := m.read(ctx, func(ctx context.Context, r Reader) (err error) {
		if pg, err = pg.normalize(); err != nil {
			return err
		}
		if _, err := r.Partner(ctx, partnerID); err != nil {
			return err
		}
		out, total, err = r.Customers(ctx, partnerID, pg)
		return err
	})
	return out, total, err
}

// AllocateParams asks for units of one licence for one customer.
type AllocateParams struct {
	LicenseID  int64
	CustomerID int64
	Units      int64
}

// Allocate gives units of a licence to a customer of the same partner.
//
// It is refused for a disabled licence (ErrLicenseDisabled), an expired
// one (ErrLicenseExpired), one not yet started (ErrLicenseNotStarted), and
// when the licence has fewer remaining units than asked
// (ErrInsufficientUnits) — unless the partner has License pool refill on.
//
// The pool refill rule: when refill is on and the licence is short, the
// licence's provisioned units grow by exactly the shortfall (the partner
// creating the units it needs itself), as long as the licence stays within
// license.MaxUnits; the refill is audited as OpRefillPool and raises
// EventPoolRefilled. With refill off nothing grows.
//
// Units are taken in one conditional step of the store, so concurrent
// allocations never hand out more units than the licence provisions.
func (m *Manager) Allocate(ctx context.Context, partnerID int64, in AllocateParams) (license.Allocation, error) {
	var out license.Allocation
	err := m.partnerChange(ctx, partnerID, OpAllocateUnits, 0, func(ctx context.Context, tx Tx, p *Partner, c *changes) error {
		if err := license.ValidateUnits("units", in.Units); err != nil {
			return err
		}
		// Take the units first, in the store's one conditional step, then
		// check the licence it returns: a failed check returns an error,
		// which rolls the whole change back. The happy path costs no read.
		l, err := tx.AdjustUsed(ctx, in.LicenseID, in.Units)
		fromStock := in.Units // units the pool gave, as opposed to units a refill added
		switch {
		case err == nil:
			err = usable(l, p.ID, c.at)
		case errors.Is(err, ErrInsufficientUnits) || errors.Is(err, ErrNotFound):
			// Report the licence's own problem first; refill if allowed.
			cur, rerr := partnerLicense(ctx, tx, p.ID, in.LicenseID)
			if rerr == nil {
				rerr = usable(cur, p.ID, c.at)
			}
			if rerr != nil {
				return rerr
			}
			if p.PoolRefill {
				l, err = m.refill(ctx, tx, c, in.LicenseID, in.Units)
				fromStock = cur.Remaining()
			}
		}
		if err != nil {
			return err
		}
		a := license.Allocation{LicenseID: l.ID, PartnerID: p.ID, CustomerID: in.CustomerID, Units: in.Units, CreatedAt: c.at}
		if err := tx.CreateAllocation(ctx, &a); err != nil {
			return err
		}
		out = a
		if err := c.record(ctx, tx, p.ID, OpAllocateUnits, fmt.Sprintf("allocation %d", a.ID),
			summary("license", l.ID, "used", l.Used-a.Units),
			summary("license", l.ID, "used", l.Used, "customer", a.CustomerID, "units", a.Units)); err != nil {
			return err
		}
		return m.warnLowPool(ctx, tx, c, *p, l, fromStock)
	})
	return out, err
}

// usable checks that l is a licence of the partner that can be given to
// additional customers at now.
func usable(l license.License, partnerID int64, now time.Time) error {
	switch {
	case l.PartnerID != partnerID:
		return NewError(ErrNotFound, "", "licence %d does not exist for partner %d", l.ID, partnerID)
	case l.Disabled:
		return NewError(ErrLicenseDisabled, "license", "licence %d is disabled and cannot be given to additional customers", l.ID)
	case !now.Before(l.Expiry):
		return NewError(ErrLicenseExpired, "license", "licence %d expired on %s", l.ID, l.Expiry.Format(time.DateOnly))
	case now.Before(l.Start):
		return NewError(ErrLicenseNotStarted, "license", "licence %d starts on %s", l.ID, l.Start.Format(time.DateOnly))
	}
	return nil
}

// refill grows a short licence by its shortfall, then allocates.
func (m *Manager) refill(ctx context.Context, tx Tx, c *changes, licenseID, units int64) (license.License, error) {
	l, err := tx.License(ctx, licenseID)
	if err != nil {
		return l, err
	}
	short := units - l.Remaining()
	if l.Units+short > license.MaxUnits {
		return l, NewError(ErrInsufficientUnits, "units", "pool refill would take licence %d past %d units", l.ID, license.MaxUnits)
	}
	before := l.Units
	l.Units += short
	l.UpdatedAt = c.at
	if err := tx.UpdateLicense(ctx, &l); err != nil {
		return l, err
	}
	if err := c.record(ctx, tx, l.PartnerID, OpRefillPool, fmt.Sprintf("license %d", l.ID),
		summary("units", before), summary("units", l.Units)); err != nil {
		return l, err
	}
	return tx.AdjustUsed(ctx, l.ID, units)
}

// warnLowPool raises EventPoolBelowMinimum when taking fromStock units
// from the pool of l (units a refill added do not count) has just made it
// fall below the partner's threshold. It reads the pool only when the
// partner has a threshold.
func (m *Manager) warnLowPool(ctx context.Context, tx Tx, c *changes, p Partner, l license.License, fromStock int64) error {
	if p.MinimumLicenses == 0 {
		return nil
	}
	lics, _, err := tx.Licenses(ctx, p.ID, Page{})
	if err != nil {
		return err
	}
	for _, pool := range poolsOf(lics, p.MinimumLicenses, c.at) {
		if pool.Product != l.Product || pool.UnitType != l.UnitType {
			continue
		}
		if before := pool.Remaining + fromStock; pool.Low && before >= p.MinimumLicenses {
			c.emit(EventPoolBelowMinimum, AuditEntry{PartnerID: p.ID, Actor: c.actor, Action: OpAllocateUnits,
				Target: pool.Name(), Before: summary("remaining", before),
				After: summary("remaining", pool.Remaining, "minimum", p.MinimumLicenses), At: c.at})
		}
	}
	return nil
}

// Release gives an allocation's units back to its licence.
func (m *Manager) Release(ctx context.Context, partnerID, allocationID int64) error {
	return m.partnerChange(ctx, partnerID, OpReleaseUnits, 0, func(ctx context.Context, tx Tx, p *Partner, c *changes) error {
		a, err := tx.Allocation(ctx, allocationID)
		if err == nil && a.PartnerID != p.ID {
			err = NewError(ErrNotFound, "", "allocation %d does not exist for partner %d", allocationID, p.ID)
		}
		if err != nil {
			return err
		}
		l, err := tx.AdjustUsed(ctx, a.LicenseID, -a.Units)
		if err != nil {
			return err
		}
		if err := tx.DeleteAllocation(ctx, a.ID); err != nil {
			return err
		}
		return c.record(ctx, tx, p.ID, OpReleaseUnits, fmt.Sprintf("allocation %d", a.ID),
			summary("license", a.LicenseID, "used", l.Used+a.Units, "units", a.Units), summary("license", a.LicenseID, "used", l.Used))
	})
}

// Allocations lists the partner's allocations with the names a screen
// shows.
func (m *Manager) Allocations(ctx context.Context, partnerID int64) ([]AllocationView, error) {
	var out []AllocationView
	err := m.read(ctx, func(ctx context.Context, r Reader) error {
		if _, err := r.Partner(ctx, partnerID); err != nil {
			return err
		}
		allocs, err := r.Allocations(ctx, AllocationFilter{PartnerID: partnerID})
		if err != nil {
			return err
		}
		lics, _, err := r.Licenses(ctx, partnerID, Page{})
		if err != nil {
			return err
		}
		custs, _, err := r.Customers(ctx, partnerID, Page{})
		if err != nil {
			return err
		}
		out = allocationViews(allocs, lics, custs)
		return nil
	})
	return out, err
}
