//! Shared by the tests that extract a simulated site into a scratch
//! warehouse: where the warehouse goes and the settings that reach the site.
//! Each test file includes it with `#[path = "support/site.rs"] mod site;`.
#![allow(dead_code)] // not every test file uses every helper

use std::path::{Path, PathBuf};
use std::time::Duration;

use trm::config::{Secret, Settings};
use trm::sim::SimHandle;

/// A fresh directory under the system temp dir, named after the test file.
pub fn scratch(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "trm-{}-{name}-{}-{nanos}",
        env!("CARGO_CRATE_NAME"),
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Settings that extract `handle`'s site into `dir` (DuckDB and Parquet).
pub fn settings(handle: &SimHandle, dir: &Path) -> Settings {
    let c = &handle.state.config;
    Settings {
        profile: "test".into(),
        server: handle.url(),
        site: c.site_content_url.clone(),
        api_version: None,
        token_name: c.pat_name.clone(),
        token_secret: Secret::new(c.pat_secret.clone()),
        auth: trm::config::Auth::Pat,
        concurrency: 4,
        max_concurrency: None,
        timeout: Duration::from_secs(20),
        db: dir.join("trm.duckdb"),
        parquet: dir.join("parquet"),
    }
}
