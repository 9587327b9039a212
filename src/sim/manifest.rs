//! Ground truth about a simulated site on a given day: entity counts and the
//! planted facts that TRM's detectors must find (and the decoys they must not).
//!
//! Computed from the dataset model directly, never from rendered responses,
//! so tests that compare what a client fetched against it check the whole
//! serving path.

use serde::Serialize;

use super::dataset::{day_start, Dataset, Health, SheetType, Target};

pub use super::dataset::USAGE_WINDOW_DAYS;

#[derive(Debug, Serialize)]
pub struct Manifest {
    pub size: String,
    pub seed: u64,
    pub day: i64,
    pub now: String,
    pub usage_window_days: i64,
    pub site: SiteFacts,
    pub counts: Counts,
    pub planted: Planted,
}

#[derive(Debug, Serialize)]
pub struct SiteFacts {
    pub id: String,
    pub name: String,
    pub content_url: String,
}

#[derive(Debug, Serialize)]
pub struct Counts {
    pub sites: usize,
    pub projects: usize,
    pub workbooks: usize,
    pub views: usize,
    pub dashboards: usize,
    pub sheets: usize,
    pub stories: usize,
    pub datasources: usize,
    pub embedded_datasources: usize,
    pub users: usize,
    pub groups: usize,
    pub group_memberships: usize,
    pub schedules: usize,
    pub extract_refresh_tasks: usize,
    pub jobs: usize,
    pub failed_jobs: usize,
    pub workbook_tags: usize,
    pub total_view_count: u64,
    pub permissions: PermissionCounts,
}

#[derive(Debug, Default, Serialize)]
pub struct RuleCount {
    /// `<granteeCapabilities>` elements.
    pub rules: usize,
    /// `<capability>` elements across those rules.
    pub capabilities: usize,
}

#[derive(Debug, Serialize)]
pub struct PermissionCounts {
    pub projects: RuleCount,
    pub workbooks: RuleCount,
    pub views: RuleCount,
    pub datasources: RuleCount,
    pub project_default_workbooks: RuleCount,
    pub project_default_datasources: RuleCount,
}

#[derive(Debug, Serialize)]
pub struct Planted {
    /// Dashboards older than the window with no views within it.
    pub unused_dashboards: Vec<UnusedDashboard>,
    /// Dashboards with no views that are younger than the window: not unused.
    pub young_dashboards_without_views: Vec<UnusedDashboard>,
    pub failing_extracts: Vec<FailingExtract>,
    /// Tasks with one failure followed by success: not broken.
    pub transient_failures: Vec<String>,
    pub hostile_names: Vec<HostileName>,
}

#[derive(Debug, Serialize)]
pub struct UnusedDashboard {
    pub id: String,
    pub name: String,
    pub workbook_id: String,
    pub total_view_count: u64,
}

