//! The users CSV: one row per user, read into the state the site should
//! reach.
//!
//! ```text
//! username,site_role,email,full_name,auth_setting,groups
//! ana@example.com,Explorer,ana@example.com,Ana Lima,ServerDefault,Sales;Finance EMEA
//! ```
//!
//! `username` and `site_role` are required columns; the others are
//! optional. An empty optional cell leaves that setting as it is on the
//! site, except `groups`: with the column present, an empty cell means "in
//! none of the groups the file manages". Problems with one row are
//! [`RowError`]s naming the line, column and value, and do not stop the
//! other rows; problems with the file itself are a [`FileError`].

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::Serialize;

/// Tableau's site role names, as the REST API writes them.
pub const SITE_ROLES: &[&str] = &[
    "Creator",
    "Explorer",
    "ExplorerCanPublish",
    "SiteAdministratorCreator",
    "SiteAdministratorExplorer",
    "Unlicensed",
    "Viewer",
    // Only a server administrator has it; accepted so an exported file
    // reads back, never something sync sets.
    "ServerAdministrator",
];

/// The longest group name accepted: 255 characters, the size of Tableau's
/// name columns. (Tableau's REST reference states no limit; a longer name
/// would fail at the server anyway, so it is refused per row before any
/// call.)
pub const MAX_GROUP_NAME: usize = 255;

/// The group every user is in; Tableau manages it, so a file never does.
pub const ALL_USERS: &str = "All Users";

/// A site role by Tableau's name, ignoring case. The names older servers
/// used are accepted and mapped the way Tableau maps them.
pub fn canonical_role(name: &str) -> Option<&'static str> {
    let name = name.trim();
    if let Some(r) = SITE_ROLES.iter().find(|r| r.eq_ignore_ascii_case(name)) {
        return Some(r);
    }
    let legacy = [
        ("SiteAdministrator", "SiteAdministratorExplorer"),
        ("Publisher", "ExplorerCanPublish"),
        ("Interactor", "Explorer"),
        ("ReadOnly", "Viewer"),
    ];
    legacy
        .iter()
        .find(|(old, _)| old.eq_ignore_ascii_case(name))
        .map(|(_, new)| *new)
}

/// Whether `s` looks like an email address: one `@`, something before it,
/// a dotted domain after it, no spaces.
pub fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && !s.chars().any(char::is_whitespace)
        && domain.split('.').count() >= 2
        && domain.split('.').all(|part| !part.is_empty())
}

/// The columns a file may have, in the order `trm users export` writes them.
pub const COLUMNS: &[&str] = &[
    "username",
    "site_role",
    "email",
    "full_name",
    "auth_setting",
    "groups",
];

/// One valid row: what the site should hold for one user.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The file's line the row starts on (the header is line 1).
    pub line: u64,
    pub username: String,
    /// A name from [`SITE_ROLES`].
    pub site_role: &'static str,
    /// `None`: leave as it is.
    pub email: Option<String>,
    pub full_name: Option<String>,
    pub auth_setting: Option<String>,
    /// Group names as written (deduplicated ignoring case); only meaningful
    /// when the file has a `groups` column.
    pub groups: Vec<String>,
}

impl Row {
    /// What failures of this row's calls are reported against.
    pub fn unit(&self) -> String {
        format!("line {} ({})", self.line, self.username)
    }
}

