"""Each of the app's own pieces beside the library's way it replaces, served and loaded alike.

    python -m bench.library_way [--small] [piece ...]

A piece is measured by serving the app twice at once on the bench database, 2 uvicorn workers
each: as shipped ("ours", bench.settings, `python -m core.serve`) and with that one piece switched
to the library's way (a settings module of its own, bench/library/, or another server for the
runner).
The same eight clients as bench/http_load.py (real users of eight roles, real tokens, one
keep-alive connection each, closed loop) send the same four requests — families list, family
detail, chronology page, record-a-contact — to one server at a time, per endpoint in the order
ours, library, library, ours, so drift on a shared machine falls on both alike; each run is
preceded by a warm-up on the same connections. Per endpoint and way: p50/p95/p99, requests per
second, and CPU per request of the web workers and of PostgreSQL's backends (from /proc, as
http_load measures them; the idle server's processes use none meanwhile).

Before the load, each way answers the same requests in process (Django test client, every role
of a full run): its JSON must equal ours, and its statements per request are counted.

The pieces (bench/library/ways.py says how each is switched):
- auth: agencies/authentication.py, token (by its digest) + staff in one statement vs
  django-rest-knox's TokenAuthentication and Django's ModelBackend (the staff membership by the
  ORM), on the same knox token rows;
- serializers: core/serializers.py, OutputSerializer's plans vs DRF's to_representation;
- detail: cases/selectors.py family_detail_prefetch, raw loaders vs the ORM's prefetches;
- permissions: cases/access.py family_permissions / family_with_permissions, one statement vs
  guardian's ObjectPermissionChecker and the ORM;
- runner: core/serve.py (a socket per worker, SO_REUSEPORT) vs gunicorn with uvicorn-worker's
  worker class (one socket shared by the workers); also how 8 connections opened at once, as the
  clients open theirs, land on the 2 workers, over several starts of each, alternating.

The gain is also weighed by the request mix of docs/scaling.md (30 % list, 30 % detail, 25 %
chronology, 15 % writes) and turned into cores at its design load (500 requests/s at 60 %
utilisation), the sum that decides what a piece is worth.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench import common, generate, procs
from bench.alerts_latency import Server, core_serve_command
from bench.common import Env
from bench.http_load import (
    CLIENTS,
    ENDPOINTS,
    SMALL,
    WORKERS,
    Client,
    Tally,
    Timing,
    _clients,
    _contact_body,
    _first_difference,
    _normalise,
    _summary,
    _workers_ready,
)

OURS = "ours"
LIBRARY = "library"
PREFIX = "/api/v1"
MIX = {  # docs/scaling.md: the share of each kind of request
    "families list": 0.30,
    "family detail": 0.30,
    "chronology page": 0.25,
    "record-a-contact": 0.15,
}
DESIGN_RPS = 500  # docs/scaling.md: requests per second to design for
UTILISATION = 0.6  # docs/scaling.md: target CPU utilisation of a host


@dataclass(frozen=True)
class Piece:
    name: str
    ours: str
    library: str
    settings: str = common.BENCH_SETTINGS
    gunicorn: bool = False


PIECES = (
    Piece(
        "auth",
        "agencies/authentication.py: token+staff in 1 statement",
        "knox TokenAuthentication + ModelBackend",
        "bench.library.settings_auth",
    ),
    Piece(
        "serializers",
        "core/serializers.py: OutputSerializer plans",
        "DRF's to_representation",
        "bench.library.settings_serializers",
    ),
    Piece(
        "detail",
        "cases/selectors.py: raw detail loaders",
        "ORM select_related/prefetch_related",
        "bench.library.settings_detail",
    ),
    Piece(
        "permissions",
        "cases/access.py: family+grants in 1 statement",
        "guardian ObjectPermissionChecker + ORM",
        "bench.library.settings_permissions",
    ),
    Piece(
        "runner",
        "core/serve.py: a socket per worker",
        "gunicorn, uvicorn-worker, one shared socket",
        gunicorn=True,
    ),
)
BY_NAME = {p.name: p for p in PIECES}
FULL = Timing(warmup_s=1.0, run_s=2.0)  # per run; each way runs twice per endpoint
SQLITE = Timing(warmup_s=0.5, run_s=1.0)
SPLIT_STARTS = {"full": 6, "small": 1}  # starts of each runner


def gunicorn_command(port: int, workers: int) -> list[str]:
    """gunicorn with uvicorn-worker's worker class, keep-alive as uvicorn's default (5 s) so idle
    connections live as long under both runners; no control socket (one per user by default,
    which two servers on one machine would share)."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "config.asgi:application",
        "--worker-class",
        "uvicorn_worker.UvicornWorker",
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--keep-alive",
        "5",
        "--graceful-timeout",
        "3",
        "--no-control-socket",
    ]


