"""`python -m bench [--small] [name ...]`: run every benchmark in BENCHES, or those named.

Each entry is a module in this package with `run(*, small: bool) -> int` (0 = ok, including
"skipped" when the services it needs are not configured). `--small` or BENCH_SMALL=1 asks each
for a quick CI-sized run. Results go to bench/results.json, one top-level key per benchmark.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

BENCHES = [
    "alerts_latency",  # alert latency from the POST to another user's socket (issue 3)
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--small",
        action="store_true",
        default=os.environ.get("BENCH_SMALL", "") not in {"", "0"},
        help="quick CI-sized run (also BENCH_SMALL=1)",
    )
    parser.add_argument("names", nargs="*", metavar="name", help=f"any of: {', '.join(BENCHES)}")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHES)}")
    worst = 0
    for name in args.names or BENCHES:
        module = importlib.import_module(f"bench.{name}")
        print(f"== bench {name}{' (small)' if args.small else ''}", flush=True)
        worst = max(worst, module.run(small=args.small))
    return worst


if __name__ == "__main__":
    sys.exit(main())
