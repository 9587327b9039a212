-- title: Usage by workbook and view
-- description: Every view (worksheet, dashboard or story) with its views in
--   the usage window and since publication, grouped by workbook. Views in the
--   window are the lifetime count at the latest snapshot minus the count at
--   the latest snapshot taken at least the window's length before it (a view
--   that did not exist then counts from zero); they are empty when the
--   warehouse holds no snapshot that old. The window is the variable
--   unused_days (default 90 days).
-- columns:
--   project_name: project holding the workbook
--   workbook_name: name of the workbook
--   workbook_url: its page on the Tableau server
--   workbook_luid: REST id (LUID) of the workbook
--   view_name: name of the view
--   view_url: its page on the Tableau server
--   view_luid: REST id (LUID) of the view
--   sheet_type: worksheet, dashboard or story
--   window_views: views in the window; empty when no snapshot is old enough
--   lifetime_views: views since publication, at the latest snapshot
--   workbook_window_views: the workbook's views in the window (all its views)
--   workbook_lifetime_views: the workbook's views since publication
--   window_days: length of the window in days
--   baseline_date: date of the snapshot the window counts from; empty when none is old enough
WITH params AS (
    SELECT coalesce(getvariable('unused_days'), 90) AS window_days
),
-- The snapshots of view counts: succeeded runs that wrote views.
snapshots AS (
    SELECT r.run_id, r.as_of, r.snapshot_date
    FROM runs r
    JOIN run_tables t ON t.run_id = r.run_id AND t.table_name = 'views'
    WHERE r.status = 'succeeded'
),
latest AS (
    SELECT * FROM snapshots ORDER BY as_of DESC, run_id DESC LIMIT 1
),
-- Microseconds since 1970: without the ICU extension (not bundled) DuckDB has
-- no TIMESTAMPTZ arithmetic, and epoch() needs it too; epoch_us() does not.
baseline AS (
    SELECT s.run_id, s.snapshot_date
    FROM snapshots s, latest l, params p
    WHERE epoch_us(s.as_of) <= epoch_us(l.as_of) - 86400000000 * p.window_days
    ORDER BY s.as_of DESC, s.run_id DESC
    LIMIT 1
),
counts AS (
    SELECT
        v.view_luid,
        v.workbook_luid,
        v.name,
        v.webpage_url,
        v.sheet_type,
        v.total_view_count AS lifetime_views,
        CASE WHEN b.run_id IS NULL THEN NULL
             ELSE v.total_view_count - coalesce(old.total_view_count, 0) END AS window_views,
        b.snapshot_date AS baseline_date
    FROM views v
    LEFT JOIN baseline b ON true
    LEFT JOIN hist_views old ON old.run_id = b.run_id AND old.view_luid = v.view_luid
)
SELECT
    w.project_name,
    w.name AS workbook_name,
    w.webpage_url AS workbook_url,
    c.workbook_luid,
    c.name AS view_name,
    c.webpage_url AS view_url,
    c.view_luid,
    c.sheet_type,
    c.window_views,
    c.lifetime_views,
    CAST(sum(c.window_views) OVER (PARTITION BY c.workbook_luid) AS BIGINT) AS workbook_window_views,
    CAST(sum(c.lifetime_views) OVER (PARTITION BY c.workbook_luid) AS BIGINT) AS workbook_lifetime_views,
    p.window_days,
    c.baseline_date
FROM counts c
CROSS JOIN params p
LEFT JOIN workbooks w ON w.workbook_luid = c.workbook_luid
ORDER BY w.project_name, w.name, c.workbook_luid, c.name, c.view_luid;
