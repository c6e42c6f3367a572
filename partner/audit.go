package partner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"

	"github.com/partnerkit/partnerkit/license"
)

// AuditEntry records one successful change.
type AuditEntry struct {
	ID int64
	// PartnerID is the partner changed; 0 for a change that belongs to no
	// partner: the catalogues (service plans, products) and bulk runs.
	PartnerID int64
	// Actor is who acted, as the host put it in the context (WithActor).
	Actor  string
	Action Operation
	// Target names the object changed, e.g. "license 12" or "account ops.admin".
	Target string
	// Changes lists what the change changed, field by field, in the
	// order the operation wrote them.
	Changes []Change
	At      time.Time
}

// Change is one field an audited change changed: a machine key, a label
// for people, and the value before and after, both as readable text and
// as JSON for machines.
//
// A side that has no value — the before of something created, the after
// of something removed — has an empty text and a nil JSON value
// (HasBefore, HasAfter). Readable texts follow one style: numbers in
// digits, statuses, types, kinds and roles by their labels ("Active",
// "MSP", "Full"), switches "On"/"Off" or "Yes"/"No", licence dates as
// YYYY-MM-DD, instants as "YYYY-MM-DD hh:mm UTC", lists comma-separated,
// contacts as "Ada Martin <ada@example.com>", and an empty text value
// as "(none)". JSON values keep the codes ("active"), numbers, booleans,
// RFC 3339 timestamps, arrays and objects.
type Change struct {
	// Field is the machine key, in snake case: "minimum_licenses".
	Field string `json:"field"`
	// Label names the field for people: "Minimum licences".
	Label string `json:"label"`
	// Before and After are the readable values: "20", "30".
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
	// BeforeValue and AfterValue are the same values as JSON: 20, 30.
	BeforeValue json.RawMessage `json:"before_value,omitempty"`
	AfterValue  json.RawMessage `json:"after_value,omitempty"`
}

// HasBefore reports whether the field had a value before the change.
func (c Change) HasBefore() bool { return len(c.BeforeValue) > 0 }

// HasAfter reports whether the field has a value after the change.
func (c Change) HasAfter() bool { return len(c.AfterValue) > 0 }

// String renders the change for people: "Minimum licences: 20 → 30"; a
// field that was set has only its value ("Role: Administrator"), one
// that was removed ends in "→ —".
func (c Change) String() string {
	switch {
	case c.HasBefore() && c.HasAfter():
		return c.Label + ": " + c.Before + " → " + c.After
	case c.HasAfter():
		return c.Label + ": " + c.After
	case c.HasBefore():
		return c.Label + ": " + c.Before + " → —"
	}
	return c.Label
}

// Summary renders the entry's changes for people, joined by "; ":
// "Minimum licences: 20 → 30; Status: Active → Suspended". An entry that
// only sets values — something created, assigned or added — reads
// "created: Company name: Acme; Type: MSP"; one that only removes values
// reads "deleted: Role: Administrator; Email: …"; an entry without
// changes reads "—".
func (e AuditEntry) Summary() string {
	if len(e.Changes) == 0 {
		return "—"
	}
	created, deleted := true, true
	for _, c := range e.Changes {
		created = created && !c.HasBefore() && c.HasAfter()
		deleted = deleted && c.HasBefore() && !c.HasAfter()
	}
	parts := make([]string, len(e.Changes))
	for i, c := range e.Changes {
		switch {
		case deleted:
			parts[i] = c.Label + ": " + c.Before
		default:
			parts[i] = c.String()
		}
	}
	s := strings.Join(parts, "; ")
	switch {
	case created:
		return "created: " + s
	case deleted:
		return "deleted: " + s
	}
	return s
}

// Before renders the values before the change, "Label: value; …", for a
// two-column view; the fields that had none are left out, so an entry
// that created something has an empty Before.
func (e AuditEntry) Before() string {
	var parts []string
	for _, c := range e.Changes {
		if c.HasBefore() {
			parts = append(parts, c.Label+": "+c.Before)
		}
	}
	return strings.Join(parts, "; ")
}

// After renders the values after the change, as Before does.
func (e AuditEntry) After() string {
	var parts []string
	for _, c := range e.Changes {
		if c.HasAfter() {
			parts = append(parts, c.Label+": "+c.After)
		}
	}
	return strings.Join(parts, "; ")
}

// value is one side of a Change: its readable text and its JSON.
type value struct {
	text string
	js   json.RawMessage
}

// none is the side of a change that has no value.
var none value

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("partner: audit value %#v: %v", v, err))
	}
	return b
}

// textValue is a text field; empty reads "(none)".
func textValue(s string) value {
	t := s
	if s == "" {
		t = "(none)"
	}
	return value{t, mustJSON(s)}
}

