"""Writes for identification: an agency's upload (all rows or none), a matching run (asked for
by a lead-agency manager, run by Celery with progress), the front door's decision on a
candidate, and the retention of raw uploads. Who may do each is asked of cases.access."""

from __future__ import annotations

import csv
import io
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from agencies.models import Agency, StaffMember
from cases import access, validators
from cases.models import Relationship
from identification import linkage, selectors
from identification.models import (
    DEFAULT_PURPOSE,
    Candidate,
    Dataset,
    Decision,
    LegalGateway,
    MatchRun,
    RunStatus,
    SourceRow,
)
from identification.synthetic import CSV_COLUMNS
from referrals import services as referral_services
from referrals.models import Referral, Source, Urgency

logger = logging.getLogger(__name__)

REQUIRED = ("source_record_id", "given_name", "family_name", "indicator", "observed_on")
MAX_LINKS_SHOWN = 40


@dataclass
class UploadRejected(Exception):
    """The file had errors: nothing was loaded. `errors`: [{row, field, message}]."""

    errors: list[dict]
    rows: int = 0


# --- uploads ------------------------------------------------------------------------------------


def _date(value: str) -> date | None:
    value = (value or "").strip()
    if not value:
        return None
    for parse in (date.fromisoformat, _uk_date):
        try:
            return parse(value)
        except ValueError:
            continue
    raise ValueError(value)


def _uk_date(value: str) -> date:
    day, month, year = value.split("/")
    return date(int(year), int(month), int(day))


def _row_check(line: int, raw: dict, *, codes: set[str], period: tuple[date, date]):
    """(SourceRow fields, errors) for one line of the file."""
    errors = []

    def error(field: str, message: str) -> None:
        errors.append({"row": line, "field": field, "message": message})

    values = {name: (raw.get(name) or "").strip() for name in CSV_COLUMNS}
    for name in REQUIRED:
        if not values[name]:
            error(name, "This column is required.")
    for name, limit in (
        ("source_record_id", 100),
        ("given_name", 100),
        ("family_name", 100),
        ("address", 300),
    ):
        if len(values[name]) > limit:
            error(name, f"At most {limit} characters.")
    fields = {k: values[k] for k in ("source_record_id", "given_name", "family_name", "address")}
    fields["indicator"] = values["indicator"]
    if values["indicator"] and values["indicator"] not in codes:
        error("indicator", f"Unknown indicator code {values['indicator'][:50]!r}.")
    for name, what, earliest in (
        ("date_of_birth", "A date of birth", validators.EARLIEST_BIRTH_DATE),
        ("observed_on", "The observed date", period[0]),
    ):
        try:
            fields[name] = _date(values[name])
        except ValueError:
            error(name, "Not a date: write it as YYYY-MM-DD (or DD/MM/YYYY).")
            continue
        try:
            validators.date_within(fields[name], what=what, earliest=earliest)
        except ValidationError as exc:
            error(name, " ".join(exc.messages))
    observed = fields.get("observed_on")
    if observed and not (period[0] <= observed <= period[1]):
        error("observed_on", "Outside the dataset's period (observed_from to observed_to).")
    normalisers = {
        "postcode": validators.postcode_normalise,
        "nhs_number": validators.nhs_number_normalise,
        "upn": validators.upn_normalise,
        "ni_number": validators.ni_number_normalise,
    }
    for name, normalise in normalisers.items():
        fields[name] = ""
        if values[name]:
            try:
                fields[name] = normalise(values[name])
            except ValidationError as exc:
                error(name, " ".join(exc.messages))
    return fields, errors


