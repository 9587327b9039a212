//! Ground truth for effective permissions: whether a user may use one
//! capability on one project, workbook, view or published datasource, and
//! why. Written from Tableau's documented evaluation order over the
//! simulated site's dataset; TRM's own evaluator is written separately from
//! this text and tests compare the two (allowed and reason).
//!
//! # Capabilities
//!
//! Tableau's REST names, per content type ([`capabilities`]):
//! - project: `Read`, `Write` (View, Publish). `ProjectLeader` is an input
//!   (see step 5), never asked for itself.
//! - workbook: `Read`, `Filter`, `ViewComments`, `AddComment`,
//!   `ExportImage`, `ExportData`, `ShareView`, `ViewUnderlyingData`,
//!   `WebAuthoring`, `RunExplainData`, `ExportXml`, `Write`,
//!   `CreateRefreshMetrics`, `ChangeHierarchy`, `Delete`,
//!   `ChangePermissions`.
//! - view: `Read`, `Filter`, `ViewComments`, `AddComment`, `ExportImage`,
//!   `ExportData`, `ShareView`, `ViewUnderlyingData`, `WebAuthoring`,
//!   `Delete`, `ChangePermissions`.
//! - datasource: `Read`, `Connect`, `ExportXml`, `Write`, `SaveAs`,
//!   `ChangeHierarchy`, `Delete`, `ChangePermissions`.
//!
//! # Site-role maximum
//!
//! - `Viewer`: `Read`, `Filter`, `ViewComments`, `AddComment`,
//!   `ExportImage`, `ExportData` (any content type; on a datasource or a
//!   project that leaves only `Read`).
//! - `Explorer`: everything except `Write`, `Delete`, `ChangePermissions`,
//!   `ChangeHierarchy` and `SaveAs` (on any content type; so a project
//!   leaves only `Read`).
//! - `ExplorerCanPublish`, `Creator`: every capability above.
//! - `SiteAdministratorCreator`, `SiteAdministratorExplorer`: every
//!   capability above (step 2).
//! - `Unlicensed`: nothing (step 1).
//!
//! # Evaluation order (first step that decides wins)
//!
//! 1. The user is `Unlicensed` (or deleted): denied, `unlicensed`.
//! 2. The user is a site administrator (either `SiteAdministrator*` role):
//!    allowed, `site_admin`.
//! 3. The capability is outside the site role's maximum: denied,
//!    `site_role_cap`. Nothing below can grant it, ownership included.
//! 4. The user owns the item's project or any project above it (for a
//!    project item: the project itself or any ancestor): allowed,
//!    `project_owner`.
//! 5. The user leads the item's project or any project above it (for a
//!    project item: itself or any ancestor): allowed, `project_leader`.
//!    Leading project P means P's own `rules` (its project rules, never its
//!    default rules, and regardless of any lock) hold `ProjectLeader` with
//!    mode `Allow` for the user, or for a live group the user is a member
//!    of. A `Deny` of `ProjectLeader` has no effect (Tableau offers no
//!    denied project leader). Leadership cascades down to every nested
//!    project whatever their locks.
//! 6. The user owns the item (a workbook's or datasource's `owner`; a
//!    view's owner is its workbook's owner; projects were handled in 4):
//!    allowed, `content_owner` — except `ChangePermissions` when the item is
//!    locked (see *Rules*: a controlling project exists): denied,
//!    `locked_set_permissions`, final (no rule can grant it back).
//! 7. User rules on the item (see *Rules*) for this capability: any `Deny`
//!    → denied, `user_deny`; else any `Allow` → allowed, `user_allow`. User
//!    rules are consulted before group rules, so a user `Allow` beats a
//!    group `Deny`, and a user `Deny` beats a group `Allow`.
//! 8. Rules of live groups the user is a member of (the `All Users` group
//!    included): any `Deny` → denied, `group_deny`; else any `Allow` →
//!    allowed, `group_allow`.
//! 9. Otherwise denied, `no_rule`.
//!
//! # Rules: which rule list an item is evaluated against
//!
//! A project's lock *reaches* a project Q when the project is locked
//! (`LockedToProject` or `LockedToProjectWithoutNested`) and is Q itself,
//! or is locked `LockedToProject` (with nested) and is an ancestor of Q.
//! `LockedToProjectWithoutNested` reaches only the project's own content.
//! - Workbook / datasource in project P: the *controlling project* is the
//!   nearest project, walking up from P itself, whose lock reaches P. If
//!   there is one, the rules are that project's `default_workbook_rules` /
//!   `default_datasource_rules` (the item's own rules are ignored); if not,
//!   the item's own `rules`.
//! - View of workbook W: if W has a controlling project, that project's
//!   `default_workbook_rules` (view-level rules ignored); if not, and W
//!   shows its sheets as tabs, W's own `rules` (Tableau makes views of a
//!   tabbed workbook take its rules); otherwise W's own `rules` followed by
//!   the view's `extra_rules` (both lists count: a grantee's `Deny` in
//!   either beats its `Allow` in either).
//! - Project P: the nearest *strict* ancestor of P locked `LockedToProject`
//!   (with nested) controls it: that ancestor's project `rules`; else P's
//!   own `rules`. (P's own lock governs its content, not P itself.)
//! The item "is locked" (step 6) exactly when it has a controlling project.
//!
//! # What a REST client sees
//!
//! Every fact above is served: site roles (users list), memberships
//! (group members), the project tree (`parentProjectId`), owners,
//! `contentPermissions`, project rules (`ProjectLeader` included), project
//! default rules for workbooks and datasources, and item rules. But the
//! permissions endpoints apply only the *direct* project's lock:
//! - a workbook or datasource whose own project is locked reports that
//!   project's defaults (the same list as above);
//! - one whose own project is customizable reports its own rules, even
//!   when an ancestor locked `LockedToProject` controls it (then the
//!   evaluation uses the ancestor's defaults, not what was reported);
//! - a view in a customizable project reports its workbook's rules narrowed
//!   to view capabilities, plus its own when the workbook hides its tabs
//!   (for view capabilities, the same as the workbook's rules followed by
//!   the view's);
//! - a project always reports its own rules, even when a locked ancestor
//!   controls it.
//! So an evaluator reading REST data needs the project tree, each project's
//! `contentPermissions` and its default rules.
//!
//! # Reasons
//!
//! [`Reason::as_str`] gives the stable names: `unlicensed`, `site_admin`,
//! `site_role_cap`, `project_owner`, `project_leader`, `content_owner`,
//! `locked_set_permissions`, `user_deny`, `user_allow`, `group_deny`,
//! `group_allow`, `no_rule`.
//!
//! A capability not in [`capabilities`] for the item's type is denied with
//! `no_rule` before step 1, for every user (the site's `/sim/effective`
//! endpoint rejects it with 400 instead).

