package partner_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/internal/dbtest"
	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/partner/bunstore"
)

const day = 24 * time.Hour

// expiring returns a grant of the fixtures' product that expires at t.
func expiring(t time.Time) license.Grant {
	g := grant(10)
	g.Start, g.Expiry = t.Add(-90*day), t
	return g
}

// notices lists the expiry events heard since the last reset as
// "licence kind days-left", sorted as they came.
func (e *env) notices() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.events {
		if ev.Kind == partner.EventLicenseExpiring || ev.Kind == partner.EventLicenseExpired {
			out = append(out, fmt.Sprintf("%d %s %d", ev.LicenseID, ev.Kind, ev.DaysLeft))
		}
	}
	return out
}

func TestSweep(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		susp := e.fixture(t, partner.Reseller, partner.Active)
		gone := e.fixture(t, partner.MSP, partner.Active)
		res, err := e.m.AssignLicenses(e.ctx, f.p.ID, partner.AssignLicensesParams{Grants: []license.Grant{
			expiring(t0.Add(40 * day)), expiring(t0.Add(25 * day)), expiring(t0.Add(5 * day)), expiring(t0.Add(12 * time.Hour)),
			expiring(t0.Add(-time.Hour)), expiring(t0.Add(3 * day)),
		}})
		require.NoError(t, err)
		far, l25, l5, l12h, expired, off := res.Licenses[0], res.Licenses[1], res.Licenses[2], res.Licenses[3], res.Licenses[4], res.Licenses[5]
		_, err = e.m.DisableLicenses(e.ctx, f.p.ID, []int64{off.ID})
		require.NoError(t, err)
		res, err = e.m.AssignLicenses(e.ctx, susp.p.ID, partner.AssignLicensesParams{Grants: []license.Grant{expiring(t0.Add(6 * day))}})
		require.NoError(t, err)
		suspended := res.Licenses[0]
		_, err = e.m.Suspend(e.ctx, susp.p.ID, 0)
		require.NoError(t, err)
		_, err = e.m.AssignLicenses(e.ctx, gone.p.ID, partner.AssignLicensesParams{Grants: []license.Grant{expiring(t0.Add(2 * day))}})
		require.NoError(t, err)
		_, err = e.m.Cancel(e.ctx, gone.p.ID, 0)
		require.NoError(t, err)

		e.resetEvents()
		got, err := e.m.Sweep(e.ctx)
		require.NoError(t, err)
		require.Equal(t, partner.SweepResult{Checked: 5, Expiring: 4, Expired: 1, Skipped: 7, Batches: 1}, got)
		n := func(l license.License, kind partner.EventKind, days int) string {
			return fmt.Sprintf("%d %s %d", l.ID, kind, days)
		}
		require.Empty(t, cmp.Diff([]string{
			n(l25, partner.EventLicenseExpiring, 25), n(l5, partner.EventLicenseExpiring, 5), n(l12h, partner.EventLicenseExpiring, 1),
			n(expired, partner.EventLicenseExpired, 0), n(suspended, partner.EventLicenseExpiring, 6),
		}, e.notices()), "the nearest notice only; none for the disabled licence, the Canceled partner's, or the far one")
		ev := e.lastEvent(t)
		require.Equal(t, []any{partner.OpSweep, susp.p.ID, "tier1.operator", "license " + itoa(suspended.ID)},
			[]any{ev.Op, ev.PartnerID, ev.Actor, ev.Target})
		require.Contains(t, ev.After, "Notice (days before expiry): 7; Days left: 6")

		recorded, err := e.m.Notices(e.ctx, f.p.ID, l12h.ID)
		require.NoError(t, err)
		require.Empty(t, cmp.Diff([]partner.Notice{
			{LicenseID: l12h.ID, PartnerID: f.p.ID, Days: 30, Expiry: l12h.Expiry, Skipped: true, At: t0},
			{LicenseID: l12h.ID, PartnerID: f.p.ID, Days: 7, Expiry: l12h.Expiry, Skipped: true, At: t0},
			{LicenseID: l12h.ID, PartnerID: f.p.ID, Days: 1, Expiry: l12h.Expiry, At: t0},
		}, recorded), "the passed thresholds are recorded as skipped")
		_, err = e.m.Notices(e.ctx, susp.p.ID, l12h.ID)
		requireErr(t, err, partner.ErrNotFound, "")

		e.resetEvents()
		got, err = e.m.Sweep(e.ctx)
		require.NoError(t, err)
		require.Equal(t, partner.SweepResult{Checked: 4, Batches: 1}, got, "nothing twice; the expired one is not looked at again")
		require.Empty(t, e.notices())

		e.clock.Advance(20 * day)
		got, err = e.m.Sweep(e.ctx)
		require.NoError(t, err)
		require.Equal(t, partner.SweepResult{Checked: 5, Expiring: 2, Expired: 3, Skipped: 2, Batches: 1}, got)
		require.ElementsMatch(t, []string{
			n(far, partner.EventLicenseExpiring, 20), n(l25, partner.EventLicenseExpiring, 5), n(l5, partner.EventLicenseExpired, 0),
			n(l12h, partner.EventLicenseExpired, 0), n(suspended, partner.EventLicenseExpired, 0),
		}, e.notices())

		// An extended licence gets fresh notices for its new expiry.
		l25, err = e.m.ExtendLicense(e.ctx, f.p.ID, l25.ID, 0, e.clock.Now().Add(25*day))
		require.NoError(t, err)
		e.resetEvents()
		_, err = e.m.Sweep(e.ctx)
		require.NoError(t, err)
		require.Equal(t, []string{n(l25, partner.EventLicenseExpiring, 25)}, e.notices())
	})
}

