package partner_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/partner"
	"github.com/partnerkit/partnerkit/partner/memstore"
)

func names(ps []partner.Partner) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Profile.CompanyName)
	}
	return out
}

// TestListAnswersQuestions: the partners list sorted, filtered by the
// licence figures at the Manager's clock and window, and by product;
// Get and every partner a change returns carry the same figures.
func TestListAnswersQuestions(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		mk := func(name string, g ...license.Grant) partner.Partner {
			in := newPartnerInput(name, partner.MSP, fmt.Sprintf("admin%d", e.uniq()))
			in.Licenses = g
			p, err := e.m.Create(e.ctx, in)
			require.NoError(t, err)
			return p
		}
		soon := grant(10)
		soon.Expiry = t0.AddDate(0, 0, 20)
		email := grant(10)
		email.Product, email.UnitType = "Email Security", ""
		zeta := mk("Zeta", grant(100))
		eclair := mk("Éclair", soon)
		mk("apex", email)
		require.Equal(t, 1, eclair.ExpiringLicenses, "Create returns the figures")

		p, err := e.m.SetMinimumLicenses(e.ctx, zeta.ID, 0, 200)
		require.NoError(t, err)
		require.Equal(t, 1, p.LowStockPools, "and so does a change")
		got, err := e.m.Get(e.ctx, zeta.ID)
		require.NoError(t, err)
		require.Empty(t, cmp.Diff(p, got))

		list := func(f partner.Filter) []string {
			t.Helper()
			ps, total, err := e.m.List(e.ctx, f)
			require.NoError(t, err)
			require.Len(t, ps, total)
			return names(ps)
		}
		require.Equal(t, []string{"apex", "Éclair", "Zeta"}, list(partner.Filter{Sort: partner.SortName}), "case and accents ignored")
		require.Equal(t, []string{"Zeta", "Éclair", "apex"}, list(partner.Filter{Sort: partner.SortName, Desc: true}))
		require.Equal(t, []string{"Zeta"}, list(partner.Filter{Attention: partner.AttentionLowStock}))
		require.Equal(t, []string{"Éclair"}, list(partner.Filter{Attention: partner.AttentionExpiring}))
		require.Equal(t, []string{"Zeta", "Éclair"}, list(partner.Filter{Attention: partner.AttentionAny}))
		require.Equal(t, []string{"apex"}, list(partner.Filter{ProductID: e.products["Email Security"].ID}))

		e.clock.Advance(25 * 24 * time.Hour)
		require.Empty(t, list(partner.Filter{Attention: partner.AttentionExpiring}), "the clock moved past the expiry")
		got, err = e.m.Get(e.ctx, eclair.ID)
		require.NoError(t, err)
		require.Equal(t, []int{0, 1}, []int{got.ExpiringLicenses, got.ExpiredLicenses})

		wide := partner.NewManager(partner.Options{Store: e.m.Store(), Now: e.clock.Now, ExpiringWindow: 400 * 24 * time.Hour})
		ps, _, err := wide.List(e.ctx, partner.Filter{Attention: partner.AttentionExpiring, Sort: partner.SortName})
		require.NoError(t, err)
		require.Equal(t, []string{"apex", "Zeta"}, names(ps), "the Manager's own window")

		_, _, err = e.m.List(e.ctx, partner.Filter{Sort: "size", Attention: 8, ProductID: -1, IDs: []int64{0}, Page: partner.Page{Offset: -1}})
		requireErr(t, err, partner.ErrInvalid, "product")
		require.Equal(t, []string{"product", "attention", "partners", "sort", "offset"}, fieldNames(partner.FieldErrors(err)), "every problem at once")
		for _, err := range e.m.ListAll(e.ctx, partner.Filter{Sort: "size"}) {
			requireErr(t, err, partner.ErrInvalid, "sort")
		}
	})
}

// spyList counts what the Manager reads through PartnersAfter.
type spyList struct {
	partner.Store
	mu              sync.Mutex
	reads, maxBatch int
}

type spyListReader struct {
	partner.Reader
	s *spyList
}

func (s *spyList) View(ctx context.Context, fn func(context.Context, partner.Reader) error) error {
	return s.Store.View(ctx, func(ctx context.Context, r partner.Reader) error { return fn(ctx, spyListReader{r, s}) })
}

func (r spyListReader) PartnersAfter(ctx context.Context, f partner.Filter, at partner.AsOf, after *partner.Partner, limit int) ([]partner.Partner, error) {
	out, err := r.Reader.PartnersAfter(ctx, f, at, after, limit)
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	r.s.reads++
	r.s.maxBatch = max(r.s.maxBatch, len(out), limit)
	return out, err
}

// TestListAllStreams: the export walks every matching partner once, in
// the filter's order, ExportBatch at a time.
func TestListAllStreams(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		n := partner.ExportBatch + 30
		require.NoError(t, e.m.RunInTx(e.ctx, func(ctx context.Context, tm *partner.Manager) error {
			for i := range n {
				in := newPartnerInput(fmt.Sprintf("Partner %04d", (i*7919)%n), []partner.Type{partner.MSP, partner.Reseller}[i%2], fmt.Sprintf("bulk%d.admin", i))
				if _, err := tm.Create(ctx, in); err != nil {
					return err
				}
			}
			return nil
		}))
		f := partner.Filter{Sort: partner.SortName, Desc: true, Type: partner.Reseller, Page: partner.Page{Limit: 3}}
		var want []partner.Partner
		for off := 0; ; off += partner.MaxLimit {
			f.Page = partner.Page{Offset: off, Limit: partner.MaxLimit}
			ps, total, err := e.m.List(e.ctx, f)
			require.NoError(t, err)
			want = append(want, ps...)
			if len(want) >= total {
				break
			}
		}
		var got []partner.Partner
		f.Page = partner.Page{Offset: -1, Limit: -1} // ignored
		for p, err := range e.m.ListAll(e.ctx, f) {
			require.NoError(t, err)
			got = append(got, p)
		}
		require.Len(t, got, n/2)
		require.Empty(t, cmp.Diff(want, got), "the list's order, every partner once")
	})

	spy := &spyList{Store: memstore.New()}
	e := newEnv(t, spy)
	require.NoError(t, e.m.RunInTx(e.ctx, func(ctx context.Context, tm *partner.Manager) error {
		for i := range 2*partner.ExportBatch + 1 {
			if _, err := tm.Create(ctx, newPartnerInput(fmt.Sprint("P", i), partner.MSP, fmt.Sprintf("p%d.admin", i))); err != nil {
				return err
			}
		}
		return nil
	}))
	count := 0
	for _, err := range e.m.ListAll(e.ctx, partner.Filter{Sort: partner.SortCustomers}) {
		require.NoError(t, err)
		count++
	}
	require.Equal(t, 2*partner.ExportBatch+1, count)
	require.Equal(t, []int{3, partner.ExportBatch}, []int{spy.reads, spy.maxBatch})
}
