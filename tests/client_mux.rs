//! `MuxConnection` against a scripted loopback peer (tests/support/client.rs): out-of-order
//! replies, late replies, socket death, the in-flight cap; blocking calls and one thread's window
//! of pending calls.

mod support;

use std::collections::VecDeque;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use tether::client::{Channel, ClientError, MuxConfig, MuxConnection, PendingCall};
use tether::services::echo::EchoClient;

use support::client::*;

#[test]
fn mux_routes_replies_that_come_out_of_order() {
    let (addr, _peer) = peer(|_, mut s| {
        let mut held = Vec::new();
        while let Some(call) = read_call(&mut s) {
            held.push(call);
            if held.len() == 4 {
                for call in held.drain(..).rev() {
                    answer(&mut s, &call);
                }
            }
        }
    });
    let mux = Arc::new(MuxConnection::connect(&addr.to_string(), MuxConfig::default()).unwrap());
    let callers: Vec<_> = (0..4u8)
        .map(|i| {
            let mux = mux.clone();
            thread::spawn(move || payload_of(&mux.call("echo", &Payload(vec![i; 5])).unwrap()))
        })
        .collect();
    for (i, caller) in callers.into_iter().enumerate() {
        assert_eq!(caller.join().unwrap(), vec![i as u8; 5]);
    }
}

#[test]
fn mux_late_reply_is_discarded_and_connection_carries_on() {
    let (addr, _peer) = peer(|_, mut s| {
        while let Some(call) = read_call(&mut s) {
            if call.payload == b"slow" {
                thread::sleep(Duration::from_millis(300));
            }
            answer(&mut s, &call);
        }
    });
    let config = MuxConfig::default().connection(fast().call_timeout(Duration::from_secs(2)));
    let mux = MuxConnection::connect(&addr.to_string(), config).unwrap();
    let slow = Payload(b"slow".to_vec());
    let result = mux.call_with_timeout("echo", &slow, Duration::from_millis(50));
    assert!(matches!(result, Err(ClientError::Timeout)), "{result:?}");
    // The peer answers calls in order: this reply follows the late one.
    let body = mux.call("echo", &Payload(b"next".to_vec())).unwrap();
    assert_eq!(payload_of(&body), b"next");
    let stats = mux.stats();
    assert_eq!(stats.late_replies, 1, "{stats:?}");
    assert_eq!(stats.connects, 1, "{stats:?}");
}

#[test]
fn mux_socket_death_wakes_every_waiter_and_next_call_reconnects() {
    const CALLERS: usize = 8;
    let (addr, _peer) = peer(|i, mut s| {
        if i == 0 {
            // Collect every call, then die without answering.
            for _ in 0..CALLERS {
                if read_call(&mut s).is_none() {
                    return;
                }
            }
            thread::sleep(Duration::from_millis(50));
            return;
        }
        while let Some(call) = read_call(&mut s) {
            answer(&mut s, &call);
        }
    });
    let config = MuxConfig::default().connection(fast().call_timeout(Duration::from_secs(5)));
    let mux = Arc::new(MuxConnection::connect(&addr.to_string(), config).unwrap());
    let callers: Vec<_> = (0..CALLERS)
        .map(|_| {
            let mux = mux.clone();
            thread::spawn(move || {
                let result = mux.call("echo", &Payload(b"x".to_vec()));
                (result, Instant::now())
            })
        })
        .collect();
    let mut failed_at = Vec::new();
    for caller in callers {
        let (result, at) = caller.join().unwrap();
        assert!(matches!(result, Err(ClientError::Io(_))), "{result:?}");
        failed_at.push(at);
    }
    let first = *failed_at.iter().min().unwrap();
    let last = *failed_at.iter().max().unwrap();
    assert!(
        last - first < Duration::from_millis(100),
        "{:?}",
        last - first
    );
    let body = mux.call("echo", &Payload(b"again".to_vec())).unwrap();
    assert_eq!(payload_of(&body), b"again");
    assert_eq!(mux.stats().connects, 2);
}

