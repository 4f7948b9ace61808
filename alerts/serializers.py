from rest_framework import serializers

from alerts.models import Alert
from core.serializers import OutputSerializer, QuerySerializer


# An alert's JSON, defined once: the API's responses, the WebSocket's pushes and its resume all
# send what this renders (`alerts_json`). A comment, not a docstring: that would enter the schema.
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


def alerts_json(alerts) -> list[dict]:
    """`alerts` as `AlertSerializer` renders them, in the order given. Each alert's agency is
    read as `alert.agency` (loaded with the alert, or attached to it: no query per alert). One
    serializer for all of them: the socket's deliveries call this for every push."""
    serializer = AlertSerializer()
    return [serializer.to_representation(alert) for alert in alerts]


class AlertFilterSerializer(QuerySerializer):
    """The alerts list's query string: `unread` is `true` or `false` (or 1/0, yes/no); anything
    else is a 400 naming it."""

    unread = serializers.BooleanField(required=False, default=False)


class TicketSerializer(serializers.Serializer):
    ticket = serializers.CharField()
    expires_at = serializers.DateTimeField()


class ReadAllSerializer(serializers.Serializer):
    marked = serializers.IntegerField()
