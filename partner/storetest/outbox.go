package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/partner"
)

// The outbox's conformance cases (partner.OutboxReader, partner.OutboxTx).
var outboxTests = []struct {
	name string
	fn   func(t *testing.T, s partner.Store)
}{
	{"Outbox/AppendListAndFilter", testOutboxAppend},
	{"Outbox/ClaimDueInIDOrder", testOutboxClaim},
	{"Outbox/CompleteAndRetryByClaim", testOutboxSettle},
	{"Outbox/PruneDeliveredOnly", testOutboxPrune},
	{"Outbox/IDsNeverReused", testOutboxIDsNeverReused},
	{"Outbox/RollbackDiscards", testOutboxRollback},
	{"Outbox/ClaimRunOncePerPeriod", testClaimRun},
	{"Concurrency/OneClaimPerOutboxMessage", testConcurrentOutboxClaims},
	{"Concurrency/OneRunnerPerPeriod", testConcurrentClaimRun},
}

// NewOutboxMessage returns an outbox message ready for Tx.AppendOutbox,
// its payload a small JSON document naming n.
func NewOutboxMessage(n int) partner.OutboxMessage {
	return partner.OutboxMessage{Kind: partner.EventCustomerAdded, CreatedAt: T0.Add(time.Duration(n) * time.Second),
		Payload: fmt.Appendf(nil, `{"n":%d,"text":"Straße \"%d\" ✓"}`, n, n)}
}

func appendOutbox(t *testing.T, s partner.Store, n int) []partner.OutboxMessage {
	t.Helper()
	msgs := make([]partner.OutboxMessage, n)
	for i := range msgs {
		msgs[i] = NewOutboxMessage(i)
	}
	update(t, s, func(tx partner.Tx) error { return tx.AppendOutbox(ctx, msgs) })
	return msgs
}

func listOutbox(t *testing.T, s partner.Store, f partner.OutboxFilter) ([]partner.OutboxMessage, int) {
	t.Helper()
	var out []partner.OutboxMessage
	var total int
	view(t, s, func(r partner.Reader) (err error) {
		out, total, err = r.Outbox(ctx, f)
		return err
	})
	return out, total
}

func claimOutbox(t *testing.T, s partner.Store, claim string, now time.Time, lease time.Duration, limit int) []partner.OutboxMessage {
	t.Helper()
	var out []partner.OutboxMessage
	update(t, s, func(tx partner.Tx) (err error) {
		out, err = tx.ClaimOutbox(ctx, partner.OutboxClaim{Claim: claim, Now: now, Until: now.Add(lease), Limit: limit})
		return err
	})
	return out
}

func ids(msgs []partner.OutboxMessage) []int64 {
	out := []int64{}
	for _, m := range msgs {
		out = append(out, m.ID)
	}
	return out
}

// testOutboxAppend: appended messages get ascending ids and come back
// byte for byte, pending, in id order, paged and filtered.
func testOutboxAppend(t *testing.T, s partner.Store) {
	first := appendOutbox(t, s, 3)
	second := []partner.OutboxMessage{NewOutboxMessage(10), NewOutboxMessage(11)}
	second[1].Kind = partner.EventStatusChanged
	update(t, s, func(tx partner.Tx) error { return tx.AppendOutbox(ctx, second) })
	all := append(append([]partner.OutboxMessage{}, first...), second...)
	for i, m := range all {
		require.Positive(t, m.ID)
		if i > 0 {
			require.Greater(t, m.ID, all[i-1].ID, "ids ascend in the order appended")
		}
		require.Zero(t, m.Attempts)
		require.True(t, m.NextAt.IsZero() && m.LockedUntil.IsZero() && m.DeliveredAt.IsZero())
		require.Empty(t, m.Claim+m.LastError)
	}

	got, total := listOutbox(t, s, partner.OutboxFilter{})
	require.Equal(t, 5, total)
	require.Empty(t, cmp.Diff(all, got), "messages come back as appended, payload byte for byte")
	require.JSONEq(t, `{"n":11,"text":"Straße \"11\" ✓"}`, string(got[4].Payload))

	got, total = listOutbox(t, s, partner.OutboxFilter{Page: partner.Page{Offset: 1, Limit: 2}})
	require.Equal(t, 5, total)
	require.Equal(t, ids(all[1:3]), ids(got))
	got, total = listOutbox(t, s, partner.OutboxFilter{State: partner.OutboxPending, Page: partner.Page{Offset: 3}})
	require.Equal(t, 5, total)
	require.Equal(t, ids(all[3:]), ids(got))
	got, total = listOutbox(t, s, partner.OutboxFilter{State: partner.OutboxDelivered})
	require.Zero(t, total)
	require.Empty(t, got)
}

