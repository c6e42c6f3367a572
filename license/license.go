// Package license holds the value types of the Licenses tab: the vendor's
// product catalogue, a licence granted to a partner (product, unit type,
// units, Trial or Full, start and expiry), its derived state, and
// allocations of its units to customers.
//
// The package validates values; it does not store them. Changes go through
// partner.Manager, which applies the partner guards and keeps every change
// all-or-nothing.
package license

import (
	"errors"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/partnerkit/partnerkit/internal/fielderr"
)

// Kind says whether the units of a licence are a trial or a full (paid)
// grant. All units of one licence are of the same kind.
type Kind string

// The two kinds of licence.
const (
	Trial Kind = "trial"
	Full  Kind = "full"
)

// Valid reports whether k is Trial or Full.
func (k Kind) Valid() bool { return k == Trial || k == Full }

// Label is the console label of k ("Trial", "Full").
func (k Kind) Label() string {
	switch k {
	case Trial:
		return "Trial"
	case Full:
		return "Full"
	}
	return string(k)
}

// State is the derived state of a licence, as the Licenses tab shows it.
type State string

// The states of a licence, in the order StateAt decides them.
const (
	Disabled     State = "disabled"
	Expired      State = "expired"
	Exceeded     State = "exceeded"
	ExpiringSoon State = "expiring_soon"
	Normal       State = "normal"
)

// Label is the console label of s ("Expiring soon", ...).
func (s State) Label() string {
	switch s {
	case Disabled:
		return "Disabled"
	case Expired:
		return "Expired"
	case Exceeded:
		return "Exceeded allocation"
	case ExpiringSoon:
		return "Expiring soon"
	case Normal:
		return "Normal"
	}
	return string(s)
}

// Limits on a grant. A grant outside them is refused as invalid input.
const (
	// MaxUnits is the largest number of units one licence may provision.
	MaxUnits = 1_000_000
	// MaxTerm is the longest time between a licence's start and its expiry.
	MaxTerm = 10 * 366 * 24 * time.Hour
	// MaxTextLen is the longest product or unit type, in characters.
	MaxTextLen = 100
	// MaxKeyLen is the longest idempotency key, in characters (runes, not
	// bytes).
	MaxKeyLen = 128
)

// DefaultExpiringWindow is how long before its expiry a licence shows as
// Expiring soon when the caller has no window of its own.
const DefaultExpiringWindow = 30 * 24 * time.Hour

func invalid(field, format string, args ...any) error {
	return fielderr.New("license", field, format, args...)
}

// checkText refuses empty, overlong, non-UTF-8 or control-character text.
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

// KeyField is the field name idempotency key errors carry.
const KeyField = "idempotency key"

// ValidateKey checks an idempotency key: valid UTF-8, at most MaxKeyLen
// characters, no control characters, and no white space at either end.
// The empty key is valid and means "no idempotency". A key is compared
// exactly as given: "key" and "Key" are two keys, and nothing ever trims,
// folds or otherwise alters one.
func ValidateKey(key string) error {
	switch n := utf8.RuneCountInString(key); {
	case key == "":
		return nil
	case !utf8.ValidString(key):
		return invalid(KeyField, "is not valid UTF-8")
	case n > MaxKeyLen:
		return invalid(KeyField, "must be at most %d characters (got %d)", MaxKeyLen, n)
	case strings.IndexFunc(key, unicode.IsControl) >= 0:
		return invalid(KeyField, "must not contain control characters")
	case strings.TrimSpace(key) != key:
		return invalid(KeyField, "must not begin or end with white space")
	}
	return nil
}

// Grant is a request to grant units of one product to a partner.
//
// The Manager resolves a grant against the product catalogue: by
// ProductID when it is set, else by Product, compared with letter case
// folded. The catalogue's name and unit type then replace what the grant
// says (a UnitType given must be the product's). A grant that names no
// catalogue product is refused, also while the catalogue is empty: the
// vendor creates its products first.
type Grant struct {
	// ProductID names a catalogue product; 0 means "by name".
	ProductID int64
	Product   string
	UnitType  string // seats, users, devices...
	Units     int64
	Kind      Kind
	Start     time.Time
	// Expiry may be left zero for a Trial grant of a catalogue product that
	// offers a trial: it is then Start plus the product's TrialDays.
	Expiry time.Time
}

// Normalize trims surrounding white space from the text fields.
func (g *Grant) Normalize() {
	g.Product = strings.TrimSpace(g.Product)
	g.UnitType = strings.TrimSpace(g.UnitType)
}

