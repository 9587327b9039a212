//! Progress bars for `trm extract` on a terminal: one line per stream. On a
//! non-terminal (cron, Airflow) indicatif draws nothing and logs carry on.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use trm::extract::Reporter;

pub struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    pub fn new(quiet: bool) -> Bars {
        let target = if quiet { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() };
        Bars { multi: MultiProgress::with_draw_target(target), bars: Mutex::new(HashMap::new()) }
    }

    fn bar(&self, stream: &str) -> ProgressBar {
        let mut bars = self.bars.lock().expect("progress bars poisoned");
        bars.entry(stream.to_string())
            .or_insert_with(|| {
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix:<24} {msg}").expect("valid progress template"),
                );
                bar.set_prefix(stream.to_string());
                bar.enable_steady_tick(Duration::from_millis(120));
                bar
            })
            .clone()
    }
}

impl Reporter for Bars {
    fn start(&self, stream: &str) {
        self.bar(stream).set_message("fetching…");
    }

    fn progress(&self, stream: &str, fetched: u64) {
        let bar = self.bar(stream);
        bar.inc(fetched);
        bar.set_message(format!("{} fetched", bar.position()));
    }

    fn rows(&self, stream: &str, table: &str, rows: u64) {
        self.bar(stream).set_message(format!("{rows} rows → {table}"));
    }

    fn finish(&self, stream: &str, ok: bool) {
        let bar = self.bar(stream);
        bar.finish_with_message(if ok { "done" } else { "FAILED" });
    }
}
