//! Conformance of `queries/schema.graphql` (the subset of Tableau's Metadata
//! API schema TRM uses, written by us) with Tableau's full schema, kept
//! read-only in `../shared/reference/metadata-api.schema.graphql`.
//!
//! * `subset_matches_reference`: every type of ours exists in the reference
//!   with the same kind; every field, argument, input field, enum value,
//!   union member and implemented interface of ours exists there with the
//!   identical type reference (name, list and non-null wrapping) and, where
//!   ours declares one, the same default value. Ours may leave things out,
//!   but not an argument the reference requires, and a field deprecated in
//!   the reference must be marked deprecated here too.
//! * `our_schema_is_self_consistent`: ours is a valid schema on its own.
//! * `queries_validate`: every other `queries/*.graphql` is a valid
//!   executable document against ours and against the reference.
//!
//! When `../shared` is absent the comparisons with the reference are skipped
//! with a message, and fail under `CI=true` (`tests/support/external.rs`);
//! the checks of ours alone always run.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use apollo_compiler::ast::FieldDefinition;
use apollo_compiler::collections::IndexMap;
use apollo_compiler::schema::{Component, ExtendedType, InputValueDefinition};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Name, Node, Schema};

#[path = "support/external.rs"]
mod external;

/// The reference, under `../shared`.
const REFERENCE_REL: &str = "reference/metadata-api.schema.graphql";

// ---------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn queries_dir() -> PathBuf {
    manifest_dir().join("queries")
}

fn our_schema_path() -> PathBuf {
    queries_dir().join("schema.graphql")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Our schema, validated on its own.
fn our_schema() -> &'static Valid<Schema> {
    static OURS: OnceLock<Valid<Schema>> = OnceLock::new();
    OURS.get_or_init(|| {
        let path = our_schema_path();
        Schema::parse_and_validate(read(&path), &path).unwrap_or_else(|e| {
            panic!(
                "queries/schema.graphql is not a valid schema:\n{}",
                e.errors
            )
        })
    })
}

/// The reference schema, or `None` when `../shared` is not there: `test`
/// then skips with a message, or fails under CI. A reference that exists
/// but does not build is a failure, never a skip.
fn reference_schema(test: &str) -> Option<&'static Valid<Schema>> {
    static REFERENCE: OnceLock<Valid<Schema>> = OnceLock::new();
    let path = external::shared(REFERENCE_REL, test)?;
    Some(REFERENCE.get_or_init(|| parse_reference(&read(&path), &path)))
}

/// Builds and validates the reference. The file is an introspection dump, so
/// besides Tableau's own types it re-declares some of GraphQL's introspection
/// types (`__Field`, `__TypeKind`, ...). apollo-compiler defines those built
/// in and rejects a second definition, so definitions named `__*` are set
/// aside first; everything else must build and validate as it is.
fn parse_reference(source: &str, path: &Path) -> Valid<Schema> {
    let mut document = apollo_compiler::ast::Document::parse(source, path)
        .unwrap_or_else(|e| panic!("the reference schema does not parse:\n{}", e.errors));
    document
        .definitions
        .retain(|def| !def.name().is_some_and(|name| name.starts_with("__")));
    document
        .to_schema_validate()
        .unwrap_or_else(|e| panic!("the reference schema does not validate:\n{}", e.errors))
}

// ---------------------------------------------------------------------------
// The comparator
// ---------------------------------------------------------------------------

fn kind(ty: &ExtendedType) -> &'static str {
    match ty {
        ExtendedType::Scalar(_) => "scalar",
        ExtendedType::Object(_) => "object",
        ExtendedType::Interface(_) => "interface",
        ExtendedType::Union(_) => "union",
        ExtendedType::Enum(_) => "enum",
        ExtendedType::InputObject(_) => "input",
    }
}

