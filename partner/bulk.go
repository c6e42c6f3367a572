package partner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/partnerkit/partnerkit/license"
)

// BulkKind names the change a bulk run makes to each partner.
type BulkKind string

// The changes a bulk run can make. Each is the operation of the same
// name, with its guard-table row and its rules, applied to every partner
// of the run.
const (
	// BulkAssignLicenses assigns the same licences to each partner, as
	// AssignLicenses does (BulkAction.Grants).
	BulkAssignLicenses BulkKind = "assign_licenses"
	// BulkExtendLicenses extends licences to one date, as ExtendLicense
	// does: every licence of the partner, or of one catalogue product,
	// whose expiry is before BulkAction.Expiry. A licence that already
	// lasts as long or longer is left as it is: a bulk extension never
	// shortens one.
	BulkExtendLicenses BulkKind = "extend_licenses"
	// BulkSetMinimumLicenses sets the partner-wide minimum, as
	// SetMinimumLicenses does (BulkAction.Minimum).
	BulkSetMinimumLicenses BulkKind = "set_minimum_licenses"
	// BulkSuspend suspends each partner, as Suspend does.
	BulkSuspend BulkKind = "suspend"
	// BulkReactivate reactivates each partner, as Reactivate does.
	BulkReactivate BulkKind = "reactivate"
)

// BulkKinds lists the kinds of bulk change.
func BulkKinds() []BulkKind {
	return []BulkKind{BulkAssignLicenses, BulkExtendLicenses, BulkSetMinimumLicenses, BulkSuspend, BulkReactivate}
}

// op is the operation k applies to each partner.
func (k BulkKind) op() Operation {
	return map[BulkKind]Operation{BulkAssignLicenses: OpAssignLicenses, BulkExtendLicenses: OpExtendLicense,
		BulkSetMinimumLicenses: OpSetMinimumLicenses, BulkSuspend: OpSuspend, BulkReactivate: OpReactivate}[k]
}

// Label is the console's name of the change ("Extend licences").
func (k BulkKind) Label() string {
	switch k {
	case BulkAssignLicenses:
		return "Assign licences"
	case BulkExtendLicenses:
		return "Extend licences"
	case BulkSetMinimumLicenses:
		return "Set minimum licences"
	case BulkSuspend:
		return "Suspend"
	case BulkReactivate:
		return "Reactivate"
	}
	return string(k)
}

// BulkAction is the change a bulk run makes to each partner: its Kind and
// the fields that kind takes; the others stay zero.
type BulkAction struct {
	Kind BulkKind
	// Grants are the licences BulkAssignLicenses gives each partner,
	// resolved against the product catalogue as AssignLicenses does.
	Grants []license.Grant `json:",omitempty"`
	// ProductID restricts BulkExtendLicenses to the licences of one
	// catalogue product; 0 extends every licence of the partner.
	ProductID int64 `json:",omitempty"`
	// Expiry is the date BulkExtendLicenses extends licences to.
	Expiry time.Time `json:",omitzero"`
	// Minimum is the minimum BulkSetMinimumLicenses sets.
	Minimum int64 `json:",omitempty"`
}

// MaxBulkKeyLen is the longest key of a bulk run, in characters: a
// licence assignment inside a run uses the run's key followed by "/" and
// the partner's id as its own key, which must fit license.ValidateKey.
const MaxBulkKeyLen = 100

// BulkParams asks for one change to many partners.
type BulkParams struct {
	// Key names the run and makes it safe to retry (see Manager.Bulk). It
	// is required by Bulk, follows license.ValidateKey's rules, and is at
	// most MaxBulkKeyLen characters.
	Key string
	// PartnerIDs selects the partners by id; or Filter selects every
	// partner matching it (its page and order aside), resolved to ids when
	// the run starts. Exactly one of the two is given.
	PartnerIDs []int64 `json:",omitempty"`
	Filter     *Filter `json:",omitempty"`
	Action     BulkAction
}

