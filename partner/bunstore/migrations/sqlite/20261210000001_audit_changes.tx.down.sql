-- Back to the before/after texts: an entry converted from them gets them
-- back as they were; any other reads "Label=value; ...".
DROP INDEX IF EXISTS partnerkit_audit_at

--bun:split

DROP INDEX IF EXISTS partnerkit_audit_action

--bun:split

DROP INDEX IF EXISTS partnerkit_audit_actor

--bun:split

ALTER TABLE partnerkit_audit ADD COLUMN before_summary TEXT NOT NULL DEFAULT ''

--bun:split

ALTER TABLE partnerkit_audit ADD COLUMN after_summary TEXT NOT NULL DEFAULT ''

--bun:split

UPDATE partnerkit_audit SET
    before_summary = coalesce((SELECT group_concat(CASE WHEN json_extract(j.value, '$.field') = 'summary' THEN json_extract(j.value, '$.before') ELSE json_extract(j.value, '$.label') || '=' || json_extract(j.value, '$.before') END, '; ')
        FROM json_each(partnerkit_audit.changes) AS j WHERE json_extract(j.value, '$.before') IS NOT NULL), ''),
    after_summary = coalesce((SELECT group_concat(CASE WHEN json_extract(j.value, '$.field') = 'summary' THEN json_extract(j.value, '$.after') ELSE json_extract(j.value, '$.label') || '=' || json_extract(j.value, '$.after') END, '; ')
        FROM json_each(partnerkit_audit.changes) AS j WHERE json_extract(j.value, '$.after') IS NOT NULL), '')

--bun:split

ALTER TABLE partnerkit_audit DROP COLUMN changes