# --- in process: same JSON, statements per request -------------------------------------------


def _post_family(client: Client, clients: list[Client]) -> int:
    """A family of the client's that no client reads in process: writes never change what the
    ways are compared on."""
    firsts = {c.families[0] for c in clients}
    return next((f for f in reversed(client.families) if f not in firsts), client.families[-1])


def inprocess(settings: str, small: bool) -> dict:
    """{endpoint: {role: {status, json, queries}}} for `settings`, in this process (Django's test
    client, every role of a full run; the request is made twice, the second one counted)."""
    env = common.bench_env(small=small)
    common.django_setup(env, settings=settings)
    from django.db import connection
    from django.test import Client as DjangoClient
    from django.test.utils import CaptureQueriesContext

    clients = _clients(env)
    roles = [clients[0], clients[3], clients[-1]] if small else clients
    out: dict[str, dict] = {}
    for client in roles:
        http = DjangoClient(HTTP_AUTHORIZATION=f"Token {client.token}")
        for endpoint, method, template in ENDPOINTS:
            family_id = client.families[0] if method == "GET" else _post_family(client, clients)
            path = PREFIX + template.format(id=family_id)

            def call(path=path, method=method, http=http):
                if method == "GET":
                    return http.get(path)
                return http.post(path, _contact_body(0), content_type="application/json")

            call()  # warm: URL resolver, caches
            with CaptureQueriesContext(connection) as ctx:
                response = call()
            out.setdefault(endpoint, {})[client.label] = {
                "status": response.status_code,
                "json": _normalise(endpoint, response.json()),
                "queries": len(ctx),
            }
    return out


