"""Settings from the environment and ``.env``; names follow the original NovaAvatar design.

A wrong value raises :class:`SettingsError` naming the variable and what is allowed.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings import SettingsError as _SourceError

from novaavatar.domain import MAX_DURATION_S, MIN_DURATION_S, SCRIPT_STYLES
from novaavatar.errors import SettingsError

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# The original design's outlets, by their public RSS feed URLs: RSS_FEEDS by default, and
# what the word ``default`` in a source list stands for.
DEFAULT_FEEDS: dict[str, str] = {
    "CNN": "http://rss.cnn.com/rss/cnn_topstories.rss",
    "BBC": "https://feeds.bbci.co.uk/news/rss.xml",
    "NPR": "https://feeds.npr.org/1001/rss.xml",
    "NYT": "https://rss.nytimes.com/services/xml/rss/nyt/HomePage.xml",
    "TechCrunch": "https://techcrunch.com/feed/",
}


def split_list(v: Any) -> Any:
    """A list setting from the environment: a JSON list, or comma separated."""
    if isinstance(v, str):
        if v.strip().startswith("["):
            return json.loads(v)
        return [part.strip() for part in v.split(",") if part.strip()]
    return v


class _Group(BaseSettings):
    """One concern's settings; each reads its own variables (same names as ever), so a page
    can read its group even while another group's value is wrong."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )


class StorageSettings(_Group):
    """Where artifacts and results live: a local folder or S3/MinIO."""

    storage_path: Path = Field(
        default=PROJECT_ROOT / "storage",
        description="Root folder of the local artifact store and of persisted Prefect results.",
    )
    artifact_store: Literal["local", "s3"] = Field(
        default="local", description="Artifact store: a folder under STORAGE_PATH, or S3/MinIO."
    )
    s3_endpoint: str = Field(
        default="s3.amazonaws.com", description="S3/MinIO API host[:port], without scheme."
    )
    s3_bucket: str = Field(default="novaavatar", description="Bucket of the artifact store.")
    s3_prefix: str = Field(default="", description="Folder inside the bucket; empty: its root.")
    s3_region: str = Field(default="us-east-1", description="Bucket region.")
    s3_secure: bool = Field(default=True, description="Use HTTPS for S3.")
    s3_access_key: SecretStr | None = None
    s3_secret_key: SecretStr | None = None
    s3_create_bucket: bool = Field(default=False, description="Create the bucket when missing.")


class SourceSettings(_Group):
    """What is scraped: feeds, Reddit, NewsAPI, and how politely."""

    rss_feeds: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_FEEDS.values()),
        description="Feed URLs to scrape (JSON list or comma separated); default: CNN, BBC, NPR, "
        "NYT and TechCrunch. The bundled sample stories are fiction, used only when asked for.",
    )
    scrape_timeout: float = Field(default=10.0, ge=0.5, le=120, description="Seconds per feed.")
    max_items_per_source: int = Field(default=20, ge=1, le=500)
    openai_api_key: SecretStr | None = None
    replicate_api_token: SecretStr | None = None
    reddit_client_id: SecretStr | None = None
    reddit_client_secret: SecretStr | None = None
    newsapi_key: SecretStr | None = None
    reddit_subreddits: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["news", "worldnews", "technology"],
        description="Subreddits to read (JSON list or comma separated), with REDDIT_CLIENT_ID.",
    )
    reddit_sort: Literal["hot", "new", "top"] = "hot"
    reddit_time_filter: Literal["hour", "day", "week", "month", "year", "all"] = Field(
        default="day", description="Period of REDDIT_SORT=top."
    )
    reddit_min_score: int = Field(default=50, ge=0, description="Posts under this score dropped.")
    reddit_user_agent: str = Field(
        default="", description="Reddit asks for 'platform:app:version (by /u/you)'."
    )
    reddit_base_url: str | None = Field(
        default=None, description="Reddit API and OAuth base URL (tests); unset: reddit.com."
    )
    newsapi_query: str = Field(default="", description="NewsAPI everything-search; empty: off.")
    newsapi_country: str = Field(
        default="us", description="NewsAPI top headlines country; empty: off."
    )
    newsapi_base_url: str | None = Field(
        default=None, description="NewsAPI base URL (tests); unset: https://newsapi.org/v2."
    )
    newsapi_daily_limit: int = Field(
        default=100, ge=0, le=1_000_000, description="NewsAPI requests per UTC day (free: 100)."
    )
    scrape_per_host: int = Field(
        default=2, ge=1, le=16, description="Feed requests in flight per host."
    )

    @field_validator("rss_feeds", "reddit_subreddits", mode="before")
    @classmethod
    def _source_lists(cls, v: Any) -> Any:
        return split_list(v)