#[test]
fn mux_caps_calls_in_flight() {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    let most_outstanding = Arc::new(AtomicUsize::new(0));
    let most = most_outstanding.clone();
    let (addr, _peer) = peer(move |_, s| {
        let answered = Arc::new(AtomicUsize::new(0));
        let (calls, to_answer) = crossbeam_channel::unbounded::<Call>();
        let mut writer = s.try_clone().unwrap();
        let answered_by_writer = answered.clone();
        thread::spawn(move || {
            for call in to_answer {
                thread::sleep(Duration::from_millis(10));
                answered_by_writer.fetch_add(1, SeqCst);
                answer(&mut writer, &call);
            }
        });
        let mut reader = s;
        let mut received = 0;
        while let Some(call) = read_call(&mut reader) {
            received += 1;
            most.fetch_max(received - answered.load(SeqCst), SeqCst);
            calls.send(call).unwrap();
        }
    });
    let config = MuxConfig::default()
        .connection(fast().call_timeout(Duration::from_secs(5)))
        .max_in_flight(2);
    let mux = Arc::new(MuxConnection::connect(&addr.to_string(), config).unwrap());
    let callers: Vec<_> = (0..6u8)
        .map(|i| {
            let mux = mux.clone();
            thread::spawn(move || {
                for j in 0..5u8 {
                    let body = mux.call("echo", &Payload(vec![i, j])).unwrap();
                    assert_eq!(payload_of(&body), vec![i, j]);
                }
            })
        })
        .collect();
    for caller in callers {
        caller.join().unwrap();
    }
    assert_eq!(most_outstanding.load(SeqCst), 2);
}

/// A peer that answers calls in batches of `batch`, each batch in reverse order.
fn answering_reversed(batch: usize) -> impl Fn(usize, std::net::TcpStream) + Send + 'static {
    move |_, mut s| {
        let mut held = Vec::new();
        while let Some(call) = read_call(&mut s) {
            held.push(call);
            if held.len() == batch {
                for call in held.drain(..).rev() {
                    answer(&mut s, &call);
                }
            }
        }
    }
}

fn tag(i: u32) -> Payload {
    Payload(i.to_be_bytes().to_vec())
}

#[test]
fn one_thread_keeps_a_window_of_32_pending_calls() {
    const WINDOW: usize = 32;
    const CALLS: u32 = 320;
    let (addr, _peer) = peer(answering_reversed(8));
    let config = MuxConfig::default().connection(fast().call_timeout(Duration::from_secs(5)));
    let mux = MuxConnection::connect(&addr.to_string(), config).unwrap();
    let mut window: VecDeque<(u32, PendingCall)> = VecDeque::new();
    let mut most_pending = 0;
    let (mut started, mut done) = (0, 0);
    while done < CALLS {
        while window.len() < WINDOW && started < CALLS {
            // Every other window refill is queued and flushed once: both paths carry calls.
            let pending = if started % 2 == 0 {
                mux.start_call("echo", &tag(started)).unwrap()
            } else {
                mux.queue_call("echo", &tag(started)).unwrap()
            };
            window.push_back((started, pending));
            started += 1;
        }
        mux.flush().unwrap();
        most_pending = most_pending.max(window.len());
        let (i, pending) = window.pop_front().unwrap();
        assert_eq!(payload_of(&pending.wait().unwrap()), i.to_be_bytes());
        done += 1;
    }
    assert_eq!(most_pending, WINDOW);
    let stats = mux.stats();
    assert_eq!(
        (stats.connects, stats.timeouts, stats.late_replies),
        (1, 0, 0)
    );
}

