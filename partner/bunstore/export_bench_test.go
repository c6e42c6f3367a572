package bunstore_test

import (
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"testing"
	"time"

	"github.com/partnerkit/partnerkit/httpadmin"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/partner/bunstore"
)

// exportPartnersEnv sets how many partners BenchmarkExportPartnersCSV
// seeds: 100,000 unless it says otherwise (2,000 with -short).
const exportPartnersEnv = "PARTNERS_EXPORT_BENCH_PARTNERS"

func exportBenchSize(b *testing.B) int {
	if s := os.Getenv(exportPartnersEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("%s=%q: want a number of partners, 1 or more", exportPartnersEnv, s)
		}
		return n
	}
	if testing.Short() {
		return 2_000
	}
	return 100_000
}

// heapWatch samples the live heap (runtime/metrics, heap objects) every
// millisecond and keeps the highest value above the heap measured after
// a GC when it started.
type heapWatch struct {
	base, peak uint64
	stop, done chan struct{}
}

const heapMetric = "/memory/classes/heap/objects:bytes"

func heapNow() uint64 {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func watchHeap() *heapWatch {
	runtime.GC()
	h := &heapWatch{base: heapNow(), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			h.peak = max(h.peak, heapNow())
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

// peakMB ends the watch: the highest heap seen above the base, in MB.
func (h *heapWatch) peakMB() float64 {
	close(h.stop)
	<-h.done
	if h.peak < h.base {
		return 0
	}
	return float64(h.peak-h.base) / 1e6
}

// countingWriter counts the bytes written to it.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// BenchmarkExportPartnersCSV streams every partner of a store seeded
// with SeedBulk (100,000 partners with a licence each; see
// exportPartnersEnv) as CSV, in name order:
//
//   - raw: Manager.ListAll written by encoding/csv to a byte counter, the
//     library's stream with no HTTP;
//   - console: GET {prefix}/export.csv through httpadmin over a real HTTP
//     server, the body read to the end by the client.
//
// Each reports the allocations per export (B/op), the CSV bytes per
// export (csv-bytes/op), the peak live heap above the heap before the
// run (peak-heap-MB), and the console its throughput as a multiple of
// raw's (x-raw).
func BenchmarkExportPartnersCSV(b *testing.B) {
	ctx := context.Background()
	n := exportBenchSize(b)
	for name, open := range benchBackends(b) {
		s := open(b)
		start := time.Now()
		if err := bunstore.SeedBulk(ctx, s, n, 1, benchNow); err != nil {
			b.Fatal(err)
		}
		if name == "postgres" {
			// Fresh statistics: without them the first batches are planned
			// for empty tables (a raw pass measured 272 s instead of 11 s).
			if _, err := s.DB().ExecContext(ctx, "ANALYZE"); err != nil {
				b.Fatal(err)
			}
		}
		b.Logf("%s: seeded %d partners in %s", name, n, time.Since(start).Round(time.Millisecond))
		m := partner.NewManager(partner.Options{Store: s, Now: func() time.Time { return benchNow }})
		b.Run(name+"/raw", func(b *testing.B) {
			b.ReportAllocs()
			var out countingWriter
			h := watchHeap()
			for b.Loop() {
				out.n = 0
				cw := csv.NewWriter(&out)
				rows := 0
				for p, err := range m.ListAll(ctx, partner.Filter{Sort: partner.SortName}) {
					if err != nil {
						b.Fatal(err)
					}
					_ = cw.Write([]string{strconv.FormatInt(p.ID, 10), p.Profile.CompanyName, p.Type.Label(), p.Status.Label(),
						strconv.Itoa(p.Customers), strconv.FormatInt(p.UnitsUsed, 10), strconv.FormatInt(p.UnitsProvisioned, 10),
						strconv.Itoa(p.LowStockPools), strconv.Itoa(p.ExpiringLicenses), strconv.Itoa(p.ExpiredLicenses),
						p.Profile.City, p.Profile.State, p.Profile.Country, p.CreatedAt.UTC().Format(time.RFC3339)})
					rows++
				}
				cw.Flush()
				if rows != n {
					b.Fatalf("%d rows, want %d", rows, n)
				}
			}
			b.ReportMetric(h.peakMB(), "peak-heap-MB")
			b.ReportMetric(float64(out.n), "csv-bytes/op")
			record(b)
		})
		b.Run(name+"/console", func(b *testing.B) {
			b.ReportAllocs()
			mux := http.NewServeMux()
			httpadmin.Mount(mux, "/admin", httpadmin.New(m, httpadmin.Options{Prefix: "/admin", Authorize: httpadmin.AllowAll}))
			srv := httptest.NewServer(mux)
			defer srv.Close()
			var out countingWriter
			h := watchHeap()
			for b.Loop() {
				resp, err := http.Get(srv.URL + "/admin/export.csv?sort=name")
				if err != nil {
					b.Fatal(err)
				}
				out.n = 0
				_, err = io.Copy(&out, resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK {
					b.Fatal(err, resp.Status)
				}
			}
			b.ReportMetric(h.peakMB(), "peak-heap-MB")
			b.ReportMetric(float64(out.n), "csv-bytes/op")
			record(b)
		})
	}
}
