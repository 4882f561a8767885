//! Serves the store on the address given (default 127.0.0.1:9090) until SIGTERM or Ctrl-C.
//!
//! ```text
//! cargo run --bin kv-server -- 127.0.0.1:9090
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tether::server::{drain_on_signals, Config};
use tether_kv::{serve, Store};

fn main() -> std::io::Result<()> {
    let listen: SocketAddr = match std::env::args().nth(1) {
        Some(addr) => addr.parse().expect("an address like 127.0.0.1:9090"),
        None => Config::default().listen_addr(),
    };
    let config = Config::default()
        .listen(listen)
        .idle_timeout(Duration::from_secs(30))
        .drain_timeout(Duration::from_secs(5));
    let server = serve(config, Arc::new(Store::new()))?;
    println!("listening on {}", server.local_addr());
    drain_on_signals(server.handle())?;
    let report = server.run()?;
    println!("{report}");
    Ok(())
}
