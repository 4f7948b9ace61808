"""The embedded beat (no Redis: `make demo`) runs Celery's own schedule, the one written in
settings.CELERY_BEAT_SCHEDULE, each task at its period."""

from __future__ import annotations

from datetime import timedelta

from django.test import override_settings

from consent import embedded

CALLS: list[str] = []


def every_tick() -> None:
    CALLS.append("often")


def every_third() -> None:
    CALLS.append("seldom")


def failing() -> None:
    CALLS.append("failing")
    raise RuntimeError("down")


def test_the_plan_is_the_celery_beat_schedule(settings):
    tick, plan = embedded.beat_plan()
    by_name = {name: (every, task) for every, name, task in plan}
    assert set(by_name) == set(settings.CELERY_BEAT_SCHEDULE)
    shortest = min(float(e["schedule"]) for e in settings.CELERY_BEAT_SCHEDULE.values())
    assert tick == shortest
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        every, task = by_name[name]
        assert task.name == entry["task"]
        assert every * tick == float(entry["schedule"])


@override_settings(
    CELERY_BEAT_SCHEDULE={
        "often": {"task": "tests.test_embedded_beat.every_tick", "schedule": 30.0},
        "broken": {"task": "tests.test_embedded_beat.failing", "schedule": 60.0},
        "seldom": {
            "task": "tests.test_embedded_beat.every_third",
            "schedule": timedelta(seconds=90),
        },
    }
)
def test_each_task_runs_at_its_period_and_a_failure_stops_no_other(caplog, monkeypatch):
    # The beat's thread lets go of its database connection after each run.
    monkeypatch.setattr(embedded, "close_old_connections", lambda: CALLS.append("closed"))
    tick, plan = embedded.beat_plan()
    assert tick == 30.0
    CALLS.clear()
    for ticks in range(1, 7):
        embedded.beat_run_due(plan, ticks)
    assert [c for c in CALLS if c != "closed"] == [
        "often",
        *("often", "failing"),
        *("often", "seldom"),
        *("often", "failing"),
        "often",
        *("often", "failing", "seldom"),
    ]
    assert all(after == "closed" for after in CALLS[1::2]), CALLS
    assert sum("broken failed" in r.getMessage() for r in caplog.records) == 3
