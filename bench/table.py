"""The one table `make bench` prints: a row per measured line, from this run's results.

Each benchmark stores `table` rows in its bench/results.json entry (dicts with `line`, `variant`
and any of `p50`, `p95`, `p99`, `rps`, `queries`, `x_textbook`, `x_floor`, `met`, `note`);
benchmarks that predate this (alerts_latency) get an adapter here.
"""

from __future__ import annotations

from bench.common import fmt

COLUMNS = [
    ("line", "line", 36, "<"),
    ("variant", "variant", 10, "<"),
    ("p50", "p50/med ms", 10, ">"),
    ("p95", "p95 ms", 8, ">"),
    ("p99", "p99 ms", 8, ">"),
    ("rps", "req/s", 7, ">"),
    ("queries", "q/req", 6, ">"),
    ("x_textbook", "×textbook", 9, ">"),
    ("x_floor", "×floor", 7, ">"),
    ("met", "met", 6, "<"),
    ("note", "note", 0, "<"),
]


def _cell(key: str, value) -> str:
    if value is None or value == "":
        return ""
    if key in {"x_textbook", "x_floor"}:
        return f"{value:.2f}"
    if key in {"p50", "p95", "p99"}:
        return f"{value:.2f}" if value < 10 else f"{value:.1f}"
    if isinstance(value, float | int):
        return fmt(value)
    return str(value)


def render(rows: list[dict]) -> str:
    header = " ".join(
        f"{title:{align}{width}}" if width else title for _k, title, width, align in COLUMNS
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        cells = []
        for key, _title, width, align in COLUMNS:
            text = _cell(key, row.get(key))
            if width and len(text) > width:
                text = text[: width - 1] + "…"
            cells.append(f"{text:{align}{width}}" if width else text)
        lines.append(" ".join(cells).rstrip())
    return "\n".join(lines)


def alerts_latency_rows(result: dict | None) -> list[dict]:
    """Rows for bench/alerts_latency.py's result."""
    if not result:
        return [
            {
                "line": "alert latency",
                "variant": "",
                "note": "skipped: needs DATABASE_URL=postgres://… and REDIS_URL=redis://…",
                "met": "skip",
            }
        ]
    targets, met = result.get("targets", {}), result.get("met", {})
    idle, loaded = result["idle"], result["loaded"]
    lost = idle["resume_check"]["lost"] + loaded["resume_check"]["lost"]
    return [
        {
            "line": "alert latency: POST → socket, idle",
            "variant": "ours",
            "p50": idle.get("p50_ms"),
            "p95": idle.get("p95_ms"),
            "p99": idle.get("p99_ms"),
            "note": f"{idle['sent']} sent, {idle['received_live']} live;"
            f" target p95 ≤ {targets.get('idle_p95_ms')} ms",
            "met": "ok" if met.get("idle_p95") else "MISSED",
        },
        {
            "line": "alert latency: loaded",
            "variant": "ours",
            "p50": loaded.get("p50_ms"),
            "p95": loaded.get("p95_ms"),
            "p99": loaded.get("p99_ms"),
            "rps": loaded.get("posts_per_s"),
            "note": f"{loaded['sockets']} sockets, {loaded['clients']} posting clients;"
            f" target p95 ≤ {targets.get('loaded_p95_ms')}, p99 ≤"
            f" {targets.get('loaded_p99_ms')} ms; {lost} lost",
            "met": "ok" if met.get("loaded_p95") and met.get("loaded_p99") else "MISSED",
        },
    ]