use super::dataset::rng::Rng;
use super::dataset::{Dataset, Entity, Grantee, Mode, Rule, SiteRole};

/// An item permissions apply to; indexes into the dataset's vectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Content {
    Project(u32),
    Workbook(u32),
    View(u32),
    Datasource(u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Project,
    Workbook,
    View,
    Datasource,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Project, Kind::Workbook, Kind::View, Kind::Datasource];

    /// `project`, `workbook`, `view`, `datasource`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Project => "project",
            Kind::Workbook => "workbook",
            Kind::View => "view",
            Kind::Datasource => "datasource",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl Content {
    pub fn kind(self) -> Kind {
        match self {
            Content::Project(_) => Kind::Project,
            Content::Workbook(_) => Kind::Workbook,
            Content::View(_) => Kind::View,
            Content::Datasource(_) => Kind::Datasource,
        }
    }

    /// The item's LUID.
    pub fn id(self, d: &Dataset) -> &str {
        match self {
            Content::Project(i) => &d.projects[i as usize].id,
            Content::Workbook(i) => &d.workbooks[i as usize].id,
            Content::View(i) => &d.views[i as usize].id,
            Content::Datasource(i) => &d.datasources[i as usize].id,
        }
    }
}

const PROJECT: &[&str] = &["Read", "Write"];
const WORKBOOK: &[&str] = &[
    "Read",
    "Filter",
    "ViewComments",
    "AddComment",
    "ExportImage",
    "ExportData",
    "ShareView",
    "ViewUnderlyingData",
    "WebAuthoring",
    "RunExplainData",
    "ExportXml",
    "Write",
    "CreateRefreshMetrics",
    "ChangeHierarchy",
    "Delete",
    "ChangePermissions",
];
const VIEW: &[&str] = &[
    "Read",
    "Filter",
    "ViewComments",
    "AddComment",
    "ExportImage",
    "ExportData",
    "ShareView",
    "ViewUnderlyingData",
    "WebAuthoring",
    "Delete",
    "ChangePermissions",
];
const DATASOURCE: &[&str] = &[
    "Read",
    "Connect",
    "ExportXml",
    "Write",
    "SaveAs",
    "ChangeHierarchy",
    "Delete",
    "ChangePermissions",
];

