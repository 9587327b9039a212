//! Effective access against the simulated site's ground truth
//! (`trm::sim::access::effective`, written independently from Tableau's
//! documented evaluation): the site is extracted into a scratch warehouse,
//! TRM's evaluator computes and stores access, and its answers (allowed and
//! reason) are compared — for every user × item × capability on the small
//! site through the `effective_access` view, for a seeded sample of 100,000
//! triples on the medium site, and for every planted situation by name.
//! Also `trm access`'s lookups (`--user`, `--asset`) and what the stored
//! tables hold.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use duckdb::{AccessMode, Config, Connection};
use trm::access::{self, query};
use trm::extract::{self, Options, Quiet};
use trm::sim::access::{capabilities, effective, sample, Content, Kind};
use trm::sim::dataset::plant_access::CASES;
use trm::sim::dataset::{Dataset, Entity, Size};
use trm::sim::{self, SimConfig, SimHandle};

#[path = "support/site.rs"]
mod site;
use site::{scratch, settings};

/// The site extracted into a scratch warehouse, with access computed.
async fn computed(size: Size, name: &str) -> (SimHandle, PathBuf, access::Summary) {
    computed_seed(size, SimConfig::default().seed, name).await
}

async fn computed_seed(size: Size, seed: u64, name: &str) -> (SimHandle, PathBuf, access::Summary) {
    let dir = scratch(name);
    let config = SimConfig {
        size,
        seed,
        ..SimConfig::default()
    };
    let handle = sim::start(config, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("site starts");
    let s = settings(&handle, &dir);
    extract::run(
        &s,
        &Options {
            only: Vec::new(),
            parquet: true,
        },
        Arc::new(Quiet),
    )
    .await
    .expect("extract");
    let db = s.db.clone();
    let parquet = s.parquet.clone();
    let summary = tokio::task::spawn_blocking(move || access::run(&db, Some(&parquet), None))
        .await
        .unwrap()
        .expect("access");
    (handle, dir, summary)
}

fn read_only(db: &Path) -> Connection {
    let config = Config::default()
        .access_mode(AccessMode::ReadOnly)
        .unwrap()
        .enable_autoload_extension(false)
        .unwrap();
    Connection::open_with_flags(db, config).unwrap()
}

/// Every live item of the site, as the ground truth names it.
fn every_item(d: &Dataset) -> Vec<Content> {
    d.live_projects()
        .map(Content::Project)
        .chain((0..d.workbooks.len() as u32).map(Content::Workbook))
        .chain((0..d.views.len() as u32).map(Content::View))
        .chain((0..d.datasources.len() as u32).map(Content::Datasource))
        .collect()
}

fn user_of(d: &Dataset, luid: &str) -> u32 {
    match d.lookup(luid) {
        Some(Entity::User(u)) => u,
        other => panic!("{luid} is not a user of the site: {other:?}"),
    }
}

fn content_of(d: &Dataset, luid: &str) -> Content {
    d.lookup(luid)
        .and_then(Content::of)
        .unwrap_or_else(|| panic!("{luid} is not an item of the site"))
}

/// The small site: every user × item × capability, read through the
/// `effective_access` view, equals the ground truth, and the view holds
/// exactly that many rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_triple_on_the_small_site_matches_the_ground_truth() {
    let (handle, dir, summary) = computed(Size::Small, "small").await;
    let guard = handle.state.data();
    let d = &*guard;
    let items = every_item(d);
    let users: Vec<u32> = d.live_users().collect();
    let want_rows: usize = items
        .iter()
        .map(|c| capabilities(c.kind()).len())
        .sum::<usize>()
        * users.len();
    assert_eq!(summary.users, users.len());
    assert_eq!(summary.items, items.len());

    let conn = read_only(&dir.join("trm.duckdb"));
    let mut stmt = conn
        .prepare("SELECT user_luid, item_type, item_luid, capability, allowed, reason FROM effective_access")
        .unwrap();
    let mut rows = stmt.query([]).unwrap();
    let mut seen = 0usize;
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut wrong = Vec::new();
    let mut keys = std::collections::HashSet::new();
    while let Some(r) = rows.next().unwrap() {
        let (user, kind, item, cap, allowed, reason): (
            String,
            String,
            String,
            String,
            bool,
            String,
        ) = (
            r.get(0).unwrap(),
            r.get(1).unwrap(),
            r.get(2).unwrap(),
            r.get(3).unwrap(),
            r.get(4).unwrap(),
            r.get(5).unwrap(),
        );
        let u = user_of(d, &user);
        let c = content_of(d, &item);
        assert_eq!(kind, c.kind().as_str(), "{item}");
        let truth = effective(d, u, c, &cap);
        if (allowed, reason.as_str()) != (truth.allowed, truth.reason.as_str()) && wrong.len() < 20
        {
            wrong.push(format!(
                "{} on {kind} {item} ({cap}): TRM {allowed} {reason}, site {} {}",
                d.users[u as usize].name,
                truth.allowed,
                truth.reason.as_str()
            ));
        }
        assert!(keys.insert((user, item, cap)), "a triple twice");
        *reasons.entry(reason).or_default() += 1;
        seen += 1;
    }
    assert!(
        wrong.is_empty(),
        "answers differ from the site's:\n{}",
        wrong.join("\n")
    );
    assert_eq!(seen, want_rows, "one row per user × item × capability");
    // The comparison covers every step of the evaluation.
    for r in [
        "unlicensed",
        "site_admin",
        "site_role_cap",
        "project_owner",
        "project_leader",
        "content_owner",
        "locked_set_permissions",
        "user_deny",
        "user_allow",
        "group_deny",
        "group_allow",
        "no_rule",
    ] {
        assert!(
            reasons.get(r).copied().unwrap_or(0) > 0,
            "no answer decided by {r}: {reasons:?}"
        );
    }
    // Classes and profiles compress the product.
    assert!(summary.classes < users.len(), "{summary:?}");
    assert!(summary.profiles < items.len(), "{summary:?}");
    drop(conn);
    drop(guard);
    handle.stop().await;
}

