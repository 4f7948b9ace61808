"""Pages of the family record for people: thin views over the same services and selectors as the
API (cases/api.py). Access is decided by cases/access.py: not visible → the 404 page, visible but
not allowed → the 403 page."""

from __future__ import annotations

import functools
import itertools
from datetime import date, datetime

from django import forms as django_forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import dateformat, timezone
from django.views import View
from django.views.decorators.http import require_safe

from agencies.models import Agency
from cases import access, access_log, lifecycle, selectors, services
from cases import forms as case_forms
from cases.models import ActionStatus, FamilyStatus, NeedStatus

HOME_ROUTES = {
    access.HOME_CASELOAD: "caseload",
    access.HOME_PARTNER: "partner-families",
    access.HOME_MANAGER: "manager-overview",
    access.HOME_STAFF: "staff-page",
    access.HOME_DPO: "unusual-access-page",
    access.HOME_ANALYST: "identification-home",
}


def root(request):
    """`/`: signed out → sign in; signed in → the home page of the person's role."""
    if not request.user.is_authenticated:
        return redirect("sign-in")
    return redirect("home")


@login_required
def home(request):
    where = access.home_for(request.user)
    if where == access.HOME_ADMIN:
        return redirect("admin:index")
    if where not in HOME_ROUTES:
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied("You have no role in an agency here.")
    return redirect(HOME_ROUTES[where])


# --- home pages: caseload (key worker), families we work with (practitioner), manager overview ---
# Each home page is for one role (`access.home_for`); anyone else gets the 403 page. Each family
# a home page shows is an access event ("list"), as for the API's family list.


HOME_PAGE_SIZE = 50
OPEN_ACTIONS_SHOWN = 100
OVERDUE_SHOWN = 200
STATUS_CHOICES = (*FamilyStatus.choices, ("all", "Any status"))
LEVEL_CHOICES = (("", "Any level"), ("1", "1"), ("2", "2"), ("3", "3"), ("4", "4"))
CASELOAD_SORTS = (
    ("reference", "Reference"),
    ("name", "Family name"),
    ("next_review", "Next review (soonest first)"),
    ("level_of_need", "Level of need (highest first)"),
)
LEAD_FAMILY_SORTS = (
    ("key_worker", "Key worker"),
    ("status", "Status"),
    ("reference", "Reference"),
    ("next_review", "Next review (soonest first)"),
)


def _home_only(request, where: str, what: str) -> None:
    if access.home_for(request.user) != where:
        raise PermissionDenied(f"This page is for {what}.")


def _choice(request, name: str, choices, default: str) -> str:
    value = request.GET.get(name, default)
    return value if value in {key for key, _ in choices} else default


def _search(request) -> str:
    return request.GET.get("q", "").strip()[:100]


def _status(value: str) -> str | None:
    return None if value == "all" else value


def page_of(request, queryset, size: int = HOME_PAGE_SIZE) -> dict:
    """One page of `queryset` (the `page` parameter; past the end → the last page) and the page
    numbers the pagination shows. For the first page, `size` + 1 rows are read first: when that
    is all there is (one page, as most lists are), they are the page and no count is asked for;
    else they are the first page, and the count follows."""
    from django.core.paginator import Paginator

    number = request.GET.get("page")
    if number in (None, "", "1"):
        first = list(queryset[: size + 1])
        paginator = Paginator(first if len(first) <= size else queryset, size)
        page = paginator.get_page(1)
        page.object_list = first[:size]
    else:
        paginator = Paginator(queryset, size)
        page = paginator.get_page(number)
    numbers = (
        list(paginator.get_elided_page_range(page.number, on_each_side=1, on_ends=1))
        if paginator.num_pages > 1
        else []
    )
    return {"page_obj": page, "page_numbers": numbers, "ellipsis": Paginator.ELLIPSIS}


@login_required
@require_safe
def caseload(request):
    """A key worker's own families with what needs doing on each (`selectors.caseload`)."""
    _home_only(request, access.HOME_CASELOAD, "key workers")
    q = _search(request)
    status = _choice(request, "status", STATUS_CHOICES, FamilyStatus.OPEN)
    level = _choice(request, "level", LEVEL_CHOICES, "")
    sort = _choice(request, "sort", CASELOAD_SORTS, "reference")
    today = timezone.localdate()
    families = selectors.caseload(
        user=request.user,
        q=q,
        status=_status(status),
        level_of_need=int(level) if level else None,
        ordering=sort,
        today=today,
    )
    page = page_of(request, families)
    selectors.caseload_latest_attach(list(page["page_obj"].object_list))
    access_log.families_shown_log(request, page["page_obj"].object_list)
    return render(
        request,
        "cases/caseload.html",
        {
            **page,
            "agency_id": access.case_staff(request.user).agency_id,
            "today": today,
            "q": q,
            "status": status,
            "level": level,
            "sort": sort,
            "status_choices": STATUS_CHOICES,
            "level_choices": LEVEL_CHOICES,
            "sort_choices": CASELOAD_SORTS,
            "due_within_days": selectors.ACTIONS_DUE_WITHIN_DAYS,
        },
        using="jinja2",
    )


@login_required
@require_safe
def partner_families(request):
    """A practitioner's agency's families and the agency's own open plan actions on them."""
    _home_only(request, access.HOME_PARTNER, "practitioners")
    q = _search(request)
    status = _choice(request, "status", STATUS_CHOICES, FamilyStatus.OPEN)
    families = selectors.partner_families(user=request.user, q=q, status=_status(status))
    actions = list(selectors.agency_open_actions(user=request.user)[: OPEN_ACTIONS_SHOWN + 1])
    staff = access.case_staff(request.user)
    page = page_of(request, families.order_by("reference"))
    access_log.families_shown_log(
        request,
        [*page["page_obj"].object_list, *(a.family for a in actions[:OPEN_ACTIONS_SHOWN])],
    )
    return render(
        request,
        "cases/partner_families.html",
        {
            **page,
            "agency_name": staff.agency.name,
            "today": timezone.localdate(),
            "q": q,
            "status": status,
            "status_choices": STATUS_CHOICES,
            "actions": actions[:OPEN_ACTIONS_SHOWN],
            "more_actions": len(actions) > OPEN_ACTIONS_SHOWN,
        },
    )


