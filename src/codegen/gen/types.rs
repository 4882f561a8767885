//! Constants, typedefs and enums (structs, unions and exceptions are in structs.rs).

use proc_macro2::TokenStream;
use quote::quote;

use super::value::Place;
use super::{doc_attrs, Generator, Result};
use crate::codegen::ast::{ConstValue, Enum, Type};
use crate::codegen::error::Span;
use crate::codegen::model::Resolved;
use crate::codegen::names;

impl Generator<'_> {
    pub(super) fn constant(
        &self,
        name: &str,
        ty: &Type,
        value: &(ConstValue, Span),
        doc: &Option<String>,
        span: Span,
    ) -> Result<TokenStream> {
        let resolved = self.resolve(ty)?;
        self.check_keys(&resolved, span)?;
        let ident = names::type_ident(name);
        let docs = doc_attrs(doc, || format!("The constant `{name}`."));
        let const_able = matches!(
            resolved.target(),
            Resolved::Bool
                | Resolved::Byte
                | Resolved::I16
                | Resolved::I32
                | Resolved::I64
                | Resolved::Double
                | Resolved::String
                | Resolved::Binary
                | Resolved::Uuid
                | Resolved::Enum(_)
        );
        let mut consts = Vec::new();
        if const_able {
            let expr = self.value_expr(
                self.file,
                (&value.0, value.1),
                &resolved,
                Place::Const,
                &mut consts,
            )?;
            let rust_type = match resolved.target() {
                Resolved::String => quote!(&str),
                Resolved::Binary => quote!(&[u8]),
                _ => self.rust_type(&resolved),
            };
            Ok(quote! { #docs pub const #ident: #rust_type = #expr; })
        } else {
            let expr = self.value_expr(
                self.file,
                (&value.0, value.1),
                &resolved,
                Place::Owned,
                &mut consts,
            )?;
            let rust_type = self.rust_type(&resolved);
            self.uses.lazy.set(true);
            Ok(quote! { #docs pub static #ident: LazyLock<#rust_type> = LazyLock::new(|| #expr); })
        }
    }

    pub(super) fn typedef(
        &self,
        name: &str,
        ty: &Type,
        doc: &Option<String>,
        span: Span,
    ) -> Result<TokenStream> {
        let resolved = self.resolve(ty)?;
        self.check_keys(&resolved, span)?;
        let ident = names::type_ident(name);
        let rust_type = self.rust_type(&resolved);
        let docs = doc_attrs(doc, || format!("The typedef `{name}`."));
        Ok(quote! { #docs pub type #ident = #rust_type; })
    }

    pub(super) fn enumeration(&self, e: &Enum) -> Result<TokenStream> {
        let name = names::type_ident(&e.name);
        let protocol = self.protocol();
        let docs = doc_attrs(&e.doc, || {
            format!(
                "The enum `{}`: an `i32` that keeps values this code does not know.",
                e.name
            )
        });
        let mut consts = Vec::new();
        let mut const_names: Vec<String> = Vec::new();
        let mut arms = Vec::new();
        let mut seen_values = Vec::new();
        for v in &e.values {
            let const_name = names::upper_snake_case(&v.name);
            if const_names.contains(&const_name) {
                return Err(self.error(
                    e.span,
                    format!(
                        "enum `{}` has two values named `{const_name}` in Rust",
                        e.name
                    ),
                ));
            }
            const_names.push(const_name.clone());
            let ident = names::ident(&const_name);
            let value = proc_macro2::Literal::i32_unsuffixed(v.value);
            let vdocs = doc_attrs(&v.doc, || format!("`{}` = {}.", v.name, v.value));
            consts.push(quote! { #vdocs pub const #ident: #name = #name(#value); });
            if !seen_values.contains(&v.value) {
                seen_values.push(v.value);
                let idl_name = &v.name;
                arms.push(quote! { #value => Some(#idl_name), });
            }
        }
        let all: Vec<_> = const_names.iter().map(|c| names::ident(c)).collect();
        let default = match e.values.first() {
            Some(v) => {
                let ident = names::ident(&names::upper_snake_case(&v.name));
                quote!(#name::#ident)
            }
            None => quote!(#name(0)),
        };
        let debug_unknown = format!("{}({{}})", e.name);
        Ok(quote! {
            #docs
            #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
            pub struct #name(pub i32);

            impl #name {
                #(#consts)*
                /// Every value the IDL declares, in declaration order.
                pub fn all() -> &'static [#name] {
                    &[#(#name::#all),*]
                }

                /// The value's name in the IDL, or `None` for a value this code does not know.
                pub fn name(self) -> Option<&'static str> {
                    match self.0 {
                        #(#arms)*
                        _ => None,
                    }
                }
            }

            impl Default for #name {
                fn default() -> Self {
                    #default
                }
            }

            impl std::fmt::Debug for #name {
                fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    match self.name() {
                        Some(name) => f.write_str(name),
                        None => write!(f, #debug_unknown, self.0),
                    }
                }
            }

            impl #protocol::WireType for #name {
                const TTYPE: #protocol::TType = #protocol::TType::I32;
            }

            impl #protocol::Encode for #name {
                fn encode(&self, w: &mut #protocol::Writer<'_>) {
                    w.write_i32(self.0);
                }
            }

            impl #protocol::Decode for #name {
                fn decode(r: &mut #protocol::Reader<'_>) -> Result<Self, #protocol::ProtocolError> {
                    r.read_i32().map(#name)
                }
            }
        })
    }
}
