//! `trm tag add|remove`: tags on workbooks, views and datasources, for
//! content named on the command line (`--asset kind:name`), picked by SQL
//! over the warehouse (`--where`), or flagged by the latest audit
//! (`--findings`).
//!
//! Targets are resolved and checked before anything is written; their
//! current tags are read from the site (the warehouse may be a day old),
//! so only items whose tags differ are touched and a rerun plans 0 calls.
//! From REST API 3.9 the calls are Tableau's batch calls
//! (`tags:batchCreate`, `tags:batchDelete`), `batch` items each; before,
//! one call per item (and per tag to remove).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

use anyhow::{bail, Context as _};
use futures::{StreamExt as _, TryStreamExt as _};
use serde_json::{json, Value};

use super::plan::{Call, Plan, WriteMethod};
use super::site;
use crate::tableau::rest::list_all;
use crate::tableau::Client;
use crate::warehouse::read;

/// Longest tag Tableau stores: its repository keeps a tag's name in a
/// 255-character column.
pub const MAX_TAG_CHARS: usize = 255;

/// Items per batch call unless `--batch-size` says otherwise.
pub const DEFAULT_BATCH: usize = 100;

/// What Tableau can tag (through these calls).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Workbook,
    View,
    Datasource,
}

impl Kind {
    /// A kind as people and the warehouse write it. A dashboard is a view;
    /// kinds Tableau cannot tag through REST are refused by name.
    pub fn parse(kind: &str) -> anyhow::Result<Kind> {
        let k = kind.trim().to_ascii_lowercase();
        Ok(match k.trim_end_matches('s') {
            "workbook" => Kind::Workbook,
            "view" | "dashboard" | "sheet" | "story" | "storie" => Kind::View,
            "datasource" | "published_datasource" => Kind::Datasource,
            "project"
            | "user"
            | "group"
            | "field"
            | "column"
            | "table"
            | "database"
            | "site"
            | "schedule"
            | "embedded_datasource"
            | "task" => {
                bail!("Tableau cannot tag a {k} with this command: tag workbooks, views (dashboards) or datasources")
            }
            _ => bail!("unknown kind '{kind}': use workbook, view (or dashboard) or datasource"),
        })
    }

    pub fn item(self) -> &'static str {
        match self {
            Kind::Workbook => "workbook",
            Kind::View => "view",
            Kind::Datasource => "datasource",
        }
    }

    pub fn collection(self) -> &'static str {
        match self {
            Kind::Workbook => "workbooks",
            Kind::View => "views",
            Kind::Datasource => "datasources",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.item())
    }
}

/// An item to tag. `name` is filled in from the site when it is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub kind: Kind,
    pub luid: String,
    pub name: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Add,
    Remove,
}

/// The tags asked for, checked: none empty, none too long, each once
/// (ignoring case, as Tableau does).
pub fn check_tags(tags: &[String]) -> anyhow::Result<Vec<String>> {
    if tags.is_empty() {
        bail!("name at least one tag with --tag");
    }
    let mut out: Vec<String> = Vec::new();
    for (i, t) in tags.iter().enumerate() {
        let t = t.trim();
        if t.is_empty() {
            bail!("--tag #{}: a tag cannot be empty", i + 1);
        }
        let n = t.chars().count();
        if n > MAX_TAG_CHARS {
            bail!("--tag #{}: the tag is {n} characters long; Tableau allows at most {MAX_TAG_CHARS}", i + 1);
        }
        if !out.iter().any(|o| o.to_lowercase() == t.to_lowercase()) {
            out.push(t.to_string());
        }
    }
    Ok(out)
}

/// `kind:name` from `--asset`.
pub fn parse_asset(spec: &str) -> anyhow::Result<(Kind, String)> {
    let Some((kind, name)) = spec.split_once(':') else {
        bail!("--asset {spec:?}: write kind:name, e.g. workbook:\"Exec Overview\"");
    };
    let kind = Kind::parse(kind).with_context(|| format!("--asset {spec:?}"))?;
    let name = name.trim().trim_matches('"');
    if name.is_empty() {
        bail!("--asset {spec:?}: the name is empty");
    }
    Ok((kind, name.to_string()))
}

