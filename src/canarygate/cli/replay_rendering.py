"""A replay as a terminal table (the timeline of changes, then a summary) or as JSON for
scripts. Text from a spec or from Prometheus goes through `printable` in the table; JSON
escapes it by itself. Keys of the JSON document may be added, never removed.
"""

from __future__ import annotations

from typing import Any

from canarygate.api.v1alpha1 import CanaryGate
from canarygate.cli.sanitising import printable
from canarygate.core.decisions import Decision
from canarygate.core.durations import Duration
from canarygate.core.explaining import describe_freshness
from canarygate.core.vocabulary import Action, Health
from canarygate.replaying import Change, Replay, Run, Summary, summarize
from canarygate.replaying.summaries import MOVES, passing

HEALTH_ORDER = ("green", "yellow", "red", "unknown")
MOVES_LISTED = 20


def when(decision: Decision) -> str:
    return decision.at.isoformat().replace("+00:00", "Z")


def span(seconds: float) -> str:
    """`6d 20h 3m`, `45m`, `30s`."""
    whole = round(seconds)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = (
        [f"{days}d"] * bool(days) + [f"{hours}h"] * bool(hours) + [f"{minutes}m"] * bool(minutes)
    )
    if secs or not parts:
        parts.append(f"{secs}s")
    return " ".join(parts)


def _weights(decision: Decision) -> str:
    if decision.weight_next == decision.weight_current:
        return f"{decision.weight_current}%"
    return f"{decision.weight_current}% -> {decision.weight_next}%"


def _reason(decision: Decision) -> str:
    return decision.reasons[0].message if decision.reasons else ""


def _summary(replay: Replay, step: Duration) -> Summary:
    return summarize(replay.decisions, step.seconds, held=replay.path.fixed is not None)


def replay_table(gate: CanaryGate, step: Duration, replay: Replay) -> str:
    summary = _summary(replay, step)
    decisions = replay.decisions
    lines = [
        f"Replay of {gate.namespace}/{gate.name} from {when(decisions[0])} to "
        f"{when(decisions[-1])}, every {step} ({summary.points:,} evaluations), weight path "
        f"{replay.path.text}",
        "",
    ]
    held = replay.path.fixed is not None
    rows = [
        [
            when(change.decision),
            span((change.run.points) * step.seconds),
            *_action_and_reason(replay, change, held),
            str(change.decision.health),
            str(change.decision.mode),
        ]
        for change in summary.changes
    ]
    rows = [[*row[:4], row[5], row[6], row[4]] for row in rows]
    lines += _table(["TIME", "FOR", "ACTION", "WEIGHT", "HEALTH", "MODE", "REASON"], rows)
    lines += ["", *_summary_lines(summary, replay)]
    return "\n".join(printable(line) for line in lines)


def _action_and_reason(replay: Replay, change: Change, held: bool) -> tuple[str, str, str]:
    """ACTION, WEIGHT and REASON of a timeline row; with the weight held, a run of passing
    evaluations reads `passing` with how often it would have moved."""
    decision = change.decision
    if held and passing(decision):
        run = replay.decisions[change.run.first : change.run.last + 1]
        moves = sum(1 for d in run if d.action in MOVES)
        target = next((d.weight_next for d in run if d.action in MOVES), None)
        would = f"; would move to {target}% {moves:,} time(s)" if target is not None else ""
        return "passing", f"{decision.weight_current}%", f"evaluations pass{would}"
    return str(decision.action), _weights(decision), _reason(decision)


