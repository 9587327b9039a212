//! Log lines as cron and Airflow keep them: with stderr redirected to a
//! file, `trm` writes no ANSI escapes. On a terminal the lines are coloured
//! unless `NO_COLOR` is set; that half runs under a pseudo-terminal made by
//! `script` (util-linux), and says that it skipped where `script` is missing.

use std::fs::File;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use trm::sim::dataset::Size;
use trm::sim::{self, SimConfig, SimHandle};

#[path = "support/site.rs"]
mod site;
use site::scratch;

async fn site() -> SimHandle {
    let config = SimConfig { size: Size::Small, ..SimConfig::default() };
    sim::start(config, SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("site starts")
}

/// `trm extract` against the site into `dir`, as a command to run.
fn extract(handle: &SimHandle, dir: &Path) -> Command {
    let c = &handle.state.config;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trm"));
    cmd.arg("extract")
        .args(["--server", &handle.url(), "--site", &c.site_content_url, "--no-parquet"])
        .arg("--db")
        .arg(dir.join("trm.duckdb"))
        .env("TABLEAU_TOKEN_NAME", &c.pat_name)
        .env("TABLEAU_TOKEN_SECRET", &c.pat_secret)
        .env_remove("TABLEAU_SERVER")
        .env_remove("TABLEAU_SITE")
        .env_remove("RUST_LOG")
        .env_remove("NO_COLOR")
        .current_dir(dir);
    cmd
}

/// A Select Graphic Rendition sequence (`ESC [ … m`): colour or emphasis.
fn has_sgr(text: &str) -> bool {
    text.match_indices("\x1b[").any(|(i, _)| {
        let rest = &text[i + 2..];
        let params = rest.find(|c: char| !(c.is_ascii_digit() || c == ';')).unwrap_or(rest.len());
        rest[params..].starts_with('m')
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_redirected_to_a_file_carry_no_escapes() {
    let handle = site().await;
    let dir = scratch("logs-file");
    let log = dir.join("stderr.log");
    let status = extract(&handle, &dir)
        .stdout(Stdio::null())
        .stderr(File::create(&log).unwrap())
        .status()
        .unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{text}");
    assert!(text.contains("extraction started") && text.contains("INFO"), "the log lines are there:\n{text}");
    assert!(!text.contains("\x1b["), "ANSI escapes in a log file:\n{text:?}");
    handle.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_gets_colour_unless_no_color_is_set() {
    if Command::new("script").arg("--version").output().is_err() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "`script` (util-linux) is missing under CI");
        println!("skipped: `script` (util-linux) is not installed, so no pseudo-terminal to test colour on");
        return;
    }
    let handle = site().await;
    // stdout and stderr both reach the pseudo-terminal; `script` copies it
    // to its own stdout.
    let on_terminal = |no_color: Option<&str>| -> String {
        let dir = scratch("logs-tty");
        let inner = extract(&handle, &dir);
        let line: Vec<String> = std::iter::once(inner.get_program())
            .chain(inner.get_args())
            .map(|a| shell_quote(&a.to_string_lossy()))
            .collect();
        let mut cmd = Command::new("script");
        cmd.args(["-qefc", &line.join(" "), "/dev/null"]).current_dir(&dir);
        for (k, v) in inner.get_envs() {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        if let Some(v) = no_color {
            cmd.env("NO_COLOR", v);
        }
        let out = cmd.stdin(Stdio::null()).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{text}");
        assert!(text.contains("extraction started"), "the log lines are there:\n{text}");
        text
    };
    let coloured = on_terminal(None);
    assert!(has_sgr(&coloured), "no colour on a terminal:\n{coloured:?}");
    let plain = on_terminal(Some("1"));
    assert!(!has_sgr(&plain), "colour although NO_COLOR=1:\n{plain:?}");
    handle.stop().await;
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[test]
fn sgr_detection() {
    assert!(has_sgr("\x1b[2m2026\x1b[0m"));
    assert!(has_sgr("\x1b[32m INFO"));
    assert!(!has_sgr("\x1b[2K\x1b[1A progress"), "cursor movement is not colour");
    assert!(!has_sgr("plain"));
}
