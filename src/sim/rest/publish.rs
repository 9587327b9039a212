//! Documents over REST: downloads, connections, publishing and chunked
//! file uploads.
//!
//! Spec: <https://help.tableau.com/current/api/rest_api/en-us/REST/rest_api_ref_publishing.htm>,
//! <https://help.tableau.com/current/api/rest_api/en-us/REST/rest_api_concepts_publish.htm>,
//! and the workbook and datasource references for `…/content` and
//! `…/connections`.
//!
//! Publishing is `multipart/mixed`: a `request_payload` part (the
//! `<tsRequest>`) and a `tableau_workbook` / `tableau_datasource` part with
//! the file, or no file part and `?uploadSessionId=` naming a finished
//! chunked upload (`POST fileUploads`, then `PUT fileUploads/{id}` per
//! chunk, each a multipart body with a `tableau_file` part).

use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::auth::Session;
use super::body::El;
use super::content::{find_datasource, find_project, find_workbook, tags_el};
use super::error::ApiError;
use super::request::{self, Node};
use super::{Ctx, St};
use crate::sim::dataset::docs::ConnRecord;
use crate::sim::dataset::lineage::Owner;
use crate::sim::dataset::{Dataset, Target};
use crate::sim::documents::ingest::{self, Credential, Publish, Refusal};
use crate::sim::documents::parse::DocKind;
use crate::sim::documents::{self, write, SiteRef};
use crate::sim::manifest::iso;
use crate::sim::SimState;

const UPLOAD_NOT_FOUND: &str = "404024";

#[derive(Deserialize)]
pub struct ItemPath {
    pub id: String,
}

#[derive(Deserialize)]
pub struct ConnPath {
    pub id: String,
    pub conn: String,
}

#[derive(Deserialize, Default)]
pub struct ContentQuery {
    #[serde(rename = "includeExtract")]
    pub include_extract: Option<String>,
}

fn site_ref(st: &SimState, d: &Dataset) -> SiteRef {
    SiteRef::from_base_url(st.base_url(), &d.site.content_url)
}

fn kind_of(uri_kind: &str) -> DocKind {
    if uri_kind == "datasources" {
        DocKind::Datasource
    } else {
        DocKind::Workbook
    }
}

fn target_of(d: &Dataset, kind: DocKind, id: &str) -> Result<Target, ApiError> {
    match kind {
        DocKind::Workbook => find_workbook(d, id).map(Target::Workbook),
        DocKind::Datasource => find_datasource(d, id).map(Target::Datasource),
    }
}

