//! Report definitions: a SQL file whose leading comment block says what the
//! report is. This module owns the header format, the reports built into the
//! binary (every `reports/*.sql`, embedded by `build.rs`), and loading more
//! from a directory, where a file overrides the built-in report of the same
//! name.
//!
//! The header is the run of `--` lines at the top of the file:
//!
//! ```sql
//! -- title: Unused dashboards
//! -- description: Dashboards with no views in the usage window,
//! --   continued on indented lines.
//! -- columns:
//! --   dashboard_luid: REST id (LUID) of the dashboard's view
//! --   lifetime_views: views since publication,
//! --     continued on deeper-indented lines
//! SELECT ...
//! ```
//!
//! `title`, `description` and `columns` are each required once; the query's
//! result columns must be exactly the listed ones, in that order (checked
//! when the report runs). The whole file, header included, is the SQL, so a
//! file runs unchanged in the `duckdb` CLI and DuckDB's error positions match
//! the file's lines.

use std::collections::BTreeMap;
use std::path::Path;

use super::model::ReportColumn;
use super::ReportError;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/reports.rs"));
}

/// One report: what it is called, what it shows, and its SQL.
#[derive(Debug, Clone)]
pub struct Definition {
    /// File stem: `unused_dashboards`. Names the CSV file too.
    pub slug: String,
    /// Where the definition came from (`reports/usage.sql` for a built-in,
    /// the path for a loaded file), for error messages.
    pub file: String,
    pub title: String,
    pub description: String,
    pub columns: Vec<ReportColumn>,
    /// The whole file: header comments and the query.
    pub sql: String,
}

/// A definition file that cannot be understood, with the line at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct DefinitionError {
    pub file: String,
    /// 1-based; `None` when the problem is the file as a whole.
    pub line: Option<usize>,
    pub message: String,
}

/// Which part of the header indented lines continue.
enum Section {
    None,
    Title,
    Description,
    Columns,
}

