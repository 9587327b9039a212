//! The simulated site speaks Tableau's whole Metadata API schema
//! (`src/sim/metadata/tableau.schema.graphql`), not only the part TRM uses:
//!
//! - every object type reachable from the root connections answers a query
//!   selecting all its scalar fields and one level of its object fields,
//!   without errors;
//! - fields the dataset does not model take defaults of their type (null,
//!   empty lists and connections, plausible non-null values counted in
//!   `extensions.trm_sim.unmodeled_non_null`), and fields it models are
//!   never counted;
//! - nested `*Connection` fields, list `filter`/`orderBy` arguments and root
//!   lists follow the paging rules of the root connections.
//!
//! Ground truth is the site's dataset, read in-process.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};

use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};
use reqwest::StatusCode;
use serde_json::{json, Value};
use trm::sim::{self, SimConfig, SimHandle};

const NS: &str = "http://tableau.com/api";

struct Site {
    handle: SimHandle,
    client: reqwest::Client,
    token: String,
}

impl Site {
    async fn small() -> Site {
        let handle = sim::start(SimConfig::default(), "127.0.0.1:0".parse().unwrap())
            .await
            .expect("site starts");
        let client = trm::tls::http_client();
        let c = &handle.state.config;
        let body = format!(
            "<tsRequest><credentials personalAccessTokenName=\"{}\" personalAccessTokenSecret=\"{}\">\
             <site contentUrl=\"{}\"/></credentials></tsRequest>",
            c.pat_name, c.pat_secret, c.site_content_url
        );
        let r = client
            .post(format!("{}/api/3.27/auth/signin", handle.url()))
            .body(body)
            .send()
            .await
            .expect("sign-in");
        assert_eq!(r.status(), StatusCode::OK);
        let text = r.text().await.unwrap();
        let doc = roxmltree::Document::parse(&text).expect("sign-in XML");
        let creds = doc
            .descendants()
            .find(|n| n.has_tag_name((NS, "credentials")))
            .expect("<credentials>");
        let token = creds.attribute("token").expect("a token").to_string();
        Site {
            handle,
            client,
            token,
        }
    }

    /// The whole response of a query.
    async fn gql(&self, query: &str) -> Value {
        let r = self
            .client
            .post(format!("{}/api/metadata/graphql", self.handle.url()))
            .header("X-Tableau-Auth", &self.token)
            .header("Content-Type", "application/json")
            .body(json!({ "query": query }).to_string())
            .send()
            .await
            .expect("request sent");
        assert_eq!(r.status(), StatusCode::OK);
        let text = r.text().await.unwrap();
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    }

    /// The data of a query that must succeed without errors or warnings.
    async fn data(&self, query: &str) -> Value {
        let r = self.gql(query).await;
        assert!(
            errors(&r).is_empty(),
            "errors for\n{query}\n{}",
            errors(&r)
                .iter()
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
        r["data"].clone()
    }
}

fn errors(r: &Value) -> Vec<Value> {
    r["errors"].as_array().cloned().unwrap_or_default()
}

/// Values the site made up for non-null fields it does not model.
fn unmodeled(r: &Value) -> u64 {
    r["extensions"]["trm_sim"]["unmodeled_non_null"]
        .as_u64()
        .unwrap_or(0)
}

fn served() -> Valid<Schema> {
    Schema::parse_and_validate(trm::sim::metadata::SCHEMA_SDL, "tableau.schema.graphql")
        .unwrap_or_else(|e| panic!("the served schema: {}", e.errors))
}

fn fields_of<'a>(
    schema: &'a Schema,
    type_name: &str,
) -> Vec<&'a apollo_compiler::ast::FieldDefinition> {
    match schema.types.get(type_name) {
        Some(ExtendedType::Object(o)) => o.fields.values().map(|f| &***f).collect(),
        Some(ExtendedType::Interface(i)) => i.fields.values().map(|f| &***f).collect(),
        _ => Vec::new(),
    }
}

fn is_connection(schema: &Schema, type_name: &str) -> bool {
    let names: HashSet<&str> = fields_of(schema, type_name)
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    ["nodes", "pageInfo", "totalCount"]
        .iter()
        .all(|f| names.contains(f))
}

/// The object types a field's type stands for: itself, or an interface's
/// implementers.
fn objects_of(schema: &Schema, type_name: &str) -> Vec<String> {
    match schema.types.get(type_name) {
        Some(ExtendedType::Object(_)) => vec![type_name.to_string()],
        Some(ExtendedType::Interface(_)) => {
            let mut v: Vec<String> = schema
                .implementers_map()
                .get(type_name)
                .map(|i| i.objects.iter().map(|o| o.to_string()).collect())
                .unwrap_or_default();
            v.sort();
            v
        }
        _ => Vec::new(),
    }
}

