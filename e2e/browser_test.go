package e2e

import (
	"context"
	_ "embed"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/account"
	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
)

// ChromiumEnv names the Chromium binary for the browser test.
const ChromiumEnv = "PARTNERS_TEST_CHROMIUM"

// ScreenshotsEnv, when set, names a folder for the test's screenshots
// (docs/ keeps one of the partner screen); a relative path is relative to
// this folder, e2e/, where go test runs the test.
const ScreenshotsEnv = "PARTNERS_SCREENSHOTS"

// TestConsoleInBrowser drives the console in headless Chromium: the list,
// an MSP's and a Reseller's tabs, assigning licences without a full
// reload, a refusal in words, suspending, paging the licences, a canceled
// partner's read-only tabs, a confirmation without JavaScript, and a
// hostile company name. The console is the real binary on a SQLite file
// of its own; what the test adds to the demo data it writes through the
// library on the same file while the console runs.
func TestConsoleInBrowser(t *testing.T) {
	chromium, shots := browserEnv(t)

	db := filepath.Join(t.TempDir(), "console.db")
	console := startConsole(t, "-db", db)
	console.ready(t)
	require.Equal(t, 1, strings.Count(console.stderr.String(), "seeded demo partners"), "the console seeded its new database:\n%s", console.stderr.String())
	base := console.base + "/admin/partners/"
	m := openLibrary(t, db)
	ctx := partner.WithActor(context.Background(), "e2e test")

	bctx := headless(t, ctx, chromium)

	// Accept hx-confirm dialogs; count any other dialog (an alert would
	// mean injected script ran).
	var alerts atomic.Int32
	require.NoError(t, chromedp.Listen(bctx, func(ev any) {
		if d, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			if d.Type != page.DialogTypeConfirm {
				alerts.Add(1)
			}
			go func() {
				_, _ = chromedp.Call(bctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
			}()
		}
	}), "start Chromium from %s", chromium)

	b := &browser{t: t, ctx: bctx, shots: shots}
	// idle waits until htmx has finished swapping and settling, so a
	// click never lands on a node that is being replaced.
	idle := chromedp.WaitNotPresent(chromedp.CSS(".htmx-request, .htmx-swapping, .htmx-settling"))

	// The list, and keyboard access from the top of the page.
	b.do(chromedp.Navigate(base), chromedp.WaitVisible(chromedp.CSS(`#results table`)))
	listText := b.text(chromedp.CSS(`#results`))
	for _, name := range []string{"Acme Managed IT", "Blue Sky Reseller", "Harbor Networks", "Old Town Software"} {
		require.Contains(t, listText, name)
	}
	b.shot("partners-list")
	b.accessible("partners list")
	// The check can fail: an unlabelled field is caught.
	eval[bool](b, `(() => { const i = document.createElement("input"); i.id = "planted"; document.querySelector("main").append(i); return true })()`)
	require.NotEmpty(t, b.violations(), "axe-core must flag an unlabelled input")
	eval[bool](b, `(() => { document.getElementById("planted").remove(); return true })()`)
	b.do(chromedp.KeyEvent("\t"))
	require.Equal(t, "Skip to content", eval[string](b, `document.activeElement.textContent.trim()`), "the first Tab reaches the skip link")

	// Search filters through htmx.
	b.do(chromedp.SendKeys(chromedp.ID("q"), "harbor"),
		chromedp.WaitNotPresent(chromedp.Search(`//a[text()="Acme Managed IT"]`)))
	require.Contains(t, b.text(chromedp.CSS(`#results`)), "Harbor Networks")

	// An MSP: its tabs, then Assign Licenses without a full reload.
	b.do(chromedp.Navigate(base),
		chromedp.Click(chromedp.Search(`//a[text()="Acme Managed IT"]`)),
		chromedp.WaitVisible(chromedp.ID("partner-main")))
	require.Equal(t, []string{"Licenses", "Customers", "Management Licenses", "Accounts", "Profile"}, b.tabs())
	require.Equal(t, "Licenses", b.selected())
	require.Contains(t, eval[string](b, `document.querySelector('.counts').textContent.replace(/\s+/g, ' ')`), "Expiring soon: 2 · Expired: 0")
	b.shot("partner-licenses")
	b.accessible("Licenses tab")

	// Assign Licenses from the catalogue: two products in one submit.
	require.Equal(t, 42, eval[int](b, `window.__noReload = 42`))
	b.step("open Assign Licenses", chromedp.Click(chromedp.Search(`//a[text()="Assign Licenses"]`)),
		chromedp.WaitVisible(chromedp.Search(`//h2[text()="Assign Licenses"]`)), idle)
	b.shot("partner-assign-licenses")
	b.accessible("Assign Licenses")
	b.step("fill two lines", chromedp.SendKeys(chromedp.CSS(`input[aria-label="Endpoint Security: Full units"]`), "500"),
		chromedp.SetValue(chromedp.CSS(`input[aria-label="Endpoint Security: expiry"]`), time.Now().AddDate(1, 0, 0).Format(time.DateOnly)),
		chromedp.SendKeys(chromedp.CSS(`input[aria-label="Mobile Security: Full units"]`), "40"),
		chromedp.SetValue(chromedp.CSS(`input[aria-label="Mobile Security: expiry"]`), time.Now().AddDate(2, 0, 0).Format(time.DateOnly)))
	b.step("assign them", chromedp.Click(chromedp.Search(`//button[text()="Assign Licenses"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(., "Licenses assigned.")]`)), idle)
	table := b.text(chromedp.CSS(`#panel table`))
	require.Contains(t, table, "0 / 500")
	require.Contains(t, table, "0 / 40")
	require.Contains(t, b.text(chromedp.CSS("#banner")), "75 / 705", "the banner refreshed with the tab")
	require.Equal(t, 42, eval[int](b, `window.__noReload`), "the page was not reloaded")
	require.True(t, strings.HasSuffix(eval[string](b, `location.pathname`), "/licenses"), "the Licenses tab's URL is pushed")

	// The licence lifecycle on a licence's page: extend, convert a trial,
	// disable and enable again.
	trial := eval[string](b, `[...document.querySelectorAll('#panel tbody tr')].find(r => r.textContent.includes('Trial')).querySelector('a').getAttribute('href')`)
	b.step("open the trial licence", chromedp.Click(chromedp.CSS(`#panel a[href="`+trial+`"]`)),
		chromedp.WaitVisible(chromedp.ID("x-expiry")), idle)
	b.shot("partner-license")
	b.accessible("licence page")
	newExpiry := time.Now().AddDate(0, 3, 0).Format(time.DateOnly)
	b.step("extend it", chromedp.SetValue(chromedp.ID("x-expiry"), newExpiry), chromedp.Click(chromedp.Search(`//button[text()="Extend"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(., "Expiry changed.")]`)), idle)
	require.Equal(t, newExpiry, b.text(chromedp.CSS("#lic-expiry")))
	b.step("convert it to Full", chromedp.Click(chromedp.Search(`//button[text()="Convert to Full"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(., "License converted to Full.")]`)), idle)
	require.Equal(t, 0, eval[int](b, `document.querySelectorAll('#c-expiry').length`), "a Full licence has nothing to convert")
	b.step("back to the licences", chromedp.Click(chromedp.Search(`//a[contains(., "Back to the licenses")]`)),
		chromedp.WaitVisible(chromedp.ID("disable-form")), idle)
	b.step("tick the converted licence and disable it", chromedp.Click(chromedp.CSS(`#disable-form input[value="`+trial[strings.LastIndex(trial, "/")+1:]+`"]`)),
		chromedp.Click(chromedp.Search(`//button[text()="Disable Licenses"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(., "Selected licenses disabled.")]`)), idle)
	b.step("open it again", chromedp.Click(chromedp.CSS(`#panel a[href="`+trial+`"]`)),
		chromedp.WaitVisible(chromedp.Search(`//button[text()="Enable License"]`)), idle)
	b.step("enable it", chromedp.Click(chromedp.Search(`//button[text()="Enable License"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(., "License enabled.")]`)), idle)
	require.NotContains(t, b.text(chromedp.CSS("#panel dl")), "Disabled")

	// Customers: add one, allocate and release.
	b.step("open Customers", chromedp.Click(chromedp.Search(`//a[@role="tab" and text()="Customers"]`)),
		chromedp.WaitVisible(chromedp.ID("cu-name")), idle)
	require.Contains(t, b.text(chromedp.CSS("#panel table")), "Corner Bakery")
	b.shot("partner-customers")
	b.accessible("Customers tab")
	b.step("add a customer", chromedp.SendKeys(chromedp.ID("cu-name"), "Harbour Café"),
		chromedp.Click(chromedp.Search(`//button[text()="Add Customer"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(., "Customer added.")]`)), idle)
	require.Contains(t, b.text(chromedp.CSS("#banner")), "4", "the banner counts the new customer")
	b.step("allocate", chromedp.SendKeys(chromedp.ID("al-units"), "7"),
		chromedp.Click(chromedp.Search(`//button[text()="Allocate"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(., "Units allocated.")]`)), idle)
	require.Contains(t, b.text(chromedp.CSS("#panel table")), "7 seats")
	b.shot("partner-customer")
	b.accessible("customer page")
	b.step("release", chromedp.Click(chromedp.Search(`//button[text()="Release"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(., "Units released.")]`)), idle)
	require.Contains(t, b.text(chromedp.CSS("#panel")), "Harbour Café holds no units.")
	b.step("back to the Licenses tab", chromedp.Click(chromedp.Search(`//a[@role="tab" and text()="Licenses"]`)),
		chromedp.WaitVisible(chromedp.ID("disable-form")), idle)

	// Disable Licenses with nothing ticked: the refusal says why, in the
	// message area and next to the button.
	b.step("disable with nothing ticked", chromedp.Click(chromedp.Search(`//button[text()="Disable Licenses"]`)),
		chromedp.WaitVisible(chromedp.ID("disable-err")), idle)
	require.Equal(t, "Select at least one licence.", b.text(chromedp.CSS("#disable-err")))
	require.Contains(t, b.text(chromedp.CSS(`#messages [role=alert]`)), "Licenses: select at least one licence.")
	require.Equal(t, 42, eval[int](b, `window.__noReload`), "the refusal came through htmx")
	b.shot("partner-licenses-refused")
	b.accessible("Licenses tab with a refusal")

	// The other tabs, swapped in place, with history.
	for _, tab := range []string{"Management Licenses", "Accounts", "Profile"} {
		b.do(chromedp.Click(chromedp.Search(fmt.Sprintf(`//a[@role="tab" and text()=%q]`, tab))),
			chromedp.WaitVisible(chromedp.Search(fmt.Sprintf(`//a[@role="tab" and @aria-selected="true" and text()=%q]`, tab))), idle)
		require.NotEmpty(t, b.text(chromedp.CSS("#panel")))
		require.Equal(t, 42, eval[int](b, `window.__noReload`))
		b.shot("partner-" + strings.ToLower(strings.ReplaceAll(tab, " ", "-")))
		b.accessible(tab + " tab")
	}
	path := eval[string](b, `location.pathname`)
	require.True(t, strings.HasSuffix(path, "/profile"), "tab clicks push the URL: %s", path)

	// A Reseller shows Service Plans instead of Management Licenses.
	b.do(chromedp.Navigate(base),
		chromedp.Click(chromedp.Search(`//a[text()="Blue Sky Reseller"]`)),
		chromedp.WaitVisible(chromedp.ID("partner-main")))
	require.Equal(t, []string{"Licenses", "Customers", "Service Plans", "Accounts", "Profile"}, b.tabs())
	b.do(chromedp.Click(chromedp.Search(`//a[@role="tab" and text()="Service Plans"]`)),
		chromedp.WaitVisible(chromedp.Search(`//h2[text()="Service Plans"]`)))
	b.shot("partner-service-plans")
	b.accessible("Service Plans tab")

	// The catalogues: create a product and a service plan.
	b.step("open Products", chromedp.Navigate(base), chromedp.Click(chromedp.Search(`//a[text()="Products"]`)),
		chromedp.WaitVisible(chromedp.ID("pr-name")))
	b.step("create a product", chromedp.SendKeys(chromedp.ID("pr-name"), "Cloud Backup"),
		chromedp.Click(chromedp.CSS(`input[name="trial"]`)), chromedp.SetValue(chromedp.ID("pr-days"), "14"),
		chromedp.Click(chromedp.Search(`//button[text()="Create product"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(., "Product created.")]`)), idle)
	require.True(t, strings.HasPrefix(eval[string](b, `location.pathname`), "/admin/partners/products/"))
	b.step("back to the products", chromedp.Click(chromedp.Search(`//a[contains(., "All products")]`)),
		chromedp.WaitVisible(chromedp.Search(`//td/strong[text()="Cloud Backup"]`)), idle)
	b.shot("products")
	b.accessible("Products")
	b.step("a duplicate name is refused", chromedp.SendKeys(chromedp.ID("pr-name"), "cloud BACKUP"),
		chromedp.Click(chromedp.Search(`//button[text()="Create product"]`)),
		chromedp.WaitVisible(chromedp.ID("pr-name-err")), idle)
	b.accessible("Products with a refusal")
	b.step("open Service Plans", chromedp.Click(chromedp.Search(`//nav[@aria-label="Catalogues"]/a[text()="Service Plans"]`)),
		chromedp.WaitVisible(chromedp.ID("pl-name")), idle)
	b.step("create a plan", chromedp.SendKeys(chromedp.ID("pl-name"), "Cloud Backup Trial"),
		chromedp.SetValue(chromedp.ID("pl-kind"), "trial"), chromedp.SetValue(chromedp.ID("pl-period"), "1"),
		chromedp.Click(chromedp.Search(`//button[text()="Create service plan"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(., "Service plan created.")]`)), idle)
	b.step("back to the plans", chromedp.Click(chromedp.Search(`//a[contains(., "All service plans")]`)),
		chromedp.WaitVisible(chromedp.Search(`//td/strong[text()="Cloud Backup Trial"]`)), idle)
	b.shot("service-plans")
	b.accessible("Service Plans")

	// Create Partner, its errors, the cancel preview and the audit trail.
	b.step("open Create Partner", chromedp.Navigate(base+"new"), chromedp.WaitVisible(chromedp.ID("create-form")))
	b.accessible("Create Partner")
	b.step("submit it empty", chromedp.Click(chromedp.Search(`//button[text()="Create Partner"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#create-form [aria-invalid=true]`)), idle)
	createErrors := b.text(chromedp.CSS("#create-form"))
	for _, msg := range []string{"Company name is required", "City is required", "Country is required", "Account name is required", "Email is required"} {
		require.Contains(t, createErrors, msg, "every invalid field is marked at once")
	}
	b.accessible("Create Partner with errors")
	b.step("open the cancel preview", chromedp.Navigate(base+"1/cancel"), chromedp.WaitVisible(chromedp.ID("confirm-name")))
	b.accessible("cancel preview")
	b.step("open the audit trail", chromedp.Navigate(base+"1/audit"), chromedp.WaitVisible(chromedp.CSS("table")))
	b.accessible("audit trail")

	// Suspend the MSP: the banner says so and the licence controls turn off.
	b.step("open the MSP", chromedp.Navigate(base),
		chromedp.Click(chromedp.Search(`//a[text()="Acme Managed IT"]`)),
		chromedp.WaitVisible(chromedp.ID("partner-main")))
	b.step("open its Profile tab", chromedp.Click(chromedp.Search(`//a[@role="tab" and text()="Profile"]`)),
		chromedp.WaitVisible(chromedp.Search(`//a[@role="tab" and @aria-selected="true" and text()="Profile"]`)),
		chromedp.WaitVisible(chromedp.Search(`//button[text()="Suspend"]`)), idle)
	b.step("click Suspend", chromedp.Click(chromedp.Search(`//button[text()="Suspend"]`)))
	b.step("see it suspended", chromedp.WaitVisible(chromedp.Search(`//p[contains(., "Partnership suspended.")]`)))
	require.Equal(t, "Suspended", b.text(chromedp.CSS(`#banner dd .badge`)))
	require.False(t, eval[bool](b, `document.querySelector('#p-city').matches(':disabled')`), "a suspended partner's profile stays editable")
	b.do(chromedp.Click(chromedp.Search(`//a[@role="tab" and text()="Licenses"]`)),
		chromedp.WaitVisible(chromedp.Search(`//a[@role="tab" and @aria-selected="true" and text()="Licenses"]`)),
		chromedp.WaitVisible(chromedp.ID("minimum")), idle)
	require.Contains(t, b.text(chromedp.CSS("#guard-notice")), "only the Profile can be changed")
	require.True(t, eval[bool](b, `document.querySelector('#minimum').matches(':disabled')`))
	require.True(t, eval[bool](b, `document.querySelector('#disable-form button[type=submit]').matches(':disabled')`))
	require.True(t, eval[bool](b, `document.querySelector('button[aria-describedby=why-assign]').matches(':disabled')`))
	// Disabled fields look disabled (a grey fill, not white) and their
	// text keeps AA contrast.
	style := eval[[]string](b, `(() => { const s = getComputedStyle(document.querySelector('#minimum')); return [s.backgroundColor, s.color, s.borderTopStyle] })()`)
	require.NotEqual(t, "rgb(255, 255, 255)", style[0], "a disabled field looks editable")
	require.Equal(t, "dashed", style[2])
	require.GreaterOrEqual(t, contrast(t, style[1], style[0]), 4.5, "disabled text %s on %s", style[1], style[0])
	b.shot("partner-suspended")
	b.accessible("Licenses tab of a suspended partner")

	// The licences of a partner with more than one page: Next and
	// Previous swap the tab in place and push the URL.
	// (Created here, so the screenshots above show the demo data alone.)
	_, err := m.CreateProduct(ctx, license.Product{Name: "Product 01", UnitType: license.Seats})
	require.NoError(t, err)
	many, err := m.Create(ctx, partner.CreateParams{Type: partner.MSP,
		Profile: partner.Profile{CompanyName: "Many Licenses MSP", City: "Porto", Country: "Portugal"},
		Admin:   account.Params{Name: "many.admin", FirstName: "Mo", LastName: "Any", Email: "mo@many.example"}})
	require.NoError(t, err)
	for range 61 {
		_, err := m.AssignLicenses(ctx, many.ID, partner.AssignLicensesParams{Grants: []license.Grant{{Product: "Product 01",
			UnitType: "seats", Units: 10, Kind: license.Full, Start: time.Now().AddDate(0, -1, 0), Expiry: time.Now().AddDate(1, 0, 0)}}})
		require.NoError(t, err)
	}
	b.step("open the licences of the partner with many", chromedp.Navigate(fmt.Sprintf("%s%d/licenses", base, many.ID)),
		chromedp.WaitVisible(chromedp.CSS(`nav.pager`)))
	require.Equal(t, 42, eval[int](b, `window.__noReload = 42`))
	require.Equal(t, "Showing 1–50 of 61 licenses.", b.text(chromedp.CSS(`nav.pager span`)))
	b.step("next page", chromedp.Click(chromedp.Search(`//nav[@class="pager"]/a[text()="Next"]`)),
		chromedp.WaitVisible(chromedp.Search(`//nav[@class="pager"]/span[text()="Showing 51–61 of 61 licenses."]`)), idle)
	require.Equal(t, "?offset=50", eval[string](b, `location.search`))
	require.Equal(t, 42, eval[int](b, `window.__noReload`), "paged without a reload")
	require.Contains(t, b.text(chromedp.CSS(`#panel table`)), "Product 01")
	b.shot("partner-licenses-page-2")
	b.accessible("second page of licences")
	b.step("previous page", chromedp.Click(chromedp.Search(`//nav[@class="pager"]/a[text()="Previous"]`)),
		chromedp.WaitVisible(chromedp.Search(`//nav[@class="pager"]/span[text()="Showing 1–50 of 61 licenses."]`)), idle)

	// A canceled partner's tabs are a read-only view: no controls at all.
	old, _, err := m.List(ctx, partner.Filter{Name: "Old Town"})
	require.NoError(t, err)
	for _, tab := range []string{"licenses", "customers", "service-plans", "accounts", "profile"} {
		b.step("open the canceled partner's "+tab, chromedp.Navigate(fmt.Sprintf("%s%d/%s", base, old[0].ID, tab)),
			chromedp.WaitVisible(chromedp.ID("guard-notice")))
		require.Equal(t, "The partnership is canceled: nothing can be changed.", b.text(chromedp.CSS("#guard-notice")))
		require.Zero(t, eval[int](b, `document.querySelectorAll('#panel input, #panel select, #panel button, #panel textarea').length`), tab)
	}
	b.shot("partner-canceled-profile")
	b.accessible("Profile of a canceled partner")

	// Without JavaScript: a destructive action asks on a page of its own,
	// whose form posts to the action's full URL, and completes.
	nctx, cancelTab := chromedp.NewContext(bctx)
	defer cancelTab()
	_, err = chromedp.Call(nctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
	require.NoError(t, err)
	nb := &browser{t: t, ctx: nctx, shots: shots}
	blue, _, err := m.List(ctx, partner.Filter{Name: "Blue Sky"})
	require.NoError(t, err)
	nb.step("open the accounts without JavaScript", chromedp.Navigate(fmt.Sprintf("%s%d/accounts", base, blue[0].ID)),
		chromedp.WaitVisible(chromedp.Search(`//button[@aria-label="Disable bluesky.billing"]`)))
	require.Equal(t, "undefined", eval[string](nb, `typeof window.htmx`), "scripts are off")
	nb.step("click Disable", chromedp.Click(chromedp.Search(`//button[@aria-label="Disable bluesky.billing"]`)),
		chromedp.WaitVisible(chromedp.Search(`//h1[starts-with(., "Disable the account bluesky.billing?")]`)))
	action := eval[string](nb, `document.querySelector('main form').getAttribute('action')`)
	require.Regexp(t, `^/admin/partners/\d+/accounts/\d+/disable$`, action)
	nb.shot("confirm-without-javascript")
	// axe-core needs scripts to run: allow them for the check only. The
	// page's own scripts were skipped when it loaded and stay so.
	scripts := func(on bool) {
		_, err := chromedp.Call(nctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: !on})
		require.NoError(t, err)
	}
	scripts(true)
	nb.accessible("confirmation page")
	scripts(false)
	require.Equal(t, "undefined", eval[string](nb, `typeof window.htmx`), "htmx did not start")
	nb.step("confirm", chromedp.Click(chromedp.Search(`//button[text()="Yes, go ahead"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(., "Account disabled.")]`)))
	require.True(t, strings.HasSuffix(eval[string](nb, `location.pathname`), "/accounts"))
	accts, _, err := m.Accounts(ctx, blue[0].ID, partner.Page{})
	require.NoError(t, err)
	for _, a := range accts {
		require.Equal(t, a.Name != "bluesky.billing", a.Enabled, a.Name)
	}
	// The pager works as plain links too.
	nb.step("open the licences without JavaScript", chromedp.Navigate(fmt.Sprintf("%s%d/licenses", base, many.ID)),
		chromedp.WaitVisible(chromedp.CSS(`nav.pager`)))
	nb.step("next page without JavaScript", chromedp.Click(chromedp.Search(`//nav[@class="pager"]/a[text()="Next"]`)),
		chromedp.WaitVisible(chromedp.Search(`//nav[@class="pager"]/span[text()="Showing 51–61 of 61 licenses."]`)))
	require.Equal(t, "?offset=50", eval[string](nb, `location.search`))

	// A hostile company name is shown as text and runs nothing.
	name := `"><img src=x onerror="window.__xss=1"><script>window.__xss=2</script>`
	ps, _, err := m.List(ctx, partner.Filter{Name: "Blue Sky"})
	require.NoError(t, err)
	_, err = m.UpdateProfile(ctx, ps[0].ID, partner.ProfilePatch{CompanyName: &name})
	require.NoError(t, err)
	b.do(chromedp.Navigate(base), chromedp.WaitVisible(chromedp.CSS(`#results table`)))
	require.Contains(t, b.text(chromedp.CSS(`#results`)), name)
	b.do(chromedp.Navigate(fmt.Sprintf("%s%d/licenses", base, ps[0].ID)), chromedp.WaitVisible(chromedp.CSS(`h1`)))
	require.Equal(t, name, b.text(chromedp.CSS(`h1`)))
	require.False(t, eval[bool](b, `window.__xss !== undefined`), "injected script ran")
	require.Zero(t, alerts.Load(), "no alert opened")
	t.Logf("axe-core found no WCAG 2.1 A/AA violation on: %s", strings.Join(append(b.checked, nb.checked...), ", "))

	// The console stops cleanly (with -race, a data race it met would
	// make it exit 66) and had nothing to log as an error.
	require.NoError(t, console.stop(t), console.stderr.String())
	require.NotContains(t, console.stderr.String(), "level=ERROR")
}

