package httpadmin_test

import (
	"fmt"
	"net/url"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/partner"
)

// The list's rows sit in one form that posts the selection to the bulk
// pages: a checkbox per partner, "select all", the filter and the action.
func TestListSelectionFormForBulk(t *testing.T) {
	w := newWorld(t)
	body := w.do("GET", "/?type=msp&q=m&status=active", false, nil, nil).Body.String()
	require.Contains(t, body, `<form id="bulk-form" method="post" action="/admin/partners/bulk">`)
	require.Contains(t, body, w.expand(`<input type="checkbox" name="id" value="{msp}" aria-label="Select Acme MSP">`))
	require.Contains(t, body, w.expand(`<input type="checkbox" name="id" value="{other}" aria-label="Select Other MSP">`))
	require.NotContains(t, body, w.expand(`value="{reseller}" aria-label`))
	require.Contains(t, body, `<input type="checkbox" id="bulk-all" name="all" value="1"> <label for="bulk-all" class="inline">Select all 2 partners matching the filter</label>`)
	require.Contains(t, body, `<label for="bulk-action">Bulk action</label>`)
	require.Contains(t, body, `<button type="submit">Preview…</button>`)
	for _, k := range partner.BulkKinds() {
		require.Contains(t, body, fmt.Sprintf(`<option value="%s">%s</option>`, k, k.Label()))
	}
	// What a browser posts with nothing ticked: the filter and the first action.
	got := formFields(t, body, "/admin/partners/bulk")
	want := url.Values{"q": {"m"}, "status": {"active"}, "type": {"msp"}, "product": {""}, "attention": {""},
		"action": {string(partner.BulkKinds()[0])}}
	require.Empty(t, cmp.Diff(want, got))
	// Every row's checkbox is inside the one form.
	form := regexp.MustCompile(`(?s)<form id="bulk-form".*?</form>`).FindString(body)
	require.Len(t, regexp.MustCompile(`name="id"`).FindAllString(form, -1), 2)
}
