"""Visible families three ways on the same data: ours, guardian's default, the SQL floor.

    python -m bench.visibility [--small]

For a practitioner of the agency on ~3,000 families (Borough Police) and of the one on ~130
(Home-Start), each of:
- ours: `cases.access.families_visible_to(user)` (direct-FK grant tables);
- guardian: `get_objects_for_user(user, "cases.view_family", klass=Family)` over guardian's
  default generic tables (bench/baselines.py);
- floor: a hand-written SQL join that starts from the agency's grants;
asked for the first page (50 rows ordered by reference) and for the count. Two timings, median
of N runs after warm-up:
- "as called": building the query and fetching rows the way the app would (ORM for ours and
  guardian, a cursor for the floor);
- "SQL": the SQL each produced, executed and fetched through the same cursor, so the figure is
  the database's plan and nothing else.
Target (`TARGET_RATIO`): ours within 2× of the floor, for both agencies, page and count ("as
called").
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from bench import common, generate

TARGET_RATIO = 2.0


def _timed(fn, runs: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _last_sql(fn) -> tuple[str, list]:
    """The last SQL statement `fn` ran, with its parameters bound (as the database saw it)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    fn()  # warm per-user caches first, so the last statement is the families query
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return ctx.captured_queries[-1]["sql"], []


def measure(user, runs: int) -> dict:
    from django.db import connection

    from bench import baselines
    from cases import access

    def ours_page():
        return list(access.families_visible_to(user).order_by("reference")[: baselines.PAGE])

    def ours_count():
        return access.families_visible_to(user).count()

    def guardian_page():
        return list(baselines.textbook_visible(user).order_by("reference")[: baselines.PAGE])

    def guardian_count():
        return baselines.textbook_visible(user).count()

    staff = access.case_staff(user)
    view = baselines.perm_id(access.VIEW)
    grants = [staff.agency.group_id, view, user.id, view]

    def floor_page():
        with connection.cursor() as cur:
            cur.execute(baselines.floor_page_sql(), [*grants, baselines.PAGE])
            return cur.fetchall()

    def floor_count():
        with connection.cursor() as cur:
            cur.execute(baselines.floor_count_sql(), grants)
            return cur.fetchone()[0]

    # Same answer three ways, or the comparison means nothing.
    page_ids = {
        "ours": [f.id for f in ours_page()],
        "guardian": [f.id for f in guardian_page()],
        "floor": [r[0] for r in floor_page()],
    }
    counts = {"ours": ours_count(), "guardian": guardian_count(), "floor": floor_count()}
    same = len({tuple(v) for v in page_ids.values()}) == 1 and len(set(counts.values())) == 1

    # The SQL each way produced (the last statement it ran), run through one cursor.
    ours_page_sql = _last_sql(ours_page)
    guardian_page_sql = _last_sql(guardian_page)
    ours_count_sql = _last_sql(ours_count)
    guardian_count_sql = _last_sql(guardian_count)
    floor_page_sql = (baselines.floor_page_sql(), [*grants, baselines.PAGE])
    floor_count_sql = (baselines.floor_count_sql(), grants)

    def raw(sql_params):
        sql, params = sql_params

        def run():
            with connection.cursor() as cur:
                cur.execute(sql, params or None)
                return cur.fetchall()

        return run

    out = {"same_answer": same, "visible": counts["floor"], "page": {}, "count": {}}
    for what, fns, sqls in (
        (
            "page",
            {"ours": ours_page, "guardian": guardian_page, "floor": floor_page},
            {"ours": ours_page_sql, "guardian": guardian_page_sql, "floor": floor_page_sql},
        ),
        (
            "count",
            {"ours": ours_count, "guardian": guardian_count, "floor": floor_count},
            {"ours": ours_count_sql, "guardian": guardian_count_sql, "floor": floor_count_sql},
        ),
    ):
        for way in ("ours", "guardian", "floor"):
            out[what][way] = {
                "ms": round(_timed(fns[way], runs), 3),
                "sql_ms": round(_timed(raw(sqls[way]), runs), 3),
            }
        floor = out[what]["floor"]
        for way in ("ours", "guardian"):
            entry = out[what][way]
            entry["x_floor"] = round(entry["ms"] / floor["ms"], 2) if floor["ms"] else None
            entry["sql_x_floor"] = (
                round(entry["sql_ms"] / floor["sql_ms"], 2) if floor["sql_ms"] else None
            )
    out["plans"] = _plans(
        {
            "ours page": ours_page_sql,
            "floor page": floor_page_sql,
            "ours count": ours_count_sql,
            "floor count": floor_count_sql,
        }
    )
    return out


def _plans(sqls: dict) -> dict:
    """EXPLAIN of each (PostgreSQL only): the node types, to show where a plan starts."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return {}
    out = {}
    with connection.cursor() as cur:
        for name, (sql, params) in sqls.items():
            cur.execute("EXPLAIN " + sql, params or None)
            out[name] = [r[0] for r in cur.fetchall()]
    return out


def run(*, small: bool = False) -> int:
    env = common.bench_env(small=small)
    note = common.services_note(env)
    if note:
        print(note)
    common.database_ensure(env)
    common.django_setup(env)
    generate.ensure(env)
    from django.contrib.auth import get_user_model

    User = get_user_model()
    runs = 7 if small else 25
    results, rows = {}, []
    for label, agency in (("big", generate.BIG_AGENCY), ("small", generate.SMALL_AGENCY)):
        user = User.objects.get(username=generate.username(agency, "practitioner", 1))
        m = measure(user, runs)
        results[label] = {"agency": agency, **m}
        if not m["same_answer"]:
            print(f"WARNING: the three ways disagree for {agency}")
        for what in ("page", "count"):
            for way in ("ours", "guardian", "floor"):
                entry = m[what][way]
                ratio = entry.get("x_floor")
                met = ""
                if way == "ours":
                    met = "ok" if ratio is not None and ratio <= TARGET_RATIO else "MISSED"
                rows.append(
                    {
                        "line": f"visible {what}: {agency} ({m['visible']:,})",
                        "variant": way,
                        "p50": entry["ms"],
                        "x_floor": ratio if way != "floor" else None,
                        "note": (
                            f"SQL {entry['sql_ms']:.2f} ms"
                            + (
                                f" ({entry['sql_x_floor']:.1f}× floor)"
                                if way != "floor" and entry.get("sql_x_floor")
                                else ""
                            )
                            + (f"; target ≤ {TARGET_RATIO:.0f}× floor" if way == "ours" else "")
                            + ("" if m["same_answer"] else "; ANSWERS DIFFER")
                        ),
                        "met": met,
                    }
                )
            print(
                f"visible families, {agency} ({m['visible']:,} visible), {what}: "
                + ", ".join(
                    f"{way} {m[what][way]['ms']:.2f} ms (SQL {m[what][way]['sql_ms']:.2f})"
                    for way in ("ours", "guardian", "floor")
                )
                + f"; ours {m[what]['ours']['x_floor']}× floor, guardian"
                f" {m[what]['guardian']['x_floor']}× floor"
            )
    key = "visibility" + env.key_suffix
    common.results_save(
        key,
        {
            "at": common.now_iso(),
            "mode": env.mode,
            "scale": env.scale.__dict__,
            "runs": runs,
            "target_x_floor": TARGET_RATIO,
            "results": results,
            "table": rows,
        },
    )
    print(f"results → bench/results.json ({key})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.visibility", description=__doc__)
    parser.add_argument("--small", action="store_true", default=common.small_default())
    return run(small=parser.parse_args(argv).small)


if __name__ == "__main__":
    sys.exit(main())
