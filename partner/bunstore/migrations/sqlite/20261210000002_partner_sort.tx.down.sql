DROP INDEX IF EXISTS partnerkit_partners_created

--bun:split

DROP INDEX IF EXISTS partnerkit_partners_name_sort

--bun:split

ALTER TABLE partnerkit_partners DROP COLUMN name_sort
