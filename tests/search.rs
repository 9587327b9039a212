//! `trm search` against the simulated small and medium sites: a fixed set
//! of queries, each chosen from the site's dataset model with its reason,
//! must find the expected asset in the top 3. The queries cover exact
//! names, name words in another order, a one-letter typo, formulas, custom
//! SQL, tags, owners, hostile names (markup, a spreadsheet formula) and
//! non-ASCII text.
//!
//! The expectations come from the dataset (`handle.state.data()`), never
//! from the index: for each query the test works out, over the dataset,
//! every asset that could match it at the rank that matters (an exact
//! name, all words in a name, all words anywhere), and only uses queries
//! where that set is at most 3 assets, so "in the top 3" is a real check
//! of the ranking rather than of luck.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use trm::extract::{self, Options, Quiet};
use trm::search::{self, Request};
use trm::sim::dataset::lineage::Owner;
use trm::sim::dataset::names::{HOSTILE_PROJECT, HOSTILE_VIEW, HOSTILE_WORKBOOK};
use trm::sim::dataset::{Dataset, SheetType, Size};
use trm::sim::{self, SimConfig, SimHandle};

#[path = "support/site.rs"]
mod site;
use site::{scratch, settings};

/// A tag planted on one workbook before the extract, so a tag query has
/// one right answer; non-ASCII on purpose.
const PLANTED_TAG: &str = "Clôture trimestrielle";

async fn extracted(size: Size, name: &str) -> (SimHandle, PathBuf, String) {
    let dir = scratch(name);
    let handle = sim::start(SimConfig { size, ..SimConfig::default() }, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("site starts");
    // The workbook that gets the planted tag: the first one not already
    // named like it.
    let tagged = {
        let mut d = handle.state.write();
        let i = d.workbooks.len() / 2;
        d.workbooks[i].tags.push(PLANTED_TAG.to_string());
        d.workbooks[i].id.clone()
    };
    let s = settings(&handle, &dir);
    extract::run(&s, &Options { only: Vec::new(), parquet: false }, Arc::new(Quiet)).await.expect("extract");
    (handle, dir, tagged)
}

// ---------------------------------------------------------------------------
// The oracle: the dataset as searchable assets.

struct Asset {
    kind: &'static str,
    id: String,
    /// Names: the name, and for users their full name and email, for
    /// tables `schema.name`.
    names: Vec<String>,
    /// Everything else the asset can be found by (a superset of what the
    /// index holds: more text only makes the checks stricter).
    texts: Vec<String>,
}

/// Lowercased, accents folded, split on anything not a letter or digit.
fn words(text: &str) -> Vec<String> {
    let fold = |c: char| match c {
        'à' | 'á' | 'â' | 'ä' | 'ã' => 'a',
        'é' | 'è' | 'ê' | 'ë' => 'e',
        'í' | 'ì' | 'î' | 'ï' => 'i',
        'ó' | 'ò' | 'ô' | 'ö' | 'õ' => 'o',
        'ú' | 'ù' | 'û' | 'ü' => 'u',
        'ç' => 'c',
        'ñ' => 'n',
        c => c,
    };
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().map(fold).collect())
        .collect()
}

fn whole(text: &str) -> String {
    words(text).join(" ")
}

