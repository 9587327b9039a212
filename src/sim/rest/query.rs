//! List query parameters as Tableau documents them: `pageSize` (1–1000,
//! default 100), `pageNumber`, `filter=field:op:value[,…]` and
//! `sort=field:asc|desc[,…]`.
//!
//! Each resource exposes its filterable fields through a function from an
//! item and a field name to a [`Val`]; unknown fields are a 400, as on a real
//! server, so a client bug does not silently return everything.

use std::cmp::Ordering;

use serde::Deserialize;

use super::body::El;
use super::error::ApiError;

pub const DEFAULT_PAGE_SIZE: usize = 100;
pub const MAX_PAGE_SIZE: usize = 1000;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListParams {
    pub page_size: Option<String>,
    pub page_number: Option<String>,
    pub filter: Option<String>,
    pub sort: Option<String>,
    pub include_usage_statistics: Option<String>,
}

impl ListParams {
    pub fn usage(&self) -> bool {
        self.include_usage_statistics.as_deref().is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

/// A field's value for filtering and sorting.
#[derive(Debug, Clone, PartialEq)]
pub enum Val<'a> {
    Str(&'a str),
    Time(Option<i64>),
    Num(i64),
    Bool(bool),
    Tags(&'a [String]),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Gt,
    Gte,
    Lt,
    Lte,
    In,
    Has,
}

#[derive(Debug)]
struct Filter {
    field: String,
    op: Op,
    values: Vec<String>,
}

/// Splits on commas that are not inside `[...]` (the `in` operator's list).
fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts.into_iter().filter(|p| !p.is_empty()).collect()
}

fn invalid_filter(detail: String) -> ApiError {
    ApiError::bad_request("400065", "Bad Request", detail)
}

fn parse_filters(raw: &str, known: &[&str]) -> Result<Vec<Filter>, ApiError> {
    split_top_level(raw)
        .into_iter()
        .map(|expr| {
            let mut it = expr.splitn(3, ':');
            let (Some(field), Some(op), Some(value)) = (it.next(), it.next(), it.next()) else {
                return Err(invalid_filter(format!(
                    "Invalid filter expression '{expr}': expected field:operator:value."
                )));
            };
            if !known.contains(&field) {
                return Err(invalid_filter(format!(
                    "The filter field '{field}' is not supported here. Supported fields: {}.",
                    known.join(", ")
                )));
            }
            let op = match op {
                "eq" => Op::Eq,
                "gt" => Op::Gt,
                "gte" => Op::Gte,
                "lt" => Op::Lt,
                "lte" => Op::Lte,
                "in" => Op::In,
                "has" => Op::Has,
                other => return Err(invalid_filter(format!("Unknown filter operator '{other}' in '{expr}'."))),
            };
            let values = if op == Op::In {
                let inner = value.strip_prefix('[').and_then(|v| v.strip_suffix(']')).ok_or_else(|| {
                    invalid_filter(format!("The 'in' operator takes a list in brackets: '{expr}'."))
                })?;
                inner.split(',').map(str::to_string).collect()
            } else {
                vec![value.to_string()]
            };
            Ok(Filter { field: field.to_string(), op, values })
        })
        .collect()
}

fn parse_time(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s).ok().map(|d| d.timestamp())
}

fn compare(val: &Val, raw: &str) -> Option<Ordering> {
    match val {
        Val::Str(s) => Some((*s).cmp(raw)),
        Val::Time(t) => Some(t.as_ref()?.cmp(&parse_time(raw)?)),
        Val::Num(n) => Some(n.cmp(&raw.parse::<i64>().ok()?)),
        Val::Bool(b) => Some(b.cmp(&raw.parse::<bool>().ok()?)),
        Val::Tags(_) => None,
    }
}

fn matches(filter: &Filter, val: &Val) -> Result<bool, ApiError> {
    if let Val::Tags(tags) = val {
        return Ok(match filter.op {
            Op::Eq | Op::Has | Op::In => filter.values.iter().any(|v| tags.iter().any(|t| t == v)),
            _ => return Err(invalid_filter(format!("Tags can only be filtered with eq, has or in."))),
        });
    }
    if let Val::Time(_) = val {
        for v in &filter.values {
            if parse_time(v).is_none() {
                return Err(invalid_filter(format!(
                    "'{v}' is not a valid date for '{}': use ISO 8601, e.g. 2026-01-01T00:00:00Z.",
                    filter.field
                )));
            }
        }
    }
    let ord = |raw: &String| compare(val, raw);
    Ok(match filter.op {
        Op::Eq | Op::Has => ord(&filter.values[0]) == Some(Ordering::Equal),
        Op::In => filter.values.iter().any(|v| ord(v) == Some(Ordering::Equal)),
        Op::Gt => ord(&filter.values[0]) == Some(Ordering::Greater),
        Op::Gte => matches!(ord(&filter.values[0]), Some(Ordering::Greater | Ordering::Equal)),
        Op::Lt => ord(&filter.values[0]) == Some(Ordering::Less),
        Op::Lte => matches!(ord(&filter.values[0]), Some(Ordering::Less | Ordering::Equal)),
    })
}

fn order(a: &Val, b: &Val) -> Ordering {
    match (a, b) {
        (Val::Str(x), Val::Str(y)) => x.to_lowercase().cmp(&y.to_lowercase()).then(x.cmp(y)),
        (Val::Time(x), Val::Time(y)) => x.cmp(y),
        (Val::Num(x), Val::Num(y)) => x.cmp(y),
        (Val::Bool(x), Val::Bool(y)) => x.cmp(y),
        _ => Ordering::Equal,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub size: usize,
    pub number: usize,
}

fn parse_paging(p: &ListParams) -> Result<Paging, ApiError> {
    let size = match p.page_size.as_deref() {
        None => DEFAULT_PAGE_SIZE,
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_request(
                    "400007",
                    "Invalid page size",
                    format!("The page size '{raw}' is not valid: it must be an integer between 1 and {MAX_PAGE_SIZE}."),
                ))
            }
        },
    };
    let number = match p.page_number.as_deref() {
        None => 1,
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if n >= 1 => n,
            _ => return Err(invalid_page_number(raw)),
        },
    };
    Ok(Paging { size, number })
}

