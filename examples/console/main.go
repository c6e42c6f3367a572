// Command console is the example host application: a small vendor console
// that mounts the partner admin plugin under /admin/partners/, on the
// embedded SQLite store, seeded with demo partners on first start.
//
//	go run ./examples/console            # then open http://127.0.0.1:8080/admin/partners/
//	go run ./examples/console -addr 127.0.0.1:9090 -db /tmp/demo.db
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/httpadmin"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/partner/bunstore"
	"github.com/partnerkit/partnerkit/partner/memstore"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		os.Exit(1)
	}
}

// timeouts bound what one client can hold: the server's read, write and
// idle times, each request's wait for the database, and how long a
// shutdown waits for requests in flight.
type timeouts struct {
	ReadHeader time.Duration // the request line and headers
	Read       time.Duration // the whole request, body included
	Write      time.Duration // from the end of the headers to the end of the answer
	Idle       time.Duration // a kept-alive connection between requests
	// Request is the deadline of each request's context, so of its wait
	// for a database another process keeps locked. It is shorter than
	// Write, so the answer (503) still reaches the client.
	Request  time.Duration
	Shutdown time.Duration
}

// defaultTimeouts are the example host's.
var defaultTimeouts = timeouts{ReadHeader: 5 * time.Second, Read: 10 * time.Second, Write: 30 * time.Second,
	Idle: 2 * time.Minute, Request: 10 * time.Second, Shutdown: 10 * time.Second}

// newServer is the example host's HTTP server: every timeout set, so a
// slow client cannot hold a connection for long.
func newServer(h http.Handler, log *slog.Logger, t timeouts) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: t.ReadHeader, ReadTimeout: t.Read, WriteTimeout: t.Write,
		IdleTimeout: t.Idle, MaxHeaderBytes: 64 << 10, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
}

// run is the console: it opens the store, seeds it when it is new, and
// serves until ctx ends or the process is told to stop (Ctrl-C,
// SIGTERM), then lets the requests in flight finish.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("console", flag.ContinueOnError)
	flags.SetOutput(stderr)
	addr := flags.String("addr", "127.0.0.1:8080", "address to listen on")
	db := flags.String("db", "console.db", "SQLite database file (created and seeded with demo data if new)")
	memory := flags.Bool("memory", false, "keep everything in memory instead of -db")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	fail := func(what string, err error) error {
		log.Error(what, "err", err)
		return fmt.Errorf("%s: %w", what, err)
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	var store partner.Store = memstore.New()
	if !*memory {
		s, err := bunstore.OpenSQLite(ctx, *db)
		if err != nil {
			return fail("open database", err)
		}
		defer s.Close()
		store = s
	}
	m := partner.NewManager(partner.Options{Store: store, Logger: log,
		ResetPassword: func(_ context.Context, a account.Account) error {
			log.Info("password reset link sent (demo: nothing is mailed)", "account", a.Name, "email", a.Email)
			return nil
		}})
	seeded, err := Seed(ctx, m, time.Now())
	if err != nil {
		return fail("seed demo data", err)
	}
	if seeded {
		log.Info("seeded demo partners")
	}

	dispatched := make(chan error, 1)
	go func() { dispatched <- dispatch(ctx, m, log) }()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fail("listen", err)
	}
	t := defaultTimeouts
	srv := newServer(NewHost(ctx, m, log, t.Request), log, t)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "Partner console: open http://%s/admin/partners/\n", ln.Addr())

	select {
	case err := <-served:
		return fail("serve", err)
	case <-ctx.Done():
	}
	stop() // a second Ctrl-C ends the process at once
	log.Info("stopping: finishing the requests in flight", "within", t.Shutdown)
	shutdown, cancel := context.WithTimeout(context.Background(), t.Shutdown)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		log.Warn("requests still in flight were cut off", "err", err)
		_ = srv.Close()
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fail("serve", err)
	}
	if err := <-dispatched; err != nil {
		return fail("dispatch events", err)
	}
	log.Info("stopped")
	return nil
}

// dispatch delivers the library's events from its outbox until ctx ends:
// a host would send them on (a webhook, a mail, a queue); this demo logs
// them. The same dispatcher runs the expiry sweep every hour (once per
// hour whatever the number of consoles on the database), so the expiring
// and expired notices come out as events too; delivered events are
// pruned after the library's default retention.
func dispatch(ctx context.Context, m *partner.Manager, log *slog.Logger) error {
	return m.Dispatch(ctx, partner.DispatchOptions{
		SweepEvery: time.Hour,
		Handler: func(ctx context.Context, e partner.Event) error {
			log.InfoContext(ctx, "event", "id", e.ID, "kind", e.Kind, "partner", e.PartnerID, "target", e.Target, "actor", e.Actor)
			return nil
		},
	})
}

// hostChrome is the host application's own page frame: the plugin's pages
// come inside it through the Layout hook.
var hostChrome = template.Must(template.New("host").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · Northwind Distribution</title>
{{.Head}}
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="pk-header"><a href="/">Northwind Distribution</a><span>Vendor console</span></header>
<main id="main" class="pk-main">
{{.Body}}
</main>
</body>
</html>
`))

// NewHost returns the host application's handler: its home page and the
// plugin mounted under /admin/partners/. Each request may wait at most
// requestTimeout for the database: a database that stays locked longer
// answers 503 (the console maps the store's error). The bulk runs the
// console starts end with ctx, the process's life: stopped, a run is
// resumed from its page.
func NewHost(ctx context.Context, m *partner.Manager, log *slog.Logger, requestTimeout time.Duration) http.Handler {
	mux := http.NewServeMux()
	admin := httpadmin.New(m, httpadmin.Options{
		Prefix: "/admin/partners",
		// The demo host has no sign-in: every visitor is the demo operator.
		Authorize: httpadmin.AllowAll,
		Actor:     func(*http.Request) string { return "demo.operator" },
		Layout: func(w http.ResponseWriter, r *http.Request, p httpadmin.LayoutData) {
			if err := hostChrome.Execute(w, p); err != nil {
				log.Error("layout", "err", err)
			}
		},
		Logger:  log,
		Context: ctx,
	})
	httpadmin.Mount(mux, "/admin/partners", admin) // the prefix stripped, as Options.Prefix says
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/admin/partners/", http.StatusSeeOther)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
		defer cancel()
		mux.ServeHTTP(w, r.WithContext(ctx))
	})
}