// BulkOutcome is what happened, or in a preview what would happen, to
// one partner of a bulk change.
type BulkOutcome string

// The outcomes of a partner in a bulk change.
const (
	// BulkPending: not yet done; in a preview, the change would be made.
	BulkPending BulkOutcome = "pending"
	// BulkDone: the change was made, in one transaction with its audit.
	BulkDone BulkOutcome = "done"
	// BulkUnchanged: there was nothing to change (the minimum already
	// set, no licence to extend, the licences already assigned by this
	// run).
	BulkUnchanged BulkOutcome = "unchanged"
	// BulkRefused: the guard table or the operation's rules refused it,
	// or the partner does not exist; Reason says why.
	BulkRefused BulkOutcome = "refused"
	// BulkFailed: the store failed (busy past its retries, or an error
	// of its own); Reason says how. Nothing was changed.
	BulkFailed BulkOutcome = "failed"
)

// BulkOutcomes lists the outcomes.
func BulkOutcomes() []BulkOutcome {
	return []BulkOutcome{BulkPending, BulkDone, BulkUnchanged, BulkRefused, BulkFailed}
}

// BulkItem is one partner of a bulk run and its outcome.
type BulkItem struct {
	PartnerID int64
	// CompanyName is the partner's, read with the item; "" for an id no
	// partner has.
	CompanyName string
	Outcome     BulkOutcome
	// Reason says why a partner was refused or failed, in words; for one
	// unchanged, why nothing changed.
	Reason string
	// At is when the outcome was recorded; zero while pending.
	At time.Time
}

// BulkRun is the durable record of a bulk run: what it was asked, who
// started it and when, and how far it has come.
type BulkRun struct {
	Key string
	// Params are the run's parameters as normalized: ids sorted without
	// duplicates, the filter without its page, grants trimmed and in UTC.
	Params    BulkParams
	Actor     string
	StartedAt time.Time
	// FinishedAt is when every partner had its outcome; zero while the
	// run is under way (or was cut short: a retry of Bulk resumes it).
	FinishedAt time.Time
	// Derived from the items when read: how many partners the run has,
	// and how many of them have each outcome.
	Total, Pending, Done, Unchanged, Refused, Failed int
}

// Finished reports whether every partner of the run has its outcome.
func (r BulkRun) Finished() bool { return !r.FinishedAt.IsZero() }

// BulkItemFilter selects the items of a run for BulkItems: one outcome
// ("" for all) and a page.
type BulkItemFilter struct {
	Outcome BulkOutcome
	Page
}

// BulkPreview tells what a bulk change would do, partner by partner,
// without changing anything.
type BulkPreview struct {
	// Params are the change's parameters as Bulk would record them.
	Params BulkParams
	// Total is the number of partners selected; Pending how many would
	// change, Unchanged how many have nothing to change, Refused how many
	// the guard table or the operation's rules refuse.
	Total, Pending, Unchanged, Refused int
	// Items are one page of the partners, by id, each with what would
	// change.
	Items []BulkPreviewItem
}

// BulkPreviewItem is one partner of a preview.
type BulkPreviewItem struct {
	PartnerID   int64
	CompanyName string
	// Outcome is BulkPending (the change would be made), BulkUnchanged or
	// BulkRefused.
	Outcome BulkOutcome
	// Reason says why the partner would be refused — the guard table's
	// reason, in words, or the operation's rule — or why nothing would
	// change.
	Reason string
	// Changes are what would change, as the audit entries would record
	// them (licence ids, not known before the run, are left out).
	Changes []Change
}