#[test]
fn pending_calls_take_replies_that_come_out_of_order() {
    let (addr, _peer) = peer(answering_reversed(4));
    let mux = MuxConnection::connect(&addr.to_string(), MuxConfig::default()).unwrap();
    let pending: Vec<_> = (0..4)
        .map(|i| mux.queue_call("echo", &tag(i)).unwrap())
        .collect();
    mux.flush().unwrap();
    // The last call's reply comes first; waiting for the first call takes the others' too.
    let last = &pending[3];
    let deadline = Instant::now() + Duration::from_secs(2);
    while !last.is_ready() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(1));
    }
    assert!(last.is_ready());
    for (i, call) in pending.into_iter().enumerate() {
        assert_eq!(payload_of(&call.wait().unwrap()), (i as u32).to_be_bytes());
    }
}

#[test]
fn waiting_writes_queued_requests() {
    let (addr, _peer) = peer(answering(Duration::ZERO));
    let mux = MuxConnection::connect(&addr.to_string(), MuxConfig::default()).unwrap();
    let pending = mux.queue_call("echo", &tag(7)).unwrap();
    assert_eq!(payload_of(&pending.wait().unwrap()), 7u32.to_be_bytes());
}

#[test]
fn dropped_pending_call_frees_its_slot_and_seqid() {
    // The peer holds the first call and answers it after the second: its reply comes late.
    let (addr, _peer) = peer(|_, mut s| {
        let first = read_call(&mut s).unwrap();
        while let Some(call) = read_call(&mut s) {
            answer(&mut s, &call);
            answer(&mut s, &first);
        }
    });
    let config = MuxConfig::default()
        .connection(fast().call_timeout(Duration::from_secs(5)))
        .max_in_flight(1);
    let mux = MuxConnection::connect(&addr.to_string(), config).unwrap();
    let held = mux.start_call("echo", &tag(1)).unwrap();
    drop(held);
    let started = Instant::now();
    let body = mux.call("echo", &tag(2)).unwrap();
    assert_eq!(payload_of(&body), 2u32.to_be_bytes());
    // Far below the 5 s call timeout the slot would otherwise have taken to come free.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let deadline = Instant::now() + Duration::from_secs(2);
    while mux.stats().late_replies == 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(1));
    }
    let stats = mux.stats();
    assert_eq!((stats.late_replies, stats.timeouts), (1, 0), "{stats:?}");
}

