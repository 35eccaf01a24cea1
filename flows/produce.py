"""Produce flows: one item, or many concurrently, from script to the review queue."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from flows.render_avatar import avatar_stage
from novaavatar import manifests, templates
from novaavatar.domain import (
    ContentItem,
    FinalVideo,
    ProduceOptions,
    QualityReport,
    RenderConfig,
    ReviewState,
    VideoManifest,
    VideoScript,
    video_id_for,
)
from novaavatar.errors import InputError, NotFoundError
from novaavatar.logs import run_settings
from novaavatar.settings import Settings, get_settings
from novaavatar.store import ArtifactStore, get_store, store_from_uri
from tasks.common import job_timeout, read_stage_records
from tasks.stages import (
    check_quality,
    compose_video,
    make_background,
    synthesize_speech,
    write_script,
)


def render_config(settings: Settings | None = None) -> RenderConfig:
    s = settings or get_settings()
    return RenderConfig(
        store_uri=get_store(s).uri,
        speech_speed=s.tts_speed,
        fps=s.avatar_fps,
        crf=s.video_crf,
        preset=s.video_preset,
        providers=provider_fingerprint(s),
    )


def provider_fingerprint(s: Settings) -> str:
    """The first available provider of each stage (with its model), e.g. ``script:openai``."""
    from tasks import background, script, speech

    chains: dict[str, list[Any]] = {
        "script": script.default_providers(),
        "background": background.default_providers(),
        "speech": speech.default_providers(),
    }
    models = {
        "openai": s.openai_model,
        "flux": f"{s.flux_model}:{s.background_style}:{s.background_candidates}",
        "openai-tts": f"{s.openai_tts_model}:{s.openai_tts_voice}",
        "dia": f"{s.dia_model_path}:{s.dia_seed}:{s.dia_reference_audio}",
    }
    out = []
    for stage, chain in chains.items():
        first = next((p.name for p in chain if p.available()), "none")
        out.append(f"{stage}:{first}" + (f":{models[first]}" if first in models else ""))
    from tasks.avatar.omniavatar import omniavatar_available

    if omniavatar_available(s):  # its settings change the frames; lite has none of its own
        out.append(
            f"avatar:omniavatar:{'14B' if s.use_14b_model else '1.3B'}:{s.num_steps}:"
            f"{s.guidance_scale}:{s.audio_scale}:{s.tea_cache_thresh}:{s.omniavatar_max_hw}:"
            f"{s.omniavatar_dtype}:{'/'.join(map(str, s.omniavatar_tea_cache_coefficients))}"
        )
    else:
        out.append("avatar:lite")
    if s.portrait_path is not None and Path(s.portrait_path).is_file():  # the presenter's face
        out.append(
            f"portrait:{hashlib.sha256(Path(s.portrait_path).read_bytes()).hexdigest()[:12]}"
        )
    return ",".join(out)


def ensure_render_limit(settings: Settings) -> None:
    """A Prefect tag concurrency limit: at most MAX_CONCURRENT_JOBS renders at once,
    across every worker (not a home-made semaphore)."""
    from prefect.client.orchestration import get_client

    from tasks.common import RENDER_TAG

    with get_client(sync_client=True) as client:
        client.create_concurrency_limit(
            tag=RENDER_TAG, concurrency_limit=settings.max_concurrent_jobs
        )


def with_results(settings: Settings) -> dict[str, Any]:
    """Task options that persist results next to the artifacts, so reruns hit the cache.

    With ``ARTIFACT_STORE=s3`` results go to the same bucket (``<prefix>/prefect-results``),
    so a worker on another host finds them; else under STORAGE_PATH.
    """
    from novaavatar.domain import stable_id

    if settings.artifact_store == "s3":
        from blocks.s3_store import S3ResultStorage

        prefix = "/".join(p for p in (settings.s3_prefix.strip("/"), "prefect-results") if p)
        block = S3ResultStorage(
            endpoint=settings.s3_endpoint,
            bucket=settings.s3_bucket,
            prefix=prefix,
            region=settings.s3_region,
            secure=settings.s3_secure,
        )
        where = f"{settings.s3_endpoint}/{settings.s3_bucket}/{prefix}"
        name = stable_id("novaavatar-results", where, length=10)
        block.save(name, overwrite=True)  # no credentials in it: workers use their settings
        return {"result_storage": f"{block.get_block_type_slug()}/{name}"}

    from prefect.filesystems import LocalFileSystem

    path = settings.results_path.resolve()
    path.mkdir(parents=True, exist_ok=True)
    # Prefect wants result storage saved server-side; one block per results folder
    name = stable_id("novaavatar-results", str(path), length=10)
    LocalFileSystem(basepath=str(path)).save(name, overwrite=True)
    return {"result_storage": f"local-file-system/{name}"}


def load_item(store: ArtifactStore, item_id: str) -> ContentItem:
    from novaavatar.domain import validate_key

    try:
        validate_key(f"items/{item_id}.json")
        return ContentItem.model_validate_json(store.get_bytes(f"items/{item_id}.json"))
    except (NotFoundError, ValueError):
        raise InputError(
            f"unknown item {item_id!r}: run `novaavatar scrape` and use an id it lists"
        ) from None


@dataclass
class _Pending:
    video_id: str
    item: ContentItem
    stages: dict[str, PrefectFuture]  # in pipeline order


def _submit(
    item: ContentItem,
    options: ProduceOptions,
    cfg: RenderConfig,
    opts: dict,
    takes: dict[str, int] | None = None,
    script: PrefectFuture | None = None,
    audio: PrefectFuture | None = None,
) -> _Pending:
    """Submit one item's stage graph; independent stages (background, speech) run in parallel.

    ``takes`` numbers regenerated stages: a new take is a new cache key, so that stage and
    everything downstream of it run again while the other stages come from the cache.
    ``script`` and ``audio`` replace those stages (manual creation from an upload).
    """
    t = takes or {}
    vid = video_id_for(item, options)
    brand = templates.brand_for(item, options, store_from_uri(cfg.store_uri))
    if script is None:
        script = write_script.with_options(**opts).submit(
            item, options, vid, cfg, t.get("script", 0)
        )
    image = make_background.with_options(**opts).submit(
        script, options, vid, cfg, t.get("background", 0)
    )
    if audio is None:
        audio = synthesize_speech.with_options(**opts).submit(
            script, options, vid, cfg, t.get("speech", 0)
        )
    avatar = (
        avatar_stage()
        .with_options(**opts)
        .submit(image, audio, options, vid, cfg, t.get("avatar", 0), script, brand)
    )
    final = compose_video.with_options(**opts).submit(avatar, audio, script, vid, cfg, brand)
    quality = check_quality.with_options(**opts).submit(final, audio, script, options, vid, cfg)
    stages = dict(
        script=script, background=image, speech=audio, avatar=avatar, compose=final, quality=quality
    )
    return _Pending(vid, item, stages)


@task(name="enqueue-for-review", task_run_name="enqueue {video_id}")
def enqueue_for_review(
    video_id: str,
    item: ContentItem,
    options: ProduceOptions,
    store_uri: str,
    script: VideoScript | None,
    final: FinalVideo | None,
    quality: QualityReport | None,
    error: str | None = None,
    takes: dict[str, int] | None = None,
    regenerated_by: str | None = None,
) -> VideoManifest:
    """Write the manifest: pending review, or failed with the reason.

    A video a reviewer already decided on keeps its decision and history; a rerun only
    refreshes outputs that are identical anyway (ids and keys are deterministic).
    """
    store = store_from_uri(store_uri)
    run_id = str(flow_run.id) if flow_run.id else None
    stages = read_stage_records(store, video_id)
    try:
        manifest, etag = manifests.load(store, video_id)
    except NotFoundError:
        manifest, etag = VideoManifest(video_id=video_id, item=item, options=options), None
    was = manifest.state if etag is not None else None
    if regenerated_by is not None and error is None:
        changed = [k for k, v in (takes or {}).items() if v != manifest.takes.get(k, 0)]
        manifest.reopen(by=regenerated_by, note=f"regenerated: {', '.join(changed) or 'nothing'}")
    manifest.takes = dict(takes or manifest.takes)
    decided = manifest.state not in (ReviewState.PENDING, ReviewState.FAILED)
    if error is not None:
        if decided:  # never let a failed rerun hide an approved or exported video
            return manifest
        # an exception's text may quote a configured secret: never store one in a manifest
        from novaavatar.logs import SecretRedactor

        redact = SecretRedactor(get_settings().secret_values()).redact
        manifest.state, manifest.error = ReviewState.FAILED, redact(error)
    else:
        manifest.script, manifest.final, manifest.quality = script, final, quality
        manifest.error = None
        if not decided:
            manifest.state = ReviewState.PENDING
    manifest.stages, manifest.flow_run_id = stages, run_id
    manifests.save(store, manifest, etag)
    _summary_artifact(manifest)
    newly_pending = was is not ReviewState.PENDING or regenerated_by is not None
    if manifest.state is ReviewState.PENDING and newly_pending:  # not on every cached rerun
        from novaavatar.webhooks import READY_FOR_REVIEW, notify

        notify(READY_FOR_REVIEW, manifest)  # never raises; a no-op without WEBHOOK_URL
    return manifest


def _summary_artifact(m: VideoManifest) -> None:
    rows = "\n".join(
        f"| {name} | {r.provider} | {r.seconds:.2f} | {', '.join(r.keys)} |"
        for name, r in m.stages.items()
    )
    checks = ""
    if m.quality:
        checks = "\n".join(
            f"- {'✅' if c.passed else '❌'} **{c.name}**: {c.value} ({c.detail})"
            for c in m.quality.checks
        )
    text = m.script.text if m.script else ""
    md = (
        f"# {m.item.title}\n\nVideo `{m.video_id}` — state **{m.state.value}**"
        f"{f' — error: {m.error}' if m.error else ''}\n\n"
        f"Source: [{m.item.source}]({m.item.url})\n\n## Script\n\n> {text}\n\n"
        f"## Stages\n\n| stage | provider | seconds | keys |\n|---|---|---|---|\n{rows}\n\n"
        f"## Quality\n\n{checks}\n"
    )
    create_markdown_artifact(key=f"video-{m.video_id}", markdown=md, description=m.item.title[:200])


def _collect(
    p: _Pending,
    options: ProduceOptions,
    cfg: RenderConfig,
    takes: dict[str, int] | None = None,
    regenerated_by: str | None = None,
) -> VideoManifest:
    """Wait for one item's graph and enqueue it, as pending or as failed with the reason."""
    last = p.stages["quality"]
    last.wait()
    if last.state.is_completed():
        return enqueue_for_review(
            p.video_id, p.item, options, cfg.store_uri,
            p.stages["script"].result(), p.stages["compose"].result(), last.result(),
            takes=takes, regenerated_by=regenerated_by,
        )  # fmt: skip
    reason = None
    for name, f in p.stages.items():
        f.wait()
        if f.state.is_failed():
            exc = f.state.result(raise_on_failure=False)
            reason = f"{name}: {exc}"
            break
    return enqueue_for_review(
        p.video_id, p.item, options, cfg.store_uri, None, None, None,
        error=reason or f"stage did not complete: {last.state.name}",
    )  # fmt: skip


