//! Per service: argument and result structs, error enums, the handler trait; the processor
//! and client are in processor.rs and client.rs.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::{doc_attrs, Generator, Result};
use crate::codegen::ast::{Definition, Field, Function, Requiredness, Service, Struct, StructKind};
use crate::codegen::model::DefId;
use crate::codegen::names;

/// Names generated for one method.
pub(super) struct MethodNames {
    pub args: Ident,
    pub result: Ident,
    /// The per-method error enum, for methods that declare exceptions.
    pub error: Option<Ident>,
    pub method: Ident,
}

impl Generator<'_> {
    pub(super) fn service(&self, s: &Service) -> Result<TokenStream> {
        let ancestors = self.ancestors(s)?;
        let mut out = TokenStream::new();
        for f in &s.functions {
            out.extend(self.method_types(s, f)?);
        }
        out.extend(self.handler_trait(s, ancestors.first().copied())?);
        out.extend(self.processor(s, &ancestors)?);
        out.extend(self.client(s, ancestors.first().copied())?);
        Ok(out)
    }

    /// The services `s` extends, nearest first.
    pub(super) fn ancestors(&self, s: &Service) -> Result<Vec<DefId>> {
        let mut chain: Vec<DefId> = Vec::new();
        let mut file = self.file;
        let mut extends = s.extends.clone();
        while let Some((name, span)) = extends {
            let found = self.program.lookup(file, &name);
            let Some((id, None)) = found else {
                return Err(self
                    .program
                    .error(file, span, format!("unknown service `{name}`")));
            };
            let Definition::Service(parent) = self.program.definition(id) else {
                return Err(self
                    .program
                    .error(file, span, format!("`{name}` is not a service")));
            };
            if chain.contains(&id) || parent.name == s.name && id.file == self.file {
                return Err(self.program.error(
                    file,
                    span,
                    format!("service `{}` extends itself", s.name),
                ));
            }
            chain.push(id);
            file = id.file;
            extends = parent.extends.clone();
        }
        Ok(chain)
    }

    pub(super) fn method_names(&self, s: &Service, f: &Function) -> MethodNames {
        let base = format!("{}{}", s.name, names::camel_case(&f.name));
        MethodNames {
            args: format_ident!("{}Args", base),
            result: format_ident!("{}Result", base),
            error: (!f.throws.is_empty()).then(|| format_ident!("{}Error", base)),
            method: names::field_ident(&f.name),
        }
    }

    /// The argument struct, result struct and error enum of one method.
    fn method_types(&self, s: &Service, f: &Function) -> Result<TokenStream> {
        let n = self.method_names(s, f);
        let synthetic = synthetic_owner(self.file);
        let args = Struct {
            kind: StructKind::Struct,
            name: n.args.to_string(),
            fields: f.args.clone(),
            doc: Some(format!("The arguments of `{}.{}`.", s.name, f.name)),
            span: f.span,
        };
        let mut out = self.structure(synthetic, &args)?;
        if f.oneway {
            return Ok(out);
        }
        let mut fields: Vec<Field> = Vec::new();
        if let Some(returns) = &f.returns {
            fields.push(Field {
                id: 0,
                name: "success".into(),
                ty: returns.clone(),
                req: Requiredness::Optional,
                default: None,
                doc: Some("Field 0: the return value.".into()),
                span: f.span,
            });
        }
        for throw in &f.throws {
            let resolved = self.resolve(&throw.ty)?;
            let is_exception = matches!(resolved.target(), crate::codegen::model::Resolved::Struct(id)
                if self.program.strukt(*id).kind == StructKind::Exception);
            if !is_exception {
                return Err(self.error(
                    throw.span,
                    format!("`{}` throws a type that is not an exception", f.name),
                ));
            }
            fields.push(Field {
                req: Requiredness::Optional,
                default: None,
                doc: Some(format!(
                    "Field {}: the declared exception `{}`.",
                    throw.id, throw.name
                )),
                ..throw.clone()
            });
        }
        let result = Struct {
            kind: StructKind::Struct,
            name: n.result.to_string(),
            fields,
            doc: Some(format!(
                "The result of `{}.{}`: the return value or a declared exception.",
                s.name, f.name
            )),
            span: f.span,
        };
        out.extend(self.structure(synthetic, &result)?);
        if let Some(error) = &n.error {
            out.extend(self.error_enum(s, f, error)?);
        }
        Ok(out)
    }

    fn error_enum(&self, s: &Service, f: &Function, error: &Ident) -> Result<TokenStream> {
        let protocol = self.protocol();
        self.uses.client.set(true);
        let mut variants = Vec::new();
        let mut froms = Vec::new();
        let mut seen_types = Vec::new();
        let variant_names = throw_variants(f);
        for (throw, variant) in f.throws.iter().zip(&variant_names) {
            let ty = self.rust_type(&self.resolve(&throw.ty)?);
            let doc = format!(" The declared exception `{}`.", throw.name);
            variants.push(quote!(#[doc = #doc] #variant(#ty),));
            let key = ty.to_string();
            if !seen_types.contains(&key) {
                seen_types.push(key);
                froms.push(quote! {
                    impl From<#ty> for #error {
                        fn from(e: #ty) -> Self {
                            #error::#variant(e)
                        }
                    }
                });
            }
        }

        let doc = format!(" How `{}.{}` can fail.", s.name, f.name);
        Ok(quote! {
            #[doc = #doc]
            #[derive(Debug)]
            pub enum #error {
                #(#variants)*
                /// A TApplicationException: sent by the server, or returned by a handler to send one.
                Application(#protocol::ApplicationException),
                /// The call did not complete (client side), or a call the handler made failed.
                Client(client::ClientError),
            }

            impl std::fmt::Display for #error {
                fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    match self {
                        #(#error::#variant_names(e) => e.fmt(f),)*
                        #error::Application(e) => e.fmt(f),
                        #error::Client(e) => e.fmt(f),
                    }
                }
            }

            impl std::error::Error for #error {
                fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                    match self {
                        #(#error::#variant_names(e) => Some(e),)*
                        #error::Application(e) => Some(e),
                        #error::Client(e) => Some(e),
                    }
                }
            }

            #(#froms)*

            impl From<#protocol::ApplicationException> for #error {
                fn from(e: #protocol::ApplicationException) -> Self {
                    #error::Application(e)
                }
            }

            /// A TApplicationException from the server becomes [`Self::Application`].
            impl From<client::ClientError> for #error {
                fn from(e: client::ClientError) -> Self {
                    match e {
                        client::ClientError::Application(e) => #error::Application(e),
                        e => #error::Client(e),
                    }
                }
            }
        })
    }

    pub(super) fn service_path(&self, id: DefId, suffix: &str) -> TokenStream {
        let name = format_ident!("{}{}", self.program.definition(id).name(), suffix);
        if id.file == self.file {
            quote!(#name)
        } else {
            let module = self.module_path(id.file);
            quote!(#module::#name)
        }
    }

    /// Handler-side return type of `f`.
    pub(super) fn handler_return(&self, s: &Service, f: &Function) -> Result<TokenStream> {
        let protocol = self.protocol();
        let ok = match &f.returns {
            Some(t) => self.rust_type(&self.resolve(t)?),
            None => quote!(()),
        };
        Ok(match self.method_names(s, f).error {
            Some(error) => quote!(Result<#ok, #error>),
            None => quote!(Result<#ok, #protocol::ApplicationException>),
        })
    }

    /// Each argument as a parameter (`name: Type`) and as a struct field pattern/initializer
    /// (`name`, or `field: name_` when the name would shadow one of the processor's own
    /// `handler`, `ctx`, `header`, `args`, `out`).
    pub(super) fn arg_list(
        &self,
        f: &Function,
    ) -> Result<(Vec<TokenStream>, Vec<Ident>, Vec<TokenStream>)> {
        let mut params = Vec::new();
        let mut bindings = Vec::new();
        let mut fields = Vec::new();
        let rust_names = names::field_names(f.args.iter().map(|a| a.name.as_str()));
        for (arg, name) in f.args.iter().zip(&rust_names) {
            let mut binding = name.clone();
            // The processor's own locals, and the module's helper functions it calls.
            while matches!(
                binding.as_str(),
                "handler" | "ctx" | "header" | "args" | "out" | "write_reply" | "missing_result"
            ) || (binding != *name && rust_names.contains(&binding))
            {
                binding.push('_');
            }
            let field = names::ident(name);
            let binding = names::ident(&binding);
            let mut ty = self.rust_type(&self.resolve(&arg.ty)?);
            if self.is_option(synthetic_owner(self.file), arg)? {
                ty = quote!(Option<#ty>);
            }
            params.push(quote!(#binding: #ty));
            fields.push(if field == binding {
                quote!(#field)
            } else {
                quote!(#field: #binding)
            });
            bindings.push(binding);
        }
        Ok((params, bindings, fields))
    }

    fn handler_trait(&self, s: &Service, parent: Option<DefId>) -> Result<TokenStream> {
        self.uses.server.set(true);
        let name = format_ident!("{}Handler", s.name);
        let supertrait = match parent {
            Some(id) => self.service_path(id, "Handler"),
            None => quote!(Send + Sync + 'static),
        };
        let docs = doc_attrs(&s.doc, || format!("The `{}` service.", s.name));
        let trait_doc = format!(
            " Implement this to serve `{}`; wrap it in [`{}Processor`].",
            s.name, s.name
        );
        let mut methods = Vec::new();
        let mut forwards = Vec::new();
        for f in &s.functions {
            let method = names::field_ident(&f.name);
            let (params, bindings, _) = self.arg_list(f)?;
            let ret = self.handler_return(s, f)?;
            let fdocs = doc_attrs(&f.doc, || {
                let kind = if f.oneway {
                    "the oneway method"
                } else {
                    "the method"
                };
                format!("Handles {kind} `{}`.", f.name)
            });
            methods.push(quote! {
                #fdocs
                fn #method(&self, ctx: &server::CallContext, #(#params),*) -> #ret;
            });
            forwards.push(quote! {
                fn #method(&self, ctx: &server::CallContext, #(#params),*) -> #ret {
                    (**self).#method(ctx, #(#bindings),*)
                }
            });
        }
        Ok(quote! {
            #docs
            #[doc = ""]
            #[doc = #trait_doc]
            pub trait #name: #supertrait {
                #(#methods)*
            }

            /// A shared handler serves too, so its owner can keep a handle on it.
            impl<T: #name + ?Sized> #name for std::sync::Arc<T> {
                #(#forwards)*
            }
        })
    }
}

/// The owner of a synthetic (argument or result) struct: such structs live in no definition
/// list, and an out-of-range index never matches a real definition, so nothing is boxed on
/// their account.
fn synthetic_owner(file: usize) -> DefId {
    DefId {
        file,
        index: usize::MAX,
    }
}

/// The error enum's variant for each declared exception.
pub(super) fn throw_variants(f: &Function) -> Vec<Ident> {
    names::variant_names(f.throws.iter().map(|t| t.name.as_str()))
        .iter()
        .map(|v| names::ident(v))
        .collect()
}

/// The result struct's field for each declared exception (named beside `success`).
pub(super) fn throw_fields(f: &Function) -> Vec<Ident> {
    let success = f.returns.as_ref().map(|_| "success");
    let all = names::field_names(
        success
            .into_iter()
            .chain(f.throws.iter().map(|t| t.name.as_str())),
    );
    all.iter()
        .skip(usize::from(success.is_some()))
        .map(|n| names::ident(n))
        .collect()
}
