//! The full-text index: one document per asset of a warehouse run, kept in
//! a directory beside the DuckDB file (`trm.duckdb.search/`) with the id of
//! the run it holds, so a new run is noticed and the index rebuilt.
//!
//! Each document has the asset's kind and id, the texts people search
//! (names, descriptions, formulas and custom SQL, project path, owner,
//! tags) and keyword fields for the filters (`--kind`, `--project`,
//! `--owner`, `--tag`), lowercased so filters ignore case.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use duckdb::Connection;
use serde::{Deserialize, Serialize};
use tantivy::schema::{Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, STORED, STRING};
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RawTokenizer, RemoveLongFilter, SimpleTokenizer, TextAnalyzer, TokenStream as _,
};
use tantivy::{Index, IndexWriter, TantivyDocument};

use crate::warehouse::read::{self, RunRef};
use crate::warehouse::schema;

/// Bumped when the documents or the schema change, so an index built by an
/// older TRM is rebuilt.
pub const FORMAT: u32 = 1;

/// The analyzer of words: split on anything not a letter or digit,
/// lowercase, fold accents (`Québec` finds `Quebec` and back).
pub const WORDS: &str = "trm_words";
/// The analyzer of whole names: one token, lowercased and folded.
pub const EXACT: &str = "trm_exact";

/// Words longer than this are not indexed (hashes, base64 in SQL).
const LONGEST_WORD: usize = 64;

/// Where the index of the warehouse `db` lives.
pub fn dir_for(db: &Path) -> PathBuf {
    let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".search");
    db.with_file_name(name)
}

/// What the index holds, written last so a half-built index is never taken
/// for a whole one.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Meta {
    pub format: u32,
    pub run_id: String,
    pub documents: u64,
}

const META_FILE: &str = "trm-search.json";

pub fn read_meta(dir: &Path) -> Option<Meta> {
    let text = std::fs::read_to_string(dir.join(META_FILE)).ok()?;
    serde_json::from_str(&text).ok()
}

/// The index's fields.
#[derive(Clone, Copy)]
pub struct Fields {
    pub kind: Field,
    pub id: Field,
    pub id_column: Field,
    pub name: Field,
    pub name_exact: Field,
    /// Other names: a user's full name and email, a table's full name.
    pub alt: Field,
    pub description: Field,
    /// A calculated field's formula or a custom SQL table's query.
    pub formula: Field,
    pub project: Field,
    pub project_key: Field,
    pub owner: Field,
    pub owner_name: Field,
    pub owner_key: Field,
    pub tags: Field,
    pub tag_key: Field,
    /// Where the asset is: a field's datasource, a column's table.
    pub context: Field,
}

pub fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let words = |stored: bool| {
        let o = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(WORDS)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        if stored {
            o.set_stored()
        } else {
            o
        }
    };
    let exact = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default().set_tokenizer(EXACT).set_index_option(IndexRecordOption::Basic),
    );
    let fields = Fields {
        kind: b.add_text_field("kind", STRING | STORED),
        id: b.add_text_field("id", STRING | STORED),
        id_column: b.add_text_field("id_column", STORED),
        name: b.add_text_field("name", words(true)),
        name_exact: b.add_text_field("name_exact", exact),
        alt: b.add_text_field("alt", words(true)),
        description: b.add_text_field("description", words(true)),
        formula: b.add_text_field("formula", words(true)),
        project: b.add_text_field("project", words(true)),
        project_key: b.add_text_field("project_key", STRING),
        owner: b.add_text_field("owner", words(true)),
        owner_name: b.add_text_field("owner_name", STORED),
        owner_key: b.add_text_field("owner_key", STRING),
        tags: b.add_text_field("tags", words(true)),
        tag_key: b.add_text_field("tag_key", STRING),
        context: b.add_text_field("context", words(true)),
    };
    (b.build(), fields)
}

pub fn words_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(LONGEST_WORD))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

pub fn exact_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(RawTokenizer::default()).filter(LowerCaser).filter(AsciiFoldingFilter).build()
}

/// A keyword as the filter fields hold it: trimmed, lowercased.
pub fn key(text: &str) -> String {
    text.trim().to_lowercase()
}

