"""Brand templates: loading and validation, precedence, versions, rendering and the review page.

Snapshots: ``tests/snapshots/template-<name>.png`` hold a presenter frame and the intro card of
each shipped template. After an intended change of the look, refresh them with
``UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/test_templates.py -k snapshot`` and look at them.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from novaavatar import templates
from novaavatar.domain import ContentItem, ProduceOptions, WordTiming, video_id_for
from novaavatar.errors import InputError
from novaavatar.media import extract_frame, probe, read_audio, rgb_to_i420
from novaavatar.store import ArtifactStore
from novaavatar.templates import Brand, BrandTemplate

SNAPSHOTS = Path(__file__).parent / "snapshots"
SHIPPED = ("news", "explainer", "shorts")
ITEM = ContentItem.make(
    title="City council expands the river park with a new cycling bridge",
    url="https://example.org/river-park",
    source="BBC News",
    published=datetime(2026, 11, 25, 9, 30, tzinfo=UTC),
)
NEWS_V2 = """
name = "news"
version = 2
description = "news, warmer"
voice = "en-gb"
layout = "pip"
[colours]
accent = "#FF8800"
[captions]
style = "plain"
"""


# -- loading and validation ----------------------------------------------------------------


def test_shipped_templates_load_and_differ() -> None:
    shipped = templates.shipped()
    assert set(shipped) == {"news@1", "explainer@1", "shorts@1"}
    looks = {(t.layout, t.colours.accent, t.colours.card_background) for t in shipped.values()}
    assert len(looks) == 3  # three clearly different looks
    for t in shipped.values():
        assert t.logo is not None and (templates.TEMPLATES_DIR / t.logo.image).is_file()
        assert t.intro.enabled and t.outro.enabled and t.lower_third.enabled


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('name = "x"\nversion = 1\n[colours]\naccent = "red"\n', "field colours.accent"),
        ('name = "x"\nversion = 0\n', "field version"),
        ('name = "x"\nversion = 1\n[logo]\nimage = "../../etc/passwd.png"\n', "field logo.image"),
        ('name = "x"\nversion = 1\nlayuot = "pip"\n', "field layuot"),
        ('name = "x"\nversion = 1\n[intro]\nduration_s = 30\n', "field intro.duration_s"),
        ('name = "none"\nversion = 1\n', "field name"),
        ('name = "x"\nversion = 1\n[captions]\nstyle = "loud"\n', "field captions.style"),
    ],
)
def test_validation_errors_name_the_file_and_field(text: str, field: str) -> None:
    with pytest.raises(InputError) as e:
        templates.parse(text, "brand.toml")
    assert "template brand.toml" in str(e.value) and field in str(e.value), str(e.value)


def test_bad_syntax_and_yaml_are_reported_by_file() -> None:
    with pytest.raises(InputError, match=r"template brand.toml: not valid TOML"):
        templates.parse("name = = 1", "brand.toml")
    t = templates.parse("name: acme\nversion: 3\ncolours:\n  accent: '#112233'\n", "acme.yaml")
    assert (t.ref, t.colours.accent) == ("acme@3", "#112233")
    with pytest.raises(InputError, match=r"acme.yaml: expected a table"):
        templates.parse("- 1\n- 2\n", "acme.yaml")


def test_resolve_names_versions_and_unknown_ones(store: ArtifactStore) -> None:
    assert templates.resolve("news").ref == "news@1"
    assert templates.resolve(None, format="explainer").ref == "explainer@1"
    assert templates.resolve(None, format="conversation").ref == "news@1"
    with pytest.raises(InputError, match=r"unknown template 'weather'.*explainer@1, news@1"):
        templates.resolve("weather", store)
    with pytest.raises(InputError, match=r"use name or name@version"):
        templates.resolve("News@v2")


# -- versions in the store -------------------------------------------------------------------


def test_a_new_version_never_changes_videos_made_with_the_old(store: ArtifactStore) -> None:
    old = templates.build_options(dict(template="news"), store)
    assert old.template == "news@1"
    old_id = video_id_for(ITEM, old)

    t = templates.save(store, NEWS_V2.encode(), "news.toml")
    assert t.ref == "news@2" and store.exists("templates/news/2.toml")
    assert "news@2" in templates.available(store)
    with pytest.raises(InputError, match=r"news@2 exists already.*version = 3"):
        templates.save(store, NEWS_V2.encode(), "news.toml")
    with pytest.raises(InputError, match=r"news@1 exists already"):
        templates.save(store, NEWS_V2.replace("version = 2", "version = 1").encode(), "n.toml")

    # the name alone now means the newest version; the pinned one is still the old video
    new = templates.build_options(dict(template="news"), store)
    assert new.template == "news@2" and video_id_for(ITEM, new) != old_id
    again = templates.build_options(dict(template="news@1"), store)
    assert again == old and video_id_for(ITEM, again) == old_id
    assert templates.brand_for(ITEM, again, store).template == templates.shipped()["news@1"]  # type: ignore[union-attr]


def test_a_store_file_whose_name_disagrees_with_its_content_is_refused(
    store: ArtifactStore,
) -> None:
    store.put_bytes("templates/acme/1.toml", b'name = "acme"\nversion = 2\n')
    with pytest.raises(InputError, match=r"templates/acme/1.toml: field name/version say acme@2"):
        templates.resolve("acme@1", store)


def test_an_upload_with_a_logo_missing_from_the_store_is_refused(store: ArtifactStore) -> None:
    text = b'name = "acme"\nversion = 1\n[logo]\nimage = "store:uploads/acme.png"\n'
    with pytest.raises(InputError, match=r"field logo.image.*not in the store"):
        templates.save(store, text, "acme.toml")
    assert not store.list("templates/")


# -- precedence ------------------------------------------------------------------------------


def test_explicit_option_beats_template_beats_default(store: ArtifactStore) -> None:
    o = templates.build_options(dict(template="shorts"), store)
    assert (o.layout, o.caption_style, o.template) == ("full", "highlight", "shorts@1")
    o = templates.build_options(dict(template="shorts", layout="studio", caption_style="none"))
    assert (o.layout, o.caption_style) == ("studio", "none")  # explicit wins
    o = templates.build_options(dict(template="shorts", layout=None))  # None: not set
    assert o.layout == "full"
    o = templates.build_options(dict(format="explainer", duration_s=90))
    assert (o.template, o.layout, o.caption_style) == ("explainer@1", "pip", "plain")
    assert templates.build_options({}).template == "news@1"

    templates.save(store, NEWS_V2.encode(), "news.toml")
    o = templates.build_options(dict(template="news"), store)
    assert (o.voice, o.layout, o.caption_style) == ("en-gb", "pip", "plain")
    assert (
        templates.build_options(dict(template="news", voice="en-us+f2"), store).voice == "en-us+f2"
    )
    # an English template voice never speaks another language's script
    assert templates.build_options(dict(template="news", language="es"), store).voice == "es"


def test_none_is_the_plain_look_with_the_ids_of_videos_made_before_templates() -> None:
    o = templates.build_options(dict(template="none", duration_s=30))
    assert o.template is None and o.layout == "studio"
    assert video_id_for(ITEM, o) == video_id_for(ITEM, ProduceOptions(duration_s=30))
    assert templates.brand_for(ITEM, o) is None


def test_the_brand_fills_source_and_date() -> None:
    o = templates.build_options(dict(template="news"))
    brand = templates.brand_for(ITEM, o)
    assert brand is not None and brand.lower_third_text == "BBC News · 25 Nov"
    assert brand.fill("Source: {source}") == "Source: BBC News"
    nothing = Brand(template=brand.template, title="t")
    assert nothing.fill("Source: {source}") == "" and nothing.fill("{source} · {date}") == ""
    assert Brand(template=brand.template, source="AP").lower_third_text == "AP"


# -- rendering ---------------------------------------------------------------------------------


def _size(t: BrandTemplate) -> tuple[int, int]:
    return (640, 360) if t.layout == "pip" else (360, 640)


def _backdrop(size: tuple[int, int]) -> np.ndarray:
    """A fixed frame under the overlays: the snapshots show the template, not the presenter."""
    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([40 + 80 * x / w, 50 + 60 * y / h, 90 + 40 * (x + y) / (w + h)], axis=2).astype(
        np.uint8
    )


def _ssim(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    return float(structural_similarity(a, b, channel_axis=2, data_range=255))


@pytest.mark.parametrize("name", SHIPPED)
def test_snapshot_of_each_shipped_template(name: str) -> None:
    from tasks.compose.preview import preview_frames

    t = templates.resolve(name)
    frame, intro = preview_frames(t, _size(t), base=_backdrop(_size(t)))
    got = np.concatenate([frame, intro], axis=1)
    path = SNAPSHOTS / f"template-{name}.png"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not path.exists():
        if not os.environ.get("UPDATE_SNAPSHOTS"):
            pytest.fail(f"no snapshot {path}: run with UPDATE_SNAPSHOTS=1 and look at it")
        SNAPSHOTS.mkdir(exist_ok=True)
        Image.fromarray(got).save(path)
    want = np.asarray(Image.open(path).convert("RGB"))
    assert want.shape == got.shape
    mad = float(np.abs(want.astype(np.int16) - got.astype(np.int16)).mean())
    # fonts render a pixel differently across FreeType versions: a tolerance, not equality
    assert mad < 4.0 and _ssim(want, got) > 0.9, (mad, _ssim(want, got))


def test_templates_render_differently_from_each_other() -> None:
    from tasks.compose.preview import preview_frames

    back = _backdrop((360, 640))
    shots = {
        n: preview_frames(templates.resolve(n), (360, 640), base=back) for n in ("news", "shorts")
    }
    for part in (0, 1):
        diff = np.abs(shots["news"][part].astype(int) - shots["shorts"][part].astype(int))
        assert diff.mean() > 15


def _frame_with(brand: Brand | None, size: tuple[int, int] = (360, 640)) -> np.ndarray:
    import cv2

    from tasks.compose.video import FrameOverlay

    base = np.full((size[1], size[0], 3), 90, np.uint8)
    frame = rgb_to_i420(base)
    FrameOverlay([], *size, title="", brand=brand).apply(frame, 2.0)
    return cv2.cvtColor(frame, cv2.COLOR_YUV2RGB_I420)


def test_the_lower_third_shows_the_items_source() -> None:
    from tasks.compose.brand import BrandLayers

    brand = templates.brand_for(ITEM, templates.build_options(dict(template="news")))
    assert brand is not None
    x, y, w, h = BrandLayers(brand, 360, 640).lt_box  # type: ignore[misc]
    plain = _frame_with(None)[y : y + h, x : x + w].astype(int)
    branded = _frame_with(brand)[y : y + h, x : x + w].astype(int)
    other = _frame_with(brand.model_copy(update=dict(source="Reuters")))[y : y + h, x : x + w]
    assert np.abs(branded - plain).mean() > 20  # the box is drawn where nothing was
    assert np.abs(branded - other.astype(int)).max() > 100  # and its text is the source's
    # the box's text is bright on the navy background: the source's words are there
    assert (branded.mean(axis=2) > 200).sum() > 0.03 * w * h


@pytest.fixture(scope="module")
def branded_video(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A 2 s lite render with the news brand, composed with its intro and outro."""
    from tasks.avatar.lite import render_lite
    from tasks.background import procedural_background
    from tasks.compose.video import compose_final

    d = tmp_path_factory.mktemp("brand")
    rate = 16000
    t = np.arange(2 * rate) / rate
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
    sf.write(d / "speech.wav", (0.3 * env * np.sin(2 * np.pi * 180 * t)).astype(np.float32), rate)
    procedural_background(3, (360, 640)).save(d / "bg.png")
    words = [
        WordTiming(word=w, start=0.2 + 0.4 * i, end=0.5 + 0.4 * i)
        for i, w in enumerate(["Hello", "and", "welcome", "tonight"])
    ]
    brand = templates.brand_for(ITEM, templates.build_options(dict(template="news")))
    assert brand is not None
    render_lite(
        d / "bg.png",
        d / "speech.wav",
        [],
        d / "avatar.mp4",
        size=(360, 640),
        words=words,
        title=ITEM.title,
        brand=brand,
    )
    info = compose_final(
        d / "avatar.mp4", d / "speech.wav", words, d / "final.mp4", burn_captions=False, brand=brand
    )
    # the other path: captions, logo and cards drawn by compose itself (an OmniAvatar render)
    render_lite(d / "bg.png", d / "speech.wav", [], d / "bare.mp4", size=(360, 640))
    burnt = compose_final(
        d / "bare.mp4", d / "speech.wav", words, d / "burnt.mp4", title=ITEM.title, brand=brand
    )
    return dict(dir=d, info=info, burnt=burnt, brand=brand, words=words)


