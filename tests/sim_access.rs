//! The simulated site's effective-permission ground truth, over HTTP: each
//! planted situation is answered by `/sim/effective` as the raw dataset
//! facts say it must be, the facts it rests on are served by the REST
//! permissions endpoints (so a client can extract them), and the manifest
//! lists every case.
//!
//! Expectations are derived here from the dataset's raw facts (site roles,
//! owners, locks, rules), not from `sim::access`.

use std::net::SocketAddr;

use serde_json::Value;
use trm::sim::dataset::plant_access::{AccessCase, CASES};
use trm::sim::dataset::{Dataset, Entity, Grantee, Mode, Rule, SiteRole};
use trm::sim::{self, SimConfig, SimHandle};

const NS: &str = "http://tableau.com/api";

struct Site {
    handle: SimHandle,
    client: reqwest::Client,
    token: String,
}

impl Site {
    async fn small() -> Site {
        let handle = sim::start(SimConfig::default(), SocketAddr::from(([127, 0, 0, 1], 0)))
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
            .unwrap();
        let text = r.text().await.unwrap();
        let doc = roxmltree::Document::parse(&text).unwrap();
        let token = doc
            .descendants()
            .find_map(|n| n.attribute("token"))
            .expect("a token")
            .to_string();
        Site {
            handle,
            client,
            token,
        }
    }

    fn case(&self, name: &str) -> AccessCase {
        let d = self.handle.state.data();
        d.access_cases
            .iter()
            .find(|c| c.case == name)
            .cloned()
            .unwrap_or_else(|| panic!("case {name} not planted"))
    }

    async fn get_text(&self, url: String) -> (reqwest::StatusCode, String) {
        let r = self
            .client
            .get(url)
            .header("X-Tableau-Auth", &self.token)
            .send()
            .await
            .expect("request sent");
        (r.status(), r.text().await.unwrap())
    }

    /// `/sim/effective` for one capability: (allowed, reason).
    async fn effective(&self, c: &AccessCase) -> (bool, String) {
        let (user, content) = {
            let d = self.handle.state.data();
            (
                d.users[c.user as usize].id.clone(),
                content_ref(&d, c.content),
            )
        };
        let url = format!(
            "{}/sim/effective?user={user}&content={content}&capability={}",
            self.handle.url(),
            c.capability
        );
        let (status, body) = self.get_text(url).await;
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        let decisions = v["decisions"].as_array().expect("decisions");
        assert_eq!(decisions.len(), 1, "{v}");
        assert_eq!(decisions[0]["capability"], c.capability);
        (
            decisions[0]["allowed"].as_bool().expect("allowed"),
            decisions[0]["reason"].as_str().expect("reason").to_string(),
        )
    }

    /// The (grantee id, capability, mode) triples a REST permissions read serves.
    async fn served_rules(&self, path: &str) -> Vec<(String, String, String)> {
        let site_id = self.handle.state.data().site.id.clone();
        let (status, body) = self
            .get_text(format!(
                "{}/api/3.27/sites/{site_id}/{path}",
                self.handle.url()
            ))
            .await;
        assert_eq!(status, 200, "{body}");
        let doc = roxmltree::Document::parse(&body).unwrap();
        let mut out = Vec::new();
        for gc in doc
            .descendants()
            .filter(|n| n.has_tag_name((NS, "granteeCapabilities")))
        {
            let who = gc
                .children()
                .find(|n| n.has_tag_name((NS, "user")) || n.has_tag_name((NS, "group")))
                .and_then(|n| n.attribute("id"))
                .expect("a grantee")
                .to_string();
            for cap in gc
                .descendants()
                .filter(|n| n.has_tag_name((NS, "capability")))
            {
                out.push((
                    who.clone(),
                    cap.attribute("name").unwrap().to_string(),
                    cap.attribute("mode").unwrap().to_string(),
                ));
            }
        }
        out
    }

