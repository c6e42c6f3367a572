package partner_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/partner"
)

// Dispatch delivers every event at least once, from the outbox where each
// change recorded it in its own transaction: a handler that fails gets the
// event again after a backoff, and de-duplicates by Event.ID. Here the
// webhook is down at the first attempt to send the suspension.
//
// The host runs Dispatch for as long as it runs, in one process or in
// several (on the memory store, as here, within the process):
//
//	go func() {
//		err := m.Dispatch(ctx, partner.DispatchOptions{Handler: sendWebhook, SweepEvery: time.Hour})
//		...
//	}()
func ExampleManager_Dispatch() {
	m := partner.NewManager(partner.Options{Now: fixedClock}) // the memory store
	ctx, stop := context.WithCancel(context.Background())
	defer stop()

	delivered := make(chan string)
	failedOnce := false
	handler := func(ctx context.Context, e partner.Event) error {
		d, _ := partner.DeliveryFrom(ctx)
		if e.Kind == partner.EventStatusChanged && !failedOnce {
			failedOnce = true
			delivered <- fmt.Sprintf("event %d %s, attempt %d: webhook down", e.ID, e.Kind, d.Attempt)
			return errors.New("webhook down")
		}
		delivered <- fmt.Sprintf("event %d %s, attempt %d: %s", e.ID, e.Kind, d.Attempt, e.After)
		return nil
	}
	done := make(chan error)
	go func() {
		done <- m.Dispatch(ctx, partner.DispatchOptions{Handler: handler, Workers: 1,
			Poll: 10 * time.Millisecond, Backoff: 20 * time.Millisecond})
	}()

	p, _ := m.Create(ctx, partner.CreateParams{Type: partner.MSP,
		Profile: partner.Profile{CompanyName: "Acme", City: "Lyon", Country: "France"},
		Admin:   account.Params{Name: "acme.admin", FirstName: "Ada", LastName: "Admin", Email: "ada@acme.example"}})
	_, _ = m.Suspend(ctx, p.ID, p.Version)
	for range 3 {
		fmt.Println(<-delivered)
	}

	stop()
	fmt.Println("dispatch:", <-done)
	pending, _, _ := m.Outbox(context.Background(), partner.OutboxFilter{State: partner.OutboxPending})
	fmt.Println("pending:", len(pending))
	// Output:
	// event 1 partner.created, attempt 1: Company name: Acme; Type: MSP; Status: Active; City: Lyon; Country: France; Contacts: Ada Admin <ada@acme.example>; Administrator: acme.admin
	// event 2 partner.status_changed, attempt 1: webhook down
	// event 2 partner.status_changed, attempt 2: Status: Suspended
	// dispatch: <nil>
	// pending: 0
}
