package partner

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"slices"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/serviceplan"
)

// CreateParams is the Create Partner form.
type CreateParams struct {
	Type    Type
	Profile Profile
	// Admin is the first console account. Its role is always
	// Administrator; leave Role empty or set it to account.Administrator.
	// When Profile.Contacts is empty, the admin becomes the primary contact.
	Admin account.Params
	// RemoteManager grants Remote Manager access for these data centers
	// (MSP only).
	RemoteManager []DataCenter
	// Plans assigns these catalogue plans (Reseller only; enabled plans).
	Plans []int64
	// Licenses grants these first licences, resolved against the product
	// catalogue as AssignLicenses does.
	Licenses []license.Grant
}

// Create creates an Active partner with its first Administrator account,
// and in the same all-or-nothing step its Remote Manager access (MSP), its
// first plans (Reseller) and its first licences. It fails with ErrInvalid
// naming the field, ErrWrongType when Remote Manager is asked for a
// Reseller or plans for an MSP, ErrDuplicate when the account name is
// taken, ErrNotFound or ErrPlanDisabled for a plan that cannot be assigned.
func (m *Manager) Create(ctx context.Context, in CreateParams) (Partner, error) {
	var out Partner
	err := m.write(ctx, OpCreatePartner, func(ctx context.Context, tx Tx, c *changes) error {
		in := in.clone() // never write to the caller's slices
		invalidGrants, err := prepareGrants(ctx, tx, in.Licenses)
		if err != nil {
			return err
		}
		p, err := prepareCreate(&in, invalidGrants)
		if err != nil {
			return err
		}
		p.CreatedAt, p.UpdatedAt = c.at, c.at
		if err := tx.CreatePartner(ctx, &p); err != nil {
			return err
		}
		admin := account.Account{PartnerID: p.ID, Name: in.Admin.Name, FirstName: in.Admin.FirstName,
			LastName: in.Admin.LastName, Email: in.Admin.Email, Role: account.Administrator, Enabled: true,
			CreatedAt: c.at, UpdatedAt: c.at}
		if err := tx.CreateAccount(ctx, &admin); err != nil {
			return err
		}
		for _, id := range in.Plans {
			if err := assignPlan(ctx, tx, p.ID, id, c); err != nil {
				return err
			}
		}
		var lics []license.License
		for _, g := range in.Licenses {
			l := newLicense(p.ID, g, "", license.OriginAssigned, c.at)
			if err := tx.CreateLicense(ctx, &l); err != nil {
				return err
			}
			lics = append(lics, l)
		}
		if err := c.record(ctx, tx, p.ID, OpCreatePartner, fmt.Sprintf("partner %d", p.ID), createChanges(p, admin, lics)); err != nil {
			return err
		}
		out, err = m.partnerAt(ctx, tx, p.ID)
		return err
	})
	return out, err
}

// asOf is the instant and window the Manager's partners' licence figures
// are derived at.
func (m *Manager) asOf() AsOf { return AsOf{Now: m.Now(), Window: m.window} }

// partnerAt reads a partner with every derived figure, the licence
// figures at the Manager's clock.
func (m *Manager) partnerAt(ctx context.Context, r Reader, id int64) (Partner, error) {
	ps, _, err := r.Partners(ctx, Filter{IDs: []int64{id}}, m.asOf()) // every row: no count
	switch {
	case err != nil:
		return Partner{}, err
	case len(ps) == 0:
		return Partner{}, NewError(ErrNotFound, "", "partner %d does not exist", id)
	}
	return ps[0], nil
}

// createChanges are the audit changes of a new partner: its profile,
// type, status, first Administrator, and what it was created with.
func createChanges(p Partner, admin account.Account, lics []license.License) []Change {
	var cl changeList
	cl.set("company_name", "Company name", textValue(p.Profile.CompanyName))
	cl.set("type", "Type", codeValue(p.Type, p.Type.Label()))
	cl.set("status", "Status", statusValue(p.Status))
	cl.set("city", "City", textValue(p.Profile.City))
	if p.Profile.State != "" {
		cl.set("state", "State/province", textValue(p.Profile.State))
	}
	cl.set("country", "Country", textValue(p.Profile.Country))
	if p.Profile.SignInURL != "" {
		cl.set("sign_in_url", "Sign-in URL", textValue(p.Profile.SignInURL))
	}
	cl.set("contacts", "Contacts", contactsValue(p.Profile.Contacts))
	cl.set("administrator", "Administrator", textValue(admin.Name))
	if len(p.RemoteManager) > 0 {
		cl.set("remote_manager", "Data centres", dataCentersValue(p.RemoteManager))
	}
	if len(lics) > 0 {
		cl.set("licenses", "Licences", licensesValue(lics))
	}
	return cl
}

