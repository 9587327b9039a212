//! Answers for one user or one item, read from the stored access tables
//! through the `effective_access` view.

use std::path::Path;

use duckdb::{params, Connection};
use serde::Serialize;

use super::caps::{self, Kind};
use crate::warehouse::{read, WarehouseError};

/// One answer, with names a person reads.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Answer {
    pub user_luid: String,
    pub user_name: String,
    pub site_role: String,
    pub item_type: String,
    pub item_luid: String,
    pub item_name: Option<String>,
    pub project_name: Option<String>,
    /// The capabilities answered alike (same answer, reason and cause).
    pub capabilities: Vec<String>,
    pub allowed: bool,
    pub reason: String,
    pub via_group_luid: Option<String>,
    pub via_group_name: Option<String>,
    pub via_project_luid: Option<String>,
    pub via_project_name: Option<String>,
}

impl Answer {
    /// How the answer came about, in words: "through group Sales", …
    pub fn explain(&self) -> String {
        let group = self.via_group_name.as_deref().unwrap_or("?");
        let project = self.via_project_name.as_deref().unwrap_or("?");
        match self.reason.as_str() {
            "unlicensed" => "unlicensed".into(),
            "site_admin" => format!("site administrator ({})", self.site_role),
            "site_role_cap" => format!("beyond the site role {}", self.site_role),
            "project_owner" => format!("owns project '{project}'"),
            "project_leader" if self.via_group_luid.is_some() => {
                format!("leads project '{project}' through group '{group}'")
            }
            "project_leader" => format!("leads project '{project}'"),
            "content_owner" => "owns it".into(),
            "locked_set_permissions" => "owns it, but its project is locked".into(),
            "user_deny" => "denied to the user directly".into(),
            "user_allow" => "allowed to the user directly".into(),
            "group_deny" => format!("denied through group '{group}'"),
            "group_allow" => format!("allowed through group '{group}'"),
            "no_rule" => "no rule allows it".into(),
            other => other.into(),
        }
    }
}

/// Whether the stored access tables describe `run_id`.
pub fn computed_for(conn: &Connection, db: &Path, run_id: &str) -> Result<bool, WarehouseError> {
    let n: i64 = conn
        .query_row(
            "SELECT count(*) FROM run_tables WHERE run_id = ? AND table_name = 'access_exceptions'",
            params![run_id],
            |r| r.get(0),
        )
        .map_err(|e| WarehouseError::Duck {
            path: db.to_owned(),
            what: "cannot read run_tables".into(),
            source: e,
        })?;
    Ok(n > 0)
}

/// One answer per row of `a` (the `effective_access` columns), with names.
/// The questions below build `a` from the tables with their filters
/// applied before the joins: the view itself joins every user to every
/// item first, which DuckDB does not narrow down soon enough on a large
/// site.
/// Answers alike on one item are grouped into one row (a user with broad
/// access has ~10 capabilities on each of tens of thousands of items). The
/// capabilities of a row are sorted here, not by `string_agg … ORDER BY`,
/// which sorts within every group and takes most of a large answer's time.
const NAMED: &str = "SELECT b.user_luid, u.name, u.site_role, b.item_type, b.item_luid, b.item_name, p.name, \
     b.capabilities, b.allowed, b.reason, b.via_group_luid, g.name, b.via_project_luid, vp.name \
     FROM (SELECT user_luid, item_type, item_luid, any_value(item_name) AS item_name, \
           any_value(project_luid) AS project_luid, allowed, reason, via_group_luid, via_project_luid, \
           string_agg(capability, ',') AS capabilities \
           FROM a WHERE ($3 OR allowed) \
           GROUP BY user_luid, item_type, item_luid, allowed, reason, via_group_luid, via_project_luid) b \
     JOIN users u ON u.user_luid = b.user_luid \
     LEFT JOIN projects p ON p.project_luid = b.project_luid \
     LEFT JOIN groups g ON g.group_luid = b.via_group_luid \
     LEFT JOIN projects vp ON vp.project_luid = b.via_project_luid";

