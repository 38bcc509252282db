#!/usr/bin/env python3
"""Request benchmarks for docs/PERFORMANCE.md (issue 3).

On SQLite and (if reachable) PostgreSQL, with the release binary:
  1. latency of creating, submitting and approving requests through the API
     (N sequential requests over one keep-alive connection; p50/p99);
  2. the statistics endpoint over 1,000,000 stored requests (bulk-loaded
     straight into the database), median of 5 calls.

Usage: python3 scripts/bench_requests.py [--n 300] [--rows 1000000]
"""
import argparse
import http.client
import json
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_node import binary, free_port, run, start_and_time  # noqa: E402

PG_BASE = os.environ.get("ENTRAIDE_BENCH_PG", "postgres://postgres@127.0.0.1:5432")

CONTENT = {
    "case_number": "BENCH-1",
    "requesting": {"organisation": "Benchmark", "person": "Officer", "email": "officer@bench.example",
                   "time_zone": "Europe/Paris"},
    "requested": {"organisation": "Fiscalía", "country": "AR"},
    "domestic_legal_basis": "CPP art. 60-1",
    "legal_basis": "budapest_convention",
    "offences": [{"description": "Illegal access", "provision": "Code pénal art. 323-1"}],
    "facts": "x" * 300,
    "data": [{"category": "traffic", "description": "Logs", "relationship_to_offence": "Used for the access"}],
    "identifiers": [{"type": "ip_address", "address": "203.0.113.5", "port": 51000, "at": "2026-11-20T03:10:00Z"}],
    "period_from": "2026-11-18T00:00:00Z",
    "period_to": "2026-11-21T00:00:00Z",
    "custodian": "ExampleHost",
    "necessity": "Logs kept 30 days",
    "mla_to_follow": True,
}


