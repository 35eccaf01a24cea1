"""The produce stage graph that every production flow submits: script → background and
speech in parallel → avatar → compose → quality → the review queue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prefect import Task, task
from prefect.artifacts import create_markdown_artifact
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run
from prefect.utilities.annotations import opaque

from flows.render_avatar import avatar_stage_tags
from novaavatar import consent, events, manifests, templates
from novaavatar.domain import (
    REGENERABLE,
    BackgroundSwap,
    ContentItem,
    FinalVideo,
    ProduceOptions,
    QualityReport,
    RenderConfig,
    ReviewState,
    VariantTake,
    VideoManifest,
    VideoScript,
    video_id_for,
)
from novaavatar.errors import InputError, NotFoundError
from novaavatar.logs import redact
from novaavatar.store import ArtifactStore, store_from_uri
from tasks.common import read_stage_records
from tasks.script.edit import background_script, generated_of, script_diff, with_backdrop
from tasks.stages import (
    check_quality,
    compose_video,
    first_provider,
    given_background,
    given_script,
    make_background,
    provider_tag,
    synthesize_speech,
    write_script,
)


@dataclass
class Pending:
    video_id: str
    item: ContentItem
    stages: dict[str, PrefectFuture]  # in pipeline order
    generated: VideoScript | None = None  # the script stage's, when a reviewer's edit is spoken
    swap: BackgroundSwap | None = None  # a reviewer's background
    variant: VariantTake | None = None  # an A/B take: its group, label, hook and style


def submit_graph(
    item: ContentItem,
    options: ProduceOptions,
    cfg: RenderConfig,
    opts: dict,
    takes: dict[str, int] | None = None,
    script: PrefectFuture | None = None,
    audio: PrefectFuture | None = None,
    edit: VideoScript | None = None,
    background: BackgroundSwap | None = None,
    variant: VariantTake | None = None,
) -> Pending:
    """Submit one item's stage graph; independent stages (background, speech) run in parallel.

    ``takes`` numbers regenerated stages: a new take is a new cache key, so that stage and
    everything downstream of it run again while the other stages come from the cache.
    ``script`` and ``audio`` replace those stages (manual creation from an upload).
    ``edit`` is a reviewer's edited script, spoken instead of the script stage's; without
    one, a video whose script a reviewer edited keeps speaking the edit until its script is
    regenerated. The background is still made from the generated script (from the cache).
    ``background`` is a reviewer's image or prompt, kept the same way until the background
    is regenerated; the script and speech then come from the cache.
    ``variant`` marks an A/B take (its ``options`` carry its hook and style).
    """
    t = takes or {}
    vid = video_id_for(item, options)
    store = store_from_uri(cfg.store_uri)
    consent.require(store, options)  # a real person's likeness only with an attestation
    manifest = _manifest_of(store, vid, edit is not None or background is not None)
    generated, drawn_from = None, None
    if script is None and manifest is not None:
        generated, edit = _script_edit(manifest, store, t, edit)
    # a title the reviewer changed goes on the brand's cards too
    retitled = edit.title if edit and generated and edit.title != generated.title else ""
    brand = templates.brand_for(item, options, store, title=retitled)
    if edit is not None and generated is not None:
        script = _by(given_script, "edited", opts).submit(edit, vid, cfg, "edited")
        drawn_from = background_script(generated, edit)
    elif script is None:
        script = _by(write_script, first_provider("script", options), opts).submit(
            item, options, vid, cfg, t.get("script", 0)
        )
    swap = _background_swap(manifest, t, background)
    if swap is not None and swap.image_key is not None:
        image = _by(given_background, "upload", opts).submit(swap.image_key, options, vid, cfg)
    else:
        if swap is not None:  # a new prompt, for the script the background is drawn for
            base = drawn_from or (generated_of(manifest, store) if manifest else None)
            if base is None:
                raise InputError(f"video {vid} has no script to draw a background for yet")
            drawn_from = with_backdrop(base, swap.prompt)
        image = _by(make_background, first_provider("background", options), opts).submit(
            _up(drawn_from or script), options, vid, cfg, t.get("background", 0)
        )
    if audio is None:
        audio = _by(synthesize_speech, first_provider("speech", options), opts).submit(
            _up(script), options, vid, cfg, t.get("speech", 0)
        )
    stage, tags = avatar_stage_tags(options)
    avatar = stage.with_options(**opts, tags=[*stage.tags, *tags]).submit(
        _up(image), _up(audio), options, vid, cfg, t.get("avatar", 0), _up(script), brand
    )
    final = _by(compose_video, first_provider("compose", options), opts).submit(
        _up(avatar), _up(audio), _up(script), vid, cfg, brand
    )
    quality = _by(check_quality, first_provider("quality", options), opts).submit(
        _up(final), _up(audio), _up(script), options, vid, cfg
    )
    stages = dict(
        script=script, background=image, speech=audio, avatar=avatar, compose=final, quality=quality
    )
    return Pending(vid, item, stages, generated, swap, variant)


def _by(stage: Task[..., Any], provider: str, opts: dict) -> Task[..., Any]:
    """The stage task with its provider as a tag: resolved now, because Prefect cannot tag a
    task run after it is created."""
    return stage.with_options(**opts, tags=[*stage.tags, provider_tag(provider)])


def _up(value: Any) -> Any:
    """An upstream stage's future as a data dependency only: ``opaque`` keeps Prefect from
    taking a still-running upstream task for the new task's *parent* (it would draw the
    stage nested under it in the run graph, e.g. the avatar under the script); the future
    is still waited for and resolved to its result."""
    return opaque(value) if isinstance(value, PrefectFuture) else value


def _manifest_of(store: ArtifactStore, video_id: str, required: bool) -> VideoManifest | None:
    """The video's manifest; None for a new video, unless an edit of it was asked for."""
    try:
        return manifests.load(store, video_id)[0]
    except NotFoundError:
        if required:
            raise InputError(f"no video {video_id!r} to edit: produce it first") from None
        return None


