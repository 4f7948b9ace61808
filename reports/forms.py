"""Forms of the report pages (GOV.UK markup through the family forms' includes)."""

from __future__ import annotations

from django import forms

from cases.forms import GovDateField
from reports.models import ReportFormat, ReportKind

COUNCIL_KINDS = [
    (
        ReportKind.CASELOAD.value,
        "Caseload: families by status, level of need, key worker and agency",
    ),
    (ReportKind.OUTCOMES.value, "Outcomes: needs by headline outcome, achieved and sustained"),
    (ReportKind.CLAIMS.value, "Results claims: every family judged at the end of the period"),
]


def _radios(choices, *, label: str, message: str) -> forms.ChoiceField:
    return forms.ChoiceField(
        choices=choices,
        widget=forms.RadioSelect,
        label=label,
        error_messages={"required": message, "invalid_choice": message},
    )


class ReportRequestForm(forms.Form):
    kind = _radios(COUNCIL_KINDS, label="Report", message="Select the report you want")
    format = _radios(ReportFormat.choices, label="Format", message="Select PDF or CSV")
    period_start = GovDateField(label="First day of the period")
    period_end = GovDateField(label="Last day of the period")


class FamilySummaryForm(forms.Form):
    format = _radios(ReportFormat.choices, label="Format", message="Select PDF or CSV")
