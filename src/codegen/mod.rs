//! The IDL compiler: Thrift IDL in, Rust out (types, handler traits, processors, clients).
//!
//! The compiler ([`Builder`], [`generate_source`]) needs the `codegen` feature (in the default
//! set); what generated code uses at run time ([`OrderedF64`]) is always here, so a crate
//! depends on tether with `default-features = false` and adds `features = ["codegen"]` only
//! under `[build-dependencies]`.
//!
//! Each IDL file becomes one module, laid out as Apache's Rust generator lays files out: its
//! `namespace rs` parts, then its file name (`Buses.thrift` in `namespace rs transit` is
//! `transit::buses`, beside the other files of that namespace). A file named like its
//! namespace's last part, with no other file under that namespace, is that module itself
//! (`echo.thrift` in `namespace rs echo` is `echo`). `mod.rs` declares them all, namespaces as
//! inline modules; generated code names other files' types by relative path
//! (`super::super::transit::buses::Bus`), so the tree can sit anywhere in a crate.
//!
//! The wire matches Apache's generated code for the same IDL: the same field ids (a field
//! without an id, or with an explicit id <= 0, is numbered -1, -2, ... with a [`Warning`], unless
//! [`Builder::allow_negative_field_ids`]) and fields written in id order.
//!
//! From a `build.rs` (which then reruns whenever an IDL file it read changes: [`Builder::write`]
//! prints `cargo:rerun-if-changed` for each, included files too):
//!
//! ```no_run
//! // build.rs
//! let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("idl");
//! tether::codegen::Builder::new()
//!     .file("idl/shop.thrift")
//!     .out_dir(&out)
//!     .write()
//!     .unwrap_or_else(|e| panic!("{e}"));
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
//! associated constant per value, so values from newer peers survive. Unions are Rust enums: a
//! union with several fields on the wire is an error, and one holding only a field this code
//! does not know reads as `None` where the union is an `Option` field. A default-requiredness
//! field whose type has no `Default` (a union, a struct holding itself) is an `Option` too,
//! written only when set and `None` when a peer left it out, as Apache's peers do.

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
