package partner_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
)

// auditOf counts a partner's audit entries of each operation.
func (e *env) auditOf(t *testing.T, id int64) map[partner.Operation]int {
	t.Helper()
	entries, _, err := e.m.Audit(e.ctx, id, partner.Page{Limit: partner.MaxLimit})
	require.NoError(t, err)
	out := map[partner.Operation]int{}
	for _, a := range entries {
		out[a.Action]++
	}
	return out
}

func outcomes(items []partner.BulkItem) map[int64]string {
	out := map[int64]string{}
	for _, it := range items {
		out[it.PartnerID] = string(it.Outcome) + ": " + it.Reason
	}
	return out
}

func previewOutcomes(items []partner.BulkPreviewItem) map[int64]string {
	out := map[int64]string{}
	for _, it := range items {
		out[it.PartnerID] = string(it.Outcome) + ": " + it.Reason
	}
	return out
}

// TestBulkSuspend: the preview lists every partner — those the guard
// table refuses with its reason, an id no partner has — and the run does
// what it showed, each partner audited as a Suspend, the run under
// partner id 0; a retry changes nothing and returns the record; the same
// key with other parameters is refused.
func TestBulkSuspend(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		a := e.fixture(t, partner.MSP, partner.Active)
		b := e.fixture(t, partner.Reseller, partner.Active)
		s := e.fixture(t, partner.MSP, partner.Suspended)
		c := e.fixture(t, partner.Reseller, partner.Canceled)
		ghost := c.p.ID + 100
		ids := []int64{ghost, b.p.ID, a.p.ID, s.p.ID, c.p.ID, a.p.ID}
		in := partner.BulkParams{Key: "suspend-2026-05", PartnerIDs: ids, Action: partner.BulkAction{Kind: partner.BulkSuspend}}
		want := map[int64]string{
			a.p.ID: "pending: ", b.p.ID: "pending: ",
			s.p.ID: "refused: the partnership is already suspended",
			c.p.ID: "refused: the partnership is canceled: nothing can be changed",
			ghost:  "refused: partner " + strconv.FormatInt(ghost, 10) + " does not exist",
		}
		before := e.snapshot(t, a.p.ID)
		pv, err := e.m.BulkPreview(e.ctx, in, partner.Page{})
		require.NoError(t, err)
		require.Equal(t, e.snapshot(t, a.p.ID), before, "a preview changes nothing")
		require.Equal(t, []int{5, 2, 0, 3}, []int{pv.Total, pv.Pending, pv.Unchanged, pv.Refused})
		require.Equal(t, want, previewOutcomes(pv.Items))
		require.Equal(t, "Status: Active → Suspended", partner.AuditEntry{Changes: pv.Items[0].Changes}.Summary())
		require.Equal(t, []int64{a.p.ID, b.p.ID, s.p.ID, c.p.ID, ghost}, pv.Params.PartnerIDs, "ids sorted, once each")
		page, err := e.m.BulkPreview(e.ctx, in, partner.Page{Offset: 1, Limit: 2})
		require.NoError(t, err)
		require.Equal(t, 5, page.Total)
		require.Empty(t, cmp.Diff(pv.Items[1:3], page.Items))

		e.resetEvents()
		alice := partner.WithActor(e.ctx, "alice@vendor.example")
		run, err := e.m.Bulk(alice, in)
		require.NoError(t, err)
		require.Equal(t, []int{5, 0, 2, 0, 3, 0}, []int{run.Total, run.Pending, run.Done, run.Unchanged, run.Refused, run.Failed})
		require.True(t, run.Finished())
		require.Equal(t, []any{"suspend-2026-05", "alice@vendor.example", t0, t0}, []any{run.Key, run.Actor, run.StartedAt, run.FinishedAt})
		items, total, err := e.m.BulkItems(e.ctx, run.Key, partner.BulkItemFilter{})
		require.NoError(t, err)
		require.Equal(t, 5, total)
		want[a.p.ID], want[b.p.ID] = "done: ", "done: "
		require.Equal(t, want, outcomes(items))
		require.Equal(t, a.p.Profile.CompanyName, items[0].CompanyName)
		for _, p := range []partner.Partner{a.p, b.p} {
			got, err := e.m.Get(e.ctx, p.ID)
			require.NoError(t, err)
			require.Equal(t, partner.Suspended, got.Status)
			entries, _, err := e.m.Audit(e.ctx, p.ID, partner.Page{Limit: 1})
			require.NoError(t, err)
			require.Equal(t, []any{partner.OpSuspend, "alice@vendor.example"}, []any{entries[0].Action, entries[0].Actor})
		}
		global, _, err := e.m.AuditLog(e.ctx, partner.AuditFilter{Global: true, Actor: "alice@vendor.example"})
		require.NoError(t, err)
		require.Len(t, global, 2)
		require.Equal(t, "created: Done: 2; Unchanged: 0; Refused: 3; Failed: 0", global[0].Summary())
		require.Equal(t, partner.OpBulkFinish, global[0].Action)
		require.Equal(t, "created: Action: Suspend; Partners: 5", global[1].Summary())
		require.Equal(t, []partner.EventKind{partner.EventBulkStarted, partner.EventStatusChanged, partner.EventStatusChanged,
			partner.EventBulkFinished}, e.eventKinds())

		// A retry changes nothing and returns the record.
		e.resetEvents()
		auditBefore := e.auditOf(t, a.p.ID)
		again, err := e.m.Bulk(e.ctx, partner.BulkParams{Key: in.Key, PartnerIDs: []int64{a.p.ID, s.p.ID, ghost, b.p.ID, c.p.ID},
			Action: in.Action})
		require.NoError(t, err)
		require.Equal(t, run, again)
		require.Empty(t, e.eventKinds())
		require.Equal(t, auditBefore, e.auditOf(t, a.p.ID))

		require.Equal(t, []int64{ghost, b.p.ID, a.p.ID, s.p.ID, c.p.ID, a.p.ID}, in.PartnerIDs, "the caller's ids are left as they were")
		_, err = e.m.Bulk(e.ctx, partner.BulkParams{Key: in.Key, PartnerIDs: []int64{a.p.ID}, Action: in.Action})
		requireErr(t, err, partner.ErrDuplicate, "key")
		_, err = e.m.Bulk(e.ctx, partner.BulkParams{Key: in.Key, PartnerIDs: ids, Action: partner.BulkAction{Kind: partner.BulkReactivate}})
		requireErr(t, err, partner.ErrDuplicate, "key")
		_, err = e.m.BulkRun(e.ctx, "never")
		requireErr(t, err, partner.ErrNotFound, "")
		_, _, err = e.m.BulkItems(e.ctx, "never", partner.BulkItemFilter{})
		requireErr(t, err, partner.ErrNotFound, "")
		refused, n, err := e.m.BulkItems(e.ctx, run.Key, partner.BulkItemFilter{Outcome: partner.BulkRefused, Page: partner.Page{Limit: 2}})
		require.NoError(t, err)
		require.Equal(t, 3, n)
		require.Len(t, refused, 2)
	})
}

