//! The Echo service's behaviour (idl/echo.thrift): what `tether serve` runs and what the tests,
//! `tether bench` and the interop scripts call.

use std::thread;
use std::time::Duration;

use crate::protocol::ApplicationException;
use crate::server::CallContext;
use crate::services::echo::{EchoError, EchoFailError, EchoHandler};

/// The longest `sleep` the Echo handler performs: 30 s, the server's default drain timeout. The
/// argument comes from the wire; uncapped, one call could pin a worker thread for 24 days.
const MAX_SLEEP: Duration = Duration::from_secs(30);

/// The reference Echo handler: echo returns its payload, ping and fire do nothing, sleep
/// sleeps (negative as 0, at most 30 s), fail fails on request ("error" throws EchoError, "panic" panics, anything else is
/// returned). Serve it with
/// [`EchoProcessor::new(EchoService)`](crate::services::echo::EchoProcessor).
#[derive(Debug, Default, Clone, Copy)]
pub struct EchoService;

impl EchoHandler for EchoService {
    fn echo(&self, _: &CallContext, payload: Vec<u8>) -> Result<Vec<u8>, ApplicationException> {
        Ok(payload)
    }

    fn ping(&self, _: &CallContext) -> Result<(), ApplicationException> {
        Ok(())
    }

    fn sleep(&self, _: &CallContext, millis: i32) -> Result<(), ApplicationException> {
        thread::sleep(Duration::from_millis(millis.max(0) as u64).min(MAX_SLEEP));
        Ok(())
    }

    fn fire(&self, _: &CallContext, _payload: Vec<u8>) -> Result<(), ApplicationException> {
        Ok(())
    }

    fn fail(&self, _: &CallContext, mode: String) -> Result<String, EchoFailError> {
        match mode.as_str() {
            "error" => Err(EchoFailError::Err(EchoError {
                message: "fail(\"error\") was called".to_string(),
            })),
            "panic" => panic!("fail(\"panic\") was called"),
            _ => Ok(mode),
        }
    }
}
