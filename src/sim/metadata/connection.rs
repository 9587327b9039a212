//! `*Connection` fields, at the root and nested in nodes, and the `filter`
//! and `orderBy` arguments of lists: filter, order, page, as Tableau
//! documents them.
//!
//! - `first` defaults to 100; above the maximum page size it is capped and a
//!   `MAX_PAGE_SIZE_EXCEEDED` warning is added.
//! - `after` and `offset` together are an `INVALID_ARGUMENT` error.
//! - Cursors are opaque strings naming a position in the ordered result, so
//!   paging is stable for a given filter and `orderBy`.
//! - Without `orderBy`, results are ordered by `id` ascending; ties in any
//!   order are broken by `id`.

use std::cmp::Ordering;
use std::sync::Arc;

use async_graphql::dynamic::ObjectAccessor;
use async_graphql::{Error, ErrorExtensions};

use super::graph::{resolve, uuid_key, Index, Out, N};
use super::{Budget, Metadata};
use crate::sim::dataset::lineage::FieldKind;
use crate::sim::dataset::Dataset;

/// One page of a root connection, as the parent of `nodes`/`pageInfo`.
pub struct Conn {
    pub nodes: Vec<N>,
    pub total: usize,
    pub page_info: PageInfo,
}

#[derive(Clone)]
pub struct PageInfo {
    pub end_cursor: Option<String>,
    pub has_next_page: bool,
}

const USERS: &str = "tableauUsersConnection";

/// The node kinds a root connection lists, by field name.
fn members(d: &Dataset, field: &str) -> Option<Vec<N>> {
    let l = &d.lineage;
    let fields_of = |keep: &dyn Fn(FieldKind) -> bool| -> Vec<N> {
        (0..l.fields.len() as u32).filter(|&f| keep(l.fields[f as usize].kind)).map(N::Field).collect()
    };
    Some(match field {
        "workbooksConnection" => (0..d.workbooks.len() as u32).map(N::Workbook).collect(),
        "dashboardsConnection" => (0..l.dashboards.len() as u32).map(N::Dashboard).collect(),
        "sheetsConnection" => (0..l.sheets.len() as u32).map(N::Sheet).collect(),
        "publishedDatasourcesConnection" => (0..d.datasources.len() as u32).map(N::Published).collect(),
        "embeddedDatasourcesConnection" => (0..d.embedded_datasources.len() as u32).map(N::Embedded).collect(),
        "databaseServersConnection" => (0..l.databases.len() as u32).map(N::Database).collect(),
        "databaseTablesConnection" => {
            (0..l.tables.len() as u32).filter(|&t| l.tables[t as usize].query.is_none()).map(N::Table).collect()
        }
        "customSQLTablesConnection" => {
            (0..l.tables.len() as u32).filter(|&t| l.tables[t as usize].query.is_some()).map(N::Table).collect()
        }
        "columnsConnection" => (0..l.tables.len() as u32).flat_map(|t| l.live_columns(t)).map(N::Column).collect(),
        "fieldsConnection" => fields_of(&|_| true),
        "calculatedFieldsConnection" => fields_of(&|k| k == FieldKind::Calculated),
        "columnFieldsConnection" => fields_of(&|k| k == FieldKind::Column),
        "datasourceFieldsConnection" => fields_of(&|k| k == FieldKind::Datasource),
        "dataQualityWarningsConnection" => (0..l.warnings.len() as u32).map(N::Warning).collect(),
        "tableauUsersConnection" => d.live_users().map(N::User).collect(),
        // Roots over an interface list every implementer the dataset models.
        "datasourcesConnection" => (0..d.datasources.len() as u32)
            .map(N::Published)
            .chain((0..d.embedded_datasources.len() as u32).map(N::Embedded))
            .collect(),
        "tablesConnection" => (0..l.tables.len() as u32).map(N::Table).collect(),
        "databasesConnection" => (0..l.databases.len() as u32).map(N::Database).collect(),
        "viewsConnection" => {
            (0..l.sheets.len() as u32).map(N::Sheet).chain((0..l.dashboards.len() as u32).map(N::Dashboard)).collect()
        }
        "tagsConnection" => (0..d.tag_labels.len() as u32).map(N::Tag).collect(),
        _ => return None,
    })
}