#[test]
fn start_call_at_the_cap_waits_for_a_reply_then_times_out() {
    // The peer answers the first call only, 100 ms after it arrives.
    let (addr, _peer) = peer(|_, mut s| {
        let first = read_call(&mut s).unwrap();
        thread::sleep(Duration::from_millis(100));
        answer(&mut s, &first);
        while read_call(&mut s).is_some() {}
    });
    let config = MuxConfig::default()
        .connection(fast().call_timeout(Duration::from_millis(300)))
        .max_in_flight(2);
    let mux = MuxConnection::connect(&addr.to_string(), config).unwrap();
    let first = mux.start_call("echo", &tag(1)).unwrap();
    let _second = mux.start_call("echo", &tag(2)).unwrap();
    // The cap is reached, but the first reply frees a slot even though nobody waited for it.
    let _third = mux.start_call("echo", &tag(3)).unwrap();
    assert!(first.is_ready());
    let started = Instant::now();
    let fourth = mux.start_call("echo", &tag(4));
    assert!(matches!(fourth, Err(ClientError::Timeout)), "{fourth:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(290),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(payload_of(&first.wait().unwrap()), 1u32.to_be_bytes());
}

#[test]
fn socket_death_fails_every_pending_call_at_once() {
    const CALLS: u32 = 16;
    let (addr, _peer) = peer(|i, mut s| {
        if i == 0 {
            for _ in 0..CALLS {
                if read_call(&mut s).is_none() {
                    return;
                }
            }
            return;
        }
        while let Some(call) = read_call(&mut s) {
            answer(&mut s, &call);
        }
    });
    let config = MuxConfig::default().connection(fast().call_timeout(Duration::from_secs(5)));
    let mux = MuxConnection::connect(&addr.to_string(), config).unwrap();
    let pending: Vec<_> = (0..CALLS)
        .map(|i| mux.start_call("echo", &tag(i)).unwrap())
        .collect();
    let started = Instant::now();
    for call in pending {
        let result = call.wait();
        assert!(matches!(result, Err(ClientError::Io(_))), "{result:?}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let again = mux.start_call("echo", &tag(99)).unwrap();
    assert_eq!(payload_of(&again.wait().unwrap()), 99u32.to_be_bytes());
    assert_eq!(mux.stats().connects, 2);
}

// ---- The keep-alive contract against the real server, deadlines, reconnects ----

fn idle_server(idle: Duration) -> support::TestServer {
    support::TestServer::start(tether::server::Config::default().idle_timeout(idle))
}

/// Ten calls 400 ms apart to a server that closes connections idle for 300 ms.
fn calls_across_idle_closes(retry: bool) -> (usize, tether::client::MuxStats) {
    let server = idle_server(Duration::from_millis(300));
    let config = MuxConfig::default().connection(fast().retry(retry));
    let mux = MuxConnection::connect(&server.addr.to_string(), config).unwrap();
    let mut errors = 0;
    for i in 0..10u32 {
        if i > 0 {
            thread::sleep(Duration::from_millis(400));
        }
        if EchoClient::new(&mux)
            .echo(i.to_be_bytes().to_vec())
            .is_err()
        {
            errors += 1;
        }
    }
    (errors, mux.stats())
}

#[test]
fn mux_calls_after_server_idle_closes_all_succeed() {
    let (errors, stats) = calls_across_idle_closes(true);
    assert_eq!(errors, 0, "{stats:?}");
    // Nine pauses, each past the server's idle timeout: most closes are found before a call
    // (the reader's EOF or the peek); any that raced a call was retried.
    assert!(stats.stale + stats.retries >= 9, "{stats:?}");
    assert!(stats.stale >= 1, "{stats:?}");
}

#[test]
fn mux_without_retry_meets_the_server_idle_closes() {
    let (errors, stats) = calls_across_idle_closes(false);
    assert!(errors > 0, "{stats:?}");
    assert_eq!((stats.stale, stats.retries), (0, 0), "{stats:?}");
}

#[test]
fn mux_closes_a_session_idle_past_its_idle_timeout() {
    let server = idle_server(Duration::from_secs(10));
    let config = MuxConfig::default().connection(fast().idle_timeout(Duration::from_millis(150)));
    let mux = MuxConnection::connect(&server.addr.to_string(), config).unwrap();
    let client = EchoClient::new(&mux);
    client.echo(b"one".to_vec()).unwrap();
    assert!(support::wait_until(Duration::from_secs(3), || mux
        .stats()
        .expired
        == 1));
    server.wait_stats("the expired connection closed", |s| s.active == 0);
    assert_eq!(client.echo(b"two".to_vec()).unwrap(), b"two");
    let stats = mux.stats();
    assert_eq!((stats.connects, stats.expired), (2, 1), "{stats:?}");
}

/// A peer whose first connection answers one call, then reads the next and closes without a
/// reply byte (the server's idle close racing the call); later connections answer everything.
fn closes_after_first_call(partial_reply: bool) -> impl Fn(usize, std::net::TcpStream) + Send {
    move |i, mut s| {
        if i > 0 {
            return answering(Duration::ZERO)(i, s);
        }
        let first = read_call(&mut s).unwrap();
        answer(&mut s, &first);
        if let Some(second) = read_call(&mut s) {
            if partial_reply {
                let reply = reply_bytes(&second.name, second.seqid, &second.payload);
                std::io::Write::write_all(&mut s, &reply[..reply.len() / 2]).unwrap();
            }
        }
    }
}

#[test]
fn mux_retries_a_call_lost_before_any_reply_byte_on_a_reused_socket() {
    let (addr, _peer) = peer(closes_after_first_call(false));
    let mux = MuxConnection::connect(&addr.to_string(), MuxConfig::default()).unwrap();
    mux.call("echo", &tag(1)).unwrap();
    assert_eq!(
        payload_of(&mux.call("echo", &tag(2)).unwrap()),
        2u32.to_be_bytes()
    );
    let stats = mux.stats();
    assert_eq!((stats.retries, stats.connects), (1, 2), "{stats:?}");
}

#[test]
fn mux_never_retries_a_call_whose_reply_had_begun() {
    let (addr, _peer) = peer(closes_after_first_call(true));
    let mux = MuxConnection::connect(&addr.to_string(), MuxConfig::default()).unwrap();
    mux.call("echo", &tag(1)).unwrap();
    let result = mux.call("echo", &tag(2));
    assert!(matches!(result, Err(ClientError::Io(_))), "{result:?}");
    assert_eq!(mux.stats().retries, 0);
}

#[test]
fn mux_without_retry_fails_the_lost_call() {
    let (addr, _peer) = peer(closes_after_first_call(false));
    let config = MuxConfig::default().connection(fast().retry(false));
    let mux = MuxConnection::connect(&addr.to_string(), config).unwrap();
    mux.call("echo", &tag(1)).unwrap();
    let result = mux.call("echo", &tag(2));
    assert!(matches!(result, Err(ClientError::Io(_))), "{result:?}");
    assert_eq!(mux.stats().retries, 0);
}

/// A listener that completes no more handshakes: backlog 0, never accepting, its queue filled.
/// Returns it with the sockets filling it (both must live as long as the test needs the hole).
fn blackhole_after(
    first: impl FnOnce(std::net::SocketAddr),
) -> (socket2::Socket, Vec<std::net::TcpStream>) {
    use socket2::{Domain, Socket, Type};
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    listener
        .bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    first(addr);
    let mut fillers = Vec::new();
    for _ in 0..8 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(stream) => fillers.push(stream),
            Err(_) => break,
        }
    }
    (listener, fillers)
}

#[test]
fn mux_calls_to_a_blackholed_host_fail_within_their_own_deadlines() {
    const CALLERS: usize = 16;
    let mut mux = None;
    // The mux's own socket takes the backlog's one place; its expiry sends calls to connect.
    let config = MuxConfig::default().connection(
        fast()
            .connect_timeout(Duration::from_secs(5))
            .idle_timeout(Duration::from_millis(100)),
    );
    let (_listener, _fillers) = blackhole_after(|addr| {
        mux = Some(MuxConnection::connect(&addr.to_string(), config).unwrap());
    });
    let mux = Arc::new(mux.unwrap());
    assert!(support::wait_until(Duration::from_secs(3), || mux
        .stats()
        .expired
        == 1));
    let callers: Vec<_> = (0..CALLERS)
        .map(|i| {
            let mux = mux.clone();
            thread::spawn(move || {
                let timeout = Duration::from_millis(100 + 25 * i as u64);
                let started = Instant::now();
                let result = mux.call_with_timeout("echo", &tag(i as u32), timeout);
                (timeout, started.elapsed(), result)
            })
        })
        .collect();
    for caller in callers {
        let (timeout, took, result) = caller.join().unwrap();
        // Each gave up waiting for the one connect running, at its own deadline.
        assert!(matches!(result, Err(ClientError::Timeout)), "{result:?}");
        // Generous for a loaded machine, far below the 5 s connect timeout (and 16 of them).
        assert!(
            took < timeout + Duration::from_secs(1),
            "{took:?} for {timeout:?}"
        );
    }
    assert_eq!(mux.stats().connects, 1);
}

#[test]
fn mux_short_deadline_times_out_alone() {
    use tether::services::echo::EchoSleepArgs;
    const LONG_CALLERS: usize = 4;
    let server = idle_server(Duration::from_secs(10));
    let config = MuxConfig::default().connection(fast().call_timeout(Duration::from_secs(1)));
    let mux = Arc::new(MuxConnection::connect(&server.addr.to_string(), config).unwrap());
    let start = Arc::new(std::sync::Barrier::new(LONG_CALLERS + 1));
    let sleep = |millis| EchoSleepArgs { millis };
    let short = {
        let (mux, start) = (mux.clone(), start.clone());
        thread::spawn(move || {
            start.wait();
            mux.call_with_timeout("sleep", &sleep(200), Duration::from_millis(50))
        })
    };
    let long: Vec<_> = (0..LONG_CALLERS)
        .map(|_| {
            let (mux, start) = (mux.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                mux.call("sleep", &sleep(50))
            })
        })
        .collect();
    let result = short.join().unwrap();
    assert!(matches!(result, Err(ClientError::Timeout)), "{result:?}");
    for caller in long {
        caller.join().unwrap().unwrap();
    }
    assert!(support::wait_until(Duration::from_secs(2), || mux
        .stats()
        .late_replies
        == 1));
    let stats = mux.stats();
    assert_eq!((stats.connects, stats.timeouts), (1, 1), "{stats:?}");
}

