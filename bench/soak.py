"""`make soak`: one web process holding 2,000 alert sockets under steady API traffic, for a while.

    python -m bench.soak [--seconds N] [--sockets N]     # SOAK_SECONDS, default 300

Loopback only, bounded by its length. Real services: PostgreSQL (alerts_latency's bench data in a
database of its own, `teamaround_soak`, created and migrated there), Redis (the channel layer) and
the app served as in production by `python -m core.serve --workers 1`. The pieces are
bench/alerts_latency.py's (the server, the HTTP client, the sockets and their resume check) and
bench/procs.py (memory).

- Sockets: 2,000, one per browser tab, over alerts_latency's 200 users: two tabs for each of the
  8 families' key workers (measured), posters and team members (80 sockets), and the other 1,920
  spread over the 160 users of an uninvolved agency, whom no alert reaches. Opened with tickets
  issued by the service before the clock starts, 250 handshakes at a time.
- Traffic, steady (paced, not back to back): each family's poster records an intervention
  every POST_EVERY_S (each alerts the key worker and three team members: 8 sockets), and
  READERS key workers read their families list and a family's record every READ_EVERY_S: 8
  writes, 8 reads and 64 socket deliveries a second, about twice one web process's share of
  the national peak in docs/scaling.md (225 publishes/s over 8 processes).
- Warm-up: the first fifth of the run, at most WARMUP_MAX_S; latencies and memory are taken after
  it.
- Measured: errors (any answer but 2xx, a request that failed, a socket that closed, a traceback
  in the server's log other than a push given up); pushes given up (the channel layer did not take
  them within alerts.push.PUSH_TIMEOUT_S: those alerts reach open sockets only on resume); alerts
  lost (every recipient socket must have every alert the database
  holds for its user, live or, failing that, on resume); the web process's resident memory
  (VmRSS, sampled every few seconds) from the end of the warm-up to the end, flat within
  TARGETS["memory_growth"]; the alert's latency (the POST sent → the alert on a key worker's
  socket) p95 beside the POST's own p95, and their ratio (what the push adds).

Results print and merge into bench/results.json ("soak"). tests/faults/test_soak.py runs a
minute of it in CI and asserts errors, losses and memory, never the timings.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import secrets
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from bench import alerts_latency as al
from bench import procs

SOAK_DB = "teamaround_soak"  # alerts_latency's data, in a database of the soak's own
SOCKETS = 2000
TEAM_TABS = 2  # tabs open for each person of the families: a caseload and a family page
POST_EVERY_S = 1.0  # per poster (8 posters)
READERS = 4
READ_EVERY_S = 0.5  # per reader
WARMUP_MAX_S = 30.0
SAMPLE_EVERY_S = 5.0
OPEN_BATCH = 250  # sockets opened at once
TARGETS = {"push_ratio": 1.30, "memory_growth": 0.10}
PUSH_GIVEN_UP = "alert push failed; clients will get these alerts on resume"  # alerts/push.py


def fd_limit_raise(needed: int) -> int:
    """Raise this process's open-file limit (inherited by the server it starts) to `needed`,
    within the hard limit; returns the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    if soft < needed:
        raise SystemExit(f"open-file limit {soft} (hard {hard}); the soak needs {needed}")
    return soft


def _wanted(data: al.Data, sockets: int) -> list[tuple[int, str, bool]]:
    """(user id, token, measured) per socket: TEAM_TABS tabs for each of the families' people
    (key workers, measured; posters; team members), the rest of the sockets spread over the
    uninvolved users, whom no alert reaches."""
    team = [(f.key_worker[0], f.key_worker[1], True) for f in data.families]
    team += [(f.poster[0], f.poster[1], False) for f in data.families]
    team += [(user_id, token, False) for f in data.families for user_id, token in f.team]
    wanted = [user for user in team for _ in range(TEAM_TABS)][:sockets]
    idle = [(user_id, token, False) for user_id, token in data.outsiders]
    return wanted + [idle[i % len(idle)] for i in range(sockets - len(wanted))]


@dataclass
class Tally:
    post_times: list[float] = field(default_factory=list)
    read_times: list[float] = field(default_factory=list)
    sent_at: dict[str, float] = field(default_factory=dict)  # measured posts: token → sent
    posts: int = 0
    reads: int = 0
    errors: list[str] = field(default_factory=list)
    memory: list[tuple[float, float]] = field(default_factory=list)  # (seconds in, MB)


