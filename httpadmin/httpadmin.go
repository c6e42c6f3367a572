// Package httpadmin is the optional HTMX admin console of the library: the
// partners list and the partner screen (banner plus the Licenses,
// Management Licenses, Service Plans, Accounts and Profile tabs), bulk
// actions across partners (a preview, then a run in the background whose
// progress the page follows) and the audit log of every partner, served
// as one http.Handler that a host mounts under a prefix of its own:
//
//	admin := httpadmin.New(m, httpadmin.Options{
//		Prefix:    "/admin/partners",
//		Authorize: func(r *http.Request, a httpadmin.Access) error { return nil }, // or the host's own check
//		Actor:     func(r *http.Request) string { return currentUser(r) },
//	})
//	httpadmin.Mount(mux, "/admin/partners", admin) // or mux.Handle("/admin/partners/", http.StripPrefix("/admin/partners", admin))
//
// The console checks every request against Options.Prefix: mounted
// anywhere else, it answers 500 saying where it is mounted and where it
// was told it would be, rather than write links that lead nowhere.
//
// Each tab is an HTMX fragment; the same URL without HX-Request returns the
// full page, so links, reloads and history work, and every form is a real
// <form method="post"> that works without JavaScript. The controls a
// partner's status or type forbids are disabled from the library's guard
// table (partner.Check), and the server refuses the same actions whatever
// the page showed. This package alone maps the library's errors to HTTP
// status codes.
package httpadmin

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/partner"
)

// Access describes what a request is about to do, for Options.Authorize.
type Access struct {
	// Operation is the partner operation a POST performs, OpCreatePartner
	// for the Create Partner form, or OpRead for every GET. The bulk
	// actions' posts are asked about twice: as OpBulk when they arrive,
	// then, once the form is read, as the operation the action applies to
	// each partner (OpAssignLicenses, OpExtendLicense,
	// OpSetMinimumLicenses, OpSuspend or OpReactivate), with PartnerID 0.
	Operation partner.Operation
	// PartnerID is the partner addressed, or 0 (list, create, assets).
	PartnerID int64
}

// Write reports whether the request changes something.
func (a Access) Write() bool { return a.Operation != partner.OpRead }

// LayoutData is what a full page hands to the layout.
type LayoutData struct {
	// Title is the page title, without the product name.
	Title string
	// ConsoleTitle is the console's name, Labels.ConsoleTitle ("Partners"
	// unless the host chose another), for the layout's <title>.
	ConsoleTitle string
	// Head holds the <meta>, <link> and <script> elements the console
	// needs (htmx, its configuration, the stylesheet). A layout must put
	// it inside <head>.
	Head template.HTML
	// Body is the console's content. A layout puts it inside <main>.
	Body template.HTML
}

// Options configure the console.
type Options struct {
	// Prefix is the path the host mounts the handler under, e.g.
	// "/admin/partners" ("" or "/": the root); every URL the console
	// writes starts with it. It must start with "/"; a trailing "/" is
	// dropped. The host strips it before the request reaches the handler
	// (Mount, or http.StripPrefix). Each request is checked: when the path
	// it was sent to (Request.RequestURI) is not Prefix followed by the
	// path the handler received, the console is mounted elsewhere and its
	// links would be broken, so it answers 500 with both prefixes in words
	// and logs the same at Error. A request without RequestURI (a handler
	// called directly, not through a server) is not checked.
	Prefix string
	// Authorize is called on every request, before anything is read or
	// changed. An error that is or wraps ErrUnauthenticated says that no
	// one is signed in: the request is answered as SignInURL says. Any
	// other error says that whoever is signed in may not do this: 403,
	// "Your account may not do this". Either refusal is logged once, at
	// Warn, with the error. Required: pass AllowAll explicitly to go
	// without.
	Authorize func(r *http.Request, a Access) error
	// SignInURL gives the host's sign-in page for a request Authorize
	// found with no one signed in; r.RequestURI is where the request was
	// sent, for a return address. A plain request is redirected there
	// (303 See Other), and so is an htmx history restore, which asks for a
	// whole page; any other htmx request gets 401 with an HX-Redirect
	// header to it, so that htmx loads the sign-in page as a whole page
	// rather than swap it into the console. When SignInURL is nil or returns "",
	// the answer is 401 with a page (or, for htmx, a message) that says
	// to sign in. The console sends no WWW-Authenticate challenge: it
	// knows none of the host's schemes; a host that signs in with HTTP
	// authentication sets its challenge on the response before the
	// console runs, and the console leaves it there.
	SignInURL func(r *http.Request) string
	// Actor names the user acting, for the audit trail. nil records the
	// library's SystemActor.
	Actor func(r *http.Request) string
	// Layout wraps full pages in the host's chrome; nil uses DefaultLayout.
	Layout func(w http.ResponseWriter, r *http.Request, p LayoutData)
	// Logger receives refusals and internal errors; nil means slog.Default().
	Logger *slog.Logger
	// Labels are the names the console shows that a host may rename: the
	// console's title, the menu it sits in, the remote management
	// product. A field left empty keeps the default wording.
	Labels Labels
	// CSP says what the console does with the Content-Security-Policy
	// header a host may already have set on the response: the zero value,
	// CSPReplace, sets the console's own policy in its place.
	CSP CSPMode
	// Context bounds the bulk runs the console starts in the background
	// (see "Bulk actions in the console" in the README): when it ends,
	// they stop, and the partners not yet done stay pending until the run
	// is resumed from its page. nil: context.Background(), the runs last
	// as long as the process.
	Context context.Context
}

