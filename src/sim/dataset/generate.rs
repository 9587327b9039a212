//! Builds a [`Dataset`] from a size and a seed.
//!
//! Each part of the site draws from its own forked generator, so the same
//! seed gives the same users whatever later parts do. Planted facts (failing
//! extracts, unused dashboards, hostile names) follow fixed patterns over a
//! shuffled order, so every size — the small one included — has each kind.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::names::*;
use super::rng::Rng;
use super::*;

struct Shape {
    users: usize,
    groups: usize,
    projects: usize,
    workbooks: usize,
    datasources: usize,
    extract_schedules: usize,
    subscription_schedules: usize,
}

fn shape(size: Size) -> Shape {
    match size {
        Size::Small => Shape {
            users: 40,
            groups: 8,
            projects: 12,
            workbooks: 20,
            datasources: 8,
            extract_schedules: 4,
            subscription_schedules: 2,
        },
        Size::Medium => Shape {
            users: 2_500,
            groups: 250,
            projects: 80,
            workbooks: 1_000,
            datasources: 200,
            extract_schedules: 12,
            subscription_schedules: 4,
        },
        Size::Large => Shape {
            users: 50_000,
            groups: 5_000,
            projects: 600,
            workbooks: 10_000,
            datasources: 2_000,
            extract_schedules: 30,
            subscription_schedules: 8,
        },
    }
}

const VIEWER: &[&str] = &["Read", "Filter", "ViewComments", "AddComment", "ExportImage", "ExportData", "ShareView"];
const EXPLORER: &[&str] = &[
    "Read", "Filter", "ViewComments", "AddComment", "ExportImage", "ExportData", "ShareView",
    "ViewUnderlyingData", "WebAuthoring", "RunExplainData",
];
const DS_CONNECT: &[&str] = &["Read", "Connect"];
const DS_EXPLORE: &[&str] = &["Read", "Connect", "ExportXml", "SaveAs"];
/// Departments whose content is not open to All Users.
const RESTRICTED: &[&str] = &["Finance", "HR", "Legal", "Executive"];
/// Unused-window used to plant dashboards; the detector's default.
pub const USAGE_WINDOW_DAYS: i64 = 90;