// browser wraps a chromedp tab for the test.
type browser struct {
	t       *testing.T
	ctx     context.Context
	shots   string
	checked []string // screens axe-core checked
}

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	require.NoError(b.t, chromedp.Do(b.ctx, steps...))
}

// step runs named actions with a time limit of their own, so a failure
// says which step did not happen.
func (b *browser) step(name string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	require.NoError(b.t, chromedp.Do(ctx, steps...), "step %q", name)
}

func (b *browser) text(sel chromedp.CSS) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(sel))
	require.NoError(b.t, err)
	return strings.TrimSpace(s)
}

func (b *browser) tabs() []string {
	return eval[[]string](b, `[...document.querySelectorAll('[role=tab]')].map(e => e.textContent.trim())`)
}

func (b *browser) selected() string {
	return eval[string](b, `document.querySelector('[role=tab][aria-selected=true]').textContent.trim()`)
}

// shot saves a full-page PNG screenshot.
func (b *browser) shot(name string) {
	b.t.Helper()
	buf, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	require.NoError(b.t, err)
	require.NoError(b.t, os.WriteFile(filepath.Join(b.shots, name+".png"), buf, 0o644))
}

// axeSource is axe-core, injected into each screen to check it against
// the WCAG 2.1 A and AA rules (testdata/axe/README.md).
//
//go:embed testdata/axe/axe.min.js
var axeSource string