// Labels are the names the console shows that a host may want to change;
// each empty field keeps its default. These are the only product and
// vendor names the console shows, and the labels replace every mention,
// also in the library's reasons the console shows (the guard's "Enable Remote
// Manager is for MSP partners only", "Remote Manager is for MSP partners
// only") and in the audit trail's names of the two Remote Manager
// operations. The audit trail's CSV export keeps the library's own codes.
type Labels struct {
	// ConsoleTitle names the console: the partners list's heading, the
	// breadcrumb that leads back to it, and DefaultLayout's <title>.
	// Default "Partners".
	ConsoleTitle string
	// Section is the host's menu the console sits in, the first item of
	// every breadcrumb. Default "Users & Accounts".
	Section string
	// RemoteManager is the full name of the remote management product an
	// MSP is given access to per data center, as the Management Licenses
	// tab, its buttons, questions and messages, and the Create Partner
	// form say it. Default "Trend Micro Remote Manager".
	RemoteManager string
	// RemoteManagerShort is the product's short name, for tight places: a
	// column heading, a button's accessible name, "No Remote Manager
	// access", the audit trail's targets ("Remote Manager EU"). Default:
	// RemoteManager when the host set that, "Remote Manager" otherwise.
	RemoteManagerShort string
}

// wording is the labels with their defaults filled in, and the rewriting
// of the library's texts that name the product.
type wording struct {
	Labels
	library *strings.Replacer
}

func newWording(l Labels) *wording {
	if l.ConsoleTitle == "" {
		l.ConsoleTitle = "Partners"
	}
	if l.Section == "" {
		l.Section = "Users & Accounts"
	}
	if l.RemoteManagerShort == "" {
		l.RemoteManagerShort = cmp.Or(l.RemoteManager, "Remote Manager")
	}
	if l.RemoteManager == "" {
		l.RemoteManager = "Trend Micro Remote Manager"
	}
	return &wording{Labels: l, library: strings.NewReplacer(
		partner.OperationLabel(partner.OpEnableRemoteManager), "Enable "+l.RemoteManager,
		partner.OperationLabel(partner.OpDisableRemoteManager), "Disable "+l.RemoteManager,
		"Remote Manager is for MSP partners only", l.RemoteManagerShort+" is for MSP partners only")}
}

// say rewrites a text from the library (a reason, an operation's name)
// into the host's labels.
func (w *wording) say(s string) string {
	if w == nil {
		return s
	}
	return w.library.Replace(s)
}

// CSPMode says what the console does with the Content-Security-Policy
// header of its answers, given the policies a host set on the response
// before the request reached the console (in a middleware around it).
// Whatever the mode, the console never touches
// Content-Security-Policy-Report-Only.
type CSPMode int

