-- The product catalogue, licences that reference it (with the kind they
-- were granted with and how they came to be), pool settings, expiry
-- notices, and customer name keys for the name search. Licences granted
-- before the catalogue keep product_id 0 (uncatalogued). (sqlite)
CREATE TABLE IF NOT EXISTS partnerkit_products (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL CONSTRAINT partnerkit_products_name_uniq UNIQUE,
    unit_type TEXT NOT NULL CHECK (unit_type IN ('seats', 'users', 'devices')),
    trial_offered BOOLEAN NOT NULL,
    trial_days INTEGER NOT NULL CHECK (trial_days >= 0),
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
)

--bun:split

ALTER TABLE partnerkit_licenses ADD COLUMN product_id BIGINT NOT NULL DEFAULT 0

--bun:split

ALTER TABLE partnerkit_licenses ADD COLUMN origin TEXT NOT NULL DEFAULT 'assigned'

--bun:split

ALTER TABLE partnerkit_licenses ADD COLUMN granted_kind TEXT NOT NULL DEFAULT ''

--bun:split

UPDATE partnerkit_licenses SET granted_kind = kind WHERE granted_kind = ''

--bun:split

CREATE INDEX IF NOT EXISTS partnerkit_licenses_product ON partnerkit_licenses (product_id) WHERE product_id <> 0

--bun:split

CREATE INDEX IF NOT EXISTS partnerkit_licenses_expiry ON partnerkit_licenses (expiry_at)

--bun:split

ALTER TABLE partnerkit_customers ADD COLUMN name_key TEXT NOT NULL DEFAULT ''

--bun:split

CREATE TABLE IF NOT EXISTS partnerkit_pool_settings (
    partner_id BIGINT NOT NULL REFERENCES partnerkit_partners (id),
    product TEXT NOT NULL,
    unit_type TEXT NOT NULL,
    product_id BIGINT NOT NULL,
    minimum BIGINT CHECK (minimum >= 0),
    cap BIGINT NOT NULL CHECK (cap >= 0),
    auto_refill BOOLEAN NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CONSTRAINT partnerkit_pool_settings_pkey PRIMARY KEY (partner_id, product, unit_type)
)

--bun:split

CREATE INDEX IF NOT EXISTS partnerkit_pool_settings_product ON partnerkit_pool_settings (product_id) WHERE product_id <> 0

--bun:split

CREATE TABLE IF NOT EXISTS partnerkit_license_notices (
    license_id BIGINT NOT NULL REFERENCES partnerkit_licenses (id),
    partner_id BIGINT NOT NULL REFERENCES partnerkit_partners (id),
    days INTEGER NOT NULL CHECK (days >= 0),
    expiry_at TIMESTAMP NOT NULL,
    skipped BOOLEAN NOT NULL,
    at TIMESTAMP NOT NULL,
    CONSTRAINT partnerkit_license_notices_pkey PRIMARY KEY (license_id, expiry_at, days)
)
