"""Accessibility of every page of the service, checked with axe-core in a real browser against the
app served live (tests/web/conftest.py), signed in as each role that may open the page.

For each page × each person who may open it (`PAGES`: the key worker, the school's partner
practitioner, the lead agency's manager, the agency admin; for the step-down page, a manager of
children's social care, the lead agency of the family stepped up in the seed):

- axe-core finds no violation of impact "serious" or "critical" (the others are printed, and
  written to tests/e2e/artifacts/axe-report.txt);
- at 320 × 800 px the page does not scroll sideways: the document is no wider than the viewport
  (wide tables scroll inside their `.app-table-scroll` box, which is allowed);
- a form is then submitted empty (text cleared, choices unticked) and must come back with its
  error summary (role=alert, each link to an element of the page), which is checked the same two
  ways. Confirmation forms with nothing to fill in (ending an involvement, deactivating someone,
  confirming a decision) would do what they confirm, so they are checked as opened only.

`PAGES` names who may open each page; `test_no_one_else_opens_the_page` checks the others are
refused (403 or 404), so the list cannot drift from what the server allows. Also the sign-in page
(with and without an error), the 403 page and both 404 pages ("Page not found" for an unknown
address and for a family one may not see).

The seeded borough is only read here: no submission is accepted.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.e2e.conftest import ARTIFACTS
from tests.web.conftest import TIMEOUT_MS, sign_in

KEY_WORKER, PARTNER, MANAGER, AGENCY_ADMIN = "key_worker", "partner", "manager", "agency_admin"
ROLES = (KEY_WORKER, PARTNER, MANAGER, AGENCY_ADMIN)
CSC_MANAGER = "csc_manager"  # a manager of children's social care: only the step-down page
FAILING_IMPACTS = ("serious", "critical")
NARROW = {"width": 320, "height": 800}
WIDE = {"width": 1280, "height": 900}
REPORT = ARTIFACTS / "axe-report.txt"

OPENED, FORM, CONFIRM = "page", "form", "confirmation"


@dataclass(frozen=True)
class Page:
    name: str  # the page's url name
    path: str  # formatted with the live app's seed ids
    roles: tuple[str, ...]  # who may open it
    kind: str = OPENED  # FORM: submitted empty too; CONFIRM: a form checked as opened only


F = "/families/{family}/"
ALL = ROLES
LEAD = (KEY_WORKER, MANAGER)  # the lead agency's key worker and manager
TEAM = (KEY_WORKER, PARTNER, MANAGER)  # and the school's practitioner on the team
PAGES = (
    Page("caseload", "/caseload/", (KEY_WORKER,)),
    Page("partner-families", "/families/", (PARTNER,)),
    Page("manager-overview", "/manager/", (MANAGER,)),
    Page("alert-page", "/alerts/", ALL),
    Page("staff-page", "/staff/", (AGENCY_ADMIN,)),
    Page("staff-add", "/staff/add/", (AGENCY_ADMIN,), FORM),
    Page("staff-change", "/staff/{staff}/", (AGENCY_ADMIN,), FORM),
    Page("staff-deactivate", "/staff/{leaver}/deactivate/", (AGENCY_ADMIN,), CONFIRM),
    Page("staff-authenticator-reset", "/staff/{leaver}/authenticator-reset/", (AGENCY_ADMIN,)),
    Page("family-page", F, TEAM),
    Page("family-history-page", F + "history/", TEAM),
    Page("family-edit", F + "edit/", LEAD, FORM),
    Page("contact-new", F + "contacts/new/", TEAM, FORM),
    Page("intervention-new", F + "interventions/new/", TEAM, FORM),
    Page("member-new", F + "members/new/", LEAD, FORM),
    Page("team-new", F + "team/new/", LEAD, FORM),
    Page("team-end", F + "team/{family_involvement}/end/", LEAD, CONFIRM),
    Page("need-new", F + "needs/new/", TEAM, FORM),
    Page("need-status", F + "needs/{need}/status/", LEAD, FORM),
    Page("assessment-new", F + "assessments/new/", LEAD, FORM),
    Page("action-new", F + "actions/new/", TEAM, FORM),
    Page("action-edit", F + "actions/{action_partner}/edit/", TEAM, FORM),
    Page("action-edit[lead]", F + "actions/{action_lead}/edit/", LEAD, FORM),
    Page("sharing-new", F + "sharing/new/", LEAD, FORM),
    Page("sharing-withdraw-page", F + "sharing/{family_consent}/withdraw/", LEAD, FORM),
    Page("sharing-confirm-page", F + "sharing/{decision}/confirm/", (MANAGER,), CONFIRM),
    Page("emergency-access-page", F + "emergency-access/", TEAM, FORM),
    Page("emergency-review-page", "/emergency-access/{grant}/review/", (MANAGER,), FORM),
    Page("family-close-page", F + "close/", LEAD, FORM),
    Page("family-step-up-page", F + "step-up/", (MANAGER,), FORM),
    Page("family-reopen-page", "/families/{family_closed}/reopen/", LEAD, FORM),
    Page("family-step-down-page", "/families/{family_stepped_up}/step-down/", (CSC_MANAGER,), FORM),
    Page("review-new", F + "reviews/new/", LEAD, FORM),
    Page("referral-list-page", "/referrals/", TEAM),
    Page("referral-new", "/referrals/new/", TEAM, FORM),
    Page("referral-page", "/referrals/{referral}/", TEAM),
    Page("family-access-log-page", F + "access-log/", LEAD),
    Page("audit-log-page", "/audit/", (MANAGER,)),  # filters only: nothing to leave empty
    Page("unusual-access-page", "/audit/unusual/", (MANAGER,)),
    Page("subject-access-page", F + "members/{member}/subject-access/", (MANAGER,), CONFIRM),
)


# --- browser and checks ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def report():
    ARTIFACTS.mkdir(exist_ok=True)
    lines: list[str] = []
    yield lines
    REPORT.write_text("\n".join(lines) + "\n" if lines else "No violations of lower impact.\n")


@pytest.fixture(scope="module")
def signed_in(browser, live_app):
    """role → a browser context signed in as that role's seeded person (made when first asked
    for, shared by the module's tests, which only read)."""
    contexts: dict = {}

    def context_for(role: str | None):
        if role not in contexts:
            context = browser.new_context(base_url=live_app.url, viewport=WIDE)
            context.set_default_timeout(TIMEOUT_MS)
            if role is not None:
                page = context.new_page()
                sign_in(page, live_app.users[role])
                page.close()
            contexts[role] = context
        return contexts[role]

    yield context_for
    for context in contexts.values():
        context.close()