@login_required
@require_safe
def manager_overview(request):
    """A manager's agency's families as lead agency, by key worker and status; overdue reviews;
    emergency access waiting for a manager."""
    _home_only(request, access.HOME_MANAGER, "managers")
    q = _search(request)
    status = _choice(request, "status", STATUS_CHOICES, "all")
    sort = _choice(request, "sort", LEAD_FAMILY_SORTS, "key_worker")
    key_worker = request.GET.get("key_worker", "")
    if key_worker != "none":
        key_worker = key_worker if key_worker.isascii() and key_worker.isdigit() else ""
        key_worker = key_worker if len(key_worker) < 19 else ""
    families = selectors.lead_families(
        user=request.user,
        q=q,
        status=_status(status),
        key_worker=key_worker or None,
        ordering=sort,
    )
    today = timezone.localdate()
    by_key_worker = selectors.lead_families_by_key_worker(user=request.user)
    chosen = next(
        (
            row
            for row in by_key_worker
            if (row["key_worker_id"] is None and key_worker == "none")
            or (key_worker and str(row["key_worker_id"]) == key_worker)
        ),
        None,
    )
    overdue = selectors.overdue_reviews(user=request.user, today=today)
    overdue_shown = list(overdue[:OVERDUE_SHOWN])
    emergency = list(selectors.emergency_access_awaiting(user=request.user))
    staff = access.case_staff(request.user)
    page = page_of(request, families)
    access_log.families_shown_log(
        request,
        [*page["page_obj"].object_list, *overdue_shown, *(grant.family for grant in emergency)],
    )
    return render(
        request,
        "cases/manager_overview.html",
        {
            **page,
            "agency_name": staff.agency.name,
            "today": today,
            "now": timezone.now(),
            "q": q,
            "status": status,
            "sort": sort,
            "key_worker": key_worker,
            "chosen_key_worker": chosen,
            "status_choices": STATUS_CHOICES,
            "sort_choices": LEAD_FAMILY_SORTS,
            "by_key_worker": by_key_worker,
            "overdue": overdue_shown,
            "overdue_count": overdue.count(),
            "emergency": emergency,
        },
    )


# --- the family page and its forms ----------------------------------------------------------------
# Every page about one family resolves it with `family_for_page` (the API's rule: not visible →
# 404, visible without the permission → 403) and is wrapped in `family_page` (sign-in required).
# `family_for_page` tells the access log the rule's answer, allowed or denied, as
# cases/api.py `FamilyScopedView` does (cases/access_log.py); the event is written with the
# response's status once the response is ready, a 403 or 404 page or a 500 as well
# (audit.middleware.AccessLogMiddleware). Pages of a family must use both: `family_for_page`
# refuses to run in a view without `family_page`.
# (This section also uses the names imported above: login_required, redirect, access,
# PermissionDenied, render, timezone, selectors.)


_FAMILY_PAGE_ATTR = "_family_page_wrapped"
CHRONOLOGY_PAGE_SIZE = 50

CHRONOLOGY_TYPES = {
    "family.opened": "Family opened",
    "family.key_worker_changed": "Key worker changed",
    "member.added": "Member added",
    "member.updated": "Member details changed",
    "team.joined": "Joined the team",
    "team.left": "Left the team",
    "need.identified": "Need identified",
    "need.updated": "Need updated",
    "assessment.completed": "Assessment",
    "action.added": "Plan action added",
    "action.updated": "Plan action updated",
    "intervention.recorded": "Intervention",
    "contact.recorded": "Contact",
    "family.closed": "Case closed",
    "family.reopened": "Case reopened",
    "family.stepped_up": "Stepped up",
    "family.stepped_down": "Stepped down",
    "review.recorded": "Review",
    "referral.received": "Referral",
}


NEED_TAGS = {
    NeedStatus.IDENTIFIED: "govuk-tag--blue",
    NeedStatus.IN_PROGRESS: "govuk-tag--light-blue",
    NeedStatus.ACHIEVED: "govuk-tag--green",
    NeedStatus.CLOSED: "govuk-tag--grey",
}
ACTION_TAGS = {
    ActionStatus.OPEN: "govuk-tag--blue",
    ActionStatus.IN_PROGRESS: "govuk-tag--light-blue",
    ActionStatus.DONE: "govuk-tag--green",
    ActionStatus.CANCELLED: "govuk-tag--grey",
}
SHARING_STATUSES = {  # consent.selectors.sharing_basis_status → (label, tag)
    "active": ("Active", "govuk-tag--green"),
    "awaiting_confirmation": ("Awaiting confirmation", "govuk-tag--yellow"),
    "lapsed": ("Lapsed", "govuk-tag--red"),
    "expired": ("Expired", "govuk-tag--grey"),
    "withdrawn": ("Withdrawn", "govuk-tag--grey"),
}


def family_for_page(
    request, family_id, permission=access.VIEW, *, object_type: str = "", object_id=None
):
    """(family, perms) for a page about one family, as the API decides it: no such family or not
    visible → Http404 (the same page for both); visible without `permission` → PermissionDenied.
    The answer is an access event of the request: the page reads or writes the family's
    `object_type` (`object_id` when its address names one). The view must be wrapped in
    `family_page`."""
    if not getattr(request, _FAMILY_PAGE_ATTR, False):
        raise ImproperlyConfigured("Wrap a view that calls family_for_page in family_page.")
    family, perms = access.family_with_permissions(request.user, family_id)
    access_log.family_access_log(
        request,
        family_id=family_id,
        perms=perms,
        permission=permission,
        object_type=object_type,
        object_id=object_id,
    )
    if not perms:
        raise Http404
    if permission not in perms:
        raise PermissionDenied("You can see this family but may not do that.")
    return family, perms


