// Package serviceplan holds the value types of the Service Plans tab: the
// plan catalogue a vendor keeps, the data centers plans and Remote Manager
// access are tied to, and the assignment of plans to Reseller partners.
//
// A plan is a template a reseller provisions customers from. Disabling or
// removing a plan never takes anything away from customers already
// provisioned with it.
package serviceplan

import (
	"errors"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/partnerkit/partnerkit/internal/fielderr"
)

// DataCenter is the code of a data center, as the product's API uses it.
type DataCenter string

// The data centers.
const (
	US DataCenter = "US"
	CA DataCenter = "CA"
	UK DataCenter = "UK"
	EU DataCenter = "EU"
	SG DataCenter = "SG"
	JP DataCenter = "JP"
	IN DataCenter = "IN"
	AU DataCenter = "AU"
)

var dataCenterLabels = map[DataCenter]string{
	US: "United States", CA: "Canada", UK: "United Kingdom", EU: "Europe",
	SG: "Singapore", JP: "Japan", IN: "India", AU: "Australia",
}

// DataCenters lists every data center in console order.
func DataCenters() []DataCenter { return []DataCenter{US, CA, UK, EU, SG, JP, IN, AU} }

// Valid reports whether d is a known data center code.
func (d DataCenter) Valid() bool { _, ok := dataCenterLabels[d]; return ok }

// Label is the console label of d ("Europe").
func (d DataCenter) Label() string {
	if l, ok := dataCenterLabels[d]; ok {
		return l
	}
	return string(d)
}

// ParseDataCenter accepts a code in any letter case ("eu", "EU").
func ParseDataCenter(s string) (DataCenter, error) {
	d := DataCenter(strings.ToUpper(strings.TrimSpace(s)))
	if !d.Valid() {
		return "", invalid("data center", "must be one of US, CA, UK, EU, SG, JP, IN, AU (got %q)", s)
	}
	return d, nil
}

// Kind says whether customers provisioned from a plan get trial or full
// units. Its values match license.Kind.
type Kind string

// The kinds of plan.
const (
	Trial Kind = "trial"
	Full  Kind = "full"
)

// Valid reports whether k is Trial or Full.
func (k Kind) Valid() bool { return k == Trial || k == Full }

// Limits on plan fields.
const (
	MaxNameLen          = 100
	MaxTextLen          = 100
	MaxInitialPeriod    = 120 // months
	MaxExpiryNoticeDays = 365
)

func invalid(field, format string, args ...any) error {
	return fielderr.New("serviceplan", field, format, args...)
}

func checkText(field, s string, max int) error {
	switch n := utf8.RuneCountInString(s); {
	case !utf8.ValidString(s):
		return invalid(field, "is not valid UTF-8")
	case strings.TrimSpace(s) == "":
		return invalid(field, "is required")
	case n > max:
		return invalid(field, "must be at most %d characters (got %d)", max, n)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return invalid(field, "must not contain control characters")
	}
	return nil
}

// Plan is an entry of the service plan catalogue.
type Plan struct {
	ID int64
	// Name is unique across the catalogue.
	Name     string
	Enabled  bool
	Product  string
	Kind     Kind
	UnitType string
	// NFR marks a not-for-resale plan; at most one NFR plan exists per
	// product per data center.
	NFR        bool
	DataCenter DataCenter
	// InitialPeriodMonths is the initial subscription period (1 to 120).
	InitialPeriodMonths int
	AutoRenew           bool
	// ExpiryNoticeDays is how many days before expiry customers are told
	// (0 to 365; 0 sends no notice).
	ExpiryNoticeDays int
	Version          int64
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// Normalize trims the text fields and upper-cases the data center.
func (p *Plan) Normalize() {
	p.Name = strings.TrimSpace(p.Name)
	p.Product = strings.TrimSpace(p.Product)
	p.UnitType = strings.TrimSpace(p.UnitType)
	p.DataCenter = DataCenter(strings.ToUpper(strings.TrimSpace(string(p.DataCenter))))
}

// Validate reports every invalid field of p, each as an error wrapping
// partner.ErrInvalid, in field order (errors.Join); partner.FieldErrors
// lists them and partner.ErrorField names the first. The uniqueness of
// the name and of NFR plans is the store's to check.
func (p Plan) Validate() error {
	errs := []error{checkText("name", p.Name, MaxNameLen), checkText("product", p.Product, MaxTextLen)}
	if !p.Kind.Valid() {
		errs = append(errs, invalid("kind", "must be %q or %q (got %q)", Trial, Full, p.Kind))
	}
	errs = append(errs, checkText("unit type", p.UnitType, MaxTextLen))
	if !p.DataCenter.Valid() {
		errs = append(errs, invalid("data center", "must be one of US, CA, UK, EU, SG, JP, IN, AU (got %q)", p.DataCenter))
	}
	if p.InitialPeriodMonths < 1 || p.InitialPeriodMonths > MaxInitialPeriod {
		errs = append(errs, invalid("initial period", "must be 1 to %d months (got %d)", MaxInitialPeriod, p.InitialPeriodMonths))
	}
	if p.ExpiryNoticeDays < 0 || p.ExpiryNoticeDays > MaxExpiryNoticeDays {
		errs = append(errs, invalid("expiry notice", "must be 0 to %d days (got %d)", MaxExpiryNoticeDays, p.ExpiryNoticeDays))
	}
	return errors.Join(errs...)
}

// Patch changes the mutable fields of a plan; nil fields stay as they are.
// Product, kind, unit type, NFR and data center are fixed at creation,
// because customers were provisioned on them.
type Patch struct {
	// Version, when not zero, must equal the plan's current version or the
	// change fails with a conflict.
	Version             int64
	Name                *string
	Enabled             *bool
	InitialPeriodMonths *int
	AutoRenew           *bool
	ExpiryNoticeDays    *int
}

// Apply returns p with the patch applied (not yet validated).
func (pt Patch) Apply(p Plan) Plan {
	if pt.Name != nil {
		p.Name = *pt.Name
	}
	if pt.Enabled != nil {
		p.Enabled = *pt.Enabled
	}
	if pt.InitialPeriodMonths != nil {
		p.InitialPeriodMonths = *pt.InitialPeriodMonths
	}
	if pt.AutoRenew != nil {
		p.AutoRenew = *pt.AutoRenew
	}
	if pt.ExpiryNoticeDays != nil {
		p.ExpiryNoticeDays = *pt.ExpiryNoticeDays
	}
	return p
}

// Assignment makes a plan available to a Reseller partner.
type Assignment struct {
	PartnerID  int64
	PlanID     int64
	AssignedAt time.Time
}