class ScriptSettings(_Group):
    """The script: defaults every door uses, and the OpenAI writer."""

    default_style: str = Field(default="news_anchor", description="Script style.")
    default_duration: float = Field(default=30, ge=MIN_DURATION_S, le=MAX_DURATION_S)
    default_aspect: Literal["9:16", "16:9", "1:1"] = "9:16"
    openai_base_url: str | None = Field(
        default=None, description="OpenAI API base URL; empty: https://api.openai.com/v1."
    )
    openai_model: str = Field(
        default="gpt-4.1-mini", description="Chat model for scripts (needs structured outputs)."
    )
    openai_timeout: float = Field(default=30, ge=1, le=300, description="Seconds per request.")
    openai_max_retries: int = Field(
        default=3, ge=0, le=10, description="Retries on 429 (after Retry-After), 5xx, timeouts."
    )
    openai_deadline: float = Field(
        default=120, ge=5, le=900, description="Seconds for one script, retries included."
    )
    openai_credentials_block: str = Field(
        default="", description="Prefect block with the key, used when OPENAI_API_KEY is unset."
    )

    @field_validator("default_style")
    @classmethod
    def _style(cls, v: str) -> str:
        if v not in SCRIPT_STYLES:
            raise ValueError(f"choose one of {', '.join(SCRIPT_STYLES)}")
        return v


class BackgroundSettings(_Group):
    """Backgrounds: Flux on Replicate, else procedural."""

    replicate_base_url: str | None = Field(
        default=None, description="Replicate API base URL; empty: https://api.replicate.com."
    )
    flux_model: Literal["schnell", "dev"] = Field(
        default="schnell", description="Flux schnell (fast, $0.003) or dev (quality, $0.025)."
    )
    background_candidates: int = Field(
        default=1, ge=1, le=4, description="Images per background; the calmest is kept."
    )
    background_style: Literal["studio", "photo", "cinematic", "illustration", "abstract"] = Field(
        default="studio", description="Style preset appended to the scene description."
    )
    replicate_timeout: float = Field(default=30, ge=1, le=300, description="Seconds per request.")
    replicate_deadline: float = Field(
        default=180, ge=5, le=1800, description="Seconds for one background, polling included."
    )
    replicate_credentials_block: str = Field(
        default="",
        description="Prefect block with the token, used when REPLICATE_API_TOKEN is unset.",
    )


class SpeechSettings(_Group):
    """Speech: Dia, OpenAI TTS, eSpeak NG."""

    tts_backend: Literal["auto", "dia", "openai", "espeak"] = Field(
        default="auto",
        description="auto: Dia if DIA_MODEL_PATH, then OpenAI if OPENAI_API_KEY, then eSpeak NG.",
    )
    tts_voice: str = Field(default="en-us", description="eSpeak NG voice name.")
    tts_speed: int = Field(default=165, ge=80, le=450, description="Words per minute for eSpeak.")
    sample_rate: Literal[16000] = Field(default=16000, description="Speech sample rate (Hz).")
    dia_model_path: Path | None = Field(
        default=None, description="Local Dia checkpoint folder (published layout); never fetched."
    )
    dia_codec_path: Path | None = Field(
        default=None, description="Local DAC codec folder, when the checkpoint names a Hub id."
    )
    dia_device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    dia_dtype: Literal["auto", "float32", "float16", "bfloat16"] = Field(
        default="auto", description="auto: bfloat16 on a GPU that has it, else float32."
    )
    dia_seed: int = Field(default=0, ge=0, description="Same text + seed → same voice and audio.")
    dia_guidance_scale: float = Field(default=3.0, ge=1, le=10, description="CFG scale.")
    dia_temperature: float = Field(default=1.8, gt=0, le=3)
    dia_top_p: float = Field(default=0.90, gt=0, le=1)
    dia_top_k: int = Field(default=45, ge=1, le=1024)
    dia_max_new_tokens: int = Field(
        default=3072, ge=24, le=8192, description="Cap on decoder steps per chunk (86 ≈ 1 s)."
    )
    dia_reference_audio: Path | None = Field(
        default=None, description="5–15 s clip of the voice to clone (with DIA_REFERENCE_TEXT)."
    )
    dia_reference_text: str = Field(
        default="", validate_default=True, description="What the reference clip says."
    )
    openai_tts_model: Literal["tts-1", "tts-1-hd", "gpt-4o-mini-tts"] = "gpt-4o-mini-tts"
    openai_tts_voice: Literal[
        "alloy",
        "ash",
        "ballad",
        "coral",
        "echo",
        "fable",
        "nova",
        "onyx",
        "sage",
        "shimmer",
        "verse",
    ] = "alloy"
    openai_tts_format: Literal["wav", "pcm", "mp3"] = "wav"
    openai_tts_instructions: str = Field(
        default="", description="Tone for gpt-4o-mini-tts, e.g. 'a calm news anchor'."
    )
    openai_tts_timeout: float = Field(default=60, ge=1, le=600, description="Seconds per request.")
    openai_tts_max_retries: int = Field(default=2, ge=0, le=10)

    @field_validator("dia_reference_text")
    @classmethod
    def _reference_pair(cls, v: str, info: ValidationInfo) -> str:
        if (info.data.get("dia_reference_audio") is None) != (not v.strip()):
            raise ValueError(
                "DIA_REFERENCE_AUDIO and DIA_REFERENCE_TEXT go together: set the clip and the "
                "words it says, or neither"
            )
        return v