/// `GET …/workbooks/{id}/content[?includeExtract=false]` and
/// `GET …/datasources/{id}/content`: the file, as an attachment.
pub async fn download(
    ctx: Ctx,
    State(st): St,
    uri: axum::http::Uri,
    Path(path): Path<ItemPath>,
    Query(q): Query<ContentQuery>,
) -> Response {
    let include_extract = !q
        .include_extract
        .as_deref()
        .is_some_and(|v| v.eq_ignore_ascii_case("false"));
    let kind = kind_of(super::resource_kind(&uri));
    let result = {
        let d = st.data();
        target_of(&d, kind, &path.id).and_then(|t| {
            documents::download(&d, t, &site_ref(&st, &d), include_extract).map_err(|e| {
                ApiError::bad_request(
                    "400000",
                    "Bad Request",
                    format!("The stored document cannot be read: {e}"),
                )
            })
        })
    };
    match result {
        Ok((filename, bytes)) => {
            let mut resp = (StatusCode::OK, bytes).into_response();
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            let quoted = filename.replace('"', "'");
            let ascii: String = quoted
                .chars()
                .map(|c| {
                    if c.is_ascii() && !c.is_ascii_control() {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"")) {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            resp
        }
        Err(e) => ctx.error(e),
    }
}

fn connection_el(d: &Dataset, c: &ConnRecord) -> El {
    let mut el = El::new("connection")
        .attr("id", &c.id)
        .attr("type", &c.class)
        .attr("embedPassword", c.embed_password)
        .attr("serverAddress", &c.server)
        .attr("serverPort", &c.port)
        .attr("userName", &c.username)
        .attr("queryTaggingEnabled", false);
    match c.published {
        Some(p) => {
            let x = &d.datasources[p as usize];
            el = el.child(
                El::new("datasource")
                    .attr("id", &x.id)
                    .attr("name", &x.name),
            );
        }
        None => {
            el = el.child(El::new("datasource").attr("name", &c.datasource_name));
        }
    }
    el
}

/// `GET …/workbooks/{id}/connections`, `GET …/datasources/{id}/connections`
pub async fn list_connections(
    ctx: Ctx,
    State(st): St,
    uri: axum::http::Uri,
    Path(path): Path<ItemPath>,
) -> Response {
    let d = &st.data();
    let kind = kind_of(super::resource_kind(&uri));
    ctx.reply(target_of(d, kind, &path.id).map(|t| {
        let conns = write::connections(d, t, &site_ref(&st, d));
        vec![El::collection("connections").children(conns.iter().map(|c| connection_el(d, c)))]
    }))
}

/// `PUT …/workbooks/{id}/connections/{cid}`, `PUT …/datasources/{id}/connections/{cid}`:
/// server address, port, user name, password and whether to embed it.
/// Later reads and downloads show the change.
pub async fn update_connection(
    ctx: Ctx,
    State(st): St,
    uri: axum::http::Uri,
    Path(path): Path<ConnPath>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let kind = kind_of(super::resource_kind(&uri));
    let result = (|| {
        let req = request::parse(&headers, &body)?;
        let node = req.require(&["connection"])?;
        let mut d = st.write();
        let t = target_of(&d, kind, &path.id)?;
        let site = site_ref(&st, &d);
        let mut conns = write::connections(&d, t, &site);
        let c = conns
            .iter_mut()
            .find(|c| c.id == path.conn)
            .ok_or_else(|| ApiError::not_found("404020", "Connection", &path.conn))?;
        if let Some(v) = node.attr("serverAddress") {
            c.server = v.to_string();
        }
        if let Some(v) = node.attr("serverPort") {
            c.port = v.to_string();
        }
        if let Some(v) = node.attr("userName") {
            c.username = v.to_string();
        }
        if let Some(v) = node.attr("embedPassword") {
            c.embed_password = v.eq_ignore_ascii_case("true");
        }
        let id = c.id.clone();
        let el = connection_el(&d, c);
        let (class, server, port, ds_name) = (
            c.class.clone(),
            c.server.clone(),
            c.port.clone(),
            c.datasource_name.clone(),
        );
        let old_server = write::connections(&d, t, &site)
            .into_iter()
            .find(|o| o.id == id)
            .map(|o| o.server)
            .unwrap_or_default();
        if let Some(p) = node.attr("password") {
            d.docs.passwords.insert(id, p.to_string());
        }
        d.docs.conns.insert(t, conns);
        if class != "sqlproxy" {
            let sources: Vec<Owner> = match t {
                Target::Datasource(x) => vec![Owner::Published(x)],
                Target::Workbook(w) => d.workbooks[w as usize]
                    .embedded_datasources
                    .clone()
                    .filter(|&e| {
                        let emb = &d.embedded_datasources[e as usize];
                        emb.published.is_none() && emb.name == ds_name
                    })
                    .map(Owner::Embedded)
                    .collect(),
            };
            ingest::repoint(&mut d, &sources, &class, &old_server, &server, &port);
            st.lineage_changed(d.docs.lineage_epoch);
        }
        let now = st.now();
        match t {
            Target::Workbook(w) => d.workbooks[w as usize].updated_at = now,
            Target::Datasource(x) => d.datasources[x as usize].updated_at = now,
        }
        Ok(vec![el])
    })();
    ctx.reply(result)
}

// --- multipart --------------------------------------------------------------

/// One part of a `multipart/mixed` body.
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub body: Vec<u8>,
}

fn bad_multipart(detail: impl Into<String>) -> ApiError {
    ApiError::bad_request("400000", "Bad Request", detail)
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    (from..=hay.len() - needle.len()).find(|&i| &hay[i..i + needle.len()] == needle)
}

fn disposition_param(value: &str, key: &str) -> Option<String> {
    value.split(';').map(str::trim).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case(key)).then(|| v.trim().trim_matches('"').to_string())
    })
}

