//! tether: synchronous Thrift RPC that gets long-lived connections right.
//!
//! tether speaks Apache Thrift's binary protocol on framed or unframed transport, byte for byte,
//! so any Apache Thrift peer can talk to it. The wire layer ([`protocol`]) is pure: it encodes
//! into a `Vec<u8>` and decodes from a `&[u8]`, checking every size a peer declares before
//! using it.
//!
//! ```
//! use tether::protocol::{decode_from, encode_to_vec};
//!
//! let names = vec!["ada".to_string(), "grace".to_string()];
//! let bytes = encode_to_vec(&names);
//! let back: Vec<String> = decode_from(&bytes).unwrap();
//! assert_eq!(back, names);
//! ```
//!
//! Services are described in Thrift IDL and compiled to Rust by [`codegen`] (`tether gen`, or
//! [`codegen::Builder`] from a `build.rs`): types, a handler trait, a processor and a client
//! per service. [`services`] holds the code generated for the IDL tether ships (`idl/`).
//!
//! Features: `codegen` (the IDL compiler, [`codegen::Builder`]) and `cli` (the `tether`
//! binary) are in the default set. Without them (`default-features = false`) the crate is the
//! runtime alone — protocol, transport, server, client, and what generated code uses — built on
//! mio, crossbeam-channel, parking_lot, log, byteorder, socket2 and signal-hook; docs/guide.md
//! shows a service set up that way, with `codegen` for its build script only.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
pub mod codegen;
pub mod protocol;
pub mod server;
pub mod services;
pub mod transport;

// The Echo handler sits beside the generated code it implements, but src/services/mod.rs is
// generated (and checked for freshness), so the module is declared here.
#[path = "services/echo_handler.rs"]
mod echo_handler;

pub use echo_handler::EchoService;
