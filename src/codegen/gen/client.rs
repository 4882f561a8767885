//! Per service: the client, generic over the call trait.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::service::{throw_fields, throw_variants, MethodNames};
use super::{doc_attrs, Generator, Result};
use crate::codegen::ast::{Function, Service};
use crate::codegen::model::DefId;

impl Generator<'_> {
    pub(super) fn client(&self, s: &Service, parent: Option<DefId>) -> Result<TokenStream> {
        self.uses.client.set(true);
        let client = format_ident!("{}Client", s.name);
        let doc = format!(" Calls `{}` over any [`client::Channel`].", s.name);
        let service_name = s.name.as_str();
        let multiplexed_doc = format!(
            " A client calling `{service_name}:method` over `channel`, for a server that serves \
             several services on one port (Apache's TMultiplexedProtocol)."
        );
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

            impl<C: client::Channel> #client<client::Multiplexed<C>> {
                #[doc = #multiplexed_doc]
                pub fn multiplexed(channel: C) -> Self {
                    #client::new(client::Multiplexed::new(channel, #service_name))
                }
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
        // The client's own `new`, `channel`, `into_channel` and `multiplexed` keep their names.
        let method = &match method.to_string().as_str() {
            "new" | "channel" | "into_channel" | "multiplexed" => format_ident!("{}_", method),
            _ => method.clone(),
        };
        let idl_name = &f.name;
        let (params, _, fields) = self.arg_list(f)?;
        let fdocs = doc_attrs(&f.doc, || format!("Calls `{}`.", f.name));
        let args_value = quote!(&#args { #(#fields),* });
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
        let thrown = throw_variants(f)
            .into_iter()
            .zip(throw_fields(f))
            .map(|(variant, field)| {
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
                let #result_binding: #result =
                    #protocol::decode_with_limits(&reply, self.channel().limits())#decode_error?;
                #success_first
                #(#thrown)*
                #finish
            }
        })
    }
}
