"""The family's history page (/families/<id>/history/) through Django's test Client, signed in
with a session: a field changed through the API shows with its old and new value, who changed it
and their agency, in words (names for people, labels for choices, dates written out); newest
first, 50 a page; not visible → the 404 page; a constant number of queries however long the
history is."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import dateformat, timezone

from cases import services
from cases.models import Family
from consent import services as consent_services
from tests import factories as f


def history_page(user, family, query: str = ""):
    client = Client()
    client.force_login(user)
    return client.get(f"/families/{family.id}/history/{query}")


def rows(html: str) -> list[str]:
    body = html[html.index('<tbody class="govuk-table__body">') :]
    return re.findall(r'<tr class="govuk-table__row app-history-change".*?</tr>', body, re.S)


def cells(row: str) -> list[str]:
    texts = re.findall(r'<td class="govuk-table__cell[^"]*">(.*?)</td>', row, re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", text).split()) for text in texts]


def test_a_change_through_the_api_in_words(borough, client_for):
    b = borough
    kw = client_for(b.key_worker.user)
    response = kw.post(
        f"/api/v1/families/{b.family.id}/close/",
        {"reason": "outcomes_met", "outcome_summary": "Plan complete."},
        format="json",
    )
    assert response.status_code == 200, response.content[:300]
    version = Family.objects.get(id=b.family.id).version
    response = kw.patch(
        f"/api/v1/families/{b.family.id}/",
        {"next_review_on": "2026-01-15"},
        format="json",
        HTTP_IF_MATCH=f'"{version}"',
    )
    assert response.status_code == 200, response.content[:300]
    page = history_page(b.partner.user, b.family)
    assert page.status_code == 200
    html = page.content.decode()
    by_field = {
        re.search(r'data-field="(\w+)"', row).group(1): cells(row)
        for row in rows(html)
        if 'data-change="changed"' in row and 'data-object-type="family"' in row
    }
    assert set(by_field) == {"status", "closed_on", "next_review_on"}
    _, who, record, detail, old, new = by_field["status"]
    assert who == f"{b.key_worker.user.get_full_name()} Early Help"
    assert (record, detail, old, new) == ("Household", "Status", "Open", "Closed")
    assert by_field["next_review_on"][4:] == ["Not set", "15 January 2026"]
    assert by_field["closed_on"][5] == dateformat.format(timezone.localdate(), "j F Y")
    # Newest first: the API's change leads the page.
    assert 'data-change="changed"' in rows(html)[0]


def test_records_are_named_and_links_read_as_names(borough):
    b = borough
    need = services.need_create(
        family=b.family, by=b.key_worker, outcome=f.outcome("health"), descriptor="Dental care"
    )
    action = services.plan_action_create(
        family=b.family,
        by=b.key_worker,
        description="Book the dentist",
        owner_agency=b.school,
        due_on=timezone.localdate() + timedelta(days=20),
        needs=[need],
    )
    html = history_page(b.partner.user, b.family).content.decode()
    linked = next(
        cells(row)
        for row in rows(html)
        if f'data-object-id="{action.id}"' in row and 'data-field="needs"' in row
    )
    assert linked[2:] == ["Plan action: Book the dentist", "Needs", "Not set", "Dental care"]
    owner = next(
        cells(row)
        for row in rows(html)
        if f'data-object-id="{action.id}"' in row and 'data-field="owner_agency"' in row
    )
    assert owner[3:] == ["Owner agency", "New record", "Hill Primary"]


def test_sharing_changes_are_shown_to_whoever_sees_the_family(borough):
    """The sharing table of the family page shows every basis to every viewer: so does the
    history."""
    b = borough
    basis = consent_services.sharing_basis_create(
        family=b.family,
        by=b.key_worker,
        basis="safeguarding",
        agencies=[b.school],
        justification="Risk of harm reported by the school.",
        decided_by_id=b.manager.user_id,
    )
    consent_services.sharing_basis_confirm(basis_id=basis.id, by=b.manager)
    html = history_page(b.partner.user, b.family).content.decode()
    confirmed = next(
        cells(row)
        for row in rows(html)
        if f'data-object-id="{basis.id}"' in row and 'data-field="confirmed_by"' in row
    )
    assert confirmed[1] == f"{b.manager.user.get_full_name()} Early Help"
    assert confirmed[2:] == [
        "Sharing: Safeguarding without consent",
        "Confirmed by",
        "Not set",
        b.manager.user.get_full_name(),
    ]


@pytest.mark.parametrize("who", ["outsider", "ended_partner"])
def test_not_visible_is_the_404_page(borough, who):
    assert history_page(getattr(borough, who).user, borough.family).status_code == 404


def _grow(b, n: int) -> None:
    for i in range(n):
        family = Family.objects.get(id=b.family.id)
        services.family_update(
            family_id=family.id,
            by=b.key_worker,
            expected_version=family.version,
            level_of_need=1 + i % 4,
            next_review_on=date(2026, 1, 1) + timedelta(days=i),
        )
        f.parent_make(family=b.family, by=b.key_worker, given_name=f"Parent{i}")
        need = services.need_create(
            family=b.family, by=b.partner, outcome=f.outcome("health"), descriptor=f"Need {i}"
        )
        services.plan_action_create(
            family=b.family,
            by=b.key_worker,
            description=f"Action {i}",
            owner_agency=b.school,
            due_on=date(2027, 1, 1),
            needs=[need],
        )


def _queries(user, family, query: str = "") -> int:
    client = Client()
    client.force_login(user)
    client.get(f"/families/{family.id}/history/{query}")
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(f"/families/{family.id}/history/{query}")
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_the_page_costs_the_same_queries_however_long_the_history(borough):
    b = borough
    _grow(b, 2)
    small = _queries(b.partner.user, b.family)
    _grow(b, 10)
    large = _queries(b.partner.user, b.family)
    second_page = _queries(b.partner.user, b.family, "?page=2")
    assert small == large == second_page, (small, large, second_page)
    assert large <= 20, large


def test_pages_of_50(borough):
    b = borough
    _grow(b, 6)
    html = history_page(b.key_worker.user, b.family).content.decode()
    total = int(re.search(r"(\d+) changes recorded", html).group(1))
    assert total > 50 and len(rows(html)) == 50
    last = history_page(b.key_worker.user, b.family, f"?page={(total + 49) // 50}")
    assert len(rows(last.content.decode())) == total - 50 * ((total - 1) // 50)
