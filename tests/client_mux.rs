//! `MuxConnection` against a scripted loopback peer (tests/support/client.rs): out-of-order
//! replies, late replies, socket death, the in-flight cap; blocking calls and one thread's window
//! of pending calls.

mod support;

use std::collections::VecDeque;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use tether::client::{Channel, ClientError, MuxConfig, MuxConnection, PendingCall};

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
