-- The partner's licence totals, kept by the database: per partner, pool
-- (product, unit type), catalogue product and disabled flag, the number
-- of licences and their summed units and used units, whatever their
-- dates. Triggers on partnerkit_licenses keep them on every insert,
-- update and delete, whoever writes (the store, a host, a raw program);
-- the migration fills them from the licences there are. The banner's
-- totals read them; the usable sums of the pools are these totals less
-- the licences not started or expired, found by range in the indexes
-- below. (sqlite)
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

CREATE TRIGGER IF NOT EXISTS partnerkit_pool_totals_insert AFTER INSERT ON partnerkit_licenses BEGIN
    INSERT INTO partnerkit_pool_totals (partner_id, product, unit_type, product_id, disabled, licenses, units, used)
    VALUES (NEW.partner_id, NEW.product, NEW.unit_type, NEW.product_id, NEW.disabled, 1, NEW.units, NEW.used)
    ON CONFLICT (partner_id, product, unit_type, product_id, disabled) DO UPDATE SET
        licenses = licenses + 1, units = units + excluded.units, used = used + excluded.used;
END

--bun:split

CREATE TRIGGER IF NOT EXISTS partnerkit_pool_totals_delete AFTER DELETE ON partnerkit_licenses BEGIN
    UPDATE partnerkit_pool_totals SET licenses = licenses - 1, units = units - OLD.units, used = used - OLD.used
    WHERE partner_id = OLD.partner_id AND product = OLD.product AND unit_type = OLD.unit_type
        AND product_id = OLD.product_id AND disabled = OLD.disabled;
END

--bun:split

-- An update of the units or used units that keeps the licence in its row
-- of totals (an allocation, a change of units): one statement. Each
-- trigger names only the columns it needs, so that SQLite compiles only
-- this one into a statement that sets the used units alone.
CREATE TRIGGER IF NOT EXISTS partnerkit_pool_totals_update AFTER UPDATE OF units, used ON partnerkit_licenses
WHEN NEW.partner_id = OLD.partner_id AND NEW.product = OLD.product AND NEW.unit_type = OLD.unit_type
    AND NEW.product_id = OLD.product_id AND NEW.disabled = OLD.disabled BEGIN
    UPDATE partnerkit_pool_totals SET units = units + NEW.units - OLD.units, used = used + NEW.used - OLD.used
    WHERE partner_id = OLD.partner_id AND product = OLD.product AND unit_type = OLD.unit_type
        AND product_id = OLD.product_id AND disabled = OLD.disabled;
END

--bun:split

-- An update that moves the licence to another row (disabling it, above
-- all): out of the old row, into the new, with its units and used units
-- as they were and as they are.
CREATE TRIGGER IF NOT EXISTS partnerkit_pool_totals_move AFTER UPDATE OF partner_id, product, unit_type, product_id, disabled ON partnerkit_licenses
WHEN NOT (NEW.partner_id = OLD.partner_id AND NEW.product = OLD.product AND NEW.unit_type = OLD.unit_type
    AND NEW.product_id = OLD.product_id AND NEW.disabled = OLD.disabled) BEGIN
    UPDATE partnerkit_pool_totals SET licenses = licenses - 1, units = units - OLD.units, used = used - OLD.used
    WHERE partner_id = OLD.partner_id AND product = OLD.product AND unit_type = OLD.unit_type
        AND product_id = OLD.product_id AND disabled = OLD.disabled;
    INSERT INTO partnerkit_pool_totals (partner_id, product, unit_type, product_id, disabled, licenses, units, used)
    VALUES (NEW.partner_id, NEW.product, NEW.unit_type, NEW.product_id, NEW.disabled, 1, NEW.units, NEW.used)
    ON CONFLICT (partner_id, product, unit_type, product_id, disabled) DO UPDATE SET
        licenses = licenses + 1, units = units + excluded.units, used = used + excluded.used;
END

--bun:split

-- The licences of a partner not started yet, by range; and each pool's
-- licences in id order, for the pool's first usable licence. Neither
-- holds used, so an allocation writes neither.
CREATE INDEX IF NOT EXISTS partnerkit_licenses_partner_start ON partnerkit_licenses (partner_id, disabled, start_at)

--bun:split

CREATE INDEX IF NOT EXISTS partnerkit_licenses_partner_pool ON partnerkit_licenses (partner_id, product, unit_type, id)
