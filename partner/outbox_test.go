package partner_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
)

// outbox returns every message of the Manager's outbox, decoded.
func outboxEvents(t *testing.T, m *partner.Manager) ([]partner.OutboxMessage, []partner.Event) {
	t.Helper()
	var msgs []partner.OutboxMessage
	for off := 0; ; off += partner.MaxLimit {
		page, total, err := m.Outbox(context.Background(), partner.OutboxFilter{Page: partner.Page{Offset: off, Limit: partner.MaxLimit}})
		require.NoError(t, err)
		msgs = append(msgs, page...)
		if len(msgs) >= total {
			break
		}
	}
	evs := make([]partner.Event, len(msgs))
	for i, msg := range msgs {
		var err error
		evs[i], err = msg.Event()
		require.NoError(t, err)
		require.Equal(t, msg.Kind, evs[i].Kind)
	}
	return msgs, evs
}

// Every event is recorded in the outbox in the transaction of its change:
// the outbox holds exactly the events the hooks heard of, with the same
// ids, and nothing of a refused change, an aborted batch or a store's
// rolled-back try.
func TestEventsRecordedWithTheirChange(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		_, before := outboxEvents(t, e.m)
		require.Len(t, before, len(standardProducts), "the catalogue's events")

		f := e.fixture(t, partner.MSP, partner.Active)
		_, err := e.m.Suspend(e.ctx, f.p.ID, 0)
		require.NoError(t, err)
		_, err = e.m.Suspend(e.ctx, f.p.ID, 0) // refused: already suspended
		require.ErrorIs(t, err, partner.ErrTransition)
		err = e.m.RunInTx(e.ctx, func(ctx context.Context, m *partner.Manager) error {
			if _, err := m.Reactivate(ctx, f.p.ID, 0); err != nil {
				return err
			}
			return errors.New("the host changes its mind")
		})
		require.Error(t, err)
		err = e.m.RunInTx(e.ctx, func(ctx context.Context, m *partner.Manager) error {
			if _, err := m.Reactivate(ctx, f.p.ID, 0); err != nil {
				return err
			}
			_, err := m.AddCustomer(ctx, f.p.ID, partner.CustomerParams{Name: "Batch customer"})
			return err
		})
		require.NoError(t, err)

		msgs, evs := outboxEvents(t, e.m)
		heard := append([]partner.Event{}, e.events...)
		require.Empty(t, cmp.Diff(heard, evs[len(before):]), "the outbox holds what the hooks heard, ids included")
		for i, msg := range msgs {
			require.Positive(t, msg.ID)
			if i > 0 {
				require.Greater(t, msg.ID, msgs[i-1].ID)
			}
			require.True(t, msg.CreatedAt.Equal(evs[i].At))
		}
		n := len(evs)
		require.Equal(t, []partner.EventKind{partner.EventStatusChanged, partner.EventCustomerAdded},
			[]partner.EventKind{evs[n-2].Kind, evs[n-1].Kind}, "the batch's events, in order")

		// A store that runs the transaction twice records the events once.
		m := partner.NewManager(partner.Options{Store: retryOnce{e.m.Store()}, Now: e.clock.Now})
		_, err = m.AddCustomer(e.ctx, f.p.ID, partner.CustomerParams{Name: "Retried customer"})
		require.NoError(t, err)
		_, after := outboxEvents(t, e.m)
		require.Len(t, after, n+1)
		require.Equal(t, partner.EventCustomerAdded, after[n].Kind)
	})
}

// The expiry notices of Sweep go through the outbox like every event.
func TestSweepNoticesRecordedInTheOutbox(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		_, err := e.m.AssignLicenses(e.ctx, f.p.ID, partner.AssignLicensesParams{Grants: []license.Grant{{
			Product: "Endpoint Security", Units: 5, Kind: license.Full, Start: t0.AddDate(0, -1, 0), Expiry: t0.AddDate(0, 0, 3)}}})
		require.NoError(t, err)
		res, err := e.m.Sweep(e.ctx)
		require.NoError(t, err)
		require.Equal(t, 1, res.Expiring)
		_, evs := outboxEvents(t, e.m)
		last := evs[len(evs)-1]
		require.Equal(t, partner.EventLicenseExpiring, last.Kind)
		require.Equal(t, 3, last.DaysLeft)
		require.Equal(t, e.events[len(e.events)-1], last)
	})
}

