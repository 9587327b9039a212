//! `trm access`: effective permissions from the warehouse. `--user`: what
//! one user may do; `--asset`: who may use one item; `--compute` (or
//! neither question): compute and store them for the run, with a summary.

use std::collections::BTreeMap;
use std::io::Write;

use trm::access::{self, query};
use trm::cli::AccessArgs;

use super::common;

pub async fn access(args: AccessArgs, json: bool) -> anyhow::Result<()> {
    let (file, _, db) = common::warehouse_settings(&args.warehouse)?;
    let parquet = common::parquet_dir(&file, args.parquet.as_deref(), args.no_parquet);
    tokio::task::spawn_blocking(move || answer(args, db, parquet, json)).await?
}

fn answer(
    args: AccessArgs,
    db: std::path::PathBuf,
    parquet: Option<std::path::PathBuf>,
    json: bool,
) -> anyhow::Result<()> {
    if args.compute || (args.user.is_none() && args.asset.is_none()) {
        let s = access::run(&db, parquet.as_deref(), args.warehouse.run.as_deref())?;
        if json {
            println!("{}", serde_json::to_string_pretty(&s)?);
        } else {
            println!(
                "Effective access of run {}: {} users in {} access classes, {} items in {} access profiles; \
                 {} class decisions and {} per-user exceptions stored (read {:.1} s, computed {:.1} s, stored {:.1} s).",
                s.run_id,
                s.users,
                s.classes,
                s.items,
                s.profiles,
                s.decisions,
                s.exceptions,
                s.load_secs,
                s.compute_secs,
                s.write_secs
            );
            if s.ignored_rules > 0 {
                println!("{} rules name a grantee the run does not list (a group set, or someone removed since) and were left out.", s.ignored_rules);
            }
            println!("Query them with `trm access --user NAME` or `--asset TYPE:NAME`, or the effective_access view.");
        }
        if args.user.is_none() && args.asset.is_none() {
            return Ok(());
        }
    } else if args.warehouse.run.is_some() {
        anyhow::bail!("--run needs --compute: questions are answered from the latest computation");
    }
    let (conn, computed) = query::open_computed(&db, parquet.as_deref())?;
    if computed && !json {
        eprintln!("(computed effective access for the latest run first)");
    }
    if let Some(user) = &args.user {
        let (luid, name) = query::find_user(&conn, &db, user)?;
        let answers = query::for_user(&conn, &db, &luid, args.capability.as_deref(), args.denied)?;
        if json {
            println!(
                "{}",
                serde_json::to_string_pretty(
                    &serde_json::json!({"user_luid": luid, "user_name": name, "answers": answers})
                )?
            );
            return Ok(());
        }
        let role = answers.first().map(|a| a.site_role.as_str()).unwrap_or("");
        // Tens of thousands of lines: one write per line would cost more
        // than the query.
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        writeln!(
            out,
            "{name} ({luid}){}",
            if role.is_empty() {
                String::new()
            } else {
                format!(", {role}")
            }
        )?;
        print_by_item(&mut out, &answers)?;
        let count = |allowed: bool| {
            answers
                .iter()
                .filter(|a| a.allowed == allowed)
                .map(|a| a.capabilities.len())
                .sum::<usize>()
        };
        let items: std::collections::HashSet<&str> = answers
            .iter()
            .filter(|a| a.allowed)
            .map(|a| a.item_luid.as_str())
            .collect();
        writeln!(
            out,
            "{} capabilities allowed on {} items{}",
            count(true),
            items.len(),
            if args.denied {
                format!(", {} denied", count(false))
            } else {
                String::new()
            }
        )?;
        out.flush()?;
    }
    if let Some(asset) = &args.asset {
        let (kind, luid, name) = query::find_item(&conn, &db, asset)?;
        let capability = args.capability.as_deref().unwrap_or("Read");
        let answers = query::for_item(&conn, &db, &luid, capability, args.denied)?;
        if json {
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "item_type": kind, "item_luid": luid, "item_name": name, "capability": capability, "answers": answers
                }))?
            );
            return Ok(());
        }
        println!("{kind} '{name}' ({luid}), {capability}:");
        let mut by_reason: BTreeMap<String, usize> = BTreeMap::new();
        for a in &answers {
            println!(
                "  {} {} ({}): {}",
                if a.allowed { "+" } else { "-" },
                a.user_name,
                a.site_role,
                a.explain()
            );
            *by_reason.entry(a.reason.clone()).or_default() += 1;
        }
        let allowed = answers.iter().filter(|a| a.allowed).count();
        let reasons: Vec<String> = by_reason.iter().map(|(r, n)| format!("{r} {n}")).collect();
        println!(
            "{allowed} users may{}; by reason: {}",
            if args.denied {
                format!(", {} may not", answers.len() - allowed)
            } else {
                String::new()
            },
            reasons.join(", ")
        );
    }
    Ok(())
}

/// One line per item: its capabilities grouped by how they came about.
fn print_by_item(out: &mut impl Write, answers: &[query::Answer]) -> std::io::Result<()> {
    let mut i = 0;
    while i < answers.len() {
        let a = &answers[i];
        let same = answers[i..]
            .iter()
            .take_while(|b| b.item_luid == a.item_luid)
            .count();
        let mut how: BTreeMap<(bool, String), Vec<&str>> = BTreeMap::new();
        for b in &answers[i..i + same] {
            how.entry((!b.allowed, b.explain()))
                .or_default()
                .extend(b.capabilities.iter().map(String::as_str));
        }
        let place = a
            .project_name
            .as_deref()
            .map(|p| format!(" in '{p}'"))
            .unwrap_or_default();
        writeln!(
            out,
            "  {} '{}'{place}:",
            a.item_type,
            a.item_name.as_deref().unwrap_or(&a.item_luid)
        )?;
        for ((denied, why), caps) in how {
            writeln!(
                out,
                "    {} {}: {why}",
                if denied { "-" } else { "+" },
                caps.join(", ")
            )?;
        }
        i += same;
    }
    Ok(())
}