def family_page(view):
    """Decorate a page about one family: sign-in required, and `family_for_page` allowed."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        setattr(request, _FAMILY_PAGE_ATTR, True)
        return view(request, *args, **kwargs)

    return login_required(wrapped)


def age_text(born: date | None, today: date) -> str:
    """An age as people say it: "9 years", "1 year", "18 months", "3 weeks"."""
    if born is None:
        return ""
    if born > today:
        return ""
    months = (today.year - born.year) * 12 + today.month - born.month - (today.day < born.day)
    if months >= 24:
        years = months // 12
        return f"{years} years"
    if months >= 1:
        return f"{months} month{'s' if months != 1 else ''}"
    weeks = (today - born).days // 7
    if weeks >= 1:
        return f"{weeks} week{'s' if weeks != 1 else ''}"
    days = (today - born).days
    return f"{days} day{'s' if days != 1 else ''}"


def emergency_grant_stage(grant) -> str | None:
    """What a lead-agency manager can decide on an emergency grant now: "approval" (a request
    waiting for approval), "review" (granted, not yet reviewed) or None."""
    if grant.approval_required and not grant.approved_at and not grant.refused_at:
        return "approval"
    if grant.granted_at is not None and grant.reviewed_at is None:
        return "review"
    return None


def emergency_grant_status(grant) -> str:
    """Where an emergency grant stands, in words."""
    if grant.refused_at:
        return "Refused"
    if grant.granted_at is None:
        return "Waiting for approval"
    if grant.decision:
        return grant.get_decision_display()
    if grant.expires_at and grant.expires_at > timezone.now():
        return "Live, not yet reviewed"
    return "Ended, not yet reviewed"


def _family_url(family, anchor: str = "") -> str:
    return reverse("family-page", args=[family.id]) + (f"#{anchor}" if anchor else "")


def _chronology_filters(request, options) -> tuple[int | None, str | None, dict]:
    """The agency and type asked for (`?agency=`, `?type=`), kept only when one of the offered
    options, and the options themselves (agencies by name, types as labelled)."""
    agencies = sorted({(a, n) for a, n, _ in options if a is not None}, key=lambda x: x[1])
    types = sorted({t for _, _, t in options}, key=lambda t: CHRONOLOGY_TYPES.get(t, t).lower())
    agency = request.GET.get("agency", "")
    agency_id = int(agency) if agency.isdigit() and int(agency) in dict(agencies) else None
    kind = request.GET.get("type", "")
    kind = kind if kind in types else None
    return (
        agency_id,
        kind,
        {
            "agencies": agencies,
            "types": [(t, CHRONOLOGY_TYPES.get(t, t)) for t in types],
        },
    )


def _sharing_view(family, bases, team_agency_ids: set[int], today: date) -> dict:
    """What the sharing banner and table show: every basis with its status, the agencies
    it covers (on the team or not), and which agencies see the record now. `bases` as
    `consent.selectors.sharing_basis_list_for_page` loads them."""
    from consent.selectors import sharing_basis_status

    rows, seeing = [], {}
    for basis in bases:
        status = sharing_basis_status(basis, today)
        agencies = [
            {"name": name, "on_team": agency_id in team_agency_ids}
            for agency_id, name in basis.page_agencies
        ]
        label, tag = SHARING_STATUSES.get(status, (status, "govuk-tag--grey"))
        rows.append(
            {
                "basis": basis,
                "status": status,
                "label": label,
                "tag_class": tag,
                "agencies": agencies,
            }
        )
        if status == "active":
            for agency_id, name in basis.page_agencies:
                if agency_id in team_agency_ids and agency_id != family.lead_agency_id:
                    seeing.setdefault(name, basis)
    banner = [r for r in rows if r["status"] in ("active", "awaiting_confirmation", "lapsed")]
    return {
        "sharing_rows": rows,
        "sharing_banner": banner,
        "seeing_agencies": sorted(seeing.items()),
    }


@require_safe
@family_page
def family_detail_page(request, family_id: int):
    """`/families/<id>/`: the household, its team, needs, plan and the multi-agency chronology
    (filtered by agency and type, 50 a page), with what is new since the person's last visit
    marked; the visit is recorded once what is new has been worked out."""
    from consent import selectors as consent_selectors

    try:
        family, perms = family_for_page(
            request, family_id, object_type="family", object_id=family_id
        )
    except Http404:
        # The same page for a family that does not exist and one the person may not see; it
        # offers emergency access to anyone who may ask (the API's 404 discloses no more).
        return render(
            request,
            "cases/family_not_found.html",
            {"family_id": family_id, "may_ask": access.case_staff(request.user) is not None},
            status=404,
        )
    staff = access.case_staff(request.user)
    today = timezone.localdate()
    family = selectors.family_detail_prefetch(family, sharing_bases=False)
    is_open = family.status == FamilyStatus.OPEN
    for person in family.detail_members:
        person.age = age_text(person.date_of_birth, today)
        person.expected_on = getattr(person, "expected_birth_on", None)
    members = {p.id: p for p in family.detail_members}
    for need in family.detail_needs:
        need.tag_class = NEED_TAGS.get(need.status, "govuk-tag--grey")
        need.person_name = (
            f"{members[need.person_id].given_name} {members[need.person_id].family_name}"
            if need.person_id in members
            else ""
        )
    team_agency_ids = {i.agency_id for i in family.active_team}
    bases = consent_selectors.sharing_basis_list_for_page(family=family)
    sharing = _sharing_view(family, bases, team_agency_ids, today)
    for row in sharing["sharing_rows"]:
        basis = row["basis"]
        row["may_withdraw"] = access.SHARING in perms and basis.withdrawn_at is None
        row["may_confirm"] = row["status"] == "awaiting_confirmation" and (
            access.may_confirm_sharing_basis(staff=staff, family=family, basis=basis)
        )

    actions = list(selectors.plan_action_list_for_page(family=family))
    for action in actions:
        action.may_edit = is_open and access.may_update_plan_action(
            staff=staff, perms=perms, owner_agency_id=action.owner_agency_id
        )
        action.overdue = action.due_on < today and action.status in selectors.OPEN_ACTION_STATUSES
        action.tag_class = ACTION_TAGS.get(action.status, "govuk-tag--grey")
    plan = [
        (owner, list(rows))
        for owner, rows in itertools.groupby(actions, key=lambda a: a.owner_agency)
    ]

    # The chronology: filters, one page, and what is new since the last visit; the filters'
    # options, the page count, the new entries and the newest id from one grouped count.
    visit = selectors.family_visit_get(user=request.user, family=family)
    last_seen = visit.last_entry_id if visit is not None else None
    groups = selectors.chronology_summary(user=request.user, family=family, since=last_seen)
    shown = [g for g in groups if g["seen"]]
    options = [(g["agency_id"], g["agency__name"], g["type"]) for g in shown]
    agency_id, kind, filters = _chronology_filters(request, options)
    entries = selectors.chronology_list(user=request.user, family=family)
    if agency_id is not None:
        entries = entries.filter(agency_id=agency_id)
    if kind is not None:
        entries = entries.filter(type=kind)
    paginator = Paginator(entries, CHRONOLOGY_PAGE_SIZE)
    paginator.count = sum(
        g["n"]
        for g in shown
        if (agency_id is None or g["agency_id"] == agency_id)
        and (kind is None or g["type"] == kind)
    )
    page = paginator.get_page(request.GET.get("page"))
    for entry in page.object_list:
        entry.is_new = last_seen is not None and entry.id > last_seen
        entry.type_label = CHRONOLOGY_TYPES.get(entry.type, entry.type)
    new_count = sum(g["new"] for g in shown) if last_seen is not None else 0
    services.family_visit_record(
        user=request.user,
        family=family,
        last_entry_id=max((g["latest"] for g in groups), default=0),
    )
    query = {k: v for k, v in (("agency", agency_id), ("type", kind)) if v is not None}
    page_numbers = (
        list(paginator.get_elided_page_range(page.number, on_each_side=1, on_ends=1))
        if paginator.num_pages > 1
        else []
    )

    may_record = access.RECORD in perms and is_open
    may_change = access.CHANGE in perms
    emergency_grants = None
    if access.may_review_emergency_access(staff=staff, family=family):
        emergency_grants = list(selectors.emergency_access_list(family=family)[:20])
        for grant in emergency_grants:
            grant.status_text = emergency_grant_status(grant)
            grant.needs_decision = emergency_grant_stage(grant) is not None
    return render(
        request,
        "cases/family.html",
        {
            "family": family,
            "perms": perms,
            "is_open": is_open,
            "members": family.detail_members,
            "team": family.active_team,
            "needs": family.detail_needs,
            "plan": plan,
            "assessments": list(selectors.assessment_list_for_page(family=family)[:10]),
            **sharing,
            "entries": page.object_list,
            "page_obj": page,
            "page_numbers": page_numbers,
            "ellipsis": Paginator.ELLIPSIS,
            "filter_query": query,
            "chronology_filters": filters,
            "agency_filter": agency_id,
            "type_filter": kind,
            "filtered": bool(query),
            "live": not query and page.number == 1,
            "last_visit": visit.seen_at if visit is not None else None,
            "new_count": new_count,
            "may": {
                "record": may_record,
                "change": may_change and is_open,
                "edit": may_change,
                "end_team": may_change,
                "need_status": access.may_change_need_status(perms=perms) and is_open,
                "sharing": access.SHARING in perms and is_open,
                "access_log": access.may_read_access_log(staff=staff, family=family, perms=perms),
                "subject_access": access.may_request_subject_access(
                    staff=staff, family=family, perms=perms
                ),
            },
            "emergency": perms.emergency,
            "emergency_grants": emergency_grants,
            "lifecycle_links": lifecycle_links(staff=staff, family=family, perms=perms),
        },
        using="jinja2",
    )


LIFECYCLE_PAGES = (  # action → (page, button text)
    (lifecycle.Action.REVIEW, "review-new", "Record a review"),
    (lifecycle.Action.CLOSE, "family-close-page", "Close the case"),
    (lifecycle.Action.REOPEN, "family-reopen-page", "Reopen the case"),
    (lifecycle.Action.STEP_UP, "family-step-up-page", "Step up to social care"),
    (lifecycle.Action.STEP_DOWN, "family-step-down-page", "Step down to early help"),
)


def lifecycle_links(*, staff, family, perms) -> list[tuple[str, str]]:
    """The lifecycle pages the person may use on the family now: the action's predicate holds
    and the family's state allows it (cases/lifecycle.py)."""
    if access.CHANGE not in perms:
        return []
    lead_kind = family.lead_agency.kind
    state = lifecycle.state_of(family, lead_kind=lead_kind)
    return [
        (reverse(name, args=[family.id]), text)
        for action, name, text in LIFECYCLE_PAGES
        if state in lifecycle.TRANSITIONS[action][0]
        and lifecycle.LIFECYCLE_PREDICATES[action](staff=staff, family=family, perms=perms)
    ]


