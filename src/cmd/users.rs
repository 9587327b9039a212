//! `trm users sync`, `trm add-users` and `trm users export`: flags in, the
//! library (`trm::admin::users`) does the work, plan, report and summary out.
//!
//! Exit codes: 0 all applied (or, with `--dry-run`, nothing wrong with the
//! file), 1 some rows were not applied (or are invalid), 2 a usage, file or
//! connection error before any change (and `--strict` with invalid rows).

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;
use trm::admin::users::{self, Context, RemoveMissing, SyncOptions, UserFile};
use trm::admin::Options;
use trm::cli::{
    AddUsersArgs, PlanArgs, RemoveMissingArg, SiteArgs, UsersExportArgs, UsersSyncArgs,
};

use super::common::{self, SomeFailed};

pub async fn sync(args: UsersSyncArgs, json: bool) -> anyhow::Result<()> {
    let remove_missing = args.remove_missing.map(|r| match r {
        RemoveMissingArg::Unlicense => RemoveMissing::Unlicense,
        RemoveMissingArg::Delete => RemoveMissing::Delete,
    });
    if args.map_assets_to.is_some() && remove_missing != Some(RemoveMissing::Delete) {
        anyhow::bail!("--map-assets-to only applies with --remove-missing delete");
    }
    let opts = SyncOptions {
        remove_missing,
        map_assets_to: args.map_assets_to,
        only_groups: args.only_groups,
        ..SyncOptions::sync()
    };
    run(&args.site, &args.plan, &args.csv, args.strict, opts, json).await
}

pub async fn add_users(args: AddUsersArgs, json: bool) -> anyhow::Result<()> {
    run(
        &args.site,
        &args.plan,
        &args.csv,
        args.strict,
        SyncOptions::add_only(),
        json,
    )
    .await
}

async fn run(
    site: &SiteArgs,
    plan_args: &PlanArgs,
    csv: &Path,
    strict: bool,
    opts: SyncOptions,
    json: bool,
) -> anyhow::Result<()> {
    let file = UserFile::read(csv)?;
    if strict && !file.errors.is_empty() {
        for e in &file.errors {
            eprintln!("  {e}");
        }
        anyhow::bail!(
            "{} invalid row(s) in {}; --strict refuses the whole file: nothing was changed",
            file.errors.len(),
            csv.display()
        );
    }
    let (_, settings) = common::site_settings(site)?;
    let client = common::connect(&settings).await?;
    let ctx = Context::new(client.user_id(), &client.api_version());
    let started = std::time::Instant::now();
    let state = users::read_for_sync(&client, &file, &opts, &ctx)
        .await
        .context("cannot read the site's users and groups")?;
    let read = started.elapsed();
    let sync = users::build(&file, &state, &opts, &ctx)?;
    if !json {
        // On stderr: how long reading and planning took, and what was read.
        let members_read = state.groups.iter().filter(|g| g.members.is_some()).count();
        eprintln!(
            "Read {} users, {} groups and the members of {members_read} groups in {:.2} s; planned in {:.2} s.",
            state.users.len(),
            state.groups.len(),
            read.as_secs_f64(),
            (started.elapsed() - read).as_secs_f64()
        );
    }
    let options = Options::skip_failed_units(client.concurrency());

    let report = if json {
        sync.plan
            .check()
            .map_err(|e| anyhow::anyhow!("internal error: the plan cannot be applied: {e}"))?;
        let report = if plan_args.dry_run || sync.plan.is_empty() {
            None
        } else {
            Some(trm::admin::apply(&client, &sync.plan, options, &|_, _| {}).await)
        };
        let problems = sync.problems(&file, report.as_ref());
        let out = serde_json::json!({
            "dry_run": plan_args.dry_run,
            "plan": sync.plan.to_json(),
            "report": report.as_ref().map(|r| r.to_json(&sync.plan)),
            "summary": sync.summary(&file, report.as_ref()),
            "errors": problems,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        report
    } else {
        let report =
            common::plan_then_apply(&client, &sync.plan, plan_args, options, false).await?;
        let problems = sync.problems(&file, report.as_ref());
        println!();
        print!(
            "{}",
            sync.summary(&file, report.as_ref())
                .render(&problems, report.is_none())
        );
        report
    };
    client.sign_out().await;
    let problems = sync.problems(&file, report.as_ref());
    if !problems.is_empty() {
        let what = if report.is_some() {
            "were not applied"
        } else {
            "are invalid"
        };
        return Err(SomeFailed(format!(
            "{} row(s) or user(s) {what}; see the errors above",
            problems.len()
        ))
        .into());
    }
    Ok(())
}

pub async fn export(args: UsersExportArgs) -> anyhow::Result<()> {
    let (_, settings) = common::site_settings(&args.site)?;
    let client = common::connect(&settings).await?;
    let (rows, warnings) = users::export(&client)
        .await
        .context("cannot read the site's users and groups")?;
    client.sign_out().await;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    match &args.output {
        Some(path) => {
            let f = std::fs::File::create(path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            users::file::write_csv(std::io::BufWriter::new(f), &rows)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("{} users written to {}", rows.len(), path.display());
        }
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            users::file::write_csv(&mut lock, &rows).context("cannot write to standard output")?;
            lock.flush()?;
        }
    }
    Ok(())
}