fn invalid_page_number(raw: &str) -> ApiError {
    ApiError::bad_request(
        "400006",
        "Invalid page number",
        format!("The page number '{raw}' is not valid: it must be an integer from 1 to the last page."),
    )
}

/// One page of a filtered, sorted list, plus its `<pagination>` element.
pub struct Page<T> {
    pub items: Vec<T>,
    pub pagination: El,
}

/// Filters, sorts and pages `items`. `field` maps an item and a field name
/// to its value; `known` lists the field names this resource accepts.
pub fn list<'a, T: Copy>(
    items: impl IntoIterator<Item = T>,
    params: &ListParams,
    known: &[&str],
    field: impl Fn(T, &str) -> Val<'a>,
) -> Result<Page<T>, ApiError> {
    let paging = parse_paging(params)?;
    let filters = match params.filter.as_deref() {
        Some(raw) => parse_filters(raw, known)?,
        None => Vec::new(),
    };
    let mut kept = Vec::new();
    for item in items {
        let mut keep = true;
        for f in &filters {
            if !matches(f, &field(item, &f.field))? {
                keep = false;
                break;
            }
        }
        if keep {
            kept.push(item);
        }
    }
    if let Some(raw) = params.sort.as_deref() {
        let mut keys = Vec::new();
        for expr in split_top_level(raw) {
            let (name, dir) = expr.split_once(':').unwrap_or((expr, "asc"));
            if !known.contains(&name) {
                return Err(invalid_filter(format!(
                    "The sort field '{name}' is not supported here. Supported fields: {}.",
                    known.join(", ")
                )));
            }
            let desc = match dir {
                "asc" => false,
                "desc" => true,
                other => return Err(invalid_filter(format!("Sort direction '{other}' must be asc or desc."))),
            };
            keys.push((name, desc));
        }
        kept.sort_by(|a, b| {
            for (name, desc) in &keys {
                let o = order(&field(*a, name), &field(*b, name));
                let o = if *desc { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        });
    }
    let total = kept.len();
    let last_page = total.div_ceil(paging.size).max(1);
    if paging.number > last_page {
        return Err(invalid_page_number(&paging.number.to_string()));
    }
    let start = (paging.number - 1) * paging.size;
    let items: Vec<T> = kept.into_iter().skip(start).take(paging.size).collect();
    Ok(Page { items, pagination: pagination(paging, total) })
}

pub fn pagination(paging: Paging, total: usize) -> El {
    El::new("pagination")
        .attr("pageNumber", paging.number)
        .attr("pageSize", paging.size)
        .attr("totalAvailable", total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &str) -> ListParams {
        let mut p = ListParams::default();
        for kv in q.split('&').filter(|s| !s.is_empty()) {
            let (k, v) = kv.split_once('=').unwrap();
            let v = Some(v.to_string());
            match k {
                "pageSize" => p.page_size = v,
                "pageNumber" => p.page_number = v,
                "filter" => p.filter = v,
                "sort" => p.sort = v,
                _ => unreachable!(),
            }
        }
        p
    }

    const ITEMS: &[(&str, i64)] = &[("b", 3), ("a", 1), ("c", 2), ("a b", 5)];

    fn run(q: &str) -> Result<Vec<&'static str>, ApiError> {
        let page = list(ITEMS.iter(), &params(q), &["name", "n"], |it, f| match f {
            "name" => Val::Str(it.0),
            _ => Val::Num(it.1),
        })?;
        Ok(page.items.into_iter().map(|i| i.0).collect())
    }

    #[test]
    fn filters_and_sorts() {
        assert_eq!(run("filter=name:eq:a").unwrap(), vec!["a"]);
        assert_eq!(run("filter=name:in:[a,c]").unwrap(), vec!["a", "c"]);
        assert_eq!(run("filter=n:gt:2").unwrap(), vec!["b", "a b"]);
        assert_eq!(run("filter=n:gte:2,name:eq:c").unwrap(), vec!["c"]);
        assert_eq!(run("sort=n:desc").unwrap(), vec!["a b", "b", "c", "a"]);
        assert_eq!(run("sort=name:asc").unwrap(), vec!["a", "a b", "b", "c"]);
    }

    #[test]
    fn pages_and_rejects_bad_paging() {
        assert_eq!(run("pageSize=3&pageNumber=2").unwrap(), vec!["a b"]);
        assert_eq!(run("pageSize=1000").unwrap().len(), 4);
        assert_eq!(run("pageSize=1001").unwrap_err().code, "400007");
        assert_eq!(run("pageSize=0").unwrap_err().code, "400007");
        assert_eq!(run("pageSize=2&pageNumber=3").unwrap_err().code, "400006");
        assert_eq!(run("filter=owner:eq:x").unwrap_err().code, "400065");
        assert_eq!(run("filter=name").unwrap_err().code, "400065");
    }
}
