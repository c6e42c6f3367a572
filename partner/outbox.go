package partner

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"
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
