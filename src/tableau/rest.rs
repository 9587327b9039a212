//! Paged REST collections. Tableau pages with `pageSize` (at most 1,000)
//! and `pageNumber`, and says how many items there are in `pagination`:
//!
//! ```json
//! {"pagination": {"pageNumber": "1", "pageSize": "1000", "totalAvailable": "42"},
//!  "workbooks": {"workbook": [{"id": "…"}, …]}}
//! ```
//!
//! Values are strings; an empty collection is `"workbooks": {}`. Page 1
//! tells the total, so [`list_all`] then fetches every other page at once,
//! as many in flight as the client's limiter allows, and returns the items
//! in page order. The JSON shape is read by pure functions
//! ([`parse_page`]), tested on their own.

use futures::{StreamExt as _, TryStreamExt as _};
use serde_json::Value;

use super::error::TableauError;
use super::transport::{parse_rest, Client};

impl Client {
    /// `GET {server}/api/{v}/{path}?{query}` as a JSON-shaped tree (the
    /// answer comes as XML, read by [`super::xml`]). `path` is relative,
    /// e.g. `client.site_path("workbooks")`. An empty body is `null`.
    pub async fn get_json(&self, path: &str, query: &[(&str, String)]) -> Result<Value, TableauError> {
        let answer = self.get_api(path, query).await?;
        parse_rest(&answer.label, &answer.body)
    }
}

/// The methods a write may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum WriteMethod {
    Post,
    Put,
    Delete,
}

impl WriteMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            WriteMethod::Post => "POST",
            WriteMethod::Put => "PUT",
            WriteMethod::Delete => "DELETE",
        }
    }
}

impl std::fmt::Display for WriteMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Client {
    /// A write to `{server}/api/{v}/{path}` with an optional JSON body, in
    /// Tableau's JSON request form (`{"user": {"name": …}}`). Returns the
    /// answer as a JSON-shaped tree (`null` for 204 No Content).
    pub async fn write_json(
        &self,
        method: WriteMethod,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, TableauError> {
        let method = match method {
            WriteMethod::Post => reqwest::Method::POST,
            WriteMethod::Put => reqwest::Method::PUT,
            WriteMethod::Delete => reqwest::Method::DELETE,
        };
        let bytes = body.map(|b| serde_json::to_vec(b).expect("a JSON value always serializes"));
        let answer = self.send_api(method, path, query, bytes).await?;
        parse_rest(&answer.label, &answer.body)
    }
}

/// Items per page: Tableau's maximum.
pub const PAGE_SIZE: u64 = 1000;

/// One page of a collection.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub number: u64,
    pub size: u64,
    /// `totalAvailable`; `None` when the response has no `pagination`
    /// (an unpaged list: this page is all of it).
    pub total: Option<u64>,
    pub items: Vec<Value>,
}

impl Page {
    /// Pages in the collection, by this page's size and total.
    pub fn page_count(&self) -> u64 {
        match self.total {
            Some(total) if self.size > 0 => total.div_ceil(self.size).max(1),
            _ => 1,
        }
    }
}

/// Every item of a paged collection, in page order. `path` is relative
/// (e.g. `client.site_path("workbooks")`); `collection` and `item` are the
/// JSON keys (`"workbooks"`, `"workbook"`); `extra` adds query parameters
/// such as `filter` or `fields` (paging parameters in it are ignored).
pub async fn list_all(
    client: &Client,
    path: &str,
    collection: &str,
    item: &str,
    extra: &[(&str, String)],
) -> Result<Vec<Value>, TableauError> {
    let first = fetch_page(client, path, collection, item, extra, 1).await?;
    let pages = first.page_count();
    let total = first.total;
    let mut items = first.items;
    if pages > 1 {
        let rest: Vec<Page> = futures::stream::iter(2..=pages)
            .map(|n| fetch_page(client, path, collection, item, extra, n))
            .buffered(client.concurrency())
            .try_collect()
            .await?;
        for page in rest {
            items.extend(page.items);
        }
    }
    if let Some(total) = total {
        if items.len() as u64 != total {
            // The site changed while we paged; what we have is still valid.
            tracing::debug!(path, expected = total, got = items.len(), "collection changed while paging");
        }
    }
    Ok(items)
}

async fn fetch_page(
    client: &Client,
    path: &str,
    collection: &str,
    item: &str,
    extra: &[(&str, String)],
    number: u64,
) -> Result<Page, TableauError> {
    let mut query: Vec<(&str, String)> =
        extra.iter().filter(|(k, _)| *k != "pageSize" && *k != "pageNumber").cloned().collect();
    query.push(("pageSize", PAGE_SIZE.to_string()));
    query.push(("pageNumber", number.to_string()));
    let body = client.get_json(path, &query).await?;
    parse_page(body, collection, item).map_err(|message| TableauError::Decode {
        path: format!("/api/{}/{}?pageNumber={number}", client.api_version(), path.trim_start_matches('/')),
        message,
    })
}

