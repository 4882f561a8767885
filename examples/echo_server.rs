//! A minimal tether server: the Echo service on 127.0.0.1:9090 (or the address given as the
//! first argument), drained by Ctrl-C or SIGTERM. Exits 0 after a clean drain, 1 when the drain
//! had to force connections closed.
//!
//! ```text
//! cargo run --example echo_server -- 127.0.0.1:0
//! ```

use std::net::SocketAddr;
use std::process::ExitCode;

use tether::server::{drain_on_signals, Config, Server};
use tether::services::echo::EchoProcessor;
use tether::EchoService;

fn main() -> std::io::Result<ExitCode> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let listen: SocketAddr = match std::env::args().nth(1) {
        Some(addr) => addr.parse().expect("an address like 127.0.0.1:9090"),
        None => Config::default().listen_addr(),
    };
    // The default idle timeout (60 s) stays above the client pool's 45 s, as the keep-alive
    // contract needs.
    let config = Config::default().listen(listen);
    let server = Server::bind(config, EchoProcessor::new(EchoService))?;
    // Signals first: a script that reads "listening on" may signal at once.
    drain_on_signals(server.handle())?;
    println!("listening on {}", server.local_addr());
    let report = server.run()?;
    println!("{report}");
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
