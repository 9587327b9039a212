-- title: Users and groups
-- description: Every user of the site with their site role, last sign-in
--   and the groups they belong to. Users who never signed in have an empty
--   last_login.
-- columns:
--   user_name: sign-in name
--   user_luid: REST id (LUID) of the user
--   full_name: display name
--   email: email address
--   site_role: site role (Creator, Explorer, Viewer, …)
--   last_login: last sign-in; empty if never
--   group_count: groups the user is in
--   groups: their names, separated by '; '
SELECT
    u.name AS user_name,
    u.user_luid,
    u.full_name,
    u.email,
    u.site_role,
    u.last_login,
    count(g.group_luid) AS group_count,
    string_agg(g.name, '; ' ORDER BY g.name, g.group_luid) AS groups
FROM users u
LEFT JOIN group_memberships m ON m.user_luid = u.user_luid
LEFT JOIN groups g ON g.group_luid = m.group_luid
GROUP BY u.user_luid, u.name, u.full_name, u.email, u.site_role, u.last_login
ORDER BY u.name, u.user_luid;
