//! `trm refresh-datasource`, `trm refresh-workbook`, `trm refresh` and
//! `trm reschedule`: flags to [`trm::admin::refresh`], then progress, the
//! outcome table and the exit code (0 every refresh succeeded, 1 any
//! failed or timed out, 2 a usage error).

use std::collections::HashMap;
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::sync::Mutex;
use std::time::Duration;

use trm::admin::refresh::{self as r, Event, Follow, NewSchedule, Outcome, Refresh, RunResult};
use trm::admin::{Options, Plan};
use trm::cli::{PlanArgs, RefreshArgs, RefreshContentArgs, RescheduleArgs, WaitArgs};
use trm::config::Settings;

use super::common::{connect, plan_then_apply, site_settings, FindingsFound};

pub async fn refresh_content(kind: &str, args: RefreshContentArgs, json: bool) -> anyhow::Result<()> {
    let (_, settings) = site_settings(&args.site)?;
    let client = connect(&settings).await?;
    if args.incremental {
        r::check_incremental(&client.api_version())?;
    }
    let refresh = r::resolve_content(&client, kind, &args.name, args.project.as_deref(), args.incremental).await?;
    let outcome = start(&client, &settings, vec![refresh], &args.plan, &args.wait, 1, json, None).await;
    client.sign_out().await;
    outcome
}

pub async fn refresh(args: RefreshArgs, json: bool) -> anyhow::Result<()> {
    let (_, settings) = site_settings(&args.site)?;
    let broken = if args.broken {
        let (db, severity) = (settings.db.clone(), args.severity.clone());
        let b = tokio::task::spawn_blocking(move || r::broken_tasks(&db, severity.as_deref())).await??;
        if b.findings_run.as_deref().is_some_and(|run| run != b.latest_run) {
            eprintln!(
                "note: these findings are from run {}; the latest run {} has not been audited (run `trm audit`)",
                b.findings_run.as_deref().unwrap_or_default(),
                b.latest_run
            );
        }
        if b.findings_run.is_none() {
            anyhow::bail!("the warehouse {} has no findings yet; run `trm audit` first", settings.db.display());
        }
        Some(b)
    } else {
        None
    };
    let client = connect(&settings).await?;
    let refreshes = match (&broken, &args.task) {
        (Some(b), _) => r::broken_refreshes(&b.tasks),
        (None, Some(task)) => vec![r::resolve_task(&client, task).await?],
        (None, None) => unreachable!("clap requires --task or --broken"),
    };
    let jobs = if args.broken { args.site.concurrency.unwrap_or(settings.concurrency).max(1) } else { 1 };
    let outcome = start(&client, &settings, refreshes, &args.plan, &args.wait, jobs, json, broken.as_ref()).await;
    client.sign_out().await;
    outcome
}

/// Plans, starts (and follows) the refreshes, cancels on request, prints
/// the table, records the ended ones, and turns failures into exit 1.
#[allow(clippy::too_many_arguments)]
async fn start(
    client: &trm::tableau::Client,
    settings: &Settings,
    refreshes: Vec<Refresh>,
    plan_args: &PlanArgs,
    wait: &WaitArgs,
    jobs: usize,
    json: bool,
    broken: Option<&r::Broken>,
) -> anyhow::Result<()> {
    let plan = r::plan(&refreshes);
    plan.check().map_err(|e| anyhow::anyhow!("internal error: the plan cannot be applied: {e}"))?;
    if plan_args.dry_run || plan.is_empty() {
        if json {
            println!("{}", serde_json::to_string_pretty(&plan.to_json())?);
        } else {
            print!("{}", plan.render(plan_args.show));
            if broken.is_some() && plan.is_empty() {
                println!("The latest audit flagged no broken extract with a refresh task.");
            }
        }
        return Ok(());
    }
    if !json {
        print!("{}", plan.render(plan_args.show));
    }

    let (tx, rx) = tokio::sync::watch::channel(false);
    if wait.wait {
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                let _ = tx.send(true);
            }
        });
    }
    let follow = wait.wait.then_some(Follow { poll: wait.poll.max(Duration::from_millis(100)), timeout: wait.timeout });
    let progress = Progress::new(!json && std::io::stderr().is_terminal());
    let on_event = |e: Event<'_>| progress.event(e);
    let mut results = r::run(client, &refreshes, &plan, follow, jobs, rx, &on_event).await;
    progress.finish();

    cancel_if_asked(client, &mut results, wait.cancel_on_interrupt).await;

    if json {
        let rows: Vec<serde_json::Value> = results.iter().map(|x| result_json(x, broken.is_some())).collect();
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({"refreshes": rows}))?);
    } else {
        print!("{}", table(&results, broken.is_some()));
    }
    record(client, settings, &results).await;

    let bad: Vec<&RunResult> = results.iter().filter(|x| !x.outcome.ok()).collect();
    if bad.is_empty() {
        return Ok(());
    }
    let counts = count_outcomes(&bad);
    Err(FindingsFound(format!("{} of {} refresh(es) did not succeed: {counts}", bad.len(), results.len())).into())
}

