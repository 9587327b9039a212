//! What some tests need from outside the crate: the reference material in
//! `../shared` and a browser. On a user's clone a missing piece skips the
//! test with a message; under `CI=true` it fails the test, so CI can never
//! pass without the comparison it exists for.
//! Each test file includes it with `#[path = "support/external.rs"] mod external;`.
#![allow(dead_code)] // not every test file uses every helper

use std::path::PathBuf;

/// True when the CI environment variable is set (and not `false` or `0`),
/// as CI services set it.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Whether a test may go on: `true` when `present`; otherwise it prints
/// that `test` is skipped because `missing` (and returns `false`), or,
/// under CI, fails.
pub fn require(present: bool, test: &str, missing: &str) -> bool {
    if present {
        return true;
    }
    assert!(!under_ci(), "{test}: {missing}; under CI=true this is a failure, not a skip");
    eprintln!("skipping {test}: {missing}");
    false
}

/// The shared reference material: `../shared` beside the crate, or the
/// directory `TRM_SHARED` names (a checkout whose `../shared` lives elsewhere).
pub fn shared_root() -> PathBuf {
    match std::env::var_os("TRM_SHARED") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"),
    }
}

/// `rel` under the shared root when it exists; otherwise skips (or, under
/// CI, fails) `test` as [`require`] does.
pub fn shared(rel: &str, test: &str) -> Option<PathBuf> {
    let path = shared_root().join(rel);
    let present = path.exists();
    require(present, test, &format!("{} not found (set TRM_SHARED to the shared directory)", path.display()))
        .then_some(path)
}
