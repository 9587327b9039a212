//! Protocol tests for the simulated site's write API over a real loopback
//! socket: each write changes what later reads return (REST and Metadata
//! API), Tableau's error codes, additive permission PUTs, locked projects,
//! refresh jobs on the clock, the Tableau Cloud flavour, the call log and
//! concurrent writers.
//!
//! Responses are parsed here with roxmltree and serde_json; expectations
//! come from the dataset model, not from the site's handlers.

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use trm::sim::dataset::{Grantee, Health, Mode, SiteRole, Target};
use trm::sim::{self, Flavor, SimConfig, SimHandle};

const NS: &str = "http://tableau.com/api";

struct Site {
    handle: SimHandle,
    client: reqwest::Client,
    token: String,
}

struct Resp {
    status: StatusCode,
    body: String,
}

impl Resp {
    fn doc(&self) -> roxmltree::Document<'_> {
        roxmltree::Document::parse(&self.body).unwrap_or_else(|e| panic!("not XML ({e}): {}", self.body))
    }

    fn error_code(&self) -> String {
        let doc = self.doc();
        let err = doc.descendants().find(|n| n.has_tag_name((NS, "error"))).unwrap_or_else(|| panic!("no <error>: {}", self.body));
        err.attribute("code").expect("error code").to_string()
    }

    fn attrs(&self, element: &str, attr: &str) -> Vec<String> {
        self.doc()
            .descendants()
            .filter(|n| n.has_tag_name((NS, element)))
            .filter_map(|n| n.attribute(attr).map(str::to_string))
            .collect()
    }

    fn expect(self, status: StatusCode) -> Resp {
        assert_eq!(self.status, status, "{}", self.body);
        self
    }
}

