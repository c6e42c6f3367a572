// Package memstore is the in-memory store of the library: complete, safe
// for concurrent use, and gone when the process ends. It is what
// partner.NewManager uses when no store is configured, and what a host's
// own tests run on.
//
// Writers are serialized and see their own writes; readers run in
// parallel. A transaction that fails or panics is rolled back entirely.
// The store passes the whole partner/storetest conformance suite.
package memstore

import "github.com/partnerkit/partnerkit/partner"

// New returns an empty in-memory store.
//
// The implementation lives, unexported, in package partner, so that
// partner.NewManager can default to it without an import cycle: a Manager
// made with no store gets a new one, which New hands out.
func New() partner.Store { return partner.NewManager(partner.Options{}).Store() }
