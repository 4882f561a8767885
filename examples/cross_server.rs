//! Apache Thrift's cross-test server: ThriftTest (idl/ThriftTest.thrift) and, multiplexed,
//! SecondService, on 127.0.0.1 with Apache's flags, so Apache's test runner and its clients in
//! any language can drive tether. Prints `listening on IP:PORT` once it accepts (also for
//! `--port 0`), drains on SIGTERM/SIGINT and exits 0 after a clean drain; exits 2 for a flag or
//! protocol tether does not support, saying why.
//!
//! ```text
//! cargo run --example cross_server -- --port 9090 --protocol binary --transport framed
//! ```

#[allow(dead_code)]
#[path = "cross/thrift_test.rs"]
mod thrift_test;

#[allow(dead_code)]
#[path = "cross/flags.rs"]
mod flags;
#[path = "cross/semantics.rs"]
mod semantics;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use tether::protocol::{ApplicationException, ApplicationExceptionKind};
use tether::server::{drain_on_signals, CallContext, Config, Router, Server};

use flags::Side;
use thrift_test::*;

/// The longest `testOneway` sleeps: clients call it with 1 s; a larger argument from the wire
/// would otherwise hold the connection's worker for up to 68 years.
const MAX_ONEWAY_SLEEP: Duration = Duration::from_secs(3);

/// ThriftTest as Apache specifies it: every `testX(thing)` returns `thing`; the rest follow
/// [`semantics`].
struct ThriftTestService;

impl ThriftTestHandler for ThriftTestService {
    fn test_void(&self, _: &CallContext) -> Result<(), ApplicationException> {
        Ok(())
    }

    fn test_string(&self, _: &CallContext, thing: String) -> Result<String, ApplicationException> {
        Ok(thing)
    }

    fn test_bool(&self, _: &CallContext, thing: bool) -> Result<bool, ApplicationException> {
        Ok(thing)
    }

    fn test_byte(&self, _: &CallContext, thing: i8) -> Result<i8, ApplicationException> {
        Ok(thing)
    }

    fn test_i32(&self, _: &CallContext, thing: i32) -> Result<i32, ApplicationException> {
        Ok(thing)
    }

    fn test_i64(&self, _: &CallContext, thing: i64) -> Result<i64, ApplicationException> {
        Ok(thing)
    }

    fn test_double(&self, _: &CallContext, thing: f64) -> Result<f64, ApplicationException> {
        Ok(thing)
    }

    fn test_binary(
        &self,
        _: &CallContext,
        thing: Vec<u8>,
    ) -> Result<Vec<u8>, ApplicationException> {
        Ok(thing)
    }

    fn test_struct(&self, _: &CallContext, thing: Xtruct) -> Result<Xtruct, ApplicationException> {
        Ok(thing)
    }

    fn test_nest(&self, _: &CallContext, thing: Xtruct2) -> Result<Xtruct2, ApplicationException> {
        Ok(thing)
    }

    fn test_map(
        &self,
        _: &CallContext,
        thing: BTreeMap<i32, i32>,
    ) -> Result<BTreeMap<i32, i32>, ApplicationException> {
        Ok(thing)
    }

