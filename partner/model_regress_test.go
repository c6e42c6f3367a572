package partner_test

// Regression tests for the defects TestModel found, one per defect, each
// on every store. They state the behaviour the library promises and fail
// until it is fixed.

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/serviceplan"
)

// paddedGrant is a valid grant written the way a caller may: text with
// surrounding spaces, dates in another time zone with nanoseconds.
func paddedGrant() license.Grant {
	z := time.FixedZone("UTC+2", 2*60*60)
	return license.Grant{Product: "  Email Security ", UnitType: " users ", Units: 5, Kind: license.Full,
		Start: t0.AddDate(0, -1, 0).In(z).Add(1234 * time.Nanosecond), Expiry: t0.AddDate(1, 0, 0).In(z).Add(789 * time.Nanosecond)}
}

// requireSameInput fails unless after is exactly before: same instants,
// same locations, same text.
func requireSameInput(t *testing.T, before, after any) {
	t.Helper()
	if d := inputDiff(before, after); d != "" {
		t.Fatalf("the call changed the caller's input (-before +after):\n%s", d)
	}
}

// Found by TestModel: AssignLicenses normalizes the caller's Grants slice in
// place (trims product and unit type, moves dates to UTC and truncates
// them), so the caller's own data changes under it.
func TestRegressAssignLicensesKeepsCallerGrants(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		p, err := e.m.Create(e.ctx, newPartnerInput("Grants Kept", partner.MSP, "grants.kept"))
		require.NoError(t, err)
		a := partner.AssignLicensesParams{Key: "po-1", Grants: []license.Grant{paddedGrant()}}
		before := deepCopy(a)
		_, err = e.m.AssignLicenses(e.ctx, p.ID, a)
		require.NoError(t, err)
		requireSameInput(t, before, a)
	})
}

// Found by TestModel: Create normalizes the caller's Profile.Contacts and
// Licenses slices in place.
func TestRegressCreateKeepsCallerInput(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		in := newPartnerInput("Input Kept", partner.MSP, "input.kept")
		in.Profile.Contacts = []partner.Contact{{FirstName: " Bob ", LastName: " Stone ", Email: " bob@stone.example ", Phone: " +33 1 "}}
		in.Licenses = []license.Grant{paddedGrant()}
		before := deepCopy(in)
		_, err := e.m.Create(e.ctx, in)
		require.NoError(t, err)
		requireSameInput(t, before, in)
	})
}

// requireIs fails unless err wraps want.
func requireIs(t *testing.T, err, want error, what string) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got %v %v, want %s", what, sentinelNames(err), err, sentinelName(want))
	}
}