// TestBulkAssignByFilter: "select all matching the filter" resolves to
// ids when the run starts; each partner gets the licences once, with the
// derived key, also when a licence of that key was assigned before the
// run (a crash between a partner's commit and the run's record cannot
// double it).
func TestBulkAssignByFilter(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		a := e.fixture(t, partner.MSP, partner.Active)
		b := e.fixture(t, partner.MSP, partner.Active)
		e.fixture(t, partner.Reseller, partner.Active)
		e.fixture(t, partner.MSP, partner.Suspended)
		g := grant(25)
		g.Product, g.UnitType = "endpoint security", "" // resolved against the catalogue
		in := partner.BulkParams{Key: "q3-promo", Filter: &partner.Filter{Type: partner.MSP, Status: partner.Active, Page: partner.Page{Limit: 1}},
			Action: partner.BulkAction{Kind: partner.BulkAssignLicenses, Grants: []license.Grant{g}}}
		defer func() {
			require.Equal(t, partner.Page{Limit: 1}, in.Filter.Page, "the caller's filter is left as it was")
			require.Equal(t, "endpoint security", in.Action.Grants[0].Product, "and its grants")
		}()
		pv, err := e.m.BulkPreview(e.ctx, in, partner.Page{})
		require.NoError(t, err)
		require.Equal(t, []int{2, 2}, []int{pv.Total, pv.Pending})
		require.Equal(t, "created: Licences: 25 seats of Endpoint Security (Full) 2026-04-04 to 2027-05-04",
			partner.AuditEntry{Changes: pv.Items[0].Changes}.Summary())

		// b got the licences under the run's derived key already.
		_, err = e.m.AssignLicenses(e.ctx, b.p.ID, partner.AssignLicensesParams{Key: "q3-promo/" + strconv.FormatInt(b.p.ID, 10),
			Grants: []license.Grant{g}})
		require.NoError(t, err)
		run, err := e.m.Bulk(e.ctx, in)
		require.NoError(t, err)
		require.Equal(t, []int{2, 1, 1}, []int{run.Total, run.Done, run.Unchanged})
		require.Equal(t, partner.Page{}, run.Params.Filter.Page, "the filter is recorded without its page")
		for _, p := range []partner.Partner{a.p, b.p} {
			lics, _, err := e.m.Licenses(e.ctx, p.ID, partner.Page{})
			require.NoError(t, err)
			require.Len(t, lics, 2, "the fixture's licence and the run's, once")
			require.Equal(t, "q3-promo/"+strconv.FormatInt(p.ID, 10), lics[1].GrantKey)
			require.Equal(t, e.products["Endpoint Security"].ID, lics[1].ProductID)
		}

		// A partner that matches after the run started is not in it.
		late := e.fixture(t, partner.MSP, partner.Active)
		again, err := e.m.Bulk(e.ctx, in)
		require.NoError(t, err)
		require.Equal(t, run, again)
		lics, _, err := e.m.Licenses(e.ctx, late.p.ID, partner.Page{})
		require.NoError(t, err)
		require.Len(t, lics, 1)
	})
}