fn dedup(mut targets: Vec<Target>) -> Vec<Target> {
    let mut seen = std::collections::HashSet::new();
    targets.retain(|t| seen.insert((t.kind, t.luid.clone())));
    targets
}

/// The items `sql` returns: it runs on the warehouse (read-only) and must
/// return exactly the columns `kind` and `id`.
pub fn targets_from_sql(db: &Path, sql: &str) -> anyhow::Result<Vec<Target>> {
    let conn = read::open(db)?;
    let mut stmt = conn.prepare(sql).with_context(|| format!("--where: the SQL fails on {}", db.display()))?;
    let mut rows = stmt.query([]).with_context(|| format!("--where: the SQL fails on {}", db.display()))?;
    let columns: Vec<String> = rows.as_ref().map(|s| s.column_names()).unwrap_or_default();
    let mut lower: Vec<String> = columns.iter().map(|c| c.to_ascii_lowercase()).collect();
    lower.sort();
    if lower != ["id", "kind"] {
        bail!("--where: the SQL must return exactly the columns kind and id; it returns {}", columns.join(", "));
    }
    let kind_at = columns.iter().position(|c| c.eq_ignore_ascii_case("kind")).expect("checked");
    let id_at = 1 - kind_at;
    let mut out = Vec::new();
    let mut n = 0usize;
    while let Some(r) = rows.next().context("--where: cannot read the SQL's rows")? {
        n += 1;
        let kind: Option<String> = r.get(kind_at).with_context(|| format!("--where: row {n}: kind is not text"))?;
        let id: Option<String> = r.get(id_at).with_context(|| format!("--where: row {n}: id is not text"))?;
        let (Some(kind), Some(id)) = (kind, id) else { bail!("--where: row {n}: kind and id must not be null") };
        let kind = Kind::parse(&kind).with_context(|| format!("--where: row {n} (id {id})"))?;
        out.push(Target { kind, luid: id, name: String::new() });
    }
    Ok(dedup(out))
}

/// The items the latest run's audit flagged with these detectors (and
/// severity). An unaudited latest run is an error: its findings would be
/// another run's.
pub fn targets_from_findings(db: &Path, detectors: &[String], severity: Option<&str>) -> anyhow::Result<Vec<Target>> {
    let known: Vec<&str> = crate::audit::DETECTORS.iter().map(|(d, _)| *d).collect();
    if detectors.is_empty() {
        bail!("--findings: name at least one detector ({})", known.join(", "));
    }
    for d in detectors {
        if !known.contains(&d.as_str()) {
            bail!("--findings: unknown detector '{d}': use {}", known.join(", "));
        }
        if d == "missing_field" {
            bail!("--findings missing_field: those findings name fields, which Tableau cannot tag");
        }
    }
    if let Some(s) = severity {
        if !["high", "medium", "low"].contains(&s) {
            bail!("--severity '{s}': use high, medium or low");
        }
    }
    let conn = read::open(db)?;
    let run = read::resolve_run(&conn, db, None)?;
    let audited: i64 = conn
        .query_row("SELECT count(*) FROM run_tables WHERE run_id = ? AND table_name = 'findings'", [&run.run_id], |r| {
            r.get(0)
        })
        .with_context(|| format!("cannot read run_tables in {}", db.display()))?;
    if audited == 0 {
        bail!("the latest run ({}) has no findings yet; run `trm audit` first", run.run_id);
    }
    let list: Vec<String> = detectors.iter().map(|d| format!("'{}'", d.replace('\'', "''"))).collect();
    let mut sql = format!(
        "SELECT asset_kind, asset_luid, coalesce(asset_name, '') FROM hist_findings \
         WHERE run_id = ? AND detector IN ({}) AND asset_luid IS NOT NULL",
        list.join(", ")
    );
    if let Some(s) = severity {
        sql.push_str(&format!(" AND severity = '{s}'"));
    }
    sql.push_str(" ORDER BY asset_kind, asset_name, asset_luid");
    let mut stmt = conn.prepare(&sql).with_context(|| format!("cannot read findings in {}", db.display()))?;
    let rows = stmt
        .query_map([&run.run_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))
        .with_context(|| format!("cannot read findings in {}", db.display()))?;
    let mut out = Vec::new();
    for row in rows {
        let (kind, luid, name) = row?;
        out.push(Target { kind: Kind::parse(&kind)?, luid, name });
    }
    Ok(dedup(out))
}

