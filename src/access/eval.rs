//! The evaluation of one capability on one item for one subject (a user,
//! or an access class: a site role and a set of groups), in Tableau's
//! documented order; the first step that decides wins:
//!
//! 1. Unlicensed: denied (`unlicensed`).
//! 2. Site administrators: allowed (`site_admin`).
//! 3. A capability beyond the site role's maximum ([`super::caps`]):
//!    denied (`site_role_cap`); nothing below grants it back.
//! 4. The owner of the item's project or of any project above it (for a
//!    project: itself or an ancestor): allowed (`project_owner`).
//! 5. A leader of the item's project or of any project above it: allowed
//!    (`project_leader`). Leading project P means P's own project rules
//!    (never its default rules, whatever the locks) allow `ProjectLeader`
//!    to the user or to one of their groups; a denied `ProjectLeader`
//!    means nothing. Leadership cascades to every nested project.
//! 6. The item's owner (a view's is its workbook's): allowed
//!    (`content_owner`), except `ChangePermissions` on locked content:
//!    denied (`locked_set_permissions`), final.
//! 7. The user's own rules on the item: a Deny (`user_deny`), else an
//!    Allow (`user_allow`).
//! 8. The rules of the user's groups (All Users included): any Deny
//!    (`group_deny`), else any Allow (`group_allow`).
//! 9. Otherwise denied (`no_rule`).
//!
//! Which rules an item is evaluated against: a project's lock *reaches*
//! project Q when it is Q's own lock (either kind), or a `LockedToProject`
//! lock of an ancestor of Q. Content (workbook, view, datasource, flow) of
//! project P is governed by the nearest project, from P up, whose lock
//! reaches P (its *controlling project*): its default rules for the
//! content's type apply (views: the workbook defaults) and the item's own
//! rules count for nothing. A project is governed by its nearest strict
//! ancestor locked `LockedToProject` (that ancestor's project rules), else
//! by its own rules. Ungoverned views have the rules the server reports for
//! the view (their workbook's plus any of their own) when the extraction
//! read them, their workbook's otherwise (always when the workbook shows
//! its sheets as tabs: Tableau then gives its views its rules). Content is *locked* (step 6)
//! when it has a controlling project.

use super::caps::{self, Cap, Kind};
use super::model::{Grantee, Lock, Mode, Role, Rule, Site};

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

/// An answer and what decided it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Decision {
    pub reason: Reason,
    /// The group whose rule decided (steps 5 and 8).
    pub via_group: Option<u32>,
    /// The project whose owner or leader decided (steps 4 and 5).
    pub via_project: Option<u32>,
}

impl Decision {
    fn of(reason: Reason) -> Decision {
        Decision {
            reason,
            via_group: None,
            via_project: None,
        }
    }

    pub fn allowed(&self) -> bool {
        self.reason.allows()
    }
}

/// Who is asking: a user, or an access class (no user: the steps about one
/// user — ownership, user rules — are skipped).
#[derive(Clone, Copy, Debug)]
pub struct Subject<'a> {
    pub role: Role,
    /// Ascending group indexes.
    pub groups: &'a [u32],
    pub user: Option<u32>,
}

impl Subject<'_> {
    fn in_group(&self, g: u32) -> bool {
        self.groups.binary_search(&g).is_ok()
    }
}

/// The project and every project above it, nearest first.
pub fn chain(site: &Site, project: u32) -> impl Iterator<Item = u32> + '_ {
    std::iter::successors(Some(project), move |&p| site.projects[p as usize].parent)
}

/// The nearest project whose lock reaches content of `project`.
pub fn controlling(site: &Site, project: u32) -> Option<u32> {
    chain(site, project).find(|&q| match site.projects[q as usize].lock {
        Lock::None => false,
        Lock::WithNested => true,
        Lock::WithoutNested => q == project,
    })
}

/// The nearest strict ancestor locked with its nested projects.
pub fn controlling_of_project(site: &Site, project: u32) -> Option<u32> {
    chain(site, project)
        .skip(1)
        .find(|&q| site.projects[q as usize].lock == Lock::WithNested)
}

/// What evaluation needs to know about one item, worked out once.
pub struct ItemCtx<'a> {
    pub kind: Kind,
    /// The item's project and those above it, nearest first.
    pub chain: Vec<u32>,
    /// The rules the item is evaluated against (one or two lists).
    pub lists: [&'a [Rule]; 2],
    /// The controlling project (content), or the governing ancestor (a
    /// project): the item is locked.
    pub controller: Option<u32>,
    pub owner: Option<u32>,
}

