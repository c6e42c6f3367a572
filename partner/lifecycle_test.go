package partner_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/partner/storetest"
)

// requireNoWrite runs call and checks that it succeeded and wrote
// nothing: the partner's snapshot and the event count are unchanged.
func (e *env) requireNoWrite(t *testing.T, id int64, what string, call func() error) {
	t.Helper()
	before := e.snapshot(t, id)
	events := e.eventCount()
	require.NoError(t, call(), what)
	require.Empty(t, cmp.Diff(before, e.snapshot(t, id)), "%s: nothing written", what)
	require.Equal(t, events, e.eventCount(), "%s: no event", what)
}

// requireRefused checks that err wraps kind and names field, and that the
// partner's snapshot is still before.
func (e *env) requireRefused(t *testing.T, id int64, before snapshot, err, kind error, field string) {
	t.Helper()
	requireErr(t, err, kind, field)
	require.Empty(t, cmp.Diff(before, e.snapshot(t, id)), "a refused call changes nothing")
}

// lastEvent returns the last event the hooks heard of.
func (e *env) lastEvent(t *testing.T) partner.Event {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	require.NotEmpty(t, e.events)
	return e.events[len(e.events)-1]
}

func TestExtendLicense(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active) // licence of 100 from t0-1m to t0+1y
		other := e.fixture(t, partner.MSP, partner.Active)
		id, lic := f.p.ID, f.lic
		later := lic.Expiry.AddDate(0, 6, 0)

		before := e.snapshot(t, id)
		_, err := e.m.ExtendLicense(e.ctx, id, lic.ID, 0, lic.Expiry.AddDate(0, 0, -1))
		e.requireRefused(t, id, before, err, partner.ErrInvalid, "expiry")
		require.Equal(t, "must be after the current expiry (2027-05-04)", partner.ErrorReason(err))
		_, err = e.m.ExtendLicense(e.ctx, id, lic.ID, 0, lic.Start.Add(license.MaxTerm+time.Hour))
		e.requireRefused(t, id, before, err, partner.ErrInvalid, "expiry")
		_, err = e.m.ExtendLicense(e.ctx, id, lic.ID, 0, time.Time{})
		e.requireRefused(t, id, before, err, partner.ErrInvalid, "expiry")
		_, err = e.m.ExtendLicense(e.ctx, id, other.lic.ID, 0, later)
		e.requireRefused(t, id, before, err, partner.ErrNotFound, "")
		_, err = e.m.ExtendLicense(e.ctx, id, lic.ID, lic.Version+1, later)
		e.requireRefused(t, id, before, err, partner.ErrConflict, "")
		_, err = e.m.ExtendLicense(e.ctx, id, lic.ID, lic.Version+1, time.Time{})
		requireErr(t, err, partner.ErrConflict, "") // a stale version comes before invalid input

		e.clock.Advance(time.Hour)
		paris := time.FixedZone("Paris", 2*3600)
		got, err := e.m.ExtendLicense(e.ctx, id, lic.ID, lic.Version, later.In(paris).Add(500*time.Nanosecond))
		require.NoError(t, err)
		want := lic
		want.Expiry, want.UpdatedAt, want.Version = later, t0.Add(time.Hour), lic.Version+1
		require.Empty(t, cmp.Diff(want, got), "the expiry in UTC at microsecond precision, the version one more")
		require.Equal(t, lic.GrantedExpiry, got.GrantedExpiry, "the granted expiry stays")
		ev := e.lastEvent(t)
		require.Equal(t, []any{partner.EventLicenseExtended, partner.OpExtendLicense, id, lic.ID},
			[]any{ev.Kind, ev.Op, ev.PartnerID, ev.LicenseID})
		audit, _, err := e.m.Audit(e.ctx, id, partner.Page{Limit: 1})
		require.NoError(t, err)
		require.Equal(t, "Expiry: 2027-05-04 → 2027-11-04", audit[0].Summary())
		require.Equal(t, []partner.Change{{Field: "expiry", Label: "Expiry", Before: "2027-05-04", After: "2027-11-04",
			BeforeValue: json.RawMessage(`"2027-05-04T10:00:00Z"`), AfterValue: json.RawMessage(`"2027-11-04T10:00:00Z"`)}}, audit[0].Changes)

		e.requireNoWrite(t, id, "the same expiry again (a retry)", func() error {
			_, err := e.m.ExtendLicense(e.ctx, id, lic.ID, 0, later)
			return err
		})
	})
}

