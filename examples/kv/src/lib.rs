//! A key-value store served with tether: the service docs/guide.md builds.
//!
//! [`idl`] is generated from idl/kv.thrift by build.rs; [`Store`] implements its handler
//! trait; [`serve`] runs it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

/// The code generated from idl/kv.thrift (types, handler trait, processor, client).
pub mod idl {
    include!(concat!(env!("OUT_DIR"), "/idl/include.rs"));
}

mod store;

pub use store::Store;

use std::sync::Arc;

use idl::kv::KeyValueProcessor;
use tether::server::{Config, Server};

/// Binds a server for `store` with `config`; run it with [`Server::run`].
pub fn serve(config: Config, store: Arc<Store>) -> std::io::Result<Server> {
    Server::bind(config, KeyValueProcessor::new(store))
}
