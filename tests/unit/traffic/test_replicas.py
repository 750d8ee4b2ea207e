"""Replica-ratio backend: two Deployments' spec.replicas, checked against their rollout."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from canarygate.core.errors import SpecError
from canarygate.traffic import CheckOutcome, ReplicasBackend, TargetInvalid, Update
from canarygate.traffic.replicas import replica_split

from .builders import NS, deployment, labelled, objects_for

BACKEND = ReplicasBackend(NS, "web-stable", "web-canary", total_replicas=4)


def pair(stable: int | None, canary: int | None, **kwargs: Any) -> tuple[dict[str, Any], ...]:
    return deployment("web-stable", stable, **kwargs), deployment("web-canary", canary, **kwargs)


def apply(bodies: tuple[dict[str, Any], ...], weight: int) -> tuple[Update, ...]:
    return BACKEND.apply_weight(objects_for(BACKEND, *bodies), weight)


@pytest.mark.parametrize(
    ("total", "weight", "expected"),
    [
        (4, 0, (4, 0)),
        (4, 5, (3, 1)),
        (4, 25, (3, 1)),
        (4, 26, (2, 2)),
        (4, 99, (1, 3)),
        (4, 100, (0, 4)),
        (10, 10, (9, 1)),
        (10, 11, (8, 2)),
        (2, 99, (1, 1)),
        (1, 100, (0, 1)),
        (1, 0, (1, 0)),
    ],
)
def test_split(total: int, weight: int, expected: tuple[int, int]) -> None:
    assert replica_split(total, weight) == expected


class TestApply:
    def test_only_spec_replicas_and_the_label_change(self) -> None:
        stable, canary = pair(4, 0)
        updates = apply((stable, canary), 50)
        expected_canary = labelled(copy.deepcopy(canary))
        expected_canary["spec"]["replicas"] = 2
        expected_stable = labelled(copy.deepcopy(stable))
        expected_stable["spec"]["replicas"] = 2
        # The canary grows first, so capacity never dips below the total between writes.
        assert updates == (
            Update(BACKEND.canary, expected_canary),
            Update(BACKEND.stable, expected_stable),
        )

    def test_rollback_shrinks_the_canary_last(self) -> None:
        updates = apply(pair(2, 2), 0)
        assert [(u.ref.name, u.body["spec"]["replicas"]) for u in updates] == [
            ("web-stable", 4),
            ("web-canary", 0),
        ]

    def test_only_the_deployment_that_differs_is_written(self) -> None:
        (update,) = apply(pair(3, 0), 5)
        assert update.ref == BACKEND.canary
        assert update.body["spec"]["replicas"] == 1

    def test_no_update_when_already_at_the_weight(self) -> None:
        assert apply(pair(3, 1), 10) == ()
        assert apply(pair(4, 0), 0) == ()

    def test_omitted_replicas_count_as_one(self) -> None:
        backend = ReplicasBackend(NS, "web-stable", "web-canary", total_replicas=2)
        bodies = pair(None, None)
        assert backend.apply_weight(objects_for(backend, *bodies), 50) == ()

    def test_one_replica_cannot_split(self) -> None:
        backend = ReplicasBackend(NS, "web-stable", "web-canary", total_replicas=1)
        with pytest.raises(
            TargetInvalid, match=r"set spec.canary.traffic.replicas.totalReplicas to at least 2"
        ):
            backend.apply_weight(objects_for(backend, *pair(1, 0)), 5)

    def test_unreadable_replicas_are_invalid(self) -> None:
        stable, canary = pair(4, 0)
        stable["spec"]["replicas"] = "4"
        with pytest.raises(TargetInvalid, match=r"Deployment shop/web-stable spec\.replicas '4'"):
            apply((stable, canary), 5)

    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({"total_replicas": 0}, "totalReplicas"),
            ({"total_replicas": 1001}, "totalReplicas"),
            ({"canary_deployment": "web-stable"}, "canaryDeployment"),
        ],
    )
    def test_spec_errors(self, kwargs: dict[str, Any], field: str) -> None:
        settings: dict[str, Any] = {
            "stable_deployment": "web-stable",
            "canary_deployment": "web-canary",
            "total_replicas": 4,
        } | kwargs
        with pytest.raises(SpecError) as error:
            ReplicasBackend(NS, **settings)
        assert error.value.field == f"spec.canary.traffic.replicas.{field}"


class TestCheck:
    def check(self, bodies: tuple[dict[str, Any], ...], weight: int) -> tuple[CheckOutcome, str]:
        result = BACKEND.check_weight(objects_for(BACKEND, *bodies), weight)
        return result.outcome, result.reason

    def test_verified_when_both_rolled_out(self) -> None:
        assert self.check(pair(3, 1), 25) == (
            CheckOutcome.VERIFIED,
            "3 stable and 1 canary replicas ready for 25%",
        )

    def test_mismatch_when_spec_differs(self) -> None:
        assert self.check(pair(4, 0), 25) == (
            CheckOutcome.MISMATCH,
            "Deployment shop/web-stable asks for 4 replicas, not 3 for 25%",
        )

    def test_cannot_tell_while_pods_start(self) -> None:
        stable, canary = pair(3, 1)
        canary["status"]["readyReplicas"] = 0
        assert self.check((stable, canary), 25) == (
            CheckOutcome.CANNOT_TELL,
            "Deployment shop/web-canary is rolling: replicas 1, updatedReplicas 1, "
            "readyReplicas 0, want 1",
        )

    def test_cannot_tell_while_old_pods_linger(self) -> None:
        stable, canary = pair(3, 1)
        stable["status"]["replicas"] = 4  # scaled down, a pod still counted
        assert self.check((stable, canary), 25)[0] is CheckOutcome.CANNOT_TELL

    def test_cannot_tell_before_the_controller_saw_the_change(self) -> None:
        stable, canary = pair(3, 1)
        canary["metadata"]["generation"] = 4
        assert self.check((stable, canary), 25) == (
            CheckOutcome.CANNOT_TELL,
            "Deployment shop/web-canary: the Deployment controller has not yet seen generation 4",
        )


class TestSnapshotRestore:
    def test_round_trip(self) -> None:
        original = pair(None, 0)
        snapshot = BACKEND.snapshot(objects_for(BACKEND, *original))
        assert snapshot == {
            "provider": "replicas",
            "stable": {"replicas": None, "label": None},
            "canary": {"replicas": 0, "label": None},
        }
        live = {u.ref: u.body for u in apply(original, 50)}
        updates = BACKEND.restore(live, snapshot)
        # Stable grows back before the canary goes away.
        assert [u.ref for u in updates] == [BACKEND.stable, BACKEND.canary]
        assert tuple(u.body for u in updates) == original
        assert BACKEND.restore(objects_for(BACKEND, *original), snapshot) == ()

    def test_a_deleted_canary_is_skipped(self) -> None:
        original = pair(4, 0)
        snapshot = BACKEND.snapshot(objects_for(BACKEND, *original))
        moved = {u.ref: u.body for u in apply(original, 50)}
        del moved[BACKEND.canary]
        (update,) = BACKEND.restore(moved, snapshot)
        assert update.body == original[0]
