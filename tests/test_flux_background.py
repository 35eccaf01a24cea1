"""The Flux background provider with the real ``replicate`` SDK against a loopback fake."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes import FakeReplicate
from fakes.replicate_server import Step
from PIL import Image

from novaavatar.errors import ProviderError
from tasks.background import seed_for
from tasks.background.flux import FluxBackgroundProvider, aspect_ratio_for

pytestmark = pytest.mark.timeout(30)

SCENE = "A sunny harbour with a sleek electric ferry at the pier."
KW = ("ferry", "solar")
PORTRAIT = (720, 1280)


@pytest.fixture
def fake() -> Iterator[FakeReplicate]:
    with FakeReplicate() as f:
        yield f


def provider(fake: FakeReplicate, **kw: object) -> FluxBackgroundProvider:
    opts: dict = dict(base_url=fake.url, poll_interval_s=0.05, timeout_s=2.0, deadline_s=10.0)
    opts.update(kw)
    return FluxBackgroundProvider(fake.token, **opts)


def test_flux_image_is_made_sized_and_saved(fake: FakeReplicate, tmp_path: Path) -> None:
    p = provider(fake)
    out = tmp_path / "bg" / "background.png"
    seed = p.make(SCENE, KW, PORTRAIT, out)
    assert seed == seed_for(SCENE, KW, PORTRAIT)
    with Image.open(out) as img:
        assert img.format == "PNG" and img.size == PORTRAIT and img.mode == "RGB"
    (create,) = fake.creates
    assert create["model"] == "black-forest-labs/flux-schnell"
    inp = create["input"]
    assert inp["aspect_ratio"] == "9:16" and inp["num_outputs"] == 1 and inp["seed"] == seed
    assert inp["output_format"] == "png" and create["prefer"] == "wait=2"
    assert inp["prompt"].startswith(SCENE.rstrip("."))
    assert "ferry, solar" in inp["prompt"] and "broadcast studio" in inp["prompt"]
    assert "no text" in inp["prompt"]
    assert fake.polls >= 2  # starting → processing → succeeded
    assert p.cost_usd == pytest.approx(0.003) and p.images == 1
    assert all(auth is None for _, auth in fake.downloads)  # the token stays with the API


@pytest.mark.parametrize(
    ("size", "ratio"),
    [((720, 1280), "9:16"), ((1280, 720), "16:9"), ((1080, 1080), "1:1"), ((1000, 760), "4:3")],
)
def test_aspect_ratio_is_the_nearest_flux_accepts(size: tuple[int, int], ratio: str) -> None:
    assert aspect_ratio_for(size) == ratio


def test_landscape_is_cropped_to_the_exact_frame(fake: FakeReplicate, tmp_path: Path) -> None:
    out = tmp_path / "wide.png"
    provider(fake, style="cinematic").make(SCENE, KW, (1280, 720), out, variant=2)
    assert Image.open(out).size == (1280, 720)
    inp = fake.creates[0]["input"]
    assert inp["aspect_ratio"] == "16:9" and "cinematic" in inp["prompt"]
    assert inp["seed"] == seed_for(SCENE, KW, (1280, 720), 2)


def test_dev_candidates_skip_bad_outputs(fake: FakeReplicate, tmp_path: Path) -> None:
    fake.output = ["html", "png", "truncated"]
    p = provider(fake, model="dev", candidates=3)
    p.make(SCENE, KW, PORTRAIT, tmp_path / "bg.png")
    assert fake.creates[0]["model"] == "black-forest-labs/flux-dev"
    assert fake.creates[0]["input"]["num_outputs"] == 3
    assert p.cost_usd == pytest.approx(3 * 0.025)
    assert Image.open(tmp_path / "bg.png").size == PORTRAIT
    assert "#0" in p.notes[0] and "#2" in p.notes[0] and "#1" not in p.notes[0]


@pytest.mark.parametrize(
    ("outcome", "match"), [("failed", "NSFW content"), ("canceled", "canceled")]
)
def test_failed_or_canceled_predictions_are_errors(
    fake: FakeReplicate, tmp_path: Path, outcome: str, match: str
) -> None:
    fake.outcome = outcome  # type: ignore[assignment]
    with pytest.raises(ProviderError, match=match):
        provider(fake).make(SCENE, KW, PORTRAIT, tmp_path / "bg.png")
    assert not (tmp_path / "bg.png").exists()


def test_a_prediction_that_never_ends_is_cancelled_at_the_deadline(
    fake: FakeReplicate, tmp_path: Path
) -> None:
    fake.outcome = "never"
    t0 = time.monotonic()
    with pytest.raises(ProviderError, match="did not finish within 1 s"):
        provider(fake, deadline_s=1.0).make(SCENE, KW, PORTRAIT, tmp_path / "bg.png")
    assert time.monotonic() - t0 < 3
    assert len(fake.cancels) == 1


def test_rate_limited_create_waits_for_retry_after(fake: FakeReplicate, tmp_path: Path) -> None:
    fake.fail_create(429, retry_after="1")
    t0 = time.monotonic()
    provider(fake).make(SCENE, KW, PORTRAIT, tmp_path / "bg.png")
    assert time.monotonic() - t0 >= 1.0 and len(fake.creates) == 2


def test_retry_after_past_the_deadline_gives_up_at_once(
    fake: FakeReplicate, tmp_path: Path
) -> None:
    fake.fail_create(429, retry_after="3600")
    t0 = time.monotonic()
    with pytest.raises(ProviderError, match="would pass the deadline"):
        provider(fake).make(SCENE, KW, PORTRAIT, tmp_path / "bg.png")
    assert time.monotonic() - t0 < 2


def test_rate_limited_polls_are_bounded_too(fake: FakeReplicate, tmp_path: Path) -> None:
    fake.fail_poll(429, times=50, retry_after="0")
    with pytest.raises(ProviderError, match="429"):
        provider(fake, max_retries=3).make(SCENE, KW, PORTRAIT, tmp_path / "bg.png")
    assert fake.polls == 4  # ours, not the SDK's ten


def test_server_errors_while_polling_are_retried(fake: FakeReplicate, tmp_path: Path) -> None:
    fake.fail_poll(500, times=2)
    provider(fake).make(SCENE, KW, PORTRAIT, tmp_path / "bg.png")
    assert Image.open(tmp_path / "bg.png").size == PORTRAIT


def test_a_server_error_on_create_is_not_retried(fake: FakeReplicate, tmp_path: Path) -> None:
    fake.fail_create(500)  # it may have started a prediction: no duplicate, no double charge
    with pytest.raises(ProviderError, match="answered 500"):
        provider(fake).make(SCENE, KW, PORTRAIT, tmp_path / "bg.png")
    assert len(fake.creates) == 1


def test_a_rejected_token_fails_at_once(fake: FakeReplicate, tmp_path: Path) -> None:
    p = FluxBackgroundProvider("r8_wrongtoken000000000000000", base_url=fake.url)
    with pytest.raises(ProviderError, match="rejected the token") as e:
        p.make(SCENE, KW, PORTRAIT, tmp_path / "bg.png")
    assert "r8_wrong" not in str(e.value) and "r8_wrong" not in repr(p)


def test_malformed_json_is_a_clear_error(fake: FakeReplicate, tmp_path: Path) -> None:
    fake.create_steps.append(Step(201, b'{"id": "abc", "status": "start'))
    with pytest.raises(ProviderError, match="Replicate: "):
        provider(fake).make(SCENE, KW, PORTRAIT, tmp_path / "bg.png")


def test_an_unexpected_prediction_shape_is_a_clear_error(
    fake: FakeReplicate, tmp_path: Path
) -> None:
    fake.create_steps.append(Step(201, {"id": "abc", "status": "weird"}))
    with pytest.raises(ProviderError, match="Replicate: "):
        provider(fake).make(SCENE, KW, PORTRAIT, tmp_path / "bg.png")


def test_a_slow_api_times_out(fake: FakeReplicate, tmp_path: Path) -> None:
    fake.create_steps.append(Step(201, {}, delay_s=3))
    t0 = time.monotonic()
    with pytest.raises(ProviderError, match="Timeout"):
        provider(fake, timeout_s=0.5).make(SCENE, KW, PORTRAIT, tmp_path / "bg.png")
    assert time.monotonic() - t0 < 2


@pytest.mark.parametrize(
    ("output", "match"),
    [
        ("html", "not a valid image"),
        ("truncated", "not a valid image"),
        ("short", "RemoteProtocolError|incomplete|peer closed"),
        ("huge", "over"),
        ("black", "blank image"),
    ],
)
def test_outputs_that_are_not_usable_images(
    fake: FakeReplicate, tmp_path: Path, output: str, match: str
) -> None:
    fake.output = output  # type: ignore[assignment]
    with pytest.raises(ProviderError, match="none of the 1 output") as e:
        provider(fake, max_download_bytes=1024 * 1024).make(
            SCENE, KW, PORTRAIT, tmp_path / "bg.png"
        )
    assert e.match(match)
    assert not (tmp_path / "bg.png").exists()


def test_without_a_token_it_is_unavailable_with_one_info_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="novaavatar.background.flux"):
        assert FluxBackgroundProvider(None).available() is False
    (line,) = [r for r in caplog.records if r.name == "novaavatar.background.flux"]
    assert line.levelno == logging.INFO and "REPLICATE_API_TOKEN" in line.getMessage()


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"model": "pro"}, "FLUX_MODEL"),
        ({"style": "neon"}, "BACKGROUND_STYLE"),
        ({"candidates": 9}, "CANDIDATES"),
    ],
)
def test_bad_settings_name_the_variable(kw: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        FluxBackgroundProvider("r8_x", **kw)
