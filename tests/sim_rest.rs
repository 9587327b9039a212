//! Protocol tests for the simulated site's REST API, over a real loopback
//! socket: sign-in, sessions, paging, filters, formats, limits and the clock.
//!
//! Responses are parsed here with roxmltree and serde_json, independently of
//! the site's own writer.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use reqwest::StatusCode;
use trm::sim::dataset::names::{HOSTILE_PROJECT, HOSTILE_VIEW, HOSTILE_WORKBOOK};
use trm::sim::dataset::{day_start, SheetType, VIEW_CAPABILITIES};
use trm::sim::{self, SimConfig, SimHandle};

const NS: &str = "http://tableau.com/api";

struct Site {
    handle: SimHandle,
    client: reqwest::Client,
}

struct Resp {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Resp {
    fn doc(&self) -> roxmltree::Document<'_> {
        roxmltree::Document::parse(&self.body).unwrap_or_else(|e| panic!("not XML ({e}): {}", self.body))
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The Tableau error code of an XML error response.
    fn error_code(&self) -> String {
        let doc = self.doc();
        let err = doc.descendants().find(|n| n.has_tag_name((NS, "error"))).expect("an <error> element");
        err.attribute("code").expect("error code").to_string()
    }

    /// Attribute values of every element with this local name.
    fn attrs(&self, element: &str, attr: &str) -> Vec<String> {
        self.doc()
            .descendants()
            .filter(|n| n.has_tag_name((NS, element)))
            .filter_map(|n| n.attribute(attr).map(str::to_string))
            .collect()
    }

    fn pagination(&self) -> (usize, usize, usize) {
        let doc = self.doc();
        let p = doc.root_element().children().find(|n| n.has_tag_name((NS, "pagination"))).expect("<pagination>");
        let num = |a| p.attribute(a).unwrap().parse().unwrap();
        (num("pageNumber"), num("pageSize"), num("totalAvailable"))
    }
}

impl Site {
    async fn start(config: SimConfig) -> Site {
        let handle = sim::start(config, SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("site starts");
        Site { handle, client: trm::tls::http_client() }
    }

    async fn small() -> Site {
        Site::start(SimConfig::default()).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.handle.url(), path)
    }

