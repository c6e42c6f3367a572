package partner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/partnerkit/partnerkit/license"
)

// SetPoolRefill turns License pool refill on or off: with it on, the
// partner may create new licences itself once a pool is depleted (see
// RefillPool). Setting the current value is a no-op.
func (m *Manager) SetPoolRefill(ctx context.Context, id, version int64, on bool) (Partner, error) {
	return m.partnerUpdate(ctx, id, OpSetPoolRefill, version, func(ctx context.Context, tx Tx, p *Partner, c *changes) error {
		before := p.PoolRefill
		if before == on {
			return nil
		}
		p.PoolRefill, p.UpdatedAt = on, c.at
		if err := tx.UpdatePartner(ctx, p); err != nil {
			return err
		}
		return c.record(ctx, tx, p.ID, OpSetPoolRefill, fmt.Sprintf("partner %d", p.ID),
			one("pool_refill", "Licence pool refill", onOff(before), onOff(on)))
	})
}

// SetMinimumLicenses sets the partner-wide low-stock threshold: the
// minimum of every pool without one of its own (see SetPoolSettings); 0
// turns it off. Pools that use it and are already below it raise
// EventPoolBelowMinimum. Setting the current value is a no-op.
func (m *Manager) SetMinimumLicenses(ctx context.Context, id, version, n int64) (Partner, error) {
	return m.partnerUpdate(ctx, id, OpSetMinimumLicenses, version, func(ctx context.Context, tx Tx, p *Partner, c *changes) error {
		if n < 0 || n > MaxMinimumPool {
			return invalidf("minimum licenses", "must be 0 to %d (got %d)", MaxMinimumPool, n)
		}
		before := p.MinimumLicenses
		if before == n {
			return nil
		}
		p.MinimumLicenses, p.UpdatedAt = n, c.at
		if err := tx.UpdatePartner(ctx, p); err != nil {
			return err
		}
		if err := c.record(ctx, tx, p.ID, OpSetMinimumLicenses, fmt.Sprintf("partner %d", p.ID),
			one("minimum_licenses", "Minimum licences", intValue(before), intValue(n))); err != nil {
			return err
		}
		pools, err := m.pools(ctx, tx, *p)
		if err != nil {
			return err
		}
		for _, pool := range pools {
			if pool.Low && !pool.OwnMinimum {
				c.emit(EventPoolBelowMinimum, AuditEntry{PartnerID: p.ID, Actor: c.actor, Action: OpSetMinimumLicenses,
					Target: pool.Name(), Changes: lowChanges(none, pool.Remaining, n), At: c.at})
			}
		}
		return nil
	})
}

// AssignLicensesParams is the Assign Licenses form: one or more grants made
// together, all or none.
type AssignLicensesParams struct {
	// Key makes the assignment safe to retry. A second assignment with the
	// same key and the same grants for the same partner is a replay: it
	// returns the licences the first one created, as they are now, and
	// writes nothing — whatever the partner's status has become since. The
	// same key with different grants fails with ErrDuplicate. Empty means
	// no idempotency. Keys are compared exactly as given and never
	// altered; license.ValidateKey says which keys are valid.
	Key    string
	Grants []license.Grant
}

// AssignLicenses grants new licences to the partner. Each grant is
// resolved against the product catalogue (see license.Grant): a product
// not in the catalogue, a unit type other than the product's, or a Trial
// of a product that offers none is invalid input naming the field. It
// fails with the guard's error, then with ErrInvalid naming the field (the
// reason says which grant when there are several), or ErrDuplicate for a
// key already used with other grants. It never writes to a.Grants.
func (m *Manager) AssignLicenses(ctx context.Context, partnerID int64, a AssignLicensesParams) (AssignLicensesResult, error) {
	var out []license.License
	replayed := false
	err := m.write(ctx, OpAssignLicenses, func(ctx context.Context, tx Tx, c *changes) error {
		out, replayed = nil, false
		p, err := tx.LockPartner(ctx, partnerID)
		if err != nil {
			return err
		}
		grants := slices.Clone(a.Grants)
		keyErr := license.ValidateKey(a.Key)
		invalid, err := prepareGrants(ctx, tx, grants)
		if err != nil {
			return err
		}
		var prior []license.License
		if a.Key != "" && keyErr == nil {
			// A replay returns the original result before any other check:
			// the request was accepted once, and a retry must learn that.
			if prior, err = tx.LicensesByGrantKey(ctx, p.ID, a.Key); err != nil {
				return err
			}
			if len(prior) > 0 && sameGrants(prior, grants) {
				out, replayed = prior, true
				return nil
			}
		}
		if err := Check(p.Status, p.Type, OpAssignLicenses); err != nil {
			return err
		}
		var errs []error
		if len(grants) == 0 {
			errs = append(errs, invalidf("licenses", "at least one grant is required"))
		}
		if err := errors.Join(append(errs, keyErr, invalid)...); err != nil {
			return err
		}
		if len(prior) > 0 {
			return NewError(ErrDuplicate, license.KeyField, "%q was used for a different request", a.Key)
		}
		for _, g := range grants {
			l := newLicense(p.ID, g, a.Key, license.OriginAssigned, c.at)
			if err := tx.CreateLicense(ctx, &l); err != nil {
				return err
			}
			out = append(out, l)
		}
		var cl changeList
		cl.set("licenses", "Licences", licensesValue(out))
		return c.record(ctx, tx, p.ID, OpAssignLicenses, "licenses "+licenseIDs(out), cl)
	})
	if err != nil {
		return AssignLicensesResult{}, err
	}
	return AssignLicensesResult{Licenses: out, Replayed: replayed}, nil
}

