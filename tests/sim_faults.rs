//! Injected faults on the simulated site, observed over a real loopback
//! socket the way a client sees them: every fault kind, reproducibility
//! across fresh sites, a clean site without a plan, and plan parsing.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use trm::sim::faults::{Api, Fault, FaultKind, FaultPlan, Trigger};
use trm::sim::{self, SimConfig, SimHandle};

const NS: &str = "http://tableau.com/api";

struct Site {
    handle: SimHandle,
    client: reqwest::Client,
}

/// What one request produced: a full response, or a client-side error.
#[derive(Debug, PartialEq, Eq, Clone)]
enum Outcome {
    Response(u16),
    Failed,
}

impl Site {
    async fn start(faults: FaultPlan) -> Site {
        let config = SimConfig { faults, ..SimConfig::default() };
        let handle = sim::start(config, SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("site starts");
        Site { handle, client: trm::tls::http_client() }
    }

    async fn with_yaml(yaml: &str) -> Site {
        Site::start(FaultPlan::from_yaml(yaml, "test plan").expect("plan parses")).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.handle.url(), path)
    }

    fn workbooks_url(&self) -> String {
        self.url(&format!("/api/3.27/sites/{}/workbooks", self.handle.state.data().site.id))
    }

    fn sign_in_request(&self) -> reqwest::RequestBuilder {
        self.client.post(self.url("/api/3.27/auth/signin")).body(
            "<tsRequest><credentials personalAccessTokenName=\"trm-sim\" personalAccessTokenSecret=\"trm-sim-secret\">\
             <site contentUrl=\"analytics\"/></credentials></tsRequest>",
        )
    }

    async fn sign_in(&self) -> String {
        let r = self.sign_in_request().send().await.expect("sign-in sent");
        assert_eq!(r.status(), StatusCode::OK);
        let body = r.text().await.unwrap();
        let doc = roxmltree::Document::parse(&body).unwrap();
        let creds = doc.descendants().find(|n| n.has_tag_name((NS, "credentials"))).expect("<credentials>");
        creds.attribute("token").expect("a token").to_string()
    }

    fn workbooks(&self, token: &str) -> reqwest::RequestBuilder {
        self.client.get(self.workbooks_url()).header("X-Tableau-Auth", token)
    }

    /// GETs the workbooks and reads the whole body.
    async fn get_workbooks(&self, token: &str) -> (StatusCode, reqwest::header::HeaderMap, String) {
        let r = self.workbooks(token).send().await.expect("request sent");
        let (status, headers) = (r.status(), r.headers().clone());
        (status, headers, r.text().await.expect("whole body"))
    }

    async fn outcome(&self, token: &str) -> Outcome {
        match self.workbooks(token).send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                match r.bytes().await {
                    Ok(_) => Outcome::Response(status),
                    Err(_) => Outcome::Failed,
                }
            }
            Err(_) => Outcome::Failed,
        }
    }
}

/// The Tableau error code of an XML error body.
fn error_code(body: &str) -> String {
    let doc = roxmltree::Document::parse(body).unwrap_or_else(|e| panic!("not XML ({e}): {body}"));
    let err = doc.descendants().find(|n| n.has_tag_name((NS, "error"))).expect("an <error> element");
    assert!(err.children().any(|n| n.has_tag_name((NS, "summary"))), "{body}");
    assert!(err.children().any(|n| n.has_tag_name((NS, "detail"))), "{body}");
    err.attribute("code").expect("error code").to_string()
}

#[tokio::test]
async fn status_429_has_retry_after_and_a_tableau_error() {
    let site = Site::with_yaml("faults: [{kind: status, status: 429, retry_after_secs: 3, first: 2}]").await;
    let token = site.sign_in().await;

    let (status, headers, body) = site.get_workbooks(&token).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["retry-after"], "3");
    assert_eq!(error_code(&body), "429000");

    // JSON callers get the JSON error shape.
    let r = site.workbooks(&token).header("Accept", "application/json").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "3");
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "429000");

    let (status, _, _) = site.get_workbooks(&token).await;
    assert_eq!(status, StatusCode::OK, "the fault only covers the first two requests");
}

