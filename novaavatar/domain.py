"""Domain types shared by every stage: what flows between scrape, script, media and review.

Every artifact is referenced by a key in the artifact store (``videos/<id>/final.mp4``),
never by an absolute path, so manifests stay valid when the store moves.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SCRIPT_STYLES = ("news_anchor", "casual", "educational", "entertaining", "professional")
ScriptStyle = Literal["news_anchor", "casual", "educational", "entertaining", "professional"]
Aspect = Literal["9:16", "16:9", "1:1"]
MIN_DURATION_S = 15
MAX_DURATION_S = 90  # single-presenter and conversation videos
MAX_EXPLAINER_S = 300  # multi-scene explainers: 1-5 minutes
MIN_EXPLAINER_S = 60
# single: one presenter; conversation: host and guest; explainer: 1-5 min in several scenes
VIDEO_FORMATS = ("single", "conversation", "explainer")
VideoFormat = Literal["single", "conversation", "explainer"]
Speaker = Literal["host", "guest"]
SPEECH_SAMPLE_RATE = 16_000
# A/B takes: how a take's script opens. "headline": straight with the news; "question": a
# question to the viewer; "stakes": why it matters to the viewer; "surprise": the unexpected
# angle first.
HOOKS = ("headline", "question", "stakes", "surprise")
Hook = Literal["headline", "question", "stakes", "surprise"]
MAX_VARIANTS = 4
VARIANT_LABELS = ("A", "B", "C", "D")
VARIANT_LOST = "another variant chosen"  # the note on the takes a reviewer did not choose
# Output frame size per aspect ratio (width, height); 720p-class keeps CPU renders quick.
ASPECT_SIZES: dict[str, tuple[int, int]] = {
    "9:16": (720, 1280),
    "16:9": (1280, 720),
    "1:1": (1080, 1080),
}

# Shown wherever a reviewer sees an item of the bundled sample feed (fiction).
SAMPLE_BADGE = "SAMPLE — not real news"

# Store keys: lowercase path segments of safe characters, no "..", no leading slash.
_KEY_RE = re.compile(r"^[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*\Z")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9\-]{2,80}\Z")


def utcnow() -> datetime:
    return datetime.now(UTC)


def validate_key(key: str) -> str:
    """Return ``key`` when it is a safe, relative store key; raise ValueError naming it
    otherwise.
    """
    if not isinstance(key, str) or not _KEY_RE.match(key) or ".." in key.split("/"):
        raise ValueError(
            f"invalid store key {key!r}: use relative segments of letters, digits, '._-' "
            "separated by '/', without '..'"
        )
    return key


def validate_video_id(video_id: str) -> str:
    if not isinstance(video_id, str) or not _ID_RE.match(video_id):
        raise ValueError(
            f"invalid video id {video_id!r}: expected 3-81 lowercase letters, digits or '-'"
        )
    return video_id


StoreKey = Annotated[str, Field(description="relative key in the artifact store")]


def stable_id(prefix: str, *parts: object, length: int = 12) -> str:
    """A deterministic id from its inputs, so re-running on the same input is idempotent."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return f"{prefix}-{hashlib.sha256(blob).hexdigest()[:length]}"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ContentItem(_Frozen):
    """One news item from a source, cleaned and scored."""

    id: str
    title: str = Field(min_length=1, max_length=500)
    summary: str = Field(default="", max_length=5000)
    url: str = ""
    source: str = Field(description="source name, e.g. the feed title or 'reddit/r/news'")
    published: datetime | None = None
    score: float = Field(default=0.0, description="relevance score, higher is better")
    tags: tuple[str, ...] = ()
    sample: bool = Field(
        default=False,
        description="a bundled fictional story (the sample feed): never real news, never published",
    )

    @field_validator("url")
    @classmethod
    def _http_only(cls, v: str) -> str:
        # a javascript: or data: link must never reach a page, an artifact or a package
        return v if not v or v.split(":", 1)[0].strip().lower() in ("http", "https") else ""

    @classmethod
    def make(cls, *, title: str, url: str, source: str, **kw: object) -> ContentItem:
        return cls(
            id=stable_id("item", url or title, title), title=title, url=url, source=source, **kw
        )  # type: ignore[arg-type]