def _inprocess_child(env: Env, settings: str, small: bool) -> dict:
    command = [sys.executable, "-m", "bench.library_way", "--inprocess", settings]
    done = subprocess.run(
        command + (["--small"] if small else []),
        cwd=common.ROOT,
        env=common.child_env(env, settings=settings),
        capture_output=True,
        text=True,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("INPROCESS ")]
    if done.returncode or not lines:
        raise RuntimeError(f"in-process run of {settings} failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len("INPROCESS ") :])


def _differences(ours: dict, library: dict) -> list[str]:
    out = []
    for endpoint, by_role in ours.items():
        for role, answer in by_role.items():
            other = library[endpoint][role]
            if (answer["status"], answer["json"]) != (other["status"], other["json"]):
                where = _first_difference(
                    [answer["status"], answer["json"]], [other["status"], other["json"]]
                )
                out.append(f"{endpoint} as {role}: {where}")
    return out


def _queries(found: dict, endpoint: str) -> str:
    counts = [answer["queries"] for answer in found[endpoint].values()]
    lo, hi = min(counts), max(counts)
    return f"{lo}" if lo == hi else f"{lo}–{hi}"


# --- over HTTP --------------------------------------------------------------------------------


async def _load(
    servers: dict[str, tuple[int, list[int]]],
    clients: list[Client],
    timing: Timing,
    database: str | None,
    reverse: bool = False,
) -> dict[tuple[str, str], list[Tally]]:
    """Each endpoint: ours, library, library, ours (`reverse`: library first); a warm-up before
    each run."""
    import aiohttp

    sessions = {
        way: [
            aiohttp.ClientSession(
                base_url=f"http://127.0.0.1:{port}",
                connector=aiohttp.TCPConnector(limit=1),
                headers={"Authorization": f"Token {c.token}"},
                timeout=aiohttp.ClientTimeout(total=60),
            )
            for c in clients
        ]
        for way, (port, _workers) in servers.items()
    }
    counter = [0]

    async def phase(way: str, method: str, template: str, seconds: float, tally: Tally | None):
        expected = 200 if method == "GET" else 201
        end = time.perf_counter() + seconds

        async def loop(i: int):
            k = i * 7
            session = sessions[way][i]
            while time.perf_counter() < end:
                k += 1
                client = clients[i]
                path = PREFIX + template.format(id=client.families[k % len(client.families)])
                started = time.perf_counter()
                if method == "GET":
                    async with session.get(path) as response:
                        body = await response.read()
                else:
                    counter[0] += 1
                    async with session.post(path, json=_contact_body(counter[0])) as response:
                        body = await response.read()
                if tally is None:
                    continue
                if response.status != expected:
                    tally.errors += 1
                    tally.error_sample = tally.error_sample or f"{response.status} {body[:200]!r}"
                else:
                    tally.latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(loop(i) for i in range(len(clients))))
        return time.perf_counter() - started

    out: dict[tuple[str, str], list[Tally]] = {}
    try:
        for endpoint, method, template in ENDPOINTS:
            first, second = (LIBRARY, OURS) if reverse else (OURS, LIBRARY)
            for order in ((first, second), (second, first)):
                for way in order:
                    workers = servers[way][1]
                    await phase(way, method, template, timing.warmup_s / 2, None)
                    tally = Tally()
                    cpu_before = {pid: procs.cpu_seconds(pid) for pid in workers}
                    db_before = procs.db_backends_cpu(database)
                    tally.seconds = await phase(way, method, template, timing.run_s, tally)
                    for pid in workers:
                        tally.cpu[pid] = procs.cpu_seconds(pid) - cpu_before[pid]
                    db_after = procs.db_backends_cpu(database)
                    tally.db_cpu = sum(t - db_before.get(pid, 0.0) for pid, t in db_after.items())
                    tally.connections = procs.connections_by_process(workers, servers[way][0])
                    out.setdefault((endpoint, way), []).append(tally)
    finally:
        await asyncio.gather(*(s.close() for group in sessions.values() for s in group))
    return out


def _pooled(tallies: list[Tally]) -> Tally:
    pooled = Tally()
    for t in tallies:
        pooled.latencies += t.latencies
        pooled.errors += t.errors
        pooled.error_sample = pooled.error_sample or t.error_sample
        pooled.seconds += t.seconds
        pooled.db_cpu += t.db_cpu
        for pid, used in t.cpu.items():
            pooled.cpu[pid] = pooled.cpu.get(pid, 0.0) + used
        for pid, n in t.connections.items():
            pooled.connections[pid] = max(pooled.connections.get(pid, 0), n)
    return pooled


def _figures(tallies: list[Tally], postgres: bool) -> dict:
    """The pooled summary, plus each run's req/s and CPU per request (their range)."""
    s = _summary(_pooled(tallies))
    s["cpu_ms_per_request"] = _total_cpu(s, postgres)
    s["runs"] = []
    for t in tallies:
        one = _summary(t)
        s["runs"].append(
            {
                "rps": one["rps"],
                "p95_ms": one["p95_ms"],
                "web_cpu_ms_per_request": one["web_cpu_ms_per_request"],
                "db_cpu_ms_per_request": one["db_cpu_ms_per_request"],
                "cpu_ms_per_request": _total_cpu(one, postgres),
                "connections_by_worker": one["connections_by_worker"],
            }
        )
    return s


def _total_cpu(s: dict, postgres: bool) -> float | None:
    if s["web_cpu_ms_per_request"] is None:
        return None
    return round(s["web_cpu_ms_per_request"] + (s["db_cpu_ms_per_request"] if postgres else 0), 2)


async def _burst(port: int) -> list:
    """CLIENTS connections opened at once, one request answered on each (so each is accepted)."""

    async def one():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /api/v1/me/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await writer.drain()
        await reader.read(64)
        return writer

    return await asyncio.gather(*(one() for _ in range(CLIENTS)))