// Extending an expired licence renews it: it can be given to customers
// again.
func TestExtendRenewsAnExpiredLicence(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.Reseller, partner.Active)
		short := grant(10)
		short.Expiry = t0.Add(time.Hour)
		res, err := e.m.AssignLicenses(e.ctx, f.p.ID, partner.AssignLicensesParams{Grants: []license.Grant{short}})
		require.NoError(t, err)
		l := res.Licenses[0]
		e.clock.Advance(2 * time.Hour)
		require.Equal(t, license.Expired, e.m.LicenseState(l))
		alloc := partner.AllocateParams{LicenseID: l.ID, CustomerID: f.customer.ID, Units: 1}
		_, err = e.m.Allocate(e.ctx, f.p.ID, alloc)
		requireErr(t, err, partner.ErrLicenseExpired, "license")

		l, err = e.m.ExtendLicense(e.ctx, f.p.ID, l.ID, l.Version, t0.AddDate(0, 3, 0))
		require.NoError(t, err)
		require.Equal(t, license.Normal, e.m.LicenseState(l))
		_, err = e.m.Allocate(e.ctx, f.p.ID, alloc)
		require.NoError(t, err, "the renewed licence is usable again")
	})
}

func TestAddAndReduceUnits(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active) // 100 units, 5 allocated
		id, lic := f.p.ID, f.lic
		before := e.snapshot(t, id)

		_, err := e.m.AddUnits(e.ctx, id, lic.ID, 0, 10)
		e.requireRefused(t, id, before, err, partner.ErrInvalid, "version")
		require.Contains(t, partner.ErrorReason(err), "twice", "the reason says why the version is required")
		_, err = e.m.ReduceUnits(e.ctx, id, lic.ID, 0, 0)
		e.requireRefused(t, id, before, err, partner.ErrInvalid, "version")
		require.Empty(t, cmp.Diff([]string{"version", "units"}, fieldNames(partner.FieldErrors(err))), "every problem at once")
		_, err = e.m.AddUnits(e.ctx, id, lic.ID, lic.Version, license.MaxUnits)
		e.requireRefused(t, id, before, err, partner.ErrInvalid, "units")
		require.Contains(t, partner.ErrorReason(err), "1000100 units")
		_, err = e.m.ReduceUnits(e.ctx, id, lic.ID, lic.Version, 100)
		e.requireRefused(t, id, before, err, partner.ErrInvalid, "units")
		_, err = e.m.ReduceUnits(e.ctx, id, lic.ID, lic.Version, 96)
		e.requireRefused(t, id, before, err, partner.ErrInsufficientUnits, "units")
		require.Equal(t, "cannot reduce to 4 units: 5 are allocated to customers", partner.ErrorReason(err))

		added, err := e.m.AddUnits(e.ctx, id, lic.ID, lic.Version, 10)
		require.NoError(t, err)
		require.Equal(t, []int64{110, 5, lic.Version + 1, 100}, []int64{added.Units, added.Used, added.Version, added.GrantedUnits})
		_, err = e.m.AddUnits(e.ctx, id, lic.ID, lic.Version, 10)
		requireErr(t, err, partner.ErrConflict, "") // a retry of the same call cannot add twice
		require.Equal(t, partner.EventLicenseUnitsChanged, e.lastEvent(t).Kind)

		reduced, err := e.m.ReduceUnits(e.ctx, id, lic.ID, added.Version, 105)
		require.NoError(t, err, "down to exactly the allocated units")
		require.Equal(t, []int64{5, 5}, []int64{reduced.Units, reduced.Used})
		require.Equal(t, license.Normal, e.m.LicenseState(reduced))
		audit, _, err := e.m.Audit(e.ctx, id, partner.Page{Limit: 2})
		require.NoError(t, err)
		require.Equal(t, []string{"reduce_units Units: 110 → 5", "add_units Units: 100 → 110"},
			[]string{string(audit[0].Action) + " " + audit[0].Summary(), string(audit[1].Action) + " " + audit[1].Summary()})
	})
}

