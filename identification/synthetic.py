"""A synthetic council's datasets with known truth, for the matching's tests, the demo and the
bench: deterministic by seed, no real person in it.

Six agencies (school, police, health, housing, jobcentre, children's social care) each hold
indicator rows about people of the council's households. The same person reaches them written
differently, as real data does: typos, transposed letters, nicknames, day and month swapped,
missing dates of birth, a household that moved (some agencies still hold the old address), and
streets where several households share a surname. Every row carries its truth (`person_key`,
`household_key`), which the product never reads: the tests compare the matching's answer with it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from cases.validators import upn_check_letter
from identification.names import NICKNAMES

# The agencies and the indicators each holds (codes of identification.indicators.INDICATORS),
# with who in a household the indicator is about.
AGENCY_INDICATORS: dict[str, list[tuple[str, str]]] = {
    "school": [("school_attendance", "child"), ("school_suspension", "child")],
    "police": [("asb", "adult"), ("offending", "any"), ("domestic_abuse_notification", "adult")],
    "health": [("mental_health", "adult"), ("substance_misuse", "adult")],
    "housing": [("rent_arrears", "adult"), ("homelessness", "adult")],
    "jobcentre": [("out_of_work_benefits", "adult")],
    "social_care": [("child_in_need", "child"), ("child_protection_plan", "child")],
}
AGENCIES = list(AGENCY_INDICATORS)

GIVEN_MALE = [
    "William",
    "James",
    "Robert",
    "Thomas",
    "Daniel",
    "Joseph",
    "Michael",
    "Christopher",
    "Anthony",
    "Matthew",
    "Andrew",
    "Joshua",
    "Benjamin",
    "Samuel",
    "Nicholas",
    "Alexander",
    "Jonathan",
    "Richard",
    "Edward",
    "Charles",
    "Oliver",
    "Harry",
    "Jack",
    "George",
    "Noah",
    "Leo",
    "Arthur",
    "Muhammad",
    "Oscar",
    "Jacob",
    "Ethan",
    "Dylan",
    "Kyle",
    "Liam",
    "Mason",
    "Reuben",
    "Tyler",
    "Kian",
    "Ryan",
    "Connor",
    "Adam",
    "Ibrahim",
    "Yusuf",
    "Kacper",
    "Jakub",
]
GIVEN_FEMALE = [
    "Elizabeth",
    "Katherine",
    "Margaret",
    "Jennifer",
    "Rebecca",
    "Victoria",
    "Jessica",
    "Samantha",
    "Abigail",
    "Alexandra",
    "Natalie",
    "Deborah",
    "Susan",
    "Patricia",
    "Olivia",
    "Amelia",
    "Isla",
    "Ava",
    "Mia",
    "Sophia",
    "Grace",
    "Lily",
    "Freya",
    "Emily",
    "Ella",
    "Poppy",
    "Chloe",
    "Zara",
    "Aisha",
    "Maya",
    "Hannah",
    "Leah",
    "Megan",
    "Jade",
    "Shannon",
    "Courtney",
    "Fatima",
    "Amira",
    "Zofia",
    "Julia",
    "Niamh",
    "Siobhan",
    "Kayleigh",
    "Paige",
    "Ruby",
]
SURNAMES = [
    "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas",
    "Johnson", "Roberts", "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards",
    "Hughes", "Green", "Hall", "Lewis", "Harris", "Clarke", "Patel", "Jackson", "Wood", "Turner",
    "Martin", "Cooper", "Hill", "Ward", "Morris", "Moore", "Clark", "Lee", "King", "Baker",
    "Harrison", "Morgan", "Allen", "James", "Scott", "Phillips", "Watson", "Davis", "Parker",
    "Price", "Bennett", "Young", "Griffiths", "Mitchell", "Kelly", "Cook", "Carter", "Richardson",
    "Bailey", "Collins", "Bell", "Shaw", "Murphy", "Miller", "Cox", "Richards", "Khan", "Marshall",
    "Anderson", "Simpson", "Ellis", "Adams", "Singh", "Begum", "Wilkinson", "Foster", "Chapman",
    "Powell", "Webb", "Rogers", "Gray", "Mason", "Ali", "Hunt", "Hussain", "Campbell", "Matthews",
    "Owen", "Palmer", "Holmes", "Mills", "Barnes", "Knight", "Lloyd", "Butler", "Russell",
    "Barker", "Fisher", "Stevens", "Jenkins", "Murray", "Dixon", "Harvey", "Nowak", "Kowalski",
    "Okafor", "Mensah", "Ahmed", "Rahman", "Osei", "Byrne", "Doherty", "Quinn", "Fletcher",
    "Ferguson", "Whitehead", "Sutcliffe", "Gallagher", "Pearson", "Sheikh", "Iqbal", "Chowdhury",
]  # fmt: skip
STREET_NAMES = [
    "Acacia", "Albert", "Alma", "Ash", "Beech", "Birch", "Bridge", "Brook", "Castle", "Cedar",
    "Chapel", "Church", "Clarence", "Cross", "Dale", "Elm", "Fern", "Gladstone", "Grange",
    "Green", "Grove", "Hawthorn", "Heath", "High", "Hill", "Holly", "Kings", "Lark", "Laurel",
    "Lime", "Maple", "Market", "Mill", "Moor", "Nelson", "Oak", "Orchard", "Park", "Poplar",
    "Princes", "Queens", "Railway", "Regent", "Rose", "School", "Spring", "Station", "Victoria",
    "Willow", "Windsor", "York",
]  # fmt: skip
UNIT = "ABDEFGHJLNPQRSTUWXYZ"  # the letters a postcode's unit may have
NI_FIRST = "ABCEGHJKLMNPRSTWXYZ"
NI_SECOND = "ABCEGHJKLMNPRSTWXYZ"
STREET_KINDS = ["Street", "Road", "Avenue", "Close", "Lane", "Terrace", "Way", "Gardens"]
POSTCODE_AREAS = ["LS", "BD", "HX", "HD", "WF"]

# How often each kind of difference reaches a row (each independently).
TYPO = 0.12
TRANSPOSED = 0.06
NICKNAME = 0.25
DAY_MONTH_SWAPPED = 0.06
DOB_MISSING = 0.10
MOVED_HOUSEHOLD = 0.15  # a household moved: rows written before the move carry the old address
SHARED_SURNAME_STREET = 0.3  # a street where several households share one surname
IDENTIFIER_HELD = {"health": "nhs_number", "school": "upn", "jobcentre": "ni_number"}


@dataclass
class Member:
    key: str
    given_name: str
    family_name: str
    date_of_birth: date
    adult: bool
    nhs_number: str
    upn: str
    ni_number: str


@dataclass
class Household:
    key: str
    members: list[Member]
    address: str
    postcode: str
    old_address: str = ""
    old_postcode: str = ""
    outcomes: set[str] = field(default_factory=set)


@dataclass
class Council:
    households: list[Household]
    rows: dict[str, list[dict]]  # agency -> indicator rows (CSV columns, plus the truth)
    # Households already on the case record, and whether their family is open.
    known: dict[str, bool]

    def candidate_keys(self, outcome_of: dict[str, str], min_outcomes: int) -> set[str]:
        """The households whose rows cover at least `min_outcomes` headline outcomes: the
        truth a matching run should find."""
        covered: dict[str, set[str]] = {}
        for rows in self.rows.values():
            for row in rows:
                covered.setdefault(row["household_key"], set()).add(outcome_of[row["indicator"]])
        return {key for key, outcomes in covered.items() if len(outcomes) >= min_outcomes}


def council_generate(*, seed: int, households: int, indicator_rows: int | None = None) -> Council:
    """A council of `households` households with indicator rows from six agencies. With
    `indicator_rows`, households are made until that many rows exist (the bench's size);
    otherwise a household has 0 to 6 indicators' worth of rows."""
    rng = random.Random(seed)
    expected = households if indicator_rows is None else indicator_rows // 2
    streets = _streets(rng, max(4, expected // 12))
    made: list[Household] = []
    rows: dict[str, list[dict]] = {agency: [] for agency in AGENCIES}
    counter = {"rows": 0, "nhs": 0, "ni": 0, "upn": 0}
    known: dict[str, bool] = {}
    n = 0
    while (indicator_rows is None and n < households) or (
        indicator_rows is not None and counter["rows"] < indicator_rows
    ):
        household = _household(rng, n, streets, counter)
        made.append(household)
        _indicator_rows(rng, household, rows, counter)
        if rng.random() < 0.08:
            known[household.key] = rng.random() < 0.5
        n += 1
    if indicator_rows is not None:  # exactly the size asked for
        extra = counter["rows"] - indicator_rows
        for agency in reversed(AGENCIES):
            cut = min(extra, len(rows[agency]))
            if cut:
                del rows[agency][-cut:]
                extra -= cut
    return Council(households=made, rows=rows, known=known)


def _streets(rng: random.Random, count: int) -> list[dict]:
    streets = []
    for i in range(count):
        area = rng.choice(POSTCODE_AREAS)
        district = rng.randint(1, 29)
        sector = rng.randint(1, 9)
        shared = rng.choice(SURNAMES) if rng.random() < SHARED_SURNAME_STREET else ""
        streets.append(
            {
                "name": f"{rng.choice(STREET_NAMES)} {rng.choice(STREET_KINDS)}",
                "postcode": f"{area}{district} {sector}{rng.choice(UNIT)}{rng.choice(UNIT)}",
                "surname": shared,
                "next": rng.randint(1, 20),
                "index": i,
            }
        )
    return streets


def _address(rng: random.Random, streets: list[dict]) -> tuple[str, str, dict]:
    street = rng.choice(streets)
    number = street["next"]
    street["next"] += rng.randint(1, 3)
    return f"{number} {street['name']}", street["postcode"], street


def _household(rng: random.Random, n: int, streets: list[dict], counter: dict) -> Household:
    address, postcode, street = _address(rng, streets)
    surname = street["surname"] or rng.choice(SURNAMES)
    today = date(2026, 11, 1)
    adults = 1 if rng.random() < 0.4 else 2
    children = rng.choice([0, 1, 1, 2, 2, 2, 3, 3, 4])
    members = []
    taken: set[str] = set()
    for i in range(adults + children):
        adult = i < adults
        female = (i == 0) if adult and adults == 2 else rng.random() < 0.5
        # No two members share a given name or a familiar form of one (Alex for Alexandra
        # and Alexander): a household that did would be told apart by birth dates alone.
        given = rng.choice(GIVEN_FEMALE if female else GIVEN_MALE)
        while _forms(given) & taken:
            given = rng.choice(GIVEN_FEMALE if female else GIVEN_MALE)
        taken |= _forms(given)
        family_name = (
            surname if (not adult or i == 0 or rng.random() < 0.6) else rng.choice(SURNAMES)
        )
        age_days = rng.randint(19 * 365, 55 * 365) if adult else rng.randint(200, 17 * 365)
        members.append(
            Member(
                key=f"P{n:07d}-{i}",
                given_name=given,
                family_name=family_name,
                date_of_birth=today - timedelta(days=age_days),
                adult=adult,
                nhs_number=_nhs_number(counter),
                upn="" if adult else _upn(counter),
                ni_number=_ni_number(rng, counter) if adult else "",
            )
        )
    household = Household(key=f"H{n:07d}", members=members, address=address, postcode=postcode)
    if rng.random() < MOVED_HOUSEHOLD:
        household.old_address, household.old_postcode, _ = _address(rng, streets)
    return household


def _nhs_number(counter: dict) -> str:
    """A valid NHS number (modulus 11 check digit), unique within the council."""
    while True:
        counter["nhs"] += 1
        body = f"{400000000 + counter['nhs']:09d}"
        check = 11 - sum(int(d) * w for d, w in zip(body, range(10, 1, -1), strict=True)) % 11
        if check == 11:
            check = 0
        if check != 10:
            return f"{body}{check}"


def _upn(counter: dict) -> str:
    counter["upn"] += 1
    body = f"{counter['upn']:011d}0"
    return upn_check_letter(body) + body


def _ni_number(rng: random.Random, counter: dict) -> str:
    counter["ni"] += 1
    prefix = "GB"
    while prefix in ("BG", "GB", "KN", "NK", "NT", "TN", "ZZ"):
        prefix = rng.choice(NI_FIRST) + rng.choice(NI_SECOND)
    return f"{prefix}{counter['ni'] % 1_000_000:06d}{rng.choice('ABCD')}"


def _forms(given: str) -> set[str]:
    return {given, *NICKNAMES.get(given, [])}


def _indicator_rows(rng: random.Random, household: Household, rows: dict, counter: dict) -> None:
    """0 to 6 indicators for the household, each from its agency about a fitting member, each
    written down once or twice (two events of the same kind)."""
    kinds = rng.choices([0, 1, 2, 3, 4, 5], weights=[10, 30, 25, 20, 10, 5])[0]
    choices = [
        (agency, code, who)
        for agency, indicators in AGENCY_INDICATORS.items()
        for code, who in indicators
    ]
    has_children = any(not m.adult for m in household.members)
    picked = rng.sample(choices, k=min(kinds, len(choices)))
    for agency, code, who in picked:
        if who == "child" and not has_children:
            continue
        people = [m for m in household.members if who == "any" or (who == "child") == (not m.adult)]
        person = rng.choice(people)
        # A moved household: some rows were written before the move.
        old = bool(household.old_postcode) and rng.random() < 0.4
        for _ in range(rng.choice([1, 1, 2])):
            counter["rows"] += 1
            rows[agency].append(_row(rng, agency, code, person, household, old, counter["rows"]))


def _row(rng, agency, code, person: Member, household: Household, old: bool, n: int) -> dict:
    given = person.given_name
    if rng.random() < NICKNAME and given in NICKNAMES:
        given = rng.choice(NICKNAMES[given])
    family = person.family_name
    if rng.random() < TYPO:
        if rng.random() < 0.5:
            given = _typo(rng, given)
        else:
            family = _typo(rng, family)
    if rng.random() < TRANSPOSED:
        if rng.random() < 0.5:
            given = _transpose(rng, given)
        else:
            family = _transpose(rng, family)
    dob: date | None = person.date_of_birth
    if rng.random() < DOB_MISSING:
        dob = None
    elif rng.random() < DAY_MONTH_SWAPPED and dob.day <= 12 and dob.day != dob.month:
        dob = date(dob.year, dob.day, dob.month)
    postcode = household.old_postcode if old else household.postcode
    if rng.random() < 0.2:  # written without its space, or in lower case
        postcode = postcode.replace(" ", "") if rng.random() < 0.5 else postcode.lower()
    identifier = IDENTIFIER_HELD.get(agency)
    held = identifier and rng.random() < 0.8
    observed = date(2026, 10, 31) - timedelta(days=rng.randint(0, 360))
    return {
        "source_record_id": f"{agency[:3].upper()}{n:08d}",
        "given_name": given,
        "family_name": family,
        "date_of_birth": dob.isoformat() if dob else "",
        "postcode": postcode,
        "address": household.old_address if old else household.address,
        "nhs_number": person.nhs_number if held and identifier == "nhs_number" else "",
        "upn": person.upn if held and identifier == "upn" else "",
        "ni_number": person.ni_number if held and identifier == "ni_number" else "",
        "indicator": code,
        "observed_on": observed.isoformat(),
        "person_key": person.key,
        "household_key": household.key,
    }


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 4:
        return word
    i = rng.randint(1, len(word) - 2)
    how = rng.random()
    if how < 0.4:  # a letter replaced
        return word[:i] + rng.choice("aeiourstnl") + word[i + 1 :]
    if how < 0.7:  # a letter dropped
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]  # a letter doubled


def _transpose(rng: random.Random, word: str) -> str:
    if len(word) < 3:
        return word
    i = rng.randint(1, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


CSV_COLUMNS = [
    "source_record_id", "given_name", "family_name", "date_of_birth", "postcode", "address",
    "nhs_number", "upn", "ni_number", "indicator", "observed_on",
]  # fmt: skip


def rows_csv(rows: list[dict]) -> str:
    """The rows as an agency would upload them (no truth columns)."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def council_records(council: Council):
    """The council's rows as linkage records (identification.linkage.RECORD_FIELDS, ids from
    1), with each record's truth: (records, person_of, household_of, indicator_of)."""
    records, person_of, household_of, indicator_of = [], {}, {}, {}
    uid = 0
    for agency, rows in council.rows.items():
        for row in rows:
            uid += 1
            records.append(
                (uid, agency, row["given_name"], row["family_name"], row["date_of_birth"],
                 row["postcode"], row["address"], row["nhs_number"], row["upn"],
                 row["ni_number"])
            )  # fmt: skip
            person_of[uid] = row["person_key"]
            household_of[uid] = row["household_key"]
            indicator_of[uid] = row["indicator"]
    return records, person_of, household_of, indicator_of
