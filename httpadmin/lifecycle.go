package httpadmin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
)

// poolLine is one licence pool of the Licenses tab, its settings in
// words and the values of its settings form.
type poolLine struct {
	Name, Product, UnitType string
	Remaining, Units        int64
	Low                     bool
	Uncatalogued            bool
	MinimumText, CapText    string
	AutoRefill              bool
	// FormName names its settings form ("pool-3"); MinVal and CapVal
	// are the values its form shows unless it is re-rendered.
	FormName, Index string
	MinVal, CapVal  string
}

// poolLines words the partner's pools and their forms' values.
func poolLines(pools []partner.Pool) []poolLine {
	out := make([]poolLine, len(pools))
	for i, p := range pools {
		idx := strconv.Itoa(i)
		l := poolLine{Name: p.Name(), Product: p.Product, UnitType: p.UnitType, Remaining: p.Remaining, Units: p.Units,
			Low: p.Low, Uncatalogued: p.ProductID == 0, AutoRefill: p.AutoRefill, FormName: "pool-" + idx, Index: idx,
			CapText: "None", CapVal: strconv.FormatInt(p.Cap, 10)}
		switch {
		case p.Minimum == 0 && p.OwnMinimum:
			l.MinimumText = "Off"
		case p.Minimum == 0:
			l.MinimumText = "Off (the partner's)"
		case p.OwnMinimum:
			l.MinimumText = strconv.FormatInt(p.Minimum, 10)
		default:
			l.MinimumText = strconv.FormatInt(p.Minimum, 10) + " (the partner's)"
		}
		if p.OwnMinimum {
			l.MinVal = strconv.FormatInt(p.Minimum, 10)
		}
		if p.Cap > 0 {
			l.CapText = strconv.FormatInt(p.Cap, 10) + " " + p.UnitType
		}
		out[i] = l
	}
	return out
}

// licensePage loads one page of the partner's licences, oldest first, at
// the view's offset (past the end: the last page), and its pools (unless
// the screen read them with the partner). The counts of licences
// expiring soon and expired are the partner's own figures, over all its
// licences.
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
	pools := v.pools
	if pools == nil { // not read with the partner
		if pools, err = a.m.Pools(ctx, id); err != nil {
			return err
		}
	}
	s.Pools = poolLines(pools)
	low := map[[2]string]bool{}
	for _, pool := range pools {
		low[[2]string{pool.Product, pool.UnitType}] = pool.Low
		if pool.Low {
			s.LowPools++
		}
	}
	locked := v.Can(string(partner.OpDisableLicenses)).Denied && v.Can(string(partner.OpEnableLicenses)).Denied
	s.Licenses = make([]licenseLine, len(lics))
	base := a.url(id, "licenses") + "/"
	for i, l := range lics {
		state := a.m.LicenseState(l)
		s.Licenses[i] = licenseLine{ID: l.ID, Product: l.Product, UnitType: l.UnitType, Kind: l.Kind.Label(),
			Meter: newMeter(l.Used, l.Units), State: string(state), StateLabel: state.Label(),
			Start: dateText(l.Start), Expiry: dateText(l.Expiry), Locked: locked, Low: low[[2]string{l.Product, l.UnitType}],
			Uncatalogued: l.ProductID == 0, URL: base + strconv.FormatInt(l.ID, 10)}
	}
	// The partner's own figures, derived at the Manager's clock over all
	// its licences (disabled ones left out), as the partners list shows
	// them: not only the page's.
	s.Expiring, s.Expired = v.P.ExpiringLicenses, v.P.ExpiredLicenses
	s.CountScope = fmt.Sprintf("of all %d licenses", total)
	s.LicPager = newPager(s.Offset, len(lics), total, licensePageSize, "licenses", func(off int) string {
		return withQuery(a.url(id, string(partner.TabLicenses)), offsetQuery(off))
	})
	s.LicPager.Target = "#partner-main"
	return nil
}

// licenseDetailView is a licence's page: its figures and the values of
// its lifecycle's forms.
type licenseDetailView struct {
	ID, Version                    int64
	Product, UnitType, Kind        string
	State, StateLabel              string
	Start, Expiry, Origin, Granted string
	Units, Used, Remaining         int64
	Meter                          meter
	Trial, Disabled, Uncatalogued  bool
	// NewExpiry is the Extend form's default: a year after the current
	// expiry (or after today, for an expired licence).
	NewExpiry string
}

// partnerLicense reads a licence of the partner.
func (a *admin) partnerLicense(ctx context.Context, partnerID, lid int64) (license.License, error) {
	return a.m.License(ctx, partnerID, lid)
}

