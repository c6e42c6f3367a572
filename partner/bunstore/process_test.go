package bunstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/internal/dbtest"
	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/partner/bunstore"
)

// The tests below re-execute the test binary as child processes. A child
// is told what to do through these environment variables.
const (
	childEnv     = "PARTNERKIT_TEST_CHILD"    // "allocate", "loop", "bulk", or one of outboxChildren
	childStore   = "PARTNERKIT_TEST_STORE"    // "sqlite:PATH" or "postgres:SCHEMA"
	childTargets = "PARTNERKIT_TEST_TARGETS"  // partnerID,licenseID,customerID
	childTries   = "PARTNERKIT_TEST_ATTEMPTS" // allocations to attempt ("allocate")
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(runChild(mode))
	}
	os.Exit(m.Run())
}

func openChildStore(ctx context.Context, spec string) (*bunstore.Store, error) {
	kind, arg, _ := strings.Cut(spec, ":")
	if kind == "sqlite" {
		return bunstore.OpenSQLite(ctx, arg)
	}
	return bunstore.New(dbtest.OpenPostgres(os.Getenv(dbtest.PostgresEnv), arg)), nil
}

// runChild allocates units through a Manager of its own, and prints how
// many allocations succeeded and how many found the licence short.
func runChild(mode string) int {
	ctx := context.Background()
	s, err := openChildStore(ctx, os.Getenv(childStore))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if mode == "bulk" {
		return runBulkChild(ctx, s)
	}
	var ids [3]int64
	for i, f := range strings.Split(os.Getenv(childTargets), ",") {
		ids[i], _ = strconv.ParseInt(f, 10, 64)
	}
	if run, ok := outboxChildren[mode]; ok { // outbox_process_test.go
		return run(ctx, s, ids)
	}
	m := partner.NewManager(partner.Options{Store: s})
	ok, short := 0, 0
	tries, _ := strconv.Atoi(os.Getenv(childTries))
	for i := 0; mode == "loop" || i < tries; i++ {
		units := int64(1)
		if mode == "loop" {
			units = int64(1 + i%3)
		}
		a, err := m.Allocate(ctx, ids[0], partner.AllocateParams{LicenseID: ids[1], CustomerID: ids[2], Units: units})
		switch {
		case err == nil:
			ok++
			if mode == "loop" && i%5 == 4 {
				if err := m.Release(ctx, ids[0], a.ID); err != nil {
					fmt.Fprintln(os.Stderr, "release:", err)
					return 1
				}
			}
		case errors.Is(err, partner.ErrInsufficientUnits):
			short++
		default:
			fmt.Fprintln(os.Stderr, "allocate:", err)
			return 1
		}
	}
	fmt.Printf("ok=%d short=%d\n", ok, short)
	return 0
}

func childCmd(t *testing.T, mode, store string, targets [3]int64, attempts int) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, childStore+"="+store,
		fmt.Sprintf("%s=%d,%d,%d", childTargets, targets[0], targets[1], targets[2]),
		fmt.Sprintf("%s=%d", childTries, attempts))
	return cmd
}

// fixture makes a partner with one licence of units and one customer.
func processFixture(t *testing.T, s *bunstore.Store, units int64) [3]int64 {
	ctx := context.Background()
	m := partner.NewManager(partner.Options{Store: s})
	_, err := m.CreateProduct(ctx, license.Product{Name: "Endpoint Security", UnitType: license.Seats})
	require.NoError(t, err)
	p, err := m.Create(ctx, partner.CreateParams{Type: partner.MSP,
		Profile: partner.Profile{CompanyName: "Two processes", City: "Lyon", Country: "France"},
		Admin:   account.Params{Name: "procs.admin", FirstName: "P", LastName: "P", Email: "p@example.com"}})
	require.NoError(t, err)
	now := time.Now().UTC()
	ls, err := m.AssignLicenses(ctx, p.ID, partner.AssignLicensesParams{Grants: []license.Grant{{Product: "Endpoint Security",
		UnitType: "seats", Units: units, Kind: license.Full, Start: now.Add(-time.Hour), Expiry: now.AddDate(1, 0, 0)}}})
	require.NoError(t, err)
	c, err := m.AddCustomer(ctx, p.ID, partner.CustomerParams{Name: "Shared customer"})
	require.NoError(t, err)
	return [3]int64{p.ID, ls.Licenses[0].ID, c.ID}
}

// TestTwoProcessesNeverOverAllocate runs two OS processes allocating from
// one licence of k units through one database: together they hand out
// exactly k units, never more.
func TestTwoProcessesNeverOverAllocate(t *testing.T) {
	const k, attempts = 150, 120 // 2 x 120 attempts for 150 units
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			var s *bunstore.Store
			var spec string
			if backend == "sqlite" {
				path := dbtest.SQLitePath(t)
				var err error
				s, err = bunstore.OpenSQLite(context.Background(), path)
				require.NoError(t, err)
				t.Cleanup(func() { s.Close() })
				spec = "sqlite:" + path
			} else {
				schema := dbtest.PostgresSchema(t)
				db := dbtest.OpenPostgres(dbtest.PostgresDSN(t), schema)
				t.Cleanup(func() { db.Close() })
				s = bunstore.New(db)
				require.NoError(t, s.Migrate(context.Background()))
				spec = "postgres:" + schema
			}
			ids := processFixture(t, s, k)

			var wg sync.WaitGroup
			outs := make([]string, 2)
			errs := make([]error, 2)
			for i := range 2 {
				wg.Go(func() {
					var out, stderr bytes.Buffer
					cmd := childCmd(t, "allocate", spec, ids, attempts)
					cmd.Stdout, cmd.Stderr = &out, &stderr
					errs[i] = cmd.Run()
					outs[i] = out.String() + stderr.String()
				})
			}
			wg.Wait()
			total := 0
			for i := range 2 {
				require.NoError(t, errs[i], outs[i])
				var ok, short int
				_, err := fmt.Sscanf(outs[i], "ok=%d short=%d", &ok, &short)
				require.NoError(t, err, outs[i])
				require.Equal(t, attempts, ok+short)
				total += ok
			}
			require.Equal(t, k, total, "the two processes handed out exactly k units")
			requireInvariants(t, s, ids[0])
		})
	}
}

