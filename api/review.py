"""Reviewing: the queue, approve/reject decisions, and the videos with captions and manifest."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import RedirectResponse

from api import schemas
from api.context import ApiContext, Ctx, authorized
from api.problems import COMMON_RESPONSES, Problem, ProblemError
from api.ranges import file_response
from novaavatar import manifests
from novaavatar.domain import ReviewState, VideoManifest
from novaavatar.service import decisions, lookup

router = APIRouter(prefix="/api", dependencies=[Depends(authorized)], responses=COMMON_RESPONSES)
VideoId = Annotated[str, Path(pattern=schemas.VIDEO_ID, description="e.g. vid-1a2b3c4d5e6f")]
QueueView = Literal[
    "pending", "needs_attention", "approved", "rejected", "exported", "failed", "all"
]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "no such video, or no final video yet"}
}
PRESIGNED_FOR = timedelta(minutes=15)


@router.get("/queue", response_model=schemas.QueuePage, summary="Videos to review")
def queue(
    ctx: Ctx,
    state: QueueView = "pending",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> schemas.QueuePage:
    """Newest first; ``needs_attention``: pending with a failed or missing quality report."""
    q = lookup.load_queue(ctx.store)
    chosen = q.select(lookup.NEEDS_ATTENTION if state == "needs_attention" else state)
    page = chosen[offset : offset + limit]
    counts = {k.replace(" ", "_"): v for k, v in q.counts().items()}
    more = len(chosen) > offset + limit
    return schemas.QueuePage(
        videos=[schemas.VideoSummary.of(m) for m in page],
        counts=counts,
        limit=limit,
        offset=offset,
        next_offset=offset + limit if more else None,
    )


def _decide(
    ctx: ApiContext, video_id: str, state: ReviewState, body: schemas.Decision
) -> VideoManifest:
    try:
        return decisions.decide(
            ctx.store,
            video_id,
            state,
            by=body.reviewer,
            note=body.note,
            expected_version=body.expected_version,
            settings=ctx.settings,
        )
    except decisions.UnknownReviewer as e:
        raise ProblemError(403, str(e), kind="unknown-reviewer") from None
    except ValueError as e:  # a transition the workflow forbids, e.g. approving an export
        raise ProblemError(409, str(e), kind="invalid-transition") from None


DECISION_RESPONSES: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    403: {"model": Problem, "description": "reviewer not allowed"},
    409: {"model": Problem, "description": "changed since expected_version, or not allowed now"},
}


@router.post(
    "/queue/{video_id}/approve",
    response_model=schemas.VideoSummary,
    responses=DECISION_RESPONSES,
    summary="Approve a video",
)
def approve(
    video_id: VideoId,
    ctx: Ctx,
    body: schemas.Decision | None = None,
) -> schemas.VideoSummary:
    """Approves it for export; ``WEBHOOK_URL`` (when set) is told in the background."""
    m = _decide(ctx, video_id, ReviewState.APPROVED, body or schemas.Decision())
    return schemas.VideoSummary.of(m)


@router.post(
    "/queue/{video_id}/reject",
    response_model=schemas.VideoSummary,
    responses=DECISION_RESPONSES,
    summary="Reject a video, saying why",
)
def reject(video_id: VideoId, ctx: Ctx, body: schemas.Rejection) -> schemas.VideoSummary:
    """The note is required: it tells the producer what to change."""
    return schemas.VideoSummary.of(_decide(ctx, video_id, ReviewState.REJECTED, body))


def _final(ctx: ApiContext, video_id: str) -> VideoManifest:
    m, _ = manifests.load(ctx.store, video_id)
    if m.final is None:
        raise ProblemError(
            404, f"video {video_id} has no final video ({m.state.value})", kind="not-found"
        )
    return m


async def _video_of_job(ctx: ApiContext, job_id: str) -> str:
    """The video a job made: 409 (with its state) while it runs, 404 when it failed."""
    view = await ctx.jobs.view(job_id, ctx.store, detail=False)
    if view.state in ("scheduled", "running"):
        raise ProblemError(
            409,
            f"job {job_id} is {view.state}: its video is not made yet; poll /api/jobs/{job_id}",
            kind="job-not-done",
            headers={"Retry-After": "5", "X-Job-State": view.state},
        )
    if view.state != "completed" or view.video_id is None:
        why = f": {view.error}" if view.error else ""
        raise ProblemError(
            404, f"job {job_id} is {view.state} and made no video{why}", kind="not-found"
        )
    return view.video_id


@router.get(
    "/videos/{video_id}",
    response_class=Response,
    responses={
        200: {"content": {"video/mp4": {}}, "description": "the MP4"},
        206: {"content": {"video/mp4": {}}, "description": "the requested byte range"},
        307: {"description": "S3 store: redirect to a presigned URL"},
        409: {"model": Problem, "description": "a job id whose job still runs (X-Job-State)"},
        416: {"model": Problem, "description": "range past the end of the file"},
        **NOT_FOUND,
    },
    summary="The final MP4 of a video, or of the job that made it (Range requests supported)",
)
async def video(
    video_id: Annotated[
        str,
        Path(
            pattern=schemas.VIDEO_ID,
            description="a video id (vid-…), or a job id from POST /api/generate",
        ),
    ],
    ctx: Ctx,
    request: Request,
) -> Response:
    if re.match(schemas.JOB_ID, video_id):
        video_id = await _video_of_job(ctx, video_id)
    m = await asyncio.to_thread(_final, ctx, video_id)
    assert m.final is not None
    store = ctx.store
    if store.uri.startswith("s3://"):
        url = await asyncio.to_thread(store.presigned_url, m.final.key, PRESIGNED_FOR)
        return RedirectResponse(url, status_code=307)
    path = await asyncio.to_thread(store.materialize, m.final.key)
    return file_response(path, "video/mp4", request.headers.get("range"), f"{video_id}.mp4")


def _captions(ctx: ApiContext, video_id: str, kind: Literal["vtt", "srt"]) -> Response:
    m = _final(ctx, video_id)
    assert m.final is not None
    key = m.final.vtt_key if kind == "vtt" else m.final.srt_key
    media = "text/vtt" if kind == "vtt" else "application/x-subrip"
    return Response(ctx.store.get_bytes(key), media_type=f"{media}; charset=utf-8")


@router.get(
    "/videos/{video_id}/captions.vtt",
    response_class=Response,
    responses={200: {"content": {"text/vtt": {}}}, **NOT_FOUND},
    summary="WebVTT captions",
)
def captions_vtt(video_id: VideoId, ctx: Ctx) -> Response:
    return _captions(ctx, video_id, "vtt")


@router.get(
    "/videos/{video_id}/captions.srt",
    response_class=Response,
    responses={200: {"content": {"application/x-subrip": {}}}, **NOT_FOUND},
    summary="SubRip captions",
)
def captions_srt(video_id: VideoId, ctx: Ctx) -> Response:
    return _captions(ctx, video_id, "srt")


@router.get(
    "/videos/{video_id}/manifest",
    response_model=VideoManifest,
    responses=NOT_FOUND,
    summary="The video's manifest: inputs, stages, quality, review history",
)
def manifest(video_id: VideoId, ctx: Ctx, response: Response) -> VideoManifest:
    m, _ = manifests.load(ctx.store, video_id)
    response.headers["ETag"] = f'"{m.version}"'
    return m