// TestBulkExtendAndMinimum: an extension of one product's licences to a
// date leaves later and other licences alone, audits each licence it
// extends, is refused whole for a partner where ExtendLicense's rules
// refuse one licence, and leaves a partner without a licence to extend
// unchanged; a minimum already set is unchanged.
func TestBulkExtendAndMinimum(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		a := e.fixture(t, partner.MSP, partner.Active) // Endpoint Security to t0+1y
		b := e.fixture(t, partner.MSP, partner.Active)
		none := e.fixture(t, partner.MSP, partner.Active)
		email := grant(5)
		email.Product, email.UnitType = "Email Security", ""
		late := grant(5)
		late.Expiry = t0.AddDate(3, 0, 0)
		res, err := e.m.AssignLicenses(e.ctx, a.p.ID, partner.AssignLicensesParams{Grants: []license.Grant{email, late}})
		require.NoError(t, err)
		old := grant(5)
		old.Start, old.Expiry = t0.AddDate(-9, 0, 0), t0.AddDate(0, 1, 0)
		resOld, err := e.m.AssignLicenses(e.ctx, b.p.ID, partner.AssignLicensesParams{Grants: []license.Grant{old}})
		require.NoError(t, err)
		_, err = e.m.ExtendLicense(e.ctx, none.p.ID, none.lic.ID, 0, t0.AddDate(4, 0, 0))
		require.NoError(t, err)

		to := t0.AddDate(2, 0, 0)
		in := partner.BulkParams{Key: "extend-2028", PartnerIDs: []int64{a.p.ID, b.p.ID, none.p.ID},
			Action: partner.BulkAction{Kind: partner.BulkExtendLicenses, ProductID: e.products["Endpoint Security"].ID, Expiry: to}}
		pv, err := e.m.BulkPreview(e.ctx, in, partner.Page{})
		require.NoError(t, err)
		wantRefusal := fmt.Sprintf("refused: licence %d: expiry must be at most ten years after the start date (2017-05-04)", resOld.Licenses[0].ID)
		require.Equal(t, map[int64]string{a.p.ID: "pending: ", b.p.ID: wantRefusal, none.p.ID: "unchanged: no licence expires before 2028-05-04"},
			previewOutcomes(pv.Items))
		require.Equal(t, fmt.Sprintf("Expiry of licence %d: 2027-05-04 → 2028-05-04", a.lic.ID), pv.Items[0].Changes[0].String())

		auditA, auditB := e.auditOf(t, a.p.ID), e.auditOf(t, b.p.ID)
		run, err := e.m.Bulk(e.ctx, in)
		require.NoError(t, err)
		items, _, err := e.m.BulkItems(e.ctx, run.Key, partner.BulkItemFilter{})
		require.NoError(t, err)
		require.Equal(t, map[int64]string{a.p.ID: "done: ", b.p.ID: wantRefusal, none.p.ID: "unchanged: no licence expires before 2028-05-04"},
			outcomes(items))
		lics, _, err := e.m.Licenses(e.ctx, a.p.ID, partner.Page{})
		require.NoError(t, err)
		require.Equal(t, []time.Time{to, res.Licenses[0].Expiry, late.Expiry}, []time.Time{lics[0].Expiry, lics[1].Expiry, lics[2].Expiry},
			"the Endpoint Security licence before the date only")
		auditA[partner.OpExtendLicense]++
		require.Equal(t, auditA, e.auditOf(t, a.p.ID))
		require.Equal(t, auditB, e.auditOf(t, b.p.ID), "a refused partner is left as it was: all or nothing")
		lics, _, err = e.m.Licenses(e.ctx, b.p.ID, partner.Page{})
		require.NoError(t, err)
		require.Equal(t, b.lic.Expiry, lics[0].Expiry, "not even its other licence")

		minRun, err := e.m.Bulk(e.ctx, partner.BulkParams{Key: "min-10", PartnerIDs: []int64{a.p.ID, b.p.ID},
			Action: partner.BulkAction{Kind: partner.BulkSetMinimumLicenses, Minimum: 10}})
		require.NoError(t, err)
		require.Equal(t, 2, minRun.Done)
		minRun, err = e.m.Bulk(e.ctx, partner.BulkParams{Key: "min-10 again", PartnerIDs: []int64{a.p.ID, b.p.ID},
			Action: partner.BulkAction{Kind: partner.BulkSetMinimumLicenses, Minimum: 10}})
		require.NoError(t, err)
		require.Equal(t, []int{0, 2}, []int{minRun.Done, minRun.Unchanged})
	})
}

