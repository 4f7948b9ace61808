"""Nothing the app answers may be kept by a cache (`core.middleware.NoStoreMiddleware`): pages,
the API, the sign-in page and error pages carry `Cache-Control: no-store`; the static files
WhiteNoise serves (no personal data) keep their own caching.

Through Django's test Client with a real session (`force_login`) and real tokens.
"""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def no_store(response) -> bool:
    return "no-store" in response.headers.get("Cache-Control", "")


def test_pages_are_not_stored(borough):
    client = Client()
    assert no_store(client.get("/sign-in/"))  # before signing in too
    client.force_login(borough.key_worker.user)
    family = borough.family.id
    for path in ("/caseload/", f"/families/{family}/", "/alerts/", "/staff/", "/nowhere/"):
        answer = client.get(path)
        assert answer.status_code in (200, 403, 404), (path, answer.status_code)
        assert no_store(answer), (path, answer.headers.get("Cache-Control"))


def test_api_answers_are_not_stored(borough, client_for):
    client = client_for(borough.key_worker.user)
    family = borough.family.id
    for path in (
        "/api/v1/me/",
        "/api/v1/families/",
        f"/api/v1/families/{family}/",
        f"/api/v1/families/{family}/chronology/",
        "/api/v1/auth/tokens/",
        "/api/v1/families/999999/",  # 404
    ):
        answer = client.get(path)
        assert no_store(answer), (path, answer.status_code, answer.headers.get("Cache-Control"))
    assert no_store(client_for(None).get("/api/v1/me/"))  # 401


def test_a_response_with_its_own_cache_control_gets_no_store_added(borough):
    """The Django admin sets its own (never_cache): no-store stays in it."""
    from django.contrib.auth import get_user_model

    root = get_user_model().objects.create_superuser("root", "root@example.test", "x" * 20)
    client = Client()
    client.force_login(root)
    answer = client.get("/admin/")
    assert answer.status_code == 200 and no_store(answer)


def test_static_files_keep_their_caching(db):
    answer = Client().get("/static/js/live.js")
    assert answer.status_code == 200
    assert not no_store(answer)
