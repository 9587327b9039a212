-- title: Datasource inventory
-- description: Every published datasource with its extract status,
--   certification, data quality warning and how many workbooks connect to
--   it. REST facts (owner, project, certification) are joined to the
--   Metadata API's (extract refresh, warnings, lineage) on datasource_luid;
--   Metadata columns are empty for a datasource the Metadata API did not
--   return.
-- columns:
--   datasource_name: name of the datasource
--   datasource_url: its page on the Tableau server
--   datasource_luid: REST id (LUID) of the datasource
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
    SELECT epd.published_datasource_metadata_id AS datasource_metadata_id, count(DISTINCT e.workbook_luid) AS workbooks
    FROM embedded_published_datasources epd
    JOIN embedded_datasources e ON e.datasource_metadata_id = epd.embedded_datasource_metadata_id
    GROUP BY epd.published_datasource_metadata_id
),
refresh AS (
    SELECT t.target_luid, string_agg(DISTINCT s.name, '; ' ORDER BY s.name) AS schedules
    FROM extract_tasks t
    JOIN schedules s ON s.schedule_luid = t.schedule_luid
    WHERE t.target_type = 'datasource'
    GROUP BY t.target_luid
),
broken AS (
    SELECT DISTINCT asset_luid FROM findings WHERE detector = 'broken_extract' AND asset_kind = 'datasource'
),
inventory AS (
    SELECT
        d.datasource_luid,
        d.name,
        d.webpage_url,
        coalesce(d.project_name, p.project_name) AS project_name,
        coalesce(d.owner_luid, p.owner_luid) AS owner_luid,
        d.type,
        coalesce(d.has_extracts, p.has_extracts) AS has_extracts,
        p.extract_last_refresh_time AS last_refresh_at,
        coalesce(d.is_certified, p.is_certified) AS certified,
        p.has_active_warning,
        CASE WHEN p.datasource_metadata_id IS NULL THEN NULL ELSE coalesce(ds.workbooks, 0) END AS downstream_workbooks,
        b.asset_luid IS NOT NULL AS broken,
        r.schedules,
        d.updated_at
    FROM datasources d
    -- The Metadata API's view of the same datasource.
    LEFT JOIN published_datasources p ON p.datasource_luid = d.datasource_luid
    LEFT JOIN downstream ds ON ds.datasource_metadata_id = p.datasource_metadata_id
    LEFT JOIN broken b ON b.asset_luid = d.datasource_luid
    LEFT JOIN refresh r ON r.target_luid = d.datasource_luid
)
SELECT
    i.name AS datasource_name,
    i.webpage_url AS datasource_url,
    i.datasource_luid,
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
LEFT JOIN users u ON u.user_luid = i.owner_luid
ORDER BY i.project_name, i.name, i.datasource_luid;
