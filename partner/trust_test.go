package partner_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/serviceplan"
)

// Regression tests for the trust issue: no data lost, no rule bent. Each
// names the defect it pins down; each runs on every store.

// snapshot is everything a partner-scoped call could change, read back
// through the Manager.
type snapshot struct {
	Partner  partner.Partner
	Licenses []license.License
	Accounts []account.Account
	Allocs   []partner.AllocationView
	Plans    []partner.AssignedPlan
	Pools    []partner.Pool
	Audit    int
}

func (e *env) snapshot(t *testing.T, id int64) snapshot {
	t.Helper()
	var s snapshot
	var err error
	s.Partner, err = e.m.Get(e.ctx, id)
	require.NoError(t, err)
	s.Licenses, _, err = e.m.Licenses(e.ctx, id, partner.Page{Limit: partner.MaxLimit})
	require.NoError(t, err)
	s.Accounts, _, err = e.m.Accounts(e.ctx, id, partner.Page{Limit: partner.MaxLimit})
	require.NoError(t, err)
	s.Allocs, err = e.m.Allocations(e.ctx, id)
	require.NoError(t, err)
	s.Plans, err = e.m.AssignedPlans(e.ctx, id)
	require.NoError(t, err)
	s.Pools, err = e.m.Pools(e.ctx, id)
	require.NoError(t, err)
	_, s.Audit, err = e.m.Audit(e.ctx, id, partner.Page{})
	require.NoError(t, err)
	return s
}

func (e *env) eventCount() int { e.mu.Lock(); defer e.mu.Unlock(); return len(e.events) }

// Item 1: an error a bound Manager returns — invalid input refused before
// any write, a refusal, a failed read — aborts the whole RunInTx batch even
// when fn ignores it.
func TestRunInTxAbortsOnAnyIgnoredError(t *testing.T) {
	ignored := map[string]func(ctx context.Context, tm *partner.Manager, f fixture) error{
		"unknown data center": func(ctx context.Context, tm *partner.Manager, f fixture) error {
			_, err := tm.EnableRemoteManager(ctx, f.p.ID, 0, "MARS")
			return err
		},
		"invalid grant": func(ctx context.Context, tm *partner.Manager, f fixture) error {
			_, err := tm.AssignLicenses(ctx, f.p.ID, partner.AssignLicensesParams{Grants: []license.Grant{grant(0)}})
			return err
		},
		"empty customer name": func(ctx context.Context, tm *partner.Manager, f fixture) error {
			_, err := tm.AddCustomer(ctx, f.p.ID, partner.CustomerParams{Name: " "})
			return err
		},
		"out-of-range minimum": func(ctx context.Context, tm *partner.Manager, f fixture) error {
			_, err := tm.SetMinimumLicenses(ctx, f.p.ID, 0, -1)
			return err
		},
		"bad page": func(ctx context.Context, tm *partner.Manager, f fixture) error {
			_, _, err := tm.Licenses(ctx, f.p.ID, partner.Page{Limit: -1})
			return err
		},
		"unknown partner read": func(ctx context.Context, tm *partner.Manager, f fixture) error {
			_, err := tm.Get(ctx, f.p.ID+1000)
			return err
		},
		"last administrator": func(ctx context.Context, tm *partner.Manager, f fixture) error {
			return tm.DeleteAccount(ctx, f.p.ID, f.admin.ID)
		},
		"earlier expiry": func(ctx context.Context, tm *partner.Manager, f fixture) error {
			_, err := tm.ExtendLicense(ctx, f.p.ID, f.lic.ID, 0, f.lic.Expiry.AddDate(0, 0, -1))
			return err
		},
		"units without a version": func(ctx context.Context, tm *partner.Manager, f fixture) error {
			_, err := tm.AddUnits(ctx, f.p.ID, f.lic.ID, 0, 1)
			return err
		},
		"reduce below the allocated units": func(ctx context.Context, tm *partner.Manager, f fixture) error {
			_, err := tm.ReduceUnits(ctx, f.p.ID, f.lic.ID, f.lic.Version, f.lic.Units-1)
			return err
		},
		"product not in the catalogue": func(ctx context.Context, tm *partner.Manager, f fixture) error {
			_, err := tm.SetPoolSettings(ctx, f.p.ID, 0, partner.PoolSettingsParams{Product: "Nope", UnitType: "seats"})
			return err
		},
		"refill off": func(ctx context.Context, tm *partner.Manager, f fixture) error {
			_, err := tm.RefillPool(ctx, f.p.ID, partner.RefillPoolParams{Product: "Endpoint Security"})
			return err
		},
	}
	forEachStore(t, func(t *testing.T, e *env) {
		for name, call := range ignored {
			t.Run(name, func(t *testing.T) {
				f := e.fixture(t, partner.MSP, partner.Active)
				before := e.snapshot(t, f.p.ID)
				events := e.eventCount()
				var first, later error
				err := e.m.RunInTx(e.ctx, func(ctx context.Context, tm *partner.Manager) error {
					if _, err := tm.SetPoolRefill(ctx, f.p.ID, 0, true); err != nil {
						return err
					}
					first = call(ctx, tm, f)
					_, later = tm.AddCustomer(ctx, f.p.ID, partner.CustomerParams{Name: "After the error"})
					return nil // ignores both errors
				})
				require.Error(t, first, "the call must fail for the test to mean anything")
				require.Error(t, err, "RunInTx must not commit a batch in which a call failed")
				require.Equal(t, first, err, "RunInTx returns the first error")
				require.Error(t, later, "calls after the failure fail too")
				require.Empty(t, cmp.Diff(before, e.snapshot(t, f.p.ID)), "nothing of the batch is committed")
				require.Equal(t, events, e.eventCount(), "no hook hears of an aborted batch")
			})
		}
	})
}

