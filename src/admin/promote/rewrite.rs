//! Rewriting a Tableau document's connections for another environment.
//!
//! A document (`.twb` / `.tds` XML, or a `.twbx` / `.tdsx` zip holding one)
//! is read with quick-xml, which tells where each attribute value lies in
//! the input; only the values of attributes that change are replaced, so
//! everything else (the XML declaration, whitespace, quoting, entity
//! escapes, other zip entries' compressed bytes) stays byte for byte.
//!
//! Two kinds of change:
//! - [`AttrRule`]s from the mapping file: on `connection` elements of a
//!   class, an attribute (`server`, `port`, `dbname`, `username`) whose
//!   value is `from` becomes `to`;
//! - [`ProxyRebind`]: references to published datasources (`sqlproxy`
//!   connections, and the `repository-location` beside them) are pointed at
//!   the target site's copies.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{Cursor, Read as _, Write as _};

use quick_xml::events::Event;
use quick_xml::Reader;

/// On `connection` elements of class `class`, `attr` equal to `from`
/// becomes `to`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttrRule {
    pub class: String,
    pub attr: String,
    pub from: String,
    pub to: String,
}

/// Where published datasources live on the target, and which source
/// content URL becomes which target content URL.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyRebind {
    /// The target server's host name (`sqlproxy` `server`).
    pub host: String,
    pub port: String,
    /// `http` or `https`.
    pub channel: String,
    /// The target site's content URL (`""` for the default site).
    pub site: String,
    /// Source datasource content URL → target content URL.
    pub ids: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rules {
    pub attrs: Vec<AttrRule>,
    pub proxy: Option<ProxyRebind>,
}

/// One attribute value that changed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    /// The zip entry, for packaged documents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// 1-based line of the element in the (entry's) document.
    pub line: usize,
    pub element: String,
    pub class: String,
    pub attr: String,
    pub from: String,
    pub to: String,
}

/// A connection as the document has it (for plans and checks).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Connection {
    pub class: String,
    pub server: String,
    pub port: String,
    pub dbname: String,
    pub username: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RewriteError {
    #[error("{what}: not well-formed XML at byte {position}: {message}")]
    Xml {
        what: String,
        position: u64,
        message: String,
    },
    #[error("{what}: {message}")]
    Zip { what: String, message: String },
    #[error("{what}: the package holds no .twb or .tds document")]
    NoDocument { what: String },
}

/// Whether `bytes` is a zip package (`.twbx`, `.tdsx`).
pub fn is_package(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04")
}

/// The XML documents of a package are its top-level `.twb` / `.tds` entries.
fn is_document_entry(name: &str) -> bool {
    !name.contains('/') && (name.ends_with(".twb") || name.ends_with(".tds"))
}

