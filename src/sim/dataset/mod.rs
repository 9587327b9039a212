//! The simulated site's content: one in-memory model, generated from a seed,
//! that both the REST API and (later) the Metadata API serve.
//!
//! Entities refer to each other by index (`u32`) into the vectors of
//! [`Dataset`]; Tableau ids (LUIDs) are strings looked up through
//! [`Dataset::lookup`]. Time is simulated: day 0 is [`EPOCH`], and facts that
//! change with time (view counts, refresh jobs) are functions of the day, so
//! moving the clock never needs to regenerate anything.

pub mod docs;
mod generate;
pub mod lineage;
pub mod names;
pub mod plant_access;
pub mod rng;

use std::collections::HashMap;
use std::ops::Range;

pub use generate::{generate, generate_scaled, USAGE_WINDOW_DAYS};

/// Unix seconds of simulated day 0 (2026-01-01T12:00:00Z).
pub const EPOCH: i64 = 1_767_268_800;
pub const DAY: i64 = 86_400;
/// How far back the jobs list reaches, like a server's background-job history.
pub const JOB_HISTORY_DAYS: i64 = 14;

/// Unix seconds at noon of simulated day `day`.
pub fn day_start(day: i64) -> i64 {
    EPOCH + day * DAY
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Size {
    Small,
    Medium,
    Large,
}

impl std::str::FromStr for Size {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "small" => Ok(Size::Small),
            "medium" => Ok(Size::Medium),
            "large" => Ok(Size::Large),
            other => Err(format!("unknown site size '{other}' (expected small, medium or large)")),
        }
    }
}

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Size::Small => "small",
            Size::Medium => "medium",
            Size::Large => "large",
        })
    }
}

pub struct Dataset {
    pub size: Size,
    pub seed: u64,
    pub site: Site,
    pub users: Vec<User>,
    pub groups: Vec<Group>,
    pub projects: Vec<Project>,
    pub workbooks: Vec<Workbook>,
    pub views: Vec<View>,
    pub datasources: Vec<Datasource>,
    pub embedded_datasources: Vec<EmbeddedDatasource>,
    pub schedules: Vec<Schedule>,
    pub tasks: Vec<ExtractTask>,
    /// Databases, tables, columns, fields, sheets and dashboards.
    pub lineage: lineage::Lineage,
    pub(crate) by_id: HashMap<String, Entity>,
    /// Every tag label ever used on the site, in order of first use: the
    /// Metadata API's `Tag` nodes are indexes into it.
    pub tag_labels: Vec<String>,
    /// Refreshes started through the REST API (`…/refresh`, `runNow`).
    pub adhoc_jobs: Vec<AdhocJob>,
    /// Bumped by every write, so cached reads know to recompute.
    pub version: u64,
    /// The refresh task of each workbook or datasource that has one.
    pub task_of: HashMap<Target, u32>,
    /// Bumped when tasks or schedules change: the scheduled jobs list
    /// depends on them.
    pub task_version: u64,
    /// The effective-permission situations planted at generation, with
    /// what each evaluated to then.
    pub access_cases: Vec<plant_access::AccessCase>,
    /// Connections and published documents (see [`docs`]).
    pub docs: docs::Docs,
}

/// A refresh started through the REST API. Its outcome follows the task's
/// planted health (failing tasks keep failing); its times are simulated.
#[derive(Clone, Debug)]
pub struct AdhocJob {
    pub id: String,
    pub target: Target,
    /// The refresh task it ran, if the content has one.
    pub task: Option<u32>,
    pub incremental: bool,
    /// `RefreshExtract` for refreshes, `RunFlow` never: this site has no flows.
    pub created_at: i64,
    pub started_at: i64,
    pub ended_at: i64,
    pub failed: bool,
    pub created_day: i64,
    pub created_wall: std::time::Instant,
    /// Finished and counted in the task's history.
    pub done: bool,
    pub cancelled: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobPhase {
    Queued,
    InProgress(u8),
    Finished,
    Cancelled,
}

/// What a LUID names, for lookups from URL path segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Entity {
    Site,
    User(u32),
    Group(u32),
    Project(u32),
    Workbook(u32),
    View(u32),
    Datasource(u32),
    Schedule(u32),
    Task(u32),
}

