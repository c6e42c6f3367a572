package bunstore

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/serviceplan"
)

// Rows are the tables' shapes; the domain types stay free of storage tags.

type partnerRow struct {
	bun.BaseModel `bun:"table:partnerkit_partners,alias:p"`

	ID              int64     `bun:"id,pk,autoincrement"`
	Type            string    `bun:"type"`
	Status          string    `bun:"status"`
	CompanyName     string    `bun:"company_name"`
	CompanyKey      string    `bun:"company_key"`
	NameSort        string    `bun:"name_sort"`
	City            string    `bun:"city"`
	State           string    `bun:"state"`
	Country         string    `bun:"country"`
	Contacts        string    `bun:"contacts"`
	SignInURL       string    `bun:"sign_in_url"`
	PoolRefill      bool      `bun:"pool_refill"`
	MinimumLicenses int64     `bun:"minimum_licenses"`
	RemoteManager   string    `bun:"remote_manager"`
	Version         int64     `bun:"version"`
	CreatedAt       time.Time `bun:"created_at"`
	UpdatedAt       time.Time `bun:"updated_at"`
	CanceledAt      time.Time `bun:"canceled_at,nullzero"`

	Customers        int   `bun:"customers,scanonly"`
	UnitsProvisioned int64 `bun:"units_provisioned,scanonly"`
	UnitsUsed        int64 `bun:"units_used,scanonly"`
	LowStockPools    int   `bun:"low_stock_pools,scanonly"`
	ExpiringLicenses int   `bun:"expiring_licenses,scanonly"`
	ExpiredLicenses  int   `bun:"expired_licenses,scanonly"`
}

func toPartnerRow(p *partner.Partner) (*partnerRow, error) {
	contacts := p.Profile.Contacts
	if contacts == nil {
		contacts = []partner.Contact{}
	}
	js, err := json.Marshal(contacts)
	if err != nil {
		return nil, err
	}
	dcs := make([]string, len(p.RemoteManager))
	for i, d := range p.RemoteManager {
		dcs[i] = string(d)
	}
	return &partnerRow{ID: p.ID, Type: string(p.Type), Status: string(p.Status), CompanyName: p.Profile.CompanyName,
		CompanyKey: partner.FoldName(p.Profile.CompanyName), NameSort: partner.NameSortKey(p.Profile.CompanyName),
		City: p.Profile.City, State: p.Profile.State,
		Country: p.Profile.Country, Contacts: string(js), SignInURL: p.Profile.SignInURL, PoolRefill: p.PoolRefill,
		MinimumLicenses: p.MinimumLicenses, RemoteManager: strings.Join(dcs, ","), Version: p.Version,
		CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC(), CanceledAt: p.CanceledAt.UTC()}, nil
}

