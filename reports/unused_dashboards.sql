-- title: Unused dashboards
-- description: Dashboards the audit found unused: no views in the usage
--   window although they are older than it (trm audit, detector
--   unused_dashboard). Most severe first. Candidates to archive or delete;
--   check with the owner first.
-- columns:
--   severity: high, medium or low
--   dashboard_name: name of the dashboard
--   dashboard_url: its page on the Tableau server
--   dashboard_luid: REST id (LUID) of the dashboard (its view_luid)
--   workbook_name: name of the workbook
--   workbook_url: its page on the Tableau server
--   workbook_luid: REST id (LUID) of the workbook holding it
--   project_name: project holding the workbook
--   owner_name: owner of the dashboard's workbook
--   lifetime_views: views since publication, at the latest snapshot
--   created_at: when the dashboard was published
--   reason: why the audit flagged it
SELECT
    f.severity,
    coalesce(f.asset_name, v.name) AS dashboard_name,
    v.webpage_url AS dashboard_url,
    f.asset_luid AS dashboard_luid,
    w.name AS workbook_name,
    w.webpage_url AS workbook_url,
    coalesce(f.workbook_luid, v.workbook_luid) AS workbook_luid,
    coalesce(f.project_name, w.project_name) AS project_name,
    f.owner_name,
    v.total_view_count AS lifetime_views,
    v.created_at,
    f.reason
FROM findings f
LEFT JOIN views v ON v.view_luid = f.asset_luid
LEFT JOIN workbooks w ON w.workbook_luid = coalesce(f.workbook_luid, v.workbook_luid)
WHERE f.detector = 'unused_dashboard'
ORDER BY
    CASE f.severity WHEN 'high' THEN 1 WHEN 'medium' THEN 2 WHEN 'low' THEN 3 ELSE 4 END,
    project_name, workbook_name, dashboard_name, f.asset_luid, f.finding_id;