// Item 2: the Manager never writes to what the caller gives it, and two
// goroutines may share one input (-race checks it).
func TestManagerNeverWritesCallerInput(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		paris := time.FixedZone("Paris", 2*3600)
		g := license.Grant{Product: "  Endpoint Security ", UnitType: " seats ", Units: 5, Kind: license.Full,
			Start: t0.AddDate(0, -1, 0).In(paris).Add(123 * time.Nanosecond), Expiry: t0.AddDate(1, 0, 0).In(paris)}
		in := newPartnerInput("  Shared Input Ltd ", partner.MSP, " Shared.Admin ")
		in.Admin.Email = " shared@example.com "
		in.Profile.Contacts = []partner.Contact{{FirstName: " Ann ", LastName: " Ops ", Email: " ann@example.com "}}
		in.RemoteManager = []serviceplan.DataCenter{"jp", " eu"}
		in.Licenses = []license.Grant{g, g}
		keep := in
		keep.Profile.Contacts = append([]partner.Contact(nil), in.Profile.Contacts...)
		keep.RemoteManager = append([]serviceplan.DataCenter(nil), in.RemoteManager...)
		keep.Licenses = append([]license.Grant(nil), in.Licenses...)
		p, err := e.m.Create(e.ctx, in)
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(keep, in), "Create left its input as given")

		a := partner.AssignLicensesParams{Grants: []license.Grant{g, g}}
		want := append([]license.Grant(nil), a.Grants...)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				_, err := e.m.AssignLicenses(e.ctx, p.ID, a)
				require.NoError(t, err)
			})
		}
		wg.Wait()
		require.Empty(t, cmp.Diff(want, a.Grants), "AssignLicenses left its grants as given")

		contacts := []partner.Contact{{FirstName: " Bo ", LastName: " Lee ", Email: " bo@example.com "}}
		keepContacts := append([]partner.Contact(nil), contacts...)
		_, err = e.m.UpdateProfile(e.ctx, p.ID, partner.ProfilePatch{Contacts: &contacts})
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(keepContacts, contacts), "UpdateProfile left its contacts as given")
	})
}

