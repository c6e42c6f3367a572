package httpadmin_test

import "testing"

// Malformed numbers in a URL or a form are refused with words, out-of-range
// offsets are clamped, and ids have one canonical form.
func TestNumbersInRequests(t *testing.T) {
	lots := manyLicenses(120)
	runScenarios(t, []scenario{
		{name: "huge offset shows the last page", method: "GET", path: "/{msp}/licenses?offset=9223372036854775807", setup: lots, status: 200,
			want: []string{"Showing 101–121 of 121 licenses."}, notWant: []string{"offset=-", "–-", "of -"}},
		{name: "offset past the end shows the last page", method: "GET", path: "/{msp}/licenses?offset=500", setup: lots, status: 200,
			want: []string{"Showing 101–121 of 121 licenses."}},
		{name: "huge offset on the list", method: "GET", path: "/?offset=9223372036854775807", status: 200,
			want: []string{"Showing all 5 partners."}, notWant: []string{"offset=-", "of -"}},
		{name: "huge offset on the audit trail", method: "GET", path: "/{msp}/audit?offset=9223372036854775807", status: 200,
			notWant: []string{"offset=-", "of -", "Nothing recorded yet"}},
		{name: "negative offset", method: "GET", path: "/?offset=-5", status: 400,
			want: []string{"The page position (offset) must be a whole number, 0 or more."}},
		{name: "offset not a number on the licences", method: "GET", path: "/{msp}/licenses?offset=5x", status: 400,
			want: []string{"The page position (offset) must be a whole number, 0 or more."}},
		{name: "offset not a number", method: "GET", path: "/?offset=abc", status: 400,
			want: []string{"The page position (offset) must be a whole number, 0 or more."}},
		{name: "offset not a number on the audit trail", method: "GET", path: "/{msp}/audit?offset=1e3", status: 400},
		{name: "offset not a number on the cancel preview", method: "GET", path: "/{msp}/cancel?offset=x", status: 400},
		{name: "version not a number", method: "POST", path: "/{msp}/licenses/refill", hx: true, form: form("on", "true", "version", "abc"), status: 400, unchanged: true,
			want: []string{"version is not valid; reload the page and try again."}},
		{name: "version zero does not skip the check", method: "POST", path: "/{msp}/suspend", form: form("confirm", "yes", "version", "0"), status: 400, unchanged: true},
		{name: "version of an account not a number", method: "POST", path: "/{msp}/accounts/{user}/role", hx: true, form: form("role", "billing_manager", "version", "1x"), status: 400, unchanged: true},
		{name: "version of the cancel not a number", method: "POST", path: "/{msp}/cancel", form: form("confirm_name", "Acme MSP", "version", "v2"), status: 400, unchanged: true},
		{name: "a form without a version still works", method: "POST", path: "/{msp}/licenses/refill", hx: true, form: form("on", "true"), status: 200,
			want: []string{"License pool refill saved."}},
		{name: "id with a plus sign", method: "GET", path: "/+{msp}/licenses", status: 404},
		{name: "id with a leading zero", method: "GET", path: "/0{msp}/licenses", status: 404},
		{name: "post to an id with a leading zero", method: "POST", path: "/0{msp}/licenses/refill", form: form("on", "true"), status: 404, unchanged: true},
		{name: "account id with a leading zero", method: "POST", path: "/{msp}/accounts/0{user}/reset-password", form: form(), status: 404, unchanged: true},
		{name: "plan id with a plus sign", method: "POST", path: "/{reseller}/service-plans/+{planA}/remove", form: form("confirm", "yes"), status: 404, unchanged: true},
		{name: "licence id with a leading zero", method: "POST", path: "/{msp}/licenses/disable", form: form("confirm", "yes", "license", "0{lic}"), status: 404, unchanged: true},
	})
}
