"""Every page of the URL conf × every relationship to a family × GET and POST: a page answers what
the API answers for the same person, family and action.

The pages are found by walking the URL conf (every route outside api/, admin/, static/ and ws/),
so a page added later is in the matrix at once; `PAGES` says, for each page's url name, what its
GET and its POST answer like:

- `Api(method, path)`: the API call of the same action (e.g. a form page → the API's write of that
  form; its GET is the question "may this person do it"), made as the same person in a savepoint
  that is rolled back, with an empty body;
- `Rule(...)`: pages with no API equivalent (home pages, staff pages, signing in): the rule,
  written with the predicates of cases/access.py;
- `None`: the page does not take the method: 405, or the denial the other method gets first.

Status classes: 404 (not visible) ↔ 404, 403 ↔ 403, anything else ↔ allowed (an allowed GET is
2xx, or a redirect that is not to the sign-in page; an allowed POST with an empty body either
shows the error summary (200, 400 or 409) or, for a confirmation with nothing to fill in, does
it). A valid body, where `valid` gives one, must succeed for whoever is allowed. Anonymous people
are sent to sign in (302 to /sign-in/?next=<path>) from every page but the sign-in and sign-out
pages and `/`.

Coverage: a page route with no row fails `test_every_page_route_is_in_the_table`; a row whose
page does not exist yet is skipped when its name is in the list of the service's pages
(`CONTRACT_PAGES`, by url name), and fails as stale otherwise.

The world: the root conftest's `borough` (a family with key worker, lead-agency manager and
practitioner, a partner on the team under consent, an ended partner, an outsider), plus a member,
a need, a plan action owned by the partner's agency and one owned by the lead agency, a consent
basis and a safeguarding decision waiting for its manager, an emergency grant of another
agency's practitioner, an alert, an agency admin and a platform admin.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from urllib.parse import quote

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from agencies.models import AgencyKind
from agencies.roles import Role
from agencies.selectors import staff_for_user
from alerts.models import Alert
from audit.models import AccessEvent
from cases import access
from cases import services as case_services
from cases.models import Involvement
from consent import services as consent_services
from consent.models import SharingBasis
from tests import factories as f

API = "/api/v1/"
NOT_PAGES = ("api/", "admin/", "static/", "ws/")

# --- actors -------------------------------------------------------------------------------------

KEY_WORKER = "key_worker"  # lead-agency key worker, the family's key worker
MANAGER = "manager"  # lead-agency manager
LEAD_PRACTITIONER = "lead_practitioner"  # lead-agency practitioner
PARTNER = "partner"  # school practitioner, on the team under consent
ENDED_PARTNER = "ended_partner"  # police practitioner, involvement ended
OUTSIDER = "outsider"  # housing practitioner, never on the team
AGENCY_ADMIN = "agency_admin"  # agency admin of the lead agency
SUPERUSER = "superuser"  # platform admin: superuser and staff, no agency
DPO = "dpo"  # data protection officer of the lead agency: reads the access log, no case data
ANONYMOUS = "anonymous"
ACTORS = (
    KEY_WORKER,
    MANAGER,
    LEAD_PRACTITIONER,
    PARTNER,
    ENDED_PARTNER,
    OUTSIDER,
    AGENCY_ADMIN,
    SUPERUSER,
    DPO,
)

HIDDEN, FORBIDDEN, ALLOWED, NOT_TAKEN = "404", "403", "allowed", "405"


# --- the world ----------------------------------------------------------------------------------


@dataclass
class World:
    users: dict[str, object]
    ids: dict[str, int]  # world key → id


@pytest.fixture
def world(borough, settings, tmp_path) -> World:
    b = borough
    kw = b.key_worker
    User = get_user_model()
    agency_admin = f.staff_make(agency=b.early_help, role=Role.AGENCY_ADMIN)
    dpo = f.staff_make(agency=b.early_help, role=Role.DPO)
    superuser = User.objects.create_superuser(
        username="platform-root", email="root@example.org", password=f.PASSWORD
    )
    health = f.agency_make(kind=AgencyKind.HEALTH, name="Health Visiting")
    health_visitor = f.staff_make(agency=health, role=Role.PRACTITIONER)
    member = f.PersonFactory(family=b.family)
    need = case_services.need_create(
        family=b.family, by=kw, outcome=f.outcome("education"), descriptor="Attendance at 70%"
    )
    actions = {
        key: case_services.plan_action_create(
            family=b.family,
            by=kw,
            description=description,
            owner_agency=owner,
            due_on=date(2026, 9, 1),
            needs=[need],
        )
        for key, owner, description in (
            ("action_partner", b.school, "Attendance plan"),
            ("action_lead", b.early_help, "Parenting course referral"),
        )
    }
    consent = SharingBasis.objects.get(family=b.family, basis="consent")
    decision = consent_services.sharing_basis_create(
        family=b.family,
        by=kw,
        basis="safeguarding",
        agencies=[b.school],
        justification="Risk of harm reported by the school.",
        decided_by_id=b.manager.user_id,
    )
    grant = consent_services.emergency_access_grant(
        family_id=b.family.id, by=health_visitor, reason="Urgent health referral out of hours."
    )
    case_services.intervention_create(
        family=b.family,
        by=b.partner,
        kind="attendance",
        title="Morning routine support",
        started_on=date(2025, 10, 6),
    )
    alert = Alert.objects.filter(recipient=kw.user).order_by("-id").first()
    assert alert is not None
    involvement = Involvement.objects.get(family=b.family, agency=b.school, ended_on__isnull=True)
    report = _report_built(b.manager, settings, tmp_path)
    users = {
        KEY_WORKER: kw.user,
        MANAGER: b.manager.user,
        LEAD_PRACTITIONER: b.lead_practitioner.user,
        PARTNER: b.partner.user,
        ENDED_PARTNER: b.ended_partner.user,
        OUTSIDER: b.outsider.user,
        AGENCY_ADMIN: agency_admin.user,
        SUPERUSER: superuser,
        DPO: dpo.user,
    }
    ids = {
        "family": b.family.id,
        "involvement": involvement.id,
        "need": need.id,
        "member": member.id,
        "action_partner": actions["action_partner"].id,
        "action_lead": actions["action_lead"].id,
        "consent": consent.id,
        "decision": decision.id,
        "grant": grant.id,
        "alert": alert.id,
        "staff": b.lead_practitioner.id,
        "early_help": b.early_help.id,
        "report": report.id,
        "referral": _referral_by(b.partner).id,
    }
    return World(users=users, ids=ids)


def _referral_by(staff):
    """A referral by the school's practitioner: theirs and the front door's to see."""
    from referrals import services as referral_services

    f.outcome("education")  # the framework, if a transactional test flushed it
    return referral_services.referral_create(
        by=staff,
        household={"name": "Jones household", "postcode": "LS1 4AP"},
        people=[{"given_name": "Kai", "family_name": "Jones", "relationship": "child"}],
        concerns=[{"outcome": "education", "descriptor": "Attendance at 84%"}],
        consent=None,
        no_consent_reason="Parent not reachable; concern about attendance.",
        urgency="routine",
    )


def _report_built(manager, settings, tmp_path):
    """A caseload report the lead-agency manager asked for, built (into tmp_path)."""
    from reports import services as report_services

    settings.STORAGES = {
        **settings.STORAGES,
        "reports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "reports")},
        },
    }
    job = report_services.report_request(
        by=manager,
        kind="caseload",
        format="csv",
        period_start=date(2025, 4, 1),
        period_end=date(2026, 3, 31),
    )
    assert report_services.report_build(job_id=job.id) == "done"
    return job


# Path parameter → the world's id that fills it (a row's `params` picks another).
PARAMS = {
    "family_id": "family",
    "involvement_id": "involvement",
    "need_id": "need",
    "member_id": "member",
    "person_id": "member",
    "action_id": "action_partner",
    "basis_id": "consent",
    "grant_id": "grant",
    "alert_id": "alert",
    "staff_id": "staff",
    "report_id": "report",
    "referral_id": "referral",
}


# --- what each page answers like ----------------------------------------------------------------


@dataclass(frozen=True)
class Api:
    """The API call of the same action; `path` is formatted with the page's path parameters."""

    method: str
    path: str


