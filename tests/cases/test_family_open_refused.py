"""Opening a family is refused with the access answers every other action uses: the service
raises `access.Forbidden`, which the API answers as 403 (core.exceptions), never a 500."""

import pytest

from cases import access, services
from cases.models import Family


@pytest.mark.parametrize("who", ["partner", "lead_practitioner", "outsider"])
def test_the_service_refuses_with_forbidden(borough, who):
    before = Family.objects.count()
    with pytest.raises(access.Forbidden):
        services.family_create(by=getattr(borough, who), name="Refused", postcode="LS1 4AP")
    assert Family.objects.count() == before


def test_a_refusal_by_the_service_is_a_403_through_http(borough, client_for, monkeypatch):
    """The view's own check lets the request through and the service's re-check refuses it
    (the predicate answers yes, then no): 403 with the API's error shape, and no family."""
    answers = iter([True, False])
    monkeypatch.setattr(access, "may_open_family", lambda staff: next(answers))
    client = client_for(borough.partner.user)
    client.raise_request_exception = False
    before = Family.objects.count()
    response = client.post(
        "/api/v1/families/", {"name": "Refused", "postcode": "ls1 4ap"}, format="json"
    )
    assert response.status_code == 403
    assert response.json() == {
        "detail": "Only key workers and managers of an early help agency.",
        "code": "permission_denied",
    }
    assert next(answers, "both asked") == "both asked"
    assert Family.objects.count() == before


def test_the_view_refuses_before_reading_the_body(borough, client_for):
    response = client_for(borough.partner.user).post("/api/v1/families/", {}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
