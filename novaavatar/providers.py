"""Ordered provider chains: the first available provider is used; on failure the next."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
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