#[test]
fn mux_write_left_by_a_short_deadline_is_finished_for_the_others() {
    // 32 MiB: more than loopback's socket buffers hold, so the write blocks until the peer
    // reads, which it starts doing 300 ms in.
    const BIG: usize = 32 << 20;
    let (addr, _peer) = peer(|_, mut s| {
        thread::sleep(Duration::from_millis(300));
        while let Some(call) = read_call(&mut s) {
            let payload = if call.payload.len() > 8 {
                &[][..]
            } else {
                &call.payload[..]
            };
            std::io::Write::write_all(&mut s, &reply_bytes(&call.name, call.seqid, payload))
                .unwrap();
        }
    });
    let config = MuxConfig::default().connection(fast().call_timeout(Duration::from_secs(3)));
    let mux = Arc::new(MuxConnection::connect(&addr.to_string(), config).unwrap());
    let big = {
        let mux = mux.clone();
        thread::spawn(move || {
            mux.call_with_timeout("echo", &Payload(vec![7; BIG]), Duration::from_millis(100))
        })
    };
    // Let the big write take the socket first; if it has not, the test only proves less.
    thread::sleep(Duration::from_millis(30));
    let small = mux.call("echo", &tag(5));
    let big = big.join().unwrap();
    assert!(matches!(big, Err(ClientError::Timeout)), "{big:?}");
    assert_eq!(payload_of(&small.unwrap()), 5u32.to_be_bytes());
    assert_eq!(mux.stats().connects, 1);
}

