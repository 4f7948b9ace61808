"""`manage.py seed_demo`: a small fictional borough to click through.

Riverside Borough Council: six agencies, a dozen staff sharing one demo password, twenty families
with their members, teams, needs, assessments, plans, interventions and contacts. Every case write
goes through the services (agencies/services.py, cases/services.py), so the guardian grants and
the chronology (and the alerts they raise) are exactly what real use would produce. Families have
a history of up to ten months: a demo clock (`DemoClock`) stands in for `timezone.now` while
seeding, so each service stamps its rows at the event's time in the story.

Deterministic (random.Random(2026); dates are relative to today) and idempotent: if the demo
agencies exist it says so and does nothing. Everything is fictional: postcodes use the RB area,
which does not exist; NHS numbers are in the 999 test range; UPNs use local authority 999.
"""

from __future__ import annotations

import random
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from agencies import services as agency_services
from agencies.models import Agency, AgencyKind, StaffMember
from agencies.roles import Role
from alerts import services as alert_services
from alerts.models import Alert
from cases import services, validators
from cases.models import (
    ActionStatus,
    ClosureReason,
    ContactMethod,
    Family,
    FamilyStatus,
    HeadlineOutcome,
    Intervention,
    InterventionKind,
    Need,
    NeedStatus,
    Person,
    PlanAction,
    Relationship,
    Visibility,
)
from consent import services as consent_services
from consent.models import BasisKind, ConsentMethod
from referrals import services as referral_services

User = get_user_model()

DEMO_PASSWORD = "demo-pass-2026"
COUNCIL = "Riverside Borough Council"
EMAIL_DOMAIN = "riverside.example"
FRAMEWORK = "2022"

EH = AgencyKind.EARLY_HELP
SCHOOL = AgencyKind.SCHOOL
POLICE = AgencyKind.POLICE
HEALTH = AgencyKind.HEALTH
HOUSING = AgencyKind.HOUSING
JOBCENTRE = AgencyKind.JOBCENTRE

AGENCIES = [
    (EH, "Riverside Early Help"),
    (SCHOOL, "Riverside Primary School"),
    (POLICE, "Riverside Police"),
    (HEALTH, "Riverside Health Visiting"),
    (HOUSING, "Riverside Housing"),
    (JOBCENTRE, "Riverside Jobcentre"),
]
PARTNER_ORDER = [SCHOOL, HEALTH, POLICE, HOUSING, JOBCENTRE]

# username, agency kind, role, first name, last name, job title (for the printed table)
STAFF = [
    ("keyworker1", EH, Role.KEY_WORKER, "Sarah", "Okafor", "Key worker"),
    ("keyworker2", EH, Role.KEY_WORKER, "James", "Whitfield", "Key worker"),
    ("keyworker3", EH, Role.KEY_WORKER, "Priya", "Sharma", "Key worker"),
    ("eh.practitioner", EH, Role.PRACTITIONER, "Chloe", "Dunn", "Family support worker"),
    ("eh.manager", EH, Role.MANAGER, "Helen", "Marsh", "Early help team manager"),
    ("eh.admin", EH, Role.AGENCY_ADMIN, "Gareth", "Lloyd", "Early help systems admin"),
    ("eh.dpo", EH, Role.DPO, "Farah", "Qureshi", "Data protection officer"),
    ("school.practitioner", SCHOOL, Role.PRACTITIONER, "Ruth", "Ellison", "Safeguarding lead"),
    ("police.officer", POLICE, Role.PRACTITIONER, "Daniel", "Hart", "Police officer"),
    ("hv.nurse", HEALTH, Role.PRACTITIONER, "Aisha", "Rahman", "Health visitor"),
    ("housing.officer", HOUSING, Role.PRACTITIONER, "Mark", "Fenwick", "Housing officer"),
    ("jobcentre.coach", JOBCENTRE, Role.PRACTITIONER, "Lucy", "Brennan", "Work coach"),
]
JOB_TITLES = {s[0]: s[5] for s in STAFF}
ADMIN_USERNAME = "admin"

STREETS = [
    "Wharf Road",
    "Mill Lane",
    "Ferry Street",
    "Willow Court",
    "Canal Walk",
    "Bridge Street",
    "Meadow Close",
    "Lock Keepers Way",
    "Tannery Row",
    "Osier Drive",
    "Weir View",
    "Boatyard Lane",
    "Kingfisher Road",
    "Heron Way",
    "Rope Walk",
    "Quayside",
    "Towpath Terrace",
    "Sluice Road",
    "Barge Close",
    "Maltings Court",
]
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


@dataclass
class FamilySpec:
    surname: str
    members: list[tuple[str, str, int]]  # given name, relationship, age in years
    needs: list[tuple[str, str | None]]  # headline outcome code, given name (None: whole family)
    level: int = 2
    opened_days_ago: int | None = None  # None: a random 35-170 days
    closed: bool = False  # all needs achieved, then closed
    assessed: bool = True  # False: just referred, first visit only
    extra: list[str] = field(default_factory=list)  # "housing_resolved", "key_worker_change"


P, PT, C, G = (
    Relationship.PARENT,
    Relationship.PARTNER,
    Relationship.CHILD,
    Relationship.GRANDPARENT,
)

