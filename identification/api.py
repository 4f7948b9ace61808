"""Thin API views for identification: the rule is cases.access's, the work the services'. A
person who may not know a dataset, run or candidate exists gets 404; every read of a candidate
is an access event (audit)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from cases import access
from core.pagination import CursorPage, ReferenceDataPage
from identification import selectors, serializers, services
from identification.audit import candidates_shown_log


def _staff(request):
    return access.identification_staff(request.user)


class IndicatorList(generics.ListAPIView):
    serializer_class = serializers.IndicatorSerializer
    pagination_class = ReferenceDataPage  # paginated, as every list of the API

    def get_queryset(self):
        return selectors.indicator_list()


class DatasetListCreate(generics.ListAPIView):
    """Datasets you may know of (metadata only); POST uploads one (CSV, all rows or none)."""

    serializer_class = serializers.DatasetSerializer
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self):
        return selectors.dataset_list(_staff(self.request))

    @extend_schema(
        request=serializers.DatasetUploadSerializer,
        responses={201: serializers.UploadResultSerializer},
    )
    def post(self, request):
        staff = _staff(request)
        if not access.may_upload_dataset(staff):
            raise PermissionDenied("Datasets are uploaded by an agency's admins and analysts.")
        data = serializers.DatasetUploadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            dataset = services.dataset_upload(by=staff, **values)
        except services.UploadRejected as exc:
            return Response(
                {"detail": "The file has errors: nothing was loaded.", "rows": exc.rows,
                 "errors": exc.errors},
                status=status.HTTP_400_BAD_REQUEST,
            )  # fmt: skip
        return Response(
            {"id": dataset.id, "rows": dataset.rows, "errors": []},
            status=status.HTTP_201_CREATED,
        )


class DatasetDetail(generics.GenericAPIView):
    serializer_class = serializers.DatasetSerializer

    def get(self, request, dataset_id: int):
        dataset = selectors.dataset_get(_staff(request), dataset_id)
        if dataset is None:
            raise NotFound()
        return Response(self.get_serializer(dataset).data)


class RunCreate(generics.ListAPIView):
    serializer_class = serializers.RunSerializer

    def get_queryset(self):
        return selectors.run_list(_staff(self.request))

    @extend_schema(
        request=serializers.RunRequestSerializer, responses={202: serializers.RunStartedSerializer}
    )
    def post(self, request):
        staff = _staff(request)
        if not access.may_run_matching(staff):
            raise PermissionDenied("Matching runs are started by managers of the lead agency.")
        data = serializers.RunRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = services.run_request(by=staff, threshold=data.validated_data.get("threshold"))
        run.refresh_from_db(fields=["status"])
        return Response({"id": run.id, "status": run.status}, status=status.HTTP_202_ACCEPTED)


class RunDetail(generics.GenericAPIView):
    serializer_class = serializers.RunSerializer

    def get(self, request, run_id: int):
        run = selectors.run_get(_staff(request), run_id)
        if run is None:
            raise NotFound()
        return Response(self.get_serializer(run).data)


class RankPage(CursorPage):
    ordering = ("rank", "id")


class CandidateList(generics.ListAPIView):
    """The queue: the newest finished run's candidates, by rank (the front door's only)."""

    serializer_class = serializers.CandidateSerializer
    pagination_class = RankPage
    extra_error_statuses = (404,)  # to anyone but the lead agency's front door (core/schema)

    def get_queryset(self):
        staff = _staff(self.request)
        if not access.may_see_candidates(staff):
            raise NotFound()
        run = self.request.query_params.get("run")
        return selectors.candidate_list(staff, run_id=int(run) if str(run).isdigit() else None)

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        results = response.data["results"] if isinstance(response.data, dict) else response.data
        candidates_shown_log(request, [c["id"] for c in results], action_list=True)
        return response


class CandidateDetail(generics.GenericAPIView):
    serializer_class = serializers.CandidateSerializer

    def get(self, request, candidate_id: int):
        candidate = selectors.candidate_get(_staff(request), candidate_id)
        candidates_shown_log(request, [candidate_id], allowed=candidate is not None)
        if candidate is None:
            raise NotFound()
        return Response(self.get_serializer(candidate).data)


class CandidateDecision(generics.GenericAPIView):
    serializer_class = serializers.DecisionSerializer

    @extend_schema(
        request=serializers.DecisionSerializer,
        responses={200: serializers.DecisionResultSerializer},
    )
    def post(self, request, candidate_id: int):
        staff = _staff(request)
        allowed = selectors.candidate_get(staff, candidate_id) is not None
        candidates_shown_log(request, [candidate_id], allowed=allowed)
        if not allowed:
            raise NotFound()
        data = serializers.DecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        candidate = services.candidate_decide(
            by=staff,
            candidate_id=candidate_id,
            decision=values["decision"],
            reason=values["reason"],
            version=values.get("version"),
        )
        return Response(
            {
                "id": candidate.id,
                "decision": candidate.decision,
                "referral": candidate.referral_id,
                "version": candidate.version,
            }
        )
