-- title: Datasource inventory
-- description: Every published datasource with its extract status,
--   certification, data quality warning and how many workbooks connect to
--   it. REST facts (owner, project, certification) are joined to the
--   Metadata API's (extract refresh, warnings, lineage) by LUID; Metadata
--   columns are empty for a datasource the Metadata API did not return.
-- columns:
--   datasource_id: REST id of the datasource
--   datasource_name: name of the datasource
--   project_name: project holding it
--   owner_name: its owner
--   connection_type: database type (postgres, snowflake, …)
--   has_extracts: true for an extract, false for a live connection
--   extract_status: live, refreshed, never_refreshed, or broken (the audit flagged a refresh task)
--   last_refresh_at: last successful extract refresh
--   refresh_schedules: schedules refreshing it, separated by '; '
--   certified: certified by a project leader or admin
--   has_active_warning: an active data quality warning is on it
--   downstream_workbooks: workbooks that connect to it
--   updated_at: when it was last published
WITH downstream AS (
    SELECT epd.published_datasource_id AS datasource_id, count(DISTINCT e.workbook_id) AS workbooks
    FROM embedded_published_datasources epd
    JOIN embedded_datasources e ON e.datasource_id = epd.embedded_datasource_id
    GROUP BY epd.published_datasource_id
),
refresh AS (
    SELECT t.target_id, string_agg(DISTINCT s.name, '; ' ORDER BY s.name) AS schedules
    FROM extract_tasks t
    JOIN schedules s ON s.schedule_id = t.schedule_id
    WHERE t.target_type = 'datasource'
    GROUP BY t.target_id
),
broken AS (
    SELECT DISTINCT asset_id FROM findings WHERE detector = 'broken_extract' AND asset_kind = 'datasource'
),
inventory AS (
    SELECT
        d.datasource_id,
        d.name,
        coalesce(d.project_name, p.project_name) AS project_name,
        coalesce(d.owner_id, p.owner_id) AS owner_id,
        d.type,
        coalesce(d.has_extracts, p.has_extracts) AS has_extracts,
        p.extract_last_refresh_time AS last_refresh_at,
        coalesce(d.is_certified, p.is_certified) AS certified,
        p.has_active_warning,
        CASE WHEN p.datasource_id IS NULL THEN NULL ELSE coalesce(ds.workbooks, 0) END AS downstream_workbooks,
        b.asset_id IS NOT NULL AS broken,
        r.schedules,
        d.updated_at
    FROM datasources d
    LEFT JOIN published_datasources p ON p.luid = d.datasource_id
    LEFT JOIN downstream ds ON ds.datasource_id = p.datasource_id
    LEFT JOIN broken b ON b.asset_id = d.datasource_id
    LEFT JOIN refresh r ON r.target_id = d.datasource_id
)
SELECT
    i.datasource_id,
    i.name AS datasource_name,
    i.project_name,
    coalesce(u.full_name, u.name) AS owner_name,
    i.type AS connection_type,
    i.has_extracts,
    CASE
        WHEN i.has_extracts IS NULL THEN NULL
        WHEN NOT i.has_extracts THEN 'live'
        WHEN i.broken THEN 'broken'
        WHEN i.last_refresh_at IS NULL THEN 'never_refreshed'
        ELSE 'refreshed'
    END AS extract_status,
    i.last_refresh_at,
    i.schedules AS refresh_schedules,
    i.certified,
    i.has_active_warning,
    i.downstream_workbooks,
    i.updated_at
FROM inventory i
LEFT JOIN users u ON u.user_id = i.owner_id
ORDER BY i.project_name, i.name, i.datasource_id;
