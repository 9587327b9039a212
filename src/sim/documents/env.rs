//! Two environments of one organisation, for promotion between sites:
//! `dev` and `prod` (`trm sim serve --env dev|prod`).
//!
//! Each is the generated site of its seed (prod uses a different seed, so
//! ids differ while project names and vocabularies overlap) plus an HR
//! scenario published through the site's own document reader, so its items
//! are as real as anything published through the API:
//!
//! dev
//! - project `HR Dashboards` (tags on everything, show-tabs set):
//!   - published datasource `HR Core` (postgres `hr-db.dev.example.com:5432`,
//!     dbname `hr_dev`, user `hr_reader_dev`; tables `public.employees`
//!     joined to `public.departments`; two calculations);
//!   - `Headcount Overview` (.twb): reads `HR Core` through `sqlproxy`;
//!   - `Attrition Analysis` (.twbx): `HR Core` plus `Exit Interviews`
//!     (postgres `hr-db.dev.example.com`, `public.exit_interviews`) held as
//!     a `.hyper` extract;
//!   - `Compensation Review` (.twb): `HR Core`;
//! - project `HR Dashboards/Archive`: `Benefits Survey` (.twb, mysql
//!   `survey-db.dev.example.com:3306`, dbname `survey_dev`).
//!
//! prod
//! - project `HR Dashboards` holding an older `Headcount Overview` that
//!   reads postgres `hr-db.prod.example.com` directly (a name that clashes:
//!   promoting replaces it); no `HR Core`, no other HR workbook and no
//!   `Archive` project;
//! - project `HR Legacy` with a datasource `HR Core` and a workbook
//!   `Headcount Overview` of its own (same names, another project).

use super::ingest::{self, Credential, Publish};
use super::parse::{self, DocKind};
use super::write::{extract_bytes, extract_path, SiteRef, Xml, VERSION};
use crate::sim::dataset::{Dataset, Entity, Project};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Env {
    Dev,
    Prod,
}

impl std::str::FromStr for Env {
    type Err = String;
    fn from_str(s: &str) -> Result<Env, String> {
        match s {
            "dev" => Ok(Env::Dev),
            "prod" => Ok(Env::Prod),
            other => Err(format!(
                "unknown environment '{other}' (expected dev or prod)"
            )),
        }
    }
}

impl Env {
    /// The seed the environment's generated content comes from.
    pub fn seed(self, seed: u64) -> u64 {
        match self {
            Env::Dev => seed,
            Env::Prod => seed ^ 0x7072_6f64,
        }
    }

    fn host(self) -> &'static str {
        match self {
            Env::Dev => "tableau-dev.example.com",
            Env::Prod => "tableau-prod.example.com",
        }
    }
}

/// A database connection of a scenario document.
struct Db<'a> {
    class: &'a str,
    server: &'a str,
    port: &'a str,
    dbname: &'a str,
    username: &'a str,
}

/// (column, doc type, role)
type Col<'a> = (&'a str, &'a str, &'a str);

const EMPLOYEES: &[Col] = &[
    ("employee_id", "integer", "dimension"),
    ("full_name", "string", "dimension"),
    ("department_id", "integer", "dimension"),
    ("location", "string", "dimension"),
    ("hire_date", "date", "dimension"),
    ("termination_date", "date", "dimension"),
    ("salary", "real", "measure"),
    ("is_active", "boolean", "dimension"),
];
const DEPARTMENTS: &[Col] = &[
    ("department_id", "integer", "dimension"),
    ("department_name", "string", "dimension"),
    ("cost_center", "string", "dimension"),
];
const EXITS: &[Col] = &[
    ("employee_id", "integer", "dimension"),
    ("exit_reason", "string", "dimension"),
    ("exit_date", "date", "dimension"),
    ("rating", "integer", "measure"),
];
const SURVEY: &[Col] = &[
    ("response_id", "integer", "dimension"),
    ("plan", "string", "dimension"),
    ("satisfaction", "integer", "measure"),
];

fn caption(column: &str) -> String {
    column
        .split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn code(t: &str) -> &'static str {
    match t {
        "integer" => "20",
        "real" => "5",
        "date" => "133",
        "boolean" => "11",
        _ => "130",
    }
}

