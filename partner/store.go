package partner

import (
	"context"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/serviceplan"
)

// Store is the storage contract. Adapters (memstore, bunstore) implement
// it; partner/storetest checks that they do, and the Manager relies on
// nothing else. All business rules live in the Manager: a store keeps
// records, enforces uniqueness and versions, and makes transactions.
type Store interface {
	// Update runs fn in a read-write transaction. The changes fn made are
	// committed when it returns nil and discarded, every one, when it
	// returns an error or panics (the panic is re-raised after the
	// rollback). Update never returns nil for changes it did not commit.
	// The Tx must not be used after fn returns. A store may run fn again
	// after a transient failure (busy database, serialization failure),
	// so fn must have no effects outside tx that cannot repeat; when the
	// store gives up on such failures it returns an error wrapping ErrBusy.
	Update(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// View runs fn against a consistent read-only view; it gives up on a
	// busy store as Update does.
	View(ctx context.Context, fn func(ctx context.Context, r Reader) error) error
}

// AssignedPlan is a service plan assigned to a Reseller.
type AssignedPlan struct {
	serviceplan.Plan
	AssignedAt time.Time
}

// AllocationFilter selects allocations; zero fields match everything, but
// at least one of PartnerID, LicenseID and CustomerID is set.
type AllocationFilter struct {
	PartnerID  int64
	LicenseID  int64
	CustomerID int64
}

// Reader reads records. Every getter returns an error wrapping ErrNotFound
// when no record has the id. Lists are ordered by ascending id unless
// said otherwise; paged lists also return the total number of matches,
// and a Page whose Limit is 0 returns every row.
type Reader interface {
	OutboxReader // the outbox: see the block at the end of this file

	// Partner returns the partner with its derived fields Customers,
	// UnitsProvisioned and UnitsUsed computed at read time. Its licence
	// figures (LowStockPools, ExpiringLicenses, ExpiredLicenses) stay
	// zero: they need an instant, which Partners takes.
	Partner(ctx context.Context, id int64) (Partner, error)
	// PartnerRecord returns the partner's stored fields, as LockPartner
	// does but without locking: its derived fields stay zero, and it reads
	// the partner's row alone, whatever the partner holds. The Manager
	// calls it to check that a partner exists before reading its lists.
	PartnerRecord(ctx context.Context, id int64) (Partner, error)
	// Partners returns one page of the partners matching f, in f's order,
	// with every derived field, and the number of matches. Its licence
	// figures are computed at at.Now, for the page's partners at once
	// (a store must not read partner by partner):
	//   - LowStockPools counts the partner's pools — a product and unit
	//     type with a usable licence (not disabled, start <= Now < expiry)
	//     or with pool settings — whose minimum (the settings' minimum when
	//     set, else the partner's MinimumLicenses) is above their remaining
	//     units (the usable licences' units minus used units), as Pools
	//     marks them Low;
	//   - ExpiringLicenses counts the licences not disabled with
	//     Now < expiry < Now + at.Window, ExpiredLicenses those not
	//     disabled with expiry <= Now (license.License.StateAt).
	// f.Name matches case-insensitively (FoldName on both sides) as a
	// substring of the company name; f.ProductID selects the partners
	// with a licence of that product (license.License.ProductID);
	// f.Attention those with LowStockPools (AttentionLowStock) or
	// ExpiringLicenses (AttentionExpiring) above 0, either when both are
	// set; f.IDs, when not empty, those partners only. The order, with
	// its ties, is SortBy's: SortName by NameSortKey of the company name
	// byte by byte, SortType by the type's code, SortStatus Active,
	// Suspended, Canceled, SortCustomers by Customers, SortUsage by
	// UnitsUsed × 1,000,000 ÷ UnitsProvisioned in integers (0 without
	// provisioned units), SortCreated by CreatedAt; then, but for SortID
	// and SortName, by name key ascending; then by id ascending (f.Desc
	// reverses the first key alone; for SortID, the id). The Manager has
	// validated f and normalized its page; it passes IDs sorted, without
	// duplicates.
	Partners(ctx context.Context, f Filter, at AsOf) ([]Partner, int, error)
	// PartnersAfter returns, in f's order, at most limit partners matching
	// f as Partners does that come after the partner after in that order
	// (nil: from the first), ignoring f.Page: the keyset pages of an
	// export. The position of after is taken from its fields as given —
	// its id, name, type, status, creation instant and the derived
	// figure f.Sort orders by — so a partner changed since keeps its
	// place in the walk. It reads no more than the page's rows beyond
	// what the order itself needs. limit is at least 1.
	PartnersAfter(ctx context.Context, f Filter, at AsOf, after *Partner, limit int) ([]Partner, error)

	License(ctx context.Context, id int64) (license.License, error)
	Licenses(ctx context.Context, partnerID int64, p Page) ([]license.License, int, error)
	// Pools returns the partner's licences usable at now (not disabled,
	// start <= now < expiry) summed by pool, a product and unit type: for
	// each pool its Product, UnitType, ProductID (the largest of its
	// licences' product ids: 0 when all are uncatalogued), Units and Used,
	// the other fields zero, in the order of each pool's lowest licence
	// id. A partner without usable licences (or no such partner) has none.
	// A SQL store sums in its database (GROUP BY) and returns the sums
	// only, not the licences.
	Pools(ctx context.Context, partnerID int64, now time.Time) ([]Pool, error)
	// LicensesByGrantKey returns the licences created by the assignment
	// with that idempotency key for the partner (none: empty, no error).
	LicensesByGrantKey(ctx context.Context, partnerID int64, key string) ([]license.License, error)

	Account(ctx context.Context, id int64) (account.Account, error)
	// AccountByName finds an account by its (lower-case) name.
	AccountByName(ctx context.Context, name string) (account.Account, error)
	// Accounts returns one page of the partner's console accounts, by
	// ascending id, and the number of the partner's accounts.
	Accounts(ctx context.Context, partnerID int64, p Page) ([]account.Account, int, error)

	Plan(ctx context.Context, id int64) (serviceplan.Plan, error)
	Plans(ctx context.Context) ([]serviceplan.Plan, error)
	// AssignedPlans lists the plans assigned to a partner, by plan id.
	AssignedPlans(ctx context.Context, partnerID int64) ([]AssignedPlan, error)

	Product(ctx context.Context, id int64) (license.Product, error)
	// ProductByName finds the catalogue product whose name folds
	// (FoldName) to the same text as name; ErrNotFound when none does.
	ProductByName(ctx context.Context, name string) (license.Product, error)
	// Products returns one page of the product catalogue ordered by name
	// with letter case folded (FoldName, compared byte by byte), then by
	// id, and the size of the catalogue.
	Products(ctx context.Context, p Page) ([]license.Product, int, error)

	// PoolSettings lists the partner's pool settings, ordered by product
	// then unit type, byte by byte.
	PoolSettings(ctx context.Context, partnerID int64) ([]PoolSettings, error)

	Customer(ctx context.Context, id int64) (Customer, error)
	// Customers returns one page of the partner's customers matching f,
	// and the number of matches. f.Name matches case-insensitively
	// (FoldName on both sides) as a substring of the customer's name; the
	// Manager has already normalized the page.
	Customers(ctx context.Context, partnerID int64, f CustomerFilter) ([]Customer, int, error)

	Allocation(ctx context.Context, id int64) (license.Allocation, error)
	Allocations(ctx context.Context, f AllocationFilter) ([]license.Allocation, error)

	// Audit returns one page of a partner's audit trail, newest first.
	Audit(ctx context.Context, partnerID int64, p Page) ([]AuditEntry, int, error)
	// AuditLog returns one page of the audit entries of every partner and
	// of none that match f, newest first (by descending id), and the
	// number of matches: f.PartnerID, when not 0, selects one partner's
	// entries; f.Global those of partner id 0; f.Actor and f.Action match
	// exactly; f.From <= At < f.To, a zero bound being open. The Manager
	// has validated f, its bounds in UTC at microsecond precision, and
	// normalized the page.
	AuditLog(ctx context.Context, f AuditFilter) ([]AuditEntry, int, error)
	// AuditBefore returns, newest first, at most limit entries matching f
	// as AuditLog does whose id is below beforeID (0: no bound), ignoring
	// f.Page: the keyset pages of an export, each costing no more than its
	// own rows. limit is at least 1.
	AuditBefore(ctx context.Context, f AuditFilter, beforeID int64, limit int) ([]AuditEntry, error)

	// DueLicenses returns, by ascending id, at most limit licences with an
	// id above afterID that may need an expiry notice: not disabled, of a
	// partner that is not Canceled, expiring at or before until, and
	// without a notice of 0 days (the expired notice) recorded for their
	// current expiry. limit is at least 1.
	DueLicenses(ctx context.Context, until time.Time, afterID int64, limit int) ([]license.License, error)
	// Notices lists the expiry notices recorded for a licence, ordered by
	// expiry, then by days descending.
	Notices(ctx context.Context, licenseID int64) ([]Notice, error)

	// BulkRun returns the bulk run with the key (compared exactly) as
	// CreateBulkRun stored it, with FinishedAt as FinishBulkRun set it,
	// and its counts (Total and one per outcome) derived from its items;
	// ErrNotFound when no run has the key.
	BulkRun(ctx context.Context, key string) (BulkRun, error)
	// BulkItem returns the item of one partner of a run; ErrNotFound when
	// the run has no such partner.
	BulkItem(ctx context.Context, key string, partnerID int64) (BulkItem, error)
	// BulkItems returns one page of a run's items, by ascending partner
	// id, those of f.Outcome only when it is not "", each with the
	// company name of its partner ("" for an id no partner has), and the
	// number of matching items. The Manager has checked that the run
	// exists and normalized the page.
	BulkItems(ctx context.Context, key string, f BulkItemFilter) ([]BulkItem, int, error)
	// PendingBulkItems returns, ascending, at most limit partner ids of
	// the run's items still BulkPending above afterPartnerID: the keyset
	// pages of a run's progress. limit is at least 1.
	PendingBulkItems(ctx context.Context, key string, afterPartnerID int64, limit int) ([]int64, error)
}

// Tx is a read-write transaction. A write that fails (a duplicate, a
// stale version, a missing record) has no effect and leaves the
// transaction usable: earlier writes stay, and fn may go on and commit.
// Creates assign the record's ID and set its Version to 1. Updates are conditional on the Version the caller
// passes: when the stored version differs they fail with ErrConflict and
// change nothing; on success they store the record and increment the
// caller's Version. Uniqueness violations fail with ErrDuplicate naming
// the field ("account name", "name", "nfr").
type Tx interface {
	Reader
	OutboxTx // the outbox: see the block at the end of this file

	// LockPartner reads the partner's stored fields (its derived fields
	// stay zero: a change does not need them, and they cost a query) and
	// keeps any other transaction from changing the partner, or anything
	// of it, until this one ends. The Manager calls it first in every
	// partner-scoped change, so checks such as "last administrator"
	// cannot race.
	LockPartner(ctx context.Context, id int64) (Partner, error)
	CreatePartner(ctx context.Context, p *Partner) error
	// UpdatePartner stores every stored field of p (not the derived ones).
	UpdatePartner(ctx context.Context, p *Partner) error

	// CreateLicense stores every field of l but ID, Version and Used, which
	// must be 0 to Units (ErrInvalid otherwise); an empty Origin is stored
	// (and set in l) as license.OriginAssigned, an empty GrantedKind as
	// Kind.
	CreateLicense(ctx context.Context, l *license.License) error
	// UpdateLicense stores Units, Kind, Expiry, Disabled, DisabledAt and
	// UpdatedAt; it never changes Used (see AdjustUsed). Units below the
	// used units fail with ErrInsufficientUnits, changing nothing. On
	// success l is the licence as stored.
	UpdateLicense(ctx context.Context, l *license.License) error
	// AdjustUsed adds delta to the licence's used units in one conditional
	// step and returns the licence after the change. It fails with
	// ErrInsufficientUnits, changing nothing, when used would exceed the
	// provisioned units, and with ErrConflict when used would go below
	// zero. It does not change the licence's Version.
	AdjustUsed(ctx context.Context, licenseID, delta int64) (license.License, error)
	// EndLicenses ends the partner's licences at the instant at, as Cancel
	// does, so that no licence of the partner is usable after it and every
	// licence keeps its start before its expiry:
	//   - a licence running at at (start before at, expiry after it) has its
	//     expiry moved back to at, and is counted in expired;
	//   - a licence that has not started by at (start at or after it) and is
	//     not disabled is disabled at at, keeping its dates, and is counted
	//     in disabled;
	//   - every other licence stays as it is.
	// Each licence it changes gets UpdatedAt = at and its Version
	// incremented.
	EndLicenses(ctx context.Context, partnerID int64, at time.Time) (expired, disabled int, err error)

	CreateAccount(ctx context.Context, a *account.Account) error
	// UpdateAccount stores every field of a but its Name, which never
	// changes.
	UpdateAccount(ctx context.Context, a *account.Account) error
	DeleteAccount(ctx context.Context, id int64) error
	// DisableAccounts disables every enabled account of the partner and
	// returns how many it disabled.
	DisableAccounts(ctx context.Context, partnerID int64, at time.Time) (int, error)

	// CreateProduct adds a catalogue product; a name that folds (FoldName)
	// like another product's fails with ErrDuplicate naming "name".
	CreateProduct(ctx context.Context, p *license.Product) error
	// UpdateProduct stores every field of p but ID, UnitType and
	// CreatedAt, with the same uniqueness rule. A new name is also written
	// to every licence and every pool setting of the product (ProductID),
	// without changing their Version or UpdatedAt: the name is the
	// catalogue's.
	UpdateProduct(ctx context.Context, p *license.Product) error

	// PutPoolSettings stores s as the settings of its partner's pool
	// (s.Product, s.UnitType), replacing any stored before. It fails with
	// ErrNotFound when the partner does not exist.
	PutPoolSettings(ctx context.Context, s *PoolSettings) error

	// RecordNotice records n unless a notice of the same licence, expiry
	// and days is recorded already, and reports whether it recorded it:
	// an insert-if-absent whose outcome decides, across transactions and
	// processes, who sends the notice. It fails with ErrNotFound when the
	// licence does not exist.
	RecordNotice(ctx context.Context, n Notice) (recorded bool, err error)

	CreatePlan(ctx context.Context, p *serviceplan.Plan) error
	UpdatePlan(ctx context.Context, p *serviceplan.Plan) error
	// AssignPlan fails with ErrDuplicate when the plan is already assigned.
	AssignPlan(ctx context.Context, a serviceplan.Assignment) error
	// UnassignPlan fails with ErrNotFound when the plan is not assigned.
	UnassignPlan(ctx context.Context, partnerID, planID int64) error

	CreateCustomer(ctx context.Context, c *Customer) error
	// CreateAllocation records a; it fails with ErrNotFound, writing
	// nothing, when the licence or the customer does not exist or does
	// not belong to a.PartnerID.
	CreateAllocation(ctx context.Context, a *license.Allocation) error
	DeleteAllocation(ctx context.Context, id int64) error

	// CreateBulkRun stores a new bulk run — its Key, Params (kept as
	// their JSON encoding), Actor and StartedAt; FinishedAt zero — with
	// one BulkPending item, without a reason or an instant, for each of
	// partnerIDs (ascending, distinct, not necessarily partners that
	// exist). A run with the same key fails with ErrDuplicate naming
	// "key", writing nothing.
	CreateBulkRun(ctx context.Context, r *BulkRun, partnerIDs []int64) error
	// SetBulkItem records the outcome, reason and instant of one partner
	// of a run, when its stored outcome is still BulkPending, and reports
	// whether it did: a conditional step whose outcome decides, across
	// transactions and processes, who records the partner. It fails with
	// ErrNotFound when the run has no such partner.
	SetBulkItem(ctx context.Context, key string, it BulkItem) (recorded bool, err error)
	// FinishBulkRun sets the run's FinishedAt to at when it is not set,
	// and reports whether it did; ErrNotFound when no run has the key.
	FinishBulkRun(ctx context.Context, key string, at time.Time) (finished bool, err error)

	// AppendAudit records e and sets its ID. PartnerID 0 marks a change
	// that belongs to no partner: a catalogue's (service plans, products)
	// or a bulk run's. e.Changes are kept as their JSON encoding
	// (encoding/json, with Change's field tags): they read back equal but
	// for their JSON values, which come back compacted, and an empty list,
	// which comes back nil. A value that is not valid JSON fails with
	// ErrInvalid naming "changes", writing nothing.
	AppendAudit(ctx context.Context, e *AuditEntry) error
}

// AsOf is the instant and the expiring window with which a store derives
// a partner's licence figures (Partner.LowStockPools, ExpiringLicenses,
// ExpiredLicenses), as the Manager's clock and Options.ExpiringWindow
// give them.
type AsOf struct {
	Now    time.Time
	Window time.Duration
	// NoLowStock lets the store leave Partner.LowStockPools zero: the
	// caller counts it from the pools it reads anyway (Manager.PartnerPools),
	// so a store need not sum the partner's pools twice. Filters by
	// AttentionLowStock still apply.
	NoLowStock bool
}

// NameSortKey is the key the partners list sorts company names by:
// FoldName, canonically decomposed, without its combining marks, and
// recomposed (NFC), so that "École", "ecole" and "ÉCOLE" sort together
// and "Straße" with "strasse". Stores keep it with the name, computed
// here in Go, and compare it byte by byte; it is safe for concurrent use.
func NameSortKey(s string) string {
	d := norm.NFD.String(FoldName(s))
	d = strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Mn, r) {
			return -1
		}
		return r
	}, d)
	return norm.NFC.String(d)
}

