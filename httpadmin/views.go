package httpadmin

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/serviceplan"
)

// parseID reads an id in its one canonical form: digits, no sign, no
// leading zero ("+1" and "01" are not partner 1).
func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != s {
		return 0, fmt.Errorf("bad id %q", s)
	}
	return id, nil
}

// parseOffset reads the offset of a paged list from a query or form value:
// "" is 0; anything but a whole number from 0 up is a bad request.
func parseOffset(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != s {
		return 0, &badRequest{"The page position (offset) must be a whole number, 0 or more."}
	}
	return int(min(n, math.MaxInt32)), nil
}

// clampOffset keeps an offset inside a list of total rows: one past the
// last row goes to the start of the last page.
func clampOffset(offset, total, size int) int {
	if total == 0 {
		return 0
	}
	if offset >= total {
		return (total - 1) / size * size
	}
	return offset
}

// pager describes one page of a list: which rows it shows of how many, and
// the links to the pages before and after it. Target, when set, is the
// element htmx swaps the linked page into.
type pager struct {
	From, To, Total  int
	PrevURL, NextURL string
	Target           string
	Noun             string // "licenses", "partners"
}

// Caption is "Showing 51–100 of 620 licenses".
func (p pager) Caption() string {
	if p.Total == 0 {
		return "No " + p.Noun + "."
	}
	if p.Total == 1 {
		return "Showing the only " + strings.TrimSuffix(p.Noun, "s") + "."
	}
	if p.From == 1 && p.To == p.Total {
		return fmt.Sprintf("Showing all %d %s.", p.Total, p.Noun)
	}
	return fmt.Sprintf("Showing %d–%d of %d %s.", p.From, p.To, p.Total, p.Noun)
}

// newPager pages rows [offset, offset+n) of total; link builds the URL of
// the page at an offset.
func newPager(offset, n, total, size int, noun string, link func(offset int) string) pager {
	p := pager{Total: total, Noun: noun}
	if n > 0 {
		p.From, p.To = offset+1, offset+n
	}
	if offset > 0 {
		p.PrevURL = link(max(0, min(offset, total)-size))
	}
	if offset+n < total {
		p.NextURL = link(offset + n)
	}
	return p
}

// withQuery appends a query to a URL, or nothing when it is empty.
func withQuery(u string, q url.Values) string {
	if len(q) == 0 {
		return u
	}
	return u + "?" + q.Encode()
}

// offsetQuery is the query of a paged URL at an offset (none for 0).
func offsetQuery(offset int) url.Values {
	if offset <= 0 {
		return nil
	}
	return url.Values{"offset": {strconv.Itoa(offset)}}
}

// url builds a console URL under the prefix: url(12, "licenses") is
// "/admin/partners/12/licenses".
func (a *admin) url(id int64, parts ...string) string {
	p := a.prefix + "/"
	if id != 0 {
		p += strconv.FormatInt(id, 10)
		for _, s := range parts {
			p += "/" + url.PathEscape(s)
		}
	}
	return p
}

// form carries a form's submitted values and its errors by field, the
// field named as the library names it ("units", "company name").
type form struct {
	Values map[string]string
	Errors map[string]string
}

// Val returns a submitted value.
func (f form) Val(name string) string { return f.Values[name] }

// Err returns the error of a field, or "".
func (f form) Err(field string) string { return f.Errors[field] }

// mark records every field problem err reports, its reason in the
// host's labels, and says whether there was any.
func (f form) mark(err error, words *wording) bool {
	probs := partner.FieldErrors(err)
	for _, p := range probs {
		f.Errors[p.Field] = words.say(p.Reason)
	}
	return len(probs) > 0
}

func formOf(r *http.Request) form {
	f := form{Values: map[string]string{}, Errors: map[string]string{}}
	for k, v := range r.PostForm {
		if len(v) > 0 {
			f.Values[k] = v[0]
		}
	}
	return f
}

// control says whether an action is allowed and, if not, why; screens
// read it from the guard table through partner.Check.
type control struct {
	Allowed bool
	// Denied is the opposite of Allowed, for a template to test without
	// calling not (a reflective call each time, in a table's every row).
	Denied bool
	Reason string
}

// link is a URL and its words.
type link struct{ URL, Label string }

