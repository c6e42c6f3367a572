package bunstore

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/partner"
)

// TestWALCheckMessages checks both failures of OpenSQLite's journal-mode
// check read clearly: a mode other than WAL names it without a "<nil>"
// cause, and a failed query wraps its error.
func TestWALCheckMessages(t *testing.T) {
	require.NoError(t, walCheck("p.db", "wal", nil))

	err := walCheck("p.db", "delete", nil)
	require.EqualError(t, err, `bunstore: p.db is not in WAL mode (SQLite reports journal_mode "delete"): `+
		"the store needs WAL, which needs a local file system with shared memory")

	cause := errors.New("unable to open database file")
	err = walCheck("p.db", "", cause)
	require.ErrorIs(t, err, cause)
	require.EqualError(t, err, "bunstore: open p.db: read its journal mode: unable to open database file")
}

// TestPgxErrorsMap checks that errors of pgx (*pgconn.PgError, which
// reports its SQLSTATE through SQLState()) map like pgdriver's: the
// conformance suite meets duplicates and missing records through real
// pgx errors; serialization failures and deadlocks are hard to provoke on
// demand, so they are built here.
func TestPgxErrorsMap(t *testing.T) {
	pg := func(code, msg string) error {
		return fmt.Errorf("query: %w", &pgconn.PgError{Severity: "ERROR", Code: code, Message: msg})
	}
	for _, tc := range []struct {
		err       error
		kind      error
		field     string
		transient bool
	}{
		{pg("23505", `duplicate key value violates unique constraint "partnerkit_accounts_name_uniq"`), partner.ErrDuplicate, "account name", false},
		{pg("23505", `duplicate key value violates unique constraint "partnerkit_plans_name_uniq"`), partner.ErrDuplicate, "name", false},
		{pg("23505", `duplicate key value violates unique constraint "partnerkit_plans_nfr_uniq"`), partner.ErrDuplicate, "nfr", false},
		{pg("23505", `duplicate key value violates unique constraint "partnerkit_plan_assignments_pkey"`), partner.ErrDuplicate, "service plan", false},
		{pg("23503", `insert or update on table "partnerkit_licenses" violates foreign key constraint "x"`), partner.ErrNotFound, "", false},
		{pg("23514", `new row for relation "partnerkit_licenses" violates check constraint "partnerkit_licenses_units_check"`), partner.ErrInvalid, "", false},
		{pg("23514", `new row violates check constraint "partnerkit_licenses_used_within_units"`), partner.ErrInsufficientUnits, "units", false},
		{pg("40001", "could not serialize access due to concurrent update"), nil, "", true},
		{pg("40P01", "deadlock detected"), nil, "", true},
	} {
		require.Equal(t, tc.transient, transient(tc.err), "%v", tc.err)
		got := mapErr(tc.err)
		require.ErrorIs(t, got, tc.err, "the driver's error stays wrapped")
		if tc.kind == nil {
			require.Equal(t, tc.err, got)
			continue
		}
		require.ErrorIs(t, got, tc.kind, "%v", tc.err)
		require.Equal(t, tc.field, partner.ErrorField(got), "%v", tc.err)
	}
}
