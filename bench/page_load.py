"""Pages under load, beside the JSON they stand for: a key worker's caseload and a family page.

    python -m bench.page_load [--small]

The app is served as `http_load` serves it (`python -m core.serve --workers 2`, bench.settings,
the bench database). The subject is the early help key worker whose open caseload is nearest 25
families, and the family of theirs whose chronology is nearest 200 entries. Eight clients
(aiohttp, one keep-alive connection each, closed loop) ask, in turn, for the caseload page and
the families list as JSON (`?key_worker=me`, what the caseload stands for), then the family page
and the family detail as JSON, then the JSON that carries the rest of the family page (its
chronology, plan and assessments); runs go through the lines in order, then in reverse.

Measured: p50/p95/p99 latency, requests per second, the web processes' and PostgreSQL's CPU per
request, and queries per request (in process, under CaptureQueriesContext). A page's cost is its
web + database CPU per request divided by the JSON's: target at most 1.5. The family page's cost
is also given beside the JSON requests that together carry what it shows (the detail, the
chronology's first page, the plan, the assessments), for information.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

from bench import common, generate, procs
from bench.http_load import CLIENTS, SMALL, SQLITE, WORKERS, Tally, Timing, _summary, _workers_ready

FULL = Timing(warmup_s=1.5, run_s=4.0)
LINES = (
    # (line, path template, auth, what it is compared with)
    ("caseload page", "/caseload/", "session", None),
    ("caseload as JSON", "/api/v1/families/?key_worker=me", "token", None),
    ("family page", "/families/{id}/", "session", None),
    ("family detail JSON", "/api/v1/families/{id}/", "token", None),
    ("chronology JSON", "/api/v1/families/{id}/chronology/", "token", None),
    ("plan JSON", "/api/v1/families/{id}/actions/", "token", None),
    ("assessments JSON", "/api/v1/families/{id}/assessments/", "token", None),
)
COMPARED = {"caseload page": "caseload as JSON", "family page": "family detail JSON"}
# What an API client asks for to show what the family page shows (household, team, needs and
# sharing; the chronology's first page; the plan; the assessments): the page's cost beside the
# sum of theirs is printed too, as information. The target is against the one JSON above.
SAME_DATA = {
    "family page": (
        "family detail JSON",
        "chronology JSON",
        "plan JSON",
        "assessments JSON",
    )
}
TARGET_RATIO = 1.5
TARGET_P95_MS = 70


def _subject():
    """(user, family id, open families, chronology entries): the key worker nearest 25 open
    families, and their family nearest 200 chronology entries."""
    from django.contrib.auth import get_user_model
    from django.db.models import Count

    from cases.models import ChronologyEntry, Family

    caseloads = (
        Family.objects.filter(status="open", key_worker__isnull=False)
        .values("key_worker")
        .annotate(n=Count("id"))
    )
    best = min(caseloads, key=lambda row: (abs(row["n"] - 25), row["key_worker"]))
    user = get_user_model().objects.get(id=best["key_worker"])
    family_ids = list(
        Family.objects.filter(status="open", key_worker=user).values_list("id", flat=True)
    )
    sizes = (
        ChronologyEntry.objects.filter(family_id__in=family_ids)
        .values("family_id")
        .annotate(n=Count("id"))
    )
    family = min(sizes, key=lambda row: (abs(row["n"] - 200), row["family_id"]))
    return user, family["family_id"], best["n"], family["n"]


def _credentials(user) -> tuple[str, str]:
    """(session key, API token) for the subject: the session as the sign-in page would make it."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils.module_loading import import_string

    from agencies import services

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    # The backend that signs people in (the first one that reads a session's user: the lockout's
    # backend before it only refuses).
    session[BACKEND_SESSION_KEY] = next(
        path
        for path in settings.AUTHENTICATION_BACKENDS
        if hasattr(import_string(path), "get_user")
    )
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key, services.token_issue(user=user)[1]


def queries_per_request(user, family_id: int) -> dict[str, int]:
    from django.db import connection
    from django.test import Client as DjangoClient
    from django.test.utils import CaptureQueriesContext

    from agencies import services

    pages, api = DjangoClient(), DjangoClient()
    pages.force_login(user)
    token = services.token_issue(user=user)[1]
    out = {}
    for line, template, auth, _ in LINES:
        client = pages if auth == "session" else api
        extra = {} if auth == "session" else {"HTTP_AUTHORIZATION": f"Token {token}"}
        path = template.format(id=family_id)
        client.get(path, **extra)  # warm
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(path, **extra)
        if response.status_code != 200:
            raise RuntimeError(f"{line}: {response.status_code} {response.content[:300]!r}")
        out[line] = len(ctx)
    return out


