//! Per service: argument and result structs, handler trait, processor, client.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::{doc_attrs, Generator, Result};
use crate::codegen::ast::{Definition, Field, Function, Requiredness, Service, Struct, StructKind};
use crate::codegen::model::DefId;
use crate::codegen::names;

/// Names generated for one method.
struct MethodNames {
    args: Ident,
    result: Ident,
    /// The per-method error enum, for methods that declare exceptions.
    error: Option<Ident>,
    method: Ident,
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
    fn ancestors(&self, s: &Service) -> Result<Vec<DefId>> {
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

    fn method_names(&self, s: &Service, f: &Function) -> MethodNames {
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
        // Synthetic structs live in no definition list; an out-of-range index never matches a
        // real definition, so nothing is boxed on their account.
        let synthetic = DefId {
            file: self.file,
            index: usize::MAX,
        };
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
        for throw in &f.throws {
            let variant = names::ident(&names::camel_case(&throw.name));
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
        let variant_names: Vec<_> = f
            .throws
            .iter()
            .map(|t| names::ident(&names::camel_case(&t.name)))
            .collect();
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

    fn service_path(&self, id: DefId, suffix: &str) -> TokenStream {
        let name = format_ident!("{}{}", self.program.definition(id).name(), suffix);
        if id.file == self.file {
            quote!(#name)
        } else {
            let module = names::ident(&self.program.files[id.file].module);
            quote!(super::#module::#name)
        }
    }

    /// Handler-side return type of `f`.
    fn handler_return(&self, s: &Service, f: &Function) -> Result<TokenStream> {
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

    fn arg_list(&self, f: &Function) -> Result<(Vec<TokenStream>, Vec<Ident>)> {
        let mut params = Vec::new();
        let mut idents = Vec::new();
        for arg in &f.args {
            let ident = names::field_ident(&arg.name);
            let mut ty = self.rust_type(&self.resolve(&arg.ty)?);
            if arg.req == Requiredness::Optional {
                ty = quote!(Option<#ty>);
            }
            params.push(quote!(#ident: #ty));
            idents.push(ident);
        }
        Ok((params, idents))
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
        for f in &s.functions {
            let method = names::field_ident(&f.name);
            let (params, _) = self.arg_list(f)?;
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
        }
        Ok(quote! {
            #docs
            #[doc = ""]
            #[doc = #trait_doc]
            pub trait #name: #supertrait {
                #(#methods)*
            }
        })
    }

    fn processor(&self, s: &Service, ancestors: &[DefId]) -> Result<TokenStream> {
        let protocol = self.protocol();
        let handler = format_ident!("{}Handler", s.name);
        let processor = format_ident!("{}Processor", s.name);
        let service_name = &s.name;
        let mut method_names: Vec<String> = s.functions.iter().map(|f| f.name.clone()).collect();
        for id in ancestors {
            if let Definition::Service(parent) = self.program.definition(*id) {
                method_names.extend(parent.functions.iter().map(|f| f.name.clone()));
            }
        }
        let arms = s
            .functions
            .iter()
            .map(|f| self.processor_arm(s, f))
            .collect::<Result<Vec<_>>>()?;
        let inherited = ancestors.iter().map(|id| {
            let parent = self.service_path(*id, "Processor");
            quote! {
                if #parent::<H>::dispatch(&self.handler, ctx, header, args, out)? {
                    return Ok(());
                }
            }
        });
        let doc = format!(" Serves `{service_name}` by calling an [`{handler}`].");
        let dispatch_doc = format!(
            " Handles a call of one of `{service_name}`'s own methods (not inherited ones); \
             `Ok(false)` when `header.name` is not one of them."
        );
        let has_arms = !arms.is_empty();
        let dispatch_body = if has_arms {
            quote! {
                match header.name {
                    #(#arms)*
                    _ => return Ok(false),
                }
                Ok(true)
            }
        } else {
            quote! {
                let _ = (handler, ctx, header, args, out);
                Ok(false)
            }
        };
        Ok(quote! {
            #[doc = #doc]
            pub struct #processor<H> {
                handler: H,
            }

            impl<H: #handler> #processor<H> {
                /// A processor that calls `handler`.
                pub fn new(handler: H) -> Self {
                    #processor { handler }
                }

                /// The handler this processor calls.
                pub fn handler(&self) -> &H {
                    &self.handler
                }

                #[doc = #dispatch_doc]
                pub fn dispatch(
                    handler: &H,
                    ctx: &server::CallContext,
                    header: &#protocol::MessageHeader<'_>,
                    args: &mut #protocol::Reader<'_>,
                    out: &mut Vec<u8>,
                ) -> Result<bool, #protocol::ProtocolError> {
                    #dispatch_body
                }
            }

            impl<H: #handler> server::Processor for #processor<H> {
                fn service_name(&self) -> &'static str {
                    #service_name
                }

                fn method_names(&self) -> &'static [&'static str] {
                    &[#(#method_names),*]
                }

                fn process(
                    &self,
                    ctx: &server::CallContext,
                    header: &#protocol::MessageHeader<'_>,
                    args: &mut #protocol::Reader<'_>,
                    out: &mut Vec<u8>,
                ) -> Result<(), #protocol::ProtocolError> {
                    if Self::dispatch(&self.handler, ctx, header, args, out)? {
                        return Ok(());
                    }
                    #(#inherited)*
                    args.skip(#protocol::TType::Struct)?;
                    let message = format!("unknown method {}", header.name);
                    #protocol::ApplicationException::new(#protocol::ApplicationExceptionKind::UnknownMethod, message)
                        .encode_message(out, header.name, header.seqid);
                    Ok(())
                }
            }
        })
    }

    fn processor_arm(&self, s: &Service, f: &Function) -> Result<TokenStream> {
        let protocol = self.protocol();
        let n = self.method_names(s, f);
        let (
            MethodNames {
                args,
                result,
                method,
                ..
            },
            idl_name,
        ) = (&n, &f.name);
        let (_, idents) = self.arg_list(f)?;
        let decode = if idents.is_empty() {
            quote!(let #args {} = #protocol::Decode::decode(args)?;)
        } else {
            quote!(let #args { #(#idents),* } = #protocol::Decode::decode(args)?;)
        };
        let call = quote!(handler.#method(ctx, #(#idents),*));
        if f.oneway {
            return Ok(quote! {
                #idl_name => {
                    #decode
                    // A oneway call has no reply to carry an error back in.
                    let _ = #call;
                }
            });
        }
        self.uses.write_reply.set(true);
        let success = if f.returns.is_some() {
            quote!(success: Some(success),)
        } else {
            quote!()
        };
        let ok_pattern = if f.returns.is_some() {
            quote!(success)
        } else {
            quote!(())
        };
        let Some(error) = &n.error else {
            let result_value = if f.returns.is_some() {
                quote!(#result { #success })
            } else {
                quote!(#result {})
            };
            return Ok(quote! {
                #idl_name => {
                    #decode
                    match #call {
                        Ok(#ok_pattern) => write_reply(out, header, &#result_value),
                        Err(e) => e.encode_message(out, header.name, header.seqid),
                    }
                }
            });
        };
        let thrown = f.throws.iter().map(|t| {
            let variant = names::ident(&names::camel_case(&t.name));
            let field = names::field_ident(&t.name);
            quote!(Err(#error::#variant(e)) => #result { #field: Some(e), ..Default::default() },)
        });
        Ok(quote! {
            #idl_name => {
                #decode
                let result = match #call {
                    Ok(#ok_pattern) => #result { #success ..Default::default() },
                    #(#thrown)*
                    Err(#error::Application(e)) => {
                        e.encode_message(out, header.name, header.seqid);
                        return Ok(true);
                    }
                    Err(#error::Client(e)) => {
                        #protocol::ApplicationException::new(#protocol::ApplicationExceptionKind::InternalError, e.to_string())
                            .encode_message(out, header.name, header.seqid);
                        return Ok(true);
                    }
                };
                write_reply(out, header, &result);
            }
        })
    }

    fn client(&self, s: &Service, parent: Option<DefId>) -> Result<TokenStream> {
        self.uses.client.set(true);
        let client = format_ident!("{}Client", s.name);
        let doc = format!(" Calls `{}` over any [`client::Channel`].", s.name);
        let mut methods = Vec::new();
        for f in &s.functions {
            methods.push(self.client_method(s, f)?);
        }
        let (fields, new_body, channel_body, into_body, deref) = match parent {
            Some(id) => {
                let base = self.service_path(id, "Client");
                (
                    quote!(base: #base<C>,),
                    quote!(#client { base: #base::new(channel) }),
                    quote!(self.base.channel()),
                    quote!(self.base.into_channel()),
                    quote! {
                        /// The inherited methods.
                        impl<C> std::ops::Deref for #client<C> {
                            type Target = #base<C>;

                            fn deref(&self) -> &Self::Target {
                                &self.base
                            }
                        }
                    },
                )
            }
            None => (
                quote!(channel: C,),
                quote!(#client { channel }),
                quote!(&self.channel),
                quote!(self.channel),
                quote!(),
            ),
        };
        Ok(quote! {
            #[doc = #doc]
            #[derive(Debug, Clone)]
            pub struct #client<C> {
                #fields
            }

            impl<C: client::Channel> #client<C> {
                /// A client sending its calls over `channel`.
                pub fn new(channel: C) -> Self {
                    #new_body
                }

                /// The channel calls go over.
                pub fn channel(&self) -> &C {
                    #channel_body
                }

                /// Gives the channel back.
                pub fn into_channel(self) -> C {
                    #into_body
                }

                #(#methods)*
            }

            #deref
        })
    }

    fn client_method(&self, s: &Service, f: &Function) -> Result<TokenStream> {
        let protocol = self.protocol();
        let n = self.method_names(s, f);
        let MethodNames {
            args,
            result,
            method,
            error,
        } = &n;
        let idl_name = &f.name;
        let (params, idents) = self.arg_list(f)?;
        let fdocs = doc_attrs(&f.doc, || format!("Calls `{}`.", f.name));
        let args_value = quote!(&#args { #(#idents),* });
        if f.oneway {
            return Ok(quote! {
                #fdocs
                pub fn #method(&self, #(#params),*) -> Result<(), client::ClientError> {
                    self.channel().send_oneway(#idl_name, #args_value)
                }
            });
        }
        let ok = match &f.returns {
            Some(t) => self.rust_type(&self.resolve(t)?),
            None => quote!(()),
        };
        let err = match error {
            Some(error) => quote!(#error),
            None => quote!(client::ClientError),
        };
        let decode_error = if error.is_some() {
            quote!(.map_err(client::ClientError::from))
        } else {
            quote!()
        };
        let thrown = f.throws.iter().map(|t| {
            let field = names::field_ident(&t.name);
            let variant = names::ident(&names::camel_case(&t.name));
            let error = error.as_ref().expect("throws imply an error enum");
            quote! {
                if let Some(e) = result.#field {
                    return Err(#error::#variant(e));
                }
            }
        });
        let finish = if f.returns.is_some() && !f.throws.is_empty() {
            self.uses.missing_result.set(true);
            quote!(Err(missing_result(#idl_name).into()))
        } else if f.returns.is_some() {
            self.uses.missing_result.set(true);
            quote!(result.success.ok_or_else(|| missing_result(#idl_name).into()))
        } else {
            quote!(Ok(()))
        };
        let result_binding = if f.returns.is_none() && f.throws.is_empty() {
            quote!(_result)
        } else {
            quote!(result)
        };
        // Success is checked first, as Apache's generated clients do.
        let success_first = if f.returns.is_some() && !f.throws.is_empty() {
            quote! {
                if let Some(success) = result.success {
                    return Ok(success);
                }
            }
        } else {
            quote!()
        };
        Ok(quote! {
            #fdocs
            pub fn #method(&self, #(#params),*) -> Result<#ok, #err> {
                let reply = self.channel().call(#idl_name, #args_value)?;
                let #result_binding: #result = #protocol::decode_from(&reply)#decode_error?;
                #success_first
                #(#thrown)*
                #finish
            }
        })
    }

    /// File-private helpers the processors and clients above share.
    pub(super) fn helpers(&self) -> TokenStream {
        let mut out = TokenStream::new();
        if self.uses.write_reply.get() {
            out.extend(quote! {
                /// Appends a REPLY message answering `call` with `result`.
                fn write_reply(out: &mut Vec<u8>, call: &protocol::MessageHeader<'_>, result: &dyn protocol::Encode) {
                    let header = protocol::MessageHeader {
                        name: call.name,
                        kind: protocol::MessageType::Reply,
                        seqid: call.seqid,
                    };
                    protocol::write_message_begin(out, &header);
                    result.encode(out);
                }
            });
        }
        if self.uses.missing_result.get() {
            out.extend(quote! {
                /// The error for a reply that holds neither a return value nor a declared exception.
                fn missing_result(method: &str) -> protocol::ApplicationException {
                    protocol::ApplicationException::new(
                        protocol::ApplicationExceptionKind::MissingResult,
                        format!("{method} failed: unknown result"),
                    )
                }
            });
        }
        out
    }
}
