//! Compares the *shape* of the simulated site's XML responses (element paths
//! and attribute names, by namespace + local name) with the sample responses
//! in tableauserverclient's test suite, kept read-only in
//! `../shared/reference/rest-responses/`.
//!
//! For every endpoint case:
//!   1. our root is `tsResponse` in `http://tableau.com/api`;
//!   2. every element path we emit occurs in the union of the case's
//!      reference files;
//!   3. every attribute we emit occurs on the same path in that union;
//!   4. every element path and attribute of the case's *primary* reference
//!      (the first file listed) also occurs in ours.
//!
//! Exceptions are explicit per-case allow-lists, each entry with its reason;
//! an entry that no longer matches anything fails the test too, so the lists
//! stay minimal. Values are not compared: ids, names, counts and dates differ
//! by design.
//!
//! When `../shared` is absent the comparison is skipped with a message, and
//! fails under `CI=true` (`tests/support/external.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use tower::ServiceExt as _;
use trm::sim::dataset::{Grantee, Rule, Target};
use trm::sim::{self, SimConfig, SimState};

#[path = "support/external.rs"]
mod external;

const TABLEAU_NS: &str = "http://tableau.com/api";
const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";
const API: &str = "/api/3.27";

// ---------------------------------------------------------------------------
// Shapes and the comparator
// ---------------------------------------------------------------------------

/// The names in one XML document: element path (local names from the root,
/// joined by `/`) -> attribute names seen on elements at that path.
///
/// Names in the Tableau namespace are written bare (`workbook`), so the
/// `ns0:` prefix some reference files use makes no difference; names in any
/// other namespace are written `{namespace}local` (`xsi:` for XML Schema
/// instance), and names in no namespace at all as `{}local` for elements,
/// so an element that lost its namespace never matches the reference.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Shape {
    paths: BTreeMap<String, BTreeSet<String>>,
}

impl Shape {
    fn parse(xml: &str) -> Result<Shape, String> {
        let doc = roxmltree::Document::parse(xml).map_err(|e| format!("not well-formed XML: {e}"))?;
        let mut shape = Shape::default();
        shape.add(doc.root_element(), "");
        Ok(shape)
    }

    fn add(&mut self, el: roxmltree::Node, parent: &str) {
        let name = el.tag_name();
        let seg = match name.namespace() {
            Some(TABLEAU_NS) => name.name().to_string(),
            Some(XSI_NS) => format!("xsi:{}", name.name()),
            Some(ns) => format!("{{{ns}}}{}", name.name()),
            None => format!("{{}}{}", name.name()),
        };
        let path = if parent.is_empty() { seg } else { format!("{parent}/{seg}") };
        let attrs = self.paths.entry(path.clone()).or_default();
        for a in el.attributes() {
            attrs.insert(match a.namespace() {
                None => a.name().to_string(),
                Some(XSI_NS) => format!("xsi:{}", a.name()),
                Some(ns) => format!("{{{ns}}}{}", a.name()),
            });
        }
        for child in el.children().filter(|n| n.is_element()) {
            self.add(child, &path);
        }
    }

    fn merge(&mut self, other: &Shape) {
        for (path, attrs) in &other.paths {
            self.paths.entry(path.clone()).or_default().extend(attrs.iter().cloned());
        }
    }

    /// The subtree at `from` (inclusive), moved to `to`; everything else is
    /// dropped. Used to borrow an element's shape from a reference for a
    /// different endpoint that embeds the same element type.
    fn mounted(&self, from: &str, to: &str) -> Shape {
        let mut out = Shape::default();
        for (path, attrs) in &self.paths {
            let rest = if path == from { Some("") } else { path.strip_prefix(from).filter(|r| r.starts_with('/')) };
            if let Some(rest) = rest {
                out.paths.insert(format!("{to}{rest}"), attrs.clone());
            }
        }
        out
    }

    /// Keys `path` for each element and `path@attr` for each attribute.
    fn keys(&self) -> BTreeSet<String> {
        let mut keys = BTreeSet::new();
        for (path, attrs) in &self.paths {
            keys.insert(path.clone());
            for a in attrs {
                keys.insert(format!("{path}@{a}"));
            }
        }
        keys
    }
}

