"""What every endpoint shares: settings, the store, authentication and the job book."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials

from api.jobs import JobBook
from api.security import Caller, TokenAuth, bearer
from novaavatar.settings import Settings
from novaavatar.store import ArtifactStore, get_store


@dataclass
class ApiContext:
    settings: Settings
    auth: TokenAuth
    jobs: JobBook = field(default_factory=JobBook)
    _store: ArtifactStore | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def store(self) -> ArtifactStore:
        """The configured artifact store, opened on first use (an S3 client is reused)."""
        with self._lock:
            if self._store is None:
                self._store = get_store(self.settings)
            return self._store


def api_context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.nova
    return ctx


def authorized(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> Caller:
    """The caller of a protected endpoint (401 without a valid token, 429 over the rate)."""
    return api_context(request).auth.check(request, credentials)


Ctx = Annotated[ApiContext, Depends(api_context)]
# the same dependency as the routers': FastAPI runs it once per request
Who = Annotated[Caller, Depends(authorized)]


def who(caller: Caller) -> str:
    """The name a job records for who started it: ``api:<token position>``."""
    return f"api:{caller.token}"
