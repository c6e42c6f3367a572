package httpadmin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/serviceplan"
)

// outcome is what a successful action tells the tab it returns to: the
// success message (a doneMessages code), the query of the tab's URL
// (the list position, the data center a message names), and the partner
// as the change returned it, when it did, which htmx's answer then shows
// without reading it again.
type outcome struct {
	done    string
	query   url.Values
	partner *partner.Partner
	// to is where a success leads when it is not where the form was:
	// Assign Licenses to the Licenses tab, Add Customer to the customer.
	to *place
}

// formError is a form post that could not be read.
func formError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &badRequest{"The form is too large to be read; nothing was changed."}
	}
	return &badRequest{"The form could not be read; nothing was changed."}
}

// act runs one action of the partner screen and answers with the tab it
// belongs to: re-rendered in place for htmx, or a 303 redirect to it for a
// plain form post. Invalid input re-renders the form with each field's
// message (422); any other refusal shows why (400, 404, 409, 503), and
// changes nothing — the Manager runs each action as one transaction. The
// tab keeps the list position its form was posted from.
func (a *admin) act(w http.ResponseWriter, r *http.Request, id int64, tab partner.Tab, formName, done string,
	do func(ctx context.Context, f form, o *outcome) error) {
	a.actAt(w, r, id, at(tab), formName, done, do)
}

// actAt is act for a form on a place: a tab or one of its sub-pages,
// where a refusal shows the form again. A success answers with the
// place again, or with o.to when the action sets it (htmx's answer then
// pushes that place's URL).
func (a *admin) actAt(w http.ResponseWriter, r *http.Request, id int64, here place, formName, done string,
	do func(ctx context.Context, f form, o *outcome) error) {
	tab := here.Tab
	if err := r.ParseForm(); err != nil {
		a.errorPage(w, r, formError(err), a.backTo(id, tab))
		return
	}
	f := formOf(r)
	position := url.Values{}
	if off, err := parseOffset(f.Val("offset")); err == nil && off > 0 {
		position.Set("offset", strconv.Itoa(off))
	}
	o := &outcome{done: done, query: url.Values{}}
	for k, v := range position {
		o.query[k] = v
	}
	err := do(r.Context(), f, o)
	if err == nil {
		to := here
		if o.to != nil {
			to = *o.to
		}
		o.query.Set("done", o.done)
		if !isHX(r) {
			http.Redirect(w, r, withQuery(a.placeURL(id, to), o.query), http.StatusSeeOther)
			return
		}
		if to != here {
			push := url.Values{}
			for k, v := range o.query {
				if k != "done" {
					push[k] = v
				}
			}
			w.Header().Set("HX-Push-Url", withQuery(a.placeURL(id, to), push))
		}
		a.showPlace(w, r, id, to, http.StatusOK, o.query, o.partner, nil)
		return
	}
	code := status(err)
	a.failed(r, err)
	switch {
	case code == http.StatusBadRequest, code >= 500:
		a.errorPage(w, r, err, a.backTo(id, tab))
		return
	case code == http.StatusNotFound:
		if _, gerr := a.m.Get(r.Context(), id); gerr != nil {
			a.errorPage(w, r, gerr, nil) // the partner itself is gone
			return
		}
	}
	a.showPlace(w, r, id, here, code, position, nil, func(v *view) {
		v.FormName, v.Form = formName, f
		v.fail(code, err)
	})
}

// hidden is a form field the confirmation page posts again.
type hidden struct{ Name, Value string }

// confirmView is the data of the confirmation page.
type confirmView struct {
	view
	Action string // where the confirmed form posts: the action's full URL
	Fields []hidden
	Back   string
}

