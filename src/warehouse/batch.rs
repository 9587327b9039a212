//! [`Rows`]: one table's rows built into an Arrow [`RecordBatch`], one
//! typed builder per column, every value checked against the table's
//! definition in [`schema`](super::schema) as it is pushed.
//!
//! A row is checked whole before any builder is touched, so a rejected row
//! leaves the batch as it was. `finish` builds the batch in the schema's
//! field order, so columns and schema cannot drift.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanBuilder, Int64Builder, StringBuilder, TimestampMicrosecondBuilder};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use super::schema::{self, Kind, Table};
use super::WarehouseError;

/// One value of a row. Times are Unix seconds, UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum V<'a> {
    Null,
    Text(&'a str),
    Int(i64),
    Bool(bool),
    /// Unix seconds, UTC.
    Time(i64),
}

impl V<'_> {
    fn describe(&self) -> String {
        match self {
            V::Null => "null".into(),
            V::Text(s) => format!("text {:?}", preview(s)),
            V::Int(i) => format!("integer {i}"),
            V::Bool(b) => format!("boolean {b}"),
            V::Time(t) => format!("time {t}"),
        }
    }
}

fn preview(s: &str) -> &str {
    match s.char_indices().nth(40) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

impl<'a> From<&'a str> for V<'a> {
    fn from(s: &'a str) -> Self {
        V::Text(s)
    }
}
impl<'a> From<&'a String> for V<'a> {
    fn from(s: &'a String) -> Self {
        V::Text(s)
    }
}
impl<'a> From<Option<&'a str>> for V<'a> {
    fn from(s: Option<&'a str>) -> Self {
        s.map_or(V::Null, V::Text)
    }
}
impl<'a> From<Option<&'a String>> for V<'a> {
    fn from(s: Option<&'a String>) -> Self {
        s.map_or(V::Null, |s| V::Text(s))
    }
}
impl From<i64> for V<'_> {
    fn from(i: i64) -> Self {
        V::Int(i)
    }
}
impl From<Option<i64>> for V<'_> {
    fn from(i: Option<i64>) -> Self {
        i.map_or(V::Null, V::Int)
    }
}
impl From<bool> for V<'_> {
    fn from(b: bool) -> Self {
        V::Bool(b)
    }
}
impl From<Option<bool>> for V<'_> {
    fn from(b: Option<bool>) -> Self {
        b.map_or(V::Null, V::Bool)
    }
}

enum Builder {
    Text(StringBuilder),
    Int(Int64Builder),
    Bool(BooleanBuilder),
    Time(TimestampMicrosecondBuilder),
}

impl Builder {
    fn new(kind: Kind) -> Builder {
        match kind {
            Kind::Text => Builder::Text(StringBuilder::new()),
            Kind::Int => Builder::Int(Int64Builder::new()),
            Kind::Bool => Builder::Bool(BooleanBuilder::new()),
            Kind::Time => Builder::Time(TimestampMicrosecondBuilder::new().with_timezone("UTC")),
        }
    }

    /// Appends a value already checked by [`check`].
    fn append(&mut self, v: V<'_>) {
        match (self, v) {
            (Builder::Text(b), V::Text(s)) => b.append_value(s),
            (Builder::Text(b), V::Null) => b.append_null(),
            (Builder::Int(b), V::Int(i)) => b.append_value(i),
            (Builder::Int(b), V::Null) => b.append_null(),
            (Builder::Bool(b), V::Bool(x)) => b.append_value(x),
            (Builder::Bool(b), V::Null) => b.append_null(),
            (Builder::Time(b), V::Time(t)) => b.append_value(t * MICROS),
            (Builder::Time(b), V::Null) => b.append_null(),
            _ => unreachable!("value checked before append"),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Text(b) => Arc::new(b.finish()),
            Builder::Int(b) => Arc::new(b.finish()),
            Builder::Bool(b) => Arc::new(b.finish()),
            Builder::Time(b) => Arc::new(b.finish()),
        }
    }
}

const MICROS: i64 = 1_000_000;
/// Times whose microseconds fit in an i64 (about ±292,000 years).
const MAX_SECONDS: i64 = i64::MAX / MICROS;

/// Rows per finished chunk of a [`Rows`]. A table of a million rows built
/// in one set of builders grows by doubling, and at each doubling holds the
/// old and the new buffer: in chunks, its peak stays near its size.
pub const CHUNK_ROWS: usize = 64 * 1024;

/// One table's rows, built into [`RecordBatch`]es with the table's schema.
pub struct Rows {
    table: &'static Table,
    schema: SchemaRef,
    builders: Vec<Builder>,
    /// Rows in `builders`.
    open: usize,
    done: Vec<RecordBatch>,
    len: usize,
}

