package httpadmin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/partnerkit/partnerkit/partner"
)

// bulkOps is the operation each bulk change applies to every partner:
// the one Options.Authorize is asked about for it.
var bulkOps = map[partner.BulkKind]partner.Operation{
	partner.BulkAssignLicenses:     partner.OpAssignLicenses,
	partner.BulkExtendLicenses:     partner.OpExtendLicense,
	partner.BulkSetMinimumLicenses: partner.OpSetMinimumLicenses,
	partner.BulkSuspend:            partner.OpSuspend,
	partner.BulkReactivate:         partner.OpReactivate,
}

// bulkPageSize is how many partners a page of a preview or of a run's
// outcomes shows.
const bulkPageSize = 50

// attentionLabels say what each attention word selects.
var attentionLabels = map[partner.Attention]string{
	partner.AttentionLowStock: "a license pool below its minimum",
	partner.AttentionExpiring: "licenses expiring soon",
	partner.AttentionAny:      "a pool below its minimum or licenses expiring soon",
}

// selection is the partners a bulk change is for: the ids ticked on the
// partners list, or every partner matching its filter (all=1).
type selection struct {
	ids    []int64
	all    bool
	filter partner.Filter
}

// selectionOf reads the selection the partners list posts: repeated
// "id", or "all=1" with the list's filter in q, status, type, product and
// attention. "all=1" wins over ticked ids: it selects every partner the
// filter matches, those ticked among them.
func selectionOf(f url.Values) (selection, error) {
	var s selection
	if f.Get("all") == "1" {
		s.all = true
		s.filter = partner.Filter{Name: strings.TrimSpace(f.Get("q")), Status: partner.Status(f.Get("status")), Type: partner.Type(f.Get("type"))}
		var errs []error
		if p := f.Get("product"); p != "" {
			id, err := parseID(p)
			if err != nil {
				errs = append(errs, partner.NewError(partner.ErrInvalid, "product", "must be a product of the catalogue (got %q)", p))
			}
			s.filter.ProductID = id
		}
		att, ok := attentions[f.Get("attention")] // the partners list's words
		if !ok && f.Get("attention") != "" {
			errs = append(errs, partner.NewError(partner.ErrInvalid, "attention", "must be low-stock, expiring or any (got %q)", f.Get("attention")))
		}
		s.filter.Attention = att
		return s, errors.Join(errs...)
	}
	for _, v := range f["id"] {
		id, err := parseID(v)
		if err != nil {
			return s, partner.NewError(partner.ErrInvalid, "partners", "must be partner ids (got %q)", v)
		}
		s.ids = append(s.ids, id)
	}
	s.ids = slices.Compact(slices.Sorted(slices.Values(s.ids)))
	if len(s.ids) == 0 {
		return s, partner.NewError(partner.ErrInvalid, "partners", "select at least one partner on the partners list, or all that match its filter")
	}
	return s, nil
}

// fields are the selection as the hidden fields that carry it from page
// to page.
func (s selection) fields() []hiddenField {
	if !s.all {
		out := make([]hiddenField, len(s.ids))
		for i, id := range s.ids {
			out[i] = hiddenField{"id", strconv.FormatInt(id, 10)}
		}
		return out
	}
	out := []hiddenField{{"all", "1"}}
	for _, kv := range [][2]string{{"q", s.filter.Name}, {"status", string(s.filter.Status)}, {"type", string(s.filter.Type)}} {
		if kv[1] != "" {
			out = append(out, hiddenField{kv[0], kv[1]})
		}
	}
	if s.filter.ProductID != 0 {
		out = append(out, hiddenField{"product", strconv.FormatInt(s.filter.ProductID, 10)})
	}
	for w, att := range attentions {
		if att == s.filter.Attention {
			out = append(out, hiddenField{"attention", w})
		}
	}
	return out
}

