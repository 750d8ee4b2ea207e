"""`canarygate check NAMESPACE/NAME [--wait]`: a pipeline step gated on a live CanaryGate.

It reads the gate (and with `--wait` follows it through a watch of that one gate) until the
watched revision is promoted, rolled back or found invalid, or `--timeout` runs out, and exits
with a code a pipeline can branch on (see `readings.EXIT_CODES`):

    0 promoted   1 rolled back   2 invalid (or bad arguments, or no such gate)
    3 not finished (in progress without --wait; timed out with --wait)   4 error

While it waits it shows the weight, health and last reason: one line rewritten in place on a
terminal, a plain line per change elsewhere (CI logs), all on stderr; the result goes to
stdout (one line, or a JSON document with `-o json`).

API failures while waiting (a restarting API server, a dropped watch) are retried with
backoff until the timeout; a refusal (401/403) or a deleted gate ends the wait at once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Final, TextIO

from canarygate.cli.arguments import UsageError
from canarygate.cli.readings import EXIT_CODES, Outcome, Reading, document, read_gate, spec_revision
from canarygate.cli.sanitising import printable
from canarygate.core.durations import Duration, parse_duration
from canarygate.core.errors import SpecError
from canarygate.kube import Backoff, Forbidden, KubeApi, KubeError, NotFound, connect

DEFAULT_TIMEOUT: Final = "30m"
SHORTEST, LONGEST = Duration(1_000), Duration(7 * 86_400_000)
# A watch is reopened at least this often (the server ends it), with a fresh read of the gate.
WATCH_SECONDS: Final = 300
# A plain progress line is repeated after this long without a change, so a CI log shows life.
QUIET_SECONDS: Final = 120.0
RETRY_BACKOFF: Final = Backoff(base=1.0, cap=15.0)
PROGRESS_MODES = ("auto", "tty", "plain", "none")


def add_check_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "check",
        help="follow a live CanaryGate until its revision is promoted or rolled back "
        "(for pipelines)",
        description="Report a live gate's rollout; with --wait, follow it until it ends. "
        "Exit 0 promoted, 1 rolled back, 2 invalid (or bad arguments, or no such gate), "
        "3 not finished (in progress, or --timeout ran out), 4 error (the API, a deleted "
        "gate, a newer revision).",
    )
    parser.add_argument("gate", metavar="NAMESPACE/NAME")
    parser.add_argument(
        "--wait", action="store_true", help="follow the gate until the rollout ends or times out"
    )
    parser.add_argument(
        "--timeout",
        default=DEFAULT_TIMEOUT,
        metavar="DURATION",
        help=f"how long --wait waits, {SHORTEST}..{LONGEST} (default {DEFAULT_TIMEOUT})",
    )
    parser.add_argument(
        "--revision",
        help="the revision to wait for (default: the gate's spec.canary.revision when first "
        "read); a previous revision's outcome never counts",
    )
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text")
    parser.add_argument(
        "--progress",
        choices=PROGRESS_MODES,
        default="auto",
        help="progress on stderr: a line rewritten in place (tty), a line per change "
        "(plain), or none; auto is tty on a terminal, plain elsewhere and in CI",
    )
    parser.add_argument("--kubeconfig", metavar="PATH")


def parse_wait_timeout(text: str) -> Duration:
    try:
        duration = parse_duration(text, field="--timeout")
    except SpecError as error:
        raise UsageError(f"--timeout: {error.message}") from None
    if not SHORTEST <= duration <= LONGEST:
        raise UsageError(f"--timeout: must be between {SHORTEST} and {LONGEST}, got {text}")
    return duration


def split_gate(text: str) -> tuple[str, str]:
    namespace, slash, name = text.partition("/")
    if not slash or not namespace or not name or "/" in name:
        raise UsageError(f"{printable(text)!r}: name the gate as NAMESPACE/NAME")
    return namespace, name


# -- progress -----------------------------------------------------------------------------


def _elapsed(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class Progress:
    """What the wait shows on `stream`: `tty` rewrites one line in place (cut to the terminal's
    width, so it never wraps), `plain` prints a timestamped line per change, `none` nothing."""

    def __init__(
        self,
        stream: TextIO,
        mode: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        width: Callable[[], int] = lambda: shutil.get_terminal_size().columns,
    ) -> None:
        self.stream = stream
        self.mode = mode
        self._clock = clock
        self._wall = wall
        self._width = width
        self._started = clock()
        self._last: Reading | None = None
        self._problem: str | None = None
        self._printed_at = self._started
        self._shown: tuple[object, ...] | None = None
        self._drawn = False

    @staticmethod
    def choose(mode: str, stream: TextIO) -> str:
        if mode != "auto":
            return mode
        in_ci = bool(os.environ.get("CI"))
        terminal = stream.isatty() and os.environ.get("TERM") != "dumb"
        return "tty" if terminal and not in_ci else "plain"

    def elapsed(self) -> float:
        return self._clock() - self._started

    def update(self, reading: Reading) -> None:
        self._last = reading
        self._problem = None
        self._show()

    def problem(self, text: str) -> None:
        self._problem = printable(text)
        self._show()

    def tick(self) -> None:
        """Once a second while waiting: the tty line's clock, a plain line after long quiet."""
        if self.mode == "tty":
            self._draw()
        elif self.mode == "plain" and self._clock() - self._printed_at >= QUIET_SECONDS:
            self._line(f"still waiting ({_elapsed(self.elapsed())}): {self._text()}")

    def close(self) -> None:
        if self.mode == "tty" and self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def _text(self) -> str:
        if self._last is None:
            return f"{self._problem}; retrying" if self._problem else "reading the gate"
        text = f"{self._last.label()}: {self._last.summary()}"
        return f"{text} [{self._problem}; retrying]" if self._problem else text

    def _show(self) -> None:
        if self.mode == "tty":
            self._draw()
        elif self.mode == "plain":
            shown = (self._last.significant() if self._last else None, self._problem)
            if shown != self._shown:
                self._shown = shown
                self._line(self._text())

    def _line(self, text: str) -> None:
        self._printed_at = self._clock()
        self.stream.write(f"{self._wall():%H:%M:%S}  {text}\n")
        self.stream.flush()

    def _draw(self) -> None:
        # Cut the text, never the clock: a line wider than the terminal would wrap, and a
        # wrapped line cannot be rewritten in place.
        clock = f" ({_elapsed(self.elapsed())})"
        text = self._text()
        room = max(self._width() - 1 - len(clock), 20)
        if len(text) > room:
            text = text[: room - 3] + "..."
        line = text + clock
        self.stream.write(f"\r\x1b[K{line}")
        self.stream.flush()
        self._drawn = True


