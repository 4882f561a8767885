//! A recursive-descent parser for Thrift IDL, as Apache's compiler accepts it.

use std::collections::HashMap;

use super::ast::*;
use super::error::Span;
use super::lexer::{tokenize, Token, TokenKind};
use super::model::ParseOptions;

/// Where and why parsing failed.
pub(crate) type ParseError = (Span, String);

/// Parses one file's text.
pub(crate) fn parse(src: &str, options: ParseOptions) -> std::result::Result<Document, ParseError> {
    let tokens = tokenize(src)?;
    Parser {
        tokens,
        pos: 0,
        depth: 0,
        options,
        warnings: Vec::new(),
    }
    .document()
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    /// Nesting of types and constant values, bounded so hostile IDL cannot exhaust the stack.
    depth: u32,
    options: ParseOptions,
    warnings: Vec<(Span, String)>,
}

/// Far deeper than any real IDL nests `list<map<...>>` or `[[...]]`.
const MAX_NESTING: u32 = 100;

type Result<T> = std::result::Result<T, ParseError>;

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn next(&mut self) -> Token {
        let token = self.peek().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        token
    }

    fn error<T>(&self, expected: &str) -> Result<T> {
        let token = self.peek();
        Err((
            token.span,
            format!("expected {expected}, found {}", token.kind.describe()),
        ))
    }

    fn is_punct(&self, c: char) -> bool {
        self.peek().kind == TokenKind::Punct(c)
    }

    fn is_keyword(&self, word: &str) -> bool {
        matches!(&self.peek().kind, TokenKind::Ident(s) if s == word)
    }

    fn eat_punct(&mut self, c: char) -> bool {
        let found = self.is_punct(c);
        if found {
            self.next();
        }
        found
    }

    fn eat_keyword(&mut self, word: &str) -> bool {
        let found = self.is_keyword(word);
        if found {
            self.next();
        }
        found
    }

    fn expect_punct(&mut self, c: char) -> Result<Span> {
        if self.is_punct(c) {
            Ok(self.next().span)
        } else {
            self.error(&format!("`{c}`"))
        }
    }

    fn ident(&mut self, what: &str) -> Result<(String, Span)> {
        match &self.peek().kind {
            TokenKind::Ident(s) => {
                let s = s.clone();
                Ok((s, self.next().span))
            }
            _ => self.error(what),
        }
    }

    /// A plain (undotted) name for something being defined.
    fn new_name(&mut self, what: &str) -> Result<(String, Span)> {
        let (name, span) = self.ident(what)?;
        if name.contains('.') {
            return Err((span, format!("{what} may not contain `.`: `{name}`")));
        }
        Ok((name, span))
    }

    fn literal(&mut self, what: &str) -> Result<String> {
        match &self.peek().kind {
            TokenKind::Literal(s) => {
                let s = s.clone();
                self.next();
                Ok(s)
            }
            _ => self.error(what),
        }
    }

    fn list_separator(&mut self) {
        if !self.eat_punct(',') {
            self.eat_punct(';');
        }
    }

    fn document(mut self) -> Result<Document> {
        let mut doc = Document::default();
        loop {
            let token = self.peek().clone();
            let TokenKind::Ident(word) = &token.kind else {
                if token.kind == TokenKind::Eof {
                    doc.warnings = self.warnings;
                    return Ok(doc);
                }
                return self.error("a definition (struct, service, const, ...)");
            };
            match word.as_str() {
                "include" => {
                    self.next();
                    let path = self.literal("a quoted file name after `include`")?;
                    doc.includes.push((path, token.span));
                }
                "cpp_include" => {
                    self.next();
                    self.literal("a quoted file name after `cpp_include`")?;
                }
                "namespace" => {
                    self.next();
                    let scope = if self.eat_punct('*') {
                        "*".to_string()
                    } else {
                        self.ident("a language after `namespace`")?.0
                    };
                    let name = match &self.peek().kind {
                        TokenKind::Literal(_) => self.literal("a namespace")?,
                        _ => self.ident("a namespace")?.0,
                    };
                    self.annotations()?;
                    if scope == "rs" {
                        doc.rs_namespace = Some(name);
                    }
                }
                w if w.ends_with("_namespace") || w == "py_module" || w == "smalltalk_category" => {
                    self.next();
                    self.next();
                }
                _ => {
                    let definition = self.definition()?;
                    doc.definitions.push(definition);
                }
            }
        }
    }

    fn definition(&mut self) -> Result<Definition> {
        let start = self.peek().clone();
        let doc = start.doc.clone();
        let TokenKind::Ident(word) = &start.kind else {
            return self.error("a definition");
        };
        let definition = match word.as_str() {
            "const" => {
                self.next();
                let ty = self.field_type()?;
                let (name, span) = self.new_name("a constant name")?;
                self.expect_punct('=')?;
                let value = self.const_value()?;
                Definition::Const {
                    name,
                    ty,
                    value,
                    doc,
                    span,
                }
            }
            "typedef" => {
                self.next();
                let ty = self.field_type()?;
                let (name, span) = self.new_name("a typedef name")?;
                self.annotations()?;
                Definition::Typedef {
                    name,
                    ty,
                    doc,
                    span,
                }
            }
            "enum" => {
                self.next();
                Definition::Enum(self.enum_body(doc)?)
            }
            "struct" | "union" | "exception" => {
                self.next();
                let kind = match word.as_str() {
                    "struct" => StructKind::Struct,
                    "union" => StructKind::Union,
                    _ => StructKind::Exception,
                };
                let (name, span) = self.new_name("a name")?;
                self.eat_keyword("xsd_all");
                self.expect_punct('{')?;
                let fields = self.fields('}')?;
                self.annotations()?;
                Definition::Struct(Struct {
                    kind,
                    name,
                    fields,
                    doc,
                    span,
                })
            }
            "service" => {
                self.next();
                Definition::Service(self.service_body(doc)?)
            }
            "senum" => return Err((start.span, "`senum` is obsolete and not supported".into())),
            _ => {
                return self.error(
                    "a definition (struct, union, exception, enum, service, const, typedef)",
                )
            }
        };
        self.list_separator();
        Ok(definition)
    }

    fn enum_body(&mut self, doc: Option<String>) -> Result<Enum> {
        let (name, span) = self.new_name("an enum name")?;
        self.expect_punct('{')?;
        let mut values: Vec<EnumValue> = Vec::new();
        let mut next_value: i64 = 0;
        let mut seen = HashMap::new();
        while !self.eat_punct('}') {
            let doc = self.peek().doc.clone();
            let (value_name, value_span) = self.new_name("an enum value name or `}`")?;
            let value = if self.eat_punct('=') {
                match self.next().kind {
                    TokenKind::Int(v) => v,
                    _ => {
                        return Err((
                            value_span,
                            format!("expected an integer value for `{value_name}`"),
                        ))
                    }
                }
            } else {
                next_value
            };
            let value = i32::try_from(value).map_err(|_| {
                (
                    value_span,
                    format!("enum value `{value_name}` = {value} does not fit in i32"),
                )
            })?;
            if seen.insert(value_name.clone(), ()).is_some() {
                return Err((
                    value_span,
                    format!("duplicate enum value name `{value_name}`"),
                ));
            }
            next_value = i64::from(value) + 1;
            self.annotations()?;
            self.list_separator();
            values.push(EnumValue {
                name: value_name,
                value,
                doc,
            });
        }
        self.annotations()?;
        Ok(Enum {
            name,
            values,
            doc,
            span,
        })
    }

    fn service_body(&mut self, doc: Option<String>) -> Result<Service> {
        let (name, span) = self.new_name("a service name")?;
        let extends = if self.eat_keyword("extends") {
            Some(self.ident("the name of the service extended")?)
        } else {
            None
        };
        self.expect_punct('{')?;
        let mut functions: Vec<Function> = Vec::new();
        while !self.eat_punct('}') {
            let function = self.function()?;
            if functions.iter().any(|f| f.name == function.name) {
                return Err((
                    function.span,
                    format!("duplicate method `{}`", function.name),
                ));
            }
            functions.push(function);
        }
        self.annotations()?;
        Ok(Service {
            name,
            extends,
            functions,
            doc,
            span,
        })
    }

    fn function(&mut self) -> Result<Function> {
        let doc = self.peek().doc.clone();
        let oneway = self.eat_keyword("oneway");
        let returns = if self.eat_keyword("void") {
            None
        } else {
            Some(self.field_type()?)
        };
        let (name, span) = self.new_name("a method name")?;
        self.expect_punct('(')?;
        let args = self.fields(')')?;
        let throws = if self.eat_keyword("throws") {
            self.expect_punct('(')?;
            self.fields(')')?
        } else {
            Vec::new()
        };
        self.annotations()?;
        self.list_separator();
        if oneway && (returns.is_some() || !throws.is_empty()) {
            return Err((
                span,
                format!("oneway method `{name}` must return void and throw nothing"),
            ));
        }
        Ok(Function {
            name,
            oneway,
            returns,
            args,
            throws,
            doc,
            span,
        })
    }

    /// Fields up to and including `close`, numbered as Apache's compiler numbers them: a field
    /// without an id, or with an explicit id <= 0, takes the next of -1, -2, ... (counted per
    /// field list) and a warning. With `allow_negative_field_ids` (Apache's `--allow-neg-keys`)
    /// an explicit id <= 0 is kept and the count goes on below it.
    fn fields(&mut self, close: char) -> Result<Vec<Field>> {
        let mut fields: Vec<Field> = Vec::new();
        let mut next_auto_id: i64 = -1;
        while !self.eat_punct(close) {
            let doc = self.peek().doc.clone();
            let start = self.peek().span;
            let (id, without_id) = match self.peek().kind {
                TokenKind::Int(id) => {
                    let span = self.next().span;
                    self.expect_punct(':')?;
                    if id > 0 {
                        (id, false)
                    } else if self.options.allow_negative_field_ids {
                        if id != next_auto_id {
                            self.warnings.push((
                                span,
                                format!(
                                    "nonpositive field id {id} differs from the {next_auto_id} \
                                     Apache's compiler would assign"
                                ),
                            ));
                        }
                        next_auto_id = id - 1;
                        (id, false)
                    } else {
                        self.warnings.push((
                            span,
                            format!(
                                "nonpositive field id {id} is renumbered {next_auto_id}, as \
                                 Apache's compiler does (allow_negative_field_ids keeps it)"
                            ),
                        ));
                        next_auto_id -= 1;
                        (next_auto_id + 1, false)
                    }
                }
                _ => {
                    next_auto_id -= 1;
                    (next_auto_id + 1, true)
                }
            };
            let id = i16::try_from(id)
                .map_err(|_| (start, format!("field id {id} does not fit in i16")))?;
            let req = if self.eat_keyword("required") {
                Requiredness::Required
            } else if self.eat_keyword("optional") {
                Requiredness::Optional
            } else {
                Requiredness::Default
            };
            let ty = self.field_type()?;
            // `&` marks a field C++ should hold by reference; tether boxes recursive fields
            // on its own.
            self.eat_punct('&');
            let (name, span) = self.new_name("a field name")?;
            let default = if self.eat_punct('=') {
                Some(self.const_value()?)
            } else {
                None
            };
            for word in ["xsd_optional", "xsd_nillable"] {
                self.eat_keyword(word);
            }
            self.annotations()?;
            self.list_separator();
            if without_id {
                self.warnings.push((
                    span,
                    format!("field `{name}` has no id; it gets {id}, as Apache's compiler assigns"),
                ));
            }
            if let Some(other) = fields.iter().find(|f| f.id == id) {
                return Err((
                    span,
                    format!("duplicate field id {id} (`{}` and `{name}`)", other.name),
                ));
            }
            if fields.iter().any(|f| f.name == name) {
                return Err((span, format!("duplicate field name `{name}`")));
            }
            fields.push(Field {
                id,
                name,
                ty,
                req,
                default,
                doc,
                span,
            });
        }
        Ok(fields)
    }

    fn field_type(&mut self) -> Result<Type> {
        self.enter()?;
        let ty = self.field_type_inner();
        self.depth -= 1;
        ty
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err((
                self.peek().span,
                format!("nested more than {MAX_NESTING} levels deep"),
            ));
        }
        Ok(())
    }

    fn field_type_inner(&mut self) -> Result<Type> {
        let (word, span) = self.ident("a type")?;
        let ty = match word.as_str() {
            "bool" => Type::Bool,
            "byte" | "i8" => Type::Byte,
            "i16" => Type::I16,
            "i32" => Type::I32,
            "i64" => Type::I64,
            "double" => Type::Double,
            "string" => Type::String,
            "binary" => Type::Binary,
            "uuid" => Type::Uuid,
            "list" | "set" => {
                self.expect_punct('<')?;
                let element = self.field_type()?;
                self.expect_punct('>')?;
                self.cpp_type()?;
                if word == "list" {
                    Type::List(Box::new(element))
                } else {
                    Type::Set(Box::new(element))
                }
            }
            "map" => {
                self.cpp_type()?;
                self.expect_punct('<')?;
                let key = self.field_type()?;
                self.expect_punct(',')?;
                let value = self.field_type()?;
                self.expect_punct('>')?;
                Type::Map(Box::new(key), Box::new(value))
            }
            "void" => {
                return Err((
                    span,
                    "`void` is only allowed as a method's return type".into(),
                ))
            }
            _ => Type::Named(word, span),
        };
        self.annotations()?;
        Ok(ty)
    }

    fn cpp_type(&mut self) -> Result<()> {
        if self.eat_keyword("cpp_type") {
            self.literal("a quoted type after `cpp_type`")?;
        }
        Ok(())
    }

    /// `( key = "value", ... )`: parsed and dropped; none changes the Rust tether generates.
    fn annotations(&mut self) -> Result<()> {
        if !self.eat_punct('(') {
            return Ok(());
        }
        while !self.eat_punct(')') {
            self.ident("an annotation name or `)`")?;
            if self.eat_punct('=') {
                self.literal("a quoted annotation value")?;
            }
            self.list_separator();
        }
        Ok(())
    }

    fn const_value(&mut self) -> Result<(ConstValue, Span)> {
        self.enter()?;
        let value = self.const_value_inner();
        self.depth -= 1;
        value
    }

    fn const_value_inner(&mut self) -> Result<(ConstValue, Span)> {
        let token = self.next();
        let value = match token.kind {
            TokenKind::Int(i) => ConstValue::Int(i),
            TokenKind::Double(d) => ConstValue::Double(d),
            TokenKind::Literal(s) => ConstValue::String(s),
            TokenKind::Ident(s) => ConstValue::Ident(s),
            TokenKind::Punct('[') => {
                let mut items = Vec::new();
                while !self.eat_punct(']') {
                    items.push(self.const_value()?);
                    self.list_separator();
                }
                ConstValue::List(items)
            }
            TokenKind::Punct('{') => {
                let mut entries = Vec::new();
                while !self.eat_punct('}') {
                    let key = self.const_value()?;
                    self.expect_punct(':')?;
                    let value = self.const_value()?;
                    self.list_separator();
                    entries.push((key, value));
                }
                ConstValue::Map(entries)
            }
            other => {
                return Err((
                    token.span,
                    format!("expected a constant value, found {}", other.describe()),
                ))
            }
        };
        Ok((value, token.span))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_default(src: &str) -> std::result::Result<Document, ParseError> {
        parse(src, ParseOptions::default())
    }

    fn ids(src: &str, allow_negative_field_ids: bool) -> Vec<i16> {
        let doc = parse(
            src,
            ParseOptions {
                allow_negative_field_ids,
            },
        )
        .unwrap();
        let Definition::Struct(s) = &doc.definitions[0] else {
            panic!("struct expected")
        };
        s.fields.iter().map(|f| f.id).collect()
    }

    #[test]
    fn nonpositive_ids_are_renumbered_as_apache_does() {
        // thrift 0.17 --gen py numbers this -1, -2, -3, 5, -4, -5, -6.
        let src = "struct S { i32 a; 0: i32 b; -1: i32 c; 5: i32 d; i32 e; -7: i32 f; i32 g }";
        assert_eq!(ids(src, false), [-1, -2, -3, 5, -4, -5, -6]);
        let doc = parse_default(src).unwrap();
        assert_eq!(doc.warnings.len(), 6, "{:?}", doc.warnings);
        assert!(doc.warnings[1]
            .1
            .contains("nonpositive field id 0 is renumbered -2"));
    }

    #[test]
    fn an_explicit_negative_id_is_no_false_duplicate() {
        assert_eq!(ids("struct T { -1: i32 a; i32 b }", false), [-1, -2]);
        assert_eq!(ids("struct T { -1: i32 a; i32 b }", true), [-1, -2]);
        assert_eq!(
            ids("struct T { -5: i32 a; i32 b; 0: i32 c }", true),
            [-5, -6, 0]
        );
        let err = parse(
            "struct T { -2: i32 a; -2: i32 b }",
            ParseOptions {
                allow_negative_field_ids: true,
            },
        )
        .unwrap_err();
        assert!(err.1.contains("duplicate field id -2"), "{err:?}");
    }

    #[test]
    fn doc_comments_attach_to_what_follows() {
        let doc = parse_default(
            "/** The struct. */\nstruct S {\n  /** The field. */\n  1: i32 f\n  // not a doc\n  2: i32 g\n}\n\
             /// Line docs\n/// two lines\nenum E { /** first */ A }",
        )
        .unwrap();
        let Definition::Struct(s) = &doc.definitions[0] else {
            panic!("struct expected")
        };
        assert_eq!(s.doc.as_deref(), Some("The struct."));
        assert_eq!(s.fields[0].doc.as_deref(), Some("The field."));
        assert_eq!(s.fields[1].doc, None);
        let Definition::Enum(e) = &doc.definitions[1] else {
            panic!("enum expected")
        };
        assert_eq!(e.doc.as_deref(), Some("Line docs\ntwo lines"));
        assert_eq!(e.values[0].doc.as_deref(), Some("first"));
    }

    #[test]
    fn enum_values_count_on_from_the_last_explicit_one() {
        let doc = parse_default("enum E { A, B = 10, C, D = -1, E }").unwrap();
        let Definition::Enum(e) = &doc.definitions[0] else {
            panic!("enum expected")
        };
        let values: Vec<i32> = e.values.iter().map(|v| v.value).collect();
        assert_eq!(values, [0, 10, 11, -1, 0]);
    }

    #[test]
    fn fields_without_ids_count_down_from_minus_one() {
        let doc = parse_default("struct S { i32 a; 5: i32 b; optional i32 c }").unwrap();
        let Definition::Struct(s) = &doc.definitions[0] else {
            panic!("struct expected")
        };
        let ids: Vec<i16> = s.fields.iter().map(|f| f.id).collect();
        assert_eq!(ids, [-1, 5, -2]);
        assert_eq!(s.fields[2].req, Requiredness::Optional);
    }

    #[test]
    fn headers_annotations_and_old_keywords_are_accepted() {
        let doc = parse_default(
            "namespace rs a.b\nnamespace * x\nnamespace xsd t (uri = 'u')\ncpp_include \"<x>\"\n\
             php_namespace p\ninclude \"other.thrift\"\n\
             typedef list<i32> (cpp.template = \"v\") L (a = \"b\");\n\
             struct S xsd_all { 1: map cpp_type \"m\" <i32, i32> m = {} xsd_optional (k) } (x = \"y\")\n\
             service V { oneway void f(), i32 g() throws (1: S s); }",
        )
        .unwrap();
        assert_eq!(doc.rs_namespace.as_deref(), Some("a.b"));
        assert_eq!(doc.includes[0].0, "other.thrift");
        assert_eq!(doc.definitions.len(), 3);
    }

    #[test]
    fn numbers_in_every_spelling() {
        let doc = parse_default(
            "const i64 A = 0x7fffffffffffffff\nconst i64 B = -0x10\nconst double C = -1.5e3\n\
             const double D = .5\nconst i32 E = +7",
        )
        .unwrap();
        let values: Vec<ConstValue> = doc
            .definitions
            .iter()
            .map(|d| match d {
                Definition::Const { value, .. } => value.0.clone(),
                _ => panic!("const expected"),
            })
            .collect();
        assert_eq!(
            values,
            [
                ConstValue::Int(i64::MAX),
                ConstValue::Int(-16),
                ConstValue::Double(-1500.0),
                ConstValue::Double(0.5),
                ConstValue::Int(7),
            ]
        );
    }
}
