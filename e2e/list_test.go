package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
)

// TestPartnersListInBrowser drives the partners list in headless
// Chromium: sorting by a column heading (aria-sort and the rows' order,
// names ignoring case and accents, the order kept in the address across
// a reload), filtering "needs attention" with the order kept, the marks
// and their words for screen readers, and axe-core on the filtered list.
func TestPartnersListInBrowser(t *testing.T) {
	chromium, shots := browserEnv(t)
	db := filepath.Join(t.TempDir(), "console.db")
	console := startConsole(t, "-db", db)
	console.ready(t)
	base := console.base + "/admin/partners/"
	m := openLibrary(t, db)
	ctx := partner.WithActor(context.Background(), "e2e test")

	// Two more partners: one lower-case and accented, low on stock; one
	// lower-case with nothing to look at.
	today := time.Now().UTC().Truncate(24 * time.Hour)
	for i, name := range []string{"émile Consulting", "zeta Systems"} {
		in := partner.CreateParams{Type: partner.MSP, Profile: partner.Profile{CompanyName: name, City: "Nantes", Country: "France"},
			Admin: account.Params{Name: []string{"emile.admin", "zeta.admin"}[i], FirstName: "E", LastName: "M", Email: "e@example.com"},
			Licenses: []license.Grant{{Product: "Endpoint Security", UnitType: "seats", Units: 50, Kind: license.Full,
				Start: today.AddDate(0, -1, 0), Expiry: today.AddDate(1, 0, 0)}}}
		p, err := m.Create(ctx, in)
		require.NoError(t, err)
		if i == 0 {
			_, err = m.SetMinimumLicenses(ctx, p.ID, 0, 100)
			require.NoError(t, err)
		}
	}

	bctx := headless(t, ctx, chromium)
	b := &browser{t: t, ctx: bctx, shots: shots}
	idle := chromedp.WaitNotPresent(chromedp.CSS(".htmx-request, .htmx-swapping, .htmx-settling"))
	names := func() []string {
		return eval[[]string](b, `[...document.querySelectorAll('#results tbody tr td:nth-child(2) a')].map(a => a.textContent.trim())`)
	}
	ariaSort := func() string {
		return eval[string](b, `[...document.querySelectorAll('#results th[aria-sort]')].map(th => th.textContent.trim().split(",")[0] + ": " + th.getAttribute("aria-sort")).join("; ")`)
	}
	byName := []string{"Acme Managed IT", "Blue Sky Reseller", "émile Consulting", "Harbor Networks", "Old Town Software", "zeta Systems"}

	b.do(chromedp.Navigate(base), chromedp.WaitVisible(chromedp.CSS(`#results table`)))
	require.Equal(t, 42, eval[int](b, `window.__noReload = 42`))
	require.Empty(t, ariaSort(), "creation order: no column claims the order")

	// Sort by company name, then reverse it, without a reload.
	b.step("sort by name", chromedp.Click(chromedp.Search(`//th/a[starts-with(normalize-space(.), "Company name")]`)),
		chromedp.WaitVisible(chromedp.CSS(`th[aria-sort="ascending"]`)), idle)
	require.Equal(t, "Company name: ascending", ariaSort())
	require.Equal(t, byName, names(), "names sort ignoring case and accents")
	require.Equal(t, "?sort=name", eval[string](b, `location.search`))
	b.step("reverse it", chromedp.Click(chromedp.Search(`//th/a[starts-with(normalize-space(.), "Company name")]`)),
		chromedp.WaitVisible(chromedp.CSS(`th[aria-sort="descending"]`)), idle)
	desc := make([]string, len(byName))
	for i, n := range byName {
		desc[len(byName)-1-i] = n
	}
	require.Equal(t, desc, names())
	require.Equal(t, "?desc=1&sort=name", eval[string](b, `location.search`))
	require.Equal(t, 42, eval[int](b, `window.__noReload`), "sorting swapped the results, no reload")

	// Needs attention: the filter keeps the order; only the partners with
	// a low pool or a licence expiring soon remain, with their marks.
	b.step("choose needs attention", chromedp.SetValue(chromedp.ID("attention"), "any"))
	require.True(t, eval[bool](b, `document.getElementById("attention").dispatchEvent(new Event("change", {bubbles: true}))`))
	b.step("filter needs attention", chromedp.WaitNotPresent(chromedp.Search(`//a[text()="zeta Systems"]`)), idle)
	require.Equal(t, []string{"émile Consulting", "Acme Managed IT"}, names())
	require.Equal(t, "Company name: descending", ariaSort(), "the filter kept the order")
	search := eval[string](b, `location.search`)
	for _, want := range []string{"attention=any", "sort=name", "desc=1"} {
		require.Contains(t, search, want)
	}
	marks := eval[[]string](b, `[...document.querySelectorAll('#results tbody tr')].map(tr => [...tr.querySelectorAll('.mark .sr-only')].map(s => s.textContent).join(", "))`)
	require.Equal(t, "1 pool below its minimum", marks[0])
	require.Contains(t, marks[1], "licenses expiring soon")
	require.Contains(t, marks[1], "below their minimum")
	b.accessible("partners list, sorted and filtered")
	b.shot("partners-list-attention")

	// A reload keeps it all: the address holds the state.
	b.do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#results table`)))
	require.Equal(t, "Company name: descending", ariaSort())
	require.Equal(t, []string{"émile Consulting", "Acme Managed IT"}, names())
	require.Equal(t, "any", eval[string](b, `document.getElementById("attention").value`))

	// The alerts name Acme as expiring soon and link to all of them.
	alerts := b.text(chromedp.CSS(`.alerts`))
	require.Contains(t, alerts, "Expiring soon")
	require.Contains(t, alerts, "Acme Managed IT")
	require.Contains(t, alerts, "Recently suspended")
	require.Contains(t, alerts, "Harbor Networks")
	require.True(t, strings.Contains(alerts, "2 partners have pools below their minimum."), alerts)
	require.NoError(t, console.stop(t), console.stderr.String())
	require.NotContains(t, console.stderr.String(), "level=ERROR")
}
