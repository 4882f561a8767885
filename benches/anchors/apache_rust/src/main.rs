//! apache_rust: the Echo service of idl/echo.thrift on Apache Thrift's Rust `TServer`.
//!
//! Usage: `apache_rust [ADDR] [WORKERS]` (defaults 127.0.0.1:0 and 1100). Prints
//! `listening on ADDR` first on stdout. TServer runs each connection on one pool thread for the
//! connection's life, so WORKERS must be at least the number of connections to be served.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use thrift::protocol::{TBinaryInputProtocolFactory, TBinaryOutputProtocolFactory};
use thrift::server::TServer;
use thrift::transport::{TFramedReadTransportFactory, TFramedWriteTransportFactory};

#[allow(dead_code, non_camel_case_types, clippy::all)]
mod echo;

use echo::{EchoError, EchoSyncHandler, EchoSyncProcessor};

/// 1,100: the suite's largest point is 1,000 connections, plus slack for the RSS probe.
const DEFAULT_WORKERS: usize = 1100;

struct Handler;

impl EchoSyncHandler for Handler {
    fn handle_echo(&self, payload: Vec<u8>) -> thrift::Result<Vec<u8>> {
        Ok(payload)
    }

    fn handle_ping(&self) -> thrift::Result<()> {
        Ok(())
    }

    fn handle_sleep(&self, millis: i32) -> thrift::Result<()> {
        thread::sleep(Duration::from_millis(millis.max(0) as u64));
        Ok(())
    }

    fn handle_fire(&self, _payload: Vec<u8>) -> thrift::Result<()> {
        Ok(())
    }

    fn handle_fail(&self, mode: String) -> thrift::Result<String> {
        match mode.as_str() {
            "error" => Err(thrift::Error::User(Box::new(EchoError {
                message: Some("requested failure".into()),
            }))),
            "panic" => panic!("requested panic"),
            _ => Ok(mode),
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let workers = args
        .next()
        .map(|w| w.parse().expect("WORKERS must be a number"))
        .unwrap_or(DEFAULT_WORKERS);

    // TServer::listen binds and prints nothing; to report the real port for ":0", find a free
    // port first, hand TServer that exact address, and announce it once a connect succeeds.
    let addr = resolve_port(&addr);
    let mut server = TServer::new(
        TFramedReadTransportFactory::new(),
        TBinaryInputProtocolFactory::new(),
        TFramedWriteTransportFactory::new(),
        TBinaryOutputProtocolFactory::new(),
        EchoSyncProcessor::new(Handler),
        workers,
    );
    let listen_addr = addr.clone();
    let serving = thread::spawn(move || {
        if let Err(e) = server.listen(&listen_addr) {
            eprintln!("apache_rust: {e}");
            std::process::exit(1);
        }
    });
    wait_until_accepting(&addr);
    println!("listening on {addr}");
    std::io::stdout().flush().ok();
    serving.join().ok();
}

/// Connects until the listener answers (5 s at most), so `listening on` is printed only once
/// connections are accepted, as tether serve does.
fn wait_until_accepting(addr: &str) {
    let target: SocketAddr = addr.parse().expect("resolved address");
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect_timeout(&target, Duration::from_millis(100)).is_err() {
        if Instant::now() > deadline {
            eprintln!("apache_rust: {addr} did not start accepting within 5 s");
            std::process::exit(1);
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Turns a port-0 address into a concrete free port (bind, read, release).
fn resolve_port(addr: &str) -> String {
    let probe = TcpListener::bind(addr).unwrap_or_else(|e| {
        eprintln!("apache_rust: cannot listen on {addr}: {e}");
        std::process::exit(1);
    });
    probe.local_addr().expect("bound").to_string()
}