@pytest.mark.parametrize("which", ["final", "burnt"])
def test_intro_and_outro_cards_frame_the_speech(branded_video: dict, which: str) -> None:
    from tasks.compose.brand import CardRenderer

    d: Path = branded_video["dir"]  # type: ignore[assignment]
    info = branded_video["info" if which == "final" else "burnt"]
    brand: Brand = branded_video["brand"]  # type: ignore[assignment]
    path = d / f"{which}.mp4"
    assert (info.intro_s, info.outro_s) == (1.6, 1.6)  # type: ignore[attr-defined]
    media = probe(path)
    assert abs(media.duration_s - (2.0 + 3.2)) < 0.15
    # mid-intro the picture is the card (after its fade in, before the cross-fade)
    card = CardRenderer(brand, "intro", 360, 640, 25.0)
    import cv2

    want = cv2.cvtColor(card.frame(15), cv2.COLOR_YUV2RGB_I420).astype(int)
    got = extract_frame(path, 15.2 / 25).astype(int)
    assert np.abs(got - want).mean() < 6
    assert np.abs(extract_frame(path, 2.6).astype(int) - want).mean() > 25  # the presenter
    # the speech waits for the intro: silence under the cards, sound between them
    audio = read_audio(path, 16000)
    rms = [
        float(np.sqrt(np.mean(audio[int(a * 16000) : int(b * 16000)] ** 2)))
        for a, b in ((0.05, 1.5), (1.8, 3.4), (3.75, 5.0))
    ]
    assert rms[0] < 1e-3 and rms[2] < 1e-3 and rms[1] > 0.05, rms