def dataset_upload(
    *,
    by: StaffMember,
    file,
    legal_gateway: str,
    observed_from: date,
    observed_to: date,
    purpose: str = DEFAULT_PURPOSE,
) -> Dataset:
    """Load an agency's indicator rows (CSV) under a legal gateway and purpose (by default the
    programme's, `DEFAULT_PURPOSE`), all or none:
    any error raises UploadRejected with every error, row by row, and nothing is saved. For
    the agency's admins and analysts (`access.may_upload_dataset`, else access.Forbidden)."""
    if not access.may_upload_dataset(by):
        raise access.Forbidden("Datasets are uploaded by an agency's admins and analysts.")
    errors = {}
    if legal_gateway not in LegalGateway.values:
        errors["legal_gateway"] = ["Choose the legal gateway the data is shared under."]
    if not (purpose or "").strip():
        errors["purpose"] = ["Say what the data is shared for."]
    if observed_from and observed_to and observed_to < observed_from:
        errors["observed_to"] = ["The end of the period cannot be before its start."]
    if errors:
        raise ValidationError(errors)
    file_name = getattr(file, "name", "") or ""
    try:
        text = file.read().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UploadRejected(
            [{"row": 0, "field": "file", "message": "The file is not UTF-8 text (CSV)."}]
        ) from exc
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise UploadRejected(
            [
                {"row": 1, "field": name, "message": "This column is missing from the header."}
                for name in missing
            ]
        )
    codes = selectors.indicator_codes()
    rows, problems = [], []
    for line, raw in enumerate(reader, start=2):
        if len(rows) >= settings.IDENTIFICATION_MAX_UPLOAD_ROWS:
            problems.append(
                {
                    "row": line,
                    "field": "file",
                    "message": f"At most {settings.IDENTIFICATION_MAX_UPLOAD_ROWS} rows a file.",
                }
            )
            break
        fields, row_errors = _row_check(line, raw, codes=codes, period=(observed_from, observed_to))
        problems.extend(row_errors)
        rows.append(SourceRow(row=line, **fields))
    if not rows and not problems:
        problems.append({"row": 2, "field": "file", "message": "The file has no rows."})
    if problems:
        raise UploadRejected(problems, rows=len(rows))
    with transaction.atomic():
        dataset = Dataset.objects.create(
            agency_id=by.agency_id,
            uploaded_by_id=by.user_id,
            legal_gateway=legal_gateway,
            purpose=purpose.strip(),
            observed_from=observed_from,
            observed_to=observed_to,
            file_name=(file_name or "")[:200],
            rows=len(rows),
            delete_after=timezone.localdate()
            + timedelta(days=settings.IDENTIFICATION_RETENTION_DAYS),
        )
        for row in rows:
            row.dataset = dataset
        SourceRow.objects.bulk_create(rows, batch_size=2000)
    return dataset


def datasets_retention(*, today: date | None = None) -> dict:
    """Delete the raw rows of every dataset past its `delete_after` (the dataset's metadata, the
    runs and their candidates stay). Idempotent: run by beat."""
    today = today or timezone.localdate()
    due = list(
        Dataset.objects.filter(delete_after__lt=today, raw_deleted_at__isnull=True).values_list(
            "id", flat=True
        )
    )
    deleted = 0
    for dataset_id in due:
        with transaction.atomic():
            deleted += SourceRow.objects.filter(dataset_id=dataset_id).delete()[0]
            Dataset.objects.filter(id=dataset_id).update(raw_deleted_at=timezone.now())
    return {"datasets": len(due), "rows": deleted}


# --- runs ---------------------------------------------------------------------------------------


def run_request(*, by: StaffMember, threshold: float | None = None) -> MatchRun:
    """Queue a matching run over every dataset held (lead-agency managers:
    `access.may_run_matching`, else access.Forbidden), at `threshold` (a match probability;
    the MATCH_THRESHOLD setting when None). Run after commit by identification.tasks."""
    if not access.may_run_matching(by):
        raise access.Forbidden("Matching runs are started by managers of the lead agency.")
    if threshold is None:
        threshold = settings.MATCH_THRESHOLD
    if not 0.5 <= threshold < 1:
        raise ValidationError({"threshold": ["A match probability from 0.5 up to (not) 1."]})
    framework = selectors.framework_current()
    if framework is None:
        raise ValidationError({"framework": ["No indicator framework is loaded."]})
    with transaction.atomic():
        run = MatchRun.objects.create(
            agency_id=by.agency_id,
            started_by_id=by.user_id,
            framework=framework,
            threshold=threshold,
        )
        from identification.tasks import match_run

        match_run.delay_on_commit(run.id)
    return run


def _claim(run_id: int | None) -> MatchRun | None:
    with transaction.atomic():
        runs = MatchRun.objects.select_for_update()
        if run_id is None:
            runs = runs.filter(status=RunStatus.QUEUED).order_by("id")
        else:
            runs = runs.filter(id=run_id)
        run = runs.first()
        if run is None or run.status in (RunStatus.DONE, RunStatus.FAILED):
            return None
        run.status = RunStatus.RUNNING
        run.attempts += 1
        run.started_at = run.heartbeat_at = timezone.now()
        run.progress = 1
        run.save(update_fields=["status", "attempts", "started_at", "heartbeat_at", "progress"])
        return run