/// Every situation the site plants is answered as planted, one by one and
/// by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_situations_are_answered_as_planted() {
    const NAMED: &[&str] = &[
        "project_leader_cascades_to_nested",
        "group_project_leader",
        "project_leader_within_site_role_cap",
        "project_owner_on_nested_content",
        "without_nested_lock_stops_at_child",
        "without_nested_lock_applies_to_own_content",
        "lock_reaches_nested_content",
        "nested_project_uses_locked_parent_rules",
        "content_owner_locked_set_permissions",
        "content_owner_locked_overwrite",
        "content_owner_unlocked_set_permissions",
        "deny_beats_allow_across_groups",
        "user_allow_beats_group_deny",
        "user_deny_beats_group_allow",
        "viewer_capped_despite_group_write",
        "explorer_capped_despite_user_allow",
        "no_rule_denied",
        "site_admin_ignores_deny",
        "unlicensed_gets_nothing",
        "project_group_allow",
        "view_rule_in_customizable_project",
        "view_rule_ignored_when_locked",
    ];
    assert_eq!(
        NAMED.iter().copied().collect::<BTreeSet<_>>(),
        CASES.iter().copied().collect::<BTreeSet<_>>(),
        "this test names every planted case"
    );
    // The default seed plants (nearly) every case; other seeds fill gaps.
    let mut answered = BTreeSet::new();
    for seed in [42, 7, 1] {
        if NAMED.iter().all(|n| answered.contains(n)) {
            break;
        }
        let (handle, dir, _) = computed_seed(Size::Small, seed, "planted").await;
        let guard = handle.state.data();
        let d = &*guard;
        let conn = read_only(&dir.join("trm.duckdb"));
        for c in &d.access_cases {
            let content = Content::of(c.content).expect("planted on content");
            let (user, item) = (&d.users[c.user as usize].id, content.id(d));
            let got: (bool, String) = conn
                .query_row(
                    "SELECT allowed, reason FROM effective_access WHERE user_luid = ? AND item_luid = ? AND capability = ?",
                    duckdb::params![user, item, c.capability],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap_or_else(|e| panic!("case {}: no answer ({e})", c.case));
            assert_eq!(
                got,
                (c.allowed, c.reason.to_string()),
                "seed {seed}, case {}: {} on {:?} ({})",
                c.case,
                d.users[c.user as usize].name,
                c.content,
                c.capability
            );
            answered.insert(c.case);
        }
        drop(conn);
        drop(guard);
        handle.stop().await;
    }
    for name in NAMED {
        assert!(
            answered.contains(name),
            "case {name} is planted on none of the small sites tried"
        );
    }
}