@flow(
    name="produce-video",
    flow_run_name="produce {item_id}",
    log_prints=True,
    timeout_seconds=job_timeout(),  # JOB_TIMEOUT: a hung video fails instead of waiting forever
    task_runner=ThreadPoolTaskRunner(max_workers=4),  # type: ignore[arg-type]
)
def produce_video(
    item_id: str,
    style: str = "news_anchor",
    duration_s: float = 30,
    aspect: str = "9:16",
    voice: str | None = None,
    portrait_key: str | None = None,
    regenerate: list[str] | None = None,
    reviewer: str = "system",
    layout: str | None = None,
    format: str = "single",
    language: str = "en",
    template: str | None = None,
    guest_voice: str | None = None,
    guest_portrait_key: str | None = None,
    caption_style: str | None = None,
    transition: str = "crossfade",
) -> str:
    """Produce one scraped item into a video waiting for review; returns the video id.

    ``regenerate`` (script, background, speech, avatar) makes a new take of those stages for
    an existing video; the stages they feed re-run, the others come from the cache.
    ``template`` (name or name@version; None: the format's) fills voice, layout, caption
    style and portrait where they are left unset (None); the video records name@version.
    """
    settings = run_settings()
    store = get_store(settings)
    options = templates.build_options(
        dict(
            style=style,
            duration_s=duration_s,
            aspect=aspect,
            voice=voice,
            portrait_key=portrait_key,
            layout=layout,
            format=format,
            language=language,
            template=template,
            guest_voice=guest_voice,
            guest_portrait_key=guest_portrait_key,
            caption_style=caption_style,
            transition=transition,
        ),
        store,
    )
    item = load_item(store, item_id)
    cfg = render_config(settings)
    takes, regenerated_by = _next_takes(store, video_id_for(item, options), regenerate), None
    if regenerate:
        regenerated_by = reviewer
    ensure_render_limit(settings)
    pending = _submit(item, options, cfg, with_results(settings), takes)
    manifest = _collect(pending, options, cfg, takes, regenerated_by)
    if manifest.state is ReviewState.FAILED:
        raise RuntimeError(f"video {manifest.video_id} failed: {manifest.error}")
    print(
        f"video {manifest.video_id} is {manifest.state.value}: {manifest.final.key if manifest.final else ''}"
    )
    return manifest.video_id