/// A row the file cannot apply, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RowError {
    pub line: u64,
    /// The row's user name, when it has one.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub username: String,
    pub column: String,
    pub value: String,
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}", self.line)?;
        if !self.username.is_empty() {
            write!(f, " ({})", self.username)?;
        }
        write!(f, ", column {}", self.column)?;
        if !self.value.is_empty() {
            write!(f, ", value {:?}", self.value)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A problem with the whole file: nothing in it is applied.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: line {line}: {message}")]
    Csv {
        path: String,
        line: u64,
        message: String,
    },
    #[error("{path}: the header has no '{column}' column (columns: {})", COLUMNS.join(", "))]
    MissingColumn { path: String, column: &'static str },
    #[error("{path}: unknown column '{column}' in the header (columns: {})", COLUMNS.join(", "))]
    UnknownColumn { path: String, column: String },
    #[error("{path}: column '{column}' appears twice in the header")]
    DuplicateColumn { path: String, column: String },
    #[error("{path} is empty: it needs a header row ({})", COLUMNS.join(", "))]
    Empty { path: String },
}

/// A parsed file: its valid rows, its bad rows, and which optional columns
/// it has.
#[derive(Clone, Debug, Default)]
pub struct UserFile {
    pub rows: Vec<Row>,
    pub errors: Vec<RowError>,
    pub has_email: bool,
    pub has_full_name: bool,
    pub has_auth_setting: bool,
    pub has_groups: bool,
    /// Every user name the file names (lower case), on valid rows and bad
    /// ones: these users are never "missing" from the file.
    pub named: HashSet<String>,
}

impl UserFile {
    /// Reads and parses a file.
    pub fn read(path: &Path) -> Result<UserFile, FileError> {
        let bytes = std::fs::read(path).map_err(|source| FileError::Read {
            path: path.display().to_string(),
            source,
        })?;
        UserFile::parse(&bytes, &path.display().to_string())
    }

    /// Parses CSV bytes (UTF-8, with or without a byte order mark, RFC 4180
    /// quoting). `path` is what errors name.
    pub fn parse(bytes: &[u8], path: &str) -> Result<UserFile, FileError> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(bytes);
        let mut records = reader.byte_records();
        let csv_error = |e: csv::Error| FileError::Csv {
            path: path.to_string(),
            line: e.position().map(|p| p.line()).unwrap_or(0),
            message: e.to_string(),
        };
        let header = match records.next() {
            None => {
                return Err(FileError::Empty {
                    path: path.to_string(),
                })
            }
            Some(r) => r.map_err(csv_error)?,
        };
        let mut at: HashMap<&'static str, usize> = HashMap::new();
        for (i, raw) in header.iter().enumerate() {
            let name = String::from_utf8_lossy(raw).trim().to_ascii_lowercase();
            let Some(col) = COLUMNS.iter().find(|c| **c == name) else {
                return Err(FileError::UnknownColumn {
                    path: path.to_string(),
                    column: name,
                });
            };
            if at.insert(*col, i).is_some() {
                return Err(FileError::DuplicateColumn {
                    path: path.to_string(),
                    column: name,
                });
            }
        }
        for required in ["username", "site_role"] {
            if !at.contains_key(required) {
                return Err(FileError::MissingColumn {
                    path: path.to_string(),
                    column: required,
                });
            }
        }
        let mut file = UserFile {
            has_email: at.contains_key("email"),
            has_full_name: at.contains_key("full_name"),
            has_auth_setting: at.contains_key("auth_setting"),
            has_groups: at.contains_key("groups"),
            ..UserFile::default()
        };
        // First line of each user name, to name it in duplicate errors.
        let mut first_line: HashMap<String, u64> = HashMap::new();
        for record in records {
            let record = record.map_err(csv_error)?;
            let line = record.position().map(|p| p.line()).unwrap_or(0);
            if record.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
                continue;
            }
            let cell = |col: &str| -> Result<String, RowError> {
                let Some(&i) = at.get(col) else {
                    return Ok(String::new());
                };
                let raw = record.get(i).unwrap_or(b"");
                std::str::from_utf8(raw)
                    .map(|s| s.trim().to_string())
                    .map_err(|_| RowError {
                        line,
                        username: String::new(),
                        column: col.to_string(),
                        value: String::from_utf8_lossy(raw).into_owned(),
                        message: "is not UTF-8".into(),
                    })
            };
            match parse_row(line, &record, header.len(), &cell, &mut first_line) {
                Ok(row) => {
                    file.named.insert(row.username.to_lowercase());
                    file.rows.push(row);
                }
                Err(e) => {
                    if !e.username.is_empty() {
                        file.named.insert(e.username.to_lowercase());
                    }
                    file.errors.push(e);
                }
            }
        }
        Ok(file)
    }
}

/// One data row, checked column by column; the first problem is the error.
fn parse_row(
    line: u64,
    record: &csv::ByteRecord,
    width: usize,
    cell: &dyn Fn(&str) -> Result<String, RowError>,
    first_line: &mut HashMap<String, u64>,
) -> Result<Row, RowError> {
    let username = cell("username")?;
    let err = |column: &str, value: &str, message: String| RowError {
        line,
        username: username.clone(),
        column: column.to_string(),
        value: value.to_string(),
        message,
    };
    if record.len() > width {
        return Err(err(
            "(row)",
            "",
            format!("has {} fields; the header has {width}", record.len()),
        ));
    }
    if username.is_empty() {
        return Err(err("username", "", "is empty".into()));
    }
    let key = username.to_lowercase();
    if let Some(first) = first_line.get(&key) {
        return Err(err(
            "username",
            &username,
            format!("duplicate user name: line {first} already names this user"),
        ));
    }
    first_line.insert(key, line);

    let role_text = cell("site_role")?;
    let site_role = canonical_role(&role_text).ok_or_else(|| {
        let message = if role_text.is_empty() {
            "is empty".to_string()
        } else {
            format!(
                "unknown site role; use one of {}",
                SITE_ROLES[..7].join(", ")
            )
        };
        err("site_role", &role_text, message)
    })?;

    let optional = |s: String| if s.is_empty() { None } else { Some(s) };
    let email = optional(cell("email")?);
    if let Some(e) = &email {
        if !valid_email(e) {
            return Err(err("email", e, "is not an email address".into()));
        }
    }
    let full_name = optional(cell("full_name")?);
    let auth_setting = optional(cell("auth_setting")?);

    let mut groups: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let groups_text = cell("groups")?;
    for name in groups_text
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if name.chars().count() > MAX_GROUP_NAME {
            return Err(err(
                "groups",
                name,
                format!(
                    "group name is {} characters; Tableau allows {MAX_GROUP_NAME}",
                    name.chars().count()
                ),
            ));
        }
        if seen.insert(name.to_lowercase()) {
            groups.push(name.to_string());
        }
    }
    Ok(Row {
        line,
        username,
        site_role,
        email,
        full_name,
        auth_setting,
        groups,
    })
}

