"""A synthetic council in the bench database, at a council's scale, in a few minutes.

    python -m bench.generate [--small] [--force]

Full scale: 20,000 families, 80,000 people, 60 agencies, 2,000 staff, 1,000,000 interventions and
contacts, with teams, needs, assessments, plan actions, sharing bases, access periods, alerts, the
chronology read model and the guardian grants. `--small` (BENCH_SMALL=1) is 1/100 of that for CI;
without PostgreSQL and Redis a reduced scale (1/10) goes into a SQLite file (bench/common.py).

Proportions follow a large English council: three early help locality teams lead the cases (key
workers with 25 families each); the police are on the team of ~3,000 families, the big secondary
school on ~2,000, health visiting on ~3,600, a small voluntary service (Home-Start) on ~130.
Every active partner involvement is covered by a current sharing basis (consent, purposes
["team_sharing"]), so the grants are what cases/access.py derives: lead agency group view, record,
change and sharing; each covered partner agency group view and record; the key worker all four.
The same grants are written to guardian's default generic tables too, for the textbook baseline.

PostgreSQL: one transaction that truncates the tables it fills and loads them with COPY FREEZE
(psycopg 3 `cursor.copy`), foreign-key triggers off for the session (`session_replication_role =
replica`, the data is consistent by construction and checked afterwards), then ANALYZE. A marker
row (`bench_scale_marker`) records the scale; a later run at the same scale reuses the data. After
generating, a sample of families is checked against `cases.access.family_grants_derive`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import sys
import time
from array import array
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from bench import common
from bench.common import Env, Progress, Scale

VERSION = 4  # 4: API tokens in knox's store (agencies.ApiToken)
MARKER_TABLE = "bench_scale_marker"
REUSE_DAYS = 45  # dated data (expiry of bases, "recent" alerts) is regenerated after this
SEED = 20_000
MAX_FAMILIES = 65_535  # event sort keys pack the family index in 16 bits

# (name, kind, share of families with this agency on the team).
# Early help agencies lead cases instead: their share is of lead families.
EARLY_HELP = [
    ("Early Help North", 0.40),
    ("Early Help Central", 0.35),
    ("Early Help South", 0.25),
]
PARTNERS = [
    ("Borough Police", "police", 0.15),  # the agency on ~3,000 families
    ("Health Visiting Service", "health", 0.18),
    ("Housing Options", "housing", 0.12),
    ("Hillside Academy", "school", 0.10),  # the school on ~2,000 families
    ("Jobcentre Plus", "jobcentre", 0.08),
    ("Children's Social Care", "childrens_social_care", 0.06),
    ("CAMHS", "health", 0.05),
    ("Domestic Abuse Service", "domestic_abuse", 0.045),
    ("Riverside Housing Association", "housing", 0.04),
    ("Drug and Alcohol Service", "substance_misuse", 0.035),
    ("Youth Justice Service", "youth_justice", 0.03),
    ("Community Paediatrics", "health", 0.03),
    ("Adult Mental Health", "health", 0.03),
    ("Probation Service", "probation", 0.02),
    ("Citizens Advice", "voluntary", 0.03),
    ("Food Bank Network", "voluntary", 0.02),
    ("Young Carers Service", "voluntary", 0.008),
    ("Home-Start", "voluntary", 0.0065),  # the agency on ~130 families
    ("Barnardo's Family Support", "voluntary", 0.01),
    ("Women's Aid Refuge", "domestic_abuse", 0.006),
    ("Family Mediation Service", "voluntary", 0.005),
    ("Debt Advice Centre", "voluntary", 0.007),
    ("Youth Club Partnership", "voluntary", 0.004),
    ("Parenting Together", "voluntary", 0.009),
    ("Speech and Language Therapy", "health", 0.012),
    ("School Nursing", "health", 0.02),
    ("Kingsway High School", "school", 0.045),
    ("St Mary's RC High School", "school", 0.035),
    ("Oakfield Academy", "school", 0.04),
    ("Northgate School", "school", 0.03),
    ("Riverside Pupil Referral Unit", "school", 0.01),
] + [
    (f"{name} Primary School", "school", share)
    for name, share in [
        ("Acorn", 0.012),
        ("Beech Grove", 0.009),
        ("Brookside", 0.011),
        ("Castle Hill", 0.008),
        ("Church Lane", 0.01),
        ("Elmwood", 0.007),
        ("Fairfield", 0.012),
        ("Green Lane", 0.009),
        ("Highfield", 0.011),
        ("Holy Trinity", 0.006),
        ("Larkrise", 0.008),
        ("Meadowbank", 0.01),
        ("Millbrook", 0.009),
        ("Park View", 0.013),
        ("Queensway", 0.007),
        ("Rosehill", 0.008),
        ("St Anne's", 0.006),
        ("Westfield", 0.01),
        ("Willow Tree", 0.009),
        ("Woodlands", 0.011),
        ("Canal Side", 0.005),
        ("Station Road", 0.004),
        ("Bishop's Park", 0.007),
        ("Ashby", 0.006),
        ("Lime Street", 0.005),
        ("Orchard", 0.004),
    ]
]
assert len(EARLY_HELP) + len(PARTNERS) == 60

# The bench's users, by role: (label, agency, role, username). Looked up by username.
SUBJECTS = [
    ("key worker", "Early Help North", "key_worker"),
    ("lead manager", "Early Help North", "manager"),
    ("lead practitioner", "Early Help Central", "practitioner"),
    ("police", "Borough Police", "practitioner"),
    ("school", "Hillside Academy", "practitioner"),
    ("health visitor", "Health Visiting Service", "practitioner"),
    ("housing", "Housing Options", "practitioner"),
    ("small agency", "Home-Start", "practitioner"),
]
BIG_AGENCY, SMALL_AGENCY = "Borough Police", "Home-Start"

SURNAMES = (
    "Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright Thompson Evans "
    "Walker White Roberts Green Hall Wood Jackson Clarke Patel Khan Lewis James Phillips Mason "
    "Mitchell Rose Davis Rodriguez Cox Alexander Morgan Moore Harris Hughes Edwards Hill Ahmed "
    "Begum Hussain Ali Kowalski Nowak Murphy Kelly Okafor Mensah Ward Turner Carter Cooper"
).split()
GIVEN = (
    "Olivia Amelia Isla Ava Mia Ivy Lily Grace Sophia Freya Noah Oliver George Arthur Muhammad "
    "Leo Harry Oscar Archie Henry Jack Charlie Jacob Thomas Emily Chloe Jessica Ruby Aisha Zara "
    "Kayden Tyler Connor Liam Sarah Michelle Lisa Karen Dean Craig Lee Paul Gemma Kerry Stacey"
).split()
STREETS = (
    "Acacia Avenue|Mill Lane|Station Road|Church Street|Park Road|Victoria Street|Queens Road"
    "|High Street|Elm Close|Canal Walk"
).split("|")
POSTCODE_AREAS = ["LS1", "LS6", "LS7", "LS8", "LS9", "LS11", "LS12", "LS14", "LS15", "LS28"]
CONTACT_SUMMARIES = [
    "Home visit with mum; discussed morning routines and school attendance.",
    "Phone call to check on housing repair progress; landlord has booked a visit.",
    "Attended the multi-agency meeting; plan reviewed and actions agreed.",
    "Met the young person at school; engagement improving, attendance 87% this half term.",
    "Dad did not answer; left a message and will try again tomorrow.",
    "Discussed budgeting and a referral to debt advice; family agreed.",
    "Checked in after the weekend incident; no further police call-outs.",
    "Supported mum at the GP appointment about anxiety; follow-up in four weeks.",
    "Food bank voucher issued; family to collect on Thursday.",
    "Reviewed the safety plan with mum; she feels safer since the injunction.",
    "Spoke to the class teacher; behaviour in class is settling.",
    "Text message reminder sent about the parenting group on Wednesday.",
    "Office visit to complete the Jobcentre work search review.",
    "Video call with the family and the health visitor about the baby's weight.",
    "Joint visit with housing to look at the damp in the back bedroom.",
]
INTERVENTION_TITLES = {
    "parenting": [
        "Triple P parenting programme",
        "Incredible Years group",
        "1:1 parenting support",
    ],
    "attendance": ["Attendance support plan", "Morning routine support", "Team around the school"],
    "mental_health": ["CAMHS assessment", "Talking therapies referral", "Wellbeing sessions"],
    "substance_misuse": ["Alcohol brief intervention", "Structured treatment", "Recovery group"],
    "domestic_abuse": ["IDVA support", "Freedom Programme", "Safety planning"],
    "housing": ["Tenancy sustainment", "Homelessness prevention", "Repairs advocacy"],
    "employment": ["Work coach appointments", "CV and interview support", "Skills course"],
    "financial": ["Debt advice", "Benefit check", "Budgeting support"],
    "youth": ["Youth club sessions", "Mentoring", "Positive activities"],
    "safeguarding": ["Child in need plan", "Strategy discussion follow-up", "Safety network"],
    "other": ["Family group conference", "Practical support", "Befriending"],
}
INTERVENTION_KINDS = list(INTERVENTION_TITLES)
METHODS = [
    ("home_visit", "home visit"),
    ("office", "office visit"),
    ("phone", "phone call"),
    ("video", "video call"),
    ("school", "at school"),
    ("message", "message or letter"),
    ("meeting", "multi-agency meeting"),
    ("other", "other"),
]
NEED_DESCRIPTORS = [
    "Persistent absence from school",
    "Parent needs support with mental health",
    "Rent arrears and risk of eviction",
    "Domestic abuse in the household",
    "Young person at risk of exploitation",
    "Worklessness in the household",
    "Problem debt",
    "Alcohol misuse affecting parenting",
    "Child's speech and language delay",
    "Anti-social behaviour",
]
DAYS_OF_HISTORY = 3 * 365
STATUTORY = "Statutory early help duty (Children Act 2004 s10)"


# --- the plan: every id and relationship, decided in Python before anything is written ---------


@dataclass
class AgencyPlan:
    id: int
    name: str
    kind: str
    share: float
    group_id: int
    lead_share: float = 0.0
    key_workers: list[int] = field(default_factory=list)
    managers: list[int] = field(default_factory=list)
    practitioners: list[int] = field(default_factory=list)
    admins: list[int] = field(default_factory=list)


@dataclass
class Plan:
    scale: Scale
    today: date
    base_day: date  # day offset 0
    agencies: list[AgencyPlan]
    users: list[tuple]  # (id, username, first, last, agency index, role)
    # per family (index i ↔ id i + 1)
    lead: array  # agency index
    key_worker: array  # user id
    opened: array  # day offset
    closed: array  # day offset, -1 when open
    persons_first: array  # first person id
    persons_count: array
    needs_first: array
    needs_count: array
    # involvements: (id, family index, agency index, practitioner user id, start, end or -1)
    involvements: list[tuple]
    basis_id: array  # current sharing basis id per family


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-").replace("--", "-")


def username(agency: str, role: str, n: int) -> str:
    short = {"key_worker": "kw", "manager": "mgr", "practitioner": "prac", "agency_admin": "admin"}
    return f"{_slug(agency)}-{short[role]}-{n:03d}"


def plan_make(scale: Scale, today: date) -> Plan:
    if scale.families > MAX_FAMILIES:
        raise SystemExit(f"at most {MAX_FAMILIES} families")
    rng = random.Random(SEED)
    agencies: list[AgencyPlan] = []
    for name, lead_share in EARLY_HELP:
        n = len(agencies) + 1
        agencies.append(AgencyPlan(n, name, "early_help", 0.0, n, lead_share=lead_share))
    for name, kind, share in PARTNERS:
        n = len(agencies) + 1
        agencies.append(AgencyPlan(n, name, kind, share, n))

    # Staff: key workers hold ~25 families; then managers, practitioners and admins.
    users: list[tuple] = []

    def add_user(agency: AgencyPlan, index: int, role: str, bucket: list[int]) -> None:
        uid = len(users) + 1
        first, last = rng.choice(GIVEN), rng.choice(SURNAMES)
        users.append((uid, username(agency.name, role, len(bucket) + 1), first, last, index, role))
        bucket.append(uid)

    total_kw = math.ceil(scale.families / 25)
    for index, agency in enumerate(agencies[: len(EARLY_HELP)]):
        kws = max(1, round(total_kw * agency.lead_share))
        for _ in range(kws):
            add_user(agency, index, "key_worker", agency.key_workers)
        for _ in range(max(1, math.ceil(kws / 12))):
            add_user(agency, index, "manager", agency.managers)
        for _ in range(max(1, math.ceil(kws / 20))):
            add_user(agency, index, "practitioner", agency.practitioners)
        add_user(agency, index, "agency_admin", agency.admins)
    partners = list(enumerate(agencies))[len(EARLY_HELP) :]
    pool = max(0, scale.staff - len(users) - 2 * len(partners))
    share_sum = sum(a.share for _, a in partners)
    for index, agency in partners:
        for _ in range(max(1, round(pool * agency.share / share_sum))):
            add_user(agency, index, "practitioner", agency.practitioners)
        add_user(agency, index, "manager", agency.managers)
        if scale.staff >= 1000:
            add_user(agency, index, "agency_admin", agency.admins)

    # Families: lead agency by share, key worker round robin within the lead agency.
    F = scale.families
    lead, key_worker = array("i", [0] * F), array("i", [0] * F)
    opened, closed = array("i", [0] * F), array("i", [-1] * F)
    eh_weights = [a.lead_share for a in agencies[: len(EARLY_HELP)]]
    kw_next = [0] * len(EARLY_HELP)
    for i in range(F):
        # Older references were opened earlier; a council opens families all year round.
        opened[i] = min(DAYS_OF_HISTORY - 2, int(DAYS_OF_HISTORY * i / F) + rng.randrange(0, 5))
        li = rng.choices(range(len(EARLY_HELP)), eh_weights)[0]
        lead[i] = li
        kws = agencies[li].key_workers
        key_worker[i] = kws[kw_next[li] % len(kws)]
        kw_next[li] += 1
        if opened[i] < DAYS_OF_HISTORY - 120 and rng.random() < 0.3:
            closed[i] = rng.randrange(opened[i] + 60, DAYS_OF_HISTORY - 30)

    # People: ~4 per family, exactly scale.persons in all.
    counts = rng.choices(range(1, 9), [5, 10, 22, 28, 18, 10, 5, 2], k=F)
    diff = scale.persons - sum(counts)
    while diff:
        i = rng.randrange(F)
        step = 1 if diff > 0 else -1
        if 1 <= counts[i] + step <= 10:
            counts[i] += step
            diff -= step
    persons_first, persons_count = array("i", [0] * F), array("i", counts)
    next_id = 1
    for i in range(F):
        persons_first[i] = next_id
        next_id += counts[i]

    # Needs: ~3 per family.
    needs_count = array("i", rng.choices(range(1, 6), [15, 25, 30, 20, 10], k=F))
    needs_first = array("i", [0] * F)
    next_id = 1
    for i in range(F):
        needs_first[i] = next_id
        next_id += needs_count[i]

    # Teams: the lead agency (its key worker named), then each partner on its share of families,
    # some of them ended (history: ended involvements give no grant).
    involvements: list[tuple] = []
    for i in range(F):
        involvements.append((len(involvements) + 1, i, lead[i], key_worker[i], opened[i], -1))
    for index, agency in partners:
        n = min(F, max(1, round(F * agency.share)))
        for i in rng.sample(range(F), n):
            start = rng.randrange(opened[i], max(opened[i] + 1, _end(closed[i]) - 10))
            practitioner = rng.choice(agency.practitioners)
            involvements.append((len(involvements) + 1, i, index, practitioner, start, -1))
        for i in rng.sample(range(F), max(1, n // 6)):  # ended earlier in the family's case
            start = rng.randrange(opened[i], max(opened[i] + 1, _end(closed[i]) - 40))
            end = min(_end(closed[i]), start + rng.randrange(20, 200))
            practitioner = rng.choice(agency.practitioners)
            involvements.append((len(involvements) + 1, i, index, practitioner, start, end))
    # A family has at most one active involvement per agency (a sample is without repeats, but
    # an ended involvement may share an agency with an active one: allowed by the constraint).
    basis_id = array("i", [i + 1 for i in range(F)])
    return Plan(
        scale=scale,
        today=today,
        base_day=today - timedelta(days=DAYS_OF_HISTORY),
        agencies=agencies,
        users=users,
        lead=lead,
        key_worker=key_worker,
        opened=opened,
        closed=closed,
        persons_first=persons_first,
        persons_count=persons_count,
        needs_first=needs_first,
        needs_count=needs_count,
        involvements=involvements,
        basis_id=basis_id,
    )


def _end(closed_day: int) -> int:
    return DAYS_OF_HISTORY if closed_day < 0 else closed_day


# --- writing: COPY on PostgreSQL, executemany on SQLite -------------------------------------------


def _filler(model, columns: list[str], now: datetime) -> tuple[list[str], tuple]:
    """Columns this generator does not set, with the value Django would give them.

    Keeps the generator working when a later change adds a field with a default.
    """
    cols, vals = [], []
    for f in model._meta.concrete_fields:
        if f.attname in columns:
            continue
        if f.primary_key:
            raise ValueError(f"{model._meta.db_table}: the generator must set {f.attname}")
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            value = now
        elif f.has_default():
            value = f.get_default()
        elif f.null:
            value = None
        else:
            raise ValueError(
                f"{model._meta.db_table}.{f.attname} is required and has no default:"
                " teach bench/generate.py to fill it"
            )
        cols.append(f.attname)
        vals.append(value)
    return cols, tuple(vals)


class PgSink:
    def __init__(self, conn, now: datetime):
        self.conn, self.now = conn, now
        self.rows = 0

    def write(self, model, columns: list[str], rows, total: int, label: str) -> None:
        from django.db.models import JSONField
        from psycopg.types.json import Jsonb

        fill_cols, fill_vals = _filler(model, columns, self.now)
        names = columns + fill_cols
        fields = {f.attname: f for f in model._meta.concrete_fields}
        json_at = [i for i, c in enumerate(names) if isinstance(fields[c], JSONField)]
        fill_vals = tuple(
            Jsonb(v) if isinstance(fields[c], JSONField) else v
            for c, v in zip(fill_cols, fill_vals, strict=True)
        )
        table = model._meta.db_table
        quoted = ", ".join(f'"{c}"' for c in names)
        sql = f'COPY "{table}" ({quoted}) FROM STDIN WITH (FREEZE)'
        progress = Progress(label, total)
        n = 0
        with self.conn.cursor() as cur, cur.copy(sql) as copy:
            write = copy.write_row
            for row in rows:
                if json_at:
                    row = tuple(Jsonb(v) if i in json_at else v for i, v in enumerate(row))
                write(row + fill_vals)
                n += 1
                if not n % 20_000:
                    progress.add(20_000)
        progress.done = n
        progress.close()
        self.rows += n


class SqliteSink:
    BATCH = 5_000

    def __init__(self, connection, now: datetime):
        self.connection, self.now = connection, now
        self.rows = 0

    def write(self, model, columns: list[str], rows, total: int, label: str) -> None:
        from django.db.models import DateField, DateTimeField, JSONField

        ops = self.connection.ops
        fill_cols, fill_vals = _filler(model, columns, self.now)
        names = columns + fill_cols
        fields = {f.attname: f for f in model._meta.concrete_fields}

        def converter(f):
            if isinstance(f, DateTimeField):
                return ops.adapt_datetimefield_value
            if isinstance(f, DateField):
                return ops.adapt_datefield_value
            if isinstance(f, JSONField):
                return json.dumps
            return None

        convs = [(i, c) for i, name in enumerate(names) if (c := converter(fields[name]))]
        table = model._meta.db_table
        quoted = ", ".join(f'"{c}"' for c in names)
        placeholders = ", ".join(["%s"] * len(names))
        sql = f'INSERT INTO "{table}" ({quoted}) VALUES ({placeholders})'
        progress = Progress(label, total)
        batch: list[list] = []
        n = 0
        with self.connection.cursor() as cur:
            for row in rows:
                values = list(row + fill_vals)
                for i, conv in convs:
                    if values[i] is not None:
                        values[i] = conv(values[i])
                batch.append(values)
                n += 1
                if len(batch) >= self.BATCH:
                    cur.executemany(sql, batch)
                    progress.add(len(batch))
                    batch.clear()
            if batch:
                cur.executemany(sql, batch)
        progress.done = n
        progress.close()
        self.rows += n


# --- the rows ---------------------------------------------------------------------------------


@dataclass
class Events:
    """Interventions and contacts in time order (ids follow time, families interleave)."""

    fam: array
    day: array
    sec: array
    agency: array  # agency index
    author: array  # user id
    contact: array  # 1 = contact, 0 = intervention
    kind: array  # intervention kind index or contact method index
    text: array
    restricted: array
    type_id: array  # id within its own table


def events_make(plan: Plan, rng: random.Random) -> Events:
    F, total = plan.scale.families, plan.scale.events
    team: list[list[tuple[int, int]]] = [[] for _ in range(F)]  # (agency index, practitioner)
    for _id, i, agency, practitioner, _start, _stop in plan.involvements:
        team[i].append((agency, practitioner))
    weights = [
        (_end(plan.closed[i]) - plan.opened[i] + 30) * rng.lognormvariate(0, 0.6) for i in range(F)
    ]
    scale = total / sum(weights)
    counts = [int(w * scale) for w in weights]
    for _ in range(total - sum(counts)):
        counts[rng.randrange(F)] += 1
    keys = array("q")
    for i in range(F):
        lo, hi = plan.opened[i], max(plan.opened[i] + 1, _end(plan.closed[i]))
        for _ in range(counts[i]):
            keys.append((rng.randrange(lo, hi) << 16) | i)
    ordered = sorted(keys)
    del keys
    n = len(ordered)
    ev = Events(
        fam=array("i", bytes(4 * n)),
        day=array("i", bytes(4 * n)),
        sec=array("i", bytes(4 * n)),
        agency=array("i", bytes(4 * n)),
        author=array("i", bytes(4 * n)),
        contact=array("b", bytes(n)),
        kind=array("b", bytes(n)),
        text=array("h", bytes(2 * n)),
        restricted=array("b", bytes(n)),
        type_id=array("i", bytes(4 * n)),
    )
    next_intervention = next_contact = 1
    agencies = plan.agencies
    for k, key in enumerate(ordered):
        i = key & 0xFFFF
        ev.fam[k], ev.day[k] = i, key >> 16
        ev.sec[k] = rng.randrange(8 * 3600, 18 * 3600)
        members = team[i]
        if rng.random() < 0.4:
            agency_index, author = members[0]  # the lead agency, mostly the key worker
            if rng.random() < 0.2:
                author = rng.choice(agencies[agency_index].practitioners)
        else:
            agency_index, author = rng.choice(members)
        ev.agency[k], ev.author[k] = agency_index, author
        is_contact = rng.random() < 0.75
        ev.contact[k] = is_contact
        if is_contact:
            ev.kind[k] = rng.randrange(len(METHODS))
            ev.text[k] = rng.randrange(len(CONTACT_SUMMARIES))
            ev.type_id[k] = next_contact
            next_contact += 1
        else:
            ev.kind[k] = rng.randrange(len(INTERVENTION_KINDS))
            ev.text[k] = rng.randrange(3)
            ev.type_id[k] = next_intervention
            next_intervention += 1
        ev.restricted[k] = rng.random() < 0.04
    return ev


def generate(env: Env, conn_or_connection) -> dict:
    """Fill the bench database. Returns counts. Runs inside the caller's transaction."""
    from django.apps import apps
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group, Permission
    from django.contrib.contenttypes.models import ContentType
    from guardian.models import GroupObjectPermission, UserObjectPermission
    from knox.crypto import hash_token

    from agencies.models import Agency, ApiToken, StaffMember
    from alerts.models import Alert
    from cases.grants import FamilyGroupObjectPermission, FamilyUserObjectPermission
    from cases.models import (
        Assessment,
        ChronologyEntry,
        Contact,
        Family,
        HeadlineOutcome,
        Intervention,
        Involvement,
        Need,
        Person,
        PlanAction,
    )

    User = apps.get_model("auth", "User")
    consent = apps.is_installed("consent")
    rng = random.Random(SEED + 1)
    now = datetime.now(UTC).replace(microsecond=0)
    today = date.today()
    plan = plan_make(env.scale, today)
    sink = PgSink(conn_or_connection, now) if env.postgres else SqliteSink(conn_or_connection, now)
    F = env.scale.families
    A = plan.agencies
    base = datetime.combine(plan.base_day, datetime.min.time(), tzinfo=UTC)

    def at(day: int, sec: int = 9 * 3600) -> datetime:
        return base + timedelta(days=day, seconds=sec)

    def on(day: int) -> date:
        return plan.base_day + timedelta(days=day)

    def ref(i: int) -> str:
        return f"TA{i + 1:06d}"

    outcomes = list(
        HeadlineOutcome.objects.filter(framework_version="2022").values_list("id", "label")
    )
    if not outcomes:
        raise SystemExit("no 2022 outcome framework rows: is the bench database migrated?")
    perm = dict(
        Permission.objects.filter(
            content_type__app_label="cases", content_type__model="family"
        ).values_list("codename", "id")
    )
    family_ct = ContentType.objects.get_for_model(Family).id
    view, record, change, sharing = (
        perm["view_family"],
        perm["record_family_work"],
        perm["change_family"],
        perm["manage_family_sharing"],
    )
    lead_perms = kw_perms = (view, record, change, sharing)
    team_perms = (view, record)

    # --- agencies, groups, users, staff, tokens
    sink.write(
        Group, ["id", "name"], ((a.group_id, f"agency:{a.name}") for a in A), len(A), "groups"
    )
    sink.write(
        Agency,
        ["id", "name", "kind", "group_id", "created_at"],
        ((a.id, a.name, a.kind, a.group_id, at(0)) for a in A),
        len(A),
        "agencies",
    )
    password = make_password("bench-only-not-a-real-password")
    sink.write(
        User,
        ["id", "password", "username", "first_name", "last_name", "email", "is_active",
         "is_staff", "is_superuser", "date_joined", "last_login"],
        (
            (uid, password, name, first, last, f"{name}@bench.invalid", True, False, False,
             at(0), None)
            for uid, name, first, last, _ai, _role in plan.users
        ),
        len(plan.users),
        "users",
    )  # fmt: skip
    sink.write(
        User.groups.through,
        ["id", "user_id", "group_id"],
        ((uid, uid, A[ai].group_id) for uid, _n, _f, _l, ai, _r in plan.users),
        len(plan.users),
        "user groups",
    )
    sink.write(
        StaffMember,
        ["id", "user_id", "agency_id", "role", "created_at"],
        ((uid, uid, A[ai].id, role, at(0)) for uid, _n, _f, _l, ai, role in plan.users),
        len(plan.users),
        "staff",
    )
    # API tokens (knox's store: the digest kept, the secret `bench_token(uid)`), expiring long
    # after the data is reused (REUSE_DAYS); last used now, as a client in steady use.
    expiry = now + timedelta(days=REUSE_DAYS + 30)
    sink.write(
        ApiToken,
        ["id", "digest", "token_key", "user_id", "created", "expiry", "last_used_at"],
        (
            (uid, hash_token(bench_token(uid)), bench_token(uid)[:15], uid, now, expiry, now)
            for uid, *_ in plan.users
        ),
        len(plan.users),
        "tokens",
    )

    # --- families and people
    def families():
        for i in range(F):
            surname = SURNAMES[i % len(SURNAMES)]
            postcode = (
                f"{POSTCODE_AREAS[i % 10]} {i % 9 + 1}{chr(65 + i % 26)}{chr(65 + i // 26 % 26)}"
            )
            status = "open" if plan.closed[i] < 0 else "closed"
            yield (
                i + 1, ref(i), f"{surname} household", f"{i % 200 + 1} {STREETS[i % 10]}",
                postcode, status, 1 + i % 4, plan.key_worker[i], A[plan.lead[i]].id,
                on(plan.opened[i]), on(plan.closed[i]) if plan.closed[i] >= 0 else None,
                on(min(DAYS_OF_HISTORY + 90, plan.opened[i] + 90)), 1, at(plan.opened[i]),
                at(plan.opened[i]),
            )  # fmt: skip

    sink.write(
        Family,
        ["id", "reference", "name", "address", "postcode", "status", "level_of_need",
         "key_worker_id", "lead_agency_id", "opened_on", "closed_on", "next_review_on",
         "version", "created_at", "updated_at"],
        families(), F, "families",
    )  # fmt: skip

    def persons():
        for i in range(F):
            surname = SURNAMES[i % len(SURNAMES)]
            for k in range(plan.persons_count[i]):
                pid = plan.persons_first[i] + k
                if k == 0:
                    rel, born = "parent", 1975 + pid % 20
                elif k == 1 and pid % 2:
                    rel, born = "partner", 1972 + pid % 22
                else:
                    rel, born = "child", 2006 + pid % 17
                yield (pid, i + 1, GIVEN[pid % len(GIVEN)], surname,
                       date(born, 1 + pid % 12, 1 + pid % 28), rel, at(plan.opened[i]))  # fmt: skip

    sink.write(
        Person,
        ["id", "family_id", "given_name", "family_name", "date_of_birth", "relationship",
         "created_at"],
        persons(), env.scale.persons, "people",
    )  # fmt: skip

    sink.write(
        Involvement,
        ["id", "family_id", "agency_id", "practitioner_id", "role", "started_on", "ended_on",
         "created_at"],
        (
            (iid, i + 1, A[ai].id, prac, "Lead agency" if ai == plan.lead[i] else "",
             on(start), on(end) if end >= 0 else None, at(start))
            for iid, i, ai, prac, start, end in plan.involvements
        ),
        len(plan.involvements), "involvements",
    )  # fmt: skip

    # --- needs, assessments, plan actions
    team_active: list[list[tuple[int, int]]] = [[] for _ in range(F)]  # (agency index, user)
    for _iid, i, ai, prac, _start, end in plan.involvements:
        if end < 0:
            team_active[i].append((ai, prac))

    def needs():
        statuses = ["identified", "in_progress", "in_progress", "achieved", "closed"]
        for i in range(F):
            for k in range(plan.needs_count[i]):
                nid = plan.needs_first[i] + k
                ai, author = team_active[i][nid % len(team_active[i])]
                status = statuses[nid % 5]
                day = plan.opened[i] + nid % 30
                person = plan.persons_first[i] + nid % plan.persons_count[i] if nid % 3 else None
                yield (nid, i + 1, person, outcomes[nid % len(outcomes)][0],
                       NEED_DESCRIPTORS[nid % len(NEED_DESCRIPTORS)], "", status, on(day),
                       on(min(DAYS_OF_HISTORY, day + 120)) if status == "achieved" else None,
                       A[ai].id, author, at(day))  # fmt: skip

    n_needs = sum(plan.needs_count)
    sink.write(
        Need,
        ["id", "family_id", "person_id", "outcome_id", "descriptor", "evidence", "status",
         "identified_on", "achieved_on", "agency_id", "recorded_by_id", "created_at"],
        needs(), n_needs, "needs",
    )  # fmt: skip
    assessed = [i for i in range(F) if plan.opened[i] + 40 < DAYS_OF_HISTORY]
    sink.write(
        Assessment,
        ["id", "family_id", "completed_on", "summary", "agency_id", "recorded_by_id",
         "created_at"],
        (
            (n + 1, i + 1, on(plan.opened[i] + 30),
             "Whole-family assessment: strengths, needs and the family's own goals.",
             A[plan.lead[i]].id, plan.key_worker[i], at(plan.opened[i] + 30))
            for n, i in enumerate(assessed)
        ),
        len(assessed), "assessments",
    )  # fmt: skip

    def actions():
        n = 0
        for i in range(F):
            for k in range(2):
                n += 1
                ai, _author = team_active[i][n % len(team_active[i])]
                yield (n, i + 1, f"{NEED_DESCRIPTORS[n % 10]}: agreed action {k + 1}", A[ai].id,
                       on(plan.opened[i] + 60), ("open", "in_progress", "done")[n % 3], 1,
                       plan.key_worker[i], at(plan.opened[i] + 30))  # fmt: skip

    sink.write(
        PlanAction,
        ["id", "family_id", "description", "owner_agency_id", "due_on", "status", "version",
         "recorded_by_id", "created_at"],
        actions(), 2 * F, "plan actions",
    )  # fmt: skip
    sink.write(
        PlanAction.needs.through,
        ["id", "planaction_id", "need_id"],
        ((2 * i + k + 1, 2 * i + k + 1, plan.needs_first[i]) for i in range(F) for k in range(2)),
        2 * F,
        "plan action needs",
    )

    # --- sharing bases and the disclosure history (consent app)
    if consent:
        from consent.models import AccessPeriod, SharingBasis

        def bases():
            for i in range(F):
                kind = "consent" if i % 5 else "public_task"
                yield (plan.basis_id[i], i + 1, kind, ["team_sharing"],
                       "written" if kind == "consent" else "", True if kind == "consent" else None,
                       "" if kind == "consent" else STATUTORY,
                       None if kind == "consent" else A[plan.lead[i]].managers[0],
                       on(plan.opened[i]), today + timedelta(days=120 + i % 400),
                       today + timedelta(days=60 + i % 200), plan.key_worker[i],
                       at(plan.opened[i]), None,
                       None if kind == "consent" else at(plan.opened[i]),
                       None if kind == "consent" else A[plan.lead[i]].managers[0])  # fmt: skip

        sink.write(
            SharingBasis,
            ["id", "family_id", "basis", "purposes", "method", "agrees_to_early_help",
             "justification", "decided_by_id", "given_on", "expires_on", "review_on",
             "recorded_by_id", "recorded_at", "withdrawn_at", "confirmed_at", "confirmed_by_id"],
            bases(), F, "sharing bases",
        )  # fmt: skip
        basis_agencies = [
            (i, A[ai].id) for i in range(F) for ai, _u in team_active[i] if ai != plan.lead[i]
        ]
        sink.write(
            SharingBasis.agencies.through,
            ["id", "sharingbasis_id", "agency_id"],
            ((n + 1, plan.basis_id[i], aid) for n, (i, aid) in enumerate(basis_agencies)),
            len(basis_agencies),
            "sharing basis agencies",
        )
        sink.write(
            SharingBasis.given_by.through,
            ["id", "sharingbasis_id", "person_id"],
            ((i + 1, plan.basis_id[i], plan.persons_first[i]) for i in range(F)),
            F,
            "sharing basis given by",
        )

        def periods():
            n = 0
            for i in range(F):
                n += 1
                yield (n, i + 1, A[plan.lead[i]].id, None, "lead_agency", None,
                       at(plan.opened[i]))  # fmt: skip
                n += 1
                yield (n, i + 1, None, plan.key_worker[i], "key_worker", None,
                       at(plan.opened[i]))  # fmt: skip
            for _iid, i, ai, _prac, start, end in plan.involvements:
                if end < 0 and ai != plan.lead[i]:
                    n += 1
                    yield (n, i + 1, A[ai].id, None, "team_basis", plan.basis_id[i], at(start))

        n_periods = 2 * F + len(basis_agencies)
        sink.write(
            AccessPeriod,
            ["id", "family_id", "agency_id", "user_id", "footing", "basis_id", "started_at"],
            periods(), n_periods, "access periods",
        )  # fmt: skip

    # --- grants, exactly as the rule derives them, in the direct-FK and the generic tables
    group_rows: list[tuple[int, int, int]] = []  # (family id, group id, permission id)
    user_rows: list[tuple[int, int, int]] = []
    for i in range(F):
        groups = {A[plan.lead[i]].group_id: set(lead_perms)}
        for ai, _u in team_active[i]:
            groups.setdefault(A[ai].group_id, set()).update(team_perms)
        for gid in sorted(groups):
            for p in sorted(groups[gid]):
                group_rows.append((i + 1, gid, p))
        for p in kw_perms:
            user_rows.append((i + 1, plan.key_worker[i], p))
    sink.write(
        FamilyGroupObjectPermission,
        ["id", "content_object_id", "group_id", "permission_id"],
        ((n + 1, *row) for n, row in enumerate(group_rows)),
        len(group_rows),
        "grants: agency groups",
    )
    sink.write(
        FamilyUserObjectPermission,
        ["id", "content_object_id", "user_id", "permission_id"],
        ((n + 1, *row) for n, row in enumerate(user_rows)),
        len(user_rows),
        "grants: key workers",
    )
    sink.write(
        GroupObjectPermission,
        ["id", "object_pk", "content_type_id", "group_id", "permission_id"],
        ((n + 1, str(f), family_ct, g, p) for n, (f, g, p) in enumerate(group_rows)),
        len(group_rows),
        "guardian generic: groups",
    )
    sink.write(
        UserObjectPermission,
        ["id", "object_pk", "content_type_id", "user_id", "permission_id"],
        ((n + 1, str(f), family_ct, u, p) for n, (f, u, p) in enumerate(user_rows)),
        len(user_rows),
        "guardian generic: users",
    )

    # --- interventions and contacts, in time order
    started = time.perf_counter()
    ev = events_make(plan, rng)
    print(f"  {'(planned events)':<30} {len(ev.fam):,} in {time.perf_counter() - started:.1f} s")
    n_events = len(ev.fam)
    n_contacts = sum(ev.contact)
    n_interventions = n_events - n_contacts
    vis = ("team", "restricted")

    def interventions():
        for k in range(n_events):
            if ev.contact[k]:
                continue
            kind = INTERVENTION_KINDS[ev.kind[k]]
            day = ev.day[k]
            ended = on(min(DAYS_OF_HISTORY, day + 42)) if day + 42 < DAYS_OF_HISTORY else None
            yield (ev.type_id[k], ev.fam[k] + 1, A[ev.agency[k]].id, ev.author[k], kind,
                   INTERVENTION_TITLES[kind][ev.text[k]], on(day), ended, "",
                   vis[ev.restricted[k]], at(day, ev.sec[k]))  # fmt: skip

    sink.write(
        Intervention,
        ["id", "family_id", "agency_id", "recorded_by_id", "kind", "title", "started_on",
         "ended_on", "outcome", "visibility", "created_at"],
        interventions(), n_interventions, "interventions",
    )  # fmt: skip

    def contacts():
        for k in range(n_events):
            if not ev.contact[k]:
                continue
            when = at(ev.day[k], ev.sec[k])
            yield (ev.type_id[k], ev.fam[k] + 1, A[ev.agency[k]].id, ev.author[k], when,
                   METHODS[ev.kind[k]][0], CONTACT_SUMMARIES[ev.text[k]], None,
                   vis[ev.restricted[k]], when)  # fmt: skip

    sink.write(
        Contact,
        ["id", "family_id", "agency_id", "recorded_by_id", "occurred_at", "method", "summary",
         "intervention_id", "visibility", "created_at"],
        contacts(), n_contacts, "contacts",
    )  # fmt: skip

    def m2m(contact: int, every: int, target_first: array, target_count: array):
        n = 0
        for k in range(n_events):
            if ev.contact[k] != contact or ev.type_id[k] % every:
                continue
            i = ev.fam[k]
            n += 1
            yield (n, ev.type_id[k], target_first[i] + ev.type_id[k] % target_count[i])

    half_i, third_c = n_interventions // 2, n_contacts // 3
    sink.write(
        Intervention.needs.through,
        ["id", "intervention_id", "need_id"],
        m2m(0, 2, plan.needs_first, plan.needs_count),
        half_i,
        "intervention needs",
    )
    sink.write(
        Intervention.persons.through,
        ["id", "intervention_id", "person_id"],
        m2m(0, 2, plan.persons_first, plan.persons_count),
        half_i,
        "intervention people",
    )
    sink.write(
        Contact.persons.through,
        ["id", "contact_id", "person_id"],
        m2m(1, 3, plan.persons_first, plan.persons_count),
        third_c,
        "contact people",
    )

    # --- the chronology read model: what the services write with each event
    def chronology():
        n = 0
        for i in range(F):
            n += 1
            yield (n, i + 1, at(plan.opened[i]), "family.opened", A[plan.lead[i]].id,
                   f"Family opened by {A[plan.lead[i]].name}", i + 1, "team")  # fmt: skip
            for k in range(plan.persons_count[i]):
                n += 1
                pid = plan.persons_first[i] + k
                yield (n, i + 1, at(plan.opened[i], 9 * 3600 + k), "member.added",
                       A[plan.lead[i]].id, f"{GIVEN[pid % len(GIVEN)]} added", pid,
                       "team")  # fmt: skip
            for k in range(plan.needs_count[i]):
                n += 1
                nid = plan.needs_first[i] + k
                yield (n, i + 1, at(plan.opened[i] + nid % 30), "need.identified",
                       A[plan.lead[i]].id,
                       f"Need identified: {outcomes[nid % len(outcomes)][1]}", nid,
                       "team")  # fmt: skip
        for iid, i, ai, _prac, start, end in plan.involvements:
            if ai == plan.lead[i]:
                continue
            n += 1
            yield (n, i + 1, at(start), "team.joined", A[ai].id,
                   f"{A[ai].name} joined the team", iid, "team")  # fmt: skip
            if end >= 0:
                n += 1
                yield (n, i + 1, at(end), "team.left", A[ai].id, f"{A[ai].name} left the team",
                       iid, "team")  # fmt: skip
        for k in range(n_events):
            i, agency = ev.fam[k], A[ev.agency[k]]
            restricted = ev.restricted[k]
            n += 1
            if ev.contact[k]:
                text = (
                    f"{agency.name} recorded a restricted contact"
                    if restricted
                    else f"{agency.name} ({METHODS[ev.kind[k]][1]}): "
                    f"{CONTACT_SUMMARIES[ev.text[k]]}"[:300]
                )
                yield (n, i + 1, at(ev.day[k], ev.sec[k]), "contact.recorded", agency.id, text,
                       ev.type_id[k], vis[restricted])  # fmt: skip
            else:
                kind = INTERVENTION_KINDS[ev.kind[k]]
                text = (
                    f"{agency.name} recorded a restricted intervention"
                    if restricted
                    else f"{agency.name}: {INTERVENTION_TITLES[kind][ev.text[k]]}"
                )
                yield (n, i + 1, at(ev.day[k]), "intervention.recorded", agency.id, text,
                       ev.type_id[k], vis[restricted])  # fmt: skip

    n_team_joined = sum(1 for _iid, i, ai, *_ in plan.involvements if ai != plan.lead[i])
    n_team_left = sum(1 for *_, end in plan.involvements if end >= 0)
    n_chronology = F + env.scale.persons + n_needs + n_team_joined + n_team_left + n_events
    sink.write(
        ChronologyEntry,
        ["id", "family_id", "at", "type", "agency_id", "summary", "object_id", "visibility"],
        chronology(), n_chronology, "chronology",
    )  # fmt: skip

    # --- alerts: the last 30 days' events, to each team member who may see them but the author
    recent_from = DAYS_OF_HISTORY - 30

    def alerts():
        n = 0
        for k in range(n_events):
            day = ev.day[k]
            if day < recent_from:
                continue
            i = ev.fam[k]
            author, restricted = ev.author[k], ev.restricted[k]
            recipients = {plan.key_worker[i]} | {u for _ai, u in team_active[i]}
            if restricted:
                agency_index = ev.agency[k]
                recipients = {plan.key_worker[i]} | {
                    u for ai, u in team_active[i] if ai == agency_index
                }
            recipients.discard(author)
            agency = A[ev.agency[k]]
            if ev.contact[k]:
                kind, source = "contact.recorded", "contact"
                text = f"{agency.name} ({METHODS[ev.kind[k]][1]})"
            else:
                kind, source = "intervention.recorded", "intervention"
                title = INTERVENTION_TITLES[INTERVENTION_KINDS[ev.kind[k]]][ev.text[k]]
                text = f"{agency.name}: {title}"
            if restricted:
                text = f"{agency.name} recorded a restricted {source}"
            created = at(day, ev.sec[k])
            read = created + timedelta(hours=20) if day < DAYS_OF_HISTORY - 3 and k % 7 else None
            for user_id in sorted(recipients):
                n += 1
                yield (n, user_id, i + 1, agency.id, kind, f"{ref(i)}: {text}"[:300], source,
                       ev.type_id[k], created, read, read)  # fmt: skip

    approx_alerts = int(n_events * 30 / DAYS_OF_HISTORY * 3)
    before = sink.rows
    sink.write(
        Alert,
        ["id", "recipient_id", "family_id", "agency_id", "kind", "summary", "source_type",
         "source_id", "created_at", "read_at", "digested_at"],
        alerts(), approx_alerts, "alerts",
    )  # fmt: skip
    n_alerts = sink.rows - before

    return {
        "agencies": len(A),
        "staff": len(plan.users),
        "families": F,
        "people": env.scale.persons,
        "involvements": len(plan.involvements),
        "needs": n_needs,
        "interventions": n_interventions,
        "contacts": n_contacts,
        "chronology": n_chronology,
        "alerts": n_alerts,
        "sharing_bases": F if consent else 0,
        "grants_direct": len(group_rows) + len(user_rows),
        "grants_generic": len(group_rows) + len(user_rows),
        "rows": sink.rows,
    }


