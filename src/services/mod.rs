//! The services tether ships: the code `tether gen` writes for idl/ (checked in, kept fresh by
//! tests/codegen_services.rs) and the handlers that implement them.
//!
//! This file is written by hand; the modules it declares beside `echo_handler` are generated and
//! never edited. Adding an IDL file to idl/ means adding it to the freshness test's list and its
//! `pub mod` line here.

/// Generated from echo.thrift.
pub mod echo;

// Private: its one public item is re-exported from the crate root as `tether::EchoService`, the
// one path to it.
pub(crate) mod echo_handler;