// Sweep works in batches of SweepBatch licences, each its own
// transaction, and reaches every licence.
func TestSweepBatches(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		grants := make([]license.Grant, partner.SweepBatch+5)
		for i := range grants {
			grants[i] = expiring(t0.Add(10 * day))
		}
		_, err := e.m.AssignLicenses(e.ctx, f.p.ID, partner.AssignLicensesParams{Grants: grants})
		require.NoError(t, err)
		got, err := e.m.Sweep(e.ctx)
		require.NoError(t, err)
		require.Equal(t, partner.SweepResult{Checked: len(grants), Expiring: len(grants), Batches: 2}, got)
	})
}

// sweepers runs Sweep from every Manager in ms, each in several goroutines
// at once, and returns every expiry event they sent.
func sweepers(t *testing.T, ms []*partner.Manager, perManager int) []string {
	var mu sync.Mutex
	var sent []string
	for _, m := range ms {
		m.Subscribe(func(_ context.Context, ev partner.Event) error {
			mu.Lock()
			defer mu.Unlock()
			sent = append(sent, fmt.Sprintf("%d %s", ev.LicenseID, ev.Kind))
			return nil
		})
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, len(ms)*perManager)
	for _, m := range ms {
		for range perManager {
			wg.Go(func() {
				<-start
				_, err := m.Sweep(context.Background())
				errs <- err
			})
		}
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	return sent
}

// seedExpiring gives a partner of m n licences in each notice state.
func seedExpiring(t *testing.T, m *partner.Manager, now time.Time, n int) (want []string) {
	ctx := context.Background()
	_, err := m.CreateProduct(ctx, license.Product{Name: "Endpoint Security", UnitType: license.Seats})
	require.NoError(t, err)
	p, err := m.Create(ctx, newPartnerInput("Sweep Race", partner.MSP, "sweep.race"))
	require.NoError(t, err)
	var grants []license.Grant
	for i := range n {
		for _, at := range []time.Duration{20 * day, 3 * day, time.Hour, -time.Hour} {
			g := license.Grant{Product: "Endpoint Security", Units: int64(i + 1), Kind: license.Full, Start: now.Add(-90 * day), Expiry: now.Add(at)}
			grants = append(grants, g)
		}
	}
	res, err := m.AssignLicenses(ctx, p.ID, partner.AssignLicensesParams{Grants: grants})
	require.NoError(t, err)
	for _, l := range res.Licenses {
		kind := partner.EventLicenseExpiring
		if !l.Expiry.After(now) {
			kind = partner.EventLicenseExpired
		}
		want = append(want, fmt.Sprintf("%d %s", l.ID, kind))
	}
	return want
}

// Many goroutines sweeping one store at once send every notice once.
func TestSweepConcurrentlyOnOneStore(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			s := b.newStore(t)
			now := func() time.Time { return t0 }
			m := partner.NewManager(partner.Options{Store: s, Now: now})
			want := seedExpiring(t, m, t0, 30)
			got := sweepers(t, []*partner.Manager{m}, 8)
			require.ElementsMatch(t, want, got, "every notice sent exactly once")
		})
	}
}

