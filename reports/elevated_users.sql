-- title: Users with elevated rights
-- description: Users who get capabilities beyond what rules grant them:
--   site administrators (everything their license allows, everywhere),
--   project owners and project leaders (everything on the project's content
--   and on every project nested below it). Leadership is the ProjectLeader
--   capability allowed on the project, to the user or to a group they are
--   in. One row per user and source of elevation; a site role that caps
--   capabilities (Viewer, Explorer) still caps them.
-- columns:
--   user_name: sign-in name
--   user_luid: REST id (LUID) of the user
--   site_role: site role
--   elevation: site_admin, project_owner or project_leader
--   project_path: the project owned or led, 'Parent / Child' (empty for site_admin)
--   project_luid: REST id (LUID) of that project
--   via_group_name: the group whose ProjectLeader rule makes the user a leader (empty when the rule names the user)
--   via_group_luid: REST id (LUID) of that group
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
leaders AS (
    SELECT r.object_luid AS project_luid, r.grantee_luid AS user_luid, CAST(NULL AS VARCHAR) AS group_luid
    FROM permissions r
    WHERE r.object_type = 'project' AND r.scope = 'item' AND r.capability = 'ProjectLeader'
      AND r.mode = 'Allow' AND r.grantee_type = 'user'
    UNION
    SELECT r.object_luid, m.user_luid, r.grantee_luid
    FROM permissions r
    JOIN group_memberships m ON m.group_luid = r.grantee_luid
    WHERE r.object_type = 'project' AND r.scope = 'item' AND r.capability = 'ProjectLeader'
      AND r.mode = 'Allow' AND r.grantee_type = 'group'
),
elevated AS (
    SELECT user_luid, 'site_admin' AS elevation, CAST(NULL AS VARCHAR) AS project_luid, CAST(NULL AS VARCHAR) AS group_luid
    FROM users WHERE site_role IN ('SiteAdministratorCreator', 'SiteAdministratorExplorer', 'SiteAdministrator')
    UNION ALL
    SELECT owner_luid, 'project_owner', project_luid, CAST(NULL AS VARCHAR) FROM projects WHERE owner_luid IS NOT NULL
    UNION ALL
    SELECT user_luid, 'project_leader', project_luid, group_luid FROM leaders
)
SELECT
    u.name AS user_name,
    u.user_luid,
    u.site_role,
    e.elevation,
    pp.path AS project_path,
    e.project_luid,
    g.name AS via_group_name,
    e.group_luid AS via_group_luid
FROM elevated e
JOIN users u ON u.user_luid = e.user_luid
LEFT JOIN paths pp ON pp.project_luid = e.project_luid
LEFT JOIN groups g ON g.group_luid = e.group_luid
ORDER BY
    u.name, u.user_luid,
    CASE e.elevation WHEN 'site_admin' THEN 1 WHEN 'project_owner' THEN 2 ELSE 3 END,
    project_path, e.project_luid, via_group_name, via_group_luid;
