package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/partner/bunstore"
)

const (
	// libraryModule is the module whose example console the tests build;
	// go.mod replaces it with the repository's root folder.
	libraryModule = "github.com/partnerkit/partnerkit"
	// consolePackage is the example host application, the main job.
	consolePackage = libraryModule + "/examples/console"
)

// binDir holds the console binary for the whole test run.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "partnerkit-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

var build struct {
	once sync.Once
	path string
	out  string
	err  error
}

// consoleBinary builds the example console once per test run, the way
// `go run ./examples/console` does: in the library's own module (the
// folder go.mod's replace points to), so with the library's dependency
// versions, and with the race detector when the tests have it. It
// returns the binary's path.
//
// go test cannot tell when this build's sources change (it watches the
// files a test opens only inside the test's own module), so a cached
// result of these tests may be stale: run them with -count=1, as
// ../test.sh does.
func consoleBinary(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", libraryModule).Output()
		if err != nil {
			build.err = fmt.Errorf("find the folder of %s: %w", libraryModule, err)
			return
		}
		dir := strings.TrimSpace(string(out))
		build.path = filepath.Join(binDir, "console")
		args := []string{"build", "-o", build.path}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, consolePackage)...)
		cmd.Dir = dir
		out, err = cmd.CombinedOutput()
		build.out, build.err = string(out), err
	})
	require.NoError(t, build.err, "go build %s:\n%s", consolePackage, build.out)
	return build.path
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
	cmd            *exec.Cmd
	base           string // http://127.0.0.1:PORT, once ready
	stdout, stderr *syncBuffer
	done           chan struct{} // closed when the process has exited
	err            error         // its exit error, once done is closed
}

// listening is the line the console prints once it listens.
var listening = regexp.MustCompile(`Partner console: open (http://\S+)/admin/partners/`)

// startConsole starts the console binary on a port the system picks
// (-addr 127.0.0.1:0), with args after it, and does not wait. The process
// is killed when the test ends, if it still runs.
func startConsole(t *testing.T, args ...string) *console {
	t.Helper()
	cmd := exec.Command(consoleBinary(t), append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	c := &console{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = c.stdout, c.stderr
	require.NoError(t, cmd.Start())
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			_ = cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

// ready waits until the console has said where it listens and answers
// its partners list with 200, or fails when it exits first.
func (c *console) ready(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-c.done:
			t.Fatalf("the console exited before serving (%v):\n%s", c.err, c.stderr.String())
		default:
		}
		if c.base == "" {
			if m := listening.FindStringSubmatch(c.stdout.String()); m != nil {
				c.base = m[1]
			}
		}
		if c.base != "" {
			if res, err := http.Get(c.base + "/admin/partners/"); err == nil {
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					return
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the console did not answer within a minute:\nstdout:\n%s\nstderr:\n%s", c.stdout.String(), c.stderr.String())
}

// stop sends SIGTERM, as Ctrl-C would, and returns the exit error; it
// fails the test if the process has not exited 15 s later (the console
// lets requests finish for up to 10 s).
func (c *console) stop(t *testing.T) error {
	t.Helper()
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-c.done:
		return c.err
	case <-time.After(15 * time.Second):
		t.Fatalf("the console did not stop within 15 s of SIGTERM:\n%s", c.stderr.String())
		return nil
	}
}

// get fetches a page of the console and returns its status and body.
func (c *console) get(t *testing.T, path string) (int, string) {
	t.Helper()
	res, err := http.Get(c.base + path)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(body)
}

// openLibrary opens the console's SQLite file from the test's process,
// through the library, as a second process would: the console keeps
// running and sees what the returned Manager writes.
func openLibrary(t *testing.T, db string) *partner.Manager {
	t.Helper()
	s, err := bunstore.OpenSQLite(context.Background(), db)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return partner.NewManager(partner.Options{Store: s})
}

// The binary go build makes of examples/console starts on a new database
// file, seeds the demo data once, serves it, shows a partner another
// process created through the library on the same file, and stops
// cleanly on SIGTERM. It needs no browser.
func TestConsoleBinary(t *testing.T) {
	db := filepath.Join(t.TempDir(), "console.db")
	c := startConsole(t, "-db", db)
	c.ready(t)
	require.Equal(t, 1, strings.Count(c.stderr.String(), "seeded demo partners"), c.stderr.String())

	status, body := c.get(t, "/admin/partners/")
	require.Equal(t, http.StatusOK, status)
	for _, name := range []string{"Acme Managed IT", "Blue Sky Reseller", "Harbor Networks", "Old Town Software"} {
		require.Contains(t, body, name)
	}
	require.NotContains(t, body, "Second Process MSP")

	m := openLibrary(t, db)
	ctx := partner.WithActor(context.Background(), "e2e test")
	p, err := m.Create(ctx, partner.CreateParams{Type: partner.MSP,
		Profile: partner.Profile{CompanyName: "Second Process MSP", City: "Ghent", Country: "Belgium"},
		Admin:   account.Params{Name: "second.admin", FirstName: "Sam", LastName: "Peeters", Email: "sam@second.example"}})
	require.NoError(t, err)
	status, body = c.get(t, fmt.Sprintf("/admin/partners/%d/profile", p.ID))
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "Second Process MSP")
	status, body = c.get(t, fmt.Sprintf("/admin/partners/%d/audit", p.ID))
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "e2e test", "the audit trail names who acted in the other process")

	require.NoError(t, c.stop(t), c.stderr.String())
	require.Contains(t, c.stderr.String(), "msg=stopped")
	require.NotContains(t, c.stderr.String(), "level=ERROR")
}

// browserEnv is what every browser test starts with: the Chromium binary
// from ChromiumEnv (the test skips, saying how to turn it on, when it is
// unset) and the folder for its screenshots (ScreenshotsEnv, or a
// temporary one).
func browserEnv(t *testing.T) (chromium, shots string) {
	t.Helper()
	chromium = os.Getenv(ChromiumEnv)
	if chromium == "" {
		t.Skipf("browser test is off: set %s to a Chromium binary (e.g. /usr/bin/chromium) to run it", ChromiumEnv)
	}
	shots = os.Getenv(ScreenshotsEnv)
	if shots == "" {
		shots = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(shots, 0o755))
	return chromium, shots
}

// headless starts headless Chromium for one test, its window 1280 by
// 1000, with two minutes for the whole walk; the browser closes when the
// test ends.
func headless(t *testing.T, ctx context.Context, chromium string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1000))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(cancelBrowser)
	bctx, cancelTimeout := context.WithTimeout(bctx, 2*time.Minute)
	t.Cleanup(cancelTimeout)
	return bctx
}
