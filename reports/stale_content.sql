-- title: Stale content
-- description: Workbooks and published datasources not updated (republished)
--   for a long time: at least the variable stale_days (default 180) before
--   the latest extraction. Longest untouched first. Lifetime views, for
--   workbooks, tell stale-but-used content from stale-and-forgotten.
-- columns:
--   content_type: workbook or datasource
--   content_name: its name
--   content_url: its page on the Tableau server
--   content_luid: REST id (LUID) of the workbook or datasource
--   project_name: project holding it
--   owner_name: its owner
--   updated_at: when it was last published
--   days_since_update: whole days from then to the latest extraction
--   lifetime_views: for a workbook, views of all its views since publication; empty for a datasource
WITH params AS (
    SELECT coalesce(getvariable('stale_days'), 180) AS stale_days
),
latest AS (
    SELECT as_of FROM runs WHERE status = 'succeeded' ORDER BY as_of DESC, run_id DESC LIMIT 1
),
workbook_views AS (
    SELECT workbook_luid, CAST(sum(total_view_count) AS BIGINT) AS lifetime_views
    FROM views
    GROUP BY workbook_luid
),
content AS (
    SELECT 'workbook' AS content_type, w.workbook_luid AS content_luid, w.name, w.webpage_url, w.project_name,
           w.owner_luid, w.updated_at, coalesce(wv.lifetime_views, 0) AS lifetime_views
    FROM workbooks w
    LEFT JOIN workbook_views wv ON wv.workbook_luid = w.workbook_luid
    UNION ALL
    SELECT 'datasource', d.datasource_luid, d.name, d.webpage_url, d.project_name, d.owner_luid, d.updated_at, NULL
    FROM datasources d
)
SELECT
    c.content_type,
    c.name AS content_name,
    c.webpage_url AS content_url,
    c.content_luid,
    c.project_name,
    coalesce(u.full_name, u.name) AS owner_name,
    c.updated_at,
    CAST(floor((epoch_us(l.as_of) - epoch_us(c.updated_at)) / 86400000000) AS BIGINT) AS days_since_update,
    c.lifetime_views
FROM content c
CROSS JOIN latest l
CROSS JOIN params p
LEFT JOIN users u ON u.user_luid = c.owner_luid
-- Microseconds since 1970: without the ICU extension (not bundled) DuckDB has
-- no TIMESTAMPTZ arithmetic, and epoch() needs it too; epoch_us() does not.
WHERE epoch_us(c.updated_at) <= epoch_us(l.as_of) - 86400000000 * p.stale_days
ORDER BY days_since_update DESC, c.content_type, content_name, c.content_luid;
