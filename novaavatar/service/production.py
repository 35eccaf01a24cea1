"""Starting production: every front door builds a :class:`Work` here and starts it.

A piece of work is described once: the deployment and its parameters (options as one
typed object, with only the keys the user chose) and the same call in-process. The review
page and the API hand it to :func:`novaavatar.service.jobs.submit` (the server's
deployment when there is one, else a thread); the CLI runs it in the foreground.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from novaavatar import manifests, presenters, templates
from novaavatar.domain import ContentItem, ProduceOptions, Regeneration, VideoManifest
from novaavatar.errors import InputError
from novaavatar.items import load_item
from novaavatar.service import jobs, runs
from novaavatar.settings import Settings, get_settings
from novaavatar.store import ArtifactStore

PRODUCE_BATCH = "produce-batch/default"
PRODUCE_VIDEO = "produce-video/default"
SCRAPE = "scrape-content/default"
MANUAL = "manual-create/default"


@dataclass(frozen=True)
class Work:
    """One flow run to start: on the server (``deployment`` + ``parameters``) or here."""

    label: str
    deployment: str
    parameters: dict[str, Any]
    local: Callable[[], Any]
    video_id: str | None = None

    def start(self, by: str | None = None) -> jobs.Job:
        """Hand the work to the server's deployment, else to a background thread; ``by``
        (who starts it) is recorded on the flow run as the tag ``by:<name>``."""
        return jobs.submit(
            self.label, self.deployment, self.parameters, self.local, self.video_id, by
        )

    def run_here(self, by: str | None = None) -> Any:
        """Run the flow in this process and wait for it (the CLI), tagged ``by:<name>``."""
        return jobs.tagged(self.local, runs.by_tag(by) if by else "")()


# --- checking what a user asked for -------------------------------------------------------


def _why(e: ValidationError) -> str:
    """Each invalid option as ``name='value': what is wrong``, in one line."""
    parts = []
    for err in e.errors():
        where = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}={err.get('input')!r}: {msg}" if where else msg)
    return "; ".join(parts)


def options_from(values: Mapping[str, Any]) -> ProduceOptions:
    """ProduceOptions holding exactly what the user set (None: not set); InputError naming
    the option that does not fit, before anything is started."""
    try:
        return ProduceOptions.model_validate({k: v for k, v in values.items() if v is not None})
    except ValidationError as e:
        raise InputError(_why(e)) from None


def check_voice(voice: str) -> None:
    """InputError unless ``voice`` is an eSpeak NG voice (``name`` or ``name+variant``)."""
    from tasks.speech import espeak

    known = espeak.list_voices()
    if voice not in known and voice.split("+")[0] not in known:
        some = ", ".join(v for v in known if "/" not in v and len(v) <= 5)
        raise InputError(f"unknown eSpeak voice {voice!r}; choose one of: {some}")


def resolve(
    options: ProduceOptions,
    store: ArtifactStore,
    language: str | None = None,
    settings: Settings | None = None,
) -> ProduceOptions:
    """The options a flow will make the video with (template and settings filled in), so a
    bad template or voice is an InputError now and the video id is known up front."""
    chosen = options.chosen()
    if language is not None:
        chosen["language"] = language
    try:
        resolved = templates.build_options(chosen, store, settings or get_settings())
    except ValidationError as e:
        raise InputError(_why(e)) from None
    check_voice(resolved.voice)
    if resolved.guest_voice:
        check_voice(resolved.guest_voice)
    return resolved


def _parameters(options: ProduceOptions) -> dict[str, Any]:
    """Options as a deployment parameter: only the chosen keys, so the flow still fills the
    rest from the template and the settings of the worker."""
    return options.model_dump(mode="json", exclude_unset=True)


# --- work ---------------------------------------------------------------------------------


def scrape(
    sources: Sequence[str], keywords: Sequence[str], limit: int, sample: bool = False
) -> Work:
    """Scrape ``sources`` (empty: RSS_FEEDS); ``sample``: the bundled fictional stories, only
    when a user asks for them."""
    params: dict[str, Any] = {"sources": list(sources), "keywords": list(keywords), "limit": limit}
    if sample:
        params = {"sources": [], "keywords": list(keywords), "limit": limit, "sample": True}

    def local() -> Any:
        from flows.scrape import scrape_content

        return scrape_content(**params)

    if sample:
        label = "scrape the bundled sample (fiction)"  # the flow run's name
    else:
        label = f"scrape {len(sources)} sources" if sources else "scrape configured sources"
    return Work(label, SCRAPE, params, local)


def produce(
    store: ArtifactStore,
    item_ids: Sequence[str] | None,
    options: ProduceOptions,
    languages: Sequence[str] | None = None,
    top: int = 1,
) -> Work:
    """A batch: one video per item and language (``languages``: default the options')."""
    langs = list(dict.fromkeys(languages)) if languages is not None else None
    if langs is not None and not langs:
        raise InputError("languages: choose at least one (one video is made per language)")
    for lang in langs or [options.language]:
        resolve(options, store, lang)
    for item_id in item_ids or []:
        load_item(store, item_id)
    params: dict[str, Any] = {
        "item_ids": list(item_ids or []) or None,
        "top": len(item_ids) if item_ids else top,  # the run is named "produce batch of N"
        "options": _parameters(options),
        "languages": langs,
    }

    def local() -> Any:
        from flows.produce import produce_batch

        return produce_batch(**params)

    what = f"{len(item_ids)} item(s)" if item_ids else f"the top {top} item(s)"
    return Work(f"produce {what}", PRODUCE_BATCH, params, local)


def produce_one(store: ArtifactStore, item: ContentItem, options: ProduceOptions) -> Work:
    """One video of one item (``options.variants``: that many A/B takes); ``video_id`` is
    the one it will have (the first take's)."""
    from novaavatar.domain import variant_takes, video_id_for

    resolved = resolve(options, store)
    first, _ = variant_takes(item, resolved)[0]
    params: dict[str, Any] = {"item_id": item.id, "options": _parameters(options)}

    def local() -> Any:
        from flows.produce import produce_video

        return produce_video(**params)

    label = f"produce {item.id}"
    if resolved.variants > 1:
        label += f" in {resolved.variants} variants"
    return Work(label, PRODUCE_VIDEO, params, local, video_id_for(item, first))


def as_chosen(manifest: VideoManifest) -> ProduceOptions:
    """A video's options with every field chosen, so nothing is filled in anew: a template
    that changed since, or a setting, cannot change the video (its id stays the same)."""
    data = manifest.options.model_dump(mode="json")
    data["template"] = manifest.options.template or templates.NO_TEMPLATE
    data["presenter"] = manifest.options.presenter or presenters.NO_PRESENTER
    return ProduceOptions.model_validate(data)


def regenerate(store: ArtifactStore, video_id: str, stages: Sequence[str], reviewer: str) -> Work:
    """New takes of ``stages`` of an existing video, made with the options it was made with."""
    manifest, _ = manifests.load(store, video_id)  # a clear error for an unknown id
    try:
        again = Regeneration(stages=tuple(stages), reviewer=reviewer)  # type: ignore[arg-type]
    except ValidationError as e:
        raise InputError(_why(e)) from None
    params: dict[str, Any] = {
        "item_id": manifest.item.id,
        "options": as_chosen(manifest).model_dump(mode="json"),
        "regenerate": again.model_dump(mode="json"),
    }

    def local() -> Any:
        from flows.produce import produce_video

        return produce_video(**params)

    label = f"regenerate {', '.join(stages)} of {video_id}"
    return Work(label, PRODUCE_VIDEO, params, local, video_id)


def manual(
    store: ArtifactStore,
    title: str,
    options: ProduceOptions,
    audio_key: str | None = None,
    text: str | None = None,
    prompt: str = "",
) -> Work:
    """A video from an uploaded portrait (``options.portrait_key``) with uploaded audio or
    a text to speak."""
    check_manual(store, title, options, audio_key is not None, text)
    params: dict[str, Any] = {
        "title": title.strip(),
        "audio_key": audio_key,
        "text": text if audio_key is None else None,
        "prompt": prompt,
        "options": _parameters(options),
    }

    def local() -> Any:
        from flows.manual import manual_create

        return manual_create(**params)

    return Work(f"manual {title.strip()}", MANUAL, params, local)  # the flow run's name


def check_manual(
    store: ArtifactStore, title: str, options: ProduceOptions, has_audio: bool, text: str | None
) -> None:
    """InputError for a manual creation that cannot work, before any upload is stored."""
    if not title.strip():
        raise InputError("title is empty: give the video a title")
    if not has_audio and not (text and text.strip()):
        raise InputError("give either an audio upload or a text to speak")
    if options.template not in (None, templates.NO_TEMPLATE):
        templates.resolve(options.template, store)  # an unknown template fails now
    if options.presenter not in (None, presenters.NO_PRESENTER):
        presenters.resolve(options.presenter, store)  # an unknown presenter fails now
    chosen = options.chosen()
    for voice in (chosen.get("voice"), options.guest_voice):
        if voice:
            check_voice(str(voice))
