"""Every form of the pages works with JavaScript turned off, in a real browser.

Chromium with `java_script_enabled=False` against the app served live (tests/web/conftest.py
`live_app`: `python -m core.serve` on its own seeded database), signed in through the sign-in
page. For each form of the service's pages that exists (`FORMS`; a page not built yet is
skipped):

- the page opens (200) and its form posts with a CSRF token;
- a bad submission (`bad`: what is typed, the rest left empty or wrong) comes back with the error
  summary at the top, every link of which leads to a field on the page, and with what was typed
  still in its field (`kept`);
- a good submission (`good`) is accepted: no error summary, and the browser is sent on (a redirect
  after the POST) to a page that answers 200.

Also: signing in and out through the pages, and the alerts page's forms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import pytest

from tests.web.conftest import sign_in

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@dataclass(frozen=True)
class Form:
    name: str  # the page's url name
    path: str  # formatted with the live app's ids
    who: str  # seed key of the person who fills it in
    bad: dict = field(default_factory=dict)  # field name → value, for a refused submission
    kept: str = ""  # the field of `bad` whose value must come back
    good: dict | None = None  # field name → value for an accepted one; {}: as the page shows it
    clear: tuple = ()  # fields emptied before a bad submission (prefilled forms)

    @property
    def id(self) -> str:
        return self.name


def _date(name: str, day: int, month: int, year: int) -> dict:
    return {f"{name}-day": str(day), f"{name}-month": str(month), f"{name}-year": str(year)}


F = "/families/{family}/"
_TODAY = date.today()
_LATER = _TODAY + timedelta(days=42)
FORMS = (
    Form(
        "staff-add",
        "/staff/add/",
        "agency_admin",
        bad={"first_name": "Kept Firstname", "email": "not-an-email"},
        kept="first_name",
        good={
            "first_name": "Jo",
            "last_name": "Browser",
            "username": "jo.browser",
            "email": "jo@example.test",
            "role": "practitioner",
            "password1": "river-otter-lantern-2026",
            "password2": "river-otter-lantern-2026",
        },
    ),
    Form("staff-change", "/staff/{staff}/", "agency_admin", good={"role": "key_worker"}),
    Form("staff-deactivate", "/staff/{leaver}/deactivate/", "agency_admin", good={}),
    Form(
        "family-edit",
        F + "edit/",
        "key_worker",
        bad={"name": "", "postcode": "Kept postcode!"},
        kept="postcode",
        clear=("name",),
        good={"name": "Smith household", "postcode": "RB1 1AA"},
    ),
    Form(
        "contact-new",
        F + "contacts/new/",
        "key_worker",
        bad={"summary": "Kept contact summary"},
        kept="summary",
        good={
            **_date("occurred_on", 6, 10, 2025),
            "occurred_time": "09:30",
            "method": "phone",
            "summary": "Spoke to mum about mornings.",
            "visibility": "team",
        },
    ),
    Form(
        "intervention-new",
        F + "interventions/new/",
        "key_worker",
        bad={"title": "Kept intervention title"},
        kept="title",
        good={
            "kind": "attendance",
            "title": "Walking bus",
            **_date("started_on", 6, 10, 2025),
        },
    ),
    Form(
        "member-new",
        F + "members/new/",
        "key_worker",
        bad={"given_name": "Kept given name"},
        kept="given_name",
        good={
            "given_name": "Amy",
            "family_name": "Smith",
            **_date("date_of_birth", 1, 3, 2015),
            "relationship": "child",
        },
    ),
    Form("team-end", "/families/{family2}/team/{family2_involvement}/end/", "key_worker", good={}),
    Form(
        "need-new",
        F + "needs/new/",
        "key_worker",
        bad={"descriptor": "Kept need descriptor"},
        kept="descriptor",
    ),
    Form("need-status", F + "needs/{need}/status/", "key_worker", good={"status": "in_progress"}),
    Form(
        "assessment-new",
        F + "assessments/new/",
        "key_worker",
        bad={"summary": "Kept assessment summary"},
        kept="summary",
        good={**_date("completed_on", 3, 11, 2025), "summary": "Whole-family assessment."},
    ),
    Form(
        "action-new",
        F + "actions/new/",
        "key_worker",
        bad={"description": "Kept action description"},
        kept="description",
    ),
    Form(
        "action-edit",
        F + "actions/{action_lead}/edit/",
        "key_worker",
        bad={"description": "Kept edited description", "due_on-day": "45"},
        kept="description",
        good={},
    ),
    Form(
        "sharing-new",
        F + "sharing/new/",
        "key_worker",
        bad={"justification": "Kept justification"},
        kept="justification",
    ),
    Form(
        "sharing-withdraw-page",
        "/families/{family2}/sharing/{family2_consent}/withdraw/",
        "key_worker",
        good={"reason": "The family withdrew consent by phone."},
    ),
    Form("sharing-confirm-page", F + "sharing/{decision}/confirm/", "manager", good={}),
    Form(
        "emergency-access-page",
        F + "emergency-access/",
        "outsider",
        bad={"reason": "too short"},
        kept="reason",
        good={"reason": "Urgent safeguarding concern out of hours."},
    ),
    Form(
        "emergency-review-page",
        "/emergency-access/{grant}/review/",
        "manager",
        bad={"notes": "Kept review notes"},
        kept="notes",
        good={"decision": "upheld", "notes": "Seen the referral."},
    ),
    # The family's lifecycle and reviews; referrals (the form, and the front door's decision).
    Form(
        "review-new",
        F + "reviews/new/",
        "key_worker",
        bad={"decisions": "Kept decisions"},
        kept="decisions",
        good={
            **_date("held_on", _TODAY.day, _TODAY.month, _TODAY.year),
            "attendees": "{early_help}",
            "decisions": "Attendance plan continues.",
            **_date("next_review_on", _LATER.day, _LATER.month, _LATER.year),
        },
    ),
    Form(
        "referral-new",
        "/referrals/new/",
        "partner",
        bad={"household_name": "Kept household"},
        kept="household_name",
        good={
            "household_name": "Brown household",
            "postcode": "RB2 2BB",
            "given_name_1": "Kai",
            "family_name_1": "Brown",
            "relationship_1": "child",
            "outcome_1": "education",
            "descriptor_1": "Attendance at 82%",
            "consent": "no",
            "no_consent_reason": "Parent not reachable this week.",
            "urgency": "routine",
        },
    ),
    Form(
        "referral-page",
        "/referrals/{referral}/",
        "manager",
        bad={"reason": "Kept reason"},
        kept="reason",
        good={"decision": "signpost", "reason": "Parenting group offered."},
    ),
    Form(
        "family-close-page",
        "/families/{family2}/close/",
        "key_worker",
        bad={"outcome_summary": "Kept summary"},
        kept="outcome_summary",
        good={"reason": "outcomes_met", "outcome_summary": "Plan complete."},
    ),
)


def _routes() -> set[str]:
    from tests.web.test_page_matrix import page_routes

    return set(page_routes())


def _form(page, path: str):
    """The page's main form: the POST form of <main> that posts to this page."""
    forms = page.locator("main form[method='post'], main form[method='POST']")
    for i in range(forms.count()):
        candidate = forms.nth(i)
        action = candidate.get_attribute("action")
        if action in (None, "", path):
            return candidate
    raise AssertionError(f"no form posting to {path} on the page")