func fieldNames(fs []partner.FieldError) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Field)
	}
	return out
}

func TestConvertToFull(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		tg := grant(20)
		tg.Kind, tg.Expiry = license.Trial, time.Time{} // the product's 30-day trial
		res, err := e.m.AssignLicenses(e.ctx, f.p.ID, partner.AssignLicensesParams{Grants: []license.Grant{tg}})
		require.NoError(t, err)
		trial := res.Licenses[0]
		require.Equal(t, tg.Start.AddDate(0, 0, 30), trial.Expiry, "a trial without an expiry gets the product's trial days")

		before := e.snapshot(t, f.p.ID)
		_, err = e.m.ConvertToFull(e.ctx, f.p.ID, trial.ID, 0, trial.Expiry.Add(-time.Hour))
		e.requireRefused(t, f.p.ID, before, err, partner.ErrInvalid, "expiry")
		_, err = e.m.ConvertToFull(e.ctx, f.p.ID, trial.ID, trial.Version+3, time.Time{})
		e.requireRefused(t, f.p.ID, before, err, partner.ErrConflict, "")

		full, err := e.m.ConvertToFull(e.ctx, f.p.ID, trial.ID, trial.Version, time.Time{})
		require.NoError(t, err)
		require.Equal(t, []any{license.Full, trial.Expiry, license.Trial, trial.Version + 1},
			[]any{full.Kind, full.Expiry, full.GrantedKind, full.Version}, "Full, the same expiry, granted as a Trial")
		require.Equal(t, partner.EventLicenseConverted, e.lastEvent(t).Kind)

		e.requireNoWrite(t, f.p.ID, "converting a Full licence without a new expiry", func() error {
			_, err := e.m.ConvertToFull(e.ctx, f.p.ID, full.ID, full.Version, time.Time{})
			return err
		})
		e.requireNoWrite(t, f.p.ID, "converting a Full licence to its own expiry", func() error {
			_, err := e.m.ConvertToFull(e.ctx, f.p.ID, full.ID, 0, full.Expiry)
			return err
		})
		year, err := e.m.ConvertToFull(e.ctx, f.p.ID, full.ID, full.Version, t0.AddDate(1, 0, 0))
		require.NoError(t, err, "on a Full licence a new expiry extends it")
		require.Equal(t, t0.AddDate(1, 0, 0), year.Expiry)

		tg.Start = t0
		tg.Product = "Email Security"
		tg.UnitType = ""
		res, err = e.m.AssignLicenses(e.ctx, f.p.ID, partner.AssignLicensesParams{Grants: []license.Grant{tg}})
		require.NoError(t, err)
		conv, err := e.m.ConvertToFull(e.ctx, f.p.ID, res.Licenses[0].ID, 0, t0.AddDate(1, 0, 0))
		require.NoError(t, err)
		require.Equal(t, []any{license.Full, t0.AddDate(1, 0, 0)}, []any{conv.Kind, conv.Expiry}, "converted and extended at once")
	})
}