// Item 3: Cancel never stores a licence that ends before it starts.
func TestCancelKeepsEveryLicenceValid(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		future := grant(10)
		future.Start, future.Expiry = t0.AddDate(0, 0, 5), t0.AddDate(1, 0, 5)
		_, err := e.m.AssignLicenses(e.ctx, f.p.ID, partner.AssignLicensesParams{Grants: []license.Grant{future}})
		require.NoError(t, err)
		im, err := e.m.CancelPreview(e.ctx, f.p.ID)
		require.NoError(t, err)
		require.Equal(t, 1, im.LicensesExpiring)
		require.Equal(t, 1, im.LicensesNotStarted)

		_, err = e.m.Cancel(e.ctx, f.p.ID, 0)
		require.NoError(t, err)
		lics, _, err := e.m.Licenses(e.ctx, f.p.ID, partner.Page{})
		require.NoError(t, err)
		require.Len(t, lics, 2)
		for _, l := range lics {
			require.True(t, l.Start.Before(l.Expiry), "licence %d runs %s to %s", l.ID, l.Start, l.Expiry)
			g := license.Grant{Product: l.Product, UnitType: l.UnitType, Units: l.Units, Kind: l.Kind, Start: l.Start, Expiry: l.Expiry}
			require.NoError(t, g.Validate(), "a stored licence is one the library would accept")
		}
		require.Equal(t, t0, lics[0].Expiry, "the running licence expires at the cancellation")
		require.False(t, lics[0].Disabled)
		require.True(t, lics[1].Disabled, "the licence not yet started is disabled")
		require.Equal(t, t0, lics[1].DisabledAt)
		require.Equal(t, future.Expiry, lics[1].Expiry, "and keeps its dates")
		require.Equal(t, license.Disabled, e.m.LicenseState(lics[1]))
	})
}

// Item 4: keys are validated as documented and never altered.
func TestIdempotencyKeys(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		assign := func(key string) ([]license.License, error) {
			res, err := e.m.AssignLicenses(e.ctx, f.p.ID, partner.AssignLicensesParams{Key: key, Grants: []license.Grant{grant(3)}})
			return res.Licenses, err
		}
		long := strings.Repeat("é", license.MaxKeyLen)
		got, err := assign(long)
		require.NoError(t, err, "128 characters of two bytes each are within the limit")
		require.Equal(t, long, got[0].GrantKey)

		for _, bad := range []string{strings.Repeat("é", license.MaxKeyLen+1), "k\x00ey", "key\n", "k\xffey", " key", "key "} {
			before := e.snapshot(t, f.p.ID)
			_, err := assign(bad)
			requireErr(t, err, partner.ErrInvalid, license.KeyField)
			require.Empty(t, cmp.Diff(before, e.snapshot(t, f.p.ID)), "refused key %q changes nothing", bad)
		}

		first, err := assign("key")
		require.NoError(t, err)
		other, err := assign("Key")
		require.NoError(t, err, "keys differing in case are different keys")
		require.NotEqual(t, first[0].ID, other[0].ID)
		stored, _, err := e.m.Licenses(e.ctx, f.p.ID, partner.Page{})
		require.NoError(t, err)
		var keys []string
		for _, l := range stored {
			keys = append(keys, l.GrantKey)
		}
		require.Empty(t, cmp.Diff([]string{"", long, "key", "Key"}, keys), "keys are stored exactly as given")
	})
}

