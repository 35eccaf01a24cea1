"""Ordered provider chains: the first available provider is used; on failure the next."""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, TypeVar

from novaavatar.errors import InputError, ProviderError

log = logging.getLogger("novaavatar.providers")


class Provider(Protocol):
    name: str

    def available(self) -> bool: ...


P = TypeVar("P", bound=Provider)
T = TypeVar("T")


def run_chain(stage: str, providers: Sequence[P], call: Callable[[P], T]) -> tuple[T, P]:
    """Call ``call(provider)`` on each available provider in order until one succeeds.

    Bad user input (InputError) is not retried on the next provider: it would fail there too.
    """
    failures: list[str] = []
    for provider in providers:
        if not provider.available():
            continue
        try:
            return call(provider), provider
        except InputError:
            raise
        except Exception as e:  # a provider's failure moves on to the next one
            log.warning("%s: provider %s failed: %s", stage, provider.name, e)
            failures.append(f"{provider.name}: {e}")
    if not failures:
        raise ProviderError(f"{stage}: no provider is available")
    raise ProviderError(f"{stage}: every provider failed ({'; '.join(failures)})")


def retry_after_s(headers: Mapping[str, str] | None) -> float | None:
    """Seconds a 429/503 asks to wait: ``retry-after-ms``, or ``Retry-After`` as seconds or
    an HTTP date; None when the answer gives no (readable) hint."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    value = (headers.get("retry-after") or "").strip()
    try:
        if ms is not None:
            return max(float(ms) / 1000, 0.0)
        return max(float(value), 0.0) if value else None
    except ValueError:
        try:
            return max(email.utils.parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
        except (TypeError, ValueError):
            return None