def test_captions_move_by_the_intro(branded_video: dict) -> None:
    from tasks.compose.captions import build_captions, to_srt
    from tasks.stages import shift_words

    words = branded_video["words"]
    srt = to_srt(build_captions(shift_words(words, 1.6)))  # type: ignore[arg-type]
    assert srt.splitlines()[1].startswith("00:00:01,800 -->")


# -- the command line -----------------------------------------------------------------------------


def test_cli_lists_previews_and_adds_templates(tmp_path: Path) -> None:
    import subprocess
    import sys

    env = dict(os.environ, STORAGE_PATH=str(tmp_path / "storage"), PREFECT_HOME=str(tmp_path / "p"))

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "novaavatar.cli", "templates", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)

    out = tmp_path / "preview.png"
    assert cli("preview", "explainer", "--aspect", "16:9", "--out", str(out)).returncode == 0
    assert Image.open(out).size == (2 * 1138 + 8, 640)
    (tmp_path / "news.toml").write_text(NEWS_V2.replace("#FF8800", "orange"))
    bad = cli("add", str(tmp_path / "news.toml"))
    assert bad.returncode == 1 and "template news.toml: field colours.accent" in bad.stderr
    (tmp_path / "news.toml").write_text(NEWS_V2)
    assert cli("add", str(tmp_path / "news.toml")).stdout.strip() == "stored news@2"
    listed = cli("list").stdout
    assert "news@1" in listed and "shorts@1" in listed and "news@2 " in listed