// clone copies n deeply enough that normalizing the copy leaves n as it
// was.
func (n CreateParams) clone() CreateParams {
	n.Profile.Contacts = slices.Clone(n.Profile.Contacts)
	n.RemoteManager = slices.Clone(n.RemoteManager)
	n.Plans = slices.Clone(n.Plans)
	n.Licenses = slices.Clone(n.Licenses)
	return n
}

// prepareCreate normalizes and validates in, which the caller owns; its
// licences are already prepared (prepareGrants), their problems in
// invalidGrants.
func prepareCreate(in *CreateParams, invalidGrants error) (Partner, error) {
	// Check every part and report every problem at once.
	var errs []error
	if !in.Type.Valid() {
		errs = append(errs, invalidf("type", "must be MSP or Reseller (got %q)", in.Type))
	}
	in.Profile.Normalize()
	in.Admin.Normalize()
	if in.Admin.Role == "" {
		in.Admin.Role = account.Administrator
	}
	if in.Admin.Role != account.Administrator {
		errs = append(errs, invalidf("role", "the first account is always an Administrator"))
	}
	adminErr := in.Admin.Validate()
	errs = append(errs, adminErr)
	if len(in.Profile.Contacts) == 0 && adminErr == nil {
		in.Profile.Contacts = []Contact{{FirstName: in.Admin.FirstName, LastName: in.Admin.LastName, Email: in.Admin.Email}}
	}
	errs = append(errs, in.Profile.validate())
	if len(in.RemoteManager) > 0 && in.Type == Reseller {
		errs = append(errs, NewError(ErrWrongType, "data center", "Remote Manager is for MSP partners only"))
	}
	if len(in.Plans) > 0 && in.Type == MSP {
		errs = append(errs, NewError(ErrWrongType, "service plans", "service plans are for Reseller partners only"))
	}
	dcs, err := dataCenterSet(in.RemoteManager)
	errs = append(errs, err, invalidGrants)
	if err := errors.Join(errs...); err != nil {
		return Partner{}, err
	}
	in.Plans = slices.Compact(slices.Sorted(slices.Values(in.Plans)))
	return Partner{Type: in.Type, Status: Active, Profile: in.Profile, RemoteManager: dcs}, nil
}

// dataCenterSet validates data centers and returns them deduplicated in
// DataCenters order.
func dataCenterSet(in []DataCenter) ([]DataCenter, error) {
	var out []DataCenter
	for _, d := range in {
		if _, err := serviceplan.ParseDataCenter(string(d)); err != nil {
			return nil, err
		}
	}
	for _, d := range serviceplan.DataCenters() {
		for _, x := range in {
			if p, _ := serviceplan.ParseDataCenter(string(x)); p == d {
				out = append(out, d)
				break
			}
		}
	}
	return out, nil
}

// Get returns a partner with its derived figures: customer count, unit
// totals, and its low pools and expiring and expired licences at the
// Manager's clock.
func (m *Manager) Get(ctx context.Context, id int64) (Partner, error) {
	var p Partner
	err := m.read(ctx, func(ctx context.Context, r Reader) (err error) {
		p, err = m.partnerAt(ctx, r, id)
		return err
	})
	return p, err
}

// List returns one page of the partners matching f, in f's order (by id
// unless f.Sort says otherwise), with their derived figures, and the
// total number of matches. The licence figures and f.Attention are
// computed at the Manager's clock, with its expiring window. An invalid
// filter is ErrInvalid, every problem at once.
func (m *Manager) List(ctx context.Context, f Filter) ([]Partner, int, error) {
	var (
		ps    []Partner
		total int
	)
	err := m.read(ctx, func(ctx context.Context, r Reader) (err error) {
		if f, err = f.normalize(); err != nil {
			return err
		}
		ps, total, err = r.Partners(ctx, f, m.asOf())
		return err
	})
	return ps, total, err
}

// ListAll returns every partner matching f (f.Page aside), in f's order,
// as an iterator for exports of any size, such as a CSV of 100,000
// partners: it reads ExportBatch partners at a time, each batch a read of
// its own, by keyset (the partners after the last one seen in f's order),
// so memory stays flat. Each batch computes its licence figures at the
// Manager's clock when it is read. A partner that changes while the
// export runs is listed where its values at its batch's read put it: one
// whose sort key moved across the walk's position may be listed twice or
// not at all; the partners that did not change are listed once each. A
// failure is yielded once, with a zero partner, and ends the iteration;
// so does the caller's break.
func (m *Manager) ListAll(ctx context.Context, f Filter) iter.Seq2[Partner, error] {
	return func(yield func(Partner, error) bool) {
		f.Page = Page{} // ignored
		f, err := f.normalize()
		if err != nil {
			yield(Partner{}, withOp(OpRead, err))
			return
		}
		var after *Partner
		for {
			var batch []Partner
			err := m.read(ctx, func(ctx context.Context, r Reader) (err error) {
				batch, err = r.PartnersAfter(ctx, f, m.asOf(), after, ExportBatch)
				return err
			})
			if err != nil {
				yield(Partner{}, err)
				return
			}
			for _, p := range batch {
				if !yield(p, nil) {
					return
				}
			}
			if len(batch) < ExportBatch {
				return
			}
			after = &batch[len(batch)-1]
		}
	}
}

