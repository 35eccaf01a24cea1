"""Artifact store on S3 or MinIO (``minio`` SDK), and Prefect result storage on the same bucket.

Manifests are written with S3 conditional puts: ``If-Match: <etag>`` to replace what was
read, ``If-None-Match: *`` to create. S3 (since 2024) and MinIO apply the condition
atomically, so of two writers that read the same version exactly one wins and the other
gets a ConflictError; ``novaavatar.manifests.update`` then re-reads and re-applies.
A server that ignores these headers would lose updates silently, so the first conditional
write of a process checks that the endpoint honours them and refuses to go on otherwise.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import mimetypes
import os
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import anyio.to_thread
import urllib3
from minio import Minio
from minio.error import S3Error
from minio.helpers import DictType
from prefect._internal.compatibility.async_dispatch import async_dispatch
from prefect.blocks.core import Block
from prefect.filesystems import WritableFileSystem
from pydantic import Field, SecretStr, field_validator

from novaavatar.domain import validate_key
from novaavatar.errors import ConflictError, NotFoundError, StoreError

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]\Z")
_CHUNK = 1 << 20
MIN_PART_SIZE = 5 * 1024 * 1024  # the S3 minimum for every part but the last

# One client (and connection pool) per endpoint and identity, shared by every store opened
# from a uri: stage tasks reopen the store for each call.
_clients: dict[tuple[str, bool, str, str, str], Minio] = {}
_ready_buckets: set[tuple[str, str]] = set()
_conditional_ok: set[str] = set()
# Conditional puts of one process are serialised per object. S3 and MinIO need no help; moto
# checks If-Match and then writes without a lock, so two requests in flight at once could
# both pass. Other processes rely on the server's atomic check alone.
_cas_locks: dict[tuple[str, str, str], threading.Lock] = {}
_registry_lock = threading.Lock()


def _secret(v: SecretStr | None) -> str:
    return v.get_secret_value() if v is not None else ""


class S3ArtifactStore(Block):
    """Artifacts in an S3/MinIO bucket; large files stream in parts, manifests use CAS."""

    _block_type_name = "NovaAvatar S3 Artifact Store"
    _block_type_slug = "novaavatar-s3-store"
    _description = "Videos, images, speech and manifests in an S3 or MinIO bucket."

    endpoint: str = Field(
        default="s3.amazonaws.com",
        description="Host and port of the S3 API, without scheme (e.g. minio:9000).",
    )
    bucket: str = Field(description="Bucket that holds the store.")
    prefix: str = Field(default="", description="Folder inside the bucket; empty: its root.")
    region: str = Field(default="us-east-1", description="Bucket region.")
    secure: bool = Field(default=True, description="Use HTTPS.")
    access_key: SecretStr | None = Field(default=None, description="Access key id.")
    secret_key: SecretStr | None = Field(default=None, description="Secret access key.")
    create_bucket: bool = Field(
        default=False, description="Create the bucket when it is missing (else: an error)."
    )
    cache_dir: str | None = Field(
        default=None,
        description="Where materialize() keeps downloaded objects; default: a temp folder.",
    )
    part_size: int = Field(
        default=16 * 1024 * 1024,
        ge=MIN_PART_SIZE,
        description="Multipart part size in bytes; larger files upload in parts.",
    )

    @field_validator("bucket")
    @classmethod
    def _bucket_name(cls, v: str) -> str:
        if not _BUCKET_RE.match(v) or ".." in v:
            raise ValueError(
                f"invalid bucket name {v!r}: use 3-63 lowercase letters, digits, '.' or '-'"
            )
        return v

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        v = v.strip("/")
        return validate_key(v) if v else v

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, v: str) -> str:
        if "://" in v or "/" in v:
            raise ValueError(
                f"invalid S3 endpoint {v!r}: give host[:port] only (set secure for https)"
            )
        return v

    # -- opening -------------------------------------------------------------------------
    @property
    def uri(self) -> str:
        """Where the store is, without credentials: enough to reopen it elsewhere."""
        query = urlencode(
            {"endpoint": self.endpoint, "region": self.region, "secure": str(self.secure).lower()}
        )
        return f"s3://{self.bucket}/{quote(self.prefix)}?{query}"

    @classmethod
    def from_uri(
        cls,
        uri: str,
        *,
        access_key: SecretStr | None = None,
        secret_key: SecretStr | None = None,
        create_bucket: bool = False,
        cache_dir: str | Path | None = None,
    ) -> S3ArtifactStore:
        """Reopen the store that ``uri`` names; credentials come from the caller's settings."""
        parts = urlsplit(uri)
        q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if parts.scheme != "s3" or not parts.netloc or "endpoint" not in q:
            raise ValueError(
                f"unsupported S3 store uri {uri!r}: expected "
                "s3://bucket/prefix?endpoint=host:port&region=...&secure=true|false"
            )
        return cls(
            endpoint=q["endpoint"],
            bucket=parts.netloc,
            prefix=parts.path.strip("/"),
            region=q.get("region", "us-east-1"),
            secure=q.get("secure", "true") != "false",
            access_key=access_key,
            secret_key=secret_key,
            create_bucket=create_bucket,
            cache_dir=str(cache_dir) if cache_dir is not None else None,
        )

    @property
    def _client(self) -> Minio:
        ident = (
            self.endpoint,
            self.secure,
            self.region,
            _secret(self.access_key),
            hashlib.sha256(_secret(self.secret_key).encode()).hexdigest(),
        )
        with _registry_lock:
            client = _clients.get(ident)
            if client is None:
                client = _clients[ident] = Minio(
                    self.endpoint,
                    access_key=_secret(self.access_key) or None,
                    secret_key=_secret(self.secret_key) or None,
                    secure=self.secure,
                    region=self.region,
                    http_client=_http_client(self.secure),
                )
        return client

    @contextlib.contextmanager
    def _errors(self, what: str, key: str | None = None) -> Iterator[None]:
        """Turn minio and network errors into store errors naming the key and the bucket."""
        where = f"s3://{self.bucket}/{self._name(key) if key else self.prefix}"
        try:
            yield
        except S3Error as e:
            if e.code in ("NoSuchKey", "NoSuchObject") and key is not None:
                raise NotFoundError(f"no artifact {key!r} in {self.uri}") from None
            if e.code in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise ConflictError(f"{key!r} changed since it was read") from None
            if e.code == "NoSuchBucket":
                _ready_buckets.discard((self.endpoint, self.bucket))
                raise StoreError(self._missing_bucket()) from None
            raise StoreError(f"cannot {what} {where}: {e.code}: {e.message}") from None
        except (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError) as e:
            raise StoreError(
                f"cannot {what} {where}: S3 endpoint {self.endpoint} unreachable "
                f"({type(e).__name__})"
            ) from None

    def _missing_bucket(self) -> str:
        return (
            f"S3 bucket {self.bucket!r} does not exist at {self.endpoint}: create it, "
            "or set S3_CREATE_BUCKET=true to let NovaAvatar create it"
        )

    def _ready(self) -> Minio:
        """The client, once the bucket is known to exist (or was created)."""
        client = self._client
        if (self.endpoint, self.bucket) in _ready_buckets:
            return client
        with self._errors("open bucket"):
            if not client.bucket_exists(self.bucket):
                if not self.create_bucket:
                    raise StoreError(self._missing_bucket())
                try:
                    client.make_bucket(self.bucket, location=self.region)
                except S3Error as e:  # another worker created it first
                    if e.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                        raise
        _ready_buckets.add((self.endpoint, self.bucket))
        return client

    def _name(self, key: str) -> str:
        validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    @staticmethod
    def _content_type(key: str, content_type: str | None) -> str:
        return content_type or mimetypes.guess_type(key)[0] or "application/octet-stream"

    # -- writes --------------------------------------------------------------------------
    def put_bytes(self, key: str, data: bytes, content_type: str | None = None) -> str:
        """Store ``data`` under ``key``; readers see the old or the new object, never a mix."""
        name, client = self._name(key), self._ready()
        with self._errors("write", key):
            client.put_object(
                self.bucket,
                name,
                io.BytesIO(data),
                len(data),
                content_type=self._content_type(key, content_type),
                metadata={"sha256": hashlib.sha256(data).hexdigest()},
            )
        return key

    def put_file(self, key: str, path: str | Path, content_type: str | None = None) -> str:
        """Upload the file at ``path`` in parts, streamed from disk; visible only when complete."""
        src = Path(path)
        if not src.is_file():
            raise StoreError(f"cannot store {src}: not a file")
        name, client = self._name(key), self._ready()
        with self._errors("upload", key):
            client.fput_object(
                self.bucket,
                name,
                str(src),
                content_type=self._content_type(key, content_type),
                metadata={"sha256": _sha256_file(src)},
                part_size=self.part_size,
                num_parallel_uploads=4,
            )
        return key

    def put_json(self, key: str, obj: Any) -> str:
        from novaavatar.logs import redact  # no secret or absolute path is ever stored

        text = redact(json.dumps(obj, indent=2, default=str))
        return self.put_bytes(key, text.encode(), "application/json")

    # -- reads ---------------------------------------------------------------------------
    def get_bytes(self, key: str) -> bytes:
        return self.get_with_etag(key)[0]

    def get_json(self, key: str) -> Any:
        return json.loads(self.get_bytes(key))

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except NotFoundError:
            return False
        return True

    def size(self, key: str) -> int:
        return int(self._stat(key).size or 0)

    def sha256(self, key: str) -> str | None:
        """The content hash recorded at upload (None for objects written by other tools)."""
        meta = self._stat(key).metadata or {}
        return meta.get("x-amz-meta-sha256") or meta.get("X-Amz-Meta-Sha256")

    def etag(self, key: str) -> str:
        return str(self._stat(key).etag).strip('"')

    def _stat(self, key: str) -> Any:
        name, client = self._name(key), self._ready()
        with self._errors("stat", key):
            return client.stat_object(self.bucket, name)

    def _stream_to(self, key: str, dest: Path, etag: str | None = None) -> None:
        """Download ``key`` into ``dest`` through a temp file renamed at the end."""
        name, client = self._name(key), self._ready()
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        try:
            with os.fdopen(fd, "wb") as fh, self._errors("download", key):
                headers: DictType | None = {"If-Match": etag} if etag else None
                resp = client.get_object(self.bucket, name, request_headers=headers)
                try:
                    for chunk in resp.stream(_CHUNK):
                        fh.write(chunk)
                finally:
                    resp.close()
                    resp.release_conn()
            os.replace(tmp, dest)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def materialize(self, key: str) -> Path:
        """A local file with the artifact's content (read it, never write to it).

        Downloads once per object version: the cache is keyed by the object's etag.
        """
        etag = self.etag(key)
        root = Path(self.cache_dir or Path(tempfile.gettempdir()) / "novaavatar-s3-cache")
        where = hashlib.sha256(f"{self.endpoint}/{self.bucket}/{self._name(key)}".encode())
        folder = root / where.hexdigest()[:32]
        path = folder / etag / key.rsplit("/", 1)[-1]
        if not path.is_file():
            try:
                self._stream_to(key, path, etag=etag)
            except ConflictError:  # replaced between stat and get: fetch the new version
                return self.materialize(key)
            for old in folder.iterdir():  # earlier versions of this key
                if old.name != etag:
                    shutil.rmtree(old, ignore_errors=True)
        return path

    def download(self, key: str, dest: str | Path) -> Path:
        dest = Path(dest)
        self._stream_to(key, dest)
        return dest

    def presigned_url(self, key: str, expires: timedelta = timedelta(hours=1)) -> str:
        """A time-limited GET URL for browsers (the review page's player, exports)."""
        name, client = self._name(key), self._ready()
        with self._errors("sign", key):
            return client.presigned_get_object(self.bucket, name, expires=expires)

    def list(self, prefix: str = "") -> list[str]:
        """Keys under ``prefix`` (a folder-like prefix, or one key), sorted."""
        wanted = prefix.strip("/")
        base = self._name(wanted) if wanted else self.prefix
        client = self._ready()
        skip = len(self.prefix) + 1 if self.prefix else 0
        with self._errors("list", wanted or None):
            names = [
                str(o.object_name)
                for o in client.list_objects(self.bucket, prefix=base, recursive=True)
            ]
        keys = [n[skip:] for n in names]
        if wanted:
            keys = [k for k in keys if k == wanted or k.startswith(wanted + "/")]
        return sorted(keys)

    # shadows Block.delete (a classmethod for block documents): the store contract names it so
    def delete(self, key: str) -> None:  # type: ignore[override]
        name, client = self._name(key), self._ready()
        with self._errors("delete", key):
            client.remove_object(self.bucket, name)

    # -- conditional writes (manifests) --------------------------------------------------
    def get_with_etag(self, key: str) -> tuple[bytes, str]:
        name, client = self._name(key), self._ready()
        with self._errors("read", key):
            resp = client.get_object(self.bucket, name)
            try:
                return resp.read(), str(resp.headers.get("ETag", "")).strip('"')
            finally:
                resp.close()
                resp.release_conn()

    def put_if_match(self, key: str, data: bytes, etag: str | None) -> str:
        """Write only if the stored object still has ``etag`` (None: only if absent).

        Returns the new etag; raises ConflictError when someone else wrote first.
        """
        name, client = self._name(key), self._ready()
        self._check_conditional_writes()
        condition = {"If-Match": f'"{etag}"'} if etag is not None else {"If-None-Match": "*"}
        headers: DictType = {"Content-Type": "application/json", **condition}
        with _cas_lock(self.endpoint, self.bucket, name):
            try:
                with self._errors("write", key):
                    # minio's public put_object sends no precondition headers
                    result = client._put_object(self.bucket, name, data, headers=headers)
            except NotFoundError:  # If-Match on an object that is gone
                raise ConflictError(f"{key!r} was deleted since it was read") from None
            except ConflictError:
                raise ConflictError(
                    f"{key!r} changed since it was read (expected {etag or 'no object'})"
                ) from None
        return str(result.etag).strip('"')

    def _check_conditional_writes(self) -> None:
        """Refuse to write manifests to a server that ignores If-Match (it would lose updates)."""
        if self.endpoint in _conditional_ok:
            return
        probe = self._name(f".cas-probe-{uuid.uuid4().hex}")
        client = self._ready()
        try:
            client._put_object(self.bucket, probe, b"", headers={"If-Match": '"0"'})
        except S3Error as e:
            if e.code in ("NoSuchKey", "PreconditionFailed") or e.response.status in (404, 412):
                _conditional_ok.add(self.endpoint)
                return
            raise StoreError(f"cannot check conditional writes at {self.endpoint}: {e.code}") from e
        client.remove_object(self.bucket, probe)
        raise StoreError(
            f"S3 endpoint {self.endpoint} ignores If-Match on PutObject, so concurrent manifest "
            "updates could be lost: use AWS S3 or a MinIO release with conditional writes"
        )


