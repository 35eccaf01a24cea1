"""News items the script tests share: one ferry story, in the lengths tests need."""

from __future__ import annotations

from novaavatar.domain import ContentItem

FERRY_FACTS = (
    "The city launched its first solar-powered ferry on Monday. The boat carries 120 "
    "passengers between the old port and the university. Officials said two more "
    "ferries will join the line next spring."
)
TICKETS = "Tickets cost the same as the bus."
MAYOR = "The mayor called the launch a milestone for the harbour."


def ferry(*more: str) -> ContentItem:
    """The ferry story; ``more`` sentences (e.g. :data:`TICKETS`) follow its summary."""
    return ContentItem.make(
        title="City opens solar-powered ferry line",
        url="https://news.example/ferry",
        source="Harbor Times",
        summary=" ".join([FERRY_FACTS, *more]),
    )
