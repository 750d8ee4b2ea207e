"""Replays: a gate evaluated at every step of a past range, exactly as the operator would
have evaluated it, from range queries shared by all the steps.

paths.py      the weight path: simulate (as the decisions say) or fixed:N
running.py    replay_gate: fetch once, decide at every point, carry the state
summaries.py  the timeline of changes, time in each health and mode, moves and freezes
"""

from canarygate.replaying.paths import WeightPath, WeightPathError
from canarygate.replaying.running import Progress, Replay, replay_gate
from canarygate.replaying.summaries import Change, Run, Summary, summarize

__all__ = [
    "Change",
    "Progress",
    "Replay",
    "Run",
    "Summary",
    "WeightPath",
    "WeightPathError",
    "replay_gate",
    "summarize",
]
