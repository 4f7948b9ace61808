"""The served app under load: ours, the textbook DRF implementation and the SQL floor, side by side.

    python -m bench.http_load [--small]

The app is served as in production: `python -m core.serve --workers 2` (uvicorn workers) (settings
bench.settings: the project's, plus the baselines under /bench/), Django's psycopg pool on the
bench database, Redis as the channel layer. Eight clients (aiohttp, one keep-alive connection
each, closed loop) are real users of different roles with real tokens (bench/generate.py
SUBJECTS). For each endpoint — families list, family detail, chronology page, record-a-contact
(POST) — and each implementation — ours (/api/v1/…), textbook and floor (/bench/…,
bench/baselines.py) — the clients send requests back to back; runs alternate ours, textbook,
floor then floor, textbook, ours so drift on a shared machine falls on all three alike.

Measured: p50/p95/p99 latency and requests per second; queries per request (an in-process
Django test client under CaptureQueriesContext, every role, against the same database); each
web process's peak memory (VmHWM) and CPU seconds (from /proc, per pid, before and after each run:
how the load was split over the workers), and which worker holds each client connection.
Before the load, the three implementations' JSON is compared on the same requests.

The access log's cost (`audit_overhead`): the families list and the family detail (ours) served
twice at once, by a server writing the access log and one with it off (bench/settings.py
`AUDIT_ACCESS_LOG`, from BENCH_ACCESS_LOG), loaded in turn by the same clients (on, off, off, on,
twice over): the log's share of the mean request time and of the web and PostgreSQL CPU, and the
INSERTs into the log per request (in process, every role), which must be one.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import common, generate, procs
from bench.common import Env

VARIANTS = ("ours", "textbook", "floor")
PREFIX = {"ours": "/api/v1", "textbook": "/bench/textbook", "floor": "/bench/floor"}
ENDPOINTS = (
    ("families list", "GET", "/families/"),
    ("family detail", "GET", "/families/{id}/"),
    ("chronology page", "GET", "/families/{id}/chronology/"),
    ("record-a-contact", "POST", "/families/{id}/contacts/"),
)
TARGETS = {
    "audit_share": 0.10,  # the access log: at most this share of the request's time
    "read_p95_ms": 70,
    "write_p95_ms": 100,
    "x_textbook": 2.0,
    "share_of_floor": 0.5,
    "peak_mb": 300,
    "min_worker_share": 0.25,  # with 2 workers: neither does less than a quarter of the work
}
WORKERS = 2
CLIENTS = 8
FAMILIES_PER_CLIENT = 40


@dataclass(frozen=True)
class Timing:
    warmup_s: float
    run_s: float  # per half; each variant runs twice (ABC CBA)


FULL = Timing(warmup_s=1.5, run_s=4.0)
SMALL = Timing(warmup_s=0.3, run_s=0.6)
SQLITE = Timing(warmup_s=0.5, run_s=1.5)
AUDIT_ENDPOINTS = ENDPOINTS[:2]  # the families list and the family detail
AUDIT_MODES = ("on", "off")


@dataclass
class Client:
    label: str
    username: str
    user_id: int
    token: str
    families: list[int]
    visible: int


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    error_sample: str = ""
    cpu: dict[int, float] = field(default_factory=dict)
    db_cpu: float = 0.0
    connections: dict[int, int] = field(default_factory=dict)


def _workers_ready(server, log_path: Path, timeout: float = 60) -> list[int]:
    """The worker pids, once every one has loaded the app and is accepting.

    A client that connects while only one worker is up keeps its keep-alive connection on that
    worker for good (decision 0006 has what the bench saw). Steady state is every worker up, so
    the load starts only then.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        started = log_path.read_text(errors="replace").count("Started server process")
        workers = procs.children(server.proc.pid)
        if started >= WORKERS and len(workers) >= WORKERS:
            time.sleep(0.5)
            return workers
        time.sleep(0.1)
    raise RuntimeError(f"uvicorn workers not ready:\n{log_path.read_text()[-3000:]}")


# --- the clients ---------------------------------------------------------------------------------


