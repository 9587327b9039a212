//! Carrying out a [`Plan`]: its calls, step by step, with at most
//! `concurrency` in flight, and a [`Report`] that says for every call
//! whether it was applied, failed, skipped or never started.
//!
//! Two policies on error:
//! - [`OnError::Stop`] (permissions, tags, refreshes): no call starts after
//!   the first failure; the calls already in flight finish and are
//!   reported.
//! - [`OnError::SkipUnit`] (user rows): the failed call's unit (a CSV line)
//!   makes no further calls, and every other unit goes on.
//!
//! Either way the report is exact, so a rerun, which plans from the site's
//! new state, makes only the calls that are still missing.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use futures::stream::{FuturesUnordered, StreamExt as _};
use serde::Serialize;
use serde_json::Value;

use super::plan::{Call, Plan, Scope};
use crate::tableau::Client;

/// What a failed call does to the rest of the plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnError {
    /// Start no further call.
    Stop,
    /// Start no further call of the same unit; other units go on.
    SkipUnit,
}

#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Calls in flight at most (the client's own limit applies too).
    pub concurrency: usize,
    pub on_error: OnError,
}

impl Options {
    pub fn stop_at_first_error(concurrency: usize) -> Options {
        Options { concurrency: concurrency.max(1), on_error: OnError::Stop }
    }

    pub fn skip_failed_units(concurrency: usize) -> Options {
        Options { concurrency: concurrency.max(1), on_error: OnError::SkipUnit }
    }
}

/// What became of one call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Applied,
    Failed,
    /// Not made: its unit failed earlier, or an id it needs was never
    /// created.
    Skipped,
    /// Not made: the apply stopped first.
    NotStarted,
}

#[derive(Clone, Debug, Serialize)]
pub struct CallResult {
    /// The call's position in the plan, from 0.
    pub index: usize,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The HTTP status of a failed call, when the server answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// The id a creating call got back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_id: Option<String>,
    /// The answer's JSON, for commands that read it (a job id).
    #[serde(skip)]
    pub answer: Option<Value>,
}

/// One result per plan call, in plan order.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub results: Vec<CallResult>,
}

impl Report {
    pub fn count(&self, status: Status) -> usize {
        self.results.iter().filter(|r| r.status == status).count()
    }

    /// Every call was applied.
    pub fn is_complete(&self) -> bool {
        self.results.iter().all(|r| r.status == Status::Applied)
    }

    /// The failed calls.
    pub fn failures(&self) -> impl Iterator<Item = &CallResult> {
        self.results.iter().filter(|r| r.status == Status::Failed)
    }

    /// The units with a failed or skipped call.
    pub fn failed_units<'a>(&'a self, plan: &'a Plan) -> BTreeSet<&'a str> {
        self.results
            .iter()
            .filter(|r| matches!(r.status, Status::Failed | Status::Skipped))
            .filter_map(|r| plan.calls[r.index].unit.as_deref())
            .collect()
    }

    /// For people: the counts, every failure with its call and error, and
    /// the first calls not made.
    pub fn render(&self, plan: &Plan, rows: usize) -> String {
        let mut out = String::new();
        let (applied, failed, skipped, not_started) = (
            self.count(Status::Applied),
            self.count(Status::Failed),
            self.count(Status::Skipped),
            self.count(Status::NotStarted),
        );
        let _ = writeln!(out, "Applied {applied} of {} REST call(s).", self.results.len());
        for r in self.failures() {
            let c = &plan.calls[r.index];
            let unit = c.unit.as_deref().map(|u| format!("{u}: ")).unwrap_or_default();
            let _ = writeln!(
                out,
                "  FAILED {unit}{} [{}]: {}",
                c.summary,
                c.line(),
                r.error.as_deref().unwrap_or("unknown error")
            );
        }
        if skipped + not_started > 0 {
            let _ = writeln!(out, "Not applied: {} call(s) ({skipped} skipped, {not_started} not started).", skipped + not_started);
            let mut shown = 0;
            for r in self.results.iter().filter(|r| matches!(r.status, Status::Skipped | Status::NotStarted)) {
                if shown == rows {
                    let _ = writeln!(out, "  … and {} more", skipped + not_started - rows);
                    break;
                }
                let c = &plan.calls[r.index];
                let why = r.error.as_deref().unwrap_or("the apply stopped first");
                let _ = writeln!(out, "  {} [{}]: {why}", c.summary, c.line());
                shown += 1;
            }
        }
        if failed > 0 {
            let _ = writeln!(out, "Run the command again to make the calls that are still missing.");
        }
        out
    }

    /// The report as JSON: counts, and each call with its outcome.
    pub fn to_json(&self, plan: &Plan) -> Value {
        let calls: Vec<Value> = self
            .results
            .iter()
            .map(|r| {
                let c = &plan.calls[r.index];
                let mut v = serde_json::json!({
                    "method": c.method,
                    "path": c.line(),
                    "action": c.action,
                    "summary": c.summary,
                    "status": r.status,
                });
                if let Some(u) = &c.unit {
                    v["unit"] = Value::from(u.clone());
                }
                if let Some(e) = &r.error {
                    v["error"] = Value::from(e.clone());
                }
                if let Some(id) = &r.created_id {
                    v["created_id"] = Value::from(id.clone());
                }
                v
            })
            .collect();
        serde_json::json!({
            "applied": self.count(Status::Applied),
            "failed": self.count(Status::Failed),
            "skipped": self.count(Status::Skipped),
            "not_started": self.count(Status::NotStarted),
            "calls": calls,
        })
    }
}