// DisableOutbox records nothing, and Dispatch then has nothing to do.
func TestDisableOutbox(t *testing.T) {
	var heard []partner.Event
	m := partner.NewManager(partner.Options{DisableOutbox: true, Now: func() time.Time { return t0 }})
	m.Subscribe(func(_ context.Context, ev partner.Event) error { heard = append(heard, ev); return nil })
	_, err := m.CreateProduct(context.Background(), license.Product{Name: "Endpoint Security", UnitType: license.Seats})
	require.NoError(t, err)
	require.Len(t, heard, 1)
	require.Zero(t, heard[0].ID)
	msgs, total, err := m.Outbox(context.Background(), partner.OutboxFilter{})
	require.NoError(t, err)
	require.Zero(t, total)
	require.Empty(t, msgs)
}

func TestOutboxFilterChecked(t *testing.T) {
	m := partner.NewManager(partner.Options{})
	_, _, err := m.Outbox(context.Background(), partner.OutboxFilter{State: "failed"})
	requireErr(t, err, partner.ErrInvalid, "state")
	_, _, err = m.Outbox(context.Background(), partner.OutboxFilter{Page: partner.Page{Limit: partner.MaxLimit + 1}})
	requireErr(t, err, partner.ErrInvalid, "limit")
}

// recorder is a Dispatch handler that records every delivery.
type recorder struct {
	mu         sync.Mutex
	deliveries []delivery
	fail       func(e partner.Event, attempt int) error // nil: every delivery succeeds
}

type delivery struct {
	id         int64
	kind       partner.EventKind
	attempt    int
	claim      string
	start, end time.Time
	err        error
}

func (r *recorder) handle(ctx context.Context, e partner.Event) error {
	d, ok := partner.DeliveryFrom(ctx)
	if !ok {
		return errors.New("no delivery in the handler's context")
	}
	rec := delivery{id: e.ID, kind: e.Kind, attempt: d.Attempt, claim: d.Claim, start: time.Now()}
	if r.fail != nil {
		rec.err = r.fail(e, d.Attempt)
	}
	rec.end = time.Now()
	r.mu.Lock()
	r.deliveries = append(r.deliveries, rec)
	r.mu.Unlock()
	if rec.err != nil && rec.err.Error() == "panic" {
		panic("the handler's bug")
	}
	return rec.err
}

// delivered returns the ids delivered successfully, with their counts.
func (r *recorder) delivered() map[int64]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[int64]int{}
	for _, d := range r.deliveries {
		if d.err == nil {
			out[d.id]++
		}
	}
	return out
}

func (r *recorder) of(id int64) []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []delivery
	for _, d := range r.deliveries {
		if d.id == id {
			out = append(out, d)
		}
	}
	return out
}

// dispatch runs Dispatch in the background until the test ends.
func dispatch(t *testing.T, m *partner.Manager, opts partner.DispatchOptions) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Dispatch(ctx, opts) }()
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			return errors.New("Dispatch did not return within 30 s of its context's end")
		}
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 30 s: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func pendingCount(t *testing.T, m *partner.Manager) int {
	t.Helper()
	_, n, err := m.Outbox(context.Background(), partner.OutboxFilter{State: partner.OutboxPending, Page: partner.Page{Limit: 1}})
	require.NoError(t, err)
	return n
}

// Dispatch delivers every event of the outbox, the ones recorded before
// it started and the ones after, once each when nothing fails, and
// records each delivery.
func TestDispatchDeliversEveryEvent(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active) // before Dispatch starts
		rec := &recorder{}
		stop := dispatch(t, e.m, partner.DispatchOptions{Handler: rec.handle, Poll: 10 * time.Millisecond})
		for i := range 5 {
			_, err := e.m.AddCustomer(e.ctx, f.p.ID, partner.CustomerParams{Name: fmt.Sprint("Customer ", i)})
			require.NoError(t, err)
		}
		eventually(t, "every event delivered", func() bool { return pendingCount(t, e.m) == 0 })
		require.NoError(t, stop())

		msgs, evs := outboxEvents(t, e.m)
		got := rec.delivered()
		require.Len(t, got, len(msgs))
		for i, msg := range msgs {
			require.Equal(t, 1, got[msg.ID], "event %d (%s) delivered once", msg.ID, msg.Kind)
			require.Equal(t, 1, msg.Attempts)
			require.False(t, msg.DeliveredAt.IsZero())
			require.Empty(t, msg.Claim)
			d := rec.of(msg.ID)[0]
			require.Equal(t, evs[i].Kind, d.kind)
			require.Equal(t, 1, d.attempt)
			require.NotEmpty(t, d.claim)
		}
	})
}

