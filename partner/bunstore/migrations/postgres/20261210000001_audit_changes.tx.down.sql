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

UPDATE partnerkit_audit AS au SET
    before_summary = coalesce((SELECT string_agg(CASE WHEN c.v->>'field' = 'summary' THEN c.v->>'before' ELSE (c.v->>'label') || '=' || (c.v->>'before') END, '; ' ORDER BY c.n)
        FROM json_array_elements(au.changes) WITH ORDINALITY AS c(v, n) WHERE c.v->>'before' IS NOT NULL), ''),
    after_summary = coalesce((SELECT string_agg(CASE WHEN c.v->>'field' = 'summary' THEN c.v->>'after' ELSE (c.v->>'label') || '=' || (c.v->>'after') END, '; ' ORDER BY c.n)
        FROM json_array_elements(au.changes) WITH ORDINALITY AS c(v, n) WHERE c.v->>'after' IS NOT NULL), '')

--bun:split

ALTER TABLE partnerkit_audit DROP COLUMN changes
