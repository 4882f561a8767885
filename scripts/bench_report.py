#!/usr/bin/env python3
"""Writes benches/results/latest.md from the raw figures scripts/bench.sh gathered.

Usage (bench.sh calls it): bench_report.py INDEX NOTES OUT DURATION WARMUP QUICK ROOT ROUNDS
INDEX is a tab-separated line per measurement: `grid`/`pipelined` points (server, connections,
payload, pipeline, tether bench's JSON file, peak RSS, exit status, driver, server CPU ticks),
`idle` RSS probes, `idlescale` probes (server, scripts/idle_scale.py's JSON file) and `strace`
syscall counts. NOTES holds free-text lines bench.sh collected
(skipped servers, probes that failed).
"""
import json, os, platform, re, subprocess, sys, time

index, notes_path, out_path, duration, warmup, quick, root, rounds = sys.argv[1:9]
NAMES = ["tether", "tether_before", "tether_nopark", "raw_echo", "apache_rust", "apache_cpp"]
grid, pipelined, idle, strace, idlescale = {}, {}, {}, {}, {}
for line in open(index):
    f = line.rstrip("\n").split("\t")
    if f[0] in ("grid", "pipelined"):
        kind, name, conns, payload, pipeline, path, peak, status, driver, cpu_ticks = f
        report = json.load(open(path)) if path and os.path.exists(path) else None
        entry = {"report": report, "peak_kib": int(peak) if peak else None, "status": status,
                 "cpu_ticks": int(cpu_ticks) if cpu_ticks else None}
        if kind == "grid":
            grid.setdefault((name, int(conns), int(payload), int(pipeline)), []).append(entry)
        else:
            pipelined[(name, int(conns), int(payload), int(pipeline), driver)] = entry
    elif f[0] == "idle":
        _, name, n, before, during = f
        if before and during:
            idle[name] = (int(n), int(before), int(during))
    elif f[0] == "strace":
        strace[f[1]] = (int(f[2]), open(f[3]).read())
    elif f[0] == "idlescale" and os.path.exists(f[2]):
        idlescale.setdefault(f[1], []).append(json.load(open(f[2])))

