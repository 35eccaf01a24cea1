"""Artifact store: where every video, image, wav and manifest lives, addressed by key.

The interface is the same for every backend (local folder here; S3/MinIO later), so flows,
the review page and exports never see an absolute path.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from prefect.blocks.core import Block
from pydantic import Field

from novaavatar.domain import validate_key
from novaavatar.errors import ConflictError, NotFoundError, StoreError


def etag_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class LocalArtifactStore(Block):
    """Artifacts in a local folder; every write is atomic (temp file + rename)."""

    _block_type_name = "NovaAvatar Local Artifact Store"
    _block_type_slug = "novaavatar-local-store"
    _description = "Videos, images, speech and manifests in a folder on this machine."

    root: str = Field(description="Folder that holds the store; created when missing.")

    # -- paths ---------------------------------------------------------------------------
    def _path(self, key: str) -> Path:
        validate_key(key)
        base = Path(self.root).resolve()
        p = (base / key).resolve()
        if base not in p.parents:
            raise StoreError(f"key {key!r} escapes the store root")
        return p

    @property
    def uri(self) -> str:
        return f"file://{Path(self.root).resolve()}"

    # -- writes --------------------------------------------------------------------------
    def _atomic_write(self, key: str, write: Any) -> str:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return key

    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> str:
        """Store ``data`` under ``key`` atomically; return the key."""
        return self._atomic_write(key, lambda fh: fh.write(data))

    def put_file(self, key: str, path: str | Path, content_type: str | None = None) -> str:
        """Copy the file at ``path`` into the store under ``key`` atomically."""
        src = Path(path)
        if not src.is_file():
            raise StoreError(f"cannot store {src}: not a file")

        def copy(fh: Any) -> None:
            with src.open("rb") as s:
                shutil.copyfileobj(s, fh, 1 << 20)

        return self._atomic_write(key, copy)

    def put_json(self, key: str, obj: Any) -> str:
        from novaavatar.logs import redact  # no secret or absolute path is ever stored

        text = redact(json.dumps(obj, indent=2, default=str))
        return self.put_bytes(key, text.encode(), "application/json")

    # -- reads ---------------------------------------------------------------------------
    def get_bytes(self, key: str) -> bytes:
        p = self._path(key)
        try:
            return p.read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"no artifact {key!r} in {self.uri}") from None

    def get_json(self, key: str) -> Any:
        return json.loads(self.get_bytes(key))

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def materialize(self, key: str) -> Path:
        """A local file with the artifact's content (read it, never write to it)."""
        p = self._path(key)
        if not p.is_file():
            raise NotFoundError(f"no artifact {key!r} in {self.uri}")
        return p

    def download(self, key: str, dest: str | Path) -> Path:
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.materialize(key), dest)
        return dest

    def presigned_url(self, key: str, expires: timedelta = timedelta(hours=1)) -> str:
        """A file:// URL to the artifact (a local folder needs no signature or expiry)."""
        return self.materialize(key).as_uri()

    def list(self, prefix: str = "") -> list[str]:
        """Keys under ``prefix`` (a folder-like prefix), sorted; temp files are not listed."""
        base = Path(self.root).resolve()
        start = self._path(prefix.rstrip("/")) if prefix.strip("/") else base
        if not start.exists():
            return []
        files = [start] if start.is_file() else (p for p in start.rglob("*") if p.is_file())
        keys = [
            p.relative_to(base).as_posix()
            for p in files
            if not p.name.endswith(".part") and not p.name.endswith(".lock")
        ]
        return sorted(keys)

    # shadows Block.delete (a classmethod for block documents): the store contract names it so
    def delete(self, key: str) -> None:  # type: ignore[override]
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()

    def size(self, key: str) -> int:
        return self.materialize(key).stat().st_size

    # -- conditional writes (manifests) --------------------------------------------------
    @contextlib.contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        p = self._path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(p.with_name(p.name + ".lock"), "a+") as lk:
            fcntl.flock(lk, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lk, fcntl.LOCK_UN)

    def get_with_etag(self, key: str) -> tuple[bytes, str]:
        data = self.get_bytes(key)
        return data, etag_of(data)

    def put_if_match(self, key: str, data: bytes, etag: str | None) -> str:
        """Write only if the stored object still has ``etag`` (None: only if absent).

        Returns the new etag; raises ConflictError when someone else wrote first.
        """
        with self._locked(key):
            p = self._path(key)
            current = etag_of(p.read_bytes()) if p.is_file() else None
            if current != etag:
                raise ConflictError(
                    f"{key!r} changed since it was read (expected {etag}, found {current})"
                )
            self.put_bytes(key, data, "application/json")
        return etag_of(data)
