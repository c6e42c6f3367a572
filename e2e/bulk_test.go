package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/partner"
)

// TestBulkInBrowser drives a bulk change in headless Chromium: three
// partners ticked on the partners list (one of them Suspended), "Assign
// licences" with one grant line, the preview that shows the Suspended
// partner refused and why, the run with its progress and summary, then
// the audit log filtered by the console's actor; then a run of 200
// partners selected by "all matching the filter", whose page shows the
// progress, polled by htmx, and turns into the summary by itself.
// axe-core checks the action's form, the preview, the run (finished and
// in progress) and the audit log.
func TestBulkInBrowser(t *testing.T) {
	chromium, shots := browserEnv(t)

	db := filepath.Join(t.TempDir(), "console.db")
	console := startConsole(t, "-db", db)
	console.ready(t)
	base := console.base + "/admin/partners/"
	m := openLibrary(t, db)
	ctx := context.Background()

	bctx := headless(t, ctx, chromium)
	b := &browser{t: t, ctx: bctx, shots: shots}

	count := func(name string) int {
		ps, _, err := m.List(ctx, partner.Filter{Name: name})
		require.NoError(t, err)
		require.Len(t, ps, 1, name)
		_, n, err := m.Licenses(ctx, ps[0].ID, partner.Page{Limit: 1})
		require.NoError(t, err)
		return n
	}
	names := []string{"Acme Managed IT", "Blue Sky Reseller", "Harbor Networks"} // Harbor Networks is Suspended
	before := make([]int, len(names))
	for i, n := range names {
		before[i] = count(n)
	}

	// The partners list: tick three partners, choose Assign licences.
	b.do(chromedp.Navigate(base), chromedp.WaitVisible(chromedp.ID("bulk-form"))) // the first action starts the browser: not in a step's own time limit
	for _, n := range names {
		b.step("tick "+n, chromedp.Click(chromedp.CSS(`input[aria-label="Select `+n+`"]`)))
	}
	b.step("choose Assign licences", chromedp.SetValue(chromedp.ID("bulk-action"), string(partner.BulkAssignLicenses)),
		chromedp.Click(chromedp.Search(`//fieldset[contains(@class, "bulk")]//button[@type="submit"]`)),
		chromedp.WaitVisible(chromedp.Search(`//h1[text()="Bulk action: Assign licences"]`)))
	require.Equal(t, "3 partners selected on the partners list.", b.text(chromedp.CSS(`main p.card`)))
	b.shot("bulk-action-form")
	b.accessible("bulk action form")

	// One grant line, then the preview.
	expiry := time.Now().AddDate(1, 0, 0).Format(time.DateOnly)
	b.step("fill a grant line", chromedp.SendKeys(chromedp.CSS(`input[aria-label="Endpoint Security: Full units"]`), "25"),
		chromedp.SetValue(chromedp.CSS(`input[aria-label="Endpoint Security: expiry"]`), expiry))
	b.step("preview", chromedp.Click(chromedp.Search(`//button[text()="Preview"]`)),
		chromedp.WaitVisible(chromedp.ID("bulk-preview")))
	require.Equal(t, "3 partners: 2 will change, 0 have nothing to change, 1 are refused and will be left as they are.",
		strings.Join(strings.Fields(b.text(chromedp.CSS(`#bulk-totals`))), " "))
	harbor := eval[string](b, `[...document.querySelectorAll('#bulk-preview tbody tr')].find(r => r.textContent.includes('Harbor Networks')).textContent.replace(/\s+/g, ' ').trim()`)
	require.Contains(t, harbor, "Refused")
	require.Contains(t, harbor, "The partnership is suspended")
	acme := eval[string](b, `[...document.querySelectorAll('#bulk-preview tbody tr')].find(r => r.textContent.includes('Acme Managed IT')).textContent.replace(/\s+/g, ' ').trim()`)
	require.Contains(t, acme, "Will change")
	require.Contains(t, acme, "25 seats of Endpoint Security (Full)")
	for i, n := range names {
		require.Equal(t, before[i], count(n), "the preview changed nothing for %s", n)
	}
	b.shot("bulk-preview")
	b.accessible("bulk preview")

	// Run: the progress, then the summary.
	b.step("run", chromedp.Click(chromedp.Search(`//button[starts-with(., "Assign licences: run for 2 partners")]`)),
		chromedp.WaitVisible(chromedp.Search(`//h1[text()="Bulk run: Assign licences"]`)),
		chromedp.WaitVisible(chromedp.Search(`//h2[text()="Summary"]`)))
	require.Equal(t, "2 done, 0 unchanged, 1 refused, 0 failed.", strings.Join(strings.Fields(b.text(chromedp.CSS("#bulk-counts"))), " "))
	require.Equal(t, "Partners processed: 3 of 3", eval[string](b, `document.getElementById('bulk-bar').getAttribute('aria-label')`))
	require.Contains(t, b.text(chromedp.CSS("#bulk-items")), "Harbor Networks")
	require.Equal(t, []int{before[0] + 1, before[1] + 1, before[2]}, []int{count(names[0]), count(names[1]), count(names[2])})
	b.shot("bulk-run")
	b.accessible("bulk run summary")
	b.step("the refused partners", chromedp.Click(chromedp.Search(`//nav[@class="outcomes"]//a[starts-with(., "Refused")]`)),
		chromedp.WaitVisible(chromedp.Search(`//nav[@class="pager"]/span[text()="Showing the only refused partner."]`)))
	require.Contains(t, b.text(chromedp.CSS("#bulk-items")), "The partnership is suspended")

	// The audit log, from the list, filtered by the console's actor.
	b.step("open the audit log", chromedp.Navigate(base), chromedp.Click(chromedp.Search(`//a[text()="Audit log"]`)),
		chromedp.WaitVisible(chromedp.Search(`//h1[text()="Audit log"]`)))
	b.step("filter by actor", chromedp.SendKeys(chromedp.ID("a-actor"), "demo.operator"),
		chromedp.Click(chromedp.Search(`//button[text()="Filter"]`)),
		chromedp.WaitVisible(chromedp.Search(`//a[text()="Clear"]`)), // shown once the filtered page has loaded
		chromedp.WaitVisible(chromedp.ID("audit-log")))
	require.Contains(t, eval[string](b, `location.search`), "actor=demo.operator")
	log := b.text(chromedp.CSS("#audit-log"))
	for _, s := range []string{"Bulk change started", "Bulk change finished", "Acme Managed IT", "Blue Sky Reseller", "25 seats of Endpoint Security (Full)", "Refused: 1"} {
		require.Contains(t, log, s)
	}
	require.NotContains(t, log, "Harbor Networks", "nothing was done to the refused partner")
	b.shot("audit-log")
	b.accessible("audit log")
	// A longer run, of every partner matching a filter: its page follows
	// the progress (htmx polls it every second) and turns into the
	// summary by itself when the run ends.
	const polled = 200
	for i := range polled {
		_, err := m.Create(ctx, partner.CreateParams{Type: partner.MSP,
			Profile: partner.Profile{CompanyName: fmt.Sprintf("Polled %03d", i), City: "Lyon", Country: "France"},
			Admin:   account.Params{Name: fmt.Sprintf("polled%03d.admin", i), FirstName: "Po", LastName: "Lled", Email: fmt.Sprintf("polled%03d@example.com", i)}})
		require.NoError(t, err)
	}
	b.step("filter the list", chromedp.Navigate(base+"?q=Polled"), chromedp.WaitVisible(chromedp.ID("bulk-all")))
	b.step("select all matching, Suspend", chromedp.Click(chromedp.ID("bulk-all")),
		chromedp.SetValue(chromedp.ID("bulk-action"), string(partner.BulkSuspend)),
		chromedp.Click(chromedp.Search(`//fieldset[contains(@class, "bulk")]//button[@type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("bulk-preview")))
	require.Contains(t, b.text(chromedp.CSS(`main .card p`)), `Every partner matching the filter: company name containing “Polled”`)
	b.step("run", chromedp.Click(chromedp.Search(fmt.Sprintf(`//button[text()="Suspend: run for %d partners"]`, polled))),
		chromedp.WaitVisible(chromedp.Search(`//h1[text()="Bulk run: Suspend"]`)))
	require.Equal(t, 42, eval[int](b, `window.__noReload = 42`))
	require.Equal(t, "Progress", b.text(chromedp.CSS(`#bulk-progress h2`)), "the run is still under way when its page shows")
	require.Equal(t, "every 1s", eval[string](b, `document.getElementById('bulk-progress').getAttribute('hx-trigger')`))
	b.accessible("bulk run in progress")
	ctxWait, cancelWait := context.WithTimeout(bctx, 90*time.Second)
	defer cancelWait()
	_, err := chromedp.Run(ctxWait, chromedp.WaitVisible(chromedp.Search(`//h2[text()="Summary"]`)))
	require.NoError(t, err, "the page turns into the summary")
	require.Nil(t, eval[any](b, `window.__noReload`), "the finished run reloaded the page for its summary")
	require.Equal(t, fmt.Sprintf("%d done, 0 unchanged, 0 refused, 0 failed.", polled), strings.Join(strings.Fields(b.text(chromedp.CSS("#bulk-counts"))), " "))
	require.Equal(t, fmt.Sprintf("Showing 1–50 of %d partners.", polled), b.text(chromedp.CSS(`nav.pager span`)))

	t.Logf("axe-core found no WCAG 2.1 A/AA violation on: %s", strings.Join(b.checked, ", "))

	require.NoError(t, console.stop(t), console.stderr.String())
	require.NotContains(t, console.stderr.String(), "level=ERROR")
}