fn count_outcomes(results: &[&RunResult]) -> String {
    let mut n: Vec<(&str, usize)> = Vec::new();
    for x in results {
        match n.iter_mut().find(|(o, _)| *o == x.outcome.as_str()) {
            Some((_, k)) => *k += 1,
            None => n.push((x.outcome.as_str(), 1)),
        }
    }
    n.iter().map(|(o, k)| format!("{k} {o}")).collect::<Vec<_>>().join(", ")
}

/// Ctrl-C stopped the wait: cancel the jobs left running if
/// `--cancel-on-interrupt`, or if the person at the terminal says so; a
/// script without the flag leaves them running.
async fn cancel_if_asked(client: &trm::tableau::Client, results: &mut [RunResult], without_asking: bool) {
    let running: Vec<usize> = (0..results.len())
        .filter(|&i| results[i].outcome == Outcome::Interrupted && results[i].job_id.is_some())
        .collect();
    if running.is_empty() {
        return;
    }
    let cancel =
        without_asking || (std::io::stdin().is_terminal() && std::io::stderr().is_terminal() && ask(running.len()));
    if !cancel {
        eprintln!("Left {} job(s) running on the server.", running.len());
        return;
    }
    let jobs: Vec<(String, String)> =
        running.iter().map(|&i| (results[i].job_id.clone().unwrap_or_default(), results[i].refresh.label())).collect();
    let plan = r::cancel_plan(&jobs);
    let report = trm::admin::apply(client, &plan, Options::skip_failed_units(client.concurrency()), &|_, _| {}).await;
    for (k, &i) in running.iter().enumerate() {
        let res = &report.results[k];
        if res.status == trm::admin::Status::Applied {
            results[i].outcome = Outcome::Cancelled;
            results[i].error = None;
        } else {
            results[i].error = Some(format!("cancel failed: {}", res.error.as_deref().unwrap_or("not made")));
        }
    }
    eprint!("{}", report.render(&plan, 10));
}

fn ask(n: usize) -> bool {
    eprint!("\nInterrupted. Cancel the {n} running refresh job(s) on the server? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

fn duration_text(d: Option<Duration>) -> String {
    match d {
        Some(d) if d.as_secs() >= 60 => format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60),
        Some(d) => format!("{:.1}s", d.as_secs_f64()),
        None => "-".into(),
    }
}

fn content_text(x: &RunResult) -> String {
    let rf = &x.refresh;
    match (&rf.target_name, &rf.project_path) {
        (Some(n), Some(p)) => format!("{} {n} ({p})", rf.target_type),
        (Some(n), None) => format!("{} {n}", rf.target_type),
        _ => format!("{} {}", rf.target_type, rf.target_luid),
    }
}

/// Task, content, outcome, duration (and, for --broken, whether the
/// finding's refresh failure is cleared), then the notes of failures.
fn table(results: &[RunResult], broken: bool) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out);
    let header = if broken { "cleared" } else { "" };
    let _ = writeln!(out, "{:<38} {:<44} {:<12} {:>9}  {header}", "task", "content", "outcome", "duration");
    for x in results {
        let task = x.refresh.task_luid.clone().unwrap_or_else(|| "-".into());
        let mut content = content_text(x);
        if content.chars().count() > 44 {
            content = content.chars().take(43).collect::<String>() + "…";
        }
        let cleared = match (broken, x.outcome) {
            (false, _) => "",
            (true, Outcome::Success) => "yes",
            // Not followed to its end: the next audit will tell.
            (true, Outcome::Started) => "-",
            (true, _) => "no",
        };
        let _ = writeln!(
            out,
            "{task:<38} {content:<44} {:<12} {:>9}  {cleared}",
            x.outcome.as_str(),
            duration_text(x.duration)
        );
    }
    for x in results.iter().filter(|x| !x.outcome.ok()) {
        let _ = writeln!(out);
        let job = x.job_id.as_deref().map(|j| format!(" (job {j})")).unwrap_or_default();
        let _ = writeln!(out, "{} {}{job}:", content_text(x), x.outcome.as_str());
        if let Some(e) = &x.error {
            let _ = writeln!(out, "  {e}");
        }
        for n in &x.notes {
            let _ = writeln!(out, "  {n}");
        }
    }
    out
}

fn result_json(x: &RunResult, broken: bool) -> serde_json::Value {
    let mut v = serde_json::json!({
        "task": x.refresh.task_luid,
        "target_type": x.refresh.target_type,
        "target_luid": x.refresh.target_luid,
        "target_name": x.refresh.target_name,
        "job": x.job_id,
        "outcome": x.outcome,
        "finish_code": x.finish_code,
        "duration_secs": x.duration.map(|d| d.as_secs_f64()),
        "notes": x.notes,
        "error": x.error,
    });
    if broken {
        v["cleared"] = match x.outcome {
            Outcome::Started => serde_json::Value::Null,
            o => serde_json::Value::from(o == Outcome::Success),
        };
    }
    v
}

