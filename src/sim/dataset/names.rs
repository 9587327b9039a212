//! Word lists that make the simulated site read like a real one.

pub const FIRST_NAMES: &[&str] = &[
    "Aisha", "Alejandro", "Amara", "Anders", "Ananya", "Ben", "Bianca", "Carlos", "Chen", "Chloe",
    "Daniel", "Deepa", "Diego", "Elena", "Emeka", "Emma", "Farah", "Felix", "Fatima", "Gabriel",
    "Grace", "Hana", "Hassan", "Ingrid", "Isabel", "Ivan", "Jack", "Jamal", "Jana", "Jin",
    "Julia", "Kai", "Kenji", "Laila", "Lars", "Leah", "Liam", "Lucia", "Mateo", "Maya",
    "Mei", "Mohammed", "Nadia", "Nikhil", "Noah", "Olivia", "Omar", "Pablo", "Priya", "Quentin",
    "Rafael", "Rania", "Ravi", "Rosa", "Sakura", "Samuel", "Sara", "Sean", "Sofia", "Tariq",
    "Thea", "Tomas", "Uma", "Valentina", "Victor", "Wei", "Yara", "Yusuf", "Zara", "Zoe",
];

pub const LAST_NAMES: &[&str] = &[
    "Abara", "Adeyemi", "Almeida", "Andersen", "Bauer", "Bianchi", "Brown", "Castillo", "Chen", "Clarke",
    "Costa", "Dubois", "Eriksson", "Fernandez", "Fischer", "Garcia", "Gupta", "Haddad", "Hansen", "Hoffmann",
    "Ibrahim", "Ito", "Jensen", "Johnson", "Kim", "Kowalski", "Kumar", "Larsen", "Lee", "Lopez",
    "Martin", "Meyer", "Moreau", "Murphy", "Nakamura", "Nguyen", "Novak", "Okafor", "Olsen", "Patel",
    "Petrov", "Quinn", "Rossi", "Sato", "Schmidt", "Silva", "Singh", "Smith", "Tanaka", "Taylor",
    "Torres", "Wagner", "Walsh", "Wang", "Weber", "Williams", "Wilson", "Yamamoto", "Zhang", "Zimmermann",
];

pub const DEPARTMENTS: &[&str] = &[
    "Finance", "Sales", "Marketing", "Operations", "HR", "Supply Chain", "Customer Success",
    "Product", "Engineering", "Legal", "Executive", "IT",
];

pub const REGIONS: &[&str] = &["Global", "EMEA", "APAC", "North America", "LATAM"];

pub const TEAM_ROLES: &[&str] = &["Analysts", "Managers", "Viewers", "Publishers", "Leads", "Contractors"];

pub const CODENAMES: &[&str] = &[
    "Falcon", "Orion", "Atlas", "Nimbus", "Aurora", "Cobalt", "Summit", "Harbor", "Beacon", "Comet",
    "Juniper", "Meridian", "Polaris", "Quartz", "Sierra", "Tundra", "Vertex", "Willow", "Zephyr", "Everest",
];

/// Workbook subjects per department (same order as `DEPARTMENTS`).
pub const SUBJECTS: &[&[&str]] = &[
    &["Budget vs Actuals", "Cash Flow", "P&L Review", "Expense Audit", "Revenue Recognition", "Forecast"],
    &["Pipeline", "Quota Attainment", "Win Rate", "Territory Performance", "Bookings", "Deal Velocity"],
    &["Campaign Performance", "Web Traffic", "Lead Funnel", "Brand Health", "Attribution", "Email Engagement"],
    &["Throughput", "SLA Tracking", "Capacity Planning", "Incident Review", "Cost to Serve", "Utilisation"],
    &["Headcount", "Attrition", "Hiring Funnel", "Compensation Review", "Diversity", "Engagement Survey"],
    &["Inventory", "Supplier Scorecard", "Logistics", "Demand Planning", "Stockouts", "Freight Costs"],
    &["Churn Analysis", "NPS", "Ticket Backlog", "Renewals", "Health Scores", "Onboarding"],
    &["Feature Adoption", "Roadmap", "Release Quality", "Usage Cohorts", "Experiment Results", "Retention"],
    &["Build Health", "Deploy Frequency", "Cloud Spend", "On-call Load", "Bug Trends", "Latency"],
    &["Contract Tracker", "Matter Spend", "Compliance", "Policy Attestation", "Risk Register", "Litigation"],
    &["Board Pack", "Company KPIs", "Exec Overview", "OKR Tracker", "Strategic Plan", "Weekly Business Review"],
    &["Asset Inventory", "Service Desk", "License Usage", "Security Posture", "Access Review", "Patch Status"],
];

pub const SHEET_NAMES: &[&str] = &[
    "by Region", "Trend", "by Month", "Top 10", "Detail", "by Product", "Map", "Year over Year",
    "Breakdown", "by Segment", "Scatter", "Heatmap", "Variance", "by Owner", "Distribution",
];

pub const DASHBOARD_NAMES: &[&str] = &[
    "Overview", "Executive Summary", "KPI Dashboard", "Deep Dive", "Scorecard", "Weekly Snapshot",
    "Regional View", "Operational Dashboard",
];

pub const WORKBOOK_QUALIFIERS: &[&str] = &["", "", "", " v2", " (Draft)", " - Monthly", " - Weekly", " 2026", " Legacy"];

pub const TAGS: &[&str] = &[
    "certified", "finance", "kpi", "deprecated", "sandbox", "pii", "executive", "weekly", "monthly", "draft",
];

pub const DB_TYPES: &[&str] = &["postgres", "snowflake", "sqlserver", "redshift", "bigquery", "mysql", "excel-direct", "textscan"];

pub const DATASOURCE_SUBJECTS: &[&str] = &[
    "Orders", "Customers", "Opportunities", "Invoices", "Tickets", "Inventory", "Web Sessions",
    "Employees", "Shipments", "Campaigns", "Subscriptions", "GL Entries", "Products", "Events",
];

/// Names that a report must render inertly: markup, spreadsheet formulas,
/// quotes and non-ASCII text. Planted on a few assets of every site.
pub const HOSTILE_WORKBOOK: &str = "<script>alert(1)</script>";
pub const HOSTILE_VIEW: &str = "=HYPERLINK(\"x\")";
pub const HOSTILE_PROJECT: &str = "Ventes – Région Québec \"Q4\" & Partners' 日本";