    /// A project's `contentPermissions` as the projects list serves it.
    async fn content_permissions(&self, project: u32) -> String {
        let (site_id, id) = {
            let d = self.handle.state.data();
            (d.site.id.clone(), d.projects[project as usize].id.clone())
        };
        let (_, body) = self
            .get_text(format!(
                "{}/api/3.27/sites/{site_id}/projects?pageSize=1000",
                self.handle.url()
            ))
            .await;
        let doc = roxmltree::Document::parse(&body).unwrap();
        let node = doc
            .descendants()
            .find(|n| n.has_tag_name((NS, "project")) && n.attribute("id") == Some(id.as_str()))
            .expect("project listed");
        node.attribute("contentPermissions")
            .expect("contentPermissions")
            .to_string()
    }
}

fn content_ref(d: &Dataset, e: Entity) -> String {
    match e {
        Entity::Project(i) => format!("project:{}", d.projects[i as usize].id),
        Entity::Workbook(i) => format!("workbook:{}", d.workbooks[i as usize].id),
        Entity::View(i) => format!("view:{}", d.views[i as usize].id),
        Entity::Datasource(i) => format!("datasource:{}", d.datasources[i as usize].id),
        other => panic!("not content: {other:?}"),
    }
}

// --- raw facts ---------------------------------------------------------------

fn chain(d: &Dataset, p: u32) -> Vec<u32> {
    let mut out = vec![p];
    while let Some(parent) = d.projects[*out.last().unwrap() as usize].parent {
        out.push(parent);
    }
    out
}

fn home(d: &Dataset, e: Entity) -> u32 {
    match e {
        Entity::Project(p) => p,
        Entity::Workbook(w) => d.workbooks[w as usize].project,
        Entity::View(v) => d.workbooks[d.views[v as usize].workbook as usize].project,
        Entity::Datasource(x) => d.datasources[x as usize].project,
        other => panic!("not content: {other:?}"),
    }
}

/// A workbook's or datasource's owner (a view's is its workbook's).
fn owner_of(d: &Dataset, e: Entity) -> u32 {
    match e {
        Entity::Workbook(w) => d.workbooks[w as usize].owner,
        Entity::View(v) => d.workbooks[d.views[v as usize].workbook as usize].owner,
        Entity::Datasource(x) => d.datasources[x as usize].owner,
        other => panic!("no content owner: {other:?}"),
    }
}

/// A workbook's or datasource's own rules.
fn own_rules(d: &Dataset, e: Entity) -> &[Rule] {
    match e {
        Entity::Workbook(w) => &d.workbooks[w as usize].rules,
        Entity::Datasource(x) => &d.datasources[x as usize].rules,
        other => panic!("not a workbook or datasource: {other:?}"),
    }
}

/// A project's default rules for the item's type.
fn defaults_for(d: &Dataset, p: u32, e: Entity) -> &[Rule] {
    match e {
        Entity::Workbook(_) | Entity::View(_) => &d.projects[p as usize].default_workbook_rules,
        Entity::Datasource(_) => &d.projects[p as usize].default_datasource_rules,
        other => panic!("no defaults for {other:?}"),
    }
}

fn workbook_of(d: &Dataset, e: Entity) -> u32 {
    match e {
        Entity::Workbook(w) => w,
        Entity::View(v) => d.views[v as usize].workbook,
        other => panic!("not a workbook or view: {other:?}"),
    }
}

fn no_lock_above(d: &Dataset, p: u32) -> bool {
    chain(d, p).iter().all(|&q| !d.projects[q as usize].locked)
}

fn is_leader_rule(r: &Rule) -> bool {
    r.capabilities.contains(&("ProjectLeader", Mode::Allow))
}

/// Neither owner nor leader (directly or through a group) of any project
/// from `p` up, and licensed but not an administrator.
fn plain_user(d: &Dataset, u: u32, p: u32) -> bool {
    let user = &d.users[u as usize];
    let role_ok = !matches!(
        user.site_role,
        SiteRole::Unlicensed
            | SiteRole::SiteAdministratorCreator
            | SiteRole::SiteAdministratorExplorer
    );
    role_ok
        && chain(d, p).iter().all(|&q| {
            let q = &d.projects[q as usize];
            q.owner != u
                && !q.rules.iter().any(|r| {
                    is_leader_rule(r)
                        && match r.grantee {
                            Grantee::User(x) => x == u,
                            Grantee::Group(g) => user.groups.contains(&g),
                        }
                })
        })
}

