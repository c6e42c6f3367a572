package httpadmin

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/serviceplan"
)

type listView struct {
	Q, Status, Type string
	Rows            []partner.Partner
	Pager           pager
}

const listPageSize = 25

func (a *admin) list(w http.ResponseWriter, r *http.Request, _ int64) {
	q := r.URL.Query()
	offset, err := parseOffset(q.Get("offset"))
	if err != nil {
		a.errorPage(w, r, err, &link{URL: a.url(0), Label: "Back to the partners list"})
		return
	}
	f := partner.Filter{Name: strings.TrimSpace(q.Get("q")), Status: partner.Status(q.Get("status")),
		Type: partner.Type(q.Get("type")), Page: partner.Page{Offset: offset, Limit: listPageSize}}
	v := a.base(r, a.words.ConsoleTitle)
	v.List = listView{Q: f.Name, Status: string(f.Status), Type: string(f.Type)}
	rows, total, err := a.m.List(r.Context(), f)
	if err == nil && len(rows) == 0 && f.Offset > 0 && total > 0 { // past the end: show the last page
		f.Offset = clampOffset(f.Offset, total, listPageSize)
		rows, total, err = a.m.List(r.Context(), f)
	}
	code := http.StatusOK
	if err != nil {
		if code = status(err); code >= 500 {
			a.errorPage(w, r, err, nil)
			return
		}
		a.failed(r, err) // a filter typed into the URL: say what is wrong with it
		v.Err = v.L.say(message(err))
	}
	v.List.Rows = rows
	v.List.Pager = newPager(f.Offset, len(rows), total, listPageSize, "partners", func(off int) string {
		p := url.Values{}
		for k, val := range map[string]string{"q": f.Name, "status": string(f.Status), "type": string(f.Type)} {
			if val != "" {
				p.Set(k, val)
			}
		}
		if off > 0 {
			p.Set("offset", strconv.Itoa(off))
		}
		return withQuery(a.url(0), p)
	})
	v.List.Pager.Target = "#results"
	if isHX(r) && r.Header.Get("HX-Target") == "results" {
		a.fragment(w, code, "results", v)
		return
	}
	a.page(w, r, code, a.words.ConsoleTitle, "list-page", v)
}

func (a *admin) newPartner(w http.ResponseWriter, r *http.Request, _ int64) {
	a.createForm(w, r, http.StatusOK, form{Values: map[string]string{"type": string(partner.MSP)}, Errors: map[string]string{}}, nil)
}

func (a *admin) createForm(w http.ResponseWriter, r *http.Request, code int, f form, err error) {
	v := a.base(r, "Create Partner")
	v.FormName, v.Form = "create", f
	if err != nil {
		a.failed(r, err)
		v.fail(code, err)
	}
	plans, perr := a.m.Plans(r.Context())
	if perr != nil {
		a.errorPage(w, r, perr, &link{URL: a.url(0), Label: "Back to the partners list"})
		return
	}
	for _, p := range plans {
		if p.Enabled {
			v.Catalog = append(v.Catalog, p)
		}
	}
	if isHX(r) && r.Method == http.MethodPost {
		a.fragment(w, code, "create-form", v)
		return
	}
	a.page(w, r, code, "Create Partner", "create-page", v)
}

