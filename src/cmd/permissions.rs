//! `trm permissions export | plan | apply`: permissions as code. The work
//! is in `trm::admin::permissions`; this module reads flags and prints.

use anyhow::Context as _;
use trm::admin::permissions::{self, export};
use trm::admin::Options;
use trm::cli::{PermissionsApplyArgs, PermissionsExportArgs, PermissionsPlanArgs};

use super::common;

pub async fn export(args: PermissionsExportArgs) -> anyhow::Result<()> {
    let (_, settings) = common::site_settings(&args.site)?;
    let client = common::connect(&settings).await?;
    let exported = export::export(&client, args.project.as_deref()).await?;
    print!(
        "{}",
        export::to_yaml(&exported, &settings.server, &settings.site)?
    );
    for w in &exported.warnings {
        eprintln!("note: {w}");
    }
    eprintln!(
        "Exported {} project(s), {} item(s) with rules of their own, {} rule(s).",
        exported.projects, exported.items, exported.rules
    );
    Ok(())
}

async fn planned(
    args: &PermissionsPlanArgs,
) -> anyhow::Result<(trm::tableau::Client, permissions::Planned)> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let (_, settings) = common::site_settings(&args.site)?;
    let client = common::connect(&settings).await?;
    let planned =
        permissions::plan_file(&client, &text, &args.file.display().to_string(), args.prune)
            .await?;
    // On stderr, so `--json` output stays one document.
    eprintln!(
        "Read the site in {:.2} s; planned {} rule(s) (grantee × object) on {} object(s) in {:.3} s.",
        planned.read_time.as_secs_f64(),
        planned.stats.rules,
        planned.stats.objects,
        planned.plan_time.as_secs_f64()
    );
    Ok((client, planned))
}

pub async fn plan(args: PermissionsPlanArgs, json: bool) -> anyhow::Result<()> {
    let (_, p) = planned(&args).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&p.plan.to_json())?);
    } else {
        print!("{}", p.plan.render(usize::MAX));
    }
    Ok(())
}

pub async fn apply(args: PermissionsApplyArgs, json: bool) -> anyhow::Result<()> {
    let (client, p) = planned(&args.target).await?;
    let concurrency = args.target.site.concurrency.unwrap_or(client.concurrency());
    let options = Options::stop_at_first_error(concurrency);
    match common::plan_then_apply(&client, &p.plan, &args.plan, options, json).await? {
        Some(report) if !report.is_complete() => anyhow::bail!(
            "{} of {} REST call(s) applied; the rest were not made. Run the command again to finish.",
            report.count(trm::admin::Status::Applied),
            p.plan.len()
        ),
        _ => Ok(()),
    }
}
