"""The embedded default has no Celery beat: run the sharing sweep in a daemon thread instead.

Started by the ASGI app when `EMBEDDED_BEAT=1` (the Makefile sets it when REDIS_URL is unset),
so that `make demo` also ends expired bases and emergency access within 60 s.
"""

from __future__ import annotations

import logging
import threading

from django.db import close_old_connections

logger = logging.getLogger(__name__)
SWEEP_EVERY_S = 30.0
_started = False


def embedded_beat_start() -> None:
    global _started
    if _started:
        return
    _started = True
    threading.Thread(target=_loop, name="embedded-beat", daemon=True).start()


def _loop() -> None:
    from alerts.digest import digest_send
    from consent.services import sharing_sweep

    stop = threading.Event()
    ticks = 0
    while not stop.wait(SWEEP_EVERY_S):
        ticks += 1
        try:
            sharing_sweep()
            if ticks % 10 == 0:
                digest_send()
        except Exception:
            logger.exception("embedded sweep failed; retrying at the next tick")
        finally:
            close_old_connections()
