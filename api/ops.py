"""For operators: health (no token) and usage figures for Prometheus (``/metrics``)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from api.context import Ctx, authorized
from api.metrics import CONTENT_TYPE, prometheus_text
from api.problems import COMMON_RESPONSES
from novaavatar.service import jobs, lookup

router = APIRouter()


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    runs: Literal["deployment", "local"]


@router.get("/api/health", response_model=Health, summary="Liveness, without a token")
def health() -> Health:
    """Whether work goes to a Prefect server (``deployment``) or runs in this process."""
    return Health(runs="deployment" if jobs.prefect_server() else "local")


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    dependencies=[Depends(authorized)],
    responses={200: {"content": {"text/plain": {}}}, **COMMON_RESPONSES},
    summary="Usage figures in Prometheus text format",
)
def metrics(ctx: Ctx) -> PlainTextResponse:
    """Videos by state, stage seconds (p50/p95), providers, failures and cost."""
    videos = lookup.load_queue(ctx.store).videos
    return PlainTextResponse(prometheus_text(videos), media_type=CONTENT_TYPE)
