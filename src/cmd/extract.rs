//! `trm extract`: a Tableau site into the warehouse.

use trm::cli::ExtractArgs;

use super::common;

pub async fn extract(args: ExtractArgs) -> anyhow::Result<()> {
    let (_, _, _, outcome) = common::extract_from_flags(&args).await?;
    let failed: Vec<String> = outcome.failed_sites().map(|s| format!("'{}'", s.content_url)).collect();
    anyhow::ensure!(
        failed.is_empty(),
        "{} of {} sites failed ({}); the other sites were committed in run {}",
        failed.len(),
        outcome.sites.len(),
        failed.join(", "),
        outcome.run_id
    );
    Ok(())
}
