"""The access log's rows and the filters of the agency-wide log and the unusual access: output
serializers render; the filter serializers parse a query string (400 naming the field)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from audit.models import AccessEvent
from core.serializers import OutputSerializer, QuerySerializer
from reports import selectors as report_selectors

ACTIONS = ("read", "write", "list")
OUTCOMES = ("allowed", "denied")
FOOTINGS = ("lead_agency", "key_worker", "team", "emergency", "none")
LONGEST_UNUSUAL_WINDOW = timedelta(days=366)
UNUSUAL_WINDOW = timedelta(days=30)
BIGGEST_ID = 2**63 - 1


class AccessEventSerializer(OutputSerializer):
    """One access event: who (`user`, `user_name`, `agency`, `agency_name`), what (`action`,
    `method`, `path`, `object_type`, `object_id`, `status_code`), the answer (`outcome`), and
    on what footing under which basis (`basis_label`: its kind and date)."""

    user_name = serializers.SerializerMethodField()
    agency = serializers.IntegerField(source="agency_id", allow_null=True, read_only=True)
    agency_name = serializers.CharField(allow_null=True, read_only=True)
    family = serializers.IntegerField(source="family_id", allow_null=True, read_only=True)
    family_reference = serializers.CharField(allow_null=True, read_only=True)
    footing_label = serializers.SerializerMethodField()
    basis = serializers.IntegerField(source="basis_id", allow_null=True, read_only=True)
    basis_label = serializers.SerializerMethodField()

    class Meta:
        model = AccessEvent
        fields = [
            "id",
            "at",
            "user",
            "user_name",
            "agency",
            "agency_name",
            "family",
            "family_reference",
            "action",
            "method",
            "path",
            "object_type",
            "object_id",
            "status_code",
            "outcome",
            "footing",
            "footing_label",
            "basis",
            "basis_label",
            "emergency",
            "request_id",
        ]

    def get_user_name(self, obj) -> str:
        return report_selectors.access_event_user_name(obj)

    def get_footing_label(self, obj) -> str:
        return report_selectors.footing_label(obj.footing, obj.outcome)

    def get_basis_label(self, obj) -> str | None:
        return report_selectors.basis_label(obj.basis_kind, obj.basis_given_on) or None


class AuditEventSerializer(AccessEventSerializer):
    """A row of the agency-wide log: the family's row and the client's address."""

    class Meta(AccessEventSerializer.Meta):
        fields = [*AccessEventSerializer.Meta.fields, "client_ip"]


@extend_schema_field({"type": "string", "description": "A time (ISO 8601) or a day (YYYY-MM-DD)."})
class MomentField(serializers.Field):
    """A time (ISO 8601, with or without its offset: without, the service's time zone) or a
    day (YYYY-MM-DD: its start, or with `end_of_day` the start of the next day). Parsed to an
    aware datetime that the database can hold."""

    default_error_messages = {
        "invalid": "Enter a time like 2026-03-03T14:00:00+00:00 or a day like 2026-03-03.",
        "range": "Enter a time between the years 1 and 9999.",
    }

    def __init__(self, *, end_of_day: bool = False, **kwargs):
        self.end_of_day = end_of_day
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        text = str(data).strip()
        if len(text) > 40:
            self.fail("invalid")
        try:
            if len(text) == 10:
                day = date.fromisoformat(text)
                if self.end_of_day:
                    day += timedelta(days=1)
                moment = timezone.make_aware(datetime.combine(day, time.min))
            else:
                moment = parse_datetime(text)
                if moment is None:
                    self.fail("invalid")
                if timezone.is_naive(moment):
                    moment = timezone.make_aware(moment)
                if self.end_of_day:
                    moment += timedelta(microseconds=1)  # up to and including it
            year = moment.astimezone(UTC).year
        except OverflowError:
            self.fail("range")
        except (ValueError, TypeError):
            self.fail("invalid")
        if not 1 < year < 9999:
            self.fail("range")
        return moment

    def to_representation(self, value):
        return value.isoformat()


def _id_field(help_text: str) -> serializers.IntegerField:
    return serializers.IntegerField(
        required=False, min_value=1, max_value=BIGGEST_ID, help_text=help_text
    )


class WindowSerializer(QuerySerializer):
    """`from` and `to` (a time or a day; `to` a day means through its end)."""

    def validate(self, attrs):
        start, end = attrs.get("from"), attrs.get("to")
        if start is not None and end is not None and end <= start:
            raise serializers.ValidationError({"to": ["Enter a `to` after `from`."]})
        return attrs


# `from` is a Python keyword: the fields are declared by name.
WindowSerializer._declared_fields.update(
    {
        "from": MomentField(required=False, help_text="From this time (or day) on."),
        "to": MomentField(
            required=False, end_of_day=True, help_text="Up to this time (or through this day)."
        ),
    }
)


class AuditFilterSerializer(WindowSerializer):
    user = _id_field("Only this person's events (a user id).")
    agency = _id_field("Only events by people of this agency (an agency id).")
    family = _id_field("Only events on this family (a family id).")
    action = serializers.ChoiceField(choices=ACTIONS, required=False)
    outcome = serializers.ChoiceField(choices=OUTCOMES, required=False)
    footing = serializers.ChoiceField(
        choices=FOOTINGS, required=False, help_text="`none`: refused attempts, which have none."
    )
    unusual = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Only reads outside the reader's caseload or team (see the unusual access).",
    )


class UnusualWindowSerializer(WindowSerializer):
    """The unusual access's period: by default the last 30 days; at most 366 days."""

    def validate(self, attrs):
        attrs = super().validate(attrs)
        end = attrs.get("to") or timezone.now()
        start = attrs.get("from") or end - UNUSUAL_WINDOW
        if end <= start:
            raise serializers.ValidationError({"from": ["Enter a `from` before now."]})
        if end - start > LONGEST_UNUSUAL_WINDOW:
            raise serializers.ValidationError({"from": ["A period can be at most 366 days."]})
        return {"from": start, "to": end}


class EmergencyByUserSerializer(serializers.Serializer):
    user = serializers.IntegerField()
    user_name = serializers.CharField()
    agency = serializers.IntegerField(allow_null=True)
    agency_name = serializers.CharField()
    grants = serializers.IntegerField(help_text="Emergency grants taken in the period.")
    reviewed = serializers.IntegerField(help_text="Of those, reviewed by a lead-agency manager.")
    unreviewed = serializers.IntegerField()
    latest_granted_at = serializers.DateTimeField(allow_null=True)
    reads = serializers.IntegerField(help_text="Reads under emergency access in the period.")
    latest_read_at = serializers.DateTimeField(allow_null=True)


class BurstSerializer(serializers.Serializer):
    user = serializers.IntegerField()
    user_name = serializers.CharField()
    agency = serializers.IntegerField(allow_null=True)
    agency_name = serializers.CharField()
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField()
    families = serializers.IntegerField(help_text="Distinct families read in the burst.")


class UnusualAccessSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    emergency = EmergencyByUserSerializer(many=True)
    outside_count = serializers.IntegerField(
        help_text="Reads outside the reader's caseload or team in the period."
    )
    outside = AuditEventSerializer(many=True, help_text="The newest of them.")
    bursts = BurstSerializer(many=True)
    burst_families = serializers.IntegerField(help_text="N: more distinct families than this…")
    burst_minutes = serializers.IntegerField(help_text="…within M minutes is a burst.")