def _script_edit(
    manifest: VideoManifest, store: ArtifactStore, takes: dict[str, int], edit: VideoScript | None
) -> tuple[VideoScript | None, VideoScript | None]:
    """(generated script, edited script) when the video is to speak a reviewer's edit:
    ``edit``, else the edit its manifest keeps while the script take is unchanged."""
    if edit is None:
        kept = manifest.generated_script is not None and manifest.script is not None
        if not kept or takes.get("script", 0) != manifest.takes.get("script", 0):
            return None, None
        return manifest.generated_script, manifest.script
    generated = generated_of(manifest, store)
    if generated is None:
        raise InputError(
            f"video {manifest.video_id} has no generated script to edit: regenerate it"
        )
    return generated, edit


def _background_swap(
    manifest: VideoManifest | None, takes: dict[str, int], swap: BackgroundSwap | None
) -> BackgroundSwap | None:
    """``swap``, else the reviewer's background the manifest keeps while the background
    take is unchanged."""
    if swap is not None or manifest is None or manifest.background_swap is None:
        return swap
    if takes.get("background", 0) != manifest.takes.get("background", 0):
        return None
    return manifest.background_swap


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
    generated_script: VideoScript | None = None,
    background_swap: BackgroundSwap | None = None,
    variant: VariantTake | None = None,
) -> VideoManifest:
    """Write the manifest: pending review, or failed with the reason.

    ``generated_script`` is the script stage's when ``script`` is a reviewer's edit; a new
    edit is recorded in the history with its diff against the generated script.
    ``variant`` records an A/B take's group, label, hook and style (kept on later reruns).

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
    if variant is not None:
        manifest.variant = variant
    edited = None  # what a reviewer's edit changed: the event novaavatar.video.edited says so
    if regenerated_by is not None and error is None:
        changed = [k for k, v in (takes or {}).items() if v != manifest.takes.get(k, 0)]
        if generated_script is not None and script is not None and script != manifest.script:
            diff = script_diff(generated_script, script)
            manifest.reopen(by=regenerated_by, note=_edit_note(manifest.script, script), diff=diff)
            edited = "script"
        elif background_swap is not None and background_swap != manifest.background_swap:
            note = f"swapped the background: {background_swap.describe()}"
            manifest.reopen(by=regenerated_by, note=note)
            edited = "background"
        else:
            note = f"regenerated: {', '.join(changed) or 'nothing'}"
            manifest.reopen(by=regenerated_by, note=note)
    manifest.takes = dict(takes or manifest.takes)
    decided = manifest.state not in (ReviewState.PENDING, ReviewState.FAILED)
    if error is not None:
        if decided:  # never let a failed rerun hide an approved or exported video
            return manifest
        # an exception's text may quote a key or a path: never keep one (save() redacts too)
        manifest.state, manifest.error = ReviewState.FAILED, redact(error)
    else:
        kept = manifest.trim is not None and manifest.trim.untrimmed == final
        if not kept:  # a new render drops a reviewer's cut; a cached rerun keeps it
            manifest.final, manifest.quality, manifest.trim = final, quality, None
        manifest.script, manifest.generated_script = script, generated_script
        manifest.background_swap = background_swap
        manifest.error = None
        if not decided:
            manifest.state = ReviewState.PENDING
    manifest.stages, manifest.flow_run_id = stages, run_id
    manifest.consents = {
        role: found
        for role, key in consent.portraits(options).items()
        if (found := consent.consent_for(store, key)) is not None
    }
    manifests.save(store, manifest, etag)
    if edited is not None:
        events.emit_edit(manifest, edited)
    _summary_artifact(manifest)
    newly_pending = was is not ReviewState.PENDING or regenerated_by is not None
    if manifest.state is ReviewState.PENDING and newly_pending:  # not on every cached rerun
        from novaavatar.webhooks import READY_FOR_REVIEW, notify

        notify(READY_FOR_REVIEW, manifest)  # never raises; a no-op without WEBHOOK_URL
    return manifest


def _edit_note(before: VideoScript | None, after: VideoScript) -> str:
    """'edited the script: text, title' — which parts a reviewer's edit changed."""
    parts = ("text", "title", "keywords", "call_to_action")
    what = [p for p in parts if before is None or getattr(before, p) != getattr(after, p)]
    names = {"keywords": "hashtags", "call_to_action": "call to action"}
    return f"edited the script: {', '.join(names.get(p, p) for p in what) or 'nothing'}"


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
    create_markdown_artifact(
        key=f"video-{m.video_id}", markdown=redact(md), description=redact(m.item.title[:200])
    )


def collect(
    p: Pending,
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
            p.video_id,
            p.item,
            options,
            cfg.store_uri,
            p.stages["script"].result(),
            p.stages["compose"].result(),
            last.result(),
            takes=takes,
            regenerated_by=regenerated_by,
            generated_script=p.generated,
            background_swap=p.swap,
            variant=p.variant,
        )
    reason = None
    for name, f in p.stages.items():
        f.wait()
        if f.state.is_failed():
            exc = f.state.result(raise_on_failure=False)
            reason = f"{name}: {exc}"
            break
    return enqueue_for_review(
        p.video_id,
        p.item,
        options,
        cfg.store_uri,
        None,
        None,
        None,
        error=reason or f"stage did not complete: {last.state.name}",
        variant=p.variant,
    )


def next_takes(store: ArtifactStore, video_id: str, regenerate: list[str] | None) -> dict[str, int]:
    """The video's current takes, with one more for each stage to regenerate."""
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
