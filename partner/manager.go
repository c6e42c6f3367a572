package partner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/license"
)

// Options configures a Manager. The zero value works: an in-memory store,
// the wall clock, the default slog logger.
type Options struct {
	// Store keeps the records; nil means a new in-memory store (see
	// partner/memstore).
	Store Store
	// Now is the clock; nil means time.Now. Tests inject a fixed clock.
	Now func() time.Time
	// ResetPassword is called when an operator resets an account's
	// password, once, after the reset is committed. The library stores no
	// passwords: the host sends the reset link. Without it,
	// Manager.ResetPassword fails with ErrNotConfigured; when it fails, the
	// recorded reset stands and the error wraps ErrHook.
	ResetPassword func(ctx context.Context, a account.Account) error
	// Logger receives the errors of event hooks; nil means slog.Default().
	Logger *slog.Logger
	// ExpiringWindow is how long before expiry a licence shows as Expiring
	// soon; 0 means license.DefaultExpiringWindow (30 days).
	ExpiringWindow time.Duration
	// DisableOutbox stops recording events in the store's outbox, for a
	// host that never runs Dispatch and relies on Subscribe alone: the
	// outbox then does not grow, events carry no ID, and Dispatch fails
	// with ErrNotConfigured. By default every event is recorded (see
	// Manager.Dispatch).
	DisableOutbox bool
}

// Manager is the facade through which every change goes. It checks the
// guard table, validates input, runs each operation as one transaction of
// the store, records the audit trail and the events in the outbox in that
// same transaction, and after commit tells the subscribed hooks; Dispatch
// delivers the outbox's events to the host. It is safe for concurrent use.
type Manager struct {
	store  Store
	now    func() time.Time
	reset  func(context.Context, account.Account) error
	log    *slog.Logger
	window time.Duration
	hooks  *hookSet
	outbox *outboxState // nil with Options.DisableOutbox

	bound *binding // non-nil inside RunInTx
}

// binding is the transaction a Manager is bound to by RunInTx.
type binding struct {
	tx      Tx
	pending []Event
	effects []func(context.Context) error
	failed  error // the first error; every later call fails with it
}

// NewManager returns a Manager configured by opts.
func NewManager(opts Options) *Manager {
	m := &Manager{store: opts.Store, now: opts.Now, reset: opts.ResetPassword, log: opts.Logger,
		window: opts.ExpiringWindow, hooks: &hookSet{}}
	if !opts.DisableOutbox {
		m.outbox = newOutboxState()
	}
	if m.store == nil {
		m.store = newMemoryStore()
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	if m.window <= 0 {
		m.window = license.DefaultExpiringWindow
	}
	return m
}

// Store returns the store the Manager works on.
func (m *Manager) Store() Store { return m.store }

// Now returns the Manager's clock reading, in UTC at microsecond
// precision (what every store keeps).
func (m *Manager) Now() time.Time { return m.now().UTC().Truncate(time.Microsecond) }

// LicenseState derives a licence's state at the Manager's clock.
func (m *Manager) LicenseState(l license.License) license.State { return l.StateAt(m.Now(), m.window) }

type actorKey struct{}

// SystemActor is the actor recorded when the context names none.
const SystemActor = "system"

// MaxActorLen is the longest actor name, in characters. A change made with
// an actor that is longer, not valid UTF-8 or holds control characters is
// refused with ErrInvalid naming the field "actor": the audit trail keeps
// actors exactly as given.
const MaxActorLen = 200

// WithActor returns a context naming who acts; the audit trail and the
// events record it exactly as given (see MaxActorLen for what is refused).
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFrom returns the actor WithActor put in ctx, or SystemActor.
func ActorFrom(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && strings.TrimSpace(a) != "" {
		return a
	}
	return SystemActor
}

// RunInTx runs fn with a Manager bound to one store transaction, so that
// several operations commit together or not at all.
//
// The first error any method of the bound Manager returns inside fn —
// a refusal, invalid input or a failed read alike — aborts the whole
// transaction: RunInTx returns that error even if fn goes on and returns
// nil, nothing of the batch is committed, no hook hears of it, and every
// later call on the bound Manager fails too. An error fn itself returns
// aborts it the same way.
//
// The events of the whole batch are recorded in the outbox (see Dispatch)
// in its transaction, after fn. After the commit, the effects outside the
// store (the ResetPassword hook) run once each, then the subscribed hooks
// hear of the changes; a failed effect makes RunInTx return an error
// wrapping ErrHook although the batch is committed. Calling RunInTx on a
// bound Manager joins the outer transaction.
func (m *Manager) RunInTx(ctx context.Context, fn func(ctx context.Context, m *Manager) error) error {
	if m.bound != nil {
		return fn(ctx, m)
	}
	var done *binding
	err := m.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		bm := *m
		bm.bound = &binding{tx: tx} // fresh on a store retry
		err := fn(ctx, &bm)
		if f := bm.bound.failed; f != nil {
			return f
		}
		bm.bound.failed = errTxFinished
		if err != nil {
			return err
		}
		if err := m.enqueue(ctx, tx, bm.bound.pending); err != nil {
			return err
		}
		done = bm.bound
		return nil
	})
	if err != nil {
		return err
	}
	return m.afterCommit(ctx, done.effects, done.pending)
}