// Found by TestModel: several operations validate their input before they
// look the partner up, check the guard and the version, so an unknown,
// canceled, suspended or wrong-type partner, or a stale version, gets
// ErrInvalid. The promised order is: unknown partner, the guard (Canceled,
// wrong type, Suspended), a stale version, and only then invalid input.
func TestRegressRefusalOrderInputAfterGuard(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		active := e.fixture(t, partner.MSP, partner.Active)
		suspended := e.fixture(t, partner.MSP, partner.Suspended)
		canceled := e.fixture(t, partner.MSP, partner.Canceled)
		reseller := e.fixture(t, partner.Reseller, partner.Active)
		type call func(pid int64, f fixture, version int64) error
		calls := []struct {
			name    string
			mspOnly bool
			stale   bool // takes a version: partner's, or the account's for ChangeRole
			call    call
		}{
			{"AssignLicenses without grants", false, false, func(pid int64, _ fixture, _ int64) error {
				_, err := e.m.AssignLicenses(e.ctx, pid, partner.AssignLicensesParams{Key: "po-1"})
				return err
			}},
			{"AssignLicenses with an invalid grant", false, false, func(pid int64, _ fixture, _ int64) error {
				_, err := e.m.AssignLicenses(e.ctx, pid, partner.AssignLicensesParams{Grants: []license.Grant{grant(0)}})
				return err
			}},
			{"SetMinimumLicenses(-1)", false, true, func(pid int64, _ fixture, v int64) error {
				_, err := e.m.SetMinimumLicenses(e.ctx, pid, v, -1)
				return err
			}},
			{"EnableRemoteManager(XX)", true, true, func(pid int64, _ fixture, v int64) error {
				_, err := e.m.EnableRemoteManager(e.ctx, pid, v, "XX")
				return err
			}},
			{"DisableLicenses(none)", true, false, func(pid int64, _ fixture, _ int64) error {
				_, err := e.m.DisableLicenses(e.ctx, pid, nil)
				return err
			}},
			{"AddAccount(invalid)", false, false, func(pid int64, _ fixture, _ int64) error {
				_, err := e.m.AddAccount(e.ctx, pid, account.Params{Name: "ab"})
				return err
			}},
			{"ChangeRole(bogus)", false, true, func(pid int64, f fixture, v int64) error {
				_, err := e.m.ChangeRole(e.ctx, pid, f.second.ID, v, "bogus")
				return err
			}},
			{"AddCustomer(no name)", false, false, func(pid int64, _ fixture, _ int64) error {
				_, err := e.m.AddCustomer(e.ctx, pid, partner.CustomerParams{})
				return err
			}},
			{"Allocate(0 units)", false, false, func(pid int64, f fixture, _ int64) error {
				_, err := e.m.Allocate(e.ctx, pid, partner.AllocateParams{LicenseID: f.lic.ID, CustomerID: f.customer.ID, Units: 0})
				return err
			}},
		}
		for _, c := range calls {
			requireIs(t, c.call(unknownID, active, 0), partner.ErrNotFound, c.name+" on an unknown partner")
			requireIs(t, c.call(canceled.p.ID, canceled, 0), partner.ErrCanceled, c.name+" on a canceled partner")
			requireIs(t, c.call(suspended.p.ID, suspended, 0), partner.ErrSuspended, c.name+" on a suspended partner")
			if c.mspOnly {
				requireIs(t, c.call(reseller.p.ID, reseller, 0), partner.ErrWrongType, c.name+" on a Reseller")
			}
			if c.stale {
				v := active.p.Version + 5
				if c.name == "ChangeRole(bogus)" {
					v = active.second.Version + 5
				}
				requireIs(t, c.call(active.p.ID, active, v), partner.ErrConflict, c.name+" with a stale version")
			}
		}
	})
}

// requireBatchAborted checks that a RunInTx batch whose call failed with
// want committed nothing: RunInTx returned want, the partner reads back as
// before, no event was published.
func requireBatchAborted(t *testing.T, e *env, txErr, want error, pid int64, before pSnapLite) {
	t.Helper()
	if !errors.Is(txErr, want) {
		t.Errorf("RunInTx returned %v %v, want the ignored call's %s: the first error aborts the batch", sentinelNames(txErr), txErr, sentinelName(want))
	}
	if after := snapLite(t, e, pid); !cmp.Equal(before, after) {
		t.Errorf("the aborted batch committed changes (-before +after):\n%s", cmp.Diff(before, after))
	}
	if ks := e.eventKinds(); len(ks) > 0 {
		t.Errorf("the aborted batch published events %v", ks)
	}
}

// pSnapLite is what the RunInTx regression tests compare.
type pSnapLite struct {
	Version              int64
	Customers, Accounts  int
	Licenses, AuditCount int
}

func snapLite(t *testing.T, e *env, pid int64) pSnapLite {
	t.Helper()
	p, err := e.m.Get(e.ctx, pid)
	require.NoError(t, err)
	as, _, err := e.m.Accounts(e.ctx, pid, partner.Page{Limit: partner.MaxLimit})
	require.NoError(t, err)
	_, nl, err := e.m.Licenses(e.ctx, pid, partner.Page{})
	require.NoError(t, err)
	_, na, err := e.m.Audit(e.ctx, pid, partner.Page{Limit: 1})
	require.NoError(t, err)
	return pSnapLite{Version: p.Version, Customers: p.Customers, Accounts: len(as), Licenses: nl, AuditCount: na}
}

