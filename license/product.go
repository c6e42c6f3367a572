package license

import (
	"errors"
	"strings"
	"time"
)

// The unit types a catalogue product is sold in.
const (
	Seats   = "seats"
	Users   = "users"
	Devices = "devices"
)

// UnitTypes lists the unit types of catalogue products.
func UnitTypes() []string { return []string{Seats, Users, Devices} }

// ValidUnitType reports whether u is one of UnitTypes.
func ValidUnitType(u string) bool { return u == Seats || u == Users || u == Devices }

// MaxTrialDays is the longest default trial a product may offer.
const MaxTrialDays = 365

// Product is an entry of the vendor's product catalogue: what licences
// are granted for. Its name is unique across the catalogue with letter
// case folded (the store checks), and its unit type is fixed at creation,
// since licences were granted in it.
type Product struct {
	ID   int64
	Name string
	// UnitType is one of Seats, Users, Devices.
	UnitType string
	// TrialOffered says whether Trial licences of the product may be
	// granted; TrialDays is their default length (1 to MaxTrialDays), 0
	// when no trial is offered.
	TrialOffered bool
	TrialDays    int
	Version      int64
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Normalize trims the name, trims and lower-cases the unit type, and
// clears TrialDays when no trial is offered.
func (p *Product) Normalize() {
	p.Name = strings.TrimSpace(p.Name)
	p.UnitType = strings.ToLower(strings.TrimSpace(p.UnitType))
	if !p.TrialOffered {
		p.TrialDays = 0
	}
}

// Validate reports every invalid field of p, each as an error wrapping
// partner.ErrInvalid, in field order (errors.Join). The uniqueness of the
// name is the store's to check.
func (p Product) Validate() error {
	errs := []error{checkText("name", p.Name, MaxTextLen)}
	if !ValidUnitType(p.UnitType) {
		errs = append(errs, invalid("unit type", "must be one of %s (got %q)", strings.Join(UnitTypes(), ", "), p.UnitType))
	}
	switch {
	case p.TrialOffered && (p.TrialDays < 1 || p.TrialDays > MaxTrialDays):
		errs = append(errs, invalid("trial days", "must be 1 to %d when a trial is offered (got %d)", MaxTrialDays, p.TrialDays))
	case !p.TrialOffered && p.TrialDays != 0:
		errs = append(errs, invalid("trial days", "must be 0 when no trial is offered (got %d)", p.TrialDays))
	}
	return errors.Join(errs...)
}

// ProductPatch changes a catalogue product; nil fields stay as they are.
// The unit type is fixed at creation.
type ProductPatch struct {
	// Version, when not zero, must equal the product's current version or
	// the change fails with a conflict.
	Version      int64
	Name         *string
	TrialOffered *bool
	TrialDays    *int
}

// Apply returns p with the patch applied (not yet normalized nor
// validated).
func (pt ProductPatch) Apply(p Product) Product {
	if pt.Name != nil {
		p.Name = *pt.Name
	}
	if pt.TrialOffered != nil {
		p.TrialOffered = *pt.TrialOffered
	}
	if pt.TrialDays != nil {
		p.TrialDays = *pt.TrialDays
	}
	return p
}
