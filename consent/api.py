"""Thin API views for sharing bases, withdrawal, disclosure history and emergency access."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from cases import access, access_log
from cases.api import FamilyScopedListCreate, FamilyScopedView, page
from cases.models import Family
from consent import selectors, serializers, services


class SharingListCreate(FamilyScopedListCreate):
    serializer_class = serializers.SharingBasisSerializer
    audit_object_type = "sharing_basis"
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
    audit_object_type = "sharing_basis"
    audit_object_kwarg = "basis_id"
    write_permission = access.SHARING

    @extend_schema(
        request=serializers.WithdrawSerializer, responses={200: serializers.SharingBasisSerializer}
    )
    def post(self, request, family_id: int, basis_id: int):
        basis = self.get_basis(basis_id)
        reason = self.parse(serializers.WithdrawSerializer)["reason"]
        basis = services.sharing_basis_withdraw(basis=basis, by=self.staff, reason=reason)
        return self.respond(basis.id)

    def get_basis(self, basis_id):
        basis = selectors.sharing_basis_list(family=self.family).filter(id=basis_id).first()
        if basis is None:
            raise Http404
        return basis

    def respond(self, basis_id):
        basis = selectors.sharing_basis_list(family=self.family).get(id=basis_id)
        return Response(self.get_serializer(basis).data)


class SharingConfirm(SharingWithdraw):
    """The lead-agency manager named in a basis without consent confirms it (until then it
    grants nothing)."""

    write_permission = access.VIEW  # access.may_confirm_sharing_basis decides

    @extend_schema(request=None, responses={200: serializers.SharingBasisSerializer})
    def post(self, request, family_id: int, basis_id: int):
        basis = self.get_basis(basis_id)
        if not access.may_confirm_sharing_basis(staff=self.staff, family=self.family, basis=basis):
            raise PermissionDenied("Only the lead-agency manager named in the decision.")
        services.sharing_basis_confirm(basis_id=basis.id, by=self.staff)
        return self.respond(basis.id)


class SharingReview(SharingWithdraw):
    """A lead-agency manager keeps a basis without consent in force until a new review date."""

    write_permission = access.VIEW  # access.may_review_sharing_basis decides

    @extend_schema(
        request=serializers.SharingReviewSerializer,
        responses={200: serializers.SharingBasisSerializer},
    )
    def post(self, request, family_id: int, basis_id: int):
        basis = self.get_basis(basis_id)
        if not access.may_review_sharing_basis(staff=self.staff, family=self.family):
            raise PermissionDenied("Only a lead-agency manager reviews a sharing decision.")
        data = self.parse(serializers.SharingReviewSerializer)
        services.sharing_basis_review(basis_id=basis.id, by=self.staff, **data)
        return self.respond(basis.id)


class DisclosureList(FamilyScopedView, generics.ListAPIView):
    """Which agency (or user) had access, from when to when, under which basis."""

    serializer_class = serializers.AccessPeriodSerializer
    audit_object_type = "disclosure"
    pagination_class = page("id")
    read_permission = access.SHARING

    def get_queryset(self):
        return selectors.access_period_list(family=self.family)


class EmergencyAccessRequest(APIView):
    """Break-glass: any practitioner, by family id, even for a family they cannot see. 201 with
    the grant's end; 202 when a lead-agency manager must approve it first."""

    @extend_schema(
        request=serializers.EmergencyAccessRequestSerializer,
        responses={
            201: serializers.EmergencyAccessGrantedSerializer,
            202: serializers.EmergencyAccessGrantedSerializer,
        },
    )
    def post(self, request, family_id: int):
        staff = access.case_staff(request.user)
        # Break-glass is its own footing: anyone working with families may ask, by family id.
        access_log.family_access_log(
            request,
            family_id=family_id,
            perms=access.emergency_request_perms(staff),
            permission=access.EMERGENCY_REQUEST,
            object_type="emergency_access",
        )
        if staff is None:
            raise PermissionDenied("Only practitioners working with families may ask.")
        data = serializers.EmergencyAccessRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)  # before any lookup: a 400 discloses nothing
        try:
            grant = services.emergency_access_grant(
                family_id=family_id, by=staff, reason=data.validated_data["reason"]
            )
        except Family.DoesNotExist as exc:
            access_log.family_access_denied_later(request)  # no such family: the rule's 404
            raise Http404 from exc
        body = serializers.EmergencyAccessGrantedSerializer(grant).data
        pending = grant.expires_at is None
        return Response(body, status=status.HTTP_202_ACCEPTED if pending else 201)


class EmergencyAccessDecisionView(APIView):
    """A lead-agency manager's decision on an emergency grant of a family they see."""

    service = None
    input_serializer = None

    def decide(self, request, grant_id: int, **kwargs):
        staff = access.case_staff(request.user)
        grant = selectors.emergency_access_get(grant_id=grant_id) if staff else None
        if grant is None:
            access_log.family_access_refused(
                request, object_type="emergency_access", object_id=grant_id
            )
            raise Http404
        perms = access.family_permissions(request.user, grant.family)
        access_log.family_access_log(
            request,
            family_id=grant.family_id,
            perms=perms,
            permission=access.VIEW,
            object_type="emergency_access",
            object_id=grant_id,
        )
        if access.VIEW not in perms:
            raise Http404
        if not access.may_review_emergency_access(staff=staff, family=grant.family):
            raise PermissionDenied("Only a lead-agency manager decides on emergency access.")
        data = self.input_serializer(data=request.data)
        data.is_valid(raise_exception=True)
        grant = type(self).service(grant_id=grant.id, by=staff, **data.validated_data)
        return Response(serializers.EmergencyAccessSerializer(grant).data)


class EmergencyAccessReview(EmergencyAccessDecisionView):
    service = staticmethod(services.emergency_access_review)
    input_serializer = serializers.EmergencyReviewSerializer

    @extend_schema(
        request=serializers.EmergencyReviewSerializer,
        responses={200: serializers.EmergencyAccessSerializer},
    )
    def post(self, request, grant_id: int):
        return self.decide(request, grant_id)


class EmergencyAccessApprove(EmergencyAccessDecisionView):
    service = staticmethod(services.emergency_access_approve)
    input_serializer = serializers.EmergencyApprovalSerializer

    @extend_schema(
        request=serializers.EmergencyApprovalSerializer,
        responses={200: serializers.EmergencyAccessSerializer},
    )
    def post(self, request, grant_id: int):
        return self.decide(request, grant_id)
