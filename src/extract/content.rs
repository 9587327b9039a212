//! Workbooks, views (with lifetime usage) and published datasources, and
//! their tags.

use super::json::{boolean, int, nested, req, tags, text, time};
use super::{Ctx, List, Stream};
use crate::tableau::rest::list_all;
use crate::warehouse::{Rows, V};

fn push_tags(rows: &mut Rows, asset_type: &str, id: &str, item: &serde_json::Value) -> anyhow::Result<()> {
    for tag in tags(item) {
        rows.push(&[asset_type.into(), id.into(), tag.into()])?;
    }
    Ok(())
}

stream!(Workbooks, "workbooks", ["workbooks", "tags"]);

impl Workbooks {
    async fn extract(&self, ctx: &Ctx) -> anyhow::Result<()> {
        let items = ctx.list(List::Workbooks).await?;
        ctx.progress(self.name(), items.len() as u64);
        let mut rows = Rows::new("workbooks");
        let mut tag_rows = Rows::new("tags");
        for w in items.iter() {
            let id = req(w, "id", "workbook")?;
            rows.push(&[
                id.into(),
                req(w, "name", "workbook")?.into(),
                text(w, "description").into(),
                text(w, "contentUrl").into(),
                text(w, "webpageUrl").into(),
                nested(w, "project", "id").into(),
                nested(w, "project", "name").into(),
                nested(w, "owner", "id").into(),
                boolean(w, "showTabs").into(),
                int(w, "size").into(),
                time(w, "createdAt"),
                time(w, "updatedAt"),
            ])?;
            push_tags(&mut tag_rows, "workbook", id, w)?;
        }
        ctx.emit(self.name(), rows)?;
        ctx.emit(self.name(), tag_rows)
    }
}

stream!(Views, "views", ["views", "tags"]);

impl Views {
    async fn extract(&self, ctx: &Ctx) -> anyhow::Result<()> {
        let usage = [("includeUsageStatistics", "true".to_string())];
        let items = list_all(&ctx.client, &ctx.client.site_path("views"), "views", "view", &usage).await?;
        ctx.progress(self.name(), items.len() as u64);
        let mut rows = Rows::new("views");
        let mut tag_rows = Rows::new("tags");
        for v in &items {
            let id = req(v, "id", "view")?;
            let views = v
                .get("usage")
                .and_then(|u| int(u, "totalViewCount"))
                .ok_or_else(|| anyhow::anyhow!("view {id} has no usage.totalViewCount"))?;
            rows.push(&[
                id.into(),
                req(v, "name", "view")?.into(),
                text(v, "contentUrl").into(),
                nested(v, "workbook", "id").ok_or_else(|| anyhow::anyhow!("view {id} has no workbook"))?.into(),
                nested(v, "owner", "id").into(),
                nested(v, "project", "id").into(),
                text(v, "sheetType").into(),
                time(v, "createdAt"),
                time(v, "updatedAt"),
                V::Int(views),
            ])?;
            push_tags(&mut tag_rows, "view", id, v)?;
        }
        ctx.emit(self.name(), rows)?;
        ctx.emit(self.name(), tag_rows)
    }
}

stream!(Datasources, "datasources", ["datasources", "tags"]);

impl Datasources {
    async fn extract(&self, ctx: &Ctx) -> anyhow::Result<()> {
        let items = ctx.list(List::Datasources).await?;
        ctx.progress(self.name(), items.len() as u64);
        let mut rows = Rows::new("datasources");
        let mut tag_rows = Rows::new("tags");
        for d in items.iter() {
            let id = req(d, "id", "datasource")?;
            rows.push(&[
                id.into(),
                req(d, "name", "datasource")?.into(),
                text(d, "description").into(),
                text(d, "contentUrl").into(),
                text(d, "type").into(),
                int(d, "size").into(),
                nested(d, "project", "id").into(),
                nested(d, "project", "name").into(),
                nested(d, "owner", "id").into(),
                boolean(d, "hasExtracts").into(),
                boolean(d, "isCertified").into(),
                boolean(d, "encryptExtracts").into(),
                time(d, "createdAt"),
                time(d, "updatedAt"),
            ])?;
            push_tags(&mut tag_rows, "datasource", id, d)?;
        }
        ctx.emit(self.name(), rows)?;
        ctx.emit(self.name(), tag_rows)
    }
}
