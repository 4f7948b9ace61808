"""The two baselines the bench measures ours against, on the same data and the same server.

Mounted under /bench/ only by bench/settings.py → bench/urls.py; never part of the product.

- **textbook**: the usual DRF answer to object permissions. Generic views, ModelSerializers (the
  project's own, so the JSON is the same), visibility from guardian's `get_objects_for_user`
  over guardian's DEFAULT generic tables (`guardian_userobjectpermission` /
  `guardian_groupobjectpermission`, text `object_pk`; bench/generate.py writes the same grants
  there), the write check by `user.has_perm(perm, family)`, `PageNumberPagination` with its
  COUNT. Writes go through the same service (cases.services.contact_create) as ours, so the
  domain work (chronology, alerts, push) is the same; so is the audit row.
- **floor**: plain Django function views returning the same JSON from hand-written SQL: one
  query for the token, one for the page (a join that starts from the agency's grants), the
  minimum for a write. What the database and a bare Django request cost, with nothing else.

Routes (each `families/`, `families/<id>/`, `families/<id>/chronology/`, POST
`families/<id>/contacts/`): /bench/textbook/… and /bench/floor/….
"""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.views.decorators.csrf import csrf_exempt
from guardian.shortcuts import get_objects_for_user
from rest_framework import generics, serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from agencies.models import StaffMember
from agencies.roles import CASE_ROLES
from alerts import push
from cases import access
from cases import serializers as ours
from cases import services as case_services
from cases.grants import FamilyGroupObjectPermission, FamilyUserObjectPermission
from cases.models import (
    ChronologyEntry,
    Contact,
    ContactMethod,
    Family,
    Involvement,
    Need,
    Visibility,
)

PAGE = 50

# --- guardian on its default generic tables ------------------------------------------------------


@contextlib.contextmanager
def guardian_generic_tables():
    """Make guardian resolve Family's object permissions to its default generic tables.

    guardian picks a direct-FK model when one exists unless it says `enabled = False` (its
    documented switch). Our code never asks guardian to resolve a model (cases/access.py queries
    the direct-FK tables itself), so flipping the switch for the duration of a textbook call
    changes only the textbook. Django runs sync views of one process in one thread.
    """
    models = (FamilyUserObjectPermission, FamilyGroupObjectPermission)
    saved = [m.__dict__.get("enabled") for m in models]
    for model in models:
        model.enabled = False
    try:
        yield
    finally:
        for model, value in zip(models, saved, strict=True):
            if value is None:
                del model.enabled
            else:
                model.enabled = value


def textbook_visible(user):
    """guardian's `get_objects_for_user` over the generic tables (the textbook's visibility)."""
    with guardian_generic_tables():
        return get_objects_for_user(user, "cases.view_family", klass=Family)


def textbook_has_perm(user, codename: str, family) -> bool:
    with guardian_generic_tables():
        return user.has_perm(f"cases.{codename}", family)


# --- the floor's SQL (also used by bench/visibility.py) ------------------------------------------

GRANTS_SQL = """
    SELECT content_object_id AS family_id FROM cases_familygroupobjectpermission
     WHERE group_id = %s AND permission_id = %s
    UNION
    SELECT content_object_id FROM cases_familyuserobjectpermission
     WHERE user_id = %s AND permission_id = %s
"""
LIST_SQL = f"""
SELECT f.id, f.reference, f.name, f.postcode, f.status, f.level_of_need, f.key_worker_id,
       kw.first_name, kw.last_name, kw.username, f.lead_agency_id, la.name, f.opened_on,
       f.next_review_on, f.version
  FROM ({GRANTS_SQL}) v
  JOIN cases_family f ON f.id = v.family_id
  JOIN agencies_agency la ON la.id = f.lead_agency_id
  LEFT JOIN auth_user kw ON kw.id = f.key_worker_id
 WHERE f.reference > %s
 ORDER BY f.reference
 LIMIT %s
"""
VISIBLE_FAMILY_SQL = """
SELECT f.id, f.reference, f.name, f.postcode, f.status, f.level_of_need, f.key_worker_id,
       kw.first_name, kw.last_name, kw.username, f.lead_agency_id, la.name, f.opened_on,
       f.next_review_on, f.version, f.address, f.closed_on
  FROM cases_family f
  JOIN agencies_agency la ON la.id = f.lead_agency_id
  LEFT JOIN auth_user kw ON kw.id = f.key_worker_id
 WHERE f.id = %s
   AND (EXISTS (SELECT 1 FROM cases_familygroupobjectpermission g
                 WHERE g.content_object_id = f.id AND g.group_id = %s AND g.permission_id = %s)
        OR EXISTS (SELECT 1 FROM cases_familyuserobjectpermission u
                    WHERE u.content_object_id = f.id AND u.user_id = %s AND u.permission_id = %s))
"""


