"""One minute of `make soak` (bench/soak.py): 2,000 alert sockets on one web process under steady
API traffic, on the test database and a redis-server of the test's own. Asserts what must hold
whatever the machine's load: no errors, no alert lost, the web process's memory flat within 10 %
after the warm-up. The timings are printed (run with -s), never asserted.

Skipped unless DATABASE_URL is PostgreSQL and REDIS_URL is set (tests/faults/__init__.py).
"""

from __future__ import annotations

import pytest

from tests.faults import services_leg_required

services_leg_required()

from django.db import connection  # noqa: E402

from bench import alerts_latency, soak  # noqa: E402
from tests.alerts.test_e2e_services import (  # noqa: E402
    _base_env,
    _test_database_url,
    _wait_db_sessions_gone,
    free_port,
    start_redis,
)

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

SECONDS = 60


def test_soak_one_minute(tmp_path, django_db_blocker):
    data = alerts_latency._data_ensure()
    with django_db_blocker.unblock():
        database_url, dbname = _test_database_url(), connection.settings_dict["NAME"]
    redis_port = free_port()
    redis_server = start_redis(redis_port, tmp_path, "redis")
    try:
        env = _base_env(DATABASE_URL=database_url, REDIS_URL=f"redis://127.0.0.1:{redis_port}/0")
        result = soak.soak(
            env=env, data=data, seconds=SECONDS, sockets=soak.SOCKETS, log_dir=tmp_path
        )
    finally:
        redis_server.stop()
        with django_db_blocker.unblock():
            _wait_db_sessions_gone(dbname)
    soak.report(result)
    assert result["sockets"] == soak.SOCKETS
    assert result["deliveries"] > 0 and result["posts"] > 0 and result["reads"] > 0
    assert not soak.problems(result), soak.problems(result)
