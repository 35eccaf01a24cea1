"""The S3/MinIO store against moto's S3 server on loopback, with the real minio client."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from blocks.artifact_store import LocalArtifactStore
from blocks.s3_store import S3ArtifactStore, S3ResultStorage
from novaavatar.domain import ProduceOptions
from novaavatar.errors import StoreError
from novaavatar.settings import PROJECT_ROOT, get_settings
from novaavatar.store_sync import sync

SECRET = "s3-secret-that-must-never-show"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"{host}:{port}"
    server.stop()


def _store(endpoint: str, bucket: str | None = None, **kw: object) -> S3ArtifactStore:
    args: dict = dict(
        endpoint=endpoint,
        bucket=bucket or f"nova-{uuid.uuid4().hex[:12]}",
        secure=False,
        access_key=SecretStr("s3-access"),
        secret_key=SecretStr(SECRET),
        create_bucket=True,
    )
    return S3ArtifactStore(**(args | kw))


@pytest.fixture
def s3_settings(
    s3_endpoint: str, storage: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """ARTIFACT_STORE=s3 on the moto server, with a bucket of its own."""
    env = {
        "ARTIFACT_STORE": "s3",
        "S3_ENDPOINT": s3_endpoint,
        "S3_BUCKET": f"nova-{uuid.uuid4().hex[:12]}",
        "S3_PREFIX": "team",
        "S3_SECURE": "false",
        "S3_ACCESS_KEY": "s3-access",
        "S3_SECRET_KEY": SECRET,
        "S3_CREATE_BUCKET": "true",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()


def test_uri_reopens_the_store_without_credentials(s3_endpoint: str, tmp_path: Path) -> None:
    s = _store(s3_endpoint, prefix="team/a", cache_dir=str(tmp_path))
    assert SECRET not in s.uri and "s3-access" not in s.uri
    assert SECRET not in repr(s) and SECRET not in s.model_dump_json()
    again = S3ArtifactStore.from_uri(s.uri, access_key=s.access_key, secret_key=s.secret_key)
    assert (again.endpoint, again.bucket, again.prefix, again.secure, again.region) == (
        s3_endpoint,
        s.bucket,
        "team/a",
        False,
        "us-east-1",
    )
    assert again.uri == s.uri
    s.put_bytes("x.txt", b"x")
    assert again.get_bytes("x.txt") == b"x"
    with pytest.raises(ValueError, match="expected s3://bucket"):
        S3ArtifactStore.from_uri("s3://bucket-only")
    with pytest.raises(ValueError, match="invalid bucket name 'No'"):
        _store(s3_endpoint, bucket="No")
    with pytest.raises(ValueError, match="host\\[:port\\] only"):
        _store("http://127.0.0.1:9000")


def test_missing_bucket_is_named_or_created(s3_endpoint: str) -> None:
    bucket = f"absent-{uuid.uuid4().hex[:12]}"
    strict = _store(s3_endpoint, bucket=bucket, create_bucket=False)
    with pytest.raises(StoreError, match=f"bucket '{bucket}' does not exist.*S3_CREATE_BUCKET"):
        strict.put_bytes("a.txt", b"a")
    with pytest.raises(StoreError, match=bucket):
        strict.list()
    _store(s3_endpoint, bucket=bucket, create_bucket=True).put_bytes("a.txt", b"a")
    assert strict.get_bytes("a.txt") == b"a"


def test_unreachable_endpoint_is_a_clear_error() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = _store(f"127.0.0.1:{port}")
    with pytest.raises(StoreError, match=f"127.0.0.1:{port} unreachable") as err:
        store.get_bytes("a.txt")
    assert SECRET not in str(err.value)


def test_content_types_and_presigned_urls(s3_endpoint: str, tmp_path: Path) -> None:
    import httpx

    s = _store(s3_endpoint)
    clip = tmp_path / "clip.bin"
    clip.write_bytes(b"\0" * 100)
    s.put_file("v/final.mp4", clip)
    s.put_file("v/captions.bin", clip, content_type="text/vtt")
    s.put_json("v/manifest.json", {"a": 1})
    s.put_bytes("v/raw", b"?")
    client = s._client
    types = {
        k: client.stat_object(s.bucket, k).content_type
        for k in ("v/final.mp4", "v/captions.bin", "v/manifest.json", "v/raw")
    }
    assert types == {
        "v/final.mp4": "video/mp4",
        "v/captions.bin": "text/vtt",
        "v/manifest.json": "application/json",
        "v/raw": "application/octet-stream",
    }
    from datetime import timedelta

    url = s.presigned_url("v/final.mp4", expires=timedelta(minutes=5))
    assert "X-Amz-Expires=300" in url and SECRET not in url
    r = httpx.get(url, headers={"Range": "bytes=0-9"})  # a player seeks with ranges
    assert r.status_code == 206 and r.content == b"\0" * 10


def test_large_upload_streams_in_parts_and_materialize_caches_by_etag(
    s3_endpoint: str, tmp_path: Path
) -> None:
    s = _store(s3_endpoint, part_size=5 * 1024 * 1024, cache_dir=str(tmp_path / "cache"))
    src = tmp_path / "big.bin"
    with src.open("wb") as fh:
        for i in range(12):
            fh.write(hashlib.sha256(str(i).encode()).digest() * 32768)  # 1 MiB each
    s.put_file("videos/big.mp4", src)
    assert s.etag("videos/big.mp4").endswith("-3")  # 3 parts: a multipart upload
    assert s.sha256("videos/big.mp4") == hashlib.sha256(src.read_bytes()).hexdigest()
    first = s.materialize("videos/big.mp4")
    assert first.read_bytes() == src.read_bytes() and first.name == "big.mp4"
    mtime = first.stat().st_mtime_ns
    assert s.materialize("videos/big.mp4") == first and first.stat().st_mtime_ns == mtime
    s.put_bytes("videos/big.mp4", b"new take")
    second = s.materialize("videos/big.mp4")
    assert second != first and second.read_bytes() == b"new take"
    assert not first.exists()  # the older version's copy is dropped
    leftovers = [p for p in (tmp_path / "cache").rglob("*") if p.name.endswith(".part")]
    assert leftovers == []


class _Cutoff:
    """A TCP proxy in front of the S3 server that can vanish mid-request, like a dying server."""

    def __init__(self, upstream: str) -> None:
        host, port = upstream.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.limit: int | None = None
        self.sent = 0
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        self.listener = self._listen(0)
        self.port = self.listener.getsockname()[1]

    def _listen(self, port: int) -> socket.socket:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(16)
        threading.Thread(target=self._accept, args=(sock,), daemon=True).start()
        return sock

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            with self.lock:
                self.conns += [client, server]
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, upload: bool) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
                if upload:
                    with self.lock:
                        self.sent += len(data)
                        over = self.limit is not None and self.sent > self.limit
                    if over:
                        self.stop()
                        return
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        """Refuse new connections and reset every open one."""
        self.listener.close()
        with self.lock:
            conns, self.conns = self.conns, []
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def restart(self) -> None:
        self.limit, self.sent = None, 0
        self.listener = self._listen(self.port)


def test_server_lost_mid_upload_leaves_nothing_and_a_retry_succeeds(
    s3_endpoint: str, tmp_path: Path
) -> None:
    proxy = _Cutoff(s3_endpoint)
    bucket = f"nova-{uuid.uuid4().hex[:12]}"
    via_proxy = _store(f"127.0.0.1:{proxy.port}", bucket=bucket, part_size=5 * 1024 * 1024)
    direct = _store(s3_endpoint, bucket=bucket)
    src = tmp_path / "video.mp4"
    src.write_bytes(os.urandom(16 * 1024 * 1024))
    direct.put_bytes("videos/keep.txt", b"kept")
    proxy.limit = 7 * 1024 * 1024  # the server goes away during the second part
    with pytest.raises(StoreError, match=f"127.0.0.1:{proxy.port}") as err:
        via_proxy.put_file("videos/video.mp4", src)
    assert SECRET not in str(err.value)
    assert not direct.exists("videos/video.mp4")
    assert direct.list("videos") == ["videos/keep.txt"]
    proxy.restart()
    via_proxy.put_file("videos/video.mp4", src)
    assert direct.sha256("videos/video.mp4") == hashlib.sha256(src.read_bytes()).hexdigest()
    assert direct.download("videos/video.mp4", tmp_path / "back.mp4").read_bytes() == (
        src.read_bytes()
    )
    proxy.stop()


def test_sync_local_to_s3_and_back_is_resumable(s3_endpoint: str, tmp_path: Path) -> None:
    local = LocalArtifactStore(root=str(tmp_path / "local"))
    s3 = _store(s3_endpoint)
    for i in range(4):
        local.put_bytes(f"videos/v{i}/final.mp4", bytes([i]) * (1000 + i))
    local.put_json("items/latest.json", {"ids": ["a"]})
    first = sync(local, s3)
    assert len(first.copied) == 5 and first.skipped == []
    assert s3.list() == local.list()
    assert s3._client.stat_object(s3.bucket, "videos/v1/final.mp4").content_type == "video/mp4"

    again = sync(local, s3)  # nothing changed: nothing sent
    assert again.copied == [] and again.bytes_copied == 0 and len(again.skipped) == 5

    # an interrupted sync: one object is missing, one differs in content but not in size
    s3.delete("videos/v2/final.mp4")
    local.put_bytes("videos/v3/final.mp4", b"\x09" * 1003)
    resumed = sync(local, s3)
    assert resumed.copied == ["videos/v2/final.mp4", "videos/v3/final.mp4"]
    assert s3.get_bytes("videos/v3/final.mp4") == b"\x09" * 1003

    # an object another tool uploaded (no sha256 metadata): compared by its md5 etag
    s3._client.fput_object(
        s3.bucket, "videos/v0/final.mp4", str(local.materialize("videos/v0/final.mp4"))
    )
    assert s3.sha256("videos/v0/final.mp4") is None
    assert "videos/v0/final.mp4" in sync(local, s3, prefix="videos/v0").skipped

    back = LocalArtifactStore(root=str(tmp_path / "back"))
    report = sync(s3, back, prefix="videos")
    assert len(report.copied) == 4
    assert {k: back.get_bytes(k) for k in back.list()} == {
        k: local.get_bytes(k) for k in local.list("videos")
    }
    assert sync(s3, back, prefix="videos").copied == []


def test_settings_select_the_s3_store(s3_settings: dict[str, str], tmp_path: Path) -> None:
    from novaavatar.store import get_store, store_from_uri

    store = get_store()
    assert isinstance(store, S3ArtifactStore)
    assert store.bucket == s3_settings["S3_BUCKET"] and store.prefix == "team"
    assert SECRET not in store.uri
    store.put_bytes("a/b.txt", b"hello")
    reopened = store_from_uri(store.uri)  # what a stage task does, with settings' credentials
    assert reopened.get_bytes("a/b.txt") == b"hello"
    assert reopened.materialize("a/b.txt").is_relative_to(get_settings().storage_path)


def test_result_storage_reads_and_writes_in_the_bucket(s3_settings: dict[str, str]) -> None:
    import anyio

    results = S3ResultStorage(
        endpoint=s3_settings["S3_ENDPOINT"],
        bucket=s3_settings["S3_BUCKET"],
        prefix="team/prefect-results",
        secure=False,
    )
    assert SECRET not in results.model_dump_json()
    results.write_path("abc123", b"payload")
    assert results.read_path("abc123") == b"payload"
    assert anyio.run(results.aread_path, "abc123") == b"payload"
    with pytest.raises(Exception, match="abc999"):
        results.read_path("abc999")
    from novaavatar.store import get_store

    assert get_store().get_bytes("prefect-results/abc123") == b"payload"


@pytest.mark.usefixtures("prefect_harness")
def test_produce_on_s3_then_a_fresh_process_hits_the_cache(
    s3_settings: dict[str, str], tmp_path: Path
) -> None:
    from prefect.settings import PREFECT_API_URL

    from flows.produce import produce_video
    from flows.scrape import scrape_content
    from novaavatar import manifests
    from novaavatar.store import get_store

    store = get_store()
    item_id = scrape_content(sample=True, limit=1)[0].id
    vid = produce_video(item_id, options=ProduceOptions(duration_s=15, aspect="1:1"))
    m, _ = manifests.load(store, vid)
    assert m.final is not None and store.exists(m.final.key)
    assert store.list("prefect-results"), "task results were not written to the bucket"
    stamps = {k: store.get_bytes(k) for k in store.list(f"videos/{vid}/stages")}
    assert len(stamps) == 6

    # another worker: a fresh process with an empty disk of its own, same bucket and server
    env = os.environ | s3_settings | {"STORAGE_PATH": str(tmp_path / "other-worker")}
    env["PREFECT_API_URL"] = str(PREFECT_API_URL.value())
    code = (
        "import sys; from flows.produce import produce_video; "
        "from novaavatar.domain import ProduceOptions; "
        "print('VIDEO', produce_video(sys.argv[1], ProduceOptions(duration_s=15, aspect='1:1')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, item_id],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"VIDEO {vid}" in out.stdout
    assert {k: store.get_bytes(k) for k in store.list(f"videos/{vid}/stages")} == stamps
    assert not (tmp_path / "other-worker" / "artifacts").exists()  # nothing went to local disk
    assert json.loads(store.get_bytes(f"videos/{vid}/manifest.json"))["version"] == 2


def test_review_page_plays_s3_videos_from_a_presigned_url(
    s3_settings: dict[str, str], tmp_path: Path
) -> None:
    from streamlit.testing.v1 import AppTest
    from test_review_app_support import add_video, tiny_mp4

    from novaavatar.store import get_store

    store = get_store()
    add_video(store, 0, tiny_mp4(tmp_path / "tiny.mp4"))
    app = Path(__file__).resolve().parents[1] / "review_app" / "app.py"
    at = AppTest.from_file(str(app), default_timeout=30)
    at.run()
    at.switch_page("views/review.py").run()
    assert not at.exception, at.exception
    video = at.get("video")[0].proto
    assert video.url.startswith(f"http://{s3_settings['S3_ENDPOINT']}/")
    assert "X-Amz-Signature=" in video.url and SECRET not in video.url