const (
	// CSPReplace, the default, makes ContentSecurityPolicy the answer's
	// only Content-Security-Policy: any policy the host set is removed.
	CSPReplace CSPMode = iota
	// CSPKeepHost adds no policy: the answer carries the host's
	// Content-Security-Policy headers as they are, or none if the host
	// set none. The host's policy must then allow what the console loads
	// (its own scripts and stylesheet, from 'self'), or the browser
	// blocks htmx and the styles; the forms still work without them.
	CSPKeepHost
	// CSPMerge keeps the host's policies and adds ContentSecurityPolicy
	// as one more header (once: not when the host already sent exactly
	// it). A browser enforces every policy it receives, each on its own,
	// so a resource loads, a script runs or a form posts only when every
	// policy allows it: the answer allows no more than the host's policy
	// and no more than the console's. The directives are not rewritten
	// into one policy, which could not be done soundly ('self' against a
	// named origin, nonces, hashes and 'strict-dynamic' do not intersect
	// as lists). Where the host's policy is the stricter one (a script
	// nonce, no 'self'), it may block htmx or the stylesheet too. With no
	// host policy it answers as CSPReplace does.
	CSPMerge
)

// String names the mode as its constant does.
func (m CSPMode) String() string {
	switch m {
	case CSPReplace:
		return "CSPReplace"
	case CSPKeepHost:
		return "CSPKeepHost"
	case CSPMerge:
		return "CSPMerge"
	}
	return fmt.Sprintf("CSPMode(%d)", int(m))
}

// ErrUnauthenticated is what Options.Authorize returns, or wraps, for a
// request from no one signed in (no session, or one that has ended), as
// opposed to someone signed in who may not do what they asked (any other
// error). See Options.SignInURL for the answer.
var ErrUnauthenticated = errors.New("not signed in")

// AllowAll is an Authorize hook that lets every request through, for hosts
// that authorize before the console is reached (or demos).
func AllowAll(*http.Request, Access) error { return nil }

type admin struct {
	m      *partner.Manager
	opts   Options
	log    *slog.Logger
	tmpl   *template.Template
	words  *wording
	head   template.HTML
	prefix string
	cop    *http.CrossOriginProtection
	// roleMenus holds the rendered options of the menu of roles, by the
	// role selected (see renderRoleMenus).
	roleMenus map[account.Role]template.HTML
	// life is Options.Context; bulk holds the bulk runs running here.
	life context.Context
	bulk bulkRunner
}

// maxFormBytes bounds a form post; the largest form, the Profile with
// every contact, is a few kilobytes.
const maxFormBytes = 64 << 10

