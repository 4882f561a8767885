//! Per service: the processor that decodes a call, runs the handler and encodes the reply.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::service::{throw_fields, throw_variants, MethodNames};
use super::{Generator, Result};
use crate::codegen::ast::{Definition, Function, Service};
use crate::codegen::model::DefId;

impl Generator<'_> {
    pub(super) fn processor(&self, s: &Service, ancestors: &[DefId]) -> Result<TokenStream> {
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
                    out: &mut #protocol::Writer<'_>,
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
                    out: &mut #protocol::Writer<'_>,
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
        let (_, idents, fields) = self.arg_list(f)?;
        let decode = if idents.is_empty() {
            quote!(let #args {} = #protocol::Decode::decode(args)?;)
        } else {
            quote!(let #args { #(#fields),* } = #protocol::Decode::decode(args)?;)
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
        let ok_pattern = if f.returns.is_some() {
            quote!(success)
        } else {
            quote!(())
        };
        let Some(error) = &n.error else {
            let result_value = if f.returns.is_some() {
                quote!(#result { success: Some(success) })
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
        // Every field spelled out: `set` is Some(value), the others None.
        let fields = throw_fields(f);
        let literal = |set: Option<&Ident>, value: TokenStream| {
            let success = f.returns.as_ref().map(|_| match set {
                None => quote!(success: Some(#value),),
                Some(_) => quote!(success: None,),
            });
            let thrown = fields.iter().map(|field| {
                if Some(field) == set {
                    quote!(#field: Some(#value),)
                } else {
                    quote!(#field: None,)
                }
            });
            quote!(#result { #success #(#thrown)* })
        };
        let ok_value = literal(None, quote!(success));
        let thrown = throw_variants(f)
            .into_iter()
            .zip(&fields)
            .map(|(variant, field)| {
                let value = literal(Some(field), quote!(e));
                quote!(Err(#error::#variant(e)) => #value,)
            });
        Ok(quote! {
            #idl_name => {
                #decode
                let result = match #call {
                    Ok(#ok_pattern) => #ok_value,
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

    /// File-private helpers the processors and clients above share.
    pub(super) fn helpers(&self) -> TokenStream {
        let mut out = TokenStream::new();
        if self.uses.write_reply.get() {
            out.extend(quote! {
                /// Appends a REPLY message answering `call` with `result`.
                fn write_reply(out: &mut protocol::Writer<'_>, call: &protocol::MessageHeader<'_>, result: &dyn protocol::Encode) {
                    let header = protocol::MessageHeader {
                        name: call.name,
                        kind: protocol::MessageType::Reply,
                        seqid: call.seqid,
                    };
                    out.write_message_begin(&header);
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
