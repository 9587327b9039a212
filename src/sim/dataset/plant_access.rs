//! Plants one instance of each effective-permission situation (see
//! `sim::access` for the evaluation they exercise) and records what each
//! must evaluate to.
//!
//! Every case works on content no other case touches and on a user no other
//! case uses, chosen so that nothing earlier in the evaluation order (site
//! role, ownership, leadership) decides it by accident. Structural changes
//! (locks, then leaders and owners, which keep clear of users already
//! planted) come first, so the later choices see them. The expectations here are written from the situation planted, not computed by
//! the evaluator: the evaluator's tests check it against them.

use std::collections::HashSet;

use super::*;

/// Every case [`plant`] plants when the site has room for it (the small
/// site with the default seed has room for all).
pub const CASES: &[&str] = &[
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

/// One planted situation: `user` asking for `capability` on `content`.
#[derive(Clone, Debug)]
pub struct AccessCase {
    pub case: &'static str,
    pub user: u32,
    /// `Entity::Project`, `Workbook`, `View` or `Datasource`.
    pub content: Entity,
    pub capability: &'static str,
    pub allowed: bool,
    pub reason: &'static str,
}

fn is_admin(role: SiteRole) -> bool {
    matches!(
        role,
        SiteRole::SiteAdministratorCreator | SiteRole::SiteAdministratorExplorer
    )
}

const PUBLISHERS: &[SiteRole] = &[SiteRole::Creator, SiteRole::ExplorerCanPublish];
const LICENSED: &[SiteRole] = &[
    SiteRole::Creator,
    SiteRole::ExplorerCanPublish,
    SiteRole::Explorer,
    SiteRole::Viewer,
];

/// Sets one capability of one grantee in a rule list, merging into the
/// grantee's existing rule (Tableau keeps one per grantee).
fn set_cap(rules: &mut Vec<Rule>, grantee: Grantee, cap: &'static str, mode: Mode) {
    let i = match rules.iter().position(|r| r.grantee == grantee) {
        Some(i) => i,
        None => {
            rules.push(Rule {
                grantee,
                capabilities: Vec::new(),
            });
            rules.len() - 1
        }
    };
    let caps = &mut rules[i].capabilities;
    match caps.iter_mut().find(|(c, _)| *c == cap) {
        Some(slot) => slot.1 = mode,
        None => caps.push((cap, mode)),
    }
}

fn chain(d: &Dataset, project: u32) -> Vec<u32> {
    std::iter::successors(Some(project), |&p| d.projects[p as usize].parent).collect()
}

fn chain_unlocked(d: &Dataset, project: u32) -> bool {
    chain(d, project)
        .iter()
        .all(|&p| !d.projects[p as usize].locked)
}

struct Planter<'a> {
    d: &'a mut Dataset,
    used_users: HashSet<u32>,
    used: HashSet<Entity>,
    /// Where candidate searches start, so seeds vary which items are used.
    offset: usize,
    cases: Vec<AccessCase>,
}

