package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestQuickstartStory runs the walkthrough and checks the outcomes the
// seed prescribes, line by line.
func TestQuickstartStory(t *testing.T) {
	var out bytes.Buffer
	now := func() time.Time { return time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC) }
	require.NoError(t, run(&out, now))
	text := out.String()
	want := []string{
		"create a partner whose admin name is taken",
		"Assign Licenses while suspended                      refused: the partnership is suspended: only the Profile can be changed",
		"change the Profile while suspended                   ok",
		"change the Profile from a stale form                 refused: the partner was changed by someone else",
		"Disable Licenses on a Reseller                       refused: Disable Licenses is for MSP partners only",
		"Enable Remote Manager on a Reseller                  refused: Enable Remote Manager is for MSP partners only",
		"Assign Service Plan on an MSP                        refused: Assign Service Plan is for Reseller partners only",
		"delete the only Administrator                        refused: acme.admin is the last enabled Administrator",
		"give 25 seats to City Dental (only 20 left)          refused: 25 requested, 20 remaining",
		"give 25 seats to City Dental (refill tops up 5)      ok",
		"give a user of the disabled licence                  refused: licence 2 is disabled",
		"(host hook) low stock: Endpoint Security (seats) remaining=0; minimum=10",
		"(host hook) password reset link sent to lee@acme.example",
		"Reactivate a canceled partner                        refused: the partnership is canceled: nothing can be changed",
		"Acme Managed IT      Status: Canceled  Type: MSP      Customers: 2",
		"Blue Sky Reseller    Status: Active    Type: Reseller Customers: 0",
		"licence 1 Endpoint Security   55/55  seats  Normal",
		"cancel                 partner 1            status=active -> status=canceled; licenses expired=2; accounts disabled=1",
	}
	for _, w := range want {
		require.True(t, strings.Contains(text, w), "missing %q in:\n%s", w, text)
	}
}
