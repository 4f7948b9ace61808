"""`python -m bench [--small] [name ...]`: run every benchmark in BENCHES, or those named.

Each entry is a module in this package with `run(*, small: bool) -> int` (0 = ok, including
"skipped" when the services it needs are not configured) and a `main()`; each runs in its own
process (`python -m bench.<name>`), since each points Django at its own database. `--small` or
BENCH_SMALL=1 asks each for a quick CI-sized run. Results go to bench/results.json, one top-level
key per benchmark; at the end, ONE table of every line measured in this run (bench/table.py).

Needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL) for the figures that count; without them it
says so and runs a reduced scale on SQLite (bench/common.py).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid

BENCHES = [
    "generate",  # the synthetic council: 20,000 families, 1M interventions+contacts
    "visibility",  # visible families three ways: ours, guardian default, SQL floor
    "http_load",  # 4 endpoints × ours/textbook/floor over HTTP, 8 clients
    "alerts_latency",  # alert latency from the POST to another user's socket
    "page_load",  # the caseload and family pages beside the JSON they stand for
    "library_way",  # each of our own pieces beside the library's way it replaces
    "reports",  # the outcomes and claims PDFs: time, peak memory, queries at two sizes
    "identification",  # 1,000,000 indicator rows linked (splink/DuckDB): time, peak memory
]


def _rows(name: str, small: bool, run_id: str, before: dict) -> list[dict]:
    from bench import common, table

    results = common.results_load()
    if name == "alerts_latency":
        key = "alerts_latency_small" if small else "alerts_latency"
        fresh = results.get(key) if results.get(key) != before.get(key) else None
        return table.alerts_latency_rows(fresh)
    env = common.bench_env(small=small)
    entry = results.get(name + env.key_suffix)
    if not entry or entry.get("run_id") != run_id:
        return [{"line": name, "variant": "", "met": "FAILED", "note": "no result in this run"}]
    return entry.get("table", [])


def main(argv: list[str] | None = None) -> int:
    from bench import common, table

    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--small",
        action="store_true",
        default=common.small_default(),
        help="quick CI-sized run (also BENCH_SMALL=1)",
    )
    parser.add_argument("names", nargs="*", metavar="name", help=f"any of: {', '.join(BENCHES)}")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHES)}")
    env = common.bench_env(small=args.small)
    note = common.services_note(env)
    if note:
        print(note, flush=True)
    run_id = uuid.uuid4().hex[:12]
    child_env = dict(os.environ, BENCH_RUN_ID=run_id, PYTHONUNBUFFERED="1")
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    worst = 0
    rows: list[dict] = []
    for name in args.names or BENCHES:
        print(f"== bench {name}{' (small)' if args.small else ''}", flush=True)
        before = common.results_load()
        command = [sys.executable, "-m", f"bench.{name}"] + (["--small"] if args.small else [])
        rc = subprocess.run(command, cwd=common.ROOT, env=child_env).returncode
        worst = max(worst, rc)
        rows += _rows(name, args.small, run_id, before)
        if rc:
            rows.append({"line": name, "variant": "", "met": "FAILED", "note": f"exit {rc}"})
    took = time.perf_counter() - started
    print()
    print(
        f"== Team Around bench: {env.describe}; {env.scale.label};"
        f" core.serve (uvicorn) 2 workers, 8 clients, {os.cpu_count()} cores;"
        f" load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after;"
        f" {took:.0f} s"
    )
    print(table.render(rows))
    print(f"(results: {common.RESULTS.relative_to(common.ROOT)})", flush=True)
    return worst


if __name__ == "__main__":
    sys.exit(main())
