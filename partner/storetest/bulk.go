package storetest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
)

// newBulkRun returns a run record ready for Tx.CreateBulkRun.
func newBulkRun(key string) partner.BulkRun {
	return partner.BulkRun{Key: key, Actor: "ops@vendor.example", StartedAt: T0, Params: partner.BulkParams{Key: key,
		Filter: &partner.Filter{Status: partner.Active, Name: "Ωmega"},
		Action: partner.BulkAction{Kind: partner.BulkAssignLicenses, Grants: []license.Grant{{ProductID: 3, Product: "Endpoint Security",
			UnitType: "seats", Units: 10, Kind: license.Full, Start: T0, Expiry: T0.AddDate(1, 0, 0)}}}}}
}

// testBulkRuns: a run is stored with its parameters and one pending item
// per partner; items record one outcome each, once; counts, pages,
// outcomes and the pending walk read them back; a run finishes once.
func testBulkRuns(t *testing.T, s partner.Store) {
	p := createPartner(t, s, "Acme", partner.MSP, partner.Active)
	q := createPartner(t, s, "Other", partner.Reseller, partner.Suspended)
	run := newBulkRun("run-1")
	ghost := q.ID + 1000 // in the run, but no partner has it
	update(t, s, func(tx partner.Tx) error { return tx.CreateBulkRun(ctx, &run, []int64{p.ID, q.ID, ghost}) })
	err := s.Update(ctx, func(ctx context.Context, tx partner.Tx) error {
		again := newBulkRun("run-1")
		requireKind(t, tx.CreateBulkRun(ctx, &again, []int64{p.ID}), partner.ErrDuplicate, "key")
		other := newBulkRun("run-2")
		return tx.CreateBulkRun(ctx, &other, nil) // the transaction goes on
	})
	require.NoError(t, err)

	counts := func(r partner.BulkRun) []int {
		return []int{r.Total, r.Pending, r.Done, r.Unchanged, r.Refused, r.Failed}
	}
	view(t, s, func(r partner.Reader) error {
		got, err := r.BulkRun(ctx, "run-1")
		require.NoError(t, err)
		want := run
		want.Total, want.Pending = 3, 3
		require.Empty(t, cmp.Diff(want, got), "the run as stored, its parameters whole")
		empty, err := r.BulkRun(ctx, "run-2")
		require.NoError(t, err)
		require.Equal(t, []int{0, 0, 0, 0, 0, 0}, counts(empty))
		_, err = r.BulkRun(ctx, "RUN-1")
		requireKind(t, err, partner.ErrNotFound, "")
		it, err := r.BulkItem(ctx, "run-1", q.ID)
		require.NoError(t, err)
		require.Equal(t, partner.BulkItem{PartnerID: q.ID, CompanyName: "Other", Outcome: partner.BulkPending}, it)
		_, err = r.BulkItem(ctx, "run-1", q.ID+1)
		requireKind(t, err, partner.ErrNotFound, "")
		return nil
	})

	at := T0.Add(time.Minute)
	set := func(id int64, o partner.BulkOutcome, reason string) (bool, error) {
		var recorded bool
		err := s.Update(ctx, func(ctx context.Context, tx partner.Tx) (err error) {
			recorded, err = tx.SetBulkItem(ctx, "run-1", partner.BulkItem{PartnerID: id, Outcome: o, Reason: reason, At: at})
			return err
		})
		return recorded, err
	}
	for _, tc := range []struct {
		id       int64
		outcome  partner.BulkOutcome
		recorded bool
	}{
		{p.ID, partner.BulkDone, true},
		{p.ID, partner.BulkFailed, false}, // recorded already
		{ghost, partner.BulkRefused, true},
	} {
		recorded, err := set(tc.id, tc.outcome, "partner does not exist")
		require.NoError(t, err)
		require.Equal(t, tc.recorded, recorded, "partner %d %s", tc.id, tc.outcome)
	}
	_, err = set(q.ID+1, partner.BulkDone, "")
	requireKind(t, err, partner.ErrNotFound, "")
	err = s.Update(ctx, func(ctx context.Context, tx partner.Tx) error {
		_, err := tx.SetBulkItem(ctx, "nope", partner.BulkItem{PartnerID: p.ID, Outcome: partner.BulkDone, At: at})
		return err
	})
	requireKind(t, err, partner.ErrNotFound, "")

	view(t, s, func(r partner.Reader) error {
		got, err := r.BulkRun(ctx, "run-1")
		require.NoError(t, err)
		require.Equal(t, []int{3, 1, 1, 0, 1, 0}, counts(got))
		require.True(t, got.FinishedAt.IsZero())
		items, total, err := r.BulkItems(ctx, "run-1", partner.BulkItemFilter{})
		require.NoError(t, err)
		require.Equal(t, 3, total)
		require.Empty(t, cmp.Diff([]partner.BulkItem{
			{PartnerID: p.ID, CompanyName: "Acme", Outcome: partner.BulkDone, Reason: "partner does not exist", At: at},
			{PartnerID: q.ID, CompanyName: "Other", Outcome: partner.BulkPending},
			{PartnerID: ghost, Outcome: partner.BulkRefused, Reason: "partner does not exist", At: at},
		}, items))
		page, total, err := r.BulkItems(ctx, "run-1", partner.BulkItemFilter{Page: partner.Page{Offset: 1, Limit: 1}})
		require.NoError(t, err)
		require.Equal(t, 3, total)
		require.Empty(t, cmp.Diff(items[1:2], page))
		refused, total, err := r.BulkItems(ctx, "run-1", partner.BulkItemFilter{Outcome: partner.BulkRefused, Page: partner.Page{Limit: 10}})
		require.NoError(t, err)
		require.Equal(t, 1, total)
		require.Empty(t, cmp.Diff(items[2:], refused))
		pending, err := r.PendingBulkItems(ctx, "run-1", 0, 10)
		require.NoError(t, err)
		require.Equal(t, []int64{q.ID}, pending)
		pending, err = r.PendingBulkItems(ctx, "run-1", q.ID, 10)
		require.NoError(t, err)
		require.Empty(t, pending)
		return nil
	})

	finish := func(key string) (bool, error) {
		var done bool
		err := s.Update(ctx, func(ctx context.Context, tx partner.Tx) (err error) {
			done, err = tx.FinishBulkRun(ctx, key, at.Add(time.Second))
			return err
		})
		return done, err
	}
	done, err := finish("run-1")
	require.NoError(t, err)
	require.True(t, done)
	done, err = finish("run-1")
	require.NoError(t, err)
	require.False(t, done, "once")
	_, err = finish("nope")
	requireKind(t, err, partner.ErrNotFound, "")
	view(t, s, func(r partner.Reader) error {
		got, err := r.BulkRun(ctx, "run-1")
		require.NoError(t, err)
		require.Equal(t, at.Add(time.Second), got.FinishedAt)
		return nil
	})
}

