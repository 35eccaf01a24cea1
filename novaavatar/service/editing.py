"""Edit before approve: a reviewer's changes to a video that is not approved yet, the same
from every door (review page, API, CLI).

An edited script is a new take of the video: speech, avatar, compose and quality run again
with it on the ``produce-video`` deployment (or in-process), the background comes from the
cache, and the history keeps the diff against the generated script. The flow run that
records an edit, a trim or a background swap emits the Prefect event
``novaavatar.video.edited`` (:func:`novaavatar.events.emit_edit`), so the event follows what
the manifest holds, not a job that might still fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from novaavatar import manifests
from novaavatar.domain import BackgroundSwap, Regeneration, VideoManifest, VideoScript
from novaavatar.errors import ConflictError, InputError, NovaAvatarError
from novaavatar.items import load_item
from novaavatar.service.decisions import UnknownReviewer
from novaavatar.service.production import PRODUCE_VIDEO, Work, as_chosen
from novaavatar.settings import Settings, get_settings
from novaavatar.store import ArtifactStore
from tasks.script.edit import apply_edit, editable_text, generated_of


class NotEditable(NovaAvatarError):
    """The video's state does not allow an edit (approved or exported)."""


@dataclass(frozen=True)
class ScriptChanges:
    """What a reviewer changed; None leaves that part as it is."""

    text: str | None = None
    title: str | None = None
    keywords: tuple[str, ...] | None = None
    call_to_action: str | None = None

    @property
    def empty(self) -> bool:
        return all(v is None for v in (self.text, self.title, self.keywords, self.call_to_action))


def editable(manifest: VideoManifest) -> str:
    """The video's current script text as a reviewer edits it ('Host:' lines for a
    conversation, '# Title' paragraphs for an explainer); '' when it has none yet."""
    return editable_text(manifest.script) if manifest.script is not None else ""


def _checked(
    store: ArtifactStore,
    video_id: str,
    reviewer: str,
    expected_version: int | None,
    settings: Settings | None,
) -> VideoManifest:
    """The manifest, when ``reviewer`` may change it now; the error saying why not else."""
    s = settings or get_settings()
    if s.reviewers and reviewer not in s.reviewers:
        raise UnknownReviewer(f"reviewer {reviewer!r} is not in REVIEWERS")
    manifest, _ = manifests.load(store, video_id)
    if expected_version is not None and manifest.version != expected_version:
        last = manifest.history[-1] if manifest.history else None
        who = f" by {last.by} ({last.state.value})" if last else ""
        raise ConflictError(
            f"video {video_id} changed since you opened it{who}; reload and edit again"
        )
    try:
        manifest.check_editable("editing it")
    except ValueError as e:
        raise NotEditable(str(e)) from None
    try:
        load_item(store, manifest.item.id)  # the new take is made from the stored item
    except InputError:
        if manifest.item.source == "manual upload":
            raise InputError(
                f"video {video_id} was made from an upload: create it again with the change"
            ) from None
        raise
    return manifest


def edited_script(
    manifest: VideoManifest, store: ArtifactStore, changes: ScriptChanges
) -> VideoScript:
    """The video's script with ``changes``, in its format, grounding re-checked; InputError
    for an empty or malformed text or an edit that changes nothing."""
    if changes.empty:
        raise InputError("nothing to change: give a text, title, hashtags or call to action")
    base = manifest.script or generated_of(manifest, store)
    if base is None:
        raise InputError(f"video {manifest.video_id} has no script yet: regenerate the script")
    edited = apply_edit(
        base, manifest.item, changes.text, changes.title, changes.keywords, changes.call_to_action
    )
    if edited == base:
        raise InputError("the edit changes nothing: the script already says this")
    return edited


def edit_script(
    store: ArtifactStore,
    video_id: str,
    changes: ScriptChanges,
    reviewer: str,
    expected_version: int | None = None,
    settings: Settings | None = None,
) -> Work:
    """A new take of ``video_id`` speaking the reviewer's edited script, with every option
    the video was made with. Checked now: who (REVIEWERS), the version the reviewer saw
    (ConflictError), the state (NotEditable unless pending, rejected or failed) and the text
    (InputError)."""
    manifest = _checked(store, video_id, reviewer, expected_version, settings)
    script = edited_script(manifest, store, changes)
    again = Regeneration(reviewer=reviewer, script=script)
    return _new_take(manifest, again, f"edit script of {video_id}")


def _new_take(manifest: VideoManifest, again: Regeneration, label: str) -> Work:
    """A ``produce-video`` run of the video with every option it was made with."""
    params: dict[str, Any] = {
        "item_id": manifest.item.id,
        "options": as_chosen(manifest).model_dump(mode="json"),
        "regenerate": again.model_dump(mode="json"),
    }

    def local() -> Any:
        from flows.produce import produce_video

        return produce_video(**params)

    return Work(label, PRODUCE_VIDEO, params, local, manifest.video_id)


def swap_background(
    store: ArtifactStore,
    video_id: str,
    reviewer: str,
    image: bytes | None = None,
    image_name: str = "background",
    prompt: str | None = None,
    expected_version: int | None = None,
    settings: Settings | None = None,
) -> Work:
    """A new take of ``video_id`` over a reviewer's background: an uploaded image (checked by
    its content) or a new prompt; background, avatar, compose and quality run again, the
    script and speech come from the cache. Checked like an edit; the upload is stored last."""
    from novaavatar.uploads import store_background

    manifest = _checked(store, video_id, reviewer, expected_version, settings)
    if (image is None) == (not (prompt or "").strip()):
        raise InputError("give either an image or a prompt for the new background")
    if prompt is not None and len(prompt) > 1000:
        raise InputError(f"prompt has {len(prompt)} characters: the limit is 1000")
    key = store_background(store, image, image_name) if image is not None else None
    swap = BackgroundSwap(image_key=key, prompt=(prompt or "").strip())
    if swap == manifest.background_swap:
        raise InputError(f"video {video_id} has this background already")
    again = Regeneration(reviewer=reviewer, background=swap)
    return _new_take(manifest, again, f"swap background of {video_id}")


TRIM = "trim-video/default"


def trim(
    store: ArtifactStore,
    video_id: str,
    start_s: float,
    end_s: float | None,
    reviewer: str,
    expected_version: int | None = None,
    settings: Settings | None = None,
) -> Work:
    """Keep ``start_s``–``end_s`` seconds of the (untrimmed) video: only the final MP4 is
    re-encoded, captions move with it, quality is checked again; checked now like an edit."""
    from tasks.compose.trim import window

    manifest = _checked(store, video_id, reviewer, expected_version, settings)
    untrimmed = manifest.trim.untrimmed if manifest.trim is not None else manifest.final
    if untrimmed is None:
        raise InputError(f"video {video_id} has no final video to trim yet")
    w = window(untrimmed, start_s, end_s)
    params: dict[str, Any] = {
        "video_id": video_id,
        "start_s": w.start_s,
        "end_s": w.end_s,
        "reviewer": reviewer,
    }

    def local() -> Any:
        from flows.trim import trim_video

        return trim_video(**params)

    return Work(f"trim {video_id} to {w.start_s:g}–{w.end_s:g} s", TRIM, params, local, video_id)