def _clients(env: Env) -> list[Client]:
    from cases import access

    out = []
    from django.contrib.auth import get_user_model

    User = get_user_model()
    for subject in generate.subjects():
        user = User.objects.get(id=subject["user_id"])
        # Open families: work is recorded on open families only (closed ones answer 409).
        visible = access.families_visible_to(user).filter(status="open")
        ids = list(visible.order_by("id").values_list("id", flat=True))
        if not ids:  # at the small scale an agency's only family may be closed
            continue
        step = max(1, len(ids) // FAMILIES_PER_CLIENT)
        out.append(
            Client(
                label=subject["label"],
                username=subject["username"],
                user_id=subject["user_id"],
                token=subject["token"],
                families=ids[::step][:FAMILIES_PER_CLIENT],
                visible=subject["visible"],
            )
        )
    return out


def _contact_body(n: int) -> dict:
    return {
        "occurred_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "method": "phone",
        "summary": f"Bench contact {n}: phone call to check in; family doing well.",
        "visibility": "team",
    }


def _path(variant: str, template: str, family_id: int) -> str:
    return PREFIX[variant] + template.format(id=family_id)


# --- in process: same JSON, and queries per request ----------------------------------------------


def _normalise(endpoint: str, data):
    """What must be equal across implementations (pagination links and counts differ)."""
    if not isinstance(data, dict):
        return data
    if "results" in data:
        return data["results"]
    if endpoint == "record-a-contact":
        return sorted(data)  # ids differ per write: compare the shape
    return data


def same_json(clients: list[Client]) -> dict:
    from django.test import Client as DjangoClient

    out = {}
    for client in clients:
        http = DjangoClient(HTTP_AUTHORIZATION=f"Token {client.token}")
        family_id = client.families[0]
        for endpoint, method, template in ENDPOINTS:
            answers = {}
            for variant in VARIANTS:
                path = _path(variant, template, family_id)
                if method == "GET":
                    response = http.get(path)
                else:
                    response = http.post(path, _contact_body(0), content_type="application/json")
                answers[variant] = (response.status_code, _normalise(endpoint, response.json()))
            diffs = [v for v in ("textbook", "floor") if answers[v] != answers["ours"]]
            if diffs:
                out.setdefault(endpoint, []).append(
                    {
                        "client": client.label,
                        "differs": diffs,
                        "detail": _first_difference(answers["ours"], answers[diffs[0]]),
                    }
                )
    return out


def _first_difference(a, b, where: str = "") -> str:
    if type(a) is not type(b):
        return f"{where or '.'}: {a!r:.80} vs {b!r:.80}"
    if isinstance(a, dict):
        for key in sorted(set(a) | set(b)):
            if a.get(key, "<absent>") != b.get(key, "<absent>"):
                return _first_difference(
                    a.get(key, "<absent>"), b.get(key, "<absent>"), f"{where}.{key}"
                )
    if isinstance(a, list | tuple):
        if len(a) != len(b):
            return f"{where}: {len(a)} vs {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return _first_difference(x, y, f"{where}[{i}]")
    return f"{where or '.'}: {a!r:.80} vs {b!r:.80}"


def queries_per_request(clients: list[Client]) -> dict:
    """SQL statements per request, each role, each endpoint and implementation (in process)."""
    from django.db import connection
    from django.test import Client as DjangoClient
    from django.test.utils import CaptureQueriesContext

    out: dict[str, dict[str, list[int]]] = {}
    for client in clients:
        http = DjangoClient(HTTP_AUTHORIZATION=f"Token {client.token}")
        family_id = client.families[-1]
        for endpoint, method, template in ENDPOINTS:
            for variant in VARIANTS:
                path = _path(variant, template, family_id)

                def call(path=path, method=method, http=http):
                    if method == "GET":
                        return http.get(path)
                    return http.post(path, _contact_body(0), content_type="application/json")

                call()  # warm: URL resolver, caches
                with CaptureQueriesContext(connection) as ctx:
                    response = call()
                expected = 200 if method == "GET" else 201
                if response.status_code != expected:
                    raise RuntimeError(
                        f"{variant} {endpoint} as {client.label}: {response.status_code}"
                        f" {response.content[:300]!r}"
                    )
                out.setdefault(endpoint, {}).setdefault(variant, []).append(len(ctx))
    return out


# --- over HTTP -----------------------------------------------------------------------------------


async def _load(
    port: int,
    clients: list[Client],
    workers: list[int],
    timing: Timing,
    database: str | None,
) -> tuple[dict, float]:
    import aiohttp

    sessions = [
        aiohttp.ClientSession(
            base_url=f"http://127.0.0.1:{port}",
            connector=aiohttp.TCPConnector(limit=1),
            headers={"Authorization": f"Token {c.token}"},
            timeout=aiohttp.ClientTimeout(total=60),
        )
        for c in clients
    ]
    tallies: dict[tuple[str, str], Tally] = {}
    counter = [0]
    client_cpu = 0.0

    async def one(i: int, method: str, template: str, variant: str, k: int) -> tuple[int, str]:
        client = clients[i]
        family_id = client.families[k % len(client.families)]
        path = _path(variant, template, family_id)
        if method == "GET":
            async with sessions[i].get(path) as response:
                body = await response.read()
        else:
            counter[0] += 1
            async with sessions[i].post(path, json=_contact_body(counter[0])) as response:
                body = await response.read()
        return response.status, body[:200].decode("utf-8", "replace")

    async def phase(method: str, template: str, variant: str, seconds: float, tally):
        expected = 200 if method == "GET" else 201
        end = time.perf_counter() + seconds

        async def loop(i: int):
            k = i * 7
            while time.perf_counter() < end:
                k += 1
                started = time.perf_counter()
                status, body = await one(i, method, template, variant, k)
                if tally is None:
                    continue
                if status != expected:
                    tally.errors += 1
                    tally.error_sample = tally.error_sample or f"{status} {body}"
                else:
                    tally.latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(loop(i) for i in range(len(clients))))
        return time.perf_counter() - started

    try:
        # Every client opens its keep-alive connection the way a browser would: on first use.
        for endpoint, method, template in ENDPOINTS:
            for order in (VARIANTS, tuple(reversed(VARIANTS))):
                for variant in order:
                    tally = tallies.setdefault((endpoint, variant), Tally())
                    await phase(method, template, variant, timing.warmup_s / 2, None)
                    cpu_before = {pid: procs.cpu_seconds(pid) for pid in workers}
                    db_before = procs.db_backends_cpu(database)
                    client_before = time.process_time()
                    tally.seconds += await phase(method, template, variant, timing.run_s, tally)
                    client_cpu += time.process_time() - client_before
                    for pid in workers:
                        used = procs.cpu_seconds(pid) - cpu_before[pid]
                        tally.cpu[pid] = tally.cpu.get(pid, 0.0) + used
                    db_after = procs.db_backends_cpu(database)
                    tally.db_cpu += sum(t - db_before.get(pid, 0.0) for pid, t in db_after.items())
                    for pid, n in procs.connections_by_process(workers, port).items():
                        tally.connections[pid] = max(tally.connections.get(pid, 0), n)
    finally:
        await asyncio.gather(*(s.close() for s in sessions))
    return tallies, client_cpu