def floor_page_sql() -> str:
    """First page of visible families, ordered by reference (params: GRANTS + limit)."""
    return f"""
SELECT f.* FROM ({GRANTS_SQL}) v JOIN cases_family f ON f.id = v.family_id
 ORDER BY f.reference LIMIT %s"""


def floor_count_sql() -> str:
    return f"SELECT count(*) FROM ({GRANTS_SQL}) v JOIN cases_family f ON f.id = v.family_id"


_perm_ids: dict[str, int] = {}


def perm_id(codename: str) -> int:
    if not _perm_ids:
        with connection.cursor() as cur:
            cur.execute(
                "SELECT p.codename, p.id FROM auth_permission p"
                " JOIN django_content_type c ON c.id = p.content_type_id"
                " WHERE c.app_label = 'cases' AND c.model = 'family'"
            )
            _perm_ids.update(cur.fetchall())
    return _perm_ids[codename]


# --- JSON helpers: what DRF would render ---------------------------------------------------------

_TZ = ZoneInfo(settings.TIME_ZONE)


def _dt(value):
    if value is None:
        return None
    if isinstance(value, str):
        value = parse_datetime(value)
    if timezone.is_naive(value):  # SQLite returns UTC without an offset
        value = value.replace(tzinfo=UTC)
    out = value.astimezone(_TZ).isoformat()
    return out[:-6] + "Z" if out.endswith("+00:00") else out


def _d(value):
    if value is None:
        return None
    return value if isinstance(value, str) else value.isoformat()


def _name(first, last, username):
    full = f"{first} {last}".strip()
    return full or username


def _json(data, status: int = 200, **headers) -> HttpResponse:
    response = HttpResponse(json.dumps(data), content_type="application/json", status=status)
    for key, value in headers.items():
        response[key] = value
    return response


def _error(status: int, detail: str) -> HttpResponse:
    return _json({"detail": detail}, status=status)


# --- floor views ---------------------------------------------------------------------------------


class _Caller:
    __slots__ = ("user_id", "agency_id", "group_id", "role", "agency_name")

    def __init__(self, row):
        self.user_id, self.agency_id, self.group_id, self.role, self.agency_name = row


def _floor_caller(request) -> _Caller | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Token "):
        return None
    from django.utils import timezone
    from knox.crypto import hash_token

    roles = tuple(CASE_ROLES)
    now = timezone.now()
    with connection.cursor() as cur:
        cur.execute(
            "SELECT u.id, s.agency_id, a.group_id, s.role, a.name FROM agencies_apitoken t"
            " JOIN auth_user u ON u.id = t.user_id"
            " JOIN agencies_staffmember s ON s.user_id = u.id"
            " JOIN agencies_agency a ON a.id = s.agency_id"
            " WHERE t.digest = %s AND t.expiry > %s AND u.is_active"
            f" AND s.role IN ({', '.join(['%s'] * len(roles))})",
            [hash_token(header[6:].strip()), connection.ops.adapt_datetimefield_value(now), *roles],
        )
        row = cur.fetchone()
    return _Caller(row) if row else None


