package httpadmin_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/partnerkit/partnerkit/internal/dbtest"
	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
)

// mixedClients is how many clients BenchmarkConsoleMixed runs at once, at
// least: RunParallel starts a multiple of GOMAXPROCS goroutines, one
// client each.
const mixedClients = 8

// allocateRate measures Manager.Allocate of one unit, one call after
// another, on a SQLite file store of its own, as the allocation
// benchmark of partner/bunstore does (BenchmarkAssign/sqlite/manager),
// and returns the allocations per second.
func allocateRate(b *testing.B, n int) float64 {
	ctx := context.Background()
	m := benchManager(dbtest.SQLite(b))
	if err := seedCatalogue(ctx, m); err != nil {
		b.Fatal(err)
	}
	p, err := seedPartner(ctx, m, "Allocating MSP", partner.MSP)
	if err != nil {
		b.Fatal(err)
	}
	res, err := m.AssignLicenses(ctx, p.ID, partner.AssignLicensesParams{Grants: []license.Grant{{Product: "Endpoint Security",
		UnitType: "seats", Units: license.MaxUnits, Kind: license.Full, Start: benchNow.AddDate(0, -1, 0), Expiry: benchNow.AddDate(1, 0, 0)}}})
	if err != nil {
		b.Fatal(err)
	}
	c, err := m.AddCustomer(ctx, p.ID, partner.CustomerParams{Name: "Customer"})
	if err != nil {
		b.Fatal(err)
	}
	in := partner.AllocateParams{LicenseID: res.Licenses[0].ID, CustomerID: c.ID, Units: 1}
	start := time.Now()
	for range n {
		if _, err := m.Allocate(ctx, p.ID, in); err != nil {
			b.Fatal(err)
		}
	}
	return float64(n) / time.Since(start).Seconds()
}

// warnCounter counts the log records at Warn and above (a refusal, a
// busy database, an internal error) and keeps the first few.
type warnCounter struct {
	mu    sync.Mutex
	n     int
	first []string
}

func (h *warnCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h *warnCounter) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h *warnCounter) WithGroup(string) slog.Handler                { return h }
func (h *warnCounter) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n++
	if len(h.first) < 5 {
		var b strings.Builder
		b.WriteString(r.Message)
		r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
		h.first = append(h.first, b.String())
	}
	return nil
}

var versionField = regexp.MustCompile(`name="version" value="(\d+)"`)

// mixedClient is one operator: it reads tabs of every partner and
// writes to its own partner only, so that its profile version is always
// the current one.
type mixedClient struct {
	http     *http.Client
	base     string
	own      int64
	partners []int64
	version  string // the Profile form's version of the own partner
	run      string // makes the Assign Licenses keys unique across runs
	n        int

	latency []time.Duration
	codes   map[int]int
	writes  int
	err     error
}

func (c *mixedClient) do(method, path string, form url.Values) (int, string, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("HX-Request", "true")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	text, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	c.latency = append(c.latency, time.Since(start))
	c.codes[resp.StatusCode]++
	return resp.StatusCode, string(text), err
}

var mixedTabs = []string{"licenses", "accounts", "profile", "management-licenses"}

// step makes the client's next request: of every ten, five tab reads,
// three licence assignments and two profile edits.
func (c *mixedClient) step() {
	i := c.n
	c.n++
	var (
		code int
		text string
		err  error
	)
	switch i % 10 {
	case 1, 5, 9: // assign licences, a key of its own each time
		c.writes++
		code, text, err = c.do(http.MethodPost, fmt.Sprintf("%s/%d/licenses/assign", benchPrefix, c.own), url.Values{
			"key": {fmt.Sprintf("%s-%d-%d", c.run, c.own, i)}, "product": {benchProducts[i%4].Name},
			"unit_type": {"seats"}, "units": {"5"}, "kind": {"full"},
			"start": {benchNow.Format(time.DateOnly)}, "expiry": {benchNow.AddDate(1, 0, 0).Format(time.DateOnly)}})
	case 3, 7: // edit the profile with the version the last answer showed
		c.writes++
		code, text, err = c.do(http.MethodPost, fmt.Sprintf("%s/%d/profile", benchPrefix, c.own), url.Values{
			"version": {c.version}, "city": {fmt.Sprintf("Lyon %d", i)}})
		if m := versionField.FindStringSubmatch(text); m != nil && code == http.StatusOK {
			c.version = m[1]
		}
	default: // a tab of any client's partner
		id := c.partners[(i/2)%len(c.partners)]
		code, text, err = c.do(http.MethodGet, fmt.Sprintf("%s/%d/%s", benchPrefix, id, mixedTabs[(i/2)%len(mixedTabs)]), nil)
	}
	if err == nil && code == http.StatusOK && strings.Contains(text, "database is locked") {
		err = fmt.Errorf("request %d answered 200 with %q in it", i, "database is locked")
	}
	if c.err == nil && err != nil {
		c.err = err
	}
}