@pytest.fixture
def page_as(signed_in):
    """`page_as(role)` → a new page (1280 px wide) in that role's context; None: signed out."""
    pages = []

    def make(role: str | None):
        page = signed_in(role).new_page()
        pages.append(page)
        return page

    yield make
    for page in pages:
        page.close()


def axe_check(page, what: str, report: list[str]) -> None:
    """No serious or critical violation; the others are printed and reported."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page).response
    failing, others = [], []
    for violation in results["violations"]:
        targets = [", ".join(map(str, node["target"])) for node in violation["nodes"]]
        line = f"{what}: {violation['id']} ({violation['impact']}) {violation['help']} → {targets}"
        (failing if violation["impact"] in FAILING_IMPACTS else others).append(line)
    for line in others:
        print(line)
    report.extend(others)
    assert not failing, "\n".join(failing)


WIDER_THAN_THE_PAGE = """(limit) => {
  const root = document.documentElement;
  if (root.scrollWidth <= limit) return null;
  // What sticks out, outside the table boxes that may scroll sideways.
  const out = [];
  for (const el of document.body.querySelectorAll("*")) {
    if (el.closest(".app-table-scroll")) continue;
    const box = el.getBoundingClientRect();
    if (box.right > limit && box.width > 0) {
      out.push(`${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}.${el.className}`
        + ` right=${Math.round(box.right)}`);
    }
  }
  return {scrollWidth: root.scrollWidth, out: out.slice(0, 10)};
}"""


def narrow_check(page, what: str) -> None:
    """At 320 px the whole page does not scroll sideways; the page is left 1280 px wide."""
    page.set_viewport_size(NARROW)
    try:
        page.wait_for_function("() => document.documentElement.clientWidth <= 320")
        wider = page.evaluate(WIDER_THAN_THE_PAGE, NARROW["width"] + 1)
        assert wider is None, f"{what} scrolls sideways at 320 px: {wider}"
    finally:
        page.set_viewport_size(WIDE)


def error_summary_check(page, what: str, *, by_fields: bool = True) -> None:
    summary = page.locator(".govuk-error-summary")
    assert summary.count() == 1, f"{what}: no error summary"
    assert summary.locator("[role='alert']").count() == 1, f"{what}: no role=alert"
    links = summary.locator("a")
    assert links.count() >= 1, f"{what}: the summary links to no field"
    for i in range(links.count()):
        href = links.nth(i).get_attribute("href") or ""
        assert href.startswith("#") and page.locator(f"[id='{href[1:]}']").count() == 1, (
            f"{what}: {href!r} leads nowhere"
        )
    if by_fields:
        assert page.locator(".govuk-error-message").count() >= 1, f"{what}: no message by a field"


EMPTY_THE_FORM = """(form) => {
  for (const el of form.elements) {
    const type = (el.type || "").toLowerCase();
    if (type === "hidden" || type === "submit" || type === "button") continue;
    if (type === "radio" || type === "checkbox") el.checked = false;
    else if (el.tagName === "SELECT") {
      // Its empty choice ("Choose …") where it has one, as a person would leave it.
      const empty = Array.from(el.options).findIndex((option) => option.value === "");
      el.selectedIndex = empty;
    }
    else if ("value" in el) el.value = "";
  }
}"""


def main_form(page, path: str):
    """The page's form: the POST form posting to this page, else its GET form (a first step)."""
    forms = page.locator("main form[method='post'], main form[method='POST']")
    for i in range(forms.count()):
        if forms.nth(i).get_attribute("action") in (None, "", path):
            return forms.nth(i)
    forms = page.locator("main form[method='get']")
    assert forms.count() == 1, f"no form on {path}"
    return forms.first


