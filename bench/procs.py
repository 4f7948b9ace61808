"""Reading processes from /proc (Linux): children, CPU time, memory, connections held.

Used by the bench (bench/http_load.py, bench/soak.py) and by tests/test_serve.py.
"""

from __future__ import annotations

import os


def processes():
    """(pid, parent pid, process group, CPU ticks (user + system), cmdline) of every process."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks = int(fields[11]) + int(fields[12])
        yield int(entry), int(fields[1]), int(fields[2]), ticks, cmdline


def children(pid: int) -> list[int]:
    return sorted(
        child
        for child, parent, _, _, cmdline in processes()
        if parent == pid and b"resource_tracker" not in cmdline
    )


def cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            stat = fh.read()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def db_backends_cpu(database: str | None) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend serving `database` (same machine only)."""
    if not database:
        return {}
    out = {}
    needle = f" {database} ".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read()
        except OSError:
            continue
        if cmdline.startswith(b"postgres:") and needle in cmdline:
            out[int(entry)] = cpu_seconds(int(entry))
    return out


def peak_mb(pid: int) -> float | None:
    """The process's peak resident memory (VmHWM), in MB."""
    return _status_mb(pid, "VmHWM:")


def rss_mb(pid: int) -> float | None:
    """The process's resident memory now (VmRSS), in MB."""
    return _status_mb(pid, "VmRSS:")


def _status_mb(pid: int, field: str) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def connections_by_process(pids: list[int], port: int) -> dict[int, int]:
    """How many established connections to `port` each process holds (socket inode → fd owner)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as fh:
                next(fh)
                for line in fh:
                    parts = line.split()
                    local_port = int(parts[1].rsplit(":", 1)[1], 16)
                    if local_port == port and parts[3] == "01":  # ESTABLISHED
                        inodes.add(parts[9])
        except OSError:
            continue
    out = {}
    for pid in pids:
        count = 0
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    count += 1
        except OSError:
            pass
        out[pid] = count
    return out