def _progress(run: MatchRun):
    def tell(fraction: float) -> None:
        MatchRun.objects.filter(id=run.id, attempts=run.attempts).update(
            progress=max(1, min(99, int(fraction * 100))), heartbeat_at=timezone.now()
        )

    return tell


def match_run_execute(*, run_id: int | None) -> str:
    """Run the matching: link every held record and the lead agency's case record into
    persons, form households, find the candidates and save each with its explanation. Ends
    `done`, or `failed` with a message; never left running by an error."""
    run = _claim(run_id)
    if run is None:
        return "nothing to run"
    try:
        staff = access.identification_staff(run.started_by)
        if not access.may_run_matching(staff) or staff.agency_id != run.agency_id:
            _fail(run, "The person who started this run may no longer run the matching.")
            return "refused"
        progress = _progress(run)
        records, about = selectors.match_records(run=run, staff=staff)
        table = linkage.records_table(records)
        progress(0.05)
        if table.num_rows < 2:
            _finish(run, model={}, records=table.num_rows, result=None, candidates=[])
            return "done"
        result = linkage.person_links(
            table,
            threshold=run.threshold,
            progress=lambda f: progress(0.05 + f * 0.85),
            memory_limit=settings.MATCH_MEMORY_LIMIT,
        )
        household_of = linkage.households_form(table, result.cluster_of)
        outcome_of = selectors.outcome_of(run.framework)
        found = linkage.candidates_find(
            household_of=household_of,
            indicator_of={uid: a["indicator"] for uid, a in about.items() if a["indicator"]},
            outcome_of=outcome_of,
            min_outcomes=run.framework.min_outcomes,
        )
        candidates = _candidates_build(run, found, result, about, outcome_of)
        _finish(
            run,
            model=result.model,
            records=table.num_rows,
            result=(result, len(set(household_of.values()))),
            candidates=candidates,
        )
        return "done"
    except Exception:
        logger.exception("matching run %s failed", run.id)
        _fail(run, "The matching run failed because of an error on our side. Start it again.")
        return "failed"


def _fail(run: MatchRun, message: str) -> None:
    MatchRun.objects.filter(id=run.id).update(
        status=RunStatus.FAILED, error=message, finished_at=timezone.now()
    )


@transaction.atomic
def _finish(run: MatchRun, *, model, records: int, result, candidates: list[Candidate]) -> None:
    Candidate.objects.filter(run_id=run.id).delete()  # a redelivered run keeps one set
    Candidate.objects.bulk_create(candidates, batch_size=500)
    linked, households = result if result else (None, 0)
    MatchRun.objects.filter(id=run.id).update(
        status=RunStatus.DONE,
        progress=100,
        model=model,
        records=records,
        links=linked.link_count if linked else 0,
        persons=len(set(linked.cluster_of.values())) if linked else records,
        households=households,
        candidates=len(candidates),
        finished_at=timezone.now(),
        heartbeat_at=timezone.now(),
    )


def _person_label(rows: list[dict]) -> dict:
    """A person as their records say most often: name, date of birth."""
    given = Counter(r["given_name"] for r in rows if r["given_name"]).most_common(1)
    family = Counter(r["family_name"] for r in rows if r["family_name"]).most_common(1)
    born = Counter(r["date_of_birth"] for r in rows if r["date_of_birth"]).most_common(1)
    return {
        "given_name": given[0][0] if given else "",
        "family_name": family[0][0] if family else "",
        "date_of_birth": born[0][0].isoformat() if born else None,
    }


