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
--   view_id: REST id of the view
--   view_name: name of the view
--   sheet_type: worksheet, dashboard or story
--   workbook_id: REST id of the workbook
--   workbook_name: name of the workbook
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
        v.view_id,
        v.name,
        v.sheet_type,
        v.workbook_id,
        v.total_view_count AS lifetime_views,
        CASE WHEN b.run_id IS NULL THEN NULL
             ELSE v.total_view_count - coalesce(old.total_view_count, 0) END AS window_views
    FROM views v
    LEFT JOIN baseline b ON true
    LEFT JOIN hist_views old ON old.run_id = b.run_id AND old.view_id = v.view_id
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
    r.view_id,
    r.name AS view_name,
    r.sheet_type,
    r.workbook_id,
    w.name AS workbook_name,
    w.project_name,
    coalesce(u.full_name, u.name) AS owner_name,
    r.window_views,
    r.lifetime_views
FROM ranked r
CROSS JOIN params p
LEFT JOIN workbooks w ON w.workbook_id = r.workbook_id
LEFT JOIN users u ON u.user_id = w.owner_id
WHERE r.lifetime_rank <= p.top_n OR r.window_rank <= p.top_n
ORDER BY r.window_rank NULLS LAST, r.lifetime_rank, r.view_id;
