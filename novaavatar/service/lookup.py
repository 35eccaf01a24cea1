"""What the review pages read from the artifact store, with errors turned into one-line messages.

Pages never see a traceback: an unreachable store or a bad setting becomes a
:class:`StoreUnavailable`, a manifest that does not parse is listed as broken and skipped.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError

from novaavatar import manifests
from novaavatar.domain import ContentItem, ReviewState, VideoManifest, validate_video_id
from novaavatar.errors import NotFoundError, NovaAvatarError
from novaavatar.settings import Settings, get_settings
from novaavatar.store import ArtifactStore, get_store

# The queue filters, in the order the page offers them; "needs attention" is a view, not a state.
NEEDS_ATTENTION = "needs attention"
QUEUE_FILTERS = ("pending", NEEDS_ATTENTION, "approved", "rejected", "exported", "failed", "all")


class StoreUnavailable(NovaAvatarError):
    """The store (or the settings that locate it) cannot be used right now."""


class VideoNotFound(NovaAvatarError):
    """A video id from the URL or a form is malformed or unknown."""


def open_store() -> tuple[Settings, ArtifactStore]:
    """The configured settings and store, or StoreUnavailable saying what is wrong."""
    try:
        settings = get_settings()
        return settings, get_store(settings)
    except NovaAvatarError as e:
        raise StoreUnavailable(f"cannot open the artifact store: {e}") from None
    except (OSError, ValueError) as e:
        raise StoreUnavailable(f"cannot open the artifact store: {e}") from None


@dataclass
class Queue:
    """Every readable manifest, newest first, and the keys of those that could not be read."""

    videos: list[VideoManifest] = field(default_factory=list)
    broken: dict[str, str] = field(default_factory=dict)

    def select(self, view: str) -> list[VideoManifest]:
        if view == "all":
            return list(self.videos)
        if view == NEEDS_ATTENTION:
            return [m for m in self.videos if needs_attention(m)]
        return [m for m in self.videos if m.state.value == view]

    def counts(self) -> dict[str, int]:
        by_state = Counter(m.state.value for m in self.videos)
        out = {s.value: by_state.get(s.value, 0) for s in ReviewState}
        out[NEEDS_ATTENTION] = sum(needs_attention(m) for m in self.videos)
        return out


def needs_attention(m: VideoManifest) -> bool:
    """Pending, but a quality check failed or there is no quality report to trust."""
    return m.state is ReviewState.PENDING and (m.quality is None or not m.quality.passed)


def load_queue(store: ArtifactStore) -> Queue:
    """Read every manifest; one corrupt manifest is reported, it does not hide the others."""
    queue = Queue()
    try:
        keys = [k for k in store.list("videos") if k.endswith("/manifest.json")]
    except (NovaAvatarError, OSError) as e:
        raise StoreUnavailable(f"cannot list videos in {store.uri}: {e}") from None
    for key in keys:
        try:
            queue.videos.append(VideoManifest.model_validate_json(store.get_bytes(key)))
        except ValidationError as e:
            queue.broken[key] = f"{e.error_count()} invalid field(s): {_first_error(e)}"
        except (NovaAvatarError, OSError, ValueError) as e:
            queue.broken[key] = str(e)
    queue.videos.sort(key=lambda m: m.created_at, reverse=True)
    return queue


def _first_error(e: ValidationError) -> str:
    err = e.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "document"
    return f"{where}: {err['msg']}"


def load_video(store: ArtifactStore, raw_id: str) -> VideoManifest:
    """The manifest for an id typed or linked by a user; VideoNotFound for anything else."""
    try:
        vid = validate_video_id(raw_id)
    except ValueError:
        raise VideoNotFound(f"video {raw_id!r} not found: not a video id") from None
    try:
        manifest, _ = manifests.load(store, vid)
    except NotFoundError:
        raise VideoNotFound(f"video {vid!r} not found in the store") from None
    except ValidationError as e:
        raise StoreUnavailable(f"the manifest of {vid} is corrupt: {_first_error(e)}") from None
    except (NovaAvatarError, OSError, ValueError) as e:
        raise StoreUnavailable(f"cannot read video {vid}: {e}") from None
    return manifest


@dataclass
class ScrapedItems:
    items: list[ContentItem]
    errors: dict[str, str]
    unreadable: list[str]
    all_failed: bool = False  # the last scrape reached no source at all

    @property
    def offline(self) -> bool:
        """Every source failed to connect or timed out: most likely no network here."""
        network = ("could not connect", "timed out", "name or service", "connection")
        return (
            self.all_failed
            and bool(self.errors)
            and all(any(w in why.lower() for w in network) for why in self.errors.values())
        )


def load_items(store: ArtifactStore) -> ScrapedItems:
    """The last scrape's items, best first, and the sources that failed."""
    try:
        if not store.exists("items/latest.json"):
            return ScrapedItems([], {}, [])
        latest = store.get_json("items/latest.json")
    except (NovaAvatarError, OSError, ValueError) as e:
        raise StoreUnavailable(f"cannot read the scraped items: {e}") from None
    items, unreadable = [], []
    for item_id in latest.get("ids", []):
        try:
            items.append(ContentItem.model_validate_json(store.get_bytes(f"items/{item_id}.json")))
        except (NovaAvatarError, OSError, ValueError):
            unreadable.append(str(item_id))
    return ScrapedItems(
        items, dict(latest.get("errors", {})), unreadable, bool(latest.get("all_failed"))
    )


def videos_per_day(videos: list[VideoManifest]) -> dict[date, int]:
    out: Counter[date] = Counter(m.created_at.date() for m in videos)
    return dict(sorted(out.items()))


# The produce pipeline's stages in the order they run; tables list stages this way.
PIPELINE = ("script", "background", "speech", "avatar", "compose", "quality")


def in_pipeline_order(names: list[str]) -> list[str]:
    """Stage names in the order the pipeline runs them; others after, alphabetically."""
    rank = {n: i for i, n in enumerate(PIPELINE)}
    return sorted(names, key=lambda n: (rank.get(n, len(PIPELINE)), n))


def stage_averages(videos: list[VideoManifest]) -> dict[str, tuple[float, int]]:
    """Mean seconds per stage and how many runs it averages over, in pipeline order."""
    acc: dict[str, list[float]] = defaultdict(list)
    for m in videos:
        for name, rec in m.stages.items():
            acc[name].append(rec.seconds)
    return {n: (sum(acc[n]) / len(acc[n]), len(acc[n])) for n in in_pipeline_order(list(acc))}


def total_cost(videos: list[VideoManifest]) -> float:
    return sum(rec.cost_usd for m in videos for rec in m.stages.values())


def provider_chains(settings: Settings) -> dict[str, list[Any]]:
    """Each stage's providers in the order they are tried (the first available one works)."""
    from tasks import background, speech
    from tasks.avatar.providers import default_providers as avatar_chain
    from tasks.script.chain import default_providers as script_chain

    return {
        "script": list(script_chain()),
        "background": list(background.default_providers()),
        "speech": list(speech.default_providers(settings)),
        "avatar": list(avatar_chain(settings)),
    }
