"""Scraped items in the store: one by id, and the last scrape's ranking."""

from __future__ import annotations

from novaavatar.domain import ContentItem, validate_key
from novaavatar.errors import InputError, NotFoundError
from novaavatar.store import ArtifactStore


def load_item(store: ArtifactStore, item_id: str) -> ContentItem:
    """The scraped item ``item_id``; InputError naming it when the store has none."""
    try:
        validate_key(f"items/{item_id}.json")
        return ContentItem.model_validate_json(store.get_bytes(f"items/{item_id}.json"))
    except (NotFoundError, ValueError):
        raise InputError(
            f"unknown item {item_id!r}: run `novaavatar scrape` and use an id it lists"
        ) from None


def latest_item_ids(store: ArtifactStore) -> list[str]:
    """Ids of the last scrape's items, best first."""
    if not store.exists("items/latest.json"):
        return []
    return list(store.get_json("items/latest.json")["ids"])