/// Exceptions for one endpoint. Keys are `path` for an element and
/// `path@attr` for an attribute; every entry carries its reason.
#[derive(Clone, Default)]
struct Allow {
    /// Names we emit that no reference variant has. An element entry also
    /// covers that element's attributes.
    extra: Vec<(String, &'static str)>,
    /// Names of the primary reference that we legitimately do not emit.
    missing: Vec<(String, &'static str)>,
}

impl Allow {
    fn extra(mut self, key: &str, reason: &'static str) -> Allow {
        self.extra.push((key.to_string(), reason));
        self
    }

    fn extra_attrs(mut self, path: &str, attrs: &[&str], reason: &'static str) -> Allow {
        self.extra.extend(attrs.iter().map(|a| (format!("{path}@{a}"), reason)));
        self
    }

    fn missing(mut self, key: &str, reason: &'static str) -> Allow {
        self.missing.push((key.to_string(), reason));
        self
    }

    fn missing_attrs(mut self, path: &str, attrs: &[&str], reason: &'static str) -> Allow {
        self.missing.extend(attrs.iter().map(|a| (format!("{path}@{a}"), reason)));
        self
    }
}

/// Everything wrong with `ours` against the references (`primary`, and
/// `union` of all variants including the primary), one line per finding;
/// empty if the shapes agree.
fn compare(endpoint: &str, ours: &Shape, primary: &Shape, union: &Shape, allow: &Allow) -> Vec<String> {
    let mut problems = Vec::new();
    // Paths sort with the root first; a root outside the Tableau namespace
    // is spelt `{ns}tsResponse` and fails here (and every path below).
    let root = ours.paths.keys().next().map(String::as_str);
    if root != Some("tsResponse") {
        problems.push(format!("{endpoint}: root element is {root:?}, expected tsResponse in namespace {TABLEAU_NS}"));
    }
    let (ours, primary, union) = (ours.keys(), primary.keys(), union.keys());
    let describe = |key: &str| match key.split_once('@') {
        Some((path, attr)) => format!("attribute `{attr}` on {path}"),
        None => format!("element {key}"),
    };
    let extra_ok: BTreeSet<&str> = allow.extra.iter().map(|(k, _)| k.as_str()).collect();
    let missing_ok: BTreeSet<&str> = allow.missing.iter().map(|(k, _)| k.as_str()).collect();
    let extra_allowed =
        |key: &str| extra_ok.contains(key) || key.split_once('@').is_some_and(|(path, _)| extra_ok.contains(path));
    for key in ours.difference(&union) {
        if !extra_allowed(key) {
            problems.push(format!("{endpoint}: we emit {} but no reference has it", describe(key)));
        }
    }
    for key in primary.difference(&ours) {
        if !missing_ok.contains(key.as_str()) {
            problems.push(format!("{endpoint}: we do not emit {} of the primary reference", describe(key)));
        }
    }
    // Stale exceptions fail too, so the allow-lists only ever shrink.
    for key in extra_ok {
        if !ours.contains(key) || union.contains(key) {
            problems.push(format!("{endpoint}: allow-list `extra` entry {key:?} is no longer needed"));
        }
    }
    for key in missing_ok {
        if ours.contains(key) || !primary.contains(key) {
            problems.push(format!("{endpoint}: allow-list `missing` entry {key:?} is no longer needed"));
        }
    }
    problems
}

// ---------------------------------------------------------------------------
// Reference files
// ---------------------------------------------------------------------------

/// One reference file, optionally only a subtree of it mounted elsewhere.
#[derive(Clone, Copy)]
struct Ref {
    file: &'static str,
    mount: Option<(&'static str, &'static str)>,
}

/// The whole reference file.
const fn whole(file: &'static str) -> Ref {
    Ref { file, mount: None }
}

/// The subtree of `file` at `from`, as if it were at `to`.
const fn part(file: &'static str, from: &'static str, to: &'static str) -> Ref {
    Ref { file, mount: Some((from, to)) }
}

/// The reference responses, or `None` (the test skips, or fails under CI).
fn reference_dir() -> Option<PathBuf> {
    external::shared("reference/rest-responses", "responses_match_reference_shapes")
}

fn load_ref(dir: &Path, r: Ref) -> Shape {
    let path = dir.join(r.file);
    let xml = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let shape = Shape::parse(&xml).unwrap_or_else(|e| panic!("{}: {e}", r.file));
    assert_eq!(
        shape.paths.keys().next().map(String::as_str),
        Some("tsResponse"),
        "reference {} has no tsResponse root in {TABLEAU_NS}",
        r.file
    );
    match r.mount {
        None => shape,
        Some((from, to)) => {
            let m = shape.mounted(from, to);
            assert!(!m.paths.is_empty(), "reference {} has nothing at {from}", r.file);
            m
        }
    }
}

// ---------------------------------------------------------------------------
// Driving the site in-process
// ---------------------------------------------------------------------------

struct Site {
    state: Arc<SimState>,
    app: axum::Router,
    token: String,
}

/// The site's default credentials. The session the cases share signs in by
/// name and password, because signing in again with the same PAT (the
/// sign-in case does) ends that PAT's earlier session.
const SESSION_SIGN_IN: &str = r#"<tsRequest><credentials name="admin" password="admin-password"><site contentUrl="analytics"/></credentials></tsRequest>"#;
const SIGN_IN: &str = r#"<tsRequest><credentials personalAccessTokenName="trm-sim" personalAccessTokenSecret="trm-sim-secret"><site contentUrl="analytics"/></credentials></tsRequest>"#;
const BAD_SIGN_IN: &str = r#"<tsRequest><credentials personalAccessTokenName="trm-sim" personalAccessTokenSecret="wrong"><site contentUrl="analytics"/></credentials></tsRequest>"#;

/// Sends one request; returns the status and the body as text.
async fn send(app: &axum::Router, method: Method, uri: &str, token: Option<&str>, body: &str) -> (StatusCode, String) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("X-Tableau-Auth", t);
    }
    if !body.is_empty() {
        req = req.header("Content-Type", "application/xml");
    }
    let resp = app.clone().oneshot(req.body(Body::from(body.to_string())).unwrap()).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    (status, String::from_utf8(bytes.to_vec()).expect("response is UTF-8"))
}

impl Site {
    async fn start() -> Site {
        let state = SimState::new(SimConfig::default());
        let app = sim::app(state.clone());
        let (status, body) = send(&app, Method::POST, &format!("{API}/auth/signin"), None, SESSION_SIGN_IN).await;
        assert_eq!(status, StatusCode::OK, "sign-in failed: {body}");
        let doc = roxmltree::Document::parse(&body).unwrap();
        let token = doc
            .descendants()
            // By local name only: a namespace defect is the comparator's to report.
            .find(|n| n.tag_name().name() == "credentials")
            .and_then(|n| n.attribute("token"))
            .expect("sign-in response has credentials/@token")
            .to_string();
        Site { state, app, token }
    }
}

/// One request whose response contributes to an endpoint's shape.
struct Call {
    method: Method,
    /// Relative to `/api/3.27/`.
    uri: String,
    body: String,
    signed_in: bool,
    status: StatusCode,
}

fn get(uri: String) -> Call {
    Call { method: Method::GET, uri, body: String::new(), signed_in: true, status: StatusCode::OK }
}

/// A signed-in write answering `status`.
fn write(method: Method, uri: String, body: String, status: StatusCode) -> Call {
    Call { method, uri, body, signed_in: true, status }
}

