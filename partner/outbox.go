package partner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// OutboxState selects the outbox's messages by delivery.
type OutboxState string

// The outbox's states.
const (
	// OutboxPending: not delivered yet (waiting, claimed, or failed and
	// waiting for its next attempt).
	OutboxPending OutboxState = "pending"
	// OutboxDelivered: a handler returned nil for it.
	OutboxDelivered OutboxState = "delivered"
)

// OutboxFilter selects outbox messages for Manager.Outbox; the zero value
// matches every message.
type OutboxFilter struct {
	State OutboxState // "" matches both
	Page
}

// OutboxMessage is an event as the store's outbox keeps it, with the
// state of its delivery.
type OutboxMessage struct {
	// ID is the event's stable id (Event.ID): the store assigns it,
	// ascending, and never reuses it.
	ID   int64
	Kind EventKind
	// Payload is the Event encoded with encoding/json (its ID left 0);
	// Event decodes it.
	Payload []byte
	// CreatedAt is the event's At: when the change was made, by the
	// Manager's clock.
	CreatedAt time.Time

	// Attempts counts the deliveries begun: the claims of the message.
	Attempts int
	// NextAt is when the message may be claimed again after a failed
	// attempt; zero: at once.
	NextAt time.Time
	// Claim names the claim holding the message, and LockedUntil is when
	// that claim's lease ends; "" and zero when none holds it.
	Claim       string
	LockedUntil time.Time
	// DeliveredAt is when a handler returned nil for it; zero while
	// pending.
	DeliveredAt time.Time
	// LastError is the last failed attempt's error ("" if none failed).
	LastError string
}

// Event decodes the message's payload into the event it records, with its
// ID.
func (o OutboxMessage) Event() (Event, error) {
	var e Event
	if err := json.Unmarshal(o.Payload, &e); err != nil {
		return Event{}, fmt.Errorf("partner: outbox message %d: decode its event: %w", o.ID, err)
	}
	e.ID = o.ID
	return e, nil
}

// OutboxClaim is a claim of outbox messages by a dispatcher: see
// OutboxTx.ClaimOutbox.
type OutboxClaim struct {
	// Claim names this claim, uniquely: CompleteOutbox and RetryOutbox
	// act on a message only for the claim that holds it.
	Claim string
	// Now is the claimer's clock; Until is when the claim's lease ends.
	Now, Until time.Time
	// Limit is the most messages to claim, at least 1.
	Limit int
}

// Outbox returns one page of the outbox's messages matching f, by
// ascending id, and the number of matches: what is pending, how often it
// was tried and why it failed, and what was delivered and is not pruned
// yet.
func (m *Manager) Outbox(ctx context.Context, f OutboxFilter) ([]OutboxMessage, int, error) {
	var (
		out   []OutboxMessage
		total int
	)
	err := m.read(ctx, func(ctx context.Context, r Reader) (err error) {
		switch f.State {
		case "", OutboxPending, OutboxDelivered:
		default:
			return invalidf("state", "must be %q, %q or empty (got %q)", OutboxPending, OutboxDelivered, f.State)
		}
		if f.Page, err = f.Page.normalize(); err != nil {
			return err
		}
		out, total, err = r.Outbox(ctx, f)
		return err
	})
	return out, total, err
}

// enqueue records events in the outbox in tx, the transaction of the
// change that caused them, and sets their IDs.
func (m *Manager) enqueue(ctx context.Context, tx Tx, events []Event) error {
	if m.outbox == nil || len(events) == 0 {
		return nil
	}
	msgs := make([]OutboxMessage, len(events))
	for i, e := range events {
		e.ID = 0
		payload, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("partner: encode event %s for the outbox: %w", e.Kind, err)
		}
		msgs[i] = OutboxMessage{Kind: e.Kind, Payload: payload, CreatedAt: e.At}
	}
	if err := tx.AppendOutbox(ctx, msgs); err != nil {
		return err
	}
	for i := range events {
		events[i].ID = msgs[i].ID
	}
	return nil
}