    fn site_path(&self, rest: &str) -> String {
        format!("/api/3.27/sites/{}/{rest}", self.handle.state.data().site.id)
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Resp {
        let r = req.send().await.expect("request sent");
        Resp { status: r.status(), headers: r.headers().clone(), body: r.text().await.unwrap() }
    }

    async fn sign_in_with(&self, body: String) -> Resp {
        self.send(self.client.post(self.url("/api/3.27/auth/signin")).body(body)).await
    }

    async fn sign_in(&self) -> String {
        let c = &self.handle.state.config;
        let r = self.sign_in_with(pat_body(&c.pat_name, &c.pat_secret, &c.site_content_url)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        r.attrs("credentials", "token").pop().expect("a token")
    }

    async fn get(&self, path: &str, token: &str) -> Resp {
        self.send(self.client.get(self.url(path)).header("X-Tableau-Auth", token)).await
    }

    async fn get_json(&self, path: &str, token: &str) -> Resp {
        self.send(self.client.get(self.url(path)).header("X-Tableau-Auth", token).header("Accept", "application/json"))
            .await
    }
}

fn pat_body(name: &str, secret: &str, site: &str) -> String {
    format!(
        "<tsRequest><credentials personalAccessTokenName=\"{name}\" personalAccessTokenSecret=\"{secret}\">\
         <site contentUrl=\"{site}\"/></credentials></tsRequest>"
    )
}

#[tokio::test]
async fn pat_sign_in_returns_token_site_and_user_in_tableau_namespace() {
    let site = Site::small().await;
    let c = &site.handle.state.config;
    let r = site.sign_in_with(pat_body(&c.pat_name, &c.pat_secret, &c.site_content_url)).await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.doc();
    let root = doc.root_element();
    assert!(root.has_tag_name((NS, "tsResponse")), "root is {:?}", root.tag_name());
    let creds = root.children().find(|n| n.has_tag_name((NS, "credentials"))).expect("credentials is a child of root");
    assert!(creds.attribute("token").is_some_and(|t| t.len() >= 32));
    assert_eq!(r.attrs("site", "id"), vec![site.handle.state.data().site.id.clone()]);
    assert_eq!(r.attrs("site", "contentUrl"), vec!["analytics".to_string()]);
    assert_eq!(r.attrs("user", "id"), vec![site.handle.state.data().users[0].id.clone()]);
    assert!(r.headers["content-type"].to_str().unwrap().starts_with("application/xml"));
}

#[tokio::test]
async fn json_sign_in_and_password_sign_in() {
    let site = Site::small().await;
    let body = serde_json::json!({"credentials": {
        "personalAccessTokenName": "trm-sim", "personalAccessTokenSecret": "trm-sim-secret",
        "site": {"contentUrl": "analytics"}}});
    let r = site
        .send(
            site.client
                .post(site.url("/api/3.27/auth/signin"))
                .header("Content-Type", "application/json")
                .header("Accept", "application/json")
                .body(body.to_string()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let v = r.json();
    assert!(v["credentials"]["token"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(v["credentials"]["site"]["id"], site.handle.state.data().site.id.as_str());

    let pw = "<tsRequest><credentials name=\"admin\" password=\"admin-password\"><site contentUrl=\"analytics\"/></credentials></tsRequest>";
    let r = site.sign_in_with(pw.to_string()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn failed_sign_ins_get_tableau_errors() {
    let site = Site::small().await;
    for body in [
        pat_body("trm-sim", "wrong-secret", "analytics"),
        pat_body("someone-else", "trm-sim-secret", "analytics"),
        pat_body("trm-sim", "trm-sim-secret", "other-site"),
        "<tsRequest><credentials name=\"admin\" password=\"nope\"><site contentUrl=\"analytics\"/></credentials></tsRequest>".into(),
    ] {
        let r = site.sign_in_with(body.clone()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(r.error_code(), "401001");
    }
    let r = site.sign_in_with("<tsRequest><credentials".into()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), "400000");
}

#[tokio::test]
async fn calls_without_a_valid_session_get_401() {
    let site = Site::small().await;
    let path = site.site_path("workbooks");
    let r = site.send(site.client.get(site.url(&path))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.error_code(), "401000");
    let r = site.get(&path, "not-a-token").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.error_code(), "401002");
}

#[tokio::test]
async fn sessions_expire_after_the_ttl() {
    let site = Site::start(SimConfig { session_ttl: Duration::from_millis(300), ..SimConfig::default() }).await;
    let token = site.sign_in().await;
    let path = site.site_path("projects");
    assert_eq!(site.get(&path, &token).await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let r = site.get(&path, &token).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.error_code(), "401002");
    // Signing in again recovers.
    let fresh = site.sign_in().await;
    assert_eq!(site.get(&path, &fresh).await.status, StatusCode::OK);
}

#[tokio::test]
async fn signing_in_again_with_the_same_pat_ends_the_earlier_session() {
    let site = Site::small().await;
    let first = site.sign_in().await;
    let second = site.sign_in().await;
    assert_ne!(first, second);
    let path = site.site_path("users");
    assert_eq!(site.get(&path, &first).await.error_code(), "401002");
    assert_eq!(site.get(&path, &second).await.status, StatusCode::OK);
}

#[tokio::test]
async fn sign_out_ends_the_session() {
    let site = Site::small().await;
    let token = site.sign_in().await;
    let r = site.send(site.client.post(site.url("/api/3.27/auth/signout")).header("X-Tableau-Auth", &token)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = site.get(&site.site_path("users"), &token).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.error_code(), "401002");
}

#[tokio::test]
async fn paging_covers_every_item_once_with_a_partial_last_page() {
    let site = Site::small().await;
    let token = site.sign_in().await;
    let total = site.handle.state.data().workbooks.len();
    assert_eq!(total, 20);
    let mut seen = Vec::new();
    for (page, expect) in [(1, 7), (2, 7), (3, 6)] {
        let r = site.get(&site.site_path(&format!("workbooks?pageSize=7&pageNumber={page}")), &token).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.pagination(), (page, 7, total));
        let ids = r.attrs("workbook", "id");
        assert_eq!(ids.len(), expect, "page {page}");
        seen.extend(ids);
    }
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), total);

    let r = site.get(&site.site_path("workbooks?pageSize=1000"), &token).await;
    assert_eq!(r.pagination(), (1, 1000, total));
    assert_eq!(r.attrs("workbook", "id").len(), total);

    let r = site.get(&site.site_path("workbooks"), &token).await;
    assert_eq!(r.pagination(), (1, 100, total), "default page size is 100");
}

#[tokio::test]
async fn out_of_range_paging_gets_400() {
    let site = Site::small().await;
    let token = site.sign_in().await;
    for q in ["pageSize=1001", "pageSize=0", "pageSize=abc"] {
        let r = site.get(&site.site_path(&format!("workbooks?{q}")), &token).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}");
        assert_eq!(r.error_code(), "400007", "{q}");
    }
    let r = site.get(&site.site_path("workbooks?pageSize=7&pageNumber=4"), &token).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.error_code(), "400006");
}

#[tokio::test]
async fn an_empty_collection_has_zero_total_in_both_formats() {
    let site = Site::small().await;
    let token = site.sign_in().await;
    let path = site.site_path("workbooks?filter=name:eq:No%20Such%20Workbook");
    let r = site.get(&path, &token).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.pagination(), (1, 100, 0));
    assert!(r.attrs("workbook", "id").is_empty());
    assert!(r.doc().descendants().any(|n| n.has_tag_name((NS, "workbooks"))));
    let v = site.get_json(&path, &token).await.json();
    assert_eq!(v["pagination"]["totalAvailable"], "0");
    assert_eq!(v["workbooks"], serde_json::json!({}));
}

#[tokio::test]
async fn filters_select_exactly_the_matching_items() {
    let site = Site::small().await;
    let token = site.sign_in().await;
    let data = &site.handle.state.data();

    let target = data.workbooks.iter().find(|w| w.name.contains(' ')).expect("a workbook name with a space");
    let encoded = target.name.replace(' ', "%20").replace('&', "%26");
    let r = site.get(&site.site_path(&format!("workbooks?filter=name:eq:{encoded}")), &token).await;
    assert_eq!(r.attrs("workbook", "id"), vec![target.id.clone()]);

    let mut times: Vec<i64> = data.workbooks.iter().map(|w| w.updated_at).collect();
    times.sort();
    let cut = times[times.len() / 2];
    let iso = trm::sim::manifest::iso(cut);
    let r = site.get(&site.site_path(&format!("workbooks?pageSize=1000&filter=updatedAt:gt:{iso}")), &token).await;
    let got: HashSet<String> = r.attrs("workbook", "id").into_iter().collect();
    let want: HashSet<String> = data.workbooks.iter().filter(|w| w.updated_at > cut).map(|w| w.id.clone()).collect();
    assert!(!want.is_empty());
    assert_eq!(got, want);

    let r = site.get(&site.site_path("users?filter=siteRole:eq:Viewer&pageSize=1000"), &token).await;
    let viewers = data.users.iter().filter(|u| u.site_role.as_str() == "Viewer").count();
    assert_eq!(r.attrs("user", "id").len(), viewers);
    assert!(r.attrs("user", "siteRole").iter().all(|r| r == "Viewer"));

    let r = site.get(&site.site_path("workbooks?filter=colour:eq:red"), &token).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("colour"), "the error names the field: {}", r.body);
}

#[tokio::test]
async fn sort_orders_results() {
    let site = Site::small().await;
    let token = site.sign_in().await;
    let r = site.get(&site.site_path("workbooks?pageSize=1000&sort=name:asc"), &token).await;
    let names = r.attrs("workbook", "name");
    let mut sorted = names.clone();
    sorted.sort_by_key(|n| n.to_lowercase());
    assert_eq!(names, sorted);
    let r = site.get(&site.site_path("workbooks?pageSize=1000&sort=updatedAt:desc"), &token).await;
    let times = r.attrs("workbook", "updatedAt");
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
}

#[tokio::test]
async fn json_mode_follows_tableau_conventions() {
    let site = Site::small().await;
    let token = site.sign_in().await;
    let r = site.get_json(&site.site_path("workbooks?pageSize=5"), &token).await;
    assert!(r.headers["content-type"].to_str().unwrap().starts_with("application/json"));
    let v = r.json();
    assert_eq!(v["pagination"]["pageSize"], "5");
    assert_eq!(v["pagination"]["totalAvailable"], "20");
    let wbs = v["workbooks"]["workbook"].as_array().expect("workbook array");
    assert_eq!(wbs.len(), 5);
    assert!(wbs[0]["project"]["id"].is_string());
    assert!(wbs[0]["tags"].is_object());
    let r = site.get_json(&site.site_path("workbooks?pageSize=5000"), &token).await;
    assert_eq!(r.json()["error"]["code"], "400007");
}

#[tokio::test]
async fn exceeding_the_session_concurrency_cap_gets_429_with_retry_after() {
    let site = Site::start(SimConfig {
        max_concurrent_per_session: 1,
        latency: Duration::from_millis(300),
        ..SimConfig::default()
    })
    .await;
    let token = site.sign_in().await;
    let path = site.site_path("projects");
    let (a, b) = tokio::join!(site.get(&path, &token), site.get(&path, &token));
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::TOO_MANY_REQUESTS]);
    let limited = if a.status == StatusCode::TOO_MANY_REQUESTS { &a } else { &b };
    assert_eq!(limited.headers["retry-after"], "1");
    assert_eq!(limited.error_code(), "429000");
    // The slot frees once the first request finishes.
    assert_eq!(site.get(&path, &token).await.status, StatusCode::OK);
}