// AssignLicensesResult is what AssignLicenses did.
type AssignLicensesResult struct {
	// Licenses are the licences of the assignment, one per grant, in
	// grant order.
	Licenses []license.License
	// Replayed reports a replay: an earlier call with the same key and
	// grants had created these licences, and this one created nothing.
	Replayed bool
}

func normalizeGrant(g *license.Grant) {
	g.Normalize()
	g.Start = g.Start.UTC().Truncate(time.Microsecond)
	g.Expiry = g.Expiry.UTC().Truncate(time.Microsecond)
}

func licenseIDs(ls []license.License) string {
	s := make([]string, len(ls))
	for i, l := range ls {
		s[i] = fmt.Sprint(l.ID)
	}
	return strings.Join(s, ",")
}

// sameGrants reports whether the licences an assignment created are what
// the grants, as prepared, would create: a catalogue licence is compared
// by its product id, one granted before the catalogue by its name.
func sameGrants(prior []license.License, grants []license.Grant) bool {
	if len(prior) != len(grants) {
		return false
	}
	for i, g := range grants {
		l := prior[i]
		sameProduct := l.Product == g.Product
		if l.ProductID != 0 {
			sameProduct = l.ProductID == g.ProductID
		}
		if !sameProduct || l.Origin != license.OriginAssigned || l.UnitType != g.UnitType || l.GrantedUnits != g.Units ||
			l.GrantedKind != g.Kind || !l.Start.Equal(g.Start) || !l.GrantedExpiry.Equal(g.Expiry) {
			return false
		}
	}
	return true
}

func newLicense(partnerID int64, g license.Grant, key string, origin license.Origin, now time.Time) license.License {
	return license.License{PartnerID: partnerID, ProductID: g.ProductID, Product: g.Product, UnitType: g.UnitType, Kind: g.Kind,
		Units: g.Units, Start: g.Start, Expiry: g.Expiry, GrantedUnits: g.Units, GrantedExpiry: g.Expiry,
		GrantedKind: g.Kind, GrantKey: key, Origin: origin, CreatedAt: now, UpdatedAt: now}
}

// DisableLicenses disables the selected licences of an MSP partner: they
// can no longer be given to additional customers; customers keep the
// units they have. Licences already disabled stay as they are (when all
// are, nothing is written). Every id must be a licence of this partner, or
// nothing changes (ErrNotFound).
func (m *Manager) DisableLicenses(ctx context.Context, partnerID int64, ids []int64) ([]license.License, error) {
	return m.setLicensesDisabled(ctx, partnerID, ids, true)
}

// EnableLicenses enables the selected disabled licences of an MSP
// partner again: they can be given to additional customers once more.
// Licences already enabled stay as they are (when all are, nothing is
// written). Every id must be a licence of this partner, or nothing
// changes (ErrNotFound). It mirrors DisableLicenses.
func (m *Manager) EnableLicenses(ctx context.Context, partnerID int64, ids []int64) ([]license.License, error) {
	return m.setLicensesDisabled(ctx, partnerID, ids, false)
}

