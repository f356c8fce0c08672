"""Pure pieces: rate limiter, cursors, passwords, token encoding."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from openbms.api.auth.passwords import Passwords
from openbms.api.auth.tokens import InvalidToken, decode_access_token, encode_access_token
from openbms.api.errors import ApiError
from openbms.api.helpers import decode_cursor, encode_cursor, page
from openbms.api.ratelimit import RateLimited, RateLimiter
from openbms.api.settings import Rate
from tests.api.conftest import FakeClock


def test_token_bucket_refills_and_tells_when_to_retry():
    clock = FakeClock(1000.0)
    limiter = RateLimiter(clock)
    rate = Rate(burst=2, per_minute=30)
    limiter.hit("s", "k", rate)
    limiter.hit("s", "k", rate)
    with pytest.raises(RateLimited) as err:
        limiter.hit("s", "k", rate)
    assert err.value.retry_after == 2 and err.value.headers == {"Retry-After": "2"}
    limiter.hit("s", "other", rate)  # another key has its own bucket
    clock.advance(2)
    limiter.hit("s", "k", rate)
    assert limiter.limited == 1


def test_rate_limiter_memory_is_bounded():
    clock = FakeClock(0.0)
    limiter = RateLimiter(clock, max_keys=10)
    for i in range(100):
        limiter.hit("s", str(i), Rate(burst=5, per_minute=60))
    assert len(limiter._buckets) <= 10


def test_cursors_round_trip_and_bad_ones_are_a_400():
    assert decode_cursor(encode_cursor({"id": 5, "c": 1.5})) == {"id": 5, "c": 1.5}
    assert decode_cursor(None) == {}
    for bad in ("!!!", "bm90IGpzb24", encode_cursor([1, 2])):  # type: ignore[arg-type]
        with pytest.raises(ApiError) as err:
            decode_cursor(bad)
        assert err.value.status == 400
    items, nxt = page([1, 2, 3], 2, lambda x: {"id": x})
    assert items == [1, 2] and decode_cursor(nxt) == {"id": 2}
    assert page([1, 2], 2, lambda x: {"id": x}) == ([1, 2], None)


def test_passwords_are_argon2id_and_rehashed_when_parameters_change():
    old = Passwords(PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))
    stored = old.hash("a long password")
    assert stored.startswith("$argon2id$")
    assert old.verify(stored, "a long password") and not old.verify(stored, "another password")
    assert not old.verify(None, "a long password") and not old.verify("not a hash", "x")
    assert not old.needs_rehash(stored)
    assert Passwords().needs_rehash(stored)


def test_an_unknown_account_is_checked_against_a_hash_of_the_same_parameters_made_once():
    # Same parameters as the real hashes (so an unknown account costs the same time), and made once
    # per process and parameter set, not at every API start.
    default, cheap = Passwords(), Passwords(PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))
    assert Passwords()._dummy is default._dummy
    assert PasswordHasher().check_needs_rehash(cheap._dummy)
    assert not PasswordHasher().check_needs_rehash(default._dummy)
    assert not cheap.hasher.check_needs_rehash(cheap._dummy)


def test_access_tokens_check_algorithm_expiry_and_kind():
    secret = "k" * 64
    token, _claims = encode_access_token(secret, "HS256", sub="u1", sid="f1", now=1000.0, ttl=900)
    assert decode_access_token(token, secret, "HS256", now=1899.0).sub == "u1"
    with pytest.raises(InvalidToken, match="expired"):
        decode_access_token(token, secret, "HS256", now=1900.0)
    with pytest.raises(InvalidToken, match="algorithm"):
        decode_access_token(token, secret, "HS512", now=1000.0)
    with pytest.raises(InvalidToken, match="future"):
        decode_access_token(token, secret, "HS256", now=800.0)
    with pytest.raises(ValueError, match="unsupported"):
        encode_access_token(secret, "none", sub="u1", sid=None, now=0, ttl=1)