def _split(env: Env, starts: int, log_dir: Path) -> dict[str, list[list[int]]]:
    """How CLIENTS connections opened at once land on the workers, per start of each runner
    (alternating which starts first)."""
    commands = {OURS: core_serve_command, LIBRARY: gunicorn_command}
    out: dict[str, list[list[int]]] = {OURS: [], LIBRARY: []}
    for i in range(starts):
        for way in (OURS, LIBRARY) if i % 2 == 0 else (LIBRARY, OURS):
            log_path = log_dir / f"bench-library-split-{way}-{os.getpid()}-{i}.log"
            server = Server(common.child_env(env), WORKERS, log_path, command=commands[way])
            try:
                server.wait_ready()
                workers = _workers_ready(server, log_path)

                async def held(port=server.port, workers=workers):
                    writers = await _burst(port)
                    try:
                        return procs.connections_by_process(workers, port)
                    finally:
                        for writer in writers:
                            writer.close()

                counts = asyncio.run(held())
            finally:
                server.stop()
            out[way].append(sorted(counts.values(), reverse=True))
    return out


# --- report ---------------------------------------------------------------------------------


def _weighted(by_endpoint: dict, key: str) -> float | None:
    values = [(MIX[e], by_endpoint[e].get(key)) for e in MIX]
    if any(v is None for _, v in values):
        return None
    return round(sum(w * v for w, v in values), 2)


def _span(values: list) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    lo, hi = min(values), max(values)
    return f"{lo:g}" if lo == hi else f"{lo:g}–{hi:g}"


def _cpu_note(s: dict, postgres: bool) -> str:
    runs = s["runs"]
    note = f"CPU/req web {s['web_cpu_ms_per_request']}"
    if postgres:
        note += f" + PG {s['db_cpu_ms_per_request']} = {s['cpu_ms_per_request']}"
    note += f" ms (runs {_span([r['cpu_ms_per_request'] for r in runs])})"
    note += f"; req/s runs {_span([r['rps'] for r in runs])}"
    if s["errors"]:
        note += f"; {s['errors']} errors: {s['error_sample'][:60]}"
    return note


def _gain(ours: dict, library: dict) -> dict:
    """What ours saves against the library's way (positive: ours is cheaper / faster)."""
    out = {}
    for key in ("web_cpu_ms_per_request", "db_cpu_ms_per_request", "cpu_ms_per_request"):
        a, b = ours.get(key), library.get(key)
        out[key] = None if a is None or b is None else round(b - a, 2)
    a, b = ours.get("rps"), library.get("rps")
    out["rps_ratio"] = round(a / b, 2) if a and b else None
    total = library.get("cpu_ms_per_request")
    saved = out["cpu_ms_per_request"]
    out["cpu_share_saved"] = round(saved / total, 3) if saved is not None and total else None
    return out


def _cores(ms: float | None) -> float | None:
    """Cores busy at the design load (docs/scaling.md) for `ms` of CPU per request."""
    return None if ms is None else round(DESIGN_RPS * ms / 1000 / UTILISATION, 2)


