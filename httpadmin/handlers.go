package httpadmin

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/serviceplan"
)

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
	if v.Lines, perr = a.catalogueLines(r.Context()); perr != nil {
		a.errorPage(w, r, perr, &link{URL: a.url(0), Label: "Back to the partners list"})
		return
	}
	now := a.m.Now()
	v.Screen.Today = now.Format(time.DateOnly)
	if isHX(r) && r.Method == http.MethodPost {
		a.fragment(w, code, "create-form", &v)
		return
	}
	a.page(w, r, code, "Create Partner", "create-page", &v)
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
	lines, err := a.catalogueLines(r.Context())
	if err != nil {
		a.errorPage(w, r, err, &link{URL: a.url(0) + "new", Label: "Back to Create Partner"})
		return
	}
	grants, from, err := grantsOf(f, lines)
	if err != nil {
		a.createForm(w, r, http.StatusUnprocessableEntity, f, err)
		return
	}
	in.Licenses = grants
	p, err := a.m.Create(r.Context(), in)
	err = relabel(err, from)
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
	Licenses []licenseLine
	LicPager pager
	// Expiring and Expired count the partner's licences Expiring soon
	// and Expired (Partner.ExpiringLicenses, ExpiredLicenses), all of
	// them, not only the page shown; CountScope says so in words.
	Expiring, Expired int
	CountScope        string
	Pools             []poolLine
	LowPools          int
	License           licenseDetailView // a licence's page
	Customers         []customerLine
	CustPager         pager
	CustQ             string
	Customer          customerDetailView // a customer's page
	ByCustomer        []partner.CustomerImpact
	ImpactPager       pager
	Assigned          []partner.AssignedPlan
	Assignable        []serviceplan.Plan
	Accounts          []accountLine
	AcctPager         pager
	DataCenters       []dcLine
	Impact            partner.CancelImpact
	Audit             []partner.AuditEntry
	AuditPager        pager
	Offset            int // the position of the paged list, kept by the tab's forms
	Today             string
	NextYear          string
}

// licenseLine is one row of the Licenses table with its values ready to
// print. The template reads plain fields: promoted fields of an embedded
// struct, methods and functions each cost it a reflective search or
// call per row (BENCHMARKS.md, "HTTP layer").
type licenseLine struct {
	ID                int64
	Product, UnitType string
	Kind              string // its label
	Meter             meter  // its units used of provisioned
	State             string // the class of its state
	StateLabel        string
	Start, Expiry     string
	// Locked disables its checkbox: the guard table refuses both
	// Disable and Enable Licenses.
	Locked bool
	Low    bool // its pool is below the minimum
	// Uncatalogued marks a licence granted before the catalogue existed.
	Uncatalogued bool
	URL          string // its page, with the lifecycle's controls
}

// meter is a <meter> of used units and its words: Max stays valid when
// nothing is provisioned, usage turns amber from High (80 % of the
// units), UsedOf is "9 of 10" and Fraction "9 / 10".
type meter struct {
	Max, High, Used  int64
	UsedOf, Fraction string
}

func newMeter(used, units int64) meter {
	u, n := strconv.FormatInt(used, 10), strconv.FormatInt(units, 10)
	return meter{Max: max(units, 1), High: max(units, 1) * 8 / 10, Used: used, UsedOf: u + " of " + n, Fraction: u + " / " + n}
}

// dateText shows a date as the console does: UTC, or "—" when unset.
func dateText(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format(time.DateOnly)
}

// accountLine is one row of the Accounts table with its values ready
// to print, as licenseLine is.
type accountLine struct {
	ID                    int64
	Name, FullName, Email string
	RoleLabel             string
	RoleMenu              template.HTML // the options of its Change role menu, its role selected
	Enabled               bool
	Version               int64
	URL                   string // the account's URL, which its actions extend
	RoleErr               string // the error of its Change role form, shown again
	// Offset is the page's position ("" on the first page), which each of
	// the row's forms posts back so that the answer shows the same page.
	Offset string
}

// roleOption is an option of a menu of roles.
type roleOption struct {
	Value, Label string
	Selected     bool
}

// renderRoleMenus renders the options of the menu of roles, with each role
// selected and with none (key ""), through the "role-options" template,
// once: the options are the library's roles and their labels, the same
// for every request, and every row of the Accounts table shows a menu.
// A row then costs the template one action for its menu instead of three
// for each option.
func (a *admin) renderRoleMenus() error {
	roles := account.Roles()
	a.roleMenus = map[account.Role]template.HTML{}
	for _, sel := range append([]account.Role{""}, roles...) {
		menu := make([]roleOption, len(roles))
		for i, r := range roles {
			menu[i] = roleOption{Value: string(r), Label: r.Label(), Selected: r == sel}
		}
		var b strings.Builder
		if err := a.tmpl.ExecuteTemplate(&b, "role-options", menu); err != nil {
			return err
		}
		a.roleMenus[sel] = template.HTML(b.String())
	}
	return nil
}