def _candidates_build(run, found, result, about: dict, outcome_of: dict) -> list[Candidate]:
    """Each candidate with what a decision needs: members, indicators by source and date (with
    the weight of the link that put the row on its person), the links and their per-field
    weights, the family already on the record (open or closed). No identifiers."""
    labels = selectors.indicator_labels(run.framework)
    agencies = dict(Agency.objects.values_list("id", "name"))
    candidates = []
    for c in found:
        links_of: dict[int, list[dict]] = defaultdict(list)
        for link in linkage.links_among(result.links, c.record_ids):
            links_of[link["uid_l"]].append(link)
            links_of[link["uid_r"]].append(link)
        persons: dict[int, list[int]] = defaultdict(list)
        for uid in c.record_ids:
            persons[result.cluster_of.get(uid, uid)].append(uid)
        person_label = {
            pid: _person_label([about[u] for u in uids]) for pid, uids in persons.items()
        }

        def named(uid, person_label=person_label):
            p = person_label[result.cluster_of.get(uid, uid)]
            return f"{p['given_name']} {p['family_name']}"

        indicators, links, seen = [], [], set()
        for uid in c.record_ids:
            a = about[uid]
            mine = [
                link
                for link in links_of.get(uid, ())
                if result.cluster_of.get(link["uid_l"]) == result.cluster_of.get(link["uid_r"])
            ]
            for link in mine:
                key = (link["uid_l"], link["uid_r"])
                if key not in seen and len(links) < MAX_LINKS_SHOWN:
                    seen.add(key)
                    links.append(
                        {
                            "person": named(uid),
                            "sources": [
                                about[link["uid_l"]]["source_label"],
                                about[link["uid_r"]]["source_label"],
                            ],
                            "match_weight": link["match_weight"],
                            "match_probability": round(link["match_probability"], 4),
                            "fields": {
                                linkage.FIELD_LABELS[k]: w for k, w in link["fields"].items()
                            },
                        }
                    )
            if not a["indicator"]:
                continue
            indicators.append(
                {
                    "source_agency": agencies.get(a["agency_id"], ""),
                    "indicator": a["indicator"],
                    "label": labels.get(a["indicator"], a["indicator"]),
                    "outcome": outcome_of.get(a["indicator"], ""),
                    "observed_on": a["observed_on"].isoformat() if a["observed_on"] else None,
                    "person": named(uid),
                    "source_record_id": a["source_record_id"],
                    "match_weight": max((link["match_weight"] for link in mine), default=None),
                }
            )
        known = [about[u]["family_id"] for u in c.record_ids if about[u]["family_id"]]
        addresses = Counter(
            (about[u]["postcode"], about[u]["address"])
            for u in c.record_ids
            if about[u]["postcode"]
        ).most_common(1)
        postcode, address = addresses[0][0] if addresses else ("", "")
        surname = Counter(p["family_name"] for p in person_label.values()).most_common(1)[0][0]
        candidates.append(
            Candidate(
                run=run,
                agency_id=run.agency_id,
                rank=c.rank,
                score=c.score,
                household=c.household,
                name=f"{surname} household"[:200],
                postcode=postcode,
                address=address,
                outcomes=c.outcomes,
                known_family_id=Counter(known).most_common(1)[0][0] if known else None,
                explanation={
                    "members": list(person_label.values()),
                    "indicators": sorted(indicators, key=lambda i: (i["outcome"], i["person"])),
                    "links": links,
                },
            )
        )
    return candidates


# --- decisions ----------------------------------------------------------------------------------


@transaction.atomic
def candidate_decide(
    *, by: StaffMember, candidate_id: int, decision: str, reason: str, version: int | None = None
) -> Candidate:
    """The front door's decision on a candidate, with its reason: refer (a referral to the front
    door, `candidate_refer`), already known, or not now. Lead-agency managers of the run's
    agency (else access.NoAccess: the candidate is not theirs to know of); a candidate decided
    already, or changed since `version`, is access.StateConflict."""
    candidate = (
        Candidate.objects.select_for_update()
        .filter(access.candidates_visible_q(by), id=candidate_id)
        .first()
    )
    if candidate is None:
        raise access.NoAccess
    errors = {}
    if decision not in (Decision.REFER, Decision.ALREADY_KNOWN, Decision.NOT_NOW):
        errors["decision"] = ["Choose refer, already_known or not_now."]
    if not (reason or "").strip():
        errors["reason"] = ["Give the reason for the decision."]
    if errors:
        raise ValidationError(errors)
    if candidate.decision != Decision.PENDING:
        raise access.StateConflict("This candidate has been decided already.")
    if version is not None and version != candidate.version:
        raise access.StateConflict("This candidate changed since you read it.")
    if decision == Decision.REFER:
        candidate.referral = candidate_refer(by=by, candidate=candidate)
    candidate.decision = decision
    candidate.reason = reason.strip()
    candidate.decided_by_id = by.user_id
    candidate.decided_at = timezone.now()
    candidate.version += 1
    candidate.save()
    return candidate