impl Site {
    async fn start(config: SimConfig) -> Site {
        let handle = sim::start(config, SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("site starts");
        let client = trm::tls::http_client();
        let c = &handle.state.config;
        let body = format!(
            "<tsRequest><credentials personalAccessTokenName=\"{}\" personalAccessTokenSecret=\"{}\">\
             <site contentUrl=\"{}\"/></credentials></tsRequest>",
            c.pat_name, c.pat_secret, c.site_content_url
        );
        let r = client.post(format!("{}/api/3.27/auth/signin", handle.url())).body(body).send().await.unwrap();
        let text = r.text().await.unwrap();
        let doc = roxmltree::Document::parse(&text).unwrap();
        let token = doc.descendants().find_map(|n| n.attribute("token")).expect("a token").to_string();
        Site { handle, client, token }
    }

    async fn small() -> Site {
        Site::start(SimConfig { job_duration: Duration::from_secs(3600), ..SimConfig::default() }).await
    }

    fn path(&self, rest: &str) -> String {
        format!("{}/api/3.27/sites/{}/{rest}", self.handle.url(), self.handle.state.data().site.id)
    }

    async fn call(&self, method: reqwest::Method, url: String, body: Option<String>) -> Resp {
        let mut req = self.client.request(method, url).header("X-Tableau-Auth", &self.token);
        if let Some(b) = body {
            req = req.body(b);
        }
        let r = req.send().await.expect("request sent");
        Resp { status: r.status(), body: r.text().await.unwrap() }
    }

    async fn get(&self, rest: &str) -> Resp {
        self.call(reqwest::Method::GET, self.path(rest), None).await
    }

    async fn post(&self, rest: &str, body: &str) -> Resp {
        self.call(reqwest::Method::POST, self.path(rest), Some(body.to_string())).await
    }

    async fn put(&self, rest: &str, body: &str) -> Resp {
        self.call(reqwest::Method::PUT, self.path(rest), Some(body.to_string())).await
    }

    async fn delete(&self, rest: &str) -> Resp {
        self.call(reqwest::Method::DELETE, self.path(rest), None).await
    }

    async fn graphql(&self, query: &str) -> Value {
        let r = self
            .client
            .post(format!("{}/api/metadata/graphql", self.handle.url()))
            .header("X-Tableau-Auth", &self.token)
            .json(&serde_json::json!({ "query": query }))
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        assert!(v.get("errors").is_none_or(|e| e.as_array().is_none_or(|a| a.is_empty())), "{v}");
        v["data"].clone()
    }

    async fn calls(&self) -> Vec<Value> {
        let v: Value = self.client.get(format!("{}/sim/calls", self.handle.url())).send().await.unwrap().json().await.unwrap();
        v["calls"].as_array().cloned().unwrap_or_default()
    }
}

fn user_body(name: &str, role: &str) -> String {
    format!("<tsRequest><user name=\"{name}\" siteRole=\"{role}\" authSetting=\"ServerDefault\"/></tsRequest>")
}

fn grant_body(kind: &str, id: &str, caps: &[(&str, &str)]) -> String {
    let caps: String = caps.iter().map(|(c, m)| format!("<capability name=\"{c}\" mode=\"{m}\"/>")).collect();
    format!(
        "<tsRequest><permissions><granteeCapabilities><{kind} id=\"{id}\"/><capabilities>{caps}</capabilities>\
         </granteeCapabilities></permissions></tsRequest>"
    )
}

#[tokio::test]
async fn an_added_user_shows_in_every_read_and_errors_use_tableau_codes() {
    let site = Site::small().await;
    let before = site.handle.state.manifest().counts.users;

    let r = site.post("users", &user_body("new.analyst@example.com", "Explorer")).await.expect(StatusCode::CREATED);
    let id = r.attrs("user", "id").pop().expect("new user id");
    assert_eq!(r.attrs("user", "siteRole"), ["Explorer"]);

    let r = site.get("users?pageSize=1000").await.expect(StatusCode::OK);
    assert_eq!(r.attrs("user", "id").len(), before + 1);
    assert!(r.attrs("user", "id").contains(&id));
    assert_eq!(site.handle.state.manifest().counts.users, before + 1);

    // Every new user joins All Users, on both sides of the membership.
    let all_users = site.handle.state.data().groups.iter().find(|g| g.name == "All Users").unwrap().id.clone();
    let members = site.get(&format!("groups/{all_users}/users?pageSize=1000")).await.attrs("user", "id");
    assert!(members.contains(&id));
    assert_eq!(site.get(&format!("users/{id}/groups")).await.attrs("group", "id"), [all_users.clone()]);

    // The Metadata API lists the user too.
    let data = site.graphql(&format!("{{ tableauUsersConnection(filter: {{luid: \"{id}\"}}) {{ nodes {{ username }} }} }}")).await;
    assert_eq!(data["tableauUsersConnection"]["nodes"][0]["username"], "new.analyst@example.com");

    assert_eq!(site.post("users", &user_body("NEW.analyst@example.com", "Viewer")).await.expect(StatusCode::CONFLICT).error_code(), "409000");
    assert_eq!(site.post("users", &user_body("x@example.com", "Emperor")).await.expect(StatusCode::BAD_REQUEST).error_code(), "400013");
    assert_eq!(site.post("users", "<tsRequest><user/></tsRequest>").await.expect(StatusCode::BAD_REQUEST).error_code(), "400000");
    let missing = "00000000-0000-4000-8000-000000000000";
    assert_eq!(site.get(&format!("users/{missing}")).await.expect(StatusCode::NOT_FOUND).error_code(), "404002");

    let r = site
        .put(&format!("users/{id}"), "<tsRequest><user fullName=\"New Analyst\" email=\"na@example.com\" siteRole=\"Viewer\"/></tsRequest>")
        .await
        .expect(StatusCode::OK);
    assert_eq!(r.attrs("user", "fullName"), ["New Analyst"]);
    let r = site.get(&format!("users/{id}")).await;
    assert_eq!((r.attrs("user", "siteRole"), r.attrs("user", "email")), (vec!["Viewer".into()], vec!["na@example.com".into()]));

    // A user who owns nothing is removed outright.
    site.delete(&format!("users/{id}")).await.expect(StatusCode::NO_CONTENT);
    assert_eq!(site.get(&format!("users/{id}")).await.status, StatusCode::NOT_FOUND);
    assert!(!site.get(&format!("groups/{all_users}/users?pageSize=1000")).await.attrs("user", "id").contains(&id));
    assert_eq!(site.handle.state.manifest().counts.users, before);
}

#[tokio::test]
async fn removing_an_owner_needs_map_assets_to() {
    let site = Site::small().await;
    let (owner, owner_id, heir_id, owned) = {
        let d = site.handle.state.data();
        let owner = d.workbooks[0].owner;
        let heir = (0..d.users.len() as u32).find(|&u| u != owner && d.owned_by(u) == 0).unwrap();
        (owner, d.users[owner as usize].id.clone(), d.users[heir as usize].id.clone(), d.owned_by(owner))
    };
    assert!(owned > 0);

    let r = site.delete(&format!("users/{owner_id}")).await.expect(StatusCode::CONFLICT);
    assert!(r.error_code().starts_with("409"));
    assert_eq!(site.get(&format!("users/{owner_id}")).await.attrs("user", "siteRole"), ["Unlicensed"]);

    site.delete(&format!("users/{owner_id}?mapAssetsTo={heir_id}")).await.expect(StatusCode::NO_CONTENT);
    let d = site.handle.state.data();
    let heir = d.users.iter().position(|u| u.id == heir_id).unwrap() as u32;
    assert_eq!(d.owned_by(owner), 0);
    assert_eq!(d.owned_by(heir), owned);
    // No rule anywhere still names the removed user.
    let names_owner = |rules: &[trm::sim::dataset::Rule]| rules.iter().any(|r| r.grantee == Grantee::User(owner));
    assert!(!d.workbooks.iter().any(|w| names_owner(&w.rules)));
    assert!(!d.projects.iter().any(|p| names_owner(&p.rules) || names_owner(&p.default_workbook_rules)));
}

#[tokio::test]
async fn groups_and_memberships() {
    let site = Site::small().await;
    let r = site.post("groups", "<tsRequest><group name=\"Data Stewards\" minimumSiteRole=\"Explorer\"/></tsRequest>").await.expect(StatusCode::CREATED);
    let g = r.attrs("group", "id").pop().unwrap();
    assert_eq!(site.post("groups", "<tsRequest><group name=\"data stewards\"/></tsRequest>").await.expect(StatusCode::CONFLICT).error_code(), "409009");

    let users: Vec<String> = site.handle.state.data().users.iter().take(4).map(|u| u.id.clone()).collect();
    site.post(&format!("groups/{g}/users"), &format!("<tsRequest><user id=\"{}\"/></tsRequest>", users[0])).await.expect(StatusCode::OK);
    let again = site.post(&format!("groups/{g}/users"), &format!("<tsRequest><user id=\"{}\"/></tsRequest>", users[0])).await;
    assert_eq!(again.expect(StatusCode::CONFLICT).error_code(), "409011");

    // Several at once from 3.21, refused before.
    let list: String = users[1..].iter().map(|u| format!("<user id=\"{u}\"/>")).collect();
    let body = format!("<tsRequest><users>{list}</users></tsRequest>");
    let old = site.call(reqwest::Method::POST, site.path(&format!("groups/{g}/users")).replace("/3.27/", "/3.20/"), Some(body.clone())).await;
    assert_eq!(old.status, StatusCode::BAD_REQUEST);
    let r = site.post(&format!("groups/{g}/users"), &body).await.expect(StatusCode::OK);
    assert_eq!(r.attrs("user", "id").len(), 3);

    let listed = site.get(&format!("groups/{g}/users")).await.attrs("user", "id");
    let mut want = users.clone();
    want.sort();
    let mut got = listed.clone();
    got.sort();
    assert_eq!(got, want);
    let count = site.get("groups?pageSize=1000").await;
    let doc = count.doc();
    let el = doc.descendants().find(|n| n.attribute("id") == Some(g.as_str())).unwrap();
    assert_eq!(el.attribute("userCount"), Some("4"));

    site.delete(&format!("groups/{g}/users/{}", users[0])).await.expect(StatusCode::NO_CONTENT);
    let body = format!("<tsRequest><users><user id=\"{}\"/><user id=\"{}\"/></users></tsRequest>", users[1], users[2]);
    site.put(&format!("groups/{g}/users/remove"), &body).await.expect(StatusCode::NO_CONTENT);
    assert_eq!(site.get(&format!("groups/{g}/users")).await.attrs("user", "id"), [users[3].clone()]);
    assert!(!site.get(&format!("users/{}/groups", users[0])).await.attrs("group", "id").contains(&g));

    site.put(&format!("groups/{g}"), "<tsRequest><group name=\"Stewards\"/></tsRequest>").await.expect(StatusCode::OK);
    site.delete(&format!("groups/{g}")).await.expect(StatusCode::NO_CONTENT);
    assert!(!site.get("groups?pageSize=1000").await.attrs("group", "id").contains(&g));
    assert_eq!(site.get(&format!("groups/{g}/users")).await.expect(StatusCode::NOT_FOUND).error_code(), "404013");
}

#[tokio::test]
async fn projects_nest_lock_and_delete() {
    let site = Site::small().await;
    let r = site.post("projects", "<tsRequest><project name=\"Governance\" description=\"g\"/></tsRequest>").await.expect(StatusCode::CREATED);
    let parent = r.attrs("project", "id").pop().unwrap();
    let body = format!("<tsRequest><project name=\"Audits\" parentProjectId=\"{parent}\" contentPermissions=\"LockedToProject\"/></tsRequest>");
    let child = site.post("projects", &body).await.expect(StatusCode::CREATED).attrs("project", "id").pop().unwrap();
    assert_eq!(site.post("projects", &body).await.expect(StatusCode::CONFLICT).error_code(), "409006");

    let list = site.get("projects?pageSize=1000").await;
    let doc = list.doc();
    let el = doc.descendants().find(|n| n.attribute("id") == Some(child.as_str())).unwrap();
    assert_eq!(el.attribute("parentProjectId"), Some(parent.as_str()));
    assert_eq!(el.attribute("contentPermissions"), Some("LockedToProject"));

    for mode in ["LockedToProjectWithoutNested", "ManagedByOwner"] {
        let r = site.put(&format!("projects/{child}"), &format!("<tsRequest><project contentPermissions=\"{mode}\"/></tsRequest>")).await;
        assert_eq!(r.expect(StatusCode::OK).attrs("project", "contentPermissions"), [mode]);
    }
    let cycle = format!("<tsRequest><project parentProjectId=\"{child}\"/></tsRequest>");
    assert_eq!(site.put(&format!("projects/{parent}"), &cycle).await.status, StatusCode::BAD_REQUEST);

    site.delete(&format!("projects/{parent}")).await.expect(StatusCode::NO_CONTENT);
    let ids = site.get("projects?pageSize=1000").await.attrs("project", "id");
    assert!(!ids.contains(&parent) && !ids.contains(&child), "nested projects go with their parent");
}

#[tokio::test]
async fn permission_puts_add_and_deletes_remove_one_capability() {
    let site = Site::small().await;
    let (wb, group) = {
        let d = site.handle.state.data();
        let w = (0..d.workbooks.len()).find(|&w| !d.projects[d.workbooks[w].project as usize].locked).unwrap();
        (d.workbooks[w].id.clone(), d.groups[3].id.clone())
    };
    let rules_of = |r: &Resp, grantee: &str| -> Vec<(String, String)> {
        let doc = r.doc();
        let mut out: Vec<(String, String)> = doc
            .descendants()
            .filter(|n| n.has_tag_name((NS, "granteeCapabilities")))
            .filter(|gc| gc.children().any(|c| c.attribute("id") == Some(grantee)))
            .flat_map(|gc| {
                gc.descendants()
                    .filter(|c| c.has_tag_name((NS, "capability")))
                    .map(|c| (c.attribute("name").unwrap().to_string(), c.attribute("mode").unwrap().to_string()))
                    .collect::<Vec<_>>()
            })
            .collect();
        out.sort();
        out
    };
    let perms = format!("workbooks/{wb}/permissions");
    let before = rules_of(&site.get(&perms).await, &group);

    site.put(&perms, &grant_body("group", &group, &[("ExportData", "Allow"), ("Read", "Allow")])).await.expect(StatusCode::OK);
    // A capability already set keeps its mode: Deny does not replace Allow.
    site.put(&perms, &grant_body("group", &group, &[("ExportData", "Deny")])).await.expect(StatusCode::OK);
    let after = rules_of(&site.get(&perms).await, &group);
    let mut want = before.clone();
    for cap in ["ExportData", "Read"] {
        if !want.iter().any(|(c, _)| c == cap) {
            want.push((cap.to_string(), "Allow".to_string()));
        }
    }
    want.sort();
    assert_eq!(after, want);

    // Flipping takes a delete first.
    let mode = after.iter().find(|(c, _)| c == "ExportData").unwrap().1.clone();
    site.delete(&format!("{perms}/groups/{group}/ExportData/{mode}")).await.expect(StatusCode::NO_CONTENT);
    site.put(&perms, &grant_body("group", &group, &[("ExportData", "Deny")])).await.expect(StatusCode::OK);
    assert!(rules_of(&site.get(&perms).await, &group).contains(&("ExportData".into(), "Deny".into())));
    let gone = site.delete(&format!("{perms}/groups/{group}/ExportData/Allow")).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(site.put(&perms, &grant_body("group", &group, &[("Fly", "Allow")])).await.status, StatusCode::BAD_REQUEST);

    // The dataset holds exactly what the reads show.
    let d = site.handle.state.data();
    let w = d.workbooks.iter().position(|w| w.id == wb).unwrap();
    let g = d.groups.iter().position(|x| x.id == group).unwrap() as u32;
    let rule = d.workbooks[w].rules.iter().find(|r| r.grantee == Grantee::Group(g)).unwrap();
    assert!(rule.capabilities.contains(&("ExportData", Mode::Deny)));
}

#[tokio::test]
async fn default_permissions_and_locked_projects() {
    let site = Site::small().await;
    let (project, locked_wb, group) = {
        let d = site.handle.state.data();
        let w = d.workbooks.iter().find(|w| d.projects[w.project as usize].locked).expect("a workbook in a locked project");
        (d.projects[w.project as usize].id.clone(), w.id.clone(), d.groups[2].id.clone())
    };
    // Content of a locked project takes no rules of its own.
    let r = site.put(&format!("workbooks/{locked_wb}/permissions"), &grant_body("group", &group, &[("Read", "Allow")])).await;
    assert_eq!(r.expect(StatusCode::FORBIDDEN).error_code(), "403000");

    // Its project's default rules are what the workbook reports.
    let defaults = format!("projects/{project}/default-permissions/workbooks");
    site.put(&defaults, &grant_body("group", &group, &[("ExportImage", "Deny")])).await.expect(StatusCode::OK);
    let wb_rules = site.get(&format!("workbooks/{locked_wb}/permissions")).await;
    assert!(wb_rules.body.contains(&group), "{}", wb_rules.body);
    site.delete(&format!("{defaults}/groups/{group}/ExportImage/Deny")).await.expect(StatusCode::NO_CONTENT);

    // Flows default rules are kept; the singular type is unknown, as on a real server.
    let flows = format!("projects/{project}/default-permissions/flows");
    site.put(&flows, &grant_body("group", &group, &[("Execute", "Allow")])).await.expect(StatusCode::OK);
    assert_eq!(site.get(&flows).await.attrs("capability", "name"), ["Execute"]);
    let singular = site.put(&format!("projects/{project}/default-permissions/workbook"), &grant_body("group", &group, &[("Read", "Allow")])).await;
    assert_eq!(singular.expect(StatusCode::NOT_FOUND).error_code(), "404003");
}

#[tokio::test]
async fn tags_show_in_rest_and_the_metadata_api() {
    let site = Site::small().await;
    let (wb, ds) = {
        let d = site.handle.state.data();
        (d.workbooks[0].id.clone(), d.datasources[0].id.clone())
    };
    let r = site.put(&format!("workbooks/{wb}/tags"), "<tsRequest><tags><tag label=\"stale\"/><tag label=\"review-2026\"/></tags></tsRequest>").await;
    let labels = r.expect(StatusCode::OK).attrs("tag", "label");
    assert!(labels.contains(&"stale".to_string()) && labels.contains(&"review-2026".to_string()));
    assert!(site.get(&format!("workbooks/{wb}")).await.attrs("tag", "label").contains(&"review-2026".to_string()));
    let filtered = site.get("workbooks?filter=tags:eq:review-2026").await.attrs("workbook", "id");
    assert_eq!(filtered, [wb.clone()]);
    let data = site.graphql(&format!("{{ workbooksConnection(filter: {{luid: \"{wb}\"}}) {{ nodes {{ tags {{ name }} }} }} }}")).await;
    let names: Vec<&str> = data["workbooksConnection"]["nodes"][0]["tags"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"review-2026"), "{names:?}");

