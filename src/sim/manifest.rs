//! Ground truth about a simulated site on a given day: entity counts and the
//! planted facts that TRM's detectors must find (and the decoys they must not).
//!
//! Computed from the dataset model directly, never from rendered responses,
//! so tests that compare what a client fetched against it check the whole
//! serving path.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use super::dataset::lineage::{formula_references, FieldKind, Owner};
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
    pub access: AccessFacts,
}

/// Effective permissions (see [`super::access`]): the planted situations and
/// a fixed sample, each with its decision on the site as it is now.
#[derive(Debug, Serialize)]
pub struct AccessFacts {
    pub planted: Vec<AccessDecision>,
    pub sample: Vec<AccessDecision>,
}

#[derive(Debug, Serialize)]
pub struct AccessDecision {
    /// The planted situation's name; absent in the sample.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case: Option<&'static str>,
    pub user_luid: String,
    /// `project`, `workbook`, `view` or `datasource`.
    pub content_type: &'static str,
    pub content_luid: String,
    pub capability: &'static str,
    pub allowed: bool,
    pub reason: &'static str,
}

/// How many sampled decisions the manifest lists.
pub const ACCESS_SAMPLE: usize = 200;

fn access_facts(d: &Dataset) -> AccessFacts {
    use super::access::{effective, sample, Content};
    let decision = |case, user: u32, content: Content, capability, dec: super::access::Decision| AccessDecision {
        case,
        user_luid: d.users[user as usize].id.clone(),
        content_type: content.kind().as_str(),
        content_luid: content.id(d).to_string(),
        capability,
        allowed: dec.allowed,
        reason: dec.reason.as_str(),
    };
    let planted = d
        .access_cases
        .iter()
        .filter_map(|c| {
            let content = Content::of(c.content)?;
            (!d.users[c.user as usize].deleted && content.live(d))
                .then(|| decision(Some(c.case), c.user, content, c.capability, effective(d, c.user, content, c.capability)))
        })
        .collect();
    let sample = sample(d, ACCESS_SAMPLE, d.seed ^ 0xacce55)
        .into_iter()
        .map(|(user, content, capability, dec)| decision(None, user, content, capability, dec))
        .collect();
    AccessFacts { planted, sample }
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
    /// Pages needed to list every group's members at 1,000 per page: the
    /// fewest requests memberships can take.
    pub group_member_pages: usize,
    pub schedules: usize,
    pub extract_refresh_tasks: usize,
    pub jobs: usize,
    pub failed_jobs: usize,
    pub workbook_tags: usize,
    pub total_view_count: u64,
    pub permissions: PermissionCounts,
    /// Metadata API entities.
    pub databases: usize,
    pub database_tables: usize,
    pub custom_sql_tables: usize,
    pub columns: usize,
    pub fields: usize,
    pub fields_by_kind: BTreeMap<&'static str, usize>,
    pub metadata_sheets: usize,
    pub metadata_dashboards: usize,
    pub data_quality_warnings: usize,
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
    /// Workbooks in unlocked projects: their own rules. (`workbooks` also
    /// counts content in locked projects, which reports its project's
    /// default rules.) Unlocked: no lock reaches the project, neither its
    /// own nor a `LockedToProject` ancestor's.
    pub unlocked_workbooks: RuleCount,
    pub unlocked_datasources: RuleCount,
    /// Views of workbooks in unlocked projects: the rules their endpoint
    /// reports (their workbook's view capabilities and their own).
    pub unlocked_views: RuleCount,
    /// Permission requests that read every explicit rule once: four per
    /// project (its rules, its default workbook, datasource and flow
    /// rules) and one per workbook, view and datasource in an unlocked
    /// project.
    pub requests: usize,
}

#[derive(Debug, Serialize)]
pub struct Planted {
    /// Dashboards older than the window with no views within it.
    pub unused_dashboards: Vec<UnusedDashboard>,
    /// Dashboards with no views that are younger than the window: not unused.
    pub young_dashboards_without_views: Vec<UnusedDashboard>,
    /// Extract refresh tasks that are broken, with every reason that applies.
    pub broken_extracts: Vec<BrokenExtract>,
    /// Tasks with one failure followed by success: not broken.
    pub transient_failures: Vec<String>,
    pub missing_fields: Vec<MissingField>,
    /// Published datasources no workbook connects to.
    pub orphan_datasources: Vec<Named>,
    /// Published datasources older than the window that no workbook
    /// connects to (`no_downstream_workbook`), or whose every workbook is
    /// older than the window and went unviewed through it (`no_views`).
    pub unused_datasources: Vec<UnusedDatasource>,
    pub data_quality_warnings: Vec<Warning>,
    pub decoys: Decoys,
    pub hostile_names: Vec<HostileName>,
}

