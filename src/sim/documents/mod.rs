//! The Tableau document behind every workbook and published datasource.
//!
//! - [`write`] writes a generated item's document from the lineage, on
//!   download only (reads of the site never pay for it).
//! - [`parse`] is the site's own reader of published documents.
//! - [`ingest`] turns a parsed document into content and lineage.
//! - [`zip`] packs and unpacks `.twbx`/`.tdsx`.
//!
//! A published item downloads as the bytes that were published; connection
//! edits made through the REST API since are applied to its `<connection>`
//! elements on the way out.

pub mod env;
pub mod ingest;
pub mod parse;
pub mod write;
pub mod zip;

use quick_xml::events::{BytesStart, Event};

use crate::sim::dataset::docs::ConnRecord;
use crate::sim::dataset::{Dataset, Target};
pub use write::SiteRef;

/// The file an item downloads as: (file name, bytes).
pub fn download(
    d: &Dataset,
    target: Target,
    site: &SiteRef,
    include_extract: bool,
) -> Result<(String, Vec<u8>), String> {
    let Some(stored) = d.docs.stored.get(&target) else {
        return Ok(write::generated(d, target, site, include_extract));
    };
    let current = d.docs.conns.get(&target).cloned().unwrap_or_default();
    let edits: Vec<(&ConnRecord, &ConnRecord)> = stored
        .original
        .iter()
        .filter_map(|o| {
            current
                .iter()
                .find(|c| c.id == o.id)
                .filter(|c| *c != o)
                .map(|c| (o, c))
        })
        .collect();
    if edits.is_empty() && include_extract {
        return Ok((stored.filename.clone(), stored.bytes.clone()));
    }
    if zip::is_zip(&stored.bytes) {
        let mut entries = zip::read(&stored.bytes)?;
        if !include_extract {
            entries.retain(|(n, _)| !(n.ends_with(".hyper") || n.ends_with(".tde")));
        }
        for (name, bytes) in entries.iter_mut() {
            if name.ends_with(".twb") || name.ends_with(".tds") {
                let text = String::from_utf8(std::mem::take(bytes))
                    .map_err(|_| format!("'{name}' is not UTF-8"))?;
                *bytes = rewrite_connections(&text, &edits)?.into_bytes();
            }
        }
        Ok((stored.filename.clone(), zip::write(&entries)))
    } else {
        let text = std::str::from_utf8(&stored.bytes)
            .map_err(|_| "the stored document is not UTF-8".to_string())?;
        Ok((
            stored.filename.clone(),
            rewrite_connections(text, &edits)?.into_bytes(),
        ))
    }
}

/// Applies connection edits to every `<connection>` that matches the
/// edited connection's original class, server, port and user; everything
/// else passes through as it was.
pub fn rewrite_connections(
    text: &str,
    edits: &[(&ConnRecord, &ConnRecord)],
) -> Result<String, String> {
    if edits.is_empty() {
        return Ok(text.to_string());
    }
    let mut reader = quick_xml::Reader::from_str(text);
    let mut writer = quick_xml::Writer::new(Vec::new());
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("the stored document does not parse: {e}"))?;
        let rewritten = match &event {
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"connection" => {
                rewrite_one(e, edits)
            }
            _ => None,
        };
        let out = match (rewritten, &event) {
            (Some(el), Event::Start(_)) => Event::Start(el),
            (Some(el), Event::Empty(_)) => Event::Empty(el),
            (_, Event::Eof) => break,
            _ => event,
        };
        writer
            .write_event(out)
            .map_err(|e| format!("cannot write the document: {e}"))?;
    }
    String::from_utf8(writer.into_inner()).map_err(|e| e.to_string())
}

fn rewrite_one(
    e: &BytesStart<'_>,
    edits: &[(&ConnRecord, &ConnRecord)],
) -> Option<BytesStart<'static>> {
    let attrs: Vec<(String, String)> = e
        .attributes()
        .filter_map(|a| a.ok())
        .map(|a| {
            let v = a
                .unescape_value()
                .map(|v| v.into_owned())
                .unwrap_or_default();
            (String::from_utf8_lossy(a.key.as_ref()).into_owned(), v)
        })
        .collect();
    let get = |k: &str| {
        attrs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    let (orig, new) = edits.iter().find(|(o, _)| {
        o.class == get("class")
            && o.server == get("server")
            && o.port == get("port")
            && o.username == get("username")
    })?;
    let mut el = BytesStart::new("connection");
    for (k, v) in &attrs {
        let v = match k.as_str() {
            "server" => new.server.as_str(),
            "port" => new.port.as_str(),
            "username" => new.username.as_str(),
            "dbname" if orig.dbname != new.dbname => new.dbname.as_str(),
            _ => v.as_str(),
        };
        el.push_attribute((k.as_str(), v));
    }
    Some(el)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_touch_only_matching_connections() {
        let doc = "<datasource a='1'>\n  <connection class='postgres' dbname='d' port='5432' server='old' username='u' />\n  <connection class='mysql' server='old' port='3306' username='u'/>\n</datasource>";
        let orig = ConnRecord {
            id: "c".into(),
            class: "postgres".into(),
            server: "old".into(),
            port: "5432".into(),
            dbname: "d".into(),
            username: "u".into(),
            embed_password: false,
            published: None,
            datasource_name: String::new(),
        };
        let new = ConnRecord {
            server: "new".into(),
            username: "v".into(),
            ..orig.clone()
        };
        let out = rewrite_connections(doc, &[(&orig, &new)]).unwrap();
        assert!(
            out.contains("server=\"new\"") && out.contains("username=\"v\""),
            "{out}"
        );
        assert!(
            out.contains("<connection class='mysql' server='old' port='3306' username='u'/>"),
            "{out}"
        );
        assert!(out.starts_with("<datasource a='1'>\n"));
    }
}
