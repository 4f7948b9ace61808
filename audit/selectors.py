"""Reads of the audit logs: the access log's chain, checked."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Max

from audit.chain import CHAIN_FIELDS, GENESIS, link_hash
from audit.models import AccessEvent, AccessEventSeal

VERIFY_BATCH = 5000


@dataclass(frozen=True)
class ChainCheck:
    """`verified`: sealed events whose link holds; `unsealed`: events written after the last
    seal (the next seal run chains them); `broken_at`: the id of the first event whose link does
    not hold (None: the chain is whole), and why."""

    verified: int
    unsealed: int
    broken_at: int | None = None
    reason: str = ""


def access_log_verify(*, batch: int = VERIFY_BATCH) -> ChainCheck:
    """Recompute the access log's hash chain from the first event and compare each link with
    its seal, in id order (audit/chain.py). The first event that fails is named:

    - its link differs from its seal: the event's content was changed after it was sealed, or
      the event before it was removed (its link was computed from that one), or the seal itself
      was changed;
    - it has no seal, below the last sealed event: it was slipped in after sealing, or its seal
      was removed;
    - a seal names an event that is not there: the event was removed (with the database's
      protections turned off), the seal left behind.
    """
    last_sealed = AccessEventSeal.objects.aggregate(last=Max("event_id"))["last"] or 0
    previous, verified, after = GENESIS, 0, 0
    while True:
        events = list(
            AccessEvent.objects.filter(id__gt=after, id__lte=last_sealed)
            .order_by("id")
            .values_list(*CHAIN_FIELDS)[:batch]
        )
        full = len(events) == batch
        upper = events[-1][0] if full else last_sealed
        seals = dict(
            AccessEventSeal.objects.filter(event_id__gt=after, event_id__lte=upper).values_list(
                "event_id", "hash"
            )
        )
        by_id = {row[0]: row for row in events}
        for event_id in sorted(by_id.keys() | seals.keys()):
            row, sealed = by_id.get(event_id), seals.get(event_id)
            if row is None:
                return _broken(verified, event_id, "the event is gone; its seal remains")
            if sealed is None:
                return _broken(verified, event_id, "no seal, among sealed events")
            previous = link_hash(previous, row)
            if previous != sealed:
                return _broken(
                    verified,
                    event_id,
                    "its link differs from its seal: the event was changed after it was sealed,"
                    " or the event before it removed",
                )
            verified += 1
        if not full:
            break
        after = upper
    unsealed = AccessEvent.objects.filter(id__gt=last_sealed).count()
    return ChainCheck(verified=verified, unsealed=unsealed)


def _broken(verified: int, event_id: int, reason: str) -> ChainCheck:
    return ChainCheck(verified=verified, unsealed=0, broken_at=event_id, reason=reason)
