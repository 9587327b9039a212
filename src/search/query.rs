//! Asking the index: the query for a text and filters, the ranking, and
//! where each hit matched.
//!
//! Ranking is in tiers, then by score within a tier:
//! 0. the whole name (or another name: a user's email, a table's
//!    `schema.name`) is the text;
//! 1. every word of the text is a word of the name;
//! 2. every word is in the name, some only within one typo;
//! 3. every word is somewhere: a formula, custom SQL, tags, owner,
//!    description, project path (or the name for some of them);
//! 4. some words are in the name;
//! 5. some words are elsewhere.
//!
//! Tantivy's BM25 score, boosted per field, picks the candidates; the tiers
//! then put them in the order people expect.

use serde::Serialize;
use tantivy::collector::TopDocs;
use tantivy::query::{AllQuery, BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, Query, TermQuery};
use tantivy::schema::{IndexRecordOption, Value as _};
use tantivy::tokenizer::TokenStream as _;
use tantivy::{Index, ReloadPolicy, TantivyDocument, Term};

use super::index::{self, Fields};

/// Kinds of asset the index holds.
pub const KINDS: &[&str] =
    &["workbook", "view", "dashboard", "datasource", "field", "table", "column", "project", "user"];

#[derive(Debug, Clone, Default)]
pub struct Request {
    pub text: String,
    /// Empty: every kind.
    pub kinds: Vec<String>,
    /// A project path; its subprojects are included.
    pub project: Option<String>,
    /// An owner's user name, full name or email.
    pub owner: Option<String>,
    pub tag: Option<String>,
    pub limit: usize,
}

/// Where a hit matched, and the matched words' byte ranges in `text`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Match {
    pub field: &'static str,
    pub text: String,
    pub spans: Vec<(usize, usize)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub kind: String,
    pub name: String,
    pub project: Option<String>,
    pub owner: Option<String>,
    pub tags: Vec<String>,
    /// Where the asset is: a field's datasource, a column's table.
    pub context: Option<String>,
    /// The warehouse column the id is in (`workbook_luid`, `field_metadata_id`).
    pub id_column: String,
    pub id: String,
    #[serde(rename = "match")]
    pub matched: Option<Match>,
    pub tier: u8,
    pub score: f32,
}

/// Candidates read per hit asked for: the tiers reorder them.
const CANDIDATES_PER_HIT: usize = 10;
const MIN_CANDIDATES: usize = 200;
/// Words shorter than this get no typo allowance: one edit would make
/// them match too much.
const FUZZY_MIN_CHARS: usize = 4;

pub fn search(index: &Index, f: &Fields, req: &Request) -> anyhow::Result<Vec<Hit>> {
    for k in &req.kinds {
        if !KINDS.contains(&k.as_str()) {
            anyhow::bail!("unknown kind '{k}': use one of {}", KINDS.join(", "));
        }
    }
    let words = index::words(&req.text);
    let exact = index::exact(&req.text);
    let has_text = !words.is_empty() || !exact.is_empty();
    if !has_text && req.kinds.is_empty() && req.project.is_none() && req.owner.is_none() && req.tag.is_none() {
        anyhow::bail!("give a text to search for, or a filter (--kind, --project, --owner, --tag)");
    }
    let filters = || {
        let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if !req.kinds.is_empty() {
            let any: Vec<(Occur, Box<dyn Query>)> =
                req.kinds.iter().map(|k| (Occur::Should, term(f.kind, k))).collect();
            must.push((Occur::Must, Box::new(BooleanQuery::new(any))));
        }
        if let Some(p) = &req.project {
            must.push((Occur::Must, term(f.project_key, &index::key(p.trim_matches('/')))));
        }
        if let Some(o) = &req.owner {
            must.push((Occur::Must, term(f.owner_key, &index::key(o))));
        }
        if let Some(t) = &req.tag {
            must.push((Occur::Must, term(f.tag_key, &index::key(t))));
        }
        must
    };
    // Two passes: the assets holding every word (tiers 0 to 3, however
    // common the words are elsewhere), then any asset holding some.
    let mut passes: Vec<BooleanQuery> = Vec::new();
    if has_text {
        if !words.is_empty() {
            let mut q = filters();
            q.push((Occur::Must, complete(f, &words)));
            q.push((Occur::Should, Box::new(BooleanQuery::new(text_clauses(f, &words, &exact)))));
            passes.push(BooleanQuery::new(q));
        }
        let mut q = filters();
        q.push((Occur::Must, Box::new(BooleanQuery::new(text_clauses(f, &words, &exact)))));
        passes.push(BooleanQuery::new(q));
    } else {
        let mut q = filters();
        q.push((Occur::Must, Box::new(AllQuery)));
        passes.push(BooleanQuery::new(q));
    }

    let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
    let searcher = reader.searcher();
    let limit = req.limit.max(1);
    let candidates = (limit * CANDIDATES_PER_HIT).max(MIN_CANDIDATES);
    let mut seen = std::collections::HashSet::new();
    let mut hits = Vec::new();
    for query in &passes {
        for (score, addr) in searcher.search(query, &TopDocs::with_limit(candidates).order_by_score())? {
            if seen.insert(addr) {
                let doc: TantivyDocument = searcher.doc(addr)?;
                hits.push(hit(f, &doc, score, &words, &exact));
            }
        }
    }
    hits.sort_by(|a, b| {
        a.tier
            .cmp(&b.tier)
            .then(b.score.total_cmp(&a.score))
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.id.cmp(&b.id))
    });
    hits.truncate(limit);
    Ok(hits)
}

