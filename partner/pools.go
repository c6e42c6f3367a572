package partner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/partnerkit/partnerkit/license"
)

// MaxPoolCap is the largest refill capacity a pool may have, in units.
const MaxPoolCap = 1_000_000_000

// Pool is one licence pool of a partner: its usable licences (not
// disabled, started and not expired) of one product and unit type,
// summed, with the vendor's settings of the pool.
type Pool struct {
	Product string
	// ProductID is the pool's catalogue product; 0 for licences granted
	// before the catalogue existed.
	ProductID int64
	UnitType  string
	Units     int64
	Used      int64
	Remaining int64
	// Minimum is the pool's low-stock threshold: its own when OwnMinimum,
	// else the partner's MinimumLicenses. Low is Remaining < Minimum when
	// the threshold is on (above 0).
	Minimum    int64
	OwnMinimum bool
	Low        bool
	// Cap and AutoRefill are the pool's settings (see PoolSettings).
	Cap        int64
	AutoRefill bool
}

// Name is "Product (unit type)".
func (p Pool) Name() string { return fmt.Sprintf("%s (%s)", p.Product, p.UnitType) }

// PoolSettings are the vendor's settings of one pool of a partner, as
// stored. A pool without settings has the zero settings: the partner's
// minimum, no refill capacity, no automatic refill.
type PoolSettings struct {
	PartnerID int64
	Product   string
	UnitType  string
	// ProductID is the pool's catalogue product; 0 for an uncatalogued
	// pool.
	ProductID int64
	// Minimum is the pool's own low-stock threshold when MinimumSet (0
	// turns the threshold off for this pool); without it the pool uses the
	// partner's MinimumLicenses.
	Minimum    int64
	MinimumSet bool
	// Cap is the pool's maximum capacity in units for refills: the
	// partner's own refill (RefillPool) may not take the pool's
	// provisioned units past it, and is impossible while it is 0; the
	// automatic refill stays within it when it is set (above 0).
	Cap int64
	// AutoRefill: when an allocation makes the pool's remaining units fall
	// below its minimum, a licence of 1.5 × the minimum (rounded up, within
	// the cap when one is set) is issued in the same transaction.
	AutoRefill bool
	UpdatedAt  time.Time
}

// same reports whether s and o hold the same settings.
func (s PoolSettings) same(o PoolSettings) bool {
	return s.Product == o.Product && s.UnitType == o.UnitType && s.ProductID == o.ProductID && s.MinimumSet == o.MinimumSet &&
		s.Minimum == o.Minimum && s.Cap == o.Cap && s.AutoRefill == o.AutoRefill
}

// settingsDiff lists the settings that differ between s and o.
func settingsDiff(s, o PoolSettings) []Change {
	minimum := func(s PoolSettings) value {
		if !s.MinimumSet {
			return value{"Partner default", json.RawMessage("null")}
		}
		return intValue(s.Minimum)
	}
	var cl changeList
	cl.diff("minimum_licenses", "Minimum licences", minimum(s), minimum(o))
	cl.diff("cap", "Refill cap", intValue(s.Cap), intValue(o.Cap))
	cl.diff("auto_refill", "Automatic refill", onOff(s.AutoRefill), onOff(o.AutoRefill))
	return cl
}

// poolKey names a pool: a product and a unit type.
type poolKey struct{ product, unitType string }

func (k poolKey) String() string { return fmt.Sprintf("%s (%s)", k.product, k.unitType) }

func poolOf(l license.License) poolKey { return poolKey{l.Product, l.UnitType} }

// usableAt reports whether l may be given to additional customers at now.
func usableAt(l license.License, now time.Time) bool {
	return !l.Disabled && !now.Before(l.Start) && now.Before(l.Expiry)
}

// poolTotals sums the licences usable at now by pool, in the order of
// each pool's first (lowest id) usable licence: the Go counterpart of
// Reader.Pools, which a store computes in its database. lics are in
// ascending id order.
func poolTotals(lics []license.License, now time.Time) []Pool {
	var out []Pool
	at := map[poolKey]int{}
	for _, l := range lics {
		if !usableAt(l, now) {
			continue
		}
		k := poolOf(l)
		i, ok := at[k]
		if !ok {
			i = len(out)
			at[k] = i
			out = append(out, Pool{Product: k.product, UnitType: k.unitType})
		}
		out[i].Units += l.Units
		out[i].Used += l.Used
		out[i].ProductID = max(out[i].ProductID, l.ProductID)
	}
	return out
}