#[tokio::test]
async fn versions_paths_methods_and_sites_are_checked() {
    let site = Site::small().await;
    let token = site.sign_in().await;
    let site_id = site.handle.state.data().site.id.clone();

    for v in ["3.0", "3.14", "3.27", "2.4"] {
        let r = site.get(&format!("/api/{v}/serverInfo"), &token).await;
        assert_eq!(r.status, StatusCode::OK, "{v}");
    }
    let r = site.get("/api/3.27/serverinfo", "").await;
    let doc = r.doc();
    let rest = doc.descendants().find(|n| n.has_tag_name((NS, "restApiVersion"))).unwrap();
    assert_eq!(rest.text(), Some("3.27"));

    for v in ["3.28", "4.0", "abc"] {
        let r = site.get(&format!("/api/{v}/sites/{site_id}/workbooks"), &token).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{v}");
        assert!(r.body.contains(v));
    }
    let r = site.get(&site.site_path("flowz"), &token).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error_code(), "404003");
    let r = site.send(site.client.delete(site.url(&site.site_path("workbooks"))).header("X-Tableau-Auth", &token)).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    let r = site.get("/api/3.27/sites/00000000-0000-0000-0000-000000000000/workbooks", &token).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = site.get(&site.site_path("workbooks/00000000-0000-0000-0000-000000000000"), &token).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.error_code(), "404006");
}