class ScriptTurn(_Frozen):
    """One speaker's turn in a two-presenter conversation."""

    speaker: Speaker
    text: str = Field(min_length=1)


class ScriptScene(_Frozen):
    """One scene of a multi-scene explainer: what is said over which background."""

    text: str = Field(min_length=1)
    title: str = ""
    scene_description: str = ""


class VideoScript(_Frozen):
    """What the presenter says, plus what the background should show.

    ``text`` is always everything that is said, in order; a conversation also has its
    ``turns`` and an explainer its ``scenes`` (whose texts join to ``text``).
    """

    text: str = Field(min_length=1)
    style: ScriptStyle
    target_duration_s: float = Field(ge=MIN_DURATION_S, le=MAX_EXPLAINER_S)
    language: str = "en"
    turns: tuple[ScriptTurn, ...] = ()
    scenes: tuple[ScriptScene, ...] = ()
    title: str = ""
    scene_description: str = ""
    keywords: tuple[str, ...] = ()
    call_to_action: str = ""
    sources: tuple[str, ...] = Field(default=(), description="URLs the script is based on")
    provider: str = "template"
    ungrounded: tuple[str, ...] = Field(
        default=(), description="sentences stating facts not found in the sources"
    )

    @property
    def word_count(self) -> int:
        """Spoken units: words, or characters in Chinese and Japanese."""
        from novaavatar.languages import units

        return units(self.text)


class GeneratedImage(_Frozen):
    key: StoreKey
    scene_keys: tuple[StoreKey, ...] = Field(
        default=(), description="an explainer's background per scene (the first is ``key``)"
    )
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    prompt: str = ""
    provider: str = "procedural"
    seed: int = 0


class WordTiming(_Frozen):
    word: str
    start: float = Field(ge=0)
    end: float = Field(ge=0)


class PhonemeTiming(_Frozen):
    phoneme: str = Field(description="eSpeak phoneme mnemonic")
    start: float = Field(ge=0)
    end: float = Field(ge=0)


class SpeechSegment(_Frozen):
    """A stretch of the speech track: who speaks (conversation) or which scene (explainer)."""

    start: float = Field(ge=0)
    end: float = Field(ge=0)
    speaker: Speaker = "host"
    scene: int = Field(default=0, ge=0)


class GeneratedAudio(_Frozen):
    """Speech as a 16 kHz mono wav, with word and phoneme timings in seconds."""

    key: StoreKey
    duration_s: float = Field(gt=0)
    sample_rate: int = SPEECH_SAMPLE_RATE
    words: tuple[WordTiming, ...] = ()
    phonemes: tuple[PhonemeTiming, ...] = ()
    voice: str = ""
    provider: str = "espeak-ng"
    segments: tuple[SpeechSegment, ...] = Field(
        default=(), description="speaker turns / scenes in time order; empty: one speaker"
    )


class AvatarVideo(_Frozen):
    """The presenter over the background, silent or with the speech track."""

    key: StoreKey
    width: int
    height: int
    fps: float
    duration_s: float
    provider: str = "lite"
    captions_burnt: bool = Field(
        default=False, description="captions and title already drawn (compose adds only sound)"
    )


class Chapter(_Frozen):
    """A chapter of an explainer: a scene's title and when it starts and ends (seconds)."""

    title: str = Field(min_length=1)
    start: float = Field(ge=0)
    end: float = Field(ge=0)


class FinalVideo(_Frozen):
    key: StoreKey
    srt_key: StoreKey
    vtt_key: StoreKey
    width: int
    height: int
    fps: float
    duration_s: float
    size_bytes: int
    chapters: tuple[Chapter, ...] = Field(
        default=(), description="an explainer's scenes, also written into the MP4 as chapters"
    )
    chapters_key: StoreKey | None = Field(
        default=None, description="the chapters as a WebVTT chapters file"
    )
    intro_s: float = Field(
        default=0.0, ge=0, description="the brand's intro card before the speech starts"
    )
    outro_s: float = Field(default=0.0, ge=0, description="the brand's end card after the speech")


