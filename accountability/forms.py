"""Forms of the access log's pages: the agency-wide log's filters and the unusual access's
period (GET forms, GOV.UK markup through the family forms' includes), and the subject access
export's confirmation."""

from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.core.exceptions import ValidationError

from accountability.serializers import ACTIONS, FOOTINGS, OUTCOMES
from audit.models import AccessAction
from cases import validators
from cases.forms import GovDateField
from reports import selectors as report_selectors

ACTION_LABELS = dict(AccessAction.choices)
OUTCOME_LABELS = {"allowed": "Allowed", "denied": "Refused"}
FOOTING_LABELS = {**report_selectors.FOOTING_LABELS, "none": report_selectors.REFUSED}
LONGEST_PERIOD_DAYS = 366


def _any(label: str, values, labels) -> list[tuple[str, str]]:
    return [("", label)] + [(v, labels[v]) for v in values]


class _Period(forms.Form):
    start = GovDateField(label="From", required=False)
    end = GovDateField(label="To", required=False)

    def clean(self):
        cleaned = super().clean()
        for name, what in (("start", "The start of the period"), ("end", "The end of the period")):
            try:
                validators.date_within(cleaned.get(name), what=what, ahead_days=366)
            except ValidationError as exc:
                self.add_error(name, exc.messages[0].rstrip("."))
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and end < start and not self.errors:
            self.add_error("end", "The end of the period cannot be before its start")
        return cleaned


class AuditFilterForm(_Period):
    """The agency-wide log's filters: each empty means any."""

    username = forms.CharField(label="Username", required=False, max_length=150)
    agency = forms.TypedChoiceField(
        label="Agency", required=False, coerce=int, empty_value=None, choices=()
    )
    family = forms.CharField(label="Family reference", required=False, max_length=20)
    action = forms.ChoiceField(
        label="Action", required=False, choices=_any("Any action", ACTIONS, ACTION_LABELS)
    )
    outcome = forms.ChoiceField(
        label="Outcome", required=False, choices=_any("Any outcome", OUTCOMES, OUTCOME_LABELS)
    )
    footing = forms.ChoiceField(
        label="Footing", required=False, choices=_any("Any footing", FOOTINGS, FOOTING_LABELS)
    )
    unusual = forms.BooleanField(
        label="Only reads outside the reader's caseload or team", required=False
    )

    def __init__(self, *args, agencies=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agency"].choices = [("", "Any agency")] + [
            (str(agency_id), name) for agency_id, name in agencies
        ]


class UnusualPeriodForm(_Period):
    """The unusual access's period: by default the 30 days to today; at most 366 days."""

    def __init__(self, *args, today: date, **kwargs):
        self.today = today
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end") or self.today
        if start and end < start and not self.has_error("end"):
            self.add_error("start", "The start of the period cannot be after today")
        elif start and (end - start).days > LONGEST_PERIOD_DAYS:
            self.add_error("start", "A period can be at most 366 days long")
        return cleaned

    def period(self) -> tuple[date, date]:
        """(first day, last day) of the period asked for."""
        end = self.cleaned_data.get("end") or self.today
        return self.cleaned_data.get("start") or end - timedelta(days=30), end


class SubjectAccessForm(forms.Form):
    """A confirmation: no fields."""
