"""Fault tests: PostgreSQL and Redis restarted, a Celery worker killed, and a minute of the soak
(bench/soak.py). They start and stop services of their own, so they run only on the PostgreSQL +
Redis leg; on the embedded default each module is skipped, saying so."""

from __future__ import annotations

import os

import pytest

DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")


def services_leg_required() -> None:
    """Skip the calling module unless DATABASE_URL is PostgreSQL and REDIS_URL is set."""
    if not (DATABASE_URL.startswith("postgres") and REDIS_URL):
        pytest.skip(
            "fault tests and the soak start, stop and load services of their own: they run on"
            " the PostgreSQL + Redis leg (DATABASE_URL=postgres://…, REDIS_URL=redis://…)",
            allow_module_level=True,
        )