def test_show_prints_toml_that_reads_back_the_same() -> None:
    for t in templates.shipped().values():
        assert templates.parse(templates.to_toml(t), f"{t.name}.toml") == t


# -- the review page -----------------------------------------------------------------------------


def test_review_page_previews_and_takes_a_new_version(
    store: ArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest

    for name in ("REVIEW_PASSWORD", "REVIEWERS", "PREFECT_API_URL"):
        monkeypatch.delenv(name, raising=False)
    app = Path(__file__).resolve().parents[1] / "review_app" / "app.py"
    at = AppTest.from_file(app, default_timeout=60)
    at.run()
    at.switch_page("views/templates.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Brand templates"
    assert at.selectbox(key="template_name").options == ["explainer", "news", "shorts"]
    assert len(at.get("image")) == 1  # the rendered preview
    assert "explainer@1" in "\n".join(str(m.value) for m in at.markdown)

    at.file_uploader(key="template_upload").upload(
        "bad.toml", b'name = "news"\nversion = 2\n[colours]\naccent = "blue"\n', "application/toml"
    ).run()
    assert "template bad.toml: field colours.accent" in at.error[0].value
    assert not store.list("templates/")
    at.file_uploader(key="template_upload").upload(
        "news.toml", NEWS_V2.encode(), "application/toml"
    ).run()
    assert not at.error and "Stored **news@2**" in at.success[0].value
    at.selectbox(key="template_name").set_value("news").run()
    assert at.selectbox(key="template_version_news").options == ["2", "1"]  # newest first
    assert not at.error  # the kept upload is not stored a second time on the rerun
    assert "news@2" in "\n".join(str(m.value) for m in at.markdown)
    assert not at.exception


# -- the produce flow ------------------------------------------------------------------------------


@pytest.mark.usefixtures("prefect_harness")
def test_produce_records_the_version_and_a_new_version_leaves_the_video_alone(
    store: ArtifactStore,
) -> None:
    from flows.produce import produce_video
    from flows.scrape import scrape_content
    from novaavatar import manifests

    item = scrape_content(sample=True, limit=1)[0]
    vid = produce_video(
        item.id, options=ProduceOptions(duration_s=15, aspect="16:9", template="news")
    )
    m, _ = manifests.load(store, vid)
    assert m.options.template == "news@1" and m.options.layout == "studio"
    assert m.final is not None and m.quality is not None
    assert (m.final.intro_s, m.final.outro_s) == (1.6, 1.6)
    assert m.quality.passed, m.quality.failed  # sync, length, lips and captions with the cards
    first_cue = store.get_bytes(m.final.srt_key).decode().splitlines()[1]
    assert first_cue >= "00:00:01,600"  # the captions start after the intro card
    final_bytes = store.get_bytes(m.final.key)

    templates.save(store, NEWS_V2.encode(), "news.toml")
    again = produce_video(
        item.id, options=ProduceOptions(duration_s=15, aspect="16:9", template="news@1")
    )
    assert again == vid
    m2, _ = manifests.load(store, vid)
    assert m2.final == m.final and store.get_bytes(m.final.key) == final_bytes
    newer = templates.build_options(dict(duration_s=15, aspect="16:9", template="news"), store)
    assert video_id_for(m.item, newer) != vid  # news@2 is another video


@pytest.mark.parametrize("which", ["final", "burnt"])
def test_the_first_frame_is_the_clean_title_card(branded_video: dict, which: str) -> None:
    """No fade in from black: frame 0 is the intro card with its headline (the poster a
    player and the review queue show), as bright as the card mid-intro."""
    import cv2

    from tasks.compose.brand import CardRenderer

    d: Path = branded_video["dir"]  # type: ignore[assignment]
    card = CardRenderer(branded_video["brand"], "intro", 360, 640, 25.0)  # type: ignore[arg-type]
    want = cv2.cvtColor(card.frame(0), cv2.COLOR_YUV2RGB_I420).astype(int)
    first = extract_frame(d / f"{which}.mp4", 0.0).astype(int)
    assert np.abs(first - want).mean() < 6
    mid = extract_frame(d / f"{which}.mp4", 15.2 / 25).astype(int)
    assert first.mean() > 0.97 * mid.mean()
    # the headline is there in full at once: the same text pixels as mid-intro
    assert np.abs(first - mid).mean() < 3
