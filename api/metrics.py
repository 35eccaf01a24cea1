"""``/metrics``: the usage figures of :mod:`novaavatar.stats` in Prometheus text format."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date

from novaavatar.domain import ReviewState, VideoManifest, utcnow
from novaavatar.stats import usage

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _metric(lines: list[str], name: str, kind: str, help_: str) -> None:
    lines += [f"# HELP {name} {help_}", f"# TYPE {name} {kind}"]


def prometheus_text(videos: list[VideoManifest], today: date | None = None) -> str:
    """Videos by state, stage durations (p50/p95 over every video), providers, failures, cost."""
    today = today or utcnow().date()
    first = min((m.created_at.date() for m in videos), default=today)
    stats = usage(videos, days=max((today - first).days + 1, 1), today=today)
    lines: list[str] = []

    states = Counter(m.state.value for m in videos)
    _metric(lines, "novaavatar_videos", "gauge", "Videos in the artifact store by review state.")
    lines += [
        f'novaavatar_videos{{state="{s.value}"}} {states.get(s.value, 0)}' for s in ReviewState
    ]
    _metric(
        lines,
        "novaavatar_videos_needing_attention",
        "gauge",
        "Pending videos with a failed quality check.",
    )
    lines.append(f"novaavatar_videos_needing_attention {stats.needs_attention}")

    sums: dict[str, float] = defaultdict(float)
    for m in videos:
        for name, rec in m.stages.items():
            sums[name] += rec.seconds
    _metric(lines, "novaavatar_stage_seconds", "summary", "Seconds each pipeline stage took.")
    for stage, (p50, p95, n) in sorted(stats.stage_seconds.items()):
        s = _label(stage)
        lines += [
            f'novaavatar_stage_seconds{{stage="{s}",quantile="0.5"}} {p50}',
            f'novaavatar_stage_seconds{{stage="{s}",quantile="0.95"}} {p95}',
            f'novaavatar_stage_seconds_sum{{stage="{s}"}} {round(sums[stage], 3)}',
            f'novaavatar_stage_seconds_count{{stage="{s}"}} {n}',
        ]

    _metric(
        lines,
        "novaavatar_stage_provider_videos",
        "gauge",
        "Videos whose stage was made by each provider (fallbacks show here).",
    )
    for key, n in sorted(stats.providers.items()):
        stage, _, provider = key.partition(":")
        lines.append(
            f'novaavatar_stage_provider_videos{{stage="{_label(stage)}",'
            f'provider="{_label(provider)}"}} {n}'
        )
    _metric(lines, "novaavatar_failed_videos", "gauge", "Failed videos by the stage that failed.")
    for stage, n in sorted(stats.failures.items()):
        lines.append(f'novaavatar_failed_videos{{stage="{_label(stage)}"}} {n}')
    _metric(lines, "novaavatar_cost_usd", "gauge", "Estimated provider cost of every video (USD).")
    lines.append(f"novaavatar_cost_usd {round(stats.cost_usd, 6)}")
    for metric, what, count in (
        ("takes", "A/B takes in groups where a reviewer chose one", lambda w: w.takes),
        ("wins", "A/B takes a reviewer chose", lambda w: w.wins),
    ):
        _metric(lines, f"novaavatar_variant_{metric}", "gauge", f"{what}, by style or hook.")
        for by, table in (("style", stats.style_wins), ("hook", stats.hook_wins)):
            lines += [
                f'novaavatar_variant_{metric}{{{by}="{_label(name)}"}} {count(w)}'
                for name, w in sorted(table.items())
            ]
    return "\n".join(lines) + "\n"