// A failing (or panicking) handler gets its event again after a backoff
// that doubles with each failure, and the other events are delivered
// meanwhile, even by a single worker.
func TestDispatchRetriesWithBackoffWithoutBlockingOthers(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		const backoff = 100 * time.Millisecond
		f := e.fixture(t, partner.MSP, partner.Active)
		p, err := e.m.Suspend(e.ctx, f.p.ID, 0)
		require.NoError(t, err)
		_, evs := outboxEvents(t, e.m)
		failing := evs[len(evs)-1]
		require.Equal(t, partner.EventStatusChanged, failing.Kind)
		// Events recorded after the failing one go through while it waits.
		for i := range 3 {
			city := fmt.Sprint("City ", i)
			_, err := e.m.UpdateProfile(e.ctx, p.ID, partner.ProfilePatch{City: &city})
			require.NoError(t, err)
		}

		rec := &recorder{fail: func(ev partner.Event, attempt int) error {
			switch {
			case ev.ID != failing.ID || attempt > 3:
				return nil
			case attempt == 2:
				return errors.New("panic")
			}
			return fmt.Errorf("webhook down (attempt %d)", attempt)
		}}
		dispatch(t, e.m, partner.DispatchOptions{Handler: rec.handle, Workers: 1, Poll: 5 * time.Millisecond,
			Backoff: backoff, MaxBackoff: time.Minute})
		eventually(t, "every event delivered", func() bool { return pendingCount(t, e.m) == 0 })

		tries := rec.of(failing.ID)
		require.Len(t, tries, 4)
		for i, d := range tries {
			require.Equal(t, i+1, d.attempt)
			if i > 0 {
				gap := d.start.Sub(tries[i-1].end)
				require.GreaterOrEqual(t, gap, backoff<<(i-1), "attempt %d came %v after the failure", i+1, gap)
			}
		}
		msgs, _ := outboxEvents(t, e.m)
		for _, msg := range msgs {
			switch {
			case msg.ID == failing.ID:
				require.Equal(t, 4, msg.Attempts)
				require.Equal(t, "webhook down (attempt 3)", msg.LastError)
			case msg.ID > failing.ID:
				require.Equal(t, 1, msg.Attempts)
				first := rec.of(msg.ID)[0]
				require.True(t, first.end.Before(tries[3].start), "event %d waited for the failing one", msg.ID)
			}
		}
		require.Contains(t, rec.of(failing.ID)[1].err.Error(), "panic")
	})
}

// Delivered events are pruned once they are older than the retention;
// an event never delivered is kept.
func TestDispatchPrunesAfterRetention(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		p, err := e.m.Suspend(e.ctx, f.p.ID, 0)
		require.NoError(t, err)
		_, evs := outboxEvents(t, e.m)
		stuck := evs[len(evs)-1].ID
		rec := &recorder{fail: func(ev partner.Event, _ int) error {
			if ev.ID == stuck {
				return errors.New("never taken")
			}
			return nil
		}}
		const retention = 300 * time.Millisecond
		dispatch(t, e.m, partner.DispatchOptions{Handler: rec.handle, Poll: 10 * time.Millisecond,
			Backoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Retention: retention})
		eventually(t, "the others delivered", func() bool { return len(rec.delivered()) == len(evs)-1 })
		// Each delivered event stays until its retention has passed after
		// its delivery, and goes some time after.
		listDelivered := func() map[int64]time.Time {
			msgs, _, err := e.m.Outbox(e.ctx, partner.OutboxFilter{State: partner.OutboxDelivered, Page: partner.Page{Limit: partner.MaxLimit}})
			require.NoError(t, err)
			out := map[int64]time.Time{}
			for _, msg := range msgs {
				out[msg.ID] = msg.DeliveredAt
			}
			return out
		}
		tracked := listDelivered()
		require.NotEmpty(t, tracked)
		eventually(t, "delivered events pruned", func() bool {
			present := listDelivered()
			seen := time.Now()
			for id, at := range tracked {
				if _, ok := present[id]; !ok {
					require.False(t, seen.Before(at.Add(retention)), "event %d pruned before its retention", id)
					delete(tracked, id)
				}
			}
			return len(tracked) == 0
		})
		msgs, _ := outboxEvents(t, e.m)
		require.Len(t, msgs, 1, "the pending event is kept")
		require.Equal(t, stuck, msgs[0].ID)
		require.Greater(t, msgs[0].Attempts, 1)

		// New events get new ids after the pruning.
		_, err = e.m.Reactivate(e.ctx, p.ID, 0)
		require.NoError(t, err)
		msgs, _ = outboxEvents(t, e.m)
		require.Greater(t, msgs[len(msgs)-1].ID, evs[len(evs)-1].ID)
	})
}