// errTxFinished refuses calls on a bound Manager after its RunInTx ended.
var errTxFinished = NewError(ErrInvalid, "", "the transaction of RunInTx has ended: call the Manager RunInTx was called on")

// changes collects what one operation did: its audit entries, written in
// its transaction, its events, published after commit, and its effects
// outside the store, run once after commit.
type changes struct {
	actor   string
	at      time.Time
	events  []Event
	effects []func(ctx context.Context) error
}

// recordFor is record for a change of one licence: its event names the
// licence.
func (c *changes) recordFor(ctx context.Context, tx Tx, l license.License, op Operation, cs []Change) error {
	if err := c.record(ctx, tx, l.PartnerID, op, fmt.Sprintf("license %d", l.ID), cs); err != nil {
		return err
	}
	c.events[len(c.events)-1].LicenseID = l.ID
	return nil
}

// record appends an audit entry of the changes cs in tx and queues its
// event.
func (c *changes) record(ctx context.Context, tx Tx, partnerID int64, op Operation, target string, cs []Change) error {
	e := AuditEntry{PartnerID: partnerID, Actor: c.actor, Action: op, Target: target, Changes: cs, At: c.at}
	if err := tx.AppendAudit(ctx, &e); err != nil {
		return err
	}
	c.emit(eventKinds[op], e)
	return nil
}

func (c *changes) emit(kind EventKind, e AuditEntry) {
	c.events = append(c.events, eventOf(kind, e))
}

// eventOf is the event that mirrors an audit entry.
func eventOf(kind EventKind, e AuditEntry) Event {
	return Event{Kind: kind, Op: e.Action, PartnerID: e.PartnerID, Actor: e.Actor, At: e.At, Target: e.Target,
		Changes: e.Changes, Before: e.Before(), After: e.After()}
}

// after queues an effect outside the store, run once after the commit.
func (c *changes) after(fn func(ctx context.Context) error) { c.effects = append(c.effects, fn) }

// fail records err on a bound Manager's transaction, which then aborts,
// and returns it stamped with op. Every error a method returns passes
// through write, read or fail.
func (m *Manager) fail(op Operation, err error) error {
	if err == nil {
		return nil
	}
	err = withOp(op, err)
	if b := m.bound; b != nil && b.failed == nil {
		b.failed = err
	}
	return err
}

