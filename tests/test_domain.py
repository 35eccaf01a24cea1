from __future__ import annotations

import pytest
from pydantic import ValidationError

from novaavatar.domain import (
    ContentItem,
    ProduceOptions,
    ReviewState,
    VideoManifest,
    stable_id,
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
    with pytest.raises(ValidationError, match="does not fit format 'single': use 15-90"):
        ProduceOptions(duration_s=120)
    with pytest.raises(ValidationError, match="does not fit format 'explainer': use 60-300"):
        ProduceOptions(format="explainer", duration_s=30)
    assert ProduceOptions(format="explainer", duration_s=300).duration_s == 300
    with pytest.raises(ValidationError):
        ProduceOptions(aspect="4:3")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="unknown language 'xx': choose one of ar, de"):
        ProduceOptions(language="xx")


def test_language_picks_its_voice_unless_one_is_chosen() -> None:
    assert ProduceOptions(language="es").voice == "es"
    assert ProduceOptions(language="zh-CN").language == "zh"
    assert ProduceOptions(language="zh", voice="yue").voice == "yue"


def test_options_added_later_keep_old_video_ids() -> None:
    item = ContentItem.make(title="t", url="https://e.x/a", source="s")
    old = stable_id(
        "vid",
        item.id,
        ProduceOptions().model_dump(
            mode="json",
            exclude={
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
            },
        ),
    )
    assert video_id_for(item, ProduceOptions()) == old
    assert video_id_for(item, ProduceOptions(language="es")) != old
    assert video_id_for(
        item, ProduceOptions(format="explainer", duration_s=60, transition="wipe")
    ) != video_id_for(item, ProduceOptions(format="explainer", duration_s=60))


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
