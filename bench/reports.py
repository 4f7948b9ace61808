"""Council-wide report builds at a council's scale: the outcomes and the results-claims PDFs.

    python -m bench.reports [--small]

The subject is a manager of the lead agency with the most families in the bench data; the
period is the year ending on the latest day on which a need of that agency's families was
achieved (no later than today). Each build goes through the real entry points: the request
(`reports.services.report_request`, the task it queues after commit held back) and the build
(`reports.services.report_build`, the Celery task's body), one build per fresh process
(`python -m bench.reports --build KIND …`), with the built file in a temporary folder.

Measured, per build:
- wall time of the request and the build together;
- peak memory: the build process's peak resident set size (VmHWM), reset after Django is set
  up and the subject found (`/proc/self/clear_refs`), so the figure is the peak while the
  report was asked for and built, with what the process already held counted in (Django, the
  apps, ReportLab); where the reset is not allowed, ru_maxrss of the fresh process. The
  resident size before the build is printed beside it;
- SQL statements executed (`connection.execute_wrapper`), without the progress heartbeats the
  build writes at most every PROGRESS_EVERY_S (those follow the build's duration, not the
  data; they are counted apart);
- the PDF opens (pypdf) and its pages are counted.

In the generated data no family meets the results-claim rule (only a family's first need is in
its plan), so the claims report has no spot-check evidence pages, the part that costs the most
per family. "claims PDF, many eligible" builds it again after `_make_eligible` (every need old
enough planned and achieved: about two families in five become eligible), in a transaction
rolled back after the build, so the bench data is left as generated.

That the statements do not grow with the number of families is shown by building the same
reports for a much smaller set of families and printing both counts side by side: the small
bench database (1/100 of the families) on a full run; the lead agency with the fewest
families on a `--small` run. Targets: each PDF in under TARGET_S seconds and TARGET_MB MB at
full scale, and the same statement count at both sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import common, generate

KINDS = ("outcomes", "claims")
# (line, kind, with `_make_eligible`'s data)
BUILDS = (
    ("outcomes PDF", "outcomes", False),
    ("claims PDF", "claims", False),
    ("claims PDF, many eligible", "claims", True),
)
TARGET_S = 20.0
TARGET_MB = 500.0
HEARTBEAT_SQL = 'UPDATE "reports_reportjob" SET "progress"'
# The build's own transactions become savepoints in the rolled-back transaction of the "many
# eligible" builds: not counted, so its statements compare with the others'.
SAVEPOINT_SQL = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")
RESULT_PREFIX = "BENCH-REPORTS-RESULT "


# --- in the build process ---------------------------------------------------------------------


def _subject(pick: str) -> dict:
    """A manager of the lead agency with the most (pick="largest") or fewest ("smallest")
    families, and the period: the year ending on the latest day a need of its families was
    achieved, no later than today."""
    from datetime import date, timedelta

    from django.db.models import Count, Max

    from agencies.models import StaffMember
    from cases.models import Family, Need

    leads = list(
        Family.objects.order_by()
        .values("lead_agency_id", "lead_agency__name")
        .annotate(n=Count("id"))
    )
    leads.sort(key=lambda r: (-r["n"] if pick == "largest" else r["n"], r["lead_agency_id"]))
    lead = leads[0]
    manager = (
        StaffMember.objects.filter(
            agency_id=lead["lead_agency_id"], role="manager", user__is_active=True
        )
        .select_related("user", "agency")
        .order_by("user_id")
        .first()
    )
    if manager is None:
        raise SystemExit(f"no active manager in {lead['lead_agency__name']}")
    latest = Need.objects.filter(
        family__lead_agency_id=lead["lead_agency_id"],
        status="achieved",
        achieved_on__lte=date.today(),
    ).aggregate(day=Max("achieved_on"))["day"]
    if latest is None:
        raise SystemExit(f"no achieved need in the families of {lead['lead_agency__name']}")
    start = latest.replace(year=latest.year - 1) + timedelta(days=1)
    return {
        "staff": manager,
        "agency": lead["lead_agency__name"],
        "families": lead["n"],
        "start": start,
        "end": latest,
    }


def _make_eligible(subject: dict) -> None:
    """Make the agency's families claimable where time allows, in the caller's transaction
    (rolled back after the build): every need identified more than the framework's weeks
    (and one more) before the end of the period is linked to its family's first plan action and
    achieved then. In the generated data only a family's first need is in its plan, so no family
    is eligible and the claims report's evidence pages would go unmeasured."""
    from datetime import timedelta

    from django.db.models import Min

    from cases.models import Need, PlanAction
    from reports import selectors

    agency_id = subject["staff"].agency_id
    framework = selectors.framework_for(subject["end"])
    achieved_on = subject["end"] - timedelta(weeks=framework.sustained_weeks + 1)
    needs = Need.objects.filter(family__lead_agency_id=agency_id, identified_on__lt=achieved_on)
    first_action = dict(
        PlanAction.objects.filter(family__lead_agency_id=agency_id)
        .order_by()
        .values("family_id")
        .annotate(first=Min("id"))
        .values_list("family_id", "first")
    )
    through = PlanAction.needs.through
    planned = set(through.objects.filter(need__in=needs).values_list("need_id", flat=True))
    through.objects.bulk_create(
        [
            through(planaction_id=first_action[family_id], need_id=need_id)
            for need_id, family_id in needs.values_list("id", "family_id")
            if need_id not in planned and family_id in first_action
        ],
        batch_size=2000,
    )
    needs.update(status="achieved", achieved_on=achieved_on)