/// Splits a multipart body (`multipart/mixed` as Tableau wants it;
/// `multipart/form-data` is read the same way).
pub fn parse_multipart(headers: &HeaderMap, body: &[u8]) -> Result<Vec<Part>, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !ct.to_ascii_lowercase().starts_with("multipart/") {
        return Err(bad_multipart(format!(
            "The request must be multipart/mixed with a request_payload part; its Content-Type is '{ct}'."
        )));
    }
    let boundary = disposition_param(ct, "boundary")
        .filter(|b| !b.is_empty())
        .ok_or_else(|| bad_multipart("The multipart Content-Type has no boundary."))?;
    let delim = format!("--{boundary}").into_bytes();
    let mut at = find(body, &delim, 0).ok_or_else(|| {
        bad_multipart("The multipart body has no part with the declared boundary.")
    })?;
    let mut parts = Vec::new();
    loop {
        at += delim.len();
        if body[at..].starts_with(b"--") {
            break;
        }
        let head_start = at
            + if body[at..].starts_with(b"\r\n") {
                2
            } else {
                0
            };
        let head_end = find(body, b"\r\n\r\n", head_start)
            .ok_or_else(|| bad_multipart("A multipart part has no end of headers."))?;
        let head = String::from_utf8_lossy(&body[head_start..head_end]).into_owned();
        let mut close = Vec::with_capacity(delim.len() + 2);
        close.extend_from_slice(b"\r\n");
        close.extend_from_slice(&delim);
        let next = find(body, &close, head_end + 4).ok_or_else(|| {
            bad_multipart("The multipart body ends inside a part (no closing boundary).")
        })?;
        let mut name = String::new();
        let mut filename = None;
        for line in head.split("\r\n") {
            if let Some((k, v)) = line.split_once(':') {
                if k.trim().eq_ignore_ascii_case("content-disposition") {
                    name = disposition_param(v, "name").unwrap_or_default();
                    filename = disposition_param(v, "filename").filter(|f| !f.is_empty());
                }
            }
        }
        parts.push(Part {
            name,
            filename,
            body: body[head_end + 4..next].to_vec(),
        });
        at = next + 2;
        if at + delim.len() > body.len() {
            return Err(bad_multipart(
                "The multipart body ends without its closing boundary.",
            ));
        }
    }
    Ok(parts)
}

// --- file uploads -----------------------------------------------------------

fn upload_el(id: &str, size: usize) -> El {
    // Tableau reports the size in MB, rounded down.
    El::new("fileUpload")
        .attr("uploadSessionId", id)
        .attr("fileSize", size / (1 << 20))
}

/// `POST /api/{v}/sites/{site}/fileUploads`: starts an upload session.
pub async fn start_upload(ctx: Ctx, State(st): St) -> Response {
    let mut d = st.write();
    let n = d.docs.uploads.len() as u64 + 1;
    let key = crate::sim::dataset::rng::mix(d.seed ^ n.rotate_left(40) ^ d.version);
    let id = format!(
        "{}:{:032x}-1:0",
        1000 + n,
        (key as u128) << 64 | crate::sim::dataset::rng::mix(key) as u128
    );
    d.docs.uploads.insert(id.clone(), Vec::new());
    let el = upload_el(&id, 0);
    drop(d);
    ctx.created(Ok(vec![el]))
}

/// `PUT /api/{v}/sites/{site}/fileUploads/{id}`: appends the `tableau_file`
/// part of a multipart body.
pub async fn append_upload(
    ctx: Ctx,
    State(st): St,
    Path(path): Path<ItemPath>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = (|| {
        let parts = parse_multipart(&headers, &body)?;
        let file = parts
            .into_iter()
            .find(|p| p.name == "tableau_file")
            .ok_or_else(|| bad_multipart("The upload request has no tableau_file part."))?;
        let mut d = st.write();
        let buf = d
            .docs
            .uploads
            .get_mut(&path.id)
            .ok_or_else(|| ApiError::not_found(UPLOAD_NOT_FOUND, "Upload session", &path.id))?;
        buf.extend_from_slice(&file.body);
        Ok(vec![upload_el(&path.id, buf.len())])
    })();
    ctx.reply(result)
}

