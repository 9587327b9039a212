//! The Parquet side of the warehouse: one zstd file per table per run, in a
//! Hive layout readers can glob,
//!
//! ```text
//! ROOT/<table>/site=<content_url>/snapshot_date=YYYY-MM-DD/run_id=<run_id>/part-0.parquet
//! ```
//!
//! with the table's Arrow schema (`site`, `run_id` and `snapshot_date` come
//! from the path; a run over several sites writes one partition per site). Files are written under `ROOT/.tmp-<run_id>/` and each table's
//! `run_id=` directory is renamed into place at commit, so a reader never
//! sees part of a run; abort deletes the temporary directory. A table that
//! was written with no rows still gets a file, so readers see the run.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::schema::Table;
use super::WarehouseError;

/// The file name inside each partition directory.
pub const PART: &str = "part-0.parquet";
/// The prefix of a run's temporary directory under the root.
pub const TMP_PREFIX: &str = ".tmp-";

/// The Parquet files of the run in progress.
pub struct ParquetRun {
    root: PathBuf,
    tmp: PathBuf,
    /// `site=…/snapshot_date=…/run_id=…`, the same for every table.
    partition: PathBuf,
    writers: BTreeMap<&'static str, ArrowWriter<File>>,
}

impl ParquetRun {
    /// Creates the root (if needed) and the run's temporary directory,
    /// removing temporary directories that killed runs left behind (the
    /// caller holds the DuckDB file's lock, so no other run is writing them).
    pub fn start(root: &Path, run_id: &str, snapshot_date: &str, site: &str) -> Result<ParquetRun, WarehouseError> {
        std::fs::create_dir_all(root).map_err(|source| io_err(root, "cannot create the Parquet directory", source))?;
        let entries =
            std::fs::read_dir(root).map_err(|source| io_err(root, "cannot list the Parquet directory", source))?;
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
                let stale = entry.path();
                tracing::warn!(path = %stale.display(), "removing the temporary Parquet files of an unfinished run");
                if let Err(e) = std::fs::remove_dir_all(&stale) {
                    tracing::warn!(path = %stale.display(), error = %e, "cannot remove stale temporary Parquet files");
                }
            }
        }
        let tmp = root.join(format!("{TMP_PREFIX}{run_id}"));
        std::fs::create_dir(&tmp)
            .map_err(|source| io_err(&tmp, "cannot create the temporary Parquet directory", source))?;
        Ok(ParquetRun {
            root: root.to_owned(),
            tmp,
            partition: PathBuf::from(format!("site={site}"))
                .join(format!("snapshot_date={snapshot_date}"))
                .join(format!("run_id={run_id}")),
            writers: BTreeMap::new(),
        })
    }

    /// The same run's files for another of its sites, in a temporary
    /// directory of their own (`key` tells them apart), so one site's files
    /// can be discarded while the others' are published.
    pub fn for_site(&self, key: &str, site: &str) -> Result<ParquetRun, WarehouseError> {
        let mut tmp = self.tmp.clone().into_os_string();
        tmp.push(format!("-{key}"));
        let tmp = PathBuf::from(tmp);
        std::fs::create_dir(&tmp)
            .map_err(|source| io_err(&tmp, "cannot create the temporary Parquet directory", source))?;
        let below_site: PathBuf = self.partition.components().skip(1).collect();
        Ok(ParquetRun {
            root: self.root.clone(),
            tmp,
            partition: PathBuf::from(format!("site={site}")).join(below_site),
            writers: BTreeMap::new(),
        })
    }

    /// Files for `run_id`'s partition, for a temporary directory named
    /// otherwise (a derived table written after its run).
    pub fn for_run(mut self, run_id: &str) -> ParquetRun {
        let date = self.partition.parent().map(PathBuf::from).unwrap_or_default();
        self.partition = date.join(format!("run_id={run_id}"));
        self
    }

    /// Like [`publish`](Self::publish), but a partition already in place is
    /// first set aside in the temporary directory. Returns, per table, the
    /// partition and where its predecessor went, for [`restore`](Self::restore).
    pub fn publish_replacing(&mut self) -> Result<Vec<(PathBuf, Option<PathBuf>)>, WarehouseError> {
        let mut aside = Vec::new();
        for table in self.writers.keys().copied().collect::<Vec<_>>() {
            let to = self.final_dir(table);
            if to.exists() {
                let keep = self.tmp.join(format!("previous-{table}"));
                if let Err(source) = std::fs::rename(&to, &keep) {
                    self.restore(&aside);
                    return Err(io_err(&to, "cannot set aside the earlier partition", source));
                }
                aside.push((to, Some(keep)));
            }
        }
        match self.publish() {
            Ok(moved) => {
                let mut out: Vec<(PathBuf, Option<PathBuf>)> = moved.into_iter().map(|m| (m, None)).collect();
                for (to, keep) in aside {
                    if let Some(slot) = out.iter_mut().find(|(m, _)| *m == to) {
                        slot.1 = keep;
                    }
                }
                Ok(out)
            }
            Err(e) => {
                // `publish` took its own partitions out again.
                self.restore(&aside);
                Err(e)
            }
        }
    }

    /// Undoes [`publish_replacing`](Self::publish_replacing).
    pub fn restore(&self, moved: &[(PathBuf, Option<PathBuf>)]) {
        for (dir, previous) in moved {
            if dir.exists() {
                if let Err(e) = std::fs::remove_dir_all(dir) {
                    tracing::error!(path = %dir.display(), error = %e, "cannot remove a Parquet partition of a failed write");
                }
            }
            if let Some(previous) = previous {
                if let Err(e) = std::fs::rename(previous, dir) {
                    tracing::error!(path = %dir.display(), error = %e, "cannot put back the earlier Parquet partition");
                }
            }
        }
    }

    fn tmp_dir(&self, table: &str) -> PathBuf {
        self.tmp.join(table).join(&self.partition)
    }

    fn final_dir(&self, table: &str) -> PathBuf {
        self.root.join(table).join(&self.partition)
    }

    /// Appends a batch (already checked against the table's schema) to the
    /// table's file, creating the file on the table's first batch.
    pub fn write(&mut self, table: &'static Table, batch: &RecordBatch) -> Result<(), WarehouseError> {
        if !self.writers.contains_key(table.name) {
            let dir = self.tmp_dir(table.name);
            std::fs::create_dir_all(&dir).map_err(|source| io_err(&dir, "cannot create", source))?;
            let path = dir.join(PART);
            let file = File::create(&path).map_err(|source| io_err(&path, "cannot create", source))?;
            let props = WriterProperties::builder()
                .set_compression(Compression::ZSTD(ZstdLevel::default()))
                .set_max_row_group_row_count(Some(256 * 1024))
                .set_created_by(format!("trm {}", env!("CARGO_PKG_VERSION")))
                .build();
            let writer = ArrowWriter::try_new(file, table.schema(), Some(props))
                .map_err(|source| WarehouseError::Parquet { path: path.clone(), source })?;
            self.writers.insert(table.name, writer);
        }
        let writer = self.writers.get_mut(table.name).expect("inserted above");
        writer
            .write(batch)
            .map_err(|source| WarehouseError::Parquet { path: self.tmp_dir(table.name).join(PART), source })
    }

    /// Finishes every file and moves each table's partition into place.
    /// Returns the directories moved, for [`unpublish`](Self::unpublish) if
    /// the DuckDB commit then fails. On error, whatever was already moved is
    /// moved out again.
    pub fn publish(&mut self) -> Result<Vec<PathBuf>, WarehouseError> {
        let mut tables = Vec::new();
        for (table, writer) in std::mem::take(&mut self.writers) {
            let path = self.tmp_dir(table).join(PART);
            // `into_inner` writes the footer.
            let file = writer.into_inner().map_err(|source| WarehouseError::Parquet { path: path.clone(), source })?;
            file.sync_all().map_err(|source| io_err(&path, "cannot sync", source))?;
            tables.push(table);
        }
        let mut moved = Vec::new();
        for table in tables {
            let from = self.tmp_dir(&table);
            let to = self.final_dir(&table);
            let result = to
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| {
                    if to.exists() {
                        Err(std::io::Error::new(
                            std::io::ErrorKind::AlreadyExists,
                            "the run's partition already exists",
                        ))
                    } else {
                        std::fs::rename(&from, &to)
                    }
                })
                .map_err(|source| io_err(&to, &format!("cannot move {} to", from.display()), source));
            if let Err(e) = result {
                self.unpublish(&moved);
                return Err(e);
            }
            moved.push(to);
        }
        Ok(moved)
    }

    /// Removes partitions that [`publish`](Self::publish) moved into place.
    pub fn unpublish(&self, moved: &[PathBuf]) {
        for dir in moved {
            if let Err(e) = std::fs::remove_dir_all(dir) {
                tracing::error!(path = %dir.display(), error = %e, "cannot remove a Parquet partition of a failed run");
            }
            // Leave no empty snapshot_date= directory behind.
            if let Some(parent) = dir.parent() {
                let _ = std::fs::remove_dir(parent);
            }
        }
    }

    /// Deletes the temporary directory (and any unfinished files in it).
    pub fn discard(mut self) {
        self.writers.clear();
        if let Err(e) = std::fs::remove_dir_all(&self.tmp) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(path = %self.tmp.display(), error = %e, "cannot remove temporary Parquet files");
            }
        }
    }
}

fn io_err(path: &Path, what: &str, source: std::io::Error) -> WarehouseError {
    WarehouseError::Io { path: path.to_owned(), what: what.to_string(), source }
}
