"""`python -m config.serve`: the way the app is served (Makefile `run`, the bench, the e2e tests).

Started as a real process; checked from outside: every worker takes connections, a worker that
dies is replaced, SIGTERM stops them all and frees the port.
"""

from __future__ import annotations

import collections
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
            out.append(int(entry))
    return sorted(out)


def _owner_of_each_connection(pids: list[int], port: int) -> collections.Counter:
    """How many established server-side connections on `port` each pid holds."""
    inodes = set()
    with open("/proc/net/tcp") as fh:
        next(fh)
        for line in fh:
            parts = line.split()
            if int(parts[1].rsplit(":", 1)[1], 16) == port and parts[3] == "01":
                inodes.add(parts[9])
    held = collections.Counter()
    for pid in pids:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                held[pid] += 1
    return held


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"GET /api/v1/me/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            return s.recv(12).startswith(b"HTTP/1.1 401")
    except OSError:
        return False


def _wait(what: str, check, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def served(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = open(tmp_path / "serve.log", "wb")  # noqa: SIM115 - closed below
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("EMBEDDED_BEAT", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "config.serve", "--workers", "2", "--port", str(port)]
        + ["--timeout-graceful-shutdown", "2"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait("two workers", lambda: len(_children(proc.pid)) == 2)
        _wait("the app", lambda: _answers(port))
        yield proc, port
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
        log.close()


def test_every_worker_takes_connections(served):
    """16 keep-alive connections opened at once: both workers hold some (the kernel spreads them
    over the workers' own sockets; `uvicorn --workers` let one worker take all of them)."""
    proc, port = served
    workers = _children(proc.pid)
    connections = [socket.create_connection(("127.0.0.1", port)) for _ in range(16)]
    try:
        held = _wait(
            "16 accepted connections",
            lambda: (h := _owner_of_each_connection(workers, port)).total() == 16 and h,
        )
        assert set(held) == set(workers), held  # chance that one holds all 16: 2 in 65,536
        for conn in connections:
            conn.sendall(b"GET /api/v1/me/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert conn.recv(12).startswith(b"HTTP/1.1 401")
    finally:
        for conn in connections:
            conn.close()


def test_a_dead_worker_is_replaced_and_sigterm_stops_all(served):
    proc, port = served
    first, second = _children(proc.pid)
    os.kill(first, signal.SIGKILL)
    _wait("a replacement", lambda: first not in (c := _children(proc.pid)) and len(c) == 2)
    _wait("the app", lambda: _answers(port))
    workers = _children(proc.pid)
    assert second in workers
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    assert all(not os.path.exists(f"/proc/{pid}") for pid in workers)
    assert not _answers(port)