// New returns the console for m. It panics when opts.Authorize is nil (a
// host must decide who may manage partners, if only with AllowAll), when
// opts.Prefix does not start with "/", and when opts.CSP is not one of the
// CSPMode constants.
func New(m *partner.Manager, opts Options) http.Handler {
	if opts.Authorize == nil {
		panic("httpadmin: Options.Authorize is required (use httpadmin.AllowAll to allow every request)")
	}
	prefix, err := cleanPrefix(opts.Prefix)
	if err != nil {
		panic("httpadmin: Options.Prefix " + err.Error())
	}
	if opts.CSP < CSPReplace || opts.CSP > CSPMerge {
		panic(fmt.Sprintf("httpadmin: Options.CSP is %v, which is not one of CSPReplace, CSPKeepHost or CSPMerge", opts.CSP))
	}
	a := &admin{m: m, opts: opts, log: opts.Logger, prefix: prefix, cop: http.NewCrossOriginProtection(),
		words: newWording(opts.Labels)}
	if a.log == nil {
		a.log = slog.Default()
	}
	a.life, a.bulk.jobs = opts.Context, map[string]*bulkJob{}
	if a.life == nil {
		a.life = context.Background()
	}
	if a.opts.Layout == nil {
		a.opts.Layout = DefaultLayout
	}
	a.tmpl = template.Must(template.New("").Funcs(a.funcs()).ParseFS(templateFS, "templates/*.html"))
	if err := a.renderRoleMenus(); err != nil {
		panic("httpadmin: " + err.Error())
	}
	a.head = a.headHTML()

	mux := http.NewServeMux()
	route := func(pattern string, op partner.Operation, h func(w http.ResponseWriter, r *http.Request, id int64)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			note := noteOf(r)
			note.op = op
			var id int64
			if s := r.PathValue("id"); s != "" {
				var err error
				if id, err = parseID(s); err != nil {
					a.notFound(w, r)
					return
				}
			}
			note.id = id
			if err := a.opts.Authorize(r, Access{Operation: op, PartnerID: id}); errors.Is(err, ErrUnauthenticated) {
				a.signIn(w, r, err)
				return
			} else if err != nil {
				a.forbidden(w, r, "Your account may not do this; ask an administrator if you need it.", "not authorized: "+err.Error())
				return
			}
			if a.opts.Actor != nil {
				r = r.WithContext(partner.WithActor(r.Context(), a.opts.Actor(r)))
			}
			if r.Method == http.MethodPost {
				r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			}
			h(w, r, id)
		})
	}
	read := partner.OpRead
	route("/", read, func(w http.ResponseWriter, r *http.Request, _ int64) { a.notFound(w, r) }) // anything else
	route("GET /assets/{file}", read, a.asset)
	route("GET /{$}", read, a.list)
	route("GET /export.csv", read, a.exportPartners)
	route("GET /new", read, a.newPartner)
	route("POST /{$}", partner.OpCreatePartner, a.create)
	route("GET /{id}", read, func(w http.ResponseWriter, r *http.Request, id int64) {
		http.Redirect(w, r, a.url(id, string(partner.TabLicenses)), http.StatusSeeOther)
	})
	route("GET /{id}/{tab}", read, a.tab) // the tabs, plus the cancel and audit pages

	route("POST /bulk", partner.OpBulk, a.bulkForm)
	route("POST /bulk/preview", partner.OpBulk, a.bulkPreviewPost)
	route("POST /bulk/run", partner.OpBulk, a.bulkRunPost)
	route("GET /bulk/{key}", read, a.bulkRunPage)
	route("POST /bulk/{key}/resume", partner.OpBulk, a.bulkResume)
	route("GET /audit", read, a.auditLog)
	route("GET /audit.csv", read, a.auditLogCSV)

	route("GET /products", read, a.products)
	route("POST /products", partner.OpCreateProduct, a.createProduct)
	route("GET /products/{pid}", read, a.product)
	route("POST /products/{pid}/edit", partner.OpUpdateProduct, a.updateProduct)
	route("GET /plans", read, a.plans)
	route("POST /plans", partner.OpCreatePlan, a.createPlan)
	route("GET /plans/{plan}", read, a.plan)
	route("POST /plans/{plan}/edit", partner.OpUpdatePlan, a.updatePlan)

	route("GET /{id}/licenses/assign", read, func(w http.ResponseWriter, r *http.Request, id int64) {
		a.showPlace(w, r, id, place{Tab: partner.TabLicenses, Sub: "assign"}, http.StatusOK, r.URL.Query(), nil, nil)
	})
	route("GET /{id}/licenses/{lic}", read, func(w http.ResponseWriter, r *http.Request, id int64) {
		if lid, ok := a.subject(w, r, id, partner.TabLicenses, "lic"); ok {
			a.showPlace(w, r, id, place{Tab: partner.TabLicenses, Sub: "license", SubID: lid}, http.StatusOK, r.URL.Query(), nil, nil)
		}
	})
	route("GET /{id}/customers/{cust}", read, func(w http.ResponseWriter, r *http.Request, id int64) {
		if cid, ok := a.subject(w, r, id, partner.TabCustomers, "cust"); ok {
			a.showPlace(w, r, id, place{Tab: partner.TabCustomers, Sub: "customer", SubID: cid}, http.StatusOK, r.URL.Query(), nil, nil)
		}
	})
	route("POST /{id}/licenses/enable", partner.OpEnableLicenses, a.enableLicenses)
	route("POST /{id}/licenses/pool", partner.OpSetPoolSettings, a.setPoolSettings)
	route("POST /{id}/licenses/{lic}/extend", partner.OpExtendLicense, a.extendLicense)
	route("POST /{id}/licenses/{lic}/add-units", partner.OpAddUnits, a.changeUnits(true))
	route("POST /{id}/licenses/{lic}/reduce-units", partner.OpReduceUnits, a.changeUnits(false))
	route("POST /{id}/licenses/{lic}/convert", partner.OpConvertToFull, a.convertLicense)
	route("POST /{id}/licenses/{lic}/enable", partner.OpEnableLicenses, a.enableLicense)
	route("POST /{id}/customers/add", partner.OpAddCustomer, a.addCustomer)
	route("POST /{id}/customers/{cust}/allocate", partner.OpAllocateUnits, a.allocate)
	route("POST /{id}/customers/{cust}/allocations/{alloc}/release", partner.OpReleaseUnits, a.release)
	route("POST /{id}/licenses/refill", partner.OpSetPoolRefill, a.setRefill)
	route("POST /{id}/licenses/minimum", partner.OpSetMinimumLicenses, a.setMinimum)
	route("POST /{id}/licenses/assign", partner.OpAssignLicenses, a.assignLicenses)
	route("POST /{id}/licenses/disable", partner.OpDisableLicenses, a.disableLicenses)
	route("POST /{id}/management-licenses/enable", partner.OpEnableRemoteManager, a.remoteManager(true))
	route("POST /{id}/management-licenses/disable", partner.OpDisableRemoteManager, a.remoteManager(false))
	route("POST /{id}/service-plans/assign", partner.OpAssignPlan, a.assignPlan)
	route("POST /{id}/service-plans/{plan}/remove", partner.OpRemovePlan, a.removePlan)
	route("POST /{id}/accounts/add", partner.OpAddAccount, a.addAccount)
	route("POST /{id}/accounts/{acct}/role", partner.OpChangeRole, a.changeRole)
	route("POST /{id}/accounts/{acct}/enable", partner.OpEnableAccount, a.setAccountEnabled(true))
	route("POST /{id}/accounts/{acct}/disable", partner.OpDisableAccount, a.setAccountEnabled(false))
	route("POST /{id}/accounts/{acct}/reset-password", partner.OpResetPassword, a.resetPassword)
	route("POST /{id}/accounts/{acct}/delete", partner.OpDeleteAccount, a.deleteAccount)
	route("POST /{id}/profile", partner.OpUpdateProfile, a.updateProfile)
	route("POST /{id}/suspend", partner.OpSuspend, a.setStatus(partner.OpSuspend))
	route("POST /{id}/reactivate", partner.OpReactivate, a.setStatus(partner.OpReactivate))
	route("POST /{id}/cancel", partner.OpCancel, a.cancel)

	return a.serve(mux)
}