/// One insertion, deletion, substitution or swap apart (or equal).
/// Words under four letters get no typo allowance, as in the index.
fn near(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a == b {
        return true;
    }
    if a.len() < 4 {
        return false;
    }
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    // Levenshtein with adjacent swaps, small inputs.
    let (n, m) = (a.len(), b.len());
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for i in 0..=n {
        d[i][0] = i;
    }
    for j in 0..=m {
        d[0][j] = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[n][m] <= 1
}

fn assets(d: &Dataset) -> Vec<Asset> {
    let live_user = |u: u32| Some(&d.users[u as usize]).filter(|u| !u.deleted);
    let owner_texts = |u: u32| -> Vec<String> {
        live_user(u).map(|u| vec![u.name.clone(), u.full_name.clone(), u.email.clone()]).unwrap_or_default()
    };
    let path = |p: u32| -> String {
        let mut names = Vec::new();
        let mut cur = Some(p);
        while let Some(i) = cur {
            names.push(d.projects[i as usize].name.clone());
            cur = d.projects[i as usize].parent;
        }
        names.reverse();
        names.join("/")
    };
    let mut out = Vec::new();
    for p in d.projects.iter().enumerate().filter(|(_, p)| !p.deleted) {
        let (i, p) = p;
        let mut texts = vec![p.description.clone(), path(i as u32)];
        texts.extend(owner_texts(p.owner));
        out.push(Asset { kind: "project", id: p.id.clone(), names: vec![p.name.clone()], texts });
    }
    for u in d.users.iter().filter(|u| !u.deleted) {
        out.push(Asset {
            kind: "user",
            id: u.id.clone(),
            names: vec![u.name.clone(), u.full_name.clone(), u.email.clone()],
            texts: vec![],
        });
    }
    for w in &d.workbooks {
        let mut texts = vec![w.description.clone(), path(w.project)];
        texts.extend(w.tags.iter().cloned());
        texts.extend(owner_texts(w.owner));
        out.push(Asset { kind: "workbook", id: w.id.clone(), names: vec![w.name.clone()], texts });
    }
    for v in &d.views {
        let w = &d.workbooks[v.workbook as usize];
        let mut texts = vec![w.name.clone(), path(w.project)];
        texts.extend(v.tags.iter().cloned());
        texts.extend(owner_texts(w.owner));
        let kind = if v.sheet_type == SheetType::Dashboard { "dashboard" } else { "view" };
        out.push(Asset { kind, id: v.id.clone(), names: vec![v.name.clone()], texts });
    }
    for x in &d.datasources {
        let mut texts = vec![x.description.clone(), path(x.project)];
        texts.extend(x.tags.iter().cloned());
        texts.extend(owner_texts(x.owner));
        out.push(Asset { kind: "datasource", id: x.id.clone(), names: vec![x.name.clone()], texts });
    }
    for e in &d.embedded_datasources {
        let w = &d.workbooks[e.workbook as usize];
        let mut texts = vec![w.name.clone(), path(w.project)];
        texts.extend(owner_texts(w.owner));
        out.push(Asset { kind: "datasource", id: e.id.clone(), names: vec![e.name.clone()], texts });
    }
    let l = &d.lineage;
    for f in &l.fields {
        let mut texts: Vec<String> = f.formula.iter().cloned().collect();
        match f.owner {
            Owner::Published(i) => {
                let x = &d.datasources[i as usize];
                texts.extend([x.name.clone(), path(x.project)]);
                texts.extend(owner_texts(x.owner));
            }
            Owner::Embedded(i) => {
                let e = &d.embedded_datasources[i as usize];
                let w = &d.workbooks[e.workbook as usize];
                texts.extend([e.name.clone(), w.name.clone(), path(w.project)]);
                texts.extend(owner_texts(w.owner));
            }
        }
        out.push(Asset { kind: "field", id: f.id.clone(), names: vec![f.name.clone()], texts });
    }
    for t in &l.tables {
        let db = &l.databases[t.database as usize];
        let texts = [t.query.clone(), Some(db.name.clone())].into_iter().flatten().collect();
        out.push(Asset {
            kind: "table",
            id: t.id.clone(),
            names: vec![t.name.clone(), format!("{}.{}", t.schema, t.name)],
            texts,
        });
    }
    for c in &l.columns {
        let t = &l.tables[c.table as usize];
        out.push(Asset {
            kind: "column",
            id: c.id.clone(),
            names: vec![c.name.clone()],
            texts: vec![format!("{}.{}", t.schema, t.name)],
        });
    }
    out
}

struct Oracle {
    assets: Vec<Asset>,
    /// Each asset's name words and all its words.
    name_words: Vec<Vec<Vec<String>>>,
    all_words: Vec<BTreeSet<String>>,
}

impl Oracle {
    fn new(d: &Dataset) -> Oracle {
        let assets = assets(d);
        let name_words = assets.iter().map(|a| a.names.iter().map(|n| words(n)).collect()).collect();
        let all_words = assets
            .iter()
            .map(|a| a.names.iter().chain(&a.texts).flat_map(|t| words(t)).collect::<BTreeSet<String>>())
            .collect();
        Oracle { assets, name_words, all_words }
    }

    fn kinds_ok(a: &Asset, kinds: &[&str]) -> bool {
        kinds.is_empty() || kinds.contains(&a.kind)
    }

    /// Assets with a name equal to `text`: those rank first.
    fn exact(&self, text: &str, kinds: &[&str]) -> Vec<usize> {
        let w = whole(text);
        (0..self.assets.len())
            .filter(|&i| Self::kinds_ok(&self.assets[i], kinds) && self.assets[i].names.iter().any(|n| whole(n) == w))
            .collect()
    }

    /// Assets with a name holding every word, each within one typo: the
    /// index ranks them before any other.
    fn in_a_name(&self, text: &str, kinds: &[&str]) -> Vec<usize> {
        let q = words(text);
        (0..self.assets.len())
            .filter(|&i| Self::kinds_ok(&self.assets[i], kinds))
            .filter(|&i| self.name_words[i].iter().any(|name| q.iter().all(|w| name.iter().any(|n| near(w, n)))))
            .collect()
    }

    /// Assets with every word somewhere (names within one typo), the
    /// widest set a query can rank first.
    fn anywhere(&self, text: &str, kinds: &[&str]) -> Vec<usize> {
        let q = words(text);
        (0..self.assets.len())
            .filter(|&i| Self::kinds_ok(&self.assets[i], kinds))
            .filter(|&i| {
                q.iter()
                    .all(|w| self.all_words[i].contains(w) || self.name_words[i].iter().flatten().any(|n| near(w, n)))
            })
            .collect()
    }
}

/// One query with its reason and the asset it must find.
struct Case {
    reason: String,
    text: String,
    kinds: Vec<&'static str>,
    expect_kind: &'static str,
    expect_id: String,
    /// Where the match must be shown, when that is part of the point.
    field: Option<&'static str>,
}

/// The first candidate whose competing set (by `rank`) holds it and at
/// most two others.
fn pick<T>(
    oracle: &Oracle,
    what: &str,
    candidates: impl IntoIterator<Item = T>,
    case: impl Fn(&T) -> Option<Case>,
    rank: impl Fn(&Oracle, &Case) -> Vec<usize>,
) -> Case {
    for c in candidates {
        let Some(case) = case(&c) else { continue };
        let set = rank(oracle, &case);
        let holds =
            set.iter().any(|&i| oracle.assets[i].id == case.expect_id && oracle.assets[i].kind == case.expect_kind);
        if holds && set.len() <= 3 {
            return case;
        }
    }
    panic!("no query of this kind has a small enough answer on this site: {what}");
}

fn cases(d: &Dataset, oracle: &Oracle, tagged: &str) -> Vec<Case> {
    let exact = |o: &Oracle, c: &Case| o.exact(&c.text, &c.kinds);
    let in_name = |o: &Oracle, c: &Case| o.in_a_name(&c.text, &c.kinds);
    let anywhere = |o: &Oracle, c: &Case| o.anywhere(&c.text, &c.kinds);
    let case = |reason: &str,
                text: String,
                kinds: Vec<&'static str>,
                kind: &'static str,
                id: &str,
                field: Option<&'static str>| Case {
        reason: reason.to_string(),
        text,
        kinds,
        expect_kind: kind,
        expect_id: id.to_string(),
        field,
    };
    let l = &d.lineage;
    let mut out = Vec::new();

    out.push(pick(
        oracle,
        "exact workbook name",
        &d.workbooks,
        |w| Some(case("a workbook by its exact name", w.name.clone(), vec![], "workbook", &w.id, Some("name"))),
        exact,
    ));
    out.push(pick(
        oracle,
        "exact datasource name",
        &d.datasources,
        |x| {
            Some(case(
                "a published datasource by its exact name",
                x.name.clone(),
                vec![],
                "datasource",
                &x.id,
                Some("name"),
            ))
        },
        exact,
    ));
    out.push(pick(
        oracle,
        "exact sheet name",
        d.views.iter().filter(|v| v.sheet_type == SheetType::Worksheet),
        |v| Some(case("a sheet by its exact name", v.name.clone(), vec![], "view", &v.id, Some("name"))),
        exact,
    ));
    out.push(pick(
        oracle,
        "dashboard of a workbook",
        d.views.iter().filter(|v| v.sheet_type == SheetType::Dashboard),
        |v| {
            let w = &d.workbooks[v.workbook as usize];
            Some(case(
                "a dashboard by its name and its workbook's name, kind dashboard",
                format!("{} {}", v.name, w.name),
                vec!["dashboard"],
                "dashboard",
                &v.id,
                None,
            ))
        },
        anywhere,
    ));
    out.push(pick(
        oracle,
        "name words in another order",
        d.workbooks.iter().filter(|w| words(&w.name).len() >= 2),
        |w| {
            let mut ws = words(&w.name);
            ws.reverse();
            Some(case(
                "a workbook by its name's words, lowercased and in reverse order",
                ws.join(" "),
                vec![],
                "workbook",
                &w.id,
                Some("name"),
            ))
        },
        in_name,
    ));
    out.push(pick(
        oracle,
        "one-letter typo",
        &d.workbooks,
        |w| {
            let long =
                w.name.split_whitespace().find(|x| x.chars().count() >= 6 && x.chars().all(char::is_alphabetic))?;
            // Drop the third letter: "Pipeline" → "Piseline" would be a swap; this is a deletion.
            let typo: String = long.chars().enumerate().filter(|(i, _)| *i != 2).map(|(_, c)| c).collect();
            let text = w.name.replacen(long, &typo, 1);
            Some(case(
                "a workbook whose name is typed with one letter missing",
                text,
                vec![],
                "workbook",
                &w.id,
                Some("name"),
            ))
        },
        in_name,
    ));
    out.push(pick(
        oracle,
        "formula",
        l.fields.iter().filter(|f| f.formula.is_some()),
        |f| {
            Some(case(
                "a calculated field by the words of its formula",
                f.formula.clone()?,
                vec![],
                "field",
                &f.id,
                None,
            ))
        },
        anywhere,
    ));
    out.push(pick(
        oracle,
        "ratio formula",
        l.fields.iter().filter(|f| f.formula.as_deref().is_some_and(|x| x.contains("NULLIF"))),
        |f| {
            Some(case(
                "a ratio calculation by its formula, kind field",
                f.formula.clone()?,
                vec!["field"],
                "field",
                &f.id,
                Some("formula"),
            ))
        },
        anywhere,
    ));
    out.push(pick(
        oracle,
        "custom SQL",
        l.tables.iter().filter(|t| t.query.is_some() && !t.gone),
        |t| {
            // The table the SQL reads, as the SQL names it.
            let q = t.query.as_deref()?;
            let from = q.split("FROM ").nth(1)?.split_whitespace().next()?;
            Some(case(
                "a custom SQL table by the table its SQL reads",
                format!("{from} region_name"),
                vec![],
                "table",
                &t.id,
                Some("custom SQL"),
            ))
        },
        anywhere,
    ));
    out.push(pick(
        oracle,
        "table by schema.name",
        l.tables.iter().filter(|t| t.query.is_none() && !t.gone),
        |t| {
            Some(case(
                "a database table by schema.name",
                format!("{}.{}", t.schema, t.name),
                vec![],
                "table",
                &t.id,
                None,
            ))
        },
        exact,
    ));
    out.push(pick(
        oracle,
        "planted tag",
        d.workbooks.iter().filter(|w| w.id == tagged),
        |w| {
            Some(case(
                "a workbook by its (non-ASCII) tag, typed without accents",
                "cloture trimestrielle".into(),
                vec![],
                "workbook",
                &w.id,
                Some("tag"),
            ))
        },
        anywhere,
    ));
    out.push(pick(
        oracle,
        "owner email",
        d.users.iter().filter(|u| !u.deleted),
        |u| {
            let owned: Vec<&trm::sim::dataset::Workbook> =
                d.workbooks.iter().filter(|w| d.users[w.owner as usize].id == u.id).collect();
            let w = owned.first()?;
            Some(case(
                "a workbook by its owner's email, kind workbook",
                u.email.clone(),
                vec!["workbook"],
                "workbook",
                &w.id,
                Some("owner"),
            ))
        },
        anywhere,
    ));
    out.push(pick(
        oracle,
        "user full name",
        d.users.iter().filter(|u| !u.deleted),
        |u| Some(case("a user by full name", u.full_name.clone(), vec![], "user", &u.id, None)),
        exact,
    ));
    out.push(pick(
        oracle,
        "hostile workbook name",
        d.workbooks.iter().filter(|w| w.name == HOSTILE_WORKBOOK),
        |w| Some(case("a workbook named with HTML markup", w.name.clone(), vec![], "workbook", &w.id, Some("name"))),
        exact,
    ));
    out.push(pick(
        oracle,
        "hostile view name",
        d.views.iter().filter(|v| v.name == HOSTILE_VIEW),
        |v| {
            Some(case(
                "a view named like a spreadsheet formula, with quotes",
                v.name.clone(),
                vec![],
                "view",
                &v.id,
                Some("name"),
            ))
        },
        exact,
    ));
    out.push(pick(
        oracle,
        "hostile project name",
        d.projects.iter().filter(|p| p.name == HOSTILE_PROJECT),
        |p| {
            Some(case(
                "a project with quotes, & and non-ASCII, by its exact name",
                p.name.clone(),
                vec![],
                "project",
                &p.id,
                Some("name"),
            ))
        },
        exact,
    ));
    out.push(pick(
        oracle,
        "accented words",
        d.projects.iter().filter(|p| p.name == HOSTILE_PROJECT),
        |p| {
            Some(case(
                "a project by two accented words of its name",
                "Région Québec".into(),
                vec![],
                "project",
                &p.id,
                Some("name"),
            ))
        },
        in_name,
    ));
    out.push(pick(
        oracle,
        "CJK",
        d.projects.iter().filter(|p| p.name == HOSTILE_PROJECT),
        |p| {
            Some(case(
                "a project by a Japanese word of its name, kind project",
                "日本".into(),
                vec!["project"],
                "project",
                &p.id,
                Some("name"),
            ))
        },
        in_name,
    ));
    out
}

