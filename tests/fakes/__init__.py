"""Loopback fakes of cloud APIs, driven by the real SDKs in tests.

Each fake is a small HTTP server on 127.0.0.1 (a free port) running in a daemon thread,
used as a context manager; tests script its failures (status codes, Retry-After, slow or
malformed bodies) through attributes and read back the requests it received.
"""

from fakes.openai_server import FakeOpenAI
from fakes.replicate_server import FakeReplicate

__all__ = ["FakeOpenAI", "FakeReplicate"]