FAMILIES = [
    FamilySpec(
        "Adeyemi",
        [("Folake", P, 38), ("Tunde", PT, 41), ("Ayo", C, 9), ("Kemi", C, 2)],
        [("education", "Ayo"), ("early_years", "Kemi"), ("financial_stability", "Tunde")],
    ),
    FamilySpec(
        "Begum",
        [("Shirin", P, 34), ("Rahim", C, 14), ("Nadia", C, 11), ("Yusuf", C, 6)],
        [
            ("education", "Rahim"),
            ("housing", None),
            ("health", "Shirin"),
            ("family_relationships", None),
        ],
        level=3,
    ),
    FamilySpec(
        "Clarke",
        [("Donna", P, 29), ("Jayden", C, 10), ("Tia-Mae", C, 4)],
        [("domestic_abuse", "Donna"), ("education", "Jayden"), ("health", "Donna")],
        level=3,
    ),
    FamilySpec(
        "Davies",
        [("Rhys", P, 45), ("Carys", P, 43), ("Owen", C, 15), ("Megan", C, 12)],
        [
            ("crime", "Owen"),
            ("safe_from_abuse", "Owen"),
            ("family_relationships", None),
            ("education", "Owen"),
        ],
        level=3,
    ),
    FamilySpec(
        "Evans",
        [("Stacey", P, 24), ("Kai", C, 3), ("Lily", C, 1)],
        [
            ("early_years", "Kai"),
            ("housing", None),
            ("financial_stability", "Stacey"),
            ("health", "Stacey"),
        ],
    ),
    FamilySpec(
        "Fitzgerald",
        [("Siobhan", P, 36), ("Liam", C, 13), ("Aoife", C, 8)],
        [("substance_use", "Siobhan"), ("education", "Aoife"), ("safe_from_abuse", "Liam")],
        level=3,
    ),
    FamilySpec(
        "Grant",
        [("Marcia", G, 61), ("Tyrone", C, 12), ("Shanice", C, 9)],
        [
            ("financial_stability", "Marcia"),
            ("education", "Shanice"),
            ("family_relationships", None),
        ],
    ),
    FamilySpec(
        "Hussain",
        [("Imran", P, 40), ("Sana", P, 37), ("Zain", C, 16), ("Aliya", C, 7), ("Hamza", C, 5)],
        [("health", "Zain"), ("education", "Aliya"), ("financial_stability", "Imran")],
    ),
    FamilySpec(
        "Jackson",
        [("Leanne", P, 31), ("Connor", PT, 33), ("Mason", C, 7), ("Ruby", C, 0)],
        [
            ("domestic_abuse", "Leanne"),
            ("early_years", "Ruby"),
            ("crime", "Connor"),
            ("housing", None),
        ],
        level=3,
    ),
    FamilySpec(
        "Kowalski",
        [("Agnieszka", P, 35), ("Piotr", P, 38), ("Zofia", C, 10), ("Jakub", C, 4)],
        [("financial_stability", "Piotr"), ("housing", None), ("education", "Zofia")],
    ),
    FamilySpec(
        "Lewis",
        [("Kerry", P, 42), ("Brandon", C, 17), ("Jade", C, 14)],
        [
            ("crime", "Brandon"),
            ("substance_use", "Brandon"),
            ("education", "Jade"),
            ("family_relationships", None),
        ],
        level=3,
    ),
    FamilySpec(
        "McCarthy",
        [("Sean", P, 50), ("Bridget", P, 48), ("Niamh", C, 15)],
        [("health", "Bridget"), ("financial_stability", "Sean"), ("housing", None)],
        opened_days_ago=120,
        extra=["housing_resolved"],
    ),
    FamilySpec(
        "Nowak",
        [("Ewa", P, 27), ("Oliwia", C, 5), ("Filip", C, 2)],
        [("early_years", "Filip"), ("health", "Ewa"), ("domestic_abuse", "Ewa")],
        level=3,
    ),
    FamilySpec(
        "O'Brien",
        [
            ("Patrick", P, 39),
            ("Chelsea", PT, 30),
            ("Finn", C, 11),
            ("Rosie", C, 8),
            ("Alfie", C, 1),
        ],
        [
            ("education", "Finn"),
            ("early_years", "Alfie"),
            ("financial_stability", "Chelsea"),
            ("substance_use", "Patrick"),
        ],
        level=3,
    ),
    FamilySpec(
        "Patel",
        [("Nisha", P, 33), ("Arjun", C, 9), ("Maya", C, 6)],
        [("family_relationships", None), ("health", "Nisha"), ("education", "Arjun")],
        opened_days_ago=90,
        extra=["key_worker_change"],
    ),
    FamilySpec(
        "Quinn",
        [("Gemma", P, 26), ("Tyler", C, 8), ("Ellie-Mae", C, 6), ("Harvey", C, 3)],
        [
            ("housing", None),
            ("education", "Tyler"),
            ("early_years", "Harvey"),
            ("financial_stability", "Gemma"),
        ],
    ),
    FamilySpec(
        "Robinson",
        [("Andrew", P, 44), ("Claire", P, 41), ("Ethan", C, 13)],
        [
            ("safe_from_abuse", "Ethan"),
            ("education", "Ethan"),
            ("family_relationships", None),
            ("health", "Ethan"),
        ],
        level=3,
    ),
    FamilySpec(
        "Smith",
        [("Kelly", P, 37), ("Dean", PT, 39), ("Charlie", C, 10), ("Poppy", C, 7)],
        [
            ("domestic_abuse", "Kelly"),
            ("crime", "Dean"),
            ("education", "Charlie"),
            ("housing", None),
        ],
        level=3,
    ),
    FamilySpec(
        "Thompson",
        [("Janet", G, 58), ("Marcus", C, 14)],
        [("financial_stability", "Janet"), ("education", "Marcus"), ("safe_from_abuse", "Marcus")],
        opened_days_ago=6,
        assessed=False,  # referred last week: assessment not yet done
    ),
    FamilySpec(
        "Walsh",
        [("Sinead", P, 32), ("Darragh", C, 9), ("Erin", C, 5)],
        [("education", "Darragh"), ("housing", None), ("financial_stability", "Sinead")],
        opened_days_ago=310,
        closed=True,  # outcomes achieved about eight months ago: a results claim candidate
    ),
]


# --- what each headline outcome looks like in this borough ------------------------------------

