"""Presenter profiles for every front door: list, show, and save a new version.

:func:`save_version` checks everything a user gave (name, layout, voice, consent) before it
stores anything, so a refused request leaves no portrait or clip behind; a new portrait is
stored only with its likeness consent, recorded like every portrait's.
"""

from __future__ import annotations

from dataclasses import dataclass

from novaavatar import consent, presenters
from novaavatar.errors import InputError
from novaavatar.presenters import LAYOUTS, VOICE_KINDS, Presenter, PresenterVoice
from novaavatar.service.production import check_voice
from novaavatar.store import ArtifactStore
from novaavatar.uploads import store_audio, store_portrait

CLIP_MIN_S = 1.0  # Dia's reference clip: 5–15 s is best, 20 s fills its window
CLIP_MAX_S = 20.0


@dataclass(frozen=True)
class Upload:
    """An uploaded file: its bytes and the name it came with (for errors)."""

    data: bytes
    filename: str


def listing(store: ArtifactStore) -> list[Presenter]:
    """Every presenter's newest version, by name."""
    newest: dict[str, Presenter] = {}
    for p in presenters.available(store).values():
        newest[p.name] = p  # sorted by version: the last one wins
    return [newest[n] for n in sorted(newest)]


def versions(store: ArtifactStore, name: str) -> list[Presenter]:
    """Every version of ``name``, newest first."""
    presenters.check_name(name)
    found = [p for p in presenters.available(store).values() if p.name == name]
    return sorted(found, key=lambda p: p.version, reverse=True)


def show(store: ArtifactStore, ref: str) -> Presenter:
    return presenters.resolve(ref, store)


def openai_voices() -> list[str]:
    """The voices OpenAI TTS speaks with."""
    from tasks.speech.openai_tts import VOICES

    return list(VOICES)


def check_presenter_voice(
    kind: str, name: str | None, fallback: str | None, has_clip: bool, clip_text: str
) -> None:
    """InputError naming the voice that cannot speak: an unknown kind, eSpeak or OpenAI voice,
    or a Dia voice without its clip and words."""
    from tasks.speech.openai_tts import VOICES

    if kind not in VOICE_KINDS:
        raise InputError(f"voice kind {kind!r}: choose one of {', '.join(VOICE_KINDS)}")
    if kind == "espeak":
        check_voice(name or "")
    elif kind == "openai" and (name or "").lower() not in VOICES:
        raise InputError(f"unknown OpenAI voice {name!r}; choose one of: {', '.join(VOICES)}")
    if kind != "espeak":
        check_voice(fallback or "en-us")
    if kind == "dia" and not (has_clip and clip_text.strip()):
        raise InputError(
            "a Dia voice needs a reference clip (5–15 s of the voice) and the words it says"
        )
    if kind != "dia" and has_clip:
        raise InputError(f"a voice clip is for a Dia voice, not voice kind {kind!r}")


def _clip_seconds(data: bytes, filename: str) -> float:
    import tempfile
    from pathlib import Path

    from novaavatar.media import probe

    with tempfile.NamedTemporaryFile(suffix=".bin") as tmp:
        tmp.write(data)
        tmp.flush()
        try:
            return float(probe(Path(tmp.name)).duration_s)
        except InputError:
            raise InputError(f"voice clip {filename!r} is not a readable audio file") from None


def save_version(
    store: ArtifactStore,
    name: str,
    *,
    by: str,
    via: str,
    portrait: Upload | None = None,
    i_have_consent: bool = False,
    voice_kind: str | None = None,
    voice: str | None = None,
    fallback_voice: str | None = None,
    clip: Upload | None = None,
    clip_text: str = "",
    layout: str | None = None,
    description: str | None = None,
) -> Presenter:
    """Store the next version of presenter ``name``; what is not given is kept from the
    newest version (a first version needs a portrait). A new portrait needs
    ``i_have_consent``: ``by`` attests the right to use that likeness."""
    presenters.check_name(name)
    if not (by or "").strip():
        raise InputError("who saves the presenter is needed (e.g. --by NAME, the reviewer name)")
    newest = presenters.newest_version(store, name)
    before = presenters.resolve(f"{name}@{newest}", store) if newest else None
    if layout is not None and layout not in LAYOUTS:
        raise InputError(f"layout {layout!r}: choose one of {', '.join(LAYOUTS)}")
    if portrait is None and before is None:
        raise InputError(f"presenter {name}: a first version needs a portrait (JPEG, PNG or WebP)")
    if portrait is not None and not i_have_consent:
        raise consent.ConsentMissing(
            f"portrait {portrait.filename!r} of presenter {name}: {consent.HOW_TO_ATTEST}"
        )
    old = before.voice if before is not None else PresenterVoice()
    kind = voice_kind or old.kind
    same_kind = kind == old.kind
    name_ = voice if voice is not None else (old.name if same_kind else None)
    if kind == "dia":
        name_ = name_ or "dia"
    fallback = fallback_voice or old.fallback
    keep_clip = clip is None and same_kind and old.clip_key is not None
    text = clip_text.strip() or (old.clip_text if keep_clip else "")
    check_presenter_voice(kind, name_, fallback, clip is not None or keep_clip, text)
    if clip is not None:
        seconds = _clip_seconds(clip.data, clip.filename)
        if not CLIP_MIN_S <= seconds <= CLIP_MAX_S:
            raise InputError(
                f"voice clip {clip.filename!r} lasts {seconds:.1f} s: give {CLIP_MIN_S:g}–"
                f"{CLIP_MAX_S:g} s (5–15 s is best) of the voice to clone"
            )

    # everything is checked: store the uploads, then the version
    version = newest + 1
    ref = f"{name}@{version}"
    if portrait is not None:
        key = store_portrait(store, portrait.data, portrait.filename)
        record = consent.attest(store, key, by, via=f"presenter {ref} ({via})")
    else:
        assert before is not None
        key, record = before.portrait_key, before.consent
    clip_key = store_audio(store, clip.data, clip.filename) if clip is not None else None
    if keep_clip:
        clip_key = old.clip_key
    try:
        profile = Presenter(
            name=name,
            version=version,
            description=description
            if description is not None
            else (before.description if before is not None else ""),
            portrait_key=key,
            consent=record,
            voice=PresenterVoice(
                kind=kind,  # type: ignore[arg-type]
                name=(name_ or "en-us").lower() if kind == "openai" else (name_ or "en-us"),
                fallback=fallback,
                clip_key=clip_key,
                clip_text=text if kind == "dia" else "",
            ),
            layout=layout or (before.layout if before is not None else "studio"),  # type: ignore[arg-type]
            created_by=by.strip(),
        )
    except ValueError as e:
        raise InputError(f"presenter {ref}: {e}") from None
    return presenters.save(store, profile)