@flow(
    name="produce-batch",
    flow_run_name="produce batch of {top}",
    log_prints=True,
    task_runner=ThreadPoolTaskRunner(max_workers=6),  # type: ignore[arg-type]
)
def produce_batch(
    item_ids: list[str] | None = None,
    top: int = 2,
    style: str = "news_anchor",
    duration_s: float = 30,
    aspect: str = "9:16",
    voice: str | None = None,
    layout: str | None = None,
    format: str = "single",
    languages: list[str] | None = None,
    template: str | None = None,
    caption_style: str | None = None,
    guest_voice: str | None = None,
    transition: str = "crossfade",
) -> list[str]:
    """Produce several items concurrently (the given ids, else the top scraped items).

    ``languages`` makes one version of each item per language (default: English only).
    One item's failure is recorded in its manifest and the others go on.
    """
    logger = get_run_logger()
    settings = run_settings()
    store = get_store(settings)
    variants = [
        templates.build_options(
            dict(
                style=style,
                duration_s=duration_s,
                aspect=aspect,
                voice=voice,
                layout=layout,
                format=format,
                language=lang,
                template=template,
                caption_style=caption_style,
                guest_voice=guest_voice,
                transition=transition,
            ),
            store,
        )
        for lang in dict.fromkeys(languages or ["en"])
    ]
    if not item_ids:
        item_ids = latest_item_ids(store)[:top]
    if not item_ids:
        raise InputError("no items to produce: run `novaavatar scrape` first")
    cfg = render_config(settings)
    opts = with_results(settings)
    ensure_render_limit(settings)
    pending = []
    for item_id in item_ids:
        try:
            item = load_item(store, item_id)
        except InputError as e:
            logger.error("skipping item %s: %s", item_id, e)
            continue
        for options in variants:
            takes = _next_takes(store, video_id_for(item, options), None)
            pending.append((_submit(item, options, cfg, opts, takes), options, takes))
    done = [_collect(p, options, cfg, takes) for p, options, takes in pending]
    for m in done:
        print(f"{m.video_id}: {m.state.value} {m.error or ''}".rstrip())
    return [m.video_id for m in done if m.state is not ReviewState.FAILED]


