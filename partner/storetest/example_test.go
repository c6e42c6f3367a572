package storetest_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/partner/memstore"
	"github.com/partnerkit/partnerkit/partner/storetest"
)

// countingStore is a store of one's own, as a host might write one: it
// wraps another partner.Store and counts the transactions it runs, as a
// metrics or tracing layer would. It passes the suite only by handing
// every call through intact.
type countingStore struct {
	next           partner.Store
	updates, views atomic.Int64
}

func (s *countingStore) Update(ctx context.Context, fn func(context.Context, partner.Tx) error) error {
	s.updates.Add(1)
	return s.next.Update(ctx, fn)
}

func (s *countingStore) View(ctx context.Context, fn func(context.Context, partner.Reader) error) error {
	s.views.Add(1)
	return s.next.View(ctx, fn)
}

// A store of your own runs the suite from a test in its package, with a
// function that returns a new, empty store for each subtest. Here the
// store is countingStore, declared in this file: a wrapper around the
// memory store.
//
// In your package the function below is func TestConformance(t
// *testing.T). Run needs the test's *testing.T, which an example cannot
// have, so this example has no Output comment: go test compiles it, so it
// cannot go stale, but does not run it. TestConformanceOfCountingStore in
// this file runs the same suite on the same store.
func ExampleRun() {
	testConformance := func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) partner.Store {
			return &countingStore{next: memstore.New()} // a new, empty store for each subtest
		})
	}
	_ = testConformance // in your package: func TestConformance(t *testing.T), which go test runs
}

// TestConformanceOfCountingStore is ExampleRun's test: the whole suite on
// the wrapper. The store is then used through a Manager, to show the
// wrapper really sits in the path: a Create is one write transaction.
func TestConformanceOfCountingStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) partner.Store { return &countingStore{next: memstore.New()} })

	s := &countingStore{next: memstore.New()}
	m := partner.NewManager(partner.Options{Store: s})
	_, err := m.Create(context.Background(), partner.CreateParams{Type: partner.MSP,
		Profile: partner.Profile{CompanyName: "Acme Managed IT", City: "Lyon", Country: "France"},
		Admin:   account.Params{Name: "acme.admin", FirstName: "Ada", LastName: "Martin", Email: "ada@acme.example"}})
	require.NoError(t, err)
	require.Equal(t, int64(1), s.updates.Load())
}