// normalize returns a copy of in as a run records it, and the problems
// with it; withKey requires the key.
func (in BulkParams) normalize(withKey bool) (BulkParams, error) {
	var errs []error
	out := BulkParams{Key: in.Key, Action: in.Action}
	switch {
	case in.Key == "" && withKey:
		errs = append(errs, invalidf("key", "is required: it makes the run safe to retry"))
	case in.Key != "":
		if err := license.ValidateKey(in.Key); err != nil {
			errs = append(errs, err)
		} else if n := utf8.RuneCountInString(in.Key); n > MaxBulkKeyLen {
			errs = append(errs, invalidf("key", "must be at most %d characters (got %d)", MaxBulkKeyLen, n))
		}
	}
	switch {
	case len(in.PartnerIDs) > 0 && in.Filter != nil:
		errs = append(errs, invalidf("partners", "give partner ids or a filter, not both"))
	case len(in.PartnerIDs) == 0 && in.Filter == nil:
		errs = append(errs, invalidf("partners", "select at least one partner, by id or by a filter"))
	case in.Filter != nil:
		f := *in.Filter
		f.Page, f.Sort, f.Desc = Page{}, SortID, false
		f, err := f.normalize()
		f.Page = Page{}
		out.Filter = &f
		errs = append(errs, err)
	default:
		for _, id := range in.PartnerIDs {
			if id <= 0 {
				errs = append(errs, invalidf("partners", "must be partner ids (got %d)", id))
				break
			}
		}
		out.PartnerIDs = slices.Compact(slices.Sorted(slices.Values(in.PartnerIDs)))
	}
	a := &out.Action
	a.Grants = slices.Clone(in.Action.Grants)
	for i := range a.Grants {
		normalizeGrant(&a.Grants[i])
	}
	a.Expiry = a.Expiry.UTC().Truncate(time.Microsecond)
	if a.Expiry.IsZero() {
		a.Expiry = time.Time{}
	}
	unused := func(field string, set bool) {
		if set {
			errs = append(errs, invalidf(field, "is not used by %s", a.Kind.Label()))
		}
	}
	switch a.Kind {
	case BulkAssignLicenses:
		if len(a.Grants) == 0 {
			errs = append(errs, invalidf("licenses", "at least one grant is required"))
		}
	case BulkExtendLicenses:
		switch {
		case a.Expiry.IsZero():
			errs = append(errs, invalidf("expiry", "is required"))
		case a.Expiry.Year() < 2000 || a.Expiry.Year() > 2200:
			errs = append(errs, invalidf("expiry", "must be between the years 2000 and 2200 (got %d)", a.Expiry.Year()))
		}
		if a.ProductID < 0 {
			errs = append(errs, invalidf("product", "must be a catalogue product id (got %d)", a.ProductID))
		}
	case BulkSetMinimumLicenses:
		if a.Minimum < 0 || a.Minimum > MaxMinimumPool {
			errs = append(errs, invalidf("minimum licenses", "must be 0 to %d (got %d)", MaxMinimumPool, a.Minimum))
		}
	case BulkSuspend, BulkReactivate:
	default:
		errs = append(errs, invalidf("action", "must be one of %v (got %q)", BulkKinds(), a.Kind))
	}
	unused("licenses", a.Kind != BulkAssignLicenses && len(a.Grants) > 0)
	unused("expiry", a.Kind != BulkExtendLicenses && !a.Expiry.IsZero())
	unused("product", a.Kind != BulkExtendLicenses && a.ProductID != 0)
	unused("minimum licenses", a.Kind != BulkSetMinimumLicenses && a.Minimum != 0)
	return out, errors.Join(errs...)
}

// same reports whether two runs' normalized parameters ask the same.
func (in BulkParams) same(o BulkParams) bool {
	a, errA := json.Marshal(in)
	b, errB := json.Marshal(o)
	return errA == nil && errB == nil && bytes.Equal(a, b)
}

// prepareAction checks an action against the catalogue: its grants, as
// AssignLicenses resolves them, and the product it extends. It returns
// the problems in invalid, a store's failure in err.
func prepareAction(ctx context.Context, r Reader, a BulkAction) (invalid, err error) {
	switch a.Kind {
	case BulkAssignLicenses:
		return prepareGrants(ctx, r, slices.Clone(a.Grants))
	case BulkExtendLicenses:
		if a.ProductID > 0 {
			if _, err := r.Product(ctx, a.ProductID); errors.Is(err, ErrNotFound) {
				return invalidf("product", "no catalogue product has the id %d", a.ProductID), nil
			} else if err != nil {
				return nil, err
			}
		}
	}
	return nil, nil
}

