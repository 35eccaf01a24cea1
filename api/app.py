"""The FastAPI application: routers, problem details, CORS and the request size limit."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import editing, ops, presenters, problems, production, publish, review
from api.context import ApiContext
from api.security import TokenAuth
from novaavatar.logs import configure_logging
from novaavatar.settings import Settings, get_settings

DESCRIPTION = """\
Drive NovaAvatar over HTTP: scrape news, produce talking-presenter videos, follow the jobs
(Prefect flow runs), review the queue and download approved videos.

Every endpoint except `/api/health` needs `Authorization: Bearer <token>` with a token from
`API_TOKENS`. Errors are RFC 9457 problem details (`application/problem+json`).
"""


class RequestTooLarge(Exception):
    pass


class UploadLimit:
    """Refuse request bodies over ``max_bytes`` with 413, by Content-Length or as they stream."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def _refuse(self, scope: Scope, send: Send) -> None:
        mib = self.max_bytes / (1024 * 1024)
        body = problems.Problem(
            type="urn:novaavatar:problem:too-large",
            title="Content Too Large",
            status=413,
            detail=f"the request is larger than MAX_UPLOAD_MB ({mib:g} MiB)",
            instance=scope.get("path"),
        ).model_dump_json(exclude_none=True)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", problems.PROBLEM_MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body.encode()})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, send)
            return
        seen = 0
        refused = False
        started = False

        async def counted() -> Message:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    refused = True
                    raise RequestTooLarge
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if refused:  # whatever the app answers to the aborted body, the answer is 413
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(RequestTooLarge):
            await self.app(scope, counted, guarded)
        if refused and not started:
            await self._refuse(scope, send)


def _swagger_ui_files() -> Path | None:
    """Swagger UI from the ``swagger-ui-py`` wheel, so /docs works without a network."""
    try:
        import swagger_ui
    except ImportError:
        return None
    static = Path(swagger_ui.__file__).parent / "static"
    return static if (static / "swagger-ui-bundle.js").exists() else None


def _serve_docs(app: FastAPI, static: Path) -> None:
    app.mount("/docs/static", StaticFiles(directory=static), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} — docs",
            swagger_js_url="/docs/static/swagger-ui-bundle.js",
            swagger_css_url="/docs/static/swagger-ui.css",
            swagger_favicon_url="/docs/static/favicon-32x32.png",
        )


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API, configured by ``settings`` (default: the environment and ``.env``)."""
    s = settings or get_settings()
    configure_logging(s, component="api")  # JSON-lines file, every API token redacted
    swagger_files = _swagger_ui_files()
    app = FastAPI(
        title="NovaAvatar API",
        version="1",
        description=DESCRIPTION,
        docs_url=None if swagger_files else "/docs",  # without the wheel: from a CDN
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    if swagger_files:
        _serve_docs(app, swagger_files)
    app.state.nova = ApiContext(settings=s, auth=TokenAuth(s.api_tokens, s.api_rate_limit))
    problems.install(app)
    app.include_router(production.router)
    app.include_router(review.router)
    app.include_router(editing.router)
    app.include_router(publish.router)
    app.include_router(ops.router)
    app.include_router(presenters.router)
    app.add_middleware(UploadLimit, max_bytes=s.max_upload_mb * 1024 * 1024)
    if s.api_cors_origins:  # outermost, so refusals (401, 413, 429) carry CORS headers too
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(s.api_cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Range"],
            expose_headers=["Content-Range", "Accept-Ranges", "Location", "Retry-After", "ETag"],
            max_age=600,
        )
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = problems.as_problem_media_type(json.loads(json.dumps(default_openapi())))
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