fn allow(grantee: Grantee, caps: &[&'static str]) -> Rule {
    Rule { grantee, capabilities: caps.iter().map(|c| (*c, Mode::Allow)).collect() }
}

fn deny(grantee: Grantee, caps: &[&'static str]) -> Rule {
    Rule { grantee, capabilities: caps.iter().map(|c| (*c, Mode::Deny)).collect() }
}

/// A time on a random simulated day in `lo..=hi` (days relative to day 0).
fn time_on_day(rng: &mut Rng, lo: i64, hi: i64) -> i64 {
    day_start(rng.range(lo, hi)) + rng.range(-12 * 3600, 11 * 3600)
}

fn day_of(t: i64) -> i64 {
    (t - EPOCH).div_euclid(DAY)
}

/// Tableau derives content URLs from names: alphanumerics only.
fn url_name(name: &str) -> String {
    let s: String = name.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    if s.is_empty() {
        "Untitled".to_string()
    } else {
        s
    }
}

/// Returns `base`, or `base` with the first free suffix, and records it.
fn unique(taken: &mut HashSet<String>, base: String, sep: &str) -> String {
    if taken.insert(base.clone()) {
        return base;
    }
    for n in 2.. {
        let candidate = format!("{base}{sep}{n}");
        if taken.insert(candidate.clone()) {
            return candidate;
        }
    }
    unreachable!()
}

fn tags(rng: &mut Rng) -> Vec<String> {
    let mut t: Vec<&'static str> = (0..rng.below(3)).map(|_| *rng.pick(TAGS)).collect();
    t.sort_unstable();
    t.dedup();
    t.into_iter().map(str::to_string).collect()
}

pub fn generate(size: Size, seed: u64, site_content_url: &str) -> Dataset {
    generate_scaled(size, seed, site_content_url, 100)
}

/// [`generate`] with the size's counts of users, groups, projects,
/// workbooks and datasources scaled to `percent` (schedules keep theirs):
/// the further sites of a several-site server differ in size as well as
/// in content.
pub fn generate_scaled(size: Size, seed: u64, site_content_url: &str, percent: u32) -> Dataset {
    let mut shape = shape(size);
    if percent != 100 {
        let scale = |n: usize, min: usize| (n * percent as usize / 100).max(min);
        shape.users = scale(shape.users, 10);
        shape.groups = scale(shape.groups, 4);
        shape.projects = scale(shape.projects, 6);
        shape.workbooks = scale(shape.workbooks, 6);
        shape.datasources = scale(shape.datasources, 4);
    }
    let root = Rng::new(seed);
    let now0 = day_start(0);

    let site = Site {
        id: root.fork(1).uuid(),
        name: if site_content_url.is_empty() { "Default".into() } else { title_case(site_content_url) },
        content_url: site_content_url.to_string(),
    };

    // Users. User 0 is the administrator whose token the simulated site accepts.
    let mut rng = root.fork(2);
    let mut users = Vec::with_capacity(shape.users);
    let mut taken = HashSet::new();
    for i in 0..shape.users {
        let (full_name, role) = if i == 0 {
            ("Site Admin".to_string(), SiteRole::SiteAdministratorCreator)
        } else {
            let full = format!("{} {}", rng.pick(FIRST_NAMES), rng.pick(LAST_NAMES));
            let roll = rng.unit();
            let role = match roll {
                r if r < 0.01 => SiteRole::SiteAdministratorCreator,
                r if r < 0.02 => SiteRole::SiteAdministratorExplorer,
                r if r < 0.08 => SiteRole::Creator,
                r if r < 0.18 => SiteRole::ExplorerCanPublish,
                r if r < 0.43 => SiteRole::Explorer,
                r if r < 0.96 => SiteRole::Viewer,
                _ => SiteRole::Unlicensed,
            };
            (full, role)
        };
        let local = full_name.to_lowercase().replace(' ', ".");
        let local = unique(&mut taken, local, "");
        let created_at = time_on_day(&mut rng, -1100, -2);
        let last_login = if role == SiteRole::Unlicensed || rng.chance(0.08) {
            None
        } else {
            Some(created_at + rng.range(0, now0 - created_at))
        };
        users.push(User {
            id: rng.uuid(),
            email: format!("{local}@example.com"),
            name: format!("{local}@example.com"),
            full_name,
            site_role: role,
            created_at,
            last_login,
            groups: Vec::new(),
            auth_setting: "ServerDefault".to_string(),
            deleted: false,
        });
    }
    let publishers: Vec<u32> =
        (0..users.len() as u32).filter(|&u| users[u as usize].site_role.can_publish()).collect();

    // Groups: All Users, one per department, then teams.
    let mut rng = root.fork(3);
    let mut group_names = vec!["All Users".to_string()];
    group_names.extend(DEPARTMENTS.iter().map(|d| d.to_string()));
    for d in DEPARTMENTS {
        for r in REGIONS {
            for role in TEAM_ROLES {
                group_names.push(format!("{d} {r} {role}"));
            }
        }
    }
    for c in CODENAMES {
        for d in DEPARTMENTS {
            group_names.push(format!("Project {c} - {d}"));
        }
    }
    let mut n = 1;
    while group_names.len() < shape.groups {
        group_names.push(format!("Workgroup {n:04}"));
        n += 1;
    }
    group_names.truncate(shape.groups);
    let mut groups: Vec<Group> = group_names
        .into_iter()
        .map(|name| Group { id: rng.uuid(), name, members: Vec::new(), minimum_site_role: None, deleted: false })
        .collect();
    for (u, user) in users.iter_mut().enumerate() {
        let mut mine = vec![0u32];
        if groups.len() > 1 {
            for _ in 0..rng.range(1, 3) {
                mine.push(1 + rng.below(groups.len() as u64 - 1) as u32);
            }
        }
        mine.sort_unstable();
        mine.dedup();
        for &g in &mine {
            groups[g as usize].members.push(u as u32);
        }
        user.groups = mine;
    }
    let dept_group = |d: usize| -> u32 {
        if shape.groups > 1 {
            (1 + d % (shape.groups - 1)) as u32
        } else {
            0
        }
    };
    let contractors = groups.iter().position(|g| g.name.ends_with("Contractors")).unwrap_or(groups.len() - 1) as u32;

    // Projects: Default, one top-level project per department, nested below.
    let mut rng = root.fork(4);
    let tops = ((shape.projects + 1) / 2 - 1).min(DEPARTMENTS.len());
    let mut projects: Vec<Project> = Vec::with_capacity(shape.projects);
    let mut project_dept: Vec<usize> = Vec::with_capacity(shape.projects);
    let mut depth: Vec<u32> = Vec::with_capacity(shape.projects);
    let mut sibling_names: HashMap<Option<u32>, HashSet<String>> = HashMap::new();
    const CHILD_NAMES: &[&str] =
        &["EMEA", "APAC", "North America", "LATAM", "Certified", "Sandbox", "Archive", "Team Reports", "Ad Hoc", "Data Sources"];
    for i in 0..shape.projects {
        let (name, parent, dept) = if i == 0 {
            ("Default".to_string(), None, rng.below(DEPARTMENTS.len() as u64) as usize)
        } else if i <= tops {
            (DEPARTMENTS[i - 1].to_string(), None, i - 1)
        } else {
            let candidates: Vec<u32> = (1..projects.len() as u32).filter(|&p| depth[p as usize] < 3).collect();
            let parent = *rng.pick(&candidates);
            let base = if i == tops + 1 {
                HOSTILE_PROJECT.to_string()
            } else if rng.chance(0.5) {
                rng.pick(CHILD_NAMES).to_string()
            } else {
                format!("{} {}", rng.pick(CODENAMES), rng.pick(&["Team", "Reporting", "Workspace"]))
            };
            (base, Some(parent), project_dept[parent as usize])
        };
        let name = unique(sibling_names.entry(parent).or_default(), name, " ");
        let created_at = time_on_day(&mut rng, -1100, -200);
        let dg = Grantee::Group(dept_group(dept));
        let restricted = RESTRICTED.contains(&DEPARTMENTS[dept]);
        let owner = *rng.pick(&publishers);
        let mut rules = vec![allow(dg, &["Read", "Write"])];
        let mut default_workbook_rules = vec![allow(dg, EXPLORER)];
        let mut default_datasource_rules = vec![allow(dg, DS_EXPLORE)];
        if restricted {
            rules.push(deny(Grantee::Group(contractors), &["Read"]));
            default_workbook_rules.push(deny(Grantee::Group(contractors), &["Read", "ExportData"]));
            default_datasource_rules.push(deny(Grantee::Group(contractors), &["Connect"]));
        } else {
            rules.push(allow(Grantee::Group(0), &["Read"]));
            default_workbook_rules.push(allow(Grantee::Group(0), VIEWER));
            default_datasource_rules.push(allow(Grantee::Group(0), DS_CONNECT));
        }
        if rng.chance(0.3) {
            rules.push(allow(Grantee::User(owner), &["ProjectLeader"]));
        }
        let description = match parent {
            None if i == 0 => "The default project that was automatically created by Tableau.".to_string(),
            _ => format!("{} content", DEPARTMENTS[dept]),
        };
        depth.push(parent.map_or(0, |p| depth[p as usize] + 1));
        project_dept.push(dept);
        projects.push(Project {
            id: rng.uuid(),
            name,
            description,
            parent,
            owner,
            locked: i % 5 == 2,
            lock_without_nested: false,
            deleted: false,
            created_at,
            updated_at: created_at + rng.range(0, now0 - created_at),
            rules,
            default_workbook_rules,
            default_datasource_rules,
            other_default_rules: Default::default(),
        });
    }

    let mut by_content_url = HashSet::new();
    let mut names_in_project: HashMap<(u32, bool), HashSet<String>> = HashMap::new();

    // Published datasources.
    let mut rng = root.fork(5);
    let mut datasources = Vec::with_capacity(shape.datasources);
    for _ in 0..shape.datasources {
        let project = rng.below(projects.len() as u64) as u32;
        let dept = DEPARTMENTS[project_dept[project as usize]];
        let base = format!("{} {}", dept, rng.pick(DATASOURCE_SUBJECTS));
        let name = unique(names_in_project.entry((project, false)).or_default(), base, " ");
        let content_url = unique(&mut by_content_url, url_name(&name), "_");
        let db_type = *rng.pick(DB_TYPES);
        let has_extracts = matches!(db_type, "excel-direct" | "textscan") || rng.chance(0.5);
        let created_at = time_on_day(&mut rng, -1000, -30);
        let mut rules = projects[project as usize].default_datasource_rules.clone();
        if rng.chance(0.2) {
            rules.push(allow(Grantee::User(rng.below(users.len() as u64) as u32), DS_CONNECT));
        }
        datasources.push(Datasource {
            id: rng.uuid(),
            description: format!("{name} from the {db_type} warehouse"),
            name,
            content_url,
            project,
            owner: *rng.pick(&publishers),
            db_type,
            has_extracts,
            encrypt_extracts: has_extracts && rng.chance(0.3),
            certified: rng.chance(0.2),
            size_bytes: rng.range(4 << 10, 2 << 30) as u64,
            created_at,
            updated_at: created_at + rng.range(0, now0 - created_at),
            tags: tags(&mut rng),
            rules,
        });
    }

    // Workbooks with their views and embedded datasources. Every eighth
    // published datasource is never connected to: an orphan.
    let connectable: Vec<u32> = (0..datasources.len() as u32).filter(|i| i % 8 != 5).collect();
    let mut rng = root.fork(6);
    let mut workbooks = Vec::with_capacity(shape.workbooks);
    let mut views = Vec::with_capacity(shape.workbooks * 6);
    let mut embedded_datasources = Vec::with_capacity(shape.workbooks * 2);
    let mut dashboards_seen = 0u64;
    for i in 0..shape.workbooks {
        let project = rng.below(projects.len() as u64) as u32;
        let dept = project_dept[project as usize];
        let subject = *rng.pick(SUBJECTS[dept]);
        let base = if i == 3 {
            HOSTILE_WORKBOOK.to_string()
        } else {
            let region = if rng.chance(0.4) { format!("{} ", rng.pick(REGIONS)) } else { String::new() };
            format!("{region}{subject}{}", rng.pick(WORKBOOK_QUALIFIERS))
        };
        let name = unique(names_in_project.entry((project, true)).or_default(), base, " ");
        let content_url = unique(&mut by_content_url, url_name(&name), "_");
        // Every twentieth workbook is young: published inside the usage window.
        let young = i % 20 == 7;
        let created_at = if young { time_on_day(&mut rng, -40, -3) } else { time_on_day(&mut rng, -1000, -120) };
        let updated_at = created_at + rng.range(0, now0 - created_at);
        let wb = i as u32;

        let first_view = views.len() as u32;
        // About six views per workbook, as the large site's 10,000 / 60,000.
        let sheets = rng.range(1, 7);
        let dashboards = rng.range(1, 3);
        let story = rng.chance(0.05);
        let mut view_names = HashSet::new();
        let mut url_names = HashSet::new();
        let kinds = (0..sheets)
            .map(|_| SheetType::Worksheet)
            .chain((0..dashboards).map(|_| SheetType::Dashboard))
            .chain(story.then_some(SheetType::Story));
        let mut first_dashboard = true;
        for kind in kinds {
            let base = match kind {
                _ if i == 5 && views.len() as u32 == first_view => HOSTILE_VIEW.to_string(),
                SheetType::Worksheet => format!("{subject} {}", rng.pick(SHEET_NAMES)),
                SheetType::Dashboard => rng.pick(DASHBOARD_NAMES).to_string(),
                SheetType::Story => format!("{subject} Story"),
            };
            let vname = unique(&mut view_names, base, " ");
            let vurl = unique(&mut url_names, url_name(&vname), "_");
            let start_day = day_of(created_at);
            let active = Usage { start_day, end_day: i64::MAX, per_day_milli: rng.range(50, 20_000) as u64 };
            let idle = Usage { start_day, end_day: start_day, per_day_milli: 0 };
            let usage = match kind {
                SheetType::Dashboard if young => {
                    // A young dashboard with no views yet must not count as unused.
                    if std::mem::take(&mut first_dashboard) { idle } else { active }
                }
                SheetType::Dashboard => {
                    dashboards_seen += 1;
                    match dashboards_seen % 10 {
                        // Abandoned: viewed for a while, then not for months.
                        0 => Usage { end_day: rng.range(-400, -100).max(start_day + 1), ..active },
                        // Never opened.
                        1 => idle,
                        _ => active,
                    }
                }
                SheetType::Worksheet if rng.chance(0.15) => idle,
                _ => active,
            };
            let extra_rules = if rng.chance(0.04) {
                vec![allow(Grantee::User(rng.below(users.len() as u64) as u32), &["Read", "Filter"])]
            } else {
                Vec::new()
            };
            views.push(View {
                id: rng.uuid(),
                name: vname,
                url_name: vurl,
                workbook: wb,
                sheet_type: kind,
                created_at,
                updated_at,
                tags: if rng.chance(0.1) { tags(&mut rng) } else { Vec::new() },
                usage,
                extra_rules,
            });
        }

        let first_embedded = embedded_datasources.len() as u32;
        let mut direct = false;
        for _ in 0..rng.range(1, 3) {
            let published = if !connectable.is_empty() && rng.chance(0.6) {
                Some(*rng.pick(&connectable))
            } else {
                direct = true;
                None
            };
            let name = match published {
                Some(p) => datasources[p as usize].name.clone(),
                None => format!("{} ({})", rng.pick(DATASOURCE_SUBJECTS), rng.pick(DB_TYPES)),
            };
            embedded_datasources.push(EmbeddedDatasource { id: rng.uuid(), name, workbook: wb, published });
        }

        let mut rules = projects[project as usize].default_workbook_rules.clone();
        if rng.chance(0.25) {
            rules.push(allow(Grantee::User(rng.below(users.len() as u64) as u32), &["Read", "Filter", "ExportImage"]));
        }
        if rng.chance(0.05) {
            rules.push(deny(Grantee::Group(contractors), &["ExportData"]));
        }
        workbooks.push(Workbook {
            id: rng.uuid(),
            description: if rng.chance(0.6) { format!("{subject} for {}", DEPARTMENTS[dept]) } else { String::new() },
            name,
            content_url,
            project,
            owner: *rng.pick(&publishers),
            show_tabs: rng.chance(0.6),
            size_mb: rng.range(1, 200) as u32,
            created_at,
            updated_at,
            tags: tags(&mut rng),
            has_extracts: direct && rng.chance(0.4),
            views: first_view..views.len() as u32,
            embedded_datasources: first_embedded..embedded_datasources.len() as u32,
            rules,
        });
        // Showing sheets as tabs makes every view take its workbook's rules
        // (Tableau replaces view-level rules when tabs are shown), so only
        // views of workbooks that hide their tabs keep rules of their own.
        if workbooks.last().is_some_and(|w| w.show_tabs) {
            for v in &mut views[first_view as usize..] {
                v.extra_rules.clear();
            }
        }
    }

    // One published datasource unused for want of views: of the old
    // datasources connected to only by old workbooks, the one with the
    // fewest (then the first); nobody opens those workbooks' views. Only
    // usage changes, so the site's content and lineage stay as they were.
    let old = day_start(-2 * USAGE_WINDOW_DAYS);
    let mut users_of: Vec<BTreeSet<u32>> = vec![BTreeSet::new(); datasources.len()];
    for e in &embedded_datasources {
        if let Some(p) = e.published {
            users_of[p as usize].insert(e.workbook);
        }
    }
    let idle = (0..datasources.len())
        .filter(|&x| datasources[x].created_at < old && !users_of[x].is_empty())
        .filter(|&x| users_of[x].iter().all(|&w| workbooks[w as usize].created_at < old))
        .min_by_key(|&x| (users_of[x].len(), x));
    for &w in idle.map(|x| &users_of[x]).into_iter().flatten() {
        let own = workbooks[w as usize].views.clone();
        for v in &mut views[own.start as usize..own.end as usize] {
            v.usage = Usage { end_day: v.usage.start_day, per_day_milli: 0, ..v.usage };
        }
    }

    // Schedules: extract schedules (the last one suspended), then subscriptions.
    let mut rng = root.fork(7);
    let mut schedules = Vec::new();
    for i in 0..shape.extract_schedules {
        let suspended = i + 1 == shape.extract_schedules;
        let start_hour = rng.range(0, 23);
        let (frequency, interval_hours, name) = if suspended {
            (Frequency::Daily, 24, format!("Legacy nightly {start_hour:02}:00 UTC (suspended)"))
        } else {
            match i % 4 {
                0 => (Frequency::Daily, 24, format!("Daily {start_hour:02}:00 UTC")),
                1 => {
                    let every = *rng.pick(&[2i64, 4, 6, 12]);
                    (Frequency::Hourly, every, format!("Every {every} hours from {start_hour:02}:00 UTC"))
                }
                2 => (Frequency::Weekly, 168, format!("Weekly {start_hour:02}:00 UTC")),
                _ if i % 8 == 3 => (Frequency::Monthly, 720, format!("Monthly {start_hour:02}:00 UTC")),
                _ => (Frequency::Daily, 24, format!("Daily {start_hour:02}:00 UTC")),
            }
        };
        let name = format!("{name} #{}", i + 1);
        let created_at = time_on_day(&mut rng, -1200, -1150);
        schedules.push(Schedule {
            id: rng.uuid(),
            name,
            kind: ScheduleType::Extract,
            frequency,
            interval_hours,
            start_hour,
            start_minute: 0,
            weekdays: Vec::new(),
            inline: false,
            priority: 50,
            created_at,
            updated_at: created_at,
            suspended_at: suspended.then(|| day_start(-20) + start_hour * 3600),
        });
    }
    for i in 0..shape.subscription_schedules {
        let start_hour = rng.range(5, 9);
        let created_at = time_on_day(&mut rng, -1200, -1150);
        schedules.push(Schedule {
            id: rng.uuid(),
            name: format!("Weekday mornings {start_hour:02}:00 UTC #{}", i + 1),
            kind: ScheduleType::Subscription,
            frequency: Frequency::Daily,
            interval_hours: 24,
            start_hour,
            start_minute: 0,
            weekdays: Vec::new(),
            inline: false,
            priority: 80,
            created_at,
            updated_at: created_at,
            suspended_at: None,
        });
    }
    let suspended = (shape.extract_schedules - 1) as u32;
    let active_extract: Vec<u32> = (0..suspended).collect();

    // Extract refresh tasks, one per extract, with planted failures.
    let mut rng = root.fork(8);
    let mut targets: Vec<(Target, i64)> = datasources
        .iter()
        .enumerate()
        .filter(|(_, d)| d.has_extracts)
        .map(|(i, d)| (Target::Datasource(i as u32), d.created_at))
        .chain(
            workbooks
                .iter()
                .enumerate()
                .filter(|(_, w)| w.has_extracts)
                .map(|(i, w)| (Target::Workbook(i as u32), w.created_at)),
        )
        .collect();
    for i in (1..targets.len()).rev() {
        targets.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut tasks = Vec::with_capacity(targets.len());
    for (i, (target, created_at)) in targets.into_iter().enumerate() {
        let pattern = i % 25;
        let schedule = if pattern == 3 { suspended } else { *rng.pick(&active_extract) };
        let s = &schedules[schedule as usize];
        let period = s.period_secs();
        let midnight = created_at - created_at.rem_euclid(DAY);
        let mut anchor = midnight + s.start_hour * 3600;
        while anchor < created_at {
            anchor += period.min(DAY);
        }
        let last0 = (now0 - anchor).div_euclid(period);
        let health = match pattern {
            0 => Health::FailingSince { run: last0.max(0) },
            1 => Health::FailingSince { run: (last0 - 2).max(0) },
            2 if last0 >= 1 => Health::TransientFailure { run: last0 - 1 },
            4 => Health::FailingSince { run: (last0 - 7).max(0) },
            _ => Health::Healthy,
        };
        tasks.push(ExtractTask { id: rng.uuid(), schedule, target, priority: 50, anchor, health, deleted: false });
    }
    // Every size has a published extract that refreshes fine, so a refresh
    // through the API can succeed. The small site's few extracts are all
    // planted failures, and the lineage takes a table from the first healthy
    // one, so it gets two more.
    let healthy_published =
        tasks.iter().filter(|t| matches!(t.target, Target::Datasource(_)) && t.health == Health::Healthy).count();
    let live_and_old: Vec<usize> =
        (0..datasources.len()).filter(|&x| !datasources[x].has_extracts && datasources[x].created_at < now0 - 30 * DAY).collect();
    for x in live_and_old.into_iter().take(2usize.saturating_sub(healthy_published)) {
        datasources[x].has_extracts = true;
        let schedule = active_extract[0];
        let s = &schedules[schedule as usize];
        let created_at = datasources[x].created_at;
        let anchor = created_at - created_at.rem_euclid(DAY) + s.start_hour * 3600 + DAY;
        tasks.push(ExtractTask {
            id: rng.uuid(),
            schedule,
            target: Target::Datasource(x as u32),
            priority: 50,
            anchor,
            health: Health::Healthy,
            deleted: false,
        });
    }

    let mut by_id = HashMap::new();
    by_id.insert(site.id.clone(), Entity::Site);
    let entries = users
        .iter()
        .enumerate()
        .map(|(i, x)| (&x.id, Entity::User(i as u32)))
        .chain(groups.iter().enumerate().map(|(i, x)| (&x.id, Entity::Group(i as u32))))
        .chain(projects.iter().enumerate().map(|(i, x)| (&x.id, Entity::Project(i as u32))))
        .chain(workbooks.iter().enumerate().map(|(i, x)| (&x.id, Entity::Workbook(i as u32))))
        .chain(views.iter().enumerate().map(|(i, x)| (&x.id, Entity::View(i as u32))))
        .chain(datasources.iter().enumerate().map(|(i, x)| (&x.id, Entity::Datasource(i as u32))))
        .chain(schedules.iter().enumerate().map(|(i, x)| (&x.id, Entity::Schedule(i as u32))))
        .chain(tasks.iter().enumerate().map(|(i, x)| (&x.id, Entity::Task(i as u32))));
    for (id, entity) in entries {
        by_id.insert(id.clone(), entity);
    }

    let task_of = tasks.iter().enumerate().map(|(i, t)| (t.target, i as u32)).collect();
    let mut dataset = Dataset {
        size,
        seed,
        site,
        users,
        groups,
        projects,
        workbooks,
        views,
        datasources,
        embedded_datasources,
        schedules,
        tasks,
        lineage: Default::default(),
        by_id,
        tag_labels: TAGS.iter().map(|t| t.to_string()).collect(),
        adhoc_jobs: Vec::new(),
        version: 0,
        task_version: 0,
        task_of,
        access_cases: Vec::new(),
        docs: Default::default(),
    };
    super::lineage::generate(&mut dataset, &root);
    let offset = root.fork(20).below(1 << 16) as usize;
    dataset.access_cases = super::plant_access::plant(&mut dataset, offset);
    dataset
}

fn title_case(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_site_and_other_seed_differs() {
        let a = generate(Size::Small, 42, "analytics");
        let b = generate(Size::Small, 42, "analytics");
        let c = generate(Size::Small, 43, "analytics");
        assert_eq!(a.workbooks.iter().map(|w| &w.id).collect::<Vec<_>>(), b.workbooks.iter().map(|w| &w.id).collect::<Vec<_>>());
        assert_ne!(a.workbooks[0].id, c.workbooks[0].id);
    }

    #[test]
    fn ids_are_unique_and_indexed() {
        let d = generate(Size::Small, 1, "analytics");
        let total = 1
            + d.users.len()
            + d.groups.len()
            + d.projects.len()
            + d.workbooks.len()
            + d.views.len()
            + d.datasources.len()
            + d.schedules.len()
            + d.tasks.len();
        assert_eq!(d.by_id.len(), total);
        assert_eq!(d.lookup(&d.views[3].id), Some(Entity::View(3)));
    }

    #[test]
    fn names_unique_where_tableau_requires() {
        let d = generate(Size::Medium, 9, "analytics");
        let mut seen = HashSet::new();
        for w in &d.workbooks {
            assert!(seen.insert((w.project, w.name.clone())), "duplicate workbook {} in project", w.name);
        }
        let urls: HashSet<_> = d.workbooks.iter().map(|w| &w.content_url).collect();
        assert_eq!(urls.len(), d.workbooks.len());
        let users: HashSet<_> = d.users.iter().map(|u| &u.name).collect();
        assert_eq!(users.len(), d.users.len());
    }

    #[test]
    fn small_site_plants_every_kind_of_fact() {
        let d = generate(Size::Small, 42, "analytics");
        let now = day_start(0);
        let failing = (0..d.tasks.len() as u32).filter(|&t| d.consecutive_failures(t, now) > 0).count();
        assert!(failing >= 2, "expected failing extracts, got {failing}");
        assert!(d.tasks.iter().any(|t| matches!(t.health, Health::TransientFailure { .. })));
        assert!(d.tasks.iter().any(|t| d.schedules[t.schedule as usize].suspended_at.is_some()));
        assert!(d.workbooks.iter().any(|w| w.name == HOSTILE_WORKBOOK));
        assert!(d.views.iter().any(|v| v.name == HOSTILE_VIEW));
        assert!(d.projects.iter().any(|p| p.name == HOSTILE_PROJECT));
        assert!(d.projects.iter().any(|p| p.locked) && d.projects.iter().any(|p| !p.locked));
        assert!(d.projects.iter().any(|p| p.parent.is_some()));
    }

    #[test]
    fn usage_grows_and_idle_views_stay_at_zero() {
        let u = Usage { start_day: -10, end_day: i64::MAX, per_day_milli: 1500 };
        assert_eq!(u.total_at(-10), 0);
        assert_eq!(u.total_at(0), 15);
        assert!(u.total_at(30) > u.total_at(0));
        let stopped = Usage { start_day: -100, end_day: -50, per_day_milli: 2000 };
        assert_eq!(stopped.total_at(0), stopped.total_at(-50));
        assert_eq!(stopped.total_at(0), 100);
    }
}