// bulkSelection returns the ids of the partners params select, ascending:
// its ids, or every partner matching its filter now.
func (m *Manager) bulkSelection(ctx context.Context, params BulkParams) ([]int64, error) {
	if params.Filter == nil {
		return params.PartnerIDs, nil
	}
	var ids []int64
	for p, err := range m.ListAll(ctx, *params.Filter) {
		if err != nil {
			return nil, err
		}
		ids = append(ids, p.ID)
	}
	return ids, nil
}

// BulkPreview tells, without changing anything, what Bulk would do with
// in: for every partner selected, whether the change would be made, there
// is nothing to change, or the guard table or the operation's rules
// refuse it (with the reason in words, as Check gives it) — refused
// partners are listed, never left out — and what would change. It
// returns the counts over every partner and one page of them (pg), by id.
// in.Key may be empty; the preview does not consult a run of the same
// key. Invalid parameters are ErrInvalid, every problem at once.
func (m *Manager) BulkPreview(ctx context.Context, in BulkParams, pg Page) (BulkPreview, error) {
	var out BulkPreview
	params, err := in.normalize(false)
	pg, perr := pg.normalize()
	if err := m.checkBulk(ctx, params, errors.Join(err, perr)); err != nil {
		return out, withOp(OpBulk, err)
	}
	out.Params = params
	ids, err := m.bulkSelection(ctx, params)
	if err != nil {
		return BulkPreview{}, withOp(OpBulk, err)
	}
	out.Total = len(ids)
	grants := slices.Clone(params.Action.Grants) // resolved once, as AssignLicenses would resolve them
	if len(grants) > 0 {
		if err := m.read(ctx, func(ctx context.Context, r Reader) error {
			_, err := prepareGrants(ctx, r, grants)
			return err
		}); err != nil {
			return BulkPreview{}, withOp(OpBulk, err)
		}
	}
	for lo := 0; lo < len(ids); lo += ExportBatch {
		batch := ids[lo:min(lo+ExportBatch, len(ids))]
		err := m.read(ctx, func(ctx context.Context, r Reader) error {
			ps, _, err := r.Partners(ctx, Filter{IDs: batch}, m.asOf())
			if err != nil {
				return err
			}
			byID := make(map[int64]Partner, len(ps))
			for _, p := range ps {
				byID[p.ID] = p
			}
			for i, id := range batch {
				p, ok := byID[id]
				item, err := m.planBulk(ctx, r, params.Action, grants, id, p, ok)
				if err != nil {
					return err
				}
				switch item.Outcome {
				case BulkPending:
					out.Pending++
				case BulkUnchanged:
					out.Unchanged++
				case BulkRefused:
					out.Refused++
				}
				if n := lo + i; n >= pg.Offset && n < pg.Offset+pg.Limit {
					out.Items = append(out.Items, item)
				}
			}
			return nil
		})
		if err != nil {
			return BulkPreview{}, withOp(OpBulk, err)
		}
	}
	return out, nil
}

