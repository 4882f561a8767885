//! One multiplexed connection carrying many calls at once (from many threads, or from one
//! thread's window of pending calls), measured against one call at a time.
//!
//! ```text
//! cargo run --release --example echo_server
//! cargo run --release --example mux_client -- 127.0.0.1:9090 --callers 32 --seconds 2
//! ```
//!
//! Runs echo calls for a bounded time on (1) one [`Connection`], one call at a time, (2) one
//! [`MuxConnection`], first with one caller, then shared by `--callers` threads (its counters
//! printed), (3) one [`MuxConnection`] with one thread keeping `--callers` pending calls (queue
//! until the window is full, flush once, wait for the oldest), and, for context, (4) a [`Pool`]
//! giving each of the `--callers` threads its own connection; prints calls per second for each.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use tether::client::{
    Channel, Connection, ConnectionConfig, MuxConfig, MuxConnection, Pool, PoolConfig,
};
use tether::protocol::{Decode, Reader};
use tether::services::echo::{EchoClient, EchoEchoArgs, EchoEchoResult};

/// Each caller stops after this many calls even if time remains, so a run is bounded both ways.
const MAX_CALLS_PER_CALLER: u64 = 5_000_000;

struct Options {
    addr: String,
    callers: usize,
    run_for: Duration,
    payload: usize,
}

fn options() -> Options {
    let mut options = Options {
        addr: "127.0.0.1:9090".to_owned(),
        callers: 32,
        run_for: Duration::from_secs(2),
        payload: 16,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        match arg.as_str() {
            "--callers" => options.callers = value().max(1) as usize,
            "--seconds" => options.run_for = Duration::from_secs(value().max(1)),
            "--payload" => options.payload = value() as usize,
            _ => options.addr = arg,
        }
    }
    options
}

/// Runs `callers` threads calling echo on `channel` until `run_for` passes; returns
/// (successful calls, errors, elapsed).
fn drive(
    client: Arc<EchoClient<Arc<dyn Channel>>>,
    callers: usize,
    run_for: Duration,
    payload: usize,
) -> (u64, u64, Duration) {
    let calls = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + run_for;
    let threads: Vec<_> = (0..callers)
        .map(|_| {
            let (client, calls, errors) = (client.clone(), calls.clone(), errors.clone());
            thread::spawn(move || {
                let body = vec![b'x'; payload];
                for _ in 0..MAX_CALLS_PER_CALLER {
                    if Instant::now() >= deadline {
                        break;
                    }
                    match client.echo(body.clone()) {
                        Ok(_) => calls.fetch_add(1, Ordering::Relaxed),
                        Err(_) => errors.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("caller thread panicked");
    }
    let elapsed = started.elapsed();
    (
        calls.load(Ordering::Relaxed),
        errors.load(Ordering::Relaxed),
        elapsed,
    )
}

/// One thread keeping `window` echo calls pending on `mux` until `run_for` passes; returns
/// (successful calls, errors, elapsed).
fn drive_window(
    mux: &MuxConnection,
    window: usize,
    run_for: Duration,
    payload: usize,
) -> (u64, u64, Duration) {
    let args = EchoEchoArgs {
        payload: vec![b'x'; payload],
    };
    let (mut calls, mut errors, mut started_calls) = (0, 0, 0);
    let mut pending = VecDeque::with_capacity(window);
    let started = Instant::now();
    let deadline = started + run_for;
    loop {
        let more = Instant::now() < deadline && started_calls < MAX_CALLS_PER_CALLER;
        while more && pending.len() < window {
            started_calls += 1;
            match mux.queue_call("echo", &args) {
                Ok(call) => pending.push_back(call),
                Err(_) => {
                    errors += 1;
                    break;
                }
            }
        }
        // Everything queued since the last wait goes out in one write.
        let _ = mux.flush();
        let Some(call) = pending.pop_front() else {
            break;
        };
        // The oldest call, then every call behind it whose reply is already in: their
        // replacements are queued together and share the next write.
        let mut ready = vec![call];
        while pending.front().is_some_and(|call| call.is_ready()) {
            ready.extend(pending.pop_front());
        }
        for call in ready {
            let echoed = call.wait().ok().and_then(|body| {
                let result = EchoEchoResult::decode(&mut Reader::new(&body)).ok()?;
                result.success
            });
            match echoed {
                Some(body) if body == args.payload => calls += 1,
                _ => errors += 1,
            }
        }
    }
    (calls, errors, started.elapsed())
}

fn echo_client(channel: Arc<dyn Channel>) -> Arc<EchoClient<Arc<dyn Channel>>> {
    Arc::new(EchoClient::new(channel))
}

fn report(label: &str, (calls, errors, elapsed): (u64, u64, Duration)) -> f64 {
    let rate = calls as f64 / elapsed.as_secs_f64();
    println!("{label:<44} {calls:>9} calls {errors:>4} errors {rate:>11.0} calls/s");
    rate
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::init();
    let o = options();
    let config = ConnectionConfig::default();

    let single: Arc<dyn Channel> = Arc::new(Connection::connect(&o.addr, config.clone())?);
    let serial = report(
        "one connection, one call at a time",
        drive(echo_client(single), 1, o.run_for, o.payload),
    );

    let mux = Arc::new(MuxConnection::connect(
        &o.addr,
        MuxConfig::default().connection(config.clone()),
    )?);
    let alone = report(
        "one mux connection, 1 caller",
        drive(echo_client(mux.clone()), 1, o.run_for, o.payload),
    );
    let label = format!("one mux connection, {} callers", o.callers);
    let multiplexed = report(
        &label,
        drive(echo_client(mux.clone()), o.callers, o.run_for, o.payload),
    );
    println!("mux threads / serial: {:.2}x", multiplexed / serial);
    println!("mux threads / mux 1 caller: {:.2}x", multiplexed / alone);
    println!("  {:?}", mux.stats());

    let mux = MuxConnection::connect(&o.addr, MuxConfig::default().connection(config.clone()))?;
    let label = format!("one mux connection, 1 thread, {} pending", o.callers);
    let windowed = report(&label, drive_window(&mux, o.callers, o.run_for, o.payload));
    println!("mux window / serial: {:.2}x", windowed / serial);

    let pool_config = PoolConfig::default()
        .max_active(o.callers)
        .max_idle(o.callers)
        .connection(config);
    let pool: Arc<dyn Channel> = Arc::new(Pool::new([o.addr.clone()], pool_config)?);
    let label = format!("pool, {} callers on {} connections", o.callers, o.callers);
    report(
        &label,
        drive(echo_client(pool), o.callers, o.run_for, o.payload),
    );
    Ok(())
}
