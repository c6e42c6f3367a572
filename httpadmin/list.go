package httpadmin

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/partnerkit/partnerkit/partner"
)

// listQuery is the partners list's state, all of it in the URL: the
// filters, the order, the page and its size.
type listQuery struct {
	Q, Status, Type string
	Product         int64
	Attention       string // "", "low-stock", "expiring" or "any"
	Sort            partner.SortBy
	Desc            bool
	Offset, Size    int
}

// listPageSizes are the page sizes the list offers; the first is the
// default.
var listPageSizes = []int{25, 50, 100}

// listPageSize is the list's default page size.
const listPageSize = 25

// attentions maps the list's attention filter values to the library's.
var attentions = map[string]partner.Attention{
	"low-stock": partner.AttentionLowStock,
	"expiring":  partner.AttentionExpiring,
	"any":       partner.AttentionAny,
}

// sortColumns are the list's sortable columns, in the table's order.
var sortColumns = []struct {
	Sort  partner.SortBy
	Label string
	Num   bool
}{
	{partner.SortName, "Company name", false},
	{partner.SortType, "Type", false},
	{partner.SortStatus, "Status", false},
	{partner.SortCustomers, "Customers", true},
	{partner.SortUsage, "Licenses used / provisioned", false},
	{partner.SortCreated, "Created", false},
}

// parseListQuery reads the list's state from a query. Each value it
// cannot read is left at its default and named, in words, in problems;
// the status and type filters are checked by the library.
func parseListQuery(q url.Values) (lq listQuery, problems []string) {
	lq = listQuery{Q: strings.TrimSpace(q.Get("q")), Status: q.Get("status"), Type: q.Get("type"), Size: listPageSize}
	var err error
	if lq.Offset, err = parseOffset(q.Get("offset")); err != nil {
		problems = append(problems, err.Error())
	}
	if s := q.Get("product"); s != "" {
		if lq.Product, err = parseID(s); err != nil {
			problems = append(problems, "The product filter must be a product of the catalogue, named by its number; the list is shown for every product.")
		}
	}
	if s := q.Get("attention"); s != "" {
		if _, ok := attentions[s]; ok {
			lq.Attention = s
		} else {
			problems = append(problems, "The needs-attention filter must be low stock, expiring soon or either; the list is shown without it.")
		}
	}
	if s := partner.SortBy(q.Get("sort")); s.Valid() {
		lq.Sort = s
	} else {
		var names []string
		for _, c := range sortColumns {
			names = append(names, strings.ToLower(c.Label))
		}
		problems = append(problems, "The list cannot be sorted by that; it sorts by "+strings.Join(names, ", ")+". It is shown in creation order.")
	}
	switch q.Get("desc") {
	case "":
	case "1": // without sort: creation order reversed, newest first
		lq.Desc = true
	default:
		problems = append(problems, "The order must be ascending or descending (desc=1); it is shown ascending.")
	}
	if s := q.Get("size"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || !slices.Contains(listPageSizes, n) || strconv.Itoa(n) != s {
			problems = append(problems, fmt.Sprintf("The page size must be 25, 50 or 100; %d partners are shown a page.", listPageSize))
		} else {
			lq.Size = n
		}
	}
	return lq, problems
}

// filter is the library's filter for the list's state.
func (lq listQuery) filter() partner.Filter {
	return partner.Filter{Name: lq.Q, Status: partner.Status(lq.Status), Type: partner.Type(lq.Type),
		ProductID: lq.Product, Attention: attentions[lq.Attention], Sort: lq.Sort, Desc: lq.Desc,
		Page: partner.Page{Offset: lq.Offset, Limit: lq.Size}}
}

// filterValues is the query of the filters alone: what the export, the
// bulk form and the alerts' links carry.
func (lq listQuery) filterValues() url.Values {
	p := url.Values{}
	for k, val := range map[string]string{"q": lq.Q, "status": lq.Status, "type": lq.Type, "attention": lq.Attention} {
		if val != "" {
			p.Set(k, val)
		}
	}
	if lq.Product != 0 {
		p.Set("product", strconv.FormatInt(lq.Product, 10))
	}
	return p
}