fn check(dir: &Path, d: &Dataset, tagged: &str) -> usize {
    let db = dir.join("trm.duckdb");
    let oracle = Oracle::new(d);
    let cases = cases(d, &oracle, tagged);
    let mut failures = Vec::new();
    for c in &cases {
        let req = Request {
            text: c.text.clone(),
            kinds: c.kinds.iter().map(|k| k.to_string()).collect(),
            limit: 3,
            ..Request::default()
        };
        let hits = search::search(&db, None, &req).unwrap_or_else(|e| panic!("{}: {e:#}", c.reason)).hits;
        let found = hits.iter().find(|h| h.id == c.expect_id);
        match found {
            Some(h) => {
                assert_eq!(h.kind, c.expect_kind, "{}", c.reason);
                if let Some(field) = c.field {
                    let m = h.matched.as_ref().unwrap_or_else(|| panic!("{}: no match shown", c.reason));
                    assert_eq!(m.field, field, "{}: query {:?}, match {m:?}", c.reason, c.text);
                    assert!(!m.spans.is_empty(), "{}: nothing highlighted", c.reason);
                }
            }
            None => failures.push(format!(
                "{} (query {:?}): expected {} {} in the top 3, got {:?}",
                c.reason,
                c.text,
                c.expect_kind,
                c.expect_id,
                hits.iter().map(|h| (&h.kind, &h.name, h.tier)).collect::<Vec<_>>()
            )),
        }
    }
    assert!(failures.is_empty(), "{} of {} queries missed:\n{}", failures.len(), cases.len(), failures.join("\n"));
    cases.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_find_their_asset_on_the_small_and_medium_sites() {
    let mut total = 0;
    for (size, name) in [(Size::Small, "search-small"), (Size::Medium, "search-medium")] {
        let (handle, dir, tagged) = extracted(size, name).await;
        let d = handle.state.data();
        total += tokio::task::block_in_place(|| check(&dir, &d, &tagged));
        drop(d);
        handle.stop().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(total >= 20, "{total} queries");
}

/// Filters narrow to exactly the assets the dataset says, and a filter
/// alone (no text) lists them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_list_exactly_the_matching_assets() {
    let (handle, dir, tagged) = extracted(Size::Small, "search-filters").await;
    let db = dir.join("trm.duckdb");
    let d = handle.state.data();
    let ids = |req: Request| -> BTreeSet<String> {
        search::search(&db, None, &Request { limit: 100_000, ..req }).unwrap().hits.into_iter().map(|h| h.id).collect()
    };

    let by_tag = ids(Request { tag: Some(PLANTED_TAG.to_lowercase()), ..Request::default() });
    assert_eq!(by_tag, BTreeSet::from([tagged.clone()]));

    // The owner of the most workbooks: --owner by user name, kind workbook.
    let mut owned: HashMap<u32, BTreeSet<String>> = HashMap::new();
    for w in &d.workbooks {
        owned.entry(w.owner).or_default().insert(w.id.clone());
    }
    let (owner, theirs) = owned.iter().max_by_key(|(o, s)| (s.len(), std::cmp::Reverse(**o))).unwrap();
    let user = &d.users[*owner as usize];
    let got =
        ids(Request { owner: Some(user.name.to_uppercase()), kinds: vec!["workbook".into()], ..Request::default() });
    assert_eq!(&got, theirs, "--owner {}", user.name);
    let by_email =
        ids(Request { owner: Some(user.email.clone()), kinds: vec!["workbook".into()], ..Request::default() });
    assert_eq!(&by_email, theirs, "--owner {}", user.email);

    // --project takes in subprojects.
    let top =
        d.projects.iter().position(|p| p.parent.is_none() && d.projects.iter().any(|c| c.parent.is_some())).unwrap()
            as u32;
    let under = |mut p: u32| loop {
        if p == top {
            return true;
        }
        match d.projects[p as usize].parent {
            Some(x) => p = x,
            None => return false,
        }
    };
    let want: BTreeSet<String> = d.workbooks.iter().filter(|w| under(w.project)).map(|w| w.id.clone()).collect();
    let got = ids(Request {
        project: Some(d.projects[top as usize].name.clone()),
        kinds: vec!["workbook".into()],
        ..Request::default()
    });
    assert_eq!(got, want);

    // Every kind is indexed: users count as the dataset has them.
    let users = ids(Request { kinds: vec!["user".into()], ..Request::default() });
    assert_eq!(users.len(), d.users.iter().filter(|u| !u.deleted).count());

    // An unknown kind and an empty search are clear errors.
    let e = search::search(
        &db,
        None,
        &Request { text: "x".into(), kinds: vec!["flow".into()], limit: 3, ..Request::default() },
    )
    .unwrap_err();
    assert!(e.to_string().contains("unknown kind 'flow'"), "{e}");
    assert!(search::search(&db, None, &Request { limit: 3, ..Request::default() }).is_err());

    // --sql lists the same asset from the warehouse.
    let w = &d.workbooks[d.workbooks.len() / 2];
    let sql = search::sql::sql(&Request {
        text: w.name.to_lowercase(),
        kinds: vec!["workbook".into()],
        limit: 5,
        ..Request::default()
    });
    let conn = trm::warehouse::read::open(&db).unwrap();
    let mut stmt = conn.prepare(&sql).unwrap_or_else(|e| panic!("{e}\n{sql}"));
    let rows: Vec<(String, String)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(6)?))).unwrap().map(Result::unwrap).collect();
    assert!(rows.iter().any(|(k, id)| k == "workbook" && *id == w.id), "{rows:?}\n{sql}");
    assert!(rows.iter().all(|(k, _)| k == "workbook"));
    drop(d);
    handle.stop().await;
}

