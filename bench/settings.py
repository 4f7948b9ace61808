"""Settings for the served app while the bench runs: the project's, plus the baseline routes.

`bench/urls.py` mounts the textbook and floor implementations (bench/baselines.py) under
/bench/… next to the real API; nothing else differs from config.settings.
"""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