def _eligible(subject: dict) -> int:
    """Families the claims report found eligible (after the measured build): each one adds its
    spot-check evidence pages."""
    from reports import selectors

    on = subject["end"]
    framework = selectors.framework_for(on)
    rows = selectors.claim_rows(user=subject["staff"].user, on=on, framework=framework)
    return sum(
        selectors.claim_verdict(row, on=on, framework=framework).eligible
        for row in rows.iterator(chunk_size=2000)
    )


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _peak_reset() -> str:
    """Reset the peak resident size to the current one; how the peak will be read."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return "VmHWM"
    except OSError:
        return "ru_maxrss"


def _peak_mb(how: str) -> float:
    if how == "VmHWM":
        return _status_kb("VmHWM") / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_measured(kind: str, pick: str, small: bool, *, many_eligible: bool = False) -> dict:
    """Ask for and build one PDF report of `kind` as the subject; the figures (this process).
    `many_eligible`: in a transaction rolled back afterwards, with `_make_eligible`'s data."""
    from django.db import connection, transaction

    env = common.bench_env(small=small)
    common.django_setup(env)
    if not many_eligible:
        return _build_measured(kind, pick, env)
    with transaction.atomic():
        _make_eligible(_subject(pick))
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE cases_need, cases_planaction_needs")
        result = _build_measured(kind, pick, env)
        transaction.set_rollback(True)
    return result


def _build_measured(kind: str, pick: str, env) -> dict:
    from unittest import mock

    from django.db import connection

    from alerts.models import Alert
    from reports import services, tasks
    from reports.models import ReportJob

    subject = _subject(pick)
    statements = {"build": 0, "heartbeat": 0, "savepoint": 0}

    def count(execute, sql, params, many, context):
        if sql.startswith(HEARTBEAT_SQL):
            statements["heartbeat"] += 1
        elif sql.startswith(SAVEPOINT_SQL):
            statements["savepoint"] += 1
        else:
            statements["build"] += 1
        return execute(sql, params, many, context)

    queued = []
    rss_before = _status_kb("VmRSS") / 1024
    how = _peak_reset()
    started = time.perf_counter()
    # The task report_request queues after commit is held back: the build runs here, in this
    # process, through the task's body.
    with (
        mock.patch.object(tasks.report_build, "delay_on_commit", side_effect=queued.append),
        connection.execute_wrapper(count),
    ):
        job = services.report_request(
            by=subject["staff"],
            kind=kind,
            format="pdf",
            period_start=subject["start"],
            period_end=subject["end"],
        )
        outcome = services.report_build(job_id=job.id)
    took = time.perf_counter() - started
    peak = _peak_mb(how)
    job.refresh_from_db()
    if outcome != "done" or queued != [job.id]:
        raise SystemExit(f"{kind}: build {outcome!r} ({job.error or 'no error'}), queued {queued}")
    path = services.storage().path(job.file_name)
    from pypdf import PdfReader

    pages = len(PdfReader(path).pages)
    size = os.path.getsize(path)
    services.storage().delete(job.file_name)
    Alert.objects.filter(source_type="report", source_id=job.id).delete()
    ReportJob.objects.filter(id=job.id).delete()
    eligible = _eligible(subject) if kind == "claims" else None
    return {
        "eligible": eligible,
        "kind": kind,
        "database": env.scale.name,
        "agency": subject["agency"],
        "families": subject["families"],
        "period": [subject["start"].isoformat(), subject["end"].isoformat()],
        "seconds": round(took, 2),
        "peak_mb": round(peak, 1),
        "rss_before_mb": round(rss_before, 1),
        "peak_how": how,
        "queries": statements["build"],
        "heartbeats": statements["heartbeat"],
        "pages": pages,
        "bytes": size,
    }


# --- the bench: one fresh process per build ----------------------------------------------------