def _family_row_json(row) -> dict:
    return {
        "id": row[0],
        "reference": row[1],
        "name": row[2],
        "postcode": row[3],
        "status": row[4],
        "level_of_need": row[5],
        "key_worker": row[6],
        "key_worker_name": _name(row[7], row[8], row[9]) if row[6] else None,
        "lead_agency": row[10],
        "lead_agency_name": row[11],
        "opened_on": _d(row[12]),
        "next_review_on": _d(row[13]),
        "version": row[14],
    }


def _audit(caller: _Caller, family_id: int, request, status: int) -> None:
    if not apps.is_installed("audit"):
        return
    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO audit_accessevent (at, user_id, agency_id, family_id, action,"
            " object_type, footing, outcome, method, path, status_code, emergency, request_id)"
            " VALUES (%s, %s, %s, %s, %s, '', '', 'allowed', %s, %s, %s, %s, %s)",
            [
                timezone.now(),
                caller.user_id,
                caller.agency_id,
                family_id,
                "read" if request.method in {"GET", "HEAD", "OPTIONS"} else "write",
                request.method,
                request.path[:300],
                status,
                False,
                getattr(request, "request_id", ""),
            ],
        )


def floor_family_list(request):
    caller = _floor_caller(request)
    if caller is None:
        return _error(401, "Authentication credentials were not provided.")
    view = perm_id(access.VIEW)
    after = request.GET.get("after", "")[:20]
    with connection.cursor() as cur:
        cur.execute(LIST_SQL, [caller.group_id, view, caller.user_id, view, after, PAGE + 1])
        rows = cur.fetchall()
    results = [_family_row_json(r) for r in rows[:PAGE]]
    more = len(rows) > PAGE
    base = request.build_absolute_uri(request.path)
    return _json(
        {
            "next": f"{base}?after={results[-1]['reference']}" if more else None,
            "previous": None,
            "results": results,
        }
    )


def _floor_visible_family(cur, caller: _Caller, family_id: int):
    view = perm_id(access.VIEW)
    cur.execute(VISIBLE_FAMILY_SQL, [family_id, caller.group_id, view, caller.user_id, view])
    return cur.fetchone()


def _sharing_summary(rows) -> dict:
    """consent.selectors.sharing_summary over (id, withdrawn_at, expires_on, recorded_at) rows."""
    today = timezone.localdate()
    bases = [(i, w, parse_date(e) if isinstance(e, str) else e, r) for i, w, e, r in rows]
    current = [b for b in bases if b[1] is None and (b[2] is None or b[2] >= today)]
    if current:
        dated = [b[2] for b in current if b[2] is not None]
        return {
            "status": "active",
            "expires_on": None if len(dated) < len(current) else _d(max(dated)),
        }
    if not bases:
        return {"status": "none", "expires_on": None}
    latest = max(bases, key=lambda b: (str(b[3]), b[0]))
    return {
        "status": "withdrawn" if latest[1] is not None else "expired",
        "expires_on": _d(latest[2]),
    }


_PERSON_FIELDS = list(ours.PersonSerializer.Meta.fields)


def _person_value(name: str, value):
    if value is None:
        return None
    if name == "date_of_birth":
        return _d(value)
    if isinstance(value, int) and name in _PERSON_BOOLEANS:  # SQLite stores booleans as 0/1
        return bool(value)
    return value


def _person_booleans() -> set[str]:
    from django.db.models import BooleanField

    from cases.models import Person

    return {f.attname for f in Person._meta.concrete_fields if isinstance(f, BooleanField)}


_PERSON_BOOLEANS = _person_booleans()


