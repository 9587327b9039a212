//! Builds the served schema from Tableau's Metadata API schema
//! (`tableau.schema.graphql`): every type, field, argument, default and enum
//! value of the file becomes an async-graphql dynamic type, and every field
//! resolves through [`resolve_field`].
//!
//! What the dataset models resolves from it ([`graph::resolve`]); the rest
//! gets a default of its declared type: null when nullable, an empty list or
//! connection, and for a non-null field a plausible value, counted in the
//! request's [`Budget`] so the response can say how many it holds.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_graphql::dynamic::{
    Enum, EnumItem, Field, FieldFuture, FieldValue, InputObject, InputValue, Interface, InterfaceField, Object,
    ResolverContext, Scalar, Schema, TypeRef,
};
use async_graphql::parser::types::{
    BaseType, ConstDirective, FieldDefinition, InputValueDefinition, Type, TypeKind, TypeSystemDefinition,
};
use async_graphql::{Error, Name, Positioned, Value};

use super::connection::{self, Conn, PageInfo};
use super::graph::{self, Out, N};
use super::Budget;
use crate::sim::dataset::rng::{mix, Rng};
use crate::sim::dataset::Dataset;
use crate::sim::manifest::iso;
use crate::sim::SimState;

fn type_ref(ty: &Type) -> TypeRef {
    let inner = match &ty.base {
        BaseType::Named(name) => TypeRef::named(name.to_string()),
        BaseType::List(of) => TypeRef::List(Box::new(type_ref(of))),
    };
    if ty.nullable {
        inner
    } else {
        TypeRef::NonNull(Box::new(inner))
    }
}

fn deprecation(directives: &[Positioned<ConstDirective>]) -> Option<Option<String>> {
    directives.iter().find(|d| d.node.name.node == "deprecated").map(|d| {
        d.node.get_argument("reason").and_then(|v| match &v.node {
            Value::String(s) => Some(s.clone()),
            _ => None,
        })
    })
}

fn base_name(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(name) => name.as_str(),
        BaseType::List(of) => base_name(of),
    }
}

fn input_value(def: &InputValueDefinition) -> InputValue {
    let mut v = InputValue::new(def.name.node.to_string(), type_ref(&def.ty.node));
    if let Some(default) = &def.default_value {
        v = v.default_value(default.node.clone());
    }
    if let Some(reason) = deprecation(&def.directives) {
        v = v.deprecation(reason.as_deref());
    }
    v
}

/// What the builder needs to know about the whole schema to describe one
/// field's type.
struct Catalog {
    /// Interface → implementing object types, by name.
    implementers: HashMap<String, Vec<String>>,
    /// Enum → its first value.
    first_values: HashMap<String, String>,
    /// Object types with `nodes`, `pageInfo` and `totalCount`.
    connections: HashSet<String>,
    /// Custom scalars.
    scalars: HashSet<String>,
}

impl Catalog {
    fn new(defs: &[&async_graphql::parser::types::TypeDefinition]) -> Catalog {
        let mut c = Catalog {
            implementers: HashMap::new(),
            first_values: HashMap::new(),
            connections: HashSet::new(),
            scalars: HashSet::new(),
        };
        for def in defs {
            let name = def.name.node.to_string();
            match &def.kind {
                TypeKind::Object(o) => {
                    for i in &o.implements {
                        c.implementers.entry(i.node.to_string()).or_default().push(name.clone());
                    }
                    let has = |f: &str| o.fields.iter().any(|x| x.node.name.node == f);
                    if has("nodes") && has("pageInfo") && has("totalCount") {
                        c.connections.insert(name);
                    }
                }
                TypeKind::Interface(_) => {
                    c.implementers.entry(name).or_default();
                }
                TypeKind::Scalar => {
                    c.scalars.insert(name);
                }
                TypeKind::Enum(e) => {
                    if let Some(v) = e.values.first() {
                        c.first_values.insert(name, v.node.value.node.to_string());
                    }
                }
                _ => {}
            }
        }
        for objs in c.implementers.values_mut() {
            objs.sort();
        }
        c
    }

