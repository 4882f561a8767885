//! Calls a kv-server through a connection pool.
//!
//! ```text
//! cargo run --bin kv-client -- 127.0.0.1:9090 put greeting hello
//! cargo run --bin kv-client -- 127.0.0.1:9090 get greeting
//! ```

use std::time::Duration;

use tether::client::{ConnectionConfig, Pool, PoolConfig};
use tether_kv::idl::kv::{KeyValueClient, KeyValueGetError};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, command, rest @ ..] = args.as_slice() else {
        return Err("usage: kv-client ADDR get KEY | put KEY VALUE | keys PREFIX".into());
    };
    let config = PoolConfig::default()
        .connection(ConnectionConfig::default().call_timeout(Duration::from_secs(2)));
    let client = KeyValueClient::new(Pool::new([addr.clone()], config)?);
    match (command.as_str(), rest) {
        ("get", [key]) => match client.get(key.clone()) {
            Ok(entry) => println!(
                "{key} = {:?} (version {})",
                String::from_utf8_lossy(&entry.value),
                entry.version
            ),
            Err(KeyValueGetError::NotFound(e)) => println!("{} is not stored", e.key),
            Err(e) => return Err(e.into()),
        },
        ("put", [key, value]) => {
            let version = client.put(key.clone(), value.clone().into_bytes(), None)?;
            println!("{key} stored, version {version}");
        }
        ("keys", [prefix]) => println!("{:?}", client.keys(prefix.clone(), 100)?),
        _ => return Err(format!("unknown command {command} {rest:?}").into()),
    }
    Ok(())
}