// confirmed reports whether a destructive action was confirmed: htmx asks
// with hx-confirm and sends confirm=yes; a plain form post first gets a
// page that asks, whose button posts the same fields again to action (the
// action's URL, mount prefix included) with confirm=yes. An action the
// guard table refuses is not asked about: it goes on to be refused.
//
// question words the page's question; it runs only when the page is shown.
func (a *admin) confirmed(w http.ResponseWriter, r *http.Request, id int64, op partner.Operation, tab partner.Tab,
	action string, question func(p partner.Partner) string) bool {
	if err := r.ParseForm(); err != nil {
		a.errorPage(w, r, formError(err), a.backTo(id, tab))
		return false
	}
	if r.PostForm.Get("confirm") == "yes" {
		return true
	}
	v, err := a.screen(r.Context(), r, id, "confirm", nil, nil)
	if err != nil {
		a.errorPage(w, r, err, nil)
		return false
	}
	if v.P.Allowed(op) != nil {
		return true
	}
	v.Form = formOf(r)
	v.Title = question(v.P)
	var fields []hidden
	for k, vals := range r.PostForm {
		if k == "confirm" {
			continue
		}
		for _, val := range vals {
			fields = append(fields, hidden{k, val})
		}
	}
	slices.SortFunc(fields, func(x, y hidden) int { return strings.Compare(x.Name+"\x00"+x.Value, y.Name+"\x00"+y.Value) })
	back := a.url(id, string(tab))
	if off, err := parseOffset(r.PostForm.Get("offset")); err == nil && off > 0 {
		back = withQuery(back, offsetQuery(off))
	}
	a.page(w, r, http.StatusOK, v.Title, "confirm-page", &confirmView{view: v, Action: action, Fields: fields, Back: back})
	return false
}

// versionOf reads the version a form was rendered with. A form without
// one skips the check (version 0); a version that is not a whole number
// from 1 is a bad request, never read as 0.
func versionOf(f form) (int64, error) {
	s, ok := f.Values["version"]
	if !ok {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 || strconv.FormatInt(n, 10) != s {
		return 0, &badRequest{"The form's version is not valid; reload the page and try again. Nothing was changed."}
	}
	return n, nil
}

// subID reads the id of a licence, account or plan from the path.
func subID(r *http.Request, name string) (int64, error) {
	id, err := parseID(r.PathValue(name))
	if err != nil {
		return 0, partner.NewError(partner.ErrNotFound, "", "no such %s", name)
	}
	return id, nil
}

// subject reads a sub-object id from the path, answering 404 when it is
// not one.
func (a *admin) subject(w http.ResponseWriter, r *http.Request, id int64, tab partner.Tab, name string) (int64, bool) {
	sid, err := subID(r, name)
	if err != nil {
		a.errorPage(w, r, err, a.backTo(id, tab))
		return 0, false
	}
	return sid, true
}

func (a *admin) setRefill(w http.ResponseWriter, r *http.Request, id int64) {
	a.act(w, r, id, partner.TabLicenses, "refill", "refill", func(ctx context.Context, f form, o *outcome) error {
		version, err := versionOf(f)
		if err != nil {
			return err
		}
		p, err := a.m.SetPoolRefill(ctx, id, version, f.Val("on") == "true")
		o.partner = &p
		return err
	})
}

func (a *admin) setMinimum(w http.ResponseWriter, r *http.Request, id int64) {
	a.act(w, r, id, partner.TabLicenses, "minimum", "minimum", func(ctx context.Context, f form, o *outcome) error {
		version, err := versionOf(f)
		if err != nil {
			return err
		}
		n, err := strconv.ParseInt(strings.TrimSpace(f.Val("minimum")), 10, 64)
		if err != nil {
			return partner.NewError(partner.ErrInvalid, "minimum licenses", "must be a whole number")
		}
		p, err := a.m.SetMinimumLicenses(ctx, id, version, n)
		o.partner = &p
		return err
	})
}

func parseDate(field, s string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, strings.TrimSpace(s))
	if err != nil {
		return t, partner.NewError(partner.ErrInvalid, field, "must be a date (YYYY-MM-DD)")
	}
	return t, nil
}

// keyField is the field the library names an assignment's idempotency key.
const keyField = "idempotency key"

// keyRefused rewrites a refusal of the Assign Licenses form's hidden key
// into words for the operator, who never typed it: the form gets a new
// key, so that submitting it again can succeed.
func keyRefused(err error) (error, bool) {
	probs := partner.FieldErrors(err)
	if !slices.ContainsFunc(probs, func(p partner.FieldError) bool { return p.Field == keyField }) {
		return err, false
	}
	kind := partner.ErrInvalid
	if errors.Is(err, partner.ErrDuplicate) {
		kind = partner.ErrDuplicate
	}
	var errs []error
	for _, p := range probs {
		if p.Field != keyField {
			errs = append(errs, partner.NewError(kind, p.Field, "%s", p.Reason))
			continue
		}
		reason := "had a key that cannot be used (the key " + strings.TrimPrefix(p.Reason, "it ") + "); it now has a new key: submit it again"
		if kind == partner.ErrDuplicate {
			reason = "was already used for a different assignment; it now has a new key: check the licenses, then submit it again"
		}
		errs = append(errs, partner.NewError(kind, "This form", "%s", reason))
	}
	return errors.Join(errs...), true
}

