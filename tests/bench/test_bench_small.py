"""The bench keeps working: `python -m bench --small` runs and prints every line of its table.

Asserts that it runs and what it prints, never the timings. It runs on the real-services leg
only (CI's time: both legs within 20 minutes), where it uses its own databases next to
DATABASE_URL's (never the test database) and Redis, the alert latency line carries figures, and
the library's ways (bench/library_way.py) are measured. `make bench` without DATABASE_URL and
REDIS_URL still runs on SQLite at a reduced scale; no test runs that path.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = os.environ.get("DATABASE_URL", "").startswith("postgres") and bool(
    os.environ.get("REDIS_URL")
)
TIMEOUT_S = 600  # beside the other test process (make test), on a 2-core machine

ENDPOINTS = ["families list", "family detail", "chronology page", "record-a-contact"]
VARIANTS = ["ours", "textbook", "floor"]
AGENCIES = ["Borough Police", "Home-Start"]
PIECES = ["auth", "serializers", "detail", "permissions", "runner"]  # bench/library_way.py
REPORTS = ["outcomes PDF", "claims PDF", "claims PDF, many eligible"]  # bench/reports.py


def expected_lines() -> list[str]:
    """Regular expressions, one per table line the bench must print."""
    lines = [r"bench data\s+small\s"]
    for agency in AGENCIES:
        for what in ("page", "count"):
            for way in ("ours", "guardian", "floor"):
                lines.append(rf"visible {what}: {agency} \([\d,]+\)\s+{way}\s+[\d.]+")
    for endpoint in ENDPOINTS:
        for variant in VARIANTS:
            # p50, p95, p99, req/s and queries per request are all printed
            number = r"[\d,.]+"
            lines.append(
                rf"{endpoint}\s+{variant}\s+{number}\s+{number}\s+{number}\s+{number}\s+\d+"
            )
    for page in (r"caseload page \(\d+\)", "family page"):
        number = r"[\d,.]+"
        lines.append(rf"{page}\s+ours\s+{number}\s+{number}\s+{number}\s+{number}\s+\d+")
    for piece in PIECES if SERVICES else ():
        figures = r"\s+[\d,.]+" * 4 + r"\s+\d+"  # p50, p95, p99, req/s, queries per request
        for endpoint in ENDPOINTS:
            for way in ("ours", "library"):
                lines.append(rf"{piece}: {endpoint}\s+{way}{figures}")
        lines.append(rf"{piece}: weighted by the mix\s+gain\s+CPU/req ours")
    for way in ("ours", "library") if SERVICES else ():
        lines.append(rf"runner: 8 connections at once\s+{way}\s+per worker, each start: \d+/\d+")
    lines.append(r"web process peak memory\s+2 workers\s.*\d+(\.\d+)? MB, \d+(\.\d+)? MB")
    for report in REPORTS:
        # wall time and queries in the columns; peak memory and the queries at the other size
        # in the note
        lines.append(
            rf"{report} \([\d,]+\)\s+small\s+[\d,.]+\s+\d+\s+\S+\s+.*peak \d+ MB"
            rf".*queries \d+ for [\d,]+ families, \d+ for [\d,]+"
        )
    lines.append(r"load split over workers\s+2 workers\s.*CPU share \d+% / \d+%")
    for endpoint in ENDPOINTS[:2]:  # the access log's cost (bench/http_load.py)
        number = r"[\d,.]+"
        for mode in ("on", "off"):
            lines.append(
                rf"access log: {endpoint}\s+log {mode}\s+{number}\s+{number}\s+{number}\s+{number}"
            )
        lines.append(
            rf"access log overhead: {endpoint}\s+on vs off\s+1\s.*request time -?[\d.]+%"
            rf".*INSERTs/request 1 "
        )
    if SERVICES:
        lines.append(r"alert latency: POST → socket, idle\s+ours\s+[\d.]+")
        lines.append(r"alert latency: loaded\s+ours\s+[\d.]+")
    else:
        lines.append(r"alert latency\s+skip\s+skipped")
    return lines


@pytest.mark.skipif(
    not SERVICES,
    reason="run on the real-services leg only, where its figures count: both legs together must "
    "stay within CI's 20 minutes (the SQLite scale is `make bench` without DATABASE_URL)",
)
def test_bench_small_runs_and_prints_every_line(tmp_path):
    env = dict(os.environ, BENCH_DIR=str(tmp_path), BENCH_LOG_DIR=str(tmp_path))
    env.pop("BENCH_SMALL", None)
    from bench.__main__ import BENCHES

    # The library's ways are measured on PostgreSQL, where they differ (prepared statements,
    # planning); the embedded leg runs every other bench.
    names = BENCHES if SERVICES else [name for name in BENCHES if name != "library_way"]
    # Identification's bench is left out: its small run would add a splink training to CI
    # for nothing tests/identification/test_accuracy.py does not already run (the same
    # linkage, on a council of 300 households, against the truth).
    names = [name for name in names if name != "identification"]
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--small", *names],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    out = proc.stdout
    assert proc.returncode == 0, f"exit {proc.returncode}\n{out[-4000:]}\n{proc.stderr[-4000:]}"
    assert "== Team Around bench:" in out
    table = out.split("== Team Around bench:", 1)[1].splitlines()
    assert table[1].split()[:3] == ["line", "variant", "p50/med"], table[:3]
    missing = [
        pattern for pattern in expected_lines() if not any(re.match(pattern, t) for t in table)
    ]
    assert not missing, "missing lines:\n" + "\n".join(missing) + "\n\n" + "\n".join(table)
    # "DIFFERS" is cut to "DIFFE…" in the table's met column.
    assert not [t for t in table if " FAILED " in t or "DIFFE" in t], "\n".join(table)