/// The medium site: a seeded sample of 100,000 triples, read from the
/// stored tables the way the view joins them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sample_of_the_medium_site_matches_the_ground_truth() {
    let (handle, dir, summary) = computed(Size::Medium, "medium").await;
    let guard = handle.state.data();
    let d = &*guard;
    let triples = sample(d, 100_000, 2026);
    assert_eq!(triples.len(), 100_000);

    let conn = Connection::open(dir.join("trm.duckdb")).unwrap();
    conn.execute_batch("CREATE TEMP TABLE sample (n BIGINT, user_luid VARCHAR, item_luid VARCHAR, capability VARCHAR)").unwrap();
    {
        let mut app = conn.appender("sample").unwrap();
        for (n, (u, c, cap, _)) in triples.iter().enumerate() {
            app.append_row(duckdb::params![
                n as i64,
                d.users[*u as usize].id,
                c.id(d),
                cap
            ])
            .unwrap();
        }
    }
    let mut stmt = conn
        .prepare(
            "SELECT s.n, CASE WHEN x.user_luid IS NULL THEN ad.allowed ELSE x.allowed END, \
                    CASE WHEN x.user_luid IS NULL THEN ad.reason ELSE x.reason END \
             FROM sample s \
             JOIN access_user_classes uc ON uc.user_luid = s.user_luid \
             JOIN access_items i ON i.item_luid = s.item_luid \
             JOIN access_decisions ad ON ad.class_id = uc.class_id AND ad.profile_id = i.profile_id AND ad.capability = s.capability \
             LEFT JOIN access_exceptions x ON x.user_luid = s.user_luid AND x.item_luid = s.item_luid AND x.capability = s.capability",
        )
        .unwrap();
    let got: HashMap<usize, (bool, String)> = stmt
        .query_map([], |r| {
            Ok((r.get::<_, i64>(0)? as usize, (r.get(1)?, r.get(2)?)))
        })
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(
        got.len(),
        triples.len(),
        "every sampled triple has an answer"
    );
    let mut wrong = Vec::new();
    let mut reasons = BTreeSet::new();
    for (n, (u, c, cap, truth)) in triples.iter().enumerate() {
        let (allowed, reason) = &got[&n];
        reasons.insert(reason.clone());
        if (*allowed, reason.as_str()) != (truth.allowed, truth.reason.as_str()) {
            wrong.push(format!(
                "{} on {:?} ({cap}): TRM {allowed} {reason}, site {} {}",
                d.users[*u as usize].name,
                c,
                truth.allowed,
                truth.reason.as_str()
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of 100,000 answers differ, e.g.:\n{}",
        wrong.len(),
        wrong[..wrong.len().min(20)].join("\n")
    );
    assert!(
        reasons.len() >= 8,
        "the sample reaches most steps: {reasons:?}"
    );

    // The manifest's own sample, through the view, one triple at a time.
    let m = handle.state.manifest();
    for x in m.access.sample.iter().chain(&m.access.planted) {
        let got: (bool, String) = conn
            .query_row(
                "SELECT allowed, reason FROM effective_access WHERE user_luid = ? AND item_luid = ? AND capability = ?",
                duckdb::params![x.user_luid, x.content_luid, x.capability],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(got, (x.allowed, x.reason.to_string()), "{x:?}");
    }
    assert!(
        summary.classes * 10 < summary.users,
        "classes compress users: {summary:?}"
    );
    drop(stmt);
    drop(conn);
    drop(guard);
    handle.stop().await;
}

/// `trm access --user`: every grant of one user, and only those, with the
/// site's reasons; `--asset`: exactly the users the site lets read it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_and_asset_lookups_match_the_ground_truth() {
    let (handle, dir, _) = computed(Size::Small, "lookups").await;
    let guard = handle.state.data();
    let d = &*guard;
    let db = dir.join("trm.duckdb");
    let (conn, computed_now) = query::open_computed(&db, None).unwrap();
    assert!(!computed_now, "the latest run's access is already stored");
    let items = every_item(d);

    // A user who owns something and is in a rule-named group.
    let u = d
        .live_users()
        .find(|&u| {
            d.owned_by(u) > 0
                && d.users[u as usize].site_role != trm::sim::dataset::SiteRole::Unlicensed
        })
        .unwrap();
    let user = &d.users[u as usize];
    let (luid, name) = query::find_user(&conn, &db, &user.name).unwrap();
    assert_eq!(
        (luid.as_str(), name.as_str()),
        (user.id.as_str(), user.name.as_str())
    );
    assert_eq!(
        query::find_user(&conn, &db, &user.full_name.to_uppercase())
            .unwrap()
            .0,
        user.id,
        "full names match too"
    );
    let answers = query::for_user(&conn, &db, &luid, None, false).unwrap();
    let got: BTreeSet<(String, String, String)> = answers
        .iter()
        .flat_map(|a| {
            a.capabilities
                .iter()
                .map(|c| (a.item_luid.clone(), c.clone(), a.reason.clone()))
        })
        .collect();
    let answered: usize = answers.iter().map(|a| a.capabilities.len()).sum();
    assert_eq!(answered, got.len(), "each capability answered once");
    assert!(answers.iter().all(|a| a.allowed));
    let mut want = BTreeSet::new();
    for &c in &items {
        for &cap in capabilities(c.kind()) {
            let t = effective(d, u, c, cap);
            if t.allowed {
                want.insert((
                    c.id(d).to_string(),
                    cap.to_string(),
                    t.reason.as_str().to_string(),
                ));
            }
        }
    }
    assert!(!want.is_empty());
    assert_eq!(got, want, "{}'s grants", user.name);
    let want_user = want.clone();
    let read_only_answers = query::for_user(&conn, &db, &luid, Some("Read"), true).unwrap();
    assert_eq!(
        read_only_answers.len(),
        items.len(),
        "--capability Read --denied: one answer per item"
    );
    assert!(read_only_answers.iter().all(|a| a.capabilities == ["Read"]));
    assert!(query::for_user(&conn, &db, &luid, Some("Teleport"), false)
        .unwrap_err()
        .to_string()
        .contains("unknown capability"));

    // An asset: a workbook by type and name.
    let w = 0usize;
    let wb = &d.workbooks[w];
    let spec = format!("workbook:\"{}\"", wb.name);
    let (kind, item, _) = query::find_item(&conn, &db, &spec).unwrap();
    assert_eq!((kind.as_str(), item.as_str()), ("workbook", wb.id.as_str()));
    let readers = query::for_item(&conn, &db, &item, "Read", false).unwrap();
    assert!(readers.iter().all(|a| a.capabilities == ["Read"]));
    let got: BTreeSet<(String, String)> = readers
        .iter()
        .map(|a| (a.user_luid.clone(), a.reason.clone()))
        .collect();
    assert_eq!(got.len(), readers.len(), "one answer per user");
    let want: BTreeSet<(String, String)> = d
        .live_users()
        .filter_map(|u| {
            let t = effective(d, u, Content::Workbook(w as u32), "Read");
            t.allowed.then(|| {
                (
                    d.users[u as usize].id.clone(),
                    t.reason.as_str().to_string(),
                )
            })
        })
        .collect();
    assert_eq!(got, want, "who may read {}", wb.name);
    let want_readers = want.len();
    // Group grants name the group they come through, and it is one of the user's.
    for a in readers.iter().filter(|a| a.reason == "group_allow") {
        let g = a.via_group_luid.as_deref().expect("a group");
        let gi = match d.lookup(g) {
            Some(Entity::Group(gi)) => gi,
            other => panic!("{g}: {other:?}"),
        };
        assert!(d.users[user_of(d, &a.user_luid) as usize]
            .groups
            .contains(&gi));
        assert!(a.explain().contains(&d.groups[gi as usize].name));
    }
    assert!(query::find_item(&conn, &db, "workbook:\"No Such Workbook\"").is_err());
    assert!(query::find_item(&conn, &db, &wb.id).is_ok(), "a bare LUID");
    drop(conn);

    // The command prints the same answers; --json carries them whole.
    let trm = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_trm"))
            .args(args)
            .arg("--db")
            .arg(&db)
            .arg("--no-parquet")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, stdout, stderr) = trm(&["access", "--user", &user.name]);
    assert!(ok, "{stderr}");
    let items_allowed: BTreeSet<&str> = want_user.iter().map(|(i, _, _)| i.as_str()).collect();
    assert!(
        stdout.contains(&format!(
            "{} capabilities allowed on {} items",
            want_user.len(),
            items_allowed.len()
        )),
        "{stdout}"
    );
    let (ok, stdout, stderr) = trm(&["--json", "access", "--asset", &spec]);
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        v["answers"].as_array().unwrap().len(),
        want_readers,
        "{stdout}"
    );
    let (ok, _, stderr) = trm(&["access", "--user", "nobody-at-all@example.com"]);
    assert!(
        !ok && stderr.contains("no user 'nobody-at-all@example.com'"),
        "{stderr}"
    );
    drop(guard);
    handle.stop().await;
}

