"""Identification's fixtures: the framework's indicators are loaded (a transactional test
elsewhere may have flushed what the data migration loaded), and runs happen in process."""

from __future__ import annotations

import pytest

from tests import factories as f


@pytest.fixture
def framework(db):
    from identification.models import IndicatorFramework

    f.reference_data_ensure()
    return IndicatorFramework.objects.get(version="2022")


@pytest.fixture(autouse=True)
def runs_in_process():
    from config.celery import app

    before = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = before
