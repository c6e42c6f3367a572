DROP TABLE IF EXISTS partnerkit_bulk_items

--bun:split

DROP TABLE IF EXISTS partnerkit_bulk_runs