class S3ResultStorage(WritableFileSystem):
    """Prefect task results in the artifact bucket, so cache hits work across workers.

    Holds no credentials: they come from the worker's settings (``S3_ACCESS_KEY``,
    ``S3_SECRET_KEY``) when a result is read or written, never from the Prefect database.
    """

    _block_type_name = "NovaAvatar S3 Result Storage"
    _block_type_slug = "novaavatar-s3-results"
    _description = "Persisted Prefect task results in the NovaAvatar S3/MinIO bucket."

    endpoint: str = Field(description="Host and port of the S3 API, without scheme.")
    bucket: str = Field(description="Bucket that holds the results.")
    prefix: str = Field(default="prefect-results", description="Folder inside the bucket.")
    region: str = Field(default="us-east-1", description="Bucket region.")
    secure: bool = Field(default=True, description="Use HTTPS.")

    def _store(self) -> S3ArtifactStore:
        from novaavatar.settings import get_settings

        s = get_settings()
        return S3ArtifactStore(
            endpoint=self.endpoint,
            bucket=self.bucket,
            prefix=self.prefix,
            region=self.region,
            secure=self.secure,
            access_key=s.s3_access_key,
            secret_key=s.s3_secret_key,
            create_bucket=s.s3_create_bucket,
        )

    async def aread_path(self, path: str) -> bytes:
        return await anyio.to_thread.run_sync(self._store().get_bytes, path)

    @async_dispatch(aread_path)
    def read_path(self, path: str) -> bytes:  # type: ignore[override]
        return self._store().get_bytes(path)

    async def awrite_path(self, path: str, content: bytes) -> str:
        return await anyio.to_thread.run_sync(self._store().put_bytes, path, content)

    @async_dispatch(awrite_path)
    def write_path(self, path: str, content: bytes) -> str:  # type: ignore[override]
        return self._store().put_bytes(path, content)


@contextlib.contextmanager
def _cas_lock(endpoint: str, bucket: str, name: str) -> Iterator[None]:
    with _registry_lock:
        lock = _cas_locks.setdefault((endpoint, bucket, name), threading.Lock())
    with lock:
        yield


def _http_client(secure: bool) -> urllib3.PoolManager:
    """Short connect timeout and few retries: a dead endpoint fails in seconds, not minutes."""
    retries = urllib3.Retry(total=3, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504])
    timeout = urllib3.Timeout(connect=10, read=120)
    if not secure:
        return urllib3.PoolManager(timeout=timeout, maxsize=16, retries=retries)
    import certifi

    return urllib3.PoolManager(
        timeout=timeout,
        maxsize=16,
        retries=retries,
        cert_reqs="CERT_REQUIRED",
        ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
    )


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()
