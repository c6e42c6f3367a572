package partner

import "time"

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
	// Payload is the Event encoded with encoding/json (its ID left 0).
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