// view is the data of every template.
type view struct {
	// pools are the partner's pools when the screen read them with the
	// partner (Manager.PartnerPools), for the Licenses tab.
	pools  []partner.Pool
	Prefix string
	L      *wording // the host's labels
	Title  string
	Msg    string // success message
	Err    string // error message
	// Problems lists, in words, every invalid field of a refused form.
	Problems []string
	Reload   bool // the refusal is a conflict: offer to reload the tab
	Back     link // where an error page leads back to
	Form     form // the form being re-rendered with errors, by name in FormName
	// FormName names the form Form belongs to ("assign", "profile"...).
	FormName string
	Token    string // a fresh idempotency key for forms that create

	P       partner.Partner
	Tab     partner.Tab
	Tabs    []tabLink
	Partner bool // a partner screen
	// Sub names the tab's sub-page shown ("license", "customer",
	// "assign"), SubTitle its title; Here is the URL of what is shown,
	// which a stale form's Reload link leads to.
	Sub, SubTitle, Here string

	List    listView
	Screen  screenView
	Catalog []serviceplan.Plan // enabled plans, for Create Partner
	// Lines are the catalogue's products, a line each on the Assign
	// Licenses and Create Partner forms.
	Lines []assignLine
	Cat   catalogueView // the Products and Service Plans screens
}

// linesData is what the "assign-lines" template executes on.
type linesData struct {
	V    *view
	Name string
}

// templateData is what a template executes on: a *view, or a pointer to
// a struct that embeds one. A view is over a kilobyte; by pointer, each
// of its methods a template calls runs without a copy of it.
type templateData interface{ viewOf() *view }

func (v *view) viewOf() *view { return v }

type tabLink struct {
	Tab      partner.Tab
	Label    string
	URL      string
	Selected bool
	// Current: the page shown is the tab itself, not one of its sub-pages.
	Current bool
}

// Can reads the guard table for the partner on screen.
func (v *view) Can(op string) control {
	err := partner.Check(v.P.Status, v.P.Type, partner.Operation(op))
	if err != nil {
		return control{Denied: true, Reason: v.L.say(sentence(partner.ErrorReason(err)))}
	}
	return control{Allowed: true}
}

