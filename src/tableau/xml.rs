//! Reading Tableau's REST answers in XML, its native format, into the
//! same tree its JSON form has, so the layers above read one shape
//! whichever the server sent:
//!
//! ```text
//! <tsResponse><pagination pageNumber="1" …/><workbooks>
//!   <workbook id="a" name="S"><project id="p"/><tags><tag label="x"/></tags></workbook>
//! </workbooks></tsResponse>
//! ```
//! becomes
//! ```json
//! {"pagination": {"pageNumber": "1", …},
//!  "workbooks": {"workbook": [{"id": "a", "name": "S", "project": {"id": "p"},
//!                              "tags": {"tag": [{"label": "x"}]}}]}}
//! ```
//!
//! The rules are Tableau's own JSON conventions: attributes are string
//! members; a child element is an object member; the items of a collection
//! (`<tags><tag/>…`, any element inside one named as its plural) and
//! elements Tableau always lists (`granteeCapabilities`) are arrays even when
//! alone, as are elements that repeat; an element holding only text
//! (`<summary>…</summary>`) is a string, and the text of one that also has
//! attributes is its `value` member (`<productVersion build="…">2024.2`
//! is `{"build": "…", "value": "2024.2"}`). The `tsResponse` root is
//! dropped and namespaces are ignored.

use quick_xml::events::Event;
use serde_json::{Map, Value};

/// Elements that are list items in Tableau's JSON though their parent is
/// not named as their plural.
const ALWAYS_LISTS: &[&str] = &["granteeCapabilities"];

/// One open element while reading.
struct Open {
    name: String,
    members: Map<String, Value>,
    text: String,
}

