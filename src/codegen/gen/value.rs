//! Constant values as Rust expressions, type-checked against the type they initialise.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::{Generator, Result};
use crate::codegen::ast::{ConstValue, Definition, MapEntry, StructKind};
use crate::codegen::error::Span;
use crate::codegen::model::{DefId, Resolved};
use crate::codegen::names;

/// Where an expression goes: a `pub const` wants `&str`/`&[u8]` at its top level, everything
/// else owned values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Place {
    Const,
    Owned,
}

impl Generator<'_> {
    /// Renders `value`, written in file `file` at `span`, as an expression of type `ty`.
    pub(super) fn value_expr(
        &self,
        file: usize,
        (value, span): (&ConstValue, Span),
        ty: &Resolved,
        place: Place,
        consts: &mut Vec<DefId>,
    ) -> Result<TokenStream> {
        let mismatch = |what: &str| {
            Err(self.program.error(
                file,
                span,
                format!("constant does not fit its type: expected {what}"),
            ))
        };
        if let ConstValue::Ident(name) = value {
            if let Some(expr) = self.named_value(file, name, span, ty, place, consts)? {
                return Ok(expr);
            }
        }
        Ok(match (ty.target(), value) {
            (Resolved::Bool, ConstValue::Int(i @ (0 | 1))) => {
                let b = *i == 1;
                quote!(#b)
            }
            (Resolved::Bool, _) => return mismatch("`true`, `false`, 0 or 1"),
            (Resolved::Byte, ConstValue::Int(i)) if i8::try_from(*i).is_ok() => int(*i),
            (Resolved::I16, ConstValue::Int(i)) if i16::try_from(*i).is_ok() => int(*i),
            (Resolved::I32, ConstValue::Int(i)) if i32::try_from(*i).is_ok() => int(*i),
            (Resolved::I64, ConstValue::Int(i)) => int(*i),
            (Resolved::Byte | Resolved::I16 | Resolved::I32 | Resolved::I64, _) => {
                return mismatch("an integer in range")
            }
            (Resolved::Double, ConstValue::Int(i)) => double(*i as f64),
            (Resolved::Double, ConstValue::Double(d)) if d.is_finite() => double(*d),
            (Resolved::Double, _) => return mismatch("a finite number"),
            (Resolved::String, ConstValue::String(s)) => match place {
                Place::Const => quote!(#s),
                Place::Owned => quote!(#s.to_owned()),
            },
            (Resolved::Binary, ConstValue::String(s)) => {
                let bytes = Literal::byte_string(s.as_bytes());
                match place {
                    Place::Const => quote!(#bytes),
                    Place::Owned => quote!(#bytes.to_vec()),
                }
            }
            (Resolved::String | Resolved::Binary, _) => return mismatch("a quoted string"),
            (Resolved::Uuid, ConstValue::String(s)) => {
                let Ok(uuid) = uuid::Uuid::parse_str(s) else {
                    return mismatch(
                        "a uuid string such as \"00112233-4455-6677-8899-aabbccddeeff\"",
                    );
                };
                // Hex, so the constant reads like the IDL's string.
                let bits: TokenStream = format!("0x{:032x}", uuid.as_u128())
                    .parse()
                    .expect("a hex literal is a token");
                let protocol = self.protocol();
                quote!(#protocol::Uuid::from_u128(#bits))
            }
            (Resolved::Uuid, _) => return mismatch("a quoted uuid string"),
            (Resolved::Enum(id), ConstValue::Int(i)) => {
                let Ok(v) = i32::try_from(*i) else {
                    return mismatch("an enum value");
                };
                self.enum_value_expr(*id, v)
            }
            (Resolved::Enum(_), _) => return mismatch("an enum value"),
            (Resolved::List(element) | Resolved::Set(element), ConstValue::List(items)) => {
                let is_set = matches!(ty.target(), Resolved::Set(_));
                let items = items
                    .iter()
                    .map(|(v, s)| {
                        let item = self.value_expr(file, (v, *s), element, Place::Owned, consts)?;
                        Ok(if is_set {
                            self.key_expr(element, item)
                        } else {
                            item
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                if matches!(ty.target(), Resolved::List(_)) {
                    quote!(vec![#(#items),*])
                } else {
                    self.uses.set.set(true);
                    quote!(BTreeSet::from([#(#items),*]))
                }
            }
            // Apache's compiler accepts `{}` as an empty list or set.
            (Resolved::List(_), ConstValue::Map(entries)) if entries.is_empty() => {
                quote!(Vec::new())
            }
            (Resolved::Set(_), ConstValue::Map(entries)) if entries.is_empty() => {
                self.uses.set.set(true);
                quote!(BTreeSet::new())
            }
            (Resolved::List(_) | Resolved::Set(_), _) => return mismatch("a list `[...]`"),
            (Resolved::Map(k, v), ConstValue::Map(entries)) => {
                let entries = entries
                    .iter()
                    .map(|((key, ks), (value, vs))| {
                        let key = self.value_expr(file, (key, *ks), k, Place::Owned, consts)?;
                        let key = self.key_expr(k, key);
                        let value = self.value_expr(file, (value, *vs), v, Place::Owned, consts)?;
                        Ok(quote!((#key, #value)))
                    })
                    .collect::<Result<Vec<_>>>()?;
                self.uses.map.set(true);
                quote!(BTreeMap::from([#(#entries),*]))
            }
            (Resolved::Map(..), _) => return mismatch("a map `{...}`"),
            (Resolved::Struct(id), ConstValue::Map(entries)) => {
                self.struct_literal(file, *id, entries, consts)?
            }
            (Resolved::Struct(_), _) => return mismatch("a struct literal `{\"field\": value}`"),
            (Resolved::Typedef(..), _) => unreachable!("target() looks through typedefs"),
        })
    }

    /// Wraps a set element or map key that is a double in `OrderedF64`.
    fn key_expr(&self, ty: &Resolved, expr: TokenStream) -> TokenStream {
        if matches!(ty.target(), Resolved::Double) {
            self.uses.ordered_f64.set(true);
            quote!(OrderedF64(#expr))
        } else {
            expr
        }
    }

    /// A name used as a value: `true`/`false`, a constant, or an enum value.
    fn named_value(
        &self,
        file: usize,
        name: &str,
        span: Span,
        ty: &Resolved,
        place: Place,
        consts: &mut Vec<DefId>,
    ) -> Result<Option<TokenStream>> {
        if matches!(ty.target(), Resolved::Bool) && (name == "true" || name == "false") {
            let b = name == "true";
            return Ok(Some(quote!(#b)));
        }
        let Some((id, member)) = self.program.lookup(file, name) else {
            return Err(self
                .program
                .error(file, span, format!("unknown constant `{name}`")));
        };
        match (self.program.definition(id), member) {
            (
                Definition::Const {
                    ty: const_ty,
                    value,
                    ..
                },
                None,
            ) => {
                if consts.len() >= crate::codegen::model::MAX_CHAIN {
                    return Err(self.program.error(
                        file,
                        span,
                        "constants refer to each other too deeply",
                    ));
                }
                if consts.contains(&id) {
                    return Err(self.program.error(
                        file,
                        span,
                        format!("constant `{name}` refers to itself"),
                    ));
                }
                // Checks the constant against its own type too, so errors point at it.
                let own = self.program.resolve(id.file, const_ty)?;
                consts.push(id);
                self.value_expr(id.file, (&value.0, value.1), &own, place, consts)?;
                let expr = self.value_expr(id.file, (&value.0, value.1), ty, place, consts);
                consts.pop();
                expr.map(Some)
            }
            (Definition::Enum(e), Some(member)) => {
                let Some(v) = e.values.iter().find(|v| v.name == member) else {
                    return Err(self.program.error(
                        file,
                        span,
                        format!("enum `{}` has no value `{member}`", e.name),
                    ));
                };
                match ty.target() {
                    Resolved::Enum(expected) if *expected == id => {
                        Ok(Some(self.enum_value_expr(id, v.value)))
                    }
                    Resolved::Byte | Resolved::I16 | Resolved::I32 | Resolved::I64 => {
                        Ok(Some(int(v.value.into())))
                    }
                    _ => Err(self.program.error(
                        file,
                        span,
                        format!("`{name}` does not fit the constant's type"),
                    )),
                }
            }
            _ => Err(self.program.error(
                file,
                span,
                format!("`{name}` is not a constant or enum value"),
            )),
        }
    }

    /// `Color::RED` for a declared value, `Color(7)` for any other.
    pub(super) fn enum_value_expr(&self, id: DefId, value: i32) -> TokenStream {
        let path = self.def_path(id);
        let Definition::Enum(e) = self.program.definition(id) else {
            unreachable!("enum DefId")
        };
        match e.values.iter().find(|v| v.value == value) {
            Some(v) => {
                let name = names::ident(&names::upper_snake_case(&v.name));
                quote!(#path::#name)
            }
            None => {
                let v = int(value.into());
                quote!(#path(#v))
            }
        }
    }

    /// `Point { x: 1, y: 2 }` (every field spelled out) or `Shape::Circle(...)` for a union.
    fn struct_literal(
        &self,
        file: usize,
        id: DefId,
        entries: &[MapEntry],
        consts: &mut Vec<DefId>,
    ) -> Result<TokenStream> {
        let s = self.program.strukt(id);
        let path = self.def_path(id);
        let mut given = Vec::new();
        for ((key, key_span), value) in entries {
            let ConstValue::String(key) = key else {
                return Err(self
                    .program
                    .error(file, *key_span, "expected a quoted field name"));
            };
            let Some(field) = s.fields.iter().find(|f| &f.name == key) else {
                return Err(self.program.error(
                    file,
                    *key_span,
                    format!("`{}` has no field `{key}`", s.name),
                ));
            };
            let field_ty = self.program.resolve(id.file, &field.ty)?;
            let mut expr =
                self.value_expr(file, (&value.0, value.1), &field_ty, Place::Owned, consts)?;
            if self.program.holds_by_value(&field_ty, id) {
                expr = quote!(Box::new(#expr));
            }
            given.push((field, expr));
        }
        let field_names = names::field_names(s.fields.iter().map(|f| f.name.as_str()));
        let variant_names = names::variant_names(s.fields.iter().map(|f| f.name.as_str()));
        let position = |name: &str| s.fields.iter().position(|f| f.name == name).unwrap_or(0);
        if s.kind == StructKind::Union {
            let [(field, expr)] = given.as_slice() else {
                return Err(self.program.error(
                    file,
                    entries.first().map_or(Span::default(), |e| e.0 .1),
                    "a union constant sets exactly one field",
                ));
            };
            let variant = names::ident(&variant_names[position(&field.name)]);
            return Ok(quote!(#path::#variant(#expr)));
        }
        let mut inits = Vec::new();
        for field in &s.fields {
            let name = names::ident(&field_names[position(&field.name)]);
            let expr = match given.iter().find(|(f, _)| f.name == field.name) {
                Some((f, expr)) if self.is_option(id, f)? => quote!(Some(#expr)),
                Some((_, expr)) => expr.clone(),
                None => match self.field_default(id, field)? {
                    Some(expr) => expr,
                    None => {
                        return Err(self.program.error(
                            file,
                            entries.first().map_or(Span::default(), |e| e.0 .1),
                            format!("struct constant must set field `{}`", field.name),
                        ))
                    }
                },
            };
            inits.push(quote!(#name: #expr));
        }
        Ok(quote!(#path { #(#inits),* }))
    }
}

/// An integer literal; negative values as `-` and the magnitude so `i64::MIN` prints.
fn int(i: i64) -> TokenStream {
    let magnitude = Literal::u64_unsuffixed(i.unsigned_abs());
    if i < 0 {
        quote!(-#magnitude)
    } else {
        quote!(#magnitude)
    }
}

fn double(d: f64) -> TokenStream {
    let magnitude = Literal::f64_unsuffixed(d.abs());
    if d.is_sign_negative() {
        quote!(-#magnitude)
    } else {
        quote!(#magnitude)
    }
}