// Found by TestModel: inside RunInTx, an error an operation raises while
// validating its input (before it writes) does not abort the transaction:
// when fn ignores it, RunInTx commits the batch's other calls, returns nil,
// and later calls on the bound Manager still succeed.
func TestRegressRunInTxIgnoredValidationError(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		p, err := e.m.Create(e.ctx, newPartnerInput("Batch Validation", partner.MSP, "batch.validation"))
		require.NoError(t, err)
		before := snapLite(t, e, p.ID)
		e.resetEvents()
		var later error
		txErr := e.m.RunInTx(e.ctx, func(ctx context.Context, m *partner.Manager) error {
			if _, err := m.AddCustomer(ctx, p.ID, partner.CustomerParams{Name: "Committed Anyway"}); err != nil {
				return err
			}
			_, err := m.AddAccount(ctx, p.ID, account.Params{Name: "ab"}) // invalid: ignored on purpose
			require.ErrorIs(t, err, partner.ErrInvalid)
			_, later = m.SetPoolRefill(ctx, p.ID, 0, true)
			return nil
		})
		if later == nil {
			t.Errorf("a call after the failed one succeeded on the bound Manager")
		}
		requireBatchAborted(t, e, txErr, partner.ErrInvalid, p.ID, before)
	})
}

// Found by TestModel: inside RunInTx, a read's error (here Get of an
// unknown partner) does not abort the transaction when fn ignores it.
func TestRegressRunInTxIgnoredReadError(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		p, err := e.m.Create(e.ctx, newPartnerInput("Batch Read", partner.MSP, "batch.read"))
		require.NoError(t, err)
		before := snapLite(t, e, p.ID)
		e.resetEvents()
		txErr := e.m.RunInTx(e.ctx, func(ctx context.Context, m *partner.Manager) error {
			if _, err := m.AddCustomer(ctx, p.ID, partner.CustomerParams{Name: "Committed Anyway"}); err != nil {
				return err
			}
			_, err := m.Get(ctx, unknownID) // ignored on purpose
			require.ErrorIs(t, err, partner.ErrNotFound)
			return nil
		})
		requireBatchAborted(t, e, txErr, partner.ErrNotFound, p.ID, before)
	})
}

// Found by TestModel: calls that change nothing still write — UpdateProfile
// with an empty patch or the current values, SetPoolRefill and
// SetMinimumLicenses to their current values, UpdatePlan changing nothing
// — bumping the version and writing an audit entry and an event. A no-op
// writes nothing. (The no-ops that already write nothing are checked too.)
func TestRegressNoOpsWriteNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		pid := f.p.ID
		city := " " + f.p.Profile.City + " "
		contacts := slices.Clone(f.p.Profile.Contacts)
		noops := []struct {
			name string
			call func() error
		}{
			{"UpdateProfile(empty patch)", func() error { _, err := e.m.UpdateProfile(e.ctx, pid, partner.ProfilePatch{}); return err }},
			{"UpdateProfile(current values, padded)", func() error {
				_, err := e.m.UpdateProfile(e.ctx, pid, partner.ProfilePatch{City: &city, Contacts: &contacts})
				return err
			}},
			{"SetPoolRefill(current)", func() error { _, err := e.m.SetPoolRefill(e.ctx, pid, 0, f.p.PoolRefill); return err }},
			{"SetMinimumLicenses(current)", func() error {
				_, err := e.m.SetMinimumLicenses(e.ctx, pid, 0, f.p.MinimumLicenses)
				return err
			}},
			{"EnableRemoteManager(enabled)", func() error { _, err := e.m.EnableRemoteManager(e.ctx, pid, 0, f.remoteDC); return err }},
			{"DisableRemoteManager(not enabled)", func() error {
				_, err := e.m.DisableRemoteManager(e.ctx, pid, 0, f.freshDCArg)
				return err
			}},
			{"ChangeRole(same role)", func() error {
				_, err := e.m.ChangeRole(e.ctx, pid, f.second.ID, 0, f.second.Role)
				return err
			}},
			{"EnableAccount(enabled)", func() error { _, err := e.m.EnableAccount(e.ctx, pid, f.second.ID, 0); return err }},
		}
		for _, c := range noops {
			before := snapLite(t, e, pid)
			e.resetEvents()
			require.NoError(t, c.call(), c.name)
			if after := snapLite(t, e, pid); !cmp.Equal(before, after) {
				t.Errorf("%s wrote (-before +after):\n%s", c.name, cmp.Diff(before, after))
			}
			if ks := e.eventKinds(); len(ks) > 0 {
				t.Errorf("%s published %v", c.name, ks)
			}
		}

		// UpdatePlan changing nothing: no version bump, no catalogue audit.
		pl := e.plan(t, "No-op Plan")
		_, before, err := e.m.Audit(e.ctx, 0, partner.Page{Limit: 1})
		require.NoError(t, err)
		name, renew := " "+pl.Name+" ", pl.AutoRenew
		got, err := e.m.UpdatePlan(e.ctx, pl.ID, serviceplan.Patch{Name: &name, AutoRenew: &renew})
		require.NoError(t, err)
		_, after, err := e.m.Audit(e.ctx, 0, partner.Page{Limit: 1})
		require.NoError(t, err)
		if got.Version != pl.Version || after != before {
			t.Errorf("UpdatePlan changing nothing: version %d → %d, catalogue audit %d → %d", pl.Version, got.Version, before, after)
		}
	})
}