// testOutboxClaim: a claim takes the due, unclaimed messages by ascending
// id, up to its limit, for its lease; a message whose lease ended or
// whose retry fell due is claimable again.
func testOutboxClaim(t *testing.T, s partner.Store) {
	msgs := appendOutbox(t, s, 4)
	a := claimOutbox(t, s, "a", T0, time.Minute, 2)
	require.Equal(t, ids(msgs[:2]), ids(a))
	for _, m := range a {
		require.Equal(t, "a", m.Claim)
		require.Equal(t, 1, m.Attempts)
		require.True(t, m.LockedUntil.Equal(T0.Add(time.Minute)), "lease until %v", m.LockedUntil)
		require.Equal(t, string(msgs[0].Payload), string(a[0].Payload))
	}
	b := claimOutbox(t, s, "b", T0, time.Minute, 10)
	require.Equal(t, ids(msgs[2:]), ids(b), "the next claim takes the rest, never a held message")
	require.Empty(t, claimOutbox(t, s, "c", T0.Add(30*time.Second), time.Minute, 10), "all held")

	// The lease of a ended at T0+1m: its messages are claimable again.
	d := claimOutbox(t, s, "d", T0.Add(time.Minute), time.Minute, 1)
	require.Equal(t, ids(msgs[:1]), ids(d))
	require.Equal(t, 2, d[0].Attempts, "a second claim is a second attempt")
	require.Equal(t, "d", d[0].Claim)

	// msgs[1], held by a, fails and waits two hours.
	var ok bool
	update(t, s, func(tx partner.Tx) (err error) {
		ok, err = tx.RetryOutbox(ctx, msgs[1].ID, "a", T0.Add(2*time.Hour), "webhook down")
		return err
	})
	require.True(t, ok)
	e := claimOutbox(t, s, "e", T0.Add(61*time.Second), time.Minute, 10)
	require.Equal(t, ids(msgs[2:]), ids(e), "held (msgs[0]) and waiting (msgs[1]) messages are not due")
	f := claimOutbox(t, s, "f", T0.Add(2*time.Hour), time.Minute, 10)
	require.Equal(t, ids(msgs[:4]), ids(f), "a retry is due at its time, the other leases ended")
	require.Equal(t, []int{3, 2, 3, 3}, []int{f[0].Attempts, f[1].Attempts, f[2].Attempts, f[3].Attempts})
	require.Equal(t, "webhook down", f[1].LastError, "the last error stays until the next outcome")
}

// testOutboxSettle: only the claim holding a pending message completes
// or releases it.
func testOutboxSettle(t *testing.T, s partner.Store) {
	msgs := appendOutbox(t, s, 3)
	claimOutbox(t, s, "a", T0, time.Minute, 3)
	settle := func(fn func(tx partner.Tx) (bool, error)) bool {
		t.Helper()
		var ok bool
		update(t, s, func(tx partner.Tx) (err error) {
			ok, err = fn(tx)
			return err
		})
		return ok
	}
	complete := func(id int64, claim string, at time.Time) bool {
		return settle(func(tx partner.Tx) (bool, error) { return tx.CompleteOutbox(ctx, id, claim, at) })
	}
	retry := func(id int64, claim string, next time.Time, msg string) bool {
		return settle(func(tx partner.Tx) (bool, error) { return tx.RetryOutbox(ctx, id, claim, next, msg) })
	}

	require.False(t, complete(msgs[0].ID, "b", T0), "another claim's message")
	require.False(t, complete(msgs[0].ID, "", T0), "no claim")
	require.False(t, complete(msgs[2].ID+1000, "a", T0), "no such message")
	require.False(t, retry(msgs[0].ID, "b", T0, "x"))
	require.True(t, complete(msgs[0].ID, "a", T0.Add(time.Second)))
	require.False(t, complete(msgs[0].ID, "a", T0.Add(2*time.Second)), "delivered already")
	require.False(t, retry(msgs[0].ID, "a", T0, "x"), "delivered already")

	require.True(t, retry(msgs[1].ID, "a", T0.Add(time.Hour), "status 503 ✗"))
	require.False(t, complete(msgs[1].ID, "a", T0), "released: the claim holds it no more")

	got, total := listOutbox(t, s, partner.OutboxFilter{State: partner.OutboxDelivered})
	require.Equal(t, 1, total)
	require.Equal(t, msgs[0].ID, got[0].ID)
	require.True(t, got[0].DeliveredAt.Equal(T0.Add(time.Second)))
	require.Empty(t, got[0].Claim)
	require.True(t, got[0].LockedUntil.IsZero())

	got, _ = listOutbox(t, s, partner.OutboxFilter{State: partner.OutboxPending})
	require.Equal(t, ids(msgs[1:]), ids(got))
	require.Equal(t, "status 503 ✗", got[0].LastError)
	require.True(t, got[0].NextAt.Equal(T0.Add(time.Hour)))
	require.Empty(t, got[0].Claim)
	require.Equal(t, "a", got[1].Claim, "untouched")

	// A delivered message is never claimed again.
	c := claimOutbox(t, s, "c", T0.Add(time.Hour), time.Minute, 10)
	require.Equal(t, ids(msgs[1:]), ids(c))
	// A claim whose lease ended still completes its message while no
	// other claim took it: the delivery happened.
	require.True(t, complete(msgs[1].ID, "c", T0.Add(3*time.Hour)))
	// Once another claim took it, the old claim no longer acts on it.
	d := claimOutbox(t, s, "d", T0.Add(4*time.Hour), time.Minute, 10)
	require.Equal(t, ids(msgs[2:]), ids(d))
	require.False(t, complete(msgs[2].ID, "c", T0.Add(4*time.Hour)))
	require.False(t, retry(msgs[2].ID, "c", T0.Add(4*time.Hour), "late"))
	require.True(t, retry(msgs[2].ID, "d", T0.Add(5*time.Hour), "again"))
}

