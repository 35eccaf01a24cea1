from __future__ import annotations

import threading
from pathlib import Path

import pytest

from blocks.artifact_store import LocalArtifactStore
from novaavatar import manifests
from novaavatar.domain import ContentItem, ProduceOptions, ReviewState, VideoManifest
from novaavatar.errors import ConflictError, NotFoundError


def test_put_get_list_delete(tmp_path: Path) -> None:
    s = LocalArtifactStore(root=str(tmp_path))
    s.put_bytes("videos/v1/a.txt", b"hello")
    s.put_json("videos/v1/b.json", {"x": 1})
    src = tmp_path / "src.bin"
    src.write_bytes(b"\0" * 3000)
    s.put_file("videos/v2/c.bin", src)
    assert s.get_bytes("videos/v1/a.txt") == b"hello"
    assert s.get_json("videos/v1/b.json") == {"x": 1}
    assert s.list("videos") == ["videos/v1/a.txt", "videos/v1/b.json", "videos/v2/c.bin"]
    assert s.list("videos/v1") == ["videos/v1/a.txt", "videos/v1/b.json"]
    assert s.size("videos/v2/c.bin") == 3000
    s.delete("videos/v1/a.txt")
    assert not s.exists("videos/v1/a.txt")
    with pytest.raises(NotFoundError, match=r"videos/v1/a\.txt"):
        s.get_bytes("videos/v1/a.txt")


def test_keys_cannot_escape_the_root(tmp_path: Path) -> None:
    s = LocalArtifactStore(root=str(tmp_path / "root"))
    for key in ["../outside.txt", "/etc/passwd", "a/../../b"]:
        with pytest.raises(ValueError, match="invalid store key"):
            s.put_bytes(key, b"x")
    assert not (tmp_path / "outside.txt").exists()


def test_failed_write_leaves_old_content_and_no_temp_file(tmp_path: Path) -> None:
    s = LocalArtifactStore(root=str(tmp_path))
    s.put_bytes("k/file.txt", b"old")

    def boom(fh: object) -> None:
        fh.write(b"half")  # type: ignore[attr-defined]
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        s._atomic_write("k/file.txt", boom)
    assert s.get_bytes("k/file.txt") == b"old"
    assert sorted(p.name for p in (tmp_path / "k").iterdir()) == ["file.txt"]


def test_put_if_match_detects_a_lost_race(tmp_path: Path) -> None:
    s = LocalArtifactStore(root=str(tmp_path))
    e1 = s.put_if_match("m.json", b"v1", None)
    with pytest.raises(ConflictError):
        s.put_if_match("m.json", b"again", None)
    e2 = s.put_if_match("m.json", b"v2", e1)
    with pytest.raises(ConflictError):
        s.put_if_match("m.json", b"v3", e1)
    assert s.get_with_etag("m.json") == (b"v2", e2)


def _manifest() -> VideoManifest:
    item = ContentItem.make(title="A story", url="https://e.org/1", source="E")
    return VideoManifest(video_id="vid-000111222", item=item, options=ProduceOptions())


def test_concurrent_manifest_updates_lose_nothing(tmp_path: Path) -> None:
    s = LocalArtifactStore(root=str(tmp_path))
    manifests.save(s, _manifest(), None)

    def note(i: int) -> None:
        manifests.update(s, "vid-000111222", lambda m: setattr(m, "error", None), retries=200)
        manifests.update(
            s,
            "vid-000111222",
            lambda m: m.stages.__setitem__(f"s{i}", m.stages.get("x") or _rec(i)),
            retries=200,
        )

    def _rec(i: int):
        from novaavatar.domain import StageRecord

        return StageRecord(provider=f"p{i}")

    threads = [threading.Thread(target=note, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    m, _ = manifests.load(s, "vid-000111222")
    assert sorted(m.stages) == sorted(f"s{i}" for i in range(8))
    assert m.version == 1 + 16


def test_concurrent_reviewer_decision_is_reported_not_overwritten(tmp_path: Path) -> None:
    s = LocalArtifactStore(root=str(tmp_path))
    manifests.save(s, _manifest(), None)
    seen, _ = manifests.load(s, "vid-000111222")
    manifests.decide(
        s, seen.video_id, ReviewState.APPROVED, by="ann", expected_version=seen.version
    )
    with pytest.raises(ConflictError, match="by ann"):
        manifests.decide(
            s,
            seen.video_id,
            ReviewState.REJECTED,
            by="bob",
            note="no",
            expected_version=seen.version,
        )
    m, _ = manifests.load(s, seen.video_id)
    assert m.state is ReviewState.APPROVED and len(m.history) == 1


def test_unknown_video_is_a_clear_error(tmp_path: Path) -> None:
    s = LocalArtifactStore(root=str(tmp_path))
    with pytest.raises(NotFoundError, match="no video 'vid-nothere'"):
        manifests.load(s, "vid-nothere")


def test_stage_code_hash_follows_the_provider_sources(tmp_path: Path) -> None:
    from tasks.common import code_hash

    (tmp_path / "tasks" / "avatar").mkdir(parents=True)
    (tmp_path / "tasks" / "script").mkdir(parents=True)
    renderer = tmp_path / "tasks" / "avatar" / "lite.py"
    renderer.write_text("FPS = 25\n")
    (tmp_path / "tasks" / "script" / "template.py").write_text("STYLE = 1\n")
    before = code_hash(("tasks/avatar",), tmp_path)
    (tmp_path / "tasks" / "script" / "template.py").write_text("STYLE = 2\n")
    code_hash.cache_clear()
    assert code_hash(("tasks/avatar",), tmp_path) == before  # another stage's code: same key
    renderer.write_text("FPS = 30\n")
    code_hash.cache_clear()
    assert code_hash(("tasks/avatar",), tmp_path) != before  # the renderer changed: new key