    site.delete(&format!("workbooks/{wb}/tags/review-2026")).await.expect(StatusCode::NO_CONTENT);
    assert_eq!(site.delete(&format!("workbooks/{wb}/tags/review-2026")).await.status, StatusCode::NOT_FOUND);
    assert!(!site.get(&format!("workbooks/{wb}")).await.attrs("tag", "label").contains(&"review-2026".to_string()));

    let batch = format!(
        "<tsRequest><tagBatch><tags><tag label=\"certified-2026\"/></tags><contents>\
         <content id=\"{wb}\" contentType=\"workbook\"/><content id=\"{ds}\" contentType=\"datasource\"/></contents></tagBatch></tsRequest>"
    );
    site.put("tags:batchCreate", &batch).await.expect(StatusCode::OK);
    assert!(site.get(&format!("datasources/{ds}")).await.attrs("tag", "label").contains(&"certified-2026".to_string()));
    site.put("tags:batchDelete", &batch).await.expect(StatusCode::OK);
    assert!(!site.get(&format!("workbooks/{wb}")).await.attrs("tag", "label").contains(&"certified-2026".to_string()));
}

#[tokio::test]
async fn refresh_jobs_run_on_the_clock_and_follow_planted_health() {
    let site = Site::small().await;
    let (healthy, failing, live, failing_task) = {
        let d = site.handle.state.data();
        let task_of = |x: usize| d.task_of.get(&Target::Datasource(x as u32)).map(|&t| &d.tasks[t as usize]);
        // The small site's healthy extracts are all workbooks.
        let healthy = (0..d.workbooks.len() as u32)
            .find(|&w| d.task_of.get(&Target::Workbook(w)).is_some_and(|&t| d.tasks[t as usize].health == Health::Healthy))
            .expect("a healthy workbook extract") as usize;
        let failing = (0..d.datasources.len())
            .find(|&x| task_of(x).is_some_and(|t| matches!(t.health, Health::FailingSince { .. })))
            .expect("a failing extract");
        let live = (0..d.datasources.len()).find(|&x| !d.datasources[x].has_extracts).expect("a live datasource");
        let ft = d.task_of[&Target::Datasource(failing as u32)];
        (d.workbooks[healthy].id.clone(), d.datasources[failing].id.clone(), d.datasources[live].id.clone(), d.tasks[ft as usize].id.clone())
    };
    let failures_before = site.handle.state.manifest().planted.broken_extracts.iter().find(|b| b.task_id == failing_task).unwrap().consecutive_failed_count;

    let ok = site.post(&format!("workbooks/{healthy}/refresh"), "<tsRequest/>").await.expect(StatusCode::ACCEPTED);
    let ok_job = ok.attrs("job", "id").pop().unwrap();
    let bad_job = site.post(&format!("datasources/{failing}/refresh"), "<tsRequest/>").await.expect(StatusCode::ACCEPTED).attrs("job", "id").pop().unwrap();
    assert_eq!(site.post(&format!("workbooks/{healthy}/refresh"), "<tsRequest/>").await.expect(StatusCode::CONFLICT).error_code(), "409093");
    assert_eq!(site.post(&format!("datasources/{live}/refresh"), "<tsRequest/>").await.status, StatusCode::BAD_REQUEST);

    // Not finished until the clock moves (this site's jobs take an hour of wall time).
    let r = site.get(&format!("jobs/{ok_job}")).await.expect(StatusCode::OK);
    assert!(r.attrs("job", "finishCode").is_empty(), "{}", r.body);

    site.handle.state.set_day(1);
    assert_eq!(site.get(&format!("jobs/{ok_job}")).await.attrs("job", "finishCode"), ["0"]);
    let bad = site.get(&format!("jobs/{bad_job}")).await;
    assert_eq!(bad.attrs("job", "finishCode"), ["1"]);
    assert!(bad.body.contains("<notes>"), "{}", bad.body);

    // The failing task's count grew by this run (and any scheduled runs of the day).
    let m = site.handle.state.manifest();
    let after = m.planted.broken_extracts.iter().find(|b| b.task_id == failing_task).unwrap().consecutive_failed_count;
    let scheduled = {
        let d = site.handle.state.data();
        let t = d.tasks.iter().position(|t| t.id == failing_task).unwrap() as u32;
        let at = |day| d.last_run_at(t, trm::sim::dataset::day_start(day)).map_or(-1, |r| r);
        (at(1) - at(0)) as u32
    };
    assert_eq!(after, failures_before + scheduled + 1);

    // The healthy refresh moved the workbook's extract time in the Metadata API.
    let data = site
        .graphql(&format!(
            "{{ workbooksConnection(filter: {{luid: \"{healthy}\"}}) {{ nodes {{ embeddedDatasources {{ hasExtracts extractLastRefreshTime }} }} }} }}"
        ))
        .await;
    let job_end = {
        let d = site.handle.state.data();
        d.adhoc_jobs.iter().find(|j| j.id == ok_job).unwrap().ended_at
    };
    let embedded = data["workbooksConnection"]["nodes"][0]["embeddedDatasources"].as_array().unwrap().clone();
    let shown: Vec<&str> = embedded.iter().filter(|e| e["hasExtracts"] == true).map(|e| e["extractLastRefreshTime"].as_str().unwrap()).collect();
    assert!(!shown.is_empty());
    assert!(shown.iter().all(|t| *t == trm::sim::manifest::iso(job_end)), "{shown:?}");

    // Run a task now; cancel another job before it finishes.
    let r = site.post(&format!("tasks/extractRefreshes/{failing_task}/runNow"), "<tsRequest/>").await.expect(StatusCode::ACCEPTED);
    let run_job = r.attrs("job", "id").pop().unwrap();
    site.put(&format!("jobs/{run_job}"), "").await.expect(StatusCode::OK);
    assert_eq!(site.get(&format!("jobs/{run_job}")).await.attrs("job", "finishCode"), ["2"]);
    assert_eq!(site.put(&format!("jobs/{run_job}"), "").await.status, StatusCode::CONFLICT);
    let statuses = site.get("jobs?pageSize=1000").await;
    assert!(statuses.body.contains(&run_job));
}

