"""Who asked the verdict API about a gate, and what each was answered: one book per gate, in
memory, that the judge-only gate's status shows (`status.verdict.callers`).

A poll that gets the same answer at the same weight changes nothing in the book's status view
(only when it was last seen, which is not shown), so a thousand polls make no status write;
a new answer, a new weight or a new caller does, at the gate's next evaluation. The view keeps
the `SHOWN` callers seen most recently, ordered by name so that it is stable while the same
callers poll; callers not seen for `FORGET_AFTER_SECONDS` are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from canarygate.api.status import rfc3339
from canarygate.core.judging import Judgement

SHOWN: Final = 10
FORGET_AFTER_SECONDS: Final = 3600.0
KEPT: Final = 1000  # callers remembered per gate, the least recently seen dropped beyond


@dataclass
class CallerEntry:
    via: str
    judgement: Judgement
    weight: int | None
    since: datetime  # when this answer (at this weight) was first given
    seen: float  # monotonic: the last time it was given


class CallerBook:
    def __init__(self) -> None:
        self._entries: dict[str, CallerEntry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def note(
        self,
        caller: str,
        via: str,
        judgement: Judgement,
        weight: int | None,
        *,
        wall: datetime,
        now: float,
    ) -> bool:
        """Record one answer; True when the status view may have changed."""
        entry = self._entries.get(caller)
        if entry is not None and (entry.via, entry.judgement, entry.weight) == (
            via,
            judgement,
            weight,
        ):
            entry.seen = now
            return False
        self._entries[caller] = CallerEntry(via, judgement, weight, wall, now)
        if len(self._entries) > KEPT:
            oldest = min(self._entries, key=lambda name: self._entries[name].seen)
            del self._entries[oldest]
        return True

    def expire(self, now: float) -> None:
        for name in [n for n, e in self._entries.items() if now - e.seen > FORGET_AFTER_SECONDS]:
            del self._entries[name]

    def view(self) -> list[dict[str, Any]]:
        """The status entries: the most recently seen callers, by name."""
        recent = sorted(self._entries.items(), key=lambda item: item[1].seen, reverse=True)
        shown = sorted(recent[:SHOWN], key=lambda item: item[0])
        return [
            {
                "name": name[:512],
                "via": entry.via,
                "verdict": str(entry.judgement),
                "weight": entry.weight,
                "since": rfc3339(entry.since),
            }
            for name, entry in shown
        ]
