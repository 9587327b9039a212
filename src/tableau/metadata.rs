//! The Metadata API (GraphQL): reading its answers, and cursor paging over
//! root connections with a page size that adapts to the node limit.
//!
//! Tableau answers `{data, errors}`. Entries of `errors` are sorted here
//! ([`read_reply`], pure and tested on its own):
//! - `extensions.code == "NODE_LIMIT_EXCEEDED"`: the data is partial →
//!   [`TableauError::NodeLimitExceeded`]; the partial data is dropped;
//! - `code == "TIMEOUT"`, or a message saying the query timed out →
//!   [`TableauError::QueryTimeout`];
//! - any other entry with `extensions.severity == "WARNING"` → a warning,
//!   formatted `"CODE: message"`;
//! - anything else (validation errors, `INVALID_ARGUMENT`, ...) →
//!   [`TableauError::GraphQL`].
//!
//! [`paginate`] never accepts a partial or timed-out page: it asks again
//! from the same cursor for half as many nodes (down to [`MIN_PAGE_SIZE`]),
//! then grows back toward the starting size after each good page.
//!
//! The queries themselves live in `queries/*.graphql`, compiled in
//! [`super::queries`].

use serde_json::value::RawValue;
use serde_json::Value;

use super::error::TableauError;
use super::transport::Client;

/// Where the Metadata API answers, on every Tableau Server and Cloud site.
const METADATA_PATH: &str = "/api/metadata/graphql";

/// A Metadata API answer: its data, plus the warnings that came with it,
/// each as `"CODE: message"` (e.g. `"MAX_PAGE_SIZE_EXCEEDED: The value chosen
/// for …"`).
#[derive(Debug, Clone)]
pub struct GraphqlReply<T> {
    pub data: T,
    pub warnings: Vec<String>,
}


impl Client {
    /// Runs a `graphql_client` query on the Metadata API. Warnings come back
    /// with the data; a partial page (node limit), a timeout and any other
    /// error are errors, and their data is never returned.
    pub async fn graphql<Q: graphql_client::GraphQLQuery>(
        &self,
        variables: Q::Variables,
    ) -> Result<GraphqlReply<Q::ResponseData>, TableauError> {
        // Encoded up front, so the variables are not held across an await.
        let (operation, bytes) = {
            let body = Q::build_query(variables);
            let operation = body.operation_name.to_string();
            let bytes = serde_json::to_vec(&body)
                .map_err(|e| TableauError::Config(format!("cannot encode the variables of query {operation}: {e}")))?;
            (operation, bytes)
        };
        let answer = self.post_json(METADATA_PATH, format!("{METADATA_PATH} (query {operation})"), bytes).await?;
        let (data, warnings) = read_reply(&operation, &answer.label, &answer.body)?;
        let data = serde_json::from_str::<Q::ResponseData>(data.get())
            .map_err(|e| TableauError::Decode { path: answer.label.clone(), message: e.to_string() })?;
        for w in &warnings {
            tracing::debug!(query = %operation, warning = %w, "Metadata API warning");
        }
        Ok(GraphqlReply { data, warnings })
    }
}

/// Below this page size a page that still fails is an error.
pub const MIN_PAGE_SIZE: i64 = 10;
/// Tableau's largest page; bigger `first`s are capped with a warning.
pub const MAX_PAGE_SIZE: i64 = 1000;

/// Every node of a root connection, the warnings met on the way (each
/// once, in the order first seen) and the GraphQL requests made (each
/// [`Client::graphql`] call counts once, however many HTTP attempts it took).
#[derive(Debug, Clone)]
pub struct Paged<N> {
    pub nodes: Vec<N>,
    pub warnings: Vec<String>,
    pub requests: u32,
}