// Mount registers h, a console New returned, on mux under prefix, as
// Options.Prefix must then say: a request for prefix + "/" or anything
// below it reaches h with prefix stripped from its path (http.StripPrefix),
// and the mux redirects prefix alone to prefix + "/". A prefix of "" or
// "/" mounts h at the root, unstripped. A trailing "/" is dropped; Mount
// panics when prefix does not start with "/", and mux panics when the
// pattern is taken.
func Mount(mux *http.ServeMux, prefix string, h http.Handler) {
	p, err := cleanPrefix(prefix)
	if err != nil {
		panic("httpadmin: Mount: the prefix " + err.Error())
	}
	if p == "" {
		mux.Handle("/", h)
		return
	}
	mux.Handle(p+"/", http.StripPrefix(p, h))
}

// cleanPrefix drops a prefix's trailing "/" and refuses one that does not
// start with "/" (the console's links would be relative).
func cleanPrefix(prefix string) (string, error) {
	p := strings.TrimRight(prefix, "/")
	if p != "" && !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("must start with \"/\" (got %q)", prefix)
	}
	return p, nil
}

// requestPath is the path a request was sent to, before any handler
// stripped it, from its RequestURI; false when it has none (a request
// made in code rather than read by a server) or it cannot be read.
func requestPath(r *http.Request) (string, bool) {
	if r.RequestURI == "" || r.RequestURI == "*" {
		return "", false
	}
	u, err := url.ParseRequestURI(r.RequestURI)
	if err != nil {
		return "", false
	}
	return u.Path, true
}

// mountError says, in words, why the request shows that the console is
// not mounted where Options.Prefix says; "" when it is, or when the
// request cannot tell.
func (a *admin) mountError(r *http.Request) string {
	full, ok := requestPath(r)
	if !ok || full == a.prefix+r.URL.Path {
		return ""
	}
	fix := fmt.Sprintf("Mount it with httpadmin.Mount(mux, %q, handler)", a.prefix)
	seen, ok := strings.CutSuffix(full, r.URL.Path)
	switch {
	case !ok:
		return fmt.Sprintf("The partner console is configured with Prefix %q, but the request for %q reached it as %q, "+
			"which is not that prefix followed by the path: its links would be broken. %s, and do not rewrite the path before it.",
			a.prefix, full, r.URL.Path, fix)
	case seen == "":
		return fmt.Sprintf("The partner console is configured with Prefix %q, but the request for %q reached it unstripped, "+
			"as if it were mounted at the root: its links would be broken. %s, or set Options.Prefix to \"\" to mount it at the root.",
			a.prefix, full, fix)
	}
	return fmt.Sprintf("The partner console is configured with Prefix %q, but it is mounted at %q (the request for %q reached it as %q): "+
		"its links would be broken. %s, or set Options.Prefix to %q.", a.prefix, seen, full, r.URL.Path, fix, seen)
}