func intValue[T ~int | ~int64](n T) value {
	return value{strconv.FormatInt(int64(n), 10), mustJSON(int64(n))}
}

func onOff(b bool) value {
	if b {
		return value{"On", mustJSON(true)}
	}
	return value{"Off", mustJSON(false)}
}

func yesNo(b bool) value {
	if b {
		return value{"Yes", mustJSON(true)}
	}
	return value{"No", mustJSON(false)}
}

// codeValue is a coded value shown by its label ("Active") and kept as
// its code ("active").
func codeValue[T ~string](code T, label string) value { return value{label, mustJSON(string(code))} }

// dateValue is a licence date: YYYY-MM-DD to read, the instant as JSON.
func dateValue(t time.Time) value { return value{t.UTC().Format(time.DateOnly), mustJSON(t.UTC())} }

// instantValue is a moment: "YYYY-MM-DD hh:mm UTC", or "never" (JSON
// null) when zero.
func instantValue(t time.Time) value {
	if t.IsZero() {
		return value{"never", json.RawMessage("null")}
	}
	return value{t.UTC().Format("2006-01-02 15:04 UTC"), mustJSON(t.UTC())}
}

// listValue is a list: its items' texts joined by ", " ("(none)" when
// empty), and js as JSON.
func listValue(texts []string, js any) value {
	t := strings.Join(texts, ", ")
	if len(texts) == 0 {
		t = "(none)"
	}
	return value{t, mustJSON(js)}
}

func statusValue(s Status) value { return codeValue(s, s.Label()) }

func dataCentersValue(dcs []DataCenter) value {
	codes := make([]string, len(dcs))
	for i, d := range dcs {
		codes[i] = string(d)
	}
	return listValue(codes, codes)
}

// contactJSON is a contact as the audit trail keeps it.
type contactJSON struct {
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Email     string `json:"email"`
	Phone     string `json:"phone,omitempty"`
}

// contactsValue reads "Ada Martin <ada@example.com>, …".
func contactsValue(cs []Contact) value {
	texts := make([]string, len(cs))
	js := make([]contactJSON, len(cs))
	for i, c := range cs {
		texts[i] = strings.TrimSpace(c.FirstName+" "+c.LastName) + " <" + c.Email + ">"
		if c.Phone != "" {
			texts[i] += " " + c.Phone
		}
		js[i] = contactJSON(c)
	}
	return listValue(texts, js)
}

// licenseJSON is a licence as the audit trail keeps it.
type licenseJSON struct {
	ID        int64     `json:"id,omitempty"` // 0 in a preview, before the licence exists
	ProductID int64     `json:"product_id,omitempty"`
	Product   string    `json:"product"`
	UnitType  string    `json:"unit_type"`
	Units     int64     `json:"units"`
	Kind      string    `json:"kind"`
	Start     time.Time `json:"start"`
	Expiry    time.Time `json:"expiry"`
}

// licenseText reads "12: 50 seats of Endpoint Security (Full) 2026-05-04
// to 2027-05-04", without "12: " for a licence not yet created.
func licenseText(l license.License) string {
	s := fmt.Sprintf("%d %s of %s (%s) %s to %s", l.Units, l.UnitType, l.Product, l.Kind.Label(),
		l.Start.UTC().Format(time.DateOnly), l.Expiry.UTC().Format(time.DateOnly))
	if l.ID != 0 {
		s = fmt.Sprintf("%d: %s", l.ID, s)
	}
	return s
}

func licensesValue(ls []license.License) value {
	texts := make([]string, len(ls))
	js := make([]licenseJSON, len(ls))
	for i, l := range ls {
		texts[i] = licenseText(l)
		js[i] = licenseJSON{l.ID, l.ProductID, l.Product, l.UnitType, l.Units, string(l.Kind), l.Start.UTC(), l.Expiry.UTC()}
	}
	return listValue(texts, js)
}

// changeList collects the changes of one audit entry.
type changeList []Change

// add appends a change; either side may be none.
func (cl *changeList) add(field, label string, before, after value) {
	*cl = append(*cl, Change{Field: field, Label: label, Before: before.text, After: after.text,
		BeforeValue: before.js, AfterValue: after.js})
}

// set appends a field that gets a value.
func (cl *changeList) set(field, label string, after value) { cl.add(field, label, none, after) }

// removed appends a field that loses its value.
func (cl *changeList) removed(field, label string, before value) { cl.add(field, label, before, none) }

// diff appends a change when the two values differ.
func (cl *changeList) diff(field, label string, before, after value) {
	if !bytes.Equal(before.js, after.js) || before.text != after.text {
		cl.add(field, label, before, after)
	}
}

// one returns a list of one change.
func one(field, label string, before, after value) []Change {
	var cl changeList
	cl.add(field, label, before, after)
	return cl
}