fn term(field: tantivy::schema::Field, text: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(Term::from_field_text(field, text), IndexRecordOption::Basic))
}

fn boosted(q: Box<dyn Query>, boost: f32) -> (Occur, Box<dyn Query>) {
    (Occur::Should, Box::new(BoostQuery::new(q, boost)))
}

/// Any of: the whole name, a name word (exact, then within one typo), a
/// tag, the owner, a word of a formula, description or project path.
fn text_clauses(f: &Fields, words: &[String], exact: &str) -> Vec<(Occur, Box<dyn Query>)> {
    let freq = |field: tantivy::schema::Field, w: &str| -> Box<dyn Query> {
        Box::new(TermQuery::new(Term::from_field_text(field, w), IndexRecordOption::WithFreqs))
    };
    let mut clauses = Vec::new();
    if !exact.is_empty() {
        clauses.push(boosted(term(f.name_exact, exact), 20.0));
    }
    // Every word in the name: lifts those above assets that share one
    // common word with the text.
    if words.len() > 1 {
        let all_in_name: Vec<(Occur, Box<dyn Query>)> = words.iter().map(|w| (Occur::Must, in_name(f, w))).collect();
        clauses.push(boosted(Box::new(BooleanQuery::new(all_in_name)), 10.0));
    }
    for w in words {
        clauses.push(boosted(freq(f.name, w), 4.0));
        clauses.push(boosted(freq(f.alt, w), 3.0));
        clauses.push(boosted(freq(f.tags, w), 2.0));
        clauses.push(boosted(freq(f.owner, w), 1.0));
        clauses.push(boosted(freq(f.formula, w), 1.0));
        clauses.push(boosted(freq(f.description, w), 1.0));
        clauses.push(boosted(freq(f.project, w), 0.7));
        clauses.push(boosted(freq(f.context, w), 0.5));
        if w.chars().count() >= FUZZY_MIN_CHARS {
            let t = Term::from_field_text(f.name, w);
            clauses.push(boosted(Box::new(FuzzyTermQuery::new(t, 1, true)), 1.0));
        }
    }
    clauses
}

/// A word in a name or other name, within one typo when long enough.
fn in_name(f: &Fields, w: &str) -> Box<dyn Query> {
    let mut any: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Should, term(f.name, w)), (Occur::Should, term(f.alt, w))];
    if w.chars().count() >= FUZZY_MIN_CHARS {
        any.push((Occur::Should, Box::new(FuzzyTermQuery::new(Term::from_field_text(f.name, w), 1, true))));
    }
    Box::new(BooleanQuery::new(any))
}

/// Every word somewhere in the asset (names within one typo).
fn complete(f: &Fields, words: &[String]) -> Box<dyn Query> {
    let all: Vec<(Occur, Box<dyn Query>)> = words
        .iter()
        .map(|w| {
            let mut any: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Should, in_name(f, w))];
            for field in [f.tags, f.owner, f.formula, f.description, f.project, f.context] {
                any.push((Occur::Should, term(field, w)));
            }
            (Occur::Must, Box::new(BooleanQuery::new(any)) as Box<dyn Query>)
        })
        .collect();
    Box::new(BooleanQuery::new(all))
}