# --- the pages --------------------------------------------------------------------------------


CASES = [
    pytest.param(page, role, id=f"{page.name}-{role}") for page in PAGES for role in page.roles
]


@pytest.mark.parametrize(("page", "role"), CASES)
def test_the_page_is_accessible(page: Page, role: str, page_as, live_app, report):
    path = page.path.format(**live_app.ids)
    what = f"{page.name} as {role}"
    tab = page_as(role)
    answer = tab.goto(path)
    assert answer.status == 200, (what, path, answer.status)
    assert tab.locator("h1").count() == 1, f"{what}: one h1"
    axe_check(tab, what, report)
    narrow_check(tab, what)
    if page.kind != FORM:
        return
    form = main_form(tab, path)
    form.evaluate(EMPTY_THE_FORM)
    with tab.expect_navigation() as navigation:
        form.locator("button[type='submit'], input[type='submit']").first.click()
    assert navigation.value.status in (200, 400, 409), (what, navigation.value.status)
    what += ", submitted empty"
    error_summary_check(tab, what)
    axe_check(tab, what, report)
    narrow_check(tab, what)


@pytest.mark.parametrize("page", [pytest.param(p, id=p.name) for p in PAGES])
def test_no_one_else_opens_the_page(page: Page, page_as, live_app):
    """The roles not in `PAGES` for a page are refused it: the table is who may open it."""
    path = page.path.format(**live_app.ids)
    for role in set(ROLES) - set(page.roles):
        answer = page_as(role).goto(path)
        assert answer.status in (403, 404), (page.name, role, answer.status)


# --- sign-in and error pages ------------------------------------------------------------------


def test_the_sign_in_page_is_accessible(page_as, live_app, report):
    tab = page_as(None)
    assert tab.goto("/sign-in/").status == 200
    axe_check(tab, "sign-in", report)
    narrow_check(tab, "sign-in")
    tab.fill("#id_username", live_app.users[KEY_WORKER])
    tab.fill("#id_password", "not the password")
    with tab.expect_navigation():
        tab.click("main button[type='submit']")
    assert "/sign-in/" in tab.url
    # Wrong details are one error about both fields, linked to the first: none by a field.
    error_summary_check(tab, "sign-in with an error", by_fields=False)
    axe_check(tab, "sign-in with an error", report)
    narrow_check(tab, "sign-in with an error")


@pytest.mark.parametrize(
    ("role", "path", "status", "heading"),
    [
        pytest.param(KEY_WORKER, "/staff/", 403, "You cannot do this", id="403-staff-key_worker"),
        pytest.param(PARTNER, F + "edit/", 403, "You cannot do this", id="403-family-edit-partner"),
        pytest.param(KEY_WORKER, "/no-such-page/", 404, "Page not found", id="404-address"),
        pytest.param(AGENCY_ADMIN, F, 404, "Page not found", id="404-family-agency_admin"),
    ],
)
def test_the_error_pages_are_accessible(role, path, status, heading, page_as, live_app, report):
    tab = page_as(role)
    answer = tab.goto(path.format(**live_app.ids))
    assert answer.status == status
    assert tab.locator("h1").inner_text() == heading
    what = f"{status} page ({path}) as {role}"
    axe_check(tab, what, report)
    narrow_check(tab, what)
