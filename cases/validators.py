"""Validation of UK identifiers, postcodes and dates. Each raises django ValidationError."""

import re
from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.utils import timezone

POSTCODE_RE = re.compile(
    r"^(GIR ?0AA|(?:[A-PR-UWYZ][0-9][0-9]?|[A-PR-UWYZ][A-HK-Y][0-9][0-9]?"
    r"|[A-PR-UWYZ][0-9][A-HJKPSTUW]|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY])"
    r" ?[0-9][ABD-HJLNP-UW-Z]{2})$"
)
NI_RE = re.compile(r"^(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z][0-9]{6}[A-D]$")
UPN_RE = re.compile(r"^[A-HJKLMNPQRTUVWXYZ][0-9]{11}[0-9A-HJKLMNPQRTUVWXYZ]$")
UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"  # 23 letters, no I, O, S


def postcode_normalise(value: str) -> str:
    """Upper-case, single space before the inward code; raises if not a UK postcode."""
    compact = re.sub(r"\s+", "", (value or "").upper())
    if len(compact) < 5 or len(compact) > 7:
        raise ValidationError("Enter a real UK postcode, like SW1A 1AA.", code="invalid_postcode")
    formatted = f"{compact[:-3]} {compact[-3:]}"
    if not POSTCODE_RE.match(formatted):
        raise ValidationError("Enter a real UK postcode, like SW1A 1AA.", code="invalid_postcode")
    return formatted


def nhs_number_normalise(value: str) -> str:
    """Ten digits with a valid modulus 11 check digit (spaces allowed in input)."""
    digits = re.sub(r"[\s-]", "", value or "")
    if not re.fullmatch(r"[0-9]{10}", digits):
        raise ValidationError("An NHS number is 10 digits.", code="invalid_nhs_number")
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - (total % 11)
    if check == 11:
        check = 0
    if check == 10 or check != int(digits[9]):
        raise ValidationError("This NHS number fails its check digit.", code="invalid_nhs_number")
    return digits


def upn_check_letter(body: str) -> str:
    """Check letter for the 12 characters after it (DfE UPN specification)."""
    total = 0
    for weight, char in zip(range(2, 14), body, strict=True):
        value = int(char) if char.isdigit() else UPN_LETTERS.index(char)
        total += value * weight
    return UPN_LETTERS[total % 23]


def upn_normalise(value: str) -> str:
    upn = (value or "").strip().upper()
    if not UPN_RE.match(upn):
        raise ValidationError(
            "A UPN is a check letter, 11 digits and a digit or letter (13 characters).",
            code="invalid_upn",
        )
    if upn_check_letter(upn[1:]) != upn[0]:
        raise ValidationError("This UPN fails its check letter.", code="invalid_upn")
    return upn


def ni_number_normalise(value: str) -> str:
    ni = re.sub(r"\s+", "", (value or "").upper())
    if not NI_RE.match(ni):
        raise ValidationError(
            "Enter a National Insurance number like QQ 12 34 56 C.", code="invalid_ni_number"
        )
    return ni


def date_not_future(value: date | None, *, what: str = "This date") -> None:
    if value is not None and value > timezone.localdate():
        raise ValidationError(f"{what} cannot be in the future.", code="future_date")


def dates_in_order(start: date | None, end: date | None) -> None:
    if start and end and end < start:
        raise ValidationError("The end cannot be before the start.", code="end_before_start")


# Date bounds, per field: nothing in the case record happened before this day (the record's
# earliest history), and no one was born before 1900. How far ahead a date may be depends on the
# field (`date_within`'s `ahead_days`).
EARLIEST_CASE_DATE = date(2000, 1, 1)
EARLIEST_BIRTH_DATE = date(1900, 1, 1)


def date_within(
    value: date | None,
    *,
    what: str,
    earliest: date = EARLIEST_CASE_DATE,
    ahead_days: int = 0,
) -> None:
    """`value` (a date, or a datetime's day) is between `earliest` and `ahead_days` ahead."""
    if value is None:
        return
    day = value
    if isinstance(value, datetime):
        day = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    if day < earliest:
        raise ValidationError(
            f"{what} cannot be before {earliest:%-d %B %Y}.", code="date_too_early"
        )
    latest = timezone.localdate() + timedelta(days=ahead_days)
    if day > latest:
        if ahead_days == 0:
            raise ValidationError(f"{what} cannot be in the future.", code="future_date")
        raise ValidationError(f"{what} cannot be after {latest:%-d %B %Y}.", code="date_too_late")
