"""A matching run asked for while no indicator framework is loaded: refused with a clear 4xx on
the page (409, the home page with its error summary) and the API (400 naming `framework`); no
run is made."""

from __future__ import annotations

import pytest
from django.test import Client

from agencies.models import AgencyKind
from agencies.roles import Role
from identification.models import IndicatorFramework, MatchRun
from tests import factories as f


@pytest.fixture
def manager(db):
    IndicatorFramework.objects.all().delete()
    return f.staff_make(agency=f.agency_make(kind=AgencyKind.EARLY_HELP), role=Role.MANAGER)


def test_the_page_says_why_the_run_did_not_start(manager):
    client = Client()
    client.force_login(manager.user)
    response = client.post("/identification/runs/")
    assert response.status_code == 409
    body = response.content.decode()
    assert "govuk-error-summary" in body and "No indicator framework is loaded." in body
    assert "Start a matching run" in body  # the page, ready to try again
    assert not MatchRun.objects.exists()


def test_the_api_names_the_framework(manager, client_for):
    response = client_for(manager.user).post("/api/v1/identification/runs/", {}, format="json")
    assert response.status_code == 400
    assert response.json()["framework"] == ["No indicator framework is loaded."]
    assert not MatchRun.objects.exists()
