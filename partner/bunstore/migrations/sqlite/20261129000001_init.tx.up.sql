-- partnerkit schema, version 1 (sqlite). Every statement is idempotent.
CREATE TABLE IF NOT EXISTS partnerkit_partners (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    type TEXT NOT NULL CHECK (type IN ('msp', 'reseller')),
    status TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'canceled')),
    company_name TEXT NOT NULL,
    company_key TEXT NOT NULL,
    city TEXT NOT NULL,
    state TEXT NOT NULL,
    country TEXT NOT NULL,
    contacts TEXT NOT NULL,
    sign_in_url TEXT NOT NULL,
    pool_refill BOOLEAN NOT NULL,
    minimum_licenses BIGINT NOT NULL CHECK (minimum_licenses >= 0),
    remote_manager TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    canceled_at TIMESTAMP
)

--bun:split

CREATE TABLE IF NOT EXISTS partnerkit_licenses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    partner_id BIGINT NOT NULL REFERENCES partnerkit_partners (id),
    product TEXT NOT NULL,
    unit_type TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('trial', 'full')),
    units BIGINT NOT NULL CHECK (units > 0),
    used BIGINT NOT NULL CHECK (used >= 0),
    start_at TIMESTAMP NOT NULL,
    expiry_at TIMESTAMP NOT NULL,
    disabled BOOLEAN NOT NULL,
    disabled_at TIMESTAMP,
    grant_key TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CONSTRAINT partnerkit_licenses_used_within_units CHECK (used <= units)
)

--bun:split

CREATE TABLE IF NOT EXISTS partnerkit_accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    partner_id BIGINT NOT NULL REFERENCES partnerkit_partners (id),
    name TEXT NOT NULL CONSTRAINT partnerkit_accounts_name_uniq UNIQUE,
    first_name TEXT NOT NULL,
    last_name TEXT NOT NULL,
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    password_reset_at TIMESTAMP,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
)

--bun:split

CREATE TABLE IF NOT EXISTS partnerkit_plans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL CONSTRAINT partnerkit_plans_name_uniq UNIQUE,
    enabled BOOLEAN NOT NULL,
    product TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('trial', 'full')),
    unit_type TEXT NOT NULL,
    nfr BOOLEAN NOT NULL,
    data_center TEXT NOT NULL,
    initial_period_months INTEGER NOT NULL CHECK (initial_period_months > 0),
    auto_renew BOOLEAN NOT NULL,
    expiry_notice_days INTEGER NOT NULL CHECK (expiry_notice_days >= 0),
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
)

--bun:split

CREATE TABLE IF NOT EXISTS partnerkit_plan_assignments (
    partner_id BIGINT NOT NULL REFERENCES partnerkit_partners (id),
    plan_id BIGINT NOT NULL REFERENCES partnerkit_plans (id),
    assigned_at TIMESTAMP NOT NULL,
    CONSTRAINT partnerkit_plan_assignments_pkey PRIMARY KEY (partner_id, plan_id)
)

--bun:split

CREATE TABLE IF NOT EXISTS partnerkit_customers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    partner_id BIGINT NOT NULL REFERENCES partnerkit_partners (id),
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
)

--bun:split

CREATE TABLE IF NOT EXISTS partnerkit_allocations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    license_id BIGINT NOT NULL REFERENCES partnerkit_licenses (id),
    partner_id BIGINT NOT NULL REFERENCES partnerkit_partners (id),
    customer_id BIGINT NOT NULL REFERENCES partnerkit_customers (id),
    units BIGINT NOT NULL CHECK (units > 0),
    created_at TIMESTAMP NOT NULL
)

--bun:split

CREATE TABLE IF NOT EXISTS partnerkit_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    partner_id BIGINT REFERENCES partnerkit_partners (id),
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    before_summary TEXT NOT NULL,
    after_summary TEXT NOT NULL,
    at TIMESTAMP NOT NULL
)

--bun:split

CREATE INDEX IF NOT EXISTS partnerkit_partners_status ON partnerkit_partners (status, id)

--bun:split

CREATE INDEX IF NOT EXISTS partnerkit_partners_status_type ON partnerkit_partners (status, type, id)

--bun:split

CREATE INDEX IF NOT EXISTS partnerkit_partners_type ON partnerkit_partners (type, id)

--bun:split

CREATE INDEX IF NOT EXISTS partnerkit_licenses_partner ON partnerkit_licenses (partner_id, id)

--bun:split

CREATE INDEX IF NOT EXISTS partnerkit_licenses_grant_key ON partnerkit_licenses (partner_id, grant_key) WHERE grant_key <> ''

--bun:split

CREATE INDEX IF NOT EXISTS partnerkit_accounts_partner ON partnerkit_accounts (partner_id, id)

--bun:split

CREATE INDEX IF NOT EXISTS partnerkit_plan_assignments_plan ON partnerkit_plan_assignments (plan_id)

--bun:split

CREATE INDEX IF NOT EXISTS partnerkit_customers_partner ON partnerkit_customers (partner_id, id)

--bun:split

CREATE INDEX IF NOT EXISTS partnerkit_allocations_partner ON partnerkit_allocations (partner_id, id)

--bun:split

CREATE INDEX IF NOT EXISTS partnerkit_allocations_license ON partnerkit_allocations (license_id)

--bun:split

CREATE INDEX IF NOT EXISTS partnerkit_allocations_customer ON partnerkit_allocations (customer_id)

--bun:split

CREATE INDEX IF NOT EXISTS partnerkit_audit_partner ON partnerkit_audit (partner_id, id)

--bun:split

CREATE UNIQUE INDEX IF NOT EXISTS partnerkit_plans_nfr_uniq ON partnerkit_plans (product, data_center) WHERE nfr
