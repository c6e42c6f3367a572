package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/internal/dbtest"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/partner/bunstore"
)

// mainEnv makes the test binary run the console's main instead of the
// tests, with the arguments in mainArgsEnv (one a line), so that
// tests can start real console processes.
const (
	mainEnv     = "PARTNERS_CONSOLE_MAIN"
	mainArgsEnv = "PARTNERS_CONSOLE_ARGS"
)

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		os.Args = append([]string{"console"}, strings.Split(os.Getenv(mainArgsEnv), "\n")...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// syncBuffer collects a child's output while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// console is a console process the test started.
type console struct {
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:PORT
	stderr *syncBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // its exit error, once done is closed
}

// freeAddr returns a loopback address no one listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// startConsole starts `console -addr ... args...` and does not wait.
func startConsole(t *testing.T, args ...string) *console {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), mainEnv+"=1", mainArgsEnv+"="+strings.Join(append([]string{"-addr", addr}, args...), "\n"))
	c := &console{cmd: cmd, base: "http://" + addr, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = io.Discard, c.stderr
	require.NoError(t, cmd.Start())
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-c.done
	})
	return c
}

// ready waits until the console answers, or fails when it exits first.
func (c *console) ready(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-c.done:
			t.Fatalf("the console exited before serving (%v):\n%s", c.err, c.stderr.String())
		default:
		}
		if res, err := http.Get(c.base + "/admin/partners/"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the console did not answer within a minute:\n%s", c.stderr.String())
}

// stop sends SIGTERM and returns the exit error, within limit.
func (c *console) stop(t *testing.T, limit time.Duration) error {
	t.Helper()
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-c.done:
		return c.err
	case <-time.After(limit):
		t.Fatalf("the console did not stop within %v of SIGTERM:\n%s", limit, c.stderr.String())
		return nil
	}
}

// lockDatabase holds the SQLite file's write lock, as another process
// writing would, until the returned func is called.
func lockDatabase(t *testing.T, path string) (unlock func()) {
	t.Helper()
	db := sql.OpenDB(bunstore.SQLiteConnector(path, true))
	conn, err := db.Conn(context.Background())
	require.NoError(t, err)
	_, err = conn.ExecContext(context.Background(), "BEGIN IMMEDIATE")
	require.NoError(t, err)
	var once sync.Once
	unlock = func() {
		once.Do(func() {
			_, _ = conn.ExecContext(context.Background(), "ROLLBACK")
			_ = conn.Close()
			_ = db.Close()
		})
	}
	t.Cleanup(unlock)
	return unlock
}

// postForm posts a form with a client that gives up after limit.
func postForm(base, path string, form url.Values, limit time.Duration) (*http.Response, string, error) {
	client := &http.Client{Timeout: limit, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.PostForm(base+path, form)
	if err != nil {
		return nil, "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return res, string(body), err
}

// A write waiting on a database locked by another process waited 211 s,
// then answered 500. It waits for the request's deadline at most and
// answers 503 with words to try again.
func TestLockedDatabaseAnswers503(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "console.db")
	c := startConsole(t, "-db", db)
	c.ready(t)
	lockDatabase(t, db)
	start := time.Now()
	res, body, err := postForm(c.base, "/admin/partners/1/licenses/refill", url.Values{"on": {"true"}}, 30*time.Second)
	require.NoError(t, err, "no answer within 30 s")
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode, body)
	require.Contains(t, body, "The database is busy; try again in a moment.")
	require.Less(t, time.Since(start), defaultTimeouts.Write, "the answer came before the write timeout")
	// The refusal is logged once the answer is sent.
	require.Eventually(t, func() bool { return strings.Contains(c.stderr.String(), "httpadmin: database busy") },
		5*time.Second, 20*time.Millisecond, c.stderr.String())
}

// A slowly sent body held a connection for more than 30 s: the server
// had no read timeout.
func TestSlowBodyIsCutOff(t *testing.T) {
	t.Parallel()
	c := startConsole(t, "-memory")
	c.ready(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(c.base, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	_, err = fmt.Fprintf(conn, "POST /admin/partners/1/profile HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\ncity=")
	require.NoError(t, err)
	start := time.Now()
	closed := make(chan struct{})
	go func() { // the server answers or hangs up; either ends the read
		_, _ = io.Copy(io.Discard, conn)
		close(closed)
	}()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-closed:
			require.Less(t, time.Since(start), defaultTimeouts.Read+5*time.Second)
			return
		case <-tick.C:
			if time.Since(start) > 25*time.Second {
				t.Fatalf("the server still held a slow request after %v", time.Since(start))
			}
			_, _ = conn.Write([]byte("x"))
		}
	}
}