/// The answer columns of `a`, as the `effective_access` view computes them
/// from a class decision `d` and an exception `x`.
const ANSWER: &str = "d.capability, \
     CASE WHEN x.user_luid IS NULL THEN d.allowed ELSE x.allowed END AS allowed, \
     CASE WHEN x.user_luid IS NULL THEN d.reason ELSE x.reason END AS reason, \
     CASE WHEN x.user_luid IS NULL THEN d.via_group_luid ELSE x.via_group_luid END AS via_group_luid, \
     CASE WHEN x.user_luid IS NULL THEN d.via_project_luid ELSE x.via_project_luid END AS via_project_luid";

fn answers(
    conn: &Connection,
    db: &Path,
    sql: &str,
    args: &[&dyn duckdb::ToSql],
) -> Result<Vec<Answer>, WarehouseError> {
    let err = |source| WarehouseError::Duck {
        path: db.to_owned(),
        what: "cannot read effective_access".into(),
        source,
    };
    let mut stmt = conn.prepare(sql).map_err(err)?;
    let rows = stmt
        .query_map(args, |r| {
            Ok(Answer {
                user_luid: r.get(0)?,
                user_name: r.get(1)?,
                site_role: r.get(2)?,
                item_type: r.get(3)?,
                item_luid: r.get(4)?,
                item_name: r.get(5)?,
                project_name: r.get(6)?,
                capabilities: {
                    let mut caps: Vec<String> = r.get::<_, String>(7)?.split(',').map(str::to_string).collect();
                    caps.sort_unstable();
                    caps
                },
                allowed: r.get(8)?,
                reason: r.get(9)?,
                via_group_luid: r.get(10)?,
                via_group_name: r.get(11)?,
                via_project_luid: r.get(12)?,
                via_project_name: r.get(13)?,
            })
        })
        .map_err(err)?;
    rows.collect::<Result<_, _>>().map_err(err)
}

fn check_capability(capability: Option<&str>) -> anyhow::Result<()> {
    if let Some(c) = capability {
        anyhow::ensure!(
            caps::parse(c).is_some_and(|c| c != caps::PROJECT_LEADER),
            "unknown capability '{c}'; capabilities are: {}",
            caps::NAMES[..caps::NAMES.len() - 1].join(", ")
        );
    }
    Ok(())
}