# Several rounds: keep, per point and server, the run with the median calls/s.
def median_run(entries):
    ran = sorted((e for e in entries if e["report"]), key=lambda e: e["report"]["calls_per_s"])
    return ran[len(ran) // 2] if ran else entries[0]
grid = {k: median_run(v) for k, v in grid.items()}

# Several idle-scale runs per server: keep the one with the median first-call p99 (or the
# median held count when no call was timed), and the others' p99s to show the spread.
def first_p99(r):
    return r["first_call_us"]["p99"] if r.get("first_call_us") else None
def median_idle(runs):
    timed = sorted((r for r in runs if first_p99(r) is not None), key=first_p99)
    chosen = timed[len(timed) // 2] if timed else sorted(runs, key=lambda r: r["held"])[len(runs) // 2]
    chosen["rounds_first_p99"] = [first_p99(r) for r in runs]
    chosen["rounds_again_p99"] = [r["again_us"]["p99"] if r.get("again_us") else None for r in runs]
    return chosen
idlescale = {k: median_idle(v) for k, v in idlescale.items()}
servers = [n for n in NAMES if any(k[0] == n for k in grid)]
points = sorted({(k[2], k[1]) for k in grid})

def rep(name, conns, payload, pipeline=1, table=grid):
    e = table.get((name, conns, payload, pipeline))
    return e["report"] if e else None

def fmt_rate(r):
    return f"{r['calls_per_s']:,.0f}" if r else "—"

def fmt_us(v):
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"

def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "—"

def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"

def commit():
    try:
        return subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip() or "unknown"
    except OSError:
        return "unknown"

o = []
o.append("# tether benchmark: side by side")
o.append("")
o.append(f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
o.append(f"- machine: {os.cpu_count()} cores, {cpu_model()}, Linux {platform.release()}")
o.append(f"- commit: {commit()}; client: `tether bench --driver events` (closed loop, one call in "
         f"flight per connection), {duration} measured after {warmup} warmup per point"
         + (f", median of {rounds} rounds" if rounds != "1" else "")
         + (" (--quick pass)" if quick == "1" else ""))
o.append("- servers, each a fresh process per point, run in turn (interleaved, the order rotating by one per point and round): "
         + ", ".join(servers) + "; framed transport, binary protocol, loopback")
for n in open(notes_path).read().splitlines():
    o.append(f"- note: {n}")
o.append("")

def header(cols, left=2):
    """A table header; the first `left` columns are text, the rest numbers (right-aligned)."""
    o.append("| " + " | ".join(cols) + " |")
    o.append("|" + "|".join("---:" if i >= left else "---" for i in range(len(cols))) + "|")

o.append("## Throughput (calls/s) and ratios")
o.append("")
others = [s for s in ["tether_before", "tether_nopark", "raw_echo", "apache_rust", "apache_cpp"] if s in servers]
header(["payload", "conns"] + servers + [f"tether/{s}" for s in others if "tether" in servers])
for payload, conns in points:
    row = [f"{payload} B", str(conns)] + [fmt_rate(rep(s, conns, payload)) for s in servers]
    t = rep("tether", conns, payload)
    if "tether" in servers:
        for s in others:
            r = rep(s, conns, payload)
            row.append(ratio(t and t["calls_per_s"], r and r["calls_per_s"]))
    o.append("| " + " | ".join(row) + " |")
o.append("")

o.append("## Latency p99 (µs)")
o.append("")
header(["payload", "conns"] + servers + (["p99 tether/raw_echo"] if "tether" in servers and "raw_echo" in servers else []))
for payload, conns in points:
    row = [f"{payload} B", str(conns)]
    for s in servers:
        r = rep(s, conns, payload)
        row.append(fmt_us(r["latency_us"]["p99"]) if r and r["calls"] else "—")
    if "tether" in servers and "raw_echo" in servers:
        t, r = rep("tether", conns, payload), rep("raw_echo", conns, payload)
        row.append(ratio(t and t["latency_us"]["p99"], r and r["latency_us"]["p99"]))
    o.append("| " + " | ".join(row) + " |")
o.append("")

o.append("## Fairness: calls per connection, min / median (starved when min < 0.5 x median)")
o.append("")
header(["payload", "conns"] + servers)
for payload, conns in points:
    row = [f"{payload} B", str(conns)]
    for s in servers:
        r = rep(s, conns, payload)
        if not r:
            row.append("—")
            continue
        c = r["calls_per_connection"]
        flag = " **starved**" if c["median"] and c["min"] < 0.5 * c["median"] else ""
        row.append(f"{c['min']:,} / {c['median']:,}{flag}")
    o.append("| " + " | ".join(row) + " |")
o.append("")

def seconds(text):
    m = re.match(r"^([\d.]+)\s*(us|ms|s|m|h)?$", text.strip())
    if not m:
        return None
    scale = {"us": 1e-6, "ms": 1e-3, "s": 1, None: 1, "m": 60, "h": 3600}[m.group(2)]
    return float(m.group(1)) * scale

o.append("## Server CPU per call (µs; whole run incl. warmup, 10 ms clock ticks)")
o.append("")
header(["payload", "conns"] + servers)
run_s = (seconds(duration) or 0) + (seconds(warmup) or 0)
for payload, conns in points:
    row = [f"{payload} B", str(conns)]
    for s in servers:
        e = grid.get((s, conns, payload, 1))
        r = e and e["report"]
        if r and r["calls_per_s"] and e["cpu_ticks"] is not None and run_s:
            row.append(f"{e['cpu_ticks'] * 1e4 / (r['calls_per_s'] * run_s):.1f}")
        else:
            row.append("—")
    o.append("| " + " | ".join(row) + " |")
o.append("")

o.append("## Server peak RSS at the end of each point (MiB) and errors")
o.append("")
header(["payload", "conns"] + servers + ["errors"])
for payload, conns in points:
    row, errs = [f"{payload} B", str(conns)], []
    for s in servers:
        e = grid.get((s, conns, payload, 1))
        row.append(f"{e['peak_kib'] / 1024:.1f}" if e and e["peak_kib"] else "—")
        r = e and e["report"]
        if e and not r:
            errs.append(f"{s}: {e['status']}")
        elif r and r["errors"]:
            errs.append(f"{s}: " + ", ".join(f"{k} {v}" for k, v in r["errors"].items()))
    row.append("; ".join(errs) or "0")
    o.append("| " + " | ".join(row) + " |")
o.append("")

if idle:
    o.append("## RSS per idle connection (each made one call, then idles)")
    o.append("")
    header(["server", "idle conns", "RSS before (MiB)", "RSS with idle (MiB)", "per connection (KiB)"], left=1)
    for s in servers:
        if s in idle:
            n, before, during = idle[s]
            o.append(f"| {s} | {n:,} | {before / 1024:.1f} | {during / 1024:.1f} | {(during - before) / n:.1f} |")
    o.append("")

def idle_scale_section():
    """The idle-scale table, and what it extrapolates to."""
    o.append("## Idle scale: N idle connections, each after one call")
    o.append("")
    o.append("Client sockets spread over 127.0.0.2-9; threads and RSS read once every connection "
             "has been idle 2.5 s (past tether's park_after of 1 s). First call: the next call on a "
             "connection after that (parked, for tether); again: a second call right after it "
             "(unparked). Latencies as the probe (Python) sees them, so both carry its overhead."
             + (f" {rounds} runs per server; the row is the run with the median first-call p99, "
                "and the last column lists every run's p99s (first / again)." if rounds != "1" else ""))
    o.append("")
    header(["server", "offered", "held", "alive", "threads", "RSS before (MiB)", "RSS after (MiB)",
            "per idle conn (KiB)", "accept (s)", "first call p50/p99 (µs)", "again p50/p99 (µs)"]
           + (["every run's p99 (µs)"] if rounds != "1" else []), left=1)
    for s in [n for n in NAMES if n in idlescale]:
        r = idlescale[s]
        per = ((r["rss_after_kib"] - r["rss_before_kib"]) / r["held"]
               if r["held"] and r["rss_after_kib"] and r["rss_before_kib"] else None)
        lat = lambda p: f"{p['p50']:,.0f} / {p['p99']:,.0f}" if p else "—"
        o.append(f"| {s} | {r['n']:,} | {r['held']:,} | {'yes' if r['alive'] else '**no**'} | "
                 f"{r['threads_after'] if r['threads_after'] is not None else '—'} | "
                 + (f"{r['rss_before_kib'] / 1024:.1f}" if r["rss_before_kib"] else "—") + " | "
                 + (f"{r['rss_after_kib'] / 1024:.1f}" if r["rss_after_kib"] else "—") + " | "
                 + (f"{per:.1f}" if per is not None else "—") + " | "
                 + (f"{r['accept_s']:.2f}" if r["accept_s"] is not None else "not all held") + " | "
                 + f"{lat(r['first_call_us'])} | {lat(r['again_us'])} |"
                 + (" " + ", ".join(f"{a:,.0f} / {b:,.0f}" if a is not None and b is not None else "—"
                                    for a, b in zip(r["rounds_first_p99"], r["rounds_again_p99"]))
                    + " |" if rounds != "1" else ""))
    o.append("")
    t = idlescale.get("tether")
    if t and t["held"] and t["rss_after_kib"] and t["rss_before_kib"]:
        per = (t["rss_after_kib"] - t["rss_before_kib"]) / t["held"]
        o.append(f"Extrapolated from tether's {per:.1f} KiB per idle connection (user-space RSS; the "
                 "kernel's socket buffers come on top and are not in RSS): 100k idle connections "
                 f"≈ {per * 100_000 / 1024:,.0f} MiB, 1M ≈ {per * 1_000_000 / 1024 / 1024:,.1f} GiB, "
                 "on a host tuned for it (RLIMIT_NOFILE, fs.nr_open, the ephemeral port range of "
                 "the clients).")
        o.append("")

if idlescale:
    idle_scale_section()

def parse_strace(text):
    total, rows = None, []
    for line in text.splitlines():
        f = line.split()
        if len(f) < 5 or not re.match(r"^[\d.]+$", f[0]):
            continue
        if f[-1] == "total":
            total = int(f[3])
        else:
            rows.append((int(f[3]), f[-1]))
    rows.sort(reverse=True)
    return total, rows

if strace:
    n = next(iter(strace.values()))[0]
    o.append(f"## Syscalls per request (strace -c -f on the server, {n:,} echo calls of 64 B, one connection)")
    o.append("")
    header(["server", "syscalls per request", "largest (per request)"], left=1)
    o[-1] = "|---|---:|---|"
    for s in servers:
        if s not in strace:
            continue
        n, text = strace[s]
        total, rows = parse_strace(text)
        top = ", ".join(f"{name} {calls / n:.2f}" for calls, name in rows[:4])
        o.append(f"| {s} | {total / n:.2f} | {top} |" if total else f"| {s} | — | no total line |")
    o.append("")

if pipelined:
    o.append(f"## Pipelined calls, tether (64 B)")
    o.append("")
    o.append("`events`: one event loop keeps the window full (the server's pipelined capacity); "
             "`threads`: tether's own client, one thread per connection keeping a window of pending calls on a MuxConnection.")
    o.append("")
    header(["driver", "conns", "in flight per conn", "calls/s", "p99 (µs)", "vs one call at a time"], left=1)
    for (name, conns, payload, pipeline, driver), e in sorted(pipelined.items(), key=lambda kv: (kv[0][1], kv[0][4])):
        r = e["report"]
        single = rep("tether", conns, payload)
        o.append(f"| {driver} | {conns} | {pipeline} | {fmt_rate(r)} | "
                 + (fmt_us(r["latency_us"]["p99"]) if r and r["calls"] else "—") + " | "
                 + ratio(r and r["calls_per_s"], single and single["calls_per_s"]) + " |")
    o.append("")

# The targets of the issue, checked against this run (reported, not asserted).
if "tether" in servers:
    o.append("## Targets")
    o.append("")
    def check(label, ok_points, all_points):
        if not all_points:
            return
        missed = [p for p in all_points if p not in ok_points]
        mark = "met" if not missed else "missed"
        detail = "" if not missed else "; missed at " + ", ".join(f"{c} conns/{p} B" for p, c in missed)
        o.append(f"- {label}: {mark} (met at {len(ok_points)} of {len(all_points)} points{detail})")
    def pts(other, pred, min_conns=1):
        all_p, ok = [], []
        for payload, conns in points:
            if conns < min_conns:
                continue
            t, r = rep("tether", conns, payload), rep(other, conns, payload)
            if not (t and r and t["calls"] and r["calls"]):
                continue
            all_p.append((payload, conns))
            if pred(t, r):
                ok.append((payload, conns))
        return ok, all_p
    if "raw_echo" in servers:
        check("tether >= 0.95x raw_echo calls/s",
              *pts("raw_echo", lambda t, r: t["calls_per_s"] >= 0.95 * r["calls_per_s"]))
        check("tether p99 <= 1.2x raw_echo p99",
              *pts("raw_echo", lambda t, r: t["latency_us"]["p99"] <= 1.2 * r["latency_us"]["p99"]))
    if "apache_rust" in servers:
        check("tether >= 1.5x apache_rust calls/s (16+ conns)",
              *pts("apache_rust", lambda t, r: t["calls_per_s"] >= 1.5 * r["calls_per_s"], 16))
    if "apache_cpp" in servers:
        check("tether >= 1.15x apache_cpp calls/s (16+ conns)",
              *pts("apache_cpp", lambda t, r: t["calls_per_s"] >= 1.15 * r["calls_per_s"], 16))
    measured = [(p, c) for p, c in points if rep("tether", c, p) and rep("tether", c, p)["calls"]]
    starved = [(p, c) for p, c in measured
               if (lambda s: s["min"] < 0.5 * s["median"])(rep("tether", c, p)["calls_per_connection"])]
    check("no starved tether connection (min >= 0.5x median calls)",
          [x for x in measured if x not in starved], measured)
    if "tether_nopark" in servers:
        check("parking on >= 0.97x --no-park calls/s (16, 64, 256 conns)",
              *pts("tether_nopark", lambda t, r: t["calls_per_s"] >= 0.97 * r["calls_per_s"], 16))
    t = idlescale.get("tether")
    if t:
        held_ok = t["held"] >= min(t["n"], 19_000) and (t["threads_after"] or 0) <= 64 + 4
        o.append(f"- idle connections held >= 19,000 (or all offered) on <= 64 threads: "
                 f"{'met' if held_ok else 'missed'} ({t['held']:,} held of {t['n']:,}, "
                 f"{t['threads_after']} threads)")
        if t["held"] and t["rss_after_kib"] and t["rss_before_kib"]:
            per = (t["rss_after_kib"] - t["rss_before_kib"]) / t["held"]
            o.append(f"- RSS per parked connection <= 4 KiB: {'met' if per <= 4 else 'missed'} ({per:.1f} KiB)")
        a, b = t["first_call_us"], t["again_us"]
        if a and b:
            extra = a["p99"] - b["p99"]
            o.append(f"- first call on a parked connection p99 <= 200 µs more than unparked: "
                     f"{'met' if extra <= 200 else 'missed'} (+{extra:,.0f} µs)")
    one = [e for k, e in pipelined.items() if k[1] == 1 and k[4] == "events"]
    if one and one[0]["report"] and rep("tether", 1, 64):
        x = one[0]["report"]["calls_per_s"] / max(rep("tether", 1, 64)["calls_per_s"], 1e-9)
        o.append(f"- pipelined on one connection >= 5x one call at a time: {'met' if x >= 5 else 'missed'} ({x:.1f}x)")
    o.append("")

text = "\n".join(o)
open(out_path, "w").write(text)
print(text)
