// Package account holds the value types of the Accounts tab: the partner's
// console accounts, their built-in roles and the validation of new accounts.
//
// Account names are unique across the whole channel (every partner) and
// never change once created. Changes go through partner.Manager, which also
// protects the last Administrator of a partner.
package account

import (
	"errors"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/partnerkit/partnerkit/internal/fielderr"
)

// Role is one of the seven built-in console roles.
type Role string

// The built-in roles.
const (
	Administrator          Role = "administrator"
	PartnerAccountManager  Role = "partner_account_manager"
	LicenseManager         Role = "license_manager"
	SupportManager         Role = "support_manager"
	SupportEngineer        Role = "support_engineer"
	BillingManager         Role = "billing_manager"
	CustomerAccountManager Role = "customer_account_manager"
)

var roleLabels = map[Role]string{
	Administrator:          "Administrator",
	PartnerAccountManager:  "Partner Account Manager",
	LicenseManager:         "License Manager",
	SupportManager:         "Support Manager",
	SupportEngineer:        "Support Engineer",
	BillingManager:         "Billing Manager",
	CustomerAccountManager: "Customer Account Manager",
}

// Roles lists the built-in roles in console order.
func Roles() []Role {
	return []Role{Administrator, PartnerAccountManager, LicenseManager, SupportManager,
		SupportEngineer, BillingManager, CustomerAccountManager}
}

// Valid reports whether r is a built-in role.
func (r Role) Valid() bool { _, ok := roleLabels[r]; return ok }

// Label is the console label of r ("License Manager").
func (r Role) Label() string {
	if l, ok := roleLabels[r]; ok {
		return l
	}
	return string(r)
}

// Limits on account fields.
const (
	MaxNameLen    = 64  // account name
	MinNameLen    = 3   // account name
	MaxPersonLen  = 100 // first or last name
	MaxEmailLen   = 254
	namePatternRE = `^[a-z0-9][a-z0-9._@-]*$`
)

var namePattern = regexp.MustCompile(namePatternRE)

func invalid(field, format string, args ...any) error {
	return fielderr.New("account", field, format, args...)
}

// ValidateName checks an account name: 3 to 64 characters of lower-case
// letters, digits and . _ @ -, starting with a letter or digit. Callers
// lower-case names first (NormalizeName); names are compared that way.
func ValidateName(name string) error {
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		return invalid("account name", "is required")
	case n < MinNameLen || n > MaxNameLen:
		return invalid("account name", "must be %d to %d characters (got %d)", MinNameLen, MaxNameLen, n)
	case !namePattern.MatchString(name):
		return invalid("account name", "may hold only letters, digits and . _ @ - and must start with a letter or digit")
	}
	return nil
}

// NormalizeName trims and lower-cases an account name.
func NormalizeName(name string) string { return strings.ToLower(strings.TrimSpace(name)) }

// ValidatePerson checks a first or last name.
func ValidatePerson(field, s string) error {
	switch n := utf8.RuneCountInString(s); {
	case !utf8.ValidString(s):
		return invalid(field, "is not valid UTF-8")
	case strings.TrimSpace(s) == "":
		return invalid(field, "is required")
	case n > MaxPersonLen:
		return invalid(field, "must be at most %d characters (got %d)", MaxPersonLen, n)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return invalid(field, "must not contain control characters")
	}
	return nil
}

// ValidateEmail checks a bare e-mail address (no display name) whose
// domain has a dot, at most 254 characters long.
func ValidateEmail(field, s string) error {
	if s == "" {
		return invalid(field, "is required")
	}
	if len(s) > MaxEmailLen {
		return invalid(field, "must be at most %d characters", MaxEmailLen)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return invalid(field, "is not a valid e-mail address")
	}
	at := strings.LastIndexByte(s, '@')
	if domain := s[at+1:]; !strings.Contains(strings.Trim(domain, "."), ".") {
		return invalid(field, "must have a domain such as example.com")
	}
	return nil
}

// Params is a request to add an account to a partner.
type Params struct {
	Name      string // account name, unique across the channel, immutable
	FirstName string
	LastName  string
	Email     string
	Role      Role
}

// Normalize trims the text fields and lower-cases the account name.
func (n *Params) Normalize() {
	n.Name = NormalizeName(n.Name)
	n.FirstName = strings.TrimSpace(n.FirstName)
	n.LastName = strings.TrimSpace(n.LastName)
	n.Email = strings.TrimSpace(n.Email)
}

// Validate reports every invalid field of n, each as an error wrapping
// partner.ErrInvalid, in field order (errors.Join); partner.FieldErrors
// lists them and partner.ErrorField names the first.
func (n Params) Validate() error {
	errs := []error{
		ValidateName(n.Name),
		ValidatePerson("first name", n.FirstName),
		ValidatePerson("last name", n.LastName),
		ValidateEmail("email", n.Email),
	}
	if !n.Role.Valid() {
		errs = append(errs, invalid("role", "is not a built-in role (got %q)", n.Role))
	}
	return errors.Join(errs...)
}

// Account is a partner user that may sign in to the console.
type Account struct {
	ID        int64
	PartnerID int64
	Name      string // unique across the channel, immutable
	FirstName string
	LastName  string
	Email     string
	Role      Role
	// Enabled accounts may sign in; disabled ones may not.
	Enabled bool
	// PasswordResetAt is when a password reset was last requested, or zero.
	PasswordResetAt time.Time
	Version         int64
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// FullName is "First Last".
func (a Account) FullName() string { return a.FirstName + " " + a.LastName }
