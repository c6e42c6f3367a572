// Package e2e holds the end-to-end tests of partnerkit, in a module of
// its own (github.com/partnerkit/partnerkit/e2e) so that what they need —
// chromedp, the Chrome DevTools protocol and the vendored axe-core — stays
// out of the library's module graph.
//
// The tests build the example console (examples/console) with go build,
// in the library's own module, run the binary on a SQLite file in a
// temporary folder, and drive it over HTTP and in headless Chromium;
// the data a test needs beyond the console's demo data it writes through
// the library (bunstore.OpenSQLite and partner.Manager) on the same file,
// from the test's process, while the console runs.
//
// From the repository's root, ./test.sh runs them after the library's
// tests; alone:
//
//	cd e2e && PARTNERS_TEST_CHROMIUM=/usr/bin/chromium go test -race -count=1 ./...
//
// Use -count=1: go test caches a result until the files a test opened in
// its own module change, and it cannot see the library's sources, which
// the child go build reads, so a cached result may be stale.
package e2e