func (a *admin) create(w http.ResponseWriter, r *http.Request, _ int64) {
	if err := r.ParseForm(); err != nil {
		a.errorPage(w, r, formError(err), &link{URL: a.url(0) + "new", Label: "Back to Create Partner"})
		return
	}
	f := formOf(r)
	in := partner.CreateParams{Type: partner.Type(f.Val("type")),
		Profile: partner.Profile{CompanyName: f.Val("company"), City: f.Val("city"), State: f.Val("state"), Country: f.Val("country")},
		Admin:   account.Params{Name: f.Val("account"), FirstName: f.Val("first_name"), LastName: f.Val("last_name"), Email: f.Val("email")}}
	if dc := f.Val("data_center"); dc != "" {
		in.RemoteManager = []partner.DataCenter{partner.DataCenter(dc)}
	}
	for _, s := range r.PostForm["plan"] {
		id, err := parseID(s)
		if err != nil {
			a.createForm(w, r, http.StatusUnprocessableEntity, f, partner.NewError(partner.ErrInvalid, "service plans", "must be plans of the catalogue"))
			return
		}
		in.Plans = append(in.Plans, id)
	}
	p, err := a.m.Create(r.Context(), in)
	if err != nil {
		code := status(err)
		if code == http.StatusNotFound { // wrong type or unknown plan: a form problem here
			code = http.StatusUnprocessableEntity
		}
		if code >= 500 {
			a.errorPage(w, r, err, &link{URL: a.url(0) + "new", Label: "Back to Create Partner"})
			return
		}
		a.createForm(w, r, code, f, err)
		return
	}
	to := a.url(p.ID, string(partner.TabLicenses)) + "?done=created"
	if isHX(r) {
		w.Header().Set("HX-Redirect", to)
		w.WriteHeader(http.StatusOK)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// screenView holds a tab's data.
type screenView struct {
	Licenses    []licenseLine
	LicPager    pager
	Pools       []partner.Pool
	Assigned    []partner.AssignedPlan
	Assignable  []serviceplan.Plan
	Accounts    []account.Account
	DataCenters []dcLine
	Impact      partner.CancelImpact
	// Allocations is the page of Impact.Allocations the cancel page shows.
	Allocations []partner.AllocationView
	AllocPager  pager
	Audit       []partner.AuditEntry
	AuditPager  pager
	Offset      int // the position of the paged list, kept by the tab's forms
	Today       string
	NextYear    string
}

type licenseLine struct {
	license.License
	State license.State
	Low   bool
}

type dcLine struct {
	DC      partner.DataCenter
	Label   string
	Enabled bool
}

// Page sizes of the partner's lists.
const (
	licensePageSize    = 50
	auditPageSize      = 50
	allocationPageSize = 50
)

// pages are the partner's pages that are not tabs.
var pages = map[partner.Tab]bool{"audit": true, "cancel": true, "confirm": true}

var tabByPath = map[string]partner.Tab{
	"licenses": partner.TabLicenses, "management-licenses": partner.TabManagementLicenses,
	"service-plans": partner.TabServicePlans, "accounts": partner.TabAccounts, "profile": partner.TabProfile,
}

func (a *admin) tab(w http.ResponseWriter, r *http.Request, id int64) {
	switch r.PathValue("tab") {
	case "cancel":
		a.showCancel(w, r, id, http.StatusOK, nil)
		return
	case "audit":
		a.audit(w, r, id)
		return
	case "audit.csv":
		a.auditCSV(w, r, id)
		return
	}
	tab, ok := tabByPath[r.PathValue("tab")]
	if !ok {
		a.notFound(w, r)
		return
	}
	a.showTab(w, r, id, tab, http.StatusOK, r.URL.Query(), nil)
}

// article is the indefinite article of a type label: "an MSP" (an
// acronym says its letters), "a Reseller".
func article(word string) string {
	vowels := "AEIOUaeiou"
	if word != "" && strings.ToUpper(word) == word {
		vowels = "AEFHILMNORSX" // letters whose names start with a vowel sound
	}
	if word != "" && strings.ContainsRune(vowels, rune(word[0])) {
		return "an"
	}
	return "a"
}

// wrongTab says that a tab is not for the partner's type, and whose it is.
func wrongTab(p partner.Partner, tab partner.Tab) error {
	var owners []string
	for _, t := range partner.Types() {
		if partner.TabAvailable(t, tab) {
			owners = append(owners, t.Label())
		}
	}
	return partner.NewError(partner.ErrWrongType, "", "%s are for %s partners only; %s is %s %s",
		tab.Label(), strings.Join(owners, " and "), p.Profile.CompanyName, article(p.Type.Label()), p.Type.Label())
}

// screen loads the partner and the data of a tab into a view; q holds the
// position of the tab's paged list (offset). A tab that does not exist
// for the partner's type is refused with ErrWrongType.
func (a *admin) screen(ctx context.Context, r *http.Request, id int64, tab partner.Tab, q url.Values) (view, error) {
	p, err := a.m.Get(ctx, id)
	if err != nil {
		return view{}, err
	}
	if !partner.TabAvailable(p.Type, tab) && !pages[tab] {
		return view{P: p}, wrongTab(p, tab)
	}
	v := a.base(r, p.Profile.CompanyName)
	v.P, v.Tab, v.Partner = p, tab, true
	for _, t := range partner.Tabs(p.Type) {
		v.Tabs = append(v.Tabs, tabLink{Tab: t, Label: t.Label(), URL: a.url(id, string(t)), Selected: t == tab})
	}
	now := a.m.Now()
	s := &v.Screen
	s.Today, s.NextYear = now.Format(time.DateOnly), now.AddDate(1, 0, 0).Format(time.DateOnly)
	v.Token = newToken()
	if s.Offset, err = parseOffset(q.Get("offset")); err != nil {
		return v, err
	}
	switch tab {
	case partner.TabLicenses:
		err = a.licensePage(ctx, &v)
	case partner.TabManagementLicenses:
		for _, dc := range serviceplan.DataCenters() {
			s.DataCenters = append(s.DataCenters, dcLine{DC: dc, Label: dc.Label(), Enabled: p.HasRemoteManager(dc)})
		}
	case partner.TabServicePlans:
		if s.Assigned, err = a.m.AssignedPlans(ctx, id); err != nil {
			return v, err
		}
		var all []serviceplan.Plan
		if all, err = a.m.Plans(ctx); err != nil {
			return v, err
		}
		for _, pl := range all {
			if pl.Enabled && !slices.ContainsFunc(s.Assigned, func(x partner.AssignedPlan) bool { return x.ID == pl.ID }) {
				s.Assignable = append(s.Assignable, pl)
			}
		}
	case partner.TabAccounts:
		s.Accounts, err = a.m.Accounts(ctx, id)
	}
	return v, err
}

// licensePage loads one page of the partner's licences, oldest first, at
// the view's offset (past the end: the last page), and its pools.
func (a *admin) licensePage(ctx context.Context, v *view) error {
	s, id := &v.Screen, v.P.ID
	lics, total, err := a.m.Licenses(ctx, id, partner.Page{Offset: s.Offset, Limit: licensePageSize})
	if err == nil && len(lics) == 0 && s.Offset > 0 && total > 0 {
		s.Offset = clampOffset(s.Offset, total, licensePageSize)
		lics, total, err = a.m.Licenses(ctx, id, partner.Page{Offset: s.Offset, Limit: licensePageSize})
	}
	if err != nil {
		return err
	}
	if s.Pools, err = a.m.Pools(ctx, id); err != nil {
		return err
	}
	low := map[[2]string]bool{}
	for _, pool := range s.Pools {
		low[[2]string{pool.Product, pool.UnitType}] = pool.Low
	}
	for _, l := range lics {
		s.Licenses = append(s.Licenses, licenseLine{License: l, State: a.m.LicenseState(l), Low: low[[2]string{l.Product, l.UnitType}]})
	}
	s.LicPager = newPager(s.Offset, len(lics), total, licensePageSize, "licenses", func(off int) string {
		return withQuery(a.url(id, string(partner.TabLicenses)), offsetQuery(off))
	})
	s.LicPager.Target = "#partner-main"
	return nil
}

// backTo links back to a tab of the partner, for error pages.
func (a *admin) backTo(id int64, tab partner.Tab) *link {
	return &link{URL: a.url(id, string(tab)), Label: "Back to the " + tab.Label() + " tab"}
}

// showTab answers with a tab of the partner screen: the tab strip and the
// panel, plus the banner out of band (htmx), or the full page. q holds
// the list position (offset) and the success message (done).
func (a *admin) showTab(w http.ResponseWriter, r *http.Request, id int64, tab partner.Tab, code int, q url.Values, edit func(*view)) {
	v, err := a.screen(r.Context(), r, id, tab, q)
	if err != nil {
		var back *link
		if v.P.ID != 0 {
			back = a.backTo(id, partner.TabLicenses)
			if errors.Is(err, partner.ErrWrongType) {
				back.Label = "Back to " + v.P.Profile.CompanyName
			}
		}
		a.errorPage(w, r, err, back)
		return
	}
	v.Msg = a.doneMessage(q)
	if edit != nil {
		edit(&v)
	}
	if isHX(r) {
		a.fragment(w, code, "hx-partner", v)
		return
	}
	a.page(w, r, code, v.P.Profile.CompanyName+" · "+tab.Label(), "partner-page", v)
}

func (a *admin) showCancel(w http.ResponseWriter, r *http.Request, id int64, code int, edit func(*view)) {
	v, err := a.screen(r.Context(), r, id, "cancel", r.URL.Query())
	if err != nil {
		a.errorPage(w, r, err, nil)
		return
	}
	s := &v.Screen
	s.Impact, err = a.m.CancelPreview(r.Context(), id)
	switch {
	case err == nil:
		all := s.Impact.Allocations
		s.Offset = clampOffset(s.Offset, len(all), allocationPageSize)
		s.Allocations = all[s.Offset:min(s.Offset+allocationPageSize, len(all))]
		s.AllocPager = newPager(s.Offset, len(s.Allocations), len(all), allocationPageSize, "customer licenses", func(off int) string {
			return withQuery(a.url(id, "cancel"), offsetQuery(off))
		})
	case status(err) == http.StatusConflict: // the guard refuses: the page says why
		a.failed(r, err)
		v.Err = v.L.say(message(err))
	default:
		a.errorPage(w, r, err, a.backTo(id, partner.TabProfile))
		return
	}
	if edit != nil {
		edit(&v)
	}
	a.page(w, r, code, "Cancel "+v.P.Profile.CompanyName, "cancel-page", v)
}

func (a *admin) audit(w http.ResponseWriter, r *http.Request, id int64) {
	v, err := a.screen(r.Context(), r, id, "audit", r.URL.Query())
	if err != nil {
		a.errorPage(w, r, err, nil)
		return
	}
	s := &v.Screen
	s.Audit, s.AuditPager.Total, err = a.m.Audit(r.Context(), id, partner.Page{Offset: s.Offset, Limit: auditPageSize})
	if err == nil && len(s.Audit) == 0 && s.Offset > 0 && s.AuditPager.Total > 0 {
		s.Offset = clampOffset(s.Offset, s.AuditPager.Total, auditPageSize)
		s.Audit, s.AuditPager.Total, err = a.m.Audit(r.Context(), id, partner.Page{Offset: s.Offset, Limit: auditPageSize})
	}
	if err != nil {
		a.errorPage(w, r, err, a.backTo(id, partner.TabLicenses))
		return
	}
	s.AuditPager = newPager(s.Offset, len(s.Audit), s.AuditPager.Total, auditPageSize, "changes", func(off int) string {
		return withQuery(a.url(id, "audit"), offsetQuery(off))
	})
	a.page(w, r, http.StatusOK, v.P.Profile.CompanyName+" · Audit trail", "audit-page", v)
}

// auditCSV exports the partner's whole audit trail, newest first, as CSV.
// Cells that a spreadsheet would read as a formula are quoted with a
// leading apostrophe.
func (a *admin) auditCSV(w http.ResponseWriter, r *http.Request, id int64) {
	p, err := a.m.Get(r.Context(), id)
	if err != nil {
		a.errorPage(w, r, err, nil)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="audit-partner-%d.csv"`, p.ID))
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"at", "actor", "action", "target", "before", "after"})
	for offset := 0; ; offset += partner.MaxLimit {
		entries, total, err := a.m.Audit(r.Context(), id, partner.Page{Offset: offset, Limit: partner.MaxLimit})
		if err != nil {
			a.log.ErrorContext(r.Context(), "httpadmin: audit export ended short", "path", a.prefix+r.URL.Path, "partner", id, "err", err)
			return
		}
		for _, e := range entries {
			_ = cw.Write([]string{e.At.UTC().Format(time.RFC3339), cell(e.Actor), string(e.Action), cell(e.Target), cell(e.Before()), cell(e.After())})
		}
		if offset+len(entries) >= total || len(entries) == 0 {
			break
		}
	}
	cw.Flush()
}

// cell neutralises text a spreadsheet would run as a formula.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
