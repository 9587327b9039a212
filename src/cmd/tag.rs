//! `trm tag add|remove`: tags on content named, picked by SQL, or flagged
//! by the audit. Targets and tags are checked, and current tags read from
//! the site, before any write; the plan then goes through the engine.

use trm::admin::tags::{self, Op, Target};
use trm::admin::Options;
use trm::cli::{TagArgs, TagCommand};

use super::common;

pub async fn tag(command: TagCommand, json: bool) -> anyhow::Result<()> {
    let (op, args) = match command {
        TagCommand::Add(a) => (Op::Add, a),
        TagCommand::Remove(a) => (Op::Remove, a),
    };
    run(op, args, json).await
}

async fn run(op: Op, args: TagArgs, json: bool) -> anyhow::Result<()> {
    let labels = tags::check_tags(&args.tags)?;
    if args.batch_size == 0 {
        anyhow::bail!("--batch-size must be at least 1");
    }
    let assets = args.asset.iter().map(|a| tags::parse_asset(a)).collect::<anyhow::Result<Vec<_>>>()?;
    let (_, settings) = common::site_settings(&args.site)?;
    // Targets from the warehouse are read (and their SQL checked) before
    // signing in.
    let db = settings.db.clone();
    let from_warehouse: Option<Vec<Target>> = match (&args.where_sql, args.findings.is_empty()) {
        (Some(sql), _) => {
            let sql = sql.clone();
            Some(tokio::task::spawn_blocking(move || tags::targets_from_sql(&db, &sql)).await??)
        }
        (None, false) => {
            let (detectors, severity) = (args.findings.clone(), args.severity.clone());
            Some(
                tokio::task::spawn_blocking(move || tags::targets_from_findings(&db, &detectors, severity.as_deref()))
                    .await??,
            )
        }
        (None, true) => None,
    };
    let client = common::connect(&settings).await?;
    let mut targets = match from_warehouse {
        Some(t) => t,
        None => tags::resolve_assets(&client, &assets, args.project.as_deref()).await?,
    };
    let current = tags::current_tags(&client, &mut targets).await?;
    let batch = (!args.no_batch && tags::batch_supported(&client.api_version())).then_some(args.batch_size);
    let mut plan = tags::plan(op, &labels, &targets, &current, batch);
    if targets.is_empty() {
        plan.note(None, "no targets: nothing to tag");
    }
    let options = Options::stop_at_first_error(client.concurrency());
    let report = common::plan_then_apply(&client, &plan, &args.plan, options, json).await?;
    client.sign_out().await;
    if let Some(r) = report {
        if !r.is_complete() {
            anyhow::bail!(
                "{} of {} tag call(s) were not applied",
                r.results.len() - r.count(trm::admin::Status::Applied),
                r.results.len()
            );
        }
    }
    Ok(())
}
