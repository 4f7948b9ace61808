"""UK identifiers, postcodes and dates: what a practitioner typing them in would expect.

The check-digit rules are written out again here from their published specifications, so a
mistake in cases/validators.py is not simply copied into the expectation.
"""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from cases import validators as v

# --- NHS number: modulus 11, weights 10..2 over the first nine digits -----------------------------


def nhs_check_digit(nine: str) -> int | None:
    """NHS Digital: 11 - (sum mod 11); 11 → 0; 10 → the number cannot be issued (None)."""
    remainder = sum(int(d) * (10 - i) for i, d in enumerate(nine)) % 11
    check = 11 - remainder
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


@pytest.mark.parametrize("number", ["9434765919", "4010232137", "9876543210", "4505577104"])
def test_nhs_number_valid(number):
    assert v.nhs_number_normalise(number) == number


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("943 476 5919", "9434765919"),
        ("943-476-5919", "9434765919"),
        (" 4010232137 ", "4010232137"),
    ],
)
def test_nhs_number_spacing_and_dashes_are_tidied(typed, stored):
    assert v.nhs_number_normalise(typed) == stored


@pytest.mark.parametrize(
    "number",
    [
        "9434765918",  # wrong check digit
        "9434765910",
        "4010232138",
        "943476591",  # nine digits
        "94347659190",  # eleven digits
        "943476591X",
        "",
        "abcdefghij",
        "９４３４７６５９１９",  # full-width digits are not NHS numbers
    ],
)
def test_nhs_number_invalid(number):
    with pytest.raises(ValidationError) as exc:
        v.nhs_number_normalise(number)
    assert exc.value.code == "invalid_nhs_number"


def test_nhs_number_whose_check_digit_would_be_10_is_invalid_whatever_the_last_digit():
    nine = next(
        f"{n:09d}" for n in range(100000000, 100001000) if nhs_check_digit(f"{n:09d}") is None
    )
    assert sum(int(d) * (10 - i) for i, d in enumerate(nine)) % 11 == 1
    for last in "0123456789":
        with pytest.raises(ValidationError):
            v.nhs_number_normalise(nine + last)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789", min_size=9, max_size=9), st.integers(0, 9))
def test_nhs_number_exactly_the_published_check_digit_is_accepted(nine, last):
    expected = nhs_check_digit(nine)
    number = f"{nine}{last}"
    if expected == last:
        assert v.nhs_number_normalise(number) == number
    else:
        with pytest.raises(ValidationError):
            v.nhs_number_normalise(number)


# --- UPN: DfE check letter over characters 2-13, weights 2..13, mod 23 ----------------------------

DFE_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"


def dfe_check_letter(body: str) -> str:
    total = 0
    for weight, char in enumerate(body, start=2):
        total += weight * (int(char) if char.isdigit() else DFE_LETTERS.index(char))
    return DFE_LETTERS[total % 23]


def test_upn_check_letter_agrees_with_the_dfe_rule():
    for body in [
        "80120000100" + "1",
        "93612345678" + "9",
        "20401234567" + "A",
        "00000000000" + "Z",
    ]:
        assert v.upn_check_letter(body) == dfe_check_letter(body)


@pytest.mark.parametrize("body", ["801200001001", "936123456789", "204012345670", "20401234567A"])
def test_upn_valid_when_built_with_its_check_letter(body):
    upn = v.upn_check_letter(body) + body
    assert v.upn_normalise(upn) == upn
    assert v.upn_normalise(f"  {upn.lower()} ") == upn


def test_upn_wrong_check_letter_is_invalid():
    body = "801200001001"
    right = v.upn_check_letter(body)
    for wrong in (c for c in DFE_LETTERS if c != right):
        with pytest.raises(ValidationError) as exc:
            v.upn_normalise(wrong + body)
        assert exc.value.code == "invalid_upn"


@pytest.mark.parametrize(
    "upn",
    [
        "",
        "A80120000100",  # 12 characters
        "A8012000010011",  # 14 characters
        "I801200001001",  # I is never a check letter
        "O801200001001",
        "S801200001001",
        "1801200001001",  # starts with a digit
        "A80120000100I",  # I not allowed as the last character
        "A8012000X1001",  # letter in the middle
    ],
)
def test_upn_malformed_is_invalid(upn):
    with pytest.raises(ValidationError):
        v.upn_normalise(upn)