// Validate reports every invalid field of g, each as an error wrapping
// partner.ErrInvalid, in field order (errors.Join); partner.FieldErrors
// lists them and partner.ErrorField names the first. A grant with a
// ProductID may leave Product and UnitType empty: the catalogue supplies
// them.
func (g Grant) Validate() error {
	var errs []error
	switch {
	case g.ProductID < 0:
		errs = append(errs, invalid("product", "id must not be negative (got %d)", g.ProductID))
	case g.ProductID == 0 || g.Product != "":
		errs = append(errs, checkText("product", g.Product, MaxTextLen))
	}
	if g.ProductID == 0 || g.UnitType != "" {
		errs = append(errs, checkText("unit type", g.UnitType, MaxTextLen))
	}
	errs = append(errs, ValidateUnits("units", g.Units))
	if !g.Kind.Valid() {
		errs = append(errs, invalid("kind", "must be %q or %q (got %q)", Trial, Full, g.Kind))
	}
	start, expiry := validDate("start", g.Start), validDate("expiry", g.Expiry)
	errs = append(errs, start, expiry)
	switch {
	case start != nil || expiry != nil:
	case !g.Expiry.After(g.Start):
		errs = append(errs, invalid("expiry", "must be after the start date"))
	case g.Expiry.Sub(g.Start) > MaxTerm:
		errs = append(errs, invalid("expiry", "must be at most ten years after the start date"))
	}
	return errors.Join(errs...)
}

// ValidateUnits refuses a unit count below 1 or above MaxUnits.
func ValidateUnits(field string, n int64) error {
	if n < 1 {
		return invalid(field, "must be at least 1 (got %d)", n)
	}
	if n > MaxUnits {
		return invalid(field, "must be at most %d (got %d)", MaxUnits, n)
	}
	return nil
}

func validDate(field string, t time.Time) error {
	if t.IsZero() {
		return invalid(field, "is required")
	}
	if y := t.Year(); y < 2000 || y > 2200 {
		return invalid(field, "must be between the years 2000 and 2200 (got %d)", y)
	}
	return nil
}

// Origin says how a licence came to be.
type Origin string

// The origins of a licence.
const (
	// OriginAssigned: granted by the vendor (Assign Licenses, or the first
	// licences of a new partner).
	OriginAssigned Origin = "assigned"
	// OriginRefill: created by the partner's own pool refill of a given
	// number of units.
	OriginRefill Origin = "refill"
	// OriginTopUp: created by the partner's own pool refill up to the
	// pool's cap.
	OriginTopUp Origin = "refill_top_up"
	// OriginAutoRefill: issued by the pool's automatic refill when an
	// allocation took it below its minimum.
	OriginAutoRefill Origin = "auto_refill"
)

// Valid reports whether o is one of the origins.
func (o Origin) Valid() bool {
	return o == OriginAssigned || o == OriginRefill || o == OriginTopUp || o == OriginAutoRefill
}

// Label is the console label of o ("Pool refill").
func (o Origin) Label() string {
	switch o {
	case OriginAssigned:
		return "Assigned"
	case OriginRefill:
		return "Pool refill"
	case OriginTopUp:
		return "Pool refill to the cap"
	case OriginAutoRefill:
		return "Automatic pool refill"
	}
	return string(o)
}

// License is a grant of units of one product to a partner.
type License struct {
	ID        int64
	PartnerID int64
	// ProductID is the catalogue product of the licence; 0 marks a licence
	// granted before the catalogue existed ("uncatalogued"), whose Product
	// is only a name. Such licences keep working; no new one is granted.
	ProductID int64
	// Product is the product's name: the catalogue's current name for a
	// catalogue product (a rename in the catalogue renames its licences).
	Product  string
	UnitType string
	Kind     Kind
	// Units is the number of units provisioned to the partner.
	Units int64
	// Used is the number of units allocated to the partner's customers.
	// Stores never let it go below zero nor above Units.
	Used     int64
	Start    time.Time
	Expiry   time.Time
	Disabled bool
	// DisabledAt is when the licence was disabled; zero while it is not.
	DisabledAt time.Time
	// GrantedUnits, GrantedExpiry and GrantedKind are the units, expiry and
	// kind the licence was granted with; they never change, while Units,
	// Expiry and Kind may (added or reduced units, an extension, a
	// conversion to Full, cancellation). An idempotent replay compares with
	// them. Stores keep an empty GrantedKind as Kind.
	GrantedUnits  int64
	GrantedExpiry time.Time
	GrantedKind   Kind
	// GrantKey is the idempotency key of the assignment or pool refill
	// that created the licence, or empty.
	GrantKey string
	// Origin says how the licence came to be; stores keep an empty Origin
	// as OriginAssigned.
	Origin    Origin
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Remaining is the number of units not yet allocated.
func (l License) Remaining() int64 { return l.Units - l.Used }

// StateAt derives the state of l at now. A licence is Expiring soon when
// its expiry is less than window away. The first matching state wins:
// Disabled, Expired, Exceeded allocation (more units used than provisioned,
// which the Manager never causes but which usage recorded elsewhere may),
// Expiring soon, Normal.
func (l License) StateAt(now time.Time, window time.Duration) State {
	switch {
	case l.Disabled:
		return Disabled
	case !now.Before(l.Expiry):
		return Expired
	case l.Used > l.Units:
		return Exceeded
	case l.Expiry.Sub(now) < window:
		return ExpiringSoon
	}
	return Normal
}

// Allocation is a number of units of one licence given to one customer.
type Allocation struct {
	ID         int64
	LicenseID  int64
	PartnerID  int64
	CustomerID int64
	Units      int64
	CreatedAt  time.Time
}
