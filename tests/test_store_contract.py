"""The artifact store contract, run on every implementation: local folder and S3 (moto)."""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from blocks.artifact_store import LocalArtifactStore
from blocks.s3_store import S3ArtifactStore
from novaavatar import manifests
from novaavatar.domain import ContentItem, ProduceOptions, StageRecord, VideoManifest
from novaavatar.errors import ConflictError, NotFoundError
from novaavatar.store import ArtifactStore

VIDEO_ID = "vid-000111222"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on loopback for this module."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"{host}:{port}"
    server.stop()


@pytest.fixture(params=["local", "s3"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], ArtifactStore]:
    """Opens the same store again, as another worker or thread would."""
    if request.param == "local":
        return lambda: LocalArtifactStore(root=str(tmp_path / "store"))
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = f"contract-{uuid.uuid4().hex[:12]}"
    return lambda: S3ArtifactStore(
        endpoint=endpoint,
        bucket=bucket,
        prefix="nova",
        secure=False,
        access_key=SecretStr("contract-access"),
        secret_key=SecretStr("contract-secret"),
        create_bucket=True,
        cache_dir=str(tmp_path / "cache"),
    )


@pytest.fixture
def store(open_store: Callable[[], ArtifactStore]) -> ArtifactStore:
    return open_store()


def test_put_get_list_size_delete(store: ArtifactStore, tmp_path: Path) -> None:
    assert isinstance(store, ArtifactStore)
    store.put_bytes("videos/v1/a.txt", b"hello")
    store.put_json("videos/v1/b.json", {"x": 1})
    src = tmp_path / "src.bin"
    src.write_bytes(b"\0" * 3000)
    assert store.put_file("videos/v10/c.bin", src) == "videos/v10/c.bin"
    assert store.get_bytes("videos/v1/a.txt") == b"hello"
    assert store.get_json("videos/v1/b.json") == {"x": 1}
    assert store.list() == ["videos/v1/a.txt", "videos/v1/b.json", "videos/v10/c.bin"]
    assert store.list("videos") == store.list()
    assert store.list("videos/v1") == ["videos/v1/a.txt", "videos/v1/b.json"]  # not v10
    assert store.list("videos/v1/a.txt") == ["videos/v1/a.txt"]
    assert store.list("nothing/here") == []
    assert store.size("videos/v10/c.bin") == 3000
    assert store.exists("videos/v1/a.txt") and not store.exists("videos/v1")
    store.put_bytes("videos/v1/a.txt", b"replaced")
    assert store.get_bytes("videos/v1/a.txt") == b"replaced"
    store.delete("videos/v1/a.txt")
    store.delete("videos/v1/a.txt")  # deleting what is gone is fine
    assert not store.exists("videos/v1/a.txt")
    with pytest.raises(NotFoundError, match=r"videos/v1/a\.txt"):
        store.get_bytes("videos/v1/a.txt")
    for read in (store.size, store.materialize, store.get_with_etag):
        with pytest.raises(NotFoundError, match="missing.bin"):
            read("missing.bin")


def test_materialize_and_download_give_the_content(store: ArtifactStore, tmp_path: Path) -> None:
    store.put_bytes("media/clip.mp4", b"v1" * 1000)
    p = store.materialize("media/clip.mp4")
    assert p.read_bytes() == b"v1" * 1000 and p.suffix == ".mp4"
    assert store.materialize("media/clip.mp4") == p  # same version: the same file
    store.put_bytes("media/clip.mp4", b"v2" * 1000)
    assert store.materialize("media/clip.mp4").read_bytes() == b"v2" * 1000
    out = store.download("media/clip.mp4", tmp_path / "out" / "copy.mp4")
    assert out.read_bytes() == b"v2" * 1000
    assert [q.name for q in out.parent.iterdir()] == ["copy.mp4"]  # no temp file left


def test_bad_keys_are_refused(store: ArtifactStore, tmp_path: Path) -> None:
    for key in ["../outside.txt", "/etc/passwd", "a/../../b", "", "a//b"]:
        with pytest.raises(ValueError, match="invalid store key"):
            store.put_bytes(key, b"x")
        with pytest.raises(ValueError, match="invalid store key"):
            store.get_bytes(key)
    assert store.list() == []
    assert not (tmp_path / "outside.txt").exists()


def test_put_if_match_is_compare_and_swap(open_store: Callable[[], ArtifactStore]) -> None:
    a, b = open_store(), open_store()  # two workers
    e1 = a.put_if_match("m.json", b"v1", None)
    with pytest.raises(ConflictError, match="m.json"):
        b.put_if_match("m.json", b"again", None)
    data, etag = b.get_with_etag("m.json")
    assert (data, etag) == (b"v1", e1)
    e2 = b.put_if_match("m.json", b"v2", etag)
    assert e2 != e1
    with pytest.raises(ConflictError, match="m.json"):
        a.put_if_match("m.json", b"v3", e1)  # a read v1, b wrote v2 meanwhile
    assert a.get_with_etag("m.json") == (b"v2", e2)
    a.delete("m.json")
    with pytest.raises(ConflictError):
        a.put_if_match("m.json", b"v4", e2)  # it is gone: not what was read


def _manifest() -> VideoManifest:
    item = ContentItem.make(title="A story", url="https://e.org/1", source="E")
    return VideoManifest(video_id=VIDEO_ID, item=item, options=ProduceOptions())


def test_concurrent_manifest_updates_lose_nothing(
    open_store: Callable[[], ArtifactStore],
) -> None:
    """Eight workers, each with its own store object, each add a stage twice over."""
    manifests.save(open_store(), _manifest(), None)
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def worker(i: int) -> None:
        store = open_store()
        start.wait()
        try:
            for n in range(2):

                def add_stage(m: VideoManifest, name: str = f"s{i}-{n}") -> None:
                    m.stages[name] = StageRecord(provider=name)

                manifests.update(store, VIDEO_ID, add_stage, retries=200)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    m, _ = manifests.load(open_store(), VIDEO_ID)
    assert sorted(m.stages) == sorted(f"s{i}-{n}" for i in range(8) for n in range(2))
    assert m.version == 1 + 16


def test_large_file_round_trip(store: ArtifactStore, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    with src.open("wb") as fh:
        for i in range(12):  # 12 MiB of distinct blocks
            fh.write(hashlib.sha256(str(i).encode()).digest() * 32768)
    store.put_file("videos/big.bin", src)
    assert store.size("videos/big.bin") == src.stat().st_size
    got = store.download("videos/big.bin", tmp_path / "back.bin")
    assert got.read_bytes() == src.read_bytes()


def test_presigned_url_serves_the_content(store: ArtifactStore) -> None:
    store.put_bytes("exports/v/video.mp4", b"not really a video")
    url = store.presigned_url("exports/v/video.mp4")
    if url.startswith("file://"):
        assert Path(url.removeprefix("file://")).read_bytes() == b"not really a video"
    else:
        r = httpx.get(url)
        assert r.status_code == 200 and r.content == b"not really a video"
        assert r.headers["content-type"] == "video/mp4"
