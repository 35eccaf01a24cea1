"""``novaavatar store sync``: copy one artifact store into another, resumably.

An object already at the destination with the same size and content hash is skipped, so
an interrupted sync picks up where it stopped. Every copy is atomic at the destination
(temp + rename locally, a completed upload on S3), so no half-copied object is ever seen.
Nothing is deleted at the destination.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from blocks.artifact_store import LocalArtifactStore
from blocks.s3_store import S3ArtifactStore, _sha256_file
from novaavatar.errors import NotFoundError
from novaavatar.store import ArtifactStore


@dataclass
class SyncReport:
    """What a sync did: keys copied and skipped, and bytes sent."""

    copied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    bytes_copied: int = 0


def content_hash(store: ArtifactStore, key: str) -> str | None:
    """sha256 of the object's content, when the store can tell it without a download."""
    if isinstance(store, LocalArtifactStore):
        return _sha256_file(store.materialize(key))
    if isinstance(store, S3ArtifactStore):
        return store.sha256(key)
    return None


def _md5_file(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def same_object(src: ArtifactStore, dst: ArtifactStore, key: str) -> bool:
    """True when ``dst`` already holds ``key`` with the size and content it has in ``src``."""
    try:
        size = dst.size(key)
    except NotFoundError:
        return False
    if size != src.size(key):
        return False
    a, b = content_hash(src, key), content_hash(dst, key)
    if a is not None and b is not None:
        return a == b
    # an S3 object uploaded by another tool: its single-part etag is the md5 of the content
    s3, local = (src, dst) if isinstance(src, S3ArtifactStore) else (dst, src)
    if isinstance(s3, S3ArtifactStore) and isinstance(local, LocalArtifactStore):
        etag = s3.etag(key)
        return "-" not in etag and etag == _md5_file(local.materialize(key))
    return False


def sync(
    src: ArtifactStore,
    dst: ArtifactStore,
    prefix: str = "",
    dry_run: bool = False,
    on_key: Callable[[str, bool], None] | None = None,
) -> SyncReport:
    """Copy every key under ``prefix`` from ``src`` to ``dst`` that ``dst`` lacks or differs.

    ``on_key(key, copied)`` is called after each key (for progress bars).
    """
    report = SyncReport()
    with tempfile.TemporaryDirectory(prefix="nova-sync-") as tmp:
        for key in src.list(prefix):
            copy = not same_object(src, dst, key)
            if copy and not dry_run:
                if isinstance(src, LocalArtifactStore):
                    path = src.materialize(key)  # the file itself: no extra copy
                else:
                    path = src.download(key, Path(tmp) / "object")
                dst.put_file(key, path)
                report.bytes_copied += path.stat().st_size
            (report.copied if copy else report.skipped).append(key)
            if on_key is not None:
                on_key(key, copy)
    return report