// ProfilePatch changes the Profile tab; nil fields stay as they are.
type ProfilePatch struct {
	// Version, when not zero, must equal the partner's current version.
	Version     int64
	CompanyName *string
	City        *string
	State       *string
	Country     *string
	Contacts    *[]Contact
	SignInURL   *string
}

// UpdateProfile changes the partner's company details and contacts. It is
// allowed for Active and Suspended partners. A patch that changes nothing
// (no field set, or every value equal to the current one once trimmed) is
// a no-op: it returns the partner as it is and writes nothing.
func (m *Manager) UpdateProfile(ctx context.Context, id int64, patch ProfilePatch) (Partner, error) {
	return m.partnerUpdate(ctx, id, OpUpdateProfile, patch.Version, func(ctx context.Context, tx Tx, p *Partner, c *changes) error {
		before := p.Profile
		next := p.Profile
		next.Contacts = slices.Clone(next.Contacts)
		set := func(dst *string, src *string) {
			if src != nil {
				*dst = *src
			}
		}
		set(&next.CompanyName, patch.CompanyName)
		set(&next.City, patch.City)
		set(&next.State, patch.State)
		set(&next.Country, patch.Country)
		set(&next.SignInURL, patch.SignInURL)
		if patch.Contacts != nil {
			next.Contacts = slices.Clone(*patch.Contacts)
		}
		next.Normalize()
		if err := next.validate(); err != nil {
			return err
		}
		if next.equal(before) {
			return nil
		}
		p.Profile, p.UpdatedAt = next, c.at
		if err := tx.UpdatePartner(ctx, p); err != nil {
			return err
		}
		return c.record(ctx, tx, p.ID, OpUpdateProfile, fmt.Sprintf("partner %d", p.ID), profileDiff(before, next))
	})
}

// profileDiff lists the fields of the Profile tab that differ.
func profileDiff(a, b Profile) []Change {
	var cl changeList
	cl.diff("company_name", "Company name", textValue(a.CompanyName), textValue(b.CompanyName))
	cl.diff("city", "City", textValue(a.City), textValue(b.City))
	cl.diff("state", "State/province", textValue(a.State), textValue(b.State))
	cl.diff("country", "Country", textValue(a.Country), textValue(b.Country))
	cl.diff("sign_in_url", "Sign-in URL", textValue(a.SignInURL), textValue(b.SignInURL))
	cl.diff("contacts", "Contacts", contactsValue(a.Contacts), contactsValue(b.Contacts))
	return cl
}

// Suspend makes an Active partner Suspended: from then on only its
// Profile may change, until Reactivate.
func (m *Manager) Suspend(ctx context.Context, id, version int64) (Partner, error) {
	return m.setStatus(ctx, id, version, OpSuspend, Suspended)
}

// Reactivate makes a Suspended partner Active again.
func (m *Manager) Reactivate(ctx context.Context, id, version int64) (Partner, error) {
	return m.setStatus(ctx, id, version, OpReactivate, Active)
}

func (m *Manager) setStatus(ctx context.Context, id, version int64, op Operation, to Status) (Partner, error) {
	return m.partnerUpdate(ctx, id, op, version, func(ctx context.Context, tx Tx, p *Partner, c *changes) error {
		from := p.Status
		p.Status, p.UpdatedAt = to, c.at
		if err := tx.UpdatePartner(ctx, p); err != nil {
			return err
		}
		return c.record(ctx, tx, p.ID, op, fmt.Sprintf("partner %d", p.ID), one("status", "Status", statusValue(from), statusValue(to)))
	})
}