func (m *Manager) setLicensesDisabled(ctx context.Context, partnerID int64, ids []int64, disable bool) ([]license.License, error) {
	op := OpEnableLicenses
	if disable {
		op = OpDisableLicenses
	}
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	var out []license.License
	err := m.partnerChange(ctx, partnerID, op, 0, func(ctx context.Context, tx Tx, p *Partner, c *changes) error {
		if len(ids) == 0 {
			return invalidf("licenses", "select at least one licence")
		}
		out = nil
		var changed []license.License
		for _, id := range ids {
			l, err := partnerLicense(ctx, tx, p.ID, id)
			if err != nil {
				return err
			}
			if l.Disabled != disable {
				l.Disabled, l.UpdatedAt = disable, c.at
				l.DisabledAt = time.Time{}
				if disable {
					l.DisabledAt = c.at
				}
				if err := tx.UpdateLicense(ctx, &l); err != nil {
					return err
				}
				changed = append(changed, l)
			}
			out = append(out, l)
		}
		if len(changed) == 0 {
			return nil
		}
		return c.record(ctx, tx, p.ID, op, "licenses "+licenseIDs(changed), one("disabled", "Disabled", yesNo(!disable), yesNo(disable)))
	})
	return out, err
}

// partnerLicense returns a licence of the partner, or ErrNotFound also
// when the licence belongs to another partner.
func partnerLicense(ctx context.Context, r Reader, partnerID, id int64) (license.License, error) {
	l, err := r.License(ctx, id)
	if err == nil && l.PartnerID != partnerID {
		err = NewError(ErrNotFound, "", "licence %d does not exist for partner %d", id, partnerID)
	}
	return l, err
}

// License returns one licence of the partner; a licence of another
// partner is not found (ErrNotFound), like one that does not exist.
func (m *Manager) License(ctx context.Context, partnerID, licenseID int64) (license.License, error) {
	var l license.License
	err := m.read(ctx, func(ctx context.Context, r Reader) (err error) {
		l, err = partnerLicense(ctx, r, partnerID, licenseID) // also not found when the partner is not
		return err
	})
	return l, err
}

// Licenses returns one page of the partner's licences, with their used
// and provisioned units, and the total.
func (m *Manager) Licenses(ctx context.Context, partnerID int64, pg Page) ([]license.License, int, error) {
	var (
		out   []license.License
		total int
	)
	err := m.read(ctx, func(ctx context.Context, r Reader) (err error) {
		if pg, err = pg.normalize(); err != nil {
			return err
		}
		if _, err := r.PartnerRecord(ctx, partnerID); err != nil {
			return err
		}
		out, total, err = r.Licenses(ctx, partnerID, pg)
		return err
	})
	return out, total, err
}

// EnableRemoteManager gives the MSP access to the Remote Manager console
// for a data center. Enabling it for a data center already enabled is a
// no-op.
func (m *Manager) EnableRemoteManager(ctx context.Context, id, version int64, dc DataCenter) (Partner, error) {
	return m.setRemoteManager(ctx, id, version, dc, true)
}

// DisableRemoteManager takes the MSP's Remote Manager access for a data
// center away. Disabling it for a data center not enabled is a no-op
// (Partner.HasRemoteManager tells beforehand).
func (m *Manager) DisableRemoteManager(ctx context.Context, id, version int64, dc DataCenter) (Partner, error) {
	return m.setRemoteManager(ctx, id, version, dc, false)
}

func (m *Manager) setRemoteManager(ctx context.Context, id, version int64, dc DataCenter, on bool) (Partner, error) {
	op := OpDisableRemoteManager
	if on {
		op = OpEnableRemoteManager
	}
	return m.partnerUpdate(ctx, id, op, version, func(ctx context.Context, tx Tx, p *Partner, c *changes) error {
		set, err := dataCenterSet([]DataCenter{dc})
		if err != nil {
			return err
		}
		dc := set[0]
		if p.HasRemoteManager(dc) == on {
			return nil
		}
		before := p.RemoteManager
		next := slices.DeleteFunc(slices.Clone(p.RemoteManager), func(d DataCenter) bool { return d == dc })
		if on {
			next = append(next, dc)
		}
		sorted, err := dataCenterSet(next)
		if err != nil {
			return err
		}
		p.RemoteManager = sorted
		p.UpdatedAt = c.at
		if err := tx.UpdatePartner(ctx, p); err != nil {
			return err
		}
		return c.record(ctx, tx, p.ID, op, "remote manager "+string(dc),
			one("remote_manager", "Data centres", dataCentersValue(before), dataCentersValue(p.RemoteManager)))
	})
}
