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
	t.Run("postgres", func(t *testing.T) {
		dbtest.PostgresDSN(t)
		storetest.Run(t, func(t *testing.T) partner.Store { return dbtest.Postgres(t) })
	})
}
