package bunstore

import "time"

// SetBusyTimeout replaces BusyTimeout for one store, so that a test of
// giving up does not wait ten seconds.
func SetBusyTimeout(s *Store, d time.Duration) { s.busyTimeout = d }