def _rows(piece: Piece, result: dict, postgres: bool) -> list[dict]:
    rows = []
    for endpoint, _method, _template in ENDPOINTS:
        by = result["endpoints"][endpoint]
        for way in (OURS, LIBRARY):
            s = by[way]
            row = {
                "line": f"{piece.name}: {endpoint}",
                "variant": way,
                "p50": s["p50_ms"],
                "p95": s["p95_ms"],
                "p99": s["p99_ms"],
                "rps": s["rps"],
                "queries": by.get("queries", {}).get(way, ""),
                "note": _cpu_note(s, postgres),
                "met": "",
            }
            if way == LIBRARY:
                g = by["gain"]
                row["note"] = (
                    f"ours saves {g['cpu_ms_per_request']} ms CPU/req"
                    f" ({_pct(g['cpu_share_saved'])}), req/s ×{g['rps_ratio']}; " + row["note"]
                )
            if s["errors"]:
                row["met"] = "ERRORS"
            rows.append(row)
    w = result["weighted"]
    note = (
        f"CPU/req ours {w['ours_cpu_ms']} ms vs library {w['library_cpu_ms']} ms"
        f" (web {w['web_saved_ms']}, PG {w['db_saved_ms']} saved) → {w['cores_saved']}"
        f" cores at {DESIGN_RPS} req/s, {UTILISATION:.0%} busy"
    )
    rows.append(
        {
            "line": f"{piece.name}: weighted by the mix",
            "variant": "gain",
            "note": f"{note}; ours {piece.ours}; library: {piece.library}",
        }
    )
    for way, starts in result.get("split", {}).items():
        lopsided = sum(1 for start in starts if start[-1] <= 1)
        rows.append(
            {
                "line": f"{piece.name}: {CLIENTS} connections at once",
                "variant": way,
                "note": "per worker, each start: "
                + ", ".join("/".join(str(n) for n in start) for start in starts)
                + f"; {CLIENTS - 1}/1 or worse in {lopsided} of {len(starts)}",
            }
        )
    if result.get("differences"):
        rows.append(
            {
                "line": f"{piece.name}: same JSON as ours",
                "variant": LIBRARY,
                "note": "; ".join(result["differences"][:3]),
                "met": "DIFFERS",
            }
        )
    return rows


def _pct(share: float | None) -> str:
    return "n/a" if share is None else f"{share:.0%}"


def _print(rows: list[dict]) -> None:
    for row in rows:
        figures = " ".join(
            f"{k} {common.fmt(row[k])}" for k in ("p50", "p95", "rps") if row.get(k) is not None
        )
        queries = f" q {row['queries']}" if row.get("queries") else ""
        print(f"  {row['line']:<34} {row['variant']:<8} {figures}{queries}  {row.get('note', '')}")


# --- entry point ----------------------------------------------------------------------------


