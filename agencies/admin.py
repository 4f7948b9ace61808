"""The Django admin for agencies and staff, and its hardening.

- Sign-in: the login form counts attempts in the same throttle as the API's token endpoint
  (agencies/throttling.py); beyond the limit it answers with the form and an error, and checks
  no password.
- API tokens: not shown (rest_framework.authtoken's page listed every token in plain text; the
  store is now django-rest-knox's, whose own page is not registered for our model). They are
  listed and revoked through the API (`/api/v1/auth/tokens/`).
- Staff: accounts are created and roles changed through agencies/services.py, so each is audited
  and alerted like the API's; the agency of a membership is not changed here (its group holds the
  agency's grants) and memberships are not deleted (deactivate the user instead).
"""

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from agencies import services
from agencies.models import Agency, StaffMember
from agencies.throttling import SignInRateThrottle


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    """The admin's login form, refusing to check a password once the address is over its limit.

    A form error rather than a bare 429: the admin is used in a browser, and the form tells the
    person why and when to try again; either way no password is checked beyond the limit.
    """

    def clean(self):
        throttle = SignInRateThrottle()
        if self.request is not None and not throttle.allow_request(self.request, None):
            raise ValidationError(throttle.refusal(), code="throttled")
        return super().clean()


admin.site.login_form = ThrottledAdminAuthenticationForm


class StaffMemberAddForm(forms.ModelForm):
    """A new staff account: the user and their membership, made by `services.staff_create`."""

    username = forms.RegexField(regex=r"^[\w.@+-]+\Z", max_length=150)
    password1 = forms.CharField(label="Password", strip=False, widget=forms.PasswordInput)
    password2 = forms.CharField(
        label="Password confirmation", strip=False, widget=forms.PasswordInput
    )
    email = forms.EmailField(required=False)
    first_name = forms.CharField(required=False, max_length=150)
    last_name = forms.CharField(required=False, max_length=150)

    class Meta:
        model = StaffMember
        fields = ["agency", "role"]

    def clean_username(self):
        username = self.cleaned_data["username"]
        if get_user_model().objects.filter(username__iexact=username).exists():
            raise ValidationError("This username is taken.")
        return username

    def clean(self):
        cleaned = super().clean()
        password = cleaned.get("password1")
        if password and password != cleaned.get("password2"):
            self.add_error("password2", "The two passwords do not match.")
        elif password:
            user = get_user_model()(
                username=cleaned.get("username", ""),
                email=cleaned.get("email", ""),
                first_name=cleaned.get("first_name", ""),
                last_name=cleaned.get("last_name", ""),
            )
            try:
                validate_password(password, user)
            except ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned


@admin.register(StaffMember)
class StaffMemberAdmin(admin.ModelAdmin):
    list_display = ["user", "agency", "role", "created_at"]
    list_filter = ["role", "agency"]
    list_select_related = ["user", "agency"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]
    fields = ["user", "agency", "role", "created_at"]
    readonly_fields = ["user", "agency", "created_at"]
    add_fields = [
        "username",
        "password1",
        "password2",
        "email",
        "first_name",
        "last_name",
        "agency",
        "role",
    ]

    def get_fields(self, request, obj=None):
        return self.add_fields if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = StaffMemberAddForm
            kwargs["fields"] = ["agency", "role"]
        return super().get_form(request, obj, change=change, **kwargs)

    def save_model(self, request, obj, form, change):
        if not change:
            data = form.cleaned_data
            staff = services.staff_create(
                agency=data["agency"],
                username=data["username"],
                password=data["password1"],
                role=data["role"],
                email=data["email"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                by_user=request.user,
            )
            obj.pk, obj.user, obj.created_at = staff.pk, staff.user, staff.created_at
        elif "role" in form.changed_data:
            services.staff_role_change(staff=obj, role=obj.role, by_user=request.user)

    def has_delete_permission(self, request, obj=None):
        return False


admin.site.register(Agency)
