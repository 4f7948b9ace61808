"""Thin API views for reports: ask for one (202), watch it, download it."""

from __future__ import annotations

from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response

from cases import access, access_log
from core.exceptions import Conflict
from reports import selectors, serializers, services
from reports.models import ReportStatus


class ReportListCreate(generics.ListAPIView):
    """Your reports, newest first; POST asks for a new one (built in the background)."""

    serializer_class = serializers.ReportSerializer
    extra_error_statuses = (404,)  # the family named in the body: not visible to you (core/schema)

    def get_queryset(self):
        return selectors.report_list(user=self.request.user)

    @extend_schema(
        request=serializers.ReportRequestSerializer,
        responses={202: serializers.ReportAcceptedSerializer},
    )
    def post(self, request):
        data = serializers.ReportRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        staff = access.case_staff(request.user)
        if values["family"] is not None:  # a report about one family: the rule's answer, logged
            _, perms = access.family_with_permissions(request.user, values["family"])
            access_log.family_access_log(
                request,
                family_id=values["family"],
                perms=perms,
                permission=access.VIEW,
                object_type="report",
            )
        if staff is None:
            raise PermissionDenied("Reports are for staff who work with families.")
        try:
            job = services.report_request(
                by=staff,
                kind=values["kind"],
                format=values["format"],
                period_start=values["period_start"],
                period_end=values["period_end"],
                family_id=values["family"],
                person_id=values["person"],
            )
        except access.Forbidden as exc:
            raise PermissionDenied(str(exc)) from exc
        except access.NoAccess as exc:
            access_log.family_access_denied_later(request)
            raise NotFound() from exc
        job.refresh_from_db(fields=["status"])
        return Response({"id": job.id, "status": job.status}, status=status.HTTP_202_ACCEPTED)


class ReportDetail(generics.GenericAPIView):
    serializer_class = serializers.ReportSerializer

    def get(self, request, report_id: int):
        job = report_get_logged(request, report_id)
        return Response(self.get_serializer(job).data)


class ReportDownload(generics.GenericAPIView):
    serializer_class = None

    @extend_schema(
        responses={
            (200, "application/pdf"): OpenApiTypes.BINARY,
            (200, "text/csv"): OpenApiTypes.BINARY,
            404: OpenApiResponse(description="No such report, or not yours"),
            409: OpenApiResponse(description="The report is not built (yet, or it failed)"),
        }
    )
    def get(self, request, report_id: int):
        job = report_get_logged(request, report_id)
        return report_file_response(job)


def report_get_logged(request, report_id: int):
    """`selectors.report_get`, the answer an access event: reading a report about a family is
    reading the family (allowed, on the reader's footing); a report refused (not the person's,
    or its family no longer visible) is a denied attempt."""
    try:
        job = selectors.report_get(user=request.user, report_id=report_id)
    except Http404:
        access_log.family_access_refused(request, object_type="report", object_id=report_id)
        raise
    if job.family_id is not None:
        access_log.family_access_log(
            request,
            family_id=job.family_id,
            perms=job.family_perms,
            permission=access.VIEW,
            object_type="report",
            object_id=job.id,
        )
    return job


def report_file_response(job) -> FileResponse:
    """The built file as an attachment; 409 while it is not built (or failed)."""
    if job.status != ReportStatus.DONE or not job.file_name:
        raise Conflict(
            "The report is not ready: "
            + ("its build failed." if job.status == ReportStatus.FAILED else "it is being built.")
        )
    try:
        handle = services.storage().open(job.file_name, "rb")
    except FileNotFoundError as exc:
        raise Conflict("The report's file is no longer kept: ask for it again.") from exc
    filename = f"{job.kind.replace('_', '-')}-{job.id}.{job.format}"
    return FileResponse(
        handle, as_attachment=True, filename=filename, content_type=job.content_type
    )