@dataclass(frozen=True)
class Rule:
    """For pages with no API equivalent: `decide(user) -> ALLOWED | FORBIDDEN | HIDDEN`."""

    decide: Callable
    why: str


def _always(user) -> str:
    return ALLOWED


def _home_of(where: str) -> Callable:
    """A home page is for the people whose home it is (`access.home_for`): the key worker's
    caseload, the practitioner's families, the manager's overview; 403 for anyone else."""

    def decide(user) -> str:
        return ALLOWED if access.home_for(user) == where else FORBIDDEN

    return decide


def _manages_staff(user) -> str:
    """Staff pages: whoever may manage the staff of their own agency."""
    staff = staff_for_user(user)
    may = staff is not None and access.may_manage_staff(user=user, agency=staff.agency)
    return ALLOWED if may else FORBIDDEN


ALWAYS = Rule(_always, "open to everyone signed in")
CASELOAD = Rule(_home_of(access.HOME_CASELOAD), "key workers' home")
PARTNER_HOME = Rule(_home_of(access.HOME_PARTNER), "practitioners' home")
MANAGER_HOME = Rule(_home_of(access.HOME_MANAGER), "managers' home")
MANAGES_STAFF = Rule(_manages_staff, "access.may_manage_staff on their own agency")


def _asks_council_reports(user) -> str:
    staff = access.case_staff(user)
    return ALLOWED if access.may_request_report(staff, council_wide=True) else FORBIDDEN


