package httpadmin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/serviceplan"
)

// catalogueView is the data of the Products and Service Plans screens:
// the vendor's catalogues, which belong to no partner.
type catalogueView struct {
	Section  string // "products" or "plans"
	Products []productLine
	Pager    pager
	Product  license.Product // the product being edited
	Plans    []planLine
	Plan     serviceplan.Plan // the plan being edited
	// Choices are the catalogue's products, for a new plan's product.
	Choices []license.Product
	Editing bool
}

// productLine is a row of the Products screen.
type productLine struct {
	license.Product
	URL, Trial string
}

// planLine is a row of the Service Plans screen.
type planLine struct {
	serviceplan.Plan
	URL, Kind string
}

// productPageSize is how many products the Products screen shows a page.
const productPageSize = 25

// trialText words a product's trial.
func trialText(p license.Product) string {
	if !p.TrialOffered {
		return "No trial"
	}
	if p.TrialDays == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", p.TrialDays)
}

// catalogueURL is the URL of a catalogue screen: "products", "plans",
// and an entry of one.
func (a *admin) catalogueURL(parts ...string) string {
	return a.prefix + "/" + strings.Join(parts, "/")
}

// catalogueBase is the view of a catalogue screen.
func (a *admin) catalogueBase(r *http.Request, section, title string) view {
	v := a.base(r, title)
	v.Cat.Section = section
	v.Here = a.catalogueURL(section)
	return v
}

// answerCatalogue writes a catalogue screen: its main part for htmx,
// the page otherwise.
func (a *admin) answerCatalogue(w http.ResponseWriter, r *http.Request, code int, v *view) {
	if isHX(r) {
		a.fragment(w, code, "catalogue-main", v)
		return
	}
	a.page(w, r, code, v.Title, "catalogue-page", v)
}

// catalogueFailed shows a refusal of a catalogue form, or the error page
// when the refusal leaves nothing to show the form on.
func (a *admin) catalogueFailed(w http.ResponseWriter, r *http.Request, v *view, formName string, f form, err error) {
	code := status(err)
	if code == http.StatusBadRequest || code == http.StatusNotFound || code >= 500 {
		a.errorPage(w, r, err, &link{URL: a.catalogueURL(v.Cat.Section), Label: "Back to " + v.Title})
		return
	}
	a.failed(r, err)
	v.FormName, v.Form = formName, f
	v.fail(code, err)
	a.answerCatalogue(w, r, code, v)
}

// catalogueDone answers a successful catalogue form: a 303 to the
// entry's screen, or that screen for htmx, its URL pushed.
func (a *admin) catalogueDone(w http.ResponseWriter, r *http.Request, to, done string, show func(*view) error, v view) {
	if !isHX(r) {
		http.Redirect(w, r, to+"?done="+done, http.StatusSeeOther)
		return
	}
	v.Msg, v.Err, v.Problems, v.FormName, v.Form = doneMessages[done], "", nil, "", form{}
	if err := show(&v); err != nil {
		a.errorPage(w, r, err, nil)
		return
	}
	w.Header().Set("HX-Push-Url", to)
	a.answerCatalogue(w, r, http.StatusOK, &v)
}

// ---- Products ----

func (a *admin) productList(ctx context.Context, r *http.Request, v *view) error {
	offset, err := parseOffset(r.URL.Query().Get("offset"))
	if err != nil {
		return err
	}
	ps, total, err := a.m.Products(ctx, partner.Page{Offset: offset, Limit: productPageSize})
	if err == nil && len(ps) == 0 && offset > 0 && total > 0 {
		offset = clampOffset(offset, total, productPageSize)
		ps, total, err = a.m.Products(ctx, partner.Page{Offset: offset, Limit: productPageSize})
	}
	if err != nil {
		return err
	}
	v.Cat.Products = make([]productLine, len(ps))
	for i, p := range ps {
		v.Cat.Products[i] = productLine{Product: p, URL: a.catalogueURL("products", strconv.FormatInt(p.ID, 10)), Trial: trialText(p)}
	}
	v.Cat.Pager = newPager(offset, len(ps), total, productPageSize, "products", func(off int) string {
		return withQuery(a.catalogueURL("products"), offsetQuery(off))
	})
	v.Cat.Pager.Target = "#catalogue-main"
	return nil
}

func (a *admin) products(w http.ResponseWriter, r *http.Request, _ int64) {
	v := a.catalogueBase(r, "products", "Products")
	if err := a.productList(r.Context(), r, &v); err != nil {
		a.errorPage(w, r, err, &link{URL: a.url(0), Label: "Back to the partners list"})
		return
	}
	a.answerCatalogue(w, r, http.StatusOK, &v)
}

// productOf reads the product of the path into an edit view.
func (a *admin) productOf(ctx context.Context, v *view, pid int64) error {
	p, err := a.m.Product(ctx, pid)
	if err != nil {
		return err
	}
	v.Cat.Product, v.Cat.Editing = p, true
	v.Title = p.Name
	v.Here = a.catalogueURL("products", strconv.FormatInt(p.ID, 10))
	return nil
}