class AvatarSettings(_Group):
    """The presenter: the lite renderer's frame rate, the portrait, OmniAvatar."""

    avatar_fps: int = Field(default=25, ge=10, le=60)
    portrait_path: Path | None = Field(
        default=None,
        description="Presenter photo for runs without a portrait of their own (upload or "
        "template); needs PORTRAIT_CONSENT_BY.",
    )
    portrait_consent_by: str = Field(
        default="",
        max_length=120,
        description="Who attests the right to animate PORTRAIT_PATH's likeness (recorded).",
    )
    default_presenter: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9_-]{0,39}(@[1-9][0-9]{0,5})?$",
        description="Presenter profile (name or name@version) for runs whose request and "
        "template name none; its portrait, voice and layout fill what the run leaves unset.",
    )
    num_steps: int = Field(default=25, ge=10, le=50, description="OmniAvatar denoising steps.")
    guidance_scale: float = Field(default=4.5, ge=1, le=10)
    audio_scale: float = Field(default=4.5, ge=1, le=10)
    tea_cache_thresh: float = Field(default=0.0, ge=0, le=0.15)
    use_14b_model: bool = False
    enable_vram_management: bool = True
    omniavatar_model_path: Path | None = Field(
        default=None, description="Folder with the published pretrained_models layout."
    )
    omniavatar_max_hw: int = Field(
        default=720, ge=64, le=1280, description="Longest side OmniAvatar generates (480p: 720)."
    )
    omniavatar_resident_params: int | None = Field(
        default=None,
        ge=0,
        description="DiT parameters kept on the GPU (published num_persistent_param_in_dit, "
        "e.g. 7000000000); the other blocks stream in per step. Unset: all resident.",
    )
    omniavatar_dtype: Literal["auto", "bf16", "fp16", "fp32"] = Field(
        default="auto",
        description="OmniAvatar DiT/text encoder dtype; auto: bf16 on CUDA, fp32 on CPU.",
    )
    omniavatar_compile: bool = Field(
        default=False, description="torch.compile the DiT blocks (eager fallback if it fails)."
    )
    omniavatar_gpus: int = Field(
        default=1,
        ge=1,
        le=64,
        description="GPUs per OmniAvatar video: above 1 the worker starts that many ranks with "
        "torchrun (sequence-parallel, FSDP-sharded DiT); the model loads per video then.",
    )
    omniavatar_keep_loaded: bool = Field(
        default=True,
        description="Keep OmniAvatar loaded between videos; false frees it after each.",
    )
    omniavatar_tea_cache_coefficients: Annotated[list[float], NoDecode] = Field(
        default_factory=list,
        description="TeaCache rescale polynomial, highest degree first (comma separated, from "
        "bench/calibrate_teacache.py); empty: the model's published Wan2.1 values.",
    )

    @field_validator("omniavatar_tea_cache_coefficients", mode="before")
    @classmethod
    def _avatar_lists(cls, v: Any) -> Any:
        return split_list(v)