# --- the family's field history ------------------------------------------------------------------

HISTORY_PAGE_SIZE = 50
HISTORY_RECORDS = {
    "family": "Household",
    "member": "Member",
    "involvement": "Team",
    "need": "Need",
    "plan_action": "Plan action",
    "sharing_basis": "Sharing",
}
HISTORY_FIELD_LABELS = {  # where a field's own name does not read well
    "name": "Household name",
    "nhs_number": "NHS number",
    "upn": "Unique pupil number",
    "ni_number": "National Insurance number",
    "agrees_to_early_help": "Agrees to early help",
}


def _history_text(field, value, names) -> str:
    """A value of the history in words: names for ids, labels for choices, dates written out."""
    if value is None or value == "" or value == []:
        return "Not set"
    if field.is_relation:
        ids = value if isinstance(value, list) else [value]
        return ", ".join(names.get((field.related_model, i), f"No. {i}") for i in ids)
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime):
        return dateformat.format(timezone.localtime(value), "j F Y, H:i")
    if isinstance(value, date):
        return dateformat.format(value, "j F Y")
    if isinstance(value, list):  # a basis's purposes
        return ", ".join(str(v).replace("_", " ").capitalize() for v in value)
    return str(value)


def _history_rows(family, changes) -> list[dict]:
    models = selectors.history_models()
    names = selectors.family_history_names(family=family, changes=changes)
    rows = []
    for change in changes:
        field = models[change.object_type][0]._meta.get_field(change.field)
        label = HISTORY_FIELD_LABELS.get(change.field) or str(field.verbose_name).capitalize()
        record = HISTORY_RECORDS[change.object_type]
        rows.append(
            {
                "change": change,
                "record": record if change.object_type == "family" else f"{record}: ",
                "record_name": "" if change.object_type == "family" else change.object_name,
                "label": label,
                "old": ""
                if change.change == "created"
                else _history_text(field, change.old, names),
                "new": ""
                if change.change == "deleted"
                else _history_text(field, change.new, names),
            }
        )
    return rows