/// The most a Viewer may have, on any content type.
const VIEWER_MAX: &[&str] = &[
    "Read",
    "Filter",
    "ViewComments",
    "AddComment",
    "ExportImage",
    "ExportData",
];
/// What an Explorer may never have, on any content type.
const EXPLORER_NEVER: &[&str] = &[
    "Write",
    "Delete",
    "ChangePermissions",
    "ChangeHierarchy",
    "SaveAs",
];

/// The capabilities evaluated for a content type, in Tableau's dialog order.
pub fn capabilities(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Project => PROJECT,
        Kind::Workbook => WORKBOOK,
        Kind::View => VIEW,
        Kind::Datasource => DATASOURCE,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    Unlicensed,
    SiteAdmin,
    SiteRoleCap,
    ProjectOwner,
    ProjectLeader,
    ContentOwner,
    LockedSetPermissions,
    UserDeny,
    UserAllow,
    GroupDeny,
    GroupAllow,
    NoRule,
}

impl Reason {
    pub const ALL: [Reason; 12] = [
        Reason::Unlicensed,
        Reason::SiteAdmin,
        Reason::SiteRoleCap,
        Reason::ProjectOwner,
        Reason::ProjectLeader,
        Reason::ContentOwner,
        Reason::LockedSetPermissions,
        Reason::UserDeny,
        Reason::UserAllow,
        Reason::GroupDeny,
        Reason::GroupAllow,
        Reason::NoRule,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Unlicensed => "unlicensed",
            Reason::SiteAdmin => "site_admin",
            Reason::SiteRoleCap => "site_role_cap",
            Reason::ProjectOwner => "project_owner",
            Reason::ProjectLeader => "project_leader",
            Reason::ContentOwner => "content_owner",
            Reason::LockedSetPermissions => "locked_set_permissions",
            Reason::UserDeny => "user_deny",
            Reason::UserAllow => "user_allow",
            Reason::GroupDeny => "group_deny",
            Reason::GroupAllow => "group_allow",
            Reason::NoRule => "no_rule",
        }
    }

    /// Whether a decision for this reason allows.
    pub fn allows(self) -> bool {
        matches!(
            self,
            Reason::SiteAdmin
                | Reason::ProjectOwner
                | Reason::ProjectLeader
                | Reason::ContentOwner
                | Reason::UserAllow
                | Reason::GroupAllow
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub reason: Reason,
}

impl From<Reason> for Decision {
    fn from(reason: Reason) -> Decision {
        Decision {
            allowed: reason.allows(),
            reason,
        }
    }
}

fn is_admin(role: SiteRole) -> bool {
    matches!(
        role,
        SiteRole::SiteAdministratorCreator | SiteRole::SiteAdministratorExplorer
    )
}

/// Whether the site role's maximum includes the capability (admins and
/// unlicensed users are decided before this is asked).
fn within_site_role(role: SiteRole, capability: &str) -> bool {
    match role {
        SiteRole::Viewer => VIEWER_MAX.contains(&capability),
        SiteRole::Explorer => !EXPLORER_NEVER.contains(&capability),
        SiteRole::Unlicensed => false,
        _ => true,
    }
}

/// The project an item lives in (a project's is itself).
fn home_project(d: &Dataset, content: Content) -> u32 {
    match content {
        Content::Project(p) => p,
        Content::Workbook(w) => d.workbooks[w as usize].project,
        Content::View(v) => d.workbooks[d.views[v as usize].workbook as usize].project,
        Content::Datasource(x) => d.datasources[x as usize].project,
    }
}

/// The project and every project above it, nearest first.
fn chain(d: &Dataset, project: u32) -> impl Iterator<Item = u32> + '_ {
    std::iter::successors(Some(project), move |&p| d.projects[p as usize].parent)
}