// Cancel ends the partnership for good. In the same transaction it ends
// the partner's licences at the cancellation instant — a licence running
// then expires at that instant, so the customer licences the partner
// manages expire with it; a licence that has not started by then is
// disabled and never starts, keeping its dates (so every licence keeps
// its start before its expiry) — and disables every account of the
// partner. A Canceled partner can never be changed again. See
// CancelPreview.
func (m *Manager) Cancel(ctx context.Context, id, version int64) (Partner, error) {
	return m.partnerUpdate(ctx, id, OpCancel, version, func(ctx context.Context, tx Tx, p *Partner, c *changes) error {
		from := p.Status
		p.Status, p.CanceledAt, p.UpdatedAt = Canceled, c.at, c.at
		if err := tx.UpdatePartner(ctx, p); err != nil {
			return err
		}
		expired, notStarted, err := tx.EndLicenses(ctx, p.ID, c.at)
		if err != nil {
			return err
		}
		disabled, err := tx.DisableAccounts(ctx, p.ID, c.at)
		if err != nil {
			return err
		}
		cl := changeList(one("status", "Status", statusValue(from), statusValue(Canceled)))
		cl.set("licenses_expired", "Licences expired", intValue(expired))
		if notStarted > 0 {
			cl.set("licenses_disabled", "Licences not started, disabled", intValue(notStarted))
		}
		cl.set("accounts_disabled", "Accounts disabled", intValue(disabled))
		return c.record(ctx, tx, p.ID, OpCancel, fmt.Sprintf("partner %d", p.ID), cl)
	})
}

// CancelPreview tells what Cancel would hit now: the customers, their
// allocations that would expire, the licences and the enabled accounts
// that would lose access. It changes nothing. For a partner that may not
// be canceled it returns the guard's error.
func (m *Manager) CancelPreview(ctx context.Context, id int64) (CancelImpact, error) {
	var im CancelImpact
	err := m.read(ctx, func(ctx context.Context, r Reader) error {
		p, err := m.partnerAt(ctx, r, id)
		if err != nil {
			return err
		}
		if err := Check(p.Status, p.Type, OpCancel); err != nil {
			return err
		}
		im.Partner = p
		if im.Customers, _, err = r.Customers(ctx, id, CustomerFilter{}); err != nil {
			return err
		}
		lics, total, err := r.Licenses(ctx, id, Page{})
		if err != nil {
			return err
		}
		im.Licenses = total
		at := m.Now()
		for _, l := range lics {
			switch {
			case l.Start.Before(at) && l.Expiry.After(at):
				im.LicensesExpiring++
			case !l.Start.Before(at) && !l.Disabled:
				im.LicensesNotStarted++
			}
		}
		allocs, err := r.Allocations(ctx, AllocationFilter{PartnerID: id})
		if err != nil {
			return err
		}
		im.Allocations = allocationViews(allocs, lics, im.Customers)
		im.ByCustomer = byCustomer(im.Customers, im.Allocations)
		accts, _, err := r.Accounts(ctx, id, Page{})
		if err != nil {
			return err
		}
		for _, a := range accts {
			if a.Enabled {
				im.Accounts = append(im.Accounts, a)
			}
		}
		return nil
	})
	return im, err
}

// byCustomer groups allocations by customer, in customer order; customers
// without allocations are left out.
func byCustomer(custs []Customer, views []AllocationView) []CustomerImpact {
	at := map[int64][]AllocationView{}
	for _, v := range views {
		at[v.CustomerID] = append(at[v.CustomerID], v)
	}
	var out []CustomerImpact
	for _, c := range custs {
		vs := at[c.ID]
		if len(vs) == 0 {
			continue
		}
		ci := CustomerImpact{Customer: c, Allocations: vs}
		for _, v := range vs {
			ci.Units += v.Units
		}
		out = append(out, ci)
	}
	return out
}

func allocationViews(allocs []license.Allocation, lics []license.License, custs []Customer) []AllocationView {
	lm := make(map[int64]license.License, len(lics))
	for _, l := range lics {
		lm[l.ID] = l
	}
	cm := make(map[int64]string, len(custs))
	for _, c := range custs {
		cm[c.ID] = c.Name
	}
	out := make([]AllocationView, len(allocs))
	for i, a := range allocs {
		l := lm[a.LicenseID]
		out[i] = AllocationView{ID: a.ID, LicenseID: a.LicenseID, CustomerID: a.CustomerID,
			CustomerName: cm[a.CustomerID], Product: l.Product, UnitType: l.UnitType, Units: a.Units}
	}
	return out
}

// Audit returns one page of the partner's audit trail, newest first, and
// the number of entries. Partner id 0 lists changes to the catalogues
// (service plans and products).
func (m *Manager) Audit(ctx context.Context, partnerID int64, pg Page) ([]AuditEntry, int, error) {
	var (
		out   []AuditEntry
		total int
	)
	err := m.read(ctx, func(ctx context.Context, r Reader) (err error) {
		if pg, err = pg.normalize(); err != nil {
			return err
		}
		if partnerID != 0 {
			if _, err := r.PartnerRecord(ctx, partnerID); err != nil {
				return err
			}
		}
		out, total, err = r.Audit(ctx, partnerID, pg)
		return err
	})
	return out, total, err
}