pub fn invalid_argument(message: impl Into<String>) -> Error {
    Error::new(message).extend_with(|_, e| {
        e.set("severity", "ERROR");
        e.set("code", "INVALID_ARGUMENT");
    })
}

fn encode_cursor(field: &str, position: usize) -> String {
    format!("{field}:{position}").bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_cursor(field: &str, cursor: &str) -> Option<usize> {
    if cursor.len() % 2 != 0 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..cursor.len()).step_by(2).map(|i| u8::from_str_radix(&cursor[i..i + 2], 16).ok()).collect();
    let text = String::from_utf8(bytes?).ok()?;
    let (name, pos) = text.rsplit_once(':')?;
    (name == field).then(|| pos.parse().ok()).flatten()
}

/// The nodes a connection starts from: looked up by id when the filter
/// names ids (so `idWithin` batches stay cheap), else every member.
fn candidates(d: &Dataset, ix: &Index, field: &str, filter: Option<ObjectAccessor<'_>>) -> Option<Vec<N>> {
    let ids = filter.as_ref().and_then(|f| {
        let one = f.get("id").and_then(|v| v.string().ok().map(|s| vec![s.to_string()]));
        let many = f.get("idWithin").and_then(|v| v.list().ok().map(|l| l.iter().filter_map(|x| x.string().ok().map(str::to_string)).collect::<Vec<_>>()));
        one.or(many)
    });
    match ids {
        Some(ids) => {
            let kind = members_kind(field)?;
            Some(ids.iter().filter_map(|i| uuid_key(i)).filter_map(|k| lookup(d, ix, k, false, field == USERS)).filter(|n| kind(d, *n)).collect())
        }
        None => members(d, field),
    }
}

/// The node with a Metadata API id (or, with `luid`, a REST LUID). Users
/// change through the REST API, so with `users` they are looked up in the
/// dataset, not in the index built at start.
fn lookup(d: &Dataset, ix: &Index, key: u128, luid: bool, users: bool) -> Option<N> {
    let map = if luid { &ix.by_luid } else { &ix.by_id };
    if !users {
        return map.get(&key).copied();
    }
    map.get(&key).copied().or_else(|| {
        let ids = if luid { None } else { Some(&d.lineage.user_ids) };
        d.live_users().find(|&u| {
            let id = match ids {
                Some(ids) => &ids[u as usize],
                None => &d.users[u as usize].id,
            };
            uuid_key(id) == Some(key)
        })
        .map(N::User)
    })
}

/// Whether a node belongs to a connection, for id lookups.
fn members_kind(field: &str) -> Option<fn(&Dataset, N) -> bool> {
    fn field_kind(d: &Dataset, n: N, k: Option<FieldKind>) -> bool {
        matches!(n, N::Field(f) if k.is_none_or(|k| d.lineage.fields[f as usize].kind == k))
    }
    Some(match field {
        "workbooksConnection" => |_, n| matches!(n, N::Workbook(_)),
        "dashboardsConnection" => |_, n| matches!(n, N::Dashboard(_)),
        "sheetsConnection" => |_, n| matches!(n, N::Sheet(_)),
        "publishedDatasourcesConnection" => |_, n| matches!(n, N::Published(_)),
        "embeddedDatasourcesConnection" => |_, n| matches!(n, N::Embedded(_)),
        "databaseServersConnection" => |_, n| matches!(n, N::Database(_)),
        "databaseTablesConnection" => |d, n| matches!(n, N::Table(t) if d.lineage.tables[t as usize].query.is_none()),
        "customSQLTablesConnection" => |d, n| matches!(n, N::Table(t) if d.lineage.tables[t as usize].query.is_some()),
        "columnsConnection" => |d, n| {
            matches!(n, N::Column(c) if {
                let col = &d.lineage.columns[c as usize];
                !col.dropped && !d.lineage.tables[col.table as usize].gone
            })
        },
        "fieldsConnection" => |d, n| field_kind(d, n, None),
        "calculatedFieldsConnection" => |d, n| field_kind(d, n, Some(FieldKind::Calculated)),
        "columnFieldsConnection" => |d, n| field_kind(d, n, Some(FieldKind::Column)),
        "datasourceFieldsConnection" => |d, n| field_kind(d, n, Some(FieldKind::Datasource)),
        "dataQualityWarningsConnection" => |_, n| matches!(n, N::Warning(_)),
        "tableauUsersConnection" => |d, n| matches!(n, N::User(u) if !d.users[u as usize].deleted),
        "datasourcesConnection" => |_, n| matches!(n, N::Published(_) | N::Embedded(_)),
        "tablesConnection" => |_, n| matches!(n, N::Table(_)),
        "databasesConnection" => |_, n| matches!(n, N::Database(_)),
        "viewsConnection" => |_, n| matches!(n, N::Sheet(_) | N::Dashboard(_)),
        "tagsConnection" => |_, n| matches!(n, N::Tag(_)),
        _ => return None,
    })
}

