"""Probabilistic record linkage of indicator rows with splink (Fellegi-Sunter, DuckDB engine),
then households and candidates. Knows nothing of Django: it takes columns of records and gives
back the model, the person clusters, the links and why (match weight per field), so the same
code runs in a matching run (identification.services), its tests and the bench.

The model (decision 0027): one row per record (an agency's indicator row, or a person already
on the case record); compared on given name (exact, a familiar form, one edit, similar), family
name, date of birth (exact, day and month swapped, one edit), address (same house, same
postcode, same postcode sector) and the identifiers agencies hold (NHS number, UPN, NI number);
pairs are those sharing a date of birth, an identifier, or names with an address or birth
year. Its parameters are estimated from the data alone (no labels): the chance two records
match from exact name and date of birth agreements, u by random sampling, m by expectation
maximisation in two sessions (blocked on date of birth, then on names).
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

import duckdb
import pyarrow as pa
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
from splink import comparison_level_library as cll
from splink import comparison_library as cl

from identification.names import given_forms, name_clean

logger = logging.getLogger(__name__)

# The columns a record gives (records_table), in this order.
RECORD_FIELDS = (
    "unique_id",
    "source",
    "given_name",
    "family_name",
    "date_of_birth",
    "postcode",
    "address",
    "nhs_number",
    "upn",
    "ni_number",
)
# The comparisons, by output name: what a page calls each.
FIELD_LABELS = {
    "given_name": "Given name",
    "family_name": "Family name",
    "dob": "Date of birth",
    "address": "Address",
    "nhs_number": "NHS number",
    "upn": "Unique pupil number",
    "ni_number": "National Insurance number",
}
SEED = 20261129  # random sampling of u: the same data gives the same model

_POSTCODE = re.compile(r"[^A-Z0-9]")
_HOUSE = re.compile(r"\d+[A-Za-z]?")


def postcode_clean(postcode: str | None) -> str:
    return _POSTCODE.sub("", (postcode or "").upper())


def address_key(postcode: str | None, address: str | None) -> str:
    """One dwelling: the postcode and the first house number of the address ("" when either
    is missing: such a record joins no household by its address)."""
    code = postcode_clean(postcode)
    number = _HOUSE.search(address or "")
    return f"{code}:{number.group(0).upper()}" if code and number else ""


def _identifier(value: str | None) -> str | None:
    cleaned = re.sub(r"[^A-Z0-9]", "", (value or "").upper())
    return cleaned or None


def records_table(records: Iterable[Sequence]) -> pa.Table:
    """The records (tuples in RECORD_FIELDS' order; dates as date or ISO text, blanks as "" or
    None) cleaned for comparison, as an Arrow table."""
    columns: dict[str, list] = {
        name: []
        for name in (
            "unique_id", "source", "given", "given_forms", "family", "dob", "postcode",
            "sector", "address_key", "nhs_number", "upn", "ni_number",
        )
    }  # fmt: skip
    for uid, source, given, family, dob, postcode, address, nhs, upn, ni in records:
        given = name_clean(given)
        code = postcode_clean(postcode)
        if isinstance(dob, date):
            dob = dob.isoformat()
        columns["unique_id"].append(int(uid))
        columns["source"].append(str(source))
        columns["given"].append(given or None)
        columns["given_forms"].append(given_forms(given) or None)
        columns["family"].append(name_clean(family) or None)
        columns["dob"].append(dob or None)
        columns["postcode"].append(code or None)
        columns["sector"].append(code[:-2] if len(code) > 4 else None)
        columns["address_key"].append(address_key(postcode, address) or None)
        columns["nhs_number"].append(_identifier(nhs))
        columns["upn"].append(_identifier(upn))
        columns["ni_number"].append(_identifier(ni))
    return pa.table(
        columns,
        schema=pa.schema(
            [
                ("unique_id", pa.int64()),
                ("source", pa.string()),
                ("given", pa.string()),
                ("given_forms", pa.list_(pa.string())),
                ("family", pa.string()),
                ("dob", pa.string()),
                ("postcode", pa.string()),
                ("sector", pa.string()),
                ("address_key", pa.string()),
                ("nhs_number", pa.string()),
                ("upn", pa.string()),
                ("ni_number", pa.string()),
            ]
        ),
    )


def model_settings() -> SettingsCreator:
    """The comparisons and blocking rules (the same on DuckDB and on Spark)."""
    swapped = (
        "substr(dob_l, 1, 4) = substr(dob_r, 1, 4)"
        " AND substr(dob_l, 6, 2) = substr(dob_r, 9, 2)"
        " AND substr(dob_l, 9, 2) = substr(dob_r, 6, 2)"
    )
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        probability_two_random_records_match=1e-4,
        comparisons=[
            cl.CustomComparison(
                output_column_name="given_name",
                comparison_levels=[
                    cll.NullLevel("given"),
                    cll.ExactMatchLevel("given"),
                    cll.ArrayIntersectLevel("given_forms", 1).configure(
                        label_for_charts="a familiar form"
                    ),
                    cll.DamerauLevenshteinLevel("given", 1),
                    cll.JaroWinklerLevel("given", 0.88),
                    cll.ElseLevel(),
                ],
            ),
            cl.CustomComparison(
                output_column_name="family_name",
                comparison_levels=[
                    cll.NullLevel("family"),
                    cll.ExactMatchLevel("family", term_frequency_adjustments=True),
                    cll.DamerauLevenshteinLevel("family", 1),
                    cll.JaroWinklerLevel("family", 0.88),
                    cll.ElseLevel(),
                ],
            ),
            cl.CustomComparison(
                output_column_name="dob",
                comparison_levels=[
                    cll.NullLevel("dob"),
                    cll.ExactMatchLevel("dob"),
                    cll.CustomLevel(swapped, "day and month swapped", base_dialect_str="duckdb"),
                    cll.DamerauLevenshteinLevel("dob", 1),
                    cll.ElseLevel(),
                ],
            ),
            cl.CustomComparison(
                output_column_name="address",
                comparison_levels=[
                    cll.NullLevel("postcode"),
                    cll.ExactMatchLevel("address_key"),
                    cll.ExactMatchLevel("postcode"),
                    cll.ExactMatchLevel("sector"),
                    cll.ElseLevel(),
                ],
            ),
            cl.ExactMatch("nhs_number"),
            cl.ExactMatch("upn"),
            cl.ExactMatch("ni_number"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("dob"),
            block_on("nhs_number"),
            block_on("upn"),
            block_on("ni_number"),
            block_on("family", "given"),
            block_on("family", "postcode"),
            block_on("given", "postcode"),
            block_on("family", "substr(dob, 1, 4)"),
        ],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=True,
    )


COMPARISONS = tuple(FIELD_LABELS)


@dataclass
class Linkage:
    """What one linkage found: the model as splink saves it (settings and estimated
    parameters), each record's person cluster (its smallest linked id), and each link at or
    above the threshold with its match weight and each field's weight."""

    model: dict
    threshold: float
    cluster_of: dict[int, int]
    links: pa.Table  # _links: one row per link, read for a candidate with links_among

    @property
    def link_count(self) -> int:
        return self.links.num_rows


