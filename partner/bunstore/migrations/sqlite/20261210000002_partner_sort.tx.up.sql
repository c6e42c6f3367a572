-- The partners list sorts company names by a key ignoring letter case and
-- accents (partner.NameSortKey), computed in Go: the Go migration
-- 20261210000003_sort_name_keys fills it for the partners that exist.
-- Its index serves the order and the keyset pages of an export. (sqlite)
ALTER TABLE partnerkit_partners ADD COLUMN name_sort TEXT NOT NULL DEFAULT ''

--bun:split

CREATE INDEX IF NOT EXISTS partnerkit_partners_name_sort ON partnerkit_partners (name_sort, id)

--bun:split

CREATE INDEX IF NOT EXISTS partnerkit_partners_created ON partnerkit_partners (created_at, id)
