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
		var cl changeList
		cl.set("name", "Name", textValue(cu.Name))
		if cu.Email != "" {
			cl.set("email", "Email", textValue(cu.Email))
		}
		return c.record(ctx, tx, p.ID, OpAddCustomer, fmt.Sprintf("customer %d", cu.ID), cl)
	})
	return out, err
}

// CustomerFilter selects customers for Customers. Zero fields match
// everything.
type CustomerFilter struct {
	// Name matches customer names containing it, ignoring letter case the
	// way the partners list does (FoldName).
	Name string
	Page
}

// Customer returns one customer of the partner; a customer of another
// partner is not found (ErrNotFound), like one that does not exist.
func (m *Manager) Customer(ctx context.Context, partnerID, customerID int64) (Customer, error) {
	var c Customer
	err := m.read(ctx, func(ctx context.Context, r Reader) (err error) {
		if c, err = r.Customer(ctx, customerID); err == nil && c.PartnerID != partnerID { // also when the partner is not
			err = NewError(ErrNotFound, "", "customer %d does not exist for partner %d", customerID, partnerID)
		}
		return err
	})
	return c, err
}

// Customers returns one page of the partner's customers matching f, by
// id, and the number of matches. Without a name, the total is the
// banner's customer count (Partner.Customers).
func (m *Manager) Customers(ctx context.Context, partnerID int64, f CustomerFilter) ([]Customer, int, error) {
	var (
		out   []Customer
		total int
	)
	err := m.read(ctx, func(ctx context.Context, r Reader) (err error) {
		if f.Page, err = f.Page.normalize(); err != nil {
			return err
		}
		if _, err := r.PartnerRecord(ctx, partnerID); err != nil {
			return err
		}
		out, total, err = r.Customers(ctx, partnerID, f)
		return err
	})
	return out, total, err
}

