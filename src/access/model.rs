//! The site as access evaluation sees it, read from one run of the
//! warehouse: users with their site roles and groups, projects with their
//! tree, owners, locks and rules, and every item with its owner and rules.
//! Everything is indexed (`u32`) so evaluation never hashes a LUID.

use std::collections::HashMap;
use std::path::Path;

use duckdb::{Connection, Row};

use super::caps::{self, Cap, Kind};
use crate::warehouse::read::{table_at, RunRef};
use crate::warehouse::{schema, WarehouseError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    SiteAdministratorCreator,
    SiteAdministratorExplorer,
    Creator,
    ExplorerCanPublish,
    Explorer,
    Viewer,
    Unlicensed,
}

impl Role {
    /// Tableau's name, older names included (`SiteAdministrator`,
    /// `Publisher`, `Interactor`, `ReadOnly`); an unknown role counts as
    /// unlicensed, the safe answer for an audit of who may do what.
    pub fn parse(name: &str) -> Role {
        match name {
            "SiteAdministratorCreator" | "ServerAdministrator" => Role::SiteAdministratorCreator,
            "SiteAdministratorExplorer" | "SiteAdministrator" => Role::SiteAdministratorExplorer,
            "Creator" => Role::Creator,
            "ExplorerCanPublish" | "Publisher" => Role::ExplorerCanPublish,
            "Explorer" | "Interactor" => Role::Explorer,
            "Viewer" | "ReadOnly" => Role::Viewer,
            _ => Role::Unlicensed,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::SiteAdministratorCreator => "SiteAdministratorCreator",
            Role::SiteAdministratorExplorer => "SiteAdministratorExplorer",
            Role::Creator => "Creator",
            Role::ExplorerCanPublish => "ExplorerCanPublish",
            Role::Explorer => "Explorer",
            Role::Viewer => "Viewer",
            Role::Unlicensed => "Unlicensed",
        }
    }

    pub fn is_admin(self) -> bool {
        matches!(
            self,
            Role::SiteAdministratorCreator | Role::SiteAdministratorExplorer
        )
    }

