package memstore_test

import (
	"testing"

	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/partner/memstore"
	"github.com/partnerkit/partnerkit/partner/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) partner.Store { return memstore.New() })
}
