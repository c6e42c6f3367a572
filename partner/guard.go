package partner

import "slices"

// Operation names a change the Manager can make. Partner-scoped operations
// are governed by the guard table; the others (creating partners, the plan
// catalogue) name the operation in errors and audit entries only.
type Operation string

// Partner-scoped operations, grouped by the tab of the partner screen.
const (
	// Profile tab.
	OpUpdateProfile Operation = "update_profile"
	OpSuspend       Operation = "suspend"
	OpReactivate    Operation = "reactivate"
	OpCancel        Operation = "cancel"
	// Licenses tab.
	OpSetPoolRefill      Operation = "set_pool_refill"
	OpSetMinimumLicenses Operation = "set_minimum_licenses"
	OpSetPoolSettings    Operation = "set_pool_settings"
	OpAssignLicenses     Operation = "assign_licenses"
	OpDisableLicenses    Operation = "disable_licenses"
	OpEnableLicenses     Operation = "enable_licenses"
	OpExtendLicense      Operation = "extend_license"
	OpAddUnits           Operation = "add_units"
	OpReduceUnits        Operation = "reduce_units"
	OpConvertToFull      Operation = "convert_to_full"
	// OpRefillPool is the partner's own License pool refill (RefillPool).
	OpRefillPool Operation = "refill_pool"
	// Management Licenses tab.
	OpEnableRemoteManager  Operation = "enable_remote_manager"
	OpDisableRemoteManager Operation = "disable_remote_manager"
	// Service Plans tab.
	OpAssignPlan Operation = "assign_service_plan"
	OpRemovePlan Operation = "remove_service_plan"
	// Accounts tab.
	OpAddAccount     Operation = "add_account"
	OpChangeRole     Operation = "change_account_role"
	OpEnableAccount  Operation = "enable_account"
	OpDisableAccount Operation = "disable_account"
	OpResetPassword  Operation = "reset_password"
	OpDeleteAccount  Operation = "delete_account"
	// Customers (shown in the banner; managed by the partner's own tools).
	OpAddCustomer   Operation = "add_customer"
	OpAllocateUnits Operation = "allocate_units"
	OpReleaseUnits  Operation = "release_units"
)

// Operations that the guard table does not govern.
const (
	OpCreatePartner Operation = "create_partner"
	OpCreatePlan    Operation = "create_service_plan"
	OpUpdatePlan    Operation = "update_service_plan"
	OpCreateProduct Operation = "create_product"
	OpUpdateProduct Operation = "update_product"
	// OpAutoRefill is the audit action of a licence issued by a pool's
	// automatic refill, within the allocation that triggered it.
	OpAutoRefill Operation = "auto_refill"
	// OpSweep names the expiry notices of Manager.Sweep.
	OpSweep Operation = "sweep"
	// OpBulk names Manager.Bulk and BulkPreview in errors; OpBulkStart
	// and OpBulkFinish are the audit actions of a bulk run's start and
	// finish, under partner id 0. Each partner's change is audited as its
	// own operation.
	OpBulk       Operation = "bulk"
	OpBulkStart  Operation = "bulk_run_started"
	OpBulkFinish Operation = "bulk_run_finished"
	OpRead       Operation = "read"
)

// Tab is a tab of the partner screen.
type Tab string

// The tabs of the partner screen, plus the customers area.
const (
	TabLicenses           Tab = "licenses"
	TabManagementLicenses Tab = "management-licenses"
	TabServicePlans       Tab = "service-plans"
	TabAccounts           Tab = "accounts"
	TabProfile            Tab = "profile"
	TabCustomers          Tab = "customers"
)

// Label is the seed's label of the tab ("Management Licenses").
func (t Tab) Label() string {
	switch t {
	case TabLicenses:
		return "Licenses"
	case TabManagementLicenses:
		return "Management Licenses"
	case TabServicePlans:
		return "Service Plans"
	case TabAccounts:
		return "Accounts"
	case TabProfile:
		return "Profile"
	case TabCustomers:
		return "Customers"
	}
	return string(t)
}