pub struct Site {
    pub id: String,
    pub name: String,
    pub content_url: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SiteRole {
    SiteAdministratorCreator,
    SiteAdministratorExplorer,
    Creator,
    ExplorerCanPublish,
    Explorer,
    Viewer,
    Unlicensed,
}

impl SiteRole {
    pub const ALL: [SiteRole; 7] = [
        SiteRole::SiteAdministratorCreator,
        SiteRole::SiteAdministratorExplorer,
        SiteRole::Creator,
        SiteRole::ExplorerCanPublish,
        SiteRole::Explorer,
        SiteRole::Viewer,
        SiteRole::Unlicensed,
    ];

    /// Tableau's name for a role; older names are accepted as Tableau does.
    pub fn parse(name: &str) -> Option<SiteRole> {
        Self::ALL.into_iter().find(|r| r.as_str() == name).or(match name {
            "SiteAdministrator" => Some(SiteRole::SiteAdministratorExplorer),
            "Publisher" => Some(SiteRole::ExplorerCanPublish),
            "Interactor" => Some(SiteRole::Explorer),
            "ReadOnly" => Some(SiteRole::Viewer),
            _ => None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SiteRole::SiteAdministratorCreator => "SiteAdministratorCreator",
            SiteRole::SiteAdministratorExplorer => "SiteAdministratorExplorer",
            SiteRole::Creator => "Creator",
            SiteRole::ExplorerCanPublish => "ExplorerCanPublish",
            SiteRole::Explorer => "Explorer",
            SiteRole::Viewer => "Viewer",
            SiteRole::Unlicensed => "Unlicensed",
        }
    }

    pub fn can_publish(self) -> bool {
        matches!(
            self,
            SiteRole::SiteAdministratorCreator
                | SiteRole::SiteAdministratorExplorer
                | SiteRole::Creator
                | SiteRole::ExplorerCanPublish
        )
    }
}

pub struct User {
    pub id: String,
    /// The sign-in name; on this site, an email address.
    pub name: String,
    pub full_name: String,
    pub email: String,
    pub site_role: SiteRole,
    pub created_at: i64,
    pub last_login: Option<i64>,
    /// Indexes into `Dataset::groups`, ascending.
    pub groups: Vec<u32>,
    /// `ServerDefault`, `SAML`, `OpenID`, …
    pub auth_setting: String,
    /// Removed through the REST API; kept so indexes stay stable.
    pub deleted: bool,
}

pub struct Group {
    pub id: String,
    pub name: String,
    /// Indexes into `Dataset::users`, ascending.
    pub members: Vec<u32>,
    /// The site role a member gets on sign-in (grant license on sign-in).
    pub minimum_site_role: Option<SiteRole>,
    pub deleted: bool,
}

pub struct Project {
    pub id: String,
    pub name: String,
    pub description: String,
    pub parent: Option<u32>,
    pub owner: u32,
    /// `LockedToProject`: content permissions are the project's defaults.
    pub locked: bool,
    /// With `locked`: `LockedToProjectWithoutNested`, the lock stops at
    /// this project.
    pub lock_without_nested: bool,
    pub deleted: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub rules: Vec<Rule>,
    pub default_workbook_rules: Vec<Rule>,
    pub default_datasource_rules: Vec<Rule>,
    /// Default rules for the other content types (`flows`, `metrics`, …),
    /// empty until set through the API.
    pub other_default_rules: std::collections::BTreeMap<String, Vec<Rule>>,
}

pub struct Workbook {
    pub id: String,
    pub name: String,
    pub description: String,
    pub content_url: String,
    pub project: u32,
    pub owner: u32,
    pub show_tabs: bool,
    pub size_mb: u32,
    pub created_at: i64,
    pub updated_at: i64,
    pub tags: Vec<String>,
    pub has_extracts: bool,
    pub views: Range<u32>,
    pub embedded_datasources: Range<u32>,
    /// Explicit rules; ignored when the project is locked.
    pub rules: Vec<Rule>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SheetType {
    Worksheet,
    Dashboard,
    Story,
}

impl SheetType {
    pub fn as_str(self) -> &'static str {
        match self {
            SheetType::Worksheet => "worksheet",
            SheetType::Dashboard => "dashboard",
            SheetType::Story => "story",
        }
    }
}

pub struct View {
    pub id: String,
    pub name: String,
    pub url_name: String,
    pub workbook: u32,
    pub sheet_type: SheetType,
    pub created_at: i64,
    pub updated_at: i64,
    pub tags: Vec<String>,
    pub usage: Usage,
    /// View-level rules added on top of the workbook's (unlocked projects only).
    pub extra_rules: Vec<Rule>,
}

/// Views accrue at a steady rate between two days. Counts are floor(rate ×
/// days), so they only ever grow and two snapshots give exact deltas.
#[derive(Clone, Copy, Debug)]
pub struct Usage {
    pub start_day: i64,
    /// First day with no new views; `i64::MAX` while still in use.
    pub end_day: i64,
    pub per_day_milli: u64,
}

impl Usage {
    pub fn total_at(&self, day: i64) -> u64 {
        let active = day.min(self.end_day) - self.start_day;
        if active <= 0 {
            0
        } else {
            active as u64 * self.per_day_milli / 1000
        }
    }
}

pub struct Datasource {
    pub id: String,
    pub name: String,
    pub description: String,
    pub content_url: String,
    pub project: u32,
    pub owner: u32,
    /// Tableau's connection type name (`postgres`, `snowflake`, …).
    pub db_type: &'static str,
    pub has_extracts: bool,
    pub encrypt_extracts: bool,
    pub certified: bool,
    pub size_bytes: u64,
    pub created_at: i64,
    pub updated_at: i64,
    pub tags: Vec<String>,
    pub rules: Vec<Rule>,
}

pub struct EmbeddedDatasource {
    pub id: String,
    pub name: String,
    pub workbook: u32,
    /// The published datasource it connects through, if any.
    pub published: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frequency {
    Hourly,
    Daily,
    Weekly,
    Monthly,
}

impl Frequency {
    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::Hourly => "Hourly",
            Frequency::Daily => "Daily",
            Frequency::Weekly => "Weekly",
            Frequency::Monthly => "Monthly",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScheduleType {
    Extract,
    Subscription,
}

#[derive(Clone)]
pub struct Schedule {
    pub id: String,
    pub name: String,
    pub kind: ScheduleType,
    pub frequency: Frequency,
    /// Time between runs; monthly schedules are simulated as every 30 days.
    pub interval_hours: i64,
    /// Hour of day (UTC) of the first run.
    pub start_hour: i64,
    /// Minute past `start_hour` (Tableau Cloud schedules start on any
    /// five-minute boundary).
    pub start_minute: i64,
    /// Weekdays it runs on, for schedules that name them (`Monday`, …).
    pub weekdays: Vec<String>,
    /// Only tasks on Tableau Cloud have a schedule of their own; those are
    /// not in the server's schedule list.
    pub inline: bool,
    pub priority: u32,
    pub created_at: i64,
    pub updated_at: i64,
    /// A suspended schedule stopped running at this time.
    pub suspended_at: Option<i64>,
}

impl Schedule {
    pub fn period_secs(&self) -> i64 {
        self.interval_hours * 3600
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    Workbook(u32),
    Datasource(u32),
}

/// How a task's refreshes turn out; run numbers count from the task's anchor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    Healthy,
    /// Exactly one failed run, then successes: not broken.
    TransientFailure { run: i64 },
    /// Every run from this one on fails.
    FailingSince { run: i64 },
}

pub struct ExtractTask {
    pub id: String,
    pub schedule: u32,
    pub target: Target,
    pub priority: u32,
    /// Time of run 0.
    pub anchor: i64,
    pub health: Health,
    /// Deleted through the REST API: no longer listed, run or found.
    pub deleted: bool,
}

/// One run of a refresh task, as the jobs list shows it.
#[derive(Clone, Debug)]
pub struct Job {
    pub id: String,
    pub task: u32,
    pub run: i64,
    pub created_at: i64,
    pub started_at: i64,
    pub ended_at: i64,
    pub failed: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Grantee {
    User(u32),
    Group(u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Allow,
    Deny,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Allow => "Allow",
            Mode::Deny => "Deny",
        }
    }
}

/// One grantee's capabilities on one item: a `<granteeCapabilities>` element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub grantee: Grantee,
    pub capabilities: Vec<(&'static str, Mode)>,
}

/// Capabilities that apply to views; workbook rules are narrowed to these.
pub const VIEW_CAPABILITIES: &[&str] = &[
    "AddComment",
    "ChangePermissions",
    "Delete",
    "ExportData",
    "ExportImage",
    "Filter",
    "Read",
    "ShareView",
    "ViewComments",
    "ViewUnderlyingData",
    "WebAuthoring",
];

impl Project {
    /// The `contentPermissions` value Tableau reports.
    pub fn content_permissions(&self) -> &'static str {
        match (self.locked, self.lock_without_nested) {
            (false, _) => "ManagedByOwner",
            (true, false) => "LockedToProject",
            (true, true) => "LockedToProjectWithoutNested",
        }
    }
}

impl Dataset {
    pub fn lookup(&self, id: &str) -> Option<Entity> {
        self.by_id.get(id).copied()
    }