# -- following the gate ---------------------------------------------------------------------


class GateGone(Exception):
    """The gate was deleted while it was followed."""


class Superseded(Exception):
    """The gate moved on to another revision before the watched one finished."""


class Follower:
    """Reads versions of one gate for one revision, reports each, and says when it ended."""

    def __init__(self, revision: str | None, *, given: bool, report: Callable[[Reading], None]):
        self.revision = revision
        self._fixed = given  # --revision given; else taken from the first read
        self._seen = False  # the spec has named the watched revision at least once
        self._report = report
        self.last: Reading | None = None

    def observe(self, body: dict[str, Any]) -> Reading:
        in_spec = spec_revision(body)
        if not self._fixed:
            self.revision, self._fixed = in_spec, True
        if in_spec == self.revision:
            self._seen = True
        elif self._seen:
            raise Superseded(
                f"the gate moved on to revision {in_spec or '(none)'} before revision "
                f"{self.revision or '(none)'} finished"
            )
        reading = read_gate(body, self.revision)
        self.last = reading
        self._report(reading)
        return reading


async def follow(
    api: KubeApi,
    namespace: str,
    name: str,
    follower: Follower,
    *,
    wait: bool,
    on_problem: Callable[[str], None],
    backoff: Backoff = RETRY_BACKOFF,
    pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Reading:
    """Read the gate; with `wait`, follow it until its reading is final. Returns the last
    reading. Raises UsageError (no such gate), Forbidden, GateGone, Superseded, or KubeError
    (without `wait`; with it, failures are retried until the caller's deadline)."""
    failures = 0  # API failures in a row
    idle = 0  # watches in a row that ended without a change of the gate
    while True:
        try:
            body = await api.get_gate(namespace, name)
            failures = 0
            reading = follower.observe(body)
            if reading.final or not wait:
                return reading
            # From now, not from the gate's own resourceVersion: that one is as old as the
            # gate's last change, and etcd may have compacted it away (410 Gone).
            async with api.watch_gate(
                namespace, name, resource_version=None, timeout_seconds=WATCH_SECONDS
            ) as events:
                async for event in events:
                    kind, obj = event.get("type"), event.get("object") or {}
                    if kind == "DELETED":
                        raise GateGone(f"CanaryGate {namespace}/{name} was deleted")
                    if kind == "ERROR":
                        break  # the server refused to go on: read afresh, watch again
                    if kind not in ("ADDED", "MODIFIED"):
                        continue  # BOOKMARK
                    changed = obj.get("metadata", {}).get("resourceVersion") != (
                        body.get("metadata", {}).get("resourceVersion")
                    )
                    if changed:
                        idle = 0
                    reading = follower.observe(obj)
                    if reading.final:
                        return reading
            # The server ended the watch (its timeout) or refused it: read, then watch again,
            # after a pause that grows while watches keep ending without news.
            idle += 1
            await pause(backoff.delay(idle))
        except NotFound:
            if follower.last is None:
                raise UsageError(f"CanaryGate {namespace}/{name} not found") from None
            raise GateGone(f"CanaryGate {namespace}/{name} was deleted") from None
        except Forbidden:
            raise
        except KubeError as error:
            if not wait:
                raise
            failures += 1
            on_problem(str(error))
            await pause(backoff.delay(failures))


async def _check(args: argparse.Namespace, progress: Progress) -> tuple[Outcome, Reading | None]:
    namespace, name = split_gate(args.gate)
    timeout = parse_wait_timeout(args.timeout)
    failing: list[str] = []  # the API failures since the last reading of the gate

    def on_reading(reading: Reading) -> None:
        failing.clear()
        progress.update(reading)

    def on_problem(text: str) -> None:
        failing.append(text)
        progress.problem(text)

    async def ticking() -> None:
        while True:
            await asyncio.sleep(1.0)
            progress.tick()

    follower = Follower(args.revision, given=args.revision is not None, report=on_reading)
    async with connect(args.kubeconfig) as api:
        ticker = asyncio.create_task(ticking()) if args.wait else None
        try:
            async with asyncio.timeout(timeout.seconds if args.wait else None):
                reading = await follow(
                    api, namespace, name, follower, wait=args.wait, on_problem=on_problem
                )
        except TimeoutError:
            # Out of time while the API was failing: what the gate did is not known.
            if follower.last is None or failing:
                last = failing[-1] if failing else "no answer"
                raise KubeError(
                    f"could not follow CanaryGate {namespace}/{name} within {timeout}: {last}"
                ) from None
            return Outcome.TIMED_OUT, follower.last
        finally:
            if ticker is not None:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker
    return reading.outcome, reading


def _result_line(outcome: Outcome, reading: Reading | None, timeout: str) -> str:
    if reading is None:
        return str(outcome)
    head = reading.label()
    if outcome is Outcome.TIMED_OUT:
        return f"{head}: timed out after {timeout}, still {reading.summary()}"
    if outcome is Outcome.IN_PROGRESS:
        return f"{head}: not finished: {reading.summary()}"
    words = {
        Outcome.PROMOTED: "promoted",
        Outcome.ROLLED_BACK: "rolled back",
        Outcome.INVALID: "invalid",
    }
    return f"{head}: {words[outcome]} ({reading.summary()})"


def run_check(args: argparse.Namespace) -> int:
    """The command; returns its exit code. Usage problems raise UsageError (exit 2)."""
    split_gate(args.gate)
    parse_wait_timeout(args.timeout)
    stream = sys.stderr
    progress = Progress(stream, Progress.choose(args.progress, stream))
    gate, error = args.gate, None
    reading: Reading | None = None
    try:
        outcome, reading = asyncio.run(_check(args, progress))
    except (Forbidden, GateGone, Superseded, KubeError) as failure:
        outcome, error = Outcome.ERROR, printable(str(failure))
    finally:
        progress.close()
    if args.output == "json":
        revision = reading.revision if reading is not None else args.revision
        print(json.dumps(document(reading, outcome, gate=gate, revision=revision,
                                  elapsed=progress.elapsed(), error=error), indent=2))  # fmt: skip
    elif error is None:
        print(_result_line(outcome, reading, args.timeout))
    if error is not None:
        print(f"canarygate: {error}", file=sys.stderr)
    return EXIT_CODES[outcome]