type statusSet uint8

const (
	onActive statusSet = 1 << iota
	onSuspended
	// No bit for Canceled: nothing is ever allowed on a canceled partner.
)

// rule is one row of the guard table.
type rule struct {
	tab      Tab
	types    []Type    // the partner types the operation exists for
	statuses statusSet // the statuses in which it may happen
	label    string    // the console's name of the action
}

var both = []Type{MSP, Reseller}

// guards is the guard table: status × partner type × operation. It is the
// only place these rules are written; the Manager and any user interface
// read it through Check and TabAvailable.
var guards = map[Operation]rule{
	OpUpdateProfile: {TabProfile, both, onActive | onSuspended, "Edit profile"},
	OpSuspend:       {TabProfile, both, onActive, "Suspend"},
	OpReactivate:    {TabProfile, both, onSuspended, "Reactivate"},
	OpCancel:        {TabProfile, both, onActive | onSuspended, "Cancel"},

	OpSetPoolRefill:      {TabLicenses, both, onActive, "License pool refill"},
	OpSetMinimumLicenses: {TabLicenses, both, onActive, "Minimum licenses"},
	OpSetPoolSettings:    {TabLicenses, both, onActive, "Pool settings"},
	OpAssignLicenses:     {TabLicenses, both, onActive, "Assign Licenses"},
	OpDisableLicenses:    {TabLicenses, []Type{MSP}, onActive, "Disable Licenses"},
	OpEnableLicenses:     {TabLicenses, []Type{MSP}, onActive, "Enable Licenses"},
	OpExtendLicense:      {TabLicenses, both, onActive, "Extend"},
	OpAddUnits:           {TabLicenses, both, onActive, "Add Units"},
	OpReduceUnits:        {TabLicenses, both, onActive, "Reduce Units"},
	OpConvertToFull:      {TabLicenses, both, onActive, "Convert to Full"},
	OpRefillPool:         {TabLicenses, both, onActive, "Refill pool"},

	OpEnableRemoteManager:  {TabManagementLicenses, []Type{MSP}, onActive, "Enable Remote Manager"},
	OpDisableRemoteManager: {TabManagementLicenses, []Type{MSP}, onActive, "Disable Remote Manager"},

	OpAssignPlan: {TabServicePlans, []Type{Reseller}, onActive, "Assign Service Plan"},
	OpRemovePlan: {TabServicePlans, []Type{Reseller}, onActive, "Remove Service Plan"},

	OpAddAccount:     {TabAccounts, both, onActive, "Add account"},
	OpChangeRole:     {TabAccounts, both, onActive, "Change role"},
	OpEnableAccount:  {TabAccounts, both, onActive, "Enable account"},
	OpDisableAccount: {TabAccounts, both, onActive, "Disable account"},
	OpResetPassword:  {TabAccounts, both, onActive, "Reset password"},
	OpDeleteAccount:  {TabAccounts, both, onActive, "Delete account"},

	OpAddCustomer:   {TabCustomers, both, onActive, "Add customer"},
	OpAllocateUnits: {TabCustomers, both, onActive, "Allocate units"},
	OpReleaseUnits:  {TabCustomers, both, onActive, "Release units"},
}

// tabTypes says which partner types see each tab.
var tabTypes = map[Tab][]Type{
	TabLicenses:           both,
	TabManagementLicenses: {MSP},
	TabServicePlans:       {Reseller},
	TabAccounts:           both,
	TabProfile:            both,
	TabCustomers:          both,
}

// Operations lists every partner-scoped operation, in tab order.
func Operations() []Operation {
	ops := make([]Operation, 0, len(guards))
	for op := range guards {
		ops = append(ops, op)
	}
	order := map[Tab]int{TabLicenses: 0, TabCustomers: 1, TabManagementLicenses: 2, TabServicePlans: 3, TabAccounts: 4, TabProfile: 5}
	slices.SortFunc(ops, func(a, b Operation) int {
		if d := order[guards[a].tab] - order[guards[b].tab]; d != 0 {
			return d
		}
		if a < b {
			return -1
		}
		if a > b {
			return 1
		}
		return 0
	})
	return ops
}

