from rest_framework import serializers

from alerts.models import Alert
from core.serializers import OutputSerializer


class AlertSerializer(OutputSerializer):
    agency_name = serializers.CharField(source="agency.name", read_only=True, allow_null=True)

    class Meta:
        model = Alert
        fields = [
            "id",
            "kind",
            "family",
            "agency",
            "agency_name",
            "summary",
            "created_at",
            "read_at",
        ]


class TicketSerializer(serializers.Serializer):
    ticket = serializers.CharField()
    expires_at = serializers.DateTimeField()


class ReadAllSerializer(serializers.Serializer):
    marked = serializers.IntegerField()