def floor_family_detail(request, family_id: int):
    caller = _floor_caller(request)
    if caller is None:
        return _error(401, "Authentication credentials were not provided.")
    with connection.cursor() as cur:
        row = _floor_visible_family(cur, caller, family_id)
        if row is None:
            return _error(404, "Not found.")
        data = _family_row_json(row)
        data.update(address=row[15], closed_on=_d(row[16]))
        cur.execute(
            f"SELECT {', '.join(_PERSON_FIELDS)} FROM cases_person"
            " WHERE family_id = %s ORDER BY id",
            [family_id],
        )
        data["members"] = [
            {k: _person_value(k, v) for k, v in zip(_PERSON_FIELDS, r, strict=True)}
            for r in cur.fetchall()
        ]
        cur.execute(
            "SELECT i.id, i.agency_id, a.name, i.practitioner_id, p.first_name, p.last_name,"
            " p.username, i.role, i.started_on, i.ended_on FROM cases_involvement i"
            " JOIN agencies_agency a ON a.id = i.agency_id"
            " LEFT JOIN auth_user p ON p.id = i.practitioner_id"
            " WHERE i.family_id = %s AND i.ended_on IS NULL ORDER BY i.id",
            [family_id],
        )
        data["team"] = [
            {
                "id": r[0],
                "agency": r[1],
                "agency_name": r[2],
                "practitioner": r[3],
                "practitioner_name": _name(r[4], r[5], r[6]) if r[3] else None,
                "role": r[7],
                "started_on": _d(r[8]),
                "ended_on": _d(r[9]),
            }
            for r in cur.fetchall()
        ]
        cur.execute(
            "SELECT n.id, o.code, o.label, n.person_id, n.descriptor, n.evidence, n.status,"
            " n.identified_on, n.achieved_on, n.agency_id FROM cases_need n"
            " JOIN cases_headlineoutcome o ON o.id = n.outcome_id"
            " WHERE n.family_id = %s ORDER BY n.id",
            [family_id],
        )
        keys = ("id", "outcome", "outcome_label", "person", "descriptor", "evidence", "status")
        data["needs"] = [
            {
                **dict(zip(keys, r[:7], strict=True)),
                "identified_on": _d(r[7]),
                "achieved_on": _d(r[8]),
                "agency": r[9],
            }
            for r in cur.fetchall()
        ]
        if apps.is_installed("consent"):
            cur.execute(
                "SELECT id, withdrawn_at, expires_on, recorded_at FROM consent_sharingbasis"
                " WHERE family_id = %s",
                [family_id],
            )
            data["sharing"] = _sharing_summary(cur.fetchall())
        else:
            data["sharing"] = {"status": "involvement", "expires_on": None}
    _audit(caller, family_id, request, 200)
    return _json(data, ETag=f'"{data["version"]}"')


def floor_chronology(request, family_id: int):
    caller = _floor_caller(request)
    if caller is None:
        return _error(401, "Authentication credentials were not provided.")
    with connection.cursor() as cur:
        row = _floor_visible_family(cur, caller, family_id)
        if row is None:
            return _error(404, "Not found.")
        key_worker_id, lead_agency_id = row[6], row[10]
        sees_all = key_worker_id == caller.user_id or (
            caller.agency_id == lead_agency_id and caller.role == "manager"
        )
        where = "" if sees_all else " AND (c.visibility = 'team' OR c.agency_id = %s)"
        params = [family_id] if sees_all else [family_id, caller.agency_id]
        cur.execute(
            "SELECT c.id, c.at, c.type, c.agency_id, a.name, c.summary, c.object_id"
            " FROM cases_chronologyentry c LEFT JOIN agencies_agency a ON a.id = c.agency_id"
            f" WHERE c.family_id = %s{where} ORDER BY c.at DESC, c.id DESC LIMIT %s",
            [*params, PAGE + 1],
        )
        rows = cur.fetchall()
    results = [
        {
            "id": r[0],
            "at": _dt(r[1]),
            "type": r[2],
            "agency": r[3],
            "agency_name": r[4],
            "summary": r[5],
            "object_id": r[6],
        }
        for r in rows[:PAGE]
    ]
    base = request.build_absolute_uri(request.path)
    _audit(caller, family_id, request, 200)
    return _json(
        {
            "next": f"{base}?before={results[-1]['id']}" if len(rows) > PAGE else None,
            "previous": None,
            "results": results,
        }
    )


_METHODS = dict(ContactMethod.choices)
_VISIBILITIES = set(Visibility.values)