/// The items `--asset kind:name` names, found on the site by name (and
/// `project`, a path or a project name, when given).
pub async fn resolve_assets(
    client: &Client,
    specs: &[(Kind, String)],
    project: Option<&str>,
) -> anyhow::Result<Vec<Target>> {
    let projects = site::projects(client).await?;
    let mut out = Vec::new();
    for (kind, name) in specs {
        let found = site::find_content(client, kind.item(), name, project, &projects)
            .await
            .with_context(|| format!("--asset {kind}:{name}"))?;
        out.push(Target { kind: *kind, luid: found.luid, name: found.name });
    }
    Ok(dedup(out))
}

/// `{"tags": {"tag": [{"label": …}]}}` → labels.
fn labels(item: &Value) -> Vec<String> {
    match &item["tags"]["tag"] {
        Value::Array(a) => a.iter().filter_map(|t| t["label"].as_str().map(str::to_string)).collect(),
        Value::Object(_) => item["tags"]["tag"]["label"].as_str().map(|l| vec![l.to_string()]).unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// Up to this many items of a kind are read one by one; more, and the
/// whole collection is listed (a page holds 1,000).
const READ_ONE_BY_ONE: usize = 20;

/// Each target's current tags, read from the site; fills in names. An id
/// the site does not have is an error naming it.
pub async fn current_tags(
    client: &Client,
    targets: &mut [Target],
) -> anyhow::Result<HashMap<(Kind, String), Vec<String>>> {
    let mut by_kind: BTreeMap<Kind, Vec<usize>> = BTreeMap::new();
    for (i, t) in targets.iter().enumerate() {
        by_kind.entry(t.kind).or_default().push(i);
    }
    let mut found: HashMap<(Kind, String), (String, Vec<String>)> = HashMap::new();
    for (kind, idx) in &by_kind {
        if idx.len() <= READ_ONE_BY_ONE {
            let items: Vec<Option<Value>> = futures::stream::iter(idx.iter().map(|&i| {
                let path = client.site_path(&format!("{}/{}", kind.collection(), targets[i].luid));
                async move {
                    match client.get_json(&path, &[]).await {
                        Ok(v) => Ok(Some(v[kind.item()].clone())),
                        Err(e) if e.status() == Some(404) || e.status() == Some(400) => Ok(None),
                        Err(e) => Err(e),
                    }
                }
            }))
            .buffered(client.concurrency())
            .try_collect()
            .await?;
            for item in items.into_iter().flatten() {
                if let Some(id) = item["id"].as_str() {
                    found.insert(
                        (*kind, id.to_string()),
                        (item["name"].as_str().unwrap_or_default().to_string(), labels(&item)),
                    );
                }
            }
        } else {
            let items =
                list_all(client, &client.site_path(kind.collection()), kind.collection(), kind.item(), &[]).await?;
            for item in items {
                if let Some(id) = item["id"].as_str() {
                    found.insert(
                        (*kind, id.to_string()),
                        (item["name"].as_str().unwrap_or_default().to_string(), labels(&item)),
                    );
                }
            }
        }
    }
    let mut out = HashMap::new();
    let mut missing = Vec::new();
    for t in targets.iter_mut() {
        match found.get(&(t.kind, t.luid.clone())) {
            Some((name, tags)) => {
                if t.name.is_empty() {
                    t.name = name.clone();
                }
                out.insert((t.kind, t.luid.clone()), tags.clone());
            }
            None => missing.push(format!("{} {}", t.kind, t.luid)),
        }
    }
    if !missing.is_empty() {
        let shown: Vec<&str> = missing.iter().take(10).map(String::as_str).collect();
        bail!(
            "{} asset(s) are not on the site (unknown id, or not visible to this user): {}{}",
            missing.len(),
            shown.join(", "),
            if missing.len() > 10 { ", …" } else { "" }
        );
    }
    Ok(out)
}

/// Whether the server's REST API has the batch calls (3.9 and later).
pub fn batch_supported(api_version: &str) -> bool {
    let mut parts = api_version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (3, 9)
}

/// A path segment with everything but unreserved characters escaped.
fn segment(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn tag_list(tags: &[String]) -> String {
    tags.iter().map(|t| format!("{t:?}")).collect::<Vec<_>>().join(", ")
}

fn tags_body(tags: &[String]) -> Value {
    json!({"tag": tags.iter().map(|t| json!({"label": t})).collect::<Vec<_>>()})
}

/// The calls that bring every target to having (`Add`) or not having
/// (`Remove`) `tags`. `batch`: items per batch call, or `None` for one
/// call per item.
pub fn plan(
    op: Op,
    tags: &[String],
    targets: &[Target],
    current: &HashMap<(Kind, String), Vec<String>>,
    batch: Option<usize>,
) -> Plan {
    let mut plan = Plan::new();
    let none = Vec::new();
    // Per item, the tags to change, spelled as the call needs them: as
    // asked for when adding, as the site has them when removing.
    let mut changes: Vec<(&Target, Vec<String>)> = Vec::new();
    let mut unchanged = 0usize;
    for t in targets {
        let have = current.get(&(t.kind, t.luid.clone())).unwrap_or(&none);
        let has = |tag: &str| have.iter().find(|h| h.to_lowercase() == tag.to_lowercase());
        let change: Vec<String> = match op {
            Op::Add => tags.iter().filter(|t| has(t).is_none()).cloned().collect(),
            Op::Remove => tags.iter().filter_map(|t| has(t).cloned()).collect(),
        };
        if change.is_empty() {
            unchanged += 1;
        } else {
            changes.push((t, change));
        }
    }
    let verb = match op {
        Op::Add => "add",
        Op::Remove => "remove",
    };
    if unchanged > 0 {
        let state = match op {
            Op::Add => "already have",
            Op::Remove => "do not have",
        };
        plan.note(None, format!("{unchanged} of {} item(s) {state} the tag(s): not touched", targets.len()));
    }
    match batch {
        Some(size) => {
            let size = size.max(1);
            // Items needing the same change share batch calls.
            let mut groups: BTreeMap<Vec<String>, Vec<&Target>> = BTreeMap::new();
            for (t, change) in &changes {
                groups.entry(change.clone()).or_default().push(*t);
            }
            let (path, action) = match op {
                Op::Add => ("tags:batchCreate", "add tags (batch)"),
                Op::Remove => ("tags:batchDelete", "remove tags (batch)"),
            };
            for (labels, items) in groups {
                for chunk in items.chunks(size) {
                    let contents: Vec<Value> =
                        chunk.iter().map(|t| json!({"id": t.luid, "contentType": t.kind.item()})).collect();
                    let first = chunk.first().map(|t| format!("{} {:?}", t.kind, t.name)).unwrap_or_default();
                    let summary = format!(
                        "{verb} {} on {} item(s): {first}{}",
                        tag_list(&labels),
                        chunk.len(),
                        if chunk.len() > 1 { ", …" } else { "" }
                    );
                    let body = json!({"tagBatch": {"tags": tags_body(&labels), "contents": {"content": contents}}});
                    plan.push(Call::site(WriteMethod::Put, path, action, summary).body(body));
                }
            }
        }
        None => {
            for (t, change) in &changes {
                let base = format!("{}/{}/tags", t.kind.collection(), t.luid);
                match op {
                    Op::Add => plan.push(
                        Call::site(
                            WriteMethod::Put,
                            base,
                            "add tags",
                            format!("add {} to {} {:?}", tag_list(change), t.kind, t.name),
                        )
                        .body(json!({"tags": tags_body(change)}))
                        .unit(format!("{} {}", t.kind, t.luid)),
                    ),
                    Op::Remove => {
                        for tag in change {
                            plan.push(
                                Call::site(
                                    WriteMethod::Delete,
                                    format!("{base}/{}", segment(tag)),
                                    "remove tag",
                                    format!("remove {tag:?} from {} {:?}", t.kind, t.name),
                                )
                                .unit(format!("{} {}", t.kind, t.luid)),
                            )
                        }
                    }
                }
            }
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(kind: Kind, id: &str) -> Target {
        Target { kind, luid: id.into(), name: format!("n{id}") }
    }

    #[test]
    fn tags_are_checked_before_anything() {
        assert_eq!(check_tags(&["a".into(), " A ".into(), "b c".into()]).unwrap(), vec!["a", "b c"]);
        assert!(check_tags(&[" ".into()]).unwrap_err().to_string().contains("cannot be empty"));
        assert!(check_tags(&["x".repeat(256)]).unwrap_err().to_string().contains("at most 255"));
        assert!(check_tags(&["é".repeat(255)]).is_ok(), "the limit counts characters, not bytes");
        assert!(check_tags(&[]).is_err());
    }

    #[test]
    fn assets_name_a_taggable_kind() {
        assert_eq!(parse_asset("workbook:Sales").unwrap(), (Kind::Workbook, "Sales".into()));
        assert_eq!(parse_asset("dashboard:\"Exec: Overview\"").unwrap(), (Kind::View, "Exec: Overview".into()));
        let e = format!("{:#}", parse_asset("project:Finance").unwrap_err());
        assert!(e.contains("cannot tag a project"), "{e}");
        assert!(format!("{:#}", parse_asset("flowz:x").unwrap_err()).contains("unknown kind"));
        assert!(parse_asset("Sales").is_err());
        assert!(parse_asset("workbook:").is_err());
    }

    #[test]
    fn batches_hold_at_most_the_batch_size_and_skip_items_already_tagged() {
        let targets: Vec<Target> = (0..7).map(|i| target(Kind::View, &format!("v{i}"))).collect();
        let mut current = HashMap::new();
        for t in &targets {
            current.insert((t.kind, t.luid.clone()), Vec::new());
        }
        current.insert((Kind::View, "v3".into()), vec!["Unused".into()]);
        let tags = vec!["unused".to_string()];
        let p = plan(Op::Add, &tags, &targets, &current, Some(4));
        assert_eq!(p.len(), 2, "6 items to tag, 4 per call");
        assert_eq!(p.calls[0].path, "tags:batchCreate");
        let n: Vec<usize> = p
            .calls
            .iter()
            .map(|c| c.body.as_ref().unwrap()["tagBatch"]["contents"]["content"].as_array().unwrap().len())
            .collect();
        assert_eq!(n, vec![4, 2]);
        assert_eq!(p.calls[0].body.as_ref().unwrap()["tagBatch"]["contents"]["content"][0]["contentType"], "view");

        let per_item = plan(Op::Add, &tags, &targets, &current, None);
        assert_eq!(per_item.len(), 6);
        assert_eq!(per_item.calls[0].path, "views/v0/tags");

        let removing = plan(Op::Remove, &tags, &targets, &current, None);
        assert_eq!(removing.len(), 1, "only v3 has the tag");
        assert_eq!(removing.calls[0].path, "views/v3/tags/Unused", "removed as the site spells it");
        assert!(plan(
            Op::Remove,
            &["a b/c".into()],
            &targets[..1],
            &HashMap::from([((Kind::View, "v0".into()), vec!["A b/c".into()])]),
            None
        )
        .calls[0]
            .path
            .ends_with("/tags/A%20b%2Fc"));
    }

    #[test]
    fn the_batch_calls_start_at_api_3_9() {
        assert!(batch_supported("3.9") && batch_supported("3.27") && batch_supported("4.0"));
        assert!(!batch_supported("3.8") && !batch_supported("2.8"));
    }
}