// outboxState wakes the dispatchers of one Manager when a change of that
// Manager committed events, so that they need not wait for their next
// poll. Dispatchers in other processes, or on other Managers, poll.
type outboxState struct {
	mu sync.Mutex
	ch chan struct{} // closed and replaced by wake
}

func newOutboxState() *outboxState { return &outboxState{ch: make(chan struct{})} }

// waiter returns a channel that wake closes.
func (o *outboxState) waiter() <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.ch
}

func (o *outboxState) wake() {
	o.mu.Lock()
	defer o.mu.Unlock()
	close(o.ch)
	o.ch = make(chan struct{})
}

// DispatchOptions configures Manager.Dispatch. Only Handler is required.
type DispatchOptions struct {
	// Handler receives each event at least once. It returns nil when the
	// event is dealt with; an error (or a panic) makes the event wait and
	// be delivered again (see Backoff). It is called from several
	// goroutines at once (Workers), and must return when its context
	// ends: the context's deadline falls before the claim's lease ends
	// (see Lease). Handlers de-duplicate by Event.ID: an event is
	// delivered again after a crash, a lost lease, or a failure to record
	// the delivery.
	Handler func(ctx context.Context, e Event) error
	// Workers is how many events are delivered at once; 0 means 4.
	Workers int
	// Batch is the most events claimed in one transaction; 0 means
	// Workers. A dispatcher claims only as many as it has idle workers.
	Batch int
	// Poll is how often an idle dispatcher looks for due events; 0 means
	// 1 s. A change committed through the same Manager wakes its
	// dispatchers at once; changes of other processes are seen at the
	// next poll, and so is an event whose retry falls due.
	Poll time.Duration
	// Lease is how long a claim holds its events; 0 means 1 min. A
	// dispatcher that dies holding events releases them when the lease
	// runs out, and another takes them then. The handler's context ends
	// when four fifths of the lease have passed, leaving the rest to
	// record the outcome.
	Lease time.Duration
	// Backoff is the wait before an event's second attempt after a
	// failed first one; it doubles with each further failure, up to
	// MaxBackoff, plus up to a tenth more at random. 0 means 1 s.
	Backoff time.Duration
	// MaxBackoff caps Backoff's growth; 0 means 1 h. An event is tried
	// until a handler takes it: there is no last attempt.
	MaxBackoff time.Duration
	// Retention is how long a delivered event stays in the outbox before
	// it is pruned; 0 means 7 days, a negative value keeps every event.
	// Pending events are never pruned.
	Retention time.Duration
	// SweepEvery runs Manager.Sweep this often (0: never), once per
	// period across every dispatcher on the store, so that the expiry
	// notices need no schedule of their own. Sweep is safe when several
	// run at once anyway; the period only spares the work.
	SweepEvery time.Duration
	// Name names the dispatcher in its claims (OutboxMessage.Claim) and
	// logs; "" means host name and process id.
	Name string
}

// Default values of DispatchOptions.
const (
	defaultWorkers    = 4
	defaultPoll       = time.Second
	defaultLease      = time.Minute
	defaultBackoff    = time.Second
	defaultMaxBackoff = time.Hour
	defaultRetention  = 7 * 24 * time.Hour
	// pruneBatch is how many delivered events one pruning transaction
	// deletes.
	pruneBatch = 1000
	// maxLastError is the longest LastError kept, in characters.
	maxLastError = 1000
)

// The periodic tasks of the dispatchers (OutboxTx.ClaimRun).
const (
	runSweep = "sweep"
	runPrune = "outbox_prune"
)