// CustomerAllocations lists the allocations of one customer of the
// partner, with the product and unit type of each licence. It fails with
// ErrNotFound when the partner does not exist or the customer is not the
// partner's.
func (m *Manager) CustomerAllocations(ctx context.Context, partnerID, customerID int64) ([]AllocationView, error) {
	var out []AllocationView
	err := m.read(ctx, func(ctx context.Context, r Reader) error {
		if _, err := r.PartnerRecord(ctx, partnerID); err != nil {
			return err
		}
		cu, err := r.Customer(ctx, customerID)
		if err == nil && cu.PartnerID != partnerID {
			err = NewError(ErrNotFound, "", "customer %d does not exist for partner %d", customerID, partnerID)
		}
		if err != nil {
			return err
		}
		allocs, err := r.Allocations(ctx, AllocationFilter{PartnerID: partnerID, CustomerID: customerID})
		if err != nil {
			return err
		}
		lics, _, err := r.Licenses(ctx, partnerID, Page{})
		if err != nil {
			return err
		}
		out = allocationViews(allocs, lics, []Customer{cu})
		return nil
	})
	return out, err
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
// (ErrInsufficientUnits), whatever the partner's License pool refill
// setting: an allocation never grows a licence. A partner with refill on
// creates new licences itself once a pool is depleted (RefillPool).
//
// When the allocation makes the pool's remaining units fall below its
// minimum it raises EventPoolBelowMinimum, and a pool with automatic
// refill gets a new licence in the same transaction (see PoolSettings),
// audited as OpAutoRefill and told as EventPoolAutoRefilled.
//
// Units are taken in one conditional step of the store, so concurrent
// allocations never hand out more units than the licence provisions.
func (m *Manager) Allocate(ctx context.Context, partnerID int64, in AllocateParams) (license.Allocation, error) {
	var out license.Allocation
	err := m.partnerChange(ctx, partnerID, OpAllocateUnits, 0, func(ctx context.Context, tx Tx, p *Partner, c *changes) error {
		if err := license.ValidateUnits("units", in.Units); err != nil {
			return err
		}
		if ua, ok := tx.(UnitsAllocator); ok {
			a, err := m.allocateUnits(ctx, ua, tx, c, p, in)
			out = a
			return err
		}
		// Take the units first, in the store's one conditional step, then
		// check the licence it returns: a failed check returns an error,
		// which rolls the whole change back. The happy path costs no read.
		l, err := tx.AdjustUsed(ctx, in.LicenseID, in.Units)
		if err := takenCheck(ctx, tx, p.ID, in.LicenseID, l, err, c.at); err != nil {
			return err
		}
		a := license.Allocation{LicenseID: l.ID, PartnerID: p.ID, CustomerID: in.CustomerID, Units: in.Units, CreatedAt: c.at}
		if err := tx.CreateAllocation(ctx, &a); err != nil {
			return err
		}
		out = a
		if err := c.record(ctx, tx, p.ID, OpAllocateUnits, fmt.Sprintf("allocation %d", a.ID),
			allocationChanges(a, l.Used-a.Units, l.Used, false)); err != nil {
			return err
		}
		return m.afterAllocation(ctx, tx, c, *p, l, in.Units, nil)
	})
	return out, err
}

// takenCheck checks the licence l whose units an allocation took (err
// is the taking's error): a licence that is not the partner's, not
// usable at the instant, or short of units refuses, the licence's own
// problem reported first.
func takenCheck(ctx context.Context, tx Tx, partnerID, licenseID int64, l license.License, err error, at time.Time) error {
	switch {
	case err == nil:
		return usable(l, partnerID, at)
	case errors.Is(err, ErrInsufficientUnits) || errors.Is(err, ErrNotFound):
		cur, rerr := partnerLicense(ctx, tx, partnerID, licenseID)
		if rerr == nil {
			rerr = usable(cur, partnerID, at)
		}
		if rerr != nil {
			return rerr
		}
	}
	return err
}

// allocateUnits is Allocate's change on a store that takes the units,
// records the allocation and its audit entry and reads the pool's
// settings in one step (UnitsAllocator): the same checks, in the same
// order, on what the step returns; a failed check rolls the whole change
// back.
func (m *Manager) allocateUnits(ctx context.Context, ua UnitsAllocator, tx Tx, c *changes, p *Partner, in AllocateParams) (license.Allocation, error) {
	res, err := ua.AllocateUnits(ctx, AllocateUnitsParams{
		Allocation: license.Allocation{LicenseID: in.LicenseID, PartnerID: p.ID, CustomerID: in.CustomerID, Units: in.Units, CreatedAt: c.at},
		Audit: func(a license.Allocation, l license.License) AuditEntry {
			return AuditEntry{PartnerID: p.ID, Actor: c.actor, Action: OpAllocateUnits, Target: fmt.Sprintf("allocation %d", a.ID),
				Changes: allocationChanges(a, l.Used-a.Units, l.Used, false), At: c.at}
		},
	})
	l := res.License
	if err := takenCheck(ctx, tx, p.ID, in.LicenseID, l, err, c.at); err != nil {
		return license.Allocation{}, err
	}
	if res.Allocation.ID == 0 {
		return license.Allocation{}, NewError(ErrNotFound, "", "licence %d or customer %d does not exist for partner %d",
			in.LicenseID, in.CustomerID, p.ID)
	}
	c.emit(eventKinds[OpAllocateUnits], res.Audit)
	pool := res.Pool
	if pool == nil {
		pool = []PoolSettings{} // read: the pool has no settings
	}
	return res.Allocation, m.afterAllocation(ctx, tx, c, *p, l, in.Units, pool)
}

// allocationChanges are the audit changes of an allocation made, or
// released when gone: its licence, customer and units, and the licence's
// used units.
func allocationChanges(a license.Allocation, usedBefore, usedAfter int64, gone bool) []Change {
	var cl changeList
	add := cl.set
	if gone {
		add = cl.removed
	}
	add("license_id", "Licence", intValue(a.LicenseID))
	add("customer_id", "Customer", intValue(a.CustomerID))
	add("units", "Units", intValue(a.Units))
	cl.add("license_used", "Licence units used", intValue(usedBefore), intValue(usedAfter))
	return cl
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
			allocationChanges(a, l.Used+a.Units, l.Used, true))
	})
}

// Allocations lists the partner's allocations with the names a screen
// shows.
func (m *Manager) Allocations(ctx context.Context, partnerID int64) ([]AllocationView, error) {
	var out []AllocationView
	err := m.read(ctx, func(ctx context.Context, r Reader) error {
		if _, err := r.PartnerRecord(ctx, partnerID); err != nil {
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
		custs, _, err := r.Customers(ctx, partnerID, CustomerFilter{})
		if err != nil {
			return err
		}
		out = allocationViews(allocs, lics, custs)
		return nil
	})
	return out, err
}