# --- the access log's cost -------------------------------------------------------------------


def audit_inserts_per_request(clients: list[Client]) -> dict[str, list[int]]:
    """INSERTs into the access log per request, each role, for the families list and the family
    detail (in process, the log on)."""
    import re

    from django.db import connection
    from django.test import Client as DjangoClient
    from django.test.utils import CaptureQueriesContext

    from audit.models import AccessEvent

    insert = re.compile(rf'^\s*INSERT INTO "?{AccessEvent._meta.db_table}"?\b', re.IGNORECASE)
    out: dict[str, list[int]] = {}
    for client in clients:
        http = DjangoClient(HTTP_AUTHORIZATION=f"Token {client.token}")
        for endpoint, _method, template in AUDIT_ENDPOINTS:
            path = _path("ours", template, client.families[0])
            http.get(path)
            with CaptureQueriesContext(connection) as ctx:
                response = http.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"{endpoint} as {client.label}: {response.status_code}")
            n = sum(1 for q in ctx.captured_queries if insert.match(q["sql"]))
            out.setdefault(endpoint, []).append(n)
    return out


async def _audit_load(
    ports: dict[str, int],
    workers: dict[str, list[int]],
    clients: list[Client],
    timing: Timing,
    database: str | None,
    rounds: int,
) -> dict[tuple[str, str], Tally]:
    """Each endpoint loaded on the server with the log on and the one with it off, in turn (on,
    off, off, on, `rounds` times), by the same clients: drift on a shared machine falls on both."""
    import aiohttp

    sessions = {
        mode: [
            aiohttp.ClientSession(
                base_url=f"http://127.0.0.1:{ports[mode]}",
                connector=aiohttp.TCPConnector(limit=1),
                headers={"Authorization": f"Token {c.token}"},
                timeout=aiohttp.ClientTimeout(total=60),
            )
            for c in clients
        ]
        for mode in AUDIT_MODES
    }
    tallies: dict[tuple[str, str], Tally] = {}

    async def phase(mode: str, template: str, seconds: float, tally: Tally | None) -> float:
        end = time.perf_counter() + seconds

        async def loop(i: int):
            k = i * 7
            client = clients[i]
            while time.perf_counter() < end:
                k += 1
                path = _path("ours", template, client.families[k % len(client.families)])
                started = time.perf_counter()
                async with sessions[mode][i].get(path) as response:
                    body = await response.read()
                if tally is None:
                    continue
                if response.status != 200:
                    tally.errors += 1
                    tally.error_sample = tally.error_sample or f"{response.status} {body[:120]!r}"
                else:
                    tally.latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(loop(i) for i in range(len(clients))))
        return time.perf_counter() - started

    try:
        for endpoint, _method, template in AUDIT_ENDPOINTS:
            for _ in range(rounds):
                for mode in ("on", "off", "off", "on"):
                    tally = tallies.setdefault((endpoint, mode), Tally())
                    await phase(mode, template, timing.warmup_s / 2, None)
                    pids = workers[mode]
                    cpu_before = {pid: procs.cpu_seconds(pid) for pid in pids}
                    db_before = procs.db_backends_cpu(database)
                    tally.seconds += await phase(mode, template, timing.run_s, tally)
                    for pid in pids:
                        used = procs.cpu_seconds(pid) - cpu_before[pid]
                        tally.cpu[pid] = tally.cpu.get(pid, 0.0) + used
                    db_after = procs.db_backends_cpu(database)
                    tally.db_cpu += sum(t - db_before.get(pid, 0.0) for pid, t in db_after.items())
    finally:
        await asyncio.gather(*(s.close() for group in sessions.values() for s in group))
    return tallies


