DROP TRIGGER IF EXISTS partnerkit_pool_totals_keep ON partnerkit_licenses

--bun:split

DROP FUNCTION IF EXISTS partnerkit_pool_totals_keep()

--bun:split

DROP INDEX IF EXISTS partnerkit_licenses_partner_pool

--bun:split

DROP INDEX IF EXISTS partnerkit_licenses_partner_start

--bun:split

DROP TABLE IF EXISTS partnerkit_pool_totals
