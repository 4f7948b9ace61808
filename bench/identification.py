"""Identification at a council's scale: 1,000,000 indicator rows from six agencies linked into
persons, households and candidate households, the way a matching run does it.

    python -m bench.identification [--small] [--rows N]

The rows are the synthetic council's (identification.synthetic, seed 1): typos, transposed
letters, familiar names, swapped day and month, missing dates of birth, moved households and
shared surnames in a street. The run is the product's linkage (identification.linkage: the
records cleaned, splink's model trained without labels, the blocked pairs scored, clusters at
the default threshold), then households and candidates, in a fresh process with DuckDB capped at
MATCH_MEMORY_LIMIT and two threads. Not in it: reading the rows from the database and saving
the candidates (identification.services; linear in rows and candidates).

The rows are made in a process of their own and handed over as a Parquet file, so the linking
process's memory is the linkage's. Printed: the wall time of each stage and of the linking in
all, the linking's CPU time (less sensitive to other work on the machine than the wall time),
the linking process's peak resident memory (VmHWM: Python, Arrow and DuckDB together), the
machine's load average before and after, the links, persons and candidates found, and
person-link precision and recall against the generator's truth. Targets: under TARGET_S
seconds and TARGET_MB MB for 1,000,000 rows.

`--small` links 20,000 rows (a quick look; make bench's CI-sized run leaves this bench out:
tests/identification/test_accuracy.py already runs the same code at CI scale).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter

from bench import common

ROWS = 1_000_000
SMALL_ROWS = 20_000
TARGET_S = 600.0
TARGET_MB = 4096.0


def _peak_mb() -> float:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _pair_counts(labels_a, labels_b) -> tuple[int, int, int]:
    """(pairs sharing label a, pairs sharing label b, pairs sharing both): the person-link
    counts of a clustering (a) against the truth (b), without listing the pairs."""

    def pairs(counter) -> int:
        return sum(n * (n - 1) // 2 for n in counter.values())

    return (
        pairs(Counter(labels_a)),
        pairs(Counter(labels_b)),
        pairs(Counter(zip(labels_a, labels_b, strict=True))),
    )


def prepare(rows: int, path: str) -> None:
    """In its own process (its memory is not the linkage's): the synthetic council's rows as
    linkage records with their truth, written to a Parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from identification import synthetic

    council = synthetic.council_generate(seed=1, households=0, indicator_rows=rows)
    records, person_of, _, indicator_of = synthetic.council_records(council)
    del council
    columns = list(zip(*records, strict=True))
    table = pa.table(
        {name: list(column) for name, column in zip(RECORD_FIELDS, columns, strict=True)}
        | {
            "person_key": [person_of[uid] for uid in columns[0]],
            "indicator": [indicator_of[uid] for uid in columns[0]],
        }
    )
    pq.write_table(table, path)


RECORD_FIELDS = (
    "unique_id", "source", "given_name", "family_name", "date_of_birth", "postcode", "address",
    "nhs_number", "upn", "ni_number",
)  # fmt: skip


def _records(source):
    """The records, row by row, from the prepared file (no list of them all in memory)."""
    for batch in source.to_batches(max_chunksize=50_000):
        yield from zip(*(batch.column(name).to_pylist() for name in RECORD_FIELDS), strict=True)


def measure(rows: int) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    import pyarrow.parquet as pq
    from django.conf import settings

    from identification import linkage
    from identification.indicators import FRAMEWORK_2022, INDICATORS_2022

    load_before = os.getloadavg()
    stages = {}
    folder = tempfile.mkdtemp(prefix="bench-identification-")
    path = os.path.join(folder, "rows.parquet")
    try:
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "bench.identification", "--prepare", path, "--rows", str(rows)],
            cwd=common.ROOT,
            check=True,
        )
        stages["generate (own process)"] = time.perf_counter() - started
        source = pq.read_table(path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = before.ru_utime + before.ru_stime
    linking = time.perf_counter()
    table = linkage.records_table(_records(source))
    stages["clean"] = time.perf_counter() - linking
    marks = {}

    def progress(fraction: float) -> None:
        marks[round(fraction, 2)] = time.perf_counter()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        print(
            f"  {fraction:.0%} after {marks[round(fraction, 2)] - linking:.0f} s"
            f" ({usage.ru_utime + usage.ru_stime - cpu_before:.0f} s of CPU,"
            f" {_peak_mb():.0f} MB peak)",
            flush=True,
        )

    result = linkage.person_links(
        table,
        threshold=settings.MATCH_THRESHOLD,
        progress=progress,
        memory_limit=settings.MATCH_MEMORY_LIMIT,
    )
    stages["train"] = marks.get(0.5, linking) - linking - stages["clean"]
    stages["score and cluster"] = time.perf_counter() - marks.get(0.5, linking)
    grouping = time.perf_counter()
    uids = source.column("unique_id").to_pylist()
    household_of = linkage.households_form(table, result.cluster_of)
    candidates = linkage.candidates_find(
        household_of=household_of,
        indicator_of=dict(zip(uids, source.column("indicator").to_pylist(), strict=True)),
        outcome_of={code: outcome for code, _, outcome in INDICATORS_2022},
        min_outcomes=FRAMEWORK_2022["min_outcomes"],
    )
    stages["households and candidates"] = time.perf_counter() - grouping
    link_seconds = time.perf_counter() - linking
    peak = _peak_mb()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    found, truth, hits = _pair_counts(
        [result.cluster_of.get(uid, uid) for uid in uids],
        source.column("person_key").to_pylist(),
    )
    return {
        "rows": table.num_rows,
        "seconds": link_seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime - before.ru_utime - before.ru_stime,
        "stages": stages,
        "peak_mb": peak,
        "links": result.link_count,
        "persons": len(set(result.cluster_of.values())),
        "households": len(set(household_of.values())),
        "candidates": len(candidates),
        "precision": hits / max(1, found),
        "recall": hits / max(1, truth),
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "memory_limit": settings.MATCH_MEMORY_LIMIT,
        "threshold": settings.MATCH_THRESHOLD,
    }


def run(*, small: bool, rows: int | None = None) -> int:
    rows = rows or (SMALL_ROWS if small else ROWS)
    r = measure(rows)
    met = r["seconds"] <= TARGET_S and r["peak_mb"] <= TARGET_MB
    print(
        f"identification: {r['rows']:,} rows linked in {r['seconds']:.0f} s"
        f" ({r['cpu_seconds']:.0f} s of CPU),"
        f" peak {r['peak_mb']:.0f} MB (targets {TARGET_S:.0f} s, {TARGET_MB:.0f} MB:"
        f" {'met' if met else 'MISSED'})",
        flush=True,
    )
    for stage, seconds in r["stages"].items():
        print(f"  {stage:28s} {seconds:8.1f} s", flush=True)
    print(
        f"  links {r['links']:,}, persons {r['persons']:,}, households {r['households']:,},"
        f" candidates {r['candidates']:,}; person links P={r['precision']:.3f}"
        f" R={r['recall']:.3f}; load {r['load_before'][0]:.1f} -> {r['load_after'][0]:.1f}"
        f" (1-min average, {os.cpu_count()} cores)",
        flush=True,
    )
    env = common.bench_env(small=small)
    row = {
        "line": f"identification: link {r['rows']:,} rows",
        "variant": "splink/duckdb",
        "p50": r["seconds"] * 1000,
        "note": f"peak {r['peak_mb']:.0f} MB, P={r['precision']:.3f} R={r['recall']:.3f},"
        f" {r['candidates']:,} candidates",
        "met": ("ok" if met else "MISSED") if not small else "",
    }
    common.results_save("identification" + env.key_suffix, {**r, "table": [row]})
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.identification", description=__doc__)
    parser.add_argument("--small", action="store_true", default=common.small_default())
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--prepare", metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.prepare:
        prepare(args.rows, args.prepare)
        return 0
    return run(small=args.small, rows=args.rows)


if __name__ == "__main__":
    sys.exit(main())
