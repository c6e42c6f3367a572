//go:build !race

package bunstore_test

// exportScale is the size of TestExportOfAHundredThousandPartners.
const exportScale = 100_000
