//! `trm lineage`: what depends on an asset, or what it is built from, as a
//! tree, or JSON with `--json`.

use trm::cli::LineageArgs;
use trm::lineage::{self, Direction};
use trm::warehouse;

use super::common;

pub async fn lineage(args: LineageArgs, json: bool) -> anyhow::Result<()> {
    let (_, _, db) = common::warehouse_settings(&args.warehouse)?;
    let (asset, direction) = match (&args.downstream, &args.upstream) {
        (Some(a), _) => (a.clone(), Direction::Downstream),
        (None, Some(a)) => (a.clone(), Direction::Upstream),
        (None, None) => anyhow::bail!("name an asset with --downstream or --upstream"),
    };
    let run_id = args.warehouse.run.clone();
    let depth = args.depth;
    let out = tokio::task::spawn_blocking(move || -> anyhow::Result<String> {
        let conn = warehouse::read::open(&db)?;
        let run = warehouse::read::resolve_run(&conn, &db, run_id.as_deref())?;
        let (graph, _) = lineage::load(&conn, &db, &run)?;
        let root = graph.find(&asset).map_err(|e| anyhow::anyhow!("{e}"))?;
        let walk = lineage::walk(&graph, root, direction, depth);
        if json {
            return Ok(serde_json::to_string_pretty(&serde_json::json!({
                "run_id": run.run_id,
                "asset": walk.nodes[0],
                "direction": walk.direction,
                "nodes": &walk.nodes[1..],
                "truncated": walk.truncated,
            }))?);
        }
        let mut s = walk.render_tree();
        let counts: Vec<String> = walk.counts().iter().map(|(k, n)| format!("{n} {k}")).collect();
        s += &format!(
            "\n{} of {}: {}\n",
            if direction == Direction::Downstream { "Downstream" } else { "Upstream" },
            graph.describe(root),
            if counts.is_empty() { "nothing".to_string() } else { counts.join(", ") }
        );
        Ok(s)
    })
    .await??;
    print!("{out}");
    Ok(())
}
