package httpadmin_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/partner"
)

// threeContacts gives the MSP three contacts through the API.
func threeContacts(t *testing.T, w *world) {
	t.Helper()
	cs := []partner.Contact{
		{FirstName: "Ada", LastName: "Admin", Email: "ada@example.com", Phone: "+33 1 23"},
		{FirstName: "Bob", LastName: "Billing", Email: "bob@example.com"},
		{FirstName: "Cleo", LastName: "Care", Email: "cleo@example.com", Phone: "555"},
	}
	_, err := w.m.UpdateProfile(context.Background(), w.msp.ID, partner.ProfilePatch{Contacts: &cs})
	require.NoError(t, err)
}

func (w *world) contacts(t *testing.T) []partner.Contact {
	t.Helper()
	p, err := w.m.Get(context.Background(), w.msp.ID)
	require.NoError(t, err)
	return p.Profile.Contacts
}

// Saving the Profile form as it was rendered kept the first contact and
// deleted every other one set through the API.
func TestProfileFormEditsEveryContact(t *testing.T) {
	type edit struct {
		name string
		// change edits the posted form fields, as an operator would.
		change func(f map[string][]string)
		want   []partner.Contact
	}
	ada := partner.Contact{FirstName: "Ada", LastName: "Admin", Email: "ada@example.com", Phone: "+33 1 23"}
	bob := partner.Contact{FirstName: "Bob", LastName: "Billing", Email: "bob@example.com"}
	cleo := partner.Contact{FirstName: "Cleo", LastName: "Care", Email: "cleo@example.com", Phone: "555"}
	for _, tc := range []edit{
		{name: "saved unchanged, every contact stays", change: func(map[string][]string) {}, want: []partner.Contact{ada, bob, cleo}},
		{name: "the third contact edited", change: func(f map[string][]string) { f["contact-3-phone"] = []string{"556"} },
			want: []partner.Contact{ada, bob, {FirstName: "Cleo", LastName: "Care", Email: "cleo@example.com", Phone: "556"}}},
		{name: "the second contact removed", change: func(f map[string][]string) { f["contact-2-remove"] = []string{"yes"} },
			want: []partner.Contact{ada, cleo}},
		{name: "a contact added in the blank row", change: func(f map[string][]string) {
			f["contact-4-first-name"], f["contact-4-last-name"], f["contact-4-email"] = []string{"Dan"}, []string{"Dev"}, []string{"dan@example.com"}
		}, want: []partner.Contact{ada, bob, cleo, {FirstName: "Dan", LastName: "Dev", Email: "dan@example.com"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			threeContacts(t, w)
			page := w.do("GET", "/{msp}/profile", false, nil, nil)
			require.Equal(t, http.StatusOK, page.Code)
			f := formFields(t, page.Body.String(), w.expand("/admin/partners/{msp}/profile"))
			tc.change(f)
			rec := w.do("POST", "/{msp}/profile", false, f, nil)
			require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
			if diff := cmp.Diff(tc.want, w.contacts(t)); diff != "" {
				t.Fatalf("contacts after saving (-want +got):\n%s", diff)
			}
		})
	}
}

func TestProfileFormContacts(t *testing.T) {
	full := func(t *testing.T, w *world) {
		cs := make([]partner.Contact, partner.MaxContacts)
		for i := range cs {
			cs[i] = partner.Contact{FirstName: "C", LastName: fmt.Sprint(i + 1), Email: fmt.Sprintf("c%d@example.com", i+1)}
		}
		_, err := w.m.UpdateProfile(context.Background(), w.msp.ID, partner.ProfilePatch{Contacts: &cs})
		require.NoError(t, err)
	}
	profile := func(kv ...string) map[string][]string {
		return form(append([]string{"company", "Acme MSP", "city", "Lyon", "country", "France"}, kv...)...)
	}
	runScenarios(t, []scenario{
		{name: "every contact is on the form, and a blank row to add one", method: "GET", path: "/{msp}/profile", setup: threeContacts, status: 200,
			want: []string{"Primary contact", "Contact 2", "Contact 3", "New contact", `name="contact-3-email" value="cleo@example.com"`,
				`name="contact-4-email" value=""`, `name="contact-2-remove"`}},
		{name: "at the limit there is no blank row", method: "GET", path: "/{msp}/profile", setup: full, status: 200,
			want:    []string{`name="contact-10-email" value="c10@example.com"`, "The partner has the most contacts it can have (10)"},
			notWant: []string{"contact-11-", "New contact"}},
		{name: "an error lands on its row", method: "POST", path: "/{msp}/profile", hx: true, setup: threeContacts, status: 422, unchanged: true,
			form: profile("contact-1-first-name", "Ada", "contact-1-last-name", "Admin", "contact-1-email", "ada@example.com",
				"contact-2-remove", "yes", "contact-2-first-name", "Bob", "contact-2-last-name", "Billing", "contact-2-email", "bob@example.com",
				"contact-3-first-name", "Cleo", "contact-3-last-name", "Care", "contact-3-email", "not-an-address"),
			want: []string{`id="p-c3-email-err"`, "Contact 3 email is not a valid e-mail address", `name="contact-2-remove" value="yes" checked`}},
	})
	t.Run("the form without contact rows kept all three", func(t *testing.T) {
		w := newWorld(t)
		threeContacts(t, w)
		rec := w.do("POST", "/{msp}/profile", false, profile("city", "Grenoble"), nil)
		require.Equal(t, http.StatusSeeOther, rec.Code)
		require.Len(t, w.contacts(t), 3)
	})
}
