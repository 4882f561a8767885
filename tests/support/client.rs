//! Helpers of the client tests: a server that can be stopped and started again on one address.

use std::io;
use std::net::SocketAddr;
use std::thread::{self, JoinHandle};

use tether::protocol::ApplicationException;
use tether::server::{CallContext, Config, DrainReport, Router, Server, ShutdownHandle};
use tether::services::echo::{EchoError, EchoFailError, EchoHandler, EchoProcessor};

/// The Echo service as idl/echo.thrift describes it, for the generated processor.
pub struct EchoService;

impl EchoHandler for EchoService {
    fn echo(&self, _: &CallContext, payload: Vec<u8>) -> Result<Vec<u8>, ApplicationException> {
        Ok(payload)
    }

    fn ping(&self, _: &CallContext) -> Result<(), ApplicationException> {
        Ok(())
    }

    fn sleep(&self, _: &CallContext, millis: i32) -> Result<(), ApplicationException> {
        thread::sleep(std::time::Duration::from_millis(millis.max(0) as u64));
        Ok(())
    }

    fn fire(&self, _: &CallContext, _payload: Vec<u8>) -> Result<(), ApplicationException> {
        Ok(())
    }

    fn fail(&self, _: &CallContext, mode: String) -> Result<String, EchoFailError> {
        match mode.as_str() {
            "error" => Err(EchoError {
                message: "failed on request".to_owned(),
            }
            .into()),
            "panic" => panic!("the handler was asked to panic"),
            _ => Ok(mode),
        }
    }
}

/// An in-process Echo server (the generated processor) on a chosen address (127.0.0.1 port 0 unless `config` names
/// another), so a test can stop it and start another on the same port; forced down when dropped.
pub struct ServerAt {
    /// Where it listens.
    pub addr: SocketAddr,
    handle: ShutdownHandle,
    thread: Option<JoinHandle<io::Result<DrainReport>>>,
}

impl ServerAt {
    /// Serves Echo with `config`; the default listen address becomes 127.0.0.1:0.
    pub fn start(config: Config) -> ServerAt {
        let config = if config.listen_addr() == Config::default().listen_addr() {
            config.listen(SocketAddr::from(([127, 0, 0, 1], 0)))
        } else {
            config
        };
        let router = Router::new().service(EchoProcessor::new(EchoService));
        let server = Server::bind(config, router).expect("bind");
        let addr = server.local_addr();
        let handle = server.handle();
        let thread = thread::Builder::new()
            .name("test-server".into())
            .spawn(move || server.run())
            .expect("spawn server");
        ServerAt {
            addr,
            handle,
            thread: Some(thread),
        }
    }

    /// Drains and waits until the listener is closed and the connections are gone.
    pub fn stop(&mut self) {
        self.handle.shutdown();
        if let Some(thread) = self.thread.take() {
            thread.join().expect("server thread").expect("run");
        }
    }
}

impl Drop for ServerAt {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.handle.force();
            let _ = thread.join();
        }
    }
}
