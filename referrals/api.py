"""Referrals API: thin views over referrals.services and referrals.selectors; who sees and
decides what is asked of cases.access (decision 0026)."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from cases import access
from core.pagination import CursorPage
from referrals import screening, selectors, serializers, services
from referrals.models import ReferralStatus


class QueuePage(CursorPage):
    ordering = "queue_key"


def _detail(request, referral, *, staff):
    """The referral as the person may see it: the possible matches for the front door only
    (each family shown is an access event), the family only to those who see it."""
    context = {
        "request": request,
        "visible_family_ids": selectors.referral_family_ids_visible(
            user=request.user, referrals=[referral]
        ),
    }
    matches = screening.matches_shown(request, staff=staff, referral=referral)
    if matches is not None:
        context["matches"] = matches
    data = serializers.ReferralDetailSerializer(referral, context=context).data
    if "matches" not in context:
        data.pop("possible_matches", None)
    return data


class ReferralListCreate(generics.ListAPIView):
    serializer_class = serializers.ReferralSerializer
    pagination_class = QueuePage

    @extend_schema(
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=ReferralStatus.values),
            OpenApiParameter("page_size", OpenApiTypes.INT),
        ]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        status = self.request.query_params.get("status")
        return selectors.referral_list(
            user=self.request.user, status=status if status in ReferralStatus.values else None
        )

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        self.visible = selectors.referral_family_ids_visible(
            user=self.request.user, referrals=page or []
        )
        return page

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["visible_family_ids"] = getattr(self, "visible", set())
        return context

    @extend_schema(
        request=serializers.ReferralCreateSerializer,
        responses={201: serializers.ReferralDetailSerializer},
    )
    def post(self, request):
        staff = access.case_staff(request.user)
        if not access.may_refer(staff):
            raise PermissionDenied("Only practitioners who work with families make referrals.")
        data = serializers.ReferralCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        referral = services.referral_create(by=staff, **data.validated_data)
        referral = selectors.referral_get(user=request.user, referral_id=referral.id)
        return Response(_detail(request, referral, staff=staff), status=201)


class ReferralView(generics.GenericAPIView):
    serializer_class = serializers.ReferralDetailSerializer

    def get_referral(self, referral_id):
        referral = selectors.referral_get(user=self.request.user, referral_id=referral_id)
        if referral is None:  # not there, or not the person's to see: the same 404
            raise Http404
        return referral


class ReferralDetail(ReferralView):
    def get(self, request, referral_id: int):
        referral = self.get_referral(referral_id)
        return Response(_detail(request, referral, staff=access.case_staff(request.user)))


class ReferralDecide(ReferralView):
    @extend_schema(
        request=serializers.ReferralDecisionSerializer,
        responses={200: serializers.ReferralDetailSerializer},
    )
    def post(self, request, referral_id: int):
        staff = access.case_staff(request.user)
        referral = self.get_referral(referral_id)
        if not access.may_decide_referral(staff):
            raise PermissionDenied("The early help front door decides referrals.")
        data = serializers.ReferralDecisionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        referral = services.referral_decide(
            referral_id=referral.id,
            by=staff,
            decision=values["decision"],
            reason=values["reason"],
            family_id=values["family"],
            key_worker_id=values["key_worker"],
        )
        screening.decision_logged(request, referral=referral)
        referral = self.get_referral(referral.id)
        return Response(_detail(request, referral, staff=staff))
