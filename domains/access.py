"""Who may call the model API, and how often: optional API keys with per-key request-per-minute
limits, read from ``DOMAINLENS_API_KEYS``. No web framework here; the API turns the
``RequestError`` raised below into a 401 or a 429.

``DOMAINLENS_API_KEYS`` is either a path to a file with one key per line, or the keys
themselves separated by commas; a key may carry a limit as ``key:60`` (60 requests a minute).
Blank lines and ``#`` comments are ignored. Only SHA-256 digests of the keys are kept, so the
keys themselves never travel to the serving processes."""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass, field
from pathlib import Path

from domains.base import DataError
from domains.serving import RequestError

ENV_KEYS = "DOMAINLENS_API_KEYS"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class ApiKeys:
    """The accepted keys (as digests), each with its requests-per-minute limit (None: no limit)."""

    limits: dict[str, int | None]

    @classmethod
    def from_env(cls, value: str | None = None) -> ApiKeys | None:
        """The keys ``DOMAINLENS_API_KEYS`` names, or None when it is unset (the API is open)."""
        raw = os.environ.get(ENV_KEYS, "") if value is None else value
        if not raw.strip():
            return None
        path = Path(raw).expanduser()
        entries = path.read_text().splitlines() if path.is_file() else raw.split(",")
        limits: dict[str, int | None] = {}
        for entry in entries:
            entry = entry.split("#", 1)[0].strip()
            if not entry:
                continue
            key, _, limit = entry.partition(":")
            if limit and not (limit.strip().isdigit() and int(limit) > 0):
                raise DataError(f"{ENV_KEYS}: a key's limit is a whole number of requests a minute, as key:60; "
                                f"got ':{limit}'")
            limits[digest(key.strip())] = int(limit) if limit else None
        if not limits:
            raise DataError(f"{ENV_KEYS} is set but names no key: give keys separated by commas or a file of them")
        return cls(limits)

    def check(self, authorization: str | None) -> str:
        """The digest of the caller's key from an ``Authorization: Bearer <key>`` header; 401 when
        it is missing or unknown (compared in constant time)."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise RequestError("this server needs an API key: send 'Authorization: Bearer <key>'", 401,
                               "authorization")
        presented = digest(token.strip())
        for known in self.limits:
            if hmac.compare_digest(presented, known):
                return known
        raise RequestError("the API key is not one this server accepts", 401, "authorization")


class RateLimited(RequestError):
    """A key over its limit: 429, and when to try again."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"this API key is over its request limit; retry in {retry_after_s:.0f} s", 429,
                         "authorization")
        self.retry_after_s = retry_after_s


@dataclass
class RateBuckets:
    """One token bucket per key: ``per_minute`` requests a minute on average, bursts up to the
    same number. ``take`` spends a token or says how long until one is there."""

    tokens: dict[str, tuple[float, float]] = field(default_factory=dict)  # key -> (tokens, at time)

    def take(self, key: str, per_minute: int, now: float) -> float:
        """0.0 when the request may go ahead, else the seconds until it may."""
        rate = per_minute / 60.0
        held, at = self.tokens.get(key, (float(per_minute), now))
        held = min(float(per_minute), held + (now - at) * rate)
        if held >= 1.0:
            self.tokens[key] = (held - 1.0, now)
            return 0.0
        self.tokens[key] = (held, now)
        return (1.0 - held) / rate