COUNCIL_REPORTS = Rule(_asks_council_reports, "access.may_request_report, council-wide")


def _refers(user) -> str:
    return ALLOWED if access.may_refer(access.case_staff(user)) else FORBIDDEN


REFERS = Rule(_refers, "access.may_refer: the referral pages are for case staff")


def _runs_matching(user) -> str:
    return ALLOWED if access.may_run_matching(access.identification_staff(user)) else FORBIDDEN


RUNS_MATCHING = Rule(_runs_matching, "access.may_run_matching: the lead agency's managers")

FAM = "families/{family_id}/"


@dataclass(frozen=True)
class Page:
    name: str
    get: Api | Rule | None
    post: Api | Rule | None
    params: dict = field(default_factory=dict)  # path parameter → world key, beyond PARAMS
    variant: str = ""
    valid: Callable | None = None  # World → a POST body that succeeds for whoever may
    anonymous: str = "sign-in"  # "sign-in": sent to sign in; "open": the page is for them

    @property
    def id(self) -> str:
        return f"{self.name}[{self.variant}]" if self.variant else self.name


def _same(api: Api, **kwargs) -> dict:
    """A form page: its GET and its POST both answer like the API's write."""
    return {"get": api, "post": api, **kwargs}


def _staff_add_body(world: World) -> dict:
    return {
        "first_name": "Jo",
        "last_name": "Smith",
        "username": "jsmith",
        "role": "practitioner",
        "password1": "river-otter-lantern-2026",
        "password2": "river-otter-lantern-2026",
    }


def _date(name: str, day: date) -> dict:
    """A GOV.UK date input's three fields."""
    return {f"{name}-day": day.day, f"{name}-month": day.month, f"{name}-year": day.year}


def _contact_body(world: World) -> dict:
    return {
        **_date("occurred_on", date(2025, 10, 6)),
        "occurred_time": "09:30",
        "method": "phone",
        "summary": "Spoke to mum about mornings.",
        "visibility": "team",
    }


def _assessment_body(world: World) -> dict:
    return {**_date("completed_on", date(2025, 11, 3)), "summary": "Whole-family assessment."}


def _nothing(world: World) -> dict:
    return {}