/// Reads one page of a Tableau JSON collection. An unknown shape is an
/// error, not an empty page.
pub fn parse_page(mut body: Value, collection: &str, item: &str) -> Result<Page, String> {
    let num = |p: &Value, key: &str| -> Result<Option<u64>, String> {
        match &p[key] {
            Value::Null => Ok(None),
            Value::String(s) => {
                s.trim().parse().map(Some).map_err(|_| format!("pagination.{key} is not a number: {s:?}"))
            }
            Value::Number(n) => n.as_u64().map(Some).ok_or_else(|| format!("pagination.{key} is not a count: {n}")),
            other => Err(format!("pagination.{key} is not a number: {other}")),
        }
    };
    if !body.is_object() {
        return Err(format!("expected a JSON object with \"{collection}\", got {}", kind(&body)));
    }
    let pagination = body["pagination"].take();
    let pagination = &pagination;
    let items = match body[collection].take() {
        Value::Null => None,
        Value::Object(mut o) => match o.remove(item) {
            None => Some(Vec::new()),
            Some(Value::Array(a)) => Some(a),
            Some(Value::Object(one)) => Some(vec![Value::Object(one)]),
            Some(other) => return Err(format!("\"{collection}\".\"{item}\" is {}, not a list", kind(&other))),
        },
        other => return Err(format!("\"{collection}\" is {}, not an object", kind(&other))),
    };
    let (number, size, total) = if pagination.is_object() {
        (
            num(pagination, "pageNumber")?.unwrap_or(1),
            num(pagination, "pageSize")?.unwrap_or(PAGE_SIZE),
            num(pagination, "totalAvailable")?,
        )
    } else {
        (1, PAGE_SIZE, None)
    };
    let items = match items {
        Some(items) => items,
        // Nothing under the collection key is fine only for an empty one.
        None if total == Some(0) => Vec::new(),
        None => return Err(format!("no \"{collection}\" in the response")),
    };
    Ok(Page { number, size, total, items })
}

/// A boolean attribute: Tableau's XML gives `"true"`/`"false"` text (any
/// case), JSON a boolean; anything else, or no attribute, is `None`.
pub fn boolean(v: &Value, key: &str) -> Option<bool> {
    match v.get(key)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_tableau_pages() {
        let body = json!({
            "pagination": {"pageNumber": "2", "pageSize": "1000", "totalAvailable": "2500"},
            "workbooks": {"workbook": [{"id": "a"}, {"id": "b"}]}
        });
        let p = parse_page(body, "workbooks", "workbook").unwrap();
        assert_eq!((p.number, p.size, p.total, p.items.len()), (2, 1000, Some(2500), 2));
        assert_eq!(p.page_count(), 3);
    }

    #[test]
    fn empty_and_single_collections() {
        let empty =
            json!({"pagination": {"pageNumber": "1", "pageSize": "1000", "totalAvailable": "0"}, "workbooks": {}});
        let p = parse_page(empty, "workbooks", "workbook").unwrap();
        assert!(p.items.is_empty());
        assert_eq!(p.page_count(), 1);
        let missing = json!({"pagination": {"pageNumber": "1", "pageSize": "1000", "totalAvailable": "0"}});
        assert!(parse_page(missing, "workbooks", "workbook").unwrap().items.is_empty());
        let one = json!({"workbooks": {"workbook": {"id": "a"}}});
        let p = parse_page(one, "workbooks", "workbook").unwrap();
        assert_eq!((p.items.len(), p.total, p.page_count()), (1, None, 1));
    }

    #[test]
    fn unknown_shapes_are_errors() {
        let total = |n: &str| json!({"pageNumber": "1", "pageSize": "1000", "totalAvailable": n});
        let e = parse_page(json!({"pagination": total("3")}), "workbooks", "workbook").unwrap_err();
        assert!(e.contains("no \"workbooks\""), "{e}");
        let e = parse_page(json!({"workbooks": []}), "workbooks", "workbook").unwrap_err();
        assert!(e.contains("not an object"), "{e}");
        let e = parse_page(json!({"workbooks": {"workbook": "x"}}), "workbooks", "workbook").unwrap_err();
        assert!(e.contains("not a list"), "{e}");
        let e =
            parse_page(json!({"pagination": total("many"), "workbooks": {}}), "workbooks", "workbook").unwrap_err();
        assert!(e.contains("totalAvailable"), "{e}");
        assert!(parse_page(json!([1]), "workbooks", "workbook").is_err());
    }

    #[test]
    fn booleans_from_xml_text_or_json() {
        let v = json!({"a": "true", "b": "FALSE", "c": true, "d": "yes", "e": 1});
        let got: Vec<Option<bool>> = ["a", "b", "c", "d", "e", "missing"].iter().map(|k| boolean(&v, k)).collect();
        assert_eq!(got, vec![Some(true), Some(false), Some(true), None, None, None]);
    }

    #[test]
    fn page_counts() {
        let page = |size, total| Page { number: 1, size, total, items: vec![] };
        assert_eq!(page(1000, Some(1000)).page_count(), 1);
        assert_eq!(page(1000, Some(1001)).page_count(), 2);
        assert_eq!(page(100, Some(0)).page_count(), 1);
        assert_eq!(page(0, Some(10)).page_count(), 1);
    }
}
