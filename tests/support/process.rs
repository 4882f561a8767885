//! `tether serve` as a child process: started on port 0, signalled, measured.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// A running `tether serve`; killed when dropped.
pub struct ServeProcess {
    /// The child.
    pub child: Child,
    /// The address from its `listening on ADDR` line.
    pub addr: SocketAddr,
    /// The admin endpoint's address from its `admin on http://ADDR` line, when started with
    /// `--admin-listen`.
    pub admin: Option<SocketAddr>,
}

impl ServeProcess {
    /// Runs `tether serve --listen 127.0.0.1:0 ARGS...` and waits for its first stdout line.
    pub fn start(args: &[&str]) -> ServeProcess {
        ServeProcess::start_command(
            Command::new(env!("CARGO_BIN_EXE_tether"))
                .args(["serve", "--listen", "127.0.0.1:0"])
                .args(args),
        )
    }

    /// Runs a command that ends up exec'ing `tether serve` (e.g. under `bash -c 'ulimit ...'`).
    pub fn start_command(command: &mut Command) -> ServeProcess {
        let wants_admin = command.get_args().any(|arg| arg == "--admin-listen");
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or("warn".into()),
            )
            .spawn()
            .expect("spawn tether serve");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().expect("a first line").expect("read stdout");
        let addr = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .parse()
            .expect("an address");
        let admin = wants_admin.then(|| {
            let line = lines.next().expect("an admin line").expect("read stdout");
            line.strip_prefix("admin on http://")
                .unwrap_or_else(|| panic!("unexpected second line {line:?}"))
                .parse()
                .expect("an admin address")
        });
        // Keep draining stdout so the child never blocks on a full pipe.
        thread::spawn(move || for _ in lines {});
        ServeProcess { child, addr, admin }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (e.g. "TERM") with kill(1).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits up to `timeout` for the child to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Resident set size in KiB, from /proc.
    pub fn rss_kib(&self) -> u64 {
        proc_status_field(self.pid(), "VmRSS:")
    }

    /// Address space in KiB (VmSize), from /proc.
    pub fn vm_size_kib(&self) -> u64 {
        proc_status_field(self.pid(), "VmSize:")
    }

    /// Threads in the process, from /proc.
    pub fn threads(&self) -> u64 {
        proc_status_field(self.pid(), "Threads:")
    }

    /// CPU time (user + system) used so far, from /proc/PID/stat, in clock ticks.
    pub fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    }
}

fn proc_status_field(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