fn first(doc: &TantivyDocument, field: tantivy::schema::Field) -> Option<String> {
    doc.get_first(field).and_then(|v| v.as_str()).map(str::to_string)
}

fn all(doc: &TantivyDocument, field: tantivy::schema::Field) -> Vec<String> {
    doc.get_all(field).filter_map(|v| v.as_str()).map(str::to_string).collect()
}

/// How a word of the text matches a word of the asset.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum WordMatch {
    None,
    Typo,
    Exact,
}

fn word_match(query: &str, word: &str, typos: bool) -> WordMatch {
    if query == word {
        WordMatch::Exact
    } else if typos && query.chars().count() >= FUZZY_MIN_CHARS && within_one_edit(query, word) {
        WordMatch::Typo
    } else {
        WordMatch::None
    }
}

/// Levenshtein distance at most 1, a swap of neighbours counting as one.
pub fn within_one_edit(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let (la, lb) = (a.len(), b.len());
    if la.abs_diff(lb) > 1 {
        return false;
    }
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if prefix == la && la == lb {
        return true;
    }
    let rest = |i: usize, j: usize| a[i..] == b[j..];
    if la == lb {
        rest(prefix + 1, prefix + 1)
            || (prefix + 1 < la
                && a[prefix] == b[prefix + 1]
                && a[prefix + 1] == b[prefix]
                && rest(prefix + 2, prefix + 2))
    } else if la > lb {
        rest(prefix + 1, prefix)
    } else {
        rest(prefix, prefix + 1)
    }
}

/// The words of `text` with their byte ranges, analyzed like the index.
fn spans(text: &str) -> Vec<(String, usize, usize)> {
    let mut a = index::words_analyzer();
    let mut stream = a.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        let t = stream.token();
        out.push((t.text.clone(), t.offset_from, t.offset_to));
    }
    out
}

/// The query words' best matches among `text`'s words, and their spans.
fn match_in(text: &str, words: &[String], typos: bool) -> (Vec<WordMatch>, Vec<(usize, usize)>) {
    let tokens = spans(text);
    let mut best = vec![WordMatch::None; words.len()];
    let mut hit_spans = Vec::new();
    for (tok, from, to) in &tokens {
        let mut hit = false;
        for (i, w) in words.iter().enumerate() {
            let m = word_match(w, tok, typos);
            if m > WordMatch::None {
                best[i] = best[i].max(m);
                hit = true;
            }
        }
        if hit {
            hit_spans.push((*from, *to));
        }
    }
    (best, hit_spans)
}