// violations runs axe-core on the current screen and returns its WCAG 2.1
// A and AA violations, each naming the rule and the elements.
func (b *browser) violations() []string {
	b.t.Helper()
	if !eval[bool](b, `typeof window.axe !== "undefined"`) {
		_, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]byte](axeSource))
		require.NoError(b.t, err)
	}
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`axe.run(document, {runOnly: {type: "tag",
		values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}).then(r => r.violations.map(v =>
		v.id + ": " + v.help + " — " + v.nodes.map(n => n.target.join(" ")).join(", ")))`, chromedp.EvalAwaitPromise))
	require.NoError(b.t, err)
	return v
}

// accessible fails the test on any violation axe-core finds.
func (b *browser) accessible(screen string) {
	b.t.Helper()
	require.Empty(b.t, b.violations(), "accessibility violations on %s", screen)
	b.checked = append(b.checked, screen)
}

func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	require.NoError(b.t, err, expr)
	return v
}

// contrast is the WCAG contrast ratio of two CSS colours as
// getComputedStyle gives them ("rgb(55, 65, 81)").
func contrast(t *testing.T, fg, bg string) float64 {
	t.Helper()
	lum := func(css string) float64 {
		var r, g, b float64
		_, err := fmt.Sscanf(css, "rgb(%f, %f, %f)", &r, &g, &b)
		require.NoError(t, err, css)
		ch := func(c float64) float64 {
			c /= 255
			if c <= 0.03928 {
				return c / 12.92
			}
			return math.Pow((c+0.055)/1.055, 2.4)
		}
		return 0.2126*ch(r) + 0.7152*ch(g) + 0.0722*ch(b)
	}
	a, b := lum(fg), lum(bg)
	return (max(a, b) + 0.05) / (min(a, b) + 0.05)
}
