//! Running a report definition on a DuckDB connection: sets the report
//! variables, runs the query, checks its columns against the header, and
//! turns the Arrow result into a [`ReportTable`] of JSON scalars.
//!
//! Cell conventions (shared by the CSV and HTML outputs): text as strings;
//! integers as JSON integers; other numbers as JSON floats; booleans; NULL as
//! null; timestamps as ISO 8601 UTC text (`2026-01-01T12:00:00Z`, with a
//! fraction only when there is one); dates as `YYYY-MM-DD`.

use std::collections::BTreeMap;

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, Decimal128Type, Float16Type, Float32Type, Float64Type, Int16Type, Int32Type,
    Int64Type, Int8Type, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow::record_batch::RecordBatch;
use duckdb::Connection;
use serde_json::Value;

use super::definitions::Definition;
use super::model::ReportTable;
use super::ReportError;
use crate::time;

/// `SET VARIABLE name = value` for each entry, so report SQL can read them
/// with `getvariable('name')`. Names must be plain identifiers: they are
/// spliced into the statement.
pub fn set_variables(conn: &Connection, vars: &BTreeMap<String, i64>) -> Result<(), ReportError> {
    for (name, value) in vars {
        let plain = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !plain {
            return Err(ReportError::VariableName(name.clone()));
        }
        conn.execute_batch(&format!("SET VARIABLE {name} = {value}"))
            .map_err(|source| ReportError::SetVariable { name: name.clone(), source })?;
    }
    Ok(())
}