def candidate_refer(*, by: StaffMember, candidate: Candidate) -> Referral:
    """What "refer" makes of a candidate: a referral to the early help front door
    (`referrals.services.referral_create`, source: data matching), routine, with the
    candidate's household and members and, as its concerns, each headline outcome its
    indicators cover (their labels as the descriptor). The family has not been asked: the
    referral says so, and the legal gateway of the data it rests on. The front door then decides
    on it as on any other referral (open, signpost, step up, no further action)."""
    indicators = candidate.explanation.get("indicators", [])
    labels: dict[str, list[str]] = defaultdict(list)
    for indicator in indicators:
        if indicator.get("outcome") and indicator["label"] not in labels[indicator["outcome"]]:
            labels[indicator["outcome"]].append(indicator["label"])
    people = []
    for member in candidate.explanation.get("members", []):
        born = member.get("date_of_birth")
        adult = born is None or (timezone.localdate() - date.fromisoformat(born)).days > 18 * 365
        people.append(
            {
                "given_name": member.get("given_name") or "Unknown",
                "family_name": member.get("family_name") or "Unknown",
                "date_of_birth": born,
                "relationship": Relationship.PARENT if adult else Relationship.CHILD,
            }
        )
    gateways = sorted(
        {
            LegalGateway(d.legal_gateway).label
            for d in Dataset.objects.filter(id__in=candidate.run.dataset_ids)
        }
    )
    return referral_services.referral_create(
        by=by,
        household={
            "name": candidate.name,
            "postcode": candidate.postcode or "",
            "address": candidate.address,
        },
        people=people,
        concerns=[
            {"outcome": outcome, "descriptor": "; ".join(found)[:500]}
            for outcome, found in sorted(labels.items())
        ],
        consent=None,
        no_consent_reason=(
            "Found by data matching across agencies' records, shared under "
            f"{', '.join(gateways) or 'a recorded legal gateway'}; the family has not been asked."
        ),
        urgency=Urgency.ROUTINE,
        source=Source.IDENTIFICATION,
    )


# --- retention ----------------------------------------------------------------------------------


def family_candidates_pseudonymise(*, family) -> int:
    """The candidates about a family whose personal details the retention rule replaced
    (`cases.retention.family_pseudonymise`, decision 0022) lose theirs too: those that named it
    as already known, and those referred to the front door and joined to it. The household as
    the family now reads; each member "Member <n>" (the date of birth kept, as the family's
    members keep theirs); the indicators and links name that member and drop the source's record
    id; the reason replaced. Kept: the run, rank, score, outcomes, indicator codes, sources,
    dates, weights and the decision. Two statements whatever their number (a family with none:
    one). Returns how many candidates changed."""
    from cases.retention import REMOVED

    candidates = list(
        Candidate.objects.select_for_update().filter(
            # A subquery, not a join: FOR UPDATE refuses the nullable side of an outer join.
            Q(known_family_id=family.id)
            | Q(referral_id__in=Referral.objects.filter(family_id=family.id).values("id"))
        )
    )
    for candidate in candidates:
        members = candidate.explanation.get("members", [])
        renamed = {
            f"{m.get('given_name', '')} {m.get('family_name', '')}": f"Member {n}"
            for n, m in enumerate(members, start=1)
        }
        candidate.explanation = {
            **candidate.explanation,
            "members": [
                {
                    "given_name": f"Member {n}",
                    "family_name": "",
                    "date_of_birth": m.get("date_of_birth"),
                }
                for n, m in enumerate(members, start=1)
            ],
            "indicators": [
                {**i, "person": renamed.get(i.get("person"), "Member"), "source_record_id": ""}
                for i in candidate.explanation.get("indicators", [])
            ],
            "links": [
                {**link, "person": renamed.get(link.get("person"), "Member")}
                for link in candidate.explanation.get("links", [])
            ],
        }
        candidate.name, candidate.postcode = family.name, family.postcode
        candidate.address = family.address
        candidate.reason = REMOVED if candidate.reason else ""
    # One UPDATE for all of them, however many there are.
    Candidate.objects.bulk_update(
        candidates, ["explanation", "name", "postcode", "address", "reason"]
    )
    return len(candidates)