// values is the query of the whole state at an offset; defaults are
// left out.
func (lq listQuery) values(offset int) url.Values {
	p := lq.filterValues()
	if lq.Sort != partner.SortID {
		p.Set("sort", string(lq.Sort))
	}
	if lq.Desc {
		p.Set("desc", "1")
	}
	if lq.Size != listPageSize {
		p.Set("size", strconv.Itoa(lq.Size))
	}
	if offset > 0 {
		p.Set("offset", strconv.Itoa(offset))
	}
	return p
}

// listView is the data of the partners list.
type listView struct {
	Query listQuery
	Rows  []partnerLine
	Pager pager
	// Pages links the pages by number, around the page shown.
	Pages   []pageLink
	Columns []sortHeader
	// Keep is the order (sort, desc), carried by the filter form: its
	// hidden inputs sit in the results, which a sort link swaps, and
	// join the form by its id.
	Keep []field
	// FilterFields are the filters alone, carried by the bulk form.
	FilterFields []field
	Sizes        []option
	Attentions   []option
	BulkKinds    []option
	// Products is the catalogue, for the product filter's menu; when it
	// holds more than productMenuMax products, ProductsTotal says how
	// many and the filter is a field for the product's number instead.
	Products      []option
	ProductsTotal int
	ProductsMenu  bool
	ExportURL     string
	Alerts        []alertBox
	// Err is the refusal of a query, shown in the results when htmx
	// swaps them alone (a full page shows it in the message area).
	Err string
}

// partnerLine is one row of the partners list with its values ready to
// print, as licenseLine is.
type partnerLine struct {
	ID          int64
	URL, Name   string
	Type        string // its label
	Status      string // the class of its status
	StatusLabel string
	Customers   int
	Meter       meter // licence units used of provisioned
	Created     string
	// The marks of what needs a look, with their words for screen
	// readers.
	Low, Expiring, Expired                int
	LowWords, ExpiringWords, ExpiredWords string
}

// sortHeader is a sortable column heading: its link sorts by it, or
// reverses the order when the list is already sorted by it; AriaSort is
// "ascending" or "descending" on the column the list is sorted by.
type sortHeader struct {
	Label, URL, AriaSort, Hint string
	Num                        bool
}

// pageLink is a page of the list by number; Gap marks the "…" between
// numbers that are not next to each other.
type pageLink struct {
	N       int
	URL     string
	Current bool
	Gap     bool
}

// field is a hidden input.
type field struct{ Name, Value string }

// option is an option of a menu.
type option struct {
	Value, Label string
	Selected     bool
}

// alertBox is a panel of the alerts: what needs a look, a few partners
// linked, how many there are in all and a link to all of them.
type alertBox struct {
	Title, Count string
	Items        []alertItem
	AllURL       string
	AllLabel     string
}

type alertItem struct{ URL, Name, Note string }

// productMenuMax is the largest catalogue the product filter offers as a
// menu; a larger one is filtered by the product's number.
const productMenuMax = 200

// alertSize is how many partners each alert panel names.
const alertSize = 5

