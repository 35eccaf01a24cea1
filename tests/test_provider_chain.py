"""Provider chains: with keys the cloud providers (fakes on 127.0.0.1) produce the output;
without keys, or with the service failing, the offline defaults do, and we can tell which."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes import FakeOpenAI, FakeReplicate
from PIL import Image

from novaavatar.domain import ContentItem, ProduceOptions
from novaavatar.errors import InputError
from novaavatar.providers import run_chain
from novaavatar.settings import Settings, get_settings
from tasks.background import ProceduralBackgroundProvider
from tasks.background.flux import FluxBackgroundProvider
from tasks.script import TemplateScriptProvider
from tasks.script.chain import default_providers as script_chain
from tasks.script.openai_script import OpenAIScriptProvider

pytestmark = pytest.mark.timeout(60)

# default_providers() reads the new settings (OPENAI_MODEL, FLUX_MODEL...) once wired
WIRED = "openai_model" in Settings.model_fields and "flux_model" in Settings.model_fields
needs_wiring = pytest.mark.xfail(
    not WIRED,
    reason="default_providers() not yet wired to the new settings",
    run=False,
    strict=False,
)

ITEM = ContentItem.make(
    title="City opens solar-powered ferry line",
    url="https://news.example/ferry",
    source="Harbor Times",
    summary="The city launched its first solar-powered ferry on Monday. The boat carries "
    "120 passengers between the old port and the university.",
)


@pytest.fixture
def openai_fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as f:
        yield f


@pytest.fixture
def replicate_fake() -> Iterator[FakeReplicate]:
    with FakeReplicate() as f:
        yield f


def _script_chain(fake: FakeOpenAI, key: str | None) -> list:
    return [
        OpenAIScriptProvider(key, base_url=fake.base_url, timeout_s=1, max_retries=1, deadline_s=5),
        TemplateScriptProvider(),
    ]


def _background_chain(fake: FakeReplicate, token: str | None) -> list:
    return [
        FluxBackgroundProvider(token, base_url=fake.url, poll_interval_s=0.05, deadline_s=5),
        ProceduralBackgroundProvider(),
    ]


def test_with_keys_the_cloud_providers_produce(
    openai_fake: FakeOpenAI, replicate_fake: FakeReplicate, tmp_path: Path
) -> None:
    script, p = run_chain(
        "script",
        _script_chain(openai_fake, openai_fake.api_key),
        lambda p: p.write(ITEM, "news_anchor", 30, 2.5),
    )
    assert p.name == script.provider == "openai"
    out = tmp_path / "bg.png"
    _, b = run_chain(
        "background",
        _background_chain(replicate_fake, replicate_fake.token),
        lambda p: p.make(script.scene_description, script.keywords, (720, 1280), out),
    )
    assert b.name == "flux" and Image.open(out).size == (720, 1280)
    assert len(openai_fake.requests) == 1 and len(replicate_fake.creates) == 1


def test_without_keys_the_offline_defaults_produce(
    openai_fake: FakeOpenAI, replicate_fake: FakeReplicate, tmp_path: Path
) -> None:
    script, p = run_chain(
        "script", _script_chain(openai_fake, None), lambda p: p.write(ITEM, "news_anchor", 30, 2.5)
    )
    assert p.name == script.provider == "template"
    _, b = run_chain(
        "background",
        _background_chain(replicate_fake, ""),
        lambda p: p.make("studio", ("ferry",), (720, 1280), tmp_path / "bg.png"),
    )
    assert b.name == "procedural"
    assert openai_fake.requests == [] and replicate_fake.creates == []  # never called


@pytest.mark.parametrize("failure", ["500", "401", "429-long", "malformed"])
def test_a_failing_service_falls_back(
    openai_fake: FakeOpenAI, replicate_fake: FakeReplicate, tmp_path: Path, failure: str
) -> None:
    key, token = openai_fake.api_key, replicate_fake.token
    if failure == "500":
        openai_fake.fail(500, times=5)
        replicate_fake.fail_create(500)
    elif failure == "401":
        key, token = "sk-revoked-00000000000000000000", "r8_revoked0000000000000000000"
    elif failure == "429-long":
        openai_fake.fail(429, retry_after="600")
        replicate_fake.fail_create(429, retry_after="600")
    else:
        openai_fake.reply_content("{not json")
        replicate_fake.output = "html"
    script, p = run_chain(
        "script", _script_chain(openai_fake, key), lambda p: p.write(ITEM, "casual", 30, 2.5)
    )
    assert p.name == script.provider == "template"
    _, b = run_chain(
        "background",
        _background_chain(replicate_fake, token),
        lambda p: p.make("studio", ("ferry",), (720, 1280), tmp_path / "bg.png"),
    )
    assert b.name == "procedural" and Image.open(tmp_path / "bg.png").size == (720, 1280)


def test_bad_input_is_not_retried_on_the_next_provider(openai_fake: FakeOpenAI) -> None:
    with pytest.raises(InputError):
        run_chain(
            "script",
            _script_chain(openai_fake, openai_fake.api_key),
            lambda p: p.write(ITEM, "poetic", 30, 2.5),
        )


# --- default_providers() and produce_video, through settings ------------------------------


@pytest.fixture
def cloud_env(
    openai_fake: FakeOpenAI, replicate_fake: FakeReplicate, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    monkeypatch.setenv("OPENAI_API_KEY", openai_fake.api_key)
    monkeypatch.setenv("OPENAI_BASE_URL", openai_fake.base_url)
    monkeypatch.setenv("OPENAI_TIMEOUT", "2")
    monkeypatch.setenv("OPENAI_MAX_RETRIES", "1")
    monkeypatch.setenv("REPLICATE_API_TOKEN", replicate_fake.token)
    monkeypatch.setenv("REPLICATE_BASE_URL", replicate_fake.url)
    monkeypatch.setenv("REPLICATE_POLL_INTERVAL", "0.05")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@needs_wiring
@pytest.mark.usefixtures("cloud_env")
def test_default_providers_follow_the_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    from tasks import background

    assert [p.name for p in script_chain()] == ["openai", "template"]
    assert [p.name for p in background.default_providers()] == ["flux", "procedural"]
    assert script_chain()[0].available()
    assert background.default_providers()[0].available()
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("REPLICATE_API_TOKEN")
    get_settings.cache_clear()
    assert [p.name for p in script_chain() if p.available()] == ["template"]
    assert [p.name for p in background.default_providers() if p.available()] == ["procedural"]


def _grounded_script(fake: FakeOpenAI, item: ContentItem) -> None:
    """Make the fake answer with the item's own title, like a model that follows the rules."""
    fake.script = {
        "title": item.title[:80],
        "script": f"Here is the latest. {item.title.rstrip('.')}. Follow for more updates.",
        "call_to_action": "Follow for more updates.",
        "scene_description": "A calm harbour at dawn with soft light.",
        "keywords": ["news"],
    }


