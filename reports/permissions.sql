-- title: Explicit permission grants by project
-- description: Every explicit permission rule on projects, workbooks, views,
--   published datasources and flows, grouped by project: who (a user or a
--   group) is allowed or denied which capabilities (one row per object,
--   scope, grantee and mode). A project's default rules for the workbooks,
--   datasources and flows in it have scope default_workbooks,
--   default_datasources or default_flows; rules on the item itself have
--   scope item. Effective permissions (group membership, locked projects,
--   site roles) are not resolved here: see `trm access` and the
--   effective_access view.
-- columns:
--   project_path: the project and its parents, 'Parent / Child'
--   project_luid: REST id (LUID) of the project
--   object_type: project, workbook, view, datasource or flow
--   object_name: its name
--   object_url: the workbook's, view's, datasource's or flow's page on the Tableau server
--   object_luid: REST id (LUID) of the project, workbook, view, datasource or flow
--   scope: item, default_workbooks, default_datasources or default_flows
--   grantee_type: user or group
--   grantee_name: sign-in name of the user, or name of the group
--   grantee_luid: REST id (LUID) of the user or group
--   mode: Allow or Deny
--   capabilities: the capabilities granted (or denied) in this mode, comma-separated (Read, Write, ExportData, …)
WITH RECURSIVE paths(project_luid, path, depth) AS (
    -- Top-level projects, and any whose parent is not in the warehouse.
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
grants AS (
    SELECT
        g.*,
        coalesce(g.project_luid, CASE WHEN g.object_type = 'project' THEN g.object_luid END) AS home_project_luid
    FROM permissions g
)
SELECT
    coalesce(pp.path, pr.name) AS project_path,
    g.home_project_luid AS project_luid,
    g.object_type,
    CASE g.object_type
        WHEN 'project' THEN any_value(op.name)
        WHEN 'workbook' THEN any_value(w.name)
        WHEN 'view' THEN any_value(v.name)
        WHEN 'datasource' THEN any_value(d.name)
        WHEN 'flow' THEN any_value(f.name)
    END AS object_name,
    CASE g.object_type
        WHEN 'workbook' THEN any_value(w.webpage_url)
        WHEN 'view' THEN any_value(v.webpage_url)
        WHEN 'datasource' THEN any_value(d.webpage_url)
        WHEN 'flow' THEN any_value(f.webpage_url)
    END AS object_url,
    g.object_luid,
    g.scope,
    g.grantee_type,
    CASE g.grantee_type WHEN 'user' THEN any_value(u.name) WHEN 'group' THEN any_value(gr.name) END AS grantee_name,
    g.grantee_luid,
    g.mode,
    string_agg(g.capability, ', ' ORDER BY g.capability) AS capabilities
FROM grants g
LEFT JOIN paths pp ON pp.project_luid = g.home_project_luid
LEFT JOIN projects pr ON pr.project_luid = g.home_project_luid
LEFT JOIN projects op ON g.object_type = 'project' AND op.project_luid = g.object_luid
LEFT JOIN workbooks w ON g.object_type = 'workbook' AND w.workbook_luid = g.object_luid
LEFT JOIN views v ON g.object_type = 'view' AND v.view_luid = g.object_luid
LEFT JOIN datasources d ON g.object_type = 'datasource' AND d.datasource_luid = g.object_luid
LEFT JOIN flows f ON g.object_type = 'flow' AND f.flow_luid = g.object_luid
LEFT JOIN users u ON g.grantee_type = 'user' AND u.user_luid = g.grantee_luid
LEFT JOIN groups gr ON g.grantee_type = 'group' AND gr.group_luid = g.grantee_luid
GROUP BY project_path, g.home_project_luid, g.object_type, g.object_luid, g.scope, g.grantee_type, g.grantee_luid, g.mode
ORDER BY
    project_path, project_luid,
    CASE g.object_type WHEN 'project' THEN 1 WHEN 'workbook' THEN 2 WHEN 'view' THEN 3 WHEN 'datasource' THEN 4 ELSE 5 END,
    object_name, g.object_luid,
    CASE g.scope WHEN 'item' THEN 1 WHEN 'default_workbooks' THEN 2 WHEN 'default_datasources' THEN 3 ELSE 4 END,
    g.grantee_type, grantee_name, g.grantee_luid, g.mode;