// Tabs lists the tabs of the partner screen for a partner type, in screen
// order; a tab that does not apply to the type is left out. Customers, the
// partner's customers and their units (the banner's count made visible),
// follows Licenses.
func Tabs(t Type) []Tab {
	var tabs []Tab
	for _, tab := range []Tab{TabLicenses, TabCustomers, TabManagementLicenses, TabServicePlans, TabAccounts, TabProfile} {
		if TabAvailable(t, tab) {
			tabs = append(tabs, tab)
		}
	}
	return tabs
}

// TabAvailable reports whether the tab exists for the partner type
// (Management Licenses for MSPs, Service Plans for Resellers).
func TabAvailable(t Type, tab Tab) bool { return slices.Contains(tabTypes[tab], t) }

// Applies reports whether op exists at all for a partner type, whatever
// the status (Disable Licenses applies to MSPs only): a screen shows the
// control when it applies and enables it when Check allows it.
func Applies(t Type, op Operation) bool {
	r, ok := guards[op]
	return ok && slices.Contains(r.types, t)
}

// OperationTab returns the tab an operation belongs to.
func OperationTab(op Operation) Tab { return guards[op].tab }

// otherLabels names the operations outside the guard table.
var otherLabels = map[Operation]string{
	OpCreatePartner: "Create Partner", OpCreatePlan: "Create service plan", OpUpdatePlan: "Edit service plan",
	OpCreateProduct: "Create product", OpUpdateProduct: "Edit product", OpAutoRefill: "Automatic pool refill",
	OpSweep: "Expiry notices", OpRead: "View",
	OpBulk: "Bulk change", OpBulkStart: "Bulk change started", OpBulkFinish: "Bulk change finished",
}

// OperationLabel returns the console's name of an operation.
func OperationLabel(op Operation) string {
	if r, ok := guards[op]; ok {
		return r.label
	}
	if l, ok := otherLabels[op]; ok {
		return l
	}
	return string(op)
}

// Check answers whether op may happen to a partner of the given status
// and type. It returns nil, or an *Error whose Kind says why and whose
// Reason a screen can show beside a disabled control:
//
//   - ErrCanceled on a Canceled partner, whatever the operation;
//   - ErrWrongType when the operation is not for this partner type;
//   - ErrSuspended on a Suspended partner outside the Profile tab;
//   - ErrTransition for a status change the current status does not
//     allow (suspending a Suspended partner, reactivating an Active one);
//   - ErrInvalid for an operation the table does not know.
func Check(s Status, t Type, op Operation) error {
	r, ok := guards[op]
	if !ok {
		return &Error{Op: op, Kind: ErrInvalid, Field: "operation", Reason: "is not a partner operation"}
	}
	fail := func(kind error, format string, args ...any) error {
		e := NewError(kind, "", format, args...)
		e.Op = op
		return e
	}
	switch {
	case s == Canceled:
		return fail(ErrCanceled, "the partnership is canceled: nothing can be changed")
	case !slices.Contains(r.types, t):
		return fail(ErrWrongType, "%s is for %s partners only", r.label, r.types[0].Label())
	case s == Active && r.statuses&onActive != 0, s == Suspended && r.statuses&onSuspended != 0:
		return nil
	case s == Suspended && r.tab != TabProfile:
		return fail(ErrSuspended, "the partnership is suspended: only the Profile can be changed")
	case s == Suspended:
		return fail(ErrTransition, "the partnership is already suspended")
	case s == Active:
		return fail(ErrTransition, "the partnership is already active")
	}
	return fail(ErrInvalid, "unknown partner status %q", s)
}

// Allowed reports whether op may happen to p; see Check.
func (p Partner) Allowed(op Operation) error { return Check(p.Status, p.Type, op) }
