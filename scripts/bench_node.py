#!/usr/bin/env python3
"""Node benchmarks for docs/PERFORMANCE.md.

Measures, on SQLite and (if reachable) PostgreSQL, with the release binary:
  - time from `entraide serve` starting to `/readyz` answering 200;
  - idle resident memory of the serving process;
  - authenticated `GET /api/v1/cases` throughput and latency on loopback,
    with wrk as the load generator (installed from Debian if missing).

Usage: python3 scripts/bench_node.py [--duration 15] [--connections 32]
The release binary is built first (cargo build --release -p entraide).
"""
import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG_BASE = os.environ.get("ENTRAIDE_BENCH_PG", "postgres://postgres@127.0.0.1:5432")


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def binary():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    subprocess.run(["cargo", "build", "--release", "-p", "entraide"], cwd=ROOT, check=True)
    return os.path.join(target, "release", "entraide")


def ensure_wrk():
    if shutil.which("wrk"):
        return
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)


def request(method, url, token=None, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, r.read()


def start_and_time(exe, data_dir, port):
    """Starts `serve`; returns (process, seconds until /readyz answered)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [exe, "serve", "--data-dir", data_dir, "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ENTRAIDE_LOG": "warn"},
    )
    url = f"http://127.0.0.1:{port}/readyz"
    while True:
        try:
            status, _ = request("GET", url)
            if status == 200:
                return proc, time.perf_counter() - t0
        except Exception:
            pass
        if time.perf_counter() - t0 > 30:
            proc.kill()
            raise RuntimeError("node did not become ready in 30 s")
        time.sleep(0.001)


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def wrk(url, token, duration, connections, args_threads=2):
    out = run([
        "wrk", f"-t{args_threads}", f"-c{connections}", f"-d{duration}s", "--latency",
        "-H", f"Authorization: Bearer {token}", url,
    ]).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {}
    for pct in ("50", "90", "99"):
        m = re.search(rf"\s{pct}(?:\.000)?%\s+([\d.]+)(us|ms|s)", out)
        if m:
            v, unit = float(m.group(1)), m.group(2)
            lat[pct] = v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rps, lat, int(non2xx.group(1)) if non2xx else 0


def bench(exe, backend, database_url, args):
    work = tempfile.mkdtemp(prefix=f"entraide-bench-{backend}-")
    data = os.path.join(work, "node")
    pw = os.path.join(work, "pw")
    with open(pw, "w") as f:
        f.write("benchmark password 2026\n")
    init = [exe, "init", "--data-dir", data, "--node-id", "bench-node", "--org-name", "Benchmark",
            "--org-kind", "central-authority", "--country", "FR", "--admin-password-file", pw]
    if database_url:
        init += ["--database-url", database_url]
    run(init)
    run([exe, "user", "add", "--data-dir", data, "--email", "officer@bench.example", "--name", "Officer",
         "--roles", "officer", "--password-file", pw])
    out = run([exe, "token", "create", "--data-dir", data, "--user", "officer@bench.example", "--name", "bench"]).stdout
    token = re.search(r"(ent_\S+)", out).group(1)

    port = free_port()
    proc, _ = start_and_time(exe, data, port)
    base = f"http://127.0.0.1:{port}"
    for i in range(25):
        request("POST", f"{base}/api/v1/cases", token,
                {"reference": f"BENCH-{i:03}", "title": f"Benchmark case {i}", "summary": "x" * 200})
    proc.terminate()
    proc.wait()

    starts = []
    for _ in range(args.starts):
        port = free_port()
        proc, t = start_and_time(exe, data, port)
        starts.append(t * 1000)
        proc.terminate()
        proc.wait()

    port = free_port()
    proc, _ = start_and_time(exe, data, port)
    time.sleep(3)
    idle = rss_mb(proc.pid)
    rps, lat, errors = wrk(f"http://127.0.0.1:{port}/api/v1/cases", token, args.duration, args.connections, args.threads)
    loaded = rss_mb(proc.pid)
    proc.terminate()
    proc.wait()
    shutil.rmtree(work, ignore_errors=True)
    return {
        "backend": backend,
        "ready_ms_median": statistics.median(starts),
        "ready_ms_max": max(starts),
        "idle_rss_mb": idle,
        "rss_after_load_mb": loaded,
        "rps": rps,
        "latency_ms": lat,
        "non_2xx": errors,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=int, default=15)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--starts", type=int, default=7)
    p.add_argument("--threads", type=int, default=2, help="wrk threads")
    args = p.parse_args()
    exe = binary()
    ensure_wrk()
    results = [bench(exe, "sqlite", None, args)]
    pg_db = f"entraide_bench_{os.getpid()}"
    try:
        run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc", f"CREATE DATABASE {pg_db}"])
    except Exception as e:  # no PostgreSQL here
        print(f"PostgreSQL skipped: {e}", file=sys.stderr)
        pg_db = None
    if pg_db:
        try:
            results.append(bench(exe, "postgres", f"{PG_BASE}/{pg_db}", args))
        finally:
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc",
                            f"DROP DATABASE IF EXISTS {pg_db}"], capture_output=True)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"\nMachine: {os.cpu_count()} cores, {cpu}; wrk -t{args.threads} -c{args.connections} -d{args.duration}s\n")
    print("| backend | serve → /readyz (median of %d, max) | idle RSS | RSS after load | GET /api/v1/cases req/s | p50 | p90 | p99 | non-2xx |" % args.starts)
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        l = r["latency_ms"]
        print(f"| {r['backend']} | {r['ready_ms_median']:.0f} ms ({r['ready_ms_max']:.0f} ms) | {r['idle_rss_mb']:.1f} MB | "
              f"{r['rss_after_load_mb']:.1f} MB | {r['rps']:.0f} | {l.get('50', float('nan')):.2f} ms | "
              f"{l.get('90', float('nan')):.2f} ms | {l.get('99', float('nan')):.2f} ms | {r['non_2xx']} |")
    print("\n" + json.dumps(results))


if __name__ == "__main__":
    main()