#[tokio::test]
async fn view_counts_advance_with_the_simulated_clock() {
    let site = Site::small().await;
    let token = site.sign_in().await;
    let path = site.site_path("views?includeUsageStatistics=true&pageSize=1000");
    let counts = |r: &Resp| -> Vec<(String, u64)> {
        r.doc()
            .descendants()
            .filter(|n| n.has_tag_name((NS, "view")))
            .map(|v| {
                let usage = v.children().find(|c| c.has_tag_name((NS, "usage"))).expect("<usage>");
                (v.attribute("id").unwrap().to_string(), usage.attribute("totalViewCount").unwrap().parse().unwrap())
            })
            .collect()
    };
    let before = counts(&site.get(&path, &token).await);
    let r = site.send(site.client.post(site.url("/sim/clock?advance=30"))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["day"], 30);
    let after = counts(&site.get(&path, &token).await);

    let data = &site.handle.state.data();
    let mut grew = 0;
    for ((id, b), (id2, a)) in before.iter().zip(&after) {
        assert_eq!(id, id2);
        let view = data.views.iter().find(|v| &v.id == id).unwrap();
        assert_eq!(*b, view.usage.total_at(0));
        assert_eq!(*a, view.usage.total_at(30));
        assert!(a >= b);
        grew += (a > b) as usize;
    }
    assert!(grew > before.len() / 2, "most views gain views over 30 days");

    // Planted unused dashboards gained nothing.
    let manifest: serde_json::Value = site.send(site.client.get(site.url("/sim/manifest"))).await.json();
    let unused = manifest["planted"]["unused_dashboards"].as_array().unwrap();
    assert!(!unused.is_empty());
    for u in unused {
        let id = u["id"].as_str().unwrap();
        let b = before.iter().find(|(i, _)| i == id).unwrap().1;
        let a = after.iter().find(|(i, _)| i == id).unwrap().1;
        assert_eq!(a, b, "unused dashboard {id} gained views");
    }

    let r = site.get(&site.site_path("views?pageSize=3"), &token).await;
    assert!(!r.body.contains("totalViewCount"), "usage only when asked for");
    let r = site.send(site.client.post(site.url("/sim/clock?day=-1"))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn locked_projects_report_their_default_rules_on_content() {
    let site = Site::small().await;
    let token = site.sign_in().await;
    let data = &site.handle.state.data();
    let (wb, project) = data
        .workbooks
        .iter()
        .find_map(|w| {
            let p = &data.projects[w.project as usize];
            p.locked.then_some((w, p))
        })
        .expect("a workbook in a locked project");
    let grants = |r: &Resp| -> Vec<(String, Vec<(String, String)>)> {
        r.doc()
            .descendants()
            .filter(|n| n.has_tag_name((NS, "granteeCapabilities")))
            .map(|g| {
                let who = g.children().find(|c| c.attribute("id").is_some()).unwrap();
                let caps = g
                    .descendants()
                    .filter(|c| c.has_tag_name((NS, "capability")))
                    .map(|c| (c.attribute("name").unwrap().to_string(), c.attribute("mode").unwrap().to_string()))
                    .collect();
                (format!("{}:{}", who.tag_name().name(), who.attribute("id").unwrap()), caps)
            })
            .collect()
    };
    let on_workbook = grants(&site.get(&site.site_path(&format!("workbooks/{}/permissions", wb.id)), &token).await);
    let defaults =
        grants(&site.get(&site.site_path(&format!("projects/{}/default-permissions/workbooks", project.id)), &token).await);
    assert!(!defaults.is_empty());
    assert_eq!(on_workbook, defaults);

    let view = &data.views[wb.views.start as usize];
    let on_view = grants(&site.get(&site.site_path(&format!("views/{}/permissions", view.id)), &token).await);
    assert!(!on_view.is_empty());
    for (_, caps) in &on_view {
        for (name, _) in caps {
            assert!(VIEW_CAPABILITIES.contains(&name.as_str()), "{name} is not a view capability");
        }
    }
    let denies = data.projects.iter().flat_map(|p| &p.default_workbook_rules).flat_map(|r| &r.capabilities);
    assert!(denies.clone().any(|(_, m)| m.as_str() == "Deny"), "the site has Deny rules");
}

#[tokio::test]
async fn jobs_and_tasks_reflect_planted_refresh_failures() {
    let site = Site::small().await;
    let token = site.sign_in().await;
    let manifest = site.handle.state.manifest();

    let r = site.get(&site.site_path("jobs?pageSize=1000"), &token).await;
    assert_eq!(r.pagination().2, manifest.counts.jobs);
    let statuses = r.attrs("backgroundJob", "status");
    assert_eq!(statuses.iter().filter(|s| *s == "Failed").count(), manifest.counts.failed_jobs);

    let failed = site.handle.state.jobs(&site.handle.state.data()).iter().find(|j| j.failed).cloned().expect("a failed job");
    let r = site.get(&site.site_path(&format!("jobs/{}", failed.id)), &token).await;
    assert_eq!(r.attrs("job", "finishCode"), vec!["1".to_string()]);

    let r = site.get(&site.site_path("tasks/extractRefreshes?pageSize=1000"), &token).await;
    let doc = r.doc();
    for f in &manifest.planted.broken_extracts {
        let task = doc
            .descendants()
            .find(|n| n.has_tag_name((NS, "extractRefresh")) && n.attribute("id") == Some(f.task_id.as_str()))
            .expect("planted task is listed");
        assert_eq!(task.attribute("consecutiveFailedCount").unwrap(), f.consecutive_failed_count.to_string());
    }
    assert!(manifest.planted.broken_extracts.iter().any(|f| f.reasons.contains(&"stale")));
    assert!(manifest.planted.broken_extracts.iter().any(|f| f.reasons.contains(&"consecutive_failures")));
    assert!(!manifest.planted.transient_failures.is_empty());

    // Failing extracts keep failing as the clock moves past every schedule's
    // period (monthly is the longest), and their counts grow.
    site.handle.state.set_day(31);
    let later = site.handle.state.manifest();
    for f in manifest.planted.broken_extracts.iter().filter(|f| f.consecutive_failed_count > 0) {
        let again = later.planted.broken_extracts.iter().find(|g| g.task_id == f.task_id).expect("still failing");
        assert!(again.consecutive_failed_count > f.consecutive_failed_count, "{}", f.task_id);
    }
}

#[tokio::test]
async fn hostile_names_round_trip_escaped() {
    let site = Site::small().await;
    let token = site.sign_in().await;
    let r = site.get(&site.site_path("workbooks?pageSize=1000"), &token).await;
    assert!(!r.body.contains("<script>"), "markup must be escaped in XML");
    assert!(r.attrs("workbook", "name").contains(&HOSTILE_WORKBOOK.to_string()));
    let r = site.get(&site.site_path("projects?pageSize=1000"), &token).await;
    assert!(r.attrs("project", "name").contains(&HOSTILE_PROJECT.to_string()));
    let v = site.get_json(&site.site_path("views?pageSize=1000"), &token).await.json();
    let names: Vec<&str> = v["views"]["view"].as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert!(names.contains(&HOSTILE_VIEW));
}

#[tokio::test]
async fn manifest_counts_match_the_listings() {
    let site = Site::small().await;
    let token = site.sign_in().await;
    let m = site.handle.state.manifest();
    for (path, expected) in [
        ("projects", m.counts.projects),
        ("workbooks", m.counts.workbooks),
        ("views", m.counts.views),
        ("datasources", m.counts.datasources),
        ("users", m.counts.users),
        ("groups", m.counts.groups),
        ("tasks/extractRefreshes", m.counts.extract_refresh_tasks),
    ] {
        let r = site.get(&site.site_path(&format!("{path}?pageSize=1")), &token).await;
        assert_eq!(r.pagination().2, expected, "{path}");
    }
    let dashboards = site.handle.state.data().views.iter().filter(|v| v.sheet_type == SheetType::Dashboard).count();
    assert_eq!(m.counts.dashboards, dashboards);
    assert_eq!(m.now, trm::sim::manifest::iso(day_start(0)));
}

#[tokio::test]
async fn the_site_refuses_non_loopback_addresses() {
    let err = sim::start(SimConfig::default(), "0.0.0.0:0".parse().unwrap()).await.err().expect("refused");
    assert!(err.to_string().contains("loopback"), "{err}");
}
