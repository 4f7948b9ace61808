"""Writes for agencies and staff."""

import hashlib

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from agencies.models import Agency, StaffMember

User = get_user_model()


def _group_name(agency_name: str) -> str:
    """Unique like the agency name: a name too long for auth_group.name (150) ends in its hash."""
    name = f"agency:{agency_name}"
    if len(name) <= 150:
        return name
    digest = hashlib.sha256(agency_name.encode()).hexdigest()[:32]
    return f"{name[:117]}:{digest}"


@transaction.atomic
def agency_create(*, name: str, kind: str) -> Agency:
    taken = ValidationError({"name": ["An agency with this name already exists."]})
    if Agency.objects.filter(name__iexact=name).exists():
        raise taken
    try:
        with transaction.atomic():  # two creations racing: the database's unique indexes decide
            group = Group.objects.create(name=_group_name(name))
            return Agency.objects.create(name=name, kind=kind, group=group)
    except IntegrityError as exc:
        raise taken from exc


@transaction.atomic
def staff_create(
    *,
    agency: Agency,
    username: str,
    password: str,
    role: str,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    validate: bool = True,
) -> StaffMember:
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": ["This username is taken."]})
    user = User(username=username, email=email, first_name=first_name, last_name=last_name)
    if validate:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise ValidationError({"password": exc.messages}) from exc
    user.set_password(password)
    try:
        with transaction.atomic():  # two creations racing: the unique username decides
            user.save()
    except IntegrityError as exc:
        raise ValidationError({"username": ["This username is taken."]}) from exc
    user.groups.add(agency.group)
    return StaffMember.objects.create(user=user, agency=agency, role=role)