// roleMenu is the options of the menu of roles with the role named
// selected, or none when it names no role.
func (a *admin) roleMenu(selected string) template.HTML {
	if menu, ok := a.roleMenus[account.Role(selected)]; ok {
		return menu
	}
	return a.roleMenus[""]
}

func (a *admin) accountLines(id int64, accts []account.Account) []accountLine {
	out := make([]accountLine, len(accts))
	for i, x := range accts {
		out[i] = accountLine{ID: x.ID, Name: x.Name, FullName: x.FullName(), Email: x.Email, RoleLabel: x.Role.Label(),
			RoleMenu: a.roleMenu(string(x.Role)), Enabled: x.Enabled, Version: x.Version, URL: a.url(id, "accounts", strconv.FormatInt(x.ID, 10))}
	}
	return out
}

type dcLine struct {
	DC      partner.DataCenter
	Label   string
	Enabled bool
}

// accountPage reads the page of accounts at the view's offset: past the
// end, the last page.
func (a *admin) accountPage(ctx context.Context, v *view) error {
	s, id := &v.Screen, v.P.ID
	accts, total, err := a.m.Accounts(ctx, id, partner.Page{Offset: s.Offset, Limit: accountPageSize})
	if err == nil && len(accts) == 0 && s.Offset > 0 && total > 0 {
		s.Offset = clampOffset(s.Offset, total, accountPageSize)
		accts, total, err = a.m.Accounts(ctx, id, partner.Page{Offset: s.Offset, Limit: accountPageSize})
	}
	if err != nil {
		return err
	}
	s.Accounts = a.accountLines(id, accts)
	if s.Offset > 0 {
		for i := range s.Accounts {
			s.Accounts[i].Offset = strconv.Itoa(s.Offset)
		}
	}
	s.AcctPager = newPager(s.Offset, len(accts), total, accountPageSize, "accounts", func(off int) string {
		return withQuery(a.url(id, "accounts"), offsetQuery(off))
	})
	s.AcctPager.Target = "#partner-main"
	return nil
}

// Page sizes of the partner's lists.
const (
	licensePageSize = 50
	accountPageSize = 50
	auditPageSize   = 50
	// impactPageSize is how many customers the cancel preview shows a
	// page, each with every allocation it will lose.
	impactPageSize = 25
)

// pages are the partner's pages that are not tabs.
var pages = map[partner.Tab]bool{"audit": true, "cancel": true, "confirm": true}

var tabByPath = map[string]partner.Tab{
	"licenses": partner.TabLicenses, "management-licenses": partner.TabManagementLicenses,
	"service-plans": partner.TabServicePlans, "accounts": partner.TabAccounts, "profile": partner.TabProfile,
	"customers": partner.TabCustomers,
}

// consoleTabs are the tabs the console shows for a partner type: the
// library's tabs of the partner screen.
func consoleTabs(t partner.Type) []partner.Tab { return partner.Tabs(t) }

// tabShown reports whether the console shows the tab for a partner type.
func tabShown(t partner.Type, tab partner.Tab) bool { return partner.TabAvailable(t, tab) }

// place is where on the partner screen a view or an action's answer
// is: a tab, or one of its sub-pages (a licence, a customer, the Assign
// Licenses form), which show inside the tab's panel.
type place struct {
	Tab   partner.Tab
	Sub   string // "", "license", "customer" or "assign"
	SubID int64
}

func at(tab partner.Tab) place { return place{Tab: tab} }

// placeURL is the URL of a place of partner id.
func (a *admin) placeURL(id int64, pl place) string {
	switch pl.Sub {
	case "license":
		return a.url(id, "licenses", strconv.FormatInt(pl.SubID, 10))
	case "customer":
		return a.url(id, "customers", strconv.FormatInt(pl.SubID, 10))
	case "assign":
		return a.url(id, "licenses", "assign")
	}
	return a.url(id, string(pl.Tab))
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
	case "licenses.csv":
		a.exportLicenses(w, r, id)
		return
	}
	tab, ok := tabByPath[r.PathValue("tab")]
	if !ok {
		a.notFound(w, r)
		return
	}
	a.showPlace(w, r, id, at(tab), http.StatusOK, r.URL.Query(), nil, nil)
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
// position of the tab's paged list (offset). known, when not nil, is the
// partner as a change just returned it, read in the change's own
// transaction: it is shown instead of reading the partner again. A tab
// that does not exist for the partner's type is refused with
// ErrWrongType.
func (a *admin) screen(ctx context.Context, r *http.Request, id int64, tab partner.Tab, q url.Values, known *partner.Partner) (view, error) {
	return a.screenAt(ctx, r, id, at(tab), q, known)
}