class Trim(_Frozen):
    """A reviewer's cut of the final video: the seconds of the untrimmed video it keeps."""

    start_s: float = Field(ge=0)
    end_s: float = Field(gt=0)
    by: str = Field(min_length=1, max_length=80)
    untrimmed: FinalVideo = Field(description="the composed video the cut was made from")


class QualityCheck(_Frozen):
    name: str
    passed: bool
    value: float | str | None = None
    detail: str = ""


class QualityReport(_Frozen):
    checks: tuple[QualityCheck, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failed(self) -> list[QualityCheck]:
        return [c for c in self.checks if not c.passed]


class ProduceOptions(_Frozen):
    """What the user chooses per video; part of the video id."""

    style: ScriptStyle = "news_anchor"
    duration_s: float = Field(default=30, ge=MIN_DURATION_S, le=MAX_EXPLAINER_S)
    aspect: Aspect = "9:16"
    voice: str = "en-us"
    portrait_key: StoreKey | None = None
    layout: Literal["studio", "pip", "full"] = "studio"
    caption_style: Literal["highlight", "plain", "none"] = "highlight"
    format: VideoFormat = "single"
    language: str = Field(default="en", description="script and voice language, e.g. en, es, ar")
    template: str | None = Field(
        default=None, description="brand template name[@version]; None: the format's default"
    )
    guest_voice: str | None = Field(
        default=None, description="the guest's voice in a conversation; None: a contrasting one"
    )
    guest_portrait_key: StoreKey | None = None
    transition: Literal["crossfade", "wipe", "cut"] = Field(
        default="crossfade", description="how an explainer's scenes change: crossfade, wipe or cut"
    )
    variants: int = Field(
        default=1,
        ge=1,
        le=MAX_VARIANTS,
        description="A/B takes: 2-4 makes that many videos of the item whose scripts differ "
        "in hook and style, reviewed side by side; the reviewer approves one",
    )
    hook: Hook | None = Field(
        default=None,
        description="how the script opens: headline, question, stakes or surprise; "
        "None: the style's own opening",
    )
    presenter: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9_-]{0,39}(@[1-9][0-9]{0,5})?$",
        description="presenter profile name[@version]; None: the template's, then "
        "DEFAULT_PRESENTER (pinned to name@version when options are built)",
    )
    openai_voice: str | None = Field(
        default=None,
        pattern=r"^[a-z]{2,20}$",
        description="the OpenAI TTS voice (nova, onyx...) when OpenAI speaks; None: "
        "OPENAI_TTS_VOICE",
    )
    voice_clip_key: StoreKey | None = Field(
        default=None, description="a reference clip Dia clones the voice of (a presenter's)"
    )
    voice_clip_text: str = Field(
        default="", max_length=600, description="what the reference clip says"
    )

    @field_validator("style", mode="before")
    @classmethod
    def _style_name(cls, v: object) -> object:
        if isinstance(v, str) and v not in SCRIPT_STYLES:
            raise ValueError(f"unknown style {v!r}: choose one of {', '.join(SCRIPT_STYLES)}")
        return v

    @field_validator("language", mode="before")
    @classmethod
    def _language_code(cls, v: object) -> object:
        from novaavatar.languages import check_language

        return check_language(v) if isinstance(v, str) else v

    @model_validator(mode="after")
    def _language_voice(self) -> ProduceOptions:
        """English's default voice in another language means that language's voice.

        Set without marking ``voice`` as chosen, so a template or setting may still fill it.
        """
        if self.voice == "en-us" and self.language != "en":
            from novaavatar.languages import LANGUAGES

            object.__setattr__(self, "voice", LANGUAGES[self.language].voice)
        return self

    @model_validator(mode="after")
    def _clip_with_its_words(self) -> ProduceOptions:
        if self.voice_clip_key is not None:
            validate_key(self.voice_clip_key)
        if (self.voice_clip_key is None) != (not self.voice_clip_text.strip()):
            raise ValueError(
                "voice_clip_key and voice_clip_text go together: the clip Dia clones and the "
                "words it says, or neither"
            )
        return self

    @model_validator(mode="after")
    def _format_fits(self) -> ProduceOptions:
        lo, hi = duration_range(self.format)
        if "duration_s" not in self.model_fields_set:  # unset: the default, fitted to the format
            object.__setattr__(self, "duration_s", float(min(max(self.duration_s, lo), hi)))
        if not lo <= self.duration_s <= hi:
            raise ValueError(
                f"duration_s {self.duration_s:g} does not fit format {self.format!r}: "
                f"use {lo}-{hi} seconds"
            )
        return self

    def chosen(self) -> dict[str, object]:
        """The options the user set; the others come from the template, then the settings.

        A front door builds ProduceOptions from what its user gave (``model_fields_set``);
        a deployment run carries them as JSON with only those keys, so this survives it.
        """
        return {name: getattr(self, name) for name in sorted(self.model_fields_set)}

    def id_fields(self) -> dict[str, object]:
        """The fields that name the video: options added later count only when set, so
        videos made before they existed keep their ids."""
        data = self.model_dump(mode="json")
        for name in _LATER_OPTIONS:
            if data.get(name) == ProduceOptions.model_fields[name].default:
                data.pop(name)
        return data