// ---- The outbox: events a host can rely on ------------------------------
//
// Every event a change causes is appended to the store's outbox in the
// transaction of that change (Manager.write, Manager.RunInTx), and
// delivered from there by Manager.Dispatch, at least once. The methods
// below are what a store keeps for it; OutboxReader is part of Reader and
// OutboxTx part of Tx. Times are instants of the dispatchers' wall clock,
// kept at microsecond precision; ids are never reused, also after the
// rows they named are pruned, since handlers de-duplicate by them.

// OutboxReader lists the outbox.
type OutboxReader interface {
	// Outbox returns one page of the outbox's messages matching f, by
	// ascending id, and the number of matches.
	Outbox(ctx context.Context, f OutboxFilter) ([]OutboxMessage, int, error)
}

// OutboxTx writes the outbox, in a read-write transaction.
type OutboxTx interface {
	// AppendOutbox records msgs, pending, in order: it sets each one's ID,
	// ascending, and stores its Kind, Payload and CreatedAt; the delivery
	// fields start empty (no attempt, due at once, unclaimed).
	AppendOutbox(ctx context.Context, msgs []OutboxMessage) error
	// ClaimOutbox claims, by ascending id, at most c.Limit pending messages
	// that are due at c.Now (NextAt zero or not after it) and not held by
	// a claim whose lease runs past c.Now (LockedUntil zero or not after
	// it). Each gets Claim = c.Claim and LockedUntil = c.Until, and one more
	// Attempt; ClaimOutbox returns them as stored. Claims of concurrent
	// transactions never return the same message: on PostgreSQL the rows
	// are locked with FOR UPDATE SKIP LOCKED, so two dispatchers take
	// different messages instead of waiting for each other. c.Limit is at
	// least 1.
	ClaimOutbox(ctx context.Context, c OutboxClaim) ([]OutboxMessage, error)
	// CompleteOutbox marks the message delivered at at, and clears its
	// claim, if it is pending and held by claim (its lease may have run
	// out: the delivery happened), and reports whether it was.
	CompleteOutbox(ctx context.Context, id int64, claim string, at time.Time) (bool, error)
	// RetryOutbox releases the message held by claim for another attempt
	// at next, recording lastErr, and reports whether the message was
	// pending and held by claim.
	RetryOutbox(ctx context.Context, id int64, claim string, next time.Time, lastErr string) (bool, error)
	// PruneOutbox deletes at most limit messages delivered before before,
	// lowest ids first, and returns how many it deleted; pending messages
	// are never deleted. limit is at least 1.
	PruneOutbox(ctx context.Context, before time.Time, limit int) (int, error)
	// ClaimRun decides who runs the periodic task name (the sweep, the
	// pruning) now: when no run of name is recorded, or the recorded next
	// run is not after now, it records next as the next run and reports
	// true; otherwise it changes nothing and reports false. Across
	// transactions and processes one caller gets true per due run.
	ClaimRun(ctx context.Context, name string, now, next time.Time) (bool, error)
}