// Item 5: a replay of a completed assignment returns its original result,
// whatever happened to the partner since.
func TestAssignmentReplayAfterStatusChange(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		a := partner.AssignLicensesParams{Key: "po-7", Grants: []license.Grant{grant(8), grant(9)}}
		created, err := e.m.AssignLicenses(e.ctx, f.p.ID, a)
		require.NoError(t, err)
		require.False(t, created.Replayed)

		_, err = e.m.Suspend(e.ctx, f.p.ID, 0)
		require.NoError(t, err)
		before := e.snapshot(t, f.p.ID)
		events := e.eventCount()
		replayed, err := e.m.AssignLicenses(e.ctx, f.p.ID, a)
		require.NoError(t, err, "a retry after a timeout learns that the grant succeeded")
		require.True(t, replayed.Replayed, "and that it was a replay")
		require.Empty(t, cmp.Diff(created.Licenses, replayed.Licenses))
		require.Empty(t, cmp.Diff(before, e.snapshot(t, f.p.ID)), "a replay writes nothing")
		require.Equal(t, events, e.eventCount(), "a replay tells no hook")

		changed := partner.AssignLicensesParams{Key: "po-7", Grants: []license.Grant{grant(8)}}
		_, err = e.m.AssignLicenses(e.ctx, f.p.ID, changed)
		requireErr(t, err, partner.ErrSuspended, "")

		_, err = e.m.Cancel(e.ctx, f.p.ID, 0)
		require.NoError(t, err)
		replayed, err = e.m.AssignLicenses(e.ctx, f.p.ID, a)
		require.NoError(t, err, "also after Cancel cut the licences")
		require.Len(t, replayed.Licenses, 2)
		require.Equal(t, created.Licenses[0].ID, replayed.Licenses[0].ID)
		require.Equal(t, t0, replayed.Licenses[0].Expiry, "as they are now")

		g := grant(8)
		g.Product = " Endpoint Security " // the same grant once trimmed
		r2 := e.fixture(t, partner.Reseller, partner.Active)
		_, err = e.m.AssignLicenses(e.ctx, r2.p.ID, partner.AssignLicensesParams{Key: "po-7", Grants: []license.Grant{g}})
		require.NoError(t, err, "keys are per partner")
		_, err = e.m.AssignLicenses(e.ctx, r2.p.ID, partner.AssignLicensesParams{Key: "po-7", Grants: []license.Grant{grant(8)}})
		require.NoError(t, err, "a trimmed product is the same grant")
		_, err = e.m.AssignLicenses(e.ctx, r2.p.ID, partner.AssignLicensesParams{Key: "po-7", Grants: []license.Grant{grant(9)}})
		requireErr(t, err, partner.ErrDuplicate, license.KeyField)
	})
}

// Item 6: a Suspended or Canceled partner gets its status error whatever
// the input; the guard table comes first.
func TestStatusErrorComesBeforeInputErrors(t *testing.T) {
	calls := map[string]func(e *env, f fixture) error{
		"assign licenses": func(e *env, f fixture) error {
			_, err := e.m.AssignLicenses(e.ctx, f.p.ID, partner.AssignLicensesParams{Key: "k\x00", Grants: []license.Grant{{}}})
			return err
		},
		"assign nothing": func(e *env, f fixture) error {
			_, err := e.m.AssignLicenses(e.ctx, f.p.ID, partner.AssignLicensesParams{})
			return err
		},
		"minimum": func(e *env, f fixture) error {
			_, err := e.m.SetMinimumLicenses(e.ctx, f.p.ID, 0, -5)
			return err
		},
		"remote manager": func(e *env, f fixture) error {
			_, err := e.m.EnableRemoteManager(e.ctx, f.p.ID, 0, "MARS")
			return err
		},
		"disable nothing": func(e *env, f fixture) error {
			_, err := e.m.DisableLicenses(e.ctx, f.p.ID, nil)
			return err
		},
		"add account": func(e *env, f fixture) error {
			_, err := e.m.AddAccount(e.ctx, f.p.ID, account.Params{})
			return err
		},
		"change role": func(e *env, f fixture) error {
			_, err := e.m.ChangeRole(e.ctx, f.p.ID, f.second.ID, 0, "overlord")
			return err
		},
		"add customer": func(e *env, f fixture) error {
			_, err := e.m.AddCustomer(e.ctx, f.p.ID, partner.CustomerParams{})
			return err
		},
		"allocate": func(e *env, f fixture) error {
			_, err := e.m.Allocate(e.ctx, f.p.ID, partner.AllocateParams{LicenseID: f.lic.ID, CustomerID: f.customer.ID, Units: -1})
			return err
		},
		"extend to nothing": func(e *env, f fixture) error {
			_, err := e.m.ExtendLicense(e.ctx, f.p.ID, f.lic.ID, 0, time.Time{})
			return err
		},
		"add units without a version": func(e *env, f fixture) error {
			_, err := e.m.AddUnits(e.ctx, f.p.ID, f.lic.ID, 0, -1)
			return err
		},
		"reduce units of another's licence": func(e *env, f fixture) error {
			_, err := e.m.ReduceUnits(e.ctx, f.p.ID, 9999, 0, 0)
			return err
		},
		"convert to an earlier expiry": func(e *env, f fixture) error {
			_, err := e.m.ConvertToFull(e.ctx, f.p.ID, f.lic.ID, 0, t0)
			return err
		},
		"enable nothing": func(e *env, f fixture) error {
			_, err := e.m.EnableLicenses(e.ctx, f.p.ID, nil)
			return err
		},
		"pool settings": func(e *env, f fixture) error {
			_, err := e.m.SetPoolSettings(e.ctx, f.p.ID, 0, partner.PoolSettingsParams{Cap: -1})
			return err
		},
		"refill": func(e *env, f fixture) error {
			_, err := e.m.RefillPool(e.ctx, f.p.ID, partner.RefillPoolParams{Units: -1, Key: "\x00"})
			return err
		},
	}
	forEachStore(t, func(t *testing.T, e *env) {
		for _, st := range []struct {
			status partner.Status
			kind   error
		}{{partner.Suspended, partner.ErrSuspended}, {partner.Canceled, partner.ErrCanceled}} {
			f := e.fixture(t, partner.MSP, st.status)
			for name, call := range calls {
				err := call(e, f)
				require.ErrorIs(t, err, st.kind, "%s on a %s partner: got %v", name, st.status, err)
				require.NotErrorIs(t, err, partner.ErrInvalid, name)
			}
		}
		f := e.fixture(t, partner.MSP, partner.Canceled)
		empty := ""
		_, err := e.m.UpdateProfile(e.ctx, f.p.ID, partner.ProfilePatch{CompanyName: &empty})
		requireErr(t, err, partner.ErrCanceled, "")
	})
}