def _contact_input(body: bytes) -> tuple[dict | None, dict | None]:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return None, {"detail": ["Invalid JSON."]}
    if not isinstance(data, dict):
        return None, {"detail": ["Expected an object."]}
    errors: dict[str, list[str]] = {}
    occurred = (
        parse_datetime(data["occurred_at"]) if isinstance(data.get("occurred_at"), str) else None
    )
    if occurred is None or timezone.is_naive(occurred):
        errors["occurred_at"] = ["Give the time with its offset."]
    elif occurred > timezone.now() + timedelta(minutes=5):
        errors["occurred_at"] = ["A contact cannot be in the future."]
    if data.get("method") not in _METHODS:
        errors["method"] = ["Not a valid choice."]
    summary = data.get("summary")
    if not isinstance(summary, str) or not summary.strip() or len(summary) > 10000:
        errors["summary"] = ["Give a summary of up to 10,000 characters."]
    visibility = data.get("visibility", "team")
    if visibility not in _VISIBILITIES:
        errors["visibility"] = ["Not a valid choice."]
    persons = data.get("persons") or []
    if not isinstance(persons, list) or not all(isinstance(p, int) for p in persons):
        errors["persons"] = ["A list of member ids."]
    intervention = data.get("intervention")
    if intervention is not None and not isinstance(intervention, int):
        errors["intervention"] = ["An intervention id."]
    if errors:
        return None, errors
    return {
        "occurred_at": occurred,
        "method": data["method"],
        "summary": summary.strip(),
        "visibility": visibility,
        "persons": sorted(set(persons)),
        "intervention": intervention,
    }, None