// FoldName is the case-folded form of a name that stores compare and
// search by (company names, customer names, plan and product names): Unicode full case folding of the
// canonically decomposed text, recomposed (NFC), so that "ΣΑΣ" and "σας",
// "STAR" and "ſtar", "STRASSE" and "straße", or a precomposed and a
// decomposed "é" fold alike. Stores call it rather than their database's
// own lower(), whose Unicode handling differs between engines; it is
// safe for concurrent use.
func FoldName(s string) string {
	return norm.NFC.String(cases.Fold().String(norm.NFD.String(s)))
}

// UnitsAllocator is a step a Tx may also offer: Manager.Allocate uses it
// when the Tx has it, and otherwise runs AdjustUsed, CreateAllocation,
// AppendAudit and PoolSettings, which it stands for, one by one. A store
// offers it to write an allocation in fewer statements (bunstore: one on
// PostgreSQL).
type UnitsAllocator interface {
	// AllocateUnits takes in.Allocation.Units from licence
	// in.Allocation.LicenseID as AdjustUsed does, failing as AdjustUsed
	// does (then the result's License is the licence as AdjustUsed returns
	// it, and nothing is written). When the units are taken it records
	// the allocation as CreateAllocation does — unless the licence or the
	// customer does not belong to in.Allocation.PartnerID: then Allocation
	// stays without an ID, nothing but the units was written, and the
	// caller is to fail the transaction — and then the audit entry
	// in.Audit returns for the allocation (with its ID) and the licence
	// after the change, as AppendAudit does. It returns the licence after
	// the change, the allocation and the entry with their IDs, and the
	// partner's settings of the licence's pool (product and unit type):
	// one element, or none when the pool has none.
	AllocateUnits(ctx context.Context, in AllocateUnitsParams) (AllocatedUnits, error)
}

// AllocateUnitsParams is what UnitsAllocator.AllocateUnits writes.
type AllocateUnitsParams struct {
	// Allocation is the allocation to record: LicenseID, PartnerID,
	// CustomerID, Units (at least 1) and CreatedAt.
	Allocation license.Allocation
	// Audit returns the audit entry of the allocation a, with its ID, made
	// from the licence l after the change. It may depend on a and on l's
	// ID and Used only: a store may write the entry from a template, which
	// it checks against Audit's answer for the values written (a mismatch
	// fails the step).
	Audit func(a license.Allocation, l license.License) AuditEntry
}

// AllocatedUnits is what UnitsAllocator.AllocateUnits wrote and read.
type AllocatedUnits struct {
	License    license.License    // the licence after the change
	Allocation license.Allocation // ID 0 when not recorded
	Audit      AuditEntry         // ID 0 when not recorded
	Pool       []PoolSettings     // the partner's settings of the licence's pool: none or one
}