/// One endpoint: the calls whose responses we union (e.g. a job on a
/// workbook and one on a data source), the reference files (primary first)
/// and the exceptions.
struct Case {
    endpoint: &'static str,
    calls: Vec<Call>,
    refs: Vec<Ref>,
    allow: Allow,
}

async fn our_shape(site: &Site, case: &Case) -> Shape {
    let mut shape = Shape::default();
    for call in &case.calls {
        let uri = format!("{API}/{}", call.uri);
        let token = call.signed_in.then_some(site.token.as_str());
        let (status, body) = send(&site.app, call.method.clone(), &uri, token, &call.body).await;
        assert_eq!(status, call.status, "{} ({} {uri}): unexpected status; body: {body}", case.endpoint, call.method);
        let one = Shape::parse(&body).unwrap_or_else(|e| panic!("{} ({uri}): {e}\n{body}", case.endpoint));
        shape.merge(&one);
    }
    shape
}

// ---------------------------------------------------------------------------
// The endpoint table
// ---------------------------------------------------------------------------

/// Ids of items whose rules have a user grantee and of items whose rules
/// have a group grantee (the first of each; one id if one item has both), so
/// both kinds of `granteeCapabilities` appear in our shape.
fn grantee_examples<'a>(ids: impl Iterator<Item = (&'a str, Vec<Rule>)>) -> Vec<&'a str> {
    let (mut user, mut group) = (None, None);
    for (id, rules) in ids {
        let has_user = rules.iter().any(|r| matches!(r.grantee, Grantee::User(_)));
        let has_group = rules.iter().any(|r| matches!(r.grantee, Grantee::Group(_)));
        if has_user && has_group {
            return vec![id];
        }
        user = user.or(has_user.then_some(id));
        group = group.or(has_group.then_some(id));
    }
    let mut out: Vec<&str> = user.into_iter().chain(group).collect();
    out.dedup();
    out
}

/// Site settings that Tableau reports on `<site>` but the simulated site
/// does not model. All are optional in the XSD and TSC's `SiteItem` leaves
/// an absent one as `None`; TRM reads none of them.
const SITE_SETTINGS_NOT_SIMULATED: &[&str] = &[
    "allowSubscriptionAttachments",
    "askDataMode",
    "cacheWarmupEnabled",
    "commentingEnabled",
    "derivedPermissionsEnabled",
    "disableSubscriptions",
    "editingFlowsEnabled",
    "extractEncryptionMode",
    "guestAccessEnabled",
    "isDataAlertsEnabled",
    "requestAccessEnabled",
    "runNowEnabled",
    "schedulingFlowsEnabled",
    "storage",
    "storageQuota",
    "tierCreatorCapacity",
    "tierExplorerCapacity",
    "tierViewerCapacity",
    "useDefaultTimeZone",
];
const SITE_SETTINGS_REASON: &str = "site setting the simulator does not model (optional; TSC reads it as None)";

/// The simulator puts `<pagination>` on every list, so TSC's `Pager` works
/// on all of them (the conformance script pages tasks with it); the
/// reference for this endpoint has none. TSC reads it when present and
/// tolerates its absence.
const PAGINATION_REASON: &str = "the simulator paginates every list; this endpoint's reference has no pagination";

/// The single-schedule samples.
const SCHEDULE_BY_ID: [&str; 6] = [
    "schedule_get_by_id.xml",
    "schedule_get_daily_id.xml",
    "schedule_get_hourly_id.xml",
    "schedule_get_monthly_id.xml",
    "schedule_get_monthly_id_2.xml",
    "schedule_get_customized_monthly_id.xml",
];

