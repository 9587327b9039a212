-- title: Deny rules
-- description: Every rule that denies a capability. A Deny to a group
--   beats any Allow to another group the user is in, and a Deny to a user
--   beats everything but ownership and administration, so denials are where
--   "why can't they see it" starts. One row per object, scope and grantee,
--   with the denied capabilities.
-- columns:
--   project_path: the project the rule is in (or on), 'Parent / Child'
--   project_luid: REST id (LUID) of the project
--   object_type: project, workbook, view, datasource or flow
--   object_name: its name
--   object_luid: REST id (LUID) of the object
--   scope: item, default_workbooks, default_datasources or default_flows
--   grantee_type: user or group
--   grantee_name: sign-in name of the user, or name of the group
--   grantee_luid: REST id (LUID) of the user or group
--   capabilities: the denied capabilities, comma-separated
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
),
grantees AS (
    SELECT 'user' AS grantee_type, user_luid AS luid, name FROM users
    UNION ALL SELECT 'group', group_luid, name FROM groups
)
SELECT
    pp.path AS project_path,
    r.project_luid,
    r.object_type,
    any_value(n.name) AS object_name,
    r.object_luid,
    r.scope,
    r.grantee_type,
    any_value(g.name) AS grantee_name,
    r.grantee_luid,
    string_agg(r.capability, ', ' ORDER BY r.capability) AS capabilities
FROM permissions r
LEFT JOIN paths pp ON pp.project_luid = r.project_luid
LEFT JOIN named n ON n.luid = r.object_luid
LEFT JOIN grantees g ON g.grantee_type = r.grantee_type AND g.luid = r.grantee_luid
WHERE r.mode = 'Deny'
GROUP BY pp.path, r.project_luid, r.object_type, r.object_luid, r.scope, r.grantee_type, r.grantee_luid
ORDER BY project_path, r.project_luid, r.object_type, object_name, r.object_luid, r.scope, r.grantee_type, grantee_name, r.grantee_luid;