// testBulkRunMany: a run of thousands of partners is stored whole, and the
// pending walk pages through it by keyset.
func testBulkRunMany(t *testing.T, s partner.Store) {
	const n = 2345
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = int64(3*i + 1)
	}
	run := newBulkRun("big")
	run.Params.Filter, run.Params.PartnerIDs = nil, ids
	update(t, s, func(tx partner.Tx) error { return tx.CreateBulkRun(ctx, &run, ids) })
	view(t, s, func(r partner.Reader) error {
		got, err := r.BulkRun(ctx, "big")
		require.NoError(t, err)
		require.Equal(t, []int{n, n}, []int{got.Total, got.Pending})
		require.Equal(t, ids, got.Params.PartnerIDs)
		var walked []int64
		for after := int64(0); ; {
			page, err := r.PendingBulkItems(ctx, "big", after, 1000)
			require.NoError(t, err)
			walked = append(walked, page...)
			if len(page) < 1000 {
				break
			}
			after = page[len(page)-1]
		}
		require.Equal(t, ids, walked)
		return nil
	})
}

// testConcurrentBulkItem: of many transactions recording the same
// partner's outcome at once, one records it.
func testConcurrentBulkItem(t *testing.T, s partner.Store) {
	p := createPartner(t, s, "Acme", partner.MSP, partner.Active)
	run := newBulkRun("race")
	update(t, s, func(tx partner.Tx) error { return tx.CreateBulkRun(ctx, &run, []int64{p.ID}) })
	var recorded atomic.Int64
	ok, _ := Race(t, Goroutines, errNever, func() error {
		var won bool
		err := s.Update(ctx, func(ctx context.Context, tx partner.Tx) (err error) {
			won, err = tx.SetBulkItem(ctx, "race", partner.BulkItem{PartnerID: p.ID, Outcome: partner.BulkDone, At: T0})
			return err
		})
		if err == nil && won {
			recorded.Add(1)
		}
		return err
	})
	require.Equal(t, Goroutines, ok, "no transaction fails")
	require.Equal(t, int64(1), recorded.Load(), "one transaction records the outcome")
}