@csrf_exempt
def floor_contact_create(request, family_id: int):
    if request.method != "POST":
        return _error(405, f'Method "{request.method}" not allowed.')
    caller = _floor_caller(request)
    if caller is None:
        return _error(401, "Authentication credentials were not provided.")
    data, errors = _contact_input(request.body)
    view, record = perm_id(access.VIEW), perm_id(access.RECORD)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "SELECT permission_id FROM cases_familygroupobjectpermission"
            " WHERE content_object_id = %s AND group_id = %s"
            " UNION SELECT permission_id FROM cases_familyuserobjectpermission"
            " WHERE content_object_id = %s AND user_id = %s",
            [family_id, caller.group_id, family_id, caller.user_id],
        )
        perms = {r[0] for r in cur.fetchall()}
        if view not in perms:
            return _error(404, "Not found.")
        if record not in perms:
            return _error(403, "You can see this family but may not do that.")
        if errors:
            return _json(errors, status=400)
        cur.execute(
            "SELECT reference, key_worker_id, lead_agency_id FROM cases_family WHERE id = %s"
            + lock,
            [family_id],
        )
        reference, key_worker_id, lead_agency_id = cur.fetchone()
        if data["persons"]:
            marks = ", ".join(["%s"] * len(data["persons"]))
            cur.execute(
                f"SELECT count(*) FROM cases_person WHERE family_id = %s AND id IN ({marks})",
                [family_id, *data["persons"]],
            )
            if cur.fetchone()[0] != len(data["persons"]):
                return _json({"persons": ["Not a member of this family."]}, status=400)
        if data["intervention"] is not None:
            cur.execute(
                "SELECT 1 FROM cases_intervention WHERE id = %s AND family_id = %s"
                " AND (visibility = 'team' OR agency_id = %s OR %s)",
                [
                    data["intervention"],
                    family_id,
                    caller.agency_id,
                    key_worker_id == caller.user_id,
                ],
            )
            if cur.fetchone() is None:
                return _json({"intervention": ["Not found."]}, status=400)
        now = timezone.now()
        cur.execute(
            "INSERT INTO cases_contact (family_id, agency_id, recorded_by_id, occurred_at, method,"
            " summary, intervention_id, visibility, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            [
                family_id,
                caller.agency_id,
                caller.user_id,
                data["occurred_at"],
                data["method"],
                data["summary"],
                data["intervention"],
                data["visibility"],
                now,
            ],
        )
        contact_id = cur.fetchone()[0]
        if data["persons"]:
            cur.executemany(
                "INSERT INTO cases_contact_persons (contact_id, person_id) VALUES (%s, %s)",
                [(contact_id, p) for p in data["persons"]],
            )
        method = _METHODS[data["method"]].lower()
        text = (
            f"{caller.agency_name} ({method}): {data['summary']}"
            if data["visibility"] == "team"
            else f"{caller.agency_name} recorded a restricted contact"
        )
        cur.execute(
            "INSERT INTO cases_chronologyentry (family_id, at, type, agency_id, summary, object_id,"
            " visibility) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [
                family_id,
                data["occurred_at"],
                "contact.recorded",
                caller.agency_id,
                text[:300],
                contact_id,
                data["visibility"],
            ],
        )
        # Recipients: the key worker and the team's named practitioners who may see it.
        roles = tuple(CASE_ROLES)
        cur.execute(
            "SELECT s.user_id FROM agencies_staffmember s"
            " JOIN agencies_agency a ON a.id = s.agency_id"
            " JOIN auth_user u ON u.id = s.user_id"
            " WHERE s.user_id IN (SELECT practitioner_id FROM cases_involvement"
            "   WHERE family_id = %s AND ended_on IS NULL AND practitioner_id IS NOT NULL"
            "   UNION SELECT key_worker_id FROM cases_family WHERE id = %s)"
            " AND s.user_id <> %s AND u.is_active"
            f" AND s.role IN ({', '.join(['%s'] * len(roles))})"
            " AND (EXISTS (SELECT 1 FROM cases_familygroupobjectpermission g"
            "   WHERE g.content_object_id = %s AND g.group_id = a.group_id"
            "   AND g.permission_id = %s)"
            "  OR EXISTS (SELECT 1 FROM cases_familyuserobjectpermission p"
            "   WHERE p.content_object_id = %s AND p.user_id = s.user_id AND p.permission_id = %s))"
            " AND (%s OR s.agency_id = %s OR s.user_id = %s"
            "  OR (s.agency_id = %s AND s.role = 'manager'))",
            [
                family_id,
                family_id,
                caller.user_id,
                *roles,
                family_id,
                view,
                family_id,
                view,
                data["visibility"] == "team",
                caller.agency_id,
                key_worker_id or 0,
                lead_agency_id,
            ],
        )
        recipients = sorted(r[0] for r in cur.fetchall())
        ids_by_user: dict[int, list[int]] = {}
        if recipients:
            marks = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(recipients))
            values = []
            for user_id in recipients:
                values += [
                    user_id,
                    family_id,
                    caller.agency_id,
                    "contact.recorded",
                    f"{reference}: {text}"[:300],
                    "contact",
                    contact_id,
                    now,
                ]
            cur.execute(
                "INSERT INTO alerts_alert (recipient_id, family_id, agency_id, kind, summary,"
                f" source_type, source_id, created_at) VALUES {marks} RETURNING id, recipient_id",
                values,
            )
            for alert_id, user_id in cur.fetchall():
                ids_by_user.setdefault(user_id, []).append(alert_id)
        _audit(caller, family_id, request, 201)
        if ids_by_user:
            transaction.on_commit(lambda: push.alerts_push(ids_by_user), robust=True)
    return _json(
        {
            "id": contact_id,
            "agency": caller.agency_id,
            "agency_name": caller.agency_name,
            "recorded_by": caller.user_id,
            "occurred_at": _dt(data["occurred_at"]),
            "method": data["method"],
            "summary": data["summary"],
            "persons": data["persons"],
            "intervention": data["intervention"],
            "visibility": data["visibility"],
            "created_at": _dt(now),
        },
        status=201,
    )


# --- textbook views ------------------------------------------------------------------------------


class TextbookPage(PageNumberPagination):
    page_size = PAGE
    page_size_query_param = "page_size"
    max_page_size = 200