def _fill(form, values: dict) -> None:
    for name, value in values.items():
        select = form.locator(f"select[name='{name}']")
        choice = form.locator(f"input[name='{name}'][value='{value}']")
        if select.count():
            select.select_option(value)
        elif choice.count() and choice.first.get_attribute("type") in ("radio", "checkbox"):
            choice.first.check()
        else:
            form.locator(f"[name='{name}']").first.fill(value)


def _submit(page, form):
    with page.expect_navigation() as navigation:
        form.locator("button[type='submit'], input[type='submit']").first.click()
    return navigation.value


def _error_summary_checks(page) -> list[str]:
    """The summary is there, and each of its links leads to an element of the page."""
    summary = page.locator(".govuk-error-summary")
    assert summary.count() == 1, "no error summary"
    assert summary.locator("[role='alert']").count() == 1
    links = summary.locator("a")
    assert links.count() >= 1
    targets = []
    for i in range(links.count()):
        href = links.nth(i).get_attribute("href")
        assert href and href.startswith("#"), href
        assert page.locator(f"[id='{href[1:]}']").count() == 1, f"{href} leads nowhere"
        targets.append(href[1:])
    return targets


@pytest.mark.parametrize("form", [pytest.param(x, id=x.id) for x in FORMS])
def test_the_form_works_without_javascript(form: Form, no_js_page, live_app):
    if form.name not in _routes():
        pytest.skip(f"{form.name} is not built yet")
    page = no_js_page
    path = form.path.format(**live_app.ids)
    sign_in(page, live_app.users[form.who])
    opened = page.goto(path)
    assert opened.status == 200, (path, opened.status)
    main_form = _form(page, path)
    assert main_form.locator("input[name='csrfmiddlewaretoken']").count() == 1

    if form.bad or form.kept:
        for name in form.clear:
            main_form.locator(f"[name='{name}']").first.fill("")
        _fill(main_form, form.bad)
        answer = _submit(page, main_form)
        assert answer.status in (200, 400, 409), (path, answer.status)
        assert answer.url.endswith(path), f"a bad submission left the form: {answer.url}"
        _error_summary_checks(page)
        if form.kept:
            kept = _form(page, path).locator(f"[name='{form.kept}']").first.input_value()
            assert kept == form.bad[form.kept], f"{form.kept}: typed {form.bad[form.kept]!r}"
    if form.good is not None:
        page.goto(path)
        main_form = _form(page, path)
        _fill(main_form, {k: v.format(**live_app.ids) for k, v in form.good.items()})
        answer = _submit(page, main_form)
        assert page.locator(".govuk-error-summary").count() == 0, page.locator(
            ".govuk-error-summary"
        ).inner_text()
        assert answer.status == 200, (path, answer.status)
        assert not answer.url.endswith(path), f"a good submission stayed on {answer.url}"
    if not form.bad and form.good is None:
        # Nothing filled in: the form is refused with the error summary, not a server error.
        answer = _submit(page, main_form)
        assert answer.status in (200, 400, 409), (path, answer.status)
        _error_summary_checks(page)


