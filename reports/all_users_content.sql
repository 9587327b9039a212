-- title: Content viewable by everyone
-- description: Projects, workbooks, views, datasources and flows whose
--   governing rules allow Read (View) to the All Users group, so every
--   licensed user may see them unless a Deny to them or to another of their
--   groups says otherwise. The governing rules are the item's own, or, when
--   a lock reaches its project, the locking project's default rules (for a
--   project: the project rules of a LockedToProject project above it).
--   A view without rules of its own read takes its workbook's.
-- columns:
--   project_path: the project the item is in (a project: itself), 'Parent / Child'
--   project_luid: REST id (LUID) of that project
--   item_type: project, workbook, view, datasource or flow
--   item_name: its name
--   item_url: its page on the Tableau server (workbooks, views, datasources, flows)
--   item_luid: REST id (LUID) of the item
--   rules_from: item (its own rules), or the locking project's path
--   denied_groups: groups denied Read by the same rules, comma-separated
WITH RECURSIVE paths(project_luid, path, depth) AS (
    SELECT p.project_luid, p.name, 0
    FROM projects p
    WHERE p.parent_project_luid IS NULL
       OR p.parent_project_luid NOT IN (SELECT project_luid FROM projects)
    UNION ALL
    SELECT c.project_luid, parent.path || ' / ' || c.name, parent.depth + 1
    FROM projects c
    JOIN paths parent ON c.parent_project_luid = parent.project_luid
    WHERE parent.depth < 64
),
chain(project_luid, ancestor_luid, depth) AS (
    SELECT project_luid, project_luid, 0 FROM projects
    UNION ALL
    SELECT c.project_luid, p.parent_project_luid, c.depth + 1
    FROM chain c
    JOIN projects p ON p.project_luid = c.ancestor_luid
    WHERE p.parent_project_luid IS NOT NULL AND c.depth < 64
),
-- The nearest project whose lock reaches a project's content.
content_lock AS (
    SELECT c.project_luid, arg_min(c.ancestor_luid, c.depth) AS lock_luid
    FROM chain c
    JOIN projects a ON a.project_luid = c.ancestor_luid
    WHERE (c.depth = 0 AND a.content_permissions IN ('LockedToProject', 'LockedToProjectWithoutNested'))
       OR a.content_permissions = 'LockedToProject'
    GROUP BY c.project_luid
),
-- The nearest strict ancestor locked with its nested projects.
project_lock AS (
    SELECT c.project_luid, arg_min(c.ancestor_luid, c.depth) AS lock_luid
    FROM chain c
    JOIN projects a ON a.project_luid = c.ancestor_luid
    WHERE c.depth > 0 AND a.content_permissions = 'LockedToProject'
    GROUP BY c.project_luid
),
read_views AS (
    SELECT DISTINCT object_luid FROM permissions WHERE object_type = 'view' AND scope = 'item'
),
items AS (
    SELECT 'project' AS item_type, p.project_luid AS item_luid, p.name, p.project_luid, CAST(NULL AS VARCHAR) AS url,
        coalesce(pl.lock_luid, p.project_luid) AS rules_luid, CASE WHEN pl.lock_luid IS NULL THEN 'item' ELSE 'project' END AS rules_scope,
        pl.lock_luid
    FROM projects p LEFT JOIN project_lock pl ON pl.project_luid = p.project_luid
    UNION ALL
    SELECT 'workbook', w.workbook_luid, w.name, w.project_luid, w.webpage_url,
        coalesce(cl.lock_luid, w.workbook_luid), CASE WHEN cl.lock_luid IS NULL THEN 'item' ELSE 'default_workbooks' END, cl.lock_luid
    FROM workbooks w LEFT JOIN content_lock cl ON cl.project_luid = w.project_luid
    UNION ALL
    SELECT 'view', v.view_luid, v.name, w.project_luid, v.webpage_url,
        coalesce(cl.lock_luid, CASE WHEN rv.object_luid IS NULL THEN w.workbook_luid ELSE v.view_luid END),
        CASE WHEN cl.lock_luid IS NULL THEN 'item' ELSE 'default_workbooks' END, cl.lock_luid
    FROM views v
    JOIN workbooks w ON w.workbook_luid = v.workbook_luid
    LEFT JOIN content_lock cl ON cl.project_luid = w.project_luid
    LEFT JOIN read_views rv ON rv.object_luid = v.view_luid
    UNION ALL
    SELECT 'datasource', d.datasource_luid, d.name, d.project_luid, d.webpage_url,
        coalesce(cl.lock_luid, d.datasource_luid), CASE WHEN cl.lock_luid IS NULL THEN 'item' ELSE 'default_datasources' END, cl.lock_luid
    FROM datasources d LEFT JOIN content_lock cl ON cl.project_luid = d.project_luid
    UNION ALL
    SELECT 'flow', f.flow_luid, f.name, f.project_luid, f.webpage_url,
        coalesce(cl.lock_luid, f.flow_luid), CASE WHEN cl.lock_luid IS NULL THEN 'item' ELSE 'default_flows' END, cl.lock_luid
    FROM flows f LEFT JOIN content_lock cl ON cl.project_luid = f.project_luid
),
all_users AS (
    SELECT group_luid FROM groups WHERE name = 'All Users'
),
read_rules AS (
    SELECT i.item_luid, r.grantee_luid, r.mode
    FROM items i
    JOIN permissions r ON r.object_luid = i.rules_luid
        AND r.scope = CASE i.rules_scope WHEN 'project' THEN 'item' ELSE i.rules_scope END
    WHERE r.capability = 'Read' AND r.grantee_type = 'group'
)
SELECT
    pp.path AS project_path,
    i.project_luid,
    i.item_type,
    i.name AS item_name,
    i.url AS item_url,
    i.item_luid,
    coalesce(lp.path, 'item') AS rules_from,
    (SELECT string_agg(g.name, ', ' ORDER BY g.name) FROM read_rules d JOIN groups g ON g.group_luid = d.grantee_luid
     WHERE d.item_luid = i.item_luid AND d.mode = 'Deny') AS denied_groups
FROM items i
LEFT JOIN paths pp ON pp.project_luid = i.project_luid
LEFT JOIN paths lp ON lp.project_luid = i.lock_luid
WHERE EXISTS (
    SELECT 1 FROM read_rules a
    WHERE a.item_luid = i.item_luid AND a.mode = 'Allow' AND a.grantee_luid IN (SELECT group_luid FROM all_users)
)
ORDER BY project_path, i.project_luid,
    CASE i.item_type WHEN 'project' THEN 1 WHEN 'workbook' THEN 2 WHEN 'view' THEN 3 WHEN 'datasource' THEN 4 ELSE 5 END,
    item_name, i.item_luid;
