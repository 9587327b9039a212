//! Renders a synthetic site's HTML report to a file, for trying the page in
//! a browser and for `tests/browser/check_report.py`:
//!
//! ```sh
//! cargo run --example sample_report -- /tmp/report.html [ROWS] [WORKBOOKS]
//! ```
//!
//! Prints the size, the render time and the arguments the browser check
//! needs (the id of a diagram and its node ids), one `key=value` a line.

#[path = "../tests/support/synthetic.rs"]
mod synthetic;

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| {
        eprintln!("usage: sample_report OUT.html [ROWS] [WORKBOOKS]");
        std::process::exit(2);
    });
    let rows: usize = args.next().map_or(2_000, |s| s.parse().expect("ROWS is a number"));
    let workbooks: usize = args.next().map_or(200, |s| s.parse().expect("WORKBOOKS is a number"));

    let input = synthetic::site(rows, workbooks);
    let started = Instant::now();
    let html = trm::report::html::render(&input).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        std::process::exit(1);
    });
    let elapsed = started.elapsed();
    std::fs::write(&out, &html).unwrap_or_else(|e| {
        eprintln!("error: writing {out}: {e}");
        std::process::exit(1);
    });
    println!("html={out}");
    println!("bytes={}", html.len());
    println!("render_ms={}", elapsed.as_millis());
    println!("diagram_id={}", synthetic::KNOWN_DIAGRAM);
    println!("node_ids={}", synthetic::KNOWN_NODES.join(","));
}