fn cases(st: &SimState) -> Vec<Case> {
    let d = &st.data();
    let site = format!("sites/{}", d.site.id);

    // Items chosen so that optional parts appear: tags, memberships, both
    // kinds of grantee, a failed workbook refresh (with <notes>) and a data
    // source refresh.
    let wb = d.workbooks.iter().find(|w| !w.tags.is_empty()).expect("a workbook with tags");
    let view = d.views.iter().find(|v| !v.tags.is_empty()).expect("a view with tags");
    let ds = d.datasources.iter().find(|x| !x.tags.is_empty()).expect("a data source with tags");
    let user = d.users.iter().find(|u| !u.groups.is_empty()).expect("a user in a group");
    let group = d.groups.iter().find(|g| !g.members.is_empty()).expect("a group with members");
    let jobs = st.jobs(d);
    let target = |j: &trm::sim::dataset::Job| d.tasks[j.task as usize].target;
    let failed_wb_job = jobs
        .iter()
        .find(|j| j.failed && matches!(target(j), Target::Workbook(_)))
        .expect("the small site has a failed workbook refresh job");
    let ds_job = jobs
        .iter()
        .find(|j| matches!(target(j), Target::Datasource(_)))
        .expect("the small site has a data source refresh job");

    let permission_calls = |kind: &str, ids: Vec<&str>| -> Vec<Call> {
        ids.into_iter().map(|id| get(format!("{site}/{kind}/{id}/permissions"))).collect()
    };
    let wb_perm = grantee_examples(
        d.workbooks.iter().enumerate().map(|(i, w)| (w.id.as_str(), d.workbook_rules(i as u32).to_vec())),
    );
    // Whether the dataset can show a user grantee on a workbook at all
    // (decided by the generator, not by the REST layer under test).
    let wb_user_grant = (0..d.workbooks.len() as u32)
        .any(|i| d.workbook_rules(i).iter().any(|r| matches!(r.grantee, Grantee::User(_))));
    let view_perm = grantee_examples(d.views.iter().enumerate().map(|(i, v)| (v.id.as_str(), d.view_rules(i as u32))));
    let ds_perm = grantee_examples(
        d.datasources.iter().enumerate().map(|(i, x)| (x.id.as_str(), d.datasource_rules(i as u32).to_vec())),
    );
    let proj_perm = grantee_examples(d.projects.iter().map(|p| (p.id.as_str(), p.rules.clone())));
    let proj_default = grantee_examples(d.projects.iter().map(|p| (p.id.as_str(), p.default_workbook_rules.clone())));

    // `granteeCapabilities` has one XSD type for every kind of content; the
    // workbook and data source samples show both a user and a group grantee,
    // the view and project samples only a group.
    let grantees = || {
        [
            part(
                "workbook_populate_permissions.xml",
                "tsResponse/permissions/granteeCapabilities",
                "tsResponse/permissions/granteeCapabilities",
            ),
            part(
                "datasource_populate_permissions.xml",
                "tsResponse/permissions/granteeCapabilities",
                "tsResponse/permissions/granteeCapabilities",
            ),
        ]
    };
    let with_grantees =
        |primary: &'static str| -> Vec<Ref> { std::iter::once(whole(primary)).chain(grantees()).collect() };

    // The single-schedule samples show `frequencyDetails`, which schedules
    // in the schedule list and in tasks carry too (same `scheduleType`).
    let schedules_at = |to: &'static str| SCHEDULE_BY_ID.iter().map(move |f| part(f, "tsResponse/schedule", to));

    // Element types that several endpoints share: a sample from a sibling
    // endpoint (often one fetched with `fields=_all_`, so newer attributes
    // appear) is a fair variant for the same element.
    let views_as = |to: &'static str| {
        ["view_get.xml", "view_get_usage.xml", "view_get_all_fields.xml"].map(|f| part(f, "tsResponse/views/view", to))
    };
    let users_as =
        |to: &'static str| ["user_get.xml", "user_get_all_fields.xml"].map(|f| part(f, "tsResponse/users/user", to));

    vec![
        Case {
            endpoint: "GET serverinfo",
            calls: vec![Call { signed_in: false, ..get("serverinfo".into()) }],
            refs: vec![whole("server_info_get.xml")],
            allow: Allow::default(),
        },
        Case {
            endpoint: "POST auth/signin",
            calls: vec![Call {
                method: Method::POST,
                uri: "auth/signin".into(),
                body: SIGN_IN.into(),
                signed_in: false,
                status: StatusCode::OK,
            }],
            refs: vec![whole("auth_sign_in.xml")],
            allow: Allow::default(),
        },
        Case {
            endpoint: "POST auth/signin (wrong secret, 401)",
            calls: vec![Call {
                method: Method::POST,
                uri: "auth/signin".into(),
                body: BAD_SIGN_IN.into(),
                signed_in: false,
                status: StatusCode::UNAUTHORIZED,
            }],
            refs: vec![whole("auth_sign_in_error.xml")],
            allow: Allow::default(),
        },
        Case {
            endpoint: "GET sites",
            calls: vec![get("sites".into())],
            refs: vec![whole("site_get.xml")],
            allow: Allow::default().missing_attrs(
                "tsResponse/sites/site",
                SITE_SETTINGS_NOT_SIMULATED,
                SITE_SETTINGS_REASON,
            ),
        },
        Case {
            endpoint: "GET sites/{site}",
            calls: vec![get(site.clone())],
            refs: vec![whole("site_get_by_id.xml")],
            allow: Allow::default()
                .missing_attrs("tsResponse/site", SITE_SETTINGS_NOT_SIMULATED, SITE_SETTINGS_REASON)
                .missing_attrs(
                    "tsResponse/site",
                    &["catalogObfuscationEnabled", "commentingMentionsEnabled"],
                    SITE_SETTINGS_REASON,
                ),
        },
        Case {
            endpoint: "GET sites/{site}/projects",
            calls: vec![get(format!("{site}/projects?pageSize=1000"))],
            refs: vec![whole("project_get.xml"), whole("project_get_all_fields.xml")],
            allow: Allow::default(),
        },
        Case {
            endpoint: "GET sites/{site}/workbooks",
            calls: vec![get(format!("{site}/workbooks?pageSize=1000"))],
            refs: vec![whole("workbook_get.xml"), whole("workbook_get_all_fields.xml")],
            allow: Allow::default(),
        },
        Case {
            endpoint: "GET sites/{site}/workbooks/{id}",
            calls: vec![get(format!("{site}/workbooks/{}", wb.id))],
            // The by-id sample dates from API 2.3; the all-fields list shows
            // the same workbook element with encryptExtracts, defaultViewId
            // and the owner's name.
            refs: vec![
                whole("workbook_get_by_id.xml"),
                part("workbook_get_all_fields.xml", "tsResponse/workbooks/workbook", "tsResponse/workbook"),
            ],
            allow: Allow::default(),
        },
        Case {
            endpoint: "GET sites/{site}/workbooks/{id}/views",
            calls: vec![
                get(format!("{site}/workbooks/{}/views", wb.id)),
                get(format!("{site}/workbooks/{}/views?includeUsageStatistics=true", wb.id)),
            ],
            refs: [whole("workbook_populate_views.xml"), whole("workbook_populate_views_usage.xml")]
                .into_iter()
                .chain(views_as("tsResponse/views/view"))
                .collect(),
            allow: Allow::default().extra("tsResponse/pagination", PAGINATION_REASON),
        },
        Case {
            endpoint: "GET sites/{site}/views?includeUsageStatistics=true",
            calls: vec![get(format!("{site}/views?includeUsageStatistics=true&pageSize=1000"))],
            refs: vec![whole("view_get_usage.xml"), whole("view_get.xml"), whole("view_get_all_fields.xml")],
            allow: Allow::default(),
        },
        Case {
            endpoint: "GET sites/{site}/views/{id}",
            calls: vec![
                get(format!("{site}/views/{}", view.id)),
                get(format!("{site}/views/{}?includeUsageStatistics=true", view.id)),
            ],
            refs: [whole("view_get_id.xml"), whole("view_get_id_usage.xml")]
                .into_iter()
                .chain(views_as("tsResponse/view"))
                .collect(),
            allow: Allow::default(),
        },
        Case {
            endpoint: "GET sites/{site}/datasources",
            calls: vec![get(format!("{site}/datasources?pageSize=1000"))],
            refs: vec![whole("datasource_get.xml"), whole("datasource_get_all_fields.xml")],
            allow: Allow::default(),
        },
        Case {
            endpoint: "GET sites/{site}/datasources/{id}",
            calls: vec![get(format!("{site}/datasources/{}", ds.id))],
            refs: vec![
                whole("datasource_get_by_id.xml"),
                part("datasource_get.xml", "tsResponse/datasources/datasource", "tsResponse/datasource"),
                part("datasource_get_all_fields.xml", "tsResponse/datasources/datasource", "tsResponse/datasource"),
            ],
            allow: Allow::default()
                .missing("tsResponse/datasource/askData", "Ask Data is retired; TRM does not read its enablement")
                .missing(
                    "tsResponse/datasource/askData@enablement",
                    "Ask Data is retired; TRM does not read its enablement",
                ),
        },
        Case {
            endpoint: "GET sites/{site}/users",
            calls: vec![get(format!("{site}/users?pageSize=1000"))],
            refs: vec![whole("user_get.xml"), whole("user_get_all_fields.xml")],
            allow: Allow::default(),
        },
        Case {
            endpoint: "GET sites/{site}/users/{id}",
            calls: vec![get(format!("{site}/users/{}", user.id))],
            refs: std::iter::once(whole("user_get_by_id.xml")).chain(users_as("tsResponse/user")).collect(),
            allow: Allow::default(),
        },
        Case {
            endpoint: "GET sites/{site}/users/{id}/groups",
            calls: vec![get(format!("{site}/users/{}/groups", user.id))],
            // userCount: same group element as in the all-fields group list.
            refs: vec![
                whole("user_populate_groups.xml"),
                part("group_get_all_fields.xml", "tsResponse/groups/group", "tsResponse/groups/group"),
            ],
            allow: Allow::default(),
        },
        Case {
            endpoint: "GET sites/{site}/groups",
            calls: vec![get(format!("{site}/groups?pageSize=1000"))],
            refs: vec![whole("group_get.xml"), whole("group_get_all_fields.xml")],
            allow: Allow::default(),
        },
        Case {
            endpoint: "GET sites/{site}/groups/{id}/users",
            calls: vec![get(format!("{site}/groups/{}/users", group.id))],
            // fullName, email, authSetting: same user element as the user list.
            refs: std::iter::once(whole("group_populate_users.xml")).chain(users_as("tsResponse/users/user")).collect(),
            allow: Allow::default(),
        },
        Case {
            endpoint: "GET sites/{site}/jobs",
            calls: vec![get(format!("{site}/jobs?pageSize=1000"))],
            refs: vec![whole("job_get.xml")],
            allow: Allow::default().extra_attrs(
                "tsResponse/backgroundJobs/backgroundJob",
                &["title", "subtitle"],
                "documented for Query Jobs and read by TSC's BackgroundJobItem; the 3.1 sample lacks them",
            ),
        },
        Case {
            endpoint: "GET sites/{site}/jobs/{id}",
            calls: vec![get(format!("{site}/jobs/{}", failed_wb_job.id)), get(format!("{site}/jobs/{}", ds_job.id))],
            // datasource_refresh.xml is the job a data source refresh
            // returns: extractRefreshJob/datasource.
            refs: vec![
                whole("job_get_by_id_failed_workbook.xml"),
                whole("job_get_by_id_failed.xml"),
                whole("job_get_by_id_completed.xml"),
                whole("datasource_refresh.xml"),
            ],
            allow: Allow::default(),
        },
        Case {
            endpoint: "GET sites/{site}/tasks/extractRefreshes",
            calls: vec![get(format!("{site}/tasks/extractRefreshes"))],
            refs: [whole("tasks_with_workbook_and_datasource.xml"), whole("tasks_with_interval.xml")]
                .into_iter()
                .chain(schedules_at("tsResponse/tasks/task/extractRefresh/schedule"))
                .collect(),
            allow: Allow::default().extra("tsResponse/pagination", PAGINATION_REASON),
        },
        Case {
            endpoint: "GET schedules",
            calls: vec![get("schedules?pageSize=1000".into())],
            refs: std::iter::once(whole("schedule_get.xml"))
                .chain(schedules_at("tsResponse/schedules/schedule"))
                .collect(),
            allow: Allow::default(),
        },
        Case {
            endpoint: "GET schedules/{id}",
            // Every schedule, so every frequency's interval shape is checked.
            calls: d.schedules.iter().map(|s| get(format!("schedules/{}", s.id))).collect(),
            refs: SCHEDULE_BY_ID.iter().map(|f| whole(f)).collect(),
            allow: Allow::default(),
        },
        Case {
            endpoint: "GET sites/{site}/workbooks/{id}/permissions",
            calls: permission_calls("workbooks", wb_perm),
            refs: with_grantees("workbook_populate_permissions.xml"),
            allow: if wb_user_grant {
                Allow::default()
            } else {
                let why =
                    "no workbook of this seeded site has a user grant (views, data sources and projects show one)";
                Allow::default()
                    .missing("tsResponse/permissions/granteeCapabilities/user", why)
                    .missing("tsResponse/permissions/granteeCapabilities/user@id", why)
            },
        },
        Case {
            endpoint: "GET sites/{site}/views/{id}/permissions",
            calls: permission_calls("views", view_perm),
            refs: with_grantees("view_populate_permissions.xml"),
            allow: Allow::default(),
        },
        Case {
            endpoint: "GET sites/{site}/datasources/{id}/permissions",
            calls: permission_calls("datasources", ds_perm),
            refs: with_grantees("datasource_populate_permissions.xml"),
            allow: Allow::default(),
        },
        Case {
            endpoint: "GET sites/{site}/projects/{id}/permissions",
            calls: permission_calls("projects", proj_perm),
            refs: with_grantees("project_populate_permissions.xml"),
            allow: Allow::default(),
        },
        Case {
            endpoint: "GET sites/{site}/projects/{id}/default-permissions/workbooks",
            calls: proj_default
                .into_iter()
                .map(|id| get(format!("{site}/projects/{id}/default-permissions/workbooks")))
                .collect(),
            refs: with_grantees("project_populate_workbook_default_permissions.xml"),
            allow: Allow::default(),
        },
        Case {
            endpoint: "GET sites/{site}/workbooks/{unknown id} (404)",
            calls: vec![Call {
                status: StatusCode::NOT_FOUND,
                ..get(format!("{site}/workbooks/00000000-0000-0000-0000-000000000000"))
            }],
            refs: vec![whole("server_info_404.xml"), whole("auth_sign_in_error.xml")],
            allow: Allow::default(),
        },
    ]
}

