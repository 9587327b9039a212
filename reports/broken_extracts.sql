-- title: Broken extracts
-- description: Extract refresh tasks the audit found broken (trm audit,
--   detector broken_extract), with why: the last refresh failed, refreshes
--   keep failing, the extract is stale for its schedule, or an upstream table
--   is gone. Most severe first. The task is the one the finding's evidence
--   names; its schedule and failure count come from the extraction.
-- columns:
--   severity: high, medium or low
--   target_type: datasource or workbook
--   target_id: REST id of the datasource or workbook
--   target_name: its name
--   project_name: project holding it
--   owner_name: its owner
--   task_id: REST id of the extract refresh task
--   schedule_name: schedule the task runs on
--   schedule_frequency: Hourly, Daily, Weekly or Monthly
--   schedule_state: Active or Suspended
--   consecutive_failed_count: failed refreshes in a row, as the server reports them
--   last_refresh_at: last successful extract refresh the Metadata API knows of
--   reason_codes: the audit's reasons: last_refresh_failed, consecutive_failures, stale, upstream_table_gone
--   reason: the audit's explanation
WITH broken AS (
    SELECT
        f.*,
        -- evidence is JSON text and the bundled DuckDB has no JSON functions:
        -- read the task id and the reason codes (plain identifiers) with regexps.
        nullif(regexp_extract(f.evidence, '"task_id"\s*:\s*"([^"]*)"', 1), '') AS evidence_task_id,
        nullif(replace(replace(regexp_extract(f.evidence, '"reasons"\s*:\s*\[([^\]]*)\]', 1), '"', ''), ',', ', '), '')
            AS reason_codes
    FROM findings f
    WHERE f.detector = 'broken_extract'
),
workbook_refresh AS (
    SELECT workbook_id, max(extract_last_refresh_time) AS last_refresh_at
    FROM embedded_datasources
    GROUP BY workbook_id
)
SELECT
    b.severity,
    b.asset_kind AS target_type,
    b.asset_id AS target_id,
    coalesce(b.asset_name, d.name, w.name) AS target_name,
    coalesce(b.project_name, d.project_name, w.project_name) AS project_name,
    b.owner_name,
    coalesce(t.task_id, b.evidence_task_id) AS task_id,
    s.name AS schedule_name,
    s.frequency AS schedule_frequency,
    s.state AS schedule_state,
    t.consecutive_failed_count,
    CASE b.asset_kind WHEN 'datasource' THEN p.extract_last_refresh_time ELSE wr.last_refresh_at END AS last_refresh_at,
    b.reason_codes,
    b.reason
FROM broken b
LEFT JOIN extract_tasks t ON t.task_id = b.evidence_task_id
LEFT JOIN schedules s ON s.schedule_id = t.schedule_id
LEFT JOIN datasources d ON b.asset_kind = 'datasource' AND d.datasource_id = b.asset_id
LEFT JOIN published_datasources p ON b.asset_kind = 'datasource' AND p.luid = b.asset_id
LEFT JOIN workbooks w ON b.asset_kind = 'workbook' AND w.workbook_id = b.asset_id
LEFT JOIN workbook_refresh wr ON b.asset_kind = 'workbook' AND wr.workbook_id = b.asset_id
ORDER BY
    CASE b.severity WHEN 'high' THEN 1 WHEN 'medium' THEN 2 WHEN 'low' THEN 3 ELSE 4 END,
    t.consecutive_failed_count DESC NULLS LAST,
    target_name, b.asset_id, task_id, b.finding_id;
