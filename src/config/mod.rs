//! Settings for a run: `tableau.yaml` profiles, overridden by environment
//! variables, overridden by flags, resolved once into [`Settings`].
//!
//! ```yaml
//! default_profile: prod
//! profiles:
//!   prod:
//!     server: https://tableau.example.com
//!     site: analytics          # site content URL; "" is the Default site
//!     api_version: "3.27"      # optional; otherwise read from serverinfo
//!     auth: pat                # pat (default), jwt or password
//!     token_name: trm-audit    # pat: TABLEAU_TOKEN_NAME overrides
//!     # jwt (a connected app, direct trust): client_id, secret_id, username
//!     # password: username
//!     concurrency: 4           # optional; requests in flight
//!     max_concurrency: 8       # optional; adaptive ceiling (default: concurrency)
//!     timeout_secs: 60         # optional; per request
//!     sites: [analytics, finance]  # optional; trm extract reads each (docs/sites.md)
//! warehouse:
//!   db: ./trm.duckdb
//!   parquet: ./trm-parquet
//! ```
//!
//! Secrets are never read from the file, so it can be committed: the
//! token secret only from `TABLEAU_TOKEN_SECRET`, a connected app's secret
//! value only from `TABLEAU_JWT_SECRET`, a password only from
//! `TABLEAU_PASSWORD`. `TABLEAU_SERVER`,
//! `TABLEAU_SITE` and `TABLEAU_TOKEN_NAME` override the profile, as in
//! Tableau's own tools.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// A value that must never be printed: `Debug` and `Display` show `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub default_profile: Option<String>,
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
    #[serde(default)]
    pub warehouse: WarehouseFile,
    #[serde(default)]
    pub audit: Thresholds,
}

/// The audit detectors' thresholds (`audit:` in `tableau.yaml`).
///
/// ```yaml
/// audit:
///   unused_days: 90        # no views for this long: unused
///   stale_factor: 2        # last refresh older than this × the schedule interval: stale
///   failures_high: 3       # consecutive refresh failures that make a finding high severity
/// ```
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    pub unused_days: i64,
    pub stale_factor: i64,
    pub failures_high: i64,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds { unused_days: 90, stale_factor: 2, failures_high: 3 }
    }
}

impl Thresholds {
    /// Rejects values no detector can use, naming the key.
    pub fn check(&self, origin: &str) -> Result<(), ConfigError> {
        let bad = |key: &str, message: &str| {
            Err(ConfigError::Invalid { origin: origin.into(), key: format!("audit.{key}"), message: message.into() })
        };
        if self.unused_days < 1 {
            return bad("unused_days", "must be at least 1 (days)");
        }
        if self.stale_factor < 1 {
            return bad("stale_factor", "must be at least 1 (times the schedule interval)");
        }
        if self.failures_high < 1 {
            return bad("failures_high", "must be at least 1 (consecutive failures)");
        }
        Ok(())
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub server: Option<String>,
    pub site: Option<String>,
    pub api_version: Option<String>,
    pub token_name: Option<String>,
    /// `pat` (default), `jwt` or `password`.
    pub auth: Option<String>,
    /// Connected app (`auth: jwt`): its client id and secret id.
    pub client_id: Option<String>,
    pub secret_id: Option<String>,
    /// The user a connected app acts as, or who signs in with a password.
    pub username: Option<String>,
    pub concurrency: Option<usize>,
    /// The ceiling adaptive concurrency may climb to (default: `concurrency`).
    pub max_concurrency: Option<usize>,
    pub timeout_secs: Option<u64>,
    /// Sites (content URLs) `trm extract` reads into one warehouse, in one
    /// run; `site` is the one it signs in to first.
    #[serde(default)]
    pub sites: Vec<String>,
}

/// How TRM signs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// Personal access token: `Settings::token_name` and `token_secret`.
    Pat,
    /// Username and password (Tableau Server sites without PATs).
    Password { username: String, password: Secret },
    /// A connected app with direct trust: TRM mints a short-lived JWT for
    /// each sign-in.
    Jwt(ConnectedApp),
}

