//! Every kind of traffic at once against one server, for scripts/soak.sh.
//!
//! ```text
//! cargo run --example soak_traffic -- 127.0.0.1:9090 --seconds 60 --idle-timeout-ms 2000
//! ```
//!
//! For `--seconds`, in parallel: closed-loop calls through a [`Pool`]; connections opened for
//! one call and closed; connections left idle past the server's idle timeout (raw sockets
//! waiting for the server's close, and a pool whose idle connections the server closes under
//! it); pipelined calls on a [`MuxConnection`]; hostile bytes (garbage, negative and huge frame
//! sizes, frames cut short); slow readers (calls sent, replies never read). Server-side
//! max-requests recycling comes from the server's own flag. Prints one JSON object: successful
//! calls and failed well-formed calls per kind, hostile and slow connections made. Exits
//! non-zero if any well-formed call failed.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tether::client::{Connection, ConnectionConfig, MuxConfig, MuxConnection, Pool, PoolConfig};
use tether::services::echo::EchoClient;

/// Errors printed on stderr as they happen; the rest are only counted.
const ERRORS_SHOWN: u64 = 10;

/// Paces the loops that are not closed-loop calls, so the soak's load stays bounded.
const PACE: Duration = Duration::from_millis(20);

struct Options {
    addr: SocketAddr,
    run_for: Duration,
    /// The server's idle timeout.
    idle_timeout: Duration,
}

fn options() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: soak_traffic ADDR [--seconds S] [--idle-timeout-ms MS]";
    let addr = args.next().ok_or(usage)?;
    let mut options = Options {
        addr: addr
            .parse()
            .map_err(|_| format!("invalid address {addr:?}"))?,
        run_for: Duration::from_secs(60),
        idle_timeout: Duration::from_secs(2),
    };
    while let Some(flag) = args.next() {
        let value: f64 = args
            .next()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{flag} needs a number"))?;
        match flag.as_str() {
            "--seconds" => options.run_for = Duration::from_secs_f64(value),
            "--idle-timeout-ms" => options.idle_timeout = Duration::from_secs_f64(value / 1e3),
            _ => return Err(usage.to_owned()),
        }
    }
    Ok(options)
}

#[derive(Default)]
struct Tally {
    ok: Mutex<BTreeMap<&'static str, u64>>,
    failed: Mutex<BTreeMap<&'static str, u64>>,
    failures: AtomicU64,
}

impl Tally {
    fn record<T, E: std::fmt::Display>(&self, kind: &'static str, result: Result<T, E>) {
        match result {
            Ok(_) => *self.ok.lock().entry(kind).or_default() += 1,
            Err(e) => {
                if self.failures.fetch_add(1, Relaxed) < ERRORS_SHOWN {
                    eprintln!("soak_traffic: {kind} call failed: {e}");
                }
                *self.failed.lock().entry(kind).or_default() += 1;
            }
        }
    }

    fn count(&self, kind: &'static str) {
        *self.ok.lock().entry(kind).or_default() += 1;
    }
}

/// A framed binary-protocol call of `echo(payload)`, built by hand for the raw sockets.
fn echo_frame(seqid: i32, payload: &[u8]) -> Vec<u8> {
    let mut message = Vec::new();
    message.extend_from_slice(&0x8001_0001u32.to_be_bytes());
    message.extend_from_slice(&4i32.to_be_bytes());
    message.extend_from_slice(b"echo");
    message.extend_from_slice(&seqid.to_be_bytes());
    message.push(11);
    message.extend_from_slice(&1i16.to_be_bytes());
    message.extend_from_slice(&(payload.len() as i32).to_be_bytes());
    message.extend_from_slice(payload);
    message.push(0);
    let mut frame = (message.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&message);
    frame
}

