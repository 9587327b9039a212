//! `trm search`: the whole site's assets by name, description, formula,
//! custom SQL, tag or owner, best match first; `--sql` prints the warehouse
//! SQL that lists the same assets instead.

use std::fmt::Write as _;
use std::io::IsTerminal;

use trm::cli::SearchArgs;
use trm::search::{self, Hit, Request};

use super::common;

pub async fn search(args: SearchArgs, json: bool) -> anyhow::Result<()> {
    let (_, _, db) = common::warehouse_settings(&args.warehouse)?;
    let req = Request {
        text: args.text.clone(),
        kinds: args.kind.iter().map(|k| k.trim().to_ascii_lowercase()).filter(|k| !k.is_empty()).collect(),
        project: args.project.clone(),
        owner: args.owner.clone(),
        tag: args.tag.clone(),
        limit: args.limit,
    };
    if args.sql {
        print!("{}", search::sql::sql(&req));
        return Ok(());
    }
    let run_id = args.warehouse.run.clone();
    let reindex = args.reindex;
    let searched = tokio::task::spawn_blocking(move || -> anyhow::Result<search::Searched> {
        if reindex {
            search::ensure(&db, run_id.as_deref(), true)?;
        }
        search::search(&db, run_id.as_deref(), &req)
    })
    .await??;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "run_id": searched.run_id,
                "hits": searched.hits,
            }))?
        );
        return Ok(());
    }
    if let Some((docs, took)) = searched.built {
        eprintln!("Indexed {docs} assets of run {} in {:.1} s.", searched.run_id, took.as_secs_f64());
    }
    print!("{}", render(&searched.hits, std::io::stdout().is_terminal()));
    Ok(())
}

/// The hits for people; matches in bold on a terminal.
fn render(hits: &[Hit], terminal: bool) -> String {
    let (open, close) = if terminal { ("\x1b[1m", "\x1b[0m") } else { ("", "") };
    let mut out = String::new();
    if hits.is_empty() {
        out.push_str("No asset matches.\n");
        return out;
    }
    for (i, h) in hits.iter().enumerate() {
        let mut facts = Vec::new();
        if let Some(p) = &h.project {
            facts.push(format!("project {p}"));
        }
        if let Some(o) = &h.owner {
            facts.push(format!("owner {o}"));
        }
        if let Some(c) = &h.context {
            facts.push(c.clone());
        }
        if !h.tags.is_empty() {
            facts.push(format!("tags {}", h.tags.join(", ")));
        }
        let _ = writeln!(out, "{:>3}. {:<10} {}", i + 1, h.kind, h.name);
        if !facts.is_empty() {
            let _ = writeln!(out, "     {}", facts.join(" · "));
        }
        if let Some(m) = &h.matched {
            let _ = writeln!(out, "     {}: {}", m.field, m.render(100, open, close));
        }
        let _ = writeln!(out, "     {} {}", h.id_column, h.id);
    }
    out
}
