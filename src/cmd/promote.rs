//! `trm promote-content`: flags → the two sites' settings and the mapping
//! file → the plan (printed; `--plan` stops there) → the engine → the
//! lineage check → a row per item in the warehouse's `promotion_runs`.
//!
//! Exit codes: 0 when everything planned was applied and the lineage
//! matched; 1 when some publish failed or the lineage check failed; 2 for
//! errors before any write (bad flags, mapping or project, conflicts).

use std::collections::BTreeSet;

use trm::admin::promote::plan::{self, Options, Policy};
use trm::admin::promote::{mapping, run};
use trm::cli::PromoteArgs;
use trm::config::{Env, File, Overrides, Secret, Settings};

use super::common::{self, SomeFailed};

/// `NAME` as an environment variable suffix: `prod-eu` → `PROD_EU`.
fn env_suffix(profile: &str) -> String {
    profile
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// One profile's settings. The server and site come from the profile only
/// (`TABLEAU_SERVER` / `TABLEAU_SITE` would make both sites one); secrets
/// from `TABLEAU_TOKEN_SECRET_<PROFILE>` (and the like) when set, else the
/// usual variables.
fn profile_settings(
    file: &File,
    path: &std::path::Path,
    profile: &str,
    db: Option<&std::path::Path>,
) -> anyhow::Result<Settings> {
    let get = |k: &str| {
        let own = format!("{k}_{}", env_suffix(profile));
        std::env::var(&own)
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| std::env::var(k).ok().filter(|v| !v.is_empty()))
    };
    let env = Env {
        server: None,
        site: None,
        token_name: get("TABLEAU_TOKEN_NAME"),
        token_secret: get("TABLEAU_TOKEN_SECRET").map(Secret::new),
        jwt_secret: get("TABLEAU_JWT_SECRET").map(Secret::new),
        password: get("TABLEAU_PASSWORD").map(Secret::new),
    };
    if !file.profiles.contains_key(profile) {
        anyhow::bail!(
            "{}: no profile {profile:?}; the file defines {}",
            path.display(),
            file.profiles.keys().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    let flags = Overrides {
        profile: Some(profile.to_string()),
        db: db.map(|p| p.to_path_buf()),
        ..Overrides::default()
    };
    Ok(Settings::resolve(file, path, &env, &flags)?)
}

pub async fn promote(args: PromoteArgs, json: bool) -> anyhow::Result<()> {
    let started = chrono::Utc::now().timestamp();
    if args.source == args.target {
        anyhow::bail!(
            "--source and --target are the same profile ({:?}): nothing to promote",
            args.source
        );
    }
    let (file, path) = File::locate(args.config.as_deref())?;
    let source_settings = profile_settings(&file, &path, &args.source, args.db.as_deref())?;
    let target_settings = profile_settings(&file, &path, &args.target, args.db.as_deref())?;
    let norm = |s: &str| s.trim_end_matches('/').to_ascii_lowercase();
    if norm(&source_settings.server) == norm(&target_settings.server)
        && source_settings.site == target_settings.site
    {
        anyhow::bail!(
            "profiles {:?} and {:?} are the same site ({} site {:?}): nothing to promote",
            args.source,
            args.target,
            source_settings.server,
            source_settings.site
        );
    }
    let mapping = match &args.mapping {
        Some(p) => mapping::load(p, &|k| std::env::var(k).ok())?,
        None => mapping::Mapping::default(),
    };
    let options = Options {
        project: args.project.clone(),
        include_nested: args.include_nested,
        policy: match (args.overwrite, args.skip_existing) {
            (true, _) => Policy::Overwrite,
            (_, true) => Policy::SkipExisting,
            _ => Policy::Ask,
        },
        chunk_threshold: args.chunk_threshold.max(1),
        chunk_size: trm::tableau::publish::DEFAULT_CHUNK_SIZE,
    };
    let source = common::connect(&source_settings).await?;
    let target = common::connect(&target_settings).await?;
    let outcome = promote_with(
        &source,
        &target,
        &source_settings,
        &target_settings,
        &mapping,
        &options,
        &args,
        json,
        started,
    )
    .await;
    source.sign_out().await;
    target.sign_out().await;
    outcome
}

#[allow(clippy::too_many_arguments)]
async fn promote_with(
    source: &trm::tableau::Client,
    target: &trm::tableau::Client,
    source_settings: &Settings,
    target_settings: &Settings,
    mapping: &mapping::Mapping,
    options: &Options,
    args: &PromoteArgs,
    json: bool,
    started: i64,
) -> anyhow::Result<()> {
    let mut state = plan::read(
        source,
        &source_settings.site,
        target,
        &target_settings.site,
        options,
    )
    .await?;
    let classes: BTreeSet<String> = plan::classes(&state)?;
    mapping.check_classes(&classes)?;
    let promotion = plan::build(&state, mapping, options)?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"plan": promotion}))?
        );
    } else {
        print!("{}", plan::render(&promotion, args.show));
    }
    if args.plan {
        return Ok(());
    }
    let executed =
        run::execute(target, &mut state, &promotion, mapping, options, &|_, _| {}).await?;
    if json {
        let mut out = serde_json::json!({"phase_a": executed.phase_a.to_json(&promotion.phase_a)});
        if let Some((p, r)) = &executed.phase_b {
            out["phase_b"] = r.to_json(p);
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"report": out}))?
        );
    } else {
        if !promotion.phase_a.is_empty() {
            println!("Projects and datasources:");
            print!("{}", executed.phase_a.render(&promotion.phase_a, args.show));
        }
        match &executed.phase_b {
            Some((p, r)) if !p.is_empty() => {
                println!("Workbooks:");
                print!("{}", r.render(p, args.show));
            }
            Some(_) => {}
            None => println!("Workbooks: not started, the datasources did not all go in."),
        }
    }
    let published = run::published_items(&promotion, &executed);
    let verdict = if executed.is_complete() && !args.no_verify {
        Some(run::check(source, target, &mut state, mapping).await?)
    } else {
        None
    };
    match &verdict {
        Some(v) if v.passed => println!(
            "Lineage check passed: {} item(s) match the source.",
            v.checked
        ),
        Some(v) => {
            println!(
                "Lineage check FAILED: {} difference(s) over {} item(s):",
                v.differences.len(),
                v.checked
            );
            for d in &v.differences {
                println!("  {d}");
            }
        }
        None if args.no_verify => println!("Lineage check skipped (--no-verify)."),
        None => println!("Lineage check not run: the promotion did not complete."),
    }
    let id = trm::warehouse::new_run_id(started);
    let facts = run::RunFacts {
        promotion_id: id,
        started_at: started,
        ended_at: chrono::Utc::now().timestamp(),
        source_server: source_settings.server.clone(),
        source_site: source_settings.site.clone(),
        target_server: target_settings.server.clone(),
        target_site: target_settings.site.clone(),
        project_path: options.project.clone(),
    };
    let db = target_settings.db.clone();
    let items = executed.items.clone();
    let v = verdict.clone();
    let recorded = tokio::task::spawn_blocking(move || {
        run::record(&db, &facts, &items, &published, v.as_ref())
    })
    .await?;
    match recorded {
        Ok(n) => {
            tracing::info!(rows = n, db = %target_settings.db.display(), "recorded in promotion_runs")
        }
        Err(e) => eprintln!(
            "warning: the run was not recorded in {}: {e:#}",
            target_settings.db.display()
        ),
    }
    if !executed.is_complete() {
        let published = executed.published(&promotion.phase_a);
        return Err(SomeFailed(format!(
            "the promotion stopped after {published} publish(es); run the command again to publish what is still missing"
        ))
        .into());
    }
    if verdict.is_some_and(|v| !v.passed) {
        return Err(SomeFailed("the target's lineage does not match the source's".into()).into());
    }
    Ok(())
}