/// The tables the view expands: classes cover every user once, items every
/// item once, and re-computing a run replaces its rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_tables_are_whole_and_replaced_on_recompute() {
    let (handle, dir, first) = computed(Size::Small, "tables").await;
    let db = dir.join("trm.duckdb");
    let count = |sql: &str| -> i64 { read_only(&db).query_row(sql, [], |r| r.get(0)).unwrap() };
    let guard = handle.state.data();
    let d = &*guard;
    assert_eq!(
        count("SELECT count(*) FROM access_user_classes") as usize,
        d.live_users().count()
    );
    assert_eq!(
        count("SELECT count(DISTINCT user_luid) FROM access_user_classes") as usize,
        d.live_users().count()
    );
    assert_eq!(
        count("SELECT sum(user_count) FROM access_classes") as usize,
        d.live_users().count()
    );
    assert_eq!(
        count("SELECT count(*) FROM access_items") as usize,
        every_item(d).len()
    );
    assert_eq!(
        count("SELECT count(*) FROM access_decisions") as u64,
        first.decisions
    );
    assert_eq!(
        count("SELECT count(*) FROM access_exceptions") as usize,
        first.exceptions
    );
    let kinds = count("SELECT count(DISTINCT item_type) FROM access_items");
    assert_eq!(
        kinds,
        Kind::ALL.len() as i64,
        "projects, workbooks, views, datasources (the site has no flows)"
    );
    let parquet = dir.join("parquet");
    let again = access::run(&db, Some(&parquet), None).unwrap();
    assert_eq!(
        (again.decisions, again.exceptions),
        (first.decisions, first.exceptions)
    );
    assert_eq!(
        count("SELECT count(*) FROM hist_access_exceptions") as usize,
        first.exceptions,
        "replaced, not appended"
    );
    assert!(parquet.join("access_decisions").exists());
    drop(guard);
    handle.stop().await;
}