impl Rows {
    /// Starts an empty batch for `table`.
    ///
    /// # Panics
    /// If `table` is not in [`schema::TABLES`]: a programming error.
    pub fn new(table: &'static str) -> Rows {
        let table = schema::table(table).unwrap_or_else(|| panic!("Rows::new: no warehouse table named '{table}'"));
        Rows {
            table,
            schema: table.schema(),
            builders: table.columns.iter().map(|c| Builder::new(c.kind)).collect(),
            open: 0,
            done: Vec::new(),
            len: 0,
        }
    }

    /// The table's name.
    pub fn table(&self) -> &'static str {
        self.table.name
    }

    /// Appends one row, values in the table's column order. A row of the
    /// wrong length, a value of the wrong type or a null in a required column
    /// is an error naming the table, the column and the row (counted from 1);
    /// the batch is then unchanged.
    pub fn push(&mut self, row: &[V<'_>]) -> Result<(), WarehouseError> {
        let columns = self.table.columns;
        let row_number = self.len + 1;
        let err = |column: &str, message: String| WarehouseError::Row {
            table: self.table.name,
            row: row_number,
            column: column.to_string(),
            message,
        };
        if row.len() != columns.len() {
            let (column, what) = match columns.get(row.len()) {
                Some(c) => (c.name, "missing"),
                None => ("(past the last)", "extra values"),
            };
            return Err(err(column, format!("{what}: the row has {} values for {} columns", row.len(), columns.len())));
        }
        for (c, v) in columns.iter().zip(row) {
            let ok = match (c.kind, v) {
                (_, V::Null) => c.nullable,
                (Kind::Text, V::Text(_)) | (Kind::Int, V::Int(_)) | (Kind::Bool, V::Bool(_)) => true,
                (Kind::Time, V::Time(t)) => (-MAX_SECONDS..=MAX_SECONDS).contains(t),
                _ => false,
            };
            if !ok {
                let message = match v {
                    V::Null => "null in a required column".to_string(),
                    V::Time(t) if c.kind == Kind::Time => format!("time {t} is out of range"),
                    _ => format!("expected {:?}, got {}", c.kind, v.describe()),
                };
                return Err(err(c.name, message));
            }
        }
        for (b, v) in self.builders.iter_mut().zip(row) {
            b.append(*v);
        }
        self.len += 1;
        self.open += 1;
        if self.open == CHUNK_ROWS {
            let chunk = self.finish_open();
            self.done.push(chunk);
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// All the rows in one batch, columns in schema order, with the
    /// table's schema.
    pub fn finish(self) -> RecordBatch {
        let schema = self.schema.clone();
        let name = self.table.name;
        let chunks = self.finish_chunks();
        match <[RecordBatch; 1]>::try_from(chunks) {
            Ok([one]) => one,
            Err(chunks) => arrow::compute::concat_batches(&schema, &chunks)
                .unwrap_or_else(|e| panic!("Rows::finish for {name}: chunks disagree with the schema: {e}")),
        }
    }

    /// The rows in batches of at most [`CHUNK_ROWS`], in push order: at
    /// least one batch, empty if no row was pushed.
    pub fn finish_chunks(mut self) -> Vec<RecordBatch> {
        if self.open > 0 || self.done.is_empty() {
            let last = self.finish_open();
            self.done.push(last);
        }
        self.done
    }

    fn finish_open(&mut self) -> RecordBatch {
        self.open = 0;
        let columns: Vec<ArrayRef> = self.builders.iter_mut().map(Builder::finish).collect();
        RecordBatch::try_new(self.schema.clone(), columns)
            .unwrap_or_else(|e| panic!("Rows::finish for {}: builders disagree with the schema: {e}", self.table.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, BooleanArray, Int64Array, StringArray, TimestampMicrosecondArray};

    fn view_row<'a>(id: &'a str, count: V<'a>) -> Vec<V<'a>> {
        vec![
            id.into(),
            "Sales".into(),
            V::Null,
            "wb-1".into(),
            Some("u-1").into(),
            V::Null,
            Some("sheet").into(),
            V::Time(1_767_268_800),
            V::Null,
            count,
            V::Null,
        ]
    }

    #[test]
    fn finish_gives_the_table_schema_in_order() {
        let mut rows = Rows::new("views");
        rows.push(&view_row("v1", V::Int(7))).unwrap();
        rows.push(&view_row("v2", V::Int(0))).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows.table(), "views");
        let batch = rows.finish();
        assert_eq!(batch.schema(), schema::table("views").unwrap().schema());
        assert_eq!(batch.num_rows(), 2);
        let ids = batch.column(0).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(ids.value(1), "v2");
        let created = batch.column(7).as_any().downcast_ref::<TimestampMicrosecondArray>().unwrap();
        assert_eq!(created.value(0), 1_767_268_800_000_000);
        assert_eq!(created.timezone(), Some("UTC"));
        assert!(batch.column(2).is_null(0));
        let counts = batch.column(9).as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(counts.values().to_vec(), vec![7, 0]);
    }

    #[test]
    fn large_tables_come_in_chunks_in_push_order() {
        let n = CHUNK_ROWS + 5;
        let ids: Vec<String> = (0..n).map(|i| format!("v{i}")).collect();
        let fill = || {
            let mut rows = Rows::new("views");
            for (i, id) in ids.iter().enumerate() {
                rows.push(&view_row(id, V::Int(i as i64))).unwrap();
            }
            rows
        };
        let chunks = fill().finish_chunks();
        assert_eq!(chunks.iter().map(RecordBatch::num_rows).collect::<Vec<_>>(), vec![CHUNK_ROWS, 5]);
        let last = chunks[1].column(0).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(last.value(4), format!("v{}", n - 1));
        let whole = fill().finish();
        assert_eq!(whole.num_rows(), n);
        let counts = whole.column(9).as_any().downcast_ref::<Int64Array>().unwrap();
        assert!(counts.values().iter().enumerate().all(|(i, c)| *c == i as i64));
        // Exactly one chunk's worth leaves no empty batch behind; no rows at
        // all still gives one (empty) batch, so the table is written.
        let mut exact = Rows::new("views");
        for id in &ids[..CHUNK_ROWS] {
            exact.push(&view_row(id, V::Int(1))).unwrap();
        }
        assert_eq!(exact.finish_chunks().len(), 1);
        let empty = Rows::new("views").finish_chunks();
        assert_eq!((empty.len(), empty[0].num_rows()), (1, 0));
    }

    #[test]
    fn empty_batch_has_the_schema() {
        let batch = Rows::new("tags").finish();
        assert_eq!(batch.num_rows(), 0);
        assert_eq!(batch.schema(), schema::table("tags").unwrap().schema());
    }

    #[test]
    fn wrong_type_names_table_column_and_row() {
        let mut rows = Rows::new("views");
        rows.push(&view_row("v1", V::Int(1))).unwrap();
        let e = rows.push(&view_row("v2", V::Text("12"))).unwrap_err().to_string();
        assert!(e.contains("views") && e.contains("total_view_count") && e.contains("row 2"), "{e}");
        assert!(e.contains("expected Int"), "{e}");
        // The failed row left nothing behind.
        assert_eq!(rows.len(), 1);
        rows.push(&view_row("v3", V::Int(3))).unwrap();
        let batch = rows.finish();
        assert_eq!(batch.num_rows(), 2);
        for c in batch.columns() {
            assert_eq!(c.len(), 2);
        }
    }

    #[test]
    fn null_in_required_column_is_an_error() {
        let mut rows = Rows::new("views");
        let e = rows.push(&view_row("v1", V::Null)).unwrap_err().to_string();
        assert!(
            e.contains("views") && e.contains("total_view_count") && e.contains("row 1") && e.contains("null"),
            "{e}"
        );
        let mut row = view_row("v1", V::Int(1));
        row[0] = V::Null;
        let e = rows.push(&row).unwrap_err().to_string();
        assert!(e.contains("view_luid"), "{e}");
        assert!(rows.is_empty());
    }

    #[test]
    fn wrong_arity_is_an_error() {
        let mut rows = Rows::new("group_memberships");
        let e = rows.push(&["g".into()]).unwrap_err().to_string();
        assert!(e.contains("group_memberships") && e.contains("user_luid") && e.contains("row 1"), "{e}");
        let e = rows.push(&["g".into(), "u".into(), "x".into()]).unwrap_err().to_string();
        assert!(e.contains("group_memberships") && e.contains("row 1") && e.contains("3 values for 2 columns"), "{e}");
        rows.push(&["g".into(), "u".into()]).unwrap();
        assert_eq!(rows.len(), 1);
    }

    #[test]
    fn bools_and_options_convert() {
        let mut rows = Rows::new("columns");
        let name = String::from("amount");
        rows.push(&[
            "c1".into(),
            None::<&str>.into(),
            (&name).into(),
            Some(&name).into(),
            Some(true).into(),
            "t1".into(),
        ])
        .unwrap();
        rows.push(&["c2".into(), V::Null, V::Null, V::Null, None::<bool>.into(), "t1".into()]).unwrap();
        let batch = rows.finish();
        let b = batch.column(4).as_any().downcast_ref::<BooleanArray>().unwrap();
        assert!(b.value(0));
        assert!(b.is_null(1));
    }

    #[test]
    #[should_panic(expected = "no warehouse table named 'nope'")]
    fn unknown_table_panics() {
        let _ = Rows::new("nope");
    }
}
