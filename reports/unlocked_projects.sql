-- title: Projects not locked
-- description: Projects whose content keeps its own permission rules: no
--   lock reaches them, neither their own (LockedToProject or
--   LockedToProjectWithoutNested) nor a LockedToProject lock of a project
--   above them. Every workbook, view, datasource and flow in them can
--   carry rules that differ from the project's defaults; items_with_own_rules
--   counts those that do carry rules.
-- columns:
--   project_path: the project and its parents, 'Parent / Child'
--   project_luid: REST id (LUID) of the project
--   content_permissions: the project's own setting (ManagedByOwner)
--   owner_name: sign-in name of the project's owner
--   owner_luid: REST id (LUID) of the owner
--   workbooks: workbooks in the project
--   datasources: published datasources in the project
--   items_with_own_rules: workbooks, views, datasources and flows in it with rules of their own
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
locked AS (
    SELECT DISTINCT c.project_luid
    FROM chain c
    JOIN projects a ON a.project_luid = c.ancestor_luid
    WHERE (c.depth = 0 AND a.content_permissions IN ('LockedToProject', 'LockedToProjectWithoutNested'))
       OR a.content_permissions = 'LockedToProject'
),
own_rules AS (
    SELECT project_luid, count(DISTINCT object_luid) AS n
    FROM permissions
    WHERE scope = 'item' AND object_type <> 'project'
    GROUP BY project_luid
)
SELECT
    pp.path AS project_path,
    p.project_luid,
    p.content_permissions,
    u.name AS owner_name,
    p.owner_luid,
    (SELECT count(*) FROM workbooks w WHERE w.project_luid = p.project_luid) AS workbooks,
    (SELECT count(*) FROM datasources d WHERE d.project_luid = p.project_luid) AS datasources,
    coalesce(o.n, 0) AS items_with_own_rules
FROM projects p
LEFT JOIN paths pp ON pp.project_luid = p.project_luid
LEFT JOIN users u ON u.user_luid = p.owner_luid
LEFT JOIN own_rules o ON o.project_luid = p.project_luid
WHERE p.project_luid NOT IN (SELECT project_luid FROM locked)
ORDER BY project_path, p.project_luid;