/// One direct datasource body: connection, relations, records, columns and
/// calculations (name, type, formula).
fn direct_body(
    x: &mut Xml,
    db: &Db,
    tables: &[(&str, &[Col])],
    calcs: &[(&str, &str, &str)],
    extract: Option<&str>,
) {
    let named = format!("{}.{}", db.class, "0hr5c9x1m2q8w7e3r4t6y0u1i2o3");
    x.open("connection", &[("class", "federated")]);
    x.open("named-connections", &[]);
    x.open(
        "named-connection",
        &[("caption", db.server), ("name", &named)],
    );
    x.empty(
        "connection",
        &[
            ("authentication", "username-password"),
            ("class", db.class),
            ("dbname", db.dbname),
            ("port", db.port),
            ("server", db.server),
            ("username", db.username),
        ],
    );
    x.close("named-connection");
    x.close("named-connections");
    if tables.len() > 1 {
        x.open("relation", &[("join", "inner"), ("type", "join")]);
        x.open("clause", &[("type", "join")]);
        x.open("expression", &[("op", "=")]);
        x.empty(
            "expression",
            &[("op", &format!("[{}].[department_id]", tables[0].0))],
        );
        x.empty(
            "expression",
            &[("op", &format!("[{}].[department_id]", tables[1].0))],
        );
        x.close("expression");
        x.close("clause");
    }
    for (t, _) in tables {
        x.empty(
            "relation",
            &[
                ("connection", &named),
                ("name", t),
                ("table", &format!("[public].[{t}]")),
                ("type", "table"),
            ],
        );
    }
    if tables.len() > 1 {
        x.close("relation");
    }
    x.open("metadata-records", &[]);
    let mut seen = std::collections::HashSet::new();
    for (t, cols) in tables {
        for (c, ty, _) in cols.iter() {
            if !seen.insert(caption(c)) {
                continue;
            }
            x.open("metadata-record", &[("class", "column")]);
            x.text("remote-name", c);
            x.text("remote-type", code(ty));
            x.text("local-name", &format!("[{}]", caption(c)));
            x.text("parent-name", &format!("[{t}]"));
            x.text("local-type", ty);
            x.close("metadata-record");
        }
    }
    x.close("metadata-records");
    x.close("connection");
    if let Some(file) = extract {
        x.open(
            "extract",
            &[("count", "-1"), ("enabled", "true"), ("units", "records")],
        );
        x.open(
            "connection",
            &[
                ("class", "hyper"),
                ("dbname", file),
                ("schema", "Extract"),
                ("tablename", "Extract"),
            ],
        );
        x.empty(
            "relation",
            &[
                ("name", "Extract"),
                ("table", "[Extract].[Extract]"),
                ("type", "table"),
            ],
        );
        x.close("connection");
        x.close("extract");
    }
    let mut seen = std::collections::HashSet::new();
    for (_, cols) in tables {
        for (c, ty, role) in cols.iter() {
            if !seen.insert(caption(c)) {
                continue;
            }
            let kind = if *role == "measure" {
                "quantitative"
            } else {
                "nominal"
            };
            x.empty(
                "column",
                &[
                    ("datatype", ty),
                    ("name", &format!("[{}]", caption(c))),
                    ("role", role),
                    ("type", kind),
                ],
            );
        }
    }
    for (name, ty, formula) in calcs {
        x.open(
            "column",
            &[
                ("caption", name),
                ("datatype", ty),
                ("name", &format!("[{name}]")),
                ("role", "measure"),
                ("type", "quantitative"),
            ],
        );
        x.empty("calculation", &[("class", "tableau"), ("formula", formula)]);
        x.close("column");
    }
}

const HR_CALCS: &[(&str, &str, &str)] = &[
    (
        "Tenure Years",
        "integer",
        "DATEDIFF('year', [Hire Date], TODAY())",
    ),
    (
        "Active Headcount",
        "integer",
        "SUM(IF [Is Active] THEN 1 ELSE 0 END)",
    ),
];

fn hr_core_tds(db: &Db) -> String {
    let mut x = Xml::new();
    x.open(
        "datasource",
        &[
            ("formatted-name", "HR Core"),
            ("inline", "true"),
            ("source-platform", "linux"),
            ("version", VERSION),
            ("xmlns:user", "http://www.tableausoftware.com/xml/user"),
        ],
    );
    direct_body(
        &mut x,
        db,
        &[("employees", EMPLOYEES), ("departments", DEPARTMENTS)],
        HR_CALCS,
        None,
    );
    x.close("datasource");
    x.finish()
}

/// A datasource of a workbook: a published one by content URL, or direct.
enum Src<'a> {
    Proxy {
        content_url: &'a str,
        host: &'a str,
        fields: &'a [&'a str],
    },
    Direct {
        caption: &'a str,
        db: Db<'a>,
        tables: &'a [(&'a str, &'a [Col<'a>])],
        extract: bool,
    },
}