PAGES = (
    # Signing in and out, and the start.
    Page("root", ALWAYS, ALWAYS, anonymous="open"),
    Page("home", ALWAYS, ALWAYS),
    Page("sign-in", ALWAYS, ALWAYS, anonymous="open"),
    Page("sign-out", None, ALWAYS, anonymous="open"),
    # The second factor: the code page (nothing to ask of someone with no code due: on to their
    # home page) and setting up an authenticator app, for everyone signed in.
    Page("sign-in-code", ALWAYS, ALWAYS),
    Page("authenticator-setup", ALWAYS, ALWAYS),
    # Home pages.
    Page("caseload", CASELOAD, None),
    Page("partner-families", PARTNER_HOME, None),
    Page("manager-overview", MANAGER_HOME, None),
    Page("alert-page", Api("GET", "alerts/"), None),
    Page("alert-page-read", None, Api("POST", "alerts/{alert_id}/read/"), valid=_nothing),
    Page("alert-page-read-all", None, Api("POST", "alerts/read-all/"), valid=_nothing),
    # Staff pages.
    Page("staff-page", MANAGES_STAFF, None),
    Page("staff-add", MANAGES_STAFF, MANAGES_STAFF, valid=_staff_add_body),
    Page("staff-change", MANAGES_STAFF, MANAGES_STAFF, valid=lambda w: {"role": "key_worker"}),
    Page("staff-deactivate", MANAGES_STAFF, MANAGES_STAFF, valid=_nothing),
    # (The world's staff member has no app: a reset answers the error summary.)
    Page("staff-authenticator-reset", MANAGES_STAFF, MANAGES_STAFF),
    # The family page and its forms.
    Page("family-page", Api("GET", FAM), None),
    Page("family-edit", **_same(Api("PATCH", FAM))),
    Page("family-history-page", Api("GET", FAM + "history/"), None),
    Page("contact-new", **_same(Api("POST", FAM + "contacts/")), valid=_contact_body),
    Page("intervention-new", **_same(Api("POST", FAM + "interventions/"))),
    Page("member-new", **_same(Api("POST", FAM + "members/"))),
    Page("team-new", **_same(Api("POST", FAM + "team/"))),
    Page("team-end", **_same(Api("DELETE", FAM + "team/{involvement_id}/")), valid=_nothing),
    Page("need-new", **_same(Api("POST", FAM + "needs/"))),
    Page("need-status", **_same(Api("PATCH", FAM + "needs/{need_id}/"))),
    Page("assessment-new", **_same(Api("POST", FAM + "assessments/")), valid=_assessment_body),
    Page("action-new", **_same(Api("POST", FAM + "actions/"))),
    Page(
        "action-edit",
        **_same(Api("PATCH", FAM + "actions/{action_id}/")),
        params={"action_id": "action_partner"},
        variant="owned by the partner",
    ),
    Page(
        "action-edit",
        **_same(Api("PATCH", FAM + "actions/{action_id}/")),
        params={"action_id": "action_lead"},
        variant="owned by the lead agency",
    ),
    Page("sharing-new", **_same(Api("POST", FAM + "sharing/"))),
    Page(
        "sharing-withdraw-page",
        **_same(Api("POST", FAM + "sharing/{basis_id}/withdraw/")),
        valid=lambda w: {"reason": "The family withdrew consent by phone."},
    ),
    Page(
        "sharing-confirm-page",
        **_same(Api("POST", FAM + "sharing/{basis_id}/confirm/")),
        params={"basis_id": "decision"},
        variant="a decision naming the manager",
    ),
    Page(
        "sharing-confirm-page",
        **_same(Api("POST", FAM + "sharing/{basis_id}/confirm/")),
        params={"basis_id": "consent"},
        variant="consent, nothing to confirm",
    ),
    Page(
        "emergency-access-page",
        **_same(Api("POST", FAM + "emergency-access/")),
        valid=lambda w: {"reason": "Urgent safeguarding concern out of hours."},
    ),
    Page(
        "emergency-review-page",
        **_same(Api("POST", "emergency-access/{grant_id}/review/")),
        valid=lambda w: {"stage": "review", "decision": "upheld", "notes": "Seen the referral."},
    ),
    # Reports: the list and a report answer as the API's; asking for a council-wide report is
    # for managers of the lead agency; a family summary for whoever sees the family.
    Page("report-page-list", Api("GET", "reports/"), None),
    Page(
        "report-new",
        COUNCIL_REPORTS,
        COUNCIL_REPORTS,
        valid=lambda w: {
            "kind": "caseload",
            "format": "csv",
            **_date("period_start", date(2025, 4, 1)),
            **_date("period_end", date(2026, 3, 31)),
        },
    ),
    Page("report-page", Api("GET", "reports/{report_id}/"), None),
    Page(
        "family-summary-new",
        Api("GET", FAM),
        Api("GET", FAM),
        valid=lambda w: {"format": "pdf"},
    ),
    # The family's lifecycle: the API's write of the same action.
    Page(
        "family-close-page",
        **_same(Api("POST", FAM + "close/")),
        valid=lambda w: {"reason": "outcomes_met", "outcome_summary": "Plan complete."},
    ),
    Page("family-reopen-page", **_same(Api("POST", FAM + "reopen/"))),
    # Starting a data-matching run (a button: POST only); the other identification pages are in
    # MATRIX_ELSEWHERE.
    Page("identification-run-start", None, RUNS_MATCHING, valid=_nothing),
    Page("family-step-up-page", **_same(Api("POST", FAM + "step-up/"))),
    Page("family-step-down-page", **_same(Api("POST", FAM + "step-down/"))),
    Page(
        "review-new",
        **_same(Api("POST", FAM + "reviews/")),
        valid=lambda w: {
            **_date("held_on", date.today()),
            "attendees": [w.ids["early_help"]],
            "decisions": "Plan continues.",
            **_date("next_review_on", date.today() + timedelta(days=42)),
        },
    ),
    # Referrals: the list and the form for whoever refers; a referral's page as the API's.
    Page("referral-list-page", REFERS, None),
    Page("referral-new", REFERS, REFERS),
    Page(
        "referral-page",
        Api("GET", "referrals/{referral_id}/"),
        Api("POST", "referrals/{referral_id}/decision/"),
        valid=lambda w: {"decision": "signpost", "reason": "Parenting group offered."},
    ),
    # The access log's readers: a family's log (key worker, lead-agency managers), the
    # agency-wide log and the unusual access (managers, data protection officers), and the
    # subject access export of a member (lead-agency managers).
    Page("family-access-log-page", Api("GET", FAM + "access-log/"), None),
    Page("audit-log-page", Api("GET", "audit/"), None),
    Page("unusual-access-page", Api("GET", "audit/unusual/"), None),
    Page(
        "subject-access-page",
        **_same(Api("POST", FAM + "members/{member_id}/subject-access/")),
        valid=_nothing,
    ),
)

