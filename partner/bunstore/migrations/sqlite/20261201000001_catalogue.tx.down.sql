DROP TABLE IF EXISTS partnerkit_license_notices

--bun:split

DROP TABLE IF EXISTS partnerkit_pool_settings

--bun:split

ALTER TABLE partnerkit_customers DROP COLUMN name_key

--bun:split

DROP INDEX IF EXISTS partnerkit_licenses_expiry

--bun:split

DROP INDEX IF EXISTS partnerkit_licenses_product

--bun:split

ALTER TABLE partnerkit_licenses DROP COLUMN granted_kind

--bun:split

ALTER TABLE partnerkit_licenses DROP COLUMN origin

--bun:split

ALTER TABLE partnerkit_licenses DROP COLUMN product_id

--bun:split

DROP TABLE IF EXISTS partnerkit_products