// write runs fn as one all-or-nothing change: its own store transaction,
// or the bound one inside RunInTx. The events fn queued are recorded in
// the outbox in that transaction: by write after fn, or by RunInTx after
// the whole batch.
func (m *Manager) write(ctx context.Context, op Operation, fn func(ctx context.Context, tx Tx, c *changes) error) error {
	var c *changes
	run := func(ctx context.Context, tx Tx) error {
		c = &changes{actor: ActorFrom(ctx), at: m.Now()} // fresh on a store retry
		if err := checkText("actor", c.actor, MaxActorLen, true); err != nil {
			return err
		}
		return fn(ctx, tx, c)
	}
	if b := m.bound; b != nil {
		if b.failed != nil {
			return withOp(op, fmt.Errorf("transaction aborted by an earlier error: %w", b.failed))
		}
		if err := run(ctx, b.tx); err != nil {
			return m.fail(op, err)
		}
		b.pending = append(b.pending, c.events...)
		b.effects = append(b.effects, c.effects...)
		return nil
	}
	err := m.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		if err := run(ctx, tx); err != nil {
			return err
		}
		return m.enqueue(ctx, tx, c.events)
	})
	if err != nil {
		return withOp(op, err)
	}
	return withOp(op, m.afterCommit(ctx, c.effects, c.events))
}