# The service's pages by url name, those built and those planned: a row for one of these whose
# page is not there yet is skipped, not failed.
CONTRACT_PAGES = frozenset(
    """root home sign-in sign-out caseload partner-families manager-overview alert-page
    alert-page-read alert-page-read-all staff-page staff-add staff-change staff-deactivate
    staff-authenticator-reset
    family-page family-history-page
    family-edit contact-new intervention-new member-new team-new team-end need-new need-status
    assessment-new action-new action-edit sharing-new sharing-withdraw-page sharing-confirm-page
    emergency-access-page emergency-review-page report-page-list report-new report-page
    family-access-log-page audit-log-page unusual-access-page subject-access-page
    family-summary-new""".split()
)


# --- the URL conf -------------------------------------------------------------------------------


def page_routes() -> dict[str | None, list[str]]:
    """url name → routes (e.g. "families/<int:family_id>/") of every page in the URL conf."""
    found: dict[str | None, list[str]] = {}

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if route.startswith(NOT_PAGES):
                continue
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern):
                found.setdefault(pattern.name, []).append(route)

    walk(get_resolver().url_patterns, "")
    return found


def fill(route: str, page: Page, world: World) -> tuple[str, dict[str, int]]:
    """The page's path with the world's ids, and the ids by parameter name."""
    values: dict[str, int] = {}

    def value(match: re.Match) -> str:
        name = match.group(1)
        key = page.params.get(name) or PARAMS.get(name)
        assert key, f"no id in the world for path parameter {name!r}: add it to PARAMS"
        values[name] = world.ids[key]
        return str(values[name])

    assert "(" not in route and "^" not in route, f"a regex route: {route}"
    path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", value, route)
    return path, values


# Pages whose matrix is elsewhere, in a world of their own (role × agency × page and the API's
# endpoint of the same action, through HTTP with real auth): the data-matching pages need
# uploads, a finished run and its candidates, which this module's borough does not hold.
MATRIX_ELSEWHERE = {
    name: "tests/identification/test_authz_matrix.py"
    for name in (
        "identification-home",
        "identification-upload",
        "identification-run",
        "identification-candidates",
        "identification-candidate",
    )
}