def run(
    *,
    small: bool = False,
    pieces: list[str] | None = None,
    reverse: bool = False,
    seconds: float | None = None,
) -> int:
    """`reverse`: the pieces in reverse order, and each endpoint library, ours, ours, library
    (a second run's order). `seconds`: each timed run's length, in place of the scale's."""
    env = common.bench_env(small=small)
    note = common.services_note(env)
    if note:
        print(note)
    common.database_ensure(env)
    common.django_setup(env)
    generate.ensure(env)
    timing = SMALL if small else (FULL if env.postgres else SQLITE)
    if seconds:
        timing = Timing(warmup_s=seconds, run_s=seconds)
    clients = _clients(env)
    chosen = [BY_NAME[name] for name in pieces] if pieces else list(PIECES)
    if reverse:
        chosen.reverse()
    log_dir = Path(os.environ.get("BENCH_LOG_DIR", "/tmp"))
    database = env.database_url.rsplit("/", 1)[1] if env.postgres else None

    started = time.perf_counter()
    found = {common.BENCH_SETTINGS: _inprocess_child(env, common.BENCH_SETTINGS, small)}
    for piece in chosen:
        if piece.settings not in found:
            found[piece.settings] = _inprocess_child(env, piece.settings, small)
    print(
        f"same JSON and statements per request, in process, {len(found)} settings:"
        f" {time.perf_counter() - started:.0f} s",
        flush=True,
    )

    results, rows, errors = {}, [], 0
    load_before = os.getloadavg()[0]
    for piece in chosen:
        piece_load = os.getloadavg()[0]
        settings = {OURS: common.BENCH_SETTINGS, LIBRARY: piece.settings}
        servers: dict[str, Server] = {}
        try:
            for way in (OURS, LIBRARY):
                log_path = log_dir / f"bench-library-{piece.name}-{way}-{os.getpid()}.log"
                servers[way] = Server(
                    common.child_env(env, settings=settings[way]),
                    workers=WORKERS,
                    log_path=log_path,
                    command=gunicorn_command
                    if piece.gunicorn and way == LIBRARY
                    else core_serve_command,
                )
            ready = {}
            for way, server in servers.items():
                server.wait_ready()
                ready[way] = (server.port, _workers_ready(server, server.log_path))
            tallies = asyncio.run(_load(ready, clients, timing, database, reverse))
        finally:
            for server in servers.values():
                server.stop()
        result: dict = {
            "ours": piece.ours,
            "library": piece.library,
            "settings": piece.settings,
            "load_average_before": round(piece_load, 2),
            "load_average_after": round(os.getloadavg()[0], 2),
            "endpoints": {},
        }
        for endpoint, _method, _template in ENDPOINTS:
            by = {way: _figures(tallies[(endpoint, way)], env.postgres) for way in (OURS, LIBRARY)}
            by["gain"] = _gain(by[OURS], by[LIBRARY])
            by["queries"] = {
                OURS: _queries(found[common.BENCH_SETTINGS], endpoint),
                LIBRARY: _queries(found[piece.settings], endpoint),
            }
            errors += by[OURS]["errors"] + by[LIBRARY]["errors"]
            result["endpoints"][endpoint] = by
        weights = {
            way: {
                key: _weighted({e: result["endpoints"][e][way] for e in MIX}, key)
                for key in ("web_cpu_ms_per_request", "db_cpu_ms_per_request", "cpu_ms_per_request")
            }
            for way in (OURS, LIBRARY)
        }
        saved = {
            key: None
            if weights[OURS][key] is None or weights[LIBRARY][key] is None
            else round(weights[LIBRARY][key] - weights[OURS][key], 2)
            for key in weights[OURS]
        }
        result["weighted"] = {
            "ours_cpu_ms": weights[OURS]["cpu_ms_per_request"],
            "library_cpu_ms": weights[LIBRARY]["cpu_ms_per_request"],
            "web_saved_ms": saved["web_cpu_ms_per_request"],
            "db_saved_ms": saved["db_cpu_ms_per_request"],
            "cpu_saved_ms": saved["cpu_ms_per_request"],
            "cores_saved": _cores(saved["cpu_ms_per_request"]),
        }
        result["differences"] = _differences(found[common.BENCH_SETTINGS], found[piece.settings])
        if piece.gunicorn:
            starts = SPLIT_STARTS["small" if small else "full"]
            result["split"] = _split(env, starts, log_dir)
        results[piece.name] = result
        piece_rows = _rows(piece, result, env.postgres)
        _print(piece_rows)
        print(
            f"  ({piece.name}: load average {result['load_average_before']:.2f} before,"
            f" {result['load_average_after']:.2f} after)",
            flush=True,
        )
        rows += piece_rows

    key = "library_way" + env.key_suffix
    common.results_save(
        key,
        {
            "at": common.now_iso(),
            "mode": env.mode,
            "scale": env.scale.__dict__,
            "timing": timing.__dict__,
            "cores": os.cpu_count(),
            "mix": MIX,
            "design_rps": DESIGN_RPS,
            "utilisation": UTILISATION,
            "load_average_before": round(load_before, 2),
            "load_average_after": round(os.getloadavg()[0], 2),
            "reverse": reverse,
            "pieces": results,
            "table": rows,
        },
    )
    print(f"results → bench/results.json ({key})")
    differs = any(r.get("differences") for r in results.values())
    return 1 if errors or differs else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.library_way", description=__doc__)
    parser.add_argument("--small", action="store_true", default=common.small_default())
    parser.add_argument("--inprocess", metavar="SETTINGS", help=argparse.SUPPRESS)
    parser.add_argument(
        "--reverse", action="store_true", help="pieces in reverse order, the library way first"
    )
    parser.add_argument(
        "--seconds",
        type=float,
        help="each timed run's length (its warm-up: half of it); default by scale",
    )
    parser.add_argument("pieces", nargs="*", metavar="piece", help=", ".join(BY_NAME))
    args = parser.parse_args(argv)
    unknown = [p for p in args.pieces if p not in BY_NAME]
    if unknown:
        parser.error(f"unknown piece(s): {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
    if args.inprocess:
        found = inprocess(args.inprocess, args.small)
        print("INPROCESS " + json.dumps(found, default=str), flush=True)
        return 0
    return run(
        small=args.small, pieces=args.pieces or None, reverse=args.reverse, seconds=args.seconds
    )


if __name__ == "__main__":
    sys.exit(main())
