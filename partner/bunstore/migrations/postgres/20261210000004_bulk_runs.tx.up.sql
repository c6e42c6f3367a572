-- Bulk runs: one change applied to many partners, each in a transaction
-- of its own. A run is recorded, with one item per partner, before
-- anything changes, and each item's outcome in the transaction of that
-- partner's change, so a retried run never applies a change twice.
-- Items name partners by id without a reference: a run may list an id no
-- partner has, and records it as refused. (postgres)
CREATE TABLE IF NOT EXISTS partnerkit_bulk_runs (
    run_key TEXT NOT NULL PRIMARY KEY,
    params TEXT NOT NULL,
    actor TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ
)

--bun:split

CREATE TABLE IF NOT EXISTS partnerkit_bulk_items (
    run_key TEXT NOT NULL REFERENCES partnerkit_bulk_runs (run_key),
    partner_id BIGINT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('pending', 'done', 'unchanged', 'refused', 'failed')),
    reason TEXT NOT NULL,
    at TIMESTAMPTZ,
    CONSTRAINT partnerkit_bulk_items_pkey PRIMARY KEY (run_key, partner_id)
)

--bun:split

CREATE INDEX IF NOT EXISTS partnerkit_bulk_items_outcome ON partnerkit_bulk_items (run_key, outcome, partner_id)
