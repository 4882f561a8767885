//! CPU time of this process, read from /proc (Linux); no unsafe code, no extra dependency.

use std::time::Duration;

/// USER_HZ: the unit of /proc's CPU times, fixed at 100 by the Linux ABI on every architecture
/// tether targets.
const TICKS_PER_SECOND: u64 = 100;

/// User plus system CPU time of this process so far, or `None` where /proc is unavailable.
pub fn process_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_stat(&stat)
}

/// Reads utime and stime (fields 14 and 15) from a /proc/PID/stat line. The command name in
/// field 2 may hold spaces and parentheses, so fields are counted after its last ')'.
fn parse_stat(stat: &str) -> Option<Duration> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    let ticks = user + system;
    Some(Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_utime_and_stime_after_an_awkward_name() {
        let line = "4242 (te) ther (x)) S 1 4242 4242 0 -1 4194560 300 0 0 0 150 25 0 0 20 0 3 0";
        assert_eq!(parse_stat(line), Some(Duration::from_millis(1750)));
        assert_eq!(parse_stat("4242 (short) S 1"), None);
    }

    #[test]
    fn reads_this_process() {
        assert!(process_time().is_some());
    }
}