// TestBulkResumesAfterAnInterruption: a run cut short (its context ended
// after two partners) keeps the others pending; a retry with the same
// key resumes them, and every partner's change is applied once.
func TestBulkResumesAfterAnInterruption(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		var ids []int64
		for range 5 {
			ids = append(ids, e.fixture(t, partner.MSP, partner.Active).p.ID)
		}
		ctx, cancel := context.WithCancel(e.ctx)
		defer cancel()
		var mu sync.Mutex
		seen := 0
		unsubscribe := e.m.Subscribe(func(context.Context, partner.Event) error {
			mu.Lock()
			defer mu.Unlock()
			if seen++; seen == 3 { // the run's start, then two partners
				cancel()
			}
			return nil
		})
		in := partner.BulkParams{Key: "interrupted", PartnerIDs: ids, Action: partner.BulkAction{Kind: partner.BulkSuspend}}
		_, err := e.m.Bulk(ctx, in)
		require.ErrorIs(t, err, context.Canceled)
		unsubscribe()
		run, err := e.m.BulkRun(e.ctx, in.Key)
		require.NoError(t, err)
		require.Equal(t, []int{5, 3, 2}, []int{run.Total, run.Pending, run.Done})
		require.False(t, run.Finished())

		run, err = e.m.Bulk(e.ctx, in)
		require.NoError(t, err)
		require.Equal(t, []int{5, 0, 5}, []int{run.Total, run.Pending, run.Done})
		require.True(t, run.Finished())
		for _, id := range ids {
			require.Equal(t, 1, e.auditOf(t, id)[partner.OpSuspend], "partner %d suspended once", id)
		}
		global, _, err := e.m.AuditLog(e.ctx, partner.AuditFilter{Global: true, Action: partner.OpBulkFinish})
		require.NoError(t, err)
		require.Len(t, global, 1, "finished once")
	})
}

// TestBulkSameKeyAtOnce: two Bulk calls with the same key at the same
// moment share the run and never apply a partner's change twice.
func TestBulkSameKeyAtOnce(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		var ids []int64
		for range 12 {
			ids = append(ids, e.fixture(t, partner.MSP, partner.Active).p.ID)
		}
		in := partner.BulkParams{Key: "twice", PartnerIDs: ids,
			Action: partner.BulkAction{Kind: partner.BulkAssignLicenses, Grants: []license.Grant{grant(7)}}}
		const callers = 4
		runs := make([]partner.BulkRun, callers)
		errs := make([]error, callers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range callers {
			wg.Go(func() {
				<-start
				runs[i], errs[i] = e.m.Bulk(e.ctx, in)
			})
		}
		close(start)
		wg.Wait()
		for i := range callers {
			require.NoError(t, errs[i])
			require.Equal(t, []int{12, 0, 12}, []int{runs[i].Total, runs[i].Pending, runs[i].Done + runs[i].Unchanged})
		}
		for _, id := range ids {
			lics, _, err := e.m.Licenses(e.ctx, id, partner.Page{})
			require.NoError(t, err)
			require.Len(t, lics, 2, "the fixture's licence and one of the run's")
			require.Equal(t, 1, e.auditOf(t, id)[partner.OpAssignLicenses], "partner %d assigned once", id)
		}
		for _, op := range []partner.Operation{partner.OpBulkStart, partner.OpBulkFinish} {
			_, n, err := e.m.AuditLog(e.ctx, partner.AuditFilter{Global: true, Action: op})
			require.NoError(t, err)
			require.Equal(t, 1, n, "%s once", op)
		}
	})
}