// catalogueID reads the id of a catalogue entry from the path.
func (a *admin) catalogueID(w http.ResponseWriter, r *http.Request, name, section string) (int64, bool) {
	id, err := subID(r, name)
	if err != nil {
		a.errorPage(w, r, err, &link{URL: a.catalogueURL(section), Label: "Back to the catalogue"})
		return 0, false
	}
	return id, true
}

func (a *admin) product(w http.ResponseWriter, r *http.Request, _ int64) {
	pid, ok := a.catalogueID(w, r, "pid", "products")
	if !ok {
		return
	}
	v := a.catalogueBase(r, "products", "Product")
	if err := a.productOf(r.Context(), &v, pid); err != nil {
		a.errorPage(w, r, err, &link{URL: a.catalogueURL("products"), Label: "Back to Products"})
		return
	}
	a.answerCatalogue(w, r, http.StatusOK, &v)
}

// trialOf reads the trial fields of a product form.
func trialOf(f form) (offered bool, days int, err error) {
	offered = f.Val("trial") != ""
	if s := strings.TrimSpace(f.Val("trial_days")); s != "" && offered {
		if days, err = strconv.Atoi(s); err != nil {
			return offered, 0, partner.NewError(partner.ErrInvalid, "trial days", "must be a whole number of days")
		}
	}
	return offered, days, nil
}

func (a *admin) createProduct(w http.ResponseWriter, r *http.Request, _ int64) {
	v := a.catalogueBase(r, "products", "Products")
	if err := r.ParseForm(); err != nil {
		a.errorPage(w, r, formError(err), &link{URL: a.catalogueURL("products"), Label: "Back to Products"})
		return
	}
	f := formOf(r)
	offered, days, err := trialOf(f)
	var p license.Product
	if err == nil {
		p, err = a.m.CreateProduct(r.Context(), license.Product{Name: f.Val("name"), UnitType: f.Val("unit_type"), TrialOffered: offered, TrialDays: days})
	}
	if err != nil {
		if lerr := a.productList(r.Context(), r, &v); lerr != nil {
			err = lerr
		}
		a.catalogueFailed(w, r, &v, "product", f, err)
		return
	}
	a.catalogueDone(w, r, a.catalogueURL("products", strconv.FormatInt(p.ID, 10)), "product-created",
		func(v *view) error { return a.productOf(r.Context(), v, p.ID) }, v)
}

func (a *admin) updateProduct(w http.ResponseWriter, r *http.Request, _ int64) {
	pid, ok := a.catalogueID(w, r, "pid", "products")
	if !ok {
		return
	}
	v := a.catalogueBase(r, "products", "Product")
	if err := r.ParseForm(); err != nil {
		a.errorPage(w, r, formError(err), &link{URL: a.catalogueURL("products"), Label: "Back to Products"})
		return
	}
	f := formOf(r)
	version, err := versionOf(f)
	var offered bool
	var days int
	if err == nil {
		offered, days, err = trialOf(f)
	}
	if err == nil {
		name := f.Val("name")
		_, err = a.m.UpdateProduct(r.Context(), pid, license.ProductPatch{Version: version, Name: &name, TrialOffered: &offered, TrialDays: &days})
	}
	if err != nil {
		if rerr := a.productOf(r.Context(), &v, pid); rerr != nil {
			err = rerr
		}
		a.catalogueFailed(w, r, &v, "product", f, err)
		return
	}
	a.catalogueDone(w, r, a.catalogueURL("products", strconv.FormatInt(pid, 10)), "product-saved",
		func(v *view) error { return a.productOf(r.Context(), v, pid) }, v)
}

// ---- Service plans ----

func (a *admin) planList(ctx context.Context, v *view) error {
	plans, err := a.m.Plans(ctx)
	if err != nil {
		return err
	}
	v.Cat.Plans = make([]planLine, len(plans))
	for i, p := range plans {
		v.Cat.Plans[i] = planLine{Plan: p, URL: a.catalogueURL("plans", strconv.FormatInt(p.ID, 10)), Kind: license.Kind(p.Kind).Label()}
	}
	v.Cat.Choices, err = a.allProducts(ctx)
	return err
}

func (a *admin) plans(w http.ResponseWriter, r *http.Request, _ int64) {
	v := a.catalogueBase(r, "plans", "Service Plans")
	if err := a.planList(r.Context(), &v); err != nil {
		a.errorPage(w, r, err, &link{URL: a.url(0), Label: "Back to the partners list"})
		return
	}
	a.answerCatalogue(w, r, http.StatusOK, &v)
}

func (a *admin) planOf(ctx context.Context, v *view, id int64) error {
	p, err := a.m.Plan(ctx, id)
	if err != nil {
		return err
	}
	v.Cat.Plan, v.Cat.Editing = p, true
	v.Title = p.Name
	v.Here = a.catalogueURL("plans", strconv.FormatInt(p.ID, 10))
	return nil
}