// Item 7: a change that changes nothing writes nothing: no version, no
// audit entry, no event.
func TestNoOpsWriteNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		_, err := e.m.DisableLicenses(e.ctx, f.p.ID, []int64{f.lic.ID})
		require.NoError(t, err)
		company, city := "  "+f.p.Profile.CompanyName+" ", f.p.Profile.City
		contacts := append([]partner.Contact(nil), f.p.Profile.Contacts...)
		plan := e.plan(t, "Unchanged plan")
		noops := map[string]func() error{
			"empty profile patch": func() error {
				_, err := e.m.UpdateProfile(e.ctx, f.p.ID, partner.ProfilePatch{})
				return err
			},
			"same profile values": func() error {
				_, err := e.m.UpdateProfile(e.ctx, f.p.ID, partner.ProfilePatch{CompanyName: &company, City: &city, Contacts: &contacts})
				return err
			},
			"pool refill unchanged": func() error { _, err := e.m.SetPoolRefill(e.ctx, f.p.ID, 0, false); return err },
			"minimum unchanged":     func() error { _, err := e.m.SetMinimumLicenses(e.ctx, f.p.ID, 0, 0); return err },
			"enable enabled data center": func() error {
				_, err := e.m.EnableRemoteManager(e.ctx, f.p.ID, 0, f.remoteDC)
				return err
			},
			"disable data center never enabled": func() error {
				_, err := e.m.DisableRemoteManager(e.ctx, f.p.ID, 0, f.freshDCArg)
				return err
			},
			"same role": func() error {
				_, err := e.m.ChangeRole(e.ctx, f.p.ID, f.second.ID, 0, f.second.Role)
				return err
			},
			"enable enabled account": func() error { _, err := e.m.EnableAccount(e.ctx, f.p.ID, f.second.ID, 0); return err },
			"disable disabled licence": func() error {
				_, err := e.m.DisableLicenses(e.ctx, f.p.ID, []int64{f.lic.ID})
				return err
			},
			"extend to the current expiry": func() error {
				_, err := e.m.ExtendLicense(e.ctx, f.p.ID, f.lic.ID, 0, f.lic.Expiry)
				return err
			},
			"convert a Full licence": func() error {
				_, err := e.m.ConvertToFull(e.ctx, f.p.ID, f.lic.ID, 0, time.Time{})
				return err
			},
			"default pool settings": func() error {
				_, err := e.m.SetPoolSettings(e.ctx, f.p.ID, 0, partner.PoolSettingsParams{Product: "Email Security"})
				return err
			},
		}
		for name, call := range noops {
			before := e.snapshot(t, f.p.ID)
			events := e.eventCount()
			require.NoError(t, call(), name)
			require.Empty(t, cmp.Diff(before, e.snapshot(t, f.p.ID)), "%s: nothing written", name)
			require.Equal(t, events, e.eventCount(), "%s: no event", name)
		}

		_, catalogue, err := e.m.Audit(e.ctx, 0, partner.Page{})
		require.NoError(t, err)
		same := plan.Name
		got, err := e.m.UpdatePlan(e.ctx, plan.ID, serviceplan.Patch{Name: &same, Version: plan.Version})
		require.NoError(t, err)
		require.Equal(t, plan.Version, got.Version, "an unchanged plan keeps its version")
		_, after, err := e.m.Audit(e.ctx, 0, partner.Page{})
		require.NoError(t, err)
		require.Equal(t, catalogue, after, "and writes no audit entry")
		eps := e.products["Endpoint Security"]
		sameName, sameDays := "  "+eps.Name+" ", eps.TrialDays
		gotP, err := e.m.UpdateProduct(e.ctx, eps.ID, license.ProductPatch{Name: &sameName, TrialDays: &sameDays, Version: eps.Version})
		require.NoError(t, err)
		require.Equal(t, eps, gotP, "an unchanged product keeps its version")
		_, after, err = e.m.Audit(e.ctx, 0, partner.Page{})
		require.NoError(t, err)
		require.Equal(t, catalogue, after, "and writes no audit entry")
	})
}

