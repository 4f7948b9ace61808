"""Forms of the sign-in pages (password, the second factor's code) and the agency admin's staff
pages.

They check the shape of what was typed; the rules (a username free whatever its case, the
password's strength, who may act) stay in agencies/services.py, whose ValidationError messages
the views put on these forms' fields (`errors_from_service`).
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from agencies.models import StaffMember
from agencies.throttling import SignInRateThrottle

ROLE_CHOICES = StaffMember._meta.get_field("role").choices


class ThrottledSignInForm(AuthenticationForm):
    """The sign-in page's form, counted in the same budget of attempts per client address as the
    API's token endpoint and the Django admin's login (agencies/throttling.py).

    Beyond the limit it checks no password and fails with "Too many sign-in attempts. Try again
    in N seconds."; the page answers 429 with that error on the form (agencies/views.py `SignIn`):
    a person reads why and when to try again, and a script sees the same status as from the API.
    """

    throttle_wait: float | None = None

    def clean(self):
        throttle = SignInRateThrottle()
        if self.request is not None and not throttle.allow_request(self.request, None):
            self.throttle_wait = throttle.wait()
            raise ValidationError(throttle.refusal(), code="throttled")
        return super().clean()


class SecondFactorCodeForm(forms.Form):
    """The 6-digit code an authenticator app shows (spaces people type between digits allowed)."""

    code = forms.CharField(
        max_length=12,
        error_messages={"required": "Enter the 6-digit code from your authenticator app"},
    )

    def clean_code(self) -> str:
        code = "".join(self.cleaned_data["code"].split())
        if not (code.isascii() and code.isdigit() and len(code) == 6):
            raise ValidationError("Enter the 6-digit code from your authenticator app")
        return code


class StaffAddForm(forms.Form):
    first_name = forms.CharField(max_length=150, error_messages={"required": "Enter a first name"})
    last_name = forms.CharField(max_length=150, error_messages={"required": "Enter a last name"})
    username = forms.RegexField(
        regex=r"^[\w.@+-]+\Z",
        max_length=150,
        error_messages={
            "required": "Enter a username",
            "invalid": "A username can only have letters, numbers and the characters . @ + - _",
        },
    )
    email = forms.EmailField(
        required=False,
        max_length=254,
        error_messages={"invalid": "Enter an email address like name@example.org"},
    )
    role = forms.ChoiceField(choices=ROLE_CHOICES, error_messages={"required": "Select a role"})
    password1 = forms.CharField(
        strip=False, error_messages={"required": "Enter a password"}, widget=forms.PasswordInput
    )
    password2 = forms.CharField(
        strip=False,
        error_messages={"required": "Enter the password again"},
        widget=forms.PasswordInput,
    )

    def clean(self):
        cleaned = super().clean()
        first, second = cleaned.get("password1"), cleaned.get("password2")
        if first and second and first != second:
            self.add_error("password2", "The two passwords do not match")
        return cleaned


class StaffRoleForm(forms.Form):
    role = forms.ChoiceField(choices=ROLE_CHOICES, error_messages={"required": "Select a role"})


class StaffDeactivateForm(forms.Form):
    """A confirmation: no fields (deactivating an account, resetting an authenticator app)."""


# Fields of the services' ValidationError that a form names differently.
SERVICE_FIELDS = {"password": "password1"}


def errors_from_service(form: forms.Form, exc: ValidationError) -> None:
    """Put a service's ValidationError on the form: each message by its field, or at the top."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for field, errors in exc.message_dict.items():
        name = SERVICE_FIELDS.get(field, field)
        form.add_error(name if name in form.fields else None, errors)