def _next_takes(
    store: ArtifactStore, video_id: str, regenerate: list[str] | None
) -> dict[str, int]:
    """The video's current takes, with one more for each stage to regenerate."""
    from tasks.stages import REGENERABLE

    unknown = sorted(set(regenerate or []) - set(REGENERABLE))
    if unknown:
        raise InputError(f"cannot regenerate {unknown}: choose from {', '.join(REGENERABLE)}")
    try:
        manifest, _ = manifests.load(store, video_id)
        takes = dict(manifest.takes)
    except NotFoundError:
        if regenerate:
            raise InputError(f"no video {video_id!r} to regenerate: produce it first") from None
        takes = {}
    for stage in regenerate or []:
        takes[stage] = takes.get(stage, 0) + 1
    return takes


def regenerate_video(video_id: str, stages: list[str], reviewer: str) -> str:
    """Regenerate stages of an existing video with the options it was made with."""
    store = get_store()
    manifest, _ = manifests.load(store, video_id)
    o = manifest.options
    return produce_video(
        manifest.item.id, style=o.style, duration_s=o.duration_s, aspect=o.aspect,
        voice=o.voice, portrait_key=o.portrait_key, regenerate=stages, reviewer=reviewer,
        layout=o.layout, format=o.format, language=o.language,
        template=o.template or templates.NO_TEMPLATE,  # made without one: stays plain
        guest_voice=o.guest_voice, guest_portrait_key=o.guest_portrait_key,
        caption_style=o.caption_style, transition=o.transition,
    )  # fmt: skip


def latest_item_ids(store: ArtifactStore) -> list[str]:
    """Ids of the last scrape's items, best first."""
    if not store.exists("items/latest.json"):
        return []
    return list(store.get_json("items/latest.json")["ids"])