async def _poster(port: int, i: int, of: int, family: al.Family, run: str, start, warm_end, end, t):
    """Records an intervention every POST_EVERY_S (the posters' turns spread over it)."""
    http = al.Http(port, family.poster[1])
    path = f"/api/v1/families/{family.id}/interventions/"
    n, due = 0, start + i * POST_EVERY_S / of
    try:
        while (now := time.perf_counter()) < end:
            if now < due:
                await asyncio.sleep(due - now)
            due = max(due + POST_EVERY_S, now)  # late: no burst to catch up
            token = f"soak-{run}-{i}-{n}"
            n += 1
            t0 = time.perf_counter()
            try:
                status, body = await http.post(path, al._intervention(token))
            except (OSError, ConnectionError, asyncio.IncompleteReadError) as exc:
                http.close()
                t.errors.append(f"POST {path}: {exc!r}")
                continue
            took = time.perf_counter() - t0
            t.posts += 1
            if status != 201:
                t.errors.append(f"POST {path}: {status} {str(body)[:200]}")
            elif t0 >= warm_end:
                t.post_times.append(took)
                t.sent_at[token] = t0
    finally:
        http.close()


async def _reader(port: int, token: str, family_id: int, start, warm_end, end, t):
    """Reads the families list and a family's record, in turn, every READ_EVERY_S."""
    http = al.Http(port, token)
    paths = ["/api/v1/families/", f"/api/v1/families/{family_id}/"]
    n, due = 0, start
    try:
        while (now := time.perf_counter()) < end:
            if now < due:
                await asyncio.sleep(due - now)
            due = max(due + READ_EVERY_S, now)  # late: no burst to catch up
            path = paths[n % 2]
            n += 1
            t0 = time.perf_counter()
            try:
                status, body = await http.get(path)
            except (OSError, ConnectionError, asyncio.IncompleteReadError) as exc:
                http.close()
                t.errors.append(f"GET {path}: {exc!r}")
                continue
            t.reads += 1
            if status != 200:
                t.errors.append(f"GET {path}: {status} {str(body)[:200]}")
            elif t0 >= warm_end:
                t.read_times.append(time.perf_counter() - t0)
    finally:
        http.close()


async def _sampler(pid: int, start: float, end: float, every: float, t: Tally):
    while (now := time.perf_counter()) < end:
        mb = procs.rss_mb(pid)
        if mb is not None:
            t.memory.append((round(now - start, 1), mb))
        await asyncio.sleep(min(every, max(0.0, end - time.perf_counter())))
    mb = procs.rss_mb(pid)
    if mb is not None:
        t.memory.append((round(time.perf_counter() - start, 1), mb))


async def _soak(port: int, worker: int, data: al.Data, seconds: float, sockets: int) -> dict:
    rss_before_sockets = procs.rss_mb(worker)
    opening = time.perf_counter()
    wanted = _wanted(data, sockets)
    socks: list[al.Sock] = []
    for at in range(0, len(wanted), OPEN_BATCH):
        batch = wanted[at : at + OPEN_BATCH]
        # Issued per batch: a ticket lives a minute (alerts.services.TICKET_LIFETIME).
        tickets = await asyncio.to_thread(_tickets_issue, [user_id for user_id, _, _ in batch])
        socks += await al._open_socks(port, batch, tickets)
    opened_s = time.perf_counter() - opening
    rss_with_sockets = procs.rss_mb(worker)
    t = Tally()
    warmup = min(WARMUP_MAX_S, seconds / 5)
    run = secrets.token_hex(3)
    try:
        baseline = await asyncio.to_thread(al._max_alert_id)
        start = time.perf_counter()
        warm_end, end = start + warmup, start + seconds
        families = data.families
        await asyncio.gather(
            *(
                _poster(port, i, len(families), family, run, start, warm_end, end, t)
                for i, family in enumerate(families)
            ),
            *(
                _reader(port, f.key_worker[1], f.id, start, warm_end, end, t)
                for f in families[:READERS]
            ),
            _sampler(worker, start, end, min(SAMPLE_EVERY_S, seconds / 30), t),
        )
        measured = [s for s in socks if s.measured]
        await al._stragglers_wait(measured, t.sent_at, data.families)  # or the grace ends
        latencies = [
            received - t.sent_at[tok]
            for s in measured
            for tok, received in s.live.items()
            if tok in t.sent_at
        ]
        closed = [s for s in socks if s.ws.close_code is not None]
        for s in closed:
            t.errors.append(f"socket of user {s.user_id} closed ({s.ws.close_code})")
        expected = await asyncio.to_thread(
            al._alert_ids_after, {s.user_id for s in socks}, baseline
        )
        short = [s for s in socks if s not in closed and expected[s.user_id] - s.live_ids]
        missed_live = sum(len(expected[s.user_id] - s.live_ids) for s in socks)
        deliveries = sum(len(expected[s.user_id]) for s in socks)
        if short:
            await al._resume_check(short, baseline)  # what did not come live, asked for again
        lost = sum(len(expected[s.user_id] - s.live_ids) for s in socks)
    finally:
        await al._close_socks(socks)
    steady = [mb for at, mb in t.memory if at >= warmup]
    base_mb = steady[0] if steady else None
    return {
        "sockets": len(socks),
        "seconds": seconds,
        "warmup_s": round(warmup, 1),
        "opened_s": round(opened_s, 1),
        "posts": t.posts,
        "reads": t.reads,
        "posts_per_s": round(t.posts / seconds, 1),
        "reads_per_s": round(t.reads / seconds, 1),
        "errors": len(t.errors),
        "error_sample": t.errors[:5],
        "alert": al._stats(latencies),
        "alerts_measured": len(latencies),
        "post": al._stats(t.post_times),
        "read": al._stats(t.read_times),
        "deliveries": deliveries,
        "missed_live": missed_live,
        "lost": lost,
        "memory": {
            "before_sockets_mb": rss_before_sockets,
            "with_sockets_mb": rss_with_sockets,
            "after_warmup_mb": base_mb,
            "max_mb": max(steady) if steady else None,
            "end_mb": steady[-1] if steady else None,
            "growth": round(max(steady) / base_mb - 1, 4) if steady and base_mb else None,
            "samples": len(steady),
        },
    }


