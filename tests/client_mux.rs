//! `MuxConnection` against a scripted loopback peer (tests/support/client.rs): out-of-order
//! replies, late replies, socket death, the in-flight cap.

mod support;

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use tether::client::{Channel, ClientError, MuxConfig, MuxConnection};

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