#[derive(Debug, Serialize)]
pub struct FailingExtract {
    pub task_id: String,
    pub target_type: &'static str,
    pub target_id: String,
    /// `last_refresh_failed`, `consecutive_failures` or `stale`.
    pub reason: &'static str,
    pub consecutive_failed_count: u32,
    pub last_success_at: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct HostileName {
    pub kind: &'static str,
    pub id: String,
    pub name: String,
}

pub fn iso(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

fn count_rules<'a>(rules: impl IntoIterator<Item = &'a super::dataset::Rule>, into: &mut RuleCount) {
    for r in rules {
        into.rules += 1;
        into.capabilities += r.capabilities.len();
    }
}

impl Manifest {
    pub fn build(d: &Dataset, day: i64) -> Manifest {
        let now = day_start(day);
        let window = USAGE_WINDOW_DAYS;
        let count_kind = |k: SheetType| d.views.iter().filter(|v| v.sheet_type == k).count();

        let mut perms = PermissionCounts {
            projects: RuleCount::default(),
            workbooks: RuleCount::default(),
            views: RuleCount::default(),
            datasources: RuleCount::default(),
            project_default_workbooks: RuleCount::default(),
            project_default_datasources: RuleCount::default(),
        };
        for p in &d.projects {
            count_rules(&p.rules, &mut perms.projects);
            count_rules(&p.default_workbook_rules, &mut perms.project_default_workbooks);
            count_rules(&p.default_datasource_rules, &mut perms.project_default_datasources);
        }
        for i in 0..d.workbooks.len() as u32 {
            count_rules(d.workbook_rules(i), &mut perms.workbooks);
        }
        for i in 0..d.views.len() as u32 {
            count_rules(&d.view_rules(i), &mut perms.views);
        }
        for i in 0..d.datasources.len() as u32 {
            count_rules(d.datasource_rules(i), &mut perms.datasources);
        }

        let jobs = d.jobs_at(now);
        let counts = Counts {
            sites: 1,
            projects: d.projects.len(),
            workbooks: d.workbooks.len(),
            views: d.views.len(),
            dashboards: count_kind(SheetType::Dashboard),
            sheets: count_kind(SheetType::Worksheet),
            stories: count_kind(SheetType::Story),
            datasources: d.datasources.len(),
            embedded_datasources: d.embedded_datasources.len(),
            users: d.users.len(),
            groups: d.groups.len(),
            group_memberships: d.groups.iter().map(|g| g.members.len()).sum(),
            schedules: d.schedules.len(),
            extract_refresh_tasks: d.tasks.len(),
            jobs: jobs.len(),
            failed_jobs: jobs.iter().filter(|j| j.failed).count(),
            workbook_tags: d.workbooks.iter().map(|w| w.tags.len()).sum(),
            total_view_count: d.views.iter().map(|v| v.usage.total_at(day)).sum(),
            permissions: perms,
        };

        let mut unused = Vec::new();
        let mut young = Vec::new();
        for v in d.views.iter().filter(|v| v.sheet_type == SheetType::Dashboard) {
            let total = v.usage.total_at(day);
            if total != v.usage.total_at(day - window) {
                continue;
            }
            let entry = UnusedDashboard {
                id: v.id.clone(),
                name: v.name.clone(),
                workbook_id: d.workbooks[v.workbook as usize].id.clone(),
                total_view_count: total,
            };
            if v.created_at <= day_start(day - window) {
                unused.push(entry);
            } else {
                young.push(entry);
            }
        }

        let mut failing = Vec::new();
        let mut transient = Vec::new();
        for (i, t) in d.tasks.iter().enumerate() {
            let i = i as u32;
            let s = &d.schedules[t.schedule as usize];
            let failures = d.consecutive_failures(i, now);
            let last_success = d.last_success_at(i, now);
            let stale = last_success.is_none_or(|ok| now - ok > 2 * s.period_secs());
            let reason = match failures {
                0 if stale => "stale",
                0 => {
                    if matches!(t.health, Health::TransientFailure { .. }) {
                        transient.push(t.id.clone());
                    }
                    continue;
                }
                1 => "last_refresh_failed",
                _ => "consecutive_failures",
            };
            let (target_type, target_id) = match t.target {
                Target::Workbook(w) => ("workbook", d.workbooks[w as usize].id.clone()),
                Target::Datasource(x) => ("datasource", d.datasources[x as usize].id.clone()),
            };
            failing.push(FailingExtract {
                task_id: t.id.clone(),
                target_type,
                target_id,
                reason,
                consecutive_failed_count: failures,
                last_success_at: last_success.map(iso),
            });
        }

        use super::dataset::names::{HOSTILE_PROJECT, HOSTILE_VIEW, HOSTILE_WORKBOOK};
        let hostile_names = d
            .projects
            .iter()
            .filter(|p| p.name == HOSTILE_PROJECT)
            .map(|p| HostileName { kind: "project", id: p.id.clone(), name: p.name.clone() })
            .chain(
                d.workbooks
                    .iter()
                    .filter(|w| w.name == HOSTILE_WORKBOOK)
                    .map(|w| HostileName { kind: "workbook", id: w.id.clone(), name: w.name.clone() }),
            )
            .chain(
                d.views
                    .iter()
                    .filter(|v| v.name == HOSTILE_VIEW)
                    .map(|v| HostileName { kind: "view", id: v.id.clone(), name: v.name.clone() }),
            )
            .collect();

        Manifest {
            size: d.size.to_string(),
            seed: d.seed,
            day,
            now: iso(now),
            usage_window_days: window,
            site: SiteFacts {
                id: d.site.id.clone(),
                name: d.site.name.clone(),
                content_url: d.site.content_url.clone(),
            },
            counts,
            planted: Planted {
                unused_dashboards: unused,
                young_dashboards_without_views: young,
                failing_extracts: failing,
                transient_failures: transient,
                hostile_names,
            },
        }
    }
}