def _tickets_issue(user_ids: list[int]) -> list[str]:
    """One alert-socket ticket per socket, issued by the service the ticket endpoint calls
    (POST /api/v1/alerts/ticket/, measured elsewhere): setting up 2,000 sockets is not the load
    under test."""
    from django.contrib.auth import get_user_model

    from alerts.services import ticket_issue

    users = get_user_model().objects.in_bulk(set(user_ids))
    return [ticket_issue(user=users[user_id]).key for user_id in user_ids]


async def _on_one_db_thread(coroutine):
    """Run `coroutine` with one thread for its database reads (asyncio.to_thread), whose
    connection is closed at the end (none is left open on the database)."""
    from django.db import connections

    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(max_workers=1, thread_name_prefix="soak-db"))
    try:
        return await coroutine
    finally:
        await loop.run_in_executor(None, connections.close_all)


def soak(*, env: dict, data: al.Data, seconds: float, sockets: int, log_dir: Path) -> dict:
    """Serve the app (`python -m core.serve --workers 1`) with `env`, run the soak against it,
    stop it; the figures (see the module's docstring), with the machine's load around it."""
    fd_limit_raise(sockets * 2 + 1024)  # the client's sockets and the server's, and the rest
    log_path = log_dir / f"soak-uvicorn-{os.getpid()}.log"
    load_before = os.getloadavg()
    server = al.Server(env, workers=1, log_path=log_path)
    try:
        server.wait_ready()
        (worker,) = procs.children(server.proc.pid)
        result = asyncio.run(_on_one_db_thread(_soak(server.port, worker, data, seconds, sockets)))
        server.proc.poll()
        if procs.children(server.proc.pid) != [worker]:
            result["errors"] += 1
            result["error_sample"].append("the web worker was restarted")
    finally:
        server.stop()
    log = log_path.read_text(errors="replace")
    # A push the channel layer did not take within alerts.push.PUSH_TIMEOUT_S is logged with its
    # traceback and its alerts wait for the socket's next resume: counted apart (a live delivery
    # missed), not as an error. Any other traceback is an error.
    result["pushes_given_up"], tracebacks = _log_faults(log)
    if tracebacks:
        result["errors"] += tracebacks
        result["error_sample"].append(f"{tracebacks} traceback(s) in {log_path}")
    result["load_average_before"] = [round(v, 2) for v in load_before]
    result["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    result["cores"] = os.cpu_count()
    alert_p95, post_p95 = result["alert"]["p95_ms"], result["post"]["p95_ms"]
    result["push_ratio"] = round(alert_p95 / post_p95, 2) if alert_p95 and post_p95 else None
    return result


def _log_faults(log: str) -> tuple[int, int]:
    """(pushes given up, other tracebacks) in the server's log. A push given up is its warning
    line and the (chained) traceback under it."""
    pushes = tracebacks = 0
    in_push = False
    for line in log.splitlines():
        if line.startswith(PUSH_GIVEN_UP):
            pushes, in_push = pushes + 1, True
            continue
        if in_push and (
            not line
            or line[0].isspace()
            or line.startswith(("Traceback", "The above exception", "During handling"))
            or re.match(r"[\w.]+(Error|Exception)\b", line)
        ):
            continue
        in_push = False
        if line.startswith("Traceback (most recent call last)"):
            tracebacks += 1
    return pushes, tracebacks


def problems(result: dict) -> list[str]:
    """What must hold whatever the machine's load: no errors, no alert lost, memory flat. The
    timings (the push ratio) are printed, never asserted here."""
    out = []
    if result["errors"]:
        out.append(f"{result['errors']} error(s): {result['error_sample']}")
    if result["lost"]:
        out.append(f"{result['lost']} alert(s) lost")
    growth = result["memory"]["growth"]
    if growth is None or growth > TARGETS["memory_growth"]:
        out.append(f"memory grew {growth} after the warm-up: {result['memory']}")
    if not result["alerts_measured"]:
        out.append("no alert was measured")
    return out


def report(result: dict) -> None:
    from alerts.push import PUSH_TIMEOUT_S

    m, a, p, r = result["memory"], result["alert"], result["post"], result["read"]
    ratio = result["push_ratio"]
    verdict = "n/a" if ratio is None else ("ok" if ratio <= TARGETS["push_ratio"] else "MISSED")
    growth = m["growth"]
    print(
        f"soak: {result['sockets']} sockets on one web process (core.serve --workers 1),"
        f" {result['seconds']:.0f} s of traffic ({result['warmup_s']:.0f} s warm-up),"
        f" {result['cores']} cores; load average before {result['load_average_before']},"
        f" after {result['load_average_after']}"
    )
    print(
        f"  sockets opened in {result['opened_s']} s; API: {result['posts']} POSTs"
        f" ({result['posts_per_s']}/s), {result['reads']} reads ({result['reads_per_s']}/s);"
        f" errors {result['errors']}"
    )
    print(
        f"  alerts: {result['deliveries']} deliveries due, {result['missed_live']} not live"
        f" ({result['pushes_given_up']} pushes given up after {PUSH_TIMEOUT_S:.0f} s: their"
        f" alerts on resume), {result['lost']} lost"
    )
    print(
        f"  alert p95 {al._fmt(a['p95_ms'])} ms (p50 {al._fmt(a['p50_ms'])}, p99"
        f" {al._fmt(a['p99_ms'])}) beside its POST's p95 {al._fmt(p['p95_ms'])} ms (p50"
        f" {al._fmt(p['p50_ms'])}): ratio {ratio} (target ≤ {TARGETS['push_ratio']}: {verdict});"
        f" reads p95 {al._fmt(r['p95_ms'])} ms"
    )
    print(
        f"  web process RSS: {m['before_sockets_mb']} MB before the sockets,"
        f" {m['with_sockets_mb']} MB with them; after the warm-up {m['after_warmup_mb']} MB,"
        f" max {m['max_mb']} MB, end {m['end_mb']} MB ({m['samples']} samples):"
        f" {'n/a' if growth is None else f'{growth * 100:+.1f} %'}"
        f" (target ≤ +{TARGETS['memory_growth'] * 100:.0f} %:"
        f" {'ok' if growth is not None and growth <= TARGETS['memory_growth'] else 'MISSED'})"
    )


def run(*, seconds: float, sockets: int) -> int:
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    if not (database_url.startswith("postgres") and redis_url):
        print("soak needs DATABASE_URL=postgres://… and REDIS_URL=redis://…")
        return 2
    env, data = al.bench_data_ready(database_url, redis_url, SOAK_DB)
    result = soak(
        env=env,
        data=data,
        seconds=seconds,
        sockets=sockets,
        log_dir=Path(os.environ.get("BENCH_LOG_DIR", "/tmp")),
    )
    report(result)
    result["at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    al._save("soak", result)
    failed = problems(result)
    for problem in failed:
        print(f"FAILED: {problem}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument(
        "--seconds", type=float, default=float(os.environ.get("SOAK_SECONDS", "300"))
    )
    parser.add_argument("--sockets", type=int, default=SOCKETS)
    args = parser.parse_args(argv)
    return run(seconds=args.seconds, sockets=args.sockets)


if __name__ == "__main__":
    sys.exit(main())