// BenchmarkConsoleMixed runs mixedClients operators at once against the
// console served over HTTP (httptest.Server) on the SQLite file store:
// half tab reads, 30 % licence assignments (htmx posts with unique keys)
// and 20 % profile edits (with the current version). It reports
// requests/s, the p50 and p99 latency, write requests/s, and
// x-allocate: write requests/s as a multiple of Manager.Allocate's
// throughput on the same kind of store, measured in the same run. Any
// 5xx, any other answer but 200, and any warning logged fail it.
func BenchmarkConsoleMixed(b *testing.B) {
	ctx := context.Background()
	allocs := allocateRate(b, 200)

	procs := runtime.GOMAXPROCS(0)
	parallelism := (mixedClients + procs - 1) / procs
	clientCount := parallelism * procs
	m := benchManager(dbtest.SQLite(b))
	var partners []int64
	err := m.RunInTx(ctx, func(ctx context.Context, m *partner.Manager) error {
		if err := seedCatalogue(ctx, m); err != nil {
			return err
		}
		for i := range clientCount {
			p, err := seedPartner(ctx, m, fmt.Sprintf("Client %d MSP", i), partner.MSP)
			if err != nil {
				return err
			}
			if err := seedLicenses(ctx, m, p.ID, 60); err != nil {
				return err
			}
			if err := seedAccounts(ctx, m, p, 19); err != nil {
				return err
			}
			partners = append(partners, p.ID)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	logs := &warnCounter{}
	srv := httptest.NewServer(benchConsole(m, slog.New(logs)))
	defer srv.Close()
	transport := &http.Transport{MaxIdleConnsPerHost: clientCount}
	defer transport.CloseIdleConnections()
	clients := make(chan *mixedClient, clientCount)
	for i, id := range partners {
		p, err := m.Get(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		clients <- &mixedClient{http: &http.Client{Transport: transport}, base: srv.URL, own: id, partners: partners,
			version: fmt.Sprint(p.Version), run: fmt.Sprintf("%d", time.Now().UnixNano()), n: i, codes: map[int]int{}}
	}
	close(clients)

	var (
		mu   sync.Mutex
		done []*mixedClient
	)
	b.SetParallelism(parallelism)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		c := <-clients
		for pb.Next() {
			c.step()
		}
		mu.Lock()
		done = append(done, c)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()

	codes := map[int]int{}
	var latency []time.Duration
	writes := 0
	for _, c := range done {
		if c.err != nil {
			b.Fatal(c.err)
		}
		for k, v := range c.codes {
			codes[k] += v
		}
		latency = append(latency, c.latency...)
		writes += c.writes
	}
	for code, n := range codes {
		if code >= 500 {
			b.Fatalf("%d answers %d, a server error (all answers by status: %v); logged: %v", n, code, codes, logs.first)
		}
	}
	for code, n := range codes {
		if code != http.StatusOK {
			b.Fatalf("%d answers %d where 200 was expected (all answers by status: %v); logged: %v", n, code, codes, logs.first)
		}
	}
	if logs.n > 0 {
		b.Fatalf("%d warnings logged: %v", logs.n, logs.first)
	}
	slices.Sort(latency)
	pct := func(p float64) float64 {
		return float64(latency[min(len(latency)-1, int(p*float64(len(latency))))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(len(latency))/elapsed.Seconds(), "req/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(writes)/elapsed.Seconds(), "writes/s")
	b.ReportMetric(allocs, "allocate/s")
	b.ReportMetric(float64(writes)/elapsed.Seconds()/allocs, "x-allocate")
	b.ReportMetric(float64(clientCount), "clients")
}
