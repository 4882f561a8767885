//! The store served on 127.0.0.1 port 0, called through a `Pool` and a `MuxConnection`.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use tether::client::{ConnectionConfig, MuxConfig, MuxConnection, Pool, PoolConfig};
use tether::server::{Config, DrainReport, ShutdownHandle};
use tether_kv::idl::kv::{KeyValueClient, KeyValueGetError, KeyValuePutError};
use tether_kv::{serve, Store};

/// A running store server; shut down and joined on drop.
struct Running {
    addr: String,
    store: Arc<Store>,
    handle: ShutdownHandle,
    thread: Option<thread::JoinHandle<std::io::Result<DrainReport>>>,
}

impl Running {
    fn start() -> Running {
        let config = Config::default()
            .listen("127.0.0.1:0".parse().unwrap())
            .drain_timeout(Duration::from_millis(500));
        let store = Arc::new(Store::new());
        let server = serve(config, Arc::clone(&store)).unwrap();
        let addr = server.local_addr().to_string();
        let handle = server.handle();
        let thread = Some(thread::spawn(move || server.run()));
        Running {
            addr,
            store,
            handle,
            thread,
        }
    }

    /// Drains and returns the report.
    fn stop(mut self) -> DrainReport {
        self.handle.shutdown();
        let thread = self.thread.take().expect("stopped once");
        thread.join().unwrap().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.handle.force();
            let _ = thread.join();
        }
    }
}

fn connection_config() -> ConnectionConfig {
    ConnectionConfig::default()
        .connect_timeout(Duration::from_millis(500))
        .call_timeout(Duration::from_secs(2))
}

fn pool_client(addr: &str) -> KeyValueClient<Pool> {
    let config = PoolConfig::default().connection(connection_config());
    KeyValueClient::new(Pool::new([addr.to_string()], config).unwrap())
}

#[test]
fn every_method_through_a_pool() {
    let server = Running::start();
    let client = pool_client(&server.addr);

    match client.get("missing".into()) {
        Err(KeyValueGetError::NotFound(e)) => assert_eq!(e.key, "missing"),
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert_eq!(
        client.put("a/1".into(), b"one".to_vec(), Some(0)).unwrap(),
        1
    );
    assert_eq!(client.put("a/1".into(), b"uno".to_vec(), None).unwrap(), 2);
    match client.put("a/1".into(), b"stale".to_vec(), Some(1)) {
        Err(KeyValuePutError::Conflict(c)) => {
            assert_eq!((c.key.as_str(), c.expected, c.actual), ("a/1", 1, 2))
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    let entry = client.get("a/1".into()).unwrap();
    assert_eq!((entry.value.as_slice(), entry.version), (&b"uno"[..], 2));
    client.put("a/2".into(), b"two".to_vec(), None).unwrap();
    client.put("b/1".into(), b"other".to_vec(), None).unwrap();
    assert_eq!(client.keys("a/".into(), 10).unwrap(), ["a/1", "a/2"]);
    assert_eq!(client.keys("a/".into(), 1).unwrap(), ["a/1"]);
    assert!(client.remove("a/2".into()).unwrap());
    assert!(!client.remove("a/2".into()).unwrap());

    client.touch("a/1".into()).unwrap();
    // A oneway call has no reply; wait (bounded) until the server counted it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.store.touches() == 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    let stats = client.stats().unwrap();
    assert_eq!(stats["touches"], 1);
    assert_eq!(stats["keys"], 2);
    assert_eq!(stats["puts"], 4);

    drop(client);
    let report = server.stop();
    assert!(report.is_clean(), "{report}");
}

#[test]
fn many_threads_share_one_multiplexed_connection() {
    let server = Running::start();
    let config = MuxConfig::default().connection(connection_config());
    let client = KeyValueClient::new(MuxConnection::connect(&server.addr, config).unwrap());
    thread::scope(|s| {
        for t in 0..4 {
            let client = &client;
            s.spawn(move || {
                for i in 0..25 {
                    let key = format!("t{t}/{i}");
                    assert_eq!(client.put(key.clone(), vec![t, i], None).unwrap(), 1);
                    assert_eq!(client.get(key).unwrap().value, [t, i]);
                }
            });
        }
    });
    assert_eq!(client.keys("t".into(), 1000).unwrap().len(), 100);
    assert_eq!(
        client.channel().stats().connects,
        1,
        "one socket carried every call"
    );
    drop(client);
    assert!(server.stop().is_clean());
}

#[test]
fn guide_snippets_are_taken_from_this_crate() {
    // docs/guide.md shows code from this crate's files, verbatim, so what the guide shows is
    // what CI compiles and runs here.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let guide = std::fs::read_to_string(root.join("../../docs/guide.md")).unwrap();
    let sources: Vec<String> = [
        "Cargo.toml",
        "build.rs",
        "idl/kv.thrift",
        "src/lib.rs",
        "src/store.rs",
        "src/bin/kv-server.rs",
        "src/bin/kv-client.rs",
        "tests/kv.rs",
    ]
    .iter()
    .map(|f| std::fs::read_to_string(root.join(f)).unwrap())
    .collect();
    let mut checked = 0;
    let mut blocks = guide.split("\n```");
    blocks.next();
    while let (Some(block), _) = (blocks.next(), blocks.next()) {
        let (language, code) = block.split_once('\n').unwrap_or((block, ""));
        if !matches!(language, "rust" | "toml" | "thrift") {
            continue;
        }
        let code = code.trim_end();
        assert!(
            sources.iter().any(|s| s.contains(code)),
            "this guide snippet is not in examples/kv:\n{code}"
        );
        checked += 1;
    }
    assert!(
        checked >= 6,
        "only {checked} snippets found in docs/guide.md"
    );
}