impl<'a> ItemCtx<'a> {
    pub fn new(site: &'a Site, item: u32) -> ItemCtx<'a> {
        let it = &site.items[item as usize];
        let chain: Vec<u32> = it
            .project
            .map(|p| chain(site, p).collect())
            .unwrap_or_default();
        let empty: &[Rule] = &[];
        let (lists, controller) = match (it.kind, it.project) {
            (Kind::Project, Some(p)) => match controlling_of_project(site, p) {
                Some(q) => ([&site.project_item(q).rules[..], empty], Some(q)),
                None => ([&it.rules[..], empty], None),
            },
            (kind, project) => match project.and_then(|p| controlling(site, p)) {
                Some(q) => {
                    let k = if kind == Kind::View {
                        Kind::Workbook
                    } else {
                        kind
                    };
                    (
                        [&site.projects[q as usize].defaults[k as usize][..], empty],
                        Some(q),
                    )
                }
                None if kind == Kind::View && !it.read => {
                    let w = it.workbook.expect("a view has a workbook");
                    ([&site.items[w as usize].rules[..], empty], None)
                }
                None => ([&it.rules[..], empty], None),
            },
        };
        let owner = if it.kind == Kind::Project {
            None
        } else {
            it.owner
        };
        ItemCtx {
            kind: it.kind,
            chain,
            lists,
            controller,
            owner,
        }
    }

    fn rules(&self) -> impl Iterator<Item = &Rule> + '_ {
        self.lists.iter().flat_map(|l| l.iter())
    }
}

/// The lowest group of `subject` among `rules`' grantees with `cap` in `mode`.
fn group_with(
    subject: &Subject,
    rules: impl Iterator<Item = Rule>,
    cap: Cap,
    mode: Mode,
) -> Option<u32> {
    rules
        .filter(|r| r.cap == cap && r.mode == mode)
        .filter_map(|r| match r.grantee {
            Grantee::Group(g) if subject.in_group(g) => Some(g),
            _ => None,
        })
        .min()
}

/// Evaluates `cap` (one of the item type's [`Kind::caps`]) on the item.
pub fn evaluate(site: &Site, subject: &Subject, item: &ItemCtx, cap: Cap) -> Decision {
    if subject.role == Role::Unlicensed {
        return Decision::of(Reason::Unlicensed);
    }
    if subject.role.is_admin() {
        return Decision::of(Reason::SiteAdmin);
    }
    if !caps::within_role(subject.role, cap) {
        return Decision::of(Reason::SiteRoleCap);
    }
    if let Some(u) = subject.user {
        if let Some(&p) = item
            .chain
            .iter()
            .find(|&&p| site.projects[p as usize].owner == Some(u))
        {
            return Decision {
                reason: Reason::ProjectOwner,
                via_group: None,
                via_project: Some(p),
            };
        }
    }
    for &p in &item.chain {
        let rules = &site.project_item(p).rules;
        let leaders = rules
            .iter()
            .filter(|r| r.cap == caps::PROJECT_LEADER && r.mode == Mode::Allow);
        if subject
            .user
            .is_some_and(|u| leaders.clone().any(|r| r.grantee == Grantee::User(u)))
        {
            return Decision {
                reason: Reason::ProjectLeader,
                via_group: None,
                via_project: Some(p),
            };
        }
        if let Some(g) = group_with(subject, leaders.copied(), caps::PROJECT_LEADER, Mode::Allow) {
            return Decision {
                reason: Reason::ProjectLeader,
                via_group: Some(g),
                via_project: Some(p),
            };
        }
    }
    if let Some(u) = subject.user {
        if item.owner == Some(u) {
            return Decision::of(
                if item.controller.is_some() && cap == caps::CHANGE_PERMISSIONS {
                    Reason::LockedSetPermissions
                } else {
                    Reason::ContentOwner
                },
            );
        }
        let (mut allow, mut deny) = (false, false);
        for r in item
            .rules()
            .filter(|r| r.cap == cap && r.grantee == Grantee::User(u))
        {
            match r.mode {
                Mode::Allow => allow = true,
                Mode::Deny => deny = true,
            }
        }
        if deny {
            return Decision::of(Reason::UserDeny);
        }
        if allow {
            return Decision::of(Reason::UserAllow);
        }
    }
    if let Some(g) = group_with(subject, item.rules().copied(), cap, Mode::Deny) {
        return Decision {
            reason: Reason::GroupDeny,
            via_group: Some(g),
            via_project: None,
        };
    }
    if let Some(g) = group_with(subject, item.rules().copied(), cap, Mode::Allow) {
        return Decision {
            reason: Reason::GroupAllow,
            via_group: Some(g),
            via_project: None,
        };
    }
    Decision::of(Reason::NoRule)
}
