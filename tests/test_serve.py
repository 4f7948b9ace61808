"""`python -m core.serve`: the way the app is served (Makefile `run`, the bench, the e2e tests).

Started as a real process; checked from outside: every worker takes connections, a worker that
dies is replaced, SIGTERM stops them all and frees the port.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import procs
from tests.web.live import listening

ROOT = Path(__file__).resolve().parent.parent


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
        [sys.executable, "-m", "core.serve", "--workers", "2", "--port", str(port)]
        + ["--timeout-graceful-shutdown", "2"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait("two workers", lambda: len(procs.children(proc.pid)) == 2)
        # Each worker listens on a socket of its own: both listening before any test connects.
        _wait(
            "both workers listening",
            lambda: listening(workers := procs.children(proc.pid), port) == set(workers),
        )
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
    workers = procs.children(proc.pid)
    connections = [socket.create_connection(("127.0.0.1", port)) for _ in range(16)]
    try:
        held = _wait(
            "16 accepted connections",
            lambda: sum((h := procs.connections_by_process(workers, port)).values()) == 16 and h,
        )
        holders = {pid for pid, n in held.items() if n}
        assert holders == set(workers), held  # chance that one holds all 16: 2 in 65,536
        for conn in connections:
            conn.sendall(b"GET /api/v1/me/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert conn.recv(12).startswith(b"HTTP/1.1 401")
    finally:
        for conn in connections:
            conn.close()


def test_a_dead_worker_is_replaced_and_sigterm_stops_all(served):
    proc, port = served
    first, second = procs.children(proc.pid)
    os.kill(first, signal.SIGKILL)
    _wait("a replacement", lambda: first not in (c := procs.children(proc.pid)) and len(c) == 2)
    _wait("the app", lambda: _answers(port))
    workers = procs.children(proc.pid)
    assert second in workers
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    assert all(not os.path.exists(f"/proc/{pid}") for pid in workers)
    assert not _answers(port)
