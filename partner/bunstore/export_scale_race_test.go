//go:build race

package bunstore_test

// exportScale is the size of TestExportOfAHundredThousandPartners under
// the race detector.
const exportScale = 2_500
