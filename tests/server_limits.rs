//! The machine's limits: the server derives how many worker threads it can hold and never
//! aborts at the edge (docs/architecture.md "Resource limits").

mod support;

use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};
use support::process::ServeProcess;
use support::*;

const SECOND: Duration = Duration::from_secs(1);

/// The tests here each open thousands of sockets under this one process's descriptor limit:
/// they run one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// 300 MiB of address space, a common container memory limit. The server used to abort at
/// about 980 connections (mapping a new thread's signal stack failed); counting the 64 MiB
/// glibc malloc arenas that may take most of it, it now holds about 70 workers and never aborts.
const ADDRESS_SPACE: &str = "314572800";

/// Connections opened: well past what 300 MiB holds, within the descriptors a test may use.
const CONNECTIONS: usize = 2500;

/// A connect that does not wait for the handshake: past the server's cap the backlog fills
/// and a blocking connect would wait for SYN retries.
fn connect_without_waiting(addr: SocketAddr) -> Socket {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    socket.set_nonblocking(true).unwrap();
    let _ = socket.connect(&addr.into());
    socket
}

/// `tether serve --max-connections 5000 ARGS` under the 300 MiB limit, with descriptors for
/// `connections` test sockets raised; `None` (skipped) where prlimit or descriptors are short.
fn serve_under_address_limit(connections: usize, args: &[&str]) -> Option<ServeProcess> {
    if !prlimit_works() {
        skip("prlimit (util-linux) is missing");
        return None;
    }
    let wanted = connections as u64 + 200;
    if raise_open_files_limit(wanted) < wanted {
        skip(&format!(
            "fewer than {wanted} descriptors allowed for the test's sockets"
        ));
        return None;
    }
    Some(ServeProcess::start_command(
        Command::new("prlimit")
            .args([
                &format!("--as={ADDRESS_SPACE}"),
                env!("CARGO_BIN_EXE_tether"),
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--max-connections",
                "5000",
            ])
            .args(args),
    ))
}

#[test]
fn under_a_300_mib_address_space_limit_the_server_caps_threads_and_keeps_serving() {
    let _alone = one_at_a_time();
    let Some(mut server) = serve_under_address_limit(CONNECTIONS, &[]) else {
        return;
    };
    let start = Instant::now();
    let mut first: Vec<RawClient> = (0..30).map(|_| RawClient::connect(server.addr)).collect();
    for (seqid, client) in first.iter_mut().enumerate() {
        assert_eq!(client.call(&ping_call(seqid as i32)).seqid, seqid as i32);
    }
    let rest: Vec<Socket> = (first.len()..CONNECTIONS)
        .map(|_| connect_without_waiting(server.addr))
        .collect();
    // The server takes connections up to its capacity; give it a moment to try for more.
    assert!(wait_until(10 * SECOND, || server.threads() > first.len() as u64));
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server died at {} threads",
        server.threads()
    );
    let threads = server.threads();
    eprintln!(
        "{CONNECTIONS} connections under --as={ADDRESS_SPACE}: {threads} threads, {} KiB VmSize",
        server.vm_size_kib()
    );
    assert!(
        threads < CONNECTIONS as u64,
        "{threads} threads: not capped below the connections"
    );
    // The connections it holds are still served.
    for (seqid, client) in first.iter_mut().enumerate() {
        assert_eq!(
            client.call(&ping_call(100 + seqid as i32)).seqid,
            100 + seqid as i32
        );
    }
    // Once they close, a new connection is served.
    drop(first);
    drop(rest);
    let mut fresh = RawClient::from_stream(
        TcpStream::connect_timeout(&server.addr, 5 * SECOND).expect("connect after the close"),
    );
    fresh.send_framed(&ping_call(9999)).unwrap();
    assert_eq!(fresh.read_framed(10 * SECOND).reply().seqid, 9999);
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server died"
    );
    server.signal("TERM");
    let status = server.wait_exit(10 * SECOND).expect("exit after TERM");
    assert!(status.success(), "{status:?}");
    assert!(start.elapsed() < 30 * SECOND, "took {:?}", start.elapsed());
}