# Age brackets: baby (0-1), toddler (2-4), under5, primary (4-11), teen (12-17), adult (18+).
# Need descriptors: outcome -> [(brackets or None for the whole family, text)].
# {name} is the person, {parent} the first adult, {n} a number from NUMBERS.
NEED_TEXT = {
    "education": [
        ({"primary", "teen"}, "{name} is missing 10% or more of school sessions ({n}% this term)"),
        ({"primary"}, "{name} is persistently late and has {n}% attendance this term"),
        ({"teen"}, "{name} has had three suspensions in the last three terms"),
        ({"teen"}, "{name} is missing education: out of school since a managed move broke down"),
    ],
    "early_years": [
        ({"toddler"}, "{name} is not meeting expected development at the 2-year review (speech)"),
        ({"under5"}, "{name} has missed health visitor developmental checks"),
        ({"baby"}, "{name} is not gaining weight as expected; feeding difficulties"),
    ],
    "health": [
        ({"adult"}, "{name} reports low mood and anxiety and is not engaging with the GP"),
        ({"adult"}, "{name} has anxiety and panic attacks and rarely leaves the house"),
        ({"teen"}, "{name} is self-harming and is on the CAMHS waiting list"),
    ],
    "substance_use": [
        ({"adult"}, "{name}'s alcohol use is affecting the care of the children"),
        ({"adult"}, "{name} is using cannabis daily and has missed appointments"),
        ({"teen"}, "{name} is using cannabis regularly and was found in possession at school"),
    ],
    "family_relationships": [
        (None, "Frequent conflict at home; {parent} asks for help with boundaries and routines"),
        (None, "Child-to-parent violence reported by {parent}"),
        (None, "Arguments between the siblings; {parent} struggling with bedtimes and routines"),
    ],
    "safe_from_abuse": [
        (
            {"teen"},
            "{name} has gone missing from home {n} times in three months; exploitation risk",
        ),
        ({"teen"}, "{name} is at risk of exploitation: older associates and unexplained money"),
    ],
    "crime": [
        ({"teen"}, "{name} was arrested for anti-social behaviour; community resolution given"),
        ({"teen"}, "{name} has been cautioned for shoplifting"),
        ({"adult"}, "{name} was arrested after a disturbance at the family home"),
    ],
    "domestic_abuse": [
        (
            {"adult"},
            "{name} is a victim of domestic abuse: police attended {n} incidents (DASH medium)",
        ),
        (
            {"adult"},
            "{name} disclosed coercive control by an ex-partner; MARAC referral considered",
        ),
    ],
    "housing": [
        (None, "Rent arrears of £{n}00; notice seeking possession served"),
        (None, "Family living in an overcrowded two-bedroom flat"),
        (None, "Family in temporary accommodation after eviction from a private let"),
    ],
    "financial_stability": [
        ({"adult"}, "{name} is out of work, claiming Universal Credit, and wants help into work"),
        (
            {"adult"},
            "{name} has priority debts (council tax, energy) and risks financial exclusion",
        ),
    ],
}
NUMBERS = {"education": (78, 89), "safe_from_abuse": (2, 5), "domestic_abuse": (2, 4)}
NUMBERS["housing"] = (8, 24)

# outcome -> (intervention kind, intervention title, plan action); "crime:adult" for adults.
WORK = {
    "education": (
        InterventionKind.ATTENDANCE,
        "Attendance support plan with morning check-ins",
        "Agree a return-to-school and attendance plan with {name} and family; review weekly",
    ),
    "early_years": (
        InterventionKind.PARENTING,
        "Speech and language group and home learning support",
        "Complete an ASQ-3 review for {name} and refer on if needed",
    ),
    "health": (
        InterventionKind.MENTAL_HEALTH,
        "Wellbeing check-ins and talking therapies referral",
        "Support {name} to see the GP and take up talking therapies or CAMHS",
    ),
    "substance_use": (
        InterventionKind.SUBSTANCE,
        "Community drug and alcohol service: assessment and key work",
        "{name} to attend an assessment at the community drug and alcohol service",
    ),
    "family_relationships": (
        InterventionKind.PARENTING,
        "Triple P parenting programme (8 weeks)",
        "Parents to attend the Triple P parenting programme",
    ),
    "safe_from_abuse": (
        InterventionKind.SAFEGUARDING,
        "Exploitation screening and return home interviews",
        "Return home interview and exploitation screening with {name}",
    ),
    "crime": (
        InterventionKind.YOUTH,
        "Youth diversion programme",
        "Refer {name} to the youth diversion programme",
    ),
    "crime:adult": (
        InterventionKind.OTHER,
        "Integrated offender management check-ins",
        "Offender manager to agree a plan with {name} to stay out of trouble",
    ),
    "domestic_abuse": (
        InterventionKind.DOMESTIC_ABUSE,
        "IDVA support and safety planning",
        "Safety plan with {name}; referral to the independent domestic violence adviser",
    ),
    "housing": (
        InterventionKind.HOUSING,
        "Arrears repayment plan and discretionary housing payment",
        "Agree an arrears repayment plan and apply for a discretionary housing payment",
    ),
    "financial_stability": (
        InterventionKind.EMPLOYMENT,
        "Work coach support: CV, job search and training",
        "Work coach appointment with {name}: CV and job search plan",
    ),
}
PROGRAMME_DAYS = (42, 84)  # how long an intervention runs before it is recorded as finished

# A partner's routine contact: method and summary ({parent}, {child} filled in).
PARTNER_CONTACT = {
    SCHOOL: (ContactMethod.SCHOOL, "Met {parent} at the school gate; {child} in 4 of 5 days."),
    HEALTH: (ContactMethod.HOME_VISIT, "Health visitor home visit; development and sleep."),
    POLICE: (ContactMethod.PHONE, "Neighbourhood officer follow-up call with {parent}."),
    HOUSING: (ContactMethod.OFFICE, "{parent} came to the housing office about the rent account."),
    JOBCENTRE: (ContactMethod.OFFICE, "Work coach appointment with {parent}; job search updated."),
}
# What the family asked not to share: recorded as restricted.
RESTRICTED_CONTACT = {
    POLICE: (ContactMethod.PHONE, "Safety call with {person} after the latest incident."),
    HEALTH: (ContactMethod.HOME_VISIT, "Visit to {person}: mood, medication and sleep discussed."),
}