// TestCrashMidAllocationKeepsInvariants kills a child with SIGKILL while it
// allocates and releases in a loop against a SQLite file, three times,
// reopening the file each time and checking every invariant.
func TestCrashMidAllocationKeepsInvariants(t *testing.T) {
	path := dbtest.SQLitePath(t)
	ctx := context.Background()
	s, err := bunstore.OpenSQLite(ctx, path)
	require.NoError(t, err)
	ids := processFixture(t, s, license.MaxUnits)
	require.NoError(t, s.Close())

	for round := range 3 {
		cmd := childCmd(t, "loop", "sqlite:"+path, ids, 0)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		require.NoError(t, cmd.Start())
		// Let it run until it has done some work, then kill it mid-stride.
		s, err := bunstore.OpenSQLite(ctx, path)
		require.NoError(t, err)
		deadline := time.Now().Add(30 * time.Second)
		for {
			var n int
			require.NoError(t, s.DB().NewRaw("SELECT count(*) FROM partnerkit_audit WHERE action = 'allocate_units'").Scan(ctx, &n))
			if n >= 100*(round+1) || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		err = cmd.Wait()
		require.Error(t, err, "the child was killed, not finished: %s", stderr.String())
		require.NoError(t, s.Close())

		s, err = bunstore.OpenSQLite(ctx, path)
		require.NoError(t, err)
		var integrity string
		require.NoError(t, s.DB().NewRaw("PRAGMA integrity_check").Scan(ctx, &integrity))
		require.Equal(t, "ok", integrity)
		requireInvariants(t, s, ids[0])
		require.NoError(t, s.Close())
	}
}

// requireInvariants checks, straight in SQL, that no licence has more
// units used than provisioned or fewer than zero, that each licence's
// used units are the sum of its allocations, and that every allocation
// has its audit record and every recorded allocation still standing has
// its row.
func requireInvariants(t *testing.T, s *bunstore.Store, partnerID int64) {
	t.Helper()
	ctx := context.Background()
	db := s.DB()
	var bad int
	require.NoError(t, db.NewRaw(`SELECT count(*) FROM partnerkit_licenses WHERE used < 0 OR used > units`).Scan(ctx, &bad))
	require.Zero(t, bad, "used within 0..units")
	require.NoError(t, db.NewRaw(`SELECT count(*) FROM partnerkit_licenses AS l
		WHERE l.used <> (SELECT coalesce(sum(a.units), 0) FROM partnerkit_allocations AS a WHERE a.license_id = l.id)`).Scan(ctx, &bad))
	require.Zero(t, bad, "used equals the sum of allocations")

	var allocIDs []int64
	require.NoError(t, db.NewRaw("SELECT id FROM partnerkit_allocations WHERE partner_id = ? ORDER BY id", partnerID).Scan(ctx, &allocIDs))
	type entry struct {
		Action string `bun:"action"`
		Target string `bun:"target"`
	}
	var entries []entry
	require.NoError(t, db.NewRaw(`SELECT action, target FROM partnerkit_audit
		WHERE partner_id = ? AND action IN ('allocate_units', 'release_units')`, partnerID).Scan(ctx, &entries))
	standing := map[string]bool{}
	for _, e := range entries {
		standing[e.Target] = e.Action == "allocate_units"
	}
	var recorded []int64
	for target, live := range standing {
		if live {
			id, err := strconv.ParseInt(strings.TrimPrefix(target, "allocation "), 10, 64)
			require.NoError(t, err)
			recorded = append(recorded, id)
		}
	}
	require.ElementsMatch(t, allocIDs, recorded, "allocation rows and audit records match one to one")
}

// Processes that open a new file at the same moment race to switch it to
// WAL; the losers' switch failed at once with SQLITE_BUSY. Every process
// must open it.
func TestProcessesOpenANewFileTogether(t *testing.T) {
	for round := range 15 {
		path := dbtest.SQLitePath(t)
		cmds := make([]*exec.Cmd, 6)
		outs := make([]*bytes.Buffer, len(cmds))
		for i := range cmds {
			cmds[i] = childCmd(t, "allocate", "sqlite:"+path, [3]int64{}, 0)
			outs[i] = &bytes.Buffer{}
			cmds[i].Stdout, cmds[i].Stderr = outs[i], outs[i]
		}
		for _, c := range cmds {
			require.NoError(t, c.Start())
		}
		for i, c := range cmds {
			require.NoError(t, c.Wait(), "round %d, process %d: %s", round, i, outs[i])
		}
	}
}