// An event held by a dispatcher that died (a claim whose outcome is
// never recorded) is delivered by another once the lease has run out,
// not before.
func TestDispatchTakesOverAnExpiredLease(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		const lease = 400 * time.Millisecond
		var dead []partner.OutboxMessage
		require.NoError(t, e.m.Store().Update(e.ctx, func(ctx context.Context, tx partner.Tx) (err error) {
			now := time.Now()
			dead, err = tx.ClaimOutbox(ctx, partner.OutboxClaim{Claim: "dead dispatcher", Now: now, Until: now.Add(lease), Limit: 100})
			return err
		}))
		require.NotEmpty(t, dead)
		leaseEnd := dead[0].LockedUntil
		rec := &recorder{}
		dispatch(t, e.m, partner.DispatchOptions{Handler: rec.handle, Poll: 10 * time.Millisecond})
		_, err := e.m.AddCustomer(e.ctx, f.p.ID, partner.CustomerParams{Name: "Fresh"})
		require.NoError(t, err)
		eventually(t, "every event delivered", func() bool { return pendingCount(t, e.m) == 0 })
		for _, msg := range dead {
			d := rec.of(msg.ID)
			require.Len(t, d, 1)
			require.False(t, d[0].start.Before(leaseEnd), "event %d delivered at %v, while the dead claim held it until %v", msg.ID, d[0].start, leaseEnd)
			require.Equal(t, 2, d[0].attempt, "the dead claim's attempt counts")
		}
	})
}

// Two dispatchers on one store deliver every event, and never one event
// by both at once.
func TestTwoDispatchersNeverDeliverAnEventTwiceAtOnce(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		rec := &recorder{fail: func(ev partner.Event, attempt int) error {
			time.Sleep(time.Millisecond)
			if ev.ID%7 == 0 && attempt == 1 {
				return errors.New("first try fails")
			}
			return nil
		}}
		other := partner.NewManager(partner.Options{Store: e.m.Store(), Now: e.clock.Now})
		opts := partner.DispatchOptions{Handler: rec.handle, Workers: 3, Poll: 5 * time.Millisecond, Backoff: 5 * time.Millisecond}
		dispatch(t, e.m, opts)
		dispatch(t, other, opts)
		for i := range 40 {
			_, err := e.m.AddCustomer(e.ctx, f.p.ID, partner.CustomerParams{Name: fmt.Sprint("Customer ", i)})
			require.NoError(t, err)
		}
		eventually(t, "every event delivered", func() bool { return pendingCount(t, e.m) == 0 })
		msgs, _ := outboxEvents(t, e.m)
		got := rec.delivered()
		for _, msg := range msgs {
			require.Equal(t, 1, got[msg.ID], "event %d delivered once", msg.ID)
			ds := rec.of(msg.ID)
			for i := 1; i < len(ds); i++ {
				require.False(t, ds[i].start.Before(ds[i-1].end), "event %d: two deliveries overlap", msg.ID)
			}
		}
	})
}

// sweepCounter counts the expiry sweeps run on a store (one DueLicenses
// per sweep of fewer than SweepBatch licences).
type sweepCounter struct {
	partner.Store
	sweeps *atomic.Int64
}

type sweepCountingTx struct {
	partner.Tx
	sweeps *atomic.Int64
}

func (s sweepCounter) Update(ctx context.Context, fn func(context.Context, partner.Tx) error) error {
	return s.Store.Update(ctx, func(ctx context.Context, tx partner.Tx) error { return fn(ctx, sweepCountingTx{tx, s.sweeps}) })
}

func (tx sweepCountingTx) DueLicenses(ctx context.Context, until time.Time, afterID int64, limit int) ([]license.License, error) {
	tx.sweeps.Add(1)
	return tx.Tx.DueLicenses(ctx, until, afterID, limit)
}