func (a *admin) licenseDetail(ctx context.Context, v *view, lid int64) error {
	l, err := a.partnerLicense(ctx, v.P.ID, lid)
	if err != nil {
		return err
	}
	state := a.m.LicenseState(l)
	from := l.Expiry
	if now := a.m.Now(); from.Before(now) {
		from = now
	}
	v.SubTitle = fmt.Sprintf("License #%d", l.ID)
	v.Screen.License = licenseDetailView{ID: l.ID, Version: l.Version, Product: l.Product, UnitType: l.UnitType, Kind: l.Kind.Label(),
		State: string(state), StateLabel: state.Label(), Start: dateText(l.Start), Expiry: dateText(l.Expiry),
		Origin: l.Origin.Label(), Granted: fmt.Sprintf("%d %s, %s, until %s", l.GrantedUnits, l.UnitType, l.GrantedKind.Label(), dateText(l.GrantedExpiry)),
		Units: l.Units, Used: l.Used, Remaining: l.Remaining(), Meter: newMeter(l.Used, l.Units),
		Trial: l.Kind == license.Trial, Disabled: l.Disabled, Uncatalogued: l.ProductID == 0,
		NewExpiry: from.AddDate(1, 0, 0).Format(time.DateOnly)}
	return nil
}

// licenseAct runs a lifecycle action on the licence of the path and
// answers with the licence's page.
func (a *admin) licenseAct(w http.ResponseWriter, r *http.Request, id int64, formName, done string,
	do func(ctx context.Context, lid, version int64, f form, o *outcome) (license.License, error)) {
	lid, ok := a.subject(w, r, id, partner.TabLicenses, "lic")
	if !ok {
		return
	}
	a.actAt(w, r, id, place{Tab: partner.TabLicenses, Sub: "license", SubID: lid}, formName, done, func(ctx context.Context, f form, o *outcome) error {
		version, err := versionOf(f)
		if err != nil {
			return err
		}
		l, err := do(ctx, lid, version, f, o)
		if err == nil && version != 0 && l.Version == version {
			o.done = "unchanged"
		}
		return err
	})
}

func (a *admin) extendLicense(w http.ResponseWriter, r *http.Request, id int64) {
	a.licenseAct(w, r, id, "extend", "extended", func(ctx context.Context, lid, version int64, f form, _ *outcome) (license.License, error) {
		expiry, err := parseDate("expiry", f.Val("expiry"))
		if err != nil {
			return license.License{}, err
		}
		return a.m.ExtendLicense(ctx, id, lid, version, expiry)
	})
}

// unitsOf reads a number of units from a form.
func unitsOf(f form, field string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(f.Val(field)), 10, 64)
	if err != nil {
		return 0, partner.NewError(partner.ErrInvalid, "units", "must be a whole number")
	}
	return n, nil
}

func (a *admin) changeUnits(add bool) func(http.ResponseWriter, *http.Request, int64) {
	formName, done := "reduce", "units-reduced"
	if add {
		formName, done = "add", "units-added"
	}
	return func(w http.ResponseWriter, r *http.Request, id int64) {
		a.licenseAct(w, r, id, formName, done, func(ctx context.Context, lid, version int64, f form, _ *outcome) (license.License, error) {
			n, err := unitsOf(f, "units")
			if err != nil {
				return license.License{}, err
			}
			if add {
				return a.m.AddUnits(ctx, id, lid, version, n)
			}
			l, err := a.m.ReduceUnits(ctx, id, lid, version, n)
			if errors.Is(err, partner.ErrInsufficientUnits) {
				// "Cannot reduce to 10 units: 30 are allocated to customers."
				err = partner.NewError(partner.ErrInsufficientUnits, "", "%s", partner.ErrorReason(err))
			}
			return l, err
		})
	}
}

func (a *admin) convertLicense(w http.ResponseWriter, r *http.Request, id int64) {
	a.licenseAct(w, r, id, "convert", "converted", func(ctx context.Context, lid, version int64, f form, _ *outcome) (license.License, error) {
		var expiry time.Time
		if strings.TrimSpace(f.Val("expiry")) != "" {
			var err error
			if expiry, err = parseDate("expiry", f.Val("expiry")); err != nil {
				return license.License{}, err
			}
		}
		return a.m.ConvertToFull(ctx, id, lid, version, expiry)
	})
}

func (a *admin) enableLicense(w http.ResponseWriter, r *http.Request, id int64) {
	a.licenseAct(w, r, id, "enable-license", "lic-enabled", func(ctx context.Context, lid, _ int64, _ form, _ *outcome) (license.License, error) {
		ls, err := a.m.EnableLicenses(ctx, id, []int64{lid})
		if err != nil || len(ls) == 0 {
			return license.License{}, err
		}
		return ls[0], nil
	})
}

