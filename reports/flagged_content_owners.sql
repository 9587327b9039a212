-- title: Owners of flagged content
-- description: Who owns the content the audit flagged (trm audit findings),
--   with the number of findings per detector: the people to contact first.
--   Owners with the most findings first; findings on content without a known
--   owner are counted on a last row with an empty owner.
-- columns:
--   owner_name: the owner's name
--   owner_luid: REST id (LUID) of the owner
--   email: the owner's email address
--   site_role: the owner's site role
--   findings: all findings on their content
--   high_severity: findings of high severity
--   unused_dashboards: dashboards with no views in the usage window
--   unused_datasources: published datasources nothing uses
--   broken_extracts: extract refreshes that are broken
--   missing_fields: fields whose column or referenced field is gone
SELECT
    coalesce(min(f.owner_name), min(u.full_name), min(u.name)) AS owner_name,
    f.owner_luid,
    min(u.email) AS email,
    min(u.site_role) AS site_role,
    count(*) AS findings,
    count(*) FILTER (WHERE f.severity = 'high') AS high_severity,
    count(*) FILTER (WHERE f.detector = 'unused_dashboard') AS unused_dashboards,
    count(*) FILTER (WHERE f.detector = 'unused_datasource') AS unused_datasources,
    count(*) FILTER (WHERE f.detector = 'broken_extract') AS broken_extracts,
    count(*) FILTER (WHERE f.detector = 'missing_field') AS missing_fields
FROM findings f
LEFT JOIN users u ON u.user_luid = f.owner_luid
GROUP BY f.owner_luid
ORDER BY f.owner_luid IS NULL, findings DESC, high_severity DESC, owner_name, f.owner_luid;
