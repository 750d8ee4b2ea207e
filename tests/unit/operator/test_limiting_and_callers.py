"""Token buckets per caller, the caller book a judge-only gate's status shows, and the token
Secrets (rotation, scope, what is refused)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from canarygate.core.judging import Judgement
from canarygate.kube import KubeUnavailable
from canarygate.operator.authenticating import (
    Authenticator,
    AuthSettings,
    Unauthenticated,
    tokens_from_secret,
)
from canarygate.operator.callers import FORGET_AFTER_SECONDS, SHOWN, CallerBook
from canarygate.operator.limiting import RateLimiter
from canarygate.operator.receivers import SecretRef

from .test_verdict_serving import FakeReviews

WALL = datetime(2026, 11, 25, 12, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_refills_at_its_rate_and_says_how_long_to_wait() -> None:
    clock = Clock()
    limiter = RateLimiter(2.0, 3, clock=clock)
    assert [limiter.take("a") for _ in range(3)] == [None, None, None]
    assert limiter.take("a") == 0.5
    assert limiter.blocked("a") == 0.5
    assert limiter.take("b") is None  # another key, another bucket
    clock.now += 0.5
    assert limiter.take("a") is None
    assert limiter.take("a") is not None
    assert limiter.blocked("never-seen") is None


def test_full_buckets_are_forgotten() -> None:
    clock = Clock()
    limiter = RateLimiter(1.0, 1, clock=clock)
    for index in range(1023):
        limiter.take(index)
    clock.now += 10
    limiter.take("last")  # the 1024th take sweeps
    assert len(limiter) == 1


def test_the_book_shows_answers_not_polls() -> None:
    book = CallerBook()
    assert book.note("argo", "api", Judgement.PASS, 10, wall=WALL, now=1.0)
    assert not book.note("argo", "api", Judgement.PASS, 10, wall=WALL, now=2.0)
    before = book.view()
    assert not book.note("argo", "api", Judgement.PASS, 10, wall=WALL, now=3.0)
    assert book.view() == before  # a poll changes nothing shown
    assert book.note("argo", "api", Judgement.FAIL, 10, wall=WALL, now=4.0)
    assert book.view()[0]["verdict"] == "fail"
    assert book.note("argo", "api", Judgement.FAIL, 25, wall=WALL, now=5.0)
    book.expire(5.0 + FORGET_AFTER_SECONDS + 1)
    assert len(book) == 0


def test_the_book_shows_the_most_recent_callers_in_a_stable_order() -> None:
    book = CallerBook()
    for index in range(SHOWN + 5):
        book.note(f"caller-{index:02d}", "api", Judgement.PASS, None, wall=WALL, now=float(index))
    names = [entry["name"] for entry in book.view()]
    assert names == sorted(names)
    assert names == [f"caller-{i:02d}" for i in range(5, SHOWN + 5)]


def encoded(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_a_token_secret_gives_a_caller_per_key_and_skips_weak_or_broken_ones() -> None:
    ref = SecretRef("shop", "tokens")
    found = tokens_from_secret(
        ref,
        {"data": {"argo": encoded("a-long-enough-token-1\n"), "short": encoded("abc"),
                  "broken": "%%%"}},
    )  # fmt: skip
    assert sorted(found.values()) == ["secret:shop/tokens/argo"]


async def test_a_rotated_token_replaces_the_old_one_and_a_lost_secret_keeps_the_last() -> None:
    reviews = FakeReviews()
    reviews.secrets = {("shop", "tokens"): {"data": {"argo": encoded("first-token-0123456789")}}}
    auth = Authenticator(
        reviews, AuthSettings(token_secrets=(SecretRef("shop", "tokens"),), token_review=False)
    )
    await auth.start()
    caller = await auth.authenticate("first-token-0123456789")
    assert (caller.name, caller.namespace) == ("secret:shop/tokens/argo", "shop")
    reviews.secrets[("shop", "tokens")] = {"data": {"argo": encoded("second-token-0123456789")}}
    await auth.refresh()
    assert (await auth.authenticate("second-token-0123456789")).name == caller.name
    with pytest.raises(Unauthenticated, match="not one of the verdict API's tokens"):
        await auth.authenticate("first-token-0123456789")

    async def unreadable(namespace: str, name: str) -> dict[str, object]:
        raise KubeUnavailable("timed out", verb="get", target="secrets")

    reviews.get_secret = unreadable  # type: ignore[method-assign]
    await auth.refresh()
    assert (await auth.authenticate("second-token-0123456789")).name == caller.name
    await auth.close()
