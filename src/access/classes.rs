//! Effective access for every user × item × capability without
//! materializing the product (50,000 users × 75,000 items × ~12
//! capabilities is tens of billions of answers on a large site):
//!
//! - An *access class* is a site role and the groups, among those some
//!   rule names, that a user belongs to. Administrators and unlicensed users
//!   form one class per role (their answers never depend on rules).
//! - An *access profile* is what an item contributes to a class's answer:
//!   its type, the group rules it is evaluated against and the groups that
//!   lead a project above it. Items with one profile get the same answers.
//! - Every class is evaluated once per profile ([`Access::decisions`]).
//! - A user's answer differs from their class's only through what is about
//!   that one user: owning the item or a project above it, leading such a
//!   project as a named user, or rules naming the user. Those (user, item)
//!   pairs are evaluated per user, and the capabilities whose answer
//!   differs are kept as exceptions.

use std::collections::HashMap;

use super::caps::{self, Cap, Kind};
use super::eval::{evaluate, Decision, ItemCtx, Subject};
use super::model::{Grantee, Mode, Role, Site};

pub struct Class {
    pub role: Role,
    /// Rule-named groups, ascending.
    pub groups: Vec<u32>,
    pub users: usize,
}

/// The computed access of one run.
pub struct Access {
    pub classes: Vec<Class>,
    /// Per user, their class.
    pub user_class: Vec<u32>,
    /// Per item, its profile.
    pub item_profile: Vec<u32>,
    /// Per profile, an item that has it.
    pub profile_item: Vec<u32>,
    /// Per item, its controlling (or governing) project.
    pub item_controller: Vec<Option<u32>>,
    /// `decisions[class * profiles + profile]`: one per capability of the
    /// profile's type, in [`Kind::caps`] order.
    pub decisions: Vec<Vec<Decision>>,
    /// (user, item, capability, answer) where the user's answer differs
    /// from their class's.
    pub exceptions: Vec<(u32, u32, Cap, Decision)>,
}

impl Access {
    pub fn profiles(&self) -> usize {
        self.profile_item.len()
    }

    /// The class's answers on a profile.
    pub fn class_decisions(&self, class: u32, profile: u32) -> &[Decision] {
        &self.decisions[class as usize * self.profiles() + profile as usize]
    }

    /// One user's answer (class answer unless an exception says otherwise).
    /// For tests and spot checks: linear in the exceptions.
    pub fn answer(&self, site: &Site, user: u32, item: u32, cap: Cap) -> Option<Decision> {
        let kind = site.items[item as usize].kind;
        let at = kind.caps().iter().position(|&c| c == cap)?;
        if let Some(x) = self
            .exceptions
            .iter()
            .find(|x| x.0 == user && x.1 == item && x.2 == cap)
        {
            return Some(x.3);
        }
        Some(
            self.class_decisions(
                self.user_class[user as usize],
                self.item_profile[item as usize],
            )[at],
        )
    }
}

/// The profile key of an item: its type, its group rules and the groups
/// leading each project above it (nearest first).
#[derive(PartialEq, Eq, Hash)]
struct ProfileKey {
    kind: Kind,
    group_rules: Vec<(u32, Cap, Mode)>,
    leaders: Vec<(u32, Vec<u32>)>,
}

fn profile_key(site: &Site, ctx: &ItemCtx) -> ProfileKey {
    let mut group_rules: Vec<(u32, Cap, Mode)> = ctx
        .lists
        .iter()
        .flat_map(|l| l.iter())
        .filter_map(|r| match r.grantee {
            Grantee::Group(g) => Some((g, r.cap, r.mode)),
            Grantee::User(_) => None,
        })
        .collect();
    group_rules.sort_unstable();
    group_rules.dedup();
    let leaders = ctx
        .chain
        .iter()
        .filter_map(|&p| {
            let mut groups: Vec<u32> = site
                .project_item(p)
                .rules
                .iter()
                .filter(|r| r.cap == caps::PROJECT_LEADER && r.mode == Mode::Allow)
                .filter_map(|r| match r.grantee {
                    Grantee::Group(g) => Some(g),
                    Grantee::User(_) => None,
                })
                .collect();
            groups.sort_unstable();
            groups.dedup();
            (!groups.is_empty()).then_some((p, groups))
        })
        .collect();
    ProfileKey {
        kind: ctx.kind,
        group_rules,
        leaders,
    }
}