// TestBulkProgress: a console polling BulkRun while Bulk runs sees the
// partners done grow, one at a time.
func TestBulkProgress(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		var ids []int64
		for range 4 {
			ids = append(ids, e.fixture(t, partner.Reseller, partner.Active).p.ID)
		}
		var progress []int
		poll := make(chan struct{})
		done := make(chan struct{})
		go func() { // the console, in a goroutine of its own
			defer close(done)
			for range poll {
				run, err := e.m.BulkRun(e.ctx, "progress")
				if err == nil {
					progress = append(progress, run.Done)
				}
				poll <- struct{}{}
			}
		}()
		e.m.Subscribe(func(_ context.Context, ev partner.Event) error {
			if ev.Kind == partner.EventPoolSettingsChanged {
				poll <- struct{}{}
				<-poll
			}
			return nil
		})
		_, err := e.m.Bulk(e.ctx, partner.BulkParams{Key: "progress", PartnerIDs: ids,
			Action: partner.BulkAction{Kind: partner.BulkSetMinimumLicenses, Minimum: 3}})
		require.NoError(t, err)
		close(poll)
		<-done
		require.Equal(t, []int{1, 2, 3, 4}, progress)
	})
}

func TestBulkRefusesInvalidParameters(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		_, err := e.m.Bulk(e.ctx, partner.BulkParams{PartnerIDs: []int64{f.p.ID, -1}, Filter: &partner.Filter{},
			Action: partner.BulkAction{Kind: "delete", Minimum: 3}})
		requireErr(t, err, partner.ErrInvalid, "key")
		require.Equal(t, []string{"key", "partners", "action", "minimum licenses"}, fieldNames(partner.FieldErrors(err)))
		_, err = e.m.Bulk(e.ctx, partner.BulkParams{Key: "x", PartnerIDs: []int64{-1},
			Action: partner.BulkAction{Kind: partner.BulkExtendLicenses, ProductID: 9999}})
		require.Equal(t, []string{"partners", "expiry", "product"}, fieldNames(partner.FieldErrors(err)))
		_, err = e.m.Bulk(e.ctx, partner.BulkParams{Key: "x", PartnerIDs: []int64{f.p.ID},
			Action: partner.BulkAction{Kind: partner.BulkExtendLicenses, ProductID: 9999, Expiry: t0.AddDate(1, 0, 0)}})
		requireErr(t, err, partner.ErrInvalid, "product")
		bad := grant(0)
		_, err = e.m.Bulk(e.ctx, partner.BulkParams{Key: "x", Filter: &partner.Filter{Status: "zombie", Sort: "size"},
			Action: partner.BulkAction{Kind: partner.BulkAssignLicenses, Grants: []license.Grant{bad}}})
		require.Equal(t, []string{"status", "units"}, fieldNames(partner.FieldErrors(err)), "the filter's order is no matter")
		_, err = e.m.Bulk(e.ctx, partner.BulkParams{Key: string(make([]byte, 0)) + fmt.Sprintf("%0101d", 0), PartnerIDs: []int64{f.p.ID},
			Action: partner.BulkAction{Kind: partner.BulkSuspend}})
		requireErr(t, err, partner.ErrInvalid, "key")
		_, err = e.m.BulkPreview(e.ctx, partner.BulkParams{PartnerIDs: []int64{f.p.ID}, Action: partner.BulkAction{Kind: partner.BulkSuspend}},
			partner.Page{Limit: -1})
		requireErr(t, err, partner.ErrInvalid, "limit")
		_, err = e.m.BulkRun(e.ctx, "x")
		requireErr(t, err, partner.ErrNotFound, "")
		before := e.snapshot(t, f.p.ID)
		err = e.m.RunInTx(e.ctx, func(ctx context.Context, tm *partner.Manager) error {
			_, err := tm.Bulk(ctx, partner.BulkParams{Key: "in-tx", PartnerIDs: []int64{f.p.ID}, Action: partner.BulkAction{Kind: partner.BulkSuspend}})
			return err
		})
		requireErr(t, err, partner.ErrInvalid, "")
		require.Equal(t, before, e.snapshot(t, f.p.ID))
	})
}
