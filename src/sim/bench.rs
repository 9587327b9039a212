//! `trm sim bench`: how long the site takes to generate, how much memory it
//! holds, and how fast it serves a full 1,000-item page over loopback.

use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::dataset::Size;
use super::{SimConfig, SimState};

pub struct BenchReport {
    pub size: Size,
    pub generate: Duration,
    pub peak_rss_after_generate: Option<u64>,
    pub workbooks: usize,
    pub views: usize,
    pub users: usize,
    pub xml_page: Latency,
    pub json_page: Latency,
    pub views_usage_page: Latency,
    /// First Metadata API request: builds the indexes and orders a million fields.
    pub metadata_first_page: Duration,
    /// Following 1,000-field pages, walking the cursor.
    pub metadata_field_page: Latency,
    /// `POST users`, one new user each.
    pub add_user: Latency,
    /// `PUT workbooks/{id}/tags`, a new tag each.
    pub add_tag: Latency,
    /// `PUT workbooks/{id}/permissions`, one new capability each.
    pub add_permission: Latency,
    /// The workbooks page again, after the writes.
    pub xml_page_after_writes: Latency,
    pub peak_rss_end: Option<u64>,
}

pub struct Latency {
    pub requests: usize,
    pub median: Duration,
    pub p95: Duration,
    pub bytes: usize,
}

/// Peak resident set size of this process so far (Linux `VmHWM`), in bytes.
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Times `n` writes; `request(i)` builds the i-th.
async fn measure_writes(n: usize, request: impl Fn(usize) -> reqwest::RequestBuilder) -> anyhow::Result<Latency> {
    let mut times = Vec::with_capacity(n);
    let mut bytes = 0;
    for i in 0..n {
        let start = Instant::now();
        let resp = request(i).send().await?;
        let status = resp.status();
        let body = resp.bytes().await?;
        anyhow::ensure!(status.is_success(), "write {i} returned {status}: {}", String::from_utf8_lossy(&body));
        times.push(start.elapsed());
        bytes = body.len();
    }
    times.sort();
    Ok(Latency { requests: n, median: times[n / 2], p95: times[(n * 95 / 100).min(n - 1)], bytes })
}

async fn measure(client: &reqwest::Client, url: &str, token: &str, accept: &str, n: usize) -> anyhow::Result<Latency> {
    let mut times = Vec::with_capacity(n);
    let mut bytes = 0;
    for _ in 0..n {
        let start = Instant::now();
        let resp = client.get(url).header("X-Tableau-Auth", token).header("Accept", accept).send().await?;
        anyhow::ensure!(resp.status().is_success(), "GET {url} returned {}", resp.status());
        bytes = resp.bytes().await?.len();
        times.push(start.elapsed());
    }
    times.sort();
    Ok(Latency { requests: n, median: times[n / 2], p95: times[(n * 95 / 100).min(n - 1)], bytes })
}

