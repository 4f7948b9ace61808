"""Thin API views for sharing bases, withdrawal, disclosure history and emergency access."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from agencies.models import Role
from cases import access
from cases.api import FamilyScopedListCreate, FamilyScopedView, page
from cases.models import Family
from config.exceptions import Conflict
from consent import selectors, serializers, services


class SharingListCreate(FamilyScopedListCreate):
    serializer_class = serializers.SharingBasisSerializer
    input_serializer_class = serializers.SharingBasisCreateSerializer
    pagination_class = page("-id")
    write_permission = access.SHARING

    def get_queryset(self):
        return selectors.sharing_basis_list(family=self.family)

    @extend_schema(
        request=serializers.SharingBasisCreateSerializer,
        responses={201: serializers.SharingBasisSerializer},
    )
    def post(self, request, family_id: int):
        return super().post(request, family_id)

    def create_object(self, data):
        data = dict(data)
        data["decided_by_id"] = data.pop("decided_by")
        return services.sharing_basis_create(family=self.family, by=self.staff, **data)


class SharingWithdraw(FamilyScopedView):
    serializer_class = serializers.SharingBasisSerializer
    write_permission = access.SHARING

    @extend_schema(
        request=serializers.WithdrawSerializer, responses={200: serializers.SharingBasisSerializer}
    )
    def post(self, request, family_id: int, basis_id: int):
        basis = selectors.sharing_basis_list(family=self.family).filter(id=basis_id).first()
        if basis is None:
            raise Http404
        reason = self.parse(serializers.WithdrawSerializer)["reason"]
        try:
            basis = services.sharing_basis_withdraw(basis=basis, by=self.staff, reason=reason)
        except services.AlreadyWithdrawn as exc:
            raise Conflict(str(exc)) from exc
        basis = selectors.sharing_basis_list(family=self.family).get(id=basis.id)
        return Response(self.get_serializer(basis).data)


class DisclosureList(FamilyScopedView, generics.ListAPIView):
    """Which agency (or user) had access, from when to when, under which basis."""

    serializer_class = serializers.AccessPeriodSerializer
    pagination_class = page("id")
    read_permission = access.SHARING

    def get_queryset(self):
        return selectors.access_period_list(family=self.family)


class EmergencyAccessRequest(APIView):
    """Break-glass: any practitioner, by family id, even for a family they cannot see."""

    @extend_schema(
        request=serializers.EmergencyAccessRequestSerializer,
        responses={201: serializers.EmergencyAccessGrantedSerializer},
    )
    def post(self, request, family_id: int):
        staff = access.case_staff(request.user)
        if staff is None:
            raise PermissionDenied("Only practitioners working with families may ask.")
        data = serializers.EmergencyAccessRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)  # before any lookup: a 400 discloses nothing
        try:
            grant = services.emergency_access_grant(
                family_id=family_id, by=staff, reason=data.validated_data["reason"]
            )
        except Family.DoesNotExist as exc:
            raise Http404 from exc
        return Response(
            {"id": grant.id, "expires_at": grant.expires_at}, status=status.HTTP_201_CREATED
        )


class EmergencyAccessReview(APIView):
    @extend_schema(
        request=serializers.EmergencyReviewSerializer,
        responses={200: serializers.EmergencyAccessSerializer},
    )
    def post(self, request, grant_id: int):
        grant = selectors.emergency_access_get(grant_id=grant_id)
        staff = access.case_staff(request.user)
        if (
            grant is None
            or not access.families_visible_to(request.user).filter(id=grant.family_id).exists()
        ):
            raise Http404
        if staff.agency_id != grant.family.lead_agency_id or staff.role != Role.MANAGER:
            raise PermissionDenied("Only a lead-agency manager reviews emergency access.")
        data = serializers.EmergencyReviewSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            grant = services.emergency_access_review(
                grant=grant,
                by=staff,
                decision=data.validated_data["decision"],
                notes=data.validated_data["notes"],
            )
        except services.AlreadyReviewed as exc:
            raise Conflict(str(exc)) from exc
        return Response(serializers.EmergencyAccessSerializer(grant).data)