/// The analyzed words of `text`, in order.
pub fn words(text: &str) -> Vec<String> {
    let mut a = words_analyzer();
    let mut stream = a.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

/// `text` as one exact-name token.
pub fn exact(text: &str) -> String {
    let mut a = exact_analyzer();
    let squashed = squash(text);
    let mut stream = a.token_stream(&squashed);
    let mut out = String::new();
    while stream.advance() {
        out.push_str(&stream.token().text);
    }
    out
}

/// Runs of whitespace as one space, so `EMEA  Pipeline` is `EMEA Pipeline`.
fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn register(index: &Index) {
    index.tokenizers().register(WORDS, words_analyzer());
    index.tokenizers().register(EXACT, exact_analyzer());
}

/// Opens the index in `dir`.
pub fn open(dir: &Path) -> anyhow::Result<(Index, Fields)> {
    let index = Index::open_in_dir(dir).with_context(|| format!("cannot open the search index {}", dir.display()))?;
    register(&index);
    let (_, fields) = schema();
    Ok((index, fields))
}

/// One asset, as indexed.
#[derive(Default)]
struct Doc<'a> {
    kind: &'a str,
    id: String,
    id_column: &'a str,
    name: String,
    alt: Vec<String>,
    description: Option<String>,
    formula: Option<String>,
    project: Option<&'a str>,
    owner: Option<&'a Owner>,
    tags: &'a [String],
    context: Option<String>,
}

struct Owner {
    name: String,
    full_name: Option<String>,
    email: Option<String>,
}

fn to_document(f: &Fields, d: &Doc) -> TantivyDocument {
    let mut doc = TantivyDocument::default();
    doc.add_text(f.kind, d.kind);
    doc.add_text(f.id, &d.id);
    doc.add_text(f.id_column, d.id_column);
    doc.add_text(f.name, &d.name);
    doc.add_text(f.name_exact, squash(&d.name));
    for a in d.alt.iter().filter(|a| !a.is_empty()) {
        doc.add_text(f.alt, a);
        doc.add_text(f.name_exact, squash(a));
    }
    if let Some(t) = d.description.as_deref().filter(|t| !t.is_empty()) {
        doc.add_text(f.description, t);
    }
    if let Some(t) = d.formula.as_deref().filter(|t| !t.is_empty()) {
        doc.add_text(f.formula, t);
    }
    if let Some(p) = d.project.filter(|p| !p.is_empty()) {
        doc.add_text(f.project, p);
        // Every ancestor, so `--project Finance` takes in Finance/Reports.
        let mut prefix = String::new();
        for part in p.split('/') {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            doc.add_text(f.project_key, key(&prefix));
        }
    }
    if let Some(o) = d.owner {
        let mut text = o.name.clone();
        doc.add_text(f.owner_name, &o.name);
        doc.add_text(f.owner_key, key(&o.name));
        for extra in [&o.full_name, &o.email].into_iter().flatten().filter(|s| !s.is_empty()) {
            text.push(' ');
            text.push_str(extra);
            doc.add_text(f.owner_key, key(extra));
        }
        doc.add_text(f.owner, &text);
    }
    for t in d.tags {
        doc.add_text(f.tags, t);
        doc.add_text(f.tag_key, key(t));
    }
    if let Some(c) = d.context.as_deref().filter(|c| !c.is_empty()) {
        doc.add_text(f.context, c);
    }
    doc
}

