//! Users, groups and who is in which group.

use futures::{StreamExt, TryStreamExt};

use super::json::{nested, req, text, time};
use super::{Ctx, Stream};
use crate::tableau::rest::list_all;
use crate::warehouse::Rows;

stream!(Users, "users", ["users"]);

impl Users {
    async fn extract(&self, ctx: &Ctx) -> anyhow::Result<()> {
        let items = list_all(&ctx.client, &ctx.client.site_path("users"), "users", "user", &[]).await?;
        ctx.progress(self.name(), items.len() as u64);
        let mut rows = Rows::new("users");
        for u in &items {
            rows.push(&[
                req(u, "id", "user")?.into(),
                req(u, "name", "user")?.into(),
                text(u, "fullName").into(),
                text(u, "email").into(),
                text(u, "siteRole").unwrap_or("Unlicensed").into(),
                text(u, "authSetting").into(),
                time(u, "lastLogin"),
            ])?;
        }
        ctx.emit(self.name(), rows)
    }
}

// Groups, then each group's members: one paged listing per group, the
// fewest requests the REST API allows for memberships.
stream!(Groups, "groups", ["groups", "group_memberships"]);

impl Groups {
    async fn extract(&self, ctx: &Ctx) -> anyhow::Result<()> {
        let groups = list_all(&ctx.client, &ctx.client.site_path("groups"), "groups", "group", &[]).await?;
        let mut rows = Rows::new("groups");
        let mut ids = Vec::with_capacity(groups.len());
        for g in &groups {
            let id = req(g, "id", "group")?;
            ids.push(id.to_string());
            rows.push(&[id.into(), req(g, "name", "group")?.into(), nested(g, "domain", "name").into()])?;
        }
        ctx.emit(self.name(), rows)?;

        let client = &ctx.client;
        let members: Vec<(String, Vec<serde_json::Value>)> = futures::stream::iter(ids)
            .map(|id| async move {
                let path = client.site_path(&format!("groups/{id}/users"));
                list_all(client, &path, "users", "user", &[]).await.map(|users| (id, users))
            })
            .buffer_unordered(64)
            .inspect_ok(|_| ctx.progress(self.name(), 1))
            .try_collect()
            .await?;
        let mut rows = Rows::new("group_memberships");
        for (group, users) in &members {
            for u in users {
                rows.push(&[group.as_str().into(), req(u, "id", "group member")?.into()])?;
            }
        }
        ctx.emit(self.name(), rows)
    }
}