/// The nearest project whose lock reaches content of `project`.
fn controlling(d: &Dataset, project: u32) -> Option<u32> {
    chain(d, project).find(|&q| {
        let p = &d.projects[q as usize];
        p.locked && (q == project || !p.lock_without_nested)
    })
}

/// The nearest strict ancestor locked with its nested projects.
fn controlling_of_project(d: &Dataset, project: u32) -> Option<u32> {
    chain(d, project).skip(1).find(|&q| {
        let p = &d.projects[q as usize];
        p.locked && !p.lock_without_nested
    })
}

fn in_group(d: &Dataset, user: u32, group: u32) -> bool {
    !d.groups[group as usize].deleted && d.users[user as usize].groups.binary_search(&group).is_ok()
}

fn leads(d: &Dataset, user: u32, project: u32) -> bool {
    d.projects[project as usize].rules.iter().any(|r| {
        let mine = match r.grantee {
            Grantee::User(u) => u == user,
            Grantee::Group(g) => in_group(d, user, g),
        };
        mine && r
            .capabilities
            .iter()
            .any(|&(c, m)| c == "ProjectLeader" && m == Mode::Allow)
    })
}

/// The rule lists an item is evaluated against, and whether it is locked.
fn rule_lists(d: &Dataset, content: Content) -> (Vec<&[Rule]>, bool) {
    match content {
        Content::Project(p) => match controlling_of_project(d, p) {
            Some(q) => (vec![&d.projects[q as usize].rules[..]], true),
            None => (vec![&d.projects[p as usize].rules[..]], false),
        },
        Content::Workbook(w) => {
            let wb = &d.workbooks[w as usize];
            match controlling(d, wb.project) {
                Some(q) => (
                    vec![&d.projects[q as usize].default_workbook_rules[..]],
                    true,
                ),
                None => (vec![&wb.rules[..]], false),
            }
        }
        Content::View(v) => {
            let view = &d.views[v as usize];
            let wb = &d.workbooks[view.workbook as usize];
            match controlling(d, wb.project) {
                Some(q) => (
                    vec![&d.projects[q as usize].default_workbook_rules[..]],
                    true,
                ),
                None if wb.show_tabs => (vec![&wb.rules[..]], false),
                None => (vec![&wb.rules[..], &view.extra_rules[..]], false),
            }
        }
        Content::Datasource(x) => {
            let ds = &d.datasources[x as usize];
            match controlling(d, ds.project) {
                Some(q) => (
                    vec![&d.projects[q as usize].default_datasource_rules[..]],
                    true,
                ),
                None => (vec![&ds.rules[..]], false),
            }
        }
    }
}

fn content_owner(d: &Dataset, content: Content) -> Option<u32> {
    match content {
        Content::Project(_) => None,
        Content::Workbook(w) => Some(d.workbooks[w as usize].owner),
        Content::View(v) => Some(d.workbooks[d.views[v as usize].workbook as usize].owner),
        Content::Datasource(x) => Some(d.datasources[x as usize].owner),
    }
}

/// The effective permission of `user` for `capability` on `content`, with
/// the step that decided it (see the module doc).
pub fn effective(d: &Dataset, user: u32, content: Content, capability: &str) -> Decision {
    let u = &d.users[user as usize];
    if !capabilities(content.kind()).contains(&capability) {
        return Reason::NoRule.into();
    }
    if u.deleted || u.site_role == SiteRole::Unlicensed {
        return Reason::Unlicensed.into();
    }
    if is_admin(u.site_role) {
        return Reason::SiteAdmin.into();
    }
    if !within_site_role(u.site_role, capability) {
        return Reason::SiteRoleCap.into();
    }
    let home = home_project(d, content);
    if chain(d, home).any(|p| d.projects[p as usize].owner == user) {
        return Reason::ProjectOwner.into();
    }
    if chain(d, home).any(|p| leads(d, user, p)) {
        return Reason::ProjectLeader.into();
    }
    let (lists, locked) = rule_lists(d, content);
    if content_owner(d, content) == Some(user) {
        return if locked && capability == "ChangePermissions" {
            Reason::LockedSetPermissions.into()
        } else {
            Reason::ContentOwner.into()
        };
    }
    let modes = |mine: &dyn Fn(Grantee) -> bool| {
        let (mut allow, mut deny) = (false, false);
        for r in lists
            .iter()
            .flat_map(|l| l.iter())
            .filter(|r| mine(r.grantee))
        {
            for &(c, m) in &r.capabilities {
                if c == capability {
                    match m {
                        Mode::Allow => allow = true,
                        Mode::Deny => deny = true,
                    }
                }
            }
        }
        (allow, deny)
    };
    match modes(&|g: Grantee| g == Grantee::User(user)) {
        (_, true) => return Reason::UserDeny.into(),
        (true, false) => return Reason::UserAllow.into(),
        _ => {}
    }
    match modes(&|g: Grantee| matches!(g, Grantee::Group(g) if in_group(d, user, g))) {
        (_, true) => Reason::GroupDeny.into(),
        (true, false) => Reason::GroupAllow.into(),
        _ => Reason::NoRule.into(),
    }
}