/// Makes the plan's calls; `progress(done, total)` is called after each.
pub async fn apply(client: &Client, plan: &Plan, options: Options, progress: &(dyn Fn(usize, usize) + Sync)) -> Report {
    let total = plan.calls.len();
    let mut results: Vec<CallResult> = (0..total)
        .map(|index| CallResult {
            index,
            status: Status::NotStarted,
            error: None,
            http_status: None,
            created_id: None,
            answer: None,
        })
        .collect();
    let mut steps: Vec<u32> = plan.calls.iter().map(|c| c.step).collect();
    steps.sort_unstable();
    steps.dedup();

    let mut created: HashMap<String, String> = HashMap::new();
    let mut failed_units: BTreeSet<String> = BTreeSet::new();
    let mut stopped = false;
    let mut done = 0usize;

    for step in steps {
        if stopped {
            break;
        }
        let mut queue = plan.calls.iter().enumerate().filter(|(_, c)| c.step == step).map(|(i, _)| i);
        let mut in_flight = FuturesUnordered::new();
        loop {
            while !stopped && in_flight.len() < options.concurrency.max(1) {
                let Some(i) = queue.next() else { break };
                let call = &plan.calls[i];
                if let Some(unit) = &call.unit {
                    if failed_units.contains(unit) {
                        results[i].status = Status::Skipped;
                        results[i].error = Some("an earlier call for the same item failed".into());
                        done += 1;
                        progress(done, total);
                        continue;
                    }
                }
                match resolve(call, &created) {
                    Ok((path, body)) => {
                        in_flight.push(async move {
                            let path = match call.scope {
                                Scope::Site => client.site_path(&path),
                                Scope::Server => path,
                            };
                            let outcome = match &call.upload {
                                None => client.write_json(call.method, &path, &[], body.as_ref()).await,
                                Some(up) => crate::tableau::publish::publish(client, &path, body.as_ref(), up).await,
                            };
                            (i, outcome)
                        });
                    }
                    Err(key) => {
                        results[i].status = Status::Skipped;
                        results[i].error = Some(format!("it needs the id of {key}, which was not created"));
                        if let Some(unit) = &call.unit {
                            failed_units.insert(unit.clone());
                        }
                        done += 1;
                        progress(done, total);
                    }
                }
            }
            let Some((i, outcome)) = in_flight.next().await else { break };
            let call = &plan.calls[i];
            done += 1;
            match outcome {
                Ok(answer) => {
                    results[i].status = Status::Applied;
                    if let Some(cr) = &call.creates {
                        match answer[cr.object.as_str()]["id"].as_str() {
                            Some(id) => {
                                created.insert(cr.key.clone(), id.to_string());
                                results[i].created_id = Some(id.to_string());
                            }
                            None => tracing::warn!(call = %call.line(), "the answer names no {}.id", cr.object),
                        }
                    }
                    results[i].answer = Some(answer);
                }
                Err(e) => {
                    tracing::debug!(call = %call.line(), error = %e, "call failed");
                    results[i].status = Status::Failed;
                    results[i].http_status = e.status();
                    results[i].error = Some(e.to_string());
                    match options.on_error {
                        OnError::Stop => stopped = true,
                        OnError::SkipUnit => {
                            if let Some(unit) = &call.unit {
                                failed_units.insert(unit.clone());
                            }
                        }
                    }
                }
            }
            progress(done, total);
        }
    }
    Report { results }
}

/// The call's path and body with every `{new:KEY}` filled in; the first
/// key not created yet is the error.
fn resolve(call: &Call, created: &HashMap<String, String>) -> Result<(String, Option<Value>), String> {
    for key in call.needs() {
        if !created.contains_key(&key) {
            return Err(key);
        }
    }
    let fill = |text: &str| -> String {
        let mut s = text.to_string();
        for (k, v) in created {
            if s.contains("{new:") {
                s = s.replace(&super::plan::placeholder(k), v);
            } else {
                break;
            }
        }
        s
    };
    let body = call.body.as_ref().map(|b| fill_value(b, &fill));
    Ok((fill(&call.path), body))
}

fn fill_value(v: &Value, fill: &dyn Fn(&str) -> String) -> Value {
    match v {
        Value::String(s) if s.contains("{new:") => Value::String(fill(s)),
        Value::Array(a) => Value::Array(a.iter().map(|x| fill_value(x, fill)).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, x)| (k.clone(), fill_value(x, fill))).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::plan::WriteMethod;

    #[test]
    fn placeholders_fill_in_paths_and_bodies() {
        let call = Call::site(WriteMethod::Post, "groups/{new:group:G}/users", "add membership", "x")
            .body(serde_json::json!({"user": {"id": "{new:user:a}"}, "n": 3}))
            .step(2);
        let mut created = HashMap::new();
        assert_eq!(resolve(&call, &created).unwrap_err(), "group:G");
        created.insert("group:G".to_string(), "g-1".to_string());
        created.insert("user:a".to_string(), "u-9".to_string());
        let (path, body) = resolve(&call, &created).unwrap();
        assert_eq!(path, "groups/g-1/users");
        assert_eq!(body.unwrap(), serde_json::json!({"user": {"id": "u-9"}, "n": 3}));
    }
}
