//! The site's users, groups and memberships as the REST API reports them,
//! read with as few requests as the change needs:
//!
//! - users and groups: one paged listing each (pages fetched concurrently);
//! - memberships: `groups/{id}/users` for the groups the file manages only,
//!   and not for groups whose `userCount` is 0. (Reading them per user,
//!   `users/{id}/groups`, would take one request per user: 50,000 on a
//!   large site against its 5,000 groups.)
//! - content ownership: only when users may be deleted without
//!   `--map-assets-to`, as one listing per content type indexed by owner
//!   (not one filtered query per user).

use std::collections::HashMap;

use futures::{StreamExt as _, TryStreamExt as _};
use serde_json::Value;

use crate::tableau::rest::list_all;
use crate::tableau::{Client, TableauError};

/// A user on the site.
#[derive(Clone, Debug, PartialEq)]
pub struct SiteUser {
    pub id: String,
    pub name: String,
    pub site_role: String,
    pub email: String,
    pub full_name: String,
    pub auth_setting: String,
}

/// A group on the site.
#[derive(Clone, Debug, PartialEq)]
pub struct SiteGroup {
    pub id: String,
    pub name: String,
    pub user_count: u64,
    /// Indexes into [`SiteState::users`], ascending; `None` until read.
    /// Read per user ([`SiteState::read_groups_of`]), it holds only the
    /// members among the users read.
    pub members: Option<Vec<u32>>,
}

/// Content a user owns: such a user is deleted only with `mapAssetsTo`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Owned {
    pub projects: usize,
    pub workbooks: usize,
    pub datasources: usize,
    pub flows: usize,
}

impl Owned {
    pub fn total(&self) -> usize {
        self.projects + self.workbooks + self.datasources + self.flows
    }

    /// "3 workbooks, 1 data source".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        for (n, one, many) in [
            (self.projects, "project", "projects"),
            (self.workbooks, "workbook", "workbooks"),
            (self.datasources, "data source", "data sources"),
            (self.flows, "flow", "flows"),
        ] {
            match n {
                0 => {}
                1 => parts.push(format!("1 {one}")),
                n => parts.push(format!("{n} {many}")),
            }
        }
        parts.join(", ")
    }
}

/// What the site holds now, indexed for the diff.
#[derive(Clone, Debug, Default)]
pub struct SiteState {
    pub users: Vec<SiteUser>,
    /// Lower-case user name → index; Tableau user names are unique ignoring case.
    pub user_by_name: HashMap<String, u32>,
    pub user_by_id: HashMap<String, u32>,
    pub groups: Vec<SiteGroup>,
    /// Lower-case group name → index.
    pub group_by_name: HashMap<String, u32>,
    /// Content owned per user index; `None` until read.
    pub owned: Option<HashMap<u32, Owned>>,
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_string()
}

impl SiteState {
    /// Users and groups, without memberships.
    pub async fn read(client: &Client) -> Result<SiteState, TableauError> {
        let fields = [("fields", "_all_".to_string())];
        let users_path = client.site_path("users");
        let groups_path = client.site_path("groups");
        let (users, groups) = futures::try_join!(
            list_all(client, &users_path, "users", "user", &fields),
            list_all(client, &groups_path, "groups", "group", &[]),
        )?;
        let mut s = SiteState::default();
        for u in &users {
            let user = SiteUser {
                id: text(u, "id"),
                name: text(u, "name"),
                site_role: text(u, "siteRole"),
                email: text(u, "email"),
                full_name: text(u, "fullName"),
                auth_setting: text(u, "authSetting"),
            };
            let i = s.users.len() as u32;
            s.user_by_name.insert(user.name.to_lowercase(), i);
            s.user_by_id.insert(user.id.clone(), i);
            s.users.push(user);
        }
        for g in &groups {
            let count = match &g["userCount"] {
                Value::String(c) => c.parse().unwrap_or(u64::MAX),
                Value::Number(n) => n.as_u64().unwrap_or(u64::MAX),
                // Unknown: read the members to find out.
                _ => u64::MAX,
            };
            let group = SiteGroup {
                id: text(g, "id"),
                name: text(g, "name"),
                user_count: count,
                members: None,
            };
            s.group_by_name
                .insert(group.name.to_lowercase(), s.groups.len() as u32);
            s.groups.push(group);
        }
        Ok(s)
    }

    pub fn user(&self, name: &str) -> Option<u32> {
        self.user_by_name.get(&name.to_lowercase()).copied()
    }

    pub fn group(&self, name: &str) -> Option<u32> {
        self.group_by_name.get(&name.to_lowercase()).copied()
    }