class Client:
    def __init__(self, port, token):
        self.conn = http.client.HTTPConnection("127.0.0.1", port)
        self.token = token

    def call(self, method, path, body=None):
        headers = {"Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        t0 = time.perf_counter()
        self.conn.request(method, path, body=data, headers=headers)
        res = self.conn.getresponse()
        raw = res.read()
        elapsed = (time.perf_counter() - t0) * 1000
        if res.status >= 300:
            raise RuntimeError(f"{method} {path}: {res.status} {raw[:300]}")
        return json.loads(raw) if raw else None, elapsed


def pct(values, p):
    s = sorted(values)
    k = max(1, int(round(p / 100 * len(s) + 0.4999)))
    return s[min(k, len(s)) - 1]


def setup(exe, backend, database_url):
    work = tempfile.mkdtemp(prefix=f"entraide-rq-{backend}-")
    data = os.path.join(work, "node")
    pw = os.path.join(work, "pw")
    with open(pw, "w") as f:
        f.write("benchmark password 2026\n")
    init = [exe, "init", "--data-dir", data, "--node-id", "bench-node", "--org-name", "Benchmark",
            "--org-kind", "central-authority", "--country", "FR", "--admin-password-file", pw]
    if database_url:
        init += ["--database-url", database_url]
    run(init)
    tokens = {}
    for who, roles in [("officer", "officer"), ("approver", "approver")]:
        run([exe, "user", "add", "--data-dir", data, "--email", f"{who}@bench.example", "--name", who,
             "--roles", roles, "--password-file", pw])
        out = run([exe, "token", "create", "--data-dir", data, "--user", f"{who}@bench.example",
                   "--name", "bench"]).stdout
        tokens[who] = re.search(r"(ent_\S+)", out).group(1)
    return data, tokens


def bulk_load(backend, data_dir, database_url, case_id, rows):
    """Inserts `rows` requests with realistic spreads, straight into the database."""
    kinds = ["expedited_preservation", "subscriber_information", "mla_stored_data", "emergency_disclosure",
             "production_order"]
    states = ["answered", "answered", "answered_partially", "refused", "acknowledged", "expired", "sent"]
    countries = ["AR", "BR", "US", "GB", "DE", "ES", "MX", "CA"]
    now_ms = int(time.time() * 1000)
    t0 = time.perf_counter()
    if backend == "sqlite":
        db = sqlite3.connect(os.path.join(data_dir, "entraide.db"))
        cid = uuid.UUID(case_id).bytes
        rng = random.Random(42)

        def gen():
            for i in range(rows):
                created = now_ms - rng.randint(0, 300) * 86_400_000
                sent = created + rng.randint(1, 48) * 3_600_000
                ack = sent + rng.randint(1, 72) * 3_600_000
                data_at = ack + rng.randint(1, 30) * 86_400_000
                state = rng.choice(states)
                yield (uuid.uuid4().bytes, cid, f"BULK/R{i}", rng.choice(kinds), "outgoing" if i % 3 else "incoming",
                       state, "budapest_convention", rng.choice(countries), "Counterpart", "{}",
                       "refusal" if state == "refused" else None, created, created, sent, ack, data_at,
                       data_at if state in ("answered", "refused", "expired") else None)
        db.executemany(
            "INSERT INTO requests (id, case_id, reference, kind, direction, state, legal_basis, requested_country, "
            "counterpart, content, refusal_ground, created_at, updated_at, sent_at, acknowledged_at, first_data_at, "
            "closed_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", gen())
        db.execute("UPDATE requests SET refusal_ground = 'insufficient_information' WHERE refusal_ground = 'refusal'")
        db.commit()
        db.execute("ANALYZE")
        db.close()
    else:
        sql = f"""
        INSERT INTO requests (id, case_id, reference, kind, direction, state, legal_basis, requested_country,
          counterpart, content, refusal_ground, created_at, updated_at, sent_at, acknowledged_at, first_data_at, closed_at)
        SELECT gen_random_uuid(), '{case_id}', 'BULK/R' || g,
          (ARRAY{kinds})[1 + g % 5], CASE WHEN g % 3 = 0 THEN 'incoming' ELSE 'outgoing' END,
          (ARRAY{states})[1 + (g * 5) % 7], 'budapest_convention', (ARRAY{countries})[1 + (g * 3) % 8],
          'Counterpart', '{{}}', CASE WHEN (g * 5) % 7 = 3 THEN 'insufficient_information' END,
          c, c, c + 3600000::bigint * (1 + g % 48), c + 3600000::bigint * (49 + g % 72), c + 86400000::bigint * (4 + g % 30),
          c + 86400000::bigint * (5 + g % 30)
        FROM (SELECT g, {now_ms} - 86400000::bigint * (g % 300) AS c FROM generate_series(1, {rows}) AS g) s;
        ANALYZE requests;"""
        run(["psql", database_url, "-qc", sql])
    return time.perf_counter() - t0


def bench(exe, backend, database_url, args):
    data, tokens = setup(exe, backend, database_url)
    port = free_port()
    proc, _ = start_and_time(exe, data, port)
    try:
        officer = Client(port, tokens["officer"])
        approver = Client(port, tokens["approver"])
        case, _ = officer.call("POST", "/api/v1/cases", {"reference": "BENCH-1", "title": "Benchmark"})
        officer.call("POST", f"/api/v1/cases/{case['id']}/members", {"email": "approver@bench.example"})
        create, submit, approve = [], [], []
        for _ in range(args.n):
            r, t = officer.call("POST", f"/api/v1/cases/{case['id']}/requests",
                                {"kind": "expedited_preservation", "content": CONTENT})
            create.append(t)
            _, t = officer.call("POST", f"/api/v1/requests/{r['id']}/transitions", {"action": "submit_for_approval"})
            submit.append(t)
            _, t = approver.call("POST", f"/api/v1/requests/{r['id']}/transitions", {"action": "approve"})
            approve.append(t)
        load_s = bulk_load(backend, data, database_url, case["id"], args.rows)
        t0 = time.perf_counter()
        run([exe, "requests", "rebuild-statistics", "--data-dir", data])
        rebuild_s = time.perf_counter() - t0
        analyst = officer
        stats_ms = []
        result = None
        for _ in range(5):
            result, t = analyst.call("GET", "/api/v1/statistics?from=2020-01-01&to=2030-01-01")
            stats_ms.append(t)
        return {
            "backend": backend,
            "create_p50": pct(create, 50), "create_p99": pct(create, 99),
            "submit_p50": pct(submit, 50), "submit_p99": pct(submit, 99),
            "approve_p50": pct(approve, 50), "approve_p99": pct(approve, 99),
            "rows": result["total"], "load_s": load_s, "rebuild_s": rebuild_s,
            "stats_median": statistics.median(stats_ms), "stats_max": max(stats_ms),
        }
    finally:
        proc.terminate()
        proc.wait()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=300)
    p.add_argument("--rows", type=int, default=1_000_000)
    args = p.parse_args()
    exe = binary()
    results = [bench(exe, "sqlite", None, args)]
    db = f"entraide_rqbench_{os.getpid()}"
    try:
        run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc", f"CREATE DATABASE {db}"])
        try:
            results.append(bench(exe, "postgres", f"{PG_BASE}/{db}", args))
        finally:
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc",
                            f"DROP DATABASE IF EXISTS {db}"], capture_output=True)
    except subprocess.CalledProcessError as e:
        print(f"PostgreSQL skipped: {e}", file=sys.stderr)
    print(f"\n{args.n} requests created, submitted and approved one after another; statistics over the stored rows.\n")
    print("| backend | create p50 / p99 | submit p50 / p99 | approve p50 / p99 | rows | statistics (median of 5, max) | rebuild |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['backend']} | {r['create_p50']:.1f} / {r['create_p99']:.1f} ms | {r['submit_p50']:.1f} / "
              f"{r['submit_p99']:.1f} ms | {r['approve_p50']:.1f} / {r['approve_p99']:.1f} ms | {r['rows']:,} | "
              f"{r['stats_median']:.0f} ms ({r['stats_max']:.0f} ms) | {r['rebuild_s']:.1f} s |")
    print("\n" + json.dumps(results))


if __name__ == "__main__":
    main()