// Item 8: name search folds case the Unicode way, the same on every store.
func TestNameSearchFoldsCase(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		for i, name := range []string{"Οδός Σας", "ſtar Systems", "Straße IT", "Café Ltd"} {
			_, err := e.m.Create(e.ctx, newPartnerInput(name, partner.MSP, "fold"+string(rune('a'+i))+"admin"))
			require.NoError(t, err)
		}
		for query, want := range map[string]string{"ΣΑΣ": "Οδός Σας", "σασ": "Οδός Σας", "STAR": "ſtar Systems",
			"STRASSE": "Straße IT", "CAFE\u0301": "Café Ltd", "café": "Café Ltd"} {
			ps, n, err := e.m.List(e.ctx, partner.Filter{Name: query})
			require.NoError(t, err)
			require.Equal(t, 1, n, "search %q", query)
			require.Equal(t, want, ps[0].Profile.CompanyName, "search %q", query)
		}
	})
}

// retryOnce is a store that, like a SQL store after a busy error, runs
// each write transaction twice: the first attempt is rolled back.
type retryOnce struct{ partner.Store }

var errSimulatedBusy = errors.New("simulated busy database")

func (s retryOnce) Update(ctx context.Context, fn func(context.Context, partner.Tx) error) error {
	err := s.Store.Update(ctx, func(ctx context.Context, tx partner.Tx) error {
		if err := fn(ctx, tx); err != nil {
			return err
		}
		return errSimulatedBusy
	})
	if !errors.Is(err, errSimulatedBusy) {
		return err
	}
	return s.Store.Update(ctx, fn)
}

// Item 12: effects outside the store run once, after commit, even when
// the store ran the transaction twice.
func TestResetPasswordHookRunsOnceAfterCommit(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		var calls []string
		var committed []bool
		m := partner.NewManager(partner.Options{Store: retryOnce{e.m.Store()}, Now: e.clock.Now,
			ResetPassword: func(ctx context.Context, a account.Account) error {
				calls = append(calls, a.Name)
				got, _, err := e.m.Accounts(context.Background(), a.PartnerID, partner.Page{Limit: partner.MaxLimit}) // a fresh read on the real store
				require.NoError(t, err)
				for _, x := range got {
					if x.ID == a.ID {
						committed = append(committed, !x.PasswordResetAt.IsZero())
					}
				}
				return nil
			}})
		_, err := m.ResetPassword(e.ctx, f.p.ID, f.second.ID)
		require.NoError(t, err)
		require.Equal(t, []string{f.second.Name}, calls, "one reset, one call, despite the retried transaction")
		require.Equal(t, []bool{true}, committed, "the hook runs after the commit")

		calls, committed = nil, nil
		err = m.RunInTx(e.ctx, func(ctx context.Context, tm *partner.Manager) error {
			if _, err := tm.ResetPassword(ctx, f.p.ID, f.admin.ID); err != nil {
				return err
			}
			require.Empty(t, calls, "not before the batch commits")
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, []string{f.admin.Name}, calls)
		require.Equal(t, []bool{true}, committed)

		calls = nil
		err = m.RunInTx(e.ctx, func(ctx context.Context, tm *partner.Manager) error {
			if _, err := tm.ResetPassword(ctx, f.p.ID, f.admin.ID); err != nil {
				return err
			}
			return errors.New("the host changes its mind")
		})
		require.Error(t, err)
		require.Empty(t, calls, "a rolled-back reset mails nothing")
	})
}