pub async fn run(size: Size, seed: u64, requests: usize) -> anyhow::Result<BenchReport> {
    let requests = requests.max(1);
    let config = SimConfig { size, seed, ..SimConfig::default() };
    let started = Instant::now();
    let state = tokio::task::spawn_blocking(move || SimState::new(config)).await?;
    let generate = started.elapsed();
    let peak_rss_after_generate = peak_rss();
    let (workbooks, views, users) = {
        let d = state.data();
        (d.workbooks.len(), d.views.len(), d.users.len())
    };
    let pat_name = state.config.pat_name.clone();
    let pat_secret = state.config.pat_secret.clone();
    let site_url = state.config.site_content_url.clone();
    let site_id = state.data().site.id.clone();

    let handle = super::serve(state, SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let base = format!("{}/api/3.27", handle.url());
    let client = crate::tls::http_client();
    let body = format!(
        "<tsRequest><credentials personalAccessTokenName=\"{pat_name}\" personalAccessTokenSecret=\"{pat_secret}\"><site contentUrl=\"{site_url}\"/></credentials></tsRequest>"
    );
    let resp = client.post(format!("{base}/auth/signin")).body(body).send().await?.text().await?;
    let token = resp
        .split("token=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .context("sign-in response carried no token")?
        .to_string();

    let workbooks_url = format!("{base}/sites/{site_id}/workbooks?pageSize=1000&pageNumber=1");
    // One untimed request warms the connection pool.
    measure(&client, &workbooks_url, &token, "*/*", 1).await?;
    let xml_page = measure(&client, &workbooks_url, &token, "application/xml", requests).await?;
    let json_page = measure(&client, &workbooks_url, &token, "application/json", requests).await?;
    let views_url = format!("{base}/sites/{site_id}/views?includeUsageStatistics=true&pageSize=1000&pageNumber=2");
    let views_usage_page = measure(&client, &views_url, &token, "application/xml", requests).await?;

    let gql = format!("{}/api/metadata/graphql", handle.url());
    let query = "query Fields($after: String) { fieldsConnection(first: 1000, after: $after) { totalCount \
        pageInfo { endCursor hasNextPage } nodes { __typename id name isHidden datasource { id } \
        ... on ColumnField { dataType role columns { id } } ... on CalculatedField { formula fields { id } } \
        ... on DatasourceField { remoteField { id } } } } }";
    let page = |after: Option<String>| {
        let body = serde_json::json!({"query": query, "variables": {"after": after}});
        client.post(&gql).header("X-Tableau-Auth", &token).json(&body).send()
    };
    let started = Instant::now();
    let first: serde_json::Value = page(None).await?.json().await?;
    let metadata_first_page = started.elapsed();
    let mut cursor = first["data"]["fieldsConnection"]["pageInfo"]["endCursor"].as_str().map(str::to_string);
    anyhow::ensure!(cursor.is_some(), "the first fields page had no cursor: {first}");
    let mut times = Vec::with_capacity(requests);
    let mut bytes = 0;
    for _ in 0..requests {
        let started = Instant::now();
        let text = page(cursor.clone()).await?.text().await?;
        times.push(started.elapsed());
        bytes = text.len();
        let v: serde_json::Value = serde_json::from_str(&text)?;
        cursor = v["data"]["fieldsConnection"]["pageInfo"]["endCursor"].as_str().map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
    times.sort();
    let n = times.len();
    let metadata_field_page =
        Latency { requests: n, median: times[n / 2], p95: times[(n * 95 / 100).min(n - 1)], bytes };

    let site = format!("{base}/sites/{site_id}");
    let (workbook, group) = {
        let d = handle.state.data();
        let w = d.workbooks.iter().find(|w| !d.projects[w.project as usize].locked).context("an unlocked workbook")?;
        (w.id.clone(), d.groups[d.groups.len() / 2].id.clone())
    };
    let add_user = measure_writes(requests, |i| {
        client
            .post(format!("{site}/users"))
            .header("X-Tableau-Auth", &token)
            .body(format!("<tsRequest><user name=\"bench.user.{i}@example.com\" siteRole=\"Viewer\"/></tsRequest>"))
    })
    .await?;
    let add_tag = measure_writes(requests, |i| {
        client
            .put(format!("{site}/workbooks/{workbook}/tags"))
            .header("X-Tableau-Auth", &token)
            .body(format!("<tsRequest><tags><tag label=\"bench-{i}\"/></tags></tsRequest>"))
    })
    .await?;
    const CAPS: [&str; 12] = [
        "Read", "Filter", "ViewComments", "AddComment", "ExportImage", "ExportData", "ShareView",
        "ViewUnderlyingData", "WebAuthoring", "Write", "ChangePermissions", "Delete",
    ];
    let add_permission = measure_writes(requests, |i| {
        let mode = if (i / CAPS.len()) % 2 == 0 { "Allow" } else { "Deny" };
        client.put(format!("{site}/workbooks/{workbook}/permissions")).header("X-Tableau-Auth", &token).body(format!(
            "<tsRequest><permissions><granteeCapabilities><group id=\"{group}\"/><capabilities>\
             <capability name=\"{}\" mode=\"{mode}\"/></capabilities></granteeCapabilities></permissions></tsRequest>",
            CAPS[i % CAPS.len()]
        ))
    })
    .await?;
    let xml_page_after_writes = measure(&client, &workbooks_url, &token, "application/xml", requests).await?;
    handle.stop().await;

    Ok(BenchReport {
        size,
        generate,
        peak_rss_after_generate,
        workbooks,
        views,
        users,
        xml_page,
        json_page,
        views_usage_page,
        metadata_first_page,
        metadata_field_page,
        add_user,
        add_tag,
        add_permission,
        xml_page_after_writes,
        peak_rss_end: peak_rss(),
    })
}

fn mib(b: Option<u64>) -> String {
    b.map_or("n/a".into(), |b| format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0)))
}

impl fmt::Display for Latency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "median {:.2} ms, p95 {:.2} ms over {} requests, {} KiB each",
            self.median.as_secs_f64() * 1000.0,
            self.p95.as_secs_f64() * 1000.0,
            self.requests,
            self.bytes / 1024
        )
    }
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "simulated site bench ({} size)", self.size)?;
        writeln!(
            f,
            "  generate:            {:.2} s ({} workbooks, {} views, {} users)",
            self.generate.as_secs_f64(),
            self.workbooks,
            self.views,
            self.users
        )?;
        writeln!(f, "  peak RSS generated:  {}", mib(self.peak_rss_after_generate))?;
        writeln!(f, "  workbooks page XML:  {}", self.xml_page)?;
        writeln!(f, "  workbooks page JSON: {}", self.json_page)?;
        writeln!(f, "  views+usage page:    {}", self.views_usage_page)?;
        writeln!(f, "  metadata 1st page:   {:.2} s (builds indexes, orders all fields)", self.metadata_first_page.as_secs_f64())?;
        writeln!(f, "  metadata field page: {}", self.metadata_field_page)?;
        writeln!(f, "  write: add user:     {}", self.add_user)?;
        writeln!(f, "  write: add tag:      {}", self.add_tag)?;
        writeln!(f, "  write: add grant:    {}", self.add_permission)?;
        writeln!(f, "  workbooks page XML after writes: {}", self.xml_page_after_writes)?;
        write!(f, "  peak RSS at end:     {}", mib(self.peak_rss_end))
    }
}