/// Every scalar and enum field by name; every object field one level deep,
/// as `{ id }` where its type has an id, else `{ __typename }`.
fn flat_selection(schema: &Schema, type_name: &str) -> String {
    let mut out = vec!["__typename".to_string()];
    for f in fields_of(schema, type_name) {
        assert!(
            f.arguments.iter().all(|a| !a.is_required()),
            "{type_name}.{} needs arguments",
            f.name
        );
        let target = f.ty.inner_named_type();
        out.push(match schema.types.get(target) {
            Some(ExtendedType::Scalar(_) | ExtendedType::Enum(_)) => f.name.to_string(),
            Some(_) if fields_of(schema, target).iter().any(|g| g.name == "id") => {
                format!("{} {{ id }}", f.name)
            }
            Some(_) => format!("{} {{ __typename }}", f.name),
            None => panic!("{type_name}.{}: unknown type {target}", f.name),
        });
    }
    out.join(" ")
}

/// (owner type, field) steps from `Query` to an object type.
type Path = Vec<(String, String)>;

/// The shortest path from `roots` (fields of Query) to every object type
/// they reach, through object, interface and connection fields.
fn paths_from(schema: &Schema, roots: &[&str]) -> BTreeMap<String, Path> {
    let query = schema.get_object("Query").expect("Query");
    let mut paths: BTreeMap<String, Path> = BTreeMap::new();
    let mut queue = VecDeque::new();
    for root in roots {
        let ty = query.fields[*root].ty.inner_named_type().to_string();
        if !paths.contains_key(&ty) {
            paths.insert(ty.clone(), vec![("Query".to_string(), root.to_string())]);
            queue.push_back(ty);
        }
    }
    while let Some(owner) = queue.pop_front() {
        let here = paths[&owner].clone();
        for f in fields_of(schema, &owner) {
            for target in objects_of(schema, f.ty.inner_named_type()) {
                if !paths.contains_key(&target) {
                    let mut p = here.clone();
                    p.push((owner.clone(), f.name.to_string()));
                    paths.insert(target.clone(), p);
                    queue.push_back(target);
                }
            }
        }
    }
    paths
}

/// A query that follows `path` to `target` and selects it flat.
fn query_for(schema: &Schema, path: &Path, target: &str) -> String {
    let mut inner = format!("... on {target} {{ {} }}", flat_selection(schema, target));
    for (owner, field) in path.iter().rev() {
        let ty = fields_of(schema, owner)
            .into_iter()
            .find(|f| f.name == field.as_str())
            .expect("path field")
            .ty
            .inner_named_type();
        let args = if is_connection(schema, ty) {
            "(first: 3)"
        } else {
            ""
        };
        inner = if owner == "Query" {
            // Enough root nodes that an interface root holds each implementer.
            format!("{field}(first: 20) {{ {inner} }}")
        } else {
            format!("... on {owner} {{ {field}{args} {{ {inner} }} }}")
        };
    }
    format!("{{ {inner} }}")
}

