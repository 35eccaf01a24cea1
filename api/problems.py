"""Every error as an RFC 9457 problem detail (``application/problem+json``)."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from novaavatar.errors import (
    ConflictError,
    CorruptError,
    InputError,
    NotFoundError,
    NovaAvatarError,
    StoreError,
    TooLargeError,
)
from novaavatar.logs import redact

PROBLEM_MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("novaavatar.api")


class Problem(BaseModel):
    """What went wrong, for a person (``detail``) and for a program (``type``, ``status``)."""

    type: str = Field(default="about:blank", description="URI naming the kind of problem")
    title: str = Field(description="short summary of the kind of problem")
    status: int = Field(description="HTTP status code")
    detail: str = Field(default="", description="what was wrong with this request")
    instance: str | None = Field(default=None, description="the request path")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="each invalid field, for validation problems"
    )


class ProblemError(Exception):
    """Raised by endpoints; rendered as a problem detail with ``status``."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        kind: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.kind, self.headers = status, detail, kind, headers


def problem_response(
    request: Request | None,
    status: int,
    detail: str,
    *,
    kind: str | None = None,
    headers: dict[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
    path: str | None = None,
) -> JSONResponse:
    problem = Problem(
        type=f"urn:novaavatar:problem:{kind}" if kind else "about:blank",
        title=HTTPStatus(status).phrase,
        status=status,
        detail=redact(detail),  # an error's text may quote a key or a path of this host
        instance=path or (request.url.path if request is not None else None),
        errors=errors,
    )
    return JSONResponse(
        problem.model_dump(exclude_none=True),
        status_code=status,
        headers=headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # only location, message and type: the rejected input itself may be huge or a secret
    return [
        {
            "loc": [str(p) for p in e.get("loc", ())],
            "msg": str(e.get("msg", "")),
            "type": e.get("type", ""),
        }
        for e in exc.errors()
    ]


def install(app: FastAPI) -> None:
    """Render every error the app can raise as a problem detail."""

    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(request, exc.status, exc.detail, kind=exc.kind, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no endpoint at {request.url.path}"
        elif exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}"
        headers = dict(exc.headers) if exc.headers else None
        return problem_response(request, exc.status_code, detail, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _field_errors(exc)
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(first["loc"]) or "request"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return problem_response(
            request, 422, f"{where}: {first['msg']}{more}", kind="invalid-request", errors=errors
        )

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        return problem_response(request, 404, str(exc), kind="not-found")

    @app.exception_handler(ConflictError)
    async def _conflict(request: Request, exc: ConflictError) -> JSONResponse:
        return problem_response(request, 409, str(exc), kind="conflict")

    @app.exception_handler(TooLargeError)
    async def _too_large(request: Request, exc: TooLargeError) -> JSONResponse:
        return problem_response(request, 413, str(exc), kind="too-large")

    @app.exception_handler(InputError)
    async def _input(request: Request, exc: InputError) -> JSONResponse:
        return problem_response(request, 422, str(exc), kind="invalid-input")

    @app.exception_handler(CorruptError)
    async def _corrupt(request: Request, exc: CorruptError) -> JSONResponse:
        log.error("corrupt data on %s: %s", request.url.path, exc)
        return problem_response(request, 500, str(exc), kind="corrupt-data")

    @app.exception_handler(StoreError)
    async def _store(request: Request, exc: StoreError) -> JSONResponse:
        log.warning("artifact store error on %s: %s", request.url.path, exc)
        return problem_response(request, 503, str(exc), kind="store-unavailable")

    @app.exception_handler(NovaAvatarError)
    async def _other(request: Request, exc: NovaAvatarError) -> JSONResponse:
        return problem_response(request, 422, str(exc), kind="invalid-input")

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            request, 500, "an unexpected error occurred; the API log has the details"
        )


# Responses every protected endpoint may give, for the OpenAPI document.
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "missing or unknown bearer token"},
    422: {"model": Problem, "description": "invalid request"},
    429: {"model": Problem, "description": "rate limit exceeded; see Retry-After"},
}


def as_problem_media_type(schema: dict[str, Any]) -> dict[str, Any]:
    """Declare 4xx/5xx bodies as ``application/problem+json`` in the OpenAPI document."""
    for path in schema.get("paths", {}).values():
        for op in path.values():
            for status, resp in op.get("responses", {}).items():
                content = resp.get("content", {})
                if str(status)[0] in "45" and "application/json" in content:
                    content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
    return schema
