//! Helpers of the client tests: a scripted peer (a plain loopback listener that reads calls and
//! answers, or misbehaves, as a test needs). A real server is `super::TestServer`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use tether::client::ConnectionConfig;
use tether::protocol::{Encode, MessageHeader, MessageType, Reader, TType, Writer};
use tether::transport::{Codec, Envelope};

/// The args of `echo(1: binary payload)`.
pub struct Payload(pub Vec<u8>);

impl Encode for Payload {
    fn encode(&self, w: &mut Writer<'_>) {
        w.write_field_begin(TType::String, 1);
        w.write_binary(&self.0);
        w.write_field_stop();
    }
}

/// A call as the peer received it.
pub struct Call {
    pub name: String,
    pub kind: MessageType,
    pub seqid: i32,
    pub payload: Vec<u8>,
}

/// Reads one framed call; `None` at EOF.
pub fn read_call(stream: &mut TcpStream) -> Option<Call> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).ok()?;
    let mut message = vec![0u8; i32::from_be_bytes(len) as usize];
    stream.read_exact(&mut message).ok()?;
    let mut r = Reader::new(&message);
    let header = r.read_message_begin().unwrap();
    let mut payload = Vec::new();
    while let Some((ttype, id)) = r.read_field_begin().unwrap() {
        if id == 1 && ttype == TType::String {
            payload = r.read_bytes().unwrap().to_vec();
        } else {
            r.skip(ttype).unwrap();
        }
    }
    Some(Call {
        name: header.name.to_owned(),
        kind: header.kind,
        seqid: header.seqid,
        payload,
    })
}

/// A framed REPLY carrying `payload` as the result's field 0.
pub fn reply_bytes(name: &str, seqid: i32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let at = Codec::FRAMED.begin_message(&mut out, &Envelope::default());
    let header = MessageHeader {
        name,
        kind: MessageType::Reply,
        seqid,
    };
    let mut w = Writer::binary(&mut out);
    w.write_message_begin(&header);
    Payload(payload.to_vec()).encode(&mut w);
    Codec::FRAMED.finish_message(&mut out, at);
    out
}

pub fn answer(stream: &mut TcpStream, call: &Call) {
    stream
        .write_all(&reply_bytes(&call.name, call.seqid, &call.payload))
        .unwrap();
}

/// The payload of an echo reply body.
pub fn payload_of(body: &[u8]) -> Vec<u8> {
    let mut r = Reader::new(body);
    let (_, id) = r.read_field_begin().unwrap().unwrap();
    assert_eq!(id, 1);
    r.read_bytes().unwrap().to_vec()
}

/// Runs `script` on each accepted connection in turn (connection index given), in a thread.
pub fn peer(
    script: impl Fn(usize, TcpStream) + Send + 'static,
) -> (SocketAddr, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = thread::spawn(move || {
        for (i, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { return };
            script(i, stream);
        }
    });
    (addr, handle)
}

pub fn fast() -> ConnectionConfig {
    ConnectionConfig::default()
        .connect_timeout(Duration::from_millis(500))
        .call_timeout(Duration::from_millis(500))
}

/// A peer that answers every call, `delay` after reading it.
pub fn answering(delay: Duration) -> impl Fn(usize, TcpStream) + Send + 'static {
    move |_, mut s| {
        thread::spawn(move || {
            while let Some(call) = read_call(&mut s) {
                thread::sleep(delay);
                answer(&mut s, &call);
            }
        });
    }
}

/// The generated Echo client over each client type, all with `config`, to `target`.
pub fn echo_clients(
    target: &str,
    config: ConnectionConfig,
) -> (
    tether::services::echo::EchoClient<tether::client::Connection>,
    tether::services::echo::EchoClient<tether::client::Pool>,
    tether::services::echo::EchoClient<tether::client::MuxConnection>,
) {
    use tether::client::{Connection, MuxConfig, MuxConnection, Pool, PoolConfig};
    use tether::services::echo::EchoClient;
    let connection = EchoClient::new(Connection::connect(target, config.clone()).unwrap());
    let pool = EchoClient::new(
        Pool::new(
            [target.to_owned()],
            PoolConfig::default().connection(config.clone()),
        )
        .unwrap(),
    );
    let mux = EchoClient::new(
        MuxConnection::connect(target, MuxConfig::default().connection(config)).unwrap(),
    );
    (connection, pool, mux)
}