/// Appends the refreshes that ended to `refresh_runs`, when the warehouse
/// exists (a refresh does not create one).
async fn record(client: &trm::tableau::Client, settings: &Settings, results: &[RunResult]) {
    if !results.iter().any(|x| x.outcome.ended()) {
        return;
    }
    if !settings.db.exists() {
        tracing::info!(db = %settings.db.display(), "no warehouse here, so the refreshes are not recorded (pass --db)");
        return;
    }
    let who = r::who(client, &settings.site).await;
    let (db, results) = (settings.db.clone(), results.to_vec());
    match tokio::task::spawn_blocking(move || r::record(&db, &who, &results)).await {
        Ok(Ok(n)) => tracing::info!(rows = n, db = %settings.db.display(), "recorded in refresh_runs"),
        Ok(Err(e)) => eprintln!("warning: the refreshes were not recorded in {}: {e:#}", settings.db.display()),
        Err(e) => eprintln!("warning: the refreshes were not recorded: {e}"),
    }
}

/// A spinner per job on a terminal; log lines otherwise.
struct Progress {
    multi: Option<indicatif::MultiProgress>,
    bars: Mutex<HashMap<usize, indicatif::ProgressBar>>,
    last: Mutex<HashMap<usize, String>>,
}

impl Progress {
    fn new(terminal: bool) -> Progress {
        Progress {
            multi: terminal.then(indicatif::MultiProgress::new),
            bars: Mutex::new(HashMap::new()),
            last: Mutex::new(HashMap::new()),
        }
    }

    fn event(&self, e: Event<'_>) {
        match e {
            Event::Started { index, refresh, job_id } => match &self.multi {
                Some(m) => {
                    let bar = m.add(indicatif::ProgressBar::new_spinner());
                    bar.set_style(
                        indicatif::ProgressStyle::with_template("{spinner} {elapsed:>4} {prefix} {msg}")
                            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
                    );
                    bar.set_prefix(refresh.label());
                    bar.set_message(format!("job {job_id} queued"));
                    bar.enable_steady_tick(Duration::from_millis(120));
                    self.bars.lock().expect("bars").insert(index, bar);
                }
                None => tracing::info!(job = job_id, "started the refresh of {}", refresh.label()),
            },
            // The end is reported once, by `Finished`.
            Event::Polled { job, .. } if job.ended() => {}
            Event::Polled { index, refresh, job } => {
                let state = job.state();
                match self.bars.lock().expect("bars").get(&index) {
                    Some(bar) => bar.set_message(format!("job {} {state}", job.id)),
                    None => {
                        let mut last = self.last.lock().expect("last");
                        if last.get(&index) != Some(&state) {
                            tracing::info!(job = %job.id, "{}: {state}", refresh.label());
                            last.insert(index, state);
                        }
                    }
                }
            }
            Event::Finished { index, result } => {
                let text = format!("{} after {}", result.outcome.as_str(), duration_text(result.duration));
                match self.bars.lock().expect("bars").remove(&index) {
                    Some(bar) => bar.finish_with_message(text),
                    None if self.multi.is_none() => match &result.error {
                        Some(e) => tracing::warn!("{}: {}: {e}", result.refresh.label(), result.outcome.as_str()),
                        None => tracing::info!("{}: {text}", result.refresh.label()),
                    },
                    None => {}
                }
            }
        }
    }

    fn finish(&self) {
        if let Some(m) = &self.multi {
            let _ = m.clear();
        }
    }
}

pub async fn reschedule(args: RescheduleArgs, json: bool) -> anyhow::Result<()> {
    // Tableau Cloud's rules are checked before anything is asked of the site.
    let to = match (&args.schedule, &args.every) {
        (Some(name), None) => NewSchedule::Named(name.clone()),
        (None, Some(every)) => NewSchedule::Every(r::parse_every(every).map_err(anyhow::Error::msg)?),
        _ => unreachable!("clap requires exactly one of --schedule and --every"),
    };
    let (_, settings) = site_settings(&args.site)?;
    let client = connect(&settings).await?;
    let outcome = reschedule_on(&client, &args, &to, json).await;
    client.sign_out().await;
    outcome
}

async fn reschedule_on(
    client: &trm::tableau::Client,
    args: &RescheduleArgs,
    to: &NewSchedule,
    json: bool,
) -> anyhow::Result<()> {
    let task = r::read_task(client, &args.task).await?;
    let schedules = match (r::flavor_of(&task), to) {
        (r::Flavor::Server, NewSchedule::Named(_)) => r::server_schedules(client).await?,
        _ => Vec::new(),
    };
    let plan: Plan = r::reschedule_plan(&task, to, &schedules)?;
    let Some(report) = plan_then_apply(client, &plan, &args.plan, Options::stop_at_first_error(1), json).await? else {
        return Ok(());
    };
    if !report.is_complete() {
        return Err(FindingsFound(format!("task {} was not fully rescheduled; see the report above", task.luid)).into());
    }
    if let NewSchedule::Named(name) = to {
        let sid = plan.calls[0].path.split('/').nth(1).unwrap_or_default();
        if let Some(new) = r::task_on_schedule(client, &task.target_luid, sid).await? {
            if !json {
                println!("Task {} is now task {new} on schedule {name:?}.", task.luid);
            }
        }
    }
    Ok(())
}
