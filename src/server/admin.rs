//! The HTTP admin endpoint: `/healthz`, `/readyz` and `/metrics`, on a thread of its own.
//!
//! tiny_http parses HTTP; this module only routes. The endpoint reads the server's counters
//! and flags and never touches the request path.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use log::{debug, warn};
use parking_lot::Mutex;
use tiny_http::{Header, Method, Request, Response};

use super::metrics::Metrics;
use super::server::Phase;
use super::shared::Shared;

/// Deadline for each read and write on an admin connection. tiny_http sets none, so it is set
/// on the listener, whose accepted sockets inherit it (Linux copies SO_RCVTIMEO and
/// SO_SNDTIMEO on accept): a peer that stalls mid-request loses its connection after 5 s
/// instead of holding a thread for good. 5 s: far above a scrape's few milliseconds.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Pause before serving again after tiny_http's accept loop failed (it stops at the first
/// accept error, EMFILE included).
const RESTART_PAUSE: Duration = Duration::from_millis(100);

/// A running admin endpoint; dropping it stops it and joins its thread.
pub(crate) struct Admin {
    local_addr: SocketAddr,
    stop: Arc<AtomicBool>,
    http: Arc<Mutex<Arc<tiny_http::Server>>>,
    thread: Option<JoinHandle<()>>,
}

impl Admin {
    /// Binds `addr` and serves the endpoint for `shared` on the thread `tether-admin`.
    pub fn start(addr: SocketAddr, shared: Arc<Shared>) -> io::Result<Admin> {
        let listener = TcpListener::bind(addr)?;
        let socket = socket2::SockRef::from(&listener);
        socket.set_read_timeout(Some(IO_TIMEOUT))?;
        socket.set_write_timeout(Some(IO_TIMEOUT))?;
        let local_addr = listener.local_addr()?;
        let http = Arc::new(Mutex::new(Arc::new(http_server(&listener)?)));
        let stop = Arc::new(AtomicBool::new(false));
        let endpoint = Endpoint {
            metrics: Metrics::new(Arc::clone(&shared)),
            shared,
            listener,
            http: Arc::clone(&http),
            stop: Arc::clone(&stop),
        };
        let thread = thread::Builder::new()
            .name("tether-admin".into())
            .spawn(move || endpoint.serve())?;
        Ok(Admin {
            local_addr,
            stop,
            http,
            thread: Some(thread),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

impl Drop for Admin {
    fn drop(&mut self) {
        // `stop` first: a restart that takes the lock after this sees it and ends the thread.
        self.stop.store(true, SeqCst);
        self.http.lock().unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn http_server(listener: &TcpListener) -> io::Result<tiny_http::Server> {
    tiny_http::Server::from_listener(listener.try_clone()?, None).map_err(io::Error::other)
}

struct Endpoint {
    shared: Arc<Shared>,
    metrics: Metrics,
    listener: TcpListener,
    http: Arc<Mutex<Arc<tiny_http::Server>>>,
    stop: Arc<AtomicBool>,
}

impl Endpoint {
    fn serve(&self) {
        loop {
            let http = Arc::clone(&self.http.lock());
            match http.recv() {
                Ok(request) => self.respond(request),
                Err(_) if self.stop.load(SeqCst) => return,
                Err(e) => {
                    warn!("admin endpoint: accept failed: {e}; serving again shortly");
                    thread::sleep(RESTART_PAUSE);
                    let mut current = self.http.lock();
                    if self.stop.load(SeqCst) {
                        return;
                    }
                    match http_server(&self.listener) {
                        Ok(fresh) => *current = Arc::new(fresh),
                        Err(e) => warn!("admin endpoint: restart failed: {e}"),
                    }
                }
            }
        }
    }

    fn respond(&self, request: Request) {
        let path = request.url().split('?').next().unwrap_or_default();
        let (status, content_type, body) = match (request.method(), path) {
            (Method::Get | Method::Head, "/healthz") => (200, TEXT, "ok\n".to_string()),
            (Method::Get | Method::Head, "/readyz") => match self.shared.phase() {
                Phase::Serving => (200, TEXT, "ready\n".to_string()),
                phase => (503, TEXT, format!("{}\n", phase.name())),
            },
            (Method::Get | Method::Head, "/metrics") => match self.metrics.render() {
                Ok(text) => (200, Metrics::CONTENT_TYPE, text),
                Err(e) => (500, TEXT, format!("encoding metrics failed: {e}\n")),
            },
            (Method::Get | Method::Head, _) => (404, TEXT, "not found\n".to_string()),
            _ => (405, TEXT, "method not allowed\n".to_string()),
        };
        let header = Header::from_bytes("Content-Type", content_type).expect("a valid header");
        let response = Response::from_string(body)
            .with_status_code(status)
            .with_header(header);
        if let Err(e) = request.respond(response) {
            debug!("admin endpoint: writing a response failed: {e}");
        }
    }
}

const TEXT: &str = "text/plain; charset=utf-8";