// planBulk tells what the action a would do to the partner id (p, when
// found); grants are a's, resolved against the catalogue.
func (m *Manager) planBulk(ctx context.Context, r Reader, a BulkAction, grants []license.Grant, id int64, p Partner, found bool) (BulkPreviewItem, error) {
	item := BulkPreviewItem{PartnerID: id, CompanyName: p.Profile.CompanyName, Outcome: BulkPending}
	refuse := func(err error) (BulkPreviewItem, error) {
		item.Outcome, item.Reason = BulkRefused, describe(err)
		return item, nil
	}
	if !found {
		return refuse(NewError(ErrNotFound, "", "partner %d does not exist", id))
	}
	if err := Check(p.Status, p.Type, a.Kind.op()); err != nil {
		return refuse(err)
	}
	var cl changeList
	switch a.Kind {
	case BulkSuspend:
		cl.add("status", "Status", statusValue(p.Status), statusValue(Suspended))
	case BulkReactivate:
		cl.add("status", "Status", statusValue(p.Status), statusValue(Active))
	case BulkSetMinimumLicenses:
		if p.MinimumLicenses == a.Minimum {
			item.Outcome, item.Reason = BulkUnchanged, fmt.Sprintf("the minimum is %d already", a.Minimum)
			return item, nil
		}
		cl.add("minimum_licenses", "Minimum licences", intValue(p.MinimumLicenses), intValue(a.Minimum))
	case BulkAssignLicenses:
		lics := make([]license.License, len(grants))
		for i, g := range grants {
			lics[i] = newLicense(id, g, "", license.OriginAssigned, m.Now())
		}
		cl.set("licenses", "Licences", licensesValue(lics)) // without ids: none yet
	case BulkExtendLicenses:
		lics, _, err := r.Licenses(ctx, id, Page{})
		if err != nil {
			return item, err
		}
		for _, l := range extendable(lics, a) {
			if _, _, err := newExpiry(l, a.Expiry); err != nil {
				return refuse(inLicence(l.ID, err))
			}
			cl.add("expiry", fmt.Sprintf("Expiry of licence %d", l.ID), dateValue(l.Expiry), dateValue(a.Expiry))
		}
		if len(cl) == 0 {
			item.Outcome, item.Reason = BulkUnchanged, "no licence expires before "+a.Expiry.Format(time.DateOnly)
			return item, nil
		}
	}
	item.Changes = cl
	return item, nil
}

// describe says in words what err refused: the reason of its outermost
// *Error when that names no field, else each field and its reason.
func describe(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Field == "" && e.Reason != "" {
		return e.Reason
	}
	if fs := FieldErrors(err); len(fs) > 0 {
		parts := make([]string, len(fs))
		for i, f := range fs {
			parts[i] = f.Field + " " + f.Reason
		}
		return strings.Join(parts, "; ")
	}
	return ErrorReason(err)
}

// inLicence is err, a refusal of a change of licence id, with a reason
// that names the licence.
func inLicence(id int64, err error) error {
	e := &Error{Op: OpExtendLicense, Reason: fmt.Sprintf("licence %d: %s", id, describe(err)), Err: err}
	var inner *Error
	if errors.As(err, &inner) {
		e.Kind = inner.Kind
	}
	return e
}

// extendable lists the licences a bulk extension extends: those of the
// product (any, for 0) that expire before the new expiry.
func extendable(lics []license.License, a BulkAction) []license.License {
	var out []license.License
	for _, l := range lics {
		if (a.ProductID == 0 || l.ProductID == a.ProductID) && l.Expiry.Before(a.Expiry) {
			out = append(out, l)
		}
	}
	return out
}

// errBulkItemTaken rolls back a partner's change when another caller of
// Bulk recorded that partner's outcome first.
var errBulkItemTaken = errors.New("another run of the same key recorded this partner first")

