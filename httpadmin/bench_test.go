package httpadmin_test

// The HTTP layer's benchmarks: the console against a plain handler making
// the same Manager reads (BenchmarkFragment), a tab's first page as the
// partner's rows grow (BenchmarkTab), and parallel clients reading and
// writing over HTTP (BenchmarkConsoleMixed). All run on the SQLite file
// store. BENCHMARKS.md ("HTTP layer") has the commands and the figures.

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/httpadmin"
	"github.com/partnerkit/partnerkit/internal/dbtest"
	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
)

var benchNow = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

const benchPrefix = "/admin/partners"

// benchManager is a Manager on s with the benchmarks' fixed clock.
func benchManager(s partner.Store) *partner.Manager {
	return partner.NewManager(partner.Options{Store: s, Now: func() time.Time { return benchNow },
		Logger:        slog.New(slog.DiscardHandler),
		ResetPassword: func(context.Context, account.Account) error { return nil }})
}

// benchConsole mounts the console for m under benchPrefix, as a host does.
func benchConsole(m *partner.Manager, log *slog.Logger) *http.ServeMux {
	mux := http.NewServeMux()
	httpadmin.Mount(mux, benchPrefix, httpadmin.New(m, httpadmin.Options{Prefix: benchPrefix, Authorize: httpadmin.AllowAll,
		Actor: func(*http.Request) string { return "bench.operator" }, Logger: log}))
	return mux
}

// benchProducts is the benchmarks' product catalogue: eight products,
// so eight pools, each offering a trial.
var benchProducts = []license.Product{
	{Name: "Endpoint Security", UnitType: license.Seats}, {Name: "Email Security", UnitType: license.Seats},
	{Name: "Cloud Backup", UnitType: license.Seats}, {Name: "Network Defense", UnitType: license.Seats},
	{Name: "Endpoint Security Devices", UnitType: license.Devices}, {Name: "Email Security Devices", UnitType: license.Devices},
	{Name: "Cloud Backup Devices", UnitType: license.Devices}, {Name: "Network Defense Devices", UnitType: license.Devices},
}