/// Rewrites a document, plain or packaged. `what` names it in errors.
pub fn rewrite_document(
    what: &str,
    bytes: &[u8],
    rules: &Rules,
) -> Result<(Vec<u8>, Vec<Change>), RewriteError> {
    if !is_package(bytes) {
        return rewrite_xml(what, bytes, rules);
    }
    let zerr = |e: zip::result::ZipError| RewriteError::Zip {
        what: what.to_string(),
        message: e.to_string(),
    };
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(zerr)?;
    // Rewrite first: a package whose documents need no change is returned
    // as it came, not rebuilt.
    let mut rewritten: BTreeMap<usize, Vec<u8>> = BTreeMap::new();
    let mut changes = Vec::new();
    let mut found = false;
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).map_err(zerr)?;
        let name = f.name().map_err(zerr)?.to_string();
        if !is_document_entry(&name) {
            continue;
        }
        found = true;
        let mut xml = Vec::new();
        f.read_to_end(&mut xml).map_err(|e| RewriteError::Zip {
            what: format!("{what}: {name}"),
            message: e.to_string(),
        })?;
        let (out, mut c) = rewrite_xml(&format!("{what}: {name}"), &xml, rules)?;
        if !c.is_empty() {
            for ch in &mut c {
                ch.entry = Some(name.clone());
            }
            changes.extend(c);
            rewritten.insert(i, out);
        }
    }
    if !found {
        return Err(RewriteError::NoDocument {
            what: what.to_string(),
        });
    }
    if rewritten.is_empty() {
        return Ok((bytes.to_vec(), changes));
    }
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::with_capacity(bytes.len())));
    for i in 0..archive.len() {
        match rewritten.get(&i) {
            None => {
                let f = archive.by_index_raw(i).map_err(zerr)?;
                writer.raw_copy_file(f).map_err(zerr)?;
            }
            Some(xml) => {
                let f = archive.by_index_raw(i).map_err(zerr)?;
                let name = f.name().map_err(zerr)?.to_string();
                let mut options =
                    zip::write::SimpleFileOptions::default().compression_method(f.compression());
                if let Some(t) = f.last_modified() {
                    options = options.last_modified_time(t);
                }
                if let Some(mode) = f.unix_mode() {
                    options = options.unix_permissions(mode);
                }
                drop(f);
                writer.start_file(name, options).map_err(zerr)?;
                writer.write_all(xml).map_err(|e| RewriteError::Zip {
                    what: what.to_string(),
                    message: e.to_string(),
                })?;
            }
        }
    }
    let out = writer.finish().map_err(zerr)?.into_inner();
    Ok((out, changes))
}

/// The XML of a document: itself, or its package's first document entry.
pub fn document_xml(what: &str, bytes: &[u8]) -> Result<Vec<u8>, RewriteError> {
    if !is_package(bytes) {
        return Ok(bytes.to_vec());
    }
    let zerr = |e: zip::result::ZipError| RewriteError::Zip {
        what: what.to_string(),
        message: e.to_string(),
    };
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(zerr)?;
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).map_err(zerr)?;
        let name = f.name().map_err(zerr)?.to_string();
        if is_document_entry(&name) {
            let mut xml = Vec::new();
            f.read_to_end(&mut xml).map_err(|e| RewriteError::Zip {
                what: what.to_string(),
                message: e.to_string(),
            })?;
            return Ok(xml);
        }
    }
    Err(RewriteError::NoDocument {
        what: what.to_string(),
    })
}

/// A hash of what a document says, for comparing a rewritten source
/// document with the target's copy: the XML with `repository-location`
/// elements left out (the server writes its own on publish), and a
/// package's other entries by name and uncompressed content (zip
/// timestamps and compression do not count).
pub fn content_hash(what: &str, bytes: &[u8]) -> Result<String, RewriteError> {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut feed = |name: &str, data: &[u8]| {
        ctx.update(&(name.len() as u64).to_le_bytes());
        ctx.update(name.as_bytes());
        ctx.update(&(data.len() as u64).to_le_bytes());
        ctx.update(data);
    };
    if is_package(bytes) {
        let zerr = |e: zip::result::ZipError| RewriteError::Zip {
            what: what.to_string(),
            message: e.to_string(),
        };
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(zerr)?;
        let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
        for i in 0..archive.len() {
            let mut f = archive.by_index(i).map_err(zerr)?;
            if f.is_dir() {
                continue;
            }
            let name = f.name().map_err(zerr)?.to_string();
            let mut data = Vec::new();
            f.read_to_end(&mut data).map_err(|e| RewriteError::Zip {
                what: what.to_string(),
                message: e.to_string(),
            })?;
            if is_document_entry(&name) {
                // The document entry's name follows the item's name, which
                // the target may spell differently.
                entries.push((".document".to_string(), normalise(what, &data)?));
            } else {
                entries.push((name, data));
            }
        }
        entries.sort();
        for (name, data) in &entries {
            feed(name, data);
        }
    } else {
        feed(".document", &normalise(what, bytes)?);
    }
    let digest = ctx.finish();
    Ok(digest.as_ref().iter().map(|b| format!("{b:02x}")).collect())
}