fn modes(rules: &[Rule], grantee: Grantee, cap: &str) -> Vec<Mode> {
    rules
        .iter()
        .filter(|r| r.grantee == grantee)
        .flat_map(|r| {
            r.capabilities
                .iter()
                .filter(|(c, _)| *c == cap)
                .map(|(_, m)| *m)
        })
        .collect()
}

fn group_modes(d: &Dataset, rules: &[Rule], u: u32, cap: &str) -> Vec<(u32, Mode)> {
    d.users[u as usize]
        .groups
        .iter()
        .flat_map(|&g| {
            modes(rules, Grantee::Group(g), cap)
                .into_iter()
                .map(move |m| (g, m))
        })
        .collect()
}

fn luid_user(d: &Dataset, u: u32) -> String {
    d.users[u as usize].id.clone()
}

fn luid_group(d: &Dataset, g: u32) -> String {
    d.groups[g as usize].id.clone()
}

fn has(served: &[(String, String, String)], who: &str, cap: &str, mode: &str) -> bool {
    served
        .iter()
        .any(|(w, c, m)| w == who && c == cap && m == mode)
}

// --- one test per planted case ----------------------------------------------

#[tokio::test]
async fn deny_beats_allow_across_groups() {
    let site = Site::small().await;
    let c = site.case("deny_beats_allow_across_groups");
    let served = {
        let d = site.handle.state.data();
        let w = workbook_of(&d, c.content);
        let wb = &d.workbooks[w as usize];
        assert!(
            no_lock_above(&d, wb.project)
                && plain_user(&d, c.user, wb.project)
                && wb.owner != c.user
        );
        assert!(
            modes(&wb.rules, Grantee::User(c.user), "Read").is_empty(),
            "no user rule decides"
        );
        let g = group_modes(&d, &wb.rules, c.user, "Read");
        let allow = g
            .iter()
            .find(|(_, m)| *m == Mode::Allow)
            .expect("one of the user's groups is allowed")
            .0;
        let deny = g
            .iter()
            .find(|(_, m)| *m == Mode::Deny)
            .expect("another is denied")
            .0;
        assert_ne!(allow, deny);
        (
            format!("workbooks/{}/permissions", wb.id),
            luid_group(&d, allow),
            luid_group(&d, deny),
        )
    };
    let rules = site.served_rules(&served.0).await;
    assert!(
        has(&rules, &served.1, "Read", "Allow") && has(&rules, &served.2, "Read", "Deny"),
        "{rules:?}"
    );
    assert_eq!(site.effective(&c).await, (false, "group_deny".into()));
}

#[tokio::test]
async fn user_allow_beats_group_deny() {
    let site = Site::small().await;
    let c = site.case("user_allow_beats_group_deny");
    let path = {
        let d = site.handle.state.data();
        let wb = &d.workbooks[workbook_of(&d, c.content) as usize];
        assert!(
            no_lock_above(&d, wb.project)
                && plain_user(&d, c.user, wb.project)
                && wb.owner != c.user
        );
        assert_eq!(
            modes(&wb.rules, Grantee::User(c.user), "Read"),
            vec![Mode::Allow]
        );
        assert!(group_modes(&d, &wb.rules, c.user, "Read")
            .iter()
            .any(|(_, m)| *m == Mode::Deny));
        format!("workbooks/{}/permissions", wb.id)
    };
    let user = luid_user(&site.handle.state.data(), c.user);
    assert!(has(&site.served_rules(&path).await, &user, "Read", "Allow"));
    assert_eq!(site.effective(&c).await, (true, "user_allow".into()));
}

#[tokio::test]
async fn user_deny_beats_group_allow() {
    let site = Site::small().await;
    let c = site.case("user_deny_beats_group_allow");
    let path = {
        let d = site.handle.state.data();
        let wb = &d.workbooks[workbook_of(&d, c.content) as usize];
        assert!(
            no_lock_above(&d, wb.project)
                && plain_user(&d, c.user, wb.project)
                && wb.owner != c.user
        );
        assert_eq!(
            modes(&wb.rules, Grantee::User(c.user), "Read"),
            vec![Mode::Deny]
        );
        assert!(group_modes(&d, &wb.rules, c.user, "Read")
            .iter()
            .any(|(_, m)| *m == Mode::Allow));
        format!("workbooks/{}/permissions", wb.id)
    };
    let user = luid_user(&site.handle.state.data(), c.user);
    assert!(has(&site.served_rules(&path).await, &user, "Read", "Deny"));
    assert_eq!(site.effective(&c).await, (false, "user_deny".into()));
}