// Found by TestModel: after a call on a RunInTx-bound Manager failed (and
// so aborted the batch), reads on that Manager still succeed and show the
// aborted transaction's state. Every later call on the bound Manager
// fails.
func TestRegressRunInTxReadsAfterAbortFail(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		p, err := e.m.Create(e.ctx, newPartnerInput("Batch Reads", partner.MSP, "batch.reads"))
		require.NoError(t, err)
		before := snapLite(t, e, p.ID)
		e.resetEvents()
		txErr := e.m.RunInTx(e.ctx, func(ctx context.Context, m *partner.Manager) error {
			_, err := m.AddCustomer(ctx, p.ID, partner.CustomerParams{Name: "Rolled Back"})
			require.NoError(t, err)
			_, err = m.Reactivate(ctx, p.ID, 0) // refused in the transaction: the batch is aborted
			require.ErrorIs(t, err, partner.ErrTransition)
			got, err := m.Get(ctx, p.ID)
			if err == nil {
				t.Errorf("Get on the bound Manager after the batch was aborted succeeded (customers %d)", got.Customers)
			}
			if _, _, err := m.Accounts(ctx, p.ID, partner.Page{Limit: partner.MaxLimit}); err == nil {
				t.Errorf("Accounts on the bound Manager after the batch was aborted succeeded")
			}
			return nil
		})
		requireBatchAborted(t, e, txErr, partner.ErrTransition, p.ID, before)

		// The same after a failure the database itself raised (a taken
		// account name): PostgreSQL then answers later reads with its raw
		// "current transaction is aborted" error, which wraps no sentinel.
		txErr = e.m.RunInTx(e.ctx, func(ctx context.Context, m *partner.Manager) error {
			_, err := m.AddAccount(ctx, p.ID, account.Params{Name: "batch.reads", FirstName: "Dup", LastName: "Name",
				Email: "dup@example.com", Role: account.SupportEngineer})
			require.ErrorIs(t, err, partner.ErrDuplicate)
			if _, err := m.Get(ctx, p.ID); !errors.Is(err, partner.ErrDuplicate) {
				t.Errorf("Get on the bound Manager after a duplicate aborted the batch: %v %v, want the batch's ErrDuplicate",
					sentinelNames(err), err)
			}
			return nil
		})
		requireBatchAborted(t, e, txErr, partner.ErrDuplicate, p.ID, before)
	})
}