func (o DispatchOptions) normalize() (DispatchOptions, error) {
	if o.Handler == nil {
		return o, invalidf("handler", "is required")
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"workers", int64(o.Workers)}, {"batch", int64(o.Batch)}, {"poll", int64(o.Poll)}, {"lease", int64(o.Lease)},
		{"backoff", int64(o.Backoff)}, {"max backoff", int64(o.MaxBackoff)}, {"sweep every", int64(o.SweepEvery)}} {
		if f.v < 0 {
			return o, invalidf(f.name, "must not be negative (got %d)", f.v)
		}
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if o.Workers == 0 {
		o.Workers = defaultWorkers
	}
	if o.Batch == 0 {
		o.Batch = o.Workers
	}
	def(&o.Poll, defaultPoll)
	def(&o.Lease, defaultLease)
	def(&o.Backoff, defaultBackoff)
	def(&o.MaxBackoff, defaultMaxBackoff)
	def(&o.Retention, defaultRetention)
	if o.Name == "" {
		host, _ := os.Hostname()
		o.Name = fmt.Sprintf("%s/%d", host, os.Getpid())
	}
	return o, nil
}

// Delivery describes the delivery a handler of Dispatch runs in; see
// DeliveryFrom.
type Delivery struct {
	// Attempt is 1 for an event's first delivery, 2 for the next, and so
	// on (OutboxMessage.Attempts).
	Attempt int
	// Claim names the claim the delivery runs under: unique per claim,
	// and starting with the dispatcher's Name.
	Claim string
	// LeaseEnds is when the claim's lease ends.
	LeaseEnds time.Time
}

type deliveryKey struct{}

// DeliveryFrom returns the delivery a Dispatch handler's context belongs
// to.
func DeliveryFrom(ctx context.Context) (Delivery, bool) {
	d, ok := ctx.Value(deliveryKey{}).(Delivery)
	return d, ok
}

// Dispatch delivers the events of the outbox to opts.Handler until ctx
// ends, then waits for the deliveries under way and returns nil. It
// returns an error only for invalid options, or ErrNotConfigured with
// Options.DisableOutbox.
//
// Events a host can rely on. Every event the Manager emits — status
// changes, low stock, refills, the expiry notices of Sweep, every change
// of the audit trail — is recorded in the store's outbox in the same
// transaction as the change that causes it: no change commits without
// its events, and no event without its change. Dispatch takes them from
// there after the commit and delivers each one at least once:
//
//   - An event whose handler fails (or panics) is delivered again after
//     Backoff, doubling with each failure up to MaxBackoff; the other
//     events go on meanwhile.
//   - Events are claimed in transactions, for a lease (Lease): a process
//     killed between a commit and a delivery, or in the middle of one,
//     loses nothing; its claims run out and the next dispatcher delivers
//     the events.
//   - Several dispatchers may run against one store, in one process or in
//     several: on PostgreSQL their claims skip each other's rows (SELECT
//     … FOR UPDATE SKIP LOCKED), on SQLite they take turns on the
//     database's write lock (BEGIN IMMEDIATE). A claimed event is
//     delivered by its claimer alone until its lease ends, so an event is
//     never delivered by two dispatchers at once while handlers return
//     when their context ends. Clocks of dispatchers on several machines
//     must agree to well within a lease.
//   - Delivered events are pruned after Retention; SweepEvery runs Sweep
//     on the same machinery.
//
// At least once means sometimes more than once: after a crash between a
// handler's success and its record, or when recording it failed. Each
// event carries a stable id (Event.ID) to de-duplicate by. Events are
// taken roughly in the order they were recorded, but retries and several
// workers reorder them: a handler that needs an order sorts by ID or by
// At.
//
// On the memory store the outbox lives in memory: Dispatch works within
// the process, and what it has not delivered is lost with the process.
//
// Subscribe, by contrast, runs hooks in the goroutine that made the
// change, once, best effort: use it for what may be lost.
func (m *Manager) Dispatch(ctx context.Context, opts DispatchOptions) error {
	if m.bound != nil {
		return NewError(ErrInvalid, "", "Dispatch cannot run inside RunInTx: call it on the Manager RunInTx was called on")
	}
	if m.outbox == nil {
		return NewError(ErrNotConfigured, "", "the outbox is disabled (Options.DisableOutbox): there is nothing to dispatch")
	}
	o, err := opts.normalize()
	if err != nil {
		return err
	}
	var tag [4]byte
	_, _ = rand.Read(tag[:])
	d := &dispatcher{m: m, o: o, prefix: o.Name + "/" + hex.EncodeToString(tag[:]) + "/"}
	d.run(ctx)
	return nil
}