_LATER_OPTIONS = (
    "format",
    "language",
    "template",
    "guest_voice",
    "guest_portrait_key",
    "transition",
    "variants",
    "hook",
    "presenter",
    "openai_voice",
    "voice_clip_key",
    "voice_clip_text",
)


class VariantTake(_Frozen):
    """One take of an A/B group: the item made ``of`` times with different hooks and styles."""

    group: str = Field(description="the group's id, the same in every take's manifest")
    label: str = Field(description="A, B, C or D")
    index: int = Field(ge=0, lt=MAX_VARIANTS)
    of: int = Field(ge=2, le=MAX_VARIANTS)
    hook: Hook
    style: ScriptStyle


def variant_takes(
    item: ContentItem, options: ProduceOptions
) -> list[tuple[ProduceOptions, VariantTake | None]]:
    """The videos ``options`` asks for: itself alone, or one per A/B take.

    Take k opens with the k-th hook (from the chosen one, else from one picked by the item,
    so wins are not always the same hook's) and speaks the k-th style from the chosen one.
    Each take's options name their hook, so every take has its own video id; a single video
    keeps the id it always had.
    """
    if options.variants < 2:
        return [(options, None)]
    group = stable_id("grp", item.id, options.id_fields())
    first_hook = (
        HOOKS.index(options.hook)
        if options.hook
        else int(hashlib.sha256(item.id.encode()).hexdigest(), 16) % len(HOOKS)
    )
    first_style = SCRIPT_STYLES.index(options.style)
    out: list[tuple[ProduceOptions, VariantTake | None]] = []
    for k in range(options.variants):
        hook = HOOKS[(first_hook + k) % len(HOOKS)]
        style = SCRIPT_STYLES[(first_style + k) % len(SCRIPT_STYLES)]
        data = options.model_dump(mode="json") | {"variants": 1, "hook": hook, "style": style}
        take = VariantTake(
            group=group,
            label=VARIANT_LABELS[k],
            index=k,
            of=options.variants,
            hook=hook,  # type: ignore[arg-type]
            style=style,  # type: ignore[arg-type]
        )
        out.append((ProduceOptions.model_validate(data), take))
    return out


REGENERABLE = ("script", "background", "speech", "avatar")


class BackgroundSwap(_Frozen):
    """A reviewer's background: an uploaded image, or a new prompt for the background stage."""

    image_key: StoreKey | None = Field(default=None, description="an uploaded image")
    prompt: str = Field(default="", max_length=1000, description="or: what the background shows")

    @model_validator(mode="after")
    def _one_of_them(self) -> BackgroundSwap:
        if (self.image_key is None) == (not self.prompt.strip()):
            raise ValueError("give either an uploaded image or a prompt for the new background")
        if self.image_key is not None:
            validate_key(self.image_key)
        return self

    def describe(self) -> str:
        return "an uploaded image" if self.image_key else f"prompt {self.prompt.strip()!r}"