// Bulk applies one change to many partners: each partner's change is its
// own all-or-nothing transaction, audited as the operation itself (the
// actor from ctx), and the run as a whole is audited under partner id 0
// (OpBulkStart, OpBulkFinish, with the counts) and ends with
// EventBulkFinished.
//
// The run is durable and keyed. Bulk records it (BulkRun: its
// parameters, its partners — a Filter is resolved to ids when the run
// starts — and each partner's outcome) before it changes anything, and
// records each partner's outcome in the transaction that makes the
// change, so a partner's change is never applied twice: a retry of Bulk
// with the same key and parameters resumes a run cut short (a crash, an
// ended context) with the partners still pending and returns the outcome
// recorded for the others; for a finished run it changes nothing and
// returns the record. A licence assignment inside a run uses the key
// "KEY/PARTNERID", so it too is safe to replay. Two Bulk calls with the
// same key at once share the work and never apply a partner's change
// twice. The same key with other parameters is ErrDuplicate naming "key".
//
// Each partner is refused, in this order, when it does not exist, by the
// guard table, or by the operation's own rules (invalid for this
// partner, such as an extension past license.MaxTerm); it is then
// recorded as BulkRefused with the reason in words, and the run goes on.
// A store failure (ErrBusy past its retries, an error of the store's own)
// is recorded as BulkFailed; like a refusal, it is an outcome a retry
// returns rather than tries again (BulkItems lists the failed partners,
// for a run of their own under a new key). When ctx ends, Bulk stops and returns the
// context's error: the partners not yet done stay pending for a retry.
// Invalid parameters are ErrInvalid, every problem at once, before
// anything is written. Bulk runs transactions of its own and refuses to
// run inside RunInTx. BulkRun tells the progress meanwhile.
func (m *Manager) Bulk(ctx context.Context, in BulkParams) (BulkRun, error) {
	if m.bound != nil {
		return BulkRun{}, withOp(OpBulk, NewError(ErrInvalid, "", "Bulk runs a transaction per partner: call it outside RunInTx"))
	}
	params, perr := in.normalize(true)
	run, err := m.startBulk(ctx, params, perr)
	if err != nil {
		return BulkRun{}, withOp(OpBulk, err)
	}
	if err := m.runBulk(ctx, run); err != nil {
		return BulkRun{}, withOp(OpBulk, err)
	}
	return m.BulkRun(ctx, run.Key)
}

// startBulk returns the run of params' key: the one recorded, when it
// asks the same (a retry), or a new one.
func (m *Manager) startBulk(ctx context.Context, params BulkParams, perr error) (BulkRun, error) {
	keyOK := params.Key != "" && !slices.ContainsFunc(FieldErrors(perr), func(f FieldError) bool { return f.Field == "key" })
	if keyOK {
		var prior BulkRun
		err := m.read(ctx, func(ctx context.Context, r Reader) (err error) {
			prior, err = r.BulkRun(ctx, params.Key)
			return err
		})
		switch {
		case err == nil && perr == nil && prior.Params.same(params):
			return prior, nil // a retry: resume, or return the record
		case err == nil:
			if err := m.checkBulk(ctx, params, perr); err != nil {
				return BulkRun{}, err
			}
			return BulkRun{}, NewError(ErrDuplicate, "key", "%q names a bulk run with other parameters", params.Key)
		case !errors.Is(err, ErrNotFound):
			return BulkRun{}, err
		}
	}
	if err := m.checkBulk(ctx, params, perr); err != nil {
		return BulkRun{}, err
	}
	ids, err := m.bulkSelection(ctx, params)
	if err != nil {
		return BulkRun{}, err
	}
	var run BulkRun
	err = m.write(ctx, OpBulk, func(ctx context.Context, tx Tx, c *changes) error {
		run = BulkRun{Key: params.Key, Params: params, Actor: c.actor, StartedAt: c.at}
		if err := tx.CreateBulkRun(ctx, &run, ids); err != nil {
			return err
		}
		var cl changeList
		cl.set("action", "Action", codeValue(params.Action.Kind, params.Action.Kind.Label()))
		cl.set("partners", "Partners", intValue(len(ids)))
		return c.record(ctx, tx, 0, OpBulkStart, "bulk run "+params.Key, cl)
	})
	if errors.Is(err, ErrDuplicate) && ErrorField(err) == "key" {
		// Another call of the same key started the run first: join it.
		return m.startBulk(ctx, params, nil)
	}
	return run, err
}