    pub fn project_of_workbook(&self, wb: u32) -> &Project {
        &self.projects[self.workbooks[wb as usize].project as usize]
    }

    /// The rules a workbook's permissions endpoint returns.
    pub fn workbook_rules(&self, wb: u32) -> &[Rule] {
        let w = &self.workbooks[wb as usize];
        let p = &self.projects[w.project as usize];
        if p.locked {
            &p.default_workbook_rules
        } else {
            &w.rules
        }
    }

    pub fn datasource_rules(&self, ds: u32) -> &[Rule] {
        let d = &self.datasources[ds as usize];
        let p = &self.projects[d.project as usize];
        if p.locked {
            &p.default_datasource_rules
        } else {
            &d.rules
        }
    }

    /// A view's rules: its workbook's, narrowed to view capabilities, plus
    /// any view-level additions.
    pub fn view_rules(&self, view: u32) -> Vec<Rule> {
        let v = &self.views[view as usize];
        let mut rules: Vec<Rule> = self
            .workbook_rules(v.workbook)
            .iter()
            .filter_map(|r| {
                let caps: Vec<_> = r
                    .capabilities
                    .iter()
                    .copied()
                    .filter(|(c, _)| VIEW_CAPABILITIES.contains(c))
                    .collect();
                (!caps.is_empty()).then(|| Rule { grantee: r.grantee, capabilities: caps })
            })
            .collect();
        if !self.project_of_workbook(v.workbook).locked && !self.workbooks[v.workbook as usize].show_tabs {
            rules.extend(v.extra_rules.iter().cloned());
        }
        rules
    }