/// A workbook: datasources, worksheets (name, datasource index, fields) and
/// dashboards (name, worksheets).
fn workbook_twb(
    site: &str,
    sources: &[Src],
    sheets: &[(&str, usize, &[&str])],
    dashboards: &[(&str, &[&str])],
) -> String {
    let mut x = Xml::new();
    x.open(
        "workbook",
        &[
            ("original-version", VERSION),
            ("source-build", "2025.3.0 (20253.25.1010.1043)"),
            ("source-platform", "linux"),
            ("version", VERSION),
            ("xmlns:user", "http://www.tableausoftware.com/xml/user"),
        ],
    );
    x.open("datasources", &[]);
    let mut internal = Vec::new();
    for (i, s) in sources.iter().enumerate() {
        match s {
            Src::Proxy {
                content_url,
                host,
                fields,
            } => {
                let name = format!("sqlproxy.1hr{i}proxy8k2m4n6p8r0t2v4x6z8b0d");
                x.open(
                    "datasource",
                    &[
                        ("caption", "HR Core"),
                        ("inline", "true"),
                        ("name", &name),
                        ("version", VERSION),
                    ],
                );
                let path = format!("/t/{site}/datasources");
                x.empty(
                    "repository-location",
                    &[
                        (
                            "derived-from",
                            &format!("https://{host}{path}/{content_url}?rev=1.0"),
                        ),
                        ("id", content_url),
                        ("path", &path),
                        ("revision", "1.0"),
                        ("site", site),
                    ],
                );
                x.open(
                    "connection",
                    &[
                        ("channel", "https"),
                        ("class", "sqlproxy"),
                        ("dbname", content_url),
                        ("directory", "/dataserver"),
                        ("port", "443"),
                        ("server", host),
                        ("username", ""),
                    ],
                );
                x.empty(
                    "relation",
                    &[
                        ("name", "sqlproxy"),
                        ("table", "[sqlproxy]"),
                        ("type", "table"),
                    ],
                );
                x.close("connection");
                for f in fields.iter() {
                    x.empty(
                        "column",
                        &[
                            ("datatype", "string"),
                            ("name", &format!("[{f}]")),
                            ("role", "dimension"),
                            ("type", "nominal"),
                        ],
                    );
                }
                x.close("datasource");
                internal.push(name);
            }
            Src::Direct {
                caption: c,
                db,
                tables,
                extract,
            } => {
                let name = format!("federated.0hr{i}direct7j1k3l5m7n9p1q3r5s7t9");
                x.open(
                    "datasource",
                    &[
                        ("caption", c),
                        ("inline", "true"),
                        ("name", &name),
                        ("version", VERSION),
                    ],
                );
                let file = extract.then(|| extract_path(c));
                direct_body(&mut x, db, tables, &[], file.as_deref());
                x.close("datasource");
                internal.push(name);
            }
        }
    }
    x.close("datasources");
    x.open("worksheets", &[]);
    for (name, src, fields) in sheets {
        x.open("worksheet", &[("name", name)]);
        x.open("table", &[]);
        x.open("view", &[]);
        x.open("datasources", &[]);
        x.empty("datasource", &[("name", &internal[*src])]);
        x.close("datasources");
        x.open(
            "datasource-dependencies",
            &[("datasource", &internal[*src])],
        );
        for f in fields.iter() {
            x.empty(
                "column-instance",
                &[
                    ("column", &format!("[{f}]")),
                    ("derivation", "None"),
                    ("name", &format!("[none:{f}:nk]")),
                    ("pivot", "key"),
                    ("type", "nominal"),
                ],
            );
        }
        x.close("datasource-dependencies");
        x.close("view");
        let rows: Vec<String> = fields
            .iter()
            .map(|f| format!("[{}].[none:{f}:nk]", internal[*src]))
            .collect();
        x.text("rows", &rows.join(" / "));
        x.text("cols", "");
        x.close("table");
        x.close("worksheet");
    }
    x.close("worksheets");
    x.open("dashboards", &[]);
    for (name, held) in dashboards {
        x.open("dashboard", &[("name", name)]);
        x.open("zones", &[]);
        for (k, s) in held.iter().enumerate() {
            x.empty(
                "zone",
                &[
                    ("h", "50000"),
                    ("id", &(k + 2).to_string()),
                    ("name", s),
                    ("w", "100000"),
                    ("x", "0"),
                    ("y", &(k * 50000).to_string()),
                ],
            );
        }
        x.close("zones");
        x.close("dashboard");
    }
    x.close("dashboards");
    x.close("workbook");
    x.finish()
}

