"""Thin API views of the access log's readers and of the subject access export: ask
cases/access.py, parse the filters, read through accountability.selectors, render."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from accountability import selectors, serializers
from cases import access
from cases.api import FamilyScopedView, page
from reports import selectors as report_selectors
from reports import services as report_services
from reports.models import ReportFormat, ReportKind
from reports.serializers import ReportSerializer

EventPage = page(("-at", "-id"))


class FamilyAccessLog(FamilyScopedView, generics.ListAPIView):
    """Who saw or changed the family's record, when, from which agency, on what footing and
    under which basis; refused attempts included; newest first. For the family's key worker
    and the lead agency's managers (`access.may_read_access_log`)."""

    serializer_class = serializers.AccessEventSerializer
    audit_object_type = "access_log"
    pagination_class = EventPage

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not access.may_read_access_log(staff=self.staff, family=self.family, perms=self.perms):
            raise PermissionDenied("The access log is for the key worker and lead managers.")

    def get_queryset(self):
        return selectors.family_access_log(family=self.family)


def _audit_staff(request):
    staff = access.audit_staff(request.user)
    if staff is None:
        raise PermissionDenied("The access log is for managers and data protection officers.")
    return staff


class AuditList(generics.ListAPIView):
    """Every access event on the families the caller's agency leads (refused attempts by anyone
    included), newest first, narrowed by the filters; 400 naming a filter that is not valid.
    For managers and data protection officers (`access.may_read_agency_access_log`)."""

    serializer_class = serializers.AuditEventSerializer
    pagination_class = EventPage

    @extend_schema(parameters=[serializers.AuditFilterSerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        staff = _audit_staff(self.request)
        data = serializers.AuditFilterSerializer(data=self.request.query_params)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        filters = selectors.AuditFilters(
            user_id=values.get("user"),
            agency_id=values.get("agency"),
            family_id=values.get("family"),
            action=values.get("action"),
            outcome=values.get("outcome"),
            footing=values.get("footing"),
            unusual=values.get("unusual", False),
            start=values.get("from"),
            end=values.get("to"),
        )
        return selectors.agency_access_log(staff=staff, filters=filters)


class UnusualAccess(APIView):
    """Unusual access to the families the caller's agency leads, over a period (default: the
    last 30 days): emergency access by person, reads outside the reader's caseload or team,
    bursts of reads (`settings.BURST_READ_FAMILIES` within `BURST_READ_MINUTES`). For managers
    and data protection officers (`access.may_read_unusual_access`)."""

    @extend_schema(
        parameters=[serializers.UnusualWindowSerializer],
        responses={200: serializers.UnusualAccessSerializer},
    )
    def get(self, request):
        staff = _audit_staff(request)
        data = serializers.UnusualWindowSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        try:
            found = selectors.unusual_access(
                staff=staff, start=data.validated_data["from"], end=data.validated_data["to"]
            )
        except access.Forbidden as exc:
            raise PermissionDenied(str(exc)) from exc
        return Response(serializers.UnusualAccessSerializer(found).data)


class SubjectAccessRequest(FamilyScopedView):
    """POST starts a subject access export of one member of the family (a PDF built in the
    background, like the reports): 202 with the report, `Location` its address; download it
    from `/api/v1/reports/{id}/download/` once done. For the lead agency's managers
    (`access.may_request_subject_access`); a member of another family, like one that does not
    exist: 404."""

    serializer_class = ReportSerializer
    write_permission = access.VIEW  # access.may_request_subject_access decides
    audit_object_type = "subject_access"
    audit_object_kwarg = "member_id"

    @extend_schema(
        request=None,
        responses={
            202: ReportSerializer,
            403: OpenApiResponse(description="Not a manager of the lead agency"),
            404: OpenApiResponse(description="No such family or member, or not visible"),
        },
    )
    def post(self, request, family_id: int, member_id: int):
        if not access.may_request_subject_access(
            staff=self.staff, family=self.family, perms=self.perms
        ):
            raise PermissionDenied("A subject access export is for managers of the lead agency.")
        if not report_selectors.person_of_family_exists(
            person_id=member_id, family_id=self.family.id
        ):
            raise NotFound()
        try:
            job = report_services.report_request(
                by=self.staff,
                kind=ReportKind.SUBJECT_ACCESS,
                format=ReportFormat.PDF,
                family_id=self.family.id,
                person_id=member_id,
            )
        except access.Forbidden as exc:
            raise PermissionDenied(str(exc)) from exc
        except access.NoAccess as exc:
            raise NotFound() from exc
        job.refresh_from_db()
        response = Response(ReportSerializer(job).data, status=status.HTTP_202_ACCEPTED)
        response["Location"] = f"/api/v1/reports/{job.id}/"
        return response