// Ctrl-C and SIGTERM stop the console cleanly: a request in flight gets
// its answer, and the process exits 0 once it is done.
func TestSIGTERMLetsRequestsInFlightFinish(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "console.db")
	c := startConsole(t, "-db", db)
	c.ready(t)
	unlock := lockDatabase(t, db)
	type answer struct {
		res  *http.Response
		body string
		err  error
	}
	answered := make(chan answer, 1)
	go func() {
		res, body, err := postForm(c.base, "/admin/partners/1/licenses/refill", url.Values{"on": {"true"}}, 30*time.Second)
		answered <- answer{res, body, err}
	}()
	time.Sleep(time.Second) // the request is waiting for the lock
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGTERM))
	time.Sleep(time.Second)
	unlock() // now it can finish
	a := <-answered
	require.NoError(t, a.err, "the request in flight lost its answer:\n%s", c.stderr.String())
	require.Equal(t, http.StatusSeeOther, a.res.StatusCode, a.body)
	select {
	case <-c.done:
		require.NoError(t, c.err, c.stderr.String())
	case <-time.After(defaultTimeouts.Shutdown + 5*time.Second):
		t.Fatalf("the console did not exit after SIGTERM:\n%s", c.stderr.String())
	}
	require.Contains(t, c.stderr.String(), "msg=stopped")
}

// Two consoles started at the same moment on a new database file: the
// second sometimes exited with "seed demo data … name is already taken".
// Three start at once here, three times over; each must come up, and the
// demo data must be there once.
func TestConsolesStartTogetherOnANewDatabase(t *testing.T) {
	t.Parallel()
	for round := range 3 {
		db := filepath.Join(t.TempDir(), "console.db")
		cs := []*console{startConsole(t, "-db", db), startConsole(t, "-db", db), startConsole(t, "-db", db)}
		var logs strings.Builder
		for _, c := range cs {
			c.ready(t)
		}
		for _, c := range cs {
			require.NoError(t, c.stop(t, defaultTimeouts.Shutdown+5*time.Second), c.stderr.String())
			logs.WriteString(c.stderr.String())
		}
		s, err := bunstore.OpenSQLite(context.Background(), db)
		require.NoError(t, err)
		_, n, err := partner.NewManager(partner.Options{Store: s}).List(context.Background(), partner.Filter{})
		s.Close()
		require.NoError(t, err)
		require.Equal(t, 4, n, "round %d: the demo data, once", round)
		require.Equal(t, 1, strings.Count(logs.String(), "seeded demo partners"), "round %d", round)
	}
}

// The same race without processes: two stores on one new file seed at
// the same moment, several times over.
func TestSeedFromTwoStoresAtOnce(t *testing.T) {
	for round := range 5 {
		path := dbtest.SQLitePath(t)
		var managers [2]*partner.Manager
		for i := range managers {
			s, err := bunstore.OpenSQLite(context.Background(), path)
			require.NoError(t, err)
			t.Cleanup(func() { s.Close() })
			managers[i] = partner.NewManager(partner.Options{Store: s})
		}
		var (
			wg      sync.WaitGroup
			start   = make(chan struct{})
			seeded  [2]bool
			errs    [2]error
			instant = time.Now()
		)
		for i, m := range managers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				seeded[i], errs[i] = Seed(context.Background(), m, instant)
			}()
		}
		close(start)
		wg.Wait()
		require.NoError(t, errs[0], "round %d", round)
		require.NoError(t, errs[1], "round %d", round)
		require.True(t, seeded[0] != seeded[1], "round %d: exactly one seeds (%v)", round, seeded)
		_, n, err := managers[0].List(context.Background(), partner.Filter{})
		require.NoError(t, err)
		require.Equal(t, 4, n)
	}
}

// The host's server sets every timeout, and a request's wait for the
// database ends before the write timeout, so its 503 is still sent.
func TestHostTimeouts(t *testing.T) {
	srv := newServer(http.NotFoundHandler(), slog.New(slog.DiscardHandler), defaultTimeouts)
	for name, d := range map[string]time.Duration{"ReadHeaderTimeout": srv.ReadHeaderTimeout, "ReadTimeout": srv.ReadTimeout,
		"WriteTimeout": srv.WriteTimeout, "IdleTimeout": srv.IdleTimeout} {
		require.Positive(t, d, name)
	}
	require.Positive(t, defaultTimeouts.Request)
	require.Less(t, defaultTimeouts.Request, srv.WriteTimeout)
}
