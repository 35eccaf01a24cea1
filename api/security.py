"""Bearer-token authentication and a per-token rate limit.

Tokens come from ``API_TOKENS`` and are compared in constant time. The rate limit is a
token bucket per API token kept in this process's memory: with several API processes
each one counts on its own, and a restart refills every bucket.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from fastapi import Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from api.problems import ProblemError

bearer = HTTPBearer(auto_error=False, description="a token from the API_TOKENS setting")


@dataclass(frozen=True)
class Caller:
    """Who made a request: the configured token, by position (the secret is never kept here)."""

    token: str  # "token-1", "token-2", ... in API_TOKENS order


class TokenBucket:
    """``rate_per_minute`` requests per minute per key, bursting up to a minute's worth."""

    def __init__(self, rate_per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = float(rate_per_minute)
        self.per_second = rate_per_minute / 60.0
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key → (tokens, at)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Spend one request of ``key``; returns 0 when allowed, else seconds until it would be."""
        if self.capacity <= 0:
            return 0.0
        with self._lock:
            now = self.clock()
            tokens, at = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - at) * self.per_second)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.per_second


class TokenAuth:
    """The dependency every protected endpoint uses: who is calling, within their rate."""

    def __init__(self, tokens: Sequence[SecretStr], rate_per_minute: int) -> None:
        # keep digests, not the tokens: equal-length values for compare_digest
        self._digests = [
            hashlib.sha256(t.get_secret_value().encode()).digest()
            for t in tokens
            if t.get_secret_value()
        ]
        self.bucket = TokenBucket(rate_per_minute)

    def identify(self, presented: str) -> Caller | None:
        digest = hashlib.sha256(presented.encode()).digest()
        found = None
        for i, known in enumerate(self._digests):  # no early exit: same time for every token
            if hmac.compare_digest(digest, known):
                found = Caller(token=f"token-{i + 1}")
        return found

    def check(self, request: Request, credentials: HTTPAuthorizationCredentials | None) -> Caller:
        challenge = {"WWW-Authenticate": 'Bearer realm="novaavatar"'}
        if not self._digests:
            raise ProblemError(
                401,
                "the API accepts no token yet: set API_TOKENS on the server",
                kind="unauthorized",
                headers=challenge,
            )
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise ProblemError(
                401,
                "send 'Authorization: Bearer <token>' with a token from API_TOKENS",
                kind="unauthorized",
                headers=challenge,
            )
        caller = self.identify(credentials.credentials)
        if caller is None:
            raise ProblemError(
                401, "the bearer token is not valid", kind="unauthorized", headers=challenge
            )
        wait = self.bucket.take(caller.token)
        if wait > 0:
            raise ProblemError(
                429,
                f"rate limit of {self.bucket.capacity:.0f} requests per minute exceeded; "
                f"retry in {math.ceil(wait)} s",
                kind="rate-limited",
                headers={"Retry-After": str(math.ceil(wait))},
            )
        request.state.caller = caller
        return caller