/// Every way `ours` is not a faithful subset of `reference`, one readable
/// line each. Built-in scalars and introspection types are not compared.
fn subset_mismatches(ours: &Schema, reference: &Schema) -> Vec<String> {
    let mut out = Vec::new();

    let root = |s: &Schema| {
        s.schema_definition
            .query
            .as_ref()
            .map(|n| n.name.to_string())
    };
    if root(ours) != root(reference) {
        out.push(format!(
            "schema: query root is {:?}, reference has {:?}",
            root(ours),
            root(reference)
        ));
    }

    for (name, ty) in &ours.types {
        if ty.is_built_in() {
            continue;
        }
        let Some(ref_ty) = reference.types.get(name) else {
            out.push(format!("{} {name}: not in the reference", kind(ty)));
            continue;
        };
        if kind(ty) != kind(ref_ty) {
            out.push(format!(
                "{} {name}: is {} {name} in the reference",
                kind(ty),
                kind(ref_ty)
            ));
            continue;
        }
        match (ty, ref_ty) {
            (ExtendedType::Scalar(_), ExtendedType::Scalar(_)) => {}
            (ExtendedType::Object(o), ExtendedType::Object(r)) => {
                let ctx = format!("type {name}");
                compare_implements(
                    &mut out,
                    &ctx,
                    o.implements_interfaces.iter(),
                    &r.implements_interfaces,
                );
                compare_fields(&mut out, &ctx, &o.fields, &r.fields);
            }
            (ExtendedType::Interface(o), ExtendedType::Interface(r)) => {
                let ctx = format!("interface {name}");
                compare_implements(
                    &mut out,
                    &ctx,
                    o.implements_interfaces.iter(),
                    &r.implements_interfaces,
                );
                compare_fields(&mut out, &ctx, &o.fields, &r.fields);
            }
            (ExtendedType::Union(o), ExtendedType::Union(r)) => {
                for member in &o.members {
                    if !r.members.contains(&member.name) {
                        out.push(format!(
                            "union {name}: member {member} is not in the reference union"
                        ));
                    }
                }
            }
            (ExtendedType::Enum(o), ExtendedType::Enum(r)) => {
                for (value, def) in &o.values {
                    match r.values.get(value) {
                        None => out.push(format!(
                            "enum {name}: value {value} is not in the reference enum"
                        )),
                        Some(ref_def) => compare_deprecation(
                            &mut out,
                            &format!("enum {name}: value {value}"),
                            def.directives.has("deprecated"),
                            ref_def.directives.has("deprecated"),
                        ),
                    }
                }
            }
            (ExtendedType::InputObject(o), ExtendedType::InputObject(r)) => {
                for (field, def) in &o.fields {
                    let ctx = format!("input {name}: field {field}");
                    match r.fields.get(field) {
                        None => out.push(format!("{ctx}: not in the reference")),
                        Some(ref_def) => compare_input_value(&mut out, &ctx, def, ref_def),
                    }
                }
                for (field, ref_def) in &r.fields {
                    if is_required(ref_def) && !o.fields.contains_key(field) {
                        out.push(format!(
                            "input {name}: required field {field}: {} is missing",
                            ref_def.ty
                        ));
                    }
                }
            }
            _ => unreachable!("kinds compared above"),
        }
    }
    out
}

fn compare_implements<'a>(
    out: &mut Vec<String>,
    ctx: &str,
    ours: impl Iterator<Item = &'a apollo_compiler::schema::ComponentName>,
    reference: &apollo_compiler::collections::IndexSet<apollo_compiler::schema::ComponentName>,
) {
    for interface in ours {
        if !reference.contains(&interface.name) {
            out.push(format!(
                "{ctx}: implements {interface}, the reference type does not"
            ));
        }
    }
}

fn compare_fields(
    out: &mut Vec<String>,
    ctx: &str,
    ours: &IndexMap<Name, Component<FieldDefinition>>,
    reference: &IndexMap<Name, Component<FieldDefinition>>,
) {
    for (name, field) in ours {
        let fctx = format!("{ctx}: field {name}");
        let Some(ref_field) = reference.get(name) else {
            out.push(format!("{fctx}: not in the reference"));
            continue;
        };
        if field.ty != ref_field.ty {
            out.push(format!(
                "{fctx}: type {}, reference has {}",
                field.ty, ref_field.ty
            ));
        }
        compare_deprecation(
            out,
            &fctx,
            field.directives.has("deprecated"),
            ref_field.directives.has("deprecated"),
        );
        for arg in &field.arguments {
            let actx = format!("{fctx}: argument {}", arg.name);
            match ref_field.arguments.iter().find(|a| a.name == arg.name) {
                None => out.push(format!("{actx}: not in the reference")),
                Some(ref_arg) => compare_input_value(out, &actx, arg, ref_arg),
            }
        }
        for ref_arg in &ref_field.arguments {
            if is_required(ref_arg) && !field.arguments.iter().any(|a| a.name == ref_arg.name) {
                out.push(format!(
                    "{fctx}: required argument {}: {} is missing",
                    ref_arg.name, ref_arg.ty
                ));
            }
        }
    }
}

