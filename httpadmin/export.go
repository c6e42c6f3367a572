package httpadmin

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/partnerkit/partnerkit/partner"
)

// partnerColumns are the header row of the partners export, in words.
var partnerColumns = []string{"ID", "Company name", "Type", "Status", "Customers", "Licenses used", "Licenses provisioned",
	"Pools below minimum", "Licenses expiring soon", "Licenses expired", "City", "State", "Country", "Created"}

// licenseColumns are the header row of a partner's licences export.
var licenseColumns = []string{"ID", "Product", "Unit type", "Kind", "Units", "Used", "Remaining", "State", "Start", "Expiry"}

// exportFlushRows is how many rows an export writes between flushes to
// the client.
const exportFlushRows = partner.ExportBatch

// csvStream writes CSV rows to the client as they come, flushing every
// exportFlushRows rows, so nothing is held in memory beyond a row and
// the writer's buffer.
type csvStream struct {
	w    http.ResponseWriter
	cw   *csv.Writer
	rc   *http.ResponseController
	rows int
}

// startCSV sends the headers of a CSV attachment and its header row.
func startCSV(w http.ResponseWriter, filename string, header []string) *csvStream {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s"`, filename))
	w.Header().Set("Cache-Control", "no-store")
	s := &csvStream{w: w, cw: csv.NewWriter(w), rc: http.NewResponseController(w)}
	_ = s.cw.Write(header)
	return s
}

func (s *csvStream) row(cells []string) {
	_ = s.cw.Write(cells)
	if s.rows++; s.rows%exportFlushRows == 0 {
		s.cw.Flush()
		_ = s.rc.Flush() // a writer that cannot flush sends at the end
	}
}

func (s *csvStream) end() { s.cw.Flush() }

// abort ends an export that failed after its first bytes were sent: the
// status line is gone, so the connection is cut before the response
// completes (http.ErrAbortHandler), and the client sees a failed
// download, never a short file that looks whole. The failure is logged.
func (a *admin) abortExport(r *http.Request, s *csvStream, what string, err error) {
	s.cw.Flush()
	a.log.ErrorContext(r.Context(), "httpadmin: "+what+" export ended short; the connection was cut",
		"path", a.prefix+r.URL.Path, "rows", s.rows, "err", err)
	panic(http.ErrAbortHandler)
}

// exportPartners streams the partners the list's filter selects, in the
// list's order, as CSV: every partner, read ExportBatch at a time by
// Manager.ListAll. The page and page size of the query are ignored. A
// query the list would refuse is refused here too (400, or 422 for a
// status or type the library refuses), before anything is sent.
func (a *admin) exportPartners(w http.ResponseWriter, r *http.Request, _ int64) {
	lq, problems := parseListQuery(r.URL.Query())
	if err := a.checkProduct(r, &lq, &problems); err != nil {
		a.errorPage(w, r, err, &link{URL: a.url(0), Label: "Back to the partners list"})
		return
	}
	if len(problems) > 0 {
		a.errorPage(w, r, &badRequest{strings.Join(problems, " ")}, &link{URL: a.url(0), Label: "Back to the partners list"})
		return
	}
	f := lq.filter()
	f.Page = partner.Page{}
	var s *csvStream
	for p, err := range a.m.ListAll(r.Context(), f) {
		if err != nil {
			if s == nil { // nothing sent yet: answer with the error
				a.errorPage(w, r, err, &link{URL: a.url(0), Label: "Back to the partners list"})
				return
			}
			a.abortExport(r, s, "partners", err)
		}
		if s == nil {
			s = startCSV(w, "partners-"+a.m.Now().UTC().Format(time.DateOnly)+".csv", partnerColumns)
		}
		s.row([]string{strconv.FormatInt(p.ID, 10), cell(p.Profile.CompanyName), p.Type.Label(), p.Status.Label(),
			strconv.Itoa(p.Customers), strconv.FormatInt(p.UnitsUsed, 10), strconv.FormatInt(p.UnitsProvisioned, 10),
			strconv.Itoa(p.LowStockPools), strconv.Itoa(p.ExpiringLicenses), strconv.Itoa(p.ExpiredLicenses),
			cell(p.Profile.City), cell(p.Profile.State), cell(p.Profile.Country), p.CreatedAt.UTC().Format(time.RFC3339)})
	}
	if s == nil { // no partner matches: the header row alone
		s = startCSV(w, "partners-"+a.m.Now().UTC().Format(time.DateOnly)+".csv", partnerColumns)
	}
	s.end()
}

// exportLicenses streams a partner's licences as CSV, in the Licenses tab's order, read
// a page of partner.MaxLimit at a time; each state is the licence's at
// the Manager's clock, as the Licenses tab shows it.
func (a *admin) exportLicenses(w http.ResponseWriter, r *http.Request, id int64) {
	p, err := a.m.Get(r.Context(), id)
	if err != nil {
		a.errorPage(w, r, err, nil)
		return
	}
	var s *csvStream
	for offset := 0; ; {
		lics, total, err := a.m.Licenses(r.Context(), id, partner.Page{Offset: offset, Limit: partner.MaxLimit})
		switch {
		case err != nil && s == nil: // nothing sent yet: answer with the error
			a.errorPage(w, r, err, a.backTo(id, partner.TabLicenses))
			return
		case err != nil:
			a.abortExport(r, s, "licenses", err)
		case s == nil:
			s = startCSV(w, fmt.Sprintf("licenses-partner-%d.csv", p.ID), licenseColumns)
		}
		for _, l := range lics {
			state := a.m.LicenseState(l)
			s.row([]string{strconv.FormatInt(l.ID, 10), cell(l.Product), cell(l.UnitType), l.Kind.Label(),
				strconv.FormatInt(l.Units, 10), strconv.FormatInt(l.Used, 10), strconv.FormatInt(l.Remaining(), 10),
				state.Label(), dateText(l.Start), dateText(l.Expiry)})
		}
		offset += len(lics)
		if len(lics) == 0 || offset >= total {
			break
		}
	}
	s.end()
}
