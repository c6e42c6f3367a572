package httpadmin_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// cancelTheMSP cancels the Active MSP, which has Remote Manager in EU.
func cancelTheMSP(t *testing.T, w *world) {
	t.Helper()
	_, err := w.m.Cancel(context.Background(), w.msp.ID, 0)
	require.NoError(t, err)
}

// A Canceled partner's tabs rendered every form greyed out. They are a
// read-only view: values as text, no inputs, no disabled buttons, and a
// note that nothing can change.
func TestCanceledPartnerIsReadOnly(t *testing.T) {
	controls := []string{"<input", "<select", "<textarea", "<button", " disabled", "<form"}
	note := "The partnership is canceled: nothing can be changed."
	runScenarios(t, []scenario{
		{name: "licenses", method: "GET", path: "/{canceled}/licenses", status: 200,
			want: []string{note, "Licenses of Gone Reseller", "License pool refill</dt><dd>Off</dd>", "Minimum licenses</dt><dd>Off</dd>"}, notWant: controls},
		{name: "service plans", method: "GET", path: "/{canceled}/service-plans", status: 200,
			want: []string{note, "Plan A"}, notWant: controls},
		{name: "accounts", method: "GET", path: "/{canceled}/accounts", status: 200,
			want: []string{note, "gone.admin", "<td>Administrator</td>"}, notWant: controls},
		{name: "profile", method: "GET", path: "/{canceled}/profile", status: 200,
			want: []string{note, "<dt>Company name</dt><dd>Gone Reseller</dd>", "gone.admin@example.com", "Primary", "since 2026-05-04"}, notWant: controls},
		{name: "profile with htmx", method: "GET", path: "/{canceled}/profile", hx: true, status: 200,
			want: []string{note}, notWant: controls},
		{name: "a canceled MSP's management licenses", method: "GET", path: "/{msp}/management-licenses", status: 200,
			setup: cancelTheMSP, want: []string{note, "Europe (EU)", "Enabled"}, notWant: controls},
		{name: "a suspended partner's licences keep their controls, disabled", method: "GET", path: "/{suspended}/licenses", status: 200,
			want: []string{`<button type="button" disabled aria-describedby="why-assign">Assign Licenses</button>`, "<fieldset class=\"plain\" disabled", `disabled aria-describedby="why-disable"`}},
		{name: "a suspended partner's profile is a form", method: "GET", path: "/{suspended}/profile", status: 200,
			want: []string{`<form class="card" action="/admin/partners/{suspended}/profile"`, "Save profile"}},
	})
}