/// Sets `vars`, runs `def` and returns its rows. The query must return
/// exactly the header's columns, in order.
pub fn run(conn: &Connection, def: &Definition, vars: &BTreeMap<String, i64>) -> Result<ReportTable, ReportError> {
    set_variables(conn, vars)?;
    let query_err = |source| ReportError::Query { file: def.file.clone(), source };
    let mut stmt = conn.prepare(&def.sql).map_err(query_err)?;
    let result = stmt.query_arrow([]).map_err(query_err)?;
    let schema = result.get_schema();
    let batches: Vec<RecordBatch> = result.collect();

    let returned: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let declared: Vec<&str> = def.columns.iter().map(|c| c.name.as_str()).collect();
    if returned != declared {
        return Err(ReportError::Columns {
            file: def.file.clone(),
            declared: declared.join(", "),
            returned: returned.join(", "),
        });
    }

    let mut rows = Vec::with_capacity(batches.iter().map(|b| b.num_rows()).sum());
    for batch in &batches {
        let columns = batch
            .columns()
            .iter()
            .zip(schema.fields())
            .map(|(array, field)| {
                column_values(array).map_err(|data_type| ReportError::ColumnType {
                    file: def.file.clone(),
                    column: field.name().clone(),
                    data_type,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        for r in 0..batch.num_rows() {
            rows.push(columns.iter().map(|c| c[r].clone()).collect());
        }
    }
    Ok(ReportTable {
        slug: def.slug.clone(),
        title: def.title.clone(),
        description: def.description.clone(),
        columns: def.columns.clone(),
        rows,
    })
}

/// One column's cells, or the name of a type reports cannot show.
fn column_values(array: &ArrayRef) -> Result<Vec<Value>, String> {
    let n = array.len();
    let each = |f: &dyn Fn(usize) -> Value| -> Vec<Value> {
        (0..n).map(|i| if array.is_null(i) { Value::Null } else { f(i) }).collect()
    };
    let values = match array.data_type() {
        DataType::Null => vec![Value::Null; n],
        DataType::Boolean => each(&|i| Value::Bool(array.as_boolean().value(i))),
        DataType::Int8 => each(&|i| Value::from(array.as_primitive::<Int8Type>().value(i))),
        DataType::Int16 => each(&|i| Value::from(array.as_primitive::<Int16Type>().value(i))),
        DataType::Int32 => each(&|i| Value::from(array.as_primitive::<Int32Type>().value(i))),
        DataType::Int64 => each(&|i| Value::from(array.as_primitive::<Int64Type>().value(i))),
        DataType::UInt8 => each(&|i| Value::from(array.as_primitive::<UInt8Type>().value(i))),
        DataType::UInt16 => each(&|i| Value::from(array.as_primitive::<UInt16Type>().value(i))),
        DataType::UInt32 => each(&|i| Value::from(array.as_primitive::<UInt32Type>().value(i))),
        DataType::UInt64 => each(&|i| Value::from(array.as_primitive::<UInt64Type>().value(i))),
        DataType::Float16 => each(&|i| float(array.as_primitive::<Float16Type>().value(i).to_f64())),
        DataType::Float32 => each(&|i| float(array.as_primitive::<Float32Type>().value(i) as f64)),
        DataType::Float64 => each(&|i| float(array.as_primitive::<Float64Type>().value(i))),
        // DuckDB hands HUGEINT (what sum() of BIGINT returns) and DECIMAL over as Decimal128.
        DataType::Decimal128(_, scale) => {
            let scale = *scale;
            each(&|i| {
                let raw = array.as_primitive::<Decimal128Type>().value(i);
                match (scale, i64::try_from(raw)) {
                    (0, Ok(int)) => Value::from(int),
                    _ => float(raw as f64 / 10f64.powi(scale as i32)),
                }
            })
        }
        DataType::Utf8 => each(&|i| Value::from(array.as_string::<i32>().value(i))),
        DataType::LargeUtf8 => each(&|i| Value::from(array.as_string::<i64>().value(i))),
        DataType::Utf8View => each(&|i| Value::from(array.as_string_view().value(i))),
        // TIMESTAMPTZ and TIMESTAMP alike: the warehouse keeps every time in UTC.
        DataType::Timestamp(unit, _) => {
            let micros = |i: usize| match unit {
                TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(i).saturating_mul(1_000_000),
                TimeUnit::Millisecond => {
                    array.as_primitive::<TimestampMillisecondType>().value(i).saturating_mul(1_000)
                }
                TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().value(i),
                TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().value(i) / 1_000,
            };
            each(&|i| Value::from(time::iso_micros(micros(i))))
        }
        DataType::Date32 => each(&|i| Value::from(time::date(array.as_primitive::<Date32Type>().value(i) as i64 * 86_400))),
        DataType::Date64 => each(&|i| Value::from(time::date(array.as_primitive::<Date64Type>().value(i) / 1_000))),
        other => return Err(other.to_string()),
    };
    Ok(values)
}

/// A JSON number, or the value as text where JSON has none (NaN, ±inf).
fn float(f: f64) -> Value {
    serde_json::Number::from_f64(f).map_or_else(|| Value::from(f.to_string()), Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::definitions::parse;

    fn def(sql_body: &str, columns: &[&str]) -> Definition {
        let mut text = String::from("-- title: T\n-- description: D\n-- columns:\n");
        for c in columns {
            text += &format!("--   {c}: {c}\n");
        }
        text += sql_body;
        parse("t", "reports/t.sql", &text).unwrap()
    }

    fn run_one(sql_body: &str, columns: &[&str], vars: &[(&str, i64)]) -> Result<ReportTable, ReportError> {
        let conn = Connection::open_in_memory().unwrap();
        let vars = vars.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        run(&conn, &def(sql_body, columns), &vars)
    }

    #[test]
    fn cells_become_json_scalars() {
        let t = run_one(
            "SELECT 'x' AS s, CAST(-5 AS BIGINT) AS i, 42 AS small, sum(x) AS big, 1.5::DOUBLE AS f, 2.25::DECIMAL(9,2) AS d, \
             true AS b, NULL AS n, TIMESTAMPTZ '2026-01-01 12:00:00+00' AS ts, TIMESTAMP '2026-01-01 12:00:00.25' AS ts2, \
             DATE '2026-01-31' AS day FROM (SELECT CAST(7 AS BIGINT) AS x);",
            &["s", "i", "small", "big", "f", "d", "b", "n", "ts", "ts2", "day"],
            &[],
        )
        .unwrap();
        assert_eq!(
            serde_json::to_string(&t.rows).unwrap(),
            r#"[["x",-5,42,7,1.5,2.25,true,null,"2026-01-01T12:00:00Z","2026-01-01T12:00:00.250Z","2026-01-31"]]"#
        );
    }

    #[test]
    fn variables_reach_the_query_and_defaults_apply() {
        let sql = "SELECT coalesce(getvariable('unused_days'), 90) AS days";
        assert_eq!(run_one(sql, &["days"], &[]).unwrap().rows, vec![vec![Value::from(90)]]);
        assert_eq!(run_one(sql, &["days"], &[("unused_days", 30)]).unwrap().rows, vec![vec![Value::from(30)]]);
        let e = run_one(sql, &["days"], &[("x; DROP TABLE runs", 1)]).unwrap_err();
        assert!(e.to_string().contains("x; DROP TABLE runs"), "{e}");
    }

    #[test]
    fn columns_must_match_the_header() {
        let e = run_one("SELECT 1 AS b, 2 AS a", &["a", "b"], &[]).unwrap_err().to_string();
        assert!(e.contains("reports/t.sql") && e.contains("a, b") && e.contains("b, a"), "{e}");
        let e = run_one("SELECT 1 AS a", &["a", "b"], &[]).unwrap_err().to_string();
        assert!(e.contains("reports/t.sql"), "{e}");
    }

    #[test]
    fn query_errors_name_the_file() {
        let e = run_one("SELECT * FROM no_such_table", &["a"], &[]).unwrap_err();
        assert!(e.to_string().contains("reports/t.sql"), "{e}");
    }

    #[test]
    fn empty_results_keep_their_columns() {
        let t = run_one("SELECT 1 AS a WHERE false", &["a"], &[]).unwrap();
        assert!(t.rows.is_empty());
        assert_eq!(t.columns[0].name, "a");
    }
}
