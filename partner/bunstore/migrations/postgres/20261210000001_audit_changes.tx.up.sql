-- Audit entries keep their changes as structured JSON: a list of
-- {field, label, before, after, before_value, after_value} (see
-- partner.Change). An entry written before keeps its old texts as one
-- change of field "summary". Indexes for the log across partners: by
-- actor, by action, by date. (postgres)
ALTER TABLE partnerkit_audit ADD COLUMN changes JSON NOT NULL DEFAULT '[]'

--bun:split

UPDATE partnerkit_audit SET changes = json_build_array(json_strip_nulls(json_build_object(
    'field', 'summary', 'label', 'Summary',
    'before', NULLIF(before_summary, ''), 'after', NULLIF(after_summary, ''),
    'before_value', to_json(NULLIF(before_summary, '')), 'after_value', to_json(NULLIF(after_summary, '')))))
WHERE before_summary <> '' OR after_summary <> ''

--bun:split

ALTER TABLE partnerkit_audit DROP COLUMN before_summary

--bun:split

ALTER TABLE partnerkit_audit DROP COLUMN after_summary

--bun:split

CREATE INDEX IF NOT EXISTS partnerkit_audit_actor ON partnerkit_audit (actor, id)

--bun:split

CREATE INDEX IF NOT EXISTS partnerkit_audit_action ON partnerkit_audit (action, id)

--bun:split

CREATE INDEX IF NOT EXISTS partnerkit_audit_at ON partnerkit_audit (at, id)