def _summary_lines(summary: Summary, replay: Replay) -> list[str]:
    total = summary.points * summary.step_seconds
    health = ", ".join(
        f"{name} {span(seconds)} ({seconds / total:.1%})"
        for name in HEALTH_ORDER
        if (seconds := summary.seconds_in_health.get(name, 0.0))
    )
    modes = ", ".join(
        f"{name} {span(seconds)}"
        for name, seconds in sorted(summary.seconds_in_mode.items(), key=lambda kv: -kv[1])
    )
    lines = ["Summary:", f"  health:   {health}", f"  modes:    {modes}"]
    actions = ", ".join(f"{name} {count:,}" for name, count in sorted(summary.actions.items()))
    if replay.path.fixed is not None:
        actions += f" (decided; the weight stayed at {replay.path.fixed}%)"
    lines.append(f"  actions:  {actions}")
    listed = [m for m in summary.moves if replay.path.fixed is None or m.action is Action.ROLLBACK]
    for move in listed[:MOVES_LISTED]:
        lines.append(f"  {move.action:<9} {when(move)}  {_weights(move)}  {_reason(move)}")
    if len(listed) > MOVES_LISTED:
        lines.append(f"  ... and {len(listed) - MOVES_LISTED:,} more moves (see -o json)")
    for run in summary.frozen:
        lines.append(f"  frozen    {_period(replay, run)}  ({_frozen_because(replay, run)})")
    if summary.stale_points:
        stale = span(summary.stale_points * summary.step_seconds)
        lines.append(f"  stale:    some journey's data was stale for {stale}")
    final = replay.decisions[-1]
    lines.append(
        f"  end:      {final.state.phase} at {final.state.weight}% "
        f"(last decision: {final.action} {_weights(final)})"
    )
    fetch = replay.fetch
    lines.append(
        f"  fetched:  {fetch.requests:,} range requests for {replay.queries} queries x "
        f"{summary.points:,} points in {replay.fetch_seconds:.2f} s; decided in "
        f"{replay.decide_seconds:.2f} s"
    )
    return lines


def _period(replay: Replay, run: Run) -> str:
    first, last = replay.decisions[run.first], replay.decisions[run.last]
    seconds = run.points * replay.grid.step_ms / 1000
    return f"{when(first)} .. {when(last)} ({span(seconds)})"


def _frozen_because(replay: Replay, run: Run) -> str:
    """What turned the gate red when it froze: the first red journey's finding, or its worst
    red segment when the journey is red only in a segment."""
    first = replay.decisions[run.first]
    for journey in first.journeys:
        if journey.health is not Health.RED:
            continue
        if journey.overall is not Health.RED and journey.segments:
            segment = journey.segments[0]
            return (
                f"journey {journey.name} red in {segment.name}: {segment.summary}, "
                f"{journey.overall} overall"
            )
        if journey.findings:
            return f"journey {journey.name}: {journey.findings[0]}"
    return "customer health red"


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    rows = [[printable(cell) for cell in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    widths[-1] = 0  # the reason runs on
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return out


def replay_document(gate: CanaryGate, step: Duration, replay: Replay) -> dict[str, Any]:
    summary = _summary(replay, step)
    decisions = replay.decisions
    final = decisions[-1]
    return {
        "gate": f"{gate.namespace}/{gate.name}",
        "from": when(decisions[0]),
        "to": when(decisions[-1]),
        "step": step.text,
        "weightPath": replay.path.text,
        "evaluations": summary.points,
        "timeline": [
            {
                "at": when(change.decision),
                "until": when(decisions[change.run.last]),
                "evaluations": change.run.points,
                **_decision(change.decision),
            }
            for change in summary.changes
        ],
        "summary": {
            "healthSeconds": summary.seconds_in_health,
            "modeSeconds": summary.seconds_in_mode,
            "actions": summary.actions,
            "moves": [
                {
                    "at": when(move),
                    "action": str(move.action),
                    "weight": {"current": move.weight_current, "next": move.weight_next},
                    "reason": _reason(move),
                }
                for move in summary.moves
            ],
            "frozen": [
                {
                    "from": when(decisions[run.first]),
                    "to": when(decisions[run.last]),
                    "seconds": run.points * step.seconds,
                }
                for run in summary.frozen
            ],
            "staleEvaluations": summary.stale_points,
            "end": {"phase": str(final.state.phase), "weight": final.state.weight},
        },
        "fetch": {
            "rangeRequests": replay.fetch.requests,
            "planned": replay.fetch.requests_planned,
            "refusedChunks": replay.fetch.refused_chunks,
            "unavailableChunks": replay.fetch.unavailable_chunks,
            "failures": replay.fetch.failures,
            "queries": replay.queries,
            "fetchSeconds": round(replay.fetch_seconds, 3),
            "decideSeconds": round(replay.decide_seconds, 3),
        },
    }


def _decision(decision: Decision) -> dict[str, Any]:
    return {
        "action": str(decision.action),
        "weight": {"current": decision.weight_current, "next": decision.weight_next},
        "health": str(decision.health),
        "risk": str(decision.risk.risk),
        "mode": str(decision.mode),
        "reasons": [r.message for r in decision.reasons],
        "reasonCodes": [str(r.code) for r in decision.reasons],
        "freshness": {f.journey: describe_freshness(f) for f in decision.freshness if f.measured},
    }
