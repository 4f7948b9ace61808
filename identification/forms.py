"""Forms of the identification pages (GOV.UK markup through the family forms' includes)."""

from __future__ import annotations

from django import forms

from cases.forms import GovDateField
from identification.models import DEFAULT_PURPOSE, Decision, LegalGateway


class UploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file", error_messages={"required": "Choose the CSV file to upload"}
    )
    legal_gateway = forms.ChoiceField(
        choices=LegalGateway.choices,
        widget=forms.RadioSelect,
        label="Legal gateway",
        error_messages={"required": "Select the legal gateway the data is shared under"},
    )
    purpose = forms.CharField(
        label="Purpose",
        max_length=2000,
        initial=DEFAULT_PURPOSE,
        error_messages={"required": "Say what the data is shared for"},
    )
    observed_from = GovDateField(label="First day the rows cover")
    observed_to = GovDateField(label="Last day the rows cover")


DECISIONS = [
    (Decision.REFER.value, "Refer: open a family for early help"),
    (Decision.ALREADY_KNOWN.value, "Already known"),
    (Decision.NOT_NOW.value, "Not now"),
]


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=DECISIONS,
        widget=forms.RadioSelect,
        label="Decision",
        error_messages={"required": "Select a decision", "invalid_choice": "Select a decision"},
    )
    reason = forms.CharField(
        label="Reason", max_length=2000, error_messages={"required": "Give the reason"}
    )
