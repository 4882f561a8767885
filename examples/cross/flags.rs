//! Apache Thrift's cross-test flags, shared by cross_server and cross_client: the same names and
//! values Apache's test/test.py passes to every language's test server and client, in both
//! spellings (`--port=9090` and `--port 9090`).

use std::fmt;
use std::process::ExitCode;

use tether::protocol::Protocol as ProtocolId;
use tether::transport::Codec;

/// The exit code for a usage error or a combination tether does not speak yet (as getopt tools
/// use 2), apart from 1 (a failed run) and the client's failure bits.
pub const EXIT_USAGE: u8 = 2;

/// `--protocol`: the protocol and whether service names are multiplexed ("Service:method").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Binary,
    Compact,
    Header,
    Multi,
    MultiCompact,
    MultiHeader,
}

impl Protocol {
    fn parse(value: &str) -> Option<Protocol> {
        Some(match value {
            "binary" => Protocol::Binary,
            "compact" => Protocol::Compact,
            "header" => Protocol::Header,
            "multi" => Protocol::Multi,
            "multic" => Protocol::MultiCompact,
            "multih" => Protocol::MultiHeader,
            _ => return None,
        })
    }

    /// Whether calls carry "Service:method" names (TMultiplexedProtocol).
    pub fn multiplexed(self) -> bool {
        matches!(
            self,
            Protocol::Multi | Protocol::MultiCompact | Protocol::MultiHeader
        )
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Binary => "binary",
            Protocol::Compact => "compact",
            Protocol::Header => "header",
            Protocol::Multi => "multi",
            Protocol::MultiCompact => "multic",
            Protocol::MultiHeader => "multih",
        })
    }
}

/// `--transport`: TBufferedTransport (no length prefix) or TFramedTransport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Buffered,
    Framed,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Buffered => "buffered",
            Transport::Framed => "framed",
        })
    }
}

/// Which program parses: the client also takes `--host` and `--testloops`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Server,
    Client,
}

/// The parsed flags; Apache's defaults where a flag is absent.
#[derive(Debug, Clone)]
pub struct Flags {
    pub host: String,
    pub port: u16,
    pub protocol: Protocol,
    pub transport: Transport,
    /// How many times the client runs the whole test list (`--testloops`, `-n`).
    pub test_loops: u32,
}

/// Apache flags some test programs take that these do not, with the reason given.
const UNSUPPORTED_FLAGS: &[(&str, &str)] = &[
    (
        "--ssl",
        "tether speaks plain TCP; TLS belongs in front of it",
    ),
    ("--domain-socket", "tether listens on TCP only"),
    ("--abstract-namespace", "tether listens on TCP only"),
    ("--pipe", "tether listens on TCP only"),
    (
        "--zlib",
        "the zlib transform needs THeader, which is not spoken yet",
    ),
    ("--server-type", "tether has one server model"),
    ("--processor-events", "tether has no processor event hooks"),
    ("--workers", "tether runs one worker per busy connection"),
];

const USAGE: &str = "flags: --port N --protocol binary|compact|header|multi|multic|multih \
                     --transport buffered|framed";

/// Parses `args` (without the program name), as `--flag=value` or `--flag value`.
pub fn parse(side: Side, args: impl IntoIterator<Item = String>) -> Result<Flags, String> {
    let mut flags = Flags {
        host: "localhost".to_string(),
        port: 9090,
        protocol: Protocol::Binary,
        transport: Transport::Buffered,
        test_loops: 1,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) => (name.to_string(), Some(value.to_string())),
            None => (arg.clone(), None),
        };
        if name == "--help" || name == "-h" {
            return Err(usage(side));
        }
        if let Some((_, reason)) = UNSUPPORTED_FLAGS.iter().find(|(flag, _)| *flag == name) {
            return Err(format!("{name} is not supported: {reason}"));
        }
        let known = matches!(name.as_str(), "--port" | "--protocol" | "--transport")
            || (side == Side::Client && matches!(name.as_str(), "--host" | "--testloops" | "-n"));
        if !known {
            return Err(format!("unknown flag {name}; {}", usage(side)));
        }
        let value = match inline {
            Some(value) => value,
            None => args.next().ok_or_else(|| format!("{name} needs a value"))?,
        };
        match name.as_str() {
            "--port" => {
                flags.port = value
                    .parse()
                    .map_err(|_| format!("--port takes a port number, not {value:?}"))?
            }
            "--protocol" => {
                flags.protocol = Protocol::parse(&value)
                    .ok_or_else(|| format!("unknown protocol {value:?}; {}", usage(side)))?
            }
            "--transport" => {
                flags.transport = match value.as_str() {
                    "buffered" => Transport::Buffered,
                    "framed" => Transport::Framed,
                    _ => return Err(format!("unknown transport {value:?}; {}", usage(side))),
                }
            }
            "--host" => flags.host = value,
            _ => {
                flags.test_loops = value
                    .parse()
                    .map_err(|_| format!("{name} takes a count, not {value:?}"))?
            }
        }
    }
    Ok(flags)
}

/// What a connection speaks for these flags: THeader frames for the header protocols (each
/// inside a frame of its own over framed, as Apache layers THeader over the transport), else
/// the transport's framing; compact inside for the compact ones, binary for the rest.
pub fn codec(flags: &Flags) -> Codec {
    let codec = match (flags.protocol, flags.transport) {
        (Protocol::Header | Protocol::MultiHeader, Transport::Buffered) => Codec::HEADER,
        (Protocol::Header | Protocol::MultiHeader, Transport::Framed) => Codec::FRAMED_HEADER,
        (_, Transport::Buffered) => Codec::UNFRAMED,
        (_, Transport::Framed) => Codec::FRAMED,
    };
    match flags.protocol {
        Protocol::Compact | Protocol::MultiCompact => codec.with_protocol(ProtocolId::Compact),
        _ => codec,
    }
}

/// The process's own flags, refused (with the message on stderr and [`EXIT_USAGE`]) when they
/// do not parse or name a protocol tether does not speak on `side` yet.
pub fn from_args(side: Side) -> Result<Flags, ExitCode> {
    let program = match side {
        Side::Server => "cross_server",
        Side::Client => "cross_client",
    };
    let refuse = |message: String| {
        eprintln!("{program}: {message}");
        ExitCode::from(EXIT_USAGE)
    };
    let flags = parse(side, std::env::args().skip(1)).map_err(refuse)?;
    match unsupported(side, flags.protocol, flags.transport) {
        Some(reason) => Err(refuse(format!(
            "--protocol {} is not supported: {reason}",
            flags.protocol
        ))),
        None => Ok(flags),
    }
}

fn usage(side: Side) -> String {
    match side {
        Side::Server => USAGE.to_string(),
        Side::Client => format!("{USAGE} --host HOST --testloops N"),
    }
}

/// Combinations of Apache's matrix tether does not speak yet on a side, with the reason: none
/// since THeader inside a frame and compact everywhere landed. A row added here is refused by
/// both programs; scripts/interop/cross.py keeps the same list (NOT_YET) and checks the refusal.
const UNSUPPORTED: &[(Side, Protocol, Transport, &str)] = &[];

/// Why tether cannot run `protocol` over `transport` on `side` yet, or `None` when it can. One
/// table, read by both programs; scripts/interop/cross.py keeps the same list and checks that the
/// programs refuse exactly these combinations.
pub fn unsupported(side: Side, protocol: Protocol, transport: Transport) -> Option<&'static str> {
    UNSUPPORTED
        .iter()
        .find(|row| (row.0, row.1, row.2) == (side, protocol, transport))
        .map(|row| row.3)
}