fn add_project(d: &mut Dataset, name: &str, parent: Option<u32>, owner: u32, now: i64) -> u32 {
    let salt = format!("env project {name}");
    let id = crate::sim::dataset::rng::Rng::new(salt.bytes().fold(d.seed ^ 0xe4f, |h, b| {
        crate::sim::dataset::rng::mix(h ^ b as u64)
    }))
    .uuid();
    let i = d.projects.len() as u32;
    d.projects.push(Project {
        id: id.clone(),
        name: name.to_string(),
        description: format!("{name} (promotion scenario)"),
        parent,
        owner,
        locked: false,
        lock_without_nested: false,
        deleted: false,
        created_at: now,
        updated_at: now,
        rules: Vec::new(),
        default_workbook_rules: Vec::new(),
        default_datasource_rules: Vec::new(),
        other_default_rules: Default::default(),
    });
    d.index_id(&id, Entity::Project(i));
    i
}

struct Pub<'a> {
    kind: DocKind,
    name: &'a str,
    project: u32,
    file: String,
    bytes: Vec<u8>,
    tags: &'a [&'a str],
    description: &'a str,
}

fn publish(d: &mut Dataset, site: &SiteRef, owner: u32, now: i64, p: Pub) {
    let doc =
        parse::parse(&p.bytes).unwrap_or_else(|e| panic!("scenario document {}: {e}", p.file));
    let request = Publish {
        kind: p.kind,
        name: p.name.to_string(),
        project: p.project,
        owner,
        description: Some(p.description.to_string()),
        show_tabs: (p.kind == DocKind::Workbook).then_some(true),
        tags: p.tags.iter().map(|t| t.to_string()).collect(),
        overwrite: false,
        filename: p.file.clone(),
        bytes: p.bytes,
        credentials: vec![Credential {
            embed: true,
            ..Credential::default()
        }],
        now,
        site,
    };
    if let Err(e) = ingest::publish(d, request, &doc) {
        panic!("scenario item {}: {e:?}", p.file);
    }
}

fn twbx(name: &str, twb: String, extract: &str) -> Vec<u8> {
    super::zip::write(&[
        (format!("{name}.twb"), twb.into_bytes()),
        (extract_path(extract), extract_bytes(name, 64 * 1024)),
    ])
}