// Found by TestModel: the ResetPassword hook runs inside the transaction,
// so a reset inside a RunInTx batch that is then aborted has already asked
// the host to send a reset link for a change that never happened. The hook
// runs exactly once per successful reset, after commit.
func TestRegressResetPasswordHookAfterCommit(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		txErr := e.m.RunInTx(e.ctx, func(ctx context.Context, m *partner.Manager) error {
			_, err := m.ResetPassword(ctx, f.p.ID, f.second.ID)
			require.NoError(t, err)
			_, err = m.Reactivate(ctx, f.p.ID, 0) // refused: the batch is aborted
			return err
		})
		require.ErrorIs(t, txErr, partner.ErrTransition)
		if len(e.resets) != 0 {
			t.Errorf("the hook ran %d times for a reset whose batch was rolled back", len(e.resets))
		}

		// Outside a batch, the hook sees the committed reset: a reader
		// started from the hook finds PasswordResetAt set, and is not
		// blocked by a transaction still open.
		seen := make(chan string, 1)
		m := partner.NewManager(partner.Options{Store: e.m.Store(), Now: e.clock.Now,
			ResetPassword: func(_ context.Context, a account.Account) error {
				done := make(chan string, 1)
				go func() {
					as, _, err := e.m.Accounts(context.Background(), a.PartnerID, partner.Page{Limit: partner.MaxLimit})
					switch {
					case err != nil:
						done <- err.Error()
					default:
						for _, x := range as {
							if x.ID == a.ID && x.PasswordResetAt.IsZero() {
								done <- "the reset was not committed when the hook ran"
								return
							}
						}
						done <- ""
					}
				}()
				select {
				case msg := <-done:
					seen <- msg
				case <-time.After(500 * time.Millisecond):
					seen <- "a reader started by the hook was blocked: the hook ran inside the transaction"
				}
				return nil
			}})
		_, err := m.ResetPassword(e.ctx, f.p.ID, f.second.ID)
		require.NoError(t, err)
		if msg := <-seen; msg != "" {
			t.Error(msg)
		}

		// A store may run a transaction again after a transient failure
		// (the Store contract): the hook still runs once.
		rs := &retryOnceStore{Store: e.m.Store()}
		calls := 0
		m = partner.NewManager(partner.Options{Store: rs, Now: e.clock.Now,
			ResetPassword: func(context.Context, account.Account) error { calls++; return nil }})
		rs.armed = true
		_, err = m.ResetPassword(e.ctx, f.p.ID, f.second.ID)
		require.NoError(t, err)
		require.False(t, rs.armed, "the store did not retry")
		if calls != 1 {
			t.Errorf("the hook ran %d times for one reset whose transaction the store ran twice", calls)
		}
	})
}

// retryOnceStore runs the next Update's function twice when armed, as a
// store does after a transient failure: the first run is rolled back.
type retryOnceStore struct {
	partner.Store
	armed bool
}

var errSimulatedRetry = errors.New("simulated serialization failure")

func (s *retryOnceStore) Update(ctx context.Context, fn func(context.Context, partner.Tx) error) error {
	if s.armed {
		s.armed = false
		err := s.Store.Update(ctx, func(ctx context.Context, tx partner.Tx) error {
			if err := fn(ctx, tx); err != nil {
				return err
			}
			return errSimulatedRetry
		})
		if !errors.Is(err, errSimulatedRetry) {
			return err
		}
	}
	return s.Store.Update(ctx, fn)
}

