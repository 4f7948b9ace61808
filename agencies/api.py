"""Thin API views for agencies, staff and the current user."""

from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import APIException, PermissionDenied, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from agencies import selectors, services
from agencies.lockout import lockout_message
from agencies.models import Agency
from agencies.second_factor import second_factor_due
from agencies.serializers import (
    AgencyCreateSerializer,
    AgencySerializer,
    ApiTokenSerializer,
    MeSerializer,
    StaffCreateSerializer,
    StaffSerializer,
    TokenListQuerySerializer,
    TokenRequestSerializer,
    TokenSerializer,
)
from agencies.throttling import SignInRateThrottle
from cases import access
from core.exceptions import NoAccess
from core.pagination import ReferenceDataPage


class LockedOut(APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "locked_out"


class TokenView(APIView):
    """`POST {username, password, otp?}` → 200 `{token, expires_at}`: a new token (django-rest-knox,
    agencies.models.ApiToken), its secret shown this once, refused after `expires_at` (the
    setting API_TOKEN_HOURS, 12 by default).

    Bad credentials → 400 (`non_field_errors`); the second factor due (agencies/second_factor.py)
    and `otp` missing or not the app's current code → 400 (`otp`); the username locked for the
    client's address after repeated failures (django-axes, agencies/lockout.py) → 429
    `locked_out`, the password not checked; too many attempts from one address
    (agencies/throttling.py) → 429. A token issued is a sign-in (`user_logged_in`: it clears
    the lockout's count and records the sign-in)."""

    permission_classes = [AllowAny]
    throttle_classes = [SignInRateThrottle]

    @extend_schema(request=TokenRequestSerializer, responses={200: TokenSerializer})
    def post(self, request):
        data = TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        credentials = data.validated_data
        # The DRF request: axes records the attempt and marks a lockout on it.
        user = authenticate(
            request=request, username=credentials["username"], password=credentials["password"]
        )
        if getattr(request, "axes_locked_out", False):
            raise LockedOut(lockout_message(request))
        if user is None:
            raise ValidationError(
                {"non_field_errors": ["Unable to log in with provided credentials."]},
                code="authorization",
            )
        if second_factor_due(user):
            code = "".join(credentials.get("otp", "").split())
            if not code:
                raise ValidationError(
                    {"otp": ["Enter the 6-digit code from your authenticator app."]},
                    code="required",
                )
            try:
                services.authenticator_verify(user=user, code=code)
            except DjangoValidationError as exc:
                raise ValidationError({"otp": exc.message_dict["code"]}) from exc
        token, secret = services.token_issue(user=user)
        user_logged_in.send(sender=user.__class__, request=request, user=user)
        return Response(TokenSerializer({"token": secret, "expires_at": token.expiry}).data)


class TokenList(generics.ListAPIView):
    """`GET` → the caller's unexpired tokens, newest first (`{id, prefix, user, created_at,
    expires_at, last_used_at}`: never the secret). `?user=<id>`: that person's, for an admin of
    their agency or a platform admin (`access.may_manage_tokens_of`); anyone else → 404."""

    serializer_class = ApiTokenSerializer
    extra_error_statuses = (404,)  # `?user=` someone whose tokens you may not manage (core/schema)

    @extend_schema(parameters=[TokenListQuerySerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        query = TokenListQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        owner_id = query.validated_data.get("user", self.request.user.pk)
        if owner_id != self.request.user.pk and not access.may_manage_tokens_of(
            user=self.request.user,
            owner_id=owner_id,
            owner_agency_id=selectors.staff_agency_id(user_id=owner_id),
        ):
            raise NoAccess()
        return selectors.token_list(user_id=owner_id)


class TokenDetail(APIView):
    """`DELETE` → 200, the token as it was listed: it is revoked (refused from then on). Its
    owner, an admin of the owner's agency, or a platform admin; anyone else, or no such token
    (or one expired) → 404."""

    @extend_schema(
        responses={200: ApiTokenSerializer, 404: OpenApiResponse(description="No such token.")}
    )
    def delete(self, request, token_id: int):
        token = services.token_revoke(token_id=token_id, by_user=request.user)
        return Response(ApiTokenSerializer(token).data)


class AgencyListCreate(generics.ListCreateAPIView):
    serializer_class = AgencySerializer
    pagination_class = ReferenceDataPage  # paginated, as every list of the API

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