fn compare_input_value(
    out: &mut Vec<String>,
    ctx: &str,
    ours: &InputValueDefinition,
    reference: &InputValueDefinition,
) {
    if ours.ty != reference.ty {
        out.push(format!(
            "{ctx}: type {}, reference has {}",
            ours.ty, reference.ty
        ));
    }
    if let Some(default) = &ours.default_value {
        let ref_default = reference.default_value.as_ref().map(|v| v.to_string());
        if Some(default.to_string()) != ref_default {
            out.push(format!(
                "{ctx}: default {default}, reference has {}",
                ref_default.as_deref().unwrap_or("no default")
            ));
        }
    }
    compare_deprecation(
        out,
        ctx,
        ours.directives.has("deprecated"),
        reference.directives.has("deprecated"),
    );
}

/// Non-null without a default: a caller must always supply it.
fn is_required(def: &Node<InputValueDefinition>) -> bool {
    def.ty.is_non_null() && def.default_value.is_none()
}

fn compare_deprecation(out: &mut Vec<String>, ctx: &str, ours: bool, reference: bool) {
    match (ours, reference) {
        (false, true) => out.push(format!(
            "{ctx}: deprecated in the reference, not marked @deprecated here"
        )),
        (true, false) => out.push(format!(
            "{ctx}: marked @deprecated here, not deprecated in the reference"
        )),
        _ => {}
    }
}

