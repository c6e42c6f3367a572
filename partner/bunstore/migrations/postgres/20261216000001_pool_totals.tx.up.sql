-- The partner's licence totals, kept by the database: per partner, pool
-- (product, unit type), catalogue product and disabled flag, the number
-- of licences and their summed units and used units, whatever their
-- dates. A trigger on partnerkit_licenses keeps them on every insert,
-- update and delete, whoever writes (the store, a host, a raw program);
-- the migration fills them from the licences there are. The banner's
-- totals read them; the usable sums of the pools are these totals less
-- the licences not started or expired, found by range in the indexes
-- below. (postgres)
CREATE TABLE IF NOT EXISTS partnerkit_pool_totals (
    partner_id BIGINT NOT NULL,
    product TEXT NOT NULL,
    unit_type TEXT NOT NULL,
    product_id BIGINT NOT NULL,
    disabled BOOLEAN NOT NULL,
    licenses BIGINT NOT NULL,
    units BIGINT NOT NULL,
    used BIGINT NOT NULL,
    PRIMARY KEY (partner_id, product, unit_type, product_id, disabled)
)

--bun:split

INSERT INTO partnerkit_pool_totals (partner_id, product, unit_type, product_id, disabled, licenses, units, used)
SELECT partner_id, product, unit_type, product_id, disabled, count(*), sum(units), sum(used)
FROM partnerkit_licenses GROUP BY partner_id, product, unit_type, product_id, disabled

--bun:split

CREATE OR REPLACE FUNCTION partnerkit_pool_totals_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.partner_id = OLD.partner_id AND NEW.product = OLD.product AND NEW.unit_type = OLD.unit_type
        AND NEW.product_id = OLD.product_id AND NEW.disabled = OLD.disabled THEN
        -- The licence stays in its row of totals (an allocation, a change
        -- of units): one statement.
        IF NEW.units <> OLD.units OR NEW.used <> OLD.used THEN
            UPDATE partnerkit_pool_totals SET units = units + NEW.units - OLD.units, used = used + NEW.used - OLD.used
            WHERE partner_id = OLD.partner_id AND product = OLD.product AND unit_type = OLD.unit_type
                AND product_id = OLD.product_id AND disabled = OLD.disabled;
        END IF;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE partnerkit_pool_totals SET licenses = licenses - 1, units = units - OLD.units, used = used - OLD.used
        WHERE partner_id = OLD.partner_id AND product = OLD.product AND unit_type = OLD.unit_type
            AND product_id = OLD.product_id AND disabled = OLD.disabled;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO partnerkit_pool_totals AS t (partner_id, product, unit_type, product_id, disabled, licenses, units, used)
        VALUES (NEW.partner_id, NEW.product, NEW.unit_type, NEW.product_id, NEW.disabled, 1, NEW.units, NEW.used)
        ON CONFLICT (partner_id, product, unit_type, product_id, disabled) DO UPDATE SET
            licenses = t.licenses + 1, units = t.units + excluded.units, used = t.used + excluded.used;
    END IF;
    RETURN NULL;
END
$$

--bun:split

DROP TRIGGER IF EXISTS partnerkit_pool_totals_keep ON partnerkit_licenses

--bun:split

CREATE TRIGGER partnerkit_pool_totals_keep
AFTER INSERT OR DELETE OR UPDATE OF partner_id, product, unit_type, product_id, disabled, units, used ON partnerkit_licenses
FOR EACH ROW EXECUTE FUNCTION partnerkit_pool_totals_keep()

--bun:split

-- The licences of a partner not started yet, by range; and each pool's
-- licences in id order, for the pool's first usable licence. Neither
-- holds used, so an allocation writes neither (and its update of the
-- licence stays a HOT update).
CREATE INDEX IF NOT EXISTS partnerkit_licenses_partner_start ON partnerkit_licenses (partner_id, disabled, start_at)

--bun:split

CREATE INDEX IF NOT EXISTS partnerkit_licenses_partner_pool ON partnerkit_licenses (partner_id, product, unit_type, id)
