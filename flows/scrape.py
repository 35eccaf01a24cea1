"""Scrape flow: fetch the configured sources, rank the items, keep them in the store."""

from __future__ import annotations

from typing import Any, NoReturn

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact

from novaavatar.domain import ContentItem
from novaavatar.errors import NovaAvatarError
from novaavatar.logs import run_settings
from novaavatar.settings import get_settings
from novaavatar.store import ArtifactStore, get_store
from tasks.scrape.sources import SAMPLE_TOKEN


class SourcesFailed(NovaAvatarError):
    """Every source of a scrape failed: the run fails with their reasons, nothing is made up."""


@task(name="fetch-sources", retries=1, retry_delay_seconds=5)
def fetch_sources(
    sources: list[str], keywords: list[str], max_items_per_source: int, timeout: float
) -> tuple[list[ContentItem], dict[str, str], bool, int]:
    """Fetch every source concurrently (feeds, plus Reddit/NewsAPI when their keys are set):
    the ranked items, each failed source's reason, whether the sample was read, and how
    many sources answered. ``default`` in ``sources`` stands for the default outlets
    (CNN, BBC, NPR, NYT, TechCrunch), ``sample`` for the bundled fictional stories."""
    from tasks.scrape import scrape

    settings = get_settings()
    result = scrape(
        sources,
        timeout=timeout,
        max_items_per_source=max_items_per_source,
        keywords=keywords,
        extra_sources=_extra_sources(sources, timeout),
        cache_dir=settings.storage_path / "scrape-cache",
        per_host_limit=settings.scrape_per_host,
    )
    if result.not_modified:
        get_run_logger().info("%d feeds unchanged since the last run", len(result.not_modified))
    return result.items, result.errors, result.used_sample, result.succeeded


def _extra_sources(sources: list[str], timeout: float) -> list[Any]:
    """Reddit and NewsAPI when their keys are set; none beside an explicit ``sample``."""
    from tasks.scrape import sources_from_settings

    if [s.strip().lower() for s in sources] == [SAMPLE_TOKEN]:
        return []
    return list(sources_from_settings(get_settings(), timeout=timeout))


def _fail(store: ArtifactStore, errors: dict[str, str], message: str) -> NoReturn:
    """Fail the run with ``message``; the Sources page reads why and offers the sample."""
    latest = {"ids": [], "errors": errors or {"sources": message}, "all_failed": True}
    store.put_json("items/latest.json", latest)
    raise SourcesFailed(message)


def _run_name() -> str:
    from prefect.runtime import flow_run

    if flow_run.parameters.get("sample"):
        return "scrape the bundled sample (fiction)"
    sources = flow_run.parameters.get("sources") or []
    return f"scrape {len(sources)} sources" if sources else "scrape configured sources"


@flow(name="scrape-content", flow_run_name=_run_name, log_prints=True)
def scrape_content(
    sources: list[str] | None = None,
    keywords: list[str] | None = None,
    limit: int = 20,
    sample: bool = False,
) -> list[ContentItem]:
    """Scrape sources (RSS_FEEDS when none given) and store the ranked items under ``items/``.

    ``sample`` reads the bundled sample feed instead: fictional stories for demos, marked
    ``sample`` on every item. When every source fails the run fails with their reasons
    (kept for the Sources page) and nothing is produced; nothing is substituted."""
    logger = get_run_logger()
    settings = run_settings()
    store = get_store(settings)
    chosen = [SAMPLE_TOKEN] if sample else list(sources or settings.rss_feeds)
    if not chosen and not _extra_sources(chosen, settings.scrape_timeout):
        _fail(
            store,
            {},
            "no sources to scrape: set RSS_FEEDS (or pass sources); the bundled "
            "sample stories are fiction, used only when asked for (`novaavatar scrape --sample`)",
        )
    items, errors, used_sample, answered = fetch_sources(
        chosen, list(keywords or []), settings.max_items_per_source, settings.scrape_timeout
    )
    if answered == 0:
        reasons = "; ".join(f"{source}: {why}" for source, why in errors.items())
        _fail(store, errors, f"every source failed, nothing was scraped: {reasons}")
    for source, reason in errors.items():
        logger.warning("source %s failed: %s", source, reason)
    if used_sample:
        print("SAMPLE: these stories are bundled fiction, not real news; they cannot be published")
    items = items[:limit]
    for item in items:
        store.put_bytes(f"items/{item.id}.json", item.model_dump_json(indent=2).encode())
    store.put_json("items/latest.json", {"ids": [i.id for i in items], "errors": errors})
    create_table_artifact(
        key="scrape-latest",
        table=[
            {
                "id": i.id,
                "score": round(i.score, 3),
                "source": i.source,
                "title": ("SAMPLE (fiction) · " if i.sample else "") + i.title,
            }
            for i in items
        ],
        description=f"{len(items)} items; {len(errors)} failed sources",
    )
    print(f"{len(items)} items scraped ({len(errors)} sources failed)")
    if settings.auto_produce_threshold is not None:
        auto_produce(items, settings.auto_produce_threshold, settings.auto_produce_max)
    return items


def auto_produce(items: list[ContentItem], threshold: float, cap: int) -> list[str]:
    """Produce, without a click, the items scoring at least ``threshold`` that have no video
    yet (at most ``cap`` per run), with the default options from the settings."""
    from flows.produce import produce_batch
    from novaavatar.domain import VideoManifest, video_id_for
    from novaavatar.templates import build_options

    s = get_settings()
    store = get_store(s)
    # the options produce_batch will build (template pinned), so the ids match its videos
    options = build_options({}, store, s)
    chosen = [
        i.id
        for i in items
        if i.score >= threshold
        and not store.exists(VideoManifest.key_for(video_id_for(i, options)))
    ][:cap]
    if not chosen:
        print(f"auto-produce: no new item scores {threshold} or more")
        return []
    print(f"auto-produce: {len(chosen)} item(s) at or above {threshold}")
    return produce_batch(item_ids=chosen, top=len(chosen))