func deliverAll(t *testing.T, s partner.Store, msgs []partner.OutboxMessage, claim string, at func(i int) time.Time) {
	t.Helper()
	claimed := claimOutbox(t, s, claim, T0, time.Minute, len(msgs)+10)
	for i, m := range msgs {
		require.Contains(t, ids(claimed), m.ID)
		update(t, s, func(tx partner.Tx) error {
			ok, err := tx.CompleteOutbox(ctx, m.ID, claim, at(i))
			require.True(t, ok)
			return err
		})
	}
}

// testOutboxPrune: pruning deletes delivered messages older than the
// cut, lowest ids first, within its limit, and never a pending one.
func testOutboxPrune(t *testing.T, s partner.Store) {
	msgs := appendOutbox(t, s, 5)
	deliverAll(t, s, msgs[:3], "a", func(i int) time.Time { return T0.Add(time.Duration(i) * time.Hour) })
	prune := func(before time.Time, limit int) int {
		t.Helper()
		var n int
		update(t, s, func(tx partner.Tx) (err error) {
			n, err = tx.PruneOutbox(ctx, before, limit)
			return err
		})
		return n
	}
	require.Equal(t, 0, prune(T0, 10), "delivered at the cut: kept")
	require.Equal(t, 1, prune(T0.Add(time.Hour), 10))
	require.Equal(t, 1, prune(T0.Add(100*time.Hour), 1), "within the limit")
	got, _ := listOutbox(t, s, partner.OutboxFilter{})
	require.Equal(t, ids(msgs[2:]), ids(got), "lowest ids first")
	require.Equal(t, 1, prune(T0.Add(100*time.Hour), 10))
	require.Equal(t, 0, prune(T0.Add(100*time.Hour), 10))
	got, _ = listOutbox(t, s, partner.OutboxFilter{})
	require.Equal(t, ids(msgs[3:]), ids(got), "pending messages are never pruned")
}

// testOutboxIDsNeverReused: after the messages with the highest ids are
// pruned, new ones still get higher ids (handlers de-duplicate by them).
func testOutboxIDsNeverReused(t *testing.T, s partner.Store) {
	msgs := appendOutbox(t, s, 3)
	deliverAll(t, s, msgs, "a", func(int) time.Time { return T0 })
	update(t, s, func(tx partner.Tx) error {
		n, err := tx.PruneOutbox(ctx, T0.Add(time.Hour), 10)
		require.Equal(t, 3, n)
		return err
	})
	next := appendOutbox(t, s, 1)
	require.Greater(t, next[0].ID, msgs[2].ID)
}

