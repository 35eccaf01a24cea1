"""Usage figures from the manifests: per day and per provider, read by `novaavatar stats`
and the review page's dashboard alike."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from novaavatar.domain import ReviewState, VideoManifest, utcnow


@dataclass
class UsageStats:
    days: dict[str, Counter[str]] = field(default_factory=dict)  # day → state counts
    states: Counter[str] = field(default_factory=Counter)
    stage_seconds: dict[str, tuple[float, float, int]] = field(default_factory=dict)  # p50, p95, n
    providers: Counter[str] = field(default_factory=Counter)  # "stage:provider" → videos
    failures: Counter[str] = field(default_factory=Counter)  # stage → failed videos
    needs_attention: int = 0
    cost_usd: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "days": {d: dict(c) for d, c in self.days.items()},
            "states": dict(self.states),
            "needs_attention": self.needs_attention,
            "stage_seconds": {
                k: {"p50": p50, "p95": p95, "n": n}
                for k, (p50, p95, n) in self.stage_seconds.items()
            },
            "providers": dict(self.providers),
            "failures": dict(self.failures),
            "cost_usd": round(self.cost_usd, 4),
        }


def usage(manifests: list[VideoManifest], days: int = 7, today: date | None = None) -> UsageStats:
    """Counts per day (by creation date) and state, stage timing percentiles, providers."""
    today = today or utcnow().date()
    first = today - timedelta(days=days - 1)
    stats = UsageStats(
        days={(first + timedelta(days=i)).isoformat(): Counter() for i in range(days)}
    )
    seconds: dict[str, list[float]] = defaultdict(list)
    for m in manifests:
        day = m.created_at.date()
        if day < first or day > today:
            continue
        stats.days[day.isoformat()][m.state.value] += 1
        stats.states[m.state.value] += 1
        stats.needs_attention += int(m.needs_attention)
        for name, rec in m.stages.items():
            seconds[name].append(rec.seconds)
            stats.providers[f"{name}:{rec.provider}"] += 1
            stats.cost_usd += rec.cost_usd
        if m.state is ReviewState.FAILED and m.error:
            stats.failures[m.error.split(":", 1)[0]] += 1
    for name, values in seconds.items():
        arr = np.asarray(values)
        stats.stage_seconds[name] = (
            round(float(np.percentile(arr, 50)), 3),
            round(float(np.percentile(arr, 95)), 3),
            len(values),
        )
    return stats