    /// Describes a field of `owner` (whose fields are `siblings`).
    fn field(&self, owner: &str, f: &FieldDefinition, siblings: &[Positioned<FieldDefinition>]) -> Result<FieldInfo, String> {
        let ty = &f.ty.node;
        let named = base_name(ty);
        let list = matches!(ty.base, BaseType::List(_));
        let name = f.name.node.to_string();
        let kind = if let Some(first) = self.first_values.get(named) {
            Kind::Enum(first.clone())
        } else if let Some(objs) = self.implementers.get(named) {
            // A placeholder for a non-null interface value must be some
            // object; the first implementer by name keeps it stable.
            match objs.first() {
                Some(o) => Kind::Object(o.clone()),
                None if ty.nullable || list => Kind::Object(String::new()),
                None => return Err(format!("{owner}.{name}: non-null interface {named} has no implementer")),
            }
        } else if self.connections.contains(named) {
            Kind::Connection
        } else {
            match named {
                "Int" => Kind::Int,
                "Float" => Kind::Float,
                "Boolean" => Kind::Boolean,
                "ID" => Kind::Id,
                "DateTime" => Kind::DateTime,
                "String" => Kind::String,
                // Other custom scalars carry text.
                other if self.scalars.contains(other) => Kind::String,
                other => Kind::Object(other.to_string()),
            }
        };
        // `xConnection` pages over the list field `x` beside it.
        let list_field = match (&kind, name.strip_suffix("Connection")) {
            (Kind::Connection, Some(base)) => siblings
                .iter()
                .find(|s| s.node.name.node == base && matches!(s.node.ty.node.base, BaseType::List(_)))
                .map(|s| s.node.name.node.to_string()),
            _ => None,
        };
        let has_arg = |a: &str| f.arguments.iter().any(|x| x.node.name.node == a);
        Ok(FieldInfo {
            scope: format!("{owner}.{name}"),
            owner: owner.to_string(),
            name,
            nullable: ty.nullable,
            list,
            abstract_type: self.implementers.contains_key(named),
            kind,
            list_field,
            list_args: list && (has_arg("filter") || has_arg("orderBy")),
        })
    }

}

/// The named type of a field, as its default value needs it.
#[derive(Clone, Debug, PartialEq)]
enum Kind {
    Int,
    Float,
    Boolean,
    String,
    Id,
    DateTime,
    /// An enum, with its first value.
    Enum(String),
    /// An object type, or for an interface its first implementer.
    Object(String),
    /// A `*Connection` object.
    Connection,
}

/// What a resolver knows about its field.
struct FieldInfo {
    owner: String,
    name: String,
    /// `Owner.field`: the cursors of a nested connection belong to it.
    scope: String,
    nullable: bool,
    /// A list (of any depth).
    list: bool,
    /// An interface: values must carry their concrete type name.
    abstract_type: bool,
    kind: Kind,
    /// For `xConnection`: the list field `x` it pages over.
    list_field: Option<String>,
    /// A list taking `filter`/`orderBy`.
    list_args: bool,
}

pub fn build(sdl: &str) -> Result<Schema, String> {
    let doc = async_graphql::parser::parse_schema(sdl).map_err(|e| format!("the Metadata API schema does not parse: {e}"))?;
    let defs: Vec<&async_graphql::parser::types::TypeDefinition> = doc
        .definitions
        .iter()
        .filter_map(|d| match d {
            TypeSystemDefinition::Type(t) => Some(&t.node),
            _ => None,
        })
        .collect();
    let catalog = Catalog::new(&defs);
    let mut builder = Schema::build("Query", None, None);
    for def in &defs {
        let type_name = def.name.node.to_string();
        builder = match &def.kind {
            TypeKind::Scalar => builder.register(Scalar::new(&type_name)),
            TypeKind::Object(obj) => {
                let mut o = Object::new(&type_name);
                for i in &obj.implements {
                    o = o.implement(i.node.to_string());
                }
                for f in &obj.fields {
                    let f = &f.node;
                    let info = Arc::new(catalog.field(&type_name, f, &obj.fields)?);
                    let mut field = Field::new(f.name.node.to_string(), type_ref(&f.ty.node), move |rc| resolver(&info, rc));
                    for a in &f.arguments {
                        field = field.argument(input_value(&a.node));
                    }
                    if let Some(reason) = deprecation(&f.directives) {
                        field = field.deprecation(reason.as_deref());
                    }
                    o = o.field(field);
                }
                builder.register(o)
            }
            TypeKind::Interface(iface) => {
                let mut i = Interface::new(&type_name);
                for imp in &iface.implements {
                    i = i.implement(imp.node.to_string());
                }
                for f in &iface.fields {
                    let f = &f.node;
                    let mut field = InterfaceField::new(f.name.node.to_string(), type_ref(&f.ty.node));
                    for a in &f.arguments {
                        field = field.argument(input_value(&a.node));
                    }
                    if let Some(reason) = deprecation(&f.directives) {
                        field = field.deprecation(reason.as_deref());
                    }
                    i = i.field(field);
                }
                builder.register(i)
            }
            TypeKind::Enum(e) => {
                let mut en = Enum::new(&type_name);
                for v in &e.values {
                    let mut item = EnumItem::new(v.node.value.node.to_string());
                    if let Some(reason) = deprecation(&v.node.directives) {
                        item = item.deprecation(reason.as_deref());
                    }
                    en = en.item(item);
                }
                builder.register(en)
            }
            TypeKind::InputObject(input) => {
                let mut o = InputObject::new(&type_name);
                for f in &input.fields {
                    o = o.field(input_value(&f.node));
                }
                builder.register(o)
            }
            TypeKind::Union(_) => return Err(format!("unions are not supported by the simulated site ({type_name})")),
        };
    }
    builder.finish().map_err(|e| format!("the Metadata API schema is not a valid schema: {e}"))
}

