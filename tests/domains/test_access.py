"""API keys and rate limits as the model API applies them (domains.access), without a server."""

from __future__ import annotations

from pathlib import Path

import pytest

from domains.access import ApiKeys, RateBuckets, digest
from domains.base import DataError
from domains.serving import RequestError


def test_keys_come_from_a_list_or_a_file_and_only_digests_are_kept(tmp_path: Path) -> None:
    listed = ApiKeys.from_env("alpha, beta:60")
    assert listed is not None and listed.limits == {digest("alpha"): None, digest("beta"): 60}
    assert "alpha" not in repr(listed)
    keys = tmp_path / "keys.txt"
    keys.write_text("# the analysts' notebook\nalpha\n\nbeta:60  # the loan system\n")
    assert ApiKeys.from_env(str(keys)) == listed
    assert ApiKeys.from_env("") is None


@pytest.mark.parametrize(("value", "needle"), [("alpha:fast", "whole number"), ("alpha:0", "whole number"),
                                               (" , ", "names no key")])
def test_a_malformed_key_list_says_how_to_write_it(value: str, needle: str) -> None:
    with pytest.raises(DataError, match=needle):
        ApiKeys.from_env(value)


@pytest.mark.parametrize(("header", "needle"), [(None, "needs an API key"), ("Basic abc", "needs an API key"),
                                                ("Bearer wrong", "not one this server accepts")])
def test_a_missing_or_wrong_key_is_a_401(header: str | None, needle: str) -> None:
    keys = ApiKeys.from_env("alpha")
    assert keys is not None and keys.check("Bearer alpha") == digest("alpha")
    with pytest.raises(RequestError, match=needle) as refused:
        keys.check(header)
    assert refused.value.status == 401


def test_a_bucket_allows_a_burst_then_one_request_per_share_of_the_minute() -> None:
    buckets = RateBuckets()
    assert [buckets.take("k", 6, now=0.0) for _ in range(6)] == [0.0] * 6
    assert buckets.take("k", 6, now=0.0) == pytest.approx(10.0)  # 6 a minute: the next token in 10 s
    assert buckets.take("k", 6, now=10.0) == 0.0
    assert buckets.take("other", 6, now=10.0) == 0.0  # keys are counted apart