@require_safe
@family_page
def family_history_page(request, family_id: int):
    """`/families/<id>/history/`: who set or changed which detail of the family's record, from
    what to what, when (`selectors.family_history`, the API's `families/<id>/history/`), 50 a
    page, newest first; for whoever sees the family."""
    family, _ = family_for_page(request, family_id, object_type="history")
    changes = selectors.family_history(user=request.user, family=family)
    page = page_of(request, changes, size=HISTORY_PAGE_SIZE)
    return render(
        request,
        "cases/family_history.html",
        {
            **page,
            "family": family,
            "rows": _history_rows(family, list(page["page_obj"].object_list)),
            "total": len(changes),
        },
    )


# Forms: a GET shows the form, a POST parses it and calls the service; field errors (the
# form's, and the service's ValidationError by field) re-render it with an error summary (400);
# a stale version, a state the service refuses (access.StateConflict) re-render it with the
# message and what was typed (409); access.Forbidden → the 403 page, access.NoAccess → the 404
# page; success → the family page with a success banner.

STALE_MESSAGES = {
    "need": "This need was changed by someone else since you opened this page. Its current"
    " status is shown: check your answer and save again.",
    "action": "This plan action was changed by someone else since you opened this page. Check"
    " your answers against it and save again.",
    "family": "This family's details were changed by someone else since you opened this page."
    " Check your answers against them and save again.",
}


def closed_family_message(family) -> str:
    """What the services answer for work on a closed family (services.family_for_write)."""
    return f"Family {family.reference} is closed: reopen it before recording work."


class FamilyFormPage(View):
    """A form about one family. Subclasses say which permission it needs (as the API view of
    the same action), its form and template, and `save` (the service call)."""

    permission = access.RECORD
    open_only = True  # work is recorded on an open family (services.family_for_write)
    template_name = ""
    title = ""
    submit = "Save"
    success = ""
    anchor = ""
    stale = ""  # key of STALE_MESSAGES
    error_fields: dict[str, str | None] = {}  # the service's field name → the form's
    # What the page reads and writes, for the access log; the URL parameter naming its id.
    audit_object_type = ""
    audit_object_kwarg: str | None = None

    def dispatch(self, request, family_id, **kwargs):
        named = {"family_id": family_id, **kwargs}
        self.family, self.perms = family_for_page(
            request,
            family_id,
            self.permission,
            object_type=self.audit_object_type,
            object_id=named.get(self.audit_object_kwarg) if self.audit_object_kwarg else None,
        )
        self.staff = access.case_staff(request.user)
        self.load(**kwargs)
        return super().dispatch(request, family_id, **kwargs)

    def load(self, **kwargs) -> None:
        """Look up the objects of the URL (404 when not of this family) and check the action's
        predicate (PermissionDenied)."""

    def make_form(self, data=None):
        raise NotImplementedError

    def save(self, data: dict):
        raise NotImplementedError

    def context(self, form) -> dict:
        return {}

    def blocked(self) -> str | None:
        """A conflict that refuses the form before anything is typed (409)."""
        if self.open_only and self.family.status == FamilyStatus.CLOSED:
            return closed_family_message(self.family)
        return None

    def get(self, request, family_id, **kwargs):
        conflict = self.blocked()
        if conflict:
            return self.render(self.make_form(), conflict=conflict, blocked=True, status=409)
        return self.render(self.make_form())

    def post(self, request, family_id, **kwargs):
        form = self.make_form(request.POST)
        if not form.is_valid():
            return self.render(form, status=400)
        try:
            result = self.save(form.cleaned_data)
        except DjangoValidationError as exc:
            self.errors_put(form, exc)
            return self.render(form, status=400)
        except services.StaleVersion:
            self.stale_refresh(form)
            return self.render(form, conflict=STALE_MESSAGES[self.stale], status=409)
        except access.Forbidden as exc:
            access_log.family_access_denied_later(request)
            raise PermissionDenied(str(exc)) from exc
        except access.NoAccess as exc:
            access_log.family_access_denied_later(request)
            raise Http404 from exc
        except access.StateConflict as exc:
            return self.render(form, conflict=str(exc), status=409)
        messages.success(request, self.success_message(result, form.cleaned_data))
        return redirect(self.success_url(result))

    def success_message(self, result, data) -> str:
        return self.success

    def success_url(self, result) -> str:
        return _family_url(self.family, self.anchor)

    def stale_refresh(self, form) -> None:
        """After a stale version: the page shows the record as it is now, and the form carries
        its current version, so saving again is a deliberate overwrite."""

    def errors_put(self, form, exc: DjangoValidationError) -> None:
        if not hasattr(exc, "error_dict"):
            for message in exc.messages:
                form.add_error(None, message)
            return
        for field, errors in exc.message_dict.items():
            name = self.error_fields.get(field, field)
            if name not in form.fields or name in {"version"}:
                name = None
            for message in errors:
                form.add_error(name, message)

    def render(self, form, *, conflict=None, blocked=False, status=200):
        return render(
            self.request,
            self.template_name,
            {
                "family": self.family,
                "form": form,
                "title": self.title,
                "submit": self.submit,
                "conflict": conflict,
                "blocked": blocked,
                "back_url": _family_url(self.family, self.anchor),
                **self.context(form),
            },
            status=status,
        )