def audit_overhead(env: Env, clients: list[Client], timing: Timing, small: bool) -> dict:
    """The access log's cost on the families list and the family detail: two servers, the log on
    and off, loaded in turn; and the log's INSERTs per request."""
    from bench.alerts_latency import Server

    inserts = audit_inserts_per_request(clients)
    log_dir = Path(os.environ.get("BENCH_LOG_DIR", "/tmp"))
    servers = {
        mode: Server(
            common.child_env(env, BENCH_ACCESS_LOG="1" if mode == "on" else "0"),
            workers=WORKERS,
            log_path=log_dir / f"bench-http-audit-{mode}-{os.getpid()}.log",
        )
        for mode in AUDIT_MODES
    }
    try:
        workers = {}
        for mode, server in servers.items():
            server.wait_ready()
            workers[mode] = _workers_ready(server, server.log_path)
        database = env.database_url.rsplit("/", 1)[1] if env.postgres else None
        tallies = asyncio.run(
            _audit_load(
                {mode: server.port for mode, server in servers.items()},
                workers,
                clients,
                timing,
                database,
                rounds=1 if small else 2,
            )
        )
    finally:
        for server in servers.values():
            server.stop()
    out: dict[str, dict] = {}
    for endpoint, _method, _template in AUDIT_ENDPOINTS:
        by = {mode: _summary(tallies[(endpoint, mode)]) for mode in AUDIT_MODES}
        for mode in AUDIT_MODES:
            ms = [v * 1000 for v in tallies[(endpoint, mode)].latencies]
            by[mode]["mean_ms"] = round(sum(ms) / len(ms), 2) if ms else None
        on, off = by["on"], by["off"]
        share = None
        if on["mean_ms"] and off["mean_ms"]:
            share = round((on["mean_ms"] - off["mean_ms"]) / on["mean_ms"], 3)

        def cpu_share(key: str, on=on, off=off):
            if not on[key] or off[key] is None:
                return None
            return round((on[key] - off[key]) / on[key], 3)

        out[endpoint] = {
            **by,
            "share_of_request_time": share,
            "share_of_web_cpu": cpu_share("web_cpu_ms_per_request"),
            "share_of_db_cpu": cpu_share("db_cpu_ms_per_request"),
            "inserts_per_request": inserts[endpoint],
        }
    return out


