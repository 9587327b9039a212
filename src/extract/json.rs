//! Reading Tableau's REST JSON: values arrive as strings (`"size": "12"`,
//! `"showTabs": "true"`), related objects nest (`"project": {"id": ...}`).

use serde_json::Value;

use crate::time::parse as parse_time;
use crate::warehouse::V;

/// A string attribute, or `None` when absent or empty-null.
pub fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// A required string attribute, with an error naming the entity and key.
pub fn req<'a>(v: &'a Value, key: &str, what: &str) -> anyhow::Result<&'a str> {
    text(v, key).ok_or_else(|| anyhow::anyhow!("a {what} in the response has no '{key}': {}", preview(v)))
}

/// `"project": {"id": "..."}` → the id.
pub fn nested<'a>(v: &'a Value, object: &str, key: &str) -> Option<&'a str> {
    v.get(object).and_then(|o| o.get(key)).and_then(Value::as_str)
}

pub fn int(v: &Value, key: &str) -> Option<i64> {
    match v.get(key)? {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

pub use crate::tableau::rest::boolean;

pub fn time(v: &Value, key: &str) -> V<'static> {
    text(v, key).and_then(parse_time).map_or(V::Null, V::Time)
}

/// `"tags": {"tag": [{"label": "x"}]}` → labels.
pub fn tags(v: &Value) -> Vec<&str> {
    v.get("tags")
        .and_then(|t| t.get("tag"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|t| text(t, "label")).collect())
        .unwrap_or_default()
}

fn preview(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 200 {
        format!("{}…", &s[..s.char_indices().nth(200).map_or(s.len(), |(i, _)| i)])
    } else {
        s
    }
}
