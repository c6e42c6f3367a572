package partner

import (
	"errors"
	"fmt"
	"strings"

	"github.com/partnerkit/partnerkit/internal/fielderr"
)

// Sentinel errors. Every refusal the Manager returns wraps one of them, so
// callers test with errors.Is; an *Error adds the operation and the field.
// Other errors come through wrapped as they are: the context's when the
// caller's context ended, the store's own when it failed in a way no
// sentinel names.
var (
	// ErrNotFound: the partner, licence, account, plan, product, customer
	// or allocation does not exist (or belongs to another partner).
	ErrNotFound = errors.New("not found")
	// ErrInvalid: an input is malformed; the *Error names the field. The
	// leaf packages' Validate functions wrap it too.
	ErrInvalid = fielderr.ErrInvalid
	// ErrDuplicate: a name that must be unique is taken (account name,
	// plan name, product name, NFR plan per product and data center), or
	// an idempotency key was used for another request.
	ErrDuplicate = errors.New("already exists")
	// ErrConflict: the record changed since the caller read it (stale
	// version); nothing was changed.
	ErrConflict = errors.New("changed by someone else")
	// ErrSuspended: the partner is Suspended; only its Profile may change.
	ErrSuspended = errors.New("partner is suspended")
	// ErrCanceled: the partner is Canceled; nothing may change, ever.
	ErrCanceled = errors.New("partner is canceled")
	// ErrWrongType: the operation is for MSP partners only or for Reseller
	// partners only.
	ErrWrongType = errors.New("not available for this partner type")
	// ErrTransition: the status change is not allowed from the current
	// status (e.g. reactivating an Active partner).
	ErrTransition = errors.New("status change not allowed")
	// ErrInsufficientUnits: the licence has fewer remaining units than
	// asked, a reduction would leave fewer units than its customers hold,
	// or a pool refill would go past the pool's cap.
	ErrInsufficientUnits = errors.New("not enough units")
	// ErrRefillOff: the partner may not refill the pool: License pool
	// refill is off for the partner, or the pool has no refill capacity
	// (its cap is 0).
	ErrRefillOff = errors.New("pool refill is not allowed")
	// ErrPoolNotDepleted: a pool refill was asked while the pool still has
	// units remaining.
	ErrPoolNotDepleted = errors.New("pool is not depleted")
	// ErrLicenseDisabled: the licence is disabled and cannot be given to
	// additional customers.
	ErrLicenseDisabled = errors.New("licence is disabled")
	// ErrLicenseExpired: the licence has expired.
	ErrLicenseExpired = errors.New("licence has expired")
	// ErrLicenseNotStarted: the licence's start date is still ahead.
	ErrLicenseNotStarted = errors.New("licence has not started")
	// ErrLastAdministrator: the change would leave the partner without an
	// enabled Administrator account.
	ErrLastAdministrator = errors.New("last administrator")
	// ErrPlanDisabled: a disabled plan cannot be newly assigned.
	ErrPlanDisabled = errors.New("service plan is disabled")
	// ErrNotConfigured: the host did not supply a hook the operation needs.
	ErrNotConfigured = errors.New("not configured")
	// ErrBusy: the store stayed busy (its database locked by another
	// writer) until its retries or the context's deadline ran out; nothing
	// was changed and the call may be tried again.
	ErrBusy = errors.New("store busy")
	// ErrHook: a host hook with effects outside the store (such as
	// Options.ResetPassword) failed after the change was committed. The
	// change stands; the hook's error is wrapped.
	ErrHook = errors.New("host hook failed")
)

// Error is the one typed error of the library. It carries the operation,
// the sentinel kind, and, for invalid input, the offending field.
type Error struct {
	Op     Operation // the Manager operation, e.g. OpAssignLicenses
	Kind   error     // one of the sentinel errors, or nil
	Field  string    // the offending field as the console labels it, or ""
	Reason string    // human-readable detail, or ""
	Err    error     // the underlying cause, or nil
}