// seedCatalogue creates benchProducts in the bound Manager m.
func seedCatalogue(ctx context.Context, m *partner.Manager) error {
	for _, p := range benchProducts {
		p.TrialOffered, p.TrialDays = true, 30
		if _, err := m.CreateProduct(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// benchGrants returns n valid grants numbered from first: eight products
// (eight pools), mostly running Full licences, with some Trials, some
// expiring soon and some already expired.
func benchGrants(first, n int) []license.Grant {
	out := make([]license.Grant, n)
	for k := range out {
		i := first + k
		pr := benchProducts[i%4+4*((i/4)%2)]
		g := license.Grant{Product: pr.Name, UnitType: pr.UnitType,
			Units: int64(10 + i%90), Kind: license.Full, Start: benchNow.AddDate(0, -1, 0), Expiry: benchNow.AddDate(1, 0, 0)}
		switch {
		case i%7 == 3:
			g.Kind = license.Trial
			g.Expiry = benchNow.AddDate(0, 0, 20) // expiring soon
		case i%11 == 5:
			g.Start, g.Expiry = benchNow.AddDate(-2, 0, 0), benchNow.AddDate(0, 0, -3) // expired
		}
		out[k] = g
	}
	return out
}

// seedPartner creates a partner named name (its administrator name-based,
// unique) in the bound Manager m.
func seedPartner(ctx context.Context, m *partner.Manager, name string, typ partner.Type) (partner.Partner, error) {
	key := strings.ToLower(strings.NewReplacer(" ", ".", "#", "").Replace(name))
	return m.Create(ctx, partner.CreateParams{Type: typ,
		Profile: partner.Profile{CompanyName: name, City: "Lyon", Country: "France",
			Contacts: []partner.Contact{{FirstName: "Ada", LastName: "Martin", Email: key + "@example.com", Phone: "+33 4 00 00 00 00"}}},
		Admin: account.Params{Name: key + ".admin", FirstName: "Ada", LastName: "Martin", Email: key + "@example.com"}})
}

// seedLicenses assigns n licences to the partner in assignments of up to
// 100 grants, within the caller's transaction.
func seedLicenses(ctx context.Context, m *partner.Manager, id int64, n int) error {
	for i := 0; i < n; i += 100 {
		if _, err := m.AssignLicenses(ctx, id, partner.AssignLicensesParams{Grants: benchGrants(i, min(100, n-i))}); err != nil {
			return err
		}
	}
	return nil
}

// seedAccounts adds n accounts to the partner, of every role, a few
// disabled, within the caller's transaction.
func seedAccounts(ctx context.Context, m *partner.Manager, p partner.Partner, n int) error {
	roles := account.Roles()
	for i := range n {
		a, err := m.AddAccount(ctx, p.ID, account.Params{Name: fmt.Sprintf("p%d.user%05d", p.ID, i), FirstName: "User",
			LastName: fmt.Sprintf("Number %d", i), Email: fmt.Sprintf("user%d@p%d.example.com", i, p.ID), Role: roles[i%len(roles)]})
		if err != nil {
			return err
		}
		if i%9 == 4 && a.Role != account.Administrator {
			if _, err := m.DisableAccount(ctx, p.ID, a.ID, a.Version); err != nil {
				return err
			}
		}
	}
	return nil
}

// fragmentWorld is the data of BenchmarkFragment: 200 partners, one of
// them (subject) an MSP with 60 licences in eight pools (three of them
// below the minimum), three customers using units, and 20 accounts.
type fragmentWorld struct {
	m       *partner.Manager
	store   *countingStore
	subject partner.Partner
	// license and customer are a licence and a customer of subject.
	license, customer int64
}

func newFragmentWorld(b testing.TB) *fragmentWorld {
	ctx := context.Background()
	w := &fragmentWorld{store: newCountingStore(dbtest.SQLite(b))}
	w.m = benchManager(w.store)
	err := w.m.RunInTx(ctx, func(ctx context.Context, m *partner.Manager) error {
		if err := seedCatalogue(ctx, m); err != nil {
			return err
		}
		for i := range 199 {
			typ := partner.MSP
			if i%3 == 1 {
				typ = partner.Reseller
			}
			p, err := seedPartner(ctx, m, fmt.Sprintf("Partner %03d", i), typ)
			if err != nil {
				return err
			}
			if err := seedLicenses(ctx, m, p.ID, 1+i%5); err != nil {
				return err
			}
		}
		p, err := seedPartner(ctx, m, "Subject MSP", partner.MSP)
		if err != nil {
			return err
		}
		if err := seedLicenses(ctx, m, p.ID, 60); err != nil {
			return err
		}
		if p, err = m.SetMinimumLicenses(ctx, p.ID, p.Version, 260); err != nil {
			return err
		}
		lics, _, err := m.Licenses(ctx, p.ID, partner.Page{Limit: 8})
		if err != nil {
			return err
		}
		for i := range 3 {
			c, err := m.AddCustomer(ctx, p.ID, partner.CustomerParams{Name: fmt.Sprintf("Customer %d", i)})
			if err != nil {
				return err
			}
			for _, l := range lics {
				if !benchNow.Before(l.Expiry) {
					continue // expired: nothing can be allocated from it
				}
				if _, err := m.Allocate(ctx, p.ID, partner.AllocateParams{LicenseID: l.ID, CustomerID: c.ID, Units: 3}); err != nil {
					return err
				}
				w.license, w.customer = l.ID, c.ID
			}
		}
		if err := seedAccounts(ctx, m, p, 19); err != nil {
			return err
		}
		w.subject, err = m.Get(ctx, p.ID)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	w.store.take()
	return w
}

// fragmentCase is one screen of BenchmarkFragment: the console's URL for
// it and the plain handler that makes the same reads.
type fragmentCase struct {
	name   string
	url    string
	header http.Header
	raw    func(w http.ResponseWriter, r *http.Request)
}

// serveOnce serves one request to h as a server would (RequestURI set)
// and returns the answer's status and size.
func serveOnce(h http.Handler, target string, header http.Header) (int, int) {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Len()
}

// nsPerOp keeps the ns/op of the runs a later run is compared with.
var nsPerOp sync.Map

func nsOf(b *testing.B) float64 { return float64(b.Elapsed().Nanoseconds()) / float64(b.N) }

// BenchmarkFragment serves an htmx request for a screen through the
// console (handler) and through a plain handler that makes the same
// Manager reads and writes the same rows as HTML without templates
// (raw), in that order; handler reports x-raw, its throughput as a
// multiple of raw's measured moments before (target ≥ 0.5).
func BenchmarkFragment(b *testing.B) {
	w := newFragmentWorld(b)
	raw := newRawConsole(w.m)
	hx := http.Header{"Hx-Request": {"true"}}
	id := w.subject.ID
	cases := []fragmentCase{
		{name: "list", url: benchPrefix + "/", header: http.Header{"Hx-Request": {"true"}, "Hx-Target": {"results"}}, raw: raw.list},
		{name: "licenses", url: fmt.Sprintf("%s/%d/licenses", benchPrefix, id), header: hx,
			raw: func(rw http.ResponseWriter, r *http.Request) { raw.licenses(rw, r, id) }},
		{name: "accounts", url: fmt.Sprintf("%s/%d/accounts", benchPrefix, id), header: hx,
			raw: func(rw http.ResponseWriter, r *http.Request) { raw.accounts(rw, r, id) }},
	}
	console := benchConsole(w.m, slog.New(slog.DiscardHandler))
	for _, c := range cases {
		for _, kind := range []string{"raw", "handler"} {
			var h http.Handler = console
			if kind == "raw" {
				h = http.HandlerFunc(c.raw)
			}
			b.Run(c.name+"/"+kind, func(b *testing.B) {
				b.ReportAllocs()
				w.store.take()
				var size int
				for b.Loop() {
					code, n := serveOnce(h, c.url, c.header)
					if code != http.StatusOK {
						b.Fatalf("%s: status %d", c.url, code)
					}
					size = n
				}
				calls, _ := w.store.take()
				b.ReportMetric(float64(size), "B/resp")
				b.ReportMetric(float64(calls["View"])/float64(b.N), "views/op")
				b.ReportMetric(float64(calls.reads())/float64(b.N), "reads/op")
				if kind == "raw" {
					nsPerOp.Store("fragment/"+c.name, nsOf(b))
				} else if ns, ok := nsPerOp.Load("fragment/" + c.name); ok {
					b.ReportMetric(ns.(float64)/nsOf(b), "x-raw")
				}
			})
		}
	}
}

// tabRows are the sizes BenchmarkTab compares.
var tabRows = []int{100, 10_000}

// BenchmarkTab serves the first page of a partner's licences, accounts
// and audit trail for a partner with 100 and with 10,000 of them; the
// 10,000 run reports vs-100, its time as a multiple of the 100 run's
// (target ≤ 1.5).
func BenchmarkTab(b *testing.B) {
	ctx := context.Background()
	store := newCountingStore(dbtest.SQLite(b))
	m := benchManager(store)
	start := time.Now()
	type subject struct {
		tab  string
		rows int
		id   int64
	}
	var subjects []subject
	err := m.RunInTx(ctx, func(ctx context.Context, m *partner.Manager) error {
		if err := seedCatalogue(ctx, m); err != nil {
			return err
		}
		for _, n := range tabRows {
			p, err := seedPartner(ctx, m, fmt.Sprintf("Licenses %d", n), partner.MSP)
			if err != nil {
				return err
			}
			if err := seedLicenses(ctx, m, p.ID, n); err != nil {
				return err
			}
			subjects = append(subjects, subject{"licenses", n, p.ID})

			if p, err = seedPartner(ctx, m, fmt.Sprintf("Accounts %d", n), partner.MSP); err != nil {
				return err
			}
			if err := seedAccounts(ctx, m, p, n-1); err != nil { // and its administrator
				return err
			}
			subjects = append(subjects, subject{"accounts", n, p.ID})

			if p, err = seedPartner(ctx, m, fmt.Sprintf("Audit %d", n), partner.MSP); err != nil {
				return err
			}
			_, have, err := m.Audit(ctx, p.ID, partner.Page{Limit: 1})
			if err != nil {
				return err
			}
			for i := have; i < n; i++ {
				if p, err = m.SetPoolRefill(ctx, p.ID, p.Version, !p.PoolRefill); err != nil {
					return err
				}
			}
			subjects = append(subjects, subject{"audit", n, p.ID})
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %v rows per tab in %s", tabRows, time.Since(start).Round(time.Millisecond))
	console := benchConsole(m, slog.New(slog.DiscardHandler))
	hx := http.Header{"Hx-Request": {"true"}}
	for _, tab := range []string{"licenses", "accounts", "audit"} {
		for _, s := range subjects {
			if s.tab != tab {
				continue
			}
			url := fmt.Sprintf("%s/%d/%s", benchPrefix, s.id, s.tab)
			b.Run(fmt.Sprintf("%s/%d", s.tab, s.rows), func(b *testing.B) {
				b.ReportAllocs()
				store.take()
				var size int
				for b.Loop() {
					code, n := serveOnce(console, url, hx)
					if code != http.StatusOK {
						b.Fatalf("%s: status %d", url, code)
					}
					size = n
				}
				calls, times := store.take()
				b.ReportMetric(float64(size), "B/resp")
				b.ReportMetric(float64(calls.reads())/float64(b.N), "reads/op")
				b.ReportMetric(float64(readTime(times).Microseconds())/1000/float64(b.N), "read-ms/op")
				b.Logf("per request: %s", calls.per(times, b.N))
				key := "tab/" + s.tab
				if s.rows == tabRows[0] {
					nsPerOp.Store(key, nsOf(b))
				} else if ns, ok := nsPerOp.Load(key); ok {
					b.ReportMetric(nsOf(b)/ns.(float64), "vs-100")
				}
			})
		}
	}
}