// params are the selection as BulkParams select partners.
func (s selection) params(key string, action partner.BulkAction) partner.BulkParams {
	p := partner.BulkParams{Key: key, Action: action}
	if s.all {
		f := s.filter
		p.Filter = &f
	} else {
		p.PartnerIDs = s.ids
	}
	return p
}

// words say which partners a selection holds; products names the
// catalogue's products by id.
func (s selection) words(products map[int64]string) string {
	if !s.all {
		if len(s.ids) == 1 {
			return "1 partner selected on the partners list"
		}
		return fmt.Sprintf("%d partners selected on the partners list", len(s.ids))
	}
	return "Every partner matching the filter: " + filterWords(s.filter, products)
}

// filterWords says what a filter of the partners list selects.
func filterWords(f partner.Filter, products map[int64]string) string {
	var parts []string
	if f.Name != "" {
		parts = append(parts, fmt.Sprintf("company name containing “%s”", f.Name))
	}
	if f.Status != "" {
		parts = append(parts, "status "+f.Status.Label())
	}
	if f.Type != "" {
		parts = append(parts, "type "+f.Type.Label())
	}
	if f.ProductID != 0 {
		name := products[f.ProductID]
		if name == "" {
			name = fmt.Sprintf("product %d", f.ProductID)
		}
		parts = append(parts, "holding "+name)
	}
	if l := attentionLabels[f.Attention]; l != "" {
		parts = append(parts, "with "+l)
	}
	if len(parts) == 0 {
		return "all partners"
	}
	return strings.Join(parts, ", ")
}

// hiddenField is a form field a page carries on to the next.
type hiddenField struct{ Name, Value string }

// bulkView is the data of the bulk pages.
type bulkView struct {
	Kind      partner.BulkKind
	KindLabel string
	// Carry are the hidden fields of the selection and the action,
	// Params those of the action's parameters, for the next step.
	Carry, Params []hiddenField
	Selection     string
	Products      []productOption // for Extend licences' product menu
	Preview       partner.BulkPreview
	Items         []bulkLine
	// PrevOffset and NextOffset page the preview through forms (it is
	// posted); -1 when there is no such page.
	PrevOffset, NextOffset int
	Caption                string
	Key                    string

	Run      partner.BulkRun
	RunURL   string
	Running  bool // this console is running it now
	Stopped  bool // neither finished nor running: Resume
	Done     int  // partners with an outcome
	Outcome  string
	Outcomes []outcomeLink
	RunItems []bulkLine
	Pager    pager
}

// productOption is a product of the catalogue in a menu.
type productOption struct {
	ID       int64
	Name     string
	Selected bool
}

// bulkLine is one partner of a preview or a run, ready to print.
type bulkLine struct {
	URL, Name    string
	Outcome      string // its class
	OutcomeLabel string
	Reason       string
	Changes      []string
	At           string
}

// outcomeLink filters a run's partners by outcome.
type outcomeLink struct {
	Label, URL string
	Count      int
	Current    bool
}

// outcomeLabels are the words of each outcome, on a preview (what would
// happen) and on a run (what happened).
var outcomeLabels = map[partner.BulkOutcome][2]string{
	partner.BulkPending:   {"Will change", "Pending"},
	partner.BulkDone:      {"Done", "Done"},
	partner.BulkUnchanged: {"Nothing to change", "Unchanged"},
	partner.BulkRefused:   {"Refused", "Refused"},
	partner.BulkFailed:    {"Failed", "Failed"},
}

// bulkPage is what the bulk templates execute on.
type bulkPage struct {
	view
	B bulkView
}

// bulkRunner keeps the bulk runs this console is running, by key.
type bulkRunner struct {
	mu   sync.Mutex
	jobs map[string]*bulkJob
}

// bulkJob is one run of Manager.Bulk in the background; done closes when
// it returns, with err.
type bulkJob struct {
	done chan struct{}
	err  error
}

// running returns the job of the key, or nil.
func (b *bulkRunner) running(key string) *bulkJob {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.jobs[key]
}

