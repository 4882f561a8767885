#!/usr/bin/env python3
"""Idle-scale probe for scripts/bench.sh: how many idle keep-alive connections a server holds.

Usage: idle_scale.py ADDR N --pid PID --json OUT [--sources 8] [--timeout 60] [--samples 200]
                     [--settle 2.5]

Opens N connections to ADDR (framed binary Thrift, the Echo service), their source addresses
spread over 127.0.0.2 .. 127.0.0.(1+sources) so the ephemeral port range is no limit, and makes
one echo call on each. Then, with every connection idle for --settle seconds (past a
`park_after` of 1 s), it reads the server's threads and RSS, and times a first call on
--samples parked connections (of those answered), each followed at once by a second call on the same, now
unparked, connection. Every wait is bounded: connects and first calls by --timeout in total,
each sampled call by 5 s, the sampling by 30 s, and the connects and first calls stop after 5 s
without progress. Writes a JSON object to OUT:
  n, held (connections answered), accept_s (first connect to last first reply, or null when not
  all were held), rss_before_kib, rss_after_kib, threads_before, threads_after, alive (the
  server still runs), first_call_us / again_us (p50, p99, max of the sampled calls).
"""
import argparse, json, os, selectors, socket, struct, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("addr")
ap.add_argument("n", type=int)
ap.add_argument("--pid", type=int, required=True)
ap.add_argument("--json", required=True)
ap.add_argument("--sources", type=int, default=8)
ap.add_argument("--timeout", type=float, default=60.0)
ap.add_argument("--samples", type=int, default=200)
ap.add_argument("--settle", type=float, default=2.5)
args = ap.parse_args()
host, port = args.addr.rsplit(":", 1)
target = (host, int(port))

PAYLOAD = b"x" * 64


def echo_call(seqid):
    name = b"echo"
    body = struct.pack(">iI", -2147418111, len(name)) + name + struct.pack(">i", seqid)
    body += struct.pack(">bhI", 11, 1, len(PAYLOAD)) + PAYLOAD + b"\x00"
    return struct.pack(">I", len(body)) + body


def status(field):
    try:
        for line in open(f"/proc/{args.pid}/status"):
            if line.startswith(field):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def alive():
    try:
        os.kill(args.pid, 0)
        return True
    except OSError:
        return False


def percentiles(samples):
    if not samples:
        return None
    s = sorted(samples)
    pick = lambda q: s[min(len(s) - 1, int(q * len(s)))]
    return {"p50": pick(0.50), "p99": pick(0.99), "max": s[-1], "count": len(s)}


rss_before, threads_before = status("VmRSS:"), status("Threads:")
sel = selectors.DefaultSelector()
socks, pending, replies = [], {}, {}
start = time.monotonic()
deadline = start + args.timeout
for i in range(args.n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((f"127.0.0.{2 + i % args.sources}", 0))
    except OSError as e:
        print(f"idle_scale: bind failed after {i} sockets: {e}", file=sys.stderr)
        s.close()
        break
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.setblocking(False)
    try:
        s.connect(target)
    except BlockingIOError:
        pass
    except OSError as e:
        print(f"idle_scale: connect failed after {i} sockets: {e}", file=sys.stderr)
        s.close()
        break
    socks.append(s)
    pending[s.fileno()] = (s, echo_call(i))
    sel.register(s, selectors.EVENT_WRITE)
    if time.monotonic() > deadline:
        break

# Send each connection's call once it is connected, and read replies; bounded by the deadline,
# and by STALL without progress (a server that holds no more leaves the rest in its backlog).
STALL = 5.0
held, last_reply = 0, None
answered = []
buffers = {}
last_progress = time.monotonic()
while (pending or buffers) and time.monotonic() < deadline:
    if time.monotonic() - last_progress > STALL:
        print(f"idle_scale: no progress for {STALL:.0f} s; {held} answered", file=sys.stderr)
        break
    for key, mask in sel.select(timeout=0.2):
        last_progress = time.monotonic()
        s = key.fileobj
        fd = s.fileno()
        if mask & selectors.EVENT_WRITE:
            sock, call = pending.pop(fd)
            try:
                sock.send(call)
                buffers[fd] = b""
                sel.modify(sock, selectors.EVENT_READ)
            except OSError:
                sel.unregister(sock)
            continue
        try:
            data = s.recv(4096)
        except BlockingIOError:
            continue
        except OSError:
            data = b""
        if not data:
            sel.unregister(s)
            buffers.pop(fd, None)
            continue
        buffers[fd] += data
        if len(buffers[fd]) >= 4 and len(buffers[fd]) >= 4 + struct.unpack(">I", buffers[fd][:4])[0]:
            sel.unregister(s)
            del buffers[fd]
            held += 1
            answered.append(s)
            last_reply = time.monotonic()
accept_s = (last_reply - start) if held == args.n and last_reply else None

time.sleep(args.settle)
rss_after, threads_after = status("VmRSS:"), status("Threads:")


def timed_call(sock, seqid):
    """One blocking echo call; microseconds, or None when it failed or took over 5 s."""
    sock.setblocking(True)
    sock.settimeout(5.0)
    t = time.perf_counter()
    try:
        sock.sendall(echo_call(seqid))
        got = b""
        while len(got) < 4 or len(got) < 4 + struct.unpack(">I", got[:4])[0]:
            chunk = sock.recv(4096)
            if not chunk:
                return None
            got += chunk
    except OSError:
        return None
    return (time.perf_counter() - t) * 1e6


first, again = [], []
if held and alive():
    # Only connections the server answered: one still in its backlog would time out.
    step = max(1, len(answered) // max(1, args.samples))
    sampling_deadline = time.monotonic() + 30
    for k, sock in enumerate(answered[::step][: args.samples]):
        if time.monotonic() > sampling_deadline:
            break
        a = timed_call(sock, 1_000_000 + k)
        b = timed_call(sock, 2_000_000 + k) if a is not None else None
        if a is not None:
            first.append(a)
        if b is not None:
            again.append(b)

result = {
    "n": args.n,
    "opened": len(socks),
    "held": held,
    "accept_s": accept_s,
    "rss_before_kib": rss_before,
    "rss_after_kib": rss_after,
    "threads_before": threads_before,
    "threads_after": threads_after,
    "alive": alive(),
    "first_call_us": percentiles(first),
    "again_us": percentiles(again),
}
json.dump(result, open(args.json, "w"))
print(json.dumps(result))
for s in socks:
    s.close()
