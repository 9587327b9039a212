//! Request bodies of write calls (`<tsRequest>` XML or Tableau JSON) read
//! into one small tree, so handlers ask for `user@siteRole` the same way
//! whatever the client sent.
//!
//! Tableau's JSON mirrors its XML: `{"user": {"name": "a", "siteRole": "b"}}`
//! is `<tsRequest><user name="a" siteRole="b"/></tsRequest>`; scalar values
//! are attributes, objects are child elements and arrays repeat an element.
//! This reader is the simulated site's own; TRM's clients write requests
//! with their own code.

use axum::http::{header, HeaderMap};
use quick_xml::events::Event;

use super::error::ApiError;

#[derive(Debug, Default, Clone)]
pub struct Node {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Node>,
}

impl Node {
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The element at `path` below this one, or Tableau's 400 naming it.
    pub fn require(&self, path: &[&str]) -> Result<&Node, ApiError> {
        let mut at = self;
        for name in path {
            at = at.child(name).ok_or_else(|| {
                ApiError::malformed_body(format!(
                    "Payload is either malformed or incomplete: the request needs a <{}> element.",
                    path.join("><")
                ))
            })?;
        }
        Ok(at)
    }

    /// A required attribute, or Tableau's 400 naming it.
    pub fn need(&self, key: &str) -> Result<&str, ApiError> {
        self.attr(key).ok_or_else(|| {
            ApiError::malformed_body(format!(
                "Payload is either malformed or incomplete: <{}> needs the attribute '{key}'.",
                self.name
            ))
        })
    }
}

/// Parses a request body; the root is `tsRequest` either way.
pub fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Node, ApiError> {
    let text = std::str::from_utf8(body).map_err(|_| ApiError::malformed_body("The request body is not UTF-8."))?;
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if text.trim().is_empty() {
        return Ok(Node { name: "tsRequest".into(), ..Node::default() });
    }
    if json {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| ApiError::malformed_body(format!("Payload is either malformed or incomplete: {e}")))?;
        let mut root = Node { name: "tsRequest".into(), ..Node::default() };
        from_json(&mut root, &value);
        Ok(root)
    } else {
        from_xml(text)
    }
}

fn from_json(into: &mut Node, value: &serde_json::Value) {
    let serde_json::Value::Object(map) = value else { return };
    for (key, v) in map {
        match v {
            serde_json::Value::Object(_) => {
                let mut child = Node { name: key.clone(), ..Node::default() };
                from_json(&mut child, v);
                into.children.push(child);
            }
            serde_json::Value::Array(items) => {
                for item in items {
                    let mut child = Node { name: key.clone(), ..Node::default() };
                    from_json(&mut child, item);
                    into.children.push(child);
                }
            }
            serde_json::Value::String(s) => into.attrs.push((key.clone(), s.clone())),
            serde_json::Value::Null => {}
            other => into.attrs.push((key.clone(), other.to_string())),
        }
    }
}

fn from_xml(text: &str) -> Result<Node, ApiError> {
    let bad = |e: &dyn std::fmt::Display| ApiError::malformed_body(format!("Payload is either malformed or incomplete: {e}"));
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    loop {
        let event = reader.read_event().map_err(|e| bad(&e))?;
        let (start, empty) = match &event {
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            _ => (None, false),
        };
        if let Some(e) = start {
            let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
            let mut node = Node { name, ..Node::default() };
            for a in e.attributes() {
                let a = a.map_err(|e| bad(&e))?;
                let key = a.key.as_ref();
                // Namespace declarations are not data.
                if key == b"xmlns" || key.starts_with(b"xmlns:") {
                    continue;
                }
                let value = a.decode_and_unescape_value(reader.decoder()).map_err(|e| bad(&e))?;
                node.attrs.push((String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned(), value.into_owned()));
            }
            if empty {
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            } else {
                stack.push(node);
            }
            continue;
        }
        match event {
            Event::End(_) => {
                let node = stack.pop().ok_or_else(|| bad(&"unbalanced end tag"))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => root = Some(node),
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    match root {
        Some(r) if stack.is_empty() && r.name == "tsRequest" => Ok(r),
        Some(r) if stack.is_empty() => Err(bad(&format!("the root element is <{}>, not <tsRequest>", r.name))),
        _ => Err(bad(&"the document ends early")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(json: bool) -> HeaderMap {
        let mut h = HeaderMap::new();
        let ct = if json { "application/json" } else { "text/xml" };
        h.insert(header::CONTENT_TYPE, ct.parse().unwrap());
        h
    }

    #[test]
    fn xml_and_json_give_the_same_tree() {
        let xml = r#"<tsRequest xmlns="http://tableau.com/api"><user name="a&amp;b" siteRole="Viewer"/><users><user id="1"/><user id="2"/></users></tsRequest>"#;
        let json = r#"{"user": {"name": "a&b", "siteRole": "Viewer"}, "users": {"user": [{"id": "1"}, {"id": "2"}]}}"#;
        for (body, is_json) in [(xml, false), (json, true)] {
            let n = parse(&headers(is_json), body.as_bytes()).unwrap();
            assert_eq!(n.require(&["user"]).unwrap().attr("name"), Some("a&b"));
            let ids: Vec<_> = n.require(&["users"]).unwrap().all("user").filter_map(|u| u.attr("id")).collect();
            assert_eq!(ids, ["1", "2"]);
        }
    }

    #[test]
    fn missing_parts_are_named() {
        let n = parse(&headers(false), b"<tsRequest><group/></tsRequest>").unwrap();
        let e = n.require(&["user"]).unwrap_err();
        assert!(e.detail.contains("<user>"), "{}", e.detail);
        let e = n.require(&["group"]).unwrap().need("name").unwrap_err();
        assert!(e.detail.contains("'name'"), "{}", e.detail);
        assert!(parse(&headers(false), b"<tsRequest><user>").is_err());
        assert!(parse(&headers(false), b"<other/>").is_err());
    }
}