#[tokio::test]
async fn status_500_502_503_have_tableau_errors() {
    let site = Site::with_yaml(
        "faults:
           - {kind: status, status: 500, at: [1]}
           - {kind: status, status: 502, at: [2]}
           - {kind: status, status: 503, at: [3], retry_after_secs: 5}",
    )
    .await;
    let token = site.sign_in().await;
    for (want, code) in [(500, "500000"), (502, "502000"), (503, "503000")] {
        let (status, headers, body) = site.get_workbooks(&token).await;
        assert_eq!(status.as_u16(), want, "{body}");
        assert_eq!(error_code(&body), code);
        assert_eq!(headers.get("retry-after").map(|v| v.to_str().unwrap()), (want == 503).then_some("5"));
    }
    assert_eq!(site.get_workbooks(&token).await.0, StatusCode::OK);
}

#[tokio::test]
async fn slow_responses_arrive_late_but_whole() {
    let site = Site::with_yaml("faults: [{kind: slow, delay_ms: 300, every: 2}]").await;
    let token = site.sign_in().await;
    let t = Instant::now();
    assert_eq!(site.get_workbooks(&token).await.0, StatusCode::OK);
    let fast = t.elapsed();
    let t = Instant::now();
    let (status, _, body) = site.get_workbooks(&token).await;
    let slow = t.elapsed();
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("<workbooks"), "{body}");
    assert!(slow >= Duration::from_millis(300), "the slow request took {slow:?}");
    assert!(fast < slow, "fast {fast:?}, slow {slow:?}");
}

#[tokio::test]
async fn dropped_connections_fail_the_request() {
    let site = Site::with_yaml("faults: [{kind: drop, first: 1}]").await;
    let token = site.sign_in().await;
    let err = site.workbooks(&token).send().await.expect_err("the connection was dropped");
    assert!(!err.is_timeout() && !err.is_status(), "{err:?}");
    // The next request gets a fresh connection and a normal answer.
    assert_eq!(site.get_workbooks(&token).await.0, StatusCode::OK);
}

