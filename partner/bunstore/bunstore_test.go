package bunstore_test

import (
	"testing"

	"github.com/partnerkit/partnerkit/internal/dbtest"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/partner/storetest"
)

func TestConformance(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) partner.Store { return dbtest.SQLite(t) })
	})
	// A host's own SQLite handle, opened as bun's documentation shows with
	// foreign keys on and no other setting: no WAL, no busy timeout.
	t.Run("sqlite-host", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) partner.Store { return dbtest.SQLiteHost(t) })
	})
	t.Run("postgres", func(t *testing.T) {
		dbtest.PostgresDSN(t)
		storetest.Run(t, func(t *testing.T) partner.Store { return dbtest.Postgres(t) })
	})
	t.Run("postgres-pgx", func(t *testing.T) {
		dbtest.PostgresDSN(t)
		storetest.Run(t, func(t *testing.T) partner.Store { return dbtest.PostgresPgx(t) })
	})
}
