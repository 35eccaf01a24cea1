"""A file as an HTTP response with single-range support (RFC 9110 §14), for video players."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
from starlette.responses import StreamingResponse

from api.problems import ProblemError

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)\Z")
CHUNK = 256 * 1024


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte range ``header`` asks of a ``size``-byte file; None: the whole file.

    A malformed or multi-range header is ignored (RFC 9110 allows serving the whole file);
    a range starting past the end is refused with 416.
    """
    if not header:
        return None
    m = _RANGE.match(header.strip().replace(" ", ""))
    if not m or (not m[1] and not m[2]):
        return None
    if not m[1]:  # suffix: the last N bytes
        n = int(m[2])
        if n == 0 or size == 0:
            raise _unsatisfiable(size)
        return max(size - n, 0), size - 1
    start = int(m[1])
    end = int(m[2]) if m[2] else size - 1
    if start >= size:
        raise _unsatisfiable(size)
    if end < start:
        return None
    return start, min(end, size - 1)


def _unsatisfiable(size: int) -> ProblemError:
    return ProblemError(
        416,
        f"the range starts past the end of the file ({size} bytes)",
        kind="range-not-satisfiable",
        headers={"Content-Range": f"bytes */{size}"},
    )


async def _read(path: Path, start: int, length: int) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as f:
        await f.seek(start)
        left = length
        while left > 0:
            chunk = await f.read(min(CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk


def file_response(
    path: Path, media_type: str, range_header: str | None, filename: str
) -> StreamingResponse:
    """``path`` whole (200) or the requested range (206), with ``Accept-Ranges: bytes``."""
    size = path.stat().st_size
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Disposition": f'inline; filename="{filename}"',
    }
    rng = byte_range(range_header, size)
    if rng is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(_read(path, 0, size), 200, headers, media_type)
    start, end = rng
    headers["Content-Length"] = str(end - start + 1)
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return StreamingResponse(_read(path, start, end - start + 1), 206, headers, media_type)
