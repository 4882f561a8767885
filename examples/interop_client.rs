//! tether's generated Echo client against any Echo server, checking every answer; used by
//! scripts/interop/client_python.sh against Apache Thrift's Python servers.
//!
//! ```text
//! cargo run --example interop_client -- 127.0.0.1:9090 framed|buffered|header simple|threaded|multiplexed
//! ```
//!
//! `simple` means the server serves one connection at a time (TSimpleServer): each client is
//! dropped before the next connects and calls are not made from several threads at once.
//! `multiplexed` means a threaded server whose TMultiplexedProcessor serves Echo as "Echo": every
//! call goes through [`Multiplexed`] as `Echo:method`.
//! Exits non-zero at the first wrong answer.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use tether::client::{
    Channel, ClientError, Connection, ConnectionConfig, Multiplexed, MuxConfig, MuxConnection,
    Pool, PoolConfig,
};
use tether::protocol::{ApplicationExceptionKind, Encode, Writer};
use tether::services::echo::{EchoClient, EchoFailError};
use tether::transport::Codec;

type Outcome = Result<(), String>;

fn check(ok: bool, what: impl FnOnce() -> String) -> Outcome {
    if ok {
        Ok(())
    } else {
        Err(what())
    }
}

struct NoArgs;

impl Encode for NoArgs {
    fn encode(&self, w: &mut Writer<'_>) {
        w.write_field_stop();
    }
}

/// Every method, every outcome: values, the declared exception, a handler failure, an unknown
/// method; the channel must stay in step through all of them.
fn exercise<C: Channel>(client: &EchoClient<C>) -> Outcome {
    for payload in [Vec::new(), b"x".to_vec(), vec![0xA5; 100_000]] {
        let reply = client
            .echo(payload.clone())
            .map_err(|e| format!("echo: {e:?}"))?;
        check(reply == payload, || {
            format!("echo of {} bytes came back wrong", payload.len())
        })?;
    }
    client.ping().map_err(|e| format!("ping: {e:?}"))?;
    client.sleep(10).map_err(|e| format!("sleep: {e:?}"))?;
    client
        .fire(b"fire".to_vec())
        .map_err(|e| format!("fire: {e:?}"))?;
    let fine = client.fail("fine".to_owned());
    check(matches!(&fine, Ok(s) if s == "fine"), || {
        format!("fail(fine): {fine:?}")
    })?;
    let error = client.fail("error".to_owned());
    check(matches!(error, Err(EchoFailError::Err(_))), || {
        format!("fail(error): {error:?}")
    })?;
    let panic = client.fail("panic".to_owned());
    check(
        matches!(&panic, Err(EchoFailError::Application(e)) if e.kind == ApplicationExceptionKind::InternalError),
        || format!("fail(panic): {panic:?}"),
    )?;
    let unknown = client.channel().call("no_such_method", &NoArgs);
    check(
        matches!(&unknown, Err(ClientError::Application(e)) if e.kind == ApplicationExceptionKind::UnknownMethod),
        || format!("unknown method: {unknown:?}"),
    )?;
    let last = client.echo(b"in step".to_vec());
    check(matches!(&last, Ok(v) if v == b"in step"), || {
        format!("after all: {last:?}")
    })
}

/// `threads` threads of tagged echo calls on one client.
fn concurrent<C: Channel + 'static>(client: Arc<EchoClient<C>>, threads: usize) -> Outcome {
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let client = client.clone();
            thread::spawn(move || -> Outcome {
                for i in 0..50 {
                    let payload = format!("thread {t} call {i}").into_bytes();
                    let reply = client.echo(payload.clone()).map_err(|e| format!("{e:?}"))?;
                    check(reply == payload, || {
                        format!("thread {t} call {i}: wrong reply")
                    })?;
                }
                Ok(())
            })
        })
        .collect();
    for worker in workers {
        worker.join().map_err(|_| "caller panicked".to_owned())??;
    }
    Ok(())
}

/// The Echo service's calls over `channel`, prefixed `Echo:` when the server multiplexes.
fn client<C: Channel + 'static>(channel: C, multiplexed: bool) -> EchoClient<Box<dyn Channel>> {
    if multiplexed {
        EchoClient::new(Box::new(Multiplexed::new(channel, "Echo")))
    } else {
        EchoClient::new(Box::new(channel))
    }
}

fn run(addr: &str, codec: Codec, kind: &str) -> Outcome {
    let one_connection_at_a_time = kind == "simple";
    let multiplexed = kind == "multiplexed";
    let config = ConnectionConfig::default()
        .codec(codec)
        .call_timeout(Duration::from_secs(5));
    let failed = |what: &'static str| move |e: ClientError| format!("{what}: {e:?}");

    let connection = Connection::connect(addr, config.clone()).map_err(failed("connect"))?;
    exercise(&client(connection, multiplexed)).map_err(|e| format!("connection: {e}"))?;
    println!("  Connection: ok");

    let max_active = if one_connection_at_a_time { 1 } else { 8 };
    let pool_config = PoolConfig::default()
        .max_active(max_active)
        .wait_timeout(Duration::from_secs(5))
        .connection(config.clone());
    let pool = Arc::new(Pool::new([addr.to_owned()], pool_config).map_err(failed("pool"))?);
    let pooled = Arc::new(client(pool.clone(), multiplexed));
    exercise(&pooled).map_err(|e| format!("pool: {e}"))?;
    concurrent(pooled.clone(), max_active).map_err(|e| format!("pool, concurrent: {e}"))?;
    println!("  Pool: ok ({:?})", pool.stats());
    drop(pooled);
    drop(pool);

    let mux = MuxConnection::connect(addr, MuxConfig::default().connection(config))
        .map_err(failed("mux"))?;
    let mux = Arc::new(mux);
    let muxed = Arc::new(client(mux.clone(), multiplexed));
    exercise(&muxed).map_err(|e| format!("mux: {e}"))?;
    concurrent(muxed, 8).map_err(|e| format!("mux, concurrent: {e}"))?;
    println!("  MuxConnection: ok ({:?})", mux.stats());
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, transport, kind] = args.as_slice() else {
        eprintln!("usage: interop_client ADDR framed|buffered|header simple|threaded|multiplexed");
        std::process::exit(2);
    };
    let codec = match transport.as_str() {
        "framed" => Codec::FRAMED,
        "header" => Codec::HEADER,
        _ => Codec::UNFRAMED,
    };
    if let Err(e) = run(addr, codec, kind) {
        eprintln!("FAIL: {e}");
        std::process::exit(1);
    }
}
