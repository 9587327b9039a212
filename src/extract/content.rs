//! Workbooks, views (with lifetime usage) and published datasources, and
//! their tags.

use std::collections::HashMap;

use super::json::{boolean, int, nested, req, tags, text, time};
use super::{Ctx, List, Stream};
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

/// The site's pages, `https://server/#/site/<site>` (`https://server/#` on
/// the default site), from a workbook's page `…/workbooks/<n>`.
fn site_page(workbook_page: &str) -> Option<&str> {
    workbook_page.rsplit_once("/workbooks/").map(|(site, _)| site)
}

/// A view's page. The REST API lists none for views, but the web client
/// shows a view at `<site pages>/views/<workbook>/<view>`, the view's
/// content URL (`<workbook>/sheets/<view>`) without `sheets`.
fn view_page(site_page: &str, content_url: &str) -> Option<String> {
    let (workbook, view) = content_url.split_once("/sheets/")?;
    Some(format!("{site_page}/views/{workbook}/{view}"))
}

stream!(Views, "views", ["views", "tags"]);

impl Views {
    async fn extract(&self, ctx: &Ctx) -> anyhow::Result<()> {
        let items = ctx.list(List::Views).await?;
        ctx.progress(self.name(), items.len() as u64);
        let workbooks = ctx.list(List::Workbooks).await?;
        let site_pages: HashMap<&str, &str> = workbooks
            .iter()
            .filter_map(|w| Some((text(w, "id")?, site_page(text(w, "webpageUrl")?)?)))
            .collect();
        let mut rows = Rows::new("views");
        let mut tag_rows = Rows::new("tags");
        for v in items.iter() {
            let id = req(v, "id", "view")?;
            let views = v
                .get("usage")
                .and_then(|u| int(u, "totalViewCount"))
                .ok_or_else(|| anyhow::anyhow!("view {id} has no usage.totalViewCount"))?;
            let workbook = nested(v, "workbook", "id").ok_or_else(|| anyhow::anyhow!("view {id} has no workbook"))?;
            let page = site_pages.get(workbook).zip(text(v, "contentUrl")).and_then(|(site, url)| view_page(site, url));
            rows.push(&[
                id.into(),
                req(v, "name", "view")?.into(),
                text(v, "contentUrl").into(),
                workbook.into(),
                nested(v, "owner", "id").into(),
                nested(v, "project", "id").into(),
                text(v, "sheetType").into(),
                time(v, "createdAt"),
                time(v, "updatedAt"),
                V::Int(views),
                page.as_ref().into(),
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
                text(d, "webpageUrl").into(),
            ])?;
            push_tags(&mut tag_rows, "datasource", id, d)?;
        }
        ctx.emit(self.name(), rows)?;
        ctx.emit(self.name(), tag_rows)
    }
}

// Flows, where the server has them (see [`List::Flows`]).
stream!(Flows, "flows", ["flows"]);

impl Flows {
    async fn extract(&self, ctx: &Ctx) -> anyhow::Result<()> {
        let items = ctx.list(List::Flows).await?;
        ctx.progress(self.name(), items.len() as u64);
        let mut rows = Rows::new("flows");
        for f in items.iter() {
            rows.push(&[
                req(f, "id", "flow")?.into(),
                req(f, "name", "flow")?.into(),
                text(f, "description").into(),
                nested(f, "project", "id").into(),
                nested(f, "project", "name").into(),
                nested(f, "owner", "id").into(),
                text(f, "fileType").into(),
                text(f, "webpageUrl").into(),
                time(f, "createdAt"),
                time(f, "updatedAt"),
            ])?;
        }
        ctx.emit(self.name(), rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_pages_follow_the_web_client() {
        let site = site_page("https://tab.example.com/#/site/sales/workbooks/1234").unwrap();
        assert_eq!(site, "https://tab.example.com/#/site/sales");
        assert_eq!(
            view_page(site, "Superstore/sheets/Overview").as_deref(),
            Some("https://tab.example.com/#/site/sales/views/Superstore/Overview")
        );
        let default = site_page("https://tab.example.com/#/workbooks/7").unwrap();
        assert_eq!(view_page(default, "W/sheets/V").as_deref(), Some("https://tab.example.com/#/views/W/V"));
        assert_eq!(view_page(site, "no-sheet-part"), None);
        assert_eq!(site_page("https://tab.example.com/other"), None);
    }
}