// Found by TestModel: the idempotency key rules. A key is valid UTF-8,
// without control characters, at most license.MaxKeyLen characters counted
// as runes, without leading or trailing white space; any other key is
// refused with ErrInvalid naming "idempotency key", never altered. Keys
// differing in letter case are different keys.
func TestRegressIdempotencyKeyRules(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		p, err := e.m.Create(e.ctx, newPartnerInput("Key Rules", partner.MSP, "key.rules"))
		require.NoError(t, err)
		assign := func(key string, units int64) ([]license.License, error) {
			res, err := e.m.AssignLicenses(e.ctx, p.ID, partner.AssignLicensesParams{Key: key, Grants: []license.Grant{grant(units)}})
			return res.Licenses, err
		}
		for _, key := range []string{strings.Repeat("é", license.MaxKeyLen), strings.Repeat("k", license.MaxKeyLen), "ключ"} {
			if _, err := assign(key, 5); err != nil {
				t.Errorf("key of %d runes (%d bytes) refused: %v", utf8.RuneCountInString(key), len(key), err)
			}
		}
		for _, key := range []string{strings.Repeat("é", license.MaxKeyLen+1), strings.Repeat("k", license.MaxKeyLen+1),
			" lead", "trail ", "\u00a0nbsp", "k\x00ey", "k\x7fey", "tab\tkey", "\xffkey"} {
			ls, err := assign(key, 5)
			switch {
			case err == nil:
				stored := "?"
				all, _, rerr := e.m.Licenses(e.ctx, p.ID, partner.Page{Limit: partner.MaxLimit})
				require.NoError(t, rerr)
				for _, l := range all {
					if l.ID == ls[0].ID {
						stored = l.GrantKey
					}
				}
				t.Errorf("key %q accepted (read back as %q), want ErrInvalid", key, stored)
			case !errors.Is(err, partner.ErrInvalid) || partner.ErrorField(err) != "idempotency key":
				t.Errorf("key %q: got %v (field %q), want ErrInvalid naming \"idempotency key\"", key, err, partner.ErrorField(err))
			}
		}
		// A key is never altered: "nul" after "n\x00ul" (which must be
		// refused, or at least kept as it is) is a new assignment, not a
		// replay of the first.
		nul, _ := assign("n\x00ul", 7)
		plain, err := assign("nul", 7)
		require.NoError(t, err)
		if len(nul) == 1 && plain[0].ID == nul[0].ID {
			t.Errorf("key \"nul\" replayed the assignment of key \"n\\x00ul\": the store altered the key")
		}
		// "key" and "Key" are different keys: the second is a new assignment.
		first, err := assign("case-key", 5)
		require.NoError(t, err)
		second, err := assign("Case-Key", 6)
		if err != nil {
			t.Errorf("key \"Case-Key\" after \"case-key\": %v, want a new assignment", err)
		} else if second[0].ID == first[0].ID {
			t.Errorf("key \"Case-Key\" replayed \"case-key\"'s licences")
		}
	})
}

// Found by TestModel: a retry of AssignLicenses (same key, same grants)
// after the partner was suspended or canceled fails with the guard's error
// instead of returning the licences the first call created. A replay
// returns them, as they are now, whatever the partner's status, and writes
// nothing; the same key with other grants still gets the guard's error.
func TestRegressReplayAfterSuspendOrCancel(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		p, err := e.m.Create(e.ctx, newPartnerInput("Replay Later", partner.MSP, "replay.later"))
		require.NoError(t, err)
		a := partner.AssignLicensesParams{Key: "po-77", Grants: []license.Grant{grant(5)}}
		firstRes, err := e.m.AssignLicenses(e.ctx, p.ID, a)
		require.NoError(t, err)
		first := firstRes.Licenses

		replay := func(status string) {
			t.Helper()
			before := snapLite(t, e, p.ID)
			e.resetEvents()
			gotRes, err := e.m.AssignLicenses(e.ctx, p.ID, a)
			got := gotRes.Licenses
			if err != nil {
				t.Errorf("replay on a %s partner: %v, want the first call's licences", status, err)
				return
			}
			now, _, err := e.m.Licenses(e.ctx, p.ID, partner.Page{})
			require.NoError(t, err)
			if len(got) != 1 || got[0].ID != first[0].ID || !cmp.Equal(got[0], now[0]) {
				t.Errorf("replay on a %s partner returned %+v, want the first call's licence as it is now %+v", status, got, now[0])
			}
			if after := snapLite(t, e, p.ID); !cmp.Equal(before, after) || len(e.eventKinds()) > 0 {
				t.Errorf("replay on a %s partner wrote: %s events %v", status, cmp.Diff(before, after), e.eventKinds())
			}
		}
		other := partner.AssignLicensesParams{Key: "po-77", Grants: []license.Grant{grant(6)}}

		_, err = e.m.Suspend(e.ctx, p.ID, 0)
		require.NoError(t, err)
		replay("suspended")
		_, err = e.m.AssignLicenses(e.ctx, p.ID, other)
		requireIs(t, err, partner.ErrSuspended, "same key, other grants, suspended partner")

		_, err = e.m.Cancel(e.ctx, p.ID, 0)
		require.NoError(t, err)
		replay("canceled")
		_, err = e.m.AssignLicenses(e.ctx, p.ID, other)
		requireIs(t, err, partner.ErrCanceled, "same key, other grants, canceled partner")
	})
}

