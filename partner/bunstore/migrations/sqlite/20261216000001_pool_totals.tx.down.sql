DROP TRIGGER IF EXISTS partnerkit_pool_totals_move

--bun:split

DROP TRIGGER IF EXISTS partnerkit_pool_totals_update

--bun:split

DROP TRIGGER IF EXISTS partnerkit_pool_totals_delete

--bun:split

DROP TRIGGER IF EXISTS partnerkit_pool_totals_insert

--bun:split

DROP INDEX IF EXISTS partnerkit_licenses_partner_pool

--bun:split

DROP INDEX IF EXISTS partnerkit_licenses_partner_start

--bun:split

DROP TABLE IF EXISTS partnerkit_pool_totals
