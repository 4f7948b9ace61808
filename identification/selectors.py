"""Reads for identification. Who sees what is asked of cases.access (datasets_visible_q,
candidates_visible_q, matching_families_q); these only read."""

from __future__ import annotations

from django.db.models import QuerySet

from agencies.models import StaffMember
from cases import access
from cases.models import Person
from identification.models import (
    Candidate,
    Dataset,
    Indicator,
    IndicatorFramework,
    MatchRun,
    SourceRow,
)


def framework_current() -> IndicatorFramework | None:
    return IndicatorFramework.objects.filter(active=True).order_by("-version").first()


def indicator_list() -> QuerySet[Indicator]:
    return Indicator.objects.filter(framework__active=True).select_related("outcome", "framework")


def indicator_codes() -> set[str]:
    return set(indicator_list().values_list("code", flat=True))


def outcome_of(framework: IndicatorFramework) -> dict[str, str]:
    return dict(Indicator.objects.filter(framework=framework).values_list("code", "outcome__code"))


def indicator_labels(framework: IndicatorFramework) -> dict[str, str]:
    return dict(Indicator.objects.filter(framework=framework).values_list("code", "label"))


def dataset_list(staff: StaffMember | None) -> QuerySet[Dataset]:
    return Dataset.objects.filter(access.datasets_visible_q(staff)).select_related("agency")


def dataset_get(staff: StaffMember | None, dataset_id: int) -> Dataset | None:
    return dataset_list(staff).filter(id=dataset_id).first()


def run_get(staff: StaffMember | None, run_id: int) -> MatchRun | None:
    return MatchRun.objects.filter(access.candidates_visible_q(staff), id=run_id).first()


def run_list(staff: StaffMember | None) -> QuerySet[MatchRun]:
    return MatchRun.objects.filter(access.candidates_visible_q(staff))


def candidate_list(staff: StaffMember | None, *, run_id: int | None = None) -> QuerySet:
    """The queue: the candidates of the newest finished run (or `run_id`), by rank."""
    runs = run_list(staff).filter(status="done")
    run = runs.filter(id=run_id).first() if run_id else runs.first()
    if run is None:
        return Candidate.objects.none()
    return (
        Candidate.objects.filter(access.candidates_visible_q(staff), run=run)
        .select_related("known_family")
        .order_by("rank")
    )


def candidate_get(staff: StaffMember | None, candidate_id: int) -> Candidate | None:
    return (
        Candidate.objects.filter(access.candidates_visible_q(staff), id=candidate_id)
        .select_related("known_family")
        .first()
    )


def match_records(*, run: MatchRun, staff: StaffMember) -> tuple[list[tuple], dict[int, dict]]:
    """The records a run links (linkage.RECORD_FIELDS) and what the explanation says of each:
    every raw row still held (any agency: the matching is the one reader of other agencies'
    rows), and the members of the families the run's agency leads (negative ids)."""
    records, about = [], {}
    rows = SourceRow.objects.filter(dataset__raw_deleted_at__isnull=True).values_list(
        "id",
        "dataset__agency_id",
        "dataset__agency__name",
        "given_name",
        "family_name",
        "date_of_birth",
        "postcode",
        "address",
        "nhs_number",
        "upn",
        "ni_number",
        "indicator",
        "observed_on",
        "source_record_id",
    )
    for (
        uid, agency_id, agency, given, family, born, postcode, address, nhs, upn, ni, code,
        observed, source_id,
    ) in rows.iterator(chunk_size=5000):  # fmt: skip
        records.append((uid, agency_id, given, family, born, postcode, address, nhs, upn, ni))
        about[uid] = {
            "agency_id": agency_id,
            "source_label": agency,
            "given_name": given,
            "family_name": family,
            "date_of_birth": born,
            "postcode": postcode,
            "address": address,
            "indicator": code,
            "observed_on": observed,
            "source_record_id": source_id,
            "family_id": None,
        }
    people = Person.objects.filter(family__in=access.families_for_matching(staff)).values_list(
        "id",
        "family_id",
        "given_name",
        "family_name",
        "date_of_birth",
        "family__postcode",
        "family__address",
        "nhs_number",
        "upn",
        "ni_number",
    )
    for pid, family_id, given, family, born, postcode, address, nhs, upn, ni in people:
        uid = -pid
        records.append((uid, "case", given, family, born, postcode, address, nhs, upn, ni))
        about[uid] = {
            "agency_id": None,
            "source_label": "Case record",
            "given_name": given,
            "family_name": family,
            "date_of_birth": born,
            "postcode": postcode,
            "address": address,
            "indicator": "",
            "observed_on": None,
            "source_record_id": "",
            "family_id": family_id,
        }
    return records, about
