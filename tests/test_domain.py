from __future__ import annotations

import pytest
from pydantic import ValidationError

from novaavatar.domain import (
    ContentItem,
    ProduceOptions,
    ReviewState,
    VideoManifest,
    validate_key,
    validate_video_id,
    video_id_for,
)


def _item(title: str = "Rover finds ice") -> ContentItem:
    return ContentItem.make(title=title, url="https://example.org/a", source="Example")


def test_ids_are_deterministic_from_inputs() -> None:
    a, b = _item(), _item()
    assert a.id == b.id
    opts = ProduceOptions()
    assert video_id_for(a, opts) == video_id_for(b, opts)
    assert video_id_for(a, opts) != video_id_for(a, ProduceOptions(style="casual"))
    assert _item("Other").id != a.id


@pytest.mark.parametrize("key", ["../x", "/etc/passwd", "a/../b", "a//b", "", "a b"])
def test_unsafe_keys_are_refused(key: str) -> None:
    with pytest.raises(ValueError, match="invalid store key"):
        validate_key(key)


def test_video_id_refuses_traversal() -> None:
    with pytest.raises(ValueError, match="invalid video id"):
        validate_video_id("../../etc")


def test_options_validate_style_and_duration() -> None:
    with pytest.raises(ValidationError, match="unknown style 'poetic'"):
        ProduceOptions(style="poetic")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="less than or equal to 90"):
        ProduceOptions(duration_s=120)
    with pytest.raises(ValidationError):
        ProduceOptions(aspect="4:3")  # type: ignore[arg-type]


def test_review_transitions_and_history() -> None:
    m = VideoManifest(video_id="vid-abc123", item=_item(), options=ProduceOptions())
    with pytest.raises(ValueError, match="needs a note"):
        m.transition(ReviewState.REJECTED, by="ann")
    m.transition(ReviewState.APPROVED, by="ann")
    m.transition(ReviewState.EXPORTED, by="export")
    with pytest.raises(ValueError, match="is exported; cannot become approved"):
        m.transition(ReviewState.APPROVED, by="bob")
    assert [e.state for e in m.history] == [ReviewState.APPROVED, ReviewState.EXPORTED]
    assert m.history[0].by == "ann"


def test_manifest_refuses_absolute_keys() -> None:
    with pytest.raises(ValidationError, match="stage avatar"):
        VideoManifest.model_validate(
            {
                "video_id": "vid-abc123",
                "item": _item().model_dump(),
                "options": {},
                "stages": {"avatar": {"provider": "lite", "keys": ["/tmp/avatar.mp4"]}},
            }
        )
