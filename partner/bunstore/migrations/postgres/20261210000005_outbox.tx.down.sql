DROP TABLE IF EXISTS partnerkit_runs

--bun:split

DROP INDEX IF EXISTS partnerkit_outbox_delivered

--bun:split

DROP INDEX IF EXISTS partnerkit_outbox_pending

--bun:split

DROP TABLE IF EXISTS partnerkit_outbox
