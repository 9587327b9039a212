//! What the site keeps about documents beyond the lineage: the connections
//! of each workbook and published datasource once they differ from what the
//! lineage implies (published or edited through the REST API), and the
//! documents as they were published.
//!
//! Generated items have no entry until a connection of theirs is edited:
//! their documents are written from the lineage on download.

use std::collections::HashMap;

use super::Target;

/// One connection of a workbook or published datasource, as
/// `GET …/connections` lists it and as the document's `<connection>` holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnRecord {
    pub id: String,
    /// The document's `class` (`postgres`, `sqlproxy`, `hyper`, …).
    pub class: String,
    pub server: String,
    pub port: String,
    pub dbname: String,
    pub username: String,
    pub embed_password: bool,
    /// For a `sqlproxy` connection: the published datasource it reads.
    pub published: Option<u32>,
    /// The embedded datasource (workbooks) it belongs to, by caption.
    pub datasource_name: String,
}

/// A document as it was published, returned as is on download (with later
/// connection edits applied).
#[derive(Clone, Debug)]
pub struct StoredDoc {
    /// The file name, extension included (`Sales.twbx`).
    pub filename: String,
    pub bytes: Vec<u8>,
    /// The connections as the document states them, in document order.
    pub original: Vec<ConnRecord>,
}

#[derive(Default)]
pub struct Docs {
    /// Connections that differ from the lineage's defaults.
    pub conns: HashMap<Target, Vec<ConnRecord>>,
    pub stored: HashMap<Target, StoredDoc>,
    /// Passwords given at publish or on edit; never served back.
    pub passwords: HashMap<String, String>,
    /// Chunked uploads under way, by upload session id.
    pub uploads: HashMap<String, Vec<u8>>,
    /// Publishes run with `asJob=true`.
    pub jobs: Vec<PublishJob>,
    /// Bumped whenever the lineage's structure changes (a publish), so the
    /// Metadata API rebuilds its indexes.
    pub lineage_epoch: u64,
}

/// A publish run as a job; it finished within its request.
#[derive(Clone, Debug)]
pub struct PublishJob {
    pub id: String,
    pub created_at: i64,
    pub workbook: bool,
    pub target: Target,
}
