package bunstore_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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

// The outbox's process tests: children that dispatch (and make changes),
// one killed with SIGKILL between commits and deliveries, two dispatching
// from one database at once. A child writes one line per delivery its
// handler finished to the file named by childLog:
//
//	id attempt claim start-ns end-ns ok|failed
const (
	childLog      = "PARTNERKIT_TEST_LOG"       // the child's delivery log
	childExpect   = "PARTNERKIT_TEST_EXPECT"    // "dispatch": stop once this many events are all delivered
	childHandleMS = "PARTNERKIT_TEST_HANDLE_MS" // how long the handler works on an event
	childLease    = "PARTNERKIT_TEST_LEASE"     // the dispatcher's lease (a duration)
)

// outboxChildren are the child modes of these tests (see runChild).
var outboxChildren = map[string]func(ctx context.Context, s *bunstore.Store, ids [3]int64) int{
	"dispatch":         childDispatch,
	"produce+dispatch": childProduceAndDispatch,
}

// childHandler returns the handler of a child: it works for childHandleMS,
// fails the first attempt at every seventh event, and logs each delivery.
func childHandler(log io.Writer) func(ctx context.Context, e partner.Event) error {
	work, _ := strconv.Atoi(os.Getenv(childHandleMS))
	var mu sync.Mutex
	return func(ctx context.Context, e partner.Event) error {
		d, _ := partner.DeliveryFrom(ctx)
		start := time.Now()
		time.Sleep(time.Duration(work) * time.Millisecond)
		var err error
		outcome := "ok"
		if e.ID%7 == 0 && d.Attempt == 1 {
			err, outcome = errors.New("the first attempt at every seventh event fails"), "failed"
		}
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(log, "%d %d %s %d %d %s\n", e.ID, d.Attempt, d.Claim, start.UnixNano(), time.Now().UnixNano(), outcome)
		return err
	}
}

func childOptions(log io.Writer) partner.DispatchOptions {
	lease, err := time.ParseDuration(os.Getenv(childLease))
	if err != nil {
		lease = 5 * time.Second
	}
	return partner.DispatchOptions{Handler: childHandler(log), Workers: 4, Poll: 20 * time.Millisecond,
		Lease: lease, Backoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}
}

func openLog() (*os.File, error) {
	return os.OpenFile(os.Getenv(childLog), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
}

func quietManager(s *bunstore.Store) *partner.Manager {
	return partner.NewManager(partner.Options{Store: s, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// childDispatch dispatches until childExpect events are in the outbox and
// every one is delivered.
func childDispatch(ctx context.Context, s *bunstore.Store, _ [3]int64) int {
	log, err := openLog()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer log.Close()
	expect, _ := strconv.Atoi(os.Getenv(childExpect))
	m := quietManager(s)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Dispatch(ctx, childOptions(log)) }()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, all, err1 := m.Outbox(ctx, partner.OutboxFilter{Page: partner.Page{Limit: 1}})
		_, pending, err2 := m.Outbox(ctx, partner.OutboxFilter{State: partner.OutboxPending, Page: partner.Page{Limit: 1}})
		if err := errors.Join(err1, err2); err != nil {
			fmt.Fprintln(os.Stderr, "outbox:", err)
		} else if all >= expect && pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "not every event delivered within 2 minutes: %d of %d, %d pending\n", all, expect, pending)
			cancel()
			<-done
			return 1
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, "dispatch:", err)
		return 1
	}
	return 0
}

// childProduceAndDispatch adds customers in a loop, each change with its
// event, while it dispatches, until it is killed.
func childProduceAndDispatch(ctx context.Context, s *bunstore.Store, ids [3]int64) int {
	log, err := openLog()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	m := quietManager(s)
	go func() { _ = m.Dispatch(ctx, childOptions(log)) }()
	for i := 0; ; i++ {
		if _, err := m.AddCustomer(ctx, ids[0], partner.CustomerParams{Name: fmt.Sprintf("Produced %d", i)}); err != nil {
			fmt.Fprintln(os.Stderr, "add customer:", err)
			return 1
		}
	}
}

// loggedDelivery is one line of a child's delivery log.
type loggedDelivery struct {
	id, attempt int64
	claim       string
	start, end  int64
	ok          bool
	file        string
}