// poolsOf sums the usable licences by pool, in the order of the pools'
// first licences, adds the pools that have settings but no usable
// licence, and applies the settings.
func poolsOf(lics []license.License, sets []PoolSettings, minimum int64, now time.Time) []Pool {
	return poolsFrom(poolTotals(lics, now), sets, minimum)
}

// poolsFrom applies the pool settings and the partner's minimum to the
// sums of the usable licences (as Reader.Pools returns them): it adds the
// pools that have settings but no usable licence, after the others, and
// works out each pool's remaining units and whether it is low.
func poolsFrom(totals []Pool, sets []PoolSettings, minimum int64) []Pool {
	out := make([]Pool, 0, len(totals)+len(sets))
	at := map[poolKey]int{}
	for _, t := range totals {
		at[poolKey{t.Product, t.UnitType}] = len(out)
		out = append(out, Pool{Product: t.Product, ProductID: t.ProductID, UnitType: t.UnitType,
			Units: t.Units, Used: t.Used, Minimum: minimum})
	}
	for _, s := range sets {
		k := poolKey{s.Product, s.UnitType}
		i, ok := at[k]
		if !ok {
			i = len(out)
			at[k] = i
			out = append(out, Pool{Product: k.product, UnitType: k.unitType, Minimum: minimum})
		}
		if s.ProductID != 0 {
			out[i].ProductID = s.ProductID
		}
		out[i].Cap, out[i].AutoRefill = s.Cap, s.AutoRefill
		if s.MinimumSet {
			out[i].Minimum, out[i].OwnMinimum = s.Minimum, true
		}
	}
	for i := range out {
		out[i].Remaining = out[i].Units - out[i].Used
		out[i].Low = out[i].Minimum > 0 && out[i].Remaining < out[i].Minimum
	}
	return out
}

// Pools returns the partner's licence pools, by product and unit type,
// with their settings: every pool with a usable licence, in the order of
// their first licences, then the pools that have settings but no usable
// licence. The store sums the usable licences (Reader.Pools): the
// Manager reads no licence.
func (m *Manager) Pools(ctx context.Context, partnerID int64) ([]Pool, error) {
	var out []Pool
	err := m.read(ctx, func(ctx context.Context, r Reader) error {
		p, err := r.PartnerRecord(ctx, partnerID)
		if err != nil {
			return err
		}
		out, err = m.pools(ctx, r, p)
		return err
	})
	return out, err
}

// PartnerPools returns the partner, as Get does, and its pools, as Pools
// does, read together in one read transaction. The partner's
// LowStockPools is counted from those pools, so the store sums the
// partner's pools once instead of twice: what a screen showing both
// (the console's Licenses tab) calls.
func (m *Manager) PartnerPools(ctx context.Context, id int64) (Partner, []Pool, error) {
	var (
		p     Partner
		pools []Pool
	)
	err := m.read(ctx, func(ctx context.Context, r Reader) error {
		at := m.asOf()
		at.NoLowStock = true
		ps, _, err := r.Partners(ctx, Filter{IDs: []int64{id}}, at) // every row: no count
		switch {
		case err != nil:
			return err
		case len(ps) == 0:
			return NewError(ErrNotFound, "", "partner %d does not exist", id)
		}
		p = ps[0]
		if pools, err = m.pools(ctx, r, p); err != nil {
			return err
		}
		p.LowStockPools = 0
		for _, pool := range pools {
			if pool.Low {
				p.LowStockPools++
			}
		}
		return nil
	})
	if err != nil {
		return Partner{}, nil, err
	}
	return p, pools, nil
}