class VideoSettings(_Group):
    """The H.264 encoder."""

    video_crf: int = Field(default=23, ge=0, le=51, description="x264 quality (lower is better).")
    video_preset: Literal[
        "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow"
    ] = "veryfast"


class ReviewPageSettings(_Group):
    """Who may review on the Streamlit page."""

    review_password: SecretStr | None = Field(
        default=None, description="When set, the review page asks reviewers to sign in."
    )
    reviewers: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Names allowed to sign in (comma separated); empty: any."
    )

    @field_validator("reviewers", mode="before")
    @classmethod
    def _reviewpage_lists(cls, v: Any) -> Any:
        return split_list(v)


class ApiSettings(_Group):
    """The REST API, uploads and webhooks."""

    api_port: int = Field(default=8000, ge=1, le=65535, description="REST API port on 127.0.0.1.")
    api_tokens: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Bearer tokens the REST API accepts (comma separated); empty: it refuses all.",
    )
    api_cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Browser origins allowed to call the REST API (comma separated); empty: none.",
    )
    api_rate_limit: int = Field(
        default=120, ge=0, le=100_000, description="REST API requests per minute per token; 0: off."
    )
    max_image_megapixels: float = Field(
        default=40,
        ge=1,
        le=400,
        description="Largest image accepted (width × height, in megapixels), read from its header.",
    )
    max_upload_mb: int = Field(
        default=50, ge=1, le=1024, description="Largest REST API request (uploads), in MiB."
    )
    webhook_url: str | None = Field(
        default=None,
        description="Called (POST, HMAC-SHA256 signed) when a video is ready for review "
        "or approved.",
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        validate_default=True,
        description="Key of the webhook signature; required with WEBHOOK_URL.",
    )

    @field_validator("api_tokens", "api_cors_origins", mode="before")
    @classmethod
    def _api_lists(cls, v: Any) -> Any:
        return split_list(v)

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, v: str | None) -> str | None:
        if v and not v.startswith(("http://", "https://")):
            raise ValueError("use an http:// or https:// URL")
        return v or None

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_signed(cls, v: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if info.data.get("webhook_url") and not (v and v.get_secret_value()):
            raise ValueError("WEBHOOK_URL needs a secret, so receivers can verify deliveries")
        return v


class PublishingSettings(_Group):
    """Publishing to YouTube."""

    youtube_credentials_block: str = Field(
        default="",
        description="Prefect YouTube OAuth block; used when YOUTUBE_REFRESH_TOKEN is unset.",
    )
    youtube_client_id: str = Field(default="", description="OAuth client id (installed app).")
    youtube_client_secret: SecretStr | None = None
    youtube_refresh_token: SecretStr | None = None
    youtube_token_uri: str = Field(
        default="https://oauth2.googleapis.com/token", description="OAuth token endpoint."
    )
    youtube_api_url: str | None = Field(
        default=None, description="YouTube Data API root URL (tests); unset: Google's."
    )
    youtube_privacy: Literal["private", "unlisted", "public"] = Field(
        default="private", description="Privacy of uploaded videos."
    )
    youtube_category: str = Field(
        default="25", pattern=r"^\d{1,3}$", description="YouTube category id (25: News & Politics)."
    )
    youtube_chunk_kib: int = Field(
        default=8192,
        ge=256,
        le=1_048_576,
        multiple_of=256,
        description="Resumable upload chunk size in KiB (a multiple of 256).",
    )
    youtube_timeout: float = Field(default=60, ge=1, le=600, description="Seconds per request.")
    youtube_max_retries: int = Field(
        default=6, ge=0, le=20, description="Retries per upload on 429, 5xx and dropped links."
    )


class OrchestrationSettings(_Group):
    """Prefect: the avatar backend, pools, schedule, limits, logs, Sentry."""

    avatar_backend: Literal["lite", "omniavatar"] = Field(
        default="lite", description="lite: CPU renderer in-process; omniavatar: the gpu work pool."
    )
    gpu_concurrency: int = Field(
        default=1, ge=1, le=64, description="Runs at once on the gpu pool."
    )
    scrape_cron: str = Field(default="0 * * * *", description="Schedule of scrape-content.")
    scrape_timezone: str = Field(default="UTC", description="Time zone of SCRAPE_CRON.")
    auto_produce_threshold: float | None = Field(
        default=None,
        ge=0,
        le=2,
        description="Produce scraped items scoring at least this; unset: off.",
    )
    auto_produce_max: int = Field(default=3, ge=0, le=50, description="Cap per scrape run.")
    max_concurrent_jobs: int = Field(default=2, ge=1, le=64)
    prefect_server_start_timeout: float = Field(
        default=180,
        ge=5,
        le=1800,
        description="Seconds a command waits for its temporary Prefect server (no `make up`).",
    )
    job_timeout: int = Field(default=1800, ge=30, le=86400, description="Seconds per video.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_dir: Path | None = Field(
        default=None, description="Log folder (default STORAGE_PATH/logs)."
    )
    log_retention_days: int = Field(default=7, ge=1, le=365, description="Daily log files kept.")
    sentry_dsn: SecretStr | None = Field(default=None, description="Sentry DSN; unset: off.")
    sentry_environment: str = Field(default="local", description="Sentry environment tag.")
    auto_export: bool = Field(
        default=False,
        description="Export a video as soon as it is approved (the automation in prefect.yaml).",
    )
    zombie_after_s: int = Field(
        default=90,
        ge=35,
        le=86400,
        description="A running flow run without a heartbeat this long is marked Crashed.",
    )


class Settings(
    OrchestrationSettings,
    PublishingSettings,
    ApiSettings,
    ReviewPageSettings,
    VideoSettings,
    AvatarSettings,
    SpeechSettings,
    BackgroundSettings,
    ScriptSettings,
    SourceSettings,
    StorageSettings,
):
    """Every setting, grouped by concern (the classes above); read through this model (or one
    group of it), never from the environment directly."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    GROUPS: ClassVar[tuple[type[BaseSettings], ...]] = (
        StorageSettings,
        SourceSettings,
        ScriptSettings,
        BackgroundSettings,
        SpeechSettings,
        AvatarSettings,
        VideoSettings,
        ReviewPageSettings,
        ApiSettings,
        PublishingSettings,
        OrchestrationSettings,
    )

    @classmethod
    def group_of(cls, name: str) -> str:
        """The concern a setting belongs to, e.g. "Speech" for ``tts_voice``."""
        for group in cls.GROUPS:
            if name in group.model_fields:
                return group.__name__.removesuffix("Settings") or group.__name__
        return ""

    @property
    def log_path(self) -> Path:
        return self.log_dir or self.storage_path / "logs"

    @property
    def results_path(self) -> Path:
        return self.storage_path / "prefect-results"

    @property
    def s3_cache_path(self) -> Path:
        """Where S3 objects that a stage reads as files are kept, one copy per version."""
        return self.storage_path / "s3-cache"

    def secret_values(self) -> list[str]:
        """Every configured secret, for log redaction."""
        out = []
        for name in type(self).model_fields:
            v = getattr(self, name)
            for one in v if isinstance(v, list) else [v]:
                if isinstance(one, SecretStr) and one.get_secret_value():
                    out.append(one.get_secret_value())
        return out


def _describe(field: str, err: dict[str, Any]) -> str:
    info = Settings.model_fields.get(field)
    allowed = ""
    if info is not None:
        lo = hi = None
        for m in info.metadata:
            lo = getattr(m, "ge", None) if getattr(m, "ge", None) is not None else lo
            hi = getattr(m, "le", None) if getattr(m, "le", None) is not None else hi
        if lo is not None or hi is not None:
            allowed = f" (allowed range {lo}–{hi})"
    value = err.get("input")
    return f"{field.upper()}={value!r} is invalid: {err['msg']}{allowed}"


def load_settings(**overrides: Any) -> Settings:
    """Read settings, turning pydantic's error into one line per bad variable."""
    try:
        return Settings(**overrides)
    except ValidationError as e:
        lines = [
            _describe(str(err["loc"][0]) if err["loc"] else "?", dict(err)) for err in e.errors()
        ]
        raise SettingsError("; ".join(lines)) from None
    except (_SourceError, json.JSONDecodeError) as e:  # a value the source could not parse
        raise SettingsError(f"{e}: {e.__cause__}" if e.__cause__ else str(e)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