/// One user as `trm users export` writes it.
#[derive(Clone, Debug)]
pub struct ExportRow {
    pub username: String,
    pub site_role: String,
    pub email: String,
    pub full_name: String,
    pub auth_setting: String,
    pub groups: Vec<String>,
}

/// Writes rows in the file format, header first.
pub fn write_csv<W: std::io::Write>(out: W, rows: &[ExportRow]) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(COLUMNS)?;
    for r in rows {
        let groups = r.groups.join(";");
        w.write_record([
            &r.username,
            &r.site_role,
            &r.email,
            &r.full_name,
            &r.auth_setting,
            &groups,
        ])?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> UserFile {
        UserFile::parse(text.as_bytes(), "users.csv").unwrap()
    }

    #[test]
    fn reads_quoting_bom_and_optional_columns() {
        let text = "\u{feff}username,site_role,full_name,groups\n\
                    a@x.com,Viewer,\"Lima, Ana\",\"Sales; Finance \"\"EMEA\"\"\"\n\
                    b@x.com,interactor,,\n";
        let f = parse(text);
        assert!(f.errors.is_empty(), "{:?}", f.errors);
        assert!(f.has_groups && f.has_full_name && !f.has_email && !f.has_auth_setting);
        assert_eq!(f.rows[0].full_name.as_deref(), Some("Lima, Ana"));
        assert_eq!(
            f.rows[0].groups,
            vec!["Sales".to_string(), "Finance \"EMEA\"".to_string()]
        );
        assert_eq!(
            (
                f.rows[1].line,
                f.rows[1].site_role,
                f.rows[1].full_name.clone()
            ),
            (3, "Explorer", None)
        );
    }

    #[test]
    fn bad_rows_name_line_column_and_value() {
        let long = "g".repeat(MAX_GROUP_NAME + 1);
        let text = format!(
            "username,site_role,email,groups\n\
             ok@x.com,Viewer,ok@x.com,A\n\
             w@x.com,Wizard,,\n\
             OK@x.com,Viewer,,\n\
             e@x.com,Viewer,not-an-email,\n\
             l@x.com,Viewer,,{long}\n\
             ,Viewer,,\n"
        );
        let f = parse(&text);
        assert_eq!(f.rows.len(), 1);
        let got: Vec<(u64, &str, &str)> = f
            .errors
            .iter()
            .map(|e| (e.line, e.column.as_str(), e.value.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (3, "site_role", "Wizard"),
                (4, "username", "OK@x.com"),
                (5, "email", "not-an-email"),
                (6, "groups", long.as_str()),
                (7, "username", ""),
            ]
        );
        assert!(
            f.errors[1].message.contains("line 2"),
            "{}",
            f.errors[1].message
        );
        assert!(f.named.contains("w@x.com") && f.named.contains("e@x.com"));
    }

    #[test]
    fn file_errors_stop_everything() {
        let e = UserFile::parse(b"user,site_role\n", "f.csv").unwrap_err();
        assert!(e.to_string().contains("unknown column 'user'"), "{e}");
        let e = UserFile::parse(b"username,email\n", "f.csv").unwrap_err();
        assert!(e.to_string().contains("no 'site_role'"), "{e}");
        assert!(matches!(
            UserFile::parse(b"", "f.csv"),
            Err(FileError::Empty { .. })
        ));
    }

    #[test]
    fn roles_and_emails() {
        assert_eq!(
            canonical_role("SiteAdministrator"),
            Some("SiteAdministratorExplorer")
        );
        assert_eq!(canonical_role("publisher"), Some("ExplorerCanPublish"));
        assert_eq!(canonical_role("creator"), Some("Creator"));
        assert_eq!(canonical_role("Admin"), None);
        assert!(valid_email("a.b@example.co.uk"));
        for bad in ["a@b", "@b.com", "a@@b.com", "a b@c.com", "a@.com", "a@b."] {
            assert!(!valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn export_reads_back() {
        let rows = vec![ExportRow {
            username: "a@x.com".into(),
            site_role: "Viewer".into(),
            email: "a@x.com".into(),
            full_name: "Lima, \"Ana\"".into(),
            auth_setting: "ServerDefault".into(),
            groups: vec!["G 1".into(), "G,2".into()],
        }];
        let mut out = Vec::new();
        write_csv(&mut out, &rows).unwrap();
        let f = parse(std::str::from_utf8(&out).unwrap());
        assert!(f.errors.is_empty());
        assert_eq!(f.rows[0].full_name.as_deref(), Some("Lima, \"Ana\""));
        assert_eq!(f.rows[0].groups, vec!["G 1".to_string(), "G,2".to_string()]);
    }
}
