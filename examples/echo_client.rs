//! Calls a tether (or any Apache Thrift) Echo server through a connection pool.
//!
//! ```text
//! cargo run --example echo_server                # in one terminal
//! cargo run --example echo_client -- 127.0.0.1:9090 hello
//! ```

use std::time::Duration;

use tether::client::{Channel, ClientError, ConnectionConfig, Pool, PoolConfig};
use tether::protocol::{write_binary, write_field_begin, write_field_stop, Encode, Reader, TType};

/// The arguments of `echo(1: binary payload)`.
struct EchoArgs<'a>(&'a [u8]);

impl Encode for EchoArgs<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        write_field_begin(out, TType::String, 1);
        write_binary(out, self.0);
        write_field_stop(out);
    }
}

/// The success value (field 0) of `echo`'s result struct.
fn echoed(body: &[u8]) -> Result<Vec<u8>, ClientError> {
    let mut reader = Reader::new(body);
    while let Some((ttype, id)) = reader.read_field_begin()? {
        if id == 0 && ttype == TType::String {
            return Ok(reader.read_bytes()?.to_vec());
        }
        reader.skip(ttype)?;
    }
    Err(tether::protocol::ProtocolError::InvalidData {
        reason: "echo result has no value",
    }
    .into())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::init();
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:9090".to_owned());
    let message = args.next().unwrap_or_else(|| "hello".to_owned());

    let config = PoolConfig::default()
        .max_active(4)
        .connection(ConnectionConfig::default().call_timeout(Duration::from_secs(2)));
    let pool = Pool::new([addr.clone()], config)?;
    for _ in 0..3 {
        let reply = echoed(&pool.call("echo", &EchoArgs(message.as_bytes()))?)?;
        println!("{addr} echoed {:?}", String::from_utf8_lossy(&reply));
    }
    println!("{:?}", pool.stats());
    Ok(())
}
