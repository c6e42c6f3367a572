-- The outbox: every event, recorded in the transaction of the change that
-- caused it, with the state of its delivery to the host's handler
-- (partner.Manager.Dispatch); and the next run of the dispatchers'
-- periodic tasks (the expiry sweep, the pruning). Ids are never reused,
-- also after pruning: handlers de-duplicate by them. (sqlite)
CREATE TABLE IF NOT EXISTS partnerkit_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_at TIMESTAMP,
    claim TEXT NOT NULL DEFAULT '',
    locked_until TIMESTAMP,
    delivered_at TIMESTAMP,
    last_error TEXT NOT NULL DEFAULT ''
)

--bun:split

CREATE INDEX IF NOT EXISTS partnerkit_outbox_pending ON partnerkit_outbox (id) WHERE delivered_at IS NULL

--bun:split

CREATE INDEX IF NOT EXISTS partnerkit_outbox_delivered ON partnerkit_outbox (delivered_at) WHERE delivered_at IS NOT NULL

--bun:split

CREATE TABLE IF NOT EXISTS partnerkit_runs (
    name TEXT NOT NULL PRIMARY KEY,
    next_at TIMESTAMP NOT NULL
)
