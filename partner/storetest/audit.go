package storetest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
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