/// Parses one definition. `slug` is the file stem, `file` names the file in
/// errors.
pub fn parse(slug: &str, file: &str, text: &str) -> Result<Definition, DefinitionError> {
    let err = |line: Option<usize>, message: String| DefinitionError { file: file.to_string(), line, message };
    if slug.is_empty() || !slug.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(err(
            None,
            format!("'{slug}' cannot name a report: use letters, digits, '_' or '-' in the file name (it names the CSV file too)"),
        ));
    }

    let mut title: Option<String> = None;
    let mut description: Option<String> = None;
    let mut columns: Option<Vec<ReportColumn>> = None;
    let mut section = Section::None;
    // Indentation of the column entries; deeper lines continue the last one.
    let mut column_indent: Option<usize> = None;
    let mut last_header_line = 0;

    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let line = raw.trim_end();
        let Some(comment) = line.trim_start().strip_prefix("--") else {
            if line.trim().is_empty() && title.is_none() && description.is_none() && columns.is_none() {
                continue; // blank lines before the header
            }
            break;
        };
        last_header_line = number;
        // One space after `--` is the marker's; more is indentation.
        let comment = comment.strip_prefix(' ').unwrap_or(comment);
        if comment.trim().is_empty() {
            continue;
        }
        let indent = comment.len() - comment.trim_start().len();
        let content = comment.trim();

        if indent == 0 {
            let Some((key, value)) = content.split_once(':') else {
                return Err(err(
                    Some(number),
                    format!("expected 'title:', 'description:' or 'columns:' here, found '{content}' (indent a line to continue the previous entry)"),
                ));
            };
            let value = value.trim().to_string();
            let duplicate = |what: &str| err(Some(number), format!("'{what}:' appears twice in the header"));
            match key.trim() {
                "title" => {
                    if title.is_some() {
                        return Err(duplicate("title"));
                    }
                    title = Some(value);
                    section = Section::Title;
                }
                "description" => {
                    if description.is_some() {
                        return Err(duplicate("description"));
                    }
                    description = Some(value);
                    section = Section::Description;
                }
                "columns" => {
                    if columns.is_some() {
                        return Err(duplicate("columns"));
                    }
                    if !value.is_empty() {
                        return Err(err(
                            Some(number),
                            "list the columns on the lines after 'columns:', one indented 'name: description' each"
                                .into(),
                        ));
                    }
                    columns = Some(Vec::new());
                    column_indent = None;
                    section = Section::Columns;
                }
                other => {
                    return Err(err(
                        Some(number),
                        format!("unknown header entry '{other}:' (expected title, description or columns)"),
                    ))
                }
            }
            continue;
        }

        match section {
            Section::None => {
                return Err(err(
                    Some(number),
                    format!("indented line '{content}' before any 'title:', 'description:' or 'columns:'"),
                ))
            }
            Section::Title => append(title.as_mut().expect("in the title section"), content),
            Section::Description => append(description.as_mut().expect("in the description section"), content),
            Section::Columns => {
                let list = columns.as_mut().expect("in the columns section");
                match column_indent {
                    Some(entry) if indent > entry => {
                        let last = list.last_mut().expect("an entry set column_indent");
                        append(&mut last.description, content);
                        continue;
                    }
                    Some(entry) if indent < entry => {
                        return Err(err(
                            Some(number),
                            format!("column entry '{content}' is indented less than the ones before it"),
                        ))
                    }
                    _ => {}
                }
                let Some((name, what)) = content.split_once(':') else {
                    return Err(err(
                        Some(number),
                        format!("expected 'name: description' for a column, found '{content}'"),
                    ));
                };
                let name = name.trim();
                if !is_identifier(name) {
                    return Err(err(
                        Some(number),
                        format!(
                            "'{name}' cannot name a column: use letters, digits and '_', not starting with a digit"
                        ),
                    ));
                }
                if list.iter().any(|c| c.name == name) {
                    return Err(err(Some(number), format!("column '{name}' is listed twice")));
                }
                column_indent = Some(indent);
                list.push(ReportColumn { name: name.to_string(), description: what.trim().to_string() });
            }
        }
    }

    let at_end = Some(last_header_line.max(1));
    let title = title
        .filter(|t| !t.is_empty())
        .ok_or_else(|| err(at_end, "the header has no 'title:' (or it is empty)".into()))?;
    let description = description
        .filter(|d| !d.is_empty())
        .ok_or_else(|| err(at_end, "the header has no 'description:' (or it is empty)".into()))?;
    let columns = columns.filter(|c| !c.is_empty()).ok_or_else(|| {
        err(
            at_end,
            "the header lists no columns: add 'columns:' and one indented 'name: description' line per column".into(),
        )
    })?;
    if text.lines().skip(last_header_line).all(|l| l.trim().is_empty() || l.trim_start().starts_with("--")) {
        return Err(err(at_end, "there is no query after the header".into()));
    }
    Ok(Definition {
        slug: slug.to_string(),
        file: file.to_string(),
        title,
        description,
        columns,
        sql: text.to_string(),
    })
}

fn append(to: &mut String, more: &str) {
    if !to.is_empty() {
        to.push(' ');
    }
    to.push_str(more);
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The reports built into the binary, by slug.
pub fn built_in() -> Result<Vec<Definition>, DefinitionError> {
    embedded::BUILT_IN.iter().map(|(slug, file, text)| parse(slug, file, text)).collect()
}

/// Every `*.sql` file in `dir`, by slug. Other files are ignored, so a
/// README can sit beside them.
pub fn load_dir(dir: &Path) -> Result<Vec<Definition>, ReportError> {
    let read_err = |source| ReportError::ReadDir { path: dir.to_owned(), source };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let path = entry.map_err(read_err)?.path();
        if path.extension().is_some_and(|x| x == "sql") && path.is_file() {
            paths.push(path);
        }
    }
    paths.sort();
    let mut defs = Vec::new();
    for path in paths {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|source| ReportError::Read { path: path.clone(), source })?;
        let slug = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        defs.push(parse(slug, &file, &text)?);
    }
    Ok(defs)
}

