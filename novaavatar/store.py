"""The artifact store interface and how the configured one is chosen."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from novaavatar.settings import Settings, get_settings


@runtime_checkable
class ArtifactStore(Protocol):
    """What every store backend offers; keys are relative, validated paths."""

    @property
    def uri(self) -> str: ...
    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> str: ...
    def put_file(self, key: str, path: str | Path, content_type: str | None = None) -> str: ...
    def put_json(self, key: str, obj: Any) -> str: ...
    def get_bytes(self, key: str) -> bytes: ...
    def get_json(self, key: str) -> Any: ...
    def exists(self, key: str) -> bool: ...
    def materialize(self, key: str) -> Path: ...
    def download(self, key: str, dest: str | Path) -> Path: ...
    def list(self, prefix: str = "") -> list[str]: ...
    def delete(self, key: str) -> None: ...
    def size(self, key: str) -> int: ...
    def get_with_etag(self, key: str) -> tuple[bytes, str]: ...
    def put_if_match(self, key: str, data: bytes, etag: str | None) -> str: ...
    def presigned_url(self, key: str, expires: timedelta = ...) -> str: ...


def get_store(settings: Settings | None = None) -> ArtifactStore:
    """The store named by ``ARTIFACT_STORE``: a folder under ``STORAGE_PATH``, or S3/MinIO."""
    s = settings or get_settings()
    return store_of_kind(s.artifact_store, s)


def store_of_kind(kind: Literal["local", "s3"], settings: Settings | None = None) -> ArtifactStore:
    """The local or the S3 store configured by ``settings``, whichever ARTIFACT_STORE says."""
    from blocks.s3_store import S3ArtifactStore

    s = settings or get_settings()
    if kind == "s3":
        return S3ArtifactStore(
            endpoint=s.s3_endpoint,
            bucket=s.s3_bucket,
            prefix=s.s3_prefix,
            region=s.s3_region,
            secure=s.s3_secure,
            access_key=s.s3_access_key,
            secret_key=s.s3_secret_key,
            create_bucket=s.s3_create_bucket,
            cache_dir=str(s.s3_cache_path),
        )
    return store_from_uri(f"file://{(s.storage_path / 'artifacts').resolve()}")


def store_from_uri(uri: str) -> ArtifactStore:
    """Open the store that ``uri`` names: ``file:///abs/folder`` or
    ``s3://bucket/prefix?endpoint=host:port&region=...&secure=...`` (credentials from settings).
    """
    from blocks.artifact_store import LocalArtifactStore
    from blocks.s3_store import S3ArtifactStore

    if uri.startswith("file://"):
        return LocalArtifactStore(root=uri.removeprefix("file://"))
    if uri.startswith("s3://"):
        s = get_settings()
        return S3ArtifactStore.from_uri(
            uri,
            access_key=s.s3_access_key,
            secret_key=s.s3_secret_key,
            create_bucket=s.s3_create_bucket,
            cache_dir=s.s3_cache_path,
        )
    raise ValueError(
        f"unsupported artifact store {uri!r}: expected file:///folder or s3://bucket/prefix?endpoint=..."
    )