func (r *partnerRow) toPartner() (partner.Partner, error) {
	var contacts []partner.Contact
	if err := json.Unmarshal([]byte(r.Contacts), &contacts); err != nil {
		return partner.Partner{}, err
	}
	if len(contacts) == 0 {
		contacts = nil
	}
	var dcs []partner.DataCenter
	if r.RemoteManager != "" {
		for _, d := range strings.Split(r.RemoteManager, ",") {
			dcs = append(dcs, partner.DataCenter(d))
		}
	}
	return partner.Partner{ID: r.ID, Type: partner.Type(r.Type), Status: partner.Status(r.Status),
		Profile: partner.Profile{CompanyName: r.CompanyName, City: r.City, State: r.State, Country: r.Country,
			Contacts: contacts, SignInURL: r.SignInURL},
		PoolRefill: r.PoolRefill, MinimumLicenses: r.MinimumLicenses, RemoteManager: dcs, Version: r.Version,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(), CanceledAt: utc(r.CanceledAt),
		Customers: r.Customers, UnitsProvisioned: r.UnitsProvisioned, UnitsUsed: r.UnitsUsed,
		LowStockPools: r.LowStockPools, ExpiringLicenses: r.ExpiringLicenses, ExpiredLicenses: r.ExpiredLicenses}, nil
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

type licenseRow struct {
	bun.BaseModel `bun:"table:partnerkit_licenses,alias:l"`

	ID         int64     `bun:"id,pk,autoincrement"`
	PartnerID  int64     `bun:"partner_id"`
	ProductID  int64     `bun:"product_id"`
	Product    string    `bun:"product"`
	UnitType   string    `bun:"unit_type"`
	Kind       string    `bun:"kind"`
	Units      int64     `bun:"units"`
	Used       int64     `bun:"used"`
	StartAt    time.Time `bun:"start_at"`
	ExpiryAt   time.Time `bun:"expiry_at"`
	Disabled   bool      `bun:"disabled"`
	DisabledAt time.Time `bun:"disabled_at,nullzero"`
	GrantKey   string    `bun:"grant_key"`
	GrantedU   int64     `bun:"granted_units"`
	GrantedExp time.Time `bun:"granted_expiry_at"`
	GrantedK   string    `bun:"granted_kind"`
	Origin     string    `bun:"origin"`
	Version    int64     `bun:"version"`
	CreatedAt  time.Time `bun:"created_at"`
	UpdatedAt  time.Time `bun:"updated_at"`
}

func toLicenseRow(l *license.License) *licenseRow {
	origin, granted := l.Origin, l.GrantedKind
	if origin == "" {
		origin = license.OriginAssigned
	}
	if granted == "" {
		granted = l.Kind
	}
	return &licenseRow{ID: l.ID, PartnerID: l.PartnerID, ProductID: l.ProductID, Product: l.Product, UnitType: l.UnitType, Kind: string(l.Kind),
		Units: l.Units, Used: l.Used, StartAt: l.Start.UTC(), ExpiryAt: l.Expiry.UTC(), Disabled: l.Disabled, DisabledAt: l.DisabledAt.UTC(),
		GrantKey: l.GrantKey, GrantedU: l.GrantedUnits, GrantedExp: l.GrantedExpiry.UTC(), GrantedK: string(granted),
		Origin: string(origin), Version: l.Version, CreatedAt: l.CreatedAt.UTC(), UpdatedAt: l.UpdatedAt.UTC()}
}

func (r *licenseRow) toLicense() license.License {
	return license.License{ID: r.ID, PartnerID: r.PartnerID, ProductID: r.ProductID, Product: r.Product, UnitType: r.UnitType,
		Kind: license.Kind(r.Kind), Units: r.Units, Used: r.Used, Start: r.StartAt.UTC(), Expiry: r.ExpiryAt.UTC(),
		Disabled: r.Disabled, DisabledAt: utc(r.DisabledAt), GrantKey: r.GrantKey, GrantedUnits: r.GrantedU,
		GrantedExpiry: r.GrantedExp.UTC(), GrantedKind: license.Kind(r.GrantedK), Origin: license.Origin(r.Origin),
		Version: r.Version, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

type accountRow struct {
	bun.BaseModel `bun:"table:partnerkit_accounts,alias:a"`

	ID              int64     `bun:"id,pk,autoincrement"`
	PartnerID       int64     `bun:"partner_id"`
	Name            string    `bun:"name"`
	FirstName       string    `bun:"first_name"`
	LastName        string    `bun:"last_name"`
	Email           string    `bun:"email"`
	Role            string    `bun:"role"`
	Enabled         bool      `bun:"enabled"`
	PasswordResetAt time.Time `bun:"password_reset_at,nullzero"`
	Version         int64     `bun:"version"`
	CreatedAt       time.Time `bun:"created_at"`
	UpdatedAt       time.Time `bun:"updated_at"`
}

func toAccountRow(a *account.Account) *accountRow {
	return &accountRow{ID: a.ID, PartnerID: a.PartnerID, Name: a.Name, FirstName: a.FirstName, LastName: a.LastName,
		Email: a.Email, Role: string(a.Role), Enabled: a.Enabled, PasswordResetAt: a.PasswordResetAt.UTC(), Version: a.Version,
		CreatedAt: a.CreatedAt.UTC(), UpdatedAt: a.UpdatedAt.UTC()}
}

func (r *accountRow) toAccount() account.Account {
	return account.Account{ID: r.ID, PartnerID: r.PartnerID, Name: r.Name, FirstName: r.FirstName, LastName: r.LastName,
		Email: r.Email, Role: account.Role(r.Role), Enabled: r.Enabled, PasswordResetAt: utc(r.PasswordResetAt),
		Version: r.Version, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

type planRow struct {
	bun.BaseModel `bun:"table:partnerkit_plans,alias:sp"`

	ID                  int64     `bun:"id,pk,autoincrement"`
	Name                string    `bun:"name"`
	NameKey             string    `bun:"name_key"`
	Enabled             bool      `bun:"enabled"`
	Product             string    `bun:"product"`
	Kind                string    `bun:"kind"`
	UnitType            string    `bun:"unit_type"`
	NFR                 bool      `bun:"nfr"`
	DataCenter          string    `bun:"data_center"`
	InitialPeriodMonths int       `bun:"initial_period_months"`
	AutoRenew           bool      `bun:"auto_renew"`
	ExpiryNoticeDays    int       `bun:"expiry_notice_days"`
	Version             int64     `bun:"version"`
	CreatedAt           time.Time `bun:"created_at"`
	UpdatedAt           time.Time `bun:"updated_at"`

	AssignedAt time.Time `bun:"assigned_at,scanonly"`
}

func toPlanRow(p *serviceplan.Plan) *planRow {
	return &planRow{ID: p.ID, Name: p.Name, NameKey: partner.FoldName(p.Name), Enabled: p.Enabled, Product: p.Product,
		Kind: string(p.Kind), UnitType: p.UnitType, NFR: p.NFR, DataCenter: string(p.DataCenter),
		InitialPeriodMonths: p.InitialPeriodMonths, AutoRenew: p.AutoRenew, ExpiryNoticeDays: p.ExpiryNoticeDays,
		Version: p.Version, CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC()}
}

func (r *planRow) toPlan() serviceplan.Plan {
	return serviceplan.Plan{ID: r.ID, Name: r.Name, Enabled: r.Enabled, Product: r.Product, Kind: serviceplan.Kind(r.Kind),
		UnitType: r.UnitType, NFR: r.NFR, DataCenter: serviceplan.DataCenter(r.DataCenter),
		InitialPeriodMonths: r.InitialPeriodMonths, AutoRenew: r.AutoRenew, ExpiryNoticeDays: r.ExpiryNoticeDays,
		Version: r.Version, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

type assignmentRow struct {
	bun.BaseModel `bun:"table:partnerkit_plan_assignments,alias:pa"`

	PartnerID  int64     `bun:"partner_id,pk"`
	PlanID     int64     `bun:"plan_id,pk"`
	AssignedAt time.Time `bun:"assigned_at"`
}

type customerRow struct {
	bun.BaseModel `bun:"table:partnerkit_customers,alias:c"`

	ID        int64     `bun:"id,pk,autoincrement"`
	PartnerID int64     `bun:"partner_id"`
	Name      string    `bun:"name"`
	NameKey   string    `bun:"name_key"`
	Email     string    `bun:"email"`
	CreatedAt time.Time `bun:"created_at"`
}

func (r *customerRow) toCustomer() partner.Customer {
	return partner.Customer{ID: r.ID, PartnerID: r.PartnerID, Name: r.Name, Email: r.Email, CreatedAt: r.CreatedAt.UTC()}
}

type allocationRow struct {
	bun.BaseModel `bun:"table:partnerkit_allocations,alias:al"`

	ID         int64     `bun:"id,pk,autoincrement"`
	LicenseID  int64     `bun:"license_id"`
	PartnerID  int64     `bun:"partner_id"`
	CustomerID int64     `bun:"customer_id"`
	Units      int64     `bun:"units"`
	CreatedAt  time.Time `bun:"created_at"`
}

func (r *allocationRow) toAllocation() license.Allocation {
	return license.Allocation{ID: r.ID, LicenseID: r.LicenseID, PartnerID: r.PartnerID, CustomerID: r.CustomerID,
		Units: r.Units, CreatedAt: r.CreatedAt.UTC()}
}

type auditRow struct {
	bun.BaseModel `bun:"table:partnerkit_audit,alias:au"`

	ID        int64     `bun:"id,pk,autoincrement"`
	PartnerID int64     `bun:"partner_id,nullzero"`
	Actor     string    `bun:"actor"`
	Action    string    `bun:"action"`
	Target    string    `bun:"target"`
	Changes   string    `bun:"changes"` // the JSON encoding of the entry's []partner.Change
	At        time.Time `bun:"at"`
}

func toAuditRow(e *partner.AuditEntry) (*auditRow, error) {
	js := []byte("[]")
	if len(e.Changes) > 0 {
		var err error
		if js, err = json.Marshal(e.Changes); err != nil {
			return nil, partner.NewError(partner.ErrInvalid, "changes", "an audit change's value is not valid JSON: %v", err)
		}
	}
	return &auditRow{PartnerID: e.PartnerID, Actor: e.Actor, Action: string(e.Action), Target: e.Target,
		Changes: string(js), At: e.At.UTC()}, nil
}

func (r *auditRow) toEntry() (partner.AuditEntry, error) {
	e := partner.AuditEntry{ID: r.ID, PartnerID: r.PartnerID, Actor: r.Actor, Action: partner.Operation(r.Action),
		Target: r.Target, At: r.At.UTC()}
	if err := json.Unmarshal([]byte(r.Changes), &e.Changes); err != nil {
		return e, fmt.Errorf("bunstore: audit entry %d: its changes are not the JSON of a list of changes: %w", r.ID, err)
	}
	if len(e.Changes) == 0 {
		e.Changes = nil
	}
	return e, nil
}

func auditEntries(rows []auditRow) ([]partner.AuditEntry, error) {
	out := make([]partner.AuditEntry, len(rows))
	for i := range rows {
		var err error
		if out[i], err = rows[i].toEntry(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

type productRow struct {
	bun.BaseModel `bun:"table:partnerkit_products,alias:pr"`

	ID           int64     `bun:"id,pk,autoincrement"`
	Name         string    `bun:"name"`
	NameKey      string    `bun:"name_key"`
	UnitType     string    `bun:"unit_type"`
	TrialOffered bool      `bun:"trial_offered"`
	TrialDays    int       `bun:"trial_days"`
	Version      int64     `bun:"version"`
	CreatedAt    time.Time `bun:"created_at"`
	UpdatedAt    time.Time `bun:"updated_at"`
}

func toProductRow(p *license.Product) *productRow {
	return &productRow{ID: p.ID, Name: p.Name, NameKey: partner.FoldName(p.Name), UnitType: p.UnitType,
		TrialOffered: p.TrialOffered, TrialDays: p.TrialDays, Version: p.Version, CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC()}
}

func (r *productRow) toProduct() license.Product {
	return license.Product{ID: r.ID, Name: r.Name, UnitType: r.UnitType, TrialOffered: r.TrialOffered, TrialDays: r.TrialDays,
		Version: r.Version, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

type poolSettingsRow struct {
	bun.BaseModel `bun:"table:partnerkit_pool_settings,alias:ps"`

	PartnerID  int64     `bun:"partner_id,pk"`
	Product    string    `bun:"product,pk"`
	UnitType   string    `bun:"unit_type,pk"`
	ProductID  int64     `bun:"product_id"`
	Minimum    *int64    `bun:"minimum"`
	Cap        int64     `bun:"cap"`
	AutoRefill bool      `bun:"auto_refill"`
	UpdatedAt  time.Time `bun:"updated_at"`
}

func toPoolSettingsRow(s *partner.PoolSettings) *poolSettingsRow {
	r := &poolSettingsRow{PartnerID: s.PartnerID, Product: s.Product, UnitType: s.UnitType, ProductID: s.ProductID,
		Cap: s.Cap, AutoRefill: s.AutoRefill, UpdatedAt: s.UpdatedAt.UTC()}
	if s.MinimumSet {
		m := s.Minimum
		r.Minimum = &m
	}
	return r
}

func (r *poolSettingsRow) toSettings() partner.PoolSettings {
	s := partner.PoolSettings{PartnerID: r.PartnerID, Product: r.Product, UnitType: r.UnitType, ProductID: r.ProductID,
		Cap: r.Cap, AutoRefill: r.AutoRefill, UpdatedAt: r.UpdatedAt.UTC()}
	if r.Minimum != nil {
		s.Minimum, s.MinimumSet = *r.Minimum, true
	}
	return s
}

type noticeRow struct {
	bun.BaseModel `bun:"table:partnerkit_license_notices,alias:n"`

	LicenseID int64     `bun:"license_id,pk"`
	ExpiryAt  time.Time `bun:"expiry_at,pk"`
	Days      int       `bun:"days,pk"`
	PartnerID int64     `bun:"partner_id"`
	Skipped   bool      `bun:"skipped"`
	At        time.Time `bun:"at"`
}

func (r *noticeRow) toNotice() partner.Notice {
	return partner.Notice{LicenseID: r.LicenseID, PartnerID: r.PartnerID, Days: r.Days, Expiry: r.ExpiryAt.UTC(),
		Skipped: r.Skipped, At: r.At.UTC()}
}
