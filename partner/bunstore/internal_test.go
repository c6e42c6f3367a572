package bunstore

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
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
