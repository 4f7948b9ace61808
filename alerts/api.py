"""Thin API views for alerts."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from agencies.models import ApiToken
from alerts import selectors, services
from alerts.serializers import (
    AlertFilterSerializer,
    AlertSerializer,
    ReadAllSerializer,
    TicketSerializer,
)


class AlertList(generics.ListAPIView):
    serializer_class = AlertSerializer

    @extend_schema(parameters=[AlertFilterSerializer])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        data = AlertFilterSerializer(data=self.request.query_params)
        data.is_valid(raise_exception=True)
        return selectors.alert_list(user=self.request.user, unread=data.validated_data["unread"])


class AlertRead(APIView):
    @extend_schema(request=None, responses={200: AlertSerializer})
    def post(self, request, alert_id: int):
        alert = get_object_or_404(selectors.alert_list(user=request.user), id=alert_id)
        return Response(AlertSerializer(services.alert_mark_read(alert=alert)).data)


class AlertReadAll(APIView):
    @extend_schema(request=None, responses={200: ReadAllSerializer})
    def post(self, request):
        return Response({"marked": services.alert_read_all(user=request.user)})


class AlertTicketCreate(APIView):
    @extend_schema(request=None, responses={201: TicketSerializer})
    def post(self, request):
        token = request.auth if isinstance(request.auth, ApiToken) else None
        ticket = services.ticket_issue(
            user=request.user,
            token_id=token.pk if token is not None else None,
            session_key="" if token is not None else (request.session.session_key or ""),
        )
        return Response(
            {"ticket": ticket.key, "expires_at": ticket.expires_at}, status=status.HTTP_201_CREATED
        )
