//! CSV output of a report: RFC 4180 (CRLF line ends; fields holding `"`,
//! `,`, CR or LF quoted, inner quotes doubled), UTF-8 without a BOM, a header
//! row of column names.
//!
//! Spreadsheets run a cell that starts with `=`, `+`, `-` or `@` (and, in
//! some, tab or CR) as a formula, and Tableau names are free text, so such
//! text cells get a leading `'` (OWASP's advice for CSV injection). Numbers
//! are JSON numbers in a [`ReportTable`], never text, so a negative count is
//! written as it is.
//!
//! NULL is an empty field; an empty string is a quoted empty field (`""`),
//! so the two stay apart when read back.

use std::io::Write;
use std::path::Path;

use serde_json::Value;

use super::model::ReportTable;
use super::ReportError;

/// Writes `table` to `path` as CSV, replacing the file. The file is written
/// beside its destination and renamed into place, so a reader never sees a
/// half-written report.
pub fn write_report_csv(path: &Path, table: &ReportTable) -> Result<(), ReportError> {
    let err = |source| ReportError::Write { path: path.to_owned(), source };
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    let partial = path.with_file_name(name);
    let written = std::fs::File::create(&partial).and_then(|file| {
        let mut out = std::io::BufWriter::new(file);
        write_csv(&mut out, table)?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&partial, path)) {
        let _ = std::fs::remove_file(&partial);
        return Err(err(e));
    }
    Ok(())
}

/// Writes `table` as CSV to `out`.
pub fn write_csv(out: &mut impl Write, table: &ReportTable) -> std::io::Result<()> {
    let header: Vec<String> = table.columns.iter().map(|c| field(&Value::from(c.name.as_str()))).collect();
    out.write_all(header.join(",").as_bytes())?;
    out.write_all(b"\r\n")?;
    for row in &table.rows {
        let cells: Vec<String> = row.iter().map(field).collect();
        out.write_all(cells.join(",").as_bytes())?;
        out.write_all(b"\r\n")?;
    }
    Ok(())
}

/// `table` as a CSV string.
pub fn to_csv_string(table: &ReportTable) -> String {
    let mut out = Vec::new();
    write_csv(&mut out, table).expect("writing to memory cannot fail");
    String::from_utf8(out).expect("every field is UTF-8")
}

/// One cell as a CSV field.
pub fn field(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => quote(&neutralise(s)),
        // Reports hold scalars; anything else is written as its JSON text.
        other => quote(&neutralise(&other.to_string())),
    }
}

/// Text a spreadsheet would take for a formula, with a leading `'`.
pub fn neutralise(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}").into()
    } else {
        text.into()
    }
}

/// Quotes a text field when it must be, and always when it is empty (an
/// unquoted empty field is NULL).
fn quote(text: &str) -> String {
    if text.is_empty() || text.contains(['"', ',', '\r', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::ReportColumn;
    use serde_json::json;

    fn table(columns: &[&str], rows: Vec<Vec<Value>>) -> ReportTable {
        ReportTable {
            slug: "t".into(),
            title: "T".into(),
            description: "D".into(),
            columns: columns.iter().map(|c| ReportColumn { name: c.to_string(), description: String::new() }).collect(),
            rows,
        }
    }

    #[test]
    fn quotes_what_rfc_4180_requires() {
        let t = table(
            &["a", "b"],
            vec![
                vec![json!("plain"), json!("a,b")],
                vec![json!("say \"hi\""), json!("two\nlines")],
                vec![json!("cr\rhere"), json!("Région 日本")],
            ],
        );
        assert_eq!(
            to_csv_string(&t),
            "a,b\r\nplain,\"a,b\"\r\n\"say \"\"hi\"\"\",\"two\nlines\"\r\n\"cr\rhere\",Région 日本\r\n"
        );
    }

    #[test]
    fn formula_text_is_neutralised_but_numbers_are_not() {
        let t = table(
            &["v"],
            vec![
                vec![json!("=1+1")],
                vec![json!("+1")],
                vec![json!("-5")],
                vec![json!("@SUM(A1)")],
                vec![json!("\tx")],
                vec![json!(-5)],
                vec![json!(-1.5)],
                vec![json!("a=b")],
                vec![json!("=HYPERLINK(\"x\")")],
            ],
        );
        assert_eq!(
            to_csv_string(&t),
            "v\r\n'=1+1\r\n'+1\r\n'-5\r\n'@SUM(A1)\r\n'\tx\r\n-5\r\n-1.5\r\na=b\r\n\"'=HYPERLINK(\"\"x\"\")\"\r\n"
        );
    }

    #[test]
    fn null_and_empty_text_differ() {
        let t = table(&["a", "b", "c"], vec![vec![Value::Null, json!(""), json!(true)]]);
        assert_eq!(to_csv_string(&t), "a,b,c\r\n,\"\",true\r\n");
    }

    #[test]
    fn writes_a_file_without_bom() {
        let dir = std::env::temp_dir().join(format!("trm-csv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.csv");
        write_report_csv(&path, &table(&["a"], vec![vec![json!("x")]])).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"a\r\nx\r\n");
        assert!(!dir.join("t.csv.partial").exists());
        let e = write_report_csv(&dir.join("missing/t.csv"), &table(&["a"], vec![])).unwrap_err();
        assert!(e.to_string().contains("missing/t.csv"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