/// Builds the index of `run` into `dir`, replacing what is there: written
/// beside it first and swapped in, so a reader never sees half an index.
pub fn build(conn: &Connection, db: &Path, run: &RunRef, dir: &Path) -> anyhow::Result<Meta> {
    let tmp = dir.with_file_name(format!(
        "{}.tmp-{}",
        dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let (schema, fields) = schema();
    let index = Index::create_in_dir(&tmp, schema)
        .with_context(|| format!("cannot create the search index in {}", tmp.display()))?;
    register(&index);
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).clamp(1, 4);
    // 64 MB per indexing thread: well within the memory budget, and few
    // enough segments that searches stay fast without a merge.
    let mut writer: IndexWriter =
        index.writer_with_num_threads(threads, threads * 64_000_000).context("cannot start the search index writer")?;
    let documents = add_all(conn, db, run, &fields, &mut writer)?;
    writer.commit().context("cannot commit the search index")?;
    writer.wait_merging_threads().context("cannot finish the search index")?;
    let meta = Meta { format: FORMAT, run_id: run.run_id.clone(), documents };
    std::fs::write(tmp.join(META_FILE), serde_json::to_vec_pretty(&meta)?)
        .with_context(|| format!("cannot write {}", tmp.join(META_FILE).display()))?;
    if dir.exists() {
        std::fs::remove_dir_all(dir)
            .with_context(|| format!("cannot replace the old search index {}", dir.display()))?;
    }
    std::fs::rename(&tmp, dir).with_context(|| format!("cannot move the search index to {}", dir.display()))?;
    Ok(meta)
}

fn table(name: &str, run: &RunRef) -> String {
    format!("{} AS t", read::table_at(schema::table(name).expect("a warehouse table"), run))
}

/// Runs `sql` and calls `each` with every row.
fn rows(
    conn: &Connection,
    db: &Path,
    sql: &str,
    mut each: impl FnMut(&duckdb::Row) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut stmt = conn
        .prepare(sql)
        .with_context(|| format!("DuckDB warehouse {}: cannot read for the search index", db.display()))?;
    let mut rows = stmt
        .query([])
        .with_context(|| format!("DuckDB warehouse {}: cannot read for the search index", db.display()))?;
    while let Some(r) = rows.next()? {
        each(r)?;
    }
    Ok(())
}

fn add_all(conn: &Connection, db: &Path, run: &RunRef, f: &Fields, w: &mut IndexWriter) -> anyhow::Result<u64> {
    let mut n = 0u64;
    let mut add = |w: &mut IndexWriter, d: &Doc| -> anyhow::Result<()> {
        w.add_document(to_document(f, d))?;
        n += 1;
        Ok(())
    };

    // People, projects (with their paths) and tags first: the other
    // documents name them.
    let mut owners: HashMap<String, Owner> = HashMap::new();
    rows(conn, db, &format!("SELECT user_luid, name, full_name, email FROM {}", table("users", run)), |r| {
        owners.insert(r.get(0)?, Owner { name: r.get(1)?, full_name: r.get(2)?, email: r.get(3)? });
        Ok(())
    })?;
    struct Project {
        name: String,
        description: Option<String>,
        parent: Option<String>,
        owner: Option<String>,
    }
    let mut projects: HashMap<String, Project> = HashMap::new();
    rows(
        conn,
        db,
        &format!(
            "SELECT project_luid, name, description, parent_project_luid, owner_luid FROM {}",
            table("projects", run)
        ),
        |r| {
            projects.insert(
                r.get(0)?,
                Project { name: r.get(1)?, description: r.get(2)?, parent: r.get(3)?, owner: r.get(4)? },
            );
            Ok(())
        },
    )?;
    let paths: HashMap<String, String> = projects
        .keys()
        .map(|id| {
            let mut names = Vec::new();
            let mut cur = projects.get(id);
            // A cycle cannot come from Tableau; the bound keeps bad data from hanging.
            for _ in 0..64 {
                let Some(p) = cur else { break };
                names.push(p.name.as_str());
                cur = p.parent.as_deref().and_then(|pid| projects.get(pid));
            }
            names.reverse();
            (id.clone(), names.join("/"))
        })
        .collect();
    let mut tags: HashMap<(String, String), Vec<String>> = HashMap::new();
    rows(conn, db, &format!("SELECT asset_type, asset_luid, tag FROM {} ORDER BY tag", table("tags", run)), |r| {
        tags.entry((r.get(0)?, r.get(1)?)).or_default().push(r.get(2)?);
        Ok(())
    })?;
    let none: Vec<String> = Vec::new();
    let tags_of = |kind: &str, id: &str| tags.get(&(kind.to_string(), id.to_string())).unwrap_or(&none);
    let path = |id: &Option<String>| id.as_deref().and_then(|i| paths.get(i)).map(String::as_str);
    let owner = |id: &Option<String>| id.as_deref().and_then(|i| owners.get(i));

    for (id, p) in &projects {
        add(
            w,
            &Doc {
                kind: "project",
                id: id.clone(),
                id_column: "project_luid",
                name: p.name.clone(),
                description: p.description.clone(),
                project: paths.get(id).map(String::as_str),
                owner: owner(&p.owner),
                ..Doc::default()
            },
        )?;
    }
    for (id, o) in &owners {
        add(
            w,
            &Doc {
                kind: "user",
                id: id.clone(),
                id_column: "user_luid",
                name: o.name.clone(),
                alt: [&o.full_name, &o.email].into_iter().flatten().cloned().collect(),
                ..Doc::default()
            },
        )?;
    }

    // Workbooks, for their views, embedded datasources and fields.
    struct Workbook {
        name: String,
        project: Option<String>,
        owner: Option<String>,
    }
    let mut workbooks: HashMap<String, Workbook> = HashMap::new();
    rows(
        conn,
        db,
        &format!("SELECT workbook_luid, name, description, project_luid, owner_luid FROM {}", table("workbooks", run)),
        |r| {
            let (id, name, description, project, owner_id): (
                String,
                String,
                Option<String>,
                Option<String>,
                Option<String>,
            ) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
            add(
                w,
                &Doc {
                    kind: "workbook",
                    id: id.clone(),
                    id_column: "workbook_luid",
                    name: name.clone(),
                    description,
                    project: path(&project),
                    owner: owner(&owner_id),
                    tags: tags_of("workbook", &id),
                    ..Doc::default()
                },
            )?;
            workbooks.insert(id, Workbook { name, project, owner: owner_id });
            Ok(())
        },
    )?;
    rows(
        conn,
        db,
        &format!(
            "SELECT view_luid, name, workbook_luid, owner_luid, project_luid, sheet_type FROM {}",
            table("views", run)
        ),
        |r| {
            let (id, name, wb, owner_id, project, sheet_type): (
                String,
                String,
                String,
                Option<String>,
                Option<String>,
                Option<String>,
            ) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?);
            let workbook = workbooks.get(&wb);
            let project = project.or_else(|| workbook.and_then(|w| w.project.clone()));
            let owner_id = owner_id.or_else(|| workbook.and_then(|w| w.owner.clone()));
            let dashboard = sheet_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("dashboard"));
            add(
                w,
                &Doc {
                    kind: if dashboard { "dashboard" } else { "view" },
                    id: id.clone(),
                    id_column: "view_luid",
                    name,
                    project: path(&project),
                    owner: owner(&owner_id),
                    tags: tags_of("view", &id),
                    context: workbook.map(|w| format!("workbook {}", w.name)),
                    ..Doc::default()
                },
            )?;
            Ok(())
        },
    )?;

    // Datasources: the published ones as REST lists them, the embedded ones
    // in their workbooks. Fields name their datasource by Metadata API id.
    struct Source {
        label: String,
        project: Option<String>,
        owner: Option<String>,
    }
    let mut sources: HashMap<String, Source> = HashMap::new();
    let mut published: HashMap<String, Source> = HashMap::new();
    rows(
        conn,
        db,
        &format!(
            "SELECT datasource_luid, name, description, project_luid, owner_luid FROM {}",
            table("datasources", run)
        ),
        |r| {
            let (id, name, description, project, owner_id): (
                String,
                String,
                Option<String>,
                Option<String>,
                Option<String>,
            ) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
            add(
                w,
                &Doc {
                    kind: "datasource",
                    id: id.clone(),
                    id_column: "datasource_luid",
                    name: name.clone(),
                    description,
                    project: path(&project),
                    owner: owner(&owner_id),
                    tags: tags_of("datasource", &id),
                    ..Doc::default()
                },
            )?;
            published.insert(id, Source { label: format!("datasource {name}"), project, owner: owner_id });
            Ok(())
        },
    )?;
    rows(
        conn,
        db,
        &format!("SELECT datasource_metadata_id, datasource_luid, name FROM {}", table("published_datasources", run)),
        |r| {
            let (mid, luid, name): (String, String, Option<String>) = (r.get(0)?, r.get(1)?, r.get(2)?);
            let s = match published.get(&luid) {
                Some(p) => Source { label: p.label.clone(), project: p.project.clone(), owner: p.owner.clone() },
                None => {
                    Source { label: format!("datasource {}", name.unwrap_or_default()), project: None, owner: None }
                }
            };
            sources.insert(mid, s);
            Ok(())
        },
    )?;
    rows(
        conn,
        db,
        &format!("SELECT datasource_metadata_id, name, workbook_luid FROM {}", table("embedded_datasources", run)),
        |r| {
            let (mid, name, wb): (String, Option<String>, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
            let workbook = workbooks.get(&wb);
            let (project, owner_id) =
                (workbook.and_then(|w| w.project.clone()), workbook.and_then(|w| w.owner.clone()));
            let name = name.unwrap_or_default();
            let wb_name = workbook.map(|w| w.name.as_str()).unwrap_or_default();
            add(
                w,
                &Doc {
                    kind: "datasource",
                    id: mid.clone(),
                    id_column: "datasource_metadata_id",
                    name: name.clone(),
                    project: path(&project),
                    owner: owner(&owner_id),
                    context: Some(format!("embedded in workbook {wb_name}")),
                    ..Doc::default()
                },
            )?;
            sources.insert(
                mid,
                Source { label: format!("datasource {name} in workbook {wb_name}"), project, owner: owner_id },
            );
            Ok(())
        },
    )?;
    rows(
        conn,
        db,
        &format!("SELECT field_metadata_id, name, datasource_metadata_id, formula FROM {}", table("fields", run)),
        |r| {
            let (id, name, ds, formula): (String, Option<String>, String, Option<String>) =
                (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
            let source = sources.get(&ds);
            add(
                w,
                &Doc {
                    kind: "field",
                    id,
                    id_column: "field_metadata_id",
                    name: name.unwrap_or_default(),
                    formula,
                    project: source.and_then(|s| path(&s.project)),
                    owner: source.and_then(|s| owner(&s.owner)),
                    context: source.map(|s| s.label.clone()),
                    ..Doc::default()
                },
            )?;
            Ok(())
        },
    )?;

    // Tables and columns: outside any project.
    let mut databases: HashMap<String, String> = HashMap::new();
    rows(conn, db, &format!("SELECT database_metadata_id, name FROM {}", table("database_servers", run)), |r| {
        let (id, name): (String, Option<String>) = (r.get(0)?, r.get(1)?);
        databases.insert(id, name.unwrap_or_default());
        Ok(())
    })?;
    let mut table_names: HashMap<String, String> = HashMap::new();
    rows(
        conn,
        db,
        &format!(
            "SELECT table_metadata_id, kind, name, schema, full_name, query, database_metadata_id FROM {}",
            table("database_tables", run)
        ),
        |r| {
            let (id, _kind, name, schema_name, full_name, query, database): (
                String,
                String,
                Option<String>,
                Option<String>,
                Option<String>,
                Option<String>,
                Option<String>,
            ) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?);
            let name = name.unwrap_or_default();
            let qualified = match &schema_name {
                Some(s) if !s.is_empty() => format!("{s}.{name}"),
                _ => name.clone(),
            };
            let mut alt = vec![qualified.clone()];
            alt.extend(full_name.filter(|f| *f != qualified && *f != name));
            add(
                w,
                &Doc {
                    kind: "table",
                    id: id.clone(),
                    id_column: "table_metadata_id",
                    name: name.clone(),
                    alt,
                    formula: query,
                    context: database.as_ref().and_then(|d| databases.get(d)).map(|d| format!("database {d}")),
                    ..Doc::default()
                },
            )?;
            table_names.insert(id, qualified);
            Ok(())
        },
    )?;
    rows(
        conn,
        db,
        &format!("SELECT column_metadata_id, name, table_metadata_id FROM {}", table("columns", run)),
        |r| {
            let (id, name, t): (String, Option<String>, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
            add(
                w,
                &Doc {
                    kind: "column",
                    id,
                    id_column: "column_metadata_id",
                    name: name.unwrap_or_default(),
                    context: table_names.get(&t).map(|t| format!("table {t}")),
                    ..Doc::default()
                },
            )?;
            Ok(())
        },
    )?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_fold_case_and_accents_and_split_on_punctuation() {
        assert_eq!(
            words("Ventes – Région Québec \"Q4\" & Partners' 日本"),
            ["ventes", "region", "quebec", "q4", "partners", "日本"]
        );
        assert_eq!(words("SUM([Sales]) - SUM([Old Cost Basis])"), ["sum", "sales", "sum", "old", "cost", "basis"]);
        assert_eq!(exact("  EMEA Pipeline  v2 "), "emea pipeline v2");
    }

    #[test]
    fn the_index_sits_beside_the_warehouse() {
        assert_eq!(dir_for(Path::new("/x/trm.duckdb")), PathBuf::from("/x/trm.duckdb.search"));
    }
}