// start runs Manager.Bulk with params in the background, unless a run of
// the same key already runs here; it returns that run's job. The run
// keeps ctx's values (the actor) but not its end: it ends with the
// console's Options.Context.
func (a *admin) startBulk(ctx context.Context, params partner.BulkParams) *bulkJob {
	b := &a.bulk
	b.mu.Lock()
	defer b.mu.Unlock()
	if j := b.jobs[params.Key]; j != nil {
		return j
	}
	j := &bulkJob{done: make(chan struct{})}
	b.jobs[params.Key] = j
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(a.life, cancel)
	go func() {
		defer close(j.done)
		defer cancel()
		defer stop()
		_, j.err = a.m.Bulk(runCtx, params)
		if j.err != nil && status(j.err) >= 500 {
			a.log.ErrorContext(runCtx, "httpadmin: bulk run stopped", "key", params.Key, "err", j.err)
		}
		b.mu.Lock()
		delete(b.jobs, params.Key)
		b.mu.Unlock()
	}()
	return j
}

// bulkKind reads the action field and asks Options.Authorize whether the
// request may apply its operation to partners.
func (a *admin) bulkKind(w http.ResponseWriter, r *http.Request, v string) (partner.BulkKind, bool) {
	kind := partner.BulkKind(v)
	op, ok := bulkOps[kind]
	if !ok {
		labels := make([]string, 0, len(bulkOps))
		for _, k := range partner.BulkKinds() {
			labels = append(labels, fmt.Sprintf("%s (%s)", k, k.Label()))
		}
		a.bulkError(w, r, partner.NewError(partner.ErrInvalid, "action", "must be one of %s (got %q)", strings.Join(labels, ", "), v))
		return "", false
	}
	noteOf(r).op = op
	if err := a.opts.Authorize(r, Access{Operation: op}); errors.Is(err, ErrUnauthenticated) {
		a.signIn(w, r, err)
		return "", false
	} else if err != nil {
		a.forbidden(w, r, "Your account may not do this; ask an administrator if you need it.", "not authorized: "+err.Error())
		return "", false
	}
	return kind, true
}

// bulkError answers a bulk request that has no form to show its error
// on: 422 for a bad selection or action, with the way back to the list.
func (a *admin) bulkError(w http.ResponseWriter, r *http.Request, err error) {
	a.failed(r, err)
	v := a.base(r, "This bulk action was not started")
	v.Err = v.L.say(message(err))
	v.Back = link{URL: a.url(0), Label: "Back to the partners list"}
	a.respond(w, r, status(err), v)
}

// bulkStart reads what every bulk post carries: the selection and the
// action; it answers the request itself when it cannot go on.
func (a *admin) bulkStart(w http.ResponseWriter, r *http.Request) (selection, partner.BulkKind, form, bool) {
	if err := r.ParseForm(); err != nil {
		a.errorPage(w, r, formError(err), &link{URL: a.url(0), Label: "Back to the partners list"})
		return selection{}, "", form{}, false
	}
	kind, ok := a.bulkKind(w, r, r.PostForm.Get("action"))
	if !ok {
		return selection{}, "", form{}, false
	}
	sel, err := selectionOf(r.PostForm)
	if err != nil {
		a.bulkError(w, r, err)
		return selection{}, "", form{}, false
	}
	return sel, kind, formOf(r), true
}