#[test]
fn queue_at_the_cap_writes_its_own_requests_before_waiting() {
    let (addr, _peer) = peer(answering(Duration::ZERO));
    let config = MuxConfig::default()
        .connection(fast().call_timeout(Duration::from_secs(5)))
        .max_in_flight(2);
    let mux = MuxConnection::connect(&addr.to_string(), config).unwrap();
    let started = Instant::now();
    let first = mux.queue_call("echo", &tag(1)).unwrap();
    let second = mux.queue_call("echo", &tag(2)).unwrap();
    // At the cap with both requests unwritten: only writing them can free a slot.
    let third = mux.queue_call("echo", &tag(3)).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    for (i, call) in [(1u32, first), (2, second), (3, third)] {
        assert_eq!(payload_of(&call.wait().unwrap()), i.to_be_bytes());
    }
}

#[test]
fn mux_retry_refused_by_an_empty_budget_fails_the_call() {
    use tether::client::RetryBudgetConfig;
    let (addr, _peer) = peer(closes_after_first_call(false));
    let none = RetryBudgetConfig::default().percent(0).min_per_second(0);
    let config = MuxConfig::default().connection(fast().retry_budget(Some(none)));
    let mux = MuxConnection::connect(&addr.to_string(), config).unwrap();
    mux.call("echo", &tag(1)).unwrap();
    let result = mux.call("echo", &tag(2));
    assert!(matches!(result, Err(ClientError::Io(_))), "{result:?}");
    let stats = mux.stats();
    assert_eq!((stats.retries, stats.budget_exhausted), (0, 1), "{stats:?}");
}
