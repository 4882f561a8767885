//! The steady state costs one read and one write syscall per request (docs/architecture.md
//! "The request path"), measured with `strace -f -c` on `tether serve`.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::process::ServeProcess;
use support::*;

const CALLS: i32 = 5_000;

fn strace_works() -> bool {
    Command::new("strace")
        .args(["-f", "-o", "/dev/null", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Total syscalls from an `strace -c` summary (its last line: "100.00 ... CALLS [ERRORS] total").
fn total_calls(summary: &str) -> u64 {
    let line = summary
        .lines()
        .rev()
        .find(|line| line.trim_end().ends_with("total"))
        .unwrap_or_else(|| panic!("no total in strace summary:\n{summary}"));
    let fields: Vec<&str> = line.split_whitespace().collect();
    // "100.00 seconds usecs/call calls [errors] total": calls is the 4th field.
    fields[3].parse().unwrap()
}

#[test]
fn about_two_syscalls_per_request_on_one_connection() {
    if !strace_works() {
        skip("strace is missing or not permitted here");
        return;
    }
    let dir = std::env::temp_dir().join(format!("tether-strace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let summary_path = dir.join("summary.txt");
    let mut server = ServeProcess::start_command(Command::new("strace").args([
        "-f".as_ref(),
        "-c".as_ref(),
        "-o".as_ref(),
        summary_path.as_os_str(),
        env!("CARGO_BIN_EXE_tether").as_ref(),
        "serve".as_ref(),
        "--listen".as_ref(),
        "127.0.0.1:0".as_ref(),
    ]));
    let mut client = RawClient::connect(server.addr);
    let payload = [7u8; 64];
    for seqid in 0..CALLS {
        let reply = client.call(&echo_call(seqid, &payload));
        assert_eq!(reply.seqid, seqid);
    }
    drop(client);

    // The traced server is strace's child; SIGTERM it, and strace writes its summary on exit.
    let children = std::fs::read_to_string(format!(
        "/proc/{pid}/task/{pid}/children",
        pid = server.pid()
    ))
    .unwrap();
    let tether = children.split_whitespace().next().expect("traced child");
    assert!(Command::new("kill")
        .args(["-TERM", tether])
        .status()
        .unwrap()
        .success());
    let status = server.wait_exit(Duration::from_secs(10)).expect("exited");
    assert!(status.success(), "{status:?}");
    let summary = std::fs::read_to_string(&summary_path).unwrap();
    let _ = std::fs::remove_dir_all(&dir);

    let total = total_calls(&summary);
    let per_request = total as f64 / CALLS as f64;
    eprintln!("{total} syscalls for {CALLS} calls: {per_request:.3} per request\n{summary}");
    // Start-up and shutdown add a couple of hundred; 2.2 leaves room for them and nothing else.
    assert!(per_request < 2.2, "{per_request:.3} syscalls per request");
}
