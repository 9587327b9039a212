//! Content types, their capabilities (Tableau's REST names) and what each
//! site role may have at most.
//!
//! Capabilities per content type, in Tableau's permissions dialog order:
//! - project: `Read`, `Write` (View, Publish). `ProjectLeader` is an input
//!   to evaluation (who leads a project), never asked for itself.
//! - workbook: `Read`, `Filter`, `ViewComments`, `AddComment`,
//!   `ExportImage`, `ExportData`, `ShareView`, `ViewUnderlyingData`,
//!   `WebAuthoring`, `RunExplainData`, `ExportXml`, `Write`,
//!   `CreateRefreshMetrics`, `ChangeHierarchy`, `Delete`,
//!   `ChangePermissions`.
//! - view: `Read`, `Filter`, `ViewComments`, `AddComment`, `ExportImage`,
//!   `ExportData`, `ShareView`, `ViewUnderlyingData`, `WebAuthoring`,
//!   `Delete`, `ChangePermissions`.
//! - datasource: `Read`, `Connect`, `ExportXml`, `Write`, `SaveAs`,
//!   `ChangeHierarchy`, `Delete`, `ChangePermissions`.
//! - flow: `Read`, `ExportXml`, `Execute`, `WebAuthoringForFlows`, `Write`,
//!   `ChangeHierarchy`, `Delete`, `ChangePermissions`.
//!
//! Site-role maximum (Tableau's "site role caps capabilities"):
//! - Viewer: `Read`, `Filter`, `ViewComments`, `AddComment`, `ExportImage`,
//!   `ExportData` (view, filter, comment, download images and summary
//!   data);
//! - Explorer: everything but `Write` (overwrite, publish), `Delete`,
//!   `ChangePermissions`, `ChangeHierarchy` (move) and `SaveAs`;
//! - ExplorerCanPublish, Creator, administrators: everything;
//! - Unlicensed: nothing.

/// A capability: an index into [`NAMES`].
pub type Cap = u8;

/// Every capability TRM knows, by index.
pub const NAMES: &[&str] = &[
    "Read",
    "Filter",
    "ViewComments",
    "AddComment",
    "ExportImage",
    "ExportData",
    "ShareView",
    "ViewUnderlyingData",
    "WebAuthoring",
    "RunExplainData",
    "ExportXml",
    "Write",
    "CreateRefreshMetrics",
    "ChangeHierarchy",
    "Delete",
    "ChangePermissions",
    "Connect",
    "SaveAs",
    "Execute",
    "WebAuthoringForFlows",
    "ProjectLeader",
];

pub const PROJECT_LEADER: Cap = 20;
pub const CHANGE_PERMISSIONS: Cap = 15;

pub fn parse(name: &str) -> Option<Cap> {
    NAMES.iter().position(|n| *n == name).map(|i| i as Cap)
}

pub fn name(cap: Cap) -> &'static str {
    NAMES[cap as usize]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Project = 0,
    Workbook = 1,
    View = 2,
    Datasource = 3,
    Flow = 4,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Project,
        Kind::Workbook,
        Kind::View,
        Kind::Datasource,
        Kind::Flow,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Project => "project",
            Kind::Workbook => "workbook",
            Kind::View => "view",
            Kind::Datasource => "datasource",
            Kind::Flow => "flow",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The `permissions.scope` of a project's default rules for this type.
    pub fn default_scope(self) -> Option<&'static str> {
        match self {
            Kind::Workbook | Kind::View => Some("default_workbooks"),
            Kind::Datasource => Some("default_datasources"),
            Kind::Flow => Some("default_flows"),
            Kind::Project => None,
        }
    }

    pub fn from_default_scope(scope: &str) -> Option<Kind> {
        match scope {
            "default_workbooks" => Some(Kind::Workbook),
            "default_datasources" => Some(Kind::Datasource),
            "default_flows" => Some(Kind::Flow),
            _ => None,
        }
    }

    /// The capabilities evaluated for this type.
    pub fn caps(self) -> &'static [Cap] {
        match self {
            Kind::Project => &[0, 11],
            Kind::Workbook => &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
            Kind::View => &[0, 1, 2, 3, 4, 5, 6, 7, 8, 14, 15],
            Kind::Datasource => &[0, 16, 10, 11, 17, 13, 14, 15],
            Kind::Flow => &[0, 10, 18, 19, 11, 13, 14, 15],
        }
    }
}

/// Viewer's maximum.
const VIEWER: &[Cap] = &[0, 1, 2, 3, 4, 5];
/// What an Explorer never has: Write, ChangeHierarchy, Delete,
/// ChangePermissions, SaveAs.
const EXPLORER_NEVER: &[Cap] = &[11, 13, 14, 15, 17];

/// Whether `role`'s maximum includes `cap` (administrators and unlicensed
/// users are decided before this is asked).
pub fn within_role(role: super::model::Role, cap: Cap) -> bool {
    use super::model::Role;
    match role {
        Role::Viewer => VIEWER.contains(&cap),
        Role::Explorer => !EXPLORER_NEVER.contains(&cap),
        Role::Unlicensed => false,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_indexes_agree() {
        assert_eq!(name(PROJECT_LEADER), "ProjectLeader");
        assert_eq!(name(CHANGE_PERMISSIONS), "ChangePermissions");
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
            for &c in k.caps() {
                assert_eq!(parse(name(c)), Some(c));
                assert_ne!(c, PROJECT_LEADER, "{k:?} asks for ProjectLeader");
            }
        }
        let names = |k: Kind| k.caps().iter().map(|&c| name(c)).collect::<Vec<_>>();
        assert_eq!(names(Kind::Project), ["Read", "Write"]);
        assert_eq!(
            names(Kind::Datasource),
            [
                "Read",
                "Connect",
                "ExportXml",
                "Write",
                "SaveAs",
                "ChangeHierarchy",
                "Delete",
                "ChangePermissions"
            ]
        );
        assert_eq!(
            names(Kind::View),
            [
                "Read",
                "Filter",
                "ViewComments",
                "AddComment",
                "ExportImage",
                "ExportData",
                "ShareView",
                "ViewUnderlyingData",
                "WebAuthoring",
                "Delete",
                "ChangePermissions"
            ]
        );
        assert_eq!(names(Kind::Workbook).len(), 16);
        assert_eq!(
            names(Kind::Flow),
            [
                "Read",
                "ExportXml",
                "Execute",
                "WebAuthoringForFlows",
                "Write",
                "ChangeHierarchy",
                "Delete",
                "ChangePermissions"
            ]
        );
        let viewer: Vec<_> = VIEWER.iter().map(|&c| name(c)).collect();
        assert_eq!(
            viewer,
            [
                "Read",
                "Filter",
                "ViewComments",
                "AddComment",
                "ExportImage",
                "ExportData"
            ]
        );
        let never: Vec<_> = EXPLORER_NEVER.iter().map(|&c| name(c)).collect();
        assert_eq!(
            never,
            [
                "Write",
                "ChangeHierarchy",
                "Delete",
                "ChangePermissions",
                "SaveAs"
            ]
        );
    }
}
