// Package partner is the facade of the library: the Partner aggregate, the
// Manager through which every change goes, the guard table that says what
// may change for each partner status and type, and the Store contract
// that storage adapters (memstore, bunstore) implement.
//
// A vendor or distributor (Tier 1) manages its partner companies (Tier 2):
// MSPs and Resellers, their licence pools, service plans, console accounts,
// customers, profile and status, and its own product catalogue. The rules of the partner screen hold here,
// whatever user interface sits on top:
//
//   - a Suspended partner can only have its Profile changed;
//   - a Canceled partner cannot be changed at all, ever;
//   - Disable Licenses and Management Licenses are for MSPs only;
//   - Service Plans are for Resellers only.
//
// # Where to look
//
// Hosts use NewManager and the Manager's methods, their parameter types
// (CreateParams, ProfilePatch, AssignLicensesParams, CustomerParams,
// AllocateParams, PoolSettingsParams, RefillPoolParams, BulkParams with
// BulkAction) and results, the records (Partner, Profile, Contact,
// Customer, AuditEntry with its Changes, Pool, PoolSettings, Notice,
// BulkRun, BulkItem), Filter (with SortBy and Attention), CustomerFilter,
// AuditFilter, BulkItemFilter and Page for lists, ListAll and AuditLogAll
// for exports, WithActor for the audit trail, Subscribe and Event for
// hooks, Dispatch (DispatchOptions) for events delivered at least once
// from the outbox, Sweep on a schedule for the expiry notices,
// BulkPreview, Bulk and BulkRun for changes across partners, and the
// sentinel errors with
// ErrorField, ErrorReason and FieldErrors. The product catalogue's types
// are in package license (Product, ProductPatch).
//
// User interfaces read the guard table: Check, Applies, Tabs,
// TabAvailable, Operations, OperationTab and OperationLabel.
//
// Store authors implement Store (with Tx and Reader) and run
// partner/storetest; FoldName, NameSortKey, AsOf, NewError and
// AllocationFilter are theirs.
// The contract lives here rather than in a package of its own because its
// methods speak the domain types above: a separate package would force
// those types into a third one that every host imports.
package partner

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/serviceplan"
)

// DataCenter is a data center code (US, CA, UK, EU, SG, JP, IN, AU).
type DataCenter = serviceplan.DataCenter

// Type is the kind of partner company.
type Type string

// The partner types.
const (
	MSP      Type = "msp"
	Reseller Type = "reseller"
)

// Types lists the partner types.
func Types() []Type { return []Type{MSP, Reseller} }

// Valid reports whether t is MSP or Reseller.
func (t Type) Valid() bool { return t == MSP || t == Reseller }

// Label is the console label of t ("MSP", "Reseller").
func (t Type) Label() string {
	switch t {
	case MSP:
		return "MSP"
	case Reseller:
		return "Reseller"
	}
	return string(t)
}

// Status is the partnership status.
type Status string

// The partnership statuses. Allowed transitions: Active → Suspended,
// Suspended → Active, Active → Canceled, Suspended → Canceled.
const (
	Active    Status = "active"
	Suspended Status = "suspended"
	Canceled  Status = "canceled"
)

// Statuses lists the statuses.
func Statuses() []Status { return []Status{Active, Suspended, Canceled} }

// Valid reports whether s is a known status.
func (s Status) Valid() bool { return s == Active || s == Suspended || s == Canceled }

// Label is the console label of s ("Active").
func (s Status) Label() string {
	switch s {
	case Active:
		return "Active"
	case Suspended:
		return "Suspended"
	case Canceled:
		return "Canceled"
	}
	return string(s)
}

// Contact is a person at the partner company.
type Contact struct {
	FirstName string
	LastName  string
	Email     string
	Phone     string
}

// Profile holds the company details of the Profile tab.
type Profile struct {
	CompanyName string
	City        string
	State       string // state or province
	Country     string
	// Contacts lists the company's contacts, the first being the primary.
	Contacts []Contact
	// SignInURL is the partner's own console sign-in address, or "".
	SignInURL string
}

// Limits on profile fields.
const (
	MaxCompanyLen  = 200
	MaxPlaceLen    = 100
	MaxPhoneLen    = 40
	MaxContacts    = 10
	MaxURLLen      = 2000
	MaxMinimumPool = 1_000_000
)

// Normalize trims the text fields of p.
func (p *Profile) Normalize() {
	p.CompanyName = strings.TrimSpace(p.CompanyName)
	p.City = strings.TrimSpace(p.City)
	p.State = strings.TrimSpace(p.State)
	p.Country = strings.TrimSpace(p.Country)
	p.SignInURL = strings.TrimSpace(p.SignInURL)
	for i := range p.Contacts {
		c := &p.Contacts[i]
		c.FirstName, c.LastName = strings.TrimSpace(c.FirstName), strings.TrimSpace(c.LastName)
		c.Email, c.Phone = strings.TrimSpace(c.Email), strings.TrimSpace(c.Phone)
	}
}

