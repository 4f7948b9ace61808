"""The embedded default has no Celery beat: run beat's schedule in a daemon thread instead.

The schedule is Celery's own, `settings.CELERY_BEAT_SCHEDULE`, written once: each of its tasks is
called in this process at its period (counted in ticks of the shortest period; a period is
seconds, or a timedelta). Started by the ASGI app when `EMBEDDED_BEAT=1` (the Makefile sets it
when REDIS_URL is unset), so that `make demo` also ends expired bases and emergency access within
60 s and sends the unread-alerts digest.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)
_started = False


def _seconds(schedule) -> float:
    return schedule.total_seconds() if isinstance(schedule, timedelta) else float(schedule)


def beat_plan() -> tuple[float, list[tuple[int, str, Callable]]]:
    """(the tick in seconds, [(every how many ticks, entry name, task)]) of the beat schedule."""
    entries = [
        (name, _seconds(entry["schedule"]), import_string(entry["task"]))
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items()
    ]
    if not entries:
        return 0.0, []
    tick = min(seconds for _, seconds, _ in entries)
    return tick, [(max(1, round(seconds / tick)), name, task) for name, seconds, task in entries]


def beat_run_due(plan: list[tuple[int, str, Callable]], ticks: int) -> None:
    """Call, in this thread, each task of `plan` due at tick number `ticks`; one failing does
    not stop the others."""
    for every, name, task in plan:
        if ticks % every:
            continue
        try:
            task()
        except Exception:
            logger.exception("embedded beat: %s failed; retrying at its next run", name)
        finally:
            close_old_connections()


def embedded_beat_start() -> None:
    global _started
    if _started:
        return
    _started = True
    threading.Thread(target=_loop, name="embedded-beat", daemon=True).start()


def _loop() -> None:
    tick, plan = beat_plan()
    if not plan:
        return
    stop = threading.Event()
    ticks = 0
    while not stop.wait(tick):
        ticks += 1
        beat_run_due(plan, ticks)