// Found by TestModel: a new plan that takes both an existing plan's name
// and the NFR slot of its product and data center is refused with
// ErrDuplicate on every store, but the memory store names the field
// "name" and the SQL stores "nfr", so a form marks a different field
// depending on the store. Every store names the same field: the name, the
// form's first field.
func TestRegressPlanDuplicateFieldSameOnEveryStore(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		nfr := serviceplan.Plan{Name: "NFR Plan", Enabled: true, Product: "Endpoint Security", Kind: serviceplan.Full,
			UnitType: "seats", NFR: true, DataCenter: serviceplan.EU, InitialPeriodMonths: 12}
		_, err := e.m.CreatePlan(e.ctx, nfr)
		require.NoError(t, err)
		nfr.Name = "NFR PLAN"
		_, err = e.m.CreatePlan(e.ctx, nfr)
		require.ErrorIs(t, err, partner.ErrDuplicate)
		if f := partner.ErrorField(err); f != "name" {
			t.Errorf("duplicate name and NFR slot: field %q (%v), want \"name\"", f, err)
		}
	})
}

// Found by TestModel: AssignLicenses decides whether a retry carries the
// same grants by comparing them with the licences as they are now, so
// once a licence has changed (it was grown by the pool refill of the day,
// now by Add Units, Extend or Convert to Full, or Cancel has cut its
// expiry), the retry with the very same key and grants fails with
// ErrDuplicate. A replay compares the grants with those of the first call.
func TestRegressReplayAfterLicenceChanged(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		p, err := e.m.Create(e.ctx, newPartnerInput("Replay Changed", partner.MSP, "replay.changed"))
		require.NoError(t, err)
		trial := grant(5)
		trial.Kind = license.Trial
		a := partner.AssignLicensesParams{Key: "po-88", Grants: []license.Grant{trial}}
		firstRes, err := e.m.AssignLicenses(e.ctx, p.ID, a)
		require.NoError(t, err)
		first := firstRes.Licenses[0]
		l, err := e.m.AddUnits(e.ctx, p.ID, first.ID, first.Version, 20) // 5 → 25 units
		require.NoError(t, err)
		l, err = e.m.ExtendLicense(e.ctx, p.ID, l.ID, l.Version, l.Expiry.AddDate(0, 6, 0))
		require.NoError(t, err)
		l, err = e.m.ConvertToFull(e.ctx, p.ID, l.ID, l.Version, time.Time{})
		require.NoError(t, err)

		gotRes, err := e.m.AssignLicenses(e.ctx, p.ID, a)
		if err != nil {
			t.Fatalf("retry after the licence changed: %v, want the first call's licence", err)
		}
		got := gotRes.Licenses
		if len(got) != 1 || !gotRes.Replayed || got[0].ID != first.ID || got[0].Units != 25 || got[0].Kind != license.Full {
			t.Errorf("retry returned %+v, want licence %d as it is now (25 units, Full)", got, first.ID)
		}
		if d := cmp.Diff(l, got[0]); d != "" {
			t.Errorf("the replay returns the licence as it is now (-now +returned):\n%s", d)
		}
	})
}
