//! Searching the whole site: a full-text index (tantivy) of every asset in
//! a warehouse run, beside the DuckDB file, built on first use and rebuilt
//! when the run it holds is no longer the one asked for.
//!
//! This stage reads the warehouse only; nothing below it imports it.

pub mod index;
pub mod query;
pub mod sql;

use std::path::Path;
use std::time::{Duration, Instant};

pub use query::{Hit, Match, Request, KINDS};

use crate::warehouse::read;

/// What a search did besides answering.
#[derive(Debug, Clone)]
pub struct Searched {
    pub hits: Vec<Hit>,
    pub run_id: String,
    /// The index was (re)built for this search, in this long.
    pub built: Option<(u64, Duration)>,
    pub elapsed: Duration,
}

/// Makes sure the index of `db` holds `run_id` (the latest succeeded run
/// when `None`), building it if not, or always with `rebuild`. Returns the
/// run id, and the documents and time of a build.
pub fn ensure(db: &Path, run_id: Option<&str>, rebuild: bool) -> anyhow::Result<(String, Option<(u64, Duration)>)> {
    let dir = index::dir_for(db);
    let conn = read::open(db)?;
    let run = read::resolve_run(&conn, db, run_id)?;
    let fresh = index::read_meta(&dir).is_some_and(|m| m.format == index::FORMAT && m.run_id == run.run_id);
    if fresh && !rebuild {
        return Ok((run.run_id, None));
    }
    let started = Instant::now();
    let meta = index::build(&conn, db, &run, &dir)?;
    Ok((run.run_id, Some((meta.documents, started.elapsed()))))
}

/// Searches the index of `db`, building it first when needed.
pub fn search(db: &Path, run_id: Option<&str>, req: &Request) -> anyhow::Result<Searched> {
    let started = Instant::now();
    let (run_id, built) = ensure(db, run_id, false)?;
    let (idx, fields) = index::open(&index::dir_for(db))?;
    let hits = query::search(&idx, &fields, req)?;
    Ok(Searched { hits, run_id, built, elapsed: started.elapsed() })
}
