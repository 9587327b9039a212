-- title: Users and groups
-- description: Every user of the site with their site role, last sign-in
--   and the groups they belong to. Users who never signed in have an empty
--   last_login.
-- columns:
--   user_id: REST id of the user
--   user_name: sign-in name
--   full_name: display name
--   email: email address
--   site_role: site role (Creator, Explorer, Viewer, …)
--   last_login: last sign-in; empty if never
--   group_count: groups the user is in
--   groups: their names, separated by '; '
SELECT
    u.user_id,
    u.name AS user_name,
    u.full_name,
    u.email,
    u.site_role,
    u.last_login,
    count(g.group_id) AS group_count,
    string_agg(g.name, '; ' ORDER BY g.name, g.group_id) AS groups
FROM users u
LEFT JOIN group_memberships m ON m.user_id = u.user_id
LEFT JOIN groups g ON g.group_id = m.group_id
GROUP BY u.user_id, u.name, u.full_name, u.email, u.site_role, u.last_login
ORDER BY u.name, u.user_id;
