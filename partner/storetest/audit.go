package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/partner"
)

// testAuditChanges: an entry's changes come back as written — labels,
// texts, absent sides — with their JSON values compacted; an empty list
// comes back nil; a value that is not JSON is refused, writing nothing.
func testAuditChanges(t *testing.T, s partner.Store) {
	p := createPartner(t, s, "Acme", partner.MSP, partner.Active)
	changes := []partner.Change{
		{Field: "minimum_licenses", Label: "Minimum licences", Before: "20", After: "30",
			BeforeValue: json.RawMessage("20"), AfterValue: json.RawMessage(" 30 ")},
		{Field: "contacts", Label: "Contacts", After: "Zoë Ωmega <zoe@example.com>",
			AfterValue: json.RawMessage(`[ {"first_name": "Zoë", "last_name": "Ωmega", "email": "zoe@example.com"} ]`)},
		{Field: "password_reset", Label: "Password reset", Before: "never", After: "2026-03-01 09:30 UTC",
			BeforeValue: json.RawMessage("null"), AfterValue: json.RawMessage(`"2026-03-01T09:30:00Z"`)},
		{Field: "service_plan", Label: "Service plan", Before: "Gold", BeforeValue: json.RawMessage(`"Gold"`)},
	}
	e := partner.AuditEntry{PartnerID: p.ID, Actor: "alice", Action: partner.OpUpdateProfile, Target: "partner 1", Changes: changes, At: T0}
	empty := partner.AuditEntry{PartnerID: p.ID, Actor: "alice", Action: partner.OpSuspend, Changes: []partner.Change{}, At: T0}
	update(t, s, func(tx partner.Tx) error {
		if err := tx.AppendAudit(ctx, &e); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &empty)
	})
	err := s.Update(ctx, func(ctx context.Context, tx partner.Tx) error {
		bad := partner.AuditEntry{PartnerID: p.ID, Actor: "alice", Action: partner.OpSuspend, At: T0,
			Changes: []partner.Change{{Field: "x", Label: "X", After: "x", AfterValue: json.RawMessage("{not json")}}}
		err := tx.AppendAudit(ctx, &bad)
		requireKind(t, err, partner.ErrInvalid, "changes")
		return nil // the transaction goes on and commits without it
	})
	require.NoError(t, err)

	want := e
	want.Changes = []partner.Change{changes[0], changes[1], changes[2], changes[3]}
	want.Changes[0].AfterValue = json.RawMessage("30")
	want.Changes[1].AfterValue = json.RawMessage(`[{"first_name":"Zoë","last_name":"Ωmega","email":"zoe@example.com"}]`)
	wantEmpty := empty
	wantEmpty.Changes = nil
	view(t, s, func(r partner.Reader) error {
		got, total, err := r.Audit(ctx, p.ID, partner.Page{Limit: 10})
		require.NoError(t, err)
		require.Equal(t, 2, total, "the refused entry was not written")
		require.Empty(t, cmp.Diff([]partner.AuditEntry{wantEmpty, want}, got))
		return nil
	})
	require.Equal(t, " 30 ", string(changes[0].AfterValue), "the caller's values are left as they were")
}

// auditLogFixture writes 12 entries of two partners and of none, by
// three actors, two actions, one a second apart, and returns them by id.
func auditLogFixture(t *testing.T, s partner.Store) (p, q partner.Partner, entries []partner.AuditEntry) {
	p = createPartner(t, s, "Acme", partner.MSP, partner.Active)
	q = createPartner(t, s, "Other", partner.Reseller, partner.Active)
	update(t, s, func(tx partner.Tx) error {
		for i := range 12 {
			e := partner.AuditEntry{PartnerID: []int64{p.ID, q.ID, 0}[i%3], Actor: []string{"alice", "bob", "Alice"}[(i/2)%3],
				Action: []partner.Operation{partner.OpSuspend, partner.OpUpdateProfile}[i%2], Target: fmt.Sprint("entry ", i),
				Changes: []partner.Change{{Field: "n", Label: "N", After: fmt.Sprint(i), AfterValue: json.RawMessage(fmt.Sprint(i))}},
				At:      T0.Add(time.Duration(i) * time.Second)}
			if err := tx.AppendAudit(ctx, &e); err != nil {
				return err
			}
			entries = append(entries, e)
		}
		return nil
	})
	return p, q, entries
}