/// The JSON-shaped tree of a Tableau REST answer in XML. Errors say where
/// the document broke (the byte position).
pub fn to_value(body: &[u8]) -> Result<Value, String> {
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<(String, Value)> = None;
    let at = |reader: &quick_xml::Reader<&[u8]>| reader.buffer_position();
    loop {
        let event = reader.read_event().map_err(|e| format!("not XML at byte {}: {e}", at(&reader)))?;
        match event {
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(format!("a second root element at byte {}", at(&reader)));
            }
            Event::Start(e) => {
                stack.push(open(&e, &reader)?);
            }
            Event::Empty(e) => {
                let el = open(&e, &reader)?;
                close(el, &mut stack, &mut root);
            }
            Event::End(_) => {
                let el = stack.pop().ok_or_else(|| format!("an end tag without a start at byte {}", at(&reader)))?;
                close(el, &mut stack, &mut root);
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    let s = t.xml_content().map_err(|e| format!("bad text at byte {}: {e}", at(&reader)))?;
                    top.text.push_str(&s);
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::GeneralRef(r) => {
                if let Some(top) = stack.last_mut() {
                    let ch = r.resolve_char_ref().map_err(|e| format!("bad character reference at byte {}: {e}", at(&reader)))?;
                    match ch {
                        Some(c) => top.text.push(c),
                        None => {
                            let name = r.decode().map_err(|e| format!("bad reference at byte {}: {e}", at(&reader)))?;
                            let resolved = quick_xml::escape::resolve_predefined_entity(&name)
                                .ok_or_else(|| format!("unknown entity &{name}; at byte {}", at(&reader)))?;
                            top.text.push_str(resolved);
                        }
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(format!("the document ends inside <{}>", stack.last().map(|o| o.name.as_str()).unwrap_or("?")));
    }
    match root {
        None => Err("the document has no element".into()),
        // `tsResponse` wraps every answer; its members are the answer.
        Some((name, value)) if name == "tsResponse" => Ok(match value {
            Value::String(_) => Value::Object(Map::new()),
            v => v,
        }),
        Some((name, value)) => {
            let mut m = Map::new();
            m.insert(name, value);
            Ok(Value::Object(m))
        }
    }
}

fn open(e: &quick_xml::events::BytesStart<'_>, reader: &quick_xml::Reader<&[u8]>) -> Result<Open, String> {
    let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
    let mut members = Map::new();
    for a in e.attributes() {
        let a = a.map_err(|err| format!("bad attribute in <{name}> at byte {}: {err}", reader.buffer_position()))?;
        let key = a.key.as_ref();
        if key == b"xmlns" || key.starts_with(b"xmlns:") {
            continue;
        }
        let value = a
            .decode_and_unescape_value(reader.decoder())
            .map_err(|err| format!("bad attribute value in <{name}> at byte {}: {err}", reader.buffer_position()))?;
        members.insert(String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned(), Value::String(value.into_owned()));
    }
    Ok(Open { name, members, text: String::new() })
}

/// Finishes an element and files it under its parent (or as the root).
fn close(el: Open, stack: &mut [Open], root: &mut Option<(String, Value)>) {
    let text = el.text.trim();
    let value = if text.is_empty() {
        Value::Object(el.members)
    } else if el.members.is_empty() {
        Value::String(text.to_string())
    } else {
        let mut members = el.members;
        members.insert("value".into(), Value::String(text.to_string()));
        Value::Object(members)
    };
    let Some(parent) = stack.last_mut() else {
        *root = Some((el.name, value));
        return;
    };
    let listed = is_plural_of(&parent.name, &el.name) || ALWAYS_LISTS.contains(&el.name.as_str());
    match parent.members.get_mut(&el.name) {
        Some(Value::Array(items)) => items.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
        None => {
            let v = if listed { Value::Array(vec![value]) } else { value };
            parent.members.insert(el.name, v);
        }
    }
}

/// `tags` of `tag`, `capabilities` of `capability`.
fn is_plural_of(plural: &str, one: &str) -> bool {
    match plural.strip_suffix("ies") {
        Some(stem) => one.strip_suffix('y') == Some(stem),
        None => plural.strip_suffix('s') == Some(one),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn collections_are_arrays_even_alone() {
        let xml = br#"<?xml version='1.0' encoding='UTF-8'?>
<tsResponse xmlns="http://tableau.com/api" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <pagination pageNumber="1" pageSize="100" totalAvailable="1"/>
  <workbooks><workbook id="a" name="S &amp; P"><project id="p"/><tags><tag label="x"/></tags></workbook></workbooks>
</tsResponse>"#;
        assert_eq!(
            to_value(xml).unwrap(),
            json!({
                "pagination": {"pageNumber": "1", "pageSize": "100", "totalAvailable": "1"},
                "workbooks": {"workbook": [{"id": "a", "name": "S & P", "project": {"id": "p"}, "tags": {"tag": [{"label": "x"}]}}]}
            })
        );
    }

    #[test]
    fn repeats_and_known_lists_are_arrays_and_text_is_a_string() {
        let xml = br#"<tsResponse><permissions><workbook id="w"/>
<granteeCapabilities><user id="u"/><capabilities><capability name="Read" mode="Allow"/></capabilities></granteeCapabilities>
</permissions><error code="404003"><summary>Not &#38; found</summary><detail>Workbook &#x27;x&#x27; &lt;gone&gt;</detail></error></tsResponse>"#;
        let v = to_value(xml).unwrap();
        assert!(v["permissions"]["granteeCapabilities"].is_array());
        assert_eq!(v["permissions"]["granteeCapabilities"][0]["capabilities"]["capability"][0]["name"], "Read");
        assert_eq!(v["error"]["summary"], "Not & found");
        assert_eq!(v["error"]["detail"], "Workbook 'x' <gone>");
        let info = to_value(b"<tsResponse><serverInfo><productVersion build='20242'>2024.2</productVersion><restApiVersion>3.23</restApiVersion></serverInfo></tsResponse>").unwrap();
        assert_eq!(info["serverInfo"], json!({"productVersion": {"build": "20242", "value": "2024.2"}, "restApiVersion": "3.23"}));
        let two = to_value(b"<tsResponse><job><note a='1'/><note a='2'/></job></tsResponse>").unwrap();
        assert_eq!(two["job"]["note"], json!([{"a": "1"}, {"a": "2"}]));
    }

    #[test]
    fn broken_documents_say_where() {
        assert!(to_value(b"<tsResponse><workbooks>").unwrap_err().contains("ends inside <workbooks>"));
        assert!(to_value(b"").unwrap_err().contains("no element"));
        assert!(to_value(b"<a></b>").is_err());
        assert_eq!(to_value(b"<tsResponse/>").unwrap(), json!({}));
    }
}
