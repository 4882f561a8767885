//! A minimal tether server: the Echo service on 127.0.0.1:9090 (or the address given as the
//! first argument), drained by Ctrl-C or SIGTERM.
//!
//! ```text
//! cargo run --example echo_server -- 127.0.0.1:0
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use tether::server::{drain_on_signals, Config, Server};
use tether::services::echo::EchoProcessor;
use tether::EchoService;

fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let listen: SocketAddr = match std::env::args().nth(1) {
        Some(addr) => addr.parse().expect("an address like 127.0.0.1:9090"),
        None => Config::default().listen_addr(),
    };
    let config = Config::default()
        .listen(listen)
        .idle_timeout(Duration::from_secs(30));
    let server = Server::bind(config, EchoProcessor::new(EchoService))?;
    println!("listening on {}", server.local_addr());
    drain_on_signals(server.handle())?;
    let report = server.run()?;
    println!("{report}");
    Ok(())
}
