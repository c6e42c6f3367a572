package bunstore_test

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/partnerkit/partnerkit/internal/dbtest"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/partner/bunstore"
)

// queryLog is a bun query hook that keeps the statements run.
type queryLog struct {
	mu      sync.Mutex
	queries []string
}

func (q *queryLog) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }
func (q *queryLog) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.queries = append(q.queries, e.Query)
}

// TestExportOfAHundredThousandPartners walks 100,000 partners with
// ListAll, by name, on SQLite (2,500 under the race detector, which
// slows the pure-Go SQLite driver down some fortyfold): every partner once, in order, by keyset
// pages (no statement skips rows with OFFSET), with the heap no larger at
// the end of the walk than a few pages' worth.
func TestExportOfAHundredThousandPartners(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 100,000 partners")
	}
	const n = exportScale
	ctx := context.Background()
	s := dbtest.SQLite(t)
	now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	require.NoError(t, bunstore.SeedBulk(ctx, s, n, 1, now))
	log := &queryLog{}
	s.AddQueryHook(log)
	m := partner.NewManager(partner.Options{Store: s, Now: func() time.Time { return now }})

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var peak uint64
	count, last, unordered := 0, "", 0
	for p, err := range m.ListAll(ctx, partner.Filter{Sort: partner.SortName}) {
		require.NoError(t, err)
		if name := p.Profile.CompanyName; name <= last { // SeedBulk's names sort as their keys
			unordered++
		} else {
			last = name
		}
		if count++; count%(exportScale/5) == 0 {
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}
	require.Equal(t, n, count)
	require.Zero(t, unordered, "in order, once each")
	require.Less(t, peak, before.HeapAlloc+64<<20, "the heap stays flat: a page at a time")
	for _, q := range log.queries {
		require.NotContains(t, strings.ToUpper(q), " OFFSET ", "keyset pages, not OFFSET")
	}
}
