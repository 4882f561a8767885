//! Calls a tether (or any Apache Thrift) Echo server through a connection pool, with the client
//! generated from idl/echo.thrift.
//!
//! ```text
//! cargo run --example echo_server                # in one terminal
//! cargo run --example echo_client -- 127.0.0.1:9090 hello
//! ```

use std::time::Duration;

use tether::client::{ConnectionConfig, Pool, PoolConfig};
use tether::services::echo::{EchoClient, EchoFailError};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::init();
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:9090".to_owned());
    let message = args.next().unwrap_or_else(|| "hello".to_owned());

    // Several endpoints may be given; each new connection goes to the less loaded of two picked
    // at random, and an endpoint failing 5 times in a row is skipped for a while.
    let config = PoolConfig::default()
        .max_active(4)
        .connection(ConnectionConfig::default().call_timeout(Duration::from_secs(2)));
    let client = EchoClient::new(Pool::new([addr.clone()], config)?);

    client.ping()?;
    for _ in 0..3 {
        let reply = client.echo(message.clone().into_bytes())?;
        println!("{addr} echoed {:?}", String::from_utf8_lossy(&reply));
    }
    match client.fail("error".to_owned()) {
        Err(EchoFailError::Err(e)) => println!("fail(\"error\") threw EchoError: {}", e.message),
        other => println!("fail(\"error\") returned {other:?}"),
    }
    println!("{:?}", client.channel().stats());
    Ok(())
}