def test_every_page_route_is_in_the_table():
    routes = page_routes()
    unnamed = routes.get(None, [])
    assert not unnamed, f"page routes without a url name: {unnamed}"
    missing = sorted(set(routes) - {p.name for p in PAGES} - set(MATRIX_ELSEWHERE))
    assert not missing, f"pages missing from PAGES in {__name__}: {missing}"
    stale = sorted({p.name for p in PAGES} - set(routes) - CONTRACT_PAGES)
    assert not stale, f"rows for pages that are neither routes nor in the contract: {stale}"
    for name, found in routes.items():
        assert len(found) == 1, f"{name} names several routes: {found}"


# --- asking -------------------------------------------------------------------------------------


def status_class(status: int) -> str:
    return {404: HIDDEN, 403: FORBIDDEN, 405: NOT_TAKEN}.get(status, ALLOWED)


# One client of each kind for the module: a new Client loads the middleware again, and
# whitenoise walks every static file each time.
_CLIENTS: dict[str, Client] = {}


def _client(kind: str) -> Client:
    if kind not in _CLIENTS:
        _CLIENTS[kind] = APIClient() if kind == "api" else Client()
    return _CLIENTS[kind]


def api_answer(answer: Api, values: dict, user) -> str:
    """What the API answers this person for the same action: asked in a savepoint that is rolled
    back, with an empty body (who may is decided before the body is read)."""
    client = _client("api")
    client.credentials(HTTP_AUTHORIZATION=f"Token {f.token_for(user)}")
    with transaction.atomic():
        response = getattr(client, answer.method.lower())(
            API + answer.path.format(**values), {}, format="json"
        )
        transaction.set_rollback(True)
    assert response.status_code not in (401, 500), (answer, response.status_code)
    return status_class(response.status_code)


def expected(answer: Api | Rule | None, values: dict, user) -> str:
    if answer is None:
        return NOT_TAKEN
    if isinstance(answer, Rule):
        return answer.decide(user)
    return api_answer(answer, values, user)


def page_request(user, method: str, path: str, body: dict):
    """The page, signed in with a session, in a savepoint that is rolled back."""
    client = _client("page")
    client.cookies.clear()
    with transaction.atomic():
        if user is not None:
            client.force_login(user)
        try:
            response = getattr(client, method)(path, body)
        except Exception as exc:  # noqa: BLE001 - reported as the cell's answer
            response = exc
        transaction.set_rollback(True)
    return response


def has_error_summary(response) -> bool:
    return b'class="govuk-error-summary"' in response.content


def judge(page: Page, method: str, want: str, other: str, response, valid: bool) -> str | None:
    """None when the page's answer fits what was expected; else what is wrong."""
    if isinstance(response, Exception):
        return f"raised {response!r}"
    status = response.status_code
    got = status_class(status)
    if want == NOT_TAKEN:
        # The page does not take this method: 405, or the denial its other method gets first.
        allowed = {NOT_TAKEN} | ({other} if other in (HIDDEN, FORBIDDEN) else set())
        return None if got in allowed else f"{status}, expected 405"
    if got != want:
        return f"{status}, expected {want}"
    if want != ALLOWED:
        return None
    if status >= 500:
        return f"{status}"
    location = response.get("Location", "") if 300 <= status < 400 else ""
    if location.startswith("/sign-in/") and page.anonymous != "open":
        return f"{status} to sign in, for someone signed in"
    if method == "get":
        # A form the record's state refuses (reopening an open family) shows the conflict, 409,
        # as the API answers the same action in that state.
        if status == 409 and b'class="app-conflict"' in response.content:
            return None
        return None if status < 400 else f"{status} for an allowed GET"
    if valid:
        return None if status < 400 else f"{status} for a valid body"
    if status in (200, 400, 409) and not has_error_summary(response):
        return f"{status} without the error summary"
    return None if status < 400 or status in (400, 409) else f"{status}"


CASES = [pytest.param(page, id=page.id) for page in PAGES]