    /// Reads the members of each listed group, concurrently; a group with
    /// no users needs no request. Returns the number of groups read.
    pub async fn read_members(
        &mut self,
        client: &Client,
        groups: &[u32],
    ) -> Result<usize, TableauError> {
        let mut to_read = Vec::new();
        for &g in groups {
            let group = &mut self.groups[g as usize];
            if group.members.is_some() {
                continue;
            }
            if group.user_count == 0 {
                group.members = Some(Vec::new());
            } else {
                to_read.push((g, client.site_path(&format!("groups/{}/users", group.id))));
            }
        }
        let read = to_read.len();
        let lists: Vec<(u32, Vec<Value>)> = futures::stream::iter(to_read)
            .map(|(g, path)| async move {
                list_all(client, &path, "users", "user", &[])
                    .await
                    .map(|users| (g, users))
            })
            .buffer_unordered(client.concurrency())
            .try_collect()
            .await?;
        for (g, users) in lists {
            let mut members: Vec<u32> = users
                .iter()
                .filter_map(|u| {
                    u["id"]
                        .as_str()
                        .and_then(|id| self.user_by_id.get(id).copied())
                })
                .collect();
            members.sort_unstable();
            members.dedup();
            self.groups[g as usize].members = Some(members);
        }
        Ok(read)
    }

    /// Reads the groups of each listed user (`users/{id}/groups`),
    /// concurrently, and records them as the members of the listed groups:
    /// afterwards each of `groups` knows which of `users` belong to it.
    /// Returns the number of users read.
    pub async fn read_groups_of(
        &mut self,
        client: &Client,
        users: &[u32],
        groups: &[u32],
    ) -> Result<usize, TableauError> {
        let wanted: HashMap<&str, u32> = groups
            .iter()
            .map(|&g| (self.groups[g as usize].id.as_str(), g))
            .collect();
        let lists: Vec<(u32, Vec<Value>)> = futures::stream::iter(users.iter().copied())
            .map(|u| {
                let path = client.site_path(&format!("users/{}/groups", self.users[u as usize].id));
                async move {
                    list_all(client, &path, "groups", "group", &[])
                        .await
                        .map(|gs| (u, gs))
                }
            })
            .buffer_unordered(client.concurrency())
            .try_collect()
            .await?;
        let mut members: HashMap<u32, Vec<u32>> = groups.iter().map(|&g| (g, Vec::new())).collect();
        for (u, gs) in lists {
            for g in gs
                .iter()
                .filter_map(|g| g["id"].as_str().and_then(|id| wanted.get(id)))
            {
                members.entry(*g).or_default().push(u);
            }
        }
        for (g, mut list) in members {
            list.sort_unstable();
            list.dedup();
            self.groups[g as usize].members = Some(list);
        }
        Ok(users.len())
    }

    /// Reads who owns projects, workbooks, data sources and flows: one
    /// listing each. A server without flows (404) has none.
    pub async fn read_ownership(&mut self, client: &Client) -> Result<(), TableauError> {
        let mut owned: HashMap<u32, Owned> = HashMap::new();
        let kinds: [(&str, &str, fn(&mut Owned) -> &mut usize); 4] = [
            ("projects", "project", |o| &mut o.projects),
            ("workbooks", "workbook", |o| &mut o.workbooks),
            ("datasources", "datasource", |o| &mut o.datasources),
            ("flows", "flow", |o| &mut o.flows),
        ];
        let lists = futures::future::join_all(kinds.iter().map(|(collection, item, _)| {
            let path = client.site_path(collection);
            async move { list_all(client, &path, collection, item, &[]).await }
        }))
        .await;
        for ((collection, _, field), list) in kinds.iter().zip(lists) {
            let items = match list {
                Ok(items) => items,
                Err(e) if *collection == "flows" && e.status() == Some(404) => Vec::new(),
                Err(e) => return Err(e),
            };
            for item in &items {
                let owner = item["owner"]["id"]
                    .as_str()
                    .and_then(|id| self.user_by_id.get(id));
                if let Some(&u) = owner {
                    *field(owned.entry(u).or_default()) += 1;
                }
            }
        }
        self.owned = Some(owned);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ownership_reads_for_people() {
        let o = Owned {
            projects: 0,
            workbooks: 3,
            datasources: 1,
            flows: 0,
        };
        assert_eq!(o.describe(), "3 workbooks, 1 data source");
        assert_eq!(o.total(), 4);
        assert_eq!(Owned::default().total(), 0);
    }
}