func (a *admin) plan(w http.ResponseWriter, r *http.Request, _ int64) {
	id, ok := a.catalogueID(w, r, "plan", "plans")
	if !ok {
		return
	}
	v := a.catalogueBase(r, "plans", "Service plan")
	if err := a.planOf(r.Context(), &v, id); err != nil {
		a.errorPage(w, r, err, &link{URL: a.catalogueURL("plans"), Label: "Back to Service Plans"})
		return
	}
	a.answerCatalogue(w, r, http.StatusOK, &v)
}

// wholeNumber reads a whole number of a plan form, "" as 0.
func wholeNumber(f form, name, field string) (int, error) {
	s := strings.TrimSpace(f.Val(name))
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, partner.NewError(partner.ErrInvalid, field, "must be a whole number")
	}
	return n, nil
}

func (a *admin) createPlan(w http.ResponseWriter, r *http.Request, _ int64) {
	v := a.catalogueBase(r, "plans", "Service Plans")
	if err := r.ParseForm(); err != nil {
		a.errorPage(w, r, formError(err), &link{URL: a.catalogueURL("plans"), Label: "Back to Service Plans"})
		return
	}
	f := formOf(r)
	in := serviceplan.Plan{Name: f.Val("name"), Enabled: f.Val("enabled") != "", Kind: serviceplan.Kind(f.Val("kind")), NFR: f.Val("nfr") != "",
		DataCenter: serviceplan.DataCenter(f.Val("data_center")), AutoRenew: f.Val("auto_renew") != ""}
	var errs []error
	if pid, err := parseID(f.Val("product")); err != nil {
		errs = append(errs, partner.NewError(partner.ErrInvalid, "product", "must be chosen from the product catalogue"))
	} else if p, err := a.m.Product(r.Context(), pid); errors.Is(err, partner.ErrNotFound) {
		errs = append(errs, partner.NewError(partner.ErrInvalid, "product", "must be chosen from the product catalogue"))
	} else if err != nil {
		errs = append(errs, err)
	} else {
		in.Product, in.UnitType = p.Name, p.UnitType
	}
	var err error
	if in.InitialPeriodMonths, err = wholeNumber(f, "period", "initial period"); err != nil {
		errs = append(errs, err)
	}
	if in.ExpiryNoticeDays, err = wholeNumber(f, "notice", "expiry notice"); err != nil {
		errs = append(errs, err)
	}
	var created serviceplan.Plan
	err = errors.Join(errs...)
	if err == nil {
		created, err = a.m.CreatePlan(r.Context(), in)
	}
	if err != nil {
		if lerr := a.planList(r.Context(), &v); lerr != nil {
			err = lerr
		}
		a.catalogueFailed(w, r, &v, "plan", f, err)
		return
	}
	a.catalogueDone(w, r, a.catalogueURL("plans", strconv.FormatInt(created.ID, 10)), "plan-created",
		func(v *view) error { return a.planOf(r.Context(), v, created.ID) }, v)
}

// updatePlan saves the fields a plan form carries: the edit form
// carries every field that may change (its checkboxes marked present by
// a hidden field), the list's Enable and Disable buttons only enabled.
func (a *admin) updatePlan(w http.ResponseWriter, r *http.Request, _ int64) {
	id, ok := a.catalogueID(w, r, "plan", "plans")
	if !ok {
		return
	}
	v := a.catalogueBase(r, "plans", "Service plan")
	if err := r.ParseForm(); err != nil {
		a.errorPage(w, r, formError(err), &link{URL: a.catalogueURL("plans"), Label: "Back to Service Plans"})
		return
	}
	f := formOf(r)
	version, err := versionOf(f)
	patch := serviceplan.Patch{Version: version}
	whole := f.Val("form") == "edit"
	if s, ok := f.Values["name"]; ok {
		patch.Name = &s
	}
	if _, ok := f.Values["enabled"]; ok || whole {
		on := f.Val("enabled") == "true"
		patch.Enabled = &on
	}
	if whole {
		renew := f.Val("auto_renew") != ""
		patch.AutoRenew = &renew
		var errs []error
		period, perr := wholeNumber(f, "period", "initial period")
		notice, nerr := wholeNumber(f, "notice", "expiry notice")
		patch.InitialPeriodMonths, patch.ExpiryNoticeDays = &period, &notice
		errs = append(errs, err, perr, nerr)
		err = errors.Join(errs...)
	}
	if err == nil {
		_, err = a.m.UpdatePlan(r.Context(), id, patch)
	}
	done, to := "plan-saved", a.catalogueURL("plans", strconv.FormatInt(id, 10))
	show := func(v *view) error { return a.planOf(r.Context(), v, id) }
	if !whole { // from the list: back to it
		to, show = a.catalogueURL("plans"), func(v *view) error {
			v.Title = "Service Plans"
			return a.planList(r.Context(), v)
		}
	}
	if err != nil {
		if serr := show(&v); serr != nil {
			err = serr
		}
		name := "plan"
		if !whole {
			name = "plan-" + strconv.FormatInt(id, 10)
		}
		a.catalogueFailed(w, r, &v, name, f, err)
		return
	}
	a.catalogueDone(w, r, to, done, show, v)
}