fn hit(f: &Fields, doc: &TantivyDocument, score: f32, words: &[String], exact: &str) -> Hit {
    let kind = first(doc, f.kind).unwrap_or_default();
    let name = first(doc, f.name).unwrap_or_default();
    let tags = all(doc, f.tags);
    let sql_label = if kind == "table" { "custom SQL" } else { "formula" };
    // Every searched text, names first: (label, text, is a name).
    let mut texts: Vec<(&'static str, String, bool)> = vec![("name", name.clone(), true)];
    texts.extend(all(doc, f.alt).into_iter().map(|t| ("other name", t, true)));
    texts.extend(tags.iter().map(|t| ("tag", t.clone(), false)));
    for (label, field) in [
        ("owner", f.owner),
        (sql_label, f.formula),
        ("description", f.description),
        ("project", f.project),
        ("context", f.context),
    ] {
        texts.extend(all(doc, field).into_iter().map(|t| (label, t, false)));
    }

    let whole = |t: &str| !exact.is_empty() && index::exact(t) == exact;
    let (mut tier, mut matched) = (5u8, None);
    if let Some((field, text, _)) = texts.iter().find(|(_, t, is_name)| *is_name && whole(t)) {
        tier = 0;
        matched = Some(Match { field: *field, text: text.clone(), spans: vec![(0, text.len())] });
    } else if !words.is_empty() {
        let found: Vec<(usize, Vec<WordMatch>, Vec<(usize, usize)>)> = texts
            .iter()
            .enumerate()
            .map(|(i, (_, text, is_name))| {
                let (m, s) = match_in(text, words, *is_name);
                (i, m, s)
            })
            .collect();
        let covered = |m: &Vec<WordMatch>| m.iter().filter(|x| **x > WordMatch::None).count();
        // The text covering the most words, names first on a tie.
        let best_of = |names_only: bool| {
            found
                .iter()
                .filter(|(i, _, _)| !names_only || texts[*i].2)
                .filter(|(_, m, _)| covered(m) > 0)
                .max_by(|a, b| covered(&a.1).cmp(&covered(&b.1)).then(b.0.cmp(&a.0)))
        };
        let mut union = vec![WordMatch::None; words.len()];
        for (_, m, _) in &found {
            for (u, x) in union.iter_mut().zip(m) {
                *u = (*u).max(*x);
            }
        }
        let all_covered = covered(&union) == words.len();
        let in_name = best_of(true);
        let pick = match in_name {
            Some((_, m, _)) if covered(m) == words.len() && m.iter().all(|x| *x == WordMatch::Exact) => {
                Some((1, in_name))
            }
            Some((_, m, _)) if covered(m) == words.len() => Some((2, in_name)),
            _ if all_covered => Some((3, best_of(false))),
            Some(_) => Some((4, in_name)),
            None => Some((5, best_of(false))),
        };
        if let Some((t, Some((i, _, s)))) = pick {
            tier = t;
            matched = Some(Match { field: texts[*i].0, text: texts[*i].1.clone(), spans: s.clone() });
        }
    }
    Hit {
        kind,
        name,
        project: first(doc, f.project),
        owner: first(doc, f.owner_name),
        tags,
        context: first(doc, f.context),
        id_column: first(doc, f.id_column).unwrap_or_default(),
        id: first(doc, f.id).unwrap_or_default(),
        matched,
        tier,
        score,
    }
}

impl Match {
    /// The matched text cut to about `width` characters around the first
    /// match, with each match wrapped in `open`/`close`.
    pub fn render(&self, width: usize, open: &str, close: &str) -> String {
        let text = &self.text;
        let (start, end) = match self.spans.first() {
            Some(&(s, _)) if text.len() > width => {
                let mut from = s.saturating_sub(width / 3);
                while !text.is_char_boundary(from) {
                    from -= 1;
                }
                let mut to = (from + width).min(text.len());
                while !text.is_char_boundary(to) {
                    to -= 1;
                }
                (from, to)
            }
            _ => (0, text.len()),
        };
        let mut out = String::new();
        if start > 0 {
            out.push('…');
        }
        let mut at = start;
        for &(s, e) in &self.spans {
            if s < at || e > end {
                continue;
            }
            out.push_str(&text[at..s]);
            out.push_str(open);
            out.push_str(&text[s..e]);
            out.push_str(close);
            at = e;
        }
        out.push_str(&text[at..end]);
        if end < text.len() {
            out.push('…');
        }
        // One line: formulas and SQL hold newlines.
        out.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_edit_means_one_insertion_deletion_substitution_or_swap() {
        assert!(within_one_edit("pipeline", "pipeline"));
        assert!(within_one_edit("pipline", "pipeline"));
        assert!(within_one_edit("pipeline", "pipelines"));
        assert!(within_one_edit("pipeline", "pipelone"));
        assert!(within_one_edit("pipeline", "pipeilne"));
        assert!(!within_one_edit("pipeline", "pipe"));
        assert!(!within_one_edit("pipeline", "ppelinie"));
        assert!(within_one_edit("québec", "quebec"));
    }

    #[test]
    fn render_highlights_and_cuts_around_the_first_match() {
        let m = Match { field: "name", text: "EMEA Pipeline v2".into(), spans: vec![(5, 13)] };
        assert_eq!(m.render(80, "[", "]"), "EMEA [Pipeline] v2");
        let long = format!("{} needle {}", "a ".repeat(100), "b ".repeat(100));
        let at = long.find("needle").unwrap();
        let m = Match { field: "formula", text: long, spans: vec![(at, at + 6)] };
        let r = m.render(30, "*", "*");
        assert!(r.starts_with('…') && r.ends_with('…') && r.contains("*needle*"), "{r}");
    }
}