    /// Index of the last run at or before `t`, if the task has run by then.
    pub fn last_run_at(&self, task: u32, t: i64) -> Option<i64> {
        let k = &self.tasks[task as usize];
        let s = &self.schedules[k.schedule as usize];
        let t = s.suspended_at.map_or(t, |stop| t.min(stop));
        if t < k.anchor {
            return None;
        }
        Some((t - k.anchor) / s.period_secs())
    }

    pub fn run_time(&self, task: u32, run: i64) -> i64 {
        let k = &self.tasks[task as usize];
        k.anchor + run * self.schedules[k.schedule as usize].period_secs()
    }

    pub fn run_failed(&self, task: u32, run: i64) -> bool {
        match self.tasks[task as usize].health {
            Health::Healthy => false,
            Health::TransientFailure { run: r } => run == r,
            Health::FailingSince { run: r } => run >= r,
        }
    }

    /// Finished ad-hoc runs of a task started by `t`, newest first, as
    /// (end time, failed).
    fn adhoc_runs(&self, task: u32, t: i64) -> Vec<(i64, bool)> {
        let mut runs: Vec<(i64, bool)> = self
            .adhoc_jobs
            .iter()
            .filter(|j| j.done && j.task == Some(task) && j.created_at <= t)
            .map(|j| (j.ended_at, j.failed))
            .collect();
        runs.sort_by(|a, b| b.cmp(a));
        runs
    }

    /// Every run of a task at or before `t`, scheduled and ad hoc, newest
    /// first, as failed flags.
    fn runs_newest_first(&self, task: u32, t: i64) -> impl Iterator<Item = (i64, bool)> + '_ {
        let adhoc = self.adhoc_runs(task, t);
        let mut scheduled = self.last_run_at(task, t).unwrap_or(-1);
        let mut adhoc = adhoc.into_iter().peekable();
        std::iter::from_fn(move || {
            let sched = (scheduled >= 0).then(|| self.run_time(task, scheduled));
            match (sched, adhoc.peek().copied()) {
                (Some(s), Some((a, failed))) if a >= s => {
                    adhoc.next();
                    Some((a, failed))
                }
                (Some(s), _) => {
                    let failed = self.run_failed(task, scheduled);
                    scheduled -= 1;
                    Some((s, failed))
                }
                (None, Some(run)) => {
                    adhoc.next();
                    Some(run)
                }
                (None, None) => None,
            }
        })
    }

    /// Failed runs in a row ending with the last run at or before `t`.
    pub fn consecutive_failures(&self, task: u32, t: i64) -> u32 {
        self.runs_newest_first(task, t).take_while(|(_, failed)| *failed).count() as u32
    }

