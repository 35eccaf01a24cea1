"""Frames handed to ffmpeg from a thread, so rendering the next frame overlaps writing this one.

Writing a frame into ffmpeg's pipe blocks while the encoder is busy; done on the rendering
thread, that wait is time in which nothing is drawn. :class:`OverlappedWriter` copies each
frame into one of a few reused buffers and a writer thread feeds them to a
:class:`~novaavatar.media.FrameWriter` (the pipe write releases the GIL). An error on either
side stops both: the encoder's error is raised from the next :meth:`put` or on leaving.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from pathlib import Path
from types import TracebackType

try:
    import fcntl
except ImportError:  # not on Windows
    fcntl = None  # type: ignore[assignment]

import numpy as np

from novaavatar.media import FrameWriter

_STOP = -1


class OverlappedWriter:
    """Wraps an entered :class:`FrameWriter`; ``put`` I420 frames, leave to flush.

    ``depth`` buffers are allocated once and cycled, so a frame costs one copy and no
    allocation.
    """

    def __init__(self, writer: FrameWriter, depth: int = 4) -> None:
        w, h = writer.size
        self.writer = writer
        self._buffers = [np.empty((h * 3 // 2, w), np.uint8) for _ in range(max(2, depth))]
        self._free: queue.Queue[int] = queue.Queue()
        for i in range(len(self._buffers)):
            self._free.put(i)
        self._full: queue.Queue[int] = queue.Queue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="frame-writer", daemon=True)

    def __enter__(self) -> OverlappedWriter:
        self._widen_pipe()
        self._thread.start()
        return self

    def _widen_pipe(self) -> None:
        """Let the pipe hold a whole frame where Linux allows it: with the default 64 KiB a
        frame takes ~20 writes, and between each the writer thread waits for the GIL while
        the renderer holds it."""
        proc = getattr(self.writer, "_proc", None)
        stdin = getattr(proc, "stdin", None)
        setpipe = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
        if stdin is None or setpipe is None:
            return
        want = self._buffers[0].nbytes
        try:
            limit = int(Path("/proc/sys/fs/pipe-max-size").read_text())
        except (OSError, ValueError):
            limit = want
        with contextlib.suppress(OSError):
            fcntl.fcntl(stdin.fileno(), setpipe, min(want, limit))

    def _run(self) -> None:
        while True:
            i = self._full.get()
            if i == _STOP:
                return
            try:
                if self._error is None:
                    self.writer.write_i420(self._buffers[i])
            except BaseException as e:  # handed to the rendering thread
                self._error = e
            finally:
                self._free.put(i)

    def put(self, frame: np.ndarray) -> None:
        """Queue one I420 frame (copied: the caller may change ``frame`` at once)."""
        if self._error is not None:
            raise self._error
        i = self._free.get()
        np.copyto(self._buffers[i], frame)
        self._full.put(i)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._full.put(_STOP)
        self._thread.join()
        if exc_type is None and self._error is not None:
            raise self._error