/// The `elevated_users` report lists exactly the site's administrators,
/// project owners and project leaders (named, or through a group).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_elevated_users_report_matches_the_site() {
    use trm::sim::dataset::{Grantee, Mode, SiteRole};
    let (handle, dir, _) = computed(Size::Small, "elevated").await;
    let guard = handle.state.data();
    let d = &*guard;
    let conn = read_only(&dir.join("trm.duckdb"));
    let def = trm::report::definitions::built_in()
        .unwrap()
        .iter()
        .find(|x| x.slug == "elevated_users")
        .unwrap()
        .clone();
    let t = trm::report::sql::run(&conn, &def, &BTreeMap::new()).expect("the report runs");
    let col = |name: &str| t.columns.iter().position(|c| c.name == name).unwrap();
    let cell =
        |row: &[serde_json::Value], name: &str| row[col(name)].as_str().unwrap_or("").to_string();
    let got: BTreeSet<(String, String, String, String)> = t
        .rows
        .iter()
        .map(|r| {
            (
                cell(r, "user_luid"),
                cell(r, "elevation"),
                cell(r, "project_luid"),
                cell(r, "via_group_luid"),
            )
        })
        .collect();
    assert_eq!(got.len(), t.rows.len(), "no row twice");
    let mut want = BTreeSet::new();
    for u in d.live_users() {
        let role = d.users[u as usize].site_role;
        if matches!(
            role,
            SiteRole::SiteAdministratorCreator | SiteRole::SiteAdministratorExplorer
        ) {
            want.insert((
                d.users[u as usize].id.clone(),
                "site_admin".into(),
                String::new(),
                String::new(),
            ));
        }
    }
    for p in d.live_projects() {
        let project = &d.projects[p as usize];
        want.insert((
            d.users[project.owner as usize].id.clone(),
            "project_owner".into(),
            project.id.clone(),
            String::new(),
        ));
        for r in &project.rules {
            if !r.capabilities.contains(&("ProjectLeader", Mode::Allow)) {
                continue;
            }
            match r.grantee {
                Grantee::User(u) => {
                    want.insert((
                        d.users[u as usize].id.clone(),
                        "project_leader".into(),
                        project.id.clone(),
                        String::new(),
                    ));
                }
                Grantee::Group(g) if !d.groups[g as usize].deleted => {
                    for &u in &d.groups[g as usize].members {
                        want.insert((
                            d.users[u as usize].id.clone(),
                            "project_leader".into(),
                            project.id.clone(),
                            d.groups[g as usize].id.clone(),
                        ));
                    }
                }
                Grantee::Group(_) => {}
            }
        }
    }
    assert!(
        want.iter()
            .any(|w| w.1 == "project_leader" && !w.3.is_empty()),
        "the site has a group of leaders"
    );
    assert_eq!(got, want);
    drop(conn);
    drop(guard);
    handle.stop().await;
}
