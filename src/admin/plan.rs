//! A plan: the REST calls an admin command will make, computed from the
//! site's current state before anything is written. Every admin command
//! builds one, `--dry-run` prints it, and [`super::apply`] carries it out.
//!
//! A plan is data, not code: each [`Call`] holds its method, its path, its
//! JSON body and a line for people. Calls that need an id another call
//! creates (a membership of a user the same plan adds) name it with a
//! placeholder, `{new:KEY}`, filled in when the creating call answers.
//!
//! Calls are ordered in steps: every call of step 1 finishes before step 2
//! starts (users exist before their memberships; a project's lock changes
//! before its rules). Within a step calls are independent and run
//! concurrently.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

pub use crate::tableau::rest::WriteMethod;

/// Where a call's path is rooted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// `sites/{site-luid}/…`: most of the API.
    Site,
    /// `/api/{v}/…` itself: server schedules.
    Server,
}

/// An id a call creates, for later calls' `{new:KEY}` placeholders.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Creates {
    pub key: String,
    /// Where the id is in the answer: the object key above `id`
    /// (`"user"` for `{"user": {"id": …}}`).
    pub object: String,
}

/// One REST call.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Call {
    pub method: WriteMethod,
    pub scope: Scope,
    /// Below the scope's root, e.g. `users/{luid}` or
    /// `groups/{new:group:Sales}/users`.
    pub path: String,
    /// The JSON body, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// What kind of change this is, for counts ("add user").
    pub action: String,
    /// What it does, for people ("add user alice as Explorer").
    pub summary: String,
    /// Calls of a lower step finish before any of a higher one starts.
    pub step: u32,
    /// What a failure is reported against (a CSV line, a task). Under
    /// [`super::OnError::SkipUnit`] a failed call's later calls of the same
    /// unit are not made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creates: Option<Creates>,
    /// A publish: the document and credentials sent as `multipart/mixed`
    /// with the body as its `request_payload`. Never serialised.
    #[serde(skip)]
    pub upload: Option<std::sync::Arc<crate::tableau::publish::Upload>>,
}

impl Call {
    /// A call below the site.
    pub fn site(method: WriteMethod, path: impl Into<String>, action: impl Into<String>, summary: impl Into<String>) -> Call {
        Call {
            method,
            scope: Scope::Site,
            path: path.into(),
            body: None,
            action: action.into(),
            summary: summary.into(),
            step: 1,
            unit: None,
            creates: None,
            upload: None,
        }
    }

    /// A call to a server-level resource (`schedules/{id}`).
    pub fn server(
        method: WriteMethod,
        path: impl Into<String>,
        action: impl Into<String>,
        summary: impl Into<String>,
    ) -> Call {
        Call { scope: Scope::Server, ..Call::site(method, path, action, summary) }
    }

    pub fn body(mut self, body: Value) -> Call {
        self.body = Some(body);
        self
    }

    pub fn step(mut self, step: u32) -> Call {
        self.step = step;
        self
    }

    pub fn unit(mut self, unit: impl Into<String>) -> Call {
        self.unit = Some(unit.into());
        self
    }

    /// Makes the call a publish of `upload`.
    pub fn upload(mut self, upload: crate::tableau::publish::Upload) -> Call {
        self.upload = Some(std::sync::Arc::new(upload));
        self
    }

    /// The answer's `{object: {"id": …}}` becomes `{new:key}` for later calls.
    pub fn creates(mut self, key: impl Into<String>, object: impl Into<String>) -> Call {
        self.creates = Some(Creates { key: key.into(), object: object.into() });
        self
    }

    /// `METHOD path` as people read it: below the site, or from `/` for
    /// server resources.
    pub fn line(&self) -> String {
        match self.scope {
            Scope::Site => format!("{} {}", self.method, self.path),
            Scope::Server => format!("{} /{}", self.method, self.path),
        }
    }

    /// The placeholder keys the call's path and body wait for.
    pub fn needs(&self) -> Vec<String> {
        let mut keys = placeholders(&self.path);
        if let Some(body) = &self.body {
            keys.extend(placeholders(&body.to_string()));
        }
        keys.sort();
        keys.dedup();
        keys
    }
}

/// `{new:KEY}` for a key.
pub fn placeholder(key: &str) -> String {
    format!("{{new:{key}}}")
}