@settings(max_examples=100, deadline=None)
@given(
    st.text(alphabet="0123456789", min_size=11, max_size=11),
    st.sampled_from(list("0123456789" + DFE_LETTERS)),
)
def test_upn_any_body_with_its_check_letter_is_valid(digits, last):
    body = digits + last
    assert v.upn_normalise(dfe_check_letter(body) + body) == dfe_check_letter(body) + body


# --- National Insurance numbers -------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("AB123456C", "AB123456C"),
        ("ab 12 34 56 c", "AB123456C"),
        ("AB123456A", "AB123456A"),
        ("JG103759A", "JG103759A"),
        ("ZY999999D", "ZY999999D"),
    ],
)
def test_ni_number_valid(typed, stored):
    assert v.ni_number_normalise(typed) == stored


@pytest.mark.parametrize(
    "ni",
    [
        # HMRC never uses Q as a prefix letter: QQ 12 34 56 C is the GOV.UK hint-text example
        # precisely because it can never be a real person's number.
        "QQ123456C",
        "BG123456C",  # administrative prefixes never issued
        "GB123456C",
        "KN123456C",
        "NK123456C",
        "NT123456C",
        "TN123456C",
        "ZZ123456C",
        "DA123456C",  # D, F, I, Q, U, V never first
        "FA123456C",
        "IA123456C",
        "UA123456C",
        "VA123456C",
        "AO123456C",  # O never second (nor D, F, I, Q, U, V)
        "AD123456C",
        "AQ123456C",
        "QQ123456E",  # suffix only A-D
        "QQ12345C",
        "QQ1234567C",
        "",
    ],
)
def test_ni_number_invalid(ni):
    with pytest.raises(ValidationError) as exc:
        v.ni_number_normalise(ni)
    assert exc.value.code == "invalid_ni_number"


# --- Postcodes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("SW1A 1AA", "SW1A 1AA"),
        ("ls14ap", "LS1 4AP"),
        ("EC1A 1BB", "EC1A 1BB"),
        ("M1 1AE", "M1 1AE"),
        ("m11ae", "M1 1AE"),
        ("B33 8TH", "B33 8TH"),
        ("CR2 6XH", "CR2 6XH"),
        ("DN55 1PT", "DN55 1PT"),
        ("W1A 0AX", "W1A 0AX"),
        ("  sw1a   1aa ", "SW1A 1AA"),
        ("GIR 0AA", "GIR 0AA"),
    ],
)
def test_postcode_valid_and_tidied(typed, stored):
    assert v.postcode_normalise(typed) == stored


@pytest.mark.parametrize(
    "postcode",
    [
        "",
        "SW1A",
        "12345",
        "SW1A 1AAA",
        "SW1A1AA1",
        "QW1 1AA",  # Q never first
        "VW1 1AA",  # V never first
        "M1 1CA",  # C never in the inward code's letters
        "M1 1AI",
        "LS1 AAP",
        "ZZ99 9ZZ",
        "not a postcode",
        None,
    ],
)
def test_postcode_invalid(postcode):
    with pytest.raises(ValidationError) as exc:
        v.postcode_normalise(postcode)
    assert exc.value.code == "invalid_postcode"


# --- Dates ----------------------------------------------------------------------------------------


def test_date_of_birth_in_the_future_is_refused():
    tomorrow = timezone.localdate() + timedelta(days=1)
    with pytest.raises(ValidationError) as exc:
        v.date_not_future(tomorrow, what="A date of birth")
    assert exc.value.code == "future_date"
    assert "date of birth" in exc.value.messages[0].lower()


def test_date_of_birth_today_or_earlier_or_unknown_is_fine():
    today = timezone.localdate()
    v.date_not_future(today)
    v.date_not_future(today - timedelta(days=365 * 40))
    v.date_not_future(None)


def test_dates_in_order():
    today = timezone.localdate()
    v.dates_in_order(today, today)
    v.dates_in_order(today, None)
    v.dates_in_order(None, today)
    with pytest.raises(ValidationError) as exc:
        v.dates_in_order(today, today - timedelta(days=1))
    assert exc.value.code == "end_before_start"