// enableLicenses enables the ticked licences of the Licenses tab, as
// Disable Licenses disables them; it asks nothing first.
func (a *admin) enableLicenses(w http.ResponseWriter, r *http.Request, id int64) {
	a.act(w, r, id, partner.TabLicenses, "disable", "enabled", func(ctx context.Context, f form, _ *outcome) error {
		ids, err := tickedLicenses(r)
		if err != nil {
			return err
		}
		_, err = a.m.EnableLicenses(ctx, id, ids)
		return err
	})
}

// tickedLicenses reads the licences ticked in the Licenses table.
func tickedLicenses(r *http.Request) ([]int64, error) {
	var ids []int64
	for _, s := range r.PostForm["license"] {
		lid, err := parseID(s)
		if err != nil {
			return nil, partner.NewError(partner.ErrNotFound, "", "no such licence")
		}
		ids = append(ids, lid)
	}
	return ids, nil
}

func (a *admin) setPoolSettings(w http.ResponseWriter, r *http.Request, id int64) {
	if err := r.ParseForm(); err != nil {
		a.errorPage(w, r, formError(err), a.backTo(id, partner.TabLicenses))
		return
	}
	a.act(w, r, id, partner.TabLicenses, "pool-"+r.PostForm.Get("pool"), "pool", func(ctx context.Context, f form, o *outcome) error {
		version, err := versionOf(f)
		if err != nil {
			return err
		}
		in := partner.PoolSettingsParams{Product: f.Val("product"), UnitType: f.Val("unit_type"), AutoRefill: f.Val("auto_refill") != ""}
		var errs []error
		if s := strings.TrimSpace(f.Val("minimum")); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				errs = append(errs, partner.NewError(partner.ErrInvalid, "minimum licenses", "must be a whole number, or blank for the partner's"))
			}
			in.Minimum = &n
		}
		if s := strings.TrimSpace(f.Val("cap")); s != "" {
			if in.Cap, err = strconv.ParseInt(s, 10, 64); err != nil {
				errs = append(errs, partner.NewError(partner.ErrInvalid, "cap", "must be a whole number of units"))
			}
		}
		if err := errors.Join(errs...); err != nil {
			return err
		}
		p, err := a.m.SetPoolSettings(ctx, id, version, in)
		o.partner = &p
		return err
	})
}

// assignLine is one product of the catalogue on the Assign Licenses and
// Create Partner forms: the names of its inputs and the fields its
// errors are reported under.
type assignLine struct {
	ID                                         int64
	Name, UnitType                             string
	TrialOffered                               bool
	TrialDays                                  int
	TrialIn, FullIn, StartIn, ExpiryIn         string // input names
	TrialField, FullField, StartField, ExpiryF string // error fields
}

// catalogueLines reads the whole product catalogue, by name, a line each.
func (a *admin) catalogueLines(ctx context.Context) ([]assignLine, error) {
	products, err := a.allProducts(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]assignLine, len(products))
	for i, p := range products {
		n := strconv.FormatInt(p.ID, 10)
		out[i] = assignLine{ID: p.ID, Name: p.Name, UnitType: p.UnitType, TrialOffered: p.TrialOffered, TrialDays: p.TrialDays,
			TrialIn: "trial-" + n, FullIn: "full-" + n, StartIn: "start-" + n, ExpiryIn: "expiry-" + n,
			TrialField: p.Name + " trial units", FullField: p.Name + " full units", StartField: p.Name + " start", ExpiryF: p.Name + " expiry"}
	}
	return out, nil
}

// allProducts reads the whole catalogue, a page of partner.MaxLimit at a
// time.
func (a *admin) allProducts(ctx context.Context) ([]license.Product, error) {
	var out []license.Product
	for {
		ps, total, err := a.m.Products(ctx, partner.Page{Offset: len(out), Limit: partner.MaxLimit})
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
		if len(ps) == 0 || len(out) >= total {
			return out, nil
		}
	}
}

// grantLine says which line and column of the form a grant came from.
type grantLine struct {
	line  assignLine
	trial bool
}