/// The scale probe behind README's figures, by hand on a tuned box (release build advised):
/// `cargo test --release --test server_limits -- --ignored --nocapture`. 19,000 idle
/// connections from 127.0.0.2-9 against `--max-connections 50000 --no-park`: one thread per
/// connection, the server holds what its thread capacity allows, stays up, and serves at the
/// cap. (With parking it holds them all: scripts/bench.sh's idle-scale section.)
#[test]
#[ignore = "opens 19,000 sockets and ~15,000 threads; run by hand"]
fn scale_probe_holds_idle_connections_up_to_its_thread_capacity() {
    const PROBE: usize = 19_000;
    let _alone = one_at_a_time();
    let wanted = PROBE as u64 + 100;
    if raise_open_files_limit(wanted) < wanted {
        skip("needs 19,100 descriptors");
        return;
    }
    let mut server = ServeProcess::start(&["--max-connections", "50000", "--no-park"]);
    let mut first = RawClient::connect(server.addr);
    first.call(&ping_call(0));
    let sockets: Vec<Socket> = (0..PROBE)
        .map(|i| {
            let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
            let source = SocketAddr::from(([127, 0, 0, 2 + (i % 8) as u8], 0));
            socket.bind(&source.into()).expect("bind a loopback source");
            socket.set_nonblocking(true).unwrap();
            let _ = socket.connect(&server.addr.into());
            socket
        })
        .collect();
    let mut held = 0;
    let deadline = Instant::now() + 60 * SECOND;
    while Instant::now() < deadline {
        std::thread::sleep(SECOND);
        let now = server.threads();
        if now == held {
            break;
        }
        held = now;
    }
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server died"
    );
    first.call(&ping_call(1));
    eprintln!(
        "{PROBE} connections offered: {held} threads held, {} KiB VmSize, still serving",
        server.vm_size_kib()
    );
    drop(sockets);
}

/// Descriptors `pid` has open, from /proc.
fn open_descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |dir| dir.count())
}

/// With idle parking the thread ceiling no longer caps connections: under the same 300 MiB
/// limit (about 70 threads) 3,000 idle connections are all held, on a few dozen threads, and
/// every one still answers.
#[test]
fn under_a_300_mib_address_space_limit_3000_parked_connections_are_held_and_answer() {
    const IDLE: usize = 3000;
    /// Threads besides the busy ones: 32 spares, the accept loop, the parking loop, the signal
    /// thread, and room for connections not yet parked.
    const THREADS: u64 = 64;
    let _alone = one_at_a_time();
    let Some(mut server) = serve_under_address_limit(IDLE, &["--park-after", "50ms"]) else {
        return;
    };
    let start = Instant::now();
    let mut clients: Vec<RawClient> = (0..IDLE).map(|_| RawClient::connect(server.addr)).collect();
    let pid = server.pid();
    assert!(
        wait_until(10 * SECOND, || open_descriptors(pid) >= IDLE),
        "{} descriptors open for {IDLE} connections",
        open_descriptors(pid)
    );
    assert!(
        wait_until(5 * SECOND, || server.threads() <= THREADS),
        "{} threads with {IDLE} idle connections",
        server.threads()
    );
    eprintln!(
        "{IDLE} idle under --as={ADDRESS_SPACE}: {} threads, {} KiB RSS, {} KiB VmSize",
        server.threads(),
        server.rss_kib(),
        server.vm_size_kib()
    );
    let payload = [3u8; 32];
    for (seqid, client) in clients.iter_mut().enumerate() {
        let reply = client.call(&echo_call(seqid as i32, &payload));
        assert_eq!(reply.seqid, seqid as i32);
        assert_eq!(reply.binary_field(0).as_deref(), Some(&payload[..]));
    }
    assert!(
        wait_until(5 * SECOND, || server.threads() <= THREADS),
        "{} threads after every connection answered",
        server.threads()
    );
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server died"
    );
    drop(clients);
    server.signal("TERM");
    let status = server.wait_exit(10 * SECOND).expect("exit after TERM");
    assert!(status.success(), "{status:?}");
    assert!(start.elapsed() < 30 * SECOND, "took {:?}", start.elapsed());
}