/// The built-in reports, with those in `extra` (if given) added and
/// replacing built-ins of the same slug; ordered by slug.
pub fn load(extra: Option<&Path>) -> Result<Vec<Definition>, ReportError> {
    let mut extra_defs = Vec::new();
    if let Some(dir) = extra {
        extra_defs = load_dir(dir)?;
    }
    Ok(merge(built_in()?, extra_defs))
}

/// `base` with `overrides` added, an override replacing the base definition
/// of the same slug; ordered by slug.
pub fn merge(base: Vec<Definition>, overrides: Vec<Definition>) -> Vec<Definition> {
    let mut by_slug: BTreeMap<String, Definition> = base.into_iter().map(|d| (d.slug.clone(), d)).collect();
    for d in overrides {
        by_slug.insert(d.slug.clone(), d);
    }
    by_slug.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\n-- title: Unused dashboards\n-- description: Dashboards nobody opened\n--   in the window.\n-- columns:\n--   dashboard_id: REST id\n--   views: lifetime views,\n--     never negative\n\n-- a comment in the body\nSELECT 1 AS dashboard_id, 2 AS views\n";

    fn parse_err(text: &str) -> DefinitionError {
        parse("r", "reports/r.sql", text).unwrap_err()
    }

    #[test]
    fn parses_title_description_and_columns() {
        let d = parse("unused", "reports/unused.sql", GOOD).unwrap();
        assert_eq!(d.title, "Unused dashboards");
        assert_eq!(d.description, "Dashboards nobody opened in the window.");
        let cols: Vec<(&str, &str)> = d.columns.iter().map(|c| (c.name.as_str(), c.description.as_str())).collect();
        assert_eq!(cols, vec![("dashboard_id", "REST id"), ("views", "lifetime views, never negative")]);
        assert_eq!(d.sql, GOOD, "the whole file is the SQL, so line numbers agree");
    }

    #[test]
    fn every_built_in_report_parses() {
        let defs = built_in().unwrap();
        assert!(defs.len() >= 10, "{} built-in reports", defs.len());
        for d in &defs {
            assert_eq!(d.file, format!("reports/{}.sql", d.slug));
        }
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let e = parse_err("-- title: A\n-- descripton: typo\n-- columns:\n--   a: x\nSELECT 1 AS a");
        assert_eq!((e.file.as_str(), e.line), ("reports/r.sql", Some(2)));
        assert!(e.to_string().starts_with("reports/r.sql:2: unknown header entry 'descripton:'"), "{e}");

        let e = parse_err("-- title: A\n-- description: B\n-- columns:\n--   a: x\n--   a: y\nSELECT 1 AS a");
        assert_eq!(e.line, Some(5));
        assert!(e.message.contains("listed twice"), "{e}");

        let e = parse_err("-- title: A\n-- description: B\n-- columns:\n--   bad name: x\nSELECT 1");
        assert_eq!(e.line, Some(4));

        let e = parse_err("-- title: A\n-- description: B\nSELECT 1");
        assert!(e.message.contains("no columns"), "{e}");

        let e = parse_err("-- title: A\n-- description: B\n-- columns:\n--   a: x\n");
        assert!(e.message.contains("no query"), "{e}");

        let e = parse_err("-- title: A\n-- title: B\n");
        assert_eq!(e.line, Some(2));

        let e = parse("bad slug", "x/bad slug.sql", GOOD).unwrap_err();
        assert_eq!(e.line, None);
        assert!(e.to_string().starts_with("x/bad slug.sql: "), "{e}");
    }

    #[test]
    fn overrides_replace_by_slug() {
        let a = parse("a", "reports/a.sql", GOOD).unwrap();
        let b = parse("b", "reports/b.sql", GOOD).unwrap();
        let mut b2 = parse("b", "mine/b.sql", GOOD).unwrap();
        b2.title = "Mine".into();
        let c = parse("c", "mine/c.sql", GOOD).unwrap();
        let merged = merge(vec![b, a], vec![c, b2]);
        let got: Vec<(&str, &str)> = merged.iter().map(|d| (d.slug.as_str(), d.file.as_str())).collect();
        assert_eq!(got, vec![("a", "reports/a.sql"), ("b", "mine/b.sql"), ("c", "mine/c.sql")]);
    }
}