class Regeneration(_Frozen):
    """A new take of some stages of an existing video, asked for by a reviewer, or the
    reviewer's edit of its script (spoken instead of the script stage's)."""

    stages: tuple[Literal["script", "background", "speech", "avatar"], ...] = Field(
        default=(), description="stages to make again; the stages they feed re-run too"
    )
    reviewer: str = Field(default="system", min_length=1, max_length=80)
    script: VideoScript | None = Field(
        default=None,
        description="the reviewer's edited script: speech, avatar, compose and quality run "
        "again with it; the background keeps the generated script's",
    )

    background: BackgroundSwap | None = Field(
        default=None,
        description="the reviewer's background: background, avatar, compose and quality run "
        "again with it; the script and speech come from the cache",
    )

    @model_validator(mode="after")
    def _something_to_do(self) -> Regeneration:
        if not self.stages and self.script is None and self.background is None:
            raise ValueError(
                "choose at least one stage to regenerate, or give an edited script or background"
            )
        if "background" in self.stages and self.background is not None:
            raise ValueError(
                "regenerating the background would discard the one given: do one or the other"
            )
        if "script" in self.stages and self.script is not None:
            raise ValueError(
                "regenerating the script would discard the edited one: do one or the other"
            )
        return self


def duration_range(format: str) -> tuple[int, int]:
    """Shortest and longest video of a format, in seconds."""
    if format == "explainer":
        return MIN_EXPLAINER_S, MAX_EXPLAINER_S
    return MIN_DURATION_S, MAX_DURATION_S


CONSENT_STATEMENT = (
    "I have the right to use this likeness: the person shown agreed to be animated as a "
    "presenter by NovaAvatar (or I am that person, or the image is not of a real person)."
)