/// The write endpoints, each with the reference of its response. Ids are
/// chosen from the site before any write, so each call finds its target.
fn write_cases(st: &SimState) -> Vec<Case> {
    use trm::sim::dataset::Health;
    let d = &st.data();
    let site = format!("sites/{}", d.site.id);
    let user = &d.users[1];
    let group = d.groups.iter().find(|g| g.name != "All Users").expect("a group");
    let outsiders: Vec<&str> =
        d.users.iter().enumerate().filter(|(i, _)| !group.members.contains(&(*i as u32))).map(|(_, u)| u.id.as_str()).take(3).collect();
    let project = &d.projects[1];
    let nested = d.projects.iter().find(|p| p.parent.is_some()).expect("a nested project");
    let wb = d.workbooks.iter().find(|w| !d.projects[w.project as usize].locked).expect("an unlocked workbook");
    let extract_wb = d.workbooks.iter().find(|w| w.has_extracts).expect("a workbook with an extract");
    let extract_ds = d.datasources.iter().find(|x| x.has_extracts).expect("a datasource with an extract");
    let other_task = d
        .tasks
        .iter()
        .find(|t| !matches!(t.target, Target::Workbook(w) if d.workbooks[w as usize].id == extract_wb.id)
            && !matches!(t.target, Target::Datasource(x) if d.datasources[x as usize].id == extract_ds.id)
            && t.health == Health::Healthy)
        .expect("a third refresh task");
    // The update sample is a weekly schedule; the extract schedule for new tasks is any active one.
    let active = |s: &&trm::sim::dataset::Schedule| s.suspended_at.is_none() && s.kind == trm::sim::dataset::ScheduleType::Extract;
    let weekly = d
        .schedules
        .iter()
        .filter(active)
        .find(|s| s.frequency == trm::sim::dataset::Frequency::Weekly)
        .or_else(|| d.schedules.iter().find(active))
        .expect("an active extract schedule");
    let (s_at, schedule) = d.schedules.iter().enumerate().find(|(_, s)| active(s)).expect("an active extract schedule");
    let off = |t: Target| d.task_of.get(&t).is_none_or(|&k| d.tasks[k as usize].schedule as usize != s_at);
    let unscheduled_wb = (0..d.workbooks.len() as u32)
        .find(|&w| d.workbooks[w as usize].has_extracts && off(Target::Workbook(w)))
        .map(|w| d.workbooks[w as usize].id.clone())
        .expect("a workbook with an extract off that schedule");
    let unscheduled_ds = (0..d.datasources.len() as u32)
        .find(|&x| d.datasources[x as usize].has_extracts && off(Target::Datasource(x)))
        .map(|x| d.datasources[x as usize].id.clone())
        .expect("a datasource with an extract off that schedule");
    let grant = |grants: &[(&str, &str, &[(&str, &str)])]| {
        let body: String = grants
            .iter()
            .map(|(kind, id, caps)| {
                let caps: String = caps.iter().map(|(c, m)| format!(r#"<capability name="{c}" mode="{m}"/>"#)).collect();
                format!(r#"<granteeCapabilities><{kind} id="{id}"/><capabilities>{caps}</capabilities></granteeCapabilities>"#)
            })
            .collect();
        format!("<tsRequest><permissions>{body}</permissions></tsRequest>")
    };
    let tags = r#"<tsRequest><tags><tag label="reviewed"/><tag label="q4"/></tags></tsRequest>"#.to_string();
    let users_list: String = outsiders[1..].iter().map(|u| format!(r#"<user id="{u}"/>"#)).collect();
    vec![
        Case {
            endpoint: "POST sites/{site}/users",
            calls: vec![write(
                Method::POST,
                format!("{site}/users"),
                r#"<tsRequest><user name="new.hire@example.com" siteRole="Explorer" authSetting="ServerDefault"/></tsRequest>"#.into(),
                StatusCode::CREATED,
            )],
            refs: vec![whole("user_add.xml")],
            allow: Allow::default(),
        },
        Case {
            endpoint: "PUT sites/{site}/users/{id}",
            calls: vec![write(
                Method::PUT,
                format!("{site}/users/{}", user.id),
                r#"<tsRequest><user fullName="Renamed" email="renamed@example.com" siteRole="Viewer"/></tsRequest>"#.into(),
                StatusCode::OK,
            )],
            refs: vec![whole("user_update.xml")],
            allow: Allow::default().extra_attrs("tsResponse/user", &["authSetting"], "newer servers echo the auth setting too"),
        },
        Case {
            endpoint: "POST sites/{site}/groups",
            calls: vec![write(
                Method::POST,
                format!("{site}/groups"),
                r#"<tsRequest><group name="Data Stewards" minimumSiteRole="Explorer"/></tsRequest>"#.into(),
                StatusCode::CREATED,
            )],
            refs: vec![whole("group_create.xml"), whole("group_update.xml")],
            allow: Allow::default(),
        },
        Case {
            endpoint: "POST sites/{site}/groups/{id}/users",
            calls: vec![write(
                Method::POST,
                format!("{site}/groups/{}/users", group.id),
                format!(r#"<tsRequest><user id="{}"/></tsRequest>"#, outsiders[0]),
                StatusCode::OK,
            )],
            refs: vec![whole("group_add_user.xml")],
            allow: Allow::default(),
        },
        Case {
            endpoint: "POST sites/{site}/groups/{id}/users (3.21 list)",
            calls: vec![write(
                Method::POST,
                format!("{site}/groups/{}/users", group.id),
                format!("<tsRequest><users>{users_list}</users></tsRequest>"),
                StatusCode::OK,
            )],
            refs: vec![whole("group_add_users.xml")],
            allow: Allow::default(),
        },
        Case {
            endpoint: "POST sites/{site}/projects",
            calls: vec![write(
                Method::POST,
                format!("{site}/projects"),
                format!(r#"<tsRequest><project name="Governance" description="d" parentProjectId="{}" contentPermissions="ManagedByOwner"/></tsRequest>"#, project.id),
                StatusCode::CREATED,
            )],
            refs: vec![whole("project_create.xml"), whole("project_update.xml"), whole("project_get.xml")],
            allow: Allow::default(),
        },
        Case {
            endpoint: "PUT sites/{site}/projects/{id}",
            calls: vec![write(
                Method::PUT,
                format!("{site}/projects/{}", nested.id),
                r#"<tsRequest><project contentPermissions="LockedToProject"/></tsRequest>"#.into(),
                StatusCode::OK,
            )],
            refs: vec![whole("project_update.xml"), whole("project_get.xml")],
            allow: Allow::default(),
        },
        Case {
            endpoint: "PUT sites/{site}/workbooks/{id}/permissions",
            calls: vec![write(
                Method::PUT,
                format!("{site}/workbooks/{}/permissions", wb.id),
                grant(&[("group", &group.id, &[("Read", "Allow"), ("ExportData", "Deny")]), ("user", &user.id, &[("Write", "Allow")])]),
                StatusCode::OK,
            )],
            refs: vec![whole("workbook_update_permissions.xml")],
            allow: Allow::default(),
        },
        Case {
            endpoint: "PUT sites/{site}/projects/{id}/default-permissions/datasources",
            calls: vec![write(
                Method::PUT,
                format!("{site}/projects/{}/default-permissions/datasources", project.id),
                grant(&[("group", &group.id, &[("Connect", "Allow")])]),
                StatusCode::OK,
            )],
            refs: vec![whole("project_update_datasource_default_permissions.xml")],
            allow: Allow::default(),
        },
        Case {
            endpoint: "PUT sites/{site}/{workbooks|datasources|views}/{id}/tags",
            calls: vec![
                write(Method::PUT, format!("{site}/workbooks/{}/tags", wb.id), tags.clone(), StatusCode::OK),
                write(Method::PUT, format!("{site}/datasources/{}/tags", extract_ds.id), tags.clone(), StatusCode::OK),
                write(Method::PUT, format!("{site}/views/{}/tags", d.views[0].id), tags.clone(), StatusCode::OK),
            ],
            refs: vec![whole("workbook_add_tags.xml"), whole("datasource_add_tags.xml"), whole("view_add_tags.xml")],
            allow: Allow::default(),
        },
        Case {
            endpoint: "POST sites/{site}/{datasources|workbooks}/{id}/refresh",
            calls: vec![
                write(Method::POST, format!("{site}/datasources/{}/refresh", extract_ds.id), "<tsRequest/>".into(), StatusCode::ACCEPTED),
                write(Method::POST, format!("{site}/workbooks/{}/refresh", extract_wb.id), "<tsRequest/>".into(), StatusCode::ACCEPTED),
            ],
            refs: vec![whole("datasource_refresh.xml"), whole("workbook_refresh.xml")],
            allow: Allow::default(),
        },
        Case {
            endpoint: "POST sites/{site}/tasks/extractRefreshes/{id}/runNow",
            calls: vec![write(
                Method::POST,
                format!("{site}/tasks/extractRefreshes/{}/runNow", other_task.id),
                "<tsRequest/>".into(),
                StatusCode::ACCEPTED,
            )],
            refs: vec![whole("tasks_run_now_response.xml")],
            allow: Allow::default().extra_attrs("tsResponse/job", &["createdAt"], "the refresh responses carry it; run-now's sample predates it"),
        },
        Case {
            endpoint: "PUT schedules/{id}",
            calls: vec![write(
                Method::PUT,
                format!("schedules/{}", weekly.id),
                r#"<tsRequest><schedule name="Renamed schedule" priority="60"/></tsRequest>"#.into(),
                StatusCode::OK,
            )],
            refs: std::iter::once(whole("schedule_update.xml")).chain(SCHEDULE_BY_ID.iter().map(|f| whole(f))).collect(),
            allow: Allow::default(),
        },
        Case {
            endpoint: "PUT sites/{site}/schedules/{id}/{workbooks|datasources}",
            calls: vec![
                write(
                    Method::PUT,
                    format!("{site}/schedules/{}/datasources", schedule.id),
                    format!(r#"<tsRequest><task><extractRefresh><datasource id="{unscheduled_ds}"/></extractRefresh></task></tsRequest>"#),
                    StatusCode::OK,
                ),
                write(
                    Method::PUT,
                    format!("{site}/schedules/{}/workbooks", schedule.id),
                    format!(r#"<tsRequest><task><extractRefresh><workbook id="{unscheduled_wb}"/></extractRefresh></task></tsRequest>"#),
                    StatusCode::OK,
                ),
            ],
            refs: vec![whole("schedule_add_datasource.xml"), whole("schedule_add_workbook.xml")],
            allow: Allow::default().extra(
                "tsResponse/task/extractRefresh/workbook",
                "an extract task on a workbook is an <extractRefresh> too; the workbook sample is of a materialized-views task",
            ),
        },
    ]
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[tokio::test]
async fn responses_match_reference_shapes() {
    let Some(dir) = reference_dir() else { return };
    let site = Site::start().await;
    let mut problems = Vec::new();
    // Writes change the site, so they come after every read.
    let all = cases(&site.state).into_iter().chain(write_cases(&site.state));
    for case in all {
        let ours = our_shape(&site, &case).await;
        let shapes: Vec<Shape> = case.refs.iter().map(|r| load_ref(&dir, *r)).collect();
        let mut union = Shape::default();
        shapes.iter().for_each(|s| union.merge(s));
        let files: Vec<&str> = case.refs.iter().map(|r| r.file).collect();
        let found = compare(case.endpoint, &ours, &shapes[0], &union, &case.allow);
        if !found.is_empty() {
            problems.push(format!("{} vs {}:\n  {}", case.endpoint, files.join(", "), found.join("\n  ")));
        }
    }
    assert!(problems.is_empty(), "response shapes differ from the references:\n{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------
// The comparator itself: it must catch the defects this file exists for.
// These run without ../shared.
// ---------------------------------------------------------------------------

const SAMPLE_REF: &str = r#"<ns0:tsResponse xmlns:ns0="http://tableau.com/api" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://tableau.com/api x.xsd">
  <ns0:views><ns0:view id="1" name="Overview"><ns0:usage totalViewCount="3"/></ns0:view></ns0:views>
</ns0:tsResponse>"#;

fn check_sample(ours: &str, allow: &Allow) -> Vec<String> {
    let reference = Shape::parse(SAMPLE_REF).unwrap();
    compare("GET test", &Shape::parse(ours).unwrap(), &reference, &reference, allow)
}

fn ours_sample(body: &str) -> String {
    format!(
        r#"<tsResponse xmlns="http://tableau.com/api" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://tableau.com/api y.xsd">{body}</tsResponse>"#
    )
}

#[test]
fn comparator_accepts_the_same_shape_under_another_prefix() {
    let ours = ours_sample(r#"<views><view name="Sales" id="9"><usage totalViewCount="0"/></view></views>"#);
    assert_eq!(check_sample(&ours, &Allow::default()), Vec::<String>::new());
}

#[test]
fn comparator_flags_a_misspelt_attribute() {
    let ours = ours_sample(r#"<views><view id="9" name="Sales"><usage totalViewcount="0"/></view></views>"#);
    let found = check_sample(&ours, &Allow::default());
    assert_eq!(
        found,
        vec![
            "GET test: we emit attribute `totalViewcount` on tsResponse/views/view/usage but no reference has it",
            "GET test: we do not emit attribute `totalViewCount` on tsResponse/views/view/usage of the primary reference",
        ]
    );
}

#[test]
fn comparator_flags_wrong_nesting() {
    let ours = ours_sample(r#"<views><view id="9" name="Sales"/><usage totalViewCount="0"/></views>"#);
    let found = check_sample(&ours, &Allow::default()).join("\n");
    assert!(found.contains("we emit element tsResponse/views/usage but"), "{found}");
    assert!(found.contains("we do not emit element tsResponse/views/view/usage of"), "{found}");
}

#[test]
fn comparator_flags_a_missing_namespace() {
    let ours =
        r#"<tsResponse><views><view id="9" name="Sales"><usage totalViewCount="0"/></view></views></tsResponse>"#;
    let found = check_sample(ours, &Allow::default());
    assert!(found[0].contains("root element is Some(\"{}tsResponse\")"), "{found:#?}");
    assert!(found.iter().any(|p| p.contains("we do not emit element tsResponse/views/view of")), "{found:#?}");
    // Declaring some other default namespace is no better.
    let ours = ours.replace("<tsResponse>", r#"<tsResponse xmlns="http://tableau.com/api/v2">"#);
    let found = check_sample(&ours, &Allow::default());
    assert!(found[0].contains("{http://tableau.com/api/v2}tsResponse"), "{found:#?}");
}

#[test]
fn comparator_flags_a_dropped_core_attribute_and_reports_everything() {
    let ours = ours_sample(r#"<views><view id="9"/></views><pagination pageNumber="1"/>"#);
    let found = check_sample(&ours, &Allow::default());
    assert_eq!(
        found,
        vec![
            "GET test: we emit element tsResponse/pagination but no reference has it",
            "GET test: we emit attribute `pageNumber` on tsResponse/pagination but no reference has it",
            "GET test: we do not emit element tsResponse/views/view/usage of the primary reference",
            "GET test: we do not emit attribute `totalViewCount` on tsResponse/views/view/usage of the primary reference",
            "GET test: we do not emit attribute `name` on tsResponse/views/view of the primary reference",
        ]
    );
}

#[test]
fn comparator_honours_allow_lists_and_flags_stale_entries() {
    let ours =
        ours_sample(r#"<views><view id="9"><usage totalViewCount="0"/></view></views><pagination pageNumber="1"/>"#);
    let allow = Allow::default().extra("tsResponse/pagination", "test").missing("tsResponse/views/view@name", "test");
    assert_eq!(check_sample(&ours, &allow), Vec::<String>::new());
    let stale = allow.clone().extra("tsResponse/views/view@id", "test").missing("tsResponse/nothing", "test");
    assert_eq!(
        check_sample(&ours, &stale),
        vec![
            "GET test: allow-list `extra` entry \"tsResponse/views/view@id\" is no longer needed",
            "GET test: allow-list `missing` entry \"tsResponse/nothing\" is no longer needed",
        ]
    );
}

#[test]
fn mounting_moves_a_subtree() {
    let shape = Shape::parse(SAMPLE_REF).unwrap().mounted("tsResponse/views/view", "tsResponse/view");
    let keys: Vec<String> = shape.keys().into_iter().collect();
    assert_eq!(
        keys,
        vec![
            "tsResponse/view",
            "tsResponse/view/usage",
            "tsResponse/view/usage@totalViewCount",
            "tsResponse/view@id",
            "tsResponse/view@name",
        ]
    );
}