// newestFirst returns the entries that keep matches, newest first.
func newestFirst(entries []partner.AuditEntry, keep func(partner.AuditEntry) bool) []partner.AuditEntry {
	var out []partner.AuditEntry
	for i := len(entries) - 1; i >= 0; i-- {
		if keep(entries[i]) {
			out = append(out, entries[i])
		}
	}
	return out
}

// testAuditLog: the log across partners filters by partner, by no
// partner, by actor (exactly), by action and by the half-open date range,
// newest first, paged with the total.
func testAuditLog(t *testing.T, s partner.Store) {
	p, q, entries := auditLogFixture(t, s)
	from, to := T0.Add(3*time.Second), T0.Add(9*time.Second)
	cases := []struct {
		name string
		f    partner.AuditFilter
		keep func(partner.AuditEntry) bool
	}{
		{"everything", partner.AuditFilter{}, func(partner.AuditEntry) bool { return true }},
		{"one partner", partner.AuditFilter{PartnerID: q.ID}, func(e partner.AuditEntry) bool { return e.PartnerID == q.ID }},
		{"no partner", partner.AuditFilter{Global: true}, func(e partner.AuditEntry) bool { return e.PartnerID == 0 }},
		{"actor, exactly", partner.AuditFilter{Actor: "alice"}, func(e partner.AuditEntry) bool { return e.Actor == "alice" }},
		{"action", partner.AuditFilter{Action: partner.OpUpdateProfile}, func(e partner.AuditEntry) bool { return e.Action == partner.OpUpdateProfile }},
		{"from, inclusive", partner.AuditFilter{From: from}, func(e partner.AuditEntry) bool { return !e.At.Before(from) }},
		{"to, exclusive", partner.AuditFilter{To: to}, func(e partner.AuditEntry) bool { return e.At.Before(to) }},
		{"all at once", partner.AuditFilter{PartnerID: p.ID, Actor: "alice", Action: partner.OpSuspend, From: from, To: to},
			func(e partner.AuditEntry) bool {
				return e.PartnerID == p.ID && e.Actor == "alice" && e.Action == partner.OpSuspend && !e.At.Before(from) && e.At.Before(to)
			}},
		{"no match", partner.AuditFilter{Actor: "nobody"}, func(partner.AuditEntry) bool { return false }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := newestFirst(entries, tc.keep)
			view(t, s, func(r partner.Reader) error {
				f := tc.f
				f.Limit = 100
				got, total, err := r.AuditLog(ctx, f)
				require.NoError(t, err)
				require.Equal(t, len(want), total)
				require.Empty(t, cmp.Diff(want, got, cmpopts.EquateEmpty()))
				f.Page = partner.Page{Offset: 1, Limit: 2}
				got, total, err = r.AuditLog(ctx, f)
				require.NoError(t, err)
				require.Equal(t, len(want), total, "the total of a page is every match")
				require.Empty(t, cmp.Diff(want[min(1, len(want)):min(3, len(want))], got, cmpopts.EquateEmpty()))
				return nil
			})
		})
	}
}

// testAuditBefore: the keyset pages of an export, read one after the
// other from the last id seen, give every matching entry once, newest
// first, and ignore the filter's page.
func testAuditBefore(t *testing.T, s partner.Store) {
	p, _, entries := auditLogFixture(t, s)
	for _, f := range []partner.AuditFilter{{}, {PartnerID: p.ID}, {Action: partner.OpSuspend, Page: partner.Page{Offset: 3, Limit: 1}}} {
		var got []partner.AuditEntry
		view(t, s, func(r partner.Reader) error {
			for before := int64(0); ; {
				page, err := r.AuditBefore(ctx, f, before, 2)
				require.NoError(t, err)
				require.LessOrEqual(t, len(page), 2)
				got = append(got, page...)
				if len(page) < 2 {
					return nil
				}
				before = page[len(page)-1].ID
			}
		})
		want := newestFirst(entries, func(e partner.AuditEntry) bool {
			return (f.PartnerID == 0 || e.PartnerID == f.PartnerID) && (f.Action == "" || e.Action == f.Action)
		})
		require.Empty(t, cmp.Diff(want, got), "filter %+v", f)
	}
}
