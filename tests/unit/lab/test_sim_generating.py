"""The simulator's generated traffic: shares, faults and the exposition it serves."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from lab.simulator.faults import Faults, InvalidFaults
from lab.simulator.generating import Simulator, SimulatorConfig
from lab.simulator.serving import make_server


def simulator(rate: float = 100.0, journeys: tuple[str, ...] = ("checkout",)) -> Simulator:
    return Simulator(SimulatorConfig(journeys=journeys, rate=rate))


def test_traffic_follows_the_weight_exactly() -> None:
    sim = simulator()
    sim.set_weight(30)
    for _ in range(100):
        sim.advance(0.1)  # 10 s at 100 req/s
    totals = sim.totals()
    assert totals["checkout", "canary", "200"] == 300
    assert totals["checkout", "stable", "200"] == 700


def test_weight_change_applies_to_later_traffic_only() -> None:
    sim = simulator()
    sim.advance(1.0)
    sim.set_weight(100)
    sim.advance(1.0)
    totals = sim.totals()
    assert totals["checkout", "stable", "200"] == 100
    assert totals["checkout", "canary", "200"] == 100


def test_canary_faults_hit_only_the_canary_and_chosen_journeys() -> None:
    sim = simulator(journeys=("checkout", "login"))
    sim.set_weight(50)
    sim.set_faults(Faults(error_ratio=0.2, journeys=frozenset({"checkout"})))
    sim.advance(10.0)
    totals = sim.totals()
    assert totals["checkout", "canary", "500"] == 100  # 20 % of 500
    assert totals["checkout", "stable", "500"] == 0
    assert totals["login", "canary", "500"] == 0


def test_a_canary_may_serve_far_less_than_its_weight() -> None:
    sim = simulator(journeys=("checkout", "login"))
    sim.set_weight(25)
    sim.set_faults(Faults(canary_served_ratio=0.1, journeys=frozenset({"checkout"})))
    sim.advance(10.0)  # 1,000 requests per journey
    totals = sim.totals()
    assert totals["checkout", "canary", "200"] == 25  # 2.5 %: a tenth of its 25 %
    assert totals["checkout", "stable", "200"] == 975  # the rest went to stable
    assert totals["login", "canary", "200"] == 250  # another journey is not affected
    parsed = Faults.from_json({"canaryServedRatio": 0.1})
    assert parsed.canary_served_ratio == 0.1
    assert Faults.from_json({}).canary_served_ratio == 1.0
    assert parsed.to_json()["canaryServedRatio"] == 0.1
    with pytest.raises(InvalidFaults, match="canaryServedRatio must be within"):
        Faults.from_json({"canaryServedRatio": 1.5})


def test_baseline_errors_and_faults_combine() -> None:
    sim = Simulator(SimulatorConfig(journeys=("search",), rate=100, baseline_error_ratio=0.1))
    sim.set_weight(100)
    sim.set_faults(Faults(error_ratio=0.5))
    sim.advance(10.0)
    assert sim.totals()["search", "canary", "500"] == 550  # 1 - 0.9 * 0.5


def test_added_latency_moves_the_canary_histogram() -> None:
    sim = simulator(rate=10)
    sim.set_weight(100)
    sim.set_faults(Faults(added_latency=2.0))
    sim.advance(1.0)
    text = sim.render()
    assert (
        'http_request_duration_seconds_bucket{journey="checkout",version="canary",le="1.0"} 0'
        in text
    )
    assert 'http_request_duration_seconds_count{journey="checkout",version="canary"} 10' in text


def test_rejects_weights_outside_0_100() -> None:
    with pytest.raises(ValueError, match="within"):
        simulator().set_weight(101)


def test_exposition_has_counters_histograms_and_weight_gauge() -> None:
    sim = simulator()
    sim.set_weight(25)
    sim.advance(1.0)
    text = sim.render()
    assert "# TYPE http_requests_total counter" in text
    assert 'http_requests_total{journey="checkout",version="canary",code="200"} 25' in text
    assert "# TYPE http_request_duration_seconds histogram" in text
    assert 'canarygate_simulator_canary_weight_percent{provider="static"} 25.0' in text
    assert 'canarygate_simulator_weight_source_up{provider="static"} 1.0' in text


def test_the_canary_probe_fails_while_its_fault_is_on() -> None:
    sim = simulator()
    assert 'probe_success{target="canary"} 1.0' in sim.render()
    sim.set_faults(Faults.from_json({"probeFails": True}))
    text = sim.render()
    assert 'probe_success{target="canary"} 0.0' in text
    assert 'probe_success{target="stable"} 1.0' in text
    assert Faults.from_json({}).probe_fails is False


def test_weight_source_down_keeps_the_weight() -> None:
    sim = simulator()
    sim.set_weight(40)
    sim.mark_weight_source_down()
    assert sim.weight == 40
    assert 'canarygate_simulator_weight_source_up{provider="static"} 0.0' in sim.render()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"errorRatio": 2}, "within"),
        ({"errorRatio": "0.1"}, "number"),
        ({"addedLatencySeconds": -1}, ">= 0"),
        ({"journeys": "checkout"}, "list"),
        ({"bogus": 1}, "unknown"),
        ({"probeFails": "yes"}, "true or false"),
    ],
)
def test_invalid_faults_are_refused(body: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidFaults, match=message):
        Faults.from_json(body)


@pytest.fixture
def served() -> Iterator[tuple[Simulator, str]]:
    sim = simulator()
    server = make_server(sim, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield sim, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_http_faults_round_trip(served: tuple[Simulator, str]) -> None:
    sim, url = served
    body = {
        "errorRatio": 0.25,
        "addedLatencySeconds": 0.1,
        "journeys": ["checkout"],
        "fleetErrorRatio": 0.0,
        "probeFails": False,
        "canaryServedRatio": 0.5,
    }
    response = httpx.post(f"{url}/faults", json=body)
    assert response.status_code == 200
    assert sim.faults == Faults(0.25, 0.1, frozenset({"checkout"}), canary_served_ratio=0.5)
    assert httpx.get(f"{url}/faults").json() == body
    assert httpx.delete(f"{url}/faults").status_code == 200
    assert sim.faults == Faults()


def test_http_rejects_bad_faults(served: tuple[Simulator, str]) -> None:
    sim, url = served
    response = httpx.post(f"{url}/faults", content=json.dumps({"errorRatio": 7}))
    assert response.status_code == 400
    assert "within" in response.json()["error"]
    assert sim.faults == Faults()


def test_http_metrics_and_state(served: tuple[Simulator, str]) -> None:
    sim, url = served
    sim.set_weight(10)
    sim.advance(1.0)
    metrics = httpx.get(f"{url}/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'version="canary",code="200"} 10' in metrics.text
    state = httpx.get(f"{url}/state").json()
    assert state["weight"] == 10
    assert httpx.get(f"{url}/nope").status_code == 404


def test_a_fleet_fault_fails_stable_and_canary_alike() -> None:
    sim = Simulator(SimulatorConfig(journeys=("checkout",), rate=1000))
    sim.set_weight(20)
    sim.set_faults(Faults(fleet_error_ratio=0.1))
    sim.advance(1.0)
    totals = sim.totals()
    for version in ("stable", "canary"):
        served = totals["checkout", version, "200"] + totals["checkout", version, "500"]
        assert totals["checkout", version, "500"] == round(served * 0.1)
