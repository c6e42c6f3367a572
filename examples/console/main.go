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
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/httpadmin"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/partner/bunstore"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	db := flag.String("db", "console.db", "SQLite database file (created and seeded with demo data if new)")
	memory := flag.Bool("memory", false, "keep everything in memory instead of -db")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var store partner.Store = partner.NewMemoryStore()
	if !*memory {
		s, err := bunstore.OpenSQLite(ctx, *db)
		if err != nil {
			log.Error("open database", "err", err)
			os.Exit(1)
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
		log.Error("seed demo data", "err", err)
		os.Exit(1)
	}
	if seeded {
		log.Info("seeded demo partners")
	}

	srv := &http.Server{Addr: *addr, Handler: NewHost(m, log), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	fmt.Printf("Partner console: open http://%s/admin/partners/\n", *addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("serve", "err", err)
		os.Exit(1)
	}
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
// plugin mounted under /admin/partners/.
func NewHost(m *partner.Manager, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	admin := httpadmin.New(m, httpadmin.Options{
		Prefix: "/admin/partners",
		// The demo host has no sign-in: every visitor is the demo operator.
		Authorize: httpadmin.AllowAll,
		Actor:     func(*http.Request) string { return "demo.operator" },
		Layout: func(w http.ResponseWriter, r *http.Request, p httpadmin.Page) {
			if err := hostChrome.Execute(w, p); err != nil {
				log.Error("layout", "err", err)
			}
		},
		Logger: log,
	})
	mux.Handle("/admin/partners/", http.StripPrefix("/admin/partners", admin))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/admin/partners/", http.StatusSeeOther)
	})
	return mux
}
