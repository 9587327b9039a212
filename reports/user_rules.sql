-- title: Rules granted to individual users
-- description: Permission rules that name a user instead of a group: each
--   is an exception someone must remember to revisit when the user changes
--   role or leaves. One row per object, scope, user and mode, with the
--   capabilities; default rules of a project (scope default_*) apply to
--   the content of locked projects.
-- columns:
--   project_path: the project the rule is in (or on), 'Parent / Child'
--   project_luid: REST id (LUID) of the project
--   object_type: project, workbook, view, datasource or flow
--   object_name: its name
--   object_luid: REST id (LUID) of the object
--   scope: item, default_workbooks, default_datasources or default_flows
--   user_name: sign-in name of the user the rule names
--   user_luid: REST id (LUID) of the user
--   site_role: the user's site role
--   mode: Allow or Deny
--   capabilities: the capabilities, comma-separated
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
named AS (
    SELECT project_luid AS luid, name FROM projects
    UNION ALL SELECT workbook_luid, name FROM workbooks
    UNION ALL SELECT view_luid, name FROM views
    UNION ALL SELECT datasource_luid, name FROM datasources
    UNION ALL SELECT flow_luid, name FROM flows
)
SELECT
    pp.path AS project_path,
    r.project_luid,
    r.object_type,
    any_value(n.name) AS object_name,
    r.object_luid,
    r.scope,
    any_value(u.name) AS user_name,
    r.grantee_luid AS user_luid,
    any_value(u.site_role) AS site_role,
    r.mode,
    string_agg(r.capability, ', ' ORDER BY r.capability) AS capabilities
FROM permissions r
LEFT JOIN paths pp ON pp.project_luid = r.project_luid
LEFT JOIN named n ON n.luid = r.object_luid
LEFT JOIN users u ON u.user_luid = r.grantee_luid
WHERE r.grantee_type = 'user'
GROUP BY pp.path, r.project_luid, r.object_type, r.object_luid, r.scope, r.grantee_luid, r.mode
ORDER BY project_path, r.project_luid, r.object_type, object_name, r.object_luid, r.scope, user_name, user_luid, r.mode;