// dispatcher is one running Dispatch.
type dispatcher struct {
	m      *Manager
	o      DispatchOptions
	prefix string       // of the claims' names
	claims atomic.Int64 // claims made, for their names
}

// wallNow is the dispatchers' clock: the wall clock, not Options.Now,
// since leases and retries are real waits. Stores keep microseconds.
func wallNow() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func (d *dispatcher) run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	if d.o.SweepEvery > 0 {
		wg.Go(func() { d.periodic(ctx, runSweep, d.o.SweepEvery, d.sweep) })
	}
	if d.o.Retention > 0 {
		every := min(max(d.o.Retention/4, d.o.Poll), 10*time.Minute)
		wg.Go(func() { d.periodic(ctx, runPrune, every, d.prune) })
	}
	finished := make(chan struct{}, d.o.Workers) // a delivery ended
	busy := 0
	poll := time.NewTimer(0)
	defer poll.Stop()
	for {
		for drained := false; !drained; { // count the deliveries that ended
			select {
			case <-finished:
				busy--
			default:
				drained = true
			}
		}
		if ctx.Err() != nil {
			return
		}
		woken := d.m.outbox.waiter() // before the claim: a commit during it is not missed
		idle := d.o.Workers - busy
		claimed, want := 0, min(idle, d.o.Batch)
		if want > 0 {
			msgs, err := d.claim(ctx, want)
			if err != nil && ctx.Err() == nil {
				d.m.log.ErrorContext(ctx, "partner: dispatch: claiming events failed; trying again at the next poll", "dispatcher", d.o.Name, "err", err)
			}
			claimed = len(msgs)
			for _, msg := range msgs {
				busy++
				wg.Go(func() {
					defer func() { finished <- struct{}{} }()
					d.deliver(ctx, msg)
				})
			}
			if err == nil && claimed == want && busy < d.o.Workers {
				continue // there may be more due
			}
		}
		if !poll.Stop() {
			select {
			case <-poll.C:
			default:
			}
		}
		poll.Reset(d.o.Poll)
		select {
		case <-ctx.Done():
			return
		case <-finished:
			busy--
		case <-woken:
		case <-poll.C:
		}
	}
}

// claim claims at most n due events for this dispatcher.
func (d *dispatcher) claim(ctx context.Context, n int) ([]OutboxMessage, error) {
	var msgs []OutboxMessage
	name := fmt.Sprintf("%s%d", d.prefix, d.claims.Add(1))
	err := d.m.store.Update(ctx, func(ctx context.Context, tx Tx) error {
		now := wallNow()
		var err error
		msgs, err = tx.ClaimOutbox(ctx, OutboxClaim{Claim: name, Now: now, Until: now.Add(d.o.Lease), Limit: n})
		return err
	})
	if err != nil {
		return nil, err
	}
	return msgs, nil
}