/// An object the dataset does not model, standing where the schema demands
/// a non-null one: every field of it takes its type's default. `seed`
/// makes its ids stable for the same place in the graph.
struct Placeholder {
    seed: u64,
}

fn resolver<'a>(info: &FieldInfo, rc: ResolverContext<'a>) -> FieldFuture<'a> {
    match resolve_field(info, &rc) {
        Ok(v) => FieldFuture::Value(v),
        Err(e) => FieldFuture::new(async move { Err::<Option<FieldValue<'a>>, _>(e) }),
    }
}

/// A stable number for a string (FNV-1a), to seed placeholder ids.
fn hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

fn node_seed(n: N) -> u64 {
    let (kind, i) = match n {
        N::Workbook(i) => (1, i),
        N::Dashboard(i) => (2, i),
        N::Sheet(i) => (3, i),
        N::Published(i) => (4, i),
        N::Embedded(i) => (5, i),
        N::Database(i) => (6, i),
        N::Table(i) => (7, i),
        N::Column(i) => (8, i),
        N::Field(i) => (9, i),
        N::Warning(i) => (10, i),
        N::User(i) => (11, i),
        N::Tag(i) => (12, i),
    };
    mix((kind << 32) | i as u64)
}

/// A time for non-null times the dataset does not model: 2020-01-01.
const PLACEHOLDER_TIME: i64 = 1_577_836_800;

/// The value of a field the dataset does not model, under a parent whose
/// identity is `seed`.
fn default_value(info: &FieldInfo, budget: &Budget, seed: u64) -> Option<FieldValue<'static>> {
    if info.list {
        return Some(FieldValue::list(Vec::<FieldValue>::new()));
    }
    if info.kind == Kind::Connection {
        let empty = Conn { nodes: Vec::new(), total: 0, page_info: PageInfo { end_cursor: None, has_next_page: false } };
        return Some(FieldValue::owned_any(empty));
    }
    if info.nullable {
        return None;
    }
    budget.unmodeled();
    let seed = mix(seed ^ hash(&info.name));
    Some(match &info.kind {
        Kind::Int => FieldValue::value(0),
        Kind::Float => FieldValue::value(0.0),
        Kind::Boolean => FieldValue::value(false),
        Kind::String => FieldValue::value(""),
        Kind::Id => FieldValue::value(Rng::new(seed).uuid()),
        Kind::DateTime => FieldValue::value(iso(PLACEHOLDER_TIME)),
        Kind::Enum(first) => FieldValue::value(Value::Enum(Name::new(first))),
        Kind::Object(concrete) => {
            budget.take(1);
            let value = FieldValue::owned_any(Placeholder { seed });
            if info.abstract_type {
                value.with_type(concrete.clone())
            } else {
                value
            }
        }
        Kind::Connection => unreachable!("connections are answered above"),
    })
}

