//! SIGTERM / SIGINT / SIGQUIT drive the drain: the first drains, a second forces.

use std::io;
use std::thread;

use log::{info, warn};
use signal_hook::consts::{SIGINT, SIGQUIT, SIGTERM};
use signal_hook::iterator::Signals;

use super::server::ShutdownHandle;

/// Starts a thread (`tether-signals`) that drains the server on the first SIGTERM, SIGINT or
/// SIGQUIT and forces it down on the second.
pub fn drain_on_signals(handle: ShutdownHandle) -> io::Result<()> {
    let mut signals = Signals::new([SIGTERM, SIGINT, SIGQUIT])?;
    thread::Builder::new()
        .name("tether-signals".into())
        .spawn(move || {
            let mut seen = 0;
            for signal in signals.forever() {
                seen += 1;
                if seen == 1 {
                    info!("signal {signal}: draining");
                    handle.shutdown();
                } else {
                    warn!("signal {signal} again: forcing shutdown");
                    handle.force();
                }
            }
        })?;
    Ok(())
}