#[tokio::test]
async fn a_job_finishes_after_its_wall_clock_duration() {
    let site = Site::start(SimConfig { job_duration: Duration::from_millis(400), ..SimConfig::default() }).await;
    let w = {
        let d = site.handle.state.data();
        d.workbooks.iter().find(|w| w.has_extracts).unwrap().id.clone()
    };
    let job = site.post(&format!("workbooks/{w}/refresh"), "<tsRequest/>").await.expect(StatusCode::ACCEPTED).attrs("job", "id").pop().unwrap();
    assert!(site.get(&format!("jobs/{job}")).await.attrs("job", "finishCode").is_empty());
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(site.get(&format!("jobs/{job}")).await.attrs("job", "completedAt").len(), 1);
}

#[tokio::test]
async fn server_schedules_change_and_take_new_tasks() {
    let site = Site::small().await;
    let (schedule, wb) = {
        let d = site.handle.state.data();
        let s = d.schedules.iter().position(|s| s.suspended_at.is_none() && s.kind == trm::sim::dataset::ScheduleType::Extract).unwrap();
        let elsewhere = |t: Target| d.task_of.get(&t).is_none_or(|&k| d.tasks[k as usize].schedule != s as u32);
        let w = (0..d.workbooks.len() as u32)
            .find(|&w| d.workbooks[w as usize].has_extracts && elsewhere(Target::Workbook(w)))
            .expect("a workbook with an extract not on this schedule");
        (d.schedules[s].id.clone(), d.workbooks[w as usize].id.clone())
    };
    let url = format!("{}/api/3.27/schedules/{schedule}", site.handle.url());
    let r = site.call(reqwest::Method::PUT, url.clone(), Some("<tsRequest><schedule name=\"Nightly (moved)\" state=\"Suspended\"/></tsRequest>".into())).await;
    assert_eq!(r.expect(StatusCode::OK).attrs("schedule", "state"), ["Suspended"]);
    let r = site.call(reqwest::Method::GET, url, None).await;
    assert_eq!(r.attrs("schedule", "name"), ["Nightly (moved)"]);

    let tasks_before = site.get("tasks/extractRefreshes?pageSize=1000").await.attrs("extractRefresh", "id").len();
    let body = format!("<tsRequest><task><extractRefresh><workbook id=\"{wb}\"/></extractRefresh></task></tsRequest>");
    site.put(&format!("schedules/{schedule}/workbooks"), &body).await.expect(StatusCode::OK);
    let tasks = site.get("tasks/extractRefreshes?pageSize=1000").await;
    assert_eq!(tasks.attrs("extractRefresh", "id").len(), tasks_before + 1);
    assert!(tasks.attrs("workbook", "id").contains(&wb));
}