/// The keys of the `{new:KEY}` placeholders in `text`.
fn placeholders(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{new:") {
        let after = &rest[start + 5..];
        match after.find('}') {
            Some(end) => {
                out.push(after[..end].to_string());
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    out
}

/// Something the plan decided not to do, or did differently, and why
/// ("bob owns 3 workbooks: unlicensed, not deleted"). Shown with the plan.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Note {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    pub message: String,
}

/// The calls, in order, and the notes.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Plan {
    pub calls: Vec<Call>,
    pub notes: Vec<Note>,
}

impl Plan {
    pub fn new() -> Plan {
        Plan::default()
    }

    pub fn push(&mut self, call: Call) {
        self.calls.push(call);
    }

    pub fn note(&mut self, unit: Option<String>, message: impl Into<String>) {
        self.notes.push(Note { unit, message: message.into() });
    }

    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// Calls per action, in the order actions first appear.
    pub fn counts(&self) -> Vec<(String, usize)> {
        let mut order: Vec<String> = Vec::new();
        let mut n: BTreeMap<&str, usize> = BTreeMap::new();
        for c in &self.calls {
            let e = n.entry(c.action.as_str()).or_insert(0);
            if *e == 0 {
                order.push(c.action.clone());
            }
            *e += 1;
        }
        order.into_iter().map(|a| {
            let k = n[a.as_str()];
            (a, k)
        }).collect()
    }

    /// Checks the plan is one [`super::apply`] can carry out: every
    /// placeholder is created by a call of an earlier step, and no key is
    /// created twice. A failure here is a bug in the command that built it.
    pub fn check(&self) -> Result<(), String> {
        let mut created: BTreeMap<&str, u32> = BTreeMap::new();
        for (i, c) in self.calls.iter().enumerate() {
            if let Some(cr) = &c.creates {
                if created.insert(cr.key.as_str(), c.step).is_some() {
                    return Err(format!("call #{} creates {} a second time", i + 1, cr.key));
                }
            }
        }
        for (i, c) in self.calls.iter().enumerate() {
            for key in c.needs() {
                match created.get(key.as_str()) {
                    Some(step) if *step < c.step => {}
                    Some(step) => {
                        return Err(format!(
                            "call #{} ({}) in step {} needs {key}, created in step {step}",
                            i + 1,
                            c.line(),
                            c.step
                        ))
                    }
                    None => return Err(format!("call #{} ({}) needs {key}, which no call creates", i + 1, c.line())),
                }
            }
        }
        Ok(())
    }

    /// The plan for people: the notes, the calls per action with the first
    /// `rows` of each, and the exact number of REST calls.
    pub fn render(&self, rows: usize) -> String {
        let mut out = String::new();
        if self.calls.is_empty() {
            out.push_str("Nothing to change: the site already matches. 0 REST calls.\n");
        } else {
            let _ = writeln!(out, "Plan: {} REST call(s).", self.calls.len());
            for (action, n) in self.counts() {
                let _ = writeln!(out, "  {action}: {n}");
                for c in self.calls.iter().filter(|c| c.action == action).take(rows) {
                    let _ = writeln!(out, "    {}    [{}]", c.summary, c.line());
                }
                if n > rows {
                    let _ = writeln!(out, "    … and {} more", n - rows);
                }
            }
        }
        if !self.notes.is_empty() {
            let _ = writeln!(out, "Notes:");
            for n in &self.notes {
                match &n.unit {
                    Some(u) => {
                        let _ = writeln!(out, "  {u}: {}", n.message);
                    }
                    None => {
                        let _ = writeln!(out, "  {}", n.message);
                    }
                }
            }
        }
        out
    }

    /// The plan as JSON: counts, calls and notes.
    pub fn to_json(&self) -> Value {
        let counts: serde_json::Map<String, Value> =
            self.counts().into_iter().map(|(a, n)| (a, Value::from(n))).collect();
        serde_json::json!({
            "rest_calls": self.calls.len(),
            "counts": counts,
            "calls": self.calls,
            "notes": self.notes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_found_in_paths_and_bodies() {
        let c = Call::site(WriteMethod::Post, "groups/{new:group:Sales}/users", "add membership", "x")
            .body(serde_json::json!({"user": {"id": "{new:user:bob}"}}));
        assert_eq!(c.needs(), vec!["group:Sales".to_string(), "user:bob".to_string()]);
        assert!(Call::site(WriteMethod::Delete, "users/abc", "remove user", "x").needs().is_empty());
    }

    #[test]
    fn check_refuses_keys_created_late_or_never() {
        let create = Call::site(WriteMethod::Post, "users", "add user", "bob").creates("user:bob", "user");
        let member = Call::site(WriteMethod::Post, "groups/g/users", "add membership", "bob to g")
            .body(serde_json::json!({"user": {"id": placeholder("user:bob")}}));
        let mut plan = Plan::new();
        plan.push(create.clone());
        plan.push(member.clone().step(2));
        assert!(plan.check().is_ok());

        let mut same_step = Plan::new();
        same_step.push(create.clone());
        same_step.push(member.clone());
        assert!(same_step.check().unwrap_err().contains("created in step 1"));

        let mut never = Plan::new();
        never.push(member.step(2));
        assert!(never.check().unwrap_err().contains("no call creates"));

        let mut twice = Plan::new();
        twice.push(create.clone());
        twice.push(create);
        assert!(twice.check().unwrap_err().contains("second time"));
    }

    #[test]
    fn render_counts_every_call_and_caps_rows() {
        let mut plan = Plan::new();
        for i in 0..7 {
            plan.push(Call::site(WriteMethod::Post, "users", "add user", format!("add user u{i}")));
        }
        plan.push(Call::site(WriteMethod::Delete, "users/x", "remove user", "remove user x"));
        let text = plan.render(3);
        assert!(text.starts_with("Plan: 8 REST call(s)."), "{text}");
        assert!(text.contains("add user: 7"), "{text}");
        assert!(text.contains("… and 4 more"), "{text}");
        assert!(text.contains("u2") && !text.contains("u3"), "{text}");
        assert_eq!(plan.counts(), vec![("add user".to_string(), 7), ("remove user".to_string(), 1)]);
        assert_eq!(plan.to_json()["rest_calls"], 8);
        assert!(Plan::new().render(3).contains("0 REST calls"));
    }
}
