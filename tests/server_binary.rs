//! `tether serve` as a process: the first stdout line, flags, and running out of descriptors.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::process::ServeProcess;
use support::*;

const MS: Duration = Duration::from_millis(1);
const SECOND: Duration = Duration::from_secs(1);

#[test]
fn prints_the_real_port_first_and_serves_echo() {
    let mut server = ServeProcess::start(&[]);
    assert_ne!(server.addr.port(), 0);
    let mut client = RawClient::connect(server.addr);
    let reply = client.call(&echo_call(1, b"hello"));
    assert_eq!(reply.binary_field(0), Some(b"hello".to_vec()));
    // Unframed on another connection of the same server.
    let mut plain = RawClient::connect(server.addr);
    plain.send(&echo_call(2, b"plain")).unwrap();
    let reply = plain.read_unframed(2 * SECOND).reply();
    assert_eq!(reply.binary_field(0), Some(b"plain".to_vec()));
    server.signal("TERM");
    assert!(server.wait_exit(5 * SECOND).expect("exit").success());
}

#[test]
fn flags_set_the_idle_timeout_and_max_requests() {
    let server = ServeProcess::start(&["--idle-timeout", "200ms", "--max-requests", "2"]);
    // Timed from before the connect, so the server's idle clock cannot have started earlier.
    let start = Instant::now();
    let mut idle = RawClient::connect(server.addr);
    idle.wait_closed(3 * SECOND).expect("closed");
    let waited = start.elapsed();
    assert!(waited >= 200 * MS && waited <= 2 * SECOND, "{waited:?}");

    let mut limited = RawClient::connect(server.addr);
    limited.call(&ping_call(1));
    limited.call(&ping_call(2));
    assert!(limited.wait_closed(SECOND).is_some());
}

#[test]
fn framed_only_transport_flag() {
    let server = ServeProcess::start(&["--transport", "framed", "--max-frame", "1KiB"]);
    let mut client = RawClient::connect(server.addr);
    client.call(&ping_call(1));
    client.send(&framed(&echo_call(2, &[0; 2000]))).unwrap();
    assert!(client.wait_closed(SECOND).is_some(), "over --max-frame");
    let mut plain = RawClient::connect(server.addr);
    plain.send(&ping_call(3)).unwrap();
    assert!(plain.wait_closed(SECOND).is_some(), "unframed refused");
}

/// Under RLIMIT_NOFILE 64, connections beyond the limit wait in the backlog; the server keeps
/// serving the ones it has, backs off instead of spinning, and takes the waiting ones as
/// descriptors free up.
#[test]
fn out_of_descriptors_backs_off_without_spinning_and_recovers() {
    let server = ServeProcess::start_command(Command::new("bash").args([
        "-c",
        "ulimit -n 64; exec \"$0\" serve --listen 127.0.0.1:0",
        env!("CARGO_BIN_EXE_tether"),
    ]));
    let mut clients: Vec<RawClient> = (0..100).map(|_| RawClient::connect(server.addr)).collect();
    for (seqid, client) in clients.iter_mut().enumerate() {
        client.send_framed(&ping_call(seqid as i32)).unwrap();
    }
    // The first connection that waits uses up this deadline; the rest are then checked at once.
    let deadline = Instant::now() + 2 * SECOND;
    let mut waiting = Vec::new();
    let mut served = Vec::new();
    for mut client in clients {
        let left = deadline.saturating_duration_since(Instant::now()).max(MS);
        match client.read_framed(left) {
            Received::Message(_) => served.push(client),
            Received::TimedOut => waiting.push(client),
            Received::Closed => panic!("a connection was dropped"),
        }
    }
    // 64 descriptors less the server's own and its reserve: the thread capacity caps it near 40.
    assert!(served.len() >= 20, "served {}", served.len());
    assert!(
        !waiting.is_empty(),
        "all 100 served under a 64-descriptor limit?"
    );

    let ticks = server.cpu_ticks();
    std::thread::sleep(500 * MS);
    let spent = server.cpu_ticks() - ticks;
    assert!(
        spent <= 10,
        "{spent} ticks in 500 ms while out of descriptors"
    );
    // The connections it holds still work.
    let mut first = served.remove(0);
    first.call(&ping_call(1000));

    // Free descriptors: the waiting connections are accepted and answered, each one that is
    // answered and closed making room for the next.
    drop(first);
    served.clear();
    let deadline = Instant::now() + 5 * SECOND;
    for mut client in waiting {
        let left = deadline.saturating_duration_since(Instant::now()).max(MS);
        assert!(
            matches!(client.read_framed(left), Received::Message(_)),
            "a waiting connection was never served"
        );
    }
}

#[test]
fn stats_interval_logs_the_counters() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_tether"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--stats-interval",
            "100ms",
        ])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (found, _) = std::sync::mpsc::channel::<()>();
    let reader = std::thread::spawn(move || {
        let _keep = found;
        stderr
            .lines()
            .map_while(Result::ok)
            .find(|line| line.contains("stats: accepted=0"))
    });
    let start = Instant::now();
    while !reader.is_finished() && start.elapsed() < 5 * SECOND {
        std::thread::sleep(10 * MS);
    }
    let _ = child.kill();
    let _ = child.wait();
    let line = reader.join().unwrap().expect("a stats line");
    assert!(line.contains("closed: peer_eof=0"), "{line}");
}

#[test]
fn listens_on_ipv6_loopback() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        skip("no IPv6 loopback here");
        return;
    }
    let server = ServeProcess::start_command(
        Command::new(env!("CARGO_BIN_EXE_tether")).args(["serve", "--listen", "[::1]:0"]),
    );
    assert!(server.addr.is_ipv6());
    RawClient::connect(server.addr).call(&ping_call(1));
}