@pytest.mark.parametrize("page", CASES)
def test_the_page_answers_what_the_api_answers(page: Page, world: World):
    routes = page_routes()
    if page.name not in routes:
        assert page.name in CONTRACT_PAGES
        pytest.skip(f"{page.name} is not built yet")
    path, values = fill(routes[page.name][0], page, world)
    wrong = []
    calls = [("get", {}, False), ("post", {}, False)]
    if page.valid is not None:
        calls.append(("post", page.valid(world), True))
    for actor in ACTORS:
        user = world.users[actor]
        want = {
            "get": expected(page.get, values, user),
            "post": expected(page.post, values, user),
        }
        for method, body, valid in calls:
            other = want["post" if method == "get" else "get"]
            response = page_request(user, method, path, body)
            problem = judge(page, method, want[method], other, response, valid)
            if problem:
                label = f"{method.upper()}{' valid' if valid else ''}"
                wrong.append(f"{label} {path} as {actor}: {problem}")
    for method, body, _ in calls:
        response = page_request(None, method, path, body)
        problem = anonymous_problem(page, method, path, response)
        if problem:
            wrong.append(f"{method.upper()} {path} as anonymous: {problem}")
    assert not wrong, "\n".join(wrong)


def anonymous_problem(page: Page, method: str, path: str, response) -> str | None:
    if isinstance(response, Exception):
        return f"raised {response!r}"
    status = response.status_code
    if page.anonymous == "open":
        return None if status < 500 and status not in (403, 404) else f"{status}"
    sign_in = f"/sign-in/?next={quote(path, safe='/')}"
    if status == 302 and response["Location"] == sign_in:
        return None
    taken = page.get if method == "get" else page.post
    if taken is None and status == 405:
        return None
    return f"{status} {response.get('Location', '')}, expected 302 to {sign_in}"


# --- the family pages are audited like the API --------------------------------------------------

FAMILY_PAGES = [
    pytest.param(page, id=page.id)
    for page in PAGES
    if isinstance(page.get, Api)
    and page.get.path.startswith(FAM)
    # Asking for emergency access reads nothing of the family (the API's request is not
    # family-scoped either).
    and page.name != "emergency-access-page"
]


@pytest.mark.parametrize("page", FAMILY_PAGES)
def test_reading_a_family_page_is_audited_like_the_api(page: Page, world: World):
    """Whoever the API lets do the action, the page's GET leaves an access event for that
    person and family, as the API's requests do (cases/api.py `FamilyScopedView`)."""
    routes = page_routes()
    if page.name not in routes:
        pytest.skip(f"{page.name} is not built yet")
    path, values = fill(routes[page.name][0], page, world)
    for actor in ACTORS:
        user = world.users[actor]
        if expected(page.get, values, user) != ALLOWED:
            continue
        client = _client("page")
        client.cookies.clear()
        client.force_login(user)
        before = AccessEvent.objects.filter(user=user, family_id=world.ids["family"]).count()
        response = client.get(path)
        conflict = response.status_code == 409 and b'class="app-conflict"' in response.content
        assert response.status_code < 400 or conflict, (actor, response.status_code)
        after = AccessEvent.objects.filter(user=user, family_id=world.ids["family"]).count()
        assert after > before, f"GET {path} as {actor} left no access event"


# --- not visible looks like not there -----------------------------------------------------------


def _normalised(response, family_id: int) -> str:
    """The page without its CSRF tokens (masked afresh on every render) and with the family's
    address written with ID (a page may link to the address it was asked)."""
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", response.content.decode())
    return html.replace(f"/families/{family_id}/", "/families/ID/")


@pytest.mark.parametrize("page", FAMILY_PAGES)
def test_a_family_not_seen_is_the_same_404_as_no_family(page: Page, world: World):
    """The 404 page gives no hint whether the family exists: for someone who cannot see it, the
    page of a real family and of an id that names no family are the same."""
    routes = page_routes()
    if page.name not in routes:
        pytest.skip(f"{page.name} is not built yet")
    route = routes[page.name][0]
    path, values = fill(route, page, world)
    missing = dict(world.ids, family=world.ids["family"] + 10_000)
    missing_path, _ = fill(route, page, World(users=world.users, ids=missing))
    client = _client("page")
    for actor in (OUTSIDER, ENDED_PARTNER, AGENCY_ADMIN, SUPERUSER):
        client.cookies.clear()
        client.force_login(world.users[actor])
        seen = client.get(path)
        unseen = client.get(missing_path)
        assert seen.status_code == unseen.status_code == 404, (actor, seen.status_code)
        assert _normalised(seen, world.ids["family"]) == _normalised(unseen, missing["family"])