def test_adding_to_the_team_in_two_steps_without_javascript(no_js_page, live_app):
    """team-new: the agency is chosen with a GET form, then the POST form names the rest."""
    if "team-new" not in _routes():
        pytest.skip("team-new is not built yet")
    page = no_js_page
    path = "/families/{family}/team/new/".format(**live_app.ids)
    sign_in(page, live_app.users["key_worker"])
    assert page.goto(path).status == 200
    choose = page.locator("main form[method='get']")
    with page.expect_navigation() as navigation:
        choose.locator("button[type='submit']").click()  # no agency chosen
    assert navigation.value.status in (200, 400)
    assert _error_summary_checks(page) == ["id_agency"]
    page.locator("main form[method='get'] select[name='agency']").select_option(
        label="Riverside Health Visiting"
    )
    with page.expect_navigation() as navigation:
        page.locator("main form[method='get'] button[type='submit']").click()
    assert navigation.value.status == 200
    second = _form(page, path)
    assert second.locator("input[name='csrfmiddlewaretoken']").count() == 1
    _fill(second, {"role": "Health visitor"})
    answer = _submit(page, second)
    assert answer.status == 200 and page.locator(".govuk-error-summary").count() == 0
    assert "/team/new/" not in answer.url


def test_signing_in_and_out_without_javascript(no_js_page, live_app):
    page = no_js_page
    page.goto("/caseload/")
    assert "/sign-in/?next=/caseload/" in page.url
    page.fill("#id_username", live_app.users["key_worker"])
    page.fill("#id_password", "wrong password")
    with page.expect_navigation() as navigation:
        page.click("main button[type='submit']")
    assert navigation.value.status == 200
    assert _error_summary_checks(page) == ["id_username"]
    assert page.input_value("#id_username") == live_app.users["key_worker"]
    assert page.input_value("#id_password") == ""  # a password is never shown again
    page.fill("#id_password", live_app.password)
    with page.expect_navigation():
        page.click("main button[type='submit']")
    assert page.url.endswith("/caseload/")  # where the sign-in page was asked to go next
    with page.expect_navigation():
        page.click("nav button[type='submit']:has-text('Sign out')")
    assert "/sign-in/" in page.url
    page.goto("/caseload/")
    assert "/sign-in/" in page.url


def test_the_alerts_forms_work_without_javascript(no_js_page, live_app):
    routes = _routes()
    if not {"alert-page-read", "alert-page-read-all"} <= routes:
        pytest.skip("the alerts forms are not built yet")
    page = no_js_page
    sign_in(page, live_app.users["key_worker"])
    page.goto("/alerts/")
    read_one = page.locator(f"form[action='/alerts/{live_app.ids['alert']}/read/']")
    assert read_one.count() == 1
    with page.expect_navigation() as navigation:
        read_one.locator("button[type='submit']").click()
    assert navigation.value.status == 200
    read_all = page.locator("form[action='/alerts/read-all/']")
    if read_all.count():  # shown while something is unread
        with page.expect_navigation() as navigation:
            read_all.locator("button[type='submit']").click()
        assert navigation.value.status == 200
    assert page.locator("#alert-count").get_attribute("data-count") == "0"