// requestNote is what the console learns about a request while it serves
// it, for the one log line of a refusal.
type requestNote struct {
	op      partner.Operation
	id      int64
	reason  string
	msg     string // the log message, when not the status code's
	refused bool   // refused with a status below 400 (a redirect to sign in)
}

type noteKey struct{}

// noteOf returns the request's note (a throwaway one outside serve).
func noteOf(r *http.Request) *requestNote {
	if n, ok := r.Context().Value(noteKey{}).(*requestNote); ok {
		return n
	}
	return &requestNote{}
}

// because records why a request is refused, unless a reason is known.
func because(r *http.Request, reason string) {
	if n := noteOf(r); n.reason == "" {
		n.reason = reason
	}
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the server's writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// securityHeaders sets the console's headers on an answer without
// clobbering the host's: the Content-Security-Policy as Options.CSP says;
// X-Content-Type-Options (nosniff) and Referrer-Policy (same-origin) only
// when the host set none; HX-Request added to Vary unless the host's Vary
// already names it or is "*".
func (a *admin) securityHeaders(h http.Header) {
	switch a.opts.CSP {
	case CSPReplace:
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
	case CSPMerge:
		if !slices.Contains(h.Values("Content-Security-Policy"), ContentSecurityPolicy) {
			h.Add("Content-Security-Policy", ContentSecurityPolicy)
		}
	}
	if h.Get("X-Content-Type-Options") == "" {
		h.Set("X-Content-Type-Options", "nosniff")
	}
	if h.Get("Referrer-Policy") == "" {
		h.Set("Referrer-Policy", "same-origin")
	}
	for _, v := range h.Values("Vary") {
		for field := range strings.SplitSeq(v, ",") {
			if f := strings.TrimSpace(field); f == "*" || strings.EqualFold(f, "HX-Request") {
				return
			}
		}
	}
	h.Add("Vary", "HX-Request")
}

// serve wraps the routes: security headers, the check of the mount
// prefix, the cross-origin check on unsafe methods, and one log line for
// every request that is refused (4xx, or sent to sign in) or fails (5xx). The line names the
// method, the path the request was sent to (mount prefix included), the
// partner, the operation and the reason; never what a form carried.
func (a *admin) serve(routes http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		note := &requestNote{}
		r = r.WithContext(context.WithValue(r.Context(), noteKey{}, note))
		a.securityHeaders(w.Header())
		rec := &statusRecorder{ResponseWriter: w}
		if says := a.mountError(r); says != "" {
			note.reason, note.msg = says, "httpadmin: mounted under the wrong prefix"
			http.Error(rec, says, http.StatusInternalServerError)
		} else if err := a.cop.Check(r); err != nil {
			a.forbidden(rec, r, "This request came from another site, so it was refused; nothing was changed.", "cross-origin request: "+err.Error())
		} else {
			routes.ServeHTTP(rec, r)
		}
		a.logOutcome(r, rec.code, note)
	})
}

func (a *admin) logOutcome(r *http.Request, code int, n *requestNote) {
	if code < 400 && !n.refused {
		return
	}
	level, msg := slog.LevelInfo, "httpadmin: request refused"
	switch {
	case code == http.StatusUnauthorized, code == http.StatusForbidden, n.refused:
		level = slog.LevelWarn
	case code == http.StatusServiceUnavailable:
		level, msg = slog.LevelWarn, "httpadmin: database busy"
	case code >= 500 && code != statusClientGone:
		level, msg = slog.LevelError, "httpadmin: internal error"
	}
	path, ok := requestPath(r)
	if !ok {
		path = a.prefix + r.URL.Path
	}
	a.log.Log(r.Context(), level, cmp.Or(n.msg, msg), "status", code, "method", r.Method, "path", path,
		"partner", n.id, "operation", string(n.op), "reason", n.reason)
}

// ContentSecurityPolicy is the console's policy (see Options.CSP): it
// forbids inline script and style, since htmx and the stylesheet are
// loaded from the console's own assets and htmx is configured by a <meta>
// tag; it allows images from the page's origin and data: URLs, forms that
// post to the page's origin, and no framing. A host that keeps its own
// policy (CSPKeepHost) must allow at least script-src and style-src
// 'self' for htmx and the styles to load.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// htmxConfig swaps the console's own error answers in place (htmx 2
// does not swap 4xx and 5xx by default), so every refusal shows its
// words; keeps htmx from evaluating code or injecting styles (the CSP
// forbids both), and makes history restores fetch full pages.
const htmxConfig = `{"responseHandling":[{"code":"204","swap":false},{"code":"[23]..","swap":true},` +
	`{"code":"(400|401|403|404|409|422|500|501|502|503)","swap":true,"error":false},{"code":"[45]..","swap":false,"error":true}],` +
	`"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,"selfRequestsOnly":true,` +
	`"historyRestoreAsHxRequest":false}`

