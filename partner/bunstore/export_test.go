package bunstore

import "time"

// SetBusyTimeout replaces BusyTimeout for one store, so that a test of
// giving up does not wait ten seconds.
func SetBusyTimeout(s *Store, d time.Duration) { s.busyTimeout = d }

// Prepared reports whether the store's allocation path runs on prepared
// statements.
func Prepared(s *Store) bool { return s.stmts.set.Load() != nil && !s.stmts.off.Load() }