/// The user a name means: a LUID, a sign-in name or a full name; an
/// ambiguous name is an error listing the candidates.
pub fn find_user(conn: &Connection, db: &Path, name: &str) -> anyhow::Result<(String, String)> {
    let err = |source| WarehouseError::Duck {
        path: db.to_owned(),
        what: "cannot read users".into(),
        source,
    };
    let mut stmt = conn
        .prepare(
            "SELECT user_luid, name FROM users WHERE user_luid = $1 OR lower(name) = lower($1) \
             OR lower(full_name) = lower($1) ORDER BY name, user_luid",
        )
        .map_err(err)?;
    let found: Vec<(String, String)> = stmt
        .query_map(params![name], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(err)?
        .collect::<Result<_, _>>()
        .map_err(err)?;
    match found.len() {
        0 => {
            anyhow::bail!("no user '{name}' in the warehouse (give a user name, full name or LUID)")
        }
        1 => Ok(found.into_iter().next().expect("one")),
        _ => anyhow::bail!(
            "'{name}' names {} users: {}; give the user name or LUID",
            found.len(),
            found
                .iter()
                .map(|(l, n)| format!("{n} ({l})"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// An item named as `type:name` (`workbook:"Sales Overview"`, quotes
/// optional), `type:LUID`, or a bare LUID.
pub fn find_item(
    conn: &Connection,
    db: &Path,
    spec: &str,
) -> anyhow::Result<(String, String, String)> {
    let (kind, name) = match spec.split_once(':') {
        Some((k, n)) if Kind::parse(k).is_some() => (Some(k), n),
        _ => (None, spec),
    };
    let name = name.trim();
    let name = name
        .strip_prefix('"')
        .and_then(|n| n.strip_suffix('"'))
        .unwrap_or(name);
    let err = |source| WarehouseError::Duck {
        path: db.to_owned(),
        what: "cannot read access_items".into(),
        source,
    };
    let mut stmt = conn
        .prepare(
            "SELECT i.item_type, i.item_luid, coalesce(i.item_name, ''), coalesce(p.name, '') FROM access_items i \
             LEFT JOIN projects p ON p.project_luid = i.project_luid \
             WHERE ($1 IS NULL OR i.item_type = $1) AND (i.item_luid = $2 OR i.item_name = $2) \
             ORDER BY i.item_type, p.name, i.item_luid",
        )
        .map_err(err)?;
    let found: Vec<(String, String, String, String)> = stmt
        .query_map(params![kind, name], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .map_err(err)?
        .collect::<Result<_, _>>()
        .map_err(err)?;
    match found.len() {
        0 => anyhow::bail!(
            "no {} named '{name}' in the warehouse (write TYPE:NAME, TYPE one of project, workbook, view, datasource, flow, or a LUID)",
            kind.unwrap_or("item")
        ),
        1 => {
            let (t, l, n, _) = found.into_iter().next().expect("one");
            Ok((t, l, n))
        }
        _ => anyhow::bail!(
            "'{spec}' names {} items: {}; give the LUID",
            found.len(),
            found.iter().map(|(t, l, n, p)| format!("{t} '{n}' in '{p}' ({l})")).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// What `user` may do (every capability, or `capability`); with
/// `denied`, what they may not do as well. One answer per item and way of
/// answering, its capabilities together.
pub fn for_user(
    conn: &Connection,
    db: &Path,
    user_luid: &str,
    capability: Option<&str>,
    denied: bool,
) -> anyhow::Result<Vec<Answer>> {
    check_capability(capability)?;
    let sql = format!(
        "WITH uc AS (SELECT user_luid, class_id FROM access_user_classes WHERE user_luid = $1), \
         x AS (SELECT * FROM access_exceptions WHERE user_luid = $1 AND ($2 IS NULL OR capability = $2)), \
         d AS (SELECT ad.* FROM access_decisions ad JOIN uc ON ad.class_id = uc.class_id \
               WHERE ($2 IS NULL OR ad.capability = $2)), \
         a AS (SELECT uc.user_luid, i.item_type, i.item_luid, i.item_name, i.project_luid, {ANSWER} \
               FROM uc CROSS JOIN d JOIN access_items i ON i.profile_id = d.profile_id \
               LEFT JOIN x ON x.item_luid = i.item_luid AND x.capability = d.capability) \
         {NAMED} ORDER BY b.item_type, b.item_name, b.item_luid, b.allowed DESC, b.reason"
    );
    let mut out = answers(conn, db, &sql, &[&user_luid, &capability, &denied])?;
    // Rows alike but for their cause (another group, say): by capabilities.
    for same in out.chunk_by_mut(|a, b| (&a.item_luid, a.allowed, &a.reason) == (&b.item_luid, b.allowed, &b.reason)) {
        same.sort_by_cached_key(|a| a.capabilities.join(","));
    }
    Ok(out)
}

/// Who may use `capability` on the item; with `denied`, who may not too.
pub fn for_item(
    conn: &Connection,
    db: &Path,
    item_luid: &str,
    capability: &str,
    denied: bool,
) -> anyhow::Result<Vec<Answer>> {
    check_capability(Some(capability))?;
    let sql = format!(
        "WITH i AS (SELECT * FROM access_items WHERE item_luid = $1), \
         x AS (SELECT * FROM access_exceptions WHERE item_luid = $1 AND capability = $2), \
         d AS (SELECT ad.* FROM access_decisions ad JOIN i ON ad.profile_id = i.profile_id WHERE ad.capability = $2), \
         a AS (SELECT uc.user_luid, i.item_type, i.item_luid, i.item_name, i.project_luid, {ANSWER} \
               FROM access_user_classes uc JOIN d ON d.class_id = uc.class_id CROSS JOIN i \
               LEFT JOIN x ON x.user_luid = uc.user_luid) \
         {NAMED} ORDER BY u.name, b.user_luid"
    );
    Ok(answers(
        conn,
        db,
        &sql,
        &[&item_luid, &capability, &denied],
    )?)
}

/// Opens the warehouse for reading access answers of the latest run,
/// computing them first when the latest run has none stored.
pub fn open_computed(db: &Path, parquet: Option<&Path>) -> anyhow::Result<(Connection, bool)> {
    let conn = read::open(db)?;
    let run = read::resolve_run(&conn, db, None)?;
    if computed_for(&conn, db, &run.run_id)? {
        return Ok((conn, false));
    }
    drop(conn);
    super::run(db, parquet, Some(&run.run_id))?;
    Ok((read::open(db)?, true))
}