#[tokio::test]
async fn truncated_bodies_stop_short_of_their_content_length() {
    let site = Site::with_yaml("faults: [{kind: truncate, at: [1, 2]}]").await;
    let token = site.sign_in().await;

    // The headers arrive whole, promising the full length...
    let mut r = site.workbooks(&token).send().await.expect("the headers arrive");
    assert_eq!(r.status(), StatusCode::OK);
    let promised: usize = r.headers()["content-length"].to_str().unwrap().parse().unwrap();
    assert!(promised > 100);
    // ...then half the body, then the connection closes.
    let mut got = Vec::new();
    let err = loop {
        match r.chunk().await {
            Ok(Some(c)) => got.extend_from_slice(&c),
            Ok(None) => panic!("the body completed ({} of {promised} bytes)", got.len()),
            Err(e) => break e,
        }
    };
    assert!(err.is_body() || err.is_decode() || err.is_request(), "{err:?}");
    assert_eq!(got.len(), promised / 2);

    // Reading it all at once fails too.
    let r = site.workbooks(&token).send().await.unwrap();
    assert!(r.text().await.is_err());

    // The third request is whole.
    let (status, headers, body) = site.get_workbooks(&token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-length"].to_str().unwrap(), body.len().to_string());
    assert_eq!(body.len(), promised);
}

#[tokio::test]
async fn sessions_expire_after_n_requests_and_sign_in_again_works() {
    let site = Site::with_yaml("faults: [{kind: expire_session, after_requests: 3}]").await;
    let token = site.sign_in().await;
    for i in 1..=3 {
        assert_eq!(site.get_workbooks(&token).await.0, StatusCode::OK, "request {i}");
    }
    for _ in 0..2 {
        let (status, _, body) = site.get_workbooks(&token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(error_code(&body), "401002");
    }
    let fresh = site.sign_in().await;
    assert_ne!(fresh, token);
    for i in 1..=3 {
        assert_eq!(site.get_workbooks(&fresh).await.0, StatusCode::OK, "request {i} after signing in again");
    }
    assert_eq!(site.get_workbooks(&fresh).await.0, StatusCode::UNAUTHORIZED, "the new session expires too");
}

#[test]
fn node_limit_applies_to_the_named_operations_only() {
    let plan =
        FaultPlan::from_yaml("faults: [{kind: node_limit, operations: [Workbooks, Fields], limit: 50}]", "test plan")
            .unwrap();
    assert_eq!(plan.node_limit_for(Some("Workbooks")), Some(50));
    assert_eq!(plan.node_limit_for(Some("Fields")), Some(50));
    assert_eq!(plan.node_limit_for(Some("Datasources")), None);
    assert_eq!(plan.node_limit_for(Some("workbooks")), None, "operation names are case-sensitive");
    assert_eq!(plan.node_limit_for(None), None);

    let all = FaultPlan::from_yaml("faults: [{kind: node_limit, operations: ['*'], limit: 7}]", "t").unwrap();
    assert_eq!(all.node_limit_for(Some("Anything")), Some(7));
    assert_eq!(all.node_limit_for(None), Some(7));
    assert_eq!(FaultPlan::default().node_limit_for(Some("Workbooks")), None);
}

#[tokio::test]
async fn faults_can_target_one_api_or_sign_in() {
    let site = Site::with_yaml(
        "faults:
           - {kind: status, status: 503, api: metadata}
           - {kind: status, status: 500, path: /auth/signin, first: 1}",
    )
    .await;
    // Sign-in is exempt unless targeted: this plan targets it once.
    let r = site.sign_in_request().send().await.unwrap();
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(error_code(&r.text().await.unwrap()), "500000");
    let token = site.sign_in().await;
    // The REST API is untouched by the metadata-only fault...
    assert_eq!(site.get_workbooks(&token).await.0, StatusCode::OK);
    // ...which the Metadata API gets.
    let r = site
        .client
        .post(site.url("/api/metadata/graphql"))
        .header("X-Tableau-Auth", &token)
        .header("Accept", "application/json")
        .header("Content-Type", "application/json")
        .body(r#"{"query":"query Workbooks { workbooks { name } }"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "503000");
}

#[tokio::test]
async fn unconditional_faults_leave_sign_in_alone() {
    let site = Site::with_yaml("faults: [{kind: drop}]").await;
    let token = site.sign_in().await;
    assert_eq!(site.outcome(&token).await, Outcome::Failed);
    let r = site.client.post(site.url("/api/3.27/auth/signout")).header("X-Tableau-Auth", &token).send().await;
    assert_eq!(r.unwrap().status(), StatusCode::NO_CONTENT);
}

const MIXED: &str = "
seed: 11
faults:
  - {kind: status, status: 429, rate: 0.15}
  - {kind: status, status: 503, rate: 0.1}
  - {kind: status, status: 502, every: 7}
  - {kind: drop, rate: 0.08}
  - {kind: truncate, rate: 0.08}
";

async fn pattern(plan: FaultPlan, requests: usize) -> Vec<Outcome> {
    let site = Site::start(plan).await;
    let token = site.sign_in().await;
    let mut out = Vec::new();
    for _ in 0..requests {
        out.push(site.outcome(&token).await);
    }
    site.handle.stop().await;
    out
}

#[tokio::test]
async fn the_same_plan_gives_the_same_faults_on_fresh_sites() {
    let plan = FaultPlan::from_yaml(MIXED, "mixed").unwrap();
    let first = pattern(plan.clone(), 30).await;
    let second = pattern(plan.clone(), 30).await;
    assert_eq!(first, second);
    for want in [
        Outcome::Response(200),
        Outcome::Response(429),
        Outcome::Response(503),
        Outcome::Response(502),
        Outcome::Failed,
    ] {
        assert!(first.contains(&want), "{want:?} never happened in {first:?}");
    }
    // Every 7th request is a 502 unless an earlier fault in the plan took it.
    assert!(matches!(first[6], Outcome::Response(429 | 503 | 502)), "{first:?}");

    let mut reseeded = plan.clone();
    reseeded.seed = 12;
    assert_ne!(pattern(reseeded, 30).await, first, "another seed gives another pattern");
}

#[tokio::test]
async fn without_a_plan_the_site_is_clean() {
    let site = Site::start(FaultPlan::default()).await;
    let token = site.sign_in().await;
    for _ in 0..30 {
        let (status, headers, body) = site.get_workbooks(&token).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["content-length"].to_str().unwrap(), body.len().to_string());
    }
    // An empty plan file is a clean plan too.
    assert!(FaultPlan::from_yaml("", "empty.yaml").unwrap().is_empty());
    assert!(FaultPlan::from_yaml("seed: 3\nfaults: []\n", "empty.yaml").unwrap().is_empty());
}

#[test]
fn a_plan_file_parses_into_faults() {
    let dir = std::env::temp_dir().join(format!("trm-sim-faults-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("faults.yaml");
    std::fs::write(
        &file,
        r#"
seed: 7
faults:
  - kind: status
    status: 503
    rate: 0.05
    api: rest
    path: "/workbooks"
  - kind: status
    status: 429
    every: 20
  - kind: slow
    delay_ms: 1500
    first: 3
  - kind: drop
    at: [5, 9]
  - kind: truncate
    every: 50
    api: metadata
  - kind: expire_session
    after_requests: 40
  - kind: node_limit
    operations: ["Workbooks", "Fields"]
    limit: 50
"#,
    )
    .unwrap();
    let plan = FaultPlan::load(&file).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(plan.seed, 7);
    assert_eq!(
        plan.faults,
        vec![
            Fault::new(FaultKind::Status { status: 503, retry_after_secs: None })
                .when(Trigger::Rate(0.05))
                .api(Api::Rest)
                .path("/workbooks"),
            Fault::new(FaultKind::Status { status: 429, retry_after_secs: Some(1) }).when(Trigger::Every(20)),
            Fault::new(FaultKind::Slow { delay: Duration::from_millis(1500) }).when(Trigger::First(3)),
            Fault::new(FaultKind::Drop).when(Trigger::At(vec![5, 9])),
            Fault::new(FaultKind::Truncate).when(Trigger::Every(50)).api(Api::Metadata),
            Fault::new(FaultKind::ExpireSession { after_requests: 40 }),
            Fault::new(FaultKind::NodeLimit { operations: vec!["Workbooks".into(), "Fields".into()], limit: 50 }),
        ]
    );
    assert!(plan.summary().starts_with("seed 7: #1 status 503, rate 0.05, REST only"), "{}", plan.summary());
}

fn parse_error(yaml: &str) -> String {
    FaultPlan::from_yaml(yaml, "faults.yaml").expect_err("the plan is rejected").to_string()
}

#[test]
fn bad_plans_are_rejected_naming_the_file_fault_and_key() {
    let ok = "  - {kind: drop, every: 5}\n";
    let cases = [
        (
            format!("faults:\n{ok}  - {{kind: status, status: 418}}\n"),
            "faults.yaml: fault #2 (kind: status): status 418 is not one of 429, 500, 502, 503",
        ),
        (format!("faults:\n{ok}  - {{kind: explode}}\n"), "faults.yaml: fault #2 (kind: explode): unknown kind"),
        (
            format!("faults:\n{ok}{ok}  - {{kind: status, stauts: 503}}\n"),
            "faults.yaml: fault #3 (kind: status): unknown key `stauts`",
        ),
        (
            "faults: [{kind: slow, delay_ms: 5, retry_after_secs: 1}]".into(),
            "fault #1 (kind: slow): unknown key `retry_after_secs`",
        ),
        ("faults: [{kind: status}]".into(), "fault #1 (kind: status): `status` is required"),
        ("faults: [{kind: status, status: 503, rate: 2}]".into(), "rate 2 is not between 0 and 1"),
        ("faults: [{kind: drop, rate: 0.1, every: 3}]".into(), "use only one of rate, every, first, at"),
        ("faults: [{kind: slow, delay_ms: soon}]".into(), "fault #1 (kind: slow): `delay_ms`: invalid type"),
        ("faults: [{kind: drop, api: soap}]".into(), "api `soap` is not one of rest, metadata, both"),
        ("faults: [{kind: status, status: 500, retry_after_secs: 2}]".into(), "retry_after_secs applies only to"),
        ("faults: [{kind: expire_session, after_requests: 3, every: 2}]".into(), "unknown key `every`"),
        ("faults: [{kind: node_limit, operations: [], limit: 5}]".into(), "operations must list"),
        ("faults: [{status: 503}]".into(), "faults.yaml: fault #1: missing `kind`"),
        ("fualts: []".into(), "faults.yaml: unknown field `fualts`"),
    ];
    for (yaml, want) in cases {
        let err = parse_error(&yaml);
        assert!(err.contains(want), "for\n{yaml}\nwanted {want:?} in {err:?}");
    }
    let missing = FaultPlan::load(std::path::Path::new("/nonexistent/faults.yaml")).unwrap_err();
    assert!(format!("{missing:#}").contains("/nonexistent/faults.yaml"), "{missing:#}");
}