/// The XML without its `repository-location` elements.
fn normalise(what: &str, xml: &[u8]) -> Result<Vec<u8>, RewriteError> {
    let mut reader = Reader::from_reader(xml);
    reader.config_mut().check_end_names = false;
    let mut cuts: Vec<(usize, usize)> = Vec::new();
    let mut open: Option<(usize, usize)> = None; // (start, depth)
    let mut depth = 0usize;
    loop {
        let before = reader.buffer_position() as usize;
        let ev = reader
            .read_event()
            .map_err(|e| xml_error(what, &reader, e))?;
        let after = reader.buffer_position() as usize;
        match ev {
            Event::Eof => break,
            Event::Start(e) => {
                if open.is_none() && e.name().as_ref() == b"repository-location" {
                    open = Some((before, depth));
                }
                depth += 1;
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if let Some((start, d)) = open {
                    if d == depth {
                        cuts.push((start, after));
                        open = None;
                    }
                }
            }
            Event::Empty(e) => {
                if open.is_none() && e.name().as_ref() == b"repository-location" {
                    cuts.push((before, after));
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::with_capacity(xml.len());
    let mut at = 0;
    for (s, e) in cuts {
        out.extend_from_slice(&xml[at..s]);
        at = e;
    }
    out.extend_from_slice(&xml[at..]);
    Ok(out)
}

fn xml_error(what: &str, reader: &Reader<&[u8]>, e: quick_xml::Error) -> RewriteError {
    RewriteError::Xml {
        what: what.to_string(),
        position: reader.error_position(),
        message: e.to_string(),
    }
}

/// An attribute of an element, with where its (still escaped) value lies.
struct Attr {
    key: String,
    value: String,
    start: usize,
    end: usize,
    quote: u8,
}

fn attributes(
    what: &str,
    base: &[u8],
    e: &quick_xml::events::BytesStart<'_>,
) -> Result<Vec<Attr>, RewriteError> {
    let mut out = Vec::new();
    for a in e.attributes().with_checks(false) {
        let a = a.map_err(|err| RewriteError::Xml {
            what: what.to_string(),
            position: 0,
            message: err.to_string(),
        })?;
        let Cow::Borrowed(raw) = a.value else {
            // A borrowed reader always lends values; anything else would
            // lose the positions, so it is refused rather than guessed.
            return Err(RewriteError::Xml {
                what: what.to_string(),
                position: 0,
                message: "an attribute value was not read in place".into(),
            });
        };
        let start = raw.as_ptr() as usize - base.as_ptr() as usize;
        let end = start + raw.len();
        let quote = base.get(start.wrapping_sub(1)).copied().unwrap_or(b'\'');
        let text = String::from_utf8_lossy(raw);
        let value = quick_xml::escape::unescape(&text)
            .map(|v| v.into_owned())
            .unwrap_or_else(|_| text.to_string());
        out.push(Attr {
            key: String::from_utf8_lossy(a.key.as_ref()).into_owned(),
            value,
            start,
            end,
            quote,
        });
    }
    Ok(out)
}

/// The value escaped for an attribute quoted with `quote`.
fn escape_attr(value: &str, quote: u8) -> String {
    let mut s = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' if quote == b'"' => s.push_str("&quot;"),
            '\'' if quote == b'\'' => s.push_str("&apos;"),
            c => s.push(c),
        }
    }
    s
}

fn line_at(bytes: &[u8], pos: usize) -> usize {
    bytes[..pos.min(bytes.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Rewrites one XML document.
pub fn rewrite_xml(
    what: &str,
    xml: &[u8],
    rules: &Rules,
) -> Result<(Vec<u8>, Vec<Change>), RewriteError> {
    let mut reader = Reader::from_reader(xml);
    reader.config_mut().check_end_names = false;
    // (start, end, new escaped value)
    let mut splices: Vec<(usize, usize, String)> = Vec::new();
    let mut changes = Vec::new();
    loop {
        let before = reader.buffer_position() as usize;
        let ev = reader
            .read_event()
            .map_err(|e| xml_error(what, &reader, e))?;
        let e = match ev {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => e,
            _ => continue,
        };
        let element = e.name();
        let element = element.as_ref();
        if element != b"connection" && element != b"repository-location" {
            continue;
        }
        let attrs = attributes(what, xml, &e)?;
        let get = |k: &str| attrs.iter().find(|a| a.key == k);
        let mut set = |a: &Attr, to: &str, class: &str, element: &str| {
            if a.value == to {
                return;
            }
            splices.push((a.start, a.end, escape_attr(to, a.quote)));
            changes.push(Change {
                entry: None,
                line: line_at(xml, before),
                element: element.to_string(),
                class: class.to_string(),
                attr: a.key.clone(),
                from: a.value.clone(),
                to: to.to_string(),
            });
        };
        if element == b"connection" {
            let class = get("class").map(|a| a.value.clone()).unwrap_or_default();
            if class == "sqlproxy" {
                if let Some(p) = &rules.proxy {
                    if let Some(target_id) = get("dbname").and_then(|d| p.ids.get(&d.value)) {
                        for (k, v) in [
                            ("server", &p.host),
                            ("port", &p.port),
                            ("channel", &p.channel),
                            ("dbname", target_id),
                        ] {
                            if let Some(a) = get(k) {
                                set(a, v, &class, "connection");
                            }
                        }
                    }
                }
                continue;
            }
            for a in &attrs {
                if let Some(r) = rules
                    .attrs
                    .iter()
                    .find(|r| r.class == class && r.attr == a.key && r.from == a.value)
                {
                    set(a, &r.to, &class, "connection");
                }
            }
        } else if let Some(p) = &rules.proxy {
            // A published datasource's location: `id` is its content URL,
            // `path` says it is a datasource (a workbook's own location
            // says `/workbooks` and is the server's to write).
            let is_datasource = get("path").is_some_and(|a| a.value.ends_with("/datasources"));
            let Some(id) = get("id") else { continue };
            let Some(target_id) = p.ids.get(&id.value).filter(|_| is_datasource) else {
                continue;
            };
            let path = if p.site.is_empty() {
                "/datasources".to_string()
            } else {
                format!("/t/{}/datasources", p.site)
            };
            set(id, target_id, "sqlproxy", "repository-location");
            if let Some(a) = get("path") {
                set(a, &path, "sqlproxy", "repository-location");
            }
            if let Some(a) = get("site") {
                set(a, &p.site, "sqlproxy", "repository-location");
            }
            if let Some(a) = get("derived-from") {
                let rev = a
                    .value
                    .split_once('?')
                    .map(|(_, q)| format!("?{q}"))
                    .unwrap_or_default();
                let port = match (p.channel.as_str(), p.port.as_str()) {
                    ("https", "443") | ("http", "80") | (_, "") => String::new(),
                    (_, port) => format!(":{port}"),
                };
                let url = format!(
                    "{}://{}{}{}/{}{}",
                    p.channel, p.host, port, path, target_id, rev
                );
                set(a, &url, "sqlproxy", "repository-location");
            }
        }
    }
    if splices.is_empty() {
        return Ok((xml.to_vec(), changes));
    }
    splices.sort_by_key(|s| s.0);
    let mut out = Vec::with_capacity(xml.len() + 64);
    let mut at = 0;
    for (s, e, v) in splices {
        out.extend_from_slice(&xml[at..s]);
        out.extend_from_slice(v.as_bytes());
        at = e;
    }
    out.extend_from_slice(&xml[at..]);
    Ok((out, changes))
}

/// Every `connection` element's class, server, port, dbname and username.
pub fn connections(what: &str, bytes: &[u8]) -> Result<Vec<Connection>, RewriteError> {
    let xml = document_xml(what, bytes)?;
    let mut reader = Reader::from_reader(xml.as_slice());
    reader.config_mut().check_end_names = false;
    let mut out = Vec::new();
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| xml_error(what, &reader, e))?;
        let e = match ev {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => e,
            _ => continue,
        };
        if e.name().as_ref() != b"connection" {
            continue;
        }
        let attrs = attributes(what, &xml, &e)?;
        let get = |k: &str| {
            attrs
                .iter()
                .find(|a| a.key == k)
                .map(|a| a.value.clone())
                .unwrap_or_default()
        };
        out.push(Connection {
            class: get("class"),
            server: get("server"),
            port: get("port"),
            dbname: get("dbname"),
            username: get("username"),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(class: &str, attr: &str, from: &str, to: &str) -> AttrRule {
        AttrRule {
            class: class.into(),
            attr: attr.into(),
            from: from.into(),
            to: to.into(),
        }
    }

    #[test]
    fn only_matching_values_change_and_quoting_is_kept() {
        let xml = "<?xml version='1.0' encoding='utf-8' ?>\n<datasource>\n  <connection class='postgres' server='dev.db' port='5432' dbname=\"a&amp;b\"  username='u'/>\n  <connection class='mysql' server='dev.db'/>\n</datasource>\n";
        let rules = Rules {
            attrs: vec![
                rule("postgres", "server", "dev.db", "prod's.db"),
                rule("postgres", "dbname", "a&b", "c\"d"),
                rule("postgres", "port", "1", "2"),
            ],
            proxy: None,
        };
        let (out, changes) = rewrite_xml("t", xml.as_bytes(), &rules).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(
            out,
            xml.replace("server='dev.db' port", "server='prod&apos;s.db' port")
                .replace("\"a&amp;b\"", "\"c&quot;d\"")
        );
        assert_eq!(changes.len(), 2);
        assert_eq!(
            (
                changes[0].line,
                changes[0].attr.as_str(),
                changes[0].from.as_str()
            ),
            (3, "server", "dev.db")
        );
    }

    #[test]
    fn proxies_are_rebound_with_their_location() {
        let xml = "<workbook><datasource name='sqlproxy.1'><repository-location derived-from='http://dev:80/t/d/datasources/HR?rev=1.0' id='HR' path='/t/d/datasources' revision='1.0' site='d' /><connection channel='http' class='sqlproxy' dbname='HR' directory='/dataserver' port='80' server='dev' username=''/></datasource><repository-location id='WB' path='/t/d/workbooks'/></workbook>";
        let mut ids = BTreeMap::new();
        ids.insert("HR".to_string(), "HR_0".to_string());
        let rules = Rules {
            attrs: vec![],
            proxy: Some(ProxyRebind {
                host: "prod".into(),
                port: "443".into(),
                channel: "https".into(),
                site: "".into(),
                ids,
            }),
        };
        let (out, _) = rewrite_xml("t", xml.as_bytes(), &rules).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("derived-from='https://prod/datasources/HR_0?rev=1.0' id='HR_0' path='/datasources' revision='1.0' site=''"), "{out}");
        assert!(
            out.contains(
                "channel='https' class='sqlproxy' dbname='HR_0' directory='/dataserver' port='443' server='prod'"
            ),
            "{out}"
        );
        assert!(
            out.contains("<repository-location id='WB' path='/t/d/workbooks'/>"),
            "{out}"
        );
    }

    #[test]
    fn hashes_ignore_repository_locations() {
        let a = content_hash("a", b"<w><repository-location id='x'/><c/></w>").unwrap();
        let b = content_hash("b", b"<w><c/></w>").unwrap();
        let c = content_hash("c", b"<w><c a='1'/></w>").unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn bad_xml_is_an_error_naming_the_document() {
        let e = rewrite_xml(
            "Sales.twb",
            b"<a><connection class='x' server='y></a>",
            &Rules::default(),
        )
        .unwrap_err();
        assert!(
            e.to_string().starts_with("Sales.twb: not well-formed XML"),
            "{e}"
        );
    }
}
