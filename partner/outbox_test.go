package partner_test

import (
	"context"
	"errors"
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