#[tokio::test]
async fn viewer_capped_despite_group_write() {
    let site = Site::small().await;
    let c = site.case("viewer_capped_despite_group_write");
    {
        let d = site.handle.state.data();
        let wb = &d.workbooks[workbook_of(&d, c.content) as usize];
        assert_eq!(d.users[c.user as usize].site_role, SiteRole::Viewer);
        assert_eq!(c.capability, "Write");
        assert!(no_lock_above(&d, wb.project));
        assert!(modes(&wb.rules, Grantee::User(c.user), "Write").is_empty());
        let g = group_modes(&d, &wb.rules, c.user, "Write");
        assert!(
            !g.is_empty() && g.iter().all(|(_, m)| *m == Mode::Allow),
            "a group of the Viewer may overwrite: {g:?}"
        );
    }
    assert_eq!(site.effective(&c).await, (false, "site_role_cap".into()));
}

#[tokio::test]
async fn explorer_capped_despite_user_allow() {
    let site = Site::small().await;
    let c = site.case("explorer_capped_despite_user_allow");
    let (path, user) = {
        let d = site.handle.state.data();
        assert_eq!(d.users[c.user as usize].site_role, SiteRole::Explorer);
        assert!(no_lock_above(&d, home(&d, c.content)));
        assert_eq!(
            modes(own_rules(&d, c.content), Grantee::User(c.user), "Write"),
            vec![Mode::Allow]
        );
        let path = match c.content {
            Entity::Datasource(x) => {
                format!("datasources/{}/permissions", d.datasources[x as usize].id)
            }
            Entity::Workbook(w) => format!("workbooks/{}/permissions", d.workbooks[w as usize].id),
            other => panic!("not a datasource or workbook: {other:?}"),
        };
        (path, luid_user(&d, c.user))
    };
    assert!(has(
        &site.served_rules(&path).await,
        &user,
        "Write",
        "Allow"
    ));
    assert_eq!(site.effective(&c).await, (false, "site_role_cap".into()));
}

#[tokio::test]
async fn content_owner_locked_set_permissions_and_overwrite() {
    let site = Site::small().await;
    for (name, cap, want) in [
        (
            "content_owner_locked_set_permissions",
            "ChangePermissions",
            (false, "locked_set_permissions"),
        ),
        (
            "content_owner_locked_overwrite",
            "Write",
            (true, "content_owner"),
        ),
    ] {
        let c = site.case(name);
        assert_eq!(c.capability, cap);
        let project = {
            let d = site.handle.state.data();
            let wb = &d.workbooks[workbook_of(&d, c.content) as usize];
            assert_eq!(wb.owner, c.user);
            assert!(d.projects[wb.project as usize].locked);
            assert!(matches!(
                d.users[c.user as usize].site_role,
                SiteRole::Creator | SiteRole::ExplorerCanPublish
            ));
            assert!(plain_user(&d, c.user, wb.project));
            wb.project
        };
        assert!(site
            .content_permissions(project)
            .await
            .starts_with("LockedToProject"));
        let (allowed, reason) = site.effective(&c).await;
        assert_eq!((allowed, reason.as_str()), want, "{name}");
    }
}

#[tokio::test]
async fn content_owner_unlocked_set_permissions() {
    let site = Site::small().await;
    let c = site.case("content_owner_unlocked_set_permissions");
    {
        let d = site.handle.state.data();
        let Entity::Datasource(x) = c.content else {
            panic!("a datasource")
        };
        let ds = &d.datasources[x as usize];
        assert_eq!((ds.owner, c.capability), (c.user, "ChangePermissions"));
        assert!(no_lock_above(&d, ds.project) && plain_user(&d, c.user, ds.project));
        assert!(matches!(
            d.users[c.user as usize].site_role,
            SiteRole::Creator | SiteRole::ExplorerCanPublish
        ));
    }
    assert_eq!(site.effective(&c).await, (true, "content_owner".into()));
}

