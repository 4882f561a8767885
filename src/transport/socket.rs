//! Socket options shared by the server's accepted sockets and the client's connections.

use std::io;
use std::net::TcpStream;
use std::time::Duration;

use socket2::{SockRef, TcpKeepalive};

/// TCP keepalive probing: finds peers that vanished without a FIN (power loss, NAT timeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Idle time before the first probe.
    pub idle: Duration,
    /// Time between probes.
    pub interval: Duration,
    /// Unanswered probes before the connection is dropped.
    pub retries: u32,
}

impl Default for Keepalive {
    /// 60 s idle, 10 s interval, 6 probes: a dead peer is found within two minutes, well
    /// before typical NAT and load-balancer idle cuts (350 s on AWS NLB).
    fn default() -> Self {
        Keepalive {
            idle: Duration::from_secs(60),
            interval: Duration::from_secs(10),
            retries: 6,
        }
    }
}

/// Applies TCP_NODELAY and, if given, SO_KEEPALIVE with `keepalive`'s timings.
pub fn configure(
    stream: &TcpStream,
    nodelay: bool,
    keepalive: Option<Keepalive>,
) -> io::Result<()> {
    stream.set_nodelay(nodelay)?;
    if let Some(k) = keepalive {
        let params = TcpKeepalive::new()
            .with_time(k.idle)
            .with_interval(k.interval)
            .with_retries(k.retries);
        SockRef::from(stream).set_tcp_keepalive(&params)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn options_are_applied() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let keepalive = Keepalive {
            idle: Duration::from_secs(30),
            interval: Duration::from_secs(5),
            retries: 3,
        };
        configure(&stream, true, Some(keepalive)).unwrap();
        let sock = SockRef::from(&stream);
        assert!(sock.nodelay().unwrap());
        assert!(sock.keepalive().unwrap());
        assert_eq!(sock.keepalive_time().unwrap(), Duration::from_secs(30));
        assert_eq!(sock.keepalive_interval().unwrap(), Duration::from_secs(5));
        assert_eq!(sock.keepalive_retries().unwrap(), 3);
    }
}