/// Users singled out on an item: its owner, the owners of projects above
/// it, users named in its rules, users leading a project above it.
fn special_users(site: &Site, ctx: &ItemCtx, out: &mut Vec<u32>) {
    out.clear();
    out.extend(ctx.owner);
    for &p in &ctx.chain {
        out.extend(site.projects[p as usize].owner);
        for r in &site.project_item(p).rules {
            if let (Grantee::User(u), true) = (r.grantee, r.cap == caps::PROJECT_LEADER) {
                out.push(u);
            }
        }
    }
    for l in ctx.lists {
        for r in l {
            if let Grantee::User(u) = r.grantee {
                out.push(u);
            }
        }
    }
    out.sort_unstable();
    out.dedup();
}

pub fn compute(site: &Site) -> Access {
    // Groups some rule names.
    let mut named = vec![false; site.groups.len()];
    let mut mark = |rules: &[super::model::Rule]| {
        for r in rules {
            if let Grantee::Group(g) = r.grantee {
                named[g as usize] = true;
            }
        }
    };
    for it in &site.items {
        mark(&it.rules);
    }
    for p in &site.projects {
        for d in &p.defaults {
            mark(d);
        }
    }

    let mut classes: Vec<Class> = Vec::new();
    let mut class_ix: HashMap<(Role, Vec<u32>), u32> = HashMap::new();
    let mut user_class = Vec::with_capacity(site.users.len());
    for u in &site.users {
        let groups: Vec<u32> = if u.role.is_admin() || u.role == Role::Unlicensed {
            Vec::new()
        } else {
            u.groups
                .iter()
                .copied()
                .filter(|&g| named[g as usize])
                .collect()
        };
        let next = classes.len() as u32;
        let c = *class_ix.entry((u.role, groups.clone())).or_insert_with(|| {
            classes.push(Class {
                role: u.role,
                groups,
                users: 0,
            });
            next
        });
        classes[c as usize].users += 1;
        user_class.push(c);
    }

    let mut profile_ix: HashMap<ProfileKey, u32> = HashMap::new();
    let mut profile_item = Vec::new();
    let mut item_profile = Vec::with_capacity(site.items.len());
    let mut item_controller = Vec::with_capacity(site.items.len());
    for i in 0..site.items.len() as u32 {
        let ctx = ItemCtx::new(site, i);
        item_controller.push(ctx.controller);
        let next = profile_item.len() as u32;
        let p = *profile_ix
            .entry(profile_key(site, &ctx))
            .or_insert_with(|| {
                profile_item.push(i);
                next
            });
        item_profile.push(p);
    }

    let mut decisions = Vec::with_capacity(classes.len() * profile_item.len());
    for class in &classes {
        let subject = Subject {
            role: class.role,
            groups: &class.groups,
            user: None,
        };
        for &item in &profile_item {
            let ctx = ItemCtx::new(site, item);
            decisions.push(
                ctx.kind
                    .caps()
                    .iter()
                    .map(|&c| evaluate(site, &subject, &ctx, c))
                    .collect::<Vec<_>>(),
            );
        }
    }

    let mut access = Access {
        classes,
        user_class,
        item_profile,
        profile_item,
        item_controller,
        decisions,
        exceptions: Vec::new(),
    };
    let mut special = Vec::new();
    let mut exceptions = Vec::new();
    for i in 0..site.items.len() as u32 {
        let ctx = ItemCtx::new(site, i);
        special_users(site, &ctx, &mut special);
        for &u in &special {
            let user = &site.users[u as usize];
            if user.role.is_admin() || user.role == Role::Unlicensed {
                continue;
            }
            let subject = Subject {
                role: user.role,
                groups: &user.groups,
                user: Some(u),
            };
            let class = access.class_decisions(
                access.user_class[u as usize],
                access.item_profile[i as usize],
            );
            for (at, &c) in ctx.kind.caps().iter().enumerate() {
                let d = evaluate(site, &subject, &ctx, c);
                if d != class[at] {
                    exceptions.push((u, i, c, d));
                }
            }
        }
    }
    access.exceptions = exceptions;
    access
}
