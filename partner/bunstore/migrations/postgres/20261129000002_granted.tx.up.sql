-- Licences remember the units and expiry they were granted with, for
-- idempotent replays after a refill or a cancellation changed them.
ALTER TABLE partnerkit_licenses ADD COLUMN granted_units BIGINT NOT NULL DEFAULT 0

--bun:split

ALTER TABLE partnerkit_licenses ADD COLUMN granted_expiry_at TIMESTAMPTZ

--bun:split

UPDATE partnerkit_licenses SET granted_units = units, granted_expiry_at = expiry_at WHERE granted_expiry_at IS NULL
