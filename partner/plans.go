package partner

import (
	"context"
	"fmt"

	"github.com/partnerkit/partnerkit/license"
	"github.com/partnerkit/partnerkit/serviceplan"
)

// CreatePlan adds a plan to the catalogue. It fails with ErrInvalid naming
// the field, or ErrDuplicate when the name is taken (letter case ignored)
// or an NFR plan already exists for the product in the data center.
func (m *Manager) CreatePlan(ctx context.Context, p serviceplan.Plan) (serviceplan.Plan, error) {
	var out serviceplan.Plan
	err := m.write(ctx, OpCreatePlan, func(ctx context.Context, tx Tx, c *changes) error {
		p := p
		p.Normalize()
		if err := p.Validate(); err != nil {
			return err
		}
		p.ID, p.Version = 0, 0
		p.CreatedAt, p.UpdatedAt = c.at, c.at
		if err := tx.CreatePlan(ctx, &p); err != nil {
			return err
		}
		out = p
		return c.record(ctx, tx, 0, OpCreatePlan, fmt.Sprintf("service plan %d", p.ID), planDiff(nil, p))
	})
	return out, err
}

// planDiff lists the fields of a plan that differ from those of was; with
// was nil, every field of a new plan.
func planDiff(was *serviceplan.Plan, p serviceplan.Plan) []Change {
	var cl changeList
	diff := func(field, label string, before func(serviceplan.Plan) value) {
		if was == nil {
			cl.set(field, label, before(p))
			return
		}
		cl.diff(field, label, before(*was), before(p))
	}
	diff("name", "Name", func(p serviceplan.Plan) value { return textValue(p.Name) })
	diff("enabled", "Enabled", func(p serviceplan.Plan) value { return yesNo(p.Enabled) })
	diff("product", "Product", func(p serviceplan.Plan) value { return textValue(p.Product) })
	diff("kind", "Kind", func(p serviceplan.Plan) value { return codeValue(p.Kind, license.Kind(p.Kind).Label()) })
	diff("unit_type", "Unit type", func(p serviceplan.Plan) value { return textValue(p.UnitType) })
	diff("nfr", "NFR", func(p serviceplan.Plan) value { return yesNo(p.NFR) })
	diff("data_center", "Data centre", func(p serviceplan.Plan) value { return codeValue(p.DataCenter, string(p.DataCenter)) })
	diff("initial_period_months", "Initial period (months)", func(p serviceplan.Plan) value { return intValue(p.InitialPeriodMonths) })
	diff("auto_renew", "Auto-renew", func(p serviceplan.Plan) value { return yesNo(p.AutoRenew) })
	diff("expiry_notice_days", "Expiry notice (days)", func(p serviceplan.Plan) value { return intValue(p.ExpiryNoticeDays) })
	return cl
}

// UpdatePlan changes a catalogue plan. Disabling a plan keeps it assigned
// where it is and takes nothing from customers provisioned with it; it
// only stops new assignments. A patch that changes nothing is a no-op.
func (m *Manager) UpdatePlan(ctx context.Context, id int64, patch serviceplan.Patch) (serviceplan.Plan, error) {
	var out serviceplan.Plan
	err := m.write(ctx, OpUpdatePlan, func(ctx context.Context, tx Tx, c *changes) error {
		cur, err := tx.Plan(ctx, id)
		if err != nil {
			return err
		}
		if err := expectVersion("service plan", patch.Version, cur.Version); err != nil {
			return err
		}
		next := patch.Apply(cur)
		next.Normalize()
		if err := next.Validate(); err != nil {
			return err
		}
		if next == cur {
			out = cur
			return nil
		}
		next.UpdatedAt = c.at
		if err := tx.UpdatePlan(ctx, &next); err != nil {
			return err
		}
		out = next
		return c.record(ctx, tx, 0, OpUpdatePlan, fmt.Sprintf("service plan %d", id), planDiff(&cur, next))
	})
	return out, err
}

// Plan returns a catalogue plan.
func (m *Manager) Plan(ctx context.Context, id int64) (serviceplan.Plan, error) {
	var p serviceplan.Plan
	err := m.read(ctx, func(ctx context.Context, r Reader) (err error) {
		p, err = r.Plan(ctx, id)
		return err
	})
	return p, err
}

// Plans returns the whole plan catalogue, by id.
func (m *Manager) Plans(ctx context.Context) ([]serviceplan.Plan, error) {
	var ps []serviceplan.Plan
	err := m.read(ctx, func(ctx context.Context, r Reader) (err error) {
		ps, err = r.Plans(ctx)
		return err
	})
	return ps, err
}

// AssignPlan makes a catalogue plan available to a Reseller. It fails
// with ErrNotFound for an unknown plan, ErrPlanDisabled for a disabled
// one, and ErrDuplicate when the plan is already assigned.
func (m *Manager) AssignPlan(ctx context.Context, partnerID, planID int64) (AssignedPlan, error) {
	var out AssignedPlan
	err := m.partnerChange(ctx, partnerID, OpAssignPlan, 0, func(ctx context.Context, tx Tx, p *Partner, c *changes) error {
		if err := assignPlan(ctx, tx, p.ID, planID, c); err != nil {
			return err
		}
		plan, err := tx.Plan(ctx, planID)
		out = AssignedPlan{Plan: plan, AssignedAt: c.at}
		return err
	})
	return out, err
}

func assignPlan(ctx context.Context, tx Tx, partnerID, planID int64, c *changes) error {
	plan, err := tx.Plan(ctx, planID)
	if err != nil {
		return err
	}
	if !plan.Enabled {
		return NewError(ErrPlanDisabled, "service plan", "%q is disabled and cannot be assigned", plan.Name)
	}
	if err := tx.AssignPlan(ctx, serviceplan.Assignment{PartnerID: partnerID, PlanID: planID, AssignedAt: c.at}); err != nil {
		return err
	}
	var cl changeList
	cl.set("service_plan", "Service plan", textValue(plan.Name))
	return c.record(ctx, tx, partnerID, OpAssignPlan, fmt.Sprintf("service plan %d", planID), cl)
}

// RemovePlan takes a plan off a Reseller's list. Customers already
// provisioned with it keep what they have. It fails with ErrNotFound when
// the plan is not assigned to the partner.
func (m *Manager) RemovePlan(ctx context.Context, partnerID, planID int64) error {
	return m.partnerChange(ctx, partnerID, OpRemovePlan, 0, func(ctx context.Context, tx Tx, p *Partner, c *changes) error {
		plan, err := tx.Plan(ctx, planID)
		if err != nil {
			return err
		}
		if err := tx.UnassignPlan(ctx, p.ID, planID); err != nil {
			return err
		}
		var cl changeList
		cl.removed("service_plan", "Service plan", textValue(plan.Name))
		return c.record(ctx, tx, p.ID, OpRemovePlan, fmt.Sprintf("service plan %d", planID), cl)
	})
}

// AssignedPlans lists the plans assigned to a partner.
func (m *Manager) AssignedPlans(ctx context.Context, partnerID int64) ([]AssignedPlan, error) {
	var out []AssignedPlan
	err := m.read(ctx, func(ctx context.Context, r Reader) (err error) {
		if _, err := r.PartnerRecord(ctx, partnerID); err != nil {
			return err
		}
		out, err = r.AssignedPlans(ctx, partnerID)
		return err
	})
	return out, err
}
