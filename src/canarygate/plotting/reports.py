"""Writing a replay's figure: PNG, SVG or PDF as matplotlib writes them, or one self-contained
HTML page holding the figure (inline SVG), the report's text and nothing fetched from
elsewhere."""

from __future__ import annotations

import html
import io
from pathlib import Path

from canarygate.api.v1alpha1 import CanaryGate
from canarygate.core.specs import GateSpec
from canarygate.plotting.drawing import draw
from canarygate.replaying import Replay


def plot_replay(
    gate: CanaryGate, spec: GateSpec, replay: Replay, path: Path, report: str = ""
) -> None:
    first, last = replay.decisions[0].at, replay.decisions[-1].at
    title = (
        f"canarygate replay of {gate.namespace}/{gate.name}: {first:%Y-%m-%d %H:%M} to "
        f"{last:%Y-%m-%d %H:%M} UTC, weight path {replay.path.text}"
    )
    figure = draw(title, spec, replay)
    if path.suffix.lower() != ".html":
        figure.savefig(path, dpi=100, metadata=_metadata(path))
        return
    svg = io.StringIO()
    figure.savefig(svg, format="svg")
    body = svg.getvalue()
    body = body[body.index("<svg") :]  # drop the XML prologue and doctype: inline in HTML
    path.write_text(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:1em}svg{max-width:100%;height:auto}"
        "pre{font-size:12px;overflow-x:auto}</style></head><body>\n"
        f'<h1 style="font-size:1.1em">{html.escape(title)}</h1>\n{body}\n'
        f'<pre id="report">{html.escape(report)}</pre>\n</body></html>\n',
        encoding="utf-8",
    )


def _metadata(path: Path) -> dict[str, str | None]:
    # No creation date or software version in the file: the same replay draws the same bytes.
    if path.suffix.lower() == ".png":
        return {"Software": None}
    if path.suffix.lower() == ".svg":
        return {"Date": None, "Creator": None}
    return {"CreationDate": None, "Creator": None, "Producer": None}