def _prepare(small: bool) -> None:
    """The bench database at this scale exists and is generated (in a process of its own, so
    no build process carries the generator's memory)."""
    command = [sys.executable, "-m", "bench.reports", "--prepare"] + (["--small"] if small else [])
    subprocess.run(command, cwd=common.ROOT, check=True)


def _build(build: tuple[str, str, bool], pick: str, small: bool, folder: Path) -> dict:
    _label, kind, many_eligible = build
    command = [sys.executable, "-m", "bench.reports", "--build", kind, "--pick", pick]
    command += (["--small"] if small else []) + (["--many-eligible"] if many_eligible else [])
    env = dict(os.environ, REPORTS_ROOT=str(folder), PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        command, cwd=common.ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if proc.returncode or not lines:
        raise RuntimeError(
            f"{' '.join(command[2:])}: exit {proc.returncode}"
            f"\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        )
    return json.loads(lines[-1][len(RESULT_PREFIX) :])


def _describe(r: dict) -> str:
    return (
        f"{r['seconds']:.1f} s, peak {r['peak_mb']:.0f} MB ({r['peak_how']};"
        f" {r['rss_before_mb']:.0f} MB before), {r['queries']} queries"
        f" (+{r['heartbeats']} progress writes), {r['pages']:,} pages"
        + (f", {r['eligible']:,} eligible" if r.get("eligible") is not None else "")
    )


def run(*, small: bool = False) -> int:
    env = common.bench_env(small=small)
    note = common.services_note(env)
    if note:
        print(note)
    _prepare(small)
    # Each build beside the same build for far fewer families: on a full run the small bench
    # database (1/100 of the families); on a --small run the lead agency with the fewest.
    sizes = [("main", "largest", small), ("compare", "smallest" if small else "largest", True)]
    if not small:
        _prepare(True)
    folder = Path(tempfile.mkdtemp(prefix="bench-reports-", dir=os.environ.get("BENCH_LOG_DIR")))
    figures: dict[str, dict[str, dict]] = {}
    try:
        for build in BUILDS:
            for size, pick, at_small in sizes:
                r = _build(build, pick, at_small, folder)
                figures.setdefault(build[0], {})[size] = r
                print(
                    f"{build[0]}, {r['agency']} ({r['families']:,} families, {r['database']}"
                    f" database, period {r['period'][0]} to {r['period'][1]}): {_describe(r)}",
                    flush=True,
                )
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    rows, met = [], {}
    for label, _kind, _many in BUILDS:
        main_r, other = figures[label]["main"], figures[label]["compare"]
        checks = {
            f"< {TARGET_S:.0f} s": main_r["seconds"] < TARGET_S,
            f"< {TARGET_MB:.0f} MB": main_r["peak_mb"] < TARGET_MB,
            "queries not growing": main_r["queries"] == other["queries"],
            "pages": main_r["pages"] > 0 and other["pages"] > 0,
        }
        met[label] = checks
        missed = [k for k, ok in checks.items() if not ok]
        for r, is_main in ((main_r, True), (other, False)):
            row = {
                "line": f"{label} ({r['families']:,})",
                "variant": r["database"],
                "p50": r["seconds"] * 1000,
                "queries": str(r["queries"]),
                "note": f"{r['agency']}: " + _describe(r),
                "met": "",
            }
            if is_main:
                row["met"] = "ok" if not missed else "MISSED"
                row["note"] += (
                    f"; queries {main_r['queries']} for {main_r['families']:,} families,"
                    f" {other['queries']} for {other['families']:,}"
                    f"; targets < {TARGET_S:.0f} s, < {TARGET_MB:.0f} MB"
                    + (f"; missed: {', '.join(missed)}" if missed else "")
                )
            rows.append(row)
    common.results_save(
        "reports" + env.key_suffix,
        {
            "at": common.now_iso(),
            "mode": env.mode,
            "targets": {"seconds": TARGET_S, "peak_mb": TARGET_MB},
            "builds": figures,
            "met": {label: all(c.values()) for label, c in met.items()},
            "table": rows,
        },
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.reports", description=__doc__)
    parser.add_argument("--small", action="store_true", default=common.small_default())
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--build", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--pick", choices=("largest", "smallest"), default="largest")
    parser.add_argument("--many-eligible", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.prepare:
        env = common.bench_env(small=args.small)
        common.database_ensure(env)
        common.django_setup(env)
        generate.ensure(env)
        return 0
    if args.build:
        result = build_measured(args.build, args.pick, args.small, many_eligible=args.many_eligible)
        print(RESULT_PREFIX + json.dumps(result), flush=True)
        return 0
    return run(small=args.small)


if __name__ == "__main__":
    sys.exit(main())