// screenAt is screen for a place: a tab, or a sub-page of one.
func (a *admin) screenAt(ctx context.Context, r *http.Request, id int64, pl place, q url.Values, known *partner.Partner) (view, error) {
	tab := pl.Tab
	var (
		p     partner.Partner
		pools []partner.Pool
		err   error
	)
	switch {
	case known != nil && known.ID == id:
		p = *known
	case tab == partner.TabLicenses && pl.Sub == "":
		// The banner's low pools counted from the pools the tab shows:
		// the store sums them once.
		if p, pools, err = a.m.PartnerPools(ctx, id); err != nil {
			return view{}, err
		}
		if pools == nil {
			pools = []partner.Pool{} // read, and none
		}
	default:
		if p, err = a.m.Get(ctx, id); err != nil {
			return view{}, err
		}
	}
	if !tabShown(p.Type, tab) && !pages[tab] {
		return view{P: p}, wrongTab(p, tab)
	}
	v := a.base(r, p.Profile.CompanyName)
	v.P, v.Tab, v.Partner, v.Sub, v.pools = p, tab, true, pl.Sub, pools
	v.Here = a.placeURL(id, pl)
	for _, t := range consoleTabs(p.Type) {
		v.Tabs = append(v.Tabs, tabLink{Tab: t, Label: t.Label(), URL: a.url(id, string(t)), Selected: t == tab, Current: t == tab && pl.Sub == ""})
	}
	now := a.m.Now()
	s := &v.Screen
	s.Today, s.NextYear = now.Format(time.DateOnly), now.AddDate(1, 0, 0).Format(time.DateOnly)
	v.Token = newToken()
	if s.Offset, err = parseOffset(q.Get("offset")); err != nil {
		return v, err
	}
	switch pl.Sub {
	case "license":
		return v, a.licenseDetail(ctx, &v, pl.SubID)
	case "customer":
		return v, a.customerDetail(ctx, &v, pl.SubID)
	case "assign":
		return v, a.assignForm(ctx, &v)
	}
	switch tab {
	case partner.TabCustomers:
		err = a.customerPage(ctx, &v, q)
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
		err = a.accountPage(ctx, &v)
	}
	return v, err
}

// backTo links back to a tab of the partner, for error pages.
func (a *admin) backTo(id int64, tab partner.Tab) *link {
	return &link{URL: a.url(id, string(tab)), Label: "Back to the " + tab.Label() + " tab"}
}

// showPlace answers with a place of the partner screen — a tab or one of
// its sub-pages: the tab strip and the panel, plus the banner out of band
// (htmx), or the full page. q holds the list position (offset) and the
// success message (done); known, the partner as a change just returned it,
// or nil (see screen).
func (a *admin) showPlace(w http.ResponseWriter, r *http.Request, id int64, pl place, code int, q url.Values,
	known *partner.Partner, edit func(*view)) {
	tab := pl.Tab
	v, err := a.screenAt(r.Context(), r, id, pl, q, known)
	if err != nil {
		var back *link
		if v.P.ID != 0 {
			back = a.backTo(id, tab)
			if pl.Sub == "" {
				back = a.backTo(id, partner.TabLicenses)
			}
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
	if v.FormName != "" {
		for i := range v.Screen.Accounts {
			v.Screen.Accounts[i].RoleErr = v.FormErr(roleForm(v.Screen.Accounts[i].ID), "role")
		}
	}
	if isHX(r) {
		a.fragment(w, code, "hx-partner", &v)
		return
	}
	title := v.P.Profile.CompanyName + " · " + tab.Label()
	if v.SubTitle != "" {
		title = v.P.Profile.CompanyName + " · " + v.SubTitle
	}
	a.page(w, r, code, title, "partner-page", &v)
}

func (a *admin) showCancel(w http.ResponseWriter, r *http.Request, id int64, code int, edit func(*view)) {
	v, err := a.screen(r.Context(), r, id, "cancel", r.URL.Query(), nil)
	if err != nil {
		a.errorPage(w, r, err, nil)
		return
	}
	s := &v.Screen
	s.Impact, err = a.m.CancelPreview(r.Context(), id)
	switch {
	case err == nil:
		all := s.Impact.ByCustomer
		s.Offset = clampOffset(s.Offset, len(all), impactPageSize)
		s.ByCustomer = all[s.Offset:min(s.Offset+impactPageSize, len(all))]
		s.ImpactPager = newPager(s.Offset, len(s.ByCustomer), len(all), impactPageSize, "customers", func(off int) string {
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
	a.page(w, r, code, "Cancel "+v.P.Profile.CompanyName, "cancel-page", &v)
}

func (a *admin) audit(w http.ResponseWriter, r *http.Request, id int64) {
	v, err := a.screen(r.Context(), r, id, "audit", r.URL.Query(), nil)
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
	a.page(w, r, http.StatusOK, v.P.Profile.CompanyName+" · Audit trail", "audit-page", &v)
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
