package partner

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/partnerkit/partnerkit/license"
)

// CreateProduct adds a product to the catalogue that licences are granted
// for. It fails with ErrInvalid naming the field, or ErrDuplicate naming
// "name" when another product's name is the same with letter case folded
// (FoldName). The change is audited under partner id 0, like the plan
// catalogue.
func (m *Manager) CreateProduct(ctx context.Context, p license.Product) (license.Product, error) {
	var out license.Product
	err := m.write(ctx, OpCreateProduct, func(ctx context.Context, tx Tx, c *changes) error {
		p := p
		p.Normalize()
		if err := p.Validate(); err != nil {
			return err
		}
		p.ID, p.Version = 0, 0
		p.CreatedAt, p.UpdatedAt = c.at, c.at
		if err := tx.CreateProduct(ctx, &p); err != nil {
			return err
		}
		out = p
		return c.record(ctx, tx, 0, OpCreateProduct, fmt.Sprintf("product %d", p.ID), productDiff(nil, p))
	})
	return out, err
}

// productDiff lists the fields of a product that differ from those of
// was; with was nil, every field of a new product.
func productDiff(was *license.Product, p license.Product) []Change {
	var cl changeList
	diff := func(field, label string, v func(license.Product) value) {
		if was == nil {
			cl.set(field, label, v(p))
			return
		}
		cl.diff(field, label, v(*was), v(p))
	}
	diff("name", "Name", func(p license.Product) value { return textValue(p.Name) })
	diff("unit_type", "Unit type", func(p license.Product) value { return textValue(p.UnitType) })
	diff("trial_offered", "Trial offered", func(p license.Product) value { return yesNo(p.TrialOffered) })
	diff("trial_days", "Trial days", func(p license.Product) value { return intValue(p.TrialDays) })
	return cl
}

// UpdateProduct changes a catalogue product: its name (which its licences
// and pool settings then carry too) and its trial. The unit type is fixed
// at creation. It fails with ErrNotFound, ErrConflict for a stale
// patch.Version, ErrInvalid naming the field, or ErrDuplicate naming
// "name". A patch that changes nothing is a no-op.
func (m *Manager) UpdateProduct(ctx context.Context, id int64, patch license.ProductPatch) (license.Product, error) {
	var out license.Product
	err := m.write(ctx, OpUpdateProduct, func(ctx context.Context, tx Tx, c *changes) error {
		cur, err := tx.Product(ctx, id)
		if err != nil {
			return err
		}
		if err := expectVersion("product", patch.Version, cur.Version); err != nil {
			return err
		}
		next := patch.Apply(cur)
		next.Normalize()
		next.UnitType = cur.UnitType
		if err := next.Validate(); err != nil {
			return err
		}
		if next == cur {
			out = cur
			return nil
		}
		next.UpdatedAt = c.at
		if err := tx.UpdateProduct(ctx, &next); err != nil {
			return err
		}
		out = next
		return c.record(ctx, tx, 0, OpUpdateProduct, fmt.Sprintf("product %d", id), productDiff(&cur, next))
	})
	return out, err
}

// Product returns a catalogue product.
func (m *Manager) Product(ctx context.Context, id int64) (license.Product, error) {
	var p license.Product
	err := m.read(ctx, func(ctx context.Context, r Reader) (err error) {
		p, err = r.Product(ctx, id)
		return err
	})
	return p, err
}

// Products returns one page of the product catalogue, ordered by name
// with letter case folded, and the number of products.
func (m *Manager) Products(ctx context.Context, pg Page) ([]license.Product, int, error) {
	var (
		out   []license.Product
		total int
	)
	err := m.read(ctx, func(ctx context.Context, r Reader) (err error) {
		if pg, err = pg.normalize(); err != nil {
			return err
		}
		out, total, err = r.Products(ctx, pg)
		return err
	})
	return out, total, err
}

// catalogue resolves names against the product catalogue within one
// transaction.
type catalogue struct {
	r Reader
}

// resolve fills g (normalized, the caller's copy) from the catalogue: by
// ProductID, else by its folded name. It returns the grant's field
// problems (product, unit type, kind), or a store error. Every grant must
// name a catalogue product, whether the catalogue has any or not:
// licences granted before the catalogue existed keep ProductID 0
// (uncatalogued), but no new one is granted so.
func (cat *catalogue) resolve(ctx context.Context, g *license.Grant) (problems []error, err error) {
	var p license.Product
	switch {
	case g.ProductID < 0:
		return nil, nil // Validate reports it
	case g.ProductID > 0:
		p, err = cat.r.Product(ctx, g.ProductID)
		if errors.Is(err, ErrNotFound) {
			return []error{invalidf("product", "no catalogue product has the id %d", g.ProductID)}, nil
		}
		if err != nil {
			return nil, err
		}
		if g.Product != "" && FoldName(g.Product) != FoldName(p.Name) {
			return []error{invalidf("product", "%q is not the name of catalogue product %d (%s)", g.Product, p.ID, p.Name)}, nil
		}
	case g.Product == "" || checkText("product", g.Product, license.MaxTextLen, true) != nil:
		return nil, nil // Validate reports it
	default:
		p, err = cat.r.ProductByName(ctx, g.Product)
		if errors.Is(err, ErrNotFound) {
			return []error{invalidf("product", "%q is not in the product catalogue", g.Product)}, nil
		}
		if err != nil {
			return nil, err
		}
	}
	g.ProductID, g.Product = p.ID, p.Name
	if g.UnitType != "" && !strings.EqualFold(g.UnitType, p.UnitType) {
		problems = append(problems, invalidf("unit type", "%s is sold in %s (got %q)", p.Name, p.UnitType, g.UnitType))
	}
	g.UnitType = p.UnitType
	if g.Kind == license.Trial {
		switch {
		case !p.TrialOffered:
			problems = append(problems, invalidf("kind", "%s offers no trial", p.Name))
		case g.Expiry.IsZero() && !g.Start.IsZero():
			g.Expiry = g.Start.AddDate(0, 0, p.TrialDays)
		}
	}
	return problems, nil
}

// prepareGrants normalizes, resolves against the catalogue and validates
// each grant of gs, which the caller owns: trimmed, dates in UTC at
// microsecond precision, the catalogue's name and unit type. It returns
// every problem of every grant in invalid (when there are several grants
// each reason says which one), and a store's failure in err.
func prepareGrants(ctx context.Context, r Reader, gs []license.Grant) (invalid, err error) {
	cat := &catalogue{r: r}
	var errs []error
	for i := range gs {
		g := &gs[i]
		normalizeGrant(g)
		probs, err := cat.resolve(ctx, g)
		if err != nil {
			return nil, err
		}
		normalizeGrant(g) // a trial's default expiry
		for _, p := range FieldErrors(errors.Join(append(probs, g.Validate())...)) {
			if len(gs) > 1 {
				p.Reason = fmt.Sprintf("(grant %d) %s", i+1, p.Reason)
			}
			errs = append(errs, invalidf(p.Field, "%s", p.Reason))
		}
	}
	return errors.Join(errs...), nil
}
