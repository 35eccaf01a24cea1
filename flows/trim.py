"""Trim a video before it is approved: cut its start and end, re-encode only the final MP4
(the avatar is not rendered again), move the captions, check the quality again."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

from prefect import flow, task

from novaavatar import events, manifests
from novaavatar.domain import (
    FinalVideo,
    GeneratedAudio,
    RenderConfig,
    Trim,
    VideoManifest,
    WordTiming,
    stable_id,
)
from novaavatar.errors import ConflictError
from novaavatar.logs import run_settings
from novaavatar.store import get_store, store_from_uri
from tasks.common import RENDER_TAG, job_timeout, read_stage_records, retry_unless_bad_input
from tasks.compose import trim as trimming
from tasks.pipeline import render_config
from tasks.stages import check_quality


@task(
    name="trim-final",
    task_run_name="trim {video_id}",
    tags=[RENDER_TAG],
    retries=1,
    retry_condition_fn=retry_unless_bad_input,
)
def trim_final(
    untrimmed: FinalVideo,
    start_s: float,
    end_s: float,
    words: tuple[WordTiming, ...],
    video_id: str,
    cfg: RenderConfig,
) -> tuple[FinalVideo, GeneratedAudio]:
    """Cut the composed video to ``start_s``–``end_s``, with captions (and chapters) on the
    cut's timeline; the speech it keeps, for the quality checks."""
    from tasks.compose import chapters as ch
    from tasks.compose.captions import build_captions, to_srt, to_vtt

    store = store_from_uri(cfg.store_uri)
    w = trimming.Window(start_s, end_s)
    tag = stable_id("", untrimmed.key, w.start_s, w.end_s, length=8)
    base = f"videos/{video_id}"
    with tempfile.TemporaryDirectory(prefix="nova-trim-") as tmp:
        out = Path(tmp) / "final.mp4"
        trimming.cut(store.materialize(untrimmed.key), out, w, cfg.crf, cfg.preset)
        audio = trimming.kept_speech(untrimmed, words, w, f"{base}/final-trim{tag}.mp4")
        # a caption lingers after its last word, but not past the cut's end
        captions = [replace(c, end=min(c.end, w.length_s)) for c in build_captions(audio.words)]
        keys = {
            "srt": store.put_bytes(f"{base}/captions-trim{tag}.srt", to_srt(captions).encode()),
            "vtt": store.put_bytes(f"{base}/captions-trim{tag}.vtt", to_vtt(captions).encode()),
        }
        chapters = trimming.cut_chapters(untrimmed.chapters, w)
        if chapters:
            ch.write_chapters(out, chapters)
            text = ch.to_vtt_chapters(chapters).encode()
            keys["chapters"] = store.put_bytes(f"{base}/chapters-trim{tag}.vtt", text)
        keys["video"] = store.put_file(audio.key, out, "video/mp4")
        final = trimming.trimmed_final(untrimmed, w, out, keys)
    return final, audio


def untrimmed_of(m: VideoManifest) -> FinalVideo | None:
    """The composed video a cut is made from: a trimmed video's original, else its final."""
    return m.trim.untrimmed if m.trim is not None else m.final


@flow(
    name="trim-video",
    flow_run_name="trim {video_id}",
    log_prints=True,
    timeout_seconds=job_timeout(),
)
def trim_video(
    video_id: str, start_s: float = 0.0, end_s: float | None = None, reviewer: str = "system"
) -> str:
    """Keep ``start_s``–``end_s`` (seconds of the untrimmed video; ``end_s`` None: to its
    end) of a pending, rejected or failed video; it goes back to pending review. The avatar is
    not rendered again; captions move with the cut and the quality checks run on it."""
    settings = run_settings()
    store = get_store(settings)
    cfg = render_config(settings)
    manifest, _ = manifests.load(store, video_id)
    manifest.check_editable("trimming it")
    untrimmed = untrimmed_of(manifest)
    if untrimmed is None or manifest.script is None:
        raise ConflictError(f"video {video_id} has no final video to trim: produce it first")
    w = trimming.window(untrimmed, start_s, end_s)
    words = trimming.spoken_words(store, manifest)
    final, audio = trim_final(untrimmed, w.start_s, w.end_s, words, video_id, cfg)
    report = check_quality(final, audio, manifest.script, manifest.options, video_id, cfg)

    def record(m: VideoManifest) -> None:
        if untrimmed_of(m) != untrimmed:
            raise ConflictError(f"video {video_id} was rendered again meanwhile; trim that one")
        span = f"{w.start_s:g}–{w.end_s:g} s of {untrimmed.duration_s:.1f} s"
        m.reopen(by=reviewer, note=f"trimmed to {span}")
        m.trim = Trim(start_s=w.start_s, end_s=w.end_s, by=reviewer, untrimmed=untrimmed)
        m.final, m.quality = final, report
        m.stages = read_stage_records(store, video_id)  # the quality record of the cut

    events.emit_edit(manifests.update(store, video_id, record), "trim")
    print(f"video {video_id} trimmed to {final.duration_s:.2f} s: {final.key}")
    return video_id