/// Adds the environment's scenario to a generated site.
pub fn apply(d: &mut Dataset, env: Env, now: i64) {
    let owner = d
        .live_users()
        .find(|&u| d.users[u as usize].site_role.can_publish())
        .unwrap_or(0);
    let site = SiteRef {
        host: env.host().into(),
        port: "443".into(),
        site: d.site.content_url.clone(),
    };
    let host = env.host();
    let hr_fields: &[&str] = &[
        "Full Name",
        "Department Name",
        "Location",
        "Hire Date",
        "Salary",
        "Is Active",
        "Tenure Years",
        "Active Headcount",
    ];
    match env {
        Env::Dev => {
            let hr = add_project(d, "HR Dashboards", None, owner, now);
            let archive = add_project(d, "Archive", Some(hr), owner, now);
            let db = Db {
                class: "postgres",
                server: "hr-db.dev.example.com",
                port: "5432",
                dbname: "hr_dev",
                username: "hr_reader_dev",
            };
            let tds = hr_core_tds(&db);
            publish(
                d,
                &site,
                owner,
                now,
                Pub {
                    kind: DocKind::Datasource,
                    name: "HR Core",
                    project: hr,
                    file: "HR Core.tds".into(),
                    bytes: tds.into_bytes(),
                    tags: &["certified", "hr"],
                    description: "Employees and departments",
                },
            );
            let cu = d
                .datasources
                .last()
                .map(|x| x.content_url.clone())
                .unwrap_or_default();
            let proxy = || Src::Proxy {
                content_url: &cu,
                host,
                fields: hr_fields,
            };
            let twb = workbook_twb(
                &site.site,
                &[proxy()],
                &[
                    (
                        "Headcount by Department",
                        0,
                        &["Department Name", "Active Headcount"],
                    ),
                    (
                        "Headcount by Location",
                        0,
                        &["Location", "Active Headcount"],
                    ),
                ],
                &[(
                    "Headcount Dashboard",
                    &["Headcount by Department", "Headcount by Location"],
                )],
            );
            publish(
                d,
                &site,
                owner,
                now,
                Pub {
                    kind: DocKind::Workbook,
                    name: "Headcount Overview",
                    project: hr,
                    file: "Headcount Overview.twb".into(),
                    bytes: twb.into_bytes(),
                    tags: &["hr", "headcount"],
                    description: "Headcount by department and location",
                },
            );
            let exits = Src::Direct {
                caption: "Exit Interviews",
                db: Db {
                    class: "postgres",
                    server: "hr-db.dev.example.com",
                    port: "5432",
                    dbname: "hr_dev",
                    username: "hr_reader_dev",
                },
                tables: &[("exit_interviews", EXITS)],
                extract: true,
            };
            let twb = workbook_twb(
                &site.site,
                &[proxy(), exits],
                &[
                    (
                        "Attrition by Department",
                        0,
                        &["Department Name", "Tenure Years"],
                    ),
                    ("Exit Reasons", 1, &["Exit Reason", "Rating"]),
                ],
                &[(
                    "Attrition Dashboard",
                    &["Attrition by Department", "Exit Reasons"],
                )],
            );
            publish(
                d,
                &site,
                owner,
                now,
                Pub {
                    kind: DocKind::Workbook,
                    name: "Attrition Analysis",
                    project: hr,
                    file: "Attrition Analysis.twbx".into(),
                    bytes: twbx("Attrition Analysis", twb, "Exit Interviews"),
                    tags: &["attrition", "hr"],
                    description: "Who leaves and why",
                },
            );
            let twb = workbook_twb(
                &site.site,
                &[proxy()],
                &[
                    ("Salary Bands", 0, &["Salary", "Department Name"]),
                    ("Pay by Location", 0, &["Salary", "Location"]),
                ],
                &[],
            );
            publish(
                d,
                &site,
                owner,
                now,
                Pub {
                    kind: DocKind::Workbook,
                    name: "Compensation Review",
                    project: hr,
                    file: "Compensation Review.twb".into(),
                    bytes: twb.into_bytes(),
                    tags: &["hr"],
                    description: "Salary bands",
                },
            );
            let survey = Src::Direct {
                caption: "Benefits Survey",
                db: Db {
                    class: "mysql",
                    server: "survey-db.dev.example.com",
                    port: "3306",
                    dbname: "survey_dev",
                    username: "survey_reader",
                },
                tables: &[("responses", SURVEY)],
                extract: false,
            };
            let twb = workbook_twb(
                &site.site,
                &[survey],
                &[("Satisfaction by Plan", 0, &["Plan", "Satisfaction"])],
                &[],
            );
            publish(
                d,
                &site,
                owner,
                now,
                Pub {
                    kind: DocKind::Workbook,
                    name: "Benefits Survey",
                    project: archive,
                    file: "Benefits Survey.twb".into(),
                    bytes: twb.into_bytes(),
                    tags: &["survey"],
                    description: "2023 benefits survey",
                },
            );
        }
        Env::Prod => {
            let hr = add_project(d, "HR Dashboards", None, owner, now);
            let legacy = add_project(d, "HR Legacy", None, owner, now);
            let db = Db {
                class: "postgres",
                server: "hr-db.prod.example.com",
                port: "5432",
                dbname: "hr_prod",
                username: "hr_reader_prod",
            };
            let direct = |caption| Src::Direct {
                caption,
                db: Db {
                    class: "postgres",
                    server: "hr-db.prod.example.com",
                    port: "5432",
                    dbname: "hr_prod",
                    username: "hr_reader_prod",
                },
                tables: &[("employees", EMPLOYEES)],
                extract: false,
            };
            let twb = workbook_twb(
                &site.site,
                &[direct("Employees")],
                &[("Headcount", 0, &["Location", "Employee Id"])],
                &[],
            );
            publish(
                d,
                &site,
                owner,
                now,
                Pub {
                    kind: DocKind::Workbook,
                    name: "Headcount Overview",
                    project: hr,
                    file: "Headcount Overview.twb".into(),
                    bytes: twb.into_bytes(),
                    tags: &["hr"],
                    description: "Headcount (old version)",
                },
            );
            let tds = hr_core_tds(&db);
            publish(
                d,
                &site,
                owner,
                now,
                Pub {
                    kind: DocKind::Datasource,
                    name: "HR Core",
                    project: legacy,
                    file: "HR Core.tds".into(),
                    bytes: tds.into_bytes(),
                    tags: &["legacy"],
                    description: "Legacy copy",
                },
            );
            let twb = workbook_twb(
                &site.site,
                &[direct("Employees")],
                &[("Legacy Headcount", 0, &["Location", "Full Name"])],
                &[],
            );
            publish(
                d,
                &site,
                owner,
                now,
                Pub {
                    kind: DocKind::Workbook,
                    name: "Headcount Overview",
                    project: legacy,
                    file: "Headcount Overview.twb".into(),
                    bytes: twb.into_bytes(),
                    tags: &["legacy"],
                    description: "Legacy headcount",
                },
            );
        }
    }
}
