"""Forms of the family record's pages (cases/views.py). They check the shape of what was typed
(required, a real date, a choice offered); the services decide everything else, and their
field errors are put back on these forms' fields by the views.

Dates are GOV.UK date inputs: three text inputs named `<field>-day`, `<field>-month` and
`<field>-year` (`GovDateField`); the first carries the id `id_<field>` that the error summary
links to.
"""

from __future__ import annotations

import re
from datetime import date, time

from django import forms
from django.forms.boundfield import BoundField

from cases.models import (
    ActionStatus,
    ClosureReason,
    ContactMethod,
    InterventionKind,
    NeedStatus,
    Relationship,
    Visibility,
)

DATE_PARTS = ("day", "month", "year")


class DateInputs(forms.Widget):
    """The GOV.UK date input's three fields, read as (day, month, year) strings."""

    def value_from_datadict(self, data, files, name):
        return tuple(str(data.get(f"{name}-{part}", "")).strip() for part in DATE_PARTS)

    def value_omitted_from_data(self, data, files, name):
        return not any(f"{name}-{part}" in data for part in DATE_PARTS)


class DateBoundField(BoundField):
    @property
    def parts(self) -> dict[str, str]:
        """What the three inputs show: the typed text after a submission, else the initial
        date."""
        value = self.value()
        if isinstance(value, date):
            return {"day": value.day, "month": value.month, "year": value.year}
        if isinstance(value, (tuple, list)) and len(value) == 3:
            return dict(zip(DATE_PARTS, value, strict=True))
        return dict.fromkeys(DATE_PARTS, "")


class GovDateField(forms.Field):
    """A date typed as day, month and year, with the Design System's error messages."""

    widget = DateInputs

    def __init__(self, *, label: str, required: bool = True, **kwargs):
        kwargs.setdefault(
            "error_messages", {"required": f"Enter the {label[0].lower()}{label[1:]}"}
        )
        super().__init__(label=label, required=required, **kwargs)

    def get_bound_field(self, form, field_name):
        return DateBoundField(form, self, field_name)

    def to_python(self, value):
        if isinstance(value, date) or value in self.empty_values:
            return value or None
        day, month, year = value
        if not (day or month or year):
            return None
        missing = [part for part, text in zip(DATE_PARTS, value, strict=True) if not text]
        if missing:
            raise forms.ValidationError(f"{self.label} must include a {' and a '.join(missing)}")
        if not (day.isdigit() and month.isdigit() and year.isdigit()):
            raise forms.ValidationError(f"{self.label} must be a real date")
        if len(year) != 4:
            raise forms.ValidationError("Year must include 4 numbers")
        try:
            return date(int(year), int(month), int(day))
        except ValueError:
            raise forms.ValidationError(f"{self.label} must be a real date") from None


TIME_RE = re.compile(r"^\s*(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm)?\s*$", re.IGNORECASE)


class TimeTextField(forms.Field):
    """A time of day typed as text: 14:30, 9.05, 2:30pm."""

    widget = forms.TextInput

    def to_python(self, value):
        text = str(value or "").strip()
        if not text:
            return None
        match = TIME_RE.match(text[:20])
        if not match:
            raise forms.ValidationError("Enter a time like 14:30")
        hour, minute, half = int(match[1]), int(match[2] or 0), (match[3] or "").lower()
        if half:
            if not 1 <= hour <= 12:
                raise forms.ValidationError("Enter a real time")
            hour = hour % 12 + (12 if half == "pm" else 0)
        if hour > 23 or minute > 59:
            raise forms.ValidationError("Enter a real time")
        return time(hour, minute)


class BoundedMultipleChoice(forms.ModelMultipleChoiceField):
    """Several ids among the queryset's; an id no database column could hold is an invalid
    choice here, not a query (SQLite raises on an `IN` beyond 64 bits)."""

    widget = forms.CheckboxSelectMultiple

    def _check_values(self, value):
        for item in value:
            text = str(item)
            if not text.isdigit() or int(text) >= 2**63:
                raise forms.ValidationError(
                    self.error_messages["invalid_choice"],
                    code="invalid_choice",
                    params={"value": text},
                )
        return super()._check_values(value)


class PersonChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.given_name} {obj.family_name}"


class PersonChoices(BoundedMultipleChoice):
    def label_from_instance(self, obj):
        return f"{obj.given_name} {obj.family_name}"


class NeedChoices(BoundedMultipleChoice):
    def label_from_instance(self, obj):
        return f"{obj.outcome.label}: {obj.descriptor}"


def _radios(choices, *, required_message: str | None = None, **kwargs):
    if required_message:
        kwargs["error_messages"] = {"required": required_message}
    return forms.ChoiceField(choices=choices, widget=forms.RadioSelect, **kwargs)


def _needed(message: str) -> dict:
    """The Design System's message for a required field left empty."""
    return {"required": message}


VISIBILITY_CHOICES = [
    (Visibility.TEAM, "The whole team"),
    (Visibility.RESTRICTED, "Restricted: my agency, the key worker and lead-agency managers"),
]


class FamilyScopedForm(forms.Form):
    """A form about one family: choices of its members, needs, agencies come from it."""

    def __init__(self, *args, family, **kwargs):
        self.family = family
        super().__init__(*args, **kwargs)


class ContactForm(FamilyScopedForm):
    occurred_on = GovDateField(label="Date of the contact")
    occurred_time = TimeTextField(
        label="Time", error_messages={"required": "Enter the time of the contact"}
    )
    method = _radios(
        ContactMethod.choices,
        label="How was the contact made?",
        required_message="Select how the contact was made",
    )
    summary = forms.CharField(
        label="What happened",
        max_length=10000,
        widget=forms.Textarea,
        error_messages=_needed("Enter what happened"),
    )
    persons = PersonChoices(queryset=None, required=False, label="Who was there")
    visibility = _radios(
        VISIBILITY_CHOICES,
        label="Who can see this",
        initial=Visibility.TEAM,
        required_message="Select who can see this",
    )

    def __init__(self, *args, family, **kwargs):
        super().__init__(*args, family=family, **kwargs)
        self.fields["persons"].queryset = family.members.all()


class InterventionForm(FamilyScopedForm):
    kind = forms.ChoiceField(
        label="Type of intervention",
        choices=[("", "Choose a type"), *InterventionKind.choices],
        error_messages=_needed("Select the type of intervention"),
    )
    title = forms.CharField(label="Title", max_length=200, error_messages=_needed("Enter a title"))
    started_on = GovDateField(label="Start date")
    ended_on = GovDateField(label="End date", required=False)
    needs = NeedChoices(queryset=None, required=False, label="Needs it addresses")
    persons = PersonChoices(queryset=None, required=False, label="Who it is for")
    outcome = forms.CharField(
        label="Outcome", max_length=5000, required=False, widget=forms.Textarea
    )
    visibility = _radios(
        VISIBILITY_CHOICES,
        label="Who can see this",
        initial=Visibility.TEAM,
        required_message="Select who can see this",
    )

    def __init__(self, *args, family, **kwargs):
        super().__init__(*args, family=family, **kwargs)
        self.fields["needs"].queryset = family.needs.select_related("outcome")
        self.fields["persons"].queryset = family.members.all()


class MemberForm(FamilyScopedForm):
    given_name = forms.CharField(
        label="First name", max_length=100, error_messages=_needed("Enter their first name")
    )
    family_name = forms.CharField(
        label="Last name", max_length=100, error_messages=_needed("Enter their last name")
    )
    date_of_birth = GovDateField(label="Date of birth", required=False)
    expected_birth_on = GovDateField(
        label="Expected date of birth of their baby (an expectant parent)", required=False
    )
    relationship = _radios(
        Relationship.choices,
        label="Relationship in the household",
        required_message="Select their relationship in the household",
    )
    nhs_number = forms.CharField(label="NHS number", max_length=20, required=False)
    upn = forms.CharField(label="Unique pupil number (UPN)", max_length=20, required=False)
    ni_number = forms.CharField(label="National Insurance number", max_length=20, required=False)
    parental_responsibility = forms.BooleanField(
        label="Has parental responsibility for the children of the household", required=False
    )
    competent_to_consent = forms.BooleanField(
        label="Aged 12 or over and competent to decide about sharing their information",
        required=False,
    )


