-- title: Broken extracts
-- description: Extract refresh tasks the audit found broken (trm audit,
--   detector broken_extract), with why: the last refresh failed, refreshes
--   keep failing, the extract is stale for its schedule, or an upstream table
--   is gone. Most severe first. The task is the one the finding names; its
--   schedule and failure count come from the extraction.
-- columns:
--   severity: high, medium or low
--   target_type: datasource or workbook
--   target_name: its name
--   target_url: its page on the Tableau server
--   target_luid: REST id (LUID) of the datasource or workbook
--   project_name: project holding it
--   owner_name: its owner
--   task_luid: REST id (LUID) of the extract refresh task
--   schedule_name: schedule the task runs on
--   schedule_frequency: Hourly, Daily, Weekly or Monthly
--   schedule_state: Active or Suspended
--   consecutive_failed_count: failed refreshes in a row, as the server reports them
--   last_refresh_at: last successful extract refresh the Metadata API knows of
--   reason_codes: the audit's reasons: last_refresh_failed, consecutive_failures, stale,
--     active_quality_warning, upstream_table_gone
--   reason: the audit's explanation
WITH workbook_refresh AS (
    SELECT workbook_luid, max(extract_last_refresh_time) AS last_refresh_at
    FROM embedded_datasources
    GROUP BY workbook_luid
)
SELECT
    b.severity,
    b.asset_kind AS target_type,
    coalesce(b.asset_name, d.name, w.name) AS target_name,
    coalesce(d.webpage_url, w.webpage_url) AS target_url,
    b.asset_luid AS target_luid,
    coalesce(b.project_name, d.project_name, w.project_name) AS project_name,
    b.owner_name,
    b.task_luid,
    s.name AS schedule_name,
    s.frequency AS schedule_frequency,
    s.state AS schedule_state,
    t.consecutive_failed_count,
    CASE b.asset_kind WHEN 'datasource' THEN p.extract_last_refresh_time ELSE wr.last_refresh_at END AS last_refresh_at,
    replace(b.reason_codes, ',', ', ') AS reason_codes,
    b.reason
FROM findings b
LEFT JOIN extract_tasks t ON t.task_luid = b.task_luid
LEFT JOIN schedules s ON s.schedule_luid = t.schedule_luid
LEFT JOIN datasources d ON b.asset_kind = 'datasource' AND d.datasource_luid = b.asset_luid
LEFT JOIN published_datasources p ON b.asset_kind = 'datasource' AND p.datasource_luid = b.asset_luid
LEFT JOIN workbooks w ON b.asset_kind = 'workbook' AND w.workbook_luid = b.asset_luid
LEFT JOIN workbook_refresh wr ON b.asset_kind = 'workbook' AND wr.workbook_luid = b.asset_luid
WHERE b.detector = 'broken_extract'
ORDER BY
    CASE b.severity WHEN 'high' THEN 1 WHEN 'medium' THEN 2 WHEN 'low' THEN 3 ELSE 4 END,
    t.consecutive_failed_count DESC NULLS LAST,
    target_name, b.asset_luid, b.task_luid, b.finding_id;
