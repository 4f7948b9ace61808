"""Settings for the served app while the bench runs: the project's, plus the baseline routes.

`bench/urls.py` mounts the textbook and floor implementations (bench/baselines.py) under
/bench/… next to the real API. The access log is written as always, unless BENCH_ACCESS_LOG=0:
bench/http_load.py serves the app that way beside the usual server to measure the log's cost.
Nothing else differs from config.settings.
"""

import os

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
AUDIT_ACCESS_LOG = os.environ.get("BENCH_ACCESS_LOG", "1") != "0"