/// Every capability of the item's type, in [`capabilities`] order.
pub fn effective_all(d: &Dataset, user: u32, content: Content) -> Vec<(&'static str, Decision)> {
    capabilities(content.kind())
        .iter()
        .map(|&c| (c, effective(d, user, content, c)))
        .collect()
}

impl Content {
    /// The content an entity names, if permissions apply to it.
    pub fn of(entity: Entity) -> Option<Content> {
        Some(match entity {
            Entity::Project(i) => Content::Project(i),
            Entity::Workbook(i) => Content::Workbook(i),
            Entity::View(i) => Content::View(i),
            Entity::Datasource(i) => Content::Datasource(i),
            _ => return None,
        })
    }

    /// Whether the item is still on the site (a deleted project's is not).
    pub fn live(self, d: &Dataset) -> bool {
        match self {
            Content::Project(p) => !d.projects[p as usize].deleted,
            _ => true,
        }
    }
}

/// `n` (user, item, capability) triples drawn from `seed` over live users
/// and items, with their decisions: a fixed sample for manifests and tests.
pub fn sample(d: &Dataset, n: usize, seed: u64) -> Vec<(u32, Content, &'static str, Decision)> {
    let users: Vec<u32> = d.live_users().collect();
    let projects: Vec<u32> = d.live_projects().collect();
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(n);
    if users.is_empty() {
        return out;
    }
    while out.len() < n {
        let user = *rng.pick(&users);
        let content = match rng.below(4) {
            0 if !projects.is_empty() => Content::Project(*rng.pick(&projects)),
            1 if !d.workbooks.is_empty() => {
                Content::Workbook(rng.below(d.workbooks.len() as u64) as u32)
            }
            2 if !d.views.is_empty() => Content::View(rng.below(d.views.len() as u64) as u32),
            3 if !d.datasources.is_empty() => {
                Content::Datasource(rng.below(d.datasources.len() as u64) as u32)
            }
            _ => continue,
        };
        let capability = *rng.pick(capabilities(content.kind()));
        out.push((
            user,
            content,
            capability,
            effective(d, user, content, capability),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::dataset::plant_access::CASES;
    use crate::sim::dataset::{generate, Size};

    fn every_item(d: &Dataset) -> Vec<Content> {
        d.live_projects()
            .map(Content::Project)
            .chain((0..d.workbooks.len() as u32).map(Content::Workbook))
            .chain((0..d.views.len() as u32).map(Content::View))
            .chain((0..d.datasources.len() as u32).map(Content::Datasource))
            .collect()
    }

    #[test]
    fn planted_cases_evaluate_as_planted() {
        for (size, seed) in [
            (Size::Small, 42),
            (Size::Small, 7),
            (Size::Small, 1),
            (Size::Medium, 9),
            (Size::Medium, 42),
        ] {
            let d = generate(size, seed, "analytics");
            for c in &d.access_cases {
                let content = Content::of(c.content).expect("planted on content");
                let got = effective(&d, c.user, content, c.capability);
                assert_eq!(
                    (got.allowed, got.reason.as_str()),
                    (c.allowed, c.reason),
                    "{size} seed {seed}: case {} ({:?}, user {}, {})",
                    c.case,
                    c.content,
                    c.user,
                    c.capability
                );
            }
            // Every size and seed tried has room for every case.
            let names: Vec<_> = d.access_cases.iter().map(|c| c.case).collect();
            for want in CASES {
                assert!(
                    names.contains(want),
                    "{size} site, seed {seed}: case {want} not planted (got {names:?})"
                );
            }
        }
    }

    #[test]
    fn every_triple_on_the_small_site_keeps_the_invariants() {
        let d = generate(Size::Small, 42, "analytics");
        let items = every_item(&d);
        let mut seen = std::collections::HashSet::new();
        let mut n = 0;
        for u in d.live_users() {
            let role = d.users[u as usize].site_role;
            for &item in &items {
                for (cap, dec) in effective_all(&d, u, item) {
                    n += 1;
                    seen.insert(dec.reason);
                    assert_eq!(dec.allowed, dec.reason.allows());
                    match role {
                        SiteRole::Unlicensed => assert_eq!(dec.reason, Reason::Unlicensed),
                        r if is_admin(r) => assert_eq!(dec.reason, Reason::SiteAdmin),
                        SiteRole::Viewer if !VIEWER_MAX.contains(&cap) => {
                            assert_eq!(dec.reason, Reason::SiteRoleCap)
                        }
                        SiteRole::Explorer if EXPLORER_NEVER.contains(&cap) => {
                            assert_eq!(dec.reason, Reason::SiteRoleCap)
                        }
                        _ => assert_ne!(dec.reason, Reason::SiteRoleCap),
                    }
                }
            }
        }
        assert!(n > 50_000, "only {n} triples");
        for r in Reason::ALL {
            assert!(seen.contains(&r), "no triple decided by {}", r.as_str());
        }
    }

    #[test]
    fn hundred_thousand_triples_on_the_medium_site_are_quick() {
        let d = generate(Size::Medium, 9, "analytics");
        let start = std::time::Instant::now();
        let decisions = sample(&d, 100_000, 5);
        let took = start.elapsed();
        assert_eq!(decisions.len(), 100_000);
        assert!(
            took < std::time::Duration::from_secs(20),
            "100,000 decisions took {took:?}"
        );
        assert!(decisions.iter().any(|x| x.3.allowed) && decisions.iter().any(|x| !x.3.allowed));
    }

    #[test]
    fn denied_leadership_and_deleted_groups_count_for_nothing() {
        let mut d = generate(Size::Small, 42, "analytics");
        let case = d
            .access_cases
            .iter()
            .find(|c| c.case == "group_project_leader")
            .expect("planted")
            .clone();
        let Content::Workbook(w) = Content::of(case.content).unwrap() else {
            panic!("a workbook")
        };
        let project = d.workbooks[w as usize].project;
        let leading: Vec<(u32, Grantee)> = chain(&d, project)
            .flat_map(|p| {
                d.projects[p as usize]
                    .rules
                    .iter()
                    .map(move |r| (p, r.clone()))
            })
            .filter(|(_, r)| r.capabilities.contains(&("ProjectLeader", Mode::Allow)))
            .map(|(p, r)| (p, r.grantee))
            .collect();
        let Some(&(p, Grantee::Group(g))) =
            leading.iter().find(|(_, g)| matches!(g, Grantee::Group(_)))
        else {
            panic!("a group leads")
        };
        // A user Deny of ProjectLeader beside the group's Allow changes nothing.
        d.projects[p as usize].rules.push(Rule {
            grantee: Grantee::User(case.user),
            capabilities: vec![("ProjectLeader", Mode::Deny)],
        });
        assert_eq!(
            effective(&d, case.user, Content::Workbook(w), case.capability).reason,
            Reason::ProjectLeader
        );
        // Once the group is gone, so is the leadership.
        d.groups[g as usize].deleted = true;
        assert_ne!(
            effective(&d, case.user, Content::Workbook(w), case.capability).reason,
            Reason::ProjectLeader
        );
    }

    #[test]
    fn unknown_capability_is_no_rule_even_for_admins() {
        let d = generate(Size::Small, 42, "analytics");
        assert_eq!(
            effective(&d, 0, Content::Workbook(0), "Connect").reason,
            Reason::NoRule
        );
        assert_eq!(
            effective(&d, 0, Content::Workbook(0), "Read").reason,
            Reason::SiteAdmin
        );
    }
}
