-- A partner's Expiring soon and Expired counts (partner.Partner's
-- ExpiringLicenses, ExpiredLicenses) count its licences not disabled by
-- expiry: this index answers them with a range of its own entries,
-- without reading the licences. It holds no column an allocation changes
-- (used), so allocations do not write it. (sqlite)
CREATE INDEX IF NOT EXISTS partnerkit_licenses_partner_expiry ON partnerkit_licenses (partner_id, disabled, expiry_at)
