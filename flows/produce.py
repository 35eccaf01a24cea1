"""Produce flows: one item, or many concurrently, from script to the review queue."""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.task_runners import ThreadPoolTaskRunner

from flows.graph import collect, next_takes, submit_graph
from novaavatar import templates
from novaavatar.domain import (
    ProduceOptions,
    Regeneration,
    ReviewState,
    variant_takes,
    video_id_for,
)
from novaavatar.errors import InputError
from novaavatar.items import latest_item_ids, load_item
from novaavatar.logs import run_settings
from novaavatar.store import get_store
from tasks.common import job_timeout
from tasks.pipeline import ensure_render_limit, render_config, with_results


def _video_run_name() -> str:
    """What a produce-video run does, as the Jobs page and the Prefect UI list it: a new
    video, an edit, a background swap or new takes of some stages."""
    from prefect.runtime import flow_run

    params = flow_run.parameters
    item, again = params.get("item_id", "?"), params.get("regenerate")
    if again is None:
        return f"produce {item}"
    if isinstance(again, Regeneration):
        again = again.model_dump()
    if again.get("script"):
        return f"edit script of {item} by {again.get('reviewer', '?')}"
    if again.get("background"):
        return f"swap background of {item} by {again.get('reviewer', '?')}"
    return f"regenerate {', '.join(again.get('stages') or ())} of {item}"


@flow(
    name="produce-video",
    flow_run_name=_video_run_name,
    log_prints=True,
    timeout_seconds=job_timeout(),  # JOB_TIMEOUT: a hung video fails instead of waiting forever
    task_runner=ThreadPoolTaskRunner(max_workers=4),  # type: ignore[arg-type]
)
def produce_video(
    item_id: str,
    options: ProduceOptions | None = None,
    regenerate: Regeneration | None = None,
) -> str:
    """Produce one scraped item into a video waiting for review; returns the video id.

    ``options`` holds what the user chose; what it leaves unset comes from its template
    (``template``: name or name@version, None: the format's, "none": plain), then from the
    settings (DEFAULT_STYLE, DEFAULT_DURATION, DEFAULT_ASPECT, TTS_VOICE). ``regenerate``
    makes a new take of some stages of an existing video; the stages they feed re-run, the
    others come from the cache. Its ``script`` (a reviewer's edit) is spoken instead of the
    generated one: speech, avatar, compose and quality run again, the background does not.
    Its ``background`` (an uploaded image or a prompt) makes the background, avatar, compose
    and quality again; the script and speech come from the cache.

    ``options.variants`` (2-4) makes that many A/B takes of the item, whose scripts differ in
    hook and style, as one variant group in the review queue; the first take's id is
    returned (every take's id is printed).
    """
    settings = run_settings()
    store = get_store(settings)
    chosen = options.chosen() if options is not None else {}
    resolved = templates.build_options(chosen, store, settings)
    item = load_item(store, item_id)
    plan = variant_takes(item, resolved)
    if regenerate is not None and len(plan) > 1:
        raise InputError("regenerate one video at a time: a regeneration takes variants=1")
    cfg = render_config(settings)
    stages = [str(s) for s in regenerate.stages] if regenerate else None
    ensure_render_limit(settings)
    edit = regenerate.script if regenerate else None
    swap = regenerate.background if regenerate else None
    opts = with_results(settings)
    reviewer = regenerate.reviewer if regenerate else None
    pending = []
    for take_options, variant in plan:
        takes = next_takes(store, video_id_for(item, take_options), stages)
        p = submit_graph(
            item, take_options, cfg, opts, takes, edit=edit, background=swap, variant=variant
        )
        pending.append((p, take_options, takes))
    done = [collect(p, o, cfg, takes, reviewer) for p, o, takes in pending]
    for manifest in done:
        where = manifest.final.key if manifest.final else ""
        label = f" (take {manifest.variant.label})" if manifest.variant else ""
        print(f"video {manifest.video_id}{label} is {manifest.state.value}: {where}")
    for manifest in done:
        if manifest.state is ReviewState.FAILED:
            raise RuntimeError(f"video {manifest.video_id} failed: {manifest.error}")
    return done[0].video_id


@flow(
    name="produce-batch",
    flow_run_name="produce batch of {top}",
    log_prints=True,
    task_runner=ThreadPoolTaskRunner(max_workers=6),  # type: ignore[arg-type]
)
def produce_batch(
    item_ids: list[str] | None = None,
    top: int = 2,
    options: ProduceOptions | None = None,
    languages: list[str] | None = None,
) -> list[str]:
    """Produce several items concurrently (the given ids, else the top scraped items).

    ``options`` as for produce-video (``variants``: that many A/B takes of each item and
    language); ``languages`` makes one version of each item per language (default: the
    options' language). One item's failure is recorded in its
    manifest and the others go on.
    """
    logger = get_run_logger()
    settings = run_settings()
    store = get_store(settings)
    chosen = options.chosen() if options is not None else {}
    langs = languages or [str(chosen.get("language", "en"))]
    variants = [
        templates.build_options({**chosen, "language": lang}, store, settings)
        for lang in dict.fromkeys(langs)
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
        for resolved in variants:
            for take_options, variant in variant_takes(item, resolved):
                takes = next_takes(store, video_id_for(item, take_options), None)
                p = submit_graph(item, take_options, cfg, opts, takes, variant=variant)
                pending.append((p, take_options, takes))
    done = [collect(p, resolved, cfg, takes) for p, resolved, takes in pending]
    for m in done:
        print(f"{m.video_id}: {m.state.value} {m.error or ''}".rstrip())
    return [m.video_id for m in done if m.state is not ReviewState.FAILED]
