package httpadmin_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/httpadmin"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/serviceplan"
)

// exampleManager is an in-memory Manager with one MSP, Acme Managed IT
// (partner 1), with Remote Manager in Europe.
func exampleManager() *partner.Manager {
	m := partner.NewManager(partner.Options{})
	_, err := m.Create(context.Background(), partner.CreateParams{Type: partner.MSP,
		Profile:       partner.Profile{CompanyName: "Acme Managed IT", City: "Lyon", Country: "France"},
		Admin:         account.Params{Name: "acme.admin", FirstName: "Ada", LastName: "Martin", Email: "ada@acme.example"},
		RemoteManager: []partner.DataCenter{serviceplan.EU}})
	if err != nil {
		log.Fatal(err)
	}
	return m
}

// printLines prints the lines of an answer that hold any of the texts.
func printLines(body string, texts ...string) {
	for line := range strings.Lines(body) {
		for _, s := range texts {
			if strings.Contains(line, s) {
				fmt.Println(strings.TrimSpace(line))
				break
			}
		}
	}
}

// A host mounts the console into its own ServeMux under a prefix; every
// link the console writes starts with it.
func ExampleMount() {
	m := exampleManager()
	mux := http.NewServeMux()
	admin := httpadmin.New(m, httpadmin.Options{Prefix: "/admin/partners", Authorize: httpadmin.AllowAll})
	httpadmin.Mount(mux, "/admin/partners", admin)

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/admin/partners/", nil))
	fmt.Println(rec.Code)
	printLines(rec.Body.String(), "<h1", "Acme Managed IT</a>")
	// Output:
	// 200
	// <h1 class="grow">Partners</h1>
	// <td><a href="/admin/partners/1/licenses">Acme Managed IT</a></td>
}

// A console mounted somewhere other than its Prefix says so on its first
// request, instead of answering pages whose links lead nowhere.
func ExampleMount_wrongPrefix() {
	m := exampleManager()
	mux := http.NewServeMux()
	admin := httpadmin.New(m, httpadmin.Options{Prefix: "/admin/partners", Authorize: httpadmin.AllowAll,
		Logger: slog.New(slog.DiscardHandler)})
	httpadmin.Mount(mux, "/partners", admin) // not where Options.Prefix says

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/partners/", nil))
	fmt.Println(rec.Code)
	fmt.Print(rec.Body.String())
	// Output:
	// 500
	// The partner console is configured with Prefix "/admin/partners", but it is mounted at "/partners" (the request for "/partners/" reached it as "/"): its links would be broken. Mount it with httpadmin.Mount(mux, "/admin/partners", handler), or set Options.Prefix to "/partners".
}

// A host renames the console and the remote management product it sells;
// every page, message and question uses its words.
func ExampleLabels() {
	m := exampleManager()
	mux := http.NewServeMux()
	httpadmin.Mount(mux, "/vendors", httpadmin.New(m, httpadmin.Options{Prefix: "/vendors", Authorize: httpadmin.AllowAll,
		Labels: httpadmin.Labels{ConsoleTitle: "Channel partners", Section: "Sales", RemoteManager: "Northwind Fleet Manager", RemoteManagerShort: "Fleet Manager"}}))

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/vendors/1/management-licenses", nil))
	printLines(rec.Body.String(), `aria-label="Breadcrumb"`, "gives the MSP access", `<th scope="col">Data center</th>`, "Enable Northwind")
	// Output:
	// <nav class="crumbs" aria-label="Breadcrumb"><ol><li>Sales</li><li><a href="/vendors/">Channel partners</a></li><li aria-current="page">Acme Managed IT</li></ol></nav>
	// <p>Northwind Fleet Manager gives the MSP access to the Fleet Manager console for the configured data centers.</p>
	// <thead><tr><th scope="col">Data center</th><th scope="col">Fleet Manager</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
	// <div><button type="submit">Enable Northwind Fleet Manager</button></div>
}

// Authorize tells a visitor who is not signed in (ErrUnauthenticated)
// from one who may not do this; the first is sent to the host's sign-in
// page, with htmx through HX-Redirect.
func ExampleOptions_signIn() {
	m := exampleManager()
	mux := http.NewServeMux()
	httpadmin.Mount(mux, "/admin/partners", httpadmin.New(m, httpadmin.Options{Prefix: "/admin/partners",
		Authorize: func(r *http.Request, _ httpadmin.Access) error {
			if _, err := r.Cookie("session"); err != nil {
				return httpadmin.ErrUnauthenticated
			}
			return nil
		},
		SignInURL: func(r *http.Request) string { return "/signin?next=" + url.QueryEscape(r.RequestURI) },
		Logger:    slog.New(slog.DiscardHandler)}))

	plain := httptest.NewRecorder()
	mux.ServeHTTP(plain, httptest.NewRequest("GET", "/admin/partners/1/accounts", nil))
	fmt.Println(plain.Code, plain.Header().Get("Location"))

	r := httptest.NewRequest("GET", "/admin/partners/1/accounts", nil)
	r.Header.Set("HX-Request", "true")
	hx := httptest.NewRecorder()
	mux.ServeHTTP(hx, r)
	fmt.Println(hx.Code, hx.Header().Get("HX-Redirect"))
	// Output:
	// 303 /signin?next=%2Fadmin%2Fpartners%2F1%2Faccounts
	// 401 /signin?next=%2Fadmin%2Fpartners%2F1%2Faccounts
}