/// A connected app's identity and what its tokens may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectedApp {
    pub client_id: String,
    pub secret_id: String,
    pub username: String,
    pub secret: Secret,
    /// Scopes every minted token carries: the reads an extraction needs,
    /// plus whatever writes the command adds ([`Settings::with_scopes`]).
    pub scopes: Vec<String>,
}

/// What every read of a site needs: content (workbooks, views,
/// datasources, projects, permissions, the Metadata API), users, groups,
/// refresh tasks and schedules, and jobs.
pub const READ_SCOPES: &[&str] = &[
    "tableau:content:read",
    "tableau:users:read",
    "tableau:groups:read",
    "tableau:tasks:read",
    "tableau:schedules:read",
    "tableau:jobs:read",
];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarehouseFile {
    pub db: Option<PathBuf>,
    pub parquet: Option<PathBuf>,
}

/// What flags the user gave; `None` means "not given".
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub profile: Option<String>,
    pub server: Option<String>,
    pub site: Option<String>,
    pub api_version: Option<String>,
    pub concurrency: Option<usize>,
    pub max_concurrency: Option<usize>,
    pub db: Option<PathBuf>,
    pub parquet: Option<PathBuf>,
}

/// The environment variables TRM reads, captured once so tests can pass
/// their own.
#[derive(Debug, Default, Clone)]
pub struct Env {
    pub server: Option<String>,
    pub site: Option<String>,
    pub token_name: Option<String>,
    pub token_secret: Option<Secret>,
    pub jwt_secret: Option<Secret>,
    pub password: Option<Secret>,
}

impl Env {
    pub fn from_process() -> Env {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Env {
            server: get("TABLEAU_SERVER"),
            site: std::env::var("TABLEAU_SITE").ok(),
            token_name: get("TABLEAU_TOKEN_NAME"),
            token_secret: get("TABLEAU_TOKEN_SECRET").map(Secret),
            jwt_secret: get("TABLEAU_JWT_SECRET").map(Secret),
            password: get("TABLEAU_PASSWORD").map(Secret),
        }
    }
}

/// Resolved settings for one run.
#[derive(Debug, Clone)]
pub struct Settings {
    pub profile: String,
    pub server: String,
    pub site: String,
    pub api_version: Option<String>,
    /// With [`Auth::Pat`]: the token's name and secret (empty otherwise).
    pub token_name: String,
    pub token_secret: Secret,
    pub auth: Auth,
    pub concurrency: usize,
    /// The most requests in flight adaptive concurrency may reach; `None`:
    /// the concurrency. Throttling lowers the limit below the concurrency
    /// either way.
    pub max_concurrency: Option<usize>,
    pub timeout: Duration,
    pub db: PathBuf,
    pub parquet: PathBuf,
}

/// The settings file read when `--config` is not given.
pub const DEFAULT_FILE: &str = "tableau.yaml";
pub const DEFAULT_CONCURRENCY: usize = 4;
pub const DEFAULT_TIMEOUT_SECS: u64 = 60;

/// A configuration problem, naming the file (or variable) and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{origin}: {key}: {message}")]
    Invalid { origin: String, key: String, message: String },
    #[error("{0}")]
    Missing(String),
}

impl File {
    pub fn parse(path: &Path, text: &str) -> Result<File, ConfigError> {
        serde_norway::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// The file `--config` names, or ./tableau.yaml (an empty configuration
    /// if absent), with its `audit` section checked. Returns it and its path.
    pub fn locate(flag: Option<&Path>) -> Result<(File, PathBuf), ConfigError> {
        let path = flag.map_or_else(|| PathBuf::from(DEFAULT_FILE), Path::to_path_buf);
        let file = File::load(&path, flag.is_some())?;
        file.audit.check(&path.display().to_string())?;
        Ok((file, path))
    }

    /// The DuckDB file: the flag, else the file's `warehouse.db`, else ./trm.duckdb.
    pub fn db(&self, flag: Option<&Path>) -> PathBuf {
        flag.map(Path::to_path_buf).or(self.warehouse.db.clone()).unwrap_or_else(|| PathBuf::from("trm.duckdb"))
    }

    /// The Parquet root: the flag, else the file's `warehouse.parquet`, else ./trm-parquet.
    pub fn parquet(&self, flag: Option<&Path>) -> PathBuf {
        flag.map(Path::to_path_buf).or(self.warehouse.parquet.clone()).unwrap_or_else(|| PathBuf::from("trm-parquet"))
    }

    /// Reads `path`; a missing file is an empty configuration only when the
    /// user did not name it.
    pub fn load(path: &Path, named_by_user: bool) -> Result<File, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => File::parse(path, &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !named_by_user => Ok(File::default()),
            Err(source) => Err(ConfigError::Read { path: path.display().to_string(), source }),
        }
    }
}

