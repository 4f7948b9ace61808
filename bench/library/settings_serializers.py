"""bench.settings with `serializers` switched to the library's way (bench/library/ways.py)."""

from bench.library._base import *  # noqa: F403

BENCH_LIBRARY_WAY = "serializers"
