//! The mapping file of `trm promote-content`: how connections change from
//! the source environment to the target, per connection class, and where
//! their credentials come from.
//!
//! ```yaml
//! connections:
//!   - class: postgres
//!     server: {from: pg-dev.example.com, to: pg-prod.example.com}
//!     port: {from: 5432, to: 5433}
//!     dbname: {from: hr_dev, to: hr}
//!     username: {from: hr_dev, to: hr_app}
//!     credentials:
//!       password_env: HR_PG_PASSWORD   # required for credentials
//!       username_env: HR_PG_USER       # optional; default: the rewritten username
//! ```
//!
//! Credentials are read from the environment when the file is loaded, held
//! as [`Secret`]s, sent only in publish requests, and never written to
//! disk, plans, logs or errors (errors name the variable, not its value).

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;

use super::rewrite::AttrRule;
use crate::config::Secret;

/// The attributes a mapping may change.
pub const FIELDS: [&str; 4] = ["server", "port", "dbname", "username"];

#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {key}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct MappingError {
    pub file: String,
    pub line: Option<usize>,
    pub key: String,
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    #[serde(default)]
    connections: Vec<RuleDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDoc {
    class: String,
    server: Option<FromTo>,
    port: Option<FromTo>,
    dbname: Option<FromTo>,
    username: Option<FromTo>,
    credentials: Option<CredDoc>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FromTo {
    from: Scalar,
    to: Scalar,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Scalar {
    S(String),
    N(i64),
}

impl Scalar {
    fn text(&self) -> String {
        match self {
            Scalar::S(s) => s.clone(),
            Scalar::N(n) => n.to_string(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CredDoc {
    password_env: String,
    username_env: Option<String>,
}

/// Credentials for one class's connections.
#[derive(Clone)]
pub struct Credentials {
    pub username: Option<Secret>,
    pub password: Secret,
    /// Where they came from, for plans: the variable names.
    pub password_env: String,
    pub username_env: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("password_env", &self.password_env)
            .field("username_env", &self.username_env)
            .finish_non_exhaustive()
    }
}

/// One `connections` entry.
#[derive(Clone, Debug)]
pub struct ClassRule {
    pub class: String,
    /// Line of the entry's `class:` key, for errors found later.
    pub line: Option<usize>,
    pub attrs: Vec<AttrRule>,
    pub credentials: Option<Credentials>,
}

/// A loaded, checked mapping file.
#[derive(Clone, Debug, Default)]
pub struct Mapping {
    pub file: String,
    pub rules: Vec<ClassRule>,
}

impl Mapping {
    pub fn attr_rules(&self) -> Vec<AttrRule> {
        self.rules
            .iter()
            .flat_map(|r| r.attrs.iter().cloned())
            .collect()
    }

    /// The credentials for connections of `class`.
    pub fn credentials(&self, class: &str) -> Option<&Credentials> {
        self.rules
            .iter()
            .find(|r| r.class == class)
            .and_then(|r| r.credentials.as_ref())
    }

    /// Every rule's class must be one some promoted document uses: a class
    /// nothing has is a typo or a wrong file.
    pub fn check_classes(&self, found: &BTreeSet<String>) -> Result<(), MappingError> {
        for (i, r) in self.rules.iter().enumerate() {
            if !found.contains(&r.class) {
                return Err(MappingError {
                    file: self.file.clone(),
                    line: r.line,
                    key: format!("connections[{i}].class"),
                    message: format!(
                        "no connection of class {:?} in the content being promoted (classes found: {})",
                        r.class,
                        if found.is_empty() {
                            "none".to_string()
                        } else {
                            found.iter().cloned().collect::<Vec<_>>().join(", ")
                        }
                    ),
                });
            }
        }
        Ok(())
    }
}

/// Reads and checks a mapping file; `env` looks up environment variables.
pub fn load(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Mapping, MappingError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| MappingError {
        file: file.clone(),
        line: None,
        key: "(file)".into(),
        message: format!("cannot read: {e}"),
    })?;
    parse(&file, &text, env)
}

/// The 1-based line of the `n`-th (from 0) use of `key` as a YAML key,
/// in block (`key: v`) or flow (`{key: v}`) style.
fn nth_key_line(text: &str, key: &str, n: usize) -> Option<usize> {
    let mut seen = 0;
    for (i, line) in text.lines().enumerate() {
        let code = line.split(" #").next().unwrap_or(line);
        let mut from = 0;
        while let Some(at) = code[from..].find(key) {
            let start = from + at;
            let end = start + key.len();
            let before = code[..start].chars().next_back();
            let boundary =
                before.is_none_or(|c| c == ' ' || c == '{' || c == ',' || c == '-' || c == '\t');
            if boundary && code[end..].trim_start().starts_with(':') {
                if seen == n {
                    return Some(i + 1);
                }
                seen += 1;
            }
            from = end;
        }
    }
    None
}

pub fn parse(
    file: &str,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Mapping, MappingError> {
    let doc: FileDoc = serde_norway::from_str(text).map_err(|e| MappingError {
        file: file.to_string(),
        line: e.location().map(|l| l.line()),
        key: "(syntax)".into(),
        message: e.to_string(),
    })?;
    let mut rules = Vec::new();
    let mut seen: BTreeSet<(String, String, String)> = BTreeSet::new();
    let mut pw_count = 0usize;
    let mut user_count = 0usize;
    for (i, r) in doc.connections.iter().enumerate() {
        let line = nth_key_line(text, "class", i);
        let err = |key: String, message: String, line: Option<usize>| MappingError {
            file: file.to_string(),
            line,
            key,
            message,
        };
        let class = r.class.trim().to_string();
        if class.is_empty() {
            return Err(err(
                format!("connections[{i}].class"),
                "empty class".into(),
                line,
            ));
        }
        if class == "sqlproxy" {
            return Err(err(
                format!("connections[{i}].class"),
                "sqlproxy connections (published datasources) are repointed to the target's copies by promote itself"
                    .into(),
                line,
            ));
        }
        let mut attrs = Vec::new();
        for (name, ft) in [
            ("server", &r.server),
            ("port", &r.port),
            ("dbname", &r.dbname),
            ("username", &r.username),
        ] {
            let Some(ft) = ft else { continue };
            let (from, to) = (ft.from.text(), ft.to.text());
            if !seen.insert((class.clone(), name.to_string(), from.clone())) {
                return Err(err(
                    format!("connections[{i}].{name}.from"),
                    format!("{class} {name} {from:?} is mapped twice"),
                    line,
                ));
            }
            attrs.push(AttrRule {
                class: class.clone(),
                attr: name.to_string(),
                from,
                to,
            });
        }
        let credentials = match &r.credentials {
            None => None,
            Some(c) => {
                let pw_line = nth_key_line(text, "password_env", pw_count);
                pw_count += 1;
                let password = env(&c.password_env).ok_or_else(|| {
                    err(
                        format!("connections[{i}].credentials.password_env"),
                        format!("the environment variable {} is not set", c.password_env),
                        pw_line,
                    )
                })?;
                let username = match &c.username_env {
                    None => None,
                    Some(var) => {
                        let u_line = nth_key_line(text, "username_env", user_count);
                        user_count += 1;
                        Some(Secret::new(env(var).ok_or_else(|| {
                            err(
                                format!("connections[{i}].credentials.username_env"),
                                format!("the environment variable {var} is not set"),
                                u_line,
                            )
                        })?))
                    }
                };
                Some(Credentials {
                    username,
                    password: Secret::new(password),
                    password_env: c.password_env.clone(),
                    username_env: c.username_env.clone(),
                })
            }
        };
        if attrs.is_empty() && credentials.is_none() {
            return Err(err(
                format!("connections[{i}]"),
                format!("the entry for {class} maps nothing (give server, port, dbname, username or credentials)"),
                line,
            ));
        }
        rules.push(ClassRule {
            class,
            line,
            attrs,
            credentials,
        });
    }
    Ok(Mapping {
        file: file.to_string(),
        rules,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "connections:\n  - class: postgres\n    server: {from: dev.db, to: prod.db}\n    port: {from: 5432, to: 5433}\n    credentials:\n      password_env: PG_PW\n  - class: mysql\n    dbname: {from: a, to: b}\n";

    #[test]
    fn a_good_file_loads() {
        let env = |k: &str| (k == "PG_PW").then(|| "s3cret".to_string());
        let m = parse("m.yaml", TEXT, &env).unwrap();
        assert_eq!(m.rules.len(), 2);
        assert_eq!(m.rules[0].line, Some(2));
        assert_eq!(m.rules[1].line, Some(7));
        assert_eq!(m.attr_rules().len(), 3);
        assert_eq!(m.attr_rules()[1].from, "5432");
        assert_eq!(
            m.credentials("postgres").unwrap().password.expose(),
            "s3cret"
        );
        assert!(!format!("{m:?}").contains("s3cret"));
    }

    #[test]
    fn a_missing_variable_names_file_key_and_line_not_a_value() {
        let e = parse("m.yaml", TEXT, &|_| None).unwrap_err().to_string();
        assert_eq!(
            e,
            "m.yaml:6: connections[0].credentials.password_env: the environment variable PG_PW is not set"
        );
    }

    #[test]
    fn unknown_classes_and_keys_are_refused() {
        let env = |_: &str| Some("x".to_string());
        let m = parse("m.yaml", TEXT, &env).unwrap();
        let found: BTreeSet<String> = ["postgres".to_string()].into();
        let e = m.check_classes(&found).unwrap_err().to_string();
        assert!(
            e.starts_with("m.yaml:7: connections[1].class: no connection of class \"mysql\""),
            "{e}"
        );
        let e = parse(
            "m.yaml",
            "connections:\n  - class: x\n    sever: {from: a, to: b}\n",
            &env,
        )
        .unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.to_string().contains("sever"), "{e}");
        let e = parse("m.yaml", "connections:\n  - class: x\n", &env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("maps nothing"), "{e}");
    }
}