// equal reports whether p and o hold the same values (nil and empty
// contact lists alike).
func (p Profile) equal(o Profile) bool {
	return p.CompanyName == o.CompanyName && p.City == o.City && p.State == o.State && p.Country == o.Country &&
		p.SignInURL == o.SignInURL && slices.Equal(p.Contacts, o.Contacts)
}

// Validate reports every invalid field of p as an *Error of kind
// ErrInvalid (see FieldErrors); ErrorField names the first. Contact
// fields are named "contact N first name" and so on, N counting from 1.
func (p Profile) Validate() error { return withOp("", p.validate()) }

func (p Profile) validate() error {
	errs := []error{
		checkText("company name", p.CompanyName, MaxCompanyLen, true),
		checkText("city", p.City, MaxPlaceLen, true),
		checkText("state", p.State, MaxPlaceLen, false),
		checkText("country", p.Country, MaxPlaceLen, true),
	}
	if len(p.Contacts) > MaxContacts {
		errs = append(errs, invalidf("contacts", "must be at most %d (got %d)", MaxContacts, len(p.Contacts)))
	}
	for i, c := range p.Contacts {
		prefix := fmt.Sprintf("contact %d ", i+1)
		errs = append(errs,
			account.ValidatePerson(prefix+"first name", c.FirstName),
			account.ValidatePerson(prefix+"last name", c.LastName),
			account.ValidateEmail(prefix+"email", c.Email),
			checkText(prefix+"phone", c.Phone, MaxPhoneLen, false))
	}
	if p.SignInURL != "" {
		u, err := url.Parse(p.SignInURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(p.SignInURL) > MaxURLLen {
			errs = append(errs, invalidf("sign-in URL", "must be an absolute http or https address"))
		}
	}
	return errors.Join(errs...)
}

func checkText(field, s string, max int, required bool) error {
	switch n := utf8.RuneCountInString(s); {
	case !utf8.ValidString(s):
		return invalidf(field, "is not valid UTF-8")
	case strings.TrimSpace(s) == "":
		if required {
			return invalidf(field, "is required")
		}
	case n > max:
		return invalidf(field, "must be at most %d characters (got %d)", max, n)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return invalidf(field, "must not contain control characters")
	}
	return nil
}

// Partner is a partner company (Tier 2) and its settings.
type Partner struct {
	ID      int64
	Type    Type
	Status  Status
	Profile Profile
	// PoolRefill (License pool refill) lets the partner create new
	// licences itself once a pool is depleted (see Manager.RefillPool).
	PoolRefill bool
	// MinimumLicenses is the low-stock threshold of each pool (a product
	// and unit type) that has none of its own (see PoolSettings): a pool
	// whose remaining units fall below it shows as low. 0 turns the
	// threshold off.
	MinimumLicenses int64
	// RemoteManager lists the data centers for which the MSP has Remote
	// Manager access, in DataCenters order.
	RemoteManager []DataCenter
	Version       int64
	CreatedAt     time.Time
	UpdatedAt     time.Time
	// CanceledAt is when the partnership was canceled, or zero.
	CanceledAt time.Time

	// Derived at read time by the store, never stored: the number of
	// customers the partner manages and its licence unit totals.
	Customers        int
	UnitsProvisioned int64
	UnitsUsed        int64
	// Derived at read time too, at the Manager's clock: how many of the
	// partner's pools are low (below their minimum, as Pools marks them),
	// how many of its licences are Expiring soon (within the Manager's
	// expiring window) and how many have expired, disabled licences left
	// out. Tx.LockPartner and Reader.Partner leave them zero; every
	// partner the Manager returns has them.
	LowStockPools    int
	ExpiringLicenses int
	ExpiredLicenses  int
}

// Usage is the share of the partner's provisioned units that are used,
// from 0 to 1; 0 without provisioned units.
func (p Partner) Usage() float64 {
	if p.UnitsProvisioned == 0 {
		return 0
	}
	return float64(p.UnitsUsed) / float64(p.UnitsProvisioned)
}

// HasRemoteManager reports whether Remote Manager is enabled for dc.
func (p Partner) HasRemoteManager(dc DataCenter) bool {
	for _, d := range p.RemoteManager {
		if d == dc {
			return true
		}
	}
	return false
}

// Customer is a company that a partner manages.
type Customer struct {
	ID        int64
	PartnerID int64
	Name      string
	Email     string // optional contact address
	CreatedAt time.Time
}

// Page selects a window of a list. Limit 0 means DefaultLimit; limits
// above MaxLimit are refused.
type Page struct {
	Offset int
	Limit  int
}

// Paging limits.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// normalize applies the defaults and checks the bounds.
func (p Page) normalize() (Page, error) {
	if p.Offset < 0 {
		return p, invalidf("offset", "must not be negative (got %d)", p.Offset)
	}
	if p.Limit < 0 || p.Limit > MaxLimit {
		return p, invalidf("limit", "must be 0 to %d (got %d)", MaxLimit, p.Limit)
	}
	if p.Limit == 0 {
		p.Limit = DefaultLimit
	}
	return p, nil
}

// Filter selects and orders partners for List and ListAll. Zero fields
// match everything; the zero order is by id.
type Filter struct {
	// Name matches company names containing it, ignoring letter case.
	Name   string
	Status Status
	Type   Type
	// ProductID selects the partners that hold a licence of this
	// catalogue product, in any state.
	ProductID int64
	// Attention selects the partners that need a look: with low pools
	// (AttentionLowStock), with licences Expiring soon
	// (AttentionExpiring), or either (both flags).
	Attention Attention
	// IDs, when not empty, selects these partners only.
	IDs []int64
	// Sort orders the list; Desc reverses its first key (see SortBy).
	Sort SortBy
	Desc bool
	Page
}

// SortBy names an order of the partners list. Every order but SortID and
// SortName breaks ties by name, then by id; SortName breaks them by id.
// Desc reverses the named key only: ties stay in ascending name and id
// order.
type SortBy string

// The orders of the partners list.
const (
	// SortID orders by id, which is creation order: the default.
	SortID SortBy = ""
	// SortName orders by company name, ignoring letter case and accents
	// (NameSortKey): "École" sorts with "ecole", before "Ether".
	SortName SortBy = "name"
	// SortType orders MSPs before Resellers.
	SortType SortBy = "type"
	// SortStatus orders Active, Suspended, then Canceled partners.
	SortStatus SortBy = "status"
	// SortCustomers orders by the number of customers.
	SortCustomers SortBy = "customers"
	// SortUsage orders by the share of provisioned units used (Usage), in
	// millionths, rounded down; 0 without provisioned units.
	SortUsage SortBy = "usage"
	// SortCreated orders by the instant the partner was created.
	SortCreated SortBy = "created"
)

// SortOrders lists the orders of the partners list.
func SortOrders() []SortBy {
	return []SortBy{SortID, SortName, SortType, SortStatus, SortCustomers, SortUsage, SortCreated}
}

// Valid reports whether s is one of SortOrders.
func (s SortBy) Valid() bool { return slices.Contains(SortOrders(), s) }

// Attention is a set of reasons for a partner to need a look; a filter
// with several matches the partners with any of them.
type Attention uint8

// The reasons a partner needs a look.
const (
	// AttentionLowStock: a pool of the partner is low
	// (Partner.LowStockPools above 0).
	AttentionLowStock Attention = 1 << iota
	// AttentionExpiring: a licence of the partner is Expiring soon
	// (Partner.ExpiringLicenses above 0).
	AttentionExpiring
	// AttentionAny is either.
	AttentionAny = AttentionLowStock | AttentionExpiring
)

// normalize validates f for List and ListAll, and its page.
func (f Filter) normalize() (Filter, error) {
	var errs []error
	if f.Status != "" && !f.Status.Valid() {
		errs = append(errs, invalidf("status", "is not a partner status (got %q)", f.Status))
	}
	if f.Type != "" && !f.Type.Valid() {
		errs = append(errs, invalidf("type", "must be MSP or Reseller (got %q)", f.Type))
	}
	if f.ProductID < 0 {
		errs = append(errs, invalidf("product", "must be a catalogue product id (got %d)", f.ProductID))
	}
	if f.Attention&^AttentionAny != 0 {
		errs = append(errs, invalidf("attention", "must be low stock, expiring or both (got %d)", f.Attention))
	}
	for _, id := range f.IDs {
		if id <= 0 {
			errs = append(errs, invalidf("partners", "must be partner ids (got %d)", id))
			break
		}
	}
	if !f.Sort.Valid() {
		errs = append(errs, invalidf("sort", "is not an order of the partners list (got %q)", f.Sort))
	}
	var err error
	if f.Page, err = f.Page.normalize(); err != nil {
		errs = append(errs, err)
	}
	f.IDs = slices.Compact(slices.Sorted(slices.Values(f.IDs)))
	return f, errors.Join(errs...)
}

// CancelImpact is what canceling a partner will hit.
type CancelImpact struct {
	Partner Partner
	// Customers are the partner's customers; their allocations expire.
	Customers []Customer
	// Allocations are the customer licences that expire on cancellation,
	// every one of them, by id.
	Allocations []AllocationView
	// ByCustomer groups the same allocations by customer, in customer
	// order: one entry per customer that has any.
	ByCustomer []CustomerImpact
	// Licenses is the number of the partner's licences.
	Licenses int
	// LicensesExpiring is how many of them run now and will expire at
	// the cancellation; LicensesNotStarted how many have not started and
	// will be disabled (see Manager.Cancel).
	LicensesExpiring   int
	LicensesNotStarted int
	// Accounts are the enabled accounts that lose access.
	Accounts []account.Account
}

// CustomerImpact is one customer's share of what a cancellation ends: its
// allocations and their units in all.
type CustomerImpact struct {
	Customer    Customer
	Allocations []AllocationView
	Units       int64
}

// AllocationView is an allocation with the names a screen shows.
type AllocationView struct {
	ID           int64
	LicenseID    int64
	CustomerID   int64
	CustomerName string
	Product      string
	UnitType     string
	Units        int64
}