/// The value of a scalar field as text, for filters and ordering.
fn scalar(d: &Dataset, now: i64, ix: &Index, n: N, field: &str) -> Option<String> {
    match resolve(d, now, ix, n, field) {
        Out::Str(s) => Some(s),
        Out::Bool(b) => Some(b.to_string()),
        Out::Int(i) => Some(i.to_string()),
        Out::Enum(e) => Some(e.to_string()),
        _ => None,
    }
}

/// `PROJECT_NAME` → `projectName`.
fn camel(order_field: &str) -> String {
    let mut out = String::new();
    for (i, part) in order_field.split('_').enumerate() {
        let lower = part.to_ascii_lowercase();
        if i == 0 {
            out.push_str(&lower);
        } else {
            let mut c = lower.chars();
            if let Some(f) = c.next() {
                out.extend(f.to_uppercase());
                out.push_str(c.as_str());
            }
        }
    }
    out
}

fn accessor_text(v: &async_graphql::dynamic::ValueAccessor<'_>) -> Option<String> {
    match v.as_value() {
        async_graphql::Value::String(s) => Some(s.clone()),
        async_graphql::Value::Boolean(b) => Some(b.to_string()),
        async_graphql::Value::Number(n) => Some(n.to_string()),
        async_graphql::Value::Enum(e) => Some(e.to_string()),
        _ => None,
    }
}

/// Applies `filter`: `x` matches field `x`, `xWithin` matches any listed value.
/// `root` names the root connection the nodes come from, whose ids are
/// looked up in the index; nodes of a nested list compare their own ids.
fn filtered(
    d: &Dataset,
    now: i64,
    ix: &Index,
    root: Option<&str>,
    mut nodes: Vec<N>,
    filter: Option<ObjectAccessor<'_>>,
) -> Result<Vec<N>, Error> {
    let Some(filter) = filter else { return Ok(nodes) };
    for (key, value) in filter.iter() {
        if value.is_null() {
            continue;
        }
        let (field, wanted): (&str, Vec<String>) = match key.as_str().strip_suffix("Within") {
            Some(base) => {
                let list = value.list()?;
                (base, list.iter().filter_map(|v| accessor_text(&v)).collect())
            }
            None => (key.as_str(), accessor_text(&value).into_iter().collect()),
        };
        if wanted.iter().any(|w| w.trim().is_empty() || w.trim() == "'") {
            return Err(invalid_argument(
                "A text filter can’t contain only the following characters: spaces or a single quotation mark. \
                 Replace the invalid characters and try again.",
            ));
        }
        // Ids and LUIDs narrow by lookup first: `idWithin` batches stay cheap.
        if matches!(field, "id" | "luid") {
            match root {
                Some(connection) => {
                    let hits: std::collections::HashSet<N> = wanted
                        .iter()
                        .filter_map(|w| uuid_key(w))
                        .filter_map(|k| lookup(d, ix, k, field == "luid", connection == USERS))
                        .collect();
                    nodes.retain(|n| hits.contains(n));
                }
                None => {
                    let keys: std::collections::HashSet<u128> = wanted.iter().filter_map(|w| uuid_key(w)).collect();
                    nodes.retain(|&n| scalar(d, now, ix, n, field).and_then(|v| uuid_key(&v)).is_some_and(|k| keys.contains(&k)));
                }
            }
            continue;
        }
        nodes.retain(|&n| scalar(d, now, ix, n, field).is_some_and(|v| wanted.contains(&v)));
    }
    Ok(nodes)
}

