package storetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
)

// allocateTests check partner.UnitsAllocator, on stores whose Tx has it.
var allocateTests = []struct {
	name string
	fn   func(t *testing.T, s partner.Store)
}{
	{"Licenses/AllocateUnitsInOneStep", testAllocateUnits},
}

// allocationAudit is the audit entry the tests ask AllocateUnits for: it
// depends on the allocation and on the licence's ID and Used only, as
// partner.AllocateUnitsParams.Audit must.
func allocationAudit(a license.Allocation, l license.License) partner.AuditEntry {
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	return partner.AuditEntry{PartnerID: a.PartnerID, Actor: "ops@example.com", Action: partner.OpAllocateUnits,
		Target: fmt.Sprintf("allocation %d", a.ID), At: a.CreatedAt, Changes: []partner.Change{
			{Field: "customer_id", Label: "Customer", After: n(a.CustomerID), AfterValue: []byte(n(a.CustomerID))},
			{Field: "license_used", Label: "Licence units used", Before: n(l.Used - a.Units), After: n(l.Used),
				BeforeValue: []byte(n(l.Used - a.Units)), AfterValue: []byte(n(l.Used))},
		}}
}

// errUndo rolls a test's transaction back.
var errUndo = errors.New("undo")

func testAllocateUnits(t *testing.T, s partner.Store) {
	p := createPartner(t, s, "Acme", partner.MSP, partner.Active)
	q := createPartner(t, s, "Other", partner.MSP, partner.Active)
	l, lq := createLicense(t, s, p.ID, 10), createLicense(t, s, q.ID, 10)
	c := partner.Customer{PartnerID: p.ID, Name: "Mine", CreatedAt: T0}
	cq := partner.Customer{PartnerID: q.ID, Name: "Theirs", CreatedAt: T0}
	settings := partner.PoolSettings{PartnerID: p.ID, Product: l.Product, UnitType: l.UnitType, Minimum: 3, MinimumSet: true,
		Cap: 50, AutoRefill: true, UpdatedAt: T0}
	allocates := true
	update(t, s, func(tx partner.Tx) error {
		_, allocates = tx.(partner.UnitsAllocator)
		if err := tx.CreateCustomer(ctx, &c); err != nil {
			return err
		}
		if err := tx.CreateCustomer(ctx, &cq); err != nil {
			return err
		}
		return tx.PutPoolSettings(ctx, &settings)
	})
	if !allocates {
		t.Skip("the store's Tx is not a partner.UnitsAllocator")
	}
	// allocate runs AllocateUnits in a transaction of its own; undo rolls
	// it back after check has seen its result.
	allocateFor := func(partnerID, licenseID, customerID, units int64, undo bool, check func(tx partner.Tx, got partner.AllocatedUnits)) (partner.AllocatedUnits, error) {
		var got partner.AllocatedUnits
		err := s.Update(ctx, func(ctx context.Context, tx partner.Tx) error {
			var err error
			got, err = tx.(partner.UnitsAllocator).AllocateUnits(ctx, partner.AllocateUnitsParams{
				Allocation: license.Allocation{LicenseID: licenseID, PartnerID: partnerID, CustomerID: customerID, Units: units, CreatedAt: T0},
				Audit:      allocationAudit})
			if err != nil {
				return err
			}
			if check != nil {
				check(tx, got)
			}
			if undo {
				return errUndo
			}
			return nil
		})
		return got, err
	}
	allocate := func(licenseID, customerID, units int64, undo bool, check func(tx partner.Tx, got partner.AllocatedUnits)) (partner.AllocatedUnits, error) {
		return allocateFor(p.ID, licenseID, customerID, units, undo, check)
	}

	got, err := allocate(l.ID, c.ID, 4, false, nil)
	require.NoError(t, err)
	require.Equal(t, int64(4), got.License.Used)
	require.NotZero(t, got.Allocation.ID)
	require.NotZero(t, got.Audit.ID)
	wantAlloc := license.Allocation{ID: got.Allocation.ID, LicenseID: l.ID, PartnerID: p.ID, CustomerID: c.ID, Units: 4, CreatedAt: T0}
	require.Empty(t, cmp.Diff(wantAlloc, got.Allocation))
	wantAudit := allocationAudit(wantAlloc, got.License)
	wantAudit.ID = got.Audit.ID
	require.Empty(t, cmp.Diff(wantAudit, got.Audit))
	require.Empty(t, cmp.Diff([]partner.PoolSettings{settings}, got.Pool), "the partner's settings of the licence's pool")
	view(t, s, func(r partner.Reader) error {
		stored, err := r.Allocation(ctx, got.Allocation.ID)
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(wantAlloc, stored))
		lic, err := r.License(ctx, l.ID)
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(got.License, lic), "the licence returned is the licence stored")
		entries, _, err := r.Audit(ctx, p.ID, partner.Page{Limit: 1})
		require.NoError(t, err)
		require.Len(t, entries, 1)
		require.Empty(t, cmp.Diff(wantAudit, entries[0]), "the audit entry is stored as Audit returned it")
		return nil
	})

	// A second allocation: the audit entry carries the used units before.
	got, err = allocate(l.ID, c.ID, 2, true, nil)
	require.ErrorIs(t, err, errUndo)
	require.Equal(t, int64(6), got.License.Used)
	require.Equal(t, "4", got.Audit.Changes[1].Before)

	// The units cannot be taken: AdjustUsed's errors, nothing written.
	got, err = allocate(l.ID, c.ID, 7, false, nil)
	requireKind(t, err, partner.ErrInsufficientUnits, "")
	require.Equal(t, int64(4), got.License.Used, "the licence as it stands")
	_, err = allocate(l.ID+lq.ID+1000, c.ID, 1, false, nil)
	requireKind(t, err, partner.ErrNotFound, "")

	// Another partner's customer, or licence: the units only, no allocation
	// nor audit entry.
	notRecorded := func(tx partner.Tx, got partner.AllocatedUnits) {
		require.Zero(t, got.Allocation.ID)
		require.Zero(t, got.Audit.ID)
		as, err := tx.Allocations(ctx, partner.AllocationFilter{LicenseID: got.License.ID})
		require.NoError(t, err)
		require.Len(t, as, map[int64]int{l.ID: 1, lq.ID: 0}[got.License.ID], "no allocation was recorded")
		entries, _, err := tx.Audit(ctx, p.ID, partner.Page{})
		require.NoError(t, err)
		require.Len(t, entries, 1, "no audit entry was recorded")
	}
	got, err = allocate(l.ID, cq.ID, 1, true, notRecorded)
	require.ErrorIs(t, err, errUndo)
	require.Equal(t, int64(5), got.License.Used)
	got, err = allocate(lq.ID, c.ID, 1, true, notRecorded)
	require.ErrorIs(t, err, errUndo)
	require.Equal(t, int64(1), got.License.Used)

	// A pool without settings: none, read.
	got, err = allocateFor(q.ID, lq.ID, cq.ID, 1, false, nil)
	require.NoError(t, err)
	require.NotZero(t, got.Allocation.ID)
	require.NotNil(t, got.Pool)
	require.Empty(t, got.Pool, "partner %d has no settings", q.ID)
}