    fn test_string_map(
        &self,
        _: &CallContext,
        thing: BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, ApplicationException> {
        Ok(thing)
    }

    fn test_set(
        &self,
        _: &CallContext,
        thing: BTreeSet<i32>,
    ) -> Result<BTreeSet<i32>, ApplicationException> {
        Ok(thing)
    }

    fn test_list(
        &self,
        _: &CallContext,
        thing: Vec<i32>,
    ) -> Result<Vec<i32>, ApplicationException> {
        Ok(thing)
    }

    fn test_enum(&self, _: &CallContext, thing: Numberz) -> Result<Numberz, ApplicationException> {
        Ok(thing)
    }

    fn test_typedef(&self, _: &CallContext, thing: UserId) -> Result<UserId, ApplicationException> {
        Ok(thing)
    }

    fn test_map_map(
        &self,
        _: &CallContext,
        _hello: i32,
    ) -> Result<BTreeMap<i32, BTreeMap<i32, i32>>, ApplicationException> {
        Ok(semantics::map_map())
    }

    fn test_insanity(
        &self,
        _: &CallContext,
        argument: Insanity,
    ) -> Result<BTreeMap<UserId, BTreeMap<Numberz, Insanity>>, ApplicationException> {
        Ok(semantics::insanity(&argument))
    }

    fn test_multi(
        &self,
        _: &CallContext,
        arg0: i8,
        arg1: i32,
        arg2: i64,
        _arg3: BTreeMap<i16, String>,
        _arg4: Numberz,
        _arg5: UserId,
    ) -> Result<Xtruct, ApplicationException> {
        Ok(semantics::multi(arg0, arg1, arg2))
    }

    fn test_exception(
        &self,
        _: &CallContext,
        arg: String,
    ) -> Result<(), ThriftTestTestExceptionError> {
        match arg.as_str() {
            semantics::THROW_XCEPTION => Err(ThriftTestTestExceptionError::Err1(
                semantics::xception(&arg),
            )),
            semantics::THROW_TEXCEPTION => Err(ThriftTestTestExceptionError::Application(
                ApplicationException::new(
                    ApplicationExceptionKind::InternalError,
                    "This is a TException",
                ),
            )),
            _ => Ok(()),
        }
    }

    fn test_multi_exception(
        &self,
        _: &CallContext,
        arg0: String,
        arg1: String,
    ) -> Result<Xtruct, ThriftTestTestMultiExceptionError> {
        match arg0.as_str() {
            semantics::THROW_XCEPTION => Err(ThriftTestTestMultiExceptionError::Err1(
                semantics::multi_xception(),
            )),
            semantics::THROW_XCEPTION2 => Err(ThriftTestTestMultiExceptionError::Err2(
                semantics::multi_xception2(),
            )),
            _ => Ok(Xtruct {
                string_thing: arg1,
                ..Xtruct::default()
            }),
        }
    }

    fn test_oneway(
        &self,
        _: &CallContext,
        seconds_to_sleep: i32,
    ) -> Result<(), ApplicationException> {
        let seconds = u64::try_from(seconds_to_sleep).unwrap_or(0);
        thread::sleep(Duration::from_secs(seconds).min(MAX_ONEWAY_SLEEP));
        Ok(())
    }
}

struct SecondServiceService;

impl SecondServiceHandler for SecondServiceService {
    fn secondtest_string(
        &self,
        _: &CallContext,
        thing: String,
    ) -> Result<String, ApplicationException> {
        Ok(semantics::second_test_string(&thing))
    }
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let flags = match flags::from_args(Side::Server) {
        Ok(flags) => flags,
        Err(refused) => return refused,
    };
    match serve(&flags) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("cross_server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Serves until a signal drains the server; whether the drain was clean.
fn serve(flags: &flags::Flags) -> std::io::Result<bool> {
    // Multiplexed clients name both services; plain ones call ThriftTest alone, as Apache's
    // servers serve it.
    let mut router = Router::new().service(ThriftTestProcessor::new(ThriftTestService));
    if flags.protocol.multiplexed() {
        router = router.service(SecondServiceProcessor::new(SecondServiceService));
    }
    let config = Config::default()
        .listen(SocketAddr::from((Ipv4Addr::LOCALHOST, flags.port)))
        .codec(Some(flags::codec(flags)));
    let server = Server::bind(config, router)?;
    // Signals first: a runner that reads "listening on" may signal at once.
    drain_on_signals(server.handle())?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on {}", server.local_addr())?;
    stdout.flush()?;
    let report = server.run()?;
    eprintln!("cross_server: {report}");
    Ok(report.is_clean())
}