// deliver hands one claimed event to the handler and records the outcome.
func (d *dispatcher) deliver(ctx context.Context, msg OutboxMessage) {
	e, failed := msg.Event()
	if failed == nil {
		hctx, cancel := context.WithDeadline(ctx, msg.LockedUntil.Add(-d.o.Lease/5))
		hctx = context.WithValue(hctx, deliveryKey{}, Delivery{Attempt: msg.Attempts, Claim: msg.Claim, LeaseEnds: msg.LockedUntil})
		failed = d.call(hctx, e)
		cancel()
	}
	// The outcome is recorded even when ctx ended meanwhile: a delivery
	// that happened should not happen again. It is recorded for this
	// claim only, so it may take what is left of the lease, or a fifth of
	// a lease when the handler overran it.
	end := msg.LockedUntil
	if soon := time.Now().Add(d.o.Lease / 5); soon.After(end) {
		end = soon
	}
	sctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), end)
	defer cancel()
	var held bool
	var err error
	if failed == nil {
		err = d.m.store.Update(sctx, func(ctx context.Context, tx Tx) (err error) {
			held, err = tx.CompleteOutbox(ctx, msg.ID, msg.Claim, wallNow())
			return err
		})
	} else {
		wait := d.backoff(msg.Attempts)
		if ctx.Err() == nil {
			d.m.log.WarnContext(ctx, "partner: dispatch: the handler failed; the event will be delivered again",
				"dispatcher", d.o.Name, "event", msg.ID, "kind", msg.Kind, "attempt", msg.Attempts, "retry_in", wait, "err", failed)
		}
		lastErr := clip(failed.Error(), maxLastError)
		err = d.m.store.Update(sctx, func(ctx context.Context, tx Tx) (err error) {
			held, err = tx.RetryOutbox(ctx, msg.ID, msg.Claim, wallNow().Add(wait), lastErr)
			return err
		})
	}
	switch {
	case err != nil:
		d.m.log.ErrorContext(ctx, "partner: dispatch: recording a delivery's outcome failed; the event will be delivered again when its lease ends",
			"dispatcher", d.o.Name, "event", msg.ID, "kind", msg.Kind, "delivered", failed == nil, "err", err)
	case !held:
		d.m.log.WarnContext(ctx, "partner: dispatch: the claim's lease ran out before the outcome was recorded; another dispatcher holds the event",
			"dispatcher", d.o.Name, "event", msg.ID, "kind", msg.Kind, "claim", msg.Claim)
	}
}

// call runs the handler, turning a panic into an error.
func (d *dispatcher) call(ctx context.Context, e Event) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the handler panicked: %v", p)
		}
	}()
	return d.o.Handler(ctx, e)
}

// backoff is the wait after the attempt-th failed attempt.
func (d *dispatcher) backoff(attempt int) time.Duration {
	wait := d.o.Backoff
	for i := 1; i < attempt && wait < d.o.MaxBackoff; i++ {
		wait *= 2
	}
	wait = min(wait, d.o.MaxBackoff)
	return wait + mrand.N(wait/10+1)
}

// periodic runs fn about every period, claimed through ClaimRun so that
// of several dispatchers one runs it per period.
func (d *dispatcher) periodic(ctx context.Context, name string, every time.Duration, fn func(ctx context.Context)) {
	check := min(every, time.Minute)
	t := time.NewTicker(check)
	defer t.Stop()
	for {
		var due bool
		err := d.m.store.Update(ctx, func(ctx context.Context, tx Tx) (err error) {
			now := wallNow()
			due, err = tx.ClaimRun(ctx, name, now, now.Add(every))
			return err
		})
		switch {
		case err != nil && ctx.Err() == nil:
			d.m.log.ErrorContext(ctx, "partner: dispatch: scheduling a periodic task failed", "dispatcher", d.o.Name, "task", name, "err", err)
		case due:
			fn(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (d *dispatcher) sweep(ctx context.Context) {
	if _, err := d.m.Sweep(ctx); err != nil && ctx.Err() == nil {
		d.m.log.ErrorContext(ctx, "partner: dispatch: the expiry sweep failed; it runs again next period", "dispatcher", d.o.Name, "err", err)
	}
}

func (d *dispatcher) prune(ctx context.Context) {
	before := wallNow().Add(-d.o.Retention)
	for {
		var n int
		err := d.m.store.Update(ctx, func(ctx context.Context, tx Tx) (err error) {
			n, err = tx.PruneOutbox(ctx, before, pruneBatch)
			return err
		})
		if err != nil {
			if ctx.Err() == nil {
				d.m.log.ErrorContext(ctx, "partner: dispatch: pruning delivered events failed", "dispatcher", d.o.Name, "err", err)
			}
			return
		}
		if n < pruneBatch {
			return
		}
	}
}

// clip makes s storable as text (valid UTF-8, no NUL) and shortens it to
// at most n characters.
func clip(s string, n int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