def bench_token(user_id: int) -> str:
    """The secret of a bench user's API token (64 hex characters, as knox makes them): derived,
    since the store keeps only its digest."""
    return hashlib.sha256(f"bench-token-{SEED}-{user_id}".encode()).hexdigest()


# --- marker, locking, verification ------------------------------------------------------------


def signature(env: Env) -> dict:
    from django.apps import apps

    return {
        "version": VERSION,
        "scale": env.scale.__dict__,
        "apps": [a for a in ("consent", "audit") if apps.is_installed(a)],
    }


def _marker_read(cursor) -> dict | None:
    try:
        cursor.execute(f"SELECT info FROM {MARKER_TABLE} WHERE id = 1")
    except Exception:
        return None
    row = cursor.fetchone()
    return json.loads(row[0]) if row else None


def marker_get() -> dict | None:
    from django.db import connection

    tables = connection.introspection.table_names()
    if MARKER_TABLE not in tables:
        return None
    with connection.cursor() as cur:
        return _marker_read(cur)


def _reusable(marker: dict | None, env: Env) -> bool:
    if not marker or marker.get("signature") != signature(env):
        return False
    generated = date.fromisoformat(marker["generated_on"])
    return (date.today() - generated).days <= REUSE_DAYS


def _tables_to_clear() -> list[str]:
    from django.apps import apps

    names = [
        "auth.User", "auth.Group", "agencies.ApiToken", "agencies.Agency", "agencies.StaffMember",
        "cases.Family", "cases.Person", "cases.Involvement", "cases.Need", "cases.Assessment",
        "cases.PlanAction", "cases.Intervention", "cases.Contact", "cases.ChronologyEntry",
        "cases.FamilyUserObjectPermission", "cases.FamilyGroupObjectPermission",
        "guardian.UserObjectPermission", "guardian.GroupObjectPermission", "alerts.Alert",
        "alerts.AlertTicket", "consent.SharingBasis", "consent.AccessPeriod",
        "consent.EmergencyAccess", "audit.AccessEvent", "audit.AccessEventSeal",
    ]  # fmt: skip
    tables = []
    for name in names:
        app, model_name = name.split(".")
        if not apps.is_installed(app) and app != "auth":
            continue
        try:
            model = apps.get_model(app, model_name)
        except LookupError:
            continue
        tables.append(model._meta.db_table)
        for m2m in model._meta.local_many_to_many:
            tables.append(m2m.remote_field.through._meta.db_table)
    return sorted(set(tables))


