package httpadmin

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/partnerkit/partnerkit/partner"
)

// customerPageSize is how many customers the Customers tab shows a page.
const customerPageSize = 25

// customerLine is one row of the Customers tab: the customer and the
// units it holds of each licence.
type customerLine struct {
	ID          int64
	Name, Email string
	URL         string
	Holdings    []holding
}

// holding is the units of one licence a customer holds, its
// allocations of that licence added up.
type holding struct {
	LicenseID         int64
	Product, UnitType string
	Units             int64
}

// customerPage loads one page of the partner's customers matching the
// search, and the units each holds per licence. The library has no read
// of the allocations of some customers only: the partner's allocations
// are read once (Manager.Allocations) and those of the page's customers
// kept.
func (a *admin) customerPage(ctx context.Context, v *view, q url.Values) error {
	s, id := &v.Screen, v.P.ID
	s.CustQ = strings.TrimSpace(q.Get("q"))
	f := partner.CustomerFilter{Name: s.CustQ, Page: partner.Page{Offset: s.Offset, Limit: customerPageSize}}
	custs, total, err := a.m.Customers(ctx, id, f)
	if err == nil && len(custs) == 0 && f.Offset > 0 && total > 0 {
		s.Offset = clampOffset(f.Offset, total, customerPageSize)
		f.Offset = s.Offset
		custs, total, err = a.m.Customers(ctx, id, f)
	}
	if err != nil {
		return err
	}
	held := map[int64][]holding{}
	if len(custs) > 0 {
		onPage := map[int64]bool{}
		for _, c := range custs {
			onPage[c.ID] = true
		}
		allocs, err := a.m.Allocations(ctx, id)
		if err != nil {
			return err
		}
		for _, al := range allocs {
			if !onPage[al.CustomerID] {
				continue
			}
			hs := held[al.CustomerID]
			if i := slices.IndexFunc(hs, func(h holding) bool { return h.LicenseID == al.LicenseID }); i >= 0 {
				hs[i].Units += al.Units
			} else {
				hs = append(hs, holding{LicenseID: al.LicenseID, Product: al.Product, UnitType: al.UnitType, Units: al.Units})
			}
			held[al.CustomerID] = hs
		}
	}
	s.Customers = make([]customerLine, len(custs))
	for i, c := range custs {
		hs := held[c.ID]
		slices.SortFunc(hs, func(x, y holding) int { return cmp.Compare(x.LicenseID, y.LicenseID) })
		s.Customers[i] = customerLine{ID: c.ID, Name: c.Name, Email: c.Email, URL: a.url(id, "customers", strconv.FormatInt(c.ID, 10)), Holdings: hs}
	}
	noun := "customers"
	if s.CustQ != "" {
		noun = fmt.Sprintf("customers matching “%s”", s.CustQ)
	}
	s.CustPager = newPager(s.Offset, len(custs), total, customerPageSize, noun, func(off int) string {
		p := url.Values{}
		if s.CustQ != "" {
			p.Set("q", s.CustQ)
		}
		if off > 0 {
			p.Set("offset", strconv.Itoa(off))
		}
		return withQuery(a.url(id, "customers"), p)
	})
	s.CustPager.Target = "#partner-main"
	return nil
}

// customerDetailView is a customer's page: its allocations, and the
// licences that can give it more units.
type customerDetailView struct {
	ID          int64
	Name, Email string
	Allocations []allocationLine
	Units       int64
	Options     []licenseOption
}

// allocationLine is one allocation of a customer, with the URL of its
// Release action.
type allocationLine struct {
	ID, LicenseID     int64
	Product, UnitType string
	Units             int64
	ReleaseURL        string
}

// licenseOption is a licence that can give a customer units.
type licenseOption struct {
	ID    int64
	Label string
}

// partnerCustomer reads a customer of the partner.
func (a *admin) partnerCustomer(ctx context.Context, partnerID, cid int64) (partner.Customer, error) {
	return a.m.Customer(ctx, partnerID, cid)
}

