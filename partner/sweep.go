package partner

import (
	"context"
	"fmt"
	"time"

	"github.com/partnerkit/partnerkit/license"
)

// NoticeDays are the thresholds of the expiring notices, in days before a
// licence's expiry, farthest first. The expired notice has 0 days.
var NoticeDays = [...]int{30, 7, 1}

// SweepBatch is how many licences one transaction of Sweep handles.
const SweepBatch = 200

// Notice is an expiry notice recorded for a licence: one per licence,
// threshold and expiry, so that a notice is sent once, by one process,
// and an extended licence gets fresh ones for its new expiry.
type Notice struct {
	LicenseID int64
	PartnerID int64
	// Days is the threshold: 30, 7 or 1 days before the expiry
	// (NoticeDays), or 0 for the notice that the licence has expired.
	Days int
	// Expiry is the licence's expiry the notice was computed for.
	Expiry time.Time
	// Skipped marks a threshold that had passed when a nearer one was
	// sent instead: recorded, not sent.
	Skipped bool
	At      time.Time
}

// SweepResult counts what one Sweep did.
type SweepResult struct {
	// Checked is how many licences the sweep looked at: those not
	// disabled, of partners not Canceled, expiring within the farthest
	// threshold or expired, and not yet told they expired.
	Checked int
	// Expiring and Expired count the notices this sweep sent
	// (EventLicenseExpiring, EventLicenseExpired).
	Expiring int
	Expired  int
	// Skipped counts the thresholds recorded without a notice because a
	// nearer one had passed too.
	Skipped int
	// Batches is how many transactions the sweep took.
	Batches int
}

// Sweep sends the expiry notices that time has made due, and returns
// what it did. The host calls it on a schedule (a time.Ticker, a cron
// job): every hour or so is plenty, since notices are in days.
//
// A licence gets EventLicenseExpiring 30, 7 and 1 days before its
// expiry, and EventLicenseExpired once it has expired: each once per
// licence, threshold and expiry. When several thresholds have passed since
// the last sweep, only the nearest is sent and the others are recorded as
// skipped (a licence granted 5 days before its expiry gets the 7-day
// notice, not the 30-day one). An extended licence gets fresh notices for
// its new expiry. Disabled licences and the licences of Canceled partners
// get none; those of Suspended partners do. A licence that had expired
// more than 30 days (NoticeDays[0]) before a sweep first looked at it —
// on the first sweep of an existing database, say — gets its expired
// notice recorded as skipped, not sent.
//
// Each notice is recorded in the store (Tx.RecordNotice) in the same
// transaction that decides to send it, an insert-if-absent: a restart, a
// second sweep or another process sweeping at the same moment never sends
// it again, so several processes may run Sweep at once. The events go to
// the hooks after each batch commits (at most SweepBatch licences a
// transaction). Notices are not audit entries: they change nothing of a
// partner.
func (m *Manager) Sweep(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	now := m.Now()
	until := now.Add(time.Duration(NoticeDays[0]) * 24 * time.Hour)
	for after := int64(0); ; {
		var batch SweepResult
		var last int64
		var n int
		err := m.write(ctx, OpSweep, func(ctx context.Context, tx Tx, c *changes) error {
			batch, last = SweepResult{}, 0
			lics, err := tx.DueLicenses(ctx, until, after, SweepBatch)
			if err != nil {
				return err
			}
			n = len(lics)
			for _, l := range lics {
				last = l.ID
				batch.Checked++
				if err := notify(ctx, tx, c, l, now, &batch); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return res, err
		}
		res.Checked += batch.Checked
		res.Expiring += batch.Expiring
		res.Expired += batch.Expired
		res.Skipped += batch.Skipped
		res.Batches++
		if n < SweepBatch {
			return res, nil
		}
		after = last
	}
}

// notify records and sends the notice due for l at now, if any, and
// records the farther thresholds it passed as skipped.
func notify(ctx context.Context, tx Tx, c *changes, l license.License, now time.Time, res *SweepResult) error {
	left := l.Expiry.Sub(now)
	due := -1 // the nearest threshold passed, in days
	if left <= 0 {
		due = 0
	}
	for _, d := range NoticeDays {
		if left > 0 && left <= time.Duration(d)*24*time.Hour {
			due = d
		}
	}
	if due < 0 {
		return nil
	}
	// An expiry older than the farthest threshold is no news: a licence
	// that expired that long before a sweep first looked at it (the first
	// sweep of an existing database, a host that did not sweep for a
	// month) is recorded without a notice.
	stale := due == 0 && -left > time.Duration(NoticeDays[0])*24*time.Hour
	sent, err := tx.RecordNotice(ctx, Notice{LicenseID: l.ID, PartnerID: l.PartnerID, Days: due, Expiry: l.Expiry,
		Skipped: stale, At: c.at})
	if err != nil {
		return err
	}
	if sent && stale {
		res.Skipped++
	}
	if sent && !stale {
		e := Event{Kind: EventLicenseExpired, Op: OpSweep, PartnerID: l.PartnerID, LicenseID: l.ID, Actor: c.actor, At: c.at,
			Target: fmt.Sprintf("license %d", l.ID)}
		var cl changeList
		cl.set("pool", "Pool", value{l.Product + " (" + l.UnitType + ")", mustJSON(map[string]string{"product": l.Product, "unit_type": l.UnitType})})
		if due == 0 {
			res.Expired++
		} else {
			res.Expiring++
			e.Kind = EventLicenseExpiring
			e.DaysLeft = int((left + 24*time.Hour - 1) / (24 * time.Hour))
			cl.set("notice_days", "Notice (days before expiry)", intValue(due))
			cl.set("days_left", "Days left", intValue(e.DaysLeft))
		}
		cl.set("expiry", "Expiry", dateValue(l.Expiry))
		e.Changes = cl
		e.After = AuditEntry{Changes: cl}.After()
		c.events = append(c.events, e)
	}
	for _, d := range NoticeDays {
		if d <= due {
			continue
		}
		skipped, err := tx.RecordNotice(ctx, Notice{LicenseID: l.ID, PartnerID: l.PartnerID, Days: d, Expiry: l.Expiry, Skipped: true, At: c.at})
		if err != nil {
			return err
		}
		if skipped {
			res.Skipped++
		}
	}
	return nil
}

// Notices lists the expiry notices recorded for a licence of the partner
// (sent or skipped), by expiry, farthest threshold first.
func (m *Manager) Notices(ctx context.Context, partnerID, licenseID int64) ([]Notice, error) {
	var out []Notice
	err := m.read(ctx, func(ctx context.Context, r Reader) error {
		if _, err := r.PartnerRecord(ctx, partnerID); err != nil {
			return err
		}
		if _, err := partnerLicense(ctx, r, partnerID, licenseID); err != nil {
			return err
		}
		var err error
		out, err = r.Notices(ctx, licenseID)
		return err
	})
	return out, err
}
