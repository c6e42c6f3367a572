package httpadmin

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/partnerkit/partnerkit/partner"
)

// auditLogView is the data of the audit log screen.
type auditLogView struct {
	// The filter as typed, shown again in its form.
	Partner, Actor, Op, From, To string
	Ops                          []opOption
	Rows                         []auditLine
	Pager                        pager
	CSV                          string // the export of the filtered rows
	// Filtered: the filter selects something (the empty log then says
	// that nothing matches rather than that nothing was recorded).
	Filtered bool
}

// opOption is an operation in the audit log's menu.
type opOption struct {
	Value, Label string
	Selected     bool
}

// auditLine is one entry of the audit log, ready to print.
type auditLine struct {
	At, Actor, Action, Target string
	// TargetURL links a bulk run's entries to the run's page.
	TargetURL string
	// PartnerURL and PartnerName name the partner changed; both empty
	// for a change of no partner (the catalogues, bulk runs).
	PartnerURL, PartnerName string
	Changes                 []string
}

// auditLogPage is what the audit log template executes on.
type auditLogPage struct {
	view
	A auditLogView
}

// auditedOps are the operations the audit log can be filtered by: the
// guard table's, then those audited outside it.
func auditedOps() []partner.Operation {
	return append(partner.Operations(), partner.OpCreatePartner, partner.OpAutoRefill, partner.OpSweep,
		partner.OpCreateProduct, partner.OpUpdateProduct, partner.OpCreatePlan, partner.OpUpdatePlan,
		partner.OpBulkStart, partner.OpBulkFinish)
}

// auditFilterOf reads the audit log's filter from a query: partner (an
// id, or a company name that matches one partner), actor (exactly), op
// (an operation's code), from and to (dates, UTC, both included). Every
// problem is reported at once, each naming its field.
func (a *admin) auditFilterOf(r *http.Request, q url.Values) (partner.AuditFilter, error) {
	var (
		f    partner.AuditFilter
		errs []error
	)
	if s := strings.TrimSpace(q.Get("partner")); s != "" {
		if id, err := parseID(s); err == nil {
			f.PartnerID = id
		} else if id, err := a.partnerNamed(r, s); err != nil {
			errs = append(errs, err)
		} else {
			f.PartnerID = id
		}
	}
	f.Actor = strings.TrimSpace(q.Get("actor"))
	if op := q.Get("op"); op != "" {
		if !slices.Contains(auditedOps(), partner.Operation(op)) {
			errs = append(errs, partner.NewError(partner.ErrInvalid, "operation", "must be one of the menu's operations (got %q)", op))
		}
		f.Action = partner.Operation(op)
	}
	day := func(field string) time.Time {
		s := strings.TrimSpace(q.Get(field))
		if s == "" {
			return time.Time{}
		}
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			errs = append(errs, partner.NewError(partner.ErrInvalid, field, "must be a date (YYYY-MM-DD) (got %q)", s))
		}
		return t
	}
	f.From, f.To = day("from"), day("to")
	if !f.To.IsZero() {
		f.To = f.To.AddDate(0, 0, 1) // the whole day
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		errs = append(errs, partner.NewError(partner.ErrInvalid, "to", "must be on or after the from date (%s)", f.From.Format(time.DateOnly)))
	}
	return f, errors.Join(errs...)
}

// partnerNamed finds the one partner whose company name contains s,
// preferring one named exactly s (letter case aside); a name that matches
// none, or several without one exact, is ErrInvalid naming "partner".
func (a *admin) partnerNamed(r *http.Request, s string) (int64, error) {
	ps, total, err := a.m.List(r.Context(), partner.Filter{Name: s, Page: partner.Page{Limit: 10}})
	if err != nil {
		return 0, err
	}
	for _, p := range ps {
		if strings.EqualFold(p.Profile.CompanyName, s) {
			return p.ID, nil
		}
	}
	switch total {
	case 0:
		return 0, partner.NewError(partner.ErrInvalid, "partner", "must name one partner: no company name contains “%s”", s)
	case 1:
		return ps[0].ID, nil
	}
	return 0, partner.NewError(partner.ErrInvalid, "partner", "must name one partner: “%s” is in %d names; type the whole name or the partner's id", s, total)
}

