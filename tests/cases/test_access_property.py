"""The access rule as a property: after any sequence of team joins, team leaves, key-worker
changes, lawful bases recorded and withdrawn, the guardian rows and what each user sees are
exactly what the rule says (decisions 0001 and 0005, as listed below).

The expectation is computed here from the test's own model of each family (lead agency, active
team, key worker, current bases), never from cases/access.py:

- the lead agency's group: view, record, change, sharing;
- each agency with an active involvement AND a current basis covering it: view, record;
- the key worker (a user grant): view, record, change, sharing;
- nothing in guardian's generic tables;
- a user of a case role sees a family when their agency leads it or is on its team, or they are
  its key worker, or its agency is on the team under a current basis; an agency admin or a
  platform superuser sees none.

Each hypothesis example builds its families inside a savepoint and rolls it back at the end; the
agencies, staff and tokens are built once per test.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from guardian.models import GroupObjectPermission, UserObjectPermission
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from rest_framework.test import APIClient

from agencies.models import AgencyKind
from agencies.roles import Role
from cases import access, services
from cases.grants import FamilyGroupObjectPermission, FamilyUserObjectPermission
from cases.models import Family, Involvement
from consent import services as consent_services
from tests import factories as f

User = get_user_model()

# Written out here, not imported: the test states the rule independently.
VIEW, RECORD, CHANGE, SHARING = (
    "view_family",
    "record_family_work",
    "change_family",
    "manage_family_sharing",
)
ALL = frozenset({VIEW, RECORD, CHANGE, SHARING})
TEAM = frozenset({VIEW, RECORD})
CASE_ROLES = {"practitioner", "key_worker", "manager"}
LEADING_ROLES = {"key_worker", "manager"}


@dataclass(frozen=True)
class U:
    """A user the machine can pick: who they are, where they work, in what role."""

    user: object
    agency: object | None
    role: str | None
    client: APIClient


@dataclass
class World:
    agencies: list
    users: list[U]
    eh1_kw: U
    eh1_manager: U
    eh2_manager: U


def build_world() -> World:
    eh1 = f.agency_make(kind=AgencyKind.EARLY_HELP, name="Early Help North")
    eh2 = f.agency_make(kind=AgencyKind.EARLY_HELP, name="Early Help South")
    school = f.agency_make(kind=AgencyKind.SCHOOL, name="Hill Primary")
    police = f.agency_make(kind=AgencyKind.POLICE, name="Police")
    housing = f.agency_make(kind=AgencyKind.HOUSING, name="Housing")
    roster = [
        (eh1, Role.KEY_WORKER),
        (eh1, Role.MANAGER),
        (eh1, Role.PRACTITIONER),
        (eh1, Role.AGENCY_ADMIN),
        (eh2, Role.KEY_WORKER),
        (eh2, Role.MANAGER),
        (school, Role.KEY_WORKER),
        (school, Role.PRACTITIONER),
        (police, Role.MANAGER),
        (police, Role.PRACTITIONER),
        (housing, Role.KEY_WORKER),
        (housing, Role.PRACTITIONER),
    ]
    users = []
    for agency, role in roster:
        staff = f.staff_make(agency=agency, role=role)
        users.append(U(staff.user, agency, str(role), _client(staff.user)))
    platform = User.objects.create_user("platform", password=f.PASSWORD, is_superuser=True)
    users.append(U(platform, None, None, _client(platform)))
    return World(
        agencies=[eh1, eh2, school, police, housing],
        users=users,
        eh1_kw=users[0],
        eh1_manager=users[1],
        eh2_manager=users[5],
    )


def _client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {f.token_for(user)}")
    return client


N_FAMILIES = 3


def make_machine(world: World):
    n_agencies = len(world.agencies)
    n_users = len(world.users)
    by_user_id = {u.user.id: u for u in world.users}
    group_of = {a.id: a.group_id for a in world.agencies}

    class AccessMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.atomic = transaction.atomic()
            self.atomic.__enter__()
            # Three families: led by two early help agencies, with and without a key worker.
            eh1_kw, eh1_manager, eh2_manager = world.eh1_kw, world.eh1_manager, world.eh2_manager
            self.families = [
                f.family_make(by=eh1_kw.user.staff, name="Ahmed household"),
                f.family_make(by=eh2_manager.user.staff, name="Brown household"),
                f.family_make(by=eh1_manager.user.staff, name="Clarke household"),
            ]
            self.lead = [fam.lead_agency_id for fam in self.families]
            self.team = [{fam.lead_agency_id} for fam in self.families]
            self.key_worker = [eh1_kw.user.id, None, None]
            # Each family's parent (who can consent) and its bases: [basis, agency ids, live].
            self.givers = [
                f.parent_make(family=fam, by=self.staff_of(i))
                for i, fam in enumerate(self.families)
            ]
            self.bases: list[list[list]] = [[] for _ in self.families]

        def covered(self, i: int) -> set[int]:
            """Agencies a current (recorded, not withdrawn) basis covers."""
            return {a for _, agencies, live in self.bases[i] if live for a in agencies}

        def seeing_team(self, i: int) -> set[int]:
            return self.team[i] & self.covered(i)

        def teardown(self):
            transaction.set_rollback(True)
            self.atomic.__exit__(None, None, None)

        # --- the model's rule ---------------------------------------------------------------

        def expected_rows(self, i: int) -> set[tuple]:
            rows = set()
            for agency_id in self.seeing_team(i):
                rows |= {("group", group_of[agency_id], p) for p in TEAM}
            rows |= {("group", group_of[self.lead[i]], p) for p in ALL}
            if self.key_worker[i] is not None:
                rows |= {("user", self.key_worker[i], p) for p in ALL}
            return rows

        def expected_visible(self, u: U) -> set[int]:
            if u.role not in CASE_ROLES:
                return set()
            return {
                fam.id
                for i, fam in enumerate(self.families)
                if u.agency.id in self.seeing_team(i)
                or u.agency.id == self.lead[i]
                or self.key_worker[i] == u.user.id
            }

        def expected_perms(self, u: U, i: int) -> frozenset[str]:
            if u.role not in CASE_ROLES:
                return frozenset()
            perms: set[str] = set()
            if u.agency.id == self.lead[i]:
                perms |= ALL if u.role in LEADING_ROLES else TEAM
            if u.agency.id in self.seeing_team(i):
                perms |= TEAM
            if self.key_worker[i] == u.user.id:
                perms |= ALL
            return frozenset(perms)

        def staff_of(self, i: int):
            """Who acts: the lead agency's manager or key worker (services don't check roles)."""
            lead = self.lead[i]
            return next(
                u.user.staff
                for u in world.users
                if u.agency and u.agency.id == lead and u.role in LEADING_ROLES
            )

        def manager_of(self, i: int):
            """The lead agency's manager: who allocates the key worker."""
            return next(
                u.user.staff
                for u in world.users
                if u.agency and u.agency.id == self.lead[i] and u.role == "manager"
            )

        # --- steps ------------------------------------------------------------------------------

        @initialize(
            teams=st.lists(
                st.sets(st.integers(0, n_agencies - 1), max_size=2),
                min_size=N_FAMILIES,
                max_size=N_FAMILIES,
            )
        )
        def starting_teams(self, teams):
            """Each family starts with a few agencies on its team (through the same service)."""
            for i, agency_indexes in enumerate(teams):
                for a in sorted(agency_indexes):
                    agency = world.agencies[a]
                    if agency.id not in self.team[i]:
                        services.involvement_create(
                            family=self.families[i], by=self.staff_of(i), agency=agency
                        )
                        self.team[i].add(agency.id)

        @rule(
            i=st.integers(0, N_FAMILIES - 1),
            a=st.integers(0, n_agencies - 1),
            who=st.sampled_from(["none", "own", "anyone"]),
            p=st.integers(0, 63),
        )
        def join(self, i, a, who, p):
            """An agency joins, named practitioner from that agency, from anywhere, or none."""
            agency = world.agencies[a]
            own = [u for u in world.users if u.agency is not None and u.agency.id == agency.id]
            practitioner = {
                "none": None,
                "own": own[p % len(own)],
                "anyone": world.users[p % n_users],
            }[who]
            practitioner_ok = practitioner is None or (
                practitioner.agency is not None
                and practitioner.agency.id == agency.id
                and practitioner.role in CASE_ROLES
            )
            kwargs = dict(
                family=self.families[i],
                by=self.staff_of(i),
                agency=agency,
                practitioner_id=practitioner.user.id if practitioner else None,
            )
            if not practitioner_ok:
                with pytest.raises(ValidationError) as exc:
                    services.involvement_create(**kwargs)
                assert "practitioner" in exc.value.message_dict
                event("join refused: practitioner")
            elif agency.id in self.team[i]:
                with pytest.raises(ValidationError) as exc:
                    services.involvement_create(**kwargs)
                assert "agency" in exc.value.message_dict
                event("join refused: already on the team")
            else:
                services.involvement_create(**kwargs)
                self.team[i].add(agency.id)
                event("joined")

        @rule(
            i=st.integers(0, N_FAMILIES - 1),
            which=st.sampled_from(["a partner", "the key worker's agency", "any agency"]),
            a=st.integers(0, 63),
        )
        def leave(self, i, which, a):
            """A partner on the team, the key worker's agency or any agency is taken off."""
            partners = sorted(self.team[i] - {self.lead[i]}) or [self.lead[i]]
            kw = by_user_id.get(self.key_worker[i])
            agency_id = {
                "a partner": partners[a % len(partners)],
                "the key worker's agency": kw.agency.id if kw else self.lead[i],
                "any agency": world.agencies[a % n_agencies].id,
            }[which]
            agency = next(x for x in world.agencies if x.id == agency_id)
            involvement = Involvement.objects.filter(
                family=self.families[i], agency=agency, ended_on__isnull=True
            ).first()
            if agency.id not in self.team[i]:
                assert involvement is None
                return
            assert involvement is not None
            kw = by_user_id.get(self.key_worker[i])
            blocked = agency.id == self.lead[i] or (kw is not None and kw.agency.id == agency.id)
            if blocked:
                with pytest.raises(services.InvolvementConflict):
                    services.involvement_end(involvement=involvement, by=self.staff_of(i))
                event(
                    "leave refused: lead agency"
                    if agency.id == self.lead[i]
                    else "leave refused: key worker's agency"
                )
            else:
                services.involvement_end(involvement=involvement, by=self.staff_of(i))
                self.team[i].discard(agency.id)
                event("left")

        @rule(
            i=st.integers(0, N_FAMILIES - 1),
            who=st.sampled_from(["none", "on the team", "a partner's lead", "anyone"]),
            k=st.integers(0, 63),
        )
        def change_key_worker(self, i, who, k):
            """Anyone on the team (any role), a partner agency's key worker or manager, anyone at
            all, or nobody, is made key worker."""
            on_team = [u for u in world.users if u.agency and u.agency.id in self.team[i]]
            partner_leads = [
                u for u in on_team if u.agency.id != self.lead[i] and u.role in LEADING_ROLES
            ] or on_team
            new = {
                "none": None,
                "on the team": on_team[k % len(on_team)],
                "a partner's lead": partner_leads[k % len(partner_leads)],
                "anyone": world.users[k % n_users],
            }[who]
            new_id = new.user.id if new else None
            allowed = (
                new is None
                or new_id == self.key_worker[i]
                or (
                    new.role in LEADING_ROLES
                    and (new.agency.id == self.lead[i] or new.agency.id in self.team[i])
                )
            )
            version = Family.objects.values_list("version", flat=True).get(id=self.families[i].id)
            kwargs = dict(
                family_id=self.families[i].id,
                by=self.manager_of(i),
                expected_version=version,
                key_worker_id=new_id,
            )
            if allowed:
                services.family_update(**kwargs)
                event(
                    "key worker from a partner agency"
                    if new is not None and new.agency.id != self.lead[i]
                    else "key worker changed"
                )
                self.key_worker[i] = new_id
            else:
                with pytest.raises(ValidationError) as exc:
                    services.family_update(**kwargs)
                assert "key_worker" in exc.value.message_dict
                event("key worker refused")

        @rule(
            i=st.integers(0, N_FAMILIES - 1),
            picks=st.sets(st.integers(0, 63), min_size=1, max_size=3),
            stranger=st.integers(0, n_agencies + 3),
        )
        def record_basis(self, i, picks, stranger):
            """Consent to share with some agencies on the team; refused when it names an agency
            not on the team."""
            partners = sorted(self.team[i] - {self.lead[i]})
            chosen = {partners[p % len(partners)] for p in picks} if partners else set()
            if stranger < n_agencies:  # now and then, any agency at all
                chosen.add(world.agencies[stranger].id)
            if not chosen:
                return
            agencies = [a for a in world.agencies if a.id in chosen]
            kwargs = dict(
                family=self.families[i],
                by=self.staff_of(i),
                basis="consent",
                agencies=agencies,
                given_by=[self.givers[i]],
                method="written",
            )
            if any(a.id not in self.team[i] for a in agencies):
                with pytest.raises(ValidationError) as exc:
                    consent_services.sharing_basis_create(**kwargs)
                assert "agencies" in exc.value.message_dict
                event("basis refused: agency not on the team")
                return
            basis = consent_services.sharing_basis_create(**kwargs)
            self.bases[i].append([basis, {a.id for a in agencies}, True])
            event("basis recorded")

        @rule(i=st.integers(0, N_FAMILIES - 1), k=st.integers(0, 63))
        def withdraw_basis(self, i, k):
            live = [b for b in self.bases[i] if b[2]]
            if not live:
                return
            entry = live[k % len(live)]
            consent_services.sharing_basis_withdraw(
                basis=entry[0], by=self.staff_of(i), reason="The family withdrew consent."
            )
            entry[2] = False
            event("basis withdrawn")

        @rule(n=st.integers(0, n_users - 1), j=st.integers(0, N_FAMILIES - 1))
        def one_user_sees_what_the_rule_says(self, n, j):
            """Selector, API list, API detail and permissions for one user, all per the rule."""
            u = world.users[n]
            expected = self.expected_visible(u)
            assert set(access.families_visible_to(u.user).values_list("id", flat=True)) == expected
            response = u.client.get("/api/v1/families/", {"page_size": 200})
            assert response.status_code == 200, response.content
            assert {row["id"] for row in response.json()["results"]} == expected
            fam = self.families[j]
            detail = u.client.get(f"/api/v1/families/{fam.id}/")
            assert detail.status_code == (200 if fam.id in expected else 404), (u, j)
            if fam.id in expected:
                body = detail.json()
                assert body["key_worker"] == self.key_worker[j]
                assert {m["agency"] for m in body["team"]} == self.team[j]
            for i, other in enumerate(self.families):
                assert access.family_permissions(u.user, other) == self.expected_perms(u, i)

        @rule()
        def everyone_sees_what_the_rule_says(self):
            for u in world.users:
                visible = set(access.families_visible_to(u.user).values_list("id", flat=True))
                assert visible == self.expected_visible(u), u

        # --- after every step ---------------------------------------------------------------

        @invariant()
        def guardian_rows_match_the_rule(self):
            ids = [fam.id for fam in self.families]
            actual: dict[int, list] = {fam_id: [] for fam_id in ids}
            groups = FamilyGroupObjectPermission.objects.filter(content_object_id__in=ids)
            for fam_id, g, p in groups.values_list(
                "content_object_id", "group_id", "permission__codename"
            ):
                actual[fam_id].append(("group", g, p))
            users = FamilyUserObjectPermission.objects.filter(content_object_id__in=ids)
            for fam_id, u, p in users.values_list(
                "content_object_id", "user_id", "permission__codename"
            ):
                actual[fam_id].append(("user", u, p))
            for i, fam in enumerate(self.families):
                rows = actual[fam.id]
                assert len(rows) == len(set(rows)), "duplicate grant rows"
                expected = self.expected_rows(i)
                assert set(rows) == expected, (
                    fam.name,
                    sorted(set(rows) - expected),
                    sorted(expected - set(rows)),
                )
            # Never guardian's generic text-key tables (decision 0001).
            assert not GroupObjectPermission.objects.exists()
            assert not UserObjectPermission.objects.exists()

        @invariant()
        def model_matches_the_record(self):
            """Sanity of the test's own model: its teams and key workers are the real ones."""
            ids = [fam.id for fam in self.families]
            active = Involvement.objects.filter(family_id__in=ids, ended_on__isnull=True)
            team: dict[int, set] = {fam_id: set() for fam_id in ids}
            for fam_id, agency_id in active.values_list("family_id", "agency_id"):
                team[fam_id].add(agency_id)
            key_workers = dict(Family.objects.filter(id__in=ids).values_list("id", "key_worker_id"))
            for i, fam_id in enumerate(ids):
                assert team[fam_id] == self.team[i]
                assert key_workers[fam_id] == self.key_worker[i]

    return AccessMachine