func (a *admin) disableLicenses(w http.ResponseWriter, r *http.Request, id int64) {
	if err := r.ParseForm(); err != nil {
		a.errorPage(w, r, formError(err), a.backTo(id, partner.TabLicenses))
		return
	}
	ticked := r.PostForm["license"]
	question := func(partner.Partner) string {
		ids := make([]string, len(ticked))
		for i, s := range ticked {
			ids[i] = "#" + s
		}
		if len(ticked) == 1 {
			return fmt.Sprintf("Disable license %s? Customers keep the units they have; no further customer can be given it.", ids[0])
		}
		return fmt.Sprintf("Disable the %d selected licenses (%s)? Customers keep the units they have; no further customer can be given them.",
			len(ticked), strings.Join(ids, ", "))
	}
	// With nothing ticked there is nothing to confirm: the refusal says so.
	if len(ticked) > 0 && !a.confirmed(w, r, id, partner.OpDisableLicenses, partner.TabLicenses, a.url(id, "licenses", "disable"), question) {
		return
	}
	a.act(w, r, id, partner.TabLicenses, "disable", "disabled", func(ctx context.Context, f form, _ *outcome) error {
		ids, err := tickedLicenses(r)
		if err != nil {
			return err
		}
		_, err = a.m.DisableLicenses(ctx, id, ids)
		return err
	})
}

func (a *admin) remoteManager(on bool) func(http.ResponseWriter, *http.Request, int64) {
	return func(w http.ResponseWriter, r *http.Request, id int64) {
		done, was := "rm-off", "rm-was-off"
		if on {
			done, was = "rm-on", "rm-was-on"
		} else if !a.confirmed(w, r, id, partner.OpDisableRemoteManager, partner.TabManagementLicenses,
			a.url(id, "management-licenses", "disable"), func(partner.Partner) string {
				if dc, err := serviceplan.ParseDataCenter(r.PostForm.Get("data_center")); err == nil {
					return fmt.Sprintf("Disable %s for %s (%s)?", a.words.RemoteManager, dc.Label(), dc)
				}
				return "Disable " + a.words.RemoteManager + " for this data center?"
			}) {
			return
		}
		a.act(w, r, id, partner.TabManagementLicenses, "remote-manager", done, func(ctx context.Context, f form, o *outcome) error {
			version, err := versionOf(f)
			if err != nil {
				return err
			}
			dc := partner.DataCenter(f.Val("data_center"))
			before, err := a.m.Get(ctx, id)
			if err != nil {
				return err
			}
			var after partner.Partner
			if on {
				after, err = a.m.EnableRemoteManager(ctx, id, version, dc)
			} else {
				after, err = a.m.DisableRemoteManager(ctx, id, version, dc)
			}
			if err != nil {
				return err
			}
			o.partner = &after
			if parsed, perr := serviceplan.ParseDataCenter(string(dc)); perr == nil {
				o.query.Set("dc", string(parsed))
				// Nothing changed when it already was as asked.
				if before.HasRemoteManager(parsed) == on && after.Version == before.Version {
					o.done = was
				}
			}
			return nil
		})
	}
}

func (a *admin) assignPlan(w http.ResponseWriter, r *http.Request, id int64) {
	a.act(w, r, id, partner.TabServicePlans, "assign-plan", "plan-added", func(ctx context.Context, f form, _ *outcome) error {
		planID, err := parseID(f.Val("plan"))
		if err != nil {
			return partner.NewError(partner.ErrInvalid, "service plan", "must be chosen from the list")
		}
		_, err = a.m.AssignPlan(ctx, id, planID)
		return err
	})
}

func (a *admin) removePlan(w http.ResponseWriter, r *http.Request, id int64) {
	planID, ok := a.subject(w, r, id, partner.TabServicePlans, "plan")
	if !ok || !a.confirmed(w, r, id, partner.OpRemovePlan, partner.TabServicePlans,
		a.url(id, "service-plans", strconv.FormatInt(planID, 10), "remove"), func(p partner.Partner) string {
			if plan, err := a.m.Plan(r.Context(), planID); err == nil {
				return fmt.Sprintf("Remove the service plan %s from %s? Customers already provisioned with it keep what they have.",
					plan.Name, p.Profile.CompanyName)
			}
			return "Remove this service plan from " + p.Profile.CompanyName + "?"
		}) {
		return
	}
	a.act(w, r, id, partner.TabServicePlans, "remove-plan", "plan-gone", func(ctx context.Context, f form, _ *outcome) error {
		return a.m.RemovePlan(ctx, id, planID)
	})
}