func readLogs(t *testing.T, paths ...string) []loggedDelivery {
	t.Helper()
	var out []loggedDelivery
	for _, path := range paths {
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		require.NoError(t, err)
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var d loggedDelivery
			var outcome string
			if _, err := fmt.Sscanf(sc.Text(), "%d %d %s %d %d %s", &d.id, &d.attempt, &d.claim, &d.start, &d.end, &outcome); err != nil {
				continue // a line cut short by SIGKILL
			}
			d.ok, d.file = outcome == "ok", filepath.Base(path)
			out = append(out, d)
		}
		require.NoError(t, sc.Err())
		f.Close()
	}
	return out
}

func childEnvCmd(t *testing.T, mode, spec string, ids [3]int64, env ...string) *exec.Cmd {
	cmd := childCmd(t, mode, spec, ids, 0)
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// outboxBackend opens the store of one backend for the parent, and the
// spec a child opens it by.
func outboxBackend(t *testing.T, backend string) (*bunstore.Store, string) {
	t.Helper()
	if backend == "sqlite" {
		path := dbtest.SQLitePath(t)
		s, err := bunstore.OpenSQLite(context.Background(), path)
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s, "sqlite:" + path
	}
	schema := dbtest.PostgresSchema(t)
	db := dbtest.OpenPostgres(dbtest.PostgresDSN(t), schema)
	t.Cleanup(func() { db.Close() })
	s := bunstore.New(db)
	require.NoError(t, s.Migrate(context.Background()))
	return s, "postgres:" + schema
}

// allOutbox returns every message of the store's outbox.
func allOutbox(t *testing.T, s *bunstore.Store) []partner.OutboxMessage {
	t.Helper()
	var out []partner.OutboxMessage
	require.NoError(t, s.View(context.Background(), func(ctx context.Context, r partner.Reader) (err error) {
		out, _, err = r.Outbox(ctx, partner.OutboxFilter{})
		return err
	}))
	return out
}

// requireEveryEventDelivered checks that every event of the outbox is
// marked delivered and that a handler returned nil for it, and that no
// event was ever in two handlers at once. It returns the successful
// deliveries per event.
func requireEveryEventDelivered(t *testing.T, s *bunstore.Store, logs []loggedDelivery) map[int64]int {
	t.Helper()
	okCount := map[int64]int{}
	byID := map[int64][]loggedDelivery{}
	for _, d := range logs {
		byID[d.id] = append(byID[d.id], d)
		if d.ok {
			okCount[d.id]++
		}
	}
	msgs := allOutbox(t, s)
	require.NotEmpty(t, msgs)
	for _, m := range msgs {
		require.False(t, m.DeliveredAt.IsZero(), "event %d (%s) is marked delivered", m.ID, m.Kind)
		require.Positive(t, okCount[m.ID], "event %d (%s) reached a handler that took it", m.ID, m.Kind)
	}
	for id, ds := range byID {
		for i := range ds {
			for j := i + 1; j < len(ds); j++ {
				a, b := ds[i], ds[j]
				require.False(t, a.start < b.end && b.start < a.end,
					"event %d was in two handlers at once: %s %s [%d, %d] and %s %s [%d, %d]",
					id, a.file, a.claim, a.start, a.end, b.file, b.claim, b.start, b.end)
			}
		}
	}
	return okCount
}

// count returns a count from SQL.
func count(t *testing.T, s *bunstore.Store, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, s.DB().NewRaw(query, args...).Scan(context.Background(), &n))
	return n
}

// settledCount is count once it gives the same figure twice, half a
// second apart.
func settledCount(t *testing.T, s *bunstore.Store, query string) int {
	t.Helper()
	n := count(t, s, query)
	for {
		time.Sleep(500 * time.Millisecond)
		m := count(t, s, query)
		if m == n {
			return n
		}
		n = m
	}
}