// plural is "1 pool" or "3 pools".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func (a *admin) list(w http.ResponseWriter, r *http.Request, _ int64) {
	ctx := r.Context()
	lq, problems := parseListQuery(r.URL.Query())
	if err := a.checkProduct(r, &lq, &problems); err != nil {
		a.errorPage(w, r, err, nil)
		return
	}
	f := lq.filter()
	v := a.base(r, a.words.ConsoleTitle)
	code := http.StatusOK
	if len(problems) > 0 {
		code = http.StatusBadRequest
		because(r, strings.Join(problems, " "))
		v.Err = strings.Join(problems, " ")
	}
	rows, total, err := a.m.List(ctx, f)
	if err == nil && len(rows) == 0 && f.Offset > 0 && total > 0 { // past the end: show the last page
		f.Offset = clampOffset(f.Offset, total, lq.Size)
		rows, total, err = a.m.List(ctx, f)
	}
	lq.Offset = f.Offset
	if err != nil {
		c := status(err)
		if c >= 500 {
			a.errorPage(w, r, err, nil)
			return
		}
		if code == http.StatusOK {
			code = c
		}
		a.failed(r, err) // a filter typed into the URL: say what is wrong with it
		v.Err = strings.TrimSpace(v.Err + " " + v.L.say(message(err)))
	}
	l := &v.List
	l.Query = lq
	l.Rows = make([]partnerLine, len(rows))
	for i, p := range rows {
		l.Rows[i] = partnerLine{ID: p.ID, URL: a.url(p.ID, string(partner.TabLicenses)), Name: p.Profile.CompanyName, Type: p.Type.Label(),
			Status: string(p.Status), StatusLabel: p.Status.Label(), Customers: p.Customers,
			Meter: newMeter(p.UnitsUsed, p.UnitsProvisioned), Created: dateText(p.CreatedAt),
			Low: p.LowStockPools, Expiring: p.ExpiringLicenses, Expired: p.ExpiredLicenses,
			LowWords:      plural(p.LowStockPools, "pool below its minimum", "pools below their minimum"),
			ExpiringWords: plural(p.ExpiringLicenses, "license expiring soon", "licenses expiring soon"),
			ExpiredWords:  plural(p.ExpiredLicenses, "license expired", "licenses expired")}
	}
	link := func(off int) string { return withQuery(a.url(0), lq.values(off)) }
	l.Pager = newPager(f.Offset, len(rows), total, lq.Size, "partners", link)
	l.Pager.Target = "#results"
	l.Pages = pageLinks(f.Offset, total, lq.Size, link)
	for _, c := range sortColumns {
		h := sortHeader{Label: c.Label, Num: c.Num}
		next := lq
		next.Sort, next.Desc = c.Sort, false
		if lq.Sort == c.Sort {
			h.AriaSort = "ascending"
			if lq.Desc {
				h.AriaSort = "descending"
			} else {
				next.Desc = true
			}
		}
		h.Hint = "sort ascending"
		if next.Desc {
			h.Hint = "sort descending"
		}
		h.URL = withQuery(a.url(0), next.values(0))
		l.Columns = append(l.Columns, h)
	}
	if lq.Sort != partner.SortID {
		l.Keep = append(l.Keep, field{"sort", string(lq.Sort)})
	}
	if lq.Desc {
		l.Keep = append(l.Keep, field{"desc", "1"})
	}
	for _, k := range []string{"q", "status", "type", "product", "attention"} {
		l.FilterFields = append(l.FilterFields, field{k, lq.filterValues().Get(k)})
	}
	for _, k := range partner.BulkKinds() {
		l.BulkKinds = append(l.BulkKinds, option{Value: string(k), Label: k.Label()})
	}
	l.ExportURL = withQuery(a.url(0)+"export.csv", lq.values(0))
	if isHX(r) && r.Header.Get("HX-Target") == "results" {
		l.Err = v.Err // the message area is not swapped: the results say it
		a.fragment(w, code, "results", &v)
		return
	}
	for _, n := range listPageSizes {
		l.Sizes = append(l.Sizes, option{Value: strconv.Itoa(n), Label: strconv.Itoa(n), Selected: n == lq.Size})
	}
	for _, at := range []struct{ v, label string }{{"any", "Low stock or expiring soon"}, {"low-stock", "Low stock"}, {"expiring", "Expiring soon"}} {
		l.Attentions = append(l.Attentions, option{Value: at.v, Label: at.label, Selected: at.v == lq.Attention})
	}
	if err := a.productOptions(r, l); err != nil {
		a.errorPage(w, r, err, nil)
		return
	}
	if l.Alerts, err = a.alerts(r); err != nil {
		a.errorPage(w, r, err, nil)
		return
	}
	a.page(w, r, code, a.words.ConsoleTitle, "list-page", &v)
}

// checkProduct drops a product filter that names no product of the
// catalogue, with a problem that says so; an error is a failed read.
func (a *admin) checkProduct(r *http.Request, lq *listQuery, problems *[]string) error {
	if lq.Product == 0 {
		return nil
	}
	_, err := a.m.Product(r.Context(), lq.Product)
	if status(err) == http.StatusNotFound {
		*problems = append(*problems, fmt.Sprintf("No product of the catalogue has the number %d; the list is shown for every product.", lq.Product))
		lq.Product = 0
		return nil
	}
	return err
}