fn check_server(origin: &str, key: &str, server: &str) -> Result<String, ConfigError> {
    let trimmed = server.trim_end_matches('/');
    let ok = (trimmed.starts_with("https://") || trimmed.starts_with("http://"))
        && trimmed.split("://").nth(1).is_some_and(|h| !h.is_empty() && !h.contains(' '));
    if ok {
        Ok(trimmed.to_string())
    } else {
        Err(ConfigError::Invalid {
            origin: origin.into(),
            key: key.into(),
            message: format!("'{server}' is not a server URL (expected e.g. https://tableau.example.com)"),
        })
    }
}

fn check_version(origin: &str, key: &str, v: &str) -> Result<String, ConfigError> {
    let ok = v.split_once('.').is_some_and(|(a, b)| a.parse::<u32>().is_ok() && b.parse::<u32>().is_ok());
    if ok {
        Ok(v.to_string())
    } else {
        Err(ConfigError::Invalid {
            origin: origin.into(),
            key: key.into(),
            message: format!("'{v}' is not a REST API version (expected e.g. 3.27)"),
        })
    }
}

impl Settings {
    /// Merges file, environment and flags: flags win over the environment,
    /// which wins over the file.
    pub fn resolve(file: &File, file_path: &Path, env: &Env, flags: &Overrides) -> Result<Settings, ConfigError> {
        let fp = file_path.display().to_string();
        // A file with a single profile needs no `default_profile`.
        let only = (file.profiles.len() == 1).then(|| file.profiles.keys().next().cloned()).flatten();
        let name = flags
            .profile
            .clone()
            .or_else(|| file.default_profile.clone())
            .or(only)
            .unwrap_or_else(|| "default".to_string());
        let named = flags.profile.is_some() || file.default_profile.is_some();
        let profile = match file.profiles.get(&name) {
            Some(p) => p.clone(),
            None if named && !file.profiles.is_empty() => {
                return Err(ConfigError::Invalid {
                    origin: fp,
                    key: format!("profiles.{name}"),
                    message: format!(
                        "no such profile; the file defines {}",
                        file.profiles.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                })
            }
            None => Profile::default(),
        };
        let key = |k: &str| format!("profiles.{name}.{k}");

        let server = match (&flags.server, &env.server, &profile.server) {
            (Some(s), _, _) => check_server("--server", "value", s)?,
            (None, Some(s), _) => check_server("TABLEAU_SERVER", "value", s)?,
            (None, None, Some(s)) => check_server(&fp, &key("server"), s)?,
            _ => {
                return Err(ConfigError::Missing(format!(
                    "no Tableau server given: set TABLEAU_SERVER, pass --server, or add {} to {fp}",
                    key("server")
                )))
            }
        };
        let site = flags.site.clone().or_else(|| env.site.clone()).or(profile.site.clone()).unwrap_or_default();
        let api_version = match (&flags.api_version, &profile.api_version) {
            (Some(v), _) => Some(check_version("--api-version", "value", v)?),
            (None, Some(v)) => Some(check_version(&fp, &key("api_version"), v)?),
            _ => None,
        };
        let invalid = |k: &str, message: String| ConfigError::Invalid { origin: fp.clone(), key: key(k), message };
        let kind = profile.auth.clone().unwrap_or_else(|| "pat".into());
        let (token_name, token_secret, auth) = match kind.as_str() {
            "pat" => {
                if profile.client_id.is_some() || profile.secret_id.is_some() {
                    let k = if profile.client_id.is_some() { "client_id" } else { "secret_id" };
                    return Err(invalid(
                        k,
                        "a connected app's id with personal access token sign-in; set auth: jwt, or remove it".into(),
                    ));
                }
                let token_name = env.token_name.clone().or(profile.token_name.clone()).ok_or_else(|| {
                    ConfigError::Missing(format!(
                        "no personal access token name: set TABLEAU_TOKEN_NAME or add {} to {fp}",
                        key("token_name")
                    ))
                })?;
                let token_secret = env.token_secret.clone().ok_or_else(|| {
                    ConfigError::Missing(
                        "no personal access token secret: set TABLEAU_TOKEN_SECRET (it is never read from a file)".into(),
                    )
                })?;
                (token_name, token_secret, Auth::Pat)
            }
            "jwt" => {
                if profile.token_name.is_some() {
                    return Err(invalid(
                        "token_name",
                        "a personal access token name with auth: jwt; a profile signs in one way".into(),
                    ));
                }
                let need = |k: &str, v: &Option<String>| {
                    v.clone().filter(|s| !s.trim().is_empty()).ok_or_else(|| invalid(k, "required with auth: jwt".into()))
                };
                let client_id = need("client_id", &profile.client_id)?;
                let secret_id = need("secret_id", &profile.secret_id)?;
                let username = need("username", &profile.username)?;
                let secret = env.jwt_secret.clone().ok_or_else(|| {
                    ConfigError::Missing(format!(
                        "no connected app secret for {}: set TABLEAU_JWT_SECRET (it is never read from a file)",
                        key("auth")
                    ))
                })?;
                let scopes = READ_SCOPES.iter().map(|s| s.to_string()).collect();
                (String::new(), Secret::new(""), Auth::Jwt(ConnectedApp { client_id, secret_id, username, secret, scopes }))
            }
            "password" => {
                if profile.token_name.is_some() || profile.client_id.is_some() {
                    let k = if profile.token_name.is_some() { "token_name" } else { "client_id" };
                    return Err(invalid(k, "another sign-in's key with auth: password; a profile signs in one way".into()));
                }
                let username = profile
                    .username
                    .clone()
                    .filter(|s| !s.trim().is_empty())
                    .ok_or_else(|| invalid("username", "required with auth: password".into()))?;
                let password = env.password.clone().ok_or_else(|| {
                    ConfigError::Missing(format!(
                        "no password for {}: set TABLEAU_PASSWORD (it is never read from a file)",
                        key("username")
                    ))
                })?;
                (String::new(), Secret::new(""), Auth::Password { username, password })
            }
            other => return Err(invalid("auth", format!("unknown sign-in kind '{other}'; use pat, jwt or password"))),
        };
        let concurrency = flags.concurrency.or(profile.concurrency).unwrap_or(DEFAULT_CONCURRENCY);
        if concurrency == 0 || concurrency > 64 {
            return Err(ConfigError::Invalid {
                origin: if flags.concurrency.is_some() { "--concurrency".into() } else { fp.clone() },
                key: if flags.concurrency.is_some() { "value".into() } else { key("concurrency") },
                message: format!("{concurrency} is out of range: use 1 to 64"),
            });
        }
        let max_concurrency = flags.max_concurrency.or(profile.max_concurrency);
        if let Some(max) = max_concurrency {
            if max < concurrency || max > 64 {
                return Err(ConfigError::Invalid {
                    origin: if flags.max_concurrency.is_some() { "--max-concurrency".into() } else { fp.clone() },
                    key: if flags.max_concurrency.is_some() { "value".into() } else { key("max_concurrency") },
                    message: format!("{max} is out of range: use the concurrency ({concurrency}) to 64"),
                });
            }
        }
        let timeout_secs = profile.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS);
        if timeout_secs == 0 {
            return Err(ConfigError::Invalid { origin: fp, key: key("timeout_secs"), message: "must be at least 1".into() });
        }
        Ok(Settings {
            profile: name,
            server,
            site,
            api_version,
            token_name,
            token_secret,
            auth,
            concurrency,
            max_concurrency,
            timeout: Duration::from_secs(timeout_secs),
            db: file.db(flags.db.as_deref()),
            parquet: file.parquet(flags.parquet.as_deref()),
        })
    }
}