#[tokio::test]
async fn project_leader_cascades_to_nested() {
    let site = Site::small().await;
    let c = site.case("project_leader_cascades_to_nested");
    let (path, user) = {
        let d = site.handle.state.data();
        let p = home(&d, c.content);
        let parent = d.projects[p as usize]
            .parent
            .expect("the item's project is nested");
        let groups = &d.users[c.user as usize].groups;
        let leads_itself = d.projects[p as usize].rules.iter().any(|r| {
            is_leader_rule(r)
                && match r.grantee {
                    Grantee::User(u) => u == c.user,
                    Grantee::Group(g) => groups.contains(&g),
                }
        });
        assert!(
            !leads_itself,
            "the user does not lead the nested project itself"
        );
        assert!(d.projects[parent as usize]
            .rules
            .iter()
            .any(|r| r.grantee == Grantee::User(c.user) && is_leader_rule(r)));
        assert!(matches!(
            d.users[c.user as usize].site_role,
            SiteRole::Creator | SiteRole::ExplorerCanPublish
        ));
        assert!(
            chain(&d, p)
                .iter()
                .all(|&q| d.projects[q as usize].owner != c.user)
                && owner_of(&d, c.content) != c.user
        );
        (
            format!("projects/{}/permissions", d.projects[parent as usize].id),
            luid_user(&d, c.user),
        )
    };
    assert!(
        has(
            &site.served_rules(&path).await,
            &user,
            "ProjectLeader",
            "Allow"
        ),
        "ProjectLeader served"
    );
    assert_eq!(c.capability, "Delete");
    assert_eq!(site.effective(&c).await, (true, "project_leader".into()));
}

#[tokio::test]
async fn group_project_leader_within_site_role_cap() {
    let site = Site::small().await;
    let lead = site.case("group_project_leader");
    let capped = site.case("project_leader_within_site_role_cap");
    assert_eq!((lead.user, lead.content), (capped.user, capped.content));
    let (path, group) = {
        let d = site.handle.state.data();
        let p = home(&d, lead.content);
        assert_eq!(d.users[lead.user as usize].site_role, SiteRole::Explorer);
        let leading: Vec<(u32, u32)> = chain(&d, p)
            .into_iter()
            .flat_map(|q| {
                d.projects[q as usize]
                    .rules
                    .iter()
                    .filter(|r| is_leader_rule(r))
                    .filter_map(move |r| match r.grantee {
                        Grantee::Group(g) => Some((q, g)),
                        Grantee::User(_) => None,
                    })
            })
            .filter(|(_, g)| d.users[lead.user as usize].groups.contains(g))
            .collect();
        let &(q, g) = leading
            .first()
            .expect("a group of the user leads a project above the item");
        assert!(chain(&d, p)
            .iter()
            .all(|&q| d.projects[q as usize].owner != lead.user));
        assert_ne!(owner_of(&d, lead.content), lead.user);
        (
            format!("projects/{}/permissions", d.projects[q as usize].id),
            luid_group(&d, g),
        )
    };
    assert!(has(
        &site.served_rules(&path).await,
        &group,
        "ProjectLeader",
        "Allow"
    ));
    // Explorers may download full data (or connect) but never delete,
    // leader or not.
    assert!(["ViewUnderlyingData", "Connect"].contains(&lead.capability));
    assert_eq!(capped.capability, "Delete");
    assert_eq!(site.effective(&lead).await, (true, "project_leader".into()));
    assert_eq!(
        site.effective(&capped).await,
        (false, "site_role_cap".into())
    );
}

#[tokio::test]
async fn project_owner_on_nested_content() {
    let site = Site::small().await;
    let c = site.case("project_owner_on_nested_content");
    {
        let d = site.handle.state.data();
        let parent = d.projects[home(&d, c.content) as usize]
            .parent
            .expect("nested");
        assert_eq!(d.projects[parent as usize].owner, c.user);
        assert_ne!(owner_of(&d, c.content), c.user);
        assert!(matches!(
            d.users[c.user as usize].site_role,
            SiteRole::Creator | SiteRole::ExplorerCanPublish
        ));
    }
    assert_eq!(c.capability, "Delete");
    assert_eq!(site.effective(&c).await, (true, "project_owner".into()));
}

