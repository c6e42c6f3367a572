package partner_test

import (
	"errors"
	"slices"
	"strconv"

	"github.com/partnerkit/partnerkit/license"
)

type licenseGrant = license.Grant

func errorsIs(err, target error) bool { return errors.Is(err, target) }

func mapKeys[K comparable, V any](m map[K]V) []K {
	var ks []K
	for k := range m {
		ks = append(ks, k)
	}
	return slices.Clip(ks)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