func (a *admin) addAccount(w http.ResponseWriter, r *http.Request, id int64) {
	a.act(w, r, id, partner.TabAccounts, "add-account", "acct-added", func(ctx context.Context, f form, _ *outcome) error {
		_, err := a.m.AddAccount(ctx, id, account.Params{Name: f.Val("account"), FirstName: f.Val("first_name"),
			LastName: f.Val("last_name"), Email: f.Val("email"), Role: account.Role(f.Val("role"))})
		return err
	})
}

// roleForm names the Change role form of one account's row.
func roleForm(acct int64) string { return "role-" + strconv.FormatInt(acct, 10) }

func (a *admin) changeRole(w http.ResponseWriter, r *http.Request, id int64) {
	acct, ok := a.subject(w, r, id, partner.TabAccounts, "acct")
	if !ok {
		return
	}
	a.act(w, r, id, partner.TabAccounts, roleForm(acct), "role", func(ctx context.Context, f form, _ *outcome) error {
		version, err := versionOf(f)
		if err != nil {
			return err
		}
		_, err = a.m.ChangeRole(ctx, id, acct, version, account.Role(f.Val("role")))
		return err
	})
}

// accountName names an account of the partner for a question, or says
// "this account" when it cannot be read (the action then says why).
func (a *admin) accountName(r *http.Request, id, acct int64) string {
	if x, err := a.m.Account(r.Context(), id, acct); err == nil {
		return "the account " + x.Name
	}
	return "this account"
}

func (a *admin) setAccountEnabled(on bool) func(http.ResponseWriter, *http.Request, int64) {
	return func(w http.ResponseWriter, r *http.Request, id int64) {
		acct, ok := a.subject(w, r, id, partner.TabAccounts, "acct")
		if !ok {
			return
		}
		done := "acct-off"
		if on {
			done = "acct-on"
		} else if !a.confirmed(w, r, id, partner.OpDisableAccount, partner.TabAccounts,
			a.url(id, "accounts", strconv.FormatInt(acct, 10), "disable"), func(partner.Partner) string {
				return "Disable " + a.accountName(r, id, acct) + "? It will no longer be able to sign in."
			}) {
			return
		}
		a.act(w, r, id, partner.TabAccounts, "enable", done, func(ctx context.Context, f form, _ *outcome) error {
			version, err := versionOf(f)
			if err != nil {
				return err
			}
			if on {
				_, err = a.m.EnableAccount(ctx, id, acct, version)
			} else {
				_, err = a.m.DisableAccount(ctx, id, acct, version)
			}
			return err
		})
	}
}

func (a *admin) resetPassword(w http.ResponseWriter, r *http.Request, id int64) {
	acct, ok := a.subject(w, r, id, partner.TabAccounts, "acct")
	if !ok {
		return
	}
	a.act(w, r, id, partner.TabAccounts, "reset", "reset", func(ctx context.Context, f form, _ *outcome) error {
		_, err := a.m.ResetPassword(ctx, id, acct)
		return err
	})
}

func (a *admin) deleteAccount(w http.ResponseWriter, r *http.Request, id int64) {
	acct, ok := a.subject(w, r, id, partner.TabAccounts, "acct")
	if !ok || !a.confirmed(w, r, id, partner.OpDeleteAccount, partner.TabAccounts,
		a.url(id, "accounts", strconv.FormatInt(acct, 10), "delete"), func(partner.Partner) string {
			return "Delete " + a.accountName(r, id, acct) + " for good?"
		}) {
		return
	}
	a.act(w, r, id, partner.TabAccounts, "delete", "acct-gone", func(ctx context.Context, f form, _ *outcome) error {
		return a.m.DeleteAccount(ctx, id, acct)
	})
}

// contactField matches the library's name of a contact's field,
// "contact 2 email", numbered by the contact's place in the list.
var contactField = regexp.MustCompile(`^contact (\d+) (.+)$`)

// renumberContacts names contact fields by the form rows they came from
// (rows[i] is the row of the i+1th contact sent to the library), so each
// message lands next to its field when rows were left blank or removed.
func renumberContacts(err error, rows []int) error {
	if !errors.Is(err, partner.ErrInvalid) {
		return err
	}
	probs := partner.FieldErrors(err)
	if len(probs) == 0 {
		return err
	}
	errs := make([]error, len(probs))
	for i, p := range probs {
		field := p.Field
		if m := contactField.FindStringSubmatch(field); m != nil {
			if n, _ := strconv.Atoi(m[1]); n >= 1 && n <= len(rows) {
				field = fmt.Sprintf("contact %d %s", rows[n-1], m[2])
			}
		}
		errs[i] = partner.NewError(partner.ErrInvalid, field, "%s", p.Reason)
	}
	return errors.Join(errs...)
}