fn report(title: &str, problems: &[String]) -> String {
    let mut s = format!("{title} ({}):\n", problems.len());
    for p in problems {
        let _ = writeln!(s, "  - {p}");
    }
    s
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[test]
fn subset_matches_reference() {
    let Some(reference) = reference_schema("subset_matches_reference") else {
        return;
    };
    // Parsed without validation, so that this comparison still reports when
    // ours is also broken on its own (`our_schema_is_self_consistent`).
    let path = our_schema_path();
    let ours = Schema::parse(read(&path), &path).unwrap_or_else(|e| e.partial);
    let problems = subset_mismatches(&ours, reference);
    assert!(
        problems.is_empty(),
        "{}",
        report(
            "queries/schema.graphql differs from the Metadata API reference schema",
            &problems
        )
    );
}

#[test]
fn our_schema_is_self_consistent() {
    let ours = our_schema();
    // The simulator serves these roots; make sure none went missing.
    let query = ours.get_object("Query").expect("type Query");
    for root in [
        "workbooksConnection",
        "dashboardsConnection",
        "sheetsConnection",
        "publishedDatasourcesConnection",
        "embeddedDatasourcesConnection",
        "databaseServersConnection",
        "databaseTablesConnection",
        "customSQLTablesConnection",
        "columnsConnection",
        "fieldsConnection",
        "calculatedFieldsConnection",
        "columnFieldsConnection",
        "datasourceFieldsConnection",
        "dataQualityWarningsConnection",
        "tableauUsersConnection",
    ] {
        let field = query
            .fields
            .get(root)
            .unwrap_or_else(|| panic!("Query.{root} missing"));
        for arg in ["first", "after", "offset", "filter", "orderBy"] {
            assert!(
                field.arguments.iter().any(|a| a.name == arg),
                "Query.{root} lacks argument {arg}"
            );
        }
        let connection = ours
            .get_object(field.ty.inner_named_type())
            .unwrap_or_else(|| panic!("Query.{root} does not return an object type"));
        for f in ["nodes", "pageInfo", "totalCount"] {
            assert!(
                connection.fields.contains_key(f),
                "{} lacks {f}",
                connection.name
            );
        }
    }
}

#[test]
fn queries_validate() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(queries_dir())
        .expect("queries/ exists")
        .map(|e| e.expect("readable queries/ entry").path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "graphql")
                && p.file_name().is_some_and(|n| n != "schema.graphql")
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no example queries in queries/");

    let reference = reference_schema("queries_validate (against the reference)");
    let mut problems = Vec::new();
    for path in &files {
        let source = read(path);
        let rel = path
            .strip_prefix(manifest_dir())
            .unwrap_or(path)
            .display()
            .to_string();
        let mut against = vec![("queries/schema.graphql", our_schema())];
        if let Some(reference) = reference {
            against.push(("the reference schema", reference));
        }
        for (schema_name, schema) in against {
            match ExecutableDocument::parse_and_validate(schema, source.as_str(), path) {
                Ok(doc) => {
                    if doc.operations.named.is_empty() || doc.operations.anonymous.is_some() {
                        problems.push(format!("{rel}: every operation must be named"));
                    }
                }
                Err(e) => problems.push(format!("{rel} against {schema_name}:\n{}", e.errors)),
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{}",
        report("invalid example queries", &problems)
    );
}

/// The whole schema the simulated site serves, generated from the reference
/// by `scripts/gen-metadata-schema.py`.
fn carried_schema_path() -> PathBuf {
    manifest_dir().join("src/sim/metadata/tableau.schema.graphql")
}

/// Every way `carried` and `reference` differ: each checked as a faithful
/// subset of the other, so together every type, field, argument, input
/// field, enum value, interface, default and deprecation must be equal.
fn schema_differences(carried: &Schema, reference: &Schema) -> Vec<String> {
    let mut out: Vec<String> = subset_mismatches(carried, reference)
        .into_iter()
        .map(|p| format!("carried {p}"))
        .collect();
    out.extend(
        subset_mismatches(reference, carried)
            .into_iter()
            .map(|p| format!("reference {}", p.replace("not in the reference", "not carried"))),
    );
    out
}

#[test]
fn carried_schema_is_valid_and_has_no_descriptions() {
    let path = carried_schema_path();
    let text = read(&path);
    let schema = Schema::parse_and_validate(text.as_str(), &path)
        .unwrap_or_else(|e| panic!("{} is not a valid schema:\n{}", path.display(), e.errors));
    // Descriptions are strings before a definition; the generator keeps no
    // string at all (deprecations are bare), and comments only in the header.
    assert!(!text.contains('"'), "{}: a description or quoted text was carried", path.display());
    let body = text.lines().skip_while(|l| l.starts_with('#') || l.is_empty());
    assert!(body.clone().all(|l| !l.contains('#')), "{}: comments past the header", path.display());
    let query = schema.get_object("Query").expect("type Query");
    assert!(query.fields.contains_key("workbooksConnection"), "the roots TRM uses are there");
    // It contains everything TRM's own subset declares.
    let problems = subset_mismatches(our_schema(), &schema);
    assert!(
        problems.is_empty(),
        "{}",
        report("queries/schema.graphql is not a subset of the carried schema", &problems)
    );
}

#[test]
fn carried_schema_matches_reference() {
    let Some(reference) = reference_schema("carried_schema_matches_reference") else {
        return;
    };
    let path = carried_schema_path();
    let carried = Schema::parse(read(&path), &path).unwrap_or_else(|e| e.partial);
    let problems = schema_differences(&carried, reference);
    assert!(
        problems.is_empty(),
        "{}",
        report(
            "src/sim/metadata/tableau.schema.graphql differs from the reference; \
             rerun scripts/gen-metadata-schema.py",
            &problems
        )
    );
    let types = |s: &Schema| s.types.values().filter(|t| !t.is_built_in()).count();
    assert_eq!(types(&carried), types(reference), "same number of types");

    // The comparison sees a change in either direction.
    let text = read(&path);
    for (what, from, to) in [
        ("a field dropped", "  luid: String!\n", "\n"),
        ("nullability", "  luid: String!\n", "  luid: String\n"),
    ] {
        assert!(text.contains(from), "self-test: {from:?} not in the carried schema");
        let edited = Schema::parse(text.replacen(from, to, 1), &path).unwrap_or_else(|e| e.partial);
        assert!(!schema_differences(&edited, reference).is_empty(), "self-test: {what} not detected");
    }
    let extra = format!("{text}\nextend type Query {{ extraConnection: Int }}\n");
    let edited = Schema::parse(extra, &path).unwrap_or_else(|e| e.partial);
    assert!(!schema_differences(&edited, reference).is_empty(), "self-test: an extra field not detected");
}

// ---------------------------------------------------------------------------
// The comparator itself
// ---------------------------------------------------------------------------

const TINY_REFERENCE: &str = r#"
schema { query: Query }
interface Node { id: ID! }
interface Named { name: String }
type Query {
  thingsConnection(after: String, first: Int, filter: Thing_Filter, mode: Mode!, flavour: Mode = PLAIN): ThingsConnection!
}
type ThingsConnection { nodes: [Thing!]! totalCount: Int! }
type Thing implements Node {
  id: ID!
  name: String
  parts: [Part]!
  old: String @deprecated(reason: "gone")
}
type Part { id: ID! }
input Thing_Filter { id: ID idWithin: [ID] }
enum Mode { PLAIN FANCY }
union Anything = Thing | Part
"#;

fn tiny(source: &str, path: &str) -> Schema {
    match Schema::parse(source, path) {
        Ok(schema) => schema,
        Err(e) => panic!("{path} does not parse:\n{}", e.errors),
    }
}

#[test]
fn comparator_accepts_a_faithful_subset() {
    let reference = tiny(TINY_REFERENCE, "tiny-reference.graphql");
    let ours = tiny(
        r#"
        schema { query: Query }
        interface Node { id: ID! }
        type Query { thingsConnection(first: Int, filter: Thing_Filter, mode: Mode!, flavour: Mode = PLAIN): ThingsConnection! }
        type ThingsConnection { nodes: [Thing!]! }
        type Thing implements Node { id: ID! parts: [Part]! old: String @deprecated(reason: "ours") }
        type Part { id: ID! }
        input Thing_Filter { idWithin: [ID] }
        enum Mode { PLAIN FANCY }
        union Anything = Part
        "#,
        "tiny-ours.graphql",
    );
    let problems = subset_mismatches(&ours, &reference);
    assert!(
        problems.is_empty(),
        "{}",
        report("unexpected mismatches", &problems)
    );
}

#[test]
fn comparator_flags_every_kind_of_mismatch() {
    let reference = tiny(TINY_REFERENCE, "tiny-reference.graphql");
    let ours = tiny(
        r#"
        schema { query: Query }
        interface Named { name: String }
        type Query { thingsConnection(first: Int!, filter: Thing_Filter, flavour: Mode = FANCY, limit: Int): ThingsConnection }
        type ThingsConnection { nodes: [Thing]! }
        type Thing implements Named { id: ID nmae: String parts: [Part!]! old: String }
        input Part { id: ID! }
        input Thing_Filter { id: String idsWithin: [ID] }
        enum Mode { PLAIN SHINY }
        union Anything = Thing | Widget
        type Widget { id: ID! }
        "#,
        "tiny-ours.graphql",
    );
    let problems = subset_mismatches(&ours, &reference);
    let expected = [
        "type Query: field thingsConnection: type ThingsConnection, reference has ThingsConnection!",
        "type Query: field thingsConnection: argument first: type Int!, reference has Int",
        "type Query: field thingsConnection: argument flavour: default FANCY, reference has PLAIN",
        "type Query: field thingsConnection: argument limit: not in the reference",
        "type Query: field thingsConnection: required argument mode: Mode! is missing",
        "type ThingsConnection: field nodes: type [Thing]!, reference has [Thing!]!",
        "type Thing: implements Named, the reference type does not",
        "type Thing: field id: type ID, reference has ID!",
        "type Thing: field nmae: not in the reference",
        "type Thing: field parts: type [Part!]!, reference has [Part]!",
        "type Thing: field old: deprecated in the reference, not marked @deprecated here",
        "input Part: is object Part in the reference",
        "input Thing_Filter: field id: type String, reference has ID",
        "input Thing_Filter: field idsWithin: not in the reference",
        "enum Mode: value SHINY is not in the reference enum",
        "union Anything: member Widget is not in the reference union",
        "object Widget: not in the reference",
    ];
    let missing: Vec<String> = expected
        .iter()
        .filter(|e| !problems.iter().any(|p| p == *e))
        .map(|e| e.to_string())
        .collect();
    let unexpected: Vec<String> = problems
        .iter()
        .filter(|p| !expected.contains(&p.as_str()))
        .cloned()
        .collect();
    assert!(
        missing.is_empty() && unexpected.is_empty(),
        "{}{}",
        report("mismatches the comparator failed to flag", &missing),
        report("mismatches flagged that were not planted", &unexpected)
    );
}
