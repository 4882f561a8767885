#!/usr/bin/env python3
"""Runs the cross-test matrix and prints a pass/fail table: tether's cross_server against the
Python client (scripts/interop/cross_client.py), and tether's cross_client against the Python
server (cross_server.py), for every protocol and transport of Apache's cross test. A combination
tether does not speak yet is listed as skipped with the reason, after checking that the tether
program refuses it clearly. Exits 1 if any row failed.

    cross.py --gen DIR --examples DIR [--reference]

--gen is `thrift --gen py` output for idl/ThriftTest.thrift; --examples holds the built
cross_server and cross_client; --reference adds Python client against Python server rows (a
check of the Python programs themselves). Loopback only, port 0, every wait bounded.
"""

import argparse
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time

from cross_common import PROTOCOLS, TRANSPORTS

HERE = os.path.dirname(os.path.abspath(__file__))

# Why tether cannot run a combination yet, by (tether's side, protocol, transport), "*" for
# every transport; absent means it must pass. Kept in step with `unsupported` in
# examples/cross/flags.rs: a row listed here fails unless the tether program refuses the
# combination, so the two cannot drift apart silently.
NOT_YET = {}


def not_yet(side, protocol, transport):
    return NOT_YET.get((side, protocol, transport)) or NOT_YET.get((side, protocol, "*"))


# Bounds on every wait: a server's first line, a whole client run (the oneway test alone sleeps
# 1 s; a run takes about 1.1 s), a refused combination, a server's drain after SIGTERM.
LISTEN_TIMEOUT_S = 10
CLIENT_TIMEOUT_S = 30
REFUSE_TIMEOUT_S = 5
STOP_TIMEOUT_S = 5
EXIT_USAGE = 2


class Row:
    def __init__(self, side, protocol, transport):
        self.side, self.protocol, self.transport = side, protocol, transport
        self.result = ""
        self.failed = False
        self.detail = ""

    def flags(self):
        return ["--protocol", self.protocol, "--transport", self.transport]


def start_server(command, log):
    """Starts a server that prints `listening on IP:PORT` first; returns (process, port)."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + LISTEN_TIMEOUT_S
    line = ""
    while not line.endswith("\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not selector.select(left):
            stop(process)
            raise RuntimeError(f"no `listening on` line within {LISTEN_TIMEOUT_S} s")
        chunk = os.read(process.stdout.fileno(), 256).decode()
        if not chunk:
            stop(process)
            raise RuntimeError(f"server exited before listening (status {process.wait()})")
        line += chunk
    first = line.splitlines()[0]
    if not first.startswith("listening on "):
        stop(process)
        raise RuntimeError(f"first line was {first!r}")
    return process, int(first.rsplit(":", 1)[1])


def stop(process, signum=signal.SIGKILL):
    """Signals `process` and waits for it; returns its status, or None if it had to be killed."""
    if process.poll() is None:
        process.send_signal(signum)
    try:
        return process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return None


def run_client(command, log):
    begin = time.monotonic()
    try:
        status = subprocess.run(command, stdout=log, stderr=log, timeout=CLIENT_TIMEOUT_S).returncode
    except subprocess.TimeoutExpired:
        return f"client still running after {CLIENT_TIMEOUT_S} s", time.monotonic() - begin
    return (None if status == 0 else f"client exited {status}"), time.monotonic() - begin


def refuses(command):
    """Whether a tether program refuses the combination: exit 2, saying "not supported"."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=REFUSE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return False, f"it ran (still up after {REFUSE_TIMEOUT_S} s) instead of refusing"
    if done.returncode == EXIT_USAGE and "not supported" in done.stderr:
        return True, ""
    return False, f"exit {done.returncode}: {done.stderr.strip() or done.stdout.strip()}"


def run_row(row, args, work):
    python_client = [sys.executable, os.path.join(HERE, "cross_client.py"), "--gen", args.gen]
    python_server = [sys.executable, os.path.join(HERE, "cross_server.py"), "--gen", args.gen]
    tether_server = [os.path.join(args.examples, "cross_server")]
    tether_client = [os.path.join(args.examples, "cross_client")]
    if row.side == "server":
        server, client, clean_exit = tether_server, python_client, True
    elif row.side == "client":
        server, client, clean_exit = python_server, tether_client, False
    else:
        server, client, clean_exit = python_server, python_client, False

    reason = not_yet(row.side, row.protocol, row.transport)
    if reason is not None:
        program = tether_server if row.side == "server" else tether_client
        ok, why = refuses(program + ["--port", "0"] + row.flags())
        row.result = f"skipped: {reason}"
        if not ok:
            row.failed, row.result = True, "FAIL: listed as not yet supported, but"
            row.detail = why + " (update NOT_YET here and `unsupported` in examples/cross/flags.rs)"
        return

    name = f"{row.side}-{row.protocol}-{row.transport}"
    server_log_path = os.path.join(work, f"{name}.server.log")
    client_log_path = os.path.join(work, f"{name}.client.log")
    with open(server_log_path, "w") as server_log, open(client_log_path, "w") as client_log:
        try:
            process, port = start_server(server + ["--port", "0"] + row.flags(), server_log)
        except RuntimeError as e:
            row.failed, row.result = True, f"FAIL: server: {e}"
        else:
            failure, took = run_client(
                client + ["--host", "127.0.0.1", "--port", str(port)] + row.flags(), client_log)
            # tether's server drains on SIGTERM and must exit 0; Python's dies by the signal.
            status = stop(process, signal.SIGTERM)
            if failure is None and clean_exit and status != 0:
                failure = f"server exited {status} after SIGTERM, not 0 (unclean drain)"
            if failure is None:
                row.result = f"pass ({took:.1f} s)"
            else:
                row.failed, row.result = True, f"FAIL: {failure}"
    if row.failed:
        row.detail = "\n".join(
            f"    {label}: {line}"
            for label, path in (("client", client_log_path), ("server", server_log_path))
            for line in open(path).read().splitlines()[-15:]
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gen", required=True)
    parser.add_argument("--examples", required=True)
    parser.add_argument("--reference", action="store_true")
    args = parser.parse_args()

    sides = ["server", "client"] + (["reference"] if args.reference else [])
    rows = [Row(side, p, t) for side in sides for p in PROTOCOLS for t in TRANSPORTS]
    peers = {
        "server": ("tether cross_server", "Python client"),
        "client": ("tether cross_client", "Python server"),
        "reference": ("Python server", "Python client"),
    }
    begin = time.monotonic()
    with tempfile.TemporaryDirectory() as work:
        for row in rows:
            run_row(row, args, work)

    print(f"{'under test':<20} {'peer':<14} {'protocol':<9} {'transport':<10} result")
    for row in rows:
        ours, peer = peers[row.side]
        print(f"{ours:<20} {peer:<14} {row.protocol:<9} {row.transport:<10} {row.result}")
        if row.detail:
            print(row.detail)
    passed = sum(1 for r in rows if r.result.startswith("pass"))
    failed = sum(1 for r in rows if r.failed)
    skipped = len(rows) - passed - failed
    print(f"cross: {passed} passed, {failed} failed, {skipped} skipped "
          f"({time.monotonic() - begin:.1f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
