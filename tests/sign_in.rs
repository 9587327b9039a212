//! Signing in the ways enterprises run TRM, against the simulated site: a
//! connected app (JWT, direct trust) whose tokens are minted afresh when
//! the session ends, a token without a scope an endpoint needs, and a
//! username and password. Each extraction is compared with a personal
//! access token's extraction of the same site.

#[path = "support/site.rs"]
mod site;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use trm::config::{Auth, ConnectedApp, Secret, Settings, READ_SCOPES};
use trm::extract::{self, Options};
use trm::sim::faults::{Fault, FaultKind, FaultPlan};
use trm::sim::{self, SimConfig, SimHandle};

async fn start(faults: FaultPlan) -> SimHandle {
    sim::start(SimConfig { faults, ..SimConfig::default() }, SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap()
}

fn jwt_settings(handle: &SimHandle, dir: &std::path::Path, scopes: Vec<String>) -> Settings {
    let app = &handle.state.config.connected_app;
    let username = handle.state.data().users[0].name.clone();
    Settings {
        token_name: String::new(),
        token_secret: Secret::new(""),
        auth: Auth::Jwt(ConnectedApp {
            client_id: app.client_id.clone(),
            secret_id: app.secret_id.clone(),
            username,
            secret: Secret::new(app.secret.clone()),
            scopes,
        }),
        ..site::settings(handle, dir)
    }
}

fn read_scopes() -> Vec<String> {
    READ_SCOPES.iter().map(|s| s.to_string()).collect()
}

const REST_STREAMS: &[&str] = &["projects", "users", "groups", "workbooks", "views", "datasources", "extract_tasks", "jobs"];

async fn rows(settings: &Settings) -> anyhow::Result<(BTreeMap<String, u64>, u64)> {
    let options = Options { only: REST_STREAMS.iter().map(|s| s.to_string()).collect(), parquet: false };
    let out = extract::run(settings, &options, Arc::new(extract::Quiet)).await?;
    Ok((out.rows, out.stats.reauthentications))
}

#[tokio::test]
async fn a_connected_app_extracts_and_mints_a_new_token_when_the_session_ends() {
    let clean = start(FaultPlan::default()).await;
    let (want, _) = rows(&site::settings(&clean, &site::scratch("sign-in-pat"))).await.unwrap();
    assert!(want.values().sum::<u64>() > 0);

    // Sessions end after 15 requests: the extraction needs several.
    let expiring = start(FaultPlan::new(0, vec![Fault::new(FaultKind::ExpireSession { after_requests: 15 })])).await;
    let settings = jwt_settings(&expiring, &site::scratch("sign-in-jwt"), read_scopes());
    let (got, reauth) = rows(&settings).await.unwrap();
    assert_eq!(got, want, "a JWT session reads what a PAT session reads");
    assert!(reauth >= 1, "the session ended and a fresh token signed in again ({reauth})");
}

#[tokio::test]
async fn a_token_without_a_needed_scope_fails_naming_it() {
    let handle = start(FaultPlan::default()).await;
    let scopes: Vec<String> = read_scopes().into_iter().filter(|s| s != "tableau:users:read").collect();
    let settings = jwt_settings(&handle, &site::scratch("sign-in-scope"), scopes);
    let err = rows(&settings).await.unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("tableau:users:read") && text.contains("403"), "{text}");
    assert!(!text.contains(&handle.state.config.connected_app.secret), "{text}");
}

#[tokio::test]
async fn a_wrong_connected_app_secret_is_refused_at_sign_in() {
    let handle = start(FaultPlan::default()).await;
    let mut settings = jwt_settings(&handle, &site::scratch("sign-in-bad-secret"), read_scopes());
    if let Auth::Jwt(app) = &mut settings.auth {
        app.secret = Secret::new("not-the-secret");
    }
    let err = format!("{:#}", rows(&settings).await.unwrap_err());
    assert!(err.contains("401001") && err.contains("signature"), "{err}");
    assert!(!err.contains("not-the-secret"), "{err}");
}

#[tokio::test]
async fn a_password_profile_extracts() {
    let handle = start(FaultPlan::default()).await;
    let (want, _) = rows(&site::settings(&handle, &site::scratch("sign-in-pat2"))).await.unwrap();
    let c = &handle.state.config;
    let settings = Settings {
        token_name: String::new(),
        token_secret: Secret::new(""),
        auth: Auth::Password { username: c.username.clone(), password: Secret::new(c.password.clone()) },
        ..site::settings(&handle, &site::scratch("sign-in-password"))
    };
    let (got, _) = rows(&settings).await.unwrap();
    assert_eq!(got, want);
    let wrong = Settings {
        auth: Auth::Password { username: c.username.clone(), password: Secret::new("wrong-password") },
        ..settings
    };
    let err = format!("{:#}", rows(&wrong).await.unwrap_err());
    assert!(err.contains("401001") && !err.contains("wrong-password"), "{err}");
}