// Two processes' stores on one database — two SQLite stores on one file,
// two PostgreSQL stores on one schema — sweeping at once send every
// notice once: the insert-if-absent of each notice decides who sends it.
func TestSweepConcurrentlyFromTwoStores(t *testing.T) {
	pairs := map[string]func(t *testing.T) (partner.Store, partner.Store){
		"sqlite": func(t *testing.T) (partner.Store, partner.Store) {
			path := dbtest.SQLitePath(t)
			a, err := bunstore.OpenSQLite(context.Background(), path)
			require.NoError(t, err)
			t.Cleanup(func() { a.Close() })
			b, err := bunstore.OpenSQLite(context.Background(), path)
			require.NoError(t, err)
			t.Cleanup(func() { b.Close() })
			return a, b
		},
		"postgres": func(t *testing.T) (partner.Store, partner.Store) {
			dsn := dbtest.PostgresDSN(t)
			schema := dbtest.PostgresSchema(t)
			da, db := dbtest.OpenPostgres(dsn, schema), dbtest.OpenPostgres(dsn, schema)
			t.Cleanup(func() { da.Close(); db.Close() })
			a := bunstore.New(da)
			require.NoError(t, a.Migrate(context.Background()))
			return a, bunstore.New(db)
		},
	}
	for name, open := range pairs {
		t.Run(name, func(t *testing.T) {
			a, b := open(t)
			now := func() time.Time { return t0 }
			ma := partner.NewManager(partner.Options{Store: a, Now: now})
			mb := partner.NewManager(partner.Options{Store: b, Now: now})
			want := seedExpiring(t, ma, t0, 30)
			got := sweepers(t, []*partner.Manager{ma, mb}, 4)
			require.ElementsMatch(t, want, got, "every notice sent exactly once, by one of the two")
		})
	}
}

// A licence that expired long before the sweep first looked at it — the
// first sweep of an existing database — is recorded, not announced; one
// that expired within the last 30 days is announced.
func TestSweepDoesNotAnnounceOldExpiries(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		res, err := e.m.AssignLicenses(e.ctx, f.p.ID, partner.AssignLicensesParams{Grants: []license.Grant{
			expiring(t0.Add(-400 * day)), expiring(t0.Add(-31 * day)), expiring(t0.Add(-29 * day)),
		}})
		require.NoError(t, err)
		old, month, recent := res.Licenses[0], res.Licenses[1], res.Licenses[2]
		e.resetEvents()
		got, err := e.m.Sweep(e.ctx)
		require.NoError(t, err)
		require.Equal(t, 1, got.Expired)
		require.Equal(t, []string{fmt.Sprintf("%d %s 0", recent.ID, partner.EventLicenseExpired)}, e.notices())
		for _, l := range []license.License{old, month} {
			recorded, err := e.m.Notices(e.ctx, f.p.ID, l.ID)
			require.NoError(t, err)
			var want []partner.Notice
			for _, d := range []int{30, 7, 1, 0} {
				want = append(want, partner.Notice{LicenseID: l.ID, PartnerID: f.p.ID, Days: d, Expiry: l.Expiry, Skipped: true, At: t0})
			}
			require.Empty(t, cmp.Diff(want, recorded), "recorded as skipped, so no later sweep announces it either")
		}
		e.resetEvents()
		got, err = e.m.Sweep(e.ctx)
		require.NoError(t, err)
		require.Zero(t, got.Expired+got.Skipped)
		require.Empty(t, e.notices())
	})
}
