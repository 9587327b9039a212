//! The site's own reader of Tableau documents (`.twb`, `.tds` and their
//! packaged forms): what a published document holds that the site builds
//! content and lineage from. It shares no code with TRM's readers.
//!
//! It reads documents from Tableau 8.2 to today: a datasource's connection
//! is either a single connection (older documents, `sqlproxy`) or
//! `federated` with named connections; object-model documents wrap element
//! names (`_.fcp.ObjectModelEncapsulateLegacy.true...relation`), read as the
//! element after the last `...`. Columns come from `<column>` elements and
//! from metadata records (Tableau writes no `<column>` for plain columns).

use quick_xml::events::Event;

use crate::sim::dataset::lineage::{formula_references, FieldKind};

/// One element of a document.
#[derive(Debug, Default, Clone)]
pub struct E {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<E>,
    pub text: String,
}

impl E {
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn get(&self, key: &str) -> String {
        self.attr(key).unwrap_or_default().to_string()
    }

    pub fn kids<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a E> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    pub fn kid(&self, name: &str) -> Option<&E> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Every element below this one named `name`, not descending into
    /// elements named in `skip`.
    fn find_all<'a>(&'a self, name: &str, skip: &[&str], out: &mut Vec<&'a E>) {
        for c in &self.children {
            if skip.contains(&c.name.as_str()) {
                continue;
            }
            if c.name == name {
                out.push(c);
            }
            c.find_all(name, skip, out);
        }
    }
}

/// The element name without an object-model wrapper.
fn plain_name(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw);
    match s.rfind("...") {
        Some(i) => s[i + 3..].to_string(),
        None => s.into_owned(),
    }
}