// checkBulk returns every problem of params: perr, those of their
// normalization, and those of their action against the catalogue (see
// prepareAction).
func (m *Manager) checkBulk(ctx context.Context, params BulkParams, perr error) error {
	var invalid error
	err := m.read(ctx, func(ctx context.Context, r Reader) (err error) {
		invalid, err = prepareAction(ctx, r, params.Action)
		return err
	})
	if err != nil {
		return err
	}
	return errors.Join(perr, invalid)
}

// runBulk applies the run's change to each of its pending partners, then
// records that the run finished.
func (m *Manager) runBulk(ctx context.Context, run BulkRun) error {
	for after := int64(0); ; {
		var ids []int64
		err := m.read(ctx, func(ctx context.Context, r Reader) (err error) {
			ids, err = r.PendingBulkItems(ctx, run.Key, after, ExportBatch)
			return err
		})
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := m.bulkOne(ctx, run, id); err != nil {
				return err
			}
		}
		if len(ids) < ExportBatch {
			break
		}
		after = ids[len(ids)-1]
	}
	return m.write(ctx, OpBulk, func(ctx context.Context, tx Tx, c *changes) error {
		cur, err := tx.BulkRun(ctx, run.Key)
		if err != nil || cur.Pending > 0 {
			return err
		}
		finished, err := tx.FinishBulkRun(ctx, run.Key, c.at)
		if err != nil || !finished {
			return err
		}
		var cl changeList
		cl.set("done", "Done", intValue(cur.Done))
		cl.set("unchanged", "Unchanged", intValue(cur.Unchanged))
		cl.set("refused", "Refused", intValue(cur.Refused))
		cl.set("failed", "Failed", intValue(cur.Failed))
		return c.record(ctx, tx, 0, OpBulkFinish, "bulk run "+run.Key, cl)
	})
}

// bulkOne applies the run's change to one partner, in one transaction
// with the partner's recorded outcome, or records why it could not.
func (m *Manager) bulkOne(ctx context.Context, run BulkRun, id int64) error {
	var outcome BulkOutcome
	var reason string
	var applyErr error // the change's own refusal, as applyBulk describes it
	err := m.RunInTx(ctx, func(ctx context.Context, tm *Manager) error {
		skip := false
		err := tm.write(ctx, OpBulk, func(ctx context.Context, tx Tx, c *changes) error {
			if _, err := tx.LockPartner(ctx, id); err != nil {
				return err
			}
			it, err := tx.BulkItem(ctx, run.Key, id)
			skip = err == nil && it.Outcome != BulkPending
			return err
		})
		if err != nil || skip {
			return err
		}
		if outcome, reason, applyErr = tm.applyBulk(ctx, run, id); applyErr != nil {
			return applyErr
		}
		return tm.write(ctx, OpBulk, func(ctx context.Context, tx Tx, c *changes) error {
			recorded, err := tx.SetBulkItem(ctx, run.Key, BulkItem{PartnerID: id, Outcome: outcome, Reason: reason, At: c.at})
			if err == nil && !recorded {
				err = errBulkItemTaken
			}
			return err
		})
	})
	if applyErr != nil {
		err = applyErr
	}
	switch {
	case err == nil, errors.Is(err, errBulkItemTaken):
		return nil
	case ctx.Err() != nil:
		return err
	case refusal(err):
		outcome, reason = BulkRefused, describe(err)
	default:
		outcome, reason = BulkFailed, describe(err)
	}
	return m.write(ctx, OpBulk, func(ctx context.Context, tx Tx, c *changes) error {
		_, err := tx.SetBulkItem(ctx, run.Key, BulkItem{PartnerID: id, Outcome: outcome, Reason: reason, At: c.at})
		return err
	})
}

// refusal reports an error of the library's rules, as opposed to a
// failure of the store.
func refusal(err error) bool {
	for _, kind := range []error{ErrNotFound, ErrInvalid, ErrDuplicate, ErrConflict, ErrSuspended, ErrCanceled, ErrWrongType,
		ErrTransition, ErrInsufficientUnits, ErrRefillOff, ErrPoolNotDepleted, ErrLicenseDisabled, ErrLicenseExpired,
		ErrLicenseNotStarted, ErrLastAdministrator, ErrPlanDisabled, ErrNotConfigured} {
		if errors.Is(err, kind) {
			return !errors.Is(err, ErrBusy)
		}
	}
	return false
}

