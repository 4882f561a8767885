//! TEMPORARY: a hand-written processor for the Echo service of idl/echo.thrift, used by
//! `tether serve`, examples/echo_server.rs and the server tests until the generated
//! `tether::services::echo::EchoProcessor` lands on main. Delete it then.

use std::thread;
use std::time::Duration;

use tether::protocol::{
    write_field_begin, write_field_stop, write_message_begin, write_string, MessageHeader,
    MessageType, ProtocolError, Reader, TType,
};
use tether::server::{CallContext, Processor};

/// The Echo service: echo, ping, sleep, fire (oneway), fail.
#[derive(Debug, Default, Clone, Copy)]
pub struct TemporaryEchoProcessor;

/// Reads an argument struct, returning the value of field 1 when it has type `want`.
fn read_args<'a, T>(
    args: &mut Reader<'a>,
    want: TType,
    read: impl Fn(&mut Reader<'a>) -> Result<T, ProtocolError>,
) -> Result<Option<T>, ProtocolError> {
    args.enter()?;
    let mut value = None;
    while let Some((ttype, id)) = args.read_field_begin()? {
        if id == 1 && ttype == want {
            value = Some(read(args)?);
        } else {
            args.skip(ttype)?;
        }
    }
    args.leave();
    Ok(value)
}

fn reply_begin(out: &mut Vec<u8>, name: &str, seqid: i32) {
    let header = MessageHeader {
        name,
        kind: MessageType::Reply,
        seqid,
    };
    write_message_begin(out, &header);
}

impl Processor for TemporaryEchoProcessor {
    fn service_name(&self) -> &'static str {
        "Echo"
    }

    fn method_names(&self) -> &'static [&'static str] {
        &["echo", "ping", "sleep", "fire", "fail"]
    }

    fn process(
        &self,
        _ctx: &CallContext,
        header: &MessageHeader<'_>,
        args: &mut Reader<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), ProtocolError> {
        let seqid = header.seqid;
        match header.name {
            "echo" => {
                let payload = read_args(args, TType::String, |r| r.read_bytes())?.unwrap_or(&[]);
                reply_begin(out, "echo", seqid);
                write_field_begin(out, TType::String, 0);
                tether::protocol::write_binary(out, payload);
                write_field_stop(out);
            }
            "ping" => {
                read_args(args, TType::Void, |_| Ok(()))?;
                reply_begin(out, "ping", seqid);
                write_field_stop(out);
            }
            "sleep" => {
                let millis = read_args(args, TType::I32, |r| r.read_i32())?.unwrap_or(0);
                thread::sleep(Duration::from_millis(millis.max(0) as u64));
                reply_begin(out, "sleep", seqid);
                write_field_stop(out);
            }
            "fire" => {
                read_args(args, TType::String, |r| r.read_bytes())?;
            }
            "fail" => {
                let mode = read_args(args, TType::String, |r| r.read_str())?.unwrap_or("");
                reply_begin(out, "fail", seqid);
                match mode {
                    "error" => {
                        write_field_begin(out, TType::Struct, 1);
                        write_field_begin(out, TType::String, 1);
                        write_string(out, "fail(\"error\") was called");
                        write_field_stop(out);
                    }
                    "panic" => panic!("fail(\"panic\") was called"),
                    other => {
                        write_field_begin(out, TType::String, 0);
                        write_string(out, other);
                    }
                }
                write_field_stop(out);
            }
            _ => {
                return Err(ProtocolError::InvalidData {
                    reason: "method not served by Echo",
                })
            }
        }
        Ok(())
    }
}