func (a *admin) headHTML() template.HTML {
	return template.HTML(fmt.Sprintf(`<meta name="htmx-config" content="%s">
<link rel="stylesheet" href="%s">
<script src="%s" defer></script>`,
		template.HTMLEscapeString(htmxConfig), a.prefix+"/assets/admin.css", a.prefix+"/assets/htmx.min.js"))
}

// DefaultLayout is a plain page: language, title ("Title · ConsoleTitle",
// or Title alone when ConsoleTitle is empty), the console's head, a skip
// link and a <main> landmark.
func DefaultLayout(w http.ResponseWriter, r *http.Request, p LayoutData) {
	title := p.Title
	if p.ConsoleTitle != "" {
		title += " · " + p.ConsoleTitle
	}
	fmt.Fprintf(w, `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>%s</title>
%s
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<main id="main" class="pk-main">
%s
</main>
</body>
</html>
`, template.HTMLEscapeString(title), p.Head, p.Body)
}

// isHX reports a request made by htmx for a fragment; a history restore
// gets the full page.
func isHX(r *http.Request) bool {
	return r.Header.Get("HX-Request") == "true" && r.Header.Get("HX-History-Restore-Request") != "true"
}

// statusClientGone is logged when the client went away before the answer.
const statusClientGone = 499

// badRequest is a request the console cannot read: a malformed number, an
// offset that is not one. Its text is the sentence the operator sees.
type badRequest struct{ text string }

func (e *badRequest) Error() string { return e.text }

// status maps errors to HTTP status codes; the one place that does.
func status(err error) int {
	var bad *badRequest
	switch {
	case err == nil:
		return http.StatusOK
	case errors.As(err, &bad):
		return http.StatusBadRequest
	case errors.Is(err, partner.ErrBusy), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	case errors.Is(err, partner.ErrNotFound), errors.Is(err, partner.ErrWrongType):
		return http.StatusNotFound
	case errors.Is(err, partner.ErrInvalid), errors.Is(err, partner.ErrDuplicate), errors.Is(err, partner.ErrPlanDisabled):
		return http.StatusUnprocessableEntity
	case errors.Is(err, partner.ErrConflict), errors.Is(err, partner.ErrSuspended), errors.Is(err, partner.ErrCanceled),
		errors.Is(err, partner.ErrTransition), errors.Is(err, partner.ErrLastAdministrator),
		errors.Is(err, partner.ErrInsufficientUnits), errors.Is(err, partner.ErrLicenseDisabled),
		errors.Is(err, partner.ErrLicenseExpired), errors.Is(err, partner.ErrLicenseNotStarted):
		return http.StatusConflict
	case errors.Is(err, partner.ErrNotConfigured):
		return http.StatusNotImplemented
	case errors.Is(err, partner.ErrHook): // the change was made; the host's effect failed
		return http.StatusBadGateway
	case errors.Is(err, context.Canceled):
		return statusClientGone
	}
	return http.StatusInternalServerError
}

// busyMessage is what a busy database says.
const busyMessage = "The database is busy; try again in a moment."

// message is what an error says to an operator; internal errors say
// nothing of their cause (it is logged instead).
func message(err error) string {
	var bad *badRequest
	switch status(err) {
	case http.StatusInternalServerError, statusClientGone:
		return "Something went wrong on our side; the change was not made."
	case http.StatusServiceUnavailable:
		return busyMessage
	case http.StatusBadGateway:
		return sentence(partner.ErrorReason(err)) + "."
	case http.StatusBadRequest:
		errors.As(err, &bad)
		return bad.text
	case http.StatusNotFound:
		if errors.Is(err, partner.ErrWrongType) {
			return sentence(partner.ErrorReason(err)) + "."
		}
		return "This no longer exists; it may have been removed."
	}
	return phrase(partner.ErrorField(err), partner.ErrorReason(err))
}

// predicates start a reason that reads on from its field's name ("units"
// + "must be at least 1"); other reasons stand after a colon.
var predicates = []string{"is ", "are ", "was ", "were ", "must ", "may ", "can ", "cannot ", "has ", "have ",
	"had ", "does ", "do ", "needs ", "would ", "should ", "will ", "contains ", "\""}