class Consent(_Frozen):
    """An attestation that whoever supplied a portrait has the right to use this likeness.

    A photo of a real person animated to read the news is a deepfake risk: a portrait is
    only rendered with one, and it travels into the manifest and the exports."""

    portrait_key: StoreKey
    by: str = Field(min_length=1, max_length=120, description="who attested")
    at: datetime = Field(default_factory=utcnow)
    via: str = Field(
        default="", max_length=120, description="where: cli, api, review page, template name@v"
    )
    statement: str = CONSENT_STATEMENT

    @field_validator("by")
    @classmethod
    def _named(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("consent needs the name of whoever attests it")
        return v.strip()


class RenderConfig(_Frozen):
    """Settings that change a stage's output; part of every stage's cache key."""

    store_uri: str = Field(description="where outputs are written, e.g. file:///.../artifacts")
    speech_speed: int = 165
    fps: int = 25
    crf: int = 23
    preset: str = "veryfast"
    providers: str = Field(
        default="", description="which providers are configured, so adding a key re-runs stages"
    )


class ReviewState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPORTED = "exported"
    FAILED = "failed"


# Allowed review transitions; anything else is refused with a clear error.
REVIEW_TRANSITIONS: dict[ReviewState, set[ReviewState]] = {
    ReviewState.PENDING: {ReviewState.APPROVED, ReviewState.REJECTED},
    ReviewState.APPROVED: {ReviewState.EXPORTED, ReviewState.REJECTED},
    ReviewState.REJECTED: {ReviewState.APPROVED},
    ReviewState.EXPORTED: set(),
    ReviewState.FAILED: set(),
}


class ReviewEvent(_Frozen):
    state: ReviewState
    by: str
    at: datetime = Field(default_factory=utcnow)
    note: str = ""
    diff: str = Field(
        default="", description="a script edit: unified diff against the generated script"
    )


class Publication(_Frozen):
    """Where one channel (the publish package, YouTube) carries the video, or why not yet."""

    channel: Literal["package", "youtube"]
    status: Literal["uploading", "published", "failed"]
    at: datetime = Field(default_factory=utcnow)
    by: str = ""
    location: str = Field(default="", description="store prefix of the package, or the video URL")
    remote_id: str = Field(default="", description="the platform's id, e.g. the YouTube video id")
    privacy: str = ""
    sent_bytes: int = Field(default=0, ge=0, description="bytes the platform confirmed so far")
    total_bytes: int = Field(default=0, ge=0)
    attempts: int = Field(default=0, ge=0, description="upload runs that reached the platform")
    lease_until: datetime | None = Field(
        default=None, description="an upload in progress holds the video until then"
    )
    error: str = ""


class StageRecord(_Frozen):
    """What one stage produced, with which provider, and how long it took."""

    provider: str
    keys: tuple[StoreKey, ...] = ()
    seconds: float = 0.0
    cost_usd: float = 0.0
    detail: str = ""
    warnings: tuple[str, ...] = Field(
        default=(), description="what a reviewer should know, e.g. a fallback to a lesser provider"
    )


class VideoManifest(BaseModel):
    """``videos/<video_id>/manifest.json``: inputs, outputs, timings, quality and review."""

    model_config = ConfigDict(extra="forbid")

    video_id: str
    version: int = Field(default=0, description="incremented on every write; used for conflicts")
    item: ContentItem
    options: ProduceOptions
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    flow_run_id: str | None = None
    stages: dict[str, StageRecord] = Field(default_factory=dict)
    script: VideoScript | None = None
    generated_script: VideoScript | None = Field(
        default=None,
        description="the script stage's script when a reviewer edited it (``script`` is the "
        "edit that is spoken); the background is made from this one",
    )
    final: FinalVideo | None = None
    quality: QualityReport | None = None
    background_swap: BackgroundSwap | None = Field(
        default=None, description="the background a reviewer gave (image or prompt), if any"
    )
    trim: Trim | None = Field(
        default=None, description="a reviewer's cut; ``final`` is then the trimmed video"
    )
    state: ReviewState = ReviewState.PENDING
    history: list[ReviewEvent] = Field(default_factory=list)
    takes: dict[str, int] = Field(
        default_factory=dict, description="how often each stage was regenerated"
    )
    error: str | None = None
    publications: dict[str, Publication] = Field(
        default_factory=dict, description="per channel: where the exported video went"
    )
    consents: dict[str, Consent] = Field(
        default_factory=dict,
        description="per presenter (host, guest) shown from a portrait: its likeness consent",
    )
    variant: VariantTake | None = Field(
        default=None, description="an A/B take: its group, label, hook and style"
    )

    @field_validator("video_id")
    @classmethod
    def _vid(cls, v: str) -> str:
        return validate_video_id(v)

    @model_validator(mode="after")
    def _keys_are_relative(self) -> VideoManifest:
        for name, rec in self.stages.items():
            for k in rec.keys:
                try:
                    validate_key(k)
                except ValueError as e:
                    raise ValueError(f"stage {name}: {e}") from None
        return self

    @property
    def needs_attention(self) -> bool:
        """Pending, but a quality check failed: the reviewer should look closely."""
        return self.state is ReviewState.PENDING and bool(self.quality and self.quality.failed)

    @staticmethod
    def key_for(video_id: str) -> str:
        return f"videos/{validate_video_id(video_id)}/manifest.json"

    def transition(self, new: ReviewState, by: str, note: str = "") -> None:
        """Move to ``new`` and record who and why; refuse transitions the workflow forbids."""
        if new not in REVIEW_TRANSITIONS[self.state]:
            raise ValueError(
                f"video {self.video_id} is {self.state.value}; cannot become {new.value}"
            )
        if new is ReviewState.REJECTED and not note.strip():
            raise ValueError("a rejection needs a note saying why")
        self.state = new
        self.history.append(ReviewEvent(state=new, by=by, note=note))

    def reopen(self, by: str, note: str, diff: str = "") -> None:
        """Back to pending after a regeneration or an edit; approved or exported videos stay
        as they are."""
        self.check_editable("regenerating")
        self.state = ReviewState.PENDING
        self.history.append(ReviewEvent(state=ReviewState.PENDING, by=by, note=note, diff=diff))

    def check_editable(self, doing: str = "editing") -> None:
        """ValueError unless the video is pending, rejected or failed (not yet approved)."""
        if self.state in (ReviewState.APPROVED, ReviewState.EXPORTED):
            raise ValueError(
                f"video {self.video_id} is {self.state.value}; reject it before {doing}"
            )


def video_id_for(item: ContentItem, options: ProduceOptions) -> str:
    return stable_id("vid", item.id, options.id_fields())
