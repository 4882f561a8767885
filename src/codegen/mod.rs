//! The IDL compiler: Thrift IDL in, Rust out (types, handler traits, processors, clients).
//!
//! The compiler ([`Builder`], [`generate_source`]) needs the `codegen` feature (in the default
//! set); what generated code uses at run time ([`OrderedF64`]) is always here.
//!
//! Each IDL file becomes one module (named after its `namespace rs`, else after the file), and
//! a `mod.rs` declares them all, so `other.Type` in IDL is `super::other::Type` in Rust.
//!
//! From a `build.rs`:
//!
//! ```no_run
//! // build.rs
//! let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("idl");
//! tether::codegen::Builder::new()
//!     .file("idl/shop.thrift")
//!     .out_dir(&out)
//!     .write()
//!     .unwrap_or_else(|e| panic!("{e}"));
//! println!("cargo:rerun-if-changed=idl");
//! ```
//!
//! and in the crate (`include.rs` declares every generated module by its absolute path):
//!
//! ```ignore
//! pub mod idl {
//!     include!(concat!(env!("OUT_DIR"), "/idl/include.rs"));
//! }
//! ```
//!
//! Or straight from text, one file without includes:
//!
//! ```
//! use std::path::Path;
//!
//! let idl = r#"
//!     /** A greeting. */
//!     struct Hello { 1: required string name, 2: optional i32 times }
//!     service Greeter { Hello greet(1: string name) }
//! "#;
//! let rust = tether::codegen::generate_source(Path::new("hello.thrift"), idl, "::tether")?;
//! assert!(rust.contains("pub struct Hello {"));
//! assert!(rust.contains("pub times: Option<i32>,"));
//! assert!(rust.contains("pub trait GreeterHandler: Send + Sync + 'static {"));
//! # Ok::<(), tether::codegen::Error>(())
//! ```
//!
//! What the generated code looks like, for a service `Echo`:
//! - `EchoHandler`: a trait with one method per IDL method, taking `&self`, the
//!   [`CallContext`](crate::server::CallContext) and the arguments, returning
//!   `Result<T, ApplicationException>`, or `Result<T, EchoMethodError>` when the method
//!   declares exceptions (an enum of them plus `Application` and `Client`);
//! - `EchoProcessor<H>`: a [`Processor`](crate::server::Processor) dispatching to a handler;
//! - `EchoClient<C>`: methods that call over any [`Channel`](crate::client::Channel).
//!
//! Structs derive `Debug, Clone, PartialEq` (`Eq, Hash, PartialOrd, Ord` when no double is in
//! them, `Default` when every field has one); optional fields are `Option`; sets and maps are
//! `BTreeSet` and `BTreeMap` so encodings are deterministic (a `double` element or key is an
//! [`OrderedF64`]). Enums are `i32` newtypes with an
//! associated constant per value, so values from newer peers survive. Unions are Rust enums.

#[cfg(feature = "codegen")]
mod ast;
#[cfg(feature = "codegen")]
mod builder;
#[cfg(feature = "codegen")]
mod error;
#[cfg(feature = "codegen")]
mod gen;
#[cfg(feature = "codegen")]
mod lexer;
#[cfg(feature = "codegen")]
mod model;
#[cfg(feature = "codegen")]
mod names;
mod ordered_f64;
#[cfg(feature = "codegen")]
mod parser;

#[cfg(feature = "codegen")]
pub use builder::{generate_source, Builder, Generated, GeneratedFile};
#[cfg(feature = "codegen")]
pub use error::{Error, Span, SyntaxError, Warning};
pub use ordered_f64::OrderedF64;
