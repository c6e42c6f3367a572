#!/bin/sh
# Runs every test of the repository: the library's module, then the
# end-to-end module in e2e/ (which builds and drives the example console).
# They are two Go modules, so no single `go test` pattern reaches both.
# Both run even when the first fails; the exit status is 1 if either did.
# Arguments go to both go test runs, e.g. ./test.sh -v -run Console.
# The e2e tests run with -count=1: they build the console in a child
# process, whose sources go test's cache does not watch, so a cached
# result could be stale (a -count in the arguments still wins).
# -timeout 30m: the library's partner package runs the model-based test
# on every store, which with PostgreSQL and a large budget outlasts go
# test's default of 10 minutes on a loaded machine (a -timeout in the
# arguments still wins).
# The tests that need a service read it from PARTNERS_TEST_POSTGRES_DSN and
# PARTNERS_TEST_CHROMIUM (README, "Tests") and skip, saying so, without.
set -u
cd "$(dirname "$0")" || exit 1
status=0
go test -race -timeout 30m "$@" ./... || status=1
(cd e2e && go test -race -count=1 -timeout 30m "$@" ./...) || status=1
exit "$status"
