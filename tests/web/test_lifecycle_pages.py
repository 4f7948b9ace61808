"""The lifecycle and referral pages through the Django test client, without JavaScript: each form
works with a plain POST (CSRF enforced where a browser would send it), and the pages show the
front door what the API shows it, and the referrer only the decision."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from django.test import Client

from agencies.models import AgencyKind
from agencies.roles import Role
from cases.models import Family, FamilyReview
from referrals.models import Referral
from tests import factories as f
from tests.web.test_family_forms import banner_after, day


def signed_in(user, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def csrf_token(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def test_close_and_reopen_through_the_pages(borough):
    b = borough
    kw = signed_in(b.key_worker.user, csrf=True)
    page = kw.get(f"/families/{b.family.id}/close/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="reason"' in html and 'name="outcome_summary"' in html
    assert kw.post(f"/families/{b.family.id}/close/", {"reason": "outcomes_met"}).status_code == 403
    empty = kw.post(f"/families/{b.family.id}/close/", {"csrfmiddlewaretoken": csrf_token(html)})
    assert empty.status_code == 400 and "govuk-error-summary" in empty.content.decode()
    done = kw.post(
        f"/families/{b.family.id}/close/",
        {
            "csrfmiddlewaretoken": csrf_token(html),
            "reason": "outcomes_met",
            "outcome_summary": "Attendance above 95% for two terms.",
        },
    )
    assert banner_after(kw, done) == "Case closed"
    assert Family.objects.get(id=b.family.id).status == "closed"
    family_page = kw.get(f"/families/{b.family.id}/").content.decode()
    assert f'href="/families/{b.family.id}/reopen/"' in family_page
    assert f'href="/families/{b.family.id}/close/"' not in family_page
    # closing again: the page refuses with the conflict
    assert kw.get(f"/families/{b.family.id}/close/").status_code == 409
    page = kw.get(f"/families/{b.family.id}/reopen/").content.decode()
    done = kw.post(
        f"/families/{b.family.id}/reopen/",
        {"csrfmiddlewaretoken": csrf_token(page), "reason": "New concerns from school."},
    )
    assert banner_after(kw, done) == "Case reopened"
    assert Family.objects.get(id=b.family.id).status == "open"


def test_step_up_through_the_page(borough):
    b = borough
    csc = f.agency_make(kind=AgencyKind.CHILDRENS_SOCIAL_CARE, name="Social Care")
    social_worker = f.staff_make(agency=csc, role=Role.KEY_WORKER)
    assert signed_in(b.key_worker.user).get(f"/families/{b.family.id}/step-up/").status_code == 403
    manager = signed_in(b.manager.user)
    html = manager.get(f"/families/{b.family.id}/step-up/").content.decode()
    assert f'value="{csc.id}"' in html and f'value="{b.school.id}"' not in html
    response = manager.post(
        f"/families/{b.family.id}/step-up/",
        {
            "to_agency": csc.id,
            "reason": "Risk of significant harm.",
            "key_worker": social_worker.user_id,
        },
    )
    assert response.status_code == 302
    family = Family.objects.get(id=b.family.id)
    assert (family.lead_agency_id, family.key_worker_id) == (csc.id, social_worker.user_id)
    # early help left the team: the manager no longer sees the family, and lands at home
    assert response["Location"] == "/home/"
    assert manager.get(f"/families/{b.family.id}/").status_code == 404


def test_record_a_review_through_the_page(borough):
    b = borough
    kw = signed_in(b.key_worker.user)
    html = kw.get(f"/families/{b.family.id}/reviews/new/").content.decode()
    assert f'value="{b.school.id}"' in html  # the team's agencies are offered
    next_review = date.today() + timedelta(days=42)
    response = kw.post(
        f"/families/{b.family.id}/reviews/new/",
        {
            **day("held_on", date.today()),
            "attendees": [b.early_help.id, b.school.id],
            "decisions": "Attendance plan continues.",
            "plan_changes": "",
            **day("next_review_on", next_review),
        },
    )
    assert banner_after(kw, response) == "Review recorded"
    assert FamilyReview.objects.get(family=b.family).next_review_on == next_review
    assert signed_in(b.partner.user).get(f"/families/{b.family.id}/reviews/new/").status_code == 403


REFERRAL_FORM = {
    "household_name": "Smith household",
    "postcode": "SW1A 1AA",
    "given_name_1": "Amy",
    "family_name_1": "Smith",
    "date_of_birth_1-day": "1",
    "date_of_birth_1-month": "3",
    "date_of_birth_1-year": "2015",
    "relationship_1": "child",
    "outcome_1": "education",
    "descriptor_1": "Attendance at 80%",
    "consent": "yes",
    "consent_given_by": "Dana Smith (mother)",
    "consent_method": "verbal",
    "urgency": "routine",
}


def test_refer_screen_and_decide_through_the_pages(borough):
    b = borough
    f.outcome("education")  # the framework, if a transactional test flushed it
    teacher = signed_in(b.partner.user, csrf=True)
    form = teacher.get("/referrals/new/").content.decode()
    today = date.today()
    body = {
        **REFERRAL_FORM,
        **day("consent_given_on", today),
        "csrfmiddlewaretoken": csrf_token(form),
    }
    # neither consent details nor a reason: the form says so, nothing saved
    bad = teacher.post("/referrals/new/", {**body, "consent_given_by": "", "consent_method": ""})
    assert bad.status_code == 400 and not Referral.objects.exists()
    assert "Say who consented." in bad.content.decode()
    sent = teacher.post("/referrals/new/", body)
    assert sent.status_code == 302, sent.content.decode()[:2000]
    referral = Referral.objects.get()
    mine = teacher.get(sent["Location"]).content.decode()
    assert "possible-matches" not in mine and b.family.reference not in mine
    # the front door: the family at the same postcode with Amy Smith is a possible match
    f.PersonFactory(family=b.family, given_name="Amy", date_of_birth=date(2015, 3, 1))
    door = signed_in(b.lead_practitioner.user)
    html = door.get(f"/referrals/{referral.id}/").content.decode()
    assert 'id="possible-matches"' in html and b.family.reference in html
    queue = door.get("/referrals/").content.decode()
    assert f'data-referral-id="{referral.id}"' in queue
    decided = door.post(
        f"/referrals/{referral.id}/",
        {"decision": "signpost", "reason": "Attendance officer and parenting group offered."},
    )
    assert decided.status_code == 302 and decided["Location"] == "/referrals/"
    again = door.post(f"/referrals/{referral.id}/", {"decision": "signpost", "reason": "x"})
    assert again.status_code == 409
    mine = teacher.get(f"/referrals/{referral.id}/").content.decode()
    assert "Signposted" in mine and "Attendance officer and parenting group offered." in mine
    assert "possible-matches" not in mine and b.family.reference not in mine
    # the referrer may not decide, another agency does not see it
    assert teacher.post(f"/referrals/{referral.id}/", {}).status_code == 403
    assert signed_in(b.outsider.user).get(f"/referrals/{referral.id}/").status_code == 404


@pytest.mark.parametrize("path", ["/referrals/", "/referrals/new/"])
def test_referral_pages_are_for_case_staff(path, borough):
    admin = f.staff_make(agency=borough.early_help, role=Role.AGENCY_ADMIN)
    assert signed_in(admin.user).get(path).status_code == 403