#[tokio::test]
async fn without_nested_lock_stops_at_child_and_governs_own_content() {
    let site = Site::small().await;
    let child = site.case("without_nested_lock_stops_at_child");
    let own = site.case("without_nested_lock_applies_to_own_content");
    let locked = {
        let d = site.handle.state.data();
        let p = home(&d, own.content);
        let c = home(&d, child.content);
        let pr = &d.projects[p as usize];
        assert!(pr.locked && pr.lock_without_nested);
        assert_eq!(
            d.projects[c as usize].parent,
            Some(p),
            "the child's item sits one level below"
        );
        assert!(!d.projects[c as usize].locked);
        assert!(chain(&d, p)[1..]
            .iter()
            .all(|&q| !d.projects[q as usize].locked));
        // Child: its own rule allows; the parent's defaults deny (ignored).
        let cap = child.capability;
        assert_eq!(
            modes(own_rules(&d, child.content), Grantee::User(child.user), cap),
            vec![Mode::Allow]
        );
        assert_eq!(
            modes(
                defaults_for(&d, p, child.content),
                Grantee::User(child.user),
                cap
            ),
            vec![Mode::Deny]
        );
        assert!(plain_user(&d, child.user, c) && owner_of(&d, child.content) != child.user);
        // Own content: the defaults deny; its own rule's allow is ignored.
        let cap = own.capability;
        assert_eq!(
            modes(
                defaults_for(&d, p, own.content),
                Grantee::User(own.user),
                cap
            ),
            vec![Mode::Deny]
        );
        assert_eq!(
            modes(own_rules(&d, own.content), Grantee::User(own.user), cap),
            vec![Mode::Allow]
        );
        assert!(plain_user(&d, own.user, p) && owner_of(&d, own.content) != own.user);
        p
    };
    assert_eq!(
        site.content_permissions(locked).await,
        "LockedToProjectWithoutNested"
    );
    assert_eq!(site.effective(&child).await, (true, "user_allow".into()));
    assert_eq!(site.effective(&own).await, (false, "user_deny".into()));
}

#[tokio::test]
async fn lock_reaches_nested_content_and_projects() {
    let site = Site::small().await;
    let content = site.case("lock_reaches_nested_content");
    let project = site.case("nested_project_uses_locked_parent_rules");
    let locked = {
        let d = site.handle.state.data();
        let w = &d.workbooks[workbook_of(&d, content.content) as usize];
        let c = w.project;
        let Entity::Project(pc) = project.content else {
            panic!("a project")
        };
        assert_eq!(pc, c);
        let p = d.projects[c as usize].parent.expect("nested");
        let pr = &d.projects[p as usize];
        // The nearest lock above the child is the parent's, with nested
        // projects.
        assert!(pr.locked && !pr.lock_without_nested && !d.projects[c as usize].locked);
        assert_eq!(
            modes(
                &pr.default_workbook_rules,
                Grantee::User(content.user),
                "Filter"
            ),
            vec![Mode::Allow]
        );
        assert_eq!(
            modes(&w.rules, Grantee::User(content.user), "Filter"),
            vec![Mode::Deny]
        );
        assert!(plain_user(&d, content.user, c) && w.owner != content.user);
        assert_eq!(
            modes(&pr.rules, Grantee::User(project.user), "Read"),
            vec![Mode::Allow]
        );
        assert_eq!(
            modes(
                &d.projects[c as usize].rules,
                Grantee::User(project.user),
                "Read"
            ),
            vec![Mode::Deny]
        );
        assert!(plain_user(&d, project.user, c));
        p
    };
    assert_eq!(site.content_permissions(locked).await, "LockedToProject");
    assert_eq!(site.effective(&content).await, (true, "user_allow".into()));
    assert_eq!(site.effective(&project).await, (true, "user_allow".into()));
}

