ALTER TABLE partnerkit_licenses DROP COLUMN granted_expiry_at

--bun:split

ALTER TABLE partnerkit_licenses DROP COLUMN granted_units