/// The index records its run; a new run rebuilds it, an unchanged one
/// does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_follows_the_latest_run() {
    let (handle, dir, _) = extracted(Size::Small, "search-runs").await;
    let db = dir.join("trm.duckdb");
    let req = Request { text: "anything".into(), limit: 3, ..Request::default() };
    let first = search::search(&db, None, &req).unwrap();
    assert!(first.built.is_some(), "the first search builds the index");
    assert!(search::search(&db, None, &req).unwrap().built.is_none(), "the same run reuses it");
    let meta = search::index::read_meta(&search::index::dir_for(&db)).unwrap();
    assert_eq!(meta.run_id, first.run_id);

    // A workbook renamed on the site shows up after the next extract.
    let renamed = {
        let mut d = handle.state.write();
        d.workbooks[0].name = "Zanzibar Quarterly Ledger".into();
        d.workbooks[0].id.clone()
    };
    handle.state.set_day(1);
    let s = settings(&handle, &dir);
    extract::run(&s, &Options { only: Vec::new(), parquet: false }, Arc::new(Quiet)).await.expect("extract");
    let second =
        search::search(&db, None, &Request { text: "zanzibar ledger".into(), limit: 3, ..Request::default() }).unwrap();
    assert!(second.built.is_some() && second.run_id != first.run_id, "a new run rebuilds the index");
    assert_eq!(second.hits.first().map(|h| h.id.as_str()), Some(renamed.as_str()));
    handle.stop().await;
}
