"""Builders for the review page tests: a store with videos waiting for review (no tests here)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from novaavatar import manifests
from novaavatar.domain import (
    ContentItem,
    FinalVideo,
    ProduceOptions,
    QualityCheck,
    QualityReport,
    ReviewEvent,
    ReviewState,
    StageRecord,
    VideoManifest,
    VideoScript,
)
from novaavatar.store import ArtifactStore

VTT = "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nGood evening.\n"
SRT = "1\n00:00:00,000 --> 00:00:01,000\nGood evening.\n"

STORIES = [
    (
        "Harbour bridge reopens after two-year repair",
        "Coastal Times",
        "The harbour bridge reopened this morning after a two-year repair. Commuters crossed "
        "it again at dawn, and the city says tolls stay the same until spring.",
    ),
    (
        "Library lends out telescopes for the winter sky",
        "City Desk",
        "The central library now lends telescopes like books. Each comes with a star map and "
        "a short guide, and the first forty were booked within an hour.",
    ),
    (
        "Local bakery wins national sourdough prize",
        "Food Wire",
        "A family bakery on Mill Street won the national sourdough prize. The judges praised "
        "its crust; the owners say the starter is older than their shop.",
    ),
]


def tiny_mp4(path: Path) -> Path:
    """A one-second 9:16 clip, small enough to encode in a blink."""
    from novaavatar.media import FrameWriter

    if path.exists():
        return path
    w, h = 180, 320
    with FrameWriter(path, (w, h), 10, preset="ultrafast") as out:
        for i in range(10):
            frame = np.zeros((h, w, 3), np.uint8)
            frame[..., 0] = 40 + i * 10
            frame[..., 2] = 120
            frame[h // 3 : h // 2, w // 4 : 3 * w // 4] = 230  # the "presenter"
            out.write(frame)
    return path


def add_video(
    store: ArtifactStore,
    n: int,
    mp4: Path | None,
    *,
    state: ReviewState = ReviewState.PENDING,
    failed_check: bool = False,
    sample: bool = False,
    avatar_warnings: tuple[str, ...] = (),
) -> VideoManifest:
    """Save a manifest for story ``n`` (and its files when ``mp4`` is given); return it.
    ``sample``: the story is one of the bundled fictional ones."""
    title, source, text = STORIES[n % len(STORIES)]
    url = f"https://news.example.org/story-{n}"
    item = ContentItem(
        id=f"item-{n:04d}",
        title=title,
        summary=text,
        url=url,
        source=source,
        score=0.9 - n / 10,
        published=datetime(2025, 3, 1, 8, tzinfo=UTC) + timedelta(hours=n),
        sample=sample,
    )
    vid = f"vid-test{n:04d}"
    final = None
    if mp4 is not None:
        final = FinalVideo(
            key=store.put_file(f"videos/{vid}/final.mp4", mp4),
            srt_key=store.put_bytes(f"videos/{vid}/captions.srt", SRT.encode()),
            vtt_key=store.put_bytes(f"videos/{vid}/captions.vtt", VTT.encode()),
            width=180,
            height=320,
            fps=10,
            duration_s=1.0,
            size_bytes=mp4.stat().st_size,
        )
    checks = (
        QualityCheck(name="duration", passed=True, value=29.8, detail="within 15-90 s"),
        QualityCheck(
            name="loudness",
            passed=not failed_check,
            value=-31.0 if failed_check else -16.2,
            detail="integrated LUFS, expected -20..-12",
        ),
        QualityCheck(name="lip sync", passed=True, value=0.04, detail="offset in seconds"),
    )
    m = VideoManifest(
        video_id=vid,
        item=item,
        options=ProduceOptions(),
        created_at=datetime(2025, 3, 1, 9, tzinfo=UTC) + timedelta(hours=n),
        flow_run_id=f"0000000{n}-aaaa-bbbb-cccc-dddddddddddd",
        stages={
            "script": StageRecord(provider="template", seconds=0.1, detail="64 words"),
            "background": StageRecord(provider="procedural", seconds=0.4),
            "speech": StageRecord(provider="espeak-ng", seconds=1.2),
            "avatar": StageRecord(provider="lite", seconds=6.5, warnings=avatar_warnings),
            "compose": StageRecord(provider="ffmpeg", seconds=2.0),
        },
        script=VideoScript(
            text=text,
            style="news_anchor",
            target_duration_s=30,
            title=title,
            sources=(url,),
        ),
        final=final,
        quality=QualityReport(checks=checks),
    )
    if state is not ReviewState.PENDING:
        m.state = state
        m.history.append(ReviewEvent(state=state, by="earlier reviewer", note="set up by the test"))
    manifests.save(store, m, None)
    return manifests.load(store, vid)[0]
