//! How many worker threads this process can hold, derived once at start from the kernel's limits.
//!
//! A thread-per-connection server that spawns past a limit does not always get a clean error:
//! when the kernel refuses the thread itself (RLIMIT_NPROC, threads-max, pid_max) `clone` fails
//! with EAGAIN and the server backs off, but when memory maps or address space run out *after*
//! the thread exists, Rust's runtime cannot map the new thread's signal stack and aborts the
//! whole process. So the server never goes near those limits: it treats the capacity computed
//! here like `max_connections`, with a reserve left under every limit.

use std::fmt;
use std::fs;

/// Memory maps one worker thread adds: its stack and the stack's guard page, and the signal
/// stack Rust's runtime maps for every thread with its guard page. Measured with `tether serve`
/// on Linux 6.18 / glibc 2.36: after 20 connections (which create malloc's arenas), 1,000 more
/// took /proc/PID/maps from 150 to 4,150 lines.
const MAPS_PER_THREAD: u64 = 4;

/// Address space one worker takes besides its stack: the signal stack (8 KiB SIGSTKSZ or the
/// kernel's larger minimum, plus a guard page), the 4 KiB read buffer and the thread's heap
/// bookkeeping, rounded up so growth of any of them does not eat the reserve.
const ADDRESS_SPACE_PER_THREAD: u64 = 64 << 10;

/// Maps kept free for the rest of the process: the heap and buffers over malloc's mmap
/// threshold (128 KiB) take maps of their own. At least this many, or 1/16 of the maps left.
const MAPS_RESERVE_MIN: u64 = 512;

/// Address space kept free for the heap (requests, buffers over malloc's mmap threshold): at
/// least this much, or 1/8 of what is left once threads and arenas are counted.
const ADDRESS_SPACE_RESERVE_MIN: u64 = 8 << 20;

/// Address space one glibc malloc arena reserves (HEAP_MAX_SIZE on 64-bit). A new thread's first
/// allocation creates an arena while fewer than 8 per CPU exist and 64 MiB is free, so under an
/// address-space limit arenas take whole 64 MiB pieces before thread stacks can: measured, 300
/// MiB held only ~100 workers until arenas were counted.
const ARENA_BYTES: u64 = 64 << 20;

/// glibc's default arena limit per CPU on 64-bit (M_ARENA_MAX unset).
const ARENAS_PER_CPU: u64 = 8;

/// Descriptors kept free besides one per connection: the listener, the poll and its waker, the
/// signal pipe, log files, /proc reads.
const DESCRIPTOR_RESERVE: u64 = 16;

/// Threads (and process ids) kept free for the accept loop, the signal thread and the threads a
/// handler may start.
const THREAD_RESERVE: u64 = 32;

/// The limits and current use that bound the number of worker threads, as read at start.
/// `None` means unlimited (or not readable, which counts as unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CapacityInputs {
    /// RLIMIT_NPROC (soft): threads of this user; root is exempt.
    pub nproc: Option<u64>,
    /// RLIMIT_AS (soft) in bytes: the address space of this process.
    pub address_space: Option<u64>,
    /// RLIMIT_NOFILE (soft): open descriptors; each connection holds one.
    pub open_files: Option<u64>,
    /// /proc/sys/kernel/threads-max: threads on the whole machine.
    pub threads_max: Option<u64>,
    /// /proc/sys/kernel/pid_max: every thread takes a process id.
    pub pid_max: Option<u64>,
    /// /proc/sys/vm/max_map_count: memory maps of this process.
    pub max_map_count: Option<u64>,
    /// Threads of this process now.
    pub threads: u64,
    /// Threads on the machine now (/proc/loadavg).
    pub machine_threads: u64,
    /// Address space of this process now, in bytes (VmSize).
    pub address_space_used: u64,
    /// Memory maps of this process now.
    pub maps: u64,
    /// Open descriptors of this process now.
    pub descriptors: u64,
    /// CPUs this process may run on (glibc creates up to 8 malloc arenas per CPU).
    pub cpus: u64,
    /// MALLOC_ARENA_MAX from the environment, which glibc obeys instead of 8 per CPU.
    pub arena_max: Option<u64>,
}

