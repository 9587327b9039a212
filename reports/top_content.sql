-- title: Top content
-- description: The most viewed views (worksheets, dashboards and stories),
--   ranked by views in the usage window and by views since publication. A
--   view is listed when it is in the top N of either ranking (variable top_n,
--   default 25). Views in the window are computed as in the usage report
--   (variable unused_days, default 90 days); without a snapshot that old the
--   window columns are empty and the list follows lifetime views. Equal
--   counts share a rank.
-- columns:
--   window_rank: rank by views in the window (1 = most viewed); empty without a snapshot old enough
--   lifetime_rank: rank by views since publication (1 = most viewed)
--   view_name: name of the view
--   view_url: its page on the Tableau server
--   view_luid: REST id (LUID) of the view
--   sheet_type: worksheet, dashboard or story
--   workbook_name: name of the workbook
--   workbook_url: its page on the Tableau server
--   workbook_luid: REST id (LUID) of the workbook
--   project_name: project holding the workbook
--   owner_name: owner of the workbook
--   window_views: views in the window
--   lifetime_views: views since publication, at the latest snapshot
WITH params AS (
    SELECT
        coalesce(getvariable('unused_days'), 90) AS window_days,
        coalesce(getvariable('top_n'), 25) AS top_n
),
snapshots AS (
    SELECT r.run_id, r.as_of
    FROM runs r
    JOIN run_tables t ON t.run_id = r.run_id AND t.table_name = 'views'
    WHERE r.status = 'succeeded'
),
latest AS (
    SELECT * FROM snapshots ORDER BY as_of DESC, run_id DESC LIMIT 1
),
baseline AS (
    SELECT s.run_id
    FROM snapshots s, latest l, params p
    WHERE epoch_us(s.as_of) <= epoch_us(l.as_of) - 86400000000 * p.window_days
    ORDER BY s.as_of DESC, s.run_id DESC
    LIMIT 1
),
counts AS (
    SELECT
        v.view_luid,
        v.name,
        v.webpage_url,
        v.sheet_type,
        v.workbook_luid,
        v.total_view_count AS lifetime_views,
        CASE WHEN b.run_id IS NULL THEN NULL
             ELSE v.total_view_count - coalesce(old.total_view_count, 0) END AS window_views
    FROM views v
    LEFT JOIN baseline b ON true
    LEFT JOIN hist_views old ON old.run_id = b.run_id AND old.view_luid = v.view_luid
),
ranked AS (
    SELECT
        c.*,
        rank() OVER (ORDER BY c.lifetime_views DESC) AS lifetime_rank,
        CASE WHEN c.window_views IS NULL THEN NULL
             ELSE rank() OVER (ORDER BY c.window_views DESC NULLS LAST) END AS window_rank
    FROM counts c
)
SELECT
    r.window_rank,
    r.lifetime_rank,
    r.name AS view_name,
    r.webpage_url AS view_url,
    r.view_luid,
    r.sheet_type,
    w.name AS workbook_name,
    w.webpage_url AS workbook_url,
    r.workbook_luid,
    w.project_name,
    coalesce(u.full_name, u.name) AS owner_name,
    r.window_views,
    r.lifetime_views
FROM ranked r
CROSS JOIN params p
LEFT JOIN workbooks w ON w.workbook_luid = r.workbook_luid
LEFT JOIN users u ON u.user_luid = w.owner_luid
WHERE r.lifetime_rank <= p.top_n OR r.window_rank <= p.top_n
ORDER BY r.window_rank NULLS LAST, r.lifetime_rank, r.view_luid;