// --- publishing -------------------------------------------------------------

#[derive(Deserialize, Default)]
pub struct PublishQuery {
    pub overwrite: Option<String>,
    #[serde(rename = "asJob")]
    pub as_job: Option<String>,
    #[serde(rename = "skipConnectionCheck")]
    pub skip_connection_check: Option<String>,
    #[serde(rename = "uploadSessionId")]
    pub upload_session_id: Option<String>,
    #[serde(rename = "workbookType")]
    pub workbook_type: Option<String>,
    #[serde(rename = "datasourceType")]
    pub datasource_type: Option<String>,
    pub append: Option<String>,
}

fn truthy(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

fn credentials(item: &Node) -> Vec<Credential> {
    let cred = |c: &Node, server: &str, port: &str| Credential {
        server: server.to_string(),
        port: port.to_string(),
        username: c.attr("name").unwrap_or_default().to_string(),
        password: c.attr("password").unwrap_or_default().to_string(),
        embed: c
            .attr("embed")
            .is_some_and(|v| v.eq_ignore_ascii_case("true")),
    };
    let mut out: Vec<Credential> = item
        .child("connectionCredentials")
        .map(|c| cred(c, "", ""))
        .into_iter()
        .collect();
    for conn in item
        .child("connections")
        .into_iter()
        .flat_map(|c| c.all("connection"))
    {
        let server = conn.attr("serverAddress").unwrap_or_default();
        let port = conn.attr("serverPort").unwrap_or_default();
        match conn.child("connectionCredentials") {
            Some(c) => out.push(cred(c, server, port)),
            None => out.push(Credential {
                server: server.into(),
                port: port.into(),
                ..Credential::default()
            }),
        }
    }
    out
}

fn publish_job_el(id: &str, kind: DocKind, created: i64) -> El {
    let ty = if kind == DocKind::Workbook {
        "PublishWorkbook"
    } else {
        "PublishDatasource"
    };
    El::new("job")
        .attr("id", id)
        .attr("mode", "Asynchronous")
        .attr("type", ty)
        .attr("progress", 0)
        .attr("createdAt", iso(created))
        .attr("finishCode", 1)
}

/// A publish job as `GET jobs/{id}` shows it: publishing finishes within the
/// request, so the job is done.
pub fn job_el(d: &Dataset, id: &str) -> Option<El> {
    let j = d.docs.jobs.iter().find(|j| j.id == id)?;
    let ty = if j.workbook {
        "PublishWorkbook"
    } else {
        "PublishDatasource"
    };
    Some(
        El::new("job")
            .attr("id", &j.id)
            .attr("mode", "Asynchronous")
            .attr("type", ty)
            .attr("progress", 100)
            .attr("createdAt", iso(j.created_at))
            .attr("startedAt", iso(j.created_at))
            .attr("completedAt", iso(j.created_at))
            .attr("finishCode", 0),
    )
}

fn published_workbook_el(st: &SimState, d: &Dataset, w: u32) -> El {
    let wb = &d.workbooks[w as usize];
    let p = &d.projects[wb.project as usize];
    El::new("workbook")
        .attr("id", &wb.id)
        .attr("name", &wb.name)
        .attr("contentUrl", &wb.content_url)
        .attr(
            "webpageUrl",
            format!(
                "{}/#/site/{}/workbooks/{}",
                st.base_url(),
                d.site.content_url,
                w + 1
            ),
        )
        .attr("showTabs", wb.show_tabs)
        .attr("size", wb.size_mb)
        .attr("createdAt", iso(wb.created_at))
        .attr("updatedAt", iso(wb.updated_at))
        .attr("description", &wb.description)
        .child(El::new("project").attr("id", &p.id).attr("name", &p.name))
        .child(El::new("owner").attr("id", &d.users[wb.owner as usize].id))
        .child(tags_el(&wb.tags))
        .child(El::collection("views").children(wb.views.clone().map(|v| {
            let v = &d.views[v as usize];
            El::new("view")
                .attr("id", &v.id)
                .attr("name", &v.name)
                .attr(
                    "contentUrl",
                    format!("{}/sheets/{}", wb.content_url, v.url_name),
                )
        })))
}

fn published_datasource_el(d: &Dataset, x: u32) -> El {
    let ds = &d.datasources[x as usize];
    let p = &d.projects[ds.project as usize];
    El::new("datasource")
        .attr("id", &ds.id)
        .attr("name", &ds.name)
        .attr("contentUrl", &ds.content_url)
        .attr("type", ds.db_type)
        .attr("description", &ds.description)
        .attr("hasExtracts", ds.has_extracts)
        .attr("createdAt", iso(ds.created_at))
        .attr("updatedAt", iso(ds.updated_at))
        .child(El::new("project").attr("id", &p.id).attr("name", &p.name))
        .child(El::new("owner").attr("id", &d.users[ds.owner as usize].id))
        .child(tags_el(&ds.tags))
}

/// `POST /api/{v}/sites/{site}/workbooks` and `…/datasources`.
pub async fn publish(
    ctx: Ctx,
    State(st): St,
    uri: axum::http::Uri,
    Extension(session): Extension<Session>,
    Query(q): Query<PublishQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let kind = kind_of(super::resource_kind(&uri));
    let result = (|| {
        let parts = parse_multipart(&headers, &body)?;
        let payload = parts
            .iter()
            .find(|p| p.name == "request_payload")
            .ok_or_else(|| bad_multipart("The multipart body has no request_payload part."))?;
        let mut xml_headers = HeaderMap::new();
        xml_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
        let req = request::parse(&xml_headers, &payload.body)?;
        let (elem, file_part, exts): (&str, &str, &[&str]) = match kind {
            DocKind::Workbook => ("workbook", "tableau_workbook", &["twb", "twbx"]),
            DocKind::Datasource => ("datasource", "tableau_datasource", &["tds", "tdsx"]),
        };
        let item = req.require(&[elem])?;
        let name = item.need("name")?.trim().to_string();
        if name.is_empty() {
            return Err(ApiError::malformed_body(format!(
                "The {elem} name must not be empty."
            )));
        }
        let project_id = item.require(&["project"])?.need("id")?.to_string();
        if truthy(&q.append) {
            return Err(ApiError::bad_request("400000", "Bad Request", "This site publishes with overwrite or as new; append is for extract files (.hyper), which it does not take."));
        }
        let declared = match kind {
            DocKind::Workbook => q.workbook_type.clone(),
            DocKind::Datasource => q.datasource_type.clone(),
        };
        let (filename, bytes) = match (
            &q.upload_session_id,
            parts.iter().find(|p| p.name == file_part),
        ) {
            (Some(_), Some(_)) => {
                return Err(bad_multipart(format!(
                    "Send either a {file_part} part or uploadSessionId, not both."
                )))
            }
            (Some(session_id), None) => {
                let d = st.data();
                let bytes = d.docs.uploads.get(session_id).cloned().ok_or_else(|| {
                    ApiError::not_found(UPLOAD_NOT_FOUND, "Upload session", session_id)
                })?;
                let ext = declared.clone().ok_or_else(|| {
                    ApiError::bad_request(
                        "400000",
                        "Bad Request",
                        format!(
                            "Publishing from an upload session needs ?{elem}Type= ({}).",
                            exts.join(" or ")
                        ),
                    )
                })?;
                (format!("{name}.{ext}"), bytes)
            }
            (None, Some(p)) => {
                let filename = p.filename.clone().unwrap_or_else(|| {
                    format!("{name}.{}", declared.as_deref().unwrap_or(exts[0]))
                });
                (filename, p.body.clone())
            }
            (None, None) => {
                return Err(bad_multipart(format!(
                    "The multipart body has no {file_part} part and no uploadSessionId was given."
                )))
            }
        };
        let ext = filename
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        let ext = declared
            .as_deref()
            .map(str::to_ascii_lowercase)
            .unwrap_or(ext);
        if !exts.contains(&ext.as_str()) {
            return Err(ApiError::bad_request(
                "400005",
                "Bad Request",
                format!(
                    "'{ext}' is not a {elem} file type this endpoint publishes; use {}.",
                    exts.join(" or ")
                ),
            ));
        }
        let doc = documents::parse::parse(&bytes).map_err(|e| {
            ApiError::bad_request(
                "400011",
                "Bad Request",
                format!("There was a problem publishing the file '{filename}': {e}"),
            )
        })?;
        let show_tabs = item
            .attr("showTabs")
            .map(|v| v.eq_ignore_ascii_case("true"));
        let tags: Vec<String> = item
            .child("tags")
            .into_iter()
            .flat_map(|t| t.all("tag"))
            .filter_map(|t| t.attr("label").map(str::to_string))
            .collect();
        let mut d = st.write();
        let project = find_project(&d, &project_id)?;
        let site = site_ref(&st, &d);
        let overwrite = truthy(&q.overwrite);
        let request = Publish {
            kind,
            name,
            project,
            owner: session.user,
            description: item.attr("description").map(str::to_string),
            show_tabs,
            tags,
            overwrite,
            filename: filename.clone(),
            bytes,
            credentials: credentials(item),
            now: st.now(),
            site: &site,
        };
        let target = ingest::publish(&mut d, request, &doc).map_err(|r| match r {
            Refusal::Exists(m) => ApiError::conflict("409005", m),
            Refusal::Invalid(m) => ApiError::bad_request(
                "400011",
                "Bad Request",
                format!("There was a problem publishing the file '{filename}': {m}"),
            ),
        })?;
        st.lineage_changed(d.docs.lineage_epoch);
        if let Some(session_id) = &q.upload_session_id {
            d.docs.uploads.remove(session_id);
        }
        if truthy(&q.as_job) {
            let id = crate::sim::rest::content::new_item_id(&d, &format!("publish job {filename}"));
            let now = st.now();
            d.docs.jobs.push(crate::sim::dataset::docs::PublishJob {
                id: id.clone(),
                created_at: now,
                workbook: kind == DocKind::Workbook,
                target,
            });
            return Ok((true, vec![publish_job_el(&id, kind, now)]));
        }
        let el = match target {
            Target::Workbook(w) => published_workbook_el(&st, &d, w),
            Target::Datasource(x) => published_datasource_el(&d, x),
        };
        Ok((false, vec![el]))
    })();
    match result {
        Ok((true, body)) => {
            let mut resp = ctx.ok(body);
            *resp.status_mut() = StatusCode::ACCEPTED;
            resp
        }
        Ok((false, body)) => ctx.created(Ok(body)),
        Err(e) => ctx.error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_parts_are_split_by_their_boundary() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            "multipart/mixed; boundary=XyZ".parse().unwrap(),
        );
        let body = b"--XyZ\r\nContent-Disposition: name=\"request_payload\"\r\nContent-Type: text/xml\r\n\r\n<tsRequest/>\r\n--XyZ\r\nContent-Disposition: name=\"tableau_workbook\"; filename=\"a.twb\"\r\n\r\n<workbook>\r\n</workbook>\r\n--XyZ--\r\n";
        let parts = parse_multipart(&h, body).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "request_payload");
        assert_eq!(parts[0].body, b"<tsRequest/>");
        assert_eq!(parts[1].filename.as_deref(), Some("a.twb"));
        assert_eq!(parts[1].body, b"<workbook>\r\n</workbook>");
        assert!(parse_multipart(
            &h,
            b"--XyZ\r\nContent-Disposition: name=\"a\"\r\n\r\nno end"
        )
        .is_err());
        let mut plain = HeaderMap::new();
        plain.insert(header::CONTENT_TYPE, "text/xml".parse().unwrap());
        assert!(parse_multipart(&plain, body).is_err());
    }
}
