package bunstore_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/internal/dbtest"
	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/partner/bunstore"
)

// crashRun is the bulk run the child starts and the parent resumes: the
// same key and parameters in both processes.
var crashRun = partner.BulkParams{Key: "crash", Filter: &partner.Filter{},
	Action: partner.BulkAction{Kind: partner.BulkAssignLicenses, Grants: []license.Grant{{Product: "Endpoint Security", UnitType: "seats",
		Units: 5, Kind: license.Full, Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Expiry: time.Date(2029, 1, 1, 0, 0, 0, 0, time.UTC)}}}}

// runBulkChild runs the crash run until it ends, or the parent kills it.
func runBulkChild(ctx context.Context, s *bunstore.Store) int {
	if _, err := partner.NewManager(partner.Options{Store: s}).Bulk(ctx, crashRun); err != nil {
		fmt.Fprintln(os.Stderr, "bulk:", err)
		return 1
	}
	return 0
}

// TestBulkCrashResumesOnce kills a process with SIGKILL in the middle of
// a bulk run against a SQLite file, twice, then resumes the run with the
// same key: every partner ends with its licence exactly once, audited
// once, the refused ones with none.
func TestBulkCrashResumesOnce(t *testing.T) {
	const partners = 500
	ctx := context.Background()
	path := dbtest.SQLitePath(t)
	s, err := bunstore.OpenSQLite(ctx, path)
	require.NoError(t, err)
	require.NoError(t, bunstore.SeedBulk(ctx, s, partners, 0, time.Now()))
	_, err = partner.NewManager(partner.Options{Store: s}).CreateProduct(ctx, license.Product{Name: "Endpoint Security", UnitType: license.Seats})
	require.NoError(t, err, "the run's grants name a catalogue product")
	require.NoError(t, s.Close())

	for round := range 2 {
		cmd := childCmd(t, "bulk", "sqlite:"+path, [3]int64{}, 0)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		require.NoError(t, cmd.Start())
		s, err := bunstore.OpenSQLite(ctx, path)
		require.NoError(t, err)
		deadline := time.Now().Add(30 * time.Second)
		for {
			var n int
			err := s.DB().NewRaw("SELECT count(*) FROM partnerkit_bulk_items WHERE outcome <> 'pending'").Scan(ctx, &n)
			if err == nil && n >= 100*(round+1) || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		require.Error(t, cmd.Wait(), "the child was killed, not finished: %s", stderr.String())
		run, err := partner.NewManager(partner.Options{Store: s}).BulkRun(ctx, crashRun.Key)
		require.NoError(t, err)
		require.Equal(t, partners, run.Total)
		require.Positive(t, run.Pending, "killed mid-run (round %d)", round)
		require.NoError(t, s.Close())
	}

	s, err = bunstore.OpenSQLite(ctx, path)
	require.NoError(t, err)
	defer s.Close()
	m := partner.NewManager(partner.Options{Store: s})
	run, err := m.Bulk(ctx, crashRun)
	require.NoError(t, err)
	suspended := partners / 10 // SeedBulk suspends every tenth partner
	require.Equal(t, []int{partners, 0, partners - suspended, suspended}, []int{run.Total, run.Pending, run.Done, run.Refused})
	var counts []struct {
		Licences int `bun:"licences"`
		Audits   int `bun:"audits"`
		N        int `bun:"n"`
	}
	require.NoError(t, s.DB().NewRaw(`SELECT licences, audits, count(*) AS n FROM (SELECT p.id,
		(SELECT count(*) FROM partnerkit_licenses AS l WHERE l.partner_id = p.id AND l.grant_key LIKE 'crash/%') AS licences,
		(SELECT count(*) FROM partnerkit_audit AS a WHERE a.partner_id = p.id AND a.action = 'assign_licenses') AS audits
		FROM partnerkit_partners AS p) AS x GROUP BY licences, audits ORDER BY licences`).Scan(ctx, &counts))
	require.Len(t, counts, 2, "%+v", counts)
	require.Equal(t, []int{0, 0, suspended}, []int{counts[0].Licences, counts[0].Audits, counts[0].N})
	require.Equal(t, []int{1, 1, partners - suspended}, []int{counts[1].Licences, counts[1].Audits, counts[1].N},
		"every active partner's licence once, audited once")
}