// auditLog is GET /audit: the audit log of every partner and of the
// catalogues and bulk runs, newest first, filtered and paged.
func (a *admin) auditLog(w http.ResponseWriter, r *http.Request, _ int64) {
	q := r.URL.Query()
	p := &auditLogPage{view: a.base(r, "Audit log")}
	v := &p.A
	v.Partner, v.Actor, v.Op, v.From, v.To = q.Get("partner"), q.Get("actor"), q.Get("op"), q.Get("from"), q.Get("to")
	v.Filtered = v.Partner != "" || v.Actor != "" || v.Op != "" || v.From != "" || v.To != ""
	for _, op := range auditedOps() {
		v.Ops = append(v.Ops, opOption{Value: string(op), Label: a.words.say(partner.OperationLabel(op)), Selected: string(op) == v.Op})
	}
	p.Form, p.FormName = form{Values: map[string]string{}, Errors: map[string]string{}}, "audit"
	offset, err := parseOffset(q.Get("offset"))
	if err != nil {
		a.errorPage(w, r, err, &link{URL: a.url(0) + "audit", Label: "Back to the audit log"})
		return
	}
	f, err := a.auditFilterOf(r, q)
	var (
		entries []partner.AuditEntry
		total   int
	)
	if err == nil {
		f.Page = partner.Page{Offset: offset, Limit: auditPageSize}
		entries, total, err = a.m.AuditLog(r.Context(), f)
		if err == nil && len(entries) == 0 && offset > 0 && total > 0 {
			f.Offset = clampOffset(offset, total, auditPageSize)
			entries, total, err = a.m.AuditLog(r.Context(), f)
		}
	}
	code := http.StatusOK
	if err != nil {
		if code = status(err); code >= 500 {
			a.errorPage(w, r, err, nil)
			return
		}
		a.failed(r, err)
		p.filterRefused(code, err)
		if code == http.StatusNotFound {
			p.Err = fmt.Sprintf("No partner has the id %d.", f.PartnerID)
			p.Form.Errors["partner"] = "must name one partner: none has this id"
		}
	}
	if err := a.auditLines(r, p, entries); err != nil {
		a.errorPage(w, r, err, nil)
		return
	}
	filter := url.Values{}
	for k, val := range map[string]string{"partner": v.Partner, "actor": v.Actor, "op": v.Op, "from": v.From, "to": v.To} {
		if val != "" {
			filter.Set(k, val)
		}
	}
	v.CSV = withQuery(a.url(0)+"audit.csv", filter)
	v.Pager = newPager(f.Offset, len(entries), total, auditPageSize, "changes", func(off int) string {
		pq := url.Values{}
		for k, vs := range filter {
			pq[k] = vs
		}
		if off > 0 {
			pq.Set("offset", strconv.Itoa(off))
		}
		return withQuery(a.url(0)+"audit", pq)
	})
	a.page(w, r, code, "Audit log", "auditlog-page", p)
}

// auditLines prints the entries, each partner named from one read of the
// partners of the page.
func (a *admin) auditLines(r *http.Request, p *auditLogPage, entries []partner.AuditEntry) error {
	var ids []int64
	for _, e := range entries {
		if e.PartnerID != 0 && !slices.Contains(ids, e.PartnerID) {
			ids = append(ids, e.PartnerID)
		}
	}
	names := map[int64]string{}
	if len(ids) > 0 {
		ps, _, err := a.m.List(r.Context(), partner.Filter{IDs: ids, Page: partner.Page{Limit: len(ids)}})
		if err != nil {
			return err
		}
		for _, x := range ps {
			names[x.ID] = x.Profile.CompanyName
		}
	}
	for _, e := range entries {
		l := auditLine{At: dateTimeText(e.At), Actor: e.Actor, Action: a.words.say(partner.OperationLabel(e.Action)), Target: a.auditTarget(e)}
		if key, ok := strings.CutPrefix(e.Target, "bulk run "); ok && (e.Action == partner.OpBulkStart || e.Action == partner.OpBulkFinish) {
			l.TargetURL = a.runURL(key)
		}
		if e.PartnerID != 0 {
			l.PartnerURL, l.PartnerName = a.url(e.PartnerID, string(partner.TabLicenses)), names[e.PartnerID]
			if l.PartnerName == "" {
				l.PartnerName = fmt.Sprintf("Partner %d", e.PartnerID)
			}
		}
		for _, c := range e.Changes {
			l.Changes = append(l.Changes, a.words.say(c.String()))
		}
		p.A.Rows = append(p.A.Rows, l)
	}
	return nil
}

// auditLogCSV is GET /audit.csv: every entry the audit log's filter
// selects, newest first, streamed from Manager.AuditLogAll a batch at a
// time (the rows are flushed to the client as they come); cells a
// spreadsheet would run as formulas are neutralised. A bad filter, or a
// failure before the first row, is answered as the screen answers it; a
// failure after rows were sent cuts the connection (see abortExport).
func (a *admin) auditLogCSV(w http.ResponseWriter, r *http.Request, _ int64) {
	back := &link{URL: withQuery(a.url(0)+"audit", r.URL.Query()), Label: "Back to the audit log"}
	f, err := a.auditFilterOf(r, r.URL.Query())
	if err != nil {
		a.errorPage(w, r, err, back)
		return
	}
	var s *csvStream
	for e, err := range a.m.AuditLogAll(r.Context(), f) {
		if err != nil {
			if s == nil { // nothing sent yet: a partner id no partner has (404), a store's failure
				a.errorPage(w, r, err, back)
				return
			}
			a.abortExport(r, s, "audit log", err)
		}
		if s == nil {
			s = startCSV(w, "audit-log.csv", auditLogColumns)
		}
		s.row([]string{e.At.UTC().Format(time.RFC3339), strconv.FormatInt(e.PartnerID, 10), cell(e.Actor), string(e.Action),
			cell(e.Target), cell(e.Summary()), cell(e.Before()), cell(e.After())})
	}
	if s == nil { // nothing matches: the header row alone
		s = startCSV(w, "audit-log.csv", auditLogColumns)
	}
	s.end()
}

// auditLogColumns are the header row of the audit log's export: the
// library's codes, as the partner's audit export has them.
var auditLogColumns = []string{"at", "partner_id", "actor", "action", "target", "changes", "before", "after"}

// filterRefused shows why a filter was refused: each field's problem
// next to it and, in words, in the message area (nothing was changed by
// a filter, so the message does not say so).
func (v *view) filterRefused(code int, err error) {
	if code != http.StatusUnprocessableEntity || !v.Form.mark(err, v.L) {
		v.Err = v.L.say(message(err))
		return
	}
	var probs []string
	for _, p := range partner.FieldErrors(err) {
		probs = append(probs, v.L.say(phrase(p.Field, p.Reason)))
	}
	if len(probs) == 1 {
		v.Err = probs[0]
		return
	}
	v.Err, v.Problems = fmt.Sprintf("Please correct these %d fields:", len(probs)), probs
}
