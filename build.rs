//! Embeds every `reports/*.sql` in the binary: writes `$OUT_DIR/reports.rs`,
//! a list of (file stem, file name, text) that `src/report/definitions.rs`
//! includes. Adding a report is adding a file; nothing here needs editing.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // A directory makes cargo rescan it, so added or removed files count.
    println!("cargo:rerun-if-changed=reports");

    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = Path::new(&manifest).join("reports");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display())).path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    // Sorted, so the generated file (and the binary) does not depend on the
    // directory's listing order.
    files.sort();

    let mut out = String::from("pub(crate) const BUILT_IN: &[(&str, &str, &str)] = &[\n");
    for path in &files {
        let stem =
            path.file_stem().and_then(|s| s.to_str()).unwrap_or_else(|| panic!("{} is not UTF-8", path.display()));
        let name = format!("reports/{stem}.sql");
        // Relative to the crate being compiled, not this checkout's absolute
        // path: a target directory shared by several clones (CI's cache) may
        // reuse this output after the checkout that wrote it is gone.
        // `{:?}` writes a Rust string literal with any special characters escaped.
        let file = format!("/{name}");
        out += &format!("    ({stem:?}, {name:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), {file:?}))),\n");
    }
    out += "];\n";

    let target = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("reports.rs");
    std::fs::write(&target, out).unwrap_or_else(|e| panic!("cannot write {}: {e}", target.display()));
}