def audit_rows(overhead: dict, postgres: bool) -> list[dict]:
    rows = []
    for endpoint, by in overhead.items():
        for mode in AUDIT_MODES:
            s = by[mode]
            note = f"mean {s['mean_ms']} ms; CPU/req: web {s['web_cpu_ms_per_request']} ms"
            if postgres:
                note += f", PostgreSQL {s['db_cpu_ms_per_request']} ms"
            if s["errors"]:
                note += f"; {s['errors']} errors: {s['error_sample'][:60]}"
            rows.append(
                {
                    "line": f"access log: {endpoint}",
                    "variant": f"log {mode}",
                    "p50": s["p50_ms"],
                    "p95": s["p95_ms"],
                    "p99": s["p99_ms"],
                    "rps": s["rps"],
                    "note": note,
                    "met": "",
                }
            )
        share, inserts = by["share_of_request_time"], by["inserts_per_request"]
        checks = {
            f"≤ {TARGETS['audit_share']:.0%} of request time": share is not None
            and share <= TARGETS["audit_share"],
            "1 INSERT per request": set(inserts) == {1},
            "no errors": not (by["on"]["errors"] or by["off"]["errors"]),
        }
        missed = [k for k, ok in checks.items() if not ok]

        def pct(value) -> str:
            return "n/a" if value is None else f"{value:.1%}"

        note = (
            f"log's share: request time {pct(share)}, web CPU {pct(by['share_of_web_cpu'])}"
            + (f", PostgreSQL CPU {pct(by['share_of_db_cpu'])}" if postgres else "")
            + f"; INSERTs/request {_span(inserts)} (each role); targets: {', '.join(checks)}"
            + (f"; missed: {', '.join(missed)}" if missed else "")
        )
        rows.append(
            {
                "line": f"access log overhead: {endpoint}",
                "variant": "on vs off",
                "queries": _span(inserts),
                "note": note,
                "met": "ok" if not missed else "MISSED",
            }
        )
    return rows


# --- report --------------------------------------------------------------------------------------


def _summary(tally: Tally) -> dict:
    ms = [v * 1000 for v in tally.latencies]
    total_cpu = sum(tally.cpu.values())
    return {
        "requests": len(ms),
        "errors": tally.errors,
        "error_sample": tally.error_sample,
        "seconds": round(tally.seconds, 2),
        "rps": round(len(ms) / tally.seconds, 1) if tally.seconds else None,
        "p50_ms": _r(common.percentile(ms, 50)),
        "p95_ms": _r(common.percentile(ms, 95)),
        "p99_ms": _r(common.percentile(ms, 99)),
        "web_cpu_ms_per_request": round(total_cpu * 1000 / len(ms), 2) if ms else None,
        "db_cpu_ms_per_request": round(tally.db_cpu * 1000 / len(ms), 2) if ms else None,
        "cpu_share_by_worker": {
            str(pid): round(s / total_cpu, 3) if total_cpu else None
            for pid, s in sorted(tally.cpu.items())
        },
        "connections_by_worker": {str(pid): n for pid, n in sorted(tally.connections.items())},
    }


def _r(value):
    return None if value is None else round(value, 1)


