//! tether: synchronous Thrift RPC that gets long-lived connections right.
//!
//! tether speaks Apache Thrift's wire format byte for byte, so any Apache Thrift peer can talk to
//! it, with blocking I/O and plain threads (no async runtime). Where things live:
//!
//! - [`server`]: [`server::Server`] and its [`server::Config`] — one accept loop, one worker per
//!   busy connection, deadlines on every wait, graceful drain ([`server::drain_on_signals`]),
//!   services routed by name ([`server::Router`]) to a [`server::Processor`].
//! - [`client`]: [`client::Connection`], [`client::Pool`] and [`client::MuxConnection`], all
//!   behind [`client::Channel`], keeping one keep-alive contract with the server (a reused
//!   connection that failed before any reply byte is retried once, within a retry budget).
//! - [`codegen`]: the IDL compiler behind `tether gen` and [`codegen::Builder`] (for a
//!   `build.rs`; feature `codegen`): types, a handler trait, a processor and a client per service.
//! - [`services`]: the code generated for the IDL tether ships (idl/echo.thrift), and
//!   [`EchoService`], the Echo handler `tether serve` runs.
//! - [`protocol`]: the binary and compact protocols, pure: a [`protocol::Writer`] encodes into a
//!   `Vec<u8>`, a [`protocol::Reader`] decodes from a `&[u8]` (every size a peer declares checked
//!   before use), each carrying its [`protocol::Protocol`]; what generated code is written
//!   against.
//! - [`transport`]: framing (framed, unframed, THeader) and its detection, read buffers, socket
//!   options and deadlines.
//!
//! Dependencies point one way: the binary -> server, client, codegen -> transport -> protocol.
//! docs/architecture.md in the repository walks through the layers, the request path and the
//! connection lifecycle.
//!
//! A server and a client on one machine:
//!
//! ```
//! use tether::client::{Connection, ConnectionConfig};
//! use tether::server::{Config, Server};
//! use tether::services::echo::{EchoClient, EchoProcessor};
//! use tether::EchoService;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::default().listen("127.0.0.1:0".parse()?);
//! let server = Server::bind(config, EchoProcessor::new(EchoService))?;
//! let addr = server.local_addr().to_string();
//! let handle = server.handle();
//! let running = std::thread::spawn(move || server.run());
//!
//! let client = EchoClient::new(Connection::connect(&addr, ConnectionConfig::default())?);
//! assert_eq!(client.echo(b"hello".to_vec())?, b"hello");
//!
//! handle.shutdown();
//! assert!(running.join().unwrap()?.is_clean());
//! # Ok(())
//! # }
//! ```
//!
//! Features: `codegen` (the IDL compiler) and `cli` (the `tether` binary) are in the default set,
//! as is `admin` (the HTTP endpoint: /healthz, /readyz, /metrics). Without them
//! (`default-features = false`) the crate is the runtime alone — protocol, transport, server,
//! client, and what generated code uses; docs/guide.md shows a service set up that way, with
//! `codegen` for its build script only.
// One `unsafe` call, with its SAFETY note: glibc's malloc_trim in server/trim.rs.
#![deny(unsafe_code)]
#![warn(missing_docs)]

// Each module is a namespace with private submodules and one `pub use` block of its own; the
// generated code names `protocol` (and `server`, `client`) by path, so they stay public.
pub mod client;
pub mod codegen;
pub mod protocol;
pub mod server;
pub mod services;
pub mod transport;

pub use services::echo_handler::EchoService;