    /// The license the role consumes.
    pub fn license(self) -> &'static str {
        match self {
            Role::SiteAdministratorCreator | Role::Creator => "Creator",
            Role::SiteAdministratorExplorer | Role::ExplorerCanPublish | Role::Explorer => {
                "Explorer"
            }
            Role::Viewer => "Viewer",
            Role::Unlicensed => "Unlicensed",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Grantee {
    User(u32),
    Group(u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mode {
    Allow,
    Deny,
}

/// One capability allowed or denied one grantee.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rule {
    pub grantee: Grantee,
    pub cap: Cap,
    pub mode: Mode,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lock {
    /// `ManagedByOwner`: content keeps its own rules.
    None,
    /// `LockedToProject`: the project's default rules govern its content
    /// and every nested project's.
    WithNested,
    /// `LockedToProjectWithoutNested`: only its own content.
    WithoutNested,
}

pub struct User {
    pub luid: String,
    pub name: String,
    pub role: Role,
    /// Indexes into [`Site::groups`], ascending.
    pub groups: Vec<u32>,
}

pub struct Group {
    pub luid: String,
    pub name: String,
}

pub struct Project {
    pub item: u32,
    pub parent: Option<u32>,
    pub owner: Option<u32>,
    pub lock: Lock,
    /// Default rules per content type that has them
    /// ([`Kind::default_scope`]), by [`Kind`] index.
    pub defaults: [Vec<Rule>; 5],
}

pub struct Item {
    pub kind: Kind,
    pub luid: String,
    pub name: String,
    /// The project it is in; a project's is itself.
    pub project: Option<u32>,
    /// A view's owner is its workbook's.
    pub owner: Option<u32>,
    /// A view's workbook (an index into [`Site::items`]).
    pub workbook: Option<u32>,
    /// Its own rules (scope `item`), as extracted.
    pub rules: Vec<Rule>,
    /// Whether the extraction read its rules (a view of an older
    /// extraction was not read, and takes its workbook's).
    pub read: bool,
    /// A workbook that shows its sheets as tabs: its views take its rules,
    /// and the extraction does not read theirs.
    pub tabs_shown: bool,
}

/// One run's access facts.
#[derive(Default)]
pub struct Site {
    pub users: Vec<User>,
    pub groups: Vec<Group>,
    /// Indexes into `items` of projects are `projects[i].item`.
    pub projects: Vec<Project>,
    pub items: Vec<Item>,
    /// Rules naming a grantee the run does not list (a group set, a user
    /// or group removed meanwhile): they cannot apply to anyone listed.
    pub ignored_rules: usize,
}

impl Site {
    pub fn project_item(&self, p: u32) -> &Item {
        &self.items[self.projects[p as usize].item as usize]
    }
}

struct Q<'a> {
    conn: &'a Connection,
    db: &'a Path,
    run: &'a RunRef,
}

impl Q<'_> {
    fn rows<T>(
        &self,
        table: &str,
        select: &str,
        f: impl FnMut(&Row) -> duckdb::Result<T>,
    ) -> Result<Vec<T>, WarehouseError> {
        let t = schema::table(table).expect("a schema table");
        let (cols, rest) = select
            .split_once(" WHERE ")
            .map_or((select, String::new()), |(c, w)| (c, format!(" WHERE {w}")));
        let sql = format!("SELECT {cols} FROM {} t{rest}", table_at(t, self.run));
        let err = |source| WarehouseError::Duck {
            path: self.db.to_owned(),
            what: format!("cannot read {table}"),
            source,
        };
        let mut stmt = self.conn.prepare(&sql).map_err(err)?;
        let rows = stmt.query_map([], f).map_err(err)?;
        rows.collect::<Result<Vec<T>, _>>().map_err(err)
    }
}

/// Reads the access facts of `run`.
pub fn load(conn: &Connection, db: &Path, run: &RunRef) -> Result<Site, WarehouseError> {
    let q = Q { conn, db, run };
    let mut site = Site::default();

    let mut user_ix: HashMap<String, u32> = HashMap::new();
    for (luid, name, role) in q.rows("users", "user_luid, name, site_role", |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })? {
        user_ix.insert(luid.clone(), site.users.len() as u32);
        site.users.push(User {
            luid,
            name,
            role: Role::parse(&role),
            groups: Vec::new(),
        });
    }
    let mut group_ix: HashMap<String, u32> = HashMap::new();
    for (luid, name) in q.rows("groups", "group_luid, name", |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })? {
        group_ix.insert(luid.clone(), site.groups.len() as u32);
        site.groups.push(Group { luid, name });
    }
    for (g, u) in q.rows("group_memberships", "group_luid, user_luid", |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })? {
        if let (Some(&g), Some(&u)) = (group_ix.get(&g), user_ix.get(&u)) {
            site.users[u as usize].groups.push(g);
        }
    }
    for u in &mut site.users {
        u.groups.sort_unstable();
        u.groups.dedup();
    }

    let mut item_ix: HashMap<String, u32> = HashMap::new();
    let mut project_ix: HashMap<String, u32> = HashMap::new();
    let owner = |o: Option<String>| o.and_then(|o| user_ix.get(&o).copied());
    let projects = q.rows(
        "projects",
        "project_luid, name, parent_project_luid, owner_luid, content_permissions",
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, String>(4)?,
            ))
        },
    )?;
    for (luid, name, _, own, lock) in &projects {
        let p = site.projects.len() as u32;
        project_ix.insert(luid.clone(), p);
        item_ix.insert(luid.clone(), site.items.len() as u32);
        site.items.push(Item {
            kind: Kind::Project,
            luid: luid.clone(),
            name: name.clone(),
            project: Some(p),
            owner: owner(own.clone()),
            workbook: None,
            rules: Vec::new(),
            read: true,
            tabs_shown: false,
        });
        site.projects.push(Project {
            item: site.items.len() as u32 - 1,
            parent: None,
            owner: owner(own.clone()),
            lock: match lock.as_str() {
                "LockedToProject" => Lock::WithNested,
                "LockedToProjectWithoutNested" => Lock::WithoutNested,
                _ => Lock::None,
            },
            defaults: Default::default(),
        });
    }
    for (luid, _, parent, _, _) in &projects {
        let p = project_ix[luid];
        site.projects[p as usize].parent = parent
            .as_ref()
            .and_then(|x| project_ix.get(x).copied())
            .filter(|&x| x != p);
    }
    // A parent cycle cannot happen on a server; cut one if the data has it,
    // so walking up always ends.
    for p in 0..site.projects.len() {
        let mut seen = 0;
        let mut cur = site.projects[p].parent;
        while let Some(c) = cur {
            seen += 1;
            if seen > site.projects.len() {
                site.projects[p].parent = None;
                break;
            }
            cur = site.projects[c as usize].parent;
        }
    }

    let content = |kind: Kind,
                   r: &Row|
     -> duckdb::Result<(Kind, String, String, Option<String>, Option<String>)> {
        Ok((kind, r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    };
    let mut rows = Vec::new();
    rows.extend(q.rows(
        "workbooks",
        "workbook_luid, name, project_luid, owner_luid",
        |r| content(Kind::Workbook, r),
    )?);
    rows.extend(q.rows(
        "datasources",
        "datasource_luid, name, project_luid, owner_luid",
        |r| content(Kind::Datasource, r),
    )?);
    rows.extend(
        q.rows("flows", "flow_luid, name, project_luid, owner_luid", |r| {
            content(Kind::Flow, r)
        })?,
    );
    for (kind, luid, name, project, own) in rows {
        item_ix.insert(luid.clone(), site.items.len() as u32);
        site.items.push(Item {
            kind,
            luid,
            name,
            project: project.and_then(|p| project_ix.get(&p).copied()),
            owner: owner(own),
            workbook: None,
            rules: Vec::new(),
            read: false,
            tabs_shown: false,
        });
    }
    for (luid, shown) in q.rows("workbooks", "workbook_luid, show_tabs", |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Option<bool>>(1)?))
    })? {
        if let (Some(&w), Some(true)) = (item_ix.get(&luid), shown) {
            site.items[w as usize].tabs_shown = true;
        }
    }
    for (luid, name, workbook) in q.rows("views", "view_luid, name, workbook_luid", |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })? {
        let Some(&w) = item_ix.get(&workbook) else {
            continue;
        };
        let (project, own) = (site.items[w as usize].project, site.items[w as usize].owner);
        item_ix.insert(luid.clone(), site.items.len() as u32);
        site.items.push(Item {
            kind: Kind::View,
            luid,
            name,
            project,
            owner: own,
            workbook: Some(w),
            rules: Vec::new(),
            read: false,
            tabs_shown: false,
        });
    }

    let perms = q.rows(
        "permissions",
        "object_luid, scope, grantee_type, grantee_luid, capability, mode",
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
            ))
        },
    )?;
    let mut any_view_rows = false;
    for (object, scope, grantee_type, grantee, cap, mode) in perms {
        let grantee = match grantee_type.as_str() {
            "user" => user_ix.get(&grantee).map(|&u| Grantee::User(u)),
            "group" => group_ix.get(&grantee).map(|&g| Grantee::Group(g)),
            _ => None,
        };
        let (Some(grantee), Some(cap)) = (grantee, caps::parse(&cap)) else {
            site.ignored_rules += 1;
            continue;
        };
        let mode = if mode == "Deny" {
            Mode::Deny
        } else {
            Mode::Allow
        };
        let rule = Rule { grantee, cap, mode };
        if scope == "item" {
            if let Some(&i) = item_ix.get(&object) {
                let item = &mut site.items[i as usize];
                any_view_rows |= item.kind == Kind::View;
                item.rules.push(rule);
            }
        } else if let Some(kind) = Kind::from_default_scope(&scope) {
            if let Some(&p) = project_ix.get(&object) {
                site.projects[p as usize].defaults[kind as usize].push(rule);
            }
        }
    }
    read_flags(&mut site, any_view_rows);
    for item in &mut site.items {
        item.rules.sort_unstable();
        item.rules.dedup();
    }
    for p in &mut site.projects {
        for d in &mut p.defaults {
            d.sort_unstable();
            d.dedup();
        }
    }
    Ok(site)
}

/// Which items' own rules the extraction read: see `extract/permissions.rs`
/// (content outside locked projects; views of workbooks that hide their
/// tabs, once it reads views at all).
fn read_flags(site: &mut Site, any_view_rows: bool) {
    for i in 0..site.items.len() {
        let item = &site.items[i];
        let read = match item.kind {
            Kind::Project => true,
            Kind::View => {
                any_view_rows
                    && !item
                        .workbook
                        .is_some_and(|w| site.items[w as usize].tabs_shown)
                    && item
                        .project
                        .is_none_or(|p| super::eval::controlling(site, p).is_none())
            }
            _ => item
                .project
                .is_none_or(|p| super::eval::controlling(site, p).is_none()),
        };
        site.items[i].read = read;
    }
}
