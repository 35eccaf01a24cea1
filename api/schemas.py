"""Request and response bodies of the REST API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    computed_field,
    field_validator,
    model_validator,
)

from novaavatar.domain import (
    HOOKS,
    MAX_DURATION_S,
    MAX_EXPLAINER_S,
    MAX_VARIANTS,
    MIN_DURATION_S,
    MIN_EXPLAINER_S,
    Aspect,
    ContentItem,
    Hook,
    ProduceOptions,
    VariantTake,
    VideoFormat,
    VideoManifest,
)
from novaavatar.languages import LANGUAGES, check_language

VIDEO_ID = r"^[a-z0-9][a-z0-9\-]{2,80}$"
ITEM_ID = r"^[a-z0-9][a-z0-9\-]{2,80}$"
JOB_ID = r"^(local-[0-9]{1,9}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
VOICE = r"^[a-z]{2,3}([-_][a-z0-9]{2,8})*(\+[a-z0-9]{1,16})?$"
REVIEWER = r"^[\w .@'\-]{1,80}$"
TEMPLATE = r"^(none|[a-z][a-z0-9_\-]{0,39}(@[1-9][0-9]{0,5})?)$"
PRESENTER = TEMPLATE  # name[@version] or none

Layout = Literal["studio", "pip", "full"]
JobKind = Literal["scrape", "generate", "manual", "batch", "regenerate", "trim", "other"]
JobState = Literal["scheduled", "running", "completed", "failed", "cancelled"]
StageState = Literal["pending", "running", "completed", "failed"]
Voice = Annotated[
    str, Field(pattern=VOICE, max_length=40, description="eSpeak NG voice, e.g. en-us")
]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScrapeRequest(_Request):
    sources: list[AnyHttpUrl] = Field(
        default_factory=list,
        max_length=20,
        description="feed URLs (http/https); empty: RSS_FEEDS",
    )
    sample: bool = Field(
        default=False,
        description="read the bundled sample stories instead (fiction: badged, never published)",
    )
    keywords: list[Annotated[str, Field(min_length=1, max_length=60)]] = Field(
        default_factory=list, max_length=20, description="topic keywords that raise an item's score"
    )
    limit: int = Field(default=20, ge=1, le=100, description="keep at most this many items")
    wait_s: float = Field(
        default=30, ge=0, le=120, description="wait this long for the items; 0: return at once"
    )


# The original NovaAvatar API's field names, accepted as they are.
ORIGINAL_FIELDS = {
    "content_title": "title",
    "content_description": "description",
    "content_url": "url",
    "duration": "duration_s",
}
# Style names as the original design wrote them, mapped onto ours.
ORIGINAL_STYLES = {"news anchor": "news_anchor", "news-anchor": "news_anchor"}
RequestStyle = Literal[
    "news_anchor", "casual", "educational", "entertaining", "professional", "news anchor"
]


class GenerateRequest(_Request):
    """Ours or the original design's names: ``content_title``, ``content_description``,
    ``content_url`` and ``duration`` are ``title``, ``description``, ``url`` and
    ``duration_s``; a style's case and "news anchor" spelt with a space are accepted."""

    item_id: str | None = Field(default=None, pattern=ITEM_ID, description="a scraped item's id")
    title: str | None = Field(
        default=None, min_length=1, max_length=500, description="or: new content's title"
    )
    description: str = Field(default="", max_length=5000, description="new content's text")
    url: AnyHttpUrl | None = Field(default=None, description="new content's source URL")
    style: RequestStyle | None = Field(
        default=None,
        description="news_anchor, casual, educational, entertaining or professional (any case; "
        "'news anchor' as the original design wrote it); default: DEFAULT_STYLE",
    )
    content_title: str | None = Field(default=None, description="the original name of title")
    content_description: str | None = Field(
        default=None, description="the original name of description"
    )
    content_url: AnyHttpUrl | None = Field(default=None, description="the original name of url")
    duration: float | None = Field(default=None, description="the original name of duration_s")
    duration_s: float | None = Field(
        default=None,
        ge=MIN_DURATION_S,
        le=MAX_EXPLAINER_S,
        description=f"{MIN_DURATION_S}-{MAX_DURATION_S} s; "
        f"an explainer {MIN_EXPLAINER_S}-{MAX_EXPLAINER_S} s; "
        "default: DEFAULT_DURATION",
    )
    aspect: Aspect | None = Field(default=None, description="default: DEFAULT_ASPECT")
    voice: Voice | None = Field(
        default=None, description="eSpeak NG voice; default: the template's"
    )
    layout: Layout | None = Field(
        default=None,
        description="presenter in front, a window at the side, or full frame; "
        "default: the template's",
    )
    template: str | None = Field(
        default=None,
        pattern=TEMPLATE,
        max_length=48,
        description="brand template name[@version] (e.g. news, shorts@1) or none; default: news",
    )
    format: VideoFormat | None = Field(
        default=None,
        description="single (one presenter), conversation (host and guest) or explainer",
    )
    guest_voice: Voice | None = Field(
        default=None, description="a conversation's guest voice; default: one contrasting the host"
    )
    transition: Literal["crossfade", "wipe", "cut"] | None = Field(
        default=None, description="how an explainer's scenes change; default: crossfade"
    )
    presenter: str | None = Field(
        default=None,
        pattern=PRESENTER,
        max_length=48,
        description="presenter profile name[@version] (GET /api/presenters) or none; "
        "default: the template's, then DEFAULT_PRESENTER",
    )
    language: str | None = Field(
        default=None,
        max_length=10,
        description="the script's and voice's language: "
        + ", ".join(sorted(LANGUAGES))
        + " (OpenAI writes any of them; the offline script frames en es fr de ar zh ja)",
    )

    variants: int | None = Field(
        default=None,
        ge=1,
        le=MAX_VARIANTS,
        description=f"A/B takes: 2-{MAX_VARIANTS} videos whose scripts differ in hook and "
        "style, reviewed side by side (approving one rejects the others); default: 1",
    )
    hook: Hook | None = Field(
        default=None,
        description="how the script opens: " + ", ".join(HOOKS) + "; with variants, the first "
        "take's (the others rotate); default: the style's own opening",
    )

    @field_validator("language")
    @classmethod
    def _known_language(cls, v: str | None) -> str | None:
        return None if v is None else check_language(v)

    @model_validator(mode="before")
    @classmethod
    def _original_names(cls, data: object) -> object:
        """The original design's field names onto ours; both for one field is refused."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for old, new in ORIGINAL_FIELDS.items():
            if old in data and data[old] is not None:
                if data.get(new) is not None and data[new] != data[old]:
                    raise ValueError(f"give {new} or {old} (its original name), not both")
                data[new] = data[old]
            data.pop(old, None)
        style = data.get("style")
        if isinstance(style, str):
            name = style.strip().lower()
            data["style"] = ORIGINAL_STYLES.get(name, name)
        return data

    @model_validator(mode="after")
    def _one_source(self) -> GenerateRequest:
        if (self.item_id is None) == (self.title is None or not self.title.strip()):
            raise ValueError("give either item_id (a scraped item) or title (new content)")
        return self

    @model_validator(mode="after")
    def _options_fit(self) -> GenerateRequest:
        """Options that cannot make a video (a duration outside the format's range) are a
        422 of the request, before anything is stored or started."""
        from novaavatar.errors import InputError

        try:
            self.options()
        except InputError as e:
            raise ValueError(str(e)) from None
        return self

    def options(self) -> ProduceOptions:
        """The production options this request sets (the rest: template, then settings)."""
        from novaavatar.service.production import options_from

        return options_from(self.model_dump(include=OPTION_FIELDS))


OPTION_FIELDS = {
    "style",
    "duration_s",
    "aspect",
    "voice",
    "layout",
    "template",
    "format",
    "guest_voice",
    "transition",
    "language",
    "variants",
    "hook",
    "presenter",
}


class Links(BaseModel):
    job: str | None = None
    video: str | None = None
    manifest: str | None = None
    captions_vtt: str | None = None
    captions_srt: str | None = None
    flow_run: str | None = Field(default=None, description="the run in the Prefect UI")


class StageProgress(BaseModel):
    name: str
    state: StageState
    provider: str | None = None
    seconds: float | None = None


class Progress(BaseModel):
    completed: int
    total: int
    stages: list[StageProgress]


class Job(BaseModel):
    """One piece of work: a Prefect flow run (``where=deployment``) or a local run of this API."""

    id: str = Field(description="flow run id (deployment) or local-<n> (this API process)")
    kind: JobKind
    state: JobState
    where: Literal["deployment", "local"]
    label: str
    created_at: datetime
    finished_at: datetime | None = None
    flow_run_id: str | None = None
    item_id: str | None = None
    video_id: str | None = None
    error: str | None = None
    progress: Progress | None = None
    links: Links = Field(default_factory=Links)
    by: str | None = Field(
        None, description="who started it: api:token-N, a reviewer, or a CLI user ($USER)"
    )

    @computed_field(description="the same as id: the original API's name for it")  # type: ignore[prop-decorator]
    @property
    def job_id(self) -> str:
        return self.id

    @computed_field(description="the same as state: the original API's name for it")  # type: ignore[prop-decorator]
    @property
    def status(self) -> JobState:
        return self.state


class JobPage(BaseModel):
    jobs: list[Job]
    limit: int
    offset: int
    next_offset: int | None = Field(description="offset of the next page; null: last page")


class ScrapeResult(BaseModel):
    job: Job
    items: list[ContentItem] = Field(description="the scraped items, best first (when done)")


class VideoSummary(BaseModel):
    video_id: str
    version: int = Field(description="send as expected_version to detect concurrent decisions")
    state: str
    title: str
    item_id: str
    created_at: datetime
    updated_at: datetime
    duration_s: float | None
    needs_attention: bool
    failed_checks: list[str]
    sample: bool = Field(
        default=False, description="made from a bundled sample story: fiction, never published"
    )
    links: Links
    variant: VariantTake | None = Field(
        default=None,
        description="an A/B take: its group (the same in every take), label, hook and style; "
        "approving one take rejects the group's others",
    )

    @classmethod
    def of(cls, m: VideoManifest) -> VideoSummary:
        vid = m.video_id
        failed = [c.name for c in m.quality.failed] if m.quality else []
        has_final = m.final is not None
        return cls(
            video_id=vid,
            version=m.version,
            state=m.state.value,
            title=m.item.title,
            item_id=m.item.id,
            created_at=m.created_at,
            updated_at=m.updated_at,
            duration_s=m.final.duration_s if m.final else None,
            needs_attention=m.state.value == "pending" and (m.quality is None or bool(failed)),
            failed_checks=failed,
            sample=m.item.sample,
            variant=m.variant,
            links=Links(
                video=f"/api/videos/{vid}" if has_final else None,
                manifest=f"/api/videos/{vid}/manifest",
                captions_vtt=f"/api/videos/{vid}/captions.vtt" if has_final else None,
                captions_srt=f"/api/videos/{vid}/captions.srt" if has_final else None,
            ),
        )


class QueuePage(BaseModel):
    videos: list[VideoSummary]
    counts: dict[str, int] = Field(description="videos per state, over the whole store")
    limit: int
    offset: int
    next_offset: int | None


class Decision(_Request):
    reviewer: str = Field(default="api", pattern=REVIEWER, description="who decides")
    note: str = Field(default="", max_length=2000)
    expected_version: int | None = Field(
        default=None, ge=0, description="the version you reviewed; 409 when it changed since"
    )


class ScriptEdit(_Request):
    """A reviewer's changes to a video's script; a field left out stays as it is."""

    reviewer: str = Field(default="api", pattern=REVIEWER, description="who edits")
    expected_version: int | None = Field(
        default=None, ge=0, description="the version you edited; 409 when it changed since"
    )
    text: str | None = Field(
        default=None,
        max_length=20_000,
        description="what is said: plain text; a conversation's 'Host:'/'Guest:' lines; "
        "an explainer's paragraphs, each with a first line '# Title'",
    )
    title: str | None = Field(default=None, max_length=200)
    keywords: list[Annotated[str, Field(min_length=1, max_length=40)]] | None = Field(
        default=None, max_length=12, description="hashtags, without '#'"
    )
    call_to_action: str | None = Field(
        default=None, max_length=500, description="the description / call to action"
    )


class TrimRequest(_Request):
    """Which seconds of the (untrimmed) video to keep."""

    reviewer: str = Field(default="api", pattern=REVIEWER, description="who trims")
    expected_version: int | None = Field(
        default=None, ge=0, description="the version you trimmed; 409 when it changed since"
    )
    start_s: float = Field(default=0.0, ge=0, le=3600, description="keep from this second")
    end_s: float | None = Field(
        default=None, gt=0, le=3600, description="keep up to this second; default: the end"
    )


class Rejection(Decision):
    note: str = Field(min_length=1, max_length=2000, description="why: required")

    @field_validator("note")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("a rejection needs a note saying why")
        return v