class TeamAgencyForm(forms.Form):
    """First step of adding to the team: which agency (sent with GET)."""

    agency = forms.ModelChoiceField(
        queryset=None,
        label="Agency",
        empty_label="Choose an agency",
        error_messages=_needed("Select an agency"),
    )

    def __init__(self, *args, agencies, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agency"].queryset = agencies


def staff_name(staff) -> str:
    return staff.user.get_full_name() or staff.user.username


def _user_choice(label: str, empty: str) -> forms.TypedChoiceField:
    """A choice of staff by user id (the choices are set per form)."""
    return forms.TypedChoiceField(
        label=label, coerce=int, empty_value=None, required=False, choices=[("", empty)]
    )


class TeamMemberForm(forms.Form):
    agency = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=2**63 - 1)
    practitioner = _user_choice("Named practitioner (optional)", "No named practitioner")
    role = forms.CharField(
        label="Their role with the family (optional)", max_length=200, required=False
    )

    def __init__(self, *args, practitioners, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["practitioner"].choices = [
            ("", "No named practitioner"),
            *((s.user_id, staff_name(s)) for s in practitioners),
        ]


class OutcomeChoice(forms.ModelChoiceField):
    widget = forms.RadioSelect

    def label_from_instance(self, obj):
        return obj.label


class NeedForm(FamilyScopedForm):
    outcome = OutcomeChoice(
        queryset=None,
        label="Headline outcome",
        empty_label=None,
        error_messages=_needed("Select the headline outcome"),
    )
    person = PersonChoice(
        queryset=None,
        required=False,
        label="Family member (optional)",
        empty_label="The whole family",
    )
    descriptor = forms.CharField(
        label="Describe the need", max_length=300, error_messages=_needed("Describe the need")
    )
    evidence = forms.CharField(
        label="Evidence (optional)", max_length=5000, required=False, widget=forms.Textarea
    )

    def __init__(self, *args, family, outcomes, **kwargs):
        super().__init__(*args, family=family, **kwargs)
        self.fields["outcome"].queryset = outcomes
        self.fields["person"].queryset = family.members.all()


class VersionedForm(forms.Form):
    """Carries the version of the record the page showed (optimistic concurrency)."""

    version = forms.IntegerField(
        widget=forms.HiddenInput,
        min_value=1,
        max_value=2**31 - 1,
        error_messages=_needed("This page is out of date: open it again from the family's page"),
    )


class NeedStatusForm(VersionedForm):
    status = _radios(NeedStatus.choices, label="Status", required_message="Select the status")
    achieved_on = GovDateField(label="Date achieved (if achieved)", required=False)


class AssessmentForm(forms.Form):
    completed_on = GovDateField(label="Date completed")
    summary = forms.CharField(
        label="Summary of the whole-family assessment",
        max_length=20000,
        widget=forms.Textarea,
        error_messages=_needed("Enter a summary of the assessment"),
    )


class AgencyChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.name


class PlanActionForm(FamilyScopedForm):
    description = forms.CharField(
        label="Action",
        max_length=2000,
        widget=forms.Textarea,
        error_messages=_needed("Enter the action"),
    )
    owner_agency = AgencyChoice(
        queryset=None,
        label="Agency responsible",
        empty_label="Choose an agency",
        error_messages=_needed("Select the agency responsible"),
    )
    due_on = GovDateField(label="Due date")
    needs = NeedChoices(queryset=None, required=False, label="Needs it addresses")
    status = _radios(
        ActionStatus.choices,
        label="Status",
        initial=ActionStatus.OPEN,
        required_message="Select the status",
    )

    def __init__(self, *args, family, agencies, **kwargs):
        super().__init__(*args, family=family, **kwargs)
        self.fields["owner_agency"].queryset = agencies
        self.fields["needs"].queryset = family.needs.select_related("outcome")


class PlanActionEditForm(PlanActionForm):
    version = VersionedForm.base_fields["version"]


LEVEL_CHOICES = [
    ("", "Not set"),
    ("1", "1: Universal"),
    ("2", "2: Early help (single agency)"),
    ("3", "3: Early help (multi-agency)"),
    ("4", "4: Specialist / statutory"),
]


class FamilyEditForm(VersionedForm):
    name = forms.CharField(
        label="Household name", max_length=200, error_messages=_needed("Enter the household name")
    )
    address = forms.CharField(
        label="Address", max_length=1000, required=False, widget=forms.Textarea
    )
    postcode = forms.CharField(
        label="Postcode", max_length=10, error_messages=_needed("Enter the postcode")
    )
    level_of_need = forms.TypedChoiceField(
        label="Level of need",
        choices=LEVEL_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
        widget=forms.RadioSelect,
    )
    next_review_on = GovDateField(label="Next review", required=False)
    key_worker = _user_choice("Key worker", "No key worker")

    def __init__(self, *args, key_workers=None, **kwargs):
        """`key_workers`: the staff the person may allocate (None: they allocate no one, and
        the form has no key worker field)."""
        super().__init__(*args, **kwargs)
        if key_workers is None:
            del self.fields["key_worker"]
        else:
            self.fields["key_worker"].choices = [
                ("", "No key worker"),
                *((s.user_id, f"{staff_name(s)} ({s.agency.name})") for s in key_workers),
            ]


# --- the family's lifecycle (cases/lifecycle.py) and reviews -----------------------------------


def _reason_field(label: str, message: str = "Enter the reason") -> forms.CharField:
    return forms.CharField(
        label=label, max_length=2000, widget=forms.Textarea, error_messages=_needed(message)
    )


class FamilyCloseForm(forms.Form):
    reason = _radios(
        ClosureReason.choices,
        label="Why is the case closing?",
        required_message="Select the reason",
    )
    outcome_summary = forms.CharField(
        label="Outcome summary",
        max_length=4000,
        widget=forms.Textarea,
        error_messages=_needed("Enter the outcome summary"),
    )


class FamilyReopenForm(forms.Form):
    reason = _reason_field("Why is the family's case reopening?")
    key_worker = _user_choice("Key worker", "Keep the current key worker")

    def __init__(self, *args, key_workers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["key_worker"].choices = [
            ("", "Keep the current key worker"),
            *((s.user_id, f"{staff_name(s)} ({s.agency.name})") for s in key_workers),
        ]


class FamilyStepForm(forms.Form):
    to_agency = forms.TypedChoiceField(
        label="Agency", coerce=int, error_messages=_needed("Select the agency")
    )
    reason = _reason_field("Reason for the decision")
    keep_involvement = forms.BooleanField(required=False)
    key_worker = _user_choice("Key worker", "No key worker yet")

    def __init__(self, *args, agencies=(), key_workers=(), keep_label="", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_agency"].choices = [("", "Select the agency")] + [
            (a.id, a.name) for a in agencies
        ]
        self.fields["key_worker"].choices = [
            ("", "No key worker yet"),
            *((s.user_id, f"{staff_name(s)} ({s.agency.name})") for s in key_workers),
        ]
        self.fields["keep_involvement"].label = keep_label


class ReviewForm(forms.Form):
    held_on = GovDateField(label="Date of the meeting")
    attendees = forms.TypedMultipleChoiceField(
        label="Agencies at the meeting",
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        error_messages=_needed("Select the agencies that came"),
    )
    decisions = forms.CharField(
        label="Decisions",
        max_length=4000,
        widget=forms.Textarea,
        error_messages=_needed("Enter the meeting's decisions"),
    )
    plan_changes = forms.CharField(
        label="Changes to the plan", max_length=4000, widget=forms.Textarea, required=False
    )
    next_review_on = GovDateField(label="Next review")

    def __init__(self, *args, agencies=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attendees"].choices = [(a.id, a.name) for a in agencies]
