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

Printed: the wall time of each stage and in all, the process's CPU time (less sensitive to
other work on the machine than the wall time), the peak resident memory (VmHWM:
Python, Arrow and DuckDB together), the machine's load average before and after, the links,
persons and candidates found, and person-link precision and recall against the generator's
truth. Targets: under TARGET_S seconds and TARGET_MB MB for 1,000,000 rows.

`--small` links 20,000 rows (a quick look; make bench's CI-sized run leaves this bench out:
tests/identification/test_accuracy.py already runs the same code at CI scale).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections import defaultdict
from itertools import combinations

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


def _pairs(cluster_of: dict) -> set:
    groups = defaultdict(list)
    for uid, cluster in cluster_of.items():
        groups[cluster].append(uid)
    return {pair for uids in groups.values() for pair in combinations(sorted(uids), 2)}


def measure(rows: int) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings

    from identification import linkage, synthetic
    from identification.indicators import FRAMEWORK_2022, INDICATORS_2022

    load_before = os.getloadavg()
    stages = {}
    started = time.perf_counter()
    council = synthetic.council_generate(seed=1, households=0, indicator_rows=rows)
    records, person_of, _, indicator_of = synthetic.council_records(council)
    del council
    stages["generate"] = time.perf_counter() - started
    linking = time.perf_counter()
    table = linkage.records_table(records)
    del records
    stages["clean"] = time.perf_counter() - linking
    marks = {}

    def progress(fraction: float) -> None:
        marks[round(fraction, 2)] = time.perf_counter()

    result = linkage.person_links(
        table,
        threshold=settings.MATCH_THRESHOLD,
        progress=progress,
        memory_limit=settings.MATCH_MEMORY_LIMIT,
    )
    stages["train"] = marks.get(0.5, linking) - linking - stages["clean"]
    stages["score and cluster"] = time.perf_counter() - marks.get(0.5, linking)
    grouping = time.perf_counter()
    household_of = linkage.households_form(table, result.cluster_of)
    candidates = linkage.candidates_find(
        household_of=household_of,
        indicator_of=indicator_of,
        outcome_of={code: outcome for code, _, outcome in INDICATORS_2022},
        min_outcomes=FRAMEWORK_2022["min_outcomes"],
    )
    stages["households and candidates"] = time.perf_counter() - grouping
    link_seconds = time.perf_counter() - linking
    peak = _peak_mb()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    truth = _pairs(person_of)
    found = _pairs({u: result.cluster_of.get(u, u) for u in person_of})
    hits = len(found & truth)
    return {
        "rows": table.num_rows,
        "seconds": link_seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "stages": stages,
        "peak_mb": peak,
        "links": result.link_count,
        "persons": len(set(result.cluster_of.values())),
        "households": len(set(household_of.values())),
        "candidates": len(candidates),
        "precision": hits / max(1, len(found)),
        "recall": hits / max(1, len(truth)),
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
        f" ({r['cpu_seconds']:.0f} s of CPU, generation included),"
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
    args = parser.parse_args(argv)
    return run(small=args.small, rows=args.rows)


if __name__ == "__main__":
    sys.exit(main())