/// Bytes no valid request starts with, one kind per round.
fn hostile_bytes(round: u64) -> Vec<u8> {
    match round % 5 {
        0 => vec![0xff; 256],
        1 => (-5i32).to_be_bytes().to_vec(),
        2 => i32::MAX.to_be_bytes().to_vec(),
        3 => {
            let mut cut = echo_frame(1, &[7; 1000]);
            cut.truncate(300);
            cut
        }
        _ => {
            let mut bad = echo_frame(1, b"x");
            bad[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
            bad
        }
    }
}

fn main() -> ExitCode {
    let options = match options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("soak_traffic: {message}");
            return ExitCode::from(2);
        }
    };
    let addr = options.addr;
    let endpoint = addr.to_string();
    let deadline = Instant::now() + options.run_for;
    let tally = Arc::new(Tally::default());
    let fast = ConnectionConfig::default().call_timeout(Duration::from_secs(5));
    let mut workers: Vec<thread::JoinHandle<()>> = Vec::new();

    // Closed-loop calls through a pool: 4 threads.
    let pool = Pool::new(
        [endpoint.clone()],
        PoolConfig::default().connection(fast.clone()),
    )
    .expect("pool");
    for _ in 0..4 {
        let (client, tally) = (EchoClient::new(pool.clone()), Arc::clone(&tally));
        workers.push(thread::spawn(move || {
            while Instant::now() < deadline {
                tally.record("closed_loop", client.echo(b"soak".to_vec()));
            }
        }));
    }
    // Pipelined: 4 threads sharing one multiplexed connection.
    let mux = Arc::new(
        MuxConnection::connect(&endpoint, MuxConfig::default().connection(fast.clone()))
            .expect("mux connect"),
    );
    for _ in 0..4 {
        let (client, tally) = (EchoClient::new(Arc::clone(&mux)), Arc::clone(&tally));
        workers.push(thread::spawn(move || {
            while Instant::now() < deadline {
                tally.record("pipelined", client.echo(vec![3; 512]));
            }
        }));
    }
    // Connections opened for one call and closed.
    {
        let (tally, endpoint, fast) = (Arc::clone(&tally), endpoint.clone(), fast.clone());
        workers.push(thread::spawn(move || {
            while Instant::now() < deadline {
                let call = Connection::connect(&endpoint, fast.clone())
                    .and_then(|c| EchoClient::new(c).echo(b"churn".to_vec()));
                tally.record("churn", call);
                thread::sleep(PACE);
            }
        }));
    }
    // A pool whose idle connections outlive the server's idle timeout (its own is 45 s): the
    // server closes them while they sit in the pool, and calls still succeed.
    {
        let tally = Arc::clone(&tally);
        let pool = Pool::new(
            [endpoint.clone()],
            PoolConfig::default().connection(fast.clone()),
        )
        .expect("pool");
        let pause = options.idle_timeout + options.idle_timeout / 4;
        workers.push(thread::spawn(move || {
            let client = EchoClient::new(pool);
            while Instant::now() + pause < deadline {
                tally.record("after_idle", client.echo(b"again".to_vec()));
                thread::sleep(pause);
            }
        }));
    }
    // Raw idle connections: one call, then wait for the server's idle close.
    for _ in 0..4 {
        let tally = Arc::clone(&tally);
        let wait = options.idle_timeout * 3;
        workers.push(thread::spawn(move || {
            while Instant::now() + wait < deadline {
                let closed = raw_idle(addr, wait);
                tally.record("idle_closed", closed);
            }
        }));
    }
    // Hostile bytes: the server closes the connection; nothing is asserted but its survival.
    {
        let tally = Arc::clone(&tally);
        workers.push(thread::spawn(move || {
            let mut round = 0;
            while Instant::now() < deadline {
                if let Ok(mut stream) = TcpStream::connect(addr) {
                    let _ = stream.write_all(&hostile_bytes(round));
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(3)));
                    let _ = stream.read(&mut [0; 512]);
                    tally.count("hostile");
                }
                round += 1;
                thread::sleep(PACE);
            }
        }));
    }
    // Slow readers: 64 calls of 64 KiB sent, replies never read, held for a while.
    {
        let tally = Arc::clone(&tally);
        workers.push(thread::spawn(move || {
            let calls: Vec<u8> = (0..64)
                .flat_map(|i| echo_frame(i, &[9; 64 << 10]))
                .collect();
            while Instant::now() < deadline {
                if let Ok(mut stream) = TcpStream::connect(addr) {
                    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
                    let _ = stream.write_all(&calls);
                    thread::sleep(Duration::from_millis(1500));
                    tally.count("slow_reader");
                }
            }
        }));
    }
    for worker in workers {
        let _ = worker.join();
    }
    let json = |map: &BTreeMap<&'static str, u64>| {
        let fields: Vec<String> = map.iter().map(|(k, v)| format!("\"{k}\": {v}")).collect();
        format!("{{{}}}", fields.join(", "))
    };
    println!(
        "{{\"ok\": {}, \"failed\": {}, \"pool_retries\": {}}}",
        json(&tally.ok.lock()),
        json(&tally.failed.lock()),
        pool.stats().retries
    );
    if tally.failures.load(Relaxed) == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// One call on a raw connection, then a wait for the server to close it; `Err` if the call
/// failed or the connection stayed open past `wait`.
fn raw_idle(addr: SocketAddr, wait: Duration) -> Result<(), String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    stream
        .write_all(&echo_frame(1, b"idle"))
        .map_err(|e| format!("write: {e}"))?;
    stream
        .set_read_timeout(Some(wait))
        .map_err(|e| e.to_string())?;
    let mut reply = [0u8; 64];
    let started = Instant::now();
    let n = stream.read(&mut reply).map_err(|e| format!("read: {e}"))?;
    if n == 0 {
        return Err("closed before the reply".into());
    }
    loop {
        match stream.read(&mut reply) {
            Ok(0) => return Ok(()),
            Ok(_) => continue,
            Err(_) if started.elapsed() >= wait => {
                return Err(format!("still open after {wait:?}"));
            }
            Err(e) => return Err(format!("read: {e}")),
        }
    }
}