/// How many worker threads the process can hold and which limit decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadCapacity {
    /// The number of worker threads (so connections) the server will run at once.
    pub threads: usize,
    /// The limit that gives the smallest number, or `None` when nothing limits it.
    pub bound_by: Option<&'static str>,
    /// The open connections the descriptor limit allows (RLIMIT_NOFILE less those in use and
    /// a reserve): with idle parking, connections beyond the thread capacity wait parked, so
    /// this, not `threads`, bounds them.
    pub connections: usize,
    /// What it was derived from.
    pub inputs: CapacityInputs,
}

impl ThreadCapacity {
    /// Reads the limits of this process and machine and derives the capacity for workers with
    /// `stack_size`-byte stacks.
    pub fn detect(stack_size: usize) -> ThreadCapacity {
        ThreadCapacity::derive(CapacityInputs::read(), stack_size)
    }

    /// The capacity for workers with `stack_size`-byte stacks under `inputs`.
    pub fn derive(inputs: CapacityInputs, stack_size: usize) -> ThreadCapacity {
        let left = |limit: Option<u64>, used: u64, reserve: u64| {
            limit.map(|limit| limit.saturating_sub(used).saturating_sub(reserve))
        };
        let maps = inputs.max_map_count.map(|max| {
            let free = max.saturating_sub(inputs.maps);
            free.saturating_sub(MAPS_RESERVE_MIN.max(free / 16)) / MAPS_PER_THREAD
        });
        let per_thread = page_round(stack_size as u64) + PAGE + ADDRESS_SPACE_PER_THREAD;
        let address_space = inputs.address_space.map(|max| {
            let free = max.saturating_sub(inputs.address_space_used);
            // The main arena is the brk heap, already in use; the others may each take 64 MiB.
            let arenas = inputs
                .arena_max
                .unwrap_or(ARENAS_PER_CPU * inputs.cpus.max(1))
                .saturating_sub(1)
                .min(free / ARENA_BYTES);
            let free = free - arenas * ARENA_BYTES;
            free.saturating_sub(ADDRESS_SPACE_RESERVE_MIN.max(free / 8)) / per_thread
        });
        let descriptors = left(inputs.open_files, inputs.descriptors, DESCRIPTOR_RESERVE);
        let bounds = [
            (
                "RLIMIT_NPROC",
                left(inputs.nproc, inputs.threads, THREAD_RESERVE),
            ),
            ("RLIMIT_AS", address_space),
            ("RLIMIT_NOFILE", descriptors),
            (
                "kernel.threads-max",
                left(inputs.threads_max, inputs.machine_threads, THREAD_RESERVE),
            ),
            (
                "kernel.pid_max",
                left(inputs.pid_max, inputs.machine_threads, THREAD_RESERVE),
            ),
            ("vm.max_map_count", maps),
        ];
        let smallest = bounds
            .into_iter()
            .filter_map(|(name, bound)| bound.map(|b| (name, b)))
            .min_by_key(|&(_, bound)| bound);
        ThreadCapacity {
            // At least one worker: a server that can never serve would only hide the cause.
            threads: smallest.map_or(usize::MAX, |(_, b)| b.clamp(1, usize::MAX as u64) as usize),
            bound_by: smallest.map(|(name, _)| name),
            connections: descriptors.map_or(usize::MAX, |d| d.clamp(1, usize::MAX as u64) as usize),
            inputs,
        }
    }
}

const PAGE: u64 = 4096;

fn page_round(bytes: u64) -> u64 {
    bytes.div_ceil(PAGE) * PAGE
}

