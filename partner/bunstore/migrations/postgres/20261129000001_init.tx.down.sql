DROP TABLE IF EXISTS partnerkit_audit

--bun:split

DROP TABLE IF EXISTS partnerkit_allocations

--bun:split

DROP TABLE IF EXISTS partnerkit_customers

--bun:split

DROP TABLE IF EXISTS partnerkit_plan_assignments

--bun:split

DROP TABLE IF EXISTS partnerkit_plans

--bun:split

DROP TABLE IF EXISTS partnerkit_accounts

--bun:split

DROP TABLE IF EXISTS partnerkit_licenses

--bun:split

DROP TABLE IF EXISTS partnerkit_partners