// contactsOf reads the Profile form's contact rows: a row marked for
// removal or left blank is dropped. It returns nil when the form carries
// no contact row at all, so that the contacts stay as they are.
func contactsOf(f form) (contacts *[]partner.Contact, rows []int) {
	list := []partner.Contact{}
	seen := false
	for n := 1; n <= partner.MaxContacts; n++ {
		if !f.has(n) {
			continue
		}
		seen = true
		c := partner.Contact{FirstName: f.Val(contactKey(n, "first-name")), LastName: f.Val(contactKey(n, "last-name")),
			Email: f.Val(contactKey(n, "email")), Phone: f.Val(contactKey(n, "phone"))}
		if f.Val(contactKey(n, "remove")) != "" || strings.TrimSpace(c.FirstName+c.LastName+c.Email+c.Phone) == "" {
			continue
		}
		list = append(list, c)
		rows = append(rows, n)
	}
	if !seen {
		return nil, nil
	}
	return &list, rows
}

func (a *admin) updateProfile(w http.ResponseWriter, r *http.Request, id int64) {
	a.act(w, r, id, partner.TabProfile, "profile", "profile", func(ctx context.Context, f form, o *outcome) error {
		version, err := versionOf(f)
		if err != nil {
			return err
		}
		get := func(k string) *string {
			if _, ok := f.Values[k]; !ok {
				return nil // not on the form: unchanged
			}
			s := f.Val(k)
			return &s
		}
		contacts, rows := contactsOf(f)
		p, err := a.m.UpdateProfile(ctx, id, partner.ProfilePatch{Version: version, CompanyName: get("company"),
			City: get("city"), State: get("state"), Country: get("country"), SignInURL: get("sign_in_url"), Contacts: contacts})
		o.partner = &p
		return renumberContacts(err, rows)
	})
}

func (a *admin) setStatus(op partner.Operation) func(http.ResponseWriter, *http.Request, int64) {
	return func(w http.ResponseWriter, r *http.Request, id int64) {
		done := "active"
		if op == partner.OpSuspend {
			done = "suspended"
			if !a.confirmed(w, r, id, partner.OpSuspend, partner.TabProfile, a.url(id, "suspend"), func(p partner.Partner) string {
				return "Suspend " + p.Profile.CompanyName + "? Only its Profile will be editable until it is reactivated."
			}) {
				return
			}
		}
		a.act(w, r, id, partner.TabProfile, "status", done, func(ctx context.Context, f form, o *outcome) error {
			version, err := versionOf(f)
			if err != nil {
				return err
			}
			var p partner.Partner
			if op == partner.OpSuspend {
				p, err = a.m.Suspend(ctx, id, version)
			} else {
				p, err = a.m.Reactivate(ctx, id, version)
			}
			o.partner = &p
			return err
		})
	}
}

// cancel ends the partnership once the operator has typed the company
// name; the page it comes from showed what canceling hits.
func (a *admin) cancel(w http.ResponseWriter, r *http.Request, id int64) {
	if err := r.ParseForm(); err != nil {
		a.errorPage(w, r, formError(err), a.backTo(id, partner.TabProfile))
		return
	}
	f := formOf(r)
	version, err := versionOf(f)
	var p partner.Partner
	if err == nil {
		p, err = a.m.Get(r.Context(), id)
	}
	if err == nil && strings.TrimSpace(f.Val("confirm_name")) != p.Profile.CompanyName && p.Allowed(partner.OpCancel) == nil {
		err = partner.NewError(partner.ErrInvalid, "confirmation", "must be the company name, exactly as shown")
	}
	if err == nil {
		_, err = a.m.Cancel(r.Context(), id, version)
	}
	if err != nil {
		code := status(err)
		if code == http.StatusNotFound || code == http.StatusBadRequest || code >= 500 {
			a.errorPage(w, r, err, a.backTo(id, partner.TabProfile))
			return
		}
		a.failed(r, err)
		a.showCancel(w, r, id, code, func(v *view) {
			v.FormName, v.Form = "cancel", f
			v.fail(code, err)
		})
		return
	}
	http.Redirect(w, r, a.url(id, string(partner.TabProfile))+"?done=canceled", http.StatusSeeOther)
}