#[tokio::test]
async fn the_cloud_flavour_differs_where_tableau_cloud_does() {
    let site = Site::start(SimConfig { flavor: Flavor::Cloud, ..SimConfig::default() }).await;
    let r = site.call(reqwest::Method::GET, format!("{}/api/3.27/schedules", site.handle.url()), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Tasks carry their schedule inline: frequency, no id.
    let tasks = site.get("tasks/extractRefreshes?pageSize=1000").await.expect(StatusCode::OK);
    let doc = tasks.doc();
    let schedules: Vec<_> = doc.descendants().filter(|n| n.has_tag_name((NS, "schedule"))).collect();
    assert_eq!(schedules.len(), site.handle.state.data().tasks.len());
    assert!(schedules.iter().all(|s| s.attribute("id").is_none() && s.attribute("frequency").is_some()));

    assert_eq!(site.post("users", &user_body("jsmith", "Viewer")).await.status, StatusCode::BAD_REQUEST);
    site.post("users", &user_body("j.smith@example.com", "Viewer")).await.expect(StatusCode::CREATED);

    let task = site.handle.state.data().tasks[0].id.clone();
    let update = |start: &str, freq: &str, hours: u32| {
        format!(
            "<tsRequest><extractRefresh><schedule frequency=\"{freq}\"><frequencyDetails start=\"{start}\" end=\"23:00:00\">\
             <intervals><interval hours=\"{hours}\"/></intervals></frequencyDetails></schedule></extractRefresh></tsRequest>"
        )
    };
    let r = site.post(&format!("tasks/extractRefreshes/{task}"), &update("06:15:00", "Hourly", 4)).await.expect(StatusCode::OK);
    assert_eq!(r.attrs("frequencyDetails", "start"), ["06:15:00"]);
    assert_eq!(r.attrs("interval", "hours"), ["4"]);
    for (start, freq, hours) in [("06:07:00", "Hourly", 4), ("06:00:00", "Hourly", 5), ("06:00:00", "Daily", 3)] {
        let r = site.post(&format!("tasks/extractRefreshes/{task}"), &update(start, freq, hours)).await;
        assert_eq!(r.expect(StatusCode::CONFLICT).error_code(), "409004", "{start} {freq} {hours}");
    }
}

#[tokio::test]
async fn the_call_log_lists_each_write_once() {
    let site = Site::small().await;
    let (wb, group) = {
        let d = site.handle.state.data();
        let w = d.workbooks.iter().find(|w| !d.projects[w.project as usize].locked).unwrap();
        (w.id.clone(), d.groups[1].id.clone())
    };
    site.get("users").await;
    site.put(&format!("workbooks/{wb}/permissions"), &grant_body("group", &group, &[("Read", "Allow")])).await.expect(StatusCode::OK);
    site.post("users", &user_body("a@example.com", "Wizard")).await;
    let calls = site.calls().await;
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0]["method"], "PUT");
    assert_eq!(calls[0]["path"], format!("/workbooks/{wb}/permissions"));
    assert_eq!(calls[0]["target"], wb);
    assert_eq!(calls[0]["grantees"], serde_json::json!([format!("group:{group}")]));
    assert_eq!(calls[1]["status"], 400);
    site.client.delete(format!("{}/sim/calls", site.handle.url())).send().await.unwrap();
    assert!(site.calls().await.is_empty());
}

