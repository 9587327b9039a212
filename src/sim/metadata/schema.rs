//! Builds the served schema from `queries/schema.graphql`: every type,
//! field, argument and enum of the file becomes an async-graphql dynamic
//! type, and every field resolves through [`resolve_field`].

use std::sync::Arc;

use async_graphql::dynamic::{
    Enum, Field, FieldFuture, FieldValue, InputObject, InputValue, Interface, InterfaceField, Object, ResolverContext,
    Scalar, Schema, TypeRef,
};
use async_graphql::parser::types::{BaseType, ConstDirective, Type, TypeKind, TypeSystemDefinition};
use async_graphql::{Error, Name, Value};

use super::connection::{self, Conn, PageInfo};
use super::graph::{self, Out, N};
use super::Budget;
use crate::sim::dataset::Dataset;
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

fn deprecation(directives: &[async_graphql::Positioned<ConstDirective>]) -> Option<Option<String>> {
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

pub fn build(sdl: &str) -> Result<Schema, String> {
    let doc = async_graphql::parser::parse_schema(sdl).map_err(|e| format!("schema.graphql does not parse: {e}"))?;
    // Values of interface-typed fields carry their concrete type name;
    // values of object-typed fields must not (the wrapper hides them).
    let interfaces: std::collections::HashSet<String> = doc
        .definitions
        .iter()
        .filter_map(|d| match d {
            TypeSystemDefinition::Type(t) if matches!(t.node.kind, TypeKind::Interface(_)) => Some(t.node.name.node.to_string()),
            _ => None,
        })
        .collect();
    let mut builder = Schema::build("Query", None, None);
    for def in doc.definitions {
        let TypeSystemDefinition::Type(def) = def else { continue };
        let def = def.node;
        let type_name = def.name.node.to_string();
        builder = match def.kind {
            TypeKind::Scalar => builder.register(Scalar::new(type_name)),
            TypeKind::Object(obj) => {
                let mut o = Object::new(&type_name);
                for i in &obj.implements {
                    o = o.implement(i.node.to_string());
                }
                for f in obj.fields {
                    let f = f.node;
                    let name = f.name.node.to_string();
                    let (owner, field_name) = (type_name.clone(), name.clone());
                    let shape = Shape { abstract_type: interfaces.contains(base_name(&f.ty.node)), nullable: f.ty.node.nullable };
                    let mut field = Field::new(name, type_ref(&f.ty.node), move |rc| resolver(&owner, &field_name, shape, rc));
                    for a in f.arguments {
                        field = field.argument(InputValue::new(a.node.name.node.to_string(), type_ref(&a.node.ty.node)));
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
                for f in iface.fields {
                    let f = f.node;
                    let mut field = InterfaceField::new(f.name.node.to_string(), type_ref(&f.ty.node));
                    for a in f.arguments {
                        field = field.argument(InputValue::new(a.node.name.node.to_string(), type_ref(&a.node.ty.node)));
                    }
                    i = i.field(field);
                }
                builder.register(i)
            }
            TypeKind::Enum(e) => builder.register(Enum::new(&type_name).items(e.values.iter().map(|v| v.node.value.node.to_string()))),
            TypeKind::InputObject(input) => {
                let mut o = InputObject::new(&type_name);
                for f in input.fields {
                    o = o.field(InputValue::new(f.node.name.node.to_string(), type_ref(&f.node.ty.node)));
                }
                builder.register(o)
            }
            TypeKind::Union(_) => return Err(format!("unions are not supported by the simulated site ({type_name})")),
        };
    }
    builder.finish().map_err(|e| format!("schema.graphql is not a valid schema: {e}"))
}

/// What a resolver needs to know about its field's declared type.
#[derive(Clone, Copy)]
struct Shape {
    /// An interface: values must carry their concrete type name.
    abstract_type: bool,
    /// May be null: a single object can be cut at the node limit.
    nullable: bool,
}

fn resolver<'a>(owner: &str, field: &str, shape: Shape, rc: ResolverContext<'a>) -> FieldFuture<'a> {
    match resolve_field(owner, field, shape, &rc) {
        Ok(v) => FieldFuture::Value(v),
        Err(e) => FieldFuture::new(async move { Err::<Option<FieldValue<'a>>, _>(e) }),
    }
}

/// Resolves one field of one parent value.
fn resolve_field(owner: &str, field: &str, shape: Shape, rc: &ResolverContext<'_>) -> Result<Option<FieldValue<'static>>, Error> {
    let st = rc.data::<Arc<SimState>>()?;
    let budget = rc.data::<Arc<Budget>>()?;
    budget.tick()?;
    // The indexes first: building them reads the dataset itself.
    let md = st.metadata();
    let d = st.data();
    let d = &*d;

    if owner == "Query" {
        let conn = connection::root(d, st.now(), md, budget, field, &rc.args)?;
        return Ok(Some(FieldValue::owned_any(conn)));
    }
    if let Some(conn) = rc.parent_value.downcast_ref::<Conn>() {
        return Ok(Some(match field {
            "nodes" => nodes(d, budget, conn.nodes.clone(), shape.abstract_type),
            "pageInfo" => FieldValue::owned_any(conn.page_info.clone()),
            "totalCount" => FieldValue::value(conn.total as i64),
            _ => return Ok(None),
        }));
    }
    if let Some(p) = rc.parent_value.downcast_ref::<PageInfo>() {
        return Ok(match field {
            "endCursor" => p.end_cursor.clone().map(FieldValue::value),
            "hasNextPage" => Some(FieldValue::value(p.has_next_page)),
            _ => None,
        });
    }
    let n = *rc.parent_value.try_downcast_ref::<N>()?;
    Ok(match graph::resolve(d, st.now(), &md.index, n, field) {
        Out::Null => None,
        Out::Str(s) => Some(FieldValue::value(s)),
        Out::Bool(b) => Some(FieldValue::value(b)),
        Out::Int(i) => Some(FieldValue::value(i)),
        Out::Enum(e) => Some(FieldValue::value(Value::Enum(Name::new(e)))),
        // A non-null object cannot be cut without voiding its parent, so it
        // is counted but always sent.
        Out::Node(_) if budget.take(1) == 0 && shape.nullable => None,
        Out::Node(n) => Some(node(d, n, shape.abstract_type)),
        Out::Nodes(list) => Some(nodes(d, budget, list, shape.abstract_type)),
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

/// A list of nodes, cut at the node limit.
fn nodes(d: &Dataset, budget: &Budget, mut list: Vec<N>, abstract_type: bool) -> FieldValue<'static> {
    let allowed = budget.take(list.len());
    list.truncate(allowed);
    FieldValue::list(list.into_iter().map(|n| node(d, n, abstract_type)))
}
