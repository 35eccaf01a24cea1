"""Publishing approved videos: the package, and YouTube through google-api-python-client and
google-auth against a loopback fake of the OAuth token endpoint and the resumable upload."""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakes.youtube import QUANTUM, FakeYouTube, Step
from PIL import Image
from test_review_app_support import add_video

from novaavatar import manifests
from novaavatar.domain import ReviewState, VideoManifest
from novaavatar.media import ffmpeg_exe, probe
from novaavatar.store import ArtifactStore
from tasks.publish import NotPublishable, publish
from tasks.publish.package import DISCLOSURE, LIMITS, SAMPLE_NOTICE
from tasks.publish.youtube import YouTubeAuthError, YouTubeError

PACKAGE_FILES = {
    "video.mp4",
    "thumbnail.jpg",
    "captions.srt",
    "captions.vtt",
    "metadata.json",
    "youtube.json",
    "tiktok.json",
    "instagram.json",
}


@pytest.fixture(scope="module")
def noise_mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~700 KB of incompressible frames: three 256 KiB chunks, so uploads can break midway."""
    path = tmp_path_factory.mktemp("media") / "noise.mp4"
    src = "nullsrc=s=160x120:d=2:r=12,geq=lum='random(1)*255':cb=128:cr=128"
    subprocess.run(
        [
            ffmpeg_exe(),
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            src,
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-qp",
            "0",
            "-pix_fmt",
            "yuv420p",
            str(path),
        ],
        check=True,
    )
    assert 2 * QUANTUM < path.stat().st_size < 4 * QUANTUM
    return path


@pytest.fixture
def yt(storage: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeYouTube]:
    """The fake, and YOUTUBE_* variables pointing the real clients at it."""
    from novaavatar.settings import get_settings

    with FakeYouTube() as fake:
        for name, value in {
            "YOUTUBE_CLIENT_ID": fake.client_id,
            "YOUTUBE_CLIENT_SECRET": fake.client_secret,
            "YOUTUBE_REFRESH_TOKEN": fake.refresh_token,
            "YOUTUBE_TOKEN_URI": f"{fake.url}/token",
            "YOUTUBE_API_URL": fake.url,
            "YOUTUBE_CHUNK_KIB": "256",
            "YOUTUBE_TIMEOUT": "20",
        }.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        yield fake
    get_settings.cache_clear()


def _approved(store: ArtifactStore, mp4: Path, n: int = 0) -> VideoManifest:
    return add_video(store, n, mp4, state=ReviewState.APPROVED)


def _uploads(fake: FakeYouTube) -> list[dict[str, object]]:
    return [r for r in fake.requests if r["method"] == "POST"]


class Sleeps(list[float]):
    """Records the waits the uploader asks for, and waits a little for real."""

    def __call__(self, seconds: float) -> None:
        import time

        self.append(seconds)
        time.sleep(min(seconds, 0.05))


def test_upload_through_the_real_client_records_the_video(
    yt: FakeYouTube, store: ArtifactStore, noise_mp4: Path
) -> None:
    vid = _approved(store, noise_mp4).video_id
    seen: list[tuple[int, int]] = []
    r = publish(store, vid, ["youtube"], by="ann", progress=lambda d, t: seen.append((d, t)))

    sent = store.get_bytes(f"exports/{vid}/video.mp4")
    assert yt.received() == [sent]  # exactly the package's MP4, once
    assert [q["content_range"] for q in yt.requests if q["method"] == "PUT"] == [
        f"bytes 0-{QUANTUM - 1}/{len(sent)}",
        f"bytes {QUANTUM}-{2 * QUANTUM - 1}/{len(sent)}",
        f"bytes {2 * QUANTUM}-{len(sent) - 1}/{len(sent)}",
    ]
    meta = yt.videos[0]["metadata"]
    assert meta["status"]["containsSyntheticMedia"] is True
    assert meta["status"]["privacyStatus"] == "private"
    assert DISCLOSURE in meta["snippet"]["description"]
    assert yt.token_requests[0]["grant_type"] == "refresh_token"

    m, _ = manifests.load(store, vid)
    pub = m.publications["youtube"]
    assert m.state is ReviewState.EXPORTED and m.history[-1].by == "ann"
    assert pub.status == "published" and pub.remote_id == yt.videos[0]["id"]
    assert r.youtube_url == pub.location == f"https://www.youtube.com/watch?v={pub.remote_id}"
    assert m.publications["package"].location == f"exports/{vid}/"
    assert pub.sent_bytes == pub.total_bytes == len(sent) and pub.lease_until is None
    assert seen[-1] == (len(sent), len(sent))
    assert not store.exists(f"videos/{vid}/publish/youtube-session.json")
    # publishing an exported video again rewrites the package but never re-uploads
    again = publish(store, vid, ["package", "youtube"])
    assert again.youtube_id == pub.remote_id and len(yt.videos) == 1 and len(_uploads(yt)) == 1


def test_a_broken_upload_resumes_from_the_servers_range(
    yt: FakeYouTube, store: ArtifactStore, noise_mp4: Path
) -> None:
    vid = _approved(store, noise_mp4).video_id
    # chunk 2: half of it arrives, then the link drops (twice: httplib2 resends once itself);
    # after resuming, the next chunk meets a 503
    yt.chunk_steps = [Step("ok"), Step("partial_then_drop"), Step("drop"), Step("status", 503)]
    sleeps = Sleeps()
    publish(store, vid, ["youtube"], sleep=sleeps, backoff_s=0.01)

    sent = store.get_bytes(f"exports/{vid}/video.mp4")
    assert yt.received() == [sent] and len(_uploads(yt)) == 1
    ranges = [q["content_range"] for q in yt.requests if q["method"] == "PUT"]
    half = QUANTUM + QUANTUM // 2
    assert f"bytes */{len(sent)}" in ranges  # the client asked what the server had ...
    assert ranges.count(f"bytes {half}-{half + QUANTUM - 1}/{len(sent)}") == 2  # ... went on
    assert len(sleeps) == 2
    assert manifests.load(store, vid)[0].state is ReviewState.EXPORTED


def test_429_waits_for_retry_after_and_500_is_retried(
    yt: FakeYouTube, store: ArtifactStore, noise_mp4: Path
) -> None:
    vid = _approved(store, noise_mp4).video_id
    yt.start_steps = [Step("status", 500)]
    yt.chunk_steps = [
        Step("status", 429, headers={"Retry-After": "3"}),
        Step("ok"),
        Step("status", 502),
    ]
    sleeps = Sleeps()
    publish(store, vid, ["youtube"], sleep=sleeps, backoff_s=0.01)
    assert 3.0 in sleeps and len(sleeps) == 3  # Retry-After obeyed; the others backed off
    assert yt.received() == [store.get_bytes(f"exports/{vid}/video.mp4")]
    assert len(_uploads(yt)) == 2  # the session request that met a 500 was made again


def test_a_refusal_is_not_retried_and_leaves_the_video_approved(
    yt: FakeYouTube, store: ArtifactStore, noise_mp4: Path
) -> None:
    vid = _approved(store, noise_mp4).video_id
    quota = {
        "error": {
            "code": 403,
            "message": "The request cannot be completed because you have exceeded your quota.",
            "errors": [{"reason": "quotaExceeded"}],
        }
    }
    yt.start_steps = [Step("status", 403, body=quota)]
    with pytest.raises(YouTubeError, match="quotaExceeded"):
        publish(store, vid, ["youtube"], sleep=Sleeps())
    m, _ = manifests.load(store, vid)
    assert m.state is ReviewState.APPROVED and yt.videos == []
    assert m.publications["youtube"].status == "failed"
    assert "quota" in m.publications["youtube"].error
    assert m.publications["package"].status == "published"  # the package is there


def test_an_interrupted_run_is_continued_by_the_next_without_a_second_upload(
    yt: FakeYouTube, store: ArtifactStore, noise_mp4: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from novaavatar.settings import get_settings

    monkeypatch.setenv("YOUTUBE_MAX_RETRIES", "0")
    get_settings.cache_clear()
    vid = _approved(store, noise_mp4).video_id
    yt.chunk_steps = [Step("ok"), Step("drop"), Step("drop")]
    with pytest.raises(YouTubeError, match="resume"):
        publish(store, vid, ["youtube"])
    m, _ = manifests.load(store, vid)
    pub = m.publications["youtube"]
    assert m.state is ReviewState.APPROVED
    assert pub.status == "failed" and pub.sent_bytes == QUANTUM and "connection lost" in pub.error
    session = json.loads(store.get_bytes(f"videos/{vid}/publish/youtube-session.json"))
    assert session["uri"] not in m.model_dump_json()  # the session URI stays out of the manifest

    publish(store, vid, ["youtube"])  # a new run: asks the session where it stands, goes on
    assert len(_uploads(yt)) == 1 and len(yt.sessions) == 1
    assert yt.received() == [store.get_bytes(f"exports/{vid}/video.mp4")]
    m, _ = manifests.load(store, vid)
    assert m.state is ReviewState.EXPORTED and m.publications["youtube"].attempts == 2


def test_a_finished_upload_whose_answer_was_lost_is_not_sent_again(
    yt: FakeYouTube, store: ArtifactStore, noise_mp4: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from novaavatar.settings import get_settings

    monkeypatch.setenv("YOUTUBE_MAX_RETRIES", "0")
    get_settings.cache_clear()
    vid = _approved(store, noise_mp4).video_id
    # the last chunk arrives and YouTube makes the video, but the answer never comes back
    yt.chunk_steps = [Step("ok"), Step("ok"), Step("store_then_drop"), Step("drop")]
    with pytest.raises(YouTubeError):
        publish(store, vid, ["youtube"])
    assert len(yt.videos) == 1 and manifests.load(store, vid)[0].state is ReviewState.APPROVED
    r = publish(store, vid, ["youtube"])
    assert r.youtube_id == yt.videos[0]["id"] and len(yt.videos) == 1 and len(_uploads(yt)) == 1
    assert manifests.load(store, vid)[0].state is ReviewState.EXPORTED


@pytest.mark.usefixtures("prefect_harness")
def test_a_failing_token_endpoint_names_the_block_and_leaks_no_secret(
    yt: FakeYouTube,
    store: ArtifactStore,
    noise_mp4: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from blocks.youtube import YouTubeCredentials
    from novaavatar.settings import get_settings

    revoked = "1//revokedREFRESHtoken-zyxwvutsrqponm987654"
    YouTubeCredentials(
        client_id=yt.client_id,
        client_secret=yt.client_secret,
        refresh_token=revoked,
        token_uri=f"{yt.url}/token",
    ).save("yt-test-channel", overwrite=True)
    monkeypatch.delenv("YOUTUBE_REFRESH_TOKEN")
    monkeypatch.setenv("YOUTUBE_CREDENTIALS_BLOCK", "yt-test-channel")
    get_settings.cache_clear()
    vid = _approved(store, noise_mp4).video_id

    caplog.set_level(logging.DEBUG)
    with pytest.raises(YouTubeAuthError) as err:
        publish(store, vid, ["youtube"])
    msg = str(err.value)
    assert "credentials block 'yt-test-channel'" in msg and "invalid_grant" in msg
    assert yt.token_requests and yt.requests == []  # nothing reached the upload endpoint
    m, _ = manifests.load(store, vid)
    assert m.state is ReviewState.APPROVED and m.publications["youtube"].status == "failed"
    stored = b"".join(store.get_bytes(k) for k in store.list(""))
    for secret in (yt.client_secret, revoked):
        assert secret not in msg and secret not in caplog.text
        assert secret.encode() not in stored

    # a token endpoint that is down: google-auth retries, then the same clear error
    monkeypatch.setenv("YOUTUBE_CREDENTIALS_BLOCK", "")
    monkeypatch.setenv("YOUTUBE_REFRESH_TOKEN", yt.refresh_token)
    get_settings.cache_clear()
    yt.token_steps = [Step("status", 503, body={"error": "backend_error"})] * 5
    with pytest.raises(YouTubeAuthError, match="YOUTUBE_REFRESH_TOKEN"):
        publish(store, vid, ["youtube"])


def test_package_holds_every_file_and_the_disclosure_everywhere(
    store: ArtifactStore, noise_mp4: Path
) -> None:
    m = _approved(store, noise_mp4)
    long_title = "Harbour bridge " + "very " * 40 + "long headline"
    assert m.script is not None
    long_title_m = m.model_copy(
        update={
            "item": m.item.model_copy(update={"title": long_title, "tags": ("2025", "C++ <tips>")}),
            "script": m.script.model_copy(
                update={"title": long_title, "keywords": ("climate change",)}
            ),
        }
    )
    etag = store.get_with_etag(VideoManifest.key_for(m.video_id))[1]
    manifests.save(store, long_title_m, etag)

    r = publish(store, m.video_id, ["package"])
    base = f"exports/{m.video_id}"
    assert (
        {k.removeprefix(f"{base}/") for k in store.list(base)}
        == PACKAGE_FILES
        == {k.removeprefix(f"{base}/") for k in r.keys}
    )
    for name, text_field in (
        ("youtube", "description"),
        ("tiktok", "caption"),
        ("instagram", "caption"),
    ):
        doc = store.get_json(f"{base}/{name}.json")
        assert doc["ai_generated"] is True and DISCLOSURE in doc[text_field]
        assert len(doc["title"]) <= LIMITS[name].title and doc["title"].endswith("…")
        assert len(doc[text_field]) <= LIMITS[name].description
        assert "#ClimateChange" in doc["hashtags"] and "#2025" not in doc["hashtags"]
        if name != "youtube":  # the label is in the first line, shown before "more"
            assert doc["caption"].splitlines()[0] == f"{doc['title']} (AI-generated)"
    yt_body = store.get_json(f"{base}/youtube.json")["request_body"]
    assert yt_body["status"]["containsSyntheticMedia"] is True
    assert "<" not in yt_body["snippet"]["description"] + yt_body["snippet"]["title"]
    assert store.get_json(f"{base}/tiktok.json")["post_info"]["is_aigc"] is True
    assert store.get_json(f"{base}/metadata.json")["disclosure"] == DISCLOSURE

    mp4 = store.materialize(f"{base}/video.mp4")
    tags = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-i", str(mp4)], capture_output=True, text=True
    ).stderr
    assert f"comment         : {DISCLOSURE}" in tags
    src, out = probe(noise_mp4), probe(mp4)
    assert (out.video_codec, out.width, out.height) == (src.video_codec, src.width, src.height)
    assert abs(out.duration_s - src.duration_s) < 0.05  # copied, not re-encoded
    thumb = Image.open(store.materialize(f"{base}/thumbnail.jpg"))
    assert thumb.format == "JPEG" and thumb.size == (160, 120)
    assert np.asarray(thumb).std() > 20  # a real frame (noise), not a blank
    assert manifests.load(store, m.video_id)[0].state is ReviewState.EXPORTED


def _api_client(monkeypatch: pytest.MonkeyPatch) -> Any:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from novaavatar.settings import get_settings

    monkeypatch.setenv("API_TOKENS", "publish-test-token-0123456789")
    monkeypatch.setenv("API_RATE_LIMIT", "0")
    get_settings.cache_clear()
    return TestClient(
        create_app(), headers={"Authorization": "Bearer publish-test-token-0123456789"}
    )


def test_the_api_publishes_an_approved_video(
    yt: FakeYouTube, store: ArtifactStore, noise_mp4: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vid = _approved(store, noise_mp4).video_id
    api = _api_client(monkeypatch)
    r = api.post(f"/api/videos/{vid}/publish", json={"channels": ["youtube"], "publisher": "ops"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "exported" and body["package"] == f"exports/{vid}/"
    assert body["youtube_url"].endswith(yt.videos[0]["id"]) and len(yt.videos) == 1
    assert body["publications"]["youtube"]["by"] == "ops"
    r = api.post(f"/api/videos/{vid}/publish", json={"channels": ["tiktok"]})
    assert r.status_code == 422  # not a channel this service uploads to


@pytest.mark.usefixtures("prefect_harness")
def test_unapproved_videos_cannot_be_published_by_any_route(
    yt: FakeYouTube,
    store: ArtifactStore,
    storage: Path,
    noise_mp4: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from test_cli import run_cli

    from flows.review import export_approved

    pending = add_video(store, 1, noise_mp4).video_id
    rejected = add_video(store, 2, noise_mp4).video_id
    manifests.decide(store, rejected, ReviewState.REJECTED, by="bob", note="wrong name")

    api = _api_client(monkeypatch)
    for vid, state in ((pending, "pending"), (rejected, "rejected")):
        with pytest.raises(NotPublishable, match=f"is {state}; only approved"):
            publish(store, vid, ["package", "youtube"])
        r = api.post(f"/api/videos/{vid}/publish", json={"channels": ["youtube"]})
        assert r.status_code == 409 and f"is {state}; only approved" in r.json()["detail"]
        flow_state = export_approved(
            channels=["package", "youtube"], video_ids=[vid], return_state=True
        )
        assert flow_state.is_failed() and "only approved" in str(flow_state.message)
        r = run_cli("export", vid, "--channel", "youtube", storage=storage, timeout=120)
        assert r.returncode == 1 and f"is {state}; only approved" in r.stderr
    assert export_approved(channels=["package", "youtube"]) == []  # nothing approved: no-op
    assert yt.requests == [] and yt.token_requests == [] and store.list("exports") == []
    assert {m.state for m in manifests.queue(store)} == {ReviewState.PENDING, ReviewState.REJECTED}


def test_a_sample_video_is_never_published_to_a_channel(
    yt: FakeYouTube, store: ArtifactStore, noise_mp4: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vid = add_video(store, 3, noise_mp4, state=ReviewState.APPROVED, sample=True).video_id
    with pytest.raises(NotPublishable, match="SAMPLE story .fiction, not real news"):
        publish(store, vid, ["youtube"])
    r = _api_client(monkeypatch).post(f"/api/videos/{vid}/publish", json={"channels": ["youtube"]})
    assert r.status_code == 409 and "SAMPLE" in r.json()["detail"]
    assert yt.requests == [] and yt.token_requests == [] and store.list("exports") == []
    assert manifests.load(store, vid)[0].state is ReviewState.APPROVED
    # the local package (a demo's export) is allowed, and says what it is everywhere
    publish(store, vid, ["package"])
    meta = store.get_json(f"exports/{vid}/metadata.json")
    assert meta["sample"] is True and meta["sample_notice"] == SAMPLE_NOTICE
    for name, text_field in (("youtube", "description"), ("tiktok", "caption")):
        doc = store.get_json(f"exports/{vid}/{name}.json")
        assert doc["sample"] is True and SAMPLE_NOTICE in doc[text_field]
    # ... and once exported it still cannot go to YouTube
    with pytest.raises(NotPublishable, match="SAMPLE"):
        publish(store, vid, ["package", "youtube"])
    assert yt.requests == []


def test_a_video_rejected_during_its_upload_stops_there(
    yt: FakeYouTube, store: ArtifactStore, noise_mp4: Path
) -> None:
    vid = _approved(store, noise_mp4).video_id

    def reviewer_changes_mind(done: int, total: int) -> None:
        seen, _ = manifests.load(store, vid)
        if done < total and seen.state is ReviewState.APPROVED:
            manifests.decide(
                store,
                vid,
                ReviewState.REJECTED,
                by="eve",
                note="legal hold",
                expected_version=seen.version,
            )

    with pytest.raises(NotPublishable, match="is rejected"):
        publish(store, vid, ["youtube"], progress=reviewer_changes_mind)
    assert yt.videos == [] and len(yt.sessions[next(iter(yt.sessions))].data) == QUANTUM
    m, _ = manifests.load(store, vid)
    assert m.state is ReviewState.REJECTED and m.publications["youtube"].status == "failed"


def test_review_page_publishes_to_youtube_and_shows_the_link(
    yt: FakeYouTube, store: ArtifactStore, noise_mp4: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest
    from test_review_app import APP, button, texts

    from novaavatar.service import jobs as actions

    for name in ("REVIEW_PASSWORD", "REVIEWERS", "PREFECT_API_URL"):
        monkeypatch.delenv(name, raising=False)
    vid = _approved(store, noise_mp4).video_id
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    at.switch_page("views/exports.py").run()
    assert not at.exception, at.exception
    assert button(at, "Publish to YouTube").disabled  # not before the reviewer is named
    at.text_input(key="reviewer").input("Ada").run()
    button(at, "Publish to YouTube").click().run()
    actions.wait_all()
    m, _ = manifests.load(store, vid)
    assert m.state is ReviewState.EXPORTED and yt.received() == [
        store.get_bytes(f"exports/{vid}/video.mp4")
    ]
    assert m.history[-1].by == "Ada"
    at.run()
    assert f"On YouTube (private): [{m.publications['youtube'].location}]" in texts(at)
    assert "Publish package: thumbnail and text per platform" in [e.label for e in at.expander]


def test_youtube_settings_are_checked_before_anything_is_written(
    store: ArtifactStore, noise_mp4: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from novaavatar.errors import SettingsError
    from novaavatar.settings import get_settings

    vid = _approved(store, noise_mp4).video_id
    with pytest.raises(SettingsError, match="YouTube is not configured"):
        publish(store, vid, ["youtube"])
    monkeypatch.setenv("YOUTUBE_REFRESH_TOKEN", "1//only-the-token")
    get_settings.cache_clear()
    with pytest.raises(SettingsError, match="needs YOUTUBE_CLIENT_ID and YOUTUBE_CLIENT_SECRET"):
        publish(store, vid, ["youtube"])
    with pytest.raises(ValueError, match="unknown channel.*'vimeo'"):
        publish(store, vid, ["vimeo"])
    assert store.list("exports") == [] and manifests.load(store, vid)[0].publications == {}


def test_a_second_upload_of_the_same_video_waits_for_the_first(
    yt: FakeYouTube, store: ArtifactStore, noise_mp4: Path
) -> None:
    from datetime import timedelta

    from novaavatar.domain import Publication, utcnow
    from novaavatar.errors import ConflictError

    vid = _approved(store, noise_mp4).video_id

    def uploading(m: VideoManifest) -> None:
        m.publications["youtube"] = Publication(
            channel="youtube",
            status="uploading",
            by="worker-1",
            lease_until=utcnow() + timedelta(minutes=3),
        )

    manifests.update(store, vid, uploading)
    with pytest.raises(ConflictError, match="being uploaded to YouTube by worker-1"):
        publish(store, vid, ["youtube"])
    assert yt.requests == [] and manifests.load(store, vid)[0].state is ReviewState.APPROVED


def test_explainer_chapters_reach_the_youtube_description(
    store: ArtifactStore, noise_mp4: Path
) -> None:
    from novaavatar import domain
    from tasks.publish.package import youtube_body

    if not hasattr(domain, "Chapter"):
        pytest.skip("FinalVideo has no chapters yet")
    m = _approved(store, noise_mp4)
    assert m.final is not None
    spans = [(2.5, 40.0, "What happened"), (40.0, 95.0, "Why it matters"), (95.0, 130.0, "Next")]
    chapters = tuple(domain.Chapter(title=t, start=a, end=b) for a, b, t in spans)
    with_chapters = m.model_copy(
        update={"final": m.final.model_copy(update={"chapters": chapters})}
    )
    text = youtube_body(with_chapters, "private", "25")["snippet"]["description"]
    assert "Chapters:\n0:00 What happened\n0:40 Why it matters\n1:35 Next" in text
    too_short = (*chapters[:2], domain.Chapter(title="Bye", start=130.0, end=135.0))
    short = m.model_copy(update={"final": m.final.model_copy(update={"chapters": too_short})})
    assert "Chapters:" not in youtube_body(short, "private", "25")["snippet"]["description"]


@pytest.mark.usefixtures("prefect_harness")
def test_the_flow_and_the_cli_publish_to_youtube(
    yt: FakeYouTube, store: ArtifactStore, storage: Path, noise_mp4: Path
) -> None:
    from test_cli import run_cli

    from flows.review import export_approved

    by_flow, by_cli = (
        _approved(store, noise_mp4, 0).video_id,
        _approved(store, noise_mp4, 1).video_id,
    )
    seen = manifests.load(store, by_cli)[0].version  # changing a decision needs what was seen
    manifests.decide(
        store, by_cli, ReviewState.REJECTED, by="ann", note="later", expected_version=seen
    )  # not in the batch
    assert export_approved(channels=["package", "youtube"]) == [by_flow]
    seen = manifests.load(store, by_cli)[0].version
    manifests.decide(store, by_cli, ReviewState.APPROVED, by="ann", expected_version=seen)
    r = run_cli("export", by_cli, "--channel", "youtube", "--by", "cli-user", storage=storage)
    assert r.returncode == 0, r.stderr
    ids = {v["id"] for v in yt.videos}
    assert len(yt.videos) == 2
    for vid in (by_flow, by_cli):
        m, _ = manifests.load(store, vid)
        assert m.state is ReviewState.EXPORTED and m.publications["youtube"].remote_id in ids
    cli_pub = manifests.load(store, by_cli)[0].publications["youtube"]
    assert cli_pub.by == "cli-user" and cli_pub.location in r.stdout