def bracket(age: int) -> set[str]:
    out = set()
    if age <= 1:
        out.add("baby")
    if 2 <= age <= 4:
        out.add("toddler")
    if age <= 4:
        out.add("under5")
    if 4 <= age <= 11:
        out.add("primary")
    if 12 <= age <= 17:
        out.add("teen")
    if age >= 18:
        out.add("adult")
    return out


def need_agency_kind(code: str, age: int | None, has_under5: bool) -> str:
    """Which agency identifies (and then works on) a need of this kind in Riverside."""
    if code == "education":
        return SCHOOL if age is not None and age <= 11 else EH  # one primary school in the demo
    if code == "early_years":
        return HEALTH
    if code == "health":
        return HEALTH if has_under5 and age is not None and age >= 18 else EH
    if code in {"safe_from_abuse", "crime", "domestic_abuse"}:
        return POLICE
    if code == "housing":
        return HOUSING
    if code == "financial_stability":
        return JOBCENTRE
    return EH  # substance use, family relationships


def nhs_number(rng: random.Random) -> str:
    """A fictional NHS number in the 999 test range with a valid modulus 11 check digit."""
    while True:
        body = "999" + "".join(str(rng.randint(0, 9)) for _ in range(6))
        total = sum(int(d) * w for d, w in zip(body, range(10, 1, -1), strict=True))
        check = 11 - total % 11
        check = 0 if check == 11 else check
        if check != 10:
            return validators.nhs_number_normalise(f"{body}{check}")


def upn(rng: random.Random, *, school_code: str, year: int) -> str:
    """A fictional UPN: check letter, LA 999, establishment, year allocated, serial."""
    body = f"999{school_code}{year % 100:02d}{rng.randint(1, 999):03d}"
    return validators.upn_normalise(validators.upn_check_letter(body) + body)


def working_day(day: date, *, earliest: date | None = None, latest: date | None = None) -> date:
    """The nearest Monday-to-Friday to `day` within [earliest, latest] (else `day` itself)."""
    for shift in (0, -1, 1, -2, 2):
        candidate = day + timedelta(days=shift)
        if candidate.weekday() >= 5:
            continue
        if (earliest and candidate < earliest) or (latest and candidate > latest):
            continue
        return candidate
    return day


class DemoClock:
    """Stands in for `django.utils.timezone.now` while seeding, so that every service stamps its
    rows and chronology entries at the demo event's time (never later than the real now): a
    family opened ten weeks ago shows `opened_on` ten weeks ago and its history in order, and
    the services' "not in the future" checks hold against the demo time.
    """

    def __init__(self) -> None:
        self.real = timezone.now()
        self.current = self.real

    def now(self) -> datetime:
        self.current = min(self.current + timedelta(seconds=1), self.real)  # bursts keep order
        return self.current

    def set(self, moment: datetime) -> None:
        self.current = min(moment, self.real)

    @contextmanager
    def installed(self):
        original = timezone.now
        timezone.now = self.now
        try:
            yield self
        finally:
            timezone.now = original


class Command(BaseCommand):
    help = f"Load a small fictional borough ({COUNCIL}) with demo accounts and families."

    def handle(self, *args, **options):
        names = [name for _, name in AGENCIES]
        if Agency.objects.filter(name__in=names).exists():
            self.stdout.write("demo data already present")
            return
        usernames = [row[0] for row in STAFF] + [ADMIN_USERNAME]
        taken = sorted(
            User.objects.filter(username__in=usernames).values_list("username", flat=True)
        )
        if taken:
            raise CommandError(
                f"Demo usernames already in use ({', '.join(taken)}); "
                "seed_demo needs a database without them."
            )
        seeder = Seeder(rng=random.Random(2026))
        with transaction.atomic():
            seeder.run()
        self.report(seeder)

    def report(self, seeder: Seeder) -> None:
        families = Family.objects.filter(lead_agency=seeder.agencies[EH])
        closed = families.filter(status=FamilyStatus.CLOSED).count()
        self.stdout.write(
            self.style.SUCCESS(
                f"{COUNCIL}: {len(seeder.agencies)} agencies, {len(STAFF) + 1} accounts, "
                f"{families.count()} families ({closed} closed)."
            )
        )
        rows = [("username", "role", "agency", "who")]
        for username, kind, role, first, last, title in STAFF:
            who = f"{first} {last}, {title.lower()}"
            rows.append((username, Role(role).label, seeder.agencies[kind].name, who))
        rows.append((ADMIN_USERNAME, "Platform admin", "-", "Django admin; sees no case data"))
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        for i, row in enumerate(rows):
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            self.stdout.write("  ".join([*cells, row[3]]).rstrip())
            if i == 0:
                self.stdout.write("  ".join("-" * w for w in [*widths, 3]))
        self.stdout.write(f"Password for every account: {DEMO_PASSWORD}")


@dataclass
class Household:
    """One family being built: its record and who is who."""

    spec: FamilySpec
    family: Family
    key_worker: StaffMember
    opened_on: date
    people: dict[str, tuple[Person, int]] = field(default_factory=dict)  # name -> (person, age)
    partners: list[str] = field(default_factory=list)  # partner agency kinds on the team
    needs: list[tuple[Need, str, str]] = field(default_factory=list)  # need, code, agency kind
    actions: list[tuple[PlanAction, Need]] = field(default_factory=list)
    interventions: dict[str, Intervention] = field(default_factory=dict)  # by agency kind
    left_on: dict[str, date] = field(default_factory=dict)  # partners that left the team
    index: int = 0
    withdrawn_later: tuple | None = None  # (basis, reason) withdrawn at the end of the story

    @property
    def adults(self) -> list[Person]:
        return [p for p, age in self.people.values() if age >= 18]

    @property
    def children(self) -> list[Person]:
        return [p for p, age in self.people.values() if age < 18]

    @property
    def has_under5(self) -> bool:
        return any(age < 5 for _, age in self.people.values())

    def age(self, person: Person | None) -> int | None:
        return self.people[person.given_name][1] if person else None