/// Resolves one field of one parent value.
fn resolve_field(info: &FieldInfo, rc: &ResolverContext<'_>) -> Result<Option<FieldValue<'static>>, Error> {
    let st = rc.data::<Arc<SimState>>()?;
    let budget = rc.data::<Arc<Budget>>()?;
    budget.tick()?;
    // The indexes first: building them reads the dataset itself.
    let md = st.metadata();
    let d = st.data();
    let d = &*d;
    let field = info.name.as_str();

    if info.owner == "Query" {
        if info.kind == Kind::Connection {
            let churn = st.churn.filters(field).then_some(&st.churn);
            let conn = connection::root(d, st.now(), &md, budget, field, &rc.args, churn)?;
            return Ok(Some(FieldValue::owned_any(conn)));
        }
        if info.list {
            if let Some(all) = connection::root_list(d, st.now(), &md, field, &rc.args)? {
                let allowed = budget.take(all.len());
                return Ok(Some(node_list(d, all[..allowed].iter().copied(), info.abstract_type)));
            }
        }
        return Ok(default_value(info, budget, 0));
    }
    if let Some(conn) = rc.parent_value.downcast_ref::<Conn>() {
        return Ok(Some(match field {
            "nodes" => nodes(d, budget, conn.nodes.clone(), info.abstract_type),
            "pageInfo" => FieldValue::owned_any(conn.page_info.clone()),
            "totalCount" => FieldValue::value(conn.total as i64),
            _ => return Ok(default_value(info, budget, 0)),
        }));
    }
    if let Some(p) = rc.parent_value.downcast_ref::<PageInfo>() {
        return Ok(match field {
            "endCursor" => p.end_cursor.clone().map(FieldValue::value),
            "hasNextPage" => Some(FieldValue::value(p.has_next_page)),
            _ => default_value(info, budget, 0),
        });
    }
    if let Some(p) = rc.parent_value.downcast_ref::<Placeholder>() {
        return Ok(default_value(info, budget, p.seed));
    }
    let n = *rc.parent_value.try_downcast_ref::<N>()?;
    let ix = &md.index;
    if info.kind == Kind::Connection {
        let over = info.list_field.as_deref().map(|x| graph::resolve(d, st.now(), ix, n, x));
        return Ok(match over {
            Some(Out::Nodes(list)) => {
                Some(FieldValue::owned_any(connection::nested(d, st.now(), ix, budget, &info.scope, list, &rc.args)?))
            }
            _ => default_value(info, budget, node_seed(n)),
        });
    }
    Ok(match graph::resolve(d, st.now(), ix, n, field) {
        Out::Null => None,
        Out::Unmodeled => default_value(info, budget, node_seed(n)),
        Out::Str(s) => Some(FieldValue::value(s)),
        Out::Bool(b) => Some(FieldValue::value(b)),
        Out::Int(i) => Some(FieldValue::value(i)),
        Out::Enum(e) => Some(FieldValue::value(Value::Enum(Name::new(e)))),
        // A non-null object cannot be cut without voiding its parent, so it
        // is counted but always sent.
        Out::Node(_) if budget.take(1) == 0 && info.nullable => None,
        Out::Node(n) => Some(node(d, n, info.abstract_type)),
        Out::Nodes(list) if info.list_args => {
            let list = connection::nested_list(d, st.now(), ix, list, &rc.args)?;
            Some(nodes(d, budget, list, info.abstract_type))
        }
        Out::Nodes(list) => Some(nodes(d, budget, list, info.abstract_type)),
    })
}

fn node(d: &Dataset, n: N, abstract_type: bool) -> FieldValue<'static> {
    let value = FieldValue::owned_any(n);
    if abstract_type {
        value.with_type(n.type_name(d))
    } else {
        value
    }
}

fn node_list(d: &Dataset, list: impl Iterator<Item = N>, abstract_type: bool) -> FieldValue<'static> {
    FieldValue::list(list.map(|n| node(d, n, abstract_type)).collect::<Vec<_>>())
}

