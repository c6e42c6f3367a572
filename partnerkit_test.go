package partnerkit_test

import (
	"os"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit"
)

// The version the code reports is the newest release CHANGELOG.md records.
func TestVersionMatchesChangelog(t *testing.T) {
	log, err := os.ReadFile("CHANGELOG.md")
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$`).FindSubmatch(log)
	require.NotNil(t, m, "CHANGELOG.md has a release heading such as \"## [0.1.0] - 2026-11-29\"")
	require.Equal(t, string(m[1]), partnerkit.Version)
}
