//! `trm extract`: a Tableau site into the warehouse.

use trm::cli::ExtractArgs;

use super::common;

pub async fn extract(args: ExtractArgs) -> anyhow::Result<()> {
    common::extract_from_flags(&args).await.map(|_| ())
}
