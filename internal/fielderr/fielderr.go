// Package fielderr is the error the leaf packages (license, account,
// serviceplan) return for an invalid field, and the sentinel it wraps.
// Package partner re-exports the sentinel as partner.ErrInvalid and reads
// the field and reason through partner.FieldErrors, partner.ErrorField and
// partner.ErrorReason, so the library has one exported error type,
// *partner.Error, and every invalid input — refused by the Manager or by a
// leaf Validate — satisfies errors.Is(err, partner.ErrInvalid).
package fielderr

import (
	"errors"
	"fmt"
)

// ErrInvalid is the sentinel of invalid input.
var ErrInvalid = errors.New("invalid input")

// Error reports one invalid field.
type Error struct {
	Pkg    string // the package that refused it, e.g. "license"
	Field  string // the field as the console labels it, e.g. "units"
	Reason string // what is wrong, e.g. "must be at least 1"
}

// New returns an *Error of pkg for field.
func New(pkg, field, format string, args ...any) error {
	return &Error{Pkg: pkg, Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Error implements error: "license: units must be at least 1".
func (e *Error) Error() string { return e.Pkg + ": " + e.Field + " " + e.Reason }

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *Error) Unwrap() error { return ErrInvalid }

// InvalidField names the offending field.
func (e *Error) InvalidField() string { return e.Field }

// InvalidReason says what is wrong with it.
func (e *Error) InvalidReason() string { return e.Reason }
