//! Content in and out: downloading a workbook's or datasource's document,
//! reading its connections, and publishing a document.
//!
//! Publishing is a `multipart/mixed` request: a `request_payload` part
//! (the `tsRequest` XML: name, project, show-tabs, description and
//! connection credentials) and the file part (`tableau_workbook` or
//! `tableau_datasource`). A document larger than the upload's threshold goes
//! in pieces instead: `POST fileUploads` opens a session, `PUT
//! fileUploads/{id}` appends each piece (a multipart request with an empty
//! `request_payload` and a `tableau_file` part), and the publish names the
//! session (`uploadSessionId`) and the file type (`workbookType` /
//! `datasourceType`) and carries no file part.
//!
//! Credentials are [`Secret`]s: they reach the request body and nothing
//! else (errors name the path and query only, and `Debug` hides them).

use serde_json::Value;

use super::error::TableauError;
use super::transport::{parse_rest, Client};
use crate::config::Secret;

/// Tableau's threshold above which its own clients upload in pieces.
pub const DEFAULT_CHUNK_THRESHOLD: usize = 64 * 1024 * 1024;
/// Size of each piece of a chunked upload.
pub const DEFAULT_CHUNK_SIZE: usize = 5 * 1024 * 1024;

/// Credentials for the connections to one server, embedded on publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionCredentials {
    pub server: String,
    pub port: String,
    pub username: String,
    pub password: Secret,
}

/// What a publish sends besides its JSON payload: the document and the
/// credentials. Kept out of plans (never serialised).
#[derive(Clone, PartialEq, Eq)]
pub struct Upload {
    /// `workbook` or `datasource`.
    pub kind: String,
    /// The file name sent (`Sales.twbx`); its extension is the file type.
    pub file_name: String,
    pub bytes: Vec<u8>,
    pub credentials: Vec<ConnectionCredentials>,
    /// Documents larger than this go through `fileUploads`.
    pub chunk_threshold: usize,
    pub chunk_size: usize,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("kind", &self.kind)
            .field("file_name", &self.file_name)
            .field("bytes", &self.bytes.len())
            .field("credentials", &self.credentials.len())
            .finish()
    }
}

impl Upload {
    pub fn is_chunked(&self) -> bool {
        self.bytes.len() > self.chunk_threshold
    }

    /// `twbx`, `tds`, …: the file name's extension.
    fn file_type(&self) -> &str {
        self.file_name
            .rsplit_once('.')
            .map(|(_, e)| e)
            .unwrap_or("")
    }
}

/// The document of a workbook or datasource (`kind`), with its extracts.
pub async fn download(client: &Client, kind: &str, luid: &str) -> Result<Vec<u8>, TableauError> {
    let path = client.site_path(&format!("{kind}s/{luid}/content"));
    let answer = client
        .send_raw(reqwest::Method::GET, &path, &[], None, "*/*")
        .await?;
    Ok(answer.body)
}

/// A workbook's or datasource's connections, as listed.
pub async fn connections(
    client: &Client,
    kind: &str,
    luid: &str,
) -> Result<Vec<Value>, TableauError> {
    let v = client
        .get_json(
            &client.site_path(&format!("{kind}s/{luid}/connections")),
            &[],
        )
        .await?;
    Ok(match &v["connections"]["connection"] {
        Value::Array(a) => a.clone(),
        Value::Object(_) => vec![v["connections"]["connection"].clone()],
        _ => Vec::new(),
    })
}

/// Publishes `upload` to `path` (from the API root, e.g.
/// `sites/{luid}/workbooks?overwrite=true`) with `payload`, Tableau's
/// JSON request form (`{"workbook": {"name": …, "project": {"id": …}}}`),
/// sent as the equivalent `tsRequest` XML. Returns the answer as a tree.
pub async fn publish(
    client: &Client,
    path: &str,
    payload: Option<&Value>,
    upload: &Upload,
) -> Result<Value, TableauError> {
    let payload = payload.cloned().unwrap_or(Value::Null);
    let xml = request_xml(&payload, &upload.kind, &upload.credentials);
    let full = path;
    if !upload.is_chunked() {
        let part = FilePart {
            name: format!("tableau_{}", upload.kind),
            file_name: &upload.file_name,
            bytes: &upload.bytes,
        };
        let (body, kind) = multipart(&xml, Some(part));
        let answer = client
            .send_raw(
                reqwest::Method::POST,
                full,
                &[],
                Some((body, kind)),
                "application/xml",
            )
            .await?;
        return parse_rest(&answer.label, &answer.body);
    }
    let opened = client
        .write_json(
            super::rest::WriteMethod::Post,
            &client.site_path("fileUploads"),
            &[],
            None,
        )
        .await?;
    let Some(session) = opened["fileUpload"]["uploadSessionId"]
        .as_str()
        .map(str::to_string)
    else {
        return Err(TableauError::Decode {
            path: client.site_path("fileUploads"),
            message: "the answer has no fileUpload.uploadSessionId".into(),
        });
    };
    let piece_path = client.site_path(&format!("fileUploads/{session}"));
    for piece in upload.bytes.chunks(upload.chunk_size.max(1)) {
        let part = FilePart {
            name: "tableau_file".into(),
            file_name: "file",
            bytes: piece,
        };
        let (body, kind) = multipart("", Some(part));
        client
            .send_raw(
                reqwest::Method::PUT,
                &piece_path,
                &[],
                Some((body, kind)),
                "application/xml",
            )
            .await?;
    }
    let type_key = if upload.kind == "workbook" {
        "workbookType"
    } else {
        "datasourceType"
    };
    let query = [
        ("uploadSessionId", session),
        (type_key, upload.file_type().to_string()),
    ];
    let (body, kind) = multipart(&xml, None);
    let answer = client
        .send_raw(
            reqwest::Method::POST,
            full,
            &query,
            Some((body, kind)),
            "application/xml",
        )
        .await?;
    parse_rest(&answer.label, &answer.body)
}

