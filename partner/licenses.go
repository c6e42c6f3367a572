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

// SetPoolRefill turns License pool refill on or off (see Allocate for
// what it lets the partner do). Setting the current value is a no-op.
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
			summary("pool refill", before), summary("pool refill", on))
	})
}

// SetMinimumLicenses sets the low-stock threshold of the partner's pools
// (0 turns it off). Pools already below the new threshold raise
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
			summary("minimum licenses", before), summary("minimum licenses", n)); err != nil {
			return err
		}
		pools, err := m.pools(ctx, tx, *p)
		if err != nil {
			return err
		}
		for _, pool := range pools {
			if pool.Low {
				c.emit(EventPoolBelowMinimum, AuditEntry{PartnerID: p.ID, Actor: c.actor, Action: OpSetMinimumLicenses,
					Target: pool.Name(), After: summary("remaining", pool.Remaining, "minimum", n), At: c.at})
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

// AssignLicenses grants new licences to the partner. It fails with the
// guard's error, then with ErrInvalid naming the field (the reason says
// which grant when there are several), or ErrDuplicate for a key already
// used with other grants. It never writes to a.Grants.
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
		var prior []license.License
		if a.Key != "" && keyErr == nil {
			// A replay returns the original result before any other check:
			// the request was accepted once, and a retry must learn that.
			if prior, err = tx.LicensesByGrantKey(ctx, p.ID, a.Key); err != nil {
				return err
			}
			if len(prior) > 0 && sameGrants(prior, normalizedCopy(grants)) {
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
		if err := errors.Join(append(errs, keyErr, normalizeGrants(grants))...); err != nil {
			return err
		}
		if len(prior) > 0 {
			return NewError(ErrDuplicate, license.KeyField, "%q was used for a different assignment", a.Key)
		}
		var ids []string
		for _, g := range grants {
			l := newLicense(p.ID, g, a.Key, c.at)
			if err := tx.CreateLicense(ctx, &l); err != nil {
				return err
			}
			out = append(out, l)
			ids = append(ids, fmt.Sprintf("%d: %d %s of %s (%s) %s to %s", l.ID, l.Units, l.UnitType, l.Product,
				l.Kind.Label(), l.Start.Format(time.DateOnly), l.Expiry.Format(time.DateOnly)))
		}
		return c.record(ctx, tx, p.ID, OpAssignLicenses, "licenses "+licenseIDs(out), "",
			summary("granted", strings.Join(ids, ", ")))
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

// normalizedCopy returns the grants trimmed and with their dates in UTC at
// microsecond precision, as they would be stored, without validating.
func normalizedCopy(gs []license.Grant) []license.Grant {
	out := slices.Clone(gs)
	for i := range out {
		normalizeGrant(&out[i])
	}
	return out
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

func sameGrants(prior []license.License, grants []license.Grant) bool {
	if len(prior) != len(grants) {
		return false
	}
	for i, g := range grants {
		l := prior[i]
		if l.Product != g.Product || l.UnitType != g.UnitType || l.GrantedUnits != g.Units || l.Kind != g.Kind ||
			!l.Start.Equal(g.Start) || !l.GrantedExpiry.Equal(g.Expiry) {
			return false
		}
	}
	return true
}

// normalizeGrants trims, validates and puts the dates of each grant of gs,
// which the caller owns, in UTC at microsecond precision. It reports every
// problem of every grant; when there are several grants each reason says
// which one.
func normalizeGrants(gs []license.Grant) error {
	var errs []error
	for i := range gs {
		g := &gs[i]
		normalizeGrant(g)
		for _, p := range FieldErrors(g.Validate()) {
			if len(gs) > 1 {
				p.Reason = fmt.Sprintf("(grant %d) %s", i+1, p.Reason)
			}
			errs = append(errs, invalidf(p.Field, "%s", p.Reason))
		}
	}
	return errors.Join(errs...)
}

func newLicense(partnerID int64, g license.Grant, key string, now time.Time) license.License {
	return license.License{PartnerID: partnerID, Product: g.Product, UnitType: g.UnitType, Kind: g.Kind,
		Units: g.Units, Start: g.Start, Expiry: g.Expiry, GrantedUnits: g.Units, GrantedExpiry: g.Expiry,
		GrantKey: key, CreatedAt: now, UpdatedAt: now}
}

// DisableLicenses disables the selected licences of an MSP partner: they
// can no longer be given to additional customers; customers keep the
// units they have. Licences already disabled stay as they are (when all
// are, nothing is written). Every id must be a licence of this partner, or
// nothing changes (ErrNotFound).
func (m *Manager) DisableLicenses(ctx context.Context, partnerID int64, ids []int64) ([]license.License, error) {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	var out []license.License
	err := m.partnerChange(ctx, partnerID, OpDisableLicenses, 0, func(ctx context.Context, tx Tx, p *Partner, c *changes) error {
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
			if !l.Disabled {
				l.Disabled, l.DisabledAt, l.UpdatedAt = true, c.at, c.at
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
		return c.record(ctx, tx, p.ID, OpDisableLicenses, "licenses "+licenseIDs(changed), summary("disabled", false), summary("disabled", true))
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
		if _, err := r.Partner(ctx, partnerID); err != nil {
			return err
		}
		out, total, err = r.Licenses(ctx, partnerID, pg)
		return err
	})
	return out, total, err
}

// Pool is the sum of a partner's usable licences of one product and unit
// type: not disabled, started and not expired.
type Pool struct {
	Product   string
	UnitType  string
	Units     int64
	Used      int64
	Remaining int64
	// Minimum is the partner's threshold; Low is Remaining < Minimum when
	// the threshold is on.
	Minimum int64
	Low     bool
}

// Name is "Product (unit type)".
func (p Pool) Name() string { return fmt.Sprintf("%s (%s)", p.Product, p.UnitType) }

// Pools returns the partner's licence pools, by product and unit type.
func (m *Manager) Pools(ctx context.Context, partnerID int64) ([]Pool, error) {
	var out []Pool
	err := m.read(ctx, func(ctx context.Context, r Reader) error {
		p, err := r.Partner(ctx, partnerID)
		if err != nil {
			return err
		}
		out, err = m.pools(ctx, r, p)
		return err
	})
	return out, err
}

func (m *Manager) pools(ctx context.Context, r Reader, p Partner) ([]Pool, error) {
	lics, _, err := r.Licenses(ctx, p.ID, Page{})
	if err != nil {
		return nil, err
	}
	return poolsOf(lics, p.MinimumLicenses, m.Now()), nil
}

func poolsOf(lics []license.License, minimum int64, now time.Time) []Pool {
	var out []Pool
	at := map[[2]string]int{}
	for _, l := range lics {
		if l.Disabled || now.Before(l.Start) || !now.Before(l.Expiry) {
			continue
		}
		k := [2]string{l.Product, l.UnitType}
		i, ok := at[k]
		if !ok {
			i = len(out)
			at[k] = i
			out = append(out, Pool{Product: l.Product, UnitType: l.UnitType, Minimum: minimum})
		}
		out[i].Units += l.Units
		out[i].Used += l.Used
	}
	for i := range out {
		out[i].Remaining = out[i].Units - out[i].Used
		out[i].Low = minimum > 0 && out[i].Remaining < minimum
	}
	return out
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
		before := fmt.Sprint(p.RemoteManager)
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
		return c.record(ctx, tx, p.ID, op, "remote manager "+string(dc), summary("data centers", before),
			summary("data centers", fmt.Sprint(p.RemoteManager)))
	})
}
