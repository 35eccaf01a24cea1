"""Likeness consent: a portrait is animated only with an attestation (who, when) on record,
on every route (CLI, API, review page, templates, flows), and it reaches manifest and exports.
The drawn presenter needs none."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from novaavatar import consent, manifests, templates
from novaavatar.consent import ConsentMissing
from novaavatar.domain import ContentItem, ProduceOptions, ReviewState
from novaavatar.errors import InputError
from novaavatar.store import ArtifactStore
from novaavatar.uploads import store_audio, store_portrait


def _face_png() -> bytes:
    """A real photo (skimage's astronaut, public domain), small enough to render quickly."""
    data = pytest.importorskip("skimage.data")
    buf = io.BytesIO()
    Image.fromarray(data.astronaut()).crop((96, 0, 384, 320)).save(buf, format="PNG")
    return buf.getvalue()


def _wav(seconds: float) -> bytes:
    t = np.arange(int(16000 * seconds)) / 16000
    sig = 0.3 * np.sin(2 * np.pi * 180 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
    buf = io.BytesIO()
    sf.write(buf, sig.astype(np.float32), 16000, format="WAV")
    return buf.getvalue()


def _template(portrait_key: str, version: int = 7) -> bytes:
    return f'name = "anchor"\nversion = {version}\nportrait_key = "{portrait_key}"\n'.encode()


def test_attest_records_who_and_when_and_require_refuses_without(store: ArtifactStore) -> None:
    key = store_portrait(store, _face_png(), "anna.png")
    options = ProduceOptions(portrait_key=key)
    with pytest.raises(ConsentMissing, match=f"host portrait '{key}' has no likeness consent"):
        consent.require(store, options)
    assert consent.require(store, ProduceOptions()) == {}  # the drawn presenter needs none
    with pytest.raises(ValueError, match="name of whoever attests"):
        consent.attest(store, key, "  ", via="cli")
    with pytest.raises(ValueError, match="not in the store"):
        consent.attest(store, "uploads/nothing.png", "Ada", via="cli")
    given = consent.attest(store, key, "Ada", via="cli")
    again = consent.attest(store, key, "Bob", via="api")  # a second attestation is kept too
    assert consent.require(store, options) == {"host": again}
    assert (given.by, given.via, again.by) == ("Ada", "cli", "Bob") and given.at <= again.at
    assert len(store.get_json(consent.consent_key(key))["attestations"]) == 2
    guest = ProduceOptions(
        format="conversation",
        guest_portrait_key=store_portrait(store, _face_png()[:-1] + b"\0", "guest.png"),
    )
    with pytest.raises(ConsentMissing, match="guest portrait"):
        consent.require(store, guest)


def test_a_template_naming_a_portrait_needs_consent(store: ArtifactStore) -> None:
    key = store_portrait(store, _face_png(), "anchor.png")
    with pytest.raises(ConsentMissing, match="names the portrait"):
        templates.save(store, _template(key), "anchor.toml")
    assert "anchor@7" not in templates.available(store)  # nothing stored
    t = templates.save(store, _template(key), "anchor.toml", consent_by="Ada")
    found = consent.require(store, templates.build_options({"template": t.ref}, store))
    assert found["host"].by == "Ada" and found["host"].via == "template anchor@7"


@pytest.mark.usefixtures("prefect_harness")
def test_flows_refuse_a_portrait_without_consent_and_record_it_with(store: ArtifactStore) -> None:
    """Whatever door started it (a deployment run, a template stored before this rule), the
    flow refuses an unattested portrait; an attested one lands in the manifest and exports."""
    from flows.manual import manual_create
    from flows.produce import produce_video
    from tasks.publish import publish
    from tasks.publish.package import DISCLOSURE

    key = store_portrait(store, _face_png(), "anna.png")
    audio = store_audio(store, _wav(1.5), "hello.wav")
    state = manual_create(
        options=ProduceOptions(portrait_key=key, aspect="1:1"),
        title="Hello",
        audio_key=audio,
        return_state=True,
    )
    assert state.is_failed() and "has no likeness consent on record" in str(state.message)
    # a template stored before consent existed, naming the portrait: refused at produce time
    store.put_bytes(templates.store_key("anchor@3"), _template(key, 3))
    item = ContentItem.make(title="Harbour news", url="https://e.org/h", source="E")
    store.put_bytes(f"items/{item.id}.json", item.model_dump_json().encode())
    state = produce_video(
        item.id, options=ProduceOptions(duration_s=15, template="anchor@3"), return_state=True
    )
    assert state.is_failed() and "(given directly or by template anchor@3)" in str(state.message)
    assert manifests.queue(store) == []  # nothing was rendered
    # the render-avatar deployment, started by hand from the Prefect UI, refuses it too
    from flows.render_avatar import render_avatar_flow
    from novaavatar.domain import GeneratedAudio, GeneratedImage, RenderConfig

    state = render_avatar_flow(
        GeneratedImage(key="x/bg.png", width=8, height=8),
        GeneratedAudio(key="x/a.wav", duration_s=1.0),
        ProduceOptions(portrait_key=key),
        "vid-byhand",
        RenderConfig(store_uri=store.uri),
        return_state=True,
    )
    assert state.is_failed() and "has no likeness consent" in str(state.message)

    given = consent.attest(store, key, "Ada Lovelace", via="review page")
    vid = manual_create(
        options=ProduceOptions(portrait_key=key, aspect="1:1"), title="Hello", audio_key=audio
    )
    m, _ = manifests.load(store, vid)
    assert m.state is ReviewState.PENDING and m.consents == {"host": given}
    manifests.decide(store, vid, ReviewState.APPROVED, by="Bob")
    publish(store, vid, ["package"])
    meta = store.get_json(f"exports/{vid}/metadata.json")
    host = meta["likeness"]["presenters"]["host"]
    assert meta["disclosure"] == DISCLOSURE and host["portrait"] == "photo"
    assert host["consent"]["by"] == "Ada Lovelace"
    assert host["consent"]["at"] == given.at.isoformat()
    assert store.get_json(f"exports/{vid}/youtube.json")["likeness"] == meta["likeness"]

    # the drawn presenter needs no consent, and the export says it is drawn
    drawn = manual_create(options=ProduceOptions(aspect="1:1"), title="Drawn", audio_key=audio)
    assert manifests.load(store, drawn)[0].consents == {}
    manifests.decide(store, drawn, ReviewState.APPROVED, by="Bob")
    publish(store, drawn, ["package"])
    assert store.get_json(f"exports/{drawn}/metadata.json")["likeness"] == {
        "presenters": {"host": {"portrait": "drawn", "consent": None}}
    }


@pytest.mark.parametrize(
    "args",
    [
        ["create", "--title", "Hi", "--text", "Hello.", "--portrait", "{face}"],
        ["render", "--audio", "{wav}", "--out", "{out}", "--portrait", "{face}"],
        ["templates", "add", "{template}"],
    ],
)
def test_the_cli_asks_for_the_attestation(tmp_path: Path, args: list[str]) -> None:
    from test_cli import run_cli

    storage = tmp_path / "storage"
    face, wav, out = tmp_path / "face.png", tmp_path / "a.wav", tmp_path / "o.mp4"
    face.write_bytes(_face_png())
    wav.write_bytes(_wav(1.0))
    from novaavatar.settings import load_settings
    from novaavatar.store import get_store

    key = store_portrait(get_store(load_settings(storage_path=storage)), _face_png(), "face.png")
    template = tmp_path / "anchor.toml"
    template.write_bytes(_template(key))
    paths = {"face": face, "wav": wav, "out": out, "template": template}
    r = run_cli(*[a.format(**paths) for a in args], storage=storage)
    assert r.returncode == 1 and "--i-have-consent" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not out.exists()
    assert not list((storage / "artifacts").glob("consents/**/*.json"))
    if args[0] == "templates":
        r = run_cli(
            *[a.format(**paths) for a in args], "--i-have-consent", "--by", "Ada", storage=storage
        )
        assert r.returncode == 0 and "stored anchor@7" in r.stdout, r.stderr
        (record,) = (storage / "artifacts").glob("consents/**/*.json")
        assert '"by": "Ada"' in record.read_text()


def test_the_api_asks_for_the_attestation(
    store: ArtifactStore, monkeypatch: pytest.MonkeyPatch, prefect_server: str
) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from flows import manual
    from novaavatar.service import jobs as actions
    from novaavatar.settings import get_settings

    monkeypatch.setenv("API_TOKENS", "consent-test-token-0123456789")
    monkeypatch.setenv("PREFECT_API_URL", prefect_server)  # no deployments there: runs here
    get_settings.cache_clear()
    started: list[dict[str, Any]] = []
    monkeypatch.setattr(manual, "manual_create", lambda **kw: started.append(kw) or "vid-x")
    api = TestClient(
        create_app(), headers={"Authorization": "Bearer consent-test-token-0123456789"}
    )
    form = {"title": "Hi", "text": "Hello there."}
    files = {"portrait": ("anna.png", _face_png(), "image/png")}
    r = api.post("/api/generate/manual", data=form, files=files)
    assert r.status_code == 422 and "i_have_consent=true and consent_by" in r.json()["detail"]
    r = api.post("/api/generate/manual", data={**form, "i_have_consent": "true"}, files=files)
    assert r.status_code == 422  # who attests is part of the record
    assert store.list("uploads") == [] and store.list("consents") == []  # nothing kept
    r = api.post(
        "/api/generate/manual",
        data={**form, "i_have_consent": "true", "consent_by": "Ada (newsroom)"},
        files=files,
    )
    assert r.status_code == 202, r.text
    actions.wait_all(timeout=10)
    (params,) = started
    found = consent.consent_for(store, params["options"]["portrait_key"])
    assert found is not None and (found.by, found.via) == ("Ada (newsroom)", "api")
    r = api.post("/api/generate/manual", data=form)  # no portrait: the drawn presenter, no consent
    assert r.status_code == 202, r.text
    schema = str(api.get("/openapi.json").json())
    assert "i_have_consent" in schema and "consent_by" in schema


def test_portrait_path_is_the_default_presenter_only_with_its_consent(
    store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """PORTRAIT_PATH fills a run without a portrait of its own, for every door (the options
    are resolved the same way everywhere); PORTRAIT_CONSENT_BY records the attestation, and
    without it the run is refused by the consent rule."""
    from skimage import data as photos

    from novaavatar import consent, templates
    from novaavatar.settings import get_settings

    photo = tmp_path / "anchor.png"
    Image.fromarray(photos.astronaut()).save(photo)
    monkeypatch.setenv("PORTRAIT_PATH", str(photo))
    get_settings.cache_clear()
    options = templates.build_options({}, store, get_settings())
    assert options.portrait_key and store.exists(options.portrait_key)
    with pytest.raises(consent.ConsentMissing, match="PORTRAIT_CONSENT_BY"):
        consent.require(store, options)
    monkeypatch.setenv("PORTRAIT_CONSENT_BY", "Station manager")
    get_settings.cache_clear()
    again = templates.build_options({}, store, get_settings())
    assert again.portrait_key == options.portrait_key  # the same photo is the same key
    record = consent.require(store, again)["host"]
    assert (record.by, record.via) == ("Station manager", "settings: PORTRAIT_PATH")
    # a run's own portrait (or the template's) still wins
    mine = templates.build_options({"portrait_key": options.portrait_key}, store, get_settings())
    assert mine.portrait_key == options.portrait_key
    monkeypatch.setenv("PORTRAIT_PATH", str(tmp_path / "missing.png"))
    get_settings.cache_clear()
    with pytest.raises(InputError, match="PORTRAIT_PATH"):
        templates.build_options({}, store, get_settings())