async def _load(port, session_key, token, family_id, workers, timing, database):
    import aiohttp

    def make(auth):
        headers = {"Authorization": f"Token {token}"} if auth == "token" else {}
        cookies = {"sessionid": session_key} if auth == "session" else {}
        return [
            aiohttp.ClientSession(
                base_url=f"http://127.0.0.1:{port}",
                connector=aiohttp.TCPConnector(limit=1),
                headers=headers,
                cookies=cookies,
                timeout=aiohttp.ClientTimeout(total=60),
            )
            for _ in range(CLIENTS)
        ]

    sessions = {"session": make("session"), "token": make("token")}
    tallies: dict[str, Tally] = {}

    async def phase(template, auth, seconds, tally):
        end = time.perf_counter() + seconds
        path = template.format(id=family_id)

        async def loop(i):
            while time.perf_counter() < end:
                started = time.perf_counter()
                async with sessions[auth][i].get(path, allow_redirects=False) as response:
                    body = await response.read()
                if tally is None:
                    continue
                if response.status != 200:
                    tally.errors += 1
                    tally.error_sample = tally.error_sample or f"{response.status} {body[:120]!r}"
                else:
                    tally.latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(loop(i) for i in range(CLIENTS)))
        return time.perf_counter() - started

    try:
        for order in (LINES, tuple(reversed(LINES))):
            for line, template, auth, _ in order:
                tally = tallies.setdefault(line, Tally())
                await phase(template, auth, timing.warmup_s / 2, None)
                cpu_before = {pid: procs.cpu_seconds(pid) for pid in workers}
                db_before = procs.db_backends_cpu(database)
                tally.seconds += await phase(template, auth, timing.run_s, tally)
                for pid in workers:
                    used = procs.cpu_seconds(pid) - cpu_before[pid]
                    tally.cpu[pid] = tally.cpu.get(pid, 0.0) + used
                db_after = procs.db_backends_cpu(database)
                tally.db_cpu += sum(t - db_before.get(pid, 0.0) for pid, t in db_after.items())
    finally:
        for group in sessions.values():
            await asyncio.gather(*(s.close() for s in group))
    return tallies


def _cost(summary: dict) -> float | None:
    web, db = summary["web_cpu_ms_per_request"], summary["db_cpu_ms_per_request"]
    if web is None:
        return None
    return web + (db or 0.0)


def run(*, small: bool = False) -> int:
    env = common.bench_env(small=small)
    note = common.services_note(env)
    if note:
        print(note)
    common.database_ensure(env)
    common.django_setup(env)
    generate.ensure(env)
    timing = SMALL if small else (FULL if env.postgres else SQLITE)
    user, family_id, caseload, entries = _subject()
    session_key, token = _credentials(user)
    queries = queries_per_request(user, family_id)
    print(
        f"subject: {user.username}, {caseload} open families; family {family_id} with"
        f" {entries} chronology entries; queries per request: {queries}",
        flush=True,
    )

    from bench.alerts_latency import Server

    log_path = Path(os.environ.get("BENCH_LOG_DIR", "/tmp")) / f"bench-pages-{os.getpid()}.log"
    server = Server(common.child_env(env), workers=WORKERS, log_path=log_path)
    try:
        server.wait_ready()
        workers = _workers_ready(server, log_path)
        database = env.database_url.rsplit("/", 1)[1] if env.postgres else None
        tallies = asyncio.run(
            _load(server.port, session_key, token, family_id, workers, timing, database)
        )
    finally:
        server.stop()

    summary = {line: _summary(tally) for line, tally in tallies.items()}
    rows, met, ratios = [], {}, {}
    for line, _template, _auth, _ in LINES:
        s = summary[line]
        row = {
            "line": line + (f" ({caseload})" if line == "caseload page" else ""),
            "variant": "ours",
            "p50": s["p50_ms"],
            "p95": s["p95_ms"],
            "p99": s["p99_ms"],
            "rps": s["rps"],
            "queries": str(queries[line]),
            "note": f"CPU/req: web {s['web_cpu_ms_per_request']} ms"
            + (f", PostgreSQL {s['db_cpu_ms_per_request']} ms" if env.postgres else ""),
            "met": "",
        }
        if line in COMPARED:
            json_summary = summary[COMPARED[line]]
            page_cost, json_cost = _cost(s), _cost(json_summary)
            ratio = round(page_cost / json_cost, 2) if page_cost and json_cost else None
            checks = {
                f"cost ≤ {TARGET_RATIO}× the JSON": ratio is not None and ratio <= TARGET_RATIO,
                f"p95 ≤ {TARGET_P95_MS}": s["p95_ms"] is not None and s["p95_ms"] <= TARGET_P95_MS,
                "no errors": not s["errors"],
            }
            met[line] = checks
            missed = [k for k, ok in checks.items() if not ok]
            row["met"] = "ok" if not missed else "MISSED"
            row["note"] += (
                f"; {ratio}× the CPU of {COMPARED[line]}"
                f" (req/s {_ratio(s['rps'], json_summary['rps'])}× its)"
                + (f"; missed: {', '.join(missed)}" if missed else "")
            )
            if line in SAME_DATA:
                costs = [_cost(summary[other]) for other in SAME_DATA[line]]
                if page_cost and all(costs):
                    same = round(page_cost / sum(costs), 2)
                    ratios[line] = {"json_for_same_data": same, "json": ratio}
                    row["note"] += (
                        f"; {same}× the CPU of the {len(costs)} JSON requests carrying its data"
                    )
        if s["errors"]:
            row["met"] = "MISSED"
            row["note"] += f"; {s['errors']} errors: {s['error_sample'][:80]}"
        rows.append(row)
    common.results_save(
        "page_load" + env.key_suffix,
        {
            "at": common.now_iso(),
            "mode": env.mode,
            "subject": {"username": user.username, "caseload": caseload},
            "family": {"id": family_id, "chronology_entries": entries},
            "queries": queries,
            "lines": summary,
            "met": {line: all(c.values()) for line, c in met.items()},
            "ratios": ratios,
            "table": rows,
        },
    )
    return 1 if any(s["errors"] for s in summary.values()) else 0


def _ratio(a, b):
    return round(a / b, 2) if a and b else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.page_load", description=__doc__)
    parser.add_argument("--small", action="store_true", default=common.small_default())
    return run(small=parser.parse_args(argv).small)


if __name__ == "__main__":
    sys.exit(main())