fn ordered(d: &Dataset, now: i64, ix: &Index, mut nodes: Vec<N>, order: Option<ObjectAccessor<'_>>) -> Result<Vec<N>, Error> {
    let (field, desc) = match order {
        Some(o) => {
            let field = o.try_get("field")?.enum_name()?.to_string();
            let desc = o.try_get("direction")?.enum_name()? == "DESC";
            (camel(&field), desc)
        }
        None => ("id".to_string(), false),
    };
    let mut keyed: Vec<(Option<String>, String, N)> = nodes
        .drain(..)
        .map(|n| {
            let id = scalar(d, now, ix, n, "id").unwrap_or_default();
            let key = if field == "id" { None } else { scalar(d, now, ix, n, &field) };
            (key, id, n)
        })
        .collect();
    keyed.sort_by(|a, b| {
        let primary = if field == "id" { a.1.cmp(&b.1) } else { a.0.cmp(&b.0) };
        let primary = if desc { primary.reverse() } else { primary };
        match primary {
            Ordering::Equal => a.1.cmp(&b.1),
            o => o,
        }
    });
    Ok(keyed.into_iter().map(|(_, _, n)| n).collect())
}

/// Where a page starts and how many nodes it holds.
struct Paging {
    first: usize,
    start: usize,
    after: Option<String>,
}

/// Reads `first`, `after` and `offset` as every connection does; `scope`
/// names the connection its cursors belong to.
fn paging(budget: &Budget, scope: &str, args: &ObjectAccessor<'_>) -> Result<Paging, Error> {
    let after = args.get("after").filter(|v| !v.is_null()).map(|v| v.string().map(str::to_string)).transpose()?;
    let offset = args.get("offset").filter(|v| !v.is_null()).map(|v| v.i64()).transpose()?;
    if after.is_some() && offset.is_some() {
        return Err(invalid_argument(
            "Can’t use “after” and “offset” pagination at the same time. Remove one of the arguments from the query.",
        ));
    }
    let requested = args.get("first").filter(|v| !v.is_null()).map(|v| v.i64()).transpose()?;
    let max = budget.limits.max_page_size;
    let first = match requested {
        None => budget.limits.default_page_size,
        Some(n) if n < 0 => return Err(invalid_argument(format!("“first” must not be negative, got {n}."))),
        Some(n) if n as usize > max => {
            budget.warn(
                "MAX_PAGE_SIZE_EXCEEDED",
                format!(
                    "The value chosen for “first” ({n}) exceeded the maximum page size, so the query results will be \
                     limited to the maximum page size ({max}) instead of the value chosen for “first”."
                ),
                Some(("maxPageSize", max)),
            );
            max
        }
        Some(n) => n as usize,
    };
    let start = match (&after, offset) {
        (Some(c), _) => {
            decode_cursor(scope, c).ok_or_else(|| {
                invalid_argument("The query contains an invalid cursor. Make sure to use cursors of the same type.")
            })? + 1
        }
        (None, Some(o)) if o < 0 => return Err(invalid_argument(format!("“offset” must not be negative, got {o}."))),
        (None, Some(o)) => o as usize,
        (None, None) => 0,
    };
    Ok(Paging { first, start, after })
}

fn page(scope: &str, nodes: &[N], p: Paging) -> Conn {
    let total = nodes.len();
    let end = (p.start + p.first).min(total);
    let page: Vec<N> = if p.start < total { nodes[p.start..end].to_vec() } else { Vec::new() };
    let end_cursor = match page.len() {
        0 => p.after,
        n => Some(encode_cursor(scope, p.start + n - 1)),
    };
    Conn { nodes: page, total, page_info: PageInfo { end_cursor, has_next_page: end < total } }
}