// applyBulk makes the run's change to the partner id through the bound
// Manager tm, as the operation itself does, and tells its outcome.
func (m *Manager) applyBulk(ctx context.Context, run BulkRun, id int64) (BulkOutcome, string, error) {
	a := run.Params.Action
	var p Partner
	err := m.read(ctx, func(ctx context.Context, r Reader) (err error) {
		p, err = r.PartnerRecord(ctx, id)
		return err
	})
	if err != nil {
		return "", "", err
	}
	if err := Check(p.Status, p.Type, a.Kind.op()); err != nil {
		return "", "", m.fail(a.Kind.op(), err)
	}
	switch a.Kind {
	case BulkSuspend:
		_, err = m.Suspend(ctx, id, 0)
	case BulkReactivate:
		_, err = m.Reactivate(ctx, id, 0)
	case BulkSetMinimumLicenses:
		if _, err = m.SetMinimumLicenses(ctx, id, 0, a.Minimum); err == nil && p.MinimumLicenses == a.Minimum {
			return BulkUnchanged, fmt.Sprintf("the minimum is %d already", a.Minimum), nil
		}
	case BulkAssignLicenses:
		var res AssignLicensesResult
		key := run.Key + "/" + strconv.FormatInt(id, 10)
		if res, err = m.AssignLicenses(ctx, id, AssignLicensesParams{Key: key, Grants: a.Grants}); err == nil && res.Replayed {
			return BulkUnchanged, fmt.Sprintf("the licences of key %q were assigned already", key), nil
		}
	case BulkExtendLicenses:
		var lics []license.License
		if err := m.read(ctx, func(ctx context.Context, r Reader) (err error) {
			lics, _, err = r.Licenses(ctx, id, Page{})
			return err
		}); err != nil {
			return "", "", err
		}
		todo := extendable(lics, a)
		if len(todo) == 0 {
			return BulkUnchanged, "no licence expires before " + a.Expiry.Format(time.DateOnly), nil
		}
		for _, l := range todo {
			if _, err := m.ExtendLicense(ctx, id, l.ID, 0, a.Expiry); err != nil {
				return "", "", inLicence(l.ID, err)
			}
		}
	}
	return BulkDone, "", err
}

// BulkRun returns the record of the bulk run with the key, as it is now:
// its parameters, actor, start and finish, and the count of its partners
// of each outcome. A console polls it while Bulk runs. ErrNotFound when no
// run has the key.
func (m *Manager) BulkRun(ctx context.Context, key string) (BulkRun, error) {
	var out BulkRun
	err := m.read(ctx, func(ctx context.Context, r Reader) (err error) {
		out, err = r.BulkRun(ctx, key)
		return err
	})
	return out, err
}

// BulkItems returns one page of the partners of the bulk run with the
// key, by id, with their outcomes (f.Outcome selects one), and the number
// of them. ErrNotFound when no run has the key.
func (m *Manager) BulkItems(ctx context.Context, key string, f BulkItemFilter) ([]BulkItem, int, error) {
	var (
		out   []BulkItem
		total int
	)
	err := m.read(ctx, func(ctx context.Context, r Reader) (err error) {
		if f.Outcome != "" && !slices.Contains(BulkOutcomes(), f.Outcome) {
			return invalidf("outcome", "must be one of %v (got %q)", BulkOutcomes(), f.Outcome)
		}
		if f.Page, err = f.Page.normalize(); err != nil {
			return err
		}
		if _, err := r.BulkRun(ctx, key); err != nil {
			return err
		}
		out, total, err = r.BulkItems(ctx, key, f)
		return err
	})
	return out, total, err
}
