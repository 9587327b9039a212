//! Tags on workbooks, views and datasources: add, delete, and from 3.9 the
//! batch calls over many items at once.
//!
//! Spec: <https://help.tableau.com/current/api/rest_api/en-us/REST/rest_api_ref_tags.htm>
//! Labels are matched as Tableau does, ignoring case; a tag added twice is
//! kept once.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use serde::Deserialize;

use super::body::El;
use super::content::{find_datasource, find_view, find_workbook, tags_el, ItemPath};
use super::error::ApiError;
use super::request::{self, Node};
use super::{resource_kind, Ctx, St};
use crate::sim::dataset::Dataset;

#[derive(Clone, Copy)]
enum Tagged {
    Workbook(u32),
    View(u32),
    Datasource(u32),
}

fn tagged(d: &Dataset, kind: &str, id: &str) -> Result<Tagged, ApiError> {
    Ok(match kind {
        "workbooks" | "workbook" => Tagged::Workbook(find_workbook(d, id)?),
        "views" | "view" => Tagged::View(find_view(d, id)?),
        "datasources" | "datasource" => Tagged::Datasource(find_datasource(d, id)?),
        other => return Err(ApiError::unknown_resource(&format!("/{other}/{id}/tags"))),
    })
}

fn tags_mut(d: &mut Dataset, t: Tagged) -> &mut Vec<String> {
    match t {
        Tagged::Workbook(i) => &mut d.workbooks[i as usize].tags,
        Tagged::View(i) => &mut d.views[i as usize].tags,
        Tagged::Datasource(i) => &mut d.datasources[i as usize].tags,
    }
}

fn add_labels(d: &mut Dataset, t: Tagged, labels: &[String]) {
    for label in labels {
        d.tag_index(label);
        let tags = tags_mut(d, t);
        if !tags.iter().any(|x| x.eq_ignore_ascii_case(label)) {
            tags.push(label.clone());
        }
    }
}

fn labels(tags: &Node) -> Result<Vec<String>, ApiError> {
    // Clients quote a label holding spaces or commas ("two words"); the
    // quotes are not part of the tag.
    let unquote = |l: &str| {
        let l = l.trim();
        l.strip_prefix('"').and_then(|x| x.strip_suffix('"')).unwrap_or(l).to_string()
    };
    let labels: Vec<String> = tags.all("tag").map(|t| t.need("label").map(unquote)).collect::<Result<_, _>>()?;
    if labels.is_empty() || labels.iter().any(String::is_empty) {
        return Err(ApiError::malformed_body("Payload is either malformed or incomplete: give each <tag> a non-empty label."));
    }
    Ok(labels)
}


/// `PUT /api/{v}/sites/{site}/{workbooks|views|datasources}/{id}/tags`:
/// answers with every tag the item now has.
pub async fn add(ctx: Ctx, State(st): St, uri: Uri, Path(path): Path<ItemPath>, headers: HeaderMap, body: Bytes) -> Response {
    let result = (|| {
        let req = request::parse(&headers, &body)?;
        let wanted = labels(req.require(&["tags"])?)?;
        let mut d = st.write();
        let t = tagged(&d, resource_kind(&uri), &path.id)?;
        add_labels(&mut d, t, &wanted);
        Ok(vec![tags_el(tags_mut(&mut d, t))])
    })();
    ctx.reply(result)
}

#[derive(Deserialize)]
pub struct TagPath {
    id: String,
    tag: String,
}

/// `DELETE /api/{v}/sites/{site}/{workbooks|views|datasources}/{id}/tags/{tag}`
pub async fn delete(ctx: Ctx, State(st): St, uri: Uri, Path(path): Path<TagPath>) -> Response {
    let result = (|| {
        let mut d = st.write();
        let t = tagged(&d, resource_kind(&uri), &path.id)?;
        let tags = tags_mut(&mut d, t);
        let before = tags.len();
        tags.retain(|x| !x.eq_ignore_ascii_case(&path.tag));
        if tags.len() == before {
            return Err(ApiError::not_found_detail("404004", format!("Tag '{}' is not on this item.", path.tag)));
        }
        Ok(())
    })();
    ctx.no_content(result)
}

/// `PUT /api/{v}/sites/{site}/tags:batchCreate` and `tags:batchDelete`
/// (3.9): `<tagBatch><tags>…</tags><contents><content id contentType/>…`.
/// Every item is checked before any changes.
pub async fn batch_create(ctx: Ctx, st: St, headers: HeaderMap, body: Bytes) -> Response {
    batch(ctx, st, true, headers, body)
}

pub async fn batch_delete(ctx: Ctx, st: St, headers: HeaderMap, body: Bytes) -> Response {
    batch(ctx, st, false, headers, body)
}

fn batch(ctx: Ctx, State(st): St, create: bool, headers: HeaderMap, body: Bytes) -> Response {
    let result = (|| {
        if ctx.api_minor < 9 {
            return Err(ApiError::bad_request("400000", "Bad Request", "Batch tagging needs REST API version 3.9 or later."));
        }
        let req = request::parse(&headers, &body)?;
        let batch = req.require(&["tagBatch"])?;
        let wanted = labels(batch.require(&["tags"])?)?;
        let mut d = st.write();
        let items = batch
            .require(&["contents"])?
            .all("content")
            .map(|c| Ok((tagged(&d, &c.need("contentType")?.to_ascii_lowercase(), c.need("id")?)?, c)))
            .collect::<Result<Vec<_>, ApiError>>()?;
        for (t, _) in &items {
            if create {
                add_labels(&mut d, *t, &wanted);
            } else {
                tags_mut(&mut d, *t).retain(|x| !wanted.iter().any(|w| w.eq_ignore_ascii_case(x)));
            }
        }
        let contents = El::collection("contents").children(items.iter().map(|(_, c)| {
            El::new("content").attr("id", c.attr("id").unwrap_or_default()).attr("contentType", c.attr("contentType").unwrap_or_default())
        }));
        Ok(vec![El::new("tagBatch").child(tags_el(&wanted)).child(contents)])
    })();
    ctx.reply(result)
}