impl Planter<'_> {
    /// Indexes `0..n`, starting at the seeded offset.
    fn order(&self, n: usize) -> impl Iterator<Item = u32> {
        let off = if n == 0 { 0 } else { self.offset % n };
        (0..n).map(move |i| ((i + off) % n) as u32)
    }

    /// Whether ownership or leadership anywhere above `project` would decide
    /// for `user` before any rule.
    fn clean(&self, user: u32, project: u32) -> bool {
        let d = &*self.d;
        let u = &d.users[user as usize];
        !u.deleted
            && chain(d, project).iter().all(|&p| {
                let p = &d.projects[p as usize];
                p.owner != user
                    && !p.rules.iter().any(|r| {
                        let mine = match r.grantee {
                            Grantee::User(x) => x == user,
                            Grantee::Group(g) => u.groups.contains(&g),
                        };
                        mine && r
                            .capabilities
                            .iter()
                            .any(|&(c, m)| c == "ProjectLeader" && m == Mode::Allow)
                    })
            })
    }

    /// A fresh user with one of `roles`, clean for `project`, not `owner`.
    fn user(
        &self,
        roles: &[SiteRole],
        project: u32,
        owner: Option<u32>,
        extra: impl Fn(&User) -> bool,
    ) -> Option<u32> {
        self.order(self.d.users.len()).find(|&u| {
            let x = &self.d.users[u as usize];
            !self.used_users.contains(&u)
                && roles.contains(&x.site_role)
                && Some(u) != owner
                && self.clean(u, project)
                && extra(x)
        })
    }

    /// A fresh workbook in a project with no lock above it.
    fn open_workbook(&self) -> Option<u32> {
        self.order(self.d.workbooks.len()).find(|&w| {
            !self.used.contains(&Entity::Workbook(w))
                && chain_unlocked(self.d, self.d.workbooks[w as usize].project)
        })
    }

    fn record(
        &mut self,
        case: &'static str,
        user: u32,
        content: Entity,
        capability: &'static str,
        reason: &'static str,
    ) {
        let allowed = matches!(
            reason,
            "site_admin"
                | "project_owner"
                | "project_leader"
                | "content_owner"
                | "user_allow"
                | "group_allow"
        );
        self.used_users.insert(user);
        self.used.insert(content);
        self.cases.push(AccessCase {
            case,
            user,
            content,
            capability,
            allowed,
            reason,
        });
    }

    fn workbooks_in(&self, project: u32) -> Vec<u32> {
        (0..self.d.workbooks.len() as u32)
            .filter(|&w| {
                self.d.workbooks[w as usize].project == project
                    && !self.used.contains(&Entity::Workbook(w))
            })
            .collect()
    }

    fn datasources_in(&self, project: u32) -> Vec<u32> {
        (0..self.d.datasources.len() as u32)
            .filter(|&x| {
                self.d.datasources[x as usize].project == project
                    && !self.used.contains(&Entity::Datasource(x))
            })
            .collect()
    }

    /// Whether every project strictly above `p` is unlocked.
    fn nothing_locked_above(&self, p: u32) -> bool {
        chain(self.d, p)[1..]
            .iter()
            .all(|&q| !self.d.projects[q as usize].locked)
    }

    /// `(parent, child, workbook in child)` for a fresh parent whose
    /// ancestors are all unlocked, an unlocked child and a fresh workbook;
    /// `want(parent)` ranks parents (`true` first).
    fn lockable(&self, want: impl Fn(&Self, u32) -> bool) -> Option<(u32, u32, u32)> {
        let d = &*self.d;
        let candidates: Vec<(u32, u32, u32)> = self
            .order(d.projects.len())
            .filter_map(|c| {
                let child = &d.projects[c as usize];
                let p = child.parent?;
                let ok = !child.deleted
                    && !child.locked
                    && !self.used.contains(&Entity::Project(p))
                    && !self.used.contains(&Entity::Project(c))
                    && self.nothing_locked_above(p);
                ok.then(|| self.workbooks_in(c).first().map(|&w| (p, c, w)))
                    .flatten()
            })
            .collect();
        candidates
            .iter()
            .find(|(p, _, _)| want(self, *p))
            .or(candidates.first())
            .copied()
    }

    /// The owner of a workbook or datasource, and its project.
    fn item(&self, e: Entity) -> (u32, u32) {
        match e {
            Entity::Workbook(w) => (
                self.d.workbooks[w as usize].owner,
                self.d.workbooks[w as usize].project,
            ),
            Entity::Datasource(x) => (
                self.d.datasources[x as usize].owner,
                self.d.datasources[x as usize].project,
            ),
            other => unreachable!("not an item: {other:?}"),
        }
    }

    /// Fresh workbooks, then datasources, in nested projects: `(item,
    /// parent of its project)`.
    fn nested_items(&self) -> Vec<(Entity, u32)> {
        let d = &*self.d;
        let wbs = self.order(d.workbooks.len()).map(Entity::Workbook);
        let dss = self.order(d.datasources.len()).map(Entity::Datasource);
        wbs.chain(dss)
            .filter(|e| !self.used.contains(e))
            .filter_map(|e| {
                let (_, project) = self.item(e);
                d.projects[project as usize].parent.map(|a| (e, a))
            })
            .collect()
    }

    fn lock_without_nested(&mut self) {
        let has_own =
            |me: &Self, p: u32| !me.workbooks_in(p).is_empty() || !me.datasources_in(p).is_empty();
        let Some((p, c, wc)) = self.lockable(has_own) else {
            return;
        };
        let own_wb = self.workbooks_in(p).first().copied();
        let own_ds = self.datasources_in(p).first().copied();
        let pr = &mut self.d.projects[p as usize];
        pr.locked = true;
        pr.lock_without_nested = true;
        self.used.insert(Entity::Project(p));
        self.used.insert(Entity::Project(c));

        let owner = Some(self.d.workbooks[wc as usize].owner);
        if let Some(u) = self.user(LICENSED, c, owner, |_| true) {
            set_cap(
                &mut self.d.workbooks[wc as usize].rules,
                Grantee::User(u),
                "ExportImage",
                Mode::Allow,
            );
            set_cap(
                &mut self.d.projects[p as usize].default_workbook_rules,
                Grantee::User(u),
                "ExportImage",
                Mode::Deny,
            );
            self.record(
                "without_nested_lock_stops_at_child",
                u,
                Entity::Workbook(wc),
                "ExportImage",
                "user_allow",
            );
        }
        let own = own_wb
            .map(Entity::Workbook)
            .or(own_ds.map(Entity::Datasource));
        if let Some(e) = own {
            let (owner, _) = self.item(e);
            if let Some(u) = self.user(LICENSED, p, Some(owner), |_| true) {
                let who = Grantee::User(u);
                match e {
                    Entity::Workbook(w) => {
                        set_cap(
                            &mut self.d.workbooks[w as usize].rules,
                            who,
                            "Read",
                            Mode::Allow,
                        );
                        set_cap(
                            &mut self.d.projects[p as usize].default_workbook_rules,
                            who,
                            "Read",
                            Mode::Deny,
                        );
                    }
                    Entity::Datasource(x) => {
                        set_cap(
                            &mut self.d.datasources[x as usize].rules,
                            who,
                            "Read",
                            Mode::Allow,
                        );
                        set_cap(
                            &mut self.d.projects[p as usize].default_datasource_rules,
                            who,
                            "Read",
                            Mode::Deny,
                        );
                    }
                    _ => unreachable!(),
                }
                self.record(
                    "without_nested_lock_applies_to_own_content",
                    u,
                    e,
                    "Read",
                    "user_deny",
                );
            }
        }
    }

    fn lock_with_nested(&mut self) {
        let locked_already = |me: &Self, p: u32| me.d.projects[p as usize].locked;
        let Some((p, c, w)) = self.lockable(locked_already) else {
            return;
        };
        let pr = &mut self.d.projects[p as usize];
        pr.locked = true;
        pr.lock_without_nested = false;
        self.used.insert(Entity::Project(p));
        let owner = Some(self.d.workbooks[w as usize].owner);
        if let Some(u) = self.user(LICENSED, c, owner, |_| true) {
            set_cap(
                &mut self.d.projects[p as usize].default_workbook_rules,
                Grantee::User(u),
                "Filter",
                Mode::Allow,
            );
            set_cap(
                &mut self.d.workbooks[w as usize].rules,
                Grantee::User(u),
                "Filter",
                Mode::Deny,
            );
            self.record(
                "lock_reaches_nested_content",
                u,
                Entity::Workbook(w),
                "Filter",
                "user_allow",
            );
        }
        // The nested project itself answers to the locked parent's rules.
        if let Some(u) = self.user(&[SiteRole::Viewer], c, None, |_| true) {
            set_cap(
                &mut self.d.projects[p as usize].rules,
                Grantee::User(u),
                "Read",
                Mode::Allow,
            );
            set_cap(
                &mut self.d.projects[c as usize].rules,
                Grantee::User(u),
                "Read",
                Mode::Deny,
            );
            self.record(
                "nested_project_uses_locked_parent_rules",
                u,
                Entity::Project(c),
                "Read",
                "user_allow",
            );
        }
        self.used.insert(Entity::Project(c));
    }

    fn user_leader(&mut self) {
        let found = self.nested_items().into_iter().find_map(|(e, a)| {
            let (owner, project) = self.item(e);
            self.user(PUBLISHERS, project, Some(owner), |_| true)
                .map(|u| (e, a, u))
        });
        let Some((e, a, u)) = found else { return };
        set_cap(
            &mut self.d.projects[a as usize].rules,
            Grantee::User(u),
            "ProjectLeader",
            Mode::Allow,
        );
        self.record(
            "project_leader_cascades_to_nested",
            u,
            e,
            "Delete",
            "project_leader",
        );
    }

    /// The project an item lives in (a project's is itself).
    fn home(&self, e: Entity) -> u32 {
        match e {
            Entity::Project(p) => p,
            Entity::View(v) => self.d.workbooks[self.d.views[v as usize].workbook as usize].project,
            other => self.item(other).1,
        }
    }

    /// A group leads a project: every member leads everything below it, so
    /// no member may be the user of a case planted below it.
    fn group_leader(&mut self) {
        let d = &*self.d;
        let fits = |g: u32, a: u32| {
            g != 0
                && !d.groups[g as usize].deleted
                && !self.cases.iter().any(|c| {
                    d.users[c.user as usize].groups.contains(&g)
                        && chain(d, self.home(c.content)).contains(&a)
                })
        };
        let found = self.nested_items().into_iter().find_map(|(e, a)| {
            let (owner, project) = self.item(e);
            let u = self.user(&[SiteRole::Explorer], project, Some(owner), |x| {
                x.groups.iter().any(|&g| fits(g, a))
            })?;
            let g = *d.users[u as usize].groups.iter().find(|&&g| fits(g, a))?;
            Some((e, a, u, g))
        });
        let Some((e, a, u, g)) = found else { return };
        set_cap(
            &mut self.d.projects[a as usize].rules,
            Grantee::Group(g),
            "ProjectLeader",
            Mode::Allow,
        );
        let within = if matches!(e, Entity::Workbook(_)) {
            "ViewUnderlyingData"
        } else {
            "Connect"
        };
        self.record("group_project_leader", u, e, within, "project_leader");
        self.record(
            "project_leader_within_site_role_cap",
            u,
            e,
            "Delete",
            "site_role_cap",
        );
    }

    fn project_owner(&mut self) {
        let fits = |me: &Self, u: u32, item_owner: u32| {
            let x = &me.d.users[u as usize];
            PUBLISHERS.contains(&x.site_role)
                && !x.deleted
                && !me.used_users.contains(&u)
                && u != item_owner
        };
        let found = self.nested_items().into_iter().find_map(|(e, a)| {
            let (item_owner, _) = self.item(e);
            let current = self.d.projects[a as usize].owner;
            if fits(self, current, item_owner) {
                return Some((e, a, current));
            }
            self.order(self.d.users.len())
                .find(|&u| fits(self, u, item_owner))
                .map(|u| (e, a, u))
        });
        let Some((e, a, owner)) = found else { return };
        self.d.projects[a as usize].owner = owner;
        self.record(
            "project_owner_on_nested_content",
            owner,
            e,
            "Delete",
            "project_owner",
        );
    }

    fn content_owners(&mut self) {
        let locked = self.order(self.d.workbooks.len()).find(|&w| {
            !self.used.contains(&Entity::Workbook(w))
                && self.d.projects[self.d.workbooks[w as usize].project as usize].locked
        });
        if let Some(w) = locked {
            let project = self.d.workbooks[w as usize].project;
            let current = self.d.workbooks[w as usize].owner;
            let owner = if PUBLISHERS.contains(&self.d.users[current as usize].site_role)
                && !self.used_users.contains(&current)
                && self.clean(current, project)
            {
                Some(current)
            } else {
                self.user(PUBLISHERS, project, None, |_| true)
            };
            if let Some(o) = owner {
                self.d.workbooks[w as usize].owner = o;
                self.record(
                    "content_owner_locked_set_permissions",
                    o,
                    Entity::Workbook(w),
                    "ChangePermissions",
                    "locked_set_permissions",
                );
                self.record(
                    "content_owner_locked_overwrite",
                    o,
                    Entity::Workbook(w),
                    "Write",
                    "content_owner",
                );
            }
        }
        let open = self.order(self.d.datasources.len()).find(|&x| {
            !self.used.contains(&Entity::Datasource(x))
                && chain_unlocked(self.d, self.d.datasources[x as usize].project)
        });
        if let Some(x) = open {
            let project = self.d.datasources[x as usize].project;
            if let Some(o) = self.user(PUBLISHERS, project, None, |_| true) {
                self.d.datasources[x as usize].owner = o;
                self.record(
                    "content_owner_unlocked_set_permissions",
                    o,
                    Entity::Datasource(x),
                    "ChangePermissions",
                    "content_owner",
                );
            }
        }
    }

    /// A fresh open workbook and a fresh user for it.
    fn open_case(
        &self,
        roles: &[SiteRole],
        extra: impl Fn(&User) -> bool + Copy,
    ) -> Option<(u32, u32)> {
        let mut skip = HashSet::new();
        loop {
            let w = self.order(self.d.workbooks.len()).find(|&w| {
                !skip.contains(&w)
                    && !self.used.contains(&Entity::Workbook(w))
                    && chain_unlocked(self.d, self.d.workbooks[w as usize].project)
            })?;
            let wb = &self.d.workbooks[w as usize];
            if let Some(u) = self.user(roles, wb.project, Some(wb.owner), extra) {
                return Some((w, u));
            }
            skip.insert(w);
        }
    }

    fn rule_cases(&mut self) {
        let non_all = |x: &User| x.groups.iter().any(|&g| g != 0);

        if let Some((w, u)) = self.open_case(LICENSED, non_all) {
            let g = *self.d.users[u as usize]
                .groups
                .iter()
                .rev()
                .find(|&&g| g != 0)
                .expect("a team group");
            let rules = &mut self.d.workbooks[w as usize].rules;
            rules.retain(|r| r.grantee != Grantee::User(u));
            set_cap(rules, Grantee::Group(0), "Read", Mode::Allow);
            set_cap(rules, Grantee::Group(g), "Read", Mode::Deny);
            self.record(
                "deny_beats_allow_across_groups",
                u,
                Entity::Workbook(w),
                "Read",
                "group_deny",
            );
        }
        if let Some((w, u)) = self.open_case(LICENSED, non_all) {
            let g = *self.d.users[u as usize]
                .groups
                .iter()
                .rev()
                .find(|&&g| g != 0)
                .expect("a team group");
            let rules = &mut self.d.workbooks[w as usize].rules;
            set_cap(rules, Grantee::Group(g), "Read", Mode::Deny);
            set_cap(rules, Grantee::User(u), "Read", Mode::Allow);
            self.record(
                "user_allow_beats_group_deny",
                u,
                Entity::Workbook(w),
                "Read",
                "user_allow",
            );
        }
        if let Some((w, u)) = self.open_case(LICENSED, |_| true) {
            let rules = &mut self.d.workbooks[w as usize].rules;
            set_cap(rules, Grantee::Group(0), "Read", Mode::Allow);
            set_cap(rules, Grantee::User(u), "Read", Mode::Deny);
            self.record(
                "user_deny_beats_group_allow",
                u,
                Entity::Workbook(w),
                "Read",
                "user_deny",
            );
        }
        if let Some((w, u)) = self.open_case(&[SiteRole::Viewer], non_all) {
            let g = *self.d.users[u as usize]
                .groups
                .iter()
                .rev()
                .find(|&&g| g != 0)
                .expect("a team group");
            let rules = &mut self.d.workbooks[w as usize].rules;
            rules.retain(|r| r.grantee != Grantee::User(u));
            set_cap(rules, Grantee::Group(g), "Write", Mode::Allow);
            self.record(
                "viewer_capped_despite_group_write",
                u,
                Entity::Workbook(w),
                "Write",
                "site_role_cap",
            );
        }
        // An Explorer granted Write by a user rule, on a datasource (or a
        // workbook, when every datasource is locked or taken).
        let open_ds = self.order(self.d.datasources.len()).find(|&x| {
            !self.used.contains(&Entity::Datasource(x))
                && chain_unlocked(self.d, self.d.datasources[x as usize].project)
        });
        let target = open_ds
            .map(Entity::Datasource)
            .or(self.open_workbook().map(Entity::Workbook));
        if let Some(e) = target {
            let (owner, _) = self.item(e);
            // The cap decides before ownership or leadership: any Explorer.
            let explorer = self.order(self.d.users.len()).find(|&u| {
                let x = &self.d.users[u as usize];
                x.site_role == SiteRole::Explorer
                    && !x.deleted
                    && !self.used_users.contains(&u)
                    && u != owner
            });
            if let Some(u) = explorer {
                let rules = match e {
                    Entity::Datasource(x) => &mut self.d.datasources[x as usize].rules,
                    Entity::Workbook(w) => &mut self.d.workbooks[w as usize].rules,
                    _ => unreachable!(),
                };
                set_cap(rules, Grantee::User(u), "Write", Mode::Allow);
                self.record(
                    "explorer_capped_despite_user_allow",
                    u,
                    e,
                    "Write",
                    "site_role_cap",
                );
            }
        }
        if let Some((w, u)) = self.open_case(
            &[
                SiteRole::Explorer,
                SiteRole::ExplorerCanPublish,
                SiteRole::Creator,
            ],
            |_| true,
        ) {
            for r in self.d.workbooks[w as usize].rules.iter_mut() {
                r.capabilities.retain(|(c, _)| *c != "CreateRefreshMetrics");
            }
            self.d.workbooks[w as usize]
                .rules
                .retain(|r| !r.capabilities.is_empty());
            self.record(
                "no_rule_denied",
                u,
                Entity::Workbook(w),
                "CreateRefreshMetrics",
                "no_rule",
            );
        }
        // A site administrator, denied by a user rule, still has everything.
        if let Some(w) = self.open_workbook() {
            let admins: Vec<u32> = self
                .d
                .live_users()
                .filter(|&u| {
                    is_admin(self.d.users[u as usize].site_role) && !self.used_users.contains(&u)
                })
                .collect();
            if let Some(&a) = admins.iter().find(|&&a| a != 0).or(admins.first()) {
                set_cap(
                    &mut self.d.workbooks[w as usize].rules,
                    Grantee::User(a),
                    "Delete",
                    Mode::Deny,
                );
                self.record(
                    "site_admin_ignores_deny",
                    a,
                    Entity::Workbook(w),
                    "Delete",
                    "site_admin",
                );
            }
        }
        // An unlicensed user, in All Users, which is allowed to view.
        if let Some(w) = self.open_workbook() {
            let unlicensed = self.order(self.d.users.len()).find(|&u| {
                self.d.users[u as usize].site_role == SiteRole::Unlicensed
                    && !self.d.users[u as usize].deleted
            });
            let x = unlicensed.or_else(|| {
                // No unlicensed user drawn: make one of a Viewer who owns nothing.
                let v = self.order(self.d.users.len()).find(|&u| {
                    u != 0
                        && !self.used_users.contains(&u)
                        && self.d.users[u as usize].site_role == SiteRole::Viewer
                        && self.d.owned_by(u) == 0
                })?;
                self.d.users[v as usize].site_role = SiteRole::Unlicensed;
                Some(v)
            });
            if let Some(x) = x {
                set_cap(
                    &mut self.d.workbooks[w as usize].rules,
                    Grantee::Group(0),
                    "Read",
                    Mode::Allow,
                );
                self.record(
                    "unlicensed_gets_nothing",
                    x,
                    Entity::Workbook(w),
                    "Read",
                    "unlicensed",
                );
            }
        }
        // A project's own rules, through a group.
        let project = self.order(self.d.projects.len()).find_map(|p| {
            let pr = &self.d.projects[p as usize];
            if pr.deleted || self.used.contains(&Entity::Project(p)) || !chain_unlocked(self.d, p) {
                return None;
            }
            let u = self.user(&[SiteRole::Viewer], p, None, |x| {
                !pr.rules.iter().any(|r| match r.grantee {
                    Grantee::User(_) => false,
                    Grantee::Group(g) => {
                        x.groups.contains(&g) && r.capabilities.contains(&("Read", Mode::Deny))
                    }
                })
            })?;
            Some((p, u))
        });
        if let Some((p, u)) = project {
            let g = *self.d.users[u as usize]
                .groups
                .last()
                .expect("every user is in All Users");
            let rules = &mut self.d.projects[p as usize].rules;
            rules.retain(|r| r.grantee != Grantee::User(u));
            set_cap(rules, Grantee::Group(g), "Read", Mode::Allow);
            self.record(
                "project_group_allow",
                u,
                Entity::Project(p),
                "Read",
                "group_allow",
            );
        }
    }

    fn view_cases(&mut self) {
        // Views keep rules of their own only in workbooks that hide their
        // tabs, so both view cases hide them.
        if let Some((w, u)) = self.open_case(LICENSED, |_| true) {
            let v = self.d.workbooks[w as usize].views.start;
            self.d.workbooks[w as usize].show_tabs = false;
            self.d.workbooks[w as usize]
                .rules
                .retain(|r| r.grantee != Grantee::User(u));
            set_cap(
                &mut self.d.workbooks[w as usize].rules,
                Grantee::Group(0),
                "Read",
                Mode::Allow,
            );
            set_cap(
                &mut self.d.views[v as usize].extra_rules,
                Grantee::User(u),
                "Read",
                Mode::Deny,
            );
            self.used.insert(Entity::Workbook(w));
            self.record(
                "view_rule_in_customizable_project",
                u,
                Entity::View(v),
                "Read",
                "user_deny",
            );
        }
        // A workbook a lock reaches, its own project's or an ancestor's.
        let locked = self.order(self.d.workbooks.len()).find_map(|w| {
            let project = self.d.workbooks[w as usize].project;
            let q = chain(self.d, project).into_iter().find(|&q| {
                let p = &self.d.projects[q as usize];
                p.locked && (q == project || !p.lock_without_nested)
            })?;
            (!self.used.contains(&Entity::Workbook(w))).then_some((w, q))
        });
        if let Some((w, q)) = locked {
            let wb = &self.d.workbooks[w as usize];
            let (project, owner) = (wb.project, wb.owner);
            if let Some(u) = self.user(LICENSED, project, Some(owner), |_| true) {
                let v = self.d.workbooks[w as usize].views.start;
                self.d.workbooks[w as usize].show_tabs = false;
                set_cap(
                    &mut self.d.projects[q as usize].default_workbook_rules,
                    Grantee::User(u),
                    "Read",
                    Mode::Allow,
                );
                set_cap(
                    &mut self.d.views[v as usize].extra_rules,
                    Grantee::User(u),
                    "Read",
                    Mode::Deny,
                );
                self.used.insert(Entity::Workbook(w));
                self.record(
                    "view_rule_ignored_when_locked",
                    u,
                    Entity::View(v),
                    "Read",
                    "user_allow",
                );
            }
        }
    }
}

/// Plants every case into `d` and returns them, in planting order.
pub fn plant(d: &mut Dataset, offset: usize) -> Vec<AccessCase> {
    let mut p = Planter {
        d,
        used_users: HashSet::new(),
        used: HashSet::new(),
        offset,
        cases: Vec::new(),
    };
    // Locks first, while nested projects with no lock above them are
    // easiest to find; then leaders and owners, whose choices keep clear of
    // every user already planted (locks never change what they decide).
    p.lock_with_nested();
    p.lock_without_nested();
    p.user_leader();
    p.group_leader();
    p.project_owner();
    p.content_owners();
    p.rule_cases();
    p.view_cases();
    p.cases
}