impl fmt::Display for ThreadCapacity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |limit: Option<u64>| limit.map_or("unlimited".to_string(), |l| l.to_string());
        let i = &self.inputs;
        let count = |n: usize| {
            if n == usize::MAX {
                "unlimited".to_string()
            } else {
                n.to_string()
            }
        };
        write!(
            f,
            "{}, connections {} (threads bound by {}; RLIMIT_NPROC {}, RLIMIT_AS {} bytes with {} used, RLIMIT_NOFILE {} \
             with {} open, threads-max {} and pid_max {} with {} threads on the machine, \
             vm.max_map_count {} with {} maps, {} threads in this process, {} CPUs, \
             MALLOC_ARENA_MAX {})",
            count(self.threads),
            count(self.connections),
            self.bound_by.unwrap_or("nothing"),
            show(i.nproc),
            show(i.address_space),
            i.address_space_used,
            show(i.open_files),
            i.descriptors,
            show(i.threads_max),
            show(i.pid_max),
            i.machine_threads,
            show(i.max_map_count),
            i.maps,
            i.threads,
            i.cpus,
            show(i.arena_max),
        )
    }
}

impl CapacityInputs {
    /// Reads limits and use from /proc; what cannot be read counts as unlimited (or zero use).
    pub fn read() -> CapacityInputs {
        let limits = fs::read_to_string("/proc/self/limits").unwrap_or_default();
        let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
        let number = |path: &str| {
            fs::read_to_string(path)
                .ok()
                .and_then(|s| s.trim().parse().ok())
        };
        CapacityInputs {
            // Root is exempt from RLIMIT_NPROC.
            nproc: soft_limit(&limits, "Max processes")
                .filter(|_| status_field(&status, "Uid:") != Some(0)),
            address_space: soft_limit(&limits, "Max address space"),
            open_files: soft_limit(&limits, "Max open files"),
            threads_max: number("/proc/sys/kernel/threads-max"),
            pid_max: number("/proc/sys/kernel/pid_max"),
            max_map_count: number("/proc/sys/vm/max_map_count"),
            threads: status_field(&status, "Threads:").unwrap_or(1),
            machine_threads: fs::read_to_string("/proc/loadavg")
                .ok()
                .and_then(|s| machine_threads(&s))
                .unwrap_or(0),
            address_space_used: status_field(&status, "VmSize:").unwrap_or(0) * 1024,
            maps: fs::read_to_string("/proc/self/maps")
                .map(|maps| maps.lines().count() as u64)
                .unwrap_or(0),
            descriptors: fs::read_dir("/proc/self/fd")
                .map(|dir| dir.count() as u64)
                .unwrap_or(0),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get() as u64),
            arena_max: std::env::var("MALLOC_ARENA_MAX")
                .ok()
                .and_then(|v| v.trim().parse().ok()),
        }
    }
}

/// The soft limit on the /proc/PID/limits line that starts with `name`; `None` if unlimited.
fn soft_limit(limits: &str, name: &str) -> Option<u64> {
    let line = limits.lines().find(|line| line.starts_with(name))?;
    line[name.len()..].split_whitespace().next()?.parse().ok()
}

/// The first number after `field` in /proc/PID/status.
fn status_field(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with(field))?;
    line[field.len()..].split_whitespace().next()?.parse().ok()
}