// bulkBase is the page of a bulk step: the selection in words, the
// fields that carry it and the action, and the catalogue.
func (a *admin) bulkBase(ctx context.Context, r *http.Request, sel selection, kind partner.BulkKind, f form) (*bulkPage, error) {
	p := &bulkPage{view: a.base(r, "Bulk action: "+kind.Label())}
	p.Form, p.FormName = f, "bulk"
	if p.Form.Errors == nil {
		p.Form.Errors = map[string]string{}
	}
	p.Screen.Today = a.m.Now().Format(time.DateOnly)
	var err error
	if p.Lines, err = a.catalogueLines(ctx); err != nil {
		return nil, err
	}
	names := map[int64]string{}
	chosen, _ := parseID(f.Val("extend_product"))
	for _, l := range p.Lines {
		names[l.ID] = l.Name
		p.B.Products = append(p.B.Products, productOption{ID: l.ID, Name: l.Name, Selected: l.ID == chosen})
	}
	p.B.Kind, p.B.KindLabel = kind, kind.Label()
	p.B.Selection = sel.words(names)
	p.B.Carry = append(sel.fields(), hiddenField{"action", string(kind)})
	return p, nil
}

// bulkFields are the names of the fields of each action's parameters.
func bulkFields(kind partner.BulkKind, lines []assignLine) []string {
	switch kind {
	case partner.BulkAssignLicenses:
		var out []string
		for _, l := range lines {
			out = append(out, l.TrialIn, l.FullIn, l.StartIn, l.ExpiryIn)
		}
		return out
	case partner.BulkExtendLicenses:
		return []string{"days", "expiry", "extend_product"}
	case partner.BulkSetMinimumLicenses:
		return []string{"minimum"}
	}
	return nil
}

// hasParams reports whether an action takes parameters (a form before
// its preview).
func hasParams(kind partner.BulkKind) bool {
	return kind != partner.BulkSuspend && kind != partner.BulkReactivate
}

// maxExtendDays bounds Extend licences' days from today.
const maxExtendDays = 3650

// actionOf reads an action's parameters from its form: the grant lines
// of Assign licences (as the Assign Licenses form reads them), the days
// from today or the date of Extend licences and its product, the minimum
// of Set minimum licences.
func (a *admin) actionOf(kind partner.BulkKind, f form, lines []assignLine) (partner.BulkAction, []grantLine, error) {
	act := partner.BulkAction{Kind: kind}
	switch kind {
	case partner.BulkAssignLicenses:
		grants, from, err := grantsOf(f, lines)
		if err != nil {
			return act, nil, err
		}
		if len(grants) == 0 {
			return act, nil, partner.NewError(partner.ErrInvalid, "licenses", "enter Trial or Full units of at least one product")
		}
		act.Grants = grants
		return act, from, nil
	case partner.BulkExtendLicenses:
		var errs []error
		days, date := strings.TrimSpace(f.Val("days")), strings.TrimSpace(f.Val("expiry"))
		switch {
		case days != "" && date != "":
			errs = append(errs, partner.NewError(partner.ErrInvalid, "expiry", "give a number of days or a date, not both"))
		case days != "":
			n, err := strconv.Atoi(days)
			if err != nil || n < 1 || n > maxExtendDays {
				errs = append(errs, partner.NewError(partner.ErrInvalid, "days", "must be a whole number from 1 to %d (got %q)", maxExtendDays, days))
			} else {
				y, m, d := a.m.Now().UTC().Date()
				act.Expiry = time.Date(y, m, d+n, 0, 0, 0, 0, time.UTC)
			}
		case date != "":
			t, err := time.Parse(time.DateOnly, date)
			if err != nil {
				errs = append(errs, partner.NewError(partner.ErrInvalid, "expiry", "must be a date (YYYY-MM-DD)"))
			}
			act.Expiry = t
		default:
			errs = append(errs, partner.NewError(partner.ErrInvalid, "expiry", "is required: give a number of days from today or a date"))
		}
		if p := f.Val("extend_product"); p != "" {
			id, err := parseID(p)
			if err != nil {
				errs = append(errs, partner.NewError(partner.ErrInvalid, "product", "must be a product of the catalogue (got %q)", p))
			}
			act.ProductID = id
		}
		return act, nil, errors.Join(errs...)
	case partner.BulkSetMinimumLicenses:
		s := strings.TrimSpace(f.Val("minimum"))
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return act, nil, partner.NewError(partner.ErrInvalid, "minimum licenses", "must be a whole number (got %q)", s)
		}
		act.Minimum = n
	}
	return act, nil, nil
}