func TestEnableLicenses(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		other := e.fixture(t, partner.MSP, partner.Active)
		reseller := e.fixture(t, partner.Reseller, partner.Active)
		id := f.p.ID
		off, err := e.m.DisableLicenses(e.ctx, id, []int64{f.lic.ID})
		require.NoError(t, err)

		before := e.snapshot(t, id)
		_, err = e.m.EnableLicenses(e.ctx, id, []int64{f.lic.ID, other.lic.ID})
		e.requireRefused(t, id, before, err, partner.ErrNotFound, "")
		_, err = e.m.EnableLicenses(e.ctx, id, nil)
		e.requireRefused(t, id, before, err, partner.ErrInvalid, "licenses")
		_, err = e.m.EnableLicenses(e.ctx, reseller.p.ID, []int64{reseller.lic.ID})
		requireErr(t, err, partner.ErrWrongType, "")

		e.clock.Advance(time.Minute)
		on, err := e.m.EnableLicenses(e.ctx, id, []int64{f.lic.ID, f.lic.ID})
		require.NoError(t, err)
		want := off[0]
		want.Disabled, want.DisabledAt, want.UpdatedAt, want.Version = false, time.Time{}, t0.Add(time.Minute), off[0].Version+1
		require.Empty(t, cmp.Diff([]license.License{want}, on))
		require.Equal(t, partner.EventLicensesEnabled, e.lastEvent(t).Kind)
		_, err = e.m.Allocate(e.ctx, id, partner.AllocateParams{LicenseID: f.lic.ID, CustomerID: f.customer.ID, Units: 1})
		require.NoError(t, err, "an enabled licence is given to customers again")

		e.requireNoWrite(t, id, "enabling licences already enabled", func() error {
			_, err := e.m.EnableLicenses(e.ctx, id, []int64{f.lic.ID})
			return err
		})
	})
}

// The lifecycle operations take part in RunInTx like every other: one
// refused call aborts the batch, and a batch commits them together.
func TestLifecycleInRunInTx(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		before := e.snapshot(t, f.p.ID)
		err := e.m.RunInTx(e.ctx, func(ctx context.Context, tm *partner.Manager) error {
			l, err := tm.AddUnits(ctx, f.p.ID, f.lic.ID, f.lic.Version, 50)
			if err != nil {
				return err
			}
			_, _ = tm.ExtendLicense(ctx, f.p.ID, l.ID, l.Version, l.Expiry.AddDate(-1, 0, 0)) // refused, ignored
			return nil
		})
		requireErr(t, err, partner.ErrInvalid, "expiry")
		require.Empty(t, cmp.Diff(before, e.snapshot(t, f.p.ID)), "the batch left nothing")

		err = e.m.RunInTx(e.ctx, func(ctx context.Context, tm *partner.Manager) error {
			l, err := tm.AddUnits(ctx, f.p.ID, f.lic.ID, f.lic.Version, 50)
			if err != nil {
				return err
			}
			_, err = tm.ExtendLicense(ctx, f.p.ID, l.ID, l.Version, l.Expiry.AddDate(1, 0, 0))
			return err
		})
		require.NoError(t, err)
		lics, _, err := e.m.Licenses(e.ctx, f.p.ID, partner.Page{})
		require.NoError(t, err)
		require.Equal(t, []int64{150, f.lic.Version + 2}, []int64{lics[0].Units, lics[0].Version})
	})
}

// Many goroutines adding units with the version they read: exactly one
// wins, the others learn of the conflict; no units are added twice.
func TestConcurrentAddUnitsAddOnce(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		ok, conflict := storetest.Race(t, 16, partner.ErrConflict, func() error {
			_, err := e.m.AddUnits(e.ctx, f.p.ID, f.lic.ID, f.lic.Version, 10)
			return err
		})
		require.Equal(t, []int{1, 15}, []int{ok, conflict})
		lics, _, err := e.m.Licenses(e.ctx, f.p.ID, partner.Page{})
		require.NoError(t, err)
		require.Equal(t, int64(110), lics[0].Units)
	})
}