/// Pages through a root connection. `vars(first, after)` builds the
/// variables of one page; `page(data)` returns its nodes, `endCursor` and
/// `hasNextPage`. Starts at `start_first` nodes a page (clamped to 1..=1000).
pub async fn paginate<Q, N>(
    client: &Client,
    start_first: i64,
    vars: impl Fn(i64, Option<String>) -> Q::Variables,
    page: impl Fn(Q::ResponseData) -> (Vec<N>, Option<String>, bool),
) -> Result<Paged<N>, TableauError>
where
    Q: graphql_client::GraphQLQuery,
{
    let target = start_first.clamp(1, MAX_PAGE_SIZE);
    let floor = MIN_PAGE_SIZE.min(target);
    let mut first = target;
    let mut after: Option<String> = None;
    let mut out = Paged { nodes: Vec::new(), warnings: Vec::new(), requests: 0 };
    loop {
        out.requests += 1;
        let reply = match client.graphql::<Q>(vars(first, after.clone())).await {
            Ok(reply) => reply,
            Err(e @ (TableauError::NodeLimitExceeded { .. } | TableauError::QueryTimeout { .. })) => {
                if first <= floor {
                    return Err(e);
                }
                let smaller = next_size_down(first, floor);
                tracing::debug!(error = %e, first, smaller, "asking again for a smaller page");
                first = smaller;
                continue;
            }
            Err(e) => return Err(e),
        };
        for w in reply.warnings {
            if !out.warnings.contains(&w) {
                out.warnings.push(w);
            }
        }
        let (nodes, end_cursor, has_next) = page(reply.data);
        out.nodes.extend(nodes);
        if !has_next {
            return Ok(out);
        }
        match end_cursor {
            Some(c) if Some(&c) != after.as_ref() => after = Some(c),
            _ => {
                let query = Q::build_query(vars(first, after.clone())).operation_name;
                return Err(TableauError::Decode {
                    path: format!("{METADATA_PATH} (query {query})"),
                    message: "hasNextPage is true but endCursor does not move on".into(),
                });
            }
        }
        first = next_size_up(first, target);
    }
}

/// One page of a root connection as [`read_connection`] sees it.
#[derive(Debug)]
pub struct PageOf<N> {
    pub nodes: Vec<N>,
    pub end_cursor: Option<String>,
    pub has_next: bool,
    /// `totalCount`; without it the connection is read by cursor, page
    /// after page.
    pub total: Option<i64>,
}

/// What [`read_connection`] did.
#[derive(Debug, Clone, Default)]
pub struct Read {
    pub nodes: u64,
    pub warnings: Vec<String>,
    pub requests: u32,
    /// Pages read by offset, concurrently.
    pub offset_pages: u32,
}

/// The first page's queue priority is raised by this much: it unlocks the
/// rest of its connection.
pub const FIRST_PAGE_BOOST: i32 = 10;