def _set_version(form, version: int) -> None:
    form.data = form.data.copy()
    form.data["version"] = str(version)


class ContactNew(FamilyFormPage):
    audit_object_type = "contact"
    template_name = "cases/forms/contact.html"
    title = "Log a contact"
    submit = "Save contact"
    success = "Contact recorded"
    anchor = "chronology"
    error_fields = {"occurred_at": "occurred_on"}

    def make_form(self, data=None):
        return case_forms.ContactForm(data, family=self.family)

    def save(self, data):
        occurred_at = timezone.make_aware(
            datetime.combine(data["occurred_on"], data["occurred_time"])
        )
        return services.contact_create(
            family=self.family,
            by=self.staff,
            occurred_at=occurred_at,
            method=data["method"],
            summary=data["summary"],
            persons=list(data["persons"]),
            visibility=data["visibility"],
        )


class InterventionNew(FamilyFormPage):
    audit_object_type = "intervention"
    template_name = "cases/forms/intervention.html"
    title = "Record an intervention"
    submit = "Save intervention"
    success = "Intervention recorded"
    anchor = "chronology"

    def make_form(self, data=None):
        return case_forms.InterventionForm(data, family=self.family)

    def save(self, data):
        return services.intervention_create(
            family=self.family,
            by=self.staff,
            kind=data["kind"],
            title=data["title"],
            started_on=data["started_on"],
            ended_on=data["ended_on"],
            needs=list(data["needs"]),
            persons=list(data["persons"]),
            outcome=data["outcome"],
            visibility=data["visibility"],
        )


class MemberNew(FamilyFormPage):
    permission = access.CHANGE
    audit_object_type = "member"
    template_name = "cases/forms/member.html"
    title = "Add a household member"
    submit = "Add member"
    anchor = "members"

    def make_form(self, data=None):
        return case_forms.MemberForm(data, family=self.family)

    def save(self, data):
        return services.person_create(family=self.family, by=self.staff, **data)

    def success_message(self, result, data):
        return f"{result.given_name} {result.family_name} added to the household"


class TeamNew(FamilyFormPage):
    """Two steps, without script: choose the agency (a GET form), then its practitioner."""

    permission = access.CHANGE
    audit_object_type = "involvement"
    template_name = "cases/forms/team.html"
    title = "Add to the team"
    submit = "Add to the team"
    anchor = "team"
    error_fields = {"agency": None}

    def load(self, **kwargs):
        self.agency = None
        on_team = {
            i.agency_id
            for i in selectors.team_list(family=self.family).filter(ended_on__isnull=True)
        }
        self.agencies = selectors.agency_choices().exclude(id__in=on_team)
        wanted = (self.request.POST if self.request.method == "POST" else self.request.GET).get(
            "agency", ""
        )
        if wanted.isdigit() and int(wanted) < 2**63:
            self.agency = selectors.agency_choices().filter(id=int(wanted)).first()

    def make_form(self, data=None):
        if self.agency is None:
            return case_forms.TeamAgencyForm(data, agencies=self.agencies)
        return case_forms.TeamMemberForm(
            data,
            initial={"agency": self.agency.id},
            practitioners=selectors.practitioner_choices(agency_id=self.agency.id),
        )

    def get(self, request, family_id, **kwargs):
        if "agency" in request.GET and self.agency is None and not self.blocked():
            form = case_forms.TeamAgencyForm(request.GET, agencies=self.agencies)
            form.is_valid()
            return self.render(form, status=400)
        return super().get(request, family_id, **kwargs)

    def post(self, request, family_id, **kwargs):
        if self.agency is None:
            form = case_forms.TeamAgencyForm(request.POST, agencies=self.agencies)
            form.is_valid()
            form.add_error("agency", "Choose an agency")
            return self.render(form, status=400)
        return super().post(request, family_id, **kwargs)

    def context(self, form):
        return {"agency": self.agency, "step": "agency" if self.agency is None else "details"}

    def save(self, data):
        return services.involvement_create(
            family=self.family,
            by=self.staff,
            agency=self.agency,
            practitioner_id=data["practitioner"],
            role=data["role"],
        )

    def success_message(self, result, data):
        return f"{self.agency.name} added to the team"


class TeamEnd(FamilyFormPage):
    permission = access.CHANGE
    open_only = False
    audit_object_type = "involvement"
    audit_object_kwarg = "involvement_id"
    template_name = "cases/forms/team_end.html"
    title = "Remove from the team"
    submit = "Remove from the team"
    anchor = "team"

    def load(self, involvement_id, **kwargs):
        self.involvement = selectors.team_list(family=self.family).filter(id=involvement_id).first()
        if self.involvement is None:
            raise Http404

    def blocked(self):
        if self.involvement.ended_on is not None:
            return "This involvement has already ended."
        return None

    def make_form(self, data=None):
        return forms_confirm(data)

    def context(self, form):
        return {"involvement": self.involvement}

    def save(self, data):
        return services.involvement_end(involvement=self.involvement, by=self.staff)

    def success_message(self, result, data):
        return f"{self.involvement.agency.name} left the team"


def forms_confirm(data=None):
    """A form with nothing to type: a confirmation (CSRF is the whole of it)."""
    return django_forms.Form(data)


class NeedNew(FamilyFormPage):
    audit_object_type = "need"
    template_name = "cases/forms/need.html"
    title = "Add a need"
    submit = "Add need"
    success = "Need added"
    anchor = "needs"

    def make_form(self, data=None):
        return case_forms.NeedForm(data, family=self.family, outcomes=selectors.outcome_list())

    def save(self, data):
        return services.need_create(family=self.family, by=self.staff, **data)


