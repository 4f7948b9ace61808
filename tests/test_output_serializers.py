"""Every `OutputSerializer` gives exactly DRF's JSON (core/serializers.py).

On the seeded demo borough, every row of every output serializer's model is rendered twice: by
the serializer's plan, and by DRF's own `Serializer.to_representation` on the same serializer
(fields built and walked generically). The two JSON texts must be identical.
"""

from __future__ import annotations

import importlib
import json
from datetime import date
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from rest_framework import serializers
from rest_framework.test import APIClient

from agencies import services as agency_services
from agencies.models import AgencyKind, StaffMember
from audit.models import AccessEvent
from cases import selectors
from cases.models import ChronologyEntry, Family
from consent import services as consent_services
from core.serializers import OutputSerializer
from reports import services as report_services
from reports.selectors import access_event_rows
from tests.factories import kept_db

pytestmark = pytest.mark.django_db


def _serializer_modules() -> list[str]:
    """Every app of ours that has a serializers module (a new app cannot be missed)."""
    root = Path(settings.BASE_DIR)
    return [
        f"{config.name}.serializers"
        for config in apps.get_app_configs()
        if Path(config.path).parent == root and (Path(config.path) / "serializers.py").exists()
    ]


def _output_serializers() -> list[type]:
    for module in _serializer_modules():
        importlib.import_module(module)
    found, todo = [], list(OutputSerializer.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return sorted(found, key=lambda c: c.__qualname__)


def _rows(cls) -> list:
    model = cls.Meta.model
    if model is Family:  # as the detail is served: its prefetches (and `active_team`) loaded
        return [selectors.family_detail_prefetch(f) for f in Family.objects.order_by("id")]
    if model is ChronologyEntry:  # as the chronology is served: with its annotation
        return list(selectors.chronology_qs().order_by("pk"))
    if model is AccessEvent:  # as the access logs serve it: with its names and basis
        return list(access_event_rows(AccessEvent.objects.all()).order_by("pk"))
    return list(model.objects.order_by("pk"))


def _json(data) -> str:
    """Strict: anything that is not a JSON value shows its type, so a date left unconverted never
    passes for the string DRF would have made of it."""
    return json.dumps(data, sort_keys=True, default=lambda o: f"<{type(o).__name__}: {o!r}>")


@pytest.fixture(scope="module")
def borough(django_db_setup, django_db_blocker):
    with kept_db(django_db_blocker):
        call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
        # The seed has no break-glass access: one, through the service, for its serializer.
        police = StaffMember.objects.filter(agency__kind=AgencyKind.POLICE).first()
        consent_services.emergency_access_grant(
            family_id=Family.objects.order_by("id").first().id,
            by=police,
            reason="Child reported missing overnight; need the family's contacts now.",
        )
        # Nor an API token: one issued, through the service, for its serializer.
        agency_services.token_issue(user=police.user)
        # Nor a report: one asked for, through the service, for its serializer.
        manager = StaffMember.objects.filter(
            agency__kind=AgencyKind.EARLY_HELP, role="manager"
        ).first()
        report_services.report_request(
            by=manager,
            kind="caseload",
            format="csv",
            period_start=date(2026, 4, 1),
            period_end=date(2026, 9, 30),
        )
        # Nor an access event: the first family read through the API by its key worker.
        family = Family.objects.order_by("id").first()
        reader = APIClient()
        reader.force_authenticate(family.key_worker)
        assert reader.get(f"/api/v1/families/{family.id}/").status_code == 200
        yield


def test_every_output_serializer_is_covered():
    names = {cls.__name__ for cls in _output_serializers()}
    assert {"FamilyDetailSerializer", "InterventionSerializer", "AlertSerializer"} <= names
    assert "SharingBasisSerializer" in names and "StaffSerializer" in names
    assert "accountability.serializers" in _serializer_modules()


@pytest.mark.parametrize("cls", _output_serializers(), ids=lambda c: c.__name__)
def test_plan_gives_drf_json(cls, borough):
    rows = _rows(cls)
    assert rows, f"the demo borough has no {cls.Meta.model.__name__} to render"
    for row in rows:
        serializer = cls(row)
        planned = _json(serializer.data)
        generic = _json(serializers.ModelSerializer.to_representation(cls(row), row))
        assert planned == generic, (cls.__name__, row.pk)
