//! The site itself and its projects.

use super::json::{nested, req, text, time};
use super::{Ctx, List, Stream};
use crate::warehouse::Rows;

stream!(Sites, "sites", ["sites"]);

impl Sites {
    async fn extract(&self, ctx: &Ctx) -> anyhow::Result<()> {
        let site_path = format!("sites/{}", ctx.client.site_id());
        let reply = ctx.client.get_json(&site_path, &[]).await?;
        let site = reply.get("site").ok_or_else(|| anyhow::anyhow!("GET {site_path} returned no site"))?;
        let mut rows = Rows::new("sites");
        rows.push(&[
            req(site, "id", "site")?.into(),
            req(site, "name", "site")?.into(),
            text(site, "contentUrl").unwrap_or_default().into(),
        ])?;
        ctx.emit(self.name(), rows)
    }
}

stream!(Projects, "projects", ["projects"]);

impl Projects {
    async fn extract(&self, ctx: &Ctx) -> anyhow::Result<()> {
        let items = ctx.list(List::Projects).await?;
        ctx.progress(self.name(), items.len() as u64);
        let mut rows = Rows::new("projects");
        for p in items.iter() {
            rows.push(&[
                req(p, "id", "project")?.into(),
                req(p, "name", "project")?.into(),
                text(p, "description").into(),
                text(p, "parentProjectId").into(),
                nested(p, "owner", "id").into(),
                text(p, "contentPermissions").unwrap_or("ManagedByOwner").into(),
                time(p, "createdAt"),
                time(p, "updatedAt"),
            ])?;
        }
        ctx.emit(self.name(), rows)
    }
}