#[tokio::test]
async fn fifty_concurrent_writers_leave_a_consistent_site() {
    let site = std::sync::Arc::new(Site::small().await);
    let group = site.post("groups", "<tsRequest><group name=\"Load\"/></tsRequest>").await.expect(StatusCode::CREATED).attrs("group", "id").pop().unwrap();
    let before = site.handle.state.manifest().counts;
    let writers = (0..50).map(|i| {
        let site = site.clone();
        let group = group.clone();
        tokio::spawn(async move {
            let r = site.post("users", &user_body(&format!("load{i:02}@example.com"), "Viewer")).await.expect(StatusCode::CREATED);
            let id = r.attrs("user", "id").pop().unwrap();
            site.post(&format!("groups/{group}/users"), &format!("<tsRequest><user id=\"{id}\"/></tsRequest>")).await.expect(StatusCode::OK);
            // Reads in between see whole writes: a listed member is a listed user.
            let members = site.get(&format!("groups/{group}/users?pageSize=1000")).await.attrs("user", "id");
            assert!(members.contains(&id));
            id
        })
    });
    let ids: Vec<String> = futures::future::join_all(writers).await.into_iter().map(|r| r.unwrap()).collect();
    let after = site.handle.state.manifest().counts;
    assert_eq!(after.users, before.users + 50);
    assert_eq!(after.group_memberships, before.group_memberships + 100, "each user joined All Users and Load");
    let mut members = site.get(&format!("groups/{group}/users?pageSize=1000")).await.attrs("user", "id");
    members.sort();
    let mut want = ids;
    want.sort();
    assert_eq!(members, want);
    let d = site.handle.state.data();
    for u in d.live_users() {
        for &g in &d.users[u as usize].groups {
            assert!(d.groups[g as usize].members.contains(&u), "membership recorded on both sides");
        }
    }
    assert_eq!(d.users.iter().filter(|u| u.site_role == SiteRole::Viewer && u.name.starts_with("load")).count(), 50);
}
