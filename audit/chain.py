"""The access log's hash chain: what one link hashes, written once for the seal task
(audit.services.access_events_seal) and the check (audit.selectors.access_log_verify).

Link n = SHA-256(link n-1 as hex, then the canonical text of event n), in event id order; the
first event chains from `GENESIS`. The canonical text is the JSON array of every column of the
event (`CHAIN_FIELDS`, the id first) as read back from the database: times in UTC with
microseconds, an address as text. Changing any column of any sealed event, removing one, or
slipping one in between sealed ones changes a link that a seal holds (decision 0017).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

GENESIS = "0" * 64

# Every column an event is written with (audit.services writes them in this order), then the
# chain's fields: the id first, then the same columns.
EVENT_COLUMNS = (
    "at",
    "user_id",
    "agency_id",
    "family_id",
    "action",
    "object_type",
    "object_id",
    "footing",
    "basis_id",
    "outcome",
    "method",
    "path",
    "status_code",
    "emergency",
    "request_id",
    "client_ip",
)
CHAIN_FIELDS = ("id", *EVENT_COLUMNS)


def _canonical(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)  # an address type, should a driver give one


def link_hash(previous: str, row) -> str:
    """The link of the event whose CHAIN_FIELDS values are `row`, after the link `previous`."""
    text = json.dumps([_canonical(v) for v in row], separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256((previous + text).encode("ascii")).hexdigest()
