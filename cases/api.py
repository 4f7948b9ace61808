"""Thin API views for the family record: check access, parse, call a service, render."""

from __future__ import annotations

import re

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response

from cases import access, access_log, lifecycle, selectors, serializers, services
from cases.models import PlanAction
from core.exceptions import Conflict, PreconditionFailed, PreconditionRequired
from core.pagination import ChronologyPage, CursorPage, ReferenceDataPage, ReferencePage

IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description="The ETag from your last GET of this record.",
)


IF_MATCH_OPTIONAL = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description="Optional: the ETag from your last GET of the family (412 when stale).",
)


def etag_for(version: int) -> str:
    return f'"{version}"'


def if_match_version(request) -> int:
    header = request.headers.get("If-Match")
    if not header:
        raise PreconditionRequired()
    match = re.fullmatch(r'\s*(?:W/)?"?(\d{1,9})"?\s*', header)
    if not match:
        raise PreconditionFailed()
    return int(match.group(1))


def page(ordering):
    return type("Page", (CursorPage,), {"ordering": ordering})


class FamilyScopedView(generics.GenericAPIView):
    """Resolves the family from the URL through the access rule before anything else.

    Not visible → 404; visible but without the permission the method needs → 403. The answer,
    allowed or denied, is an access event of the request (cases/access_log.py): what it read or
    wrote is `audit_object_type`, and `audit_object_kwarg` names the URL parameter holding that
    object's id (none: the address names no object of that type).
    """

    read_permission = access.VIEW
    write_permission = access.RECORD
    input_serializer_class = None
    audit_object_type = ""
    audit_object_kwarg: str | None = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.staff = access.case_staff(request.user)
        family, perms = self.load_family(kwargs["family_id"])
        needed = self.read_permission if request.method in SAFE_METHODS else self.write_permission
        access_log.family_access_log(
            request,
            family_id=kwargs["family_id"],
            perms=perms,
            permission=needed,
            object_type=self.audit_object_type,
            object_id=kwargs.get(self.audit_object_kwarg) if self.audit_object_kwarg else None,
        )
        if not perms:  # no such family, or not visible: the same 404
            raise Http404
        self.family, self.perms = family, perms
        if needed not in self.perms:
            raise PermissionDenied("You can see this family but may not do that.")

    def load_family(self, family_id):
        """(family, what the user may do on it): the access rule decides, for reads and writes
        alike (services re-check under the family's row lock)."""
        return access.family_with_permissions(self.request.user, family_id)

    def handle_exception(self, exc):
        if isinstance(exc, access.NoAccess | access.Forbidden):
            # A service, re-checking under the family's lock, refused what was allowed here.
            access_log.family_access_denied_later(self.request)
        return super().handle_exception(exc)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["family"] = getattr(self, "family", None)
        return context

    def parse(self, serializer_class=None, partial=False):
        data = (serializer_class or self.input_serializer_class)(
            data=self.request.data, context=self.get_serializer_context(), partial=partial
        )
        data.is_valid(raise_exception=True)
        return data.validated_data

    def created(self, obj):
        return Response(self.get_serializer(obj).data, status=status.HTTP_201_CREATED)


class FamilyScopedListCreate(FamilyScopedView, generics.ListAPIView):
    def post(self, request, family_id: int):
        return self.created(self.create_object(self.parse()))

    def create_object(self, data):
        raise NotImplementedError


# --- families ----------------------------------------------------------------------------------


