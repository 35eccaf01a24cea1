"""Usage figures from the manifests: per day and per provider, and the A/B takes' win rates
per style and hook, read by `novaavatar stats` and the review page's dashboard alike."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from novaavatar.domain import ReviewState, VideoManifest, utcnow


@dataclass
class WinRate:
    """How often takes of one style (or hook) were chosen, out of the decided groups."""

    wins: int = 0
    takes: int = 0

    @property
    def rate(self) -> float:
        return self.wins / self.takes if self.takes else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {"wins": self.wins, "takes": self.takes, "win_rate": round(self.rate, 3)}


@dataclass
class UsageStats:
    days: dict[str, Counter[str]] = field(default_factory=dict)  # day → state counts
    states: Counter[str] = field(default_factory=Counter)
    stage_seconds: dict[str, tuple[float, float, int]] = field(default_factory=dict)  # p50, p95, n
    providers: Counter[str] = field(default_factory=Counter)  # "stage:provider" → videos
    failures: Counter[str] = field(default_factory=Counter)  # stage → failed videos
    needs_attention: int = 0
    cost_usd: float = 0.0
    variant_groups: int = 0  # A/B groups made
    variant_decided: int = 0  # ... of which a reviewer chose one take
    style_wins: dict[str, WinRate] = field(default_factory=dict)
    hook_wins: dict[str, WinRate] = field(default_factory=dict)

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
            "variants": {
                "groups": self.variant_groups,
                "decided": self.variant_decided,
                "styles": {k: w.as_dict() for k, w in sorted(self.style_wins.items())},
                "hooks": {k: w.as_dict() for k, w in sorted(self.hook_wins.items())},
            },
        }


def usage(manifests: list[VideoManifest], days: int = 7, today: date | None = None) -> UsageStats:
    """Counts per day (by creation date) and state, stage timing percentiles, providers."""
    today = today or utcnow().date()
    first = today - timedelta(days=days - 1)
    stats = UsageStats(
        days={(first + timedelta(days=i)).isoformat(): Counter() for i in range(days)}
    )
    seconds: dict[str, list[float]] = defaultdict(list)
    groups: dict[str, list[VideoManifest]] = defaultdict(list)
    for m in manifests:
        day = m.created_at.date()
        if day < first or day > today:
            continue
        if m.variant is not None:
            groups[m.variant.group].append(m)
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
    _win_rates(stats, list(groups.values()))
    return stats


def win_rates(manifests: list[VideoManifest]) -> UsageStats:
    """The A/B takes' figures (groups, decided groups, wins per style and hook) over every
    video, whenever it was made."""
    stats = UsageStats()
    groups: dict[str, list[VideoManifest]] = defaultdict(list)
    for m in manifests:
        if m.variant is not None:
            groups[m.variant.group].append(m)
    _win_rates(stats, list(groups.values()))
    return stats


_CHOSEN = (ReviewState.APPROVED, ReviewState.EXPORTED)


def _win_rates(stats: UsageStats, groups: list[list[VideoManifest]]) -> None:
    """Per style and hook: takes in groups where a reviewer chose one, and how many won."""
    stats.variant_groups = len(groups)
    for takes in groups:
        if not any(m.state in _CHOSEN for m in takes):
            continue  # not decided yet: no take has won or lost
        stats.variant_decided += 1
        for m in takes:
            assert m.variant is not None
            won = int(m.state in _CHOSEN)
            for table, key in (
                (stats.style_wins, m.variant.style),
                (stats.hook_wins, m.variant.hook),
            ):
                rate = table.setdefault(key, WinRate())
                rate.wins += won
                rate.takes += 1