// SweepEvery runs the expiry sweep on the dispatchers, once per period
// however many dispatchers run, and its notices are delivered like every
// event.
func TestDispatchSweepsOncePerPeriod(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		lics, err := e.m.AssignLicenses(e.ctx, f.p.ID, partner.AssignLicensesParams{Grants: []license.Grant{{
			Product: "Endpoint Security", Units: 5, Kind: license.Full, Start: t0.AddDate(0, -1, 0), Expiry: t0.AddDate(0, 0, 3)}}})
		require.NoError(t, err)
		var sweeps atomic.Int64
		rec := &recorder{}
		const every, run = 250 * time.Millisecond, 1500 * time.Millisecond
		var stops []func() error
		for range 3 {
			m := partner.NewManager(partner.Options{Store: sweepCounter{e.m.Store(), &sweeps}, Now: e.clock.Now})
			stops = append(stops, dispatch(t, m, partner.DispatchOptions{Handler: rec.handle, Poll: 10 * time.Millisecond, SweepEvery: every}))
		}
		time.Sleep(run)
		for _, stop := range stops {
			require.NoError(t, stop())
		}
		n := int(sweeps.Load())
		require.GreaterOrEqual(t, n, 2, "sweeps run on the dispatchers")
		require.LessOrEqual(t, n, int(run/every)+2, "once a period, not once a period per dispatcher (%d sweeps)", n)

		msgs, evs := outboxEvents(t, e.m)
		var notices int
		for i, ev := range evs {
			if ev.Kind == partner.EventLicenseExpiring {
				notices++
				require.Equal(t, lics.Licenses[0].ID, ev.LicenseID)
				require.False(t, msgs[i].DeliveredAt.IsZero(), "the notice was delivered")
				require.Equal(t, 1, rec.delivered()[msgs[i].ID])
			}
		}
		require.Equal(t, 1, notices)
	})
}

// Stopping Dispatch waits for the deliveries under way and records their
// outcome: an event whose handler finished is not delivered again.
func TestDispatchStopRecordsDeliveriesUnderWay(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		started := make(chan struct{}, 100)
		release := make(chan struct{})
		rec := &recorder{fail: func(partner.Event, int) error {
			started <- struct{}{}
			<-release // finishes although its context ended
			return nil
		}}
		stop := dispatch(t, e.m, partner.DispatchOptions{Handler: rec.handle, Workers: 1, Poll: 10 * time.Millisecond})
		<-started
		stopped := make(chan error, 1)
		go func() { stopped <- stop() }()
		select {
		case <-stopped:
			t.Fatal("Dispatch returned before its delivery under way ended")
		case <-time.After(100 * time.Millisecond):
		}
		close(release)
		require.NoError(t, <-stopped)
		msgs, _ := outboxEvents(t, e.m)
		require.False(t, msgs[0].DeliveredAt.IsZero(), "the delivery that ended is recorded")
		require.Len(t, rec.delivered(), 1, "nothing else was started after the stop")
	})
}

func TestDispatchOptionsChecked(t *testing.T) {
	ctx := context.Background()
	m := partner.NewManager(partner.Options{})
	requireErr(t, m.Dispatch(ctx, partner.DispatchOptions{}), partner.ErrInvalid, "handler")
	ok := func(context.Context, partner.Event) error { return nil }
	requireErr(t, m.Dispatch(ctx, partner.DispatchOptions{Handler: ok, Workers: -1}), partner.ErrInvalid, "workers")
	requireErr(t, m.Dispatch(ctx, partner.DispatchOptions{Handler: ok, Lease: -time.Second}), partner.ErrInvalid, "lease")
	err := m.RunInTx(ctx, func(ctx context.Context, tm *partner.Manager) error {
		return tm.Dispatch(ctx, partner.DispatchOptions{Handler: ok})
	})
	require.ErrorIs(t, err, partner.ErrInvalid)
	off := partner.NewManager(partner.Options{DisableOutbox: true})
	require.ErrorIs(t, off.Dispatch(ctx, partner.DispatchOptions{Handler: ok}), partner.ErrNotConfigured)

	// An ended context ends Dispatch at once, with no error.
	done, cancel := context.WithCancel(ctx)
	cancel()
	require.NoError(t, m.Dispatch(done, partner.DispatchOptions{Handler: ok}))
}