// phrase makes one sentence of a field and its reason: "Units must be at
// least 1.", "Licenses: select at least one licence.".
func phrase(field, reason string) string {
	reason = strings.TrimSuffix(strings.TrimSpace(reason), ".")
	var s string
	switch {
	case field == "" && reason == "":
		return "The change was not made."
	case field == "":
		s = sentence(reason)
	case reason == "":
		s = sentence(field) + " is not valid"
	case strings.HasPrefix(strings.ToLower(reason), strings.ToLower(field)):
		s = sentence(reason)
	case slices.ContainsFunc(predicates, func(p string) bool { return strings.HasPrefix(reason, p) }):
		s = sentence(field + " " + reason)
	default:
		s = sentence(field) + ": " + reason
	}
	return s + "."
}

// why is the reason a refusal is logged with: the error's kind and
// fields for invalid input (whose reasons may quote what was typed), the
// library's reason otherwise, the whole error for internal errors.
func why(err error) string {
	code := status(err)
	if code >= 500 && code != http.StatusServiceUnavailable {
		return err.Error()
	}
	if probs := partner.FieldErrors(err); len(probs) > 0 && code == http.StatusUnprocessableEntity {
		fields := make([]string, len(probs))
		for i, p := range probs {
			fields[i] = p.Field
		}
		kind := "invalid input"
		if errors.Is(err, partner.ErrDuplicate) {
			kind = "duplicate"
		}
		return kind + ": " + strings.Join(fields, ", ")
	}
	if errors.Is(err, partner.ErrBusy) || errors.Is(err, context.DeadlineExceeded) {
		return err.Error()
	}
	return partner.ErrorReason(err)
}

// failed records why a request failed, for its log line.
func (a *admin) failed(r *http.Request, err error) { because(r, why(err)) }

func (a *admin) notFound(w http.ResponseWriter, r *http.Request) {
	a.errorPage(w, r, partner.NewError(partner.ErrNotFound, "", "no such page"), nil)
}

// forbidden refuses a request the host's Authorize hook or the
// cross-origin check turned down: says is what the operator reads, reason
// what the log records.
func (a *admin) forbidden(w http.ResponseWriter, r *http.Request, says, reason string) {
	because(r, reason)
	v := a.base(r, "You are not allowed to do this")
	v.Err = says
	a.respond(w, r, http.StatusForbidden, v)
}

// signIn answers a request from no one signed in (err wraps
// ErrUnauthenticated): a redirect to the host's sign-in page, an
// HX-Redirect to it for htmx, or 401 with words to sign in.
func (a *admin) signIn(w http.ResponseWriter, r *http.Request, err error) {
	reason := "not signed in"
	if err != ErrUnauthenticated { // wrapped: the host's words say more
		reason += ": " + err.Error()
	}
	because(r, reason)
	noteOf(r).refused = true
	var to string
	if a.opts.SignInURL != nil {
		to = a.opts.SignInURL(r)
	}
	if to != "" && !isHX(r) {
		http.Redirect(w, r, to, http.StatusSeeOther)
		return
	}
	if to != "" {
		w.Header().Set("HX-Redirect", to)
	}
	v := a.base(r, "Please sign in")
	v.Err = "You are not signed in, or your session has ended; sign in and try again. Nothing was changed."
	a.respond(w, r, http.StatusUnauthorized, v)
}

// errorPage answers a request that has no page to show the error on;
// back, when set, links to where the operator came from.
func (a *admin) errorPage(w http.ResponseWriter, r *http.Request, err error, back *link) {
	a.failed(r, err)
	v := a.base(r, "We could not show this page")
	if r.Method == http.MethodPost {
		v.Title = "This was not done"
	}
	v.Err = v.L.say(message(err))
	if back != nil {
		v.Back = *back
	}
	if status(err) == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	a.respond(w, r, status(err), v)
}

// respond writes an error view: into the message area for htmx, as a
// full page otherwise.
func (a *admin) respond(w http.ResponseWriter, r *http.Request, code int, v view) {
	if isHX(r) {
		w.Header().Set("HX-Retarget", "#messages")
		w.Header().Set("HX-Reswap", "innerHTML")
		a.fragment(w, code, "messages", &v)
		return
	}
	a.page(w, r, code, v.Title, "error-page", &v)
}