// afterCommit runs the effects of committed changes once each, then tells
// the hooks. A failed effect is returned wrapping ErrHook. The events are
// in the outbox already (enqueue, in the change's transaction): it wakes
// this Manager's dispatchers for them.
func (m *Manager) afterCommit(ctx context.Context, effects []func(context.Context) error, events []Event) error {
	if len(events) > 0 && m.outbox != nil {
		m.outbox.wake()
	}
	var errs []error
	for _, fx := range effects {
		if err := fx(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	m.publish(ctx, events)
	if err := errors.Join(errs...); err != nil {
		return &Error{Kind: ErrHook, Reason: "the change was made, but a host hook failed: " + err.Error(), Err: err}
	}
	return nil
}

// read runs fn against the bound transaction or a read-only view.
func (m *Manager) read(ctx context.Context, fn func(ctx context.Context, r Reader) error) error {
	if b := m.bound; b != nil {
		if b.failed != nil {
			return withOp(OpRead, fmt.Errorf("transaction aborted by an earlier error: %w", b.failed))
		}
		return m.fail(OpRead, fn(ctx, b.tx))
	}
	return withOp(OpRead, m.store.View(ctx, fn))
}

// lockChecked locks the partner and applies, in order, the guard table
// and the caller's expected version (0 skips it).
func lockChecked(ctx context.Context, tx Tx, id int64, op Operation, version int64) (Partner, error) {
	p, err := tx.LockPartner(ctx, id)
	if err != nil {
		return p, err
	}
	if err := Check(p.Status, p.Type, op); err != nil {
		return p, err
	}
	return p, expectVersion("partner", version, p.Version)
}

// partnerChange locks the partner, checks the guard table and the
// caller's expected version (0 skips it), then runs fn, which validates
// its input first: so a Suspended or Canceled partner gets its status
// error whatever the input.
func (m *Manager) partnerChange(ctx context.Context, id int64, op Operation, version int64,
	fn func(ctx context.Context, tx Tx, p *Partner, c *changes) error) error {
	return m.write(ctx, op, func(ctx context.Context, tx Tx, c *changes) error {
		p, err := lockChecked(ctx, tx, id, op, version)
		if err != nil {
			return err
		}
		return fn(ctx, tx, &p, c)
	})
}

// partnerUpdate is partnerChange for operations that return the partner:
// after fn it reads the partner back with its derived figures.
func (m *Manager) partnerUpdate(ctx context.Context, id int64, op Operation, version int64,
	fn func(ctx context.Context, tx Tx, p *Partner, c *changes) error) (Partner, error) {
	var out Partner
	err := m.partnerChange(ctx, id, op, version, func(ctx context.Context, tx Tx, p *Partner, c *changes) error {
		if err := fn(ctx, tx, p, c); err != nil {
			return err
		}
		var err error
		out, err = m.partnerAt(ctx, tx, p.ID)
		return err
	})
	return out, err
}

func expectVersion(what string, want, have int64) error {
	if want != 0 && want != have {
		return NewError(ErrConflict, "", "the %s was changed by someone else (version %d, you had %d): reload and try again", what, have, want)
	}
	return nil
}

// EventKind names what happened.
type EventKind string

// The events hooks hear of.
const (
	EventPartnerCreated       EventKind = "partner.created"
	EventProfileUpdated       EventKind = "partner.profile_updated"
	EventStatusChanged        EventKind = "partner.status_changed"
	EventPoolSettingsChanged  EventKind = "licenses.pool_settings_changed"
	EventLicensesAssigned     EventKind = "licenses.assigned"
	EventLicensesDisabled     EventKind = "licenses.disabled"
	EventLicensesEnabled      EventKind = "licenses.enabled"
	EventLicenseExtended      EventKind = "licenses.extended"
	EventLicenseUnitsChanged  EventKind = "licenses.units_changed"
	EventLicenseConverted     EventKind = "licenses.converted_to_full"
	EventLicenseExpiring      EventKind = "licenses.expiring"
	EventLicenseExpired       EventKind = "licenses.expired"
	EventPoolBelowMinimum     EventKind = "licenses.pool_below_minimum"
	EventPoolRefilled         EventKind = "licenses.pool_refilled"
	EventPoolAutoRefilled     EventKind = "licenses.pool_auto_refilled"
	EventProductsChanged      EventKind = "product.catalog_changed"
	EventRemoteManagerChanged EventKind = "remote_manager.changed"
	EventPlanAssigned         EventKind = "service_plan.assigned"
	EventPlanRemoved          EventKind = "service_plan.removed"
	EventCatalogChanged       EventKind = "service_plan.catalog_changed"
	EventAccountAdded         EventKind = "account.added"
	EventAccountChanged       EventKind = "account.changed"
	EventAccountDeleted       EventKind = "account.deleted"
	EventPasswordReset        EventKind = "account.password_reset"
	EventCustomerAdded        EventKind = "customer.added"
	EventUnitsAllocated       EventKind = "units.allocated"
	EventUnitsReleased        EventKind = "units.released"
	EventBulkStarted          EventKind = "bulk.started"
	EventBulkFinished         EventKind = "bulk.finished"
)

var eventKinds = map[Operation]EventKind{
	OpCreatePartner: EventPartnerCreated, OpUpdateProfile: EventProfileUpdated,
	OpSuspend: EventStatusChanged, OpReactivate: EventStatusChanged, OpCancel: EventStatusChanged,
	OpSetPoolRefill: EventPoolSettingsChanged, OpSetMinimumLicenses: EventPoolSettingsChanged,
	OpSetPoolSettings: EventPoolSettingsChanged,
	OpAssignLicenses:  EventLicensesAssigned, OpDisableLicenses: EventLicensesDisabled, OpEnableLicenses: EventLicensesEnabled,
	OpExtendLicense: EventLicenseExtended, OpAddUnits: EventLicenseUnitsChanged, OpReduceUnits: EventLicenseUnitsChanged,
	OpConvertToFull: EventLicenseConverted, OpRefillPool: EventPoolRefilled, OpAutoRefill: EventPoolAutoRefilled,
	OpCreateProduct: EventProductsChanged, OpUpdateProduct: EventProductsChanged,
	OpEnableRemoteManager: EventRemoteManagerChanged, OpDisableRemoteManager: EventRemoteManagerChanged,
	OpAssignPlan: EventPlanAssigned, OpRemovePlan: EventPlanRemoved,
	OpCreatePlan: EventCatalogChanged, OpUpdatePlan: EventCatalogChanged,
	OpAddAccount: EventAccountAdded, OpChangeRole: EventAccountChanged, OpEnableAccount: EventAccountChanged,
	OpDisableAccount: EventAccountChanged, OpResetPassword: EventPasswordReset, OpDeleteAccount: EventAccountDeleted,
	OpAddCustomer: EventCustomerAdded, OpAllocateUnits: EventUnitsAllocated, OpReleaseUnits: EventUnitsReleased,
	OpBulkStart: EventBulkStarted, OpBulkFinish: EventBulkFinished,
}

// Event tells a hook about a committed change. Most events mirror one
// audit entry; EventPoolBelowMinimum comes on top of the allocation or
// setting that caused it, and the expiry notices of Sweep
// (EventLicenseExpiring, EventLicenseExpired) are recorded as notices,
// not in the audit trail.
//
// Every event is recorded in the store's outbox in the transaction of its
// change, and delivered from there to the handler of Manager.Dispatch, at
// least once; the outbox keeps it as JSON (encoding/json, every exported
// field).
type Event struct {
	// ID is the event's stable id in the outbox, the same in every
	// delivery of it and in the Subscribe hooks: handlers de-duplicate by
	// it. Ids grow with the order events were recorded in and are never
	// reused. 0 with Options.DisableOutbox.
	ID        int64
	Kind      EventKind
	Op        Operation
	PartnerID int64
	// LicenseID names the licence of an event about one licence (its
	// extension, units, conversion, a refill's new licence, an expiry
	// notice); 0 otherwise.
	LicenseID int64
	// DaysLeft is, for EventLicenseExpiring, the whole days left before
	// the licence expires, rounded up (at most the notice's 30, 7 or 1);
	// 0 otherwise.
	DaysLeft int
	Actor    string
	At       time.Time
	Target   string
	// Changes are the changes of the audit entry the event mirrors (for
	// EventPoolBelowMinimum and the expiry notices, the figures that
	// raised it), shared with the entry: a hook must not modify them.
	Changes []Change
	// Before and After render the changes' two sides as AuditEntry's
	// Before and After do, for hooks written before Changes existed.
	Before string
	After  string
}

// Hook hears of committed changes. Its error is logged; it never undoes
// the change.
type Hook func(ctx context.Context, e Event) error

type hookSet struct {
	mu    sync.RWMutex
	next  int
	hooks map[int]Hook
	order []int
}

// Subscribe adds a hook and returns the function that removes it. Hooks
// run after commit, in subscription order, in the goroutine that made
// the change: a hook with slow work should hand it off. A hook's error or
// panic is logged and the other hooks still run.
//
// Hooks are best effort and in-process: they hear of the changes made
// through this Manager only, once, and not at all when the process ends
// between the commit and the hook, or when the hook fails. For events a
// host must not miss (a webhook, a mail, another system to keep in step),
// use Dispatch, which delivers from the outbox at least once, with
// retries, across restarts and processes. Hooks suit what may be lost:
// metrics, cache invalidation, a log line.
func (m *Manager) Subscribe(h Hook) (unsubscribe func()) {
	hs := m.hooks
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.hooks == nil {
		hs.hooks = map[int]Hook{}
	}
	id := hs.next
	hs.next++
	hs.hooks[id] = h
	hs.order = append(hs.order, id)
	return func() {
		hs.mu.Lock()
		defer hs.mu.Unlock()
		delete(hs.hooks, id)
		hs.order = slices.DeleteFunc(hs.order, func(x int) bool { return x == id })
	}
}

func (m *Manager) publish(ctx context.Context, events []Event) {
	if len(events) == 0 {
		return
	}
	m.hooks.mu.RLock()
	var hooks []Hook
	for _, id := range m.hooks.order {
		if h, ok := m.hooks.hooks[id]; ok {
			hooks = append(hooks, h)
		}
	}
	m.hooks.mu.RUnlock()
	for _, e := range events {
		for _, h := range hooks {
			m.callHook(ctx, h, e)
		}
	}
}

func (m *Manager) callHook(ctx context.Context, h Hook, e Event) {
	defer func() {
		if p := recover(); p != nil {
			m.log.ErrorContext(ctx, "partner: event hook panicked", "event", e.Kind, "partner", e.PartnerID, "panic", p)
		}
	}()
	if err := h(ctx, e); err != nil {
		m.log.ErrorContext(ctx, "partner: event hook failed", "event", e.Kind, "partner", e.PartnerID, "err", err)
	}
}
