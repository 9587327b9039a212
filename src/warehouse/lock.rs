//! Waiting for the warehouse file while another process holds it.
//!
//! DuckDB locks its file per process: a read-write connection (the `duckdb`
//! CLI opens read-write unless given `-readonly`) shuts every other process
//! out, and read-only connections shut writers out. Opening then fails at
//! once with `Could not set lock on file "…": Conflicting lock is held in
//! /usr/bin/duckdb (PID 4242) by user ana. …`. A nightly `trm extract` that
//! meets an analyst's open session should wait for it rather than fail, so
//! every open of the file goes through [`open_waiting`]: it retries for up
//! to the process's lock timeout ([`set_lock_timeout`]; the commands' flag
//! `--lock-timeout`), says once which process it waits for, and then fails
//! naming that process.

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::WarehouseError;

/// How long an open waits for another process's lock unless told otherwise.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Between attempts: short enough that a closed session is noticed at once,
/// long enough that waiting costs nothing.
const POLL: Duration = Duration::from_millis(250);
/// While waiting, a reminder this often.
const REMIND: Duration = Duration::from_secs(60);

static LOCK_TIMEOUT_MS: AtomicU64 = AtomicU64::new(DEFAULT_LOCK_TIMEOUT.as_millis() as u64);

/// How long opens in this process wait for another process's lock. A
/// process-wide setting, because every open (the run's writer, the audit's
/// readers and its findings writer) should wait alike, and the command
/// layer sets it once from `--lock-timeout`.
pub fn set_lock_timeout(timeout: Duration) {
    LOCK_TIMEOUT_MS.store(timeout.as_millis().min(u64::MAX as u128) as u64, Ordering::Relaxed);
}

pub fn lock_timeout() -> Duration {
    Duration::from_millis(LOCK_TIMEOUT_MS.load(Ordering::Relaxed))
}

/// The process holding the warehouse, as DuckDB's lock error names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The executable, e.g. `/usr/bin/duckdb`, when DuckDB could tell.
    pub process: Option<String>,
    pub pid: Option<u32>,
    /// The connection is in this very process (two opens of one file).
    pub this_process: bool,
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.process, self.pid) {
            _ if self.this_process => write!(f, "another connection in this process"),
            (Some(p), Some(pid)) => write!(f, "{p} (PID {pid})"),
            (None, Some(pid)) => write!(f, "process {pid}"),
            (Some(p), None) => write!(f, "{p}"),
            (None, None) => write!(f, "another process"),
        }
    }
}

/// Who holds the lock, if `message` is DuckDB's lock error; `None` for any
/// other error.
pub fn lock_holder(message: &str) -> Option<Holder> {
    if !message.contains("Could not set lock on file") {
        return None;
    }
    let this_process = message.contains("held in current process");
    let pid = message.find("PID ").and_then(|i| {
        let digits: String = message[i + 4..].chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    });
    // "held in /usr/bin/duckdb (PID 4242)"; "held in PID 4242" has no name.
    let process = message.find("Conflicting lock is held in ").and_then(|i| {
        let rest = &message[i + "Conflicting lock is held in ".len()..];
        let name = rest.split(" (PID ").next().filter(|_| rest.contains(" (PID "))?;
        (!name.is_empty()).then(|| name.to_string())
    });
    Some(Holder { process, pid, this_process })
}

/// Runs `open` until it does not fail on another process's lock, for up to
/// [`lock_timeout`]. Other errors, and a lock held by this very process
/// (waiting cannot help), fail at once.
pub(crate) fn open_waiting<T>(
    path: &Path,
    mut open: impl FnMut() -> duckdb::Result<T>,
) -> Result<T, WarehouseError> {
    let timeout = lock_timeout();
    let start = Instant::now();
    let mut reminded = start;
    let mut announced = false;
    loop {
        let e = match open() {
            Ok(conn) => {
                if announced {
                    tracing::info!(
                        "the warehouse {} is free after {:.1} s; carrying on",
                        path.display(),
                        start.elapsed().as_secs_f64()
                    );
                }
                return Ok(conn);
            }
            Err(e) => e,
        };
        let Some(holder) = lock_holder(&e.to_string()).filter(|h| !h.this_process) else {
            return Err(WarehouseError::Duck { path: path.to_owned(), what: "cannot open".into(), source: e });
        };
        let waited = start.elapsed();
        if waited >= timeout {
            return Err(WarehouseError::Locked { path: path.to_owned(), holder: holder.to_string(), waited });
        }
        if !announced {
            tracing::warn!(
                "the warehouse {} is in use by {holder}; waiting up to {} s (--lock-timeout) for it to close. \
                 Analysts: open the file with `duckdb -readonly`, and close the session when done",
                path.display(),
                timeout.as_secs()
            );
            announced = true;
            reminded = Instant::now();
        } else if reminded.elapsed() >= REMIND {
            tracing::warn!(
                "still waiting for {holder} to close the warehouse {} ({} s of {} s)",
                path.display(),
                waited.as_secs(),
                timeout.as_secs()
            );
            reminded = Instant::now();
        }
        std::thread::sleep(POLL.min(timeout - waited));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_holder_from_duckdbs_lock_errors() {
        let full = "IO Error: Could not set lock on file \"/data/trm.duckdb\": Conflicting lock is held in \
                    /usr/bin/duckdb (PID 4242) by user ana. However, you would be able to open this database in \
                    read-only mode, e.g. by using the -readonly parameter in the CLI. See also \
                    https://duckdb.org/docs/current/connect/concurrency";
        let h = lock_holder(full).unwrap();
        assert_eq!(h, Holder { process: Some("/usr/bin/duckdb".into()), pid: Some(4242), this_process: false });
        assert_eq!(h.to_string(), "/usr/bin/duckdb (PID 4242)");

        let bare = "IO Error: Could not set lock on file \"/x\": Conflicting lock is held in PID 17. See also …";
        let h = lock_holder(bare).unwrap();
        assert_eq!((h.process.as_deref(), h.pid), (None, Some(17)));
        assert_eq!(h.to_string(), "process 17");

        let own = "IO Error: Could not set lock on file \"/x\": Lock is already held in current process, likely \
                   another DuckDB instance";
        assert!(lock_holder(own).unwrap().this_process);

        let unknown = "IO Error: Could not set lock on file \"/x\": Resource temporarily unavailable";
        assert_eq!(lock_holder(unknown).unwrap().to_string(), "another process");

        assert_eq!(lock_holder("IO Error: Cannot open file \"/x\": Permission denied"), None);
    }
}