/// Threads on the machine: the "running/total" field of /proc/loadavg.
fn machine_threads(loadavg: &str) -> Option<u64> {
    loadavg
        .split_whitespace()
        .nth(3)?
        .split('/')
        .nth(1)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roomy() -> CapacityInputs {
        CapacityInputs {
            threads: 3,
            machine_threads: 150,
            address_space_used: 20 << 20,
            maps: 100,
            descriptors: 8,
            cpus: 2,
            ..CapacityInputs::default()
        }
    }

    #[test]
    fn nothing_set_is_unlimited() {
        let capacity = ThreadCapacity::derive(roomy(), 256 << 10);
        assert_eq!(capacity.threads, usize::MAX);
        assert_eq!(capacity.bound_by, None);
    }

    #[test]
    fn map_count_allows_a_quarter_of_the_free_maps_less_the_reserve() {
        let inputs = CapacityInputs {
            max_map_count: Some(65_530),
            ..roomy()
        };
        let capacity = ThreadCapacity::derive(inputs, 256 << 10);
        let free = 65_530 - 100;
        assert_eq!(capacity.threads as u64, (free - free / 16) / 4);
        assert_eq!(capacity.bound_by, Some("vm.max_map_count"));
    }

    #[test]
    fn address_space_divides_by_the_stack_and_keeps_a_reserve() {
        let inputs = CapacityInputs {
            address_space: Some(314_572_800),
            max_map_count: Some(65_530),
            open_files: Some(20_000),
            ..roomy()
        };
        let capacity = ThreadCapacity::derive(inputs, 256 << 10);
        assert_eq!(capacity.bound_by, Some("RLIMIT_AS"));
        // 280 MiB free: four 64 MiB arenas may take 256 of it, the rest less 8 MiB is stacks.
        let free = 314_572_800 - (20 << 20) - 4 * (64 << 20);
        let expected = (free - (8 << 20)) / ((256 << 10) + 4096 + (64 << 10));
        assert_eq!(capacity.threads as u64, expected);
        assert!((40..100).contains(&capacity.threads), "{capacity}");
        let roomier = CapacityInputs {
            address_space: Some(4 << 30),
            ..inputs
        };
        let capacity = ThreadCapacity::derive(roomier, 256 << 10);
        let free = (4u64 << 30) - (20 << 20) - 15 * (64 << 20);
        assert_eq!(
            capacity.threads as u64,
            (free - free / 8) / ((256 << 10) + 4096 + (64 << 10))
        );
    }

    #[test]
    fn descriptors_and_kernel_thread_limits_bound_it_too() {
        let inputs = CapacityInputs {
            open_files: Some(1024),
            ..roomy()
        };
        let capacity = ThreadCapacity::derive(inputs, 1 << 20);
        assert_eq!(capacity.threads, 1024 - 8 - 16);
        assert_eq!(capacity.connections, 1024 - 8 - 16);
        let inputs = CapacityInputs {
            pid_max: Some(32_768),
            threads_max: Some(192_726),
            ..roomy()
        };
        let capacity = ThreadCapacity::derive(inputs, 1 << 20);
        assert_eq!(capacity.threads, 32_768 - 150 - 32);
        assert_eq!(capacity.bound_by, Some("kernel.pid_max"));
        assert_eq!(capacity.connections, usize::MAX, "no descriptor limit set");
    }

    #[test]
    fn exhausted_limits_still_allow_one_worker() {
        let inputs = CapacityInputs {
            open_files: Some(10),
            ..roomy()
        };
        assert_eq!(ThreadCapacity::derive(inputs, 1 << 20).threads, 1);
    }

    #[test]
    fn proc_formats_parse() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max processes             96363                96363                processes\n\
                      Max open files            1024                 20000                files\n\
                      Max address space         unlimited            unlimited            bytes\n";
        assert_eq!(soft_limit(limits, "Max processes"), Some(96_363));
        assert_eq!(soft_limit(limits, "Max open files"), Some(1024));
        assert_eq!(soft_limit(limits, "Max address space"), None);
        assert_eq!(machine_threads("4.86 1.98 0.87 8/156 17774\n"), Some(156));
        assert_eq!(
            status_field("Name:\tx\nVmSize:\t  12345 kB\n", "VmSize:"),
            Some(12_345)
        );
        let here = CapacityInputs::read();
        assert!(
            here.threads >= 1 && here.maps > 0 && here.descriptors > 0,
            "{here:?}"
        );
    }
}
