"""A threaded loopback HTTP server that the fakes share."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


class JsonHandler(BaseHTTPRequestHandler):
    """Request handler with helpers to read JSON and send bytes/JSON; quiet logs."""

    protocol_version = "HTTP/1.1"  # keep-alive, like the real APIs
    fake: ClassVar[Any]  # the fake that owns this handler class

    def log_message(self, format: str, *args: object) -> None:
        pass

    def read_json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return None

    def send_bytes(
        self,
        status: int,
        body: bytes,
        ctype: str = "application/json",
        headers: dict[str, str] | None = None,
        declared_length: int | None = None,
    ) -> None:
        """Send a response; ``declared_length`` larger than the body makes it truncated."""
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(declared_length or len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if declared_length:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        try:
            self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test): that is the point

    def send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self.send_bytes(status, json.dumps(obj).encode(), "application/json", headers)


class Fake:
    """Starts ``handler`` on 127.0.0.1 in a thread; ``url`` is its base address."""

    handler: type[JsonHandler]

    def __init__(self) -> None:
        handler = type(f"{type(self).__name__}Handler", (self.handler,), {"fake": self})
        self._server = LoopbackServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Any:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
