"""Benchmark: what the verdict API costs when 1,000 callers poll it every 10 s.

N judge-only CanaryGates (provider external), each with 3 journeys drawn from a small shared
pool (as the canaries of many services gate on the same customer journeys) and a canary
guardrail of its own, evaluated on a `--interval` by the operator's runtime in its own process
(`bench.verdict_operator`: the real scheduler, evaluation batches, judge-only transitions and
verdict API, against the real fixture Prometheus, with an in-memory store in place of the
Kubernetes API). Then, in this process, one caller per gate polls `GET /v1/verdicts/NS/GATE
?weight=20` every `--every` seconds with its own token from one Secret, spread evenly over
the period, as 1,000 Argo Rollouts analyses would.

Three windows are measured on the same gates: `--window` seconds without callers (the
scheduler's own cost); the callers' first questions (each asks about a weight its gate was
not evaluated at: the decision is made again from the scheduler's latest answers), for one
poll period and one interval; then `--window` seconds of steady polling. For each it prints
the operator process's CPU (cores), the requests Prometheus itself counted on its query
endpoints per second, and for the polling windows the requests served per second, their
status codes and verdicts, the client-side latency percentiles, the operator's own latency
(from its histogram's buckets), and the gates evaluated at once for a request (after
coalescing).

    python -m bench.verdict_polling [--gates 1000] [--every 10] [--interval 30s] [--window 120]
                                    [--standby] [--json]

`--standby`: the operator runs no scheduler, as a standby replica of two: every answer comes
from an evaluation made at once for requests (coalesced and batched), the worst case.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from bench.operator_scale import process_figures
from bench.verdict_operator import NAMESPACE, gate_name
from canarygate.core.durations import parse_duration
from lab.fixture_prometheus import start_fixture_prometheus
from lab.prometheus import free_port
from lab.stage import Operator, _spawn


def prometheus_queries(url: str) -> float:
    """Requests Prometheus has answered on its query endpoints, by its own count."""
    total = 0.0
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith("prometheus_http_requests_total{") and 'handler="/api/v1/query' in line:
            total += float(line.rpartition(" ")[2])
    return total


def operator_metrics(operator: Operator) -> dict[str, float]:
    found: dict[str, float] = {}
    for line in operator.metrics().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        series, _, value = line.rpartition(" ")
        name = series.split("{", 1)[0]
        found[name] = found.get(name, 0.0) + float(value)
        if name in (
            "canarygate_verdict_requests_total",
            "canarygate_verdict_request_duration_seconds_bucket",
            "canarygate_kube_requests_total",
        ):
            found[series] = float(value)
    return found


class Pollers:
    """One caller per gate, each asking every `every` seconds at its own phase (aiohttp's
    client: it costs this process a fraction of httpx's CPU per request, so the callers are
    not what limits the figures)."""

    def __init__(self, url: str, namespace: str, tokens: list[str], every: float) -> None:
        self.url = url
        self.namespace = namespace
        self.tokens = tokens
        self.every = every
        self.latencies: list[float] = []
        self.codes: dict[int, int] = {}
        self.verdicts: dict[str, int] = {}
        self.errors = 0
        self._stop = asyncio.Event()

    async def _caller(self, session: aiohttp.ClientSession, index: int) -> None:
        headers = {"Authorization": f"Bearer {self.tokens[index]}"}
        url = f"{self.url}/v1/verdicts/{self.namespace}/{gate_name(index)}?weight=20"
        await asyncio.sleep(self.every * index / len(self.tokens))
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                async with session.get(url, headers=headers) as response:
                    body = await response.json()
                    self.latencies.append(time.monotonic() - started)
                    code = response.status
                self.codes[code] = self.codes.get(code, 0) + 1
                verdict = str(body.get("verdict", body.get("error", "?")))
                self.verdicts[verdict] = self.verdicts.get(verdict, 0) + 1
            except (aiohttp.ClientError, TimeoutError):
                self.errors += 1
            delay = self.every - (time.monotonic() - started)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=max(0.0, delay))

    async def run(self, seconds: float) -> None:
        connector = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            tasks = [asyncio.create_task(self._caller(session, i)) for i in range(len(self.tokens))]
            await asyncio.sleep(seconds)
            self._stop.set()
            await asyncio.gather(*tasks)

    def reset(self) -> None:
        self.latencies, self.codes, self.verdicts, self.errors = [], {}, {}, 0
        self._stop = asyncio.Event()


def server_percentile(before: dict[str, float], after: dict[str, float], share: float) -> float:
    """The operator's own request latency at `share`, from its histogram's buckets (the upper
    bound of the bucket holding that share)."""
    bounds = sorted(
        (float(key.split('le="')[1].split('"')[0]), after[key] - before.get(key, 0.0))
        for key in after
        if key.startswith("canarygate_verdict_request_duration_seconds_bucket{")
    )
    total = bounds[-1][1] if bounds else 0.0
    for bound, count in bounds:
        if total and count >= share * total:
            return bound
    return float("nan")


def interval_seconds(text: str) -> float:
    return parse_duration(text).seconds


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


async def window(
    operator: Operator, prometheus_url: str, pollers: Pollers, seconds: float, *, poll: bool
) -> dict[str, Any]:
    """What one window cost the operator and Prometheus; with `poll`, what the callers saw."""
    before = operator_metrics(operator)
    queries = prometheus_queries(prometheus_url)
    cpu, started = process_figures(operator.process.pid), time.monotonic()
    own = time.process_time()
    if poll:
        await pollers.run(seconds)
    else:
        await asyncio.sleep(seconds)
    elapsed = time.monotonic() - started
    after = operator_metrics(operator)
    used = process_figures(operator.process.pid)["cpu_seconds"] - cpu["cpu_seconds"]

    def delta(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    found: dict[str, Any] = {
        "seconds": round(elapsed, 1),
        "operator_cpu_cores": round(used / elapsed, 3),
        "prometheus_queries_per_s": round(
            (prometheus_queries(prometheus_url) - queries) / elapsed, 2
        ),
        "operator_prometheus_requests_per_s": round(
            delta("canarygate_prometheus_requests_total") / elapsed, 2
        ),
        "scheduler_evaluations_per_s": round(delta("canarygate_decisions_total") / elapsed, 1),
        "status_writes_per_s": round(
            delta('canarygate_kube_requests_total{verb="patch"}') / elapsed, 2
        ),
        "callers_process_cpu_cores": round((time.process_time() - own) / elapsed, 3),
    }
    if poll:
        latencies = pollers.latencies
        found |= {
            "requests_served_per_s": round(len(latencies) / elapsed, 1),
            "status_codes": dict(sorted(pollers.codes.items())),
            "verdicts": dict(sorted(pollers.verdicts.items())),
            "client_errors": pollers.errors,
            "latency_ms": {
                "p50": round(1000 * percentile(latencies, 0.50), 1),
                "p90": round(1000 * percentile(latencies, 0.90), 1),
                "p99": round(1000 * percentile(latencies, 0.99), 1),
                "max": round(1000 * max(latencies, default=float("nan")), 1),
            },
            "server_latency_ms_bucket": {
                share: round(1000 * server_percentile(before, after, q), 1)
                for share, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))
            },
            "evaluated_at_once": int(delta("canarygate_verdict_evaluations_total")),
        }
    return found


async def run(args: argparse.Namespace) -> dict[str, Any]:
    prometheus = await asyncio.to_thread(start_fixture_prometheus)
    logs = Path(tempfile.mkdtemp(prefix="canarygate-verdicts-"))
    figures: dict[str, Any] = {
        "gates": args.gates,
        "callers": args.gates,
        "poll_every_s": args.every,
        "interval": args.interval,
        "standby": args.standby,
    }
    operator: Operator | None = None
    try:
        tokens = {
            f"rollout-{i:05d}": uuid.uuid4().hex + uuid.uuid4().hex for i in range(args.gates)
        }
        tokens_file = logs / "tokens.json"
        tokens_file.write_text(json.dumps(tokens))
        metrics_port, verdict_port = free_port(), free_port()
        spawned = _spawn(
            "operator",
            ["-m", "bench.verdict_operator", f"--prometheus={prometheus.url}",
             f"--gates={args.gates}", f"--interval={args.interval}",
             f"--verdict-address=127.0.0.1:{verdict_port}",
             f"--metrics-address=127.0.0.1:{metrics_port}", f"--tokens-file={tokens_file}",
             *(["--standby"] if args.standby else [])],
            logs,
        )  # fmt: skip
        operator = Operator(
            spawned.name, spawned.process, spawned.log_path,
            f"http://127.0.0.1:{metrics_port}", f"http://127.0.0.1:{metrics_port}",
        )  # fmt: skip
        await asyncio.to_thread(operator.wait_ready, 120)
        print(f"operator judging {args.gates} gates; settling {args.settle:.0f} s", flush=True)
        await asyncio.sleep(args.settle)
        pollers = Pollers(
            f"http://127.0.0.1:{verdict_port}", NAMESPACE, list(tokens.values()), args.every
        )
        print(f"window 1: {args.window:.0f} s without callers", flush=True)
        figures["without_callers"] = await window(
            operator, prometheus.url, pollers, args.window, poll=False
        )
        # Each caller's first question (a new weight: evaluated at once), then an interval so
        # that the scheduler records the callers in status before the window opens.
        warm = args.every + interval_seconds(args.interval) + 5
        print(f"window 2: the callers' first {warm:.0f} s (a new weight each)", flush=True)
        figures["first_questions"] = await window(
            operator, prometheus.url, pollers, warm, poll=True
        )
        pollers.reset()
        print(f"window 3: {args.window:.0f} s with {args.gates} callers every {args.every:g} s",
              flush=True)  # fmt: skip
        figures["with_callers"] = await window(
            operator, prometheus.url, pollers, args.window, poll=True
        )
        figures["operator_peak_rss_mb"] = round(
            process_figures(operator.process.pid)["peak_rss_mb"], 1
        )
    finally:
        if operator is not None:
            operator.stop()
        prometheus.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gates", type=int, default=1000, help="gates, one caller each")
    parser.add_argument(
        "--every", type=float, default=10.0, help="seconds between a caller's polls"
    )
    parser.add_argument("--interval", default="30s", help="the gates' evaluation interval")
    parser.add_argument("--window", type=float, default=120.0, help="seconds measured, per window")
    parser.add_argument("--settle", type=float, default=60.0, help="seconds before measuring")
    parser.add_argument(
        "--standby",
        action="store_true",
        help="the operator runs no scheduler (a standby replica): each answer evaluated at once",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    figures = asyncio.run(run(args))
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        for key, value in figures.items():
            print(f"{key:28} {value}")


if __name__ == "__main__":
    main()