/// Reads a whole root connection ordered by id, several pages at once.
///
/// The first page is asked for by cursor, as [`paginate`] does (halving on
/// the node limit or a timeout), and tells `totalCount`. If there is more,
/// the rest is cut into slices of the first page's size, read by `offset`
/// with up to `client.max_concurrency()` in flight: no request more than
/// cursor paging needs, bar the overlap below. A slice that hits the node
/// limit or times out is split in two, down to [`MIN_PAGE_SIZE`].
///
/// Each offset page starts one node early, on the last node of the slice
/// before it. The read is consistent only if every page reports the same
/// `totalCount`, holds as many nodes as its slice expects, and every
/// overlap node is the one the slice before ended on.
/// Anything else means the connection changed between pages (a node added
/// or removed before a page's offset shifts it), and the read fails with
/// [`TableauError::Drift`]: its nodes must be thrown away and the
/// connection read again. It never returns a dropped or repeated node.
///
/// `vars(first, after, offset)` builds a page's variables; `page` reads a
/// page; `id` gives a node's id; `sink` takes the nodes of each page as it
/// arrives (in any order), without its overlap node.
pub async fn read_connection<Q, N>(
    client: &Client,
    start_first: i64,
    vars: impl Fn(i64, Option<String>, Option<i64>) -> Q::Variables,
    page: impl Fn(Q::ResponseData) -> PageOf<N>,
    id: impl Fn(&N) -> &str,
    mut sink: impl FnMut(Vec<N>),
) -> Result<Read, TableauError>
where
    Q: graphql_client::GraphQLQuery,
{
    use futures::stream::{FuturesUnordered, StreamExt as _};

    let target = start_first.clamp(1, MAX_PAGE_SIZE);
    let floor = MIN_PAGE_SIZE.min(target);
    let query = Q::build_query(vars(1, None, None)).operation_name.to_string();
    let drift = |message: String| TableauError::Drift { query: query.clone(), message };
    let mut out = Read::default();
    let keep_warnings = |out: &mut Read, warnings: Vec<String>| {
        for w in warnings {
            if !out.warnings.contains(&w) {
                out.warnings.push(w);
            }
        }
    };

    // The first page, by cursor, at a raised priority.
    let boost = super::adaptive::priority() + FIRST_PAGE_BOOST;
    let mut first = target;
    let reply = loop {
        out.requests += 1;
        match super::adaptive::with_priority(boost, client.graphql::<Q>(vars(first, None, None))).await {
            Ok(reply) => break reply,
            Err(e @ (TableauError::NodeLimitExceeded { .. } | TableauError::QueryTimeout { .. })) if first > floor => {
                let smaller = next_size_down(first, floor);
                tracing::debug!(error = %e, first, smaller, "asking again for a smaller page");
                first = smaller;
            }
            Err(e) => return Err(e),
        }
    };
    keep_warnings(&mut out, reply.warnings);
    let p = page(reply.data);
    let got = p.nodes.len();
    let total = match (p.total, p.has_next) {
        (_, false) => {
            out.nodes += got as u64;
            sink(p.nodes);
            return Ok(out);
        }
        (Some(total), true) => total,
        (None, true) => {
            // No count to plan by: on by cursor, page after page.
            let mut after = p.end_cursor;
            out.nodes += got as u64;
            sink(p.nodes);
            loop {
                let Some(cursor) = after.clone() else {
                    return Err(TableauError::Decode {
                        path: format!("{METADATA_PATH} (query {query})"),
                        message: "hasNextPage is true but there is no endCursor".into(),
                    });
                };
                out.requests += 1;
                let reply = match client.graphql::<Q>(vars(first, Some(cursor.clone()), None)).await {
                    Ok(r) => r,
                    Err(TableauError::NodeLimitExceeded { .. } | TableauError::QueryTimeout { .. }) if first > floor => {
                        first = next_size_down(first, floor);
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                keep_warnings(&mut out, reply.warnings);
                let p = page(reply.data);
                out.nodes += p.nodes.len() as u64;
                sink(p.nodes);
                if !p.has_next {
                    return Ok(out);
                }
                if p.end_cursor.as_deref() == Some(cursor.as_str()) {
                    return Err(TableauError::Decode {
                        path: format!("{METADATA_PATH} (query {query})"),
                        message: "hasNextPage is true but endCursor does not move on".into(),
                    });
                }
                after = p.end_cursor;
                first = next_size_up(first, target);
            }
        }
    };
    if got == 0 {
        return Err(drift("the first page is empty but hasNextPage is true".into()));
    }
    let total = usize::try_from(total).map_err(|_| drift(format!("totalCount is {total}")))?;
    // Ends of slices → the id of the last node before that position.
    let mut last_before: std::collections::HashMap<usize, String> = std::collections::HashMap::new();
    last_before.insert(got, id(p.nodes.last().expect("not empty")).to_string());
    out.nodes += got as u64;
    sink(p.nodes);

    // Slices [start, end) of new nodes; each page also reads start - 1.
    let size = first as usize;
    let mut todo: Vec<(usize, usize)> = Vec::new();
    let mut start = got;
    while start < total {
        let end = (start + size - 1).min(total);
        todo.push((start, end));
        start = end;
    }
    todo.reverse();
    let mut overlaps: Vec<(usize, String)> = Vec::new();
    let in_flight = client.max_concurrency().max(1);
    let mut running = FuturesUnordered::new();
    loop {
        while running.len() < in_flight {
            let Some((start, end)) = todo.pop() else { break };
            let v = vars((end - start + 1) as i64, None, Some((start - 1) as i64));
            running.push(async move { (start, end, client.graphql::<Q>(v).await) });
        }
        let Some((start, end, result)) = running.next().await else { break };
        out.requests += 1;
        let reply = match result {
            Ok(r) => r,
            Err(e @ (TableauError::NodeLimitExceeded { .. } | TableauError::QueryTimeout { .. })) => {
                let len = (end - start + 1) as i64;
                if len <= floor || end - start < 2 {
                    return Err(e);
                }
                let mid = start + (end - start) / 2;
                tracing::debug!(error = %e, start, end, mid, "splitting an offset page");
                todo.push((mid, end));
                todo.push((start, mid));
                continue;
            }
            Err(e) => return Err(e),
        };
        keep_warnings(&mut out, reply.warnings);
        out.offset_pages += 1;
        let mut p = page(reply.data);
        let at = start - 1;
        if p.total != Some(total as i64) {
            return Err(drift(format!(
                "totalCount was {total} on the first page and {} at offset {at}",
                p.total.map_or("missing".to_string(), |t| t.to_string())
            )));
        }
        if p.nodes.len() != end - start + 1 {
            return Err(drift(format!("the page at offset {at} has {} nodes, not {}", p.nodes.len(), end - start + 1)));
        }
        if end == total && p.has_next {
            return Err(drift(format!("the last page (offset {at}) says there are more than {total} nodes")));
        }
        let mut nodes = std::mem::take(&mut p.nodes);
        let overlap = nodes.remove(0);
        overlaps.push((start, id(&overlap).to_string()));
        last_before.insert(end, id(nodes.last().expect("at least one new node")).to_string());
        out.nodes += nodes.len() as u64;
        sink(nodes);
    }
    for (start, overlap) in overlaps {
        match last_before.get(&start) {
            Some(last) if *last == overlap => {}
            Some(last) => {
                return Err(drift(format!(
                    "node {start} was {last} on one page and {overlap} on the next: nodes were added or removed before it"
                )))
            }
            None => return Err(drift(format!("no page ended at node {start}"))),
        }
    }
    Ok(out)
}

/// Half the page, not below the floor.
pub fn next_size_down(first: i64, floor: i64) -> i64 {
    (first / 2).max(floor)
}

/// Twice the page, not above the target.
pub fn next_size_up(first: i64, target: i64) -> i64 {
    first.saturating_mul(2).min(target)
}

/// Sorts a Metadata API response body into data and warnings, or the error
/// it reports. `query` is the operation name; `path` names the endpoint in
/// decoding errors.
pub fn read_reply<'b>(query: &str, path: &str, body: &'b [u8]) -> Result<(&'b RawValue, Vec<String>), TableauError> {
    // The data stays raw text: a page of 1,000 fields decodes once, straight
    // into the query's types, rather than through a tree of values.
    #[derive(serde::Deserialize)]
    struct Reply<'a> {
        #[serde(borrow, default)]
        data: Option<&'a RawValue>,
        #[serde(default)]
        errors: Value,
    }
    let v: Reply<'b> = serde_json::from_slice(body)
        .map_err(|e| TableauError::Decode { path: path.to_string(), message: format!("not JSON: {e}") })?;
    let errors: &[Value] = match &v.errors {
        Value::Null => &[],
        Value::Array(list) => list,
        _ => return Err(TableauError::Decode { path: path.to_string(), message: "\"errors\" is not a list".into() }),
    };
    let mut warnings = Vec::new();
    let mut failures = Vec::new();
    let mut timeout = None;
    for e in errors {
        let message = e["message"].as_str().unwrap_or("(no message)").to_string();
        let ext = &e["extensions"];
        let code = ext["code"].as_str();
        let severity = ext["severity"].as_str().unwrap_or("ERROR");
        if code == Some("NODE_LIMIT_EXCEEDED") {
            let node_limit = ext["properties"]["nodeLimit"].as_u64();
            return Err(TableauError::NodeLimitExceeded { query: query.to_string(), node_limit });
        }
        let lower = message.to_ascii_lowercase();
        if code == Some("TIMEOUT") || lower.contains("timed out") {
            timeout.get_or_insert(message);
            continue;
        }
        if severity.eq_ignore_ascii_case("WARNING") {
            warnings.push(format!("{}: {message}", code.unwrap_or("WARNING")));
        } else {
            failures.push(match code {
                Some(c) => format!("{c}: {message}"),
                None => message,
            });
        }
    }
    if let Some(message) = timeout {
        return Err(TableauError::QueryTimeout { query: query.to_string(), message });
    }
    if !failures.is_empty() {
        return Err(TableauError::GraphQL { query: query.to_string(), messages: failures });
    }
    match v.data {
        Some(data) if data.get() != "null" => Ok((data, warnings)),
        _ => Err(TableauError::Decode {
            path: path.to_string(),
            message: "the response has no data and no errors".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(v: Value) -> Result<(Value, Vec<String>), TableauError> {
        let body = v.to_string();
        read_reply("Fields", "/api/metadata/graphql (query Fields)", body.as_bytes())
            .map(|(data, warnings)| (serde_json::from_str(data.get()).unwrap(), warnings))
    }

    #[test]
    fn data_with_warnings() {
        let (data, warnings) = read(json!({
            "data": {"fieldsConnection": {"nodes": []}},
            "errors": [{"message": "capped at 1000", "extensions": {"severity": "WARNING", "code": "MAX_PAGE_SIZE_EXCEEDED", "properties": {"maxPageSize": 1000}}}]
        }))
        .unwrap();
        assert_eq!(data, json!({"fieldsConnection": {"nodes": []}}));
        assert_eq!(warnings, vec!["MAX_PAGE_SIZE_EXCEEDED: capped at 1000".to_string()]);
    }

    #[test]
    fn partial_data_is_never_returned() {
        let e = read(json!({
            "data": {"fieldsConnection": {"nodes": [{"id": "1"}]}},
            "errors": [
                {"message": "other", "extensions": {"severity": "WARNING", "code": "X"}},
                {"message": "Showing partial results.", "extensions": {"severity": "WARNING", "code": "NODE_LIMIT_EXCEEDED", "properties": {"nodeLimit": 300}}}
            ]
        }))
        .unwrap_err();
        assert!(
            matches!(e, TableauError::NodeLimitExceeded { ref query, node_limit: Some(300) } if query == "Fields"),
            "{e:?}"
        );
    }

    #[test]
    fn timeouts_by_code_or_message() {
        let e = read(json!({"data": null, "errors": [{"message": "budget", "extensions": {"severity": "ERROR", "code": "TIMEOUT"}}]})).unwrap_err();
        assert!(matches!(e, TableauError::QueryTimeout { .. }), "{e:?}");
        let e = read(json!({"errors": [{"message": "The query timed out."}]})).unwrap_err();
        assert!(matches!(e, TableauError::QueryTimeout { .. }), "{e:?}");
    }

    #[test]
    fn other_errors_fail_the_query() {
        let e = read(json!({"data": null, "errors": [
            {"message": "Unknown field \"x\"", "locations": [{"line": 1, "column": 3}]},
            {"message": "bad cursor", "extensions": {"severity": "ERROR", "code": "INVALID_ARGUMENT"}}
        ]}))
        .unwrap_err();
        match e {
            TableauError::GraphQL { query, messages } => {
                assert_eq!(query, "Fields");
                assert_eq!(
                    messages,
                    vec!["Unknown field \"x\"".to_string(), "INVALID_ARGUMENT: bad cursor".to_string()]
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(read(json!({"data": null})).unwrap_err(), TableauError::Decode { .. }));
        assert!(matches!(read_reply("Q", "p", b"<html>").unwrap_err(), TableauError::Decode { .. }));
    }

    #[test]
    fn page_sizes_halve_to_the_floor_and_double_back() {
        let mut sizes = vec![1000];
        while *sizes.last().unwrap() > MIN_PAGE_SIZE {
            sizes.push(next_size_down(*sizes.last().unwrap(), MIN_PAGE_SIZE));
        }
        assert_eq!(sizes, vec![1000, 500, 250, 125, 62, 31, 15, 10]);
        assert_eq!(next_size_up(62, 1000), 124);
        assert_eq!(next_size_up(600, 1000), 1000);
    }
}
