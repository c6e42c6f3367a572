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
	// A clock that moves a second each time it is read, as time does
	// between the story's steps.
	t0 := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	var ticks int
	now := func() time.Time { ticks++; return t0.Add(time.Duration(ticks) * time.Second) }
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
		"a second product named ENDPOINT SECURITY             refused: is already taken by another product",
		"Assign Licenses of a misspelt product                refused: product \"Endpoint Securty\" is not in the product catalogue",
		"give 25 seats to City Dental (only 20 left)          refused: 25 requested, 20 remaining",
		"give 25 seats again: an allocation never grows a licence refused: 25 requested, 20 remaining",
		"(host hook) low stock: Endpoint Security (seats) Remaining units: 0; Minimum licences: 10",
		"the partner refills Endpoint Security (no cap yet)   refused: Endpoint Security (seats) has no refill capacity (its cap is 0)",
		"the partner refills Endpoint Security up to the cap  ok",
		"the same refill retried (same key): no second licence ok",
		"refill again while 30 seats remain                   refused: Endpoint Security (seats) still has 30 units remaining",
		"Add Units without the licence's version              refused: version is required",
		"(host hook) licence 2 expires in 30 days",
		"Reduce Units below what customers hold               refused: cannot reduce to 40 units: 50 are allocated to customers",
		"give a user of the disabled licence                  refused: licence 2 is disabled",
		"licence 2 Email Security       0/30  users  Full  Normal        Assigned",
		"licence 3 Endpoint Security    5/30  seats  Full  Normal        Pool refill to the cap",
		"City Dental    2 allocations, 25 units",
		"(host hook) password reset link sent to lee@acme.example",
		"Reactivate a canceled partner                        refused: the partnership is canceled: nothing can be changed",
		"Acme Managed IT      Status: Canceled  Type: MSP      Customers: 2",
		"Blue Sky Reseller    Status: Active    Type: Reseller Customers: 0",
		"licence 1 Endpoint Security   50/50  seats  Full  Normal        Assigned",
		"cancel                 partner 1            Status: Active → Canceled; Licences expired: 3; Accounts disabled: 1",
		"preview Acme Managed IT      refused   the partnership is canceled: nothing can be changed",
		"preview Blue Sky Reseller    pending   Minimum licences: 0 → 10",
		"bulk run minimum-10: 1 done, 1 refused",
		"the same run retried: still 1 done, nothing applied twice",
	}
	for _, w := range want {
		require.True(t, strings.Contains(text, w), "missing %q in:\n%s", w, text)
	}
}
