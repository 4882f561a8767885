//! The parsed form of one IDL file, before names are resolved.

use super::error::Span;

/// One parsed IDL file.
#[derive(Debug, Clone, Default)]
pub(crate) struct Document {
    /// `include "path"` in order, with where each was written.
    pub includes: Vec<(String, Span)>,
    /// `namespace rs x.y`, if present.
    pub rs_namespace: Option<String>,
    pub definitions: Vec<Definition>,
    /// What Apache's compiler would warn about too, with where.
    pub warnings: Vec<(super::error::Span, String)>,
}

/// A type as written in the IDL.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Type {
    Bool,
    Byte,
    I16,
    I32,
    I64,
    Double,
    String,
    Binary,
    /// `uuid` (type id 16).
    Uuid,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>, Box<Type>),
    /// A typedef, struct, union, exception or enum, maybe `other.Name`.
    Named(String, Span),
}

/// A constant value as written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ConstValue {
    Int(i64),
    Double(f64),
    String(String),
    /// A reference to a const or an enum value (`Color.RED`, `other.LIMIT`), or `true`/`false`.
    Ident(String),
    List(Vec<(ConstValue, Span)>),
    Map(Vec<MapEntry>),
}

/// One `key: value` of a constant map, each with where it was written.
pub(crate) type MapEntry = ((ConstValue, Span), (ConstValue, Span));

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Requiredness {
    Required,
    Optional,
    /// Neither keyword: written always, absent on decode means the default.
    Default,
}

#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub id: i16,
    pub name: String,
    pub ty: Type,
    pub req: Requiredness,
    pub default: Option<(ConstValue, Span)>,
    pub doc: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StructKind {
    Struct,
    Union,
    Exception,
}

#[derive(Debug, Clone)]
pub(crate) struct Struct {
    pub kind: StructKind,
    pub name: String,
    pub fields: Vec<Field>,
    pub doc: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub(crate) struct EnumValue {
    pub name: String,
    pub value: i32,
    pub doc: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Enum {
    pub name: String,
    pub values: Vec<EnumValue>,
    pub doc: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub(crate) struct Function {
    pub name: String,
    pub oneway: bool,
    /// `None` for `void`.
    pub returns: Option<Type>,
    pub args: Vec<Field>,
    pub throws: Vec<Field>,
    pub doc: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub(crate) struct Service {
    pub name: String,
    pub extends: Option<(String, Span)>,
    pub functions: Vec<Function>,
    pub doc: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub(crate) enum Definition {
    Const {
        name: String,
        ty: Type,
        value: (ConstValue, Span),
        doc: Option<String>,
        span: Span,
    },
    Typedef {
        name: String,
        ty: Type,
        doc: Option<String>,
        span: Span,
    },
    Enum(Enum),
    Struct(Struct),
    Service(Service),
}

impl Definition {
    pub(crate) fn name(&self) -> &str {
        match self {
            Definition::Const { name, .. } | Definition::Typedef { name, .. } => name,
            Definition::Enum(e) => &e.name,
            Definition::Struct(s) => &s.name,
            Definition::Service(s) => &s.name,
        }
    }

    pub(crate) fn span(&self) -> Span {
        match self {
            Definition::Const { span, .. } | Definition::Typedef { span, .. } => *span,
            Definition::Enum(e) => e.span,
            Definition::Struct(s) => s.span,
            Definition::Service(s) => s.span,
        }
    }
}