def person_links(
    table: pa.Table,
    *,
    threshold: float,
    progress: Callable[[float], None] = lambda fraction: None,
    memory_limit: str = "3GB",
    threads: int = 2,
    u_pairs: float = 2e6,
    em_pairs: float | None = 2e6,
) -> Linkage:
    """Link the records of `table` (records_table) into persons: train the model on them,
    score the blocked pairs, and cluster those at or above `threshold` (a match probability).
    `progress` is told the fraction done after each stage."""
    con = duckdb.connect(":memory:")
    # What does not fit in `memory_limit` spills to a folder of this run's, removed after it
    # (DuckDB's default is .tmp in the working directory).
    spill = tempfile.mkdtemp(prefix="matching-")
    con.execute(f"SET temp_directory = '{spill}'")
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute(f"SET threads = {int(threads)}")
    con.execute("SET preserve_insertion_order = false")
    try:
        db_api = DuckDBAPI(connection=con)
        records = db_api.register(table, table_name="records")
        linker = Linker(records, model_settings(), log_level=logging.WARNING)
        linker.training.estimate_probability_two_random_records_match(
            [block_on("given", "family", "dob"), block_on("nhs_number"), block_on("upn")],
            recall=0.7,
        )
        progress(0.1)
        linker.training.estimate_u_using_random_sampling(max_pairs=u_pairs, seed=SEED)
        progress(0.25)
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("dob"), max_pairs=em_pairs
        )
        progress(0.4)
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on("family", "given"), max_pairs=em_pairs
        )
        progress(0.5)
        model = linker.misc.save_model_to_json()
        scored = linker.inference.predict(threshold_match_probability=threshold)
        progress(0.8)
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
            scored, threshold_match_probability=threshold
        )
        cluster_of = dict(
            con.sql(f"SELECT unique_id, cluster_id FROM {clusters.physical_name}").fetchall()
        )
        # splink names a cluster by one of its ids; ours is the smallest, whatever the engine.
        smallest: dict = {}
        for uid, cluster in cluster_of.items():
            smallest[cluster] = min(uid, smallest.get(cluster, uid))
        cluster_of = {uid: smallest[cluster] for uid, cluster in cluster_of.items()}
        links = _links(con, scored.physical_name)
        progress(0.9)
        return Linkage(
            model=model,
            threshold=threshold,
            cluster_of=cluster_of,
            links=links,
        )
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