// TestOutboxSurvivesSIGKILL kills a child with SIGKILL while it makes
// changes and delivers their events (slowly, so that committed events are
// waiting, some claimed, some in a handler), then starts another
// dispatcher: every event is delivered, and every change has its event.
func TestOutboxSurvivesSIGKILL(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			s, spec := outboxBackend(t, backend)
			ids := processFixture(t, s, 10)
			dir := t.TempDir()
			logA, logB := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")

			cmd := childEnvCmd(t, "produce+dispatch", spec, ids, childLog+"="+logA, childHandleMS+"=15", childLease+"=1s")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			require.NoError(t, cmd.Start())
			deadline := time.Now().Add(60 * time.Second)
			for {
				delivered := len(readLogs(t, logA))
				pending := count(t, s, "SELECT count(*) FROM partnerkit_outbox WHERE delivered_at IS NULL")
				if (delivered >= 20 && pending >= 30) || time.Now().After(deadline) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
			require.Error(t, cmd.Wait(), "the child was killed, not finished: %s", stderr.String())

			// A COMMIT the child sent just before it was killed may still
			// complete on the PostgreSQL server after the process is gone:
			// count once the outbox has stopped growing.
			total := settledCount(t, s, "SELECT count(*) FROM partnerkit_outbox")
			pending := count(t, s, "SELECT count(*) FROM partnerkit_outbox WHERE delivered_at IS NULL")
			claimed := count(t, s, "SELECT count(*) FROM partnerkit_outbox WHERE delivered_at IS NULL AND claim <> ''")
			t.Logf("killed with %d events recorded: %d delivered, %d pending (%d of them claimed by the dead process)",
				total, total-pending, pending, claimed)
			require.Positive(t, pending, "the kill fell between commits and deliveries")

			// Every change committed with its event, none without.
			require.Equal(t, count(t, s, "SELECT count(*) FROM partnerkit_audit WHERE action = 'add_customer'"),
				count(t, s, "SELECT count(*) FROM partnerkit_outbox WHERE kind = ?", string(partner.EventCustomerAdded)))

			restart := childEnvCmd(t, "dispatch", spec, ids, childLog+"="+logB, childHandleMS+"=1", childLease+"=1s",
				fmt.Sprintf("%s=%d", childExpect, total))
			out, err := restart.CombinedOutput()
			require.NoError(t, err, "the restarted dispatcher: %s", out)

			logs := readLogs(t, logA, logB)
			okCount := requireEveryEventDelivered(t, s, logs)
			again := 0
			for _, n := range okCount {
				again += n - 1
			}
			t.Logf("%d deliveries logged; %d events taken twice (a handler that finished before the kill, its outcome not recorded)", len(logs), again)
			require.Equal(t, total, count(t, s, "SELECT count(*) FROM partnerkit_outbox"), "the restart made no event")
		})
	}
}

// TestTwoProcessesDispatchOneDatabase runs two dispatcher processes on
// one database while this process makes changes: every event is
// delivered once, by one of them, and never by both at once.
func TestTwoProcessesDispatchOneDatabase(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			s, spec := outboxBackend(t, backend)
			ids := processFixture(t, s, 10)
			const n = 300
			expect := count(t, s, "SELECT count(*) FROM partnerkit_outbox") + n
			dir := t.TempDir()
			logs := []string{filepath.Join(dir, "one.log"), filepath.Join(dir, "two.log")}
			var wg sync.WaitGroup
			outs := make([][]byte, 2)
			errs := make([]error, 2)
			for i := range 2 {
				cmd := childEnvCmd(t, "dispatch", spec, ids, childLog+"="+logs[i], childHandleMS+"=2",
					fmt.Sprintf("%s=%d", childExpect, expect))
				wg.Go(func() { outs[i], errs[i] = cmd.CombinedOutput() })
			}
			m := quietManager(s) // makes changes, dispatches nothing
			for i := range n {
				_, err := m.AddCustomer(context.Background(), ids[0], partner.CustomerParams{Name: fmt.Sprintf("Customer %d", i)})
				require.NoError(t, err)
			}
			wg.Wait()
			for i := range 2 {
				require.NoError(t, errs[i], "dispatcher %d: %s", i+1, outs[i])
			}

			got := readLogs(t, logs...)
			okCount := requireEveryEventDelivered(t, s, got)
			perProcess := map[string]int{}
			for _, d := range got {
				if d.ok {
					perProcess[d.file]++
				}
			}
			for id, c := range okCount {
				require.Equal(t, 1, c, "event %d taken once: no crash, no lost lease", id)
			}
			require.Len(t, okCount, expect)
			t.Logf("deliveries per process: %v", perProcess)
			require.Len(t, perProcess, 2, "both processes delivered")
			prefixes := map[string]map[string]bool{} // log → its claims' dispatcher part
			for _, d := range got {
				if prefixes[d.file] == nil {
					prefixes[d.file] = map[string]bool{}
				}
				prefixes[d.file][d.claim[:strings.LastIndex(d.claim, "/")]] = true
			}
			require.Len(t, prefixes["one.log"], 1)
			require.Len(t, prefixes["two.log"], 1)
			require.NotEqual(t, prefixes["one.log"], prefixes["two.log"], "each process claims under its own name")
		})
	}
}