/// The filtered, ordered nodes of the root connection `connection`, or
/// `None` when the dataset does not model what it lists.
fn root_nodes(d: &Dataset, now: i64, md: &Metadata, connection: &str, args: &ObjectAccessor<'_>) -> Result<Option<Arc<Vec<N>>>, Error> {
    if members_kind(connection).is_none() {
        return Ok(None);
    }
    let ix = &md.index;
    let filter = args.get("filter").filter(|v| !v.is_null());
    let order = args.get("orderBy").filter(|v| !v.is_null());
    // Writes change users, tags and extract facts, not the catalog: only
    // connections over content, users and tags are keyed by the dataset version.
    let version = match connection {
        "workbooksConnection" | "publishedDatasourcesConnection" | "embeddedDatasourcesConnection"
        | "sheetsConnection" | "dashboardsConnection" | "tableauUsersConnection" | "datasourcesConnection"
        | "viewsConnection" | "tagsConnection" => d.version,
        _ => 0,
    };
    let key = format!(
        "{connection}|{version}|{}|{}",
        filter.as_ref().map(|f| f.as_value().to_string()).unwrap_or_default(),
        order.as_ref().map(|o| o.as_value().to_string()).unwrap_or_default()
    );
    md.cached(&key, || {
        let all = candidates(d, ix, connection, filter.as_ref().map(|f| f.object()).transpose()?)
            .ok_or_else(|| Error::new(format!("Unknown root field '{connection}'")))?;
        let kept = filtered(d, now, ix, Some(connection), all, filter.as_ref().map(|f| f.object()).transpose()?)?;
        ordered(d, now, ix, kept, order.as_ref().map(|o| o.object()).transpose()?)
    })
    .map(Some)
}

/// Resolves a root connection field. A connection over things the dataset
/// does not model pages through nothing, by the same rules.
/// With `churn`, only the nodes it lists now.
pub fn root(
    d: &Dataset,
    now: i64,
    md: &Metadata,
    budget: &Budget,
    field: &str,
    args: &ObjectAccessor<'_>,
    churn: Option<&crate::sim::churn::Churning>,
) -> Result<Conn, Error> {
    let p = paging(budget, field, args)?;
    Ok(match root_nodes(d, now, md, field, args)? {
        Some(nodes) => match churn {
            Some(c) => page(field, &nodes.iter().copied().filter(|&n| c.listed(n)).collect::<Vec<_>>(), p),
            None => page(field, &nodes, p),
        },
        None => page(field, &[], p),
    })
}

/// Resolves a root list (`workbooks`, beside `workbooksConnection`): the
/// connection's filtered, ordered nodes, unpaged. `None` when not modeled.
pub fn root_list(d: &Dataset, now: i64, md: &Metadata, field: &str, args: &ObjectAccessor<'_>) -> Result<Option<Arc<Vec<N>>>, Error> {
    root_nodes(d, now, md, &format!("{field}Connection"), args)
}

/// Resolves a nested connection (`Workbook.sheetsConnection`) over the
/// nodes of its list field: filtered, ordered (by `id` unless `orderBy`
/// says otherwise) and paged as root connections are. `scope` names it
/// for its cursors.
pub fn nested(d: &Dataset, now: i64, ix: &Index, budget: &Budget, scope: &str, list: Vec<N>, args: &ObjectAccessor<'_>) -> Result<Conn, Error> {
    let p = paging(budget, scope, args)?;
    let filter = args.get("filter").filter(|v| !v.is_null()).map(|f| f.object()).transpose()?;
    let order = args.get("orderBy").filter(|v| !v.is_null()).map(|o| o.object()).transpose()?;
    let kept = filtered(d, now, ix, None, list, filter)?;
    let nodes = ordered(d, now, ix, kept, order)?;
    Ok(page(scope, &nodes, p))
}

/// Applies a nested list's `filter` and `orderBy` arguments; without
/// `orderBy` the list keeps its own order.
pub fn nested_list(d: &Dataset, now: i64, ix: &Index, list: Vec<N>, args: &ObjectAccessor<'_>) -> Result<Vec<N>, Error> {
    let filter = args.get("filter").filter(|v| !v.is_null()).map(|f| f.object()).transpose()?;
    let order = args.get("orderBy").filter(|v| !v.is_null()).map(|o| o.object()).transpose()?;
    let kept = filtered(d, now, ix, None, list, filter)?;
    match order {
        Some(order) => ordered(d, now, ix, kept, Some(order)),
        None => Ok(kept),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_other_connections() {
        let c = encode_cursor("workbooksConnection", 41);
        assert_eq!(decode_cursor("workbooksConnection", &c), Some(41));
        assert_eq!(decode_cursor("sheetsConnection", &c), None);
        assert_eq!(decode_cursor("workbooksConnection", "zz"), None);
    }

    #[test]
    fn order_fields_become_field_names() {
        assert_eq!(camel("PROJECT_NAME"), "projectName");
        assert_eq!(camel("ID"), "id");
        assert_eq!(camel("HOST_NAME"), "hostName");
    }
}