func (a *admin) customerDetail(ctx context.Context, v *view, cid int64) error {
	id := v.P.ID
	allocs, err := a.m.CustomerAllocations(ctx, id, cid)
	if err != nil {
		return err
	}
	c, err := a.partnerCustomer(ctx, id, cid)
	if err != nil {
		return err
	}
	v.SubTitle = "Customer " + c.Name
	d := &v.Screen.Customer
	d.ID, d.Name, d.Email = c.ID, c.Name, c.Email
	base := a.url(id, "customers", strconv.FormatInt(cid, 10), "allocations") + "/"
	for _, al := range allocs {
		d.Units += al.Units
		d.Allocations = append(d.Allocations, allocationLine{ID: al.ID, LicenseID: al.LicenseID, Product: al.Product, UnitType: al.UnitType,
			Units: al.Units, ReleaseURL: base + strconv.FormatInt(al.ID, 10) + "/release"})
	}
	if v.ReadOnly() || v.Can(string(partner.OpAllocateUnits)).Denied {
		return nil // no form to fill
	}
	now := a.m.Now()
	for offset := 0; ; {
		lics, total, err := a.m.Licenses(ctx, id, partner.Page{Offset: offset, Limit: partner.MaxLimit})
		if err != nil {
			return err
		}
		for _, l := range lics {
			if l.Disabled || now.Before(l.Start) || !now.Before(l.Expiry) || l.Remaining() <= 0 {
				continue
			}
			d.Options = append(d.Options, licenseOption{ID: l.ID, Label: fmt.Sprintf("#%d %s (%s) — %d of %d %s left, until %s",
				l.ID, l.Product, l.Kind.Label(), l.Remaining(), l.Units, l.UnitType, dateText(l.Expiry))})
		}
		offset += len(lics)
		if len(lics) == 0 || offset >= total {
			return nil
		}
	}
}

func (a *admin) addCustomer(w http.ResponseWriter, r *http.Request, id int64) {
	a.act(w, r, id, partner.TabCustomers, "add-customer", "cust-added", func(ctx context.Context, f form, o *outcome) error {
		c, err := a.m.AddCustomer(ctx, id, partner.CustomerParams{Name: f.Val("name"), Email: f.Val("email")})
		if err == nil {
			o.to = &place{Tab: partner.TabCustomers, Sub: "customer", SubID: c.ID}
			o.query.Del("offset")
		}
		return err
	})
}

func (a *admin) allocate(w http.ResponseWriter, r *http.Request, id int64) {
	cid, ok := a.subject(w, r, id, partner.TabCustomers, "cust")
	if !ok {
		return
	}
	a.actAt(w, r, id, place{Tab: partner.TabCustomers, Sub: "customer", SubID: cid}, "allocate", "allocated", func(ctx context.Context, f form, _ *outcome) error {
		lid, err := parseID(f.Val("license"))
		if err != nil {
			return partner.NewError(partner.ErrInvalid, "license", "must be chosen from the list")
		}
		units, err := unitsOf(f, "units")
		if err != nil {
			return err
		}
		_, err = a.m.Allocate(ctx, id, partner.AllocateParams{LicenseID: lid, CustomerID: cid, Units: units})
		return err
	})
}

// release gives an allocation of the customer of the path back to its
// licence, once asked: the customer loses those units.
func (a *admin) release(w http.ResponseWriter, r *http.Request, id int64) {
	cid, ok := a.subject(w, r, id, partner.TabCustomers, "cust")
	if !ok {
		return
	}
	aid, ok := a.subject(w, r, id, partner.TabCustomers, "alloc")
	if !ok {
		return
	}
	here := place{Tab: partner.TabCustomers, Sub: "customer", SubID: cid}
	// The allocation must be this customer's: another's, even of the same
	// partner, is not found at this URL.
	find := func(ctx context.Context) (partner.AllocationView, error) {
		allocs, err := a.m.CustomerAllocations(ctx, id, cid)
		if err != nil {
			return partner.AllocationView{}, err
		}
		if i := slices.IndexFunc(allocs, func(x partner.AllocationView) bool { return x.ID == aid }); i >= 0 {
			return allocs[i], nil
		}
		return partner.AllocationView{}, partner.NewError(partner.ErrNotFound, "", "allocation %d is not customer %d's", aid, cid)
	}
	if !a.confirmed(w, r, id, partner.OpReleaseUnits, partner.TabCustomers, a.placeURL(id, here)+"/allocations/"+strconv.FormatInt(aid, 10)+"/release",
		func(partner.Partner) string {
			if al, err := find(r.Context()); err == nil {
				return fmt.Sprintf("Release the %d %s of license #%d (%s) from %s? The customer no longer has them.",
					al.Units, al.UnitType, al.LicenseID, al.Product, al.CustomerName)
			}
			return "Release these units? The customer no longer has them."
		}) {
		return
	}
	a.actAt(w, r, id, here, "release", "released", func(ctx context.Context, f form, _ *outcome) error {
		// The guard first, as the library refuses: a Suspended or Canceled
		// partner's refusal says so whatever the allocation.
		p, err := a.m.Get(ctx, id)
		if err != nil {
			return err
		}
		if err := p.Allowed(partner.OpReleaseUnits); err != nil {
			return err
		}
		if _, err := find(ctx); err != nil {
			return err
		}
		return a.m.Release(ctx, id, aid)
	})
}