@pytest.mark.timeout(240)  # a whole video: the face-mesh quality check takes its time on 2 cores
@needs_wiring
@pytest.mark.usefixtures("prefect_harness", "cloud_env")
def test_produce_video_uses_openai_and_flux(
    store, openai_fake: FakeOpenAI, replicate_fake: FakeReplicate
) -> None:
    from flows.produce import produce_video
    from flows.scrape import scrape_content
    from novaavatar import manifests

    item = scrape_content(sample=True, limit=1)[0]
    _grounded_script(openai_fake, item)
    vid = produce_video(item.id, options=ProduceOptions(duration_s=15, aspect="9:16"))
    m, _ = manifests.load(store, vid)
    assert m.script is not None and m.script.provider == "openai" and m.final is not None
    assert m.stages["script"].provider == "openai" and m.stages["background"].provider == "flux"
    assert 0 < m.stages["script"].cost_usd < 0.01
    assert m.stages["background"].cost_usd == pytest.approx(0.003)
    assert len(openai_fake.requests) == 1 and len(replicate_fake.creates) == 1
    raw = store.get_bytes(f"videos/{vid}/manifest.json").decode()
    assert openai_fake.api_key not in raw and replicate_fake.token not in raw


@needs_wiring
@pytest.mark.usefixtures("cloud_env")
def test_failing_services_fall_back_and_the_stage_record_says_so(
    store, openai_fake: FakeOpenAI, replicate_fake: FakeReplicate
) -> None:
    from novaavatar.domain import ProduceOptions, video_id_for
    from tasks.common import read_stage_records
    from tasks.pipeline import render_config
    from tasks.stages import make_background, write_script

    openai_fake.fail(500, times=10)
    replicate_fake.token = "r8_rotatedtoken000000000000000"  # ours is now rejected: 401
    options = ProduceOptions(duration_s=15, aspect="9:16")
    vid, cfg = video_id_for(ITEM, options), render_config()
    script = write_script.fn(ITEM, options, vid, cfg)
    image = make_background.fn(script, options, vid, cfg)
    assert script.provider == "template" and image.provider == "procedural"
    rec = read_stage_records(store, vid)
    assert rec["script"].provider == "template" and rec["background"].provider == "procedural"
    assert "openai failed" in rec["script"].detail and "500" in rec["script"].detail
    assert "flux failed" in rec["background"].detail and "401" in rec["background"].detail
    assert rec["script"].cost_usd == 0 and rec["background"].cost_usd == 0
    assert openai_fake.api_key not in rec["script"].model_dump_json()


@pytest.mark.usefixtures("prefect_harness")
def test_credentials_blocks_keep_secrets(openai_fake: FakeOpenAI) -> None:
    from blocks.credentials import OpenAICredentials, openai_credentials

    OpenAICredentials(api_key=openai_fake.api_key, base_url=openai_fake.base_url).save(
        "test-openai", overwrite=True
    )
    key, base = openai_credentials(None, None, "test-openai")
    assert key is not None and key.get_secret_value() == openai_fake.api_key
    assert base == openai_fake.base_url and openai_fake.api_key not in repr(key)
    env_key, _ = openai_credentials(key.__class__("sk-env-wins-000000000000"), None, "test-openai")
    assert env_key is not None and env_key.get_secret_value().startswith("sk-env-wins")
    assert openai_credentials(None, None, "no-such-block") == (None, None)
    # a provider built from the block talks to the fake
    s = OpenAIScriptProvider(key, base_url=base).write(ITEM, "news_anchor", 30, 2.5)
    assert s.provider == "openai"


def test_a_hung_service_times_out_and_the_fallback_follows(openai_fake: FakeOpenAI) -> None:
    import time

    openai_fake.slow(20, times=10)  # the service accepts the request and never answers in time
    t0 = time.monotonic()
    script, p = run_chain(
        "script",
        _script_chain(openai_fake, openai_fake.api_key),
        lambda p: p.write(ITEM, "casual", 30, 2.5),
    )
    assert p.name == script.provider == "template"
    assert time.monotonic() - t0 < 8  # per-request timeout 1 s, deadline 5 s: bounded