// failingStore answers every transaction with err.
type failingStore struct {
	partner.Store
	err error
}

func (s failingStore) Update(context.Context, func(context.Context, partner.Tx) error) error {
	return s.err
}
func (s failingStore) View(context.Context, func(context.Context, partner.Reader) error) error {
	return s.err
}

// A store's own wrapping of an error survives the Manager: a busy error
// that also carries a *partner.Error keeps both.
func TestManagerKeepsStoreErrorChain(t *testing.T) {
	inner := partner.NewError(partner.ErrNotFound, "account", "account 7 does not exist")
	storeErr := fmt.Errorf("store: %w: last failure: %w", partner.ErrBusy, inner)
	m := partner.NewManager(partner.Options{Store: failingStore{err: storeErr}})
	_, err := m.SetPoolRefill(context.Background(), 1, 0, true)
	require.ErrorIs(t, err, partner.ErrBusy)
	require.ErrorIs(t, err, partner.ErrNotFound)
	require.Equal(t, "account", partner.ErrorField(err))
	require.Equal(t, "account 7 does not exist", partner.ErrorReason(err))
	var pe *partner.Error
	require.ErrorAs(t, err, &pe)
	require.Equal(t, partner.OpSetPoolRefill, pe.Op, "the outermost *Error names the operation")
	_, err = m.Get(context.Background(), 1)
	require.ErrorIs(t, err, partner.ErrBusy)
}

// Every invalid input wraps ErrInvalid, refused by the Manager or by a
// leaf package's own Validate, and the same functions read its fields.
func TestLeafValidationWrapsErrInvalid(t *testing.T) {
	for name, err := range map[string]error{
		"grant":   license.Grant{}.Validate(),
		"key":     license.ValidateKey(" k"),
		"account": account.Params{}.Validate(),
		"plan":    serviceplan.Plan{}.Validate(),
		"profile": partner.Profile{}.Validate(),
	} {
		require.ErrorIs(t, err, partner.ErrInvalid, name)
		require.NotEmpty(t, partner.FieldErrors(err), name)
		require.NotEmpty(t, partner.ErrorField(err), name)
	}
}

// A bound Manager kept past its RunInTx refuses, with a sentinel.
func TestBoundManagerAfterRunInTx(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		var kept *partner.Manager
		require.NoError(t, e.m.RunInTx(e.ctx, func(ctx context.Context, tm *partner.Manager) error {
			kept = tm
			return nil
		}))
		_, err := kept.SetPoolRefill(e.ctx, f.p.ID, 0, true)
		require.ErrorIs(t, err, partner.ErrInvalid)
		_, err = kept.Get(e.ctx, f.p.ID)
		require.ErrorIs(t, err, partner.ErrInvalid)
	})
}

// An actor the audit trail could not keep exactly is refused, the same on
// every store (a NUL was silently dropped by the SQL stores, then broke
// their statements).
func TestActorIsValidated(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		f := e.fixture(t, partner.MSP, partner.Active)
		before := e.snapshot(t, f.p.ID)
		for _, actor := range []string{"ops\x00admin", "ops\nadmin", "\xffops", strings.Repeat("a", partner.MaxActorLen+1)} {
			_, err := e.m.SetPoolRefill(partner.WithActor(e.ctx, actor), f.p.ID, 0, true)
			requireErr(t, err, partner.ErrInvalid, "actor")
		}
		require.Empty(t, cmp.Diff(before, e.snapshot(t, f.p.ID)))
		_, err := e.m.SetPoolRefill(partner.WithActor(e.ctx, "Zoë Ops "+strings.Repeat("é", 150)), f.p.ID, 0, true)
		require.NoError(t, err)
	})
}