// pageLinks numbers the pages of a list: the first, the last, and two
// on each side of the page shown, with gaps between.
func pageLinks(offset, total, size int, link func(offset int) string) []pageLink {
	pages := (total + size - 1) / size
	if pages <= 1 {
		return nil
	}
	cur := min(offset/size, pages-1)
	var out []pageLink
	for i := range pages {
		if i != 0 && i != pages-1 && (i < cur-2 || i > cur+2) {
			if len(out) > 0 && !out[len(out)-1].Gap {
				out = append(out, pageLink{Gap: true})
			}
			continue
		}
		out = append(out, pageLink{N: i + 1, URL: link(i * size), Current: i == cur && offset%size == 0})
	}
	return out
}

// productOptions fills the product filter: the catalogue as a menu, or
// its size when it is too large for one.
func (a *admin) productOptions(r *http.Request, l *listView) error {
	products, total, err := a.m.Products(r.Context(), partner.Page{Limit: productMenuMax})
	if err != nil {
		return err
	}
	l.ProductsTotal = total
	l.ProductsMenu = total <= productMenuMax
	if !l.ProductsMenu {
		return nil
	}
	for _, p := range products {
		l.Products = append(l.Products, option{Value: strconv.FormatInt(p.ID, 10), Label: p.Name, Selected: p.ID == l.Query.Product})
	}
	return nil
}

// alerts reads the alerts panel: the partners with low pools, those with
// licences expiring soon, and the latest suspensions of partners still
// suspended. Each box names a few and links to the list of all of them.
func (a *admin) alerts(r *http.Request) ([]alertBox, error) {
	ctx := r.Context()
	var out []alertBox
	for _, at := range []struct {
		attention        string
		title, noun, all string
	}{
		{"low-stock", "Low stock", "partner has a pool below its minimum", "partners have pools below their minimum"},
		{"expiring", "Expiring soon", "partner has licenses expiring soon", "partners have licenses expiring soon"},
	} {
		rows, total, err := a.m.List(ctx, partner.Filter{Attention: attentions[at.attention], Sort: partner.SortName,
			Page: partner.Page{Limit: alertSize}})
		if err != nil {
			return nil, err
		}
		box := alertBox{Title: at.title, AllURL: withQuery(a.url(0), url.Values{"attention": {at.attention}})}
		box.Count = plural(total, at.noun, at.all) + "."
		box.AllLabel = fmt.Sprintf("See all %d in the list", total)
		for _, p := range rows {
			note := plural(p.LowStockPools, "low pool", "low pools")
			if at.attention == "expiring" {
				note = plural(p.ExpiringLicenses, "license", "licenses") + " expiring"
			}
			box.Items = append(box.Items, alertItem{URL: a.url(p.ID, string(partner.TabLicenses)), Name: p.Profile.CompanyName, Note: note})
		}
		out = append(out, box)
	}
	entries, _, err := a.m.AuditLog(ctx, partner.AuditFilter{Action: partner.OpSuspend, Page: partner.Page{Limit: alertSize}})
	if err != nil {
		return nil, err
	}
	var ids []int64
	for _, e := range entries {
		if e.PartnerID != 0 && !slices.Contains(ids, e.PartnerID) {
			ids = append(ids, e.PartnerID)
		}
	}
	_, suspended, err := a.m.List(ctx, partner.Filter{Status: partner.Suspended, Page: partner.Page{Limit: 1}})
	if err != nil {
		return nil, err
	}
	box := alertBox{Title: "Recently suspended", AllURL: withQuery(a.url(0), url.Values{"status": {string(partner.Suspended)}}),
		Count:    plural(suspended, "partner is suspended.", "partners are suspended."),
		AllLabel: fmt.Sprintf("See all %d in the list", suspended)}
	if len(ids) > 0 {
		still, _, err := a.m.List(ctx, partner.Filter{IDs: ids, Status: partner.Suspended, Page: partner.Page{Limit: len(ids)}})
		if err != nil {
			return nil, err
		}
		seen := map[int64]bool{}
		for _, e := range entries { // newest suspension first
			i := slices.IndexFunc(still, func(p partner.Partner) bool { return p.ID == e.PartnerID })
			if i < 0 || seen[e.PartnerID] {
				continue
			}
			seen[e.PartnerID] = true
			box.Items = append(box.Items, alertItem{URL: a.url(e.PartnerID, string(partner.TabLicenses)), Name: still[i].Profile.CompanyName,
				Note: "suspended " + dateText(e.At)})
		}
	}
	return append(out, box), nil
}