// sentence capitalizes the first letter of a reason.
func sentence(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// Applies reads from the guard table whether an operation exists for the
// partner's type at all, so a control that never applies is not shown.
func (v *view) Applies(op string) bool { return partner.Applies(v.P.Type, partner.Operation(op)) }

// Notice is the guard's word for the whole screen: why controls outside
// the Profile (Suspended) or everywhere (Canceled) are disabled.
func (v *view) Notice() string {
	switch v.P.Status {
	case partner.Suspended:
		return v.L.say(sentence(partner.ErrorReason(partner.Check(v.P.Status, v.P.Type, partner.OpAssignLicenses))) + ".")
	case partner.Canceled:
		return v.L.say(sentence(partner.ErrorReason(partner.Check(v.P.Status, v.P.Type, partner.OpUpdateProfile))) + ".")
	}
	return ""
}

// ReadOnly reports that the guard table allows nothing at all for the
// partner on screen (a Canceled partner): its tabs then show values as
// text, with no controls.
func (v *view) ReadOnly() bool {
	for _, op := range partner.Operations() {
		if partner.Applies(v.P.Type, op) && partner.Check(v.P.Status, v.P.Type, op) == nil {
			return false
		}
	}
	return true
}

// contactRow is one contact of the Profile form. N numbers the rows from
// 1, as the form's field names and the error messages do.
type contactRow struct {
	N int
	partner.Contact
	Remove bool
	New    bool // the blank row that adds a contact
}

// contactKey names a contact field of the Profile form: contact-2-email.
func contactKey(n int, field string) string { return fmt.Sprintf("contact-%d-%s", n, field) }

// ContactRows lists the Profile form's contacts: every contact of the
// partner and a blank row to add one (while there are fewer than
// partner.MaxContacts), or the rows as submitted when the form is shown
// again with its errors.
func (v *view) ContactRows() []contactRow {
	have := len(v.P.Profile.Contacts)
	var rows []contactRow
	if v.FormName == "profile" {
		for n := 1; n <= partner.MaxContacts; n++ {
			if !v.Form.has(n) {
				continue
			}
			rows = append(rows, contactRow{N: n, New: n > have, Remove: v.Form.Val(contactKey(n, "remove")) != "",
				Contact: partner.Contact{FirstName: v.Form.Val(contactKey(n, "first-name")), LastName: v.Form.Val(contactKey(n, "last-name")),
					Email: v.Form.Val(contactKey(n, "email")), Phone: v.Form.Val(contactKey(n, "phone"))}})
		}
		return rows
	}
	for i, c := range v.P.Profile.Contacts {
		rows = append(rows, contactRow{N: i + 1, Contact: c})
	}
	if have < partner.MaxContacts {
		rows = append(rows, contactRow{N: have + 1, New: true})
	}
	return rows
}

// MaxContacts is how many contacts a partner may have.
func (*view) MaxContacts() int { return partner.MaxContacts }

// has reports whether the form carries any field of contact row n.
func (f form) has(n int) bool {
	for _, k := range []string{"first-name", "last-name", "email", "phone", "remove"} {
		if _, ok := f.Values[contactKey(n, k)]; ok {
			return true
		}
	}
	return false
}

// FormErr returns the error of a field of the named form.
func (v *view) FormErr(name, field string) string {
	if v.FormName != name {
		return ""
	}
	return v.Form.Err(field)
}

// FormVal returns the re-rendered value of a field of the named form, or
// def when that form is not being re-rendered.
func (v *view) FormVal(name, field, def string) string {
	if v.FormName != name {
		return def
	}
	if val, ok := v.Form.Values[field]; ok {
		return val
	}
	return def // not on the form posted (a new form, a field not sent)
}

// Checked says whether a checkbox of the named form is ticked: as posted
// when that form is re-rendered (an unticked box sends nothing), def
// otherwise.
func (v *view) Checked(name, field string, def bool) bool {
	if v.FormName != name {
		return def
	}
	return v.Form.Val(field) != ""
}

func (a *admin) base(r *http.Request, title string) view {
	return view{Prefix: a.prefix, L: a.words, Title: title, Msg: a.doneMessage(r.URL.Query())}
}

// doneMessage is the success message a redirect names (?done=code, and
// for Remote Manager the data center, ?dc=JP), looked up so that no text
// from the URL is ever shown.
func (a *admin) doneMessage(q url.Values) string {
	code := q.Get("done")
	if texts, ok := rmMessages[code]; ok {
		dc, err := serviceplan.ParseDataCenter(q.Get("dc"))
		if err != nil || string(dc) != q.Get("dc") {
			return fmt.Sprintf(texts[0], a.words.RemoteManager)
		}
		return fmt.Sprintf(texts[1], a.words.RemoteManager, fmt.Sprintf("%s (%s)", dc.Label(), dc))
	}
	return doneMessages[code]
}

// rmMessages are the success messages of the Management Licenses tab:
// without a data center and with one, the product's name first.
var rmMessages = map[string][2]string{
	"rm-on":      {"%s enabled.", "%s enabled for %s."},
	"rm-off":     {"%s disabled.", "%s disabled for %s."},
	"rm-was-on":  {"%s was already enabled there; nothing changed.", "%s was already enabled for %s; nothing changed."},
	"rm-was-off": {"%s was not enabled there; nothing changed.", "%s was not enabled for %s; nothing changed."},
}

// fail shows a refusal answered with code on a screen: for invalid input
// each field marked on the form and listed in words in the message area,
// otherwise the error's sentence.
func (v *view) fail(code int, err error) {
	if v.Form.Errors == nil {
		v.Form.Errors = map[string]string{}
	}
	if code == http.StatusUnprocessableEntity && v.Form.mark(err, v.L) {
		probs := partner.FieldErrors(err)
		v.Problems = nil
		for _, p := range probs {
			v.Problems = append(v.Problems, v.L.say(phrase(p.Field, p.Reason)))
		}
		if len(probs) == 1 {
			v.Err, v.Problems = "Nothing was changed. "+v.Problems[0], nil
		} else {
			v.Err = fmt.Sprintf("Nothing was changed. Please correct these %d fields:", len(probs))
		}
		return
	}
	if code == http.StatusUnprocessableEntity {
		v.Err = v.L.say(phrase(partner.ErrorField(err), partner.ErrorReason(err)))
		return
	}
	v.Err = v.L.say(message(err))
	v.Reload = code == http.StatusConflict && (v.Partner || v.Here != "")
}

// doneMessages are the success messages a redirect may name (?done=...),
// so no text from the URL is ever shown; rmMessages holds the others.
var doneMessages = map[string]string{
	"created":    "Partner created.",
	"refill":     "License pool refill saved.",
	"minimum":    "Minimum licenses saved.",
	"assigned":   "Licenses assigned.",
	"replayed":   "These licenses were already assigned by this form; nothing more was assigned.",
	"disabled":   "Selected licenses disabled.",
	"plan-added": "Service plan assigned.",
	"plan-gone":  "Service plan removed.",
	"acct-added": "Account added.",
	"role":       "Role changed.",
	"acct-on":    "Account enabled.",
	"acct-off":   "Account disabled.",
	"reset":      "Password reset requested.",
	"acct-gone":  "Account deleted.",
	"profile":    "Profile saved.",
	"suspended":  "Partnership suspended.",
	"active":     "Partnership reactivated.",
	"canceled":   "Partnership canceled.",

	"enabled":         "Selected licenses enabled.",
	"lic-enabled":     "License enabled.",
	"extended":        "Expiry changed.",
	"units-added":     "Units added.",
	"units-reduced":   "Units reduced.",
	"converted":       "License converted to Full.",
	"unchanged":       "Nothing needed changing.",
	"pool":            "Pool settings saved.",
	"cust-added":      "Customer added.",
	"allocated":       "Units allocated.",
	"released":        "Units released.",
	"product-created": "Product created.",
	"product-saved":   "Product saved.",
	"plan-created":    "Service plan created.",
	"plan-saved":      "Service plan saved.",
}

func newToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (a *admin) funcs() template.FuncMap {
	return template.FuncMap{
		"url":  func(id int64, parts ...string) string { return a.url(id, parts...) },
		"date": dateText,
		"datetime": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04 UTC")
		},
		"sentence":    sentence,
		"roleMenu":    a.roleMenu,
		"dataCenters": serviceplan.DataCenters,
		"statuses":    partner.Statuses,
		"types":       partner.Types,
		"opLabel":     func(op partner.Operation) string { return a.words.say(partner.OperationLabel(op)) },
		"auditTarget": a.auditTarget,
		"kindLabel":   func(k serviceplan.Kind) string { return license.Kind(k).Label() },
		"str":         func(v any) string { return fmt.Sprint(v) },
		"hasPrefix":   strings.HasPrefix,
		"unitTypes":   license.UnitTypes,
		// lines hands the "assign-lines" template the view and its form's name.
		"lines": func(v *view, name string) linesData { return linesData{V: v, Name: name} },
	}
}

