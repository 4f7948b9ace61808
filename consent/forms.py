"""Forms of the sharing and emergency access pages (consent/views.py): the shape of what was
typed; consent/services.py decides the rest (who may give consent, the deciding manager, dates)."""

from __future__ import annotations

from django import forms

from cases.forms import BoundedMultipleChoice, FamilyScopedForm, GovDateField, PersonChoices
from consent.models import BasisKind, ConsentMethod, EmergencyAccess, Purpose


class AgencyChoices(BoundedMultipleChoice):
    def label_from_instance(self, obj):
        return obj.name


EARLY_HELP_CHOICES = [("", "Not asked"), ("yes", "Yes"), ("no", "No")]


class SharingBasisForm(FamilyScopedForm):
    basis = forms.ChoiceField(
        label="Lawful basis for sharing",
        choices=BasisKind.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Select the lawful basis for sharing"},
    )
    agencies = AgencyChoices(
        queryset=None,
        label="Agencies it covers",
        error_messages={"required": "Select the agencies it covers"},
    )
    purposes = forms.MultipleChoiceField(
        label="Purposes",
        error_messages={"required": "Select at least one purpose"},
        choices=Purpose.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[Purpose.TEAM_SHARING],
    )
    # With consent.
    given_by = PersonChoices(queryset=None, required=False, label="Who gave consent")
    method = forms.ChoiceField(
        label="How consent was given",
        choices=ConsentMethod.choices,
        widget=forms.RadioSelect,
        required=False,
    )
    expires_on = GovDateField(label="Consent expires on", required=False)
    # Without consent.
    justification = forms.CharField(
        label="Why the information is shared without consent",
        max_length=5000,
        required=False,
        widget=forms.Textarea,
    )
    decided_by = forms.TypedChoiceField(
        label="Lead-agency manager who decided",
        coerce=int,
        empty_value=None,
        required=False,
        choices=[("", "Choose a manager")],
    )
    review_on = GovDateField(label="Review by", required=False)
    # Either.
    special_category_condition = forms.CharField(
        label="Condition for special category data (optional)", max_length=200, required=False
    )
    agrees_to_early_help = forms.ChoiceField(
        label="Does the family agree to receive early help?",
        choices=EARLY_HELP_CHOICES,
        widget=forms.RadioSelect,
        required=False,
        initial="",
    )

    def __init__(self, *args, family, agencies, managers, **kwargs):
        super().__init__(*args, family=family, **kwargs)
        self.fields["agencies"].queryset = agencies
        self.fields["given_by"].queryset = family.members.all()
        self.fields["decided_by"].choices = [
            ("", "Choose a manager"),
            *((user.id, user.get_full_name() or user.username) for user in managers),
        ]

    def clean_agrees_to_early_help(self):
        return {"yes": True, "no": False}.get(self.cleaned_data.get("agrees_to_early_help"))


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label="Why is sharing withdrawn?",
        max_length=5000,
        widget=forms.Textarea,
        error_messages={"required": "Enter why sharing is withdrawn"},
    )


class EmergencyAccessForm(forms.Form):
    reason = forms.CharField(
        label="Why do you need this family's record now?",
        min_length=10,
        max_length=5000,
        widget=forms.Textarea,
        error_messages={
            "required": "Enter why you need emergency access",
            "min_length": "Give the reason in at least 10 characters",
        },
    )


class EmergencyApprovalForm(forms.Form):
    stage = forms.CharField(widget=forms.HiddenInput, initial="approval")
    decision = forms.ChoiceField(
        label="Your decision",
        choices=[("approve", "Approve: access starts now, for 4 hours"), ("refuse", "Refuse")],
        widget=forms.RadioSelect,
        error_messages={"required": "Choose whether to approve or refuse the request"},
    )
    notes = forms.CharField(
        label="Notes (optional)", max_length=5000, required=False, widget=forms.Textarea
    )


class EmergencyReviewForm(forms.Form):
    stage = forms.CharField(widget=forms.HiddenInput, initial="review")
    decision = forms.ChoiceField(
        label="Was the emergency access justified?",
        choices=[
            (EmergencyAccess.Decision.UPHELD, "Upheld: it was justified"),
            (
                EmergencyAccess.Decision.NOT_JUSTIFIED,
                "Not justified: access ends now, and further requests need approval",
            ),
        ],
        widget=forms.RadioSelect,
        error_messages={"required": "Choose whether the access was justified"},
    )
    notes = forms.CharField(label="Notes", max_length=5000, required=False, widget=forms.Textarea)