def _textbook_audit(request, family_id: int, status: int) -> None:
    if not apps.is_installed("audit"):
        return
    from audit.models import AccessEvent

    staff = StaffMember.objects.filter(user=request.user).only("agency_id").first()
    AccessEvent.objects.create(
        user=request.user,
        agency_id=staff.agency_id if staff else None,
        family_id=family_id,
        action="read" if request.method in {"GET", "HEAD", "OPTIONS"} else "write",
        method=request.method,
        path=request.path[:300],
        status_code=status,
        request_id=getattr(request, "request_id", ""),
    )


class TextbookFamilyList(generics.ListAPIView):
    serializer_class = ours.FamilyListSerializer
    pagination_class = TextbookPage

    def get_queryset(self):
        return (
            textbook_visible(self.request.user)
            .select_related("key_worker", "lead_agency")
            .order_by("reference")
        )


class TextbookFamilyDetail(generics.RetrieveAPIView):
    serializer_class = ours.FamilyDetailSerializer
    lookup_url_kwarg = "family_id"

    def get_queryset(self):
        # The ORM's prefetches, into the attributes the serializer reads
        # (ours loads the same with raw SQL: cases.selectors.family_detail_prefetch).
        prefetch = [
            Prefetch("members", to_attr="detail_members"),
            Prefetch(
                "involvements",
                queryset=Involvement.objects.filter(ended_on__isnull=True).select_related(
                    "agency", "practitioner"
                ),
                to_attr="active_team",
            ),
            Prefetch(
                "needs", queryset=Need.objects.select_related("outcome"), to_attr="detail_needs"
            ),
        ]
        if apps.is_installed("consent"):
            prefetch.append(Prefetch("sharing_bases", to_attr="detail_sharing_bases"))
        return (
            textbook_visible(self.request.user)
            .select_related("key_worker", "lead_agency")
            .prefetch_related(*prefetch)
        )

    def retrieve(self, request, *args, **kwargs):
        family = self.get_object()
        response = Response(self.get_serializer(family).data)
        response["ETag"] = f'"{family.version}"'
        _textbook_audit(request, family.id, 200)
        return response


class TextbookChronology(generics.ListAPIView):
    serializer_class = ours.ChronologySerializer
    pagination_class = TextbookPage

    def get_queryset(self):
        user = self.request.user
        self.family = get_object_or_404(textbook_visible(user), pk=self.kwargs["family_id"])
        return (
            ChronologyEntry.objects.filter(family=self.family)
            .filter(access.restricted_q(user, self.family))
            .annotate(agency_name=F("agency__name"))  # what the shared serializer reads
            .order_by("-at", "-id")
        )

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        _textbook_audit(request, self.family.id, response.status_code)
        return response


class TextbookContactSerializer(serializers.ModelSerializer):
    agency_name = serializers.CharField(source="agency.name", read_only=True)

    class Meta:
        model = Contact
        fields = list(ours.ContactSerializer.Meta.fields)
        read_only_fields = ["id", "agency", "recorded_by", "created_at"]


class TextbookContactCreate(generics.CreateAPIView):
    serializer_class = TextbookContactSerializer

    def perform_create(self, serializer):
        user = self.request.user
        family = get_object_or_404(textbook_visible(user), pk=self.kwargs["family_id"])
        if not textbook_has_perm(user, access.RECORD, family):
            raise PermissionDenied("You can see this family but may not do that.")
        staff = StaffMember.objects.select_related("agency", "user").get(user=user)
        serializer.instance = case_services.contact_create(
            family=family, by=staff, **serializer.validated_data
        )
        _textbook_audit(self.request, family.id, 201)


urlpatterns = [
    path("textbook/families/", TextbookFamilyList.as_view()),
    path("textbook/families/<int:family_id>/", TextbookFamilyDetail.as_view()),
    path("textbook/families/<int:family_id>/chronology/", TextbookChronology.as_view()),
    path("textbook/families/<int:family_id>/contacts/", TextbookContactCreate.as_view()),
    path("floor/families/", floor_family_list),
    path("floor/families/<int:family_id>/", floor_family_detail),
    path("floor/families/<int:family_id>/chronology/", floor_chronology),
    path("floor/families/<int:family_id>/contacts/", floor_contact_create),
]
