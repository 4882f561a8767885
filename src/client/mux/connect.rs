//! The connect of a [`MuxConnection`](super::MuxConnection)'s next session: one at a time, on
//! the session's own thread, its outcome handed to every caller waiting for it.

use std::io;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Instant;

use log::debug;
use parking_lot::{Condvar, Mutex};

use crate::client::link::connect;
use crate::client::ClientError;

use super::session::{self, connection_lost, End, ReaderSetup, Session};
use super::{Current, Shared};

/// One connect, awaited by every caller that needs a session meanwhile.
#[derive(Debug, Default)]
pub(super) struct Attempt {
    outcome: Mutex<Option<Result<Arc<Session>, Arc<io::Error>>>>,
    done: Condvar,
}

/// The connect thread: connects, publishes the session (or the failure) to every waiting
/// caller, then reads the session's replies until it ends.
pub(super) fn run_session(shared: &Weak<Shared>, attempt: &Attempt, id: u64) {
    let Some(owner) = shared.upgrade() else {
        return attempt.finish(Err(Arc::new(connection_lost())));
    };
    let (addr, connection) = (owner.addr.clone(), owner.config.connection.clone());
    let counters = owner.counters.clone();
    // Not held while connecting: a connection dropped meanwhile goes away at once.
    drop(owner);
    let connected = connect(&addr, &connection);
    let Some(owner) = shared.upgrade() else {
        return attempt.finish(Err(Arc::new(connection_lost())));
    };
    let stream = match connected {
        Ok(stream) => stream,
        Err(e) => {
            counters.connect_failures.fetch_add(1, Ordering::Relaxed);
            let e = match e {
                ClientError::Connect(e) | ClientError::Io(e) => e,
                other => io::Error::other(other.to_string()),
            };
            debug!("mux: connect to {addr} failed: {e}");
            let mut current = owner.current.lock();
            if matches!(&*current, Current::Connecting(a) if std::ptr::eq(&**a, attempt)) {
                *current = Current::Absent;
            }
            drop(current);
            return attempt.finish(Err(Arc::new(e)));
        }
    };
    let session = Arc::new(Session::new(id, stream, connection.codec));
    {
        let mut current = owner.current.lock();
        if !matches!(&*current, Current::Connecting(a) if std::ptr::eq(&**a, attempt)) {
            // The connection was dropped while this connect ran.
            drop(current);
            session.finish(End::Dropped);
            return attempt.finish(Err(Arc::new(connection_lost())));
        }
        *current = Current::Live(session.clone());
    }
    counters.connects.fetch_add(1, Ordering::Relaxed);
    debug!("mux: connected to {addr} (session {id})");
    drop(owner);
    attempt.finish(Ok(session.clone()));
    let setup = ReaderSetup {
        limits: connection.limits,
        idle_timeout: connection.idle_timeout,
    };
    session::read_replies(&session, &setup, &counters);
}

/// A connect failure as each waiting caller reports it; the original error is its source.
pub(super) fn connect_failed(e: &Arc<io::Error>) -> ClientError {
    ClientError::Connect(io::Error::new(e.kind(), SharedError(e.clone())))
}

/// One connect error, reported to every caller that waited for that connect.
#[derive(Debug)]
struct SharedError(Arc<io::Error>);

impl std::fmt::Display for SharedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SharedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

impl Attempt {
    /// Waits for the connect's outcome until `deadline` (`None`: as long as the connect takes,
    /// which its own timeout bounds); `None` if the deadline came first.
    pub(super) fn wait_until(
        &self,
        deadline: Option<Instant>,
    ) -> Option<Result<Arc<Session>, Arc<io::Error>>> {
        let mut outcome = self.outcome.lock();
        loop {
            if let Some(outcome) = &*outcome {
                return Some(outcome.clone());
            }
            match deadline {
                Some(deadline) => {
                    if self.done.wait_until(&mut outcome, deadline).timed_out() {
                        return outcome.clone();
                    }
                }
                None => self.done.wait(&mut outcome),
            }
        }
    }

    fn finish(&self, outcome: Result<Arc<Session>, Arc<io::Error>>) {
        *self.outcome.lock() = Some(outcome);
        self.done.notify_all();
    }
}