// grantsOf reads the grants of the lines of an Assign Licenses or Create
// Partner form: a Trial and a Full grant for each line with units in
// that column, with the line's start and expiry (a Trial without an
// expiry lasts the product's trial days).
func grantsOf(f form, lines []assignLine) ([]license.Grant, []grantLine, error) {
	var (
		grants []license.Grant
		from   []grantLine
		errs   []error
	)
	for _, l := range lines {
		var units [2]int64
		for i, in := range []string{l.TrialIn, l.FullIn} {
			s := strings.TrimSpace(f.Val(in))
			if s == "" {
				continue
			}
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				errs = append(errs, partner.NewError(partner.ErrInvalid, []string{l.TrialField, l.FullField}[i], "must be a whole number"))
				continue
			}
			units[i] = n
		}
		if units[0] == 0 && units[1] == 0 {
			continue
		}
		start, err := time.Parse(time.DateOnly, strings.TrimSpace(f.Val(l.StartIn)))
		if err != nil {
			errs = append(errs, partner.NewError(partner.ErrInvalid, l.StartField, "must be a date (YYYY-MM-DD)"))
		}
		var expiry time.Time
		if s := strings.TrimSpace(f.Val(l.ExpiryIn)); s != "" {
			if expiry, err = time.Parse(time.DateOnly, s); err != nil {
				errs = append(errs, partner.NewError(partner.ErrInvalid, l.ExpiryF, "must be a date (YYYY-MM-DD)"))
			}
		}
		for i, kind := range []license.Kind{license.Trial, license.Full} {
			if units[i] != 0 {
				grants = append(grants, license.Grant{ProductID: l.ID, Units: units[i], Kind: kind, Start: start, Expiry: expiry})
				from = append(from, grantLine{line: l, trial: kind == license.Trial})
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	return grants, from, nil
}

// grantPrefix is how the library says which grant a reason is about.
var grantPrefix = regexp.MustCompile(`^\(grant (\d+)\) `)

// relabel names the library's field errors of grants by the form's line
// and column they came from ("Endpoint Security full units"), so each is
// marked next to its input. Other errors come back as they are.
func relabel(err error, from []grantLine) error {
	probs := partner.FieldErrors(err)
	if len(probs) == 0 || len(from) == 0 {
		return err
	}
	kind := partner.ErrInvalid
	if errors.Is(err, partner.ErrDuplicate) {
		kind = partner.ErrDuplicate
	}
	var errs []error
	seen := map[string]bool{}
	for _, p := range probs {
		i, reason := 0, p.Reason
		if m := grantPrefix.FindStringSubmatch(reason); m != nil {
			i, _ = strconv.Atoi(m[1])
			i--
			reason = reason[len(m[0]):]
		}
		field := p.Field
		if i >= 0 && i < len(from) {
			g := from[i]
			switch p.Field {
			case "units", "kind", "product", "unit type":
				field = g.line.FullField
				if g.trial {
					field = g.line.TrialField
				}
			case "start":
				field = g.line.StartField
			case "expiry":
				field = g.line.ExpiryF
			}
		}
		if seen[field] {
			continue
		}
		seen[field] = true
		errs = append(errs, partner.NewError(kind, field, "%s", reason))
	}
	return errors.Join(errs...)
}

// assignForm is the Assign Licenses page: a line for each product of the
// catalogue.
func (a *admin) assignForm(ctx context.Context, v *view) error {
	v.SubTitle = "Assign Licenses"
	var err error
	v.Lines, err = a.catalogueLines(ctx)
	return err
}

func (a *admin) assignLicenses(w http.ResponseWriter, r *http.Request, id int64) {
	a.actAt(w, r, id, place{Tab: partner.TabLicenses, Sub: "assign"}, "assign", "assigned", func(ctx context.Context, f form, o *outcome) error {
		lines, err := a.catalogueLines(ctx)
		if err != nil {
			return err
		}
		grants, from, err := grantsOf(f, lines)
		if err != nil {
			return err
		}
		if len(grants) == 0 {
			return partner.NewError(partner.ErrInvalid, "licenses", "enter Trial or Full units of at least one product")
		}
		res, err := a.m.AssignLicenses(ctx, id, partner.AssignLicensesParams{Key: f.Val("key"), Grants: grants})
		if err != nil {
			if rewritten, ok := keyRefused(err); ok {
				f.Values["key"] = newToken()
				err = rewritten
			}
			return relabel(err, from)
		}
		if res.Replayed {
			o.done = "replayed"
		}
		// Show the page that holds the new licences: the last one.
		o.to = &place{Tab: partner.TabLicenses}
		o.query.Del("offset")
		if _, total, lerr := a.m.Licenses(ctx, id, partner.Page{Limit: 1}); lerr == nil && total > 0 {
			if off := clampOffset(total, total, licensePageSize); off > 0 {
				o.query.Set("offset", strconv.Itoa(off))
			}
		}
		return nil
	})
}