/// `__typename`s of every object in a response.
fn typenames(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            if let Some(t) = m.get("__typename").and_then(Value::as_str) {
                out.insert(t.to_string());
            }
            m.values().for_each(|x| typenames(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| typenames(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_object_type_reachable_from_the_roots_answers_without_errors() {
    let site = Site::small().await;
    let schema = served();
    let query = schema.get_object("Query").expect("Query");
    let roots: Vec<&str> = query
        .fields
        .iter()
        .filter(|(_, f)| is_connection(&schema, f.ty.inner_named_type()))
        .map(|(n, _)| n.as_str())
        .collect();
    assert!(
        roots.len() > 40,
        "the whole schema's roots are served: {}",
        roots.len()
    );

    // Roots the dataset fills lead through real nodes, so their resolvers
    // run; the rest reach the remaining types through empty connections.
    let mut populated = Vec::new();
    for root in &roots {
        let d = site.data(&format!("{{ {root} {{ totalCount }} }}")).await;
        if d[*root]["totalCount"].as_u64().unwrap() > 0 {
            populated.push(*root);
        }
    }
    let mut paths = paths_from(&schema, &populated);
    let via_populated: BTreeSet<String> = paths.keys().cloned().collect();
    for (t, p) in paths_from(&schema, &roots) {
        paths.entry(t).or_insert(p);
    }
    let all_objects: BTreeSet<String> = schema
        .types
        .iter()
        .filter(|(n, t)| {
            matches!(t, ExtendedType::Object(_)) && !t.is_built_in() && n.as_str() != "Query"
        })
        .map(|(n, _)| n.to_string())
        .collect();
    let reached: BTreeSet<String> = paths.keys().cloned().collect();
    // The schema declares connections over interfaces that no field returns
    // (`NodesConnection`, ...); every other object type is reachable.
    let unreachable: Vec<&String> = all_objects.difference(&reached).collect();
    assert!(
        unreachable
            .iter()
            .all(|t| t.ends_with("Connection") && is_connection(&schema, t)),
        "object types no root reaches: {unreachable:?}"
    );

    let mut seen = BTreeSet::new();
    let mut failures = Vec::new();
    for (target, path) in &paths {
        let q = query_for(&schema, path, target);
        if let Err(e) =
            ExecutableDocument::parse_and_validate(&schema, q.as_str(), "generated.graphql")
        {
            panic!("generated query does not validate:\n{q}\n{}", e.errors);
        }
        let r = site.gql(&q).await;
        if !errors(&r).is_empty() || !r["data"].is_object() {
            failures.push(format!("{target}: {q}\n  {}", r["errors"]));
        }
        typenames(&r["data"], &mut seen);
    }
    assert!(
        failures.is_empty(),
        "{} of {} types failed:\n{}",
        failures.len(),
        paths.len(),
        failures.join("\n")
    );

    // The types the dataset models came back as real objects.
    for t in [
        "Workbook",
        "Sheet",
        "Dashboard",
        "PublishedDatasource",
        "EmbeddedDatasource",
        "DatabaseServer",
        "DatabaseTable",
        "CustomSQLTable",
        "Column",
        "ColumnField",
        "CalculatedField",
        "DatasourceField",
        "DataQualityWarning",
        "TableauUser",
        "Tag",
        "TableauSite",
        "PageInfo",
    ] {
        assert!(
            seen.contains(t),
            "no {t} in any answer (reached via populated roots: {})",
            via_populated.contains(t)
        );
    }
    eprintln!(
        "{} object types queried ({} not reachable: {unreachable:?}); {} appeared in answers",
        paths.len(),
        unreachable.len(),
        seen.len()
    );
}

#[tokio::test]
async fn unmodeled_fields_take_defaults_of_their_type_and_are_counted() {
    let site = Site::small().await;
    let schema = served();
    let q = "{ workbooksConnection(first: 2) { nodes { id name containerName containerType \
             parameters { id } parametersConnection(first: 5) { totalCount nodes { id } pageInfo { hasNextPage endCursor } } \
             site { __typename id luid name uri createdAt workbooks { id } workbooksConnection { totalCount } } } } }";
    let r = site.gql(q).await;
    assert!(errors(&r).is_empty(), "{r}");
    let nodes = r["data"]["workbooksConnection"]["nodes"]
        .as_array()
        .expect("nodes")
        .clone();
    assert_eq!(nodes.len(), 2);
    let d = site.handle.state.data();
    let mut site_ids = Vec::new();
    for n in &nodes {
        // Modeled fields still come from the dataset.
        let w = d
            .lineage
            .workbook_ids
            .iter()
            .position(|i| i == n["id"].as_str().unwrap())
            .expect("a real workbook id");
        assert_eq!(n["name"], json!(d.workbooks[w].name));
        assert_eq!(n["containerName"], Value::Null, "nullable → null");
        assert_eq!(n["containerType"], json!(""), "String! → \"\"");
        assert_eq!(n["parameters"], json!([]), "lists → empty");
        let pc = &n["parametersConnection"];
        assert_eq!(pc["totalCount"], json!(0));
        assert_eq!(pc["nodes"], json!([]));
        assert_eq!(
            pc["pageInfo"],
            json!({"hasNextPage": false, "endCursor": null})
        );
        let s = &n["site"];
        assert_eq!(
            s["__typename"],
            json!("TableauSite"),
            "non-null object → placeholder"
        );
        for f in ["luid", "name", "uri"] {
            assert_eq!(s[f], json!(""), "placeholder {f}");
        }
        assert_eq!(s["createdAt"], Value::Null);
        assert_eq!(s["workbooks"], json!([]));
        assert_eq!(s["workbooksConnection"]["totalCount"], json!(0));
        let id = s["id"].as_str().expect("ID! → an id");
        assert_eq!(id.len(), 36, "a UUID-shaped id: {id}");
        site_ids.push(id.to_string());
    }
    drop(d);
    // Made-up values are counted: per workbook the non-null ones selected.
    let non_null = |t: &str, f: &str| {
        fields_of(&schema, t)
            .iter()
            .find(|x| x.name == f)
            .unwrap()
            .ty
            .is_non_null() as u64
    };
    let per_workbook = non_null("Workbook", "containerType")
        + non_null("Workbook", "site")
        + ["id", "luid", "name", "uri"]
            .iter()
            .map(|f| non_null("TableauSite", f))
            .sum::<u64>();
    assert_eq!(unmodeled(&r), 2 * per_workbook, "{}", r["extensions"]);

    // Stable: the same query gives the same placeholder ids.
    let again = site.gql(q).await;
    let again_ids: Vec<String> = again["data"]["workbooksConnection"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["site"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(again_ids, site_ids);

    // Only modeled fields: nothing counted, no extensions at all.
    let r = site.gql("{ workbooksConnection(first: 5) { nodes { id luid name owner { id name } tags { name } } } }").await;
    assert!(
        errors(&r).is_empty() && r.get("extensions").is_none(),
        "{r}"
    );
}

#[tokio::test]
async fn trms_own_fields_are_all_modeled() {
    // Every field of TRM's subset schema, on every root it declares, is
    // answered from the dataset: no made-up values.
    let site = Site::small().await;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/queries/schema.graphql");
    let subset =
        Schema::parse_and_validate(std::fs::read_to_string(path).unwrap(), path).expect("subset");
    let query = subset.get_object("Query").unwrap();
    for (root, def) in &query.fields {
        let node_type = fields_of(&subset, def.ty.inner_named_type())
            .into_iter()
            .find(|f| f.name == "nodes")
            .unwrap()
            .ty
            .inner_named_type()
            .to_string();
        let mut sel = String::from("__typename");
        for o in objects_of(&subset, &node_type) {
            sel.push_str(&format!(
                " ... on {o} {{ {} }}",
                flat_selection(&subset, &o)
            ));
        }
        let r = site
            .gql(&format!("{{ {root}(first: 20) {{ nodes {{ {sel} }} }} }}"))
            .await;
        assert!(errors(&r).is_empty(), "{root}: {}", r["errors"]);
        assert!(
            !r["data"][root.as_str()]["nodes"]
                .as_array()
                .unwrap()
                .is_empty(),
            "{root}: nothing checked"
        );
        assert_eq!(
            unmodeled(&r),
            0,
            "{root}: made-up values for fields TRM reads: {}",
            r["extensions"]
        );
    }
}

#[tokio::test]
async fn nested_connections_filters_and_order_follow_the_root_rules() {
    let site = Site::small().await;
    let (wb_id, mut sheet_ids, sheet_names) = {
        let d = site.handle.state.data();
        let l = &d.lineage;
        // The workbook with the most sheets, so paging has pages.
        let w = (0..d.workbooks.len())
            .max_by_key(|&w| {
                l.sheets
                    .iter()
                    .filter(|s| d.views[s.view as usize].workbook as usize == w)
                    .count()
            })
            .unwrap();
        let sheets: Vec<_> = l
            .sheets
            .iter()
            .filter(|s| d.views[s.view as usize].workbook as usize == w)
            .collect();
        let ids: Vec<String> = sheets.iter().map(|s| s.id.clone()).collect();
        let names: Vec<String> = sheets
            .iter()
            .map(|s| d.views[s.view as usize].name.clone())
            .collect();
        (l.workbook_ids[w].clone(), ids, names)
    };
    assert!(sheet_ids.len() >= 3, "a workbook with several sheets");
    sheet_ids.sort();
    let wb = |inner: &str| {
        format!("{{ workbooksConnection(filter: {{id: \"{wb_id}\"}}) {{ nodes {{ {inner} }} }} }}")
    };

    // Paging with cursors visits every sheet once, by id.
    let mut got = Vec::new();
    let mut after = String::new();
    loop {
        let d = site.data(&wb(&format!("sheetsConnection(first: 2{after}) {{ totalCount nodes {{ id }} pageInfo {{ hasNextPage endCursor }} }}"))).await;
        let c = &d["workbooksConnection"]["nodes"][0]["sheetsConnection"];
        assert_eq!(c["totalCount"].as_u64().unwrap() as usize, sheet_ids.len());
        let page: Vec<String> = c["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_str().unwrap().to_string())
            .collect();
        assert!(page.len() <= 2);
        got.extend(page);
        if !c["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = format!(", after: {}", c["pageInfo"]["endCursor"]);
    }
    assert_eq!(got, sheet_ids, "cursor paging in id order");

    // Offset paging agrees.
    let d = site
        .data(&wb(
            "sheetsConnection(first: 2, offset: 1) { nodes { id } }",
        ))
        .await;
    let page: Vec<&str> = d["workbooksConnection"]["nodes"][0]["sheetsConnection"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        page,
        sheet_ids[1..3]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );

    // The same argument errors as root connections.
    let r = site
        .gql(&wb(
            "sheetsConnection(first: 2, offset: 1, after: \"x\") { nodes { id } }",
        ))
        .await;
    assert!(
        errors(&r)
            .iter()
            .any(|e| e["extensions"]["code"] == "INVALID_ARGUMENT"),
        "{r}"
    );
    let root_cursor = site
        .data("{ sheetsConnection(first: 1) { pageInfo { endCursor } } }")
        .await["sheetsConnection"]["pageInfo"]["endCursor"]
        .clone();
    let r = site
        .gql(&wb(&format!(
            "sheetsConnection(after: {root_cursor}) {{ nodes {{ id }} }}"
        )))
        .await;
    assert!(
        errors(&r)
            .iter()
            .any(|e| e["extensions"]["code"] == "INVALID_ARGUMENT"),
        "a root cursor is not a nested one: {r}"
    );
    let r = site
        .gql(&wb("sheetsConnection(first: 5000) { nodes { id } }"))
        .await;
    assert!(
        errors(&r)
            .iter()
            .any(|e| e["extensions"]["code"] == "MAX_PAGE_SIZE_EXCEEDED"),
        "{r}"
    );

    // orderBy on a nested list and a nested connection.
    let d = site.data(&wb("sheets(orderBy: {field: NAME, direction: DESC}) { name } sheetsConnection(orderBy: {field: NAME, direction: ASC}) { nodes { name } }")).await;
    let n = &d["workbooksConnection"]["nodes"][0];
    let desc: Vec<String> = n["sheets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap().to_string())
        .collect();
    let asc: Vec<String> = n["sheetsConnection"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap().to_string())
        .collect();
    let mut want = sheet_names.clone();
    want.sort();
    assert_eq!(asc, want);
    want.reverse();
    assert_eq!(desc, want);

    // Filters: equality and `…Within` on a nested list and connection.
    let pick = [sheet_names[0].clone(), sheet_names[2].clone()];
    let d = site
        .data(&wb(&format!(
            "sheets(filter: {{name: {:?}}}) {{ name }} sheetsConnection(filter: {{nameWithin: {}}}) {{ totalCount nodes {{ name }} }}",
            pick[0],
            serde_json::to_string(&pick).unwrap()
        )))
        .await;
    let n = &d["workbooksConnection"]["nodes"][0];
    let expect_one = sheet_names.iter().filter(|s| **s == pick[0]).count();
    assert_eq!(n["sheets"].as_array().unwrap().len(), expect_one);
    let expect_two = sheet_names.iter().filter(|s| pick.contains(s)).count();
    assert_eq!(
        n["sheetsConnection"]["totalCount"].as_u64().unwrap() as usize,
        expect_two
    );
    let r = site
        .gql(&wb("sheets(filter: {name: \" \"}) { name }"))
        .await;
    assert!(
        errors(&r)
            .iter()
            .any(|e| e["extensions"]["code"] == "INVALID_ARGUMENT"),
        "{r}"
    );

    // A root list is its connection's nodes, unpaged.
    let d = site
        .data("{ workbooks { id } workbooksConnection(first: 1000) { totalCount nodes { id } } }")
        .await;
    assert_eq!(d["workbooks"], d["workbooksConnection"]["nodes"]);
    assert_eq!(
        d["workbooks"].as_array().unwrap().len() as u64,
        d["workbooksConnection"]["totalCount"].as_u64().unwrap()
    );
    // A root the dataset does not model pages through nothing.
    let d = site.data("{ flowsConnection(first: 3) { totalCount nodes { id } pageInfo { hasNextPage } } flows { id } }").await;
    assert_eq!(
        d["flowsConnection"],
        json!({"totalCount": 0, "nodes": [], "pageInfo": {"hasNextPage": false}})
    );
    assert_eq!(d["flows"], json!([]));
}
