"""A reviewer's edit of a generated script: the text as a reviewer edits it, the edited
script checked like a generated one (its shape, its grounding), and the diff kept in the
review history.

A conversation is edited as ``Host:`` / ``Guest:`` lines, an explainer as paragraphs with a
``# Title`` first line, a single presenter's script as plain text.
"""

from __future__ import annotations

import difflib

from novaavatar.domain import ContentItem, VideoManifest, VideoScript
from novaavatar.errors import InputError
from novaavatar.languages import split_sentences
from novaavatar.store import ArtifactStore

MAX_EDIT_CHARS = 20_000  # a 5-minute explainer is about 6,000 characters
MAX_TITLE_CHARS = 200
MAX_KEYWORDS = 12


def editable_text(script: VideoScript) -> str:
    """The script's spoken text in the form a reviewer edits and gives back."""
    if script.turns:
        return "\n".join(f"{t.speaker.title()}: {t.text}" for t in script.turns)
    if script.scenes:
        return "\n\n".join(f"# {s.title}\n{s.text}" if s.title else s.text for s in script.scenes)
    return script.text


def apply_edit(
    generated: VideoScript,
    item: ContentItem,
    text: str | None = None,
    title: str | None = None,
    keywords: tuple[str, ...] | list[str] | None = None,
    call_to_action: str | None = None,
) -> VideoScript:
    """``generated`` with the reviewer's changes (None: keep that part), parsed in the
    script's shape and its grounding checked again against the item; InputError naming the
    part that cannot be used."""
    changes: dict[str, object] = {}
    if text is not None:
        text = text.replace("\r\n", "\n").strip()
        if not text:
            raise InputError("text is empty: give the script the presenter should say")
        if len(text) > MAX_EDIT_CHARS:
            raise InputError(f"text has {len(text)} characters: the limit is {MAX_EDIT_CHARS}")
        changes.update(_shaped(generated, text))
    if title is not None:
        title = " ".join(title.split())
        if not title:
            raise InputError("title is empty: give the video a title, or leave it unchanged")
        changes["title"] = title[:MAX_TITLE_CHARS]
    if keywords is not None:
        tags = tuple(dict.fromkeys(k.strip().lstrip("#").lower() for k in keywords if k.strip()))
        if len(tags) > MAX_KEYWORDS:
            raise InputError(f"{len(tags)} hashtags: give at most {MAX_KEYWORDS}")
        changes["keywords"] = tags
    if call_to_action is not None:
        changes["call_to_action"] = " ".join(call_to_action.split())[:500]
    spoken = str(changes.get("text", generated.text))
    changes["ungrounded"] = _ungrounded(spoken, item, generated.language)
    return generated.model_copy(update=changes)


def _shaped(generated: VideoScript, text: str) -> dict[str, object]:
    """The edited text in the generated script's shape: turns, scenes or plain text."""
    if generated.turns:
        from tasks.script.dialogue import joined_text, parse_dialogue

        try:
            turns = parse_dialogue(text)
        except ValueError as e:
            raise InputError(f"conversation text: {e}") from None
        return {"turns": turns, "text": joined_text(turns)}
    if generated.scenes:
        from tasks.script.scenes import joined_text as scenes_text
        from tasks.script.scenes import parse_scenes

        try:
            scenes = parse_scenes(text, generated.scene_description)
        except ValueError as e:
            raise InputError(f"explainer text: {e}") from None
        if len(scenes) == len(generated.scenes):  # the same scenes: keep their backgrounds
            scenes = tuple(
                s.model_copy(update={"scene_description": g.scene_description})
                for s, g in zip(scenes, generated.scenes, strict=True)
            )
        return {"scenes": scenes, "text": scenes_text(scenes)}
    return {"text": " ".join(text.split())}


def _ungrounded(text: str, item: ContentItem, language: str) -> tuple[str, ...]:
    """Sentences of the edited text stating facts that are not in the item."""
    from tasks.script.grounding import ungrounded_sentences

    sources = [item.title, item.summary]
    flagged = ungrounded_sentences(text, sources, allowed=[item.source], language=language)
    return tuple(str(f) for f in flagged)


def generated_of(manifest: VideoManifest, store: ArtifactStore) -> VideoScript | None:
    """The script the script stage wrote for this video: kept aside once a reviewer edited
    it, else the manifest's, else (a video that failed later on) the stage's own file."""
    if manifest.generated_script is not None:
        return manifest.generated_script
    if manifest.script is not None:
        return manifest.script
    record = manifest.stages.get("script")
    if record is None or record.provider == "edited":
        return None
    for key in record.keys:
        if key.endswith(".json") and store.exists(key):
            return VideoScript.model_validate_json(store.get_bytes(key))
    return None


def background_script(generated: VideoScript, edited: VideoScript) -> VideoScript:
    """The script the background is made from: the generated one (so it comes from the
    cache), unless an explainer's edit changed how many scenes need a background."""
    if edited.scenes and len(edited.scenes) != len(generated.scenes):
        return edited
    return generated


def with_backdrop(script: VideoScript, prompt: str) -> VideoScript:
    """``script`` asking the background stage for ``prompt`` (every scene's, in an
    explainer), so a reviewer's prompt makes a new background and nothing else changes."""
    prompt = " ".join(prompt.split())
    scenes = tuple(s.model_copy(update={"scene_description": prompt}) for s in script.scenes)
    return script.model_copy(update={"scene_description": prompt, "scenes": scenes})


def _lines(script: VideoScript) -> list[str]:
    """The script as lines for a diff: title, hashtags, call to action, then one sentence
    (or turn, or scene title) per line, so a one-word change shows as one line."""
    head = [
        f"title: {script.title}",
        f"hashtags: {' '.join('#' + k for k in script.keywords)}",
        f"call to action: {script.call_to_action}",
        "",
    ]
    body: list[str] = []
    if script.turns:
        for t in script.turns:
            body += [f"{t.speaker.title()}: {s}" for s in split_sentences(t.text)]
    elif script.scenes:
        for s in script.scenes:
            body += [f"# {s.title}", *split_sentences(s.text), ""]
    else:
        body = split_sentences(script.text)
    return [*head, *body]


def script_diff(generated: VideoScript, edited: VideoScript) -> str:
    """A unified diff of the edited script against the generated one ('' when equal)."""
    lines = difflib.unified_diff(
        _lines(generated), _lines(edited), "generated", "edited", lineterm="", n=1
    )
    return "\n".join(lines)