// bulkForm is POST /bulk: the action's parameters, for the selection the
// partners list posted; an action without parameters goes on to its
// preview.
func (a *admin) bulkForm(w http.ResponseWriter, r *http.Request, _ int64) {
	sel, kind, f, ok := a.bulkStart(w, r)
	if !ok {
		return
	}
	if !hasParams(kind) {
		a.bulkPreview(w, r, sel, kind, f)
		return
	}
	a.showBulkForm(w, r, http.StatusOK, sel, kind, f, nil)
}

// showBulkForm shows the form of an action's parameters, with the
// problems of err, if any, marked on it.
func (a *admin) showBulkForm(w http.ResponseWriter, r *http.Request, code int, sel selection, kind partner.BulkKind, f form, err error) {
	p, berr := a.bulkBase(r.Context(), r, sel, kind, f)
	if berr != nil {
		a.errorPage(w, r, berr, &link{URL: a.url(0), Label: "Back to the partners list"})
		return
	}
	if err != nil {
		a.failed(r, err)
		p.fail(code, err)
	}
	a.page(w, r, code, p.Title, "bulk-form-page", p)
}

// bulkPreviewPost is POST /bulk/preview: what the action would do to each
// partner, page by page, and the confirmation that runs it.
func (a *admin) bulkPreviewPost(w http.ResponseWriter, r *http.Request, _ int64) {
	sel, kind, f, ok := a.bulkStart(w, r)
	if !ok {
		return
	}
	a.bulkPreview(w, r, sel, kind, f)
}

func (a *admin) bulkPreview(w http.ResponseWriter, r *http.Request, sel selection, kind partner.BulkKind, f form) {
	ctx := r.Context()
	offset, err := parseOffset(f.Val("offset"))
	if err != nil {
		a.bulkError(w, r, err)
		return
	}
	p, err := a.bulkBase(ctx, r, sel, kind, f)
	if err != nil {
		a.errorPage(w, r, err, &link{URL: a.url(0), Label: "Back to the partners list"})
		return
	}
	act, from, err := a.actionOf(kind, f, p.Lines)
	var pv partner.BulkPreview
	if err == nil {
		pv, err = a.m.BulkPreview(ctx, sel.params("", act), partner.Page{Offset: offset, Limit: bulkPageSize})
		if err == nil && len(pv.Items) == 0 && offset > 0 && pv.Total > 0 {
			offset = clampOffset(offset, pv.Total, bulkPageSize)
			pv, err = a.m.BulkPreview(ctx, sel.params("", act), partner.Page{Offset: offset, Limit: bulkPageSize})
		}
	}
	if err != nil {
		a.bulkRefused(w, r, p, sel, kind, f, relabel(err, from))
		return
	}
	for _, name := range bulkFields(kind, p.Lines) {
		if v := f.Val(name); v != "" {
			p.B.Params = append(p.B.Params, hiddenField{name, v})
		}
	}
	p.Title = "Preview: " + kind.Label()
	p.B.Preview = pv
	p.B.Key = "bulk-" + newToken()
	for _, it := range pv.Items {
		l := bulkLine{URL: a.url(it.PartnerID, string(partner.TabLicenses)), Name: it.CompanyName, Outcome: string(it.Outcome),
			OutcomeLabel: outcomeLabels[it.Outcome][0], Reason: sentence(a.words.say(it.Reason))}
		if l.Name == "" {
			l.Name, l.URL = fmt.Sprintf("Partner %d (does not exist)", it.PartnerID), ""
		}
		for _, c := range it.Changes {
			l.Changes = append(l.Changes, c.String())
		}
		p.B.Items = append(p.B.Items, l)
	}
	pg := newPager(offset, len(pv.Items), pv.Total, bulkPageSize, "partners", func(int) string { return "#" }) // paged by forms
	p.B.Caption = pg.Caption()
	p.B.PrevOffset, p.B.NextOffset = -1, -1
	if pg.PrevURL != "" {
		p.B.PrevOffset = max(0, min(offset, pv.Total)-bulkPageSize)
	}
	if pg.NextURL != "" {
		p.B.NextOffset = offset + len(pv.Items)
	}
	a.page(w, r, http.StatusOK, p.Title, "bulk-preview-page", p)
}