#[tokio::test]
async fn no_rule_denied() {
    let site = Site::small().await;
    let c = site.case("no_rule_denied");
    {
        let d = site.handle.state.data();
        let wb = &d.workbooks[workbook_of(&d, c.content) as usize];
        assert!(
            no_lock_above(&d, wb.project)
                && plain_user(&d, c.user, wb.project)
                && wb.owner != c.user
        );
        assert!(d.users[c.user as usize].site_role != SiteRole::Viewer);
        assert!(modes(&wb.rules, Grantee::User(c.user), c.capability).is_empty());
        assert!(group_modes(&d, &wb.rules, c.user, c.capability).is_empty());
    }
    assert_eq!(site.effective(&c).await, (false, "no_rule".into()));
}

#[tokio::test]
async fn site_admin_ignores_deny() {
    let site = Site::small().await;
    let c = site.case("site_admin_ignores_deny");
    {
        let d = site.handle.state.data();
        let wb = &d.workbooks[workbook_of(&d, c.content) as usize];
        assert!(matches!(
            d.users[c.user as usize].site_role,
            SiteRole::SiteAdministratorCreator | SiteRole::SiteAdministratorExplorer
        ));
        assert_eq!(
            modes(&wb.rules, Grantee::User(c.user), c.capability),
            vec![Mode::Deny]
        );
    }
    assert_eq!(site.effective(&c).await, (true, "site_admin".into()));
}

#[tokio::test]
async fn unlicensed_gets_nothing() {
    let site = Site::small().await;
    let c = site.case("unlicensed_gets_nothing");
    {
        let d = site.handle.state.data();
        let wb = &d.workbooks[workbook_of(&d, c.content) as usize];
        assert_eq!(d.users[c.user as usize].site_role, SiteRole::Unlicensed);
        assert!(no_lock_above(&d, wb.project));
        assert!(
            group_modes(&d, &wb.rules, c.user, "Read").contains(&(0, Mode::Allow)),
            "All Users may view"
        );
    }
    assert_eq!(site.effective(&c).await, (false, "unlicensed".into()));
}

#[tokio::test]
async fn project_group_allow() {
    let site = Site::small().await;
    let c = site.case("project_group_allow");
    {
        let d = site.handle.state.data();
        let Entity::Project(p) = c.content else {
            panic!("a project")
        };
        let rules = &d.projects[p as usize].rules;
        assert!(no_lock_above(&d, p) && plain_user(&d, c.user, p));
        assert_eq!(d.users[c.user as usize].site_role, SiteRole::Viewer);
        assert!(modes(rules, Grantee::User(c.user), "Read").is_empty());
        let g = group_modes(&d, rules, c.user, "Read");
        assert!(
            !g.is_empty() && g.iter().all(|(_, m)| *m == Mode::Allow),
            "{g:?}"
        );
    }
    assert_eq!(site.effective(&c).await, (true, "group_allow".into()));
}

#[tokio::test]
async fn view_rules_count_only_in_customizable_projects() {
    let site = Site::small().await;
    let open = site.case("view_rule_in_customizable_project");
    let locked = site.case("view_rule_ignored_when_locked");
    let (open_path, user) = {
        let d = site.handle.state.data();
        let Entity::View(v) = open.content else {
            panic!("a view")
        };
        let wb = &d.workbooks[d.views[v as usize].workbook as usize];
        assert!(
            no_lock_above(&d, wb.project)
                && plain_user(&d, open.user, wb.project)
                && wb.owner != open.user
        );
        assert!(modes(&wb.rules, Grantee::User(open.user), "Read").is_empty());
        assert_eq!(
            modes(
                &d.views[v as usize].extra_rules,
                Grantee::User(open.user),
                "Read"
            ),
            vec![Mode::Deny]
        );

        let Entity::View(lv) = locked.content else {
            panic!("a view")
        };
        let lw = &d.workbooks[d.views[lv as usize].workbook as usize];
        // The nearest lock that reaches the workbook: its project's, or an
        // ancestor's locked with nested projects.
        let lq = chain(&d, lw.project)
            .into_iter()
            .find(|&q| {
                d.projects[q as usize].locked
                    && (q == lw.project || !d.projects[q as usize].lock_without_nested)
            })
            .expect("a lock reaches the workbook");
        let lp = &d.projects[lq as usize];
        assert!(plain_user(&d, locked.user, lw.project) && lw.owner != locked.user);
        assert_eq!(
            modes(
                &d.views[lv as usize].extra_rules,
                Grantee::User(locked.user),
                "Read"
            ),
            vec![Mode::Deny]
        );
        assert_eq!(
            modes(
                &lp.default_workbook_rules,
                Grantee::User(locked.user),
                "Read"
            ),
            vec![Mode::Allow]
        );
        (
            format!("views/{}/permissions", d.views[v as usize].id),
            luid_user(&d, open.user),
        )
    };
    assert!(
        has(&site.served_rules(&open_path).await, &user, "Read", "Deny"),
        "the view rule is served"
    );
    assert_eq!(site.effective(&open).await, (false, "user_deny".into()));
    assert_eq!(site.effective(&locked).await, (true, "user_allow".into()));
}