// pools reads the partner's pools at the Manager's clock, the sums by the
// store.
func (m *Manager) pools(ctx context.Context, r Reader, p Partner) ([]Pool, error) {
	totals, err := r.Pools(ctx, p.ID, m.Now())
	if err != nil {
		return nil, err
	}
	sets, err := r.PoolSettings(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	return poolsFrom(totals, sets, p.MinimumLicenses), nil
}

// findPool returns the pool named k among pools (the zero pool of k when
// there is none).
func findPool(pools []Pool, k poolKey) Pool {
	for _, p := range pools {
		if p.Product == k.product && p.UnitType == k.unitType {
			return p
		}
	}
	return Pool{Product: k.product, UnitType: k.unitType}
}

// resolvePool names the pool a product and unit type refer to for a
// partner: the catalogue product of that name (letter case folded; a unit
// type given must be the product's), else a pool of the partner's own
// uncatalogued licences or settings of exactly that name and unit type
// (granted before the catalogue existed). Any other name is invalid.
// Problems with the input come back in invalid, a store's failure in err.
func resolvePool(ctx context.Context, r Reader, partnerID int64, product, unitType string) (k poolKey, productID int64, invalid, err error) {
	product, unitType = strings.TrimSpace(product), strings.TrimSpace(unitType)
	if err := checkText("product", product, license.MaxTextLen, true); err != nil {
		return k, 0, errors.Join(err, checkText("unit type", unitType, license.MaxTextLen, false)), nil
	}
	p, err := r.ProductByName(ctx, product)
	switch {
	case err == nil:
		if unitType != "" && !strings.EqualFold(unitType, p.UnitType) {
			return k, 0, invalidf("unit type", "%s is sold in %s (got %q)", p.Name, p.UnitType, unitType), nil
		}
		return poolKey{p.Name, p.UnitType}, p.ID, nil, nil
	case !errors.Is(err, ErrNotFound):
		return k, 0, nil, err
	}
	// Not a catalogue product: only a pool of the partner's uncatalogued
	// licences or settings.
	lics, _, err := r.Licenses(ctx, partnerID, Page{})
	if err != nil {
		return k, 0, nil, err
	}
	sets, err := r.PoolSettings(ctx, partnerID)
	if err != nil {
		return k, 0, nil, err
	}
	known := false
	for _, l := range lics {
		known = known || l.ProductID == 0 && l.Product == product
	}
	for _, s := range sets {
		known = known || s.ProductID == 0 && s.Product == product
	}
	if !known {
		return k, 0, invalidf("product", "%q is not in the product catalogue", product), nil
	}
	if err := checkText("unit type", unitType, license.MaxTextLen, true); err != nil {
		return k, 0, err, nil
	}
	return poolKey{product, unitType}, 0, nil, nil
}

// PoolSettingsParams sets the vendor's settings of one pool of a partner
// (pool = product + unit type). Every setting is replaced: a field left
// zero takes its default.
type PoolSettingsParams struct {
	// Product names the pool: a catalogue product (letter case ignored),
	// or the name of the partner's licences granted before the catalogue.
	Product string
	// UnitType may be left empty for a catalogue product; given, it must
	// be the product's.
	UnitType string
	// Minimum is the pool's own low-stock threshold (0 turns it off for
	// the pool); nil uses the partner's MinimumLicenses.
	Minimum *int64
	// Cap is the pool's maximum capacity in units for refills; 0 means
	// the partner cannot refill the pool (see PoolSettings.Cap).
	Cap int64
	// AutoRefill turns the pool's automatic refill on (off by default).
	AutoRefill bool
}

// SetPoolSettings sets the minimum, refill cap and automatic refill of
// one of the partner's pools. It is a change of the partner: version, when
// not 0, must be the partner's current version, and the partner's version
// grows by one. A pool that the new minimum leaves low raises
// EventPoolBelowMinimum. Settings equal to the current ones (or, for a
// pool without settings, to the defaults) are a no-op.
//
// It fails with the guard's error (Licenses tab, Active partners), then
// ErrConflict, then ErrInvalid naming the field: a product that is not in
// the catalogue nor the name of the partner's uncatalogued licences, a
// unit type other than the product's, a minimum outside 0 to
// MaxMinimumPool, a cap outside 0 to MaxPoolCap.
func (m *Manager) SetPoolSettings(ctx context.Context, partnerID, version int64, in PoolSettingsParams) (Partner, error) {
	return m.partnerUpdate(ctx, partnerID, OpSetPoolSettings, version, func(ctx context.Context, tx Tx, p *Partner, c *changes) error {
		k, productID, invalid, err := resolvePool(ctx, tx, p.ID, in.Product, in.UnitType)
		if err != nil {
			return err
		}
		errs := []error{invalid}
		if in.Minimum != nil && (*in.Minimum < 0 || *in.Minimum > MaxMinimumPool) {
			errs = append(errs, invalidf("minimum licenses", "must be 0 to %d (got %d)", MaxMinimumPool, *in.Minimum))
		}
		if in.Cap < 0 || in.Cap > MaxPoolCap {
			errs = append(errs, invalidf("cap", "must be 0 to %d units (got %d)", MaxPoolCap, in.Cap))
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
		sets, err := tx.PoolSettings(ctx, p.ID)
		if err != nil {
			return err
		}
		cur := PoolSettings{PartnerID: p.ID, Product: k.product, UnitType: k.unitType, ProductID: productID}
		for _, s := range sets {
			if s.Product == k.product && s.UnitType == k.unitType {
				cur = s
			}
		}
		next := PoolSettings{PartnerID: p.ID, Product: k.product, UnitType: k.unitType, ProductID: productID,
			Cap: in.Cap, AutoRefill: in.AutoRefill, UpdatedAt: c.at}
		if in.Minimum != nil {
			next.Minimum, next.MinimumSet = *in.Minimum, true
		}
		if next.same(cur) {
			return nil
		}
		p.UpdatedAt = c.at
		if err := tx.UpdatePartner(ctx, p); err != nil {
			return err
		}
		if err := tx.PutPoolSettings(ctx, &next); err != nil {
			return err
		}
		if err := c.record(ctx, tx, p.ID, OpSetPoolSettings, "pool "+k.String(), settingsDiff(cur, next)); err != nil {
			return err
		}
		pools, err := m.pools(ctx, tx, *p)
		if err != nil {
			return err
		}
		if pool := findPool(pools, k); pool.Low && (cur.MinimumSet != next.MinimumSet || cur.Minimum != next.Minimum) {
			c.emit(EventPoolBelowMinimum, AuditEntry{PartnerID: p.ID, Actor: c.actor, Action: OpSetPoolSettings,
				Target: pool.Name(), Changes: lowChanges(none, pool.Remaining, pool.Minimum), At: c.at})
		}
		return nil
	})
}

// RefillPoolParams is the partner's request to refill one of its pools.
type RefillPoolParams struct {
	// Product and UnitType name the pool, as for PoolSettingsParams.
	Product  string
	UnitType string
	// Units is the size of the new licence; 0 tops the pool up to its cap.
	Units int64
	// Key makes the refill safe to retry, with the rules and replay of
	// AssignLicensesParams.Key; keys are per partner, shared with Assign
	// Licenses. A second refill with the same key, pool and Units is a
	// replay: it returns the licence the first one created, as it is now,
	// and writes nothing, whatever the partner's status has become. The
	// same key with another request fails with ErrDuplicate.
	Key string
}

// RefillPool is the partner's own License pool refill: once a pool is
// depleted, the partner creates a new licence for it, within the pool's
// cap. It is the partner's action, not the vendor's: the host calls it on
// the partner's behalf, with the partner's console account as the actor
// (WithActor), when that account asks for it.
//
// The new licence starts now and expires with the latest-expiring usable
// licence of the pool; it is Full unless every usable licence of the pool
// is a Trial. Its Origin is license.OriginRefill, or
// license.OriginTopUp for Units 0.
//
// It refuses, in this order: an unknown partner (ErrNotFound); the
// guard's error (Licenses tab, Active partners); invalid input
// (ErrInvalid: the product or unit type, as for SetPoolSettings; Units
// outside 0 to license.MaxUnits; the key); a key used for another request
// (ErrDuplicate); License pool refill off for the partner (ErrRefillOff);
// a pool without a usable licence (ErrNotFound naming "product"); a pool
// that still has units remaining (ErrPoolNotDepleted, with the count); a
// pool without refill capacity, its cap 0 (ErrRefillOff); and a refill
// that would take the pool's provisioned units past its cap, or a top-up
// of a pool already at its cap (ErrInsufficientUnits naming "units", with
// the figures). An idempotent replay (above) is returned before any of
// these but the first.
func (m *Manager) RefillPool(ctx context.Context, partnerID int64, in RefillPoolParams) (license.License, error) {
	var out license.License
	err := m.write(ctx, OpRefillPool, func(ctx context.Context, tx Tx, c *changes) error {
		p, err := tx.LockPartner(ctx, partnerID)
		if err != nil {
			return err
		}
		keyErr := license.ValidateKey(in.Key)
		k, productID, invalid, err := resolvePool(ctx, tx, p.ID, in.Product, in.UnitType)
		if err != nil {
			return err
		}
		var prior []license.License
		if in.Key != "" && keyErr == nil {
			if prior, err = tx.LicensesByGrantKey(ctx, p.ID, in.Key); err != nil {
				return err
			}
			if invalid == nil && sameRefill(prior, k, in.Units) {
				out = prior[0]
				return nil
			}
		}
		if err := Check(p.Status, p.Type, OpRefillPool); err != nil {
			return err
		}
		errs := []error{invalid}
		if in.Units < 0 || in.Units > license.MaxUnits {
			errs = append(errs, invalidf("units", "must be 0 (up to the cap) to %d (got %d)", license.MaxUnits, in.Units))
		}
		errs = append(errs, keyErr)
		if err := errors.Join(errs...); err != nil {
			return err
		}
		if len(prior) > 0 {
			return NewError(ErrDuplicate, license.KeyField, "%q was used for a different request", in.Key)
		}
		if !p.PoolRefill {
			return NewError(ErrRefillOff, "", "License pool refill is off for this partner: the vendor can turn it on")
		}
		lics, _, err := tx.Licenses(ctx, p.ID, Page{})
		if err != nil {
			return err
		}
		sets, err := tx.PoolSettings(ctx, p.ID)
		if err != nil {
			return err
		}
		pool := findPool(poolsOf(lics, sets, p.MinimumLicenses, c.at), k)
		if pool.ProductID == 0 {
			pool.ProductID = productID
		}
		switch {
		case !hasUsable(lics, k, c.at):
			return NewError(ErrNotFound, "product", "the partner has no usable licence of %s to refill", k)
		case pool.Remaining > 0:
			return NewError(ErrPoolNotDepleted, "", "%s still has %d units remaining: it can be refilled once they are all allocated",
				k, pool.Remaining)
		case pool.Cap == 0:
			return NewError(ErrRefillOff, "", "%s has no refill capacity (its cap is 0): the vendor can set one", k)
		}
		units, origin := in.Units, license.OriginRefill
		if units == 0 {
			units, origin = min(pool.Cap-pool.Units, license.MaxUnits), license.OriginTopUp
			if units < 1 {
				return NewError(ErrInsufficientUnits, "units", "%s is at its cap: %d units provisioned, cap %d", k, pool.Units, pool.Cap)
			}
		} else if pool.Units+units > pool.Cap {
			return NewError(ErrInsufficientUnits, "units", "a refill of %d units would take %s to %d units, beyond its cap of %d",
				units, k, pool.Units+units, pool.Cap)
		}
		l := refillLicense(p.ID, pool, lics, units, in.Key, origin, c.at)
		if err := tx.CreateLicense(ctx, &l); err != nil {
			return err
		}
		out = l
		return c.recordFor(ctx, tx, l, OpRefillPool, refillChanges(l, "pool_units", "Pool units", pool.Units, pool.Units+l.Units))
	})
	return out, err
}

// refillChanges are the audit changes of a refill: the new licence, and
// the pool figure it changed.
func refillChanges(l license.License, field, label string, before, after int64) []Change {
	var cl changeList
	cl.set("license", "Licence", value{licenseText(l), mustJSON(licenseJSON{l.ID, l.ProductID, l.Product, l.UnitType,
		l.Units, string(l.Kind), l.Start.UTC(), l.Expiry.UTC()})})
	cl.add(field, label, intValue(before), intValue(after))
	return cl
}

// sameRefill reports whether prior, the licences of a key, are the result
// of a refill of the pool k with the units asked.
func sameRefill(prior []license.License, k poolKey, units int64) bool {
	if len(prior) != 1 || poolOf(prior[0]) != k {
		return false
	}
	l := prior[0]
	if units == 0 {
		return l.Origin == license.OriginTopUp
	}
	return l.Origin == license.OriginRefill && l.GrantedUnits == units
}

func hasUsable(lics []license.License, k poolKey, now time.Time) bool {
	for _, l := range lics {
		if poolOf(l) == k && usableAt(l, now) {
			return true
		}
	}
	return false
}

// refillLicense is the licence a refill of pool issues: it starts now and
// ends with the latest-expiring usable licence of the pool, Full unless
// all of those are Trials.
func refillLicense(partnerID int64, pool Pool, lics []license.License, units int64, key string, origin license.Origin, now time.Time) license.License {
	kind, expiry := license.Trial, time.Time{}
	k := poolKey{pool.Product, pool.UnitType}
	for _, l := range lics {
		if poolOf(l) != k || !usableAt(l, now) {
			continue
		}
		if l.Kind == license.Full {
			kind = license.Full
		}
		if l.Expiry.After(expiry) {
			expiry = l.Expiry
		}
	}
	return license.License{PartnerID: partnerID, ProductID: pool.ProductID, Product: pool.Product, UnitType: pool.UnitType,
		Kind: kind, Units: units, Start: now, Expiry: expiry, GrantedUnits: units, GrantedExpiry: expiry, GrantedKind: kind,
		GrantKey: key, Origin: origin, CreatedAt: now, UpdatedAt: now}
}

// afterAllocation raises EventPoolBelowMinimum when taking units from the
// pool of l has just made it fall below the pool's minimum and then, when
// the pool refills itself, issues the automatic refill in the same
// transaction. poolSets, when not nil, are the partner's settings of the
// pool of l (UnitsAllocator read them), which decide whether the pool has
// a minimum at all without reading the others.
func (m *Manager) afterAllocation(ctx context.Context, tx Tx, c *changes, p Partner, l license.License, taken int64, poolSets []PoolSettings) error {
	sets, err := poolSets, error(nil)
	if sets == nil {
		if sets, err = tx.PoolSettings(ctx, p.ID); err != nil {
			return err
		}
	}
	k := poolOf(l)
	minimum, auto := p.MinimumLicenses, false
	for _, s := range sets {
		if s.Product == k.product && s.UnitType == k.unitType {
			auto = s.AutoRefill
			if s.MinimumSet {
				minimum = s.Minimum
			}
		}
	}
	if minimum == 0 {
		return nil
	}
	if poolSets != nil {
		if sets, err = tx.PoolSettings(ctx, p.ID); err != nil {
			return err
		}
	}
	lics, _, err := tx.Licenses(ctx, p.ID, Page{})
	if err != nil {
		return err
	}
	pool := findPool(poolsOf(lics, sets, p.MinimumLicenses, c.at), k)
	if before := pool.Remaining + taken; !pool.Low || before < minimum {
		return nil
	}
	c.emit(EventPoolBelowMinimum, AuditEntry{PartnerID: p.ID, Actor: c.actor, Action: OpAllocateUnits,
		Target: pool.Name(), Changes: lowChanges(intValue(pool.Remaining+taken), pool.Remaining, minimum), At: c.at})
	if !auto {
		return nil
	}
	units := (3*minimum + 1) / 2 // 1.5 × the minimum, rounded up
	if pool.Cap > 0 {
		units = min(units, pool.Cap-pool.Units)
	}
	units = min(units, license.MaxUnits)
	if units < 1 {
		return nil // the pool is at its cap
	}
	nl := refillLicense(p.ID, pool, lics, units, "", license.OriginAutoRefill, c.at)
	if err := tx.CreateLicense(ctx, &nl); err != nil {
		return err
	}
	return c.recordFor(ctx, tx, nl, OpAutoRefill, refillChanges(nl, "remaining", "Remaining units", pool.Remaining, pool.Remaining+nl.Units))
}