/// Parses XML into a tree; errors name the byte position.
pub fn xml_tree(text: &str) -> Result<E, String> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<E> = Vec::new();
    let mut root: Option<E> = None;
    loop {
        let pos = reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| format!("XML error near byte {pos}: {e}"))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let mut el = E {
                    name: plain_name(e.name().as_ref()),
                    ..E::default()
                };
                for a in e.attributes() {
                    let a = a.map_err(|e| format!("bad attribute near byte {pos}: {e}"))?;
                    let v = a
                        .decode_and_unescape_value(reader.decoder())
                        .map_err(|e| format!("bad attribute value near byte {pos}: {e}"))?;
                    el.attrs.push((
                        String::from_utf8_lossy(a.key.as_ref()).into_owned(),
                        v.into_owned(),
                    ));
                }
                if matches!(event, Event::Empty(_)) {
                    match stack.last_mut() {
                        Some(p) => p.children.push(el),
                        None if root.is_none() => root = Some(el),
                        None => {
                            return Err(format!(
                                "a second root element <{}> near byte {pos}",
                                el.name
                            ))
                        }
                    }
                } else {
                    if stack.is_empty() && root.is_some() {
                        return Err(format!(
                            "a second root element <{}> near byte {pos}",
                            el.name
                        ));
                    }
                    stack.push(el);
                }
            }
            Event::End(_) => {
                let el = stack
                    .pop()
                    .ok_or_else(|| format!("an end tag without a start near byte {pos}"))?;
                match stack.last_mut() {
                    Some(p) => p.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    let s = t
                        .decode()
                        .map_err(|e| format!("bad text near byte {pos}: {e}"))?;
                    let s = quick_xml::escape::unescape(&s)
                        .map_err(|e| format!("bad text near byte {pos}: {e}"))?;
                    top.text.push_str(&s);
                }
            }
            Event::GeneralRef(r) => {
                if let Some(top) = stack.last_mut() {
                    let name = String::from_utf8_lossy(&r).into_owned();
                    let raw = format!("&{name};");
                    let s = quick_xml::escape::unescape(&raw)
                        .map_err(|e| format!("bad entity near byte {pos}: {e}"))?;
                    top.text.push_str(&s);
                }
            }
            Event::CData(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!("the document ends inside <{}>", open.name));
    }
    root.ok_or_else(|| "the document has no root element".to_string())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocKind {
    Workbook,
    Datasource,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conn {
    pub class: String,
    pub server: String,
    pub port: String,
    pub dbname: String,
    pub username: String,
    /// The named connection it is in (federated datasources).
    pub named: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Relation {
    pub conn: Option<String>,
    pub name: String,
    pub schema: String,
    pub table: String,
    pub query: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Record {
    pub remote_name: String,
    pub remote_type: String,
    pub local_name: String,
    pub parent: String,
}

#[derive(Debug, Clone)]
pub struct Field {
    /// The name people see: the caption, else the internal name unbracketed.
    pub name: String,
    /// The internal name, bracketed (`[Calculation_123]`).
    pub internal: String,
    pub datatype: String,
    pub role: String,
    pub kind: FieldKind,
    pub formula: Option<String>,
    pub hidden: bool,
    /// Names (internal or caption) of the fields it is built from.
    pub refs: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Source {
    pub internal: String,
    pub caption: String,
    pub conns: Vec<Conn>,
    pub relations: Vec<Relation>,
    pub records: Vec<Record>,
    pub fields: Vec<Field>,
    pub extract: bool,
    /// The published datasource a `sqlproxy` source reads (its content URL).
    pub published: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Worksheet {
    pub name: String,
    /// (datasource internal name, internal names of the columns it uses).
    pub deps: Vec<(String, Vec<String>)>,
}

#[derive(Debug, Clone)]
pub struct Dashboard {
    pub name: String,
    pub sheets: Vec<String>,
    pub story: bool,
}

#[derive(Debug, Clone)]
pub struct Doc {
    pub kind: DocKind,
    pub sources: Vec<Source>,
    pub worksheets: Vec<Worksheet>,
    pub dashboards: Vec<Dashboard>,
    /// A packaged document with an extract file, or a source with an
    /// enabled extract.
    pub has_extract: bool,
}

fn unbracket(s: &str) -> String {
    let inner = s
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(s);
    inner.replace("]]", "]")
}

/// `[schema].[table]` → (schema, table); `[table]` → ("", table).
fn split_table(t: &str) -> (String, String) {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut inside = false;
    let chars: Vec<char> = t.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '[' if !inside => inside = true,
            ']' if inside && chars.get(i + 1) == Some(&']') => {
                cur.push(']');
                i += 1;
            }
            ']' if inside => {
                inside = false;
                parts.push(std::mem::take(&mut cur));
            }
            '.' if !inside => {}
            c => cur.push(c),
        }
        i += 1;
    }
    if !cur.is_empty() {
        parts.push(cur);
    }
    match parts.len() {
        0 => (String::new(), String::new()),
        1 => (String::new(), parts.remove(0)),
        n => (parts[n - 2].clone(), parts[n - 1].clone()),
    }
}

fn conn_of(e: &E, named: Option<String>) -> Conn {
    Conn {
        class: e.get("class"),
        server: e.get("server"),
        port: e.get("port"),
        dbname: e.get("dbname"),
        username: e.get("username"),
        named,
    }
}

fn relations(e: &E, out: &mut Vec<Relation>) {
    for r in e.kids("relation") {
        match r.attr("type") {
            Some("table") => {
                let (schema, table) = split_table(r.attr("table").unwrap_or_default());
                out.push(Relation {
                    conn: r.attr("connection").map(str::to_string),
                    name: r.get("name"),
                    schema,
                    table,
                    query: None,
                });
            }
            Some("text") => out.push(Relation {
                conn: r.attr("connection").map(str::to_string),
                name: r.get("name"),
                schema: String::new(),
                table: r.get("name"),
                query: Some(r.text.trim().to_string()),
            }),
            _ => relations(r, out),
        }
    }
}

fn source(ds: &E) -> Source {
    let mut src = Source {
        internal: ds.get("name"),
        caption: ds
            .attr("caption")
            .or(ds.attr("formatted-name"))
            .unwrap_or_default()
            .to_string(),
        conns: Vec::new(),
        relations: Vec::new(),
        records: Vec::new(),
        fields: Vec::new(),
        extract: ds
            .kids("extract")
            .any(|x| x.attr("enabled") != Some("false")),
        published: None,
    };
    if src.caption.is_empty() {
        src.caption = src.internal.clone();
    }
    if let Some(c) = ds.kid("connection") {
        if c.attr("class") == Some("federated") {
            for nc in c
                .kids("named-connections")
                .flat_map(|n| n.kids("named-connection"))
            {
                if let Some(leaf) = nc.kid("connection") {
                    src.conns.push(conn_of(leaf, Some(nc.get("name"))));
                }
            }
        } else {
            src.conns.push(conn_of(c, None));
            if c.attr("class") == Some("sqlproxy") {
                let repo = ds
                    .kid("repository-location")
                    .and_then(|r| r.attr("id"))
                    .map(str::to_string);
                src.published = repo.or_else(|| c.attr("dbname").map(str::to_string));
            }
        }
        let mut rels = Vec::new();
        relations(c, &mut rels);
        let mut seen = std::collections::HashSet::new();
        // Object-model documents carry each relation twice (old and new form).
        src.relations = rels
            .into_iter()
            .filter(|r| seen.insert((r.conn.clone(), r.name.clone(), r.table.clone())))
            .collect();
        let mut recs = Vec::new();
        c.find_all("metadata-record", &["extract"], &mut recs);
        let mut seen = std::collections::HashSet::new();
        for r in recs
            .into_iter()
            .filter(|r| r.attr("class") == Some("column"))
        {
            let text = |n: &str| {
                r.kid(n)
                    .map(|x| x.text.trim().to_string())
                    .unwrap_or_default()
            };
            let rec = Record {
                remote_name: text("remote-name"),
                remote_type: text("remote-type"),
                local_name: text("local-name"),
                parent: text("parent-name"),
            };
            if !rec.local_name.is_empty() && seen.insert(rec.local_name.clone()) {
                src.records.push(rec);
            }
        }
    }

    let mut fields: Vec<Field> = Vec::new();
    for col in ds.kids("column") {
        let internal = col.get("name");
        if internal.is_empty() {
            continue;
        }
        let calc = col.kid("calculation");
        let (kind, formula, refs) = match calc.map(|c| (c.attr("class").unwrap_or("tableau"), c)) {
            Some(("categorical-bin", c)) => (FieldKind::Group, None, vec![c.get("column")]),
            Some(("bin", c)) => (
                FieldKind::Bin,
                None,
                formula_references(c.attr("formula").unwrap_or_default())
                    .into_iter()
                    .map(|r| format!("[{}]", r.replace(']', "]]")))
                    .collect(),
            ),
            Some((_, c)) => {
                let f = c.get("formula");
                let refs = formula_references(&f)
                    .into_iter()
                    .map(|r| format!("[{}]", r.replace(']', "]]")))
                    .collect();
                (FieldKind::Calculated, Some(f), refs)
            }
            None => (FieldKind::Column, None, Vec::new()),
        };
        fields.push(Field {
            name: col
                .attr("caption")
                .map(str::to_string)
                .unwrap_or_else(|| unbracket(&internal)),
            internal,
            datatype: col.get("datatype"),
            role: col.get("role"),
            kind,
            formula,
            hidden: col.attr("hidden") == Some("true"),
            refs,
        });
    }
    for g in ds.kids("group") {
        let internal = g.get("name");
        let mut filters = Vec::new();
        g.find_all("groupfilter", &[], &mut filters);
        let refs = filters
            .iter()
            .filter_map(|f| f.attr("level").map(str::to_string))
            .take(1)
            .collect();
        fields.push(Field {
            name: g
                .attr("caption")
                .map(str::to_string)
                .unwrap_or_else(|| unbracket(&internal)),
            internal,
            datatype: "string".into(),
            role: "dimension".into(),
            kind: FieldKind::Set,
            formula: None,
            hidden: false,
            refs,
        });
    }
    for dp in ds.kids("drill-paths").flat_map(|d| d.kids("drill-path")) {
        let name = dp.get("name");
        fields.push(Field {
            internal: format!("[{}]", name.replace(']', "]]")),
            name,
            datatype: "string".into(),
            role: "dimension".into(),
            kind: FieldKind::Hierarchy,
            formula: None,
            hidden: false,
            refs: dp
                .kids("field")
                .map(|f| f.text.trim().to_string())
                .collect(),
        });
    }
    // Plain columns Tableau writes only as metadata records.
    for r in &src.records {
        if !fields.iter().any(|f| f.internal == r.local_name) {
            fields.push(Field {
                name: unbracket(&r.local_name),
                internal: r.local_name.clone(),
                datatype: String::new(),
                role: String::new(),
                kind: FieldKind::Column,
                formula: None,
                hidden: false,
                refs: Vec::new(),
            });
        }
    }
    src.fields = fields;
    src
}

/// Reads a document's XML.
pub fn parse_xml(text: &str) -> Result<Doc, String> {
    let root = xml_tree(text)?;
    let (kind, sources) = match root.name.as_str() {
        "workbook" => {
            let sources = root
                .kids("datasources")
                .flat_map(|d| d.kids("datasource"))
                .filter(|d| {
                    d.attr("hasconnection") != Some("false") && d.attr("name") != Some("Parameters")
                })
                .map(source)
                .collect();
            (DocKind::Workbook, sources)
        }
        "datasource" => (DocKind::Datasource, vec![source(&root)]),
        other => {
            return Err(format!(
                "the root element is <{other}>, not <workbook> or <datasource>"
            ))
        }
    };
    let worksheets = root
        .kids("worksheets")
        .flat_map(|w| w.kids("worksheet"))
        .map(|ws| {
            let mut deps_els = Vec::new();
            ws.find_all("datasource-dependencies", &[], &mut deps_els);
            let deps = deps_els
                .into_iter()
                .map(|dd| {
                    let mut cols: Vec<String> = Vec::new();
                    for c in &dd.children {
                        let name = match c.name.as_str() {
                            "column" => c.attr("name"),
                            "column-instance" => c.attr("column"),
                            _ => None,
                        };
                        if let Some(n) = name {
                            if !cols.iter().any(|x| x == n) {
                                cols.push(n.to_string());
                            }
                        }
                    }
                    (dd.get("datasource"), cols)
                })
                .collect();
            Worksheet {
                name: ws.get("name"),
                deps,
            }
        })
        .collect::<Vec<_>>();
    let dashboards = root
        .kids("dashboards")
        .flat_map(|d| d.kids("dashboard"))
        .map(|db| {
            let mut zones = Vec::new();
            db.find_all("zone", &[], &mut zones);
            let mut sheets: Vec<String> = Vec::new();
            for z in zones {
                if let Some(n) = z.attr("name") {
                    if worksheets.iter().any(|w| w.name == n) && !sheets.iter().any(|s| s == n) {
                        sheets.push(n.to_string());
                    }
                }
            }
            Dashboard {
                name: db.get("name"),
                sheets,
                story: db.attr("type") == Some("storyboard"),
            }
        })
        .collect();
    let has_extract = sources.iter().any(|s: &Source| s.extract);
    Ok(Doc {
        kind,
        sources,
        worksheets,
        dashboards,
        has_extract,
    })
}

/// The document inside a file: the XML itself, or the `.twb`/`.tds` at the
/// top of a package. Returns the XML text and whether the package holds an
/// extract file.
pub fn unpack(bytes: &[u8]) -> Result<(String, bool), String> {
    if super::zip::is_zip(bytes) {
        let entries = super::zip::read(bytes)?;
        let is_doc = |n: &str| n.ends_with(".twb") || n.ends_with(".tds");
        let doc = entries
            .iter()
            .filter(|(n, _)| is_doc(n))
            .min_by_key(|(n, _)| n.matches('/').count())
            .ok_or("the package holds no .twb or .tds document")?;
        let extract = entries
            .iter()
            .any(|(n, _)| n.ends_with(".hyper") || n.ends_with(".tde"));
        let text =
            String::from_utf8(doc.1.clone()).map_err(|_| format!("'{}' is not UTF-8", doc.0))?;
        Ok((text, extract))
    } else {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| "the document is neither a ZIP package nor UTF-8 XML".to_string())?;
        Ok((text.trim_start_matches('\u{feff}').to_string(), false))
    }
}

/// Reads a published file (document or package).
pub fn parse(bytes: &[u8]) -> Result<Doc, String> {
    let (text, packaged_extract) = unpack(bytes)?;
    let mut doc = parse_xml(&text)?;
    doc.has_extract |= packaged_extract;
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn federated_and_single_connections_and_wrapped_names() {
        let xml = r#"<?xml version='1.0' encoding='utf-8' ?>
<workbook version='18.1'><datasources>
<datasource caption='A' inline='true' name='federated.x'><connection class='federated'><named-connections>
<named-connection caption='h' name='postgres.1'><connection class='postgres' dbname='db' port='5432' server='h' username='u'/></named-connection>
</named-connections>
<_.fcp.ObjectModelEncapsulateLegacy.false...relation connection='postgres.1' name='t' table='[public].[t]' type='table'/>
<_.fcp.ObjectModelEncapsulateLegacy.true...relation connection='postgres.1' name='t' table='[public].[t]' type='table'/>
<metadata-records><metadata-record class='column'><remote-name>amount</remote-name><remote-type>5</remote-type><local-name>[Amount]</local-name><parent-name>[t]</parent-name></metadata-record></metadata-records>
</connection>
<column datatype='real' name='[Calculation_1]' caption='Twice' role='measure' type='quantitative'><calculation class='tableau' formula='[Amount] * 2'/></column>
</datasource>
<datasource name='Parameters' hasconnection='false' inline='true'/>
</datasources>
<worksheets><worksheet name='S'><table><view><datasource-dependencies datasource='federated.x'><column-instance column='[Amount]' name='[sum:Amount:qk]'/></datasource-dependencies></view></table></worksheet></worksheets>
<dashboards><dashboard name='D'><zones><zone name='S'/><zone name='Title'/></zones></dashboard></dashboards>
</workbook>"#;
        let doc = parse(xml.as_bytes()).unwrap();
        assert_eq!(doc.sources.len(), 1);
        let s = &doc.sources[0];
        assert_eq!(s.conns[0].server, "h");
        assert_eq!(s.relations.len(), 1);
        assert_eq!(
            (
                s.relations[0].schema.as_str(),
                s.relations[0].table.as_str()
            ),
            ("public", "t")
        );
        let names: Vec<_> = s.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["Twice", "Amount"]);
        assert_eq!(s.fields[0].refs, ["[Amount]"]);
        assert_eq!(doc.worksheets[0].deps[0].1, ["[Amount]"]);
        assert_eq!(doc.dashboards[0].sheets, ["S"]);
        assert!(parse(b"<workbook><datasources>").is_err());
        assert!(parse(b"<other/>").is_err());
        assert_eq!(
            split_table("[a]].b].[c]"),
            ("a].b".to_string(), "c".to_string())
        );
    }
}