// Error implements error: "assign_licenses: units must be at least 1: invalid input".
func (e *Error) Error() string {
	var b strings.Builder
	if e.Op != "" {
		b.WriteString(string(e.Op))
		b.WriteString(": ")
	}
	switch {
	case e.Field != "" && e.Reason != "":
		b.WriteString(e.Field + " " + e.Reason)
	case e.Reason != "":
		b.WriteString(e.Reason)
	case e.Field != "":
		b.WriteString(e.Field)
	}
	if e.Kind != nil {
		if b.Len() > 0 && !strings.HasSuffix(b.String(), ": ") {
			b.WriteString(": ")
		}
		b.WriteString(e.Kind.Error())
	}
	if e.Err != nil && e.Kind == nil {
		if b.Len() > 0 && !strings.HasSuffix(b.String(), ": ") {
			b.WriteString(": ")
		}
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap exposes the kind and the cause to errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// NewError builds an *Error of the given kind; stores use it to report
// duplicates and conflicts with the field they concern.
func NewError(kind error, field, format string, args ...any) *Error {
	return &Error{Kind: kind, Field: field, Reason: fmt.Sprintf(format, args...)}
}

// ErrorField returns the offending field named by err — by the
// outermost *Error or leaf field error that names one — or "".
func ErrorField(err error) string {
	if probs := FieldErrors(err); len(probs) > 0 {
		return probs[0].Field
	}
	return ""
}

// ErrorReason returns the human-readable reason carried by err — that of
// the outermost *Error that has one — without the operation or the field;
// for other errors, err.Error().
func ErrorReason(err error) string {
	if err == nil {
		return ""
	}
	var reason string
	var walk func(error) bool
	walk = func(err error) bool {
		switch e := err.(type) {
		case nil:
			return false
		case *Error:
			if e.Reason != "" {
				reason = e.Reason
				return true
			}
			return walk(e.Err) || walk(e.Kind)
		case interface{ Unwrap() []error }:
			for _, x := range e.Unwrap() {
				if walk(x) {
					return true
				}
			}
			return false
		case interface{ Unwrap() error }:
			return walk(e.Unwrap())
		}
		return false
	}
	if walk(err) {
		return reason
	}
	return err.Error()
}

// withOp stamps op on err, turning a leaf package's field error into an
// *Error of kind ErrInvalid. When err holds several field problems, the
// *Error names the first and wraps them all, for FieldErrors. An *Error
// is stamped as it is; any other error — a store's own wrapping included —
// is wrapped whole, so nothing of its chain is lost. nil stays nil.
func withOp(op Operation, err error) error {
	if err == nil {
		return nil
	}
	if probs := FieldErrors(err); len(probs) > 1 {
		first := probs[0]
		return &Error{Op: op, Kind: ErrInvalid, Field: first.Field, Reason: first.Reason, Err: err}
	}
	for { // errors.Join of one error is that error
		j, ok := err.(interface{ Unwrap() []error })
		if _, isErr := err.(*Error); isErr || !ok || len(j.Unwrap()) != 1 {
			break
		}
		err = j.Unwrap()[0]
	}
	if e, ok := err.(*Error); ok {
		if e.Op != "" {
			return err
		}
		c := *e
		c.Op = op
		return &c
	}
	var fe interface {
		error
		InvalidField() string
	}
	if errors.As(err, &fe) && !errors.As(err, new(*Error)) {
		return &Error{Op: op, Kind: ErrInvalid, Field: fe.InvalidField(), Reason: leafReason(fe), Err: err}
	}
	return &Error{Op: op, Err: err}
}

// leafReason is what a leaf field error says is wrong with its field.
func leafReason(fe interface {
	error
	InvalidField() string
}) string {
	if r, ok := fe.(interface{ InvalidReason() string }); ok {
		return r.InvalidReason()
	}
	reason := fe.Error()
	if i := strings.Index(reason, fe.InvalidField()+" "); i >= 0 {
		reason = reason[i+len(fe.InvalidField())+1:]
	}
	return reason
}

// FieldError is one invalid field and what is wrong with it.
type FieldError struct {
	Field  string
	Reason string
}

// FieldErrors lists every invalid field err reports, in the order the
// validation met them, one entry per field. An operation refuses invalid
// input with all its problems at once, so a form can mark every field;
// ErrorField names the first.
func FieldErrors(err error) []FieldError {
	var out []FieldError
	seen := map[string]bool{}
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		switch e := err.(type) {
		case *Error:
			if e.Field != "" {
				if !seen[e.Field] {
					seen[e.Field] = true
					out = append(out, FieldError{Field: e.Field, Reason: e.Reason})
				}
			}
			walk(e.Err)
			return
		case interface {
			error
			InvalidField() string
		}:
			if f := e.InvalidField(); !seen[f] {
				seen[f] = true
				out = append(out, FieldError{Field: f, Reason: leafReason(e)})
			}
			return
		case interface{ Unwrap() []error }:
			for _, x := range e.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	return out
}

// invalidf reports invalid input in field.
func invalidf(field, format string, args ...any) *Error {
	return NewError(ErrInvalid, field, format, args...)
}