struct FilePart<'a> {
    name: String,
    file_name: &'a str,
    bytes: &'a [u8],
}

/// A `multipart/mixed` body and its content type: the payload part, then
/// the file part if any. The boundary is random, and checked not to occur
/// in the parts.
fn multipart(payload: &str, file: Option<FilePart<'_>>) -> (Vec<u8>, String) {
    let boundary = loop {
        let mut raw = [0u8; 12];
        let _ = getrandom::fill(&mut raw);
        let b: String = raw.iter().map(|x| format!("{x:02x}")).collect();
        let b = format!("trm-{b}");
        let clash = payload.contains(&b)
            || file
                .as_ref()
                .is_some_and(|f| f.bytes.windows(b.len()).any(|w| w == b.as_bytes()));
        if !clash {
            break b;
        }
    };
    let mut body =
        Vec::with_capacity(payload.len() + file.as_ref().map_or(0, |f| f.bytes.len()) + 512);
    body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    body.extend_from_slice(b"Content-Disposition: form-data; name=\"request_payload\"\r\n");
    body.extend_from_slice(b"Content-Type: text/xml\r\n\r\n");
    body.extend_from_slice(payload.as_bytes());
    body.extend_from_slice(b"\r\n");
    if let Some(f) = file {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let file_name = f.file_name.replace(['"', '\r', '\n'], "_");
        body.extend_from_slice(
            format!(
                "Content-Disposition: form-data; name=\"{}\"; filename=\"{file_name}\"\r\n",
                f.name
            )
            .as_bytes(),
        );
        body.extend_from_slice(b"Content-Type: application/octet-stream\r\n\r\n");
        body.extend_from_slice(f.bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (body, format!("multipart/mixed; boundary={boundary}"))
}

fn esc(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

/// Writes a JSON object as XML elements: scalars become attributes,
/// objects child elements, arrays repeated child elements.
fn write_element(out: &mut String, name: &str, v: &Value, extra: &dyn Fn(&mut String)) {
    out.push('<');
    out.push_str(name);
    let Value::Object(o) = v else {
        out.push_str("/>");
        return;
    };
    for (k, x) in o {
        let text = match x {
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            _ => continue,
        };
        out.push_str(&format!(" {k}=\"{}\"", esc(&text)));
    }
    out.push('>');
    for (k, x) in o {
        match x {
            Value::Object(_) => write_element(out, k, x, &|_| {}),
            Value::Array(a) => {
                for item in a {
                    write_element(out, k, item, &|_| {});
                }
            }
            _ => {}
        }
    }
    extra(out);
    out.push_str(&format!("</{name}>"));
}

/// The `tsRequest` of a publish: the payload's object for `kind`, with the
/// connection credentials added.
fn request_xml(payload: &Value, kind: &str, creds: &[ConnectionCredentials]) -> String {
    let mut out = String::from("<tsRequest>");
    let item = payload
        .get(kind)
        .cloned()
        .unwrap_or_else(|| Value::Object(Default::default()));
    let add_creds = |out: &mut String| {
        if creds.is_empty() {
            return;
        }
        out.push_str("<connections>");
        for c in creds {
            out.push_str(&format!(
                "<connection serverAddress=\"{}\" serverPort=\"{}\"><connectionCredentials name=\"{}\" password=\"{}\" embed=\"true\"/></connection>",
                esc(&c.server),
                esc(&c.port),
                esc(&c.username),
                esc(c.password.expose())
            ));
        }
        out.push_str("</connections>");
    };
    write_element(&mut out, kind, &item, &add_creds);
    out.push_str("</tsRequest>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_become_ts_requests_with_credentials() {
        let payload = serde_json::json!({"workbook": {"name": "A & B", "showTabs": true, "project": {"id": "p1"}}});
        let creds = vec![ConnectionCredentials {
            server: "db".into(),
            port: "5432".into(),
            username: "u".into(),
            password: Secret::new("p\"w"),
        }];
        let xml = request_xml(&payload, "workbook", &creds);
        assert_eq!(
            xml,
            "<tsRequest><workbook name=\"A &amp; B\" showTabs=\"true\"><project id=\"p1\"></project><connections><connection serverAddress=\"db\" serverPort=\"5432\"><connectionCredentials name=\"u\" password=\"p&quot;w\" embed=\"true\"/></connection></connections></workbook></tsRequest>"
        );
        let up = Upload {
            kind: "workbook".into(),
            file_name: "a.twbx".into(),
            bytes: vec![1, 2],
            credentials: creds,
            chunk_threshold: 1,
            chunk_size: 1,
        };
        assert!(!format!("{up:?}").contains("p\\\"w"));
        assert!(up.is_chunked());
        assert_eq!(up.file_type(), "twbx");
    }

    #[test]
    fn multipart_bodies_hold_both_parts() {
        let (body, kind) = multipart(
            "<tsRequest/>",
            Some(FilePart {
                name: "tableau_workbook".into(),
                file_name: "a.twb",
                bytes: b"<workbook/>",
            }),
        );
        let boundary = kind.strip_prefix("multipart/mixed; boundary=").unwrap();
        let text = String::from_utf8(body).unwrap();
        assert!(text.starts_with(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"request_payload\""
        )));
        assert!(text.contains("name=\"tableau_workbook\"; filename=\"a.twb\"\r\nContent-Type: application/octet-stream\r\n\r\n<workbook/>\r\n"));
        assert!(text.ends_with(&format!("--{boundary}--\r\n")));
    }
}