/// A list of nodes, cut at the node limit.
fn nodes(d: &Dataset, budget: &Budget, mut list: Vec<N>, abstract_type: bool) -> FieldValue<'static> {
    let allowed = budget.take(list.len());
    list.truncate(allowed);
    node_list(d, list.into_iter(), abstract_type)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::metadata::{Limits, SCHEMA_SDL};

    fn catalog_and_fields() -> (Catalog, HashMap<String, Vec<Positioned<FieldDefinition>>>) {
        let doc = async_graphql::parser::parse_schema(SCHEMA_SDL).expect("parses");
        let defs: Vec<_> = doc
            .definitions
            .iter()
            .filter_map(|d| match d {
                TypeSystemDefinition::Type(t) => Some(&t.node),
                _ => None,
            })
            .collect();
        let catalog = Catalog::new(&defs);
        let fields = defs
            .iter()
            .filter_map(|d| match &d.kind {
                TypeKind::Object(o) => Some((d.name.node.to_string(), o.fields.clone())),
                _ => None,
            })
            .collect();
        (catalog, fields)
    }

    fn info(catalog: &Catalog, fields: &HashMap<String, Vec<Positioned<FieldDefinition>>>, owner: &str, name: &str) -> FieldInfo {
        let siblings = &fields[owner];
        let f = siblings.iter().find(|f| f.node.name.node == name).unwrap_or_else(|| panic!("{owner}.{name}"));
        catalog.field(owner, &f.node, siblings).expect("described")
    }

    fn synthetic(kind: Kind, nullable: bool, list: bool) -> FieldInfo {
        FieldInfo {
            owner: "T".into(),
            name: "f".into(),
            scope: "T.f".into(),
            nullable,
            list,
            abstract_type: false,
            kind,
            list_field: None,
            list_args: false,
        }
    }

    #[test]
    fn fields_are_described_from_the_schema() {
        let (c, f) = catalog_and_fields();
        let root = info(&c, &f, "Query", "workbooksConnection");
        assert_eq!(root.kind, Kind::Connection);
        assert!(!root.nullable && !root.list);
        let nested = info(&c, &f, "Workbook", "sheetsConnection");
        assert_eq!((nested.kind, nested.list_field.as_deref(), nested.scope.as_str()), (Kind::Connection, Some("sheets"), "Workbook.sheetsConnection"));
        let sheets = info(&c, &f, "Workbook", "sheets");
        assert!(sheets.list && sheets.list_args && !sheets.abstract_type);
        let site = info(&c, &f, "Workbook", "site");
        assert_eq!(site.kind, Kind::Object("TableauSite".into()));
        assert!(!site.nullable);
        assert_eq!(info(&c, &f, "Workbook", "createdAt").kind, Kind::DateTime);
        assert_eq!(info(&c, &f, "Workbook", "id").kind, Kind::Id);
        // An interface stands for its first implementer by name.
        let asset = info(&c, &f, "DataQualityWarning", "asset");
        assert!(asset.abstract_type);
        let first = c.implementers["Warnable"].first().cloned().expect("implementers");
        assert_eq!(asset.kind, Kind::Object(first));
        let (role, _) = (info(&c, &f, "ColumnField", "role"), ());
        assert!(matches!(role.kind, Kind::Enum(_)));
    }

    #[test]
    fn defaults_follow_the_declared_type() {
        let budget = Budget::new(Limits::default(), 100);
        let count = || budget.unmodeled.load(std::sync::atomic::Ordering::Relaxed);
        let value = |kind: Kind| default_value(&synthetic(kind, false, false), &budget, 7).and_then(|v| v.as_value().cloned());

        assert_eq!(value(Kind::Int), Some(Value::from(0)));
        assert_eq!(value(Kind::Boolean), Some(Value::from(false)));
        assert_eq!(value(Kind::String), Some(Value::from("")));
        assert_eq!(value(Kind::Enum("FIRST".into())), Some(Value::Enum(Name::new("FIRST"))));
        assert_eq!(value(Kind::DateTime), Some(Value::from(iso(PLACEHOLDER_TIME))));
        let id = value(Kind::Id).expect("an id");
        assert_eq!(value(Kind::Id), Some(id.clone()), "ids are stable for the same place");
        let elsewhere = default_value(&synthetic(Kind::Id, false, false), &budget, 8).and_then(|v| v.as_value().cloned());
        assert_ne!(elsewhere, Some(id), "and differ elsewhere");
        assert_eq!(count(), 8, "every made-up non-null value is counted");

        let placeholder = default_value(&synthetic(Kind::Object("TableauSite".into()), false, false), &budget, 7).expect("placeholder");
        assert!(placeholder.downcast_ref::<Placeholder>().is_some());
        assert_eq!(count(), 9);

        // Nullable → null; lists → empty; connections → empty; none counted.
        assert!(default_value(&synthetic(Kind::String, true, false), &budget, 7).is_none());
        let list = default_value(&synthetic(Kind::Object("Sheet".into()), false, true), &budget, 7).expect("a list");
        assert_eq!(list.as_list().map(<[_]>::len), Some(0));
        let conn = default_value(&synthetic(Kind::Connection, true, false), &budget, 7).expect("a connection");
        let conn = conn.downcast_ref::<Conn>().expect("a Conn");
        assert_eq!((conn.total, conn.nodes.len(), conn.page_info.has_next_page), (0, 0, false));
        assert_eq!(count(), 9);
    }
}
