"""`python -m core.serve`: the app under uvicorn, N worker processes, each on its OWN socket.

Why not `uvicorn --workers N`: its workers share one listening socket, and each worker's event
loop (uvloop/libuv) accepts every pending connection when it wakes. A burst of keep-alive clients
can therefore all land on one worker and stay there for as long as their connections live (the
bench saw it happen: decision 0006). Here every worker binds its own socket with SO_REUSEPORT
and the kernel spreads new connections across the listening sockets by a hash of each
connection (docs/decisions/0006-one-socket-per-worker.md).

The parent imports no Django: it reserves the port (a bound, non-listening socket, so nothing else
can take it and it receives no connections), starts the workers (`--child`), restarts one that
dies, and on SIGTERM/SIGINT stops them all (uvicorn's graceful shutdown, then SIGKILL).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import time

APP = "config.asgi:application"
log = logging.getLogger("core.serve")


def _socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def _child(args) -> None:
    import uvicorn

    sock = _socket(args.host, args.port)
    config = uvicorn.Config(
        APP,
        lifespan="off",
        access_log=False,
        # The client address is REMOTE_ADDR; a forwarded one is trusted only behind the
        # configured number of proxies (TRUSTED_PROXY_COUNT, the sign-in throttle).
        proxy_headers=False,
        log_level=args.log_level,
        timeout_graceful_shutdown=args.timeout_graceful_shutdown,
    )
    uvicorn.Server(config).run(sockets=[sock])


def _spawn(args, port: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "core.serve", "--child", "--host", args.host]
    command += ["--port", str(port), "--log-level", args.log_level]
    command += ["--timeout-graceful-shutdown", str(args.timeout_graceful_shutdown)]
    return subprocess.Popen(command, stdin=subprocess.DEVNULL)


def _supervise(args) -> int:
    reserved = _socket(args.host, args.port)  # bound, never listening: holds the port
    port = reserved.getsockname()[1]
    print(f"core.serve: {args.workers} workers on http://{args.host}:{port}", flush=True)
    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    workers = [_spawn(args, port) for _ in range(args.workers)]
    while not stopping:
        for i, worker in enumerate(workers):
            code = worker.poll()
            if code is not None and not stopping:
                print(f"core.serve: worker {worker.pid} exited ({code}); restarting", flush=True)
                time.sleep(1)
                workers[i] = _spawn(args, port)
        time.sleep(0.2)
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + args.timeout_graceful_shutdown + 5
    for worker in workers:
        try:
            worker.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    reserved.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.serve", description=__doc__)
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--timeout-graceful-shutdown", type=int, default=10)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.child:
        _child(args)
        return 0
    return _supervise(args)


if __name__ == "__main__":
    sys.exit(main())
