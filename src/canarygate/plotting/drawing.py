"""One figure for one replay, every panel on the same time axis, so that a person sees at a
glance why the gate did what it did: which burn rate crossed which threshold, when the budget
ran low, which guardrail failed, and what the gate decided then."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator

from canarygate.core.decisions import Decision
from canarygate.core.specs import GateSpec, GuardrailSpec
from canarygate.core.vocabulary import Action, Health
from canarygate.replaying import Replay
from canarygate.replaying.summaries import runs

HEALTH_COLOURS = {
    Health.GREEN: "#4caf50",
    Health.YELLOW: "#ffc107",
    Health.RED: "#e53935",
    Health.UNKNOWN: "#9e9e9e",
}
TIER_COLOURS = {"red": "#e53935", "yellow": "#f9a825"}
MARKERS = {
    Action.ADVANCE: ("^", "#2e7d32"),
    Action.PROMOTE: ("*", "#1565c0"),
    Action.ROLLBACK: ("v", "#c62828"),
}
_PANEL_HEIGHT = 2.3
_NARROWEST = 0.003  # of the time axis: the narrowest a health other than green is drawn
_DAY = 86_400.0  # the time axis counts days since 1970, as matplotlib's dates do


_TICK_STEPS = tuple(m / 1440 for m in (1, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080))


def _ticks(first: float, last: float) -> list[float]:
    """At most ten ticks on round times (a minute, 5 minutes... an hour... a day...)."""
    step = next((s for s in _TICK_STEPS if (last - first) / s <= 10), _TICK_STEPS[-1])
    start = math.ceil(first / step - 1e-9) * step
    return [start + i * step for i in range(int((last - start) / step + 1e-9) + 1)]


def _time_label(days: float, span: float) -> str:
    at = datetime.fromtimestamp(days * _DAY, tz=UTC)
    return f"{at:%m-%d %H:%M}" if span > 1 else f"{at:%H:%M}"


def _value(value: float | None) -> float:
    return math.nan if value is None else value


def draw(title: str, spec: GateSpec, replay: Replay) -> Figure:
    decisions = replay.decisions
    times = [d.at.timestamp() / _DAY for d in decisions]
    guardrails = list(spec.canary.guardrails)
    heights = [1.6, 0.35, *([_PANEL_HEIGHT] * len(spec.journeys)), 1.8, *([1.8] * len(guardrails))]
    figure = Figure(figsize=(12, sum(heights) + 0.8), layout="constrained")
    axes = figure.subplots(len(heights), 1, sharex=True, gridspec_kw={"height_ratios": heights})
    figure.suptitle(title, fontsize=11, x=0.01, horizontalalignment="left")
    _decisions(axes[0], times, decisions, held=replay.path.fixed is not None)
    _health_band(axes[1], times, decisions, replay.grid.step_ms / 1000)
    for index, journey in enumerate(spec.journeys):
        _burn_rates(axes[2 + index], spec, times, decisions, index, journey.name)
    _budgets(axes[2 + len(spec.journeys)], spec, times, decisions)
    for index, guardrail in enumerate(guardrails):
        _guardrail(axes[3 + len(spec.journeys) + index], guardrail, times, decisions, index)
    span = times[-1] - times[0]
    axes[-1].xaxis.set_major_locator(FixedLocator(_ticks(times[0], times[-1])))
    axes[-1].xaxis.set_major_formatter(lambda x, _: _time_label(x, span))
    axes[-1].set_xlabel("UTC")
    for ax in axes:
        ax.grid(True, color="#e0e0e0", linewidth=0.5)
    return figure


def _decisions(
    ax: Axes, times: Sequence[float], decisions: Sequence[Decision], *, held: bool
) -> None:
    """The weight and the moves. With the weight held (`fixed:N`) no move is made: a marker
    says where the gate would have moved the canary, drawn small and labelled so."""
    ax.step(
        times,
        [d.weight_current for d in decisions],
        where="post",
        color="#37474f",
        linewidth=1.4,
        gid="weight",
        label="canary weight",
    )
    for action, (marker, colour) in MARKERS.items():
        moves = [d for d in decisions if d.action is action]
        if moves:
            at = [times[i] for i, d in enumerate(decisions) if d.action is action]
            ax.scatter(
                at,
                [d.weight_next for d in moves],
                marker=marker,
                color=colour,
                s=12 if held else 46,
                zorder=3,
                gid=f"decision-{action}",
                label=f"would {action} (weight held)" if held else str(action),
            )
    failed = [
        i for i, d in enumerate(decisions) if any(g.verdict.value == "fail" for g in d.guardrails)
    ]
    if failed:
        ax.scatter(
            [times[i] for i in failed],
            [decisions[i].weight_current for i in failed],
            marker="x",
            color="#ef6c00",
            s=30,
            zorder=3,
            gid="decision-guardrail-failed",
            label="guardrail failed",
        )
    ax.set_ylim(-5, 108)
    ax.set_ylabel("weight %")
    ax.set_title("decisions", loc="left", fontsize=9)
    ax.legend(loc="upper left", fontsize=7, ncols=5, frameon=False)


def _health_band(
    ax: Axes, times: Sequence[float], decisions: Sequence[Decision], step: float
) -> None:
    span = times[-1] - times[0]
    for run in runs(decisions, lambda d: (d.health, d.mode)):
        first = decisions[run.first]
        start = times[run.first]
        end = times[run.last + 1] if run.last + 1 < len(times) else times[run.last] + step / _DAY
        shown_start, shown_end = start, end
        if first.health is not Health.GREEN and end - start < span * _NARROWEST:
            # Sixteen unknown minutes in a week would be thinner than a pixel: drawn at a
            # visible width (over the green around it), the timeline giving the exact times.
            middle, half = (start + end) / 2, span * _NARROWEST / 2
            shown_start, shown_end = middle - half, middle + half
        ax.axvspan(
            shown_start,
            shown_end,
            color=HEALTH_COLOURS[first.health],
            linewidth=0,
            zorder=1 if first.health is Health.GREEN else 2,
            gid=f"health-{first.health}",
        )
        if span and (end - start) / span > 0.06:  # name the mode where there is room
            ax.text(
                (start + end) / 2,
                0.5,
                str(first.mode),
                fontsize=7,
                color="#212121",
                horizontalalignment="center",
                verticalalignment="center",
            )
    ax.legend(
        handles=[Patch(color=c, label=str(h)) for h, c in HEALTH_COLOURS.items()],
        loc="upper left",
        bbox_to_anchor=(1.0, 1.3),
        fontsize=6,
        frameon=False,
    )
    ax.set_yticks([])
    ax.set_ylabel("health", rotation=0, horizontalalignment="right", verticalalignment="center")
    ax.set_gid("health-band")


def _burn_rates(
    ax: Axes,
    spec: GateSpec,
    times: Sequence[float],
    decisions: Sequence[Decision],
    index: int,
    name: str,
) -> None:
    windows = sorted(
        {
            w
            for tier in (spec.health.red, spec.health.yellow)
            for r in tier.burn_rates
            for w in (r.short, r.long)
        }
    )
    for window in windows:
        values = [_value(d.journeys[index].burn_rate_map().get(window.text)) for d in decisions]
        ax.plot(times, values, linewidth=0.9, gid=f"burn-{name}-{window}", label=str(window))
    for tier_name, tier in (("red", spec.health.red), ("yellow", spec.health.yellow)):
        for rule in tier.burn_rates:
            ax.axhline(
                rule.threshold,
                color=TIER_COLOURS[tier_name],
                linestyle="--",
                linewidth=0.8,
                gid=f"threshold-{tier_name}-{rule.threshold:g}",
            )
            ax.annotate(
                f"{tier_name} {rule.threshold:g} ({rule.long} & {rule.short})",
                (1.0, rule.threshold),
                xycoords=("axes fraction", "data"),
                fontsize=6,
                color=TIER_COLOURS[tier_name],
                horizontalalignment="right",
                verticalalignment="bottom",
            )
    ax.set_yscale("symlog", linthresh=0.1)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("burn rate")
    ax.set_title(f"journey {name}: burn rate per window", loc="left", fontsize=9)
    ax.legend(loc="upper left", fontsize=7, ncols=len(windows), frameon=False)


def _budgets(
    ax: Axes, spec: GateSpec, times: Sequence[float], decisions: Sequence[Decision]
) -> None:
    for index, journey in enumerate(spec.journeys):
        values = [_value(d.journeys[index].budget_remaining) for d in decisions]
        ax.plot(times, values, linewidth=1.0, gid=f"budget-{journey.name}", label=journey.name)
    bounds = (
        ("red", spec.health.red.budget_remaining_at_most),
        ("red", spec.health.red.budget_remaining_below),
        ("yellow", spec.health.yellow.budget_remaining_at_most),
        ("yellow", spec.health.yellow.budget_remaining_below),
    )
    for tier, bound in bounds:
        if bound is not None:
            ax.axhline(
                bound,
                color=TIER_COLOURS[tier],
                linestyle="--",
                linewidth=0.8,
                gid=f"budget-bound-{tier}-{bound:g}",
            )
    ax.yaxis.set_major_formatter(lambda value, _: f"{value:.0%}")
    ax.set_ylabel("budget left")
    ax.set_title("remaining error budget (compliance window)", loc="left", fontsize=9)
    ax.legend(loc="lower left", fontsize=7, ncols=len(spec.journeys), frameon=False)


def _guardrail(
    ax: Axes,
    spec: GuardrailSpec,
    times: Sequence[float],
    decisions: Sequence[Decision],
    index: int,
) -> None:
    canary = [_value(d.guardrails[index].canary) for d in decisions]
    ax.plot(
        times,
        canary,
        linewidth=0.9,
        color="#6a1b9a",
        gid=f"guardrail-{spec.name}-canary",
        label="canary",
    )
    if spec.baseline is not None:
        baseline = [_value(d.guardrails[index].baseline) for d in decisions]
        ax.plot(
            times,
            baseline,
            linewidth=0.9,
            color="#00838f",
            gid=f"guardrail-{spec.name}-baseline",
            label="baseline",
        )
        if spec.max_increase is not None:
            limit = [b + spec.max_increase for b in baseline]
            ax.plot(
                times,
                limit,
                linewidth=0.8,
                linestyle=":",
                color="#e53935",
                gid=f"guardrail-{spec.name}-limit",
                label="baseline + maxIncrease",
            )
    if spec.max is not None:
        ax.axhline(
            spec.max,
            color="#e53935",
            linestyle="--",
            linewidth=0.8,
            gid=f"guardrail-{spec.name}-max",
            label="max",
        )
    ax.set_ylabel(spec.name)
    ax.set_title(
        f"guardrail {spec.name} ({spec.severity}, failureLimit {spec.failure_limit})",
        loc="left",
        fontsize=9,
    )
    ax.legend(loc="upper left", fontsize=7, ncols=4, frameon=False)
