"""Presenter profiles: a named face, voice and default layout that videos are presented by.

A presenter is a portrait (with its likeness consent: who attested, when), a voice (an eSpeak
NG voice, an OpenAI TTS voice, or a reference clip Dia clones) and a default layout. Each
save is a new version in the artifact store, ``presenters/<name>/<version>.json``; versions
never change, so a video made with ``anna@1`` keeps its face and voice when ``anna@2``
arrives. A reference is ``name`` (its newest version) or ``name@version``.

A video picks its presenter explicitly (``ProduceOptions.presenter``), else its brand
template's ``presenter``, else ``DEFAULT_PRESENTER`` (see :func:`templates.build_options`).
The presenter then fills the portrait, voice and layout the user did not set; the options
(and so the manifest) pin the exact ``name@version``.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from novaavatar.domain import Consent, StoreKey, utcnow, validate_key
from novaavatar.errors import ConflictError, InputError, NotFoundError

if TYPE_CHECKING:
    from novaavatar.store import ArtifactStore

STORE_PREFIX = "presenters/"
LAYOUTS = ("studio", "pip", "full")
VOICE_KINDS = ("espeak", "openai", "dia")
NO_PRESENTER = "none"  # a run's ``presenter`` for no profile, whatever the template or default
_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,39}\Z")
_REF_RE = re.compile(r"^(?P<name>[a-z][a-z0-9_-]{0,39})(?:@(?P<version>[1-9][0-9]{0,5}))?\Z")
MAX_CLIP_TEXT = 600  # what a 5–20 s reference clip says


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PresenterVoice(_Part):
    """How a presenter sounds.

    ``espeak``: ``name`` is an eSpeak NG voice (en-us, en-gb+f3). ``openai``: ``name`` is an
    OpenAI TTS voice (nova, onyx...), spoken when OpenAI TTS is configured. ``dia``: Dia clones
    the voice of ``clip_key`` (5–20 s of speech) saying ``clip_text``. Without OpenAI or Dia,
    ``fallback`` (an eSpeak voice) speaks, and it always gives the word timings.
    """

    kind: Literal["espeak", "openai", "dia"] = "espeak"
    name: str = Field(default="en-us", min_length=1, max_length=40)
    fallback: str = Field(default="en-us", min_length=1, max_length=40)
    clip_key: StoreKey | None = None
    clip_text: str = Field(default="", max_length=MAX_CLIP_TEXT)

    @field_validator("clip_key")
    @classmethod
    def _key(cls, v: str | None) -> str | None:
        return validate_key(v) if v else None

    @model_validator(mode="after")
    def _clip_for_dia_only(self) -> PresenterVoice:
        if self.kind == "dia" and not (self.clip_key and self.clip_text.strip()):
            raise ValueError("a Dia voice needs a reference clip and the words it says (clip_text)")
        if self.kind != "dia" and (self.clip_key or self.clip_text):
            raise ValueError(f"a reference clip is for a Dia voice, not {self.kind!r}")
        return self

    def describe(self) -> str:
        if self.kind == "dia":
            return f"Dia clone of {self.clip_key} (else eSpeak {self.fallback})"
        if self.kind == "openai":
            return f"OpenAI {self.name} (else eSpeak {self.fallback})"
        return f"eSpeak {self.name}"


class Presenter(_Part):
    """One version of a presenter profile, as stored."""

    name: str
    version: int = Field(ge=1, le=999_999)
    description: str = Field(default="", max_length=300)
    portrait_key: StoreKey
    consent: Consent = Field(description="the likeness consent of the portrait")
    voice: PresenterVoice = PresenterVoice()
    layout: Literal["studio", "pip", "full"] = "studio"
    created_by: str = Field(min_length=1, max_length=120)
    created_at: datetime = Field(default_factory=utcnow)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_name(v)

    @field_validator("portrait_key")
    @classmethod
    def _portrait(cls, v: str) -> str:
        return validate_key(v)

    @model_validator(mode="after")
    def _consent_is_for_this_portrait(self) -> Presenter:
        if self.consent.portrait_key != self.portrait_key:
            raise ValueError(
                f"the consent is for {self.consent.portrait_key!r}, not the portrait "
                f"{self.portrait_key!r}"
            )
        return self

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


def check_name(name: str) -> str:
    """``name`` when it is a presenter name; InputError naming it otherwise."""
    if name == NO_PRESENTER:
        raise InputError(f"presenter name {name!r} is reserved for 'no presenter'; choose another")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InputError(
            f"presenter name {name!r}: use 1-40 lowercase letters, digits, '-' or '_', "
            "starting with a letter (e.g. anna or night-desk)"
        )
    return name


def split_ref(ref: str) -> tuple[str, int | None]:
    m = _REF_RE.match(ref.strip().lower()) if isinstance(ref, str) else None
    if m is None:
        raise InputError(f"presenter {ref!r}: use name or name@version, e.g. anna or anna@2")
    return m["name"], int(m["version"]) if m["version"] else None


def store_key(ref: str) -> str:
    """``anna@2`` → ``presenters/anna/2.json``."""
    name, version = split_ref(ref)
    return f"{STORE_PREFIX}{name}/{version}.json"


def _refs(store: ArtifactStore) -> list[tuple[str, int]]:
    out = []
    for key in store.list(STORE_PREFIX):
        parts = key.removeprefix(STORE_PREFIX).removesuffix(".json").split("/")
        if len(parts) == 2 and key.endswith(".json") and _REF_RE.match("@".join(parts)):
            out.append((parts[0], int(parts[1])))
    return sorted(out)


def _load(store: ArtifactStore, name: str, version: int) -> Presenter:
    key = f"{STORE_PREFIX}{name}/{version}.json"
    try:
        p = Presenter.model_validate(store.get_json(key))
    except ValidationError as e:
        problems = "; ".join(
            f"field {'.'.join(str(x) for x in err['loc']) or '(top)'}: {err['msg']}"
            for err in e.errors()
        )
        raise InputError(f"presenter {key}: {problems}") from None
    except json.JSONDecodeError as e:
        raise InputError(f"presenter {key}: not valid JSON ({e})") from None
    if (p.name, p.version) != (name, version):
        raise InputError(f"presenter {key}: its fields say {p.ref}; the key is {name}@{version}")
    return p


def available(store: ArtifactStore) -> dict[str, Presenter]:
    """Every presenter version in the store, by ``name@version``, sorted."""
    return {f"{n}@{v}": _load(store, n, v) for n, v in _refs(store)}


def newest_version(store: ArtifactStore, name: str) -> int:
    """The newest version of ``name`` (0: none yet)."""
    return max((v for n, v in _refs(store) if n == name), default=0)


def resolve(ref: str, store: ArtifactStore | None) -> Presenter:
    """The presenter ``ref`` names (its newest version when none is given)."""
    name, version = split_ref(ref)
    if store is not None:
        if version is None:
            version = newest_version(store, name) or None
        if version is not None:
            try:
                return _load(store, name, version)
            except NotFoundError:
                pass
    known = ", ".join(f"{n}@{v}" for n, v in _refs(store)) if store is not None else ""
    raise InputError(
        f"unknown presenter {ref!r}: "
        + (f"choose one of {known}" if known else "none is stored yet (novaavatar presenter add)")
    )


def save(store: ArtifactStore, presenter: Presenter) -> Presenter:
    """Store a new version; an existing one is never replaced (ConflictError → InputError)."""
    data = presenter.model_dump_json(indent=2).encode()
    try:
        store.put_if_match(store_key(presenter.ref), data, None)
    except ConflictError:
        raise InputError(
            f"presenter {presenter.ref} exists already; versions never change, "
            f"save as version {newest_version(store, presenter.name) + 1}"
        ) from None
    return presenter


def fill(data: dict[str, Any], presenter: Presenter, language: str) -> None:
    """The presenter's portrait, voice and layout into options ``data`` where the user set
    none. A voice applies only when it speaks the video's language (Dia speaks English)."""
    data.setdefault("portrait_key", presenter.portrait_key)
    data.setdefault("layout", presenter.layout)
    if "voice" in data:
        return  # a voice the user chose wins over the presenter's, whatever its kind
    v = presenter.voice
    espeak = v.name if v.kind == "espeak" else v.fallback
    if speaks(espeak, language):
        data["voice"] = espeak
    if v.kind == "openai":
        data.setdefault("openai_voice", v.name)
    if v.kind == "dia" and language == "en":
        data.setdefault("voice_clip_key", v.clip_key)
        data.setdefault("voice_clip_text", v.clip_text)


def speaks(voice: str, language: str) -> bool:
    """Whether the eSpeak ``voice`` (name[+variant]) speaks ``language``."""
    from novaavatar.languages import check_language

    try:
        return check_language(voice.split("+")[0]) == check_language(language)
    except ValueError:
        return False