def _links(con, table: str) -> pa.Table:
    """The scored pairs as an Arrow table: ids, match weight and probability, and each
    field's weight (`w_<comparison>`; the family name's with its term-frequency adjustment: a
    rare surname says more). A field missing on either side weighs 0."""
    weights = ", ".join(
        f"mw_family_name + mw_tf_adj_family_name AS w_{name}"
        if name == "family_name"
        else f"mw_{name} AS w_{name}"
        for name in COMPARISONS
    )
    return con.sql(
        f"SELECT unique_id_l AS uid_l, unique_id_r AS uid_r, match_weight, match_probability,"
        f" {weights} FROM {table}"
    ).to_arrow_table()


def links_among(links: pa.Table, uids) -> list[dict]:
    """The links between records of `uids` (one candidate's), as dicts: uid_l, uid_r,
    match_weight, match_probability, fields {comparison: weight}."""
    import pyarrow.compute as pc

    wanted = pa.array(sorted(uids), type=pa.int64())
    mask = pc.and_(pc.is_in(links["uid_l"], value_set=wanted), pc.is_in(links["uid_r"], wanted))
    return [
        {
            "uid_l": row["uid_l"],
            "uid_r": row["uid_r"],
            "match_weight": round(float(row["match_weight"]), 2),
            "match_probability": float(row["match_probability"]),
            "fields": {name: round(float(row[f"w_{name}"]), 2) for name in COMPARISONS},
        }
        for row in links.filter(mask).to_pylist()
    ]


# --- households and candidates -------------------------------------------------------------


class _Union:
    def __init__(self):
        self.parent: dict = {}

    def find(self, x):
        parent = self.parent
        parent.setdefault(x, x)
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def union(self, a, b) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            if str(ra) < str(rb):
                self.parent[rb] = ra
            else:
                self.parent[ra] = rb


def households_form(table: pa.Table, cluster_of: dict[int, int]) -> dict[int, str]:
    """Each record's household: persons (clusters) joined by the dwellings their records name
    (a person seen at two addresses joins both). A household is named by its smallest person
    cluster id ("H<id>")."""
    uids = table.column("unique_id").to_pylist()
    keys = table.column("address_key").to_pylist()
    union = _Union()
    for uid, key in zip(uids, keys, strict=True):
        person = ("p", cluster_of.get(uid, uid))
        union.find(person)
        if key:
            union.union(person, ("a", key))
    smallest: dict = {}
    for uid in uids:
        root = union.find(("p", cluster_of.get(uid, uid)))
        smallest[root] = min(cluster_of.get(uid, uid), smallest.get(root, cluster_of.get(uid, uid)))
    return {uid: f"H{smallest[union.find(('p', cluster_of.get(uid, uid)))]}" for uid in uids}


@dataclass
class Candidate:
    household: str
    record_ids: list[int]
    outcomes: list[str]
    score: float
    rank: int = 0


def candidates_find(
    *,
    household_of: dict[int, str],
    indicator_of: dict[int, str],
    outcome_of: dict[str, str],
    min_outcomes: int,
) -> list[Candidate]:
    """Households whose indicator records cover at least `min_outcomes` headline outcomes,
    ranked: more outcomes first, then more indicators. `indicator_of` maps a record to its
    indicator code (records without one, e.g. the case record's people, count for none)."""
    members: dict[str, list[int]] = {}
    for uid, household in household_of.items():
        members.setdefault(household, []).append(uid)
    found = []
    for household, uids in members.items():
        codes = {indicator_of[uid] for uid in uids if indicator_of.get(uid)}
        outcomes = sorted({outcome_of[code] for code in codes if code in outcome_of})
        if len(outcomes) >= min_outcomes:
            score = len(outcomes) + len(codes) / 100
            found.append(Candidate(household, sorted(uids), outcomes, round(score, 2)))
    found.sort(key=lambda c: (-c.score, c.household))
    for rank, candidate in enumerate(found, start=1):
        candidate.rank = rank
    return found


def exact_clusters(table: pa.Table) -> dict[int, int]:
    """The exact-match baseline: records with the same cleaned given and family name, date of
    birth and postcode are one person (a record missing any of them is alone)."""
    first: dict[tuple, int] = {}
    cluster_of = {}
    columns = [table.column(c).to_pylist() for c in ("unique_id", "given", "family", "dob")]
    postcodes = table.column("postcode").to_pylist()
    for uid, given, family, dob, code in zip(*columns, postcodes, strict=True):
        key = (given, family, dob, code)
        if None in key:
            cluster_of[uid] = uid
            continue
        cluster_of[uid] = first.setdefault(key, uid)
    return cluster_of
