package partner_test

import (
	"testing"

	"github.com/partnerkit/partnerkit/internal/dbtest"
	"github.com/partnerkit/partnerkit/partner"
)

// The Manager's tests run on the SQL store too: SQLite in a temp file
// always, PostgreSQL when PARTNERS_TEST_POSTGRES_DSN is set.
func init() {
	extraBackends = append(extraBackends,
		backend{"sqlite", func(t *testing.T) partner.Store { return dbtest.SQLite(t) }},
		backend{"postgres", func(t *testing.T) partner.Store { return dbtest.Postgres(t) }},
	)
}