// --- the manifest and the endpoint ------------------------------------------

#[tokio::test]
async fn manifest_lists_every_case_and_a_sample() {
    let site = Site::small().await;
    let m: Value = site
        .client
        .get(format!("{}/sim/manifest", site.handle.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let planted = m["access"]["planted"].as_array().expect("access.planted");
    for name in CASES {
        let entry = planted
            .iter()
            .find(|e| e["case"] == *name)
            .unwrap_or_else(|| panic!("{name} missing from the manifest"));
        let c = site.case(name);
        let d = site.handle.state.data();
        assert_eq!(entry["user_luid"], d.users[c.user as usize].id);
        assert_eq!(
            format!(
                "{}:{}",
                entry["content_type"].as_str().unwrap(),
                entry["content_luid"].as_str().unwrap()
            ),
            content_ref(&d, c.content)
        );
        assert_eq!(
            (
                entry["capability"].as_str().unwrap(),
                entry["allowed"].as_bool().unwrap()
            ),
            (c.capability, c.allowed)
        );
        assert_eq!(entry["reason"], c.reason);
    }
    assert_eq!(planted.len(), CASES.len());
    let sample = m["access"]["sample"].as_array().expect("access.sample");
    assert_eq!(sample.len(), 200);
    // Every sampled decision agrees with the endpoint.
    for e in sample.iter().step_by(10) {
        let url = format!(
            "{}/sim/effective?user={}&content={}:{}&capability={}",
            site.handle.url(),
            e["user_luid"].as_str().unwrap(),
            e["content_type"].as_str().unwrap(),
            e["content_luid"].as_str().unwrap(),
            e["capability"].as_str().unwrap()
        );
        let v: Value = site
            .client
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(v["decisions"][0]["allowed"], e["allowed"]);
        assert_eq!(v["decisions"][0]["reason"], e["reason"]);
    }
}

#[tokio::test]
async fn effective_answers_every_capability_and_rejects_bad_queries() {
    let site = Site::small().await;
    let (admin, wb, ds) = {
        let d = site.handle.state.data();
        (
            d.users[0].id.clone(),
            d.workbooks[0].id.clone(),
            d.datasources[0].id.clone(),
        )
    };
    let get = |q: String| {
        let url = format!("{}/sim/effective?{q}", site.handle.url());
        let client = site.client.clone();
        async move {
            let r = client.get(url).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, body) = get(format!("user={admin}&content=workbook:{wb}")).await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    let caps: Vec<&str> = v["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["capability"].as_str().unwrap())
        .collect();
    assert_eq!(caps.len(), 16, "{caps:?}");
    assert!(caps.contains(&"ChangePermissions") && caps.contains(&"ExportXml"));
    // User 0 is a site administrator: everything, for that reason.
    assert!(v["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["allowed"] == true && x["reason"] == "site_admin"));

    assert_eq!(
        get(format!("user={admin}&content=datasource:{wb}")).await.0,
        404,
        "a workbook id is no datasource"
    );
    assert_eq!(
        get(format!(
            "user={admin}&content=datasource:{ds}&capability=Filter"
        ))
        .await
        .0,
        400
    );
    assert_eq!(get(format!("user={admin}&content=flow:{ds}")).await.0, 400);
    assert_eq!(get(format!("user={admin}&content={ds}")).await.0, 400);
    assert_eq!(
        get(format!("user=nobody&content=datasource:{ds}")).await.0,
        404
    );
}
