//! Response bodies as a small element tree, written either as Tableau XML
//! (the default) or as Tableau JSON (`Accept: application/json`).
//!
//! Tableau's JSON mirrors its XML: attributes become string-valued keys (so
//! `"totalAvailable": "42"`), child elements become nested objects, and the
//! items of a collection become an array under the item's name, even when
//! there is one item or none (`"tags": {}`). The tree records which elements
//! are collections so both encodings come from one description.
//!
//! This writer belongs to the simulated site only; TRM's clients parse
//! responses with their own code, so a bug here cannot hide a bug there.

use quick_xml::escape::escape;

pub const NAMESPACE: &str = "http://tableau.com/api";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Xml,
    Json,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Xml => "application/xml;charset=UTF-8",
            Format::Json => "application/json;charset=UTF-8",
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct El {
    name: &'static str,
    attrs: Vec<(&'static str, String)>,
    text: Option<String>,
    children: Vec<El>,
    /// A collection: in JSON its children form an array.
    collection: bool,
    /// Always an array item in JSON, even alone (e.g. `granteeCapabilities`).
    repeated: bool,
}

impl El {
    pub fn new(name: &'static str) -> El {
        El { name, ..El::default() }
    }

    pub fn collection(name: &'static str) -> El {
        El { name, collection: true, ..El::default() }
    }

    pub fn repeated(mut self) -> El {
        self.repeated = true;
        self
    }

    pub fn attr(mut self, key: &'static str, value: impl ToString) -> El {
        self.attrs.push((key, value.to_string()));
        self
    }

    pub fn attr_opt(self, key: &'static str, value: Option<impl ToString>) -> El {
        match value {
            Some(v) => self.attr(key, v),
            None => self,
        }
    }

    pub fn text(mut self, text: impl Into<String>) -> El {
        self.text = Some(text.into());
        self
    }

    pub fn child(mut self, child: El) -> El {
        self.children.push(child);
        self
    }

    pub fn children(mut self, children: impl IntoIterator<Item = El>) -> El {
        self.children.extend(children);
        self
    }

    pub fn push(&mut self, child: El) {
        self.children.push(child);
    }
}

/// Writes a whole `tsResponse` whose children are `body`.
pub fn render(body: &[El], format: Format, api_minor: u32) -> String {
    let mut out = String::with_capacity(256 + body.len() * 256);
    match format {
        Format::Xml => {
            out.push_str("<?xml version='1.0' encoding='UTF-8'?>");
            out.push_str("<tsResponse xmlns=\"");
            out.push_str(NAMESPACE);
            out.push_str("\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\"");
            out.push_str(NAMESPACE);
            out.push_str(&format!(" https://help.tableau.com/samples/en-us/rest_api/ts-api_3_{api_minor}.xsd\">"));
            for el in body {
                write_xml(el, &mut out);
            }
            out.push_str("</tsResponse>");
        }
        Format::Json => write_json_members(body, &mut out),
    }
    out
}

fn write_xml(el: &El, out: &mut String) {
    out.push('<');
    out.push_str(el.name);
    for (k, v) in &el.attrs {
        out.push(' ');
        out.push_str(k);
        out.push_str("=\"");
        out.push_str(&escape(v.as_str()));
        out.push('"');
    }
    if el.children.is_empty() && el.text.is_none() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    if let Some(t) = &el.text {
        out.push_str(&escape(t.as_str()));
    }
    for c in &el.children {
        write_xml(c, out);
    }
    out.push_str("</");
    out.push_str(el.name);
    out.push('>');
}

fn json_str(s: &str, out: &mut String) {
    // serde_json's string encoder handles every escape JSON requires.
    out.push_str(&serde_json::to_string(s).expect("strings always serialize"));
}

/// Writes `{ ... }` for a list of sibling elements, grouping same-named
/// siblings into arrays.
fn write_json_members(children: &[El], out: &mut String) {
    write_json_object(&[], None, children, false, out);
}

fn write_json_object(
    attrs: &[(&'static str, String)],
    text: Option<&str>,
    children: &[El],
    collection: bool,
    out: &mut String,
) {
    out.push('{');
    let mut first = true;
    let mut sep = |out: &mut String| {
        if !std::mem::take(&mut first) {
            out.push(',');
        }
    };
    for (k, v) in attrs {
        sep(out);
        json_str(k, out);
        out.push(':');
        json_str(v, out);
    }
    if let Some(t) = text {
        sep(out);
        out.push_str("\"value\":");
        json_str(t, out);
    }
    // Group children by name, in order of first appearance.
    let mut names: Vec<&'static str> = Vec::new();
    for c in children {
        if !names.contains(&c.name) {
            names.push(c.name);
        }
    }
    for name in names {
        let group: Vec<&El> = children.iter().filter(|c| c.name == name).collect();
        sep(out);
        json_str(name, out);
        out.push(':');
        if collection || group.len() > 1 || group[0].repeated {
            out.push('[');
            for (i, c) in group.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_value(c, out);
            }
            out.push(']');
        } else {
            write_json_value(group[0], out);
        }
    }
    out.push('}');
}

fn write_json_value(el: &El, out: &mut String) {
    match (&el.text, el.attrs.is_empty() && el.children.is_empty()) {
        (Some(t), true) => json_str(t, out),
        _ => write_json_object(&el.attrs, el.text.as_deref(), &el.children, el.collection, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<El> {
        vec![
            El::new("pagination").attr("pageNumber", 1).attr("pageSize", 100).attr("totalAvailable", 1),
            El::collection("workbooks").child(
                El::new("workbook")
                    .attr("id", "w1")
                    .attr("name", "Sales <&> \"Q4\"")
                    .child(El::new("project").attr("id", "p1"))
                    .child(El::collection("tags")),
            ),
        ]
    }

    #[test]
    fn xml_is_namespaced_and_escaped() {
        let xml = render(&sample(), Format::Xml, 27);
        assert!(xml.contains("<tsResponse xmlns=\"http://tableau.com/api\""));
        assert!(xml.contains("name=\"Sales &lt;&amp;&gt; &quot;Q4&quot;\""));
        assert!(xml.contains("<tags/>"));
        assert!(xml.ends_with("</workbooks></tsResponse>"));
    }

    #[test]
    fn json_follows_tableau_conventions() {
        let json = render(&sample(), Format::Json, 27);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["pagination"]["totalAvailable"], "1");
        assert_eq!(v["workbooks"]["workbook"][0]["name"], "Sales <&> \"Q4\"");
        assert_eq!(v["workbooks"]["workbook"][0]["tags"], serde_json::json!({}));
        assert_eq!(v["workbooks"]["workbook"][0]["project"]["id"], "p1");
    }

    #[test]
    fn json_text_elements() {
        let body = vec![El::new("serverInfo")
            .child(El::new("productVersion").attr("build", "b1").text("2025.3.0"))
            .child(El::new("restApiVersion").text("3.27"))];
        let v: serde_json::Value = serde_json::from_str(&render(&body, Format::Json, 27)).unwrap();
        assert_eq!(v["serverInfo"]["productVersion"]["value"], "2025.3.0");
        assert_eq!(v["serverInfo"]["productVersion"]["build"], "b1");
        assert_eq!(v["serverInfo"]["restApiVersion"], "3.27");
    }

    #[test]
    fn repeated_elements_are_arrays_even_alone() {
        let body = vec![El::new("permissions").child(El::new("granteeCapabilities").repeated().attr("x", 1))];
        let v: serde_json::Value = serde_json::from_str(&render(&body, Format::Json, 27)).unwrap();
        assert!(v["permissions"]["granteeCapabilities"].is_array());
    }
}
