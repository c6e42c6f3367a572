package partner

import (
	"context"
	"errors"
	"time"

	"github.com/partnerkit/partnerkit/license"
)

// licenseChange locks the partner, checks the guard, finds the licence of
// that partner (ErrNotFound otherwise) and checks its version (0 skips
// it), then runs fn, which validates its input first and makes the change.
func (m *Manager) licenseChange(ctx context.Context, partnerID, licenseID, version int64, op Operation,
	fn func(ctx context.Context, tx Tx, l *license.License, c *changes) error) (license.License, error) {
	var out license.License
	err := m.partnerChange(ctx, partnerID, op, 0, func(ctx context.Context, tx Tx, p *Partner, c *changes) error {
		l, err := partnerLicense(ctx, tx, p.ID, licenseID)
		if err != nil {
			return err
		}
		if err := expectVersion("licence", version, l.Version); err != nil {
			return err
		}
		if err := fn(ctx, tx, &l, c); err != nil {
			return err
		}
		out = l
		return nil
	})
	return out, err
}

// newExpiry checks a later expiry asked for l, in UTC at microsecond
// precision: same reports the current expiry (a no-op).
func newExpiry(l license.License, expiry time.Time) (e time.Time, same bool, err error) {
	e = expiry.UTC().Truncate(time.Microsecond)
	switch {
	case expiry.IsZero():
		return e, false, invalidf("expiry", "is required")
	case e.Year() < 2000 || e.Year() > 2200:
		return e, false, invalidf("expiry", "must be between the years 2000 and 2200 (got %d)", e.Year())
	case e.Equal(l.Expiry):
		return e, true, nil
	case e.Before(l.Expiry):
		return e, false, invalidf("expiry", "must be after the current expiry (%s)", l.Expiry.Format(time.DateOnly))
	case e.Sub(l.Start) > license.MaxTerm:
		return e, false, invalidf("expiry", "must be at most ten years after the start date (%s)", l.Start.Format(time.DateOnly))
	}
	return e, false, nil
}

// ExtendLicense sets a later expiry for a licence of the partner; an
// expired licence it extends past now is usable again (renewed). The
// expiry is absolute, so a retry is harmless: the current expiry again is
// a no-op. version, when not 0, must be the licence's current version.
//
// It fails with the guard's error (Licenses tab, Active partners), then
// ErrNotFound for a licence that is not the partner's, ErrConflict for a
// stale version, then ErrInvalid naming "expiry": zero, an expiry before
// the current one, or more than license.MaxTerm after the start.
func (m *Manager) ExtendLicense(ctx context.Context, partnerID, licenseID, version int64, expiry time.Time) (license.License, error) {
	return m.licenseChange(ctx, partnerID, licenseID, version, OpExtendLicense, func(ctx context.Context, tx Tx, l *license.License, c *changes) error {
		e, same, err := newExpiry(*l, expiry)
		if err != nil || same {
			return err
		}
		before := l.Expiry
		l.Expiry, l.UpdatedAt = e, c.at
		if err := tx.UpdateLicense(ctx, l); err != nil {
			return err
		}
		return c.recordFor(ctx, tx, *l, OpExtendLicense, one("expiry", "Expiry", dateValue(before), dateValue(e)))
	})
}

// AddUnits provisions n more units on a licence of the partner, up to
// license.MaxUnits. ReduceUnits takes n away, never below the units
// allocated to customers.
//
// A retry of either would apply the change twice, so the licence's
// version is required: 0 is refused (ErrInvalid naming "version"), and a
// retry after a success fails with ErrConflict instead of adding twice.
//
// Both fail with the guard's error (Licenses tab, Active partners), then
// ErrNotFound for a licence that is not the partner's, ErrConflict for a
// stale version, then ErrInvalid naming "version" or "units" (n outside 1
// to license.MaxUnits, a licence that would go past license.MaxUnits or
// below 1 unit).
func (m *Manager) AddUnits(ctx context.Context, partnerID, licenseID, version, n int64) (license.License, error) {
	return m.changeUnits(ctx, partnerID, licenseID, version, n, OpAddUnits)
}

// ReduceUnits takes n provisioned units away from a licence of the
// partner; see AddUnits for its version rule and refusals. Reducing below
// the units allocated to the licence's customers fails with
// ErrInsufficientUnits naming "units", its reason giving the figures
// ("cannot reduce to 10 units: 30 are allocated to customers").
func (m *Manager) ReduceUnits(ctx context.Context, partnerID, licenseID, version, n int64) (license.License, error) {
	return m.changeUnits(ctx, partnerID, licenseID, version, n, OpReduceUnits)
}

func (m *Manager) changeUnits(ctx context.Context, partnerID, licenseID, version, n int64, op Operation) (license.License, error) {
	return m.licenseChange(ctx, partnerID, licenseID, version, op, func(ctx context.Context, tx Tx, l *license.License, c *changes) error {
		var errs []error
		if version == 0 {
			errs = append(errs, invalidf("version", "is required: a change of units applied twice (a retry) would add or remove them twice, so give the licence's current version"))
		}
		next := l.Units + n
		if op == OpReduceUnits {
			next = l.Units - n
		}
		switch uerr := license.ValidateUnits("units", n); {
		case uerr != nil:
			errs = append(errs, uerr)
		case next > license.MaxUnits:
			errs = append(errs, invalidf("units", "would take licence %d to %d units, above the most a licence may provision (%d)",
				l.ID, next, license.MaxUnits))
		case next < 1:
			errs = append(errs, invalidf("units", "would leave licence %d with %d units: a licence keeps at least 1", l.ID, next))
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
		if next < l.Used {
			return NewError(ErrInsufficientUnits, "units", "cannot reduce to %d units: %d are allocated to customers", next, l.Used)
		}
		before := l.Units
		l.Units, l.UpdatedAt = next, c.at
		if err := tx.UpdateLicense(ctx, l); err != nil {
			return err
		}
		return c.recordFor(ctx, tx, *l, op, one("units", "Units", intValue(before), intValue(next)))
	})
}

// ConvertToFull makes a Trial licence of the partner a Full one, as the
// vendor converts a trial that the customer buys. A zero expiry keeps the
// current one; any other must be valid as for ExtendLicense (the current
// expiry again keeps it). On a licence already Full, ConvertToFull only
// extends it, and with no new expiry it is a no-op. version, when not 0,
// must be the licence's current version.
//
// It fails as ExtendLicense does.
func (m *Manager) ConvertToFull(ctx context.Context, partnerID, licenseID, version int64, expiry time.Time) (license.License, error) {
	return m.licenseChange(ctx, partnerID, licenseID, version, OpConvertToFull, func(ctx context.Context, tx Tx, l *license.License, c *changes) error {
		e := l.Expiry
		if !expiry.IsZero() {
			var err error
			if e, _, err = newExpiry(*l, expiry); err != nil {
				return err
			}
		}
		if l.Kind == license.Full && e.Equal(l.Expiry) {
			return nil
		}
		var cl changeList
		cl.diff("kind", "Kind", kindValue(l.Kind), kindValue(license.Full))
		cl.diff("expiry", "Expiry", dateValue(l.Expiry), dateValue(e))
		l.Kind, l.Expiry, l.UpdatedAt = license.Full, e, c.at
		if err := tx.UpdateLicense(ctx, l); err != nil {
			return err
		}
		return c.recordFor(ctx, tx, *l, OpConvertToFull, cl)
	})
}