def _generate_postgres(env: Env) -> dict:
    import psycopg
    from django.apps import apps
    from django.core.management.color import no_style
    from django.db import connection

    with psycopg.connect(env.database_url) as conn:
        superuser = conn.execute(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone()[0]
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '256MB'")
        if superuser:
            conn.execute("SET session_replication_role = replica")
        conn.execute(f"CREATE TABLE IF NOT EXISTS {MARKER_TABLE} (id int PRIMARY KEY, info text)")
        conn.execute(f"DELETE FROM {MARKER_TABLE}")
        tables = _tables_to_clear()
        quoted = ", ".join(f'"{t}"' for t in tables)
        conn.execute(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
        counts = generate(env, conn)
        models = [m for m in apps.get_models(include_auto_created=True)]
        models = [m for m in models if m._meta.db_table in tables]
        for sql in connection.ops.sequence_reset_sql(no_style(), models):
            conn.execute(sql)
        return counts


def _generate_sqlite(env: Env) -> dict:
    from django.db import connection, transaction

    with connection.cursor() as cur:
        cur.execute(f"CREATE TABLE IF NOT EXISTS {MARKER_TABLE} (id int PRIMARY KEY, info text)")
    tables = _tables_to_clear()
    with connection.cursor() as cur:
        cur.execute("PRAGMA foreign_keys = OFF")
        cur.execute("PRAGMA synchronous = OFF")
    try:
        with transaction.atomic():
            with connection.cursor() as cur:
                cur.execute(f"DELETE FROM {MARKER_TABLE}")
                for t in tables:
                    cur.execute(f'DELETE FROM "{t}"')
            return generate(env, connection)
    finally:
        with connection.cursor() as cur:
            cur.execute("PRAGMA foreign_keys = ON")


def _marker_write(env: Env, counts: dict, took: float) -> None:
    from django.db import connection, transaction

    info = {
        "signature": signature(env),
        "generated_on": date.today().isoformat(),
        "generated_at": common.now_iso(),
        "seconds": round(took, 1),
        "counts": counts,
    }
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(f"CREATE TABLE IF NOT EXISTS {MARKER_TABLE} (id int PRIMARY KEY, info text)")
        cur.execute(f"DELETE FROM {MARKER_TABLE}")
        cur.execute(f"INSERT INTO {MARKER_TABLE} (id, info) VALUES (1, %s)", [json.dumps(info)])


def _analyze(env: Env) -> None:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    print(f"  {'ANALYZE':<30} {time.perf_counter() - started:.1f} s", flush=True)


def verify(sample: int = 200) -> dict:
    """Grants on a sample of families equal what cases/access.py derives, in both table sets."""
    from django.contrib.contenttypes.models import ContentType
    from guardian.models import GroupObjectPermission, UserObjectPermission

    from cases import access
    from cases.models import Family

    ct = ContentType.objects.get_for_model(Family)
    total = Family.objects.count()
    rng = random.Random(7)
    ids = sorted(rng.sample(range(1, total + 1), min(sample, total)))
    families = Family.objects.select_related("lead_agency").in_bulk(ids)
    mismatches = []
    for family_id in ids:
        family = families[family_id]
        wanted = access.family_grants_derive(family=family).rows()
        current = access.family_grants_current(family=family)
        generic = {
            ("group", g, c)
            for g, c in GroupObjectPermission.objects.filter(
                content_type=ct, object_pk=str(family_id)
            ).values_list("group_id", "permission__codename")
        } | {
            ("user", u, c)
            for u, c in UserObjectPermission.objects.filter(
                content_type=ct, object_pk=str(family_id)
            ).values_list("user_id", "permission__codename")
        }
        if wanted != current or generic != current:
            mismatches.append(
                {
                    "family": family_id,
                    "missing": sorted(wanted - current),
                    "extra": sorted(current - wanted),
                    "generic_differs": generic != current,
                }
            )
    return {"checked": len(ids), "mismatches": len(mismatches), "examples": mismatches[:3]}


def ensure(env: Env, *, force: bool = False, quiet: bool = False) -> dict:
    """The bench database at `env.scale`: reused when the marker matches, else generated.

    Call after `common.django_setup(env)`. Returns the marker info plus `reused`.
    """
    with common.bench_lock(env):
        marker = None if force else marker_get()
        if _reusable(marker, env):
            if not quiet:
                c = marker["counts"]
                print(
                    f"reusing bench data ({env.scale.name}: {c['families']:,} families,"
                    f" {c['interventions'] + c['contacts']:,} interventions+contacts,"
                    f" generated {marker['generated_at']} in {marker['seconds']} s)",
                    flush=True,
                )
            return {**marker, "reused": True}
        print(f"generating bench data, {env.scale.label}", flush=True)
        started = time.perf_counter()
        counts = _generate_postgres(env) if env.postgres else _generate_sqlite(env)
        if env.postgres:
            _analyze(env)
        took = time.perf_counter() - started
        _marker_write(env, counts, took)
        print(f"generated {counts['rows']:,} rows in {took:.0f} s", flush=True)
        return {**marker_get(), "reused": False}


def subjects() -> list[dict]:
    """The bench's users (one per role in SUBJECTS) with their tokens and what they see."""
    from django.contrib.auth import get_user_model

    from cases import access

    out = []
    for label, agency, role in SUBJECTS:
        name = username(agency, role, 1)
        user = get_user_model().objects.get(username=name)
        visible = access.families_visible_to(user)
        out.append(
            {
                "label": label,
                "agency": agency,
                "role": role,
                "username": name,
                "user_id": user.id,
                "token": bench_token(user.id),
                "visible": visible.count(),
            }
        )
    return out


# --- entry point ------------------------------------------------------------------------------


def run(*, small: bool = False, force: bool = False) -> int:
    env = common.bench_env(small=small)
    note = common.services_note(env)
    if note:
        print(note)
    common.database_ensure(env)
    common.django_setup(env)
    info = ensure(env, force=force)
    started = time.perf_counter()
    check = verify(sample=200 if env.scale.families >= 10_000 else 50)
    print(
        f"grants verified against cases.access.family_grants_derive on {check['checked']}"
        f" families (direct-FK and generic tables): {check['mismatches']} mismatches"
        f" ({time.perf_counter() - started:.1f} s)"
    )
    if check["mismatches"]:
        print(f"MISMATCH examples: {check['examples']}")
    counts = info["counts"]
    status = "reused" if info["reused"] else f"generated in {info['seconds']:.0f} s"
    key = "generate" + env.key_suffix
    row = {
        "line": "bench data",
        "variant": env.scale.name,
        "note": (
            f"{counts['families']:,} families, {counts['people']:,} people,"
            f" {counts['agencies']} agencies, {counts['staff']:,} staff,"
            f" {counts['interventions'] + counts['contacts']:,} interventions+contacts,"
            f" {counts['chronology']:,} chronology, {counts['alerts']:,} alerts,"
            f" {counts['grants_direct']:,} grants; {status}"
        ),
        "met": "ok" if not check["mismatches"] else "MISMATCH",
    }
    common.results_save(
        key,
        {
            "at": common.now_iso(),
            "mode": env.mode,
            "scale": env.scale.__dict__,
            "reused": info["reused"],
            "generated_at": info["generated_at"],
            "seconds": info["seconds"],
            "counts": counts,
            "verify": check,
            "table": [row],
        },
    )
    return 1 if check["mismatches"] else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__)
    parser.add_argument("--small", action="store_true", default=common.small_default())
    parser.add_argument("--force", action="store_true", help="regenerate even if reusable")
    args = parser.parse_args(argv)
    return run(small=args.small, force=args.force)


if __name__ == "__main__":
    sys.exit(main())
