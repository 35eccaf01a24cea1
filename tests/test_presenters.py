"""Presenter profiles: versions, consent, precedence (explicit > template > DEFAULT_PRESENTER),
the CLI, the API, the review page, and a video made with one."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from novaavatar import consent, presenters, templates
from novaavatar.consent import ConsentMissing
from novaavatar.domain import ContentItem, ProduceOptions, video_id_for
from novaavatar.errors import InputError
from novaavatar.service import presenters as service
from novaavatar.service.presenters import Upload
from novaavatar.settings import load_settings
from novaavatar.store import ArtifactStore
from tests.test_consent import _face_png

APP = Path(__file__).resolve().parents[1] / "review_app" / "app.py"


def _clip(seconds: float) -> bytes:
    t = np.arange(int(16000 * seconds)) / 16000
    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(2 * np.pi * 180 * t)).astype(np.float32), 16000, format="WAV")
    return buf.getvalue()


def _anna(store: ArtifactStore, **kw: Any) -> presenters.Presenter:
    args: dict[str, Any] = dict(
        by="Ada",
        via="test",
        portrait=Upload(_face_png(), "anna.png"),
        i_have_consent=True,
        voice="en-gb",
        layout="pip",
    )
    args.update(kw)
    return service.save_version(store, "anna", **args)


# -- versions and refusals -------------------------------------------------------------------


def test_versions_keep_what_is_not_given_and_never_change(store: ArtifactStore) -> None:
    v1 = _anna(store)
    assert (v1.ref, v1.layout, v1.voice.describe()) == ("anna@1", "pip", "eSpeak en-gb")
    assert (v1.consent.by, v1.consent.via) == ("Ada", "presenter anna@1 (test)")
    assert consent.consent_for(store, v1.portrait_key) is not None  # recorded with the portrait
    v2 = service.save_version(store, "anna", by="Bo", via="test", layout="full")
    assert (v2.ref, v2.portrait_key, v2.consent, v2.voice) == (
        "anna@2",
        v1.portrait_key,
        v1.consent,
        v1.voice,
    )
    assert presenters.resolve("anna", store).ref == "anna@2"
    assert presenters.resolve("anna@1", store).layout == "pip"  # the old version stays
    with pytest.raises(InputError, match="anna@2 exists already.*version 3"):
        presenters.save(store, v2)
    with pytest.raises(InputError, match=r"unknown presenter 'bob'.*anna@1, anna@2"):
        presenters.resolve("bob", store)
    assert [p.ref for p in service.listing(store)] == ["anna@2"]


@pytest.mark.parametrize(
    ("kw", "error"),
    [
        (dict(i_have_consent=False), ConsentMissing),
        (dict(voice="klingon"), "unknown eSpeak voice 'klingon'"),
        (dict(voice_kind="openai", voice="hal"), "unknown OpenAI voice 'hal'"),
        (dict(voice_kind="dia", voice=None), "a Dia voice needs a reference clip"),
        (dict(portrait=Upload(b"not an image", "cv.pdf")), "portrait 'cv.pdf' is not a readable"),
        (dict(layout="sideways"), "layout 'sideways'"),
        (dict(voice_kind="dia", clip=Upload(_clip(0.3), "me.wav"), clip_text="hi"), "lasts 0.3 s"),
    ],
)
def test_bad_input_is_refused_naming_it_and_nothing_is_stored(
    store: ArtifactStore, kw: dict[str, Any], error: Any
) -> None:
    with pytest.raises(error if isinstance(error, type) else InputError) as e:
        _anna(store, **kw)
    assert isinstance(error, type) or error in str(e.value)
    assert store.list("presenters") == [] and store.list("consents") == []
    assert store.list("uploads") == []  # everything is checked before anything is stored


def test_bad_names_and_a_first_version_without_portrait(store: ArtifactStore) -> None:
    for bad in ("Anna", "none", "a/b", ""):
        with pytest.raises(InputError, match="presenter name"):
            service.save_version(store, bad, by="Ada", via="test")
    with pytest.raises(InputError, match="a first version needs a portrait"):
        service.save_version(store, "anna", by="Ada", via="test")


# -- precedence --------------------------------------------------------------------------------


def test_explicit_beats_template_beats_default_presenter(
    store: ArtifactStore, storage: Path
) -> None:
    anna = _anna(store)
    bob = service.save_version(
        store,
        "bob",
        by="Ada",
        via="test",
        portrait=Upload(_face_png()[:-1] + b"\0", "bob.png"),
        i_have_consent=True,
        voice_kind="openai",
        voice="onyx",
        fallback_voice="en-us+m3",
        layout="full",
    )
    s = load_settings(storage_path=storage, default_presenter="bob")
    o = templates.build_options({}, store, s)  # the default, over the news template's layout
    assert (o.presenter, o.portrait_key, o.layout) == ("bob@1", bob.portrait_key, "full")
    assert (o.voice, o.openai_voice) == ("en-us+m3", "onyx")
    with pytest.raises(InputError, match="field presenter: unknown presenter 'carl'"):
        templates.save(store, b'name = "anchor"\nversion = 1\npresenter = "carl"\n', "a.toml")
    templates.save(store, b'name = "anchor"\nversion = 1\npresenter = "anna"\n', "anchor.toml")
    o = templates.build_options(dict(template="anchor"), store, s)  # the template's
    assert (o.presenter, o.portrait_key, o.voice, o.layout) == (
        "anna@1",
        anna.portrait_key,
        "en-gb",
        "pip",
    )
    assert o.openai_voice is None
    o = templates.build_options(dict(template="anchor", presenter="bob", layout="studio"), store, s)
    assert (o.presenter, o.layout, o.openai_voice) == ("bob@1", "studio", "onyx")  # explicit
    o = templates.build_options(dict(presenter="anna", voice="en-us+f2"), store, s)
    assert o.voice == "en-us+f2"  # a voice the user chose wins
    o = templates.build_options(dict(presenter="none"), store, s)
    assert o.presenter is None and o.portrait_key is None
    o = templates.build_options(dict(presenter="anna", language="es"), store, s)
    assert o.voice == "es"  # an English presenter's voice never speaks Spanish
    # videos made before presenters keep their ids
    item = ContentItem.make(title="T", url="https://e.org/t", source="E")
    assert video_id_for(item, ProduceOptions()) == video_id_for(
        item, ProduceOptions(presenter=None)
    )
    with pytest.raises(InputError, match="unknown presenter 'carl'"):
        templates.build_options(dict(presenter="carl"), store, s)


def test_a_new_take_keeps_the_presenter_of_the_video(store: ArtifactStore, storage: Path) -> None:
    """Regenerating re-uses the video's options: a later DEFAULT_PRESENTER or version of the
    presenter never changes a video (its id stays the same)."""
    from novaavatar.domain import VideoManifest
    from novaavatar.service.production import as_chosen

    _anna(store)
    root = storage
    item = ContentItem.make(title="T", url="https://e.org/t", source="E")
    plain = templates.build_options({}, store, load_settings(storage_path=root))
    made = templates.build_options(dict(presenter="anna"), store, load_settings(storage_path=root))
    service.save_version(store, "anna", by="Bo", via="test", layout="full")  # anna@2
    later = load_settings(storage_path=root, default_presenter="anna")
    for options in (plain, made):
        m = VideoManifest(video_id=video_id_for(item, options), item=item, options=options)
        again = templates.build_options(as_chosen(m).chosen(), store, later)
        assert (video_id_for(item, again), again.presenter) == (m.video_id, options.presenter)


# -- the command line ----------------------------------------------------------------------------


def test_cli_adds_lists_and_shows_presenters(tmp_path: Path) -> None:
    env = dict(os.environ, STORAGE_PATH=str(tmp_path / "s"), PREFECT_HOME=str(tmp_path / "p"))

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "novaavatar.cli", "presenter", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)

    face, clip = tmp_path / "anna.png", tmp_path / "anna.wav"
    face.write_bytes(_face_png())
    clip.write_bytes(_clip(3.0))
    bad = cli("add", "anna", "--portrait", str(face), "--by", "Ada")
    assert bad.returncode == 1 and "--i-have-consent" in bad.stderr
    ok = cli(
        "add", "anna", "--portrait", str(face), "--i-have-consent", "--by", "Ada",
        "--voice-kind", "dia", "--clip", str(clip), "--clip-text", "Hello, I am Anna.",
        "--layout", "pip",
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("stored anna@1  pip  Dia clone of uploads/")
    bad = cli("add", "anna", "--voice-kind", "espeak", "--voice", "xx-nope")
    assert bad.returncode == 1 and "unknown eSpeak voice 'xx-nope'" in bad.stderr
    assert "anna@1" in cli("list").stdout and "consent: Ada" in cli("list").stdout
    shown = cli("show", "anna@1").stdout
    assert '"clip_text": "Hello, I am Anna."' in shown and '"by": "Ada"' in shown


# -- the API ---------------------------------------------------------------------------------------


def test_api_creates_lists_and_refuses(store: ArtifactStore, monkeypatch: pytest.MonkeyPatch):
    from fastapi.testclient import TestClient

    from api.app import create_app
    from novaavatar.settings import get_settings

    monkeypatch.setenv("API_TOKENS", "presenter-test-token-0123456789")
    get_settings.cache_clear()
    api = TestClient(
        create_app(), headers={"Authorization": "Bearer presenter-test-token-0123456789"}
    )
    files = {"portrait": ("anna.png", _face_png(), "image/png")}
    form = {"name": "anna", "voice": "en-gb", "layout": "studio"}
    r = api.post("/api/presenters", data=form, files=files)
    assert r.status_code == 422 and "i_have_consent=true and consent_by" in r.json()["detail"]
    r = api.post("/api/presenters", data={**form, "voice_kind": "openai", "voice": "hal",
                 "i_have_consent": "true", "consent_by": "Ada"}, files=files)  # fmt: skip
    assert r.status_code == 422 and "unknown OpenAI voice 'hal'" in r.json()["detail"]
    assert store.list("uploads") == [] and store.list("presenters") == []
    r = api.post(
        "/api/presenters", data={**form, "i_have_consent": "true", "consent_by": "Ada"}, files=files
    )
    assert r.status_code == 201, r.text
    assert r.headers["Location"] == "/api/presenters/anna@1"
    assert r.json()["consent"]["by"] == "Ada" and r.json()["consent"]["via"].endswith("(api)")
    r = api.post("/api/presenters", data={"name": "anna", "layout": "full"})  # keeps the face
    assert r.status_code == 201 and r.json()["version"] == 2
    listed = api.get("/api/presenters").json()["presenters"]
    assert [(p["name"], p["version"], p["layout"]) for p in listed] == [("anna", 2, "full")]
    assert api.get("/api/presenters/anna@1").json()["layout"] == "studio"
    assert api.get("/api/presenters/bob").status_code == 422
    assert api.post("/api/presenters", data={"name": "Bad Name"}).status_code == 422


# -- the review page ------------------------------------------------------------------------


def test_review_page_saves_a_presenter_with_consent_only(
    store: ArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest

    for name in ("REVIEW_PASSWORD", "REVIEWERS", "PREFECT_API_URL"):
        monkeypatch.delenv(name, raising=False)
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.switch_page("views/presenters.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Presenters"
    at.text_input(key="reviewer").input("Ada").run()
    at.text_input(key="presenter_name").input("anna")
    at.file_uploader(key="presenter_portrait").upload("anna.png", _face_png(), "image/png")
    at.selectbox(key="presenter_layout_new").set_value("pip")
    at.button(key="presenter_save").click().run()
    assert "consent" in at.error[0].value and store.list("presenters") == []
    at.checkbox(key="presenter_consent").check()
    at.text_input(key="presenter_espeak_new").input("en-gb")
    at.button(key="presenter_save").click().run()
    assert not at.exception, at.exception
    assert not at.error and "Stored **anna@1**" in at.success[0].value
    saved = presenters.resolve("anna", store)
    assert (saved.layout, saved.voice.name, saved.consent.by) == ("pip", "en-gb", "Ada")
    assert saved.consent.via == "presenter anna@1 (review page)"
    assert "anna@1" in "\n".join(str(m.value) for m in at.markdown)
    # a new version of the same presenter: only the layout changes
    at.selectbox(key="presenter_pick").set_value("anna").run()
    assert at.text_input(key="presenter_espeak_anna").value == "en-gb"  # from anna@1
    at.selectbox(key="presenter_layout_anna").set_value("full")
    at.button(key="presenter_save").click().run()
    assert "Stored **anna@2**" in at.success[0].value
    again = presenters.resolve("anna", store)
    assert (again.portrait_key, again.layout, again.voice) == (
        saved.portrait_key,
        "full",
        saved.voice,
    )


def test_sources_page_produces_with_a_chosen_presenter(
    store: ArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_review_app import _produce_page, _submit

    for name in ("REVIEW_PASSWORD", "REVIEWERS", "PREFECT_API_URL"):
        monkeypatch.delenv(name, raising=False)
    _anna(store)
    at, items, batches = _produce_page(store, monkeypatch)
    assert at.selectbox(key="produce_presenter").options == [
        "template's, else DEFAULT_PRESENTER",
        "anna@1",
        "none (no profile)",
    ]
    at.multiselect(key="produce_items").select(items[0].id)
    at.selectbox(key="produce_presenter").set_value("anna@1")
    _submit(at)
    assert batches[0]["options"]["presenter"] == "anna@1"


def test_manual_page_creates_with_a_presenter(
    store: ArtifactStore, monkeypatch: pytest.MonkeyPatch, prefect_server: str
) -> None:
    from novaavatar.service import jobs as actions
    from tests.review_pages import manual_page

    _anna(store)
    at, started = manual_page(monkeypatch, prefect_server)
    at.selectbox(key="manual_presenter").set_value("anna@1").run()
    assert not [t for t in at.text_input if t.key == "manual_voice"]  # the presenter's voice
    at.text_input(key="manual_title").input("Evening news")
    at.text_area(key="manual_text").input("Good evening. Here is the news.").run()
    next(b for b in at.button if b.label == "Create video").click().run()
    assert not at.exception, at.exception
    actions.wait_all(timeout=10)
    (params,) = started
    assert params["options"]["presenter"] == "anna@1" and "voice" not in params["options"]


# -- a video made with a presenter ---------------------------------------------------------------


@pytest.mark.usefixtures("prefect_harness")
def test_a_video_made_with_a_presenter_records_it(store: ArtifactStore) -> None:
    from flows.produce import produce_video
    from novaavatar import manifests

    anna = _anna(store, voice_kind="openai", voice="nova", fallback_voice="en-gb", layout="pip")
    item = ContentItem.make(title="Harbour bridge opens", url="https://e.org/h", source="E")
    store.put_bytes(f"items/{item.id}.json", item.model_dump_json().encode())
    vid = produce_video(
        item.id, options=ProduceOptions(duration_s=15, aspect="16:9", presenter="anna")
    )
    m, _ = manifests.load(store, vid)
    assert (m.options.presenter, m.options.layout) == ("anna@1", "pip")
    assert (m.options.portrait_key, m.options.voice) == (anna.portrait_key, "en-gb")
    assert m.options.openai_voice == "nova"
    assert m.consents["host"].by == "Ada"
    speech = m.stages["speech"]
    assert speech.provider == "espeak-ng" and "en-gb" in speech.detail
    # no OPENAI_API_KEY here: the reviewer is told the presenter's own voice was not used
    assert any("OpenAI voice was not used" in w for w in speech.warnings)
    assert m.final is not None and m.final.width == 1280
    from tasks.publish.package import likeness

    host = likeness(m)["presenters"]["host"]  # type: ignore[index]
    assert (host["profile"], host["portrait"], host["consent"]["by"]) == ("anna@1", "photo", "Ada")


def test_doctor_checks_the_default_presenter(store: ArtifactStore, storage: Path) -> None:
    from novaavatar.doctor import _presenter

    root = storage
    assert _presenter(load_settings(storage_path=root)) == []  # none set: nothing to check
    (missing,) = _presenter(load_settings(storage_path=root, default_presenter="anna"))
    assert not missing.ok and "unknown presenter 'anna'" in missing.detail
    _anna(store)
    (found,) = _presenter(load_settings(storage_path=root, default_presenter="anna"))
    assert found.ok and found.detail == "anna@1: eSpeak en-gb, pip"