// bulkRefused shows a refused preview or run: invalid parameters on the
// action's form (422), an unknown product or partner (404), a busy or
// failing store as an error page.
func (a *admin) bulkRefused(w http.ResponseWriter, r *http.Request, p *bulkPage, sel selection, kind partner.BulkKind, f form, err error) {
	code := status(err)
	switch {
	case code >= 500:
		a.errorPage(w, r, err, &link{URL: a.url(0), Label: "Back to the partners list"})
	case !hasParams(kind) || !slices.ContainsFunc(partner.FieldErrors(err), func(fe partner.FieldError) bool {
		return slices.Contains(paramFields, fe.Field) || strings.Contains(fe.Field, " units") ||
			strings.HasSuffix(fe.Field, " start") || strings.HasSuffix(fe.Field, " expiry")
	}):
		a.bulkError(w, r, err)
	default:
		a.failed(r, err)
		p.fail(code, err)
		a.page(w, r, code, p.Title, "bulk-form-page", p)
	}
}

// paramFields are the fields of the actions' forms, as errors name them.
var paramFields = []string{"licenses", "expiry", "days", "product", "minimum licenses"}

// bulkRunPost is POST /bulk/run: starts the run previewed, under the key
// the preview gave it, and leads to its progress. A second post of the
// same key (a double click, a retry) starts nothing more: it leads to the
// same run.
func (a *admin) bulkRunPost(w http.ResponseWriter, r *http.Request, _ int64) {
	sel, kind, f, ok := a.bulkStart(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	p, err := a.bulkBase(ctx, r, sel, kind, f)
	if err != nil {
		a.errorPage(w, r, err, &link{URL: a.url(0), Label: "Back to the partners list"})
		return
	}
	act, from, err := a.actionOf(kind, f, p.Lines)
	if err != nil {
		a.bulkRefused(w, r, p, sel, kind, f, relabel(err, from))
		return
	}
	key := f.Val("key")
	if key == "" {
		a.bulkError(w, r, partner.NewError(partner.ErrInvalid, "key", "is missing: run the action from its preview"))
		return
	}
	a.runAndFollow(w, r, sel.params(key, act), func(err error) {
		a.bulkRefused(w, r, p, sel, kind, f, relabel(err, from))
	})
}

// runAndFollow starts the run of params in the background (see
// startBulk) and, once the run is recorded, redirects to its page; a run
// refused before it starts (invalid, or its key naming a run with other
// parameters) is handed to refused. A key that names a finished run is
// answered at once (Bulk then changes nothing). A key that names a run
// not finished is followed only once Bulk has accepted the parameters as
// the same: it checks them before anything else, so a call still running
// after a second has accepted them.
func (a *admin) runAndFollow(w http.ResponseWriter, r *http.Request, params partner.BulkParams, refused func(error)) {
	ctx := r.Context()
	prior, perr := a.m.BulkRun(ctx, params.Key)
	existed := perr == nil
	if existed && prior.Finished() && a.bulk.running(params.Key) == nil {
		// A finished run: Bulk changes nothing and answers at once, with
		// the record (the same parameters) or ErrDuplicate (others).
		if _, err := a.m.Bulk(ctx, params); err != nil {
			if status(err) < 500 {
				refused(err)
			} else {
				a.errorPage(w, r, err, &link{URL: a.url(0), Label: "Back to the partners list"})
			}
			return
		}
		a.follow(w, r, params.Key)
		return
	}
	job := a.startBulk(ctx, params)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	accepted := time.After(time.Second)
	for recorded, waited := false, false; ; {
		select {
		case <-job.done:
			if job.err != nil && status(job.err) < 500 && !errors.Is(job.err, context.Canceled) {
				refused(job.err)
				return
			}
			if _, err := a.m.BulkRun(ctx, params.Key); err != nil {
				a.errorPage(w, r, cmpErr(job.err, err), &link{URL: a.url(0), Label: "Back to the partners list"})
				return
			}
		case <-accepted:
			if waited = true; !recorded {
				continue
			}
		case <-tick.C:
			_, err := a.m.BulkRun(ctx, params.Key)
			if recorded = err == nil; !recorded || existed && !waited {
				continue
			}
		case <-ctx.Done():
			a.errorPage(w, r, ctx.Err(), nil)
			return
		}
		a.follow(w, r, params.Key)
		return
	}
}

// follow redirects to the page of the run with the key.
func (a *admin) follow(w http.ResponseWriter, r *http.Request, key string) {
	to := a.runURL(key)
	if isHX(r) {
		w.Header().Set("HX-Redirect", to)
		w.WriteHeader(http.StatusOK)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// cmpErr is the first error that is not nil.
func cmpErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// runURL is the page of the run with the key.
func (a *admin) runURL(key string) string { return a.prefix + "/bulk/" + url.PathEscape(key) }

// bulkResume is POST /bulk/{key}/resume: runs again, under its key, a run
// that stopped before it finished (the console stopped with it); the
// partners done keep their outcome and only those pending are changed.
func (a *admin) bulkResume(w http.ResponseWriter, r *http.Request, _ int64) {
	run, err := a.m.BulkRun(r.Context(), r.PathValue("key"))
	if err != nil {
		a.errorPage(w, r, err, &link{URL: a.url(0), Label: "Back to the partners list"})
		return
	}
	if _, ok := a.bulkKind(w, r, string(run.Params.Action.Kind)); !ok {
		return
	}
	a.runAndFollow(w, r, run.Params, func(err error) { a.errorPage(w, r, err, &link{URL: a.runURL(run.Key), Label: "Back to the run"}) })
}

// bulkRunPage is GET /bulk/{key}: the run's progress, polled every second
// by htmx while it runs (or refreshed by a link), then its summary, and
// its partners page by page, filtered by outcome.
func (a *admin) bulkRunPage(w http.ResponseWriter, r *http.Request, _ int64) {
	ctx := r.Context()
	key := r.PathValue("key")
	run, err := a.m.BulkRun(ctx, key)
	if err != nil {
		a.errorPage(w, r, err, &link{URL: a.url(0), Label: "Back to the partners list"})
		return
	}
	p := &bulkPage{view: a.base(r, "Bulk run: "+run.Params.Action.Kind.Label())}
	b := &p.B
	b.Run, b.RunURL, b.Kind, b.KindLabel = run, a.runURL(key), run.Params.Action.Kind, run.Params.Action.Kind.Label()
	b.Running = a.bulk.running(key) != nil && !run.Finished()
	b.Stopped = !b.Running && !run.Finished()
	b.Done = run.Total - run.Pending
	if f := run.Params.Filter; f != nil {
		names := map[int64]string{}
		if f.ProductID != 0 {
			if pr, err := a.m.Product(ctx, f.ProductID); err == nil {
				names[pr.ID] = pr.Name
			}
		}
		b.Selection = "Every partner matching the filter: " + filterWords(*f, names)
	} else {
		b.Selection = fmt.Sprintf("%d partners selected on the partners list", len(run.Params.PartnerIDs))
	}
	if isHX(r) && r.Header.Get("HX-Target") == "bulk-progress" {
		if run.Finished() {
			w.Header().Set("HX-Refresh", "true") // the summary and the outcomes: the whole page
		}
		a.fragment(w, http.StatusOK, "bulk-progress", p)
		return
	}
	q := r.URL.Query()
	outcome := partner.BulkOutcome(q.Get("outcome"))
	if outcome != "" && !slices.Contains(partner.BulkOutcomes(), outcome) {
		a.errorPage(w, r, &badRequest{fmt.Sprintf("The outcome %q is not one of pending, done, unchanged, refused or failed.", outcome)},
			&link{URL: b.RunURL, Label: "Back to the run"})
		return
	}
	offset, err := parseOffset(q.Get("offset"))
	if err != nil {
		a.errorPage(w, r, err, &link{URL: b.RunURL, Label: "Back to the run"})
		return
	}
	items, total, err := a.m.BulkItems(ctx, key, partner.BulkItemFilter{Outcome: outcome, Page: partner.Page{Offset: offset, Limit: bulkPageSize}})
	if err == nil && len(items) == 0 && offset > 0 && total > 0 {
		offset = clampOffset(offset, total, bulkPageSize)
		items, total, err = a.m.BulkItems(ctx, key, partner.BulkItemFilter{Outcome: outcome, Page: partner.Page{Offset: offset, Limit: bulkPageSize}})
	}
	if err != nil {
		a.errorPage(w, r, err, &link{URL: a.url(0), Label: "Back to the partners list"})
		return
	}
	b.Outcome = string(outcome)
	link := func(o partner.BulkOutcome, off int) string {
		v := url.Values{}
		if o != "" {
			v.Set("outcome", string(o))
		}
		if off > 0 {
			v.Set("offset", strconv.Itoa(off))
		}
		return withQuery(b.RunURL, v)
	}
	counts := map[partner.BulkOutcome]int{"": run.Total, partner.BulkPending: run.Pending, partner.BulkDone: run.Done,
		partner.BulkUnchanged: run.Unchanged, partner.BulkRefused: run.Refused, partner.BulkFailed: run.Failed}
	for _, o := range append([]partner.BulkOutcome{""}, partner.BulkOutcomes()...) {
		label := "All"
		if o != "" {
			label = outcomeLabels[o][1]
		}
		if o == partner.BulkPending && run.Pending == 0 && outcome != o {
			continue
		}
		b.Outcomes = append(b.Outcomes, outcomeLink{Label: label, URL: link(o, 0), Count: counts[o], Current: o == outcome})
	}
	for _, it := range items {
		l := bulkLine{URL: a.url(it.PartnerID, string(partner.TabLicenses)), Name: it.CompanyName, Outcome: string(it.Outcome),
			OutcomeLabel: outcomeLabels[it.Outcome][1], Reason: sentence(a.words.say(it.Reason)), At: dateTimeText(it.At)}
		if l.Name == "" {
			l.Name, l.URL = fmt.Sprintf("Partner %d (does not exist)", it.PartnerID), ""
		}
		b.RunItems = append(b.RunItems, l)
	}
	noun := "partners"
	if outcome != "" {
		noun = strings.ToLower(outcomeLabels[outcome][1]) + " partners"
	}
	b.Pager = newPager(offset, len(items), total, bulkPageSize, noun, func(off int) string { return link(outcome, off) })
	a.page(w, r, http.StatusOK, p.Title, "bulk-run-page", p)
}

// dateTimeText shows an instant as the console does: UTC to the minute,
// or "—" when unset.
func dateTimeText(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// Percent is how much of the run is done, 0 to 100.
func (b bulkView) Percent() int {
	if b.Run.Total == 0 {
		return 100
	}
	return b.Done * 100 / b.Run.Total
}

// ProgressMax is the progress bar's maximum: the partners of the run, at
// least 1.
func (b bulkView) ProgressMax() int { return max(b.Run.Total, 1) }

// ProgressValue is the progress bar's value.
func (b bulkView) ProgressValue() int {
	if b.Run.Total == 0 {
		return 1
	}
	return b.Done
}

// View is the page's view, for templates that take one (the grant lines).
func (p *bulkPage) View() *view { return &p.view }