class FamilyListCreate(generics.ListAPIView):
    serializer_class = serializers.FamilyListSerializer
    pagination_class = ReferencePage

    @extend_schema(parameters=[serializers.FamilyFilterSerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        access_log.families_shown_log(self.request, page or [])  # one event per family shown
        return page

    def get_queryset(self):
        data = serializers.FamilyFilterSerializer(data=self.request.query_params)
        data.is_valid(raise_exception=True)
        filters = data.validated_data
        return selectors.family_list(
            user=self.request.user,
            status=filters.get("status"),
            key_worker_me=filters.get("key_worker") == "me",
            q=filters.get("q"),
        )

    @extend_schema(
        request=serializers.FamilyCreateSerializer,
        responses={201: serializers.FamilyDetailSerializer},
    )
    def post(self, request):
        staff = access.case_staff(request.user)
        if not access.may_open_family(staff):
            raise PermissionDenied("Only key workers and managers of an early help agency.")
        data = serializers.FamilyCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        family = services.family_create(by=staff, key_worker_id=values.pop("key_worker"), **values)
        detail = selectors.family_detail(user=request.user, family_id=family.id)
        access_log.family_opened_log(request, detail)
        response = Response(serializers.FamilyDetailSerializer(detail).data, status=201)
        response["ETag"] = etag_for(detail.version)
        return response


class FamilyDetail(FamilyScopedView):
    serializer_class = serializers.FamilyDetailSerializer
    audit_object_type = "family"
    audit_object_kwarg = "family_id"
    write_permission = access.CHANGE

    def respond(self, family):
        response = Response(self.get_serializer(family).data)
        response["ETag"] = etag_for(family.version)
        return response

    def get(self, request, family_id: int):
        return self.respond(selectors.family_detail_prefetch(self.family))

    @extend_schema(
        request=serializers.FamilyUpdateSerializer,
        parameters=[IF_MATCH],
        responses={200: serializers.FamilyDetailSerializer},
    )
    def patch(self, request, family_id: int):
        changes = self.parse(serializers.FamilyUpdateSerializer)
        version = if_match_version(request)  # after the body: a bad body is a 400 (RFC 9110 13.2.1)
        if "key_worker" in changes:
            changes["key_worker_id"] = changes.pop("key_worker")
        try:
            services.family_update(
                family_id=self.family.id, by=self.staff, expected_version=version, **changes
            )
        except services.StaleVersion as exc:
            raise PreconditionFailed() from exc
        return self.respond(selectors.family_detail(user=request.user, family_id=family_id))


class MemberListCreate(FamilyScopedListCreate):
    serializer_class = serializers.PersonSerializer
    audit_object_type = "member"
    input_serializer_class = serializers.PersonCreateSerializer
    pagination_class = page("id")
    write_permission = access.CHANGE

    def get_queryset(self):
        return selectors.member_list(family=self.family)

    @extend_schema(
        request=serializers.PersonCreateSerializer, responses={201: serializers.PersonSerializer}
    )
    def post(self, request, family_id: int):
        return super().post(request, family_id)

    def create_object(self, data):
        return services.person_create(family=self.family, by=self.staff, **data)


class MemberDetail(FamilyScopedView):
    """PATCH a member's details: `access.CHANGE`, as adding one (the key worker, lead-agency key
    workers and managers). A member of another family, through this family's address: 404."""

    serializer_class = serializers.PersonSerializer
    audit_object_type = "member"
    audit_object_kwarg = "member_id"
    write_permission = access.CHANGE

    @extend_schema(
        request=serializers.PersonUpdateSerializer,
        responses={200: serializers.PersonSerializer},
        description=(
            "Change any of the fields a member is added with; a field not sent is left as it is."
            " A field that is not one of them is refused (400 naming it). No If-Match: a member"
            " has no version. A closed family is reopened first (409)."
        ),
    )
    def patch(self, request, family_id: int, member_id: int):
        person = selectors.member_detail(family=self.family, member_id=member_id)
        if person is None:
            raise Http404
        changes = self.parse(serializers.PersonUpdateSerializer, partial=True)
        person = services.person_update(
            family_id=self.family.id, person_id=person.id, by=self.staff, **changes
        )
        return Response(self.get_serializer(person).data)


class TeamListCreate(FamilyScopedListCreate):
    serializer_class = serializers.InvolvementSerializer
    audit_object_type = "involvement"
    input_serializer_class = serializers.InvolvementCreateSerializer
    pagination_class = page("id")
    write_permission = access.CHANGE

    def get_queryset(self):
        return selectors.team_list(family=self.family)

    @extend_schema(
        request=serializers.InvolvementCreateSerializer,
        responses={201: serializers.InvolvementSerializer},
    )
    def post(self, request, family_id: int):
        return super().post(request, family_id)

    def create_object(self, data):
        return services.involvement_create(
            family=self.family,
            by=self.staff,
            agency=data["agency"],
            practitioner_id=data["practitioner"],
            role=data["role"],
        )


class TeamEnd(FamilyScopedView):
    serializer_class = serializers.InvolvementSerializer
    audit_object_type = "involvement"
    audit_object_kwarg = "involvement_id"
    write_permission = access.CHANGE

    @extend_schema(responses={200: serializers.InvolvementSerializer})
    def delete(self, request, family_id: int, involvement_id: int):
        involvement = selectors.team_list(family=self.family).filter(id=involvement_id).first()
        if involvement is None:
            raise Http404
        try:
            involvement = services.involvement_end(involvement=involvement, by=self.staff)
        except services.InvolvementConflict as exc:
            raise Conflict(str(exc)) from exc
        return Response(self.get_serializer(involvement).data)


class NeedListCreate(FamilyScopedListCreate):
    serializer_class = serializers.NeedSerializer
    audit_object_type = "need"
    input_serializer_class = serializers.NeedCreateSerializer
    pagination_class = page("id")

    def get_queryset(self):
        return selectors.need_list(family=self.family)

    @extend_schema(
        request=serializers.NeedCreateSerializer, responses={201: serializers.NeedSerializer}
    )
    def post(self, request, family_id: int):
        return super().post(request, family_id)

    def create_object(self, data):
        return services.need_create(family=self.family, by=self.staff, **data)


class NeedDetail(FamilyScopedView):
    serializer_class = serializers.NeedSerializer
    audit_object_type = "need"
    audit_object_kwarg = "need_id"
    write_permission = access.CHANGE  # access.may_change_need_status

    def get_need(self, need_id):
        need = selectors.need_list(family=self.family).filter(id=need_id).first()
        if need is None:
            raise Http404
        return need

    def respond(self, need):
        response = Response(self.get_serializer(need).data)
        response["ETag"] = etag_for(need.version)
        return response

    def get(self, request, family_id: int, need_id: int):
        return self.respond(self.get_need(need_id))

    @extend_schema(
        request=serializers.NeedUpdateSerializer,
        parameters=[IF_MATCH],
        responses={200: serializers.NeedSerializer},
    )
    def patch(self, request, family_id: int, need_id: int):
        need = self.get_need(need_id)
        changes = self.parse(serializers.NeedUpdateSerializer)
        version = if_match_version(request)
        try:
            services.need_update(
                need_id=need.id, by=self.staff, expected_version=version, **changes
            )
        except services.StaleVersion as exc:
            raise PreconditionFailed() from exc
        return self.respond(self.get_need(need.id))


class AssessmentListCreate(FamilyScopedListCreate):
    serializer_class = serializers.AssessmentSerializer
    audit_object_type = "assessment"
    input_serializer_class = serializers.AssessmentCreateSerializer
    pagination_class = page("-id")
    write_permission = access.CHANGE

    def get_queryset(self):
        return selectors.assessment_list(family=self.family)

    @extend_schema(
        request=serializers.AssessmentCreateSerializer,
        responses={201: serializers.AssessmentSerializer},
    )
    def post(self, request, family_id: int):
        return super().post(request, family_id)

    def create_object(self, data):
        return services.assessment_create(family=self.family, by=self.staff, **data)


class PlanActionListCreate(FamilyScopedListCreate):
    serializer_class = serializers.PlanActionSerializer
    audit_object_type = "plan_action"
    input_serializer_class = serializers.PlanActionCreateSerializer
    pagination_class = page("id")

    def get_queryset(self):
        return selectors.plan_action_list(family=self.family)

    @extend_schema(
        request=serializers.PlanActionCreateSerializer,
        responses={201: serializers.PlanActionSerializer},
    )
    def post(self, request, family_id: int):
        return super().post(request, family_id)

    def create_object(self, data):
        return services.plan_action_create(family=self.family, by=self.staff, **data)


class PlanActionDetail(FamilyScopedView):
    serializer_class = serializers.PlanActionSerializer
    audit_object_type = "plan_action"
    audit_object_kwarg = "action_id"

    def get_action(self, action_id) -> PlanAction:
        action = selectors.plan_action_list(family=self.family).filter(id=action_id).first()
        if action is None:
            raise Http404
        return action

    def get(self, request, family_id: int, action_id: int):
        action = self.get_action(action_id)
        response = Response(self.get_serializer(action).data)
        response["ETag"] = etag_for(action.version)
        return response

    @extend_schema(
        request=serializers.PlanActionUpdateSerializer,
        parameters=[IF_MATCH],
        responses={200: serializers.PlanActionSerializer},
    )
    def patch(self, request, family_id: int, action_id: int):
        action = self.get_action(action_id)
        if not access.may_update_plan_action(
            staff=self.staff, perms=self.perms, owner_agency_id=action.owner_agency_id
        ):
            raise PermissionDenied("Only the owner agency or the lead may change this action.")
        changes = self.parse(serializers.PlanActionUpdateSerializer)
        version = if_match_version(request)
        try:
            action = services.plan_action_update(
                action_id=action.id, by=self.staff, expected_version=version, **changes
            )
        except services.StaleVersion as exc:
            raise PreconditionFailed() from exc
        action = self.get_action(action.id)
        response = Response(self.get_serializer(action).data)
        response["ETag"] = etag_for(action.version)
        return response


class InterventionListCreate(FamilyScopedListCreate):
    serializer_class = serializers.InterventionSerializer
    audit_object_type = "intervention"
    input_serializer_class = serializers.InterventionCreateSerializer
    pagination_class = page("-id")

    def get_queryset(self):
        return selectors.intervention_list(user=self.request.user, family=self.family)

    @extend_schema(
        request=serializers.InterventionCreateSerializer,
        responses={201: serializers.InterventionSerializer},
    )
    def post(self, request, family_id: int):
        return super().post(request, family_id)

    def create_object(self, data):
        return services.intervention_create(family=self.family, by=self.staff, **data)


class ContactListCreate(FamilyScopedListCreate):
    serializer_class = serializers.ContactSerializer
    audit_object_type = "contact"
    input_serializer_class = serializers.ContactCreateSerializer
    pagination_class = page("-id")

    def get_queryset(self):
        return selectors.contact_list(user=self.request.user, family=self.family)

    @extend_schema(
        request=serializers.ContactCreateSerializer, responses={201: serializers.ContactSerializer}
    )
    def post(self, request, family_id: int):
        return super().post(request, family_id)

    def create_object(self, data):
        return services.contact_create(family=self.family, by=self.staff, **data)


class ChronologyList(FamilyScopedView, generics.ListAPIView):
    serializer_class = serializers.ChronologySerializer
    audit_object_type = "chronology"
    pagination_class = ChronologyPage

    def get_queryset(self):
        return selectors.chronology_list(user=self.request.user, family=self.family)


class _Listed:
    """A list of items with a unique, ordered `key`, read as DRF's cursor pagination reads a
    queryset: ordered, filtered on the position, sliced."""

    def __init__(self, items: list):
        self.items = items

    def order_by(self, *ordering):
        descending = ordering[0].startswith("-")
        return _Listed(sorted(self.items, key=lambda item: item.key, reverse=descending))

    def filter(self, key__lt=None, key__gt=None):
        if key__lt is not None:
            return _Listed([item for item in self.items if item.key < key__lt])
        return _Listed([item for item in self.items if item.key > key__gt])

    def __getitem__(self, index):
        return self.items[index]


class HistoryPage(CursorPage):
    """Cursor pages of a family's history (`selectors.family_history`, a list computed from the
    history tables): the position is an item's `key`, unique, so a page starts after it."""

    ordering = "-key"

    def paginate_queryset(self, queryset, request, view=None):
        return super().paginate_queryset(_Listed(list(queryset)), request, view)

    def position_valid(self, position: str) -> bool:
        return re.fullmatch(r"\d{20}\.\d\.\d{12}\.\d{3}", position) is not None


class FamilyHistory(FamilyScopedView, generics.ListAPIView):
    """Who set or changed which field of the family's record, from what to what, when, newest
    first: the family, its members, team, needs, plan actions and sharing bases. For whoever
    sees the family (each of these is shown to them elsewhere)."""

    serializer_class = serializers.FieldChangeSerializer
    audit_object_type = "history"
    pagination_class = HistoryPage

    def get_queryset(self):
        return selectors.family_history(user=self.request.user, family=self.family)


class OutcomeList(generics.ListAPIView):
    """The outcome framework, to people signed in (as every endpoint but the token's)."""

    serializer_class = serializers.OutcomeSerializer
    pagination_class = ReferenceDataPage  # paginated, as every list of the API

    def get_queryset(self):
        return selectors.outcome_list()


# --- the family's lifecycle (cases/lifecycle.py) ------------------------------------------------


class FamilyTransitionView(FamilyScopedView):
    """POST a lifecycle action on the family: 200 with the transition; 403 when the action's
    predicate refuses the caller, 409 when the family's state does not allow it, 412 when an
    `If-Match` given is stale. The answer is the transition, not the record: after a step-up
    the person who made it may no longer see the family."""

    serializer_class = serializers.TransitionSerializer
    audit_object_type = "family"
    audit_object_kwarg = "family_id"
    write_permission = access.CHANGE
    action: str = ""

    def post(self, request, family_id: int):
        if not lifecycle.LIFECYCLE_PREDICATES[self.action](
            staff=self.staff, family=self.family, perms=self.perms
        ):
            # the service's answer (a denial of the request's access events), asked before the body
            raise access.Forbidden(f"You may not {lifecycle.Action(self.action).label.lower()}.")
        data = self.parse()
        version = if_match_version(request) if request.headers.get("If-Match") else None
        try:
            transition = self.transition(data, expected_version=version)
        except services.StaleVersion as exc:
            raise PreconditionFailed() from exc
        return Response(self.get_serializer(transition).data)


class FamilyClose(FamilyTransitionView):
    action = lifecycle.Action.CLOSE
    input_serializer_class = serializers.FamilyCloseSerializer

    @extend_schema(
        request=serializers.FamilyCloseSerializer,
        parameters=[IF_MATCH_OPTIONAL],
        responses={200: serializers.TransitionSerializer},
    )
    def post(self, request, family_id: int):
        return super().post(request, family_id)

    def transition(self, data, **kwargs):
        return services.family_close(family_id=self.family.id, by=self.staff, **data, **kwargs)


class FamilyReopen(FamilyTransitionView):
    action = lifecycle.Action.REOPEN
    input_serializer_class = serializers.FamilyReopenSerializer

    @extend_schema(
        request=serializers.FamilyReopenSerializer,
        parameters=[IF_MATCH_OPTIONAL],
        responses={200: serializers.TransitionSerializer},
    )
    def post(self, request, family_id: int):
        return super().post(request, family_id)

    def transition(self, data, **kwargs):
        return services.family_reopen(
            family_id=self.family.id,
            by=self.staff,
            reason=data["reason"],
            key_worker_id=data["key_worker"],
            **kwargs,
        )


class FamilyStepUp(FamilyTransitionView):
    action = lifecycle.Action.STEP_UP
    input_serializer_class = serializers.FamilyStepSerializer
    service = staticmethod(services.family_step_up)

    @extend_schema(
        request=serializers.FamilyStepSerializer,
        parameters=[IF_MATCH_OPTIONAL],
        responses={200: serializers.TransitionSerializer},
    )
    def post(self, request, family_id: int):
        return super().post(request, family_id)

    def transition(self, data, **kwargs):
        return self.service(
            family_id=self.family.id,
            by=self.staff,
            to_agency=data["to_agency"],
            reason=data["reason"],
            keep_involvement=data["keep_involvement"],
            key_worker_id=data["key_worker"],
            **kwargs,
        )


class FamilyStepDown(FamilyStepUp):
    action = lifecycle.Action.STEP_DOWN
    service = staticmethod(services.family_step_down)


class ReviewListCreate(FamilyScopedListCreate):
    """Team Around the Family meetings: read by whoever sees the family, recorded by the key
    worker or the lead agency (`access.may_record_review`; 409 on a closed family)."""

    serializer_class = serializers.ReviewSerializer
    audit_object_type = "review"
    input_serializer_class = serializers.ReviewCreateSerializer
    pagination_class = page("-id")
    write_permission = access.CHANGE

    def get_queryset(self):
        return selectors.review_list(family=self.family)

    @extend_schema(
        request=serializers.ReviewCreateSerializer, responses={201: serializers.ReviewSerializer}
    )
    def post(self, request, family_id: int):
        return super().post(request, family_id)

    def create_object(self, data):
        return services.review_create(family_id=self.family.id, by=self.staff, **data)
