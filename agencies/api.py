"""Thin API views for agencies, staff and the current user."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from agencies import selectors, services
from agencies.models import Agency
from agencies.serializers import (
    AgencyCreateSerializer,
    AgencySerializer,
    MeSerializer,
    StaffCreateSerializer,
    StaffSerializer,
)
from agencies.throttling import SignInRateThrottle
from cases import access


class TokenView(ObtainAuthToken):
    """`POST {username, password}` → 200 `{token}`; bad credentials → 400; too many attempts
    from one address (agencies/throttling.py) → 429."""

    permission_classes = [AllowAny]
    throttle_classes = [SignInRateThrottle]
    renderer_classes = APIView.renderer_classes
    parser_classes = APIView.parser_classes


class AgencyListCreate(generics.ListCreateAPIView):
    serializer_class = AgencySerializer
    pagination_class = None

    def get_queryset(self):
        return selectors.agency_list()

    @extend_schema(request=AgencyCreateSerializer, responses={201: AgencySerializer})
    def post(self, request):
        if not request.user.is_staff:
            raise PermissionDenied("Only platform administrators create agencies.")
        data = AgencyCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        agency = services.agency_create(**data.validated_data)
        return Response(AgencySerializer(agency).data, status=status.HTTP_201_CREATED)


class StaffListCreate(generics.ListCreateAPIView):
    serializer_class = StaffSerializer

    def get_agency(self) -> Agency:
        agency = get_object_or_404(Agency, pk=self.kwargs["agency_id"])
        if not access.may_manage_staff(user=self.request.user, agency=agency):
            raise PermissionDenied("Only platform administrators and this agency's admins.")
        return agency

    def get_queryset(self):
        return selectors.staff_list(agency=self.get_agency())

    @extend_schema(request=StaffCreateSerializer, responses={201: StaffSerializer})
    def post(self, request, agency_id: int):
        agency = self.get_agency()
        data = StaffCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        staff = services.staff_create(agency=agency, by_user=request.user, **data.validated_data)
        return Response(StaffSerializer(staff).data, status=status.HTTP_201_CREATED)


class MeView(APIView):
    @extend_schema(responses=MeSerializer)
    def get(self, request):
        staff = selectors.staff_for_user(request.user)
        body = {
            "id": request.user.id,
            "username": request.user.username,
            "agency": AgencySerializer(staff.agency).data if staff else None,
            "role": staff.role if staff else None,
        }
        return Response(body)
