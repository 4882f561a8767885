//! Structs, unions and exceptions: the type, its defaults and its codec.

use proc_macro2::TokenStream;
use quote::quote;

use super::value::Place;
use super::{doc_attrs, Generator, Result};
use crate::codegen::ast::{Field, Requiredness, Struct, StructKind};
use crate::codegen::model::{DefId, Resolved};
use crate::codegen::names;

/// A field ready to generate: its Rust name, type and how it defaults.
struct FieldPlan<'f> {
    field: &'f Field,
    /// Held as `Option`: written only when set, `None` when absent.
    option: bool,
    ident: proc_macro2::Ident,
    /// The local the decoder collects the field in (the field name unless it clashes).
    local: proc_macro2::Ident,
    resolved: Resolved,
    boxed: bool,
    /// The field's type in the struct, `Option`/`Box` included.
    rust_type: TokenStream,
    /// The value `Default` gives it, if it has one.
    default: Option<TokenStream>,
}

impl Generator<'_> {
    /// The value `Default` gives `field` of struct `owner`, or `None` when there is none
    /// (a required union, or a struct that holds itself).
    pub(super) fn field_default(&self, owner: DefId, field: &Field) -> Result<Option<TokenStream>> {
        let resolved = self.program.resolve(owner.file, &field.ty)?;
        let boxed = self.program.holds_by_value(&resolved, owner);
        let explicit = match &field.default {
            Some((value, span)) => {
                let mut consts = Vec::new();
                let expr = self.value_expr(
                    owner.file,
                    (value, *span),
                    &resolved,
                    Place::Owned,
                    &mut consts,
                )?;
                Some(if boxed { quote!(Box::new(#expr)) } else { expr })
            }
            None => None,
        };
        Ok(match (field.req, explicit) {
            (Requiredness::Optional, Some(expr)) => Some(quote!(Some(#expr))),
            (Requiredness::Optional, None) => Some(quote!(None)),
            (_, Some(expr)) => Some(expr),
            (_, None) if !boxed && self.has_default(&resolved, &mut vec![owner]) => {
                Some(quote!(Default::default()))
            }
            (Requiredness::Default, None) => Some(quote!(None)),
            (Requiredness::Required, None) => None,
        })
    }

    /// Whether `field` of struct `owner` is an `Option`: optional, or of default requiredness
    /// with no value to stand in when it is absent (a union, a struct that holds itself, a
    /// struct with a required field of such a type). Apache's peers leave such a field out
    /// when unset, so absent decodes as `None` rather than failing.
    pub(super) fn is_option(&self, owner: DefId, field: &Field) -> Result<bool> {
        Ok(match field.req {
            Requiredness::Optional => true,
            Requiredness::Required => false,
            Requiredness::Default => {
                if field.default.is_some() {
                    return Ok(false);
                }
                let resolved = self.program.resolve(owner.file, &field.ty)?;
                self.program.holds_by_value(&resolved, owner)
                    || !self.has_default(&resolved, &mut vec![owner])
            }
        })
    }

    /// Whether the Rust type of `ty` implements `Default`.
    fn has_default(&self, ty: &Resolved, seen: &mut Vec<DefId>) -> bool {
        match ty.target() {
            Resolved::Struct(id) => {
                let s = self.program.strukt(*id);
                if s.kind == StructKind::Union || seen.contains(id) {
                    return false;
                }
                seen.push(*id);
                // Only a required field needs its type's Default: an absent default-requiredness
                // field without one is an `Option` (see `is_option`).
                let all = s.fields.iter().all(|f| {
                    f.req != Requiredness::Required
                        || f.default.is_some()
                        || self
                            .program
                            .resolve(id.file, &f.ty)
                            .is_ok_and(|t| self.has_default(&t, seen))
                });
                seen.pop();
                all
            }
            _ => true,
        }
    }

    fn plan_fields<'f>(&self, id: DefId, s: &'f Struct) -> Result<Vec<FieldPlan<'f>>> {
        let mut plans: Vec<FieldPlan<'f>> = Vec::new();
        let all_names = names::field_names(s.fields.iter().map(|f| f.name.as_str()));
        let mut locals: Vec<String> = Vec::new();
        for (field, snake) in s.fields.iter().zip(all_names.clone()) {
            let resolved = self.program.resolve(id.file, &field.ty)?;
            self.check_keys(&resolved, field.span)?;
            let boxed = self.program.holds_by_value(&resolved, id);
            let mut rust_type = self.rust_type(&resolved);
            if boxed {
                rust_type = quote!(Box<#rust_type>);
            }
            let option = s.kind != StructKind::Union && self.is_option(id, field)?;
            if option {
                rust_type = quote!(Option<#rust_type>);
            }
            // The decoder's locals sit beside `r`, `ttype` and `id`; a field with one of those
            // names gets a `_` until it is unique among every field name and local.
            let mut local = snake.clone();
            while matches!(local.as_str(), "r" | "ttype" | "id")
                || (local != snake && all_names.contains(&local))
                || locals.contains(&local)
            {
                local.push('_');
            }
            locals.push(local.clone());
            let local = names::ident(&local);
            let default = if s.kind == StructKind::Union {
                None
            } else {
                self.field_default(id, field)?
            };
            plans.push(FieldPlan {
                field,
                option,
                ident: names::ident(&snake),
                local,
                resolved,
                boxed,
                rust_type,
                default,
            });
        }
        Ok(plans)
    }

    pub(super) fn structure(&self, id: DefId, s: &Struct) -> Result<TokenStream> {
        let plans = self.plan_fields(id, s)?;
        let name = names::type_ident(&s.name);
        let protocol = self.protocol();
        let mut derives = vec![quote!(Debug), quote!(Clone), quote!(PartialEq)];
        let has_float = plans.iter().any(|p| self.program.has_float(&p.resolved));
        if !has_float {
            derives.extend([quote!(Eq), quote!(Hash), quote!(PartialOrd), quote!(Ord)]);
        }
        let kind = match s.kind {
            StructKind::Struct => "struct",
            StructKind::Union => "union",
            StructKind::Exception => "exception",
        };
        let docs = doc_attrs(&s.doc, || format!("The {kind} `{}`.", s.name));
        let wire_type = quote! {
            impl #protocol::WireType for #name {
                const TTYPE: #protocol::TType = #protocol::TType::Struct;
            }
        };
        if s.kind == StructKind::Union {
            let (body, codec) = self.union(&name, &plans);
            return Ok(quote! {
                #docs
                #[derive(#(#derives),*)]
                pub enum #name { #body }
                #wire_type
                #codec
            });
        }
        let all_default = plans.iter().all(|p| p.default.is_some());
        let plain_default = plans.iter().all(|p| {
            p.default.as_ref().is_some_and(|d| {
                d.to_string() == "None" || d.to_string() == "Default :: default ()"
            })
        });
        if all_default && plain_default {
            derives.push(quote!(Default));
        }
        let fields = plans.iter().map(|p| {
            let FieldPlan {
                field,
                ident,
                rust_type,
                ..
            } = p;
            let req = match field.req {
                Requiredness::Required => "required",
                Requiredness::Optional => "optional",
                Requiredness::Default if p.option => "default requiredness, `None` when absent",
                Requiredness::Default => "default requiredness",
            };
            let fdocs = doc_attrs(&field.doc, || format!("Field {}, {req}.", field.id));
            quote!(#fdocs pub #ident: #rust_type,)
        });
        let default_impl = if all_default && !plain_default {
            let inits = plans.iter().map(|p| {
                let ident = &p.ident;
                let expr = p.default.as_ref().expect("all_default");
                quote!(#ident: #expr,)
            });
            quote! {
                impl Default for #name {
                    fn default() -> Self {
                        #name { #(#inits)* }
                    }
                }
            }
        } else {
            quote!()
        };
        let codec = self.struct_codec(&name, &s.name, &plans);
        let exception = if s.kind == StructKind::Exception {
            self.exception_impls(&name, &s.name, &plans)
        } else {
            quote!()
        };
        Ok(quote! {
            #docs
            #[derive(#(#derives),*)]
            pub struct #name { #(#fields)* }
            #default_impl
            #wire_type
            #codec
            #exception
        })
    }

    fn struct_codec(
        &self,
        name: &proc_macro2::Ident,
        idl_name: &str,
        plans: &[FieldPlan<'_>],
    ) -> TokenStream {
        let protocol = self.protocol();
        // Fields go on the wire in id order, as Apache's generated code writes them, so the
        // same value encodes to the same bytes.
        let mut by_id: Vec<&FieldPlan<'_>> = plans.iter().collect();
        by_id.sort_by_key(|p| p.field.id);
        let writes = by_id.iter().map(|p| {
            let ident = &p.ident;
            let id = proc_macro2::Literal::i16_unsuffixed(p.field.id);
            if p.option {
                quote!(w.write_optional_field(#id, &self.#ident);)
            } else {
                quote!(w.write_field(#id, &self.#ident);)
            }
        });
        let locals = plans.iter().map(|p| {
            let local = &p.local;
            let ty = self.rust_type(&p.resolved);
            let ty = if p.boxed { quote!(Box<#ty>) } else { ty };
            quote!(let mut #local: Option<#ty> = None;)
        });
        let arms = plans.iter().map(|p| {
            let local = &p.local;
            let id = proc_macro2::Literal::i16_unsuffixed(p.field.id);
            let ttype = self.ttype(&p.resolved);
            match self.union_of(&p.resolved) {
                // A union holding only a variant this code does not know leaves an `Option`
                // field unset instead of failing the whole struct.
                Some(union) if p.option => {
                    let boxed = if p.boxed {
                        quote!(.map(Box::new))
                    } else {
                        quote!()
                    };
                    quote!((#id, #ttype) => #local = #union::decode_variant(r)?#boxed,)
                }
                _ => quote!((#id, #ttype) => #local = Some(#protocol::Decode::decode(r)?),),
            }
        });
        let inits = plans.iter().map(|p| {
            let ident = &p.ident;
            let local = &p.local;
            let field_name = &p.field.name;
            let missing = quote! {
                #protocol::ProtocolError::MissingField { strukt: #idl_name, field: #field_name }
            };
            let value = match (p.field.req, &p.default) {
                _ if p.option => quote!(#local),
                (Requiredness::Required, _) | (_, None) => quote!(#local.ok_or(#missing)?),
                (_, Some(d)) if d.to_string() == "Default :: default ()" => {
                    quote!(#local.unwrap_or_default())
                }
                (_, Some(d)) if is_cheap(&p.resolved, d) => quote!(#local.unwrap_or(#d)),
                (_, Some(d)) => quote!(#local.unwrap_or_else(|| #d)),
            };
            if ident == local && p.option {
                quote!(#ident,)
            } else {
                quote!(#ident: #value,)
            }
        });
        let read_fields = if plans.is_empty() {
            quote! {
                while let Some((ttype, _)) = r.read_field_begin()? {
                    r.skip(ttype)?;
                }
            }
        } else {
            quote! {
                while let Some((ttype, id)) = r.read_field_begin()? {
                    match (id, ttype) {
                        #(#arms)*
                        _ => r.skip(ttype)?,
                    }
                }
            }
        };
        quote! {
            impl #protocol::Encode for #name {
                fn encode(&self, w: &mut #protocol::Writer<'_>) {
                    w.write_struct_begin();
                    #(#writes)*
                    w.write_field_stop();
                    w.write_struct_end();
                }
            }

            impl #protocol::Decode for #name {
                fn decode(r: &mut #protocol::Reader<'_>) -> Result<Self, #protocol::ProtocolError> {
                    r.enter()?;
                    #(#locals)*
                    #read_fields
                    r.leave();
                    Ok(#name { #(#inits)* })
                }
            }
        }
    }

    fn union(
        &self,
        name: &proc_macro2::Ident,
        plans: &[FieldPlan<'_>],
    ) -> (TokenStream, TokenStream) {
        let protocol = self.protocol();
        let variants: Vec<_> = names::variant_names(plans.iter().map(|p| p.field.name.as_str()))
            .iter()
            .map(|v| names::ident(v))
            .collect();
        let decls = plans.iter().zip(&variants).map(|(p, v)| {
            let ty = &p.rust_type;
            let docs = doc_attrs(&p.field.doc, || format!("Field {}.", p.field.id));
            quote!(#docs #v(#ty),)
        });
        let writes = plans.iter().zip(&variants).map(|(p, v)| {
            let id = proc_macro2::Literal::i16_unsuffixed(p.field.id);
            quote!(#name::#v(value) => w.write_field(#id, value),)
        });
        let arms = plans.iter().zip(&variants).map(|(p, v)| {
            let id = proc_macro2::Literal::i16_unsuffixed(p.field.id);
            let ttype = self.ttype(&p.resolved);
            quote! {
                (#id, #ttype) => {
                    if value.is_some() {
                        return Err(#protocol::ProtocolError::InvalidData {
                            reason: "union has more than one field set",
                        });
                    }
                    value = Some(#name::#v(#protocol::Decode::decode(r)?));
                }
            }
        });
        let decls = quote!(#(#decls)*);
        // An empty union has no values: `match *self {}` proves it to the compiler.
        let encode = if plans.is_empty() {
            quote! {
                let _ = w;
                match *self {}
            }
        } else {
            quote! {
                w.write_struct_begin();
                match self {
                    #(#writes)*
                }
                w.write_field_stop();
                w.write_struct_end();
            }
        };
        let read = if plans.is_empty() {
            quote! {
                while let Some((ttype, _)) = r.read_field_begin()? {
                    r.skip(ttype)?;
                }
                r.leave();
                Ok(None)
            }
        } else {
            quote! {
                let mut value = None;
                while let Some((ttype, id)) = r.read_field_begin()? {
                    match (id, ttype) {
                        #(#arms)*
                        _ => r.skip(ttype)?,
                    }
                }
                r.leave();
                Ok(value)
            }
        };
        let codec = quote! {
            impl #name {
                /// Decodes the union; `None` when it holds no field this code knows (set by a
                /// newer peer), which an optional field of this type then reads as unset.
                pub fn decode_variant(
                    r: &mut #protocol::Reader<'_>,
                ) -> Result<Option<Self>, #protocol::ProtocolError> {
                    r.enter()?;
                    #read
                }
            }

            impl #protocol::Encode for #name {
                fn encode(&self, w: &mut #protocol::Writer<'_>) {
                    #encode
                }
            }

            impl #protocol::Decode for #name {
                fn decode(r: &mut #protocol::Reader<'_>) -> Result<Self, #protocol::ProtocolError> {
                    #name::decode_variant(r)?.ok_or(#protocol::ProtocolError::InvalidData {
                        reason: "union has no field this code knows",
                    })
                }
            }
        };
        (decls, codec)
    }

    /// The path of the union `ty` is (through typedefs), if it is one.
    fn union_of(&self, ty: &Resolved) -> Option<TokenStream> {
        match ty.target() {
            Resolved::Struct(id) if self.program.strukt(*id).kind == StructKind::Union => {
                Some(self.def_path(*id))
            }
            _ => None,
        }
    }

    fn exception_impls(
        &self,
        name: &proc_macro2::Ident,
        idl_name: &str,
        plans: &[FieldPlan<'_>],
    ) -> TokenStream {
        let message = plans.iter().find(|p| {
            p.field.name == "message"
                && p.field.req != Requiredness::Optional
                && matches!(p.resolved.target(), Resolved::String)
        });
        let body = match message {
            Some(p) => {
                let ident = &p.ident;
                let format = format!("{idl_name}: {{}}");
                quote!(write!(f, #format, self.#ident))
            }
            None => quote!(write!(f, "{self:?}")),
        };
        quote! {
            impl std::fmt::Display for #name {
                fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    #body
                }
            }

            impl std::error::Error for #name {}
        }
    }
}

/// Whether a default is a plain literal (or a struct literal of them), cheap enough to
/// build eagerly: no calls, no macros.
fn is_cheap(ty: &Resolved, expr: &TokenStream) -> bool {
    let text = expr.to_string();
    let literal = !text.contains('(') && !text.contains('!');
    literal
        || matches!(
            ty.target(),
            Resolved::Bool
                | Resolved::Byte
                | Resolved::I16
                | Resolved::I32
                | Resolved::I64
                | Resolved::Double
                | Resolved::Uuid
                | Resolved::Enum(_)
        )
}