// testOutboxRollback: messages appended in a transaction that rolls back
// are gone with it.
func testOutboxRollback(t *testing.T, s partner.Store) {
	boom := errors.New("the change failed")
	err := s.Update(ctx, func(ctx context.Context, tx partner.Tx) error {
		msgs := []partner.OutboxMessage{NewOutboxMessage(1)}
		require.NoError(t, tx.AppendOutbox(ctx, msgs))
		got, total, err := tx.Outbox(ctx, partner.OutboxFilter{})
		require.NoError(t, err)
		require.Equal(t, 1, total, "read your writes")
		require.Equal(t, msgs[0].ID, got[0].ID)
		return boom
	})
	require.ErrorIs(t, err, boom)
	got, total := listOutbox(t, s, partner.OutboxFilter{})
	require.Zero(t, total)
	require.Empty(t, got)

	// A claim rolled back leaves the messages unclaimed.
	msgs := appendOutbox(t, s, 2)
	err = s.Update(ctx, func(ctx context.Context, tx partner.Tx) error {
		c, err := tx.ClaimOutbox(ctx, partner.OutboxClaim{Claim: "x", Now: T0, Until: T0.Add(time.Hour), Limit: 10})
		require.NoError(t, err)
		require.Len(t, c, 2)
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.Equal(t, ids(msgs), ids(claimOutbox(t, s, "y", T0, time.Minute, 10)))
}

// testClaimRun: one run per period; a rolled-back claim does not count.
func testClaimRun(t *testing.T, s partner.Store) {
	run := func(name string, now, next time.Time) bool {
		t.Helper()
		var ok bool
		update(t, s, func(tx partner.Tx) (err error) {
			ok, err = tx.ClaimRun(ctx, name, now, next)
			return err
		})
		return ok
	}
	require.True(t, run("sweep", T0, T0.Add(time.Hour)), "never run: due")
	require.False(t, run("sweep", T0, T0.Add(time.Hour)))
	require.False(t, run("sweep", T0.Add(59*time.Minute), T0.Add(2*time.Hour)))
	require.True(t, run("prune", T0, T0.Add(time.Minute)), "each name on its own")
	require.True(t, run("sweep", T0.Add(time.Hour), T0.Add(2*time.Hour)), "due at its time")

	boom := errors.New("rolled back")
	err := s.Update(ctx, func(ctx context.Context, tx partner.Tx) error {
		ok, err := tx.ClaimRun(ctx, "sweep", T0.Add(2*time.Hour), T0.Add(3*time.Hour))
		require.NoError(t, err)
		require.True(t, ok)
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.True(t, run("sweep", T0.Add(2*time.Hour), T0.Add(3*time.Hour)), "the rolled-back claim did not count")
}

// testConcurrentOutboxClaims: claimers in many goroutines at once never
// take the same message.
func testConcurrentOutboxClaims(t *testing.T, s partner.Store) {
	const n, claimers = 60, 8
	msgs := make([]partner.OutboxMessage, n)
	for i := range msgs {
		msgs[i] = NewOutboxMessage(i)
	}
	update(t, s, func(tx partner.Tx) error { return tx.AppendOutbox(ctx, msgs) })
	var mu sync.Mutex
	seen := map[int64]string{}
	var errs []error
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, err)
	}
	var wg sync.WaitGroup
	for c := range claimers {
		wg.Go(func() {
			for round := 0; ; round++ {
				name := fmt.Sprintf("c%d-%d", c, round)
				var got []partner.OutboxMessage
				err := s.Update(ctx, func(ctx context.Context, tx partner.Tx) (err error) {
					got, err = tx.ClaimOutbox(ctx, partner.OutboxClaim{Claim: name, Now: T0, Until: T0.Add(time.Hour), Limit: 3})
					return err
				})
				if err != nil {
					fail(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, m := range got {
					if prev, dup := seen[m.ID]; dup {
						errs = append(errs, fmt.Errorf("message %d claimed by %s and by %s", m.ID, prev, name))
					}
					seen[m.ID] = name
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	require.Len(t, seen, n, "every message claimed once")
}

// testConcurrentClaimRun: of many claimers of one due run, one wins.
func testConcurrentClaimRun(t *testing.T, s partner.Store) {
	for round := range 2 { // the first run of a name, then a due one
		now := T0.Add(time.Duration(round) * time.Hour)
		ok, lost := Race(t, 8, errNotWon, func() error {
			return s.Update(ctx, func(ctx context.Context, tx partner.Tx) error {
				won, err := tx.ClaimRun(ctx, "sweep", now, now.Add(time.Hour))
				if err == nil && !won {
					return errNotWon
				}
				return err
			})
		})
		require.Equal(t, 1, ok, "round %d: one claimer runs the task", round)
		require.Equal(t, 7, lost)
	}
}

var errNotWon = errors.New("another claimer runs the task")