class NeedStatusChange(FamilyFormPage):
    permission = access.CHANGE  # access.may_change_need_status, as the API's NeedDetail
    audit_object_type = "need"
    audit_object_kwarg = "need_id"
    template_name = "cases/forms/need_status.html"
    title = "Change a need's status"
    submit = "Save status"
    success = "Need status changed"
    anchor = "needs"
    stale = "need"

    def load(self, need_id, **kwargs):
        if not access.may_change_need_status(perms=self.perms):
            raise PermissionDenied(
                "Only the key worker and the lead agency change a need's status."
            )
        self.need_id = need_id
        self.need = self.need_get()

    def need_get(self):
        need = selectors.need_list(family=self.family).filter(id=self.need_id).first()
        if need is None:
            raise Http404
        return need

    def make_form(self, data=None):
        need = self.need
        return case_forms.NeedStatusForm(
            data,
            initial={
                "status": need.status,
                "achieved_on": need.achieved_on,
                "version": need.version,
            },
        )

    def save(self, data):
        achieved = data["status"] == NeedStatus.ACHIEVED
        return services.need_update(
            need_id=self.need.id,
            by=self.staff,
            expected_version=data["version"],
            status=data["status"],
            achieved_on=data["achieved_on"] if achieved else None,
        )

    def stale_refresh(self, form):
        self.need = self.need_get()
        _set_version(form, self.need.version)

    def context(self, form):
        return {"need": self.need}


class AssessmentNew(FamilyFormPage):
    permission = access.CHANGE
    audit_object_type = "assessment"
    template_name = "cases/forms/assessment.html"
    title = "Record a whole-family assessment"
    submit = "Save assessment"
    success = "Assessment recorded"
    anchor = "assessments"

    def make_form(self, data=None):
        return case_forms.AssessmentForm(data)

    def save(self, data):
        return services.assessment_create(family=self.family, by=self.staff, **data)


def _owner_agencies(family, also=None):
    """Who may own a plan action: the lead agency and the agencies on the team (and the
    action's current owner)."""
    ids = {family.lead_agency_id} | {
        i.agency_id for i in selectors.team_list(family=family).filter(ended_on__isnull=True)
    }
    if also is not None:
        ids.add(also)
    return selectors.agency_choices().filter(id__in=ids)


class ActionNew(FamilyFormPage):
    audit_object_type = "plan_action"
    template_name = "cases/forms/action.html"
    title = "Add a plan action"
    submit = "Add action"
    success = "Plan action added"
    anchor = "plan"

    def make_form(self, data=None):
        return case_forms.PlanActionForm(
            data, family=self.family, agencies=_owner_agencies(self.family)
        )

    def save(self, data):
        return services.plan_action_create(
            family=self.family,
            by=self.staff,
            description=data["description"],
            owner_agency=data["owner_agency"],
            due_on=data["due_on"],
            needs=list(data["needs"]),
            status=data["status"],
        )


class ActionEdit(FamilyFormPage):
    audit_object_type = "plan_action"
    audit_object_kwarg = "action_id"
    template_name = "cases/forms/action.html"
    title = "Update a plan action"
    submit = "Save action"
    success = "Plan action updated"
    anchor = "plan"
    stale = "action"

    def load(self, action_id, **kwargs):
        self.action_id = action_id
        self.action = self.action_get()
        if not access.may_update_plan_action(
            staff=self.staff, perms=self.perms, owner_agency_id=self.action.owner_agency_id
        ):
            raise PermissionDenied("Only the owner agency or the lead may change this action.")

    def action_get(self):
        action = (
            selectors.plan_action_list(family=self.family)
            .select_related("owner_agency")
            .filter(id=self.action_id)
            .first()
        )
        if action is None:
            raise Http404
        return action

    def make_form(self, data=None):
        action = self.action
        return case_forms.PlanActionEditForm(
            data,
            family=self.family,
            agencies=_owner_agencies(self.family, also=action.owner_agency_id),
            initial={
                "description": action.description,
                "owner_agency": action.owner_agency_id,
                "due_on": action.due_on,
                "needs": [n.id for n in action.needs.all()],
                "status": action.status,
                "version": action.version,
            },
        )

    def save(self, data):
        changes = {
            "description": data["description"],
            "due_on": data["due_on"],
            "needs": list(data["needs"]),
            "status": data["status"],
        }
        if data["owner_agency"].id != self.action.owner_agency_id:
            changes["owner_agency"] = data["owner_agency"]
        return services.plan_action_update(
            action_id=self.action.id, by=self.staff, expected_version=data["version"], **changes
        )

    def stale_refresh(self, form):
        self.action = self.action_get()
        _set_version(form, self.action.version)

    def context(self, form):
        return {"action": self.action}


class FamilyEdit(FamilyFormPage):
    permission = access.CHANGE
    open_only = False  # a closed family's details may still be corrected
    audit_object_type = "family"
    audit_object_kwarg = "family_id"
    template_name = "cases/forms/family_edit.html"
    title = "Change the family's details"
    submit = "Save changes"
    success = "Family details saved"
    stale = "family"

    def load(self, **kwargs):
        self.key_workers = self.allocatable()

    def allocatable(self):
        """The staff this person may make key worker (`access.may_allocate_key_worker`), the
        current key worker first; None when they may allocate nobody."""
        candidates = selectors.key_worker_candidates(family=self.family)
        allowed = [
            s
            for s in candidates
            if s.user_id != self.family.key_worker_id
            and access.may_allocate_key_worker(
                staff=self.staff, family=self.family, perms=self.perms, new_key_worker=s
            )
        ]
        if not allowed:
            return None
        current = [s for s in candidates if s.user_id == self.family.key_worker_id]
        return current + allowed

    def make_form(self, data=None):
        family = self.family
        return case_forms.FamilyEditForm(
            data,
            key_workers=self.key_workers,
            initial={
                "name": family.name,
                "address": family.address,
                "postcode": family.postcode,
                "level_of_need": family.level_of_need or "",
                "next_review_on": family.next_review_on,
                "key_worker": family.key_worker_id or "",
                "version": family.version,
            },
        )

    def save(self, data):
        changes = {
            k: data[k] for k in ("name", "address", "postcode", "level_of_need", "next_review_on")
        }
        if "key_worker" in data and data["key_worker"] != self.family.key_worker_id:
            changes["key_worker_id"] = data["key_worker"]
        return services.family_update(
            family_id=self.family.id, by=self.staff, expected_version=data["version"], **changes
        )

    def stale_refresh(self, form):
        family, _ = access.family_with_permissions(self.request.user, self.family.id)
        if family is not None:
            self.family = family
            _set_version(form, family.version)


