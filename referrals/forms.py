"""The referral form and the front door's decision form: shapes only; the services decide."""

from django import forms

from cases.forms import GovDateField, _needed, _radios, _user_choice, staff_name
from cases.models import Relationship
from cases.selectors import outcome_list
from consent.models import ConsentMethod
from referrals.models import Decision, Urgency

PEOPLE = 3  # people rows on the form (a household is rarely larger at referral; add more later)
CONCERNS = 3


class ReferralForm(forms.Form):
    household_name = forms.CharField(
        label="Household name", max_length=200, error_messages=_needed("Enter the household name")
    )
    postcode = forms.CharField(
        label="Postcode", max_length=10, error_messages=_needed("Enter the postcode")
    )
    address = forms.CharField(
        label="Address", max_length=1000, required=False, widget=forms.Textarea
    )
    consent = _radios(
        [("yes", "Yes, the family consented"), ("no", "No, I am referring without consent")],
        label="Has the family consented to this referral?",
        required_message="Say whether the family consented",
    )
    consent_given_by = forms.CharField(label="Who consented", max_length=200, required=False)
    consent_method = _radios(ConsentMethod.choices, label="How", required=False)
    consent_given_on = GovDateField(label="When consent was given", required=False)
    no_consent_reason = forms.CharField(
        label="Why you are referring without consent",
        max_length=2000,
        required=False,
        widget=forms.Textarea,
    )
    urgency = _radios(Urgency.choices, label="Urgency", required_message="Select the urgency")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        relationships = [("", "Select")] + list(Relationship.choices)
        for n in range(1, PEOPLE + 1):
            first = n == 1
            self.fields[f"given_name_{n}"] = forms.CharField(
                label="First name",
                max_length=100,
                required=first,
                error_messages=_needed("Enter the first person's first name"),
            )
            self.fields[f"family_name_{n}"] = forms.CharField(
                label="Last name",
                max_length=100,
                required=first,
                error_messages=_needed("Enter the first person's last name"),
            )
            self.fields[f"date_of_birth_{n}"] = GovDateField(label="Date of birth", required=False)
            self.fields[f"relationship_{n}"] = forms.ChoiceField(
                label="Relationship",
                choices=relationships,
                required=first,
                error_messages=_needed("Select the first person's relationship"),
            )
            self.fields[f"nhs_number_{n}"] = forms.CharField(
                label="NHS number", max_length=20, required=False
            )
            self.fields[f"upn_{n}"] = forms.CharField(
                label="Unique pupil number", max_length=20, required=False
            )
        outcomes = [("", "Select")] + [(o.code, o.label) for o in outcome_list()]
        for n in range(1, CONCERNS + 1):
            first = n == 1
            self.fields[f"outcome_{n}"] = forms.ChoiceField(
                label="Headline outcome",
                choices=outcomes,
                required=first,
                error_messages=_needed("Select the outcome of the first concern"),
            )
            self.fields[f"descriptor_{n}"] = forms.CharField(
                label="What you are worried about",
                max_length=300,
                required=first,
                error_messages=_needed("Describe the first concern"),
            )

    def people_rows(self):
        return [
            [
                self[f"{name}_{n}"]
                for name in (
                    "given_name",
                    "family_name",
                    "date_of_birth",
                    "relationship",
                    "nhs_number",
                    "upn",
                )
            ]
            for n in range(1, PEOPLE + 1)
        ]

    def concern_rows(self):
        return [[self[f"outcome_{n}"], self[f"descriptor_{n}"]] for n in range(1, CONCERNS + 1)]

    def service_args(self) -> dict:
        """The arguments of `referral_create`, from the cleaned data."""
        data = self.cleaned_data
        people = []
        for n in range(1, PEOPLE + 1):
            if not (data.get(f"given_name_{n}") or data.get(f"family_name_{n}")):
                continue
            people.append(
                {
                    "given_name": data[f"given_name_{n}"],
                    "family_name": data[f"family_name_{n}"],
                    "date_of_birth": data.get(f"date_of_birth_{n}"),
                    "relationship": data.get(f"relationship_{n}") or "other",
                    "nhs_number": data.get(f"nhs_number_{n}", ""),
                    "upn": data.get(f"upn_{n}", ""),
                }
            )
        concerns = [
            {"outcome": data[f"outcome_{n}"], "descriptor": data.get(f"descriptor_{n}", "")}
            for n in range(1, CONCERNS + 1)
            if data.get(f"outcome_{n}")
        ]
        consented = data["consent"] == "yes"
        consent = (
            {
                "given_by": data.get("consent_given_by", ""),
                "method": data.get("consent_method", ""),
                "given_on": data.get("consent_given_on"),
            }
            if consented
            else None
        )
        return {
            "household": {
                "name": data["household_name"],
                "postcode": data["postcode"],
                "address": data.get("address", ""),
            },
            "people": people,
            "concerns": concerns,
            "consent": consent,
            "no_consent_reason": "" if consented else data.get("no_consent_reason", ""),
            "urgency": data["urgency"],
        }


class DecisionForm(forms.Form):
    decision = _radios(Decision.choices, label="Decision", required_message="Select the decision")
    reason = forms.CharField(
        label="Reason",
        max_length=2000,
        widget=forms.Textarea,
        error_messages=_needed("Enter the reason for the decision"),
    )
    family = forms.TypedChoiceField(
        label="Known family", coerce=int, empty_value=None, required=False
    )
    key_worker = _user_choice("Key worker", "Select the key worker")

    def __init__(self, *args, matches=(), key_workers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["family"].choices = [("", "A new family")] + [
            (m.family, f"{m.reference} ({m.status}, score {m.score})") for m in matches
        ]
        self.fields["key_worker"].choices = [
            ("", "Select the key worker"),
            *((s.user_id, f"{staff_name(s)} ({s.agency.name})") for s in key_workers),
        ]