func kindValue(k license.Kind) value { return codeValue(k, k.Label()) }

// lowChanges are the figures of EventPoolBelowMinimum: the pool's
// remaining units (from before, when known) and its minimum.
func lowChanges(before value, remaining, minimum int64) []Change {
	cl := changeList(one("remaining", "Remaining units", before, intValue(remaining)))
	cl.set("minimum_licenses", "Minimum licences", intValue(minimum))
	return cl
}

// AuditFilter selects audit entries for AuditLog and AuditLogAll. Zero
// fields match everything.
type AuditFilter struct {
	// PartnerID selects one partner's entries.
	PartnerID int64
	// Global selects the entries that belong to no partner (PartnerID
	// 0): the changes of the catalogues and the bulk runs. It cannot be
	// combined with PartnerID.
	Global bool
	// Actor selects the entries of one actor, compared exactly.
	Actor string
	// Action selects the entries of one operation.
	Action Operation
	// From and To select the entries made at or after From and before
	// To; a zero bound is open. Stores keep instants in UTC at
	// microsecond precision, and so do the bounds.
	From, To time.Time
	// Page selects a page of AuditLog; AuditLogAll ignores it.
	Page
}

// normalize checks f and puts its bounds in UTC at microsecond precision.
func (f AuditFilter) normalize() (AuditFilter, error) {
	var errs []error
	if f.PartnerID < 0 {
		errs = append(errs, invalidf("partner", "must be a partner id (got %d)", f.PartnerID))
	}
	if f.Global && f.PartnerID != 0 {
		errs = append(errs, invalidf("partner", "selects one partner's entries: it cannot be combined with the entries of no partner (Global)"))
	}
	f.From, f.To = f.From.UTC().Truncate(time.Microsecond), f.To.UTC().Truncate(time.Microsecond)
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		errs = append(errs, invalidf("to", "must be after from (%s)", f.From.Format(time.RFC3339)))
	}
	var err error
	if f.Page, err = f.Page.normalize(); err != nil {
		errs = append(errs, err)
	}
	return f, errors.Join(errs...)
}

// AuditLog returns one page of the audit log across partners — every
// partner's entries and those of no partner (catalogues, bulk runs) —
// filtered by f, newest first, and the number of matching entries. A
// PartnerID that names no partner is ErrNotFound; an invalid filter is
// ErrInvalid naming the field.
func (m *Manager) AuditLog(ctx context.Context, f AuditFilter) ([]AuditEntry, int, error) {
	var (
		out   []AuditEntry
		total int
	)
	err := m.read(ctx, func(ctx context.Context, r Reader) (err error) {
		if f, err = m.auditFilter(ctx, r, f); err != nil {
			return err
		}
		out, total, err = r.AuditLog(ctx, f)
		return err
	})
	return out, total, err
}

func (m *Manager) auditFilter(ctx context.Context, r Reader, f AuditFilter) (AuditFilter, error) {
	f, err := f.normalize()
	if err != nil {
		return f, err
	}
	if f.PartnerID != 0 {
		_, err = r.PartnerRecord(ctx, f.PartnerID)
	}
	return f, err
}

// ExportBatch is how many records each read of AuditLogAll and ListAll
// fetches: what they hold in memory at a time.
const ExportBatch = 500

// AuditLogAll returns every audit entry matching f (f.Page aside),
// newest first, as an iterator for exports of any size: it reads
// ExportBatch entries at a time, each batch a read of its own, by keyset
// (the entries below the last id seen), so memory stays flat however long
// the log. The entries of the changes committed while it runs are left
// out. A failure is yielded once, with a zero entry, and ends the
// iteration; so does the caller's break.
//
//	for e, err := range m.AuditLogAll(ctx, partner.AuditFilter{Actor: "ops@vendor.example"}) {
//		if err != nil {
//			return err
//		}
//		w.Write(...)
//	}
func (m *Manager) AuditLogAll(ctx context.Context, f AuditFilter) iter.Seq2[AuditEntry, error] {
	return func(yield func(AuditEntry, error) bool) {
		f.Page = Page{} // ignored
		var before int64
		first := true
		for {
			var batch []AuditEntry
			err := m.read(ctx, func(ctx context.Context, r Reader) (err error) {
				if first {
					if f, err = m.auditFilter(ctx, r, f); err != nil {
						return err
					}
					first = false
				}
				batch, err = r.AuditBefore(ctx, f, before, ExportBatch)
				return err
			})
			if err != nil {
				yield(AuditEntry{}, err)
				return
			}
			for _, e := range batch {
				if !yield(e, nil) {
					return
				}
			}
			if len(batch) < ExportBatch {
				return
			}
			before = batch[len(batch)-1].ID
		}
	}
}