# --- the family's lifecycle (cases/lifecycle.py): close, reopen, step up, step down, review ---


class LifecyclePage(FamilyFormPage):
    """A lifecycle action on the family: the API's view of the same action answers alike (403
    when its predicate refuses the person; the form refused with the conflict when the family's
    state does not allow it, 409)."""

    permission = access.CHANGE
    open_only = False  # the state machine decides (`blocked`)
    audit_object_type = "family"
    audit_object_kwarg = "family_id"
    action = ""

    def load(self, **kwargs):
        if not lifecycle.LIFECYCLE_PREDICATES[self.action](
            staff=self.staff, family=self.family, perms=self.perms
        ):
            access_log.family_access_denied_later(self.request)
            raise PermissionDenied(f"You may not {lifecycle.Action(self.action).label.lower()}.")

    def blocked(self):
        lead_kind = self.family.lead_agency.kind
        state = lifecycle.state_of(self.family, lead_kind=lead_kind)
        try:
            lifecycle.transition_target(state, self.action, lead_kind=lead_kind)
        except access.StateConflict as exc:
            return str(exc)
        return None


class FamilyClose(LifecyclePage):
    action = lifecycle.Action.CLOSE
    template_name = "cases/forms/family_close.html"
    title = "Close the family's case"
    submit = "Close the case"
    success = "Case closed"

    def make_form(self, data=None):
        return case_forms.FamilyCloseForm(data)

    def save(self, data):
        return services.family_close(family_id=self.family.id, by=self.staff, **data)


class FamilyReopen(LifecyclePage):
    action = lifecycle.Action.REOPEN
    template_name = "cases/forms/family_reopen.html"
    title = "Reopen the family's case"
    submit = "Reopen the case"
    success = "Case reopened"

    def make_form(self, data=None):
        return case_forms.FamilyReopenForm(
            data, key_workers=selectors.key_worker_candidates(family=self.family)
        )

    def save(self, data):
        return services.family_reopen(
            family_id=self.family.id,
            by=self.staff,
            reason=data["reason"],
            key_worker_id=data["key_worker"],
        )


class FamilyStepUp(LifecyclePage):
    action = lifecycle.Action.STEP_UP
    template_name = "cases/forms/family_step.html"
    title = "Step up to children's social care"
    submit = "Step up"
    success = "Stepped up to children's social care"
    may_lead = staticmethod(access.is_social_care)
    keep_label = "Early help stays on the team"
    service = staticmethod(services.family_step_up)

    def make_form(self, data=None):
        agencies = selectors.agencies_where(self.may_lead)
        return case_forms.FamilyStepForm(
            data,
            agencies=agencies,
            key_workers=selectors.key_workers_in(agency_ids=[a.id for a in agencies]),
            keep_label=self.keep_label,
        )

    def save(self, data):
        return self.service(
            family_id=self.family.id,
            by=self.staff,
            to_agency=Agency.objects.get(id=data["to_agency"]),
            reason=data["reason"],
            keep_involvement=data["keep_involvement"],
            key_worker_id=data["key_worker"],
        )

    def success_url(self, result) -> str:
        # the person who stepped the family over may no longer see it
        family, perms = access.family_with_permissions(self.request.user, self.family.id)
        return _family_url(self.family) if perms else reverse("home")


class FamilyStepDown(FamilyStepUp):
    action = lifecycle.Action.STEP_DOWN
    title = "Step down to early help"
    submit = "Step down"
    success = "Stepped down to early help"
    may_lead = staticmethod(access.may_lead_after_step_down)
    keep_label = "Children's social care stays on the team"
    service = staticmethod(services.family_step_down)


class ReviewNew(LifecyclePage):
    action = lifecycle.Action.REVIEW
    audit_object_type = "review"
    audit_object_kwarg = None
    template_name = "cases/forms/review.html"
    title = "Record a Team Around the Family review"
    submit = "Save review"
    success = "Review recorded"

    def make_form(self, data=None):
        return case_forms.ReviewForm(data, agencies=selectors.team_agencies(family=self.family))

    def save(self, data):
        return services.review_create(
            family_id=self.family.id,
            by=self.staff,
            held_on=data["held_on"],
            attendees=list(Agency.objects.filter(id__in=data["attendees"])),
            decisions=data["decisions"],
            plan_changes=data["plan_changes"],
            next_review_on=data["next_review_on"],
        )


family_close = family_page(FamilyClose.as_view())
family_reopen = family_page(FamilyReopen.as_view())
family_step_up = family_page(FamilyStepUp.as_view())
family_step_down = family_page(FamilyStepDown.as_view())
review_new = family_page(ReviewNew.as_view())
family_edit = family_page(FamilyEdit.as_view())
contact_new = family_page(ContactNew.as_view())
intervention_new = family_page(InterventionNew.as_view())
member_new = family_page(MemberNew.as_view())
team_new = family_page(TeamNew.as_view())
team_end = family_page(TeamEnd.as_view())
need_new = family_page(NeedNew.as_view())
need_status = family_page(NeedStatusChange.as_view())
assessment_new = family_page(AssessmentNew.as_view())
action_new = family_page(ActionNew.as_view())
action_edit = family_page(ActionEdit.as_view())