class Seeder:
    def __init__(self, *, rng: random.Random):
        self.rng = rng
        self.today = timezone.localdate()
        self.clock = DemoClock()
        self.agencies: dict[str, Agency] = {}
        self.staff: dict[str, StaffMember] = {}
        self.outcomes = {
            o.code: o for o in HeadlineOutcome.objects.filter(framework_version=FRAMEWORK)
        }

    def run(self) -> None:
        for kind, name in AGENCIES:
            self.agencies[kind] = agency_services.agency_create(name=name, kind=kind)
        # One PBKDF2 hash shared by every demo account: hashing a dozen times takes seconds.
        password_hash = make_password(DEMO_PASSWORD)
        for username, kind, role, first, last, _ in STAFF:
            staff = agency_services.staff_create(
                agency=self.agencies[kind],
                username=username,
                password=None,  # unusable (and not hashed) until the shared hash is set below
                role=role,
                email=f"{username}@{EMAIL_DOMAIN}",
                first_name=first,
                last_name=last,
                validate=False,
            )
            staff.user.password = password_hash
            staff.user.save(update_fields=["password"])
            self.staff[username] = staff
        User.objects.create(
            username=ADMIN_USERNAME,
            email=f"{ADMIN_USERNAME}@{EMAIL_DOMAIN}",
            first_name="Platform",
            last_name="Admin",
            is_staff=True,
            is_superuser=True,
            password=password_hash,
        )
        self.partner_staff = {
            kind: next(s for s in self.staff.values() if s.agency.kind == kind)
            for kind in PARTNER_ORDER
        }
        key_workers = [self.staff[u] for u in ("keyworker1", "keyworker2", "keyworker3")]
        with self.clock.installed():
            for index, spec in enumerate(FAMILIES):
                self.household(spec, key_worker=key_workers[index % len(key_workers)], index=index)
            self.read_old_alerts()
        self.referrals()

    def referrals(self) -> None:
        """Today at the front door: the school's referral waiting in the queue, and the
        police's, made without consent, already signposted."""
        school, police = self.staff["school.practitioner"], self.staff["police.officer"]
        referral_services.referral_create(
            by=school,
            household={"name": "Adeyemi household", "postcode": "LS11 5QT"},
            people=[
                {
                    "given_name": "Tomi",
                    "family_name": "Adeyemi",
                    "date_of_birth": self.today - timedelta(days=9 * 365),
                    "relationship": "child",
                },
                {"given_name": "Bisi", "family_name": "Adeyemi", "relationship": "parent"},
            ],
            concerns=[{"outcome": "education", "descriptor": "Attendance at 84% this term"}],
            consent={
                "given_by": "Bisi Adeyemi (mother)",
                "method": "verbal",
                "given_on": self.today,
            },
            urgency="routine",
        )
        signposted = referral_services.referral_create(
            by=police,
            household={"name": "Kowalski household", "postcode": "LS12 3AB"},
            people=[{"given_name": "Jan", "family_name": "Kowalski", "relationship": "child"}],
            concerns=[{"outcome": "crime", "descriptor": "Anti-social behaviour in the park"}],
            consent=None,
            no_consent_reason="Consent not sought after an incident at night; family not yet seen.",
            urgency="urgent",
        )
        referral_services.referral_decide(
            referral_id=signposted.id,
            by=self.staff["eh.practitioner"],
            decision="signpost",
            reason="Youth service drop-in and positive activities offered.",
        )

    def read_old_alerts(self) -> None:
        """Staff have read their alerts up to a fortnight ago, a day after each arrived."""
        cutoff = self.clock.real - timedelta(days=14)
        for alert in Alert.objects.filter(read_at__isnull=True, created_at__lt=cutoff):
            self.clock.set(alert.created_at + timedelta(days=1))
            alert_services.alert_mark_read(alert=alert)

    # --- one family, in the order its story happened --------------------------------------------

    def household(self, spec: FamilySpec, *, key_worker: StaffMember, index: int) -> None:
        h = self._household(spec, key_worker=key_worker, index=index)
        if h.withdrawn_later is not None:
            # Late in the story the family withdrew consent for one agency.
            basis, reason = h.withdrawn_later
            consent_services.sharing_basis_withdraw(basis=basis, by=h.key_worker, reason=reason)

    def _household(self, spec: FamilySpec, *, key_worker: StaffMember, index: int) -> Household:
        rng, today = self.rng, self.today
        days_ago = spec.opened_days_ago or rng.randint(35, 170)
        opened = working_day(today - timedelta(days=days_ago), latest=today)
        self.at(opened, 9)
        h = self.open(spec, key_worker=key_worker, index=index, opened_on=opened)
        h.index = index
        self.members(h)
        self.team(h)
        self.share(h)
        self.identify_needs(h)
        first_visit = working_day(opened + timedelta(days=rng.randint(1, 4)), latest=today)
        if first_visit >= today:
            first_visit = opened
        self.contact(
            h,
            by=key_worker,
            day=first_visit,
            method=ContactMethod.HOME_VISIT,
            summary=(
                f"Initial home visit with {self.names(h.adults)}. Explained early help and how "
                "the team shares information; the family agreed to a whole-family assessment."
            ),
            persons=h.adults,
        )
        if not spec.assessed:
            self.review_date(h)
            return h
        taf_on = self.assess_and_plan(h, first_visit=first_visit)
        last_day = today - timedelta(days=1)
        if spec.closed:
            last_day = self.achieve_all(h, taf_on=taf_on)
        else:
            self.progress(h, taf_on=taf_on)
        self.interventions(h, taf_on=taf_on, until=last_day)
        self.partner_contacts(h, taf_on=taf_on, until=last_day)
        self.leave(h)
        if spec.closed:
            self.close(h, on=last_day)
        else:
            self.recent_contacts(h, taf_on=taf_on)
            self.review_date(h, meeting=True)
        return h

    def open(
        self, spec: FamilySpec, *, key_worker: StaffMember, index: int, opened_on: date
    ) -> Household:
        rng = self.rng
        # Most families are opened by their key worker; every fifth by the team manager.
        opener = self.staff["eh.manager"] if index % 5 == 4 else key_worker
        street = STREETS[index % len(STREETS)]
        if rng.random() < 0.3:
            address = f"Flat {rng.randint(1, 24)}, {street.split()[0]} House, {street}, Riverside"
        else:
            address = f"{rng.randint(1, 120)} {street}, Riverside"
        postcode = (
            f"RB{rng.randint(1, 6)} {rng.randint(1, 9)}"
            f"{rng.choice(INWARD_LETTERS)}{rng.choice(INWARD_LETTERS)}"
        )
        family = services.family_create(
            by=opener,
            name=f"{spec.surname} household",
            postcode=postcode,
            address=address,
            key_worker_id=key_worker.user_id,
            level_of_need=spec.level,
        )
        return Household(spec=spec, family=family, key_worker=key_worker, opened_on=opened_on)

    def members(self, h: Household) -> None:
        rng = self.rng
        for given, relationship, age in h.spec.members:
            born = self.today - timedelta(days=int(age * 365.25) + rng.randint(1, 360))
            fields = {
                "given_name": given,
                "family_name": h.spec.surname,
                "date_of_birth": min(born, h.opened_on),
                "relationship": relationship,
            }
            if age >= 18 and relationship in (P, Relationship.CARER, G):
                # A grandparent bringing up grandchildren holds it under a special
                # guardianship order in this story.
                fields["parental_responsibility"] = True
            elif 12 <= age < 18:
                fields["competent_to_consent"] = rng.random() < 0.5
            if rng.random() < 0.7:
                fields["nhs_number"] = nhs_number(rng)
            if 4 <= age <= 16 and rng.random() < 0.75:
                school = "2001" if age <= 11 else f"4{rng.randint(100, 999)}"
                fields["upn"] = upn(rng, school_code=school, year=self.today.year - (age - 4))
            person = services.person_create(family=h.family, by=h.key_worker, **fields)
            h.people[given] = (person, age)

    def need_kinds(self, h: Household) -> list[str]:
        return [
            need_agency_kind(code, h.people[who][1] if who else None, h.has_under5)
            for code, who in h.spec.needs
        ]

    def team(self, h: Household) -> None:
        """The partners the needs call for, topped up to two and capped at four."""
        wanted = self.need_kinds(h)
        partners = [k for k in PARTNER_ORDER if k in wanted]
        primary_age = any(4 <= age <= 11 for _, age in h.people.values())
        fillers = [SCHOOL] if primary_age else []
        fillers += [HEALTH] if h.has_under5 else []
        fillers += [HOUSING, JOBCENTRE]
        for kind in fillers:
            if len(partners) >= 2:
                break
            if kind not in partners:
                partners.append(kind)
        h.partners = partners[:4]
        for kind in h.partners:
            staff = self.partner_staff[kind]
            named = kind != POLICE or self.rng.random() < 0.5  # police often join as a team
            services.involvement_create(
                family=h.family,
                by=h.key_worker,
                agency=self.agencies[kind],
                practitioner_id=staff.user_id if named else None,
                role=JOB_TITLES[staff.user.username] if named else "Neighbourhood policing team",
            )

    def share(self, h: Household) -> None:
        """The lawful basis that lets the partners see the record (consent app).

        Most families consent in writing for the whole team. One family is shared without
        consent on safeguarding grounds (decided by the manager); one family's consent is due
        to expire within days; one family withdrew consent for one agency.
        """
        partners = [self.agencies[kind] for kind in h.partners]
        if not partners:
            return
        key_worker = h.key_worker
        if h.index == 3:
            basis = consent_services.sharing_basis_create(
                family=h.family,
                by=key_worker,
                basis=BasisKind.SAFEGUARDING,
                agencies=partners,
                justification=(
                    "Risk of significant harm to the children: sharing with the team without "
                    "consent is necessary and proportionate (Children Act 1989 s.47 enquiry)."
                ),
                decided_by_id=self.staff["eh.manager"].user_id,
                special_category_condition="DPA 2018 Sch. 1 para 18 (safeguarding)",
            )
            # The manager it names confirms the decision: from then on it grants access.
            consent_services.sharing_basis_confirm(basis_id=basis.id, by=self.staff["eh.manager"])
            return
        givers = [p for p in h.adults if p.parental_responsibility][:1]
        expires_on = self.today + timedelta(days=9) if h.index == 5 else None
        split = h.index == 7 and len(partners) > 1
        consent_services.sharing_basis_create(
            family=h.family,
            by=key_worker,
            basis=BasisKind.CONSENT,
            agencies=partners[:-1] if split else partners,
            given_by=givers,
            method=ConsentMethod.WRITTEN,
            expires_on=expires_on,
            agrees_to_early_help=True,
        )
        if split:
            separate = consent_services.sharing_basis_create(
                family=h.family,
                by=key_worker,
                basis=BasisKind.CONSENT,
                agencies=partners[-1:],
                given_by=givers,
                method=ConsentMethod.VERBAL,
                agrees_to_early_help=True,
            )
            h.withdrawn_later = (
                separate,
                f"{givers[0].given_name} asked that {partners[-1].name} no longer sees "
                "the family's record.",
            )

    def identify_needs(self, h: Household) -> None:
        """Each need recorded by the agency that found it (the key worker if not on the team)."""
        for (code, who), kind in zip(h.spec.needs, self.need_kinds(h), strict=True):
            person = h.people[who][0] if who else None
            age = h.age(person)
            options = [
                text
                for brackets, text in NEED_TEXT[code]
                if (brackets is None or (age is not None and brackets & bracket(age)))
                and ("siblings" not in text or len(h.children) > 1)
            ]
            low, high = NUMBERS.get(code, (2, 4))
            descriptor = self.rng.choice(options).format(
                name=person.given_name if person else "",
                parent=h.adults[0].given_name,
                n=self.rng.randint(low, high),
            )
            kind = kind if kind in h.partners else EH
            recorder = h.key_worker if kind == EH else self.partner_staff[kind]
            need = services.need_create(
                family=h.family,
                by=recorder,
                outcome=self.outcomes[code],
                descriptor=descriptor,
                person=person,
                evidence=f"Reported by {recorder.agency.name} at referral.",
            )
            h.needs.append((need, code, kind))

    def assess_and_plan(self, h: Household, *, first_visit: date) -> date:
        """Assessment, Team Around the Family meeting and the plan; returns the meeting day."""
        rng = self.rng
        assessed_on = working_day(first_visit + timedelta(days=rng.randint(5, 10)))
        self.at(assessed_on, 15)
        children = "the children are" if len(h.children) > 1 else "the child is"
        services.assessment_create(
            family=h.family,
            by=h.key_worker,
            completed_on=assessed_on,
            summary=(
                f"Whole-family early help assessment completed with {self.names(h.adults)}. "
                f"Strengths: the family want things to change and {children} well attached "
                "to their carers. Needs agreed: "
                + "; ".join(need.descriptor for need, _, _ in h.needs)
                + "."
            ),
        )
        taf_on = working_day(assessed_on + timedelta(days=rng.randint(3, 8)))
        self.contact(
            h,
            by=h.key_worker,
            day=taf_on,
            method=ContactMethod.MEETING,
            summary=(
                "Team Around the Family meeting with "
                + ", ".join(self.agencies[k].name for k in h.partners)
                + ". Family plan agreed and actions allocated."
            ),
            persons=h.adults,
        )
        for need, code, kind in h.needs:
            status = rng.choice([ActionStatus.OPEN, ActionStatus.IN_PROGRESS])
            name = need.person.given_name if need.person else ""
            action = services.plan_action_create(
                family=h.family,
                by=h.key_worker,
                description=self.work(h, need, code)[2].format(name=name),
                owner_agency=self.agencies[kind],
                due_on=working_day(taf_on + timedelta(weeks=rng.randint(4, 12))),
                needs=[need],
                status=status,
            )
            h.actions.append((action, need))
            if status == ActionStatus.IN_PROGRESS:
                services.need_update(
                    need_id=need.id,
                    by=h.key_worker,
                    expected_version=need.version,
                    status=NeedStatus.IN_PROGRESS,
                )
                need.version += 1
        return taf_on

    def progress(self, h: Household, *, taf_on: date) -> None:
        """Families open for a while have met some needs; Housing leaves once its work is done."""
        rng, today = self.rng, self.today
        room = (today - taf_on).days - 35
        for action, need in h.actions:
            housing_done = "housing_resolved" in h.spec.extra and need.outcome.code == "housing"
            if housing_done:
                day = working_day(taf_on + timedelta(days=rng.randint(35, 45)))
                self.achieve(h, action=action, need=need, on=min(day, today))
            elif room > 30 and rng.random() < 0.25:
                day = working_day(taf_on + timedelta(days=35 + rng.randint(0, room)))
                self.achieve(h, action=action, need=need, on=min(day, today))
        if "housing_resolved" in h.spec.extra:
            # Housing leaves once its work is done (see `leave`, run after its work is recorded).
            h.left_on[HOUSING] = min(today, working_day(taf_on + timedelta(days=50)))
        if "key_worker_change" in h.spec.extra:
            # The first key worker's caseload is rebalanced by the manager.
            self.at(min(today, taf_on + timedelta(days=14)), 10)
            other = "keyworker2" if h.key_worker.user.username == "keyworker1" else "keyworker1"
            h.family = services.family_update(
                family_id=h.family.id,
                by=self.staff["eh.manager"],
                expected_version=h.family.version,
                key_worker_id=self.staff[other].user_id,
            )
            h.key_worker = self.staff[other]

    def leave(self, h: Household) -> None:
        """Partners whose work is done leave the team: after their work is on the record,
        since a partner off the team can no longer write to it."""
        for kind, day in h.left_on.items():
            self.at(day, 17)
            services.involvement_end(
                involvement=h.family.involvements.get(
                    agency=self.agencies[kind], ended_on__isnull=True
                ),
                by=h.key_worker,
            )

    def achieve_all(self, h: Household, *, taf_on: date) -> date:
        """Every need met (the closed family); returns the day the family is closed."""
        last = taf_on
        for action, need in h.actions:
            day = working_day(taf_on + timedelta(days=self.rng.randint(40, 70)))
            self.achieve(h, action=action, need=need, on=day)
            last = max(last, day)
        return working_day(last + timedelta(days=self.rng.randint(7, 14)))

    def interventions(self, h: Household, *, taf_on: date, until: date) -> None:
        """Most needs get an intervention from the agency working on them."""
        rng = self.rng
        for need, code, kind in h.needs:
            if not (rng.random() < 0.7 or code == "domestic_abuse"):
                continue
            started = working_day(taf_on + timedelta(days=rng.randint(1, 7)))
            ends = started + timedelta(days=rng.randint(*PROGRAMME_DAYS))
            stop = min(until, h.left_on.get(kind, until))
            ended = min(ends, stop) if h.spec.closed or kind in h.left_on else None
            ended = ended or (ends if ends <= until else None)
            # Domestic abuse work, and adults' drug and alcohol work, are restricted: only the
            # recording agency, the key worker and lead-agency managers see them.
            restricted = code == "domestic_abuse" or (
                code == "substance_use" and (h.age(need.person) or 0) >= 18
            )
            # Recorded once finished (there is no service to end an intervention later).
            self.at(min(ended or started, self.today), 16)
            h.interventions[kind] = services.intervention_create(
                family=h.family,
                by=h.key_worker if kind == EH else self.partner_staff[kind],
                kind=self.work(h, need, code)[0],
                title=self.work(h, need, code)[1],
                started_on=started,
                ended_on=ended,
                needs=[need],
                persons=[need.person] if need.person else [],
                outcome="Completed; the goals set at the start were met." if ended else "",
                visibility=Visibility.RESTRICTED if restricted else Visibility.TEAM,
            )

    def partner_contacts(self, h: Household, *, taf_on: date, until: date) -> None:
        """One to three contacts per partner between the meeting and `until`."""
        rng = self.rng
        parent = h.adults[0]
        child = h.children[0].given_name if h.children else parent.given_name
        span = max((until - taf_on).days, 1)
        for kind in h.partners:
            sensitive = [
                need
                for need, code, k in h.needs
                if k == kind and (code == "domestic_abuse" or (kind == HEALTH and code == "health"))
            ]
            until_kind = min(until, h.left_on.get(kind, until))
            days = sorted(
                working_day(taf_on + timedelta(days=rng.randint(1, span)), latest=until_kind)
                for _ in range(rng.randint(1, 3))
            )
            for n, day in enumerate(days):
                day = min(day, until_kind)
                if sensitive and n == 0:
                    person = sensitive[0].person or parent
                    method, text = RESTRICTED_CONTACT[kind]
                    summary = text.format(person=person.given_name)
                    visibility = Visibility.RESTRICTED
                    persons = [person]
                else:
                    method, text = PARTNER_CONTACT[kind]
                    summary = text.format(parent=parent.given_name, child=child)
                    visibility, persons = Visibility.TEAM, [parent]
                intervention = h.interventions.get(kind)
                if intervention is not None and (
                    intervention.visibility != visibility or intervention.started_on > day
                ):
                    intervention = None
                self.contact(
                    h,
                    by=self.partner_staff[kind],
                    day=day,
                    method=method,
                    summary=summary,
                    persons=persons,
                    intervention=intervention,
                    visibility=visibility,
                )

    def recent_contacts(self, h: Household, *, taf_on: date) -> None:
        rng, today = self.rng, self.today
        parent = h.adults[0]
        review = working_day(taf_on + timedelta(weeks=8), latest=today - timedelta(days=1))
        if review < today - timedelta(days=1):
            self.contact(
                h,
                by=h.key_worker,
                day=review,
                method=ContactMethod.MEETING,
                summary="Team Around the Family review: progress against the plan; plan updated.",
                persons=h.adults,
            )
        if rng.random() < 0.5:
            self.contact(
                h,
                by=self.staff["eh.practitioner"],
                day=working_day(today - timedelta(days=rng.randint(2, 9)), latest=today),
                method=ContactMethod.HOME_VISIT,
                summary=f"Family support session with {parent.given_name}: routines and bedtimes.",
                persons=[parent],
            )
        self.contact(
            h,
            by=h.key_worker,
            day=working_day(today - timedelta(days=rng.randint(1, 5)), latest=today),
            method=ContactMethod.PHONE,
            summary=f"Catch-up call with {parent.given_name}: progress on the plan reviewed.",
            persons=[parent],
        )

    def close(self, h: Household, *, on: date) -> None:
        self.contact(
            h,
            by=h.key_worker,
            day=on,
            method=ContactMethod.HOME_VISIT,
            summary=(
                f"Closing visit with {self.names(h.adults)}: the plan is complete and the family "
                "steps down to universal services."
            ),
            persons=h.adults,
        )
        self.at(on, 17)
        services.family_close(
            family_id=h.family.id,
            by=h.key_worker,
            reason=ClosureReason.OUTCOMES_MET,
            outcome_summary="Every need met and sustained; the family no longer needs support.",
        )

    def review_date(self, h: Household, *, meeting: bool = False) -> None:
        """The next review in 2 to 8 weeks: set by today's Team Around the Family review (with
        the agencies on the team) for a family being worked with, else by hand."""
        self.clock.set(self.clock.real)
        next_review_on = working_day(self.today + timedelta(weeks=self.rng.randint(2, 8)))
        if not meeting:
            services.family_update(
                family_id=h.family.id,
                by=h.key_worker,
                expected_version=h.family.version,
                next_review_on=next_review_on,
            )
            return
        services.review_create(
            family_id=h.family.id,
            by=h.key_worker,
            held_on=self.today,
            attendees=list(
                Agency.objects.filter(
                    involvements__family=h.family, involvements__ended_on__isnull=True
                ).distinct()
            ),
            decisions="Progress against the plan reviewed with the family; actions carried on.",
            next_review_on=next_review_on,
        )

    # --- helpers --------------------------------------------------------------------------------

    def at(self, day: date, hour: int, minute: int = 0) -> None:
        self.clock.set(timezone.make_aware(datetime.combine(day, time(hour, minute))))

    def contact(self, h: Household, *, by: StaffMember, day: date, **fields) -> None:
        moment = timezone.make_aware(
            datetime.combine(day, time(self.rng.randint(9, 16), self.rng.choice([0, 15, 30, 45])))
        )
        moment = min(moment, self.clock.real - timedelta(minutes=1))
        self.clock.set(moment)
        services.contact_create(family=h.family, by=by, occurred_at=moment, **fields)

    def achieve(self, h: Household, *, action: PlanAction, need: Need, on: date) -> None:
        self.at(on, 14)
        owner = self.partner_staff.get(action.owner_agency.kind, h.key_worker)
        services.plan_action_update(
            action_id=action.id, by=owner, expected_version=action.version, status=ActionStatus.DONE
        )
        # The key worker records the need achieved (a need's status is the lead's to change).
        services.need_update(
            need_id=need.id,
            by=h.key_worker,
            expected_version=Need.objects.get(id=need.id).version,
            status=NeedStatus.ACHIEVED,
        )

    @staticmethod
    def work(h: Household, need: Need, code: str) -> tuple[str, str, str]:
        adult = (h.age(need.person) or 0) >= 18
        return WORK.get(f"{code}:adult") if adult and f"{code}:adult" in WORK else WORK[code]

    @staticmethod
    def names(people: list[Person]) -> str:
        given = [p.given_name for p in people]
        return " and ".join([", ".join(given[:-1]), given[-1]] if len(given) > 1 else given)