def _span(values: list[int]) -> str:
    lo, hi = min(values), max(values)
    return f"{lo}" if lo == hi else f"{lo}–{hi}"


def run(*, small: bool = False) -> int:
    env = common.bench_env(small=small)
    note = common.services_note(env)
    if note:
        print(note)
    common.database_ensure(env)
    common.django_setup(env)
    generate.ensure(env)
    timing = SMALL if small else (FULL if env.postgres else SQLITE)
    clients = _clients(env)
    print(
        "clients: " + ", ".join(f"{c.label} ({c.visible:,} visible)" for c in clients),
        flush=True,
    )

    started = time.perf_counter()
    # A small run asks three roles (lead key worker, big partner, small partner), a full run all.
    roles = [clients[0], clients[3], clients[-1]] if small else clients
    differences = same_json(roles[:4])
    queries = queries_per_request(roles)
    print(
        f"same JSON check and queries per request (in process, {len(roles)} roles):"
        f" {time.perf_counter() - started:.1f} s; JSON differences: {differences or 'none'}",
        flush=True,
    )

    from bench.alerts_latency import Server

    log_path = Path(os.environ.get("BENCH_LOG_DIR", "/tmp")) / f"bench-http-{os.getpid()}.log"
    load_before = os.getloadavg()[0]
    server = Server(common.child_env(env), workers=WORKERS, log_path=log_path)
    try:
        server.wait_ready()
        workers = _workers_ready(server, log_path)
        database = env.database_url.rsplit("/", 1)[1] if env.postgres else None
        tallies, client_cpu = asyncio.run(_load(server.port, clients, workers, timing, database))
        peaks = {str(pid): procs.peak_mb(pid) for pid in workers}
    finally:
        server.stop()
    overhead = audit_overhead(env, roles, timing, small)
    load_after = os.getloadavg()[0]

    summary: dict[str, dict[str, dict]] = {}
    for (endpoint, variant), tally in tallies.items():
        s = _summary(tally)
        s["queries"] = queries[endpoint][variant]
        summary.setdefault(endpoint, {})[variant] = s
    total_cpu: dict[str, float] = {}
    for tally in tallies.values():
        for pid, used in tally.cpu.items():
            total_cpu[str(pid)] = total_cpu.get(str(pid), 0.0) + used
    all_cpu = sum(total_cpu.values()) or 1.0
    shares = {pid: round(v / all_cpu, 3) for pid, v in sorted(total_cpu.items())}
    peak = max((v for v in peaks.values() if v is not None), default=None)

    rows, met = [], {}
    for endpoint, method, _template in ENDPOINTS:
        by = summary[endpoint]
        target_p95 = TARGETS["read_p95_ms" if method == "GET" else "write_p95_ms"]
        for variant in VARIANTS:
            s = by[variant]
            row = {
                "line": endpoint,
                "variant": variant,
                "p50": s["p50_ms"],
                "p95": s["p95_ms"],
                "p99": s["p99_ms"],
                "rps": s["rps"],
                "queries": _span(s["queries"]),
                "note": f"CPU/req: web {s['web_cpu_ms_per_request']} ms"
                + (f", PostgreSQL {s['db_cpu_ms_per_request']} ms" if env.postgres else ""),
                "met": "",
            }
            if s["errors"]:
                row["note"] += f"; {s['errors']} errors: {s['error_sample'][:60]}"
            if variant == "ours":
                x_text = _ratio(s["rps"], by["textbook"]["rps"])
                x_floor = _ratio(s["rps"], by["floor"]["rps"])
                row["x_textbook"], row["x_floor"] = x_text, x_floor
                checks = {
                    f"p95 ≤ {target_p95}": s["p95_ms"] is not None and s["p95_ms"] <= target_p95,
                    f"≥ {TARGETS['x_textbook']:.0f}× textbook": x_text is not None
                    and x_text >= TARGETS["x_textbook"],
                    f"≥ {TARGETS['share_of_floor']:.0%} of floor": x_floor is not None
                    and x_floor >= TARGETS["share_of_floor"],
                    "no errors": not s["errors"],
                }
                met[endpoint] = checks
                missed = [k for k, ok in checks.items() if not ok]
                row["met"] = "ok" if not missed else "MISSED"
                row["note"] = "; ".join(
                    [row["note"], "targets: " + ", ".join(checks)]
                    + ([f"missed: {', '.join(missed)}"] if missed else [])
                )
            elif variant == "textbook":
                row["x_floor"] = _ratio(s["rps"], by["floor"]["rps"])
            rows.append(row)
    memory_ok = peak is not None and peak <= TARGETS["peak_mb"]
    rows.append(
        {
            "line": "web process peak memory",
            "variant": f"{len(workers)} workers",
            "note": ", ".join(f"{v} MB" for v in peaks.values())
            + f" (VmHWM; target ≤ {TARGETS['peak_mb']} MB each)",
            "met": "ok" if memory_ok else "MISSED",
        }
    )
    spread_ok = len(shares) == WORKERS and min(shares.values()) >= TARGETS["min_worker_share"]
    conns = {}
    for tally in tallies.values():
        for pid, n in tally.connections.items():
            conns[str(pid)] = max(conns.get(str(pid), 0), n)
    rows.append(
        {
            "line": "load split over workers",
            "variant": f"{len(workers)} workers",
            "note": "CPU share "
            + " / ".join(f"{v:.0%}" for v in shares.values())
            + "; client connections "
            + " / ".join(str(v) for v in conns.values())
            + f" (target: every worker ≥ {TARGETS['min_worker_share']:.0%})",
            "met": "ok" if spread_ok else "MISSED",
        }
    )
    if differences:
        rows.append(
            {
                "line": "same JSON three ways",
                "variant": "",
                "note": "; ".join(
                    f"{e}: {d[0]['differs']} {d[0]['detail'][:80]}" for e, d in differences.items()
                ),
                "met": "DIFFERS",
            }
        )
    audit_lines = audit_rows(overhead, env.postgres)
    rows += audit_lines
    for row in rows:
        print(_line(row))
    result = {
        "at": common.now_iso(),
        "mode": env.mode,
        "scale": env.scale.__dict__,
        "server": f"python -m core.serve --workers {WORKERS} (bench.settings)",
        "clients": [
            {"label": c.label, "username": c.username, "visible": c.visible} for c in clients
        ],
        "timing": timing.__dict__,
        "cores": os.cpu_count(),
        "load_average_before": round(load_before, 2),
        "load_average_after": round(load_after, 2),
        "client_cpu_s": round(client_cpu, 2),
        "targets": TARGETS,
        "endpoints": summary,
        "peak_mb_by_worker": peaks,
        "cpu_share_by_worker": shares,
        "connections_by_worker": conns,
        "same_json_differences": differences,
        "audit_overhead": overhead,
        "met": {
            **{e: all(c.values()) for e, c in met.items()},
            "peak_memory": memory_ok,
            "spread": spread_ok,
            "audit_overhead": all(r["met"] == "ok" for r in audit_lines if r["met"]),
        },
        "table": rows,
    }
    key = "http_load" + env.key_suffix
    common.results_save(key, result)
    print(
        f"load average before {load_before:.2f}, after {load_after:.2f}; driver CPU"
        f" {client_cpu:.1f} s; results → bench/results.json ({key})"
    )
    errors = sum(s["errors"] for by in summary.values() for s in by.values())
    errors += sum(by[mode]["errors"] for by in overhead.values() for mode in AUDIT_MODES)
    return 1 if errors else 0


def _ratio(a, b):
    if not a or not b:
        return None
    return round(a / b, 2)


def _line(row: dict) -> str:
    figures = " ".join(
        f"{k} {common.fmt(row[k])}" for k in ("p50", "p95", "p99", "rps") if row.get(k) is not None
    )
    return f"  {row['line']:<18} {row['variant']:<9} {figures}  {row.get('note', '')}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.http_load", description=__doc__)
    parser.add_argument("--small", action="store_true", default=common.small_default())
    return run(small=parser.parse_args(argv).small)


if __name__ == "__main__":
    sys.exit(main())