    /// Time of the last successful refresh at or before `t`.
    pub fn last_success_at(&self, task: u32, t: i64) -> Option<i64> {
        self.runs_newest_first(task, t).find(|(_, failed)| !failed).map(|(at, _)| at)
    }

    /// The last successful ad-hoc refresh of content, task or not.
    pub fn adhoc_success_of(&self, target: Target) -> Option<i64> {
        self.adhoc_jobs.iter().filter(|j| j.done && !j.failed && j.target == target).map(|j| j.ended_at).max()
    }

    pub fn live_users(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.users.len() as u32).filter(|&u| !self.users[u as usize].deleted)
    }

    pub fn live_groups(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.groups.len() as u32).filter(|&g| !self.groups[g as usize].deleted)
    }

    pub fn live_projects(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.projects.len() as u32).filter(|&p| !self.projects[p as usize].deleted)
    }

    pub fn by_id_len(&self) -> usize {
        self.by_id.len()
    }

    /// Projects, workbooks and datasources a user owns.
    pub fn owned_by(&self, user: u32) -> usize {
        self.live_projects().filter(|&p| self.projects[p as usize].owner == user).count()
            + self.workbooks.iter().filter(|w| w.owner == user).count()
            + self.datasources.iter().filter(|x| x.owner == user).count()
    }

    pub fn transfer_ownership(&mut self, from: u32, to: u32) {
        for p in self.projects.iter_mut().filter(|p| p.owner == from) {
            p.owner = to;
        }
        for w in self.workbooks.iter_mut().filter(|w| w.owner == from) {
            w.owner = to;
        }
        for x in self.datasources.iter_mut().filter(|x| x.owner == from) {
            x.owner = to;
        }
    }

    /// Removes every rule of a grantee that is leaving the site.
    pub fn drop_grantee(&mut self, grantee: Grantee) {
        let strip = |rules: &mut Vec<Rule>| rules.retain(|r| r.grantee != grantee);
        for p in self.projects.iter_mut() {
            strip(&mut p.rules);
            strip(&mut p.default_workbook_rules);
            strip(&mut p.default_datasource_rules);
            for rules in p.other_default_rules.values_mut() {
                strip(rules);
            }
        }
        for w in self.workbooks.iter_mut() {
            strip(&mut w.rules);
        }
        for v in self.views.iter_mut() {
            strip(&mut v.extra_rules);
        }
        for x in self.datasources.iter_mut() {
            strip(&mut x.rules);
        }
    }

    /// Registers an id so REST paths find it.
    pub fn index_id(&mut self, id: &str, entity: Entity) {
        self.by_id.insert(id.to_string(), entity);
    }

    pub fn unindex_id(&mut self, id: &str) {
        self.by_id.remove(id);
    }

    /// The index of a tag label in [`Dataset::tag_labels`], adding it.
    pub fn tag_index(&mut self, label: &str) -> u32 {
        match self.tag_labels.iter().position(|t| t == label) {
            Some(i) => i as u32,
            None => {
                self.tag_labels.push(label.to_string());
                self.tag_labels.len() as u32 - 1
            }
        }
    }

    /// Every refresh job in the server's history window before `now`,
    /// oldest first.
    pub fn jobs_at(&self, now: i64) -> Vec<Job> {
        let since = now - JOB_HISTORY_DAYS * DAY;
        let mut jobs = Vec::new();
        for (i, task) in self.tasks.iter().enumerate().filter(|(_, t)| !t.deleted) {
            let i = i as u32;
            let Some(last) = self.last_run_at(i, now) else { continue };
            let period = self.schedules[task.schedule as usize].period_secs();
            let first = if since <= task.anchor { 0 } else { (since - task.anchor) / period + 1 };
            for run in first.max(0)..=last {
                let created_at = self.run_time(i, run);
                let key = rng::mix(rng::mix(self.seed ^ i as u64) ^ run as u64);
                let queued = 5 + (key % 120) as i64;
                let took = 20 + ((key >> 16) % 900) as i64;
                jobs.push(Job {
                    id: job_id(key),
                    task: i,
                    run,
                    created_at,
                    started_at: created_at + queued,
                    ended_at: created_at + queued + took,
                    failed: self.run_failed(i, run),
                });
            }
        }
        jobs.sort_by(|a, b| (a.created_at, a.task).cmp(&(b.created_at, b.task)));
        jobs
    }
}

fn job_id(key: u64) -> String {
    rng::Rng::new(key).uuid()
}