impl Settings {
    /// These settings with `scopes` added to a connected app's tokens (a
    /// command's writes); other sign-ins are unchanged.
    pub fn with_scopes(mut self, scopes: &[&str]) -> Settings {
        if let Auth::Jwt(app) = &mut self.auth {
            for s in scopes {
                if !app.scopes.iter().any(|x| x == s) {
                    app.scopes.push(s.to_string());
                }
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_thresholds_default_override_and_reject_nonsense() {
        let path = Path::new("t.yaml");
        let none = File::parse(path, "profiles: {}\n").unwrap();
        assert_eq!(none.audit, Thresholds { unused_days: 90, stale_factor: 2, failures_high: 3 });
        let some = File::parse(path, "audit:\n  unused_days: 30\n").unwrap();
        assert_eq!(some.audit, Thresholds { unused_days: 30, stale_factor: 2, failures_high: 3 });
        some.audit.check("t.yaml").unwrap();
        let zero = File::parse(path, "audit:\n  stale_factor: 0\n").unwrap();
        let e = zero.audit.check("t.yaml").unwrap_err().to_string();
        assert_eq!(e, "t.yaml: audit.stale_factor: must be at least 1 (times the schedule interval)");
        let typo = File::parse(path, "audit:\n  unused_dayz: 30\n").unwrap_err().to_string();
        assert!(typo.contains("t.yaml") && typo.contains("unused_dayz"), "{typo}");
    }

    fn env() -> Env {
        Env { token_name: Some("pat".into()), token_secret: Some(Secret::new("s3cr3t")), ..Env::default() }
    }

    #[test]
    fn every_sign_in_kind_resolves_and_refuses_mixtures() {
        let p = Path::new("t.yaml");
        let resolve = |yaml: &str, env: &Env| Settings::resolve(&File::parse(p, yaml).unwrap(), p, env, &Overrides::default());
        let jwt = "profiles:\n  p:\n    server: https://x.example.com\n    auth: jwt\n    client_id: c1\n    secret_id: k1\n    username: ann\n";
        let env_jwt = Env { jwt_secret: Some(Secret::new("jwt-s3cr3t")), ..Env::default() };
        let s = resolve(jwt, &env_jwt).unwrap();
        match &s.auth {
            Auth::Jwt(app) => {
                assert_eq!((app.client_id.as_str(), app.secret_id.as_str(), app.username.as_str()), ("c1", "k1", "ann"));
                assert!(app.scopes.iter().any(|x| x == "tableau:content:read"));
            }
            other => panic!("{other:?}"),
        }
        let s = s.with_scopes(&["tableau:users:create"]);
        let Auth::Jwt(app) = &s.auth else { unreachable!() };
        assert!(app.scopes.iter().any(|x| x == "tableau:users:create"));
        assert!(!format!("{s:?}").contains("jwt-s3cr3t"));

        let e = resolve(jwt, &Env::default()).unwrap_err().to_string();
        assert!(e.contains("TABLEAU_JWT_SECRET") && e.contains("profiles.p.auth"), "{e}");
        let e = resolve(&jwt.replace("    username: ann\n", ""), &env_jwt).unwrap_err().to_string();
        assert_eq!(e, "t.yaml: profiles.p.username: required with auth: jwt");
        let both = format!("{jwt}    token_name: n\n");
        let e = resolve(&both, &env_jwt).unwrap_err().to_string();
        assert!(e.contains("profiles.p.token_name") && e.contains("one way"), "{e}");
        let pat_and_app = "profiles:\n  p:\n    server: https://x.example.com\n    token_name: n\n    client_id: c1\n";
        let e = resolve(pat_and_app, &env()).unwrap_err().to_string();
        assert!(e.contains("profiles.p.client_id"), "{e}");
        let e = resolve("profiles:\n  p:\n    server: https://x.example.com\n    auth: kerberos\n", &env()).unwrap_err().to_string();
        assert!(e.contains("profiles.p.auth") && e.contains("kerberos") && e.contains("pat, jwt or password"), "{e}");

        let pw = "profiles:\n  p:\n    server: https://x.example.com\n    auth: password\n    username: admin\n";
        let e = resolve(pw, &Env::default()).unwrap_err().to_string();
        assert!(e.contains("TABLEAU_PASSWORD"), "{e}");
        let s = resolve(pw, &Env { password: Some(Secret::new("pw-s3cr3t")), ..Env::default() }).unwrap();
        assert!(matches!(&s.auth, Auth::Password { username, .. } if username == "admin"));
        assert!(!format!("{s:?}").contains("pw-s3cr3t"));
    }

    const YAML: &str = "default_profile: prod\nprofiles:\n  prod:\n    server: https://t.example.com/\n    site: analytics\n  dev:\n    server: http://127.0.0.1:8080\n    site: ''\n    concurrency: 2\n";

    #[test]
    fn file_env_and_flags_merge_in_order() {
        let file = File::parse(Path::new("tableau.yaml"), YAML).unwrap();
        let s = Settings::resolve(&file, Path::new("tableau.yaml"), &env(), &Overrides::default()).unwrap();
        assert_eq!((s.profile.as_str(), s.server.as_str(), s.site.as_str()), ("prod", "https://t.example.com", "analytics"));
        let e = Env { server: Some("https://env.example.com".into()), ..env() };
        let s = Settings::resolve(&file, Path::new("tableau.yaml"), &e, &Overrides::default()).unwrap();
        assert_eq!(s.server, "https://env.example.com");
        let flags = Overrides { profile: Some("dev".into()), concurrency: Some(8), ..Overrides::default() };
        let s = Settings::resolve(&file, Path::new("tableau.yaml"), &env(), &flags).unwrap();
        assert_eq!((s.server.as_str(), s.site.as_str(), s.concurrency), ("http://127.0.0.1:8080", "", 8));
    }

    #[test]
    fn errors_name_the_file_and_key() {
        let bad = File::parse(Path::new("cfg/tableau.yaml"), "profiles:\n  prod:\n    servr: x\n").unwrap_err();
        let msg = bad.to_string();
        assert!(msg.contains("cfg/tableau.yaml") && msg.contains("servr"), "{msg}");

        let file = File::parse(Path::new("t.yaml"), "profiles:\n  prod:\n    server: tableau.example.com\n").unwrap();
        let flags = Overrides { profile: Some("prod".into()), ..Overrides::default() };
        let msg = Settings::resolve(&file, Path::new("t.yaml"), &env(), &flags).unwrap_err().to_string();
        assert!(msg.contains("t.yaml") && msg.contains("profiles.prod.server"), "{msg}");

        let flags = Overrides { profile: Some("qa".into()), ..Overrides::default() };
        let msg = Settings::resolve(&file, Path::new("t.yaml"), &env(), &flags).unwrap_err().to_string();
        assert!(msg.contains("profiles.qa") && msg.contains("prod"), "{msg}");
    }

    #[test]
    fn the_secret_comes_only_from_the_environment_and_never_prints() {
        let file = File::parse(Path::new("t.yaml"), "profiles:\n  p:\n    server: https://x.example.com\n    token_name: n\n").unwrap();
        let no_secret = Env { token_secret: None, ..env() };
        let msg = Settings::resolve(&file, Path::new("t.yaml"), &no_secret, &Overrides::default()).unwrap_err().to_string();
        assert!(msg.contains("TABLEAU_TOKEN_SECRET"), "{msg}");
        let s = Settings::resolve(&file, Path::new("t.yaml"), &env(), &Overrides { profile: Some("p".into()), ..Default::default() }).unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert_eq!(s.token_secret.expose(), "s3cr3t");
        assert!(File::parse(Path::new("t.yaml"), "profiles:\n  p:\n    token_secret: x\n").is_err(), "no secrets in files");
    }
}