@pytest.mark.django_db
def test_access_rule_holds_after_any_sequence_of_team_key_worker_and_basis_changes():
    world = build_world()
    run_state_machine_as_test(
        make_machine(world),
        settings=settings(
            max_examples=60,
            stateful_step_count=10,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )


# --- the stale-instance regressions the property test found ------------------------------------


@pytest.mark.django_db
def test_team_changes_made_with_a_family_loaded_before_a_key_worker_change_keep_the_new_one():
    """The grants follow the key worker in the database, not the caller's older copy of it."""
    early_help = f.agency_make(kind=AgencyKind.EARLY_HELP)
    school = f.agency_make(kind=AgencyKind.SCHOOL)
    police = f.agency_make(kind=AgencyKind.POLICE)
    first, second, third = (f.staff_make(agency=early_help, role=Role.KEY_WORKER) for _ in "123")
    family = f.family_make(by=first)  # this instance keeps key worker = first

    def key_worker_grants():
        return set(
            FamilyUserObjectPermission.objects.filter(content_object=family).values_list(
                "user_id", "permission__codename"
            )
        )

    services.family_update(
        family_id=family.id, by=first, expected_version=1, key_worker_id=second.user_id
    )
    joined = services.involvement_create(family=family, by=first, agency=school)
    assert key_worker_grants() == {(second.user_id, p) for p in ALL}

    services.involvement_create(family=family, by=first, agency=police)
    services.family_update(  # the key worker hands over again
        family_id=family.id, by=second, expected_version=2, key_worker_id=third.user_id
    )
    services.involvement_end(involvement=joined, by=first)  # `joined.family` is the old copy
    assert key_worker_grants() == {(third.user_id, p) for p in ALL}
    assert access.family_permissions(third.user, family) == ALL


@pytest.mark.django_db
def test_ending_an_involvement_twice_from_two_copies_is_a_conflict():
    early_help = f.agency_make(kind=AgencyKind.EARLY_HELP)
    school = f.agency_make(kind=AgencyKind.SCHOOL)
    kw = f.staff_make(agency=early_help, role=Role.KEY_WORKER)
    family = f.family_make(by=kw)
    joined = services.involvement_create(family=family, by=kw, agency=school)
    copy = Involvement.objects.get(id=joined.id)
    services.involvement_end(involvement=joined, by=kw)
    with pytest.raises(services.InvolvementConflict):
        services.involvement_end(involvement=copy, by=kw)
