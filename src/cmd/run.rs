//! `trm run`: extract → audit → report for schedulers, then `--fail-on`
//! sets the exit code.

use trm::cli::RunArgs;

use super::common::{self, FindingsFound};

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let (file, settings, options, outcome) = common::extract_from_flags(&args.extract).await?;
    let t = file.audit;
    let parquet = options.parquet.then_some(settings.parquet.as_path());
    // Always audit the run just made (a run made with --only may share its
    // predecessor's tables, but its findings are its own).
    let r = common::audit_latest(&settings.db, parquet, &t).await?;
    common::audit_and_report(&settings.db, parquet, &args.out, args.reports.as_deref(), None, &t).await?;
    let mut hits = Vec::new();
    // A site that could not be read is an error whatever the findings.
    let failed: Vec<String> = outcome.failed_sites().map(|s| format!("'{}'", s.content_url)).collect();
    if !args.fail_on.is_empty() && !failed.is_empty() {
        hits.push(format!("{} failed site{} ({})", failed.len(), if failed.len() == 1 { "" } else { "s" }, failed.join(", ")));
    }
    for f in &args.fail_on {
        let n = r.findings.iter().filter(|x| x.detector == f.detector()).count();
        if n > 0 {
            hits.push(format!("{n} {}", f.detector().replace('_', " ") + if n == 1 { "" } else { "s" }));
        }
    }
    if !hits.is_empty() {
        return Err(FindingsFound(format!("findings named by --fail-on: {}", hits.join(", "))).into());
    }
    Ok(())
}