#[derive(Debug, Serialize)]
pub struct UnusedDatasource {
    pub id: String,
    pub name: String,
    pub reason: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Named {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Serialize)]
pub struct MissingField {
    /// Metadata API id of the field.
    pub field_id: String,
    pub field_name: String,
    /// `published` or `embedded`.
    pub datasource_type: &'static str,
    /// Metadata API id of the datasource.
    pub datasource_id: String,
    /// `column_without_upstream` or `calculation_references_missing_field`.
    pub kind: &'static str,
    pub missing_references: Vec<String>,
    /// Metadata API ids of the sheets that use the field, directly or
    /// through an embedded datasource field standing for it.
    pub sheets: Vec<String>,
    /// Metadata API ids of the dashboards holding those sheets.
    pub dashboards: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Warning {
    pub id: String,
    pub datasource_id: String,
    pub value: &'static str,
    pub is_active: bool,
    pub is_elevated: bool,
}

/// Things a detector must not flag.
#[derive(Debug, Serialize)]
pub struct Decoys {
    /// Calculations whose only unknown names are `[Parameters].[…]`.
    pub parameter_calculations: Vec<String>,
    /// Calculations naming a field whose name has brackets (`]]` escapes).
    pub escaped_bracket_calculations: Vec<String>,
    /// Fields renamed away from their column's caption, still connected.
    pub renamed_fields: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct UnusedDashboard {
    pub id: String,
    pub name: String,
    pub workbook_id: String,
    pub total_view_count: u64,
}

#[derive(Debug, Serialize)]
pub struct BrokenExtract {
    pub task_id: String,
    pub target_type: &'static str,
    pub target_id: String,
    /// Any of `last_refresh_failed`, `consecutive_failures`, `stale`,
    /// `active_quality_warning` (on the refreshed published datasource) and
    /// `upstream_table_gone`.
    pub reasons: Vec<&'static str>,
    pub consecutive_failed_count: u32,
    pub last_success_at: Option<String>,
    /// Metadata API ids of upstream tables no longer in the catalog.
    pub gone_tables: Vec<String>,
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
            unlocked_workbooks: RuleCount::default(),
            unlocked_datasources: RuleCount::default(),
            unlocked_views: RuleCount::default(),
            requests: 4 * d.live_projects().count(),
        };
        for p in d.projects.iter().filter(|p| !p.deleted) {
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
        // Whether some lock reaches a project's content: its own, or a
        // LockedToProject (with nested) ancestor's.
        let reached = |project: u32| {
            std::iter::successors(Some(project), |&p| d.projects[p as usize].parent).any(|q| {
                let p = &d.projects[q as usize];
                p.locked && (q == project || !p.lock_without_nested)
            })
        };
        for w in d.workbooks.iter().filter(|w| !reached(w.project)) {
            count_rules(&w.rules, &mut perms.unlocked_workbooks);
            perms.requests += 1;
        }
        for x in d.datasources.iter().filter(|x| !reached(x.project)) {
            count_rules(&x.rules, &mut perms.unlocked_datasources);
            perms.requests += 1;
        }
        // A view has rules of its own only while its workbook hides its tabs.
        for v in (0..d.views.len() as u32).filter(|&v| {
            let w = &d.workbooks[d.views[v as usize].workbook as usize];
            !w.show_tabs && !reached(w.project)
        }) {
            count_rules(&d.view_rules(v), &mut perms.unlocked_views);
            perms.requests += 1;
        }

        let jobs = d.jobs_at(now);
        let live_groups = || d.groups.iter().filter(|g| !g.deleted);
        let counts = Counts {
            sites: 1,
            projects: d.live_projects().count(),
            workbooks: d.workbooks.len(),
            views: d.views.len(),
            dashboards: count_kind(SheetType::Dashboard),
            sheets: count_kind(SheetType::Worksheet),
            stories: count_kind(SheetType::Story),
            datasources: d.datasources.len(),
            embedded_datasources: d.embedded_datasources.len(),
            users: d.live_users().count(),
            groups: d.live_groups().count(),
            group_memberships: live_groups().map(|g| g.members.len()).sum(),
            group_member_pages: live_groups().map(|g| g.members.len().div_ceil(1000).max(1)).sum(),
            schedules: d.schedules.iter().filter(|s| !s.inline).count(),
            extract_refresh_tasks: d.tasks.iter().filter(|t| !t.deleted).count(),
            jobs: jobs.len() + d.adhoc_jobs.len(),
            failed_jobs: jobs.iter().filter(|j| j.failed).count()
                + d.adhoc_jobs.iter().filter(|j| j.done && j.failed && !j.cancelled).count(),
            workbook_tags: d.workbooks.iter().map(|w| w.tags.len()).sum(),
            total_view_count: d.views.iter().map(|v| v.usage.total_at(day)).sum(),
            permissions: perms,
            databases: d.lineage.databases.len(),
            database_tables: d.lineage.tables.iter().filter(|t| t.query.is_none()).count(),
            custom_sql_tables: d.lineage.tables.iter().filter(|t| t.query.is_some()).count(),
            columns: (0..d.lineage.tables.len() as u32).map(|t| d.lineage.live_columns(t).count()).sum(),
            fields: d.lineage.fields.len(),
            fields_by_kind: {
                let mut m = BTreeMap::new();
                for f in &d.lineage.fields {
                    *m.entry(f.kind.type_name()).or_insert(0) += 1;
                }
                m
            },
            metadata_sheets: d.lineage.sheets.len(),
            metadata_dashboards: d.lineage.dashboards.len(),
            data_quality_warnings: d.lineage.warnings.len(),
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

        let l = &d.lineage;
        let mut broken = Vec::new();
        let mut transient = Vec::new();
        for (i, t) in d.tasks.iter().enumerate().filter(|(_, t)| !t.deleted) {
            let i = i as u32;
            let s = &d.schedules[t.schedule as usize];
            let failures = d.consecutive_failures(i, now);
            let last_success = d.last_success_at(i, now);
            let stale = last_success.is_none_or(|ok| now - ok > 2 * s.period_secs());
            // A custom SQL query over a dropped table fails the refresh too.
            let upstream: Vec<u32> = l.sql_expanded(&match t.target {
                Target::Datasource(x) => l.published[x as usize].tables.clone(),
                Target::Workbook(w) => d.workbooks[w as usize]
                    .embedded_datasources
                    .clone()
                    .flat_map(|e| l.embedded[e as usize].tables.clone())
                    .collect(),
            });
            let gone: Vec<String> = upstream
                .iter()
                .filter(|&&tb| l.tables[tb as usize].gone)
                .map(|&tb| l.tables[tb as usize].id.clone())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let mut reasons = Vec::new();
            match failures {
                0 if stale => reasons.push("stale"),
                0 => {}
                1 => reasons.push("last_refresh_failed"),
                _ => reasons.push("consecutive_failures"),
            }
            let warned = match t.target {
                Target::Datasource(x) => l.warnings.iter().any(|w| w.active && w.datasource == x),
                Target::Workbook(_) => false,
            };
            if warned {
                reasons.push("active_quality_warning");
            }
            if !gone.is_empty() {
                reasons.push("upstream_table_gone");
            }
            if reasons.is_empty() {
                if matches!(t.health, Health::TransientFailure { .. }) {
                    transient.push(t.id.clone());
                }
                continue;
            }
            let (target_type, target_id) = match t.target {
                Target::Workbook(w) => ("workbook", d.workbooks[w as usize].id.clone()),
                Target::Datasource(x) => ("datasource", d.datasources[x as usize].id.clone()),
            };
            broken.push(BrokenExtract {
                task_id: t.id.clone(),
                target_type,
                target_id,
                reasons,
                consecutive_failed_count: failures,
                last_success_at: last_success.map(iso),
                gone_tables: gone,
            });
        }

        let missing_fields = missing_fields(d);
        let referenced: HashSet<u32> = d.embedded_datasources.iter().filter_map(|e| e.published).collect();
        let orphan_datasources = (0..d.datasources.len() as u32)
            .filter(|i| !referenced.contains(i))
            .map(|i| Named { id: d.datasources[i as usize].id.clone(), name: d.datasources[i as usize].name.clone() })
            .collect();
        let cutoff = day_start(day - window);
        let idle_workbook = |w: u32| {
            let wb = &d.workbooks[w as usize];
            wb.created_at <= cutoff
                && d.views
                    .iter()
                    .filter(|v| v.workbook == w)
                    .all(|v| v.usage.total_at(day) == v.usage.total_at(day - window))
        };
        let mut unused_datasources = Vec::new();
        for (i, x) in d.datasources.iter().enumerate() {
            if x.created_at > cutoff {
                continue;
            }
            let workbooks: std::collections::BTreeSet<u32> = d
                .embedded_datasources
                .iter()
                .filter(|e| e.published == Some(i as u32))
                .map(|e| e.workbook)
                .collect();
            let reason = if workbooks.is_empty() {
                "no_downstream_workbook"
            } else if workbooks.iter().all(|&w| idle_workbook(w)) {
                "no_views"
            } else {
                continue;
            };
            unused_datasources.push(UnusedDatasource { id: x.id.clone(), name: x.name.clone(), reason });
        }
        let warnings = l
            .warnings
            .iter()
            .map(|w| Warning {
                id: w.id.clone(),
                datasource_id: d.datasources[w.datasource as usize].id.clone(),
                value: w.value,
                is_active: w.active,
                is_elevated: w.elevated,
            })
            .collect();
        let flagged: HashSet<&str> = missing_fields.iter().map(|m| m.field_id.as_str()).collect();
        let calc_with = |needle: &str| -> Vec<String> {
            l.fields
                .iter()
                .filter(|f| f.kind == FieldKind::Calculated && !flagged.contains(f.id.as_str()))
                .filter(|f| f.formula.as_deref().is_some_and(|x| x.contains(needle)))
                .map(|f| f.id.clone())
                .collect()
        };
        let decoys = Decoys {
            parameter_calculations: calc_with("[Parameters]."),
            escaped_bracket_calculations: calc_with("]]"),
            renamed_fields: l.fields.iter().filter(|f| f.renamed && !flagged.contains(f.id.as_str())).map(|f| f.id.clone()).collect(),
        };

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
            access: access_facts(d),
            planted: Planted {
                unused_dashboards: unused,
                young_dashboards_without_views: young,
                broken_extracts: broken,
                transient_failures: transient,
                missing_fields,
                orphan_datasources,
                unused_datasources,
                data_quality_warnings: warnings,
                decoys,
                hostile_names,
            },
        }
    }
}

/// Column fields cut off from their column while their datasource still has
/// upstream tables, and calculations naming fields their datasource lacks;
/// with the sheets and dashboards that use them.
fn missing_fields(d: &Dataset) -> Vec<MissingField> {
    let l = &d.lineage;
    let mut found: Vec<(u32, &'static str, Vec<String>)> = Vec::new();
    let mut names_of: HashMap<Owner, HashSet<&str>> = HashMap::new();
    for (i, f) in l.fields.iter().enumerate() {
        let src = l.source(f.owner);
        match f.kind {
            FieldKind::Column if l.live_column(f).is_none() && !src.tables.is_empty() => {
                found.push((i as u32, "column_without_upstream", Vec::new()));
            }
            FieldKind::Calculated => {
                let names = names_of
                    .entry(f.owner)
                    .or_insert_with(|| src.fields.clone().map(|g| l.fields[g as usize].name.as_str()).collect());
                let missing: Vec<String> = formula_references(f.formula.as_deref().unwrap_or_default())
                    .into_iter()
                    .filter(|r| !names.contains(r.as_str()))
                    .collect();
                if !missing.is_empty() {
                    found.push((i as u32, "calculation_references_missing_field", missing));
                }
            }
            _ => {}
        }
    }
    // Sheets see a published field through the DatasourceFields standing for it.
    let wanted: HashSet<u32> = found.iter().map(|(f, _, _)| *f).collect();
    let mut stand_ins: HashMap<u32, Vec<u32>> = HashMap::new();
    for (i, f) in l.fields.iter().enumerate() {
        if let Some(r) = f.remote.filter(|r| wanted.contains(r)) {
            stand_ins.entry(r).or_default().push(i as u32);
        }
    }
    let mut sheets_using: HashMap<u32, Vec<u32>> = HashMap::new();
    for (s, sheet) in l.sheets.iter().enumerate() {
        for &f in &sheet.fields {
            sheets_using.entry(f).or_default().push(s as u32);
        }
    }
    found
        .into_iter()
        .map(|(fi, kind, missing_references)| {
            let f = &l.fields[fi as usize];
            let mut sheets: Vec<u32> = std::iter::once(fi)
                .chain(stand_ins.get(&fi).into_iter().flatten().copied())
                .flat_map(|g| sheets_using.get(&g).into_iter().flatten().copied())
                .collect();
            sheets.sort_unstable();
            sheets.dedup();
            let mut dashboards: Vec<u32> = sheets.iter().flat_map(|&s| l.sheets[s as usize].dashboards.clone()).collect();
            dashboards.sort_unstable();
            dashboards.dedup();
            let (datasource_type, datasource_id) = match f.owner {
                Owner::Published(p) => ("published", l.published_ids[p as usize].clone()),
                Owner::Embedded(e) => ("embedded", d.embedded_datasources[e as usize].id.clone()),
            };
            MissingField {
                field_id: f.id.clone(),
                field_name: f.name.clone(),
                datasource_type,
                datasource_id,
                kind,
                missing_references,
                sheets: sheets.iter().map(|&s| l.sheets[s as usize].id.clone()).collect(),
                dashboards: dashboards.iter().map(|&x| l.dashboards[x as usize].id.clone()).collect(),
            }
        })
        .collect()
}