// auditTarget shows what an audit entry acted on; the library names a
// Remote Manager change's target "remote manager EU", shown with the
// product's short name: "Remote Manager EU".
func (a *admin) auditTarget(e partner.AuditEntry) string {
	if e.Action == partner.OpEnableRemoteManager || e.Action == partner.OpDisableRemoteManager {
		if dc, ok := strings.CutPrefix(e.Target, "remote manager "); ok {
			return a.words.RemoteManagerShort + " " + dc
		}
	}
	return e.Target
}

// renderBuffers keeps the buffers pages are rendered into, so that a
// request does not grow a new one from nothing each time.
var renderBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBuffer is the largest buffer put back in renderBuffers: a
// rare huge page does not keep its memory for good.
const maxPooledBuffer = 1 << 20

// render executes a named template into a pooled buffer, so a failure
// never sends half a page; done must be called once the buffer's bytes
// are no longer used.
func (a *admin) render(name string, v templateData) (b *bytes.Buffer, done func(), err error) {
	b = renderBuffers.Get().(*bytes.Buffer)
	b.Reset()
	done = func() {
		if b.Cap() <= maxPooledBuffer {
			renderBuffers.Put(b)
		}
	}
	if err := a.tmpl.ExecuteTemplate(b, name, v); err != nil {
		done()
		return nil, nil, err
	}
	return b, done, nil
}

// fragment writes a template alone, for htmx.
func (a *admin) fragment(w http.ResponseWriter, code int, name string, v templateData) {
	html, done, err := a.render(name, v)
	if err != nil {
		a.log.Error("httpadmin: template", "template", name, "err", err)
		http.Error(w, "template error", http.StatusInternalServerError)
		return
	}
	defer done()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(html.Bytes())
}

// page writes a template inside the host's layout.
func (a *admin) page(w http.ResponseWriter, r *http.Request, code int, title, name string, v templateData) {
	html, done, err := a.render(name, v)
	if err != nil {
		a.log.ErrorContext(r.Context(), "httpadmin: template", "template", name, "err", err)
		http.Error(w, "template error", http.StatusInternalServerError)
		return
	}
	body := template.HTML(html.String()) // the layout keeps it as a string
	done()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	a.opts.Layout(w, r, LayoutData{Title: title, ConsoleTitle: a.words.ConsoleTitle, Head: a.head, Body: body})
}

func (a *admin) asset(w http.ResponseWriter, r *http.Request, _ int64) {
	name := r.PathValue("file")
	data, err := fs.ReadFile(Assets(), name)
	if err != nil || strings.Contains(name, "/") {
		http.NotFound(w, r)
		return
	}
	switch path.Ext(name) {
	case ".js":
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	case ".css":
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(data)
}
